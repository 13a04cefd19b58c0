//! The query DSL and Lucene syntax, lowered against the reference spec.

use serde_json::{Value, json};
use strata_storage::spec::DataSourceSpec;

use crate::druid::json::Field;
use crate::elasticsearch::fields::IndexFields;
use crate::elasticsearch::query_dsl::{QueryLowering, match_all, quote};
use crate::plan::{Filter, RangeBound, RangeOrdering};

pub(crate) fn access_fields() -> IndexFields {
    let spec = DataSourceSpec::from_json_value(&json!({
        "dataSource": "access",
        "timestampSpec": {"column": "timestamp", "format": "iso"},
        "dimensionsSpec": {"dimensions": [
            "service", "region", "method", {"type": "long", "name": "status"}, "country",
            {"type": "string", "name": "host", "rollup": false},
            {"type": "string", "name": "path", "rollup": false},
            {"type": "string", "name": "user_id", "rollup": false},
            {"type": "text", "name": "message"}
        ]},
        "metricsSpec": [
            {"type": "count", "name": "count"},
            {"type": "longSum", "name": "bytes", "fieldName": "bytes"},
            {"type": "doubleSum", "name": "duration_sum", "fieldName": "duration_ms"},
            {"type": "doubleMax", "name": "duration_max", "fieldName": "duration_ms"},
            {"type": "HLLSketchBuild", "name": "users", "fieldName": "user_id"},
            {"type": "quantilesDoublesSketch", "name": "duration_sketch", "fieldName": "duration_ms"}
        ],
        "granularitySpec": {"segmentGranularity": "day", "queryGranularity": "minute", "rollup": true}
    }))
    .expect("the reference spec");
    IndexFields::of(&spec)
}

const NOW: i64 = 1_704_164_645_123;

fn lower(query: Value) -> Result<Filter, String> {
    let fields = access_fields();
    let lowering = QueryLowering {
        fields: &fields,
        now: NOW,
    };
    lowering
        .lower(&Field::root(&query))
        .map_err(|error| error.to_string())
}

fn text(query: &str, field: &str) -> Filter {
    Filter::FullText {
        query: query.to_owned(),
        fields: vec![field.to_owned()],
    }
}

fn equals(column: &str, value: &str) -> Filter {
    Filter::Equals {
        column: column.to_owned(),
        value: Some(value.to_owned()),
    }
}

fn not(filter: Filter) -> Filter {
    Filter::Not(Box::new(filter))
}

#[test]
fn the_fields_are_the_events_fields() {
    let fields = access_fields();
    let names: Vec<(&str, &str)> = fields
        .fields()
        .iter()
        .map(|field| (field.name.as_str(), field.field_type.name()))
        .collect();
    assert_eq!(
        names,
        [
            ("timestamp", "date"),
            ("service", "keyword"),
            ("region", "keyword"),
            ("method", "keyword"),
            ("status", "long"),
            ("country", "keyword"),
            ("host", "keyword"),
            ("path", "keyword"),
            ("user_id", "keyword"),
            ("message", "text"),
            ("bytes", "long"),
            ("duration_ms", "double"),
        ]
    );
    assert_eq!(
        fields.get("@timestamp").map(|f| f.column.as_str()),
        Some("__time")
    );
    assert_eq!(
        fields.get("__time").map(|f| f.name.as_str()),
        Some("timestamp")
    );
    let duration = fields.get("duration_ms").expect("a field");
    use crate::elasticsearch::fields::MetricUse;
    assert_eq!(
        fields.metric_for(duration, MetricUse::Sum),
        Some("duration_sum")
    );
    assert_eq!(
        fields.metric_for(duration, MetricUse::Max),
        Some("duration_max")
    );
    assert_eq!(fields.metric_for(duration, MetricUse::Min), None);
    assert_eq!(
        fields.metric_for(duration, MetricUse::Quantiles),
        Some("duration_sketch")
    );
}

#[test]
fn grafana_s_query_box_and_ad_hoc_filters() {
    let query =
        |text: &str| lower(json!({"query_string": {"query": text, "analyze_wildcard": true}}));
    assert_eq!(
        query(r#"service:"svc-01" AND -host:"host-0001""#),
        Ok(Filter::And(vec![
            equals("service", "svc-01"),
            not(equals("host", "host-0001"))
        ]))
    );
    assert_eq!(
        query(r#"message:"kernel panic""#),
        Ok(text("\"kernel panic\"", "message"))
    );
    assert_eq!(
        query("needle7f3a"),
        Ok(Filter::FullText {
            query: quote("needle7f3a"),
            fields: Vec::new()
        })
    );
    assert_eq!(
        query("status:>=500"),
        Ok(Filter::Range {
            column: "status".into(),
            lower: Some(RangeBound {
                value: "500".into(),
                strict: false
            }),
            upper: None,
            ordering: RangeOrdering::Numeric,
        })
    );
    assert_eq!(
        query("host:host-00*"),
        Ok(Filter::Like {
            column: "host".into(),
            pattern: "host-00%".into()
        })
    );
    assert_eq!(
        query("path:/\\/api\\/v1\\/r1.*/"),
        Ok(Filter::Regex {
            column: "path".into(),
            pattern: "^(?:/api/v1/r1.*)$".into()
        })
    );
    assert_eq!(
        query("method:GET OR method:PUT"),
        Ok(Filter::Or(vec![
            equals("method", "GET"),
            equals("method", "PUT")
        ]))
    );
    assert_eq!(
        query("NOT method:GET"),
        Ok(Filter::And(vec![not(equals("method", "GET"))])).map(|filter| match filter {
            Filter::And(mut parts) if parts.len() == 1 => parts.pop().expect("one"),
            other => other,
        })
    );
    assert_eq!(query("*"), Ok(match_all()));
    assert!(query("user_id:*").is_ok());
    let error = query("nope:1").expect_err("refused");
    assert!(error.contains("no field [nope]"), "{error}");
    let error = query("message:/ker.*/").expect_err("refused");
    assert!(error.contains("needs a keyword field"), "{error}");
}

#[test]
fn the_query_dsl_forms() {
    assert_eq!(
        lower(json!({"term": {"service": "svc-01"}})),
        Ok(equals("service", "svc-01"))
    );
    assert_eq!(
        lower(json!({"term": {"status": {"value": 500}}})),
        Ok(equals("status", "500"))
    );
    assert_eq!(
        lower(json!({"terms": {"method": ["GET", "PUT"]}})),
        Ok(Filter::In {
            column: "method".into(),
            values: vec![Some("GET".into()), Some("PUT".into())]
        })
    );
    assert_eq!(
        lower(json!({"match": {"message": {"query": "kernel panic", "operator": "and"}}})),
        Ok(text("\"kernel\" AND \"panic\"", "message"))
    );
    assert_eq!(
        lower(json!({"match_phrase": {"message": "kernel panic"}})),
        Ok(text("\"kernel panic\"", "message"))
    );
    assert_eq!(
        lower(json!({"match": {"service": "svc-01"}})),
        Ok(equals("service", "svc-01"))
    );
    assert_eq!(
        lower(json!({"prefix": {"message": "needle"}})),
        Ok(text("\"needle\"*", "message"))
    );
    assert_eq!(
        lower(json!({"wildcard": {"host": {"value": "host-?1*"}}})),
        Ok(Filter::Like {
            column: "host".into(),
            pattern: "host-_1%".into()
        })
    );
    assert_eq!(
        lower(json!({"exists": {"field": "user_id"}})),
        Ok(not(Filter::Equals {
            column: "user_id".into(),
            value: None
        }))
    );
    let range = lower(
        json!({"range": {"timestamp": {"gte": 1_704_067_200_000_i64, "lte": 1_704_070_800_000_i64, "format": "epoch_millis"}}}),
    );
    assert_eq!(
        range,
        Ok(crate::elasticsearch::query_dsl::time_filter(
            1_704_067_200_000,
            1_704_070_800_001
        ))
    );
    let legacy = lower(
        json!({"range": {"@timestamp": {"from": "1704067200000", "to": "1704070800000", "include_upper": false}}}),
    );
    assert_eq!(
        legacy,
        Ok(crate::elasticsearch::query_dsl::time_filter(
            1_704_067_200_000,
            1_704_070_800_000
        ))
    );
    assert_eq!(
        lower(json!({"bool": {
            "filter": [{"term": {"service": "svc-01"}}],
            "must_not": {"term": {"method": "GET"}},
            "should": [{"term": {"region": "a"}}, {"term": {"region": "b"}}, {"term": {"region": "c"}}],
            "minimum_should_match": 2
        }})),
        Ok(Filter::And(vec![
            equals("service", "svc-01"),
            Filter::Or(vec![
                Filter::And(vec![equals("region", "a"), equals("region", "b")]),
                Filter::And(vec![equals("region", "a"), equals("region", "c")]),
                Filter::And(vec![equals("region", "b"), equals("region", "c")]),
            ]),
            not(equals("method", "GET")),
        ]))
    );
    assert_eq!(
        lower(json!({"bool": {"must": {"match_all": {}}, "should": [{"term": {"region": "a"}}]}})),
        Ok(match_all())
    );
    for (query, expected) in [
        (json!({"fuzzy": {"service": "x"}}), "unknown query [fuzzy]"),
        (json!({"term": {"nope": "x"}}), "no field [nope]"),
        (
            json!({"range": {"message": {"gte": "a"}}}),
            "range over the text field",
        ),
        (
            json!({"range": {"timestamp": {"gte": "yesterday"}}}),
            "is not a time",
        ),
        (
            json!({"wildcard": {"message": "*anic"}}),
            "a wildcard may only end a word",
        ),
        (
            json!({"term": {"service": "a"}, "match": {}}),
            "exactly one member",
        ),
    ] {
        let error = lower(query.clone()).expect_err("refused");
        assert!(error.contains(expected), "{query}: {error}");
    }
}
