//! # strata-query
//!
//! Strata's read path (DESIGN.md, "The read path"): one logical plan, the
//! front-ends that lower Druid native JSON and the Elasticsearch query DSL
//! into it, and the planner and executor over segments and the real-time
//! index. It reads and never writes.
//!
//! Where to start reading:
//! - [`table`] — the one interface every table is read through, whether it
//!   is in a published segment or still in the real-time index;
//! - [`segment_table`] — a segment's table through that interface;
//! - [`mem_table`] — an in-memory table built row by row, as the real-time
//!   index offers its chunks.

pub mod mem_table;
pub mod segment_table;
pub mod table;
