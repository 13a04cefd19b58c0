//! Persisted marks: how much of a datasource's WAL is already in published
//! segments, stored in the catalog with those segments.
//!
//! A persist writes some time chunks and leaves others open, so the records
//! it covers are not a prefix of the WAL: records of a chunk that stays open
//! are interleaved with them. The marks describe the covered records in two
//! parts:
//!
//! - [`through`](PersistedMarks::through) (offset [`PERSISTED_THROUGH`]): every
//!   record at or below it is in a segment (or was never added to any chunk).
//!   The WAL is truncated through it.
//! - per chunk (offset [`PERSISTED_CHUNKS`], a JSON object from a chunk's start
//!   in epoch milliseconds to a sequence number): every record *of that chunk*
//!   at or below the number is in a segment. Only numbers above `through` are
//!   kept; the others say nothing more.
//!
//! Replay skips a record the marks [cover](PersistedMarks::covers), so an event
//! persisted before a crash is not added again, while records of chunks that
//! stayed open are.
//!
//! ```text
//! WAL:  1a 2b 3a 4b 5a 6b          (record number, chunk)
//! persist freezes chunk a (1, 3, 5); chunk b stays open (2, 4, 6)
//! marks: through = 1 (b's first record is 2), chunks = {a: 5}
//! replay: 1 skipped (≤ through), 3 and 5 skipped (a ≤ 5), 2, 4, 6 replayed
//! ```

use std::collections::BTreeMap;

use serde_json::Value;
use strata_storage::catalog::Publish;
use strata_storage::time::Millis;

/// The catalog offset key of [`PersistedMarks::through`].
pub const PERSISTED_THROUGH: &str = "wal.persisted_through";

/// The catalog offset key of the per-chunk marks.
pub const PERSISTED_CHUNKS: &str = "wal.persisted_chunks";

/// What part of a WAL is in published segments. See the [module docs](self).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PersistedMarks {
    through: u64,
    chunks: BTreeMap<Millis, u64>,
}

impl PersistedMarks {
    /// The marks stored in a datasource's catalog offsets; none when absent.
    /// Entries of another shape are ignored: they could only make replay add
    /// records, never skip one.
    pub fn from_offsets(offsets: &BTreeMap<String, Value>) -> PersistedMarks {
        let through = offsets
            .get(PERSISTED_THROUGH)
            .and_then(Value::as_u64)
            .unwrap_or(0);
        let chunks = offsets
            .get(PERSISTED_CHUNKS)
            .and_then(Value::as_object)
            .map(|object| {
                object
                    .iter()
                    .filter_map(|(start, seq)| Some((start.parse().ok()?, seq.as_u64()?)))
                    .filter(|&(_, seq)| seq > through)
                    .collect()
            })
            .unwrap_or_default();
        PersistedMarks { through, chunks }
    }

    /// Every record at or below this is in a segment.
    pub fn through(&self) -> u64 {
        self.through
    }

    /// Whether record `seq`, of the chunk starting at `chunk_start`, is in a segment.
    pub fn covers(&self, seq: u64, chunk_start: Millis) -> bool {
        seq <= self.through
            || self
                .chunks
                .get(&chunk_start)
                .is_some_and(|&mark| seq <= mark)
    }

    /// The marks once a persist has published `persisted` — each chunk's
    /// start and the highest record it held — and every record at or below
    /// `through` is in a segment.
    pub fn after_persist(
        &self,
        persisted: impl IntoIterator<Item = (Millis, u64)>,
        through: u64,
    ) -> PersistedMarks {
        let through = through.max(self.through);
        let mut chunks = self.chunks.clone();
        for (start, max_seq) in persisted {
            let mark = chunks.entry(start).or_insert(max_seq);
            *mark = (*mark).max(max_seq);
        }
        chunks.retain(|_, mark| *mark > through);
        PersistedMarks { through, chunks }
    }

    /// `publish` storing these marks, on the condition that the catalog
    /// still holds `previous` — the stored values this persist started from.
    pub fn publish_with(&self, publish: Publish, previous: &BTreeMap<String, Value>) -> Publish {
        let chunks: serde_json::Map<String, Value> = self
            .chunks
            .iter()
            .map(|(start, mark)| (start.to_string(), Value::from(*mark)))
            .collect();
        publish
            .with_offset(PERSISTED_THROUGH, self.through.into())
            .with_offset(PERSISTED_CHUNKS, Value::Object(chunks))
            .expecting_offset(PERSISTED_THROUGH, previous.get(PERSISTED_THROUGH).cloned())
            .expecting_offset(PERSISTED_CHUNKS, previous.get(PERSISTED_CHUNKS).cloned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offsets(marks: &PersistedMarks) -> BTreeMap<String, Value> {
        marks
            .publish_with(Publish::default(), &BTreeMap::new())
            .offsets
    }

    #[test]
    fn the_module_example_holds() {
        let (a, b) = (0, 3_600_000);
        let marks = PersistedMarks::default().after_persist([(a, 5)], 1);
        let stored = PersistedMarks::from_offsets(&offsets(&marks));
        assert_eq!(stored, marks);
        let replayed: Vec<u64> = [(1, a), (2, b), (3, a), (4, b), (5, a), (6, b)]
            .into_iter()
            .filter(|&(seq, chunk)| !stored.covers(seq, chunk))
            .map(|(seq, _)| seq)
            .collect();
        assert_eq!(replayed, [2, 4, 6]);
    }

    #[test]
    fn marks_at_or_below_through_are_dropped_and_never_go_back() {
        let marks = PersistedMarks::default()
            .after_persist([(0, 5), (10, 9)], 2)
            .after_persist([(10, 7)], 6);
        assert_eq!(marks.through(), 6);
        assert_eq!(marks.chunks, BTreeMap::from([(10, 9)]));
        let lower = marks.after_persist([], 3);
        assert_eq!(lower.through(), 6, "through only moves forward");
    }

    #[test]
    fn missing_or_malformed_offsets_cover_nothing() {
        assert_eq!(
            PersistedMarks::from_offsets(&BTreeMap::new()),
            PersistedMarks::default()
        );
        let odd = BTreeMap::from([
            (PERSISTED_THROUGH.to_owned(), Value::from("ten")),
            (
                PERSISTED_CHUNKS.to_owned(),
                serde_json::json!({"x": 3, "5": "y", "7": 4}),
            ),
        ]);
        let marks = PersistedMarks::from_offsets(&odd);
        assert_eq!(marks.through(), 0);
        assert!(marks.covers(4, 7));
        assert!(!marks.covers(5, 7));
        assert!(!marks.covers(1, 5));
    }

    #[test]
    fn the_publish_expects_what_was_read() {
        let previous = BTreeMap::from([(PERSISTED_THROUGH.to_owned(), Value::from(4))]);
        let publish = PersistedMarks::default()
            .after_persist([], 9)
            .publish_with(Publish::default(), &previous);
        assert_eq!(publish.offsets[PERSISTED_THROUGH], Value::from(9));
        assert_eq!(
            publish.expected_offsets[PERSISTED_THROUGH],
            Some(Value::from(4))
        );
        assert_eq!(publish.expected_offsets[PERSISTED_CHUNKS], None);
    }
}
