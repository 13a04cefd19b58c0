//! The Elasticsearch API over HTTP, as Grafana's built-in Elasticsearch
//! datasource and the official Python client call it, against an oracle
//! computed from the events sent.
//!
//! The request bodies are written the way Grafana's datasource writes them
//! (its backend's `_msearch`: a header line with `index` and
//! `ignore_unavailable`, a `range` on the time field with `format:
//! epoch_millis`, the query box in `query_string`, `terms` → `date_histogram`
//! → metrics and pipelines; the logs query with `sort`, `highlight` and
//! `fields`; the terms query of a template variable). Half of the events are
//! persisted into segments and half are in the real-time index when the
//! searches run, so every answer merges both.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};
use strata_tests::StrataServer;
use strata_tests::web_events::{WebEvent, web_events};

const INDEX: &str = "web_es";

/// 2024-01-01T00:00:00Z.
const JAN_1: i64 = 1_704_067_200_000;
const HOUR: i64 = 3_600_000;

fn spec() -> String {
    json!({
        "dataSource": INDEX,
        "timestampSpec": {"column": "timestamp", "format": "iso"},
        "dimensionsSpec": {"dimensions": ["service", {"type": "long", "name": "status"},
            {"type": "string", "name": "user", "rollup": false},
            {"type": "text", "name": "message"}]},
        "metricsSpec": [
            {"type": "count", "name": "count"},
            {"type": "longSum", "name": "bytes_sum", "fieldName": "bytes"},
            {"type": "doubleSum", "name": "duration", "fieldName": "duration_ms"},
            {"type": "doubleMax", "name": "slowest", "fieldName": "duration_ms"}
        ],
        "granularitySpec": {"segmentGranularity": "day", "queryGranularity": "hour", "rollup": true}
    })
    .to_string()
}

/// One sent event and its message.
struct Sent {
    event: WebEvent,
    message: String,
}

impl Sent {
    fn time(&self) -> i64 {
        JAN_1
            + i64::from(self.event.day - 1) * 24 * HOUR
            + i64::from(self.event.hour) * HOUR
            + i64::from(self.event.minute) * 60_000
    }

    fn panics(&self) -> bool {
        self.message.contains("kernel panic")
    }
}

fn sent() -> Vec<Sent> {
    web_events(9, 800)
        .into_iter()
        .enumerate()
        .map(|(i, event)| {
            let message = if i % 37 == 5 {
                format!("node {i} hit a kernel panic while serving {}", event.user)
            } else {
                format!(
                    "served {} for {} in {} ms",
                    event.status, event.user, event.duration
                )
            };
            Sent { event, message }
        })
        .collect()
}

fn body(events: &[Sent]) -> Vec<u8> {
    let mut body = Vec::new();
    for sent in events {
        let event = &sent.event;
        let line = json!({
            "timestamp": event.timestamp(), "service": event.service, "status": event.status,
            "user": event.user, "bytes": event.bytes, "duration_ms": event.duration,
            "message": sent.message,
        });
        body.extend_from_slice(line.to_string().as_bytes());
        body.push(b'\n');
    }
    body
}

/// A server holding the events, half in segments, half in real time.
fn server_with(events: &[Sent], data_dir: &Path) -> StrataServer {
    let (persisted, realtime) = events.split_at(events.len() / 2);
    {
        let server = StrataServer::start_with(data_dir, &["--persist-period", "100ms"]);
        server.create_datasource(&spec());
        server.ingest_all(INDEX, body(persisted), persisted.len());
        server.wait_until_persisted(INDEX);
        server.terminate();
    }
    let server = StrataServer::start_in(data_dir);
    server.ingest_all(INDEX, body(realtime), realtime.len());
    server
}

/// Sends an `_msearch` of one search and returns its one response.
fn msearch(server: &StrataServer, search: &Value) -> Value {
    let header =
        json!({"ignore_unavailable": true, "index": INDEX, "search_type": "query_then_fetch"});
    let body = format!("{header}\n{search}\n");
    let response = server
        .client()
        .post(server.url("/_msearch?max_concurrent_shard_requests=5"))
        .header("content-type", "application/x-ndjson")
        .body(body)
        .send()
        .expect("the server answers");
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        response
            .headers()
            .get("x-elastic-product")
            .map(|v| v.to_str().unwrap_or_default()),
        Some("Elasticsearch")
    );
    let answer: Value = response.json().expect("JSON");
    let responses = answer["responses"].as_array().expect("responses");
    assert_eq!(responses.len(), 1, "{answer}");
    responses[0].clone()
}

/// Grafana's range filter over `[from, to]` and its query box.
fn grafana_query(from: i64, to: i64, query: &str) -> Value {
    json!({"bool": {"filter": [
        {"range": {"timestamp": {"format": "epoch_millis", "gte": from, "lte": to}}},
        {"query_string": {"analyze_wildcard": true, "query": query}}
    ]}})
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

#[test]
fn grafana_s_queries_answer_what_the_events_say() {
    let events = sent();
    let data_dir = tempfile::tempdir().expect("a temporary directory");
    let server = server_with(&events, data_dir.path());
    time_series_by_service(&server, &events);
    logs_query(&server, &events);
    template_variable_and_annotation(&server, &events);
    filters_ranges_and_histogram(&server, &events);
    mistakes_are_elasticsearch_errors(&server);
    official_python_client(&server, &events);
}

/// terms(service, 2 by count) → date_histogram(6h, zero-filled over the
/// range) → avg, sum, max, cardinality, percentiles, derivative,
/// cumulative sum, bucket script; the query box leaves out status 404.
fn time_series_by_service(server: &StrataServer, events: &[Sent]) {
    let (from, to) = (JAN_1 + 3 * HOUR, JAN_1 + 50 * HOUR - 1);
    let search = json!({
        "size": 0,
        "query": grafana_query(from, to, "-status:404"),
        "aggs": {"2": {
            "terms": {"field": "service", "size": 2, "order": {"_count": "desc"}, "min_doc_count": 1},
            "aggs": {"3": {
                "date_histogram": {"field": "timestamp", "fixed_interval": "6h", "min_doc_count": 0,
                                   "extended_bounds": {"min": from, "max": to}, "format": "epoch_millis"},
                "aggs": {
                    "1": {"avg": {"field": "duration_ms"}},
                    "4": {"sum": {"field": "bytes"}},
                    "5": {"max": {"field": "duration_ms"}},
                    "6": {"cardinality": {"field": "user"}},
                    "10": {"percentiles": {"field": "duration_ms", "percents": ["50", "95"]}},
                    "11": {"extended_stats": {"field": "duration_ms", "sigma": "2"}},
                    "12": {"top_metrics": {"metrics": [{"field": "bytes"}], "sort": {"timestamp": "desc"}, "size": "1"}},
                    "13": {"moving_fn": {"buckets_path": "4", "window": "2", "script": "MovingFunctions.sum(values)"}},
                    "7": {"derivative": {"buckets_path": "4"}},
                    "8": {"cumulative_sum": {"buckets_path": "_count"}},
                    "9": {"bucket_script": {"buckets_path": {"a": "4", "b": "_count"}, "script": "params.a / params.b"}}
                }
            }}
        }}
    });
    let answer = msearch(server, &search);
    assert_eq!(answer["status"], 200, "{answer}");
    let chosen: Vec<&Sent> = events
        .iter()
        .filter(|sent| (from..=to).contains(&sent.time()) && sent.event.status != 404)
        .collect();
    assert_eq!(
        answer["hits"]["total"],
        json!({"value": chosen.len(), "relation": "eq"})
    );
    let mut by_service: BTreeMap<&str, Vec<&Sent>> = BTreeMap::new();
    for sent in &chosen {
        by_service.entry(sent.event.service).or_default().push(sent);
    }
    let mut ranked: Vec<(&str, usize)> = by_service.iter().map(|(k, v)| (*k, v.len())).collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let services = answer["aggregations"]["2"]["buckets"]
        .as_array()
        .expect("buckets");
    assert_eq!(services.len(), 2, "{answer}");
    let others: usize = ranked[2..].iter().map(|(_, n)| n).sum();
    assert_eq!(answer["aggregations"]["2"]["sum_other_doc_count"], others);
    let starts: Vec<i64> = (0..)
        .map(|k| JAN_1 + k * 6 * HOUR)
        .take_while(|s| *s <= to)
        .collect();
    for (bucket, (service, count)) in services.iter().zip(&ranked) {
        assert_eq!(bucket["key"], *service);
        assert_eq!(bucket["doc_count"], *count);
        let times = bucket["3"]["buckets"].as_array().expect("histogram");
        assert_eq!(
            times.len(),
            starts.len(),
            "zero-filled over the range: {bucket}"
        );
        let mut running = 0;
        let mut previous_sum: Option<f64> = None;
        let mut sums: Vec<f64> = Vec::new();
        for (time, start) in times.iter().zip(&starts) {
            let inside: Vec<&&Sent> = by_service[service]
                .iter()
                .filter(|sent| (*start..start + 6 * HOUR).contains(&sent.time()))
                .collect();
            let context = format!("{service} at {start}: {time}");
            assert_eq!(time["key"], *start, "{context}");
            assert_eq!(time["key_as_string"], start.to_string(), "{context}");
            assert_eq!(time["doc_count"], inside.len(), "{context}");
            running += inside.len();
            assert_eq!(
                time["8"]["value"].as_f64(),
                Some(running as f64),
                "{context}"
            );
            let sum: i64 = inside.iter().map(|sent| sent.event.bytes).sum();
            assert_eq!(time["4"]["value"].as_f64(), Some(sum as f64), "{context}");
            match previous_sum {
                Some(previous) => assert_eq!(
                    time["7"]["value"].as_f64(),
                    Some(sum as f64 - previous),
                    "{context}"
                ),
                None => assert!(time.get("7").is_none(), "{context}"),
            }
            previous_sum = Some(sum as f64);
            let window: f64 = sums.iter().rev().take(2).sum();
            assert_eq!(time["13"]["value"].as_f64(), Some(window), "{context}");
            sums.push(sum as f64);
            if inside.is_empty() {
                assert_eq!(time["1"]["value"], Value::Null, "{context}");
                assert_eq!(time["5"]["value"], Value::Null, "{context}");
                assert_eq!(time["6"]["value"], 0, "{context}");
                assert!(time.get("9").is_none(), "{context}");
                continue;
            }
            let durations: Vec<f64> = inside.iter().map(|sent| sent.event.duration).collect();
            let mean = durations.iter().sum::<f64>() / durations.len() as f64;
            assert!(
                close(time["1"]["value"].as_f64().expect("avg"), mean),
                "{context}"
            );
            let max = durations.iter().copied().fold(f64::MIN, f64::max);
            let min = durations.iter().copied().fold(f64::MAX, f64::min);
            assert_eq!(time["5"]["value"].as_f64(), Some(max), "{context}");
            let latest = inside
                .iter()
                .map(|sent| sent.time())
                .max()
                .expect("an event");
            let latest_bytes: BTreeSet<i64> = inside
                .iter()
                .filter(|sent| sent.time() == latest)
                .map(|sent| sent.event.bytes)
                .collect();
            let top = &time["12"]["top"][0];
            assert_eq!(top["sort"][0], latest, "{context}");
            let picked = top["metrics"]["bytes"].as_f64().expect("a value") as i64;
            assert!(latest_bytes.contains(&picked), "{context}");
            let squares: f64 = durations.iter().map(|d| d * d).sum();
            let stats = &time["11"];
            assert_eq!(stats["count"], inside.len(), "{context}");
            assert!(
                close(stats["sum_of_squares"].as_f64().expect("squares"), squares),
                "{context}"
            );
            let variance = squares / durations.len() as f64 - mean * mean;
            let deviation = stats["std_deviation"].as_f64().expect("a deviation");
            assert!(
                (deviation - variance.max(0.0).sqrt()).abs() < 1e-6,
                "{context}"
            );
            let upper = stats["std_deviation_bounds"]["upper"]
                .as_f64()
                .expect("a bound");
            assert!((upper - (mean + 2.0 * deviation)).abs() < 1e-6, "{context}");
            let users: BTreeSet<&str> =
                inside.iter().map(|sent| sent.event.user.as_str()).collect();
            assert_eq!(time["6"]["value"], users.len(), "{context}");
            for key in ["50.0", "95.0"] {
                let value = time["10"]["values"][key].as_f64().expect("a percentile");
                assert!((min..=max).contains(&value), "{context}: {key}");
            }
            assert!(
                close(
                    time["9"]["value"].as_f64().expect("a ratio"),
                    sum as f64 / inside.len() as f64
                ),
                "{context}"
            );
        }
    }
}

/// The logs panel: newest first, highlighted, times in nanoseconds, and
/// the volume histogram beside.
fn logs_query(server: &StrataServer, events: &[Sent]) {
    let (from, to) = (JAN_1, JAN_1 + 72 * HOUR - 1);
    let search = json!({
        "size": 5,
        "query": grafana_query(from, to, "message:\"kernel panic\""),
        "sort": {"timestamp": {"order": "desc", "unmapped_type": "boolean"}, "_doc": {"order": "desc"}},
        "script_fields": {},
        "fields": [{"field": "timestamp", "format": "strict_date_optional_time_nanos"}],
        "highlight": {"pre_tags": ["@HIGHLIGHT@"], "post_tags": ["@/HIGHLIGHT@"], "fragment_size": 2147483647, "fields": {"*": {}}},
        "aggs": {"1": {"date_histogram": {"field": "timestamp", "fixed_interval": "1d", "min_doc_count": 0,
                                          "extended_bounds": {"min": from, "max": to}, "format": "epoch_millis"}}}
    });
    let answer = msearch(server, &search);
    let panics: Vec<&Sent> = events.iter().filter(|sent| sent.panics()).collect();
    assert_eq!(
        answer["hits"]["total"],
        json!({"value": panics.len(), "relation": "eq"}),
        "{answer}"
    );
    let mut newest: Vec<i64> = panics.iter().map(|sent| sent.time()).collect();
    newest.sort_unstable_by(|a, b| b.cmp(a));
    let hits = answer["hits"]["hits"].as_array().expect("hits");
    let times: Vec<i64> = hits
        .iter()
        .map(|hit| hit["sort"][0].as_i64().expect("a sort value"))
        .collect();
    assert_eq!(times, newest[..5], "{answer}");
    for hit in hits {
        let message = hit["_source"]["message"].as_str().expect("a message");
        assert!(message.contains("kernel panic"), "{hit}");
        let fragment = hit["highlight"]["message"][0]
            .as_str()
            .expect("a highlight");
        assert!(
            fragment.contains("@HIGHLIGHT@kernel@/HIGHLIGHT@ @HIGHLIGHT@panic@/HIGHLIGHT@"),
            "{hit}"
        );
        let time = hit["sort"][0].as_i64().expect("a time");
        let iso = hit["_source"]["timestamp"].as_str().expect("an ISO time");
        assert!(iso.ends_with(":00.000Z"), "{hit}");
        let nanos = hit["fields"]["timestamp"][0]
            .as_str()
            .expect("a nanosecond time");
        assert_eq!(nanos, iso.replace(".000Z", ".000000000Z"), "{hit}");
        assert!(
            panics
                .iter()
                .any(|sent| sent.time() == time && sent.event.timestamp() == iso),
            "{hit}"
        );
    }
    let days = answer["aggregations"]["1"]["buckets"]
        .as_array()
        .expect("volume");
    assert_eq!(days.len(), 3);
    for (day, bucket) in days.iter().enumerate() {
        let expected = panics
            .iter()
            .filter(|sent| sent.event.day as usize == day + 1)
            .count();
        assert_eq!(bucket["doc_count"], expected, "{bucket}");
    }
}

/// A template variable's terms query (keys in order), and an annotation
/// query (the legacy `from`/`to` range).
fn template_variable_and_annotation(server: &StrataServer, events: &[Sent]) {
    let (from, to) = (JAN_1 + 24 * HOUR, JAN_1 + 48 * HOUR - 1);
    let search = json!({
        "size": 0,
        "query": {"bool": {"filter": [{"range": {"timestamp": {"format": "epoch_millis", "gte": from.to_string(), "lte": to.to_string()}}}]}},
        "aggs": {"1": {"terms": {"field": "user", "size": 500, "order": {"_key": "asc"}, "min_doc_count": 1}}}
    });
    let answer = msearch(server, &search);
    let users: BTreeSet<&str> = events
        .iter()
        .filter(|sent| (from..=to).contains(&sent.time()))
        .map(|sent| sent.event.user.as_str())
        .collect();
    let keys: Vec<&str> = answer["aggregations"]["1"]["buckets"]
        .as_array()
        .expect("buckets")
        .iter()
        .map(|bucket| bucket["key"].as_str().expect("a key"))
        .collect();
    assert_eq!(keys, users.into_iter().collect::<Vec<_>>(), "{answer}");

    let annotation = json!({
        "query": {"bool": {"filter": [
            {"range": {"timestamp": {"from": from, "to": to, "format": "epoch_millis"}}},
            {"query_string": {"query": "status:500 AND service:db"}}
        ]}},
        "size": 10000
    });
    let answer = msearch(server, &annotation);
    let expected = events
        .iter()
        .filter(|sent| {
            (from..=to).contains(&sent.time())
                && sent.event.status == 500
                && sent.event.service == "db"
        })
        .count();
    assert_eq!(
        answer["hits"]["hits"].as_array().map(Vec::len),
        Some(expected),
        "{answer}"
    );
    assert_eq!(answer["hits"]["total"]["value"], expected);
}

/// `filters`, `range` and `histogram` buckets, each with a sum under it.
fn filters_ranges_and_histogram(server: &StrataServer, events: &[Sent]) {
    let search = json!({
        "size": 0,
        "aggs": {
            "by_status": {"filters": {"filters": {"errors": {"term": {"status": 500}}, "ok": {"query_string": {"query": "status:200"}}}},
                          "aggs": {"bytes": {"sum": {"field": "bytes"}}}},
            "by_bytes": {"range": {"field": "bytes", "ranges": [{"to": 1000}, {"from": 1000, "to": 5000}, {"from": 5000}]}},
            "by_duration": {"histogram": {"field": "duration_ms", "interval": 25, "min_doc_count": 1},
                            "aggs": {"users": {"value_count": {"field": "user"}}}}
        }
    });
    let answer = msearch(server, &search);
    let aggs = &answer["aggregations"];
    for (name, status) in [("errors", 500), ("ok", 200)] {
        let chosen: Vec<&Sent> = events
            .iter()
            .filter(|sent| sent.event.status == status)
            .collect();
        let bucket = &aggs["by_status"]["buckets"][name];
        assert_eq!(bucket["doc_count"], chosen.len(), "{answer}");
        let bytes: i64 = chosen.iter().map(|sent| sent.event.bytes).sum();
        assert_eq!(bucket["bytes"]["value"].as_f64(), Some(bytes as f64));
    }
    let ranges = aggs["by_bytes"]["buckets"].as_array().expect("ranges");
    for (bucket, (key, low, high)) in ranges.iter().zip([
        ("*-1000.0", 0, 1000),
        ("1000.0-5000.0", 1000, 5000),
        ("5000.0-*", 5000, i64::MAX),
    ]) {
        assert_eq!(bucket["key"], key, "{bucket}");
        let expected = events
            .iter()
            .filter(|sent| (low..high).contains(&sent.event.bytes))
            .count();
        assert_eq!(bucket["doc_count"], expected, "{bucket}");
    }
    let mut histogram: BTreeMap<i64, usize> = BTreeMap::new();
    for sent in events {
        *histogram
            .entry((sent.event.duration / 25.0).floor() as i64)
            .or_default() += 1;
    }
    let buckets = aggs["by_duration"]["buckets"]
        .as_array()
        .expect("histogram");
    let got: Vec<(f64, u64, u64)> = buckets
        .iter()
        .map(|b| {
            (
                b["key"].as_f64().expect("key"),
                b["doc_count"].as_u64().expect("count"),
                b["users"]["value"].as_u64().expect("users"),
            )
        })
        .collect();
    let expected: Vec<(f64, u64, u64)> = histogram
        .into_iter()
        .map(|(step, n)| (step as f64 * 25.0, n as u64, n as u64))
        .collect();
    assert_eq!(got, expected);
}

/// Errors in Elasticsearch's shape: per search inside `_msearch`, and for
/// a whole request.
fn mistakes_are_elasticsearch_errors(server: &StrataServer) {
    let header = json!({"index": "no_such_index"});
    let body = format!(
        "{header}\n{{\"size\": 0}}\n{{\"index\": \"{INDEX}\"}}\n{{\"query\": {{\"fuzzy\": {{}}}}}}\n{{\"index\": [\"{INDEX}\"]}}\n{{\"size\": 0}}\n"
    );
    let response = server
        .client()
        .post(server.url("/_msearch"))
        .body(body)
        .send()
        .expect("the server answers");
    assert_eq!(response.status().as_u16(), 200);
    let answer: Value = response.json().expect("JSON");
    let responses = answer["responses"].as_array().expect("responses");
    assert_eq!(responses[0]["status"], 404, "{answer}");
    assert_eq!(responses[0]["error"]["type"], "index_not_found_exception");
    assert!(
        responses[0]["error"]["root_cause"][0]["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("no_such_index")
    );
    assert_eq!(responses[1]["status"], 400);
    assert!(
        responses[1]["error"]["root_cause"][0]["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("unknown query [fuzzy]"),
        "{answer}"
    );
    assert_eq!(responses[2]["status"], 200, "{answer}");

    let (status, answer) = server.post_json(
        &format!("/{INDEX}/_search"),
        r#"{"aggs": {"a": {"terms": {"field": "message"}}}}"#,
    );
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["error"]["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("cannot be a bucket key"),
        "{answer}"
    );
    let (status, answer) = server.post_json("/nope/_search", "{}");
    assert_eq!(
        (status, answer["error"]["type"].as_str()),
        (404, Some("index_not_found_exception"))
    );
    let (status, _) = server.post_json(&format!("/{INDEX}/_search"), "{not json");
    assert_eq!(status, 400);
    assert!(server.is_healthy());
}

/// The official client: info, mapping, bulk, search, msearch, count.
fn official_python_client(server: &StrataServer, events: &[Sent]) {
    let python = std::env::var_os("STRATA_TEST_PYTHON").unwrap_or_else(|| {
        panic!("STRATA_TEST_PYTHON is not set: run the tests through ./scripts/test.sh, which makes the virtualenv with the elasticsearch client and sets it")
    });
    let manifest_dir =
        std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into());
    let script = Path::new(&manifest_dir).join("python/elasticsearch_client.py");
    let output = Command::new(&python)
        .arg(&script)
        .arg(server.url(""))
        .arg(INDEX)
        .output()
        .unwrap_or_else(|error| panic!("running {python:?} {}: {error}", script.display()));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the client failed:\n{}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    let answer: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|error| panic!("not JSON ({error}): {stdout}"));
    assert_eq!(answer["version"], "8.11.0");
    assert_eq!(
        answer["types"],
        json!({"timestamp": "date", "service": "keyword", "status": "long", "user": "keyword",
               "message": "text", "bytes": "long", "duration_ms": "double"})
    );
    assert_eq!(
        answer["bulk"],
        json!({"errors": true, "statuses": [201, 201, 400, 404], "ids": "given"})
    );
    let panics: Vec<&Sent> = events.iter().filter(|sent| sent.panics()).collect();
    assert_eq!(
        answer["search"]["times"].as_array().map(Vec::len),
        Some(3),
        "{answer}"
    );
    let mut newest: Vec<String> = panics.iter().map(|sent| sent.event.timestamp()).collect();
    newest.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(answer["search"]["times"], json!(newest[..3]), "{answer}");
    for highlight in answer["search"]["highlights"]
        .as_array()
        .expect("highlights")
    {
        assert!(
            highlight
                .as_str()
                .unwrap_or_default()
                .contains("<b>kernel</b> <b>panic</b>")
        );
    }
    let mut by_service: BTreeMap<&str, (usize, f64)> = BTreeMap::new();
    for sent in &panics {
        let entry = by_service.entry(sent.event.service).or_default();
        entry.0 += 1;
        entry.1 += sent.event.bytes as f64;
    }
    let expected: BTreeMap<String, Value> = by_service
        .into_iter()
        .map(|(service, (count, bytes))| (service.to_owned(), json!([count, bytes])))
        .collect();
    assert_eq!(
        answer["search"]["bytes_by_service"],
        json!(expected),
        "{answer}"
    );
    assert_eq!(answer["msearch"], json!([2, "index_not_found_exception"]));
    let errors = events
        .iter()
        .filter(|sent| sent.event.status == 500)
        .count()
        + 1;
    assert_eq!(answer["count"], errors);
}
