//! Bucket layouts: where the buckets of a duration or a period start.
//!
//! Buckets are laid out in one of two ways, chosen once when a granularity is
//! built:
//!
//! - a [`Grid`] of absolute time, `anchor + k × length`: durations, periods made
//!   only of hours, minutes, seconds and milliseconds, and periods of days or weeks
//!   in a zone whose offset never changes. Grid arithmetic is done in `i128`, so it
//!   is exact over the whole range of [`Millis`].
//! - [`CalendarSteps`] on the wall clock of a zone, `origin + k × period` in local
//!   time: periods with months or years, and periods with days or weeks in a zone
//!   whose offset changes. Local starts that the clocks skip or repeat resolve to
//!   the earliest valid instant, and the arithmetic is only done within
//!   [`CALENDAR_LIMIT`] of the epoch.
//!
//! [`Layout`] is that choice for a period granularity.

use chrono::{
    DateTime, Datelike, LocalResult, NaiveDate, NaiveDateTime, Offset, TimeDelta, TimeZone,
};
use chrono_tz::{GapInfo, Tz};

use super::period::{MILLIS_PER_AVERAGE_MONTH, Period};
use crate::time::{MILLIS_PER_DAY, MILLIS_PER_SECOND, Millis};

/// Calendar buckets are computed for instants within this many milliseconds of the
/// epoch (about 158,000 years): far inside chrono's calendar (±262,000 years) even
/// after stepping a few of the longest periods beyond it.
const CALENDAR_LIMIT: Millis = 5_000_000_000_000_000;

/// Buckets that are laid out on a grid of absolute time: `anchor + k × length`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct Grid {
    pub(super) anchor: Millis,
    pub(super) length: i64,
}

impl Grid {
    /// The grid point at or before `t`; it may lie before `Millis::MIN`.
    fn floor(&self, t: Millis) -> i128 {
        let anchor = i128::from(self.anchor);
        let length = i128::from(self.length);
        anchor + (i128::from(t) - anchor).div_euclid(length) * length
    }

    pub(super) fn truncate(&self, t: Millis) -> Millis {
        // The floor is at most `t`, so it can only fall off the bottom of the range.
        Millis::try_from(self.floor(t)).unwrap_or(Millis::MIN)
    }

    pub(super) fn next_after(&self, t: Millis) -> Millis {
        // The next grid point is above `t`, so it can only fall off the top.
        Millis::try_from(self.floor(t) + i128::from(self.length)).unwrap_or(Millis::MAX)
    }

    /// Whether every point of `coarse` is a point of `self`.
    pub(super) fn divides(&self, coarse: &Grid) -> bool {
        coarse.length % self.length == 0
            && (i128::from(coarse.anchor) - i128::from(self.anchor))
                .rem_euclid(i128::from(self.length))
                == 0
    }
}

/// Buckets starting at `origin + k × (months, days, time)` on the wall clock of `zone`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct CalendarSteps {
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
pub(super) enum Layout {
    Grid(Grid),
    Calendar(CalendarSteps),
}

impl Layout {
    pub(super) fn new(period: Period, zone: Tz, origin: Option<Millis>) -> Self {
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
    /// so that [`Granularity::HOUR`](super::Granularity::HOUR) and friends are constants.
    pub(super) const fn default_in_fixed_zone(period: Period, zone: Tz, offset: i64) -> Self {
        if period.total_months() == 0 {
            Layout::Grid(Grid {
                anchor: period.default_origin_millis() - offset,
                length: period.day_time_millis(),
            })
        } else {
            Layout::Calendar(CalendarSteps::new(period, zone, period.default_origin()))
        }
    }

    pub(super) fn truncate(&self, t: Millis) -> Millis {
        match self {
            Layout::Grid(grid) => grid.truncate(t),
            Layout::Calendar(steps) => steps.truncate(t),
        }
    }

    pub(super) fn next_after(&self, t: Millis) -> Millis {
        match self {
            Layout::Grid(grid) => grid.next_after(t),
            Layout::Calendar(steps) => steps.next_after(t),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::granularity::Granularity;
    use crate::granularity::test_support::{at, granularity, period_in, starts};
    use crate::time::{MILLIS_PER_HOUR, format_millis};
    use serde_json::json;

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
}
