//! # strata-benches
//!
//! Benchmarks measure Strata on the reference dataset (shared `DATASET.md`)
//! and always beside a peer doing the same work in the same run, so every
//! figure is quoted as a ratio. This library holds what the benchmarks share:
//! the events table of the `access` datasource ([`access_events_schema`]),
//! written from events in memory ([`access_events_table`]), and the HTTP
//! ingest client of the ingest and Kafka benchmarks ([`http_ingest`]).
//!
//! The figures and the commands that reproduce them are in
//! `docs/benchmarks.md`.

pub mod http_ingest;

use std::path::Path;

use strata_ingest::table_layout::SegmentLayout;
use strata_storage::segment::{
    CellValue, SegmentError, TableKind, TableSchema, TableWriter, writer::TableSummary,
};
use strata_storage::spec::{ACCESS_SPEC_JSON, DataSourceSpec};
use strata_tools::dataset::AccessEvent;

/// The events table of the reference `access` spec, as ingest lays it out
/// ([`SegmentLayout`]): every dimension, the raw inputs of every metric and
/// the `message` text.
pub fn access_events_schema() -> TableSchema {
    let spec = DataSourceSpec::from_json(ACCESS_SPEC_JSON).expect("the reference spec is valid");
    SegmentLayout::for_spec(&spec)
        .expect("the reference spec has a layout")
        .events
        .expect("the reference spec keeps an events table")
        .schema
}

/// Appends one event as a row of [`access_events_schema`], whose columns are
/// `service, region, method, status, country, host, path, user_id, message,
/// bytes, duration_ms, retries` (checked by this crate's test).
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

#[cfg(test)]
mod tests {
    #[test]
    fn the_events_schema_has_the_columns_append_event_writes() {
        let names: Vec<String> = super::access_events_schema()
            .columns()
            .iter()
            .map(|c| c.name.clone())
            .collect();
        assert_eq!(
            names,
            [
                "service",
                "region",
                "method",
                "status",
                "country",
                "host",
                "path",
                "user_id",
                "message",
                "bytes",
                "duration_ms",
                "retries"
            ]
        );
    }
}
