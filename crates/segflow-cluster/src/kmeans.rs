//! k-means as scikit-learn defines it: the data centred on its column means, greedy k-means++
//! seeding (2 + ⌊ln k⌋ local trials per centre) drawn from numpy's `RandomState(seed)` exactly
//! as scikit-learn draws it, Lloyd iterations until the labels stop changing or the centres
//! move less than `tol` × the mean feature variance, `n_init` restarts keeping a later one only
//! when its inertia is strictly lower and its partition differs, empty clusters re-seeded with
//! the points farthest from their centres, and inertia as a **sum**.

use linfa::dataset::DatasetBase;
use linfa::traits::{Fit, PredictInplace};
use ndarray::{Array1, Array2, ArrayBase, ArrayView2, Data, Ix2};
use rayon::prelude::*;

use crate::chunks::{CHUNK_ROWS, map_chunks};
use crate::kernel::{Packed, Rows, multiversion, sq_dist, stride};
use crate::lloyd::lloyd_restarts;
use crate::random_state::{RandomState, choice_cdf};
use crate::seeding::seed_restarts;
pub(crate) use crate::seeding::{Seeding, kmeans_plusplus};
use crate::{ClusterError, Result, check_finite};

/// The version of this algorithm's results, part of the algorithm version of every stage that
/// runs it (`segflow_core::stage::compose_version`): bump it with any change to its labels, centres or inertia, and
/// say what changed in CHANGELOG.md.
pub const VERSION: u32 = 2;

/// Settings of a k-means fit; defaults are scikit-learn's.
#[derive(Debug, Clone, PartialEq)]
pub struct KMeansParams {
    pub n_clusters: usize,
    pub n_init: usize,
    pub max_iter: usize,
    /// Relative tolerance: multiplied by the mean per-column variance of the data.
    pub tol: f64,
    /// scikit-learn's `random_state`: numpy's `RandomState(seed)`, so 0..2³² only.
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

    /// Runs Lloyd iterations from the given initial centroids (k × d) instead of k-means++:
    /// one run, `n_init` and `seed` unused (scikit-learn's `init=array`).
    pub fn fit_from(&self, x: ArrayView2<'_, f64>, init: ArrayView2<'_, f64>) -> Result<KMeans> {
        check_finite(&x)?;
        self.check(x.nrows())?;
        if init.nrows() != self.n_clusters || init.ncols() != x.ncols() {
            return Err(ClusterError::InvalidParam(format!(
                "initial centroids are {}×{}, expected {}×{}",
                init.nrows(),
                init.ncols(),
                self.n_clusters,
                x.ncols()
            )));
        }
        check_finite(&init)?;
        let data = Rows::new(&x);
        let tol = self.tol * mean_variance(&data);
        let init = Centers::from_array(&init.to_owned());
        Ok(lloyd_restarts(
            &data,
            vec![init],
            self.max_iter,
            tol,
            &mut [Buffers::default()],
        )
        .pop()
        .expect("one restart")
        .into_model())
    }

    /// Fits on the rows of `x`: scikit-learn's `KMeans(random_state=seed).fit(x)`.
    pub fn fit_array(&self, x: ArrayView2<'_, f64>) -> Result<KMeans> {
        self.fit_with_state(x, &mut RandomState::from_seed(self.seed)?)
    }

    /// Fits drawing every restart's seeding from `state`, one restart after the other, as
    /// scikit-learn's `KMeans(random_state=state)` does with a `RandomState` it is given (a
    /// Gaussian mixture's initialisation passes its own); `state` is left where scikit-learn
    /// leaves it.
    pub fn fit_with_state(
        &self,
        x: ArrayView2<'_, f64>,
        state: &mut RandomState,
    ) -> Result<KMeans> {
        check_finite(&x)?;
        self.check(x.nrows())?;
        let (n, k) = (x.nrows(), self.n_clusters);
        // scikit-learn subtracts the column means before fitting, which changes the rounding
        // of every distance; doing the same keeps near-ties resolving the same way.
        let mean = column_means(&x);
        let data = Rows::centred(&x, &mean);
        let tol = self.tol * mean_variance(&data);
        // The first centre is `choice(n, p = w / Σw)` with unit weights.
        let cdf = choice_cdf(&vec![1.0 / n as f64; n]);
        // How many numbers a seeding draws does not depend on the data, so every restart's
        // draws are taken now, in scikit-learn's order, and the restarts can run side by side.
        let draws: Vec<Seeding> = (0..self.n_init)
            .map(|_| Seeding::draw(k, state, |s| s.choice(&cdf), |s| s.uniform(0.0, 1.0)))
            .collect();
        let runs: Vec<Run> = if data.n * data.w * size_of::<f64>() <= LOCKSTEP_DATA_BYTES {
            // Data that stays in cache gains nothing from restarts sharing a pass, and one
            // restart at a time leaves a thread waiting at the end of every pass: the restarts
            // run side by side instead, each one's passes split into the same chunks as
            // always, so each fit is the same on any number of threads.
            draws
                .par_iter()
                .map_init(Buffers::default, |buffers, seeding| {
                    let centers = kmeans_plusplus(&data, k, seeding, buffers);
                    let buffers = std::slice::from_mut(buffers);
                    lloyd_restarts(&data, vec![centers], self.max_iter, tol, buffers)
                        .pop()
                        .expect("one restart")
                })
                .collect()
        } else {
            // Larger data: restarts run in groups that share each pass over the rows.
            let group = (LOCKSTEP_STATE_BYTES / (data.n * Buffers::BYTES_PER_ROW)).max(1);
            run_in_groups(&data, k, &draws, self.max_iter, tol, group)
        };
        // scikit-learn's rule: a later restart replaces the best only with a strictly lower
        // inertia and a different partition (the same partition can differ in inertia by
        // rounding alone).
        let mut best: Option<Run> = None;
        for run in runs {
            if best.as_ref().is_none_or(|b| {
                run.inertia < b.inertia && !same_partition(&run.labels, &b.labels, k)
            }) {
                best = Some(run);
            }
        }
        let mut best = best.expect("n_init ≥ 1").into_model();
        for mut row in best.centroids.rows_mut() {
            row.iter_mut().zip(&mean).for_each(|(c, m)| *c += m);
        }
        Ok(best)
    }
}

/// Column means as numpy's `X.mean(axis=0)`: rows summed in order, divided by n.
fn column_means(x: &ArrayView2<'_, f64>) -> Vec<f64> {
    let mut sums = vec![0.0; x.ncols()];
    for row in x.rows() {
        sums.iter_mut().zip(row).for_each(|(s, v)| *s += v);
    }
    sums.iter().map(|s| s / x.nrows() as f64).collect()
}

/// Whether two labelings are the same partition up to a renaming of the clusters
/// (scikit-learn's `_is_same_clustering`).
fn same_partition(a: &[u32], b: &[u32], k: usize) -> bool {
    let mut mapping = vec![usize::MAX; k];
    a.iter().zip(b).all(|(&x, &y)| {
        let x = x as usize;
        if mapping[x] == usize::MAX {
            mapping[x] = y as usize;
        }
        mapping[x] == y as usize
    })
}

/// Seeds and iterates the restarts `group` at a time, each group sharing its passes over the
/// rows; the fits come back in the order of `draws`, each the same whatever `group` is.
fn run_in_groups(
    data: &Rows<'_>,
    k: usize,
    draws: &[Seeding],
    max_iter: usize,
    tol: f64,
    group: usize,
) -> Vec<Run> {
    let mut buffers: Vec<Buffers> = Vec::new();
    let mut runs = Vec::with_capacity(draws.len());
    for seedings in draws.chunks(group) {
        buffers.resize_with(seedings.len(), Buffers::default);
        let inits = seed_restarts(data, k, seedings, &mut buffers);
        runs.extend(lloyd_restarts(data, inits, max_iter, tol, &mut buffers));
    }
    runs
}

/// One restart's fit, its labels as the passes wrote them: only the kept restart becomes a
/// [`KMeans`], so the others never convert (nor allocate) n labels of a machine word.
pub(crate) struct Run {
    pub(crate) centroids: Array2<f64>,
    pub(crate) labels: Vec<u32>,
    pub(crate) inertia: f64,
    pub(crate) n_iter: usize,
    pub(crate) converged: bool,
}

impl Run {
    fn into_model(self) -> KMeans {
        KMeans {
            centroids: self.centroids,
            labels: self.labels.into_iter().map(|l| l as usize).collect(),
            inertia: self.inertia,
            n_iter: self.n_iter,
            converged: self.converged,
        }
    }
}

/// A fitted k-means model.
#[derive(Debug, Clone, PartialEq)]
pub struct KMeans {
    /// k × d; each row is the mean of its cluster's members (computed on the centred data and
    /// shifted back, as scikit-learn, so equal to the plain mean up to rounding).
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
        distances(x, self.centroids.view())
    }
}

/// Euclidean distance of each row to each centroid (n × k).
pub fn distances(x: ArrayView2<'_, f64>, centroids: ArrayView2<'_, f64>) -> Array2<f64> {
    let data = Rows::new(&x);
    let k = centroids.nrows();
    let centers = Centers::from_array(&centroids.to_owned());
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

/// Each row's nearest centroid with its distance, and how much farther the second nearest is.
#[derive(Debug, Clone, PartialEq)]
pub struct Nearest {
    /// Index of the nearest centroid (the first one on exact ties).
    pub labels: Vec<usize>,
    pub distance: Vec<f64>,
    /// Distance to the second nearest centroid minus `distance` (∞ with one centroid).
    pub margin: Vec<f64>,
}

/// Scores rows against fixed centroids. A fitted model and a model loaded from its artifact
/// go through this same arithmetic, so they label the same rows the same way.
pub fn nearest(x: ArrayView2<'_, f64>, centroids: ArrayView2<'_, f64>) -> Nearest {
    let d = distances(x, centroids);
    let k = centroids.nrows();
    let mut out = Nearest {
        labels: Vec::with_capacity(d.nrows()),
        distance: Vec::with_capacity(d.nrows()),
        margin: Vec::with_capacity(d.nrows()),
    };
    for row in d.rows() {
        let row = row.as_slice().expect("row-major");
        let (j, d1, d2) = argmin2(row, k);
        out.labels.push(j);
        out.distance.push(d1);
        out.margin.push(d2 - d1);
    }
    out
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

/// k centres, row-major with the data's padded stride.
#[derive(Clone)]
pub(crate) struct Centers {
    pub data: Vec<f64>,
    pub k: usize,
    pub d: usize,
    pub w: usize,
}

impl Centers {
    pub(crate) fn from_array(a: &Array2<f64>) -> Self {
        let (k, d) = a.dim();
        let w = stride(d);
        let mut data = vec![0.0; k * w];
        for (j, row) in a.rows().into_iter().enumerate() {
            data[j * w..j * w + d]
                .iter_mut()
                .zip(row)
                .for_each(|(o, v)| *o = *v);
        }
        Centers { data, k, d, w }
    }

    pub(crate) fn empty(d: usize) -> Self {
        Centers {
            data: Vec::new(),
            k: 0,
            d,
            w: stride(d),
        }
    }

    pub(crate) fn push(&mut self, row: &[f64]) {
        self.data.extend_from_slice(row);
        self.k += 1;
    }

    #[inline(always)]
    pub fn row(&self, j: usize) -> &[f64] {
        &self.data[j * self.w..(j + 1) * self.w]
    }

    pub(crate) fn to_array(&self) -> Array2<f64> {
        Array2::from_shape_fn((self.k, self.d), |(j, t)| self.data[j * self.w + t])
    }
}

/// Index and value of the first minimum of `dist[..k]`.
#[inline(always)]
fn argmin(dist: &[f64], k: usize) -> (usize, f64) {
    let mut best = (0, dist[0]);
    for (j, &v) in dist[..k].iter().enumerate().skip(1) {
        if v < best.1 {
            best = (j, v);
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

/// Per-restart state of a fit over n rows, allocated once per fit and reused (fresh
/// allocations of this size cost page faults).
#[derive(Default)]
pub(crate) struct Buffers {
    /// Per row: during k-means++ the squared distance to the nearest chosen centre; during
    /// Lloyd an upper bound on the distance to the row's own centre (one restart never needs
    /// both at once).
    pub(crate) near: Vec<f64>,
    /// Lloyd's lower bounds: Hamerly's, one per row on the distance to every centre but its
    /// own, or Elkan's, one per row and centre (`elkan.rs`).
    pub(crate) lower: Vec<f64>,
    pub(crate) labels: Vec<u32>,
    /// k-means++ of a restart seeded alone: each row's capped squared distances to the
    /// candidates of the current step.
    pub(crate) kept: Vec<f64>,
}

impl Buffers {
    const BYTES_PER_ROW: usize = 8 + 8 + 4;
}

/// Data larger than this (a last-level cache) runs restarts in lockstep.
const LOCKSTEP_DATA_BYTES: usize = 32 << 20;

/// Per-restart state that restarts running in lockstep may hold at once.
const LOCKSTEP_STATE_BYTES: usize = 256 << 20;

/// Per-chunk result of an assignment pass.
pub(crate) struct Partial {
    pub(crate) sums: Vec<f64>,
    pub(crate) counts: Vec<u64>,
    pub(crate) inertia: f64,
    pub(crate) changed: usize,
}

/// Assigns rows [start, start + labels.len()) to their nearest centre.
fn assign_chunk(
    data: &Rows<'_>,
    packed: &Packed,
    k: usize,
    start: usize,
    labels: &mut [u32],
    accumulate: bool,
) -> Partial {
    let w = data.w;
    let mut p = Partial {
        sums: if accumulate {
            vec![0.0; k * w]
        } else {
            Vec::new()
        },
        counts: vec![0; k],
        inertia: 0.0,
        changed: 0,
    };
    assign_rows(data, packed, k, start, labels, accumulate, &mut p);
    p
}

multiversion! {
    /// Assigns rows [start, start + labels.len()) to their nearest centre; adds to `p` the
    /// per-cluster sums (when `accumulate`), counts, inertia and changed labels.
    pub(crate) fn assign_rows(data: &Rows<'_>, packed: &Packed, k: usize, start: usize, labels: &mut [u32], accumulate: bool, p: &mut Partial) -> () {
        let w = data.w;
        let mut dist = vec![0.0; packed.slots()];
        for (row, label) in data.rows(start, start + labels.len()).zip(labels.iter_mut()) {
            packed.distances(row, &mut dist);
            let (j, dist) = argmin(&dist, k);
            if *label != j as u32 {
                p.changed += 1;
                *label = j as u32;
            }
            p.inertia += dist;
            p.counts[j] += 1;
            if accumulate {
                p.sums[j * w..(j + 1) * w].iter_mut().zip(row).for_each(|(s, v)| *s += v);
            }
        }
    }
}

/// Assigns every row to its nearest centre: per-cluster sums and counts (when `accumulate`),
/// the inertia of this assignment (exact squared distances) and how many labels changed.
pub(crate) fn assign(
    data: &Rows<'_>,
    centers: &Centers,
    labels: &mut [u32],
    accumulate: bool,
) -> Partial {
    let packed = Packed::new(&centers.data, centers.k, centers.d, centers.w);
    let parts: Vec<Partial> = labels
        .par_chunks_mut(CHUNK_ROWS)
        .enumerate()
        .map(|(c, lab)| assign_chunk(data, &packed, centers.k, c * CHUNK_ROWS, lab, accumulate))
        .collect();
    combine_partials(parts)
}

/// Index and value of the smallest and the value of the second smallest of `dist[..k]`
/// (first index on ties).
#[inline(always)]
pub(crate) fn argmin2(dist: &[f64], k: usize) -> (usize, f64, f64) {
    let (mut j, mut d1, mut d2) = (0, dist[0], f64::INFINITY);
    for (c, &v) in dist[..k].iter().enumerate().skip(1) {
        if v < d1 {
            (j, d1, d2) = (c, v, d1);
        } else if v < d2 {
            d2 = v;
        }
    }
    (j, d1, d2)
}

pub(crate) fn combine_partials(parts: Vec<Partial>) -> Partial {
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
    fn an_empty_cluster_takes_the_farthest_point() {
        let x = array![[0.0, 0.0], [0.0, 1.0], [10.0, 10.0], [10.0, 13.0]];
        let init = array![[0.0, 0.5], [10.0, 11.5], [100.0, 100.0]];
        let m = KMeansParams::new(3)
            .fit_from(x.view(), init.view())
            .unwrap();
        // Rows 2 and 3 are farthest from their centre (1.5 away); the tie goes to row 2, which
        // re-seeds the empty third cluster and leaves row 3 alone in the second.
        assert_eq!(m.labels.to_vec(), vec![0, 0, 2, 1]);
        assert_eq!(m.centroids, array![[0.0, 0.5], [10.0, 13.0], [10.0, 10.0]]);
        assert_eq!(m.inertia, 0.5);
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

    /// Restarts seeded and iterated together give, each, bit for bit what it gives alone.
    #[test]
    fn restarts_give_the_same_fits_however_they_are_grouped() {
        let mut state = RandomState::new(3);
        // Three overlapping blobs over more than two chunks, so restarts converge at
        // different iterations.
        let x = Array2::from_shape_fn((2 * CHUNK_ROWS + 777, 5), |(i, t)| {
            state.random_sample() + 0.6 * ((i % 3 + t) % 2) as f64
        });
        let view = x.view();
        let data = Rows::new(&view);
        let k = 4;
        let mut state = RandomState::new(5);
        let draws: Vec<Seeding> = (0..6)
            .map(|_| {
                Seeding::draw(
                    k,
                    &mut state,
                    |s| s.randint(0, data.n as i64) as usize,
                    |s| s.random_sample(),
                )
            })
            .collect();
        let alone = run_in_groups(&data, k, &draws, 300, 1e-6, 1);
        let iterations: Vec<usize> = alone.iter().map(|m| m.n_iter).collect();
        assert!(
            iterations.iter().any(|&i| i != iterations[0]),
            "restarts should stop at different iterations: {iterations:?}"
        );
        for group in [4, 6] {
            let together = run_in_groups(&data, k, &draws, 300, 1e-6, group);
            for (a, b) in alone.iter().zip(&together) {
                assert_eq!(a.labels, b.labels);
                assert_eq!(a.n_iter, b.n_iter);
                assert_eq!(a.inertia.to_bits(), b.inertia.to_bits());
                assert!(
                    a.centroids
                        .iter()
                        .zip(&b.centroids)
                        .all(|(x, y)| x.to_bits() == y.to_bits())
                );
            }
        }
    }
}
