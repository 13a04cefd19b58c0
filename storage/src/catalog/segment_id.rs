//! Naming a segment: datasource, time chunk, version, partition.
//!
//! A [`SegmentId`] says everything the catalog needs to decide whether a
//! segment is visible: which datasource it belongs to, which time chunk it
//! covers, at which [`Version`], and which partition of that chunk-and-version
//! it is (late data for a chunk adds a partition at the same version). A
//! [`SegmentDescriptor`] adds what a published segment reports about itself.
//!
//! The id prints the way Druid prints segment ids, so they can be compared
//! with Druid's tools and logs:
//! `weblogs_2024-01-01T00:00:00.000Z_2024-01-02T00:00:00.000Z_2024-05-01T12:34:56.123456Z`,
//! with `_<partition>` appended when the partition is not 0 (Druid omits the
//! zero partition too). [`SegmentId::dir_name`] is a second spelling of the same
//! id, without `:`, used as a directory name.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::version::Version;
use crate::spec::DataSourceName;
use crate::time::{Interval, format_millis};

/// The identity of one segment.
///
/// Built by [`SegmentId::new`], which refuses an empty interval. The
/// datasource is a [`DataSourceName`], so it is always one safe path
/// component; in JSON it is a plain string, checked on the way in.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "SegmentIdFields", into = "SegmentIdFields")]
pub struct SegmentId {
    datasource: DataSourceName,
    interval: Interval,
    version: Version,
    partition: u32,
}

/// Why a segment id cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidSegmentId {
    #[error("segment interval {interval} is empty; a segment must cover some time")]
    EmptyInterval { interval: Interval },
    #[error("segment interval ends ({end}) before it starts ({start})")]
    InvertedInterval { start: i64, end: i64 },
}

impl SegmentId {
    pub fn new(
        datasource: DataSourceName,
        interval: Interval,
        version: Version,
        partition: u32,
    ) -> Result<SegmentId, InvalidSegmentId> {
        if interval.end() < interval.start() {
            // `Interval::new` forbids this, but deserialized intervals skip it.
            return Err(InvalidSegmentId::InvertedInterval {
                start: interval.start(),
                end: interval.end(),
            });
        }
        if interval.is_empty() {
            return Err(InvalidSegmentId::EmptyInterval { interval });
        }
        Ok(SegmentId {
            datasource,
            interval,
            version,
            partition,
        })
    }

    pub fn datasource(&self) -> &DataSourceName {
        &self.datasource
    }

    /// The time chunk this segment covers.
    pub fn interval(&self) -> Interval {
        self.interval
    }

    pub fn version(&self) -> Version {
        self.version
    }

    pub fn partition(&self) -> u32 {
        self.partition
    }

    /// Druid's rule: `self` hides `other` when both belong to the same
    /// datasource, `self` is strictly newer and its interval contains
    /// `other`'s. Partitions of one version never hide each other, and a
    /// newer segment that covers only part of an older one leaves it visible.
    pub fn overshadows(&self, other: &SegmentId) -> bool {
        self.datasource == other.datasource
            && self.version > other.version
            && self.interval.start() <= other.interval.start()
            && other.interval.end() <= self.interval.end()
    }

    /// The id as one directory name: `<start>_<end>_<version>_<partition>`
    /// with the `:` of the ISO timestamps removed (not allowed in Windows
    /// file names, awkward in shells). The datasource is the parent
    /// directory, so it is not repeated.
    pub fn dir_name(&self) -> String {
        let compact = |text: String| text.replace(':', "");
        format!(
            "{}_{}_{}_{}",
            compact(format_millis(self.interval.start())),
            compact(format_millis(self.interval.end())),
            compact(self.version.to_string()),
            self.partition
        )
    }
}

impl fmt::Display for SegmentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}_{}_{}_{}",
            self.datasource,
            format_millis(self.interval.start()),
            format_millis(self.interval.end()),
            self.version
        )?;
        if self.partition != 0 {
            write!(f, "_{}", self.partition)?;
        }
        Ok(())
    }
}

/// The serialized shape of a [`SegmentId`], validated on the way in.
#[derive(Serialize, Deserialize)]
struct SegmentIdFields {
    #[serde(rename = "dataSource")]
    datasource: DataSourceName,
    interval: Interval,
    version: Version,
    partition: u32,
}

impl TryFrom<SegmentIdFields> for SegmentId {
    type Error = InvalidSegmentId;

    fn try_from(fields: SegmentIdFields) -> Result<SegmentId, InvalidSegmentId> {
        SegmentId::new(
            fields.datasource,
            fields.interval,
            fields.version,
            fields.partition,
        )
    }
}

impl From<SegmentId> for SegmentIdFields {
    fn from(id: SegmentId) -> SegmentIdFields {
        SegmentIdFields {
            datasource: id.datasource,
            interval: id.interval,
            version: id.version,
            partition: id.partition,
        }
    }
}

/// A published segment as the catalog lists it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SegmentDescriptor {
    pub id: SegmentId,
    /// Rows in the segment (rolled-up rows when it has a rollup table).
    pub rows: u64,
    /// Bytes the segment's files take on disk.
    pub bytes: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;
    const JAN_1: i64 = 1_704_067_200_000;

    fn name(text: &str) -> DataSourceName {
        DataSourceName::new(text).unwrap()
    }

    fn version() -> Version {
        "2024-05-01T12:34:56.123456Z".parse().unwrap()
    }

    #[test]
    fn displays_like_druid() {
        let day = Interval::new(JAN_1, JAN_1 + DAY).unwrap();
        let first = SegmentId::new(name("weblogs"), day, version(), 0).unwrap();
        assert_eq!(
            first.to_string(),
            "weblogs_2024-01-01T00:00:00.000Z_2024-01-02T00:00:00.000Z_2024-05-01T12:34:56.123456Z"
        );
        let third = SegmentId::new(name("weblogs"), day, version(), 2).unwrap();
        assert_eq!(
            third.to_string(),
            "weblogs_2024-01-01T00:00:00.000Z_2024-01-02T00:00:00.000Z_2024-05-01T12:34:56.123456Z_2"
        );
        assert_eq!(
            first.dir_name(),
            "2024-01-01T000000.000Z_2024-01-02T000000.000Z_2024-05-01T123456.123456Z_0"
        );
    }

    #[test]
    fn refuses_ids_that_cannot_be_stored() {
        let empty = Interval::new(JAN_1, JAN_1).unwrap();
        assert!(matches!(
            SegmentId::new(name("ds"), empty, version(), 0),
            Err(InvalidSegmentId::EmptyInterval { .. })
        ));
        let inverted = r#"{"dataSource":"ds","interval":{"start":10,"end":5},
            "version":"2024-05-01T12:34:56.123456Z","partition":0}"#;
        let err = serde_json::from_str::<SegmentId>(inverted).unwrap_err();
        assert!(
            err.to_string().contains("ends (5) before it starts (10)"),
            "{err}"
        );
    }

    #[test]
    fn refuses_a_datasource_that_would_leave_the_segments_directory() {
        // `SegmentId::new` takes a `DataSourceName`, which cannot hold `../etc`;
        // an id read from JSON goes through the same check.
        assert!(DataSourceName::new("../etc").is_err());
        let escaping = r#"{"dataSource":"../etc","interval":{"start":0,"end":10},
            "version":"2024-05-01T12:34:56.123456Z","partition":0}"#;
        let err = serde_json::from_str::<SegmentId>(escaping).unwrap_err();
        assert!(
            err.to_string().contains(r#""../etc" contains '/'"#),
            "{err}"
        );
    }

    #[test]
    fn round_trips_through_json() {
        let day = Interval::new(JAN_1, JAN_1 + DAY).unwrap();
        let id = SegmentId::new(name("ds"), day, version(), 7).unwrap();
        let json = serde_json::to_string(&id).unwrap();
        assert!(json.contains(r#""dataSource":"ds""#), "{json}");
        assert_eq!(serde_json::from_str::<SegmentId>(&json).unwrap(), id);
    }

    #[test]
    fn overshadowing_needs_a_newer_version_that_contains_the_interval() {
        let old = version();
        let new = Version::next_after(&old).unwrap();
        let day = Interval::new(JAN_1, JAN_1 + DAY).unwrap();
        let hour = Interval::new(JAN_1, JAN_1 + DAY / 24).unwrap();
        let next_day = Interval::new(JAN_1 + DAY / 2, JAN_1 + DAY + DAY / 2).unwrap();
        let id = |interval, version, partition| {
            SegmentId::new(name("ds"), interval, version, partition).unwrap()
        };

        assert!(id(day, new, 0).overshadows(&id(day, old, 3)));
        assert!(id(day, new, 0).overshadows(&id(hour, old, 0)));
        assert!(
            !id(hour, new, 0).overshadows(&id(day, old, 0)),
            "partial cover"
        );
        assert!(
            !id(next_day, new, 0).overshadows(&id(day, old, 0)),
            "overlap"
        );
        assert!(
            !id(day, old, 1).overshadows(&id(day, old, 0)),
            "same version"
        );
        assert!(!id(day, old, 0).overshadows(&id(day, new, 0)), "older");
        let other_ds = SegmentId::new(name("other"), day, new, 0).unwrap();
        assert!(!other_ds.overshadows(&id(day, old, 0)));
    }
}
