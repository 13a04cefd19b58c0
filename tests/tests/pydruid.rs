//! pydruid — the Python client Druid's users query with — against the real
//! server: `tests/python/pydruid_queries.py` builds a timeseries, a topN and
//! a groupBy with pydruid's own aggregators, filters and post-aggregators,
//! sends them to `POST /druid/v2` and prints what pydruid read back; every
//! number is compared here with an oracle computed from the events sent.
//!
//! Half of the events are persisted into segments and half are in the
//! real-time index when the queries run, so the answers merge both.
//!
//! The Python interpreter is the one of the virtualenv that
//! `./scripts/test.sh` makes with `tests/python/requirements.txt`, named by
//! `STRATA_TEST_PYTHON`.

use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};
use strata_tests::StrataServer;
use strata_tests::web_events::{WebEvent as Event, web_body, web_events, web_spec};

const DATASOURCE: &str = "pydruid_web";
/// The script's topN: the users of these services, by bytes, this many.
const TOPN_SERVICES: [&str; 2] = ["api", "web"];
const TOPN_THRESHOLD: usize = 4;
/// The script's groupBy filter leaves out this status and this user.
const GROUPBY_EXCLUDED_STATUS: i64 = 404;
const GROUPBY_EXCLUDED_USER: &str = "u3";

/// Runs the pydruid script against `server` and reads the JSON it prints.
fn run_pydruid(server: &StrataServer) -> Value {
    let python = std::env::var_os("STRATA_TEST_PYTHON").unwrap_or_else(|| {
        panic!(
            "STRATA_TEST_PYTHON is not set: run the tests through ./scripts/test.sh, \
             which makes the virtualenv with pydruid and sets it"
        )
    });
    // The checkout the test runs from (cargo sets it for the run), not the
    // one it was compiled in: checkouts may share a target directory.
    let manifest_dir =
        std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into());
    let script = Path::new(&manifest_dir).join("python/pydruid_queries.py");
    let output = Command::new(&python)
        .arg(&script)
        .arg(server.url(""))
        .arg(DATASOURCE)
        .output()
        .unwrap_or_else(|error| panic!("running {python:?} {}: {error}", script.display()));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "pydruid failed ({}):\n{stderr}\nstdout:\n{stdout}",
        output.status
    );
    serde_json::from_str(&stdout)
        .unwrap_or_else(|error| panic!("the script's output is not JSON ({error}):\n{stdout}"))
}

/// Sums and extremes of a set of events, as the aggregators compute them.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Totals {
    events: u64,
    bytes: i64,
    duration: f64,
    slowest: f64,
}

impl Totals {
    fn of<'a>(events: impl IntoIterator<Item = &'a Event>) -> Self {
        events.into_iter().fold(
            Self {
                events: 0,
                bytes: 0,
                duration: 0.0,
                slowest: f64::MIN,
            },
            |totals, event| Self {
                events: totals.events + 1,
                bytes: totals.bytes + event.bytes,
                duration: totals.duration + event.duration,
                slowest: totals.slowest.max(event.duration),
            },
        )
    }

    /// The totals of each group of `events`, grouped by `key`.
    fn by<'a, K: Ord>(
        events: impl IntoIterator<Item = &'a Event>,
        key: impl Fn(&'a Event) -> K,
    ) -> BTreeMap<K, Self> {
        let mut groups: BTreeMap<K, Vec<&Event>> = BTreeMap::new();
        for event in events {
            groups.entry(key(event)).or_default().push(event);
        }
        groups
            .into_iter()
            .map(|(group, events)| (group, Self::of(events)))
            .collect()
    }
}

/// `granularity: day` over 2024-01-01/2024-01-05: one bucket per day, the
/// fourth zero-filled; post-aggregations `bytes / events` and
/// `duration / 1000`.
fn check_timeseries(answer: &Value, sent: &[Event]) {
    let context = || format!("timeseries {}", answer["query"]);
    let days = answer["result"]
        .as_array()
        .unwrap_or_else(|| panic!("{}: no result list: {answer}", context()));
    assert_eq!(days.len(), 4, "{}: one bucket per day: {answer}", context());
    for (day, bucket) in (1..=4u32).zip(days) {
        assert_eq!(
            bucket["timestamp"],
            format!("2024-01-0{day}T00:00:00.000Z"),
            "{}",
            context()
        );
        let result = &bucket["result"];
        let expected = Totals::of(sent.iter().filter(|e| e.day == day));
        assert_eq!(
            result["events"],
            json!(expected.events),
            "{} day {day}",
            context()
        );
        if expected.events == 0 {
            for name in [
                "bytes",
                "duration",
                "slowest",
                "bytes_per_event",
                "duration_s",
            ] {
                assert_eq!(result[name], Value::Null, "{} day {day}: {name}", context());
            }
            continue;
        }
        assert_eq!(
            result["bytes"],
            json!(expected.bytes),
            "{} day {day}",
            context()
        );
        assert_eq!(
            result["duration"].as_f64(),
            Some(expected.duration),
            "{} day {day}: {result}",
            context()
        );
        assert_eq!(
            result["slowest"].as_f64(),
            Some(expected.slowest),
            "{} day {day}: {result}",
            context()
        );
        // One IEEE division of exact operands: the same bits wherever it runs.
        assert_eq!(
            result["bytes_per_event"].as_f64(),
            Some(expected.bytes as f64 / expected.events as f64),
            "{} day {day}: {result}",
            context()
        );
        assert_eq!(
            result["duration_s"].as_f64(),
            Some(expected.duration / 1000.0),
            "{} day {day}: {result}",
            context()
        );
    }
}

/// The users of `api` and `web` by bytes, largest first, cut at the
/// threshold.
fn check_topn(answer: &Value, sent: &[Event]) {
    let context = || format!("topN {}", answer["query"]);
    let by_user = Totals::by(
        sent.iter().filter(|e| TOPN_SERVICES.contains(&e.service)),
        |e| e.user.as_str(),
    );
    let mut ranked: Vec<(&str, Totals)> = by_user.into_iter().collect();
    ranked.sort_by_key(|(_, totals)| Reverse(totals.bytes));
    assert!(
        ranked.len() > TOPN_THRESHOLD
            && ranked[..=TOPN_THRESHOLD]
                .windows(2)
                .all(|w| w[0].1.bytes > w[1].1.bytes),
        "the test data must rank more users than the threshold without ties: {ranked:?}"
    );
    let expected: Vec<Value> = ranked[..TOPN_THRESHOLD]
        .iter()
        .map(|(user, totals)| json!({"user": user, "events": totals.events, "bytes": totals.bytes}))
        .collect();

    assert_eq!(
        answer["result"],
        json!([{"timestamp": "2024-01-01T00:00:00.000Z", "result": expected}]),
        "{}",
        context()
    );
}

/// Groups by service and status, without status 404 and user u3, ordered by
/// events, most first.
fn check_groupby(answer: &Value, sent: &[Event]) {
    let context = || format!("groupBy {}", answer["query"]);
    let expected = Totals::by(
        sent.iter()
            .filter(|e| e.status != GROUPBY_EXCLUDED_STATUS && e.user != GROUPBY_EXCLUDED_USER),
        |e| (e.service.to_string(), e.status),
    );
    let rows = answer["result"]
        .as_array()
        .unwrap_or_else(|| panic!("{}: no result list: {answer}", context()));
    let mut answered: BTreeMap<(String, i64), Totals> = BTreeMap::new();
    for row in rows {
        assert_eq!(row["version"], "v1", "{}: {row}", context());
        assert_eq!(
            row["timestamp"],
            "2024-01-01T00:00:00.000Z",
            "{}: {row}",
            context()
        );
        let event = &row["event"];
        let group = (
            event["service"].as_str().map(str::to_string),
            event["status"].as_i64(),
        );
        let (Some(service), Some(status)) = group else {
            panic!("{}: a row without its service and status: {row}", context());
        };
        let totals = Totals {
            events: event["events"].as_u64().unwrap_or_else(|| panic!("{row}")),
            bytes: event["bytes"].as_i64().unwrap_or_else(|| panic!("{row}")),
            duration: event["duration"]
                .as_f64()
                .unwrap_or_else(|| panic!("{row}")),
            slowest: event["slowest"].as_f64().unwrap_or_else(|| panic!("{row}")),
        };
        assert!(
            answered.insert((service, status), totals).is_none(),
            "{}: a group answered twice: {row}",
            context()
        );
    }
    assert_eq!(answered, expected, "{}", context());
    let counts: Vec<u64> = rows
        .iter()
        .filter_map(|row| row["event"]["events"].as_u64())
        .collect();
    assert!(
        counts.windows(2).all(|w| w[0] >= w[1]),
        "{}: ordered by events, most first: {counts:?}",
        context()
    );
}

#[test]
fn pydruid_reads_back_what_was_sent_from_segments_and_the_realtime_index() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let sent = web_events(7, 400);
    let (persisted, realtime) = sent.split_at(200);
    {
        let server = StrataServer::start_with(&data_dir, &["--persist-period", "100ms"]);
        server.create_datasource(&web_spec(DATASOURCE, true));
        server.ingest_all(DATASOURCE, web_body(persisted), persisted.len());
        server.wait_until_persisted(DATASOURCE);
        assert!(server.terminate().success());
    }
    // The default persist period keeps the second half in the real-time
    // index while the queries run.
    let server = StrataServer::start_in(&data_dir);
    server.ingest_all(DATASOURCE, web_body(realtime), realtime.len());
    let described = server.get_json(&format!("/v1/datasources/{DATASOURCE}"));
    assert_eq!(
        described["realtime"]["events"],
        realtime.len(),
        "{described}"
    );

    let answers = run_pydruid(&server);
    check_timeseries(&answers["timeseries"], &sent);
    check_topn(&answers["topn"], &sent);
    check_groupby(&answers["groupby"], &sent);
}
