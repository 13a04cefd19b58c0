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
//! - `group_keys` — a group key column as small codes; a row of a
//!   multi-value dimension counts in the group of each of its values;
//! - `bucketing` — a row's time bucket, its `__time` truncated by the plan's
//!   granularity, and the empty buckets zero filling adds (with no group keys
//!   only, and at most [`MAX_ZERO_FILL_BUCKETS`]);
//! - `input` — what an aggregation reads in each kind of table: partial
//!   results in a rollup table, one event's value in an events table (a
//!   filtered aggregation reads what its inner one does, from only the rows
//!   its filter selects, see `scan`);
//! - `fold` — sums, minima and maxima in the plan's number type, as Druid
//!   computes them (a long sum truncates doubles and wraps on overflow;
//!   nulls are skipped; an empty group is null, its count 0);
//! - `groups` — the groups of every table merged, in result order: by time,
//!   then by keys, null first;
//! - `post_aggregation` — arithmetic over each row's aggregations, as Druid
//!   computes it;
//! - `having` — which result rows are kept, judged on their keys and values.

use strata_storage::segment::TableKind;
use strata_storage::segment::schema::SchemaError;
use strata_storage::spec::DataSourceSpec;

use crate::plan::{ArithmeticOperator, QueryPlan, ResultRow};
use crate::select::SelectError;
use crate::table::{ColumnValues, TableError, TableSource};

mod bucketing;
mod fold;
mod group_keys;
mod groups;
mod having;
mod input;
mod post_aggregation;
mod scan;
mod table_choice;
#[cfg(test)]
mod test_support;

use bucketing::Bucketing;
pub use bucketing::MAX_ZERO_FILL_BUCKETS;
use groups::Groups;
use having::{apply_having, check_having};
use input::check_metrics_supported;
use post_aggregation::compile_post_aggregations;
use scan::fold_table;
use table_choice::TableChoice;

/// The tables of one segment or one real-time chunk.
#[derive(Clone, Copy, Default)]
pub struct TableSet<'a> {
    pub events: Option<&'a dyn TableSource>,
    pub rollup: Option<&'a dyn TableSource>,
}

/// Why a plan could not be executed.
#[derive(Debug, thiserror::Error)]
pub enum ExecuteError {
    #[error(transparent)]
    Select(#[from] SelectError),
    #[error(transparent)]
    Table(#[from] TableError),
    #[error(
        "aggregation `{aggregation}` reads metric `{metric}`, a {metric_type} metric, which cannot be aggregated yet; aggregate a count, sum, min or max metric instead"
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
}

/// Runs the aggregate plan of `plan` over the rows of `sets`, which hold data
/// of the datasource `spec` describes. See the [module docs](self).
pub fn execute(
    plan: &QueryPlan,
    spec: &DataSourceSpec,
    sets: &[TableSet<'_>],
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
    for set in sets {
        if let Some(table) = choice.table_of(set) {
            fold_table(table, plan, spec, &bucketing, &mut groups)?;
        }
    }
    apply_having(aggregate, groups.into_rows(&post_aggregations))
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
