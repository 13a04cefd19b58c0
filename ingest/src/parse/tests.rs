//! Whole-line tests of [`EventParser`]: a spec, a line, the event or the message.

use proptest::prelude::*;
use serde_json::{Value, json};
use strata_storage::spec::DataSourceSpec;

use super::*;

const JAN_1_2024: i64 = 1_704_067_200_000;

/// The reference dataset's spec (DATASET.md).
const ACCESS_SPEC: &str = strata_storage::spec::ACCESS_SPEC_JSON;

const ACCESS_LINE: &str = r#"{"timestamp":"2024-01-01T00:00:00.123Z","service":"svc-00","region":"us-east-1","host":"host-0007","method":"GET","status":200,"path":"/api/v1/r0","country":"C000","user_id":"12","duration_ms":20.086,"bytes":2981,"retries":0,"message":"GET /api/v1/r0 -> 200 in 20.086ms user=12 w0 w3 w1 w17"}"#;

fn spec(json: Value) -> DataSourceSpec {
    DataSourceSpec::from_json_value(&json).unwrap()
}

/// A spec with the given dimensions and metrics, time in `ts` as `auto`.
fn spec_with(dimensions: Value, metrics: Value) -> DataSourceSpec {
    spec(json!({
        "dataSource": "events",
        "timestampSpec": {"column": "ts", "format": "auto"},
        "dimensionsSpec": {"dimensions": dimensions},
        "metricsSpec": metrics,
    }))
}

fn parser_with(dimensions: Value) -> EventParser {
    EventParser::new(&spec_with(dimensions, json!([])))
}

fn parse(parser: &EventParser, line: &str) -> Result<ParsedEvent, ParseError> {
    parser.parse_line(line.as_bytes())
}

fn message(parser: &EventParser, line: &str) -> String {
    match parse(parser, line) {
        Ok(event) => panic!("{line} parsed into {event:?}"),
        Err(error) => error.to_string(),
    }
}

fn string(value: &str) -> DimensionValue {
    DimensionValue::String(value.to_owned())
}

fn strings(values: &[&str]) -> DimensionValue {
    DimensionValue::Strings(values.iter().map(|value| (*value).to_owned()).collect())
}

#[test]
fn a_reference_event_parses_into_typed_slots() {
    let parser = EventParser::new(&DataSourceSpec::from_json(ACCESS_SPEC).unwrap());
    let event = parse(&parser, ACCESS_LINE).unwrap();
    assert_eq!(event.time(), JAN_1_2024 + 123);
    assert_eq!(
        event.dimensions(),
        &[
            string("svc-00"),
            string("us-east-1"),
            string("GET"),
            DimensionValue::Long(200),
            string("C000"),
            string("host-0007"),
            string("/api/v1/r0"),
            string("12"),
            string("GET /api/v1/r0 -> 200 in 20.086ms user=12 w0 w3 w1 w17"),
        ]
    );
    assert_eq!(
        event.metric_inputs(),
        &[
            MetricInput::Null,
            MetricInput::Long(2981),
            MetricInput::Double(20.086),
            MetricInput::Double(20.086),
            MetricInput::Long(0),
            MetricInput::String("12".to_owned()),
            MetricInput::Double(20.086),
        ]
    );
    assert!(event.discovered().is_empty());
    // service, region, method, status, country: host, path, user_id and the text stay out.
    assert_eq!(parser.rollup_positions(), &[0, 1, 2, 3, 4]);
    assert_eq!(parser.dimension_count(), 9);
}

#[test]
fn the_same_line_through_serde_json_values_and_sonic_rs_gives_the_same_event() {
    let parser = EventParser::new(&DataSourceSpec::from_json(ACCESS_SPEC).unwrap());
    let expected = parse(&parser, ACCESS_LINE).unwrap();
    let value: Value = serde_json::from_str(ACCESS_LINE).unwrap();
    assert_eq!(parser.parse_from(&value).unwrap(), expected);
    let mut sonic = sonic_rs::Deserializer::from_slice(ACCESS_LINE.as_bytes());
    assert_eq!(parser.parse_from(&mut sonic).unwrap(), expected);
}

#[test]
fn rollup_off_leaves_no_rollup_positions() {
    let parser = EventParser::new(&spec(json!({
        "dataSource": "events",
        "dimensionsSpec": {"dimensions": ["a"]},
        "granularitySpec": {"rollup": false},
    })));
    assert!(parser.rollup_positions().is_empty());
}

// Timestamps.

fn time_parser(format: &str) -> EventParser {
    EventParser::new(&spec(json!({
        "dataSource": "events",
        "timestampSpec": {"column": "ts", "format": format},
        "dimensionsSpec": {"dimensions": ["a"]},
    })))
}

fn time_of(format: &str, ts: Value) -> Result<i64, ParseError> {
    let line = json!({"ts": ts, "a": "x"}).to_string();
    parse(&time_parser(format), &line).map(|event| event.time())
}

#[test]
fn every_timestamp_format_reads_its_unit() {
    assert_eq!(
        time_of("iso", json!("2024-01-01T00:00:00Z")),
        Ok(JAN_1_2024)
    );
    assert_eq!(
        time_of("iso", json!("2024-01-01 01:00:00+01:00")),
        Ok(JAN_1_2024)
    );
    assert_eq!(time_of("iso", json!("2024-01-01")), Ok(JAN_1_2024));
    assert_eq!(time_of("millis", json!(JAN_1_2024)), Ok(JAN_1_2024));
    assert_eq!(time_of("millis", json!("1704067200000")), Ok(JAN_1_2024));
    assert_eq!(time_of("posix", json!(1_704_067_200)), Ok(JAN_1_2024));
    assert_eq!(
        time_of("posix", json!(1_704_067_200.25)),
        Ok(JAN_1_2024 + 250)
    );
    assert_eq!(
        time_of("posix", json!("1704067200.5")),
        Ok(JAN_1_2024 + 500)
    );
    assert_eq!(
        time_of("micro", json!(1_704_067_200_000_999_i64)),
        Ok(JAN_1_2024)
    );
    assert_eq!(
        time_of("nano", json!("1704067200001000000")),
        Ok(JAN_1_2024 + 1)
    );
    assert_eq!(time_of("auto", json!(JAN_1_2024)), Ok(JAN_1_2024));
    assert_eq!(time_of("auto", json!("1704067200000")), Ok(JAN_1_2024));
    assert_eq!(
        time_of("auto", json!("2024-01-01T00:00:00.000Z")),
        Ok(JAN_1_2024)
    );
}

#[test]
fn a_bad_timestamp_names_the_column_and_shows_the_value() {
    let parser = time_parser("iso");
    assert_eq!(
        message(&parser, r#"{"ts": "noon", "a": "x"}"#),
        "timestamp field `ts` holds \"noon\", which is not an ISO-8601 time (timestampSpec format `iso`); send times such as 2024-01-01T00:00:00.000Z"
    );
    assert_eq!(
        message(&parser, r#"{"ts": 1704067200000}"#),
        "timestamp field `ts` holds 1704067200000, a number, but timestampSpec format `iso` takes ISO-8601 text; set the format to `millis`, `posix`, `micro`, `nano` or `auto`"
    );
    assert_eq!(
        message(&time_parser("posix"), r#"{"ts": "soon"}"#),
        "timestamp field `ts` holds \"soon\", which is not a number of seconds since the epoch (timestampSpec format `posix`); send a number, or set the format to `iso` or `auto` for ISO-8601 text"
    );
    assert_eq!(
        message(&time_parser("millis"), r#"{"ts": 1704067200000000}"#),
        "timestamp field `ts` holds 1704067200000000, which read as timestampSpec format `millis` lies outside the years 0000 to 9999; check that the format matches the unit of the numbers"
    );
    for (ts, shown) in [
        ("true", "true"),
        ("[1]", "an array"),
        ("{\"x\": 1}", "an object"),
    ] {
        assert_eq!(
            message(&parser, &format!(r#"{{"ts": {ts}}}"#)),
            format!(
                "timestamp field `ts` holds {shown}, which is not a time; send ISO-8601 text or a number since the epoch"
            )
        );
    }
}

#[test]
fn a_missing_timestamp_is_an_error_unless_the_spec_has_a_missing_value() {
    let parser = time_parser("auto");
    let expected = "the event has no timestamp field `ts`; add it, or set `missingValue` in the spec's timestampSpec";
    assert_eq!(message(&parser, r#"{"a": "x"}"#), expected);
    assert_eq!(message(&parser, r#"{"ts": null, "a": "x"}"#), expected);
    let parser = EventParser::new(&spec(json!({
        "dataSource": "events",
        "timestampSpec": {"column": "ts", "missingValue": "2024-01-01T00:00:00Z"},
        "dimensionsSpec": {"dimensions": ["a"]},
    })));
    assert_eq!(parse(&parser, r#"{"a": "x"}"#).unwrap().time(), JAN_1_2024);
    assert_eq!(
        parse(&parser, r#"{"ts": null}"#).unwrap().time(),
        JAN_1_2024
    );
    assert_eq!(parse(&parser, r#"{"ts": 5}"#).unwrap().time(), 5);
}

#[test]
fn a_nested_timestamp_column_is_read_flattened() {
    let parser = EventParser::new(&spec(json!({
        "dataSource": "events",
        "timestampSpec": {"column": "meta.time", "format": "millis"},
        "dimensionsSpec": {"dimensions": ["a"]},
    })));
    let event = parse(
        &parser,
        r#"{"meta": {"time": 42, "other": [1, {"x": 2}]}, "a": "x"}"#,
    );
    assert_eq!(event.unwrap().time(), 42);
}

// Flattening.

#[test]
fn nested_objects_are_read_by_dotted_names() {
    let parser = parser_with(json!(["a.b", {"type": "long", "name": "a.c.d"}, "e"]));
    let event = parse(
        &parser,
        r#"{"ts": 0, "a": {"b": "x", "c": {"d": 7, "z": {"deep": true}}, "q": 1}, "e": "y"}"#,
    )
    .unwrap();
    assert_eq!(
        event.dimensions(),
        &[string("x"), DimensionValue::Long(7), string("y")]
    );
}

#[test]
fn a_dotted_key_at_the_top_also_names_the_nested_field() {
    let parser = parser_with(json!(["a.b"]));
    let event = parse(&parser, r#"{"ts": 0, "a.b": "x"}"#).unwrap();
    assert_eq!(event.dimensions(), &[string("x")]);
}

#[test]
fn unnamed_fields_are_skipped_whatever_they_hold() {
    let parser = parser_with(json!(["a"]));
    let event = parse(
        &parser,
        r#"{"ts": 0, "skip": {"x": [1, [2, {"y": null}]], "z": "\u00e9"}, "a": "kept", "n": 1.5e300}"#,
    )
    .unwrap();
    assert_eq!(event.dimensions(), &[string("kept")]);
}

#[test]
fn an_object_into_a_single_value_field_is_refused() {
    let parser = parser_with(json!(["a"]));
    assert_eq!(
        message(&parser, r#"{"ts": 0, "a": {"b": 1}}"#),
        "field `a` holds an object, but string dimension `a` takes a single value; to read a field inside it, name that field with a dot, such as `a.name`"
    );
    let parser = EventParser::new(&spec_with(
        json!(["x"]),
        json!([{"type": "longSum", "name": "total", "fieldName": "n"}]),
    ));
    assert_eq!(
        message(&parser, r#"{"ts": 0, "n": {}}"#),
        "field `n` holds an object, but metric `total` (longSum) takes a single value; to read a field inside it, name that field with a dot, such as `n.name`"
    );
}

#[test]
fn a_field_both_named_and_containing_named_fields_is_walked() {
    let parser = parser_with(json!(["a", "a.b"]));
    let event = parse(&parser, r#"{"ts": 0, "a": {"b": "x"}}"#).unwrap();
    assert_eq!(event.dimensions(), &[DimensionValue::Null, string("x")]);
    let event = parse(&parser, r#"{"ts": 0, "a": "y"}"#).unwrap();
    assert_eq!(event.dimensions(), &[string("y"), DimensionValue::Null]);
}

// Arrays.

#[test]
fn arrays_are_multi_value_strings_without_nulls() {
    let parser = parser_with(json!([
        "tags",
        {"type": "string", "name": "set", "multiValueHandling": "SORTED_SET"},
        {"type": "string", "name": "ordered", "multiValueHandling": "ARRAY"},
    ]));
    let event = parse(
        &parser,
        r#"{"ts": 0, "tags": ["b", null, 3, true, "a"], "set": ["b", "a", "b"], "ordered": ["b", "a"]}"#,
    )
    .unwrap();
    assert_eq!(
        event.dimensions(),
        &[
            strings(&["3", "a", "b", "true"]),
            strings(&["a", "b"]),
            strings(&["b", "a"])
        ]
    );
    let event = parse(
        &parser,
        r#"{"ts": 0, "tags": [], "set": [null], "ordered": ["only"]}"#,
    )
    .unwrap();
    assert_eq!(
        event.dimensions(),
        &[DimensionValue::Null, DimensionValue::Null, string("only")]
    );
}

#[test]
fn an_array_into_a_single_value_dimension_needs_exactly_one_element() {
    let parser = parser_with(json!([{"type": "long", "name": "n"}, {"type": "text", "name": "t"}]));
    let event = parse(&parser, r#"{"ts": 0, "n": [7], "t": ["hello"]}"#).unwrap();
    assert_eq!(
        event.dimensions(),
        &[DimensionValue::Long(7), string("hello")]
    );
    assert_eq!(
        message(&parser, r#"{"ts": 0, "n": [1, 2, 3]}"#),
        "field `n` holds an array of 3 values, but long dimension `n` takes one value; send one value, or declare the dimension `n` as `string` to keep several"
    );
    assert_eq!(
        message(&parser, r#"{"ts": 0, "t": ["a", "b"]}"#),
        "field `t` holds an array of 2 values, but text dimension `t` takes one value; send one value, or declare the dimension `t` as `string` to keep several"
    );
}

#[test]
fn containers_inside_arrays_are_refused() {
    let parser = parser_with(json!(["tags"]));
    assert_eq!(
        message(&parser, r#"{"ts": 0, "tags": ["a", {"b": 1}]}"#),
        "field `tags` holds an array with an object in it, which string dimension `tags` cannot hold; send an array of strings, numbers or booleans"
    );
    assert!(
        message(&parser, r#"{"ts": 0, "tags": [["a"]]}"#).contains("an array with an array in it")
    );
}

// Coercion, end to end (the rules themselves are tested in `coerce`).

#[test]
fn coercion_applies_per_declared_type() {
    let parser = EventParser::new(&spec_with(
        json!(["s", {"type": "long", "name": "l"}, {"type": "double", "name": "d"}, {"type": "text", "name": "t"}]),
        json!([
            {"type": "longSum", "name": "l_sum", "fieldName": "l"},
            {"type": "doubleMin", "name": "d_min", "fieldName": "d"},
            {"type": "HLLSketchBuild", "name": "s_users", "fieldName": "s"},
        ]),
    ));
    let event = parse(
        &parser,
        r#"{"ts": 0, "s": 1.0, "l": "42", "d": 3, "t": 2.5}"#,
    )
    .unwrap();
    assert_eq!(
        event.dimensions(),
        &[
            string("1"),
            DimensionValue::Long(42),
            DimensionValue::Double(3.0),
            string("2.5")
        ]
    );
    assert_eq!(
        event.metric_inputs(),
        &[
            MetricInput::Long(42),
            MetricInput::Double(3.0),
            MetricInput::Double(1.0)
        ]
    );
    let event = parse(
        &parser,
        r#"{"ts": 0, "s": false, "l": 3.0, "d": "-0", "t": null}"#,
    )
    .unwrap();
    assert_eq!(
        event.dimensions(),
        &[
            string("false"),
            DimensionValue::Long(3),
            DimensionValue::Double(0.0),
            DimensionValue::Null
        ]
    );
    let event = parse(&parser, r#"{"ts": 0}"#).unwrap();
    assert!(
        event
            .dimensions()
            .iter()
            .all(|value| *value == DimensionValue::Null)
    );
    assert!(
        event
            .metric_inputs()
            .iter()
            .all(|value| *value == MetricInput::Null)
    );
    assert_eq!(
        message(&parser, r#"{"ts": 0, "l": 3.5}"#),
        "field `l` holds 3.5, which is not an integer as long dimension `l` needs; declare the dimension `l` as `double`"
    );
    assert_eq!(
        message(&parser, r#"{"ts": 0, "d": "fast"}"#),
        "field `d` holds \"fast\", which is not a number as double dimension `d` needs; send a number or a numeric string, or declare the dimension `d` as `string`"
    );
    assert!(matches!(
        parse(&parser, r#"{"ts": 0, "l": 18446744073709551615}"#),
        Err(ParseError::OutOfRange { .. })
    ));
}

#[test]
fn a_field_read_by_a_metric_alone_is_checked_by_the_metric() {
    let parser = EventParser::new(&spec_with(
        json!(["x"]),
        json!([{"type": "longMax", "name": "peak", "fieldName": "bytes"}]),
    ));
    assert_eq!(
        message(&parser, r#"{"ts": 0, "bytes": 1.5}"#),
        "field `bytes` holds 1.5, which is not an integer as metric `peak` (longMax) needs; declare the metric `peak` as `doubleMax`"
    );
}

#[test]
fn long_values_in_messages_are_cut() {
    let parser = parser_with(json!([{"type": "long", "name": "n"}]));
    let line = json!({"ts": 0, "n": "z".repeat(10_000)}).to_string();
    let text = message(&parser, &line);
    assert!(text.len() < 400, "{text}");
    assert!(text.contains("zzz…, which is not a number"), "{text}");
}

// Schema discovery.

fn discovery_parser() -> EventParser {
    EventParser::new(&spec(json!({
        "dataSource": "events",
        "timestampSpec": {"column": "ts", "format": "auto"},
        "dimensionsSpec": {"dimensions": [], "dimensionExclusions": ["secret", "blob"]},
        "metricsSpec": [
            {"type": "count", "name": "count"},
            {"type": "longSum", "name": "bytes_total", "fieldName": "bytes"},
        ],
    })))
}

fn discovered(name: &str, value_type: DimensionType) -> DiscoveredDimension {
    DiscoveredDimension {
        name: name.to_owned(),
        value_type,
    }
}

#[test]
fn discovery_types_new_fields_by_their_json_values() {
    let parser = discovery_parser();
    let event = parse(
        &parser,
        r#"{"ts": 0, "host": "h1", "status": 200, "latency": 1.5, "ok": true, "tags": ["b", "a"], "big": 18446744073709551615, "nothing": null, "none": [], "meta": {"zone": "z1"}}"#,
    )
    .unwrap();
    assert_eq!(
        event.discovered(),
        &[
            discovered("host", DimensionType::String),
            discovered("status", DimensionType::Long),
            discovered("latency", DimensionType::Double),
            discovered("ok", DimensionType::String),
            discovered("tags", DimensionType::String),
            discovered("big", DimensionType::Double),
            discovered("meta.zone", DimensionType::String),
        ]
    );
    assert_eq!(
        event.dimensions(),
        &[
            string("h1"),
            DimensionValue::Long(200),
            DimensionValue::Double(1.5),
            string("true"),
            strings(&["a", "b"]),
            DimensionValue::Double(18446744073709551615.0),
            string("z1"),
        ]
    );
}

#[test]
fn discovery_skips_the_timestamp_metrics_exclusions_and_reserved_names() {
    let parser = discovery_parser();
    let event = parse(
        &parser,
        r#"{"ts": 0, "bytes": 10, "bytes_total": 5, "count": 3, "secret": "s", "blob": {"x": 1}, "__time": 1, "": 2, "kept": "k"}"#,
    )
    .unwrap();
    assert_eq!(
        event.discovered(),
        &[discovered("kept", DimensionType::String)]
    );
    assert_eq!(event.dimensions(), &[string("k")]);
    assert_eq!(
        event.metric_inputs(),
        &[MetricInput::Null, MetricInput::Long(10)]
    );
}

#[test]
fn widening_puts_later_events_at_the_same_positions() {
    let mut parser = discovery_parser();
    let first = parse(&parser, r#"{"ts": 0, "b": "x", "a": 1}"#).unwrap();
    parser.add_discovered(&first).unwrap();
    assert_eq!(parser.discovered(), first.discovered());
    assert_eq!(parser.dimension_count(), 2);
    assert_eq!(parser.rollup_positions(), &[0, 1]);

    let second = parse(&parser, r#"{"ts": 0, "a": 2, "c": "new", "b": "y"}"#).unwrap();
    assert_eq!(
        second.discovered(),
        &[discovered("c", DimensionType::String)]
    );
    assert_eq!(
        second.dimensions(),
        &[string("y"), DimensionValue::Long(2), string("new")]
    );
    parser.add_discovered(&second).unwrap();

    let third = parse(&parser, r#"{"ts": 0, "c": "z"}"#).unwrap();
    assert!(third.discovered().is_empty());
    assert_eq!(
        third.dimensions(),
        &[DimensionValue::Null, DimensionValue::Null, string("z")]
    );
}

#[test]
fn a_discovered_dimension_reads_later_values_by_its_type() {
    let mut parser = discovery_parser();
    let first = parse(&parser, r#"{"ts": 0, "n": 1}"#).unwrap();
    parser.add_discovered(&first).unwrap();
    assert_eq!(
        parse(&parser, r#"{"ts": 0, "n": "7"}"#)
            .unwrap()
            .dimensions(),
        &[DimensionValue::Long(7)]
    );
    assert_eq!(
        message(&parser, r#"{"ts": 0, "n": 2.5}"#),
        "field `n` holds 2.5, which is not an integer as long dimension `n` needs; declare the dimension `n` as `double`"
    );
}

#[test]
fn an_event_parsed_before_a_widening_is_stale() {
    let mut parser = discovery_parser();
    let first = parse(&parser, r#"{"ts": 0, "a": "x"}"#).unwrap();
    let racing = parse(&parser, r#"{"ts": 0, "b": "y"}"#).unwrap();
    parser.add_discovered(&first).unwrap();
    assert_eq!(
        parser.add_discovered(&racing),
        Err(WidenError::StaleEvent {
            parsed_with: 0,
            now: 1
        })
    );
    let reparsed = parse(&parser, r#"{"ts": 0, "b": "y"}"#).unwrap();
    parser.add_discovered(&reparsed).unwrap();
    assert_eq!(
        parser.discovered(),
        &[
            discovered("a", DimensionType::String),
            discovered("b", DimensionType::String)
        ]
    );
}

#[test]
fn a_parser_is_restored_from_its_discovered_list() {
    let list = [
        discovered("a", DimensionType::Long),
        discovered("m.z", DimensionType::Double),
    ];
    let mut parser = discovery_parser();
    parser.add_dimensions(&list).unwrap();
    let event = parse(&parser, r#"{"ts": 0, "m": {"z": 1}, "a": "3"}"#).unwrap();
    assert_eq!(
        event.dimensions(),
        &[DimensionValue::Long(3), DimensionValue::Double(1.0)]
    );
    assert!(event.discovered().is_empty());

    assert_eq!(
        parser.add_dimensions(&[discovered("a", DimensionType::Long)]),
        Err(WidenError::AlreadyKnown {
            name: "a".to_owned()
        })
    );
    for name in ["ts", "bytes", "secret", "count", "__x", ""] {
        assert_eq!(
            parser.add_dimensions(&[discovered(name, DimensionType::String)]),
            Err(WidenError::NotDiscoverable {
                name: name.to_owned()
            }),
            "{name:?}"
        );
    }
    let declared = parser_with(json!(["a"]));
    assert!(matches!(
        declared.clone().add_dimensions(&list),
        Err(WidenError::NotSchemaDiscovery { .. })
    ));
}

#[test]
fn a_dotted_key_inside_an_excluded_name_is_excluded_too() {
    let mut parser = discovery_parser();
    let event = parse(
        &parser,
        r#"{"ts": 0, "blob.x": 1, "secret.y": "s", "count.z": 2, "kept.k": 3, "blobby": 4}"#,
    )
    .unwrap();
    assert_eq!(
        event.discovered(),
        &[
            discovered("kept.k", DimensionType::Long),
            discovered("blobby", DimensionType::Long)
        ]
    );
    assert_eq!(
        parser.add_dimensions(&[discovered("blob.x", DimensionType::Long)]),
        Err(WidenError::NotDiscoverable {
            name: "blob.x".to_owned()
        })
    );
}

#[test]
fn a_repeated_new_field_keeps_its_last_value() {
    let event = parse(&discovery_parser(), r#"{"ts": 0, "x": 1, "x": "one"}"#).unwrap();
    assert_eq!(
        event.discovered(),
        &[discovered("x", DimensionType::String)]
    );
    assert_eq!(event.dimensions(), &[string("one")]);
}

#[test]
fn discovery_refuses_arrays_of_containers_and_names_the_exclusion_fix() {
    assert_eq!(
        message(&discovery_parser(), r#"{"ts": 0, "items": [{"id": 1}]}"#),
        "field `items` holds an array with an object in it, which schema discovery cannot make a dimension of; list `items` in dimensionsSpec.dimensionExclusions to skip it"
    );
    let event = parse(&discovery_parser(), r#"{"ts": 0, "blob": [{"id": 1}]}"#).unwrap();
    assert!(event.discovered().is_empty());
}

#[test]
fn discovery_flattens_objects_under_known_dimensions() {
    let mut parser = discovery_parser();
    let first = parse(&parser, r#"{"ts": 0, "a": "x"}"#).unwrap();
    parser.add_discovered(&first).unwrap();
    let event = parse(&parser, r#"{"ts": 0, "a": {"b": 1}}"#).unwrap();
    assert_eq!(
        event.discovered(),
        &[discovered("a.b", DimensionType::Long)]
    );
    assert_eq!(
        event.dimensions(),
        &[DimensionValue::Null, DimensionValue::Long(1)]
    );
}

// Schema discovery stored in the spec.

/// The spec dimensions an event discovered, to widen its spec with.
fn spec_dimensions(event: &ParsedEvent) -> Vec<strata_storage::spec::Dimension> {
    event
        .discovered()
        .iter()
        .map(DiscoveredDimension::to_dimension)
        .collect()
}

#[test]
fn a_parser_from_a_widened_spec_knows_its_dimensions_and_keeps_discovering() {
    let empty = spec(json!({
        "dataSource": "events",
        "timestampSpec": {"column": "ts"},
        "dimensionsSpec": {"dimensions": []},
    }));
    let first = parse(&EventParser::new(&empty), r#"{"ts": 0, "a": "x", "b": 1}"#).unwrap();
    assert_eq!(
        first.discovered(),
        &[
            discovered("a", DimensionType::String),
            discovered("b", DimensionType::Long)
        ]
    );
    let widened = empty
        .with_discovered_dimensions(spec_dimensions(&first))
        .unwrap();
    assert!(widened.is_schema_discovery());
    let read_back = DataSourceSpec::from_json(&serde_json::to_string(&widened).unwrap()).unwrap();
    assert_eq!(read_back, widened);

    let mut parser = EventParser::new(&read_back);
    assert!(parser.discovered().is_empty());
    assert_eq!(parser.dimension_count(), 2);
    assert_eq!(parser.rollup_positions(), &[0, 1]);
    let event = parse(&parser, r#"{"ts": 0, "c": 1.5, "b": "7", "a": true}"#).unwrap();
    assert_eq!(
        event.dimensions(),
        &[
            string("true"),
            DimensionValue::Long(7),
            DimensionValue::Double(1.5)
        ]
    );
    assert_eq!(
        event.discovered(),
        &[discovered("c", DimensionType::Double)]
    );
    assert_eq!(
        message(&parser, r#"{"ts": 0, "b": 2.5}"#),
        "field `b` holds 2.5, which is not an integer as long dimension `b` needs; declare the dimension `b` as `double`"
    );
    parser.add_discovered(&event).unwrap();
    assert_eq!(
        parser.discovered(),
        &[discovered("c", DimensionType::Double)]
    );
    assert_eq!(
        parser.add_dimensions(&[discovered("a", DimensionType::String)]),
        Err(WidenError::AlreadyKnown {
            name: "a".to_owned()
        })
    );
}

#[test]
fn use_schema_discovery_with_declared_dimensions_discovers_the_rest() {
    let mut parser = EventParser::new(&spec(json!({
        "dataSource": "events",
        "timestampSpec": {"column": "ts"},
        "dimensionsSpec": {
            "dimensions": [{"type": "long", "name": "status"}, {"type": "text", "name": "message"}],
            "dimensionExclusions": ["secret"],
            "useSchemaDiscovery": true,
        },
        "metricsSpec": [
            {"type": "count", "name": "count"},
            {"type": "longSum", "name": "bytes_total", "fieldName": "bytes"},
        ],
    })));
    assert!(parser.discovered().is_empty());
    assert_eq!(parser.rollup_positions(), &[0]);
    let event = parse(
        &parser,
        r#"{"ts": 0, "host": "h1", "status": "200", "message": 42, "bytes": 7, "bytes_total": 1, "count": 2, "secret": "s", "__x": 1, "meta": {"zone": "z1"}}"#,
    )
    .unwrap();
    assert_eq!(
        event.discovered(),
        &[
            discovered("host", DimensionType::String),
            discovered("meta.zone", DimensionType::String)
        ]
    );
    assert_eq!(
        event.dimensions(),
        &[
            DimensionValue::Long(200),
            string("42"),
            string("h1"),
            string("z1")
        ]
    );
    assert_eq!(
        event.metric_inputs(),
        &[MetricInput::Null, MetricInput::Long(7)]
    );
    assert_eq!(
        message(&parser, r#"{"ts": 0, "status": 2.5}"#),
        "field `status` holds 2.5, which is not an integer as long dimension `status` needs; declare the dimension `status` as `double`"
    );
    parser.add_discovered(&event).unwrap();
    assert_eq!(parser.rollup_positions(), &[0, 2, 3]);
    assert_eq!(parser.discovered(), event.discovered());
    let nested = parse(&parser, r#"{"ts": 0, "status": {"code": 1}}"#).unwrap();
    assert_eq!(
        nested.discovered(),
        &[discovered("status.code", DimensionType::Long)]
    );
    assert_eq!(nested.dimensions()[0], DimensionValue::Null);
    for name in ["status", "message"] {
        assert_eq!(
            parser.add_dimensions(&[discovered(name, DimensionType::String)]),
            Err(WidenError::AlreadyKnown {
                name: name.to_owned()
            })
        );
    }
    for name in ["ts", "bytes", "bytes_total", "count", "secret"] {
        assert_eq!(
            parser.add_dimensions(&[discovered(name, DimensionType::String)]),
            Err(WidenError::NotDiscoverable {
                name: name.to_owned()
            }),
            "{name}"
        );
    }
}

#[test]
fn declared_dimensions_without_discovery_skip_the_rest() {
    let parser = EventParser::new(&spec(json!({
        "dataSource": "events",
        "timestampSpec": {"column": "ts"},
        "dimensionsSpec": {"dimensions": ["a"], "useSchemaDiscovery": false},
    })));
    let event = parse(&parser, r#"{"ts": 0, "a": "x", "b": "y"}"#).unwrap();
    assert!(event.discovered().is_empty());
    assert_eq!(event.dimensions(), &[string("x")]);
}

// Limits and malformed lines.

fn limited(max_line_bytes: usize, max_depth: usize) -> EventParser {
    EventParser::with_limits(
        &spec_with(json!(["a", "a.b.c"]), json!([])),
        ParseLimits {
            max_line_bytes,
            max_depth,
        },
    )
}

#[test]
fn the_line_length_limit_counts_bytes() {
    let line = r#"{"ts": 0, "a": "x"}"#;
    assert!(parse(&limited(line.len(), 64), line).is_ok());
    assert_eq!(
        message(&limited(line.len() - 1, 64), line),
        format!(
            "the line is {} bytes long, over the line length limit of {} bytes; send smaller events",
            line.len(),
            line.len() - 1
        )
    );
}

#[test]
fn the_depth_limit_holds_in_read_skipped_and_discovered_fields() {
    let parser = limited(1 << 20, 3);
    assert!(parse(&parser, r#"{"ts": 0, "a": {"b": {"c": "x"}}}"#).is_ok());
    assert!(parse(&parser, r#"{"ts": 0, "z": {"y": [1]}}"#).is_ok());
    let too_deep = "the event nests objects and arrays more than 3 levels deep, over the nesting depth limit; flatten the event";
    assert_eq!(
        message(&parser, r#"{"ts": 0, "a": {"b": {"c": [1]}}}"#),
        too_deep
    );
    assert_eq!(
        message(&parser, r#"{"ts": 0, "z": {"y": {"x": {}}}}"#),
        too_deep
    );
    assert_eq!(message(&parser, r#"{"ts": 0, "z": [[[1]]]}"#), too_deep);
    let discovery = EventParser::with_limits(
        &spec(json!({"dataSource": "d", "timestampSpec": {"column": "ts"}})),
        ParseLimits {
            max_line_bytes: 1 << 20,
            max_depth: 2,
        },
    );
    assert!(parse(&discovery, r#"{"ts": 0, "a": {"b": 1}}"#).is_ok());
    assert_eq!(
        parse(&discovery, r#"{"ts": 0, "a": {"b": {"c": 1}}}"#),
        Err(ParseError::TooDeep { limit: 2 })
    );
}

#[test]
fn a_hostile_nesting_is_an_error_not_a_stack_overflow() {
    let parser = parser_with(json!(["a"]));
    let line = format!(
        r#"{{"ts": 0, "x": {}{}}}"#,
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    assert_eq!(
        parse(&parser, &line),
        Err(ParseError::TooDeep { limit: 64 })
    );
}

#[test]
fn invalid_utf8_is_an_error() {
    let parser = parser_with(json!(["a"]));
    let mut line = br#"{"ts": 0, "a": "caf"#.to_vec();
    line.extend([0xC3, 0x28, b'"', b'}']);
    assert_eq!(
        parser.parse_line(&line).unwrap_err().to_string(),
        "the line is not valid UTF-8 (an invalid byte sequence starts at byte 19); send UTF-8 text"
    );
}

#[test]
fn a_line_must_be_one_json_object() {
    let parser = parser_with(json!(["a"]));
    for (line, found) in [
        ("[1]", "array"),
        ("3", "number"),
        ("\"x\"", "string"),
        ("null", "null"),
        ("true", "boolean"),
    ] {
        assert_eq!(
            message(&parser, line),
            format!("the line is a JSON {found}, not an object; send one JSON object per line")
        );
    }
    assert!(matches!(
        parse(&parser, r#"{"ts": 0, "a": "x"} {}"#),
        Err(ParseError::InvalidJson { .. })
    ));
    let text = message(&parser, r#"{"ts": 0, "a": }"#);
    assert!(
        text.starts_with("the line is not valid JSON (expected value at line 1 column 16)"),
        "{text}"
    );
    assert!(matches!(
        parse(&parser, ""),
        Err(ParseError::InvalidJson { .. })
    ));
}

// Any JSON object.

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("JSON numbers are finite", |n| n.is_finite())
            .prop_map(Value::from),
        prop_oneof![
            Just(String::new()),
            "[a-z]{1,6}",
            "-?[0-9]{1,20}(\\.[0-9]{1,4})?",
            "\\PC{0,12}",
            Just("2024-01-01T00:00:00Z".to_owned()),
        ]
        .prop_map(Value::from),
    ]
}

fn json_key() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("s".to_owned()),
        Just("l".to_owned()),
        Just("d".to_owned()),
        Just("t".to_owned()),
        Just("a".to_owned()),
        Just("b".to_owned()),
        Just("a.b".to_owned()),
        Just("__x".to_owned()),
        "[a-c.]{0,3}",
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::from),
            prop::collection::btree_map(json_key(), inner, 0..5)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

fn json_event() -> impl Strategy<Value = Value> {
    (
        prop::collection::btree_map(json_key(), json_value(), 0..8),
        prop_oneof![
            Just(json!("2024-01-01T00:00:00Z")),
            Just(json!(JAN_1_2024)),
            Just(json!("1704067200000")),
        ],
    )
        .prop_map(|(fields, ts)| {
            let mut object: serde_json::Map<String, Value> = fields.into_iter().collect();
            object.insert("ts".to_owned(), ts);
            Value::Object(object)
        })
}

proptest! {
    #[test]
    fn any_object_with_a_valid_timestamp_parses_or_is_rejected(event in json_event()) {
        let line = event.to_string();
        let declared = EventParser::new(&spec_with(
            json!(["s", "a.b", {"type": "long", "name": "l"}, {"type": "double", "name": "d"}, {"type": "text", "name": "t"}]),
            json!([
                {"type": "doubleSum", "name": "d_sum", "fieldName": "d"},
                {"type": "HLLSketchBuild", "name": "users", "fieldName": "s"},
            ]),
        ));
        let discovery = discovery_parser();
        let declared_and_discovery = EventParser::new(&spec(json!({
            "dataSource": "events",
            "timestampSpec": {"column": "ts"},
            "dimensionsSpec": {
                "dimensions": ["s", "a.b", {"type": "long", "name": "l"}],
                "dimensionExclusions": ["b"],
                "useSchemaDiscovery": true,
            },
            "metricsSpec": [
                {"type": "doubleSum", "name": "d_sum", "fieldName": "d"},
                {"type": "HLLSketchBuild", "name": "users", "fieldName": "s"},
            ],
        })));
        // Per parser, the names discovery must not make dimensions of: those
        // the spec reads (the timestamp, dimensions, metric inputs), and those
        // nothing is discovered inside (metric names, exclusions).
        let never_discovered: [(&EventParser, &[&str], &[&str]); 3] = [
            (&declared, &[], &[]),
            (
                &discovery,
                &["ts", "bytes"],
                &["bytes_total", "count", "secret", "blob"],
            ),
            (
                &declared_and_discovery,
                &["ts", "s", "a.b", "l", "d"],
                &["d_sum", "users", "b"],
            ),
        ];
        for (parser, dimensions, closed) in never_discovered {
            let from_line = parser.parse_line(line.as_bytes());
            let from_value = parser.parse_from(&event);
            prop_assert_eq!(&from_line, &from_value);
            if let Ok(parsed) = from_line {
                prop_assert_eq!(parsed.time(), JAN_1_2024);
                prop_assert_eq!(
                    parsed.dimensions().len(),
                    parser.dimension_count() + parsed.discovered().len()
                );
                prop_assert_eq!(parsed.metric_inputs().len(), 2);
                for dimension in parsed.discovered() {
                    let name = dimension.name.as_str();
                    let inside_closed = closed.iter().any(|closed| {
                        name == *closed || name.strip_prefix(closed).is_some_and(|rest| rest.starts_with('.'))
                    });
                    prop_assert!(
                        !dimensions.contains(&name) && !inside_closed && !name.is_empty() && !name.starts_with("__"),
                        "{} was discovered", name
                    );
                }
            }
        }
    }
}
