//! Druid's `search` query over HTTP: the hits a search returns are the
//! values of the events sent (the oracle) that match its text, each counted
//! once per event holding it among the events its filter keeps, bucketed,
//! sorted and cut — for rollup on and off, while the events are in the
//! real-time index and after they are persisted.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use strata_tests::StrataServer;
use strata_tests::web_events::{WebEvent as Event, web_body, web_events, web_spec};

fn search(server: &StrataServer, query: Value) -> Value {
    let (status, answer) = server.post_json("/druid/v2", &query.to_string());
    assert_eq!(status, 200, "{query}: {answer}");
    answer
}

/// A searched dimension's name, and how the oracle reads it from an event.
type Dimension = (&'static str, fn(&Event) -> String);

/// Two hits `(value, dimension)` in the order a search sort gives them.
type Order = fn(&(String, String), &(String, String)) -> std::cmp::Ordering;

/// What one search asks, as the oracle reads it.
struct Expect {
    keep: fn(&Event) -> bool,
    dimensions: Vec<Dimension>,
    matches: fn(&str) -> bool,
    /// The bucket's timestamp of an event.
    bucket: fn(&Event) -> String,
    order: Order,
    limit: usize,
}

/// The answer computed from the events sent.
fn oracle(sent: &[Event], expect: &Expect) -> Value {
    let mut buckets: BTreeMap<String, BTreeMap<(String, String), i64>> = BTreeMap::new();
    for event in sent.iter().filter(|event| (expect.keep)(event)) {
        for (dimension, value_of) in &expect.dimensions {
            let value = value_of(event);
            if (expect.matches)(&value) {
                *buckets
                    .entry((expect.bucket)(event))
                    .or_default()
                    .entry((value, (*dimension).to_owned()))
                    .or_insert(0) += 1;
            }
        }
    }
    Value::Array(
        buckets
            .into_iter()
            .map(|(timestamp, hits)| {
                let mut hits: Vec<((String, String), i64)> = hits.into_iter().collect();
                hits.sort_by(|a, b| (expect.order)(&a.0, &b.0));
                let result: Vec<Value> = hits
                    .into_iter()
                    .take(expect.limit)
                    .map(|((value, dimension), count)| {
                        json!({"dimension": dimension, "value": value, "count": count})
                    })
                    .collect();
                json!({"timestamp": timestamp, "result": result})
            })
            .collect(),
    )
}

fn user(event: &Event) -> String {
    event.user.clone()
}

fn service(event: &Event) -> String {
    event.service.to_owned()
}

fn status(event: &Event) -> String {
    event.status.to_string()
}

fn lexicographic(a: &(String, String), b: &(String, String)) -> std::cmp::Ordering {
    a.cmp(b)
}

fn all_time(_: &Event) -> String {
    "2024-01-01T00:00:00.000Z".to_owned()
}

fn check_searches(server: &StrataServer, name: &str, sent: &[Event]) {
    // Every string dimension by default (service and user), ignoring case.
    let answer = search(
        server,
        json!({"queryType": "search", "dataSource": name, "intervals": ["2024-01-01/2024-01-05"],
               "query": {"type": "insensitive_contains", "value": "U"}}),
    );
    let expected = oracle(
        sent,
        &Expect {
            keep: |_| true,
            dimensions: vec![("service", service), ("user", user)],
            matches: |value| value.to_lowercase().contains('u'),
            bucket: all_time,
            order: lexicographic,
            limit: 1000,
        },
    );
    assert_eq!(answer, expected, "{name}");
    assert_eq!(
        answer[0]["result"].as_array().unwrap().len(),
        11,
        "{answer}"
    );

    // By day, among 404s, case-sensitive, shortest first, two per day.
    let answer = search(
        server,
        json!({"queryType": "search", "dataSource": name, "intervals": ["2024-01-01/2024-01-05"],
               "granularity": "day", "searchDimensions": ["service", "user"],
               "filter": {"type": "selector", "dimension": "status", "value": "404"},
               "query": {"type": "contains", "value": "b", "caseSensitive": true},
               "sort": {"type": "strlen"}, "limit": 2}),
    );
    let expected = oracle(
        sent,
        &Expect {
            keep: |event| event.status == 404,
            dimensions: vec![("service", service), ("user", user)],
            matches: |value| value.contains('b'),
            bucket: |event| format!("2024-01-0{}T00:00:00.000Z", event.day),
            order: |a, b| a.0.len().cmp(&b.0.len()).then_with(|| a.cmp(b)),
            limit: 2,
        },
    );
    assert_eq!(answer, expected, "{name}");
    assert_eq!(answer.as_array().unwrap().len(), 3, "{answer}");

    // Every fragment must occur; digits sort as numbers; day two only.
    let answer = search(
        server,
        json!({"queryType": "search", "dataSource": name, "intervals": ["2024-01-02/2024-01-03"],
               "searchDimensions": ["user"],
               "query": {"type": "fragment", "values": ["U", "1"]},
               "sort": {"type": "alphanumeric"}}),
    );
    let expected = oracle(
        sent,
        &Expect {
            keep: |event| event.day == 2,
            dimensions: vec![("user", user)],
            matches: |value| value.contains('u') && value.contains('1'),
            bucket: |_| "2024-01-02T00:00:00.000Z".to_owned(),
            order: |a, b| {
                let number = |hit: &(String, String)| hit.0[1..].parse::<u32>().unwrap();
                number(a).cmp(&number(b))
            },
            limit: 1000,
        },
    );
    assert_eq!(answer, expected, "{name}");
    let values: Vec<&Value> = answer[0]["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|hit| &hit["value"])
        .collect();
    assert_eq!(values, [&json!("u1"), &json!("u10")], "{answer}");

    // A long dimension, named, is searched on its decimal text.
    let answer = search(
        server,
        json!({"queryType": "search", "dataSource": name, "intervals": ["2024-01-01/2024-01-05"],
               "searchDimensions": [{"type": "default", "dimension": "status", "outputName": "code"}],
               "query": {"type": "contains", "value": "0"}}),
    );
    let expected = oracle(
        sent,
        &Expect {
            keep: |_| true,
            dimensions: vec![("code", status)],
            matches: |value| value.contains('0'),
            bucket: all_time,
            order: lexicographic,
            limit: 1000,
        },
    );
    assert_eq!(answer, expected, "{name}");

    // Nothing in the intervals: no bucket at all.
    let answer = search(
        server,
        json!({"queryType": "search", "dataSource": name, "intervals": ["2023-01-01/2023-01-02"],
               "query": {"type": "contains", "value": ""}}),
    );
    assert_eq!(answer, json!([]));
}

#[test]
fn searches_count_the_matching_values_before_and_after_persist() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let sent = web_events(13, 600);
    {
        let server = StrataServer::start_in(&data_dir);
        for (name, rollup) in [("rolled", true), ("raw", false)] {
            server.create_datasource(&web_spec(name, rollup));
            server.ingest_all(name, web_body(&sent), sent.len());
            check_searches(&server, name, &sent);
        }
        let (status, error) = server.post_json(
            "/druid/v2",
            &json!({"queryType": "search", "dataSource": "rolled",
                    "intervals": ["2024-01-01/2024-01-02"],
                    "query": {"type": "regex", "pattern": "a.*"}})
            .to_string(),
        );
        assert_eq!(status, 400, "{error}");
        assert!(
            error["errorMessage"]
                .as_str()
                .unwrap()
                .starts_with("query.type: search query type `regex`"),
            "{error}"
        );
        assert!(server.terminate().success());
    }
    let server = StrataServer::start_with(&data_dir, &["--persist-period", "100ms"]);
    for name in ["rolled", "raw"] {
        server.wait_until_persisted(name);
        check_searches(&server, name, &sent);
    }
}
