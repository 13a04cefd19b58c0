use serde_json::json;
use strata_storage::catalog::SegmentId;
use strata_storage::segment::{CellValue, ColumnSchema, SegmentWriter, TableSchema};
use strata_storage::spec::DataSourceName;
use strata_storage::time::MILLIS_PER_DAY;

use super::*;

const SPEC: &str = r#"{
    "dataSource": "web",
    "dimensionsSpec": {"dimensions": [
        "host",
        "tags",
        {"type": "string", "name": "user", "rollup": false},
        {"type": "long", "name": "status"}
    ]},
    "metricsSpec": [
        {"type": "count", "name": "count"},
        {"type": "longSum", "name": "bytes", "fieldName": "bytes"},
        {"type": "HLLSketchBuild", "name": "users", "fieldName": "user"}
    ],
    "granularitySpec": {"segmentGranularity": "day", "queryGranularity": "minute", "rollup": true}
}"#;

/// 2024-01-01T00:00:00Z.
const T0: i64 = 1_704_067_200_000;

fn spec() -> DataSourceSpec {
    DataSourceSpec::from_json(SPEC).unwrap()
}

fn string(multi_value: bool) -> ColumnKind {
    ColumnKind::String { multi_value }
}

/// A segment of the spec's two tables: three events, two rollup rows.
fn write_segment(dir: &std::path::Path) -> Segment {
    let mut segment = SegmentWriter::create(dir).unwrap();
    let events = TableSchema::new(vec![
        ColumnSchema::new("host", string(false)),
        ColumnSchema::new("tags", string(true)),
        ColumnSchema::new("user", string(false)),
        ColumnSchema::new("status", ColumnKind::Long),
        ColumnSchema::new("bytes", ColumnKind::Long),
    ])
    .unwrap();
    let mut writer = segment.table(TableKind::Events, events).unwrap();
    let rows: [(i64, [CellValue<'_>; 5]); 3] = [
        (
            T0,
            [
                CellValue::Str("a"),
                CellValue::Strs(&["x", "y"]),
                CellValue::Str("u1"),
                CellValue::Long(200),
                CellValue::Long(10),
            ],
        ),
        (
            T0 + 1,
            [
                CellValue::Str("b"),
                CellValue::Strs(&[]),
                CellValue::Str("u2"),
                CellValue::Long(404),
                CellValue::Long(20),
            ],
        ),
        (
            T0 + 2,
            [
                CellValue::Str("b"),
                CellValue::Str("x"),
                CellValue::Str("u3"),
                CellValue::Long(200),
                CellValue::Long(30),
            ],
        ),
    ];
    for (time, cells) in &rows {
        writer.append_row(*time, cells).unwrap();
    }
    segment.add_table(writer.finish().unwrap());
    let rollup = TableSchema::new(vec![
        ColumnSchema::new("host", string(false)),
        ColumnSchema::new("tags", string(true)),
        ColumnSchema::new("status", ColumnKind::Long),
        ColumnSchema::new("count", ColumnKind::Long),
        ColumnSchema::new("bytes", ColumnKind::Long),
        ColumnSchema::new(
            "users",
            ColumnKind::Complex {
                type_name: "HLLSketch".into(),
            },
        ),
    ])
    .unwrap();
    let mut writer = segment.table(TableKind::Rollup, rollup).unwrap();
    writer
        .append_row(
            T0,
            &[
                CellValue::Str("a"),
                CellValue::Strs(&["x", "y"]),
                CellValue::Long(200),
                CellValue::Long(1),
                CellValue::Long(10),
                CellValue::Bytes(&[1]),
            ],
        )
        .unwrap();
    writer
        .append_row(
            T0,
            &[
                CellValue::Str("b"),
                CellValue::Null,
                CellValue::Long(404),
                CellValue::Long(2),
                CellValue::Long(50),
                CellValue::Bytes(&[2]),
            ],
        )
        .unwrap();
    segment.add_table(writer.finish().unwrap());
    segment.finish().unwrap();
    Segment::open(dir).unwrap()
}

fn descriptor(day: i64, partition: u32) -> SegmentDescriptor {
    let start = T0 + day * MILLIS_PER_DAY;
    SegmentDescriptor {
        id: SegmentId::new(
            DataSourceName::new("web").unwrap(),
            Interval::new(start, start + MILLIS_PER_DAY).unwrap(),
            "2024-05-01T00:00:00.000000Z".parse().unwrap(),
            partition,
        )
        .unwrap(),
        rows: 2,
        bytes: 4096,
    }
}

fn query(analysis_types: Option<serde_json::Value>) -> SegmentMetadataQuery {
    let mut value = json!({"queryType": "segmentMetadata", "dataSource": "web", "merge": false});
    if let Some(types) = analysis_types {
        value["analysisTypes"] = types;
    }
    SegmentMetadataQuery::parse(
        &Field::root(&value),
        "web".to_owned(),
        vec![Interval::ETERNITY],
    )
    .unwrap()
}

fn every_type() -> SegmentMetadataQuery {
    query(Some(json!([
        "cardinality",
        "size",
        "interval",
        "minmax",
        "aggregators",
        "queryGranularity",
        "rollup",
        "timestampSpec"
    ])))
}

#[test]
fn columns_are_the_events_dimensions_and_the_rollup_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let segment = write_segment(&dir.path().join("s"));
    let analysis = analyze_segment(&descriptor(0, 0), &segment, &spec(), &every_type()).unwrap();

    let names: Vec<&str> = analysis.columns.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "__time", "bytes", "count", "host", "status", "tags", "user", "users"
        ]
    );
    let column = |name: &str| analysis.columns.get(name).unwrap();
    assert_eq!(column("__time").type_name, "LONG");
    assert_eq!(column("host").type_name, "STRING");
    assert_eq!(column("status").type_name, "LONG");
    assert_eq!(column("count").type_name, "LONG");
    assert_eq!(column("users").type_name, "COMPLEX<HLLSketch>");
    assert!(column("tags").has_multiple_values);
    assert!(!column("host").has_multiple_values);
    // Strings report their dictionary's length, the larger of the two tables'.
    assert_eq!(column("host").cardinality, Some(2));
    assert_eq!(column("user").cardinality, Some(3));
    assert_eq!(column("tags").cardinality, Some(2));
    assert_eq!(column("status").cardinality, None);
    // The empty list of the second event is a null.
    assert!(column("tags").has_nulls);
    assert!(!column("host").has_nulls);
    assert!(analysis.columns.values().all(|c| c.error_message.is_none()));
}

#[test]
fn sizes_sum_both_tables_and_the_segment_reports_its_descriptor() {
    let dir = tempfile::tempdir().unwrap();
    let segment = write_segment(&dir.path().join("s"));
    let analysis = analyze_segment(&descriptor(0, 0), &segment, &spec(), &every_type()).unwrap();

    let bytes_in = |kind: TableKind, name: &str| -> u64 {
        segment
            .table(kind)
            .and_then(|table| {
                table
                    .column_bytes()
                    .into_iter()
                    .find(|(column, _)| *column == name)
            })
            .map_or(0, |(_, bytes)| bytes)
    };
    let host = bytes_in(TableKind::Events, "host") + bytes_in(TableKind::Rollup, "host");
    assert!(host > 0);
    assert_eq!(analysis.columns.get("host").unwrap().size, host);
    assert_eq!(
        analysis.columns.get("users").unwrap().size,
        bytes_in(TableKind::Rollup, "users")
    );
    assert_eq!(analysis.size, 4096);
    assert_eq!(analysis.num_rows, 2);
    assert_eq!(
        analysis.id,
        "web_2024-01-01T00:00:00.000Z_2024-01-02T00:00:00.000Z_2024-05-01T00:00:00.000000Z"
    );
    assert_eq!(
        analysis.intervals,
        Some(vec![Interval::new(T0, T0 + MILLIS_PER_DAY).unwrap()])
    );
}

#[test]
fn the_spec_answers_aggregators_granularity_and_rollup() {
    let dir = tempfile::tempdir().unwrap();
    let segment = write_segment(&dir.path().join("s"));
    let analysis = analyze_segment(&descriptor(0, 0), &segment, &spec(), &every_type()).unwrap();

    let aggregators = analysis.aggregators.unwrap();
    assert_eq!(
        aggregators.get("bytes"),
        Some(&json!({"type": "longSum", "name": "bytes", "fieldName": "bytes"}))
    );
    assert_eq!(
        aggregators.get("count"),
        Some(&json!({"type": "count", "name": "count"}))
    );
    assert_eq!(
        aggregators.get("users").and_then(|a| a.get("type")),
        Some(&json!("HLLSketchBuild"))
    );
    assert_eq!(
        analysis.query_granularity.as_ref(),
        Some(spec().query_granularity())
    );
    assert_eq!(analysis.rollup, Some(true));
    assert!(analysis.timestamp_spec.is_some_and(|spec| spec.is_object()));
}

#[test]
fn by_default_only_druids_default_analyses_are_made() {
    let dir = tempfile::tempdir().unwrap();
    let segment = write_segment(&dir.path().join("s"));
    let analysis = analyze_segment(&descriptor(0, 0), &segment, &spec(), &query(None)).unwrap();

    assert_eq!(analysis.size, 0);
    assert!(analysis.columns.values().all(|column| column.size == 0));
    assert_eq!(analysis.columns.get("host").unwrap().cardinality, Some(2));
    assert!(analysis.intervals.is_some());
    assert_eq!(analysis.aggregators, None);
    assert_eq!(analysis.query_granularity, None);
    assert_eq!(analysis.rollup, None);

    let bare = analyze_segment(
        &descriptor(0, 0),
        &segment,
        &spec(),
        &query(Some(json!([]))),
    )
    .unwrap();
    assert_eq!(bare.intervals, None);
    assert_eq!(bare.columns.get("host").unwrap().cardinality, None);
}

#[test]
fn merging_sums_sizes_and_rows_and_condenses_intervals() {
    let dir = tempfile::tempdir().unwrap();
    let segment = write_segment(&dir.path().join("s"));
    let query = every_type();
    let first = analyze_segment(&descriptor(0, 0), &segment, &spec(), &query).unwrap();
    let second = analyze_segment(&descriptor(1, 1), &segment, &spec(), &query).unwrap();
    let far = analyze_segment(&descriptor(5, 0), &segment, &spec(), &query).unwrap();
    assert!(second.id.ends_with("_1"));

    let merged = [second.clone(), far, first.clone()]
        .into_iter()
        .reduce(merge)
        .unwrap();
    assert_eq!(merged.id, "merged");
    assert_eq!(merged.num_rows, 6);
    assert_eq!(merged.size, 3 * 4096);
    assert_eq!(
        merged.intervals,
        Some(vec![
            Interval::new(T0, T0 + 2 * MILLIS_PER_DAY).unwrap(),
            Interval::new(T0 + 5 * MILLIS_PER_DAY, T0 + 6 * MILLIS_PER_DAY).unwrap(),
        ])
    );
    let host = merged.columns.get("host").unwrap();
    assert_eq!(host.size, 3 * first.columns.get("host").unwrap().size);
    assert_eq!(host.cardinality, Some(2));
    assert_eq!(merged.rollup, Some(true));
    assert_eq!(merged.aggregators, first.aggregators);
}

#[test]
fn merging_columns_of_different_types_reports_an_error() {
    let long = ColumnAnalysis {
        type_name: "LONG".to_owned(),
        has_multiple_values: false,
        size: 8,
        cardinality: None,
        has_nulls: false,
        error_message: None,
    };
    let string = ColumnAnalysis {
        type_name: "STRING".to_owned(),
        cardinality: Some(3),
        ..long.clone()
    };
    let folded = long.fold(string);
    assert_eq!(
        folded.error_message.as_deref(),
        Some("error:cannot_merge_diff_types: [LONG] and [STRING]")
    );
}

#[test]
fn an_unknown_analysis_type_or_column_selection_is_refused() {
    let value = json!({"analysisTypes": ["size", "bitmap"]});
    let error = SegmentMetadataQuery::parse(&Field::root(&value), "web".into(), vec![])
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("bitmap") && error.contains("cardinality"),
        "{error}"
    );

    let value = json!({"toInclude": {"type": "list", "columns": ["host"]}});
    let error = SegmentMetadataQuery::parse(&Field::root(&value), "web".into(), vec![])
        .unwrap_err()
        .to_string();
    assert!(error.contains("toInclude"), "{error}");

    let value = json!({"merge": true, "toInclude": {"type": "all"}});
    let query = SegmentMetadataQuery::parse(&Field::root(&value), "web".into(), vec![]).unwrap();
    assert!(query.merge);
}

#[test]
fn a_druid_request_reads_with_eternity_as_its_default_interval() {
    let request = crate::druid::parse_request(&json!({
        "queryType": "segmentMetadata", "dataSource": {"type": "table", "name": "web"}
    }))
    .unwrap();
    let crate::druid::DruidRequest::SegmentMetadata(query) = request else {
        panic!("not a segmentMetadata request: {request:?}");
    };
    assert_eq!(query.datasource, "web");
    assert_eq!(query.intervals, vec![Interval::ETERNITY]);
    assert!(!query.merge);
    assert_eq!(
        query.analysis_types,
        AnalysisType::DEFAULT.into_iter().collect::<BTreeSet<_>>()
    );

    let request = crate::druid::parse_request(&json!({
        "queryType": "segmentMetadata", "dataSource": "web",
        "intervals": ["2024-01-01/2024-01-02"], "merge": true
    }))
    .unwrap();
    let crate::druid::DruidRequest::SegmentMetadata(query) = request else {
        panic!("not a segmentMetadata request: {request:?}");
    };
    assert_eq!(
        query.intervals,
        vec![Interval::new(T0, T0 + MILLIS_PER_DAY).unwrap()]
    );
    assert!(query.merge);
}
