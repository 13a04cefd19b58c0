//! Index picks: first/last per value of a group key, found from where the
//! value's rows lie instead of by folding every selected row.
//!
//! In a table whose rows are in `__time` order (a segment's, see
//! [`TableSource::rows_in_time_order`]) the latest row holding a value is
//! the last such row, the earliest the first. So "the last `bytes` of each
//! host over the week", grouped by one dimension into one time bucket, need
//! not read ten million rows: each host's answer is one row, the largest
//! (smallest) row id among the selected rows of that host whose `bytes` is
//! not null. Ties agree with the general fold: among rows of one time, last
//! keeps the later row read (the largest row id) and first the earlier one
//! (the smallest) — see [`Pick::replaces`].
//!
//! The rows are found in two steps:
//!
//! 1. *a scan from the end* (from the start, for first): the key column's
//!    codes are read a row block at a time, backwards, and each value's
//!    first non-null row met is its pick. Values are seldom rare enough to
//!    hide from the last block, so this usually settles every one of them
//!    at once; else it goes on while the values left unsettled are many;
//! 2. *the bitmap index*, for the few values the scan left unsettled: the
//!    value's bitmap is walked from the rows scanned on, and its first
//!    selected row not null in the aggregated column is the pick. A value
//!    whose bitmap holds no selected row is no group at all, as it would
//!    not be one when folding.
//!
//! Then only the picked rows' values and times are read, each row block
//! decoded once, and every group gets the same [`Accumulator::Pick`] the
//! general fold would have made: tables merge into the result exactly as
//! before.
//!
//! It applies to an events table read with granularity `all`, one group key
//! that is a single-value string column with a bitmap index, and first/last
//! aggregations only, by `__time`, of long or double columns. A dictionary
//! large next to the selected rows (more than one value per
//! [`ROWS_PER_VALUE`] rows) would leave the scan little to settle early and
//! the picks many rows to read, and is folded instead; so is every other
//! plan.

use std::ops::Range;

use roaring::RoaringBitmap;
use strata_storage::segment::bitmap_index::BitmapIndex;
use strata_storage::segment::{ColumnKind, TIME_COLUMN, TableKind};
use strata_storage::spec::{Aggregator, DataSourceSpec};
use strata_storage::time::Millis;

use super::bucketing::Bucketing;
use super::fold::{Accumulator, Number, Pick, RowValue, Scalar};
use super::groups::GroupId;
use super::{ExecuteError, check_length, table_name};
use crate::plan::{AggregateFunction, KeyValue, QueryPlan};
use crate::select::select_rows;
use crate::table::{
    BlockVerdict, ColumnValues, FullNumbers, NumberTest, TableError, TableSource, ValueTest,
};

/// The fewest selected rows per dictionary value for the index picks to be
/// worth it: below that, folding the rows is as cheap.
const ROWS_PER_VALUE: u64 = 64;

/// What the scan pays per selected row it visits, and what decoding a
/// value's bitmap (and intersecting it with the selected rows) pays per row
/// the value holds, in units of reading one row's key code: the scan goes
/// on while the bitmaps of the values left would cost more than the rest
/// of the scan.
const SELECTED_ROW_COST: u64 = 4;
const BITMAP_ROW_COST: u64 = 8;

/// One table's groups, each with one accumulator per aggregation.
pub(super) type PickedGroups = Vec<(GroupId, Vec<Accumulator>)>;

/// `table`'s groups for `plan`, found by index picks (see the
/// [module docs](self)); `None` when they do not apply, and the table's rows
/// must be folded.
pub(super) fn picked_groups(
    table: &dyn TableSource,
    plan: &QueryPlan,
    spec: &DataSourceSpec,
    bucketing: &Bucketing,
) -> Result<Option<PickedGroups>, ExecuteError> {
    let Some(shape) = Shape::of(table, plan, spec, bucketing) else {
        return Ok(None);
    };
    let Some(bitmaps) = table.string_bitmaps(shape.key) else {
        return Ok(None);
    };
    let Some(dictionary) = table.string_dictionary(shape.key)? else {
        return Ok(None);
    };
    let fewest_rows = (dictionary.len() as u64).saturating_mul(ROWS_PER_VALUE);
    if fewest_rows > table.rows() as u64 {
        return Ok(None);
    }
    // A selection found too small here is selected again by the fold: the
    // price of not knowing its size before.
    let selected = select_rows(table, &plan.intervals, plan.filter.as_ref())?;
    if fewest_rows > selected.len() {
        return Ok(None);
    }
    let nulls = shape
        .columns
        .iter()
        .map(|column| null_rows(table, column))
        .collect::<Result<Vec<_>, _>>()?;
    let key_nulls = table
        .string_value_rows(
            shape.key,
            &ValueTest {
                exactly: Some(Vec::new()),
                accepts: &|_| false,
            },
        )?
        .map(|rows| rows.null)
        .unwrap_or_default();
    let blocks = table.row_blocks();
    let search = Search {
        table,
        key: shape.key,
        selected: &selected,
        codes: dictionary.len() + 1,
        bitmaps,
        key_nulls: &key_nulls,
        blocks: &blocks,
    };
    let search_for = |pick: Pick| {
        let columns: Vec<&RoaringBitmap> = shape
            .columns_of(pick)
            .map(|column| &nulls[column])
            .collect();
        (!columns.is_empty())
            .then(|| search.find(pick, &columns))
            .transpose()
    };
    let (last, first) = (search_for(Pick::Last)?, search_for(Pick::First)?);
    // Each search tells which values the selection holds; one that ran is
    // asked.
    let Some(present) = last.as_ref().or(first.as_ref()).map(|found| &found.present) else {
        return Ok(None);
    };
    // Per aggregation: what its search found, and where its column comes
    // among the columns searched.
    let picks: Vec<(Option<&Found>, usize)> = shape
        .aggregations
        .iter()
        .map(|(_, pick, column)| {
            let found = match pick {
                Pick::Last => last.as_ref(),
                Pick::First => first.as_ref(),
            };
            (found, shape.position_of(*pick, *column))
        })
        .collect();
    let mut reader = RowReader::new(table, &blocks, shape.columns.len());
    // One bucket: every time falls in it.
    let timestamp = bucketing.bucket(0);
    let mut groups = Vec::new();
    for (code, _) in present.iter().enumerate().filter(|(_, present)| **present) {
        let key = match code.checked_sub(1).and_then(|id| dictionary.get(id)) {
            Some(value) => KeyValue::String(value.clone()),
            None => KeyValue::Null,
        };
        let mut accumulators = Vec::with_capacity(picks.len());
        for ((function, _, column), (found, position)) in shape.aggregations.iter().zip(&picks) {
            let mut accumulator = Accumulator::empty(function);
            if let Some(row) = found.and_then(|found| found.row(code, *position)) {
                let value = reader.number(shape.columns[*column], *column, row)?;
                let time = reader.time(row)?;
                accumulator.add(RowValue::Timed(time, Scalar::Number(value)));
            }
            accumulators.push(accumulator);
        }
        groups.push((
            GroupId {
                timestamp,
                keys: vec![key],
            },
            accumulators,
        ));
    }
    Ok(Some(groups))
}

/// What makes a plan answerable by index picks, read from it.
struct Shape<'p> {
    /// The group key column.
    key: &'p str,
    /// The columns the aggregations read, each once.
    columns: Vec<&'p str>,
    /// Per aggregation: its function, whether it keeps the first or the
    /// last value, and the index of its column in `columns`.
    aggregations: Vec<(&'p AggregateFunction, Pick, usize)>,
}

impl<'p> Shape<'p> {
    /// The shape of `plan` over `table`, when index picks apply (see the
    /// [module docs](self)).
    fn of(
        table: &dyn TableSource,
        plan: &'p QueryPlan,
        spec: &'p DataSourceSpec,
        bucketing: &Bucketing,
    ) -> Option<Self> {
        let aggregate = &plan.aggregate;
        if table.kind() != TableKind::Events
            || !table.rows_in_time_order()
            || !bucketing.is_single()
            || aggregate.aggregations.is_empty()
        {
            return None;
        }
        let [key] = aggregate.group_by.as_slice() else {
            return None;
        };
        if kind_of(table, &key.column)? != (ColumnKind::String { multi_value: false }) {
            return None;
        }
        let mut shape = Shape {
            key: &key.column,
            columns: Vec::new(),
            aggregations: Vec::new(),
        };
        for aggregation in &aggregate.aggregations {
            let (pick, column) = match &aggregation.function {
                AggregateFunction::First {
                    column,
                    time_column: None,
                    ..
                } => (Pick::First, column),
                AggregateFunction::Last {
                    column,
                    time_column: None,
                    ..
                } => (Pick::Last, column),
                _ => return None,
            };
            let column = events_column(spec, column)?;
            if !matches!(
                kind_of(table, column)?,
                ColumnKind::Long | ColumnKind::Double
            ) {
                return None;
            }
            let index = match shape.columns.iter().position(|known| *known == column) {
                Some(index) => index,
                None => {
                    shape.columns.push(column);
                    shape.columns.len() - 1
                }
            };
            shape
                .aggregations
                .push((&aggregation.function, pick, index));
        }
        Some(shape)
    }

    /// The columns (indexes into `columns`) aggregations keeping `pick`
    /// read, in order, each once.
    fn columns_of(&self, pick: Pick) -> impl Iterator<Item = usize> + '_ {
        (0..self.columns.len()).filter(move |column| {
            self.aggregations
                .iter()
                .any(|(_, kept, read)| *kept == pick && read == column)
        })
    }

    /// Where `column` comes among [`columns_of`](Self::columns_of)`(pick)`.
    fn position_of(&self, pick: Pick, column: usize) -> usize {
        self.columns_of(pick)
            .position(|read| read == column)
            .unwrap_or(usize::MAX)
    }
}

/// The kind of `table`'s column `name`; `None` when it has none.
fn kind_of(table: &dyn TableSource, name: &str) -> Option<ColumnKind> {
    let schema = table.schema();
    let position = schema.position(name)?;
    schema
        .columns()
        .get(position)
        .map(|column| column.kind.clone())
}

/// The column an events table reads for the first/last of `column`: a
/// metric's input field, as `input` reads it; `None` for a count metric (one
/// per event, not a column).
fn events_column<'s>(spec: &'s DataSourceSpec, column: &'s str) -> Option<&'s str> {
    match spec.metric(column).map(|metric| metric.aggregator()) {
        Some(Aggregator::Count) => None,
        Some(aggregator) => Some(aggregator.field_name().unwrap_or(column)),
        None => Some(column),
    }
}

/// The null rows of numeric column `column`, found without judging any
/// value.
fn null_rows(table: &dyn TableSource, column: &str) -> Result<RoaringBitmap, ExecuteError> {
    let test = NumberTest {
        long_block: &|_, _| BlockVerdict::NoValue,
        double_block: &|_, _| BlockVerdict::NoValue,
        long: &|_| false,
        double: &|_| false,
        long_ranges: Some(&[]),
    };
    Ok(table
        .number_rows(column, &test)?
        .map(|rows| rows.null)
        .unwrap_or_default())
}

/// What both steps of the search read (see the [module docs](self)).
struct Search<'a> {
    table: &'a dyn TableSource,
    key: &'a str,
    selected: &'a RoaringBitmap,
    /// How many codes the key column has: 0 for null, `id + 1` for
    /// dictionary id `id`.
    codes: usize,
    bitmaps: BitmapIndex<'a>,
    key_nulls: &'a RoaringBitmap,
    blocks: &'a [Range<usize>],
}

/// What a search found, for each key code.
struct Found {
    /// Whether a selected row holds the code.
    present: Vec<bool>,
    /// For each code, the picked row of each column searched (`None`: all
    /// its selected rows are null there).
    rows: Vec<Option<u32>>,
    /// How many columns were searched.
    width: usize,
}

impl Found {
    fn row(&self, code: usize, column: usize) -> Option<u32> {
        if column >= self.width {
            return None;
        }
        self.rows.get(code * self.width + column).copied().flatten()
    }
}

impl Search<'_> {
    /// For each key code, the row `pick` keeps for each column whose null
    /// rows are `nulls`.
    fn find(&self, pick: Pick, nulls: &[&RoaringBitmap]) -> Result<Found, ExecuteError> {
        let width = nulls.len();
        let mut found = Found {
            present: vec![false; self.codes],
            rows: vec![None; self.codes * width],
            width,
        };
        let mut settled = vec![false; self.codes];
        let scanned = self.scan(pick, nulls, &mut found, &mut settled)?;
        for code in (0..self.codes).filter(|code| !settled[*code]) {
            let rows = match code.checked_sub(1) {
                None => self.key_nulls.clone(),
                Some(id) => self.bitmaps.bitmap(id as u32).map_err(TableError::from)?,
            };
            let Some(slots) = found.rows.get_mut(code * width..(code + 1) * width) else {
                continue;
            };
            let present = &mut found.present[code];
            let mut open = slots.iter().filter(|slot| slot.is_none()).count();
            // The value's rows the scan did not reach, walked from the end
            // (the start, for first): the first selected one is a pick for
            // each column it is not null in.
            let mut visit = |row: u32| {
                if !self.selected.contains(row) {
                    return false;
                }
                *present = true;
                for (slot, nulls) in slots.iter_mut().zip(nulls) {
                    if slot.is_none() && !nulls.contains(row) {
                        *slot = Some(row);
                        open -= 1;
                    }
                }
                open == 0
            };
            match pick {
                Pick::Last => {
                    for row in rows.range(..scanned.start).rev() {
                        if visit(row) {
                            break;
                        }
                    }
                }
                Pick::First => {
                    for row in rows.range(scanned.end..) {
                        if visit(row) {
                            break;
                        }
                    }
                }
            }
        }
        Ok(found)
    }

    /// Step 1: scans the blocks of selected rows in `pick`'s direction,
    /// noting each code's rows and settling the codes whose every column
    /// found one, until every code is settled or the bitmaps of those left
    /// cost less than the rest of the scan would; returns the rows scanned.
    fn scan(
        &self,
        pick: Pick,
        nulls: &[&RoaringBitmap],
        found: &mut Found,
        settled: &mut [bool],
    ) -> Result<Range<u32>, ExecuteError> {
        let width = found.width;
        let mut unsettled = self.codes - 1 + usize::from(!self.key_nulls.is_empty());
        let rows = self.table.rows() as u32;
        let mut scanned = match pick {
            Pick::Last => rows..rows,
            Pick::First => 0..0,
        };
        let blocks: Box<dyn Iterator<Item = &Range<usize>>> = match pick {
            Pick::Last => Box::new(self.blocks.iter().rev()),
            Pick::First => Box::new(self.blocks.iter()),
        };
        // The codes left unsettled are the rarer ones: costing their
        // bitmaps at the average value's rows errs towards scanning on.
        let rows_per_value = u64::from(rows) / (self.codes as u64 - 1).max(1);
        let mut selected_left = self.selected.len();
        for block in blocks {
            if unsettled == 0 {
                break;
            }
            let (start, end) = (block.start as u32, block.end as u32);
            let in_block = self.selected.range_cardinality(start..end);
            if in_block > 0 {
                let rows_left = match pick {
                    Pick::Last => scanned.start,
                    Pick::First => rows - scanned.end,
                };
                let bitmaps = unsettled as u64 * rows_per_value * BITMAP_ROW_COST;
                if bitmaps <= u64::from(rows_left) + selected_left * SELECTED_ROW_COST {
                    break;
                }
            }
            scanned = scanned.start.min(start)..scanned.end.max(end);
            if in_block == 0 {
                continue;
            }
            selected_left -= in_block;
            let selected = self.selected.range(start..end);
            let codes = self.codes_of(block.clone())?;
            let null_masks: Vec<Option<Vec<bool>>> =
                nulls.iter().map(|nulls| null_mask(nulls, block)).collect();
            let mut visit = |row: u32| -> Result<bool, ExecuteError> {
                let offset = (row - start) as usize;
                let code = codes.get(offset).copied().unwrap_or(0) as usize;
                if settled.get(code).copied().unwrap_or(true) {
                    return Ok(false);
                }
                found.present[code] = true;
                let mut complete = true;
                let slots = found.rows.iter_mut().skip(code * width).take(width);
                for (slot, mask) in slots.zip(&null_masks).filter(|(slot, _)| slot.is_none()) {
                    let null = mask
                        .as_ref()
                        .is_some_and(|mask| mask.get(offset).copied().unwrap_or(true));
                    if null {
                        complete = false;
                    } else {
                        *slot = Some(row);
                    }
                }
                if complete {
                    settled[code] = true;
                    unsettled -= 1;
                }
                Ok(unsettled == 0)
            };
            match pick {
                Pick::Last => {
                    for row in selected.rev() {
                        if visit(row)? {
                            break;
                        }
                    }
                }
                Pick::First => {
                    for row in selected {
                        if visit(row)? {
                            break;
                        }
                    }
                }
            }
        }
        Ok(scanned)
    }

    /// The key codes of the rows of `block`, each checked against the
    /// dictionary.
    fn codes_of(&self, block: Range<usize>) -> Result<Vec<u32>, ExecuteError> {
        let damaged = |problem: String| ExecuteError::DamagedColumn {
            column: self.key.to_owned(),
            table: table_name(self.table.kind()),
            problem,
        };
        let codes = self
            .table
            .read_string_codes_range(self.key, block.clone())?
            .ok_or_else(|| damaged("its rows are not one string value each".to_owned()))?;
        if codes.len() != block.len() {
            return Err(damaged(format!(
                "it has {} values for {} rows",
                codes.len(),
                block.len()
            )));
        }
        if let Some(code) = codes.iter().find(|&&code| code as usize >= self.codes) {
            return Err(damaged(format!(
                "a row holds value id {}, past its dictionary of {} values",
                code - 1,
                self.codes - 1
            )));
        }
        Ok(codes)
    }
}

/// Flags for the rows of `block`, counted from its first, set for the rows
/// of `nulls`; `None` when none of them is null.
fn null_mask(nulls: &RoaringBitmap, block: &Range<usize>) -> Option<Vec<bool>> {
    let mut rows = nulls.range(block.start as u32..block.end as u32).peekable();
    rows.peek()?;
    let mut mask = vec![false; block.len()];
    for row in rows {
        if let Some(flag) = mask.get_mut(row as usize - block.start) {
            *flag = true;
        }
    }
    Some(mask)
}

/// A numeric column's row block, decoded.
enum Decoded {
    /// A block without nulls: the numbers alone.
    Full(FullNumbers),
    Cells(ColumnValues),
}

/// Reads single rows' values and times, decoding each row block once.
struct RowReader<'t> {
    table: &'t dyn TableSource,
    blocks: &'t [Range<usize>],
    /// Decoded blocks, for column `c` (an index into the shape's columns)
    /// and block `b` at `c * blocks + b`.
    values: Vec<Option<Decoded>>,
    /// Decoded blocks of `__time`.
    times: Vec<Option<Vec<Millis>>>,
}

impl<'t> RowReader<'t> {
    fn new(table: &'t dyn TableSource, blocks: &'t [Range<usize>], columns: usize) -> Self {
        RowReader {
            table,
            blocks,
            values: (0..columns * blocks.len()).map(|_| None).collect(),
            times: vec![None; blocks.len()],
        }
    }

    /// The block holding `row`, and its rows.
    fn block_of(&self, row: u32, column: &str) -> Result<(usize, Range<usize>), ExecuteError> {
        let row = row as usize;
        let b = self.blocks.partition_point(|block| block.end <= row);
        match self.blocks.get(b) {
            Some(block) if block.contains(&row) => Ok((b, block.clone())),
            _ => Err(self.damaged(column, format!("row {row} lies in none of its blocks"))),
        }
    }

    /// The value of numeric `column` (the shape's column `index`) at `row`,
    /// which is not null.
    fn number(&mut self, column: &str, index: usize, row: u32) -> Result<Number, ExecuteError> {
        let (b, block) = self.block_of(row, column)?;
        let slot = index * self.blocks.len() + b;
        if self.values.get(slot).is_some_and(Option::is_none) {
            let decoded = self.decode(column, block.clone())?;
            self.values[slot] = Some(decoded);
        }
        let offset = row as usize - block.start;
        let value = match self.values.get(slot).and_then(Option::as_ref) {
            Some(Decoded::Full(FullNumbers::Long(values))) => {
                values.get(offset).copied().map(Number::Long)
            }
            Some(Decoded::Full(FullNumbers::Double(values))) => {
                values.get(offset).copied().map(Number::Double)
            }
            Some(Decoded::Cells(ColumnValues::Long(values))) => {
                values.get(offset).copied().flatten().map(Number::Long)
            }
            Some(Decoded::Cells(ColumnValues::Double(values))) => {
                values.get(offset).copied().flatten().map(Number::Double)
            }
            _ => None,
        };
        value.ok_or_else(|| {
            self.damaged(
                column,
                format!("row {row} is null, though its null rows leave it out"),
            )
        })
    }

    /// Numeric `column`'s rows `block`: the numbers alone when none is
    /// null, which spares a null flag per row.
    fn decode(&self, column: &str, block: Range<usize>) -> Result<Decoded, ExecuteError> {
        if let Some(numbers) = self.table.read_full_numbers(column, block.clone())? {
            let found = match &numbers {
                FullNumbers::Long(values) => values.len(),
                FullNumbers::Double(values) => values.len(),
            };
            if found != block.len() {
                return Err(self.damaged(
                    column,
                    format!("it has {found} values for {} rows", block.len()),
                ));
            }
            return Ok(Decoded::Full(numbers));
        }
        let values = self
            .table
            .read_column_range(column, block.clone())?
            .ok_or_else(|| {
                self.damaged(column, "its schema names it, but it is missing".to_owned())
            })?;
        check_length(&values, block.len(), column, table_name(self.table.kind()))?;
        Ok(Decoded::Cells(values))
    }

    /// The `__time` of `row`.
    fn time(&mut self, row: u32) -> Result<Millis, ExecuteError> {
        let (b, block) = self.block_of(row, TIME_COLUMN)?;
        if self.times.get(b).is_some_and(Option::is_none) {
            let times = self.table.read_time_range(block.clone())?;
            if times.len() != block.len() {
                return Err(self.damaged(
                    TIME_COLUMN,
                    format!("it has {} values for {} rows", times.len(), block.len()),
                ));
            }
            self.times[b] = Some(times);
        }
        self.times
            .get(b)
            .and_then(Option::as_ref)
            .and_then(|times| times.get(row as usize - block.start))
            .copied()
            .ok_or_else(|| self.damaged(TIME_COLUMN, format!("row {row} has no time")))
    }

    fn damaged(&self, column: &str, problem: String) -> ExecuteError {
        ExecuteError::DamagedColumn {
            column: column.to_owned(),
            table: table_name(self.table.kind()),
            problem,
        }
    }
}

#[cfg(test)]
mod tests {
    use strata_storage::granularity::Granularity;
    use strata_storage::segment::{Segment, TableKind};

    use super::picked_groups;
    use crate::execute::bucketing::Bucketing;
    use crate::execute::test_support::*;
    use crate::execute::{TableSet, execute};
    use crate::plan::{
        AggregateFunction, Filter, KeyValue, NumberType, QueryPlan, ResultRow, ValueKind,
    };
    use crate::segment_table::SegmentTable;
    use crate::table::TableSource;

    fn last(column: &str, kind: ValueKind) -> AggregateFunction {
        AggregateFunction::Last {
            column: column.into(),
            kind,
            time_column: None,
        }
    }

    fn first(column: &str, kind: ValueKind) -> AggregateFunction {
        AggregateFunction::First {
            column: column.into(),
            kind,
            time_column: None,
        }
    }

    /// 200,000 events over four row blocks, eight to a second (so a host
    /// has two rows of one time: ties), with null hosts, a host only at the
    /// start (`early`) and one only in the middle (`middle`), host `b`
    /// without bytes after the first rows, and nulls in both value
    /// columns. Every value is its row's own, so a wrong row shows.
    fn events() -> Vec<Event> {
        let hosts = ["a", "b", "c", "d"];
        (0..200_000i64)
            .map(|i| {
                let host = if i % 13 == 0 {
                    None
                } else if i < 3_000 && i % 5 == 1 {
                    Some("early")
                } else if (100_000..100_050).contains(&i) {
                    Some("middle")
                } else {
                    Some(hosts[(i % 4) as usize])
                };
                let user = format!("u{}", i % 10);
                Event {
                    bytes: (i % 7 != 0 && (host != Some("b") || i < 90_000)).then_some(i),
                    latency: (i % 11 != 3).then_some(i as f64 / 4.0),
                    ..event(T0 + (i / 8) * 2_000, host, &[], Some(&user))
                }
            })
            .collect()
    }

    fn segment_of(events: &[Event], dir: &tempfile::TempDir, name: &str) -> Segment {
        events_segment(events, &dir.path().join(name))
    }

    fn run(plan: &QueryPlan, tables: &[&dyn TableSource]) -> Vec<ResultRow> {
        let sets: Vec<TableSet<'_>> = tables
            .iter()
            .map(|table| TableSet {
                events: Some(*table),
                rollup: None,
            })
            .collect();
        execute(plan, &spec(), &sets).unwrap()
    }

    fn is_picked(plan: &QueryPlan, table: &dyn TableSource) -> bool {
        picked_groups(table, plan, &spec(), &Bucketing::new(plan))
            .unwrap()
            .is_some()
    }

    fn by_host(intervals: Vec<strata_storage::time::Interval>) -> QueryPlan {
        plan(
            Granularity::All,
            intervals,
            &["host"],
            vec![
                last("latency", ValueKind::Double),
                last("bytes", ValueKind::Long),
                first("bytes", ValueKind::Long),
                first("latency", ValueKind::Double),
                // A metric reads its input field; kinds convert as folded.
                last("bytes_last", ValueKind::Float),
                first("latency", ValueKind::Long),
                last("bytes", ValueKind::String),
            ],
        )
    }

    #[test]
    fn picks_are_what_folding_every_row_gives() {
        let events = events();
        let dir = tempfile::tempdir().unwrap();
        let segment = segment_of(&events, &dir, "s");
        let stored = SegmentTable::new(segment.table(TableKind::Events).unwrap());
        assert!(stored.row_blocks().len() >= 4);
        let memory = events_table(&events);
        let not_middle = Filter::Not(Box::new(Filter::Equals {
            column: "host".into(),
            value: Some("middle".into()),
        }));
        let some_users = Filter::Not(Box::new(Filter::Equals {
            column: "user".into(),
            value: Some("u3".into()),
        }));
        let mut plans = Vec::new();
        for intervals in [
            hours(0, 24),
            hours(1, 9),
            // Across row blocks, and not to their ends.
            vec![interval(T0 + 30_000_000, T0 + 38_000_000)],
        ] {
            for filter in [None, Some(not_middle.clone()), Some(some_users.clone())] {
                let mut plan = by_host(intervals.clone());
                plan.filter = filter;
                plans.push(plan);
            }
        }
        for plan in &plans {
            assert!(is_picked(plan, &stored), "{plan:?}");
            assert!(
                !is_picked(plan, &memory),
                "a memory table promises no order"
            );
            let picked = run(plan, &[&stored]);
            assert_eq!(picked, run(plan, &[&memory]), "{plan:?}");
            rows_match(&picked, &oracle(plan, &events)).unwrap();
        }
        // The whole day: every host, the null one first; `b`'s last bytes
        // lie before its rows scanned from the end.
        let whole = run(&plans[0], &[&stored]);
        let keys: Vec<&KeyValue> = whole.iter().map(|row| &row.keys[0]).collect();
        let string = |value: &str| KeyValue::String(value.into());
        assert_eq!(
            keys,
            [
                &KeyValue::Null,
                &string("a"),
                &string("b"),
                &string("c"),
                &string("d"),
                &string("early"),
                &string("middle"),
            ]
        );
        // Values the selection does not hold make no group.
        for plan in [&plans[4], &plans[6]] {
            let rows = run(plan, &[&stored]);
            assert!(!rows.is_empty());
            for absent in ["early", "middle"] {
                assert!(
                    rows.iter().all(|row| row.keys[0] != string(absent)),
                    "{absent} in {rows:?}"
                );
            }
        }
    }

    #[test]
    fn a_value_whose_every_selected_row_is_null_is_a_group_of_nulls() {
        let mut events = events();
        for event in events.iter_mut().filter(|e| e.host.as_deref() == Some("c")) {
            event.bytes = None;
        }
        let dir = tempfile::tempdir().unwrap();
        let segment = segment_of(&events, &dir, "s");
        let stored = SegmentTable::new(segment.table(TableKind::Events).unwrap());
        let plan = by_host(hours(0, 24));
        assert!(is_picked(&plan, &stored));
        let rows = run(&plan, &[&stored]);
        assert_eq!(rows, run(&plan, &[&events_table(&events)]));
        rows_match(&rows, &oracle(&plan, &events)).unwrap();
        let c = rows
            .iter()
            .find(|row| row.keys[0] == KeyValue::String("c".into()))
            .unwrap();
        assert_eq!(c.values[1], crate::plan::ResultValue::Null);
    }

    #[test]
    fn columns_without_nulls_give_the_same_picks() {
        let events: Vec<Event> = events()
            .into_iter()
            .enumerate()
            .map(|(i, event)| Event {
                bytes: Some(i as i64 * 3),
                latency: Some(i as f64 / 8.0),
                ..event
            })
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let segment = segment_of(&events, &dir, "s");
        let stored = SegmentTable::new(segment.table(TableKind::Events).unwrap());
        for intervals in [hours(0, 24), hours(1, 9)] {
            let plan = by_host(intervals);
            assert!(is_picked(&plan, &stored));
            let rows = run(&plan, &[&stored]);
            assert_eq!(rows, run(&plan, &[&events_table(&events)]));
            rows_match(&rows, &oracle(&plan, &events)).unwrap();
        }
    }

    /// Tables merge in their order: among equal times, the table read later
    /// gives the last value, the one read sooner the first, whichever way
    /// each table was answered.
    #[test]
    fn tables_merge_as_folded_ones_do() {
        let events = events();
        let (early, late) = events.split_at(120_000);
        // The same times again, other values: ties across tables.
        let again: Vec<Event> = late
            .iter()
            .map(|event| Event {
                bytes: event.bytes.map(|bytes| -bytes),
                latency: event.latency.map(|latency| -latency),
                ..event.clone()
            })
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let segments = [
            segment_of(early, &dir, "early"),
            segment_of(late, &dir, "late"),
            segment_of(&again, &dir, "again"),
        ];
        let stored: Vec<SegmentTable<'_>> = segments
            .iter()
            .map(|segment| SegmentTable::new(segment.table(TableKind::Events).unwrap()))
            .collect();
        let memory = [
            events_table(early),
            events_table(late),
            events_table(&again),
        ];
        let plan = by_host(hours(0, 24));
        assert!(stored.iter().all(|table| is_picked(&plan, table)));
        let folded = run(&plan, &[&memory[0], &memory[2], &memory[1]]);
        assert_eq!(run(&plan, &[&stored[0], &stored[2], &stored[1]]), folded);
        // A picked table between folded ones keeps its place.
        assert_eq!(run(&plan, &[&memory[0], &stored[2], &memory[1]]), folded);
        assert_ne!(
            run(&plan, &[&memory[0], &memory[1], &memory[2]]),
            folded,
            "the order of tables must matter for these ties"
        );
    }

    #[test]
    fn other_plans_are_folded() {
        let events = events();
        let dir = tempfile::tempdir().unwrap();
        let segment = segment_of(&events, &dir, "s");
        let stored = SegmentTable::new(segment.table(TableKind::Events).unwrap());
        let two_keys = plan(
            Granularity::All,
            hours(0, 24),
            &["host", "user"],
            vec![last("bytes", ValueKind::Long)],
        );
        let with_a_sum = plan(
            Granularity::All,
            hours(0, 24),
            &["host"],
            vec![
                last("bytes", ValueKind::Long),
                sum("bytes", NumberType::Long),
            ],
        );
        let by_hour = plan(
            Granularity::HOUR,
            hours(0, 24),
            &["host"],
            vec![last("bytes", ValueKind::Long)],
        );
        let by_time_column = plan(
            Granularity::All,
            hours(0, 24),
            &["host"],
            vec![AggregateFunction::Last {
                column: "latency".into(),
                kind: ValueKind::Double,
                time_column: Some("bytes".into()),
            }],
        );
        // Too few selected rows for its dictionary: 7 values need 448.
        let mut few_rows = by_host(vec![interval(T0, T0 + 100_000)]);
        few_rows.filter = Some(Filter::Equals {
            column: "user".into(),
            value: Some("u3".into()),
        });
        let memory = events_table(&events);
        for plan in [&two_keys, &with_a_sum, &by_hour, &by_time_column, &few_rows] {
            assert!(!is_picked(plan, &stored), "{plan:?}");
            let rows = run(plan, &[&stored]);
            assert!(!rows.is_empty());
            assert_eq!(rows, run(plan, &[&memory]));
            // The oracle orders by `__time` only.
            if plan != &by_time_column {
                rows_match(&rows, &oracle(plan, &events)).unwrap();
            }
        }
    }
}
