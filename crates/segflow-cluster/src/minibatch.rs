//! Seeded mini-batch k-means for data too large for full Lloyd passes (n ≥ 10⁶), after
//! scikit-learn's `MiniBatchKMeans`: k-means++ on a random sample (best of `n_init` by the
//! sample's inertia), then centre updates from random mini-batches as running means, stopped
//! after `max_iter` epochs or when the smoothed batch inertia has not improved for
//! `max_no_improvement` batches. The final labels and inertia come from one exact pass over
//! all rows. scikit-learn's random reassignment of rarely chosen centres is not performed.

use linfa::dataset::DatasetBase;
use linfa::traits::Fit;
use ndarray::{ArrayBase, ArrayView2, Axis, Data, Ix2};

use crate::kernel::{Packed, Rows};
use crate::kmeans::{Buffers, Centers, KMeans, Seeding, assign, kmeans_plusplus};
use crate::rng::Rng;
use crate::{ClusterError, Result, check_finite};

#[derive(Debug, Clone, PartialEq)]
pub struct MiniBatchKMeansParams {
    pub n_clusters: usize,
    pub batch_size: usize,
    /// Passes over the data (in batches) at most.
    pub max_iter: usize,
    /// k-means++ initialisations tried on the sample.
    pub n_init: usize,
    pub max_no_improvement: usize,
    pub seed: u64,
}

impl MiniBatchKMeansParams {
    pub fn new(n_clusters: usize) -> Self {
        Self {
            n_clusters,
            batch_size: 1024,
            max_iter: 100,
            n_init: 3,
            max_no_improvement: 10,
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

    pub fn fit_array(&self, x: ArrayView2<'_, f64>) -> Result<KMeans> {
        check_finite(&x)?;
        let n = x.nrows();
        self.check(n)?;
        let data = Rows::new(&x);
        // One stream for the sample and then every batch, in that order.
        let mut rng = Rng::new(self.seed, 0);
        let batch = self.batch_size.min(n);
        let mut centers = self.initial_centers(&x, batch, &mut rng);
        let steps = (self.max_iter * n) / batch;
        let stopped_early = self.refine(&data, &mut centers, batch, steps, &mut rng);

        let mut labels = vec![0u32; n];
        let p = assign(&data, &centers, &mut labels, false);
        Ok(KMeans {
            centroids: centers.to_array(),
            labels: labels.into_iter().map(|l| l as usize).collect(),
            inertia: p.inertia,
            n_iter: steps,
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
        Ok(())
    }

    /// k-means++ on a sample drawn from `rng`; the sample's inertia picks the best of the
    /// `n_init` runs.
    fn initial_centers(&self, x: &ArrayView2<'_, f64>, batch: usize, rng: &mut Rng) -> Centers {
        let (n, k) = (x.nrows(), self.n_clusters);
        let init_size = (3 * batch).max(3 * k).min(n);
        let sample_idx: Vec<usize> = (0..init_size).map(|_| rng.below(n)).collect();
        let sample = x.select(Axis(0), &sample_idx);
        let sample_view = sample.view();
        let sample_rows = Rows::new(&sample_view);
        let mut best: Option<(f64, Centers)> = None;
        let mut buffers = Buffers::default();
        for init in 0..self.n_init {
            let mut init_rng = Rng::new(self.seed, 1 + init as u64);
            let seeding = Seeding::draw(k, &mut init_rng, |r| r.below(init_size), Rng::uniform);
            let centers = kmeans_plusplus(&sample_rows, k, &seeding, &mut buffers);
            let mut labels = vec![0u32; init_size];
            let inertia = assign(&sample_rows, &centers, &mut labels, false).inertia;
            if best.as_ref().is_none_or(|b| inertia < b.0) {
                best = Some((inertia, centers));
            }
        }
        best.expect("n_init ≥ 1").1
    }

    /// Up to `steps` mini-batch updates of `centers`; true when stopped early because the
    /// smoothed batch inertia stopped improving.
    fn refine(
        &self,
        data: &Rows<'_>,
        centers: &mut Centers,
        batch: usize,
        steps: usize,
        rng: &mut Rng,
    ) -> bool {
        let k = self.n_clusters;
        let mut weights = vec![0.0f64; k];
        let mut plateau = Plateau::new(batch, data.n, self.max_no_improvement);
        let mut dist = Vec::new();
        for _ in 0..steps {
            let (sums, counts, inertia) = draw_batch(data, centers, batch, rng, &mut dist);
            update_running_means(centers, &mut weights, &sums, &counts);
            if plateau.reached(inertia / batch as f64) {
                return true;
            }
        }
        false
    }
}

/// Assigns `batch` rows drawn from `rng` to their nearest centre: per centre the sum of its
/// rows and their count, and the batch's total squared distance.
fn draw_batch(
    data: &Rows<'_>,
    centers: &Centers,
    batch: usize,
    rng: &mut Rng,
    dist: &mut Vec<f64>,
) -> (Vec<f64>, Vec<u64>, f64) {
    let (k, w) = (centers.k, data.w);
    let packed = Packed::new(&centers.data, k, centers.d, w);
    dist.resize(packed.slots(), 0.0);
    let mut sums = vec![0.0; k * w];
    let mut counts = vec![0u64; k];
    let mut inertia = 0.0;
    for _ in 0..batch {
        let row = data.row(rng.below(data.n));
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

/// Early stopping as scikit-learn's: the mean batch inertia, exponentially smoothed, has not
/// reached a new minimum for `patience` batches.
struct Plateau {
    alpha: f64,
    smoothed: Option<f64>,
    min: f64,
    no_improvement: usize,
    patience: usize,
}

impl Plateau {
    fn new(batch: usize, n: usize, patience: usize) -> Self {
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
            false
        } else {
            self.no_improvement += 1;
            self.no_improvement >= self.patience
        }
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
}
