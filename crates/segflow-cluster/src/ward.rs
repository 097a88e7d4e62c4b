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
    let w = data.w;
    // Slots 0..n are the rows; each merge adds a slot.
    let mut centroid: Vec<f64> = Vec::with_capacity(2 * n * w);
    for i in 0..n {
        centroid.extend_from_slice(data.row(i));
    }
    let mut size: Vec<f64> = vec![1.0; n];
    let mut active: Vec<usize> = (0..n).collect();
    let mut merges: Vec<(usize, usize, f64)> = Vec::with_capacity(n.saturating_sub(1));
    let mut chain: Vec<usize> = Vec::new();
    let row = |c: &[f64], i: usize| c[i * w..(i + 1) * w].to_vec();
    while active.len() > 1 {
        if chain.is_empty() {
            chain.push(active[0]);
        }
        let a = *chain.last().expect("non-empty");
        let previous = chain.len().checked_sub(2).map(|i| chain[i]);
        let ca = row(&centroid, a);
        let mut best: Option<(f64, usize)> = None;
        for &b in &active {
            if b == a {
                continue;
            }
            let d = cost(
                size[a],
                size[b],
                sq_dist(&ca, &centroid[b * w..(b + 1) * w]),
            );
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
        let (d, b) = best.expect("two active clusters");
        if Some(b) == previous {
            chain.truncate(chain.len() - 2);
            let slot = size.len();
            let (na, nb) = (size[a], size[b]);
            let merged: Vec<f64> = ca
                .iter()
                .zip(&centroid[b * w..(b + 1) * w])
                .map(|(p, q)| (na * p + nb * q) / (na + nb))
                .collect();
            centroid.extend_from_slice(&merged);
            size.push(na + nb);
            active.retain(|&c| c != a && c != b);
            active.push(slot);
            merges.push((a, b, d));
        } else {
            chain.push(b);
        }
    }
    // The lowest n − k merges, ties in the order the chain found them.
    let mut order: Vec<usize> = (0..merges.len()).collect();
    order.sort_by(|&i, &j| merges[i].2.total_cmp(&merges[j].2).then(i.cmp(&j)));
    let mut parent: Vec<usize> = (0..size.len()).collect();
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    // Merge slot ids: the m-th merge created slot n + m.
    for &m in order.iter().take(n - k) {
        let (a, b, _) = merges[m];
        let slot = n + m;
        let (ra, rb) = (root(&mut parent, a), root(&mut parent, b));
        parent[ra] = slot;
        parent[rb] = slot;
    }
    let mut ids: Vec<Option<usize>> = vec![None; size.len()];
    let mut next = 0;
    let mut labels = Vec::with_capacity(n);
    for i in 0..n {
        let r = root(&mut parent, i);
        let id = *ids[r].get_or_insert_with(|| {
            next += 1;
            next - 1
        });
        labels.push(id);
    }
    Ok(labels)
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
