//! Event time: the timestamp field's value to epoch milliseconds, by the
//! spec's `timestampSpec.format`.
//!
//! The formats, and the ISO-8601 forms read, are the table in the
//! [parent module's docs](super#timestamps). ISO-8601 text is read by
//! [`parse_iso_instant`], the one ISO reader Strata has.
//!
//! A `null` timestamp counts as absent, so `missingValue` applies to it.

use strata_storage::spec::{TimestampFormat, TimestampSpec};
use strata_storage::time::{MILLIS_PER_SECOND, Millis, parse_iso_instant};

use super::coerce::{Scalar, parse_finite};
use super::error::TimestampProblem;

/// 0000-01-01T00:00:00Z and 10000-01-01T00:00:00Z: the times an event may have.
const EARLIEST: Millis = -62_167_219_200_000;
const END: Millis = 253_402_300_800_000;

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

    /// A time that a typed column (Arrow's timestamp and date types) gave in
    /// epoch milliseconds, checked to lie in the years an event may have.
    pub(super) fn typed(&self, millis: Millis) -> Result<Millis, TimestampProblem> {
        if (EARLIEST..END).contains(&millis) {
            Ok(millis)
        } else {
            Err(TimestampProblem::TypedOutOfRange)
        }
    }

    fn text_millis(&self, text: &str) -> Result<Millis, TimestampProblem> {
        let text = text.trim();
        match self.format {
            TimestampFormat::Iso => parse_iso_instant(text).ok_or(TimestampProblem::NotIso),
            TimestampFormat::Auto => match parse_number(text) {
                Some(number) => self.number_millis(number),
                None => parse_iso_instant(text).ok_or(TimestampProblem::NotIsoOrNumber),
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

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;
    use proptest::prelude::*;
    use strata_storage::time::{MILLIS_PER_HOUR, MILLIS_PER_MINUTE};

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
            prop_assert_eq!(parse_iso_instant(&text), Some(millis), "{}", text);
        }
    }
}
