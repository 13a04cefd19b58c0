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
//! What a metric cannot give is refused before any row is read, by name:
//! a sum, min or max of a first/last or sketch metric, first/last of a
//! sketch, a sketch of the other kind of sketch.

use std::ops::Range;

use strata_storage::metric_cell::{DistinctKey, HllState, QuantilesState, Timed};
use strata_storage::segment::TableKind;
use strata_storage::spec::{Aggregator, DataSourceSpec, NumericType};
use strata_storage::time::Millis;

use super::fold::{Number, RowValue, Scalar};
use super::{ExecuteError, check_length, column_kind_name, table_name};
use crate::plan::{AggregateFunction, AggregatePlan, Aggregation};
use crate::table::{ColumnValues, TableSource};

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
                | AggregateFunction::Max { .. } => is_sketch || is_pair,
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
        dictionary: Vec<String>,
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
            | AggregateFunction::Max { column, .. } => match source(spec, column, kind) {
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
                Ok(Input::Distinct {
                    columns: vec![reading.column(source(spec, column, kind))?],
                    by_row: false,
                })
            }
            AggregateFunction::Cardinality {
                columns, by_row, ..
            } => Ok(Input::Distinct {
                columns: columns
                    .iter()
                    .map(|column| reading.column(source(spec, column, kind)))
                    .collect::<Result<_, _>>()?,
                by_row: *by_row,
            }),
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

    /// A long or double column.
    fn read_numbers(reading: &Reading<'_>, column: &str) -> Result<Self, ExecuteError> {
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
            Input::Hll(sketches) => sketches.get(row)?.as_ref().map(RowValue::Hll),
            Input::Quantiles(sketches) => sketches.get(row)?.as_ref().map(RowValue::Quantiles),
        }
    }
}

#[cfg(test)]
mod tests {
    use strata_storage::granularity::Granularity;
    use strata_storage::spec::DataSourceSpec;

    use crate::execute::test_support::*;
    use crate::execute::{ExecuteError, execute};
    use crate::plan::NumberType;

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
