//! Bulk load: history from files — Parquet, Arrow IPC, CSV, NDJSON (gzip'd or
//! zstd'd) — built straight into segments and published in one atomic
//! catalog step (DESIGN.md, "The write path", last line).
//!
//! ```text
//! paths ─ find_inputs ─ read_file (one thread) ─ pieces ─┬─ PartitionBuilder ─ partitions ─┐
//!                                                        └─ PartitionBuilder ─ partitions ─┴─ publish
//! ```
//!
//! - [`input`] finds the files and tells their format by magic bytes;
//! - `piece` reads them into blocks of NDJSON lines and Arrow
//!   record batches, only the columns the spec reads;
//! - `arrow_row` reads a record batch's row through the same parser as an
//!   NDJSON line, so every format coerces values by the same rules;
//! - `partition_builder` rolls events up in memory, within a budget, and
//!   writes unpublished segment partitions;
//! - [`report`] counts rows and keeps the first rejected ones with their
//!   place;
//! - [`task`] runs loads in a server's background, watched by id, and
//!   [`druid_task`] reads Druid's `index_parallel` task into one.
//!
//! # Replace or append
//!
//! By default a load **replaces**: every segment it writes carries one
//! version, newer than any the catalog has handed out, and the publish that
//! makes them visible retires the older segments of the time chunks they
//! cover. Loading the same files twice therefore leaves the same data, not
//! twice the data; time chunks the files do not touch keep their segments.
//! With [`LoadMode::Append`], the segments are instead added as further
//! partitions of each chunk's visible version.
//!
//! Nothing is visible before the publish, and the publish is one catalog
//! commit. A load that fails, exceeds its `max_errors`, or dies (SIGKILL,
//! power cut) publishes nothing: its segment directories are listed by no
//! catalog file, so they are removed at once when the load fails and by the
//! catalog's sweep at the next open when it dies.
//!
//! # Memory
//!
//! Each of the `threads` build threads holds its events until its share of
//! `memory_bytes` (by the real-time index's estimate of what rows hold) is
//! full, then writes them out as one partition per time chunk and starts
//! over, so inputs of any size load within the budget. Beyond it, a load
//! needs the queue of pieces between the reader and the builders (two per
//! thread: 1 MiB of NDJSON or 8,192 rows each) and the memory a segment
//! write takes while it runs (sort order, column buffers, the text index's
//! indexing heap). `docs/benchmarks.md` states the measured peak.
//!
//! # Schema discovery
//!
//! Under a discovering spec, the first row that brings a new field widens the
//! load's spec for every build thread; the catalog stores the widened spec
//! just before the publish.

mod arrow_row;
pub mod druid_task;
pub mod input;
mod partition_builder;
mod piece;
pub mod report;
pub mod task;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use strata_storage::catalog::{Catalog, CatalogError, Publish, SegmentDescriptor, Version};
use strata_storage::segment::schema::SchemaError;
use strata_storage::spec::{DataSourceSpec, Dimension};
use strata_storage::time::{Interval, Millis};

use crate::parse::{DiscoveredDimension, EventParser, ParseLimits};
use crate::persist::{PersistError, next_partition};
use crate::realtime::WidenError;

pub use arrow_row::UnreadableColumn;
pub use input::{Compression, InputError, InputFile, InputFormat, find_inputs};
pub use piece::ReadError;
pub use report::{LoadProgress, LoadReport, MAX_REPORTED_REJECTIONS, RejectedRow, RowPosition};

use partition_builder::{BuiltPartitions, PartitionBuilder};
use piece::{ColumnChoice, read_file};

/// Whether a load replaces the time chunks it covers or adds to them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LoadMode {
    /// Publish at a new version that overshadows what the chunks held.
    #[default]
    Replace,
    /// Add partitions to each chunk's visible version.
    Append,
}

impl LoadMode {
    /// `Append` when `append` (Druid's `appendToExisting`), else `Replace`.
    pub fn from_append(append: bool) -> LoadMode {
        if append {
            LoadMode::Append
        } else {
            LoadMode::Replace
        }
    }
}

/// How a load runs.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub mode: LoadMode,
    /// The budget for rows held in memory, over all build threads.
    pub memory_bytes: usize,
    /// Build threads; reading takes one more, mostly idle.
    pub threads: usize,
    /// Stop without publishing once more rows than this are rejected;
    /// `None` never stops.
    pub max_errors: Option<u64>,
    pub parse_limits: ParseLimits,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            mode: LoadMode::Replace,
            memory_bytes: 1 << 30,
            threads: std::thread::available_parallelism().map_or(2, usize::from),
            max_errors: None,
            parse_limits: ParseLimits::default(),
        }
    }
}

/// Why a load published nothing.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(
        "there is no datasource named `{name}`; create it first (POST /v1/datasources, or `strata load --spec FILE`)"
    )]
    UnknownDatasource { name: String },
    #[error(transparent)]
    Input(#[from] InputError),
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error("reading {}: {source}", file.display())]
    Column {
        file: PathBuf,
        #[source]
        source: UnreadableColumn,
    },
    #[error("datasource `{datasource}`: its spec has no valid segment layout: {source}")]
    Layout {
        datasource: String,
        #[source]
        source: SchemaError,
    },
    #[error(transparent)]
    Widen(WidenError),
    #[error(transparent)]
    Persist(#[from] PersistError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(
        "{rejected} rows were rejected, more than --max-errors {max}; nothing was published. First rejected rows:\n{}",
        first.iter().map(|row| format!("  {row}")).collect::<Vec<_>>().join("\n")
    )]
    TooManyRejected {
        max: u64,
        rejected: u64,
        first: Vec<RejectedRow>,
    },
    #[error("a build thread of the load panicked; nothing was published")]
    BuildPanicked,
}

/// Loads `inputs` into datasource `datasource` of `catalog` and publishes the
/// result; see the [module docs](self). `progress` advances as it goes.
pub fn load(
    catalog: &dyn Catalog,
    datasource: &str,
    inputs: &[InputFile],
    options: &LoadOptions,
    progress: &LoadProgress,
) -> Result<LoadReport, LoadError> {
    let started = Instant::now();
    let state = catalog
        .datasource(datasource)
        .ok_or_else(|| LoadError::UnknownDatasource {
            name: datasource.to_owned(),
        })?;
    let replace_version = match options.mode {
        LoadMode::Replace => Some(catalog.new_version()?),
        LoadMode::Append => None,
    };
    let load = LoadContext::new(
        catalog,
        state.spec.clone(),
        inputs,
        options,
        progress,
        replace_version,
    );
    let threads = options.threads.max(1);
    let budget = options.memory_bytes / threads;

    let (read, built) = std::thread::scope(|scope| {
        let (sender, receiver) = crossbeam_channel::bounded(threads * 2);
        let builders: Vec<_> = (0..threads)
            .map(|_| {
                let receiver = receiver.clone();
                let load = &load;
                scope.spawn(move || build(load, budget, receiver))
            })
            .collect();
        drop(receiver);
        let read = read_inputs(&load, sender);
        let built: Vec<_> = builders
            .into_iter()
            .map(|builder| {
                builder.join().unwrap_or_else(|_| {
                    (BuiltPartitions::default(), Some(LoadError::BuildPanicked))
                })
            })
            .collect();
        (read, built)
    });

    let mut segments = Vec::new();
    let mut events = 0;
    let mut failure = read.err();
    for (partitions, error) in built {
        segments.extend(partitions.segments);
        events += partitions.events;
        failure = failure.or(error);
    }
    let rejected = progress.rows_rejected.load(Ordering::Relaxed);
    if failure.is_none()
        && let Some(max) = options.max_errors
        && rejected > max
    {
        failure = Some(LoadError::TooManyRejected {
            max,
            rejected,
            first: load.rejections(),
        });
    }
    let published = match failure {
        Some(error) => Err(error),
        None => load.publish(&segments),
    };
    let replaced = match published {
        Ok(replaced) => replaced,
        Err(error) => {
            remove_unpublished(catalog, &segments);
            return Err(error);
        }
    };

    segments.sort_by(|a, b| a.id.cmp(&b.id));
    let mut versions: Vec<Version> = segments
        .iter()
        .map(|segment| segment.id.version())
        .collect();
    versions.sort();
    versions.dedup();
    Ok(LoadReport {
        datasource: datasource.to_owned(),
        files: inputs.len(),
        bytes: inputs.iter().map(|input| input.bytes).sum(),
        rows_read: progress.rows_read.load(Ordering::Relaxed),
        rows_rejected: rejected,
        rejections: load.rejections(),
        events,
        rows_after_rollup: segments.iter().map(|segment| segment.rows).sum(),
        segments,
        versions,
        replaced,
        elapsed: started.elapsed(),
    })
}

/// One build thread: takes pieces until the queue closes or the load stops.
fn build(
    load: &LoadContext<'_>,
    budget: usize,
    pieces: crossbeam_channel::Receiver<piece::Piece>,
) -> (BuiltPartitions, Option<LoadError>) {
    let mut builder = match PartitionBuilder::new(load, budget) {
        Ok(builder) => builder,
        Err(error) => {
            load.stop();
            return (BuiltPartitions::default(), Some(error));
        }
    };
    let mut failure = None;
    for piece in pieces {
        if load.is_stopped() {
            break;
        }
        if let Err(error) = builder.take(piece) {
            failure = Some(error);
            break;
        }
    }
    if failure.is_none() && !load.is_stopped() {
        failure = builder.finish().err();
    }
    if failure.is_some() {
        load.stop();
    }
    (builder.into_partitions(), failure)
}

/// Reads every input in order into the queue; stops early when the load does.
fn read_inputs(
    load: &LoadContext<'_>,
    sender: crossbeam_channel::Sender<piece::Piece>,
) -> Result<(), LoadError> {
    let mut send = |piece| !load.is_stopped() && sender.send(piece).is_ok();
    for (index, input) in load.inputs.iter().enumerate() {
        let read = read_file(
            index,
            input,
            load.columns(),
            load.progress,
            &mut send,
            load.options.parse_limits.max_line_bytes,
        );
        if let Err(error) = read {
            load.stop();
            return Err(error.into());
        }
        if load.is_stopped() {
            break;
        }
    }
    Ok(())
}

/// Deletes the files of segments a failed load wrote; what this misses, the
/// catalog's sweep at its next open removes.
fn remove_unpublished(catalog: &dyn Catalog, segments: &[SegmentDescriptor]) {
    for segment in segments {
        let dir = catalog.segment_dir(&segment.id);
        if let Err(error) = std::fs::remove_dir_all(&dir) {
            tracing::warn!(dir = %dir.display(), "removing a segment of a failed load: {error}");
        }
    }
}

/// What the threads of one load share.
pub(crate) struct LoadContext<'c> {
    catalog: &'c dyn Catalog,
    inputs: &'c [InputFile],
    options: &'c LoadOptions,
    progress: &'c LoadProgress,
    columns: ColumnChoice,
    /// The spec rows are read by, widened by schema discovery.
    schema: Mutex<LoadSchema>,
    generation: AtomicU64,
    discovered: AtomicBool,
    replace_version: Option<Version>,
    /// Per time chunk: its version and the next partition to hand out.
    partitions: Mutex<BTreeMap<(Millis, Millis), (Version, u32)>>,
    rejections: Mutex<Vec<RejectedRow>>,
    stopped: AtomicBool,
}

struct LoadSchema {
    spec: DataSourceSpec,
    parser: Arc<EventParser>,
    generation: u64,
}

impl<'c> LoadContext<'c> {
    fn new(
        catalog: &'c dyn Catalog,
        spec: DataSourceSpec,
        inputs: &'c [InputFile],
        options: &'c LoadOptions,
        progress: &'c LoadProgress,
        replace_version: Option<Version>,
    ) -> Self {
        let parser = Arc::new(EventParser::with_limits(&spec, options.parse_limits));
        LoadContext {
            catalog,
            inputs,
            options,
            progress,
            columns: ColumnChoice::for_spec(&spec),
            schema: Mutex::new(LoadSchema {
                spec,
                parser,
                generation: 0,
            }),
            generation: AtomicU64::new(0),
            discovered: AtomicBool::new(false),
            replace_version,
            partitions: Mutex::new(BTreeMap::new()),
            rejections: Mutex::new(Vec::new()),
            stopped: AtomicBool::new(false),
        }
    }

    fn columns(&self) -> &ColumnChoice {
        &self.columns
    }

    fn schema(&self) -> (DataSourceSpec, Arc<EventParser>, u64) {
        let schema = self.schema.lock().unwrap_or_else(PoisonError::into_inner);
        (
            schema.spec.clone(),
            schema.parser.clone(),
            schema.generation,
        )
    }

    fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Widens the load's spec with the dimensions `found` it lacks.
    fn discover(&self, found: &[DiscoveredDimension]) -> Result<(), String> {
        let mut schema = self.schema.lock().unwrap_or_else(PoisonError::into_inner);
        let mut added: Vec<Dimension> = Vec::new();
        for dimension in found {
            let known = schema.spec.dimension(&dimension.name).is_some()
                || added.iter().any(|a| a.name() == dimension.name);
            if !known {
                added.push(dimension.to_dimension());
            }
        }
        if added.is_empty() {
            return Ok(());
        }
        let spec = schema
            .spec
            .with_discovered_dimensions(added)
            .map_err(|error| format!("its new fields cannot become dimensions: {error}"))?;
        schema.parser = Arc::new(EventParser::with_limits(&spec, self.options.parse_limits));
        schema.spec = spec;
        schema.generation += 1;
        self.generation.store(schema.generation, Ordering::Release);
        self.discovered.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// The version and partition for the next segment of `interval`.
    fn next_partition(
        &self,
        spec: &DataSourceSpec,
        interval: Interval,
    ) -> Result<(Version, u32), LoadError> {
        let mut partitions = self
            .partitions
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let key = (interval.start(), interval.end());
        let next = match partitions.get(&key) {
            Some(&next) => next,
            None => match self.replace_version {
                Some(version) => (version, 0),
                None => next_partition(self.catalog, spec, interval).map_err(|problem| {
                    PersistError {
                        datasource: spec.name().to_owned(),
                        interval,
                        problem,
                    }
                })?,
            },
        };
        partitions.insert(key, (next.0, next.1.saturating_add(1)));
        Ok(next)
    }

    fn reject(&self, row: RejectedRow) {
        let rejected = self.progress.rows_rejected.fetch_add(1, Ordering::Relaxed) + 1;
        {
            let mut rejections = self
                .rejections
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if rejections.len() < MAX_REPORTED_REJECTIONS {
                rejections.push(row);
            }
        }
        if self.options.max_errors.is_some_and(|max| rejected > max) {
            self.stop();
        }
    }

    /// The first rejected rows, by file and place.
    fn rejections(&self) -> Vec<RejectedRow> {
        let mut rows = self
            .rejections
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        rows.sort_by(|a, b| (&a.file, &a.position).cmp(&(&b.file, &b.position)));
        rows
    }

    fn stop(&self) {
        self.stopped.store(true, Ordering::Relaxed);
    }

    fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::Relaxed)
    }

    /// Stores a widened spec, then publishes `segments` in one commit;
    /// returns how many visible segments they retired.
    fn publish(&self, segments: &[SegmentDescriptor]) -> Result<usize, LoadError> {
        let (spec, _, _) = self.schema();
        if self.discovered.load(Ordering::Relaxed) {
            self.catalog.update_spec(spec.name(), spec.clone())?;
        }
        if segments.is_empty() {
            return Ok(0);
        }
        let outcome = self
            .catalog
            .publish(spec.name(), Publish::segments(segments.to_vec()))?;
        Ok(outcome.retired.len())
    }
}

#[cfg(test)]
mod tests;
