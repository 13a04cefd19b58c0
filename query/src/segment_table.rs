//! A published segment's table read through the [table interface](crate::table).
//!
//! The segment keeps each column in compressed blocks; reading a column
//! decodes every block and applies the column's null bitmap. String columns
//! come out as the segment stores them — a sorted dictionary and dictionary
//! ids per row — so nothing is re-encoded.
//!
//! Two questions are answered from the segment's indexes without decoding
//! rows: which rows lie in some time intervals (a block whose recorded time
//! range lies inside an interval is taken whole, one outside it skipped; only
//! blocks across an interval's bound are decoded), and which rows hold some
//! values of a string column (the bitmaps of the accepted dictionary ids,
//! unioned; equalities look their values up in the sorted dictionary).

use std::ops::Range;
use std::sync::Arc;

use roaring::RoaringBitmap;
use strata_storage::metric_cell::distinct::DictionaryCoupons;
use strata_storage::segment::bitmap_index::BitmapIndex;
use strata_storage::segment::column::{
    ComplexColumn, NumericColumn, NumericValue, RowBlock, StringColumn, TextColumn,
};
use strata_storage::segment::{
    Column, SegmentError, TEXT_FRAME_ROWS, Table, TableKind, TableSchema,
};
use strata_storage::time::{Interval, Millis};

use crate::table::{
    BlockVerdict, ColumnValues, FullNumbers, NumberTest, TableError, TableSource, ValueRows,
    ValueTest, read_rows_through_range,
};

/// One table of a memory-mapped segment.
#[derive(Clone, Copy)]
pub struct SegmentTable<'s> {
    table: &'s Table,
}

impl<'s> SegmentTable<'s> {
    pub fn new(table: &'s Table) -> Self {
        SegmentTable { table }
    }
}

impl TableSource for SegmentTable<'_> {
    fn kind(&self) -> TableKind {
        self.table.kind()
    }

    fn schema(&self) -> &TableSchema {
        self.table.schema()
    }

    fn rows(&self) -> usize {
        self.table.rows() as usize
    }

    fn time_range(&self) -> Option<(Millis, Millis)> {
        self.table.time_range()
    }

    fn read_time(&self) -> Result<Vec<Millis>, TableError> {
        Ok(self.table.time().values()?)
    }

    fn read_column(&self, name: &str) -> Result<Option<ColumnValues>, TableError> {
        self.read_column_range(name, 0..self.rows())
    }

    fn rows_in_intervals(&self, intervals: &[Interval]) -> Result<RoaringBitmap, TableError> {
        Ok(self.intervals_rows(intervals)?)
    }

    /// Always: the segment's `TableWriter` refuses a row whose `__time` is
    /// earlier than the previous row's, and table files are written by
    /// nothing else (persist, compaction and bulk load all go through it).
    fn rows_in_time_order(&self) -> bool {
        true
    }

    /// From the segment's tantivy index, opened on first use.
    fn fulltext_rows(
        &self,
        query: &str,
        fields: &[String],
    ) -> Result<Option<RoaringBitmap>, TableError> {
        match self.table.text_index()? {
            Some(index) => Ok(Some(index.search(query, fields)?)),
            None => Ok(None),
        }
    }

    fn string_bitmaps(&self, name: &str) -> Option<BitmapIndex<'_>> {
        match self.table.column(name) {
            Some(Column::String(column)) => Some(column.bitmaps()),
            _ => None,
        }
    }

    fn row_blocks(&self) -> Vec<Range<usize>> {
        let time = self.table.time();
        let block_rows = numeric_block_rows(time);
        block_starts(block_rows)
            .map(|(start, rows)| start..start + rows)
            .collect()
    }

    fn read_time_range(&self, rows: Range<usize>) -> Result<Vec<Millis>, TableError> {
        Ok(numbers_in(self.table.time(), rows)?)
    }

    fn read_full_numbers(
        &self,
        name: &str,
        rows: Range<usize>,
    ) -> Result<Option<FullNumbers>, TableError> {
        let Some(column) = self.table.column(name) else {
            return Ok(None);
        };
        let range = rows.start as u32..rows.end as u32;
        let has_nulls = |column: &Column<'_>| -> Result<bool, SegmentError> {
            Ok(column.nulls()?.range_cardinality(range.clone()) > 0)
        };
        Ok(match &column {
            Column::Long(values) if !has_nulls(&column)? => {
                Some(FullNumbers::Long(numbers_in(*values, rows)?))
            }
            Column::Double(values) if !has_nulls(&column)? => {
                Some(FullNumbers::Double(numbers_in(*values, rows)?))
            }
            _ => None,
        })
    }

    fn read_column_range(
        &self,
        name: &str,
        rows: Range<usize>,
    ) -> Result<Option<ColumnValues>, TableError> {
        let Some(column) = self.table.column(name) else {
            return Ok(None);
        };
        let nulls = |column: &Column<'_>| -> Result<RoaringBitmap, SegmentError> {
            let mut nulls = column.nulls()?;
            nulls.remove_range(..rows.start as u32);
            nulls.remove_range(rows.end as u32..);
            Ok(nulls)
        };
        let start = rows.start as u32;
        Ok(Some(match &column {
            Column::Long(values) => ColumnValues::Long(with_nulls(
                numbers_in(*values, rows.clone())?,
                nulls(&column)?,
                start,
            )),
            Column::Double(values) => ColumnValues::Double(with_nulls(
                numbers_in(*values, rows.clone())?,
                nulls(&column)?,
                start,
            )),
            Column::String(values) => ColumnValues::String {
                dictionary: self.table.string_values(name)?.unwrap_or_default(),
                rows: ids_in(*values, rows.clone())?,
            },
            Column::Complex(values) => ColumnValues::Complex(with_nulls(
                bytes_in(*values, rows.clone())?,
                nulls(&column)?,
                start,
            )),
            Column::Text(values) => ColumnValues::Text(with_nulls(
                text_in(*values, rows.clone())?,
                nulls(&column)?,
                start,
            )),
        }))
    }

    fn read_column_rows(
        &self,
        name: &str,
        rows: &[usize],
    ) -> Result<Option<ColumnValues>, TableError> {
        if !matches!(self.table.column(name), Some(Column::Text(_))) {
            return read_rows_through_range(self, name, rows);
        }
        // A text block is decompressed frame by frame: rows a frame or more
        // apart are read apart, so the frames between them stay untouched.
        let mut texts = Vec::with_capacity(rows.len());
        for run in rows.chunk_by(|a, b| b - a < TEXT_FRAME_ROWS) {
            if let Some(ColumnValues::Text(values)) = read_rows_through_range(self, name, run)? {
                texts.extend(values);
            }
        }
        Ok(Some(ColumnValues::Text(texts)))
    }

    fn string_dictionary(&self, name: &str) -> Result<Option<Arc<[String]>>, TableError> {
        Ok(self.table.string_values(name)?)
    }

    fn read_string_codes_range(
        &self,
        name: &str,
        rows: Range<usize>,
    ) -> Result<Option<Vec<u32>>, TableError> {
        let Some(Column::String(column)) = self.table.column(name) else {
            return Ok(None);
        };
        if column.is_multi_value() {
            return Ok(None);
        }
        let block_rows = string_block_rows(column);
        let mut codes = Vec::with_capacity(rows.len());
        let mut buffer = Vec::new();
        for (b, part) in blocks_meeting(block_rows, &rows) {
            column.decode_block_codes(b, &mut buffer)?;
            codes.extend_from_slice(buffer.get(part).unwrap_or_default());
        }
        Ok(Some(codes))
    }

    fn string_coupons(&self, name: &str) -> Result<Option<Arc<DictionaryCoupons>>, TableError> {
        Ok(self.table.string_coupons(name)?)
    }

    fn number_rows(
        &self,
        name: &str,
        test: &NumberTest<'_>,
    ) -> Result<Option<ValueRows>, TableError> {
        let matching = match self.table.column(name) {
            Some(Column::Long(column)) => judged_rows(
                column,
                |meta| match (meta.min, meta.max) {
                    (Some(min), Some(max)) => (test.long_block)(min, max),
                    _ => BlockVerdict::NoValue,
                },
                |start, values, rows| match test.long_ranges {
                    // One range, as a bound or a range filter gives: one
                    // unsigned comparison a value.
                    Some([range]) => {
                        let (low, high) = (*range.start(), *range.end());
                        if low <= high {
                            let span = high.wrapping_sub(low) as u64;
                            append_matching(rows, start, values, |value| {
                                value.wrapping_sub(low) as u64 <= span
                            });
                        }
                    }
                    Some(ranges) => append_matching(rows, start, values, |value| {
                        ranges.iter().any(|range| range.contains(&value))
                    }),
                    None => append_matching(rows, start, values, test.long),
                },
            )?,
            Some(Column::Double(column)) => judged_rows(
                column,
                |meta| match (meta.min, meta.max) {
                    // NaN lies outside the recorded range: such a block is
                    // read, never taken whole.
                    (Some(min), Some(max)) => match (test.double_block)(min, max) {
                        BlockVerdict::EveryValue => BlockVerdict::Undecided,
                        verdict => verdict,
                    },
                    _ => BlockVerdict::Undecided,
                },
                |start, values, rows| append_matching(rows, start, values, test.double),
            )?,
            _ => return Ok(None),
        };
        let null = self
            .table
            .column(name)
            .map(|column| column.nulls())
            .transpose()?
            .unwrap_or_default();
        Ok(Some(ValueRows {
            matching: matching - &null,
            null,
        }))
    }

    fn string_value_rows(
        &self,
        name: &str,
        test: &ValueTest<'_>,
    ) -> Result<Option<ValueRows>, TableError> {
        let Some(Column::String(column)) = self.table.column(name) else {
            return Ok(None);
        };
        let dictionary = column.dictionary()?;
        let bitmaps = column.bitmaps();
        let mut matching = RoaringBitmap::new();
        match &test.exactly {
            Some(values) => {
                for value in values {
                    if let Some(id) = dictionary.find(value)? {
                        matching |= bitmaps.bitmap(id)?;
                    }
                }
            }
            None => {
                for (id, value) in (0..).zip(dictionary.iter()) {
                    if test.accepts(value?) {
                        matching |= bitmaps.bitmap(id)?;
                    }
                }
            }
        }
        Ok(Some(ValueRows {
            matching,
            null: column.nulls()?,
        }))
    }
}

impl SegmentTable<'_> {
    fn intervals_rows(&self, intervals: &[Interval]) -> Result<RoaringBitmap, SegmentError> {
        let time = self.table.time();
        let mut rows = RoaringBitmap::new();
        let mut buffer = Vec::new();
        let mut first_row = 0u32;
        for b in 0..time.block_count() {
            let Some(meta) = time.block_meta(b) else {
                break;
            };
            let block_rows = first_row..first_row.saturating_add(meta.rows);
            first_row = block_rows.end;
            let (Some(min), Some(max)) = (meta.min, meta.max) else {
                continue;
            };
            let span = Interval::new(min, max.saturating_add(1)).ok();
            let meets = |interval: &Interval| span.is_none_or(|span| interval.overlaps(&span));
            if !intervals.iter().any(meets) {
                continue;
            }
            let inside = |interval: &Interval| interval.contains(min) && interval.contains(max);
            if intervals.iter().any(inside) {
                rows.insert_range(block_rows);
                continue;
            }
            time.decode_block(b, &mut buffer)?;
            append_matching(&mut rows, block_rows.start, &buffer, |value| {
                intervals.iter().any(|interval| interval.contains(value))
            });
        }
        Ok(rows)
    }
}

/// The rows of a numeric column whose value `test` accepts (null rows may be
/// among them: their slots hold 0), each block judged by `judge` first.
fn judged_rows<T: NumericValue>(
    column: NumericColumn<'_, T>,
    judge: impl Fn(&T::BlockMeta) -> BlockVerdict,
    test_block: impl Fn(u32, &[T], &mut RoaringBitmap),
) -> Result<RoaringBitmap, SegmentError> {
    let mut rows = RoaringBitmap::new();
    let mut buffer = Vec::new();
    let block_rows = numeric_block_rows(column);
    for (b, (start, count)) in block_starts(block_rows).enumerate() {
        let Some(meta) = column.block_meta(b) else {
            break;
        };
        let block = start as u32..(start + count) as u32;
        match judge(meta) {
            BlockVerdict::NoValue => {}
            BlockVerdict::EveryValue => {
                rows.insert_range(block);
            }
            BlockVerdict::Undecided => {
                column.decode_block(b, &mut buffer)?;
                test_block(block.start, &buffer, &mut rows);
            }
        }
    }
    Ok(rows)
}

/// Adds to `rows` the rows, counted from `start`, whose value passes
/// `test`. The rows come after every row already in `rows`, so they are
/// appended rather than inserted one by one.
#[inline]
fn append_matching<T: Copy>(
    rows: &mut RoaringBitmap,
    start: u32,
    values: &[T],
    test: impl Fn(T) -> bool,
) {
    // Without a branch per value: every row is written at the end of the
    // rows kept so far, which grows only past a row that passes — a
    // selective test would otherwise mispredict on most of its matches.
    let mut accepted = vec![0u32; values.len()];
    let mut kept = 0;
    for (row, value) in (start..).zip(values) {
        if let Some(slot) = accepted.get_mut(kept) {
            *slot = row;
        }
        kept += usize::from(test(*value));
    }
    accepted.truncate(kept);
    if rows.append(accepted.iter().copied()).is_err() {
        rows.extend(accepted);
    }
}

/// The row count of each block of a numeric column, from the footer.
fn numeric_block_rows<T: NumericValue>(
    column: NumericColumn<'_, T>,
) -> impl Iterator<Item = u32> + '_ {
    (0..column.block_count()).map(move |b| column.block_meta(b).map_or(0, |meta| meta.rows()))
}

/// The row count of each block of a string column, from the footer.
fn string_block_rows(column: StringColumn<'_>) -> impl Iterator<Item = u32> + '_ {
    (0..column.block_count()).map(move |b| column.block_meta(b).map_or(0, |meta| meta.rows))
}

/// Each block's first row and row count, from the blocks' row counts.
fn block_starts(block_rows: impl Iterator<Item = u32>) -> impl Iterator<Item = (usize, usize)> {
    block_rows.scan(0usize, |start, rows| {
        let block = (*start, rows as usize);
        *start += rows as usize;
        Some(block)
    })
}

/// The blocks that hold rows of `rows`, each with the part of the block
/// (as offsets into it) that lies in `rows`.
fn blocks_meeting(
    block_rows: impl Iterator<Item = u32>,
    rows: &Range<usize>,
) -> impl Iterator<Item = (usize, Range<usize>)> {
    block_starts(block_rows)
        .enumerate()
        .filter_map(move |(b, (start, count))| {
            let from = rows.start.max(start);
            let to = rows.end.min(start + count);
            (from < to).then(|| (b, from - start..to - start))
        })
}

/// The values of a numeric column's rows in `rows` (null rows hold 0).
fn numbers_in<T: NumericValue>(
    column: NumericColumn<'_, T>,
    rows: Range<usize>,
) -> Result<Vec<T>, SegmentError> {
    let block_rows = numeric_block_rows(column);
    let mut values = Vec::with_capacity(rows.len());
    let mut buffer = Vec::new();
    for (b, part) in blocks_meeting(block_rows, &rows) {
        if part.start == 0 && part.len() == column.block_meta(b).map_or(0, |m| m.rows() as usize) {
            column.append_block(b, &mut values)?;
        } else {
            column.decode_block(b, &mut buffer)?;
            values.extend_from_slice(buffer.get(part).unwrap_or_default());
        }
    }
    Ok(values)
}

/// The dictionary ids of a string column's rows in `rows` (none: null).
fn ids_in(column: StringColumn<'_>, rows: Range<usize>) -> Result<Vec<Vec<u32>>, SegmentError> {
    let block_rows = string_block_rows(column);
    let mut ids_of_rows = Vec::with_capacity(rows.len());
    let (mut lengths, mut ids) = (Vec::new(), Vec::new());
    for (b, part) in blocks_meeting(block_rows, &rows) {
        if column.is_multi_value() {
            column.decode_block_multi(b, &mut lengths, &mut ids)?;
            let mut at = 0;
            for (row, &length) in lengths.iter().enumerate() {
                let end = at + length as usize;
                if part.contains(&row) {
                    ids_of_rows.push(ids.get(at..end).unwrap_or_default().to_vec());
                }
                at = end;
            }
        } else {
            column.decode_block_codes(b, &mut ids)?;
            let codes = ids.get(part).unwrap_or_default();
            ids_of_rows.extend(
                codes
                    .iter()
                    .map(|&code| code.checked_sub(1).into_iter().collect()),
            );
        }
    }
    Ok(ids_of_rows)
}

/// The bytes of a complex column's rows in `rows` (null rows are empty).
fn bytes_in(column: ComplexColumn<'_>, rows: Range<usize>) -> Result<Vec<Vec<u8>>, SegmentError> {
    let block_rows = (0..column.block_count()).map(|b| column.block_rows(b).unwrap_or(0));
    let mut values = Vec::with_capacity(rows.len());
    for (b, part) in blocks_meeting(block_rows, &rows) {
        let block = column.decode_block(b)?;
        values.extend(part.map(|i| block.get(i).unwrap_or_default().to_vec()));
    }
    Ok(values)
}

fn text_in(column: TextColumn<'_>, rows: Range<usize>) -> Result<Vec<String>, SegmentError> {
    let block_rows = (0..column.block_count()).map(|b| column.block_rows(b).unwrap_or(0));
    let mut values = Vec::with_capacity(rows.len());
    for (b, part) in blocks_meeting(block_rows, &rows) {
        let block = column.decode_block_rows(b, part.clone())?;
        values.extend((0..part.len()).map(|i| block.get(i).to_owned()));
    }
    Ok(values)
}

/// `values` — rows `first_row..` of their column — with the rows of
/// `nulls` made `None`.
fn with_nulls<T>(values: Vec<T>, nulls: RoaringBitmap, first_row: u32) -> Vec<Option<T>> {
    // Null rows are few or none: set them once, rather than asking the
    // bitmap about every row.
    let mut cells: Vec<Option<T>> = values.into_iter().map(Some).collect();
    for row in &nulls {
        if let Some(cell) = row
            .checked_sub(first_row)
            .and_then(|offset| cells.get_mut(offset as usize))
        {
            *cell = None;
        }
    }
    cells
}

#[cfg(test)]
mod tests {
    use strata_storage::segment::{
        CellValue, ColumnKind, ColumnSchema, Segment, SegmentWriter, TableSchema,
    };

    use super::*;
    use crate::mem_table::MemTableBuilder;

    /// Rows over several blocks, times rising with repeats, so that
    /// intervals take whole blocks, skip others and cut through some.
    #[test]
    fn intervals_and_value_rows_agree_with_reading_every_row() {
        let rows = 3 * 65_536 + 123;
        let time = |row: u32| i64::from(row / 3) * 7;
        let host = |row: u32| match row % 5 {
            0 => None,
            n => Some(["a", "b", "c", "d"][n as usize - 1]),
        };
        let schema = TableSchema::new(vec![
            ColumnSchema::new("host", ColumnKind::String { multi_value: false }),
            ColumnSchema::new("n", ColumnKind::Long),
            ColumnSchema::new("d", ColumnKind::Double),
        ])
        .unwrap();
        // Rising in the first blocks, then constant, with nulls and NaN.
        let n = |row: u32| (!row.is_multiple_of(11)).then(|| i64::from(row.min(140_000) / 1000));
        let d = |row: u32| match row % 13 {
            0 => None,
            1 if row > 190_000 => Some(f64::NAN),
            _ => Some(f64::from(row) / 1000.0),
        };
        let dir = tempfile::tempdir().unwrap();
        let mut segment = SegmentWriter::create(&dir.path().join("s")).unwrap();
        let mut writer = segment.table(TableKind::Events, schema.clone()).unwrap();
        let mut memory = MemTableBuilder::new(TableKind::Events, schema);
        for row in 0..rows {
            let cells = [
                host(row).map_or(CellValue::Null, CellValue::Str),
                n(row).map_or(CellValue::Null, CellValue::Long),
                d(row).map_or(CellValue::Null, CellValue::Double),
            ];
            writer.append_row(time(row), &cells).unwrap();
            memory.append_row(time(row), &cells).unwrap();
        }
        segment.add_table(writer.finish().unwrap());
        segment.finish().unwrap();
        let opened = Segment::open(&dir.path().join("s")).unwrap();
        let stored = SegmentTable::new(opened.table(TableKind::Events).unwrap());
        let memory = memory.finish();

        let last = time(rows - 1);
        let interval = |start: i64, end: i64| Interval::new(start, end).unwrap();
        for intervals in [
            vec![interval(0, last + 1)],
            vec![interval(-100, 0)],
            vec![interval(7, 8), interval(last, last + 7)],
            vec![interval(152_000, 153_000), interval(300_000, 460_000)],
            vec![interval(time(65_536), time(2 * 65_536))],
        ] {
            let expected = memory.rows_in_intervals(&intervals).unwrap();
            assert!(!expected.is_empty() || intervals[0].end() <= 0);
            assert_eq!(stored.rows_in_intervals(&intervals).unwrap(), expected);
        }
        for (exactly, accepts) in [
            (
                Some(vec!["b", "zz"]),
                &(|v: &str| v == "b" || v == "zz") as &dyn Fn(&str) -> bool,
            ),
            (None, &|v: &str| v > "b"),
        ] {
            let test = ValueTest { exactly, accepts };
            let expected = memory.string_value_rows("host", &test).unwrap().unwrap();
            assert!(!expected.matching.is_empty() && !expected.null.is_empty());
            assert_eq!(
                stored.string_value_rows("host", &test).unwrap(),
                Some(expected)
            );
        }
        let between = |low: f64, high: f64| {
            move |min: f64, max: f64| {
                if max < low || min > high {
                    BlockVerdict::NoValue
                } else if min >= low && max <= high {
                    BlockVerdict::EveryValue
                } else {
                    BlockVerdict::Undecided
                }
            }
        };
        for (low, high) in [(10.0, 20.0), (0.0, 1e9), (139.0, 141.0), (-5.0, -1.0)] {
            let long_block = between(low, high);
            let long_block = move |min: i64, max: i64| long_block(min as f64, max as f64);
            let double_block = between(low, high);
            let long = move |value: i64| (low..=high).contains(&(value as f64));
            let double = move |value: f64| (low..=high).contains(&value);
            let test = NumberTest {
                long_block: &long_block,
                double_block: &double_block,
                long: &long,
                double: &double,
                long_ranges: None,
            };
            for column in ["n", "d"] {
                let expected = memory.number_rows(column, &test).unwrap().unwrap();
                assert!(!expected.null.is_empty());
                assert_eq!(stored.number_rows(column, &test).unwrap(), Some(expected));
            }
        }
        assert_eq!(
            stored
                .string_value_rows(
                    "missing",
                    &ValueTest {
                        exactly: None,
                        accepts: &|_| true
                    }
                )
                .unwrap(),
            None
        );
    }
}
