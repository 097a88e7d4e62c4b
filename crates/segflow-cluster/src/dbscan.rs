//! DBSCAN with scikit-learn's semantics: a point is a core point when at least `min_samples`
//! points (itself included) lie within `eps` (Euclidean, inclusive); clusters grow from core
//! points in row order, and a border point joins the first cluster that reaches it. Noise is
//! `None`.
//!
//! Neighbourhoods are found by brute force over fixed row chunks (exact, parallel, and the same
//! on any thread count); that suits the table sizes segments are built from.

use ndarray::ArrayView2;
use rayon::prelude::*;

use crate::chunks::CHUNK_ROWS;
use crate::kernel::{Rows, sq_dist};
use crate::{ClusterError, Result, check_finite};

/// The version of this algorithm's results, part of the algorithm version of every stage that
/// runs it (`segflow_core::stage::compose_version`): bump it with any change to its labels or core points, and
/// say what changed in CHANGELOG.md.
pub const VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DbscanParams {
    pub eps: f64,
    pub min_samples: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Dbscan {
    /// Cluster of each row, numbered in order of discovery; `None` is noise.
    pub labels: Vec<Option<usize>>,
    pub core: Vec<bool>,
    pub n_clusters: usize,
}

impl DbscanParams {
    pub fn new(eps: f64, min_samples: usize) -> Self {
        Self { eps, min_samples }
    }

    pub fn fit_array(&self, x: ArrayView2<'_, f64>) -> Result<Dbscan> {
        check_finite(&x)?;
        if !(self.eps > 0.0 && self.eps.is_finite()) || self.min_samples == 0 {
            return Err(ClusterError::InvalidInput(
                "DBSCAN needs eps > 0 and min_samples ≥ 1".into(),
            ));
        }
        let data = Rows::new(&x);
        let n = data.n;
        let eps2 = self.eps * self.eps;
        // Row i's neighbours within eps, in ascending row order (itself included).
        let neighbours: Vec<Vec<u32>> = (0..n)
            .into_par_iter()
            .with_min_len(CHUNK_ROWS / 16)
            .map(|i| {
                let row = data.row(i);
                (0..n)
                    .filter(|&j| sq_dist(row, data.row(j)) <= eps2)
                    .map(|j| j as u32)
                    .collect()
            })
            .collect();
        let core: Vec<bool> = neighbours
            .iter()
            .map(|nb| nb.len() >= self.min_samples)
            .collect();
        let mut labels: Vec<Option<usize>> = vec![None; n];
        let mut n_clusters = 0;
        let mut stack: Vec<usize> = Vec::new();
        // scikit-learn's dbscan_inner: depth-first from each unlabelled core point.
        for start in 0..n {
            if labels[start].is_some() || !core[start] {
                continue;
            }
            let mut i = start;
            loop {
                if labels[i].is_none() {
                    labels[i] = Some(n_clusters);
                    if core[i] {
                        stack.extend(
                            neighbours[i]
                                .iter()
                                .map(|&j| j as usize)
                                .filter(|&j| labels[j].is_none()),
                        );
                    }
                }
                match stack.pop() {
                    Some(next) => i = next,
                    None => break,
                }
            }
            n_clusters += 1;
        }
        Ok(Dbscan {
            labels,
            core,
            n_clusters,
        })
    }
}

/// Each row's distance to its `k`-th nearest other row, sorted ascending: the curve whose knee
/// suggests `eps` for `min_samples = k + 1`.
pub fn k_distances(x: ArrayView2<'_, f64>, k: usize) -> Result<Vec<f64>> {
    check_finite(&x)?;
    let data = Rows::new(&x);
    let n = data.n;
    if k == 0 || k >= n {
        return Err(ClusterError::InvalidInput(format!(
            "k-distance needs 1 ≤ k < n (k = {k}, n = {n})"
        )));
    }
    let mut d: Vec<f64> = (0..n)
        .into_par_iter()
        .with_min_len(CHUNK_ROWS / 16)
        .map(|i| {
            let row = data.row(i);
            let mut dist: Vec<f64> = (0..n)
                .filter(|&j| j != i)
                .map(|j| sq_dist(row, data.row(j)))
                .collect();
            let (_, kth, _) = dist.select_nth_unstable_by(k - 1, f64::total_cmp);
            kth.sqrt()
        })
        .collect();
    d.sort_by(f64::total_cmp);
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_blobs_and_an_outlier() {
        let x = ndarray::array![
            [0.0, 0.0],
            [0.1, 0.0],
            [0.0, 0.1],
            [5.0, 5.0],
            [5.1, 5.0],
            [5.0, 5.1],
            [20.0, 20.0],
            [0.3, 0.0]
        ];
        let m = DbscanParams::new(0.25, 3).fit_array(x.view()).unwrap();
        assert_eq!(m.n_clusters, 2);
        assert_eq!(
            &m.labels[..6],
            &[Some(0), Some(0), Some(0), Some(1), Some(1), Some(1)]
        );
        assert_eq!(m.labels[6], None);
        // 0.3 is within eps of (0.1, 0) only: a border point of cluster 0, not a core point.
        assert_eq!(m.labels[7], Some(0));
        assert!(!m.core[7]);
        let kd = k_distances(x.view(), 1).unwrap();
        assert!(kd.windows(2).all(|w| w[0] <= w[1]));
    }
}
