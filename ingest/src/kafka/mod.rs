//! The Kafka connector: topics consumed into datasources, exactly once, like
//! Druid's Kafka indexing service.
//!
//! ```text
//! supervisor (one per datasource) ── consumer thread ── rdkafka, partitions assigned by hand
//!    │                                   │ batches of messages
//!    │                                   └─> IngestService::ingest_kafka: one WAL record per message
//!    └─ status: offsets, lag, counts, errors          (tagged with its partition and offset)
//! persist: segments + persisted marks + next offsets ── ONE catalog publish
//! ```
//!
//! Exactly-once rests on two facts. A message is one WAL record, tagged with
//! where it was read, so it is durable — with its position — before the
//! consumer moves on, and a torn write keeps or loses it whole. The offsets
//! of the messages a persist puts into segments are committed in the same
//! catalog step as those segments. After a crash the WAL replays what the
//! catalog does not hold, and each partition resumes right after the last
//! message either of them holds ([`offset_ledger`]). The broker's consumer
//! group offsets are never used.
//!
//! Where to start reading: [`supervisors`] (the API's verbs),
//! [`supervisor_spec`] (what is submitted), [`consumer`] (the loop),
//! [`message`] (the events inside a message), [`offset_ledger`] (positions),
//! then the [service's side](crate::service::kafka_ingest);
//! [`supervisor_status`] is what users see.

pub mod consumer;
pub mod message;
pub mod offset_ledger;
pub mod supervisor_spec;
pub mod supervisor_status;
pub mod supervisors;

#[cfg(test)]
mod tests;
