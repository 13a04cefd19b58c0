//! Druid's `scan` query over HTTP: the events a scan returns are the events
//! sent (the oracle) that match its filter, ordered by time and cut by its
//! offset and limit, with every field as sent — for rollup on and off, while
//! the events are in the real-time index and after they are persisted.

use serde_json::{Value, json};
use strata_tests::StrataServer;
use strata_tests::web_events::{WebEvent as Event, web_body, web_events, web_spec};

/// 2024-01-01T00:00:00Z.
const JAN_1: i64 = 1_704_067_200_000;

fn millis(event: &Event) -> i64 {
    JAN_1
        + i64::from(event.day - 1) * 86_400_000
        + i64::from(event.hour) * 3_600_000
        + i64::from(event.minute) * 60_000
}

/// The event as a `list` scan returns it: `__time` in milliseconds, the
/// dimensions, then each metric over this one event, as Druid lists a
/// datasource without rollup (`count` 1, the others their input's value).
fn as_row(event: &Event) -> Value {
    json!({
        "__time": millis(event), "service": event.service, "status": event.status,
        "user": event.user, "count": 1, "bytes": event.bytes, "duration": event.duration,
        "slowest": event.duration,
    })
}

/// The columns of a scan without a column list.
const ALL_COLUMNS: [&str; 8] = [
    "__time", "service", "status", "user", "count", "bytes", "duration", "slowest",
];

fn scan(server: &StrataServer, query: Value) -> Value {
    let (status, answer) = server.post_json("/druid/v2", &query.to_string());
    assert_eq!(status, 200, "{query}: {answer}");
    answer
}

/// The events of a one-batch answer.
fn events_of(name: &str, answer: &Value, columns: &[&str]) -> Vec<Value> {
    let batches = answer.as_array().unwrap();
    assert_eq!(batches.len(), 1, "{answer}");
    assert_eq!(batches[0]["segmentId"], name);
    assert_eq!(batches[0]["columns"], json!(columns));
    batches[0]["events"].as_array().unwrap().clone()
}

/// `rows` are `oracle` (sorted by the scan's order, ties in any order)
/// from `offset`, at most `limit` of them: the same times in the same
/// order, and at each time the events sent at that time, none twice.
fn assert_rows(rows: &[Value], oracle: &[Value], offset: usize, limit: usize) {
    let expected: Vec<&Value> = oracle.iter().skip(offset).take(limit).collect();
    let times = |rows: &mut dyn Iterator<Item = &Value>| -> Vec<i64> {
        rows.map(|row| row["__time"].as_i64().unwrap()).collect()
    };
    assert_eq!(
        times(&mut rows.iter()),
        times(&mut expected.iter().copied()),
        "{rows:?}"
    );
    let mut unused: Vec<&Value> = oracle.iter().collect();
    for row in rows {
        let found = unused
            .iter()
            .position(|candidate| *candidate == row)
            .unwrap_or_else(|| panic!("{row} was not sent (or is returned twice)"));
        unused.swap_remove(found);
    }
}

fn check_scans(server: &StrataServer, name: &str, sent: &[Event]) {
    // The five newest `api` events with a status of 404 or more.
    let matching: Vec<&Event> = sent
        .iter()
        .filter(|e| e.service == "api" && e.status >= 404)
        .collect();
    let mut newest: Vec<Value> = matching.iter().map(|e| as_row(e)).collect();
    newest.sort_by_key(|row| std::cmp::Reverse(row["__time"].as_i64().unwrap()));
    let answer = scan(
        server,
        json!({"queryType": "scan", "dataSource": name, "intervals": ["2024-01-01/2024-01-05"],
               "filter": {"type": "and", "fields": [
                   {"type": "selector", "dimension": "service", "value": "api"},
                   {"type": "bound", "dimension": "status", "lower": "404", "ordering": "numeric"}]},
               "order": "descending", "limit": 5}),
    );
    let rows = events_of(name, &answer, &ALL_COLUMNS);
    assert_eq!(rows.len(), 5, "{name}: {answer}");
    assert_rows(&rows, &newest, 0, 5);

    // Day two, oldest first, three columns, compacted, from the fourth.
    let mut day_two: Vec<Value> = sent
        .iter()
        .filter(|e| e.day == 2)
        .map(|e| json!({"__time": millis(e), "user": e.user, "bytes": e.bytes}))
        .collect();
    day_two.sort_by_key(|row| row["__time"].as_i64().unwrap());
    let answer = scan(
        server,
        json!({"queryType": "scan", "dataSource": name, "intervals": ["2024-01-02/2024-01-03"],
               "columns": ["__time", "user", "bytes"], "order": "ascending",
               "offset": 3, "limit": 40, "resultFormat": "compactedList", "batchSize": 7}),
    );
    let rows: Vec<Value> = events_of(name, &answer, &["__time", "user", "bytes"])
        .iter()
        .map(|row| json!({"__time": row[0], "user": row[1], "bytes": row[2]}))
        .collect();
    assert_eq!(rows.len(), 40, "{name}: {answer}");
    assert_rows(&rows, &day_two, 3, 40);

    // No order, no limit: every event of the intervals, once.
    let answer = scan(
        server,
        json!({"queryType": "scan", "dataSource": name, "intervals": ["2024-01-01/2024-01-05"]}),
    );
    let mut rows = events_of(name, &answer, &ALL_COLUMNS);
    rows.sort_by_key(|row| row["__time"].as_i64().unwrap());
    let mut all: Vec<Value> = sent.iter().map(as_row).collect();
    all.sort_by_key(|row| row["__time"].as_i64().unwrap());
    assert_rows(&rows, &all, 0, usize::MAX);
    assert_eq!(rows.len(), sent.len());

    // Nothing in the intervals: no batch at all, as Druid answers.
    let answer = scan(
        server,
        json!({"queryType": "scan", "dataSource": name, "intervals": ["2023-01-01/2023-01-02"]}),
    );
    assert_eq!(answer, json!([]));
}

#[test]
fn scans_return_the_matching_events_before_and_after_persist() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let sent = web_events(7, 500);
    {
        let server = StrataServer::start_in(&data_dir);
        for (name, rollup) in [("rolled", true), ("raw", false)] {
            server.create_datasource(&web_spec(name, rollup));
            server.ingest_all(name, web_body(&sent), sent.len());
            check_scans(&server, name, &sent);
        }
        let (status, error) = server.post_json(
            "/druid/v2",
            &json!({"queryType": "scan", "dataSource": "rolled",
                    "intervals": ["2024-01-01/2024-01-02"], "order": "sideways"})
            .to_string(),
        );
        assert_eq!(status, 400, "{error}");
        assert!(
            error["errorMessage"]
                .as_str()
                .unwrap()
                .starts_with("order: "),
            "{error}"
        );
        assert!(server.terminate().success());
    }
    let server = StrataServer::start_with(&data_dir, &["--persist-period", "100ms"]);
    for name in ["rolled", "raw"] {
        server.wait_until_persisted(name);
        check_scans(&server, name, &sent);
    }
}
