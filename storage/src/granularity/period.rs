//! Periods: lengths of wall-clock time written in ISO-8601, such as `P1D`,
//! `PT15M`, `P3M` or `PT1H30M`.
//!
//! A [`Period`] keeps each unit apart (years, months, weeks, days, hours,
//! minutes, seconds and milliseconds) instead of adding them up, because only the
//! time units are fixed lengths: how long a month or a day lasts depends on where
//! it starts and in which zone. The bucket layouts read the units back to choose
//! between a grid of absolute time and calendar steps on the wall clock.
//!
//! Text is parsed once, with an error that names the part that is wrong (a unit
//! out of order, a time unit before `T`, a fraction anywhere but the seconds), and
//! [`Display`](fmt::Display) writes the same ISO-8601 form back.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDateTime};

use super::GranularityError;
use crate::time::{MILLIS_PER_DAY, MILLIS_PER_HOUR, MILLIS_PER_MINUTE, MILLIS_PER_SECOND};

/// A Gregorian month on average (365.2425 days / 12); only used to guess which
/// bucket an instant falls in before the exact calendar arithmetic.
pub(super) const MILLIS_PER_AVERAGE_MONTH: i64 = 2_629_746_000;
/// The longest period accepted. Longer ones are surely typos, and the bound keeps
/// all period arithmetic far from overflow.
const LONGEST_PERIOD_YEARS: i64 = 1_000;

/// An ISO-8601 period such as `P1D`, `PT15M`, `P3M` or `PT1H30M`, as Druid and
/// Joda-Time write them: `P[nY][nM][nW][nD][T[nH][nM][n[.fff]S]]`.
///
/// A `Period` is always longer than zero and at most 1,000 years long. Parse one
/// with [`str::parse`]; [`Display`](fmt::Display) writes it back in the same form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Period {
    pub(super) years: u32,
    pub(super) months: u32,
    pub(super) weeks: u32,
    pub(super) days: u32,
    pub(super) hours: u32,
    pub(super) minutes: u32,
    pub(super) seconds: u32,
    pub(super) millis: u32,
}

impl Period {
    pub(super) const ZERO: Period = Period {
        years: 0,
        months: 0,
        weeks: 0,
        days: 0,
        hours: 0,
        minutes: 0,
        seconds: 0,
        millis: 0,
    };

    pub fn years(&self) -> u32 {
        self.years
    }

    pub fn months(&self) -> u32 {
        self.months
    }

    pub fn weeks(&self) -> u32 {
        self.weeks
    }

    pub fn days(&self) -> u32 {
        self.days
    }

    pub fn hours(&self) -> u32 {
        self.hours
    }

    pub fn minutes(&self) -> u32 {
        self.minutes
    }

    pub fn seconds(&self) -> u32 {
        self.seconds
    }

    pub fn millis(&self) -> u32 {
        self.millis
    }

    /// Years and months together, in months.
    pub(super) const fn total_months(&self) -> i64 {
        self.years as i64 * 12 + self.months as i64
    }

    /// Weeks and days together, in days.
    pub(super) const fn total_days(&self) -> i64 {
        self.weeks as i64 * 7 + self.days as i64
    }

    /// Hours, minutes, seconds and milliseconds together, in milliseconds.
    pub(super) const fn time_millis(&self) -> i64 {
        self.hours as i64 * MILLIS_PER_HOUR
            + self.minutes as i64 * MILLIS_PER_MINUTE
            + self.seconds as i64 * MILLIS_PER_SECOND
            + self.millis as i64
    }

    /// The length in milliseconds if days were always 24 hours long; exact for
    /// periods without months in a zone without daylight saving.
    pub(super) const fn day_time_millis(&self) -> i64 {
        self.total_days() * MILLIS_PER_DAY + self.time_millis()
    }

    /// Whether the period counts wall-clock days, weeks, months or years, whose
    /// length depends on where they start.
    pub(super) const fn is_calendar(&self) -> bool {
        self.total_months() > 0 || self.total_days() > 0
    }

    /// The wall-clock time that bucket 0 starts at when no origin is given:
    /// 1970-01-01 00:00, or Monday 1969-12-29 00:00 for periods counted in weeks.
    pub(super) const fn default_origin(&self) -> NaiveDateTime {
        match DateTime::from_timestamp_millis(self.default_origin_millis()) {
            Some(origin) => origin.naive_utc(),
            // Not reached: both default origins are days away from 1970.
            None => DateTime::UNIX_EPOCH.naive_utc(),
        }
    }

    /// The default origin as milliseconds of wall-clock time since the epoch.
    pub(super) const fn default_origin_millis(&self) -> i64 {
        if self.weeks > 0 && self.total_months() == 0 {
            -3 * MILLIS_PER_DAY
        } else {
            0
        }
    }
}

impl FromStr for Period {
    type Err = GranularityError;

    fn from_str(text: &str) -> Result<Self, GranularityError> {
        parse_period(text).map_err(|problem| GranularityError::MalformedPeriod {
            period: text.to_owned(),
            problem,
        })
    }
}

/// Parses an ISO-8601 period; the error says which part is wrong.
fn parse_period(text: &str) -> Result<Period, String> {
    let upper = text.trim().to_ascii_uppercase();
    let Some(body) = upper.strip_prefix('P') else {
        return Err("it must start with \"P\"".to_owned());
    };
    let (date_part, time_part) = match body.split_once('T') {
        Some((date, time)) => (date, Some(time)),
        None => (body, None),
    };
    let mut period = Period::ZERO;
    let mut last_unit = None;
    for (number, unit) in components(date_part)? {
        let slot = match unit {
            'Y' => 0,
            'M' => 1,
            'W' => 2,
            'D' => 3,
            'H' | 'S' => {
                return Err(format!(
                    "\"{number}{unit}\" is a time unit, and time units go after \"T\" (as in PT{number}{unit})"
                ));
            }
            other => return Err(not_a_unit(other)),
        };
        check_unit_order(&mut last_unit, slot, unit, "Y, M, W, D")?;
        let value = whole_number(number, unit)?;
        match slot {
            0 => period.years = value,
            1 => period.months = value,
            2 => period.weeks = value,
            _ => period.days = value,
        }
    }
    if let Some(time_part) = time_part {
        if time_part.is_empty() {
            return Err(
                "\"T\" must be followed by hours, minutes or seconds (as in PT1H)".to_owned(),
            );
        }
        let mut last_unit = None;
        for (number, unit) in components(time_part)? {
            match unit {
                'H' => {
                    check_unit_order(&mut last_unit, 0, unit, "H, M, S")?;
                    period.hours = whole_number(number, unit)?;
                }
                'M' => {
                    check_unit_order(&mut last_unit, 1, unit, "H, M, S")?;
                    period.minutes = whole_number(number, unit)?;
                }
                'S' => {
                    check_unit_order(&mut last_unit, 2, unit, "H, M, S")?;
                    (period.seconds, period.millis) = seconds_and_millis(number)?;
                }
                'Y' | 'W' | 'D' => {
                    return Err(format!(
                        "\"{number}{unit}\" is a date unit, and date units go before \"T\" (as in P{number}{unit})"
                    ));
                }
                other => return Err(not_a_unit(other)),
            }
        }
    }
    if date_part.is_empty() && time_part.is_none() {
        return Err("it has no length; write a number and a unit after \"P\"".to_owned());
    }
    if period == Period::ZERO {
        return Err("it is zero, and a period must be longer than zero".to_owned());
    }
    let approximate_millis = i128::from(period.total_months())
        * i128::from(MILLIS_PER_AVERAGE_MONTH)
        + i128::from(period.day_time_millis());
    let longest = i128::from(LONGEST_PERIOD_YEARS) * 12 * i128::from(MILLIS_PER_AVERAGE_MONTH);
    if approximate_millis > longest {
        return Err(format!("it is longer than {LONGEST_PERIOD_YEARS} years"));
    }
    Ok(period)
}

/// Splits `1Y2M` into `[("1", 'Y'), ("2", 'M')]`.
fn components(part: &str) -> Result<Vec<(&str, char)>, String> {
    let mut found = Vec::new();
    let mut number_start = 0;
    for (at, character) in part.char_indices() {
        if character.is_ascii_digit() || character == '.' || character == ',' {
            continue;
        }
        if character == '-' || character == '+' {
            return Err("signs are not allowed: a period is a positive length".to_owned());
        }
        let number = &part[number_start..at];
        if number.is_empty() {
            return Err(format!("unit '{character}' has no number before it"));
        }
        found.push((number, character));
        number_start = at + character.len_utf8();
    }
    match &part[number_start..] {
        "" => Ok(found),
        rest => Err(format!("\"{rest}\" has no unit after it")),
    }
}

fn not_a_unit(unit: char) -> String {
    format!(
        "'{unit}' is not a unit; date units are Y, M, W, D and time units (after \"T\") are H, M, S"
    )
}

fn check_unit_order(
    last: &mut Option<u8>,
    slot: u8,
    unit: char,
    order: &str,
) -> Result<(), String> {
    if last.is_some_and(|last| last >= slot) {
        return Err(format!(
            "unit '{unit}' is repeated or out of order; write the units in the order {order}"
        ));
    }
    *last = Some(slot);
    Ok(())
}

fn whole_number(number: &str, unit: char) -> Result<u32, String> {
    if number.contains(['.', ',']) {
        return Err(format!(
            "only seconds may have a fraction, not \"{number}{unit}\""
        ));
    }
    number
        .parse()
        .map_err(|_| format!("\"{number}{unit}\" is too large"))
}

/// Parses `1`, `1.5` or `0,250` seconds into whole seconds and milliseconds.
fn seconds_and_millis(number: &str) -> Result<(u32, u32), String> {
    let (whole, fraction) = match number.split_once(['.', ',']) {
        Some((whole, fraction)) => (whole, fraction),
        None => (number, ""),
    };
    if whole.is_empty() || (number.len() > whole.len() && fraction.is_empty()) {
        return Err(format!("\"{number}S\" is not a number of seconds"));
    }
    if fraction.len() > 3 || fraction.contains(['.', ',']) {
        return Err(format!(
            "\"{number}S\" is more precise than a millisecond; write at most 3 decimals"
        ));
    }
    let seconds = whole
        .parse()
        .map_err(|_| format!("\"{number}S\" is too large"))?;
    let millis = format!("{fraction:0<3}")
        .parse()
        .map_err(|_| format!("\"{number}S\" is not a number of seconds"))?;
    Ok((seconds, millis))
}

impl fmt::Display for Period {
    /// The ISO-8601 form, omitting zero units: `P1Y2M`, `PT1H30M`, `PT0.500S`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("P")?;
        for (value, unit) in [
            (self.years, 'Y'),
            (self.months, 'M'),
            (self.weeks, 'W'),
            (self.days, 'D'),
        ] {
            if value > 0 {
                write!(f, "{value}{unit}")?;
            }
        }
        if self.time_millis() > 0 {
            f.write_str("T")?;
            for (value, unit) in [(self.hours, 'H'), (self.minutes, 'M')] {
                if value > 0 {
                    write!(f, "{value}{unit}")?;
                }
            }
            if self.millis > 0 {
                write!(f, "{}.{:03}S", self.seconds, self.millis)?;
            } else if self.seconds > 0 {
                write!(f, "{}S", self.seconds)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_parse_and_print_in_iso_form() {
        for (text, printed) in [
            ("P1D", "P1D"),
            ("pt15m", "PT15M"),
            ("P1Y2M3W4DT5H6M7S", "P1Y2M3W4DT5H6M7S"),
            ("PT1.5S", "PT1.500S"),
            ("PT0,25S", "PT0.250S"),
            ("PT90M", "PT90M"),
        ] {
            let period: Period = text.parse().unwrap();
            assert_eq!(period.to_string(), printed);
            assert_eq!(printed.parse::<Period>().unwrap(), period);
        }
        for bad in [
            "",
            "1D",
            "P",
            "PT",
            "P1",
            "PD",
            "P-1D",
            "P1D1Y",
            "P1M1M",
            "PT1.2345S",
            "P1.5D",
            "PT1S2M",
            "P99999999999D",
        ] {
            assert!(bad.parse::<Period>().is_err(), "{bad:?} should not parse");
        }
    }
}
