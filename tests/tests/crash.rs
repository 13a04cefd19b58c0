//! Crash safety of ingest: a server killed (SIGKILL) at random moments while
//! two clients ingest, twenty times over, loses no acknowledged event and
//! counts none twice.
//!
//! Every event carries a unique marker in `user_id`, so the events that end
//! up in segments can be matched one by one against what the clients were
//! told. A request acknowledged with 200 must be in, exactly once; a request
//! whose connection broke is *unknown* — it may or may not be in, but never
//! twice. The datasource has rollup off, so a segment's `rows` are events and
//! the events table holds one row per event to read the markers from.
//!
//! The kill moments come from a seeded generator; the seed is printed, and
//! `STRATA_CRASH_SEED` replays a run.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use reqwest::blocking::Client;
use serde_json::Value;
use strata_storage::catalog::{Catalog, FileCatalog};
use strata_storage::segment::{Column, Segment, TableKind};
use strata_tests::StrataServer;

const ROUNDS: usize = 20;
const CLIENTS: usize = 2;
const EVENTS_PER_BODY: usize = 300;
/// Frequent persists, and a small memory budget: a debug build persists
/// slower than it ingests, and the budget's backpressure (429) keeps what
/// each restart replays bounded.
const SERVER_FLAGS: [&str; 6] = [
    "--persist-period",
    "300ms",
    "--max-realtime-rows",
    "2000",
    "--max-realtime-bytes",
    "8000000",
];

/// A splitmix64 generator: enough randomness for kill moments, and
/// replayable from its seed.
struct KillClock(u64);

impl KillClock {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A moment between 0 and 1.5 s.
    fn next_delay(&mut self) -> Duration {
        Duration::from_millis(self.next_u64() % 1_501)
    }
}

fn seed() -> u64 {
    std::env::var("STRATA_CRASH_SEED")
        .ok()
        .and_then(|seed| seed.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |since| since.as_nanos() as u64)
        })
}

/// The reference `access` spec with rollup off: segments keep only the
/// events table, one row per event.
fn events_only_spec() -> String {
    let spec =
        strata_storage::spec::ACCESS_SPEC_JSON.replace("\"rollup\": true", "\"rollup\": false");
    assert_ne!(spec, strata_storage::spec::ACCESS_SPEC_JSON);
    spec
}

/// One NDJSON body of `EVENTS_PER_BODY` events, each marked `marker-e{i}`,
/// and the markers.
fn body(marker: &str, first_ms: u64) -> (Vec<u8>, Vec<String>) {
    let mut body = Vec::new();
    let mut markers = Vec::with_capacity(EVENTS_PER_BODY);
    for i in 0..EVENTS_PER_BODY {
        let user_id = format!("{marker}-e{i}");
        // Spread over one day so every persist publishes one segment.
        let at_ms = (first_ms + i as u64) % 86_400_000;
        let (hours, minutes) = (at_ms / 3_600_000, at_ms / 60_000 % 60);
        let (seconds, millis) = (at_ms / 1000 % 60, at_ms % 1000);
        let line = serde_json::json!({
            "timestamp": format!("2024-01-01T{hours:02}:{minutes:02}:{seconds:02}.{millis:03}Z"),
            "service": "api", "region": "eu", "method": "GET", "status": 200,
            "country": "FR", "host": "h1", "path": "/a", "user_id": user_id,
            "message": "GET /a took a while", "bytes": i, "duration_ms": 1.5, "retries": 0,
        });
        body.extend_from_slice(line.to_string().as_bytes());
        body.push(b'\n');
        markers.push(user_id);
    }
    (body, markers)
}

/// What one client was told.
#[derive(Default)]
struct Outcome {
    acknowledged: Vec<String>,
    /// Events of requests whose connection broke after it was made.
    unknown: Vec<String>,
}

/// Posts bodies until `stop`, recording what was acknowledged.
fn run_client(url: String, client_id: usize, round: usize, stop: Arc<AtomicBool>) -> Outcome {
    let client = Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let mut outcome = Outcome::default();
    let mut batch = 0u64;
    while !stop.load(Ordering::SeqCst) {
        let marker = format!("c{client_id}-r{round}-b{batch}");
        let first_ms = (round as u64 * 1_000 + batch) * 10_000 + client_id as u64 * 1_000;
        let (body, markers) = body(&marker, first_ms);
        batch += 1;
        match client
            .post(&url)
            .header("content-type", "application/x-ndjson")
            .body(body)
            .send()
        {
            Ok(response) => {
                let status = response.status().as_u16();
                if status == 429 {
                    // Refused whole, nothing stored: retry after a pause.
                    thread::sleep(Duration::from_millis(20));
                    continue;
                }
                let report: Value = match response.json() {
                    Ok(report) => report,
                    // The connection broke while the answer was read.
                    Err(_) => {
                        outcome.unknown.extend(markers);
                        continue;
                    }
                };
                assert_eq!(status, 200, "{marker}: {report}");
                assert_eq!(report["accepted"], EVENTS_PER_BODY, "{marker}: {report}");
                outcome.acknowledged.extend(markers);
            }
            // Refused: the server is gone and nothing was sent.
            Err(error) if error.is_connect() => {
                thread::sleep(Duration::from_millis(10));
            }
            Err(_) => outcome.unknown.extend(markers),
        }
    }
    outcome
}

/// Every marker in the events tables of the visible segments, with how
/// often it occurs.
fn markers_in_segments(data_dir: &Path) -> HashMap<String, u32> {
    let catalog = FileCatalog::open(data_dir).unwrap();
    let state = catalog.datasource("access").unwrap();
    let mut counts = HashMap::new();
    for descriptor in &state.segments {
        let segment = Segment::open(&catalog.segment_dir(&descriptor.id)).unwrap();
        let table = segment.table(TableKind::Events).unwrap();
        let Some(Column::String(user_id)) = table.column("user_id") else {
            panic!("{}: no string column user_id", segment.dir().display());
        };
        let dictionary = user_id.dictionary().unwrap();
        let rows = user_id.rows_as_ids().unwrap();
        assert_eq!(rows.len() as u64, descriptor.rows);
        for ids in rows {
            let [id] = ids[..] else {
                panic!("a row without exactly one user_id: {ids:?}");
            };
            *counts
                .entry(dictionary.value(id).unwrap().to_string())
                .or_insert(0) += 1;
        }
    }
    counts
}

#[test]
fn killed_servers_lose_no_acknowledged_event_and_count_none_twice() {
    let seed = seed();
    println!("crash test seed: {seed} (set STRATA_CRASH_SEED={seed} to replay)");
    let mut clock = KillClock(seed);
    let started = Instant::now();

    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let server = StrataServer::start_in(&data_dir);
    server.create_datasource(&events_only_spec());
    assert!(server.terminate().success());

    let mut acknowledged = HashSet::new();
    let mut unknown = HashSet::new();
    for round in 0..ROUNDS {
        let server = StrataServer::start_with(&data_dir, &SERVER_FLAGS);
        let url = server.url("/v1/datasources/access/ingest");
        let stop = Arc::new(AtomicBool::new(false));
        let clients: Vec<_> = (0..CLIENTS)
            .map(|id| {
                let (url, stop) = (url.clone(), Arc::clone(&stop));
                thread::spawn(move || run_client(url, id, round, stop))
            })
            .collect();
        thread::sleep(clock.next_delay());
        server.kill();
        stop.store(true, Ordering::SeqCst);
        for client in clients {
            let outcome = client.join().unwrap();
            acknowledged.extend(outcome.acknowledged);
            unknown.extend(outcome.unknown);
        }
    }
    println!(
        "{ROUNDS} rounds: {} events acknowledged, {} unknown",
        acknowledged.len(),
        unknown.len()
    );
    assert!(!acknowledged.is_empty(), "no request was ever acknowledged");

    // The last restart replays the WAL; everything is then persisted.
    let server = StrataServer::start_with(&data_dir, &SERVER_FLAGS);
    // The view is read in two steps (segments, then the real-time index), so
    // a persist in between shows neither its events nor its segments: only
    // two equal views in a row are settled.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut previous = Value::Null;
    let described = loop {
        let described = server.get_json("/v1/datasources/access");
        if described["realtime"]["events"] == 0 && described == previous {
            break described;
        }
        previous = described.clone();
        assert!(
            Instant::now() < deadline,
            "not persisted in 30 s: {described}"
        );
        thread::sleep(Duration::from_millis(100));
    };
    let segment_rows: u64 = described["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|segment| segment["rows"].as_u64().unwrap())
        .sum();
    let (acked, maybe) = (acknowledged.len() as u64, unknown.len() as u64);
    assert!(
        (acked..=acked + maybe).contains(&segment_rows),
        "{segment_rows} events in segments, {acked} acknowledged, {maybe} unknown"
    );
    assert!(server.terminate().success());

    let counts = markers_in_segments(&data_dir);
    let twice: Vec<_> = counts.iter().filter(|&(_, &n)| n > 1).take(10).collect();
    assert!(twice.is_empty(), "events counted more than once: {twice:?}");
    let lost: Vec<_> = acknowledged
        .iter()
        .filter(|marker| !counts.contains_key(*marker))
        .take(10)
        .collect();
    assert!(lost.is_empty(), "acknowledged events lost: {lost:?}");
    let strangers: Vec<_> = counts
        .keys()
        .filter(|marker| !acknowledged.contains(*marker) && !unknown.contains(*marker))
        .take(10)
        .collect();
    assert!(strangers.is_empty(), "events nobody sent: {strangers:?}");
    assert_eq!(counts.len() as u64, segment_rows);
    println!(
        "{segment_rows} events in segments ({} of the unknown ones); {:.1} s",
        segment_rows - acked,
        started.elapsed().as_secs_f64()
    );
}
