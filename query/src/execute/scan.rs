//! Scanning one table: its selected rows, read once, folded into groups.
//!
//! A table's rows are selected by the plan's intervals and filter
//! ([`select_table`]), then folded a run of rows (a row block) at a time
//! ([`fold_runs`]; the runs of one table may be shared among workers): its
//! group key and aggregation columns are read for the run only. Each
//! selected row is given the slot of its group (its time bucket and the
//! codes of its key values, each combination of them for multi-value keys;
//! see `slots`), then each aggregation folds its column into the slots'
//! accumulators, one column at a time. The slots are merged into the
//! result's groups once the runs are done, when each code is turned back
//! into its value: codes mean nothing outside the table that assigned them.
//!
//! A filtered aggregation folds only the rows its filters select too: each
//! filter is a row bitmap of the table, as the query's filter is, and a row
//! is folded into that aggregation when it lies in all of them.

use std::ops::Range;

use roaring::RoaringBitmap;
use strata_storage::segment::{ColumnKind, TIME_COLUMN, TableSchema};
use strata_storage::spec::DataSourceSpec;

use super::bucketing::Bucketing;
use super::column_fold::{FoldRows, fold_column};
use super::fold::Accumulator;
use super::group_keys::KeyColumn;
use super::groups::{GroupId, Groups};
use super::input::{Input, coupon_column, fold_coupons};
use super::slots::{GroupSlots, RunSelection};
use super::{ExecuteError, table_name};
use crate::plan::{AggregateFunction, Filter, QueryPlan};
use crate::query_limits::QueryLimits;
use crate::select::select_rows;
use crate::table::TableSource;

/// One table's rows a query reads, selected before any is folded: the unit
/// of work is then a run of its rows ([`fold_runs`]), so that even a single
/// table is folded on every core.
pub(super) struct SelectedTable<'t> {
    table: &'t dyn TableSource,
    selected: RoaringBitmap,
    /// Per aggregation, the rows its filters pass (`None`: all).
    passing: Vec<Option<RoaringBitmap>>,
    /// The runs of rows folded one at a time — the table's row blocks, or
    /// the whole table when an aggregation reads strings (see
    /// `reads_strings`) — that hold selected rows.
    pub(super) runs: Vec<SelectedRun>,
}

/// A run of a table's rows, and how many of them are selected (never 0).
#[derive(Debug, Clone)]
pub(super) struct SelectedRun {
    pub(super) rows: Range<usize>,
    pub(super) selected: usize,
}

/// Selects `table`'s rows for `plan`; `None` when it has none to fold.
pub(super) fn select_table<'t>(
    table: &'t dyn TableSource,
    plan: &QueryPlan,
    spec: &DataSourceSpec,
) -> Result<Option<SelectedTable<'t>>, ExecuteError> {
    let selected = select_rows(table, &plan.intervals, plan.filter.as_ref())?;
    if selected.is_empty() {
        return Ok(None);
    }
    let aggregations = &plan.aggregate.aggregations;
    let passing = aggregations
        .iter()
        .map(|aggregation| rows_passing_filters(table, plan, &aggregation.function.filters()))
        .collect::<Result<Vec<_>, _>>()?;
    let runs = if !aggregations.iter().any(|aggregation| {
        // A distinct count of a string column reads codes and the
        // table's cached coupons, not the dictionary: it folds by run.
        reads_strings(&aggregation.function, spec, table.schema())
            && coupon_column(&aggregation.function, spec, table.kind(), table.schema()).is_none()
    }) {
        table.row_blocks()
    } else {
        std::iter::once(0..table.rows()).collect()
    };
    let runs = runs
        .into_iter()
        .filter_map(|rows| {
            let selected = selected.range_cardinality(rows.start as u32..rows.end as u32);
            (selected > 0).then_some(SelectedRun {
                rows,
                selected: selected as usize,
            })
        })
        .collect();
    Ok(Some(SelectedTable {
        table,
        selected,
        passing,
        runs,
    }))
}

/// Folds the selected rows of `runs` (some of `selected_table.runs`, in
/// order) into `groups`.
pub(super) fn fold_runs(
    selected_table: &SelectedTable<'_>,
    runs: &[Range<usize>],
    plan: &QueryPlan,
    spec: &DataSourceSpec,
    bucketing: &Bucketing,
    groups: &mut Groups,
    limits: &QueryLimits,
) -> Result<(), ExecuteError> {
    let SelectedTable {
        table,
        selected,
        passing,
        ..
    } = selected_table;
    let table = *table;
    let aggregations = &plan.aggregate.aggregations;
    let mut keys = plan
        .aggregate
        .group_by
        .iter()
        .map(|key| KeyColumn::open(table, &key.column))
        .collect::<Result<Vec<_>, _>>()?;
    let mut slots = GroupSlots::new(bucketing, &keys);
    let width = aggregations.len();
    let mut accumulators: Vec<Accumulator> = Vec::new();
    for run in runs.iter().cloned() {
        let (start, end) = (run.start as u32, run.end as u32);
        limits.check()?;
        // One bucket holds every row: its time is not needed.
        let times = if bucketing.is_single() {
            Vec::new()
        } else {
            table.read_time_range(run.clone())?
        };
        if !bucketing.is_single() && times.len() != run.len() {
            return Err(ExecuteError::DamagedColumn {
                column: TIME_COLUMN.to_owned(),
                table: table_name(table.kind()),
                problem: format!("it has {} values for {} rows", times.len(), run.len()),
            });
        }
        for key in &mut keys {
            key.load(table, run.clone())?;
        }
        let selection = if selected.range_cardinality(start..end) == u64::from(end - start) {
            RunSelection::All(run.len())
        } else {
            RunSelection::Some(selected.range(start..end).map(|row| row - start))
        };
        let assignment = slots.assign(selection, &times, &keys);
        let slot_count = slots.len();
        accumulators.reserve((slot_count * width).saturating_sub(accumulators.len()));
        while accumulators.len() < slot_count * width {
            accumulators.extend_from_slice(&groups.empty);
        }
        let all_rows = FoldRows::new(assignment.rows.as_deref(), &assignment.slots, None);
        for (index, (aggregation, passing)) in aggregations.iter().zip(passing).enumerate() {
            let input = Input::read(table, spec, aggregation, run.clone())?;
            let passing = passing.as_ref().map(|passing| run_mask(passing, &run));
            let fold_rows = all_rows.passing(passing.as_deref());
            let column = accumulators.get_mut(index..).unwrap_or_default();
            if !fold_column(&input, &fold_rows, column, width, slot_count)
                && !fold_coupons(&input, &fold_rows, column, width)
            {
                fold_rows.for_each(|row, slot| {
                    if let (Some(value), Some(accumulator)) =
                        (input.value(row), accumulators.get_mut(slot * width + index))
                    {
                        accumulator.add(value);
                    }
                });
            }
        }
    }
    // Each slot's accumulators are moved into its group, not copied: kept
    // quantiles values can be many.
    let mut accumulators = accumulators.into_iter();
    for (bucket, codes) in slots.into_groups() {
        let keys = codes
            .iter()
            .zip(&keys)
            .map(|(&code, key)| key.value(u64::from(code)))
            .collect();
        let group_accumulators: Vec<Accumulator> = accumulators.by_ref().take(width).collect();
        groups.merge_owned(
            GroupId {
                timestamp: bucket,
                keys,
            },
            group_accumulators,
        );
    }
    Ok(())
}

/// Whether `function` reads a string or text column of a table with
/// `schema`: those are read in one run, so that a dictionary is not rebuilt
/// for every run. A metric reads its own column or its input field.
fn reads_strings(
    function: &AggregateFunction,
    spec: &DataSourceSpec,
    schema: &TableSchema,
) -> bool {
    let columns: Vec<&str> = match function {
        AggregateFunction::Filtered { inner, .. } => return reads_strings(inner, spec, schema),
        AggregateFunction::Count => Vec::new(),
        AggregateFunction::Sum { column, .. }
        | AggregateFunction::Min { column, .. }
        | AggregateFunction::Max { column, .. }
        | AggregateFunction::SumOfSquares { column }
        | AggregateFunction::DistinctSketch { column, .. }
        | AggregateFunction::QuantilesSketch { column, .. } => vec![column],
        AggregateFunction::First {
            column,
            time_column,
            ..
        }
        | AggregateFunction::Last {
            column,
            time_column,
            ..
        } => std::iter::once(column)
            .chain(time_column)
            .map(String::as_str)
            .collect(),
        AggregateFunction::Cardinality { columns, .. } => {
            columns.iter().map(String::as_str).collect()
        }
    };
    columns
        .into_iter()
        .flat_map(|column| {
            let input = spec
                .metric(column)
                .and_then(|metric| metric.aggregator().field_name());
            std::iter::once(column).chain(input)
        })
        .any(|column| {
            schema
                .position(column)
                .and_then(|position| schema.columns().get(position))
                .is_some_and(|schema| {
                    matches!(schema.kind, ColumnKind::String { .. } | ColumnKind::Text)
                })
        })
}

/// Flags for the rows of `run`, counted from its first, set for the rows of
/// `bitmap`: a row is then checked by indexing, not by a search in the
/// bitmap.
fn run_mask(bitmap: &RoaringBitmap, run: &Range<usize>) -> Vec<bool> {
    let mut mask = vec![false; run.len()];
    for row in bitmap.range(run.start as u32..run.end as u32) {
        if let Some(flag) = mask.get_mut(row as usize - run.start) {
            *flag = true;
        }
    }
    mask
}

/// The selected rows every one of `filters` is TRUE for; `None` when there
/// are no filters, and every selected row counts.
fn rows_passing_filters(
    table: &dyn TableSource,
    plan: &QueryPlan,
    filters: &[&Filter],
) -> Result<Option<RoaringBitmap>, ExecuteError> {
    let mut passing: Option<RoaringBitmap> = None;
    for filter in filters {
        let rows = select_rows(table, &plan.intervals, Some(filter))?;
        passing = Some(match passing {
            Some(passing) => passing & rows,
            None => rows,
        });
    }
    Ok(passing)
}

#[cfg(test)]
mod tests {
    use strata_storage::granularity::Granularity;

    use crate::execute::execute;
    use crate::execute::test_support::*;
    use crate::plan::{AggregateFunction, Filter, NumberType, ResultValue};

    fn filtered(filter: Filter, inner: AggregateFunction) -> AggregateFunction {
        AggregateFunction::Filtered {
            filter,
            inner: Box::new(inner),
        }
    }

    fn host_is(host: Option<&str>) -> Filter {
        Filter::Equals {
            column: "host".into(),
            value: host.map(str::to_owned),
        }
    }

    #[test]
    fn a_filtered_aggregation_folds_only_the_rows_its_filters_select() {
        let events = vec![
            Event {
                bytes: Some(1),
                ..event(T0, Some("a"), &["x"], Some("u1"))
            },
            Event {
                bytes: Some(10),
                ..event(T0 + 1, Some("b"), &["x"], Some("u2"))
            },
            Event {
                bytes: Some(100),
                ..event(T0 + 2, None, &[], Some("u1"))
            },
        ];
        let table = events_table(&events);
        let mut plan = plan(
            Granularity::All,
            hours(0, 1),
            &[],
            vec![
                filtered(host_is(Some("a")), AggregateFunction::Count),
                // Three-valued: the row without a host is not `not a`.
                filtered(
                    Filter::Not(Box::new(host_is(Some("a")))),
                    sum("bytes", NumberType::Long),
                ),
                // Nested filters intersect.
                filtered(
                    Filter::Equals {
                        column: "user".into(),
                        value: Some("u1".into()),
                    },
                    filtered(
                        Filter::Not(Box::new(host_is(None))),
                        sum("bytes", NumberType::Long),
                    ),
                ),
                filtered(host_is(Some("c")), max("bytes", NumberType::Long)),
                filtered(host_is(Some("c")), AggregateFunction::Count),
            ],
        );
        // Filters pick among the rows the query's filter selected.
        plan.filter = Some(Filter::Equals {
            column: "tags".into(),
            value: Some("x".into()),
        });
        let rows = execute(&plan, &spec(), &events_only(&table)).unwrap();
        assert_eq!(
            values_of(&rows),
            vec![vec![
                ResultValue::Long(1),
                ResultValue::Long(10),
                ResultValue::Long(1),
                ResultValue::Null,
                ResultValue::Long(0),
            ]]
        );
    }

    /// A segment of several row blocks is folded a block at a time; its
    /// answers must be those of the same rows read in one piece.
    #[test]
    fn a_table_folded_block_by_block_answers_as_one_read_whole() {
        use strata_storage::segment::TableKind;

        use crate::execute::TableSet;
        use crate::segment_table::SegmentTable;
        use crate::table::TableSource;

        let hosts = ["a", "b", "c"];
        let events: Vec<Event> = (0..150_000i64)
            .map(|i| {
                let host = (i % 7 != 0).then(|| hosts[(i % 3) as usize]);
                let user = format!("u{}", i % 11);
                Event {
                    bytes: (i % 5 != 0).then_some(i % 1000 - 300),
                    latency: (i % 4 != 0).then_some((i % 97) as f64 / 8.0),
                    status: Some([200, 404, 500][(i % 3) as usize]),
                    ..event(T0 + i * 30_000, host, &[], Some(&user))
                }
            })
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let segment = events_segment(&events, &dir.path().join("s"));
        let stored = SegmentTable::new(segment.table(TableKind::Events).unwrap());
        assert!(stored.row_blocks().len() >= 3);
        let memory = events_table(&events);
        let mut plan = plan(
            Granularity::HOUR,
            hours(0, 40),
            &["host", "status"],
            vec![
                AggregateFunction::Count,
                sum("bytes", NumberType::Long),
                min("latency", NumberType::Double),
                max("bytes", NumberType::Double),
                filtered(host_is(Some("b")), sum("latency", NumberType::Double)),
            ],
        );
        plan.filter = Some(Filter::Not(Box::new(Filter::Equals {
            column: "user".into(),
            value: Some("u3".into()),
        })));
        let read = |table: &dyn TableSource| {
            let sets = [TableSet {
                events: Some(table),
                rollup: None,
            }];
            execute(&plan, &spec(), &sets).unwrap()
        };
        let by_block = read(&stored);
        assert!(by_block.len() > 100);
        assert_eq!(by_block, read(&memory));
    }
}
