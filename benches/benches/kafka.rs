//! Kafka consumption beside HTTP ingest of the same events, in the same run,
//! into the same server build; then the lag under a steady produce rate.
//!
//! 1M events of the reference dataset (seed 42), one per message, are
//! produced to a topic of three partitions on a real broker (tansu 0.6.0, in
//! memory) in batches of up to 10,000 records, as Kafka producers batch. (One
//! record per batch, which the tests use because tansu serves a fetch that
//! starts inside a batch wrongly, makes tansu the bottleneck: its one busy
//! core serves about 9k messages/s. Here every consumer reads each partition
//! from its start without restarting, so its fetches start at batch
//! boundaries; the exact counts checked at the end would show otherwise.) Then, alternately, three times
//! each on a fresh `strata serve` (release build, the default 1 GiB
//! real-time budget, so persists — and with them the `message` text index —
//! run inside the pass):
//!
//! - **HTTP**: the same events as NDJSON bodies of 10k lines over two
//!   keep-alive connections into the `access` datasource — the peer;
//! - **Kafka**: a supervisor for the topic (`useEarliestOffset`), timed from
//!   its submission until its status has read every message.
//!
//! Beside both, the transfer alone: a bare librdkafka consumer with the
//! supervisor's properties reading the whole topic and doing nothing with
//! it — what the broker and the client library cost. The figure is the ratio
//! of the median rates (issue 8: Kafka at ≥ the HTTP rate). Last, a producer sends 50k events/s for 20 s to a new topic that a
//! supervisor consumes; the lag — messages handed to the producer minus
//! messages Strata has taken in, so an upper bound that includes the
//! producer's and the broker's own latency — is sampled every 250 ms, and
//! must stay bounded and drain.
//!
//! Needs the release server and tansu (`./scripts/test.sh` installs it; or
//! set `STRATA_TEST_TANSU`):
//!
//! ```sh
//! cargo build --release -p strata-tools && \
//!   STRATA_TEST_TANSU=~/.cache/strata-tansu/bin/tansu cargo bench -p strata-benches --bench kafka
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use rdkafka::Message;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseProducer, Producer};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use strata_benches::http_ingest::{post_all, reference_bodies};
use strata_storage::spec::ACCESS_SPEC_JSON;
use strata_tests::StrataServer;
use strata_tests::kafka_broker::{Broker, send, supervisor_spec};

const EVENTS: u64 = 1_000_000;
const PARTITIONS: u32 = 3;
const RUNS: usize = 3;
const STEADY_RATE: u64 = 50_000;
/// 50k events/s for 20 s: the 1M reference events.
const STEADY_SECONDS: u64 = 20;

const SERVER_FLAGS: [&str; 6] = [
    "--persist-period",
    "1h",
    "--max-realtime-rows",
    "100000000",
    "--max-body-bytes",
    "67108864",
];

/// Messages Strata has taken in, by its supervisor's status.
fn read_so_far(server: &StrataServer) -> u64 {
    let status = server.get_json("/druid/indexer/v1/supervisor/access/status");
    status["payload"]["rowCounts"]["messages"]
        .as_u64()
        .unwrap_or(0)
}

fn start_server() -> (tempfile::TempDir, StrataServer) {
    let dir = tempfile::tempdir().expect("a scratch directory");
    let server = StrataServer::start_with(&dir.path().join("data"), &SERVER_FLAGS);
    (dir, server)
}

fn producer(broker: &Broker) -> BaseProducer {
    ClientConfig::new()
        .set("bootstrap.servers", broker.bootstrap())
        .set("linger.ms", "5")
        .set("batch.num.messages", "10000")
        .set("batch.size", "4000000")
        .set("queue.buffering.max.messages", "1000000")
        .create()
        .expect("a producer")
}

fn main() {
    if !std::env::args().any(|arg| arg == "--bench") {
        return;
    }
    let bodies = Arc::new(reference_bodies(EVENTS, 10_000));
    let lines: Vec<&[u8]> = bodies
        .iter()
        .flat_map(|body| body.split(|&b| b == b'\n').filter(|line| !line.is_empty()))
        .collect();
    assert_eq!(lines.len() as u64, EVENTS);

    let broker = Broker::start();
    compare(&broker, &bodies, &lines);
    steady_lag(&broker, &lines);
}

/// Produces the reference events to `broker`, then times the transfer
/// alone, HTTP ingest and Kafka consumption, `RUNS` times each.
fn compare(broker: &Broker, bodies: &Arc<Vec<Vec<u8>>>, lines: &[&[u8]]) {
    broker.create_topic("access", PARTITIONS);
    let started = Instant::now();
    let producing = producer(broker);
    for (i, line) in lines.iter().enumerate() {
        send(&producing, "access", (i as u32 % PARTITIONS) as i32, line);
        producing.poll(Duration::ZERO);
    }
    producing
        .flush(Duration::from_secs(600))
        .expect("every message acknowledged");
    println!(
        "produced {EVENTS} messages in {:.1} s ({:.0}/s)",
        started.elapsed().as_secs_f64(),
        EVENTS as f64 / started.elapsed().as_secs_f64()
    );

    let mut transfer_rates: Vec<f64> = (0..RUNS).map(|_| read_topic(broker, "access")).collect();
    transfer_rates.sort_by(f64::total_cmp);
    let transfer = transfer_rates[RUNS / 2];
    println!(
        "transfer alone (a librdkafka consumer reading the topic, nothing done with the messages): median {transfer:.0} messages/s"
    );

    let mut http_rates = Vec::new();
    let mut kafka_rates = Vec::new();
    for run in 0..RUNS {
        let (_dir, server) = start_server();
        server.create_datasource(ACCESS_SPEC_JSON);
        let (elapsed, accepted) =
            post_all(&server.url("/v1/datasources/access/ingest"), bodies, true);
        assert_eq!(accepted, EVENTS);
        let rate = EVENTS as f64 / elapsed.as_secs_f64();
        println!(
            "run {run}: HTTP ingest {:.2} s, {rate:.0} events/s",
            elapsed.as_secs_f64()
        );
        http_rates.push(rate);
        drop(server);

        let (_dir, server) = start_server();
        let started = Instant::now();
        let (code, answer) = server.post_json(
            "/druid/indexer/v1/supervisor",
            &supervisor_spec(ACCESS_SPEC_JSON, "access", &broker.bootstrap()),
        );
        assert_eq!(code, 200, "{answer}");
        while read_so_far(&server) < EVENTS {
            assert!(
                started.elapsed() < Duration::from_secs(600),
                "consumption stalled"
            );
            thread::sleep(Duration::from_millis(20));
        }
        let elapsed = started.elapsed();
        let rate = EVENTS as f64 / elapsed.as_secs_f64();
        let status = server.get_json("/druid/indexer/v1/supervisor/access/status");
        assert_eq!(
            status["payload"]["rowCounts"]["processed"], EVENTS,
            "{status}"
        );
        println!(
            "run {run}: Kafka consumption {:.2} s, {rate:.0} events/s",
            elapsed.as_secs_f64()
        );
        kafka_rates.push(rate);
    }
    http_rates.sort_by(f64::total_cmp);
    kafka_rates.sort_by(f64::total_cmp);
    let (http, kafka) = (http_rates[RUNS / 2], kafka_rates[RUNS / 2]);
    println!(
        "median of {RUNS}: Kafka {kafka:.0} events/s, HTTP {http:.0} events/s — Kafka / HTTP = {:.2}; Kafka / transfer alone = {:.2}",
        kafka / http,
        kafka / transfer
    );
}

/// Reads every message of `topic` with a bare librdkafka consumer, with
/// the properties Strata's supervisor sets, and returns messages per second:
/// what the broker and the client library cost without Strata.
fn read_topic(broker: &Broker, topic: &str) -> f64 {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", broker.bootstrap())
        .set("group.id", "transfer-peer")
        .set("enable.auto.commit", "false")
        .set("queued.max.messages.kbytes", "65536")
        .set("max.partition.fetch.bytes", "16777216")
        .set("fetch.queue.backoff.ms", "10")
        .set("fetch.wait.max.ms", "100")
        .create()
        .expect("a consumer");
    let mut partitions = TopicPartitionList::new();
    for partition in 0..PARTITIONS {
        partitions
            .add_partition_offset(topic, partition as i32, Offset::Beginning)
            .expect("a partition");
    }
    let started = Instant::now();
    consumer.assign(&partitions).expect("assigned");
    let (mut read, mut bytes) = (0u64, 0usize);
    while read < EVENTS {
        if let Some(message) = consumer.poll(Duration::from_secs(10)) {
            bytes += message.expect("a message").payload().map_or(0, <[u8]>::len);
            read += 1;
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "the topic was not read"
        );
    }
    let rate = EVENTS as f64 / started.elapsed().as_secs_f64();
    println!(
        "transfer alone: {read} messages, {bytes} bytes in {:.2} s, {rate:.0}/s",
        started.elapsed().as_secs_f64()
    );
    rate
}

/// Produces `STEADY_RATE` events/s for `STEADY_SECONDS` to a fresh topic
/// while a supervisor consumes it, and prints the lag it samples.
fn steady_lag(broker: &Broker, lines: &[&[u8]]) {
    broker.create_topic("steady", PARTITIONS);
    let (_dir, server) = start_server();
    let (code, answer) = server.post_json(
        "/druid/indexer/v1/supervisor",
        &supervisor_spec(ACCESS_SPEC_JSON, "steady", &broker.bootstrap()),
    );
    assert_eq!(code, 200, "{answer}");
    let sent = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let total = STEADY_RATE * STEADY_SECONDS;
    assert!(
        total <= lines.len() as u64,
        "the steady run sends each event once"
    );
    let producer_thread = {
        let done = done.clone();
        let lines: Vec<Vec<u8>> = lines
            .iter()
            .take(total as usize)
            .map(|l| l.to_vec())
            .collect();
        let sent = sent.clone();
        let producing = producer(broker);
        thread::spawn(move || {
            let started = Instant::now();
            let slice = STEADY_RATE / 100;
            for (tick, chunk) in lines.chunks(slice as usize).enumerate() {
                let due = started + Duration::from_millis(10 * tick as u64);
                if let Some(wait) = due.checked_duration_since(Instant::now()) {
                    thread::sleep(wait);
                }
                for (i, line) in chunk.iter().enumerate() {
                    send(&producing, "steady", (i as u32 % PARTITIONS) as i32, line);
                }
                producing.poll(Duration::ZERO);
                sent.fetch_add(chunk.len() as u64, Ordering::Relaxed);
            }
            producing
                .flush(Duration::from_secs(120))
                .expect("acknowledged");
            done.store(true, Ordering::Relaxed);
            started.elapsed()
        })
    };
    let mut samples = Vec::new();
    let started = Instant::now();
    loop {
        thread::sleep(Duration::from_millis(250));
        let sent_now = sent.load(Ordering::Relaxed);
        let read = read_so_far(&server);
        let lag = sent_now.saturating_sub(read);
        samples.push((started.elapsed(), lag));
        if done.load(Ordering::Relaxed) && read >= total {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "the lag never drained: {lag}"
        );
    }
    let produce_time = producer_thread.join().expect("the producer thread");
    let drained = started.elapsed();
    let max_lag = samples.iter().map(|&(_, lag)| lag).max().unwrap_or(0);
    let second_half: Vec<u64> = samples
        .iter()
        .filter(|(at, _)| at.as_secs() >= STEADY_SECONDS / 2 && at.as_secs() < STEADY_SECONDS)
        .map(|&(_, lag)| lag)
        .collect();
    let late_max = second_half.iter().max().copied().unwrap_or(0);
    println!(
        "steady {STEADY_RATE} events/s for {STEADY_SECONDS} s (produced in {:.1} s): lag max {max_lag} events ({:.2} s of production), max in the second half {late_max}; all read {:.1} s after the start",
        produce_time.as_secs_f64(),
        max_lag as f64 / STEADY_RATE as f64,
        drained.as_secs_f64()
    );
}
