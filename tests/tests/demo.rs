//! `strata serve --demo`: the first start loads the reference dataset into
//! `access` and persists it; a restart on the same data loads nothing again.

use strata_tests::StrataServer;

const DEMO_FLAGS: [&str; 3] = ["--demo", "--demo-events", "5000"];

/// The value of `strata_ingest_events_<outcome>_total` for `access`.
fn ingest_counter(server: &StrataServer, outcome: &str) -> Option<u64> {
    let metrics = server.get_text("/metrics");
    let series = format!("strata_ingest_events_{outcome}_total{{datasource=\"access\"}} ");
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(series.as_str()))
        .map(|value| value.trim().parse().unwrap())
}

#[test]
fn demo_loads_the_reference_dataset_once() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");

    let server = StrataServer::start_with(&data_dir, &DEMO_FLAGS);
    let first = server.get_json("/v1/datasources/access");
    assert_eq!(first["name"], "access");
    assert_eq!(ingest_counter(&server, "accepted"), Some(5000));
    assert_eq!(ingest_counter(&server, "rejected"), Some(0));
    // Persisted: nothing left in memory, every event rolled up into segments.
    assert_eq!(first["realtime"]["events"], 0, "{first}");
    let segments = first["segments"].as_array().unwrap();
    assert!(!segments.is_empty(), "{first}");
    let rows = first["rows"].as_u64().unwrap();
    assert!((1..=5000).contains(&rows), "{first}");
    assert_eq!(
        segments
            .iter()
            .map(|s| s["rows"].as_u64().unwrap())
            .sum::<u64>(),
        rows
    );
    // The reference dataset spans the week from 2024-01-01.
    assert!(
        first["time_bounds"]["min"]
            .as_str()
            .unwrap()
            .starts_with("2024-01-01"),
        "{first}"
    );
    assert!(server.terminate().success());

    let server = StrataServer::start_with(&data_dir, &DEMO_FLAGS);
    let second = server.get_json("/v1/datasources/access");
    assert_eq!(second["segments"], first["segments"]);
    assert_eq!(second["rows"], rows);
    assert_eq!(second["realtime"]["events"], 0);
    assert_eq!(ingest_counter(&server, "accepted").unwrap_or(0), 0);
    let names = server.get_json("/v1/datasources");
    assert_eq!(names, serde_json::json!(["access"]));
}
