//! The consumer loop: one thread per running supervisor, reading every
//! partition of its topic with rdkafka and handing batches of messages to
//! [`IngestService::ingest_kafka`].
//!
//! Partitions are assigned by hand from the positions the service's
//! [offset ledger](super::offset_ledger) holds — never from the broker's
//! consumer-group offsets, which are neither read nor committed. A partition
//! without a position starts at its earliest message when the spec says
//! `useEarliestOffset`, else at its end; a partition added to the topic while
//! the supervisor runs starts at its earliest message, since all of it is new.
//!
//! **Back-pressure.** While the datasource's real-time index is over budget
//! the loop holds its batch and offers it again after a pause; it polls
//! nothing meanwhile, and librdkafka stops fetching once its queue
//! (`queued.max.messages.kbytes`, 64 MiB unless the spec sets it) is full.
//!
//! **Failures.** A broker that goes away is librdkafka's to reconnect to; its
//! errors land in the status, which shows `LOST_CONTACT_WITH_STREAM` until a
//! broker answers again. Anything else that stops the loop — the topic
//! missing, the WAL failing — is reported, and the loop starts over after a
//! pause that doubles up to 30 s.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rdkafka::ClientContext;
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

use super::supervisor_spec::SupervisorSpec;
use super::supervisor_status::SupervisorStatus;
use crate::service::kafka_ingest::KafkaMessage;
use crate::service::{IngestError, IngestService};

/// Messages handed to the service at most at once: one WAL append each.
const MAX_BATCH_MESSAGES: usize = 10_000;
/// Message bytes handed to the service at most at once.
const MAX_BATCH_BYTES: usize = 8 << 20;
/// How long a poll waits for the first message of a batch.
const POLL_WAIT: Duration = Duration::from_millis(100);
/// How often the topic's partitions are listed, to pick up new ones.
const METADATA_PERIOD: Duration = Duration::from_secs(10);
/// How often the partitions' high watermarks are fetched, for the lag.
const WATERMARK_PERIOD: Duration = Duration::from_secs(2);
/// How long a metadata or watermark request may take.
const BROKER_TIMEOUT: Duration = Duration::from_secs(5);
const OVER_BUDGET_PAUSE: Duration = Duration::from_millis(50);
const FIRST_RETRY_PAUSE: Duration = Duration::from_millis(250);
const LAST_RETRY_PAUSE: Duration = Duration::from_secs(30);

/// Why the consumer loop stopped before it was asked to.
#[derive(Debug, thiserror::Error)]
pub enum ConsumeError {
    #[error("Kafka: {0}")]
    Kafka(#[from] KafkaError),
    #[error("topic `{topic}` does not exist on the brokers; create it, or fix spec.ioConfig.topic")]
    NoSuchTopic { topic: String },
    #[error(transparent)]
    Ingest(#[from] IngestError),
}

/// The librdkafka callbacks: errors go to the status, logs to `tracing`.
pub struct StatusContext {
    status: Arc<SupervisorStatus>,
}

impl ClientContext for StatusContext {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        match level {
            RDKafkaLogLevel::Emerg
            | RDKafkaLogLevel::Alert
            | RDKafkaLogLevel::Critical
            | RDKafkaLogLevel::Error
            | RDKafkaLogLevel::Warning => {
                tracing::warn!(target: "librdkafka", "{facility} {message}")
            }
            _ => tracing::debug!(target: "librdkafka", "{facility} {message}"),
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        tracing::warn!(target: "librdkafka", "{error}: {reason}");
        self.status.contact_error(format!("{error}: {reason}"));
    }
}

impl ConsumerContext for StatusContext {}

/// Builds the consumer a spec describes, without connecting: refuses
/// properties librdkafka does not know.
pub fn build_consumer(
    spec: &SupervisorSpec,
    status: Arc<SupervisorStatus>,
) -> Result<BaseConsumer<StatusContext>, KafkaError> {
    let mut config = ClientConfig::new();
    // Defaults for ingestion, which reads partitions end to end: big
    // fetches, and the next one as soon as the local queue has room
    // (librdkafka otherwise waits a second once its queue was full).
    config
        .set("group.id", format!("strata-{}", spec.id()))
        .set("queued.max.messages.kbytes", "65536")
        .set("max.partition.fetch.bytes", "16777216")
        .set("fetch.queue.backoff.ms", "10")
        .set("fetch.wait.max.ms", "100")
        .set(
            "auto.offset.reset",
            if spec.use_earliest_offset {
                "earliest"
            } else {
                "latest"
            },
        );
    for (key, value) in &spec.consumer_properties {
        config.set(key, value);
    }
    // Positions live in the catalog and the WAL, never in the group.
    config
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "false");
    config.create_with_context(StatusContext { status })
}

/// One supervisor's consumer thread.
pub struct ConsumerLoop {
    pub service: Arc<IngestService>,
    pub spec: SupervisorSpec,
    pub status: Arc<SupervisorStatus>,
    /// Set to stop the loop; it ends within one poll.
    pub stop: Arc<AtomicBool>,
}

impl ConsumerLoop {
    /// Consumes until asked to stop, starting over after failures.
    pub fn run(self) {
        let mut pause = FIRST_RETRY_PAUSE;
        while !self.stopped() {
            self.status.starting();
            let started = Instant::now();
            match self.consume() {
                Ok(()) => return,
                Err(error) => {
                    tracing::warn!(supervisor = self.spec.id(), "Kafka consumer: {error}");
                    self.status.failed(error.to_string());
                }
            }
            if started.elapsed() > LAST_RETRY_PAUSE {
                pause = FIRST_RETRY_PAUSE;
            }
            self.sleep(pause);
            pause = (pause * 2).min(LAST_RETRY_PAUSE);
        }
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// Sleeps for `pause`, or less if asked to stop.
    fn sleep(&self, pause: Duration) {
        let until = Instant::now() + pause;
        while !self.stopped() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(20).min(pause));
        }
    }

    fn consume(&self) -> Result<(), ConsumeError> {
        let consumer = build_consumer(&self.spec, self.status.clone())?;
        let topic = self.spec.topic.as_str();
        let datasource = self.spec.id();
        // The next offset expected from each assigned partition: a message
        // below it was taken already and is dropped.
        let mut next: BTreeMap<u32, Option<u64>> = BTreeMap::new();
        let mut metadata_due = Instant::now();
        let mut watermarks_due = Instant::now();
        let mut batch = MessageBatch::default();
        while !self.stopped() {
            if Instant::now() >= metadata_due {
                self.assign_new_partitions(&consumer, &mut next)?;
                metadata_due = Instant::now() + METADATA_PERIOD;
            }
            batch.clear();
            let mut wait = POLL_WAIT;
            while batch.len() < MAX_BATCH_MESSAGES && batch.bytes() < MAX_BATCH_BYTES {
                let Some(polled) = consumer.poll(wait) else {
                    break;
                };
                wait = Duration::ZERO;
                match polled {
                    Ok(message) => {
                        let (Ok(partition), Ok(offset)) = (
                            u32::try_from(message.partition()),
                            u64::try_from(message.offset()),
                        ) else {
                            continue;
                        };
                        let expected = next.get(&partition).copied().flatten().unwrap_or(0);
                        if offset < expected {
                            continue;
                        }
                        next.insert(partition, Some(offset + 1));
                        batch.push(partition, offset, message.payload().unwrap_or_default());
                    }
                    Err(error) => self.status.contact_error(error.to_string()),
                }
            }
            if !batch.is_empty() && !self.deliver(datasource, topic, &batch)? {
                return Ok(());
            }
            if Instant::now() >= watermarks_due {
                self.fetch_watermarks(&consumer, &next);
                watermarks_due = Instant::now() + WATERMARK_PERIOD;
            }
        }
        Ok(())
    }

    /// Reads the topic's partitions and assigns those not assigned yet,
    /// each from its position in the ledger or by the spec's policy (the
    /// first assignment is the one made while none is `assigned`).
    fn assign_new_partitions(
        &self,
        consumer: &BaseConsumer<StatusContext>,
        assigned: &mut BTreeMap<u32, Option<u64>>,
    ) -> Result<(), ConsumeError> {
        let topic = self.spec.topic.as_str();
        let metadata = consumer.fetch_metadata(Some(topic), BROKER_TIMEOUT)?;
        let partitions: Vec<u32> = metadata
            .topics()
            .iter()
            .filter(|found| found.name() == topic && found.error().is_none())
            .flat_map(|found| found.partitions())
            .filter_map(|partition| u32::try_from(partition.id()).ok())
            .collect();
        if partitions.is_empty() {
            return Err(ConsumeError::NoSuchTopic {
                topic: topic.to_owned(),
            });
        }
        let resume = self.service.kafka_resume_offsets(self.spec.id(), topic)?;
        let plan = plan_assignment(
            &partitions,
            assigned,
            &resume,
            assigned.is_empty(),
            self.spec.use_earliest_offset,
        );
        let mut added = TopicPartitionList::new();
        let mut starts = BTreeMap::new();
        for (partition, start) in plan {
            let offset = match start {
                StartAt::Offset(next) => Offset::Offset(i64::try_from(next).unwrap_or(i64::MAX)),
                StartAt::Beginning => Offset::Beginning,
                StartAt::End => Offset::End,
            };
            added.add_partition_offset(topic, partition as i32, offset)?;
            starts.insert(partition, start.offset());
        }
        if !starts.is_empty() {
            consumer.incremental_assign(&added)?;
            tracing::info!(
                supervisor = self.spec.id(),
                topic,
                partitions = ?starts,
                "assigned Kafka partitions (offset None: by the spec's policy)"
            );
            assigned.extend(starts.iter().map(|(&partition, &start)| (partition, start)));
        }
        self.status.assigned(&starts);
        Ok(())
    }

    /// Hands `batch` to the service, pausing while it is over budget.
    /// Returns false when asked to stop before it was taken.
    fn deliver(
        &self,
        datasource: &str,
        topic: &str,
        batch: &MessageBatch,
    ) -> Result<bool, ConsumeError> {
        let messages = batch.messages();
        loop {
            match self.service.ingest_kafka(datasource, topic, &messages) {
                Ok(report) => {
                    self.status.ingested(
                        &report,
                        messages.len() as u64,
                        batch.bytes() as u64,
                        &batch.last_offsets(),
                    );
                    return Ok(true);
                }
                Err(IngestError::OverBudget { .. }) => {
                    self.sleep(OVER_BUDGET_PAUSE);
                    if self.stopped() {
                        return Ok(false);
                    }
                }
                Err(error) => return Err(error.into()),
            }
        }
    }

    fn fetch_watermarks(
        &self,
        consumer: &BaseConsumer<StatusContext>,
        partitions: &BTreeMap<u32, Option<u64>>,
    ) {
        let mut latest = BTreeMap::new();
        for &partition in partitions.keys() {
            match consumer.fetch_watermarks(&self.spec.topic, partition as i32, BROKER_TIMEOUT) {
                Ok((_, high)) => {
                    latest.insert(partition, u64::try_from(high).unwrap_or(0));
                }
                Err(error) => {
                    self.status.contact_error(format!(
                        "fetching the end of partition {partition}: {error}"
                    ));
                    return;
                }
            }
        }
        self.status.latest_offsets(&latest);
    }
}

/// Where reading a partition starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StartAt {
    /// Right after what the catalog and the WAL hold.
    Offset(u64),
    Beginning,
    End,
}

impl StartAt {
    fn offset(self) -> Option<u64> {
        match self {
            StartAt::Offset(next) => Some(next),
            StartAt::Beginning | StartAt::End => None,
        }
    }
}

/// Where each partition of `listed` not yet `assigned` starts: after its
/// position in `resume` when it has one; else, at the first assignment, by
/// the spec's policy; and a partition that appears later, at its beginning,
/// since all of it is new.
fn plan_assignment(
    listed: &[u32],
    assigned: &BTreeMap<u32, Option<u64>>,
    resume: &BTreeMap<u32, u64>,
    first_assignment: bool,
    use_earliest_offset: bool,
) -> Vec<(u32, StartAt)> {
    listed
        .iter()
        .filter(|partition| !assigned.contains_key(partition))
        .map(|&partition| {
            let start = match resume.get(&partition) {
                Some(&next) => StartAt::Offset(next),
                None if first_assignment && !use_earliest_offset => StartAt::End,
                None => StartAt::Beginning,
            };
            (partition, start)
        })
        .collect()
}

/// Messages polled for one delivery, their values copied so that the batch
/// can be offered again while the service is over budget.
#[derive(Debug, Default)]
struct MessageBatch {
    values: Vec<u8>,
    /// `(partition, offset, end of the value in values)`.
    messages: Vec<(u32, u64, usize)>,
}

impl MessageBatch {
    fn clear(&mut self) {
        self.values.clear();
        self.messages.clear();
    }

    /// The bytes of the values.
    fn bytes(&self) -> usize {
        self.values.len()
    }

    fn len(&self) -> usize {
        self.messages.len()
    }

    fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    fn push(&mut self, partition: u32, offset: u64, value: &[u8]) {
        self.values.extend_from_slice(value);
        self.messages.push((partition, offset, self.values.len()));
    }

    fn messages(&self) -> Vec<KafkaMessage<'_>> {
        let mut start = 0;
        self.messages
            .iter()
            .map(|&(partition, offset, end)| {
                let value = &self.values[start..end];
                start = end;
                KafkaMessage {
                    partition,
                    offset,
                    value,
                }
            })
            .collect()
    }

    fn last_offsets(&self) -> BTreeMap<u32, u64> {
        self.messages
            .iter()
            .map(|&(partition, offset, _)| (partition, offset))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_start_from_their_position_else_by_policy_and_new_ones_from_the_beginning() {
        let resume = BTreeMap::from([(0, 40)]);
        let first = plan_assignment(&[0, 1], &BTreeMap::new(), &resume, true, false);
        assert_eq!(first, [(0, StartAt::Offset(40)), (1, StartAt::End)]);
        let earliest = plan_assignment(&[0, 1], &BTreeMap::new(), &resume, true, true);
        assert_eq!(earliest[1], (1, StartAt::Beginning));

        // Two partitions added to the topic later: only they are assigned,
        // from their beginning whatever the policy.
        let assigned = BTreeMap::from([(0, Some(40)), (1, None)]);
        let grown = plan_assignment(&[0, 1, 2, 3], &assigned, &resume, false, false);
        assert_eq!(grown, [(2, StartAt::Beginning), (3, StartAt::Beginning)]);
    }
}
