//! Constant-time sampling from a fixed discrete distribution (Walker's alias method).
//!
//! The generator draws ten categorical values per event, several of them from large Zipf domains
//! (a million user ids, fifty thousand words). Inverting a CDF would cost a binary search per
//! draw and rejection sampling a couple of `powf` calls, so every domain is turned once into an
//! alias table: each of the `n` slots keeps its own value with some probability and otherwise
//! hands over to one "alias" value, so a draw is one random number, one multiplication and one
//! comparison.
//!
//! One 64-bit random number does both steps: the high half of `r * n` picks the slot and the low
//! half, which is uniform over the slot's share of `r`, gives the biased coin (its top 32 bits,
//! a resolution of 2^-32, far below anything a test or a benchmark could observe). A slot is
//! 8 bytes, so the million-user table stays at 8 MB: slots are hit at random, and for large
//! domains the cache miss is most of the cost of a draw.
//!
//! A Zipf(n, s) table gives rank `k` (1-based) the weight `k^-s`, which is exactly the finite
//! Zipf distribution: rank 1, the most frequent value, is index 0.

use rand::Rng;

/// One slot: keep its own index when the coin falls below `keep_below`, else take `alias`.
#[derive(Clone, Copy, Debug)]
struct AliasSlot {
    keep_below: u32,
    alias: u32,
}

/// A sampler for indices `0..len` with fixed, arbitrary non-negative weights.
#[derive(Clone, Debug)]
pub struct AliasTable {
    slots: Box<[AliasSlot]>,
}

impl AliasTable {
    /// Builds the table for `weights` (Vose's construction, linear time).
    ///
    /// Weights need not be normalised. The caller guarantees a non-empty slice of finite,
    /// non-negative weights with a positive sum and at most `u32::MAX` entries; every table in
    /// this crate is built from constants that satisfy this.
    pub fn from_weights(weights: &[f64]) -> Self {
        let len = weights.len();
        let total: f64 = weights.iter().sum();
        // Scaled so that the average slot holds exactly 1.0 of probability mass.
        let mut scaled: Vec<f64> = weights.iter().map(|w| w * len as f64 / total).collect();
        let mut slots: Vec<AliasSlot> = (0..len)
            .map(|index| AliasSlot {
                keep_below: u32::MAX,
                alias: index as u32,
            })
            .collect();
        let (mut small, mut large): (Vec<usize>, Vec<usize>) =
            (0..len).partition(|&index| scaled[index] < 1.0);
        while let (Some(under), Some(&over)) = (small.pop(), large.last()) {
            slots[under] = AliasSlot {
                keep_below: probability_to_threshold(scaled[under]),
                alias: over as u32,
            };
            scaled[over] -= 1.0 - scaled[under];
            if scaled[over] < 1.0 {
                large.pop();
                small.push(over);
            }
        }
        // Whatever is left holds (up to rounding) exactly one slot of mass, so it keeps itself:
        // the slots were initialised that way.
        Self {
            slots: slots.into_boxed_slice(),
        }
    }

    /// The finite Zipf distribution over `len` ranks with exponent `exponent`.
    pub fn zipf(len: usize, exponent: f64) -> Self {
        let weights: Vec<f64> = (1..=len)
            .map(|rank| (rank as f64).powf(-exponent))
            .collect();
        Self::from_weights(&weights)
    }

    /// Draws one index below the number of weights the table was built from.
    #[inline]
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> usize {
        let product = u128::from(rng.next_u64()) * self.slots.len() as u128;
        let slot_index = (product >> 64) as usize;
        let coin = (product >> 32) as u32;
        match self.slots.get(slot_index) {
            Some(slot) if coin >= slot.keep_below => slot.alias as usize,
            _ => slot_index,
        }
    }
}

/// Maps a probability in `[0, 1]` to the coin threshold below which a slot keeps itself.
fn probability_to_threshold(probability: f64) -> u32 {
    // `as` saturates, so 1.0 maps to u32::MAX and rounding noise below 0 maps to 0.
    (probability * 4_294_967_296.0) as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn frequencies(table: &AliasTable, draws: usize) -> Vec<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut counts = vec![0usize; table.slots.len()];
        for _ in 0..draws {
            counts[table.sample(&mut rng)] += 1;
        }
        counts.iter().map(|&c| c as f64 / draws as f64).collect()
    }

    #[test]
    fn weighted_table_reproduces_its_weights() {
        let weights = [0.6, 0.2, 0.08, 0.05, 0.04, 0.03];
        let observed = frequencies(&AliasTable::from_weights(&weights), 400_000);
        for (expected, got) in weights.iter().zip(&observed) {
            assert!((expected - got).abs() < 0.005, "{expected} vs {got}");
        }
    }

    #[test]
    fn zero_weights_are_never_drawn() {
        let observed = frequencies(&AliasTable::from_weights(&[0.0, 3.0, 0.0, 1.0]), 100_000);
        assert_eq!(observed[0], 0.0);
        assert_eq!(observed[2], 0.0);
        assert!((observed[1] - 0.75).abs() < 0.01);
    }

    #[test]
    fn zipf_table_follows_the_power_law() {
        let observed = frequencies(&AliasTable::zipf(20, 1.0), 400_000);
        let harmonic: f64 = (1..=20).map(|k| 1.0 / k as f64).sum();
        for (rank0, got) in observed.iter().enumerate() {
            let expected = 1.0 / ((rank0 + 1) as f64 * harmonic);
            assert!(
                (expected - got).abs() < 0.004,
                "rank {}: {expected} vs {got}",
                rank0 + 1
            );
        }
    }

    #[test]
    fn single_value_table_always_returns_it() {
        let table = AliasTable::from_weights(&[5.0]);
        assert!(frequencies(&table, 1000).iter().all(|&f| f == 1.0));
    }
}
