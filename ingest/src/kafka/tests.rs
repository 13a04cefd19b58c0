//! The connector end to end inside one process: the service's side against
//! an oracle of what was offered, and the consumer against librdkafka's mock
//! cluster, which — unlike the broker the end-to-end tests run — serves
//! multi-record batches the way Kafka does.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use serde_json::json;
use strata_storage::catalog::{Catalog, FileCatalog};
use strata_storage::spec::DataSourceSpec;

use super::supervisor_spec::SupervisorSpec;
use super::supervisors::Supervisors;
use crate::service::kafka_ingest::KafkaMessage;
use crate::service::{IngestOptions, IngestService};

const SPEC: &str = r#"{"dataSource": "web",
  "timestampSpec": {"column": "ts", "format": "millis"},
  "dimensionsSpec": {"dimensions": ["host"]},
  "metricsSpec": [{"type": "longSum", "name": "bytes", "fieldName": "bytes"}],
  "granularitySpec": {"segmentGranularity": "hour", "queryGranularity": "none", "rollup": false}}"#;

const JAN_1: i64 = 1_704_067_200_000;

fn event(i: u64) -> String {
    format!(
        r#"{{"ts": {}, "host": "h{}", "bytes": {i}}}"#,
        JAN_1 + (i as i64 % 7) * 1_800_000,
        i % 5
    )
}

struct Opened {
    catalog: Arc<dyn Catalog>,
    service: Arc<IngestService>,
}

fn open(dir: &Path) -> Opened {
    let catalog: Arc<dyn Catalog> = Arc::new(FileCatalog::open(dir).unwrap());
    let service =
        Arc::new(IngestService::open(dir, catalog.clone(), IngestOptions::default()).unwrap());
    Opened { catalog, service }
}

/// Events held by `name`: in the real-time index and in published segments
/// (one row per event: the spec does not roll up).
fn stored_events(opened: &Opened, name: &str) -> u64 {
    let realtime = opened.service.realtime_stats(name).unwrap().events;
    let published: u64 = opened
        .catalog
        .datasource(name)
        .unwrap()
        .segments
        .iter()
        .map(|segment| segment.rows)
        .sum();
    realtime + published
}

#[test]
fn messages_of_every_shape_are_taken_once_across_restarts_persists_and_a_reset() {
    let dir = tempfile::tempdir().unwrap();
    let mut opened = open(dir.path());
    opened
        .service
        .create_datasource(DataSourceSpec::from_json(SPEC).unwrap())
        .unwrap();
    let array = format!("[{}, {}]", event(1), event(2));
    let ndjson = format!("{}\n{{\"ts\": \"no\"}}\n{}\n", event(3), event(4));
    let pretty = "{\n  \"ts\": 1704067200000,\n  \"host\": \"p\"\n}".to_owned();
    let values = [event(0), array, ndjson, "[1,".to_owned(), pretty];
    let messages = [(0, 0), (0, 1), (1, 0), (1, 1), (2, 7)];
    let batch: Vec<KafkaMessage<'_>> = messages
        .iter()
        .zip(&values)
        .map(|(&(partition, offset), value)| KafkaMessage {
            partition,
            offset,
            value: value.as_bytes(),
        })
        .collect();
    let report = opened.service.ingest_kafka("web", "t", &batch).unwrap();
    assert_eq!((report.processed, report.unparseable), (6, 2));
    assert_eq!(
        report
            .errors
            .iter()
            .map(|e| (e.partition, e.offset))
            .collect::<Vec<_>>(),
        [(1, 0), (1, 1)]
    );
    let resume = BTreeMap::from([(0, 2), (1, 2), (2, 8)]);
    assert_eq!(
        opened.service.kafka_resume_offsets("web", "t").unwrap(),
        resume
    );

    // A restart replays the WAL: the same events, the same positions.
    drop(opened);
    opened = open(dir.path());
    assert_eq!(stored_events(&opened, "web"), 6);
    assert_eq!(
        opened.service.kafka_resume_offsets("web", "t").unwrap(),
        resume
    );

    // A persist moves the positions into the catalog with the segments.
    opened.service.persist("web").unwrap();
    let offsets = opened.catalog.datasource("web").unwrap().offsets.clone();
    assert_eq!(offsets["kafka/t/0"], json!(2));
    assert_eq!(offsets["kafka/t/2"], json!(8));
    drop(opened);
    opened = open(dir.path());
    assert_eq!(opened.service.realtime_stats("web").unwrap().events, 0);
    assert_eq!(stored_events(&opened, "web"), 6);
    assert_eq!(
        opened.service.kafka_resume_offsets("web", "t").unwrap(),
        resume
    );

    // More, then a reset: the positions are gone, the events stay.
    let more = event(9);
    let next = [KafkaMessage {
        partition: 0,
        offset: 2,
        value: more.as_bytes(),
    }];
    opened.service.ingest_kafka("web", "t", &next).unwrap();
    assert_eq!(
        opened.service.kafka_resume_offsets("web", "t").unwrap()[&0],
        3
    );
    opened.service.reset_kafka("web").unwrap();
    assert!(
        opened
            .service
            .kafka_resume_offsets("web", "t")
            .unwrap()
            .is_empty()
    );
    drop(opened);
    opened = open(dir.path());
    assert!(
        opened
            .service
            .kafka_resume_offsets("web", "t")
            .unwrap()
            .is_empty()
    );
    assert_eq!(stored_events(&opened, "web"), 7);
}

fn supervisor_spec(bootstrap: &str, topic: &str) -> SupervisorSpec {
    let data_schema: serde_json::Value = serde_json::from_str(SPEC).unwrap();
    SupervisorSpec::from_json(json!({
        "type": "kafka",
        "spec": {
            "dataSchema": data_schema,
            "ioConfig": {
                "topic": topic,
                "inputFormat": {"type": "json"},
                "consumerProperties": {"bootstrap.servers": bootstrap},
                "useEarliestOffset": true,
            },
            "tuningConfig": {"type": "kafka"},
        }
    }))
    .unwrap()
}

fn produce(producer: &BaseProducer, topic: &str, range: std::ops::Range<u64>) {
    for i in range {
        let payload = event(i);
        let partition = (i % 3) as i32;
        let mut record = BaseRecord::<(), _>::to(topic)
            .payload(&payload)
            .partition(partition);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((_, returned)) => {
                    record = returned;
                    producer.poll(Duration::from_millis(10));
                }
            }
        }
    }
    producer.flush(Duration::from_secs(30)).unwrap();
}

fn wait_for(opened: &Opened, events: u64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while stored_events(opened, "web") < events {
        assert!(
            Instant::now() < deadline,
            "only {} of {events} events arrived",
            stored_events(opened, "web")
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_supervisor_consumes_batched_partitions_exactly_once_across_restarts() {
    let cluster = MockCluster::new(1).unwrap();
    cluster.create_topic("events", 3, 1).unwrap();
    let bootstrap = cluster.bootstrap_servers();
    // Batches of many records, as Kafka producers send them.
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("linger.ms", "20")
        .set("batch.num.messages", "1000")
        .create()
        .unwrap();
    produce(&producer, "events", 0..6_000);

    let dir = tempfile::tempdir().unwrap();
    let mut opened = open(dir.path());
    let supervisors = Supervisors::open(opened.service.clone()).unwrap();
    supervisors
        .submit(supervisor_spec(&bootstrap, "events"))
        .unwrap();
    wait_for(&opened, 6_000);
    opened.service.persist("web").unwrap();
    produce(&producer, "events", 6_000..9_000);
    wait_for(&opened, 9_000);
    let report = supervisors.status("web").unwrap();
    assert_eq!(report.row_counts.processed, 9_000);
    assert_eq!(
        report.current_offsets,
        BTreeMap::from([(0, 3_000), (1, 3_000), (2, 3_000)])
    );

    // Restart: the stored supervisor resumes where the catalog and WAL say.
    drop(supervisors);
    drop(opened);
    produce(&producer, "events", 9_000..12_000);
    opened = open(dir.path());
    let supervisors = Supervisors::open(opened.service.clone()).unwrap();
    wait_for(&opened, 12_000);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(stored_events(&opened, "web"), 12_000);
    assert_eq!(
        supervisors.status("web").unwrap().row_counts.processed,
        3_000
    );

    // Suspended, nothing is read; resumed, the rest arrives.
    supervisors.suspend("web").unwrap();
    produce(&producer, "events", 12_000..12_300);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(stored_events(&opened, "web"), 12_000);
    supervisors.resume("web").unwrap();
    wait_for(&opened, 12_300);

    // A reset with useEarliestOffset reads the topic again from the start.
    supervisors.reset("web").unwrap();
    wait_for(&opened, 24_600);
    supervisors.terminate("web").unwrap();
    assert!(supervisors.ids().is_empty());
}

#[test]
fn a_long_batch_parsed_in_two_halves_keeps_every_message_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let mut opened = open(dir.path());
    opened
        .service
        .create_datasource(DataSourceSpec::from_json(SPEC).unwrap())
        .unwrap();
    // Every seventh message is not an event, in both halves.
    let values: Vec<String> = (0..3_000u64)
        .map(|i| {
            if i % 7 == 3 {
                "oops".to_owned()
            } else {
                event(i)
            }
        })
        .collect();
    let batch: Vec<KafkaMessage<'_>> = values
        .iter()
        .enumerate()
        .map(|(i, value)| KafkaMessage {
            partition: (i % 2) as u32,
            offset: (i / 2) as u64,
            value: value.as_bytes(),
        })
        .collect();
    let report = opened.service.ingest_kafka("web", "t", &batch).unwrap();
    let bad = (0..3_000).filter(|i| i % 7 == 3).count() as u64;
    assert_eq!((report.processed, report.unparseable), (3_000 - bad, bad));
    assert_eq!(report.errors[0].offset, 1);
    let resume = BTreeMap::from([(0, 1_500), (1, 1_500)]);
    assert_eq!(
        opened.service.kafka_resume_offsets("web", "t").unwrap(),
        resume
    );
    drop(opened);
    opened = open(dir.path());
    assert_eq!(stored_events(&opened, "web"), 3_000 - bad);
    assert_eq!(
        opened.service.kafka_resume_offsets("web", "t").unwrap(),
        resume
    );
}
