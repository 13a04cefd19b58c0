//! Persisting: one [`TimeChunk`] of the real-time index becomes one published
//! segment.
//!
//! ```text
//! TimeChunk ─ sort ─ TableWriter(events) ─┐
//!           └ sort ─ TableWriter(rollup) ─┴─ SegmentWriter ─ catalog.segment_dir(id) ─ publish
//! ```
//!
//! The two steps are separate functions: [`write_segment`] writes the files
//! and returns the descriptor to publish, so that a caller persisting several
//! chunks can publish all their segments — together with the WAL position they
//! cover — in one atomic catalog commit (see
//! [`IngestService::persist`](crate::service::IngestService::persist)).
//! [`persist_chunk`] does both for one chunk.
//!
//! The tables are those of the spec's [`SegmentLayout`]. Events rows are
//! sorted by time (stably, so events of one millisecond keep their arrival
//! order); rollup rows by time, then by dimension values
//! ([`RollupKey`]'s order), as DESIGN.md's "Tables inside a segment" asks.
//! Values become cells by each column's [`ColumnSource`]:
//!
//! - a dimension's value as it is; a string column becomes multi-value in this
//!   segment when any of its rows holds several values, and stays
//!   single-valued (cheaper to read) otherwise;
//! - a metric's raw input by [`aggregate::raw_input_cell`], coerced as the
//!   metric coerces it (an input the metric refused is stored as null; it was
//!   reported when the event was added);
//! - a metric's rolled-up state by [`RollupRow::write_cells`].
//!
//! # Which segment
//!
//! The segment covers the chunk's interval. If the catalog already shows
//! segments for exactly that interval, the new one joins their version as the
//! next partition: late data for a chunk that was persisted before adds to it,
//! it does not replace it. Otherwise the segment gets a new version and
//! partition 0. [`write_segment_at`] leaves that choice to its caller:
//! [`compaction`](crate::compaction) writes a chunk's partitions, read back,
//! as partition 0 of a new version that overshadows them.
//!
//! Files are written before the publish; a persist that fails midway leaves
//! files the catalog never lists, and the catalog removes those.

use strata_query::mem_table::{MemTable, MemTableBuilder};
use strata_query::table::TableError;
use strata_storage::catalog::{
    Catalog, CatalogError, InvalidSegmentId, Publish, SegmentDescriptor, SegmentId, Version,
};
use strata_storage::segment::schema::SchemaError;
use strata_storage::segment::{
    CellValue, ColumnKind, ColumnSchema, SegmentError, SegmentWriter, TableKind, TableSchema,
    TableWriter,
};
use strata_storage::spec::DataSourceSpec;
use strata_storage::time::{Interval, Millis};

use crate::aggregate::{self, MetricCell, RollupRow};
use crate::parse::DimensionValue;
use crate::realtime::{EventRow, RollupKey, TimeChunk};
use crate::table_layout::{ColumnSource, SegmentLayout, TableLayout};

/// Why a chunk could not be persisted.
#[derive(Debug, thiserror::Error)]
#[error("persisting time chunk {interval} of datasource `{datasource}`: {problem}")]
pub struct PersistError {
    pub datasource: String,
    pub interval: Interval,
    #[source]
    pub problem: PersistProblem,
}

/// What went wrong in a persist.
#[derive(Debug, thiserror::Error)]
pub enum PersistProblem {
    #[error("the spec's table layout is invalid: {0}")]
    Layout(#[from] SchemaError),
    #[error(transparent)]
    SegmentId(#[from] InvalidSegmentId),
    #[error("writing the segment: {0}")]
    Segment(#[from] SegmentError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(
        "removing {} left by an earlier persist that was never published: {source}; remove it by hand",
        dir.display()
    )]
    Leftover {
        dir: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "an events row has no value for column {column:?}; the chunk was built for another spec — persist it with the spec its index was built for"
    )]
    MissingValue { column: String },
    #[error("building the table in memory: {0}")]
    Table(#[from] TableError),
}

/// Writes `chunk` as a segment of `spec`'s datasource and publishes it.
/// Returns the published segment. See the [module docs](self).
pub fn persist_chunk(
    catalog: &dyn Catalog,
    spec: &DataSourceSpec,
    chunk: &TimeChunk,
) -> Result<SegmentDescriptor, PersistError> {
    let descriptor = write_segment(catalog, spec, chunk)?;
    catalog
        .publish(spec.name(), Publish::segments(vec![descriptor.clone()]))
        .map_err(|error| persist_error(spec, chunk, error.into()))?;
    Ok(descriptor)
}

/// Writes `chunk` as a segment of `spec`'s datasource, in the catalog's
/// segment directory, without publishing it: the segment is invisible until
/// the caller publishes the returned descriptor.
///
/// Segments written for different chunks may be published together. Two
/// unpublished segments of the same interval would be given the same
/// partition, so publish one before writing the next.
pub fn write_segment(
    catalog: &dyn Catalog,
    spec: &DataSourceSpec,
    chunk: &TimeChunk,
) -> Result<SegmentDescriptor, PersistError> {
    let (version, partition) = next_partition(catalog, spec, chunk.interval())
        .map_err(|problem| persist_error(spec, chunk, problem))?;
    write_segment_at(catalog, spec, chunk, version, partition)
}

/// Writes `chunk` as partition `partition` of `version`, without publishing
/// it — for a caller that chooses the version itself, such as
/// [`compaction`](crate::compaction), whose segment takes a new version to
/// overshadow the partitions it rewrites.
///
/// Files left at that id by an earlier attempt that was never published are
/// replaced. Publishing fails if the id is already published.
pub fn write_segment_at(
    catalog: &dyn Catalog,
    spec: &DataSourceSpec,
    chunk: &TimeChunk,
    version: Version,
    partition: u32,
) -> Result<SegmentDescriptor, PersistError> {
    write_files(catalog, spec, chunk, version, partition)
        .map_err(|problem| persist_error(spec, chunk, problem))
}

fn persist_error(
    spec: &DataSourceSpec,
    chunk: &TimeChunk,
    problem: PersistProblem,
) -> PersistError {
    PersistError {
        datasource: spec.name().to_owned(),
        interval: chunk.interval(),
        problem,
    }
}

fn write_files(
    catalog: &dyn Catalog,
    spec: &DataSourceSpec,
    chunk: &TimeChunk,
    version: Version,
    partition: u32,
) -> Result<SegmentDescriptor, PersistProblem> {
    let layout = SegmentLayout::for_spec(spec)?;
    let id = SegmentId::new(
        spec.data_source_name().clone(),
        chunk.interval(),
        version,
        partition,
    )?;
    let dir = catalog.segment_dir(&id);
    // A persist of this same id that failed before its publish leaves files
    // nobody lists; a new version is never handed out twice, so only a
    // retried partition can meet them.
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(|source| PersistProblem::Leftover {
            dir: dir.clone(),
            source,
        })?;
    }
    let mut segment = SegmentWriter::create(&dir)?;
    let mut event_rows = 0;
    let mut rollup_rows = None;
    emit_tables(spec, &layout, chunk, |kind, schema, rows| {
        let mut writer = segment.table(kind, schema)?;
        let count = rows(&mut writer)?;
        segment.add_table(writer.finish()?);
        match kind {
            TableKind::Events => event_rows = count,
            TableKind::Rollup => rollup_rows = Some(count),
        }
        Ok(())
    })?;
    let summary = segment.finish()?;
    Ok(SegmentDescriptor {
        id,
        rows: rollup_rows.unwrap_or(event_rows),
        bytes: summary.bytes,
    })
}

/// `chunk`'s tables in memory, as its segment would hold them — the same
/// rows in the same order, through the same cells — for a query to read
/// while the chunk is in the real-time index.
pub fn chunk_tables(
    spec: &DataSourceSpec,
    chunk: &TimeChunk,
) -> Result<Vec<MemTable>, PersistError> {
    let problem = |problem| PersistError {
        datasource: spec.name().to_owned(),
        interval: chunk.interval(),
        problem,
    };
    let layout = SegmentLayout::for_spec(spec).map_err(|error| problem(error.into()))?;
    let mut tables = Vec::new();
    emit_tables(spec, &layout, chunk, |kind, schema, rows| {
        let mut builder = MemTableBuilder::new(kind, schema);
        rows(&mut builder)?;
        tables.push(builder.finish());
        Ok(())
    })
    .map_err(problem)?;
    Ok(tables)
}

/// Where a table's rows go: a segment's table writer, or a table in memory.
trait RowSink {
    fn append_row(&mut self, time: Millis, cells: &[CellValue<'_>]) -> Result<(), PersistProblem>;
}

impl RowSink for TableWriter {
    fn append_row(&mut self, time: Millis, cells: &[CellValue<'_>]) -> Result<(), PersistProblem> {
        Ok(TableWriter::append_row(self, time, cells)?)
    }
}

impl RowSink for MemTableBuilder {
    fn append_row(&mut self, time: Millis, cells: &[CellValue<'_>]) -> Result<(), PersistProblem> {
        Ok(MemTableBuilder::append_row(self, time, cells)?)
    }
}

/// Sends a table's sorted rows into a sink and returns how many there were.
type EmitRows<'r, S> = &'r mut dyn FnMut(&mut S) -> Result<u64, PersistProblem>;

/// Produces each table of `layout` from `chunk`: `table` is called with the
/// table's kind and schema and a function that sends its rows, sorted, into
/// a sink.
fn emit_tables<S: RowSink>(
    spec: &DataSourceSpec,
    layout: &SegmentLayout,
    chunk: &TimeChunk,
    mut table: impl FnMut(TableKind, TableSchema, EmitRows<'_, S>) -> Result<(), PersistProblem>,
) -> Result<(), PersistProblem> {
    if let Some(events) = &layout.events {
        let mut rows: Vec<&EventRow> = chunk.events().iter().collect();
        rows.sort_by_key(|row| row.time);
        let schema = widen_multi_value(events, rows.iter().map(|row| row.dimensions.as_slice()))?;
        table(TableKind::Events, schema, &mut |sink| {
            emit_events(spec, events, &rows, sink)
        })?;
    }
    if let Some(rollup) = &layout.rollup {
        let mut rows: Vec<(&RollupKey, &RollupRow)> = chunk.rollup().collect();
        rows.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let schema = widen_multi_value(
            rollup,
            rows.iter().map(|(key, _)| key.dimensions.as_slice()),
        )?;
        table(TableKind::Rollup, schema, &mut |sink| {
            emit_rollup(rollup, &rows, sink)
        })?;
    }
    Ok(())
}

fn emit_events(
    spec: &DataSourceSpec,
    table: &TableLayout,
    rows: &[&EventRow],
    sink: &mut impl RowSink,
) -> Result<u64, PersistProblem> {
    let columns = events_columns(spec, table);
    let mut texts = vec![String::new(); columns.len()];
    for row in rows {
        let lists = string_lists(&columns, |column| match column {
            EventsColumn::Dimension(i) => row.dimensions.get(*i),
            EventsColumn::Input { .. } => None,
        });
        let cells = events_cells(spec, &table.schema, &columns, row, &lists, &mut texts)?;
        sink.append_row(row.time, &cells)?;
    }
    Ok(rows.len() as u64)
}

fn emit_rollup(
    table: &TableLayout,
    rows: &[(&RollupKey, &RollupRow)],
    sink: &mut impl RowSink,
) -> Result<u64, PersistProblem> {
    let dimension_columns = table
        .sources
        .iter()
        .filter(|source| matches!(source, ColumnSource::Dimension(_)))
        .count();
    let mut metric_cells: Vec<MetricCell> = Vec::new();
    for (key, row) in rows {
        row.write_cells(&mut metric_cells);
        let lists: Vec<Vec<&str>> = key.dimensions.iter().map(string_list).collect();
        let mut cells: Vec<CellValue<'_>> = Vec::with_capacity(table.sources.len());
        cells.extend(
            key.dimensions
                .iter()
                .zip(&lists)
                .take(dimension_columns)
                .map(|(value, list)| dimension_cell(value, list)),
        );
        cells.extend(metric_cells.iter().map(MetricCell::as_cell_value));
        sink.append_row(key.time, &cells)?;
    }
    Ok(rows.len() as u64)
}

/// The version and partition of a new segment for `interval`: the next
/// partition of the visible version of exactly that interval, or partition 0
/// of a new version.
pub fn next_partition(
    catalog: &dyn Catalog,
    spec: &DataSourceSpec,
    interval: Interval,
) -> Result<(Version, u32), PersistProblem> {
    let state = catalog
        .datasource(spec.name())
        .ok_or_else(|| CatalogError::UnknownDatasource {
            name: spec.name().to_owned(),
        })?;
    let newest = state
        .segments
        .iter()
        .map(|segment| &segment.id)
        .filter(|id| id.interval() == interval)
        .max_by_key(|id| (id.version(), id.partition()));
    Ok(match newest {
        // Saturating: partition u32::MAX is taken, so its publish is refused
        // as a clash instead of wrapping onto partition 0.
        Some(id) => (id.version(), id.partition().saturating_add(1)),
        None => (catalog.new_version()?, 0),
    })
}

/// `table`'s schema, with every single-valued string dimension column made
/// multi-value when one of `rows` holds several values for it.
fn widen_multi_value<'a>(
    table: &TableLayout,
    rows: impl Iterator<Item = &'a [DimensionValue]> + Clone,
) -> Result<TableSchema, SchemaError> {
    let by_spec_position = rows_hold_every_dimension(table);
    let mut key_position = 0;
    let columns = table
        .schema
        .columns()
        .iter()
        .zip(&table.sources)
        .map(|(column, source)| {
            let ColumnSource::Dimension(spec_position) = source else {
                return column.clone();
            };
            // Events rows hold every dimension (by spec position), rollup keys
            // only the rollup ones (by key position).
            let position = if by_spec_position {
                *spec_position
            } else {
                key_position
            };
            key_position += 1;
            let multi = column.kind == ColumnKind::String { multi_value: false }
                && rows
                    .clone()
                    .any(|values| matches!(values.get(position), Some(DimensionValue::Strings(_))));
            if multi {
                ColumnSchema::new(&column.name, ColumnKind::String { multi_value: true })
            } else {
                column.clone()
            }
        })
        .collect();
    // The text columns keep their analyzers.
    let mut schema = TableSchema::new(columns)?;
    for column in table.schema.columns() {
        if let Some(analyzer) = table.schema.text_analyzer(&column.name) {
            schema = schema.with_text_analyzer(&column.name, analyzer)?;
        }
    }
    Ok(schema)
}

/// Whether `table` is an events table: its rows are indexed by spec
/// position. A rollup table is the one with metric columns.
fn rows_hold_every_dimension(table: &TableLayout) -> bool {
    !table
        .sources
        .iter()
        .any(|source| matches!(source, ColumnSource::Metric(_)))
}

/// One column of the events table, resolved against the spec.
enum EventsColumn {
    /// The dimension at this spec position.
    Dimension(usize),
    /// A raw metric input, as this metric (spec position) reads it.
    Input { metric: usize },
}

/// The events columns. A raw input column is written as the metric whose
/// input kind is the column's kind reads it: when a long and a double
/// aggregator share a field, the column is a double and the double
/// aggregator's input is the one to keep.
fn events_columns(spec: &DataSourceSpec, table: &TableLayout) -> Vec<Option<EventsColumn>> {
    table
        .schema
        .columns()
        .iter()
        .zip(&table.sources)
        .map(|(column, source)| match source {
            ColumnSource::Dimension(i) => Some(EventsColumn::Dimension(*i)),
            ColumnSource::MetricInput(field) => spec
                .metrics()
                .iter()
                .position(|metric| {
                    metric.aggregator().field_name() == Some(field.as_str())
                        && aggregate::raw_input_column_kind(metric.aggregator()).as_ref()
                            == Some(&column.kind)
                })
                .map(|metric| EventsColumn::Input { metric }),
            ColumnSource::Metric(_) => None,
        })
        .collect()
}

/// Per column, the values of a multi-value dimension as string slices (empty
/// for every other column), for [`CellValue::Strs`] to borrow.
fn string_lists<'a>(
    columns: &[Option<EventsColumn>],
    value_of: impl Fn(&EventsColumn) -> Option<&'a DimensionValue>,
) -> Vec<Vec<&'a str>> {
    columns
        .iter()
        .map(|column| {
            column
                .as_ref()
                .and_then(&value_of)
                .map(string_list)
                .unwrap_or_default()
        })
        .collect()
}

fn string_list(value: &DimensionValue) -> Vec<&str> {
    match value {
        DimensionValue::Strings(values) => values.iter().map(String::as_str).collect(),
        _ => Vec::new(),
    }
}

/// A dimension value as a cell; `list` is [`string_list`] of it.
fn dimension_cell<'a>(value: &'a DimensionValue, list: &'a [&'a str]) -> CellValue<'a> {
    match value {
        DimensionValue::Null => CellValue::Null,
        DimensionValue::Long(value) => CellValue::Long(*value),
        DimensionValue::Double(value) => CellValue::Double(*value),
        DimensionValue::String(value) => CellValue::Str(value),
        DimensionValue::Strings(_) => CellValue::Strs(list),
    }
}

/// The cells of one events row. `texts` holds one reusable buffer per column,
/// for raw inputs that are written as text (an HLL metric's numbers).
fn events_cells<'a>(
    spec: &DataSourceSpec,
    schema: &TableSchema,
    columns: &[Option<EventsColumn>],
    row: &'a EventRow,
    lists: &'a [Vec<&'a str>],
    texts: &'a mut [String],
) -> Result<Vec<CellValue<'a>>, PersistProblem> {
    columns
        .iter()
        .zip(schema.columns())
        .zip(lists.iter().zip(texts.iter_mut()))
        .map(|((column, schema), (list, text))| {
            let missing = || PersistProblem::MissingValue {
                column: schema.name.clone(),
            };
            match column {
                Some(EventsColumn::Dimension(i)) => {
                    let value = row.dimensions.get(*i).ok_or_else(missing)?;
                    Ok(dimension_cell(value, list))
                }
                Some(EventsColumn::Input { metric }) => {
                    let aggregator = spec
                        .metrics()
                        .get(*metric)
                        .ok_or_else(missing)?
                        .aggregator();
                    let input = row.metric_inputs.get(*metric).ok_or_else(missing)?;
                    Ok(
                        aggregate::raw_input_cell(aggregator, input.as_input(), text)
                            .unwrap_or(CellValue::Null),
                    )
                }
                None => Ok(CellValue::Null),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use strata_storage::catalog::FileCatalog;
    use strata_storage::segment::{Column, Segment, Table};
    use strata_storage::time::Millis;

    use super::*;
    use crate::parse::{EventParser, ParsedEvent};
    use crate::realtime::RealtimeIndex;

    const DAY: i64 = 86_400_000;
    const JAN_1: i64 = 1_704_067_200_000;

    /// `host`, `tags` (sometimes multi-value) and `status` roll up; `user`
    /// does not, so the events table is kept too.
    fn spec(rollup: bool) -> DataSourceSpec {
        DataSourceSpec::from_json(&format!(
            r#"{{"dataSource": "web",
              "timestampSpec": {{"column": "ts", "format": "millis"}},
              "dimensionsSpec": {{"dimensions": ["host", "tags", {{"type": "long", "name": "status"}},
                {{"type": "string", "name": "user", "rollup": false}}]}},
              "metricsSpec": [
                {{"type": "count", "name": "count"}},
                {{"type": "longSum", "name": "bytes", "fieldName": "bytes"}},
                {{"type": "doubleMax", "name": "latency_max", "fieldName": "latency"}}
              ],
              "granularitySpec": {{"segmentGranularity": "day", "queryGranularity": "minute", "rollup": {rollup}}}}}"#
        ))
        .unwrap()
    }

    /// `count` events spread over two days from `start`, from a fixed seed.
    fn events(spec: &DataSourceSpec, count: usize, start: Millis, seed: u64) -> Vec<ParsedEvent> {
        let parser = EventParser::new(spec);
        let mut state = seed;
        let mut next = move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            state >> 33
        };
        (0..count)
            .map(|_| {
                // Few minutes and hosts, so that keys repeat and roll up.
                let ts = start + (next() % 2 * DAY as u64) as i64 + (next() % 40) as i64 * 60_000
                    + (next() % 60_000) as i64;
                let tags = match next() % 4 {
                    0 => String::new(),
                    1 => r#", "tags": "red""#.to_string(),
                    2 => r#", "tags": ["red", "blue"]"#.to_string(),
                    _ => r#", "tags": ["green"]"#.to_string(),
                };
                let line = format!(
                    r#"{{"ts": {ts}, "host": "h{}", "status": {}, "user": "u{}", "bytes": {}, "latency": {}{tags}}}"#,
                    next() % 3,
                    [200, 404][(next() % 2) as usize],
                    next() % 50,
                    next() % 1000,
                    (next() % 100) as f64 / 4.0,
                );
                parser.parse_line(line.as_bytes()).unwrap()
            })
            .collect()
    }

    fn catalog_with(spec: &DataSourceSpec) -> (tempfile::TempDir, FileCatalog) {
        let dir = tempfile::tempdir().unwrap();
        let catalog = FileCatalog::open(dir.path()).unwrap();
        catalog.create_datasource(spec.clone()).unwrap();
        (dir, catalog)
    }

    fn index_of(spec: &DataSourceSpec, events: &[ParsedEvent]) -> RealtimeIndex {
        let mut index = RealtimeIndex::new(spec.clone()).unwrap();
        for (seq, event) in events.iter().enumerate() {
            assert!(index.add(event.clone(), seq as u64).unwrap().is_empty());
        }
        index
    }

    fn persist_all(
        catalog: &FileCatalog,
        spec: &DataSourceSpec,
        index: &mut RealtimeIndex,
    ) -> Vec<SegmentDescriptor> {
        let starts: Vec<Millis> = index.chunks().map(|c| c.interval().start()).collect();
        starts
            .into_iter()
            .map(|start| {
                let chunk = index.take_chunk(start).unwrap();
                persist_chunk(catalog, spec, &chunk).unwrap()
            })
            .collect()
    }

    /// The reference `access` spec (text, HLL and quantiles sketches,
    /// dimensions outside rollup), with `count` events of few keys.
    fn access_events(count: usize) -> (DataSourceSpec, Vec<ParsedEvent>) {
        let spec = DataSourceSpec::from_json(strata_storage::spec::ACCESS_SPEC_JSON).unwrap();
        let parser = EventParser::new(&spec);
        let events = (0..count)
            .map(|i| {
                let line = format!(
                    r#"{{"timestamp": "2024-01-0{}T10:{:02}:{:02}Z", "service": "s{}", "region": "eu",
                      "method": "GET", "status": {}, "country": "FR", "host": "h{}", "path": "/p{}",
                      "user_id": "u{}", "message": "GET /p{} took {} ms", "bytes": {i},
                      "duration_ms": {}.5, "retries": {}}}"#,
                    1 + i % 2,
                    i % 7,
                    i % 60,
                    i % 3,
                    [200, 500][i % 2],
                    i % 5,
                    i % 11,
                    i % 13,
                    i % 11,
                    i % 97,
                    i % 97,
                    i % 3,
                );
                parser.parse_line(line.as_bytes()).unwrap()
            })
            .collect();
        (spec, events)
    }

    /// The real-time index offers each chunk to queries as the tables its
    /// segment will hold: the oracle is that segment, read back.
    #[test]
    fn a_chunk_reads_the_same_in_memory_and_once_persisted() {
        use strata_query::segment_table::SegmentTable;
        use strata_query::table::TableSource;

        let (access, access_events) = access_events(400);
        let web = spec(true);
        let web_events = events(&web, 300, JAN_1, 7);
        for (spec, events) in [(access, access_events), (web.clone(), web_events)] {
            let (_dir, catalog) = catalog_with(&spec);
            let index = index_of(&spec, &events);
            let mut compared = 0;
            for chunk in index.chunks() {
                let memory = chunk_tables(&spec, chunk).unwrap();
                let descriptor = persist_chunk(&catalog, &spec, chunk).unwrap();
                let segment = Segment::open(&catalog.segment_dir(&descriptor.id)).unwrap();
                for table in &memory {
                    let stored = SegmentTable::new(segment.table(table.kind()).unwrap());
                    assert_eq!(table.schema(), stored.schema());
                    assert_eq!(table.rows(), stored.rows());
                    assert_eq!(table.time_range(), stored.time_range());
                    assert_eq!(table.read_time().unwrap(), stored.read_time().unwrap());
                    for column in table.schema().columns() {
                        assert_eq!(
                            table.read_column(&column.name).unwrap(),
                            stored.read_column(&column.name).unwrap(),
                            "{} table, column {}",
                            table.kind().name(),
                            column.name
                        );
                    }
                    compared += 1;
                }
                let kinds: Vec<TableKind> = memory.iter().map(|t| t.kind()).collect();
                let stored_kinds: Vec<TableKind> = [TableKind::Events, TableKind::Rollup]
                    .into_iter()
                    .filter(|kind| segment.table(*kind).is_some())
                    .collect();
                assert_eq!(kinds, stored_kinds);
            }
            assert_eq!(compared, 4, "two chunks of two tables each");
        }
    }

    fn longs(table: &Table, name: &str) -> Vec<i64> {
        match table.column(name) {
            Some(Column::Long(column)) => column.values().unwrap(),
            other => panic!("{name} is not a long column: {other:?}"),
        }
    }

    fn strings(table: &Table, name: &str) -> Vec<Vec<String>> {
        let Some(Column::String(column)) = table.column(name) else {
            panic!("{name} is not a string column");
        };
        let dictionary = column.dictionary().unwrap();
        column
            .rows_as_ids()
            .unwrap()
            .into_iter()
            .map(|ids| {
                ids.into_iter()
                    .map(|id| dictionary.value(id).unwrap().to_owned())
                    .collect()
            })
            .collect()
    }

    fn as_strings(value: &DimensionValue) -> Vec<String> {
        match value {
            DimensionValue::Null => vec![],
            DimensionValue::String(value) => vec![value.clone()],
            DimensionValue::Strings(values) => values.clone(),
            other => panic!("not a string value: {other:?}"),
        }
    }

    fn chunk_events(events: &[ParsedEvent], chunk: Interval) -> Vec<&ParsedEvent> {
        let mut inside: Vec<&ParsedEvent> = events
            .iter()
            .filter(|event| chunk.contains(event.time()))
            .collect();
        inside.sort_by_key(|event| event.time());
        inside
    }

    #[test]
    fn rollup_and_events_tables_match_an_oracle() {
        let spec = spec(true);
        let (_dir, catalog) = catalog_with(&spec);
        let events = events(&spec, 3_000, JAN_1, 7);
        let mut index = index_of(&spec, &events);
        assert_eq!(index.chunks().count(), 2);
        let descriptors = persist_all(&catalog, &spec, &mut index);
        assert_eq!(index.total_events(), 0);
        assert_eq!(index.approx_bytes(), 0);
        let visible = &catalog.datasource("web").unwrap().segments;
        assert_eq!(visible, &descriptors);

        for descriptor in &descriptors {
            let interval = descriptor.id.interval();
            assert_eq!(interval.end() - interval.start(), DAY);
            let expected = chunk_events(&events, interval);
            let keys: HashSet<(Millis, &[DimensionValue])> = expected
                .iter()
                .map(|event| (event.time() / 60_000 * 60_000, &event.dimensions()[..3]))
                .collect();
            let segment = Segment::open(&catalog.segment_dir(&descriptor.id)).unwrap();

            let rollup = segment.table(TableKind::Rollup).unwrap();
            assert_eq!(rollup.rows(), keys.len() as u64);
            assert_eq!(descriptor.rows, keys.len() as u64);
            assert!(keys.len() < expected.len(), "the events must roll up");
            assert_eq!(
                longs(rollup, "count").iter().sum::<i64>(),
                expected.len() as i64
            );
            let bytes_in: i64 = expected
                .iter()
                .map(|event| match event.metric_inputs()[1] {
                    crate::parse::MetricInput::Long(bytes) => bytes,
                    ref other => panic!("bytes input {other:?}"),
                })
                .sum();
            assert_eq!(longs(rollup, "bytes").iter().sum::<i64>(), bytes_in);
            let times = rollup.time().values().unwrap();
            assert!(times.windows(2).all(|pair| pair[0] <= pair[1]));
            assert!(times.iter().all(|t| t % 60_000 == 0));

            let events_table = segment.table(TableKind::Events).unwrap();
            assert_eq!(events_table.rows(), expected.len() as u64);
            let expected_times: Vec<Millis> = expected.iter().map(|e| e.time()).collect();
            assert_eq!(events_table.time().values().unwrap(), expected_times);
            for (position, name) in [(0, "host"), (1, "tags"), (3, "user")] {
                let stored = strings(events_table, name);
                let wanted: Vec<Vec<String>> = expected
                    .iter()
                    .map(|event| as_strings(&event.dimensions()[position]))
                    .collect();
                assert_eq!(stored, wanted, "column {name}");
            }
            let statuses: Vec<i64> = expected
                .iter()
                .map(|event| match event.dimensions()[2] {
                    DimensionValue::Long(status) => status,
                    ref other => panic!("status {other:?}"),
                })
                .collect();
            assert_eq!(longs(events_table, "status"), statuses);
            assert_eq!(longs(events_table, "bytes").iter().sum::<i64>(), bytes_in);
        }
    }

    #[test]
    fn rollup_off_keeps_only_the_events_table() {
        let spec = spec(false);
        let (_dir, catalog) = catalog_with(&spec);
        let events = events(&spec, 500, JAN_1, 3);
        let mut index = index_of(&spec, &events);
        assert_eq!(index.total_rollup_rows(), 0);
        let descriptors = persist_all(&catalog, &spec, &mut index);
        assert_eq!(descriptors.len(), 2);
        let mut rows = 0;
        for descriptor in &descriptors {
            let segment = Segment::open(&catalog.segment_dir(&descriptor.id)).unwrap();
            assert!(segment.table(TableKind::Rollup).is_none());
            let table = segment.table(TableKind::Events).unwrap();
            assert_eq!(descriptor.rows, table.rows());
            let expected = chunk_events(&events, descriptor.id.interval());
            assert_eq!(table.rows(), expected.len() as u64);
            let hosts: Vec<Vec<String>> = expected
                .iter()
                .map(|event| as_strings(&event.dimensions()[0]))
                .collect();
            assert_eq!(strings(table, "host"), hosts);
            rows += table.rows();
        }
        assert_eq!(rows, 500);
    }

    #[test]
    fn a_second_persist_of_a_chunk_is_the_next_partition_of_its_version() {
        let spec = spec(true);
        let (_dir, catalog) = catalog_with(&spec);
        let one_day = |seed| {
            events(&spec, 200, JAN_1, seed)
                .into_iter()
                .filter(|event| event.time() < JAN_1 + DAY)
                .collect::<Vec<_>>()
        };
        let first = persist_all(&catalog, &spec, &mut index_of(&spec, &one_day(1)));
        // An earlier attempt at partition 1 that died before its publish.
        let attempt = SegmentId::new(
            spec.data_source_name().clone(),
            first[0].id.interval(),
            first[0].id.version(),
            1,
        )
        .unwrap();
        let leftover = catalog.segment_dir(&attempt);
        std::fs::create_dir_all(&leftover).unwrap();
        std::fs::write(leftover.join("events.tbl"), b"half written").unwrap();
        let late = persist_all(&catalog, &spec, &mut index_of(&spec, &one_day(2)));
        let (first, late) = (&first[0].id, &late[0].id);
        assert_eq!(first.interval(), late.interval());
        assert_eq!((first.version(), first.partition()), (late.version(), 0));
        assert_eq!(late.partition(), 1);
        assert_eq!(catalog.datasource("web").unwrap().segments.len(), 2);
        Segment::open(&catalog.segment_dir(late))
            .unwrap()
            .verify()
            .unwrap();
    }

    #[test]
    fn string_columns_are_multi_value_only_when_a_row_holds_several_values() {
        let spec = spec(true);
        let parser = EventParser::new(&spec);
        let (_dir, catalog) = catalog_with(&spec);
        let add = |lines: &[&str]| {
            let mut index = RealtimeIndex::new(spec.clone()).unwrap();
            for (seq, line) in lines.iter().enumerate() {
                let event = parser.parse_line(line.as_bytes()).unwrap();
                index.add(event, seq as u64).unwrap();
            }
            let descriptor = persist_all(&catalog, &spec, &mut index).remove(0);
            Segment::open(&catalog.segment_dir(&descriptor.id)).unwrap()
        };
        let multi = add(&[
            &format!(r#"{{"ts": {JAN_1}, "tags": ["b", "a"]}}"#),
            &format!(r#"{{"ts": {JAN_1}, "tags": "c"}}"#),
            &format!(r#"{{"ts": {JAN_1}}}"#),
        ]);
        for kind in [TableKind::Events, TableKind::Rollup] {
            let table = multi.table(kind).unwrap();
            let position = table.schema().position("tags").unwrap();
            assert_eq!(
                table.schema().columns()[position].kind,
                ColumnKind::String { multi_value: true }
            );
            let mut rows = strings(table, "tags");
            rows.sort();
            assert_eq!(
                rows,
                [
                    vec![],
                    vec!["a".to_owned(), "b".to_owned()],
                    vec!["c".to_owned()]
                ]
            );
        }

        let single = add(&[&format!(r#"{{"ts": {}, "tags": "c"}}"#, JAN_1 + 3 * DAY)]);
        let table = single.table(TableKind::Rollup).unwrap();
        let position = table.schema().position("tags").unwrap();
        assert_eq!(
            table.schema().columns()[position].kind,
            ColumnKind::String { multi_value: false }
        );
    }

    #[test]
    fn written_segments_stay_invisible_until_published_together() {
        let spec = spec(true);
        let (_dir, catalog) = catalog_with(&spec);
        let index = index_of(&spec, &events(&spec, 300, JAN_1, 5));
        let descriptors: Vec<SegmentDescriptor> = index
            .chunks()
            .map(|chunk| write_segment(&catalog, &spec, chunk).unwrap())
            .collect();
        assert_eq!(descriptors.len(), 2);
        for descriptor in &descriptors {
            assert!(catalog.segment_dir(&descriptor.id).exists());
        }
        assert!(catalog.datasource("web").unwrap().segments.is_empty());

        catalog
            .publish("web", Publish::segments(descriptors.clone()))
            .unwrap();
        let published = &catalog.datasource("web").unwrap().segments;
        assert_eq!(published.len(), 2);
        assert_eq!(
            published.iter().map(|s| s.rows).sum::<u64>(),
            index.total_rollup_rows()
        );
    }
}
