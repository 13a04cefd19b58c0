//! The offset ledger: where consumption of each Kafka partition resumes, and
//! which offsets a persist commits to the catalog.
//!
//! A message read from Kafka becomes one WAL record tagged with its
//! `(topic, partition, offset)`. Until a persist, the WAL alone knows the
//! message was read; the persist that publishes the segments holding it
//! commits, in the same catalog step, the next offset to read — under the
//! key `kafka/<topic>/<partition>` — and then the WAL is truncated. So the
//! place to resume a partition is the larger of
//!
//! - the offset committed in the catalog, and
//! - one past the last offset of that partition among the WAL records the
//!   truncation has not reached.
//!
//! Which offsets a persist commits follows from its
//! [persisted marks](crate::service::persisted_marks): the WAL is truncated
//! through `through`, so the commit for each partition is one past its last
//! record at or below `through`. Records above it stay in the WAL, where the
//! ledger keeps finding them, also after a restart (see [`OffsetLedger::note`]).
//!
//! A *reset* forgets every position: the committed keys are set to `null`
//! and [`RESET_THROUGH`] records the last WAL record written before it, so
//! that older records still in the WAL no longer count.

use std::collections::{BTreeMap, VecDeque};

use serde_json::Value;
use strata_storage::catalog::Publish;

use crate::wal::KafkaOffset;

/// The prefix of the catalog offset keys `kafka/<topic>/<partition>`.
const OFFSET_KEY_PREFIX: &str = "kafka/";

/// The catalog offset key of the last WAL record written before a reset.
pub const RESET_THROUGH: &str = "kafka.reset_through";

/// One partition of one topic.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TopicPartition {
    pub topic: String,
    pub partition: u32,
}

impl TopicPartition {
    fn offset_key(&self) -> String {
        format!("{OFFSET_KEY_PREFIX}{}/{}", self.topic, self.partition)
    }

    fn from_offset_key(key: &str) -> Option<TopicPartition> {
        let (topic, partition) = key.strip_prefix(OFFSET_KEY_PREFIX)?.rsplit_once('/')?;
        Some(TopicPartition {
            topic: topic.to_owned(),
            partition: partition.parse().ok()?,
        })
    }
}

/// A datasource's Kafka positions. See the [module docs](self).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OffsetLedger {
    /// The next offset to read, as the catalog has it.
    committed: BTreeMap<TopicPartition, u64>,
    /// The WAL records not yet truncated, by partition: `(sequence number,
    /// next offset to read)`, in sequence order.
    in_wal: BTreeMap<TopicPartition, VecDeque<(u64, u64)>>,
    reset_through: u64,
}

/// The next offsets a persist commits, by partition.
pub type OffsetCommits = Vec<(TopicPartition, u64)>;

impl OffsetLedger {
    /// The ledger of a datasource whose catalog offsets are `offsets`, before
    /// its WAL is replayed into it.
    pub fn from_offsets(offsets: &BTreeMap<String, Value>) -> OffsetLedger {
        let committed = offsets
            .iter()
            .filter_map(|(key, value)| {
                Some((TopicPartition::from_offset_key(key)?, value.as_u64()?))
            })
            .collect();
        OffsetLedger {
            committed,
            in_wal: BTreeMap::new(),
            reset_through: offsets
                .get(RESET_THROUGH)
                .and_then(Value::as_u64)
                .unwrap_or(0),
        }
    }

    /// Notes that WAL record `seq` holds the message at `source`. Replay
    /// notes every record it reads, also those a persist already covers:
    /// their commit may not have reached the catalog (a crash between the
    /// publish and the truncation cannot lose it, but taking the larger
    /// position is always right).
    pub fn note(&mut self, seq: u64, source: &KafkaOffset) {
        if seq <= self.reset_through {
            return;
        }
        let partition = TopicPartition {
            topic: source.topic.clone(),
            partition: source.partition,
        };
        self.in_wal
            .entry(partition)
            .or_default()
            .push_back((seq, source.offset.saturating_add(1)));
    }

    /// Where reading `topic` resumes, by partition: the next offset of every
    /// partition the ledger has seen. Partitions not listed start where the
    /// consumer's policy says (earliest or latest).
    pub fn resume_offsets(&self, topic: &str) -> BTreeMap<u32, u64> {
        let mut resume: BTreeMap<u32, u64> = self
            .committed
            .iter()
            .filter(|(partition, _)| partition.topic == topic)
            .map(|(partition, next)| (partition.partition, *next))
            .collect();
        for (partition, records) in &self.in_wal {
            if partition.topic != topic {
                continue;
            }
            if let Some(&(_, next)) = records.back() {
                let at = resume.entry(partition.partition).or_insert(next);
                *at = (*at).max(next);
            }
        }
        resume
    }

    /// What a persist that truncates the WAL through `through` commits: for
    /// each partition with records at or below it, one past the last.
    pub fn commits_through(&self, through: u64) -> OffsetCommits {
        self.in_wal
            .iter()
            .filter_map(|(partition, records)| {
                let next = records
                    .iter()
                    .take_while(|&&(seq, _)| seq <= through)
                    .map(|&(_, next)| next)
                    .max()?;
                let committed = self.committed.get(partition).copied().unwrap_or(0);
                Some((partition.clone(), next.max(committed)))
            })
            .collect()
    }

    /// `publish` also storing `commits`.
    pub fn publish_with(publish: Publish, commits: &OffsetCommits) -> Publish {
        commits.iter().fold(publish, |publish, (partition, next)| {
            publish.with_offset(partition.offset_key(), Value::from(*next))
        })
    }

    /// Takes in a persist's published `commits`, after which the WAL holds
    /// no record at or below `through`.
    pub fn after_persist(&mut self, commits: OffsetCommits, through: u64) {
        for records in self.in_wal.values_mut() {
            while records.front().is_some_and(|&(seq, _)| seq <= through) {
                records.pop_front();
            }
        }
        self.in_wal.retain(|_, records| !records.is_empty());
        self.committed.extend(commits);
    }

    /// The publish that forgets every position, `through` being the last
    /// WAL record written so far.
    pub fn reset_publish(&self, through: u64) -> Publish {
        let partitions = self.committed.keys().chain(self.in_wal.keys());
        partitions
            .fold(Publish::default(), |publish, partition| {
                publish.with_offset(partition.offset_key(), Value::Null)
            })
            .with_offset(RESET_THROUGH, Value::from(through))
    }

    /// Forgets every position, once [`Self::reset_publish`] is published.
    pub fn reset(&mut self, through: u64) {
        *self = OffsetLedger {
            reset_through: through,
            ..OffsetLedger::default()
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(partition: u32, offset: u64) -> KafkaOffset {
        KafkaOffset {
            topic: "t".into(),
            partition,
            offset,
        }
    }

    fn stored(publish: &Publish) -> BTreeMap<String, Value> {
        publish.offsets.clone()
    }

    #[test]
    fn resume_after_the_larger_of_catalog_and_wal() {
        let mut ledger = OffsetLedger::default();
        for (seq, partition, offset) in [(1, 0, 10), (2, 1, 5), (3, 0, 11), (4, 1, 6)] {
            ledger.note(seq, &at(partition, offset));
        }
        assert_eq!(
            ledger.resume_offsets("t"),
            BTreeMap::from([(0, 12), (1, 7)])
        );
        assert!(ledger.resume_offsets("other").is_empty());

        // A persist through record 2 commits partition 0 at 11, partition 1 at 6.
        let commits = ledger.commits_through(2);
        let publish = OffsetLedger::publish_with(Publish::default(), &commits);
        assert_eq!(
            stored(&publish),
            BTreeMap::from([
                ("kafka/t/0".into(), 11.into()),
                ("kafka/t/1".into(), 6.into())
            ])
        );
        ledger.after_persist(commits, 2);
        assert_eq!(
            ledger.resume_offsets("t"),
            BTreeMap::from([(0, 12), (1, 7)])
        );

        // After a restart the catalog holds the commits and the WAL records 3 and 4.
        let mut reopened = OffsetLedger::from_offsets(&stored(&publish));
        reopened.note(3, &at(0, 11));
        reopened.note(4, &at(1, 6));
        assert_eq!(reopened.resume_offsets("t"), ledger.resume_offsets("t"));
    }

    #[test]
    fn a_reset_forgets_positions_and_the_records_before_it() {
        let mut ledger = OffsetLedger::default();
        ledger.note(1, &at(0, 10));
        let commits = ledger.commits_through(1);
        let mut offsets = stored(&OffsetLedger::publish_with(Publish::default(), &commits));
        ledger.after_persist(commits, 1);
        ledger.note(2, &at(0, 11));

        let reset = ledger.reset_publish(2);
        offsets.extend(stored(&reset));
        ledger.reset(2);
        assert!(ledger.resume_offsets("t").is_empty());

        // Replayed after a restart, record 2 is from before the reset.
        let mut reopened = OffsetLedger::from_offsets(&offsets);
        reopened.note(2, &at(0, 11));
        reopened.note(3, &at(0, 0));
        assert_eq!(reopened.resume_offsets("t"), BTreeMap::from([(0, 1)]));
    }
}
