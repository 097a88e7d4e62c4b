//! numpy's legacy `RandomState`, the generator behind scikit-learn's `random_state=S`: the
//! Mersenne Twister (MT19937) seeded from a 32-bit integer as numpy seeds it, and the draws
//! k-means reads from it, each with numpy's arithmetic so that the same seed gives the same
//! numbers bit for bit.

use crate::{ClusterError, Result};

/// Words of MT19937 state.
const N: usize = 624;
const M: usize = 397;
const MATRIX_A: u32 = 0x9908_b0df;
const UPPER_MASK: u32 = 0x8000_0000;
const LOWER_MASK: u32 = 0x7fff_ffff;

/// numpy's `np.random.RandomState`.
#[derive(Clone)]
pub struct RandomState {
    key: [u32; N],
    pos: usize,
}

impl std::fmt::Debug for RandomState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RandomState")
            .field("pos", &self.pos)
            .finish_non_exhaustive()
    }
}

impl RandomState {
    /// `RandomState(seed)` for an integer seed: numpy's `mt19937_seed` (Knuth's linear
    /// recurrence over the state words). numpy accepts only seeds in 0..2³², hence `u32`.
    pub fn new(seed: u32) -> Self {
        let mut key = [0u32; N];
        key[0] = seed;
        for i in 1..N {
            let prev = key[i - 1];
            key[i] = 1_812_433_253u32
                .wrapping_mul(prev ^ (prev >> 30))
                .wrapping_add(i as u32);
        }
        RandomState { key, pos: N }
    }

    /// `RandomState(seed)` for a seed from the user, refused outside numpy's range.
    pub fn from_seed(seed: u64) -> Result<Self> {
        u32::try_from(seed).map(Self::new).map_err(|_| {
            ClusterError::InvalidParam(format!(
                "seed = {seed} must lie in 0..={}, the seeds numpy's RandomState (scikit-learn's \
                 random_state) accepts",
                u32::MAX
            ))
        })
    }

    /// Regenerates all 624 words at once, as the reference implementation does.
    fn generate(&mut self) {
        let twist = |y: u32| (y >> 1) ^ if y & 1 == 1 { MATRIX_A } else { 0 };
        for i in 0..N {
            let y = (self.key[i] & UPPER_MASK) | (self.key[(i + 1) % N] & LOWER_MASK);
            self.key[i] = self.key[(i + M) % N] ^ twist(y);
        }
        self.pos = 0;
    }

    /// The next 32-bit output, tempered.
    pub fn next_u32(&mut self) -> u32 {
        if self.pos == N {
            self.generate();
        }
        let mut y = self.key[self.pos];
        self.pos += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }

    /// Two 32-bit outputs, the first as the high word (numpy's `mt19937_next64`).
    fn next_u64(&mut self) -> u64 {
        let hi = self.next_u32() as u64;
        (hi << 32) | self.next_u32() as u64
    }

    /// `random_sample()`: uniform in [0, 1) from 27 + 26 bits of two outputs.
    pub fn random_sample(&mut self) -> f64 {
        let a = (self.next_u32() >> 5) as f64;
        let b = (self.next_u32() >> 6) as f64;
        (a * 67_108_864.0 + b) / 9_007_199_254_740_992.0
    }

    /// `uniform(low, high)`: `low + (high − low) · random_sample()`.
    pub fn uniform(&mut self, low: f64, high: f64) -> f64 {
        low + (high - low) * self.random_sample()
    }

    /// `randint(low, high)` (int64 results): draws masked to the smallest power of two
    /// covering the range, rejected until in range, 32-bit draws when the range fits.
    /// `high` must exceed `low`.
    pub fn randint(&mut self, low: i64, high: i64) -> i64 {
        assert!(high > low, "randint needs low < high");
        let range = (high as i128 - low as i128 - 1) as u64;
        if range == 0 {
            return low;
        }
        let mask = u64::MAX >> range.leading_zeros();
        let offset = if range <= u32::MAX as u64 {
            if range == u32::MAX as u64 {
                self.next_u32() as u64
            } else {
                loop {
                    let v = (self.next_u32() & mask as u32) as u64;
                    if v <= range {
                        break v;
                    }
                }
            }
        } else if range == u64::MAX {
            self.next_u64()
        } else {
            loop {
                let v = self.next_u64() & mask;
                if v <= range {
                    break v;
                }
            }
        };
        (low as i128 + offset as i128) as i64
    }

    /// `choice(len(cdf), p=p)` given [`choice_cdf`]`(p)`: one `random_sample`, located with
    /// `searchsorted(side='right')`.
    pub fn choice(&mut self, cdf: &[f64]) -> usize {
        let u = self.random_sample();
        cdf.partition_point(|&c| c <= u)
    }
}

/// numpy's cumulative distribution for `choice(…, p=p)`: the running sum in order, divided
/// by its last value.
pub fn choice_cdf(p: &[f64]) -> Vec<f64> {
    let mut acc = 0.0;
    let mut cdf: Vec<f64> = p
        .iter()
        .map(|v| {
            acc += v;
            acc
        })
        .collect();
    let last = acc;
    cdf.iter_mut().for_each(|c| *c /= last);
    cdf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_first_output() {
        // Matsumoto and Nishimura's mt19937ar.c seeds with init_genrand(5489) for its
        // default state; its first output is the well-known 3499211612.
        assert_eq!(RandomState::new(5489).next_u32(), 3_499_211_612);
    }

    #[test]
    fn randint_stays_in_range() {
        let mut r = RandomState::new(1);
        for (lo, hi) in [(0, 1), (-3, 4), (0, 1 << 40), (i64::MIN, i64::MAX)] {
            for _ in 0..100 {
                let v = r.randint(lo, hi);
                assert!(lo <= v && v < hi);
            }
        }
    }
}
