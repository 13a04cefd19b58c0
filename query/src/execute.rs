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
//! ```
//!
//! # Which table answers
//!
//! The rollup table is smaller, so a set answers from it whenever that gives
//! the answer the events would give — the answer is *exact*:
//!
//! - every group key and every filter column is a rollup dimension (a filter
//!   on `__time` needs event times, which rollup truncated);
//! - the plan's granularity is `all` or the spec's `queryGranularity` nests in
//!   it, and no interval bound cuts through a rollup bucket that holds rows;
//! - `Count` has a `count` metric to sum;
//! - each sum, min or max has a partial result in the rollup table it can be
//!   folded from: a sum of a count or sum metric (a long sum only of a long
//!   one: truncating partial sums of doubles is not truncating each event's
//!   value), a min of a min metric, a max of a max metric, or a min or max of
//!   a rollup dimension. A *sum* of a dimension is not exact: a rollup row
//!   stands for several events but holds the dimension once.
//!
//! Otherwise the set answers from its events table; a set with no events
//! table answers from its rollup table anyway, as Druid does (its rows carry
//! truncated times, a dimension outside rollup reads as null, and a column is
//! folded as stored).
//!
//! # What an aggregation reads
//!
//! The plan names logical columns. In a rollup table a metric's column holds
//! per-row partial results and `Count` sums the spec's count metric — it
//! counts events, not rollup rows. In an events table a metric `M` reads as
//! `M`'s value for one event: 1 for a count metric, the raw input column
//! named by `M`'s `fieldName` for a sum, min or max. Any other name reads the
//! column of that name; a column a table lacks is null. Sketch and first/last
//! metrics cannot be aggregated here yet.
//!
//! # Folding
//!
//! Sums, minima and maxima are computed in the plan's [`NumberType`]: a long
//! truncates each double input toward zero, as Druid's `longSum` does, and
//! wraps on overflow, as Java's `long` does; a float computes in 32 bits and
//! is returned widened to a double. Null inputs are skipped; a group with no
//! input is null, except `Count`, which is 0.
//!
//! # Groups
//!
//! A row's time bucket is its `__time` truncated by the plan's granularity
//! (`all`: the earliest interval start, Druid's timestamp for the one
//! bucket). A row of a multi-value dimension counts in the group of each of
//! its values (twice for a value it holds twice), as in Druid; rows grouped by
//! several multi-value dimensions count in every combination. With
//! `zero_fill` and no group keys every bucket of the intervals appears, empty
//! ones with their aggregations' empty values. Rows come out sorted by time,
//! then by keys, null first.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};

use strata_storage::granularity::Granularity;
use strata_storage::segment::TableKind;
use strata_storage::spec::{Aggregator, DataSourceSpec, NumericType};
use strata_storage::time::Millis;

use crate::plan::{
    AggregateFunction, AggregatePlan, Aggregation, ArithmeticOperator, Filter, KeyValue,
    NumberType, PostExpression, QueryPlan, ResultRow, ResultValue,
};
use crate::select::{SelectError, select_rows};
use crate::table::{ColumnValues, TableError, TableSource};

/// The most rows zero filling may make: beyond it the answer is too long to
/// read, and an open-ended interval would not end at all.
pub const MAX_ZERO_FILL_BUCKETS: usize = 1_000_000;

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
    let choice = TableChoice::new(plan, spec);
    let bucketing = Bucketing::new(plan);
    let mut groups = Groups::new(aggregate);
    if aggregate.zero_fill && aggregate.group_by.is_empty() {
        groups.zero_fill(plan, &bucketing)?;
    }
    for set in sets {
        if let Some(table) = choice.table_of(set) {
            fold_table(table, plan, spec, &bucketing, &mut groups)?;
        }
    }
    Ok(groups.into_rows(&post_aggregations))
}

/// Sketch and first/last metrics have no number to fold yet.
fn check_metrics_supported(
    aggregate: &AggregatePlan,
    spec: &DataSourceSpec,
) -> Result<(), ExecuteError> {
    for aggregation in &aggregate.aggregations {
        let Some(column) = aggregated_column(&aggregation.function) else {
            continue;
        };
        let Some(metric) = spec.metric(column) else {
            continue;
        };
        match metric.aggregator() {
            Aggregator::Count
            | Aggregator::Sum { .. }
            | Aggregator::Min { .. }
            | Aggregator::Max { .. } => {}
            unsupported => {
                return Err(ExecuteError::Unsupported {
                    aggregation: aggregation.name.clone(),
                    metric: metric.name().to_owned(),
                    metric_type: unsupported.druid_type(),
                });
            }
        }
    }
    Ok(())
}

fn aggregated_column(function: &AggregateFunction) -> Option<&str> {
    match function {
        AggregateFunction::Count => None,
        AggregateFunction::Sum { column, .. }
        | AggregateFunction::Min { column, .. }
        | AggregateFunction::Max { column, .. } => Some(column),
    }
}

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

/// Decides, per set, whether the rollup table answers (see
/// [Which table answers](self#which-table-answers)).
struct TableChoice {
    /// Whether the rollup table is exact for every part of the plan but the
    /// interval bounds, which depend on the rows a table holds.
    exact_but_bounds: bool,
    query_granularity: Granularity,
    bounds: Vec<Millis>,
}

impl TableChoice {
    fn new(plan: &QueryPlan, spec: &DataSourceSpec) -> Self {
        let aggregate = &plan.aggregate;
        let is_rollup_dimension =
            |column: &str| spec.rollup_dimensions().any(|dim| dim.name() == column);
        let mut filter_columns = Vec::new();
        if let Some(filter) = &plan.filter {
            collect_filter_columns(filter, &mut filter_columns);
        }
        let exact_but_bounds = aggregate
            .group_by
            .iter()
            .all(|key| is_rollup_dimension(&key.column))
            && filter_columns
                .iter()
                .all(|column| is_rollup_dimension(column))
            && spec.query_granularity().nests_in(&aggregate.granularity)
            && aggregate
                .aggregations
                .iter()
                .all(|aggregation| folds_exactly_from_rollup(&aggregation.function, spec));
        TableChoice {
            exact_but_bounds,
            query_granularity: *spec.query_granularity(),
            bounds: plan
                .intervals
                .iter()
                .flat_map(|interval| [interval.start(), interval.end()])
                .collect(),
        }
    }

    fn table_of<'a>(&self, set: &TableSet<'a>) -> Option<&'a dyn TableSource> {
        match (set.events, set.rollup) {
            (None, rollup) => rollup,
            (Some(_), Some(rollup)) if self.is_exact_on(rollup) => Some(rollup),
            (Some(events), _) => Some(events),
        }
    }

    /// Whether no interval bound cuts through a bucket of `rollup` that may
    /// hold rows: such a bucket's events are partly in and partly out.
    fn is_exact_on(&self, rollup: &dyn TableSource) -> bool {
        let range = rollup.time_range();
        self.exact_but_bounds
            && self.bounds.iter().all(|&bound| {
                let bucket = self.query_granularity.truncate(bound);
                bucket == bound || range.is_none_or(|(first, last)| bucket < first || bucket > last)
            })
    }
}

fn collect_filter_columns<'f>(filter: &'f Filter, columns: &mut Vec<&'f str>) {
    match filter {
        Filter::Equals { column, .. }
        | Filter::In { column, .. }
        | Filter::Range { column, .. }
        | Filter::Like { column, .. }
        | Filter::Regex { column, .. }
        | Filter::Contains { column, .. }
        | Filter::Intervals { column, .. } => columns.push(column),
        Filter::And(filters) | Filter::Or(filters) => {
            for filter in filters {
                collect_filter_columns(filter, columns);
            }
        }
        Filter::Not(filter) => collect_filter_columns(filter, columns),
    }
}

/// Whether folding the rollup table's partial results gives what folding
/// each event's value would.
fn folds_exactly_from_rollup(function: &AggregateFunction, spec: &DataSourceSpec) -> bool {
    let (column, is_max) = match function {
        AggregateFunction::Count => return count_metric(spec).is_some(),
        AggregateFunction::Sum { column, number } => {
            return match spec.metric(column).map(|metric| metric.aggregator()) {
                Some(Aggregator::Count) => true,
                Some(Aggregator::Sum { value_type, .. }) => {
                    *value_type == NumericType::Long || *number != NumberType::Long
                }
                _ => false,
            };
        }
        AggregateFunction::Min { column, .. } => (column, false),
        AggregateFunction::Max { column, .. } => (column, true),
    };
    // Truncation toward zero and narrowing to f32 keep order, so a min or
    // max of partial minima or maxima is exact in every number type.
    match spec.metric(column).map(|metric| metric.aggregator()) {
        Some(Aggregator::Min { .. }) => !is_max,
        Some(Aggregator::Max { .. }) => is_max,
        Some(_) => false,
        None => spec.rollup_dimensions().any(|dim| dim.name() == column),
    }
}

fn count_metric(spec: &DataSourceSpec) -> Option<&str> {
    spec.metrics()
        .iter()
        .find(|metric| *metric.aggregator() == Aggregator::Count)
        .map(|metric| metric.name())
}

/// How a row's `__time` becomes its bucket's timestamp.
enum Bucketing {
    /// One bucket, stamped with the earliest interval start.
    All(Millis),
    By(Granularity),
}

impl Bucketing {
    fn new(plan: &QueryPlan) -> Self {
        match plan.aggregate.granularity {
            Granularity::All => Bucketing::All(
                plan.intervals
                    .iter()
                    .map(|interval| interval.start())
                    .min()
                    .unwrap_or(Millis::MIN),
            ),
            granularity => Bucketing::By(granularity),
        }
    }

    fn bucket(&self, time: Millis) -> Millis {
        match self {
            Bucketing::All(start) => *start,
            Bucketing::By(granularity) => granularity.truncate(time),
        }
    }
}

/// Reads one table's selected rows and folds them into `groups`.
fn fold_table(
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

/// Calls `visit` with `prefix` followed by every combination of one code
/// from each of `choices`.
fn for_each_combination(choices: &[&[u32]], prefix: &mut Vec<u64>, visit: &mut impl FnMut(&[u64])) {
    match choices.split_first() {
        None => visit(prefix),
        Some((first, rest)) => {
            for &code in *first {
                prefix.push(u64::from(code));
                for_each_combination(rest, prefix, visit);
                prefix.pop();
            }
        }
    }
}

/// A group key column of one table, as codes into its distinct values.
struct KeyColumn {
    /// The distinct values, indexed by code.
    values: Vec<KeyValue>,
    /// The code of [`KeyValue::Null`].
    null: u32,
    rows: KeyRows,
}

enum KeyRows {
    /// The table lacks the column: every row is null.
    Absent,
    Single(Vec<u32>),
    /// Each row's codes; an empty row is null.
    Multi(Vec<Vec<u32>>),
}

impl KeyColumn {
    fn read(table: &dyn TableSource, column: &str, rows: usize) -> Result<Self, ExecuteError> {
        let table_name = table_name(table.kind());
        let Some(values) = table.read_column(column)? else {
            return Ok(KeyColumn {
                values: vec![KeyValue::Null],
                null: 0,
                rows: KeyRows::Absent,
            });
        };
        check_length(&values, rows, column, table_name)?;
        match values {
            ColumnValues::String { dictionary, rows } => {
                let damaged = |problem: String| ExecuteError::DamagedColumn {
                    column: column.to_owned(),
                    table: table_name,
                    problem,
                };
                let null = u32::try_from(dictionary.len()).map_err(|_| {
                    damaged(format!("its dictionary has {} values", dictionary.len()))
                })?;
                if let Some(id) = rows.iter().flatten().find(|&&id| id >= null) {
                    return Err(damaged(format!(
                        "a row holds value id {id}, past its dictionary of {null} values"
                    )));
                }
                let values = dictionary
                    .into_iter()
                    .map(KeyValue::String)
                    .chain([KeyValue::Null])
                    .collect();
                Ok(KeyColumn {
                    values,
                    null,
                    rows: KeyRows::Multi(rows),
                })
            }
            ColumnValues::Long(cells) => Ok(KeyColumn::from_cells(cells, KeyValue::Long)),
            ColumnValues::Double(cells) => Ok(KeyColumn::from_cells(cells, KeyValue::Double)),
            other @ (ColumnValues::Text(_) | ColumnValues::Complex(_)) => {
                Err(ExecuteError::CannotGroup {
                    column: column.to_owned(),
                    table: table_name,
                    kind: column_kind_name(&other),
                })
            }
        }
    }

    /// Codes a numeric column by its distinct values (doubles by their bits,
    /// so every value, `-0.0` and NaN included, is one group).
    fn from_cells<T: Copy + Bits>(cells: Vec<Option<T>>, key: fn(T) -> KeyValue) -> Self {
        let mut values = vec![KeyValue::Null];
        let mut codes: HashMap<u64, u32> = HashMap::new();
        let rows = cells
            .into_iter()
            .map(|cell| match cell {
                None => 0,
                Some(value) => *codes.entry(value.bits()).or_insert_with(|| {
                    values.push(key(value));
                    // At most one code per row, and rows are counted in u32.
                    (values.len() - 1) as u32
                }),
            })
            .collect();
        KeyColumn {
            values,
            null: 0,
            rows: KeyRows::Single(rows),
        }
    }

    /// The codes of a row's values: one, or several for a multi-value row.
    fn codes(&self, row: usize) -> &[u32] {
        let null = std::slice::from_ref(&self.null);
        match &self.rows {
            KeyRows::Absent => null,
            KeyRows::Single(codes) => codes.get(row).map_or(null, std::slice::from_ref),
            KeyRows::Multi(rows) => match rows.get(row) {
                Some(codes) if !codes.is_empty() => codes,
                _ => null,
            },
        }
    }

    fn value(&self, code: u64) -> KeyValue {
        usize::try_from(code)
            .ok()
            .and_then(|code| self.values.get(code))
            .cloned()
            .unwrap_or(KeyValue::Null)
    }
}

/// A number's identity as a hash key.
trait Bits {
    fn bits(self) -> u64;
}

impl Bits for i64 {
    fn bits(self) -> u64 {
        self as u64
    }
}

impl Bits for f64 {
    fn bits(self) -> u64 {
        self.to_bits()
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

/// What one aggregation reads from one table, per row.
enum Input {
    /// Every row counts once: an event of an events table, or a rollup row
    /// when there is no count metric to sum.
    Ones,
    /// The table lacks the column.
    Absent,
    Long(Vec<Option<i64>>),
    Double(Vec<Option<f64>>),
}

impl Input {
    fn read(
        table: &dyn TableSource,
        spec: &DataSourceSpec,
        aggregation: &Aggregation,
        rows: usize,
    ) -> Result<Self, ExecuteError> {
        let kind = table.kind();
        let column = match (&aggregation.function, kind) {
            (AggregateFunction::Count, TableKind::Events) => return Ok(Input::Ones),
            (AggregateFunction::Count, TableKind::Rollup) => match count_metric(spec) {
                Some(metric) => metric,
                None => return Ok(Input::Ones),
            },
            (
                AggregateFunction::Sum { column, .. }
                | AggregateFunction::Min { column, .. }
                | AggregateFunction::Max { column, .. },
                TableKind::Rollup,
            ) => column,
            (
                AggregateFunction::Sum { column, .. }
                | AggregateFunction::Min { column, .. }
                | AggregateFunction::Max { column, .. },
                TableKind::Events,
            ) => match spec.metric(column).map(|metric| metric.aggregator()) {
                Some(Aggregator::Count) => return Ok(Input::Ones),
                Some(aggregator) => aggregator.field_name().unwrap_or(column),
                None => column,
            },
        };
        let table_name = table_name(kind);
        let Some(values) = table.read_column(column)? else {
            return Ok(Input::Absent);
        };
        check_length(&values, rows, column, table_name)?;
        match values {
            ColumnValues::Long(values) => Ok(Input::Long(values)),
            ColumnValues::Double(values) => Ok(Input::Double(values)),
            other => Err(ExecuteError::NotNumeric {
                aggregation: aggregation.name.clone(),
                column: column.to_owned(),
                table: table_name,
                kind: column_kind_name(&other),
            }),
        }
    }

    fn value(&self, row: usize) -> Option<Number> {
        match self {
            Input::Ones => Some(Number::Long(1)),
            Input::Absent => None,
            Input::Long(values) => values.get(row).copied().flatten().map(Number::Long),
            Input::Double(values) => values.get(row).copied().flatten().map(Number::Double),
        }
    }
}

/// One input value, as the column held it.
#[derive(Debug, Clone, Copy)]
enum Number {
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
enum Fold {
    Sum,
    Min,
    Max,
}

/// One aggregation's running value in one group.
#[derive(Debug, Clone, Copy)]
enum Accumulator {
    Count(i64),
    Long(Fold, Option<i64>),
    Double(Fold, Option<f64>),
    Float(Fold, Option<f32>),
}

impl Accumulator {
    fn empty(function: &AggregateFunction) -> Self {
        let (fold, number) = match function {
            AggregateFunction::Count => return Accumulator::Count(0),
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

    fn add(&mut self, value: Number) {
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
    fn merge(&mut self, other: &Accumulator) {
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

    fn result(&self) -> ResultValue {
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

/// A group of the result: its bucket and key values, ordered as the result
/// rows are.
#[derive(Debug, Clone)]
struct GroupId {
    timestamp: Millis,
    keys: Vec<KeyValue>,
}

impl Ord for GroupId {
    fn cmp(&self, other: &Self) -> Ordering {
        self.timestamp.cmp(&other.timestamp).then_with(|| {
            self.keys
                .iter()
                .zip(&other.keys)
                .map(|(a, b)| compare_keys(a, b))
                .find(|ordering| ordering.is_ne())
                .unwrap_or_else(|| self.keys.len().cmp(&other.keys.len()))
        })
    }
}

impl PartialOrd for GroupId {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for GroupId {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for GroupId {}

/// Null first, then numbers by value, then strings by UTF-8 bytes. A long
/// and a double of the same value (one column typed differently by two
/// tables) stay two groups, the long first.
fn compare_keys(a: &KeyValue, b: &KeyValue) -> Ordering {
    fn rank(key: &KeyValue) -> u8 {
        match key {
            KeyValue::Null => 0,
            KeyValue::Long(_) | KeyValue::Double(_) => 1,
            KeyValue::String(_) => 2,
        }
    }
    match (a, b) {
        (KeyValue::Long(a), KeyValue::Long(b)) => a.cmp(b),
        (KeyValue::Double(a), KeyValue::Double(b)) => a.total_cmp(b),
        (KeyValue::Long(a), KeyValue::Double(b)) => {
            compare_long_to_double(*a, *b).then(Ordering::Less)
        }
        (KeyValue::Double(a), KeyValue::Long(b)) => compare_long_to_double(*b, *a)
            .reverse()
            .then(Ordering::Greater),
        (KeyValue::String(a), KeyValue::String(b)) => a.cmp(b),
        _ => rank(a).cmp(&rank(b)),
    }
}

/// Compares exactly, where `long as f64` would round: NaN sorts as
/// `total_cmp` puts it, at the end its sign picks.
fn compare_long_to_double(long: i64, double: f64) -> Ordering {
    // 2^63: the first double past every long.
    const TWO_TO_63: f64 = 9_223_372_036_854_775_808.0;
    if double.is_nan() {
        return if double.is_sign_negative() {
            Ordering::Greater
        } else {
            Ordering::Less
        };
    }
    let whole = double.trunc();
    if whole >= TWO_TO_63 {
        return Ordering::Less;
    }
    if whole < -TWO_TO_63 {
        return Ordering::Greater;
    }
    long.cmp(&(whole as i64)).then_with(|| {
        let fraction = double - whole;
        if fraction > 0.0 {
            Ordering::Less
        } else if fraction < 0.0 {
            Ordering::Greater
        } else {
            Ordering::Equal
        }
    })
}

/// The groups of the result, merged from every table.
struct Groups {
    /// One empty accumulator per aggregation, in plan order.
    empty: Vec<Accumulator>,
    groups: BTreeMap<GroupId, Vec<Accumulator>>,
}

impl Groups {
    fn new(aggregate: &AggregatePlan) -> Self {
        Groups {
            empty: aggregate
                .aggregations
                .iter()
                .map(|aggregation| Accumulator::empty(&aggregation.function))
                .collect(),
            groups: BTreeMap::new(),
        }
    }

    fn merge(&mut self, group: GroupId, accumulators: &[Accumulator]) {
        let merged = self
            .groups
            .entry(group)
            .or_insert_with(|| self.empty.clone());
        for (merged, accumulator) in merged.iter_mut().zip(accumulators) {
            merged.merge(accumulator);
        }
    }

    /// Adds an empty group for every bucket of the intervals.
    fn zero_fill(&mut self, plan: &QueryPlan, bucketing: &Bucketing) -> Result<(), ExecuteError> {
        let granularity = match bucketing {
            Bucketing::All(start) => {
                if !plan.intervals.is_empty() {
                    self.merge(
                        GroupId {
                            timestamp: *start,
                            keys: Vec::new(),
                        },
                        &[],
                    );
                }
                return Ok(());
            }
            Bucketing::By(granularity) => granularity,
        };
        for interval in &plan.intervals {
            for bucket in granularity.buckets(*interval) {
                if self.groups.len() >= MAX_ZERO_FILL_BUCKETS {
                    return Err(ExecuteError::TooManyBuckets {
                        granularity: granularity.to_string(),
                        limit: MAX_ZERO_FILL_BUCKETS,
                    });
                }
                self.merge(
                    GroupId {
                        timestamp: bucket.start(),
                        keys: Vec::new(),
                    },
                    &[],
                );
            }
        }
        Ok(())
    }

    fn into_rows(self, post_aggregations: &[PostValue]) -> Vec<ResultRow> {
        self.groups
            .into_iter()
            .map(|(group, accumulators)| {
                let mut values: Vec<ResultValue> =
                    accumulators.iter().map(Accumulator::result).collect();
                for post_aggregation in post_aggregations {
                    let value = post_aggregation.evaluate(&values);
                    values.push(value);
                }
                ResultRow {
                    timestamp: group.timestamp,
                    keys: group.keys,
                    values,
                }
            })
            .collect()
    }
}

/// A post-aggregation with its field names resolved to positions in the
/// row's values.
#[derive(Debug, Clone, PartialEq)]
enum PostValue {
    Field(usize),
    Constant(f64),
    Arithmetic {
        operator: ArithmeticOperator,
        operands: Vec<PostValue>,
    },
}

/// Resolves every post-aggregation before any row is read, so a plan with
/// an unknown name fails even when no row matches.
fn compile_post_aggregations(aggregate: &AggregatePlan) -> Result<Vec<PostValue>, ExecuteError> {
    let mut names: Vec<&str> = aggregate
        .aggregations
        .iter()
        .map(|aggregation| aggregation.name.as_str())
        .collect();
    let mut compiled = Vec::with_capacity(aggregate.post_aggregations.len());
    for post_aggregation in &aggregate.post_aggregations {
        compiled.push(PostValue::compile(
            &post_aggregation.expression,
            &names,
            &post_aggregation.name,
        )?);
        names.push(&post_aggregation.name);
    }
    Ok(compiled)
}

impl PostValue {
    fn compile(
        expression: &PostExpression,
        names: &[&str],
        post_aggregation: &str,
    ) -> Result<Self, ExecuteError> {
        match expression {
            // The latest of equal names: a post-aggregation shadows what it renames.
            PostExpression::Field(field) => names
                .iter()
                .rposition(|name| name == field)
                .map(PostValue::Field)
                .ok_or_else(|| ExecuteError::UnknownField {
                    post_aggregation: post_aggregation.to_owned(),
                    field: field.clone(),
                    known: if names.is_empty() {
                        "none".to_owned()
                    } else {
                        names.join(", ")
                    },
                }),
            PostExpression::Constant(value) => Ok(PostValue::Constant(*value)),
            PostExpression::Arithmetic { operator, operands } => {
                if operands.len() < 2 {
                    return Err(ExecuteError::TooFewOperands {
                        post_aggregation: post_aggregation.to_owned(),
                        operator: *operator,
                        operands: operands.len(),
                    });
                }
                Ok(PostValue::Arithmetic {
                    operator: *operator,
                    operands: operands
                        .iter()
                        .map(|operand| PostValue::compile(operand, names, post_aggregation))
                        .collect::<Result<_, _>>()?,
                })
            }
        }
    }

    fn evaluate(&self, values: &[ResultValue]) -> ResultValue {
        match self {
            PostValue::Field(index) => values.get(*index).copied().unwrap_or(ResultValue::Null),
            PostValue::Constant(value) => ResultValue::Double(*value),
            PostValue::Arithmetic { operator, operands } => {
                let mut operands = operands
                    .iter()
                    .map(|operand| as_double(operand.evaluate(values)));
                let Some(Some(mut result)) = operands.next() else {
                    return ResultValue::Null;
                };
                for operand in operands {
                    let Some(operand) = operand else {
                        return ResultValue::Null;
                    };
                    result = apply(*operator, result, operand);
                }
                ResultValue::Double(result)
            }
        }
    }
}

fn as_double(value: ResultValue) -> Option<f64> {
    match value {
        ResultValue::Null => None,
        ResultValue::Long(value) => Some(value as f64),
        ResultValue::Double(value) => Some(value),
    }
}

fn apply(operator: ArithmeticOperator, left: f64, right: f64) -> f64 {
    match operator {
        ArithmeticOperator::Add => left + right,
        ArithmeticOperator::Subtract => left - right,
        ArithmeticOperator::Multiply => left * right,
        ArithmeticOperator::Divide if right == 0.0 => 0.0,
        ArithmeticOperator::Divide | ArithmeticOperator::Quotient => left / right,
        ArithmeticOperator::Power => left.powf(right),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;
    use strata_storage::segment::{CellValue, ColumnKind, ColumnSchema, TableSchema};
    use strata_storage::time::{Interval, MILLIS_PER_HOUR, MILLIS_PER_MINUTE};

    use super::*;
    use crate::mem_table::{MemTable, MemTableBuilder};
    use crate::plan::{GroupKey, PostAggregation};

    /// Every kind of dimension the executor treats apart: a string one, a
    /// multi-value one, one outside rollup, a long one.
    const SPEC: &str = r#"{
        "dataSource": "web",
        "dimensionsSpec": {"dimensions": [
            "host",
            "tags",
            {"type": "string", "name": "user", "rollup": false},
            {"type": "long", "name": "status"}
        ]},
        "metricsSpec": [
            {"type": "count", "name": "count"},
            {"type": "longSum", "name": "bytes", "fieldName": "bytes"},
            {"type": "doubleSum", "name": "latency_sum", "fieldName": "latency"},
            {"type": "longMin", "name": "bytes_min", "fieldName": "bytes"},
            {"type": "doubleMax", "name": "latency_max", "fieldName": "latency"}
        ],
        "granularitySpec": {"segmentGranularity": "day", "queryGranularity": "minute", "rollup": true}
    }"#;

    /// 2024-01-01T00:00:00Z.
    const T0: Millis = 1_704_067_200_000;

    fn spec() -> DataSourceSpec {
        DataSourceSpec::from_json(SPEC).unwrap()
    }

    #[derive(Debug, Clone, PartialEq)]
    struct Event {
        time: Millis,
        host: Option<String>,
        /// Sorted, duplicates kept: the spec's default `SORTED_ARRAY`.
        tags: Vec<String>,
        user: Option<String>,
        status: Option<i64>,
        bytes: Option<i64>,
        latency: Option<f64>,
    }

    fn event(time: Millis, host: Option<&str>, tags: &[&str], user: Option<&str>) -> Event {
        Event {
            time,
            host: host.map(str::to_owned),
            tags: tags.iter().map(|tag| (*tag).to_owned()).collect(),
            user: user.map(str::to_owned),
            status: Some(200),
            bytes: Some(10),
            latency: Some(1.5),
        }
    }

    fn string(kind_multi_value: bool) -> ColumnKind {
        ColumnKind::String {
            multi_value: kind_multi_value,
        }
    }

    /// `ingest::table_layout`'s events table for [`SPEC`]: every dimension,
    /// then one raw input column per metric input field.
    fn events_table(events: &[Event]) -> MemTable {
        let schema = TableSchema::new(vec![
            ColumnSchema::new("host", string(false)),
            ColumnSchema::new("tags", string(true)),
            ColumnSchema::new("user", string(false)),
            ColumnSchema::new("status", ColumnKind::Long),
            ColumnSchema::new("bytes", ColumnKind::Long),
            ColumnSchema::new("latency", ColumnKind::Double),
        ])
        .unwrap();
        let mut builder = MemTableBuilder::new(TableKind::Events, schema);
        for event in events {
            let tags: Vec<&str> = event.tags.iter().map(String::as_str).collect();
            builder
                .append_row(
                    event.time,
                    &[
                        str_cell(&event.host),
                        CellValue::Strs(&tags),
                        str_cell(&event.user),
                        long_cell(event.status),
                        long_cell(event.bytes),
                        double_cell(event.latency),
                    ],
                )
                .unwrap();
        }
        builder.finish()
    }

    /// One rollup row's metrics.
    #[derive(Default)]
    struct RolledUp {
        count: i64,
        bytes: Option<i64>,
        latency_sum: Option<f64>,
        bytes_min: Option<i64>,
        latency_max: Option<f64>,
    }

    /// `ingest::table_layout`'s rollup table for [`SPEC`]: the events
    /// grouped by (minute, host, tags, status), one column per metric.
    fn rollup_table(events: &[Event]) -> MemTable {
        type Key = (Millis, Option<String>, Vec<String>, Option<i64>);
        let mut rows: BTreeMap<Key, RolledUp> = BTreeMap::new();
        for event in events {
            let minute = event.time - event.time.rem_euclid(MILLIS_PER_MINUTE);
            let key = (minute, event.host.clone(), event.tags.clone(), event.status);
            let row = rows.entry(key).or_default();
            row.count += 1;
            if let Some(bytes) = event.bytes {
                row.bytes = Some(row.bytes.unwrap_or(0).wrapping_add(bytes));
                row.bytes_min = Some(row.bytes_min.map_or(bytes, |min| min.min(bytes)));
            }
            if let Some(latency) = event.latency {
                row.latency_sum = Some(row.latency_sum.unwrap_or(0.0) + latency);
                row.latency_max = Some(row.latency_max.map_or(latency, |max| max.max(latency)));
            }
        }
        let schema = TableSchema::new(vec![
            ColumnSchema::new("host", string(false)),
            ColumnSchema::new("tags", string(true)),
            ColumnSchema::new("status", ColumnKind::Long),
            ColumnSchema::new("count", ColumnKind::Long),
            ColumnSchema::new("bytes", ColumnKind::Long),
            ColumnSchema::new("latency_sum", ColumnKind::Double),
            ColumnSchema::new("bytes_min", ColumnKind::Long),
            ColumnSchema::new("latency_max", ColumnKind::Double),
        ])
        .unwrap();
        let mut builder = MemTableBuilder::new(TableKind::Rollup, schema);
        for ((time, host, tags, status), row) in &rows {
            let tags: Vec<&str> = tags.iter().map(String::as_str).collect();
            builder
                .append_row(
                    *time,
                    &[
                        str_cell(host),
                        CellValue::Strs(&tags),
                        long_cell(*status),
                        CellValue::Long(row.count),
                        long_cell(row.bytes),
                        double_cell(row.latency_sum),
                        long_cell(row.bytes_min),
                        double_cell(row.latency_max),
                    ],
                )
                .unwrap();
        }
        builder.finish()
    }

    fn str_cell(value: &Option<String>) -> CellValue<'_> {
        value.as_deref().map_or(CellValue::Null, CellValue::Str)
    }

    fn long_cell(value: Option<i64>) -> CellValue<'static> {
        value.map_or(CellValue::Null, CellValue::Long)
    }

    fn double_cell(value: Option<f64>) -> CellValue<'static> {
        value.map_or(CellValue::Null, CellValue::Double)
    }

    // ---- The oracle: the plan computed straight from the events. ----

    /// A group key value, ordered as the result is: null, numbers, strings.
    #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
    enum OracleKey {
        Null,
        Long(i64),
        String(String),
    }

    fn dimension_values(event: &Event, column: &str) -> Vec<OracleKey> {
        let one = |value: Option<OracleKey>| vec![value.unwrap_or(OracleKey::Null)];
        match column {
            "host" => one(event.host.clone().map(OracleKey::String)),
            "user" => one(event.user.clone().map(OracleKey::String)),
            "status" => one(event.status.map(OracleKey::Long)),
            "tags" if event.tags.is_empty() => vec![OracleKey::Null],
            "tags" => event.tags.iter().cloned().map(OracleKey::String).collect(),
            _ => vec![OracleKey::Null],
        }
    }

    /// What one event contributes to a sum, min or max of `column`.
    fn event_value(event: &Event, column: &str) -> Option<Number> {
        match column {
            "count" => Some(Number::Long(1)),
            "bytes" | "bytes_min" => event.bytes.map(Number::Long),
            "latency" | "latency_sum" | "latency_max" => event.latency.map(Number::Double),
            "status" => event.status.map(Number::Long),
            _ => None,
        }
    }

    fn oracle_aggregate(function: &AggregateFunction, events: &[&Event]) -> ResultValue {
        let (fold, column, number) = match function {
            AggregateFunction::Count => return ResultValue::Long(events.len() as i64),
            AggregateFunction::Sum { column, number } => (Fold::Sum, column, number),
            AggregateFunction::Min { column, number } => (Fold::Min, column, number),
            AggregateFunction::Max { column, number } => (Fold::Max, column, number),
        };
        let values: Vec<Number> = events
            .iter()
            .filter_map(|event| event_value(event, column))
            .collect();
        if values.is_empty() {
            return ResultValue::Null;
        }
        match number {
            NumberType::Long => {
                let longs = values.iter().map(|value| match *value {
                    Number::Long(long) => long,
                    Number::Double(double) => double.trunc() as i64,
                });
                ResultValue::Long(match fold {
                    Fold::Sum => longs.fold(0, i64::wrapping_add),
                    Fold::Min => longs.min().unwrap(),
                    Fold::Max => longs.max().unwrap(),
                })
            }
            NumberType::Double => {
                let doubles = values.iter().map(|value| match *value {
                    Number::Long(long) => long as f64,
                    Number::Double(double) => double,
                });
                ResultValue::Double(match fold {
                    Fold::Sum => doubles.sum(),
                    Fold::Min => doubles.fold(f64::INFINITY, f64::min),
                    Fold::Max => doubles.fold(f64::NEG_INFINITY, f64::max),
                })
            }
            NumberType::Float => {
                let floats = values.iter().map(|value| match *value {
                    Number::Long(long) => long as f32,
                    Number::Double(double) => double as f32,
                });
                ResultValue::Double(f64::from(match fold {
                    Fold::Sum => floats.sum::<f32>(),
                    Fold::Min => floats.fold(f32::INFINITY, f32::min),
                    Fold::Max => floats.fold(f32::NEG_INFINITY, f32::max),
                }))
            }
        }
    }

    fn oracle_post(
        expression: &PostExpression,
        named: &BTreeMap<String, ResultValue>,
    ) -> ResultValue {
        match expression {
            PostExpression::Field(name) => named[name],
            PostExpression::Constant(value) => ResultValue::Double(*value),
            PostExpression::Arithmetic { operator, operands } => {
                let mut numbers = Vec::new();
                for operand in operands {
                    match oracle_post(operand, named) {
                        ResultValue::Null => return ResultValue::Null,
                        ResultValue::Long(value) => numbers.push(value as f64),
                        ResultValue::Double(value) => numbers.push(value),
                    }
                }
                let result = numbers[1..]
                    .iter()
                    .fold(numbers[0], |left, &right| match operator {
                        ArithmeticOperator::Add => left + right,
                        ArithmeticOperator::Subtract => left - right,
                        ArithmeticOperator::Multiply => left * right,
                        ArithmeticOperator::Divide => {
                            if right == 0.0 {
                                0.0
                            } else {
                                left / right
                            }
                        }
                        ArithmeticOperator::Quotient => left / right,
                        ArithmeticOperator::Power => left.powf(right),
                    });
                ResultValue::Double(result)
            }
        }
    }

    /// Every granularity the properties use but `all`, as the length of
    /// its buckets on a grid anchored at the epoch.
    fn granularities() -> [(Granularity, i64); 4] {
        let ninety_seconds =
            Granularity::from_json(&serde_json::json!({"type": "duration", "duration": 90_000}))
                .unwrap();
        [
            (Granularity::SECOND, 1_000),
            (Granularity::MINUTE, MILLIS_PER_MINUTE),
            (ninety_seconds, 90_000),
            (Granularity::HOUR, MILLIS_PER_HOUR),
        ]
    }

    fn bucket_length(granularity: &Granularity) -> i64 {
        granularities()
            .into_iter()
            .chain([
                (Granularity::FIVE_MINUTE, 5 * MILLIS_PER_MINUTE),
                (Granularity::None, 1),
            ])
            .find(|(known, _)| known == granularity)
            .map(|(_, length)| length)
            .unwrap()
    }

    fn oracle_truncate(granularity: &Granularity, time: Millis) -> Millis {
        time - time.rem_euclid(bucket_length(granularity))
    }

    fn oracle_buckets(granularity: &Granularity, interval: Interval) -> Vec<Millis> {
        let step = bucket_length(granularity);
        let mut start = oracle_truncate(granularity, interval.start());
        let mut buckets = Vec::new();
        while start < interval.end() {
            buckets.push(start);
            start += step;
        }
        buckets
    }

    /// The filters the tests use, in SQL's three-valued logic: `None` is
    /// UNKNOWN, which a condition on a null value is.
    fn oracle_filter(filter: &Filter, event: &Event) -> Option<bool> {
        match filter {
            Filter::Equals { column, value } => {
                let values: Vec<String> = dimension_values(event, column)
                    .into_iter()
                    .filter_map(|value| match value {
                        OracleKey::Null => None,
                        OracleKey::Long(long) => Some(long.to_string()),
                        OracleKey::String(string) => Some(string),
                    })
                    .collect();
                match value {
                    None => Some(values.is_empty()),
                    Some(_) if values.is_empty() => None,
                    Some(wanted) => Some(values.contains(wanted)),
                }
            }
            Filter::Not(filter) => oracle_filter(filter, event).map(|passes| !passes),
            Filter::Intervals { column, intervals } if column == "__time" => Some(
                intervals
                    .iter()
                    .any(|interval| interval.contains(event.time)),
            ),
            other => unreachable!("the tests use no {other:?}"),
        }
    }

    fn oracle(plan: &QueryPlan, events: &[Event]) -> Vec<ResultRow> {
        let aggregate = &plan.aggregate;
        let all_start = plan.intervals.iter().map(Interval::start).min().unwrap();
        let mut groups: BTreeMap<(Millis, Vec<OracleKey>), Vec<&Event>> = BTreeMap::new();
        if aggregate.zero_fill && aggregate.group_by.is_empty() {
            if aggregate.granularity == Granularity::All {
                groups.insert((all_start, Vec::new()), Vec::new());
            }
            for interval in &plan.intervals {
                if aggregate.granularity != Granularity::All {
                    for bucket in oracle_buckets(&aggregate.granularity, *interval) {
                        groups.entry((bucket, Vec::new())).or_default();
                    }
                }
            }
        }
        for event in events {
            let passes = plan
                .filter
                .as_ref()
                .is_none_or(|filter| oracle_filter(filter, event) == Some(true));
            if !passes
                || !plan
                    .intervals
                    .iter()
                    .any(|interval| interval.contains(event.time))
            {
                continue;
            }
            let bucket = if aggregate.granularity == Granularity::All {
                all_start
            } else {
                oracle_truncate(&aggregate.granularity, event.time)
            };
            let mut combinations: Vec<Vec<OracleKey>> = vec![Vec::new()];
            for key in &aggregate.group_by {
                combinations = combinations
                    .into_iter()
                    .flat_map(|prefix| {
                        dimension_values(event, &key.column)
                            .into_iter()
                            .map(move |value| {
                                let mut keys = prefix.clone();
                                keys.push(value);
                                keys
                            })
                    })
                    .collect();
            }
            for keys in combinations {
                groups.entry((bucket, keys)).or_default().push(event);
            }
        }
        groups
            .into_iter()
            .map(|((timestamp, keys), events)| {
                let mut named = BTreeMap::new();
                let mut values = Vec::new();
                for aggregation in &aggregate.aggregations {
                    let value = oracle_aggregate(&aggregation.function, &events);
                    named.insert(aggregation.name.clone(), value);
                    values.push(value);
                }
                for post in &aggregate.post_aggregations {
                    let value = oracle_post(&post.expression, &named);
                    named.insert(post.name.clone(), value);
                    values.push(value);
                }
                ResultRow {
                    timestamp,
                    keys: keys
                        .into_iter()
                        .map(|key| match key {
                            OracleKey::Null => KeyValue::Null,
                            OracleKey::Long(value) => KeyValue::Long(value),
                            OracleKey::String(value) => KeyValue::String(value),
                        })
                        .collect(),
                    values,
                }
            })
            .collect()
    }

    fn close(actual: f64, expected: f64) -> bool {
        actual == expected
            || (actual.is_nan() && expected.is_nan())
            || (actual - expected).abs() <= 1e-9 * actual.abs().max(expected.abs()).max(1.0)
    }

    fn rows_match(actual: &[ResultRow], expected: &[ResultRow]) -> Result<(), String> {
        if actual.len() != expected.len() {
            return Err(format!(
                "{} rows, expected {}:\n{actual:#?}\nexpected:\n{expected:#?}",
                actual.len(),
                expected.len()
            ));
        }
        for (actual, expected) in actual.iter().zip(expected) {
            let values_match = actual.values.len() == expected.values.len()
                && actual
                    .values
                    .iter()
                    .zip(&expected.values)
                    .all(|pair| match pair {
                        (ResultValue::Double(a), ResultValue::Double(b)) => close(*a, *b),
                        (a, b) => a == b,
                    });
            if actual.timestamp != expected.timestamp
                || actual.keys != expected.keys
                || !values_match
            {
                return Err(format!("row {actual:?}, expected {expected:?}"));
            }
        }
        Ok(())
    }

    fn plan(
        granularity: Granularity,
        intervals: Vec<Interval>,
        group_by: &[&str],
        aggregations: Vec<AggregateFunction>,
    ) -> QueryPlan {
        QueryPlan {
            datasource: "web".into(),
            intervals,
            filter: None,
            aggregate: AggregatePlan {
                granularity,
                group_by: group_by
                    .iter()
                    .map(|column| GroupKey {
                        column: (*column).to_owned(),
                        output_name: (*column).to_owned(),
                    })
                    .collect(),
                aggregations: aggregations
                    .into_iter()
                    .enumerate()
                    .map(|(i, function)| Aggregation {
                        name: format!("a{i}"),
                        function,
                    })
                    .collect(),
                post_aggregations: Vec::new(),
                zero_fill: false,
            },
        }
    }

    fn sum(column: &str, number: NumberType) -> AggregateFunction {
        AggregateFunction::Sum {
            column: column.into(),
            number,
        }
    }

    fn min(column: &str, number: NumberType) -> AggregateFunction {
        AggregateFunction::Min {
            column: column.into(),
            number,
        }
    }

    fn max(column: &str, number: NumberType) -> AggregateFunction {
        AggregateFunction::Max {
            column: column.into(),
            number,
        }
    }

    fn interval(start: Millis, end: Millis) -> Interval {
        Interval::new(start, end).unwrap()
    }

    fn hours(from: i64, to: i64) -> Vec<Interval> {
        vec![interval(
            T0 + from * MILLIS_PER_HOUR,
            T0 + to * MILLIS_PER_HOUR,
        )]
    }

    // ---- Properties ----

    fn any_event() -> impl Strategy<Value = Event> {
        // Most events crowd into a few minutes and a few dimension values,
        // so rollup rows hold several events and partial results differ
        // from single events.
        let hosts = prop_oneof![6 => Just(Some("a")), 1 => Just(Some("b")), 1 => Just(None)];
        let tags = prop_oneof![
            4 => Just(vec![]),
            4 => Just(vec!["x"]),
            1 => Just(vec!["x", "y"]),
            1 => Just(vec!["y", "y"]),
        ];
        let times = prop_oneof![
            1 => 0..3 * MILLIS_PER_HOUR,
            3 => (prop::sample::select(vec![0_i64, 1, 59, 60, 61, 150]), 0..MILLIS_PER_MINUTE)
                .prop_map(|(minute, millis)| minute * MILLIS_PER_MINUTE + millis),
        ];
        let users = prop::sample::select(vec!["u1", "u2"]);
        let statuses = prop_oneof![6 => Just(Some(200_i64)), 1 => Just(Some(404)), 1 => Just(None)];
        (
            times,
            hosts,
            tags,
            prop::option::weighted(0.85, users),
            statuses,
            prop::option::weighted(0.85, -1_000_i64..100_000),
            // Quarters: every sum below is exact in f32 and f64, so only the
            // fold order could differ, and it does not matter.
            prop::option::weighted(0.85, -400_i32..4_000),
        )
            .prop_map(
                |(offset, host, tags, user, status, bytes, quarters)| Event {
                    time: T0 + offset,
                    host: host.map(str::to_owned),
                    tags: tags.into_iter().map(str::to_owned).collect(),
                    user: user.map(str::to_owned),
                    status,
                    bytes,
                    latency: quarters.map(|quarters| f64::from(quarters) / 4.0),
                },
            )
    }

    /// Intervals aligned to minutes (which the rollup table answers) or not,
    /// in proportion `aligned : 1`.
    fn any_interval(aligned_weight: u32) -> impl Strategy<Value = Interval> {
        let aligned = (-10_i64..200, 1_i64..120).prop_map(|(start, length)| {
            let start = T0 + start * MILLIS_PER_MINUTE;
            interval(start, start + length * MILLIS_PER_MINUTE)
        });
        let unaligned = (
            -MILLIS_PER_HOUR..4 * MILLIS_PER_HOUR,
            1..2 * MILLIS_PER_HOUR,
        )
            .prop_map(|(start, length)| interval(T0 + start, T0 + start + length));
        prop_oneof![aligned_weight => aligned, 1 => unaligned]
    }

    fn any_function() -> impl Strategy<Value = AggregateFunction> {
        let columns = prop::sample::select(vec![
            "count",
            "bytes",
            "latency_sum",
            "bytes_min",
            "latency_max",
            "latency",
            "status",
            "nope",
        ]);
        let numbers = prop::sample::select(vec![
            NumberType::Long,
            NumberType::Double,
            NumberType::Float,
        ]);
        prop_oneof![
            1 => Just(AggregateFunction::Count),
            6 => (0..3_u8, columns, numbers).prop_map(|(fold, column, number)| match fold {
                0 => sum(column, number),
                1 => min(column, number),
                _ => max(column, number),
            }),
        ]
    }

    /// An equality (or its negation) on a dimension, in or out of rollup.
    fn any_filter() -> impl Strategy<Value = Filter> {
        let columns = prop::sample::select(vec!["host", "tags", "user", "status"]);
        let values = prop::sample::select(vec![
            Some("a"),
            Some("x"),
            Some("y"),
            Some("u1"),
            Some("200"),
            None,
        ]);
        (columns, values, any::<bool>()).prop_map(|(column, value, negated)| {
            let equals = Filter::Equals {
                column: column.into(),
                value: value.map(str::to_owned),
            };
            if negated {
                Filter::Not(Box::new(equals))
            } else {
                equals
            }
        })
    }

    /// The functions the rollup table answers exactly.
    fn foldable_function() -> impl Strategy<Value = AggregateFunction> {
        let numbers = prop::sample::select(vec![
            NumberType::Long,
            NumberType::Double,
            NumberType::Float,
        ]);
        prop_oneof![
            Just(AggregateFunction::Count),
            (
                prop::sample::select(vec!["count", "bytes"]),
                numbers.clone()
            )
                .prop_map(|(column, number)| sum(column, number)),
            prop::sample::select(vec![NumberType::Double, NumberType::Float])
                .prop_map(|number| sum("latency_sum", number)),
            (
                prop::sample::select(vec!["bytes_min", "status"]),
                numbers.clone()
            )
                .prop_map(|(column, number)| min(column, number)),
            (prop::sample::select(vec!["latency_max", "status"]), numbers)
                .prop_map(|(column, number)| max(column, number)),
        ]
    }

    /// Functions the rollup table cannot answer exactly, each next to one
    /// it can.
    fn near_miss_function() -> impl Strategy<Value = AggregateFunction> {
        let numbers = prop::sample::select(vec![
            NumberType::Long,
            NumberType::Double,
            NumberType::Float,
        ]);
        let near_misses = prop::sample::select(vec![
            (Fold::Sum, "status"),
            (Fold::Sum, "bytes_min"),
            (Fold::Max, "bytes_min"),
            (Fold::Sum, "latency_max"),
            (Fold::Min, "latency_max"),
            (Fold::Min, "bytes"),
            (Fold::Max, "latency_sum"),
            (Fold::Min, "count"),
            (Fold::Max, "count"),
            (Fold::Max, "latency"),
        ]);
        prop_oneof![
            5 => (near_misses, numbers).prop_map(|((fold, column), number)| match fold {
                Fold::Sum => sum(column, number),
                Fold::Min => min(column, number),
                Fold::Max => max(column, number),
            }),
            // Truncating a partial sum is not truncating each event's value.
            1 => Just(sum("latency_sum", NumberType::Long)),
        ]
    }

    /// An operand: an aggregation by index (taken modulo their number) or a
    /// constant, zero included to reach division by zero.
    fn any_operand() -> impl Strategy<Value = Result<usize, f64>> {
        prop_oneof![
            3 => (0..5_usize).prop_map(Ok),
            1 => prop::sample::select(vec![0.0, 2.0, -0.5]).prop_map(Err),
        ]
    }

    /// Any plan, or with `rollup_friendly` one that mostly folds exactly from
    /// the rollup table — so that a near miss, one part the rollup table
    /// cannot answer, is common.
    fn any_plan(rollup_friendly: bool) -> impl Strategy<Value = QueryPlan> {
        let all_granularities: Vec<Granularity> = granularities()
            .into_iter()
            .map(|(granularity, _)| granularity)
            .chain([Granularity::All])
            .collect();
        let (functions, aligned_weight, granularities, group_columns) = if rollup_friendly {
            (
                prop_oneof![
                    4 => foldable_function(),
                    3 => near_miss_function(),
                    1 => any_function(),
                ]
                .boxed(),
                3,
                vec![
                    Granularity::MINUTE,
                    Granularity::HOUR,
                    Granularity::All,
                    Granularity::MINUTE,
                    Granularity::HOUR,
                    Granularity::All,
                    Granularity::SECOND,
                ],
                // Repeated names may both be drawn: grouping twice by one
                // dimension is a plan too.
                vec!["host", "tags", "status", "host", "tags", "status", "user"],
            )
        } else {
            (
                any_function().boxed(),
                1,
                all_granularities,
                vec!["host", "tags", "user", "status"],
            )
        };
        let granularities = prop::sample::select(granularities);
        let group_by = prop::sample::subsequence(group_columns, 0..=2).prop_shuffle();
        let operators = prop::sample::select(vec![
            ArithmeticOperator::Add,
            ArithmeticOperator::Subtract,
            ArithmeticOperator::Multiply,
            ArithmeticOperator::Divide,
            ArithmeticOperator::Quotient,
            ArithmeticOperator::Power,
        ]);
        let post = prop::option::of((
            operators,
            prop::collection::vec(any_operand(), 2..=3),
            any::<bool>(),
        ));
        (
            granularities,
            prop::collection::vec(any_interval(aligned_weight), 1..=2),
            group_by,
            prop::collection::vec(functions, 1..=5),
            post,
            any::<bool>(),
            prop::option::weighted(0.3, any_filter()),
        )
            .prop_map(
                |(granularity, intervals, group_by, functions, post, zero_fill, filter)| {
                    let count = functions.len();
                    let mut plan = plan(granularity, intervals, &group_by, functions);
                    plan.aggregate.zero_fill = zero_fill;
                    plan.filter = filter;
                    if let Some((operator, operands, chained)) = post {
                        let operands = operands
                            .into_iter()
                            .map(|operand| match operand {
                                Ok(index) => PostExpression::Field(format!("a{}", index % count)),
                                Err(constant) => PostExpression::Constant(constant),
                            })
                            .collect();
                        plan.aggregate.post_aggregations.push(PostAggregation {
                            name: "p0".into(),
                            expression: PostExpression::Arithmetic { operator, operands },
                        });
                        if chained {
                            plan.aggregate.post_aggregations.push(PostAggregation {
                                name: "p1".into(),
                                expression: PostExpression::Arithmetic {
                                    operator: ArithmeticOperator::Divide,
                                    operands: vec![
                                        PostExpression::Field("p0".into()),
                                        PostExpression::Field("a0".into()),
                                    ],
                                },
                            });
                        }
                    }
                    plan
                },
            )
    }

    /// Deals the events out to `with_rollup.len()` sets by `owners`; each
    /// set has an events table, and a rollup table where `with_rollup` says.
    fn split(
        events: &[Event],
        owners: &[usize],
        with_rollup: &[bool],
    ) -> Vec<(MemTable, Option<MemTable>)> {
        with_rollup
            .iter()
            .enumerate()
            .map(|(set, &with_rollup_table)| {
                let mine: Vec<Event> = events
                    .iter()
                    .zip(owners)
                    .filter(|(_, owner)| **owner % with_rollup.len() == set)
                    .map(|(event, _)| event.clone())
                    .collect();
                let rollup = with_rollup_table.then(|| rollup_table(&mine));
                (events_table(&mine), rollup)
            })
            .collect()
    }

    fn table_sets(tables: &[(MemTable, Option<MemTable>)]) -> Vec<TableSet<'_>> {
        tables
            .iter()
            .map(|(events, rollup)| TableSet {
                events: Some(events as &dyn TableSource),
                rollup: rollup.as_ref().map(|rollup| rollup as &dyn TableSource),
            })
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1024))]

        /// Whatever table each set answers from, the rows are the ones the
        /// events themselves give.
        #[test]
        fn execution_agrees_with_the_events(
            events in prop::collection::vec(any_event(), 0..60),
            owners in prop::collection::vec(0..4_usize, 60),
            with_rollup in prop::collection::vec(any::<bool>(), 1..=4),
            plan in prop_oneof![any_plan(false), any_plan(true)],
        ) {
            let tables = split(&events, &owners, &with_rollup);
            let actual = execute(&plan, &spec(), &table_sets(&tables)).unwrap();
            let expected = oracle(&plan, &events);
            if let Err(mismatch) = rows_match(&actual, &expected) {
                return Err(TestCaseError::fail(format!("{plan:#?}\n{mismatch}")));
            }
        }
    }

    // ---- Which table answers ----

    /// Two rollup rows of two events each in the first hour, one in the
    /// second.
    fn fixture() -> Vec<Event> {
        let at = |seconds: i64| T0 + seconds * 1_000;
        vec![
            Event {
                bytes: Some(10),
                latency: Some(1.5),
                ..event(at(1), Some("a"), &["x"], Some("u1"))
            },
            Event {
                bytes: Some(30),
                latency: Some(2.75),
                ..event(at(20), Some("a"), &["x"], Some("u2"))
            },
            Event {
                status: Some(404),
                bytes: Some(5),
                latency: Some(0.5),
                ..event(at(61), Some("b"), &["x", "y"], Some("u1"))
            },
            Event {
                status: Some(404),
                bytes: None,
                latency: None,
                ..event(at(62), Some("b"), &["x", "y"], None)
            },
            Event {
                bytes: Some(7),
                latency: Some(-1.25),
                ..event(at(3_605), Some("a"), &[], Some("u1"))
            },
            Event {
                bytes: Some(8),
                latency: Some(3.25),
                ..event(at(3_650), Some("a"), &[], Some("u2"))
            },
        ]
    }

    /// Other events, so that a table of them gives other answers to every
    /// plan below.
    fn wrong(events: &[Event]) -> Vec<Event> {
        let mut wrong: Vec<Event> = events
            .iter()
            .map(|event| Event {
                user: Some("u3".into()),
                status: event.status.map(|status| status + 1),
                bytes: event.bytes.map(|bytes| bytes * 2 + 1),
                latency: event.latency.map(|latency| latency * 2.0 + 1.0),
                ..event.clone()
            })
            .collect();
        wrong.extend(events.first().cloned());
        wrong
    }

    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Answers {
        Rollup,
        Events,
    }

    #[test]
    fn each_set_answers_from_its_rollup_table_exactly_when_that_is_exact() {
        use Answers::{Events, Rollup};
        use NumberType::{Double, Long};
        let right = fixture();
        let wrong = wrong(&right);
        let (right_events, right_rollup) = (events_table(&right), rollup_table(&right));
        let (wrong_events, wrong_rollup) = (events_table(&wrong), rollup_table(&wrong));
        let right_in_rollup = [TableSet {
            events: Some(&wrong_events),
            rollup: Some(&right_rollup),
        }];
        let right_in_events = [TableSet {
            events: Some(&right_events),
            rollup: Some(&wrong_rollup),
        }];
        let no_count =
            DataSourceSpec::from_json(&SPEC.replace(r#"{"type": "count", "name": "count"},"#, ""))
                .unwrap();

        let base = || {
            plan(
                Granularity::HOUR,
                hours(0, 2),
                &["host"],
                vec![
                    AggregateFunction::Count,
                    sum("bytes", Long),
                    max("latency_max", Double),
                ],
            )
        };
        let with = |change: &dyn Fn(&mut QueryPlan)| {
            let mut plan = base();
            change(&mut plan);
            plan
        };
        let aggregating = |function: AggregateFunction| {
            with(&|plan| plan.aggregate.aggregations[1].function = function.clone())
        };
        let grouping = |columns: &[&str]| {
            let mut plan = base();
            plan.aggregate.group_by = plan_keys(columns);
            plan
        };
        let with_count = spec();
        let cases: Vec<(&str, QueryPlan, &DataSourceSpec, Answers)> = vec![
            (
                "rollup dimension, foldable metrics",
                base(),
                &with_count,
                Rollup,
            ),
            (
                "multi-value rollup dimension",
                grouping(&["tags", "status"]),
                &with_count,
                Rollup,
            ),
            (
                "dimension outside rollup",
                grouping(&["user"]),
                &with_count,
                Events,
            ),
            ("no group key", grouping(&[]), &with_count, Rollup),
            (
                "all",
                with(&|plan| plan.aggregate.granularity = Granularity::All),
                &with_count,
                Rollup,
            ),
            (
                "five minutes",
                with(&|plan| plan.aggregate.granularity = Granularity::FIVE_MINUTE),
                &with_count,
                Rollup,
            ),
            (
                "finer than the query granularity",
                with(&|plan| plan.aggregate.granularity = Granularity::SECOND),
                &with_count,
                Events,
            ),
            (
                "sum of a count metric",
                aggregating(sum("count", Long)),
                &with_count,
                Rollup,
            ),
            (
                "max of a count metric",
                aggregating(max("count", Long)),
                &with_count,
                Events,
            ),
            (
                "double sum of a double sum",
                aggregating(sum("latency_sum", Double)),
                &with_count,
                Rollup,
            ),
            (
                "long sum of a double sum",
                aggregating(sum("latency_sum", Long)),
                &with_count,
                Events,
            ),
            (
                "double sum of a long sum",
                aggregating(sum("bytes", Double)),
                &with_count,
                Rollup,
            ),
            (
                "min of a sum",
                aggregating(min("bytes", Long)),
                &with_count,
                Events,
            ),
            (
                "long min of a min",
                aggregating(min("bytes_min", Long)),
                &with_count,
                Rollup,
            ),
            (
                "max of a min",
                aggregating(max("bytes_min", Long)),
                &with_count,
                Events,
            ),
            (
                "long max of a double max",
                aggregating(max("latency_max", Long)),
                &with_count,
                Rollup,
            ),
            (
                "sum of a max",
                aggregating(sum("latency_max", Double)),
                &with_count,
                Events,
            ),
            (
                "max of a rollup dimension",
                aggregating(max("status", Long)),
                &with_count,
                Rollup,
            ),
            (
                "sum of a rollup dimension",
                aggregating(sum("status", Long)),
                &with_count,
                Events,
            ),
            (
                "a raw input field",
                aggregating(max("latency", Double)),
                &with_count,
                Events,
            ),
            ("count without a count metric", base(), &no_count, Events),
            (
                "a filter on a rollup dimension",
                with(&|plan| {
                    plan.filter = Some(Filter::Not(Box::new(Filter::Equals {
                        column: "tags".into(),
                        value: Some("y".into()),
                    })))
                }),
                &with_count,
                Rollup,
            ),
            (
                "a filter on a dimension outside rollup",
                with(&|plan| {
                    plan.filter = Some(Filter::Equals {
                        column: "user".into(),
                        value: Some("u1".into()),
                    })
                }),
                &with_count,
                Events,
            ),
            (
                "a filter on __time",
                with(&|plan| {
                    plan.filter = Some(Filter::Intervals {
                        column: "__time".into(),
                        intervals: vec![interval(T0 + 30_000, T0 + 2 * MILLIS_PER_HOUR)],
                    })
                }),
                &with_count,
                Events,
            ),
            (
                "a bound inside a minute that holds rows",
                with(&|plan| plan.intervals = vec![interval(T0 + 30_000, T0 + MILLIS_PER_HOUR)]),
                &with_count,
                Events,
            ),
            (
                "unaligned bounds outside the rows",
                with(&|plan| {
                    plan.intervals = vec![interval(T0 - 30_000, T0 + 3 * MILLIS_PER_HOUR + 1)]
                }),
                &with_count,
                Rollup,
            ),
        ];
        for (case, plan, spec, answers) in cases {
            let expected = oracle(&plan, &right);
            let from_rollup = execute(&plan, spec, &right_in_rollup).unwrap();
            let from_events = execute(&plan, spec, &right_in_events).unwrap();
            let (right_one, wrong_one) = match answers {
                Rollup => (&from_rollup, &from_events),
                Events => (&from_events, &from_rollup),
            };
            assert_eq!(rows_match(right_one, &expected), Ok(()), "{case}");
            assert!(
                rows_match(wrong_one, &expected).is_err(),
                "{case}: {wrong_one:?}"
            );
        }
    }

    fn plan_keys(columns: &[&str]) -> Vec<GroupKey> {
        columns
            .iter()
            .map(|column| GroupKey {
                column: (*column).to_owned(),
                output_name: (*column).to_owned(),
            })
            .collect()
    }

    #[test]
    fn a_set_without_events_answers_from_its_rollup_rows_as_druid_does() {
        let rollup = rollup_table(&fixture());
        let sets = [TableSet {
            events: None,
            rollup: Some(&rollup),
        }];
        let plan = plan(
            Granularity::None,
            hours(0, 2),
            &["user"],
            vec![AggregateFunction::Count, sum("bytes", NumberType::Long)],
        );
        let rows = execute(&plan, &spec(), &sets).unwrap();
        let row = |minute: i64, count: i64, bytes: i64| ResultRow {
            timestamp: T0 + minute * MILLIS_PER_MINUTE,
            keys: vec![KeyValue::Null],
            values: vec![ResultValue::Long(count), ResultValue::Long(bytes)],
        };
        assert_eq!(rows, vec![row(0, 2, 40), row(1, 2, 5), row(60, 2, 15)]);
    }

    // ---- Inputs, folding and grouping ----

    fn events_only(table: &MemTable) -> [TableSet<'_>; 1] {
        [TableSet {
            events: Some(table),
            rollup: None,
        }]
    }

    fn values_of(rows: &[ResultRow]) -> Vec<Vec<ResultValue>> {
        rows.iter().map(|row| row.values.clone()).collect()
    }

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

    #[test]
    fn a_multi_value_row_counts_in_each_of_its_groups_and_null_sorts_first() {
        let events = vec![
            event(T0, Some("a"), &["x", "y"], None),
            event(T0, Some("a"), &["y"], None),
            event(T0, None, &[], None),
            event(T0, Some("a"), &["y", "y"], None),
        ];
        let table = events_table(&events);
        let plan = plan(
            Granularity::All,
            hours(0, 1),
            &["tags", "host"],
            vec![AggregateFunction::Count],
        );
        let rows = execute(&plan, &spec(), &events_only(&table)).unwrap();
        let keys: Vec<(Vec<KeyValue>, ResultValue)> = rows
            .into_iter()
            .map(|row| (row.keys, row.values[0]))
            .collect();
        let string = |value: &str| KeyValue::String(value.into());
        assert_eq!(
            keys,
            vec![
                (vec![KeyValue::Null, KeyValue::Null], ResultValue::Long(1)),
                (vec![string("x"), string("a")], ResultValue::Long(1)),
                (vec![string("y"), string("a")], ResultValue::Long(4)),
            ]
        );
    }

    #[test]
    fn keys_order_null_then_numbers_by_value_then_strings() {
        let mut keys = vec![
            KeyValue::String("b".into()),
            KeyValue::Double(1.5),
            KeyValue::Long(2),
            KeyValue::String("a".into()),
            KeyValue::Double(f64::NAN),
            KeyValue::Long(i64::MAX),
            KeyValue::Double(-0.5),
            KeyValue::Null,
            KeyValue::Long(1),
            KeyValue::Double(1.0),
        ];
        keys.sort_by(compare_keys);
        // Debug text, as NaN is not equal to itself.
        let sorted: Vec<String> = keys.iter().map(|key| format!("{key:?}")).collect();
        assert_eq!(
            sorted,
            [
                "Null",
                "Double(-0.5)",
                "Long(1)",
                "Double(1.0)",
                "Double(1.5)",
                "Long(2)",
                "Long(9223372036854775807)",
                "Double(NaN)",
                "String(\"a\")",
                "String(\"b\")",
            ]
        );
    }

    // ---- Zero fill ----

    #[test]
    fn zero_fill_makes_every_bucket_of_the_intervals_without_group_keys() {
        let events = vec![event(T0 + MILLIS_PER_MINUTE + 5, Some("a"), &[], None)];
        let table = events_table(&events);
        let mut plan = plan(
            Granularity::MINUTE,
            vec![interval(T0 + 30_000, T0 + 3 * MILLIS_PER_MINUTE)],
            &[],
            vec![AggregateFunction::Count, sum("bytes", NumberType::Long)],
        );
        plan.aggregate.zero_fill = true;
        let rows = execute(&plan, &spec(), &events_only(&table)).unwrap();
        let stamps: Vec<Millis> = rows.iter().map(|row| row.timestamp).collect();
        assert_eq!(
            stamps,
            [T0, T0 + MILLIS_PER_MINUTE, T0 + 2 * MILLIS_PER_MINUTE]
        );
        assert_eq!(
            values_of(&rows),
            [
                vec![ResultValue::Long(0), ResultValue::Null],
                vec![ResultValue::Long(1), ResultValue::Long(10)],
                vec![ResultValue::Long(0), ResultValue::Null],
            ]
        );

        plan.aggregate.group_by = plan_keys(&["host"]);
        assert_eq!(
            execute(&plan, &spec(), &events_only(&table)).unwrap().len(),
            1
        );
    }

    #[test]
    fn zero_fill_over_all_makes_one_row_at_the_earliest_interval_start() {
        let mut plan = plan(
            Granularity::All,
            vec![hours(5, 6)[0], hours(1, 2)[0]],
            &[],
            vec![AggregateFunction::Count, max("latency", NumberType::Double)],
        );
        plan.aggregate.zero_fill = true;
        assert_eq!(
            execute(&plan, &spec(), &[]).unwrap(),
            vec![ResultRow {
                timestamp: T0 + MILLIS_PER_HOUR,
                keys: Vec::new(),
                values: vec![ResultValue::Long(0), ResultValue::Null],
            }]
        );
        plan.aggregate.zero_fill = false;
        assert_eq!(execute(&plan, &spec(), &[]).unwrap(), Vec::new());
    }

    #[test]
    fn zero_fill_refuses_to_make_endless_rows() {
        let mut plan = plan(
            Granularity::SECOND,
            vec![Interval::ETERNITY],
            &[],
            vec![AggregateFunction::Count],
        );
        plan.aggregate.zero_fill = true;
        let error = execute(&plan, &spec(), &[]).unwrap_err();
        assert!(
            matches!(
                error,
                ExecuteError::TooManyBuckets {
                    limit: MAX_ZERO_FILL_BUCKETS,
                    ..
                }
            ),
            "{error}"
        );
        assert!(error.to_string().contains("coarser granularity"), "{error}");
    }

    // ---- Post-aggregations ----

    fn post(name: &str, expression: PostExpression) -> PostAggregation {
        PostAggregation {
            name: name.into(),
            expression,
        }
    }

    fn arithmetic(operator: ArithmeticOperator, operands: Vec<PostExpression>) -> PostExpression {
        PostExpression::Arithmetic { operator, operands }
    }

    fn field(name: &str) -> PostExpression {
        PostExpression::Field(name.into())
    }

    #[test]
    fn post_aggregations_follow_druid_arithmetic() {
        use ArithmeticOperator::{Add, Divide, Power, Quotient, Subtract};
        use PostExpression::Constant;
        let events = vec![
            Event {
                bytes: None,
                ..event(T0, Some("a"), &[], None)
            },
            event(T0 + 1, Some("a"), &[], None),
        ];
        let table = events_table(&events);
        let mut plan = plan(
            Granularity::All,
            hours(0, 1),
            &[],
            vec![
                AggregateFunction::Count,
                sum("nope", NumberType::Long),
                sum("latency", NumberType::Double),
            ],
        );
        plan.aggregate.post_aggregations = vec![
            post("count", field("a0")),
            post(
                "by_zero",
                arithmetic(Divide, vec![field("a0"), Constant(0.0)]),
            ),
            post(
                "quotient",
                arithmetic(Quotient, vec![field("a0"), Constant(0.0)]),
            ),
            post("with_null", arithmetic(Add, vec![field("a0"), field("a1")])),
            post(
                "chained",
                arithmetic(Subtract, vec![field("a2"), field("count"), Constant(0.5)]),
            ),
            post(
                "squared",
                arithmetic(Power, vec![field("chained"), Constant(2.0)]),
            ),
        ];
        let rows = execute(&plan, &spec(), &events_only(&table)).unwrap();
        assert_eq!(
            values_of(&rows),
            [vec![
                ResultValue::Long(2),
                ResultValue::Null,
                ResultValue::Double(3.0),
                ResultValue::Long(2),
                ResultValue::Double(0.0),
                ResultValue::Double(f64::INFINITY),
                ResultValue::Null,
                ResultValue::Double(0.5),
                ResultValue::Double(0.25),
            ]]
        );
    }

    #[test]
    fn a_post_aggregation_must_read_names_defined_before_it() {
        let mut plan = plan(
            Granularity::All,
            hours(0, 1),
            &[],
            vec![AggregateFunction::Count],
        );
        plan.aggregate.post_aggregations = vec![
            post(
                "early",
                arithmetic(ArithmeticOperator::Add, vec![field("a0"), field("late")]),
            ),
            post("late", field("a0")),
        ];
        let error = execute(&plan, &spec(), &[]).unwrap_err();
        assert!(
            error.to_string().contains("`early` reads `late`")
                && error.to_string().contains("can read are: a0"),
            "{error}"
        );

        plan.aggregate.post_aggregations = vec![post(
            "lonely",
            arithmetic(ArithmeticOperator::Add, vec![field("a0")]),
        )];
        assert!(matches!(
            execute(&plan, &spec(), &[]),
            Err(ExecuteError::TooFewOperands { operands: 1, .. })
        ));
    }

    // ---- Errors ----

    #[test]
    fn sketch_and_first_metrics_are_refused_by_name() {
        let spec = DataSourceSpec::from_json(
            r#"{"dataSource": "web", "dimensionsSpec": {"dimensions": ["host"]},
                "metricsSpec": [
                    {"type": "HLLSketchBuild", "name": "users", "fieldName": "user"},
                    {"type": "doubleFirst", "name": "first_latency", "fieldName": "latency"}
                ]}"#,
        )
        .unwrap();
        for (column, metric_type) in [
            ("users", "HLLSketchBuild"),
            ("first_latency", "doubleFirst"),
        ] {
            let mut plan = plan(
                Granularity::All,
                hours(0, 1),
                &[],
                vec![max(column, NumberType::Double)],
            );
            plan.aggregate.aggregations[0].name = "distinct".into();
            let error = execute(&plan, &spec, &[]).unwrap_err();
            let message = error.to_string();
            assert!(
                matches!(error, ExecuteError::Unsupported { .. }),
                "{message}"
            );
            assert!(
                message.contains("`distinct`") && message.contains(metric_type),
                "{message}"
            );
        }
    }

    #[test]
    fn text_columns_cannot_be_grouped_and_strings_cannot_be_summed() {
        let schema = TableSchema::new(vec![
            ColumnSchema::new("host", string(false)),
            ColumnSchema::new("message", ColumnKind::Text),
        ])
        .unwrap();
        let mut builder = MemTableBuilder::new(TableKind::Events, schema);
        builder
            .append_row(T0, &[CellValue::Str("a"), CellValue::Str("GET /")])
            .unwrap();
        let table = builder.finish();

        let grouped = plan(
            Granularity::All,
            hours(0, 1),
            &["message"],
            vec![AggregateFunction::Count],
        );
        let error = execute(&grouped, &spec(), &events_only(&table)).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("cannot group by `message`, a text column"),
            "{error}"
        );

        let summed = plan(
            Granularity::All,
            hours(0, 1),
            &[],
            vec![sum("host", NumberType::Long)],
        );
        let error = execute(&summed, &spec(), &events_only(&table)).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("aggregation `a0` reads `host`, a string column in the events table"),
            "{error}"
        );
    }

    /// A table whose string column names a value its dictionary lacks.
    struct Damaged(TableSchema);

    impl TableSource for Damaged {
        fn kind(&self) -> TableKind {
            TableKind::Events
        }

        fn schema(&self) -> &TableSchema {
            &self.0
        }

        fn rows(&self) -> usize {
            1
        }

        fn time_range(&self) -> Option<(Millis, Millis)> {
            Some((T0, T0))
        }

        fn read_time(&self) -> Result<Vec<Millis>, TableError> {
            Ok(vec![T0])
        }

        fn read_column(&self, _: &str) -> Result<Option<ColumnValues>, TableError> {
            Ok(Some(ColumnValues::String {
                dictionary: vec!["a".into()],
                rows: vec![vec![3]],
            }))
        }
    }

    #[test]
    fn a_damaged_column_is_an_error_not_a_panic() {
        let table =
            Damaged(TableSchema::new(vec![ColumnSchema::new("host", string(false))]).unwrap());
        let sets = [TableSet {
            events: Some(&table),
            rollup: None,
        }];
        let plan = plan(
            Granularity::All,
            hours(0, 1),
            &["host"],
            vec![AggregateFunction::Count],
        );
        let error = execute(&plan, &spec(), &sets).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("`host` of the events table is damaged: a row holds value id 3"),
            "{error}"
        );
    }
}
