use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;

/// The spec of DESIGN.md, "The datasource spec".
fn design_spec() -> Value {
    json!({
      "dataSource": "weblogs",
      "timestampSpec": {"column": "timestamp", "format": "auto"},
      "dimensionsSpec": {"dimensions": [
        "host", "method", "country", {"type": "long", "name": "status"},
        {"type": "text", "name": "message"}
      ]},
      "metricsSpec": [
        {"type": "count", "name": "count"},
        {"type": "longSum", "name": "bytes", "fieldName": "bytes"},
        {"type": "doubleMax", "name": "max_latency", "fieldName": "latency_ms"},
        {"type": "HLLSketchBuild", "name": "users", "fieldName": "user_id"}
      ],
      "granularitySpec": {"segmentGranularity": "hour", "queryGranularity": "minute", "rollup": true}
    })
}

/// The `access` spec of DATASET.md.
fn access_spec() -> Value {
    serde_json::from_str(super::ACCESS_SPEC_JSON).unwrap()
}

fn parse(spec: Value) -> DataSourceSpec {
    DataSourceSpec::from_json(&spec.to_string()).unwrap_or_else(|error| panic!("{error}"))
}

fn names<'a>(dimensions: impl Iterator<Item = &'a Dimension>) -> Vec<&'a str> {
    dimensions.map(Dimension::name).collect()
}

/// Serializes `spec`, reads it back, and checks both the value and the text are stable.
fn assert_round_trips(spec: &DataSourceSpec) {
    let text = serde_json::to_string(spec).unwrap();
    let again = DataSourceSpec::from_json(&text).unwrap_or_else(|error| panic!("{error}\n{text}"));
    assert_eq!(&again, spec);
    assert_eq!(serde_json::to_string(&again).unwrap(), text);
}

#[test]
fn the_design_spec_parses() {
    let spec = parse(design_spec());
    assert_eq!(spec.name(), "weblogs");
    assert_eq!(spec.timestamp_spec().column(), "timestamp");
    assert_eq!(spec.timestamp_spec().format(), TimestampFormat::Auto);
    assert_eq!(
        names(spec.dimensions().iter()),
        ["host", "method", "country", "status", "message"]
    );
    assert_eq!(
        spec.dimension("status").unwrap().kind(),
        &DimensionKind::Long { rollup: true }
    );
    assert_eq!(
        spec.dimension("message").unwrap().kind(),
        &DimensionKind::Text {
            analyzer: TextAnalyzer::Default
        }
    );
    assert_eq!(
        spec.metric("users").unwrap().aggregator(),
        &Aggregator::HllSketch {
            field_name: "user_id".to_owned(),
            lg_k: HllLgK::DEFAULT,
            target_type: HllTargetType::Hll4,
        }
    );
    assert_eq!(spec.segment_granularity(), &Granularity::HOUR);
    assert_eq!(spec.query_granularity(), &Granularity::MINUTE);
    assert!(spec.rollup() && spec.has_rollup_table());
    assert_eq!(
        names(spec.rollup_dimensions()),
        ["host", "method", "country", "status"]
    );
    assert_eq!(names(spec.text_dimensions()), ["message"]);
    assert!(spec.needs_events_table());
    assert!(!spec.is_schema_discovery());
    assert_round_trips(&spec);
}

#[test]
fn the_access_spec_parses() {
    let spec = parse(access_spec());
    assert_eq!(spec.name(), "access");
    assert_eq!(spec.timestamp_spec().format(), TimestampFormat::Iso);
    assert_eq!(
        names(spec.rollup_dimensions()),
        ["service", "region", "method", "status", "country"]
    );
    assert_eq!(names(spec.text_dimensions()), ["message"]);
    assert!(spec.needs_events_table());
    assert_eq!(spec.metrics().len(), 7);
    assert_eq!(
        spec.metric("duration_sketch").unwrap().aggregator(),
        &Aggregator::QuantilesSketch {
            field_name: "duration_ms".to_owned(),
            k: QuantilesK::DEFAULT,
        }
    );
    assert_eq!(
        spec.metric("duration_sum").unwrap().aggregator(),
        &Aggregator::Sum {
            field_name: "duration_ms".to_owned(),
            value_type: NumericType::Double,
        }
    );
    assert_eq!(spec.segment_granularity(), &Granularity::DAY);
    assert_round_trips(&spec);
}

#[test]
fn defaults_fill_a_minimal_spec() {
    let spec = parse(json!({"dataSource": "events"}));
    assert_eq!(spec.timestamp_spec(), &TimestampSpec::default());
    assert!(spec.is_schema_discovery());
    assert!(spec.metrics().is_empty());
    assert_eq!(spec.segment_granularity(), &Granularity::DAY);
    assert_eq!(spec.query_granularity(), &Granularity::None);
    assert!(spec.rollup() && !spec.needs_events_table());
    assert_eq!(spec.intervals(), None);
    assert_eq!(
        serde_json::to_value(&spec).unwrap(),
        json!({
            "dataSource": "events",
            "timestampSpec": {"column": "timestamp", "format": "auto"},
            "dimensionsSpec": {"dimensions": [], "useSchemaDiscovery": true},
            "metricsSpec": [],
            "granularitySpec": {"segmentGranularity": "DAY", "queryGranularity": {"type": "none"}, "rollup": true}
        })
    );
}

#[test]
fn rollup_off_keeps_only_the_events_table() {
    let mut value = access_spec();
    value["granularitySpec"]["rollup"] = json!(false);
    let spec = parse(value);
    assert!(!spec.has_rollup_table() && spec.needs_events_table());
    assert_eq!(spec.rollup_dimensions().count(), 0);
}

#[test]
fn druid_spellings_are_accepted_and_canonicalized() {
    let spec = parse(json!({
        "dataSource": "metrics.v2",
        "timestampSpec": {"column": "ts", "format": "MILLIS", "missingValue": "2024-01-01T00:00:00Z"},
        "dimensionsSpec": {
            "dimensions": [
                {"name": "tags", "multiValueHandling": "sorted_set"},
                {"type": "float", "name": "ratio", "rollup": false},
                {"type": "text", "name": "body", "rollup": false, "analyzer": "english"}
            ],
            "dimensionExclusions": ["secret"]
        },
        "metricsSpec": [
            {"type": "floatSum", "name": "load", "fieldName": "load"},
            {"type": "HLLSketchBuild", "name": "hosts", "fieldName": "host", "lgK": 16, "tgtHllType": "HLL_8"},
            {"type": "quantilesDoublesSketch", "name": "q", "fieldName": "latency", "k": 1024}
        ],
        "granularitySpec": {
            "type": "uniform",
            "segmentGranularity": {"type": "period", "period": "P1D", "timeZone": "America/New_York"},
            "queryGranularity": {"type": "hour"},
            "rollup": true,
            "intervals": ["2024-01-01/2024-02-01"]
        }
    }));
    assert_eq!(spec.timestamp_spec().format(), TimestampFormat::Millis);
    assert_eq!(
        spec.timestamp_spec().missing_value(),
        Some(1_704_067_200_000)
    );
    assert_eq!(spec.dimension_exclusions(), ["secret"]);
    assert_eq!(
        spec.intervals().unwrap()[0].to_string(),
        "2024-01-01T00:00:00.000Z/2024-02-01T00:00:00.000Z"
    );
    let canonical = serde_json::to_value(&spec).unwrap();
    assert_eq!(
        canonical["dimensionsSpec"]["dimensions"],
        json!([
            {"type": "string", "name": "tags", "multiValueHandling": "SORTED_SET", "rollup": true},
            {"type": "double", "name": "ratio", "rollup": false},
            {"type": "text", "name": "body", "analyzer": "english"}
        ])
    );
    assert_eq!(
        canonical["metricsSpec"],
        json!([
            {"type": "doubleSum", "name": "load", "fieldName": "load"},
            {"type": "HLLSketchBuild", "name": "hosts", "fieldName": "host", "lgK": 16, "tgtHllType": "HLL_8"},
            {"type": "quantilesDoublesSketch", "name": "q", "fieldName": "latency", "k": 1024}
        ])
    );
    assert_eq!(canonical["timestampSpec"]["format"], json!("millis"));
    assert_eq!(
        canonical["granularitySpec"]["queryGranularity"],
        json!("HOUR")
    );
    assert_round_trips(&spec);
}

#[test]
fn every_aggregator_type_parses_and_keeps_its_canonical_name() {
    for (druid_type, canonical) in [
        ("longSum", "longSum"),
        ("doubleSum", "doubleSum"),
        ("floatSum", "doubleSum"),
        ("longMin", "longMin"),
        ("longMax", "longMax"),
        ("doubleMin", "doubleMin"),
        ("doubleMax", "doubleMax"),
        ("floatMin", "doubleMin"),
        ("floatMax", "doubleMax"),
        ("longFirst", "longFirst"),
        ("longLast", "longLast"),
        ("doubleFirst", "doubleFirst"),
        ("doubleLast", "doubleLast"),
        ("floatFirst", "doubleFirst"),
        ("floatLast", "doubleLast"),
    ] {
        let spec = parse(json!({
            "dataSource": "d",
            "metricsSpec": [{"type": druid_type, "name": "m", "fieldName": "f"}]
        }));
        let aggregator = spec.metrics()[0].aggregator();
        assert_eq!(aggregator.druid_type(), canonical, "{druid_type}");
        assert_eq!(aggregator.field_name(), Some("f"));
        assert_round_trips(&spec);
    }
}

#[test]
fn a_spec_is_a_serde_value_too() {
    let spec: DataSourceSpec = serde_json::from_value(access_spec()).unwrap();
    assert_eq!(spec, parse(access_spec()));
    let mut broken = access_spec();
    broken["metricsSpec"][2]["type"] = json!("longSun");
    let error = serde_json::from_value::<DataSourceSpec>(broken)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("metricsSpec[2] (\"duration_sum\"): unknown aggregator type \"longSun\""),
        "{error}"
    );
}

/// Checks that `spec` is rejected at `path` with a message containing every fragment.
#[track_caller]
fn assert_rejected(spec: Value, path: &str, fragments: &[&str]) {
    let error = match DataSourceSpec::from_json(&spec.to_string()) {
        Ok(_) => panic!("accepted {spec}"),
        Err(error) => error,
    };
    let message = error.to_string();
    assert_eq!(error.path(), Some(path), "{message}");
    assert!(message.starts_with(&format!("{path}: ")), "{message}");
    for fragment in fragments {
        assert!(
            message.contains(fragment),
            "{message:?} does not say {fragment:?}"
        );
    }
}

/// The access spec with one change made by `edit`.
fn access_with(edit: impl FnOnce(&mut Value)) -> Value {
    let mut spec = access_spec();
    edit(&mut spec);
    spec
}

#[test]
fn rejects_json_syntax_errors_with_their_position() {
    let error =
        DataSourceSpec::from_json("{\"dataSource\": \"a\",\n  \"metricsSpec\": [}").unwrap_err();
    assert!(matches!(error, SpecError::Json(_)));
    assert!(error.to_string().contains("line 2"), "{error}");
}

#[test]
fn rejects_a_spec_that_is_not_an_object() {
    assert_rejected(
        json!(["access"]),
        "the spec",
        &["expected a JSON object, found an array"],
    );
}

#[test]
fn rejects_unknown_aggregator_types() {
    assert_rejected(
        access_with(|spec| spec["metricsSpec"][1]["type"] = json!("longSun")),
        "metricsSpec[1] (\"bytes\")",
        &[
            "unknown aggregator type \"longSun\"",
            "known types: count, longSum, doubleSum",
        ],
    );
}

#[test]
fn rejects_unknown_dimension_types() {
    assert_rejected(
        access_with(|spec| spec["dimensionsSpec"]["dimensions"][3]["type"] = json!("int")),
        "dimensionsSpec.dimensions[3] (\"status\")",
        &[
            "unknown dimension type \"int\"",
            "string, long, double, float, text",
        ],
    );
}

#[test]
fn rejects_unknown_granularities() {
    assert_rejected(
        access_with(|spec| spec["granularitySpec"]["segmentGranularity"] = json!("daily")),
        "granularitySpec.segmentGranularity",
        &[
            "unknown granularity \"daily\"",
            "hour, six_hour, eight_hour, day",
        ],
    );
    assert_rejected(
        access_with(|spec| {
            spec["granularitySpec"]["queryGranularity"] =
                json!({"type": "period", "period": "PT1X"});
        }),
        "granularitySpec.queryGranularity",
        &["invalid ISO-8601 period \"PT1X\"", "'X' is not a unit"],
    );
}

#[test]
fn rejects_unknown_timestamp_formats() {
    assert_rejected(
        access_with(|spec| spec["timestampSpec"]["format"] = json!("yyyy-MM-dd")),
        "timestampSpec.format",
        &[
            "unknown timestamp format \"yyyy-MM-dd\"",
            "iso, millis, posix, micro, nano, auto",
        ],
    );
}

#[test]
fn rejects_duplicate_dimensions() {
    assert_rejected(
        access_with(|spec| spec["dimensionsSpec"]["dimensions"][1] = json!("service")),
        "dimensionsSpec.dimensions[1] (\"service\")",
        &[
            "already the name of dimensionsSpec.dimensions[0] (\"service\")",
            "must all differ",
        ],
    );
}

#[test]
fn rejects_duplicate_metrics() {
    assert_rejected(
        access_with(|spec| spec["metricsSpec"][4]["name"] = json!("bytes")),
        "metricsSpec[4] (\"bytes\")",
        &["already the name of metricsSpec[1] (\"bytes\")"],
    );
}

#[test]
fn rejects_a_metric_named_like_a_dimension() {
    assert_rejected(
        access_with(|spec| spec["metricsSpec"][5]["name"] = json!("user_id")),
        "metricsSpec[5] (\"user_id\")",
        &["already the name of dimensionsSpec.dimensions[7] (\"user_id\")"],
    );
}

#[test]
fn rejects_reserved_names() {
    assert_rejected(
        access_with(|spec| spec["dimensionsSpec"]["dimensions"][0] = json!("__time")),
        "dimensionsSpec.dimensions[0] (\"__time\")",
        &["\"__time\" is reserved", "rename it"],
    );
    assert_rejected(
        access_with(|spec| spec["metricsSpec"][0]["name"] = json!("__count")),
        "metricsSpec[0] (\"__count\")",
        &["\"__count\" is reserved"],
    );
}

#[test]
fn rejects_the_timestamp_column_as_a_dimension_or_metric() {
    assert_rejected(
        access_with(|spec| spec["dimensionsSpec"]["dimensions"][0] = json!("timestamp")),
        "dimensionsSpec.dimensions[0] (\"timestamp\")",
        &["is the timestamp column"],
    );
    assert_rejected(
        access_with(|spec| {
            spec["timestampSpec"]["column"] = json!("ts");
            spec["metricsSpec"][0]["name"] = json!("ts");
        }),
        "metricsSpec[0] (\"ts\")",
        &["\"ts\" is the timestamp column"],
    );
}

#[test]
fn rejects_empty_names() {
    assert_rejected(
        access_with(|spec| spec["dimensionsSpec"]["dimensions"][0] = json!("")),
        "dimensionsSpec.dimensions[0] (\"\")",
        &["must not be empty"],
    );
}

#[test]
fn rejects_a_metric_without_field_name() {
    assert_rejected(
        access_with(|spec| {
            if let Some(metric) = spec["metricsSpec"][3].as_object_mut() {
                metric.remove("fieldName");
            }
        }),
        "metricsSpec[3] (\"duration_max\")",
        &["required field \"fieldName\" is missing"],
    );
}

#[test]
fn rejects_rollup_on_a_text_dimension() {
    assert_rejected(
        access_with(|spec| spec["dimensionsSpec"]["dimensions"][8]["rollup"] = json!(true)),
        "dimensionsSpec.dimensions[8] (\"message\").rollup",
        &[
            "text dimension cannot take part in rollup",
            "remove \"rollup\": true",
        ],
    );
}

#[test]
fn rejects_options_of_other_dimension_types() {
    assert_rejected(
        access_with(|spec| spec["dimensionsSpec"]["dimensions"][3]["analyzer"] = json!("raw")),
        "dimensionsSpec.dimensions[3] (\"status\").analyzer",
        &["applies to text dimensions only"],
    );
    assert_rejected(
        access_with(|spec| {
            spec["dimensionsSpec"]["dimensions"][8]["multiValueHandling"] = json!("ARRAY")
        }),
        "dimensionsSpec.dimensions[8] (\"message\").multiValueHandling",
        &["applies to string dimensions only"],
    );
    assert_rejected(
        access_with(|spec| {
            spec["dimensionsSpec"]["dimensions"][5]["multiValueHandling"] = json!("SORTED")
        }),
        "dimensionsSpec.dimensions[5] (\"host\").multiValueHandling",
        &["unknown multiValueHandling \"SORTED\"", "SORTED_ARRAY"],
    );
    assert_rejected(
        access_with(|spec| spec["dimensionsSpec"]["dimensions"][8]["analyzer"] = json!("french")),
        "dimensionsSpec.dimensions[8] (\"message\").analyzer",
        &["unknown analyzer \"french\"", "default, raw or english"],
    );
}

#[test]
fn rejects_segment_granularity_none() {
    assert_rejected(
        access_with(|spec| spec["granularitySpec"]["segmentGranularity"] = json!("none")),
        "granularitySpec.segmentGranularity",
        &["cannot be \"none\""],
    );
}

#[test]
fn rejects_a_query_granularity_coarser_than_the_segment_granularity() {
    assert_rejected(
        access_with(|spec| spec["granularitySpec"]["queryGranularity"] = json!("month")),
        "granularitySpec.queryGranularity",
        &[
            "\"month\" is coarser than segmentGranularity \"day\"",
            "finer queryGranularity",
        ],
    );
    assert_rejected(
        access_with(|spec| {
            spec["granularitySpec"]["queryGranularity"] =
                json!({"type": "period", "period": "P1D", "timeZone": "Asia/Kolkata"});
        }),
        "granularitySpec.queryGranularity",
        &["\"P1D in Asia/Kolkata\" is coarser than segmentGranularity \"day\""],
    );
}

#[test]
fn rejects_invalid_datasource_names() {
    for (name, fragment) in [
        ("", "must not be empty"),
        ("_search", "start it with a letter or a digit"),
        ("web logs", "contains ' '"),
        ("druid", "reserved for an HTTP route"),
    ] {
        assert_rejected(json!({"dataSource": name}), "dataSource", &[fragment]);
    }
    assert_rejected(
        json!({"dataSource": 7}),
        "dataSource",
        &["expected a string, found a number"],
    );
    assert_rejected(
        json!({}),
        "the spec",
        &["required field \"dataSource\" is missing"],
    );
}

#[test]
fn rejects_unknown_fields_and_lists_the_accepted_ones() {
    assert_rejected(
        access_with(|spec| spec["granularitySpec"]["segmentGranulrity"] = json!("day")),
        "granularitySpec.segmentGranulrity",
        &[
            "unknown field \"segmentGranulrity\"",
            "segmentGranularity, queryGranularity, rollup, intervals",
        ],
    );
    assert_rejected(
        access_with(|spec| spec["metricsSpec"][1]["fieldname"] = json!("bytes")),
        "metricsSpec[1] (\"bytes\").fieldname",
        &["unknown field \"fieldname\"", "type, name, fieldName"],
    );
    assert_rejected(
        access_with(|spec| spec["metricsSpec"][0]["fieldName"] = json!("x")),
        "metricsSpec[0] (\"count\").fieldName",
        &["unknown field \"fieldName\"", "type, name"],
    );
    assert_rejected(
        access_with(|spec| spec["dimensionsSpec"]["dimensions"][3]["rolup"] = json!(false)),
        "dimensionsSpec.dimensions[3] (\"status\").rolup",
        &["accepted here are type, name, rollup"],
    );
    assert_rejected(
        access_with(|spec| spec["timestampSpec"]["colunm"] = json!("t")),
        "timestampSpec.colunm",
        &["column, format, missingValue"],
    );
    assert_rejected(
        access_with(|spec| spec["datasource"] = json!("x")),
        "datasource",
        &["dataSource, timestampSpec, dimensionsSpec, metricsSpec, granularitySpec"],
    );
}

#[test]
fn rejects_druid_fields_strata_does_not_support() {
    assert_rejected(
        access_with(|spec| spec["parser"] = json!({"type": "string"})),
        "parser",
        &["Strata does not support \"parser\"", "top level"],
    );
    assert_rejected(
        access_with(|spec| spec["metadata"] = json!({})),
        "metadata",
        &["Strata does not support \"metadata\""],
    );
    assert_rejected(
        access_with(|spec| spec["transformSpec"] = json!({})),
        "transformSpec",
        &["Strata does not support \"transformSpec\""],
    );
    assert_rejected(
        access_with(|spec| spec["dimensionsSpec"]["includeAllDimensions"] = json!(true)),
        "dimensionsSpec.includeAllDimensions",
        &[
            "Strata does not support \"includeAllDimensions\"",
            "\"useSchemaDiscovery\": true keeps the declared dimensions",
        ],
    );
    assert_rejected(
        access_with(|spec| spec["dimensionsSpec"]["spatialDimensions"] = json!([])),
        "dimensionsSpec.spatialDimensions",
        &["spatial dimensions are not available"],
    );
}

#[test]
fn rejects_out_of_range_sketch_sizes() {
    assert_rejected(
        access_with(|spec| spec["metricsSpec"][5]["lgK"] = json!(22)),
        "metricsSpec[5] (\"users\").lgK",
        &["between 4 and 21, not 22"],
    );
    assert_rejected(
        access_with(|spec| spec["metricsSpec"][5]["tgtHllType"] = json!("HLL_5")),
        "metricsSpec[5] (\"users\").tgtHllType",
        &["unknown tgtHllType \"HLL_5\""],
    );
    for k in [100, 1, 65536, -128] {
        assert_rejected(
            access_with(|spec| spec["metricsSpec"][6]["k"] = json!(k)),
            "metricsSpec[6] (\"duration_sketch\").k",
            &["power of 2 between 2 and 32768", &format!("not {k}")],
        );
    }
}

#[test]
fn rejects_dimensions_that_are_also_excluded() {
    assert_rejected(
        access_with(|spec| {
            spec["dimensionsSpec"]["dimensionExclusions"] = json!(["debug", "host"])
        }),
        "dimensionsSpec.dimensionExclusions[1]",
        &["\"host\" is listed in dimensions"],
    );
}

#[test]
fn rejects_bad_intervals_and_times() {
    assert_rejected(
        access_with(|spec| spec["granularitySpec"]["intervals"] = json!(["2024-01-08/2024-01-01"])),
        "granularitySpec.intervals[0]",
        &["its end is not after its start"],
    );
    assert_rejected(
        access_with(|spec| spec["granularitySpec"]["intervals"] = json!(["2024-01-01"])),
        "granularitySpec.intervals[0]",
        &["separated by \"/\""],
    );
    assert_rejected(
        access_with(|spec| spec["timestampSpec"]["missingValue"] = json!("yesterday")),
        "timestampSpec.missingValue",
        &["invalid time \"yesterday\""],
    );
    assert_rejected(
        access_with(|spec| spec["granularitySpec"]["type"] = json!("arbitrary")),
        "granularitySpec.type",
        &["\"arbitrary\" is not supported"],
    );
}

#[test]
fn rejects_values_of_the_wrong_type() {
    assert_rejected(
        access_with(|spec| spec["granularitySpec"]["rollup"] = json!("yes")),
        "granularitySpec.rollup",
        &["expected true or false, found a string"],
    );
    assert_rejected(
        access_with(|spec| spec["dimensionsSpec"]["dimensions"][0] = json!(5)),
        "dimensionsSpec.dimensions[0]",
        &["expected a dimension name or an object", "found a number"],
    );
    assert_rejected(
        access_with(|spec| spec["metricsSpec"] = json!({"count": "count"})),
        "metricsSpec",
        &["expected an array, found an object"],
    );
}

// Schema discovery.

/// A spec named `events` with the given `dimensionsSpec` (absent when `None`).
fn with_dimensions_spec(dimensions_spec: Option<Value>) -> Value {
    let mut spec = json!({"dataSource": "events", "timestampSpec": {"column": "ts"}});
    if let Some(dimensions_spec) = dimensions_spec {
        spec["dimensionsSpec"] = dimensions_spec;
    }
    spec
}

#[test]
fn schema_discovery_is_on_without_dimensions_or_when_asked_for() {
    for (dimensions_spec, discovery) in [
        (None, true),
        (Some(json!({})), true),
        (Some(json!({"dimensions": []})), true),
        (
            Some(json!({"dimensions": null, "useSchemaDiscovery": null})),
            true,
        ),
        (Some(json!({"useSchemaDiscovery": true})), true),
        (Some(json!({"dimensions": ["a"]})), false),
        (
            Some(json!({"dimensions": ["a"], "useSchemaDiscovery": false})),
            false,
        ),
        (
            Some(json!({"dimensions": ["a"], "useSchemaDiscovery": true})),
            true,
        ),
    ] {
        let shown = format!("{dimensions_spec:?}");
        let spec = parse(with_dimensions_spec(dimensions_spec));
        assert_eq!(spec.is_schema_discovery(), discovery, "{shown}");
        let canonical = serde_json::to_value(&spec).unwrap();
        assert_eq!(
            canonical["dimensionsSpec"].get("useSchemaDiscovery"),
            discovery.then_some(&json!(true)),
            "{shown}"
        );
        assert_round_trips(&spec);
    }
}

#[test]
fn the_canonical_form_before_use_schema_discovery_still_discovers() {
    let spec = parse(json!({
        "dataSource": "weblogs",
        "timestampSpec": {"column": "timestamp", "format": "auto"},
        "dimensionsSpec": {"dimensions": []},
        "metricsSpec": [],
        "granularitySpec": {"segmentGranularity": "DAY", "queryGranularity": {"type": "none"}, "rollup": true}
    }));
    assert!(spec.is_schema_discovery());
}

#[test]
fn rejects_schema_discovery_off_without_dimensions() {
    for dimensions_spec in [
        json!({"useSchemaDiscovery": false}),
        json!({"dimensions": [], "useSchemaDiscovery": false}),
    ] {
        assert_rejected(
            with_dimensions_spec(Some(dimensions_spec)),
            "dimensionsSpec.useSchemaDiscovery",
            &[
                "would leave the datasource with no dimensions",
                "list them in \"dimensions\"",
            ],
        );
    }
    assert_rejected(
        with_dimensions_spec(Some(json!({"useSchemaDiscovery": "yes"}))),
        "dimensionsSpec.useSchemaDiscovery",
        &["expected true or false, found a string"],
    );
}

/// A discovery spec with a declared dimension, a metric and an exclusion.
fn discovery_spec() -> DataSourceSpec {
    parse(json!({
        "dataSource": "events",
        "timestampSpec": {"column": "ts"},
        "dimensionsSpec": {
            "dimensions": [{"type": "string", "name": "host", "rollup": false}],
            "dimensionExclusions": ["secret"],
            "useSchemaDiscovery": true
        },
        "metricsSpec": [{"type": "longSum", "name": "bytes_total", "fieldName": "bytes"}]
    }))
}

#[test]
fn discovered_dimensions_widen_a_spec_that_keeps_discovering() {
    let spec = discovery_spec();
    let widened = spec
        .with_discovered_dimensions(vec![
            Dimension::discovered_string("region"),
            Dimension::discovered_long("status"),
            Dimension::discovered_double("latency"),
        ])
        .unwrap();
    assert!(widened.is_schema_discovery());
    assert_eq!(
        names(widened.dimensions().iter()),
        ["host", "region", "status", "latency"]
    );
    assert_eq!(
        names(widened.rollup_dimensions()),
        ["region", "status", "latency"]
    );
    assert_eq!(widened.dimension_exclusions(), spec.dimension_exclusions());
    assert_eq!(widened.metrics(), spec.metrics());
    assert_eq!(
        serde_json::to_value(&widened).unwrap()["dimensionsSpec"],
        json!({
            "dimensions": [
                {"type": "string", "name": "host", "multiValueHandling": "SORTED_ARRAY", "rollup": false},
                {"type": "string", "name": "region", "multiValueHandling": "SORTED_ARRAY", "rollup": true},
                {"type": "long", "name": "status", "rollup": true},
                {"type": "double", "name": "latency", "rollup": true}
            ],
            "dimensionExclusions": ["secret"],
            "useSchemaDiscovery": true
        })
    );
    assert_round_trips(&widened);
    let again = widened
        .with_discovered_dimensions(vec![Dimension::discovered_string("zone")])
        .unwrap();
    assert_eq!(again.dimensions().len(), 5);
    assert_eq!(
        spec.with_discovered_dimensions(Vec::new()).unwrap(),
        spec,
        "adding nothing changes nothing"
    );
}

#[test]
fn discovered_dimensions_with_taken_or_forbidden_names_are_refused() {
    let spec = discovery_spec();
    for (added, path, fragment) in [
        (
            vec![Dimension::discovered_string("host")],
            "dimensionsSpec.dimensions[1] (\"host\")",
            "already the name of dimensionsSpec.dimensions[0] (\"host\")",
        ),
        (
            vec![
                Dimension::discovered_string("a"),
                Dimension::discovered_long("a"),
            ],
            "dimensionsSpec.dimensions[2] (\"a\")",
            "already the name of dimensionsSpec.dimensions[1] (\"a\")",
        ),
        (
            vec![Dimension::discovered_long("bytes_total")],
            "metricsSpec[0] (\"bytes_total\")",
            "already the name of dimensionsSpec.dimensions[1] (\"bytes_total\")",
        ),
        (
            vec![Dimension::discovered_string("__time")],
            "dimensionsSpec.dimensions[1] (\"__time\")",
            "\"__time\" is reserved",
        ),
        (
            vec![Dimension::discovered_long("ts")],
            "dimensionsSpec.dimensions[1] (\"ts\")",
            "is the timestamp column",
        ),
        (
            vec![Dimension::discovered_string("")],
            "dimensionsSpec.dimensions[1] (\"\")",
            "must not be empty",
        ),
        (
            vec![Dimension::discovered_string("secret")],
            "dimensionsSpec.dimensionExclusions[0]",
            "\"secret\" is listed in dimensions, so it cannot be excluded",
        ),
    ] {
        let error = spec.with_discovered_dimensions(added).unwrap_err();
        let message = error.to_string();
        assert_eq!(error.path(), Some(path), "{message}");
        assert!(message.contains(fragment), "{message:?} lacks {fragment:?}");
    }
}

#[test]
fn a_spec_without_discovery_takes_no_discovered_dimensions() {
    let error = parse(access_spec())
        .with_discovered_dimensions(vec![Dimension::discovered_string("zone")])
        .unwrap_err();
    assert_eq!(error.path(), Some("dimensionsSpec.useSchemaDiscovery"));
    assert_eq!(
        error.problem(),
        Some(&SpecProblem::NotSchemaDiscovery {
            data_source: "access".to_owned()
        })
    );
    assert!(
        error
            .to_string()
            .contains("set \"useSchemaDiscovery\": true in its dimensionsSpec"),
        "{error}"
    );
}

fn any_column_name() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9_]{0,8}"
}

fn any_dimension(name: String) -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!(name)),
        (
            prop::sample::select(vec!["SORTED_ARRAY", "SORTED_SET", "ARRAY"]),
            any::<bool>()
        )
            .prop_map({
                let name = name.clone();
                move |(handling, rollup)| {
                    json!({"type": "string", "name": name, "multiValueHandling": handling, "rollup": rollup})
                }
            }),
        (prop::sample::select(vec!["long", "double", "float"]), any::<bool>()).prop_map({
            let name = name.clone();
            move |(kind, rollup)| json!({"type": kind, "name": name, "rollup": rollup})
        }),
        prop::sample::select(vec!["default", "raw", "english"])
            .prop_map(move |analyzer| json!({"type": "text", "name": name, "analyzer": analyzer})),
    ]
}

fn any_metric(name: String) -> impl Strategy<Value = Value> {
    let simple_types = vec![
        "longSum",
        "doubleSum",
        "floatSum",
        "longMin",
        "longMax",
        "doubleMin",
        "doubleMax",
        "floatMin",
        "floatMax",
        "longFirst",
        "longLast",
        "doubleFirst",
        "doubleLast",
    ];
    prop_oneof![
        Just(json!({"type": "count", "name": name})),
        (prop::sample::select(simple_types), any_column_name()).prop_map({
            let name = name.clone();
            move |(kind, field)| json!({"type": kind, "name": name, "fieldName": field})
        }),
        (4u8..=21, prop::sample::select(vec!["HLL_4", "HLL_6", "HLL_8"]), any_column_name()).prop_map({
            let name = name.clone();
            move |(lg_k, target, field)| {
                json!({"type": "HLLSketchBuild", "name": name, "fieldName": field, "lgK": lg_k, "tgtHllType": target})
            }
        }),
        (1u32..=15, any_column_name()).prop_map(move |(log_k, field)| {
            json!({"type": "quantilesDoublesSketch", "name": name, "fieldName": field, "k": 1u32 << log_k})
        }),
    ]
}

/// (queryGranularity, segmentGranularity) pairs where the first nests in the second.
fn any_granularities() -> impl Strategy<Value = (Value, Value)> {
    prop::sample::select(vec![
        (json!("none"), json!("hour")),
        (json!("minute"), json!("day")),
        (json!("fifteen_minute"), json!("six_hour")),
        (json!({"type": "hour"}), json!("month")),
        (json!("day"), json!("year")),
        (json!("all"), json!("all")),
        (
            json!({"type": "period", "period": "PT1H", "timeZone": "America/New_York"}),
            json!({"type": "period", "period": "P1D", "timeZone": "America/New_York"}),
        ),
        (
            json!({"type": "duration", "duration": 60000}),
            json!({"type": "period", "period": "PT1H", "origin": "2024-01-01T00:00:00Z"}),
        ),
    ])
}

prop_compose! {
    fn any_spec()(
        name in "[a-zA-Z0-9][a-zA-Z0-9_.-]{0,20}".prop_filter("not a route", |name| DataSourceName::new(name.as_str()).is_ok()),
        column in prop::sample::select(vec!["timestamp", "ts", "time"]),
        format in prop::sample::select(vec!["iso", "millis", "posix", "micro", "nano", "auto"]),
        missing_value in prop::option::of(0i64..4_102_444_800_000),
        dimension_names in prop::collection::btree_set("d[a-z0-9]{1,6}", 0..6),
        metric_names in prop::collection::btree_set("m[a-z0-9]{1,6}", 0..6),
        (query, segment) in any_granularities(),
        rollup in any::<bool>(),
        interval in prop::option::of((0i64..2_000_000_000_000, 1i64..1_000_000_000)),
        use_schema_discovery in prop::option::of(any::<bool>()),
    )(
        dimensions in dimension_names.into_iter().map(any_dimension).collect::<Vec<_>>(),
        metrics in metric_names.into_iter().map(any_metric).collect::<Vec<_>>(),
        name in Just(name), column in Just(column), format in Just(format), missing_value in Just(missing_value),
        query in Just(query), segment in Just(segment), rollup in Just(rollup), interval in Just(interval),
        use_schema_discovery in Just(use_schema_discovery),
    ) -> Value {
        let mut timestamp_spec = json!({"column": column, "format": format});
        if let Some(missing_value) = missing_value {
            timestamp_spec["missingValue"] = json!(crate::time::format_millis(missing_value));
        }
        let mut granularity_spec = json!({"segmentGranularity": segment, "queryGranularity": query, "rollup": rollup});
        if let Some((start, length)) = interval {
            let interval = Interval::new(start, start + length).unwrap();
            granularity_spec["intervals"] = json!([interval.to_string()]);
        }
        let mut dimensions_spec = json!({"dimensions": dimensions});
        // Off without dimensions is refused, which a test of its own checks.
        if use_schema_discovery == Some(true) || (use_schema_discovery == Some(false) && !dimensions.is_empty()) {
            dimensions_spec["useSchemaDiscovery"] = json!(use_schema_discovery);
        }
        json!({
            "dataSource": name,
            "timestampSpec": timestamp_spec,
            "dimensionsSpec": dimensions_spec,
            "metricsSpec": metrics,
            "granularitySpec": granularity_spec,
        })
    }
}

/// Dimensions as schema discovery makes them, named apart from [`any_spec`]'s
/// dimensions (`d...`), metrics (`m...`) and timestamp columns.
fn any_discovered_dimensions() -> impl Strategy<Value = Vec<Dimension>> {
    prop::collection::btree_set("x[a-z0-9]{1,6}", 0..5).prop_flat_map(|names| {
        let count = names.len();
        prop::collection::vec(0u8..3, count).prop_map(move |kinds| {
            names
                .iter()
                .zip(kinds)
                .map(|(name, kind)| match kind {
                    0 => Dimension::discovered_string(name.as_str()),
                    1 => Dimension::discovered_long(name.as_str()),
                    _ => Dimension::discovered_double(name.as_str()),
                })
                .collect()
        })
    })
}

proptest! {
    #[test]
    fn valid_specs_round_trip_through_json(value in any_spec()) {
        let spec = DataSourceSpec::from_json(&value.to_string()).map_err(|error| TestCaseError::fail(error.to_string()))?;
        let text = serde_json::to_string(&spec).unwrap();
        let again = DataSourceSpec::from_json(&text).map_err(|error| TestCaseError::fail(format!("{error}\n{text}")))?;
        prop_assert_eq!(&again, &spec);
        prop_assert_eq!(serde_json::to_string(&again).unwrap(), text);
        let events_table = !spec.rollup() || spec.dimensions().iter().any(|dimension| !dimension.in_rollup());
        prop_assert_eq!(spec.needs_events_table(), events_table);
        prop_assert!(spec.rollup_dimensions().all(|dimension| !dimension.is_text()));
        let flag = value["dimensionsSpec"]["useSchemaDiscovery"].as_bool();
        let discovery = flag == Some(true) || (spec.dimensions().is_empty() && flag != Some(false));
        prop_assert_eq!(spec.is_schema_discovery(), discovery);
    }

    #[test]
    fn widened_specs_keep_their_dimensions_and_round_trip(value in any_spec(), added in any_discovered_dimensions()) {
        let spec = DataSourceSpec::from_json(&value.to_string()).map_err(|error| TestCaseError::fail(error.to_string()))?;
        match spec.with_discovered_dimensions(added.clone()) {
            Ok(widened) => {
                prop_assert!(spec.is_schema_discovery() && widened.is_schema_discovery());
                let expected: Vec<&Dimension> = spec.dimensions().iter().chain(&added).collect();
                prop_assert_eq!(widened.dimensions().iter().collect::<Vec<_>>(), expected);
                let text = serde_json::to_string(&widened).unwrap();
                let again = DataSourceSpec::from_json(&text).map_err(|error| TestCaseError::fail(format!("{error}\n{text}")))?;
                prop_assert_eq!(&again, &widened);
                prop_assert_eq!(serde_json::to_string(&again).unwrap(), text);
            }
            Err(error) => {
                prop_assert!(!spec.is_schema_discovery(), "{}", error);
                prop_assert_eq!(error.problem(), Some(&SpecProblem::NotSchemaDiscovery { data_source: spec.name().to_owned() }));
            }
        }
    }
}
