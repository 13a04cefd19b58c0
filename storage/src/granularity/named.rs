//! The named granularities: `all` and `none`, and `second` to `year` as Druid's
//! shorthand for periods in UTC.
//!
//! Each named period is a constant such as [`Granularity::HOUR`], equal to the
//! same period built by [`PeriodGranularity::new`] in UTC without an origin, so
//! `"hour"`, `{"type": "hour"}` and `{"type": "period", "period": "PT1H"}` read as
//! the same granularity, which is written back by its name.

use super::{Granularity, Period, PeriodGranularity};

const SECOND: Period = Period {
    seconds: 1,
    ..Period::ZERO
};
pub(super) const fn minutes(minutes: u32) -> Period {
    Period {
        minutes,
        ..Period::ZERO
    }
}
pub(super) const fn hours(hours: u32) -> Period {
    Period {
        hours,
        ..Period::ZERO
    }
}
pub(super) const fn months(months: u32) -> Period {
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
pub(super) const NAMED_PERIODS: [(&str, Granularity); 14] = [
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
pub(super) fn granularity_names() -> String {
    let mut names = vec!["all", "none"];
    names.extend(NAMED_PERIODS.iter().map(|(name, _)| *name));
    names.join(", ")
}

/// The granularity called `name` (lowercase), if any.
pub(super) fn named(name: &str) -> Option<Granularity> {
    match name {
        "all" => Some(Granularity::All),
        "none" => Some(Granularity::None),
        _ => NAMED_PERIODS
            .iter()
            .find(|(known, _)| *known == name)
            .map(|(_, granularity)| *granularity),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::granularity::test_support::{at, starts};
    use crate::time::{Interval, Millis, format_millis};
    use chrono_tz::Tz;

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
}
