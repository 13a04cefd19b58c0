//! The life of a datasource's events after ingest, through the real binary:
//! schema discovery widening the spec as new fields arrive (and a replay
//! reading them back), the accepted window rejecting events by their time,
//! and closed time chunks handed off as segments, late data becoming another
//! partition, and compaction merging the partitions into one segment.
//!
//! Each test checks the server's numbers against what the test itself knows
//! it sent: the rollup rows against an independent count of distinct rollup
//! keys, the segment rows against the events, and at every poll that the
//! segments and the real-time index together hold each event exactly once.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use strata_storage::time::format_millis;
use strata_tests::StrataServer;

const MINUTE: i64 = 60_000;
const HOUR: i64 = 3_600_000;

fn now_millis() -> i64 {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970");
    i64::try_from(since_epoch.as_millis()).expect("the time fits in i64 milliseconds")
}

fn describe(server: &StrataServer, datasource: &str) -> Value {
    server.get_json(&format!("/v1/datasources/{datasource}"))
}

/// Polls `GET /v1/datasources/{datasource}` every 50 ms until `done` picks
/// a value out of the answer; fails after `timeout`, showing the last answer.
fn wait_for<T>(
    server: &StrataServer,
    datasource: &str,
    timeout: Duration,
    what: &str,
    mut done: impl FnMut(&Value) -> Option<T>,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        let described = describe(server, datasource);
        if let Some(value) = done(&described) {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not seen within {timeout:?}; last GET /v1/datasources/{datasource}: {described:#}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn segments(described: &Value) -> &[Value] {
    described["segments"].as_array().map_or(&[], Vec::as_slice)
}

fn u64_at(value: &Value) -> u64 {
    value
        .as_u64()
        .unwrap_or_else(|| panic!("{value} is not a whole number"))
}

/// Rows of every published segment plus events still in the real-time index:
/// with rollup off, each event counted once wherever it is.
fn events_everywhere(described: &Value) -> u64 {
    let in_segments: u64 = segments(described).iter().map(|s| u64_at(&s["rows"])).sum();
    in_segments + u64_at(&described["realtime"]["events"])
}

/// The value of `metric{datasource="..."}` in a Prometheus text exposition.
fn metric(metrics: &str, name: &str, datasource: &str) -> Option<f64> {
    let prefix = format!("{name}{{datasource=\"{datasource}\"}} ");
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .and_then(|value| value.trim().parse().ok())
}

/// Asserts an ingest answered 200 with every line accepted.
fn assert_all_accepted(status: u16, report: &Value, lines: usize) {
    assert_eq!(status, 200, "{report}");
    assert_eq!(
        report,
        &json!({"accepted": lines, "rejected": 0, "errors": []}),
        "every line should be accepted"
    );
}

/// A small deterministic generator (a 64-bit LCG), so a failure replays.
struct Rng(u64);

impl Rng {
    fn below(&mut self, bound: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % bound as u64) as usize
    }

    fn pick<T: Clone>(&mut self, values: &[T]) -> T {
        values[self.below(values.len())].clone()
    }
}

// ---------------------------------------------------------------------------
// Schema discovery
// ---------------------------------------------------------------------------

const DISCOVERING_SPEC: &str = r#"{
    "dataSource": "discover",
    "dimensionsSpec": {"dimensions": []},
    "metricsSpec": [
        {"type": "count", "name": "count"},
        {"type": "longSum", "name": "bytes", "fieldName": "bytes"}
    ],
    "granularitySpec": {"segmentGranularity": "hour", "queryGranularity": "minute", "rollup": true}
}"#;

/// The dimensions the test data makes the server discover, in the order
/// their first non-null value appears, with the type each value's JSON
/// kind gives. The last comes only with the late request.
const DISCOVERED: [(&str, &str); 7] = [
    ("service", "string"),
    ("req.status", "long"),
    ("tags", "string"),
    ("region", "string"),
    ("latency", "double"),
    ("ok", "string"),
    ("geo.zone", "string"),
];

/// One NDJSON line as its fields, in the order the line writes them.
type Fields = Vec<(&'static str, Value)>;

fn ndjson(requests: &[Fields]) -> Vec<u8> {
    let mut body = String::new();
    for fields in requests {
        let members: Vec<String> = fields
            .iter()
            .map(|(name, value)| format!("{}:{value}", Value::from(*name)))
            .collect();
        body.push('{');
        body.push_str(&members.join(","));
        body.push_str("}\n");
    }
    body.into_bytes()
}

/// Three requests whose later lines bring fields the earlier ones lack: a
/// string, a nested object (`req.status`), an array or a lone string
/// (`tags`, multi-value), another string, a double, and a boolean. Fields
/// that must not become dimensions ride along: a `__` name, the metric's
/// input `bytes` and a field named like the `count` metric. Lines of the
/// old shapes keep coming, so that their rollup keys meet rows the index
/// held before it was widened.
///
/// Then a fourth, late request for the same minutes, sent once the first
/// three are in segments: it brings one more field (`geo.zone`, two levels
/// deep) beside lines of the old shapes.
fn discovery_requests() -> Vec<Vec<Fields>> {
    let first_minute = 1_709_287_200_000; // 2024-03-01T10:00:00Z
    let minutes = [0, 1, 60, 61].map(|offset| first_minute + offset * MINUTE);
    let mut rng = Rng(42);
    let timestamp = |rng: &mut Rng| {
        let time = rng.pick(&minutes) + rng.below(60) as i64 * 1000;
        ("timestamp", json!(format_millis(time)))
    };
    let services = [json!("api"), json!("web")];
    let statuses = [json!({"status": 200}), json!({"status": 404})];
    let tag_values = [
        json!(["b", "a"]),
        json!(["a", "b"]),
        json!("a"),
        json!(["a"]),
        json!([]),
        json!(null),
        json!(["c", "a"]),
    ];
    let regions = [json!("eu"), json!("us")];
    let latencies = [json!(0.5), json!(1.25)];
    let bytes = |rng: &mut Rng| ("bytes", json!(rng.below(5000)));

    let first: Vec<Fields> = (0..30)
        .map(|line| {
            let mut fields = vec![timestamp(&mut rng), ("service", rng.pick(&services))];
            if line >= 15 {
                fields.push(("req", rng.pick(&statuses)));
            }
            fields.push(bytes(&mut rng));
            fields.push(("__trace", json!(format!("t{line}"))));
            fields
        })
        .collect();
    let second: Vec<Fields> = (0..40)
        .map(|line| {
            let mut fields = vec![timestamp(&mut rng), ("service", rng.pick(&services))];
            if line % 3 != 0 {
                fields.push(("req", rng.pick(&statuses)));
            }
            // `region` is written before `tags` but first appears ten lines
            // later: discovery follows the lines, then the fields in a line.
            if line >= 20 {
                fields.push(("region", rng.pick(&regions)));
            }
            if line == 10 {
                fields.push(("tags", json!(["b", "a"])));
            } else if line > 10 {
                fields.push(("tags", rng.pick(&tag_values)));
            }
            if line >= 25 && line % 2 == 0 {
                fields.push(("latency", rng.pick(&latencies)));
            }
            fields.push(bytes(&mut rng));
            fields
        })
        .collect();
    let third: Vec<Fields> = (0..40)
        .map(|line| {
            let mut fields = vec![timestamp(&mut rng)];
            if line % 5 != 0 {
                fields.push(("service", rng.pick(&services)));
            }
            if line % 4 == 0 {
                // The shape of the first request's lines.
                fields.push(("req", rng.pick(&statuses)));
                fields.push(bytes(&mut rng));
                return fields;
            }
            fields.push(("req", rng.pick(&statuses)));
            fields.push(("region", rng.pick(&regions)));
            fields.push(("tags", rng.pick(&tag_values)));
            fields.push(("latency", rng.pick(&latencies)));
            if line >= 5 {
                fields.push(("ok", json!(rng.below(2) == 0)));
            }
            fields.push(("count", json!(7)));
            fields.push(bytes(&mut rng));
            fields
        })
        .collect();
    let late: Vec<Fields> = (0..30)
        .map(|line| {
            let mut fields = vec![timestamp(&mut rng), ("service", rng.pick(&services))];
            if line % 2 == 0 {
                fields.push(("req", rng.pick(&statuses)));
            }
            if line >= 10 && line % 3 != 0 {
                fields.push(("geo", json!({"zone": rng.pick(&["z1", "z2"])})));
            }
            fields.push(bytes(&mut rng));
            fields
        })
        .collect();
    vec![first, second, third, late]
}

/// A dimension value as rollup compares it: its values as text, sorted
/// (a lone string and a one-element array alike); `None` for null, absent
/// or an empty array.
type KeyValue = Option<Vec<String>>;

/// The oracle's rollup key: the minute and every discovered dimension.
type RollupKey = (i64, Vec<KeyValue>);

fn flatten(prefix: String, value: &Value, into: &mut BTreeMap<String, Value>) {
    match value {
        Value::Object(members) => {
            for (name, member) in members {
                flatten(format!("{prefix}.{name}"), member, into);
            }
        }
        other => {
            into.insert(prefix, other.clone());
        }
    }
}

fn key_value(value: Option<&Value>) -> KeyValue {
    let text = |value: &Value| match value {
        Value::String(text) => Some(text.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    };
    let mut values: Vec<String> = match value? {
        Value::Array(elements) => elements.iter().filter_map(text).collect(),
        scalar => text(scalar).into_iter().collect(),
    };
    values.sort();
    (!values.is_empty()).then_some(values)
}

/// The rollup key of a line, computed from the fields the test wrote.
fn rollup_key(fields: &Fields) -> RollupKey {
    let mut flat = BTreeMap::new();
    for (name, value) in fields {
        flatten((*name).to_owned(), value, &mut flat);
    }
    let time = flat
        .get("timestamp")
        .and_then(Value::as_str)
        .and_then(strata_storage::time::parse_iso_instant)
        .expect("every test line has an ISO timestamp");
    let minute = time.div_euclid(MINUTE);
    let dimensions = DISCOVERED
        .iter()
        .map(|(name, _)| key_value(flat.get(*name)))
        .collect();
    (minute, dimensions)
}

/// The dimensions of the datasource's spec as `(name, type)`.
fn spec_dimensions(described: &Value) -> Vec<(String, String)> {
    described["spec"]["dimensionsSpec"]["dimensions"]
        .as_array()
        .unwrap_or_else(|| panic!("the spec lists no dimensions: {described}"))
        .iter()
        .map(|dimension| {
            (
                dimension["name"].as_str().unwrap_or_default().to_owned(),
                dimension["type"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// Whether every hour of `described` shows exactly one segment, newer than
/// any of `older` for the same interval, and the real-time index is empty.
fn compacted_since(described: &Value, older: &[Value]) -> bool {
    let mut intervals: Vec<&Value> = segments(described).iter().map(|s| &s["interval"]).collect();
    intervals.sort_by_key(|interval| interval.as_str());
    let distinct = intervals.windows(2).all(|pair| pair[0] != pair[1]);
    let newer = segments(described).iter().all(|segment| {
        older
            .iter()
            .filter(|old| old["interval"] == segment["interval"])
            .all(|old| segment["version"].as_str() > old["version"].as_str())
    });
    described["realtime"]["events"] == 0 && distinct && newer
}

#[test]
fn schema_discovery_widens_the_spec_and_rolls_up_like_an_independent_count() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let server = StrataServer::start_in(&data_dir);
    let created = server.create_datasource(DISCOVERING_SPEC);
    assert_eq!(
        created["spec"]["dimensionsSpec"],
        json!({"dimensions": [], "useSchemaDiscovery": true}),
        "an empty dimension list means discovery: {created}"
    );

    let requests = discovery_requests();
    let (on_time, late) = requests.split_at(3);
    let key_sets: Vec<HashSet<RollupKey>> = requests
        .iter()
        .map(|lines| lines.iter().map(rollup_key).collect())
        .collect();
    // The test data must make a widened index merge new lines into rows it
    // held before the widening, and compaction merge rows of partitions
    // written with different dimensions.
    assert!(
        !key_sets[1].is_disjoint(&key_sets[0]) && !key_sets[2].is_disjoint(&key_sets[0]),
        "later lines should share rollup keys with the first request"
    );
    let on_time_keys: HashSet<&RollupKey> = key_sets[..3].iter().flatten().collect();
    assert!(
        key_sets[3].iter().any(|key| on_time_keys.contains(key)),
        "late lines should share rollup keys with the persisted rows"
    );
    let all_keys: HashSet<&RollupKey> = key_sets.iter().flatten().collect();
    let on_time_events: usize = on_time.iter().map(Vec::len).sum();
    assert!(
        on_time_keys.len() < on_time_events,
        "the data should roll up: {} keys",
        on_time_keys.len()
    );

    for lines in on_time {
        let (status, report) = server.ingest("discover", ndjson(lines), None);
        assert_all_accepted(status, &report, lines.len());
    }

    let expected_dimensions = |count: usize| -> Vec<(String, String)> {
        DISCOVERED[..count]
            .iter()
            .map(|(name, kind)| ((*name).to_owned(), (*kind).to_owned()))
            .collect()
    };
    let expected_realtime = |described: &Value| {
        assert_eq!(
            spec_dimensions(described),
            expected_dimensions(6),
            "{described}"
        );
        assert_eq!(
            described["spec"]["dimensionsSpec"]["useSchemaDiscovery"], true,
            "{described}"
        );
        assert_eq!(
            described["realtime"]["events"], on_time_events,
            "{described}"
        );
        assert_eq!(
            described["realtime"]["rollup_rows"],
            on_time_keys.len(),
            "rollup rows against the distinct (minute, dimensions) keys: {described}"
        );
        assert_eq!(described["segments"], json!([]), "{described}");
    };
    let described = describe(&server, "discover");
    expected_realtime(&described);
    for dimension in described["spec"]["dimensionsSpec"]["dimensions"]
        .as_array()
        .unwrap()
    {
        assert_eq!(
            dimension["rollup"], true,
            "discovered dimensions roll up: {dimension}"
        );
    }
    assert_eq!(
        described["spec"]["metricsSpec"],
        json!([
            {"type": "count", "name": "count"},
            {"type": "longSum", "name": "bytes", "fieldName": "bytes"}
        ])
    );

    // A crash: the WAL replays with the stored, widened spec.
    server.kill();
    let server = StrataServer::start_in(&data_dir);
    expected_realtime(&describe(&server, "discover"));
    assert!(server.terminate().success());

    // A persist writes the same rows into one segment per hour.
    let flags = ["--persist-period", "100ms", "--handoff-window", "1s"];
    let server = StrataServer::start_with(&data_dir, &flags);
    let persisted = wait_for(
        &server,
        "discover",
        Duration::from_secs(10),
        "the real-time index persisted",
        |described| {
            (described["realtime"]["events"] == 0 && !segments(described).is_empty())
                .then(|| described.clone())
        },
    );
    let segment_rows: u64 = segments(&persisted)
        .iter()
        .map(|s| u64_at(&s["rows"]))
        .sum();
    assert_eq!(segment_rows, on_time_keys.len() as u64, "{persisted:#}");
    assert_eq!(
        segments(&persisted).len(),
        2,
        "one segment per hour: {persisted:#}"
    );
    assert_eq!(spec_dimensions(&persisted), expected_dimensions(6));

    // Late lines with one more field: another partition per hour, then
    // compaction merges partitions written with different dimensions.
    let (status, report) = server.ingest("discover", ndjson(&late[0]), None);
    assert_all_accepted(status, &report, late[0].len());
    let described = describe(&server, "discover");
    assert_eq!(spec_dimensions(&described), expected_dimensions(7));
    let compacted = wait_for(
        &server,
        "discover",
        Duration::from_secs(10),
        "the late partitions compacted",
        |described| compacted_since(described, segments(&persisted)).then(|| described.clone()),
    );
    let segment_rows: u64 = segments(&compacted)
        .iter()
        .map(|s| u64_at(&s["rows"]))
        .sum();
    assert_eq!(
        segment_rows,
        all_keys.len() as u64,
        "compacted rows against the distinct keys of all lines: {compacted:#}"
    );
    assert_eq!(segments(&compacted).len(), 2, "{compacted:#}");
}

// ---------------------------------------------------------------------------
// Accepted window
// ---------------------------------------------------------------------------

#[test]
fn events_outside_the_accepted_window_are_rejected_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let server = StrataServer::start_with(
        &dir.path().join("data"),
        &[
            "--late-message-rejection-period",
            "1h",
            "--early-message-rejection-period",
            "1h",
        ],
    );
    let now = now_millis();
    // Two intervals around now with a gap 10 to 20 minutes ahead: inside
    // the rejection periods, outside the spec's intervals.
    let intervals = [
        format!(
            "{}/{}",
            format_millis(now - 24 * HOUR),
            format_millis(now + 10 * MINUTE)
        ),
        format!(
            "{}/{}",
            format_millis(now + 20 * MINUTE),
            format_millis(now + 24 * HOUR)
        ),
    ];
    server.create_datasource(
        &json!({
            "dataSource": "window",
            "dimensionsSpec": {"dimensions": ["host"]},
            "granularitySpec": {"segmentGranularity": "hour", "rollup": false, "intervals": intervals},
        })
        .to_string(),
    );

    let times = [
        now,                   // 1: accepted
        now - 2 * HOUR,        // 2: too late
        now + 2 * HOUR,        // 3: too early
        now + 15 * MINUTE,     // 4: in the gap between the intervals
        now - 30 * MINUTE,     // 5: accepted
        now + 30 * MINUTE,     // 6: accepted, in the second interval
        now - 48 * HOUR,       // 7: outside the intervals (checked first) and too late
        now + 10 * MINUTE,     // 8: the first interval's end is open
        now + 20 * MINUTE,     // 9: accepted, the second interval's start
        now + 10 * MINUTE - 1, // 10: accepted, the first interval's last millisecond
    ];
    let body: String = times
        .iter()
        .map(|&time| {
            format!(
                "{}\n",
                json!({"timestamp": format_millis(time), "host": "h1"})
            )
        })
        .collect();
    let (status, report) = server.ingest("window", body.into_bytes(), None);
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["accepted"], 5, "{report:#}");
    assert_eq!(report["rejected"], 5, "{report:#}");
    let errors = report["errors"].as_array().unwrap();
    let expected = [
        (2, "older than the accepted window"),
        (3, "later than the accepted window"),
        (4, "granularitySpec.intervals"),
        (7, "granularitySpec.intervals"),
        (8, "granularitySpec.intervals"),
    ];
    assert_eq!(errors.len(), expected.len(), "{report:#}");
    for (error, (line, reason)) in errors.iter().zip(expected) {
        assert_eq!(error["line"], line, "{report:#}");
        let message = error["message"].as_str().unwrap();
        assert!(message.contains(reason), "line {line}: {message}");
        let time = format_millis(times[line - 1]);
        assert!(
            message.contains(&time),
            "line {line} names its time {time}: {message}"
        );
    }
    assert!(
        errors[0]["message"]
            .as_str()
            .unwrap()
            .contains("--late-message-rejection-period"),
        "{report:#}"
    );

    let described = describe(&server, "window");
    assert_eq!(described["realtime"]["events"], 5, "{described:#}");
    let metrics = server.get_text("/metrics");
    assert_eq!(
        metric(&metrics, "strata_ingest_events_rejected_total", "window"),
        Some(5.0),
        "{metrics}"
    );
    assert_eq!(
        metric(&metrics, "strata_ingest_events_accepted_total", "window"),
        Some(5.0),
        "{metrics}"
    );
}

// ---------------------------------------------------------------------------
// Handoff and compaction
// ---------------------------------------------------------------------------

/// Short handoff window; persists only by handoff.
const HANDOFF_FLAGS: [&str; 6] = [
    "--handoff-window",
    "1s",
    "--persist-period",
    "1h",
    "--max-realtime-rows",
    "100000000",
];

const HANDOFF_SPEC: &str = r#"{
    "dataSource": "handoff",
    "dimensionsSpec": {"dimensions": ["host", {"type": "long", "name": "n"}]},
    "granularitySpec": {"segmentGranularity": "hour", "queryGranularity": "none", "rollup": false}
}"#;

/// 2024-01-01T10:00:00Z: a past hour, closed long ago.
const PAST_HOUR: i64 = 1_704_103_200_000;
const PAST_INTERVAL: &str = "2024-01-01T10:00:00.000Z/2024-01-01T11:00:00.000Z";

/// `count` events spread over the hour starting at `hour`, numbered from `first`.
fn hour_events(hour: i64, first: u64, count: u64) -> Vec<u8> {
    (first..first + count)
        .map(|n| {
            let time = hour + (n as i64 * 7_919) % HOUR;
            format!(
                "{}\n",
                json!({"timestamp": format_millis(time), "host": format!("h{}", n % 5), "n": n})
            )
        })
        .collect::<String>()
        .into_bytes()
}

fn segments_of<'a>(described: &'a Value, interval: &str) -> Vec<&'a Value> {
    segments(described)
        .iter()
        .filter(|segment| segment["interval"] == interval)
        .collect()
}

/// Waits until the past hour's first chunk is handed off: nothing left in
/// the real-time index and one segment. Returns that segment's version.
fn wait_first_handoff(server: &StrataServer, events: u64) -> String {
    let described = wait_for(
        server,
        "handoff",
        Duration::from_secs(10),
        "the closed chunk handed off",
        |described| {
            assert_eq!(events_everywhere(described), events, "{described:#}");
            (described["realtime"]["events"] == 0).then(|| described.clone())
        },
    );
    let segments = segments(&described);
    assert_eq!(segments.len(), 1, "{described:#}");
    let segment = &segments[0];
    assert_eq!(segment["interval"], PAST_INTERVAL, "{described:#}");
    assert_eq!(segment["partition"], 0, "{described:#}");
    assert_eq!(segment["rows"], events, "{described:#}");
    segment["version"].as_str().unwrap().to_owned()
}

/// What the past hour looks like while late data goes through, in the
/// order it goes through them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum PastHour {
    /// Late events still in the real-time index (or being handed off).
    LateInMemory,
    /// Two partitions of the first version, the late one published.
    TwoPartitions,
    /// One segment of a newer version holding every event.
    Compacted,
}

/// Classifies the past hour, checking each state for what it must hold.
fn past_hour(described: &Value, first_version: &str, first: u64, late: u64) -> PastHour {
    let past = segments_of(described, PAST_INTERVAL);
    match past.as_slice() {
        [only] if only["version"] == first_version => {
            assert_eq!(only["rows"], first, "{described:#}");
            PastHour::LateInMemory
        }
        [only] => {
            assert!(
                only["version"].as_str().unwrap() > first_version,
                "compaction writes a newer version: {described:#}"
            );
            assert_eq!(only["partition"], 0, "{described:#}");
            assert_eq!(only["rows"], first + late, "{described:#}");
            PastHour::Compacted
        }
        [a, b] => {
            let mut partitions = [(&a["partition"], &a["rows"]), (&b["partition"], &b["rows"])];
            partitions.sort_by_key(|(partition, _)| partition.as_u64());
            assert_eq!(
                partitions,
                [(&json!(0), &json!(first)), (&json!(1), &json!(late))],
                "{described:#}"
            );
            assert!(
                a["version"] == first_version && b["version"] == first_version,
                "a late partition joins the first version: {described:#}"
            );
            PastHour::TwoPartitions
        }
        _ => panic!("unexpected segments for {PAST_INTERVAL}: {described:#}"),
    }
}

#[test]
fn closed_chunks_are_handed_off_and_late_partitions_compacted() {
    let dir = tempfile::tempdir().unwrap();
    let server = StrataServer::start_with(&dir.path().join("data"), &HANDOFF_FLAGS);
    server.create_datasource(HANDOFF_SPEC);
    let (first, late, current) = (50, 30, 20);

    let started = Instant::now();
    let (status, report) = server.ingest("handoff", hour_events(PAST_HOUR, 0, first), None);
    assert_all_accepted(status, &report, first as usize);
    let first_version = wait_first_handoff(&server, first);
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "handed off {:?} after its first event, before the 1 s window",
        started.elapsed()
    );

    // Events for the current hour: their chunk has not ended, so it stays.
    // Near the end of an hour, the next one stands in for it.
    let now = now_millis();
    let mut current_hour = now.div_euclid(HOUR) * HOUR;
    if current_hour + HOUR - now < MINUTE {
        current_hour += HOUR;
    }
    let (status, report) = server.ingest("handoff", hour_events(current_hour, 0, current), None);
    assert_all_accepted(status, &report, current as usize);
    let current_ingested = Instant::now();
    let (status, report) = server.ingest("handoff", hour_events(PAST_HOUR, first, late), None);
    assert_all_accepted(status, &report, late as usize);
    let total = first + late + current;

    // Polled every 50 ms, the past hour goes through its states in order
    // (a slow poll may skip one), never back.
    let mut last = PastHour::LateInMemory;
    wait_for(
        &server,
        "handoff",
        Duration::from_secs(10),
        "the late partition compacted",
        |described| {
            assert_eq!(events_everywhere(described), total, "{described:#}");
            let state = past_hour(described, &first_version, first, late);
            assert!(
                last <= state,
                "the past hour went from {last:?} back to {state:?}: {described:#}"
            );
            last = state;
            (state == PastHour::Compacted).then_some(())
        },
    );

    // The current hour's chunk stays in memory for several handoff windows.
    let held_for = Duration::from_secs(3);
    if let Some(left) = held_for.checked_sub(current_ingested.elapsed()) {
        std::thread::sleep(left);
    }
    let described = describe(&server, "handoff");
    assert_eq!(
        described["realtime"]["events"], current,
        "the open chunk stays in the real-time index: {described:#}"
    );
    assert_eq!(segments(&described).len(), 1, "{described:#}");
    assert_eq!(events_everywhere(&described), total);

    // The compactor counts a compaction once it has published it: the
    // counter may trail the published state by a moment.
    let counted = Instant::now();
    let metrics = loop {
        let metrics = server.get_text("/metrics");
        let compactions = metric(&metrics, "strata_compactions_total", "handoff");
        if compactions == Some(1.0) || counted.elapsed() > Duration::from_secs(5) {
            break metrics;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(
        metric(&metrics, "strata_compactions_total", "handoff"),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        metric(&metrics, "strata_persists_total", "handoff"),
        Some(2.0),
        "{metrics}"
    );
    assert_eq!(
        metric(&metrics, "strata_segments_published_total", "handoff"),
        Some(2.0),
        "two handoffs, one segment each: {metrics}"
    );
}

#[test]
fn a_crash_between_handoff_and_compaction_loses_and_doubles_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let server = StrataServer::start_with(&data_dir, &HANDOFF_FLAGS);
    server.create_datasource(HANDOFF_SPEC);
    let (first, late) = (40, 25);
    let total = first + late;

    let (status, report) = server.ingest("handoff", hour_events(PAST_HOUR, 0, first), None);
    assert_all_accepted(status, &report, first as usize);
    let first_version = wait_first_handoff(&server, first);

    // Late events acknowledged, then a crash before their chunk closes: they
    // are in the WAL only, beside a published segment of the same interval.
    let (status, report) = server.ingest("handoff", hour_events(PAST_HOUR, first, late), None);
    assert_all_accepted(status, &report, late as usize);
    server.kill();

    // The replayed chunk opens anew and closes a handoff window later; a
    // slow start may let that pass before the first look.
    let server = StrataServer::start_with(&data_dir, &HANDOFF_FLAGS);
    let described = describe(&server, "handoff");
    assert_eq!(events_everywhere(&described), total, "{described:#}");
    past_hour(&described, &first_version, first, late);

    // The replayed chunk is handed off as a second partition; crash again
    // as soon as it shows (or, if compaction was quicker, once compacted).
    let state = wait_for(
        &server,
        "handoff",
        Duration::from_secs(10),
        "the late chunk handed off",
        |described| {
            assert_eq!(events_everywhere(described), total, "{described:#}");
            match past_hour(described, &first_version, first, late) {
                PastHour::LateInMemory => None,
                state => Some(state),
            }
        },
    );
    server.kill();

    let server = StrataServer::start_with(&data_dir, &HANDOFF_FLAGS);
    let described = describe(&server, "handoff");
    assert_eq!(events_everywhere(&described), total, "{described:#}");
    assert_eq!(described["realtime"]["events"], 0, "{described:#}");
    let after_restart = past_hour(&described, &first_version, first, late);
    assert!(
        state == PastHour::TwoPartitions || after_restart == PastHour::Compacted,
        "compacted before the crash, two partitions after it: {described:#}"
    );

    let described = wait_for(
        &server,
        "handoff",
        Duration::from_secs(10),
        "the partitions compacted after the restart",
        |described| {
            assert_eq!(events_everywhere(described), total, "{described:#}");
            (past_hour(described, &first_version, first, late) == PastHour::Compacted)
                .then(|| described.clone())
        },
    );
    assert_eq!(segments(&described).len(), 1, "{described:#}");
}
