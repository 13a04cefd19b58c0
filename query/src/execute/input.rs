//! What an aggregation reads: the values one table offers an aggregation,
//! row by row.
//!
//! The plan names logical columns. In a rollup table a metric's column holds
//! per-row partial results: `Count` sums the spec's count metric (it counts
//! events, not rollup rows), a first/last metric holds (event time, value)
//! pairs, an HLL or quantiles metric a sketch per row, which are decoded
//! once and merged. In an events table a metric `M` reads as `M`'s value for
//! one event: 1 for a count metric, else the raw input column named by `M`'s
//! `fieldName` — the coerced number, or for an HLL metric the text ingest
//! hashed — so a sketch rebuilt from it is the one ingest built. Any other
//! name reads the column of that name; a column a table lacks is null.
//!
//! First/last read each row's `__time` beside the value (or the long column
//! their `time_column` names), except from a rollup table's first/last
//! metric, whose pairs keep the event's own time.
//! Distinct counts read every value of a row (each value of a multi-value
//! row), hashed through its [`DistinctKey`]; `cardinality` by row hashes the
//! row's combination instead: its columns' texts joined by U+0000, a
//! multi-value column's values sorted and joined by U+0001, a null as
//! nothing — and a row whose columns are all null is not counted.
//!
//! A distinct count of one single-value string column hashes nothing per
//! row: it reads the rows' dictionary codes and the coupon of each
//! dictionary value (which a segment hashes once and keeps, see
//! [`TableSource::string_coupons`]), and counts each row's coupon — what
//! hashing its text would have counted, so the sketch comes out the same.
//!
//! What a metric cannot give is refused before any row is read, by name:
//! a sum, min or max of a first/last or sketch metric, first/last of a
//! sketch, a sketch of the other kind of sketch.

use std::ops::Range;
use std::sync::Arc;

use strata_storage::metric_cell::distinct::{Coupon, DictionaryCoupons};
use strata_storage::metric_cell::{DistinctKey, HllState, HllUnionState, QuantilesState, Timed};
use strata_storage::segment::TIME_COLUMN;
use strata_storage::segment::{ColumnKind, TableKind, TableSchema};
use strata_storage::spec::{Aggregator, DataSourceSpec, NumericType};
use strata_storage::time::Millis;

use super::column_fold::FoldRows;
use super::fold::{Accumulator, Number, RowValue, Scalar};
use super::{ExecuteError, check_length, column_kind_name, table_name};
use crate::plan::{AggregateFunction, AggregatePlan, Aggregation};
use crate::table::{ColumnValues, FullNumbers, TableSource};

/// Refuses, by name, an aggregation of a metric that cannot give what it
/// aggregates (see the [module docs](self)).
pub(super) fn check_metrics_supported(
    aggregate: &AggregatePlan,
    spec: &DataSourceSpec,
) -> Result<(), ExecuteError> {
    for aggregation in &aggregate.aggregations {
        let function = innermost(&aggregation.function);
        for column in aggregated_columns(function) {
            let Some(metric) = spec.metric(column) else {
                continue;
            };
            let aggregator = metric.aggregator();
            let is_sketch = matches!(
                aggregator,
                Aggregator::HllSketch { .. } | Aggregator::QuantilesSketch { .. }
            );
            let is_pair = matches!(
                aggregator,
                Aggregator::First { .. } | Aggregator::Last { .. }
            );
            let refused = match function {
                AggregateFunction::Sum { .. }
                | AggregateFunction::Min { .. }
                | AggregateFunction::Max { .. }
                | AggregateFunction::SumOfSquares { .. } => is_sketch || is_pair,
                AggregateFunction::First { .. } | AggregateFunction::Last { .. } => is_sketch,
                AggregateFunction::DistinctSketch { .. }
                | AggregateFunction::Cardinality { .. } => {
                    matches!(aggregator, Aggregator::QuantilesSketch { .. })
                }
                AggregateFunction::QuantilesSketch { .. } => {
                    matches!(aggregator, Aggregator::HllSketch { .. })
                }
                AggregateFunction::Count | AggregateFunction::Filtered { .. } => false,
            };
            if refused {
                return Err(ExecuteError::Unsupported {
                    aggregation: aggregation.name.clone(),
                    metric: metric.name().to_owned(),
                    metric_type: aggregator.druid_type(),
                });
            }
        }
    }
    Ok(())
}

fn innermost(function: &AggregateFunction) -> &AggregateFunction {
    match function {
        AggregateFunction::Filtered { inner, .. } => innermost(inner),
        other => other,
    }
}

fn aggregated_columns(function: &AggregateFunction) -> Vec<&str> {
    match function {
        AggregateFunction::Count | AggregateFunction::Filtered { .. } => Vec::new(),
        AggregateFunction::Sum { column, .. }
        | AggregateFunction::Min { column, .. }
        | AggregateFunction::Max { column, .. }
        | AggregateFunction::SumOfSquares { column }
        | AggregateFunction::First { column, .. }
        | AggregateFunction::Last { column, .. }
        | AggregateFunction::DistinctSketch { column, .. }
        | AggregateFunction::QuantilesSketch { column, .. } => vec![column],
        AggregateFunction::Cardinality { columns, .. } => {
            columns.iter().map(String::as_str).collect()
        }
    }
}

/// The spec's count metric, if it has one: a rollup row stands for as many
/// events as it counted there, so `Count` sums it.
pub(super) fn count_metric(spec: &DataSourceSpec) -> Option<&str> {
    spec.metrics()
        .iter()
        .find(|metric| *metric.aggregator() == Aggregator::Count)
        .map(|metric| metric.name())
}

/// One column's values, as first/last and distinct counts read them.
pub(super) enum Column {
    /// The table lacks the column.
    Absent,
    /// A count metric in an events table: 1 per event.
    Ones,
    Long(Vec<Option<i64>>),
    Double(Vec<Option<f64>>),
    Strings {
        dictionary: Arc<[String]>,
        rows: Vec<Vec<u32>>,
    },
    Text(Vec<Option<String>>),
}

impl Column {
    /// Makes the value of `row` null (ones stay ones).
    fn clear(&mut self, row: usize) {
        match self {
            Column::Absent | Column::Ones => {}
            Column::Long(values) => values.get_mut(row).into_iter().for_each(|v| *v = None),
            Column::Double(values) => values.get_mut(row).into_iter().for_each(|v| *v = None),
            Column::Strings { rows, .. } => rows.get_mut(row).into_iter().for_each(Vec::clear),
            Column::Text(values) => values.get_mut(row).into_iter().for_each(|v| *v = None),
        }
    }

    /// The row's value for first/last: a multi-value row's first value.
    fn scalar(&self, row: usize) -> Option<Scalar<'_>> {
        match self {
            Column::Absent => None,
            Column::Ones => Some(Scalar::Number(Number::Long(1))),
            Column::Long(values) => values
                .get(row)
                .copied()
                .flatten()
                .map(|value| Scalar::Number(Number::Long(value))),
            Column::Double(values) => values
                .get(row)
                .copied()
                .flatten()
                .map(|value| Scalar::Number(Number::Double(value))),
            Column::Strings { dictionary, rows } => rows
                .get(row)
                .and_then(|ids| ids.first())
                .and_then(|&id| dictionary.get(id as usize))
                .map(|value| Scalar::Str(value)),
            Column::Text(values) => values.get(row).and_then(Option::as_deref).map(Scalar::Str),
        }
    }

    /// Calls `each` with the key of every value of the row.
    fn for_each_key<'a>(&'a self, row: usize, each: &mut impl FnMut(DistinctKey<'a>)) {
        match self {
            Column::Absent => {}
            Column::Ones => each(DistinctKey::long(1)),
            Column::Long(values) => {
                if let Some(value) = values.get(row).copied().flatten() {
                    each(DistinctKey::long(value));
                }
            }
            Column::Double(values) => {
                if let Some(value) = values.get(row).copied().flatten() {
                    each(DistinctKey::double(value));
                }
            }
            Column::Strings { dictionary, rows } => {
                for id in rows.get(row).into_iter().flatten() {
                    if let Some(key) = dictionary
                        .get(*id as usize)
                        .and_then(|value| DistinctKey::text(value))
                    {
                        each(key);
                    }
                }
            }
            Column::Text(values) => {
                if let Some(key) = values
                    .get(row)
                    .and_then(Option::as_deref)
                    .and_then(DistinctKey::text)
                {
                    each(key);
                }
            }
        }
    }
}

/// The values one row gives a distinct count.
pub(super) struct DistinctRow<'a> {
    columns: &'a [Column],
    row: usize,
    by_row: bool,
}

impl<'a> DistinctRow<'a> {
    /// Calls `each` with every key the row counts (see the
    /// [module docs](self) for `by_row`).
    pub(super) fn for_each_key(&self, mut each: impl FnMut(DistinctKey<'_>)) {
        if !self.by_row {
            for column in self.columns {
                column.for_each_key(self.row, &mut each);
            }
            return;
        }
        let mut combination = String::new();
        let mut any_value = false;
        let mut values: Vec<String> = Vec::new();
        for (position, column) in self.columns.iter().enumerate() {
            if position > 0 {
                combination.push('\u{0}');
            }
            values.clear();
            column.for_each_key(self.row, &mut |key| values.push(key.to_string()));
            values.sort();
            any_value |= !values.is_empty();
            combination.push_str(&values.join("\u{1}"));
        }
        if any_value && let Some(key) = DistinctKey::text(&combination) {
            each(key);
        }
    }
}

/// What one aggregation reads from one table, per row.
pub(super) enum Input {
    /// Every row counts once: an event of an events table, or a rollup row
    /// when there is no count metric to sum.
    Ones,
    /// The table lacks the column.
    Absent,
    Long(Vec<Option<i64>>),
    Double(Vec<Option<f64>>),
    /// A long column where every row holds a value.
    FullLong(Vec<i64>),
    /// A double column where every row holds a value.
    FullDouble(Vec<f64>),
    /// First/last candidates: each row's time and value.
    Timed {
        times: Vec<Millis>,
        column: Column,
    },
    /// A rollup table's first/last pairs.
    Pairs(Vec<Option<Timed<Number>>>),
    /// The columns a distinct count hashes.
    Distinct {
        columns: Vec<Column>,
        by_row: bool,
    },
    /// A distinct count of a single-value string column: each row's code
    /// (0 for null, `id + 1` for dictionary id `id`) and each dictionary
    /// value's coupon.
    Coupons {
        codes: Vec<u32>,
        coupons: Arc<DictionaryCoupons>,
    },
    /// A rollup table's HLL sketches.
    Hll(Vec<Option<HllState>>),
    /// A rollup table's quantiles sketches.
    Quantiles(Vec<Option<QuantilesState>>),
}

/// Where a logical column is read in a table.
enum Source<'a> {
    Ones,
    Column(&'a str),
}

/// Where `column` is read in a table of `kind`: in an events table a
/// metric reads its raw input (a count metric, 1 per event).
fn source<'a>(spec: &'a DataSourceSpec, column: &'a str, kind: TableKind) -> Source<'a> {
    if kind == TableKind::Rollup {
        return Source::Column(column);
    }
    match spec.metric(column).map(|metric| metric.aggregator()) {
        Some(Aggregator::Count) => Source::Ones,
        Some(aggregator) => Source::Column(aggregator.field_name().unwrap_or(column)),
        None => Source::Column(column),
    }
}

/// What a reader needs to name a column in its errors.
struct Reading<'a> {
    table: &'a dyn TableSource,
    aggregation: &'a str,
    /// The rows read: values are indexed from the first of them.
    rows: Range<usize>,
}

impl Reading<'_> {
    fn values(&self, column: &str) -> Result<Option<ColumnValues>, ExecuteError> {
        let Some(values) = self.table.read_column_range(column, self.rows.clone())? else {
            return Ok(None);
        };
        check_length(
            &values,
            self.rows.len(),
            column,
            table_name(self.table.kind()),
        )?;
        Ok(Some(values))
    }

    fn column(&self, source: Source<'_>) -> Result<Column, ExecuteError> {
        let column = match source {
            Source::Ones => return Ok(Column::Ones),
            Source::Column(column) => column,
        };
        Ok(match self.values(column)? {
            None => Column::Absent,
            Some(ColumnValues::Long(values)) => Column::Long(values),
            Some(ColumnValues::Double(values)) => Column::Double(values),
            Some(ColumnValues::String { dictionary, rows }) => Column::Strings { dictionary, rows },
            Some(ColumnValues::Text(values)) => Column::Text(values),
            Some(other) => return Err(self.cannot_read(column, &other)),
        })
    }

    fn cannot_read(&self, column: &str, values: &ColumnValues) -> ExecuteError {
        ExecuteError::CannotRead {
            aggregation: self.aggregation.to_owned(),
            column: column.to_owned(),
            table: table_name(self.table.kind()),
            kind: column_kind_name(values),
        }
    }

    fn damaged(&self, column: &str, problem: String) -> ExecuteError {
        ExecuteError::DamagedColumn {
            column: column.to_owned(),
            table: table_name(self.table.kind()),
            problem,
        }
    }

    /// A complex column's cells, each decoded by `decode`.
    fn decoded<T>(
        &self,
        column: &str,
        decode: impl Fn(&[u8]) -> Result<T, String>,
    ) -> Result<Option<Vec<Option<T>>>, ExecuteError> {
        match self.values(column)? {
            None => Ok(None),
            Some(ColumnValues::Complex(cells)) => cells
                .iter()
                .map(|cell| {
                    cell.as_deref()
                        .map(&decode)
                        .transpose()
                        .map_err(|problem| self.damaged(column, problem))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(other) => Err(self.cannot_read(column, &other)),
        }
    }
}

impl Input {
    /// What `aggregation` reads from the rows `rows` of `table`; the
    /// values are indexed from the first of them.
    pub(super) fn read(
        table: &dyn TableSource,
        spec: &DataSourceSpec,
        aggregation: &Aggregation,
        rows: Range<usize>,
    ) -> Result<Self, ExecuteError> {
        let reading = Reading {
            table,
            aggregation: &aggregation.name,
            rows,
        };
        Self::read_function(&reading, spec, &aggregation.function)
    }

    /// First/last candidates ordered by the long column `time_column`
    /// instead of `__time`: a row where it is null, or missing from the
    /// table, is no candidate (its value reads as null), as Druid skips it.
    fn read_timed_by(
        reading: &Reading<'_>,
        source: Source<'_>,
        time_column: &str,
    ) -> Result<Self, ExecuteError> {
        let times = match reading.values(time_column)? {
            None => return Ok(Input::Absent),
            Some(ColumnValues::Long(times)) => times,
            Some(other) => return Err(reading.cannot_read(time_column, &other)),
        };
        let mut column = match reading.column(source)? {
            Column::Ones => Column::Long(vec![Some(1); reading.rows.len()]),
            column => column,
        };
        for (row, time) in times.iter().enumerate() {
            if time.is_none() {
                column.clear(row);
            }
        }
        Ok(Input::Timed {
            times: times.iter().map(|time| time.unwrap_or(0)).collect(),
            column,
        })
    }

    /// What `function` reads; a filtered function reads what its inner one
    /// does, the filter being applied to rows, not to values.
    fn read_function(
        reading: &Reading<'_>,
        spec: &DataSourceSpec,
        function: &AggregateFunction,
    ) -> Result<Self, ExecuteError> {
        let kind = reading.table.kind();
        let metric = |column: &str| spec.metric(column).map(|metric| metric.aggregator());
        match function {
            AggregateFunction::Filtered { inner, .. } => Self::read_function(reading, spec, inner),
            AggregateFunction::Count => match (kind, count_metric(spec)) {
                (TableKind::Events, _) | (TableKind::Rollup, None) => Ok(Input::Ones),
                (TableKind::Rollup, Some(metric)) => Self::read_numbers(reading, metric),
            },
            AggregateFunction::Sum { column, .. }
            | AggregateFunction::Min { column, .. }
            | AggregateFunction::Max { column, .. }
            | AggregateFunction::SumOfSquares { column } => match source(spec, column, kind) {
                Source::Ones => Ok(Input::Ones),
                Source::Column(column) => Self::read_numbers(reading, column),
            },
            AggregateFunction::First {
                column,
                time_column: Some(time_column),
                ..
            }
            | AggregateFunction::Last {
                column,
                time_column: Some(time_column),
                ..
            } => Self::read_timed_by(reading, source(spec, column, kind), time_column),
            AggregateFunction::First { column, .. } | AggregateFunction::Last { column, .. } => {
                if kind == TableKind::Rollup
                    && let Some(
                        Aggregator::First { value_type, .. } | Aggregator::Last { value_type, .. },
                    ) = metric(column)
                {
                    return Self::read_pairs(reading, column, *value_type);
                }
                Ok(Input::Timed {
                    times: reading.table.read_time_range(reading.rows.clone())?,
                    column: reading.column(source(spec, column, kind))?,
                })
            }
            AggregateFunction::DistinctSketch {
                column,
                lg_k,
                target_type,
                ..
            } => {
                if kind == TableKind::Rollup
                    && let Some(Aggregator::HllSketch { .. }) = metric(column)
                {
                    return Ok(reading
                        .decoded(column, |bytes| {
                            HllState::from_bytes(*lg_k, *target_type, bytes)
                                .map_err(|error| format!("an HLL sketch cannot be read: {error}"))
                        })?
                        .map_or(Input::Absent, Input::Hll));
                }
                if let Some(input) = Self::read_coupons(reading, spec, function)? {
                    return Ok(input);
                }
                Ok(Input::Distinct {
                    columns: vec![reading.column(source(spec, column, kind))?],
                    by_row: false,
                })
            }
            AggregateFunction::Cardinality {
                columns, by_row, ..
            } => {
                if let Some(input) = Self::read_coupons(reading, spec, function)? {
                    return Ok(input);
                }
                Ok(Input::Distinct {
                    columns: columns
                        .iter()
                        .map(|column| reading.column(source(spec, column, kind)))
                        .collect::<Result<_, _>>()?,
                    by_row: *by_row,
                })
            }
            AggregateFunction::QuantilesSketch { column, .. } => {
                if kind == TableKind::Rollup
                    && let Some(Aggregator::QuantilesSketch { .. }) = metric(column)
                {
                    return Ok(reading
                        .decoded(column, |bytes| {
                            QuantilesState::from_bytes(bytes).map_err(|error| {
                                format!("a quantiles sketch cannot be read: {error}")
                            })
                        })?
                        .map_or(Input::Absent, Input::Quantiles));
                }
                match source(spec, column, kind) {
                    Source::Ones => Ok(Input::Ones),
                    Source::Column(column) => Self::read_numbers(reading, column),
                }
            }
        }
    }

    /// The codes and coupons `function` counts, when it counts a
    /// single-value string column ([`coupon_column`]); `None` otherwise,
    /// and when the table turns out to hold a row of several values there.
    fn read_coupons(
        reading: &Reading<'_>,
        spec: &DataSourceSpec,
        function: &AggregateFunction,
    ) -> Result<Option<Self>, ExecuteError> {
        let table = reading.table;
        let Some(column) = coupon_column(function, spec, table.kind(), table.schema()) else {
            return Ok(None);
        };
        let Some(codes) = table.read_string_codes_range(column, reading.rows.clone())? else {
            return Ok(None);
        };
        if codes.len() != reading.rows.len() {
            return Err(reading.damaged(
                column,
                format!(
                    "it has {} values for {} rows",
                    codes.len(),
                    reading.rows.len()
                ),
            ));
        }
        let Some(coupons) = table.string_coupons(column)? else {
            return Ok(None);
        };
        Ok(Some(Input::Coupons { codes, coupons }))
    }

    /// A long or double column: its bare numbers when every row read holds
    /// one.
    fn read_numbers(reading: &Reading<'_>, column: &str) -> Result<Self, ExecuteError> {
        // `__time` is no stored column: every row has its time (a rollup
        // row, its bucket's), so a min or max of it is the earliest or
        // latest event, as Druid's `longMin`/`longMax` of `__time` are.
        if column == TIME_COLUMN {
            return Ok(Input::FullLong(
                reading.table.read_time_range(reading.rows.clone())?,
            ));
        }
        if let Some(numbers) = reading
            .table
            .read_full_numbers(column, reading.rows.clone())?
        {
            let (len, input) = match numbers {
                FullNumbers::Long(values) => (values.len(), Input::FullLong(values)),
                FullNumbers::Double(values) => (values.len(), Input::FullDouble(values)),
            };
            if len != reading.rows.len() {
                return Err(ExecuteError::DamagedColumn {
                    column: column.to_owned(),
                    table: table_name(reading.table.kind()),
                    problem: format!("it has {len} values for {} rows", reading.rows.len()),
                });
            }
            return Ok(input);
        }
        match reading.values(column)? {
            None => Ok(Input::Absent),
            Some(ColumnValues::Long(values)) => Ok(Input::Long(values)),
            Some(ColumnValues::Double(values)) => Ok(Input::Double(values)),
            Some(other) => Err(ExecuteError::NotNumeric {
                aggregation: reading.aggregation.to_owned(),
                column: column.to_owned(),
                table: table_name(reading.table.kind()),
                kind: column_kind_name(&other),
            }),
        }
    }

    /// A first/last metric's stored pairs.
    fn read_pairs(
        reading: &Reading<'_>,
        column: &str,
        value_type: NumericType,
    ) -> Result<Self, ExecuteError> {
        let wrong_length = |bytes: &[u8]| {
            format!(
                "a (time, value) pair is 16 bytes, this one is {}",
                bytes.len()
            )
        };
        let pairs = match value_type {
            NumericType::Long => reading.decoded(column, |bytes| {
                Timed::<i64>::from_bytes(bytes)
                    .map(|pair| Timed {
                        time: pair.time,
                        value: Number::Long(pair.value),
                    })
                    .ok_or_else(|| wrong_length(bytes))
            })?,
            NumericType::Double => reading.decoded(column, |bytes| {
                Timed::<f64>::from_bytes(bytes)
                    .map(|pair| Timed {
                        time: pair.time,
                        value: Number::Double(pair.value),
                    })
                    .ok_or_else(|| wrong_length(bytes))
            })?,
        };
        Ok(pairs.map_or(Input::Absent, Input::Pairs))
    }

    pub(super) fn value(&self, row: usize) -> Option<RowValue<'_>> {
        match self {
            Input::Ones => Some(RowValue::Number(Number::Long(1))),
            Input::Absent => None,
            Input::Long(values) => values
                .get(row)
                .copied()
                .flatten()
                .map(|value| RowValue::Number(Number::Long(value))),
            Input::Double(values) => values
                .get(row)
                .copied()
                .flatten()
                .map(|value| RowValue::Number(Number::Double(value))),
            Input::FullLong(values) => values
                .get(row)
                .map(|&value| RowValue::Number(Number::Long(value))),
            Input::FullDouble(values) => values
                .get(row)
                .map(|&value| RowValue::Number(Number::Double(value))),
            Input::Timed { times, column } => {
                Some(RowValue::Timed(*times.get(row)?, column.scalar(row)?))
            }
            Input::Pairs(pairs) => pairs
                .get(row)
                .copied()
                .flatten()
                .map(|pair| RowValue::Timed(pair.time, Scalar::Number(pair.value))),
            Input::Distinct { columns, by_row } => Some(RowValue::Distinct(DistinctRow {
                columns,
                row,
                by_row: *by_row,
            })),
            Input::Coupons { codes, coupons } => {
                coupons.of_code(*codes.get(row)?).map(RowValue::Coupon)
            }
            Input::Hll(sketches) => sketches.get(row)?.as_ref().map(RowValue::Hll),
            Input::Quantiles(sketches) => sketches.get(row)?.as_ref().map(RowValue::Quantiles),
        }
    }
}

/// The single-value string column whose values `function` counts distinct
/// in a table of `kind` with `schema`, counted by coupons
/// ([`Input::Coupons`]): a distinct count of one column (or of a metric
/// whose input field that column is), or a `cardinality` of one column, by
/// row or not (a row of one value is its own combination). `None` for
/// anything else, and for a rollup table's stored HLL sketches.
pub(super) fn coupon_column<'a>(
    function: &'a AggregateFunction,
    spec: &'a DataSourceSpec,
    kind: TableKind,
    schema: &TableSchema,
) -> Option<&'a str> {
    let column = match function {
        AggregateFunction::Filtered { inner, .. } => {
            return coupon_column(inner, spec, kind, schema);
        }
        AggregateFunction::DistinctSketch { column, .. } => {
            let stored = matches!(
                spec.metric(column).map(|metric| metric.aggregator()),
                Some(Aggregator::HllSketch { .. })
            );
            if kind == TableKind::Rollup && stored {
                return None;
            }
            column
        }
        AggregateFunction::Cardinality { columns, .. } => match columns.as_slice() {
            [column] => column,
            _ => return None,
        },
        _ => return None,
    };
    let Source::Column(column) = source(spec, column, kind) else {
        return None;
    };
    is_single_value_string(schema, column).then_some(column)
}

/// Whether `schema` has a single-value string column `column`: one whose
/// rows read as dictionary codes, a distinct count of which is counted by
/// coupons.
pub(super) fn is_single_value_string(schema: &TableSchema, column: &str) -> bool {
    schema
        .position(column)
        .and_then(|position| schema.columns().get(position))
        .is_some_and(|column| column.kind == ColumnKind::String { multi_value: false })
}

/// How many consecutive rows' coupons are looked up before any is counted.
/// A large dictionary's coupons miss the cache; looked up in a loop that
/// does nothing else, many misses are waited for at once.
const COUPON_CHUNK: usize = 4_096;

/// Counts `input`'s coupons into `accumulators` — one per group slot, each
/// `stride` after the previous one, as `column_fold::fold_column` takes
/// them — when `input` holds coupons: each slot's state is looked up once,
/// and each row costs a code, a coupon and a register. `false` for any
/// other input, left to the other folds. It counts exactly what the
/// general fold counts, in the same order.
pub(super) fn fold_coupons(
    input: &Input,
    rows: &FoldRows<'_>,
    accumulators: &mut [Accumulator],
    stride: usize,
) -> bool {
    let Input::Coupons { codes, coupons } = input else {
        return false;
    };
    let mut states: Vec<Option<&mut HllUnionState>> = accumulators
        .iter_mut()
        .step_by(stride.max(1))
        .map(|accumulator| match accumulator {
            Accumulator::Distinct { state, .. } => Some(&mut **state),
            _ => None,
        })
        .collect();
    // The coupons of the rows of `chunk`; rows come in order.
    let mut chunk = 0..0;
    let mut found: Vec<Option<Coupon>> = Vec::with_capacity(COUPON_CHUNK);
    rows.for_each(|row, slot| {
        if !chunk.contains(&row) {
            chunk = row..row.saturating_add(COUPON_CHUNK).min(codes.len());
            look_up_coupons(
                codes.get(chunk.clone()).unwrap_or_default(),
                coupons,
                &mut found,
            );
        }
        let coupon = found.get(row - chunk.start).copied().flatten();
        if let (Some(coupon), Some(Some(state))) = (coupon, states.get_mut(slot)) {
            state.add_coupon(coupon);
        }
    });
    true
}

/// Replaces `found` with the coupon of each of `codes`.
#[inline(never)]
fn look_up_coupons(codes: &[u32], coupons: &DictionaryCoupons, found: &mut Vec<Option<Coupon>>) {
    found.clear();
    found.extend(codes.iter().map(|&code| coupons.of_code(code)));
}

#[cfg(test)]
mod tests {
    use std::ops::Range;
    use std::sync::Arc;

    use strata_storage::granularity::Granularity;
    use strata_storage::metric_cell::distinct::DictionaryCoupons;
    use strata_storage::segment::{TableKind, TableSchema};
    use strata_storage::spec::{DataSourceSpec, HllLgK, HllTargetType};
    use strata_storage::time::Millis;

    use super::{Accumulator, Input, coupon_column, fold_coupons};
    use crate::execute::column_fold::FoldRows;
    use crate::execute::test_support::*;
    use crate::execute::{ExecuteError, TableSet, execute};
    use crate::plan::{
        AggregateFunction, Aggregation, Filter, NumberType, ResultRow, ResultValue, SketchValue,
    };
    use crate::segment_table::SegmentTable;
    use crate::table::{ColumnValues, TableError, TableSource};

    /// A table read as the one it wraps, but offering no codes and no
    /// coupons of `user`: distinct counts of it hash each row's text, the
    /// path coupons replace.
    struct HashedRows<'t>(&'t dyn TableSource);

    impl TableSource for HashedRows<'_> {
        fn kind(&self) -> TableKind {
            self.0.kind()
        }
        fn schema(&self) -> &TableSchema {
            self.0.schema()
        }
        fn rows(&self) -> usize {
            self.0.rows()
        }
        fn time_range(&self) -> Option<(Millis, Millis)> {
            self.0.time_range()
        }
        fn read_time(&self) -> Result<Vec<Millis>, TableError> {
            self.0.read_time()
        }
        fn read_column(&self, name: &str) -> Result<Option<ColumnValues>, TableError> {
            self.0.read_column(name)
        }
        fn row_blocks(&self) -> Vec<Range<usize>> {
            self.0.row_blocks()
        }
        fn read_column_range(
            &self,
            name: &str,
            rows: Range<usize>,
        ) -> Result<Option<ColumnValues>, TableError> {
            self.0.read_column_range(name, rows)
        }
        fn read_string_codes_range(
            &self,
            name: &str,
            rows: Range<usize>,
        ) -> Result<Option<Vec<u32>>, TableError> {
            match name {
                "user" => Ok(None),
                _ => self.0.read_string_codes_range(name, rows),
            }
        }
        fn string_coupons(&self, name: &str) -> Result<Option<Arc<DictionaryCoupons>>, TableError> {
            match name {
                "user" => Ok(None),
                _ => self.0.string_coupons(name),
            }
        }
    }

    fn distinct(column: &str, lg_k: i64, target_type: HllTargetType) -> AggregateFunction {
        AggregateFunction::DistinctSketch {
            column: column.into(),
            lg_k: HllLgK::new(lg_k).unwrap(),
            target_type,
            round: false,
        }
    }

    fn cardinality(columns: &[&str], by_row: bool) -> AggregateFunction {
        AggregateFunction::Cardinality {
            columns: columns.iter().map(|column| (*column).to_owned()).collect(),
            by_row,
            round: false,
        }
    }

    /// Events over several row blocks and about 42 hours: users repeat,
    /// some are null, some the empty string (which counts nothing).
    fn many_users() -> Vec<Event> {
        (0..150_000i64)
            .map(|i| {
                let user = match i % 13 {
                    0 => None,
                    1 => Some(String::new()),
                    _ => Some(format!("u{}", (i * 7_919) % 20_011)),
                };
                let host = ["a", "b", "c"][(i % 3) as usize];
                let tags: &[&str] = if i % 5 == 0 { &["x", "y"] } else { &["y"] };
                event(T0 + i * 1_000, Some(host), tags, user.as_deref())
            })
            .collect()
    }

    /// A result value as a number, or a sketch as its bytes.
    type Exact = Result<f64, Vec<u8>>;

    /// Each row's time and keys, each value as a number and each sketch as
    /// its bytes: equal only when the sketches are.
    fn exactly(rows: &[ResultRow]) -> Vec<(Millis, String, Vec<Exact>)> {
        rows.iter()
            .map(|row| {
                let values = row
                    .values
                    .iter()
                    .map(|value| match value {
                        ResultValue::Sketch(SketchValue::Hll { sketch, .. }) => {
                            Err(sketch.serialize())
                        }
                        other => Ok(other.as_f64().unwrap()),
                    })
                    .collect();
                (row.timestamp, format!("{:?}", row.keys), values)
            })
            .collect()
    }

    /// Counting coupons gives exactly the sketches hashing each row's text
    /// gives — on a segment's table of several row blocks, with nulls and
    /// empty strings, in many small groups and in a few large ones (whose
    /// sketches grow into arrays), filtered or not, over one table and over
    /// several merged.
    #[test]
    fn coupons_count_exactly_what_hashing_each_row_counts() {
        let events = many_users();
        let dir = tempfile::tempdir().unwrap();
        let segments: Vec<_> = events
            .chunks(100_000)
            .enumerate()
            .map(|(i, part)| events_segment(part, &dir.path().join(format!("s{i}"))))
            .collect();
        let stored: Vec<SegmentTable<'_>> = segments
            .iter()
            .map(|segment| SegmentTable::new(segment.table(TableKind::Events).unwrap()))
            .collect();
        assert!(stored[0].row_blocks().len() >= 2);
        let hashed: Vec<HashedRows<'_>> = stored
            .iter()
            .map(|table| HashedRows(table as &dyn TableSource))
            .collect();
        fn sets<'a>(tables: &[&'a dyn TableSource]) -> Vec<TableSet<'a>> {
            tables
                .iter()
                .map(|table| TableSet {
                    events: Some(*table),
                    rollup: None,
                })
                .collect()
        }
        let by_coupon: Vec<&dyn TableSource> = stored.iter().map(|t| t as _).collect();
        let by_hash: Vec<&dyn TableSource> = hashed.iter().map(|t| t as _).collect();
        let aggregations = vec![
            AggregateFunction::Count,
            distinct("user", 12, HllTargetType::Hll8),
            distinct("users", 12, HllTargetType::Hll4),
            distinct("user", 5, HllTargetType::Hll6),
            cardinality(&["user"], true),
            cardinality(&["user"], false),
            AggregateFunction::Filtered {
                filter: Filter::Equals {
                    column: "tags".into(),
                    value: Some("x".into()),
                },
                inner: Box::new(distinct("user", 12, HllTargetType::Hll4)),
            },
            // Hashed either way: a multi-value column, two columns.
            cardinality(&["tags"], false),
            cardinality(&["host", "user"], true),
        ];
        let spec = spec();
        for (granularity, keys) in [
            (Granularity::HOUR, vec!["host"]),
            (Granularity::All, vec![]),
        ] {
            let plan = plan(granularity, hours(0, 48), &keys, aggregations.clone());
            for tables in [&by_coupon[..1], &by_coupon[..]] {
                let counted = execute(&plan, &spec, &sets(tables)).unwrap();
                let hashed = execute(&plan, &spec, &sets(&by_hash[..tables.len()])).unwrap();
                assert!(counted.len() >= if keys.is_empty() { 1 } else { 80 });
                assert_eq!(exactly(&counted), exactly(&hashed), "{granularity:?}");
            }
        }
        // The coupons were counted: the distinct counts of `user` read codes
        // and coupons from the segment, and only hashed rows without them.
        let read = |table: &dyn TableSource, function: &AggregateFunction| {
            let aggregation = Aggregation {
                name: "d".into(),
                function: function.clone(),
            };
            Input::read(table, &spec, &aggregation, 0..1_000).unwrap()
        };
        for (index, function) in aggregations.iter().enumerate() {
            let coupons = (1..=6).contains(&index);
            assert_eq!(
                matches!(read(&stored[0], function), Input::Coupons { .. }),
                coupons,
                "{function:?}"
            );
            assert!(!matches!(read(&hashed[0], function), Input::Coupons { .. }));
        }
    }

    /// Which distinct counts are counted by coupons: those of one
    /// single-value string column, read raw; never a rollup table's stored
    /// sketches.
    #[test]
    fn coupons_count_one_single_value_string_column() {
        let spec = spec();
        let events = events_table(&[]);
        let rollup = rollup_table(&[]);
        let hll = |column: &str| distinct(column, 12, HllTargetType::Hll4);
        let cases = [
            (hll("user"), TableKind::Events, Some("user")),
            (hll("users"), TableKind::Events, Some("user")),
            (hll("users"), TableKind::Rollup, None),
            (hll("host"), TableKind::Rollup, Some("host")),
            (hll("tags"), TableKind::Events, None),
            (hll("status"), TableKind::Events, None),
            (hll("nope"), TableKind::Events, None),
            (
                cardinality(&["host"], true),
                TableKind::Events,
                Some("host"),
            ),
            (
                cardinality(&["host", "user"], false),
                TableKind::Events,
                None,
            ),
            (
                AggregateFunction::Filtered {
                    filter: Filter::Equals {
                        column: "host".into(),
                        value: None,
                    },
                    inner: Box::new(hll("users")),
                },
                TableKind::Events,
                Some("user"),
            ),
            (AggregateFunction::Count, TableKind::Events, None),
        ];
        for (function, kind, expected) in cases {
            let schema = match kind {
                TableKind::Events => events.schema(),
                TableKind::Rollup => rollup.schema(),
            };
            assert_eq!(
                coupon_column(&function, &spec, kind, schema),
                expected,
                "{function:?} in the {kind:?} table"
            );
        }
    }

    /// The column fold of coupons counts into each slot exactly what the
    /// general fold, row by row, counts — over several runs, filtered.
    #[test]
    fn the_column_fold_of_coupons_counts_what_the_general_fold_does() {
        let events = many_users();
        let dir = tempfile::tempdir().unwrap();
        let segment = events_segment(&events, &dir.path().join("s"));
        let table = SegmentTable::new(segment.table(TableKind::Events).unwrap());
        let spec = spec();
        let function = distinct("users", 12, HllTargetType::Hll8);
        let aggregation = Aggregation {
            name: "d".into(),
            function: function.clone(),
        };
        // Two aggregations per slot, as a plan of two would lay them out.
        let (width, slot_count) = (2, 4);
        let empty = || vec![Accumulator::empty(&function); width * slot_count];
        let (mut by_column, mut by_row) = (empty(), empty());
        for run in table.row_blocks() {
            let input = Input::read(&table, &spec, &aggregation, run.clone()).unwrap();
            assert!(matches!(input, Input::Coupons { .. }));
            let rows: Vec<u32> = (0..run.len() as u32).filter(|row| row % 7 != 3).collect();
            let slots: Vec<u32> = rows.iter().map(|row| (row / 100) % 4).collect();
            let passing: Vec<bool> = (0..run.len()).map(|row| row % 11 != 0).collect();
            let fold_rows = FoldRows::new(Some(&rows), &slots, Some(&passing));
            assert!(fold_coupons(&input, &fold_rows, &mut by_column[1..], width));
            fold_rows.for_each(|row, slot| {
                if let Some(value) = input.value(row) {
                    by_row[slot * width + 1].add(value);
                }
            });
        }
        let sketches = |accumulators: &[Accumulator]| -> Vec<Vec<u8>> {
            accumulators
                .iter()
                .map(|accumulator| match accumulator.result() {
                    ResultValue::Sketch(SketchValue::Hll { sketch, .. }) => sketch.serialize(),
                    other => panic!("not a sketch: {other:?}"),
                })
                .collect()
        };
        assert_eq!(sketches(&by_column), sketches(&by_row));
        let estimates: Vec<f64> = by_column
            .iter()
            .map(|accumulator| accumulator.result().as_f64().unwrap())
            .collect();
        assert!(
            estimates[1] > 1_000.0 && estimates[0] == 0.0,
            "{estimates:?}"
        );
        // Other inputs are left to the other folds.
        assert!(!fold_coupons(
            &Input::Ones,
            &FoldRows::new(None, &[], None),
            &mut by_column,
            width
        ));
    }

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
}
