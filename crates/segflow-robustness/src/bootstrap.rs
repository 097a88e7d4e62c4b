//! Per-cluster bootstrap stability with clusterboot semantics (Hennig, fpc::clusterboot): in
//! each resample the clustering is refitted, and each original cluster — restricted to the
//! distinct rows the resample drew — is matched to the resample cluster with the highest
//! Jaccard similarity.

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, RecordBatch, StringArray, UInt32Array, UInt64Array};
use ndarray::ArrayView2;
use rayon::prelude::*;
use serde::Deserialize;

use segflow_cluster::metrics::jaccard;
use segflow_cluster::rng::Rng;
use segflow_core::artifact::batch;
use segflow_core::stats::quantile_sorted;
use segflow_core::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// n draws with replacement; duplicates count once in the Jaccard sets.
    #[default]
    Boot,
    /// A share of the rows drawn without replacement.
    Subset,
}

pub struct Resampled {
    pub k: usize,
    pub resamples: usize,
    pub method: Method,
    pub subset_fraction: f64,
    pub seed: u64,
}

/// One original cluster's best Jaccard in each resample that drew any of its rows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stability {
    pub jaccards: Vec<f64>,
}

impl Stability {
    pub fn mean(&self) -> Option<f64> {
        (!self.jaccards.is_empty())
            .then(|| self.jaccards.iter().sum::<f64>() / self.jaccards.len() as f64)
    }

    /// Resamples where the cluster dissolved (best Jaccard ≤ 0.5).
    pub fn dissolved(&self) -> usize {
        self.jaccards.iter().filter(|j| **j <= 0.5).count()
    }

    /// Resamples where the cluster was recovered (best Jaccard > 0.75).
    pub fn recovered(&self) -> usize {
        self.jaccards.iter().filter(|j| **j > 0.75).count()
    }
}

/// clusterboot's reading of a mean Jaccard.
pub fn band(mean: f64) -> &'static str {
    match mean {
        m if m >= 0.85 => "highly stable",
        m if m >= 0.75 => "stable",
        m if m >= 0.6 => "doubtful",
        _ => "untrustworthy",
    }
}

/// Row indices of resample `b`: its own random stream, so the draw does not depend on which
/// thread runs it.
fn draw(n: usize, r: &Resampled, b: usize) -> Vec<usize> {
    let mut rng = Rng::new(r.seed, b as u64);
    match r.method {
        Method::Boot => (0..n).map(|_| rng.below(n)).collect(),
        Method::Subset => {
            let m = ((n as f64) * r.subset_fraction).round().max(1.0) as usize;
            rng.sample_sorted(n, m)
        }
    }
}

/// Refits the clustering on a resample (rows, seed) and returns its labels.
pub type Refit<'a> = dyn Fn(ArrayView2<'_, f64>, u64) -> Result<Vec<usize>> + Sync + 'a;

pub fn cluster_stability(
    x: ArrayView2<'_, f64>,
    labels: &[usize],
    r: &Resampled,
    fit: &Refit<'_>,
) -> Result<Vec<Stability>> {
    let n = x.nrows();
    let per_resample: Vec<Vec<Option<f64>>> = (0..r.resamples)
        .into_par_iter()
        .map(|b| {
            let rows = draw(n, r, b);
            let xs = x.select(ndarray::Axis(0), &rows);
            // Kept within random_state's 32-bit range.
            let seed = r.seed.wrapping_add(b as u64 + 1) & u64::from(u32::MAX);
            let new = fit(xs.view(), seed)?;
            // Each distinct row once: identical rows take the same nearest centroid.
            let mut seen = vec![false; n];
            let (mut orig, mut boot) = (Vec::new(), Vec::new());
            for (pos, &row) in rows.iter().enumerate() {
                if !std::mem::replace(&mut seen[row], true) {
                    orig.push(labels[row]);
                    boot.push(new[pos]);
                }
            }
            let (c, j) = jaccard(&orig, &boot).map_err(|e| Error::Internal(e.to_string()))?;
            Ok((0..r.k)
                .map(|cluster| {
                    c.row_labels
                        .iter()
                        .position(|&l| l == cluster)
                        .map(|i| j.row(i).iter().copied().fold(0.0f64, f64::max))
                })
                .collect())
        })
        .collect::<Result<_>>()?;
    let mut out = vec![Stability::default(); r.k];
    for resample in &per_resample {
        for (cluster, best) in resample.iter().enumerate() {
            if let Some(j) = best {
                out[cluster].jaccards.push(*j);
            }
        }
    }
    Ok(out)
}

pub fn batch_of(
    stability: &[Stability],
    segments: &[String],
    method: Method,
) -> Result<RecordBatch> {
    let q = |s: &Stability, p: f64| {
        let mut v = s.jaccards.clone();
        v.sort_by(f64::total_cmp);
        quantile_sorted(&v, p)
    };
    let f = |g: &dyn Fn(&Stability) -> f64| -> ArrayRef {
        Arc::new(Float64Array::from_iter_values(stability.iter().map(g)))
    };
    batch(vec![
        (
            "cluster",
            Arc::new(UInt32Array::from_iter_values(0..stability.len() as u32)) as ArrayRef,
        ),
        (
            "segment",
            Arc::new(StringArray::from_iter_values(segments.iter().cloned())),
        ),
        (
            "method",
            Arc::new(StringArray::from_iter_values(stability.iter().map(|_| {
                match method {
                    Method::Boot => "boot",
                    Method::Subset => "subset",
                }
                .to_string()
            }))),
        ),
        (
            "resamples",
            Arc::new(UInt64Array::from_iter_values(
                stability.iter().map(|s| s.jaccards.len() as u64),
            )),
        ),
        ("mean_jaccard", f(&|s| s.mean().unwrap_or(f64::NAN))),
        ("min_jaccard", f(&|s| q(s, 0.0))),
        ("q25_jaccard", f(&|s| q(s, 0.25))),
        ("median_jaccard", f(&|s| q(s, 0.5))),
        ("q75_jaccard", f(&|s| q(s, 0.75))),
        ("max_jaccard", f(&|s| q(s, 1.0))),
        (
            "dissolved",
            Arc::new(UInt64Array::from_iter_values(
                stability.iter().map(|s| s.dissolved() as u64),
            )),
        ),
        (
            "recovered",
            Arc::new(UInt64Array::from_iter_values(
                stability.iter().map(|s| s.recovered() as u64),
            )),
        ),
        (
            "band",
            Arc::new(StringArray::from_iter_values(
                stability
                    .iter()
                    .map(|s| s.mean().map_or("not drawn", band).to_string()),
            )),
        ),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_are_reproducible_and_subsets_have_no_repeats() {
        let r = Resampled {
            k: 2,
            resamples: 3,
            method: Method::Subset,
            subset_fraction: 0.5,
            seed: 7,
        };
        let a = draw(10, &r, 1);
        assert_eq!(a, draw(10, &r, 1));
        assert_ne!(a, draw(10, &r, 2));
        assert_eq!(a.len(), 5);
        assert!(a.windows(2).all(|w| w[0] < w[1]));
        let boot = Resampled {
            method: Method::Boot,
            ..r
        };
        assert_eq!(draw(10, &boot, 0).len(), 10);
    }

    #[test]
    fn well_separated_clusters_are_recovered_every_time() {
        let x = ndarray::array![[0.0], [0.1], [0.2], [10.0], [10.1], [10.2], [10.3]];
        let labels = [0, 0, 0, 1, 1, 1, 1];
        let r = Resampled {
            k: 2,
            resamples: 20,
            method: Method::Boot,
            subset_fraction: 0.8,
            seed: 1,
        };
        // A threshold rule stands in for the refit.
        let fit = |xs: ArrayView2<'_, f64>, _seed: u64| -> Result<Vec<usize>> {
            Ok(xs.column(0).iter().map(|v| usize::from(*v > 5.0)).collect())
        };
        let s = cluster_stability(x.view(), &labels, &r, &fit).unwrap();
        for c in &s {
            assert!(c.jaccards.iter().all(|j| *j == 1.0));
            assert_eq!(c.recovered(), c.jaccards.len());
        }
        assert_eq!(band(s[0].mean().unwrap()), "highly stable");
        assert_eq!(band(0.7), "doubtful");
    }
}
