//! The ingest service: the write path of every datasource, end to end.
//!
//! ```text
//! ingest(body) ─ decode_body ─ ndjson_lines ─ EventParser ─┬─ rejected: {"line": k, "message"}
//!                                                          └─ accepted: one Batch ─ Wal::append (fsync)
//!                                                                        └─ RealtimeIndex::add(event, seq)
//! persist ─ take every chunk ─ write_segment each ─ ONE catalog publish
//!           (segments + "wal.persisted_through") ─ Wal::truncate_through
//! ```
//!
//! [`IngestService`] owns, per datasource, its [`EventParser`], its
//! [`RealtimeIndex`] and its [`Wal`] (in `<data_dir>/wal/<datasource>/`), and
//! shares the [`Catalog`]. A WAL record is the raw NDJSON line of one accepted
//! event, so replay after a restart parses it again.
//!
//! # No loss, no double count
//!
//! A persist publishes its segments and the highest WAL sequence number they
//! hold, [`PERSISTED_THROUGH`], in one catalog commit, and only then truncates
//! the WAL. A crash between the two leaves records in the WAL that are already
//! in segments; on open, replay skips every record at or below the catalog's
//! `wal.persisted_through`, so they are not counted twice.
//!
//! An ingest appends to the WAL outside the index lock, so concurrent requests
//! share fsyncs (group commit). That leaves a window in which a record is in the
//! WAL but not yet in the index; a persist that ran in that window would record
//! a `persisted_through` past a record no segment holds, and truncate it. The
//! per-datasource *gate* closes the window: ingests hold it shared from the WAL
//! append to the index add, a persist holds it exclusively. Ingests therefore
//! wait while a persist writes its segments — the price of keeping a persist
//! that fails simple: it removes chunks from the index only once their publish
//! succeeded, so on failure the index and the WAL are exactly as they were.
//! Stats are copies of the index's totals, so reading them never waits for a
//! persist.
//!
//! # Backpressure
//!
//! A datasource whose real-time index holds more than
//! [`IngestOptions::max_realtime_bytes`] refuses ingests with
//! [`IngestError::OverBudget`] until a persist brings it down, rather than
//! growing until the process runs out of memory. The refusal wakes the
//! background persister ([`IngestService::request_persist`]) so the wait is
//! one persist long, not one persister period.
//!
//! # Schema discovery
//!
//! The real-time index is built for a fixed set of dimensions, so an event that
//! would discover a new dimension is rejected with a line error that says so.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, RwLock, Weak};
use std::time::{Duration, Instant};

use serde::Serialize;
use strata_storage::catalog::{Catalog, CatalogError, Publish, SegmentDescriptor};
use strata_storage::segment::schema::SchemaError;
use strata_storage::spec::DataSourceSpec;
use strata_storage::time::Millis;

use crate::parse::{BodyError, EventParser, ParseLimits, decode_body, ndjson_lines};
use crate::persist::{PersistError, write_segment};
use crate::realtime::RealtimeIndex;
use crate::wal::{Batch, SequenceNumber, Wal, WalError, WalOptions, WalStats};

/// The catalog offset key holding the highest WAL sequence number whose
/// event is in a published segment.
pub const PERSISTED_THROUGH: &str = "wal.persisted_through";

/// How many line errors an ingest report lists; the rest are only counted.
pub const MAX_REPORTED_ERRORS: usize = 100;

/// Tunables of the ingest service.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// The largest request body accepted, in bytes, once decompressed.
    pub max_body_bytes: usize,
    /// Line length and nesting limits of the parser.
    pub parse_limits: ParseLimits,
    /// Options of every datasource's WAL.
    pub wal: WalOptions,
    /// The background persister persists a datasource whose index holds
    /// more rows (rollup rows, or events without rollup) than this...
    pub max_realtime_rows: u64,
    /// ... or more bytes than this, a budget ingests are refused over
    /// (see [backpressure](self#backpressure)) ...
    pub max_realtime_bytes: usize,
    /// ... or that has held events for this long.
    pub persist_period: Duration,
}

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions {
            max_body_bytes: 64 << 20,
            parse_limits: ParseLimits::default(),
            wal: WalOptions::default(),
            max_realtime_rows: 1_000_000,
            max_realtime_bytes: 512 << 20,
            persist_period: Duration::from_secs(600),
        }
    }
}

/// The answer to an ingest request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IngestReport {
    /// Events written to the WAL and added to the real-time index.
    pub accepted: u64,
    /// Lines rejected, all counted.
    pub rejected: u64,
    /// The first [`MAX_REPORTED_ERRORS`] rejected lines, in line order.
    pub errors: Vec<LineError>,
}

/// One rejected line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LineError {
    /// 1-based line number in the decoded body.
    pub line: usize,
    pub message: String,
}

/// A datasource's real-time index, in numbers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RealtimeStats {
    pub events: u64,
    pub rollup_rows: u64,
    pub bytes: u64,
}

/// Everything the service counts about one datasource.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DataSourceStats {
    pub realtime: RealtimeStats,
    pub wal: WalStats,
    /// Events accepted since the service was opened.
    pub accepted: u64,
    /// Lines rejected since the service was opened.
    pub rejected: u64,
    /// Successful persists that published at least one segment.
    pub persists: u64,
    pub segments_published: u64,
}

/// What one persist published.
#[derive(Debug, Clone, PartialEq)]
pub struct PersistOutcome {
    pub segments: Vec<SegmentDescriptor>,
    /// The new `wal.persisted_through`; `None` when there was nothing to persist.
    pub persisted_through: Option<SequenceNumber>,
}

/// Why an ingest, persist, create or drop failed.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("there is no datasource named `{name}`; GET /v1/datasources lists them")]
    UnknownDatasource { name: String },
    #[error(transparent)]
    Body(#[from] BodyError),
    #[error(
        "datasource `{datasource}` holds {bytes} bytes in its real-time index, over its budget of {budget} bytes; a persist is under way, retry in a moment"
    )]
    OverBudget {
        datasource: String,
        bytes: u64,
        budget: usize,
    },
    #[error("datasource `{datasource}`: {source}")]
    Wal {
        datasource: String,
        #[source]
        source: WalError,
    },
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Persist(#[from] PersistError),
    #[error("datasource `{datasource}`: its spec has no valid segment layout: {source}")]
    Layout {
        datasource: String,
        #[source]
        source: SchemaError,
    },
    #[error("{action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// One datasource's write path.
struct DataSourceIngest {
    spec: DataSourceSpec,
    parser: EventParser,
    wal: Wal,
    /// Shared by ingests from WAL append to index add, exclusive for a
    /// persist (see the module docs).
    gate: RwLock<()>,
    index: Mutex<RealtimeIndex>,
    /// The index's totals, copied after every change, so that stats and the
    /// persister never wait for the index lock a persist holds.
    realtime: [AtomicU64; 3],
    /// When the index last went from empty to holding events.
    holding_since: Mutex<Option<Instant>>,
    accepted: AtomicU64,
    rejected: AtomicU64,
    persists: AtomicU64,
    segments_published: AtomicU64,
}

impl DataSourceIngest {
    fn index(&self) -> MutexGuard<'_, RealtimeIndex> {
        self.index.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn realtime(&self) -> RealtimeStats {
        let [events, rollup_rows, bytes] = &self.realtime;
        RealtimeStats {
            events: events.load(Ordering::Relaxed),
            rollup_rows: rollup_rows.load(Ordering::Relaxed),
            bytes: bytes.load(Ordering::Relaxed),
        }
    }

    /// Copies the totals of `index` (this datasource's, locked) for [`Self::realtime`].
    fn note_totals(&self, index: &RealtimeIndex) {
        let [events, rollup_rows, bytes] = &self.realtime;
        events.store(index.total_events(), Ordering::Relaxed);
        rollup_rows.store(index.total_rollup_rows(), Ordering::Relaxed);
        bytes.store(index.approx_bytes() as u64, Ordering::Relaxed);
    }
}

/// Wakes the background persister before its next round is due.
#[derive(Default)]
struct PersistRequest {
    requested: Mutex<bool>,
    wake: Condvar,
}

impl PersistRequest {
    fn request(&self) {
        *self
            .requested
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = true;
        self.wake.notify_all();
    }

    /// Waits until a persist is requested or `timeout` passes, and clears the request.
    fn wait(&self, timeout: Duration) {
        let requested = self
            .requested
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let (mut requested, _) = self
            .wake
            .wait_timeout_while(requested, timeout, |requested| !*requested)
            .unwrap_or_else(PoisonError::into_inner);
        *requested = false;
    }
}

/// The write path of every datasource. See the [module docs](self).
pub struct IngestService {
    data_dir: PathBuf,
    catalog: Arc<dyn Catalog>,
    options: IngestOptions,
    datasources: RwLock<BTreeMap<String, Arc<DataSourceIngest>>>,
    /// Shared with the persister thread, which must not keep the service alive.
    persist_request: Arc<PersistRequest>,
}

impl IngestService {
    /// Opens the WAL of every datasource in `catalog` and replays it into a
    /// fresh real-time index, skipping records the catalog says are persisted.
    pub fn open(
        data_dir: impl AsRef<Path>,
        catalog: Arc<dyn Catalog>,
        options: IngestOptions,
    ) -> Result<IngestService, IngestError> {
        let data_dir = data_dir.as_ref().to_path_buf();
        let mut datasources = BTreeMap::new();
        for name in catalog.datasource_names() {
            let Some(state) = catalog.datasource(&name) else {
                continue;
            };
            let persisted_through = state
                .offsets
                .get(PERSISTED_THROUGH)
                .and_then(serde_json::Value::as_u64)
                .unwrap_or(0);
            let ingest = open_datasource(
                &wal_dir(&data_dir, &name),
                state.spec.clone(),
                &options,
                persisted_through,
            )?;
            datasources.insert(name, Arc::new(ingest));
        }
        Ok(IngestService {
            data_dir,
            catalog,
            options,
            datasources: RwLock::new(datasources),
            persist_request: Arc::default(),
        })
    }

    pub fn catalog(&self) -> &Arc<dyn Catalog> {
        &self.catalog
    }

    pub fn options(&self) -> &IngestOptions {
        &self.options
    }

    /// Creates the datasource in the catalog, with an empty WAL and index.
    pub fn create_datasource(
        &self,
        spec: DataSourceSpec,
    ) -> Result<Arc<strata_storage::catalog::DataSourceState>, IngestError> {
        let mut datasources = self
            .datasources
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let name = spec.name().to_owned();
        let state = self.catalog.create_datasource(spec.clone())?;
        // A WAL left by a drop that crashed before removing it belongs to
        // the old datasource; the new one starts empty.
        let dir = wal_dir(&self.data_dir, &name);
        remove_dir_if_present(&dir)?;
        let ingest = open_datasource(&dir, spec, &self.options, 0)?;
        datasources.insert(name, Arc::new(ingest));
        Ok(state)
    }

    /// Drops the datasource: from the catalog (with its segments), its WAL
    /// directory and its index. Returns the segments it had.
    pub fn drop_datasource(&self, name: &str) -> Result<Vec<SegmentDescriptor>, IngestError> {
        let mut datasources = self
            .datasources
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let segments = self.catalog.drop_datasource(name)?;
        if let Some(ingest) = datasources.remove(name) {
            // Wait for in-flight ingests and persists to finish with the WAL.
            let _gate = ingest.gate.write().unwrap_or_else(PoisonError::into_inner);
        }
        remove_dir_if_present(&wal_dir(&self.data_dir, name))?;
        Ok(segments)
    }

    /// The names of the datasources the service writes to, sorted.
    pub fn datasource_names(&self) -> Vec<String> {
        self.read_datasources().keys().cloned().collect()
    }

    /// Ingests an NDJSON body for datasource `name`; see the
    /// [module docs](self). Blocks until the accepted events are durable.
    /// Refused with [`IngestError::OverBudget`] while the datasource's
    /// real-time index is over its byte budget.
    pub fn ingest(
        &self,
        name: &str,
        body: &[u8],
        content_encoding: Option<&str>,
    ) -> Result<IngestReport, IngestError> {
        let ingest = self.datasource(name)?;
        let held = ingest.realtime().bytes;
        if held >= self.options.max_realtime_bytes as u64 {
            self.request_persist();
            return Err(IngestError::OverBudget {
                datasource: name.to_owned(),
                bytes: held,
                budget: self.options.max_realtime_bytes,
            });
        }
        let body = decode_body(body, content_encoding, self.options.max_body_bytes)?;

        let mut report = IngestReport {
            accepted: 0,
            rejected: 0,
            errors: Vec::new(),
        };
        let reject = |report: &mut IngestReport, line: usize, message: String| {
            report.rejected += 1;
            if report.errors.len() < MAX_REPORTED_ERRORS {
                report.errors.push(LineError { line, message });
            }
        };
        let mut events = Vec::new();
        let mut batch = Batch::new();
        for (line, bytes) in ndjson_lines(&body) {
            match ingest.parser.parse_line(bytes) {
                Ok(event) if !event.discovered().is_empty() => {
                    let names: Vec<&str> = event
                        .discovered()
                        .iter()
                        .map(|dimension| dimension.name.as_str())
                        .collect();
                    reject(
                        &mut report,
                        line,
                        format!(
                            "field(s) {names:?} would be discovered as new dimensions, which real-time ingest does not support yet; declare them in the spec's dimensionsSpec"
                        ),
                    );
                }
                Ok(event) => match batch.push(bytes) {
                    Ok(()) => events.push((line, event)),
                    Err(error) => reject(&mut report, line, error.to_string()),
                },
                Err(error) => reject(&mut report, line, error.to_string()),
            }
        }

        if !events.is_empty() {
            let _gate = ingest.gate.read().unwrap_or_else(PoisonError::into_inner);
            let range = ingest
                .wal
                .append(batch)
                .map_err(|source| IngestError::Wal {
                    datasource: name.to_owned(),
                    source,
                })?;
            let mut index = ingest.index();
            let was_empty = index.total_events() == 0;
            for ((line, event), seq) in events.into_iter().zip(range.iter()) {
                match index.add(event, seq.0) {
                    Ok(_) => report.accepted += 1,
                    Err(error) => {
                        // The record is in the WAL but fails the same way on
                        // replay, so it is never counted.
                        tracing::error!(datasource = name, line, "{error}");
                        reject(&mut report, line, error.to_string());
                    }
                }
            }
            ingest.note_totals(&index);
            if was_empty && index.total_events() > 0 {
                *ingest
                    .holding_since
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = Some(Instant::now());
            }
        }
        report.errors.sort_by_key(|error| error.line);
        ingest
            .accepted
            .fetch_add(report.accepted, Ordering::Relaxed);
        ingest
            .rejected
            .fetch_add(report.rejected, Ordering::Relaxed);
        Ok(report)
    }

    /// Persists every chunk of `name`'s real-time index: writes a segment
    /// each, publishes them all with [`PERSISTED_THROUGH`] in one catalog
    /// commit, then truncates the WAL. On failure the index and the WAL are
    /// as they were.
    pub fn persist(&self, name: &str) -> Result<PersistOutcome, IngestError> {
        let ingest = self.datasource(name)?;
        let _gate = ingest.gate.write().unwrap_or_else(PoisonError::into_inner);
        let mut index = ingest.index();
        let persisted_through = index
            .chunks()
            .map(|chunk| chunk.stats().max_seq)
            .max()
            .map(SequenceNumber);
        let Some(persisted_through) = persisted_through else {
            return Ok(PersistOutcome {
                segments: Vec::new(),
                persisted_through: None,
            });
        };
        let segments = index
            .chunks()
            .map(|chunk| write_segment(self.catalog.as_ref(), &ingest.spec, chunk))
            .collect::<Result<Vec<_>, _>>()?;
        let expected = self
            .catalog
            .datasource(name)
            .and_then(|state| state.offsets.get(PERSISTED_THROUGH).cloned());
        self.catalog.publish(
            name,
            Publish::segments(segments.clone())
                .with_offset(PERSISTED_THROUGH, persisted_through.0.into())
                .expecting_offset(PERSISTED_THROUGH, expected),
        )?;
        let starts: Vec<Millis> = index
            .chunks()
            .map(|chunk| chunk.interval().start())
            .collect();
        for start in starts {
            index.take_chunk(start);
        }
        ingest.note_totals(&index);
        drop(index);
        *ingest
            .holding_since
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = None;
        ingest.persists.fetch_add(1, Ordering::Relaxed);
        ingest
            .segments_published
            .fetch_add(segments.len() as u64, Ordering::Relaxed);
        // The segments are published: a failed truncation only means replay
        // reads (and skips) these records again after a restart.
        if let Err(error) = ingest.wal.truncate_through(persisted_through) {
            tracing::warn!(
                datasource = name,
                "truncating the WAL after a persist: {error}"
            );
        }
        Ok(PersistOutcome {
            segments,
            persisted_through: Some(persisted_through),
        })
    }

    /// The datasources whose index is over a budget of the options, or has
    /// held events for longer than `persist_period`.
    pub fn due_for_persist(&self) -> Vec<String> {
        self.read_datasources()
            .iter()
            .filter(|(_, ingest)| {
                let realtime = ingest.realtime();
                if realtime.events == 0 {
                    return false;
                }
                let rows = if realtime.rollup_rows > 0 {
                    realtime.rollup_rows
                } else {
                    realtime.events
                };
                let held_too_long = ingest
                    .holding_since
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .is_some_and(|since| since.elapsed() >= self.options.persist_period);
                rows >= self.options.max_realtime_rows
                    || realtime.bytes >= self.options.max_realtime_bytes as u64
                    || held_too_long
            })
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// Wakes the background persister for a round now, rather than at its
    /// next check.
    pub fn request_persist(&self) {
        self.persist_request.request();
    }

    /// The real-time index of `name` in numbers.
    pub fn realtime_stats(&self, name: &str) -> Option<RealtimeStats> {
        self.read_datasources().get(name).map(|i| i.realtime())
    }

    /// Datasource `name` as published, with its real-time numbers, read
    /// together: a persist (which moves events from the index into
    /// segments) never falls between the two reads, so every event is
    /// counted exactly once. Waits for a persist under way.
    pub fn snapshot(
        &self,
        name: &str,
    ) -> Option<(Arc<strata_storage::catalog::DataSourceState>, RealtimeStats)> {
        let ingest = self.read_datasources().get(name).cloned()?;
        let _gate = ingest.gate.read().unwrap_or_else(PoisonError::into_inner);
        let state = self.catalog.datasource(name)?;
        Some((state, ingest.realtime()))
    }

    /// Every counter of every datasource, by name.
    pub fn stats(&self) -> BTreeMap<String, DataSourceStats> {
        self.read_datasources()
            .iter()
            .map(|(name, ingest)| {
                let stats = DataSourceStats {
                    realtime: ingest.realtime(),
                    wal: ingest.wal.stats(),
                    accepted: ingest.accepted.load(Ordering::Relaxed),
                    rejected: ingest.rejected.load(Ordering::Relaxed),
                    persists: ingest.persists.load(Ordering::Relaxed),
                    segments_published: ingest.segments_published.load(Ordering::Relaxed),
                };
                (name.clone(), stats)
            })
            .collect()
    }

    /// Starts the background persister: a thread that, every `check_every`
    /// or sooner when [requested](Self::request_persist), persists each
    /// datasource [`due_for_persist`](Self::due_for_persist).
    /// It stops once the service is dropped. No persist is needed at
    /// shutdown: the WAL replays what was not persisted.
    pub fn start_persister(
        self: &Arc<Self>,
        check_every: Duration,
    ) -> std::io::Result<std::thread::JoinHandle<()>> {
        let service: Weak<IngestService> = Arc::downgrade(self);
        let persist_request = self.persist_request.clone();
        std::thread::Builder::new()
            .name("strata-persister".into())
            .spawn(move || {
                loop {
                    persist_request.wait(check_every);
                    let Some(service) = service.upgrade() else {
                        return;
                    };
                    for name in service.due_for_persist() {
                        match service.persist(&name) {
                            Ok(outcome) => tracing::info!(
                                datasource = name,
                                segments = outcome.segments.len(),
                                "persisted the real-time index"
                            ),
                            // Chunks stay in memory and the WAL is intact;
                            // the next round retries.
                            Err(error) => {
                                tracing::error!(datasource = name, "persist failed: {error}")
                            }
                        }
                    }
                }
            })
    }

    fn read_datasources(
        &self,
    ) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Arc<DataSourceIngest>>> {
        self.datasources
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn datasource(&self, name: &str) -> Result<Arc<DataSourceIngest>, IngestError> {
        self.read_datasources()
            .get(name)
            .cloned()
            .ok_or_else(|| IngestError::UnknownDatasource {
                name: name.to_owned(),
            })
    }
}

/// Where datasource `name` keeps its WAL.
pub fn wal_dir(data_dir: &Path, name: &str) -> PathBuf {
    data_dir.join("wal").join(name)
}

fn remove_dir_if_present(dir: &Path) -> Result<(), IngestError> {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(IngestError::Io {
            action: "removing the WAL directory",
            path: dir.to_path_buf(),
            source,
        }),
    }
}

/// Opens a datasource's WAL and replays the records above
/// `persisted_through` into a fresh index.
fn open_datasource(
    dir: &Path,
    spec: DataSourceSpec,
    options: &IngestOptions,
    persisted_through: u64,
) -> Result<DataSourceIngest, IngestError> {
    let name = spec.name().to_owned();
    let wal_error = |source| IngestError::Wal {
        datasource: name.clone(),
        source,
    };
    let parser = EventParser::with_limits(&spec, options.parse_limits);
    let mut index = RealtimeIndex::new(spec.clone()).map_err(|source| IngestError::Layout {
        datasource: name.clone(),
        source,
    })?;
    let (wal, replay) = Wal::open(dir, options.wal.clone()).map_err(wal_error)?;
    let mut skipped_through = None;
    for record in replay {
        let record = record.map_err(wal_error)?;
        if record.seq.0 <= persisted_through {
            skipped_through = Some(record.seq);
            continue;
        }
        // Records are lines that parsed when they were accepted; the spec
        // of a datasource never changes, so they parse again.
        let added = parser
            .parse_line(&record.payload)
            .map_err(|error| error.to_string())
            .and_then(|event| index.add(event, record.seq.0).map_err(|e| e.to_string()));
        if let Err(error) = added {
            tracing::warn!(
                datasource = name,
                seq = record.seq.0,
                "skipping a WAL record on replay: {error}"
            );
        }
    }
    // A crash between a persist's publish and its truncation left these.
    if let Some(through) = skipped_through {
        wal.truncate_through(through).map_err(wal_error)?;
    }
    let holding_since = (index.total_events() > 0).then(Instant::now);
    let realtime = [
        AtomicU64::new(index.total_events()),
        AtomicU64::new(index.total_rollup_rows()),
        AtomicU64::new(index.approx_bytes() as u64),
    ];
    Ok(DataSourceIngest {
        spec,
        parser,
        wal,
        gate: RwLock::new(()),
        index: Mutex::new(index),
        realtime,
        holding_since: Mutex::new(holding_since),
        accepted: AtomicU64::new(0),
        rejected: AtomicU64::new(0),
        persists: AtomicU64::new(0),
        segments_published: AtomicU64::new(0),
    })
}

#[cfg(test)]
mod tests;
