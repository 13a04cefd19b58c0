//! `quantilesDoublesSketch`: approximate quantiles with a KLL sketch.
//!
//! The sketch, its `k` (Druid's classic-sketch `k` scaled to KLL's,
//! [`kll_k`]), its few inline values and its merge are storage's
//! ([`strata_storage::metric_cell::quantiles`]), which the query path merges
//! and rebuilds with. What is left here is the input: coerced to a double
//! like any double metric (see [`input`](super::input)); null is not
//! counted and NaN is refused.

use strata_storage::metric_cell::QuantilesProblem;
pub use strata_storage::metric_cell::{DoublesSketch, QuantilesState, QuantilesView, kll_k};

use super::error::InputProblem;
use super::input::{MetricInput, coerce_double};

/// Adds one input to `state`.
pub(super) fn add(
    state: &mut QuantilesState,
    input: MetricInput<'_>,
    aggregator: &'static str,
) -> Result<(), InputProblem> {
    let Some(value) = coerce_double(input, aggregator)? else {
        return Ok(());
    };
    state.add(value).map_err(|problem| match problem {
        QuantilesProblem::NaN => InputProblem::NaN { aggregator },
        QuantilesProblem::Full => InputProblem::SketchFull { aggregator },
    })
}
