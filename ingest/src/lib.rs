//! # strata-ingest
//!
//! Strata's write path (DESIGN.md, "The write path"): events arrive as NDJSON,
//! are parsed and validated against their datasource's spec, written to the
//! write-ahead log before they are acknowledged, and rolled up in memory until
//! they are persisted into segments.
//!
//! Where to start reading:
//! - [`parse`] — one NDJSON line to a typed event, by the spec: timestamps,
//!   flattening, multi-value arrays, coercion, schema discovery;
//! - [`aggregate`] — the rollup aggregators (sums, min/max, first/last, HLL
//!   and quantiles sketches): per-row state, merge, and their bytes;
//! - [`wal`] — the write-ahead log: group commit, replay, truncation;
//! - [`table_layout`] — which tables a spec's segments hold, and their columns;
//! - [`realtime`] — the real-time index: events and rolled-up rows in memory,
//!   by time chunk, until they are persisted;
//! - [`persist`] — one time chunk of the real-time index written as a segment
//!   and published to the catalog;
//! - [`compaction`] — a time chunk's partitions read back and rewritten as one
//!   segment of a newer version;
//! - [`bulk_load`] — history from Parquet, Arrow, CSV and NDJSON files built
//!   straight into segments, published in one step that replaces what the
//!   files' time chunks held;
//! - [`service`] — all of the above wired together per datasource: ingest a
//!   request body, persist, replay after a restart.

pub mod aggregate;
pub mod bulk_load;
pub mod compaction;
pub mod kafka;
pub mod parse;
pub mod persist;
pub mod realtime;
pub mod service;
pub mod table_layout;
pub mod wal;
