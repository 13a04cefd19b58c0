//! The `fulltext` filter over HTTP: a timeseries count and a scan with a
//! full-text condition give what scanning the sent messages gives, in the
//! real-time index and after persist, for rollup on and off; a query that
//! does not parse and a field that is not a text dimension are 400s that
//! say so.

use serde_json::{Value, json};
use strata_tests::StrataServer;
use strata_tests::text_oracle::tokens;

/// 2024-01-01T00:00:00Z.
const JAN_1: i64 = 1_704_067_200_000;

fn spec(name: &str, rollup: bool) -> String {
    json!({
        "dataSource": name,
        "timestampSpec": {"column": "timestamp", "format": "millis"},
        "dimensionsSpec": {"dimensions": [
            "service",
            {"type": "long", "name": "status"},
            {"type": "text", "name": "message"}
        ]},
        "metricsSpec": [{"type": "count", "name": "count"}],
        "granularitySpec": {"segmentGranularity": "hour", "queryGranularity": "minute", "rollup": rollup}
    })
    .to_string()
}

/// One sent event.
struct Sent {
    time: i64,
    service: &'static str,
    status: i64,
    message: String,
}

/// 300 events over three hours; a few say `needle7f3a`, some `connection
/// reset` (as a phrase or not), the others ordinary words.
fn events() -> Vec<Sent> {
    let services = ["api", "web", "db"];
    (0..300_i64)
        .map(|i| {
            let message = match i % 50 {
                7 => format!("request {i} found needle7f3a in host-17"),
                11 | 23 | 31 => format!("read failed: Connection reset by peer (attempt {i})"),
                13 => format!("reset the connection pool {i}"),
                _ => format!("GET /api/items/{i} ok"),
            };
            Sent {
                time: JAN_1 + i * 36_000,
                service: services[(i % 3) as usize],
                status: if i % 4 == 0 { 500 } else { 200 },
                message,
            }
        })
        .collect()
}

fn body(events: &[Sent]) -> Vec<u8> {
    let mut body = String::new();
    for event in events {
        body.push_str(
            &json!({"timestamp": event.time, "service": event.service,
                    "status": event.status, "message": event.message})
            .to_string(),
        );
        body.push('\n');
    }
    body.into_bytes()
}

fn says(event: &Sent, phrase: &[&str]) -> bool {
    let words = tokens(&event.message);
    words
        .windows(phrase.len())
        .any(|window| window.iter().zip(phrase).all(|(word, token)| word == token))
}

fn query(server: &StrataServer, query: Value) -> Value {
    let (status, answer) = server.post_json("/druid/v2", &query.to_string());
    assert_eq!(status, 200, "{query}: {answer}");
    answer
}

fn count(server: &StrataServer, name: &str, filter: Value) -> i64 {
    let answer = query(
        server,
        json!({"queryType": "timeseries", "dataSource": name, "granularity": "all",
               "intervals": ["2024-01-01/2024-01-02"], "filter": filter,
               "aggregations": [{"type": "count", "name": "n"}]}),
    );
    answer[0]["result"]["n"].as_i64().unwrap_or(0)
}

fn check(server: &StrataServer, name: &str, sent: &[Sent]) {
    let fulltext = |query: &str| json!({"type": "fulltext", "query": query});
    let cases: Vec<(Value, usize)> = vec![
        (
            fulltext("needle7f3a"),
            sent.iter().filter(|e| says(e, &["needle7f3a"])).count(),
        ),
        (
            fulltext("\"connection reset\""),
            sent.iter()
                .filter(|e| says(e, &["connection", "reset"]))
                .count(),
        ),
        (
            fulltext("connection AND reset"),
            sent.iter()
                .filter(|e| says(e, &["connection"]) && says(e, &["reset"]))
                .count(),
        ),
        (
            json!({"type": "fulltext", "query": "needle* OR pool", "fields": ["message"]}),
            sent.iter()
                .filter(|e| says(e, &["needle7f3a"]) || says(e, &["pool"]))
                .count(),
        ),
        (
            json!({"type": "and", "fields": [
                fulltext("reset"),
                {"type": "selector", "dimension": "service", "value": "api"},
                {"type": "not", "field": fulltext("pool")}
            ]}),
            sent.iter()
                .filter(|e| says(e, &["reset"]) && e.service == "api" && !says(e, &["pool"]))
                .count(),
        ),
    ];
    for (filter, expected) in &cases {
        assert!(*expected > 0, "{filter} tests little");
        assert_eq!(
            count(server, name, filter.clone()),
            *expected as i64,
            "{name}: {filter}"
        );
    }

    // The newest two needles, newest first.
    let mut needles: Vec<&Sent> = sent.iter().filter(|e| says(e, &["needle7f3a"])).collect();
    needles.sort_by_key(|e| std::cmp::Reverse(e.time));
    let answer = query(
        server,
        json!({"queryType": "scan", "dataSource": name, "intervals": ["2024-01-01/2024-01-02"],
               "filter": fulltext("needle7f3a"), "columns": ["__time", "message"],
               "order": "descending", "limit": 2}),
    );
    let rows = answer[0]["events"].as_array().unwrap();
    let expected: Vec<Value> = needles
        .iter()
        .take(2)
        .map(|e| json!({"__time": e.time, "message": e.message}))
        .collect();
    assert_eq!(rows, &expected, "{name}: {answer}");

    // Mistakes are the query's, and say what is wrong.
    let (status, error) = server.post_json(
        "/druid/v2",
        &json!({"queryType": "timeseries", "dataSource": name, "granularity": "all",
                "intervals": ["2024-01-01/2024-01-02"], "filter": fulltext("(connection AND"),
                "aggregations": [{"type": "count", "name": "n"}]})
        .to_string(),
    );
    assert_eq!(status, 400, "{error}");
    assert!(
        error["errorMessage"]
            .as_str()
            .unwrap()
            .contains("(connection AND"),
        "{error}"
    );
    let (status, error) = server.post_json(
        "/druid/v2",
        &json!({"queryType": "timeseries", "dataSource": name, "granularity": "all",
                "intervals": ["2024-01-01/2024-01-02"],
                "filter": {"type": "fulltext", "query": "reset", "fields": ["body"]},
                "aggregations": [{"type": "count", "name": "n"}]})
        .to_string(),
    );
    assert_eq!(status, 400, "{error}");
    let message = error["errorMessage"].as_str().unwrap();
    assert!(
        message.contains("body") && message.contains("message"),
        "{error}"
    );
}

#[test]
fn fulltext_filters_count_and_scan_the_matching_events_before_and_after_persist() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let sent = events();
    {
        let server = StrataServer::start_in(&data_dir);
        for (name, rollup) in [("rolled", true), ("raw", false)] {
            server.create_datasource(&spec(name, rollup));
            server.ingest_all(name, body(&sent), sent.len());
            check(&server, name, &sent);
        }
        assert!(server.terminate().success());
    }
    let server = StrataServer::start_with(&data_dir, &["--persist-period", "100ms"]);
    for name in ["rolled", "raw"] {
        server.wait_until_persisted(name);
        check(&server, name, &sent);
    }
}
