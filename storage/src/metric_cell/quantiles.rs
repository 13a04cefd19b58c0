//! Quantiles: a KLL doubles sketch, kept as the values themselves until it
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
//! # Exact values, then the sketch
//!
//! A KLL sketch of fewer values than its `k` holds them all, so until then
//! it is nothing but those values — and a sketch costs far more to build
//! (about 50 ns a value, sorting and compacting its levels) than a list
//! costs to push to. So a [`QuantilesState`] keeps its values exactly, as
//! they came, up to a cap, and builds the sketch only once more come, when
//! it is asked for its sketch (its stored image is always the sketch's), or
//! when it is told to [`compact`](QuantilesState::compact). While it holds
//! values, its answers are those of the values themselves: the exact order
//! statistics, by the rule the sketch follows — DataSketches' inclusive
//! rule, see [`QuantilesState::quantiles`] — which for a sketch still
//! holding every value (KLL's, or Druid's classic one) is the same answer.
//!
//! The cap is the state's user's to pick:
//!
//! - a rolled-up row keeps only [`FEW`] values ([`QuantilesState::new`]):
//!   a real-time index holds many rows, most of which see a value or two,
//!   and those few live inline, with no allocation of their own;
//! - a query's group keeps up to the cap it asks for
//!   ([`QuantilesState::with_exact_cap`]), many more: a group's values cost
//!   8 bytes each to keep and a pass of selection to answer, far less than
//!   the sketch's updates, and the answer is exact. Past the cap — or when
//!   the query's memory is short, see [`QuantilesState::compact`] — they
//!   become the sketch, with its rank error.
//!
//! Merging follows: values into values concatenate (up to the cap), values
//! into a sketch update it, and a sketch met by values turns them into a
//! sketch first, so sketches merge as sketches.

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

/// Values every state keeps inline, without an allocation, before it
/// needs a list or a sketch; a rolled-up row's cap.
pub const FEW: usize = 4;

/// The quantiles of the doubles seen so far (see the [module docs](self)).
#[derive(Debug, Clone, PartialEq)]
pub struct QuantilesState {
    k: u16,
    /// The most values kept exactly; at least [`FEW`].
    exact_cap: u32,
    held: Held,
}

/// What a state holds: never values and a sketch both.
#[derive(Debug, Clone, PartialEq)]
enum Held {
    /// Up to [`FEW`] values, inline; `len` of them are set.
    Few {
        len: u8,
        values: [f64; FEW],
    },
    /// More than [`FEW`] values, up to the cap.
    Many(Kept),
    Sketch(Box<DoublesSketch>),
}

impl Held {
    const EMPTY: Held = Held::Few {
        len: 0,
        values: [0.0; FEW],
    };

    /// How many values are kept exactly; none in a sketch.
    fn exact_len(&self) -> usize {
        match self {
            Held::Few { len, .. } => usize::from(*len),
            Held::Many(kept) => kept.len,
            Held::Sketch(_) => 0,
        }
    }

    /// The values kept exactly, a slice at a time; none in a sketch.
    fn slices(&self) -> impl Iterator<Item = &[f64]> {
        let (few, chunks): (&[f64], &[Vec<f64>]) = match self {
            Held::Few { len, values } => (values.get(..usize::from(*len)).unwrap_or_default(), &[]),
            Held::Many(kept) => (&[], &kept.chunks),
            Held::Sketch(_) => (&[], &[]),
        };
        std::iter::once(few).chain(chunks.iter().map(Vec::as_slice))
    }
}

/// Values kept past the inline few, in chunks of at most [`Kept::CHUNK`]:
/// the list grows without moving what it holds — a vector that doubles
/// copies all of it again and again, and faults in twice the memory — and
/// two lists merge by moving chunks. A chunk grows as a vector does up to
/// its size, so a list of a few values takes little room.
#[derive(Debug, Clone, Default)]
struct Kept {
    chunks: Vec<Vec<f64>>,
    len: usize,
}

impl Kept {
    /// 64 KiB of values.
    const CHUNK: usize = 1 << 13;

    #[inline]
    fn push(&mut self, value: f64) {
        if let Some(last) = self.chunks.last_mut()
            && last.len() < Self::CHUNK
        {
            if last.len() == last.capacity() {
                last.reserve_exact(last.len().clamp(FEW, Self::CHUNK - last.len()));
            }
            last.push(value);
        } else {
            let mut chunk = Vec::with_capacity(if self.chunks.is_empty() {
                2 * FEW
            } else {
                Self::CHUNK
            });
            chunk.push(value);
            self.chunks.push(chunk);
        }
        self.len += 1;
    }

    fn extend_from_slice(&mut self, mut values: &[f64]) {
        self.len += values.len();
        while !values.is_empty() {
            if let Some(last) = self.chunks.last_mut()
                && last.len() < Self::CHUNK
            {
                let (now, rest) = values.split_at((Self::CHUNK - last.len()).min(values.len()));
                last.extend_from_slice(now);
                values = rest;
            } else {
                self.chunks
                    .push(Vec::with_capacity(values.len().min(Self::CHUNK)));
            }
        }
    }

    /// Appends `other`'s values by moving its chunks.
    fn append(&mut self, other: Kept) {
        self.len += other.len;
        self.chunks.extend(other.chunks);
    }

    fn values(&self) -> impl Iterator<Item = f64> {
        self.chunks.iter().flatten().copied()
    }

    fn heap_bytes(&self) -> usize {
        self.chunks.capacity() * size_of::<Vec<f64>>()
            + self
                .chunks
                .iter()
                .map(|chunk| chunk.capacity() * size_of::<f64>())
                .sum::<usize>()
    }
}

/// The same values in the same order, however they are chunked.
impl PartialEq for Kept {
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && self.values().eq(other.values())
    }
}

/// A look at a quantiles state without building its sketch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QuantilesView<'a>(&'a QuantilesState);

impl<'a> QuantilesView<'a> {
    /// The state's sketch: its own, or one built from its values.
    pub fn sketch(&self) -> Cow<'a, DoublesSketch> {
        match &self.0.held {
            Held::Sketch(sketch) => Cow::Borrowed(sketch),
            exact @ (Held::Few { .. } | Held::Many(_)) => {
                Cow::Owned(build(self.0.k, exact.slices()))
            }
        }
    }
}

fn build<'a>(k: u16, slices: impl Iterator<Item = &'a [f64]>) -> DoublesSketch {
    let mut sketch = DoublesSketch::new(k).expect("kll_k returns 8..=65535, KLL's range");
    for value in slices
        .flatten()
        .filter_map(|&value| KllFloat::<f64>::new(value).ok())
    {
        sketch.update(value);
    }
    sketch
}

impl QuantilesState {
    /// A rolled-up row's state: [`FEW`] values inline, then the sketch.
    pub fn new(k: QuantilesK) -> Self {
        Self::with_exact_cap(k, FEW as u32)
    }

    /// A state that keeps up to `exact_cap` values (at least [`FEW`])
    /// exactly before it builds its sketch.
    pub fn with_exact_cap(k: QuantilesK, exact_cap: u32) -> Self {
        QuantilesState {
            k: kll_k(k),
            exact_cap: exact_cap.max(FEW as u32),
            held: Held::EMPTY,
        }
    }

    fn cap(&self) -> usize {
        usize::try_from(self.exact_cap).unwrap_or(usize::MAX)
    }

    /// Runs `change` on the sketch, built from the values first if need be.
    fn with_sketch<R>(&mut self, change: impl FnOnce(&mut DoublesSketch) -> R) -> R {
        let mut sketch = match std::mem::replace(&mut self.held, Held::EMPTY) {
            Held::Sketch(sketch) => sketch,
            exact => Box::new(build(self.k, exact.slices())),
        };
        let result = change(&mut sketch);
        self.held = Held::Sketch(sketch);
        result
    }

    /// Adds one value; NaN is refused. Inlined where a query folds its rows:
    /// keeping a value is a push, the rest is out of line.
    #[inline]
    pub fn add(&mut self, value: f64) -> Result<(), QuantilesProblem> {
        if value.is_nan() {
            return Err(QuantilesProblem::NaN);
        }
        match &mut self.held {
            Held::Few { len, values } if usize::from(*len) < FEW => {
                if let Some(slot) = values.get_mut(usize::from(*len)) {
                    *slot = value;
                    *len += 1;
                }
                Ok(())
            }
            Held::Many(kept) if kept.len < self.exact_cap as usize => {
                kept.push(value);
                Ok(())
            }
            Held::Few { .. } | Held::Many(_) | Held::Sketch(_) => self.add_past_kept(value),
        }
    }

    /// Adds a value (not NaN) that the inline few or the kept list cannot
    /// take: a list is started, or the value goes into the sketch.
    #[cold]
    fn add_past_kept(&mut self, value: f64) -> Result<(), QuantilesProblem> {
        let value = KllFloat::<f64>::new(value).map_err(|_| QuantilesProblem::NaN)?;
        if let Held::Few { .. } = self.held
            && self.cap() > FEW
        {
            let mut kept = Kept::default();
            self.held
                .slices()
                .for_each(|values| kept.extend_from_slice(values));
            kept.push(*value);
            self.held = Held::Many(kept);
            return Ok(());
        }
        self.with_sketch(|sketch| {
            // `update` panics once the stream weight would pass u64::MAX,
            // which a sketch read back from a damaged file could be close to.
            if sketch.n() == u64::MAX {
                return Err(QuantilesProblem::Full);
            }
            sketch.update(value);
            Ok(())
        })
    }

    /// Adds the values `other` keeps (no NaN among them): appended as they
    /// are while they fit under the cap, else one by one.
    fn add_kept(&mut self, other: &Held) -> Result<(), QuantilesProblem> {
        let total = self.held.exact_len().saturating_add(other.exact_len());
        let fits = total <= self.cap();
        match &mut self.held {
            Held::Many(kept) if fits => {
                other
                    .slices()
                    .for_each(|values| kept.extend_from_slice(values));
                Ok(())
            }
            few @ Held::Few { .. } if fits && total > FEW => {
                let mut kept = Kept::default();
                few.slices()
                    .chain(other.slices())
                    .for_each(|values| kept.extend_from_slice(values));
                *few = Held::Many(kept);
                Ok(())
            }
            _ => other
                .slices()
                .flatten()
                .try_for_each(|&value| self.add(value)),
        }
    }

    /// Absorbs `other`'s values; the error says why they could not be.
    pub fn merge(&mut self, other: &QuantilesState) -> Result<(), String> {
        match &other.held {
            exact @ (Held::Few { .. } | Held::Many(_)) => {
                self.add_kept(exact).map_err(|problem| problem.to_string())
            }
            Held::Sketch(theirs) => self
                .with_sketch(|sketch| sketch.merge(theirs))
                .map_err(|error| error.to_string()),
        }
    }

    /// [`merge`](Self::merge), taking `other`: values it keeps are moved,
    /// not copied, when they fit under the cap.
    pub fn merge_owned(&mut self, other: QuantilesState) -> Result<(), String> {
        let total = self.held.exact_len().saturating_add(other.held.exact_len());
        let fits = total <= self.cap();
        match (&mut self.held, other.held) {
            (Held::Many(ours), Held::Many(theirs)) if fits => {
                ours.append(theirs);
                Ok(())
            }
            (few @ Held::Few { .. }, Held::Many(mut theirs)) if fits => {
                few.slices()
                    .for_each(|values| theirs.extend_from_slice(values));
                *few = Held::Many(theirs);
                Ok(())
            }
            (_, held) => self.merge(&QuantilesState {
                k: other.k,
                exact_cap: other.exact_cap,
                held,
            }),
        }
    }

    /// Builds the sketch from values kept beyond the inline few, to free
    /// them: a query short of memory gives up exactness for the sketch's
    /// bounded size. The few inline values cost nothing to keep and stay.
    pub fn compact(&mut self) {
        if let Held::Many(_) = &self.held {
            self.held = Held::Sketch(Box::new(build(self.k, self.held.slices())));
        }
    }

    /// How many values the state has seen.
    pub fn count(&self) -> u64 {
        match &self.held {
            Held::Few { .. } | Held::Many(_) => {
                u64::try_from(self.held.exact_len()).unwrap_or(u64::MAX)
            }
            Held::Sketch(sketch) => sketch.n(),
        }
    }

    /// The values at normalized ranks `fractions`; `None` for an empty
    /// state or a fraction outside `0..=1`. The rule is DataSketches'
    /// default, inclusive: the smallest value whose rank (the share of
    /// values at most it) is at least the fraction — 0 is the minimum, 1 the
    /// maximum. Exact while the state holds values (each found by selection,
    /// in one copy of them), the sketch's estimate once it is a sketch.
    pub fn quantiles(&self, fractions: &[f64]) -> Option<Vec<f64>> {
        if !fractions
            .iter()
            .all(|fraction| (0.0..=1.0).contains(fraction))
        {
            return None;
        }
        match &self.held {
            Held::Sketch(sketch) => sketch
                .quantiles(fractions, SearchCriteria::Inclusive)
                .ok()
                .flatten()
                .map(|quantiles| quantiles.into_iter().map(KllFloat::into_inner).collect()),
            exact @ (Held::Few { .. } | Held::Many(_)) => {
                let mut values = Vec::with_capacity(exact.exact_len());
                exact
                    .slices()
                    .for_each(|slice| values.extend_from_slice(slice));
                exact_quantiles(values, fractions)
            }
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        self.view().sketch().serialize()
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CorruptSketch> {
        let sketch = DoublesSketch::deserialize(bytes)?;
        let k = sketch.k();
        // A sketch of one or two values is those values (its smallest and
        // largest): kept as they are, merging it adds them instead of
        // merging sketches — the common case of a rollup row of one event.
        let few = match (sketch.n(), sketch.min_item(), sketch.max_item()) {
            (1, Some(min), _) => Some((1, [**min, 0.0, 0.0, 0.0])),
            (2, Some(min), Some(max)) => Some((2, [**min, **max, 0.0, 0.0])),
            _ => None,
        };
        let held = match few {
            Some((len, values)) => Held::Few { len, values },
            None => Held::Sketch(Box::new(sketch)),
        };
        Ok(QuantilesState {
            k,
            exact_cap: FEW as u32,
            held,
        })
    }

    /// Heap bytes held by the state. A list's or a sketch level's vector can
    /// hold up to twice its length in capacity: a list counts its capacity,
    /// a sketch twice its retained values.
    pub fn heap_bytes(&self) -> usize {
        size_of::<QuantilesState>()
            + match &self.held {
                Held::Few { .. } => 0,
                Held::Many(kept) => kept.heap_bytes(),
                Held::Sketch(sketch) => {
                    size_of::<DoublesSketch>() + 2 * sketch.num_retained() * size_of::<f64>()
                }
            }
    }

    pub fn view(&self) -> QuantilesView<'_> {
        QuantilesView(self)
    }
}

/// The quantiles of `values` (no NaN, in any order, reordered here) at
/// `fractions` (each in `0..=1`), as [`QuantilesState::quantiles`] defines
/// them; `None` for no values. Each is selected in what is left above the
/// one before.
fn exact_quantiles(mut values: Vec<f64>, fractions: &[f64]) -> Option<Vec<f64>> {
    if values.is_empty() {
        return None;
    }
    let mut wanted: Vec<(usize, usize)> = fractions
        .iter()
        .enumerate()
        .map(|(at, &fraction)| (exact_rank_index(fraction, values.len()), at))
        .collect();
    wanted.sort_unstable();
    let mut answers = vec![0.0; fractions.len()];
    // `values[..placed]` holds no value above any in `values[placed..]`.
    let mut placed = 0;
    for (index, at) in wanted {
        if index >= placed
            && let Some(rest) = values.get_mut(placed..)
        {
            rest.select_nth_unstable_by(index - placed, f64::total_cmp);
            placed = index + 1;
        }
        if let (Some(answer), Some(value)) = (answers.get_mut(at), values.get(index)) {
            *answer = *value;
        }
    }
    Some(answers)
}

/// Where in `n` sorted values (`n > 0`) the quantile at `fraction` lies:
/// the KLL sketch's inclusive rule with each value of weight one — the
/// first value whose rank (how many values are at most it) reaches
/// `ceil(fraction * n)`, computed in doubles as the sketch does.
fn exact_rank_index(fraction: f64, n: usize) -> usize {
    let rank = (fraction * n as f64).ceil() as usize;
    rank.saturating_sub(1).min(n.saturating_sub(1))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const K: QuantilesK = QuantilesK::DEFAULT;

    fn state_of(exact_cap: u32, values: &[f64]) -> QuantilesState {
        let mut state = QuantilesState::with_exact_cap(K, exact_cap);
        for value in values {
            state.add(*value).unwrap();
        }
        state
    }

    /// The oracle: at each fraction, the smallest value whose rank — how
    /// many values are at most it, as a share of all — is at least the
    /// fraction, found by a scan of the values in order.
    fn order_statistics(values: &[f64], fractions: &[f64]) -> Vec<f64> {
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len() as f64;
        fractions
            .iter()
            .map(|fraction| {
                let at = (0..sorted.len())
                    .position(|index| (index + 1) as f64 >= fraction * n)
                    .unwrap_or(sorted.len() - 1);
                sorted[at]
            })
            .collect()
    }

    /// The share of `values` below `value`, and at most it.
    fn rank_range(values: &[f64], value: f64) -> (f64, f64) {
        let n = values.len() as f64;
        let below = values.iter().filter(|&&other| other < value).count() as f64;
        let at_most = values.iter().filter(|&&other| other <= value).count() as f64;
        (below / n, at_most / n)
    }

    /// Within KLL's rank error at the default `k` (1.4% at 99% confidence;
    /// a little more for the test to be steady).
    fn assert_within_rank_error(values: &[f64], state: &QuantilesState, fractions: &[f64]) {
        let answers = state.quantiles(fractions).unwrap();
        for (fraction, answer) in fractions.iter().zip(answers) {
            let (below, at_most) = rank_range(values, answer);
            assert!(
                below - 0.02 <= *fraction && *fraction <= at_most + 0.02,
                "quantile {fraction} is {answer}, of ranks {below}..{at_most}"
            );
        }
    }

    /// Values with repeats, negatives and both zeros.
    fn values(len: usize, seed: u64) -> Vec<f64> {
        let mut x = seed | 1;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                match x % 10 {
                    0 => -0.0,
                    1 => 0.0,
                    _ => (x % 2_000) as f64 / 8.0 - 50.0,
                }
            })
            .collect()
    }

    const FRACTIONS: [f64; 9] = [0.0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 1.0];

    proptest! {
        /// Kept values answer with their exact order statistics.
        #[test]
        fn kept_values_answer_exactly(
            values in prop::collection::vec(-1e6_f64..1e6, 1..3_000),
            fractions in prop::collection::vec(0.0_f64..=1.0, 1..6),
        ) {
            let state = state_of(1 << 20, &values);
            prop_assert_eq!(state.count(), values.len() as u64);
            // Fractions on a rank's boundary too, where rounding would show.
            let n = values.len();
            let fractions: Vec<f64> = fractions
                .into_iter()
                .chain([1, n / 3, n / 2, n - 1].map(|rank| rank as f64 / n as f64))
                .collect();
            prop_assert_eq!(
                state.quantiles(&fractions).unwrap(),
                order_statistics(&values, &fractions)
            );
        }

        /// Fewer values than the sketch's `k` are all in it: the kept
        /// values answer as that sketch does, at every rank.
        #[test]
        fn kept_values_answer_as_a_sketch_of_them(
            values in prop::collection::vec(-100_f64..100.0, 1..150),
        ) {
            let state = state_of(1 << 20, &values);
            let sketch = build(kll_k(K), std::iter::once(values.as_slice()));
            let n = values.len();
            let fractions: Vec<f64> = (0..=n)
                .map(|rank| rank as f64 / n as f64)
                .chain(FRACTIONS)
                .collect();
            let expected: Vec<f64> = sketch
                .quantiles(&fractions, SearchCriteria::Inclusive)
                .unwrap()
                .unwrap()
                .into_iter()
                .map(KllFloat::into_inner)
                .collect();
            prop_assert_eq!(state.quantiles(&fractions).unwrap(), expected);
        }
    }

    #[test]
    fn answers_are_none_when_empty_or_asked_outside_zero_to_one() {
        let empty = QuantilesState::with_exact_cap(K, 1 << 20);
        assert_eq!(empty.quantiles(&[0.5]), None);
        assert_eq!(empty.count(), 0);
        let state = state_of(1 << 20, &values(100, 3));
        assert_eq!(state.quantiles(&[0.5, 1.5]), None);
        assert_eq!(state.quantiles(&[f64::NAN]), None);
        assert_eq!(state.quantiles(&[]), Some(Vec::new()));
        let mut state = state;
        assert_eq!(state.add(f64::NAN), Err(QuantilesProblem::NaN));
        assert_eq!(state.count(), 100);
    }

    /// Past the cap the values become the sketch: every value counted, the
    /// answers within the sketch's rank error; so after `compact`.
    #[test]
    fn past_the_cap_or_compacted_the_values_become_the_sketch() {
        let values = values(20_000, 7);
        let capped = state_of(1_000, &values);
        assert!(matches!(capped.held, Held::Sketch(_)));
        assert_eq!(capped.count(), 20_000);
        assert_within_rank_error(&values, &capped, &FRACTIONS);

        let mut kept = state_of(1 << 20, &values);
        assert!(matches!(kept.held, Held::Many(_)));
        let kept_bytes = kept.heap_bytes();
        assert!(kept_bytes >= 20_000 * size_of::<f64>(), "{kept_bytes}");
        kept.compact();
        assert!(matches!(kept.held, Held::Sketch(_)));
        assert!(kept.heap_bytes() < kept_bytes / 4, "{}", kept.heap_bytes());
        assert_eq!(kept.count(), 20_000);
        assert_within_rank_error(&values, &kept, &FRACTIONS);

        // The few inline values stay as they are.
        let mut few = state_of(1 << 20, &[1.0, 2.0]);
        few.compact();
        assert!(matches!(few.held, Held::Few { len: 2, .. }));
    }

    /// Every pairing of inline values, a list, and a sketch merges — by
    /// reference or by moving — to every value counted; exactly while the
    /// union fits under the cap, within the rank error once a sketch or the
    /// cap is met. The lists span several chunks.
    #[test]
    fn merges_of_values_and_sketches_count_every_value() {
        let cap = 30_000;
        // Inline; a list; one near the cap; past the cap (a sketch); a
        // rolled-up row's (a sketch).
        let shapes: [(usize, Option<u32>); 5] = [
            (3, None),
            (10_000, None),
            (25_000, None),
            (40_000, None),
            (500, Some(FEW as u32)),
        ];
        for (our_len, our_cap) in shapes {
            for (their_len, their_cap) in shapes {
                let (a, b) = (values(our_len, 11), values(their_len, 13));
                let all: Vec<f64> = a.iter().chain(&b).copied().collect();
                let expected = order_statistics(&all, &FRACTIONS);
                let exact = our_cap.is_none()
                    && our_len <= cap as usize
                    && their_cap.is_none()
                    && their_len <= cap as usize
                    && all.len() <= cap as usize;
                let (ours, theirs) = (
                    state_of(our_cap.unwrap_or(cap), &a),
                    state_of(their_cap.unwrap_or(cap), &b),
                );
                let mut by_reference = ours.clone();
                by_reference.merge(&theirs).unwrap();
                let mut by_moving = ours;
                by_moving.merge_owned(theirs).unwrap();
                for (how, merged) in [("merge", by_reference), ("merge_owned", by_moving)] {
                    let case = format!("{how}: {our_len} values with {their_len} ({exact})");
                    assert_eq!(merged.count(), all.len() as u64, "{case}");
                    assert_eq!(!matches!(merged.held, Held::Sketch(_)), exact, "{case}");
                    if exact {
                        assert_eq!(merged.quantiles(&FRACTIONS).unwrap(), expected, "{case}");
                    } else {
                        assert_within_rank_error(&all, &merged, &FRACTIONS);
                    }
                }
            }
        }
    }

    /// A list keeps every value in order, in chunks of at most
    /// [`Kept::CHUNK`] values and capacity, however it was filled.
    #[test]
    fn kept_lists_fill_chunks_up_to_their_size() {
        let values = values(3 * Kept::CHUNK + 5, 17);
        let (first, rest) = values.split_at(Kept::CHUNK + 3);
        let mut kept = Kept::default();
        first.iter().for_each(|&value| kept.push(value));
        kept.extend_from_slice(rest);
        let mut moved = Kept::default();
        moved.extend_from_slice(&values[..5]);
        let mut tail = Kept::default();
        tail.extend_from_slice(&values[5..]);
        moved.append(tail);
        for kept in [kept, moved] {
            assert_eq!(kept.len, values.len());
            assert!(kept.values().eq(values.iter().copied()));
            for chunk in &kept.chunks {
                assert!(chunk.capacity() <= Kept::CHUNK, "{}", chunk.capacity());
            }
        }
    }

    /// A state's stored image is the sketch of its values, kept or not.
    #[test]
    fn kept_values_are_stored_as_their_sketch() {
        let values = values(150, 5);
        let state = state_of(1 << 20, &values);
        let read = QuantilesState::from_bytes(&state.to_bytes()).unwrap();
        assert!(matches!(read.held, Held::Sketch(_)));
        assert_eq!(read.count(), 150);
        assert_eq!(read.quantiles(&FRACTIONS), state.quantiles(&FRACTIONS));
    }

    /// A stored state of one or two values reads back as those values, and
    /// merging states read back gives what merging the originals gives.
    #[test]
    fn small_states_read_back_as_their_values() {
        let mut merged = QuantilesState::new(K);
        let mut merged_read = QuantilesState::new(K);
        for values in [&[3.5][..], &[-1.0, 8.25], &[2.0, 2.0], &[1.0, 5.0, 9.0]] {
            let mut state = QuantilesState::new(K);
            for value in values {
                state.add(*value).unwrap();
            }
            let read = QuantilesState::from_bytes(&state.to_bytes()).unwrap();
            assert_eq!(!matches!(read.held, Held::Sketch(_)), values.len() <= 2);
            if values.len() <= 2 {
                let mut read_values: Vec<f64> = read.held.slices().flatten().copied().collect();
                read_values.sort_by(f64::total_cmp);
                let mut expected = values.to_vec();
                expected.sort_by(f64::total_cmp);
                assert_eq!(read_values, expected);
            }
            merged.merge(&state).unwrap();
            merged_read.merge(&read).unwrap();
        }
        assert_eq!(merged.count(), 8);
        assert_eq!(merged_read.count(), 8);
        assert_eq!(
            merged.quantiles(&FRACTIONS),
            merged_read.quantiles(&FRACTIONS)
        );
    }
}
