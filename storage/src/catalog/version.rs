//! Segment versions: which of two segments for the same time is newer.
//!
//! Every segment carries a [`Version`]. When two visible segments cover the
//! same time, the one with the greater version wins; publishing a segment with
//! a newer version is how a re-load replaces history (see [`super::publish`]).
//!
//! As in Druid, a version is a UTC timestamp, written in ISO-8601. Strata keeps
//! microseconds (`2024-05-01T12:34:56.123456Z`) and always prints exactly that
//! shape, with a four-digit year, so comparing two version *strings* gives the
//! same answer as comparing the versions — clients that sort Druid versions as
//! text keep working.
//!
//! Versions must be strictly increasing even when the clock is not (two
//! publishes in the same microsecond, a clock stepped backwards after a
//! restart). [`Version::next_after`] handles that by taking the later of "now"
//! and "one microsecond after the previous version", instead of appending a
//! tie-breaking counter: the result is still a plain timestamp, still sorts as
//! text, and is still strictly greater than its predecessor.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The `strftime` shape of a version: ISO-8601 UTC with six fractional digits.
const FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.6fZ";

/// `0000-01-01T00:00:00.000000Z` in microseconds since the Unix epoch.
const MIN_MICROS: i64 = -62_167_219_200_000_000;

/// `9999-12-31T23:59:59.999999Z` in microseconds since the Unix epoch.
const MAX_MICROS: i64 = 253_402_300_799_999_999;

/// A segment version: a UTC instant with microsecond precision between the
/// years 0 and 9999, totally ordered by time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Version {
    epoch_micros: i64,
}

/// Why a version could not be made or parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    #[error(
        "`{text}` is not a segment version; a version is an ISO-8601 UTC timestamp with \
         exactly six fractional digits, like `2024-05-01T12:34:56.123456Z`"
    )]
    Malformed { text: String },
    #[error(
        "{epoch_micros} microseconds since the epoch is outside the years 0000..=9999 \
         that a segment version can express"
    )]
    OutOfRange { epoch_micros: i64 },
}

impl Version {
    /// The version for the current instant of the system clock.
    pub fn now() -> Version {
        let micros = Utc::now().timestamp_micros();
        Version {
            epoch_micros: micros.clamp(MIN_MICROS, MAX_MICROS),
        }
    }

    /// The version at `epoch_micros` microseconds since the Unix epoch.
    pub fn from_epoch_micros(epoch_micros: i64) -> Result<Version, VersionError> {
        if (MIN_MICROS..=MAX_MICROS).contains(&epoch_micros) {
            Ok(Version { epoch_micros })
        } else {
            Err(VersionError::OutOfRange { epoch_micros })
        }
    }

    /// Microseconds since the Unix epoch.
    pub fn epoch_micros(&self) -> i64 {
        self.epoch_micros
    }

    /// A version strictly greater than `previous`: now, or one microsecond
    /// after `previous` if the clock has not moved past it.
    ///
    /// Fails only when `previous` is the last expressible instant of 9999.
    pub fn next_after(previous: &Version) -> Result<Version, VersionError> {
        let now = Version::now();
        if now > *previous {
            return Ok(now);
        }
        let epoch_micros = previous.epoch_micros.saturating_add(1);
        if epoch_micros > MAX_MICROS {
            return Err(VersionError::OutOfRange { epoch_micros });
        }
        Ok(Version { epoch_micros })
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The range check at construction guarantees chrono can represent it.
        match DateTime::<Utc>::from_timestamp_micros(self.epoch_micros) {
            Some(instant) => write!(f, "{}", instant.format(FORMAT)),
            None => write!(f, "{}", self.epoch_micros),
        }
    }
}

impl FromStr for Version {
    type Err = VersionError;

    /// Parses exactly the shape [`Display`](fmt::Display) prints, nothing
    /// looser, so a version has one spelling.
    fn from_str(text: &str) -> Result<Version, VersionError> {
        let malformed = || VersionError::Malformed {
            text: text.to_owned(),
        };
        let parsed = NaiveDateTime::parse_from_str(text, FORMAT).map_err(|_| malformed())?;
        let version = Version::from_epoch_micros(parsed.and_utc().timestamp_micros())?;
        if version.to_string() != text {
            return Err(malformed());
        }
        Ok(version)
    }
}

impl Serialize for Version {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Version {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Version, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn prints_iso_with_microseconds() {
        let v = Version::from_epoch_micros(1_714_566_896_123_456).unwrap();
        assert_eq!(v.to_string(), "2024-05-01T12:34:56.123456Z");
        assert_eq!("2024-05-01T12:34:56.123456Z".parse::<Version>(), Ok(v));
    }

    #[test]
    fn range_bounds_are_the_years_0_to_9999() {
        let min = Version::from_epoch_micros(MIN_MICROS).unwrap();
        let max = Version::from_epoch_micros(MAX_MICROS).unwrap();
        assert_eq!(min.to_string(), "0000-01-01T00:00:00.000000Z");
        assert_eq!(max.to_string(), "9999-12-31T23:59:59.999999Z");
        assert!(Version::from_epoch_micros(MIN_MICROS - 1).is_err());
        assert!(Version::from_epoch_micros(MAX_MICROS + 1).is_err());
        assert!(matches!(
            Version::next_after(&max),
            Err(VersionError::OutOfRange { .. })
        ));
    }

    #[test]
    fn rejects_other_spellings() {
        for text in [
            "2024-05-01T12:34:56.123Z",
            "2024-05-01T12:34:56.123456",
            "2024-05-01T12:34:56.123456+00:00",
            "2024-05-01 12:34:56.123456Z",
            "2024-05-01T12:34:56.1234567Z",
            "",
            "v1",
        ] {
            assert!(
                matches!(text.parse::<Version>(), Err(VersionError::Malformed { .. })),
                "{text:?} should be rejected"
            );
        }
    }

    #[test]
    fn next_after_is_strictly_greater_even_ahead_of_the_clock() {
        let far_future = Version::from_epoch_micros(MAX_MICROS - 10).unwrap();
        let next = Version::next_after(&far_future).unwrap();
        assert_eq!(next.epoch_micros(), far_future.epoch_micros() + 1);

        let mut previous = Version::now();
        for _ in 0..1000 {
            let next = Version::next_after(&previous).unwrap();
            assert!(next > previous);
            previous = next;
        }
    }

    #[test]
    fn serializes_as_a_string() {
        let v = Version::from_epoch_micros(0).unwrap();
        let json = serde_json::to_string(&v).unwrap();
        assert_eq!(json, "\"1970-01-01T00:00:00.000000Z\"");
        assert_eq!(serde_json::from_str::<Version>(&json).unwrap(), v);
        assert!(serde_json::from_str::<Version>("\"yesterday\"").is_err());
    }

    proptest! {
        #[test]
        fn text_order_is_version_order(a in MIN_MICROS..=MAX_MICROS, b in MIN_MICROS..=MAX_MICROS) {
            let (va, vb) = (Version::from_epoch_micros(a).unwrap(), Version::from_epoch_micros(b).unwrap());
            prop_assert_eq!(va.cmp(&vb), va.to_string().cmp(&vb.to_string()));
            prop_assert_eq!(va.to_string().parse::<Version>(), Ok(va));
        }
    }
}
