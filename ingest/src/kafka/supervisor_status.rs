//! What a supervisor reports: its state, per-partition offsets and lag, row
//! counts and recent errors — Druid's supervisor status, with the samples of
//! unparseable messages beside it.
//!
//! The consumer thread and librdkafka's callbacks write into one
//! [`SupervisorStatus`]; the HTTP status and `/metrics` read a
//! [`SupervisorReport`] copied out of it.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};

use serde::Serialize;
use strata_storage::time::{Millis, format_millis};

use crate::realtime::wall_clock_now;
use crate::service::kafka_ingest::KafkaIngestReport;

/// How many errors of each kind a status keeps, newest last.
const KEPT_ERRORS: usize = 10;

/// A supervisor's state, in Druid's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SupervisorState {
    /// Connecting to the brokers, reading the topic's partitions.
    Pending,
    Running,
    Suspended,
    /// The brokers have not answered since the last error; librdkafka keeps
    /// trying.
    LostContactWithStream,
    /// The consumer failed and restarts after a pause; see `recentErrors`.
    UnhealthySupervisor,
}

/// One error, when it happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecentError {
    #[serde(serialize_with = "iso_time")]
    pub timestamp: Millis,
    pub message: String,
}

/// A message or event that was not taken, with where it was read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ParseErrorSample {
    #[serde(serialize_with = "iso_time")]
    pub timestamp: Millis,
    pub partition: u32,
    pub offset: u64,
    pub message: String,
}

/// Druid's row counters of a stream (`buildSegments` in its reports).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RowCounts {
    /// Events taken into the datasource.
    pub processed: u64,
    /// Bytes of the message values read.
    pub processed_bytes: u64,
    /// Messages read.
    pub messages: u64,
    /// Events, or whole messages, that are not events of the spec.
    pub unparseable: u64,
    /// Events outside the accepted window.
    pub thrown_away: u64,
}

/// One partition's positions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct PartitionOffsets {
    /// The next offset the supervisor reads.
    current: Option<u64>,
    /// The partition's high watermark: the offset the next message produced gets.
    latest: Option<u64>,
}

#[derive(Debug)]
struct StatusState {
    stream: String,
    suspended: bool,
    /// Whether the consumer is up and has read the topic's partitions.
    assigned: bool,
    /// Whether the consumer failed and waits to restart.
    failed: bool,
    partitions: BTreeMap<u32, PartitionOffsets>,
    counts: RowCounts,
    recent_errors: VecDeque<RecentError>,
    parse_errors: VecDeque<ParseErrorSample>,
    offsets_last_updated: Option<Millis>,
    /// When a broker last failed to answer, and when one last did.
    last_contact_error: Option<Millis>,
    last_contact: Option<Millis>,
}

/// A supervisor's live status. See the [module docs](self).
#[derive(Debug)]
pub struct SupervisorStatus {
    state: Mutex<StatusState>,
}

/// A supervisor's status at one moment, in the shape of Druid's
/// `GET /druid/indexer/v1/supervisor/{id}/status` payload.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SupervisorReport {
    pub data_source: String,
    pub stream: String,
    pub partitions: usize,
    pub replicas: u32,
    pub duration_seconds: u64,
    pub suspended: bool,
    pub healthy: bool,
    pub state: SupervisorState,
    pub detailed_state: SupervisorState,
    /// The next offset read, by partition.
    pub current_offsets: BTreeMap<u32, u64>,
    /// The high watermarks, by partition.
    pub latest_offsets: BTreeMap<u32, u64>,
    /// Messages produced but not read yet, by partition.
    pub minimum_lag: BTreeMap<u32, u64>,
    pub aggregate_lag: u64,
    #[serde(serialize_with = "iso_time_if_any")]
    pub offsets_last_updated: Option<Millis>,
    pub row_counts: RowCounts,
    pub recent_errors: Vec<RecentError>,
    pub parse_errors: Vec<ParseErrorSample>,
}

fn iso_time<S: serde::Serializer>(time: &Millis, to: S) -> Result<S::Ok, S::Error> {
    to.serialize_str(&format_millis(*time))
}

fn iso_time_if_any<S: serde::Serializer>(time: &Option<Millis>, to: S) -> Result<S::Ok, S::Error> {
    match time {
        Some(time) => iso_time(time, to),
        None => to.serialize_none(),
    }
}

fn push_bounded<T>(queue: &mut VecDeque<T>, item: T) {
    if queue.len() == KEPT_ERRORS {
        queue.pop_front();
    }
    queue.push_back(item);
}

impl SupervisorStatus {
    pub fn new(stream: &str, suspended: bool) -> SupervisorStatus {
        SupervisorStatus {
            state: Mutex::new(StatusState {
                stream: stream.to_owned(),
                suspended,
                assigned: false,
                failed: false,
                partitions: BTreeMap::new(),
                counts: RowCounts::default(),
                recent_errors: VecDeque::new(),
                parse_errors: VecDeque::new(),
                offsets_last_updated: None,
                last_contact_error: None,
                last_contact: None,
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, StatusState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn set_suspended(&self, suspended: bool) {
        let mut state = self.state();
        state.suspended = suspended;
        state.assigned = false;
    }

    /// The consumer starts (again): nothing is assigned yet.
    pub fn starting(&self) {
        self.state().assigned = false;
    }

    /// The consumer reads these partitions from these offsets.
    pub fn assigned(&self, partitions: &BTreeMap<u32, Option<u64>>) {
        let mut state = self.state();
        for (&partition, &start) in partitions {
            let offsets = state.partitions.entry(partition).or_default();
            if start.is_some() {
                offsets.current = start;
            }
        }
        state.assigned = true;
        state.failed = false;
        state.last_contact = Some(wall_clock_now());
    }

    /// A batch of messages was ingested, the last of each partition at
    /// `last_offsets`.
    pub fn ingested(
        &self,
        report: &KafkaIngestReport,
        messages: u64,
        bytes: u64,
        last_offsets: &BTreeMap<u32, u64>,
    ) {
        let now = wall_clock_now();
        let mut state = self.state();
        for (&partition, &offset) in last_offsets {
            state.partitions.entry(partition).or_default().current = Some(offset + 1);
        }
        let counts = &mut state.counts;
        counts.processed += report.processed;
        counts.unparseable += report.unparseable;
        counts.thrown_away += report.thrown_away;
        counts.messages += messages;
        counts.processed_bytes += bytes;
        for error in &report.errors {
            push_bounded(
                &mut state.parse_errors,
                ParseErrorSample {
                    timestamp: now,
                    partition: error.partition,
                    offset: error.offset,
                    message: error.message.clone(),
                },
            );
        }
    }

    /// The partitions' high watermarks, just fetched.
    pub fn latest_offsets(&self, latest: &BTreeMap<u32, u64>) {
        let now = wall_clock_now();
        let mut state = self.state();
        for (&partition, &high) in latest {
            state.partitions.entry(partition).or_default().latest = Some(high);
        }
        state.offsets_last_updated = Some(now);
        state.last_contact = Some(now);
    }

    /// A broker did not answer.
    pub fn contact_error(&self, message: String) {
        let now = wall_clock_now();
        let mut state = self.state();
        state.last_contact_error = Some(now);
        push_bounded(
            &mut state.recent_errors,
            RecentError {
                timestamp: now,
                message,
            },
        );
    }

    /// The consumer failed; it restarts after a pause.
    pub fn failed(&self, message: String) {
        let now = wall_clock_now();
        let mut state = self.state();
        state.failed = true;
        state.assigned = false;
        push_bounded(
            &mut state.recent_errors,
            RecentError {
                timestamp: now,
                message,
            },
        );
    }

    /// The status now, for a supervisor of `datasource` running for
    /// `duration_seconds`-long Druid tasks.
    pub fn report(&self, datasource: &str, duration_seconds: u64) -> SupervisorReport {
        let state = self.state();
        let lost_contact = match (state.last_contact_error, state.last_contact) {
            (Some(error), Some(contact)) => error > contact,
            (Some(_), None) => true,
            (None, _) => false,
        };
        let detailed_state = if state.suspended {
            SupervisorState::Suspended
        } else if state.failed {
            SupervisorState::UnhealthySupervisor
        } else if lost_contact {
            SupervisorState::LostContactWithStream
        } else if state.assigned {
            SupervisorState::Running
        } else {
            SupervisorState::Pending
        };
        let mut current_offsets = BTreeMap::new();
        let mut latest_offsets = BTreeMap::new();
        let mut minimum_lag = BTreeMap::new();
        for (&partition, offsets) in &state.partitions {
            if let Some(current) = offsets.current {
                current_offsets.insert(partition, current);
            }
            if let Some(latest) = offsets.latest {
                latest_offsets.insert(partition, latest);
                let read = offsets.current.unwrap_or(0);
                minimum_lag.insert(partition, latest.saturating_sub(read));
            }
        }
        SupervisorReport {
            data_source: datasource.to_owned(),
            stream: state.stream.clone(),
            partitions: state.partitions.len(),
            replicas: 1,
            duration_seconds,
            suspended: state.suspended,
            healthy: !matches!(
                detailed_state,
                SupervisorState::UnhealthySupervisor | SupervisorState::LostContactWithStream
            ),
            state: detailed_state,
            detailed_state,
            aggregate_lag: minimum_lag.values().sum(),
            current_offsets,
            latest_offsets,
            minimum_lag,
            offsets_last_updated: state.offsets_last_updated,
            row_counts: state.counts,
            recent_errors: state.recent_errors.iter().cloned().collect(),
            parse_errors: state.parse_errors.iter().cloned().collect(),
        }
    }
}
