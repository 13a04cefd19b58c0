//! Executing an aggregate plan: from a [`QueryPlan`] and the tables holding a
//! datasource's rows to the plan's [`ResultRow`]s.
//!
//! A datasource's rows live in *table sets* — one per published segment or
//! real-time chunk — each with an events table, a rollup table, or both
//! (DESIGN.md, "Tables inside a segment"). Execution reads every set, folds
//! its selected rows into groups, merges the groups of all sets and computes
//! the post-aggregations:
//!
//! ```text
//! set ─ choose a table ─ select rows ─ group by (bucket, keys) ─ fold ─┐
//! set ─ choose a table ─ select rows ─ group by (bucket, keys) ─ fold ─┼─ merge ─ zero fill ─ post-aggregate ─ sort
//! set ─ ...                                                           ─┘
//!                                                                          ─ having
//! ```
//!
//! Everything that can be checked without reading a row — metrics that
//! cannot be aggregated, post-aggregations naming unknown fields — is
//! checked first, so a bad plan fails even over no data.
//!
//! # Reading order
//!
//! One submodule per step, each with docs on its rules:
//!
//! - `table_choice` — which table of a set answers: the rollup table
//!   whenever that is exact (every key, filter column and aggregation can be
//!   answered from rollup rows, and no interval bound cuts through a rollup
//!   bucket that holds rows), the events table otherwise;
//! - `scan` — one table's selected rows, read once and folded into groups;
//! - `index_picks` — first/last per value of one group key, in a table
//!   whose rows are in time order, found from where the value's rows lie
//!   (the last row block, the value's bitmap) instead of by folding: such a
//!   table is answered this way when the plan allows;
//! - `slots` — each selected row's group, numbered densely per table, so
//!   that aggregations fold into flat arrays;
//! - `column_fold` — counts, sums, minima and maxima of long and double
//!   columns folded a column at a time, in typed loops;
//! - `group_keys` — a group key column as small codes; a row of a
//!   multi-value dimension counts in the group of each of its values;
//! - `bucketing` — a row's time bucket, its `__time` truncated by the plan's
//!   granularity, and the empty buckets zero filling adds (with no group keys
//!   only, and at most [`MAX_ZERO_FILL_BUCKETS`]);
//! - `input` — what an aggregation reads in each kind of table: partial
//!   results in a rollup table (first/last pairs, stored sketches), one
//!   event's value in an events table (a filtered aggregation reads what its
//!   inner one does, from only the rows its filter selects, see `scan`);
//! - `fold` — sums, minima and maxima in the plan's number type, as Druid
//!   computes them (a long sum truncates doubles and wraps on overflow;
//!   nulls are skipped; an empty group is null, its count 0); first/last by
//!   event time; HLL and quantiles sketches built or merged;
//! - `groups` — the groups of every table merged, in result order: by time,
//!   then by keys, null first;
//! - `post_aggregation` — arithmetic and sketch lookups (estimates,
//!   quantiles) over each row's aggregations, as Druid computes them; the
//!   aggregations' sketches are then finalized;
//! - `having` — which result rows are kept, judged on their keys and values.

use std::ops::Range;

use strata_storage::segment::TableKind;
use strata_storage::segment::schema::SchemaError;
use strata_storage::spec::DataSourceSpec;

use crate::plan::{ArithmeticOperator, QueryPlan, ResultRow};
use crate::query_limits::{QueryLimits, QueryStopped};
use crate::select::SelectError;
use crate::table::{ColumnValues, TableError, TableSource};

mod bucketing;
mod column_fold;
mod fold;
mod group_keys;
mod groups;
mod having;
mod index_picks;
mod input;
mod post_aggregation;
mod scan;
mod slots;
mod table_choice;
#[cfg(test)]
mod test_support;

use bucketing::Bucketing;
pub use bucketing::MAX_ZERO_FILL_BUCKETS;
use groups::Groups;
use having::{apply_having, check_having};
use index_picks::{PickedGroups, picked_groups};
use input::check_metrics_supported;
use post_aggregation::compile_post_aggregations;
use scan::{SelectedRun, SelectedTable, fold_runs, select_table};
use table_choice::TableChoice;

/// The tables of one segment or one real-time chunk.
#[derive(Clone, Copy, Default)]
pub struct TableSet<'a> {
    pub events: Option<&'a dyn TableSource>,
    pub rollup: Option<&'a dyn TableSource>,
}

/// How one table's groups are found.
enum TableWork<'t> {
    /// By folding its selected rows, a run at a time.
    Fold(SelectedTable<'t>),
    /// Whole, by index picks (see `index_picks`).
    Picked(PickedGroups),
}

/// Why a plan could not be executed.
#[derive(Debug, thiserror::Error)]
pub enum ExecuteError {
    #[error(transparent)]
    Select(#[from] SelectError),
    #[error(transparent)]
    Table(#[from] TableError),
    #[error(
        "aggregation `{aggregation}` reads metric `{metric}`, a {metric_type} metric, which it cannot aggregate: sums, minima and maxima read count, sum, min and max metrics; first/last read any but sketches; HLL sketches and cardinality read any but quantiles sketches; quantiles sketches any but HLL sketches"
    )]
    Unsupported {
        aggregation: String,
        metric: String,
        metric_type: &'static str,
    },
    #[error(
        "aggregation `{aggregation}` reads `{column}`, {kind} in the {table} table; sums, minima and maxima read long or double columns"
    )]
    NotNumeric {
        aggregation: String,
        column: String,
        table: &'static str,
        kind: &'static str,
    },
    #[error(
        "aggregation `{aggregation}` reads `{column}`, {kind} in the {table} table, which it cannot aggregate; first/last and distinct counts read string, long or double columns, or a rollup table's metric of their own kind"
    )]
    CannotRead {
        aggregation: String,
        column: String,
        table: &'static str,
        kind: &'static str,
    },
    #[error(
        "post-aggregation `{post_aggregation}` reads `{field}` as {expected}, but `{field}` is an aggregation of another kind; point it at {expected}"
    )]
    NotASketch {
        post_aggregation: String,
        field: String,
        expected: &'static str,
    },
    #[error(
        "post-aggregation `{post_aggregation}` asks for the quantile at {fraction}; fractions lie between 0 and 1"
    )]
    BadFraction {
        post_aggregation: String,
        fraction: f64,
    },
    #[error(
        "cannot group by `{column}`, {kind} in the {table} table; group by a string, long or double dimension"
    )]
    CannotGroup {
        column: String,
        table: &'static str,
        kind: &'static str,
    },
    #[error(
        "post-aggregation `{post_aggregation}` reads `{field}`, which is neither an aggregation nor an earlier post-aggregation; the names it can read are: {known}"
    )]
    UnknownField {
        post_aggregation: String,
        field: String,
        known: String,
    },
    #[error(
        "post-aggregation `{post_aggregation}` applies {operator:?} to {operands} operand(s); arithmetic needs at least two"
    )]
    TooFewOperands {
        post_aggregation: String,
        operator: ArithmeticOperator,
        operands: usize,
    },
    #[error(
        "zero filling `{granularity}` buckets over the query intervals would make more than {limit} rows; use a coarser granularity or narrower intervals, or skip empty buckets"
    )]
    TooManyBuckets { granularity: String, limit: usize },
    #[error(
        "having compares `{field}`, which is neither an aggregation nor a post-aggregation; the names it can compare are: {known}"
    )]
    UnknownHavingField { field: String, known: String },
    #[error(
        "having selects on dimension `{dimension}`, which the query does not group by; the dimensions (output names) it can select on are: {known}"
    )]
    UnknownHavingDimension { dimension: String, known: String },
    #[error(
        "the query has {rows} result rows, more than having can filter ({max}); narrow the query",
        max = u32::MAX
    )]
    TooManyHavingRows { rows: usize },
    #[error("the result rows cannot be read as a table for a having filter: {0}")]
    HavingColumns(SchemaError),
    #[error("column `{column}` of the {table} table is damaged: {problem}")]
    DamagedColumn {
        column: String,
        table: &'static str,
        problem: String,
    },
    #[error(transparent)]
    Stopped(#[from] QueryStopped),
}

impl ExecuteError {
    /// Whether a table could not be read, or read back damaged: the
    /// server's fault, not the plan's.
    pub fn is_table_damage(&self) -> bool {
        match self {
            ExecuteError::Table(_) | ExecuteError::DamagedColumn { .. } => true,
            ExecuteError::Select(error) => error.is_table_damage(),
            _ => false,
        }
    }
}

/// Runs the aggregate plan of `plan` over the rows of `sets`, which hold data
/// of the datasource `spec` describes, with no deadline and no memory
/// budget. See the [module docs](self).
pub fn execute(
    plan: &QueryPlan,
    spec: &DataSourceSpec,
    sets: &[TableSet<'_>],
) -> Result<Vec<ResultRow>, ExecuteError> {
    execute_with_limits(plan, spec, sets, &QueryLimits::unlimited())
}

/// [`execute`] within `limits`: checked before each table set, and the
/// groups' estimated size against the memory budget after each.
pub fn execute_with_limits(
    plan: &QueryPlan,
    spec: &DataSourceSpec,
    sets: &[TableSet<'_>],
    limits: &QueryLimits,
) -> Result<Vec<ResultRow>, ExecuteError> {
    let aggregate = &plan.aggregate;
    check_metrics_supported(aggregate, spec)?;
    let post_aggregations = compile_post_aggregations(aggregate)?;
    check_having(aggregate)?;
    let choice = TableChoice::new(plan, spec);
    let bucketing = Bucketing::new(plan);
    let mut groups = Groups::new(aggregate);
    if aggregate.zero_fill && aggregate.group_by.is_empty() {
        bucketing.zero_fill(plan, &mut groups)?;
    }
    groups.check_memory(limits)?;
    let tables: Vec<&dyn TableSource> =
        sets.iter().filter_map(|set| choice.table_of(set)).collect();
    let workers = worker_count();
    // First each table's rows are selected, the tables shared among the
    // workers; then the runs of rows of all of them are shared, so that a
    // query of one segment is folded on every core too. Each worker takes
    // consecutive runs, and merging the workers' groups in order gives what
    // one pass in row order would.
    let selections = in_parallel(
        &split_by_rows(&tables, workers, |table| table.rows()),
        |share| {
            share
                .iter()
                .map(|table| {
                    limits.check()?;
                    if let Some(groups) = picked_groups(*table, plan, spec, &bucketing)? {
                        return Ok::<_, ExecuteError>(Some(TableWork::Picked(groups)));
                    }
                    Ok(select_table(*table, plan, spec)?.map(TableWork::Fold))
                })
                .collect::<Result<Vec<_>, _>>()
        },
    );
    let mut selected = Vec::new();
    for share in selections {
        selected.extend(share?.into_iter().flatten());
    }
    // Each run of selected rows, with its table's index; a table whose
    // groups were picked is one item with no run, merged in its place.
    let runs: Vec<(usize, Option<&SelectedRun>)> = selected
        .iter()
        .enumerate()
        .flat_map(|(index, work)| {
            let (runs, picked) = match work {
                TableWork::Fold(table) => (table.runs.as_slice(), None),
                TableWork::Picked(_) => (&[][..], Some((index, None))),
            };
            runs.iter().map(move |run| (index, Some(run))).chain(picked)
        })
        .collect();
    let rows_of = |(_, run): &(usize, Option<&SelectedRun>)| run.map_or(0, |run| run.selected);
    // A few rows are folded sooner than threads start.
    let selected_rows: usize = runs.iter().map(rows_of).sum();
    let fold_workers = if selected_rows < MIN_ROWS_PER_WORKER {
        1
    } else {
        workers
    };
    let folded = in_parallel(&split_by_rows(&runs, fold_workers, rows_of), |share| {
        let mut local = Groups::new(aggregate);
        for same_table in share.chunk_by(|(a, _), (b, _)| a == b) {
            let Some((index, _)) = same_table.first() else {
                continue;
            };
            let table = match selected.get(*index) {
                Some(TableWork::Fold(table)) => table,
                Some(TableWork::Picked(groups)) => {
                    for (group, accumulators) in groups {
                        local.merge(group.clone(), accumulators);
                    }
                    local.check_memory(limits)?;
                    continue;
                }
                None => continue,
            };
            let table_runs: Vec<Range<usize>> = same_table
                .iter()
                .filter_map(|(_, run)| run.map(|run| run.rows.clone()))
                .collect();
            limits.check()?;
            fold_runs(
                table,
                &table_runs,
                plan,
                spec,
                &bucketing,
                &mut local,
                limits,
            )?;
            local.check_memory(limits)?;
        }
        Ok::<Groups, ExecuteError>(local)
    });
    for local in folded {
        groups.absorb(local?);
        groups.check_memory(limits)?;
    }
    let total = aggregate.grand_total.then(|| groups.total());
    let mut rows = apply_having(aggregate, groups.into_rows(&post_aggregations))?;
    if let Some(total) = total {
        rows.extend(total.into_rows(&post_aggregations));
    }
    Ok(rows)
}

/// Fewer selected rows than this are folded on one thread.
const MIN_ROWS_PER_WORKER: usize = 1 << 16;

/// How many threads fold tables: one per core.
fn worker_count() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// `items` cut into at most `workers` runs of consecutive items of about
/// the same number of rows (`rows_of` each); empty runs are left out.
fn split_by_rows<T>(items: &[T], workers: usize, rows_of: impl Fn(&T) -> usize) -> Vec<&[T]> {
    let total: usize = items.iter().map(&rows_of).sum();
    let per_worker = total.div_ceil(workers.max(1)).max(1);
    let mut shares = Vec::new();
    let (mut start, mut rows) = (0, 0);
    for (index, item) in items.iter().enumerate() {
        rows += rows_of(item);
        if rows >= per_worker || index + 1 == items.len() {
            shares.push(&items[start..=index]);
            start = index + 1;
            rows = 0;
        }
    }
    shares
}

/// `work` applied to each share, on threads of their own when there are
/// several; the results in share order.
fn in_parallel<T: Sync, R: Send>(shares: &[&[T]], work: impl Fn(&[T]) -> R + Sync) -> Vec<R> {
    if shares.len() <= 1 {
        return shares.iter().map(|share| work(share)).collect();
    }
    std::thread::scope(|scope| {
        let workers: Vec<_> = shares
            .iter()
            .map(|share| scope.spawn(|| work(share)))
            .collect();
        workers
            .into_iter()
            .map(|worker| {
                worker
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    })
}

// How errors name a table and what a column holds, for the submodules that
// read columns: one wording, whichever step finds the problem.

fn table_name(kind: TableKind) -> &'static str {
    match kind {
        TableKind::Events => "events",
        TableKind::Rollup => "rollup",
    }
}

fn column_kind_name(values: &ColumnValues) -> &'static str {
    match values {
        ColumnValues::Long(_) => "a long column",
        ColumnValues::Double(_) => "a double column",
        ColumnValues::String { .. } => "a string column",
        ColumnValues::Text(_) => "a text column",
        ColumnValues::Complex(_) => "a complex column",
    }
}

fn check_length(
    values: &ColumnValues,
    rows: usize,
    column: &str,
    table: &'static str,
) -> Result<(), ExecuteError> {
    if values.len() == rows {
        return Ok(());
    }
    Err(ExecuteError::DamagedColumn {
        column: column.to_owned(),
        table,
        problem: format!("it has {} values for {rows} rows", values.len()),
    })
}

#[cfg(test)]
mod tests;
