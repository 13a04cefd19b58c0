//! Kafka messages into a datasource, exactly once.
//!
//! The [Kafka connector](crate::kafka) hands the service batches of
//! messages; each message becomes **one** WAL record, tagged with its
//! partition and offset, whose payload is the NDJSON of the message's
//! accepted events (empty when none was accepted, so that the offset still
//! moves on durably). One record per message makes a message atomic: a torn
//! WAL write after a crash keeps or drops whole messages, and consumption
//! resumes right after the last message kept (see the
//! [offset ledger](crate::kafka::offset_ledger)).
//!
//! Replay reads such a record as NDJSON, like any other: an HTTP record is
//! the one-line case.

use std::collections::BTreeMap;
use std::sync::PoisonError;
use std::sync::atomic::Ordering;

use crate::kafka::message::MessageEvents;
use crate::parse::{DiscoveredDimension, ParsedEvent};
use crate::realtime::wall_clock_now;
use crate::wal::{Batch, KafkaOffset};

use super::{
    DataSourceIngest, IngestError, IngestService, LineVerdict, MAX_DISCOVERY_ROUNDS, judge_line,
};
use strata_storage::time::Millis;

/// How many message errors a [`KafkaIngestReport`] lists; the rest are only counted.
pub const MAX_REPORTED_MESSAGE_ERRORS: usize = 20;

/// One message read from a partition of the supervised topic.
#[derive(Debug, Clone, Copy)]
pub struct KafkaMessage<'a> {
    pub partition: u32,
    pub offset: u64,
    /// The message value; a message without one (a tombstone) is empty.
    pub value: &'a [u8],
}

/// What became of a batch of messages, in Druid's terms.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KafkaIngestReport {
    /// Events taken into the datasource.
    pub processed: u64,
    /// Events (or whole messages) that are not events of the spec.
    pub unparseable: u64,
    /// Events outside the accepted window.
    pub thrown_away: u64,
    /// The first errors, with where they were read.
    pub errors: Vec<KafkaMessageError>,
}

/// Why an event of a message was not taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaMessageError {
    pub partition: u32,
    pub offset: u64,
    pub message: String,
}

impl KafkaIngestReport {
    fn note_error(&mut self, message: &KafkaMessage<'_>, error: String) {
        if self.errors.len() < MAX_REPORTED_MESSAGE_ERRORS {
            self.errors.push(KafkaMessageError {
                partition: message.partition,
                offset: message.offset,
                message: error,
            });
        }
    }
}

/// A batch parsed: the WAL batch (one record per message), the accepted
/// events of each message, and what discovery found.
struct ParsedMessages {
    report: KafkaIngestReport,
    batch: Batch,
    events: Vec<Vec<ParsedEvent>>,
    discovered: Vec<DiscoveredDimension>,
}

impl IngestService {
    /// Ingests `messages` read from `topic` into datasource `name`: each is
    /// one WAL record (see the [module docs](self)), and its events go into
    /// the real-time index. Blocks until the records are durable. Refused
    /// with [`IngestError::OverBudget`], taking nothing, while the real-time
    /// index is over its byte budget: the caller waits and offers the same
    /// messages again.
    pub fn ingest_kafka(
        &self,
        name: &str,
        topic: &str,
        messages: &[KafkaMessage<'_>],
    ) -> Result<KafkaIngestReport, IngestError> {
        let ingest = self.datasource(name)?;
        self.check_budget(name, &ingest)?;
        let now = wall_clock_now();
        let mut parsed = parse_messages(name, &ingest, topic, messages, now)?;
        for _ in 0..MAX_DISCOVERY_ROUNDS {
            if parsed.discovered.is_empty() {
                break;
            }
            self.discover(name, &ingest, &parsed.discovered)?;
            parsed = parse_messages(name, &ingest, topic, messages, now)?;
        }
        let ParsedMessages {
            mut report,
            batch,
            events,
            ..
        } = parsed;
        if batch.is_empty() {
            return Ok(report);
        }
        let _gate = ingest.gate.read().unwrap_or_else(PoisonError::into_inner);
        let range = ingest.append(name, batch)?;
        // The ledger before the index, in the order a persist takes them.
        let mut ledger = ingest.kafka();
        let mut index = ingest.index();
        for ((message, events), seq) in messages.iter().zip(events).zip(range.iter()) {
            ledger.note(
                seq.0,
                &KafkaOffset {
                    topic: topic.to_owned(),
                    partition: message.partition,
                    offset: message.offset,
                },
            );
            for event in events {
                match index.add(event, seq.0) {
                    Ok(_) => report.processed += 1,
                    Err(error) => {
                        // In the WAL, but failing the same way on replay.
                        report.unparseable += 1;
                        report.note_error(message, error.to_string());
                    }
                }
            }
        }
        ingest.note_totals(&index);
        ingest
            .accepted
            .fetch_add(report.processed, Ordering::Relaxed);
        ingest
            .rejected
            .fetch_add(report.unparseable + report.thrown_away, Ordering::Relaxed);
        Ok(report)
    }

    /// Where consumption of `topic` into `name` resumes, by partition (see
    /// the [offset ledger](crate::kafka::offset_ledger)).
    pub fn kafka_resume_offsets(
        &self,
        name: &str,
        topic: &str,
    ) -> Result<BTreeMap<u32, u64>, IngestError> {
        Ok(self.datasource(name)?.kafka().resume_offsets(topic))
    }

    /// Forgets every Kafka position of `name`, durably: the next consumer
    /// starts where its policy says (earliest or latest). The caller stops
    /// consuming first.
    pub fn reset_kafka(&self, name: &str) -> Result<(), IngestError> {
        let ingest = self.datasource(name)?;
        let _persisting = ingest
            .persisting
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let _gate = ingest.gate.write().unwrap_or_else(PoisonError::into_inner);
        let through = ingest.wal.next_seq().0.saturating_sub(1);
        let mut ledger = ingest.kafka();
        self.catalog.publish(name, ledger.reset_publish(through))?;
        ledger.reset(through);
        Ok(())
    }
}

/// Batches at least this long are parsed on two threads.
const PARSE_IN_TWO_FROM: usize = 1_024;

/// Parses `messages` into one WAL batch; a long batch in two halves on two
/// threads, as HTTP ingest parses two requests at once.
fn parse_messages(
    name: &str,
    ingest: &DataSourceIngest,
    topic: &str,
    messages: &[KafkaMessage<'_>],
    now: Millis,
) -> Result<ParsedMessages, IngestError> {
    if messages.len() < PARSE_IN_TWO_FROM {
        return parse_part(name, ingest, topic, messages, now);
    }
    let (first, second) = messages.split_at(messages.len() / 2);
    let (first, second) = std::thread::scope(|scope| {
        let second = scope.spawn(|| parse_part(name, ingest, topic, second, now));
        let first = parse_part(name, ingest, topic, first, now);
        let second = second
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (first, second)
    });
    let (mut parsed, second) = (first?, second?);
    let report = &mut parsed.report;
    report.processed += second.report.processed;
    report.unparseable += second.report.unparseable;
    report.thrown_away += second.report.thrown_away;
    let room = MAX_REPORTED_MESSAGE_ERRORS.saturating_sub(report.errors.len());
    report
        .errors
        .extend(second.report.errors.into_iter().take(room));
    parsed.batch.append(second.batch);
    parsed.events.extend(second.events);
    parsed.discovered.extend(second.discovered);
    Ok(parsed)
}

fn parse_part(
    name: &str,
    ingest: &DataSourceIngest,
    topic: &str,
    messages: &[KafkaMessage<'_>],
    now: Millis,
) -> Result<ParsedMessages, IngestError> {
    let parser = ingest.parser();
    let mut parsed = ParsedMessages {
        report: KafkaIngestReport::default(),
        batch: Batch::with_capacity(
            messages.len(),
            messages.iter().map(|message| message.value.len()).sum(),
        ),
        events: Vec::with_capacity(messages.len()),
        discovered: Vec::new(),
    };
    let mut payload = Vec::new();
    for message in messages {
        payload.clear();
        let mut events = Vec::new();
        let lines = match MessageEvents::split(message.value) {
            MessageEvents::Events(lines) => lines,
            MessageEvents::BadArray(error) => {
                parsed.report.unparseable += 1;
                parsed.report.note_error(message, error);
                Vec::new()
            }
        };
        for line in &lines {
            match judge_line(ingest, &parser, line, now) {
                LineVerdict::Accepted(event) => {
                    if !payload.is_empty() {
                        payload.push(b'\n');
                    }
                    payload.extend_from_slice(line);
                    events.push(event);
                }
                LineVerdict::Unparseable(error) => {
                    parsed.report.unparseable += 1;
                    parsed.report.note_error(message, error);
                }
                LineVerdict::OutsideWindow(error) => {
                    parsed.report.thrown_away += 1;
                    parsed.report.note_error(message, error);
                }
                LineVerdict::Discovers(discovered, error) => {
                    parsed.report.unparseable += 1;
                    parsed.report.note_error(message, error);
                    parsed.discovered.extend(discovered);
                }
            }
        }
        let source = KafkaOffset {
            topic: topic.to_owned(),
            partition: message.partition,
            offset: message.offset,
        };
        parsed
            .batch
            .push_from_kafka(&source, &payload)
            .map_err(|source| IngestError::Wal {
                datasource: name.to_owned(),
                source,
            })?;
        parsed.events.push(events);
    }
    Ok(parsed)
}
