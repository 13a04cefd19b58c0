//! Time as Strata stores it: milliseconds since the Unix epoch, UTC.
//!
//! Every timestamp inside Strata — the `__time` column, segment bounds, query
//! intervals — is an `i64` count of milliseconds since 1970-01-01T00:00:00Z, as
//! in Druid. An [`Interval`] is half-open, `[start, end)`, so the time chunks of
//! a granularity tile the time line without overlapping.
//!
//! Instants written in specs (intervals, granularity origins, a timestamp's
//! `missingValue`) are read by one parser, `parse_iso_instant`, which accepts
//! the forms Druid accepts.

use std::fmt;

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

/// Milliseconds since the Unix epoch, UTC.
pub type Millis = i64;

// The fixed-length units, in milliseconds; calendar units (months, and days in
// a zone with daylight saving) have no fixed length and are the business of
// `granularity`.
pub(crate) const MILLIS_PER_SECOND: i64 = 1_000;
pub(crate) const MILLIS_PER_MINUTE: i64 = 60 * MILLIS_PER_SECOND;
pub(crate) const MILLIS_PER_HOUR: i64 = 60 * MILLIS_PER_MINUTE;
pub(crate) const MILLIS_PER_DAY: i64 = 24 * MILLIS_PER_HOUR;

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
        write!(
            f,
            "{}/{}",
            format_millis(self.start),
            format_millis(self.end)
        )
    }
}

/// Formats epoch milliseconds as ISO-8601 UTC with milliseconds (`2024-01-01T00:00:00.000Z`).
pub fn format_millis(t: Millis) -> String {
    match DateTime::<Utc>::from_timestamp_millis(t) {
        Some(dt) => dt.to_rfc3339_opts(SecondsFormat::Millis, true),
        None => t.to_string(),
    }
}

/// Parses an ISO-8601 instant the way Druid (Joda-Time) reads them in specs:
/// `2024-01-01T00:30:00Z`, `2024-01-01T00:30:00.123+05:30`, `2024-01-01T00:30`,
/// `2024-01-01`; a time without a zone is UTC.
pub(crate) fn parse_iso_instant(text: &str) -> Option<Millis> {
    let text = text.trim();
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Some(at.timestamp_millis());
    }
    let (local, offset_seconds) = split_zone(text)?;
    let naive = NaiveDateTime::parse_from_str(local, "%Y-%m-%dT%H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(local, "%Y-%m-%dT%H:%M"))
        .or_else(|_| {
            NaiveDate::parse_from_str(local, "%Y-%m-%d").map(|date| date.and_time(NaiveTime::MIN))
        })
        .ok()?;
    Some(naive.and_utc().timestamp_millis() - offset_seconds * MILLIS_PER_SECOND)
}

/// Splits a trailing `Z` or `±HH:MM` off an ISO time; no suffix means UTC.
fn split_zone(text: &str) -> Option<(&str, i64)> {
    if let Some(local) = text.strip_suffix(['Z', 'z']) {
        return Some((local, 0));
    }
    let bytes = text.as_bytes();
    let sign_at = bytes.len().checked_sub(6)?;
    let sign = match bytes.get(sign_at) {
        Some(b'+') => 1,
        Some(b'-') => -1,
        _ => return Some((text, 0)),
    };
    if bytes.get(sign_at + 3) != Some(&b':') {
        return Some((text, 0));
    }
    let hours: i64 = text.get(sign_at + 1..sign_at + 3)?.parse().ok()?;
    let minutes: i64 = text.get(sign_at + 4..)?.parse().ok()?;
    Some((text.get(..sign_at)?, sign * (hours * 3600 + minutes * 60)))
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

    #[test]
    fn iso_instants_in_druid_forms() {
        assert_eq!(parse_iso_instant("1970-01-01T00:00:01Z"), Some(1_000));
        assert_eq!(parse_iso_instant("1970-01-01T00:00:01.5Z"), Some(1_500));
        assert_eq!(parse_iso_instant("1970-01-01T05:30:00+05:30"), Some(0));
        assert_eq!(parse_iso_instant("1970-01-01T00:30"), Some(1_800_000));
        assert_eq!(parse_iso_instant("1970-01-02"), Some(MILLIS_PER_DAY));
        assert_eq!(
            parse_iso_instant("1970-01-01T00:00:00-01:00"),
            Some(3_600_000)
        );
        assert_eq!(parse_iso_instant("noon"), None);
    }
}
