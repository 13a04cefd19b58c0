//! Druid's batch ingestion API: `POST /druid/indexer/v1/task` with an
//! `index_parallel` task, `GET /druid/indexer/v1/task/{id}/status` and
//! `/reports`, `GET /druid/indexer/v1/tasks`.
//!
//! The task is read and run by `strata_ingest::bulk_load` (the engine of
//! `strata load`); these handlers only translate to Druid's response shapes.

use std::sync::Arc;

use serde_json::{Value, json};
use strata_ingest::bulk_load::druid_task::parse_task;
use strata_ingest::bulk_load::task::{LoadTask, LoadTasks, TaskError, TaskState};
use strata_ingest::bulk_load::{LoadError, LoadReport};
use strata_storage::time::format_millis;
use warp::http::StatusCode;
use warp::reply::{Reply, Response};

use super::datasources::{blocking, ingest_error};
use crate::api_error::ApiError;

/// `POST /druid/indexer/v1/task`: 200 `{"task": id}` once the task runs.
pub async fn submit(tasks: Arc<LoadTasks>, body: bytes::Bytes) -> Result<Response, ApiError> {
    let task = parse_task(&body).map_err(|error| {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_task", error.to_string())
    })?;
    let started = blocking(move || tasks.start_druid(task).map_err(task_error)).await?;
    Ok(warp::reply::json(&json!({"task": started.id})).into_response())
}

/// `GET /druid/indexer/v1/task/{id}/status`.
pub fn status(tasks: &LoadTasks, id: &str) -> Result<Response, ApiError> {
    let task = find(tasks, id)?;
    Ok(warp::reply::json(&json!({"task": task.id, "status": status_view(&task)})).into_response())
}

/// `GET /druid/indexer/v1/task/{id}/reports`: Druid's
/// `ingestionStatsAndErrors` report, with Strata's own report beside it.
pub fn reports(tasks: &LoadTasks, id: &str) -> Result<Response, ApiError> {
    let task = find(tasks, id)?;
    let state = task.state();
    let progress = &task.progress;
    let load = std::sync::atomic::Ordering::Relaxed;
    let (ingestion_state, error, report) = match &state {
        TaskState::Running => ("BUILD_SEGMENTS", Value::Null, None),
        TaskState::Succeeded(report) => ("COMPLETED", Value::Null, Some(report)),
        TaskState::Failed(message) => ("COMPLETED", json!(message), None),
    };
    let rejected = progress.rows_rejected.load(load);
    let read = progress.rows_read.load(load);
    let unparseable: Vec<String> = report
        .map(|report| report.rejections.iter().map(ToString::to_string).collect())
        .unwrap_or_default();
    let body = json!({
        "ingestionStatsAndErrors": {
            "type": "ingestionStatsAndErrors",
            "taskId": task.id,
            "payload": {
                "ingestionState": ingestion_state,
                "unparseableEvents": {"buildSegments": unparseable},
                "rowStats": {"buildSegments": {
                    "processed": read - rejected,
                    "processedBytes": progress.bytes_read.load(load),
                    "processedWithError": 0,
                    "thrownAway": 0,
                    "unparseable": rejected,
                }},
                "errorMsg": error,
                "segmentsPublished": report.map_or(0, |report| report.segments.len()),
                "segmentAvailabilityConfirmed": report.is_some(),
            }
        },
        "strata": report.map(report_view),
    });
    Ok(warp::reply::json(&body).into_response())
}

/// `GET /druid/indexer/v1/tasks`: every task this server ran, as statuses.
pub fn list(tasks: &LoadTasks) -> Response {
    let statuses: Vec<Value> = tasks.list().iter().map(|task| status_view(task)).collect();
    warp::reply::json(&statuses).into_response()
}

fn find(tasks: &LoadTasks, id: &str) -> Result<Arc<LoadTask>, ApiError> {
    tasks.get(id).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_task",
            format!("there is no task `{id}` (tasks are forgotten when the server restarts); GET /druid/indexer/v1/tasks lists them"),
        )
    })
}

/// A task's status in Druid's `TaskStatusPlus` shape.
pub(super) fn status_view(task: &LoadTask) -> Value {
    let (code, runner, error) = match task.state() {
        TaskState::Running => ("RUNNING", "RUNNING", Value::Null),
        TaskState::Succeeded(_) => ("SUCCESS", "NONE", Value::Null),
        TaskState::Failed(message) => ("FAILED", "NONE", json!(message)),
    };
    let created = task
        .created
        .duration_since(std::time::SystemTime::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as i64);
    json!({
        "id": task.id,
        "type": "index_parallel",
        "createdTime": format_millis(created),
        "queueInsertionTime": format_millis(created),
        "statusCode": code,
        "status": code,
        "runnerStatusCode": runner,
        "duration": if code == "RUNNING" { -1 } else { task.elapsed_millis() as i64 },
        "location": {"host": null, "port": -1, "tlsPort": -1},
        "dataSource": task.datasource,
        "errorMsg": error,
    })
}

/// Strata's load report as JSON.
pub(super) fn report_view(report: &LoadReport) -> Value {
    json!({
        "datasource": report.datasource,
        "files": report.files,
        "bytes": report.bytes,
        "rowsRead": report.rows_read,
        "rowsRejected": report.rows_rejected,
        "rejections": report.rejections.iter().map(|row| json!({
            "file": row.file.display().to_string(),
            "position": row.position.to_string(),
            "reason": row.reason,
        })).collect::<Vec<_>>(),
        "events": report.events,
        "rowsAfterRollup": report.rows_after_rollup,
        "segments": report.segments.iter().map(|segment| segment.id.to_string()).collect::<Vec<_>>(),
        "versions": report.versions.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "replaced": report.replaced,
        "seconds": report.elapsed.as_secs_f64(),
        "summary": report.to_string(),
    })
}

/// The status and kind of a task that could not start.
pub(super) fn task_error(error: TaskError) -> ApiError {
    let error = match error {
        TaskError::Ingest(error) => return ingest_error(error),
        error => error,
    };
    let (status, kind) = match &error {
        TaskError::SpecConflict { .. } => (StatusCode::CONFLICT, "spec_conflict"),
        TaskError::UnknownUpload { .. } => (StatusCode::NOT_FOUND, "unknown_upload"),
        TaskError::Load(LoadError::UnknownDatasource { .. }) => {
            (StatusCode::NOT_FOUND, "unknown_datasource")
        }
        TaskError::Load(LoadError::Input(_) | LoadError::Read(_)) => {
            (StatusCode::BAD_REQUEST, "invalid_input")
        }
        TaskError::Ingest(_) | TaskError::Load(_) | TaskError::Io { .. } => {
            (StatusCode::INTERNAL_SERVER_ERROR, "load_error")
        }
    };
    if status.is_server_error() {
        tracing::error!("load task: {error}");
    }
    ApiError::new(status, kind, error.to_string())
}
