//! The rows a mini-batch fit's refits run on: a seeded sample of a stated size, drawn once,
//! so every seed, block and resample refits the same rows and the artifacts say which size.

use serde::Serialize;

use segflow_cluster::rng::Rng;

/// Metadata key of the verdict artifact for a mini-batch fit: the subsample its refits ran on
/// (JSON of [`Subsample`] without the rows).
pub const META_SUBSAMPLE: &str = "segflow.subsample";

/// Rows refitted when `subsample` is not set: enough for every segment of a typical K to hold
/// thousands of rows, few enough for dozens of refits to take seconds each.
pub const DEFAULT: usize = 100_000;

/// The random stream of the draw, apart from the bootstrap's streams (0, 1, … per resample).
const STREAM: u64 = u64::MAX;

#[derive(Debug, Clone, Serialize)]
pub struct Subsample {
    /// Rows refitted.
    pub size: usize,
    /// Rows of the fit.
    pub of: usize,
    /// The stage seed the rows were drawn with.
    pub seed: u64,
    /// Row indices in the matrix, ascending.
    #[serde(skip)]
    pub rows: Vec<usize>,
}

impl Subsample {
    /// `size` of the `n` rows without replacement (all of them when `n ≤ size`), by a partial
    /// Fisher–Yates shuffle on the stage seed's own stream.
    pub fn draw(n: usize, size: usize, seed: u64) -> Subsample {
        let rows = if n <= size {
            (0..n).collect()
        } else {
            Rng::new(seed, STREAM).sample_sorted(n, size)
        };
        Subsample {
            size: rows.len(),
            of: n,
            seed,
            rows,
        }
    }

    /// For the verdict and the progress line.
    pub fn describe(&self) -> String {
        if self.size == self.of {
            format!(
                "mini-batch refits on all {} rows (subsample size at least the rows)",
                self.of
            )
        } else {
            format!(
                "mini-batch refits on a seeded subsample of {} of {} rows (seed {})",
                self.size, self.of, self.seed
            )
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("plain numbers")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subsample_is_distinct_sorted_rows_of_the_stated_size_and_the_seed_decides_them() {
        let a = Subsample::draw(1000, 100, 7);
        assert_eq!((a.size, a.of, a.rows.len()), (100, 1000, 100));
        assert!(a.rows.windows(2).all(|w| w[0] < w[1]));
        assert!(a.rows.iter().all(|&r| r < 1000));
        assert_eq!(a.rows, Subsample::draw(1000, 100, 7).rows);
        assert_ne!(a.rows, Subsample::draw(1000, 100, 8).rows);
        let all = Subsample::draw(50, 100, 7);
        assert_eq!(all.rows, (0..50).collect::<Vec<_>>());
        assert_eq!(all.to_json(), r#"{"size":50,"of":50,"seed":7}"#);
    }
}
