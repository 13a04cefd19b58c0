//! Quantiles: a KLL doubles sketch, kept as a few inline values until it
//! needs to be one.
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
//! Druid's `k` (a power of two in 2..=32768, default 128) is the accuracy
//! knob of the classic sketch. KLL needs a larger `k` for the same accuracy,
//! so the sketch uses [`kll_k`] = `3k/2`, at least 8 (KLL's smallest): that
//! gives KLL the classic sketch's single-sided rank error at every `k` —
//! about 1.4% (99% confidence) at the default 128, which becomes KLL `k` 192
//! — while still retaining fewer values than the classic sketch.
//!
//! # The inline values
//!
//! A KLL sketch allocates room for `k` values when it is made, about 1.5 KiB
//! at the default `k`; most rolled-up rows of a real-time index see only a
//! value or two. So a [`QuantilesState`] keeps its first few values inline
//! and builds the sketch from them once more come, or when it is stored:
//! with fewer values than `k` a sketch holds them all, so the result is the
//! sketch the values would have made one by one. The stored image is always
//! the sketch's.

use std::borrow::Cow;

use datasketches::common::SearchCriteria;
use datasketches::kll::{KllFloat, KllSketch};

use super::CorruptSketch;
use crate::spec::QuantilesK;

/// The KLL `k` used for a quantiles `k`: `3k/2`, at least 8.
pub fn kll_k(k: QuantilesK) -> u16 {
    const KLL_MIN_K: u32 = 8;
    let scaled = (u32::from(k.get()) * 3 / 2).max(KLL_MIN_K);
    u16::try_from(scaled).unwrap_or(u16::MAX)
}

/// The sketch a quantiles state keeps: KLL over non-NaN doubles.
pub type DoublesSketch = KllSketch<KllFloat<f64>>;

/// Why a value was not added to a quantiles state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum QuantilesProblem {
    #[error("NaN has no rank")]
    NaN,
    #[error("the sketch already holds the most values it can count (2^64 - 1)")]
    Full,
}

/// Values a state keeps as they are before it builds its sketch.
const FEW: usize = 4;

/// The quantiles of the doubles seen so far (see the [module docs](self)).
#[derive(Debug, Clone, PartialEq)]
pub struct QuantilesState {
    k: u16,
    /// How many of `few` hold values; they are in `sketch` once it exists.
    len: u8,
    few: [f64; FEW],
    sketch: Option<Box<DoublesSketch>>,
}

/// A look at a quantiles state without building its sketch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QuantilesView<'a>(&'a QuantilesState);

impl<'a> QuantilesView<'a> {
    /// The state's sketch: its own, or one built from its few values.
    pub fn sketch(&self) -> Cow<'a, DoublesSketch> {
        match &self.0.sketch {
            Some(sketch) => Cow::Borrowed(sketch),
            None => Cow::Owned(build(self.0.k, self.0.few_values())),
        }
    }
}

fn build(k: u16, values: &[f64]) -> DoublesSketch {
    let mut sketch = DoublesSketch::new(k).expect("kll_k returns 8..=65535, KLL's range");
    for value in values
        .iter()
        .filter_map(|&value| KllFloat::<f64>::new(value).ok())
    {
        sketch.update(value);
    }
    sketch
}

impl QuantilesState {
    pub fn new(k: QuantilesK) -> Self {
        QuantilesState {
            k: kll_k(k),
            len: 0,
            few: [0.0; FEW],
            sketch: None,
        }
    }

    fn few_values(&self) -> &[f64] {
        &self.few[..usize::from(self.len).min(FEW)]
    }

    /// The sketch, built from the few values first if need be.
    fn sketch_mut(&mut self) -> &mut DoublesSketch {
        let (k, few) = (self.k, &self.few[..usize::from(self.len).min(FEW)]);
        self.sketch.get_or_insert_with(|| Box::new(build(k, few)))
    }

    /// Adds one value; NaN is refused.
    pub fn add(&mut self, value: f64) -> Result<(), QuantilesProblem> {
        let value = KllFloat::<f64>::new(value).map_err(|_| QuantilesProblem::NaN)?;
        if self.sketch.is_none()
            && let Some(slot) = self.few.get_mut(usize::from(self.len))
        {
            *slot = *value;
            self.len += 1;
            return Ok(());
        }
        let sketch = self.sketch_mut();
        // `update` panics once the stream weight would pass u64::MAX, which a
        // sketch read back from a damaged file could be close to.
        if sketch.n() == u64::MAX {
            return Err(QuantilesProblem::Full);
        }
        sketch.update(value);
        Ok(())
    }

    /// Absorbs `other`'s values; the error says why they could not be.
    pub fn merge(&mut self, other: &QuantilesState) -> Result<(), String> {
        match &other.sketch {
            None => other
                .few_values()
                .iter()
                .try_for_each(|&value| self.add(value))
                .map_err(|problem| problem.to_string()),
            Some(theirs) => self
                .sketch_mut()
                .merge(theirs)
                .map_err(|error| error.to_string()),
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        self.view().sketch().serialize()
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CorruptSketch> {
        let sketch = DoublesSketch::deserialize(bytes)?;
        // A sketch of one or two values is those values (its smallest and
        // largest): kept as they are, merging it adds them instead of
        // merging sketches — the common case of a rollup row of one event.
        let few = match (sketch.n(), sketch.min_item(), sketch.max_item()) {
            (1, Some(min), _) => Some((1, [**min, 0.0, 0.0, 0.0])),
            (2, Some(min), Some(max)) => Some((2, [**min, **max, 0.0, 0.0])),
            _ => None,
        };
        if let Some((len, few)) = few {
            return Ok(QuantilesState {
                k: sketch.k(),
                len,
                few,
                sketch: None,
            });
        }
        Ok(QuantilesState {
            k: sketch.k(),
            len: 0,
            few: [0.0; FEW],
            sketch: Some(Box::new(sketch)),
        })
    }

    /// Heap bytes held by the state. A sketch's retained values are counted
    /// twice: a level's vector can hold up to twice its length in capacity.
    pub fn heap_bytes(&self) -> usize {
        size_of::<QuantilesState>()
            + self.sketch.as_ref().map_or(0, |sketch| {
                size_of::<DoublesSketch>() + 2 * sketch.num_retained() * size_of::<f64>()
            })
    }

    pub fn view(&self) -> QuantilesView<'_> {
        QuantilesView(self)
    }
}

/// The value at normalized rank `fraction` (inclusive: the smallest value
/// whose rank is at least `fraction`, as DataSketches' default); `None` for
/// an empty sketch or a fraction outside `0..=1`.
pub fn quantile(sketch: &DoublesSketch, fraction: f64) -> Option<f64> {
    sketch
        .quantile(fraction, SearchCriteria::Inclusive)
        .ok()
        .flatten()
        .map(KllFloat::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stored state of one or two values reads back as those values, and
    /// merging states read back gives what merging the originals gives.
    #[test]
    fn small_states_read_back_as_their_values() {
        let k = QuantilesK::DEFAULT;
        let mut merged = QuantilesState::new(k);
        let mut merged_read = QuantilesState::new(k);
        for values in [&[3.5][..], &[-1.0, 8.25], &[2.0, 2.0], &[1.0, 5.0, 9.0]] {
            let mut state = QuantilesState::new(k);
            for value in values {
                state.add(*value).unwrap();
            }
            let read = QuantilesState::from_bytes(&state.to_bytes()).unwrap();
            assert_eq!(read.sketch.is_none(), values.len() <= 2);
            let mut read_values = read.few_values().to_vec();
            read_values.sort_by(f64::total_cmp);
            if values.len() <= 2 {
                let mut expected = values.to_vec();
                expected.sort_by(f64::total_cmp);
                assert_eq!(read_values, expected);
            }
            merged.merge(&state).unwrap();
            merged_read.merge(&read).unwrap();
        }
        let (a, b) = (merged.view().sketch(), merged_read.view().sketch());
        assert_eq!(a.n(), 8);
        assert_eq!(b.n(), 8);
        for fraction in [0.0, 0.25, 0.5, 0.75, 1.0] {
            assert_eq!(quantile(&a, fraction), quantile(&b, fraction), "{fraction}");
        }
    }
}
