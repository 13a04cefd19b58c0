//! The reference dataset's needles (shared DATASET.md): exactly seven events
//! have `user_id` `needle-user` and say `needle7f3a kernel panic`. A
//! full-text search over the dataset as `strata gen` writes it and the
//! `access` spec loads it finds those seven and no other event — newest
//! first in a scan, counted exactly in a timeseries — in the real-time index
//! and again after persist.

use std::collections::BTreeSet;
use std::process::Command;

use serde_json::{Value, json};
use strata_storage::spec::ACCESS_SPEC_JSON;
use strata_tests::{StrataServer, strata_bin};

const EVENTS: usize = 30_000;
const WEEK: &str = "2024-01-01/2024-01-08";

/// The needles as the generator wrote them: the oracle is the file itself.
fn needles(body: &[u8]) -> Vec<Value> {
    body.split(|&byte| byte == b'\n')
        .filter(|line| !line.is_empty())
        .map(|line| serde_json::from_slice::<Value>(line).unwrap())
        .filter(|event| {
            event["message"]
                .as_str()
                .unwrap()
                .split(|c: char| !c.is_alphanumeric())
                .any(|word| word.eq_ignore_ascii_case("needle7f3a"))
        })
        .collect()
}

fn post(server: &StrataServer, query: Value) -> Value {
    let (status, answer) = server.post_json("/druid/v2", &query.to_string());
    assert_eq!(status, 200, "{answer}");
    answer
}

fn count(server: &StrataServer, filter: Value) -> i64 {
    let answer = post(
        server,
        json!({"queryType": "timeseries", "dataSource": "access", "intervals": [WEEK],
               "granularity": "all", "filter": filter,
               "aggregations": [{"type": "count", "name": "n"}]}),
    );
    answer[0]["result"]["n"].as_i64().unwrap()
}

fn check(server: &StrataServer, needles: &[Value]) {
    let answer = post(
        server,
        json!({"queryType": "scan", "dataSource": "access", "intervals": [WEEK],
               "filter": {"type": "fulltext", "query": "needle7f3a"},
               "columns": ["__time", "user_id", "message"],
               "order": "descending", "limit": 100}),
    );
    let found: Vec<&Value> = answer
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|batch| batch["events"].as_array().unwrap())
        .collect();
    assert_eq!(found.len(), 7, "{answer}");
    let times: Vec<i64> = found
        .iter()
        .map(|e| e["__time"].as_i64().unwrap())
        .collect();
    assert!(times.windows(2).all(|pair| pair[0] >= pair[1]), "{times:?}");
    assert!(
        found.iter().all(|e| e["user_id"] == "needle-user"),
        "{answer}"
    );
    let messages = |events: &mut dyn Iterator<Item = &Value>| -> BTreeSet<String> {
        events
            .map(|e| e["message"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        messages(&mut found.iter().copied()),
        messages(&mut needles.iter())
    );

    let phrase = json!({"type": "fulltext", "query": "\"kernel panic\"", "fields": ["message"]});
    assert_eq!(count(server, phrase), 7);
    let by_user = json!({"type": "selector", "dimension": "user_id", "value": "needle-user"});
    let needle = json!({"type": "fulltext", "query": "needle7f3a"});
    assert_eq!(
        count(server, json!({"type": "and", "fields": [by_user, needle]})),
        7
    );
    assert_eq!(
        count(server, json!({"type": "not", "field": needle})),
        EVENTS as i64 - 7
    );
}

#[test]
fn the_seven_needles_are_found_and_only_they() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("access.ndjson");
    let generated = Command::new(strata_bin())
        .args([
            "gen",
            "--quiet",
            "--events",
            &EVENTS.to_string(),
            "--output",
        ])
        .arg(&file)
        .status()
        .unwrap();
    assert!(generated.success());
    let body = std::fs::read(&file).unwrap();
    let needles = needles(&body);
    assert_eq!(needles.len(), 7, "the dataset holds seven needles");

    let data_dir = dir.path().join("data");
    {
        let server = StrataServer::start_in(&data_dir);
        server.create_datasource(ACCESS_SPEC_JSON);
        server.ingest_all("access", body, EVENTS);
        check(&server, &needles);
        assert!(server.terminate().success());
    }
    let server = StrataServer::start_with(&data_dir, &["--persist-period", "100ms"]);
    server.wait_until_persisted("access");
    check(&server, &needles);
}
