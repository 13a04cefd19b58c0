//! Rollup aggregators: the metric columns of a rolled-up row.
//!
//! With `rollup: true`, every event that falls in the same truncated time and
//! has the same values for the rollup dimensions merges into one row of the
//! rollup table (DESIGN.md, "Tables inside a segment"). The dimensions are the
//! row's key; the metrics of the datasource's `metricsSpec` are its values,
//! and each of them is an *aggregator state*: a running count, sum, minimum,
//! first value, distinct-count sketch... that can take one more event
//! ([`AggregatorState::add`]) and absorb another state of the same metric
//! ([`AggregatorState::merge`]) — two rolled-up rows of the same key meeting in
//! the real-time index, in a persist, or in compaction.
//!
//! ```text
//! event {t: 12:00:07, host: a, bytes: 10} ─┐
//! event {t: 12:00:31, host: a, bytes: 5}  ─┼─> row (12:00, host a): count 3, bytes 17
//! event {t: 12:00:52, host: a, bytes: 2}  ─┘
//! ```
//!
//! Merging is what makes rollup work at every scale: for every aggregator,
//! aggregating a run of events in pieces and merging the pieces in arrival
//! order equals aggregating the whole run — exactly for the numeric ones,
//! within the sketch's error for the sketches.
//!
//! Where to go next:
//! - [`MetricInput`] and the coercion rules for mismatched inputs: [`input`];
//! - sum, min, max, first and last, nulls and overflow: [`simple`];
//! - distinct counts (`HLLSketchBuild`) and how values are hashed: [`distinct`];
//! - quantiles (`quantilesDoublesSketch`) on KLL: [`quantiles`];
//! - what each metric stores in the rollup table: [`cell`];
//! - all the metrics of one row at once: [`RollupRow`], built by
//!   [`Aggregators`].
//!
//! # The events table
//!
//! The events table keeps, for every metric that reads a field, the raw input
//! it was given ([`raw_input_column_kind`], [`raw_input_cell`]): the coerced
//! long or double for numeric metrics and quantiles, the [`DistinctKey`] text
//! for HLL metrics, so a metric recomputed from the events table at query time
//! sees exactly the values the rollup saw. `count` has no column there: each
//! events-table row is one event.

pub mod cell;
pub mod distinct;
mod error;
pub mod input;
pub mod quantiles;
mod row;
pub mod simple;

#[cfg(test)]
mod tests;

use std::fmt::Write as _;

use datasketches::hll::HllSketch;
use strata_storage::segment::{CellValue, ColumnKind};
use strata_storage::spec::{Aggregator, NumericType};
use strata_storage::time::Millis;

pub use cell::{MetricCell, TIMED_BYTES, Timed};
pub use distinct::{DistinctKey, distinct_key};
pub use error::{
    CellError, IgnoredInput, InputCountMismatch, InputProblem, MergeError, RowCellsError,
};
pub use input::MetricInput;
pub use quantiles::{DoublesSketch, QuantilesView, kll_k};
pub use row::{Aggregators, RollupRow};

use cell::cell_kind_name;
use distinct::HllState;
use input::{coerce_double, coerce_long};
use quantiles::QuantilesState;
use simple::{Fold, Operation};

/// The complex type name of `HLLSketchBuild` columns.
pub const HLL_SKETCH_TYPE: &str = "HLLSketch";
/// The complex type name of `quantilesDoublesSketch` columns.
pub const QUANTILES_SKETCH_TYPE: &str = "quantilesDoublesSketch";
/// The complex type name of `longFirst` / `longLast` columns.
pub const LONG_PAIR_TYPE: &str = "serializablePairLongLong";
/// The complex type name of `doubleFirst` / `doubleLast` columns.
pub const DOUBLE_PAIR_TYPE: &str = "serializablePairLongDouble";

fn complex(type_name: &str) -> ColumnKind {
    ColumnKind::Complex {
        type_name: type_name.to_owned(),
    }
}

/// How a metric's column is stored in the rollup table (see [`cell`]).
pub fn column_kind(aggregator: &Aggregator) -> ColumnKind {
    match aggregator {
        Aggregator::Count => ColumnKind::Long,
        Aggregator::Sum { value_type, .. }
        | Aggregator::Min { value_type, .. }
        | Aggregator::Max { value_type, .. } => match value_type {
            NumericType::Long => ColumnKind::Long,
            NumericType::Double => ColumnKind::Double,
        },
        Aggregator::First { value_type, .. } | Aggregator::Last { value_type, .. } => {
            match value_type {
                NumericType::Long => complex(LONG_PAIR_TYPE),
                NumericType::Double => complex(DOUBLE_PAIR_TYPE),
            }
        }
        Aggregator::HllSketch { .. } => complex(HLL_SKETCH_TYPE),
        Aggregator::QuantilesSketch { .. } => complex(QUANTILES_SKETCH_TYPE),
    }
}

/// How the events table stores a metric's raw input; `None` for `count`,
/// which reads no field.
pub fn raw_input_column_kind(aggregator: &Aggregator) -> Option<ColumnKind> {
    match aggregator {
        Aggregator::Count => None,
        Aggregator::Sum { value_type, .. }
        | Aggregator::Min { value_type, .. }
        | Aggregator::Max { value_type, .. }
        | Aggregator::First { value_type, .. }
        | Aggregator::Last { value_type, .. } => Some(match value_type {
            NumericType::Long => ColumnKind::Long,
            NumericType::Double => ColumnKind::Double,
        }),
        Aggregator::HllSketch { .. } => Some(ColumnKind::String { multi_value: false }),
        Aggregator::QuantilesSketch { .. } => Some(ColumnKind::Double),
    }
}

/// The events-table cell for a metric's raw input: the value the metric
/// aggregates, coerced the same way (a number's [`DistinctKey`] text for HLL
/// metrics, written into `text`). An input the metric ignores gets the same
/// [`InputProblem`], and should be stored as null.
pub fn raw_input_cell<'a>(
    aggregator: &Aggregator,
    input: MetricInput<'a>,
    text: &'a mut String,
) -> Result<CellValue<'a>, InputProblem> {
    let name = aggregator.druid_type();
    let numeric_type = match aggregator {
        Aggregator::Count => return Ok(CellValue::Null),
        Aggregator::HllSketch { .. } => {
            return Ok(match (input, distinct_key(input)) {
                (_, None) => CellValue::Null,
                (MetricInput::Str(value), Some(_)) => CellValue::Str(value),
                (_, Some(key)) => {
                    text.clear();
                    // Writing to a `String` cannot fail.
                    let _ = write!(text, "{key}");
                    CellValue::Str(text)
                }
            });
        }
        Aggregator::QuantilesSketch { .. } => NumericType::Double,
        Aggregator::Sum { value_type, .. }
        | Aggregator::Min { value_type, .. }
        | Aggregator::Max { value_type, .. }
        | Aggregator::First { value_type, .. }
        | Aggregator::Last { value_type, .. } => *value_type,
    };
    Ok(match numeric_type {
        NumericType::Long => coerce_long(input, name)?.map_or(CellValue::Null, CellValue::Long),
        NumericType::Double => {
            coerce_double(input, name)?.map_or(CellValue::Null, CellValue::Double)
        }
    })
}

/// The aggregated state of one metric in one rolled-up row.
///
/// Numeric states live inline (no allocation); sketches are boxed, so a row of
/// states is a flat array of small values.
#[derive(Debug, Clone, PartialEq)]
pub struct AggregatorState(State);

#[derive(Debug, Clone, PartialEq)]
enum State {
    /// The number of events; wraps on overflow like a long sum.
    Count(i64),
    Long(Fold<i64>),
    Double(Fold<f64>),
    Hll(Box<HllState>),
    Quantiles(Box<QuantilesState>),
}

/// A read-only look at a state, for queries over rows still in memory.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StateView<'a> {
    Count(i64),
    /// `longSum`, `longMin`, `longMax`: `None` until a non-null input.
    Long(Option<i64>),
    /// `doubleSum`, `doubleMin`, `doubleMax`: `None` until a non-null input.
    Double(Option<f64>),
    /// `longFirst`, `longLast`.
    LongPair(Option<Timed<i64>>),
    /// `doubleFirst`, `doubleLast`.
    DoublePair(Option<Timed<f64>>),
    Hll(&'a HllSketch),
    Quantiles(QuantilesView<'a>),
}

/// The empty state of a simple aggregator.
fn empty_fold(operation: Operation, value_type: NumericType) -> State {
    match value_type {
        NumericType::Long => State::Long(Fold::new(operation)),
        NumericType::Double => State::Double(Fold::new(operation)),
    }
}

/// A simple aggregator's state from its stored cell.
fn fold_from_cell(
    operation: Operation,
    value_type: NumericType,
    cell: &CellValue<'_>,
    aggregator: &'static str,
) -> Result<State, CellError> {
    Ok(match value_type {
        NumericType::Long => State::Long(Fold::from_cell(operation, cell, aggregator)?),
        NumericType::Double => State::Double(Fold::from_cell(operation, cell, aggregator)?),
    })
}

fn fold_druid_type<T>(fold: &Fold<T>, value_type: NumericType) -> &'static str {
    use NumericType::{Double, Long};
    match (fold, value_type) {
        (Fold::Sum(_), Long) => "longSum",
        (Fold::Sum(_), Double) => "doubleSum",
        (Fold::Min(_), Long) => "longMin",
        (Fold::Min(_), Double) => "doubleMin",
        (Fold::Max(_), Long) => "longMax",
        (Fold::Max(_), Double) => "doubleMax",
        (Fold::First(_), Long) => "longFirst",
        (Fold::First(_), Double) => "doubleFirst",
        (Fold::Last(_), Long) => "longLast",
        (Fold::Last(_), Double) => "doubleLast",
    }
}

impl AggregatorState {
    /// The empty state of `aggregator`: zero for `count`, null for the simple
    /// aggregators, an empty sketch for the sketches.
    pub fn new(aggregator: &Aggregator) -> Self {
        AggregatorState(match aggregator {
            Aggregator::Count => State::Count(0),
            Aggregator::Sum { value_type, .. } => empty_fold(Operation::Sum, *value_type),
            Aggregator::Min { value_type, .. } => empty_fold(Operation::Min, *value_type),
            Aggregator::Max { value_type, .. } => empty_fold(Operation::Max, *value_type),
            Aggregator::First { value_type, .. } => empty_fold(Operation::First, *value_type),
            Aggregator::Last { value_type, .. } => empty_fold(Operation::Last, *value_type),
            Aggregator::HllSketch {
                lg_k, target_type, ..
            } => State::Hll(Box::new(HllState::new(*lg_k, *target_type))),
            Aggregator::QuantilesSketch { k, .. } => {
                State::Quantiles(Box::new(QuantilesState::new(*k)))
            }
        })
    }

    /// Druid's name of the aggregator: `count`, `longSum`, `HLLSketchBuild`...
    pub fn druid_type(&self) -> &'static str {
        match &self.0 {
            State::Count(_) => "count",
            State::Long(fold) => fold_druid_type(fold, NumericType::Long),
            State::Double(fold) => fold_druid_type(fold, NumericType::Double),
            State::Hll(_) => "HLLSketchBuild",
            State::Quantiles(_) => "quantilesDoublesSketch",
        }
    }

    /// Aggregates one event's input; `event_time` is the event's own time
    /// (not truncated), which first/last compare.
    ///
    /// An `Err` means the value was left out of this metric (see [`input`]);
    /// the state is unchanged and the event still counts everywhere else.
    pub fn add(&mut self, input: MetricInput<'_>, event_time: Millis) -> Result<(), InputProblem> {
        let name = self.druid_type();
        match &mut self.0 {
            State::Count(count) => {
                *count = count.wrapping_add(1);
                Ok(())
            }
            State::Long(fold) => fold.add(input, event_time, name),
            State::Double(fold) => fold.add(input, event_time, name),
            State::Hll(hll) => {
                distinct::add(hll, input);
                Ok(())
            }
            State::Quantiles(quantiles) => quantiles::add(quantiles, input, name),
        }
    }

    /// Absorbs `later`, the state of the same metric over events that arrived
    /// after this one's (the order only matters to first/last ties).
    pub fn merge(&mut self, later: &AggregatorState) -> Result<(), MergeError> {
        let this = self.druid_type();
        let mismatch = || MergeError::Mismatch {
            this,
            other: later.druid_type(),
        };
        match (&mut self.0, &later.0) {
            (State::Count(count), State::Count(other)) => {
                *count = count.wrapping_add(*other);
                Ok(())
            }
            (State::Long(fold), State::Long(other)) => {
                fold.merge(other).then_some(()).ok_or_else(mismatch)
            }
            (State::Double(fold), State::Double(other)) => {
                fold.merge(other).then_some(()).ok_or_else(mismatch)
            }
            (State::Hll(hll), State::Hll(other)) => {
                hll.merge(other);
                Ok(())
            }
            (State::Quantiles(quantiles), State::Quantiles(other)) => {
                quantiles.merge(other).map_err(|detail| MergeError::Sketch {
                    aggregator: this,
                    detail,
                })
            }
            _ => Err(mismatch()),
        }
    }

    /// The value to store in the metric's rollup-table column (see [`cell`]).
    pub fn to_cell(&self) -> MetricCell {
        match &self.0 {
            State::Count(count) => MetricCell::Long(*count),
            State::Long(fold) => fold.to_cell(),
            State::Double(fold) => fold.to_cell(),
            State::Hll(hll) => MetricCell::Sketch(hll.to_bytes()),
            State::Quantiles(quantiles) => MetricCell::Sketch(quantiles.to_bytes()),
        }
    }

    /// The state a stored rollup-table cell holds, so that a persisted row can
    /// be merged again. The inverse of [`to_cell`](Self::to_cell). A null cell
    /// is the empty state, whatever the aggregator: that is also how rows
    /// written before the metric was added to the spec read.
    pub fn from_cell(aggregator: &Aggregator, cell: &CellValue<'_>) -> Result<Self, CellError> {
        if matches!(cell, CellValue::Null) {
            return Ok(AggregatorState::new(aggregator));
        }
        let name = aggregator.druid_type();
        let wrong_kind = |expected| CellError::WrongKind {
            aggregator: name,
            expected,
            found: cell_kind_name(cell),
        };
        let corrupt = |error: strata_storage::metric_cell::CorruptSketch| CellError::Corrupt {
            aggregator: name,
            detail: error.to_string(),
        };
        let state = match aggregator {
            Aggregator::Count => match cell {
                CellValue::Long(count) => State::Count(*count),
                _ => return Err(wrong_kind("a long")),
            },
            Aggregator::Sum { value_type, .. } => {
                fold_from_cell(Operation::Sum, *value_type, cell, name)?
            }
            Aggregator::Min { value_type, .. } => {
                fold_from_cell(Operation::Min, *value_type, cell, name)?
            }
            Aggregator::Max { value_type, .. } => {
                fold_from_cell(Operation::Max, *value_type, cell, name)?
            }
            Aggregator::First { value_type, .. } => {
                fold_from_cell(Operation::First, *value_type, cell, name)?
            }
            Aggregator::Last { value_type, .. } => {
                fold_from_cell(Operation::Last, *value_type, cell, name)?
            }
            Aggregator::HllSketch {
                lg_k, target_type, ..
            } => match cell {
                CellValue::Bytes(bytes) => State::Hll(Box::new(
                    HllState::from_bytes(*lg_k, *target_type, bytes).map_err(corrupt)?,
                )),
                _ => return Err(wrong_kind("a serialized HLL sketch")),
            },
            Aggregator::QuantilesSketch { .. } => match cell {
                CellValue::Bytes(bytes) => State::Quantiles(Box::new(
                    QuantilesState::from_bytes(bytes).map_err(corrupt)?,
                )),
                _ => return Err(wrong_kind("a serialized KLL sketch")),
            },
        };
        Ok(AggregatorState(state))
    }

    /// An estimate of the memory the state holds, inline and on the heap, for
    /// the real-time index's memory budget.
    pub fn approx_bytes(&self) -> usize {
        size_of::<AggregatorState>()
            + match &self.0 {
                State::Count(_) | State::Long(_) | State::Double(_) => 0,
                State::Hll(hll) => hll.heap_bytes(),
                State::Quantiles(quantiles) => quantiles.heap_bytes(),
            }
    }

    /// The state's current value, without serializing sketches.
    pub fn view(&self) -> StateView<'_> {
        match &self.0 {
            State::Count(count) => StateView::Count(*count),
            State::Long(Fold::Sum(acc) | Fold::Min(acc) | Fold::Max(acc)) => StateView::Long(*acc),
            State::Long(Fold::First(acc) | Fold::Last(acc)) => StateView::LongPair(*acc),
            State::Double(Fold::Sum(acc) | Fold::Min(acc) | Fold::Max(acc)) => {
                StateView::Double(*acc)
            }
            State::Double(Fold::First(acc) | Fold::Last(acc)) => StateView::DoublePair(*acc),
            State::Hll(hll) => StateView::Hll(hll.sketch()),
            State::Quantiles(quantiles) => StateView::Quantiles(quantiles.view()),
        }
    }
}
