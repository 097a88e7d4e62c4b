//! PCA as scikit-learn's `PCA(svd_solver="full")`: components from the eigendecomposition of
//! the covariance matrix, explained-variance ratio over the **total** variance, and signs fixed
//! so the largest-|loading| entry of each component is positive.

use linfa::dataset::DatasetBase;
use linfa::traits::{Fit, Transformer};
use linfa_linalg::eigh::Eigh;
use ndarray::{Array1, Array2, ArrayBase, ArrayView2, Axis, Data, Ix2};

use crate::chunks::map_chunks;
use crate::kernel::Rows;
use crate::{ClusterError, Result, check_finite};

/// How many components to keep.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Components {
    Count(usize),
    /// The fewest components whose cumulative explained-variance ratio exceeds this fraction.
    Fraction(f64),
}

#[derive(Debug, Clone, PartialEq)]
pub struct PcaParams {
    pub n_components: Components,
}

impl PcaParams {
    pub fn new(n_components: Components) -> Self {
        Self { n_components }
    }

    pub fn fit_array(&self, x: ArrayView2<'_, f64>) -> Result<Pca> {
        check_finite(&x)?;
        let (n, d) = x.dim();
        if n < 2 {
            return Err(ClusterError::InvalidInput(
                "PCA needs at least two rows".into(),
            ));
        }
        let max = n.min(d);
        match self.n_components {
            Components::Count(c) if c == 0 || c > max => {
                return Err(ClusterError::InvalidParam(format!(
                    "n_components = {c} must lie in 1..={max}"
                )));
            }
            Components::Fraction(f) if !(f > 0.0 && f < 1.0) => {
                return Err(ClusterError::InvalidParam(format!(
                    "a variance fraction must lie in (0, 1), got {f}"
                )));
            }
            _ => {}
        }
        let data = Rows::new(&x);
        let mean = x.mean_axis(Axis(0)).expect("n ≥ 2");
        let cov = covariance(&data, mean.as_slice().expect("contiguous"));
        let (values, vectors) = cov
            .eigh()
            .map_err(|e| ClusterError::InvalidInput(format!("eigendecomposition failed: {e}")))?;
        let mut order: Vec<usize> = (0..d).collect();
        order.sort_by(|&a, &b| values[b].total_cmp(&values[a]).then(a.cmp(&b)));
        // Covariance eigenvalues can come out as −1e-17 where the true value is 0.
        let variances: Vec<f64> = order.iter().map(|&i| values[i].max(0.0)).collect();
        let total: f64 = variances.iter().sum();
        let ratios: Vec<f64> = variances.iter().map(|v| v / total).collect();
        let keep = match self.n_components {
            Components::Count(c) => c,
            Components::Fraction(f) => {
                let mut cum = 0.0;
                let below = ratios.iter().take_while(|&&r| {
                    cum += r;
                    cum <= f
                });
                (below.count() + 1).min(max)
            }
        };
        let mut components = Array2::zeros((keep, d));
        for (row, &i) in order.iter().take(keep).enumerate() {
            let v = vectors.column(i);
            let lead = v.iter().enumerate().fold(
                0,
                |best, (j, x)| if x.abs() > v[best].abs() { j } else { best },
            );
            let sign = if v[lead] < 0.0 { -1.0 } else { 1.0 };
            components.row_mut(row).assign(&v.mapv(|x| x * sign));
        }
        let explained_variance = Array1::from(variances[..keep].to_vec());
        Ok(Pca {
            singular_values: explained_variance.mapv(|v| (v * (n - 1) as f64).sqrt()),
            explained_variance_ratio: Array1::from(ratios[..keep].to_vec()),
            explained_variance,
            components,
            mean,
        })
    }
}

/// Sample covariance (divisor n − 1), accumulated over fixed row chunks.
fn covariance(data: &Rows<'_>, mean: &[f64]) -> Array2<f64> {
    let d = data.d;
    let parts = map_chunks(data.n, |s, e| {
        let mut acc = vec![0.0; d * d];
        let mut centred = vec![0.0; d];
        for row in data.rows(s, e) {
            centred
                .iter_mut()
                .zip(row.iter().zip(mean))
                .for_each(|(c, (x, m))| *c = x - m);
            for a in 0..d {
                for b in a..d {
                    acc[a * d + b] += centred[a] * centred[b];
                }
            }
        }
        acc
    });
    let mut cov = Array2::zeros((d, d));
    for p in parts {
        for a in 0..d {
            for b in a..d {
                cov[[a, b]] += p[a * d + b];
            }
        }
    }
    for a in 0..d {
        for b in a..d {
            let v = cov[[a, b]] / (data.n - 1) as f64;
            cov[[a, b]] = v;
            cov[[b, a]] = v;
        }
    }
    cov
}

/// A fitted PCA.
#[derive(Debug, Clone, PartialEq)]
pub struct Pca {
    pub mean: Array1<f64>,
    /// n_components × d, rows are unit principal axes.
    pub components: Array2<f64>,
    pub explained_variance: Array1<f64>,
    /// Share of the total variance (over all components, kept or not).
    pub explained_variance_ratio: Array1<f64>,
    pub singular_values: Array1<f64>,
}

impl Pca {
    /// Projects rows onto the components: (x − mean) · componentsᵀ.
    pub fn transform_array(&self, x: ArrayView2<'_, f64>) -> Array2<f64> {
        (&x - &self.mean).dot(&self.components.t())
    }
}

impl<D: Data<Elem = f64>, T> Fit<ArrayBase<D, Ix2>, T, ClusterError> for PcaParams {
    type Object = Pca;

    fn fit(&self, dataset: &DatasetBase<ArrayBase<D, Ix2>, T>) -> Result<Pca> {
        self.fit_array(dataset.records.view())
    }
}

impl<D: Data<Elem = f64>> Transformer<&ArrayBase<D, Ix2>, Array2<f64>> for Pca {
    fn transform(&self, x: &ArrayBase<D, Ix2>) -> Array2<f64> {
        self.transform_array(x.view())
    }
}
