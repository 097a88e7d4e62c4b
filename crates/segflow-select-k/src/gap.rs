//! The gap statistic (Tibshirani, Walther & Hastie, 2001): how much lower the k-means inertia
//! of the data is than that of reference data without clusters, per K, and the 1-SE choice.
//!
//! Reference sets are uniform over the box aligned with the data's principal components: the
//! centred data is rotated onto its principal axes, each reference point is drawn uniformly in
//! the range of every rotated column, and rotated back. Such a box follows the data's shape, so
//! an elongated cloud is not mistaken for two clusters.

use ndarray::{Array2, ArrayView2, Axis};
use rand_xoshiro::Xoshiro256PlusPlus;
use rand_xoshiro::rand_core::{Rng as _, SeedableRng};

use segflow_cluster::{ClusterError, Components, PcaParams};

/// The box the reference sets are drawn in: the data's mean, its principal axes (rows), and
/// the range of the data along each axis.
#[derive(Debug, Clone, PartialEq)]
pub struct ReferenceBox {
    pub mean: ndarray::Array1<f64>,
    pub axes: Array2<f64>,
    pub low: Vec<f64>,
    pub high: Vec<f64>,
}

impl ReferenceBox {
    /// The box of `x`, on all its principal axes (as many as rows and columns allow).
    pub fn of(x: ArrayView2<'_, f64>) -> Result<ReferenceBox, ClusterError> {
        let (n, d) = x.dim();
        let pca = PcaParams::new(Components::Count(n.min(d))).fit_array(x)?;
        let rotated = pca.transform_array(x);
        let fold = |f: fn(f64, f64) -> f64, start: f64| -> Vec<f64> {
            rotated
                .axis_iter(Axis(1))
                .map(|c| c.iter().copied().fold(start, f))
                .collect()
        };
        Ok(ReferenceBox {
            low: fold(f64::min, f64::INFINITY),
            high: fold(f64::max, f64::NEG_INFINITY),
            mean: pca.mean,
            axes: pca.components,
        })
    }

    /// A reference set from uniform draws in [0, 1) (one row per point, one column per axis):
    /// each draw placed in its axis's range, then rotated back into the data's space.
    pub fn reference_set(&self, uniforms: ArrayView2<'_, f64>) -> Array2<f64> {
        let mut rotated = uniforms.to_owned();
        for (mut column, (lo, hi)) in rotated
            .axis_iter_mut(Axis(1))
            .zip(self.low.iter().zip(&self.high))
        {
            column.mapv_inplace(|u| lo + u * (hi - lo));
        }
        rotated.dot(&self.axes) + &self.mean
    }
}

/// `b` matrices of `n` × `axes` uniform draws in [0, 1), from one seeded stream read in order
/// (set, row, axis): the same seed gives the same draws on any number of threads.
pub fn uniforms(n: usize, axes: usize, b: usize, seed: u64) -> Vec<Array2<f64>> {
    let mut draws = Draws::new(seed);
    (0..b).map(|_| draws.next_set(n, axes)).collect()
}

/// The seeded stream the reference sets are drawn from, one set at a time, so only one set is
/// held in memory however many there are.
struct Draws(Xoshiro256PlusPlus);

impl Draws {
    fn new(seed: u64) -> Draws {
        Draws(Xoshiro256PlusPlus::seed_from_u64(seed))
    }

    fn next_set(&mut self, n: usize, axes: usize) -> Array2<f64> {
        Array2::from_shape_simple_fn((n, axes), || {
            (self.0.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
        })
    }
}

/// Gap(k) and its spread for one K.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GapScore {
    /// Mean over the reference sets of log W*_k, minus log W_k.
    pub gap: f64,
    /// Standard deviation of log W*_k over the B reference sets (divisor B, as in the paper).
    pub sd: f64,
    /// sd × √(1 + 1/B): the simulation error of Gap(k).
    pub s: f64,
}

/// Gap and s per K from the data's inertia W_k and the reference sets' inertias W*_kb.
pub fn gap_scores(inertia: &[f64], reference: &[Vec<f64>]) -> Vec<GapScore> {
    inertia
        .iter()
        .zip(reference)
        .map(|(&w, refs)| {
            let b = refs.len() as f64;
            let logs: Vec<f64> = refs.iter().map(|r| r.ln()).collect();
            let mean = logs.iter().sum::<f64>() / b;
            let sd = (logs.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / b).sqrt();
            GapScore {
                gap: mean - w.ln(),
                sd,
                s: sd * (1.0 + 1.0 / b).sqrt(),
            }
        })
        .collect()
}

/// Index of the smallest K (among those `allowed`) with Gap(k) ≥ Gap(k+1) − s(k+1); the last
/// K has no successor to compare with and is never chosen this way.
pub fn one_se_choice(scores: &[GapScore], allowed: impl Fn(usize) -> bool) -> Option<usize> {
    (0..scores.len().saturating_sub(1))
        .find(|&i| allowed(i) && scores[i].gap >= scores[i + 1].gap - scores[i + 1].s)
}

/// The k-means inertia of every reference set at every K: `fit(k, set)` returns the inertia.
/// Returned per K, one value per reference set.
pub fn reference_inertias<E>(
    x: ArrayView2<'_, f64>,
    ks: &[usize],
    b: usize,
    seed: u64,
    fit: impl Fn(usize, ArrayView2<'_, f64>) -> Result<f64, E>,
) -> Result<Vec<Vec<f64>>, E>
where
    E: From<ClusterError>,
{
    let space = ReferenceBox::of(x)?;
    let mut draws = Draws::new(seed);
    let mut inertias = vec![Vec::with_capacity(b); ks.len()];
    for _ in 0..b {
        let set = space.reference_set(draws.next_set(x.nrows(), space.axes.nrows()).view());
        for (per_k, &k) in inertias.iter_mut().zip(ks) {
            per_k.push(fit(k, set.view())?);
        }
    }
    Ok(inertias)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_box_holds_the_data_and_its_draws() {
        // An elongated diagonal cloud: the box lies along the diagonal, so every reference
        // point stays within the data's range on the principal axis.
        let x = Array2::from_shape_fn((40, 2), |(i, j)| {
            i as f64 + if j == 0 { 0.0 } else { 0.3 * (i % 3) as f64 }
        });
        let space = ReferenceBox::of(x.view()).unwrap();
        let set = space.reference_set(uniforms(40, 2, 1, 7)[0].view());
        let back = (&set - &space.mean).dot(&space.axes.t());
        for row in back.rows() {
            for (v, (lo, hi)) in row.iter().zip(space.low.iter().zip(&space.high)) {
                assert!(
                    *v >= lo - 1e-9 && *v <= hi + 1e-9,
                    "{v} outside [{lo}, {hi}]"
                );
            }
        }
        assert_eq!(uniforms(40, 2, 2, 7), uniforms(40, 2, 2, 7));
        assert_ne!(uniforms(40, 2, 1, 7)[0], uniforms(40, 2, 1, 8)[0]);
    }

    #[test]
    fn gap_and_the_one_se_rule_by_hand() {
        // W_k = e^1, e^0; reference log W* = {2, 4} and {1, 1}: Gap = 2, 1; sd = 1, 0;
        // s = √1.5, 0.
        let scores = gap_scores(
            &[1f64.exp(), 1.0],
            &[vec![2f64.exp(), 4f64.exp()], vec![1f64.exp(), 1f64.exp()]],
        );
        assert!((scores[0].gap - 2.0).abs() < 1e-12 && (scores[1].gap - 1.0).abs() < 1e-12);
        assert!((scores[0].s - 1.5f64.sqrt()).abs() < 1e-12 && scores[1].s.abs() < 1e-12);
        assert_eq!(one_se_choice(&scores, |_| true), Some(0));
        assert_eq!(one_se_choice(&scores, |i| i != 0), None);
    }
}
