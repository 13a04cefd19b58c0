//! Scanning one table: its selected rows, read once, folded into groups.
//!
//! A table's rows are selected by the plan's intervals and filter, and its
//! group key and aggregation columns are read — only the blocks holding
//! selected rows. Each selected row is given the slot of its group (its
//! time bucket and the codes of its key values, each combination of them
//! for multi-value keys; see `slots`), then each aggregation folds its
//! column into the slots' accumulators, one column at a time. The slots are
//! merged into the result's groups once the table is done, when each code is
//! turned back into its value: codes mean nothing outside the table that
//! assigned them.
//!
//! A filtered aggregation folds only the rows its filters select too: each
//! filter is a row bitmap of the table, as the query's filter is, and a row
//! is folded into that aggregation when it lies in all of them.

use roaring::RoaringBitmap;
use strata_storage::spec::DataSourceSpec;

use super::ExecuteError;
use super::bucketing::Bucketing;
use super::column_fold::{FoldRows, fold_column};
use super::fold::Accumulator;
use super::group_keys::KeyColumn;
use super::groups::{GroupId, Groups};
use super::input::Input;
use super::slots::SlotAssignment;
use crate::plan::{Filter, QueryPlan};
use crate::query_limits::QueryLimits;
use crate::select::select_rows;
use crate::table::TableSource;

/// Reads one table's selected rows and folds them into `groups`.
pub(super) fn fold_table(
    table: &dyn TableSource,
    plan: &QueryPlan,
    spec: &DataSourceSpec,
    bucketing: &Bucketing,
    groups: &mut Groups,
    limits: &QueryLimits,
) -> Result<(), ExecuteError> {
    let selected = select_rows(table, &plan.intervals, plan.filter.as_ref())?;
    if selected.is_empty() {
        return Ok(());
    }
    let times = table.read_time_for(&selected)?;
    let rows = times.len();
    let keys = plan
        .aggregate
        .group_by
        .iter()
        .map(|key| KeyColumn::read(table, &key.column, rows, &selected))
        .collect::<Result<Vec<_>, _>>()?;
    let inputs = plan
        .aggregate
        .aggregations
        .iter()
        .map(|aggregation| Input::read(table, spec, aggregation, rows, &selected))
        .collect::<Result<Vec<_>, _>>()?;
    let passing = plan
        .aggregate
        .aggregations
        .iter()
        .map(|aggregation| rows_passing_filters(table, plan, &aggregation.function.filters()))
        .collect::<Result<Vec<_>, _>>()?;

    let assignment = SlotAssignment::assign(&selected, &times, bucketing, &keys);
    limits.check()?;
    let width = inputs.len();
    let mut accumulators: Vec<Accumulator> = Vec::with_capacity(assignment.groups.len() * width);
    for _ in &assignment.groups {
        accumulators.extend_from_slice(&groups.empty);
    }
    for (aggregation, (input, passing)) in inputs.iter().zip(&passing).enumerate() {
        limits.check()?;
        let passing = passing.as_ref().map(|passing| row_mask(passing, rows));
        let fold_rows = FoldRows {
            rows: &assignment.rows,
            slots: &assignment.slots,
            passing: passing.as_deref(),
        };
        let column = accumulators.get_mut(aggregation..).unwrap_or_default();
        if fold_column(input, &fold_rows, column, width, assignment.groups.len()) {
            continue;
        }
        for (&row, &slot) in assignment.rows.iter().zip(&assignment.slots) {
            let row = row as usize;
            if passing
                .as_ref()
                .is_some_and(|passing| !passing.get(row).copied().unwrap_or(false))
            {
                continue;
            }
            let Some(value) = input.value(row) else {
                continue;
            };
            if let Some(accumulator) = accumulators.get_mut(slot as usize * width + aggregation) {
                accumulator.add(value);
            }
        }
    }
    for ((bucket, codes), accumulators) in assignment
        .groups
        .iter()
        .zip(accumulators.chunks(width.max(1)))
    {
        let keys = codes
            .iter()
            .zip(&keys)
            .map(|(&code, key)| key.value(u64::from(code)))
            .collect();
        groups.merge(
            GroupId {
                timestamp: *bucket,
                keys,
            },
            accumulators,
        );
    }
    Ok(())
}

/// `rows` flags, set for the rows of `bitmap`: a row is then checked by
/// indexing, not by a search in the bitmap.
fn row_mask(bitmap: &RoaringBitmap, rows: usize) -> Vec<bool> {
    let mut mask = vec![false; rows];
    for row in bitmap {
        if let Some(flag) = mask.get_mut(row as usize) {
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
}
