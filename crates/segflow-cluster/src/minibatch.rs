//! Seeded mini-batch k-means for data too large for full Lloyd passes (n ≥ 10⁶), with
//! scikit-learn's `MiniBatchKMeans` semantics: each of the `n_init` k-means++ seedings runs on
//! its own random sample of `init_size` rows and the one with the lowest inertia on a shared
//! validation sample wins; centres then move as running means of random mini-batches, drawn
//! with replacement; centres whose accumulated weight falls below `reassignment_ratio` times
//! the heaviest one's are moved to random rows of the batch (at every batch while some centre
//! has no weight, else once every 10·k rows); the fit stops after `max_iter` epochs or when
//! the smoothed mean batch inertia has not reached a new minimum for `max_no_improvement`
//! batches (the first batch, scored against the initial centres, is not counted). The final
//! labels and inertia come from one exact pass over all rows.
//!
//! Random numbers come from seeded xoshiro streams (`rng.rs`), not numpy's, so the result is
//! scikit-learn's algorithm but not its exact draws: the oracle compares inertia, not labels.

use linfa::dataset::DatasetBase;
use linfa::traits::Fit;
use ndarray::{ArrayBase, ArrayView2, Axis, Data, Ix2};
use serde::Deserialize;

use crate::kernel::{Packed, Rows};
use crate::kmeans::{Buffers, Centers, KMeans, Seeding, assign, kmeans_plusplus};
use crate::rng::Rng;
use crate::{ClusterError, Result, check_finite};

/// Version of mini-batch k-means' results; bump it with any change that alters them.
pub const VERSION: u32 = 2;

#[derive(Debug, Clone, PartialEq)]
pub struct MiniBatchKMeansParams {
    pub n_clusters: usize,
    pub batch_size: usize,
    /// Passes over the data (in batches) at most.
    pub max_iter: usize,
    /// k-means++ initialisations tried, each on its own sample.
    pub n_init: usize,
    /// Batches without a new minimum of the smoothed inertia before stopping; `None` never
    /// stops early.
    pub max_no_improvement: Option<usize>,
    /// Centres lighter than this fraction of the heaviest are moved to random batch rows;
    /// 0 turns reassignment off.
    pub reassignment_ratio: f64,
    pub seed: u64,
}

impl MiniBatchKMeansParams {
    /// scikit-learn's defaults (`batch_size` 1024, `max_iter` 100, `n_init` 3,
    /// `max_no_improvement` 10, `reassignment_ratio` 0.01).
    pub fn new(n_clusters: usize) -> Self {
        Self {
            n_clusters,
            batch_size: 1024,
            max_iter: 100,
            n_init: 3,
            max_no_improvement: Some(10),
            reassignment_ratio: 0.01,
            seed: 0,
        }
    }

    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    pub fn batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size;
        self
    }

    pub fn max_iter(mut self, max_iter: usize) -> Self {
        self.max_iter = max_iter;
        self
    }

    pub fn n_init(mut self, n_init: usize) -> Self {
        self.n_init = n_init;
        self
    }

    pub fn max_no_improvement(mut self, max_no_improvement: Option<usize>) -> Self {
        self.max_no_improvement = max_no_improvement;
        self
    }

    pub fn reassignment_ratio(mut self, reassignment_ratio: f64) -> Self {
        self.reassignment_ratio = reassignment_ratio;
        self
    }

    /// `n_iter` of the result is the number of batches processed; `converged` says whether
    /// the fit stopped early.
    pub fn fit_array(&self, x: ArrayView2<'_, f64>) -> Result<KMeans> {
        check_finite(&x)?;
        let n = x.nrows();
        self.check(n)?;
        let data = Rows::new(&x);
        // Stream 0 draws the validation sample, then every batch and reassignment, in that
        // order; each seeding has a stream of its own.
        let mut rng = Rng::new(self.seed, 0);
        let batch = self.batch_size.min(n);
        let mut centers = self.initial_centers(&x, batch, &mut rng);
        let steps = (self.max_iter * n) / batch;
        let (taken, stopped_early) = self.refine(&data, &mut centers, batch, steps, &mut rng);

        let mut labels = vec![0u32; n];
        let p = assign(&data, &centers, &mut labels, false);
        Ok(KMeans {
            centroids: centers.to_array(),
            labels: labels.into_iter().map(|l| l as usize).collect(),
            inertia: p.inertia,
            n_iter: taken,
            converged: stopped_early,
        })
    }

    fn check(&self, n: usize) -> Result<()> {
        let k = self.n_clusters;
        if k == 0 || k > n {
            return Err(ClusterError::InvalidParam(format!(
                "n_clusters = {k} must lie in 1..={n}"
            )));
        }
        if self.batch_size == 0 || self.max_iter == 0 || self.n_init == 0 {
            return Err(ClusterError::InvalidParam(
                "batch_size, max_iter and n_init must be at least 1".into(),
            ));
        }
        // Below 1 the heaviest centre is never reassigned, so some centre keeps its weight.
        if !(0.0..1.0).contains(&self.reassignment_ratio) {
            return Err(ClusterError::InvalidParam(format!(
                "reassignment_ratio = {} must lie in [0, 1)",
                self.reassignment_ratio
            )));
        }
        Ok(())
    }

    /// The best of `n_init` k-means++ seedings, each on its own sample of `init_size` rows,
    /// by inertia on a validation sample drawn first from `rng`.
    fn initial_centers(&self, x: &ArrayView2<'_, f64>, batch: usize, rng: &mut Rng) -> Centers {
        let (n, k) = (x.nrows(), self.n_clusters);
        let init_size = if 3 * batch < k { 3 * k } else { 3 * batch }.min(n);
        let sample_of = |rng: &mut Rng| {
            let idx: Vec<usize> = (0..init_size).map(|_| rng.below(n)).collect();
            x.select(Axis(0), &idx)
        };
        let validation = sample_of(rng);
        let validation_view = validation.view();
        let validation_rows = Rows::new(&validation_view);
        let mut best: Option<(f64, Centers)> = None;
        let mut buffers = Buffers::default();
        let mut labels = vec![0u32; init_size];
        for init in 0..self.n_init {
            let mut init_rng = Rng::new(self.seed, 1 + init as u64);
            let sample = sample_of(&mut init_rng);
            let sample_view = sample.view();
            let sample_rows = Rows::new(&sample_view);
            let seeding = Seeding::draw(k, &mut init_rng, |r| r.below(init_size), Rng::uniform);
            let centers = kmeans_plusplus(&sample_rows, k, &seeding, &mut buffers);
            let inertia = assign(&validation_rows, &centers, &mut labels, false).inertia;
            if best.as_ref().is_none_or(|b| inertia < b.0) {
                best = Some((inertia, centers));
            }
        }
        best.expect("n_init ≥ 1").1
    }

    /// Up to `steps` mini-batch updates of `centers`: the number of batches taken, and
    /// whether the fit stopped early because the smoothed batch inertia stopped improving.
    fn refine(
        &self,
        data: &Rows<'_>,
        centers: &mut Centers,
        batch: usize,
        steps: usize,
        rng: &mut Rng,
    ) -> (usize, bool) {
        let k = self.n_clusters;
        let mut weights = vec![0.0f64; k];
        let mut plateau = Plateau::new(batch, data.n, self.max_no_improvement);
        let mut since_reassign = 0usize;
        let mut dist = Vec::new();
        let mut rows = Vec::with_capacity(batch);
        for step in 0..steps {
            // Decided before the batch, on the weights so far, as scikit-learn does.
            since_reassign += batch;
            let reassign = weights.contains(&0.0) || since_reassign >= 10 * k;
            if reassign {
                since_reassign = 0;
            }
            rows.clear();
            rows.extend((0..batch).map(|_| rng.below(data.n)));
            let (sums, counts, inertia) = batch_sums(data, centers, &rows, &mut dist);
            update_running_means(centers, &mut weights, &sums, &counts);
            if reassign && self.reassignment_ratio > 0.0 {
                reassign_light_centers(
                    data,
                    centers,
                    &mut weights,
                    &rows,
                    self.reassignment_ratio,
                    rng,
                );
            }
            if step > 0 && plateau.reached(inertia / batch as f64) {
                return (step + 1, true);
            }
        }
        (steps, false)
    }
}

/// Assigns the batch's `rows` to their nearest centre: per centre the sum of its rows and
/// their count, and the batch's total squared distance.
fn batch_sums(
    data: &Rows<'_>,
    centers: &Centers,
    rows: &[usize],
    dist: &mut Vec<f64>,
) -> (Vec<f64>, Vec<u64>, f64) {
    let (k, w) = (centers.k, data.w);
    let packed = Packed::new(&centers.data, k, centers.d, w);
    dist.resize(packed.slots(), 0.0);
    let mut sums = vec![0.0; k * w];
    let mut counts = vec![0u64; k];
    let mut inertia = 0.0;
    for &i in rows {
        let row = data.row(i);
        packed.distances(row, dist);
        let (j, d) =
            dist[..k].iter().enumerate().fold(
                (0, f64::INFINITY),
                |b, (j, &v)| if v < b.1 { (j, v) } else { b },
            );
        inertia += d;
        counts[j] += 1;
        sums[j * w..(j + 1) * w]
            .iter_mut()
            .zip(row)
            .for_each(|(s, v)| *s += v);
    }
    (sums, counts, inertia)
}

/// Running means: each centre is the mean of every row ever assigned to it, `weights` the
/// number of those rows.
fn update_running_means(centers: &mut Centers, weights: &mut [f64], sums: &[f64], counts: &[u64]) {
    let w = centers.w;
    for j in (0..centers.k).filter(|&j| counts[j] > 0) {
        let total = weights[j] + counts[j] as f64;
        for t in 0..w {
            let c = &mut centers.data[j * w + t];
            *c = (*c * weights[j] + sums[j * w + t]) / total;
        }
        weights[j] = total;
    }
}

/// scikit-learn's random reassignment: centres lighter than `ratio` × the heaviest (at most
/// half a batch of them, the lightest, ties by index) move to distinct rows of the batch drawn
/// uniformly, and take the lightest remaining weight so they are not reassigned at once.
fn reassign_light_centers(
    data: &Rows<'_>,
    centers: &mut Centers,
    weights: &mut [f64],
    rows: &[usize],
    ratio: f64,
    rng: &mut Rng,
) {
    let heaviest = weights.iter().copied().fold(0.0, f64::max);
    let mut light: Vec<usize> = (0..centers.k)
        .filter(|&j| weights[j] < ratio * heaviest)
        .collect();
    if light.is_empty() {
        return;
    }
    light.sort_by(|&a, &b| weights[a].total_cmp(&weights[b]).then(a.cmp(&b)));
    light.truncate(rows.len() / 2);
    light.sort_unstable();
    let kept_min = (0..centers.k)
        .filter(|j| light.binary_search(j).is_err())
        .map(|j| weights[j])
        .fold(f64::INFINITY, f64::min);
    // A partial Fisher–Yates shuffle of the batch positions: distinct rows, uniformly.
    let mut positions: Vec<usize> = (0..rows.len()).collect();
    let w = centers.w;
    for (m, &j) in light.iter().enumerate() {
        let pick = m + rng.below(rows.len() - m);
        positions.swap(m, pick);
        let row = data.row(rows[positions[m]]);
        centers.data[j * w..(j + 1) * w].copy_from_slice(row);
        weights[j] = kept_min;
    }
}

/// Early stopping as scikit-learn's: the mean batch inertia, exponentially smoothed, has not
/// reached a new minimum for `patience` batches.
struct Plateau {
    alpha: f64,
    smoothed: Option<f64>,
    min: f64,
    no_improvement: usize,
    patience: Option<usize>,
}

impl Plateau {
    fn new(batch: usize, n: usize, patience: Option<usize>) -> Self {
        Self {
            alpha: (batch as f64 * 2.0 / (n as f64 + 1.0)).min(1.0),
            smoothed: None,
            min: f64::INFINITY,
            no_improvement: 0,
            patience,
        }
    }

    /// Takes one batch's mean inertia; true once the patience is spent.
    fn reached(&mut self, batch_inertia: f64) -> bool {
        let smoothed = match self.smoothed {
            None => batch_inertia,
            Some(prev) => prev * (1.0 - self.alpha) + batch_inertia * self.alpha,
        };
        self.smoothed = Some(smoothed);
        if smoothed < self.min {
            self.min = smoothed;
            self.no_improvement = 0;
        } else {
            self.no_improvement += 1;
        }
        self.patience.is_some_and(|p| self.no_improvement >= p)
    }
}

/// Mini-batch k-means' settings as pipelines write them (`minibatch: {batch_size: 4096}`),
/// scikit-learn's defaults; `max_no_improvement: null` never stops early.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MiniBatchSpec {
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    #[serde(default = "default_max_iter")]
    pub max_iter: usize,
    #[serde(default = "default_n_init")]
    pub n_init: usize,
    #[serde(default = "default_max_no_improvement")]
    pub max_no_improvement: Option<usize>,
    #[serde(default = "default_reassignment_ratio")]
    pub reassignment_ratio: f64,
}

impl Default for MiniBatchSpec {
    fn default() -> Self {
        let p = MiniBatchKMeansParams::new(1);
        Self {
            batch_size: p.batch_size,
            max_iter: p.max_iter,
            n_init: p.n_init,
            max_no_improvement: p.max_no_improvement,
            reassignment_ratio: p.reassignment_ratio,
        }
    }
}

fn default_batch_size() -> usize {
    MiniBatchSpec::default().batch_size
}
fn default_max_iter() -> usize {
    MiniBatchSpec::default().max_iter
}
fn default_n_init() -> usize {
    MiniBatchSpec::default().n_init
}
fn default_max_no_improvement() -> Option<usize> {
    MiniBatchSpec::default().max_no_improvement
}
fn default_reassignment_ratio() -> f64 {
    MiniBatchSpec::default().reassignment_ratio
}

impl MiniBatchSpec {
    pub fn params(&self, n_clusters: usize, seed: u64) -> MiniBatchKMeansParams {
        MiniBatchKMeansParams {
            n_clusters,
            batch_size: self.batch_size,
            max_iter: self.max_iter,
            n_init: self.n_init,
            max_no_improvement: self.max_no_improvement,
            reassignment_ratio: self.reassignment_ratio,
            seed,
        }
    }

    /// What is wrong with a stage's `minibatch` settings, if anything: settings given for
    /// another algorithm, or out of range (for a config error on `minibatch`).
    pub fn check(settings: Option<&MiniBatchSpec>, chosen: bool) -> Option<String> {
        let settings = settings?;
        if !chosen {
            return Some("mini-batch settings need `algorithm: minibatch_kmeans`".into());
        }
        settings.problem()
    }

    /// What is wrong with these settings, if anything.
    fn problem(&self) -> Option<String> {
        if self.batch_size == 0 || self.max_iter == 0 || self.n_init == 0 {
            return Some("needs batch_size, max_iter and n_init ≥ 1".into());
        }
        if !(0.0..1.0).contains(&self.reassignment_ratio) {
            return Some(format!(
                "reassignment_ratio = {} must lie in [0, 1)",
                self.reassignment_ratio
            ));
        }
        None
    }
}

impl<D: Data<Elem = f64>, T> Fit<ArrayBase<D, Ix2>, T, ClusterError> for MiniBatchKMeansParams {
    type Object = KMeans;

    fn fit(&self, dataset: &DatasetBase<ArrayBase<D, Ix2>, T>) -> Result<KMeans> {
        self.fit_array(dataset.records.view())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::KMeansParams;
    use crate::metrics::adjusted_rand_index;

    fn blobs(n: usize) -> ndarray::Array2<f64> {
        let mut rng = Rng::new(3, 0);
        ndarray::Array2::from_shape_fn((n, 3), |(i, t)| {
            (i % 4) as f64 * 10.0 * (t + 1) as f64 + rng.uniform()
        })
    }

    #[test]
    fn recovers_separated_clusters_like_full_kmeans() {
        let x = blobs(20_000);
        let mini = MiniBatchKMeansParams::new(4)
            .seed(5)
            .fit_array(x.view())
            .unwrap();
        let full = KMeansParams::new(4)
            .n_init(3)
            .seed(5)
            .fit_array(x.view())
            .unwrap();
        assert_eq!(
            adjusted_rand_index(
                mini.labels.as_slice().unwrap(),
                full.labels.as_slice().unwrap()
            )
            .unwrap(),
            1.0
        );
        assert!(
            mini.inertia <= full.inertia * 1.01,
            "{} vs {}",
            mini.inertia,
            full.inertia
        );
        let again = MiniBatchKMeansParams::new(4)
            .seed(5)
            .fit_array(x.view())
            .unwrap();
        assert_eq!(again, mini, "same seed, same model");
    }

    #[test]
    fn light_centres_move_to_distinct_batch_rows_and_take_the_lightest_kept_weight() {
        let x = ndarray::Array2::from_shape_fn((6, 2), |(i, t)| (10 * i + t) as f64);
        let view = x.view();
        let data = Rows::new(&view);
        let mut centers = Centers::from_array(&ndarray::Array2::zeros((4, 2)));
        // Centres 1 and 3 weigh under 1 % of the heaviest (200).
        let mut weights = vec![200.0, 1.0, 50.0, 0.0];
        let rows = [0, 2, 4, 5];
        let mut rng = Rng::new(9, 0);
        reassign_light_centers(&data, &mut centers, &mut weights, &rows, 0.01, &mut rng);
        assert_eq!(weights, [200.0, 50.0, 50.0, 50.0]);
        let moved: Vec<Vec<f64>> = [1, 3]
            .iter()
            .map(|&j| centers.row(j)[..2].to_vec())
            .collect();
        assert_ne!(moved[0], moved[1], "distinct rows");
        for c in &moved {
            assert!(rows.iter().any(|&i| x.row(i).to_vec() == *c), "{c:?}");
        }
        assert_eq!(centers.row(0)[..2], [0.0, 0.0], "heavy centres stay");
        assert_eq!(centers.row(2)[..2], [0.0, 0.0]);
    }

    #[test]
    fn at_most_half_a_batch_of_centres_is_reassigned_the_lightest_first() {
        let x = ndarray::Array2::from_shape_fn((4, 1), |(i, _)| 1.0 + i as f64);
        let view = x.view();
        let data = Rows::new(&view);
        let mut centers = Centers::from_array(&ndarray::Array2::zeros((4, 1)));
        let mut weights = vec![1000.0, 0.5, 0.0, 0.2];
        let mut rng = Rng::new(1, 0);
        reassign_light_centers(&data, &mut centers, &mut weights, &[0, 1], 0.01, &mut rng);
        assert_eq!(weights, [1000.0, 0.5, 0.2, 0.2]);
        assert_ne!(centers.row(2)[0], 0.0);
        assert_eq!((centers.row(1)[0], centers.row(3)[0]), (0.0, 0.0));
    }
}
