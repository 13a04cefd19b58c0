//! The real-time index: one datasource's acknowledged events, held in memory
//! by time chunk until they are persisted into segments.
//!
//! An event that reaches the index is already in the write-ahead log (DESIGN.md,
//! "The write path"); the index makes it queryable at once and shapes it the
//! way its segment will be, so that [`persist`](crate::persist) only has to sort
//! and write. Queries read a chunk through the query crate's table interface:
//! [`chunk_tables`](crate::persist::chunk_tables) builds, in memory, the very
//! tables its segment will hold, and
//! [`IngestService::read_view`](crate::service::IngestService::read_view)
//! hands them out together with the published segments. Each event goes to the [`TimeChunk`] of its segment-granularity
//! bucket, and within it to the tables the spec's
//! [`SegmentLayout`] asks for:
//!
//! - the **events rows**: the event as parsed ([`EventRow`]), one row each;
//! - the **rollup map**: a [`RollupKey`] — the time truncated by the query
//!   granularity plus the values of the rollup dimensions — to the
//!   [`RollupRow`] of metric states every event of that key was added into.
//!
//! ```text
//! event 2024-01-01T12:00:07 {host: a, bytes: 10} ─┐   chunk 2024-01-01/2024-01-02
//! event 2024-01-01T12:00:31 {host: a, bytes: 5}  ─┼─>   events: 3 rows
//! event 2024-01-01T12:00:52 {host: a, bytes: 2}  ─┘     rollup: (12:00, a) → count 3, bytes 17
//! event 2024-01-02T08:15:00 {host: b, bytes: 1}  ───> chunk 2024-01-02/2024-01-03 ...
//! ```
//!
//! Each chunk also keeps its [`ChunkStats`]: the rows it holds, an estimate of
//! its memory (which decides when to persist), the WAL sequence numbers it
//! covers (which decide how far the WAL may be truncated once it is persisted),
//! the event times it saw and when it opened.
//!
//! # Freezing: persisting without stopping ingest
//!
//! Writing a segment takes a while, and events keep arriving. A persist
//! therefore first [freezes](RealtimeIndex::freeze) the chunks it will write:
//! a frozen chunk ([`FrozenChunk`]) takes no more events — the next event of
//! its interval opens a new chunk, which becomes the interval's next
//! partition — but it stays in the index, counted and readable, until its
//! segment is published and the persist [releases](RealtimeIndex::release) it.
//! A persist that fails releases nothing; the next one writes its chunks
//! again. So every acknowledged event is, at every moment, in exactly one
//! place a reader looks: an open chunk, a frozen chunk, or a published segment.
//!
//! # Versions: what a reader may keep
//!
//! Every change to a chunk's rows gives it a new [version](TimeChunk::version),
//! unique in the process, so a reader may keep what it built from a chunk (the
//! tables a query reads, their full-text index) for as long as the chunk's
//! version is the same, and must build it again once it is not: the next
//! query after an event arrives sees that event, and queries between two
//! events reuse one build.
//!
//! Rows are kept unsorted: events in arrival order, rollup rows in a hash map.
//! Sorting once at persist time is cheaper than keeping every insert in order,
//! and a query over a chunk reads all its rows anyway.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use strata_storage::segment::schema::SchemaError;
use strata_storage::spec::DataSourceSpec;
use strata_storage::time::{Interval, Millis};

use crate::aggregate::{self, Aggregators, IgnoredInput, InputCountMismatch, RollupRow};
use crate::parse::{self, DimensionValue, ParsedEvent};
use crate::table_layout::{ColumnSource, SegmentLayout};

impl parse::MetricInput {
    /// The input as the aggregators read it, borrowing its string.
    pub fn as_input(&self) -> aggregate::MetricInput<'_> {
        match self {
            parse::MetricInput::Null => aggregate::MetricInput::Null,
            parse::MetricInput::Long(value) => aggregate::MetricInput::Long(*value),
            parse::MetricInput::Double(value) => aggregate::MetricInput::Double(*value),
            parse::MetricInput::String(value) => aggregate::MetricInput::Str(value),
        }
    }
}

/// One event as the events table will store it.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRow {
    /// The event time, untruncated.
    pub time: Millis,
    /// One value per dimension of the spec, in spec order.
    pub dimensions: Vec<DimensionValue>,
    /// One input per metric of the spec, in spec order.
    pub metric_inputs: Vec<parse::MetricInput>,
}

/// The key of one rolled-up row.
///
/// Ordered as the rollup table stores its rows: by time, then by each
/// dimension value in turn (see [`compare_dimension_values`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RollupKey {
    /// The event time truncated by the spec's query granularity.
    pub time: Millis,
    /// The values of the dimensions that take part in rollup, in the order of
    /// the rollup table's columns ([`RealtimeIndex::rollup_dimensions`]).
    pub dimensions: Vec<DimensionValue>,
}

impl Ord for RollupKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.time.cmp(&other.time).then_with(|| {
            self.dimensions
                .iter()
                .zip(&other.dimensions)
                .map(|(a, b)| compare_dimension_values(a, b))
                .find(|order| order.is_ne())
                .unwrap_or_else(|| self.dimensions.len().cmp(&other.dimensions.len()))
        })
    }
}

impl PartialOrd for RollupKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// The order of dimension values in a sorted table: null first, then longs,
/// doubles and strings, each by value; a multi-value row sorts as its list of
/// values, so `["a", "b"]` comes between `"a"` and `"b"`.
///
/// It agrees with the values' equality: doubles compare by
/// [`f64::total_cmp`], which is equal exactly when the bits are. (A column
/// holds one type, so the order between types only has to be total.)
pub fn compare_dimension_values(a: &DimensionValue, b: &DimensionValue) -> std::cmp::Ordering {
    use DimensionValue::{Double, Long, Null, String, Strings};
    fn rank(value: &DimensionValue) -> u8 {
        match value {
            Null => 0,
            Long(_) => 1,
            Double(_) => 2,
            String(_) | Strings(_) => 3,
        }
    }
    match (a, b) {
        (Long(x), Long(y)) => x.cmp(y),
        (Double(x), Double(y)) => x.total_cmp(y),
        (String(x), String(y)) => x.cmp(y),
        (String(x), Strings(ys)) => std::slice::from_ref(x).iter().cmp(ys.iter()),
        (Strings(xs), String(y)) => xs.iter().cmp(std::slice::from_ref(y).iter()),
        (Strings(xs), Strings(ys)) => xs.cmp(ys),
        _ => rank(a).cmp(&rank(b)),
    }
}

/// What a chunk holds and covers. A chunk exists only once an event reached
/// it, so every range is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkStats {
    /// Events added to the chunk (the events table's rows, when it has one).
    pub events: u64,
    /// Distinct rollup keys (the rollup table's rows; 0 without one).
    pub rollup_rows: u64,
    /// An estimate of the memory the chunk's rows hold.
    pub approx_bytes: usize,
    /// The smallest and largest WAL sequence numbers of its events.
    pub min_seq: u64,
    pub max_seq: u64,
    /// The earliest and latest event times, untruncated.
    pub min_time: Millis,
    pub max_time: Millis,
    /// When the chunk took its first event, by the wall clock.
    pub opened_at: Millis,
}

impl ChunkStats {
    fn first(seq: u64, time: Millis) -> Self {
        ChunkStats {
            events: 0,
            rollup_rows: 0,
            approx_bytes: 0,
            min_seq: seq,
            max_seq: seq,
            min_time: time,
            max_time: time,
            opened_at: wall_clock_now(),
        }
    }

    fn note(&mut self, seq: u64, time: Millis) {
        self.events += 1;
        self.min_seq = self.min_seq.min(seq);
        self.max_seq = self.max_seq.max(seq);
        self.min_time = self.min_time.min(time);
        self.max_time = self.max_time.max(time);
    }
}

/// The rows of one segment-granularity bucket, not yet persisted.
#[derive(Debug, Clone)]
pub struct TimeChunk {
    interval: Interval,
    events: Vec<EventRow>,
    rollup: foldhash::HashMap<RollupKey, RollupRow>,
    stats: ChunkStats,
    version: u64,
}

/// The last version given to a chunk; see [versions](self#versions-what-a-reader-may-keep).
/// One counter for the process, so that two indexes (a datasource's index
/// before and after a restart of its service, say) never give one version
/// to two contents.
static LAST_VERSION: AtomicU64 = AtomicU64::new(0);

fn next_version() -> u64 {
    LAST_VERSION.fetch_add(1, Ordering::Relaxed) + 1
}

impl TimeChunk {
    /// A chunk of rows that did not come through the WAL — rows read back
    /// from segments to be rewritten (compaction). Its WAL range is `0..=0`.
    pub fn from_rows(
        interval: Interval,
        events: Vec<EventRow>,
        rollup: foldhash::HashMap<RollupKey, RollupRow>,
    ) -> TimeChunk {
        let times = events
            .iter()
            .map(|row| row.time)
            .chain(rollup.keys().map(|key| key.time));
        let (min_time, max_time) = times.fold((interval.end(), interval.start()), |(lo, hi), t| {
            (lo.min(t), hi.max(t))
        });
        let approx_bytes = events.iter().map(event_row_bytes).sum::<usize>()
            + rollup
                .iter()
                .map(|(key, row)| rollup_key_bytes(key) + row.approx_bytes())
                .sum::<usize>();
        let stats = ChunkStats {
            events: events.len() as u64,
            rollup_rows: rollup.len() as u64,
            approx_bytes,
            min_seq: 0,
            max_seq: 0,
            min_time,
            max_time,
            opened_at: wall_clock_now(),
        };
        TimeChunk {
            interval,
            events,
            rollup,
            stats,
            version: next_version(),
        }
    }

    /// The segment-granularity bucket the chunk covers: its segment's interval.
    pub fn interval(&self) -> Interval {
        self.interval
    }

    /// The events rows in arrival order; empty when the layout has no events
    /// table.
    pub fn events(&self) -> &[EventRow] {
        &self.events
    }

    /// The rolled-up rows, in no particular order; empty when the layout has
    /// no rollup table.
    pub fn rollup(&self) -> impl ExactSizeIterator<Item = (&RollupKey, &RollupRow)> {
        self.rollup.iter()
    }

    pub fn stats(&self) -> &ChunkStats {
        &self.stats
    }

    /// Changes whenever the chunk's rows do; see
    /// [versions](self#versions-what-a-reader-may-keep).
    pub fn version(&self) -> u64 {
        self.version
    }
}

/// A chunk set aside for a persist; see [freezing](self#freezing-persisting-without-stopping-ingest).
///
/// Cloning it is cheap: the rows are shared.
#[derive(Debug, Clone)]
pub struct FrozenChunk {
    id: u64,
    chunk: Arc<TimeChunk>,
    spec: Arc<DataSourceSpec>,
}

impl FrozenChunk {
    /// Names this frozen chunk in [`RealtimeIndex::release`].
    pub fn id(&self) -> u64 {
        self.id
    }

    pub fn chunk(&self) -> &TimeChunk {
        &self.chunk
    }

    /// The spec the chunk's rows were shaped by, which is the one to write
    /// them with: schema discovery may widen the index's spec later.
    pub fn spec(&self) -> &DataSourceSpec {
        &self.spec
    }
}

/// An event whose shape does not match the spec the index was built for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddError {
    #[error(
        "the event has {found} dimension values but datasource `{datasource}` has {expected} dimensions; parse events with the datasource's current spec (and widen the index when schema discovery adds dimensions)"
    )]
    DimensionCount {
        datasource: String,
        expected: usize,
        found: usize,
    },
    #[error("datasource `{datasource}`: {source}")]
    MetricCount {
        datasource: String,
        #[source]
        source: InputCountMismatch,
    },
}

/// A spec the index cannot be widened to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WidenError {
    #[error(
        "datasource `{datasource}`: the new spec must keep the dimensions and metrics of the old one, in order, and only add dimensions after them"
    )]
    NotAnExtension { datasource: String },
    #[error("datasource `{datasource}`: the widened spec has no valid segment layout: {source}")]
    Layout {
        datasource: String,
        #[source]
        source: SchemaError,
    },
}

/// A datasource's in-memory rows, by time chunk. See the [module docs](self).
#[derive(Debug, Clone)]
pub struct RealtimeIndex {
    spec: DataSourceSpec,
    aggregators: Aggregators,
    keeps_events: bool,
    /// Spec positions of the rollup table's dimensions; `None` without one.
    rollup_dimensions: Option<Vec<usize>>,
    chunks: BTreeMap<Millis, TimeChunk>,
    frozen: Vec<FrozenChunk>,
    next_frozen_id: u64,
    total_events: u64,
    total_rollup_rows: u64,
    total_bytes: usize,
}

impl RealtimeIndex {
    /// An empty index for `spec`.
    pub fn new(spec: DataSourceSpec) -> Result<Self, SchemaError> {
        let (keeps_events, rollup_dimensions) = table_shape(&spec)?;
        Ok(RealtimeIndex {
            aggregators: Aggregators::new(spec.metrics()),
            keeps_events,
            rollup_dimensions,
            spec,
            chunks: BTreeMap::new(),
            frozen: Vec::new(),
            next_frozen_id: 0,
            total_events: 0,
            total_rollup_rows: 0,
            total_bytes: 0,
        })
    }

    pub fn spec(&self) -> &DataSourceSpec {
        &self.spec
    }

    /// Moves the index to `spec`, which schema discovery made by adding
    /// dimensions after the old ones: every open row reads them as null.
    /// Frozen chunks keep the spec they were built for. On error nothing
    /// changed.
    pub fn widen(&mut self, spec: DataSourceSpec) -> Result<(), WidenError> {
        let old = &self.spec;
        let extends = spec.name() == old.name()
            && spec.metrics() == old.metrics()
            && spec.rollup() == old.rollup()
            && spec.dimensions().starts_with(old.dimensions());
        if !extends {
            return Err(WidenError::NotAnExtension {
                datasource: old.name().to_owned(),
            });
        }
        let (keeps_events, rollup_dimensions) =
            table_shape(&spec).map_err(|source| WidenError::Layout {
                datasource: old.name().to_owned(),
                source,
            })?;
        let old_rollup = self.rollup_dimensions.as_ref().map_or(0, Vec::len);
        let added = spec.dimensions().len() - old.dimensions().len();
        let added_to_keys = rollup_dimensions.as_ref().map_or(0, Vec::len) - old_rollup;
        if keeps_events != self.keeps_events
            || rollup_dimensions.as_ref().map(|d| &d[..old_rollup])
                != self.rollup_dimensions.as_deref()
        {
            return Err(WidenError::NotAnExtension {
                datasource: old.name().to_owned(),
            });
        }
        let null_bytes = size_of::<DimensionValue>();
        for chunk in self.chunks.values_mut() {
            for row in &mut chunk.events {
                row.dimensions
                    .resize(row.dimensions.len() + added, DimensionValue::Null);
            }
            if added_to_keys > 0 {
                chunk.rollup = std::mem::take(&mut chunk.rollup)
                    .into_iter()
                    .map(|(mut key, row)| {
                        let width = key.dimensions.len() + added_to_keys;
                        key.dimensions.resize(width, DimensionValue::Null);
                        (key, row)
                    })
                    .collect();
            }
            let grown =
                null_bytes * (chunk.events.len() * added + chunk.rollup.len() * added_to_keys);
            chunk.stats.approx_bytes += grown;
            self.total_bytes += grown;
            chunk.version = next_version();
        }
        self.keeps_events = keeps_events;
        self.rollup_dimensions = rollup_dimensions;
        self.spec = spec;
        Ok(())
    }

    /// Spec positions of the dimensions in a [`RollupKey`], in key order;
    /// `None` when the spec has no rollup table.
    pub fn rollup_dimensions(&self) -> Option<&[usize]> {
        self.rollup_dimensions.as_deref()
    }

    /// Adds one event, read from the WAL entry numbered `seq`.
    ///
    /// Returns the metrics that left the event's value out (see
    /// [`aggregate::input`]); the event itself is kept and counts in every
    /// other metric. On error nothing was added.
    pub fn add(&mut self, event: ParsedEvent, seq: u64) -> Result<Vec<IgnoredInput>, AddError> {
        let (time, mut dimensions, metric_inputs) = event.into_parts();
        // An event parsed before the index was widened lacks the new
        // dimensions: it had no such fields, or it would have discovered them.
        if dimensions.len() < self.spec.dimensions().len() {
            dimensions.resize(self.spec.dimensions().len(), DimensionValue::Null);
        }
        if dimensions.len() != self.spec.dimensions().len() {
            return Err(AddError::DimensionCount {
                datasource: self.spec.name().to_owned(),
                expected: self.spec.dimensions().len(),
                found: dimensions.len(),
            });
        }
        let inputs: Vec<aggregate::MetricInput<'_>> = metric_inputs
            .iter()
            .map(parse::MetricInput::as_input)
            .collect();
        if inputs.len() != self.aggregators.metrics().len() {
            return Err(AddError::MetricCount {
                datasource: self.spec.name().to_owned(),
                source: InputCountMismatch {
                    expected: self.aggregators.metrics().len(),
                    found: inputs.len(),
                },
            });
        }

        let interval = self.spec.segment_granularity().bucket(time);
        let chunk = self
            .chunks
            .entry(interval.start())
            .or_insert_with(|| TimeChunk {
                interval,
                events: Vec::new(),
                rollup: foldhash::HashMap::default(),
                stats: ChunkStats::first(seq, time),
                version: 0,
            });
        chunk.version = next_version();
        let bytes_before = chunk.stats.approx_bytes;
        let rows_before = chunk.stats.rollup_rows;

        let ignored = match &self.rollup_dimensions {
            Some(positions) => {
                let key_values = positions
                    .iter()
                    .filter_map(|&i| {
                        let value = dimensions.get_mut(i)?;
                        Some(if self.keeps_events {
                            value.clone()
                        } else {
                            std::mem::replace(value, DimensionValue::Null)
                        })
                    })
                    .collect();
                let key = RollupKey {
                    time: self.spec.query_granularity().truncate(time),
                    dimensions: key_values,
                };
                let row = match chunk.rollup.entry(key) {
                    std::collections::hash_map::Entry::Occupied(entry) => entry.into_mut(),
                    std::collections::hash_map::Entry::Vacant(entry) => {
                        chunk.stats.approx_bytes += rollup_key_bytes(entry.key());
                        chunk.stats.rollup_rows += 1;
                        let row = entry.insert(self.aggregators.new_row());
                        chunk.stats.approx_bytes += row.approx_bytes();
                        row
                    }
                };
                let row_bytes = row.approx_bytes();
                let ignored = row
                    .add(&inputs, time)
                    .map_err(|source| AddError::MetricCount {
                        datasource: self.spec.name().to_owned(),
                        source,
                    })?;
                // Sketches grow as they take values; a row never shrinks.
                chunk.stats.approx_bytes += row.approx_bytes().saturating_sub(row_bytes);
                ignored
            }
            None => raw_input_problems(&self.aggregators, &inputs),
        };
        drop(inputs);

        if self.keeps_events {
            let row = EventRow {
                time,
                dimensions,
                metric_inputs,
            };
            chunk.stats.approx_bytes += event_row_bytes(&row);
            chunk.events.push(row);
        }
        chunk.stats.note(seq, time);

        self.total_events += 1;
        self.total_rollup_rows += chunk.stats.rollup_rows - rows_before;
        self.total_bytes += chunk.stats.approx_bytes - bytes_before;
        Ok(ignored)
    }

    /// The open chunks (those taking events), by start time.
    pub fn chunks(&self) -> impl Iterator<Item = &TimeChunk> {
        self.chunks.values()
    }

    /// The open chunk starting at `start`, if there is one.
    pub fn chunk(&self, start: Millis) -> Option<&TimeChunk> {
        self.chunks.get(&start)
    }

    /// Removes the open chunk starting at `start` from the index.
    pub fn take_chunk(&mut self, start: Millis) -> Option<TimeChunk> {
        let chunk = self.chunks.remove(&start)?;
        self.forget(chunk.stats());
        Some(chunk)
    }

    /// Freezes every open chunk `which` picks, and returns how many it froze.
    /// See [freezing](self#freezing-persisting-without-stopping-ingest).
    pub fn freeze(&mut self, mut which: impl FnMut(&TimeChunk) -> bool) -> usize {
        let starts: Vec<Millis> = self
            .chunks
            .values()
            .filter(|chunk| which(chunk))
            .map(|chunk| chunk.interval.start())
            .collect();
        let spec = Arc::new(self.spec.clone());
        for start in &starts {
            if let Some(chunk) = self.chunks.remove(start) {
                self.frozen.push(FrozenChunk {
                    id: self.next_frozen_id,
                    chunk: Arc::new(chunk),
                    spec: spec.clone(),
                });
                self.next_frozen_id += 1;
            }
        }
        starts.len()
    }

    /// The frozen chunks, oldest freeze first: those a persist is writing,
    /// and those a failed persist left.
    pub fn frozen(&self) -> &[FrozenChunk] {
        &self.frozen
    }

    /// Drops the frozen chunks of `ids` once their segments are published.
    pub fn release(&mut self, ids: &[u64]) {
        let (released, kept) = std::mem::take(&mut self.frozen)
            .into_iter()
            .partition(|frozen| ids.contains(&frozen.id));
        self.frozen = kept;
        for frozen in released {
            self.forget(frozen.chunk.stats());
        }
    }

    /// The smallest WAL sequence number an open chunk holds.
    pub fn min_open_seq(&self) -> Option<u64> {
        self.chunks.values().map(|chunk| chunk.stats.min_seq).min()
    }

    fn forget(&mut self, stats: &ChunkStats) {
        self.total_events -= stats.events;
        self.total_rollup_rows -= stats.rollup_rows;
        self.total_bytes -= stats.approx_bytes;
    }

    /// Events held, over all chunks.
    pub fn total_events(&self) -> u64 {
        self.total_events
    }

    /// Rolled-up rows held, over all chunks.
    pub fn total_rollup_rows(&self) -> u64 {
        self.total_rollup_rows
    }

    /// The memory estimate, over all chunks.
    pub fn approx_bytes(&self) -> usize {
        self.total_bytes
    }
}

/// Whether `spec`'s segments keep an events table, and the spec positions of
/// its rollup table's dimensions (`None` without a rollup table).
fn table_shape(spec: &DataSourceSpec) -> Result<(bool, Option<Vec<usize>>), SchemaError> {
    let layout = SegmentLayout::for_spec(spec)?;
    let rollup_dimensions = layout.rollup.map(|table| {
        table
            .sources
            .iter()
            .filter_map(|source| match source {
                ColumnSource::Dimension(i) => Some(*i),
                _ => None,
            })
            .collect()
    });
    Ok((layout.events.is_some(), rollup_dimensions))
}

/// Without a rollup table the aggregators never see the inputs, so the
/// problems they would report are found here: the events table stores those
/// inputs as null, and the sender must hear about it.
fn raw_input_problems(
    aggregators: &Aggregators,
    inputs: &[aggregate::MetricInput<'_>],
) -> Vec<IgnoredInput> {
    let mut text = String::new();
    aggregators
        .metrics()
        .iter()
        .zip(inputs)
        .enumerate()
        .filter_map(|(metric_index, (metric, input))| {
            aggregate::raw_input_cell(metric.aggregator(), *input, &mut text)
                .err()
                .map(|problem| IgnoredInput {
                    metric_index,
                    problem,
                })
        })
        .collect()
}

/// Now, in epoch milliseconds; 0 on a clock set before 1970.
pub fn wall_clock_now() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as Millis)
}

fn event_row_bytes(row: &EventRow) -> usize {
    size_of::<EventRow>()
        + row.dimensions.iter().map(value_bytes).sum::<usize>()
        + row.metric_inputs.iter().map(input_bytes).sum::<usize>()
}

fn rollup_key_bytes(key: &RollupKey) -> usize {
    size_of::<RollupKey>() + key.dimensions.iter().map(value_bytes).sum::<usize>()
}

fn value_bytes(value: &DimensionValue) -> usize {
    size_of::<DimensionValue>()
        + match value {
            DimensionValue::Null | DimensionValue::Long(_) | DimensionValue::Double(_) => 0,
            DimensionValue::String(text) => text.capacity(),
            DimensionValue::Strings(values) => {
                values.capacity() * size_of::<String>()
                    + values.iter().map(String::capacity).sum::<usize>()
            }
        }
}

fn input_bytes(input: &parse::MetricInput) -> usize {
    size_of::<parse::MetricInput>()
        + match input {
            parse::MetricInput::String(text) => text.capacity(),
            _ => 0,
        }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::parse::EventParser;

    const DAY: i64 = 86_400_000;
    const JAN_1: i64 = 1_704_067_200_000;

    fn spec(rollup: bool, extra_dimension: &str) -> DataSourceSpec {
        DataSourceSpec::from_json(&format!(
            r#"{{"dataSource": "web",
              "timestampSpec": {{"column": "ts", "format": "millis"}},
              "dimensionsSpec": {{"dimensions": ["host"{extra_dimension}]}},
              "metricsSpec": [{{"type": "count", "name": "count"}},
                {{"type": "longSum", "name": "bytes", "fieldName": "bytes"}}],
              "granularitySpec": {{"segmentGranularity": "hour", "queryGranularity": "minute", "rollup": {rollup}}}}}"#
        ))
        .unwrap()
    }

    fn event(spec: &DataSourceSpec, line: &str) -> ParsedEvent {
        EventParser::new(spec).parse_line(line.as_bytes()).unwrap()
    }

    #[test]
    fn events_land_in_their_chunk_and_roll_up_by_minute() {
        let spec = spec(true, "");
        let mut index = RealtimeIndex::new(spec.clone()).unwrap();
        let lines = [
            (
                9,
                format!(r#"{{"ts": {}, "host": "a", "bytes": 10}}"#, JAN_1 + 7_000),
            ),
            (
                4,
                format!(r#"{{"ts": {}, "host": "a", "bytes": 5}}"#, JAN_1 + 31_000),
            ),
            (
                12,
                format!(r#"{{"ts": {}, "host": "b", "bytes": 1}}"#, JAN_1 + 52_000),
            ),
            (
                13,
                format!(
                    r#"{{"ts": {}, "host": "a", "bytes": 2}}"#,
                    JAN_1 + 3_600_000
                ),
            ),
        ];
        for (seq, line) in &lines {
            assert!(index.add(event(&spec, line), *seq).unwrap().is_empty());
        }
        assert_eq!(index.chunks().count(), 2);
        assert_eq!(index.total_events(), 4);
        assert_eq!(index.total_rollup_rows(), 3);

        let first = index.chunk(JAN_1).unwrap();
        assert_eq!(
            first.interval(),
            Interval::new(JAN_1, JAN_1 + 3_600_000).unwrap()
        );
        assert!(first.events().is_empty(), "every dimension rolls up");
        let stats = first.stats();
        assert_eq!((stats.events, stats.rollup_rows), (3, 2));
        assert_eq!((stats.min_seq, stats.max_seq), (4, 12));
        assert_eq!(
            (stats.min_time, stats.max_time),
            (JAN_1 + 7_000, JAN_1 + 52_000)
        );
        assert!(stats.approx_bytes > 0);
        let key_a = RollupKey {
            time: JAN_1,
            dimensions: vec![DimensionValue::String("a".into())],
        };
        let (_, row_a) = first.rollup().find(|(key, _)| **key == key_a).unwrap();
        assert_eq!(
            row_a.states()[1].view(),
            aggregate::StateView::Long(Some(15))
        );

        let bytes_before = index.approx_bytes();
        let taken = index.take_chunk(JAN_1).unwrap();
        assert_eq!(index.total_events(), 1);
        assert_eq!(index.total_rollup_rows(), 1);
        assert_eq!(
            index.approx_bytes(),
            bytes_before - taken.stats().approx_bytes
        );
        assert!(index.take_chunk(JAN_1).is_none());
    }

    #[test]
    fn a_dimension_outside_rollup_keeps_every_event() {
        let spec = spec(
            true,
            r#", {"type": "string", "name": "user", "rollup": false}"#,
        );
        let mut index = RealtimeIndex::new(spec.clone()).unwrap();
        for user in ["u1", "u2"] {
            let line = format!(r#"{{"ts": {JAN_1}, "host": "a", "user": "{user}"}}"#);
            index.add(event(&spec, &line), 1).unwrap();
        }
        let chunk = index.chunk(JAN_1).unwrap();
        assert_eq!(chunk.events().len(), 2);
        assert_eq!(
            chunk.events()[1].dimensions[1],
            DimensionValue::String("u2".into())
        );
        assert_eq!(chunk.stats().rollup_rows, 1);
        assert_eq!(index.rollup_dimensions(), Some(&[0][..]));
    }

    #[test]
    fn rollup_off_keeps_events_only() {
        let spec = spec(false, "");
        let mut index = RealtimeIndex::new(spec.clone()).unwrap();
        let line = format!(r#"{{"ts": {}, "host": "a", "bytes": 3}}"#, JAN_1 + 2 * DAY);
        index.add(event(&spec, &line), 0).unwrap();
        let chunk = index.chunks().next().unwrap();
        assert_eq!(chunk.rollup().len(), 0);
        assert_eq!(
            chunk.events()[0].metric_inputs[1],
            parse::MetricInput::Long(3)
        );
        assert_eq!(index.rollup_dimensions(), None);
    }

    #[test]
    fn an_event_of_another_spec_is_refused_and_changes_nothing() {
        let spec = spec(true, "");
        let wider = self::spec(true, r#", "region""#);
        let mut index = RealtimeIndex::new(spec).unwrap();
        let line = format!(r#"{{"ts": {JAN_1}, "host": "a"}}"#);
        let error = index.add(event(&wider, &line), 0).unwrap_err();
        assert!(matches!(
            error,
            AddError::DimensionCount {
                expected: 1,
                found: 2,
                ..
            }
        ));
        assert_eq!(index.chunks().count(), 0);
        assert_eq!(index.approx_bytes(), 0);
    }

    #[test]
    fn widening_reads_new_dimensions_as_null_and_pads_older_events() {
        let narrow = spec(true, "");
        let wide = spec(true, r#", "region""#);
        let mut index = RealtimeIndex::new(narrow.clone()).unwrap();
        let line = format!(r#"{{"ts": {JAN_1}, "host": "a", "bytes": 1}}"#);
        index.add(event(&narrow, &line), 1).unwrap();
        let bytes = index.approx_bytes();

        index.widen(wide.clone()).unwrap();
        assert!(index.approx_bytes() > bytes);
        assert_eq!(index.rollup_dimensions(), Some(&[0, 1][..]));
        // Parsed before the widening: the same key as a null region.
        index.add(event(&narrow, &line), 2).unwrap();
        let with_region = format!(r#"{{"ts": {JAN_1}, "host": "a", "region": "eu", "bytes": 1}}"#);
        index.add(event(&wide, &with_region), 3).unwrap();
        let chunk = index.chunk(JAN_1).unwrap();
        let mut keys: Vec<&RollupKey> = chunk.rollup().map(|(key, _)| key).collect();
        keys.sort();
        let null_region = RollupKey {
            time: JAN_1,
            dimensions: vec![DimensionValue::String("a".into()), DimensionValue::Null],
        };
        assert_eq!(keys[0], &null_region);
        assert_eq!(keys[1].dimensions[1], DimensionValue::String("eu".into()));
        let (_, row) = chunk
            .rollup()
            .find(|(key, _)| **key == null_region)
            .unwrap();
        assert_eq!(row.states()[0].view(), aggregate::StateView::Count(2));

        let renamed = spec(false, r#", "region""#);
        assert!(matches!(
            index.widen(renamed),
            Err(WidenError::NotAnExtension { .. })
        ));
        assert!(matches!(
            index.widen(narrow),
            Err(WidenError::NotAnExtension { .. })
        ));
    }

    #[test]
    fn frozen_chunks_stay_counted_until_released() {
        let spec = spec(true, "");
        let mut index = RealtimeIndex::new(spec.clone()).unwrap();
        for (seq, hour) in [(1, 0), (2, 1), (3, 0)] {
            let line = format!(r#"{{"ts": {}, "host": "a"}}"#, JAN_1 + hour * 3_600_000);
            index.add(event(&spec, &line), seq).unwrap();
        }
        let total = index.approx_bytes();
        assert_eq!(index.freeze(|chunk| chunk.interval().start() == JAN_1), 1);
        assert_eq!(index.total_events(), 3);
        assert_eq!(index.approx_bytes(), total);
        assert_eq!(index.min_open_seq(), Some(2));
        let frozen_id = index.frozen()[0].id();
        assert_eq!(index.frozen()[0].chunk().stats().max_seq, 3);

        // A new event of the frozen interval opens a new chunk.
        let line = format!(r#"{{"ts": {JAN_1}, "host": "b"}}"#);
        index.add(event(&spec, &line), 4).unwrap();
        assert_eq!(index.chunk(JAN_1).unwrap().stats().events, 1);
        assert_eq!(index.total_events(), 4);

        index.release(&[frozen_id]);
        assert!(index.frozen().is_empty());
        assert_eq!(index.total_events(), 2);
        assert_eq!(index.min_open_seq(), Some(2));
    }

    fn dimension_value() -> impl Strategy<Value = DimensionValue> {
        prop_oneof![
            Just(DimensionValue::Null),
            (-3i64..3).prop_map(DimensionValue::Long),
            (-3i64..3).prop_map(|v| DimensionValue::Double(v as f64 / 2.0)),
            "[ab]{0,2}".prop_map(DimensionValue::String),
            prop::collection::vec("[ab]{0,2}", 2..4).prop_map(DimensionValue::Strings),
        ]
    }

    fn rollup_key() -> impl Strategy<Value = RollupKey> {
        (0i64..3, prop::collection::vec(dimension_value(), 2))
            .prop_map(|(time, dimensions)| RollupKey { time, dimensions })
    }

    proptest! {
        #[test]
        fn key_order_is_total_and_agrees_with_equality(
            a in rollup_key(), b in rollup_key(), c in rollup_key()
        ) {
            prop_assert_eq!(a.cmp(&b).is_eq(), a == b);
            prop_assert_eq!(a.cmp(&b), b.cmp(&a).reverse());
            if a <= b && b <= c {
                prop_assert!(a <= c);
            }
        }
    }
}
