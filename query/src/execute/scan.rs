//! Scanning one table: its selected rows, read once, folded into groups.
//!
//! A table's rows are selected by the plan's intervals and filter, its
//! group key and aggregation columns are read whole, and each selected row
//! is folded into the group of its time bucket and key values — of each
//! combination of them, for multi-value keys. Groups are found by their
//! keys' small codes first, in a map of this table's own, and merged into
//! the result's groups once the table is done, when each code is turned back
//! into its value: codes mean nothing outside the table that assigned them.

use std::collections::HashMap;

use strata_storage::spec::DataSourceSpec;
use strata_storage::time::Millis;

use super::ExecuteError;
use super::bucketing::Bucketing;
use super::fold::Accumulator;
use super::group_keys::{KeyColumn, for_each_combination};
use super::groups::{GroupId, Groups};
use super::input::Input;
use crate::plan::QueryPlan;
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
    let times = table.read_time()?;
    let rows = times.len();
    let keys = plan
        .aggregate
        .group_by
        .iter()
        .map(|key| KeyColumn::read(table, &key.column, rows))
        .collect::<Result<Vec<_>, _>>()?;
    let inputs = plan
        .aggregate
        .aggregations
        .iter()
        .map(|aggregation| Input::read(table, spec, aggregation, rows))
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
            for (accumulator, input) in accumulators.iter_mut().zip(&inputs) {
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
