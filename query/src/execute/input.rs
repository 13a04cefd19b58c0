//! What an aggregation reads: the numbers one table offers an aggregation,
//! row by row.
//!
//! The plan names logical columns. In a rollup table a metric's column holds
//! per-row partial results and `Count` sums the spec's count metric — it
//! counts events, not rollup rows. In an events table a metric `M` reads as
//! `M`'s value for one event: 1 for a count metric, the raw input column
//! named by `M`'s `fieldName` for a sum, min or max. Any other name reads the
//! column of that name; a column a table lacks is null. Sketch and first/last
//! metrics cannot be aggregated here yet.

use strata_storage::segment::TableKind;
use strata_storage::spec::{Aggregator, DataSourceSpec};

use super::fold::Number;
use super::{ExecuteError, check_length, column_kind_name, table_name};
use crate::plan::{AggregateFunction, AggregatePlan, Aggregation};
use crate::table::{ColumnValues, TableSource};

/// Sketch and first/last metrics have no number to fold yet.
pub(super) fn check_metrics_supported(
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
        AggregateFunction::Filtered { inner, .. } => aggregated_column(inner),
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

/// What one aggregation reads from one table, per row.
pub(super) enum Input {
    /// Every row counts once: an event of an events table, or a rollup row
    /// when there is no count metric to sum.
    Ones,
    /// The table lacks the column.
    Absent,
    Long(Vec<Option<i64>>),
    Double(Vec<Option<f64>>),
}

impl Input {
    pub(super) fn read(
        table: &dyn TableSource,
        spec: &DataSourceSpec,
        aggregation: &Aggregation,
        rows: usize,
    ) -> Result<Self, ExecuteError> {
        Self::read_function(table, spec, &aggregation.name, &aggregation.function, rows)
    }

    /// What `function`, of the aggregation named `name`, reads; a filtered
    /// function reads what its inner one does, the filter being applied to
    /// rows, not to values.
    fn read_function(
        table: &dyn TableSource,
        spec: &DataSourceSpec,
        name: &str,
        function: &AggregateFunction,
        rows: usize,
    ) -> Result<Self, ExecuteError> {
        let kind = table.kind();
        let column = match (function, kind) {
            (AggregateFunction::Filtered { inner, .. }, _) => {
                return Self::read_function(table, spec, name, inner, rows);
            }
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
                aggregation: name.to_owned(),
                column: column.to_owned(),
                table: table_name,
                kind: column_kind_name(&other),
            }),
        }
    }

    pub(super) fn value(&self, row: usize) -> Option<Number> {
        match self {
            Input::Ones => Some(Number::Long(1)),
            Input::Absent => None,
            Input::Long(values) => values.get(row).copied().flatten().map(Number::Long),
            Input::Double(values) => values.get(row).copied().flatten().map(Number::Double),
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
