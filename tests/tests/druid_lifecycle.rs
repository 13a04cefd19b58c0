//! A Druid query's life through the real binary: its timeout (504), its
//! cancellation by `DELETE /druid/v2/{queryId}`, its memory budget, its
//! `X-Druid-Query-Id`, failures in Druid's error shape — and the server
//! answering the next query after each. And `strata query`, the command
//! line client, against the same server.
//!
//! The slow query is a timeseries zero-filling 200,000 empty minute
//! buckets: it does not depend on how much data was loaded, and takes a
//! good part of a second in a debug build to fill, render and send.

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use strata_tests::web_events::{web_body, web_events, web_spec};
use strata_tests::{StrataServer, strata_bin};

const DATASOURCE: &str = "web";

/// A server holding a few web events in `web`.
fn server_with_events(flags: &[&str]) -> (StrataServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let server = StrataServer::start_with(&dir.path().join("data"), flags);
    server.create_datasource(&web_spec(DATASOURCE, true));
    let sent = web_events(7, 300);
    server.ingest_all(DATASOURCE, web_body(&sent), sent.len());
    (server, dir)
}

/// 200,160 zero-filled minute buckets (139 days).
fn slow_query(context: Value) -> Value {
    json!({
        "queryType": "timeseries", "dataSource": DATASOURCE,
        "intervals": ["2020-01-01/2020-05-19"], "granularity": "minute",
        "aggregations": [
            {"type": "count", "name": "events"},
            {"type": "longSum", "name": "bytes", "fieldName": "bytes"},
            {"type": "doubleMax", "name": "slowest", "fieldName": "slowest"}
        ],
        "context": context
    })
}

fn count_query() -> Value {
    json!({
        "queryType": "timeseries", "dataSource": DATASOURCE,
        "intervals": ["2024-01-01/2024-01-04"], "granularity": "all",
        "aggregations": [{"type": "count", "name": "events"}]
    })
}

/// POSTs `query` to `/druid/v2`: status, `X-Druid-Query-Id`, JSON answer.
fn druid(server: &StrataServer, query: &Value) -> (u16, Option<String>, Value) {
    post_query(server.client(), server.url("/druid/v2"), query)
}

/// POSTs `query` to `url` with `client`: status, `X-Druid-Query-Id`, JSON
/// answer.
fn post_query(
    client: &reqwest::blocking::Client,
    url: String,
    query: &Value,
) -> (u16, Option<String>, Value) {
    let response = client
        .post(url)
        .header("content-type", "application/json")
        .body(query.to_string())
        .send()
        .expect("POST /druid/v2");
    let status = response.status().as_u16();
    let query_id = response
        .headers()
        .get("x-druid-query-id")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let answer = response.json().expect("the answer is JSON");
    (status, query_id, answer)
}

/// The server still answers: the events sent are all counted.
fn assert_still_answers(server: &StrataServer) {
    let (status, _, answer) = druid(server, &count_query());
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer[0]["result"]["events"], 300, "{answer}");
}

/// Druid's error shape, exactly these four fields, with `error` and
/// `errorClass` as given; returns `errorMessage`.
fn druid_error(answer: &Value, error: &str, error_class: &str) -> String {
    let mut fields: Vec<&String> = answer.as_object().expect("an object").keys().collect();
    fields.sort();
    assert_eq!(
        fields,
        ["error", "errorClass", "errorMessage", "host"],
        "{answer}"
    );
    assert_eq!(answer["error"], error, "{answer}");
    assert_eq!(answer["errorClass"], error_class, "{answer}");
    assert_eq!(answer["host"], Value::Null, "{answer}");
    answer["errorMessage"]
        .as_str()
        .expect("errorMessage is a string")
        .to_owned()
}

/// The value of the metric line that starts with `prefix`.
fn metric(server: &StrataServer, prefix: &str) -> Option<f64> {
    server
        .get_text("/metrics")
        .lines()
        .find_map(|line| line.strip_prefix(prefix)?.trim().parse().ok())
}

#[test]
fn a_query_past_its_timeout_gets_504_in_druids_shape_at_its_deadline() {
    let (server, _dir) = server_with_events(&[]);

    let started = Instant::now();
    let (status, query_id, answer) = druid(&server, &slow_query(json!({"timeout": 1})));
    assert_eq!(status, 504, "{answer}");
    let message = druid_error(
        &answer,
        "Query timeout",
        "org.apache.druid.query.QueryTimeoutException",
    );
    assert!(message.contains("timeout of 1 ms"), "{message}");
    assert!(query_id.is_some(), "the answer names its query");

    // A longer timeout: the answer comes at the deadline, not when the
    // query would have ended.
    let started_long = Instant::now();
    let (status, _, answer) = druid(&server, &slow_query(json!({"timeout": 100})));
    let waited = started_long.elapsed();
    assert_eq!(status, 504, "{answer}");
    assert!(
        waited >= Duration::from_millis(100) && waited < Duration::from_secs(2),
        "answered after {waited:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(20));

    assert_still_answers(&server);
    assert_eq!(
        metric(&server, "strata_queries_total{outcome=\"timeout\"}"),
        Some(2.0)
    );
}

#[test]
fn the_server_default_timeout_applies() {
    let (server, _dir) = server_with_events(&["--query-timeout", "200ms"]);
    let (status, _, answer) = druid(&server, &slow_query(json!({})));
    assert_eq!(status, 504, "{answer}");
    let message = druid_error(
        &answer,
        "Query timeout",
        "org.apache.druid.query.QueryTimeoutException",
    );
    assert!(message.contains("timeout of 200 ms"), "{message}");
    assert!(message.contains("--query-timeout"), "{message}");
    assert_still_answers(&server);
}

#[test]
fn delete_cancels_a_running_query_by_its_id() {
    let (server, _dir) = server_with_events(&[]);
    let url = server.url("/druid/v2");
    let query = slow_query(json!({"queryId": "slow-one", "timeout": 120_000}));
    let running = std::thread::spawn(move || {
        let client = reqwest::blocking::Client::builder()
            .timeout(None)
            .build()
            .unwrap();
        post_query(&client, url, &query)
    });
    // Cancel once the query is registered as running.
    let deadline = Instant::now() + Duration::from_secs(30);
    while metric(&server, "strata_queries_running") != Some(1.0) {
        assert!(Instant::now() < deadline, "the slow query never ran");
        assert!(
            !running.is_finished(),
            "the slow query ended before the cancel"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let cancelled_at = Instant::now();
    let delete = server
        .client()
        .delete(server.url("/druid/v2/slow-one"))
        .send()
        .expect("DELETE /druid/v2/slow-one");
    assert_eq!(delete.status().as_u16(), 202);

    let (status, query_id, answer) = running.join().expect("the query thread");
    assert!(
        cancelled_at.elapsed() < Duration::from_secs(2),
        "answered {:?} after the cancel",
        cancelled_at.elapsed()
    );
    assert_eq!(status, 500, "{answer}");
    druid_error(
        &answer,
        "Query cancelled",
        "org.apache.druid.query.QueryInterruptedException",
    );
    assert_eq!(query_id.as_deref(), Some("slow-one"));

    // Cancelling an id no query runs under is accepted too, as in Druid.
    let delete = server
        .client()
        .delete(server.url("/druid/v2/no-such-query"))
        .send()
        .expect("DELETE /druid/v2/no-such-query");
    assert_eq!(delete.status().as_u16(), 202);

    assert_still_answers(&server);
    assert_eq!(
        metric(&server, "strata_queries_total{outcome=\"cancelled\"}"),
        Some(1.0)
    );
    assert_eq!(metric(&server, "strata_queries_running"), Some(0.0));
}

#[test]
fn every_answer_names_its_query() {
    let (server, _dir) = server_with_events(&[]);
    let mut query = count_query();
    query["context"] = json!({"queryId": "dashboard-7"});
    let (status, query_id, _) = druid(&server, &query);
    assert_eq!((status, query_id.as_deref()), (200, Some("dashboard-7")));

    let (_, first, _) = druid(&server, &count_query());
    let (_, second, _) = druid(&server, &count_query());
    let (first, second) = (first.expect("an id"), second.expect("an id"));
    assert_ne!(first, second, "made-up ids differ");
    let lengths: Vec<usize> = first.split('-').map(str::len).collect();
    assert_eq!(lengths, [8, 4, 4, 4, 12], "a UUID: {first}");
}

#[test]
fn failures_take_druids_shape_and_status() {
    let (server, _dir) = server_with_events(&[]);

    let mut unknown = count_query();
    unknown["dataSource"] = json!("nowhere");
    let (status, _, answer) = druid(&server, &unknown);
    assert_eq!(status, 404, "{answer}");
    let message = druid_error(
        &answer,
        "Unknown exception",
        "org.apache.druid.error.DruidException",
    );
    assert!(message.contains("`nowhere`"), "{message}");

    let mut no_intervals = count_query();
    no_intervals.as_object_mut().unwrap().remove("intervals");
    let (status, _, answer) = druid(&server, &no_intervals);
    assert_eq!(status, 400, "{answer}");
    let message = druid_error(
        &answer,
        "Unknown exception",
        "org.apache.druid.error.DruidException",
    );
    assert_eq!(message, "intervals: is missing");

    let mut bad_timeout = count_query();
    bad_timeout["context"] = json!({"timeout": "soon"});
    let (status, _, answer) = druid(&server, &bad_timeout);
    assert_eq!(status, 400, "{answer}");
    let message = druid_error(
        &answer,
        "Unknown exception",
        "org.apache.druid.error.DruidException",
    );
    assert!(message.starts_with("context.timeout: "), "{message}");

    let (status, answer) = server.post_json("/druid/v2", "{not json");
    assert_eq!(status, 400, "{answer}");
    druid_error(
        &answer,
        "Json parse failed",
        "com.fasterxml.jackson.core.JsonParseException",
    );

    // The other routes keep Strata's own shape.
    let answer = server.get_json("/v1/datasources/nowhere");
    assert_eq!(answer["error"], "unknown_datasource", "{answer}");
    assert!(answer.get("message").is_some(), "{answer}");

    assert_still_answers(&server);
}

#[test]
fn a_query_over_its_memory_budget_fails_clearly_and_the_server_goes_on() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let server =
        StrataServer::start_with(&dir.path().join("data"), &["--max-query-memory", "100000"]);
    server.create_datasource(&web_spec(DATASOURCE, true));
    // 2,000 users, each a group of its own.
    let body: String = (0..2000)
        .map(|i| {
            format!(
                "{}\n",
                json!({"timestamp": format!("2024-01-02T{:02}:{:02}:00Z", i / 60 % 24, i % 60),
                       "service": "api", "status": 200, "user": format!("user-{i:05}"),
                       "bytes": i, "duration_ms": 1.0})
            )
        })
        .collect();
    server.ingest_all(DATASOURCE, body.into_bytes(), 2000);

    let by_user = json!({
        "queryType": "groupBy", "dataSource": DATASOURCE,
        "intervals": ["2024-01-01/2024-01-04"], "granularity": "all",
        "dimensions": ["user"], "aggregations": [{"type": "count", "name": "events"}]
    });
    let (status, _, answer) = druid(&server, &by_user);
    assert_eq!(status, 400, "{answer}");
    let message = druid_error(
        &answer,
        "Resource limit exceeded",
        "org.apache.druid.query.ResourceLimitExceededException",
    );
    for needed in [
        "aggregation groups",
        "100000 bytes",
        "filter",
        "--max-query-memory",
    ] {
        assert!(message.contains(needed), "{needed}: {message}");
    }

    let scan_all = json!({
        "queryType": "scan", "dataSource": DATASOURCE,
        "intervals": ["2024-01-01/2024-01-04"]
    });
    let (status, _, answer) = druid(&server, &scan_all);
    assert_eq!(status, 400, "{answer}");
    let message = druid_error(
        &answer,
        "Resource limit exceeded",
        "org.apache.druid.query.ResourceLimitExceededException",
    );
    assert!(message.contains("rows"), "{message}");

    // A small answer is within the budget, and the server answers it.
    let mut scan_some = scan_all.clone();
    scan_some["limit"] = json!(10);
    let (status, _, answer) = druid(&server, &scan_some);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer[0]["events"].as_array().map(Vec::len), Some(10));

    // A context lowers the budget further, never raises it.
    let mut tiny = json!({
        "queryType": "timeseries", "dataSource": DATASOURCE,
        "intervals": ["2024-01-02/2024-01-03"], "granularity": "hour",
        "aggregations": [{"type": "count", "name": "events"}],
        "context": {"maxQueryMemoryBytes": 100}
    });
    let (status, _, answer) = druid(&server, &tiny);
    assert_eq!(status, 400, "{answer}");
    tiny["context"] = json!({"maxQueryMemoryBytes": 1_000_000_000});
    let (status, _, answer) = druid(&server, &tiny);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer.as_array().map(Vec::len), Some(24));
    assert_eq!(
        metric(
            &server,
            "strata_queries_total{outcome=\"over_memory_budget\"}"
        ),
        Some(3.0)
    );
}

/// Runs `strata query` with `args`, `stdin` piped in.
fn strata_query(server: &StrataServer, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(strata_bin())
        .arg("query")
        .args(args)
        .env("STRATA_URL", server.url(""))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("strata query starts");
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(stdin.as_bytes())
        .expect("the query is written");
    child.wait_with_output().expect("strata query ends")
}

#[test]
fn strata_query_prints_the_answer_and_fails_with_the_servers_message() {
    let (server, dir) = server_with_events(&[]);
    let (_, _, expected) = druid(&server, &count_query());

    let file = dir.path().join("count.json");
    std::fs::write(&file, count_query().to_string()).expect("the query file is written");
    let output = strata_query(&server, &[file.to_str().unwrap()], "");
    assert!(output.status.success(), "{output:?}");
    let printed = String::from_utf8(output.stdout).expect("UTF-8");
    assert_eq!(
        serde_json::from_str::<Value>(&printed).expect("JSON"),
        expected
    );
    assert!(printed.contains("\n  "), "pretty-printed: {printed}");

    // From stdin, with `-`, and the URL as a flag.
    let output = strata_query(
        &server,
        &["-", "--url", &server.url("")],
        &count_query().to_string(),
    );
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        serde_json::from_slice::<Value>(&output.stdout).expect("JSON"),
        expected
    );

    let mut bad = count_query();
    bad.as_object_mut().unwrap().remove("intervals");
    let output = strata_query(&server, &["-"], &bad.to_string());
    assert!(!output.status.success(), "{output:?}");
    assert!(output.stdout.is_empty(), "{output:?}");
    let stderr = String::from_utf8(output.stderr).expect("UTF-8");
    assert!(stderr.contains("intervals: is missing"), "{stderr}");
    assert!(stderr.contains("400"), "{stderr}");

    let help = Command::new(strata_bin())
        .args(["query", "--help"])
        .output()
        .expect("strata query --help");
    let help = String::from_utf8(help.stdout).expect("UTF-8");
    assert!(help.contains("strata query top-services.json"), "{help}");
    assert!(help.contains("STRATA_URL"), "{help}");
}
