//! Publishing: the one way segments become visible, and old ones retire.
//!
//! A [`Publish`] adds segments to a datasource and sets ingest offsets in one
//! all-or-nothing step. It follows Druid's visibility rule: a segment is
//! *overshadowed* when a segment with a strictly newer version covers its
//! whole interval (see [`SegmentId::overshadows`]). Publishing therefore
//!
//! - adds the new segments,
//! - retires every visible segment that one of them overshadows — a re-load
//!   of a day at a newer version replaces that day's segments atomically,
//! - keeps partitions of the same version side by side — that is how late
//!   data adds a partition to a time chunk,
//! - merges the given offsets into the stored ones, key by key.
//!
//! A newer segment that covers only *part* of an older one leaves the older
//! one visible: both are listed, and a reader resolves each instant to the
//! newest version covering it (Druid's timeline).
//!
//! A publish is rejected, and nothing changes, when one of its segments
//! belongs to another datasource, is already published or listed twice, would
//! be overshadowed at once (by a visible segment or by another segment of the
//! same publish), or overlaps a partition of the same version that covers a
//! different interval.
//!
//! # Exactly-once ingest
//!
//! [`Publish::expected_offsets`] is a compare-and-set precondition on the
//! stored offsets, Druid's trick for exactly-once Kafka ingest: a task
//! publishes its segments together with the offsets it read up to, on the
//! condition that the stored offsets are still the ones it started from. If
//! another task committed in between, the publish fails and the task rebuilds
//! from the new offsets instead of publishing the same messages twice.
//!
//! This module is the pure rule; the catalogs that store its result are
//! [`super::FileCatalog`] and any other [`super::Catalog`].

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::sync::Arc;

use serde_json::Value;

use super::DataSourceState;
use super::segment_id::{SegmentDescriptor, SegmentId};
use crate::spec::DataSourceName;

/// A request to publish segments and offsets to one datasource.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Publish {
    /// The segments to make visible; their files must already be in
    /// [`super::Catalog::segment_dir`].
    pub segments: Vec<SegmentDescriptor>,
    /// Offsets to store, merged key by key into the stored ones.
    pub offsets: BTreeMap<String, Value>,
    /// The precondition: for each key, the value the stored offsets must hold
    /// (`None`: the key must be absent). Empty means no precondition.
    pub expected_offsets: BTreeMap<String, Option<Value>>,
}

impl Publish {
    /// A publish of `segments` with no offsets and no precondition.
    pub fn segments(segments: Vec<SegmentDescriptor>) -> Publish {
        Publish {
            segments,
            ..Publish::default()
        }
    }

    /// Also sets the offset `key` to `value`.
    pub fn with_offset(mut self, key: impl Into<String>, value: Value) -> Publish {
        self.offsets.insert(key.into(), value);
        self
    }

    /// Also requires the stored offset `key` to be `expected` (`None`: absent).
    pub fn expecting_offset(mut self, key: impl Into<String>, expected: Option<Value>) -> Publish {
        self.expected_offsets.insert(key.into(), expected);
        self
    }
}

/// What a successful publish did.
#[derive(Debug, Clone, PartialEq)]
pub struct PublishOutcome {
    /// The previously visible segments the new ones overshadow; they are no
    /// longer listed and their files may be deleted.
    pub retired: Vec<SegmentDescriptor>,
    /// The datasource as the publish left it.
    pub state: Arc<DataSourceState>,
}

/// Why a publish was refused. Nothing was changed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PublishRejection {
    #[error("segment {segment} belongs to datasource `{}`", segment.datasource())]
    ForeignSegment { segment: SegmentId },
    #[error("segment {segment} is already published; give a rebuilt segment a new version")]
    AlreadyPublished { segment: SegmentId },
    #[error("segment {segment} is listed twice in the request")]
    ListedTwice { segment: SegmentId },
    #[error(
        "segment {segment} would be hidden at once by the newer segment {by}; \
         build it with a version newer than {}", by.version()
    )]
    Overshadowed { segment: SegmentId, by: SegmentId },
    #[error(
        "segment {segment} overlaps {other}, a partition of the same version covering another \
         interval; all partitions of one version of a time chunk must cover the same interval"
    )]
    MisalignedPartition {
        segment: SegmentId,
        other: SegmentId,
    },
    #[error(
        "offset `{key}` is {} but the publish expected {}; another writer committed first, \
         so reload the offsets and rebuild from them",
        OffsetValue(stored),
        OffsetValue(expected)
    )]
    OffsetMismatch {
        key: String,
        expected: Option<Value>,
        stored: Option<Value>,
    },
}

/// Prints an optional offset for an error message.
struct OffsetValue<'a>(&'a Option<Value>);

impl fmt::Display for OffsetValue<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(value) => write!(f, "{value}"),
            None => f.write_str("absent"),
        }
    }
}

/// The state after applying `request` to `current`, and the segments it
/// retires; or why the request must be refused.
pub(super) fn apply(
    current: &DataSourceState,
    request: Publish,
) -> Result<(DataSourceState, Vec<SegmentDescriptor>), PublishRejection> {
    check_offsets(&current.offsets, &request.expected_offsets)?;
    check_new_segments(current, &request.segments)?;

    let (retired, kept): (Vec<_>, Vec<_>) = current.segments.iter().cloned().partition(|old| {
        request
            .segments
            .iter()
            .any(|new| new.id.overshadows(&old.id))
    });
    let mut segments = kept;
    segments.extend(request.segments);
    segments.sort_by(|a, b| a.id.cmp(&b.id));

    let mut offsets = current.offsets.clone();
    offsets.extend(request.offsets);

    let next = DataSourceState {
        spec: current.spec.clone(),
        segments,
        offsets,
    };
    Ok((next, retired))
}

fn check_offsets(
    stored: &BTreeMap<String, Value>,
    expected: &BTreeMap<String, Option<Value>>,
) -> Result<(), PublishRejection> {
    for (key, expected) in expected {
        let stored = stored.get(key);
        if stored != expected.as_ref() {
            return Err(PublishRejection::OffsetMismatch {
                key: key.clone(),
                expected: expected.clone(),
                stored: stored.cloned(),
            });
        }
    }
    Ok(())
}

fn check_new_segments(
    current: &DataSourceState,
    new: &[SegmentDescriptor],
) -> Result<(), PublishRejection> {
    let name = current.spec.data_source_name();
    let visible: HashSet<&SegmentId> = current.segments.iter().map(|s| &s.id).collect();
    let mut seen = HashSet::new();
    for segment in new {
        let id = &segment.id;
        if id.datasource() != name {
            return Err(PublishRejection::ForeignSegment {
                segment: id.clone(),
            });
        }
        if visible.contains(id) {
            return Err(PublishRejection::AlreadyPublished {
                segment: id.clone(),
            });
        }
        if !seen.insert(id) {
            return Err(PublishRejection::ListedTwice {
                segment: id.clone(),
            });
        }
    }

    let all = || current.segments.iter().chain(new).map(|s| &s.id);
    for segment in new.iter().map(|s| &s.id) {
        if let Some(by) = all().find(|other| other.overshadows(segment)) {
            return Err(PublishRejection::Overshadowed {
                segment: segment.clone(),
                by: by.clone(),
            });
        }
        if let Some(other) = all().find(|other| misaligned(segment, other)) {
            return Err(PublishRejection::MisalignedPartition {
                segment: segment.clone(),
                other: other.clone(),
            });
        }
    }
    Ok(())
}

/// Two partitions of one version that overlap without covering the same time.
fn misaligned(a: &SegmentId, b: &SegmentId) -> bool {
    a.version() == b.version()
        && a.interval() != b.interval()
        && a.interval().overlaps(&b.interval())
}

/// Checks that `segments` can be the visible set of datasource `name`:
/// every segment belongs to it, none is listed twice, none overshadows
/// another, partitions of a version agree on their interval. Catalogs run it
/// on what they load, so a damaged store is reported rather than served.
pub(super) fn check_visible_set(
    name: &DataSourceName,
    segments: &[SegmentDescriptor],
) -> Result<(), String> {
    let mut seen = HashSet::new();
    for segment in segments {
        let id = &segment.id;
        if id.datasource() != name {
            return Err(format!("segment {id} belongs to another datasource"));
        }
        if !seen.insert(id) {
            return Err(format!("segment {id} is listed twice"));
        }
    }
    for a in segments.iter().map(|s| &s.id) {
        for b in segments.iter().map(|s| &s.id) {
            if a.overshadows(b) {
                return Err(format!("segment {b} is listed although {a} overshadows it"));
            }
            if misaligned(a, b) {
                return Err(format!(
                    "segments {a} and {b} share a version but overlap on different intervals"
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::test_support::{segment, spec};
    use serde_json::json;

    const HOUR: i64 = 3_600_000;
    const DAY: i64 = 24 * HOUR;

    fn empty(name: &str) -> DataSourceState {
        DataSourceState {
            spec: spec(name),
            segments: Vec::new(),
            offsets: BTreeMap::new(),
        }
    }

    fn ids(segments: &[SegmentDescriptor]) -> Vec<SegmentId> {
        segments.iter().map(|s| s.id.clone()).collect()
    }

    #[test]
    fn a_newer_day_retires_the_older_day_and_its_hours() {
        let day_v1 = segment("ds", 0, DAY, 1, 0);
        let hour_v1 = segment("ds", DAY, DAY + HOUR, 1, 0);
        let day2_v1 = segment("ds", DAY, 2 * DAY, 2, 0);
        let start = empty("ds");
        let (state, retired) = apply(&start, Publish::segments(vec![day_v1.clone()])).unwrap();
        assert!(retired.is_empty());
        let (state, _) = apply(&state, Publish::segments(vec![hour_v1.clone()])).unwrap();

        // Version 2 of the second day hides the hour inside it, not day one.
        let (state, retired) = apply(&state, Publish::segments(vec![day2_v1.clone()])).unwrap();
        assert_eq!(ids(&retired), vec![hour_v1.id]);
        assert_eq!(ids(&state.segments), vec![day_v1.id, day2_v1.id]);
    }

    #[test]
    fn partitions_of_one_version_coexist() {
        let p0 = segment("ds", 0, DAY, 1, 0);
        let p1 = segment("ds", 0, DAY, 1, 1);
        let (state, _) = apply(&empty("ds"), Publish::segments(vec![p0.clone()])).unwrap();
        let (state, retired) = apply(&state, Publish::segments(vec![p1.clone()])).unwrap();
        assert!(retired.is_empty());
        assert_eq!(ids(&state.segments), vec![p0.id.clone(), p1.id.clone()]);

        let v2 = segment("ds", 0, DAY, 2, 0);
        let (state, retired) = apply(&state, Publish::segments(vec![v2.clone()])).unwrap();
        assert_eq!(ids(&retired), vec![p0.id, p1.id]);
        assert_eq!(ids(&state.segments), vec![v2.id]);
    }

    #[test]
    fn a_partial_cover_leaves_the_older_segment_visible() {
        let day_v1 = segment("ds", 0, DAY, 1, 0);
        let hour_v2 = segment("ds", 0, HOUR, 2, 0);
        let (state, _) = apply(&empty("ds"), Publish::segments(vec![day_v1.clone()])).unwrap();
        let (state, retired) = apply(&state, Publish::segments(vec![hour_v2.clone()])).unwrap();
        assert!(retired.is_empty());
        assert_eq!(ids(&state.segments), vec![hour_v2.id, day_v1.id]);
    }

    #[test]
    fn refuses_segments_that_would_be_hidden_or_clash() {
        let day_v2 = segment("ds", 0, DAY, 2, 0);
        let (state, _) = apply(&empty("ds"), Publish::segments(vec![day_v2.clone()])).unwrap();

        let hour_v1 = segment("ds", 0, HOUR, 1, 0);
        let err = apply(&state, Publish::segments(vec![hour_v1.clone()])).unwrap_err();
        assert_eq!(
            err,
            PublishRejection::Overshadowed {
                segment: hour_v1.id.clone(),
                by: day_v2.id.clone()
            }
        );
        assert!(
            err.to_string()
                .contains("build it with a version newer than")
        );

        let err = apply(&state, Publish::segments(vec![day_v2.clone()])).unwrap_err();
        assert!(matches!(err, PublishRejection::AlreadyPublished { .. }));

        let other = segment("other", 0, DAY, 3, 0);
        let err = apply(&state, Publish::segments(vec![other])).unwrap_err();
        assert!(
            err.to_string().contains("belongs to datasource `other`"),
            "{err}"
        );

        let twice = segment("ds", DAY, 2 * DAY, 1, 0);
        let err = apply(&state, Publish::segments(vec![twice.clone(), twice])).unwrap_err();
        assert!(matches!(err, PublishRejection::ListedTwice { .. }));

        // Within one request: the day at version 4 hides the hour at 3.
        let request = vec![segment("ds", 0, DAY, 4, 0), segment("ds", 0, HOUR, 3, 0)];
        let err = apply(&state, Publish::segments(request)).unwrap_err();
        assert!(matches!(err, PublishRejection::Overshadowed { .. }));

        let misaligned = segment("ds", HOUR, DAY + HOUR, 2, 1);
        let err = apply(&state, Publish::segments(vec![misaligned])).unwrap_err();
        assert!(matches!(err, PublishRejection::MisalignedPartition { .. }));
    }

    #[test]
    fn offsets_merge_key_by_key_under_compare_and_set() {
        let publish = Publish::default()
            .with_offset("kafka/0", json!(10))
            .with_offset("kafka/1", json!(20))
            .expecting_offset("kafka/0", None);
        let (state, _) = apply(&empty("ds"), publish).unwrap();

        let publish = Publish::default()
            .with_offset("kafka/0", json!(15))
            .expecting_offset("kafka/0", Some(json!(10)));
        let (state, _) = apply(&state, publish).unwrap();
        assert_eq!(state.offsets.get("kafka/0"), Some(&json!(15)));
        assert_eq!(state.offsets.get("kafka/1"), Some(&json!(20)));

        // A second writer that started from 10 loses.
        let stale = Publish::segments(vec![segment("ds", 0, DAY, 1, 0)])
            .with_offset("kafka/0", json!(12))
            .expecting_offset("kafka/0", Some(json!(10)));
        let err = apply(&state, stale).unwrap_err();
        assert_eq!(
            err.to_string(),
            "offset `kafka/0` is 15 but the publish expected 10; another writer committed \
             first, so reload the offsets and rebuild from them"
        );
        let err = apply(&state, Publish::default().expecting_offset("kafka/1", None)).unwrap_err();
        assert!(
            err.to_string()
                .contains("is 20 but the publish expected absent")
        );
    }

    #[test]
    fn the_visible_set_check_finds_what_publish_never_produces() {
        let ds = DataSourceName::new("ds").unwrap();
        let other = DataSourceName::new("other").unwrap();
        let day_v1 = segment("ds", 0, DAY, 1, 0);
        let day_v2 = segment("ds", 0, DAY, 2, 0);
        assert!(check_visible_set(&ds, std::slice::from_ref(&day_v1)).is_ok());
        assert!(check_visible_set(&ds, &[day_v1.clone(), day_v2]).is_err());
        assert!(check_visible_set(&ds, &[day_v1.clone(), day_v1.clone()]).is_err());
        assert!(check_visible_set(&other, &[day_v1]).is_err());
        let a = segment("ds", 0, DAY, 1, 0);
        let b = segment("ds", HOUR, DAY, 1, 1);
        assert!(check_visible_set(&ds, &[a, b]).is_err());
    }
}
