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

mod duration;
mod error;
mod json;
mod layout;
mod named;
mod period;
mod period_granularity;
#[cfg(test)]
mod test_support;

pub use duration::DurationGranularity;
pub use error::GranularityError;
pub use period::Period;
pub use period_granularity::PeriodGranularity;

use crate::time::{Interval, Millis};

use layout::{Grid, Layout};

/// [`Granularity::nests_in`] compares calendar buckets over 1970-01-01..2100-01-01:
/// time-zone rules are only known (and data only exists) for a bounded era.
const NESTING_HORIZON: (Millis, Millis) = (0, 4_102_444_800_000);

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
}

/// `[start, end)`; callers guarantee `end >= start`.
fn interval(start: Millis, end: Millis) -> Interval {
    Interval::new(start, end.max(start)).unwrap_or(Interval::ETERNITY)
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
    use crate::granularity::test_support::{any_granularity, any_instant, granularity, period_in};
    use crate::time::MILLIS_PER_DAY;
    use proptest::prelude::*;
    use serde_json::json;

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
    }
}
