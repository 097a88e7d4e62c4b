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
use crate::random_state::{RandomState, choice_cdf};
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
        Ok(lloyd(
            &data,
            init,
            self.max_iter,
            tol,
            &mut Buffers::default(),
        ))
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
        let restart = |seeding: &Seeding, buffers: &mut Buffers| {
            let centers = kmeans_plusplus(&data, k, seeding, buffers);
            lloyd(&data, centers, self.max_iter, tol, buffers)
        };
        // Data within one chunk keeps a fit on one thread: run the restarts side by side
        // instead.
        let runs: Vec<KMeans> = if data.n <= CHUNK_ROWS {
            draws
                .par_iter()
                .map_init(Buffers::default, |buffers, seeding| {
                    restart(seeding, buffers)
                })
                .collect()
        } else {
            let mut buffers = Buffers::default();
            draws
                .iter()
                .map(|seeding| restart(seeding, &mut buffers))
                .collect()
        };
        // scikit-learn's rule: a later restart replaces the best only with a strictly lower
        // inertia and a different partition (the same partition can differ in inertia by
        // rounding alone).
        let mut best: Option<KMeans> = None;
        for run in runs {
            if best.as_ref().is_none_or(|b| {
                run.inertia < b.inertia && !same_partition(&run.labels, &b.labels, k)
            }) {
                best = Some(run);
            }
        }
        let mut best = best.expect("n_init ≥ 1");
        for mut row in best.centroids.rows_mut() {
            row.iter_mut().zip(&mean).for_each(|(c, m)| *c += m);
        }
        Ok(best)
    }
}

/// Candidates per k-means++ step: 2 + ⌊ln k⌋, as scikit-learn.
fn local_trials(k: usize) -> usize {
    2 + (k as f64).ln() as usize
}

/// One k-means++ seeding's random numbers: the first centre's row, then `local_trials`
/// uniforms in [0, 1) for each further centre.
pub(crate) struct Seeding {
    first: usize,
    uniforms: Vec<f64>,
}

impl Seeding {
    /// Takes a seeding's numbers from `source` in k-means++'s order.
    pub(crate) fn draw<S>(
        k: usize,
        source: &mut S,
        first: impl FnOnce(&mut S) -> usize,
        mut uniform: impl FnMut(&mut S) -> f64,
    ) -> Self {
        let first = first(source);
        let uniforms = (0..(k - 1) * local_trials(k))
            .map(|_| uniform(source))
            .collect();
        Seeding { first, uniforms }
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
fn same_partition(a: &Array1<usize>, b: &Array1<usize>, k: usize) -> bool {
    let mut mapping = vec![usize::MAX; k];
    a.iter().zip(b).all(|(&x, &y)| {
        if mapping[x] == usize::MAX {
            mapping[x] = y;
        }
        mapping[x] == y
    })
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

    fn empty(d: usize) -> Self {
        Centers {
            data: Vec::new(),
            k: 0,
            d,
            w: stride(d),
        }
    }

    fn push(&mut self, row: &[f64]) {
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

multiversion! {
    /// Squared distances of rows [start, end) to each candidate, written row by row into
    /// `out` (trials values per row), each capped by the row's current closest distance.
    fn candidate_distances(data: &Rows<'_>, start: usize, closest: &[f64], candidates: &Packed, t: usize, out: &mut [f64]) -> () {
        let mut dist = vec![0.0; candidates.slots()];
        for ((row, &old), slot) in data.rows(start, start + closest.len()).zip(closest).zip(out.chunks_exact_mut(t)) {
            candidates.distances(row, &mut dist);
            for (s, &v) in slot.iter_mut().zip(&dist) {
                *s = v.min(old);
            }
        }
    }
}

/// Greedy k-means++ as scikit-learn: each new centre is the best of 2 + ⌊ln k⌋ candidates
/// sampled proportionally to the squared distance to the nearest chosen centre. All
/// candidates of a step are scored in one pass over the data.
pub(crate) fn kmeans_plusplus(
    data: &Rows<'_>,
    k: usize,
    seeding: &Seeding,
    buffers: &mut Buffers,
) -> Centers {
    let trials = local_trials(k);
    let mut centers = Centers::empty(data.d);
    centers.push(data.row(seeding.first));
    let mut uniforms = seeding.uniforms.iter();
    let Buffers {
        closest,
        scratch,
        cumsum,
        ..
    } = buffers;
    closest.resize(data.n, 0.0);
    closest.fill(f64::INFINITY);
    scratch.resize(data.n * trials, 0.0);
    cumsum.resize(data.n, 0.0);
    let score = |closest: &[f64], cands: &Centers, scratch: &mut [f64]| -> Vec<f64> {
        let t = cands.k;
        let packed = Packed::new(&cands.data, t, cands.d, cands.w);
        let parts: Vec<Vec<f64>> = scratch
            .par_chunks_mut(CHUNK_ROWS * t)
            .zip(closest.par_chunks(CHUNK_ROWS))
            .enumerate()
            .map(|(c, (out, cl))| {
                candidate_distances(data, c * CHUNK_ROWS, cl, &packed, t, out);
                let mut pots = vec![0.0; t];
                for row in out.chunks_exact(t) {
                    pots.iter_mut().zip(row).for_each(|(p, v)| *p += v);
                }
                pots
            })
            .collect();
        combine(parts)
    };
    score(closest, &centers, &mut scratch[..data.n]);
    closest.copy_from_slice(&scratch[..data.n]);
    let mut potential = sum_ordered(closest);
    for _ in 1..k {
        // Cumulative sums in row order, as numpy's stable_cumsum.
        let mut acc = 0.0;
        for (c, &v) in cumsum.iter_mut().zip(closest.iter()) {
            acc += v;
            *c = acc;
        }
        let mut cands = Centers::empty(data.d);
        let mut ids = Vec::with_capacity(trials);
        for _ in 0..trials {
            let target = uniforms.next().expect("(k − 1) × trials draws") * potential;
            let id = cumsum.partition_point(|&c| c < target).min(data.n - 1);
            ids.push(id);
            cands.push(data.row(id));
        }
        let pots = score(closest, &cands, scratch);
        let best = (0..trials).fold(0, |b, c| if pots[c] < pots[b] { c } else { b });
        potential = pots[best];
        closest
            .par_iter_mut()
            .enumerate()
            .for_each(|(i, v)| *v = scratch[i * trials + best]);
        centers.push(data.row(ids[best]));
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
pub(crate) struct Partial {
    sums: Vec<f64>,
    counts: Vec<u64>,
    pub(crate) inertia: f64,
    changed: usize,
}

multiversion! {
    /// Assigns rows [start, start + labels.len()) to their nearest centre; accumulates
    /// per-cluster sums (when `accumulate`), counts, inertia and changed labels.
    fn assign_chunk(data: &Rows<'_>, packed: &Packed, k: usize, start: usize, labels: &mut [u32], accumulate: bool) -> Partial {
        let w = data.w;
        let mut p = Partial { sums: if accumulate { vec![0.0; k * w] } else { Vec::new() }, counts: vec![0; k], inertia: 0.0, changed: 0 };
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
        p
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
fn argmin2(dist: &[f64], k: usize) -> (usize, f64, f64) {
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

/// Relative safety margin on the bounds: rounding in the bound updates can never make a row
/// skip a centre that is in fact at least as close as its own.
const BOUND_SLACK: f64 = 1e-9;

/// How far each centre moved in the last update, for the bound updates.
struct Shifts {
    by_center: Vec<f64>,
    largest: (usize, f64),
    second: f64,
}

impl Shifts {
    fn between(old: &Centers, new: &Centers) -> Self {
        let by_center: Vec<f64> = (0..old.k)
            .map(|j| sq_dist(old.row(j), new.row(j)).sqrt())
            .collect();
        let (j, d1, d2) = argmin2(&by_center.iter().map(|v| -v).collect::<Vec<_>>(), old.k);
        Shifts {
            by_center,
            largest: (j, -d1),
            second: if d2.is_finite() { -d2 } else { 0.0 },
        }
    }

    /// The most any centre other than `a` moved.
    #[inline(always)]
    fn others(&self, a: usize) -> f64 {
        if a == self.largest.0 {
            self.second
        } else {
            self.largest.1
        }
    }
}

/// Per-row buffers of a fit, allocated once and reused by every restart (fresh allocations
/// of this size cost page faults on each restart).
#[derive(Default)]
pub(crate) struct Buffers {
    closest: Vec<f64>,
    scratch: Vec<f64>,
    cumsum: Vec<f64>,
    labels: Vec<u32>,
    /// Bounded assignment: `upper` ≥ distance to the row's centre, `lower` ≤ distance to
    /// every other centre.
    upper: Vec<f64>,
    lower: Vec<f64>,
}

/// What one bounded assignment pass reads.
#[derive(Clone, Copy)]
struct Pass<'a> {
    data: &'a Rows<'a>,
    centers: &'a Centers,
    packed: &'a Packed,
    half_gap: &'a [f64],
    shifts: Option<&'a Shifts>,
}

multiversion! {
    /// One bounded assignment pass over rows [start, start + labels.len()) (Hamerly's
    /// algorithm): a row whose bounds prove its centre is still strictly the nearest skips the
    /// distance computations; any other row gets exact distances to every centre, so labels
    /// are exactly Lloyd's. Accumulates per-cluster sums and counts.
    fn bounded_chunk(pass: &Pass<'_>, start: usize, labels: &mut [u32], upper: &mut [f64], lower: &mut [f64]) -> Partial {
        let Pass { data, centers, packed, half_gap, shifts } = *pass;
        let (k, w) = (centers.k, data.w);
        let mut p = Partial { sums: vec![0.0; k * w], counts: vec![0; k], inertia: 0.0, changed: 0 };
        let mut dist = vec![0.0; packed.slots()];
        let rows = data.rows(start, start + labels.len());
        for (((row, label), u), l) in rows.zip(labels.iter_mut()).zip(upper.iter_mut()).zip(lower.iter_mut()) {
            let mut j = *label as usize;
            let settled = match shifts {
                None => false,
                Some(shifts) => {
                    *u += shifts.by_center[j];
                    *l -= shifts.others(j);
                    let bound = half_gap[j].max(*l) * (1.0 - BOUND_SLACK);
                    *u < bound || {
                        *u = sq_dist(row, centers.row(j)).sqrt() * (1.0 + BOUND_SLACK);
                        *u < bound
                    }
                }
            };
            if !settled {
                packed.distances(row, &mut dist);
                let (best, d1, d2) = argmin2(&dist, k);
                if best != j {
                    p.changed += 1;
                    j = best;
                    *label = best as u32;
                }
                *u = d1.sqrt() * (1.0 + BOUND_SLACK);
                *l = d2.sqrt() * (1.0 - BOUND_SLACK);
            }
            p.counts[j] += 1;
            p.sums[j * w..(j + 1) * w].iter_mut().zip(row).for_each(|(s, v)| *s += v);
        }
        p
    }
}

/// Half the distance from each centre to its nearest other centre: a row closer than that
/// to its own centre cannot be closer to another.
fn half_gaps(centers: &Centers) -> Vec<f64> {
    (0..centers.k)
        .map(|a| {
            (0..centers.k)
                .filter(|&b| b != a)
                .map(|b| sq_dist(centers.row(a), centers.row(b)).sqrt())
                .fold(f64::INFINITY, f64::min)
                / 2.0
        })
        .collect()
}

/// Lloyd iterations from `centers` (scikit-learn's `_kmeans_single_lloyd`): each iteration
/// assigns every row to its nearest centre and moves each centre to the exact mean of its
/// members, recomputed from scratch; the assignment skips distance computations that bounds
/// prove unnecessary.
fn lloyd(
    data: &Rows<'_>,
    mut centers: Centers,
    max_iter: usize,
    tol: f64,
    buffers: &mut Buffers,
) -> KMeans {
    let Buffers {
        labels,
        upper,
        lower,
        ..
    } = buffers;
    // Every row is labelled by the first pass; the bounds are set there too.
    labels.resize(data.n, 0);
    labels.fill(0);
    upper.resize(data.n, 0.0);
    lower.resize(data.n, 0.0);
    let mut shifts: Option<Shifts> = None;
    let mut n_iter = 0;
    let mut strict = false;
    for iter in 0..max_iter {
        n_iter = iter + 1;
        let packed = Packed::new(&centers.data, centers.k, centers.d, centers.w);
        let gaps = half_gaps(&centers);
        let pass = Pass {
            data,
            centers: &centers,
            packed: &packed,
            half_gap: &gaps,
            shifts: shifts.as_ref(),
        };
        let parts: Vec<Partial> = labels
            .par_chunks_mut(CHUNK_ROWS)
            .zip(upper.par_chunks_mut(CHUNK_ROWS))
            .zip(lower.par_chunks_mut(CHUNK_ROWS))
            .enumerate()
            .map(|(c, ((lab, u), l))| bounded_chunk(&pass, c * CHUNK_ROWS, lab, u, l))
            .collect();
        let p = combine_partials(parts);
        let mut new = Centers {
            data: p.sums,
            ..centers.clone()
        };
        let mut counts = p.counts;
        relocate_empty(data, &centers, labels, &mut new, &mut counts);
        for (sum, &n_j) in new.data.chunks_exact_mut(centers.w).zip(&counts) {
            sum.iter_mut().for_each(|v| *v /= n_j as f64);
        }
        // The first pass labels every row from scratch, so "no label changed" only counts
        // from the second pass on (scikit-learn starts from labels that match nothing).
        if iter > 0 && p.changed == 0 {
            // Same partition, same sums in the same order: the new centres are bit-identical.
            strict = true;
            centers = new;
            break;
        }
        let shift: f64 = (0..centers.k)
            .map(|j| sq_dist(new.row(j), centers.row(j)))
            .sum();
        shifts = Some(Shifts::between(&centers, &new));
        centers = new;
        if shift <= tol {
            break;
        }
    }
    // Labels must match the final centres: unchanged when strictly converged, else one more
    // exact assignment. Either way the inertia is the exact sum of squared distances.
    let inertia = if strict {
        inertia(data, &centers, labels)
    } else {
        assign(data, &centers, labels, false).inertia
    };
    KMeans {
        centroids: centers.to_array(),
        labels: labels.iter().map(|&l| l as usize).collect(),
        inertia,
        n_iter,
        converged: n_iter < max_iter || strict,
    }
}

fn combine_partials(parts: Vec<Partial>) -> Partial {
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
    let w = data.w;
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
        sums.data[from * w..(from + 1) * w]
            .iter_mut()
            .zip(row)
            .for_each(|(s, v)| *s -= v);
        sums.data[j * w..(j + 1) * w].copy_from_slice(row);
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
}
