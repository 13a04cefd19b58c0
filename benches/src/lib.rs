//! # strata-benches
//!
//! Benchmarks measure Strata on the reference dataset (shared `DATASET.md`)
//! and always beside a peer doing the same work in the same run, so every
//! figure is quoted as a ratio. This library holds what the benchmarks share:
//! the events table of the `access` datasource ([`access_events_schema`]),
//! written from events in memory ([`access_events_table`]).
//!
//! The figures and the commands that reproduce them are in
//! `docs/benchmarks.md`.

use std::path::Path;

use strata_storage::segment::{
    CellValue, ColumnKind, ColumnSchema, SegmentError, TableKind, TableSchema, TableWriter,
    writer::TableSummary,
};
use strata_tools::dataset::AccessEvent;

/// The events table of the reference `access` spec: every dimension, the
/// raw inputs of every metric and the `message` text.
pub fn access_events_schema() -> TableSchema {
    let string = |name: &str| ColumnSchema::new(name, ColumnKind::String { multi_value: false });
    TableSchema::new(vec![
        string("service"),
        string("region"),
        string("method"),
        ColumnSchema::new("status", ColumnKind::Long),
        string("country"),
        string("host"),
        string("path"),
        string("user_id"),
        ColumnSchema::new("message", ColumnKind::Text),
        ColumnSchema::new("bytes", ColumnKind::Long),
        ColumnSchema::new("duration_ms", ColumnKind::Double),
        ColumnSchema::new("retries", ColumnKind::Long),
    ])
    .expect("the reference schema is valid")
}

/// Appends one event as a row of [`access_events_schema`].
pub fn append_event(writer: &mut TableWriter, e: &AccessEvent) -> Result<(), SegmentError> {
    writer.append_row(
        e.timestamp_ms,
        &[
            CellValue::Str(&e.service),
            CellValue::Str(&e.region),
            CellValue::Str(&e.method),
            CellValue::Long(e.status),
            CellValue::Str(&e.country),
            CellValue::Str(&e.host),
            CellValue::Str(&e.path),
            CellValue::Str(&e.user_id),
            CellValue::Str(&e.message),
            CellValue::Long(e.bytes),
            CellValue::Double(e.duration_ms),
            CellValue::Long(e.retries),
        ],
    )
}

/// Writes `events` as an events table at `path`.
pub fn access_events_table<'e>(
    path: &Path,
    events: impl IntoIterator<Item = &'e AccessEvent>,
) -> Result<TableSummary, SegmentError> {
    let mut writer = TableWriter::create(path, TableKind::Events, access_events_schema())?;
    for event in events {
        append_event(&mut writer, event)?;
    }
    writer.finish()
}
