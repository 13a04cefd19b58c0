//! What a metric stores in its rollup-table column, byte for byte.
//!
//! | aggregator | column kind | cell |
//! | --- | --- | --- |
//! | `count`, `longSum`, `longMin`, `longMax` | `long` | the long; null when no input was seen (never for `count`) |
//! | `doubleSum`, `doubleMin`, `doubleMax` | `double` | the double; null when no input was seen |
//! | `longFirst`, `longLast` | `complex` `serializablePairLongLong` | a [`Timed`] pair, 16 bytes; null when no input was seen |
//! | `doubleFirst`, `doubleLast` | `complex` `serializablePairLongDouble` | a [`Timed`] pair, 16 bytes; null when no input was seen |
//! | `HLLSketchBuild` | `complex` `HLLSketch` | the DataSketches HLL image (empty sketch when no input was seen) |
//! | `quantilesDoublesSketch` | `complex` `quantilesDoublesSketch` | the DataSketches KLL-doubles image (empty sketch when no input was seen) |
//!
//! First and last keep the event time next to the value, as Druid's
//! segments do: without it two rows of the same truncated time could not be
//! merged again (compaction) nor combined at query time, since the row's
//! `__time` is truncated and no longer says which value came first.
//!
//! The byte formats of the pairs and sketches belong to storage
//! ([`strata_storage::metric_cell`]), which the query path reads them with.

pub use strata_storage::metric_cell::{TIMED_BYTES, Timed};
use strata_storage::segment::CellValue;

/// The value a metric stores in one row of its rollup-table column. Owned,
/// since sketches are serialized on demand; first/last pairs are inline, so a
/// row of numeric metrics is written without allocating.
#[derive(Debug, Clone, PartialEq)]
pub enum MetricCell {
    Null,
    Long(i64),
    Double(f64),
    /// A first/last pair: see [`Timed::to_bytes`].
    Pair([u8; TIMED_BYTES]),
    /// A serialized sketch.
    Sketch(Vec<u8>),
}

impl MetricCell {
    /// The cell as the segment writer takes it.
    pub fn as_cell_value(&self) -> CellValue<'_> {
        match self {
            MetricCell::Null => CellValue::Null,
            MetricCell::Long(value) => CellValue::Long(*value),
            MetricCell::Double(value) => CellValue::Double(*value),
            MetricCell::Pair(bytes) => CellValue::Bytes(bytes),
            MetricCell::Sketch(bytes) => CellValue::Bytes(bytes),
        }
    }
}

/// How a stored cell is named in error messages.
pub(super) fn cell_kind_name(cell: &CellValue<'_>) -> &'static str {
    match cell {
        CellValue::Null => "null",
        CellValue::Long(_) => "a long",
        CellValue::Double(_) => "a double",
        CellValue::Str(_) => "a string",
        CellValue::Strs(_) => "a multi-value string",
        CellValue::Bytes(_) => "bytes",
    }
}
