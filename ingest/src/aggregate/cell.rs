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
//! A [`Timed`] pair is 16 bytes: the event time (epoch milliseconds, `i64`
//! little-endian) then the value (`i64` little-endian, or the IEEE 754 bits
//! of the `f64`, little-endian). It borrows Druid's type name, not Druid's
//! byte layout.

use strata_storage::segment::CellValue;
use strata_storage::time::Millis;

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

/// The size of an encoded [`Timed`] pair.
pub const TIMED_BYTES: usize = 16;

/// A first/last value with the time of the event it came from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timed<T> {
    pub time: Millis,
    pub value: T,
}

/// The two halves of an encoded pair, or `None` if it is not 16 bytes.
fn split_pair(bytes: &[u8]) -> Option<([u8; 8], [u8; 8])> {
    let pair: &[u8; TIMED_BYTES] = bytes.try_into().ok()?;
    let (time, value) = pair.split_at(8);
    Some((time.try_into().ok()?, value.try_into().ok()?))
}

fn join_pair(time: Millis, value: [u8; 8]) -> [u8; TIMED_BYTES] {
    let mut bytes = [0; TIMED_BYTES];
    let (time_half, value_half) = bytes.split_at_mut(8);
    time_half.copy_from_slice(&time.to_le_bytes());
    value_half.copy_from_slice(&value);
    bytes
}

impl Timed<i64> {
    /// The `serializablePairLongLong` encoding.
    pub fn to_bytes(&self) -> [u8; TIMED_BYTES] {
        join_pair(self.time, self.value.to_le_bytes())
    }

    /// Reads [`to_bytes`](Self::to_bytes)' output; `None` unless `bytes` is
    /// exactly 16 bytes long.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let (time, value) = split_pair(bytes)?;
        Some(Timed {
            time: i64::from_le_bytes(time),
            value: i64::from_le_bytes(value),
        })
    }
}

impl Timed<f64> {
    /// The `serializablePairLongDouble` encoding.
    pub fn to_bytes(&self) -> [u8; TIMED_BYTES] {
        join_pair(self.time, self.value.to_bits().to_le_bytes())
    }

    /// Reads [`to_bytes`](Self::to_bytes)' output; `None` unless `bytes` is
    /// exactly 16 bytes long.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let (time, value) = split_pair(bytes)?;
        Some(Timed {
            time: i64::from_le_bytes(time),
            value: f64::from_bits(u64::from_le_bytes(value)),
        })
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
