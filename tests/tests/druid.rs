//! Druid's native query API over HTTP: what was acknowledged is what a
//! query reads back — counts, sums, min/max and groups computed here from
//! the events sent (the oracle) — for rollup on and off, while the events
//! are in the real-time index and after they are persisted into segments.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use strata_tests::StrataServer;
use strata_tests::web_events::{WebEvent as Event, web_body, web_events, web_spec};

fn druid(server: &StrataServer, query: Value) -> Value {
    let (status, answer) = server.post_json("/druid/v2", &query.to_string());
    assert_eq!(status, 200, "{query}: {answer}");
    answer
}

/// Timeseries by day and groupBy by service against the oracle, and the
/// time boundary against the times sent.
fn check_answers(server: &StrataServer, name: &str, sent: &[Event]) {
    let first = sent
        .iter()
        .map(|e| (e.day, e.hour, e.minute))
        .min()
        .unwrap();
    let last = sent
        .iter()
        .map(|e| (e.day, e.hour, e.minute))
        .max()
        .unwrap();
    let iso = |(day, hour, minute): (u32, u32, u32)| {
        format!("2024-01-0{day}T{hour:02}:{minute:02}:00.000Z")
    };
    let boundary = druid(
        server,
        json!({"queryType": "timeBoundary", "dataSource": name}),
    );
    assert_eq!(
        boundary,
        json!([{"timestamp": iso(first), "result": {"minTime": iso(first), "maxTime": iso(last)}}]),
        "{name}"
    );
    let metadata = druid(
        server,
        json!({"queryType": "dataSourceMetadata", "dataSource": name}),
    );
    assert_eq!(
        metadata[0]["result"]["maxIngestedEventTime"],
        iso(last),
        "{name}"
    );

    let aggregations = json!([
        {"type": "count", "name": "events"},
        {"type": "longSum", "name": "bytes", "fieldName": "bytes"},
        {"type": "doubleMax", "name": "slowest", "fieldName": "slowest"}
    ]);
    let series = druid(
        server,
        json!({"queryType": "timeseries", "dataSource": name,
               "intervals": ["2024-01-01/2024-01-05"], "granularity": "day",
               "aggregations": aggregations}),
    );
    let days = series.as_array().unwrap();
    assert_eq!(days.len(), 4, "zero-filled: {series}");
    for (day, answer) in (1..=4u32).zip(days) {
        let of_day: Vec<&Event> = sent.iter().filter(|e| e.day == day).collect();
        assert_eq!(
            answer["timestamp"],
            format!("2024-01-0{day}T00:00:00.000Z"),
            "{series}"
        );
        assert_eq!(answer["result"]["events"], of_day.len(), "{name} day {day}");
        if of_day.is_empty() {
            assert_eq!(answer["result"]["bytes"], Value::Null);
            continue;
        }
        assert_eq!(
            answer["result"]["bytes"],
            of_day.iter().map(|e| e.bytes).sum::<i64>(),
            "{name} day {day}"
        );
        let slowest = of_day.iter().map(|e| e.duration).fold(f64::MIN, f64::max);
        assert_eq!(answer["result"]["slowest"], slowest, "{name} day {day}");
    }

    let groups = druid(
        server,
        json!({"queryType": "groupBy", "dataSource": name,
               "intervals": ["2024-01-01/2024-01-05"], "granularity": "all",
               "dimensions": ["service"],
               "filter": {"type": "not", "field": {"type": "selector", "dimension": "status", "value": "404"}},
               "aggregations": aggregations,
               "limitSpec": {"type": "default", "columns": [{"dimension": "events", "direction": "descending"}]}}),
    );
    let mut expected: BTreeMap<&str, (u64, i64)> = BTreeMap::new();
    for event in sent.iter().filter(|e| e.status != 404) {
        let entry = expected.entry(event.service).or_default();
        entry.0 += 1;
        entry.1 += event.bytes;
    }
    let answered: BTreeMap<&str, (u64, i64)> = groups
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            let event = &row["event"];
            (
                event["service"].as_str().unwrap(),
                (
                    event["events"].as_u64().unwrap(),
                    event["bytes"].as_i64().unwrap(),
                ),
            )
        })
        .collect();
    assert_eq!(answered, expected, "{name}: {groups}");
    let counts: Vec<u64> = groups
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["event"]["events"].as_u64().unwrap())
        .collect();
    assert!(
        counts.windows(2).all(|w| w[0] >= w[1]),
        "ordered by events: {counts:?}"
    );

    // Filtered aggregators (one on a dimension outside rollup) and a having
    // on one of them, applied before the limit spec orders the rows.
    let errors = druid(
        server,
        json!({"queryType": "groupBy", "dataSource": name,
               "intervals": ["2024-01-01/2024-01-05"], "granularity": "day",
               "dimensions": ["service"],
               "aggregations": [
                   {"type": "count", "name": "events"},
                   {"type": "filtered", "filter": {"type": "selector", "dimension": "status", "value": "500"},
                    "aggregator": {"type": "count", "name": "errors"}},
                   {"type": "filtered", "name": "u1_bytes",
                    "filter": {"type": "selector", "dimension": "user", "value": "u1"},
                    "aggregator": {"type": "longSum", "name": "bytes", "fieldName": "bytes"}}
               ],
               "having": {"type": "greaterThan", "aggregation": "errors", "value": 22},
               "limitSpec": {"type": "default", "columns": [{"dimension": "errors", "direction": "descending"}]}}),
    );
    type Group = (u64, u64, Option<i64>);
    let mut expected: BTreeMap<(String, &str), Group> = BTreeMap::new();
    for event in sent {
        let entry = expected
            .entry((
                format!("2024-01-0{}T00:00:00.000Z", event.day),
                event.service,
            ))
            .or_default();
        entry.0 += 1;
        entry.1 += u64::from(event.status == 500);
        if event.user == "u1" {
            entry.2 = Some(entry.2.unwrap_or(0) + event.bytes);
        }
    }
    expected.retain(|_, (_, errors, _)| *errors > 22);
    assert!(!expected.is_empty(), "some groups pass the having");
    let answered: BTreeMap<(String, &str), Group> = errors
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            let event = &row["event"];
            (
                (
                    row["timestamp"].as_str().unwrap().to_owned(),
                    event["service"].as_str().unwrap(),
                ),
                (
                    event["events"].as_u64().unwrap(),
                    event["errors"].as_u64().unwrap(),
                    event["u1_bytes"].as_i64(),
                ),
            )
        })
        .collect();
    assert_eq!(answered, expected, "{name}: {errors}");
    // As Druid orders a groupBy by day: by time first, then by the
    // limitSpec columns.
    let order: Vec<(String, u64)> = errors
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            (
                row["timestamp"].as_str().unwrap().to_owned(),
                row["event"]["errors"].as_u64().unwrap(),
            )
        })
        .collect();
    assert!(
        order
            .windows(2)
            .all(|w| w[0].0 < w[1].0 || (w[0].0 == w[1].0 && w[0].1 >= w[1].1)),
        "ordered by day, then by errors: {order:?}"
    );
}

/// A timeseries by day in New York (UTC−5 in January): buckets start at
/// 05:00 UTC, written as local midnight with the offset as Druid writes
/// them, and hold the events of that local day.
fn check_zoned_days(server: &StrataServer, name: &str, sent: &[Event]) {
    let answer = druid(
        server,
        json!({"queryType": "timeseries", "dataSource": name,
               "intervals": ["2023-12-31T05:00:00Z/2024-01-04T05:00:00Z"],
               "granularity": {"type": "period", "period": "P1D", "timeZone": "America/New_York"},
               "aggregations": [{"type": "count", "name": "events"}]}),
    );
    let mut expected: BTreeMap<String, u64> = BTreeMap::new();
    for event in sent {
        // The local date of an event at `hour` UTC on day `day`.
        let local_day = if event.hour < 5 {
            event.day - 1
        } else {
            event.day
        };
        let start = if local_day == 0 {
            "2023-12-31T00:00:00.000-05:00".to_owned()
        } else {
            format!("2024-01-0{local_day}T00:00:00.000-05:00")
        };
        *expected.entry(start).or_default() += 1;
    }
    let answered: BTreeMap<String, u64> = answer
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            (
                row["timestamp"].as_str().unwrap().to_owned(),
                row["result"]["events"].as_u64().unwrap(),
            )
        })
        .filter(|(_, events)| *events > 0)
        .collect();
    assert_eq!(answered, expected, "{name}: {answer}");
    assert_eq!(answer.as_array().unwrap().len(), 4, "zero-filled: {answer}");
}

#[test]
fn queries_read_back_what_was_acknowledged_before_and_after_persist() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let sent = web_events(42, 600);
    {
        let server = StrataServer::start_in(&data_dir);
        for (name, rollup) in [("rolled", true), ("raw", false)] {
            server.create_datasource(&web_spec(name, rollup));
            server.ingest_all(name, web_body(&sent), sent.len());
            check_answers(&server, name, &sent);
            check_zoned_days(&server, name, &sent);
        }
        assert_eq!(
            server.get_json("/druid/v2/datasources"),
            json!(["raw", "rolled"])
        );
        let (status, error) = server.post_json(
            "/druid/v2",
            &json!({"queryType": "timeseries", "dataSource": "nope", "intervals": ["2024-01-01/2024-01-02"]})
                .to_string(),
        );
        assert_eq!(status, 404, "{error}");
        let (status, error) = server.post_json("/druid/v2", r#"{"queryType": "timeseries"}"#);
        assert_eq!(status, 400);
        assert_eq!(error["errorMessage"], "dataSource: is missing");
        assert!(server.terminate().success());
    }
    // Persisted into segments: the same answers.
    let server = StrataServer::start_with(&data_dir, &["--persist-period", "100ms"]);
    for name in ["rolled", "raw"] {
        server.wait_until_persisted(name);
        check_answers(&server, name, &sent);
        check_zoned_days(&server, name, &sent);
    }
}
