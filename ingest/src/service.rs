//! The ingest service: the write path of every datasource, end to end.
//!
//! ```text
//! ingest(body) ─ decode_body ─ ndjson_lines ─ EventParser ─┬─ rejected: {"line": k, "message"}
//!                                                          └─ accepted: one Batch ─ Wal::append (fsync)
//!                                                                        └─ RealtimeIndex::add(event, seq)
//! persist ─ freeze chunks ─ write_segment each ─ ONE catalog publish
//!           (segments + persisted marks) ─ release the frozen chunks ─ Wal::truncate_through
//! ```
//!
//! [`IngestService`] owns, per datasource, its [`EventParser`], its
//! [`RealtimeIndex`] and its [`Wal`] (in `<data_dir>/wal/<datasource>/`), and
//! shares the [`Catalog`]. A WAL record is the raw NDJSON line of one accepted
//! event, so replay after a restart parses it again.
//!
//! # When a chunk is persisted
//!
//! The background persister ([`IngestService::start_persister`]) hands a time
//! chunk off — persists and publishes it — once it *closes*: when
//! [`IngestOptions::handoff_window`] has passed since both the end of its
//! interval and its first event (Druid's `windowPeriod`; the second condition
//! gives late events for an old interval one window to gather before they
//! become a partition). It persists every chunk at once when the index passes
//! its row or byte budget, or has held events for
//! [`IngestOptions::persist_period`]. Events for an interval already persisted
//! open a new chunk that becomes another partition of it; compaction merges
//! the partitions later. Events outside the [accepted window](accepted_window)
//! are rejected with the reason.
//!
//! # No loss, no double count
//!
//! A persist publishes its segments and the [persisted marks](persisted_marks)
//! — which WAL records those segments hold — in one catalog commit, and only
//! then truncates the WAL. A crash between the two leaves records in the WAL
//! that are already in segments; on open, replay skips every record the marks
//! cover, so none is counted twice.
//!
//! Ingest goes on while a persist writes: the persist [freezes] the chunks it
//! writes and releases them only once their segments are published, in the
//! same step as the publish, so a reader finds each event exactly once. An
//! ingest appends to the WAL outside the index lock, so concurrent requests
//! share fsyncs (group commit); that leaves a moment in which a record is in
//! the WAL but not yet in the index, and a persist that froze chunks then would
//! compute marks past a record no chunk holds. The per-datasource *gate*
//! closes the window: ingests hold it shared from the WAL append to the index
//! add, a persist holds it exclusively only to freeze and to publish. Stats are
//! copies of the index's totals, so reading them never waits.
//!
//! [freezes]: crate::realtime#freezing-persisting-without-stopping-ingest
//!
//! # Backpressure
//!
//! A datasource whose real-time index holds more than
//! [`IngestOptions::max_realtime_bytes`] refuses ingests with
//! [`IngestError::OverBudget`] until a persist brings it down, rather than
//! growing until the process runs out of memory. The refusal wakes the
//! background persister ([`IngestService::request_persist`]) so the wait is
//! one persist long, not one persister period. The persister starts on the
//! whole index at half the budget, so that in a steady stream the events that
//! arrive during a persist fit in the other half and nobody is refused.
//!
//! # Schema discovery
//!
//! When lines of a request bring fields a discovering datasource does not
//! have, the service widens the datasource before it takes the request: the
//! new dimensions go into the spec in the catalog (so that a replay parses
//! with them), then into the real-time index (whose rows read them as null)
//! and a new parser, and the body is parsed again. Requests parsed by the
//! older parser in the meantime lack only fields they did not have.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, RwLock, Weak};
use std::time::{Duration, Instant};

use serde::Serialize;
use strata_query::open_segments::OpenSegments;
use strata_query::snapshot::{ChunkTables, DataSourceSnapshot};
use strata_storage::catalog::{Catalog, CatalogError, Publish, SegmentDescriptor};
use strata_storage::segment::schema::SchemaError;
use strata_storage::spec::{DataSourceSpec, Dimension, SpecError};
use strata_storage::time::{Interval, Millis};

use crate::compaction::{CompactionError, compact_interval, still_current};
use crate::kafka::offset_ledger::OffsetLedger;
use crate::parse::{
    BodyError, DiscoveredDimension, EventParser, ParseLimits, ParsedEvent, decode_body,
    ndjson_lines,
};
use crate::persist::{PersistError, chunk_tables, next_partition, write_segment_at};
use crate::realtime::{FrozenChunk, RealtimeIndex, TimeChunk, WidenError, wall_clock_now};
use crate::wal::{Batch, SequenceNumber, SequenceRange, Wal, WalError, WalOptions, WalStats};

pub mod accepted_window;
pub mod kafka_ingest;
pub mod persisted_marks;

use accepted_window::AcceptedWindow;
pub use persisted_marks::{PERSISTED_CHUNKS, PERSISTED_THROUGH, PersistedMarks};

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
    /// ... or more than half of this many bytes, a budget ingests are
    /// refused over (see [backpressure](self#backpressure)) ...
    pub max_realtime_bytes: usize,
    /// ... or that has held events for this long.
    pub persist_period: Duration,
    /// A time chunk is handed off once this long has passed since both its
    /// interval's end and its first event (see [when a chunk is
    /// persisted](self#when-a-chunk-is-persisted)).
    pub handoff_window: Duration,
    /// Events older than now minus this are rejected; `None` accepts any age.
    pub late_message_rejection: Option<Duration>,
    /// Events later than now plus this are rejected; `None` accepts any.
    pub early_message_rejection: Option<Duration>,
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
            handoff_window: Duration::from_secs(600),
            late_message_rejection: None,
            early_message_rejection: None,
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
    /// Time chunks whose partitions compaction merged.
    pub compactions: u64,
}

/// What one persist published.
#[derive(Debug, Clone, PartialEq)]
pub struct PersistOutcome {
    pub segments: Vec<SegmentDescriptor>,
    /// The new [`PERSISTED_THROUGH`]; `None` when there was nothing to persist.
    pub persisted_through: Option<SequenceNumber>,
}

/// Which chunks a persist writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PersistScope {
    /// Every chunk: the index is over a budget or has held events too long.
    All,
    /// The chunks closed at this wall-clock time (see [when a chunk is
    /// persisted](self#when-a-chunk-is-persisted)).
    ClosedAt(Millis),
}

/// Whether a spec brought for an existing datasource fits it (see
/// [`IngestService::create_or_match`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpecFit {
    Fits,
    Conflicts,
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
    #[error("datasource `{datasource}`: storing discovered dimensions: {source}")]
    Discovery {
        datasource: String,
        #[source]
        source: SpecError,
    },
    #[error(transparent)]
    Widen(WidenError),
    #[error(transparent)]
    Compaction(Box<CompactionError>),
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
    /// Replaced, never changed, when schema discovery widens the datasource.
    parser: RwLock<Arc<EventParser>>,
    /// Held by the one widening of this datasource under way.
    discovering: Mutex<()>,
    window: AcceptedWindow,
    wal: Wal,
    /// Shared by ingests from WAL append to index add, exclusive for a
    /// persist's freeze and publish (see the module docs).
    gate: RwLock<()>,
    /// Held by the one persist of this datasource under way.
    persisting: Mutex<()>,
    /// When a persist last published into each interval, by start.
    last_persist_into: Mutex<BTreeMap<Millis, Instant>>,
    index: Mutex<RealtimeIndex>,
    /// Where each Kafka partition feeding this datasource resumes; changed
    /// under the gate like the index.
    kafka: Mutex<OffsetLedger>,
    /// The index's totals, copied after every change, so that stats and the
    /// persister never wait for the index lock a persist holds.
    realtime: [AtomicU64; 3],
    accepted: AtomicU64,
    rejected: AtomicU64,
    persists: AtomicU64,
    segments_published: AtomicU64,
    compactions: AtomicU64,
    /// The published segments queries have opened, kept open for the next.
    open_segments: Arc<OpenSegments>,
    /// The tables of the real-time chunks the last read view held, by
    /// chunk start and [version](TimeChunk::version): a chunk that has not
    /// changed since is not built again, nor its full-text index.
    chunk_tables: Mutex<HashMap<(Millis, u64), Arc<ChunkTables>>>,
}

impl DataSourceIngest {
    fn parser(&self) -> Arc<EventParser> {
        self.parser
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn index(&self) -> MutexGuard<'_, RealtimeIndex> {
        self.index.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Appends `batch` to the WAL of datasource `name` (this one); the
    /// caller holds the gate shared.
    fn append(&self, name: &str, batch: Batch) -> Result<SequenceRange, IngestError> {
        self.wal.append(batch).map_err(|source| IngestError::Wal {
            datasource: name.to_owned(),
            source,
        })
    }

    fn kafka(&self) -> MutexGuard<'_, OffsetLedger> {
        self.kafka.lock().unwrap_or_else(PoisonError::into_inner)
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
    /// When the service opened: the last persist into any chunk that is
    /// not newer, for all compaction knows.
    opened: Instant,
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
            let ingest = open_datasource(
                &wal_dir(&data_dir, &name),
                state.spec.clone(),
                &options,
                &state.offsets,
            )?;
            datasources.insert(name, Arc::new(ingest));
        }
        Ok(IngestService {
            data_dir,
            catalog,
            options,
            datasources: RwLock::new(datasources),
            persist_request: Arc::default(),
            opened: Instant::now(),
        })
    }

    /// The data directory the service keeps its WALs (and loads their
    /// spools) in.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
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
        let ingest = open_datasource(&dir, spec, &self.options, &BTreeMap::new())?;
        datasources.insert(name, Arc::new(ingest));
        Ok(state)
    }

    /// Creates the datasource `spec` names when there is none; when there
    /// is one, says whether `spec` — brought by a load or a supervisor — may
    /// feed it: its own spec, or that spec before some schema discoveries.
    pub fn create_or_match(&self, spec: &DataSourceSpec) -> Result<SpecFit, IngestError> {
        match self.catalog.datasource(spec.name()) {
            None => {
                self.create_datasource(spec.clone())?;
                Ok(SpecFit::Fits)
            }
            Some(state) if spec_extends(&state.spec, spec) => Ok(SpecFit::Fits),
            Some(_) => Ok(SpecFit::Conflicts),
        }
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
        self.check_budget(name, &ingest)?;
        let body = decode_body(body, content_encoding, self.options.max_body_bytes)?;

        let now = wall_clock_now();
        let mut parsed = parse_body(&ingest, &ingest.parser(), &body, now);
        for _ in 0..MAX_DISCOVERY_ROUNDS {
            if parsed.discovered.is_empty() {
                break;
            }
            self.discover(name, &ingest, &parsed.discovered)?;
            parsed = parse_body(&ingest, &ingest.parser(), &body, now);
        }
        let ParsedBody {
            mut report,
            events,
            batch,
            ..
        } = parsed;

        if !events.is_empty() {
            let _gate = ingest.gate.read().unwrap_or_else(PoisonError::into_inner);
            let range = ingest.append(name, batch)?;
            let mut index = ingest.index();
            for ((line, event), seq) in events.into_iter().zip(range.iter()) {
                match index.add(event, seq.0) {
                    Ok(_) => report.accepted += 1,
                    Err(error) => {
                        // The record is in the WAL but fails the same way on
                        // replay, so it is never counted.
                        tracing::error!(datasource = name, line, "{error}");
                        report.reject(line, error.to_string());
                    }
                }
            }
            ingest.note_totals(&index);
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

    /// Refuses an ingest into `name` while its real-time index is over its
    /// byte budget, and wakes the persister that brings it down.
    fn check_budget(&self, name: &str, ingest: &DataSourceIngest) -> Result<(), IngestError> {
        let held = ingest.realtime().bytes;
        if held >= self.options.max_realtime_bytes as u64 {
            self.request_persist();
            return Err(IngestError::OverBudget {
                datasource: name.to_owned(),
                bytes: held,
                budget: self.options.max_realtime_bytes,
            });
        }
        Ok(())
    }

    /// Widens datasource `name` with the dimensions `found` that it does not
    /// have yet: in the catalog first, so that a replay parses with them,
    /// then in the real-time index and the parser.
    fn discover(
        &self,
        name: &str,
        ingest: &DataSourceIngest,
        found: &[DiscoveredDimension],
    ) -> Result<(), IngestError> {
        let _discovering = ingest
            .discovering
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let spec = ingest.index().spec().clone();
        let mut added: Vec<Dimension> = Vec::new();
        for dimension in found {
            let known = spec.dimension(&dimension.name).is_some()
                || added.iter().any(|a| a.name() == dimension.name);
            if !known {
                added.push(dimension.to_dimension());
            }
        }
        if added.is_empty() {
            return Ok(());
        }
        let names: Vec<String> = added.iter().map(|d| d.name().to_owned()).collect();
        let spec =
            spec.with_discovered_dimensions(added)
                .map_err(|source| IngestError::Discovery {
                    datasource: name.to_owned(),
                    source,
                })?;
        self.catalog.update_spec(name, spec.clone())?;
        let parser = Arc::new(EventParser::with_limits(&spec, self.options.parse_limits));
        {
            let mut index = ingest.index();
            index.widen(spec).map_err(IngestError::Widen)?;
            ingest.note_totals(&index);
        }
        *ingest
            .parser
            .write()
            .unwrap_or_else(PoisonError::into_inner) = parser;
        tracing::info!(datasource = name, dimensions = ?names, "discovered dimensions");
        Ok(())
    }

    /// Persists every chunk of `name`'s real-time index: writes a segment
    /// each, publishes them all with the [persisted marks](persisted_marks)
    /// in one catalog commit, then truncates the WAL. Ingest goes on
    /// meanwhile. On failure the chunks stay in memory, frozen, and the next
    /// persist writes them again.
    pub fn persist(&self, name: &str) -> Result<PersistOutcome, IngestError> {
        self.persist_scope(name, PersistScope::All)
    }

    /// Persists the chunks of `name` that `scope` picks (and any a failed
    /// persist left frozen), as [`persist`](Self::persist) does.
    pub fn persist_scope(
        &self,
        name: &str,
        scope: PersistScope,
    ) -> Result<PersistOutcome, IngestError> {
        let ingest = self.datasource(name)?;
        let _persisting = ingest
            .persisting
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let handoff_window = millis(self.options.handoff_window);
        let (frozen, through) = {
            let _gate = ingest.gate.write().unwrap_or_else(PoisonError::into_inner);
            let mut index = ingest.index();
            index.freeze(|chunk| match scope {
                PersistScope::All => true,
                PersistScope::ClosedAt(now) => is_closed(chunk, now, handoff_window),
            });
            // With the gate held every appended record is in a chunk (or was
            // refused by the index): those below the open chunks' first
            // record are all frozen, persisted before, or never indexed.
            let through = match index.min_open_seq() {
                Some(first_open) => first_open.saturating_sub(1),
                None => ingest.wal.next_seq().0.saturating_sub(1),
            };
            (index.frozen().to_vec(), through)
        };
        if frozen.is_empty() {
            return Ok(PersistOutcome {
                segments: Vec::new(),
                persisted_through: None,
            });
        }

        let offsets = self
            .catalog
            .datasource(name)
            .ok_or_else(|| CatalogError::UnknownDatasource {
                name: name.to_owned(),
            })?
            .offsets
            .clone();
        let segments = self.write_frozen(&frozen)?;
        let marks = PersistedMarks::from_offsets(&offsets).after_persist(
            frozen.iter().map(|frozen| {
                let chunk = frozen.chunk();
                (chunk.interval().start(), chunk.stats().max_seq)
            }),
            through,
        );
        {
            let _gate = ingest.gate.write().unwrap_or_else(PoisonError::into_inner);
            let mut ledger = ingest.kafka();
            let commits = ledger.commits_through(marks.through());
            let publish = marks.publish_with(Publish::segments(segments.clone()), &offsets);
            self.catalog
                .publish(name, OffsetLedger::publish_with(publish, &commits))?;
            ledger.after_persist(commits, marks.through());
            let mut index = ingest.index();
            let ids: Vec<u64> = frozen.iter().map(FrozenChunk::id).collect();
            index.release(&ids);
            let mut last_persist_into = ingest
                .last_persist_into
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            for frozen in &frozen {
                last_persist_into.insert(frozen.chunk().interval().start(), Instant::now());
            }
            ingest.note_totals(&index);
        }
        ingest.persists.fetch_add(1, Ordering::Relaxed);
        ingest
            .segments_published
            .fetch_add(segments.len() as u64, Ordering::Relaxed);
        let through = SequenceNumber(marks.through());
        // The segments are published: a failed truncation only means replay
        // reads (and skips) these records again after a restart.
        if marks.through() > 0
            && let Err(error) = ingest.wal.truncate_through(through)
        {
            tracing::warn!(
                datasource = name,
                "truncating the WAL after a persist: {error}"
            );
        }
        Ok(PersistOutcome {
            segments,
            persisted_through: Some(through),
        })
    }

    /// Compacts every settled time chunk of `name` that has more than one
    /// partition (see [`compaction`](crate::compaction): closed, and with
    /// nothing left in the real-time index) and returns the segments that
    /// replaced them. A chunk that got a partition while it was being
    /// rewritten is left for a later round.
    pub fn compact(&self, name: &str) -> Result<Vec<SegmentDescriptor>, IngestError> {
        let ingest = self.datasource(name)?;
        let mut published = Vec::new();
        for interval in self.fragmented_intervals(name) {
            let Some(state) = self.catalog.datasource(name) else {
                break;
            };
            let Some(compacted) = compact_interval(self.catalog.as_ref(), &state.spec, interval)
                .map_err(|error| IngestError::Compaction(Box::new(error)))?
            else {
                continue;
            };
            // Persists wait only for the check and the publish: a partition
            // they add in between makes the compaction stale, never lost.
            let _persisting = ingest
                .persisting
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if !still_current(self.catalog.as_ref(), name, &compacted) {
                if let Err(error) = compacted.discard(self.catalog.as_ref()) {
                    tracing::warn!(datasource = name, "removing a stale compaction: {error}");
                }
                continue;
            }
            self.catalog
                .publish(name, Publish::segments(vec![compacted.segment.clone()]))?;
            ingest.compactions.fetch_add(1, Ordering::Relaxed);
            published.push(compacted.segment);
        }
        Ok(published)
    }

    /// The intervals of `name` that show more than one partition and are
    /// settled: closed, with nothing in the real-time index for them, and no
    /// persist into them for a handoff window. A chunk still taking events
    /// would otherwise be rewritten whole again and again.
    fn fragmented_intervals(&self, name: &str) -> Vec<Interval> {
        let (Some(state), Ok(ingest)) = (self.catalog.datasource(name), self.datasource(name))
        else {
            return Vec::new();
        };
        let quiet = |start: Millis| {
            let last_persist = ingest
                .last_persist_into
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get(&start)
                .copied()
                .unwrap_or(self.opened);
            last_persist.elapsed() >= self.options.handoff_window
        };
        let settled_before = wall_clock_now().saturating_sub(millis(self.options.handoff_window));
        let held: Vec<Millis> = {
            let index = ingest.index();
            index
                .chunks()
                .chain(index.frozen().iter().map(FrozenChunk::chunk))
                .map(|chunk| chunk.interval().start())
                .collect()
        };
        let mut partitions: BTreeMap<(Millis, Millis), usize> = BTreeMap::new();
        for segment in &state.segments {
            let interval = segment.id.interval();
            *partitions
                .entry((interval.start(), interval.end()))
                .or_default() += 1;
        }
        partitions
            .into_iter()
            .filter(|&((start, end), count)| {
                count > 1 && end <= settled_before && !held.contains(&start) && quiet(start)
            })
            .filter_map(|((start, end), _)| Interval::new(start, end).ok())
            .collect()
    }

    /// The datasources with a time chunk of more than one partition.
    pub fn due_for_compaction(&self) -> Vec<String> {
        self.datasource_names()
            .into_iter()
            .filter(|name| !self.fragmented_intervals(name).is_empty())
            .collect()
    }

    /// Writes a segment for each frozen chunk, unpublished. Chunks of one
    /// interval become consecutive partitions of its version.
    fn write_frozen(&self, frozen: &[FrozenChunk]) -> Result<Vec<SegmentDescriptor>, IngestError> {
        let mut next: BTreeMap<Millis, (strata_storage::catalog::Version, u32)> = BTreeMap::new();
        let mut segments = Vec::with_capacity(frozen.len());
        for frozen in frozen {
            let (spec, chunk) = (frozen.spec(), frozen.chunk());
            let interval = chunk.interval();
            let (version, partition) =
                match next.get(&interval.start()) {
                    Some(&taken) => taken,
                    None => next_partition(self.catalog.as_ref(), spec, interval).map_err(
                        |problem| PersistError {
                            datasource: spec.name().to_owned(),
                            interval,
                            problem,
                        },
                    )?,
                };
            segments.push(write_segment_at(
                self.catalog.as_ref(),
                spec,
                chunk,
                version,
                partition,
            )?);
            next.insert(interval.start(), (version, partition.saturating_add(1)));
        }
        Ok(segments)
    }

    /// The datasources due for a persist now, and which of their chunks: all
    /// of them when the index is over a budget of the options or has held
    /// events for longer than `persist_period`, else those that closed.
    pub fn due_for_persist(&self) -> Vec<(String, PersistScope)> {
        let now = wall_clock_now();
        let handoff_window = millis(self.options.handoff_window);
        self.read_datasources()
            .iter()
            .filter_map(|(name, ingest)| {
                let realtime = ingest.realtime();
                if realtime.events == 0 {
                    return None;
                }
                let rows = if realtime.rollup_rows > 0 {
                    realtime.rollup_rows
                } else {
                    realtime.events
                };
                let index = ingest.index();
                // A chunk opens with its first event: the oldest opening is
                // how long the index has held events.
                let held_too_long = index
                    .chunks()
                    .chain(index.frozen().iter().map(FrozenChunk::chunk))
                    .map(|chunk| chunk.stats().opened_at)
                    .min()
                    .is_some_and(|oldest| {
                        now.saturating_sub(oldest) >= millis(self.options.persist_period)
                    });
                // Persisting from half the byte budget leaves the other half
                // for the events that arrive while the persist writes, so
                // ingest is refused only when persists fall behind.
                if rows >= self.options.max_realtime_rows
                    || realtime.bytes >= self.options.max_realtime_bytes as u64 / 2
                    || held_too_long
                {
                    return Some((name.clone(), PersistScope::All));
                }
                let any_closed = index.frozen().iter().next().is_some()
                    || index
                        .chunks()
                        .any(|chunk| is_closed(chunk, now, handoff_window));
                any_closed.then(|| (name.clone(), PersistScope::ClosedAt(now)))
            })
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

    /// What a query of datasource `name` reads: its published state and its
    /// real-time chunks as tables ([`chunk_tables`]: the tables their
    /// segments will hold), taken together so that a persist never falls
    /// between them — every acknowledged event is in exactly one of the two.
    /// Ingest into the datasource waits while the chunks are copied.
    pub fn read_view(&self, name: &str) -> Result<DataSourceSnapshot, IngestError> {
        let ingest = self.datasource(name)?;
        let _gate = ingest.gate.read().unwrap_or_else(PoisonError::into_inner);
        let state =
            self.catalog
                .datasource(name)
                .ok_or_else(|| IngestError::UnknownDatasource {
                    name: name.to_owned(),
                })?;
        let index = ingest.index();
        let chunks = index
            .frozen()
            .iter()
            .map(|frozen| (frozen.spec(), frozen.chunk()))
            .chain(index.chunks().map(|chunk| (index.spec(), chunk)));
        let mut built = ingest
            .chunk_tables
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut kept = HashMap::with_capacity(built.len());
        let mut realtime = Vec::new();
        for (spec, chunk) in chunks {
            let key = (chunk.interval().start(), chunk.version());
            let tables = match built.remove(&key) {
                Some(tables) => tables,
                None => Arc::new(ChunkTables::of(chunk_tables(spec, chunk)?)),
            };
            kept.insert(key, Arc::clone(&tables));
            realtime.push(tables);
        }
        *built = kept;
        drop(built);
        let published: Vec<PathBuf> = state
            .segments
            .iter()
            .map(|segment| self.catalog.segment_dir(&segment.id))
            .collect();
        ingest
            .open_segments
            .retain(published.iter().map(PathBuf::as_path));
        Ok(DataSourceSnapshot {
            state,
            realtime,
            open_segments: Arc::clone(&ingest.open_segments),
        })
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
                    compactions: ingest.compactions.load(Ordering::Relaxed),
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
                    for (name, scope) in service.due_for_persist() {
                        let started = Instant::now();
                        match service.persist_scope(&name, scope) {
                            Ok(outcome) => tracing::info!(
                                datasource = name,
                                segments = outcome.segments.len(),
                                rows = outcome.segments.iter().map(|s| s.rows).sum::<u64>(),
                                seconds = started.elapsed().as_secs_f64(),
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

    /// Starts the background compactor: a thread that, every `check_every`,
    /// compacts each datasource [`due_for_compaction`](Self::due_for_compaction).
    /// It runs beside the persister so that a long rewrite never delays a
    /// persist, and stops once the service is dropped.
    pub fn start_compactor(
        self: &Arc<Self>,
        check_every: Duration,
    ) -> std::io::Result<std::thread::JoinHandle<()>> {
        let service: Weak<IngestService> = Arc::downgrade(self);
        std::thread::Builder::new()
            .name("strata-compactor".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(check_every);
                    let Some(service) = service.upgrade() else {
                        return;
                    };
                    for name in service.due_for_compaction() {
                        match service.compact(&name) {
                            Ok(segments) => tracing::info!(
                                datasource = name,
                                chunks = segments.len(),
                                "compacted time chunks"
                            ),
                            // The partitions stay published as they were;
                            // the next round tries again.
                            Err(error) => {
                                tracing::error!(datasource = name, "compaction failed: {error}")
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

/// How many times one request widens its datasource before it rejects the
/// lines that still discover fields: only requests racing each other's
/// discoveries ever take more than one.
const MAX_DISCOVERY_ROUNDS: usize = 3;

/// A request body, parsed: the report so far, the accepted events with
/// their lines, and the WAL batch of those lines.
struct ParsedBody {
    report: IngestReport,
    events: Vec<(usize, ParsedEvent)>,
    batch: Batch,
    /// Fields that lines would add as dimensions; those lines are rejected
    /// unless the datasource is widened and the body parsed again.
    discovered: Vec<DiscoveredDimension>,
}

impl IngestReport {
    fn reject(&mut self, line: usize, message: String) {
        self.rejected += 1;
        if self.errors.len() < MAX_REPORTED_ERRORS {
            self.errors.push(LineError { line, message });
        }
    }
}

fn parse_body(
    ingest: &DataSourceIngest,
    parser: &EventParser,
    body: &[u8],
    now: Millis,
) -> ParsedBody {
    let mut parsed = ParsedBody {
        report: IngestReport {
            accepted: 0,
            rejected: 0,
            errors: Vec::new(),
        },
        events: Vec::new(),
        batch: Batch::new(),
        discovered: Vec::new(),
    };
    for (line, bytes) in ndjson_lines(body) {
        match judge_line(ingest, parser, bytes, now) {
            LineVerdict::Accepted(event) => match parsed.batch.push(bytes) {
                Ok(()) => parsed.events.push((line, event)),
                Err(error) => parsed.report.reject(line, error.to_string()),
            },
            LineVerdict::Unparseable(message) | LineVerdict::OutsideWindow(message) => {
                parsed.report.reject(line, message)
            }
            LineVerdict::Discovers(discovered, message) => {
                parsed.report.reject(line, message);
                parsed.discovered.extend(discovered);
            }
        }
    }
    parsed
}

/// What becomes of one line of JSON offered to a datasource.
enum LineVerdict {
    Accepted(ParsedEvent),
    /// Not an event of this datasource's spec, with the reason.
    Unparseable(String),
    /// An event outside the accepted window, with the reason.
    OutsideWindow(String),
    /// An event with fields that would become dimensions; it is accepted
    /// once the datasource is widened with them and the line parsed again.
    Discovers(Vec<DiscoveredDimension>, String),
}

fn judge_line(
    ingest: &DataSourceIngest,
    parser: &EventParser,
    bytes: &[u8],
    now: Millis,
) -> LineVerdict {
    let event = match parser.parse_line(bytes) {
        Ok(event) => event,
        Err(error) => return LineVerdict::Unparseable(error.to_string()),
    };
    // Before discovery: a rejected event must not widen the spec.
    if let Err(outside) = ingest.window.check(event.time(), now) {
        return LineVerdict::OutsideWindow(outside.to_string());
    }
    if !event.discovered().is_empty() {
        let names: Vec<&str> = event.discovered().iter().map(|d| d.name.as_str()).collect();
        let message = format!(
            "field(s) {names:?} became dimensions while other requests widened the datasource at the same time; send the line again"
        );
        return LineVerdict::Discovers(event.discovered().to_vec(), message);
    }
    LineVerdict::Accepted(event)
}

/// Whether `chunk` has closed at `now`: `window` has passed since both the
/// end of its interval and its first event.
fn is_closed(chunk: &TimeChunk, now: Millis, window: Millis) -> bool {
    let since = chunk.interval().end().max(chunk.stats().opened_at);
    now >= since.saturating_add(window)
}

fn millis(duration: Duration) -> Millis {
    Millis::try_from(duration.as_millis()).unwrap_or(Millis::MAX)
}

/// Whether spec `asked` may feed a datasource stored with spec `stored`: the
/// same spec, or — when the stored one discovers its dimensions — the same
/// spec before some discoveries.
fn spec_extends(stored: &DataSourceSpec, asked: &DataSourceSpec) -> bool {
    stored == asked
        || (stored.is_schema_discovery()
            && stored.name() == asked.name()
            && stored.metrics() == asked.metrics()
            && stored.rollup() == asked.rollup()
            && stored.dimensions().starts_with(asked.dimensions()))
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

/// Opens a datasource's WAL and replays the records its catalog `offsets`
/// (the [persisted marks](persisted_marks)) do not cover into a fresh index.
fn open_datasource(
    dir: &Path,
    spec: DataSourceSpec,
    options: &IngestOptions,
    offsets: &BTreeMap<String, serde_json::Value>,
) -> Result<DataSourceIngest, IngestError> {
    let name = spec.name().to_owned();
    let wal_error = |source| IngestError::Wal {
        datasource: name.clone(),
        source,
    };
    let persisted = PersistedMarks::from_offsets(offsets);
    let mut ledger = OffsetLedger::from_offsets(offsets);
    let parser = EventParser::with_limits(&spec, options.parse_limits);
    let mut index = RealtimeIndex::new(spec.clone()).map_err(|source| IngestError::Layout {
        datasource: name.clone(),
        source,
    })?;
    let (wal, replay) = Wal::open(dir, options.wal.clone()).map_err(wal_error)?;
    let started = Instant::now();
    let (mut skipped, mut replayed) = (0u64, 0u64);
    let mut skipped_through = None;
    for record in replay {
        let record = record.map_err(wal_error)?;
        if let Some(source) = &record.kafka {
            ledger.note(record.seq.0, source);
        }
        if record.seq.0 <= persisted.through() {
            skipped_through = Some(record.seq);
            skipped += 1;
            continue;
        }
        replayed += 1;
        // A record is one accepted line (HTTP) or the accepted lines of one
        // Kafka message; they parsed when they were accepted, and the spec
        // only ever gains dimensions, so they parse again. The accepted
        // window is not checked again: it was when they were acknowledged.
        for (_, line) in ndjson_lines(&record.payload) {
            let added = parser
                .parse_line(line)
                .map_err(|error| error.to_string())
                .and_then(|event| {
                    let chunk_start = spec.segment_granularity().bucket(event.time()).start();
                    if persisted.covers(record.seq.0, chunk_start) {
                        return Ok(());
                    }
                    index
                        .add(event, record.seq.0)
                        .map(drop)
                        .map_err(|e| e.to_string())
                });
            if let Err(error) = added {
                tracing::warn!(
                    datasource = name,
                    seq = record.seq.0,
                    "skipping an event of a WAL record on replay: {error}"
                );
            }
        }
    }
    // A crash between a persist's publish and its truncation left these.
    if let Some(through) = skipped_through {
        wal.truncate_through(through).map_err(wal_error)?;
    }
    tracing::info!(
        datasource = name,
        replayed,
        skipped,
        events = index.total_events(),
        seconds = started.elapsed().as_secs_f64(),
        "replayed the WAL"
    );
    let realtime = [
        AtomicU64::new(index.total_events()),
        AtomicU64::new(index.total_rollup_rows()),
        AtomicU64::new(index.approx_bytes() as u64),
    ];
    Ok(DataSourceIngest {
        window: AcceptedWindow::new(
            &spec,
            options.late_message_rejection,
            options.early_message_rejection,
        ),
        persisting: Mutex::new(()),
        last_persist_into: Mutex::new(BTreeMap::new()),
        parser: RwLock::new(Arc::new(parser)),
        discovering: Mutex::new(()),
        wal,
        gate: RwLock::new(()),
        index: Mutex::new(index),
        kafka: Mutex::new(ledger),
        realtime,
        accepted: AtomicU64::new(0),
        rejected: AtomicU64::new(0),
        persists: AtomicU64::new(0),
        segments_published: AtomicU64::new(0),
        compactions: AtomicU64::new(0),
        open_segments: Arc::new(OpenSegments::new()),
        chunk_tables: Mutex::new(HashMap::new()),
    })
}

#[cfg(test)]
mod tests;
