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

use strata_storage::segment::{SegmentError, TableKind, TableSchema};
use strata_storage::time::Millis;

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
}

/// One column's values, one per row, in row order.
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnValues {
    Long(Vec<Option<i64>>),
    Double(Vec<Option<f64>>),
    /// A string column, dictionary-encoded: the distinct values, sorted, and
    /// for each row the ids of its values in the order stored (none: null;
    /// several: a multi-value row).
    String {
        dictionary: Vec<String>,
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
}

/// Why a table could not be read or built.
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    #[error(transparent)]
    Segment(#[from] SegmentError),
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
