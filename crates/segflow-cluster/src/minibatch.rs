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
use crate::kmeans::{Buffers, Centers, KMeans, assign, kmeans_plusplus};
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
        let data = Rows::new(&x);
        let mut rng = Rng::new(self.seed, 0);
        let batch = self.batch_size.min(n);

        // Initialisation on a sample; the sample's inertia picks the best k-means++ run.
        let init_size = (3 * batch).max(3 * k).min(n);
        let sample_idx: Vec<usize> = (0..init_size).map(|_| rng.below(n)).collect();
        let sample = x.select(Axis(0), &sample_idx);
        let sample_view = sample.view();
        let sample_rows = Rows::new(&sample_view);
        let mut best: Option<(f64, Centers)> = None;
        let mut buffers = Buffers::default();
        for init in 0..self.n_init {
            let mut init_rng = Rng::new(self.seed, 1 + init as u64);
            let centers = kmeans_plusplus(&sample_rows, k, &mut init_rng, &mut buffers);
            let mut labels = vec![0u32; init_size];
            let inertia = assign(&sample_rows, &centers, &mut labels, false).inertia;
            if best.as_ref().is_none_or(|b| inertia < b.0) {
                best = Some((inertia, centers));
            }
        }
        let mut centers = best.expect("n_init ≥ 1").1;

        let w = data.w;
        let mut weights = vec![0.0f64; k];
        let steps = (self.max_iter * n) / batch;
        let alpha = (batch as f64 * 2.0 / (n as f64 + 1.0)).min(1.0);
        let (mut ewa, mut ewa_min, mut no_improvement) = (None::<f64>, f64::INFINITY, 0);
        let mut dist = Vec::new();
        let mut stopped_early = false;
        for _ in 0..steps {
            let packed = Packed::new(&centers.data, k, centers.d, w);
            dist.resize(packed.slots(), 0.0);
            let mut sums = vec![0.0; k * w];
            let mut counts = vec![0u64; k];
            let mut batch_inertia = 0.0;
            for _ in 0..batch {
                let row = data.row(rng.below(n));
                packed.distances(row, &mut dist);
                let (j, d) = dist[..k]
                    .iter()
                    .enumerate()
                    .fold(
                        (0, f64::INFINITY),
                        |b, (j, &v)| if v < b.1 { (j, v) } else { b },
                    );
                batch_inertia += d;
                counts[j] += 1;
                sums[j * w..(j + 1) * w]
                    .iter_mut()
                    .zip(row)
                    .for_each(|(s, v)| *s += v);
            }
            // Running means: each centre is the mean of every row ever assigned to it.
            for j in (0..k).filter(|&j| counts[j] > 0) {
                let total = weights[j] + counts[j] as f64;
                for t in 0..w {
                    let c = &mut centers.data[j * w + t];
                    *c = (*c * weights[j] + sums[j * w + t]) / total;
                }
                weights[j] = total;
            }
            let batch_inertia = batch_inertia / batch as f64;
            let smoothed = match ewa {
                None => batch_inertia,
                Some(prev) => prev * (1.0 - alpha) + batch_inertia * alpha,
            };
            ewa = Some(smoothed);
            if smoothed < ewa_min {
                ewa_min = smoothed;
                no_improvement = 0;
            } else {
                no_improvement += 1;
                if no_improvement >= self.max_no_improvement {
                    stopped_early = true;
                    break;
                }
            }
        }

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
