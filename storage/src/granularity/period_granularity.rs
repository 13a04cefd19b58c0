//! Period granularities: buckets of a [`Period`] of wall-clock time in a time
//! zone, Druid's `{"type": "period", "period": "P1D", "timeZone": ..., "origin": ...}`.
//!
//! The period, zone and origin are kept as given, since they are what the
//! granularity is written back as; the [`Layout`] of its buckets is worked out
//! from them once, when it is built. The [module docs](super) tell how periods
//! behave in a zone.

use chrono_tz::Tz;

use super::layout::Layout;
use super::named::NAMED_PERIODS;
use super::{Granularity, GranularityError, Period};
use crate::time::Millis;

/// Origins must lie within this many milliseconds of the epoch (about 95,000 years).
const ORIGIN_LIMIT: Millis = 3_000_000_000_000_000;

/// Buckets of a [`Period`] of wall-clock time in a time zone, Druid's
/// `{"type": "period"}` and the named granularities (which are in UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PeriodGranularity {
    pub(super) period: Period,
    pub(super) time_zone: Tz,
    pub(super) origin: Option<Millis>,
    pub(super) layout: Layout,
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

    pub(super) const fn utc(period: Period) -> Self {
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
    pub(super) fn name(&self) -> Option<&'static str> {
        let granularity = Granularity::Period(*self);
        NAMED_PERIODS
            .iter()
            .find(|(_, named)| *named == granularity)
            .map(|(name, _)| *name)
    }
}
