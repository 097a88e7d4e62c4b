//! Ward agglomerative clustering cut at K clusters, as scikit-learn's
//! `AgglomerativeClustering(linkage="ward")`: the full merge tree by the nearest-neighbour
//! chain (Ward's criterion is reducible, so the chain finds the same merges as the greedy
//! algorithm), then the n − K lowest merges applied.
//!
//! Memory stays O(n·d): cluster centroids and sizes replace the distance matrix, and each
//! nearest-neighbour query scans the active clusters.

use ndarray::ArrayView2;

use crate::kernel::{Rows, sq_dist};
use crate::{ClusterError, Result, check_finite};

/// The version of this algorithm's results, part of the algorithm version of every stage that
/// runs it (`segflow_core::stage::compose_version`): bump it with any change to its labels, and
/// say what changed in CHANGELOG.md.
pub const VERSION: u32 = 1;

/// Ward's merge cost between clusters of sizes `na`, `nb` whose centroids lie `d2` apart
/// (squared): the increase in within-cluster sum of squares.
fn cost(na: f64, nb: f64, d2: f64) -> f64 {
    na * nb / (na + nb) * d2
}

/// Labels 0..k of each row (in order of each cluster's first row).
pub fn ward(x: ArrayView2<'_, f64>, k: usize) -> Result<Vec<usize>> {
    check_finite(&x)?;
    let data = Rows::new(&x);
    let n = data.n;
    if k == 0 || k > n {
        return Err(ClusterError::InvalidInput(format!(
            "Ward needs 1 ≤ K ≤ n (K = {k}, n = {n})"
        )));
    }
    let merges = merge_tree(&data);
    let mut parent = cut(&merges, n, k);
    Ok(first_seen_labels(&mut parent, n))
}

/// One merge of the tree: the two slots merged and Ward's cost of merging them. The m-th
/// merge creates slot n + m.
struct Merge {
    a: usize,
    b: usize,
    cost: f64,
}

/// The clusters while the tree is built. Slots 0..n are the rows; each merge adds a slot.
struct Clusters {
    w: usize,
    centroid: Vec<f64>,
    size: Vec<f64>,
    active: Vec<usize>,
}

impl Clusters {
    fn singletons(data: &Rows<'_>) -> Self {
        let (n, w) = (data.n, data.w);
        let mut centroid: Vec<f64> = Vec::with_capacity(2 * n * w);
        for i in 0..n {
            centroid.extend_from_slice(data.row(i));
        }
        Clusters {
            w,
            centroid,
            size: vec![1.0; n],
            active: (0..n).collect(),
        }
    }

    fn centroid(&self, i: usize) -> &[f64] {
        &self.centroid[i * self.w..(i + 1) * self.w]
    }

    /// The active cluster cheapest to merge with `a`, and the cost.
    fn nearest(&self, a: usize, previous: Option<usize>) -> (f64, usize) {
        let ca = self.centroid(a);
        let mut best: Option<(f64, usize)> = None;
        for &b in &self.active {
            if b == a {
                continue;
            }
            let d = cost(self.size[a], self.size[b], sq_dist(ca, self.centroid(b)));
            // Ties favour the chain's previous cluster, so the chain cannot cycle.
            let better = match best {
                None => true,
                Some((bd, bb)) => {
                    d < bd || (d == bd && Some(b) == previous && Some(bb) != previous)
                }
            };
            if better {
                best = Some((d, b));
            }
        }
        best.expect("two active clusters")
    }

    /// Replaces `a` and `b` by their union in a new slot.
    fn merge(&mut self, a: usize, b: usize) {
        let slot = self.size.len();
        let (na, nb) = (self.size[a], self.size[b]);
        let merged: Vec<f64> = self
            .centroid(a)
            .iter()
            .zip(self.centroid(b))
            .map(|(p, q)| (na * p + nb * q) / (na + nb))
            .collect();
        self.centroid.extend_from_slice(&merged);
        self.size.push(na + nb);
        self.active.retain(|&c| c != a && c != b);
        self.active.push(slot);
    }
}

/// The full merge tree by the nearest-neighbour chain: a pair is merged when each is the
/// other's nearest cluster.
fn merge_tree(data: &Rows<'_>) -> Vec<Merge> {
    let mut clusters = Clusters::singletons(data);
    let mut merges: Vec<Merge> = Vec::with_capacity(data.n.saturating_sub(1));
    let mut chain: Vec<usize> = Vec::new();
    while clusters.active.len() > 1 {
        if chain.is_empty() {
            chain.push(clusters.active[0]);
        }
        let a = *chain.last().expect("non-empty");
        let previous = chain.len().checked_sub(2).map(|i| chain[i]);
        let (cost, b) = clusters.nearest(a, previous);
        if Some(b) == previous {
            chain.truncate(chain.len() - 2);
            clusters.merge(a, b);
            merges.push(Merge { a, b, cost });
        } else {
            chain.push(b);
        }
    }
    merges
}

/// Applies the lowest n − k merges (ties in the order the chain found them): the union-find
/// parent of every slot.
fn cut(merges: &[Merge], n: usize, k: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..merges.len()).collect();
    order.sort_by(|&i, &j| merges[i].cost.total_cmp(&merges[j].cost).then(i.cmp(&j)));
    let mut parent: Vec<usize> = (0..n + merges.len()).collect();
    for &m in order.iter().take(n - k) {
        let Merge { a, b, .. } = merges[m];
        let slot = n + m;
        let (ra, rb) = (root(&mut parent, a), root(&mut parent, b));
        parent[ra] = slot;
        parent[rb] = slot;
    }
    parent
}

fn root(parent: &mut [usize], mut i: usize) -> usize {
    while parent[i] != i {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    i
}

/// Each row's cluster numbered in order of the cluster's first row.
fn first_seen_labels(parent: &mut [usize], n: usize) -> Vec<usize> {
    let mut ids: Vec<Option<usize>> = vec![None; parent.len()];
    let mut next = 0;
    let mut labels = Vec::with_capacity(n);
    for i in 0..n {
        let r = root(parent, i);
        let id = *ids[r].get_or_insert_with(|| {
            next += 1;
            next - 1
        });
        labels.push(id);
    }
    labels
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_groups_come_apart() {
        let x = ndarray::array![
            [0.0, 0.0],
            [0.2, 0.1],
            [10.0, 10.0],
            [10.1, 9.9],
            [0.1, 0.3],
            [20.0, 0.0],
            [20.2, 0.1]
        ];
        assert_eq!(ward(x.view(), 3).unwrap(), [0, 0, 1, 1, 0, 2, 2]);
        assert_eq!(ward(x.view(), 1).unwrap(), [0; 7]);
        assert_eq!(ward(x.view(), 7).unwrap(), [0, 1, 2, 3, 4, 5, 6]);
    }
}
