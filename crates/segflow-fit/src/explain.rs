//! Why a row sits in its segment rather than the next-nearest one: the squared-distance
//! margin d²(runner-up) − d²(own) = Σ_j [(x_j − r_j)² − (x_j − o_j)²] split into one term per
//! matrix column, and the columns summed per feature (a one-hot encoded feature or a missing
//! indicator spans several columns), so the terms of a row add up to its margin.

use ndarray::{ArrayView1, ArrayView2};

/// One row's explanation.
#[derive(Debug, Clone, PartialEq)]
pub struct Explained {
    /// The nearest centroid other than the row's own.
    pub runner_up: usize,
    /// d²(runner-up) − d²(own), in matrix space.
    pub margin: f64,
    /// Per feature: its share of the margin; positive pulls towards the own segment.
    pub contributions: Vec<f64>,
}

/// Per row: the explanation of its segment `labels[i]` against the runner-up, or `None` for a
/// row in no segment (DBSCAN noise) or a model of one segment. `groups[j]` is the feature of
/// matrix column j, below `n_features`.
pub fn explain(
    x: ArrayView2<'_, f64>,
    centroids: ArrayView2<'_, f64>,
    labels: &[Option<usize>],
    groups: &[usize],
    n_features: usize,
) -> Vec<Option<Explained>> {
    x.rows()
        .into_iter()
        .zip(labels)
        .map(|(row, label)| {
            let own = (*label)?;
            let runner_up = runner_up(row, centroids, own)?;
            let (o, r) = (centroids.row(own), centroids.row(runner_up));
            let mut contributions = vec![0.0; n_features];
            let (mut d_own, mut d_runner_up) = (0.0, 0.0);
            for j in 0..row.len() {
                let (to_own, to_runner_up) = ((row[j] - o[j]).powi(2), (row[j] - r[j]).powi(2));
                contributions[groups[j]] += to_runner_up - to_own;
                d_own += to_own;
                d_runner_up += to_runner_up;
            }
            Some(Explained {
                runner_up,
                margin: d_runner_up - d_own,
                contributions,
            })
        })
        .collect()
}

/// The nearest centroid other than `own` (ties to the lower id); `None` with one centroid.
fn runner_up(
    row: ArrayView1<'_, f64>,
    centroids: ArrayView2<'_, f64>,
    own: usize,
) -> Option<usize> {
    let d2 = |c: usize| -> f64 {
        row.iter()
            .zip(centroids.row(c))
            .map(|(a, b)| (a - b) * (a - b))
            .sum()
    };
    (0..centroids.nrows())
        .filter(|&c| c != own)
        .map(|c| (c, d2(c)))
        .min_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)))
        .map(|(c, _)| c)
}

/// The `n` features pulling hardest towards the own segment: by decreasing contribution,
/// ties by feature order.
pub fn strongest(contributions: &[f64], n: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..contributions.len()).collect();
    order.sort_by(|&a, &b| {
        contributions[b]
            .total_cmp(&contributions[a])
            .then(a.cmp(&b))
    });
    order.truncate(n);
    order
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn contributions_add_up_to_the_margin_and_rank_by_pull() {
        let c = array![[0.0, 0.0, 0.0], [4.0, 1.0, 0.0], [10.0, 10.0, 10.0]];
        let x = array![[1.0, 0.0, 2.0]];
        let e = explain(x.view(), c.view(), &[Some(0)], &[0, 1, 1], 2);
        let e = e[0].as_ref().unwrap();
        assert_eq!(e.runner_up, 1);
        // d²(own) = 1 + 0 + 4 = 5, d²(runner-up) = 9 + 1 + 4 = 14.
        assert_eq!(e.margin, 9.0);
        assert_eq!(e.contributions, vec![8.0, 1.0]);
        assert_eq!(strongest(&e.contributions, 3), vec![0, 1]);
    }

    #[test]
    fn noise_and_single_segment_models_have_no_explanation() {
        let c = array![[0.0, 0.0]];
        let x = array![[1.0, 0.0], [2.0, 2.0]];
        let e = explain(x.view(), c.view(), &[Some(0), None], &[0, 1], 2);
        assert_eq!(e, vec![None, None]);
    }
}
