//! Granularities: how Strata cuts the time line into buckets.
//!
//! A granularity answers one question — *which bucket holds this instant?* — for
//! segment time chunks (`segmentGranularity`), for rollup (`queryGranularity`) and
//! for query results (`"granularity": "hour"`). Druid writes granularities in JSON
//! in several ways; all of them are parsed once into a [`Granularity`], and nothing
//! downstream ever looks at a granularity string again:
//!
//! | JSON | meaning |
//! | --- | --- |
//! | `"all"` | one bucket holding all of time |
//! | `"none"` | one bucket per millisecond |
//! | `"hour"`, `"day"`, ... or `{"type": "hour"}` | that period in UTC |
//! | `{"type": "duration", "duration": 3600000, "origin": ...}` | a fixed length of absolute time |
//! | `{"type": "period", "period": "P1D", "timeZone": "America/New_York", "origin": ...}` | a period of wall-clock time in a zone |
//!
//! The names are `all`, `none`, `second`, `minute`, `five_minute`, `ten_minute`,
//! `fifteen_minute`, `thirty_minute`, `hour`, `six_hour`, `eight_hour`, `day`,
//! `week`, `month`, `quarter` and `year`, in any letter case.
//!
//! # Periods in a time zone
//!
//! A [`Period`] made only of hours, minutes, seconds and milliseconds is a fixed
//! length of absolute time: `PT1H` is always 3,600,000 ms, so a day with a
//! daylight-saving change still has 23 or 25 hourly buckets. Such buckets lie on a
//! grid anchored at the origin, which by default is local midnight of 1970-01-01 in
//! the zone: `PT1H` in `Asia/Kolkata` (UTC+5:30) starts its buckets at half past
//! every UTC hour, which are the local hours. (In a zone whose offset later moved by
//! a fraction of the period — `Asia/Kathmandu` went from +5:30 to +5:45 in 1986 —
//! the grid keeps the 1970 alignment; give an `origin` to align it otherwise.)
//!
//! A period with years, months, weeks or days is calendar arithmetic on the wall
//! clock: bucket `k` starts at `origin + k × period`, local time. `P1D` in
//! `America/New_York` starts every bucket at local midnight, so 2024-03-10 is a
//! 23-hour bucket; `P1M` is a calendar month and `P3M` a quarter (January, April,
//! July, October); `P1W` is an ISO week starting on Monday, because periods counted
//! in weeks default to the origin Monday 1969-12-29. Adding months clamps the day of
//! the month (January 31 + 1 month is the end of February) and is always counted
//! from the origin, so the clamping never accumulates.
//!
//! A local bucket start that does not exist (skipped when the clocks jump forward)
//! becomes the first instant after the gap; one that happens twice (clocks set
//! back) becomes its earlier occurrence. Both rules pick the earliest valid instant,
//! which keeps buckets in order and never overlapping. Where two local starts land
//! on the same instant (Samoa skipped the whole of 2011-12-30) the empty bucket
//! between them is dropped.
//!
//! An `origin` shifts the boundaries: `PT1H` with origin `2024-01-01T00:30:00Z` has
//! buckets starting at half past every hour. An origin written without a zone is
//! read as UTC, as in Druid.
//!
//! # The edges of time
//!
//! Every instant from [`Millis::MIN`] up to (not including) [`Millis::MAX`] lies in
//! exactly one bucket, as with [`Interval::ETERNITY`]. Calendar arithmetic is only
//! done within about ±158,000 years of 1970; before that, all instants share one
//! bucket starting at `Millis::MIN`, and after it the last bucket runs to
//! `Millis::MAX`. Grids (durations, fixed periods) are exact over the whole range,
//! with the first and last buckets cut at `Millis::MIN` and `Millis::MAX`.
//!
//! # Nesting
//!
//! [`Granularity::nests_in`] tells whether every bucket of one granularity lies
//! inside a single bucket of another, which is what "`queryGranularity` must not be
//! coarser than `segmentGranularity`" means, and what the planner needs to know to
//! answer an `hour` query from a rollup table kept at `minute`.

use std::fmt;
use std::str::FromStr;

use chrono::{
    DateTime, Datelike, LocalResult, NaiveDate, NaiveDateTime, Offset, TimeDelta, TimeZone,
};
use chrono_tz::{GapInfo, Tz};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::time::{
    Interval, MILLIS_PER_DAY, MILLIS_PER_HOUR, MILLIS_PER_MINUTE, MILLIS_PER_SECOND, Millis,
    format_millis, parse_iso_instant,
};

/// A Gregorian month on average (365.2425 days / 12); only used to guess which
/// bucket an instant falls in before the exact calendar arithmetic.
const MILLIS_PER_AVERAGE_MONTH: i64 = 2_629_746_000;
/// The longest period accepted. Longer ones are surely typos, and the bound keeps
/// all period arithmetic far from overflow.
const LONGEST_PERIOD_YEARS: i64 = 1_000;
/// Calendar buckets are computed for instants within this many milliseconds of the
/// epoch (about 158,000 years): far inside chrono's calendar (±262,000 years) even
/// after stepping a few of the longest periods beyond it.
const CALENDAR_LIMIT: Millis = 5_000_000_000_000_000;
/// Origins must lie within this many milliseconds of the epoch (about 95,000 years).
const ORIGIN_LIMIT: Millis = 3_000_000_000_000_000;
/// [`Granularity::nests_in`] compares calendar buckets over 1970-01-01..2100-01-01:
/// time-zone rules are only known (and data only exists) for a bounded era.
const NESTING_HORIZON: (Millis, Millis) = (0, 4_102_444_800_000);

/// An ISO-8601 period such as `P1D`, `PT15M`, `P3M` or `PT1H30M`, as Druid and
/// Joda-Time write them: `P[nY][nM][nW][nD][T[nH][nM][n[.fff]S]]`.
///
/// A `Period` is always longer than zero and at most 1,000 years long. Parse one
/// with [`str::parse`]; [`Display`](fmt::Display) writes it back in the same form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Period {
    years: u32,
    months: u32,
    weeks: u32,
    days: u32,
    hours: u32,
    minutes: u32,
    seconds: u32,
    millis: u32,
}

impl Period {
    const ZERO: Period = Period {
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
    const fn total_months(&self) -> i64 {
        self.years as i64 * 12 + self.months as i64
    }

    /// Weeks and days together, in days.
    const fn total_days(&self) -> i64 {
        self.weeks as i64 * 7 + self.days as i64
    }

    /// Hours, minutes, seconds and milliseconds together, in milliseconds.
    const fn time_millis(&self) -> i64 {
        self.hours as i64 * MILLIS_PER_HOUR
            + self.minutes as i64 * MILLIS_PER_MINUTE
            + self.seconds as i64 * MILLIS_PER_SECOND
            + self.millis as i64
    }

    /// The length in milliseconds if days were always 24 hours long; exact for
    /// periods without months in a zone without daylight saving.
    const fn day_time_millis(&self) -> i64 {
        self.total_days() * MILLIS_PER_DAY + self.time_millis()
    }

    /// Whether the period counts wall-clock days, weeks, months or years, whose
    /// length depends on where they start.
    const fn is_calendar(&self) -> bool {
        self.total_months() > 0 || self.total_days() > 0
    }

    /// The wall-clock time that bucket 0 starts at when no origin is given:
    /// 1970-01-01 00:00, or Monday 1969-12-29 00:00 for periods counted in weeks.
    const fn default_origin(&self) -> NaiveDateTime {
        match DateTime::from_timestamp_millis(self.default_origin_millis()) {
            Some(origin) => origin.naive_utc(),
            // Not reached: both default origins are days away from 1970.
            None => DateTime::UNIX_EPOCH.naive_utc(),
        }
    }

    /// The default origin as milliseconds of wall-clock time since the epoch.
    const fn default_origin_millis(&self) -> i64 {
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

/// What went wrong reading a granularity, with how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GranularityError {
    #[error(
        "unknown granularity \"{name}\"; use one of {names}, or an ISO-8601 period such as \"PT15M\" or \"P1D\"",
        names = granularity_names()
    )]
    UnknownName { name: String },
    #[error(
        "unknown granularity type \"{found}\"; use \"period\", \"duration\" or one of {names}",
        names = granularity_names()
    )]
    UnknownType { found: String },
    #[error(
        "invalid ISO-8601 period \"{period}\": {problem}; periods look like P1D, PT15M, P1M, P1W or PT1H30M"
    )]
    MalformedPeriod { period: String, problem: String },
    #[error(
        "a granularity duration must be a positive number of milliseconds, not {duration}; one hour is 3600000"
    )]
    NonPositiveDuration { duration: i64 },
    #[error(
        "unknown time zone \"{zone}\"; use an IANA time zone name such as \"UTC\", \"America/Los_Angeles\" or \"Asia/Kolkata\""
    )]
    UnknownTimeZone { zone: String },
    #[error(
        "invalid origin {origin}; give an ISO-8601 time such as \"2024-01-01T00:30:00Z\" or epoch milliseconds, within 95,000 years of 1970"
    )]
    BadOrigin { origin: String },
    #[error(
        "a granularity object needs a \"type\": \"period\", \"duration\" or a name such as \"hour\""
    )]
    MissingType,
    #[error("a \"{kind}\" granularity needs a \"{field}\" field")]
    MissingField {
        kind: &'static str,
        field: &'static str,
    },
    #[error(
        "unknown field \"{field}\" in a \"{kind}\" granularity; its fields are {accepted}",
        accepted = accepted.join(", ")
    )]
    UnknownField {
        kind: String,
        field: String,
        accepted: &'static [&'static str],
    },
    #[error("the granularity field \"{field}\" must be {expected}")]
    WrongJsonType {
        field: &'static str,
        expected: &'static str,
    },
    #[error(
        "a granularity must be a name such as \"hour\" or an object such as {{\"type\": \"period\", \"period\": \"PT1H\"}}"
    )]
    NotAGranularity,
}

/// Buckets that are laid out on a grid of absolute time: `anchor + k × length`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Grid {
    anchor: Millis,
    length: i64,
}

impl Grid {
    /// The grid point at or before `t`; it may lie before `Millis::MIN`.
    fn floor(&self, t: Millis) -> i128 {
        let anchor = i128::from(self.anchor);
        let length = i128::from(self.length);
        anchor + (i128::from(t) - anchor).div_euclid(length) * length
    }

    fn truncate(&self, t: Millis) -> Millis {
        // The floor is at most `t`, so it can only fall off the bottom of the range.
        Millis::try_from(self.floor(t)).unwrap_or(Millis::MIN)
    }

    fn next_after(&self, t: Millis) -> Millis {
        // The next grid point is above `t`, so it can only fall off the top.
        Millis::try_from(self.floor(t) + i128::from(self.length)).unwrap_or(Millis::MAX)
    }

    /// Whether every point of `coarse` is a point of `self`.
    fn divides(&self, coarse: &Grid) -> bool {
        coarse.length % self.length == 0
            && (i128::from(coarse.anchor) - i128::from(self.anchor))
                .rem_euclid(i128::from(self.length))
                == 0
    }
}

/// Buckets starting at `origin + k × (months, days, time)` on the wall clock of `zone`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct CalendarSteps {
    zone: Tz,
    origin: NaiveDateTime,
    months: i64,
    days: i64,
    time_millis: i64,
}

impl CalendarSteps {
    const fn new(period: Period, zone: Tz, origin: NaiveDateTime) -> Self {
        CalendarSteps {
            zone,
            origin,
            months: period.total_months(),
            days: period.total_days(),
            time_millis: period.time_millis(),
        }
    }

    /// The wall-clock start of bucket `k`, if the calendar reaches that far.
    fn local_start(&self, k: i64) -> Option<NaiveDateTime> {
        let shifted = add_months(self.origin, k.checked_mul(self.months)?)?;
        let millis = k
            .checked_mul(self.days)?
            .checked_mul(MILLIS_PER_DAY)?
            .checked_add(k.checked_mul(self.time_millis)?)?;
        shifted.checked_add_signed(TimeDelta::try_milliseconds(millis)?)
    }

    /// The instant bucket `k` starts at.
    fn start(&self, k: i64) -> Millis {
        match self.local_start(k) {
            Some(local) => earliest_instant(self.zone, local),
            None if k < 0 => Millis::MIN,
            None => Millis::MAX,
        }
    }

    /// The `k` with `start(k) <= t < start(k + 1)`, for `t` within the calendar limit.
    fn index_of(&self, t: Millis) -> i64 {
        let mut k = self.estimate(t);
        while self.start(k) > t {
            k = k.saturating_sub(1);
        }
        while self.start(k.saturating_add(1)) <= t {
            k = k.saturating_add(1);
        }
        k
    }

    /// A guess at [`Self::index_of`], off by at most a step or two.
    fn estimate(&self, t: Millis) -> i64 {
        let local = i128::from(t) + i128::from(offset_millis(self.zone, t));
        let origin = i128::from(self.origin.and_utc().timestamp_millis());
        let step = i128::from(
            self.months * MILLIS_PER_AVERAGE_MONTH + self.days * MILLIS_PER_DAY + self.time_millis,
        );
        let k = (local - origin).div_euclid(step);
        i64::try_from(k).unwrap_or(if k < 0 { i64::MIN } else { i64::MAX })
    }

    fn truncate(&self, t: Millis) -> Millis {
        if t < -CALENDAR_LIMIT {
            return Millis::MIN;
        }
        let start = self.start(self.index_of(t.min(CALENDAR_LIMIT)));
        if start < -CALENDAR_LIMIT {
            Millis::MIN
        } else {
            start
        }
    }

    fn next_after(&self, t: Millis) -> Millis {
        if t >= CALENDAR_LIMIT {
            return Millis::MAX;
        }
        let next = self.start(self.index_of(t.max(-CALENDAR_LIMIT - 1)).saturating_add(1));
        if next > CALENDAR_LIMIT {
            Millis::MAX
        } else {
            next
        }
    }
}

/// `local` plus `months` calendar months, clamping the day to the end of the month.
fn add_months(local: NaiveDateTime, months: i64) -> Option<NaiveDateTime> {
    let date = local.date();
    let month_index =
        (i64::from(date.year()) * 12 + i64::from(date.month0())).checked_add(months)?;
    let year = i32::try_from(month_index.div_euclid(12)).ok()?;
    let month = u32::try_from(month_index.rem_euclid(12)).ok()? + 1;
    let last_day = (28..=31)
        .rev()
        .find(|&day| NaiveDate::from_ymd_opt(year, month, day).is_some())?;
    Some(NaiveDate::from_ymd_opt(year, month, date.day().min(last_day))?.and_time(local.time()))
}

/// The offset of `zone` from UTC at instant `t`, in milliseconds (0 outside chrono's range).
fn offset_millis(zone: Tz, t: Millis) -> i64 {
    DateTime::from_timestamp_millis(t).map_or(0, |at| {
        i64::from(
            zone.offset_from_utc_datetime(&at.naive_utc())
                .fix()
                .local_minus_utc(),
        ) * MILLIS_PER_SECOND
    })
}

/// The earliest instant whose wall-clock time in `zone` is `local`, or, when the
/// clocks skipped `local`, the first instant after the gap.
fn earliest_instant(zone: Tz, local: NaiveDateTime) -> Millis {
    match zone.from_local_datetime(&local) {
        LocalResult::Single(at) => at.timestamp_millis(),
        LocalResult::Ambiguous(first, second) => {
            first.timestamp_millis().min(second.timestamp_millis())
        }
        LocalResult::None => {
            let as_if_utc = local.and_utc().timestamp_millis();
            GapInfo::new(&local, &zone)
                .and_then(|gap| gap.end)
                .map_or(as_if_utc - offset_millis(zone, as_if_utc), |end| {
                    end.timestamp_millis()
                })
        }
    }
}

/// The zone's offset in milliseconds if it never changes (UTC and the `Etc/` zones).
fn fixed_offset_millis(zone: Tz) -> Option<i64> {
    let name = zone.name();
    let fixed = name.starts_with("Etc/")
        || matches!(
            name,
            "UTC" | "UCT" | "GMT" | "GMT0" | "GMT+0" | "GMT-0" | "Greenwich" | "Universal" | "Zulu"
        );
    fixed.then(|| offset_millis(zone, 0))
}

/// How the buckets of a period granularity are laid out, worked out once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Layout {
    Grid(Grid),
    Calendar(CalendarSteps),
}

impl Layout {
    fn new(period: Period, zone: Tz, origin: Option<Millis>) -> Self {
        let fixed_offset = fixed_offset_millis(zone);
        // In a zone without daylight saving, days and weeks are fixed lengths too.
        let on_grid =
            !period.is_calendar() || (period.total_months() == 0 && fixed_offset.is_some());
        match (origin, fixed_offset) {
            (None, Some(offset)) => Layout::default_in_fixed_zone(period, zone, offset),
            (Some(origin), _) if on_grid => Layout::Grid(Grid {
                anchor: origin,
                length: period.day_time_millis(),
            }),
            (None, None) if on_grid => Layout::Grid(Grid {
                anchor: earliest_instant(zone, period.default_origin()),
                length: period.day_time_millis(),
            }),
            (origin, _) => {
                let local_origin = origin
                    .and_then(DateTime::from_timestamp_millis)
                    .map_or(period.default_origin(), |at| {
                        at.with_timezone(&zone).naive_local()
                    });
                Layout::Calendar(CalendarSteps::new(period, zone, local_origin))
            }
        }
    }

    /// The layout without an origin in a zone whose offset never changes; `const`
    /// so that [`Granularity::HOUR`] and friends are constants.
    const fn default_in_fixed_zone(period: Period, zone: Tz, offset: i64) -> Self {
        if period.total_months() == 0 {
            Layout::Grid(Grid {
                anchor: period.default_origin_millis() - offset,
                length: period.day_time_millis(),
            })
        } else {
            Layout::Calendar(CalendarSteps::new(period, zone, period.default_origin()))
        }
    }

    fn truncate(&self, t: Millis) -> Millis {
        match self {
            Layout::Grid(grid) => grid.truncate(t),
            Layout::Calendar(steps) => steps.truncate(t),
        }
    }

    fn next_after(&self, t: Millis) -> Millis {
        match self {
            Layout::Grid(grid) => grid.next_after(t),
            Layout::Calendar(steps) => steps.next_after(t),
        }
    }
}

/// Buckets of a fixed length of absolute time, Druid's `{"type": "duration"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DurationGranularity {
    grid: Grid,
}

impl DurationGranularity {
    /// Buckets of `length` milliseconds, one of them starting at `origin`.
    pub fn new(length: i64, origin: Millis) -> Result<Self, GranularityError> {
        if length <= 0 {
            return Err(GranularityError::NonPositiveDuration { duration: length });
        }
        Ok(DurationGranularity {
            grid: Grid {
                anchor: origin,
                length,
            },
        })
    }

    pub fn length(&self) -> i64 {
        self.grid.length
    }

    pub fn origin(&self) -> Millis {
        self.grid.anchor
    }
}

/// Buckets of a [`Period`] of wall-clock time in a time zone, Druid's
/// `{"type": "period"}` and the named granularities (which are in UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PeriodGranularity {
    period: Period,
    time_zone: Tz,
    origin: Option<Millis>,
    layout: Layout,
}

impl PeriodGranularity {
    /// `period` in `time_zone`; without an origin, bucket 0 starts at local
    /// midnight of 1970-01-01 (Monday 1969-12-29 for periods counted in weeks).
    pub fn new(
        period: Period,
        time_zone: Tz,
        origin: Option<Millis>,
    ) -> Result<Self, GranularityError> {
        if let Some(origin) =
            origin.filter(|origin| !(-ORIGIN_LIMIT..=ORIGIN_LIMIT).contains(origin))
        {
            return Err(GranularityError::BadOrigin {
                origin: origin.to_string(),
            });
        }
        Ok(PeriodGranularity {
            period,
            time_zone,
            origin,
            layout: Layout::new(period, time_zone, origin),
        })
    }

    const fn utc(period: Period) -> Self {
        PeriodGranularity {
            period,
            time_zone: Tz::UTC,
            origin: None,
            layout: Layout::default_in_fixed_zone(period, Tz::UTC, 0),
        }
    }

    pub fn period(&self) -> Period {
        self.period
    }

    pub fn time_zone(&self) -> Tz {
        self.time_zone
    }

    pub fn origin(&self) -> Option<Millis> {
        self.origin
    }

    /// The Druid name (`hour`, `day`, ...) if this is one of the named granularities.
    fn name(&self) -> Option<&'static str> {
        let granularity = Granularity::Period(*self);
        NAMED_PERIODS
            .iter()
            .find(|(_, named)| *named == granularity)
            .map(|(name, _)| *name)
    }
}

/// A granularity: a way to cut time into buckets. See the [module docs](self).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Granularity {
    /// One bucket holding all of time.
    All,
    /// One bucket per millisecond: timestamps are kept as they are.
    None,
    Duration(DurationGranularity),
    Period(PeriodGranularity),
}

const SECOND: Period = Period {
    seconds: 1,
    ..Period::ZERO
};
const fn minutes(minutes: u32) -> Period {
    Period {
        minutes,
        ..Period::ZERO
    }
}
const fn hours(hours: u32) -> Period {
    Period {
        hours,
        ..Period::ZERO
    }
}
const fn months(months: u32) -> Period {
    Period {
        months,
        ..Period::ZERO
    }
}

impl Granularity {
    pub const SECOND: Granularity = Granularity::Period(PeriodGranularity::utc(SECOND));
    pub const MINUTE: Granularity = Granularity::Period(PeriodGranularity::utc(minutes(1)));
    pub const FIVE_MINUTE: Granularity = Granularity::Period(PeriodGranularity::utc(minutes(5)));
    pub const TEN_MINUTE: Granularity = Granularity::Period(PeriodGranularity::utc(minutes(10)));
    pub const FIFTEEN_MINUTE: Granularity =
        Granularity::Period(PeriodGranularity::utc(minutes(15)));
    pub const THIRTY_MINUTE: Granularity = Granularity::Period(PeriodGranularity::utc(minutes(30)));
    pub const HOUR: Granularity = Granularity::Period(PeriodGranularity::utc(hours(1)));
    pub const SIX_HOUR: Granularity = Granularity::Period(PeriodGranularity::utc(hours(6)));
    pub const EIGHT_HOUR: Granularity = Granularity::Period(PeriodGranularity::utc(hours(8)));
    pub const DAY: Granularity = Granularity::Period(PeriodGranularity::utc(Period {
        days: 1,
        ..Period::ZERO
    }));
    pub const WEEK: Granularity = Granularity::Period(PeriodGranularity::utc(Period {
        weeks: 1,
        ..Period::ZERO
    }));
    pub const MONTH: Granularity = Granularity::Period(PeriodGranularity::utc(months(1)));
    pub const QUARTER: Granularity = Granularity::Period(PeriodGranularity::utc(months(3)));
    pub const YEAR: Granularity = Granularity::Period(PeriodGranularity::utc(Period {
        years: 1,
        ..Period::ZERO
    }));
}

/// The named granularities that are periods in UTC, finest first.
const NAMED_PERIODS: [(&str, Granularity); 14] = [
    ("second", Granularity::SECOND),
    ("minute", Granularity::MINUTE),
    ("five_minute", Granularity::FIVE_MINUTE),
    ("ten_minute", Granularity::TEN_MINUTE),
    ("fifteen_minute", Granularity::FIFTEEN_MINUTE),
    ("thirty_minute", Granularity::THIRTY_MINUTE),
    ("hour", Granularity::HOUR),
    ("six_hour", Granularity::SIX_HOUR),
    ("eight_hour", Granularity::EIGHT_HOUR),
    ("day", Granularity::DAY),
    ("week", Granularity::WEEK),
    ("month", Granularity::MONTH),
    ("quarter", Granularity::QUARTER),
    ("year", Granularity::YEAR),
];

/// Every granularity name, for error messages.
fn granularity_names() -> String {
    let mut names = vec!["all", "none"];
    names.extend(NAMED_PERIODS.iter().map(|(name, _)| *name));
    names.join(", ")
}

/// The granularity called `name` (lowercase), if any.
fn named(name: &str) -> Option<Granularity> {
    match name {
        "all" => Some(Granularity::All),
        "none" => Some(Granularity::None),
        _ => NAMED_PERIODS
            .iter()
            .find(|(known, _)| *known == name)
            .map(|(_, granularity)| *granularity),
    }
}

impl Granularity {
    /// The start of the bucket holding `t`.
    pub fn truncate(&self, t: Millis) -> Millis {
        match self {
            Granularity::All => Millis::MIN,
            Granularity::None => t,
            Granularity::Duration(duration) => duration.grid.truncate(t),
            Granularity::Period(period) => period.layout.truncate(t),
        }
    }

    /// The start of the bucket after the one holding `t` (the end of `t`'s bucket).
    ///
    /// Saturates at `Millis::MAX`, the exclusive end of time.
    pub fn next_bucket_start(&self, t: Millis) -> Millis {
        match self {
            Granularity::All => Millis::MAX,
            Granularity::None => t.saturating_add(1),
            Granularity::Duration(duration) => duration.grid.next_after(t),
            Granularity::Period(period) => period.layout.next_after(t),
        }
    }

    /// The bucket holding `t`.
    pub fn bucket(&self, t: Millis) -> Interval {
        interval(self.truncate(t), self.next_bucket_start(t))
    }

    /// The buckets overlapping `interval`, in order; they tile it without gaps or
    /// overlaps, the first starting at or before its start and the last ending at
    /// or after its end. For [`Granularity::All`] the one bucket is `interval`
    /// itself (Druid's behaviour: there is nothing to align to). An empty interval
    /// has no buckets.
    pub fn buckets(&self, interval: Interval) -> Buckets {
        let next_start = match self {
            _ if interval.is_empty() => interval.end(),
            Granularity::All => interval.start(),
            _ => self.truncate(interval.start()),
        };
        Buckets {
            granularity: *self,
            next_start,
            end: interval.end(),
        }
    }

    /// Whether every bucket of `self` lies inside a single bucket of `coarser`:
    /// `minute` nests in `hour`, `hour` in `day`, `day` in `month`, but `week`
    /// does not nest in `month`, and `PT1H` in `Asia/Kolkata` does not nest in
    /// `day` (UTC). Every granularity nests in itself and in `all`; `none` nests in
    /// everything.
    ///
    /// Grids of absolute time (durations, and periods without days and months or
    /// in a zone without daylight saving) are compared exactly; where calendar
    /// arithmetic in a zone is involved, the buckets are compared over the years
    /// 1970 to 2100.
    pub fn nests_in(&self, coarser: &Granularity) -> bool {
        match (self, coarser) {
            (_, Granularity::All) | (Granularity::None, _) => true,
            (Granularity::All, _) => false,
            _ if self == coarser => true,
            _ => match (self.grid(), coarser.grid()) {
                (Some(fine), Some(coarse)) => fine.divides(&coarse),
                _ => self.starts_every_bucket_of(coarser),
            },
        }
    }

    /// The grid of absolute time the buckets lie on, if they do.
    fn grid(&self) -> Option<Grid> {
        match self {
            Granularity::All => None,
            Granularity::None => Some(Grid {
                anchor: 0,
                length: 1,
            }),
            Granularity::Duration(duration) => Some(duration.grid),
            Granularity::Period(period) => match period.layout {
                Layout::Grid(grid) => Some(grid),
                Layout::Calendar(_) => None,
            },
        }
    }

    /// Whether every bucket of `coarser` within the nesting horizon starts a bucket of `self`.
    fn starts_every_bucket_of(&self, coarser: &Granularity) -> bool {
        let (from, to) = NESTING_HORIZON;
        let mut start = coarser.next_bucket_start(from - 1);
        while start < to {
            if self.truncate(start) != start {
                return false;
            }
            start = coarser.next_bucket_start(start);
        }
        true
    }

    /// Reads a granularity from its Druid JSON form (see the [module docs](self)).
    pub fn from_json(value: &Value) -> Result<Self, GranularityError> {
        match value {
            Value::String(text) => text.parse(),
            Value::Object(fields) => Granularity::from_json_object(fields),
            _ => Err(GranularityError::NotAGranularity),
        }
    }

    fn from_json_object(fields: &Map<String, Value>) -> Result<Self, GranularityError> {
        let kind = match fields.get("type") {
            Some(Value::String(kind)) => kind,
            Some(_) => {
                return Err(GranularityError::WrongJsonType {
                    field: "type",
                    expected: "a string",
                });
            }
            None => return Err(GranularityError::MissingType),
        };
        let present = |field: &str| fields.get(field).filter(|value| !value.is_null());
        match kind.to_ascii_lowercase().as_str() {
            "period" => {
                check_fields(fields, kind, &["type", "period", "timeZone", "origin"])?;
                let period = match present("period") {
                    Some(Value::String(period)) => period.parse()?,
                    Some(_) => {
                        return Err(GranularityError::WrongJsonType {
                            field: "period",
                            expected: "an ISO-8601 period string such as \"PT1H\"",
                        });
                    }
                    None => {
                        return Err(GranularityError::MissingField {
                            kind: "period",
                            field: "period",
                        });
                    }
                };
                let time_zone = match present("timeZone") {
                    Some(Value::String(zone)) => zone
                        .parse()
                        .map_err(|_| GranularityError::UnknownTimeZone { zone: zone.clone() })?,
                    Some(_) => {
                        return Err(GranularityError::WrongJsonType {
                            field: "timeZone",
                            expected: "a time zone name such as \"America/Los_Angeles\"",
                        });
                    }
                    None => Tz::UTC,
                };
                let origin = present("origin").map(parse_origin).transpose()?;
                Ok(Granularity::Period(PeriodGranularity::new(
                    period, time_zone, origin,
                )?))
            }
            "duration" => {
                check_fields(fields, kind, &["type", "duration", "origin"])?;
                let length = match present("duration") {
                    Some(value) => value.as_i64().ok_or(GranularityError::WrongJsonType {
                        field: "duration",
                        expected: "a whole number of milliseconds",
                    })?,
                    None => {
                        return Err(GranularityError::MissingField {
                            kind: "duration",
                            field: "duration",
                        });
                    }
                };
                let origin = present("origin")
                    .map(parse_origin)
                    .transpose()?
                    .unwrap_or(0);
                Ok(Granularity::Duration(DurationGranularity::new(
                    length, origin,
                )?))
            }
            name => {
                let granularity = named(name).ok_or_else(|| GranularityError::UnknownType {
                    found: kind.clone(),
                })?;
                check_fields(fields, kind, &["type"])?;
                Ok(granularity)
            }
        }
    }

    /// The canonical Druid JSON: named granularities as `"HOUR"`, `all` and `none`
    /// as `{"type": "all"}`, the rest as `period` or `duration` objects.
    fn canonical_form(&self) -> CanonicalForm {
        match self {
            Granularity::All => CanonicalForm::Object(CanonicalObject::All),
            Granularity::None => CanonicalForm::Object(CanonicalObject::None),
            Granularity::Duration(duration) => CanonicalForm::Object(CanonicalObject::Duration {
                duration: duration.length(),
                origin: origin_json(duration.origin()),
            }),
            Granularity::Period(period) => match period.name() {
                Some(name) => CanonicalForm::Name(name.to_ascii_uppercase()),
                None => CanonicalForm::Object(CanonicalObject::Period {
                    period: period.period.to_string(),
                    time_zone: period.time_zone.name(),
                    origin: period.origin.map(origin_json),
                }),
            },
        }
    }
}

/// An origin as ISO-8601 text, or as epoch milliseconds when it lies outside the
/// years 0..=9999 that ISO-8601 text (and Druid) can carry.
fn origin_json(origin: Millis) -> Value {
    let in_iso_years =
        DateTime::from_timestamp_millis(origin).is_some_and(|at| (0..=9999).contains(&at.year()));
    if in_iso_years {
        Value::String(format_millis(origin))
    } else {
        Value::from(origin)
    }
}

fn check_fields(
    fields: &Map<String, Value>,
    kind: &str,
    accepted: &'static [&'static str],
) -> Result<(), GranularityError> {
    match fields
        .keys()
        .find(|field| !accepted.contains(&field.as_str()))
    {
        Some(field) => Err(GranularityError::UnknownField {
            kind: kind.to_owned(),
            field: field.clone(),
            accepted,
        }),
        None => Ok(()),
    }
}

fn parse_origin(value: &Value) -> Result<Millis, GranularityError> {
    let parsed = match value {
        Value::String(text) => parse_iso_instant(text),
        Value::Number(number) => number.as_i64(),
        _ => None,
    };
    parsed.ok_or_else(|| GranularityError::BadOrigin {
        origin: value.to_string(),
    })
}

/// `[start, end)`; callers guarantee `end >= start`.
fn interval(start: Millis, end: Millis) -> Interval {
    Interval::new(start, end.max(start)).unwrap_or(Interval::ETERNITY)
}

impl FromStr for Granularity {
    type Err = GranularityError;

    /// A name (`hour`, `fifteen_minute`, any letter case) or an ISO-8601 period in
    /// UTC (`PT15M`, `P1D`).
    fn from_str(text: &str) -> Result<Self, GranularityError> {
        let lower = text.trim().to_ascii_lowercase();
        if let Some(granularity) = named(&lower) {
            return Ok(granularity);
        }
        let looks_like_period = lower.starts_with('p')
            && lower[1..]
                .starts_with(|character: char| character.is_ascii_digit() || character == 't');
        if looks_like_period {
            let period = PeriodGranularity::new(text.parse()?, Tz::UTC, None)?;
            return Ok(Granularity::Period(period));
        }
        Err(GranularityError::UnknownName {
            name: text.to_owned(),
        })
    }
}

impl fmt::Display for Granularity {
    /// `hour`, `all`, `PT90M`, `P1D in America/New_York`, `PT1H from 2024-01-01T00:30:00.000Z`,
    /// `duration 3600000ms from 1970-01-01T00:00:00.000Z`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Granularity::All => f.write_str("all"),
            Granularity::None => f.write_str("none"),
            Granularity::Duration(duration) => write!(
                f,
                "duration {}ms from {}",
                duration.length(),
                format_millis(duration.origin())
            ),
            Granularity::Period(period) => {
                if let Some(name) = period.name() {
                    return f.write_str(name);
                }
                write!(f, "{}", period.period)?;
                if period.time_zone != Tz::UTC {
                    write!(f, " in {}", period.time_zone.name())?;
                }
                if let Some(origin) = period.origin {
                    write!(f, " from {}", format_millis(origin))?;
                }
                Ok(())
            }
        }
    }
}

#[derive(Serialize)]
#[serde(untagged)]
enum CanonicalForm {
    Name(String),
    Object(CanonicalObject),
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum CanonicalObject {
    All,
    None,
    Duration {
        duration: i64,
        origin: Value,
    },
    Period {
        period: String,
        #[serde(rename = "timeZone")]
        time_zone: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        origin: Option<Value>,
    },
}

impl Serialize for Granularity {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.canonical_form().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Granularity {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        Granularity::from_json(&value).map_err(serde::de::Error::custom)
    }
}

/// The iterator of [`Granularity::buckets`].
#[derive(Debug, Clone)]
pub struct Buckets {
    granularity: Granularity,
    next_start: Millis,
    end: Millis,
}

impl Iterator for Buckets {
    type Item = Interval;

    fn next(&mut self) -> Option<Interval> {
        if self.next_start >= self.end {
            return None;
        }
        let start = self.next_start;
        let end = match self.granularity {
            Granularity::All => self.end,
            granularity => granularity.next_bucket_start(start),
        };
        self.next_start = end;
        Some(interval(start, end))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn at(iso: &str) -> Millis {
        parse_iso_instant(iso).unwrap()
    }

    fn granularity(spec: Value) -> Granularity {
        Granularity::from_json(&spec).unwrap()
    }

    fn period_in(period: &str, zone: &str) -> Granularity {
        granularity(json!({"type": "period", "period": period, "timeZone": zone}))
    }

    fn starts(granularity: &Granularity, from: &str, to: &str) -> Vec<String> {
        let interval = Interval::new(at(from), at(to)).unwrap();
        granularity
            .buckets(interval)
            .map(|bucket| format_millis(bucket.start()))
            .collect()
    }

    #[test]
    fn named_granularities_truncate_in_utc() {
        let t = at("2024-05-17T13:47:31.250Z");
        let cases = [
            ("second", "2024-05-17T13:47:31.000Z"),
            ("minute", "2024-05-17T13:47:00.000Z"),
            ("five_minute", "2024-05-17T13:45:00.000Z"),
            ("ten_minute", "2024-05-17T13:40:00.000Z"),
            ("fifteen_minute", "2024-05-17T13:45:00.000Z"),
            ("thirty_minute", "2024-05-17T13:30:00.000Z"),
            ("hour", "2024-05-17T13:00:00.000Z"),
            ("six_hour", "2024-05-17T12:00:00.000Z"),
            ("eight_hour", "2024-05-17T08:00:00.000Z"),
            ("day", "2024-05-17T00:00:00.000Z"),
            ("week", "2024-05-13T00:00:00.000Z"),
            ("month", "2024-05-01T00:00:00.000Z"),
            ("quarter", "2024-04-01T00:00:00.000Z"),
            ("year", "2024-01-01T00:00:00.000Z"),
        ];
        for (name, expected) in cases {
            let granularity: Granularity = name.parse().unwrap();
            assert_eq!(format_millis(granularity.truncate(t)), expected, "{name}");
            let upper: Granularity = name.to_uppercase().parse().unwrap();
            assert_eq!(upper, granularity);
            assert_eq!(granularity.to_string(), name);
        }
        assert_eq!(Granularity::None.truncate(t), t);
        assert_eq!(Granularity::All.truncate(t), Millis::MIN);
        assert_eq!(Granularity::All.bucket(t), Interval::ETERNITY);
    }

    #[test]
    fn constants_match_the_general_constructor() {
        for (name, named) in NAMED_PERIODS {
            let Granularity::Period(named) = named else {
                panic!("{name} is not a period");
            };
            let general = PeriodGranularity::new(named.period, Tz::UTC, None).unwrap();
            assert_eq!(general, named, "{name}");
        }
    }

    #[test]
    fn week_starts_on_monday_and_quarters_on_calendar_quarters() {
        // 2024-01-01 is a Monday.
        assert_eq!(
            starts(
                &Granularity::WEEK,
                "2023-12-30T00:00:00Z",
                "2024-01-09T00:00:00Z"
            ),
            [
                "2023-12-25T00:00:00.000Z",
                "2024-01-01T00:00:00.000Z",
                "2024-01-08T00:00:00.000Z"
            ]
        );
        assert_eq!(
            starts(
                &Granularity::QUARTER,
                "2024-02-10T00:00:00Z",
                "2024-07-02T00:00:00Z"
            ),
            [
                "2024-01-01T00:00:00.000Z",
                "2024-04-01T00:00:00.000Z",
                "2024-07-01T00:00:00.000Z"
            ]
        );
    }

    #[test]
    fn days_in_new_york_follow_local_midnight_across_daylight_saving() {
        let day = period_in("P1D", "America/New_York");
        assert_eq!(
            starts(&day, "2024-03-09T12:00:00Z", "2024-03-11T12:00:00Z"),
            [
                "2024-03-09T05:00:00.000Z",
                "2024-03-10T05:00:00.000Z",
                "2024-03-11T04:00:00.000Z"
            ]
        );
        let spring_forward = day.bucket(at("2024-03-10T12:00:00Z"));
        assert_eq!(
            spring_forward.end() - spring_forward.start(),
            23 * MILLIS_PER_HOUR
        );
        let fall_back = day.bucket(at("2024-11-03T12:00:00Z"));
        assert_eq!(fall_back.end() - fall_back.start(), 25 * MILLIS_PER_HOUR);
        // Hours stay an hour long: 23 of them on the spring-forward day.
        let hour = period_in("PT1H", "America/New_York");
        assert_eq!(hour.buckets(spring_forward).count(), 23);
    }

    #[test]
    fn hours_in_kolkata_align_to_local_hours() {
        let hour = period_in("PT1H", "Asia/Kolkata");
        assert_eq!(
            format_millis(hour.truncate(at("2024-05-17T13:47:00Z"))),
            "2024-05-17T13:30:00.000Z"
        );
        assert_eq!(
            format_millis(hour.truncate(at("2024-05-17T13:10:00Z"))),
            "2024-05-17T12:30:00.000Z"
        );
        let day = period_in("P1D", "Asia/Kolkata");
        assert_eq!(
            format_millis(day.truncate(at("2024-05-17T13:47:00Z"))),
            "2024-05-16T18:30:00.000Z"
        );
    }

    #[test]
    fn months_are_calendar_months_in_the_zone() {
        let month = period_in("P1M", "America/Los_Angeles");
        assert_eq!(
            starts(&month, "2024-02-15T00:00:00Z", "2024-04-02T00:00:00Z"),
            [
                "2024-02-01T08:00:00.000Z",
                "2024-03-01T08:00:00.000Z",
                "2024-04-01T07:00:00.000Z"
            ]
        );
        let year = period_in("P1Y", "Europe/Paris");
        assert_eq!(
            format_millis(year.truncate(at("2024-06-01T00:00:00Z"))),
            "2023-12-31T23:00:00.000Z"
        );
    }

    #[test]
    fn month_ends_clamp_without_drifting() {
        let month = granularity(
            json!({"type": "period", "period": "P1M", "origin": "2024-01-31T00:00:00Z"}),
        );
        assert_eq!(
            starts(&month, "2024-02-01T00:00:00Z", "2024-04-01T00:00:00Z"),
            [
                "2024-01-31T00:00:00.000Z",
                "2024-02-29T00:00:00.000Z",
                "2024-03-31T00:00:00.000Z"
            ]
        );
    }

    #[test]
    fn origin_shifts_the_boundaries() {
        let half_past = granularity(
            json!({"type": "period", "period": "PT1H", "origin": "2024-01-01T00:30:00Z"}),
        );
        assert_eq!(
            format_millis(half_past.truncate(at("2024-05-17T13:10:00Z"))),
            "2024-05-17T12:30:00.000Z"
        );
        let by_millis =
            granularity(json!({"type": "period", "period": "PT1H", "origin": 1_800_000}));
        assert_eq!(
            by_millis,
            granularity(
                json!({"type": "period", "period": "PT1H", "origin": "1970-01-01T00:30:00Z"})
            )
        );
        let duration = granularity(
            json!({"type": "duration", "duration": 7_200_000, "origin": "1970-01-01T01:00:00Z"}),
        );
        assert_eq!(
            format_millis(duration.truncate(at("2024-05-17T13:10:00Z"))),
            "2024-05-17T13:00:00.000Z"
        );
        assert_eq!(
            format_millis(duration.truncate(at("2024-05-17T12:10:00Z"))),
            "2024-05-17T11:00:00.000Z"
        );
        let mornings = period_in("P1D", "UTC");
        let shifted = granularity(
            json!({"type": "period", "period": "P1D", "timeZone": "America/New_York", "origin": "2024-01-01T06:00:00-05:00"}),
        );
        assert_ne!(mornings, shifted);
        assert_eq!(
            format_millis(shifted.truncate(at("2024-07-04T12:00:00Z"))),
            "2024-07-04T10:00:00.000Z"
        );
        assert_eq!(
            format_millis(shifted.truncate(at("2024-07-04T09:00:00Z"))),
            "2024-07-03T10:00:00.000Z"
        );
    }

    #[test]
    fn compound_periods_step_by_their_whole_length() {
        let ninety = granularity(json!({"type": "period", "period": "PT1H30M"}));
        assert_eq!(
            starts(&ninety, "1970-01-01T00:00:00Z", "1970-01-01T04:00:00Z"),
            [
                "1970-01-01T00:00:00.000Z",
                "1970-01-01T01:30:00.000Z",
                "1970-01-01T03:00:00.000Z"
            ]
        );
    }

    #[test]
    fn skipped_and_repeated_local_times_resolve_to_the_earliest_instant() {
        // Samoa skipped 2011-12-30: its day bucket is dropped, and nothing panics.
        let day = period_in("P1D", "Pacific/Apia");
        assert_eq!(
            starts(&day, "2011-12-29T12:00:00Z", "2011-12-31T12:00:00Z"),
            [
                "2011-12-29T10:00:00.000Z",
                "2011-12-30T10:00:00.000Z",
                "2011-12-31T10:00:00.000Z"
            ]
        );
        // Sao Paulo moved its clocks from 00:00 to 01:00 on 2018-11-04: that day
        // starts at 01:00 local, the first instant after the gap.
        let day = period_in("P1D", "America/Sao_Paulo");
        assert_eq!(
            format_millis(day.truncate(at("2018-11-04T12:00:00Z"))),
            "2018-11-04T03:00:00.000Z"
        );
        // A bucket starting at 01:30 in New York on 2024-11-03 starts at the first 01:30 (EDT).
        let half_past_one = granularity(
            json!({"type": "period", "period": "P1D", "timeZone": "America/New_York", "origin": "2024-01-01T06:30:00Z"}),
        );
        assert_eq!(
            format_millis(half_past_one.truncate(at("2024-11-03T07:00:00Z"))),
            "2024-11-03T05:30:00.000Z"
        );
    }

    #[test]
    fn none_and_all_buckets() {
        let interval = Interval::new(10, 13).unwrap();
        let millis: Vec<_> = Granularity::None
            .buckets(interval)
            .map(|bucket| bucket.start())
            .collect();
        assert_eq!(millis, [10, 11, 12]);
        assert_eq!(
            Granularity::All.buckets(interval).collect::<Vec<_>>(),
            [interval]
        );
        assert_eq!(
            Granularity::HOUR
                .buckets(Interval::new(5, 5).unwrap())
                .count(),
            0
        );
    }

    #[test]
    fn the_edges_of_time_do_not_panic() {
        for granularity in [
            Granularity::HOUR,
            Granularity::MONTH,
            period_in("P1D", "America/New_York"),
            Granularity::None,
        ] {
            for t in [
                Millis::MIN,
                Millis::MIN + 1,
                -CALENDAR_LIMIT,
                CALENDAR_LIMIT,
                Millis::MAX - 1,
                Millis::MAX,
            ] {
                let start = granularity.truncate(t);
                assert!(start <= t);
                assert!(granularity.next_bucket_start(t) >= start);
                let _ = granularity.bucket(t);
            }
        }
        let first = Granularity::MONTH.bucket(Millis::MIN);
        assert_eq!(first.start(), Millis::MIN);
        assert_eq!(Granularity::HOUR.bucket(Millis::MAX - 1).end(), Millis::MAX);
    }

    #[test]
    fn nesting() {
        use Granularity as G;
        let nested = [
            (G::MINUTE, G::HOUR),
            (G::HOUR, G::DAY),
            (G::DAY, G::MONTH),
            (G::MONTH, G::QUARTER),
            (G::QUARTER, G::YEAR),
            (G::DAY, G::WEEK),
            (G::FIFTEEN_MINUTE, G::SIX_HOUR),
            (G::None, G::SECOND),
            (G::YEAR, G::All),
            (G::HOUR, period_in("P1D", "America/New_York")),
            (
                period_in("PT1H", "America/New_York"),
                period_in("P1M", "America/New_York"),
            ),
            (
                period_in("P1D", "Asia/Kolkata"),
                period_in("P1M", "Asia/Kolkata"),
            ),
            (
                granularity(json!({"type": "duration", "duration": 60_000})),
                G::DAY,
            ),
        ];
        for (fine, coarse) in nested {
            assert!(fine.nests_in(&coarse), "{fine} should nest in {coarse}");
        }
        let not_nested = [
            (G::HOUR, G::MINUTE),
            (G::WEEK, G::MONTH),
            (G::EIGHT_HOUR, G::SIX_HOUR),
            (G::All, G::YEAR),
            (G::SECOND, G::None),
            (period_in("PT1H", "Asia/Kolkata"), G::DAY),
            (G::DAY, period_in("P1D", "America/New_York")),
            (period_in("P1D", "America/New_York"), G::MONTH),
            (
                granularity(json!({"type": "duration", "duration": 7_000})),
                G::MINUTE,
            ),
        ];
        for (fine, coarse) in not_nested {
            assert!(
                !fine.nests_in(&coarse),
                "{fine} should not nest in {coarse}"
            );
        }
    }

    #[test]
    fn json_forms_parse_and_serialize_canonically() {
        assert_eq!(granularity(json!("HOUR")), Granularity::HOUR);
        assert_eq!(granularity(json!({"type": "hour"})), Granularity::HOUR);
        assert_eq!(
            granularity(json!({"type": "period", "period": "PT1H", "timeZone": "UTC"})),
            Granularity::HOUR
        );
        assert_eq!(
            serde_json::to_value(Granularity::HOUR).unwrap(),
            json!("HOUR")
        );
        assert_eq!(
            serde_json::to_value(Granularity::FIVE_MINUTE).unwrap(),
            json!("FIVE_MINUTE")
        );
        assert_eq!(
            serde_json::to_value(Granularity::None).unwrap(),
            json!({"type": "none"})
        );
        assert_eq!(
            serde_json::to_value(Granularity::All).unwrap(),
            json!({"type": "all"})
        );
        let zoned = json!({"type": "period", "period": "P1D", "timeZone": "America/Los_Angeles", "origin": "2024-01-01T06:00:00.000Z"});
        assert_eq!(
            serde_json::to_value(granularity(zoned.clone())).unwrap(),
            zoned
        );
        let duration = json!({"type": "duration", "duration": 3_600_000});
        assert_eq!(
            serde_json::to_value(granularity(duration)).unwrap(),
            json!({"type": "duration", "duration": 3_600_000, "origin": "1970-01-01T00:00:00.000Z"})
        );
        let parsed: Granularity =
            serde_json::from_str(r#"{"type": "period", "period": "PT15M", "origin": null}"#)
                .unwrap();
        assert_eq!(parsed, Granularity::FIFTEEN_MINUTE);
        assert_eq!(parsed.to_string(), "fifteen_minute");
    }

    #[test]
    fn errors_say_what_is_wrong_and_how_to_fix_it() {
        let error = |spec: Value| Granularity::from_json(&spec).unwrap_err().to_string();
        let message = error(json!("hourly"));
        assert!(
            message.contains("\"hourly\"") && message.contains("fifteen_minute, thirty_minute"),
            "{message}"
        );
        let message = error(json!({"type": "period", "period": "P1X"}));
        assert!(
            message.contains("'X' is not a unit") && message.contains("P1D"),
            "{message}"
        );
        let message = error(json!({"type": "period", "period": "PT"}));
        assert!(message.contains("\"T\" must be followed"), "{message}");
        let message = error(json!({"type": "period", "period": "P1H"}));
        assert!(message.contains("PT1H"), "{message}");
        let message = error(json!({"type": "period", "period": "P0D"}));
        assert!(message.contains("zero"), "{message}");
        let message = error(json!({"type": "period", "period": "P2000Y"}));
        assert!(message.contains("1000 years"), "{message}");
        let message = error(json!({"type": "duration", "duration": 0}));
        assert!(
            message.contains("positive") && message.contains("3600000"),
            "{message}"
        );
        let message = error(json!({"type": "duration", "duration": -5}));
        assert!(message.contains("-5"), "{message}");
        let message = error(json!({"type": "period", "period": "P1D", "timeZone": "Mars/Olympus"}));
        assert!(
            message.contains("Mars/Olympus") && message.contains("IANA"),
            "{message}"
        );
        let message = error(json!({"type": "period", "period": "P1D", "origin": "yesterday"}));
        assert!(
            message.contains("yesterday") && message.contains("ISO-8601"),
            "{message}"
        );
        let message = error(json!({"type": "period", "period": "P1D", "timezone": "UTC"}));
        assert!(
            message.contains("\"timezone\"") && message.contains("timeZone"),
            "{message}"
        );
        let message = error(json!({"type": "hourly"}));
        assert!(
            message.contains("\"hourly\"") && message.contains("period"),
            "{message}"
        );
        let message = error(json!({"type": "period"}));
        assert!(message.contains("needs a \"period\""), "{message}");
        assert_eq!(
            Granularity::from_json(&json!(3)),
            Err(GranularityError::NotAGranularity)
        );
    }

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

    fn any_zone() -> impl Strategy<Value = Tz> {
        prop::sample::select(chrono_tz::TZ_VARIANTS.to_vec())
    }

    fn any_period() -> impl Strategy<Value = Period> {
        prop_oneof![
            (1u32..=3, 0u32..=2).prop_map(|(years, months)| Period {
                years,
                months,
                ..Period::ZERO
            }),
            (1u32..=13).prop_map(months),
            (1u32..=3).prop_map(|weeks| Period {
                weeks,
                ..Period::ZERO
            }),
            (1u32..=10, 0u32..=23).prop_map(|(days, hours)| Period {
                days,
                hours,
                ..Period::ZERO
            }),
            (1u32..=48).prop_map(hours),
            (1u32..=120).prop_map(minutes),
            (1u32..=90, 0u32..=999).prop_map(|(seconds, millis)| Period {
                seconds,
                millis,
                ..Period::ZERO
            }),
        ]
    }

    /// 1970-01-01 .. 2100-01-01.
    fn any_instant() -> impl Strategy<Value = Millis> {
        0..NESTING_HORIZON.1
    }

    fn any_granularity() -> impl Strategy<Value = Granularity> {
        prop_oneof![
            1 => Just(Granularity::None),
            2 => (1i64..=10 * MILLIS_PER_DAY, any_instant())
                .prop_map(|(length, origin)| Granularity::Duration(DurationGranularity::new(length, origin).unwrap())),
            8 => (any_period(), any_zone(), prop::option::of(any_instant())).prop_map(|(period, zone, origin)| {
                Granularity::Period(PeriodGranularity::new(period, zone, origin).unwrap())
            }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn truncate_finds_the_bucket_holding_t(granularity in any_granularity(), t in any_instant()) {
            let start = granularity.truncate(t);
            let next = granularity.next_bucket_start(t);
            prop_assert!(start <= t && t < next, "{granularity}: {start} <= {t} < {next}");
            prop_assert_eq!(granularity.truncate(start), start);
            prop_assert_eq!(granularity.next_bucket_start(start), next);
            prop_assert_eq!(granularity.truncate(next), next);
            prop_assert_eq!(granularity.bucket(t), Interval::new(start, next).unwrap());
        }

        #[test]
        fn buckets_tile_the_interval(
            granularity in any_granularity(),
            start in any_instant(),
            length in 1i64..(400 * MILLIS_PER_DAY),
        ) {
            let interval = Interval::new(start, start + length).unwrap();
            // Fine buckets over a long interval are too many to walk: check a prefix.
            let walked = 2_000;
            let buckets: Vec<_> = granularity.buckets(interval).take(walked + 1).collect();
            let first = buckets.first().unwrap();
            prop_assert!(first.start() <= interval.start() && interval.start() < first.end());
            let last = buckets.last().unwrap();
            prop_assert!(last.start() < interval.end());
            if buckets.len() <= walked {
                prop_assert!(interval.end() <= last.end());
            }
            for pair in buckets.windows(2) {
                prop_assert!(pair[0].start() < pair[0].end());
                prop_assert_eq!(pair[0].end(), pair[1].start());
            }
        }

        #[test]
        fn nested_buckets_lie_inside_the_coarser_bucket(
            fine in any_granularity(),
            coarse in any_granularity(),
            t in any_instant(),
        ) {
            if fine.nests_in(&coarse) {
                let bucket = fine.bucket(t);
                prop_assert_eq!(coarse.truncate(bucket.start()), coarse.truncate(t));
                prop_assert!(bucket.end() <= coarse.next_bucket_start(t));
            }
        }

        #[test]
        fn json_round_trips(granularity in any_granularity()) {
            let json = serde_json::to_value(granularity).unwrap();
            prop_assert_eq!(Granularity::from_json(&json).unwrap(), granularity);
        }
    }
}
