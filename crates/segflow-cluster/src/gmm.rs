//! Gaussian mixtures by expectation–maximisation, as scikit-learn's `GaussianMixture`: k-means
//! initialisation, `reg_covar` on the covariance diagonal, precisions through Cholesky factors,
//! convergence on the change of the mean log-likelihood lower bound, best of `n_init` runs,
//! and BIC. Log-space throughout (log-sum-exp), so far-away points do not overflow.

use linfa_linalg::cholesky::Cholesky;
use linfa_linalg::triangular::{SolveTriangular, UPLO};
use ndarray::{Array1, Array2, ArrayView2, Axis};
use rayon::prelude::*;

use crate::{ClusterError, KMeansParams, RandomState, Result, check_finite};

/// The version of this algorithm's results, part of the algorithm version of every stage that
/// runs it (`segflow_core::stage::compose_version`): bump it with any change to its labels, probabilities or parameters (a change to its k-means initialisation bumps `kmeans::VERSION`), and
/// say what changed in CHANGELOG.md.
pub const VERSION: u32 = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Covariance {
    Full,
    Diag,
}

#[derive(Debug, Clone, PartialEq)]
pub struct GmmParams {
    pub k: usize,
    pub covariance: Covariance,
    pub n_init: usize,
    pub max_iter: usize,
    pub tol: f64,
    pub reg_covar: f64,
    pub seed: u64,
}

impl GmmParams {
    pub fn new(k: usize, covariance: Covariance) -> Self {
        GmmParams {
            k,
            covariance,
            n_init: 1,
            max_iter: 100,
            tol: 1e-3,
            reg_covar: 1e-6,
            seed: 0,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Gmm {
    pub covariance: Covariance,
    pub weights: Array1<f64>,
    /// k × d.
    pub means: Array2<f64>,
    /// Per component: the factor P with precision = P Pᵀ (the inverse of the covariance's
    /// Cholesky factor, transposed; for `Diag`, the diagonal of inverse standard deviations).
    pub precision_cholesky: Vec<Array2<f64>>,
    /// Mean log-likelihood bound of the kept run.
    pub lower_bound: f64,
    pub n_iter: usize,
    pub converged: bool,
}

const LN_2PI: f64 = 1.837_877_066_409_345_3;

fn log_sum_exp(v: &[f64]) -> f64 {
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if max == f64::NEG_INFINITY {
        return max;
    }
    max + v.iter().map(|x| (x - max).exp()).sum::<f64>().ln()
}

impl Gmm {
    /// Per component, the part of its weighted log-density that no row changes:
    /// (ln weight + ln det P) − ½ · d · ln 2π.
    pub fn log_constants(&self) -> Vec<f64> {
        let d = self.means.ncols() as f64;
        self.precision_cholesky
            .iter()
            .zip(&self.weights)
            .map(|(p, w)| {
                let log_det: f64 = p.diag().iter().map(|v| v.ln()).sum();
                (w.ln() + log_det) - 0.5 * (d * LN_2PI)
            })
            .collect()
    }

    /// Per row: log of weight × density for each component (n × k), as
    /// `constant − 0.5 · Σⱼ zⱼ²` with `zⱼ = Σᵢ (xᵢ − μᵢ) · Pᵢⱼ` over the nonzero `Pᵢⱼ`, every
    /// sum taken in index order, one operation at a time. The order is spelled out (not a
    /// matrix product, whose kernels regroup sums and fuse multiply-adds by CPU) so that
    /// `segflow sql score` writes the same arithmetic and an SQL engine's doubles pick the
    /// same component.
    fn weighted_log_prob(&self, x: ArrayView2<'_, f64>) -> Array2<f64> {
        let (n, d) = x.dim();
        let k = self.means.nrows();
        let constants = self.log_constants();
        // Per component and output coordinate j, the (i, Pᵢⱼ) that contribute to it.
        let terms: Vec<Vec<Vec<(usize, f64)>>> = self
            .precision_cholesky
            .iter()
            .map(|p| {
                (0..d)
                    .map(|j| {
                        (0..d)
                            .map(|i| (i, p[[i, j]]))
                            .filter(|&(_, v)| v != 0.0)
                            .collect()
                    })
                    .collect()
            })
            .collect();
        // Rows in parallel: each value is computed by one thread alone, in the same order
        // whatever the thread count.
        let mut out = vec![0.0; n * k];
        out.par_chunks_mut(k).enumerate().for_each_init(
            || vec![0.0; d],
            |diff, (r, slots)| {
                let row = x.row(r);
                for (c, slot) in slots.iter_mut().enumerate() {
                    let mean = self.means.row(c);
                    for ((dv, v), m) in diff.iter_mut().zip(row.iter()).zip(mean.iter()) {
                        *dv = v - m;
                    }
                    let mut squares = 0.0;
                    for column in &terms[c] {
                        let z = column.iter().fold(0.0, |s, &(i, v)| s + diff[i] * v);
                        squares += z * z;
                    }
                    *slot = constants[c] - 0.5 * squares;
                }
            },
        );
        Array2::from_shape_vec((n, k), out).expect("n × k")
    }

    /// Posterior probability of each component for each row (n × k).
    pub fn predict_proba(&self, x: ArrayView2<'_, f64>) -> Array2<f64> {
        let mut w = self.weighted_log_prob(x);
        for mut row in w.rows_mut() {
            let norm = log_sum_exp(row.as_slice().expect("row-major"));
            row.mapv_inplace(|v| (v - norm).exp());
        }
        w
    }

    /// Most probable component of each row (the first on ties).
    pub fn predict(&self, x: ArrayView2<'_, f64>) -> Vec<usize> {
        self.weighted_log_prob(x)
            .rows()
            .into_iter()
            .map(|r| {
                r.iter()
                    .enumerate()
                    .fold(
                        (0, f64::NEG_INFINITY),
                        |b, (j, &v)| if v > b.1 { (j, v) } else { b },
                    )
                    .0
            })
            .collect()
    }

    /// Mean log-likelihood of the rows.
    pub fn score(&self, x: ArrayView2<'_, f64>) -> f64 {
        let w = self.weighted_log_prob(x);
        w.rows()
            .into_iter()
            .map(|r| log_sum_exp(r.as_slice().expect("row-major")))
            .sum::<f64>()
            / x.nrows() as f64
    }

    fn n_parameters(&self) -> usize {
        let (k, d) = self.means.dim();
        let cov = match self.covariance {
            Covariance::Full => k * d * (d + 1) / 2,
            Covariance::Diag => k * d,
        };
        cov + k * d + k - 1
    }

    /// Bayesian information criterion on `x` (lower is better).
    pub fn bic(&self, x: ArrayView2<'_, f64>) -> f64 {
        let n = x.nrows() as f64;
        -2.0 * self.score(x) * n + self.n_parameters() as f64 * n.ln()
    }
}

/// A mixture's parameters: weights, means (k × d) and precision factors.
type Components = (Array1<f64>, Array2<f64>, Vec<Array2<f64>>);

/// Weights, means and precision factors from responsibilities (the M-step).
fn m_step(
    x: ArrayView2<'_, f64>,
    resp: &Array2<f64>,
    covariance: Covariance,
    reg: f64,
) -> Result<Components> {
    let (n, d) = x.dim();
    let nk: Array1<f64> = resp.sum_axis(Axis(0)) + 10.0 * f64::EPSILON;
    let means = resp.t().dot(&x) / nk.view().insert_axis(Axis(1));
    let mut precisions = Vec::with_capacity(nk.len());
    for c in 0..nk.len() {
        let diff = &x - &means.row(c);
        let weighted = &diff * &resp.column(c).insert_axis(Axis(1));
        let p = match covariance {
            Covariance::Full => {
                let mut cov = weighted.t().dot(&diff) / nk[c];
                cov.diag_mut().mapv_inplace(|v| v + reg);
                let l = cov.cholesky().map_err(|_| {
                    ClusterError::InvalidInput(
                        "a mixture component's covariance is not positive definite; raise reg_covar or use fewer components".into(),
                    )
                })?;
                let inv = l
                    .solve_triangular(&Array2::eye(d), UPLO::Lower)
                    .map_err(|e| ClusterError::InvalidInput(e.to_string()))?;
                inv.reversed_axes()
            }
            Covariance::Diag => {
                let var: Array1<f64> = (&weighted * &diff).sum_axis(Axis(0)) / nk[c] + reg;
                Array2::from_diag(&var.mapv(|v| 1.0 / v.sqrt()))
            }
        };
        precisions.push(p);
    }
    Ok((nk / n as f64, means, precisions))
}

impl GmmParams {
    pub fn fit_array(&self, x: ArrayView2<'_, f64>) -> Result<Gmm> {
        check_finite(&x)?;
        let n = x.nrows();
        if self.k == 0 || self.k > n || self.n_init == 0 || self.max_iter == 0 {
            return Err(ClusterError::InvalidParam(format!(
                "a mixture needs 1 ≤ k ≤ n, n_init ≥ 1 and max_iter ≥ 1 (k = {}, n = {n})",
                self.k
            )));
        }
        // scikit-learn initialises each run with `KMeans(n_init=1, random_state=rs)`, where
        // `rs` is the mixture's one `RandomState`, so each run continues the previous run's
        // stream.
        let mut state = RandomState::from_seed(self.seed)?;
        let mut best: Option<Gmm> = None;
        for _ in 0..self.n_init {
            let labels = KMeansParams::new(self.k)
                .n_init(1)
                .fit_with_state(x, &mut state)?
                .labels;
            let mut resp = Array2::zeros((n, self.k));
            for (i, &l) in labels.iter().enumerate() {
                resp[[i, l]] = 1.0;
            }
            let (weights, means, precision_cholesky) =
                m_step(x, &resp, self.covariance, self.reg_covar)?;
            let mut model = Gmm {
                covariance: self.covariance,
                weights,
                means,
                precision_cholesky,
                lower_bound: f64::NEG_INFINITY,
                n_iter: 0,
                converged: false,
            };
            for iter in 1..=self.max_iter {
                let previous = model.lower_bound;
                let mut w = model.weighted_log_prob(x);
                let mut total = 0.0;
                for mut row in w.rows_mut() {
                    let norm = log_sum_exp(row.as_slice().expect("row-major"));
                    total += norm;
                    row.mapv_inplace(|v| (v - norm).exp());
                }
                let (weights, means, precisions) = m_step(x, &w, self.covariance, self.reg_covar)?;
                model.weights = weights;
                model.means = means;
                model.precision_cholesky = precisions;
                model.lower_bound = total / n as f64;
                model.n_iter = iter;
                if (model.lower_bound - previous).abs() < self.tol {
                    model.converged = true;
                    break;
                }
            }
            // Strictly higher only: ties keep the earlier run.
            if best
                .as_ref()
                .is_none_or(|b| model.lower_bound > b.lower_bound)
            {
                best = Some(model);
            }
        }
        Ok(best.expect("n_init ≥ 1"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_separated_groups_give_two_confident_components() {
        let x = ndarray::array![
            [0.0, 0.1],
            [0.2, -0.1],
            [-0.1, 0.0],
            [0.1, 0.2],
            [8.0, 8.1],
            [8.2, 7.9],
            [7.9, 8.0],
            [8.1, 8.2]
        ];
        for cov in [Covariance::Full, Covariance::Diag] {
            let g = GmmParams::new(2, cov).fit_array(x.view()).unwrap();
            let labels = g.predict(x.view());
            assert_eq!(labels[..4], [labels[0]; 4]);
            assert_eq!(labels[4..], [labels[4]; 4]);
            assert_ne!(labels[0], labels[4]);
            let p = g.predict_proba(x.view());
            assert!(p.iter().all(|v| *v > 1.0 - 1e-9 || *v < 1e-9));
            assert!(g.bic(x.view()).is_finite());
        }
    }

    #[test]
    fn a_fit_is_bit_identical_whatever_the_thread_count() {
        let x = Array2::from_shape_fn((600, 3), |(i, j)| {
            ((i * 7919 + j * 104_729) % 1000) as f64 / 100.0 + (i % 3) as f64 * 4.0
        });
        let fit = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| {
                    let g = GmmParams::new(3, Covariance::Full)
                        .fit_array(x.view())
                        .unwrap();
                    let p = g.predict_proba(x.view());
                    p.iter().map(|v| v.to_bits()).collect::<Vec<u64>>()
                })
        };
        let one = fit(1);
        for threads in [2, 3] {
            assert!(one == fit(threads), "{threads} threads");
        }
    }
}
