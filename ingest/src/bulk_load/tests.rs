//! Loads of the same events from every format, checked against the events
//! themselves: what is stored is read back out of the published segments.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray, TimestampMillisecondArray};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use strata_storage::catalog::{Catalog, FileCatalog};
use strata_storage::segment::arrow_export::record_batches;
use strata_storage::segment::{Segment, TableKind};
use strata_storage::spec::DataSourceSpec;

use super::*;

const SPEC: &str = r#"{
    "dataSource": "logs",
    "timestampSpec": {"column": "timestamp", "format": "auto"},
    "dimensionsSpec": {"dimensions": [
        "service", {"type": "long", "name": "status"}, {"type": "text", "name": "message"}
    ]},
    "metricsSpec": [
        {"type": "count", "name": "count"},
        {"type": "longSum", "name": "bytes", "fieldName": "bytes"}
    ],
    "granularitySpec": {"segmentGranularity": "day", "queryGranularity": "hour", "rollup": true}
}"#;

/// 2024-01-01T00:00:00Z.
const START: i64 = 1_704_067_200_000;

#[derive(Debug, Clone)]
struct Event {
    time: i64,
    service: String,
    status: i64,
    message: String,
    bytes: i64,
}

/// `n` events over three days, in no particular time order.
fn events(n: usize) -> Vec<Event> {
    (0..n)
        .map(|i| {
            let i = i as i64;
            Event {
                time: START + (i * 7_919 % 259_200) * 1_000 + i % 1_000,
                service: format!("svc-{}", i % 5),
                status: [200, 200, 404, 500][(i % 4) as usize],
                message: format!("GET /r{} took {} ms, \"quoted\", comma", i % 17, i % 300),
                bytes: i * 3 % 10_000,
            }
        })
        .collect()
}

fn iso(millis: i64) -> String {
    chrono::DateTime::from_timestamp_millis(millis)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

fn ndjson(events: &[Event]) -> Vec<u8> {
    let mut out = Vec::new();
    for event in events {
        let line = serde_json::json!({
            "timestamp": iso(event.time),
            "service": event.service,
            "status": event.status,
            "message": event.message,
            "bytes": event.bytes,
            "ignored": [1, 2, 3],
        });
        writeln!(out, "{line}").unwrap();
    }
    out
}

fn csv(events: &[Event]) -> Vec<u8> {
    let mut out = b"timestamp,service,status,message,bytes\n".to_vec();
    for event in events {
        let message = event.message.replace('"', "\"\"");
        writeln!(
            out,
            "{},{},{},\"{message}\",{}",
            event.time, event.service, event.status, event.bytes
        )
        .unwrap();
    }
    out
}

fn batch(events: &[Event]) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new(
            "timestamp",
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            false,
        ),
        Field::new("service", DataType::Utf8, false),
        Field::new("status", DataType::Int64, false),
        Field::new("message", DataType::Utf8, false),
        Field::new("bytes", DataType::Int64, false),
        Field::new("unused", DataType::Utf8, false),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(
            TimestampMillisecondArray::from_iter_values(events.iter().map(|e| e.time))
                .with_timezone("UTC"),
        ),
        Arc::new(StringArray::from_iter_values(
            events.iter().map(|e| &e.service),
        )),
        Arc::new(Int64Array::from_iter_values(
            events.iter().map(|e| e.status),
        )),
        Arc::new(StringArray::from_iter_values(
            events.iter().map(|e| &e.message),
        )),
        Arc::new(Int64Array::from_iter_values(events.iter().map(|e| e.bytes))),
        Arc::new(StringArray::from_iter_values(events.iter().map(|_| "x"))),
    ];
    RecordBatch::try_new(schema, columns).unwrap()
}

fn parquet(events: &[Event]) -> Vec<u8> {
    let batch = batch(events);
    let properties = parquet::file::properties::WriterProperties::builder()
        .set_max_row_group_row_count(Some(700))
        .build();
    let mut out = Vec::new();
    let mut writer =
        parquet::arrow::ArrowWriter::try_new(&mut out, batch.schema(), Some(properties)).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    out
}

fn arrow_file(events: &[Event]) -> Vec<u8> {
    let batch = batch(events);
    let mut out = Vec::new();
    let mut writer = arrow::ipc::writer::FileWriter::try_new(&mut out, &batch.schema()).unwrap();
    writer.write(&batch.slice(0, events.len() / 2)).unwrap();
    writer
        .write(&batch.slice(events.len() / 2, events.len() - events.len() / 2))
        .unwrap();
    writer.finish().unwrap();
    drop(writer);
    out
}

fn arrow_stream(events: &[Event]) -> Vec<u8> {
    let batch = batch(events);
    let mut out = Vec::new();
    let mut writer = arrow::ipc::writer::StreamWriter::try_new(&mut out, &batch.schema()).unwrap();
    writer.write(&batch).unwrap();
    writer.finish().unwrap();
    drop(writer);
    out
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

struct Store {
    dir: tempfile::TempDir,
    catalog: FileCatalog,
}

fn store() -> Store {
    let dir = tempfile::tempdir().unwrap();
    let catalog = FileCatalog::open(dir.path().join("data")).unwrap();
    catalog
        .create_datasource(DataSourceSpec::from_json(SPEC).unwrap())
        .unwrap();
    Store { dir, catalog }
}

impl Store {
    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    fn load(&self, paths: &[&Path], options: &LoadOptions) -> Result<LoadReport, LoadError> {
        let paths: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        let inputs = find_inputs(&paths, None)?;
        load(
            &self.catalog,
            "logs",
            &inputs,
            options,
            &LoadProgress::default(),
        )
    }

    fn published_segments(&self) -> usize {
        self.catalog.datasource("logs").unwrap().segments.len()
    }

    /// Every events row of the visible segments, as sorted text.
    fn stored_events(&self) -> Vec<String> {
        let mut rows = Vec::new();
        for segment in &self.catalog.datasource("logs").unwrap().segments {
            let opened = Segment::open(&self.catalog.segment_dir(&segment.id)).unwrap();
            let table = opened.table(TableKind::Events).unwrap();
            for batch in record_batches(table).unwrap() {
                let batch = batch.unwrap();
                let options = FormatOptions::default();
                // Times as epoch milliseconds, to compare with the events.
                let columns: Vec<ArrayRef> = batch
                    .columns()
                    .iter()
                    .map(|column| match column.data_type() {
                        DataType::Timestamp(..) => {
                            arrow::compute::cast(column, &DataType::Int64).unwrap()
                        }
                        _ => column.clone(),
                    })
                    .collect();
                let formatters: Vec<ArrayFormatter> = columns
                    .iter()
                    .map(|column| ArrayFormatter::try_new(column, &options).unwrap())
                    .collect();
                for row in 0..batch.num_rows() {
                    let cells: Vec<String> = formatters
                        .iter()
                        .map(|f| f.value(row).to_string())
                        .collect();
                    rows.push(cells.join("|"));
                }
            }
        }
        rows.sort();
        rows
    }

    /// The sum of the rollup table's `count` column: events counted.
    fn rollup_count(&self) -> i64 {
        let mut total = 0;
        for segment in &self.catalog.datasource("logs").unwrap().segments {
            let opened = Segment::open(&self.catalog.segment_dir(&segment.id)).unwrap();
            let table = opened.table(TableKind::Rollup).unwrap();
            for batch in record_batches(table).unwrap() {
                let batch = batch.unwrap();
                let count = batch.column_by_name("count").unwrap();
                total += count
                    .as_any()
                    .downcast_ref::<Int64Array>()
                    .unwrap()
                    .iter()
                    .flatten()
                    .sum::<i64>();
            }
        }
        total
    }
}

/// What the events table must hold for `events`, in `stored_events`' form.
fn expected_rows(events: &[Event]) -> Vec<String> {
    let mut rows: Vec<String> = events
        .iter()
        .map(|e| {
            format!(
                "{}|{}|{}|{}|{}",
                e.time, e.service, e.status, e.message, e.bytes
            )
        })
        .collect();
    rows.sort();
    rows
}

#[test]
fn every_format_loads_the_same_events() {
    let events = events(3_000);
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("plain.ndjson", ndjson(&events)),
        ("packed.ndjson.gz", gzip(&ndjson(&events))),
        (
            "packed.zst",
            zstd::encode_all(&ndjson(&events)[..], 3).unwrap(),
        ),
        ("table.csv", csv(&events)),
        ("table.csv.gz", gzip(&csv(&events))),
        ("export.parquet", parquet(&events)),
        ("export.arrow", arrow_file(&events)),
        ("export.arrows", arrow_stream(&events)),
    ];
    let mut first: Option<Vec<String>> = None;
    for (name, bytes) in files {
        let store = store();
        let path = store.write(name, &bytes);
        let report = store.load(&[&path], &LoadOptions::default()).unwrap();
        assert_eq!(report.rows_read, 3_000, "{name}");
        assert_eq!(report.rows_rejected, 0, "{name}: {report}");
        assert_eq!(report.events, 3_000, "{name}");
        assert_eq!(report.versions.len(), 1, "{name}: one version for the load");
        let days: std::collections::BTreeSet<_> =
            report.segments.iter().map(|s| s.id.interval()).collect();
        assert_eq!(days.len(), 3, "{name}: three days");
        assert_eq!(store.rollup_count(), 3_000, "{name}");
        let stored = store.stored_events();
        assert_eq!(stored.len(), 3_000, "{name}");
        match &first {
            None => {
                let sample = &stored[0];
                assert!(sample.contains("svc-"), "{sample}");
                first = Some(stored);
            }
            Some(first) => assert_eq!(&stored, first, "{name} stores what the first format did"),
        }
    }
    assert_eq!(first.unwrap(), expected_rows(&events));
}

#[test]
fn loading_twice_replaces_and_append_adds() {
    let events = events(2_000);
    let store = store();
    let path = store.write("day.ndjson", &ndjson(&events));
    let first = store.load(&[&path], &LoadOptions::default()).unwrap();
    assert_eq!(first.replaced, 0);
    let second = store.load(&[&path], &LoadOptions::default()).unwrap();
    assert_eq!(
        second.replaced,
        first.segments.len(),
        "the first load's segments retire"
    );
    assert!(second.versions[0] > first.versions[0]);
    assert_eq!(store.stored_events().len(), 2_000);
    assert_eq!(store.rollup_count(), 2_000);
    for segment in &first.segments {
        assert!(
            !store.catalog.segment_dir(&segment.id).exists(),
            "a retired segment's files are deleted"
        );
    }

    let append = LoadOptions {
        mode: LoadMode::Append,
        ..LoadOptions::default()
    };
    let third = store.load(&[&path], &append).unwrap();
    assert_eq!(third.replaced, 0);
    assert_eq!(
        third.versions, second.versions,
        "append joins the visible version"
    );
    assert_eq!(store.stored_events().len(), 4_000);
    assert_eq!(store.rollup_count(), 4_000);
}

#[test]
fn a_small_memory_budget_writes_more_partitions_and_the_same_events() {
    let events = events(3_000);
    let store = store();
    let path = store.write("all.ndjson", &ndjson(&events));
    let options = LoadOptions {
        memory_bytes: 64 << 10,
        threads: 2,
        ..LoadOptions::default()
    };
    let report = store.load(&[&path], &options).unwrap();
    assert!(
        report.segments.len() > 6,
        "{} segments",
        report.segments.len()
    );
    assert_eq!(report.versions.len(), 1);
    assert_eq!(store.rollup_count(), 3_000);

    let whole = self::store();
    let path = whole.write("all.ndjson", &ndjson(&events));
    whole.load(&[&path], &LoadOptions::default()).unwrap();
    assert_eq!(store.stored_events(), whole.stored_events());
}

#[test]
fn bad_rows_are_reported_at_their_place_and_the_rest_loads() {
    let events = events(100);
    let store = store();
    let mut lines = String::from_utf8(ndjson(&events)).unwrap();
    lines.push_str("{\"timestamp\": \"yesterday\", \"service\": \"a\"}\n");
    lines.push('\n');
    lines.push_str("{\"timestamp\": 1704067200000, \"status\": \"teapot\"}\n");
    let ndjson_path = store.write("bad.ndjson", lines.as_bytes());
    let mut table = String::from_utf8(csv(&events[..10])).unwrap();
    table.push_str("1704067200000,svc-1,not-a-number,hello,1\n");
    let csv_path = store.write("bad.csv", table.as_bytes());

    let report = store
        .load(&[&ndjson_path, &csv_path], &LoadOptions::default())
        .unwrap();
    assert_eq!(report.rows_read, 113);
    assert_eq!(report.rows_rejected, 3);
    assert_eq!(report.events, 110);
    let places: Vec<String> = report
        .rejections
        .iter()
        .map(|row| {
            format!(
                "{} {}",
                row.file.file_name().unwrap().to_string_lossy(),
                row.position
            )
        })
        .collect();
    assert_eq!(
        places,
        [
            "bad.csv line 12",
            "bad.ndjson line 101",
            "bad.ndjson line 103"
        ]
    );
    assert!(
        report.rejections[1].reason.contains("yesterday"),
        "{}",
        report.rejections[1]
    );
    assert!(
        report.rejections[2].reason.contains("teapot"),
        "{}",
        report.rejections[2]
    );
    assert_eq!(store.stored_events().len(), 110);
}

#[test]
fn too_many_rejected_rows_publish_nothing_and_leave_no_files() {
    let store = store();
    let mut lines = String::from_utf8(ndjson(&events(500))).unwrap();
    lines.push_str("not json\n");
    let path = store.write("bad.ndjson", lines.as_bytes());
    let options = LoadOptions {
        max_errors: Some(0),
        memory_bytes: 16 << 10,
        ..LoadOptions::default()
    };
    let error = store.load(&[&path], &options).unwrap_err();
    assert!(
        matches!(error, LoadError::TooManyRejected { rejected: 1, .. }),
        "{error}"
    );
    assert!(error.to_string().contains("bad.ndjson line 501"), "{error}");
    assert_eq!(store.published_segments(), 0, "nothing is published");
    let segments_dir = store.dir.path().join("data/segments/logs");
    let left = std::fs::read_dir(&segments_dir).map_or(0, |dir| dir.count());
    assert_eq!(left, 0, "no segment files are left behind");
}

#[test]
fn a_damaged_file_stops_the_load_naming_the_file() {
    let store = store();
    let mut bytes = parquet(&events(1_000));
    let len = bytes.len();
    bytes[len / 2..len / 2 + 64].fill(0xAB);
    let path = store.write("damaged.parquet", &bytes);
    let good = store.write("good.ndjson", &ndjson(&events(10)));
    let error = store
        .load(&[&good, &path], &LoadOptions::default())
        .unwrap_err();
    assert!(error.to_string().contains("damaged.parquet"), "{error}");
    assert_eq!(store.published_segments(), 0, "nothing is published");
}
