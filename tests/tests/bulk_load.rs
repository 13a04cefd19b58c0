//! `strata load` and the Druid batch task API against the real binary: the
//! same events as gzip'd NDJSON, CSV and Parquet written by pyarrow load to
//! the same answers, which an oracle computes from the events; loading twice
//! replaces, `--append` adds; a load killed with SIGKILL publishes nothing;
//! bad rows are reported at their line and the rest loads.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use strata_tests::web_events::{WebEvent, web_body, web_events, web_spec};
use strata_tests::{StrataServer, strata_bin};

/// Per (service, status): events, bytes, duration.
type Totals = BTreeMap<(String, String), (i64, i64, f64)>;

fn oracle(events: &[WebEvent]) -> Totals {
    let mut totals = Totals::new();
    for event in events {
        let entry = totals
            .entry((event.service.to_owned(), event.status.to_string()))
            .or_default();
        entry.0 += 1;
        entry.1 += event.bytes;
        entry.2 += event.duration;
    }
    totals
}

fn totals(server: &StrataServer, datasource: &str) -> Totals {
    let query = json!({
        "queryType": "groupBy", "dataSource": datasource,
        "intervals": ["2024-01-01/2024-01-05"], "granularity": "all",
        "dimensions": ["service", "status"],
        "aggregations": [
            {"type": "longSum", "name": "count", "fieldName": "count"},
            {"type": "longSum", "name": "bytes", "fieldName": "bytes"},
            {"type": "doubleSum", "name": "duration", "fieldName": "duration"}
        ]
    });
    let (status, rows) = server.post_json("/druid/v2", &query.to_string());
    assert_eq!(status, 200, "{rows}");
    let text = |value: &Value| match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    rows.as_array()
        .unwrap()
        .iter()
        .map(|row| {
            let event = &row["event"];
            (
                (text(&event["service"]), text(&event["status"])),
                (
                    event["count"].as_i64().unwrap(),
                    event["bytes"].as_i64().unwrap(),
                    event["duration"].as_f64().unwrap(),
                ),
            )
        })
        .collect()
}

fn events_stored(server: &StrataServer, datasource: &str) -> i64 {
    totals(server, datasource).values().map(|t| t.0).sum()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn csv(events: &[WebEvent]) -> Vec<u8> {
    let mut out = b"timestamp,service,status,user,bytes,duration_ms\n".to_vec();
    for event in events {
        writeln!(
            out,
            "{},{},{},{},{},{}",
            event.timestamp(),
            event.service,
            event.status,
            event.user,
            event.bytes,
            event.duration
        )
        .unwrap();
    }
    out
}

/// Writes `events` as Parquet with pyarrow (tests/python/write_parquet.py).
fn parquet_by_pyarrow(events: &[WebEvent], dir: &Path) -> PathBuf {
    let python = std::env::var_os("STRATA_TEST_PYTHON").unwrap_or_else(|| {
        panic!(
            "STRATA_TEST_PYTHON is not set: run the tests through ./scripts/test.sh, \
             which makes the virtualenv with pyarrow and sets it"
        )
    });
    let manifest_dir =
        std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into());
    let script = Path::new(&manifest_dir).join("python/write_parquet.py");
    let source = dir.join("for-pyarrow.ndjson");
    std::fs::write(&source, web_body(events)).unwrap();
    let target = dir.join("export.parquet");
    let output = Command::new(&python)
        .arg(&script)
        .arg(&source)
        .arg(&target)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "pyarrow failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    target
}

fn write_spec(dir: &Path, datasource: &str) -> PathBuf {
    let path = dir.join(format!("{datasource}.spec.json"));
    std::fs::write(&path, web_spec(datasource, true)).unwrap();
    path
}

fn strata_load(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Output {
    Command::new(strata_bin())
        .arg("load")
        .args(args.iter().map(|arg| arg.as_ref()))
        .output()
        .unwrap()
}

fn succeeded(output: &Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "strata load failed: {}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[test]
fn every_format_loads_through_the_server_to_the_same_answers() {
    let events = web_events(11, 5_000);
    let dir = tempfile::tempdir().unwrap();
    let ndjson_gz = dir.path().join("events.ndjson.gz");
    std::fs::write(&ndjson_gz, gzip(&web_body(&events))).unwrap();
    let table = dir.path().join("events.csv");
    std::fs::write(&table, csv(&events)).unwrap();
    let parquet = parquet_by_pyarrow(&events, dir.path());

    let server = StrataServer::start();
    let url = server.url("");
    let expected = oracle(&events);
    for (datasource, path) in [
        ("bl_ndjson", &ndjson_gz),
        ("bl_csv", &table),
        ("bl_parquet", &parquet),
    ] {
        let spec = write_spec(dir.path(), datasource);
        let report = succeeded(&strata_load(&[
            &"--server",
            &url,
            &"--spec",
            &spec,
            &"--datasource",
            &datasource,
            path,
        ]));
        assert!(
            report.contains("rows read: 5000, rejected: 0"),
            "{datasource}: {report}"
        );
        assert_eq!(totals(&server, datasource), expected, "{datasource}");
    }
}

#[test]
fn a_second_load_replaces_append_adds_and_a_held_directory_is_refused() {
    let events = web_events(12, 3_000);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let input = dir.path().join("events.ndjson.gz");
    std::fs::write(&input, gzip(&web_body(&events))).unwrap();
    let spec = write_spec(dir.path(), "bl");
    let load = |extra: &[&dyn AsRef<std::ffi::OsStr>]| {
        let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![
            &"--data-dir",
            &data,
            &"--spec",
            &spec,
            &"--datasource",
            &"bl",
            &input,
        ];
        args.extend_from_slice(extra);
        strata_load(&args)
    };
    succeeded(&load(&[]));
    let second = succeeded(&load(&[]));
    assert!(second.contains("segments replaced: 3"), "{second}");

    let server = StrataServer::start_in(&data);
    assert_eq!(
        totals(&server, "bl"),
        oracle(&events),
        "loaded twice, stored once"
    );
    let refused = load(&[]);
    assert!(!refused.status.success());
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(
        message.contains("in use by another process") && message.contains("--server"),
        "{message}"
    );
    server.terminate();

    succeeded(&load(&[&"--append"]));
    let server = StrataServer::start_in(&data);
    assert_eq!(events_stored(&server, "bl"), 6_000, "--append adds");
}

#[test]
fn a_load_killed_midway_publishes_nothing_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let spec = write_spec(dir.path(), "bl");
    let first = web_events(13, 1_000);
    let small = dir.path().join("first.ndjson");
    std::fs::write(&small, web_body(&first)).unwrap();
    succeeded(&strata_load(&[
        &"--data-dir",
        &data,
        &"--spec",
        &spec,
        &"--datasource",
        &"bl",
        &small,
    ]));

    let big = dir.path().join("big.ndjson");
    std::fs::write(&big, web_body(&web_events(14, 300_000))).unwrap();
    let mut child = Command::new(strata_bin())
        .args([
            "load",
            "--memory",
            "1MiB",
            "--threads",
            "1",
            "--datasource",
            "bl",
        ])
        .arg("--data-dir")
        .arg(&data)
        .arg(&big)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let segments = data.join("segments/bl");
    let before = std::fs::read_dir(&segments).unwrap().count();
    let deadline = Instant::now() + Duration::from_secs(120);
    while std::fs::read_dir(&segments).unwrap().count() <= before {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the load ended before it wrote a partition"
        );
        assert!(
            Instant::now() < deadline,
            "no partition written in two minutes"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        std::fs::read_dir(&segments).unwrap().count() > before,
        "the killed load left unpublished partitions for the next start to sweep"
    );

    let server = StrataServer::start_in(&data);
    assert_eq!(
        totals(&server, "bl"),
        oracle(&first),
        "the killed load published nothing"
    );
    assert_eq!(
        std::fs::read_dir(&segments).unwrap().count(),
        before,
        "the start swept the killed load's partitions"
    );
}

#[test]
fn bad_rows_are_reported_at_their_line_and_max_errors_publishes_nothing() {
    let events = web_events(15, 200);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let spec = write_spec(dir.path(), "bl");
    let mut lines: Vec<String> = String::from_utf8(web_body(&events))
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    lines.insert(
        1,
        r#"{"timestamp": "2024-01-01T00:00:00Z", "status": "teapot"}"#.to_owned(),
    );
    lines.insert(4, "not json at all".to_owned());
    let bad = dir.path().join("bad.ndjson");
    std::fs::write(&bad, lines.join("\n")).unwrap();

    let refused = strata_load(&[
        &"--data-dir",
        &data,
        &"--spec",
        &spec,
        &"--datasource",
        &"bl",
        &"--max-errors",
        &"1",
        &bad,
    ]);
    assert!(!refused.status.success());
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(message.contains("more than --max-errors 1"), "{message}");

    let report = succeeded(&strata_load(&[
        &"--data-dir",
        &data,
        &"--datasource",
        &"bl",
        &bad,
    ]));
    assert!(report.contains("rows read: 202, rejected: 2"), "{report}");
    assert!(
        report.contains("bad.ndjson line 2: ") && report.contains("teapot"),
        "{report}"
    );
    assert!(
        report.contains("bad.ndjson line 5: ") && report.contains("not valid JSON"),
        "{report}"
    );
    let server = StrataServer::start_in(&data);
    assert_eq!(totals(&server, "bl"), oracle(&events));
}

#[test]
fn druid_index_parallel_tasks_load_local_and_inline_data() {
    let events = web_events(16, 2_000);
    let dir = tempfile::tempdir().unwrap();
    let inputs = dir.path().join("inputs");
    std::fs::create_dir_all(inputs.join("part")).unwrap();
    std::fs::write(inputs.join("part/events.json.gz"), gzip(&web_body(&events))).unwrap();
    std::fs::write(inputs.join("notes.txt"), "not an input").unwrap();
    let server = StrataServer::start();
    let data_schema: Value = serde_json::from_str(&web_spec("bl_task", true)).unwrap();
    let task = |input_source: Value, tuning: Value| {
        json!({"type": "index_parallel", "spec": {
            "dataSchema": data_schema,
            "ioConfig": {"type": "index_parallel", "inputSource": input_source,
                "inputFormat": {"type": "json"}, "appendToExisting": false},
            "tuningConfig": tuning,
        }})
        .to_string()
    };
    let run = |body: String| -> (String, Value) {
        let (status, submitted) = server.post_json("/druid/indexer/v1/task", &body);
        assert_eq!(status, 200, "{submitted}");
        let id = submitted["task"].as_str().unwrap().to_owned();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let status = server.get_json(&format!("/druid/indexer/v1/task/{id}/status"));
            match status["status"]["status"].as_str() {
                Some("RUNNING") => {
                    assert!(Instant::now() < deadline, "the task ran for a minute");
                    std::thread::sleep(Duration::from_millis(50));
                }
                _ => return (id, status),
            }
        }
    };

    let (id, status) = run(task(
        json!({"type": "local", "baseDir": inputs, "filter": "*.json.gz"}),
        json!({"type": "index_parallel", "maxParseExceptions": 0}),
    ));
    assert_eq!(status["status"]["status"], "SUCCESS", "{status}");
    assert_eq!(status["status"]["dataSource"], "bl_task");
    assert_eq!(totals(&server, "bl_task"), oracle(&events));
    let reports = server.get_json(&format!("/druid/indexer/v1/task/{id}/reports"));
    let stats = &reports["ingestionStatsAndErrors"]["payload"]["rowStats"]["buildSegments"];
    assert_eq!(
        (stats["processed"].as_u64(), stats["unparseable"].as_u64()),
        (Some(2_000), Some(0)),
        "{reports}"
    );

    // Inline data for one hour of 2024-01-01 replaces that day's chunk.
    let inline = "{\"timestamp\": \"2024-01-01T05:00:00Z\", \"service\": \"api\", \"status\": 200, \"bytes\": 1}\nnot json\n";
    let (id, status) = run(task(
        json!({"type": "inline", "data": inline}),
        json!({"type": "index_parallel", "maxParseExceptions": 0}),
    ));
    assert_eq!(
        status["status"]["status"], "FAILED",
        "one bad row is over maxParseExceptions 0"
    );
    let reason = status["status"]["errorMsg"].as_str().unwrap();
    assert!(reason.contains("inline.ndjson line 2"), "{reason}");
    assert_eq!(
        totals(&server, "bl_task"),
        oracle(&events),
        "a failed task published nothing"
    );
    let _ = id;

    let (_, status) = run(task(json!({"type": "inline", "data": inline}), json!({})));
    assert_eq!(status["status"]["status"], "SUCCESS", "{status}");
    let kept: Vec<WebEvent> = events.iter().filter(|e| e.day != 1).cloned().collect();
    assert_eq!(events_stored(&server, "bl_task"), kept.len() as i64 + 1);

    let (status, refused) = server.post_json(
        "/druid/indexer/v1/task",
        &task(json!({"type": "s3", "uris": ["s3://x"]}), json!({})),
    );
    assert_eq!(status, 400, "{refused}");
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("`s3` is not supported"),
        "{refused}"
    );
}
