//! Load tasks: loads that run in the server's background, watched by id —
//! Druid's batch tasks (`POST /druid/indexer/v1/task`) and the uploads of
//! `strata load --server` both become one.
//!
//! A task is created with its inputs on the server's disk: files it names
//! (Druid's `local` input source), or files it wrote into its own spool
//! directory, `<data>/loads/<task id>/` (inline data, uploaded files). It
//! runs [`load`](super::load()) on a thread of its own, on the server's
//! catalog, and keeps its progress counters and, once finished, its report
//! or its error. The spool directory is removed when the task ends, and every
//! spool directory is removed when the server starts, so an upload or load
//! cut short leaves nothing behind.
//!
//! Tasks are kept in memory: the server forgets finished tasks when it
//! restarts, and a task that was running then published nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Instant, SystemTime};

use strata_storage::spec::DataSourceSpec;

use super::druid_task::{DruidIndexTask, TaskInput};
use super::input::{InputFile, InputFormat, find_inputs};
use super::report::{LoadProgress, LoadReport};
use super::{LoadError, LoadMode, LoadOptions, load};
use crate::service::{IngestError, IngestService, SpecFit};

/// The tasks of one server.
pub struct LoadTasks {
    service: Arc<IngestService>,
    spool: PathBuf,
    tasks: Mutex<BTreeMap<String, Arc<LoadTask>>>,
    /// Uploads still receiving files: id to datasource.
    uploads: Mutex<BTreeMap<String, String>>,
    counter: AtomicU64,
}

/// One task.
pub struct LoadTask {
    pub id: String,
    pub datasource: String,
    pub created: SystemTime,
    /// The bytes of its inputs, for progress.
    pub total_bytes: u64,
    pub progress: LoadProgress,
    started: Instant,
    state: Mutex<TaskState>,
}

/// Where a task is.
#[derive(Debug, Clone)]
pub enum TaskState {
    Running,
    Succeeded(LoadReport),
    /// Why it failed; it published nothing.
    Failed(String),
}

/// What a task is asked to do.
pub struct LoadRequest {
    pub datasource: String,
    /// A spec to create the datasource with when it does not exist.
    pub spec: Option<DataSourceSpec>,
    pub inputs: Vec<InputFile>,
    pub options: LoadOptions,
}

/// Why a task could not be created.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    #[error(transparent)]
    Ingest(#[from] IngestError),
    #[error(
        "datasource `{datasource}` exists with another spec than the task's dataSchema; send the datasource's own spec (GET /v1/datasources/{datasource}), or drop the datasource first"
    )]
    SpecConflict { datasource: String },
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(
        "there is no upload `{id}` receiving files for datasource `{datasource}`; start one with POST /v1/datasources/{datasource}/loads"
    )]
    UnknownUpload { id: String, datasource: String },
    #[error("{action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl LoadTasks {
    /// The tasks of `service`'s server; removes what earlier runs left in
    /// the spool directory.
    pub fn new(service: Arc<IngestService>) -> Result<Self, TaskError> {
        let spool = service.data_dir().join("loads");
        if spool.exists() {
            std::fs::remove_dir_all(&spool).map_err(|source| TaskError::Io {
                action: "removing the spool of unfinished loads",
                path: spool.clone(),
                source,
            })?;
        }
        Ok(LoadTasks {
            service,
            spool,
            tasks: Mutex::new(BTreeMap::new()),
            uploads: Mutex::new(BTreeMap::new()),
            counter: AtomicU64::new(0),
        })
    }

    /// A new task id for `datasource`, in Druid's shape.
    pub fn new_id(&self, datasource: &str) -> String {
        let millis = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_millis());
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        format!("index_parallel_{datasource}_{millis}_{n}")
    }

    /// Task `id`'s spool directory, created.
    pub fn spool_dir(&self, id: &str) -> Result<PathBuf, TaskError> {
        let dir = self.spool.join(id);
        std::fs::create_dir_all(&dir).map_err(|source| TaskError::Io {
            action: "creating",
            path: dir.clone(),
            source,
        })?;
        Ok(dir)
    }

    /// Creates the datasource if need be, then starts task `id` on its own
    /// thread and returns it.
    pub fn start(&self, id: String, request: LoadRequest) -> Result<Arc<LoadTask>, TaskError> {
        let started = self.prepare(&request);
        if let Err(error) = started {
            self.remove_spool(&id);
            return Err(error);
        }
        let task = Arc::new(LoadTask {
            id: id.clone(),
            datasource: request.datasource.clone(),
            created: SystemTime::now(),
            total_bytes: request.inputs.iter().map(|input| input.bytes).sum(),
            progress: LoadProgress::default(),
            started: Instant::now(),
            state: Mutex::new(TaskState::Running),
        });
        self.tasks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id.clone(), task.clone());
        let service = self.service.clone();
        let spool = self.spool.join(&id);
        let running = task.clone();
        std::thread::Builder::new()
            .name(format!("load {id}"))
            .spawn(move || {
                let outcome = load(
                    service.catalog().as_ref(),
                    &request.datasource,
                    &request.inputs,
                    &request.options,
                    &running.progress,
                );
                let state = match outcome {
                    Ok(mut report) => {
                        for rejection in &mut report.rejections {
                            rejection.file = shown_path(&rejection.file, &spool);
                        }
                        tracing::info!(task = running.id, "{report}");
                        TaskState::Succeeded(report)
                    }
                    Err(error) => {
                        tracing::warn!(task = running.id, "load failed: {error}");
                        TaskState::Failed(error.to_string())
                    }
                };
                *running.state.lock().unwrap_or_else(PoisonError::into_inner) = state;
                if spool.exists()
                    && let Err(error) = std::fs::remove_dir_all(&spool)
                {
                    tracing::warn!(dir = %spool.display(), "removing a load's spool: {error}");
                }
            })
            .map_err(|source| TaskError::Io {
                action: "starting a thread for",
                path: PathBuf::from(&task.id),
                source,
            })?;
        Ok(task)
    }

    /// Starts a Druid batch task; inline data is written to the task's spool
    /// directory first.
    pub fn start_druid(&self, task: DruidIndexTask) -> Result<Arc<LoadTask>, TaskError> {
        let datasource = task.spec.name().to_owned();
        let id = self.new_id(&datasource);
        let format = Some(task.format);
        let paths: Vec<String> = match &task.input {
            TaskInput::LocalFiles(files) => files
                .iter()
                .map(|file| file.display().to_string())
                .collect(),
            TaskInput::LocalFilter { base_dir, filter } => matching_files(base_dir, filter)?,
            TaskInput::Inline(data) => {
                // Laid out as an upload's first file, so reports name it
                // `inline.<format>`.
                let dir = self.spool_dir(&id)?;
                let file_dir = dir.join(format!("{:06}", 0));
                std::fs::create_dir_all(&file_dir).map_err(|source| TaskError::Io {
                    action: "creating",
                    path: file_dir.clone(),
                    source,
                })?;
                let path = file_dir.join(format!("inline.{}", task.format));
                std::fs::write(&path, data).map_err(|source| TaskError::Io {
                    action: "writing the inline data to",
                    path: path.clone(),
                    source,
                })?;
                vec![dir.display().to_string()]
            }
        };
        let inputs = find_inputs(&paths, format).map_err(LoadError::from);
        let inputs = match inputs {
            Ok(inputs) => inputs,
            Err(error) => {
                self.remove_spool(&id);
                return Err(error.into());
            }
        };
        let mut options = LoadOptions {
            mode: LoadMode::from_append(task.append),
            max_errors: task.max_parse_exceptions,
            ..LoadOptions::default()
        };
        if let Some(bytes) = task.max_bytes_in_memory {
            options.memory_bytes = bytes;
        }
        self.start(
            id,
            LoadRequest {
                datasource,
                spec: Some(task.spec),
                inputs,
                options,
            },
        )
    }

    /// Opens an upload into `datasource`: files are then sent one by one
    /// ([`upload_path`](Self::upload_path)) and loaded together
    /// ([`start_upload`](Self::start_upload)). Returns its id.
    pub fn open_upload(&self, datasource: &str) -> Result<String, TaskError> {
        if self.service.catalog().datasource(datasource).is_none() {
            return Err(LoadError::UnknownDatasource {
                name: datasource.to_owned(),
            }
            .into());
        }
        let id = self.new_id(datasource);
        self.spool_dir(&id)?;
        self.uploads
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id.clone(), datasource.to_owned());
        Ok(id)
    }

    /// Where file number `sequence` of upload `id`, named `name` by its
    /// sender, is to be written; only the last part of `name` is kept.
    pub fn upload_path(
        &self,
        datasource: &str,
        id: &str,
        sequence: u32,
        name: &str,
    ) -> Result<PathBuf, TaskError> {
        self.check_upload(datasource, id)?;
        let base = Path::new(name)
            .file_name()
            .map_or_else(|| "upload".into(), |base| base.to_owned());
        let dir = self.spool_dir(id)?.join(format!("{sequence:06}"));
        std::fs::create_dir_all(&dir).map_err(|source| TaskError::Io {
            action: "creating",
            path: dir.clone(),
            source,
        })?;
        Ok(dir.join(base))
    }

    /// Loads the files upload `id` received.
    pub fn start_upload(
        &self,
        datasource: &str,
        id: &str,
        options: LoadOptions,
        format: Option<InputFormat>,
    ) -> Result<Arc<LoadTask>, TaskError> {
        self.check_upload(datasource, id)?;
        self.uploads
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(id);
        let dir = self.spool.join(id);
        let inputs = match find_inputs(&[dir.display().to_string()], format) {
            Ok(inputs) => inputs,
            Err(error) => {
                self.remove_spool(id);
                return Err(LoadError::from(error).into());
            }
        };
        self.start(
            id.to_owned(),
            LoadRequest {
                datasource: datasource.to_owned(),
                spec: None,
                inputs,
                options,
            },
        )
    }

    fn check_upload(&self, datasource: &str, id: &str) -> Result<(), TaskError> {
        let uploads = self.uploads.lock().unwrap_or_else(PoisonError::into_inner);
        if uploads.get(id).map(String::as_str) == Some(datasource) {
            Ok(())
        } else {
            Err(TaskError::UnknownUpload {
                id: id.to_owned(),
                datasource: datasource.to_owned(),
            })
        }
    }

    /// Task `id`, running or finished.
    pub fn get(&self, id: &str) -> Option<Arc<LoadTask>> {
        self.tasks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id)
            .cloned()
    }

    /// Every task this server has run, by id.
    pub fn list(&self) -> Vec<Arc<LoadTask>> {
        self.tasks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect()
    }

    fn prepare(&self, request: &LoadRequest) -> Result<(), TaskError> {
        let fit = match &request.spec {
            // A Druid task's datasource is its spec's.
            Some(spec) => self.service.create_or_match(spec)?,
            None if self
                .service
                .catalog()
                .datasource(&request.datasource)
                .is_none() =>
            {
                return Err(LoadError::UnknownDatasource {
                    name: request.datasource.clone(),
                }
                .into());
            }
            None => SpecFit::Fits,
        };
        if fit == SpecFit::Conflicts {
            return Err(TaskError::SpecConflict {
                datasource: request.datasource.clone(),
            });
        }
        Ok(())
    }

    fn remove_spool(&self, id: &str) {
        let dir = self.spool.join(id);
        if dir.exists() {
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}

impl LoadTask {
    /// Where the task is now.
    pub fn state(&self) -> TaskState {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Milliseconds since the task started (its whole run, once finished).
    pub fn elapsed_millis(&self) -> u64 {
        match self.state() {
            TaskState::Succeeded(report) => report.elapsed.as_millis() as u64,
            _ => self.started.elapsed().as_millis() as u64,
        }
    }
}

/// The files under `base_dir`, recursively, whose names match the glob
/// `filter` — Druid's `local` input source.
fn matching_files(base_dir: &Path, filter: &str) -> Result<Vec<String>, TaskError> {
    let pattern = glob::Pattern::new(filter).map_err(|error| {
        TaskError::Load(LoadError::Input(super::InputError::BadPattern {
            pattern: filter.to_owned(),
            reason: error.to_string(),
        }))
    })?;
    let mut found = Vec::new();
    let mut dirs = vec![base_dir.to_owned()];
    while let Some(dir) = dirs.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|source| TaskError::Io {
            action: "listing",
            path: dir.clone(),
            source,
        })?;
        for entry in entries {
            let path = entry
                .map_err(|source| TaskError::Io {
                    action: "listing",
                    path: dir.clone(),
                    source,
                })?
                .path();
            if path.is_dir() {
                dirs.push(path);
            } else if path
                .file_name()
                .is_some_and(|name| pattern.matches(&name.to_string_lossy()))
            {
                found.push(path.display().to_string());
            }
        }
    }
    found.sort();
    if found.is_empty() {
        return Err(LoadError::Input(super::InputError::NothingMatches {
            pattern: format!("{}/**/{filter}", base_dir.display()),
        })
        .into());
    }
    Ok(found)
}

/// A spooled file as its sender named it: the path under the spool
/// directory without the upload's sequence number.
fn shown_path(path: &Path, spool: &Path) -> PathBuf {
    match path.strip_prefix(spool) {
        Ok(inside) => inside.components().skip(1).collect(),
        Err(_) => path.to_owned(),
    }
}
