//! `quantilesDoublesSketch`: approximate quantiles with a KLL sketch.
//!
//! Druid's `quantilesDoublesSketch` is the classic DataSketches quantiles
//! sketch; Strata keeps the same metric with its successor, the KLL doubles
//! sketch of Apache DataSketches: mergeable, serializable in the common
//! DataSketches format, and smaller for the same accuracy. Like Druid's, it
//! tracks the exact minimum and maximum and answers any rank with an error
//! independent of the data's distribution.
//!
//! # `k`
//!
//! The spec's `k` (a power of two in 2..=32768, default 128) is Druid's
//! accuracy knob for the classic sketch. KLL needs a larger `k` for the same
//! accuracy, so the sketch uses [`kll_k`] = `3k/2`, at least 8 (KLL's
//! smallest): that gives KLL the classic sketch's single-sided rank error at
//! every `k` — about 1.4% (99% confidence) at the default 128, which becomes
//! KLL `k` 192 — while still retaining fewer values than the classic sketch.
//!
//! # Inputs
//!
//! Inputs are coerced to doubles like any double metric (see
//! [`input`](super::input)); null is not counted and NaN is refused.

use datasketches::kll::{KllFloat, KllSketch};
use strata_storage::spec::QuantilesK;

use super::error::InputProblem;
use super::input::{MetricInput, coerce_double};

/// The KLL `k` used for a spec's quantiles `k`: `3k/2`, at least 8.
pub fn kll_k(k: QuantilesK) -> u16 {
    const KLL_MIN_K: u32 = 8;
    let scaled = (u32::from(k.get()) * 3 / 2).max(KLL_MIN_K);
    u16::try_from(scaled).unwrap_or(u16::MAX)
}

/// The sketch a quantiles metric keeps: KLL over non-NaN doubles.
pub type DoublesSketch = KllSketch<KllFloat<f64>>;

/// The state of one `quantilesDoublesSketch` metric in one row.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct QuantilesState {
    sketch: DoublesSketch,
}

impl QuantilesState {
    pub(super) fn new(k: QuantilesK) -> Self {
        QuantilesState {
            sketch: DoublesSketch::new(kll_k(k)).expect("kll_k returns 8..=65535, KLL's range"),
        }
    }

    pub(super) fn add(
        &mut self,
        input: MetricInput<'_>,
        aggregator: &'static str,
    ) -> Result<(), InputProblem> {
        let Some(value) = coerce_double(input, aggregator)? else {
            return Ok(());
        };
        let value = KllFloat::<f64>::new(value).map_err(|_| InputProblem::NaN { aggregator })?;
        // `update` panics once the stream weight would pass u64::MAX, which a
        // sketch read back from a damaged file could be close to.
        if self.sketch.n() == u64::MAX {
            return Err(InputProblem::SketchFull { aggregator });
        }
        self.sketch.update(value);
        Ok(())
    }

    pub(super) fn merge(&mut self, other: &QuantilesState) -> Result<(), String> {
        self.sketch
            .merge(&other.sketch)
            .map_err(|error| error.to_string())
    }

    pub(super) fn to_bytes(&self) -> Vec<u8> {
        self.sketch.serialize()
    }

    pub(super) fn from_bytes(bytes: &[u8]) -> Result<Self, datasketches::error::Error> {
        Ok(QuantilesState {
            sketch: DoublesSketch::deserialize(bytes)?,
        })
    }

    /// Heap bytes held by the sketch. Retained values are counted twice: a
    /// level's vector can hold up to twice its length in capacity.
    pub(super) fn heap_bytes(&self) -> usize {
        size_of::<QuantilesState>() + 2 * self.sketch.num_retained() * size_of::<f64>()
    }

    pub(super) fn sketch(&self) -> &DoublesSketch {
        &self.sketch
    }
}
