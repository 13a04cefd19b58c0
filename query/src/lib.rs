//! # strata-query
//!
//! Strata's read path (DESIGN.md, "The read path"): one logical plan, the
//! front-ends that lower Druid native JSON and the Elasticsearch query DSL
//! into it, and the planner and executor over segments and the real-time
//! index. It reads and never writes.
//!
//! Where to start reading:
//! - [`plan`] — the logical plan every front-end lowers into;
//! - [`druid`] — Druid's native JSON queries read into a plan, and the
//!   executor's rows rendered in Druid's response shapes;
//! - [`snapshot`] — a datasource as one query sees it (segments and real-time
//!   chunks, taken together), and running a plan on it;
//! - [`table`] — the one interface every table is read through, whether it
//!   is in a published segment or still in the real-time index;
//! - [`open_segments`] — segments kept open between queries, with what
//!   their tables have verified and decompressed;
//! - [`segment_metadata`] — Druid's `segmentMetadata`: what each published
//!   segment holds, read from its tables' footers;
//! - [`segment_table`] — a segment's table through that interface;
//! - [`mem_table`] — an in-memory table built row by row, as the real-time
//!   index offers its chunks;
//! - [`select`] — the rows of a table a plan reads: its intervals and its
//!   filter, evaluated once per dictionary value into row bitmaps;
//! - [`execute`] — an aggregate plan run over the tables of segments and
//!   real-time chunks, each answered from its rollup table when that is exact;
//! - [`scan_query`] — a scan plan: the selected events themselves, ordered by
//!   time or not, cut by an offset and a limit;
//! - [`search_query`] — a search plan: the dimension values that match a
//!   text, with how many events hold each;
//! - [`text_search`] — the native search endpoint's request and answer: a
//!   full-text scan, newest first, with totals and highlighted fragments;
//! - [`query_limits`] — the deadline, memory budget and cancel flag a
//!   running query checks as it goes.

pub mod druid;
pub mod elasticsearch;
pub mod execute;
pub mod mem_table;
pub mod open_segments;
pub mod plan;
pub mod query_limits;
pub mod scan_query;
pub mod search_query;
pub mod segment_metadata;
pub mod segment_table;
pub mod select;
pub mod snapshot;
pub mod table;
pub mod text_search;
