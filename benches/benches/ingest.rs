//! HTTP ingest throughput, end to end, beside a peer doing the same transfer
//! in the same run.
//!
//! 1M events of the reference dataset, as NDJSON bodies of 10k lines, are
//! POSTed over two client connections (two threads, one keep-alive
//! connection each) to:
//!
//! - **Strata**: the real `strata serve`, release build, into the reference
//!   `access` datasource (rollup on); every accepted event goes through the
//!   parser, the WAL (fsynced before the answer) and the real-time index;
//! - **the peer**: a tiny HTTP/1.1 server in this bench that reads each body
//!   and discards it — the cost of the transfer alone.
//!
//! The ratio of the two rates is the share of the time that is Strata's own
//! work. The bench also prints what the real-time index holds after the 1M
//! events (`realtime.bytes` as the API reports it) and the server's resident
//! memory before and after the ingest (`VmRSS` of `/proc/<pid>/status`).
//!
//! The server is `$CARGO_TARGET_DIR/release/strata`, which `cargo bench`
//! does not build; build it first (or point `STRATA_BIN` at another build):
//!
//! ```sh
//! cargo build --release -p strata-tools && cargo bench -p strata-benches --bench ingest
//! ```
//!
//! The persist period and row threshold are raised out of the way. Two
//! configurations, a warm-up pass then three timed passes each (the median
//! is the figure): the byte budget raised too (8 GiB:
//! the rate of ingest into the WAL and the real-time index alone), and the
//! default 1 GiB budget, which triggers a persist during the run; persists
//! go on beside ingest, and a client refused with 429 while the index is
//! over budget waits 20 ms and resends, as a real client would. The bench
//! prints how many persists ran. See docs/benchmarks.md.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use strata_benches::http_ingest::{post_all, reference_bodies};
use strata_storage::spec::ACCESS_SPEC_JSON;
use strata_tests::StrataServer;

const EVENTS: u64 = 1_000_000;
const LINES_PER_BODY: u64 = 10_000;
/// Timed passes of Strata per configuration.
const RUNS: usize = 3;

/// The peer: an HTTP/1.1 server that reads every request body and discards
/// it, answering `200 {}`. Returns its address.
fn start_discarding_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    let address = listener.local_addr().expect("a bound address");
    thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            thread::spawn(move || discard_requests(stream));
        }
    });
    format!("http://{address}")
}

fn discard_requests(stream: TcpStream) {
    let mut writer = stream.try_clone().expect("a second handle on the socket");
    let mut reader = BufReader::with_capacity(1 << 20, stream);
    let mut sink = vec![0; 1 << 20];
    loop {
        let mut content_length = 0usize;
        let mut line = String::new();
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            if line == "\r\n" {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                content_length = value.trim().parse().unwrap_or(0);
            }
        }
        while content_length > 0 {
            let chunk = content_length.min(sink.len());
            if reader.read_exact(&mut sink[..chunk]).is_err() {
                return;
            }
            content_length -= chunk;
        }
        let answer =
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}";
        if writer.write_all(answer).is_err() {
            return;
        }
    }
}

/// Resident memory of process `pid` in bytes (`VmRSS` of
/// `/proc/<pid>/status`).
fn rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .expect("/proc/<pid>/status is readable");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|kb| kb.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .expect("VmRSS in kB")
        * 1024
}

fn rate(events: u64, elapsed: Duration) -> f64 {
    events as f64 / elapsed.as_secs_f64()
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / f64::from(1 << 20)
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` does not, and
    // then there is nothing to measure.
    if !std::env::args().any(|arg| arg == "--bench") {
        return;
    }
    let started = Instant::now();
    let bodies = Arc::new(reference_bodies(EVENTS, LINES_PER_BODY));
    let body_bytes: usize = bodies.iter().map(Vec::len).sum();
    println!(
        "{EVENTS} reference events in {} NDJSON bodies of {LINES_PER_BODY} lines ({:.1} MiB), generated in {:.1} s",
        bodies.len(),
        mib(body_bytes as u64),
        started.elapsed().as_secs_f64()
    );

    let peer_url = format!("{}/ingest", start_discarding_server());
    let (peer_time, _) = post_all(&peer_url, &bodies, false);
    let peer_rate = rate(EVENTS, peer_time);
    println!(
        "peer (discarding HTTP server): {:.3} s, {:.0} events/s, {:.0} MiB/s",
        peer_time.as_secs_f64(),
        peer_rate,
        mib(body_bytes as u64) / peer_time.as_secs_f64()
    );

    for (label, budget) in [
        ("real-time index, persist out of the way", "8589934592"),
        ("with persists (default 1 GiB budget)", "1073741824"),
    ] {
        // Pass 0 warms up (the first pass of a bench process is the slow
        // one) and is printed but left out of the median.
        let mut rates: Vec<f64> = (0..=RUNS)
            .map(|run| run_strata(&bodies, label, budget, run, peer_rate))
            .skip(1)
            .collect();
        rates.sort_by(f64::total_cmp);
        let median = rates[RUNS / 2];
        println!(
            "strata, {label}: median of {RUNS} runs {median:.0} events/s — {:.3} of the peer's rate",
            median / peer_rate
        );
    }
}

/// Ingests every body into a fresh `strata serve` whose real-time byte
/// budget is `budget`, prints the rate beside the peer's and returns it.
fn run_strata(
    bodies: &Arc<Vec<Vec<u8>>>,
    label: &str,
    budget: &str,
    run: usize,
    peer_rate: f64,
) -> f64 {
    let dir = tempfile::tempdir().expect("a scratch directory");
    let server = StrataServer::start_with(
        &dir.path().join("data"),
        &[
            "--persist-period",
            "1h",
            "--max-realtime-rows",
            "100000000",
            "--max-realtime-bytes",
            budget,
            "--max-body-bytes",
            "67108864",
        ],
    );
    server.create_datasource(ACCESS_SPEC_JSON);
    let rss_before = rss_bytes(server.pid());
    let (strata_time, accepted) =
        post_all(&server.url("/v1/datasources/access/ingest"), bodies, true);
    assert_eq!(accepted, EVENTS, "every event is accepted");
    let strata_rate = rate(EVENTS, strata_time);
    let rss_after = rss_bytes(server.pid());
    let described = server.get_json("/v1/datasources/access");
    let realtime = &described["realtime"];
    let metrics = server.get_text("/metrics");
    let counters: Vec<&str> = metrics
        .lines()
        .filter(|line| {
            ["strata_persists_total", "strata_wal_fsyncs_total"]
                .iter()
                .any(|name| line.starts_with(name))
        })
        .collect();
    println!(
        "strata, {label}, run {run}: {:.3} s, {:.0} events/s — {:.3} of the peer's rate; {}",
        strata_time.as_secs_f64(),
        strata_rate,
        strata_rate / peer_rate,
        counters.join(", ")
    );
    let per_event = realtime["bytes"].as_f64().unwrap_or_default()
        / realtime["events"].as_f64().unwrap_or(1.0).max(1.0);
    println!(
        "  real-time index holds {} events, {} rollup rows, {:.1} MiB ({per_event:.0} bytes per event, {:.0} MiB per 1M events); RSS {:.1} MiB before, {:.1} MiB after",
        realtime["events"],
        realtime["rollup_rows"],
        mib(realtime["bytes"].as_u64().unwrap_or_default()),
        per_event * 1e6 / f64::from(1 << 20),
        mib(rss_before),
        mib(rss_after),
    );
    strata_rate
}
