//! Compaction: the partitions of one time chunk rewritten as one segment.
//!
//! Late events for a time chunk that was already persisted become another
//! partition of its version (see [`persist`], "Which segment"). A chunk that
//! keeps receiving late data thus ends up as many small segments: a query
//! opens every one of them, and the rollup table holds one row per key *per
//! partition*. Compaction reads all the visible partitions of one exact
//! interval back into a single [`TimeChunk`] and writes it as ONE segment of
//! a newer version, which overshadows them once it is published
//! ([`publish`](strata_storage::catalog::publish)).
//!
//! ```text
//! v1 partition 0 ─┐
//! v1 partition 1 ─┼─ load_chunk ─> TimeChunk ─ write_segment_at(v2, 0) ─> v2 partition 0
//! v1 partition 2 ─┘                                  publishing it retires v1's partitions
//! ```
//!
//! # Reading segments back
//!
//! [`load_chunk`] turns stored rows back into the rows the real-time index
//! would hold, by the spec's [`SegmentLayout`]:
//!
//! - each events-table row becomes an [`EventRow`]: its dimension values, and
//!   for each metric the raw input the table keeps for its field (a metric
//!   whose field is a dimension reads that dimension's value; `count` reads
//!   nothing). Partitions are appended in partition order, so a persist's
//!   stable sort by time keeps events of one millisecond in arrival order;
//! - each rollup-table row becomes a [`RollupKey`] and the [`RollupRow`] its
//!   metric cells hold. Rows of one key from different partitions are
//!   [merged](RollupRow::merge) in partition order — arrival order — so
//!   first/last break ties as they would have in one persist.
//!
//! Rewriting that chunk gives the segment one persist of all the events would
//! have given: the same rows in the same order, with sketches that answer the
//! same (a merged sketch's bytes may differ from a sketch fed directly).
//!
//! The spec may have grown since a partition was written: a column the
//! segment lacks (a dimension schema discovery added later, a new metric)
//! reads as null, as it does for any reader of that segment. Anything the
//! spec cannot describe is an error naming the segment directory — a column
//! the spec does not have, a dimension stored as another type, a table the
//! layout does not keep — because rewriting would drop or garble its data.
//!
//! # Publishing
//!
//! [`compact_interval`] writes the new segment but does not publish it. A
//! persist that adds a partition to the interval in the meantime would be
//! retired by that publish along with the partitions compaction read, and its
//! events lost. The caller therefore publishes under the lock that orders its
//! persists, after [`still_current`] confirms the interval still shows
//! exactly [`Compacted::replaces`]; otherwise it [discards](Compacted::discard)
//! the segment and compacts again later.

use std::collections::hash_map::Entry;
use std::path::PathBuf;

use strata_query::segment_table::SegmentTable;
use strata_query::table::{ColumnValues, TableError, TableSource};
use strata_storage::catalog::{Catalog, CatalogError, SegmentDescriptor};
use strata_storage::segment::schema::SchemaError;
use strata_storage::segment::{CellValue, ColumnKind, Segment, SegmentError, Table, TableKind};
use strata_storage::spec::DataSourceSpec;
use strata_storage::time::{Interval, Millis};

use crate::aggregate::{Aggregators, MergeError, RollupRow, RowCellsError};
use crate::parse::{self, DimensionValue};
use crate::persist::{self, PersistError};
use crate::realtime::{EventRow, RollupKey, TimeChunk};
use crate::table_layout::{ColumnSource, SegmentLayout, TableLayout};

/// A time chunk's partitions rewritten as one segment, not yet published.
#[derive(Debug, Clone, PartialEq)]
pub struct Compacted {
    /// The partitions that were read, by partition number: the segments
    /// publishing [`segment`](Self::segment) retires.
    pub replaces: Vec<SegmentDescriptor>,
    /// The new segment: partition 0 of a version newer than theirs.
    pub segment: SegmentDescriptor,
}

impl Compacted {
    /// Removes the new segment's files, for a caller that will not publish
    /// it because the interval changed (see [`still_current`]). A catalog
    /// would also remove them when it next opens, as it does with every
    /// segment it does not list.
    pub fn discard(&self, catalog: &dyn Catalog) -> std::io::Result<()> {
        std::fs::remove_dir_all(catalog.segment_dir(&self.segment.id))
    }
}

/// Why a time chunk could not be compacted.
#[derive(Debug, thiserror::Error)]
pub enum CompactionError {
    #[error(
        "compacting time chunk {interval} of datasource `{datasource}`: segment {}: {problem}",
        dir.display()
    )]
    Read {
        datasource: String,
        interval: Interval,
        /// The segment directory that could not be read back.
        dir: PathBuf,
        /// Boxed: every `Result` of compaction would pay for its size.
        #[source]
        problem: Box<ReadProblem>,
    },
    #[error("compacting datasource `{datasource}`: the spec's table layout is invalid: {source}")]
    Layout {
        datasource: String,
        #[source]
        source: SchemaError,
    },
    #[error("compacting time chunk {interval} of datasource `{datasource}`: {source}")]
    Catalog {
        datasource: String,
        interval: Interval,
        #[source]
        source: CatalogError,
    },
    #[error(transparent)]
    Write(#[from] PersistError),
}

/// What is wrong with a segment that compaction reads back.
#[derive(Debug, thiserror::Error)]
pub enum ReadProblem {
    /// The files are unreadable or damaged; the error names the file.
    #[error(transparent)]
    Segment(#[from] SegmentError),
    #[error(transparent)]
    Table(#[from] TableError),
    #[error(
        "it holds {found} but the spec keeps {expected}; the spec's rollup settings changed since it was written, and compaction cannot rebuild one table from the other — re-load its time chunk instead"
    )]
    Tables {
        found: &'static str,
        expected: &'static str,
    },
    #[error(
        "its {} table has column {column:?}, which the spec does not have; rewriting would drop that column's data — put the column back in the spec, or re-load the time chunk",
        table.name()
    )]
    UnknownColumn { table: TableKind, column: String },
    #[error(
        "column {column:?} of its {} table is stored as {found}, but the spec makes it {expected}; a dimension cannot change type in place — re-load the time chunk with the current spec",
        table.name()
    )]
    ColumnKind {
        table: TableKind,
        column: String,
        found: String,
        expected: String,
    },
    #[error("row {row} of its {} table, column {column:?}: {detail}", table.name())]
    Cell {
        table: TableKind,
        row: usize,
        column: String,
        detail: &'static str,
    },
    #[error("row {row} of its rollup table: {source}")]
    RollupCells {
        row: usize,
        #[source]
        source: RowCellsError,
    },
    #[error(
        "row {row} of its {} table has __time {time}, outside the time chunk: the segment does not belong to this interval",
        table.name()
    )]
    OutsideInterval {
        table: TableKind,
        row: usize,
        time: Millis,
    },
    #[error(
        "row {row} of its rollup table cannot be merged into the same key of an earlier partition: {source}"
    )]
    Merge {
        row: usize,
        #[source]
        source: MergeError,
    },
}

/// Reads `segments` — partitions of one time chunk of `spec`'s datasource,
/// in partition order — back into one chunk over `interval`. See the
/// [module docs](self).
pub fn load_chunk(
    spec: &DataSourceSpec,
    interval: Interval,
    segments: &[Segment],
) -> Result<TimeChunk, CompactionError> {
    let layout = SegmentLayout::for_spec(spec).map_err(|source| CompactionError::Layout {
        datasource: spec.name().to_owned(),
        source,
    })?;
    let reader = ChunkReader {
        spec,
        layout: &layout,
        aggregators: Aggregators::new(spec.metrics()),
        interval,
    };
    let mut events = Vec::new();
    let mut rollup = foldhash::HashMap::default();
    for segment in segments {
        reader
            .read_segment(segment, &mut events, &mut rollup)
            .map_err(|problem| CompactionError::Read {
                datasource: spec.name().to_owned(),
                interval,
                dir: segment.dir().to_path_buf(),
                problem: Box::new(problem),
            })?;
    }
    Ok(TimeChunk::from_rows(interval, events, rollup))
}

/// Rewrites the visible partitions of exactly `interval` as one segment of a
/// new version, without publishing it; `None` when there are fewer than two
/// partitions to merge. See the module's "Publishing" for what the caller
/// must check before it publishes [`Compacted::segment`].
pub fn compact_interval(
    catalog: &dyn Catalog,
    spec: &DataSourceSpec,
    interval: Interval,
) -> Result<Option<Compacted>, CompactionError> {
    let catalog_error = |source| CompactionError::Catalog {
        datasource: spec.name().to_owned(),
        interval,
        source,
    };
    let replaces = partitions(catalog, spec.name(), interval).ok_or_else(|| {
        catalog_error(CatalogError::UnknownDatasource {
            name: spec.name().to_owned(),
        })
    })?;
    if replaces.len() < 2 {
        return Ok(None);
    }
    let segments = replaces
        .iter()
        .map(|partition| {
            let dir = catalog.segment_dir(&partition.id);
            Segment::open(&dir).map_err(|error| CompactionError::Read {
                datasource: spec.name().to_owned(),
                interval,
                dir,
                problem: Box::new(error.into()),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let chunk = load_chunk(spec, interval, &segments)?;
    let version = catalog.new_version().map_err(catalog_error)?;
    let segment = persist::write_segment_at(catalog, spec, &chunk, version, 0)?;
    Ok(Some(Compacted { replaces, segment }))
}

/// Whether datasource `name` still shows exactly the partitions `compacted`
/// read for its interval — the check to make, under the lock that orders
/// persists, before publishing it.
pub fn still_current(catalog: &dyn Catalog, name: &str, compacted: &Compacted) -> bool {
    partitions(catalog, name, compacted.segment.id.interval())
        .is_some_and(|visible| visible == compacted.replaces)
}

/// The visible segments of exactly `interval`, by version and partition;
/// `None` when the datasource does not exist.
fn partitions(
    catalog: &dyn Catalog,
    name: &str,
    interval: Interval,
) -> Option<Vec<SegmentDescriptor>> {
    let state = catalog.datasource(name)?;
    let mut found: Vec<SegmentDescriptor> = state
        .segments
        .iter()
        .filter(|segment| segment.id.interval() == interval)
        .cloned()
        .collect();
    found.sort_by_key(|segment| (segment.id.version(), segment.id.partition()));
    Some(found)
}

/// What reading one partition needs, the same for every partition.
struct ChunkReader<'a> {
    spec: &'a DataSourceSpec,
    layout: &'a SegmentLayout,
    aggregators: Aggregators,
    interval: Interval,
}

/// Where a metric's input comes from in an events table.
enum InputSource {
    /// `count`, or a field the events table does not store: null.
    Nothing,
    /// A dimension, by spec position: the events table keeps the field once.
    Dimension(usize),
    /// A raw input column, by position in the input columns.
    Column(usize),
}

impl ChunkReader<'_> {
    fn read_segment(
        &self,
        segment: &Segment,
        events: &mut Vec<EventRow>,
        rollup: &mut foldhash::HashMap<RollupKey, RollupRow>,
    ) -> Result<(), ReadProblem> {
        let events_table = segment.table(TableKind::Events);
        let rollup_table = segment.table(TableKind::Rollup);
        let found = (events_table.is_some(), rollup_table.is_some());
        let expected = (self.layout.events.is_some(), self.layout.rollup.is_some());
        if found != expected {
            return Err(ReadProblem::Tables {
                found: tables_named(found),
                expected: tables_named(expected),
            });
        }
        if let (Some(layout), Some(table)) = (&self.layout.events, events_table) {
            self.read_events(layout, table, events)?;
        }
        if let (Some(layout), Some(table)) = (&self.layout.rollup, rollup_table) {
            self.read_rollup(layout, table, rollup)?;
        }
        Ok(())
    }

    fn read_events(
        &self,
        layout: &TableLayout,
        table: &Table,
        out: &mut Vec<EventRow>,
    ) -> Result<(), ReadProblem> {
        check_columns(TableKind::Events, layout, table)?;
        let times = self.times(TableKind::Events, table)?;
        let dimensions = self
            .spec
            .dimensions()
            .iter()
            .map(|dimension| read_column(table, dimension.name()))
            .collect::<Result<Vec<_>, _>>()?;
        let input_fields: Vec<&str> = layout
            .sources
            .iter()
            .filter_map(|source| match source {
                ColumnSource::MetricInput(field) => Some(field.as_str()),
                _ => None,
            })
            .collect();
        let inputs = input_fields
            .iter()
            .map(|field| read_column(table, field))
            .collect::<Result<Vec<_>, _>>()?;
        let sources: Vec<InputSource> = self
            .spec
            .metrics()
            .iter()
            .map(|metric| {
                let Some(field) = metric.aggregator().field_name() else {
                    return InputSource::Nothing;
                };
                if let Some(position) = self
                    .spec
                    .dimensions()
                    .iter()
                    .position(|d| d.name() == field)
                {
                    return InputSource::Dimension(position);
                }
                input_fields
                    .iter()
                    .position(|input| *input == field)
                    .map_or(InputSource::Nothing, InputSource::Column)
            })
            .collect();

        out.reserve(times.len());
        for (row, &time) in times.iter().enumerate() {
            let cell_error = |column: &str, detail| ReadProblem::Cell {
                table: TableKind::Events,
                row,
                column: column.to_owned(),
                detail,
            };
            let values = self
                .spec
                .dimensions()
                .iter()
                .zip(&dimensions)
                .map(|(dimension, column)| {
                    column
                        .dimension(row)
                        .map_err(|detail| cell_error(dimension.name(), detail))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let metric_inputs = sources
                .iter()
                .map(|source| match source {
                    InputSource::Nothing => Ok(parse::MetricInput::Null),
                    InputSource::Dimension(position) => Ok(values
                        .get(*position)
                        .map_or(parse::MetricInput::Null, input_of)),
                    InputSource::Column(position) => {
                        match (inputs.get(*position), input_fields.get(*position)) {
                            (Some(column), Some(field)) => column
                                .metric_input(row)
                                .map_err(|detail| cell_error(field, detail)),
                            _ => Ok(parse::MetricInput::Null),
                        }
                    }
                })
                .collect::<Result<Vec<_>, _>>()?;
            out.push(EventRow {
                time,
                dimensions: values,
                metric_inputs,
            });
        }
        Ok(())
    }

    fn read_rollup(
        &self,
        layout: &TableLayout,
        table: &Table,
        out: &mut foldhash::HashMap<RollupKey, RollupRow>,
    ) -> Result<(), ReadProblem> {
        check_columns(TableKind::Rollup, layout, table)?;
        let times = self.times(TableKind::Rollup, table)?;
        let key_names: Vec<&str> = layout
            .schema
            .columns()
            .iter()
            .zip(&layout.sources)
            .filter(|(_, source)| matches!(source, ColumnSource::Dimension(_)))
            .map(|(column, _)| column.name.as_str())
            .collect();
        let keys = key_names
            .iter()
            .map(|name| read_column(table, name))
            .collect::<Result<Vec<_>, _>>()?;
        let metrics = self
            .spec
            .metrics()
            .iter()
            .map(|metric| read_column(table, metric.name()))
            .collect::<Result<Vec<_>, _>>()?;

        let mut cells: Vec<CellValue<'_>> = Vec::with_capacity(metrics.len());
        for (row, &time) in times.iter().enumerate() {
            let cell_error = |column: &str, detail| ReadProblem::Cell {
                table: TableKind::Rollup,
                row,
                column: column.to_owned(),
                detail,
            };
            let dimensions = key_names
                .iter()
                .zip(&keys)
                .map(|(name, column)| column.dimension(row).map_err(|d| cell_error(name, d)))
                .collect::<Result<Vec<_>, _>>()?;
            cells.clear();
            for (metric, column) in self.spec.metrics().iter().zip(&metrics) {
                cells.push(
                    column
                        .metric_cell(row)
                        .map_err(|detail| cell_error(metric.name(), detail))?,
                );
            }
            let state = self
                .aggregators
                .row_from_cells(&cells)
                .map_err(|source| ReadProblem::RollupCells { row, source })?;
            match out.entry(RollupKey { time, dimensions }) {
                Entry::Occupied(earlier) => earlier
                    .into_mut()
                    .merge(&state)
                    .map_err(|source| ReadProblem::Merge { row, source })?,
                Entry::Vacant(slot) => {
                    slot.insert(state);
                }
            }
        }
        Ok(())
    }

    /// The table's `__time` column, checked to lie inside the chunk.
    fn times(&self, kind: TableKind, table: &Table) -> Result<Vec<Millis>, ReadProblem> {
        let times = table.time().values()?;
        if let Some((row, &time)) = times
            .iter()
            .enumerate()
            .find(|(_, time)| !self.interval.contains(**time))
        {
            return Err(ReadProblem::OutsideInterval {
                table: kind,
                row,
                time,
            });
        }
        Ok(times)
    }
}

/// Checks that every column of `table` is one `layout` has, and that each
/// dimension column is stored as the spec types it.
fn check_columns(kind: TableKind, layout: &TableLayout, table: &Table) -> Result<(), ReadProblem> {
    for stored in table.schema().columns() {
        let wanted = layout
            .schema
            .columns()
            .iter()
            .zip(&layout.sources)
            .find(|(column, _)| column.name == stored.name);
        match wanted {
            None => {
                return Err(ReadProblem::UnknownColumn {
                    table: kind,
                    column: stored.name.clone(),
                });
            }
            Some((column, ColumnSource::Dimension(_)))
                if !same_storage(&stored.kind, &column.kind) =>
            {
                return Err(ReadProblem::ColumnKind {
                    table: kind,
                    column: stored.name.clone(),
                    found: kind_name(&stored.kind),
                    expected: kind_name(&column.kind),
                });
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// Whether a stored column holds values of the kind a layout column asks
/// for: any string column serves a string dimension, since a persist makes
/// it multi-value only when a row needs it.
fn same_storage(stored: &ColumnKind, wanted: &ColumnKind) -> bool {
    matches!(
        (stored, wanted),
        (ColumnKind::String { .. }, ColumnKind::String { .. })
    ) || stored == wanted
}

fn kind_name(kind: &ColumnKind) -> String {
    match kind {
        ColumnKind::String { multi_value: false } => "string".to_owned(),
        ColumnKind::String { multi_value: true } => "multi-value string".to_owned(),
        ColumnKind::Long => "long".to_owned(),
        ColumnKind::Double => "double".to_owned(),
        ColumnKind::Text => "text".to_owned(),
        ColumnKind::Complex { type_name } => format!("complex {type_name}"),
    }
}

fn tables_named((events, rollup): (bool, bool)) -> &'static str {
    match (events, rollup) {
        (true, true) => "an events and a rollup table",
        (true, false) => "only an events table",
        (false, true) => "only a rollup table",
        (false, false) => "no table",
    }
}

/// The input a metric reading a dimension's field gets: the value as the
/// event typed it. A multi-value field is never a metric's input (the parser
/// refuses such events), so it reads as null.
fn input_of(value: &DimensionValue) -> parse::MetricInput {
    match value {
        DimensionValue::Long(value) => parse::MetricInput::Long(*value),
        DimensionValue::Double(value) => parse::MetricInput::Double(*value),
        DimensionValue::String(value) => parse::MetricInput::String(value.clone()),
        DimensionValue::Null | DimensionValue::Strings(_) => parse::MetricInput::Null,
    }
}

/// One stored column, decoded whole through the query crate's table
/// interface (compaction holds the whole chunk in memory anyway); `None`
/// when the segment was written before the spec had this column.
struct StoredColumn(Option<ColumnValues>);

const SHORT_COLUMN: &str = "the column holds fewer values than the table has rows";
const BAD_ID: &str = "a dictionary id lies outside the column's dictionary";

fn read_column(table: &Table, name: &str) -> Result<StoredColumn, TableError> {
    SegmentTable::new(table).read_column(name).map(StoredColumn)
}

impl StoredColumn {
    fn dimension(&self, row: usize) -> Result<DimensionValue, &'static str> {
        Ok(match &self.0 {
            None => DimensionValue::Null,
            Some(ColumnValues::Long(values)) => (*values.get(row).ok_or(SHORT_COLUMN)?)
                .map_or(DimensionValue::Null, DimensionValue::Long),
            Some(ColumnValues::Double(values)) => (*values.get(row).ok_or(SHORT_COLUMN)?)
                .map_or(DimensionValue::Null, DimensionValue::Double),
            Some(ColumnValues::Text(values)) => values
                .get(row)
                .ok_or(SHORT_COLUMN)?
                .clone()
                .map_or(DimensionValue::Null, DimensionValue::String),
            Some(ColumnValues::String { dictionary, rows }) => {
                let ids = rows.get(row).ok_or(SHORT_COLUMN)?;
                let mut values = ids
                    .iter()
                    .map(|&id| dictionary.get(id as usize).cloned().ok_or(BAD_ID))
                    .collect::<Result<Vec<_>, _>>()?;
                match values.len() {
                    0 => DimensionValue::Null,
                    1 => values
                        .pop()
                        .map_or(DimensionValue::Null, DimensionValue::String),
                    _ => DimensionValue::Strings(values),
                }
            }
            Some(ColumnValues::Complex(_)) => {
                return Err("a complex column cannot hold a dimension");
            }
        })
    }

    /// A raw input, as the events table keeps it for its field.
    fn metric_input(&self, row: usize) -> Result<parse::MetricInput, &'static str> {
        Ok(match self.metric_cell(row)? {
            CellValue::Null => parse::MetricInput::Null,
            CellValue::Long(value) => parse::MetricInput::Long(value),
            CellValue::Double(value) => parse::MetricInput::Double(value),
            CellValue::Str(value) => parse::MetricInput::String(value.to_owned()),
            CellValue::Strs(_) | CellValue::Bytes(_) => {
                return Err("a metric's raw input cannot be stored as this column's kind");
            }
        })
    }

    /// A metric's cell: a number, a string, or bytes.
    fn metric_cell(&self, row: usize) -> Result<CellValue<'_>, &'static str> {
        Ok(match &self.0 {
            None => CellValue::Null,
            Some(ColumnValues::Long(values)) => {
                (*values.get(row).ok_or(SHORT_COLUMN)?).map_or(CellValue::Null, CellValue::Long)
            }
            Some(ColumnValues::Double(values)) => {
                (*values.get(row).ok_or(SHORT_COLUMN)?).map_or(CellValue::Null, CellValue::Double)
            }
            Some(ColumnValues::Text(values)) => values
                .get(row)
                .ok_or(SHORT_COLUMN)?
                .as_deref()
                .map_or(CellValue::Null, CellValue::Str),
            Some(ColumnValues::Complex(values)) => values
                .get(row)
                .ok_or(SHORT_COLUMN)?
                .as_deref()
                .map_or(CellValue::Null, CellValue::Bytes),
            Some(ColumnValues::String { dictionary, rows }) => {
                match rows.get(row).ok_or(SHORT_COLUMN)?.as_slice() {
                    [] => CellValue::Null,
                    [id] => CellValue::Str(dictionary.get(*id as usize).ok_or(BAD_ID)?),
                    _ => return Err("a metric cannot read a multi-value string"),
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use datasketches::common::SearchCriteria;
    use strata_storage::catalog::{FileCatalog, Publish};

    use super::*;
    use crate::aggregate::StateView;
    use crate::parse::EventParser;
    use crate::persist::persist_chunk;
    use crate::realtime::RealtimeIndex;

    const JAN_1: i64 = 1_704_067_200_000;
    const HOUR: i64 = 3_600_000;

    const METRICS: &str = r#"
        {"type": "count", "name": "count"},
        {"type": "longSum", "name": "bytes", "fieldName": "bytes"},
        {"type": "longFirst", "name": "first_bytes", "fieldName": "bytes"},
        {"type": "longLast", "name": "last_bytes", "fieldName": "bytes"},
        {"type": "HLLSketchBuild", "name": "users", "fieldName": "user"},
        {"type": "quantilesDoublesSketch", "name": "latency", "fieldName": "latency_ms"}"#;

    /// Datasource `web` by the hour, rolled up by the minute when `rollup`.
    fn spec_of(dimensions: &str, metrics: &str, rollup: bool) -> DataSourceSpec {
        DataSourceSpec::from_json(&format!(
            r#"{{"dataSource": "web",
              "timestampSpec": {{"column": "ts", "format": "millis"}},
              "dimensionsSpec": {{"dimensions": [{dimensions}]}},
              "metricsSpec": [{metrics}],
              "granularitySpec": {{"segmentGranularity": "hour", "queryGranularity": "minute",
                "rollup": {rollup}}}}}"#
        ))
        .unwrap()
    }

    /// `host`, multi-value `tags` and `status`, then `extra_dimensions`, the
    /// metrics of [`METRICS`] then `extra_metrics`.
    fn spec(rollup: bool, extra_dimensions: &str, extra_metrics: &str) -> DataSourceSpec {
        spec_of(
            &format!(r#""host", "tags", {{"type": "long", "name": "status"}}{extra_dimensions}"#),
            &format!("{METRICS}{extra_metrics}"),
            rollup,
        )
    }

    /// Adds a `session` dimension outside rollup (so the events table is
    /// kept), a text `message`, and an HLL metric over the `session`
    /// dimension's field.
    fn mixed_spec() -> DataSourceSpec {
        spec(
            true,
            r#", {"type": "string", "name": "session", "rollup": false},
                {"type": "text", "name": "message"}"#,
            r#", {"type": "HLLSketchBuild", "name": "sessions", "fieldName": "session"}"#,
        )
    }

    fn hour() -> Interval {
        Interval::new(JAN_1, JAN_1 + HOUR).unwrap()
    }

    /// `count` NDJSON lines inside the first hour of 2024, from a fixed seed:
    /// few minutes, hosts and milliseconds, so that keys repeat across
    /// batches and first/last meet ties. With `region`, they carry a
    /// `region` field too.
    fn lines(count: usize, seed: u64, region: bool) -> Vec<String> {
        let mut state = seed;
        let mut next = move |below: u64| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) % below
        };
        (0..count)
            .map(|_| {
                let ts = JAN_1 + next(20) as i64 * 60_000 + next(3) as i64 * 1_000;
                let tags = match next(4) {
                    0 => String::new(),
                    1 => r#", "tags": "red""#.to_owned(),
                    2 => r#", "tags": ["red", "blue"]"#.to_owned(),
                    _ => r#", "tags": ["green"]"#.to_owned(),
                };
                let region = if region {
                    format!(r#", "region": "r{}""#, next(2))
                } else {
                    String::new()
                };
                format!(
                    r#"{{"ts": {ts}, "host": "h{}", "status": {}, "user": "u{}", "bytes": {},
                      "latency_ms": {}, "session": "s{}", "message": "connection reset by peer {}"{tags}{region}}}"#,
                    next(3),
                    [200, 404][next(2) as usize],
                    next(30),
                    next(1_000),
                    next(400) as f64 / 4.0,
                    next(60),
                    next(5),
                )
            })
            .collect()
    }

    fn catalog_with(spec: &DataSourceSpec) -> (tempfile::TempDir, FileCatalog) {
        let dir = tempfile::tempdir().unwrap();
        let catalog = FileCatalog::open(dir.path()).unwrap();
        catalog.create_datasource(spec.clone()).unwrap();
        (dir, catalog)
    }

    fn index_of(spec: &DataSourceSpec, lines: &[String]) -> RealtimeIndex {
        let parser = EventParser::new(spec);
        let mut index = RealtimeIndex::new(spec.clone()).unwrap();
        for (seq, line) in lines.iter().enumerate() {
            let event = parser.parse_line(line.as_bytes()).unwrap();
            assert!(index.add(event, seq as u64).unwrap().is_empty());
        }
        index
    }

    /// Persists `lines`, all of one hour, as one segment written with `spec`.
    fn persist_lines(
        catalog: &FileCatalog,
        spec: &DataSourceSpec,
        lines: &[String],
    ) -> SegmentDescriptor {
        let index = index_of(spec, lines);
        let chunks: Vec<&TimeChunk> = index.chunks().collect();
        assert_eq!(chunks.len(), 1, "the lines fall in one hour");
        persist_chunk(catalog, spec, chunks[0]).unwrap()
    }

    fn open(catalog: &FileCatalog, segment: &SegmentDescriptor) -> Segment {
        Segment::open(&catalog.segment_dir(&segment.id)).unwrap()
    }

    fn visible(catalog: &FileCatalog) -> Vec<SegmentDescriptor> {
        catalog.datasource("web").unwrap().segments.clone()
    }

    fn sorted_rollup(chunk: &TimeChunk) -> Vec<(&RollupKey, &RollupRow)> {
        let mut rows: Vec<_> = chunk.rollup().collect();
        rows.sort_by(|a, b| a.0.cmp(b.0));
        rows
    }

    /// Same keys, and per key the same metric values: numbers exactly,
    /// sketches by what they answer.
    fn assert_same_rollup(actual: &TimeChunk, expected: &TimeChunk) {
        let (actual, expected) = (sorted_rollup(actual), sorted_rollup(expected));
        assert_eq!(actual.len(), expected.len(), "rollup rows");
        for ((key, row), (expected_key, expected_row)) in actual.iter().zip(&expected) {
            assert_eq!(key, expected_key);
            for (state, expected) in row.states().iter().zip(expected_row.states()) {
                match (state.view(), expected.view()) {
                    (StateView::Hll(a), StateView::Hll(b)) => {
                        assert!(
                            (a.estimate() - b.estimate()).abs() <= 0.5,
                            "{key:?}: {} distinct, expected {}",
                            a.estimate(),
                            b.estimate()
                        );
                    }
                    (StateView::Quantiles(a), StateView::Quantiles(b)) => {
                        let (a, b) = (a.sketch(), b.sketch());
                        assert_eq!(a.n(), b.n(), "{key:?}");
                        assert_eq!(a.min_item(), b.min_item(), "{key:?}");
                        assert_eq!(a.max_item(), b.max_item(), "{key:?}");
                        for rank in [0.25, 0.5, 0.9] {
                            assert_eq!(
                                a.quantile(rank, SearchCriteria::Inclusive).unwrap(),
                                b.quantile(rank, SearchCriteria::Inclusive).unwrap(),
                                "{key:?} at rank {rank}"
                            );
                        }
                    }
                    (a, b) => assert_eq!(a, b, "{key:?}"),
                }
            }
        }
    }

    /// The events of `index`'s only chunk in the order a persist writes them.
    fn persisted_order(index: &RealtimeIndex) -> Vec<EventRow> {
        let mut events = index.chunks().next().unwrap().events().to_vec();
        events.sort_by_key(|event| event.time);
        events
    }

    /// Persists each batch (with its own spec) as a partition of one hour,
    /// compacts them with `spec`, publishes the result, and checks it
    /// against the oracle: one persist of every line under `spec`.
    fn compact_against_oracle(
        spec: &DataSourceSpec,
        batches: &[(&DataSourceSpec, Vec<String>)],
    ) -> (tempfile::TempDir, FileCatalog, Compacted) {
        let (dir, catalog) = catalog_with(spec);
        let partitions: Vec<SegmentDescriptor> = batches
            .iter()
            .map(|(batch_spec, lines)| persist_lines(&catalog, batch_spec, lines))
            .collect();
        for (number, partition) in partitions.iter().enumerate() {
            assert_eq!(partition.id.partition(), number as u32);
            assert_eq!(partition.id.version(), partitions[0].id.version());
        }

        let compacted = compact_interval(&catalog, spec, hour())
            .unwrap()
            .expect("several partitions to compact");
        assert_eq!(compacted.replaces, partitions);
        let id = &compacted.segment.id;
        assert_eq!((id.interval(), id.partition()), (hour(), 0));
        assert!(id.version() > partitions[0].id.version());
        assert_eq!(visible(&catalog), partitions, "nothing is published yet");
        assert!(still_current(&catalog, "web", &compacted));

        let outcome = catalog
            .publish("web", Publish::segments(vec![compacted.segment.clone()]))
            .unwrap();
        assert_eq!(outcome.retired, partitions);
        assert_eq!(visible(&catalog), vec![compacted.segment.clone()]);
        assert!(compact_interval(&catalog, spec, hour()).unwrap().is_none());

        let all: Vec<String> = batches
            .iter()
            .flat_map(|(_, lines)| lines.clone())
            .collect();
        let (_oracle_dir, oracle_catalog) = catalog_with(spec);
        let oracle = persist_lines(&oracle_catalog, spec, &all);
        assert_eq!(compacted.segment.rows, oracle.rows);

        let merged_segment = open(&catalog, &compacted.segment);
        let oracle_segment = open(&oracle_catalog, &oracle);
        merged_segment.verify().unwrap();
        for kind in [TableKind::Events, TableKind::Rollup] {
            let (merged, expected) = (merged_segment.table(kind), oracle_segment.table(kind));
            assert_eq!(merged.is_some(), expected.is_some(), "{kind:?} table");
            if let (Some(merged), Some(expected)) = (merged, expected) {
                assert_eq!(merged.schema(), expected.schema(), "{kind:?} schema");
                assert_eq!(
                    merged.time().values().unwrap(),
                    expected.time().values().unwrap()
                );
            }
        }

        let merged = load_chunk(spec, hour(), &[merged_segment]).unwrap();
        let expected = load_chunk(spec, hour(), &[oracle_segment]).unwrap();
        assert_eq!(merged.events(), expected.events());
        assert_same_rollup(&merged, &expected);

        // And the oracle read back is what the real-time index held.
        let index = index_of(spec, &all);
        assert_eq!(expected.events(), persisted_order(&index));
        assert_same_rollup(&expected, index.chunks().next().unwrap());
        (dir, catalog, compacted)
    }

    fn three_batches(spec: &DataSourceSpec) -> Vec<(&DataSourceSpec, Vec<String>)> {
        vec![
            (spec, lines(150, 1, false)),
            (spec, lines(200, 2, false)),
            (spec, lines(120, 3, false)),
        ]
    }

    #[test]
    fn rollup_partitions_compact_to_what_one_persist_gives() {
        let spec = spec(true, "", "");
        let (_dir, catalog, compacted) = compact_against_oracle(&spec, &three_batches(&spec));
        let segment = open(&catalog, &compacted.segment);
        assert!(segment.table(TableKind::Events).is_none());
        let partition_rows: u64 = compacted.replaces.iter().map(|p| p.rows).sum();
        assert!(
            compacted.segment.rows < partition_rows,
            "keys shared by partitions merge: {} rows from {partition_rows}",
            compacted.segment.rows
        );
        let tags = segment.table(TableKind::Rollup).unwrap().schema();
        let tags = &tags.columns()[tags.position("tags").unwrap()];
        assert_eq!(tags.kind, ColumnKind::String { multi_value: true });
    }

    #[test]
    fn events_partitions_compact_to_what_one_persist_gives() {
        let spec = spec(false, "", "");
        let (_dir, catalog, compacted) = compact_against_oracle(&spec, &three_batches(&spec));
        let segment = open(&catalog, &compacted.segment);
        assert!(segment.table(TableKind::Rollup).is_none());
        assert_eq!(compacted.segment.rows, 470);
    }

    #[test]
    fn both_tables_compact_to_what_one_persist_gives() {
        let spec = mixed_spec();
        let (_dir, catalog, compacted) = compact_against_oracle(&spec, &three_batches(&spec));
        let segment = open(&catalog, &compacted.segment);
        let events = segment.table(TableKind::Events).unwrap();
        assert_eq!(events.rows(), 470);
        assert!(matches!(
            events.column("message"),
            Some(strata_storage::segment::Column::Text(_))
        ));
    }

    #[test]
    fn a_late_persist_after_compaction_joins_the_new_version() {
        let spec = spec(true, "", "");
        let (_dir, catalog, compacted) = compact_against_oracle(&spec, &three_batches(&spec));
        let late = persist_lines(&catalog, &spec, &lines(10, 4, false));
        assert_eq!(late.id.version(), compacted.segment.id.version());
        assert_eq!(late.id.partition(), 1);
    }

    #[test]
    fn a_dimension_added_after_a_partition_reads_as_null_there() {
        let before = mixed_spec();
        let region = r#", {"type": "string", "name": "session", "rollup": false},
                {"type": "text", "name": "message"}, "region""#;
        let after = spec(
            true,
            region,
            r#", {"type": "HLLSketchBuild", "name": "sessions", "fieldName": "session"}"#,
        );
        let batches = vec![
            (&before, lines(150, 1, false)),
            (&after, lines(200, 2, true)),
            (&after, lines(120, 3, true)),
        ];
        let (_dir, catalog, compacted) = compact_against_oracle(&after, &batches);

        let chunk = load_chunk(&after, hour(), &[open(&catalog, &compacted.segment)]).unwrap();
        let region_of = |values: &[DimensionValue]| values.last().cloned();
        let nulls = chunk
            .events()
            .iter()
            .filter(|event| region_of(&event.dimensions) == Some(DimensionValue::Null))
            .count();
        assert_eq!(nulls, 150, "the first partition's events have no region");
        assert!(
            chunk
                .rollup()
                .any(|(key, _)| region_of(&key.dimensions) == Some(DimensionValue::Null))
        );
        assert!(chunk.rollup().any(
            |(key, _)| region_of(&key.dimensions) == Some(DimensionValue::String("r1".into()))
        ));
    }

    #[test]
    fn fewer_than_two_partitions_are_left_alone() {
        let spec = spec(true, "", "");
        let (_dir, catalog) = catalog_with(&spec);
        assert!(compact_interval(&catalog, &spec, hour()).unwrap().is_none());
        persist_lines(&catalog, &spec, &lines(20, 1, false));
        assert!(compact_interval(&catalog, &spec, hour()).unwrap().is_none());
        let next_hour = Interval::new(JAN_1 + HOUR, JAN_1 + 2 * HOUR).unwrap();
        assert!(
            compact_interval(&catalog, &spec, next_hour)
                .unwrap()
                .is_none()
        );

        let other = DataSourceSpec::from_json(r#"{"dataSource": "other"}"#).unwrap();
        let error = compact_interval(&catalog, &other, hour()).unwrap_err();
        assert!(
            error.to_string().contains("no datasource named `other`"),
            "{error}"
        );
    }

    #[test]
    fn a_partition_persisted_meanwhile_makes_the_result_stale() {
        let spec = spec(true, "", "");
        let (_dir, catalog) = catalog_with(&spec);
        persist_lines(&catalog, &spec, &lines(50, 1, false));
        persist_lines(&catalog, &spec, &lines(50, 2, false));
        let compacted = compact_interval(&catalog, &spec, hour()).unwrap().unwrap();
        assert!(still_current(&catalog, "web", &compacted));

        persist_lines(&catalog, &spec, &lines(50, 3, false));
        assert!(!still_current(&catalog, "web", &compacted));
        assert!(!still_current(&catalog, "gone", &compacted));
        compacted.discard(&catalog).unwrap();
        assert!(!catalog.segment_dir(&compacted.segment.id).exists());

        let again = compact_interval(&catalog, &spec, hour()).unwrap().unwrap();
        assert_eq!(again.replaces.len(), 3);
        assert!(again.segment.id.version() > compacted.segment.id.version());
    }

    #[test]
    fn a_corrupt_segment_file_is_an_error_naming_it() {
        let spec = spec(true, "", "");
        let (_dir, catalog) = catalog_with(&spec);
        persist_lines(&catalog, &spec, &lines(100, 1, false));
        let damaged = persist_lines(&catalog, &spec, &lines(100, 2, false));
        let file = catalog
            .segment_dir(&damaged.id)
            .join(TableKind::Rollup.file_name());
        let mut bytes = std::fs::read(&file).unwrap();
        for byte in &mut bytes[64..96] {
            *byte ^= 0xff;
        }
        std::fs::write(&file, bytes).unwrap();

        let error = compact_interval(&catalog, &spec, hour()).unwrap_err();
        let CompactionError::Read { problem, .. } = &error else {
            panic!("not a read error: {error:?}");
        };
        assert!(
            matches!(
                **problem,
                ReadProblem::Segment(SegmentError::Corrupt { .. })
            ),
            "{error:?}"
        );
        assert!(
            error.to_string().contains(&file.display().to_string()),
            "{error}"
        );
        assert_eq!(visible(&catalog).len(), 2, "nothing was published");
    }

    /// Partition 0 is written with `spec`, partition 1 with `other`;
    /// compacting them with `spec` must fail naming partition 1's directory
    /// and `column`.
    fn assert_refused(spec: &DataSourceSpec, other: &DataSourceSpec, column: &str) -> String {
        let (_dir, catalog) = catalog_with(spec);
        persist_lines(&catalog, spec, &lines(40, 1, false));
        let odd = persist_lines(&catalog, other, &lines(40, 2, true));
        let error = compact_interval(&catalog, spec, hour()).unwrap_err();
        let CompactionError::Read { dir, .. } = &error else {
            panic!("not a read error: {error:?}");
        };
        assert_eq!(dir, &catalog.segment_dir(&odd.id));
        let message = error.to_string();
        assert!(message.contains(&dir.display().to_string()), "{message}");
        assert!(message.contains(&format!("{column:?}")), "{message}");
        message
    }

    #[test]
    fn columns_the_spec_does_not_describe_are_errors() {
        let spec = spec(true, "", "");
        let region = self::spec(true, r#", "region""#, "");
        let message = assert_refused(&spec, &region, "region");
        assert!(
            message.contains("which the spec does not have"),
            "{message}"
        );

        let status_as_string = spec_of(r#""host", "tags", "status""#, METRICS, true);
        let message = assert_refused(&spec, &status_as_string, "status");
        assert!(
            message.contains("stored as string, but the spec makes it long"),
            "{message}"
        );

        let double_bytes = spec_of(
            r#""host", "tags", {"type": "long", "name": "status"}"#,
            &METRICS.replace(r#""type": "longSum""#, r#""type": "doubleSum""#),
            true,
        );
        let message = assert_refused(&spec, &double_bytes, "bytes");
        assert!(
            message.contains("the stored value is a double"),
            "{message}"
        );
    }
}
