//! Which table answers: a set's rollup table when that is exact, its events
//! table otherwise.
//!
//! The rollup table is smaller, so a set answers from it whenever that gives
//! the answer the events would give — the answer is *exact*:
//!
//! - every group key and every filter column is a rollup dimension (a filter
//!   on `__time` needs event times, which rollup truncated), and no filter
//!   searches text: only the events table has a text index;
//! - the plan's granularity is `all` or the spec's `queryGranularity` nests in
//!   it, and no interval bound cuts through a rollup bucket that holds rows;
//! - `Count` has a `count` metric to sum;
//! - each sum, min or max has a partial result in the rollup table it can be
//!   folded from: a sum of a count or sum metric (a long sum only of a long
//!   one: truncating partial sums of doubles is not truncating each event's
//!   value), a min of a min metric, a max of a max metric, or a min or max of
//!   a rollup dimension. A *sum* of a dimension is not exact: a rollup row
//!   stands for several events but holds the dimension once;
//! - first/last of a first/last metric of the same direction (its pairs keep
//!   the event times; of anything else the rollup row's time is truncated);
//! - an HLL sketch of an HLL metric or of a rollup dimension, and a
//!   `cardinality` of rollup dimensions: a rollup row holds each value (and
//!   each combination of values) of its events, and counting distinct
//!   values does not care how many events held them;
//! - a quantiles sketch of a quantiles metric (a dimension or a partial sum
//!   would lose how many events held each value);
//! - a filtered aggregation's inner function is exact and its filter's
//!   columns are rollup dimensions and it searches no text, like the
//!   query's filter: a rollup row's events then all pass the filter or all
//!   fail it.
//!
//! Otherwise the set answers from its events table; a set with no events
//! table answers from its rollup table anyway, as Druid does (its rows carry
//! truncated times, a dimension outside rollup reads as null, and a column is
//! folded as stored).
//!
//! All but the interval bounds is decided once per plan; the bounds are
//! checked against each rollup table's time range, as only a bucket that
//! holds rows can be cut.
//!
//! # When exact is not cheaper
//!
//! A rollup row is cheaper to fold than the events it stands for — except a
//! stored sketch, which is deserialized and merged per row. A quantiles
//! sketch costs about as much as adding [`QUANTILES_MERGE_COST`] raw values;
//! an HLL sketch about as much as counting [`HLL_MERGE_COST`] events, when
//! the events table keeps the metric's input field as a single-value string
//! column, whose rows are counted by looking up the coupon of their
//! dictionary value (any other input is hashed row by row, which costs
//! about what merging a sketch does). Both were measured on the reference
//! dataset. When the plan merges such sketches and a set's rollup table
//! keeps so many rows that folding them would cost more than reading its
//! events, the events table answers; both are exact.

use strata_storage::granularity::Granularity;
use strata_storage::spec::{Aggregator, DataSourceSpec, NumericType};
use strata_storage::time::Millis;

use super::TableSet;
use super::input::{count_metric, is_single_value_string};
use crate::plan::{AggregateFunction, Filter, NumberType, QueryPlan};
use crate::table::TableSource;

/// What merging one stored quantiles sketch costs, in raw values added.
pub(super) const QUANTILES_MERGE_COST: usize = 4;

/// What merging one stored HLL sketch costs, in events whose coupons are
/// counted.
pub(super) const HLL_MERGE_COST: usize = 8;

/// Decides, per set, whether the rollup table answers (see the
/// [module docs](self)).
pub(super) struct TableChoice {
    /// What folding one rollup row costs, in events read: more than one
    /// when the plan merges quantiles sketches.
    rollup_row_cost: usize,
    /// The input fields of the HLL metrics the plan merges: when an events
    /// table keeps every one as a single-value string column, a rollup row
    /// costs [`HLL_MERGE_COST`] events at least.
    hll_inputs: Vec<String>,
    /// Whether the rollup table is exact for every part of the plan but the
    /// interval bounds, which depend on the rows a table holds.
    exact_but_bounds: bool,
    query_granularity: Granularity,
    bounds: Vec<Millis>,
}

impl TableChoice {
    pub(super) fn new(plan: &QueryPlan, spec: &DataSourceSpec) -> Self {
        let aggregate = &plan.aggregate;
        let is_rollup_dimension = |column: &str| is_rollup_dimension(spec, column);
        let exact_but_bounds = aggregate
            .group_by
            .iter()
            .all(|key| is_rollup_dimension(&key.column))
            && plan
                .filter
                .as_ref()
                .is_none_or(|filter| filter_reads_rollup(filter, spec))
            && spec.query_granularity().nests_in(&aggregate.granularity)
            && aggregate
                .aggregations
                .iter()
                .all(|aggregation| folds_exactly_from_rollup(&aggregation.function, spec));
        let merges_quantiles = aggregate
            .aggregations
            .iter()
            .any(|aggregation| merges_quantiles(&aggregation.function));
        let hll_inputs = aggregate
            .aggregations
            .iter()
            .filter_map(|aggregation| merged_hll_input(&aggregation.function, spec))
            .map(str::to_owned)
            .collect();
        TableChoice {
            rollup_row_cost: if merges_quantiles {
                QUANTILES_MERGE_COST
            } else {
                1
            },
            hll_inputs,
            exact_but_bounds,
            query_granularity: *spec.query_granularity(),
            bounds: plan
                .intervals
                .iter()
                .flat_map(|interval| [interval.start(), interval.end()])
                .collect(),
        }
    }

    pub(super) fn table_of<'a>(&self, set: &TableSet<'a>) -> Option<&'a dyn TableSource> {
        match (set.events, set.rollup) {
            (None, rollup) => rollup,
            (Some(events), Some(rollup))
                if self.is_exact_on(rollup)
                    && rollup.rows().saturating_mul(self.rollup_row_cost(events))
                        <= events.rows() =>
            {
                Some(rollup)
            }
            (Some(events), _) => Some(events),
        }
    }

    /// What folding one rollup row costs, in events of `events` read.
    fn rollup_row_cost(&self, events: &dyn TableSource) -> usize {
        let counts_coupons = !self.hll_inputs.is_empty()
            && self
                .hll_inputs
                .iter()
                .all(|input| is_single_value_string(events.schema(), input));
        if counts_coupons {
            self.rollup_row_cost.max(HLL_MERGE_COST)
        } else {
            self.rollup_row_cost
        }
    }

    /// Whether no interval bound cuts through a bucket of `rollup` that may
    /// hold rows: such a bucket's events are partly in and partly out.
    fn is_exact_on(&self, rollup: &dyn TableSource) -> bool {
        let range = rollup.time_range();
        self.exact_but_bounds
            && self.bounds.iter().all(|&bound| {
                let bucket = self.query_granularity.truncate(bound);
                bucket == bound || range.is_none_or(|(first, last)| bucket < first || bucket > last)
            })
    }
}

fn merges_quantiles(function: &AggregateFunction) -> bool {
    match function {
        AggregateFunction::Filtered { inner, .. } => merges_quantiles(inner),
        AggregateFunction::QuantilesSketch { .. } => true,
        _ => false,
    }
}

/// The input field of the HLL metric `function` merges, if it merges one.
fn merged_hll_input<'a>(
    function: &'a AggregateFunction,
    spec: &'a DataSourceSpec,
) -> Option<&'a str> {
    match function {
        AggregateFunction::Filtered { inner, .. } => merged_hll_input(inner, spec),
        AggregateFunction::DistinctSketch { column, .. } => {
            let aggregator = spec.metric(column)?.aggregator();
            matches!(aggregator, Aggregator::HllSketch { .. })
                .then(|| aggregator.field_name().unwrap_or(column))
        }
        _ => None,
    }
}

/// Whether a rollup row's events all pass `filter` or all fail it: every
/// column it names is a rollup dimension, and it searches no text (only
/// the events table has a text index).
fn filter_reads_rollup(filter: &Filter, spec: &DataSourceSpec) -> bool {
    match filter {
        Filter::Equals { column, .. }
        | Filter::In { column, .. }
        | Filter::Range { column, .. }
        | Filter::Like { column, .. }
        | Filter::Regex { column, .. }
        | Filter::Contains { column, .. }
        | Filter::Intervals { column, .. } => is_rollup_dimension(spec, column),
        Filter::FullText { .. } => false,
        Filter::And(filters) | Filter::Or(filters) => filters
            .iter()
            .all(|filter| filter_reads_rollup(filter, spec)),
        Filter::Not(filter) => filter_reads_rollup(filter, spec),
    }
}

/// Whether folding the rollup table's partial results gives what folding
/// each event's value would.
fn folds_exactly_from_rollup(function: &AggregateFunction, spec: &DataSourceSpec) -> bool {
    let (column, is_max) = match function {
        AggregateFunction::Count => return count_metric(spec).is_some(),
        AggregateFunction::Sum { column, number } => {
            return match spec.metric(column).map(|metric| metric.aggregator()) {
                Some(Aggregator::Count) => true,
                Some(Aggregator::Sum { value_type, .. }) => {
                    *value_type == NumericType::Long || *number != NumberType::Long
                }
                _ => false,
            };
        }
        AggregateFunction::Min { column, .. } => (column, false),
        AggregateFunction::Max { column, .. } => (column, true),
        AggregateFunction::SumOfSquares { .. } => return false,
        // A rollup row's pair is ordered by event time, not by another column.
        AggregateFunction::First {
            time_column: Some(_),
            ..
        }
        | AggregateFunction::Last {
            time_column: Some(_),
            ..
        } => return false,
        AggregateFunction::First { column, .. } => {
            return matches!(
                spec.metric(column).map(|metric| metric.aggregator()),
                Some(Aggregator::First { .. })
            );
        }
        AggregateFunction::Last { column, .. } => {
            return matches!(
                spec.metric(column).map(|metric| metric.aggregator()),
                Some(Aggregator::Last { .. })
            );
        }
        AggregateFunction::DistinctSketch { column, .. } => {
            return match spec.metric(column).map(|metric| metric.aggregator()) {
                Some(aggregator) => matches!(aggregator, Aggregator::HllSketch { .. }),
                None => is_rollup_dimension(spec, column),
            };
        }
        AggregateFunction::QuantilesSketch { column, .. } => {
            return matches!(
                spec.metric(column).map(|metric| metric.aggregator()),
                Some(Aggregator::QuantilesSketch { .. })
            );
        }
        AggregateFunction::Cardinality { columns, .. } => {
            return columns
                .iter()
                .all(|column| spec.metric(column).is_none() && is_rollup_dimension(spec, column));
        }
        AggregateFunction::Filtered { filter, inner } => {
            return filter_reads_rollup(filter, spec) && folds_exactly_from_rollup(inner, spec);
        }
    };
    // Truncation toward zero and narrowing to f32 keep order, so a min or
    // max of partial minima or maxima is exact in every number type.
    match spec.metric(column).map(|metric| metric.aggregator()) {
        Some(Aggregator::Min { .. }) => !is_max,
        Some(Aggregator::Max { .. }) => is_max,
        Some(_) => false,
        None => is_rollup_dimension(spec, column),
    }
}

fn is_rollup_dimension(spec: &DataSourceSpec, column: &str) -> bool {
    spec.rollup_dimensions().any(|dim| dim.name() == column)
}

#[cfg(test)]
mod tests {
    use strata_storage::granularity::Granularity;
    use strata_storage::segment::TableKind;
    use strata_storage::spec::{DataSourceSpec, HllLgK, HllTargetType, QuantilesK};
    use strata_storage::time::{MILLIS_PER_HOUR, MILLIS_PER_MINUTE};

    use super::TableChoice;
    use crate::execute::test_support::*;
    use crate::execute::{TableSet, execute};
    use crate::plan::{
        AggregateFunction, Filter, KeyValue, NumberType, QueryPlan, ResultRow, ResultValue,
        ValueKind,
    };

    fn hll(column: &str) -> AggregateFunction {
        AggregateFunction::DistinctSketch {
            column: column.into(),
            lg_k: HllLgK::DEFAULT,
            target_type: HllTargetType::Hll4,
            round: false,
        }
    }

    fn quantiles(column: &str) -> AggregateFunction {
        AggregateFunction::QuantilesSketch {
            column: column.into(),
            k: QuantilesK::DEFAULT,
        }
    }

    /// Two rollup rows of two events each in the first hour, one in the
    /// second.
    fn fixture() -> Vec<Event> {
        let at = |seconds: i64| T0 + seconds * 1_000;
        vec![
            Event {
                bytes: Some(10),
                latency: Some(1.5),
                ..event(at(1), Some("a"), &["x"], Some("u1"))
            },
            Event {
                bytes: Some(30),
                latency: Some(2.75),
                message: Some("found the Needle at last".into()),
                ..event(at(20), Some("a"), &["x"], Some("u2"))
            },
            Event {
                status: Some(404),
                bytes: Some(5),
                latency: Some(0.5),
                ..event(at(61), Some("b"), &["x", "y"], Some("u1"))
            },
            Event {
                status: Some(404),
                bytes: None,
                latency: None,
                ..event(at(62), Some("b"), &["x", "y"], None)
            },
            Event {
                bytes: Some(7),
                latency: Some(-1.25),
                ..event(at(3_605), Some("a"), &[], Some("u1"))
            },
            Event {
                bytes: Some(8),
                latency: Some(3.25),
                message: Some("no needle here".into()),
                ..event(at(3_650), Some("a"), &[], Some("u2"))
            },
        ]
    }

    /// Other events, so that a table of them gives other answers to every
    /// plan below.
    fn wrong(events: &[Event]) -> Vec<Event> {
        let mut wrong: Vec<Event> = events
            .iter()
            .map(|event| Event {
                user: Some("u3".into()),
                status: event.status.map(|status| status + 1),
                bytes: event.bytes.map(|bytes| bytes * 2 + 1),
                latency: event.latency.map(|latency| latency * 2.0 + 1.0),
                ..event.clone()
            })
            .collect();
        wrong.extend(events.first().cloned());
        wrong
    }

    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Answers {
        Rollup,
        Events,
    }

    #[test]
    fn each_set_answers_from_its_rollup_table_exactly_when_that_is_exact() {
        use Answers::{Events, Rollup};
        use NumberType::{Double, Long};
        let right = fixture();
        let wrong = wrong(&right);
        let (right_events, right_rollup) = (events_table(&right), rollup_table(&right));
        let (wrong_events, wrong_rollup) = (events_table(&wrong), rollup_table(&wrong));
        let right_in_rollup = [TableSet {
            events: Some(&wrong_events),
            rollup: Some(&right_rollup),
        }];
        let right_in_events = [TableSet {
            events: Some(&right_events),
            rollup: Some(&wrong_rollup),
        }];
        let no_count =
            DataSourceSpec::from_json(&SPEC.replace(r#"{"type": "count", "name": "count"},"#, ""))
                .unwrap();

        let base = || {
            plan(
                Granularity::HOUR,
                hours(0, 2),
                &["host"],
                vec![
                    AggregateFunction::Count,
                    sum("bytes", Long),
                    max("latency_max", Double),
                ],
            )
        };
        let with = |change: &dyn Fn(&mut QueryPlan)| {
            let mut plan = base();
            change(&mut plan);
            plan
        };
        let aggregating = |function: AggregateFunction| {
            with(&|plan| plan.aggregate.aggregations[1].function = function.clone())
        };
        let grouping = |columns: &[&str]| {
            let mut plan = base();
            plan.aggregate.group_by = plan_keys(columns);
            plan
        };
        let with_count = spec();
        let cases: Vec<(&str, QueryPlan, &DataSourceSpec, Answers)> = vec![
            (
                "rollup dimension, foldable metrics",
                base(),
                &with_count,
                Rollup,
            ),
            (
                "multi-value rollup dimension",
                grouping(&["tags", "status"]),
                &with_count,
                Rollup,
            ),
            (
                "dimension outside rollup",
                grouping(&["user"]),
                &with_count,
                Events,
            ),
            ("no group key", grouping(&[]), &with_count, Rollup),
            (
                "all",
                with(&|plan| plan.aggregate.granularity = Granularity::All),
                &with_count,
                Rollup,
            ),
            (
                "five minutes",
                with(&|plan| plan.aggregate.granularity = Granularity::FIVE_MINUTE),
                &with_count,
                Rollup,
            ),
            (
                "finer than the query granularity",
                with(&|plan| plan.aggregate.granularity = Granularity::SECOND),
                &with_count,
                Events,
            ),
            (
                "sum of a count metric",
                aggregating(sum("count", Long)),
                &with_count,
                Rollup,
            ),
            (
                "max of a count metric",
                aggregating(max("count", Long)),
                &with_count,
                Events,
            ),
            (
                "double sum of a double sum",
                aggregating(sum("latency_sum", Double)),
                &with_count,
                Rollup,
            ),
            (
                "long sum of a double sum",
                aggregating(sum("latency_sum", Long)),
                &with_count,
                Events,
            ),
            (
                "double sum of a long sum",
                aggregating(sum("bytes", Double)),
                &with_count,
                Rollup,
            ),
            (
                "min of a sum",
                aggregating(min("bytes", Long)),
                &with_count,
                Events,
            ),
            (
                "long min of a min",
                aggregating(min("bytes_min", Long)),
                &with_count,
                Rollup,
            ),
            (
                "max of a min",
                aggregating(max("bytes_min", Long)),
                &with_count,
                Events,
            ),
            (
                "long max of a double max",
                aggregating(max("latency_max", Long)),
                &with_count,
                Rollup,
            ),
            (
                "sum of a max",
                aggregating(sum("latency_max", Double)),
                &with_count,
                Events,
            ),
            (
                "max of a rollup dimension",
                aggregating(max("status", Long)),
                &with_count,
                Rollup,
            ),
            (
                "first of a first metric",
                aggregating(AggregateFunction::First {
                    column: "bytes_first".into(),
                    kind: ValueKind::Double,
                    time_column: None,
                }),
                &with_count,
                Rollup,
            ),
            (
                "last of a last metric",
                aggregating(AggregateFunction::Last {
                    column: "latency_last".into(),
                    kind: ValueKind::String,
                    time_column: None,
                }),
                &with_count,
                Rollup,
            ),
            (
                "last of a first metric",
                aggregating(AggregateFunction::Last {
                    column: "bytes_first".into(),
                    kind: ValueKind::Long,
                    time_column: None,
                }),
                &with_count,
                Events,
            ),
            (
                "first of a rollup dimension",
                aggregating(AggregateFunction::First {
                    column: "status".into(),
                    kind: ValueKind::Long,
                    time_column: None,
                }),
                &with_count,
                Events,
            ),
            (
                // Exact from the rollup table, but it keeps a row per two
                // events here: merging their sketches costs more than
                // counting the events' coupons.
                "HLL sketch of an HLL metric, the rollup keeping most rows",
                aggregating(hll("users")),
                &with_count,
                Events,
            ),
            (
                "HLL sketch of a dimension outside rollup",
                aggregating(hll("user")),
                &with_count,
                Events,
            ),
            (
                "HLL sketch of a sum metric",
                aggregating(hll("bytes")),
                &with_count,
                Events,
            ),
            (
                "cardinality with a dimension outside rollup",
                aggregating(AggregateFunction::Cardinality {
                    columns: vec!["status".into(), "user".into()],
                    by_row: true,
                    round: true,
                }),
                &with_count,
                Events,
            ),
            (
                // Exact from the rollup table, but it keeps nearly a row per
                // event here: merging their sketches costs more than reading
                // the events.
                "quantiles of a quantiles metric, the rollup keeping most rows",
                aggregating(quantiles("latency_sketch")),
                &with_count,
                Events,
            ),
            (
                "quantiles of a raw input",
                aggregating(quantiles("latency")),
                &with_count,
                Events,
            ),
            (
                "sum of a rollup dimension",
                aggregating(sum("status", Long)),
                &with_count,
                Events,
            ),
            (
                "a raw input field",
                aggregating(max("latency", Double)),
                &with_count,
                Events,
            ),
            ("count without a count metric", base(), &no_count, Events),
            (
                "a filtered sum, the filter on a rollup dimension",
                aggregating(AggregateFunction::Filtered {
                    filter: Filter::Not(Box::new(Filter::Equals {
                        column: "tags".into(),
                        value: Some("y".into()),
                    })),
                    inner: Box::new(sum("bytes", Long)),
                }),
                &with_count,
                Rollup,
            ),
            (
                "a filtered count, the filter on a dimension outside rollup",
                aggregating(AggregateFunction::Filtered {
                    filter: Filter::Equals {
                        column: "user".into(),
                        value: Some("u1".into()),
                    },
                    inner: Box::new(AggregateFunction::Count),
                }),
                &with_count,
                Events,
            ),
            (
                "a filtered sum of a rollup dimension",
                aggregating(AggregateFunction::Filtered {
                    filter: Filter::Equals {
                        column: "host".into(),
                        value: Some("a".into()),
                    },
                    inner: Box::new(sum("status", Long)),
                }),
                &with_count,
                Events,
            ),
            (
                "a filter on a rollup dimension",
                with(&|plan| {
                    plan.filter = Some(Filter::Not(Box::new(Filter::Equals {
                        column: "tags".into(),
                        value: Some("y".into()),
                    })))
                }),
                &with_count,
                Rollup,
            ),
            (
                "a filter on a dimension outside rollup",
                with(&|plan| {
                    plan.filter = Some(Filter::Equals {
                        column: "user".into(),
                        value: Some("u1".into()),
                    })
                }),
                &with_count,
                Events,
            ),
            (
                "a full-text filter",
                with(&|plan| {
                    plan.filter = Some(Filter::FullText {
                        query: "needle".into(),
                        fields: Vec::new(),
                    })
                }),
                &with_count,
                Events,
            ),
            (
                "a filtered count, the filter searching text",
                aggregating(AggregateFunction::Filtered {
                    filter: Filter::And(vec![
                        Filter::Equals {
                            column: "host".into(),
                            value: Some("a".into()),
                        },
                        Filter::Not(Box::new(Filter::FullText {
                            query: "needle".into(),
                            fields: vec!["message".into()],
                        })),
                    ]),
                    inner: Box::new(AggregateFunction::Count),
                }),
                &with_count,
                Events,
            ),
            (
                "a filter on __time",
                with(&|plan| {
                    plan.filter = Some(Filter::Intervals {
                        column: "__time".into(),
                        intervals: vec![interval(T0 + 30_000, T0 + 2 * MILLIS_PER_HOUR)],
                    })
                }),
                &with_count,
                Events,
            ),
            (
                "a bound inside a minute that holds rows",
                with(&|plan| plan.intervals = vec![interval(T0 + 30_000, T0 + MILLIS_PER_HOUR)]),
                &with_count,
                Events,
            ),
            (
                "unaligned bounds outside the rows",
                with(&|plan| {
                    plan.intervals = vec![interval(T0 - 30_000, T0 + 3 * MILLIS_PER_HOUR + 1)]
                }),
                &with_count,
                Rollup,
            ),
        ];
        for (case, plan, spec, answers) in cases {
            let expected = oracle(&plan, &right);
            let from_rollup = execute(&plan, spec, &right_in_rollup).unwrap();
            let from_events = execute(&plan, spec, &right_in_events).unwrap();
            let (right_one, wrong_one) = match answers {
                Rollup => (&from_rollup, &from_events),
                Events => (&from_events, &from_rollup),
            };
            assert_eq!(rows_match(right_one, &expected), Ok(()), "{case}");
            assert!(
                rows_match(wrong_one, &expected).is_err(),
                "{case}: {wrong_one:?}"
            );
        }
    }

    /// With many events per rollup row, the rollup table answers quantiles;
    /// with about one, the events table does.
    #[test]
    fn quantiles_read_the_rollup_table_when_it_is_much_smaller() {
        let spec = spec();
        let plan = plan(
            Granularity::HOUR,
            hours(0, 4),
            &["host"],
            vec![AggregateFunction::QuantilesSketch {
                column: "latency_sketch".into(),
                k: QuantilesK::DEFAULT,
            }],
        );
        let choice = TableChoice::new(&plan, &spec);
        let same_minute: Vec<Event> = (0..40)
            .map(|i| Event {
                latency: Some(f64::from(i)),
                ..event(T0 + i64::from(i) * 100, Some("a"), &["x"], Some("u1"))
            })
            .collect();
        let one_per_minute: Vec<Event> = (0..40)
            .map(|i| event(T0 + i64::from(i) * 60_000, Some("a"), &["x"], Some("u1")))
            .collect();
        for (events, rollup_answers) in [(same_minute, true), (one_per_minute, false)] {
            let (events_table, rollup_table) = (events_table(&events), rollup_table(&events));
            let set = TableSet {
                events: Some(&events_table),
                rollup: Some(&rollup_table),
            };
            let chosen = choice.table_of(&set).map(|table| table.kind());
            let expected = if rollup_answers {
                TableKind::Rollup
            } else {
                TableKind::Events
            };
            assert_eq!(chosen, Some(expected));
        }
    }

    /// With many events per rollup row, the rollup table answers an HLL
    /// merge; with about one, the events table does — unless it keeps the
    /// metric's input field otherwise than as a single-value string column,
    /// whose coupons are looked up.
    #[test]
    fn hll_merges_read_the_rollup_table_when_it_is_much_smaller() {
        use strata_storage::segment::{CellValue, ColumnKind, ColumnSchema, TableSchema};

        use crate::mem_table::MemTableBuilder;
        use crate::table::TableSource;

        let spec = spec();
        let merging = plan(
            Granularity::HOUR,
            hours(0, 4),
            &[],
            vec![
                AggregateFunction::Count,
                AggregateFunction::Filtered {
                    filter: Filter::Equals {
                        column: "host".into(),
                        value: Some("a".into()),
                    },
                    inner: Box::new(hll("users")),
                },
            ],
        );
        let choice = TableChoice::new(&merging, &spec);
        let per_rollup_row = |events_per_row: i64| -> Vec<Event> {
            (0..64)
                .map(|i| {
                    let time = T0 + i / events_per_row * MILLIS_PER_MINUTE + i % events_per_row;
                    event(time, Some("a"), &["x"], Some(&format!("u{i}")))
                })
                .collect()
        };
        // The same rows, `user` a multi-value column: hashed row by row.
        let multi_value_users = |events: &[Event]| {
            let schema = TableSchema::new(vec![ColumnSchema::new(
                "user",
                ColumnKind::String { multi_value: true },
            )])
            .unwrap();
            let mut builder = MemTableBuilder::new(TableKind::Events, schema);
            for event in events {
                let user = event
                    .user
                    .as_deref()
                    .map_or(CellValue::Null, CellValue::Str);
                builder.append_row(event.time, &[user]).unwrap();
            }
            builder.finish()
        };
        for (events_per_row, coupons, answers) in [
            (16, true, TableKind::Rollup),
            (8, true, TableKind::Rollup),
            (4, true, TableKind::Events),
            (1, true, TableKind::Events),
            (1, false, TableKind::Rollup),
        ] {
            let events = per_rollup_row(events_per_row);
            let rollup = rollup_table(&events);
            assert_eq!(rollup.rows() as i64, 64 / events_per_row);
            let (with_coupons, hashed) = (events_table(&events), multi_value_users(&events));
            let set = TableSet {
                events: Some(if coupons { &with_coupons } else { &hashed }),
                rollup: Some(&rollup),
            };
            let chosen = choice.table_of(&set).map(|table| table.kind());
            assert_eq!(chosen, Some(answers), "{events_per_row} events per row");
        }
        // Without an HLL merge, the rollup table answers whenever it is
        // exact.
        let counting = plan(
            Granularity::HOUR,
            hours(0, 4),
            &[],
            vec![AggregateFunction::Count],
        );
        let events = per_rollup_row(1);
        let (events, rollup) = (events_table(&events), rollup_table(&events));
        let set = TableSet {
            events: Some(&events),
            rollup: Some(&rollup),
        };
        let chosen = TableChoice::new(&counting, &spec).table_of(&set);
        assert_eq!(chosen.map(|table| table.kind()), Some(TableKind::Rollup));
    }

    #[test]
    fn a_set_without_events_answers_from_its_rollup_rows_as_druid_does() {
        let rollup = rollup_table(&fixture());
        let sets = [TableSet {
            events: None,
            rollup: Some(&rollup),
        }];
        let plan = plan(
            Granularity::None,
            hours(0, 2),
            &["user"],
            vec![AggregateFunction::Count, sum("bytes", NumberType::Long)],
        );
        let rows = execute(&plan, &spec(), &sets).unwrap();
        let row = |minute: i64, count: i64, bytes: i64| ResultRow {
            timestamp: T0 + minute * MILLIS_PER_MINUTE,
            keys: vec![KeyValue::Null],
            values: vec![ResultValue::Long(count), ResultValue::Long(bytes)],
        };
        assert_eq!(rows, vec![row(0, 2, 40), row(1, 2, 5), row(60, 2, 15)]);
    }
}
