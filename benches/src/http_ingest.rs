//! HTTP ingest as a benchmark client does it: the reference events as NDJSON
//! bodies, POSTed over two keep-alive connections, resent after a pause when
//! the server answers 429 (its real-time index over budget) as a real client
//! would.

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use reqwest::blocking::Client;
use serde_json::Value;
use strata_tools::dataset::{AccessLogGenerator, DEFAULT_SEED, EventWriter, NdjsonWriter};

/// Client connections, one thread each.
pub const CLIENTS: usize = 2;

/// How long a client refused with 429 waits before resending.
const BACKPRESSURE_PAUSE: Duration = Duration::from_millis(20);

/// The first `events` reference events (seed 42) as NDJSON bodies of
/// `lines_per_body` lines.
pub fn reference_bodies(events: u64, lines_per_body: u64) -> Vec<Vec<u8>> {
    let mut generator = AccessLogGenerator::new(DEFAULT_SEED, events);
    let mut bodies = Vec::new();
    loop {
        let mut writer = NdjsonWriter::new(Vec::new());
        let mut lines = 0;
        for event in generator.by_ref().take(lines_per_body as usize) {
            writer.write_event(&event).expect("NDJSON into memory");
            lines += 1;
        }
        if lines == 0 {
            return bodies;
        }
        bodies.push(writer.finish().expect("NDJSON into memory"));
    }
}

/// POSTs every body to `url`, client `c` taking bodies `c, c + CLIENTS, …`,
/// and returns the wall time and the events the answers accepted (when
/// `count_accepted`; a peer that answers `{}` counts none).
pub fn post_all(url: &str, bodies: &Arc<Vec<Vec<u8>>>, count_accepted: bool) -> (Duration, u64) {
    let started = Instant::now();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let (url, bodies) = (url.to_string(), Arc::clone(bodies));
            thread::spawn(move || {
                let client = Client::builder()
                    .timeout(Duration::from_secs(300))
                    .build()
                    .expect("HTTP client");
                let mut accepted = 0;
                for body in bodies.iter().skip(c).step_by(CLIENTS) {
                    let response = loop {
                        let response = client
                            .post(&url)
                            .header("content-type", "application/x-ndjson")
                            .body(body.clone())
                            .send()
                            .expect("the POST is answered");
                        if response.status().as_u16() != 429 {
                            break response;
                        }
                        thread::sleep(BACKPRESSURE_PAUSE);
                    };
                    assert!(response.status().is_success(), "{}", response.status());
                    if count_accepted {
                        let report: Value = response.json().expect("an ingest report");
                        accepted += report["accepted"].as_u64().expect("`accepted` is a number");
                    } else {
                        response.bytes().expect("the answer is read");
                    }
                }
                accepted
            })
        })
        .collect();
    let accepted = clients
        .into_iter()
        .map(|c| c.join().expect("client thread"))
        .sum();
    (started.elapsed(), accepted)
}
