//! Scanning one table: its selected rows, read once, folded into groups.
//!
//! A table's rows are selected by the plan's intervals and filter, its
//! group key and aggregation columns are read whole, and each selected row
//! is folded into the group of its time bucket and key values — of each
//! combination of them, for multi-value keys. Groups are found by their
//! keys' small codes first, in a map of this table's own, and merged into
//! the result's groups once the table is done, when each code is turned back
//! into its value: codes mean nothing outside the table that assigned them.
//!
//! A filtered aggregation folds only the rows its filters select too: each
//! filter is a row bitmap of the table, as the query's filter is, and a row
//! is folded into that aggregation when it lies in all of them.

use std::collections::HashMap;

use roaring::RoaringBitmap;
use strata_storage::spec::DataSourceSpec;
use strata_storage::time::Millis;

use super::ExecuteError;
use super::bucketing::Bucketing;
use super::fold::Accumulator;
use super::group_keys::{KeyColumn, for_each_combination};
use super::groups::{GroupId, Groups};
use super::input::Input;
use crate::plan::{Filter, QueryPlan};
use crate::select::select_rows;
use crate::table::TableSource;

/// Reads one table's selected rows and folds them into `groups`.
pub(super) fn fold_table(
    table: &dyn TableSource,
    plan: &QueryPlan,
    spec: &DataSourceSpec,
    bucketing: &Bucketing,
    groups: &mut Groups,
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
        .map(|aggregation| Input::read(table, spec, aggregation, rows))
        .collect::<Result<Vec<_>, _>>()?;
    let passing = plan
        .aggregate
        .aggregations
        .iter()
        .map(|aggregation| rows_passing_filters(table, plan, &aggregation.function.filters()))
        .collect::<Result<Vec<_>, _>>()?;

    // Groups are found by small codes first — a dictionary id per key — so
    // a row costs a hash of a few integers, not of its strings.
    let mut local: HashMap<Vec<u64>, Vec<Accumulator>> = HashMap::new();
    let mut group = Vec::with_capacity(keys.len() + 1);
    let mut choices: Vec<&[u32]> = Vec::with_capacity(keys.len());
    for row in selected.iter().map(|row| row as usize) {
        let Some(&time) = times.get(row) else {
            continue;
        };
        choices.clear();
        choices.extend(keys.iter().map(|key| key.codes(row)));
        group.clear();
        group.push(bucketing.bucket(time) as u64);
        for_each_combination(&choices, &mut group, &mut |group| {
            if !local.contains_key(group) {
                local.insert(group.to_vec(), groups.empty.clone());
            }
            let Some(accumulators) = local.get_mut(group) else {
                return;
            };
            for ((accumulator, input), passing) in
                accumulators.iter_mut().zip(&inputs).zip(&passing)
            {
                if !passing
                    .as_ref()
                    .is_none_or(|passing| passing.contains(row as u32))
                {
                    continue;
                }
                if let Some(value) = input.value(row) {
                    accumulator.add(value);
                }
            }
        });
    }
    for (group, accumulators) in local {
        let Some((&bucket, codes)) = group.split_first() else {
            continue;
        };
        let keys = codes
            .iter()
            .zip(&keys)
            .map(|(&code, key)| key.value(code))
            .collect();
        groups.merge(
            GroupId {
                timestamp: bucket as Millis,
                keys,
            },
            &accumulators,
        );
    }
    Ok(())
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
