//! Scanning: a datasource's selected rows themselves, not aggregated — what
//! Druid's `scan` query returns.
//!
//! A [`ScanPlan`] selects rows as an aggregate plan does (its intervals and
//! filter, through [`select_rows`]) and returns each selected row's values
//! for the plan's columns. As Druid's scan of a datasource without rollup,
//! it reads *events*: each table set is read through its events table, and
//! only a set that has no events table (a datasource whose every dimension
//! takes part in rollup) through its rollup table, whose rows are then the
//! rolled-up rows with their metrics.
//!
//! ```text
//! set ─ events table (else rollup) ─ select rows ─ (time, set, row) ─┐
//! set ─ events table (else rollup) ─ select rows ─ (time, set, row) ─┼─ order ─ offset ─ limit ─ read the chosen rows' columns
//! set ─ ...                                                        ─┘
//! ```
//!
//! # Ordering and cutting
//!
//! With [`ScanOrder::None`] rows come in storage order: set by set, each
//! table's rows in its order; once `offset + limit` rows are chosen no
//! further set is read. Ordered by time, every set's selected rows are
//! ranked by `__time` (rows of equal time keep storage order, in both
//! directions) and only the best `offset + limit` positions are kept as sets
//! are read, so memory stays bounded by the limit; the sets are read best
//! first by their recorded time range (newest first for a descending scan),
//! and once the rows kept are all strictly better than anything the next
//! set could offer, the sets left are not read at all — how a needle search
//! for the newest matches stops early. In both cases the column
//! values are read only for the tables that hold a returned row, and decoded
//! only for the returned rows.
//!
//! # Columns and values
//!
//! Without a column list a scan returns `__time`, the datasource's
//! dimensions in spec order, then its metrics in spec order — as Druid's
//! scan of a datasource without rollup lists them — and then any other
//! column of a rollup table it reads. A column a table lacks is null in its
//! rows. `__time` is a long (epoch milliseconds); a string row with one
//! value is a string, with several a list, with none null; text is a
//! string; a complex column (a sketch) is its stored bytes.
//!
//! # Metrics of one event
//!
//! An events table stores a metric's raw input, not the metric; a metric
//! named (by default or in the column list) is read there as what it is
//! over the one event the row is, as Druid stores a row without rollup: a
//! `count` is 1; a sum, min, max, first or last is the input's value in the
//! metric's number type (a long metric truncates a double input); a sketch
//! metric is its input's value (Druid would show a sketch of that one
//! value). A rollup table holds the metrics themselves.
//!
//! # Limits
//!
//! A scan checks its [`QueryLimits`] before each table it selects from and
//! each table it reads values from, and counts against the memory budget
//! what grows with the answer: the chosen rows' positions and the returned
//! rows' values (a string with its bytes). A scan with no limit over many
//! events is what the budget stops.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::ops::Range;

use roaring::RoaringBitmap;
use strata_storage::segment::{TIME_COLUMN, TableKind};
use strata_storage::spec::{Aggregator, DataSourceSpec, NumericType};
use strata_storage::time::Millis;

use crate::execute::TableSet;
use crate::plan::{ScanOrder, ScanPlan};
use crate::query_limits::{QueryLimits, QueryStopped};
use crate::select::{SelectError, select_rows};
use crate::table::{ColumnValues, TableError, TableSource};

/// The rows a scan returns, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanResult {
    /// The name of each value of a row, in order.
    pub columns: Vec<String>,
    pub rows: Vec<ScanRow>,
    /// The rows the plan selected in the tables the scan read: every row it
    /// selects when [`complete`](Self::complete), a lower bound otherwise.
    pub matched: u64,
    /// Whether the scan read every table, rather than stopping once the
    /// rows it returns were certain.
    pub complete: bool,
}

/// One returned row.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanRow {
    /// The row's `__time`, whether or not it is among the columns.
    pub time: Millis,
    /// One value per [`ScanResult::columns`].
    pub values: Vec<ScanValue>,
}

/// One value of a returned row.
#[derive(Debug, Clone, PartialEq)]
pub enum ScanValue {
    Null,
    Long(i64),
    Double(f64),
    String(String),
    /// A multi-value row's values, in the order stored.
    Strings(Vec<String>),
    /// A complex column's stored bytes.
    Bytes(Vec<u8>),
}

/// Why a scan failed.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error(transparent)]
    Select(#[from] SelectError),
    #[error(transparent)]
    Table(#[from] TableError),
    #[error("column `{column}` of the {table} table is damaged: {problem}")]
    DamagedColumn {
        column: String,
        table: &'static str,
        problem: String,
    },
    #[error("opening segment {}: {source}", dir.display())]
    OpenSegment {
        dir: std::path::PathBuf,
        #[source]
        source: strata_storage::segment::SegmentError,
    },
    #[error(transparent)]
    Stopped(#[from] QueryStopped),
}

impl ScanError {
    /// Whether a table could not be read, or read back damaged: the
    /// server's fault, not the plan's.
    pub fn is_table_damage(&self) -> bool {
        match self {
            ScanError::Table(_)
            | ScanError::DamagedColumn { .. }
            | ScanError::OpenSegment { .. } => true,
            ScanError::Select(error) => error.is_table_damage(),
            _ => false,
        }
    }
}

/// Runs `plan` over the rows of `sets`, which hold data of the datasource
/// `spec` describes, with no deadline and no memory budget. See the
/// [module docs](self).
pub fn scan(
    plan: &ScanPlan,
    spec: &DataSourceSpec,
    sets: &[TableSet<'_>],
) -> Result<ScanResult, ScanError> {
    scan_with_limits(plan, spec, sets, &QueryLimits::unlimited())
}

/// [`scan`] within `limits` (see [Limits](self#limits)).
pub fn scan_with_limits(
    plan: &ScanPlan,
    spec: &DataSourceSpec,
    sets: &[TableSet<'_>],
    limits: &QueryLimits,
) -> Result<ScanResult, ScanError> {
    let tables: Vec<&dyn TableSource> = sets
        .iter()
        .filter_map(|set| set.events.or(set.rollup))
        .collect();
    let ranges = tables.iter().map(|table| table.time_range()).collect();
    let tables = ScanTables::new(ranges, |index| Ok(tables.get(index).copied()));
    scan_tables(plan, spec, &tables, limits)
}

/// The tables a scan may read, each known by the time range it can hold
/// before it is opened, so that a table the scan does not need is never
/// opened: a segment left out by a needle search costs nothing.
pub struct ScanTables<'a> {
    ranges: Vec<Option<(Millis, Millis)>>,
    open: Box<OpenTable<'a>>,
}

/// Gives table `i` of a [`ScanTables`], opening it if need be.
type OpenTable<'a> = dyn Fn(usize) -> Result<Option<&'a dyn TableSource>, ScanError> + 'a;

impl<'a> ScanTables<'a> {
    /// Tables `0..ranges.len()`: table `i` holds rows within `ranges[i]`
    /// (`None`: any time) and `open(i)` gives it — `None` when it turns out
    /// to have no table to scan. `open` may be called more than once for a
    /// table and must then give the same one.
    pub fn new(
        ranges: Vec<Option<(Millis, Millis)>>,
        open: impl Fn(usize) -> Result<Option<&'a dyn TableSource>, ScanError> + 'a,
    ) -> Self {
        ScanTables {
            ranges,
            open: Box::new(open),
        }
    }
}

/// The tables of a [`ScanTables`] opened so far.
struct OpenedTables<'s, 'a> {
    tables: &'s ScanTables<'a>,
    opened: Vec<Option<&'a dyn TableSource>>,
}

impl<'s, 'a> OpenedTables<'s, 'a> {
    fn new(tables: &'s ScanTables<'a>) -> Self {
        OpenedTables {
            tables,
            opened: vec![None; tables.ranges.len()],
        }
    }

    fn len(&self) -> usize {
        self.opened.len()
    }

    /// The time range table `index` can hold, known before it is opened.
    fn range(&self, index: usize) -> Option<(Millis, Millis)> {
        self.tables.ranges.get(index).copied().flatten()
    }

    fn open(&mut self, index: usize) -> Result<Option<&'a dyn TableSource>, ScanError> {
        if let Some(Some(table)) = self.opened.get(index) {
            return Ok(Some(*table));
        }
        let table = (self.tables.open)(index)?;
        if let Some(slot) = self.opened.get_mut(index) {
            *slot = table;
        }
        Ok(table)
    }

    fn every_opened(&self) -> Vec<&'a dyn TableSource> {
        self.opened.iter().flatten().copied().collect()
    }
}

/// [`scan_with_limits`] over tables opened only as the scan reads them.
pub fn scan_tables(
    plan: &ScanPlan,
    spec: &DataSourceSpec,
    tables: &ScanTables<'_>,
    limits: &QueryLimits,
) -> Result<ScanResult, ScanError> {
    let mut opened = OpenedTables::new(tables);
    let wanted = plan.limit.map(|limit| plan.offset.saturating_add(limit));
    let mut chosen = match plan.order {
        ScanOrder::None => pick_in_storage_order(plan, &mut opened, wanted, limits)?,
        ScanOrder::Ascending | ScanOrder::Descending => {
            pick_by_time(plan, &mut opened, wanted, limits)?
        }
    };
    let columns = match &plan.columns {
        Some(columns) => columns.clone(),
        None => default_columns(spec, &opened.every_opened()),
    };
    chosen.picks.drain(..plan.offset.min(chosen.picks.len()));
    let rows = read_rows(&chosen.picks, &opened.opened, spec, &columns, limits)?;
    Ok(ScanResult {
        columns,
        rows,
        matched: chosen.matched,
        complete: chosen.complete,
    })
}

/// A selected row: which table, which row of it, and its time.
#[derive(Debug, Clone, Copy)]
struct Pick {
    time: Millis,
    table: usize,
    row: u32,
}

/// The rows chosen, and what was learned on the way of the rows matched.
struct Chosen {
    picks: Vec<Pick>,
    /// Rows selected in the tables read.
    matched: u64,
    /// Whether every table was read.
    complete: bool,
}

/// Whether the chosen rows' positions are within the memory budget.
fn check_picks_memory(picks: &[Pick], limits: &QueryLimits) -> Result<(), QueryStopped> {
    limits.check_memory(
        || format!("chosen rows ({} rows)", picks.len()),
        picks_bytes(picks),
    )
}

fn picks_bytes(picks: &[Pick]) -> u64 {
    size_of_val(picks) as u64
}

/// The rows of each table in turn, until `wanted` are chosen.
fn pick_in_storage_order(
    plan: &ScanPlan,
    tables: &mut OpenedTables<'_, '_>,
    wanted: Option<usize>,
    limits: &QueryLimits,
) -> Result<Chosen, ScanError> {
    let mut chosen = Chosen {
        picks: Vec::new(),
        matched: 0,
        complete: true,
    };
    for index in 0..tables.len() {
        let remaining = wanted.map_or(usize::MAX, |wanted| {
            wanted.saturating_sub(chosen.picks.len())
        });
        if remaining == 0 {
            chosen.complete = false;
            break;
        }
        limits.check()?;
        let Some(table) = tables.open(index)? else {
            continue;
        };
        let selected = select(plan, table)?;
        chosen.matched += selected.len();
        let mut reader = TimeReader::new(table);
        for row in selected.iter().take(remaining) {
            chosen.picks.push(reader.pick(index, row)?);
        }
        check_picks_memory(&chosen.picks, limits)?;
    }
    Ok(chosen)
}

/// Every table's selected rows ranked by time, keeping only the best
/// `wanted` positions as tables are read.
fn pick_by_time(
    plan: &ScanPlan,
    tables: &mut OpenedTables<'_, '_>,
    wanted: Option<usize>,
    limits: &QueryLimits,
) -> Result<Chosen, ScanError> {
    let descending = plan.order == ScanOrder::Descending;
    let rank = |a: &Pick, b: &Pick| -> Ordering {
        let by_time = if descending {
            b.time.cmp(&a.time)
        } else {
            a.time.cmp(&b.time)
        };
        by_time.then((a.table, a.row).cmp(&(b.table, b.row)))
    };
    // The best time a table can offer: its newest row's (descending) or its
    // oldest's; a table that does not know its range may offer any.
    let best_time = |range: Option<(Millis, Millis)>| -> Option<Millis> {
        range.map(|(oldest, newest)| if descending { newest } else { oldest })
    };
    // Tables that may hold the best rows are read first, so that the rows
    // wanted are certain sooner and the tables left need not be opened.
    let mut order: Vec<usize> = (0..tables.len()).collect();
    order.sort_by_key(|&index| match best_time(tables.range(index)) {
        None => (0, 0),
        Some(time) if descending => (1, time.saturating_neg()),
        Some(time) => (1, time),
    });
    let mut chosen = Chosen {
        picks: Vec::new(),
        matched: 0,
        complete: true,
    };
    // Whether the rows kept are certain against a table offering `offered`:
    // strictly better, as a row of the same time in another table could
    // still rank first by storage order.
    let certain_against = |picks: &mut Vec<Pick>, offered: Option<Millis>| -> bool {
        let (Some(wanted), Some(offered)) = (wanted, offered) else {
            return false;
        };
        if wanted == 0 || picks.len() < wanted {
            return false;
        }
        picks.sort_unstable_by(rank);
        picks.truncate(wanted);
        picks.last().is_some_and(|worst: &Pick| {
            if descending {
                worst.time > offered
            } else {
                worst.time < offered
            }
        })
    };
    for index in order {
        // The tables are in order of what they may offer: none after a
        // table the rows kept beat can offer better.
        if certain_against(&mut chosen.picks, best_time(tables.range(index))) {
            chosen.complete = false;
            break;
        }
        limits.check()?;
        let Some(table) = tables.open(index)? else {
            continue;
        };
        // Opened, a table may know a narrower range than it was listed with.
        if certain_against(&mut chosen.picks, best_time(table.time_range())) {
            chosen.complete = false;
            continue;
        }
        let selected = select(plan, table)?;
        chosen.matched += selected.len();
        match wanted {
            // Rows in time order: the best are at one end of the table.
            Some(wanted) if table.rows_in_time_order() => chosen
                .picks
                .extend(edge_picks(table, index, &selected, wanted, descending)?),
            _ => {
                let mut reader = TimeReader::new(table);
                for row in &selected {
                    chosen.picks.push(reader.pick(index, row)?);
                }
            }
        }
        // Cutting back only when twice the limit is held keeps the cost of
        // sorting linear in the rows read.
        if let Some(wanted) = wanted
            && chosen.picks.len() > wanted.saturating_mul(2).max(1024)
        {
            chosen.picks.sort_unstable_by(rank);
            chosen.picks.truncate(wanted);
        }
        check_picks_memory(&chosen.picks, limits)?;
    }
    chosen.picks.sort_unstable_by(rank);
    if let Some(wanted) = wanted {
        chosen.picks.truncate(wanted);
    }
    Ok(chosen)
}

fn select(plan: &ScanPlan, table: &dyn TableSource) -> Result<RoaringBitmap, ScanError> {
    Ok(select_rows(table, &plan.intervals, plan.filter.as_ref())?)
}

/// Reads the `__time` of single rows, decoding only the row blocks that
/// hold them (the last one read is kept): a scan needs the times of the
/// rows it may return, not of every row a table holds.
struct TimeReader<'t> {
    table: &'t dyn TableSource,
    blocks: Vec<Range<usize>>,
    block: Range<usize>,
    times: Vec<Millis>,
}

impl<'t> TimeReader<'t> {
    fn new(table: &'t dyn TableSource) -> Self {
        TimeReader {
            table,
            blocks: table.row_blocks(),
            block: 0..0,
            times: Vec::new(),
        }
    }

    fn time(&mut self, row: u32) -> Result<Millis, ScanError> {
        let row = row as usize;
        if !self.block.contains(&row) {
            let index = self.blocks.partition_point(|block| block.end <= row);
            self.block = match self.blocks.get(index) {
                Some(block) if block.contains(&row) => block.clone(),
                _ => row..row + 1,
            };
            self.times = self.table.read_time_range(self.block.clone())?;
        }
        self.times
            .get(row - self.block.start)
            .copied()
            .ok_or_else(|| ScanError::DamagedColumn {
                column: TIME_COLUMN.to_owned(),
                table: self.table.kind().name(),
                problem: format!("rows {:?} read back {} times", self.block, self.times.len()),
            })
    }

    fn pick(&mut self, table: usize, row: u32) -> Result<Pick, ScanError> {
        Ok(Pick {
            time: self.time(row)?,
            table,
            row,
        })
    }
}

/// The picks of `selected` rows that may be among the `wanted` best of a
/// table whose rows are in time order: the last `wanted` (descending) or the
/// first, and past them the rows of the same time as the last taken, which
/// storage order may rank before it.
fn edge_picks(
    table: &dyn TableSource,
    index: usize,
    selected: &RoaringBitmap,
    wanted: usize,
    descending: bool,
) -> Result<Vec<Pick>, ScanError> {
    let mut rows: Box<dyn Iterator<Item = u32>> = if descending {
        Box::new(selected.iter().rev())
    } else {
        Box::new(selected.iter())
    };
    let mut reader = TimeReader::new(table);
    let mut picks = Vec::with_capacity(wanted.min(selected.len() as usize));
    for row in rows.by_ref().take(wanted) {
        picks.push(reader.pick(index, row)?);
    }
    if let Some(edge) = picks.last().map(|pick| pick.time) {
        for row in rows {
            let pick = reader.pick(index, row)?;
            if pick.time != edge {
                break;
            }
            picks.push(pick);
        }
    }
    Ok(picks)
}

/// `__time`, the spec's dimensions, the spec's metrics (an events table has
/// every one, see [Metrics of one event](self#metrics-of-one-event)), then
/// the other columns of the rollup tables read, in the order they list them.
/// The list does not depend on which tables a scan opened, but for those
/// last columns: a table left unread returns no row.
fn default_columns(spec: &DataSourceSpec, tables: &[&dyn TableSource]) -> Vec<String> {
    let mut columns = vec![TIME_COLUMN.to_owned()];
    let spec_columns = spec
        .dimensions()
        .iter()
        .map(|dimension| dimension.name())
        .chain(spec.metrics().iter().map(|metric| metric.name()));
    for name in spec_columns {
        if !columns.iter().any(|c| c == name) {
            columns.push(name.to_owned());
        }
    }
    for table in tables
        .iter()
        .filter(|table| table.kind() == TableKind::Rollup)
    {
        for column in table.schema().columns() {
            if !columns.contains(&column.name) {
                columns.push(column.name.clone());
            }
        }
    }
    columns
}

/// Where a returned column's values come from in one table.
enum Source {
    Time,
    Missing,
    Column(ColumnValues),
    /// A `count` metric over one event.
    One,
    /// A numeric metric over one event: its input, in the metric's type.
    Number(ColumnValues, NumericType),
}

/// The values of the picked rows, in pick order; each table's columns are
/// read once, and only for the tables holding a picked row.
fn read_rows(
    picks: &[Pick],
    tables: &[Option<&dyn TableSource>],
    spec: &DataSourceSpec,
    columns: &[String],
    limits: &QueryLimits,
) -> Result<Vec<ScanRow>, ScanError> {
    // Grouped by table and row block, so that each column is decoded over
    // the blocks that hold a returned row only.
    let mut by_block: BTreeMap<(usize, usize), Vec<usize>> = BTreeMap::new();
    let mut blocks: BTreeMap<usize, Vec<Range<usize>>> = BTreeMap::new();
    for (position, pick) in picks.iter().enumerate() {
        let Some(Some(table)) = tables.get(pick.table) else {
            continue;
        };
        let table_blocks = blocks
            .entry(pick.table)
            .or_insert_with(|| table.row_blocks());
        let block = table_blocks.partition_point(|block| block.end <= pick.row as usize);
        by_block
            .entry((pick.table, block))
            .or_default()
            .push(position);
    }
    let mut rows: Vec<ScanRow> = picks
        .iter()
        .map(|pick| ScanRow {
            time: pick.time,
            values: Vec::with_capacity(columns.len()),
        })
        .collect();
    let mut bytes = picks_bytes(picks) + (rows.len() * size_of::<ScanRow>()) as u64;
    for ((table_index, _), positions) in by_block {
        limits.check()?;
        let Some(Some(table)) = tables.get(table_index) else {
            continue;
        };
        // The block's returned rows alone: a few rows of a block cost those
        // rows (a text column decompresses only the frames holding them),
        // not the whole block.
        let mut wanted: Vec<usize> = positions
            .iter()
            .filter_map(|&position| picks.get(position))
            .map(|pick| pick.row as usize)
            .collect();
        wanted.sort_unstable();
        wanted.dedup();
        let sources = columns
            .iter()
            .map(|name| read_source(*table, spec, name, &wanted))
            .collect::<Result<Vec<_>, _>>()?;
        for position in positions {
            let (Some(pick), Some(row)) = (picks.get(position), rows.get_mut(position)) else {
                continue;
            };
            let at = wanted.partition_point(|&row| row < pick.row as usize);
            for (source, name) in sources.iter().zip(columns) {
                let value = value_at(source, pick.time, at, name, table.kind().name())?;
                bytes += value_bytes(&value);
                row.values.push(value);
            }
        }
        limits.check_memory(|| format!("returned rows ({} rows)", rows.len()), bytes)?;
    }
    Ok(rows)
}

/// The estimated bytes a returned value holds: itself and its heap.
fn value_bytes(value: &ScanValue) -> u64 {
    let heap = match value {
        ScanValue::Null | ScanValue::Long(_) | ScanValue::Double(_) => 0,
        ScanValue::String(text) => text.len(),
        ScanValue::Strings(texts) => texts
            .iter()
            .map(|text| size_of::<String>() + text.len())
            .sum(),
        ScanValue::Bytes(bytes) => bytes.len(),
    };
    (size_of::<ScanValue>() + heap) as u64
}

/// The column `name` of `table` at `rows` (increasing); in an events table,
/// a metric `name` as [Metrics of one event](self#metrics-of-one-event)
/// says.
fn read_source(
    table: &dyn TableSource,
    spec: &DataSourceSpec,
    name: &str,
    rows: &[usize],
) -> Result<Source, ScanError> {
    if name == TIME_COLUMN {
        return Ok(Source::Time);
    }
    let metric = spec
        .metric(name)
        .filter(|_| table.kind() == TableKind::Events);
    let (column, number) = match metric.map(|metric| metric.aggregator()) {
        None => (name, None),
        Some(Aggregator::Count) => return Ok(Source::One),
        Some(
            Aggregator::Sum {
                field_name,
                value_type,
            }
            | Aggregator::Min {
                field_name,
                value_type,
            }
            | Aggregator::Max {
                field_name,
                value_type,
            }
            | Aggregator::First {
                field_name,
                value_type,
            }
            | Aggregator::Last {
                field_name,
                value_type,
            },
        ) => (field_name.as_str(), Some(*value_type)),
        Some(
            Aggregator::HllSketch { field_name, .. }
            | Aggregator::QuantilesSketch { field_name, .. },
        ) => (field_name.as_str(), None),
    };
    let Some(values) = table.read_column_rows(column, rows)? else {
        return Ok(Source::Missing);
    };
    if values.len() != rows.len() {
        return Err(ScanError::DamagedColumn {
            column: name.to_owned(),
            table: table.kind().name(),
            problem: format!("it has {} values for {} rows", values.len(), rows.len()),
        });
    }
    Ok(match number {
        Some(number) => Source::Number(values, number),
        None => Source::Column(values),
    })
}

/// The value of `source` at `row` of the values it read, for a row of
/// `time`.
fn value_at(
    source: &Source,
    time: Millis,
    row: usize,
    column: &str,
    table: &'static str,
) -> Result<ScanValue, ScanError> {
    let values = match source {
        Source::Time => return Ok(ScanValue::Long(time)),
        Source::Missing => return Ok(ScanValue::Null),
        Source::One => return Ok(ScanValue::Long(1)),
        Source::Column(values) => values,
        Source::Number(values, number) => match (values, number) {
            (ColumnValues::Long(values), NumericType::Double) => {
                let value = values.get(row).copied().flatten();
                return Ok(value.map_or(ScanValue::Null, |v| ScanValue::Double(v as f64)));
            }
            (ColumnValues::Double(values), NumericType::Long) => {
                let value = values.get(row).copied().flatten();
                return Ok(value.map_or(ScanValue::Null, |v| ScanValue::Long(v as i64)));
            }
            _ => values,
        },
    };
    Ok(match values {
        ColumnValues::Long(values) => values
            .get(row)
            .copied()
            .flatten()
            .map_or(ScanValue::Null, ScanValue::Long),
        ColumnValues::Double(values) => values
            .get(row)
            .copied()
            .flatten()
            .map_or(ScanValue::Null, ScanValue::Double),
        ColumnValues::Text(values) => values
            .get(row)
            .cloned()
            .flatten()
            .map_or(ScanValue::Null, ScanValue::String),
        ColumnValues::Complex(values) => values
            .get(row)
            .cloned()
            .flatten()
            .map_or(ScanValue::Null, ScanValue::Bytes),
        ColumnValues::String { dictionary, rows } => {
            let ids = rows.get(row).map(Vec::as_slice).unwrap_or_default();
            let mut strings = ids
                .iter()
                .map(|&id| {
                    dictionary
                        .get(id as usize)
                        .cloned()
                        .ok_or_else(|| ScanError::DamagedColumn {
                            column: column.to_owned(),
                            table,
                            problem: format!(
                                "row {row} refers to dictionary id {id}, but the dictionary has {} values",
                                dictionary.len()
                            ),
                        })
                })
                .collect::<Result<Vec<_>, _>>()?;
            match strings.len() {
                0 => ScanValue::Null,
                1 => strings.pop().map_or(ScanValue::Null, ScanValue::String),
                _ => ScanValue::Strings(strings),
            }
        }
    })
}

#[cfg(test)]
mod tests;
