//! The byte formats of the metric cells that need more than a number, and
//! the arithmetic on them that both sides of Strata must share.
//!
//! A rollup table stores, per row, each metric's *partial result*. For
//! count, sum, min and max that is a long or a double; the others need a
//! structure with an encoding of its own:
//!
//! - first/last keep the event time next to the value, a [`Timed`] pair, so
//!   two partial results can still be compared after rollup truncated the
//!   row's `__time` ([`timed`]);
//! - `HLLSketchBuild` keeps an Apache DataSketches HLL sketch of its values,
//!   each value hashed through its [`DistinctKey`] text ([`distinct`]);
//! - `quantilesDoublesSketch` keeps a KLL doubles sketch, built from a few
//!   inline values first ([`quantiles`]).
//!
//! The ingest path builds these cells and merges them as rows meet; the
//! query path merges stored cells and, from an events table, rebuilds them
//! from raw values at query time. Both must hash, merge and decode exactly
//! alike or the rollup table and the events table would give different
//! answers to the same query — so this module is the one implementation,
//! and it lives with the rest of the on-disk formats.

pub mod distinct;
pub mod quantiles;
pub mod timed;

pub use datasketches::hll::HllSketch;
pub use distinct::{DistinctKey, HllState, HllUnionState};
pub use quantiles::{DoublesSketch, QuantilesProblem, QuantilesState, QuantilesView, kll_k};
pub use timed::{TIMED_BYTES, Timed};

/// A stored sketch whose bytes could not be read back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CorruptSketch(String);

impl From<datasketches::error::Error> for CorruptSketch {
    fn from(error: datasketches::error::Error) -> Self {
        CorruptSketch(error.to_string())
    }
}
