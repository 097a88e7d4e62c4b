//! The clusterings fit can run, brought to one shape: canonical ids (largest cluster first,
//! ties by centroid order), noise as `None`, each cluster's centroid (the mean of its members;
//! mini-batch k-means keeps its running-mean centres, as scikit-learn), and every row's
//! distance to its own centroid and margin to the next nearest.

use ndarray::{Array2, ArrayView2, Axis};

use segflow_cluster::{DbscanParams, Gmm, KMeans, KMeansParams, nearest, ward};

use crate::params::{Algorithm, Params};

pub struct Clustered {
    pub k: usize,
    /// Canonical cluster of each row; `None` is DBSCAN noise.
    pub labels: Vec<Option<usize>>,
    /// k × columns, canonical order.
    pub centroids: Array2<f64>,
    /// Distance to the row's own centroid (noise: to the nearest centroid).
    pub distance: Vec<f64>,
    /// Distance to the nearest other centroid minus `distance` (noise: NaN).
    pub margin: Vec<f64>,
    /// Within-cluster sum of squared distances to the centroids (noise left out).
    pub inertia: f64,
    /// k-means only: Lloyd iterations and convergence of the kept restart.
    pub iterations: Option<(usize, bool)>,
    /// DBSCAN only: the rows that are core points.
    pub core: Vec<usize>,
    /// Gaussian mixture only: the model, components in canonical order, and each row's
    /// posterior probability of its segment.
    pub mixture: Option<(Gmm, Vec<f64>)>,
}

impl Clustered {
    /// Members per cluster.
    pub fn sizes(&self) -> Vec<usize> {
        sizes_of(&self.labels, self.k)
    }

    /// Rows in no cluster.
    pub fn noise(&self) -> usize {
        self.labels.iter().filter(|l| l.is_none()).count()
    }
}

/// The permutation that makes cluster ids canonical: decreasing size, ties by lexicographic
/// centroid order. `order[new] = old`.
pub fn canonical_order(sizes: &[usize], centroids: &Array2<f64>) -> Vec<usize> {
    let mut order: Vec<usize> = (0..sizes.len()).collect();
    order.sort_by(|&a, &b| {
        sizes[b].cmp(&sizes[a]).then_with(|| {
            centroids
                .row(a)
                .iter()
                .zip(centroids.row(b))
                .map(|(x, y)| x.total_cmp(y))
                .find(|o| o.is_ne())
                .unwrap_or(std::cmp::Ordering::Equal)
        })
    });
    order
}

fn sizes_of(labels: &[Option<usize>], k: usize) -> Vec<usize> {
    let mut sizes = vec![0usize; k];
    labels.iter().flatten().for_each(|&l| sizes[l] += 1);
    sizes
}

/// Members' means of each cluster.
fn means(x: ArrayView2<'_, f64>, labels: &[Option<usize>], k: usize) -> Array2<f64> {
    let mut sums = Array2::zeros((k, x.ncols()));
    let sizes = sizes_of(labels, k);
    for (row, l) in x.rows().into_iter().zip(labels) {
        if let Some(l) = l {
            let mut s = sums.row_mut(*l);
            s += &row;
        }
    }
    for (mut s, &n) in sums.rows_mut().into_iter().zip(&sizes) {
        s /= n as f64;
    }
    sums
}

/// Relabels `raw` canonically and measures every row against the canonical centroids.
fn canonical(x: ArrayView2<'_, f64>, raw: Vec<Option<usize>>, k: usize) -> Clustered {
    let raw_centroids = means(x, &raw, k);
    let order = canonical_order(&sizes_of(&raw, k), &raw_centroids);
    let mut new_id = vec![0usize; k];
    for (new, &old) in order.iter().enumerate() {
        new_id[old] = new;
    }
    let labels: Vec<Option<usize>> = raw.iter().map(|l| l.map(|l| new_id[l])).collect();
    let centroids = raw_centroids.select(Axis(0), &order);
    let near = nearest(x, centroids.view());
    let d = segflow_cluster::distances(x, centroids.view());
    let mut distance = Vec::with_capacity(labels.len());
    let mut margin = Vec::with_capacity(labels.len());
    let mut inertia = 0.0;
    for (i, l) in labels.iter().enumerate() {
        match l {
            Some(c) => {
                let own = d[[i, *c]];
                let other = (0..k)
                    .filter(|&j| j != *c)
                    .map(|j| d[[i, j]])
                    .fold(f64::INFINITY, f64::min);
                inertia += own * own;
                distance.push(own);
                margin.push(other - own);
            }
            None => {
                distance.push(near.distance[i]);
                margin.push(f64::NAN);
            }
        }
    }
    Clustered {
        k,
        labels,
        centroids,
        distance,
        margin,
        inertia,
        iterations: None,
        core: Vec::new(),
        mixture: None,
    }
}

pub fn cluster(
    params: &Params,
    x: ArrayView2<'_, f64>,
    k: usize,
    seed: u64,
) -> segflow_cluster::Result<Clustered> {
    match params.algorithm {
        Algorithm::Kmeans => {
            let model = KMeansParams::new(k)
                .n_init(params.n_init)
                .max_iter(params.max_iter)
                .tol(params.tol)
                .seed(seed)
                .fit_array(x)?;
            Ok(centred(x, model, k))
        }
        Algorithm::MinibatchKmeans => {
            let spec = params.minibatch.clone().unwrap_or_default();
            Ok(centred(x, spec.params(k, seed).fit_array(x)?, k))
        }
        Algorithm::Ward => Ok(canonical(x, ward(x, k)?.into_iter().map(Some).collect(), k)),
        Algorithm::Gmm => mixture(params, x, k, seed),
        Algorithm::Dbscan => {
            let spec = params.dbscan.clone().unwrap_or_default();
            let model = DbscanParams::new(spec.eps, spec.min_samples).fit_array(x)?;
            let mut out = canonical(x, model.labels, model.n_clusters);
            out.core = (0..model.core.len()).filter(|&i| model.core[i]).collect();
            Ok(out)
        }
    }
}

/// A centroid model (k-means or mini-batch) in canonical order, rows labelled by their
/// nearest centroid.
fn centred(x: ArrayView2<'_, f64>, model: KMeans, k: usize) -> Clustered {
    let mut sizes = vec![0usize; k];
    model.labels.iter().for_each(|&l| sizes[l] += 1);
    let order = canonical_order(&sizes, &model.centroids);
    let centroids = model.centroids.select(Axis(0), &order);
    // Labels come from the same nearest-centroid arithmetic that scores new rows.
    let near = nearest(x, centroids.view());
    Clustered {
        k,
        labels: near.labels.iter().map(|&l| Some(l)).collect(),
        centroids,
        distance: near.distance,
        margin: near.margin,
        inertia: model.inertia,
        iterations: Some((model.n_iter, model.converged)),
        core: Vec::new(),
        mixture: None,
    }
}

fn mixture(
    params: &Params,
    x: ArrayView2<'_, f64>,
    k: usize,
    seed: u64,
) -> segflow_cluster::Result<Clustered> {
    let spec = params.gmm.clone().unwrap_or_default();
    let mut model = spec.params(k, seed).fit_array(x)?;
    let raw = model.predict(x);
    let mut out = canonical(x, raw.iter().map(|&l| Some(l)).collect(), k);
    // Put the components in the segments' canonical order, so scoring new rows returns
    // segment ids directly.
    let mut order = vec![0usize; k];
    for (&r, l) in raw.iter().zip(&out.labels) {
        order[l.expect("every row has a component")] = r;
    }
    model.weights = model.weights.select(Axis(0), &order);
    model.means = model.means.select(Axis(0), &order);
    model.precision_cholesky = order
        .iter()
        .map(|&c| model.precision_cholesky[c].clone())
        .collect();
    let proba = model.predict_proba(x);
    let probability = out
        .labels
        .iter()
        .enumerate()
        .map(|(i, l)| proba[[i, l.expect("assigned")]])
        .collect();
    out.iterations = Some((model.n_iter, model.converged));
    out.mixture = Some((model, probability));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_ids_run_by_size_then_centroid_order() {
        let centroids = ndarray::array![[5.0, 0.0], [1.0, 2.0], [1.0, 1.0], [9.0, 9.0]];
        // Sizes 2, 1, 1, 3: the largest first, then 0, then the two singletons by centroid.
        assert_eq!(canonical_order(&[2, 1, 1, 3], &centroids), [3, 0, 2, 1]);
    }
}
