//! Elasticsearch's ways of writing time: instants in a `range` (epoch
//! milliseconds, ISO-8601, date math such as `now-6h/h`), and the intervals,
//! time zones and offsets of a `date_histogram`, read into a [`Granularity`].
//!
//! # Instants
//!
//! A number is epoch milliseconds (`format: epoch_second` makes it seconds);
//! so is a string of digits. Otherwise a string is date math: an anchor —
//! `now` or an ISO-8601 time followed by `||` — then any number of
//! `+N<unit>` / `-N<unit>` steps and `/<unit>` roundings, units `y M w d h H
//! m s`. Rounding goes down, except where Elasticsearch rounds up: the upper
//! end of `lte` and the lower end of `gt` include the whole rounded unit.
//!
//! # Histogram intervals
//!
//! `fixed_interval` is a number and a unit (`500ms`, `30s`, `10m`, `1h`,
//! `2d`): a fixed length of absolute time. `calendar_interval` is one
//! calendar unit (`1m`/`minute`, `1h`/`hour`, `1d`/`day`, `1w`/`week`,
//! `1M`/`month`, `1q`/`quarter`, `1y`/`year`): a day is a local day, a month
//! a calendar month. The legacy `interval` takes either. Buckets are aligned
//! on local midnight of 1970-01-01 in `time_zone` (weeks on Monday), moved by
//! `offset`.

use std::str::FromStr;

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use strata_storage::granularity::{DurationGranularity, Granularity, Period, PeriodGranularity};
use strata_storage::time::{Millis, parse_iso_instant};

/// Which end of a range an instant is, for how date math rounds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoundDirection {
    /// Round to the start of the unit (`gte`, `lt`).
    Down,
    /// Round to the last millisecond of the unit (`lte`, `gt`).
    Up,
}

/// Reads an instant of a `range` bound. `epoch_seconds` is whether the
/// range's `format` says numbers are seconds.
pub fn parse_instant(
    value: &serde_json::Value,
    epoch_seconds: bool,
    now: Millis,
    round: RoundDirection,
) -> Result<Millis, String> {
    let scale = if epoch_seconds { 1000 } else { 1 };
    match value {
        serde_json::Value::Number(number) => number
            .as_i64()
            .or_else(|| number.as_f64().map(|f| f as i64))
            .map(|n| n.saturating_mul(scale))
            .ok_or_else(|| format!("{number} is not a time")),
        serde_json::Value::String(text) => {
            let text = text.trim();
            if !text.is_empty()
                && text.bytes().all(|b| b.is_ascii_digit() || b == b'-')
                && let Ok(n) = text.parse::<i64>()
            {
                return Ok(n.saturating_mul(scale));
            }
            date_math(text, now, round)
        }
        other => Err(format!(
            "{other} is not a time; give epoch milliseconds, an ISO-8601 time or date math such as now-1h"
        )),
    }
}

fn date_math(text: &str, now: Millis, round: RoundDirection) -> Result<Millis, String> {
    let (anchor, mut rest) = if let Some(rest) = text.strip_prefix("now") {
        (now, rest)
    } else if let Some((anchor, rest)) = text.split_once("||") {
        (iso(anchor)?, rest)
    } else {
        return iso(text);
    };
    let mut time = to_datetime(anchor)?;
    while !rest.is_empty() {
        let operator = rest.as_bytes()[0];
        rest = &rest[1..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let amount: i64 = if digits == 0 {
            1
        } else {
            rest[..digits]
                .parse()
                .map_err(|_| format!("`{text}`: a step is too large"))?
        };
        if operator == b'/' && digits > 0 {
            return Err(format!("`{text}`: rounding takes a unit only, as in /d"));
        }
        rest = &rest[digits..];
        let unit = rest
            .chars()
            .next()
            .ok_or_else(|| format!("`{text}`: a unit is missing at the end"))?;
        rest = &rest[unit.len_utf8()..];
        time = match operator {
            b'+' => step(time, unit, amount, text)?,
            b'-' => step(time, unit, -amount, text)?,
            b'/' => {
                let start = round_down(time, unit, text)?;
                match round {
                    RoundDirection::Down => start,
                    RoundDirection::Up => step(start, unit, 1, text)? - Duration::milliseconds(1),
                }
            }
            other => {
                return Err(format!(
                    "`{text}`: `{}` is not +, - or /",
                    char::from(other)
                ));
            }
        };
    }
    Ok(time.and_utc().timestamp_millis())
}

fn iso(text: &str) -> Result<Millis, String> {
    parse_iso_instant(text).ok_or_else(|| {
        format!("`{text}` is not a time; give epoch milliseconds, an ISO-8601 time such as 2024-01-01T00:00:00Z, or date math such as now-1h")
    })
}

fn to_datetime(t: Millis) -> Result<NaiveDateTime, String> {
    chrono::DateTime::<Utc>::from_timestamp_millis(t)
        .map(|dt| dt.naive_utc())
        .ok_or_else(|| format!("{t} is out of the range of time"))
}

fn step(time: NaiveDateTime, unit: char, amount: i64, text: &str) -> Result<NaiveDateTime, String> {
    let out_of_range = || format!("`{text}` is out of the range of time");
    let months = |n: i64| -> Result<NaiveDateTime, String> {
        let n = i32::try_from(n).map_err(|_| out_of_range())?;
        let total = time.year() * 12 + time.month0() as i32 + n;
        let (year, month0) = (total.div_euclid(12), total.rem_euclid(12) as u32);
        let last_day = (28..=31)
            .rev()
            .find(|day| NaiveDate::from_ymd_opt(year, month0 + 1, *day).is_some())
            .ok_or_else(out_of_range)?;
        NaiveDate::from_ymd_opt(year, month0 + 1, time.day().min(last_day))
            .map(|date| date.and_time(time.time()))
            .ok_or_else(out_of_range)
    };
    let plus = |duration: Option<Duration>| {
        duration
            .and_then(|duration| time.checked_add_signed(duration))
            .ok_or_else(out_of_range)
    };
    match unit {
        'y' => months(amount.saturating_mul(12)),
        'M' => months(amount),
        'w' => plus(Duration::try_weeks(amount)),
        'd' => plus(Duration::try_days(amount)),
        'h' | 'H' => plus(Duration::try_hours(amount)),
        'm' => plus(Duration::try_minutes(amount)),
        's' => plus(Duration::try_seconds(amount)),
        other => Err(unknown_unit(text, other)),
    }
}

fn round_down(time: NaiveDateTime, unit: char, text: &str) -> Result<NaiveDateTime, String> {
    let date = time.date();
    let midnight = |date: NaiveDate| date.and_hms_opt(0, 0, 0).expect("midnight exists");
    Ok(match unit {
        'y' => midnight(date.with_ordinal(1).expect("January 1st exists")),
        'M' => midnight(date.with_day(1).expect("the 1st exists")),
        'w' => midnight(date - Duration::days(i64::from(date.weekday().num_days_from_monday()))),
        'd' => midnight(date),
        'h' | 'H' => midnight(date) + Duration::hours(i64::from(time.hour())),
        'm' => {
            midnight(date)
                + Duration::hours(i64::from(time.hour()))
                + Duration::minutes(i64::from(time.minute()))
        }
        's' => time.with_nanosecond(0).expect("second 0 exists"),
        other => return Err(unknown_unit(text, other)),
    })
}

fn unknown_unit(text: &str, unit: char) -> String {
    format!("`{text}`: `{unit}` is not a unit of date math; use y, M, w, d, h, m or s")
}

/// A `date_histogram`'s interval, as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistogramInterval {
    /// A fixed length in milliseconds.
    Fixed(i64),
    /// One calendar unit.
    Calendar(Period),
}

impl HistogramInterval {
    /// Reads `fixed_interval` (`fixed` true), `calendar_interval` or the
    /// legacy `interval` (`fixed` false: a calendar unit if it is one, else a
    /// fixed length).
    pub fn parse(text: &str, kind: IntervalKind) -> Result<HistogramInterval, String> {
        let text = text.trim();
        if kind != IntervalKind::Fixed {
            if let Some(period) = calendar_unit(text) {
                return Ok(HistogramInterval::Calendar(period));
            }
            if kind == IntervalKind::Calendar {
                return Err(format!(
                    "calendar_interval [{text}] is not a calendar unit; use 1m, 1h, 1d, 1w, 1M, 1q or 1y (or minute, hour, day, week, month, quarter, year), or a fixed_interval"
                ));
            }
        }
        fixed_length(text).map(HistogramInterval::Fixed).ok_or_else(|| {
            format!(
                "interval [{text}] is not a fixed interval; write a number and a unit of ms, s, m, h or d, such as 30s or 10m"
            )
        })
    }

    /// The interval's length in milliseconds, a month counted as 30 days:
    /// what Grafana's `$__interval_ms` would be, for pipelines' `unit`.
    pub fn approximate_millis(&self) -> i64 {
        match self {
            HistogramInterval::Fixed(length) => *length,
            HistogramInterval::Calendar(period) => {
                const DAY: i64 = 86_400_000;
                i64::from(period.years()) * 365 * DAY
                    + i64::from(period.months()) * 30 * DAY
                    + i64::from(period.weeks()) * 7 * DAY
                    + i64::from(period.days()) * DAY
                    + i64::from(period.hours()) * 3_600_000
                    + i64::from(period.minutes()) * 60_000
                    + i64::from(period.seconds()) * 1000
                    + i64::from(period.millis())
            }
        }
    }

    /// The buckets in `zone`, moved by `offset` milliseconds.
    pub fn granularity(&self, zone: Tz, offset: Millis) -> Result<Granularity, String> {
        let period = match *self {
            HistogramInterval::Fixed(length) if zone == Tz::UTC => {
                return DurationGranularity::new(length, offset)
                    .map(Granularity::Duration)
                    .map_err(|error| error.to_string());
            }
            HistogramInterval::Fixed(length) => Period::from_str(&format!("PT{}S", length / 1000))
                .ok()
                .filter(|_| length % 1000 == 0)
                .ok_or_else(|| {
                    format!("a fixed_interval of {length} ms in a time zone must be whole seconds")
                })?,
            HistogramInterval::Calendar(period) => period,
        };
        let origin = if offset == 0 {
            None
        } else {
            let weeks = period.weeks() > 0;
            let local = NaiveDate::from_ymd_opt(1970, 1, if weeks { 5 } else { 1 })
                .expect("a day of 1970")
                .and_hms_opt(0, 0, 0)
                .expect("midnight exists");
            let local = if weeks {
                local - Duration::days(7)
            } else {
                local
            };
            let start = zone
                .from_local_datetime(&local)
                .earliest()
                .map(|dt| dt.timestamp_millis())
                .unwrap_or(0);
            Some(start + offset)
        };
        PeriodGranularity::new(period, zone, origin)
            .map(Granularity::Period)
            .map_err(|error| error.to_string())
    }
}

/// Which member an interval came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntervalKind {
    Fixed,
    Calendar,
    Legacy,
}

fn calendar_unit(text: &str) -> Option<Period> {
    let iso = match text {
        "1m" | "minute" => "PT1M",
        "1h" | "hour" => "PT1H",
        "1d" | "day" => "P1D",
        "1w" | "week" => "P1W",
        "1M" | "month" => "P1M",
        "1q" | "quarter" => "P3M",
        "1y" | "year" => "P1Y",
        _ => return None,
    };
    Period::from_str(iso).ok()
}

/// `30s`, `500ms`, `10m`, `1h`, `2d` in milliseconds.
fn fixed_length(text: &str) -> Option<i64> {
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let amount: i64 = text[..digits].parse().ok()?;
    let unit = match &text[digits..] {
        "ms" => 1,
        "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return None,
    };
    amount.checked_mul(unit).filter(|length| *length > 0)
}

/// Reads `time_zone`: an IANA name (`Europe/Berlin`), `UTC`/`Z`, or a whole
/// hour offset such as `+01:00`.
pub fn parse_time_zone(text: &str) -> Result<Tz, String> {
    let trimmed = text.trim();
    if matches!(trimmed, "Z" | "z" | "utc" | "UTC" | "+00:00" | "-00:00") {
        return Ok(Tz::UTC);
    }
    if let Some(sign @ ('+' | '-')) = trimmed.chars().next() {
        let (hours, minutes) = trimmed[1..]
            .split_once(':')
            .unwrap_or((&trimmed[1..], "00"));
        if minutes == "00"
            && let Ok(hours) = hours.parse::<u8>()
        {
            // Etc/GMT zones count the other way: Etc/GMT-1 is UTC+1.
            let name = if sign == '+' {
                format!("Etc/GMT-{hours}")
            } else {
                format!("Etc/GMT+{hours}")
            };
            if let Ok(zone) = name.parse::<Tz>() {
                return Ok(zone);
            }
        }
        return Err(format!(
            "time_zone [{text}]: only whole-hour offsets are taken; give an IANA name such as Asia/Kolkata"
        ));
    }
    trimmed.parse::<Tz>().map_err(|_| {
        format!("time_zone [{text}] is not a time zone; give an IANA name such as Europe/Berlin, UTC or an offset such as +01:00")
    })
}

/// Reads `offset`: `+6h`, `-30m`, `1d` as milliseconds.
pub fn parse_offset(text: &str) -> Result<Millis, String> {
    let trimmed = text.trim();
    let (sign, rest) = match trimmed.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, trimmed.strip_prefix('+').unwrap_or(trimmed)),
    };
    fixed_length(rest)
        .map(|length| sign * length)
        .ok_or_else(|| format!("offset [{text}] is not a duration such as +6h or -30m"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const NOW: Millis = 1_704_164_645_123; // 2024-01-02T03:04:05.123Z

    fn instant(value: serde_json::Value, round: RoundDirection) -> Millis {
        parse_instant(&value, false, NOW, round).expect("a time")
    }

    #[test]
    fn instants_in_every_form() {
        assert_eq!(
            instant(json!(1_704_067_200_000_i64), RoundDirection::Down),
            1_704_067_200_000
        );
        assert_eq!(
            instant(json!("1704067200000"), RoundDirection::Down),
            1_704_067_200_000
        );
        assert_eq!(
            parse_instant(&json!(1_704_067_200), true, NOW, RoundDirection::Down),
            Ok(1_704_067_200_000)
        );
        assert_eq!(
            instant(json!("2024-01-01T00:00:00Z"), RoundDirection::Down),
            1_704_067_200_000
        );
        assert_eq!(instant(json!("now"), RoundDirection::Down), NOW);
        assert_eq!(
            instant(json!("now-1h"), RoundDirection::Down),
            NOW - 3_600_000
        );
        assert_eq!(
            instant(json!("now-1d/d"), RoundDirection::Down),
            1_704_067_200_000
        );
        assert_eq!(
            instant(json!("now/d"), RoundDirection::Up),
            1_704_239_999_999
        );
        assert_eq!(
            instant(json!("2024-01-31T00:00:00Z||+1M"), RoundDirection::Down),
            1_709_164_800_000 // 2024-02-29
        );
        assert_eq!(
            instant(json!("now/w"), RoundDirection::Down),
            1_704_067_200_000
        ); // Monday
        for bad in [
            json!("yesterday"),
            json!("now-1x"),
            json!(true),
            json!("now/5d"),
        ] {
            assert!(
                parse_instant(&bad, false, NOW, RoundDirection::Down).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn intervals_fixed_and_calendar() {
        use IntervalKind::*;
        assert_eq!(
            HistogramInterval::parse("30s", Fixed),
            Ok(HistogramInterval::Fixed(30_000))
        );
        assert_eq!(
            HistogramInterval::parse("500ms", Legacy),
            Ok(HistogramInterval::Fixed(500))
        );
        assert!(matches!(
            HistogramInterval::parse("1M", Calendar),
            Ok(HistogramInterval::Calendar(_))
        ));
        assert!(matches!(
            HistogramInterval::parse("1d", Legacy),
            Ok(HistogramInterval::Calendar(_))
        ));
        assert_eq!(
            HistogramInterval::parse("1d", Fixed),
            Ok(HistogramInterval::Fixed(86_400_000))
        );
        assert!(HistogramInterval::parse("2d", Calendar).is_err());
        assert!(HistogramInterval::parse("10x", Fixed).is_err());
        assert!(HistogramInterval::parse("0s", Fixed).is_err());
    }

    #[test]
    fn granularities_follow_zone_and_offset() {
        let day = HistogramInterval::parse("1d", IntervalKind::Calendar).expect("a unit");
        let berlin = parse_time_zone("Europe/Berlin").expect("a zone");
        let granularity = day.granularity(berlin, 0).expect("a granularity");
        // 2024-01-01T12:00Z lies in the Berlin day starting 2023-12-31T23:00Z.
        assert_eq!(granularity.truncate(1_704_110_400_000), 1_704_063_600_000);
        let shifted = HistogramInterval::Fixed(3_600_000)
            .granularity(Tz::UTC, parse_offset("+30m").expect("an offset"))
            .expect("a granularity");
        assert_eq!(shifted.truncate(1_704_067_200_000), 1_704_065_400_000);
        let offset_day = day
            .granularity(Tz::UTC, parse_offset("+6h").expect("an offset"))
            .expect("a granularity");
        assert_eq!(offset_day.truncate(1_704_067_200_000), 1_704_002_400_000);
        assert_eq!(
            parse_time_zone("+02:00").map(|zone| zone.name().to_owned()),
            Ok("Etc/GMT-2".to_owned())
        );
        assert!(parse_time_zone("+05:30").is_err());
        assert!(parse_time_zone("Mars/Base").is_err());
    }
}
