//! Folding: an aggregation's inputs, row by row, into one value per group.
//!
//! Sums, minima and maxima are computed in the plan's [`NumberType`]: a long
//! truncates each double input toward zero, as Druid's `longSum` does, and
//! wraps on overflow, as Java's `long` does; a float computes in 32 bits and
//! is returned widened to a double. Null inputs are skipped; a group with no
//! input is null, except `Count`, which is 0.
//!
//! First and last keep the earliest (latest) value by event time, with that
//! time: a strictly earlier time replaces the first value, an equal or later
//! time the last one, so among equal times the first value read stays first
//! and the last one read becomes last — Druid's rule. Values are converted to
//! the plan's [`ValueKind`] when picked; one that cannot be (a string that is
//! no number, for `longFirst`) is skipped like a null.
//!
//! Distinct counts keep an HLL sketch: a row's values are hashed into it as
//! ingest hashes them (or their hashes, coupons, looked up by dictionary
//! id), stored sketches are unioned. Quantiles keep a group's raw doubles
//! exactly (NaN skipped), up to [`QUANTILES_EXACT_CAP`] of them, and a KLL
//! sketch past it or once the query's memory is short; stored sketches are
//! merged into it. Both come out as the sketch itself; the executor
//! finalizes them once the post-aggregations have read them.
//!
//! Each table folds into its own groups first; groups of several tables are
//! then merged by folding one accumulator's value into the other's — the
//! later table's first/last pair as a later read, sketches by union — which
//! gives what folding every input into one would.

use std::cmp::Ordering;
use std::sync::Arc;

use strata_storage::metric_cell::distinct::Coupon;
use strata_storage::metric_cell::{HllState, HllUnionState, QuantilesState, Timed};
use strata_storage::spec::{HllLgK, HllTargetType};
use strata_storage::time::Millis;

use super::input::DistinctRow;
use crate::plan::{AggregateFunction, NumberType, ResultValue, SketchValue, ValueKind};

/// One input value, as the column held it.
#[derive(Debug, Clone, Copy)]
pub(super) enum Number {
    Long(i64),
    Double(f64),
}

impl Number {
    /// Druid's `(long)` cast: toward zero, saturating, NaN to 0 — which is
    /// exactly Rust's `as`.
    fn to_long(self) -> i64 {
        match self {
            Number::Long(value) => value,
            Number::Double(value) => value as i64,
        }
    }

    fn to_double(self) -> f64 {
        match self {
            Number::Long(value) => value as f64,
            Number::Double(value) => value,
        }
    }

    fn to_float(self) -> f32 {
        match self {
            Number::Long(value) => value as f32,
            Number::Double(value) => value as f32,
        }
    }
}

/// A value first/last can pick, as a row holds it.
#[derive(Debug, Clone, Copy)]
pub(super) enum Scalar<'a> {
    Number(Number),
    Str(&'a str),
}

impl Scalar<'_> {
    fn number(self) -> Option<Number> {
        match self {
            Scalar::Number(number) => Some(number),
            Scalar::Str(text) => {
                let text = text.trim();
                text.parse::<i64>()
                    .map(Number::Long)
                    .ok()
                    .or_else(|| text.parse::<f64>().ok().map(Number::Double))
            }
        }
    }

    /// The value in `kind`; `None` when it is no such value.
    fn picked(self, kind: ValueKind) -> Option<Picked> {
        Some(match kind {
            ValueKind::Long => Picked::Long(self.number()?.to_long()),
            ValueKind::Double => Picked::Double(self.number()?.to_double()),
            ValueKind::Float => Picked::Float(self.number()?.to_float()),
            ValueKind::String => Picked::String(match self {
                Scalar::Number(Number::Long(value)) => value.to_string(),
                Scalar::Number(Number::Double(value)) => value.to_string(),
                Scalar::Str(text) => text.to_owned(),
            }),
        })
    }
}

/// A first/last value, converted to the aggregation's kind.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Picked {
    Long(i64),
    Double(f64),
    Float(f32),
    String(String),
}

impl Picked {
    fn result(&self) -> ResultValue {
        match self {
            Picked::Long(value) => ResultValue::Long(*value),
            Picked::Double(value) => ResultValue::Double(*value),
            Picked::Float(value) => ResultValue::Double(f64::from(*value)),
            Picked::String(value) => ResultValue::String(value.clone()),
        }
    }
}

/// What one row gives one aggregation.
pub(super) enum RowValue<'a> {
    Number(Number),
    /// A first/last candidate and its event time.
    Timed(Millis, Scalar<'a>),
    /// A first/last pair stored by a rollup table, already in a kind.
    Pair(Timed<Picked>),
    /// Values to count distinct.
    Distinct(DistinctRow<'a>),
    /// A value to count distinct, hashed already.
    Coupon(Coupon),
    /// A stored HLL sketch.
    Hll(&'a HllState),
    /// A stored quantiles sketch.
    Quantiles(&'a QuantilesState),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fold {
    Sum,
    Min,
    Max,
}

/// Whether first/last keeps the earliest or the latest value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Pick {
    First,
    Last,
}

impl Pick {
    /// Whether a value read now at `time` replaces one picked at `current`.
    pub(super) fn replaces(self, time: Millis, current: Millis) -> bool {
        match self {
            Pick::First => time < current,
            Pick::Last => time >= current,
        }
    }
}

/// One aggregation's running value in one group.
#[derive(Debug, Clone)]
pub(super) enum Accumulator {
    Count(i64),
    Long(Fold, Option<i64>),
    Double(Fold, Option<f64>),
    Float(Fold, Option<f32>),
    Pick {
        pick: Pick,
        kind: ValueKind,
        picked: Option<Timed<Picked>>,
    },
    Distinct {
        state: Box<HllUnionState>,
        round: bool,
    },
    Quantiles(Box<QuantilesState>),
    /// A sum of squared values: unlike a sum, merging another group's adds
    /// its total as it is.
    Squares(Option<f64>),
}

/// The most raw doubles a group's quantiles keep exactly before they become
/// the sketch: 8 MiB of them. Kept values are pushed to a list and answered
/// by selection, several times cheaper than the sketch's updates and exact;
/// [`Groups`](super::groups::Groups) counts them against the query's memory
/// budget and turns them into sketches when it is short.
const QUANTILES_EXACT_CAP: u32 = 1 << 20;

/// The HLL `cardinality` counts with: Druid's default `lgK` and type.
const CARDINALITY_LG_K: HllLgK = HllLgK::DEFAULT;

impl Accumulator {
    pub(super) fn empty(function: &AggregateFunction) -> Self {
        let (fold, number) = match function {
            AggregateFunction::Count => return Accumulator::Count(0),
            // Filtering picks rows; what is folded is the inner function's.
            AggregateFunction::Filtered { inner, .. } => return Accumulator::empty(inner),
            AggregateFunction::First { kind, .. } => {
                return Accumulator::Pick {
                    pick: Pick::First,
                    kind: *kind,
                    picked: None,
                };
            }
            AggregateFunction::Last { kind, .. } => {
                return Accumulator::Pick {
                    pick: Pick::Last,
                    kind: *kind,
                    picked: None,
                };
            }
            AggregateFunction::DistinctSketch {
                lg_k,
                target_type,
                round,
                ..
            } => {
                return Accumulator::Distinct {
                    state: Box::new(HllUnionState::new(*lg_k, *target_type)),
                    round: *round,
                };
            }
            AggregateFunction::Cardinality { round, .. } => {
                return Accumulator::Distinct {
                    state: Box::new(HllUnionState::new(CARDINALITY_LG_K, HllTargetType::Hll4)),
                    round: *round,
                };
            }
            AggregateFunction::QuantilesSketch { k, .. } => {
                return Accumulator::Quantiles(Box::new(QuantilesState::with_exact_cap(
                    *k,
                    QUANTILES_EXACT_CAP,
                )));
            }
            AggregateFunction::SumOfSquares { .. } => return Accumulator::Squares(None),
            AggregateFunction::Sum { number, .. } => (Fold::Sum, number),
            AggregateFunction::Min { number, .. } => (Fold::Min, number),
            AggregateFunction::Max { number, .. } => (Fold::Max, number),
        };
        match number {
            NumberType::Long => Accumulator::Long(fold, None),
            NumberType::Double => Accumulator::Double(fold, None),
            NumberType::Float => Accumulator::Float(fold, None),
        }
    }

    pub(super) fn add(&mut self, value: RowValue<'_>) {
        match (self, value) {
            (Accumulator::Count(count), RowValue::Number(value)) => {
                *count = count.wrapping_add(value.to_long())
            }
            (Accumulator::Long(fold, slot), RowValue::Number(value)) => {
                fold_into(*fold, slot, value.to_long(), i64::wrapping_add, i64::cmp)
            }
            (Accumulator::Double(fold, slot), RowValue::Number(value)) => fold_into(
                *fold,
                slot,
                value.to_double(),
                |a, b| a + b,
                |a, b| a.total_cmp(b),
            ),
            (Accumulator::Float(fold, slot), RowValue::Number(value)) => fold_into(
                *fold,
                slot,
                value.to_float(),
                |a, b| a + b,
                |a, b| a.total_cmp(b),
            ),
            (Accumulator::Pick { pick, kind, picked }, RowValue::Timed(time, value)) => {
                if picked
                    .as_ref()
                    .is_none_or(|current| pick.replaces(time, current.time))
                    && let Some(value) = value.picked(*kind)
                {
                    *picked = Some(Timed { time, value });
                }
            }
            (Accumulator::Pick { pick, picked, .. }, RowValue::Pair(pair))
                if picked
                    .as_ref()
                    .is_none_or(|current| pick.replaces(pair.time, current.time)) =>
            {
                *picked = Some(pair);
            }
            (Accumulator::Distinct { state, .. }, RowValue::Distinct(row)) => {
                row.for_each_key(|key| state.add(key));
            }
            (Accumulator::Distinct { state, .. }, RowValue::Coupon(coupon)) => {
                state.add_coupon(coupon)
            }
            (Accumulator::Distinct { state, .. }, RowValue::Hll(stored)) => state.add_state(stored),
            (Accumulator::Quantiles(state), RowValue::Number(value)) => {
                // NaN has no rank; like ingest, it is left out. A sketch
                // cannot be full before 2^64 values.
                let _ = state.add(value.to_double());
            }
            (Accumulator::Squares(total), RowValue::Number(value)) => {
                let value = value.to_double();
                *total = Some(total.unwrap_or(0.0) + value * value);
            }
            (Accumulator::Quantiles(state), RowValue::Quantiles(stored)) => {
                // KLL sketches of any `k` merge; an error would mean a
                // damaged sketch, which decoding already refused.
                let _ = state.merge(stored);
            }
            // The input reader gives each accumulator the values it folds.
            _ => {}
        }
    }

    /// Folds in another group's accumulator of the same aggregation, over
    /// rows read after this one's.
    pub(super) fn merge(&mut self, other: &Accumulator) {
        match other {
            Accumulator::Count(count) => self.add(RowValue::Number(Number::Long(*count))),
            Accumulator::Long(_, Some(value)) => self.add(RowValue::Number(Number::Long(*value))),
            Accumulator::Double(_, Some(value)) => {
                self.add(RowValue::Number(Number::Double(*value)))
            }
            // Widening an f32 to f64 and narrowing it back is exact.
            Accumulator::Float(_, Some(value)) => {
                self.add(RowValue::Number(Number::Double(f64::from(*value))))
            }
            Accumulator::Pick {
                picked: Some(pair), ..
            } => self.add(RowValue::Pair(pair.clone())),
            Accumulator::Distinct { state: other, .. } => {
                if let Accumulator::Distinct { state, .. } = self {
                    state.merge(other);
                }
            }
            Accumulator::Quantiles(state) => self.add(RowValue::Quantiles(state)),
            Accumulator::Squares(Some(other)) => {
                if let Accumulator::Squares(total) = self {
                    *total = Some(total.unwrap_or(0.0) + other);
                }
            }
            Accumulator::Squares(None)
            | Accumulator::Long(_, None)
            | Accumulator::Double(_, None)
            | Accumulator::Float(_, None)
            | Accumulator::Pick { picked: None, .. } => {}
        }
    }

    /// [`merge`](Self::merge), taking `other`: a quantiles state's kept
    /// values are moved, not copied.
    pub(super) fn merge_owned(&mut self, other: Accumulator) {
        match (self, other) {
            (Accumulator::Quantiles(state), Accumulator::Quantiles(other)) => {
                // As in `add`: an error would mean a damaged sketch.
                let _ = state.merge_owned(*other);
            }
            (this, other) => this.merge(&other),
        }
    }

    /// The accumulated value; sketches as sketches, to be finalized once the
    /// post-aggregations have read them.
    pub(super) fn result(&self) -> ResultValue {
        match self {
            Accumulator::Count(count) => ResultValue::Long(*count),
            Accumulator::Long(_, value) => value.map_or(ResultValue::Null, ResultValue::Long),
            Accumulator::Double(_, value) | Accumulator::Squares(value) => {
                value.map_or(ResultValue::Null, ResultValue::Double)
            }
            Accumulator::Float(_, value) => value.map_or(ResultValue::Null, |value| {
                ResultValue::Double(f64::from(value))
            }),
            Accumulator::Pick { picked, .. } => picked
                .as_ref()
                .map_or(ResultValue::Null, |pair| pair.value.result()),
            Accumulator::Distinct { state, round } => ResultValue::Sketch(SketchValue::Hll {
                sketch: Arc::new(state.to_sketch()),
                round: *round,
            }),
            Accumulator::Quantiles(state) => {
                ResultValue::Sketch(SketchValue::Quantiles(Arc::new((**state).clone())))
            }
        }
    }

    /// [`result`](Self::result), taking the accumulator: a quantiles
    /// state's kept values are moved, not copied.
    pub(super) fn into_result(self) -> ResultValue {
        match self {
            Accumulator::Quantiles(state) => {
                ResultValue::Sketch(SketchValue::Quantiles(Arc::from(state)))
            }
            other => other.result(),
        }
    }

    /// The heap bytes the groups' memory estimate counts beyond the
    /// accumulator itself: a quantiles state's kept values or sketch, which
    /// grow with its input.
    pub(super) fn growing_bytes(&self) -> usize {
        match self {
            Accumulator::Quantiles(state) => state.heap_bytes(),
            _ => 0,
        }
    }

    /// Gives up kept quantiles values for their sketch, to free memory.
    pub(super) fn compact(&mut self) {
        if let Accumulator::Quantiles(state) = self {
            state.compact();
        }
    }
}

fn fold_into<T: Copy>(
    fold: Fold,
    slot: &mut Option<T>,
    value: T,
    sum: impl Fn(T, T) -> T,
    cmp: impl Fn(&T, &T) -> Ordering,
) {
    *slot = Some(match (*slot, fold) {
        (None, _) => value,
        (Some(current), Fold::Sum) => sum(current, value),
        (Some(current), Fold::Min) => match cmp(&value, &current) {
            Ordering::Less => value,
            _ => current,
        },
        (Some(current), Fold::Max) => match cmp(&value, &current) {
            Ordering::Greater => value,
            _ => current,
        },
    });
}

#[cfg(test)]
mod tests {
    use strata_storage::granularity::Granularity;
    use strata_storage::spec::{HllLgK, HllTargetType, QuantilesK};

    use super::{Accumulator, Number, RowValue, Scalar};
    use crate::execute::TableSet;
    use crate::plan::{SketchValue, ValueKind};

    /// Folds `rows` into one accumulator, and into two split at every
    /// point and merged: each merge must give the one fold's result.
    fn assert_pieces_merge_to_one_fold(
        function: &AggregateFunction,
        rows: &[RowValue<'_>],
        add: impl Fn(&mut Accumulator, &RowValue<'_>),
    ) {
        let fold = |rows: &[RowValue<'_>]| {
            let mut accumulator = Accumulator::empty(function);
            for row in rows {
                add(&mut accumulator, row);
            }
            accumulator
        };
        let whole = fold(rows).result();
        for split in 0..=rows.len() {
            let (early, late) = rows.split_at(split);
            let mut merged = fold(early);
            merged.merge(&fold(late));
            assert_eq!(merged.result(), whole, "{function:?} split at {split}");
        }
    }

    fn copy<'a>(row: &RowValue<'a>) -> RowValue<'a> {
        match row {
            RowValue::Number(number) => RowValue::Number(*number),
            RowValue::Timed(time, scalar) => RowValue::Timed(*time, *scalar),
            _ => unreachable!("the tests copy numbers and timed values"),
        }
    }

    #[test]
    fn first_and_last_pieces_merge_to_one_fold_ties_by_reading_order() {
        let rows = [
            RowValue::Timed(5, Scalar::Str("7")),
            RowValue::Timed(3, Scalar::Number(Number::Double(2.5))),
            RowValue::Timed(3, Scalar::Number(Number::Long(4))),
            RowValue::Timed(9, Scalar::Str("not a number")),
            RowValue::Timed(9, Scalar::Number(Number::Long(-1))),
            RowValue::Timed(1, Scalar::Str("x")),
        ];
        let cases = [
            (true, ValueKind::Long, ResultValue::Long(2)),
            (true, ValueKind::Double, ResultValue::Double(2.5)),
            (true, ValueKind::String, ResultValue::String("x".into())),
            (false, ValueKind::Long, ResultValue::Long(-1)),
            (false, ValueKind::Float, ResultValue::Double(-1.0)),
            (false, ValueKind::String, ResultValue::String("-1".into())),
        ];
        for (is_first, kind, expected) in cases {
            let column = "c".to_owned();
            let function = if is_first {
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
            };
            let mut accumulator = Accumulator::empty(&function);
            for row in &rows {
                accumulator.add(copy(row));
            }
            assert_eq!(accumulator.result(), expected, "{function:?}");
            assert_pieces_merge_to_one_fold(&function, &rows, |accumulator, row| {
                accumulator.add(copy(row))
            });
        }
    }

    #[test]
    fn quantiles_pieces_merge_to_one_fold() {
        let rows: Vec<RowValue<'_>> = (0..150)
            .map(|i| RowValue::Number(Number::Long((i * 37) % 101)))
            .chain([RowValue::Number(Number::Double(f64::NAN))])
            .collect();
        let function = AggregateFunction::QuantilesSketch {
            column: "c".into(),
            k: QuantilesK::DEFAULT,
        };
        assert_pieces_merge_to_one_fold(&function, &rows, |accumulator, row| {
            accumulator.add(copy(row))
        });
        let mut accumulator = Accumulator::empty(&function);
        for row in &rows {
            accumulator.add(copy(row));
        }
        // NaN is left out; every other value is counted.
        let ResultValue::Sketch(sketch @ SketchValue::Quantiles(_)) = accumulator.result() else {
            panic!("not a quantiles sketch");
        };
        assert_eq!(sketch.finalized(), ResultValue::Long(150));
    }

    /// Raw values of several tables, grouped: each group's quantiles are
    /// the exact order statistics of its values (the sketch's inclusive
    /// rule); with a memory budget the kept values pass but their sketches
    /// fit, the query still answers, within the sketches' rank error.
    #[test]
    fn quantiles_of_raw_values_are_exact_or_sketched_when_memory_is_short() {
        use crate::execute::execute_with_limits;
        use crate::plan::{PostAggregation, PostExpression};
        use crate::query_limits::QueryLimits;

        let hosts = ["a", "b", "c"];
        let events: Vec<Event> = (0..30_000_i64)
            .map(|i| Event {
                latency: (i % 13 != 0).then(|| ((i * 7_919) % 6_007) as f64 / 4.0 - 100.0),
                ..event(T0 + i * 100, Some(hosts[i as usize % 3]), &[], None)
            })
            .collect();
        let pieces: Vec<_> = events.chunks(3_000).map(events_table).collect();
        let sets: Vec<TableSet<'_>> = pieces
            .iter()
            .map(|table| TableSet {
                events: Some(table),
                rollup: None,
            })
            .collect();
        let fractions = vec![0.0, 0.01, 0.25, 0.5, 0.9, 0.99, 1.0];
        let mut plan = plan(
            Granularity::All,
            hours(0, 1),
            &["host"],
            vec![AggregateFunction::QuantilesSketch {
                column: "latency".into(),
                k: QuantilesK::DEFAULT,
            }],
        );
        plan.aggregate.post_aggregations = vec![PostAggregation {
            name: "p".into(),
            expression: PostExpression::Quantiles {
                field: Box::new(PostExpression::Field("a0".into())),
                fractions: fractions.clone(),
            },
        }];
        let sorted_of = |host: &str| {
            let mut values: Vec<f64> = events
                .iter()
                .filter(|event| event.host.as_deref() == Some(host))
                .filter_map(|event| event.latency)
                .collect();
            values.sort_by(f64::total_cmp);
            values
        };

        let rows = execute(&plan, &spec(), &sets).unwrap();
        assert_eq!(rows.len(), 3);
        for (row, host) in rows.iter().zip(hosts) {
            let sorted = sorted_of(host);
            let n = sorted.len() as f64;
            // The smallest value whose rank reaches the fraction.
            let expected: Vec<f64> = fractions
                .iter()
                .map(|fraction| {
                    let at = (0..sorted.len())
                        .find(|index| (index + 1) as f64 >= fraction * n)
                        .unwrap_or(sorted.len() - 1);
                    sorted[at]
                })
                .collect();
            assert_eq!(
                row.values,
                vec![
                    ResultValue::Long(sorted.len() as i64),
                    ResultValue::Doubles(expected)
                ],
                "{host}"
            );
        }

        // Each group keeps over 9,000 values, 72 KB; its sketch about 10 KB.
        let limits = QueryLimits::new(None, 100_000);
        let rows = execute_with_limits(&plan, &spec(), &sets, &limits).unwrap();
        assert_eq!(rows.len(), 3);
        for (row, host) in rows.iter().zip(hosts) {
            let sorted = sorted_of(host);
            assert_eq!(row.values[0], ResultValue::Long(sorted.len() as i64));
            let ResultValue::Doubles(answers) = &row.values[1] else {
                panic!("{:?}", row.values);
            };
            for (fraction, answer) in fractions.iter().zip(answers) {
                let n = sorted.len() as f64;
                let below = sorted.partition_point(|value| value < answer) as f64 / n;
                let at_most = sorted.partition_point(|value| value <= answer) as f64 / n;
                assert!(
                    below - 0.02 <= *fraction && *fraction <= at_most + 0.02,
                    "{host}: quantile {fraction} is {answer}, of ranks {below}..{at_most}"
                );
            }
        }
    }

    #[test]
    fn distinct_counts_of_tables_merged_equal_one_table() {
        let events: Vec<Event> = (0..3_000_i64)
            .map(|i| {
                let user = format!("u{}", i % 1_000);
                let host = format!("h{}", i % 7);
                event(T0 + i * 1_000, Some(&host), &[], Some(&user))
            })
            .collect();
        let whole = events_table(&events);
        let pieces: Vec<_> = events.chunks(400).map(events_table).collect();
        let sets: Vec<TableSet<'_>> = pieces
            .iter()
            .map(|table| TableSet {
                events: Some(table),
                rollup: None,
            })
            .collect();
        let plan = plan(
            Granularity::All,
            hours(0, 1),
            &[],
            vec![
                AggregateFunction::DistinctSketch {
                    column: "user".into(),
                    lg_k: HllLgK::DEFAULT,
                    target_type: HllTargetType::Hll8,
                    round: false,
                },
                AggregateFunction::Cardinality {
                    columns: vec!["host".into(), "user".into()],
                    by_row: true,
                    round: true,
                },
                AggregateFunction::Cardinality {
                    columns: vec!["host".into(), "user".into()],
                    by_row: false,
                    round: true,
                },
            ],
        );
        let one = execute(&plan, &spec(), &events_only(&whole)).unwrap();
        let merged = execute(&plan, &spec(), &sets).unwrap();
        let estimates = |rows: &[crate::plan::ResultRow]| -> Vec<f64> {
            rows[0]
                .values
                .iter()
                .map(|value| value.as_f64().unwrap())
                .collect()
        };
        let (one, merged) = (estimates(&one), estimates(&merged));
        // 1000 users; 3000 (host, user) pairs (i % 7 and i % 1000 repeat
        // together every 7000 only); 1007 values of host or user.
        for ((one, merged), exact) in one.iter().zip(&merged).zip([1_000.0, 3_000.0, 1_007.0]) {
            assert!((one - exact).abs() <= 0.05 * exact, "{one} of {exact}");
            assert!(
                (merged - exact).abs() <= 0.05 * exact,
                "{merged} of {exact}"
            );
        }
    }

    use crate::execute::execute;
    use crate::execute::test_support::*;
    use crate::plan::{AggregateFunction, NumberType, ResultValue};

    #[test]
    fn long_folds_truncate_doubles_toward_zero_and_skip_nulls() {
        let events = vec![
            Event {
                bytes: Some(i64::MAX),
                latency: Some(-1.75),
                ..event(T0, Some("a"), &[], None)
            },
            Event {
                bytes: Some(1),
                latency: Some(2.75),
                ..event(T0 + 1, Some("a"), &[], None)
            },
            Event {
                bytes: None,
                latency: None,
                ..event(T0 + 2, Some("a"), &[], None)
            },
        ];
        let table = events_table(&events);
        let plan = plan(
            Granularity::All,
            hours(0, 1),
            &[],
            vec![
                AggregateFunction::Count,
                sum("latency", NumberType::Long),
                min("latency", NumberType::Long),
                max("latency", NumberType::Long),
                sum("latency", NumberType::Double),
                sum("latency", NumberType::Float),
                sum("bytes", NumberType::Long),
                sum("nope", NumberType::Double),
            ],
        );
        let rows = execute(&plan, &spec(), &events_only(&table)).unwrap();
        assert_eq!(
            values_of(&rows),
            vec![vec![
                ResultValue::Long(3),
                ResultValue::Long(1),
                ResultValue::Long(-1),
                ResultValue::Long(2),
                ResultValue::Double(1.0),
                ResultValue::Double(1.0),
                // Java's long arithmetic wraps.
                ResultValue::Long(i64::MIN),
                ResultValue::Null,
            ]]
        );
    }
}
