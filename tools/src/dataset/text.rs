//! How the dataset's values are spelled in its text formats (NDJSON, CSV and the `message`).
//!
//! Every event goes through these functions once per output line, so they append to a reused
//! `String` instead of going through `format!`: integers and the fixed three-decimal durations
//! are written digit by digit, and the date part of a timestamp comes from integer civil-calendar
//! arithmetic rather than a date library.
//!
//! Spellings, which every text writer shares:
//! - a timestamp is ISO-8601 UTC with milliseconds: `2024-01-01T00:00:00.123Z`;
//! - a duration always has exactly three decimals: `20.086`, `7.100`;
//! - integers are plain decimals.

use std::fmt::Write as _;

const MILLIS_PER_DAY: i64 = 86_400_000;

/// Appends `value` in decimal.
pub fn push_i64(out: &mut String, value: i64) {
    if value < 0 {
        out.push('-');
    }
    push_u64(out, value.unsigned_abs());
}

/// Appends `value` in decimal.
pub fn push_u64(out: &mut String, mut value: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    out.extend(digits[start..].iter().map(|&digit| char::from(digit)));
}

/// Appends `value` zero-padded to `width` digits (wider values are written in full).
pub fn push_zero_padded(out: &mut String, value: u64, width: u32) {
    let mut bound = 10u64.pow(width.saturating_sub(1));
    while bound > 1 && value < bound {
        out.push('0');
        bound /= 10;
    }
    push_u64(out, value);
}

/// Appends a count of thousandths as a decimal with exactly three fraction digits.
pub fn push_thousandths(out: &mut String, thousandths: i64) {
    if thousandths < 0 {
        out.push('-');
    }
    let magnitude = thousandths.unsigned_abs();
    push_u64(out, magnitude / 1000);
    out.push('.');
    push_zero_padded(out, magnitude % 1000, 3);
}

/// Appends a finite `value` rounded to three decimals, always printing all three.
///
/// Values too large for exact integer thousandths fall back to the standard formatter, which
/// spells them the same way, only slower.
pub fn push_fixed3(out: &mut String, value: f64) {
    // Below this, `value * 1000` is within far less than half a unit of the true thousandths.
    const EXACT_LIMIT: f64 = 1.0e9;
    if value.abs() < EXACT_LIMIT {
        push_thousandths(out, (value * 1000.0).round() as i64);
    } else {
        // Writing into a String cannot fail.
        let _ = write!(out, "{value:.3}");
    }
}

/// Appends `epoch_ms` as ISO-8601 UTC with milliseconds, e.g. `2024-01-01T00:00:00.123Z`.
///
/// Years outside `0..=9999` use the expanded form with an explicit sign (`+10000-01-01...`).
pub fn push_iso8601_millis(out: &mut String, epoch_ms: i64) {
    let days = epoch_ms.div_euclid(MILLIS_PER_DAY);
    let millis_of_day = epoch_ms.rem_euclid(MILLIS_PER_DAY).unsigned_abs();
    let (year, month, day) = civil_from_days(days);
    if (0..=9999).contains(&year) {
        push_zero_padded(out, year.unsigned_abs(), 4);
    } else {
        let _ = write!(out, "{year:+05}");
    }
    out.push('-');
    push_zero_padded(out, month, 2);
    out.push('-');
    push_zero_padded(out, day, 2);
    out.push('T');
    push_zero_padded(out, millis_of_day / 3_600_000, 2);
    out.push(':');
    push_zero_padded(out, millis_of_day / 60_000 % 60, 2);
    out.push(':');
    push_zero_padded(out, millis_of_day / 1000 % 60, 2);
    out.push('.');
    push_zero_padded(out, millis_of_day % 1000, 3);
    out.push('Z');
}

/// The proleptic Gregorian (year, month, day) of a count of days since 1970-01-01.
///
/// Howard Hinnant's `civil_from_days`: shift the epoch to 0000-03-01 so that leap days fall at
/// the end of the year, then split into 400-year eras of exactly 146,097 days.
fn civil_from_days(days: i64) -> (i64, u64, u64) {
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_from_march + 2) / 5 + 1).unsigned_abs();
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    }
    .unsigned_abs();
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Appends `value` as a JSON string literal, quotes included.
pub fn push_json_string(out: &mut String, value: &str) {
    out.push('"');
    // A branch-free scan the compiler vectorises; generated values never need escaping.
    let needs_escape = value.bytes().fold(false, |found, byte| {
        found | (byte < 0x20) | (byte == b'"') | (byte == b'\\')
    });
    if !needs_escape {
        out.push_str(value);
        out.push('"');
        return;
    }
    let mut clean_from = 0;
    for (index, byte) in value.bytes().enumerate() {
        let escape = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x00..=0x1f => "",
            _ => continue,
        };
        out.push_str(&value[clean_from..index]);
        if escape.is_empty() {
            let _ = write!(out, "\\u{byte:04x}");
        } else {
            out.push_str(escape);
        }
        clean_from = index + 1;
    }
    out.push_str(&value[clean_from..]);
    out.push('"');
}

/// Appends `value` as a CSV field, quoted per RFC 4180 only when it holds a comma, a quote or a
/// line break.
pub fn push_csv_field(out: &mut String, value: &str) {
    if !value.contains([',', '"', '\n', '\r']) {
        out.push_str(value);
        return;
    }
    out.push('"');
    for (index, piece) in value.split('"').enumerate() {
        if index > 0 {
            out.push_str("\"\"");
        }
        out.push_str(piece);
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn spelled(push: impl FnOnce(&mut String)) -> String {
        let mut out = String::new();
        push(&mut out);
        out
    }

    #[test]
    fn timestamps_are_iso8601_with_millis() {
        let cases = [
            (0, "1970-01-01T00:00:00.000Z"),
            (1_704_067_200_000, "2024-01-01T00:00:00.000Z"),
            (1_704_067_200_123, "2024-01-01T00:00:00.123Z"),
            (1_704_671_999_999, "2024-01-07T23:59:59.999Z"),
            (1_709_164_800_000, "2024-02-29T00:00:00.000Z"),
            (-1, "1969-12-31T23:59:59.999Z"),
            (253_402_300_800_000, "+10000-01-01T00:00:00.000Z"),
        ];
        for (epoch_ms, expected) in cases {
            assert_eq!(spelled(|out| push_iso8601_millis(out, epoch_ms)), expected);
        }
    }

    #[test]
    fn durations_always_have_three_decimals() {
        let cases = [
            (20.086, "20.086"),
            (7.1, "7.100"),
            (0.0, "0.000"),
            (0.0004, "0.000"),
            (-1.25, "-1.250"),
            (1e13, "10000000000000.000"),
        ];
        for (value, expected) in cases {
            assert_eq!(spelled(|out| push_fixed3(out, value)), expected);
        }
    }

    #[test]
    fn json_strings_escape_quotes_backslashes_and_controls() {
        let got = spelled(|out| push_json_string(out, "a\"b\\c\nd\u{1}é"));
        assert_eq!(got, r#""a\"b\\c\nd\u0001é""#);
    }

    #[test]
    fn csv_fields_are_quoted_only_when_needed() {
        assert_eq!(
            spelled(|out| push_csv_field(out, "GET /a -> 200")),
            "GET /a -> 200"
        );
        assert_eq!(spelled(|out| push_csv_field(out, "a,b")), "\"a,b\"");
        assert_eq!(
            spelled(|out| push_csv_field(out, "say \"hi\"")),
            "\"say \"\"hi\"\"\""
        );
        assert_eq!(
            spelled(|out| push_csv_field(out, "two\nlines")),
            "\"two\nlines\""
        );
    }

    proptest! {
        #[test]
        fn integers_match_the_standard_formatter(value in any::<i64>()) {
            prop_assert_eq!(spelled(|out| push_i64(out, value)), value.to_string());
        }

        #[test]
        fn fixed3_matches_the_standard_formatter(thousandths in -1_000_000_000_000i64..1_000_000_000_000) {
            let value = thousandths as f64 / 1000.0;
            prop_assert_eq!(spelled(|out| push_fixed3(out, value)), format!("{value:.3}"));
        }

        #[test]
        fn timestamps_round_trip_through_the_calendar(epoch_ms in -62_135_596_800_000i64..253_402_300_799_999) {
            let text = spelled(|out| push_iso8601_millis(out, epoch_ms));
            prop_assert_eq!(text.len(), 24);
            let parsed = parse_iso8601_millis(&text);
            prop_assert_eq!(parsed, Some(epoch_ms));
        }

        #[test]
        fn json_strings_parse_back(value in any::<String>()) {
            let text = spelled(|out| push_json_string(out, &value));
            let parsed: String = serde_json::from_str(&text).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(parsed, value);
        }
    }

    /// An independent inverse (days_from_civil) so the calendar is checked, not restated.
    fn parse_iso8601_millis(text: &str) -> Option<i64> {
        let field = |range: std::ops::Range<usize>| text.get(range)?.parse::<i64>().ok();
        let (year, month, day) = (field(0..4)?, field(5..7)?, field(8..10)?);
        let (hour, minute, second, milli) = (
            field(11..13)?,
            field(14..16)?,
            field(17..19)?,
            field(20..23)?,
        );
        let year_from_march = if month <= 2 { year - 1 } else { year };
        let era = year_from_march.div_euclid(400);
        let year_of_era = year_from_march - era * 400;
        let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
        let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
        let days = era * 146_097 + day_of_era - 719_468;
        Some(((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000 + milli)
    }
}
