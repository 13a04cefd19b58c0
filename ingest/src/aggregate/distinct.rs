//! `HLLSketchBuild`: distinct counts with an Apache DataSketches HLL sketch.
//!
//! The sketch, how a value is hashed into it (its [`DistinctKey`] text) and
//! how two sketches merge are storage's
//! ([`strata_storage::metric_cell::distinct`]): the query path rebuilds the
//! same sketches from the events table and must hash exactly alike. What is
//! left here is which key an event's input gives: a string is its own key, a
//! number its text, and null and the empty string are not counted.

pub use strata_storage::metric_cell::{DistinctKey, HllState};

use super::input::MetricInput;

/// The key `input` is counted under; `None` for null and the empty string,
/// which are not counted.
pub fn distinct_key(input: MetricInput<'_>) -> Option<DistinctKey<'_>> {
    match input {
        MetricInput::Null => None,
        MetricInput::Str(value) => DistinctKey::text(value),
        MetricInput::Long(value) => Some(DistinctKey::long(value)),
        MetricInput::Double(value) => Some(DistinctKey::double(value)),
    }
}

/// Counts one input in `state` (null and `""` are not counted).
pub(super) fn add(state: &mut HllState, input: MetricInput<'_>) {
    if let Some(key) = distinct_key(input) {
        state.add(key);
    }
}
