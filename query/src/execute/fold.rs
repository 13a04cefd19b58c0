//! Folding: an aggregation's inputs, row by row, into one value per group.
//!
//! Sums, minima and maxima are computed in the plan's [`NumberType`]: a long
//! truncates each double input toward zero, as Druid's `longSum` does, and
//! wraps on overflow, as Java's `long` does; a float computes in 32 bits and
//! is returned widened to a double. Null inputs are skipped; a group with no
//! input is null, except `Count`, which is 0.
//!
//! Each table folds into its own groups first; groups of several tables are
//! then merged by folding one accumulator's value into the other's, which
//! gives what folding every input into one would.

use std::cmp::Ordering;

use crate::plan::{AggregateFunction, NumberType, ResultValue};

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fold {
    Sum,
    Min,
    Max,
}

/// One aggregation's running value in one group.
#[derive(Debug, Clone, Copy)]
pub(super) enum Accumulator {
    Count(i64),
    Long(Fold, Option<i64>),
    Double(Fold, Option<f64>),
    Float(Fold, Option<f32>),
}

impl Accumulator {
    pub(super) fn empty(function: &AggregateFunction) -> Self {
        let (fold, number) = match function {
            AggregateFunction::Count => return Accumulator::Count(0),
            // Filtering picks rows; what is folded is the inner function's.
            AggregateFunction::Filtered { inner, .. } => return Accumulator::empty(inner),
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

    pub(super) fn add(&mut self, value: Number) {
        match self {
            Accumulator::Count(count) => *count = count.wrapping_add(value.to_long()),
            Accumulator::Long(fold, slot) => {
                fold_into(*fold, slot, value.to_long(), i64::wrapping_add, i64::cmp)
            }
            Accumulator::Double(fold, slot) => fold_into(
                *fold,
                slot,
                value.to_double(),
                |a, b| a + b,
                |a, b| a.total_cmp(b),
            ),
            Accumulator::Float(fold, slot) => fold_into(
                *fold,
                slot,
                value.to_float(),
                |a, b| a + b,
                |a, b| a.total_cmp(b),
            ),
        }
    }

    /// Folds in another group's accumulator of the same aggregation.
    pub(super) fn merge(&mut self, other: &Accumulator) {
        match other {
            Accumulator::Count(count) => self.add(Number::Long(*count)),
            Accumulator::Long(_, Some(value)) => self.add(Number::Long(*value)),
            Accumulator::Double(_, Some(value)) => self.add(Number::Double(*value)),
            // Widening an f32 to f64 and narrowing it back is exact.
            Accumulator::Float(_, Some(value)) => self.add(Number::Double(f64::from(*value))),
            Accumulator::Long(_, None)
            | Accumulator::Double(_, None)
            | Accumulator::Float(_, None) => {}
        }
    }

    pub(super) fn result(&self) -> ResultValue {
        match *self {
            Accumulator::Count(count) => ResultValue::Long(count),
            Accumulator::Long(_, value) => value.map_or(ResultValue::Null, ResultValue::Long),
            Accumulator::Double(_, value) => value.map_or(ResultValue::Null, ResultValue::Double),
            Accumulator::Float(_, value) => value.map_or(ResultValue::Null, |value| {
                ResultValue::Double(f64::from(value))
            }),
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
