//! Time as Strata stores it: milliseconds since the Unix epoch, UTC.
//!
//! Every timestamp inside Strata — the `__time` column, segment bounds, query
//! intervals — is an `i64` count of milliseconds since 1970-01-01T00:00:00Z, as
//! in Druid. An [`Interval`] is half-open, `[start, end)`, so the time chunks of
//! a granularity tile the time line without overlapping.

use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

/// Milliseconds since the Unix epoch, UTC.
pub type Millis = i64;

/// A half-open time interval `[start, end)` in epoch milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Interval {
    start: Millis,
    end: Millis,
}

/// The error for an interval whose end is before its start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("interval end {end} is before its start {start}")]
pub struct InvalidInterval {
    pub start: Millis,
    pub end: Millis,
}

impl Interval {
    /// The interval `[start, end)`; `end` may equal `start` (an empty interval).
    pub fn new(start: Millis, end: Millis) -> Result<Self, InvalidInterval> {
        if end < start {
            return Err(InvalidInterval { start, end });
        }
        Ok(Self { start, end })
    }

    /// Every representable instant.
    pub const ETERNITY: Interval = Interval {
        start: Millis::MIN,
        end: Millis::MAX,
    };

    pub fn start(&self) -> Millis {
        self.start
    }

    pub fn end(&self) -> Millis {
        self.end
    }

    pub fn contains(&self, t: Millis) -> bool {
        self.start <= t && t < self.end
    }

    pub fn overlaps(&self, other: &Interval) -> bool {
        self.start < other.end && other.start < self.end
    }

    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }
}

impl fmt::Display for Interval {
    /// ISO-8601 `start/end`, the way Druid prints intervals.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", format_millis(self.start), format_millis(self.end))
    }
}

/// Formats epoch milliseconds as ISO-8601 UTC with milliseconds (`2024-01-01T00:00:00.000Z`).
pub fn format_millis(t: Millis) -> String {
    match DateTime::<Utc>::from_timestamp_millis(t) {
        Some(dt) => dt.to_rfc3339_opts(SecondsFormat::Millis, true),
        None => t.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_open() {
        let i = Interval::new(10, 20).unwrap();
        assert!(i.contains(10));
        assert!(!i.contains(20));
        assert!(i.overlaps(&Interval::new(19, 30).unwrap()));
        assert!(!i.overlaps(&Interval::new(20, 30).unwrap()));
        assert!(Interval::new(5, 4).is_err());
    }

    #[test]
    fn displays_as_iso() {
        let i = Interval::new(1_704_067_200_000, 1_704_153_600_000).unwrap();
        assert_eq!(
            i.to_string(),
            "2024-01-01T00:00:00.000Z/2024-01-02T00:00:00.000Z"
        );
    }
}
