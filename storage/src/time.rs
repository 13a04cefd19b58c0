//! Time as Strata stores it: milliseconds since the Unix epoch, UTC.
//!
//! Every timestamp inside Strata — the `__time` column, segment bounds, query
//! intervals — is an `i64` count of milliseconds since 1970-01-01T00:00:00Z, as
//! in Druid. An [`Interval`] is half-open, `[start, end)`, so the time chunks of
//! a granularity tile the time line without overlapping.
//!
//! Instants written as text — in specs (intervals, granularity origins, a
//! timestamp's `missingValue`) and in events — are read by one parser,
//! [`parse_iso_instant`], which accepts the forms Druid accepts.

use std::fmt;

use chrono::{DateTime, NaiveDate, NaiveTime, SecondsFormat, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// Milliseconds since the Unix epoch, UTC.
pub type Millis = i64;

// The fixed-length units, in milliseconds; calendar units (months, and days in
// a zone with daylight saving) have no fixed length and are the business of
// `granularity`.
pub const MILLIS_PER_SECOND: i64 = 1_000;
pub const MILLIS_PER_MINUTE: i64 = 60 * MILLIS_PER_SECOND;
pub const MILLIS_PER_HOUR: i64 = 60 * MILLIS_PER_MINUTE;
pub const MILLIS_PER_DAY: i64 = 24 * MILLIS_PER_HOUR;

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

/// Formats epoch milliseconds as ISO-8601 local time in `zone` with its
/// offset, as Druid writes the buckets of a period granularity with a time
/// zone: `2013-08-30T00:00:00.000-07:00` (a zero offset as `Z`).
pub fn format_millis_in(t: Millis, zone: Tz) -> String {
    match DateTime::<Utc>::from_timestamp_millis(t) {
        Some(dt) => dt
            .with_timezone(&zone)
            .to_rfc3339_opts(SecondsFormat::Millis, true),
        None => t.to_string(),
    }
}

/// Reads an ISO-8601 interval `start/end`, each end as [`parse_iso_instant`]
/// reads it; the error says which part is wrong.
pub fn parse_iso_interval(text: &str) -> Result<Interval, &'static str> {
    let (start, end) = text
        .split_once('/')
        .ok_or("it needs a start and an end separated by \"/\"")?;
    let start = parse_iso_instant(start).ok_or("its start is not an ISO-8601 time")?;
    let end = parse_iso_instant(end).ok_or("its end is not an ISO-8601 time")?;
    if end <= start {
        return Err("its end is not after its start");
    }
    Interval::new(start, end).map_err(|_| "its end is not after its start")
}

/// Parses an ISO-8601 instant in the forms Druid (Joda-Time) accepts:
/// `2024-01-01T00:30:00Z`, `2024-01-01T00:30:00.123+05:30`, `2024-01-01 00:30`,
/// `2024-01-01T00`, `2024-01-01`; `T` or a space between date and time; a
/// fraction of a second with `.` or `,` (cut to milliseconds); a zone as `Z`,
/// `±HH:MM`, `±HHMM` or `±HH`, and none meaning UTC. `None` if the text is not
/// such a time or names a day or hour that does not exist.
///
/// It is read by hand, not through a format string, because ingest reads one
/// per event.
pub fn parse_iso_instant(text: &str) -> Option<Millis> {
    let text = text.trim();
    let mut cursor = Cursor {
        bytes: text.as_bytes(),
        at: 0,
    };
    let year = cursor.digits(4)?;
    cursor.expect(b'-')?;
    let month = cursor.digits(2)?;
    cursor.expect(b'-')?;
    let day = cursor.digits(2)?;
    let date = NaiveDate::from_ymd_opt(
        i32::try_from(year).ok()?,
        u32::try_from(month).ok()?,
        u32::try_from(day).ok()?,
    )?;
    let mut time_of_day = 0;
    if matches!(cursor.peek(), Some(b'T' | b't' | b' ')) {
        cursor.at += 1;
        let hour = cursor.digits(2)?;
        let mut minute = 0;
        let mut second = 0;
        let mut millis = 0;
        if cursor.peek() == Some(b':') {
            cursor.at += 1;
            minute = cursor.digits(2)?;
            if cursor.peek() == Some(b':') {
                cursor.at += 1;
                second = cursor.digits(2)?;
                if matches!(cursor.peek(), Some(b'.' | b',')) {
                    cursor.at += 1;
                    millis = cursor.fraction_millis()?;
                }
            }
        }
        if hour > 23 || minute > 59 || second > 59 {
            return None;
        }
        time_of_day = hour * MILLIS_PER_HOUR
            + minute * MILLIS_PER_MINUTE
            + second * MILLIS_PER_SECOND
            + millis;
    }
    let offset = cursor.zone_offset()?;
    if cursor.at != cursor.bytes.len() {
        return None;
    }
    let midnight = date.and_time(NaiveTime::MIN).and_utc().timestamp_millis();
    Some(midnight + time_of_day - offset)
}

/// A read position in ISO-8601 text.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.at += 1)
    }

    /// Exactly `count` ASCII digits as a number.
    fn digits(&mut self, count: usize) -> Option<i64> {
        let digits = self.bytes.get(self.at..self.at + count)?;
        let mut value = 0;
        for digit in digits {
            if !digit.is_ascii_digit() {
                return None;
            }
            value = value * 10 + i64::from(digit - b'0');
        }
        self.at += count;
        Some(value)
    }

    /// One or more digits of a fraction of a second, as milliseconds (cut, not rounded).
    fn fraction_millis(&mut self) -> Option<i64> {
        let start = self.at;
        let mut millis = 0;
        while let Some(digit) = self.peek().filter(u8::is_ascii_digit) {
            if self.at - start < 3 {
                millis = millis * 10 + i64::from(digit - b'0');
            }
            self.at += 1;
        }
        let read = self.at - start;
        if read == 0 {
            return None;
        }
        Some(millis * 10_i64.pow(3_u32.saturating_sub(read as u32)))
    }

    /// `Z`, `±HH:MM`, `±HHMM`, `±HH` or nothing (UTC), as milliseconds east of UTC.
    fn zone_offset(&mut self) -> Option<Millis> {
        let sign = match self.peek() {
            None => return Some(0),
            Some(b'Z' | b'z') => {
                self.at += 1;
                return Some(0);
            }
            Some(b'+') => 1,
            Some(b'-') => -1,
            Some(_) => return None,
        };
        self.at += 1;
        let hours = self.digits(2)?;
        let minutes = match self.peek() {
            None => 0,
            Some(b':') => {
                self.at += 1;
                self.digits(2)?
            }
            Some(_) => self.digits(2)?,
        };
        if hours > 23 || minutes > 59 {
            return None;
        }
        Some(sign * (hours * MILLIS_PER_HOUR + minutes * MILLIS_PER_MINUTE))
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
    fn zoned_times_carry_the_zones_offset_of_that_day() {
        let midnight_in_los_angeles = parse_iso_instant("2013-08-30T07:00:00Z").unwrap();
        assert_eq!(
            format_millis_in(midnight_in_los_angeles, chrono_tz::America::Los_Angeles),
            "2013-08-30T00:00:00.000-07:00"
        );
        let winter = parse_iso_instant("2013-01-15T08:00:00.5Z").unwrap();
        assert_eq!(
            format_millis_in(winter, chrono_tz::America::Los_Angeles),
            "2013-01-15T00:00:00.500-08:00"
        );
        assert_eq!(
            format_millis_in(winter, chrono_tz::Asia::Kolkata),
            "2013-01-15T13:30:00.500+05:30"
        );
        assert_eq!(format_millis_in(winter, Tz::UTC), format_millis(winter));
        assert_eq!(
            format_millis_in(winter, chrono_tz::Europe::London),
            "2013-01-15T08:00:00.500Z"
        );
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
