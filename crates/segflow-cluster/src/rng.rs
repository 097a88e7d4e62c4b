//! Seeded randomness where no scikit-learn result is promised (mini-batch k-means, the
//! sampled silhouette, bootstrap resamples): xoshiro256++ streams derived from one seed, so
//! every unit of work has its own reproducible stream regardless of how work is scheduled.
//! k-means itself draws from numpy's `RandomState` (`random_state.rs`).

use rand_xoshiro::Xoshiro256PlusPlus;
use rand_xoshiro::rand_core::{Rng as _, SeedableRng};

pub struct Rng(Xoshiro256PlusPlus);

impl Rng {
    /// The stream for (`seed`, `stream`), e.g. stream = resample index.
    pub fn new(seed: u64, stream: u64) -> Self {
        let mut base = Xoshiro256PlusPlus::seed_from_u64(seed);
        let mixed = base.next_u64() ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        Rng(Xoshiro256PlusPlus::seed_from_u64(mixed))
    }

    /// Uniform in [0, 1) with 53 random bits.
    pub fn uniform(&mut self) -> f64 {
        (self.0.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in 0..n.
    pub fn below(&mut self, n: usize) -> usize {
        ((self.0.next_u64() as u128 * n as u128) >> 64) as usize
    }

    /// `m` distinct rows of 0..n, drawn without replacement (a partial Fisher–Yates shuffle),
    /// in ascending order.
    pub fn sample_sorted(&mut self, n: usize, m: usize) -> Vec<usize> {
        let mut idx: Vec<usize> = (0..n).collect();
        for i in 0..m {
            let j = i + self.below(n - i);
            idx.swap(i, j);
        }
        idx.truncate(m);
        idx.sort_unstable();
        idx
    }
}
