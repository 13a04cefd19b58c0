//! Druid's `segmentMetadata` over HTTP, on persisted segments: one answer
//! per segment the catalog lists (same ids, intervals and rows as
//! `GET /v1/datasources/{name}`), the columns typed as Druid types them,
//! and `merge: true` folding them into one.

use serde_json::{Value, json};
use strata_tests::StrataServer;
use strata_tests::web_events::{web_body, web_events, web_spec};

fn druid(server: &StrataServer, query: Value) -> Value {
    let (status, answer) = server.post_json("/druid/v2", &query.to_string());
    assert_eq!(status, 200, "{query}: {answer}");
    answer
}

fn check_segments(server: &StrataServer, name: &str, rollup: bool) {
    let described = server.get_json(&format!("/v1/datasources/{name}"));
    let segments = described["segments"].as_array().unwrap();
    assert_eq!(segments.len(), 3, "one segment per day: {described}");

    let answer = druid(
        server,
        json!({"queryType": "segmentMetadata", "dataSource": name,
               "analysisTypes": ["cardinality", "size", "interval", "aggregators", "rollup"]}),
    );
    let analyses = answer.as_array().unwrap();
    assert_eq!(analyses.len(), segments.len(), "{answer}");
    for (analysis, segment) in analyses.iter().zip(segments) {
        assert_eq!(analysis["id"], segment["id"], "{analysis}");
        assert_eq!(analysis["intervals"], json!([segment["interval"]]));
        assert_eq!(analysis["numRows"], segment["rows"]);
        assert_eq!(analysis["size"], segment["bytes"]);
        assert_eq!(analysis["rollup"], rollup);
        let columns = &analysis["columns"];
        assert_eq!(columns["__time"]["type"], "LONG", "{analysis}");
        assert_eq!(columns["service"]["type"], "STRING", "{analysis}");
        assert_eq!(columns["service"]["hasMultipleValues"], false);
        assert_eq!(columns["service"]["cardinality"], 3, "{analysis}");
        assert_eq!(columns["user"]["type"], "STRING");
        assert_eq!(columns["user"]["cardinality"], 11, "{analysis}");
        assert_eq!(columns["status"]["type"], "LONG");
        assert_eq!(columns["status"]["cardinality"], Value::Null);
        assert_eq!(columns["bytes"]["type"], "LONG", "{analysis}");
        if rollup {
            assert_eq!(columns["slowest"]["type"], "DOUBLE", "{analysis}");
            assert_eq!(columns["count"]["type"], "LONG", "{analysis}");
        } else {
            // Without rollup a segment keeps the events' fields, which
            // queries aggregate; the metrics are not stored columns.
            assert_eq!(columns["duration_ms"]["type"], "DOUBLE", "{analysis}");
            assert_eq!(columns["slowest"], Value::Null, "{analysis}");
        }
        assert!(columns["service"]["size"].as_u64().unwrap() > 0);
        assert_eq!(
            analysis["aggregators"]["bytes"],
            json!({"type": "longSum", "name": "bytes", "fieldName": "bytes"})
        );
    }

    // One day: only the segment that overlaps it.
    let day = druid(
        server,
        json!({"queryType": "segmentMetadata", "dataSource": name,
               "intervals": ["2024-01-02/2024-01-03"]}),
    );
    assert_eq!(day.as_array().unwrap().len(), 1, "{day}");
    assert_eq!(
        day[0]["intervals"],
        json!(["2024-01-02T00:00:00.000Z/2024-01-03T00:00:00.000Z"])
    );
    // Without `size` in the analysis types, sizes are 0, as in Druid.
    assert_eq!(day[0]["size"], 0);
    assert_eq!(day[0]["aggregators"], Value::Null);

    let merged = druid(
        server,
        json!({"queryType": "segmentMetadata", "dataSource": name, "merge": true,
               "analysisTypes": ["size", "interval"]}),
    );
    assert_eq!(merged.as_array().unwrap().len(), 1, "{merged}");
    assert_eq!(merged[0]["id"], "merged");
    assert_eq!(merged[0]["numRows"], described["rows"]);
    assert_eq!(merged[0]["size"], described["bytes"]);
    assert_eq!(
        merged[0]["intervals"],
        json!(["2024-01-01T00:00:00.000Z/2024-01-04T00:00:00.000Z"])
    );
}

#[test]
fn segment_metadata_describes_every_persisted_segment() {
    let dir = tempfile::tempdir().unwrap();
    let sent = web_events(7, 600);
    let server = StrataServer::start_with(dir.path(), &["--persist-period", "100ms"]);
    for (name, rollup) in [("rolled", true), ("raw", false)] {
        server.create_datasource(&web_spec(name, rollup));
        server.ingest_all(name, web_body(&sent), sent.len());
        server.wait_until_persisted(name);
        check_segments(&server, name, rollup);
    }

    let (status, error) = server.post_json(
        "/druid/v2",
        &json!({"queryType": "segmentMetadata", "dataSource": "rolled",
                "analysisTypes": ["bitmap"]})
        .to_string(),
    );
    assert_eq!(status, 400, "{error}");
    assert!(
        error["errorMessage"]
            .as_str()
            .unwrap()
            .starts_with("analysisTypes[0]: "),
        "{error}"
    );
    assert!(server.terminate().success());
}
