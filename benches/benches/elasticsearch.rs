//! The Elasticsearch API beside the Druid API and the native search, asking
//! the same questions of the same server in the same run.
//!
//! `STRATA_BENCH_EVENTS` reference events (default 2,000,000) are ingested
//! over HTTP into the `access` datasource of a release `strata serve` and
//! persisted into segments. Then each pair below is timed alternately, the
//! Elasticsearch request first in odd rounds and second in even ones,
//! `ROUNDS` times; the medians and their ratio are printed. Before any time
//! counts, the answers of each pair are checked to hold the same numbers.
//!
//! - **count per hour** — Grafana's time series of the event count over the
//!   week (`date_histogram`, `fixed_interval: 1h`, zero-filled over the
//!   range) beside a Druid `timeseries` at `hour`;
//! - **top services per hour** — `terms` of `service` (5 by count) →
//!   `date_histogram` (1h) → `avg` of `duration_ms`, beside the Druid
//!   queries that answer it: a `topN` for the five services, then a
//!   `groupBy` of them by hour with `duration_sum` over the count of events
//!   holding `duration_ms` (an average of values leaves out events without
//!   one, in both APIs; that count is read from the events table);
//! - **top paths by bytes** — Grafana's table, `terms` of `path` (10 by the
//!   `sum` of `bytes`, with each bucket's `doc_count`), beside a Druid
//!   `topN` of the same sum and count;
//! - **needle, logs query** — Grafana's logs query for `needle7f3a` (newest
//!   100, sorted by time, highlighted) beside the native search
//!   (`POST /v1/datasources/access/search`, limit 100, highlighted); and the
//!   same logs query with the volume `date_histogram` Grafana sends with it,
//!   which counts every match.
//!
//! Issue 9's figures: the Elasticsearch time-series and terms queries within
//! 1.2× the Druid API; the logs query as fast as the native search.
//!
//! ```sh
//! cargo build --release -p strata-tools && cargo bench -p strata-benches --bench elasticsearch
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::blocking::Client;
use serde_json::{Value, json};
use strata_benches::http_ingest::{post_all, reference_bodies};
use strata_storage::spec::ACCESS_SPEC_JSON;
use strata_tests::StrataServer;

const ROUNDS: usize = 15;
/// The reference week.
const FROM: i64 = 1_704_067_200_000;
const TO: i64 = FROM + 7 * 86_400_000 - 1;
const INTERVAL: &str = "2024-01-01/2024-01-08";

fn events() -> u64 {
    std::env::var("STRATA_BENCH_EVENTS")
        .ok()
        .and_then(|n| n.replace('_', "").parse().ok())
        .unwrap_or(2_000_000)
}

/// One way of asking: a request, and the numbers its answer holds.
struct Ask {
    requests: Vec<(String, Value)>,
    numbers: fn(&[Value]) -> Vec<f64>,
}

fn range_filter(query: &str) -> Value {
    json!({"bool": {"filter": [
        {"range": {"timestamp": {"gte": FROM, "lte": TO, "format": "epoch_millis"}}},
        {"query_string": {"analyze_wildcard": true, "query": query}}
    ]}})
}

fn hourly_histogram() -> Value {
    json!({"field": "timestamp", "fixed_interval": "1h", "min_doc_count": 0,
           "extended_bounds": {"min": FROM, "max": TO}, "format": "epoch_millis"})
}

fn msearch(search: Value) -> (String, Value) {
    ("/_msearch".to_owned(), search)
}

fn druid(query: Value) -> (String, Value) {
    ("/druid/v2".to_owned(), query)
}

fn pairs() -> Vec<(&'static str, Ask, Ask)> {
    vec![
        (
            "count per hour",
            Ask {
                requests: vec![msearch(json!({"size": 0, "query": range_filter("*"),
                    "aggs": {"2": {"date_histogram": hourly_histogram()}}}))],
                numbers: |answers| {
                    answers[0]["responses"][0]["aggregations"]["2"]["buckets"]
                        .as_array()
                        .map(|buckets| {
                            buckets
                                .iter()
                                .filter_map(|b| b["doc_count"].as_f64())
                                .collect()
                        })
                        .unwrap_or_default()
                },
            },
            Ask {
                requests: vec![druid(
                    json!({"queryType": "timeseries", "dataSource": "access",
                    "intervals": [INTERVAL], "granularity": "hour",
                    "aggregations": [{"type": "longSum", "name": "count", "fieldName": "count"}]}),
                )],
                numbers: |answers| {
                    answers[0]
                        .as_array()
                        .map(|rows| {
                            rows.iter()
                                .filter_map(|r| r["result"]["count"].as_f64())
                                .collect()
                        })
                        .unwrap_or_default()
                },
            },
        ),
        (
            "top services per hour",
            Ask {
                requests: vec![msearch(json!({"size": 0, "query": range_filter("*"),
                    "aggs": {"3": {"terms": {"field": "service", "size": 5, "order": {"_count": "desc"}, "min_doc_count": 1},
                        "aggs": {"2": {"date_histogram": hourly_histogram(),
                            "aggs": {"1": {"avg": {"field": "duration_ms"}}}}}}}}))],
                numbers: |answers| {
                    let mut numbers = Vec::new();
                    for service in answers[0]["responses"][0]["aggregations"]["3"]["buckets"]
                        .as_array()
                        .into_iter()
                        .flatten()
                    {
                        for bucket in service["2"]["buckets"].as_array().into_iter().flatten() {
                            if bucket["doc_count"].as_u64() > Some(0) {
                                numbers.push(bucket["doc_count"].as_f64().unwrap_or(0.0));
                                numbers.push(bucket["1"]["value"].as_f64().unwrap_or(0.0));
                            }
                        }
                    }
                    numbers
                },
            },
            Ask {
                requests: vec![
                    druid(
                        json!({"queryType": "topN", "dataSource": "access", "intervals": [INTERVAL],
                        "granularity": "all", "dimension": "service", "metric": "count", "threshold": 5,
                        "aggregations": [{"type": "longSum", "name": "count", "fieldName": "count"}]}),
                    ),
                    druid(
                        json!({"queryType": "groupBy", "dataSource": "access", "intervals": [INTERVAL],
                        "granularity": "hour", "dimensions": ["service"],
                        "filter": {"type": "in", "dimension": "service", "values": "$TOP"},
                        "aggregations": [{"type": "longSum", "name": "count", "fieldName": "count"},
                                         {"type": "doubleSum", "name": "duration", "fieldName": "duration_sum"},
                                         {"type": "filtered", "name": "values",
                                          "filter": {"type": "not", "field": {"type": "null", "column": "duration_ms"}},
                                          "aggregator": {"type": "count", "name": "values"}}],
                        "postAggregations": [{"type": "arithmetic", "name": "avg", "fn": "/",
                            "fields": [{"type": "fieldAccess", "fieldName": "duration"}, {"type": "fieldAccess", "fieldName": "values"}]}]}),
                    ),
                ],
                numbers: |answers| {
                    let top: Vec<&str> = answers[0][0]["result"]
                        .as_array()
                        .map(|rows| rows.iter().filter_map(|r| r["service"].as_str()).collect())
                        .unwrap_or_default();
                    let mut numbers = Vec::new();
                    for service in top {
                        for row in answers[1].as_array().into_iter().flatten() {
                            if row["event"]["service"] == service {
                                numbers.push(row["event"]["count"].as_f64().unwrap_or(0.0));
                                numbers.push(row["event"]["avg"].as_f64().unwrap_or(0.0));
                            }
                        }
                    }
                    numbers
                },
            },
        ),
        (
            "top paths by bytes",
            Ask {
                requests: vec![msearch(json!({"size": 0, "query": range_filter("*"),
                    "aggs": {"3": {"terms": {"field": "path", "size": 10, "order": {"1": "desc"}, "min_doc_count": 1},
                        "aggs": {"1": {"sum": {"field": "bytes"}}}}}}))],
                numbers: |answers| {
                    answers[0]["responses"][0]["aggregations"]["3"]["buckets"]
                        .as_array()
                        .map(|buckets| {
                            buckets
                                .iter()
                                .filter_map(|b| b["1"]["value"].as_f64())
                                .collect()
                        })
                        .unwrap_or_default()
                },
            },
            Ask {
                requests: vec![druid(
                    json!({"queryType": "topN", "dataSource": "access", "intervals": [INTERVAL],
                    "granularity": "all", "dimension": "path", "metric": "bytes", "threshold": 10,
                    "aggregations": [{"type": "longSum", "name": "bytes", "fieldName": "bytes"},
                                     {"type": "longSum", "name": "count", "fieldName": "count"}]}),
                )],
                numbers: |answers| {
                    answers[0][0]["result"]
                        .as_array()
                        .map(|rows| rows.iter().filter_map(|r| r["bytes"].as_f64()).collect())
                        .unwrap_or_default()
                },
            },
        ),
        ("needle, logs query", logs_query(None), native_search()),
        (
            "needle, logs query with its volume histogram",
            logs_query(Some(json!({"1": {"date_histogram": hourly_histogram()}}))),
            native_search(),
        ),
    ]
}

/// Grafana's logs query for the needle, with `aggs` when given.
fn logs_query(aggs: Option<Value>) -> Ask {
    let mut search = json!({"size": 100, "query": range_filter("needle7f3a"),
        "sort": {"timestamp": {"order": "desc", "unmapped_type": "boolean"}, "_doc": {"order": "desc"}},
        "highlight": {"pre_tags": ["@HIGHLIGHT@"], "post_tags": ["@/HIGHLIGHT@"], "fragment_size": 2147483647, "fields": {"*": {}}}});
    if let Some(aggs) = aggs {
        search["aggs"] = aggs;
    }
    Ask {
        requests: vec![msearch(search)],
        numbers: |answers| {
            hit_times(&answers[0]["responses"][0]["hits"]["hits"], |hit| {
                hit["sort"][0].as_f64()
            })
        },
    }
}

/// The native search for the needle, as the logs query asks it.
fn native_search() -> Ask {
    Ask {
        requests: vec![(
            "/v1/datasources/access/search".to_owned(),
            json!({"query": "needle7f3a", "intervals": [INTERVAL], "limit": 100, "highlight": true}),
        )],
        numbers: |answers| {
            hit_times(&answers[0]["hits"], |hit| {
                hit["event"]["__time"].as_str().and_then(iso_millis)
            })
        },
    }
}

fn hit_times(hits: &Value, time: impl Fn(&Value) -> Option<f64>) -> Vec<f64> {
    hits.as_array()
        .map(|hits| hits.iter().filter_map(&time).collect())
        .unwrap_or_default()
}

fn iso_millis(text: &str) -> Option<f64> {
    strata_storage::time::parse_iso_instant(text).map(|t| t as f64)
}

/// Sends every request of `ask` in order (a `"$TOP"` value is replaced by
/// the first answer's topN values) and returns the answers.
fn send(client: &Client, server: &StrataServer, ask: &Ask) -> Vec<Value> {
    let mut answers: Vec<Value> = Vec::new();
    for (path, body) in &ask.requests {
        let mut body = body.clone();
        if body["filter"]["values"] == "$TOP" {
            body["filter"]["values"] = answers[0][0]["result"]
                .as_array()
                .map(|rows| rows.iter().map(|r| r["service"].clone()).collect())
                .unwrap_or_default();
        }
        let text = if path == "/_msearch" {
            format!("{{\"index\": \"access\", \"ignore_unavailable\": true}}\n{body}\n")
        } else {
            body.to_string()
        };
        let response = client
            .post(server.url(path))
            .header("content-type", "application/json")
            .body(text)
            .send()
            .expect("the server answers");
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        answers.push(response.json().expect("a JSON answer"));
    }
    answers
}

fn timed(client: &Client, server: &StrataServer, ask: &Ask) -> Duration {
    let started = Instant::now();
    send(client, server, ask);
    started.elapsed()
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn main() {
    if !std::env::args().any(|arg| arg == "--bench") {
        return;
    }
    let count = events();
    let dir = tempfile::tempdir().expect("a scratch directory");
    let server = StrataServer::start_with(&dir.path().join("data"), &["--persist-period", "1s"]);
    server.create_datasource(ACCESS_SPEC_JSON);
    let bodies = Arc::new(reference_bodies(count, 10_000));
    let (took, accepted) = post_all(&server.url("/v1/datasources/access/ingest"), &bodies, true);
    assert_eq!(accepted, count);
    // Persisted: the real-time index empty for 5 s in a row (a persist
    // under way has emptied the index before it publishes, and the bench
    // asks the same questions of segments only).
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut empty_since: Option<Instant> = None;
    while empty_since.is_none_or(|since| since.elapsed() < Duration::from_secs(5)) {
        let described = server.get_json("/v1/datasources/access");
        if described["realtime"]["events"] == 0 {
            empty_since.get_or_insert_with(Instant::now);
        } else {
            empty_since = None;
        }
        assert!(
            Instant::now() < deadline,
            "the events were not persisted in 10 minutes"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    println!(
        "{count} reference events ingested in {:.1} s and persisted\n",
        took.as_secs_f64()
    );

    let client = Client::builder()
        .timeout(Duration::from_secs(600))
        .build()
        .expect("an HTTP client");
    println!("| question | Elasticsearch API (ms) | peer (ms) | ratio |");
    println!("|---|---:|---:|---:|");
    for (name, elastic, peer) in pairs() {
        let (a, b) = (
            (elastic.numbers)(&send(&client, &server, &elastic)),
            (peer.numbers)(&send(&client, &server, &peer)),
        );
        assert!(
            !a.is_empty(),
            "{name}: the Elasticsearch answer holds no number"
        );
        assert_eq!(
            a.len(),
            b.len(),
            "{name}: the answers hold different numbers of values"
        );
        // Sums of doubles may differ in their last bits by the order they were added.
        if let Some(i) = (0..a.len()).find(|&i| (a[i] - b[i]).abs() > 1e-9 * a[i].abs().max(1.0)) {
            panic!(
                "{name}: the answers differ at value {i}: {} against {}",
                a[i], b[i]
            );
        }
        let (mut elastic_times, mut peer_times) = (Vec::new(), Vec::new());
        for round in 0..ROUNDS {
            if round % 2 == 0 {
                elastic_times.push(timed(&client, &server, &elastic));
                peer_times.push(timed(&client, &server, &peer));
            } else {
                peer_times.push(timed(&client, &server, &peer));
                elastic_times.push(timed(&client, &server, &elastic));
            }
        }
        let (elastic_median, peer_median) = (median(elastic_times), median(peer_times));
        println!(
            "| {name} | {:.1} | {:.1} | {:.2} |",
            elastic_median.as_secs_f64() * 1e3,
            peer_median.as_secs_f64() * 1e3,
            elastic_median.as_secs_f64() / peer_median.as_secs_f64()
        );
    }
}
