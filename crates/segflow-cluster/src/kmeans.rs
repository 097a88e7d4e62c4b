//! k-means as scikit-learn defines it: greedy k-means++ seeding (2 + ⌊ln k⌋ local trials per
//! centre), Lloyd iterations until the labels stop changing or the centres move less than
//! `tol` × the mean feature variance, `n_init` restarts keeping the lowest inertia, empty
//! clusters re-seeded with the points farthest from their centres, and inertia as a **sum**.

use linfa::dataset::DatasetBase;
use linfa::traits::{Fit, PredictInplace};
use ndarray::{Array1, Array2, ArrayBase, ArrayView2, Data, Ix2};
use rayon::prelude::*;

use crate::chunks::{CHUNK_ROWS, map_chunks};
use crate::rng::Rng;
use crate::{ClusterError, Result, check_finite};

/// Settings of a k-means fit; defaults are scikit-learn's.
#[derive(Debug, Clone, PartialEq)]
pub struct KMeansParams {
    pub n_clusters: usize,
    pub n_init: usize,
    pub max_iter: usize,
    /// Relative tolerance: multiplied by the mean per-column variance of the data.
    pub tol: f64,
    pub seed: u64,
}

impl KMeansParams {
    pub fn new(n_clusters: usize) -> Self {
        Self {
            n_clusters,
            n_init: 10,
            max_iter: 300,
            tol: 1e-4,
            seed: 0,
        }
    }

    pub fn n_init(mut self, n_init: usize) -> Self {
        self.n_init = n_init;
        self
    }

    pub fn max_iter(mut self, max_iter: usize) -> Self {
        self.max_iter = max_iter;
        self
    }

    pub fn tol(mut self, tol: f64) -> Self {
        self.tol = tol;
        self
    }

    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    fn check(&self, n: usize) -> Result<()> {
        if self.n_clusters == 0 || self.n_clusters > n {
            return Err(ClusterError::InvalidParam(format!(
                "n_clusters = {} must lie in 1..={n} (the number of rows)",
                self.n_clusters
            )));
        }
        if self.n_init == 0 || self.max_iter == 0 {
            return Err(ClusterError::InvalidParam(
                "n_init and max_iter must be at least 1".into(),
            ));
        }
        if self.tol.is_nan() || self.tol < 0.0 {
            return Err(ClusterError::InvalidParam(format!(
                "tol = {} must be ≥ 0",
                self.tol
            )));
        }
        Ok(())
    }

    /// Fits on the rows of `x`.
    pub fn fit_array(&self, x: ArrayView2<'_, f64>) -> Result<KMeans> {
        check_finite(&x)?;
        self.check(x.nrows())?;
        let data = Rows::new(&x);
        let tol = self.tol * mean_variance(&data);
        let mut best: Option<KMeans> = None;
        for init in 0..self.n_init {
            let mut rng = Rng::new(self.seed, init as u64);
            let centers = kmeans_plusplus(&data, self.n_clusters, &mut rng);
            let run = lloyd(&data, centers, self.max_iter, tol);
            // Strictly lower only: ties keep the earlier restart, so the choice is reproducible.
            if best.as_ref().is_none_or(|b| run.inertia < b.inertia) {
                best = Some(run);
            }
        }
        Ok(best.expect("n_init ≥ 1"))
    }
}

/// A fitted k-means model.
#[derive(Debug, Clone, PartialEq)]
pub struct KMeans {
    /// k × d; each row is the exact mean of its cluster's members.
    pub centroids: Array2<f64>,
    /// Cluster of each training row.
    pub labels: Array1<usize>,
    /// Sum over training rows of the squared distance to their centroid.
    pub inertia: f64,
    /// Lloyd iterations of the kept restart.
    pub n_iter: usize,
    /// Whether the kept restart converged before `max_iter`.
    pub converged: bool,
}

impl KMeans {
    /// Nearest centroid of each row.
    pub fn predict_array(&self, x: ArrayView2<'_, f64>) -> Array1<usize> {
        let data = Rows::new(&x);
        let centers = Centers::from_array(&self.centroids);
        let mut labels = vec![0u32; data.n];
        assign(&data, &centers, &mut labels, false);
        labels.into_iter().map(|l| l as usize).collect()
    }

    /// Euclidean distance of each row to each centroid (n × k), as scikit-learn's `transform`.
    pub fn transform(&self, x: ArrayView2<'_, f64>) -> Array2<f64> {
        let data = Rows::new(&x);
        let k = self.centroids.nrows();
        let centers = Centers::from_array(&self.centroids);
        let mut out = vec![0.0; data.n * k];
        out.par_chunks_mut(CHUNK_ROWS * k)
            .enumerate()
            .for_each(|(c, block)| {
                for (r, dists) in block.chunks_exact_mut(k).enumerate() {
                    let row = data.row(c * CHUNK_ROWS + r);
                    for (j, slot) in dists.iter_mut().enumerate() {
                        *slot = sq_dist(row, centers.row(j)).sqrt();
                    }
                }
            });
        Array2::from_shape_vec((data.n, k), out).expect("n × k")
    }
}

impl<D: Data<Elem = f64>, T> Fit<ArrayBase<D, Ix2>, T, ClusterError> for KMeansParams {
    type Object = KMeans;

    fn fit(&self, dataset: &DatasetBase<ArrayBase<D, Ix2>, T>) -> Result<KMeans> {
        self.fit_array(dataset.records.view())
    }
}

impl<D: Data<Elem = f64>> PredictInplace<ArrayBase<D, Ix2>, Array1<usize>> for KMeans {
    fn predict_inplace(&self, x: &ArrayBase<D, Ix2>, y: &mut Array1<usize>) {
        assert_eq!(x.nrows(), y.len(), "one target per row");
        y.assign(&self.predict_array(x.view()));
    }

    fn default_target(&self, x: &ArrayBase<D, Ix2>) -> Array1<usize> {
        Array1::zeros(x.nrows())
    }
}

/// Row-major contiguous view of the data (copied only if the input is not contiguous).
pub(crate) struct Rows<'a> {
    data: std::borrow::Cow<'a, [f64]>,
    pub n: usize,
    pub d: usize,
}

impl<'a> Rows<'a> {
    pub fn new<'b: 'a>(x: &'a ArrayView2<'b, f64>) -> Self {
        let data = match x.as_slice() {
            Some(s) => std::borrow::Cow::Borrowed(s),
            None => std::borrow::Cow::Owned(x.iter().copied().collect()),
        };
        Rows {
            data,
            n: x.nrows(),
            d: x.ncols(),
        }
    }

    #[inline]
    pub fn row(&self, i: usize) -> &[f64] {
        &self.data[i * self.d..(i + 1) * self.d]
    }

    pub fn rows(&self, start: usize, end: usize) -> impl Iterator<Item = &[f64]> {
        self.data[start * self.d..end * self.d].chunks_exact(self.d)
    }
}

/// k centres, row-major.
#[derive(Clone)]
pub(crate) struct Centers {
    pub data: Vec<f64>,
    pub k: usize,
    pub d: usize,
}

impl Centers {
    fn from_array(a: &Array2<f64>) -> Self {
        Centers {
            data: a.iter().copied().collect(),
            k: a.nrows(),
            d: a.ncols(),
        }
    }

    #[inline]
    pub fn row(&self, j: usize) -> &[f64] {
        &self.data[j * self.d..(j + 1) * self.d]
    }

    fn to_array(&self) -> Array2<f64> {
        Array2::from_shape_vec((self.k, self.d), self.data.clone()).expect("k × d")
    }
}

/// Squared Euclidean distance with four independent accumulators so the loop vectorises.
#[inline]
pub(crate) fn sq_dist(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0.0f64; 4];
    let (a4, ar) = a.split_at(a.len() / 4 * 4);
    let (b4, br) = b.split_at(a4.len());
    for (x, y) in a4.chunks_exact(4).zip(b4.chunks_exact(4)) {
        for l in 0..4 {
            let t = x[l] - y[l];
            acc[l] += t * t;
        }
    }
    let mut s = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    for (x, y) in ar.iter().zip(br) {
        let t = x - y;
        s += t * t;
    }
    s
}

/// Nearest centre (first on ties) and its squared distance.
#[inline]
fn nearest(row: &[f64], centers: &Centers) -> (usize, f64) {
    let mut best = (0, f64::INFINITY);
    for j in 0..centers.k {
        let dist = sq_dist(row, centers.row(j));
        if dist < best.1 {
            best = (j, dist);
        }
    }
    best
}

fn mean_variance(data: &Rows<'_>) -> f64 {
    let d = data.d;
    let sums = combine(map_chunks(data.n, |s, e| {
        let mut acc = vec![0.0; d];
        for row in data.rows(s, e) {
            acc.iter_mut().zip(row).for_each(|(a, v)| *a += v);
        }
        acc
    }));
    let mean: Vec<f64> = sums.iter().map(|s| s / data.n as f64).collect();
    let sq = combine(map_chunks(data.n, |s, e| {
        let mut acc = vec![0.0; d];
        for row in data.rows(s, e) {
            for t in 0..d {
                let c = row[t] - mean[t];
                acc[t] += c * c;
            }
        }
        acc
    }));
    sq.iter().map(|s| s / data.n as f64).sum::<f64>() / d as f64
}

fn combine(parts: Vec<Vec<f64>>) -> Vec<f64> {
    let mut it = parts.into_iter();
    let mut total = it.next().expect("at least one chunk");
    for p in it {
        total.iter_mut().zip(&p).for_each(|(t, v)| *t += v);
    }
    total
}

/// Greedy k-means++ as scikit-learn: each new centre is the best of 2 + ⌊ln k⌋ candidates
/// sampled proportionally to the squared distance to the nearest chosen centre.
pub(crate) fn kmeans_plusplus(data: &Rows<'_>, k: usize, rng: &mut Rng) -> Centers {
    let d = data.d;
    let trials = 2 + (k as f64).ln() as usize;
    let mut centers = Centers {
        data: Vec::with_capacity(k * d),
        k: 0,
        d,
    };
    let first = rng.below(data.n);
    centers.data.extend_from_slice(data.row(first));
    centers.k = 1;
    let mut closest: Vec<f64> = {
        let c0 = data.row(first).to_vec();
        map_chunks(data.n, |s, e| {
            data.rows(s, e).map(|r| sq_dist(r, &c0)).collect::<Vec<_>>()
        })
        .concat()
    };
    let mut potential = sum_ordered(&closest);
    for _ in 1..k {
        // Cumulative sums in row order, as numpy's stable_cumsum.
        let mut cumsum = Vec::with_capacity(data.n);
        let mut acc = 0.0;
        for &v in &closest {
            acc += v;
            cumsum.push(acc);
        }
        let candidates: Vec<usize> = (0..trials)
            .map(|_| {
                let target = rng.uniform() * potential;
                cumsum.partition_point(|&c| c < target).min(data.n - 1)
            })
            .collect();
        let mut best: Option<(f64, usize, Vec<f64>)> = None;
        for &cand in &candidates {
            let c = data.row(cand).to_vec();
            let dist: Vec<f64> = map_chunks(data.n, |s, e| {
                data.rows(s, e)
                    .zip(&closest[s..e])
                    .map(|(r, &old)| sq_dist(r, &c).min(old))
                    .collect::<Vec<_>>()
            })
            .concat();
            let pot = sum_ordered(&dist);
            if best.as_ref().is_none_or(|b| pot < b.0) {
                best = Some((pot, cand, dist));
            }
        }
        let (pot, cand, dist) = best.expect("at least two trials");
        potential = pot;
        closest = dist;
        centers.data.extend_from_slice(data.row(cand));
        centers.k += 1;
    }
    centers
}

/// Sum in fixed chunk order (deterministic for any thread count).
fn sum_ordered(v: &[f64]) -> f64 {
    map_chunks(v.len(), |s, e| v[s..e].iter().sum::<f64>())
        .into_iter()
        .sum()
}

/// Per-chunk result of an assignment pass.
struct Partial {
    sums: Vec<f64>,
    counts: Vec<u64>,
    inertia: f64,
    changed: usize,
}

/// Assigns every row to its nearest centre, returning per-cluster sums and counts (when
/// `accumulate`), the inertia of the assignment and how many labels changed.
fn assign(data: &Rows<'_>, centers: &Centers, labels: &mut [u32], accumulate: bool) -> Partial {
    let (k, d) = (centers.k, centers.d);
    let parts: Vec<Partial> = labels
        .par_chunks_mut(CHUNK_ROWS)
        .enumerate()
        .map(|(c, lab)| {
            let start = c * CHUNK_ROWS;
            let mut p = Partial {
                sums: if accumulate {
                    vec![0.0; k * d]
                } else {
                    Vec::new()
                },
                counts: vec![0; k],
                inertia: 0.0,
                changed: 0,
            };
            for (row, label) in data.rows(start, start + lab.len()).zip(lab.iter_mut()) {
                let (j, dist) = nearest(row, centers);
                if *label != j as u32 {
                    p.changed += 1;
                    *label = j as u32;
                }
                p.inertia += dist;
                p.counts[j] += 1;
                if accumulate {
                    p.sums[j * d..(j + 1) * d]
                        .iter_mut()
                        .zip(row)
                        .for_each(|(s, v)| *s += v);
                }
            }
            p
        })
        .collect();
    let mut it = parts.into_iter();
    let mut total = it.next().expect("n ≥ 1");
    for p in it {
        total
            .sums
            .iter_mut()
            .zip(&p.sums)
            .for_each(|(t, v)| *t += v);
        total
            .counts
            .iter_mut()
            .zip(&p.counts)
            .for_each(|(t, v)| *t += v);
        total.inertia += p.inertia;
        total.changed += p.changed;
    }
    total
}

/// Sum of squared distances of rows to their labelled centre.
fn inertia(data: &Rows<'_>, centers: &Centers, labels: &[u32]) -> f64 {
    map_chunks(data.n, |s, e| {
        data.rows(s, e)
            .zip(&labels[s..e])
            .map(|(r, &l)| sq_dist(r, centers.row(l as usize)))
            .sum::<f64>()
    })
    .into_iter()
    .sum()
}

/// Lloyd iterations from `centers` (scikit-learn's `_kmeans_single_lloyd`).
fn lloyd(data: &Rows<'_>, mut centers: Centers, max_iter: usize, tol: f64) -> KMeans {
    let (k, d) = (centers.k, centers.d);
    let mut labels = vec![u32::MAX; data.n];
    let mut strict = false;
    let mut n_iter = 0;
    for iter in 0..max_iter {
        n_iter = iter + 1;
        let p = assign(data, &centers, &mut labels, true);
        let mut new = Centers { data: p.sums, k, d };
        let mut counts = p.counts;
        relocate_empty(data, &centers, &labels, &mut new, &mut counts);
        for (sum, &n_j) in new.data.chunks_exact_mut(d).zip(&counts) {
            sum.iter_mut().for_each(|v| *v /= n_j as f64);
        }
        let shift: f64 = (0..k).map(|j| sq_dist(new.row(j), centers.row(j))).sum();
        centers = new;
        if p.changed == 0 {
            strict = true;
            break;
        }
        if shift <= tol {
            break;
        }
    }
    if !strict {
        // Labels must match the final centres.
        assign(data, &centers, &mut labels, false);
    }
    let inertia = inertia(data, &centers, &labels);
    KMeans {
        centroids: centers.to_array(),
        labels: labels.iter().map(|&l| l as usize).collect(),
        inertia,
        n_iter,
        converged: n_iter < max_iter || strict,
    }
}

/// Empty clusters take the points farthest from their own centre (ties: lower row first);
/// the point's contribution moves from its old cluster's sum to the new one.
fn relocate_empty(
    data: &Rows<'_>,
    old: &Centers,
    labels: &[u32],
    sums: &mut Centers,
    counts: &mut [u64],
) {
    let empty: Vec<usize> = (0..counts.len()).filter(|&j| counts[j] == 0).collect();
    if empty.is_empty() {
        return;
    }
    let d = data.d;
    let dist: Vec<f64> = map_chunks(data.n, |s, e| {
        data.rows(s, e)
            .zip(&labels[s..e])
            .map(|(r, &l)| sq_dist(r, old.row(l as usize)))
            .collect::<Vec<_>>()
    })
    .concat();
    let mut order: Vec<usize> = (0..data.n).collect();
    order.sort_by(|&a, &b| dist[b].total_cmp(&dist[a]).then(a.cmp(&b)));
    for (&j, &far) in empty.iter().zip(&order) {
        let from = labels[far] as usize;
        let row = data.row(far);
        sums.data[from * d..(from + 1) * d]
            .iter_mut()
            .zip(row)
            .for_each(|(s, v)| *s -= v);
        sums.data[j * d..(j + 1) * d].copy_from_slice(row);
        counts[from] -= 1;
        counts[j] = 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn two_obvious_clusters() {
        let x = array![
            [0.0, 0.0],
            [0.1, 0.0],
            [0.0, 0.1],
            [10.0, 10.0],
            [10.1, 10.0],
            [10.0, 10.1]
        ];
        let m = KMeansParams::new(2).seed(7).fit_array(x.view()).unwrap();
        assert_eq!(m.labels[0], m.labels[1]);
        assert_eq!(m.labels[3], m.labels[5]);
        assert_ne!(m.labels[0], m.labels[3]);
        let c = m.centroids.row(m.labels[0]);
        assert!((c[0] - 0.1 / 3.0).abs() < 1e-15);
        let expected =
            4.0 * (0.1f64 / 3.0).powi(2) * 2.0 + 2.0 * (0.1 - 0.1 / 3.0f64).powi(2) * 2.0;
        assert!(
            (m.inertia - expected).abs() < 1e-12,
            "{} vs {expected}",
            m.inertia
        );
        assert_eq!(m.predict_array(array![[9.0, 9.0]].view())[0], m.labels[3]);
        assert!(m.converged);
    }

    #[test]
    fn bad_params_are_errors() {
        let x = array![[0.0], [1.0]];
        assert!(KMeansParams::new(3).fit_array(x.view()).is_err());
        assert!(KMeansParams::new(0).fit_array(x.view()).is_err());
        assert!(
            KMeansParams::new(1)
                .fit_array(array![[f64::NAN], [1.0]].view())
                .is_err()
        );
    }
}
