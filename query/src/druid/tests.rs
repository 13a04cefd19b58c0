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
                    order: DimensionOrder::Lexicographic
                },
                OrderBy {
                    column: "status".into(),
                    descending: false,
                    order: DimensionOrder::Numeric
                },
            ],
            sort_by_dims_first: false
        }
    );
}

#[test]
fn groupby_reads_every_dimension_order_and_sort_by_dims_first() {
    let query = |columns: serde_json::Value, context: serde_json::Value| {
        json!({
            "queryType": "groupBy", "dataSource": "access", "intervals": ["2024-01-01/2024-01-02"],
            "granularity": "day", "dimensions": ["plan"],
            "limitSpec": {"type": "default", "columns": columns},
            "context": context
        })
    };
    let orders = |columns| match parse(&query(columns, json!({}))).unwrap().kind {
        QueryKind::GroupBy { order_by, .. } => order_by
            .into_iter()
            .map(|order| order.order)
            .collect::<Vec<_>>(),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        orders(json!([
            "plan",
            {"dimension": "plan", "dimensionOrder": "alphanumeric"},
            {"dimension": "plan", "dimensionOrder": {"type": "strlen"}},
            {"dimension": "plan", "dimensionOrder": "numeric"},
            {"dimension": "plan", "dimensionOrder": "natural"},
            {"dimension": "plan", "dimensionOrder": "lexicographic"}
        ])),
        [
            DimensionOrder::Lexicographic,
            DimensionOrder::Alphanumeric,
            DimensionOrder::Strlen,
            DimensionOrder::Numeric,
            DimensionOrder::Lexicographic,
            DimensionOrder::Lexicographic
        ]
    );
    assert_eq!(
        error_of(query(
            json!([{"dimension": "plan", "dimensionOrder": "version"}]),
            json!({})
        )),
        "limitSpec.columns[0].dimensionOrder: dimensionOrder `version` is not supported; use lexicographic, alphanumeric, numeric or strlen"
    );
    let dims_first = |context| match parse(&query(json!([]), context)).unwrap().kind {
        QueryKind::GroupBy {
            sort_by_dims_first, ..
        } => sort_by_dims_first,
        other => panic!("{other:?}"),
    };
    assert!(dims_first(json!({"sortByDimsFirst": true})));
    assert!(dims_first(json!({"sortByDimsFirst": "true"})));
    assert!(!dims_first(json!({})));
}

#[test]
fn grand_total_is_read_from_a_timeseries_context_only() {
    let grand_total = |query_type: &str, fields: serde_json::Value| {
        let mut query = json!({
            "queryType": query_type, "dataSource": "access", "intervals": ["2024-01-01/2024-01-02"],
            "granularity": "day", "aggregations": [{"type": "count", "name": "n"}],
            "context": {"grandTotal": true}
        });
        for (name, value) in fields.as_object().into_iter().flatten() {
            query[name] = value.clone();
        }
        parse(&query).unwrap().plan.aggregate.grand_total
    };
    assert!(grand_total("timeseries", json!({})));
    assert!(!grand_total(
        "topN",
        json!({"dimension": "plan", "threshold": 2, "metric": "n"})
    ));
    assert!(!grand_total("groupBy", json!({"dimensions": ["plan"]})));
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
fn groupby_rows_order_by_time_then_columns_unless_dims_come_first() {
    let query = |columns: serde_json::Value, context: serde_json::Value| {
        parse(&json!({
            "queryType": "groupBy", "dataSource": "a", "intervals": ["2024-01-01/2024-01-03"],
            "granularity": "day", "dimensions": ["plan"],
            "limitSpec": {"type": "default", "columns": columns},
            "aggregations": [{"type": "count", "name": "n"}],
            "context": context
        }))
        .unwrap()
    };
    // The executor's order: by day, then by key.
    let rows: Vec<ResultRow> = [
        (JAN_1, "10"),
        (JAN_1, "9"),
        (JAN_1 + DAY, "100"),
        (JAN_1 + DAY, "9"),
    ]
    .iter()
    .map(|(time, plan)| ResultRow {
        timestamp: *time,
        keys: vec![KeyValue::String((*plan).into())],
        values: vec![ResultValue::Long(1)],
    })
    .collect();
    let order = |query: &DruidQuery| -> Vec<(String, String)> {
        response::render(query, rows.clone())
            .as_array()
            .unwrap()
            .iter()
            .map(|row| {
                (
                    row["timestamp"].as_str().unwrap()[8..10].to_owned(),
                    row["event"]["plan"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let pairs = |expected: &[(&str, &str)]| -> Vec<(String, String)> {
        expected
            .iter()
            .map(|(day, plan)| ((*day).to_owned(), (*plan).to_owned()))
            .collect()
    };
    let alphanumeric =
        json!([{"dimension": "plan", "direction": "descending", "dimensionOrder": "alphanumeric"}]);
    assert_eq!(
        order(&query(alphanumeric.clone(), json!({}))),
        pairs(&[("01", "10"), ("01", "9"), ("02", "100"), ("02", "9")])
    );
    assert_eq!(
        order(&query(alphanumeric, json!({"sortByDimsFirst": true}))),
        pairs(&[("02", "100"), ("01", "10"), ("01", "9"), ("02", "9")])
    );
    assert_eq!(
        order(&query(json!(["plan"]), json!({"sortByDimsFirst": true}))),
        pairs(&[("01", "10"), ("02", "100"), ("01", "9"), ("02", "9")])
    );
    assert_eq!(
        order(&query(
            json!([{"dimension": "plan", "dimensionOrder": "strlen"}]),
            json!({"sortByDimsFirst": true})
        )),
        pairs(&[("01", "9"), ("02", "9"), ("01", "10"), ("02", "100")])
    );
    assert_eq!(
        order(&query(json!([]), json!({"sortByDimsFirst": true}))),
        pairs(&[("01", "10"), ("02", "100"), ("01", "9"), ("02", "9")])
    );
}

#[test]
fn timeseries_render_zoned_buckets_and_the_grand_total() {
    let query = parse(&json!({
        "queryType": "timeseries", "dataSource": "a", "intervals": ["2024-01-01/2024-01-03"],
        "granularity": {"type": "period", "period": "P1D", "timeZone": "America/Los_Angeles"},
        "descending": true,
        "aggregations": [{"type": "count", "name": "n"}],
        "context": {"grandTotal": true}
    }))
    .unwrap();
    let row = |timestamp: i64, n: i64| ResultRow {
        timestamp,
        keys: Vec::new(),
        values: vec![ResultValue::Long(n)],
    };
    let eight_hours = 8 * 3_600_000;
    assert_eq!(
        response::render(
            &query,
            vec![
                row(JAN_1 + eight_hours, 2),
                row(JAN_1 + DAY + eight_hours, 3),
                row(JAN_1 + eight_hours, 5)
            ]
        ),
        json!([
            {"timestamp": "2024-01-02T00:00:00.000-08:00", "result": {"n": 3}},
            {"timestamp": "2024-01-01T00:00:00.000-08:00", "result": {"n": 2}},
            {"timestamp": null, "result": {"n": 5}}
        ])
    );
}

#[test]
fn metadata_queries_are_read_and_rendered() {
    assert_eq!(
        parse_request(&json!({"queryType": "timeBoundary", "dataSource": "a", "bound": "maxTime"}))
            .unwrap(),
        DruidRequest::TimeBoundary {
            datasource: "a".into(),
            bound: TimeBound::MaxTime,
            filter: None
        }
    );
    assert_eq!(
        parse_request(&json!({"queryType": "timeBoundary", "dataSource": "a",
                              "filter": {"type": "selector", "dimension": "d", "value": "b"}}))
        .unwrap(),
        DruidRequest::TimeBoundary {
            datasource: "a".into(),
            bound: TimeBound::Both,
            filter: Some(Filter::Equals {
                column: "d".into(),
                value: Some("b".into())
            })
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
    // An unknown query type is named before any field it would need.
    let unknown = parse_request(&json!({"queryType": "bogus", "dataSource": "a"}));
    assert!(
        unknown
            .unwrap_err()
            .to_string()
            .starts_with("queryType: query type `bogus` is not supported yet"),
    );
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

// ---- Sketch and first/last aggregators ----

fn aggregations_of(aggregations: serde_json::Value) -> Vec<Aggregation> {
    parse(&json!({
        "queryType": "timeseries", "dataSource": "a", "intervals": ["2024-01-01/2024-01-02"],
        "aggregations": aggregations
    }))
    .unwrap()
    .plan
    .aggregate
    .aggregations
}

fn post_aggregations_of(post_aggregations: serde_json::Value) -> Vec<PostAggregation> {
    parse(&json!({
        "queryType": "timeseries", "dataSource": "a", "intervals": ["2024-01-01/2024-01-02"],
        "aggregations": [{"type": "count", "name": "n"}],
        "postAggregations": post_aggregations
    }))
    .unwrap()
    .plan
    .aggregate
    .post_aggregations
}

fn aggregation_error(aggregation: serde_json::Value) -> String {
    error_of(json!({
        "queryType": "timeseries", "dataSource": "a", "intervals": ["2024-01-01/2024-01-02"],
        "aggregations": [aggregation]
    }))
}

fn post_aggregation_error(post_aggregation: serde_json::Value) -> String {
    error_of(json!({
        "queryType": "timeseries", "dataSource": "a", "intervals": ["2024-01-01/2024-01-02"],
        "aggregations": [{"type": "count", "name": "n"}],
        "postAggregations": [post_aggregation]
    }))
}

#[test]
fn first_and_last_aggregators_lower_with_their_value_kind() {
    use crate::plan::ValueKind;
    let functions: Vec<AggregateFunction> = aggregations_of(json!([
        {"type": "longFirst", "name": "a", "fieldName": "bytes"},
        {"type": "doubleLast", "name": "b", "fieldName": "latency", "timeColumn": "__time"},
        {"type": "floatFirst", "name": "c", "fieldName": "latency"},
        {"type": "stringLast", "name": "d", "fieldName": "host", "maxStringBytes": 1024},
        {"type": "stringFirst", "name": "e", "fieldName": "host"},
        {"type": "longLast", "name": "f", "fieldName": "bytes"},
        {"type": "doubleFirst", "name": "g", "fieldName": "latency"},
        {"type": "floatLast", "name": "h", "fieldName": "latency"}
    ]))
    .into_iter()
    .map(|aggregation| aggregation.function)
    .collect();
    let first = |column: &str, kind| AggregateFunction::First {
        column: column.into(),
        kind,
        time_column: None,
    };
    let last = |column: &str, kind| AggregateFunction::Last {
        column: column.into(),
        kind,
        time_column: None,
    };
    assert_eq!(
        functions,
        [
            first("bytes", ValueKind::Long),
            last("latency", ValueKind::Double),
            first("latency", ValueKind::Float),
            last("host", ValueKind::String),
            first("host", ValueKind::String),
            last("bytes", ValueKind::Long),
            first("latency", ValueKind::Double),
            last("latency", ValueKind::Float),
        ]
    );
    assert_eq!(
        aggregation_error(json!({"type": "longFirst", "name": "a"})),
        "aggregations[0].fieldName: is missing"
    );
    assert_eq!(
        aggregations_of(json!([
            {"type": "longFirst", "name": "a", "fieldName": "b", "timeColumn": "t"}
        ]))[0]
            .function,
        AggregateFunction::First {
            column: "b".into(),
            kind: ValueKind::Long,
            time_column: Some("t".into()),
        }
    );
    let error = aggregation_error(
        json!({"type": "longFirst", "name": "a", "fieldName": "b", "timeColumn": 7}),
    );
    assert!(error.starts_with("aggregations[0].timeColumn:"), "{error}");
    let error = aggregation_error(
        json!({"type": "stringLast", "name": "a", "fieldName": "b", "maxStringBytes": -1}),
    );
    assert!(
        error.starts_with("aggregations[0].maxStringBytes:"),
        "{error}"
    );
}

#[test]
fn sketch_aggregators_lower_with_druids_defaults() {
    use strata_storage::spec::{HllLgK, HllTargetType, QuantilesK};
    let functions: Vec<AggregateFunction> = aggregations_of(json!([
        {"type": "HLLSketchBuild", "name": "a", "fieldName": "user"},
        {"type": "HLLSketchMerge", "name": "b", "fieldName": "users", "lgK": 16, "tgtHllType": "HLL_8", "round": true},
        {"type": "quantilesDoublesSketch", "name": "c", "fieldName": "latency"},
        {"type": "quantilesDoublesSketch", "name": "d", "fieldName": "latency", "k": 256},
        {"type": "cardinality", "name": "e", "fields": ["host", {"type": "default", "dimension": "user", "outputName": "u"}]},
        {"type": "cardinality", "name": "f", "fields": ["host"], "byRow": true, "round": true}
    ]))
    .into_iter()
    .map(|aggregation| aggregation.function)
    .collect();
    assert_eq!(
        functions,
        [
            AggregateFunction::DistinctSketch {
                column: "user".into(),
                lg_k: HllLgK::DEFAULT,
                target_type: HllTargetType::Hll4,
                round: false,
            },
            AggregateFunction::DistinctSketch {
                column: "users".into(),
                lg_k: HllLgK::new(16).unwrap(),
                target_type: HllTargetType::Hll8,
                round: true,
            },
            AggregateFunction::QuantilesSketch {
                column: "latency".into(),
                k: QuantilesK::DEFAULT,
            },
            AggregateFunction::QuantilesSketch {
                column: "latency".into(),
                k: QuantilesK::new(256).unwrap(),
            },
            AggregateFunction::Cardinality {
                columns: vec!["host".into(), "user".into()],
                by_row: false,
                round: false,
            },
            AggregateFunction::Cardinality {
                columns: vec!["host".into()],
                by_row: true,
                round: true,
            },
        ]
    );
    for (aggregation, expected) in [
        (
            json!({"type": "HLLSketchBuild", "name": "a", "fieldName": "u", "lgK": 22}),
            "aggregations[0].lgK: lgK must be a whole number from 4 to 21",
        ),
        (
            json!({"type": "HLLSketchBuild", "name": "a", "fieldName": "u", "tgtHllType": "HLL_5"}),
            "aggregations[0].tgtHllType: tgtHllType must be HLL_4, HLL_6 or HLL_8",
        ),
        (
            json!({"type": "HLLSketchMerge", "name": "a", "fieldName": "u", "round": "yes"}),
            "aggregations[0].round: expected true or false, found a string",
        ),
        (
            json!({"type": "quantilesDoublesSketch", "name": "a", "fieldName": "l", "k": 100}),
            "aggregations[0].k: k must be a power of 2 from 2 to 32768",
        ),
        (
            json!({"type": "cardinality", "name": "a", "fields": []}),
            "aggregations[0].fields: cardinality needs at least one field",
        ),
        (
            json!({"type": "cardinality", "name": "a", "fields": [{"type": "extraction", "dimension": "d"}]}),
            "aggregations[0].fields[0].type: cardinality reads dimensions as they are; use a name or a \"default\" dimension spec",
        ),
        (
            json!({"type": "HLLSketchBuild", "name": "a"}),
            "aggregations[0].fieldName: is missing",
        ),
    ] {
        let error = aggregation_error(aggregation);
        assert!(error.starts_with(expected), "{error}");
    }
    let error = aggregation_error(json!({"type": "thetaSketch", "name": "a", "fieldName": "u"}));
    assert!(
        error.contains("HLLSketchBuild, HLLSketchMerge, quantilesDoublesSketch, cardinality"),
        "{error}"
    );
}

#[test]
fn sketch_post_aggregators_lower_around_their_field() {
    let expressions: Vec<PostExpression> = post_aggregations_of(json!([
        {"type": "HLLSketchEstimate", "name": "a", "field": {"type": "fieldAccess", "fieldName": "u"}},
        {"type": "HLLSketchEstimate", "name": "b", "field": {"type": "fieldAccess", "fieldName": "u"}, "round": true},
        {"type": "HLLSketchEstimateWithBounds", "name": "c", "field": {"type": "fieldAccess", "fieldName": "u"}, "numStdDevs": 2},
        {"type": "quantilesDoublesSketchToQuantile", "name": "d", "field": {"type": "fieldAccess", "fieldName": "q"}, "fraction": 0.5},
        {"type": "quantilesDoublesSketchToQuantiles", "name": "e", "field": {"type": "fieldAccess", "fieldName": "q"}, "fractions": [0.1, 0.9]},
        {"type": "finalizingFieldAccess", "name": "f", "fieldName": "u"}
    ]))
    .into_iter()
    .map(|post| post.expression)
    .collect();
    let field = |name: &str| Box::new(PostExpression::Field(name.into()));
    assert_eq!(
        expressions,
        [
            PostExpression::HllEstimate {
                field: field("u"),
                round: false
            },
            PostExpression::HllEstimate {
                field: field("u"),
                round: true
            },
            PostExpression::HllEstimateWithBounds {
                field: field("u"),
                std_devs: 2
            },
            PostExpression::Quantile {
                field: field("q"),
                fraction: 0.5
            },
            PostExpression::Quantiles {
                field: field("q"),
                fractions: vec![0.1, 0.9]
            },
            PostExpression::FinalizedField("u".into()),
        ]
    );
    for (post_aggregation, expected) in [
        (
            json!({"type": "quantilesDoublesSketchToQuantile", "name": "a", "field": {"type": "fieldAccess", "fieldName": "q"}, "fraction": 1.5}),
            "postAggregations[0].fraction: a fraction lies between 0 and 1, found 1.5",
        ),
        (
            json!({"type": "quantilesDoublesSketchToQuantiles", "name": "a", "field": {"type": "fieldAccess", "fieldName": "q"}, "fractions": [0.5, -1]}),
            "postAggregations[0].fractions[1]: a fraction lies between 0 and 1, found -1",
        ),
        (
            json!({"type": "HLLSketchEstimate", "name": "a"}),
            "postAggregations[0].field: is missing",
        ),
        (
            json!({"type": "HLLSketchEstimateWithBounds", "name": "a", "field": {"type": "fieldAccess", "fieldName": "u"}, "numStdDevs": 4}),
            "postAggregations[0].numStdDevs: numStdDevs must be 1, 2 or 3",
        ),
        (
            json!({"type": "HLLSketchEstimate", "name": "a", "field": {"type": "fieldAccess"}}),
            "postAggregations[0].field.fieldName: is missing",
        ),
    ] {
        let error = post_aggregation_error(post_aggregation);
        assert!(error.starts_with(expected), "{error}");
    }
}

#[test]
fn sketch_values_render_as_druid_writes_them() {
    use std::sync::Arc;
    use strata_storage::metric_cell::{DistinctKey, HllState};
    use strata_storage::spec::{HllLgK, HllTargetType};

    use crate::plan::SketchValue;
    let mut hll = HllState::new(HllLgK::DEFAULT, HllTargetType::Hll4);
    hll.add(DistinctKey::text("u1").unwrap());
    let sketch = Arc::new(hll.sketch().clone());
    let query = parse(&json!({
        "queryType": "timeseries", "dataSource": "a", "intervals": ["2024-01-01/2024-01-02"],
        "granularity": "all",
        "aggregations": [
            {"type": "stringLast", "name": "host", "fieldName": "host"},
            {"type": "HLLSketchBuild", "name": "users", "fieldName": "user"}
        ],
        "postAggregations": [
            {"type": "quantilesDoublesSketchToQuantiles", "name": "q", "field": {"type": "fieldAccess", "fieldName": "x"}, "fractions": [0.5, 1]},
            {"type": "fieldAccess", "name": "sketch", "fieldName": "users"}
        ]
    }))
    .unwrap();
    let rows = vec![ResultRow {
        timestamp: JAN_1,
        keys: vec![],
        values: vec![
            ResultValue::String("web-1".into()),
            ResultValue::Double(1.0),
            ResultValue::Doubles(vec![2.5, 10.0]),
            ResultValue::Sketch(SketchValue::Hll {
                sketch: sketch.clone(),
                round: false,
            }),
        ],
    }];
    let rendered = response::render(&query, rows);
    let result = &rendered[0]["result"];
    assert_eq!(result["host"], json!("web-1"));
    assert_eq!(result["users"], json!(1.0));
    assert_eq!(result["q"], json!([2.5, 10.0]));
    let encoded = result["sketch"].as_str().unwrap();
    // Standard base64 of the DataSketches image.
    let decoded: Vec<u8> = {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut bits = 0_u32;
        let mut count = 0;
        let mut out = Vec::new();
        for byte in encoded.bytes().filter(|byte| *byte != b'=') {
            let value = ALPHABET.iter().position(|c| *c == byte).unwrap() as u32;
            bits = (bits << 6) | value;
            count += 6;
            if count >= 8 {
                count -= 8;
                out.push((bits >> count) as u8);
                bits &= (1 << count) - 1;
            }
        }
        out
    };
    assert_eq!(decoded, sketch.serialize());
}

#[test]
fn every_query_type_carries_a_fulltext_filter() {
    let filter = json!({"type": "and", "fields": [
        {"type": "fulltext", "query": "\"connection reset\" AND host-17", "fields": ["message"]},
        {"type": "selector", "dimension": "service", "value": "api"}
    ]});
    let expected = Filter::And(vec![
        Filter::FullText {
            query: "\"connection reset\" AND host-17".into(),
            fields: vec!["message".into()],
        },
        Filter::Equals {
            column: "service".into(),
            value: Some("api".into()),
        },
    ]);
    let base =
        json!({"dataSource": "logs", "intervals": ["2024-01-01/2024-01-02"], "filter": filter});
    let of_type = |kind: &str, extra: serde_json::Value| {
        let mut query = base.clone();
        query["queryType"] = json!(kind);
        for (key, value) in extra.as_object().unwrap() {
            query[key] = value.clone();
        }
        parse_request(&query).unwrap()
    };
    let aggregations = json!({"aggregations": [{"type": "count", "name": "n"}]});
    let group_by =
        json!({"aggregations": [{"type": "count", "name": "n"}], "dimensions": ["service"]});
    for (kind, extra) in [("timeseries", aggregations), ("groupBy", group_by)] {
        match of_type(kind, extra) {
            DruidRequest::Aggregate(query) => assert_eq!(query.plan.filter, Some(expected.clone())),
            _ => panic!("{kind} is not an aggregate"),
        }
    }
    let top_n = json!({"aggregations": [{"type": "count", "name": "n"}], "dimension": "service", "metric": "n", "threshold": 3});
    match of_type("topN", top_n) {
        DruidRequest::Aggregate(query) => assert_eq!(query.plan.filter, Some(expected.clone())),
        _ => panic!("topN is not an aggregate"),
    }
    match of_type("scan", json!({"order": "descending", "limit": 100})) {
        DruidRequest::Scan(query) => assert_eq!(query.plan.filter, Some(expected.clone())),
        _ => panic!("not a scan"),
    }
    match of_type(
        "search",
        json!({"query": {"type": "contains", "value": "a"}}),
    ) {
        DruidRequest::Search(plan) => assert_eq!(plan.filter, Some(expected.clone())),
        _ => panic!("not a search"),
    }
    match of_type("timeBoundary", json!({})) {
        DruidRequest::TimeBoundary { filter, .. } => assert_eq!(filter, Some(expected)),
        _ => panic!("not a time boundary"),
    }
}

#[test]
fn a_fulltext_filter_error_names_its_path() {
    let query = json!({
        "queryType": "timeseries", "dataSource": "a", "intervals": ["2024-01-01/2024-01-02"],
        "filter": {"type": "not", "field": {"type": "fulltext", "query": "a", "fields": ["message", 7]}}
    });
    assert_eq!(
        error_of(query),
        "filter.field.fields[1]: expected a string, found a number"
    );
}
