//! The table interface: how the query engine reads rows, wherever they live.
//!
//! A query reads *tables* (DESIGN.md, "Tables inside a segment"): the events
//! or rollup table of a published segment, or the same table of a time chunk
//! still in the real-time index. Both look the same through
//! [`TableSource`] — the kind of table, its schema, its rows and time range,
//! and each column decoded into [`ColumnValues`] — so the executor never asks
//! where a table came from, and an event reads the same before and after its
//! chunk is persisted.
//!
//! Implementations: [`SegmentTable`](crate::segment_table::SegmentTable) over
//! a memory-mapped segment table, and [`MemTable`](crate::mem_table::MemTable),
//! built row by row in memory (the ingest crate builds one per real-time
//! chunk with the same row producer that writes segments).

use std::ops::{Range, RangeInclusive};
use std::sync::Arc;

use roaring::RoaringBitmap;
use strata_storage::metric_cell::distinct::DictionaryCoupons;
use strata_storage::segment::bitmap_index::BitmapIndex;
use strata_storage::segment::{SegmentError, TableKind, TableSchema};
use strata_storage::text_index::{TextIndexError, TextQueryError};
use strata_storage::time::{Interval, Millis};

/// One table a query reads. See the [module docs](self).
pub trait TableSource: Send + Sync {
    /// Whether this is an events table or a rollup table.
    fn kind(&self) -> TableKind;

    /// The columns besides `__time`, with their kinds.
    fn schema(&self) -> &TableSchema;

    fn rows(&self) -> usize;

    /// The smallest and largest `__time`; `None` when the table is empty.
    fn time_range(&self) -> Option<(Millis, Millis)>;

    /// Every row's `__time`, in row order.
    fn read_time(&self) -> Result<Vec<Millis>, TableError>;

    /// Every row's value of column `name`, decoded; `None` when the table has
    /// no such column (a dimension added after the table was written reads
    /// as null everywhere, which is the caller's to decide).
    fn read_column(&self, name: &str) -> Result<Option<ColumnValues>, TableError>;

    /// For long or double column `name`: the rows whose value `test`
    /// accepts, and the null rows. `None` when the table has no numeric
    /// column of that name.
    ///
    /// The default decodes the column and tests every value; a table that
    /// knows each block's smallest and largest value (a segment) lets `test`
    /// judge whole blocks first, and decodes only those it cannot judge.
    fn number_rows(
        &self,
        name: &str,
        test: &NumberTest<'_>,
    ) -> Result<Option<ValueRows>, TableError> {
        let (mut matching, mut null) = (Vec::new(), Vec::new());
        let mut sort = |row: u32, matches: Option<bool>| match matches {
            None => null.push(row),
            Some(true) => matching.push(row),
            Some(false) => {}
        };
        match self.read_column(name)? {
            Some(ColumnValues::Long(values)) => {
                for (row, value) in (0..=u32::MAX).zip(values) {
                    sort(row, value.map(|value| (test.long)(value)));
                }
            }
            Some(ColumnValues::Double(values)) => {
                for (row, value) in (0..=u32::MAX).zip(values) {
                    sort(row, value.map(|value| (test.double)(value)));
                }
            }
            _ => return Ok(None),
        }
        // The rows are in order, so the bitmaps build from sorted lists.
        let bitmap = |rows: Vec<u32>| RoaringBitmap::from_sorted_iter(rows).unwrap_or_default();
        Ok(Some(ValueRows {
            matching: bitmap(matching),
            null: bitmap(null),
        }))
    }

    /// The runs of rows the table reads in one piece (a segment's row
    /// blocks), in order, covering every row. A query folds a long table a
    /// run at a time, so that what it decodes stays small.
    fn row_blocks(&self) -> Vec<Range<usize>> {
        std::iter::once(0..self.rows()).collect()
    }

    /// [`read_time`](Self::read_time) of the rows in `rows` only.
    fn read_time_range(&self, rows: Range<usize>) -> Result<Vec<Millis>, TableError> {
        let times = self.read_time()?;
        Ok(times.get(rows).unwrap_or_default().to_vec())
    }

    /// Long or double column `name` over the rows in `rows` when each of
    /// them holds a value: the numbers alone, without a per-row null flag
    /// to test, which is what summing a column wants. `None` when the table
    /// cannot say so cheaply (the default), has no such numeric column, or
    /// some row in `rows` is null — read the column then.
    fn read_full_numbers(
        &self,
        _name: &str,
        _rows: Range<usize>,
    ) -> Result<Option<FullNumbers>, TableError> {
        Ok(None)
    }

    /// [`read_column`](Self::read_column) of the rows in `rows` only.
    fn read_column_range(
        &self,
        name: &str,
        rows: Range<usize>,
    ) -> Result<Option<ColumnValues>, TableError> {
        Ok(self.read_column(name)?.map(|values| values.slice(rows)))
    }

    /// [`read_column`](Self::read_column) of the rows in `rows` only, given
    /// in increasing order without repeats: value `i` of the answer is row
    /// `rows[i]`'s. What a scan returning a few scattered rows asks for; by
    /// default, the range from the first row to the last is read.
    fn read_column_rows(
        &self,
        name: &str,
        rows: &[usize],
    ) -> Result<Option<ColumnValues>, TableError> {
        read_rows_through_range(self, name, rows)
    }

    /// The sorted values of string column `name`: dictionary id `i` is
    /// value `i`. `None` when the table has no string column of that name.
    fn string_dictionary(&self, name: &str) -> Result<Option<Arc<[String]>>, TableError> {
        Ok(match self.read_column_range(name, 0..0)? {
            Some(ColumnValues::String { dictionary, .. }) => Some(dictionary),
            _ => None,
        })
    }

    /// The rows in `rows` of a string column of one value per row at most,
    /// as codes: 0 for null, `id + 1` for dictionary id `id`. `None` when
    /// the table has no such column — no column of that name, not a string
    /// column, or a row with several values.
    fn read_string_codes_range(
        &self,
        name: &str,
        rows: Range<usize>,
    ) -> Result<Option<Vec<u32>>, TableError> {
        let Some(ColumnValues::String { rows, .. }) = self.read_column_range(name, rows)? else {
            return Ok(None);
        };
        Ok(rows
            .iter()
            .map(|ids| match ids.as_slice() {
                [] => Some(0),
                [id] => id.checked_add(1),
                _ => None,
            })
            .collect())
    }

    /// The HLL coupon of each dictionary value of string column `name`, by
    /// dictionary id: what a distinct count of the column counts for a
    /// row, looked up by the codes of
    /// [`read_string_codes_range`](Self::read_string_codes_range) rather
    /// than hashed from each row's text. `None` when the table has no
    /// string column of that name.
    ///
    /// The default hashes the dictionary on every call; a segment hashes it
    /// once and keeps it.
    fn string_coupons(&self, name: &str) -> Result<Option<Arc<DictionaryCoupons>>, TableError> {
        Ok(self
            .string_dictionary(name)?
            .map(|dictionary| Arc::new(dictionary.iter().map(String::as_str).collect())))
    }

    /// The rows whose `__time` lies in any of `intervals`.
    ///
    /// The default reads every row's time; a table that knows the time range
    /// of its blocks answers whole blocks without decoding them.
    fn rows_in_intervals(&self, intervals: &[Interval]) -> Result<RoaringBitmap, TableError> {
        let times = self.read_time()?;
        let mut rows = RoaringBitmap::new();
        for (row, time) in (0..=u32::MAX).zip(&times) {
            if intervals.iter().any(|interval| interval.contains(*time)) {
                rows.insert(row);
            }
        }
        Ok(rows)
    }

    /// Whether the rows are in `__time` order, each no earlier than the row
    /// before it — a promise kept by how the table was built, not a guess
    /// from its data: then the latest row holding a value is the last one,
    /// the earliest the first. The default promises nothing.
    fn rows_in_time_order(&self) -> bool {
        false
    }

    /// The rows whose text matches `query` (Lucene syntax, see
    /// [`Filter::FullText`](crate::plan::Filter::FullText)) in `fields`
    /// (none: every text column), found by the table's full-text index.
    /// `None` when the table has no text index (the default) — then no row
    /// matches.
    fn fulltext_rows(
        &self,
        _query: &str,
        _fields: &[String],
    ) -> Result<Option<RoaringBitmap>, TableError> {
        Ok(None)
    }

    /// The bitmap index of string column `name`: the rows holding each
    /// dictionary id, read without decoding the column. `None` when the
    /// table keeps no index of that column (the default) or has no string
    /// column of that name.
    fn string_bitmaps(&self, _name: &str) -> Option<BitmapIndex<'_>> {
        None
    }

    /// For string column `name`: the rows holding a value `test` accepts,
    /// and the null rows. `None` when the table has no string column of
    /// that name.
    ///
    /// The default decodes the column and tests each dictionary value once;
    /// a table with an inverted index (a segment's bitmaps) unions the
    /// bitmaps of the accepted values instead, and touches no row.
    fn string_value_rows(
        &self,
        name: &str,
        test: &ValueTest<'_>,
    ) -> Result<Option<ValueRows>, TableError> {
        Ok(match self.read_column(name)? {
            Some(ColumnValues::String { dictionary, rows }) => {
                Some(ValueRows::of_ids(&dictionary, &rows, test))
            }
            _ => None,
        })
    }
}

/// What a condition on a numeric column says of a block of rows, judged
/// from the block's smallest and largest value alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockVerdict {
    /// No value between them is accepted: the block is skipped.
    NoValue,
    /// Every value between them is accepted: the block is taken whole.
    EveryValue,
    /// The values must be read.
    Undecided,
}

/// A condition on a numeric column's non-null values.
pub struct NumberTest<'a> {
    /// Judges a block of a long column by its smallest and largest value.
    pub long_block: &'a dyn Fn(i64, i64) -> BlockVerdict,
    /// Judges a block of a double column by its smallest and largest value
    /// other than NaN (a block with NaN is never taken whole).
    pub double_block: &'a dyn Fn(f64, f64) -> BlockVerdict,
    pub long: &'a dyn Fn(i64) -> bool,
    pub double: &'a dyn Fn(f64) -> bool,
    /// When `long` accepts exactly the longs in these ranges: a table may
    /// then test a block of longs in one tight loop instead of calling
    /// `long` per value.
    pub long_ranges: Option<&'a [RangeInclusive<i64>]>,
}

/// Which values of a string column a condition accepts.
pub struct ValueTest<'a> {
    /// When the condition accepts exactly these values (an equality or an
    /// `IN` list), so a sorted dictionary can look them up instead of
    /// testing every value.
    pub exactly: Option<Vec<&'a str>>,
    /// The test itself, for any value.
    pub accepts: &'a dyn Fn(&str) -> bool,
}

impl ValueTest<'_> {
    pub fn accepts(&self, value: &str) -> bool {
        (self.accepts)(value)
    }
}

/// What [`TableSource::string_value_rows`] answers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ValueRows {
    /// Rows with at least one accepted value (a multi-value row matches when
    /// any of its values does).
    pub matching: RoaringBitmap,
    /// Rows with no value.
    pub null: RoaringBitmap,
}

impl ValueRows {
    /// From a decoded string column: each dictionary value is tested once,
    /// then each row looks its ids up. An id past the dictionary (which a
    /// table that checks its columns never gives) is not accepted.
    pub fn of_ids(dictionary: &[String], rows: &[Vec<u32>], test: &ValueTest<'_>) -> Self {
        let accepted: Vec<bool> = dictionary.iter().map(|value| test.accepts(value)).collect();
        let mut value_rows = ValueRows::default();
        for (row, ids) in (0..=u32::MAX).zip(rows) {
            if ids.is_empty() {
                value_rows.null.insert(row);
            } else if ids
                .iter()
                .any(|&id| accepted.get(id as usize).copied().unwrap_or(false))
            {
                value_rows.matching.insert(row);
            }
        }
        value_rows
    }
}

/// A numeric column's values over rows that each hold one, in row order.
#[derive(Debug, Clone, PartialEq)]
pub enum FullNumbers {
    Long(Vec<i64>),
    Double(Vec<f64>),
}

/// One column's values, one per row, in row order.
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnValues {
    Long(Vec<Option<i64>>),
    Double(Vec<Option<f64>>),
    /// A string column, dictionary-encoded: the distinct values, sorted, and
    /// for each row the ids of its values in the order stored (none: null;
    /// several: a multi-value row). The dictionary is shared: a segment's
    /// is made once and kept with the open segment.
    String {
        dictionary: Arc<[String]>,
        rows: Vec<Vec<u32>>,
    },
    Text(Vec<Option<String>>),
    /// A complex column (sketches, first/last pairs): each row's bytes.
    Complex(Vec<Option<Vec<u8>>>),
}

impl ColumnValues {
    /// How many rows the column has.
    pub fn len(&self) -> usize {
        match self {
            ColumnValues::Long(values) => values.len(),
            ColumnValues::Double(values) => values.len(),
            ColumnValues::String { rows, .. } => rows.len(),
            ColumnValues::Text(values) => values.len(),
            ColumnValues::Complex(values) => values.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The values of the rows in `rows` (those past the end are left out);
    /// a string column keeps its whole dictionary.
    pub fn slice(self, rows: Range<usize>) -> ColumnValues {
        fn cut<T>(mut values: Vec<T>, rows: Range<usize>) -> Vec<T> {
            let end = rows.end.min(values.len());
            values.truncate(end);
            values.drain(..rows.start.min(end));
            values
        }
        match self {
            ColumnValues::Long(values) => ColumnValues::Long(cut(values, rows)),
            ColumnValues::Double(values) => ColumnValues::Double(cut(values, rows)),
            ColumnValues::String {
                dictionary,
                rows: ids,
            } => ColumnValues::String {
                dictionary,
                rows: cut(ids, rows),
            },
            ColumnValues::Text(values) => ColumnValues::Text(cut(values, rows)),
            ColumnValues::Complex(values) => ColumnValues::Complex(cut(values, rows)),
        }
    }

    /// The values of the rows at `offsets`, in that order, each taken once
    /// (those past the end are left out); a string column keeps its whole
    /// dictionary.
    pub fn select(self, offsets: impl Iterator<Item = usize>) -> ColumnValues {
        fn take<T: Default>(mut values: Vec<T>, offsets: impl Iterator<Item = usize>) -> Vec<T> {
            offsets
                .filter_map(|offset| values.get_mut(offset).map(std::mem::take))
                .collect()
        }
        match self {
            ColumnValues::Long(values) => ColumnValues::Long(take(values, offsets)),
            ColumnValues::Double(values) => ColumnValues::Double(take(values, offsets)),
            ColumnValues::String {
                dictionary,
                rows: ids,
            } => ColumnValues::String {
                dictionary,
                rows: take(ids, offsets),
            },
            ColumnValues::Text(values) => ColumnValues::Text(take(values, offsets)),
            ColumnValues::Complex(values) => ColumnValues::Complex(take(values, offsets)),
        }
    }
}

/// [`TableSource::read_column_rows`] by reading the range from the first of
/// `rows` to the last.
pub fn read_rows_through_range<T: TableSource + ?Sized>(
    table: &T,
    name: &str,
    rows: &[usize],
) -> Result<Option<ColumnValues>, TableError> {
    let (Some(&first), Some(&last)) = (rows.first(), rows.last()) else {
        return table.read_column_range(name, 0..0);
    };
    let values = table.read_column_range(name, first..last + 1)?;
    Ok(values.map(|values| values.select(rows.iter().map(|row| row - first))))
}

/// Why a table could not be read or built.
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    #[error(transparent)]
    Segment(#[from] SegmentError),
    /// A full-text search failed: the query's fault (it does not parse, or
    /// names a field that is not a text dimension) or the index's.
    #[error(transparent)]
    TextQuery(#[from] TextQueryError),
    #[error("building the in-memory text index of a real-time table: {0}")]
    TextIndex(#[from] TextIndexError),
    #[error(
        "a row has {found} cells for a table of {expected} columns; give one cell per schema column"
    )]
    CellCount { expected: usize, found: usize },
    #[error("column `{column}` is {kind} and cannot hold {cell}")]
    CellKind {
        column: String,
        kind: &'static str,
        cell: &'static str,
    },
}
