//! Druid's `segmentMetadata` query: what each published segment holds,
//! read from the tables' footers, never from their values.
//!
//! A segment may keep two tables (DESIGN.md, "Tables inside a segment"): the
//! events table, one row per event, and the rollup table, aggregated. The
//! datasource's columns are their union — the dimensions of the events
//! table, the metrics of the rollup table — so a segment is described as one
//! set of columns, each [`ColumnAnalysis`] folded over the tables that hold
//! the column: its bytes summed, its cardinality the larger (the rollup
//! table's values are a subset of the events table's), `hasNulls` and
//! `hasMultipleValues` true when true in either. The columns are described
//! as stored: without rollup, a segment keeps only the events table, whose
//! columns are the events' fields (`bytes`, `duration_ms`) that queries
//! aggregate, not the spec's metrics (`aggregators` lists those).
//!
//! What a column reports comes from the table's footer: the type from the
//! schema, the size from [`Table::column_bytes`], the cardinality from the
//! string column's dictionary length, `hasNulls` from the presence of rows in
//! its null bitmap. Nothing is decoded, so the answer costs a few reads per
//! segment. Two consequences, on purpose:
//! - `minValue` and `maxValue` are always `null` (Druid's `minmax` analysis
//!   type is accepted, since Druid's clients ask for it by default);
//! - `hasMultipleValues` is the column's declared kind (a multi-value string
//!   dimension), not whether some row actually holds two values.
//!
//! Analysis types gate the fields as in Druid: with none given, Druid's
//! default `cardinality`, `interval`, `minmax`; sizes are 0 unless `size` is
//! asked for, and `aggregators`, `queryGranularity`, `rollup` and
//! `timestampSpec` are `null` unless asked for (they come from the
//! datasource spec, the same for every segment).
//!
//! Only published segments are described: the real-time index's chunks are
//! not segments yet (they have no id, version or file sizes) and appear once
//! persisted. `merge: true` folds every segment into one analysis with the
//! id `merged`, as Druid does.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};
use strata_storage::catalog::{Catalog, DataSourceState, SegmentDescriptor};
use strata_storage::granularity::Granularity;
use strata_storage::segment::{Column, ColumnKind, Segment, SegmentError, Table, TableKind};
use strata_storage::spec::DataSourceSpec;
use strata_storage::time::Interval;

use crate::druid::json::{Field, JsonError};
use crate::snapshot::QueryError;

/// A `segmentMetadata` query, read. See the [module docs](self).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentMetadataQuery {
    pub datasource: String,
    /// Segments whose interval overlaps one of these are described.
    pub intervals: Vec<Interval>,
    /// Fold every segment's analysis into one.
    pub merge: bool,
    pub analysis_types: BTreeSet<AnalysisType>,
}

/// One of Druid's `analysisTypes`: a part of the answer to compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum AnalysisType {
    Cardinality,
    Size,
    Interval,
    MinMax,
    Aggregators,
    QueryGranularity,
    Rollup,
    TimestampSpec,
}

impl AnalysisType {
    const ALL: [(&'static str, AnalysisType); 8] = [
        ("cardinality", AnalysisType::Cardinality),
        ("size", AnalysisType::Size),
        ("interval", AnalysisType::Interval),
        ("minmax", AnalysisType::MinMax),
        ("aggregators", AnalysisType::Aggregators),
        ("queryGranularity", AnalysisType::QueryGranularity),
        ("rollup", AnalysisType::Rollup),
        ("timestampSpec", AnalysisType::TimestampSpec),
    ];

    /// Druid's default when a query names none.
    const DEFAULT: [AnalysisType; 3] = [
        AnalysisType::Cardinality,
        AnalysisType::Interval,
        AnalysisType::MinMax,
    ];
}

impl SegmentMetadataQuery {
    /// Reads the fields beyond the datasource and intervals (which the caller
    /// read, as for every Druid query): `merge`, `analysisTypes`, and
    /// `toInclude`, of which only `{"type": "all"}` is supported.
    pub fn parse(
        root: &Field<'_>,
        datasource: String,
        intervals: Vec<Interval>,
    ) -> Result<SegmentMetadataQuery, JsonError> {
        let merge = match root.optional("merge").filter(|field| !field.is_null()) {
            Some(field) => field.boolean()?,
            None => false,
        };
        let analysis_types = match root
            .optional("analysisTypes")
            .filter(|field| !field.is_null())
        {
            Some(field) => field
                .elements()?
                .iter()
                .map(analysis_type)
                .collect::<Result<_, _>>()?,
            None => AnalysisType::DEFAULT.into_iter().collect(),
        };
        if let Some(field) = root.optional("toInclude").filter(|field| !field.is_null()) {
            let kind = field.required("type")?.string()?;
            if kind != "all" {
                return Err(field.invalid(format!(
                    "toInclude of type `{kind}` is not supported yet; remove it to describe every column"
                )));
            }
        }
        Ok(SegmentMetadataQuery {
            datasource,
            intervals,
            merge,
            analysis_types,
        })
    }

    fn wants(&self, analysis: AnalysisType) -> bool {
        self.analysis_types.contains(&analysis)
    }
}

fn analysis_type(field: &Field<'_>) -> Result<AnalysisType, JsonError> {
    let name = field.string()?;
    AnalysisType::ALL
        .iter()
        .find(|(known, _)| *known == name)
        .map(|(_, analysis)| *analysis)
        .ok_or_else(|| {
            let known: Vec<&str> = AnalysisType::ALL.iter().map(|(known, _)| *known).collect();
            field.invalid(format!(
                "analysis type `{name}` is unknown; use some of {}",
                known.join(", ")
            ))
        })
}

/// What one segment (or, merged, several) holds.
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentAnalysis {
    /// The segment id as Druid prints it, or `merged`.
    pub id: String,
    /// `None` unless the `interval` analysis was asked for.
    pub intervals: Option<Vec<Interval>>,
    pub columns: BTreeMap<String, ColumnAnalysis>,
    /// Bytes on disk; 0 unless the `size` analysis was asked for.
    pub size: u64,
    pub num_rows: u64,
    /// The spec's aggregator JSON by metric name, when asked for.
    pub aggregators: Option<Map<String, Value>>,
    pub query_granularity: Option<Granularity>,
    pub rollup: Option<bool>,
    pub timestamp_spec: Option<Value>,
}

/// What one column holds. See the [module docs](self).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnAnalysis {
    /// Druid's type name: `LONG`, `DOUBLE`, `STRING`, `COMPLEX<HLLSketch>`, ...
    pub type_name: String,
    pub has_multiple_values: bool,
    /// Bytes the column takes; 0 unless the `size` analysis was asked for.
    pub size: u64,
    /// Distinct values of a string column, when asked for.
    pub cardinality: Option<u32>,
    pub has_nulls: bool,
    /// Why the column could not be described, as Druid reports a merge of
    /// columns of different types.
    pub error_message: Option<String>,
}

impl ColumnAnalysis {
    /// The analysis of the same column in two tables or two segments.
    fn fold(self, other: ColumnAnalysis) -> ColumnAnalysis {
        if self.error_message.is_some() {
            return self;
        }
        if other.error_message.is_some() {
            return other;
        }
        if self.type_name != other.type_name {
            return ColumnAnalysis {
                type_name: "STRING".to_owned(),
                has_multiple_values: false,
                size: 0,
                cardinality: None,
                has_nulls: false,
                error_message: Some(format!(
                    "error:cannot_merge_diff_types: [{}] and [{}]",
                    self.type_name, other.type_name
                )),
            };
        }
        ColumnAnalysis {
            type_name: self.type_name,
            has_multiple_values: self.has_multiple_values || other.has_multiple_values,
            size: self.size + other.size,
            cardinality: match (self.cardinality, other.cardinality) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            },
            has_nulls: self.has_nulls || other.has_nulls,
            error_message: None,
        }
    }
}

/// The analyses `query` asks for: one per published segment whose interval
/// overlaps the query's, in the catalog's order, or one merged analysis
/// (none when no segment overlaps).
pub fn analyze(
    state: &DataSourceState,
    query: &SegmentMetadataQuery,
    catalog: &dyn Catalog,
) -> Result<Vec<SegmentAnalysis>, QueryError> {
    let analyses = state
        .segments
        .iter()
        .filter(|descriptor| {
            let interval = descriptor.id.interval();
            query
                .intervals
                .iter()
                .any(|wanted| wanted.overlaps(&interval))
        })
        .map(|descriptor| {
            let dir = catalog.segment_dir(&descriptor.id);
            let segment = Segment::open(&dir).map_err(|source| QueryError::Segment {
                dir: dir.clone(),
                source,
            })?;
            analyze_segment(descriptor, &segment, &state.spec, query)
                .map_err(|source| QueryError::Segment { dir, source })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if !query.merge {
        return Ok(analyses);
    }
    Ok(analyses.into_iter().reduce(merge).into_iter().collect())
}

/// The analysis of one opened segment.
pub fn analyze_segment(
    descriptor: &SegmentDescriptor,
    segment: &Segment,
    spec: &DataSourceSpec,
    query: &SegmentMetadataQuery,
) -> Result<SegmentAnalysis, SegmentError> {
    let mut columns: BTreeMap<String, ColumnAnalysis> = BTreeMap::new();
    for table in [TableKind::Events, TableKind::Rollup]
        .into_iter()
        .filter_map(|kind| segment.table(kind))
    {
        for (name, analysis) in analyze_table(table, query)? {
            let folded = match columns.remove(&name) {
                Some(earlier) => earlier.fold(analysis),
                None => analysis,
            };
            columns.insert(name, folded);
        }
    }
    let spec_json = canonical_spec(spec);
    Ok(SegmentAnalysis {
        id: descriptor.id.to_string(),
        intervals: query
            .wants(AnalysisType::Interval)
            .then(|| vec![descriptor.id.interval()]),
        columns,
        size: if query.wants(AnalysisType::Size) {
            descriptor.bytes
        } else {
            0
        },
        num_rows: descriptor.rows,
        aggregators: query
            .wants(AnalysisType::Aggregators)
            .then(|| aggregators(&spec_json)),
        query_granularity: query
            .wants(AnalysisType::QueryGranularity)
            .then(|| *spec.query_granularity()),
        rollup: query.wants(AnalysisType::Rollup).then(|| spec.rollup()),
        timestamp_spec: query.wants(AnalysisType::TimestampSpec).then(|| {
            spec_json
                .get("timestampSpec")
                .cloned()
                .unwrap_or(Value::Null)
        }),
    })
}

/// The columns of one table, `__time` included.
fn analyze_table(
    table: &Table,
    query: &SegmentMetadataQuery,
) -> Result<Vec<(String, ColumnAnalysis)>, SegmentError> {
    let sizes: BTreeMap<&str, u64> = table.column_bytes().into_iter().collect();
    let kinds = std::iter::once((strata_storage::segment::TIME_COLUMN, &ColumnKind::Long)).chain(
        table
            .schema()
            .columns()
            .iter()
            .map(|column| (column.name.as_str(), &column.kind)),
    );
    kinds
        .map(|(name, kind)| {
            let column = table.column(name);
            let has_nulls = match &column {
                Some(column) => !column.nulls()?.is_empty(),
                None => false,
            };
            let cardinality = match &column {
                Some(Column::String(strings)) if query.wants(AnalysisType::Cardinality) => {
                    Some(strings.cardinality())
                }
                _ => None,
            };
            let size = if query.wants(AnalysisType::Size) {
                sizes.get(name).copied().unwrap_or(0)
            } else {
                0
            };
            Ok((
                name.to_owned(),
                ColumnAnalysis {
                    type_name: druid_type(kind),
                    has_multiple_values: matches!(kind, ColumnKind::String { multi_value: true }),
                    size,
                    cardinality,
                    has_nulls,
                    error_message: None,
                },
            ))
        })
        .collect()
}

fn druid_type(kind: &ColumnKind) -> String {
    match kind {
        ColumnKind::String { .. } | ColumnKind::Text => "STRING".to_owned(),
        ColumnKind::Long => "LONG".to_owned(),
        ColumnKind::Double => "DOUBLE".to_owned(),
        ColumnKind::Complex { type_name } => format!("COMPLEX<{type_name}>"),
    }
}

/// The spec in its canonical (Druid `dataSchema`) JSON, where the metrics'
/// aggregator objects and the timestamp spec are spelled out.
fn canonical_spec(spec: &DataSourceSpec) -> Value {
    // Serializing plain structs with string keys cannot fail.
    serde_json::to_value(spec).unwrap_or(Value::Null)
}

fn aggregators(spec_json: &Value) -> Map<String, Value> {
    spec_json
        .get("metricsSpec")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|metric| {
            let name = metric.get("name")?.as_str()?;
            Some((name.to_owned(), metric.clone()))
        })
        .collect()
}

/// Two analyses folded into one, as Druid's `merge: true` answers.
fn merge(left: SegmentAnalysis, right: SegmentAnalysis) -> SegmentAnalysis {
    let mut columns = left.columns;
    for (name, analysis) in right.columns {
        let folded = match columns.remove(&name) {
            Some(earlier) => earlier.fold(analysis),
            None => analysis,
        };
        columns.insert(name, folded);
    }
    SegmentAnalysis {
        id: "merged".to_owned(),
        intervals: match (left.intervals, right.intervals) {
            (Some(mut a), Some(b)) => {
                a.extend(b);
                Some(condense(a))
            }
            (a, b) => a.or(b),
        },
        columns,
        size: left.size + right.size,
        num_rows: left.num_rows + right.num_rows,
        aggregators: match (left.aggregators, right.aggregators) {
            (Some(mut a), Some(b)) => {
                a.extend(b);
                Some(a)
            }
            (a, b) => a.or(b),
        },
        query_granularity: left
            .query_granularity
            .filter(|granularity| right.query_granularity.as_ref() == Some(granularity)),
        rollup: left.rollup.filter(|rollup| right.rollup == Some(*rollup)),
        timestamp_spec: left
            .timestamp_spec
            .filter(|spec| right.timestamp_spec.as_ref() == Some(spec)),
    }
}

/// Intervals sorted, with those that overlap or abut joined.
fn condense(mut intervals: Vec<Interval>) -> Vec<Interval> {
    intervals.sort_by_key(|interval| (interval.start(), interval.end()));
    let mut condensed: Vec<Interval> = Vec::with_capacity(intervals.len());
    for interval in intervals {
        match condensed.last_mut() {
            Some(last) if interval.start() <= last.end() => {
                if interval.end() > last.end()
                    && let Ok(joined) = Interval::new(last.start(), interval.end())
                {
                    *last = joined;
                }
            }
            _ => condensed.push(interval),
        }
    }
    condensed
}

#[cfg(test)]
mod tests;
