use serde_json::json;
use strata_storage::granularity::Granularity;
use strata_storage::time::Interval;

use super::*;
use crate::plan::{
    AggregateFunction, Aggregation, ArithmeticOperator, Filter, Having, HavingComparison, KeyValue,
    NumberType, PostAggregation, PostExpression, RangeBound, RangeOrdering, ResultRow, ResultValue,
};

const JAN_1: i64 = 1_704_067_200_000;
const DAY: i64 = 86_400_000;

fn error_of(query: serde_json::Value) -> String {
    parse(&query).unwrap_err().to_string()
}

#[test]
fn a_timeseries_lowers_into_a_zero_filled_plan() {
    let query = parse(&json!({
        "queryType": "timeseries",
        "dataSource": {"type": "table", "name": "access"},
        "intervals": ["2024-01-01/2024-01-03"],
        "granularity": "day",
        "filter": {"type": "and", "fields": [
            {"type": "selector", "dimension": "status", "value": 200},
            {"type": "not", "field": {"type": "in", "dimension": "region", "values": ["eu", null]}},
            {"type": "bound", "dimension": "bytes", "lower": "10", "upperStrict": true, "upper": 99, "ordering": "numeric"}
        ]},
        "aggregations": [
            {"type": "count", "name": "rows"},
            {"type": "longSum", "name": "bytes", "fieldName": "bytes"},
            {"type": "doubleMax", "name": "slowest", "fieldName": "duration_max"}
        ],
        "postAggregations": [{"type": "arithmetic", "name": "avg", "fn": "/", "fields": [
            {"type": "fieldAccess", "fieldName": "bytes"}, {"type": "fieldAccess", "fieldName": "rows"}
        ]}],
        "context": {"skipEmptyBuckets": "false"}
    }))
    .unwrap();
    assert_eq!(query.kind, QueryKind::Timeseries { descending: false });
    let plan = &query.plan;
    assert_eq!(plan.datasource, "access");
    assert_eq!(
        plan.intervals,
        [Interval::new(JAN_1, JAN_1 + 2 * DAY).unwrap()]
    );
    assert_eq!(
        plan.aggregate.granularity,
        "day".parse::<Granularity>().unwrap()
    );
    assert!(plan.aggregate.zero_fill);
    assert!(plan.aggregate.group_by.is_empty());
    assert_eq!(
        plan.filter,
        Some(Filter::And(vec![
            Filter::Equals {
                column: "status".into(),
                value: Some("200".into())
            },
            Filter::Not(Box::new(Filter::In {
                column: "region".into(),
                values: vec![Some("eu".into()), None]
            })),
            Filter::Range {
                column: "bytes".into(),
                lower: Some(RangeBound {
                    value: "10".into(),
                    strict: false
                }),
                upper: Some(RangeBound {
                    value: "99".into(),
                    strict: true
                }),
                ordering: RangeOrdering::Numeric,
            },
        ]))
    );
    assert_eq!(
        plan.aggregate.aggregations,
        [
            Aggregation {
                name: "rows".into(),
                function: AggregateFunction::Count
            },
            Aggregation {
                name: "bytes".into(),
                function: AggregateFunction::Sum {
                    column: "bytes".into(),
                    number: NumberType::Long
                }
            },
            Aggregation {
                name: "slowest".into(),
                function: AggregateFunction::Max {
                    column: "duration_max".into(),
                    number: NumberType::Double
                }
            },
        ]
    );
    assert_eq!(
        plan.aggregate.post_aggregations,
        [PostAggregation {
            name: "avg".into(),
            expression: PostExpression::Arithmetic {
                operator: ArithmeticOperator::Divide,
                operands: vec![
                    PostExpression::Field("bytes".into()),
                    PostExpression::Field("rows".into())
                ]
            }
        }]
    );
}

#[test]
fn topn_and_groupby_carry_their_ordering() {
    let topn = parse(&json!({
        "queryType": "topN", "dataSource": "access", "intervals": "2024-01-01/2024-01-02",
        "dimension": {"type": "default", "dimension": "country", "outputName": "c"},
        "threshold": 3, "metric": {"type": "inverted", "metric": "hits"},
        "aggregations": [{"type": "count", "name": "hits"}]
    }))
    .unwrap();
    assert_eq!(
        topn.kind,
        QueryKind::TopN {
            threshold: 3,
            metric: TopNMetric::Inverted(Box::new(TopNMetric::Numeric("hits".into())))
        }
    );
    assert_eq!(topn.plan.aggregate.group_by[0].output_name, "c");
    assert_eq!(topn.plan.aggregate.granularity, Granularity::All);
    assert!(!topn.plan.aggregate.zero_fill);

    let group_by = parse(&json!({
        "queryType": "groupBy", "dataSource": "access", "intervals": ["2024-01-01/2024-01-02"],
        "granularity": "all", "dimensions": ["service", "status"],
        "limitSpec": {"type": "default", "limit": 5, "offset": 2, "columns": [
            {"dimension": "hits", "direction": "descending"},
            {"dimension": "status", "direction": "ascending", "dimensionOrder": "numeric"}
        ]},
        "aggregations": [{"type": "count", "name": "hits"}]
    }))
    .unwrap();
    assert_eq!(
        group_by.kind,
        QueryKind::GroupBy {
            limit: Some(5),
            offset: 2,
            order_by: vec![
                OrderBy {
                    column: "hits".into(),
                    descending: true,
                    numeric: false
                },
                OrderBy {
                    column: "status".into(),
                    descending: false,
                    numeric: true
                },
            ]
        }
    );
}

#[test]
fn errors_name_the_field_and_what_to_do() {
    let base = json!({"queryType": "timeseries", "dataSource": "a", "intervals": ["2024-01-01/2024-01-02"]});
    let with = |key: &str, value: serde_json::Value| {
        let mut query = base.clone();
        query[key] = value;
        error_of(query)
    };
    assert_eq!(
        error_of(json!({"dataSource": "a"})),
        "queryType: is missing"
    );
    let search = with("queryType", json!("search"));
    assert!(
        search.starts_with("queryType: query type `search` is not supported yet"),
        "{search}"
    );
    let interval = with("intervals", json!(["2024-01-02/2024-01-01"]));
    assert_eq!(
        interval,
        "intervals[0]: `2024-01-02/2024-01-01` is not an interval: its end is not after its start"
    );
    let aggregator = with(
        "aggregations",
        json!([{"type": "count", "name": "n"}, {"type": "longSum", "name": "b"}]),
    );
    assert_eq!(aggregator, "aggregations[1].fieldName: is missing");
    let sketch = with(
        "aggregations",
        json!([{"type": "thetaSketch", "name": "u", "fieldName": "u"}]),
    );
    assert!(
        sketch.starts_with("aggregations[0].type: aggregator `thetaSketch` is not supported yet"),
        "{sketch}"
    );
    let filter = with(
        "filter",
        json!({"type": "or", "fields": [{"type": "spatial"}]}),
    );
    assert!(
        filter.starts_with("filter.fields[0].type: filter type `spatial` is not supported"),
        "{filter}"
    );
    let having = with(
        "having",
        json!({"type": "greaterThan", "aggregation": "n", "value": 10}),
    );
    assert!(
        having
            .starts_with("having: having is only supported in groupBy queries, not in timeseries"),
        "{having}"
    );
    assert!(
        parse(&{
            let mut query = base.clone();
            query["virtualColumns"] = json!([]);
            query
        })
        .is_ok()
    );
    let filtered = with(
        "aggregations",
        json!([{"type": "filtered", "filter": {"type": "selector", "dimension": "a", "value": "b"},
        "aggregator": {"type": "longSum", "name": "n"}}]),
    );
    assert_eq!(filtered, "aggregations[0].aggregator.fieldName: is missing");
    let filtered = with(
        "aggregations",
        json!([{"type": "filtered", "filter": {"type": "spatial"},
        "aggregator": {"type": "count", "name": "n"}}]),
    );
    assert!(
        filtered.starts_with("aggregations[0].filter.type: filter type `spatial` is not supported"),
        "{filtered}"
    );
    let filtered = with(
        "aggregations",
        json!([{"type": "filtered", "aggregator": {"type": "count", "name": "n"}}]),
    );
    assert_eq!(filtered, "aggregations[0].filter: is missing");
    let granularity = with("granularity", json!("fortnight"));
    assert!(granularity.starts_with("granularity: "), "{granularity}");
}

#[test]
fn responses_take_druids_shapes() {
    let rows = |keys: &[&str], values: &[(i64, i64)]| -> Vec<ResultRow> {
        values
            .iter()
            .zip(keys.iter().cycle())
            .map(|(&(time, hits), key)| ResultRow {
                timestamp: time,
                keys: if key.is_empty() {
                    vec![]
                } else {
                    vec![KeyValue::String((*key).into())]
                },
                values: vec![
                    ResultValue::Long(hits),
                    ResultValue::Double(hits as f64 / 2.0),
                ],
            })
            .collect()
    };
    let timeseries = parse(&json!({
        "queryType": "timeseries", "dataSource": "a", "intervals": ["2024-01-01/2024-01-03"],
        "granularity": "day", "descending": true,
        "aggregations": [{"type": "count", "name": "hits"}],
        "postAggregations": [{"type": "arithmetic", "name": "half", "fn": "/", "fields": [
            {"type": "fieldAccess", "fieldName": "hits"}, {"type": "constant", "value": 2}]}]
    }))
    .unwrap();
    assert_eq!(
        response::render(&timeseries, rows(&[""], &[(JAN_1, 4), (JAN_1 + DAY, 0)])),
        json!([
            {"timestamp": "2024-01-02T00:00:00.000Z", "result": {"hits": 0, "half": 0.0}},
            {"timestamp": "2024-01-01T00:00:00.000Z", "result": {"hits": 4, "half": 2.0}}
        ])
    );

    let topn = parse(&json!({
        "queryType": "topN", "dataSource": "a", "intervals": ["2024-01-01/2024-01-02"],
        "dimension": "host", "threshold": 2, "metric": "hits",
        "aggregations": [{"type": "count", "name": "hits"}],
        "postAggregations": [{"type": "constant", "name": "half", "value": 0}]
    }))
    .unwrap();
    assert_eq!(
        response::render(
            &topn,
            rows(&["a", "b", "c"], &[(JAN_1, 1), (JAN_1, 5), (JAN_1, 3)])
        ),
        json!([{"timestamp": "2024-01-01T00:00:00.000Z", "result": [
            {"host": "b", "hits": 5, "half": 2.5},
            {"host": "c", "hits": 3, "half": 1.5}
        ]}])
    );

    let group_by = parse(&json!({
        "queryType": "groupBy", "dataSource": "a", "intervals": ["2024-01-01/2024-01-02"],
        "granularity": "all", "dimensions": ["host"],
        "limitSpec": {"type": "default", "limit": 1, "offset": 1, "columns": [{"dimension": "hits", "direction": "descending"}]},
        "aggregations": [{"type": "count", "name": "hits"}],
        "postAggregations": [{"type": "constant", "name": "half", "value": 0}]
    }))
    .unwrap();
    assert_eq!(
        response::render(
            &group_by,
            rows(&["a", "b", "c"], &[(JAN_1, 1), (JAN_1, 5), (JAN_1, 3)])
        ),
        json!([{"version": "v1", "timestamp": "2024-01-01T00:00:00.000Z", "event": {"host": "c", "hits": 3, "half": 1.5}}])
    );
}

#[test]
fn metadata_queries_are_read_and_rendered() {
    assert_eq!(
        parse_request(&json!({"queryType": "timeBoundary", "dataSource": "a", "bound": "maxTime"}))
            .unwrap(),
        DruidRequest::TimeBoundary {
            datasource: "a".into(),
            bound: TimeBound::MaxTime
        }
    );
    assert_eq!(
        parse_request(&json!({"queryType": "dataSourceMetadata", "dataSource": {"type": "table", "name": "a"}}))
            .unwrap()
            .datasource(),
        "a"
    );
    let bad =
        parse_request(&json!({"queryType": "timeBoundary", "dataSource": "a", "bound": "middle"}));
    assert_eq!(
        bad.unwrap_err().to_string(),
        "bound: bound `middle` is neither \"minTime\" nor \"maxTime\""
    );
    assert!(matches!(
        parse_request(
            &json!({"queryType": "topN", "dataSource": "a", "intervals": ["2024-01-01/2024-01-02"],
            "dimension": "d", "threshold": 1, "metric": "m"})
        ),
        Ok(DruidRequest::Aggregate(_))
    ));
    let range = Some((JAN_1, JAN_1 + DAY));
    assert_eq!(
        response::render_time_boundary(TimeBound::MaxTime, range),
        json!([{"timestamp": "2024-01-02T00:00:00.000Z", "result": {"maxTime": "2024-01-02T00:00:00.000Z"}}])
    );
    assert_eq!(
        response::render_time_boundary(TimeBound::Both, None),
        json!([])
    );
    assert_eq!(
        response::render_datasource_metadata(Some(JAN_1)),
        json!([{"timestamp": "2024-01-01T00:00:00.000Z", "result": {"maxIngestedEventTime": "2024-01-01T00:00:00.000Z"}}])
    );
}

#[test]
fn a_filtered_aggregator_wraps_its_inner_one_and_takes_its_name() {
    let query = parse(&json!({
        "queryType": "timeseries",
        "dataSource": "web",
        "intervals": ["2024-01-01/2024-01-02"],
        "aggregations": [
            {"type": "filtered", "filter": {"type": "selector", "dimension": "host", "value": "a"},
             "aggregator": {"type": "count", "name": "a_rows"}},
            {"type": "filtered", "name": "big_bytes",
             "filter": {"type": "not", "field": {"type": "selector", "dimension": "status", "value": "200"}},
             "aggregator": {"type": "filtered", "filter": {"type": "in", "dimension": "host", "values": ["b"]},
                            "aggregator": {"type": "longSum", "name": "inner", "fieldName": "bytes"}}}
        ]
    }))
    .unwrap();
    let host_a = Filter::Equals {
        column: "host".into(),
        value: Some("a".into()),
    };
    assert_eq!(
        query.plan.aggregate.aggregations,
        [
            Aggregation {
                name: "a_rows".into(),
                function: AggregateFunction::Filtered {
                    filter: host_a,
                    inner: Box::new(AggregateFunction::Count),
                },
            },
            Aggregation {
                name: "big_bytes".into(),
                function: AggregateFunction::Filtered {
                    filter: Filter::Not(Box::new(Filter::Equals {
                        column: "status".into(),
                        value: Some("200".into()),
                    })),
                    inner: Box::new(AggregateFunction::Filtered {
                        filter: Filter::In {
                            column: "host".into(),
                            values: vec![Some("b".into())],
                        },
                        inner: Box::new(AggregateFunction::Sum {
                            column: "bytes".into(),
                            number: NumberType::Long,
                        }),
                    }),
                },
            },
        ]
    );
}

#[test]
fn a_groupby_having_lowers_every_spec() {
    let query = parse(&json!({
        "queryType": "groupBy",
        "dataSource": "web",
        "intervals": ["2024-01-01/2024-01-02"],
        "dimensions": ["host"],
        "aggregations": [{"type": "count", "name": "rows"}],
        "having": {"type": "and", "havingSpecs": [
            {"type": "greaterThan", "aggregation": "rows", "value": 10},
            {"type": "or", "havingSpecs": [
                {"type": "lessThan", "aggregation": "rows", "value": 100.5},
                {"type": "equalTo", "aggregation": "rows", "value": 1000}
            ]},
            {"type": "not", "havingSpec": {"type": "dimSelector", "dimension": "host", "value": "a"}},
            {"type": "dimSelector", "dimension": "host", "value": null},
            {"type": "filter", "filter": {"type": "bound", "dimension": "rows", "lower": "3", "ordering": "numeric"}}
        ]}
    }))
    .unwrap();
    let compare = |comparison: HavingComparison, value: f64| Having::Compare {
        field: "rows".into(),
        comparison,
        value,
    };
    assert_eq!(
        query.plan.aggregate.having,
        Some(Having::And(vec![
            compare(HavingComparison::GreaterThan, 10.0),
            Having::Or(vec![
                compare(HavingComparison::LessThan, 100.5),
                compare(HavingComparison::EqualTo, 1000.0),
            ]),
            Having::Not(Box::new(Having::DimensionEquals {
                dimension: "host".into(),
                value: Some("a".into()),
            })),
            Having::DimensionEquals {
                dimension: "host".into(),
                value: None,
            },
            Having::Filter(Filter::Range {
                column: "rows".into(),
                lower: Some(RangeBound {
                    value: "3".into(),
                    strict: false,
                }),
                upper: None,
                ordering: RangeOrdering::Numeric,
            }),
        ]))
    );
}

#[test]
fn having_errors_name_the_json_path() {
    let with_having = |having: serde_json::Value| {
        error_of(json!({
            "queryType": "groupBy",
            "dataSource": "web",
            "intervals": ["2024-01-01/2024-01-02"],
            "dimensions": ["host"],
            "having": having
        }))
    };
    assert_eq!(
        with_having(json!({"type": "greaterThan", "aggregation": "rows"})),
        "having.value: is missing"
    );
    let unknown = with_having(json!({"type": "and", "havingSpecs": [{"type": "always"}]}));
    assert!(
        unknown.starts_with("having.havingSpecs[0].type: having spec `always` is not supported"),
        "{unknown}"
    );
    let extraction = with_having(json!({"type": "not", "havingSpec":
        {"type": "dimSelector", "dimension": "host", "value": "a", "extractionFn": {"type": "upper"}}}));
    assert!(
        extraction.starts_with("having.havingSpec.extractionFn: extraction functions in having"),
        "{extraction}"
    );
    let filter = with_having(json!({"type": "filter", "filter": {"type": "spatial"}}));
    assert!(
        filter.starts_with("having.filter.type: filter type `spatial` is not supported"),
        "{filter}"
    );
    let top_n = error_of(json!({
        "queryType": "topN", "dataSource": "web", "intervals": ["2024-01-01/2024-01-02"],
        "dimension": "host", "threshold": 3, "metric": "rows",
        "having": {"type": "greaterThan", "aggregation": "rows", "value": 1}
    }));
    assert!(
        top_n.starts_with("having: having is only supported in groupBy queries, not in topN"),
        "{top_n}"
    );
}
