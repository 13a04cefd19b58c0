//! Event time: the timestamp field's value to epoch milliseconds, by the
//! spec's `timestampSpec.format`.
//!
//! The formats, and the ISO-8601 forms read, are the table in the
//! [parent module's docs](super#timestamps). ISO-8601 text is read by a
//! hand-written parser ([`parse_iso`]): it runs once per event, so it avoids
//! the general-purpose parsers' format interpretation.
//!
//! A `null` timestamp counts as absent, so `missingValue` applies to it.

use strata_storage::spec::{TimestampFormat, TimestampSpec};
use strata_storage::time::Millis;

use super::coerce::{Scalar, parse_finite};
use super::error::TimestampProblem;

/// 0000-01-01T00:00:00Z and 10000-01-01T00:00:00Z: the times an event may have.
const EARLIEST: Millis = -62_167_219_200_000;
const END: Millis = 253_402_300_800_000;

const MILLIS_PER_SECOND: i64 = 1_000;
const MILLIS_PER_MINUTE: i64 = 60 * MILLIS_PER_SECOND;
const MILLIS_PER_HOUR: i64 = 60 * MILLIS_PER_MINUTE;
const MILLIS_PER_DAY: i64 = 24 * MILLIS_PER_HOUR;

/// How the timestamp field of events is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct TimeRule {
    format: TimestampFormat,
    missing_value: Option<Millis>,
}

impl TimeRule {
    pub(super) fn new(spec: &TimestampSpec) -> Self {
        TimeRule {
            format: spec.format(),
            missing_value: spec.missing_value(),
        }
    }

    /// The time of an event whose timestamp field was absent or `null`.
    pub(super) fn missing_value(&self) -> Option<Millis> {
        self.missing_value
    }

    /// The time a timestamp value stands for; `Ok(None)` for `null`.
    pub(super) fn read(&self, value: Scalar<'_>) -> Result<Option<Millis>, TimestampProblem> {
        let time = match value {
            Scalar::Null => return Ok(None),
            Scalar::Bool(_) => return Err(TimestampProblem::NotATime),
            Scalar::Int(number) => self.integer_millis(number)?,
            Scalar::UInt(number) => self.float_millis(number as f64)?,
            Scalar::Float(number) => self.float_millis(number)?,
            Scalar::Str(text) => self.text_millis(text)?,
        };
        if (EARLIEST..END).contains(&time) {
            Ok(Some(time))
        } else {
            Err(TimestampProblem::OutOfRange {
                format: format_name(self.format),
            })
        }
    }

    fn text_millis(&self, text: &str) -> Result<Millis, TimestampProblem> {
        let text = text.trim();
        match self.format {
            TimestampFormat::Iso => parse_iso(text).ok_or(TimestampProblem::NotIso),
            TimestampFormat::Auto => match parse_number(text) {
                Some(number) => self.number_millis(number),
                None => parse_iso(text).ok_or(TimestampProblem::NotIsoOrNumber),
            },
            format => match parse_number(text) {
                Some(number) => self.number_millis(number),
                None => Err(TimestampProblem::NotANumber {
                    format: format_name(format),
                    unit: unit_name(format),
                }),
            },
        }
    }

    fn number_millis(&self, number: Number) -> Result<Millis, TimestampProblem> {
        match number {
            Number::Integer(integer) => self.integer_millis(integer),
            Number::Float(float) => self.float_millis(float),
        }
    }

    fn integer_millis(&self, number: i64) -> Result<Millis, TimestampProblem> {
        let out_of_range = TimestampProblem::OutOfRange {
            format: format_name(self.format),
        };
        match self.format {
            TimestampFormat::Iso => Err(TimestampProblem::NumberForIso),
            TimestampFormat::Millis | TimestampFormat::Auto => Ok(number),
            TimestampFormat::Posix => number.checked_mul(MILLIS_PER_SECOND).ok_or(out_of_range),
            TimestampFormat::Micro => Ok(number.div_euclid(1_000)),
            TimestampFormat::Nano => Ok(number.div_euclid(1_000_000)),
        }
    }

    /// Fractional numbers are rounded to the microsecond first, so that
    /// `1704067200.123` seconds is `…123` milliseconds despite binary floats.
    fn float_millis(&self, number: f64) -> Result<Millis, TimestampProblem> {
        let micros_per_unit = match self.format {
            TimestampFormat::Iso => return Err(TimestampProblem::NumberForIso),
            TimestampFormat::Millis | TimestampFormat::Auto => 1e3,
            TimestampFormat::Posix => 1e6,
            TimestampFormat::Micro => 1.0,
            TimestampFormat::Nano => 1e-3,
        };
        let micros = (number * micros_per_unit).round();
        // Anything beyond ±2^62 µs is far outside the years an event may have.
        if micros.is_finite() && micros.abs() < 4.6e18 {
            Ok((micros as i64).div_euclid(1_000))
        } else {
            Err(TimestampProblem::OutOfRange {
                format: format_name(self.format),
            })
        }
    }
}

fn format_name(format: TimestampFormat) -> &'static str {
    match format {
        TimestampFormat::Iso => "iso",
        TimestampFormat::Millis => "millis",
        TimestampFormat::Posix => "posix",
        TimestampFormat::Micro => "micro",
        TimestampFormat::Nano => "nano",
        TimestampFormat::Auto => "auto",
    }
}

fn unit_name(format: TimestampFormat) -> &'static str {
    match format {
        TimestampFormat::Posix => "seconds",
        TimestampFormat::Micro => "microseconds",
        TimestampFormat::Nano => "nanoseconds",
        TimestampFormat::Millis | TimestampFormat::Auto | TimestampFormat::Iso => "milliseconds",
    }
}

/// A number written as text: integers stay exact.
enum Number {
    Integer(i64),
    Float(f64),
}

/// Numeric text in JSON's spelling (an optional `-`, digits, fraction,
/// exponent); `None` for anything else, such as an ISO date.
fn parse_number(text: &str) -> Option<Number> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    let first = *digits.as_bytes().first()?;
    if !first.is_ascii_digit()
        || !digits
            .bytes()
            .all(|byte| byte.is_ascii_digit() || matches!(byte, b'.' | b'e' | b'E' | b'+' | b'-'))
    {
        return None;
    }
    if let Ok(integer) = text.parse::<i64>() {
        return Some(Number::Integer(integer));
    }
    parse_finite(text).map(Number::Float)
}

/// Reads ISO-8601 as described in the [module docs](self); `None` if the text
/// is not such a time or names a day or hour that does not exist.
pub(super) fn parse_iso(text: &str) -> Option<Millis> {
    let mut cursor = Cursor {
        bytes: text.as_bytes(),
        at: 0,
    };
    let year = cursor.digits(4)?;
    cursor.expect(b'-')?;
    let month = cursor.digits(2)?;
    cursor.expect(b'-')?;
    let day = cursor.digits(2)?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
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
    Some(days_from_civil(year, month, day) * MILLIS_PER_DAY + time_of_day - offset)
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

fn is_leap_year(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, NaiveDate};
    use proptest::prelude::*;

    const JAN_1_2024: Millis = 1_704_067_200_000;

    fn rule(format: TimestampFormat) -> TimeRule {
        TimeRule {
            format,
            missing_value: None,
        }
    }

    fn read(
        format: TimestampFormat,
        value: Scalar<'_>,
    ) -> Result<Option<Millis>, TimestampProblem> {
        rule(format).read(value)
    }

    #[test]
    fn iso_in_the_forms_druid_accepts() {
        let cases = [
            ("2024-01-01T00:00:00Z", JAN_1_2024),
            ("2024-01-01T00:00:00.000Z", JAN_1_2024),
            ("2024-01-01T00:00:00.123Z", JAN_1_2024 + 123),
            ("2024-01-01T00:00:00.1Z", JAN_1_2024 + 100),
            ("2024-01-01T00:00:00.123456789Z", JAN_1_2024 + 123),
            ("2024-01-01T00:00:00,5Z", JAN_1_2024 + 500),
            ("2024-01-01 00:00:01Z", JAN_1_2024 + 1_000),
            ("2024-01-01t00:00:00z", JAN_1_2024),
            ("2024-01-01T05:30:00+05:30", JAN_1_2024),
            ("2024-01-01T05:30:00+0530", JAN_1_2024),
            ("2023-12-31T23:00:00-01", JAN_1_2024),
            ("2024-01-01T00:00:00", JAN_1_2024),
            ("2024-01-01T00:30", JAN_1_2024 + 30 * MILLIS_PER_MINUTE),
            ("2024-01-01T10", JAN_1_2024 + 10 * MILLIS_PER_HOUR),
            ("2024-01-01", JAN_1_2024),
            (" 2024-01-01T00:00:00Z ", JAN_1_2024),
            ("2024-02-29T00:00:00Z", 1_709_164_800_000),
            ("1969-12-31T23:59:59.999Z", -1),
            ("0000-01-01T00:00:00Z", EARLIEST),
        ];
        for (text, expected) in cases {
            assert_eq!(
                read(TimestampFormat::Iso, Scalar::Str(text)),
                Ok(Some(expected)),
                "{text}"
            );
        }
    }

    #[test]
    fn iso_rejects_what_is_not_a_time() {
        for text in [
            "",
            "noon",
            "2024-13-01",
            "2023-02-29",
            "2024-04-31T00:00:00Z",
            "2024-01-01T24:00:00Z",
            "2024-01-01T00:60:00Z",
            "2024-01-01T00:00:60Z",
            "2024-01-01T00:00:00.Z",
            "2024-01-01T00:00:00Zjunk",
            "2024-01-01T00:00:00+25:00",
            "2024-1-1",
            "20240101",
            "2024-01-01X00:00",
        ] {
            assert_eq!(
                read(TimestampFormat::Iso, Scalar::Str(text)),
                Err(TimestampProblem::NotIso),
                "{text:?}"
            );
        }
        assert_eq!(
            read(TimestampFormat::Iso, Scalar::Int(JAN_1_2024)),
            Err(TimestampProblem::NumberForIso)
        );
    }

    #[test]
    fn millis_from_numbers_and_numeric_strings() {
        let millis = TimestampFormat::Millis;
        assert_eq!(read(millis, Scalar::Int(JAN_1_2024)), Ok(Some(JAN_1_2024)));
        assert_eq!(
            read(millis, Scalar::Float(1.7040672e12)),
            Ok(Some(1_704_067_200_000))
        );
        assert_eq!(read(millis, Scalar::Float(10.9)), Ok(Some(10)));
        assert_eq!(
            read(millis, Scalar::Str("1704067200000")),
            Ok(Some(JAN_1_2024))
        );
        assert_eq!(read(millis, Scalar::Str("-1")), Ok(Some(-1)));
        assert_eq!(
            read(millis, Scalar::Str("2024-01-01")),
            Err(TimestampProblem::NotANumber {
                format: "millis",
                unit: "milliseconds"
            })
        );
    }

    #[test]
    fn posix_seconds_keep_their_fraction_to_the_millisecond() {
        let posix = TimestampFormat::Posix;
        assert_eq!(
            read(posix, Scalar::Int(1_704_067_200)),
            Ok(Some(JAN_1_2024))
        );
        assert_eq!(
            read(posix, Scalar::Float(1_704_067_200.123)),
            Ok(Some(JAN_1_2024 + 123))
        );
        assert_eq!(
            read(posix, Scalar::Str("1704067200.999")),
            Ok(Some(JAN_1_2024 + 999))
        );
        assert_eq!(read(posix, Scalar::Str("1704067200")), Ok(Some(JAN_1_2024)));
        assert_eq!(read(posix, Scalar::Float(-0.5)), Ok(Some(-500)));
        assert_eq!(
            read(posix, Scalar::Int(i64::MAX)),
            Err(TimestampProblem::OutOfRange { format: "posix" })
        );
    }

    #[test]
    fn micro_and_nano_truncate_towards_the_past() {
        assert_eq!(
            read(TimestampFormat::Micro, Scalar::Int(1_704_067_200_123_999)),
            Ok(Some(JAN_1_2024 + 123))
        );
        assert_eq!(
            read(TimestampFormat::Micro, Scalar::Str("1704067200123456")),
            Ok(Some(JAN_1_2024 + 123))
        );
        assert_eq!(read(TimestampFormat::Micro, Scalar::Int(-1)), Ok(Some(-1)));
        assert_eq!(
            read(
                TimestampFormat::Nano,
                Scalar::Int(1_704_067_200_123_456_789)
            ),
            Ok(Some(JAN_1_2024 + 123))
        );
        assert_eq!(
            read(TimestampFormat::Nano, Scalar::Str("1704067200123456789")),
            Ok(Some(JAN_1_2024 + 123))
        );
        assert_eq!(
            read(
                TimestampFormat::Nano,
                Scalar::UInt(10_000_000_000_000_000_000)
            ),
            Ok(Some(10_000_000_000_000))
        );
    }

    #[test]
    fn auto_reads_numbers_as_millis_and_text_as_iso_or_millis() {
        let auto = TimestampFormat::Auto;
        assert_eq!(read(auto, Scalar::Int(JAN_1_2024)), Ok(Some(JAN_1_2024)));
        assert_eq!(
            read(auto, Scalar::Str("1704067200000")),
            Ok(Some(JAN_1_2024))
        );
        assert_eq!(
            read(auto, Scalar::Str("2024-01-01T00:00:00Z")),
            Ok(Some(JAN_1_2024))
        );
        assert_eq!(
            read(auto, Scalar::Str("2024-01-01 00:00:00")),
            Ok(Some(JAN_1_2024))
        );
        assert_eq!(
            read(auto, Scalar::Str("yesterday")),
            Err(TimestampProblem::NotIsoOrNumber)
        );
    }

    #[test]
    fn a_wrong_unit_is_caught_as_out_of_range() {
        assert_eq!(
            read(
                TimestampFormat::Millis,
                Scalar::Int(1_704_067_200_000_000_000)
            ),
            Err(TimestampProblem::OutOfRange { format: "millis" })
        );
        assert_eq!(
            read(TimestampFormat::Iso, Scalar::Str("10000-01-01")),
            Err(TimestampProblem::NotIso)
        );
        assert_eq!(
            read(TimestampFormat::Posix, Scalar::Float(1e300)),
            Err(TimestampProblem::OutOfRange { format: "posix" })
        );
    }

    #[test]
    fn null_is_absent_and_booleans_are_not_times() {
        assert_eq!(read(TimestampFormat::Auto, Scalar::Null), Ok(None));
        assert_eq!(
            read(TimestampFormat::Auto, Scalar::Bool(true)),
            Err(TimestampProblem::NotATime)
        );
    }

    proptest! {
        #[test]
        fn iso_agrees_with_chrono(millis in EARLIEST..END, offset_minutes in -23 * 60..=23 * 60_i64) {
            let Some(at) = DateTime::from_timestamp_millis(millis) else {
                return Err(TestCaseError::fail("in chrono's range"));
            };
            let zone = chrono::FixedOffset::east_opt((offset_minutes * 60) as i32)
                .ok_or_else(|| TestCaseError::fail("valid offset"))?;
            let text = at.with_timezone(&zone).format("%Y-%m-%dT%H:%M:%S%.3f%:z").to_string();
            prop_assert_eq!(parse_iso(&text), Some(millis), "{}", text);
        }

        #[test]
        fn civil_days_agree_with_chrono(days in -719_528..2_932_897_i64) {
            let date = NaiveDate::from_ymd_opt(1970, 1, 1)
                .and_then(|epoch| epoch.checked_add_signed(chrono::TimeDelta::days(days)))
                .ok_or_else(|| TestCaseError::fail("in range"))?;
            use chrono::Datelike;
            prop_assert_eq!(
                days_from_civil(i64::from(date.year()), i64::from(date.month()), i64::from(date.day())),
                days
            );
        }
    }
}
