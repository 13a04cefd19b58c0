//! The simple aggregators: sum, min, max, first and last of longs or doubles.
//!
//! Each keeps one number (first/last: a number and its event time) and
//! starts out null. Null inputs are skipped, so a row whose inputs were all
//! null stores null — Druid's SQL-compatible null handling.
//!
//! - **sum**: long sums wrap on overflow (two's complement), exactly as Java's
//!   `long` arithmetic in Druid does, so merging partial sums in any grouping
//!   gives the same result. Double sums are IEEE 754 additions: exact for
//!   values whose sums stay representable, otherwise they may differ in the
//!   last bits with the merge order, as in every engine.
//! - **min / max**: doubles are compared with `-0.0 < +0.0` (Java's
//!   `Math.min`), so the result does not depend on the order of equal zeros.
//!   NaN never gets here (see [`input`](super::input)).
//! - **first / last**: the value of the earliest (latest) event by event time.
//!   Ties go by arrival order, as in Druid: first keeps the value that arrived
//!   first, last takes the one that arrived last. A merge treats the state
//!   merged *in* as the later arrival, so aggregating consecutive runs of
//!   events and merging them in order equals aggregating all events at once.
//!   Unlike Druid's native `longFirst`, a null value is skipped rather than
//!   taken as the first one (the null handling above).

use strata_storage::segment::CellValue;
use strata_storage::time::Millis;

use super::cell::{MetricCell, Timed, cell_kind_name};
use super::error::{CellError, InputProblem};
use super::input::{MetricInput, coerce_double, coerce_long};

/// What a simple aggregator does with its numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Operation {
    Sum,
    Min,
    Max,
    First,
    Last,
}

/// The numbers a simple aggregator can hold: `i64` or `f64`.
pub(super) trait Numeric: Copy + PartialEq + std::fmt::Debug {
    /// What the column stores ("a long"), for error messages.
    const CELL_NAME: &'static str;

    fn coerce(
        input: MetricInput<'_>,
        aggregator: &'static str,
    ) -> Result<Option<Self>, InputProblem>;
    fn sum(self, other: Self) -> Self;
    /// Whether `self` sorts strictly before `other`.
    fn less(self, other: Self) -> bool;
    fn to_cell(self) -> MetricCell;
    /// The number in a stored cell; `None` for a cell of another kind.
    fn from_cell(cell: &CellValue<'_>) -> Option<Self>;
    fn pair_to_bytes(pair: Timed<Self>) -> MetricCell;
    fn pair_from_bytes(bytes: &[u8]) -> Option<Timed<Self>>;
}

impl Numeric for i64 {
    const CELL_NAME: &'static str = "a long";

    fn coerce(
        input: MetricInput<'_>,
        aggregator: &'static str,
    ) -> Result<Option<Self>, InputProblem> {
        coerce_long(input, aggregator)
    }

    fn sum(self, other: Self) -> Self {
        self.wrapping_add(other)
    }

    fn less(self, other: Self) -> bool {
        self < other
    }

    fn to_cell(self) -> MetricCell {
        MetricCell::Long(self)
    }

    fn from_cell(cell: &CellValue<'_>) -> Option<Self> {
        match cell {
            CellValue::Long(value) => Some(*value),
            _ => None,
        }
    }

    fn pair_to_bytes(pair: Timed<Self>) -> MetricCell {
        MetricCell::Pair(pair.to_bytes())
    }

    fn pair_from_bytes(bytes: &[u8]) -> Option<Timed<Self>> {
        Timed::<i64>::from_bytes(bytes)
    }
}

impl Numeric for f64 {
    const CELL_NAME: &'static str = "a double";

    fn coerce(
        input: MetricInput<'_>,
        aggregator: &'static str,
    ) -> Result<Option<Self>, InputProblem> {
        coerce_double(input, aggregator)
    }

    fn sum(self, other: Self) -> Self {
        self + other
    }

    fn less(self, other: Self) -> bool {
        self.total_cmp(&other).is_lt()
    }

    fn to_cell(self) -> MetricCell {
        MetricCell::Double(self)
    }

    fn from_cell(cell: &CellValue<'_>) -> Option<Self> {
        match cell {
            CellValue::Double(value) => Some(*value),
            // The writer accepts longs into double columns; so do we.
            CellValue::Long(value) => Some(*value as f64),
            _ => None,
        }
    }

    fn pair_to_bytes(pair: Timed<Self>) -> MetricCell {
        MetricCell::Pair(pair.to_bytes())
    }

    fn pair_from_bytes(bytes: &[u8]) -> Option<Timed<Self>> {
        Timed::<f64>::from_bytes(bytes)
    }
}

/// The state of one simple aggregator: the operation and what it has
/// accumulated so far (`None` until a non-null input arrives).
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Fold<T> {
    Sum(Option<T>),
    Min(Option<T>),
    Max(Option<T>),
    First(Option<Timed<T>>),
    Last(Option<Timed<T>>),
}

/// Combines `value` into `acc` with `op`, starting from `value` if `acc` is
/// null.
fn combine<T: Copy>(acc: &mut Option<T>, value: T, op: impl FnOnce(T, T) -> T) {
    *acc = Some(match *acc {
        Some(current) => op(current, value),
        None => value,
    });
}

/// Keeps the earlier of `acc` and `later_arrival`; on equal times, `acc`.
fn keep_first<T: Copy>(acc: &mut Option<Timed<T>>, later_arrival: Timed<T>) {
    if acc.is_none_or(|current| later_arrival.time < current.time) {
        *acc = Some(later_arrival);
    }
}

/// Keeps the later of `acc` and `later_arrival`; on equal times,
/// `later_arrival`.
fn keep_last<T: Copy>(acc: &mut Option<Timed<T>>, later_arrival: Timed<T>) {
    if acc.is_none_or(|current| later_arrival.time >= current.time) {
        *acc = Some(later_arrival);
    }
}

impl<T: Numeric> Fold<T> {
    pub(super) fn new(operation: Operation) -> Self {
        match operation {
            Operation::Sum => Fold::Sum(None),
            Operation::Min => Fold::Min(None),
            Operation::Max => Fold::Max(None),
            Operation::First => Fold::First(None),
            Operation::Last => Fold::Last(None),
        }
    }

    /// Folds in one event's input.
    pub(super) fn add(
        &mut self,
        input: MetricInput<'_>,
        event_time: Millis,
        aggregator: &'static str,
    ) -> Result<(), InputProblem> {
        let Some(value) = T::coerce(input, aggregator)? else {
            return Ok(());
        };
        self.fold(value, event_time);
        Ok(())
    }

    fn fold(&mut self, value: T, time: Millis) {
        match self {
            Fold::Sum(acc) => combine(acc, value, T::sum),
            Fold::Min(acc) => combine(acc, value, min_of),
            Fold::Max(acc) => combine(acc, value, max_of),
            Fold::First(acc) => keep_first(acc, Timed { time, value }),
            Fold::Last(acc) => keep_last(acc, Timed { time, value }),
        }
    }

    /// Folds in `later`, a state of the same operation over events that
    /// arrived after this state's. `false` if the operations differ.
    pub(super) fn merge(&mut self, later: &Self) -> bool {
        match (self, later) {
            (Fold::Sum(acc), Fold::Sum(other)) => {
                if let Some(value) = *other {
                    combine(acc, value, T::sum);
                }
            }
            (Fold::Min(acc), Fold::Min(other)) => {
                if let Some(value) = *other {
                    combine(acc, value, min_of);
                }
            }
            (Fold::Max(acc), Fold::Max(other)) => {
                if let Some(value) = *other {
                    combine(acc, value, max_of);
                }
            }
            (Fold::First(acc), Fold::First(other)) => {
                if let Some(pair) = *other {
                    keep_first(acc, pair);
                }
            }
            (Fold::Last(acc), Fold::Last(other)) => {
                if let Some(pair) = *other {
                    keep_last(acc, pair);
                }
            }
            _ => return false,
        }
        true
    }

    /// The rollup-table cell (see [`cell`](super::cell)).
    pub(super) fn to_cell(&self) -> MetricCell {
        match self {
            Fold::Sum(acc) | Fold::Min(acc) | Fold::Max(acc) => {
                acc.map_or(MetricCell::Null, T::to_cell)
            }
            Fold::First(acc) | Fold::Last(acc) => acc.map_or(MetricCell::Null, T::pair_to_bytes),
        }
    }

    /// The state a stored cell holds, for `operation`.
    pub(super) fn from_cell(
        operation: Operation,
        cell: &CellValue<'_>,
        aggregator: &'static str,
    ) -> Result<Self, CellError> {
        let mut state = Fold::new(operation);
        if matches!(cell, CellValue::Null) {
            return Ok(state);
        }
        let wrong_kind = |expected| CellError::WrongKind {
            aggregator,
            expected,
            found: cell_kind_name(cell),
        };
        match &mut state {
            Fold::Sum(acc) | Fold::Min(acc) | Fold::Max(acc) => {
                *acc = Some(T::from_cell(cell).ok_or_else(|| wrong_kind(T::CELL_NAME))?);
            }
            Fold::First(acc) | Fold::Last(acc) => {
                let CellValue::Bytes(bytes) = cell else {
                    return Err(wrong_kind("a 16-byte (time, value) pair"));
                };
                *acc = Some(T::pair_from_bytes(bytes).ok_or_else(|| CellError::Corrupt {
                    aggregator,
                    detail: format!(
                        "a (time, value) pair is 16 bytes, this one is {}",
                        bytes.len()
                    ),
                })?);
            }
        }
        Ok(state)
    }
}

fn min_of<T: Numeric>(a: T, b: T) -> T {
    if b.less(a) { b } else { a }
}

fn max_of<T: Numeric>(a: T, b: T) -> T {
    if a.less(b) { b } else { a }
}
