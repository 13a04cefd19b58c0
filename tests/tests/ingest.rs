//! Ingest over HTTP: NDJSON lines into the WAL and the real-time index, line
//! errors reported exactly, acknowledged events surviving a crash, and the
//! persist into segments counting every event once.

use std::collections::HashSet;
use std::io::Write;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use strata_tests::StrataServer;

/// A deterministic stream of access events over two days, with few enough
/// distinct values that rows roll up.
struct Events {
    state: u64,
}

/// The rollup key of the access spec: the minute and the rollup dimensions.
type RollupKey = (String, String, String, String, u16, String);

impl Events {
    fn new(seed: u64) -> Self {
        Events { state: seed }
    }

    fn next_u64(&mut self) -> u64 {
        self.state = self
            .state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.state >> 33
    }

    fn pick<'a>(&mut self, values: &[&'a str]) -> &'a str {
        values[(self.next_u64() % values.len() as u64) as usize]
    }

    /// One NDJSON line and its rollup key.
    fn line(&mut self) -> (String, RollupKey) {
        let day = 1 + self.next_u64() % 2;
        let minute = format!("2024-01-0{day}T10:{:02}", self.next_u64() % 6);
        let second = self.next_u64() % 60;
        let service = self.pick(&["api", "web"]);
        let region = self.pick(&["eu", "us"]);
        let method = self.pick(&["GET", "POST"]);
        let status = [200u16, 404][(self.next_u64() % 2) as usize];
        let country = self.pick(&["FR", "US", "JP"]);
        let line = json!({
            "timestamp": format!("{minute}:{second:02}.000Z"),
            "service": service, "region": region, "method": method, "status": status,
            "country": country, "host": format!("h{}", self.next_u64() % 9),
            "path": "/a", "user_id": format!("u{}", self.next_u64() % 40),
            "message": "GET /a took a while", "bytes": self.next_u64() % 5000,
            "duration_ms": (self.next_u64() % 900) as f64 / 3.0, "retries": 0,
        })
        .to_string();
        let key = (
            minute,
            service.into(),
            region.into(),
            method.into(),
            status,
            country.into(),
        );
        (line, key)
    }

    /// `count` lines as one body, and the rollup keys they hold.
    fn body(&mut self, count: usize, keys: &mut HashSet<RollupKey>) -> Vec<u8> {
        let mut body = Vec::new();
        for _ in 0..count {
            let (line, key) = self.line();
            keys.insert(key);
            body.extend_from_slice(line.as_bytes());
            body.push(b'\n');
        }
        body
    }
}

fn describe(server: &StrataServer) -> Value {
    server.get_json("/v1/datasources/access")
}

/// Sends `request` as is and reads the answer until the server closes the
/// connection or a second passes.
fn raw_request(server: &StrataServer, request: &str) -> String {
    let address = server.url("").trim_start_matches("http://").to_string();
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = Vec::new();
    let mut buffer = [0; 4096];
    while let Ok(read @ 1..) = std::io::Read::read(&mut stream, &mut buffer) {
        answer.extend_from_slice(&buffer[..read]);
    }
    String::from_utf8_lossy(&answer).into_owned()
}

/// An ingest request for `access` with `body` sent in 64 KiB chunks.
fn chunked_request(body: &[u8]) -> String {
    let mut request = String::from(
        "POST /v1/datasources/access/ingest HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
    );
    for chunk in body.chunks(64 << 10) {
        request.push_str(&format!("{:x}\r\n", chunk.len()));
        request.push_str(std::str::from_utf8(chunk).unwrap());
        request.push_str("\r\n");
    }
    request.push_str("0\r\n\r\n");
    request
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

#[test]
fn ingest_reports_every_line_and_acknowledged_events_survive_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let server = StrataServer::start_with(&data_dir, &["--max-body-bytes", "200000"]);
    server.create_datasource(strata_storage::spec::ACCESS_SPEC_JSON);

    let mut events = Events::new(7);
    let mut keys = HashSet::new();
    let mut body = events.body(150, &mut keys);
    // Lines 151 to 155: four bad lines around a blank one (not counted).
    body.extend_from_slice(b"{\"timestamp\": \"2024-01-01T10:00:00Z\", \"service\": \n");
    body.extend_from_slice(b"{\"service\": \"api\", \"status\": 200}\n");
    body.extend_from_slice(b"   \n");
    body.extend_from_slice(b"{\"timestamp\": \"2024-01-01T10:00:00Z\", \"status\": \"ok\"}\n");
    body.extend_from_slice(b"{\"timestamp\": \"2024-01-01T10:00:00Z\", \"service\": \"\xff\"}\n");
    body.extend(events.body(150, &mut keys));
    let (status, report) = server.ingest("access", body, None);
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["accepted"], 300);
    assert_eq!(report["rejected"], 4);
    let errors = report["errors"].as_array().unwrap();
    let lines: Vec<u64> = errors.iter().map(|e| e["line"].as_u64().unwrap()).collect();
    assert_eq!(lines, [151, 152, 154, 155]);
    let messages: Vec<&str> = errors
        .iter()
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    assert!(messages[0].contains("not valid JSON"), "{}", messages[0]);
    assert!(messages[1].contains("no timestamp"), "{}", messages[1]);
    assert!(messages[2].contains("`status`"), "{}", messages[2]);
    assert!(messages[3].contains("UTF-8"), "{}", messages[3]);

    let (status, report) = server.ingest("access", gzip(&events.body(50, &mut keys)), Some("gzip"));
    assert_eq!(status, 200, "{report}");
    assert_eq!(report, json!({"accepted": 50, "rejected": 0, "errors": []}));

    let (status, error) = server.ingest("nope", b"{}\n".to_vec(), None);
    assert_eq!(status, 404);
    assert_eq!(error["error"], "unknown_datasource");

    // Over the limit once inflated: refused while decoding.
    let (status, error) = server.ingest("access", gzip(&vec![b' '; 300_000]), Some("gzip"));
    assert_eq!(status, 413);
    assert!(
        error["message"].as_str().unwrap().contains("200000"),
        "{error}"
    );
    // Over the limit as sent: refused by its Content-Length, before the body
    // is read (a raw request, since no body is ever sent).
    let response = raw_request(
        &server,
        "POST /v1/datasources/access/ingest HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n\r\n",
    );
    assert!(response.starts_with("HTTP/1.1 413"), "{response}");
    assert!(response.contains("200000"), "{response}");
    // A chunked body (no Content-Length) is read up to the limit.
    let response = raw_request(&server, &chunked_request(&events.body(10, &mut keys)));
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains(r#""accepted":10"#), "{response}");
    let response = raw_request(&server, &chunked_request(&vec![b' '; 250_000]));
    assert!(response.starts_with("HTTP/1.1 413"), "{response}");

    let (status, error) = server.ingest("access", b"not gzip".to_vec(), Some("gzip"));
    assert_eq!(status, 400, "{error}");

    let realtime = describe(&server)["realtime"].clone();
    assert_eq!(realtime["events"], 360);
    assert_eq!(realtime["rollup_rows"], keys.len());

    let metrics = server.get_text("/metrics");
    assert!(
        metrics.contains("strata_ingest_events_accepted_total{datasource=\"access\"} 360"),
        "{metrics}"
    );
    assert!(metrics.contains("strata_ingest_events_rejected_total{datasource=\"access\"} 4"));
    assert!(metrics.contains("strata_wal_fsyncs_total{datasource=\"access\"}"));

    // A crash: every acknowledged event is back after the restart.
    server.kill();
    let server = StrataServer::start_in(&data_dir);
    let described = describe(&server);
    assert_eq!(described["realtime"]["events"], 360);
    assert_eq!(described["realtime"]["rollup_rows"], keys.len());
    assert_eq!(described["segments"], json!([]));
}

/// Polls until the real-time index of `access` is empty.
fn wait_persisted(server: &StrataServer) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let described = describe(server);
        if described["realtime"]["events"] == 0
            && !described["segments"].as_array().unwrap().is_empty()
        {
            return described;
        }
        assert!(
            Instant::now() < deadline,
            "not persisted in 30 s: {described}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn persist_moves_the_real_time_rows_into_segments_once() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let server = StrataServer::start_in(&data_dir);
    server.create_datasource(strata_storage::spec::ACCESS_SPEC_JSON);
    let mut events = Events::new(11);
    let mut keys = HashSet::new();
    let (status, report) = server.ingest("access", events.body(400, &mut keys), None);
    assert_eq!((status, report["accepted"].clone()), (200, json!(400)));
    let before = describe(&server)["realtime"].clone();
    assert_eq!(before["events"], 400);
    assert_eq!(before["rollup_rows"], keys.len());
    assert!(server.terminate().success());

    // The replayed index is persisted within a second or so.
    let server = StrataServer::start_with(&data_dir, &["--persist-period", "1s"]);
    let described = wait_persisted(&server);
    let segments = described["segments"].as_array().unwrap();
    assert_eq!(segments.len(), 2, "one segment per day: {described}");
    let rows: u64 = segments.iter().map(|s| s["rows"].as_u64().unwrap()).sum();
    assert_eq!(rows, keys.len() as u64);
    assert_eq!(described["rows"], keys.len());
    assert_eq!(
        described["realtime"],
        json!({"events": 0, "rollup_rows": 0, "bytes": 0})
    );
    let metrics = server.get_text("/metrics");
    assert!(
        metrics.contains("strata_persists_total{datasource=\"access\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("strata_segments_published_total{datasource=\"access\"} 2"));

    // Events that arrive later go to a new partition on the next persist.
    let (status, _) = server.ingest("access", events.body(100, &mut HashSet::new()), None);
    assert_eq!(status, 200);
    let deadline = Instant::now() + Duration::from_secs(30);
    let described = loop {
        let described = describe(&server);
        if described["realtime"]["events"] == 0
            && described["segments"].as_array().unwrap().len() > 2
        {
            break described;
        }
        assert!(
            Instant::now() < deadline,
            "second persist not seen: {described}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let rows_after_second = described["rows"].as_u64().unwrap();
    assert!(rows_after_second > rows);

    // A crash and a restart count nothing twice.
    server.kill();
    let server = StrataServer::start_in(&data_dir);
    let described = describe(&server);
    assert_eq!(described["realtime"]["events"], 0);
    assert_eq!(described["rows"], rows_after_second);
}
