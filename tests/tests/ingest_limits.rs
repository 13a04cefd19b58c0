//! Ingest at its limits, end to end: backpressure when a real-time index is
//! over its memory budget, and hostile bodies — a gzip bomb, deep nesting,
//! an endless line, bytes that are not UTF-8 — refused precisely while the
//! good events around them land and the server keeps answering.

use std::io::Write;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use strata_tests::StrataServer;

/// The server's default `--max-body-bytes` is 64 MiB; a smaller one keeps
/// the test quick while still above the long line below.
const MAX_BODY_BYTES: u64 = 8_000_000;

/// The parser's default line limit (1 MiB).
const MAX_LINE_BYTES: usize = 1 << 20;

fn good_line(second: u32) -> String {
    json!({
        "timestamp": format!("2024-01-01T10:00:{:02}.000Z", second % 60),
        "service": "api", "region": "eu", "method": "GET", "status": 200, "country": "FR",
        "host": "h1", "path": "/a", "user_id": format!("u{second}"),
        "message": "GET /a", "bytes": 100 + second, "duration_ms": 1.5, "retries": 0,
    })
    .to_string()
}

fn good_body(count: u32, first: u32) -> Vec<u8> {
    (first..first + count)
        .flat_map(|second| format!("{}\n", good_line(second)).into_bytes())
        .collect()
}

/// 2 GiB of zeros as 2048 gzip members of 1 MiB each (a gzip stream may hold
/// several members, and decoders inflate them all): about 2 MiB to send,
/// built with 64 KiB of zeros in memory.
fn gzip_bomb() -> Vec<u8> {
    let zeros = vec![0u8; 64 << 10];
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    for _ in 0..16 {
        encoder.write_all(&zeros).unwrap();
    }
    let member = encoder.finish().unwrap();
    member.repeat(2048)
}

#[test]
fn an_index_over_its_memory_budget_pushes_back_until_persisted() {
    let dir = tempfile::tempdir().unwrap();
    let server = StrataServer::start_with(
        &dir.path().join("data"),
        &["--max-realtime-bytes", "1000", "--persist-period", "1h"],
    );
    server.create_datasource(strata_storage::spec::ACCESS_SPEC_JSON);

    let mut accepted = 0;
    let mut refused = None;
    for round in 0..50 {
        let response = server.send_ingest("access", good_body(20, round * 20), None);
        match response.status().as_u16() {
            200 => {
                accepted += response.json::<Value>().unwrap()["accepted"]
                    .as_u64()
                    .unwrap()
            }
            429 => {
                refused = Some(response);
                break;
            }
            status => panic!("unexpected {status}: {}", response.text().unwrap()),
        }
    }
    let refused = refused.expect("no 429 in 50 ingests over a 1000-byte budget");
    assert_eq!(refused.headers()["retry-after"], "1");
    let error: Value = refused.json().unwrap();
    assert_eq!(error["error"], "over_budget");
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("1000 bytes") && message.contains("--max-realtime-bytes"),
        "{message}"
    );

    // The refusal nudged the persister: a retry soon gets through, and
    // nothing acknowledged is lost on the way.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let response = server.send_ingest("access", good_body(20, 2000), None);
        if response.status().as_u16() == 200 {
            accepted += response.json::<Value>().unwrap()["accepted"]
                .as_u64()
                .unwrap();
            break;
        }
        assert_eq!(response.status().as_u16(), 429);
        assert!(Instant::now() < deadline, "still refused after 30 s");
        std::thread::sleep(Duration::from_millis(100));
    }
    let described = server.get_json("/v1/datasources/access");
    assert!(
        !described["segments"].as_array().unwrap().is_empty(),
        "{described}"
    );
    let metrics = server.get_text("/metrics");
    assert!(
        metrics.contains(&format!(
            "strata_ingest_events_accepted_total{{datasource=\"access\"}} {accepted}"
        )),
        "{metrics}"
    );
    assert!(server.is_healthy());
}

#[test]
fn hostile_bodies_are_refused_and_the_good_events_land() {
    let dir = tempfile::tempdir().unwrap();
    let server = StrataServer::start_with(
        &dir.path().join("data"),
        &["--max-body-bytes", &MAX_BODY_BYTES.to_string()],
    );
    server.create_datasource(strata_storage::spec::ACCESS_SPEC_JSON);

    let bomb = gzip_bomb();
    assert!((bomb.len() as u64) < MAX_BODY_BYTES);
    let response = server.send_ingest("access", bomb, Some("gzip"));
    assert_eq!(response.status().as_u16(), 413);
    let error: Value = response.json().unwrap();
    assert_eq!(error["error"], "payload_too_large");
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains(&MAX_BODY_BYTES.to_string()) && message.contains("--max-body-bytes"),
        "{message}"
    );

    let deep = format!(
        "{{\"timestamp\": \"2024-01-01T10:00:00Z\", \"service\": \"api\", \"extra\": {}{}}}",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let long = format!(
        "{{\"timestamp\": \"2024-01-01T10:00:00Z\", \"message\": \"{}\"}}",
        "x".repeat(MAX_LINE_BYTES)
    );
    let mut body = Vec::new();
    for line in [
        good_line(1).into_bytes(),
        deep.into_bytes(),
        long.into_bytes(),
        b"{\"timestamp\": \"2024-01-01T10:00:00Z\", \"service\": \"\xc3\x28\"}".to_vec(),
        good_line(2).into_bytes(),
    ] {
        body.extend_from_slice(&line);
        body.push(b'\n');
    }
    let response = server.send_ingest("access", body, None);
    assert_eq!(response.status().as_u16(), 200);
    let report: Value = response.json().unwrap();
    assert_eq!(report["accepted"], 2, "{report}");
    assert_eq!(report["rejected"], 3, "{report}");
    let errors = report["errors"].as_array().unwrap();
    let lines: Vec<u64> = errors.iter().map(|e| e["line"].as_u64().unwrap()).collect();
    assert_eq!(lines, [2, 3, 4]);
    let message = |k: usize| errors[k]["message"].as_str().unwrap();
    assert!(message(0).contains("deep"), "{}", message(0));
    assert!(
        message(1).contains(&MAX_LINE_BYTES.to_string()),
        "{}",
        message(1)
    );
    assert!(message(2).contains("UTF-8"), "{}", message(2));

    let response = server.send_ingest("access", b"not json\n{\"no\": 1}\n\xff\n".to_vec(), None);
    assert_eq!(response.status().as_u16(), 200);
    let report: Value = response.json().unwrap();
    assert_eq!(report["accepted"], 0, "{report}");
    assert_eq!(report["rejected"], 3, "{report}");

    assert!(server.is_healthy());
    assert_eq!(
        server.get_json("/v1/datasources/access")["realtime"]["events"],
        2
    );
}
