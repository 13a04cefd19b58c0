//! Druid's batch ingestion task, read into a load: the `index_parallel` (or
//! `index`) task that `POST /druid/indexer/v1/task` takes.
//!
//! ```json
//! {"type": "index_parallel", "spec": {
//!   "dataSchema": { ... the datasource spec ... },
//!   "ioConfig": {"type": "index_parallel",
//!     "inputSource": {"type": "local", "baseDir": "/data/logs", "filter": "*.json.gz"},
//!     "inputFormat": {"type": "json"},
//!     "appendToExisting": false},
//!   "tuningConfig": {"type": "index_parallel", "maxParseExceptions": 100}}}
//! ```
//!
//! What is read:
//!
//! - `inputSource`: `local` with `baseDir` and a `filter` glob matched
//!   against file names under it, recursively (as Druid does), or with a
//!   `files` list; `inline` with its `data`.
//! - `inputFormat`: `json` (one object per line), `csv` with
//!   `findColumnsFromHeader: true` (the header row names the columns),
//!   `parquet`. gzip and zstd files are recognised by their bytes.
//! - `appendToExisting`: `false` (the default) replaces the time chunks the
//!   data covers; `true` appends.
//! - `tuningConfig.maxParseExceptions`: rejected rows beyond it fail the
//!   task, publishing nothing; absent means no limit.
//! - `tuningConfig.maxBytesInMemory`: the load's memory budget.
//!
//! Everything else Druid's task knows (partitionsSpec, maxNumConcurrentSubTasks,
//! ...) is accepted and ignored: one process builds, with every core.

use std::path::PathBuf;

use serde_json::Value;
use strata_storage::spec::{DataSourceSpec, SpecError};

use super::input::InputFormat;

/// A Druid batch task, read.
#[derive(Debug, Clone)]
pub struct DruidIndexTask {
    pub spec: DataSourceSpec,
    pub input: TaskInput,
    pub format: InputFormat,
    pub append: bool,
    pub max_parse_exceptions: Option<u64>,
    pub max_bytes_in_memory: Option<usize>,
}

/// Where a task's data is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskInput {
    /// Files under `base_dir` whose names match the glob `filter`.
    LocalFilter { base_dir: PathBuf, filter: String },
    /// These files.
    LocalFiles(Vec<PathBuf>),
    /// The data itself, in the task.
    Inline(String),
}

/// Why a task spec was refused.
#[derive(Debug, thiserror::Error)]
pub enum TaskSpecError {
    #[error("the task is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("{0}")]
    Shape(String),
    #[error("spec.dataSchema: {0}")]
    DataSchema(#[from] SpecError),
}

fn shape(message: impl Into<String>) -> TaskSpecError {
    TaskSpecError::Shape(message.into())
}

/// Reads a task from its JSON body.
pub fn parse_task(body: &[u8]) -> Result<DruidIndexTask, TaskSpecError> {
    let task: Value = serde_json::from_slice(body)?;
    let kind = task.get("type").and_then(Value::as_str).unwrap_or("");
    if !matches!(kind, "index_parallel" | "index") {
        return Err(shape(format!(
            "task type `{kind}` is not supported; send an `index_parallel` task (Kafka ingestion uses a supervisor instead)"
        )));
    }
    let spec = task
        .get("spec")
        .ok_or_else(|| shape("the task has no `spec`"))?;
    let data_schema = spec
        .get("dataSchema")
        .ok_or_else(|| shape("spec has no `dataSchema`"))?;
    let io = spec
        .get("ioConfig")
        .ok_or_else(|| shape("spec has no `ioConfig`"))?;
    let tuning = spec.get("tuningConfig");
    let data_source_spec = DataSourceSpec::from_json_value(data_schema)?;
    let input = input_source(
        io.get("inputSource")
            .ok_or_else(|| shape("spec.ioConfig has no `inputSource`"))?,
    )?;
    let format = input_format(
        io.get("inputFormat")
            .ok_or_else(|| shape("spec.ioConfig has no `inputFormat`"))?,
    )?;
    let append = match io.get("appendToExisting") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(append)) => *append,
        Some(other) => {
            return Err(shape(format!(
                "spec.ioConfig.appendToExisting is {other}; write true or false"
            )));
        }
    };
    let number = |name: &str| -> Result<Option<u64>, TaskSpecError> {
        match tuning.and_then(|tuning| tuning.get(name)) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => value.as_u64().map(Some).ok_or_else(|| {
                shape(format!(
                    "spec.tuningConfig.{name} is {value}; write a whole number"
                ))
            }),
        }
    };
    Ok(DruidIndexTask {
        spec: data_source_spec,
        input,
        format,
        append,
        max_parse_exceptions: number("maxParseExceptions")?,
        max_bytes_in_memory: number("maxBytesInMemory")?
            .filter(|bytes| *bytes > 0)
            .map(|bytes| usize::try_from(bytes).unwrap_or(usize::MAX)),
    })
}

fn input_source(source: &Value) -> Result<TaskInput, TaskSpecError> {
    let text = |name: &str| source.get(name).and_then(Value::as_str);
    match text("type") {
        Some("local") => {
            if let Some(files) = source.get("files").and_then(Value::as_array) {
                let files = files
                    .iter()
                    .map(|file| file.as_str().map(PathBuf::from))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| shape("inputSource.files must be a list of paths"))?;
                return Ok(TaskInput::LocalFiles(files));
            }
            let base_dir = text("baseDir").ok_or_else(|| {
                shape("a local inputSource needs `baseDir` and `filter`, or `files`")
            })?;
            Ok(TaskInput::LocalFilter {
                base_dir: PathBuf::from(base_dir),
                filter: text("filter").unwrap_or("*").to_owned(),
            })
        }
        Some("inline") => Ok(TaskInput::Inline(
            text("data")
                .ok_or_else(|| shape("an inline inputSource needs `data`, a string"))?
                .to_owned(),
        )),
        other => Err(shape(format!(
            "inputSource type {} is not supported; use `local` (baseDir and filter, or files) or `inline` (data)",
            other.map_or("(none)".to_owned(), |kind| format!("`{kind}`"))
        ))),
    }
}

fn input_format(format: &Value) -> Result<InputFormat, TaskSpecError> {
    match format.get("type").and_then(Value::as_str) {
        Some("json") => Ok(InputFormat::Ndjson),
        Some("parquet") => Ok(InputFormat::Parquet),
        Some("csv") => {
            let from_header = format
                .get("findColumnsFromHeader")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            if from_header {
                Ok(InputFormat::Csv)
            } else {
                Err(shape(
                    "a csv inputFormat must have `findColumnsFromHeader: true`: Strata names CSV columns by the header row (a `columns` list is not supported)",
                ))
            }
        }
        other => Err(shape(format!(
            "inputFormat type {} is not supported; use `json`, `csv` or `parquet`",
            other.map_or("(none)".to_owned(), |kind| format!("`{kind}`"))
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEMA: &str = r#"{"dataSource": "logs", "timestampSpec": {"column": "ts"},
        "dimensionsSpec": {"dimensions": ["a"]}, "granularitySpec": {"segmentGranularity": "day"}}"#;

    fn task(io: &str, tuning: &str) -> Vec<u8> {
        format!(
            r#"{{"type": "index_parallel", "spec": {{"dataSchema": {SCHEMA},
                "ioConfig": {io}, "tuningConfig": {tuning}}}}}"#
        )
        .into_bytes()
    }

    #[test]
    fn a_local_json_task_reads() {
        let task = parse_task(&task(
            r#"{"type": "index_parallel", "inputSource": {"type": "local", "baseDir": "/d", "filter": "*.gz"},
                "inputFormat": {"type": "json"}, "appendToExisting": true}"#,
            r#"{"type": "index_parallel", "maxParseExceptions": 5, "partitionsSpec": {"type": "dynamic"}}"#,
        ))
        .unwrap();
        assert_eq!(task.spec.name(), "logs");
        assert_eq!(
            task.input,
            TaskInput::LocalFilter {
                base_dir: "/d".into(),
                filter: "*.gz".into()
            }
        );
        assert_eq!(task.format, InputFormat::Ndjson);
        assert!(task.append);
        assert_eq!(task.max_parse_exceptions, Some(5));
    }

    #[test]
    fn unsupported_shapes_say_what_to_send() {
        let csv_columns = parse_task(&task(
            r#"{"inputSource": {"type": "inline", "data": "1,x"}, "inputFormat": {"type": "csv", "columns": ["ts", "a"]}}"#,
            "{}",
        ))
        .unwrap_err();
        assert!(
            csv_columns.to_string().contains("findColumnsFromHeader"),
            "{csv_columns}"
        );
        let s3 = parse_task(&task(
            r#"{"inputSource": {"type": "s3", "uris": []}, "inputFormat": {"type": "json"}}"#,
            "{}",
        ))
        .unwrap_err();
        assert!(s3.to_string().contains("`s3` is not supported"), "{s3}");
        let kafka = parse_task(br#"{"type": "kafka", "spec": {}}"#).unwrap_err();
        assert!(kafka.to_string().contains("supervisor"), "{kafka}");
    }
}
