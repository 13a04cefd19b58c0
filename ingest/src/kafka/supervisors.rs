//! The supervisors of a server: submitted, started, suspended, resumed,
//! reset and terminated through Druid's supervisor API, and kept across
//! restarts.
//!
//! A supervisor's id is its datasource's name, so a datasource has at most
//! one. Its spec is kept in `<data_dir>/supervisors/<id>.json`, replaced
//! atomically (written aside, fsync'd, renamed) whenever it changes; at
//! start every stored supervisor that is not suspended runs again, resuming
//! each partition where the catalog and the WAL say (see the
//! [offset ledger](super::offset_ledger)).

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

use serde_json::Value;
use strata_storage::catalog::SegmentDescriptor;

use super::consumer::{ConsumerLoop, build_consumer};
use super::supervisor_spec::{SupervisorSpec, SupervisorSpecError};
use super::supervisor_status::{SupervisorReport, SupervisorStatus};
use crate::service::{IngestError, IngestService, SpecFit};

/// Why a supervisor request failed.
#[derive(Debug, thiserror::Error)]
pub enum SupervisorError {
    #[error("there is no supervisor `{id}`; GET /druid/indexer/v1/supervisor lists them")]
    UnknownSupervisor { id: String },
    #[error(transparent)]
    Spec(#[from] SupervisorSpecError),
    #[error(
        "datasource `{datasource}` exists with a different spec; send its current dataSchema (GET /v1/datasources/{datasource}), or drop it first"
    )]
    SpecConflict { datasource: String },
    #[error(
        "supervisor `{id}` feeds datasource `{id}`; terminate it first (POST /druid/indexer/v1/supervisor/{id}/terminate)"
    )]
    FeedsDatasource { id: String },
    #[error("spec.ioConfig.consumerProperties: {0}")]
    ConsumerProperties(String),
    #[error(transparent)]
    Ingest(#[from] IngestError),
    #[error("{action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("stored supervisor {}: {source}", path.display())]
    Stored {
        path: PathBuf,
        #[source]
        source: SupervisorSpecError,
    },
}

/// One supervisor: its spec, status and, while it runs, its consumer thread.
struct Supervisor {
    spec: SupervisorSpec,
    status: Arc<SupervisorStatus>,
    worker: Option<Worker>,
}

struct Worker {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl Supervisor {
    fn stop(&mut self) {
        if let Some(worker) = self.worker.take() {
            worker.stop.store(true, Ordering::Relaxed);
            if worker.thread.join().is_err() {
                tracing::error!(supervisor = self.spec.id(), "the consumer thread panicked");
            }
        }
    }
}

/// Every supervisor of a server. See the [module docs](self).
pub struct Supervisors {
    service: Arc<IngestService>,
    dir: PathBuf,
    supervisors: Mutex<BTreeMap<String, Supervisor>>,
}

impl Supervisors {
    /// Reads the stored supervisors and starts those not suspended.
    pub fn open(service: Arc<IngestService>) -> Result<Supervisors, SupervisorError> {
        let dir = service.data_dir().join("supervisors");
        fs::create_dir_all(&dir).map_err(io_error("creating", &dir))?;
        let supervisors = Supervisors {
            service,
            dir: dir.clone(),
            supervisors: Mutex::new(BTreeMap::new()),
        };
        let entries = fs::read_dir(&dir).map_err(io_error("listing", &dir))?;
        let mut paths: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
            .collect();
        paths.sort();
        for path in paths {
            let bytes = fs::read(&path).map_err(io_error("reading", &path))?;
            let spec = SupervisorSpec::parse(&bytes).map_err(|source| SupervisorError::Stored {
                path: path.clone(),
                source,
            })?;
            tracing::info!(
                supervisor = spec.id(),
                topic = spec.topic,
                suspended = spec.suspended,
                "supervisor restored"
            );
            supervisors.install(spec);
        }
        Ok(supervisors)
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, Supervisor>> {
        self.supervisors
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Creates or replaces the supervisor `spec` describes, creating its
    /// datasource when there is none; returns its id.
    pub fn submit(&self, spec: SupervisorSpec) -> Result<String, SupervisorError> {
        let probe = Arc::new(SupervisorStatus::new(&spec.topic, true));
        build_consumer(&spec, probe)
            .map_err(|error| SupervisorError::ConsumerProperties(error.to_string()))?;
        let datasource = spec.id().to_owned();
        if self.service.create_or_match(&spec.datasource)? == SpecFit::Conflicts {
            return Err(SupervisorError::SpecConflict { datasource });
        }
        let mut supervisors = self.lock();
        if let Some(mut old) = supervisors.remove(&datasource) {
            old.stop();
        }
        self.store(&spec)?;
        drop(supervisors);
        self.install(spec);
        Ok(datasource)
    }

    /// Adds a supervisor and starts it unless it is suspended.
    fn install(&self, spec: SupervisorSpec) {
        let status = Arc::new(SupervisorStatus::new(&spec.topic, spec.suspended));
        let mut supervisor = Supervisor {
            spec,
            status,
            worker: None,
        };
        if !supervisor.spec.suspended {
            self.start(&mut supervisor);
        }
        self.lock()
            .insert(supervisor.spec.id().to_owned(), supervisor);
    }

    fn start(&self, supervisor: &mut Supervisor) {
        let stop = Arc::new(AtomicBool::new(false));
        let consumer = ConsumerLoop {
            service: self.service.clone(),
            spec: supervisor.spec.clone(),
            status: supervisor.status.clone(),
            stop: stop.clone(),
        };
        let thread = std::thread::Builder::new()
            .name(format!("kafka-{}", supervisor.spec.id()))
            .spawn(move || consumer.run());
        match thread {
            Ok(thread) => supervisor.worker = Some(Worker { stop, thread }),
            Err(error) => supervisor
                .status
                .failed(format!("starting the consumer thread: {error}")),
        }
    }

    /// The ids of every supervisor, sorted.
    pub fn ids(&self) -> Vec<String> {
        self.lock().keys().cloned().collect()
    }

    /// The spec of supervisor `id`, as submitted (with `suspended` current).
    pub fn spec(&self, id: &str) -> Result<Value, SupervisorError> {
        self.with(id, |supervisor| supervisor.spec.json.clone())
    }

    /// The status of supervisor `id`.
    pub fn status(&self, id: &str) -> Result<SupervisorReport, SupervisorError> {
        self.with(id, report)
    }

    /// The status of every supervisor.
    pub fn reports(&self) -> Vec<SupervisorReport> {
        self.lock().values().map(report).collect()
    }

    fn with<T>(&self, id: &str, read: impl FnOnce(&Supervisor) -> T) -> Result<T, SupervisorError> {
        self.lock().get(id).map(read).ok_or_else(|| unknown(id))
    }

    /// Stops supervisor `id` consuming, durably; returns its spec.
    pub fn suspend(&self, id: &str) -> Result<Value, SupervisorError> {
        self.set_suspended(id, true)
    }

    /// Starts supervisor `id` consuming again where it stopped.
    pub fn resume(&self, id: &str) -> Result<Value, SupervisorError> {
        self.set_suspended(id, false)
    }

    fn set_suspended(&self, id: &str, suspended: bool) -> Result<Value, SupervisorError> {
        let mut supervisors = self.lock();
        let supervisor = supervisors.get_mut(id).ok_or_else(|| unknown(id))?;
        let spec = supervisor.spec.with_suspended(suspended);
        self.store(&spec)?;
        supervisor.spec = spec;
        supervisor.status.set_suspended(suspended);
        if suspended {
            supervisor.stop();
        } else if supervisor.worker.is_none() {
            self.start(supervisor);
        }
        Ok(supervisor.spec.json.clone())
    }

    /// Forgets where supervisor `id` was in every partition: it goes on
    /// from the earliest or latest offsets, as its spec says. What was
    /// already ingested stays.
    pub fn reset(&self, id: &str) -> Result<(), SupervisorError> {
        let mut supervisors = self.lock();
        let supervisor = supervisors.get_mut(id).ok_or_else(|| unknown(id))?;
        let was_running = supervisor.worker.is_some();
        supervisor.stop();
        self.service.reset_kafka(id)?;
        supervisor.status = Arc::new(SupervisorStatus::new(
            &supervisor.spec.topic,
            supervisor.spec.suspended,
        ));
        if was_running {
            self.start(supervisor);
        }
        Ok(())
    }

    /// Stops supervisor `id` and forgets it; its datasource and data stay.
    pub fn terminate(&self, id: &str) -> Result<(), SupervisorError> {
        let mut supervisors = self.lock();
        let mut supervisor = supervisors.remove(id).ok_or_else(|| unknown(id))?;
        supervisor.stop();
        let path = self.path(id);
        fs::remove_file(&path).map_err(io_error("removing", &path))?;
        Ok(())
    }

    /// Drops datasource `name` with its segments, refused while a supervisor
    /// feeds it (it would only fail and retry); returns the segments.
    pub fn drop_datasource(&self, name: &str) -> Result<Vec<SegmentDescriptor>, SupervisorError> {
        let supervisors = self.lock();
        if supervisors.contains_key(name) {
            return Err(SupervisorError::FeedsDatasource {
                id: name.to_owned(),
            });
        }
        Ok(self.service.drop_datasource(name)?)
    }

    /// Stops every consumer, for a shutdown; the specs stay stored.
    pub fn stop_all(&self) {
        for supervisor in self.lock().values_mut() {
            supervisor.stop();
        }
    }

    fn path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }

    fn store(&self, spec: &SupervisorSpec) -> Result<(), SupervisorError> {
        let path = self.path(spec.id());
        let aside = self.dir.join(format!("{}.json.tmp", spec.id()));
        let bytes = serde_json::to_vec_pretty(&spec.json).unwrap_or_default();
        let write = || -> std::io::Result<()> {
            let mut file = fs::File::create(&aside)?;
            file.write_all(&bytes)?;
            file.sync_all()?;
            fs::rename(&aside, &path)?;
            fs::File::open(&self.dir)?.sync_all()
        };
        write().map_err(io_error("storing the supervisor spec", &path))
    }
}

impl Drop for Supervisors {
    fn drop(&mut self) {
        self.stop_all();
    }
}

fn report(supervisor: &Supervisor) -> SupervisorReport {
    supervisor
        .status
        .report(supervisor.spec.id(), supervisor.spec.duration_seconds())
}

fn unknown(id: &str) -> SupervisorError {
    SupervisorError::UnknownSupervisor { id: id.to_owned() }
}

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> SupervisorError {
    let path = path.to_path_buf();
    move |source| SupervisorError::Io {
        action,
        path,
        source,
    }
}
