//! Column folds: counts, sums, minima and maxima folded a whole column at a
//! time, in typed loops.
//!
//! The general fold (`Accumulator::add` over `Input::value`) decides per row
//! what kind of input and accumulator it holds — right for every
//! aggregation, but most of a simple aggregation's time goes to those
//! decisions. The aggregations dashboards ask most — a count, a sum, a
//! minimum or a maximum of a long or double column — are decided once per
//! table here instead: the input's numbers are folded straight into one
//! plain number per group slot, and each slot's result is then merged into
//! its accumulator as a partial result, which `Accumulator::merge` adds
//! exactly as it would have added the rows one by one (a long sum wraps, a
//! long fold truncates doubles, minima and maxima compare doubles by total
//! order, nulls are skipped).
//!
//! First and last of a long or double column, in the long or double kind,
//! are column folds too: each slot keeps its pick and its time, replaced by
//! the pick rule (`Pick::replaces`) row by row in row order, which is the
//! general fold's order.
//!
//! Quantiles of a long or double column are a column fold too: each value
//! goes straight into its slot's quantiles state, which keeps it (exactly,
//! up to its cap).
//!
//! Anything else — 32-bit floats, strings, HLL sketches, stored quantiles
//! sketches — takes the general fold.

use std::ops::Range;

use strata_storage::metric_cell::Timed;
use strata_storage::time::Millis;

use super::fold::{Accumulator, Fold, Pick, Picked};
use super::input::{Column, Input};
use crate::plan::ValueKind;

/// What a column fold computes, when it can compute an aggregation.
#[derive(Debug, Clone, Copy)]
enum ColumnFold {
    Count,
    Long(Fold),
    Double(Fold),
    /// First or last, picked as a long (`true`) or a double.
    Pick(Pick, bool),
}

impl ColumnFold {
    fn of(accumulator: &Accumulator) -> Option<Self> {
        match accumulator {
            Accumulator::Count(_) => Some(ColumnFold::Count),
            Accumulator::Long(fold, _) => Some(ColumnFold::Long(*fold)),
            Accumulator::Double(fold, _) => Some(ColumnFold::Double(*fold)),
            Accumulator::Pick {
                pick,
                kind: ValueKind::Long,
                ..
            } => Some(ColumnFold::Pick(*pick, true)),
            Accumulator::Pick {
                pick,
                kind: ValueKind::Double,
                ..
            } => Some(ColumnFold::Pick(*pick, false)),
            _ => None,
        }
    }
}

/// The rows one aggregation folds: parallel lists of rows and their group
/// slots, and, for a filtered aggregation, which rows pass its filters.
pub(super) struct FoldRows<'a> {
    /// `None`: every row of the run, in order, one per slot.
    pub(super) rows: Option<&'a [u32]>,
    pub(super) slots: &'a [u32],
    pub(super) passing: Option<&'a [bool]>,
    /// Whether the slots come in long runs of one slot (see
    /// [`FoldRows::for_each_run`]).
    long_runs: bool,
}

/// Slots whose runs of one slot are this long on average are folded a run
/// at a time; shorter ones a row at a time, which costs less per row.
const LONG_RUN: usize = 16;

impl<'a> FoldRows<'a> {
    pub(super) fn new(
        rows: Option<&'a [u32]>,
        slots: &'a [u32],
        passing: Option<&'a [bool]>,
    ) -> Self {
        let long_runs = rows.is_none() && {
            let changes = slots.windows(2).filter(|pair| pair[0] != pair[1]).count();
            (changes + 1) * LONG_RUN <= slots.len()
        };
        FoldRows {
            rows,
            slots,
            passing,
            long_runs,
        }
        .passing(passing)
    }

    /// The same rows and slots, of which only those `passing` flags are
    /// folded (all, with `None`): what the slots' runs are is found once
    /// for all the aggregations of a run.
    pub(super) fn passing(&self, passing: Option<&'a [bool]>) -> Self {
        FoldRows {
            rows: self.rows,
            slots: self.slots,
            passing,
            long_runs: self.long_runs && passing.is_none(),
        }
    }
}

impl FoldRows<'_> {
    /// Calls `each` with runs of consecutive rows that pass and share a
    /// slot, and that slot: long runs when every row of a run is read and
    /// slots repeat (buckets of a time series), single rows otherwise.
    #[inline]
    pub(super) fn for_each_run(&self, mut each: impl FnMut(Range<usize>, usize)) {
        if !self.long_runs {
            return self.for_each(|row, slot| each(row..row + 1, slot));
        }
        let mut start = 0;
        for run in self.slots.chunk_by(|a, b| a == b) {
            if let Some(&slot) = run.first() {
                each(start..start + run.len(), slot as usize);
            }
            start += run.len();
        }
    }

    /// Calls `each` with the row and slot of every pair that passes.
    #[inline]
    pub(super) fn for_each(&self, mut each: impl FnMut(usize, usize)) {
        match (self.rows, self.passing) {
            (None, None) => {
                for (row, &slot) in self.slots.iter().enumerate() {
                    each(row, slot as usize);
                }
            }
            (None, Some(passing)) => {
                for ((row, &slot), &passes) in self.slots.iter().enumerate().zip(passing) {
                    if passes {
                        each(row, slot as usize);
                    }
                }
            }
            (Some(rows), None) => {
                for (&row, &slot) in rows.iter().zip(self.slots) {
                    each(row as usize, slot as usize);
                }
            }
            (Some(rows), Some(passing)) => {
                for (&row, &slot) in rows.iter().zip(self.slots) {
                    if passing.get(row as usize).copied().unwrap_or(false) {
                        each(row as usize, slot as usize);
                    }
                }
            }
        }
    }
}

/// Folds `input` over `rows` into `accumulators` (one per slot, each
/// `stride` apart from the next) when a column fold can; `false` leaves
/// them for the general fold.
pub(super) fn fold_column(
    input: &Input,
    rows: &FoldRows<'_>,
    accumulators: &mut [Accumulator],
    stride: usize,
    slot_count: usize,
) -> bool {
    if let Some(Accumulator::Quantiles(_)) = accumulators.first() {
        return visit_numbers(
            input,
            FoldQuantiles {
                rows,
                accumulators,
                stride,
            },
        )
        .is_some();
    }
    let Some(fold_kind) = accumulators.first().and_then(ColumnFold::of) else {
        return false;
    };
    match (fold_kind, input) {
        (ColumnFold::Count, Input::Ones) => {
            let mut counts = vec![0i64; slot_count];
            rows.for_each(|_, slot| {
                if let Some(count) = counts.get_mut(slot) {
                    *count += 1;
                }
            });
            merge_counts(&counts, accumulators, stride);
        }
        (ColumnFold::Count, Input::Long(values)) => {
            count_sum(rows, values.as_slice(), slot_count, accumulators, stride)
        }
        (ColumnFold::Count, Input::FullLong(values)) => {
            count_sum(rows, values.as_slice(), slot_count, accumulators, stride)
        }
        (ColumnFold::Long(fold) | ColumnFold::Double(fold), _) => {
            let folder = FoldNumbers {
                rows,
                fold,
                as_long: matches!(fold_kind, ColumnFold::Long(_)),
                slot_count,
                accumulators,
                stride,
            };
            if visit_numbers(input, folder).is_none() {
                return false;
            }
        }
        (ColumnFold::Pick(pick, as_long), Input::Timed { times, column }) => {
            let picked = match column {
                Column::Long(values) => pick_numbers(rows, times, values, slot_count, pick, |v| {
                    if as_long {
                        Picked::Long(v)
                    } else {
                        Picked::Double(v as f64)
                    }
                }),
                Column::Double(values) => {
                    pick_numbers(rows, times, values, slot_count, pick, |v| {
                        // Druid's `(long)` cast: toward zero, saturating.
                        if as_long {
                            Picked::Long(v as i64)
                        } else {
                            Picked::Double(v)
                        }
                    })
                }
                _ => return false,
            };
            for (picked, accumulator) in picked
                .into_iter()
                .zip(accumulators.iter_mut().step_by(stride))
            {
                if let Some(picked) = picked {
                    accumulator.merge(&Accumulator::Pick {
                        pick,
                        kind: if as_long {
                            ValueKind::Long
                        } else {
                            ValueKind::Double
                        },
                        picked: Some(picked),
                    });
                }
            }
        }
        _ => return false,
    }
    true
}

/// Each slot's pick among the non-null values of its rows, with its time.
fn pick_numbers<V: Copy>(
    rows: &FoldRows<'_>,
    times: &[Millis],
    values: &[Option<V>],
    slot_count: usize,
    pick: Pick,
    convert: impl Fn(V) -> Picked,
) -> Vec<Option<Timed<Picked>>> {
    let mut best: Vec<Option<(Millis, V)>> = vec![None; slot_count];
    rows.for_each(|row, slot| {
        if let (Some(Some(value)), Some(&time), Some(current)) =
            (values.get(row), times.get(row), best.get_mut(slot))
            && current.is_none_or(|(at, _)| pick.replaces(time, at))
        {
            *current = Some((time, *value));
        }
    });
    best.into_iter()
        .map(|best| {
            best.map(|(time, value)| Timed {
                time,
                value: convert(value),
            })
        })
        .collect()
}

/// A column's cells: values that may be null, or values every row holds.
trait Cells<V> {
    fn cell(&self, row: usize) -> Option<V>;

    /// `init` folded with the non-null values of `rows`, in row order.
    #[inline]
    fn fold_rows<T: Copy>(
        &self,
        rows: Range<usize>,
        init: Option<T>,
        convert: &impl Fn(V) -> T,
        combine: &impl Fn(T, T) -> T,
    ) -> Option<T> {
        rows.fold(init, |folded, row| match self.cell(row) {
            Some(value) => Some(combine_with(folded, convert(value), combine)),
            None => folded,
        })
    }
}

impl<V: Copy> Cells<V> for [Option<V>] {
    #[inline]
    fn cell(&self, row: usize) -> Option<V> {
        self.get(row).copied().flatten()
    }
}

impl<V: Copy> Cells<V> for [V] {
    #[inline]
    fn cell(&self, row: usize) -> Option<V> {
        self.get(row).copied()
    }

    #[inline]
    fn fold_rows<T: Copy>(
        &self,
        rows: Range<usize>,
        init: Option<T>,
        convert: &impl Fn(V) -> T,
        combine: &impl Fn(T, T) -> T,
    ) -> Option<T> {
        let values = self.get(rows).unwrap_or_default();
        let Some((first, rest)) = values.split_first() else {
            return init;
        };
        let first = combine_with(init, convert(*first), combine);
        Some(
            rest.iter()
                .fold(first, |folded, &value| combine(folded, convert(value))),
        )
    }
}

#[inline]
fn combine_with<T>(folded: Option<T>, value: T, combine: &impl Fn(T, T) -> T) -> T {
    match folded {
        Some(folded) => combine(folded, value),
        None => value,
    }
}

/// Sums a count metric's cells into each slot's count.
fn count_sum<C: Cells<i64> + ?Sized>(
    rows: &FoldRows<'_>,
    values: &C,
    slot_count: usize,
    accumulators: &mut [Accumulator],
    stride: usize,
) {
    let counts = fold_numbers(rows, values, slot_count, |value| value, i64::wrapping_add);
    let counts: Vec<i64> = counts.into_iter().map(Option::unwrap_or_default).collect();
    merge_counts(&counts, accumulators, stride);
}

/// A long or double, as the folds convert it.
trait Number: Copy {
    /// Druid's `(long)` cast of a double: toward zero, saturating.
    fn to_long(self) -> i64;
    fn to_double(self) -> f64;
}

impl Number for i64 {
    #[inline]
    fn to_long(self) -> i64 {
        self
    }

    #[inline]
    fn to_double(self) -> f64 {
        self as f64
    }
}

impl Number for f64 {
    #[inline]
    fn to_long(self) -> i64 {
        self as i64
    }

    #[inline]
    fn to_double(self) -> f64 {
        self
    }
}

/// A fold of a column of numbers, whichever of the four forms it is read
/// in (longs or doubles, with or without nulls): one loop is made for each.
trait NumberFold {
    fn fold<V: Number, C: Cells<V> + ?Sized>(self, values: &C);
}

/// Hands `input`'s numbers to `fold`; `None` when `input` is not a column
/// of numbers.
fn visit_numbers(input: &Input, fold: impl NumberFold) -> Option<()> {
    match input {
        Input::Long(values) => fold.fold::<i64, _>(values.as_slice()),
        Input::FullLong(values) => fold.fold::<i64, _>(values.as_slice()),
        Input::Double(values) => fold.fold::<f64, _>(values.as_slice()),
        Input::FullDouble(values) => fold.fold::<f64, _>(values.as_slice()),
        _ => return None,
    }
    Some(())
}

/// A sum, minimum or maximum, in the long or the double kind.
struct FoldNumbers<'r, 'a> {
    rows: &'r FoldRows<'r>,
    fold: Fold,
    as_long: bool,
    slot_count: usize,
    accumulators: &'a mut [Accumulator],
    stride: usize,
}

impl NumberFold for FoldNumbers<'_, '_> {
    fn fold<V: Number, C: Cells<V> + ?Sized>(self, values: &C) {
        let FoldNumbers {
            rows,
            fold,
            as_long,
            slot_count,
            accumulators,
            stride,
        } = self;
        // Each operation gets a loop of its own, rather than one loop
        // calling the operation through a pointer for every value.
        if as_long {
            let folded = match fold {
                Fold::Sum => fold_numbers(rows, values, slot_count, V::to_long, i64::wrapping_add),
                Fold::Min => fold_numbers(rows, values, slot_count, V::to_long, std::cmp::min),
                Fold::Max => fold_numbers(rows, values, slot_count, V::to_long, std::cmp::max),
            };
            merge_partials(&folded, accumulators, stride, |value| {
                Accumulator::Long(fold, Some(value))
            });
        } else {
            let folded = match fold {
                Fold::Sum => fold_numbers(rows, values, slot_count, V::to_double, |a, b| a + b),
                // Total order, as the general fold compares: -0.0 below
                // 0.0, NaN above everything.
                Fold::Min => fold_numbers(rows, values, slot_count, V::to_double, |a: f64, b| {
                    if b.total_cmp(&a).is_lt() { b } else { a }
                }),
                Fold::Max => fold_numbers(rows, values, slot_count, V::to_double, |a: f64, b| {
                    if b.total_cmp(&a).is_gt() { b } else { a }
                }),
            };
            merge_partials(&folded, accumulators, stride, |value| {
                Accumulator::Double(fold, Some(value))
            });
        }
    }
}

/// Each row's number added to its slot's quantiles state.
struct FoldQuantiles<'r, 'a> {
    rows: &'r FoldRows<'r>,
    accumulators: &'a mut [Accumulator],
    stride: usize,
}

impl NumberFold for FoldQuantiles<'_, '_> {
    fn fold<V: Number, C: Cells<V> + ?Sized>(self, values: &C) {
        self.rows.for_each(|row, slot| {
            if let (Some(value), Some(Accumulator::Quantiles(state))) = (
                values.cell(row),
                self.accumulators.get_mut(slot * self.stride),
            ) {
                // NaN has no rank and is left out, as the general fold does.
                let _ = state.add(value.to_double());
            }
        });
    }
}

/// Each slot's fold of the non-null values of its rows; `None` for a slot
/// none of whose rows held a value. A run of rows of one slot (a time
/// series reads whole buckets of consecutive rows) is folded in one pass
/// over its values before the slot is touched.
#[inline]
fn fold_numbers<V, T: Copy, C: Cells<V> + ?Sized>(
    rows: &FoldRows<'_>,
    values: &C,
    slot_count: usize,
    convert: impl Fn(V) -> T,
    combine: impl Fn(T, T) -> T,
) -> Vec<Option<T>> {
    let mut folded: Vec<Option<T>> = vec![None; slot_count];
    rows.for_each_run(|run, slot| {
        if let Some(current) = folded.get_mut(slot) {
            *current = values.fold_rows(run, *current, &convert, &combine);
        }
    });
    folded
}

fn merge_counts(counts: &[i64], accumulators: &mut [Accumulator], stride: usize) {
    for (count, accumulator) in counts.iter().zip(accumulators.iter_mut().step_by(stride)) {
        accumulator.merge(&Accumulator::Count(*count));
    }
}

fn merge_partials<T: Copy>(
    folded: &[Option<T>],
    accumulators: &mut [Accumulator],
    stride: usize,
    partial: impl Fn(T) -> Accumulator,
) {
    for (value, accumulator) in folded.iter().zip(accumulators.iter_mut().step_by(stride)) {
        if let Some(value) = value {
            accumulator.merge(&partial(*value));
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::plan::{AggregateFunction, NumberType};

    fn functions() -> Vec<AggregateFunction> {
        let mut functions = vec![AggregateFunction::Count];
        for number in [NumberType::Long, NumberType::Double] {
            let column = "x".to_owned();
            functions.push(AggregateFunction::Sum {
                column: column.clone(),
                number,
            });
            functions.push(AggregateFunction::Min {
                column: column.clone(),
                number,
            });
            functions.push(AggregateFunction::Max { column, number });
        }
        functions.push(AggregateFunction::QuantilesSketch {
            column: "x".to_owned(),
            k: strata_storage::spec::QuantilesK::DEFAULT,
        });
        for kind in [ValueKind::Long, ValueKind::Double] {
            let (column, time_column) = ("x".to_owned(), None);
            functions.push(AggregateFunction::First {
                column: column.clone(),
                kind,
                time_column: time_column.clone(),
            });
            functions.push(AggregateFunction::Last {
                column,
                kind,
                time_column,
            });
        }
        functions
    }

    fn doubles() -> impl Strategy<Value = Option<f64>> {
        prop_oneof![
            Just(None),
            Just(Some(-0.0)),
            Just(Some(0.0)),
            Just(Some(f64::NAN)),
            Just(Some(1e300)),
            (-1e6f64..1e6).prop_map(Some),
        ]
    }

    fn longs() -> impl Strategy<Value = Option<i64>> {
        prop_oneof![
            Just(None),
            Just(Some(i64::MAX)),
            Just(Some(i64::MIN)),
            (-1000i64..1000).prop_map(Some),
        ]
    }

    /// The column fold's results, slot by slot, are the general fold's.
    fn check(input: &Input, rows: usize, slots: &[u32], passing: Option<&[bool]>) {
        let slot_count = slots.iter().max().map_or(0, |&max| max as usize + 1);
        let all_rows: Vec<u32> = (0..rows as u32).collect();
        let fold_rows = FoldRows::new(Some(&all_rows), slots, passing);
        for function in functions() {
            let mut column = vec![Accumulator::empty(&function); slot_count];
            let mut general = column.clone();
            if !fold_column(input, &fold_rows, &mut column, 1, slot_count) {
                continue;
            }
            for (row, &slot) in slots.iter().enumerate() {
                if passing.is_some_and(|passing| !passing[row]) {
                    continue;
                }
                if let Some(value) = input.value(row) {
                    general[slot as usize].add(value);
                }
            }
            let results = |accumulators: &[Accumulator]| -> Vec<String> {
                accumulators
                    .iter()
                    .map(|a| format!("{:?}", a.result()))
                    .collect()
            };
            assert_eq!(results(&column), results(&general), "{function:?}");
        }
    }

    proptest! {
        #[test]
        fn a_column_fold_gives_what_the_general_fold_gives(
            cells in prop::collection::vec((longs(), doubles(), 0u32..4, any::<bool>()), 0..60),
            times in prop::collection::vec(0i64..5, 60),
        ) {
            let times: Vec<Millis> = times[..cells.len()].to_vec();
            let slots: Vec<u32> = cells.iter().map(|cell| cell.2).collect();
            let passing: Vec<bool> = cells.iter().map(|cell| cell.3).collect();
            let inputs = [
                Input::Ones,
                Input::Long(cells.iter().map(|cell| cell.0).collect()),
                Input::Double(cells.iter().map(|cell| cell.1).collect()),
                Input::FullLong(cells.iter().map(|cell| cell.0.unwrap_or(7)).collect()),
                Input::FullDouble(cells.iter().map(|cell| cell.1.unwrap_or(-0.5)).collect()),
                Input::Timed {
                    times: times.clone(),
                    column: Column::Long(cells.iter().map(|cell| cell.0).collect()),
                },
                Input::Timed {
                    times,
                    column: Column::Double(cells.iter().map(|cell| cell.1).collect()),
                },
            ];
            for input in &inputs {
                check(input, cells.len(), &slots, None);
                check(input, cells.len(), &slots, Some(&passing));
            }
        }
    }
}
