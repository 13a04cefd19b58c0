//! First/last cells: a value and the time of the event it came from.
//!
//! A [`Timed`] pair is 16 bytes: the event time (epoch milliseconds, `i64`
//! little-endian) then the value (`i64` little-endian, or the IEEE 754 bits
//! of the `f64`, little-endian). It borrows Druid's type names
//! (`serializablePairLongLong`, `serializablePairLongDouble`), not Druid's
//! byte layout.
//!
//! The time is the event's own, not the row's: rollup truncates a row's
//! `__time`, so without it two rows of the same truncated time could not be
//! merged again (compaction) nor combined at query time.

use crate::time::Millis;

/// The size of an encoded [`Timed`] pair.
pub const TIMED_BYTES: usize = 16;

/// A first/last value with the time of the event it came from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timed<T> {
    pub time: Millis,
    pub value: T,
}

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
