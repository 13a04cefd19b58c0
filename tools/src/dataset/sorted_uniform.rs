//! A sorted uniform sample, produced one value at a time.
//!
//! The dataset's timestamps are `n` independent uniform draws over a week, emitted in time order.
//! Drawing them all and sorting would hold `n` values in memory; instead the sample is walked in
//! order with the order-statistics recurrence: given the `k`-th smallest value `x_k`, the
//! remaining `n - k` values are uniform on `[x_k, 1)`, so the next one is `x_k` plus the
//! minimum of `n - k` uniforms scaled to the remaining length:
//!
//! ```text
//! x_{k+1} = x_k + (1 - x_k) (1 - U^{1 / (n - k)})
//! ```
//!
//! `1 - U^{1/m}` is computed as `-expm1(ln(U) / m)`: for a large `m` the power is within
//! rounding of 1 and the subtraction would lose most of its digits.

use rand::{Rng, RngExt};

/// Yields the order statistics of `n` uniform draws on `[0, 1)`, smallest first.
#[derive(Clone, Debug)]
pub struct SortedUniform {
    current: f64,
    remaining: u64,
}

impl SortedUniform {
    /// A walk over a sample of `sample_size` values.
    pub fn new(sample_size: u64) -> Self {
        Self {
            current: 0.0,
            remaining: sample_size,
        }
    }

    /// The next value of the sample, or `None` once all of it has been produced.
    ///
    /// Values are non-decreasing and lie in `[0, 1]`; 1 itself only comes out of rounding, so
    /// callers mapping onto a half-open interval clamp it.
    #[inline]
    pub fn next<R: Rng + ?Sized>(&mut self, rng: &mut R) -> Option<f64> {
        if self.remaining == 0 {
            return None;
        }
        // `1 - random()` lies in (0, 1], so the logarithm is finite.
        let uniform = 1.0 - rng.random::<f64>();
        let minimum_of_rest = -(uniform.ln() / self.remaining as f64).exp_m1();
        self.current = (self.current + (1.0 - self.current) * minimum_of_rest).min(1.0);
        self.remaining -= 1;
        Some(self.current)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn sample(size: u64, seed: u64) -> Vec<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut walk = SortedUniform::new(size);
        std::iter::from_fn(|| walk.next(&mut rng)).collect()
    }

    #[test]
    fn produces_exactly_the_requested_count_in_order() {
        let values = sample(10_000, 1);
        assert_eq!(values.len(), 10_000);
        assert!(values.windows(2).all(|pair| pair[0] <= pair[1]));
        assert!(values.iter().all(|v| (0.0..=1.0).contains(v)));
    }

    #[test]
    fn is_uniform_over_deciles() {
        let values = sample(200_000, 2);
        for decile in 0..10 {
            let low = decile as f64 / 10.0;
            let share = values
                .iter()
                .filter(|&&v| v >= low && v < low + 0.1)
                .count() as f64
                / values.len() as f64;
            assert!((share - 0.1).abs() < 0.005, "decile {decile}: {share}");
        }
    }

    #[test]
    fn largest_value_sits_near_the_top() {
        // The maximum of n uniforms has mean n / (n + 1); a drifting recurrence would miss it.
        let values = sample(100_000, 3);
        let max = values.last().copied().unwrap_or_default();
        assert!(max > 0.9999, "{max}");
    }

    #[test]
    fn empty_sample_yields_nothing() {
        assert!(sample(0, 4).is_empty());
    }
}
