//! Tests of the whole execution: a property comparing every answer with
//! the oracle's, whatever table each set answers from, and errors that no
//! single part owns.

use proptest::prelude::*;
use strata_storage::granularity::Granularity;
use strata_storage::segment::{CellValue, ColumnKind, ColumnSchema, TableKind, TableSchema};
use strata_storage::spec::{HllLgK, HllTargetType, QuantilesK};
use strata_storage::time::{Interval, MILLIS_PER_HOUR, MILLIS_PER_MINUTE};

use super::fold::Fold;
use super::test_support::*;
use super::{TableSet, execute};
use crate::mem_table::{MemTable, MemTableBuilder};
use crate::plan::{
    AggregateFunction, ArithmeticOperator, Filter, Having, HavingComparison, NumberType,
    PostAggregation, PostExpression, QueryPlan, RangeBound, RangeOrdering, ResultValue, ValueKind,
};
use crate::table::TableSource;

// ---- Properties ----

fn any_event() -> impl Strategy<Value = Event> {
    // Most events crowd into a few minutes and a few dimension values,
    // so rollup rows hold several events and partial results differ
    // from single events.
    let hosts = prop_oneof![6 => Just(Some("a")), 1 => Just(Some("b")), 1 => Just(None)];
    let tags = prop_oneof![
        4 => Just(vec![]),
        4 => Just(vec!["x"]),
        1 => Just(vec!["x", "y"]),
        1 => Just(vec!["y", "y"]),
    ];
    let times = prop_oneof![
        1 => 0..3 * MILLIS_PER_HOUR,
        3 => (prop::sample::select(vec![0_i64, 1, 59, 60, 61, 150]), 0..MILLIS_PER_MINUTE)
            .prop_map(|(minute, millis)| minute * MILLIS_PER_MINUTE + millis),
    ];
    let users = prop::sample::select(vec!["u1", "u2"]);
    let statuses = prop_oneof![6 => Just(Some(200_i64)), 1 => Just(Some(404)), 1 => Just(None)];
    (
        times,
        hosts,
        tags,
        prop::option::weighted(0.85, users),
        statuses,
        prop::option::weighted(0.85, -1_000_i64..100_000),
        // Quarters: every sum below is exact in f32 and f64, so only the
        // fold order could differ, and it does not matter.
        prop::option::weighted(0.85, -400_i32..4_000),
    )
        .prop_map(
            |(offset, host, tags, user, status, bytes, quarters)| Event {
                time: T0 + offset,
                host: host.map(str::to_owned),
                tags: tags.into_iter().map(str::to_owned).collect(),
                user: user.map(str::to_owned),
                status,
                bytes,
                latency: quarters.map(|quarters| f64::from(quarters) / 4.0),
                message: None,
            },
        )
}

/// Intervals aligned to minutes (which the rollup table answers) or not,
/// in proportion `aligned : 1`.
fn any_interval(aligned_weight: u32) -> impl Strategy<Value = Interval> {
    let aligned = (-10_i64..200, 1_i64..120).prop_map(|(start, length)| {
        let start = T0 + start * MILLIS_PER_MINUTE;
        interval(start, start + length * MILLIS_PER_MINUTE)
    });
    let unaligned = (
        -MILLIS_PER_HOUR..4 * MILLIS_PER_HOUR,
        1..2 * MILLIS_PER_HOUR,
    )
        .prop_map(|(start, length)| interval(T0 + start, T0 + start + length));
    prop_oneof![aligned_weight => aligned, 1 => unaligned]
}

/// Any function, filtered now and then.
fn any_function() -> impl Strategy<Value = AggregateFunction> {
    prop_oneof![
        5 => unfiltered_function(),
        1 => (any_filter(), unfiltered_function()).prop_map(|(filter, inner)| filtered(filter, inner)),
    ]
}

fn filtered(filter: Filter, inner: AggregateFunction) -> AggregateFunction {
    AggregateFunction::Filtered {
        filter,
        inner: Box::new(inner),
    }
}

fn unfiltered_function() -> impl Strategy<Value = AggregateFunction> {
    let columns = prop::sample::select(vec![
        "count",
        "bytes",
        "latency_sum",
        "bytes_min",
        "latency_max",
        "latency",
        "status",
        "nope",
    ]);
    let numbers = prop::sample::select(vec![
        NumberType::Long,
        NumberType::Double,
        NumberType::Float,
    ]);
    prop_oneof![
        1 => Just(AggregateFunction::Count),
        6 => (0..3_u8, columns, numbers).prop_map(|(fold, column, number)| match fold {
            0 => sum(column, number),
            1 => min(column, number),
            _ => max(column, number),
        }),
        2 => (
            any::<bool>(),
            prop::sample::select(vec![
                "bytes_first", "bytes_last", "latency_first", "latency_last", "bytes",
                "latency", "host", "user", "tags", "status", "count", "nope",
            ]),
            any_value_kind(),
        )
            .prop_map(|(is_first, column, kind)| first_or_last(is_first, column, kind)),
        1 => (
            prop::sample::select(vec![
                "users", "user", "host", "tags", "status", "bytes", "latency", "nope",
            ]),
            any::<bool>(),
        )
            .prop_map(|(column, round)| distinct(column, round)),
        1 => (
            prop::sample::subsequence(vec!["host", "tags", "user", "status"], 1..=3),
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(|(columns, by_row, round)| cardinality(&columns, by_row, round)),
        1 => prop::sample::select(vec!["latency_sketch", "latency", "bytes", "status", "count"])
            .prop_map(quantiles),
    ]
}

fn any_value_kind() -> impl Strategy<Value = ValueKind> {
    prop::sample::select(vec![
        ValueKind::Long,
        ValueKind::Double,
        ValueKind::Float,
        ValueKind::String,
    ])
}

fn first_or_last(is_first: bool, column: &str, kind: ValueKind) -> AggregateFunction {
    let column = column.to_owned();
    if is_first {
        AggregateFunction::First {
            column,
            kind,
            time_column: None,
        }
    } else {
        AggregateFunction::Last {
            column,
            kind,
            time_column: None,
        }
    }
}

fn distinct(column: &str, round: bool) -> AggregateFunction {
    AggregateFunction::DistinctSketch {
        column: column.into(),
        lg_k: HllLgK::DEFAULT,
        target_type: HllTargetType::Hll4,
        round,
    }
}

fn cardinality(columns: &[&str], by_row: bool, round: bool) -> AggregateFunction {
    AggregateFunction::Cardinality {
        columns: columns.iter().map(|column| (*column).to_owned()).collect(),
        by_row,
        round,
    }
}

fn quantiles(column: &str) -> AggregateFunction {
    AggregateFunction::QuantilesSketch {
        column: column.into(),
        k: QuantilesK::DEFAULT,
    }
}

/// An equality (or its negation) on a dimension, in or out of rollup.
fn any_filter() -> impl Strategy<Value = Filter> {
    any_filter_on(vec!["host", "tags", "user", "status"])
}

/// An equality (or its negation) on one of `columns`.
fn any_filter_on(columns: Vec<&'static str>) -> impl Strategy<Value = Filter> {
    let columns = prop::sample::select(columns);
    let values = prop::sample::select(vec![
        Some("a"),
        Some("x"),
        Some("y"),
        Some("u1"),
        Some("200"),
        None,
    ]);
    (columns, values, any::<bool>()).prop_map(|(column, value, negated)| {
        let equals = Filter::Equals {
            column: column.into(),
            value: value.map(str::to_owned),
        };
        if negated {
            Filter::Not(Box::new(equals))
        } else {
            equals
        }
    })
}

/// The functions the rollup table answers exactly, filtered now and then
/// on a rollup dimension.
fn foldable_function() -> impl Strategy<Value = AggregateFunction> {
    prop_oneof![
        4 => unfiltered_foldable_function(),
        1 => (any_filter_on(vec!["host", "tags", "status"]), unfiltered_foldable_function())
            .prop_map(|(filter, inner)| filtered(filter, inner)),
    ]
}

fn unfiltered_foldable_function() -> impl Strategy<Value = AggregateFunction> {
    let numbers = prop::sample::select(vec![
        NumberType::Long,
        NumberType::Double,
        NumberType::Float,
    ]);
    prop_oneof![
        Just(AggregateFunction::Count),
        (
            prop::sample::select(vec!["count", "bytes"]),
            numbers.clone()
        )
            .prop_map(|(column, number)| sum(column, number)),
        prop::sample::select(vec![NumberType::Double, NumberType::Float])
            .prop_map(|number| sum("latency_sum", number)),
        (
            prop::sample::select(vec!["bytes_min", "status"]),
            numbers.clone()
        )
            .prop_map(|(column, number)| min(column, number)),
        (prop::sample::select(vec!["latency_max", "status"]), numbers)
            .prop_map(|(column, number)| max(column, number)),
        any::<bool>().prop_map(|latest| if latest {
            max("__time", NumberType::Long)
        } else {
            min("__time", NumberType::Long)
        }),
        prop::sample::select(vec!["bytes", "status", "latency_sum"]).prop_map(|column| {
            AggregateFunction::SumOfSquares {
                column: column.to_owned(),
            }
        }),
        (
            prop::sample::select(vec![
                (true, "bytes_first"),
                (true, "latency_first"),
                (false, "bytes_last"),
                (false, "latency_last"),
            ]),
            any_value_kind(),
        )
            .prop_map(|((is_first, column), kind)| first_or_last(is_first, column, kind)),
        (
            prop::sample::select(vec!["users", "host", "tags", "status"]),
            any::<bool>(),
        )
            .prop_map(|(column, round)| distinct(column, round)),
        (
            prop::sample::subsequence(vec!["host", "tags", "status"], 1..=3),
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(|(columns, by_row, round)| cardinality(&columns, by_row, round)),
        Just(quantiles("latency_sketch")),
    ]
}

/// Functions the rollup table cannot answer exactly, each next to one
/// it can.
fn near_miss_function() -> impl Strategy<Value = AggregateFunction> {
    let numbers = prop::sample::select(vec![
        NumberType::Long,
        NumberType::Double,
        NumberType::Float,
    ]);
    let near_misses = prop::sample::select(vec![
        (Fold::Sum, "status"),
        (Fold::Sum, "bytes_min"),
        (Fold::Max, "bytes_min"),
        (Fold::Sum, "latency_max"),
        (Fold::Min, "latency_max"),
        (Fold::Min, "bytes"),
        (Fold::Max, "latency_sum"),
        (Fold::Min, "count"),
        (Fold::Max, "count"),
        (Fold::Max, "latency"),
    ]);
    prop_oneof![
        5 => (near_misses, numbers).prop_map(|((fold, column), number)| match fold {
            Fold::Sum => sum(column, number),
            Fold::Min => min(column, number),
            Fold::Max => max(column, number),
        }),
        // Truncating a partial sum is not truncating each event's value.
        1 => Just(sum("latency_sum", NumberType::Long)),
        // A rollup row's events may differ in a dimension outside rollup.
        1 => (any_filter_on(vec!["user"]), unfiltered_foldable_function())
            .prop_map(|(filter, inner)| filtered(filter, inner)),
        // A rollup row's time is truncated; a pair of the other direction
        // kept the other end.
        1 => (
            prop::sample::select(vec![
                (true, "bytes_last"),
                (false, "latency_first"),
                (true, "host"),
                (false, "status"),
            ]),
            any_value_kind(),
        )
            .prop_map(|((is_first, column), kind)| first_or_last(is_first, column, kind)),
        // Distinct values outside rollup, and partial values counted once.
        1 => prop::sample::select(vec!["user", "bytes", "latency_max"])
            .prop_map(|column| distinct(column, false)),
        1 => Just(cardinality(&["host", "user"], true, false)),
        // A dimension's values lose how many events held them.
        1 => prop::sample::select(vec!["latency", "status"]).prop_map(quantiles),
    ]
}

/// An operand: an aggregation by index (taken modulo their number) or a
/// constant, zero included to reach division by zero.
fn any_operand() -> impl Strategy<Value = Result<usize, f64>> {
    prop_oneof![
        3 => (0..5_usize).prop_map(Ok),
        1 => prop::sample::select(vec![0.0, 2.0, -0.5]).prop_map(Err),
    ]
}

/// One condition of a having, naming an aggregation or a group key by
/// index, resolved once the plan's are known.
#[derive(Debug, Clone)]
enum HavingLeaf {
    Compare(usize, HavingComparison, f64),
    Dimension(usize, Option<&'static str>),
    KeyEquals(usize, Option<&'static str>),
    ValueRange(usize, Option<(f64, bool)>, Option<(f64, bool)>),
}

fn any_having_leaf() -> impl Strategy<Value = HavingLeaf> {
    let thresholds = || prop::sample::select(vec![-1.0, 0.0, 1.0, 2.0, 10.5, 500.0]);
    let values = || prop::sample::select(vec![Some("a"), Some("x"), Some("200"), None]);
    let comparisons = prop::sample::select(vec![
        HavingComparison::GreaterThan,
        HavingComparison::LessThan,
        HavingComparison::EqualTo,
    ]);
    let bound = || prop::option::of((thresholds(), any::<bool>()));
    prop_oneof![
        3 => (0..5_usize, comparisons, thresholds())
            .prop_map(|(index, comparison, value)| HavingLeaf::Compare(index, comparison, value)),
        1 => (0..2_usize, values()).prop_map(|(index, value)| HavingLeaf::Dimension(index, value)),
        1 => (0..2_usize, values()).prop_map(|(index, value)| HavingLeaf::KeyEquals(index, value)),
        1 => (0..5_usize, bound(), bound())
            .prop_map(|(index, lower, upper)| HavingLeaf::ValueRange(index, lower, upper)),
    ]
}

/// A having of one to three leaves: one alone, all of them, any of them,
/// or not the first.
fn any_having() -> impl Strategy<Value = (Vec<HavingLeaf>, u8)> {
    (prop::collection::vec(any_having_leaf(), 1..=3), 0..4_u8)
}

fn resolve_having(leaves: Vec<HavingLeaf>, shape: u8, plan: &QueryPlan) -> Having {
    let aggregate = &plan.aggregate;
    let value = |index: usize| format!("a{}", index % aggregate.aggregations.len());
    let key = |index: usize| {
        let keys = &aggregate.group_by;
        keys.get(index % keys.len().max(1))
            .map(|key| key.output_name.clone())
    };
    let range_bound = |bound: Option<(f64, bool)>| {
        bound.map(|(value, strict)| RangeBound {
            value: value.to_string(),
            strict,
        })
    };
    let mut havings: Vec<Having> = leaves
        .into_iter()
        .map(|leaf| match leaf {
            HavingLeaf::Compare(index, comparison, threshold) => Having::Compare {
                field: value(index),
                comparison,
                value: threshold,
            },
            HavingLeaf::Dimension(index, wanted) => match key(index) {
                Some(dimension) => Having::DimensionEquals {
                    dimension,
                    value: wanted.map(str::to_owned),
                },
                None => Having::Compare {
                    field: value(index),
                    comparison: HavingComparison::GreaterThan,
                    value: 1.0,
                },
            },
            HavingLeaf::KeyEquals(index, wanted) => Having::Filter(Filter::Equals {
                column: key(index).unwrap_or_else(|| "host".into()),
                value: wanted.map(str::to_owned),
            }),
            HavingLeaf::ValueRange(index, lower, upper) => Having::Filter(Filter::Range {
                column: value(index),
                lower: range_bound(lower),
                upper: range_bound(upper),
                ordering: RangeOrdering::Numeric,
            }),
        })
        .collect();
    match shape {
        0 => havings.swap_remove(0),
        1 => Having::And(havings),
        2 => Having::Or(havings),
        _ => Having::Not(Box::new(havings.swap_remove(0))),
    }
}

/// Any plan, or with `rollup_friendly` one that mostly folds exactly from
/// the rollup table — so that a near miss, one part the rollup table
/// cannot answer, is common.
fn any_plan(rollup_friendly: bool) -> impl Strategy<Value = QueryPlan> {
    let all_granularities: Vec<Granularity> = granularities()
        .into_iter()
        .map(|(granularity, _)| granularity)
        .chain([Granularity::All])
        .collect();
    let (functions, aligned_weight, granularities, group_columns) = if rollup_friendly {
        (
            prop_oneof![
                4 => foldable_function(),
                3 => near_miss_function(),
                1 => any_function(),
            ]
            .boxed(),
            3,
            vec![
                Granularity::MINUTE,
                Granularity::HOUR,
                Granularity::All,
                Granularity::MINUTE,
                Granularity::HOUR,
                Granularity::All,
                Granularity::SECOND,
            ],
            // Repeated names may both be drawn: grouping twice by one
            // dimension is a plan too.
            vec!["host", "tags", "status", "host", "tags", "status", "user"],
        )
    } else {
        (
            any_function().boxed(),
            1,
            all_granularities,
            vec!["host", "tags", "user", "status"],
        )
    };
    let granularities = prop::sample::select(granularities);
    let group_by = prop::sample::subsequence(group_columns, 0..=2).prop_shuffle();
    let operators = prop::sample::select(vec![
        ArithmeticOperator::Add,
        ArithmeticOperator::Subtract,
        ArithmeticOperator::Multiply,
        ArithmeticOperator::Divide,
        ArithmeticOperator::Quotient,
        ArithmeticOperator::Power,
    ]);
    let post = prop::option::of((
        operators,
        prop::collection::vec(any_operand(), 2..=3),
        any::<bool>(),
    ));
    (
        granularities,
        prop::collection::vec(any_interval(aligned_weight), 1..=2),
        group_by,
        prop::collection::vec(functions, 1..=5),
        post,
        any::<bool>(),
        prop::option::weighted(0.3, any_filter()),
        prop::option::weighted(0.3, any_having()),
    )
        .prop_map(
            |(granularity, intervals, group_by, functions, post, zero_fill, filter, having)| {
                let count = functions.len();
                let mut plan = plan(granularity, intervals, &group_by, functions);
                plan.aggregate.zero_fill = zero_fill;
                plan.filter = filter;
                if let Some((leaves, shape)) = having {
                    plan.aggregate.having = Some(resolve_having(leaves, shape, &plan));
                }
                if let Some((operator, operands, chained)) = post {
                    let operands = operands
                        .into_iter()
                        .map(|operand| match operand {
                            Ok(index) => PostExpression::Field(format!("a{}", index % count)),
                            Err(constant) => PostExpression::Constant(constant),
                        })
                        .collect();
                    plan.aggregate.post_aggregations.push(PostAggregation {
                        name: "p0".into(),
                        expression: PostExpression::Arithmetic { operator, operands },
                    });
                    if chained {
                        plan.aggregate.post_aggregations.push(PostAggregation {
                            name: "p1".into(),
                            expression: PostExpression::Arithmetic {
                                operator: ArithmeticOperator::Divide,
                                operands: vec![
                                    PostExpression::Field("p0".into()),
                                    PostExpression::Field("a0".into()),
                                ],
                            },
                        });
                    }
                }
                plan
            },
        )
}

/// Deals the events out to `with_rollup.len()` sets by `owners`; each
/// set has an events table, and a rollup table where `with_rollup` says.
fn split(
    events: &[Event],
    owners: &[usize],
    with_rollup: &[bool],
) -> Vec<(MemTable, Option<MemTable>)> {
    with_rollup
        .iter()
        .enumerate()
        .map(|(set, &with_rollup_table)| {
            let mine: Vec<Event> = events
                .iter()
                .zip(owners)
                .filter(|(_, owner)| **owner % with_rollup.len() == set)
                .map(|(event, _)| event.clone())
                .collect();
            let rollup = with_rollup_table.then(|| rollup_table(&mine));
            (events_table(&mine), rollup)
        })
        .collect()
}

/// The events with each time taken once: a repeated time moves to the
/// next free millisecond.
fn distinct_times(mut events: Vec<Event>) -> Vec<Event> {
    let mut seen = std::collections::HashSet::new();
    for event in &mut events {
        while !seen.insert(event.time) {
            event.time += 1;
        }
    }
    events
}

fn table_sets(tables: &[(MemTable, Option<MemTable>)]) -> Vec<TableSet<'_>> {
    tables
        .iter()
        .map(|(events, rollup)| TableSet {
            events: Some(events as &dyn TableSource),
            rollup: rollup.as_ref().map(|rollup| rollup as &dyn TableSource),
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    /// Whatever table each set answers from, the rows are the ones the
    /// events themselves give.
    #[test]
    fn execution_agrees_with_the_events(
        events in prop::collection::vec(any_event(), 0..60),
        owners in prop::collection::vec(0..4_usize, 60),
        with_rollup in prop::collection::vec(any::<bool>(), 1..=4),
        plan in prop_oneof![any_plan(false), any_plan(true)],
    ) {
        // First/last break ties by reading order, which rollup rows and
        // sets deal out differently: times are made distinct.
        let events = distinct_times(events);
        let tables = split(&events, &owners, &with_rollup);
        let actual = execute(&plan, &spec(), &table_sets(&tables)).unwrap();
        let expected = oracle(&plan, &events);
        if let Err(mismatch) = rows_match(&actual, &expected) {
            return Err(TestCaseError::fail(format!("{plan:#?}\n{mismatch}")));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// The grand total row is the rows without it, followed by what one
    /// bucket over all the intervals gives, at the first row's time.
    #[test]
    fn the_grand_total_is_all_the_intervals_in_one_bucket(
        events in prop::collection::vec(any_event(), 0..60),
        owners in prop::collection::vec(0..4_usize, 60),
        with_rollup in prop::collection::vec(any::<bool>(), 1..=4),
        plan in prop_oneof![any_plan(false), any_plan(true)],
    ) {
        let events = distinct_times(events);
        let tables = split(&events, &owners, &with_rollup);
        let mut plan = plan;
        plan.aggregate.group_by.clear();
        plan.aggregate.having = None;
        let mut expected = oracle(&plan, &events);
        let mut whole = plan.clone();
        whole.aggregate.granularity = Granularity::All;
        whole.aggregate.zero_fill = true;
        let mut total = oracle(&whole, &events);
        prop_assert_eq!(total.len(), 1);
        total[0].timestamp = expected.first().map_or(0, |row| row.timestamp);
        expected.append(&mut total);
        plan.aggregate.grand_total = true;
        let actual = execute(&plan, &spec(), &table_sets(&tables)).unwrap();
        if let Err(mismatch) = rows_match(&actual, &expected) {
            return Err(TestCaseError::fail(format!("{plan:#?}\n{mismatch}")));
        }
    }
}

/// First/last by another long column: the rows where it is null are no
/// candidates, and a rollup table, whose pairs are by event time, is not read.
#[test]
fn first_and_last_by_a_time_column_order_by_that_column() {
    let at = |minute: i64, host: &str, status: Option<i64>, latency: Option<f64>| Event {
        status,
        latency,
        ..event(T0 + minute * MILLIS_PER_MINUTE, Some(host), &[], None)
    };
    let events = vec![
        at(0, "a", Some(5), Some(1.0)),
        at(1, "b", Some(9), Some(2.0)),
        at(2, "c", None, Some(3.0)),
        at(3, "d", Some(1), None),
    ];
    let by_status = |is_first: bool, column: &str, kind: ValueKind| {
        let (column, time_column) = (column.to_owned(), Some("status".to_owned()));
        if is_first {
            AggregateFunction::First {
                column,
                kind,
                time_column,
            }
        } else {
            AggregateFunction::Last {
                column,
                kind,
                time_column,
            }
        }
    };
    let plan = plan(
        Granularity::All,
        hours(0, 1),
        &[],
        vec![
            by_status(false, "host", ValueKind::String),
            by_status(true, "host", ValueKind::String),
            by_status(false, "latency", ValueKind::Double),
            by_status(true, "latency", ValueKind::Double),
            by_status(true, "latency_first", ValueKind::Double),
            first_or_last(false, "host", ValueKind::String),
        ],
    );
    let (events_table, rollup_table) = (events_table(&events), rollup_table(&events));
    let sets = [TableSet {
        events: Some(&events_table),
        rollup: Some(&rollup_table),
    }];
    assert_eq!(
        values_of(&execute(&plan, &spec(), &sets).unwrap()),
        [vec![
            ResultValue::String("b".into()),
            ResultValue::String("d".into()),
            ResultValue::Double(2.0),
            ResultValue::Double(1.0),
            ResultValue::Double(1.0),
            ResultValue::String("d".into()),
        ]]
    );
}

// ---- Errors ----

#[test]
fn text_columns_cannot_be_grouped_and_strings_cannot_be_summed() {
    let schema = TableSchema::new(vec![
        ColumnSchema::new("host", string(false)),
        ColumnSchema::new("message", ColumnKind::Text),
    ])
    .unwrap();
    let mut builder = MemTableBuilder::new(TableKind::Events, schema);
    builder
        .append_row(T0, &[CellValue::Str("a"), CellValue::Str("GET /")])
        .unwrap();
    let table = builder.finish();

    let grouped = plan(
        Granularity::All,
        hours(0, 1),
        &["message"],
        vec![AggregateFunction::Count],
    );
    let error = execute(&grouped, &spec(), &events_only(&table)).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("cannot group by `message`, a text column"),
        "{error}"
    );

    let summed = plan(
        Granularity::All,
        hours(0, 1),
        &[],
        vec![sum("host", NumberType::Long)],
    );
    let error = execute(&summed, &spec(), &events_only(&table)).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("aggregation `a0` reads `host`, a string column in the events table"),
        "{error}"
    );
}

// ---- Sketches over many values ----

/// `users` distinct users over an hour, each event with a latency.
fn many_events(count: usize, users: usize) -> Vec<Event> {
    (0..count)
        .map(|i| Event {
            latency: Some(((i * 7_919) % 10_007) as f64 / 8.0),
            ..event(
                T0 + (i as i64 * 3_599_000) / count as i64,
                Some(if i % 3 == 0 { "b" } else { "a" }),
                &[],
                Some(&format!("u{}", (i * 31) % users)),
            )
        })
        .collect()
}

fn post(name: &str, expression: PostExpression) -> PostAggregation {
    PostAggregation {
        name: name.into(),
        expression,
    }
}

fn field(name: &str) -> Box<PostExpression> {
    Box::new(PostExpression::Field(name.into()))
}

/// The fractions of `sorted` strictly below and at most `value`.
fn rank_range(sorted: &[f64], value: f64) -> (f64, f64) {
    let below = sorted.partition_point(|x| *x < value) as f64;
    let at_most = sorted.partition_point(|x| *x <= value) as f64;
    let n = sorted.len() as f64;
    (below / n, at_most / n)
}

#[test]
fn sketches_from_the_rollup_and_the_events_table_agree_within_their_error() {
    use crate::plan::{ResultValue, SketchValue};
    use strata_storage::metric_cell::HllState;

    let events = many_events(20_000, 5_000);
    let (events_table, rollup) = (events_table(&events), rollup_table(&events));
    let both = [TableSet {
        events: Some(&events_table),
        rollup: Some(&rollup),
    }];
    let fractions = vec![0.0, 0.01, 0.25, 0.5, 0.9, 0.99, 1.0];
    let mut sorted: Vec<f64> = events.iter().filter_map(|event| event.latency).collect();
    sorted.sort_by(f64::total_cmp);

    // From the rollup table (every aggregation folds from it), then from
    // the events table (the same columns by their raw inputs).
    let mut answers = Vec::new();
    for (hll_column, quantiles_column) in [("users", "latency_sketch"), ("user", "latency")] {
        let mut plan = plan(
            Granularity::All,
            hours(0, 1),
            &[],
            vec![distinct(hll_column, false), quantiles(quantiles_column)],
        );
        plan.aggregate.post_aggregations = vec![
            post("sketch", PostExpression::Field("a0".into())),
            post(
                "estimate",
                PostExpression::HllEstimate {
                    field: field("a0"),
                    round: true,
                },
            ),
            post(
                "quantiles",
                PostExpression::Quantiles {
                    field: field("a1"),
                    fractions: fractions.clone(),
                },
            ),
            post("n", PostExpression::FinalizedField("a1".into())),
        ];
        let rows = execute(&plan, &spec(), &both).unwrap();
        assert_eq!(rows.len(), 1);
        answers.push(rows[0].values.clone());
    }

    let mut sketches = Vec::new();
    for values in &answers {
        let [
            ResultValue::Double(estimate),
            ResultValue::Long(count),
            ResultValue::Sketch(SketchValue::Hll { sketch, .. }),
            ResultValue::Long(rounded),
            ResultValue::Doubles(quantiles),
            ResultValue::Long(n),
        ] = values.as_slice()
        else {
            panic!("unexpected values {values:?}");
        };
        // lgK 12: three standard errors are 4.9%.
        assert!((estimate - 5_000.0).abs() <= 250.0, "{estimate}");
        assert_eq!(*rounded, estimate.round() as i64);
        assert_eq!((*count, *n), (20_000, 20_000));
        assert_eq!(quantiles.len(), fractions.len());
        for (fraction, value) in fractions.iter().zip(quantiles) {
            let (below, at_most) = rank_range(&sorted, *value);
            assert!(
                below - 0.017 <= *fraction && *fraction <= at_most + 0.017,
                "quantile {fraction} is {value}, of ranks {below}..{at_most}"
            );
        }
        sketches.push(sketch.clone());
    }
    // Both tables hashed the same users into the same buckets: their union
    // counts them once, not twice.
    let lg_k = strata_storage::spec::HllLgK::DEFAULT;
    let target = strata_storage::spec::HllTargetType::Hll4;
    let mut union = HllState::from_bytes(lg_k, target, &sketches[0].serialize()).unwrap();
    union.merge(&HllState::from_bytes(lg_k, target, &sketches[1].serialize()).unwrap());
    let union = union.sketch().estimate();
    assert!((union - 5_000.0).abs() <= 250.0, "{union}");
}

#[test]
fn sketch_lookups_must_read_a_sketch_of_their_kind() {
    let mut plan = plan(
        Granularity::All,
        hours(0, 1),
        &[],
        vec![AggregateFunction::Count, quantiles("latency")],
    );
    plan.aggregate.post_aggregations = vec![post(
        "distinct",
        PostExpression::HllEstimate {
            field: field("a1"),
            round: false,
        },
    )];
    let error = execute(&plan, &spec(), &[]).unwrap_err().to_string();
    assert!(
        error.contains("`distinct` reads `a1` as an HLL sketch"),
        "{error}"
    );
    plan.aggregate.post_aggregations = vec![post(
        "median",
        PostExpression::Quantile {
            field: field("a1"),
            fraction: 1.5,
        },
    )];
    let error = execute(&plan, &spec(), &[]).unwrap_err().to_string();
    assert!(
        error.contains("`median` asks for the quantile at 1.5"),
        "{error}"
    );
}

// ---- Full-text search ----

/// Events whose messages mix a few words, so that terms, phrases, prefixes
/// and their combinations each pick a different part of them.
fn messages() -> Vec<Event> {
    const MESSAGES: &[Option<&str>] = &[
        Some("Connection reset by peer"),
        Some("reset the connection pool"),
        Some("kernel panic at host-17"),
        Some("found needle7f3a in 10.0.0.1/api?q=x"),
        Some("GET /api/items ok"),
        Some("connection timeout, retrying"),
        None,
        Some("panic: kernel module failed"),
        Some(""),
        Some("needle7f3b is not the needle"),
    ];
    (0..600_i64)
        .map(|i| {
            let step = usize::try_from(i).unwrap();
            Event {
                bytes: Some(i % 37),
                status: Some(if i % 5 == 0 { 500 } else { 200 }),
                message: MESSAGES[(step * 7 + step / 10) % MESSAGES.len()].map(str::to_owned),
                ..event(
                    T0 + i * 20_000,
                    [Some("a"), Some("b"), None][step % 3],
                    &[],
                    Some("u1"),
                )
            }
        })
        .collect()
}

/// Queries in Lucene syntax and the full-text filters around them.
fn text_filters() -> Vec<Filter> {
    let text = |query: &str| Filter::FullText {
        query: query.into(),
        fields: Vec::new(),
    };
    let queries = [
        "needle7f3a",
        "NEEDLE7F3A",
        "\"connection reset\"",
        "\"the connection pool\"",
        "connection reset",
        "connection AND reset",
        "connection AND NOT reset",
        "connection -timeout",
        "+kernel panic",
        "needle7f3*",
        "conn*",
        "(kernel OR needle7f3a) AND NOT panic",
        "message:\"kernel panic\"",
        "host-17",
        "10.0.0.1",
        "api",
    ];
    let mut filters: Vec<Filter> = queries.iter().map(|query| text(query)).collect();
    filters.extend([
        Filter::FullText {
            query: "reset OR panic".into(),
            fields: vec!["message".into()],
        },
        Filter::Not(Box::new(text("connection"))),
        Filter::And(vec![
            text("connection OR kernel"),
            Filter::Equals {
                column: "host".into(),
                value: Some("a".into()),
            },
        ]),
        Filter::And(vec![
            Filter::Not(Box::new(Filter::Equals {
                column: "host".into(),
                value: Some("b".into()),
            })),
            Filter::Not(Box::new(text("api"))),
        ]),
        Filter::And(vec![
            text("panic"),
            Filter::Intervals {
                column: "__time".into(),
                intervals: vec![interval(T0 + 600_000, T0 + 7_000_000)],
            },
        ]),
    ]);
    filters
}

/// Counts and sums by host and hour under each full-text filter, over two
/// segments and a real-time table, are the oracle's, which tokenizes every
/// message and matches it on its own.
#[test]
fn fulltext_filters_select_what_matching_each_message_selects() {
    let events = messages();
    let dir = tempfile::tempdir().unwrap();
    let (stored, fresh) = events.split_at(400);
    let segments: Vec<_> = stored
        .chunks(200)
        .enumerate()
        .map(|(i, part)| events_segment(part, &dir.path().join(format!("s{i}"))))
        .collect();
    let tables: Vec<crate::segment_table::SegmentTable<'_>> = segments
        .iter()
        .map(|segment| {
            crate::segment_table::SegmentTable::new(segment.table(TableKind::Events).unwrap())
        })
        .collect();
    let (fresh_events, fresh_rollup) = (events_table(fresh), rollup_table(fresh));
    let mut sets: Vec<TableSet<'_>> = tables
        .iter()
        .map(|table| TableSet {
            events: Some(table as &dyn TableSource),
            rollup: None,
        })
        .collect();
    sets.push(TableSet {
        events: Some(&fresh_events),
        rollup: Some(&fresh_rollup),
    });
    let spec = spec();
    let mut wrong = Vec::new();
    for filter in text_filters() {
        let mut plan = plan(
            Granularity::HOUR,
            hours(0, 4),
            &["host"],
            vec![AggregateFunction::Count, sum("bytes", NumberType::Long)],
        );
        plan.filter = Some(filter.clone());
        let expected = oracle(&plan, &events);
        assert!(!expected.is_empty(), "{filter:?} selects nothing");
        let answer = execute(&plan, &spec, &sets).unwrap();
        if rows_match(&answer, &expected).is_err() {
            wrong.push(format!("{filter:?}"));
        }
        // As a filtered aggregation, beside the unfiltered count.
        let mut filtered = plan.clone();
        filtered.filter = None;
        filtered.aggregate.aggregations[1].function = AggregateFunction::Filtered {
            filter,
            inner: Box::new(AggregateFunction::Count),
        };
        let answer = execute(&filtered, &spec, &sets).unwrap();
        if rows_match(&answer, &oracle(&filtered, &events)).is_err() {
            wrong.push(format!(
                "filtered aggregation {:?}",
                filtered.aggregate.aggregations[1]
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "answers differ from the oracle's for: {wrong:#?}"
    );
}
