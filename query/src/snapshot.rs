//! A datasource as one query sees it: its published segments and the tables
//! of its real-time chunks, taken at one moment.
//!
//! The ingest service hands a snapshot out (`IngestService::read_view`) with
//! both parts read together, so that a persist moving a chunk into a segment
//! never makes an event appear twice or not at all. Executing a plan on it
//! opens the segments whose interval meets the plan's intervals (or finds
//! them open already, see [`OpenSegments`]) and reads each segment and each
//! chunk as one [`TableSet`]. A scan opens a segment only when it reads it
//! ([`ScanTables`]): one ordered by time with a limit leaves the segments it
//! does not need unopened.
//!
//! A query runs within its [`QueryLimits`]: checked as each segment is
//! opened, and by the executor between table sets.
//!
//! The time bounds of the whole datasource come from the tables' recorded
//! time ranges, without reading a column; those of the events a filter
//! selects ([`DataSourceSnapshot::filtered_time_bounds`]) select the rows of
//! each table as any query does and read `__time` for the selected rows only.

use std::sync::{Arc, OnceLock};

use strata_storage::catalog::{Catalog, DataSourceState, SegmentId};
use strata_storage::segment::{Segment, SegmentError, TableKind};

use crate::execute::{ExecuteError, TableSet, execute_with_limits};
use crate::mem_table::MemTable;
use crate::open_segments::OpenSegments;
use crate::plan::{Filter, QueryPlan, ResultRow, ScanPlan, SearchPlan};
use crate::query_limits::{QueryLimits, QueryStopped};
use crate::scan_query::{ScanError, ScanResult, ScanTables, scan_tables};
use crate::search_query::{SearchBucket, SearchError, search};
use crate::segment_table::SegmentTable;
use crate::select::{SelectError, check_fulltext, select_rows};
use crate::table::{TableError, TableSource};
use strata_storage::time::{Interval, Millis};

/// See the [module docs](self).
#[derive(Debug, Clone)]
pub struct DataSourceSnapshot {
    /// The spec, the visible segments and the offsets.
    pub state: Arc<DataSourceState>,
    /// The tables of each chunk still in the real-time index, shared with
    /// the other queries that read the chunk at the same version.
    pub realtime: Vec<Arc<ChunkTables>>,
    /// The datasource's segments already open, shared with other queries.
    pub open_segments: Arc<OpenSegments>,
}

/// The tables of one real-time chunk: those its segment will hold.
#[derive(Debug, Clone, Default)]
pub struct ChunkTables {
    pub events: Option<MemTable>,
    pub rollup: Option<MemTable>,
}

impl ChunkTables {
    /// The chunk's `tables`, each put in its place by its kind.
    pub fn of(tables: impl IntoIterator<Item = MemTable>) -> ChunkTables {
        let mut chunk = ChunkTables::default();
        for table in tables {
            match table.kind() {
                TableKind::Events => chunk.events = Some(table),
                TableKind::Rollup => chunk.rollup = Some(table),
            }
        }
        chunk
    }
}

/// Why a query of a snapshot failed.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("opening segment {}: {source}", dir.display())]
    Segment {
        dir: std::path::PathBuf,
        #[source]
        source: SegmentError,
    },
    #[error(transparent)]
    Execute(#[from] ExecuteError),
    #[error(transparent)]
    Scan(#[from] ScanError),
    #[error(transparent)]
    Search(#[from] SearchError),
    #[error(transparent)]
    Select(#[from] SelectError),
    #[error(transparent)]
    Table(#[from] TableError),
    #[error(transparent)]
    Stopped(#[from] QueryStopped),
}

impl QueryError {
    /// Why the query was stopped early, when that is why it failed.
    /// Whether a segment or table could not be read, or read back damaged:
    /// the server's fault, not the query's.
    pub fn is_table_damage(&self) -> bool {
        match self {
            QueryError::Segment { .. } | QueryError::Table(_) => true,
            QueryError::Execute(error) => error.is_table_damage(),
            QueryError::Scan(error) => error.is_table_damage(),
            QueryError::Search(error) => error.is_table_damage(),
            QueryError::Select(error) => error.is_table_damage(),
            QueryError::Stopped(_) => false,
        }
    }

    pub fn stopped(&self) -> Option<&QueryStopped> {
        match self {
            QueryError::Stopped(stopped)
            | QueryError::Execute(ExecuteError::Stopped(stopped))
            | QueryError::Scan(ScanError::Stopped(stopped)) => Some(stopped),
            _ => None,
        }
    }
}

impl DataSourceSnapshot {
    /// The earliest and latest event times of the datasource, from the
    /// tables' recorded ranges (no column is read); `None` with no events.
    /// A table set with an events table answers from it, one with only a
    /// rollup table from its truncated times, as Druid's would.
    pub fn time_bounds(
        &self,
        catalog: &dyn Catalog,
    ) -> Result<Option<(Millis, Millis)>, QueryError> {
        let mut bounds: Option<(Millis, Millis)> = None;
        let mut widen = |range: Option<(Millis, Millis)>| {
            if let Some((min, max)) = range {
                bounds = Some(match bounds {
                    Some((low, high)) => (low.min(min), high.max(max)),
                    None => (min, max),
                });
            }
        };
        for segment in &self.state.segments {
            let opened = self.open_segment(&segment.id, catalog)?;
            let table = opened
                .table(TableKind::Events)
                .or_else(|| opened.table(TableKind::Rollup));
            widen(table.and_then(|table| table.time_range()));
        }
        for chunk in &self.realtime {
            let table = chunk.events.as_ref().or(chunk.rollup.as_ref());
            widen(table.and_then(|table| table.time_range()));
        }
        Ok(bounds)
    }

    /// The earliest and latest times of the events `filter` selects, within
    /// `limits`; `None` when it selects none. As in
    /// [`time_bounds`](Self::time_bounds), each set is read through its
    /// events table, else through its rollup table (whose times are
    /// truncated).
    pub fn filtered_time_bounds(
        &self,
        filter: &Filter,
        catalog: &dyn Catalog,
        limits: &QueryLimits,
    ) -> Result<Option<(Millis, Millis)>, QueryError> {
        self.check_fulltext(std::iter::once(filter))?;
        self.with_table_sets(&[Interval::ETERNITY], catalog, limits, |sets| {
            let mut bounds: Option<(Millis, Millis)> = None;
            for set in sets {
                limits.check()?;
                let Some(table) = set.events.or(set.rollup) else {
                    continue;
                };
                let rows = select_rows(table, &[Interval::ETERNITY], Some(filter))?;
                if rows.is_empty() {
                    continue;
                }
                let times = table.read_time()?;
                for row in &rows {
                    let time = times.get(row as usize).copied().ok_or_else(|| {
                        SelectError::ColumnLength {
                            column: strata_storage::segment::TIME_COLUMN.to_owned(),
                            expected: table.rows(),
                            found: times.len(),
                        }
                    })?;
                    bounds = Some(match bounds {
                        Some((low, high)) => (low.min(time), high.max(time)),
                        None => (time, time),
                    });
                }
            }
            Ok(bounds)
        })?
    }

    /// Runs `plan` over the segments whose interval meets the plan's
    /// intervals, and over every real-time chunk, within `limits`.
    pub fn execute(
        &self,
        plan: &QueryPlan,
        catalog: &dyn Catalog,
        limits: &QueryLimits,
    ) -> Result<Vec<ResultRow>, QueryError> {
        let filters = plan.filter.iter().chain(
            plan.aggregate
                .aggregations
                .iter()
                .flat_map(|aggregation| aggregation.function.filters()),
        );
        self.check_fulltext(filters)?;
        Ok(
            self.with_table_sets(&plan.intervals, catalog, limits, |sets| {
                execute_with_limits(plan, &self.state.spec, sets, limits)
            })??,
        )
    }

    /// Scans `plan` over the segments whose interval meets the plan's
    /// intervals, and over every real-time chunk, within `limits`. A
    /// segment is opened only when the scan reads it: a scan ordered by time
    /// with a limit leaves unopened the segments it knows, from their
    /// intervals alone, cannot hold a row it returns.
    pub fn scan(
        &self,
        plan: &ScanPlan,
        catalog: &dyn Catalog,
        limits: &QueryLimits,
    ) -> Result<ScanResult, QueryError> {
        self.check_fulltext(plan.filter.iter())?;
        let segments: Vec<&SegmentId> = self
            .state
            .segments
            .iter()
            .map(|segment| &segment.id)
            .filter(|id| meets(&plan.intervals, id.interval()))
            .collect();
        let opened: Vec<OnceLock<Arc<Segment>>> =
            segments.iter().map(|_| OnceLock::new()).collect();
        let segment_tables: Vec<OnceLock<Option<SegmentTable<'_>>>> =
            segments.iter().map(|_| OnceLock::new()).collect();
        let realtime: Vec<&dyn TableSource> = self
            .realtime
            .iter()
            .filter_map(|chunk| chunk.events.as_ref().or(chunk.rollup.as_ref()))
            .map(|table| table as &dyn TableSource)
            .collect();
        let ranges = segments
            .iter()
            .map(|id| {
                let interval = id.interval();
                Some((interval.start(), interval.end().saturating_sub(1)))
            })
            .chain(realtime.iter().map(|table| table.time_range()))
            .collect();
        let open = |index: usize| -> Result<Option<&dyn TableSource>, ScanError> {
            let (Some(id), Some(segment_slot), Some(table_slot)) = (
                segments.get(index),
                opened.get(index),
                segment_tables.get(index),
            ) else {
                let chunk = index.checked_sub(segments.len());
                return Ok(chunk.and_then(|chunk| realtime.get(chunk)).copied());
            };
            let segment = match segment_slot.get() {
                Some(segment) => segment,
                None => {
                    limits.check()?;
                    let dir = catalog.segment_dir(id);
                    let segment = self
                        .open_segments
                        .open(&dir)
                        .map_err(|source| ScanError::OpenSegment { dir, source })?;
                    segment_slot.get_or_init(|| segment)
                }
            };
            let table = table_slot.get_or_init(|| {
                segment
                    .table(TableKind::Events)
                    .or_else(|| segment.table(TableKind::Rollup))
                    .map(SegmentTable::new)
            });
            Ok(table.as_ref().map(|table| table as &dyn TableSource))
        };
        let tables = ScanTables::new(ranges, open);
        Ok(scan_tables(plan, &self.state.spec, &tables, limits)?)
    }

    /// Searches `plan` over the segments whose interval meets the plan's
    /// intervals, and over every real-time chunk. The search itself does
    /// not check `limits` yet: they are checked before it starts and once
    /// it is done.
    pub fn search(
        &self,
        plan: &SearchPlan,
        catalog: &dyn Catalog,
        limits: &QueryLimits,
    ) -> Result<Vec<SearchBucket>, QueryError> {
        self.check_fulltext(plan.filter.iter())?;
        let buckets = self.with_table_sets(&plan.intervals, catalog, limits, |sets| {
            search(plan, &self.state.spec, sets)
        })??;
        limits.check()?;
        Ok(buckets)
    }

    /// Refuses the `fulltext` filters among `filters` that no table could
    /// answer (see [`check_fulltext`]).
    fn check_fulltext<'f>(
        &self,
        mut filters: impl Iterator<Item = &'f Filter>,
    ) -> Result<(), QueryError> {
        Ok(filters.try_for_each(|filter| check_fulltext(filter, &self.state.spec))?)
    }

    fn open_segment(
        &self,
        id: &SegmentId,
        catalog: &dyn Catalog,
    ) -> Result<Arc<Segment>, QueryError> {
        let dir = catalog.segment_dir(id);
        self.open_segments
            .open(&dir)
            .map_err(|source| QueryError::Segment { dir, source })
    }

    /// Calls `read` with one table set per segment whose interval meets
    /// `intervals` (segments first, in the state's order), then one per
    /// real-time chunk. The sets borrow the segments, held open for at least
    /// as long as this call. `limits` are checked before each segment is
    /// opened.
    fn with_table_sets<R>(
        &self,
        intervals: &[Interval],
        catalog: &dyn Catalog,
        limits: &QueryLimits,
        read: impl FnOnce(&[TableSet<'_>]) -> R,
    ) -> Result<R, QueryError> {
        let segments = self
            .state
            .segments
            .iter()
            .filter(|segment| meets(intervals, segment.id.interval()))
            .map(|segment| {
                limits.check()?;
                self.open_segment(&segment.id, catalog)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let segment_tables: Vec<(Option<SegmentTable<'_>>, Option<SegmentTable<'_>>)> = segments
            .iter()
            .map(|segment| {
                (
                    segment.table(TableKind::Events).map(SegmentTable::new),
                    segment.table(TableKind::Rollup).map(SegmentTable::new),
                )
            })
            .collect();
        let sets: Vec<TableSet<'_>> = segment_tables
            .iter()
            .map(|(events, rollup)| TableSet {
                events: events.as_ref().map(|t| t as &dyn TableSource),
                rollup: rollup.as_ref().map(|t| t as &dyn TableSource),
            })
            .chain(self.realtime.iter().map(|chunk| TableSet {
                events: chunk.events.as_ref().map(|t| t as &dyn TableSource),
                rollup: chunk.rollup.as_ref().map(|t| t as &dyn TableSource),
            }))
            .collect();
        Ok(read(&sets))
    }
}

/// Whether `interval` meets any of `intervals`.
fn meets(intervals: &[Interval], interval: Interval) -> bool {
    intervals.iter().any(|wanted| wanted.overlaps(&interval))
}
