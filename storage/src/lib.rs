//! # strata-storage
//!
//! Everything Strata keeps on disk, and the vocabulary it is described in. This
//! crate knows nothing of HTTP or Kafka: it is the layer the ingest path writes
//! through and the query path reads from.
//!
//! Where to start reading:
//! - [`spec`] — the datasource spec (Druid's `dataSchema` plus `text`
//!   dimensions), parsed once into types that cannot hold an invalid spec;
//! - [`granularity`] — `hour`, `P1D` in `Europe/Paris`, ...: truncating a
//!   timestamp and walking buckets;
//! - [`segment`] — the immutable, memory-mapped segment: its tables, columns,
//!   dictionaries and bitmap indexes, the writer that builds one and the
//!   reader that maps one (the byte layout is in `docs/segment-format.md`);
//! - [`metric_cell`] — the metric cells that are more than a number
//!   (first/last pairs, HLL and quantiles sketches): their bytes, how values
//!   are hashed and how cells merge, shared by ingest and query;
//! - [`text_index`] — full-text search over text columns: the tantivy index
//!   a segment's events table carries in `text/`, whose matches are rows;
//! - [`catalog`] — the durable list of published segments per datasource, with
//!   its atomic, crash-safe publish.
//!
//! [`time`] holds the one representation of time everything shares: epoch
//! milliseconds and half-open intervals.

pub mod catalog;
pub mod granularity;
pub mod metric_cell;
pub mod segment;
pub mod spec;
pub mod text_index;
pub mod time;
