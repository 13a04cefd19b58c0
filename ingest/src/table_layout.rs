//! Which tables a datasource's segments hold, and the columns of each.
//!
//! DESIGN.md ("Tables inside a segment") decides it from the spec:
//!
//! - the **rollup table** (when `rollup` is on): the truncated `__time`, every
//!   dimension that takes part in rollup, then one column per metric holding
//!   its aggregated value — a long or double, or a serialized sketch;
//! - the **events table** (when rollup is off or some dimension is outside
//!   it): `__time`, every dimension, then the *raw input* of every metric
//!   whose input field is not already a dimension, so that any aggregation can
//!   be computed again from the events.
//!
//! Metric columns are typed by [`aggregate::column_kind`]. A raw input column
//! is typed by what reads it ([`aggregate::raw_input_column_kind`]), widened
//! when several metrics read one field: `double` when a double aggregator or
//! a quantiles sketch reads it, `long` when only long aggregators do, and
//! `string` when only an HLL sketch does (HLL counts distinct values of any
//! type).

use strata_storage::segment::schema::SchemaError;
use strata_storage::segment::{ColumnKind, ColumnSchema, TableSchema};
use strata_storage::spec::{DataSourceSpec, DimensionKind};

use crate::aggregate;

/// Where a table column's values come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColumnSource {
    /// Dimension `i` of the spec.
    Dimension(usize),
    /// The raw input field of one or more metrics, by field name.
    MetricInput(String),
    /// Metric `i` of the spec, aggregated.
    Metric(usize),
}

/// One table's schema and, per column, its source.
#[derive(Debug, Clone, PartialEq)]
pub struct TableLayout {
    pub schema: TableSchema,
    pub sources: Vec<ColumnSource>,
}

/// The tables of a datasource's segments.
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentLayout {
    pub events: Option<TableLayout>,
    pub rollup: Option<TableLayout>,
}

/// The column kind a dimension is stored as. String dimensions start
/// single-valued; a segment whose rows hold several values of one makes
/// that column multi-value when it is persisted.
pub fn dimension_column_kind(kind: &DimensionKind) -> ColumnKind {
    match kind {
        DimensionKind::String { .. } => ColumnKind::String { multi_value: false },
        DimensionKind::Long { .. } => ColumnKind::Long,
        DimensionKind::Double { .. } => ColumnKind::Double,
        DimensionKind::Text { .. } => ColumnKind::Text,
    }
}

/// The wider of two kinds an input column is read as: double beats long,
/// and any number beats string.
fn widen(a: ColumnKind, b: ColumnKind) -> ColumnKind {
    match (&a, &b) {
        (ColumnKind::Double, _) | (_, ColumnKind::Double) => ColumnKind::Double,
        (ColumnKind::Long, _) | (_, ColumnKind::Long) => ColumnKind::Long,
        _ => a,
    }
}

impl SegmentLayout {
    /// The layout `spec` asks for.
    pub fn for_spec(spec: &DataSourceSpec) -> Result<Self, SchemaError> {
        let events = spec
            .needs_events_table()
            .then(|| events_layout(spec))
            .transpose()?;
        let rollup = spec
            .has_rollup_table()
            .then(|| rollup_layout(spec))
            .transpose()?;
        Ok(Self { events, rollup })
    }
}

fn events_layout(spec: &DataSourceSpec) -> Result<TableLayout, SchemaError> {
    let mut columns = Vec::new();
    let mut sources = Vec::new();
    for (i, dimension) in spec.dimensions().iter().enumerate() {
        columns.push(ColumnSchema::new(
            dimension.name(),
            dimension_column_kind(dimension.kind()),
        ));
        sources.push(ColumnSource::Dimension(i));
    }
    let mut inputs: Vec<(String, ColumnKind)> = Vec::new();
    for metric in spec.metrics() {
        let (Some(field), Some(kind)) = (
            metric.aggregator().field_name(),
            aggregate::raw_input_column_kind(metric.aggregator()),
        ) else {
            continue;
        };
        if spec.dimension(field).is_some() {
            continue;
        }
        match inputs.iter_mut().find(|(name, _)| name == field) {
            Some((_, existing)) => *existing = widen(existing.clone(), kind),
            None => inputs.push((field.to_string(), kind)),
        }
    }
    for (field, kind) in inputs {
        columns.push(ColumnSchema::new(&field, kind));
        sources.push(ColumnSource::MetricInput(field));
    }
    let mut schema = TableSchema::new(columns)?;
    // Each text dimension is indexed with the analyzer its spec names.
    for dimension in spec.dimensions() {
        if let DimensionKind::Text { analyzer } = dimension.kind() {
            schema = schema.with_text_analyzer(dimension.name(), *analyzer)?;
        }
    }
    Ok(TableLayout { schema, sources })
}

fn rollup_layout(spec: &DataSourceSpec) -> Result<TableLayout, SchemaError> {
    let mut columns = Vec::new();
    let mut sources = Vec::new();
    for (i, dimension) in spec.dimensions().iter().enumerate() {
        if dimension.in_rollup() {
            columns.push(ColumnSchema::new(
                dimension.name(),
                dimension_column_kind(dimension.kind()),
            ));
            sources.push(ColumnSource::Dimension(i));
        }
    }
    for (i, metric) in spec.metrics().iter().enumerate() {
        columns.push(ColumnSchema::new(
            metric.name(),
            aggregate::column_kind(metric.aggregator()),
        ));
        sources.push(ColumnSource::Metric(i));
    }
    Ok(TableLayout {
        schema: TableSchema::new(columns)?,
        sources,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACCESS: &str = strata_storage::spec::ACCESS_SPEC_JSON;

    fn names(layout: &TableLayout) -> Vec<(&str, &ColumnKind)> {
        layout
            .schema
            .columns()
            .iter()
            .map(|c| (c.name.as_str(), &c.kind))
            .collect()
    }

    #[test]
    fn text_columns_carry_their_spec_analyzers() {
        use strata_storage::spec::TextAnalyzer;
        let spec = DataSourceSpec::from_json(
            r#"{"dataSource": "logs", "dimensionsSpec": {"dimensions": [
                "host",
                {"type": "text", "name": "message"},
                {"type": "text", "name": "path", "analyzer": "raw"},
                {"type": "text", "name": "body", "analyzer": "english"}]}}"#,
        )
        .unwrap();
        let events = SegmentLayout::for_spec(&spec).unwrap().events.unwrap();
        let analyzer = |name| events.schema.text_analyzer(name);
        assert_eq!(analyzer("message"), Some(TextAnalyzer::Default));
        assert_eq!(analyzer("path"), Some(TextAnalyzer::Raw));
        assert_eq!(analyzer("body"), Some(TextAnalyzer::English));
        assert_eq!(analyzer("host"), None);
    }

    #[test]
    fn the_access_spec_keeps_both_tables() {
        let spec = DataSourceSpec::from_json(ACCESS).unwrap();
        let layout = SegmentLayout::for_spec(&spec).unwrap();
        let string = ColumnKind::String { multi_value: false };
        let events = layout.events.unwrap();
        assert_eq!(
            names(&events),
            vec![
                ("service", &string),
                ("region", &string),
                ("method", &string),
                ("status", &ColumnKind::Long),
                ("country", &string),
                ("host", &string),
                ("path", &string),
                ("user_id", &string),
                ("message", &ColumnKind::Text),
                ("bytes", &ColumnKind::Long),
                ("duration_ms", &ColumnKind::Double),
                ("retries", &ColumnKind::Long),
            ]
        );
        assert_eq!(events.sources[9], ColumnSource::MetricInput("bytes".into()));

        let rollup = layout.rollup.unwrap();
        let rollup_names: Vec<&str> = names(&rollup).iter().map(|(n, _)| *n).collect();
        assert_eq!(
            rollup_names,
            [
                "service",
                "region",
                "method",
                "status",
                "country",
                "count",
                "bytes",
                "duration_sum",
                "duration_max",
                "retries",
                "users",
                "duration_sketch"
            ]
        );
        assert_eq!(
            rollup.schema.columns()[10].kind,
            ColumnKind::Complex {
                type_name: aggregate::HLL_SKETCH_TYPE.into()
            }
        );
        assert_eq!(rollup.sources[5], ColumnSource::Metric(0));
    }

    #[test]
    fn rollup_off_keeps_only_events_and_all_rollup_keeps_only_rollup() {
        let no_rollup = ACCESS.replace(r#""rollup": true}"#, r#""rollup": false}"#);
        let layout =
            SegmentLayout::for_spec(&DataSourceSpec::from_json(&no_rollup).unwrap()).unwrap();
        assert!(layout.events.is_some() && layout.rollup.is_none());

        let all_in = r#"{"dataSource": "small", "dimensionsSpec": {"dimensions": ["a"]},
            "metricsSpec": [{"type": "count", "name": "count"}, {"type": "HLLSketchBuild", "name": "u", "fieldName": "user"}]}"#;
        let layout = SegmentLayout::for_spec(&DataSourceSpec::from_json(all_in).unwrap()).unwrap();
        assert!(layout.events.is_none() && layout.rollup.is_some());
    }

    #[test]
    fn hll_only_inputs_are_strings_and_shared_inputs_widen() {
        let spec = r#"{"dataSource": "x", "granularitySpec": {"rollup": false},
            "dimensionsSpec": {"dimensions": ["a"]},
            "metricsSpec": [
              {"type": "HLLSketchBuild", "name": "u", "fieldName": "user"},
              {"type": "longSum", "name": "n", "fieldName": "v"},
              {"type": "doubleMax", "name": "m", "fieldName": "v"}
            ]}"#;
        let layout = SegmentLayout::for_spec(&DataSourceSpec::from_json(spec).unwrap()).unwrap();
        let events = layout.events.unwrap();
        assert_eq!(
            names(&events)[1..],
            [
                ("user", &ColumnKind::String { multi_value: false }),
                ("v", &ColumnKind::Double)
            ]
        );
    }
}
