//! Helpers shared by the granularity tests: instants and granularities written
//! as text, and proptest strategies over periods, zones and granularities.

use chrono_tz::Tz;
use proptest::prelude::*;
use serde_json::{Value, json};

use super::named::{hours, minutes, months};
use super::{DurationGranularity, Granularity, NESTING_HORIZON, Period, PeriodGranularity};
use crate::time::{Interval, MILLIS_PER_DAY, Millis, format_millis, parse_iso_instant};

pub(super) fn at(iso: &str) -> Millis {
    parse_iso_instant(iso).unwrap()
}

pub(super) fn granularity(spec: Value) -> Granularity {
    Granularity::from_json(&spec).unwrap()
}

pub(super) fn period_in(period: &str, zone: &str) -> Granularity {
    granularity(json!({"type": "period", "period": period, "timeZone": zone}))
}

pub(super) fn starts(granularity: &Granularity, from: &str, to: &str) -> Vec<String> {
    let interval = Interval::new(at(from), at(to)).unwrap();
    granularity
        .buckets(interval)
        .map(|bucket| format_millis(bucket.start()))
        .collect()
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
pub(super) fn any_instant() -> impl Strategy<Value = Millis> {
    0..NESTING_HORIZON.1
}

pub(super) fn any_granularity() -> impl Strategy<Value = Granularity> {
    prop_oneof![
        1 => Just(Granularity::None),
        2 => (1i64..=10 * MILLIS_PER_DAY, any_instant())
            .prop_map(|(length, origin)| Granularity::Duration(DurationGranularity::new(length, origin).unwrap())),
        8 => (any_period(), any_zone(), prop::option::of(any_instant())).prop_map(|(period, zone, origin)| {
            Granularity::Period(PeriodGranularity::new(period, zone, origin).unwrap())
        }),
    ]
}
