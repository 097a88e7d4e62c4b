//! Elkan's bounds for the bounded Lloyd pass: one lower bound per row and centre, and half the
//! distance between every two centres. Where centres sit close together Hamerly's single
//! lower bound (to the second-nearest centre) fails for most rows and they compute every
//! distance; per-centre bounds still rule out most centres one by one.

use crate::kernel::{LANES, Packed, multiversion, sq_dist};
use crate::kmeans::{Centers, Partial, argmin2};
use crate::lloyd::{BOUND_SLACK, Pass};

/// Fewest centres for which Elkan's bounds pay: below, Hamerly's bound rules out whole rows
/// often enough, and Elkan's k bounds per row cost more to update than they save.
const MIN_CENTERS: usize = 10;

/// Most bytes of per-centre bounds one restart may hold: beyond, the bounds no longer stay in
/// cache beside the rows and updating them costs a pass over memory.
const MAX_BOUND_BYTES: usize = 32 << 20;

/// How many lower bounds each row holds with Elkan's bounds for a pass over `n` rows with `k`
/// centres, `restarts` restarts sharing it, or `None` where Hamerly's single bound is used.
/// Restarts in lockstep already stream their rows from memory; k bounds per restart would
/// multiply that traffic.
pub(crate) fn bounds_per_row(n: usize, k: usize, restarts: usize) -> Option<usize> {
    // One bound per slot of the packed centres: a group of four centres is checked at once.
    let slots = k.div_ceil(LANES) * LANES;
    (restarts == 1 && k >= MIN_CENTERS && n * slots * size_of::<f64>() <= MAX_BOUND_BYTES)
        .then_some(slots)
}

/// Half the distance between every two centres (k rows of `slots`, row-major; a centre to
/// itself and to padding +∞, so neither is ever a candidate), and for each centre half the
/// distance to its nearest other centre.
pub(crate) fn half_distances(centers: &Centers, slots: usize) -> (Vec<f64>, Vec<f64>) {
    let k = centers.k;
    let mut between = vec![f64::INFINITY; k * slots];
    for a in 0..k {
        for b in a + 1..k {
            let h = sq_dist(centers.row(a), centers.row(b)).sqrt() / 2.0;
            between[a * slots + b] = h;
            between[b * slots + a] = h;
        }
    }
    let gap = between
        .chunks_exact(slots)
        .map(|row| row.iter().copied().fold(f64::INFINITY, f64::min))
        .collect();
    (between, gap)
}

multiversion! {
    /// One bounded assignment pass over rows [start, start + labels.len()) with Elkan's
    /// bounds (`lower` holds one per packed slot per row, +∞ past the last centre, each
    /// stored plus how far its centre had moved when it was set, so that it is written only
    /// when it is tightened; subtracting how far the centre has moved since gives the bound
    /// now): a centre
    /// whose bounds prove it strictly farther than the row's own is skipped; the others get
    /// exact distances, computed a group of [`LANES`] centres at a time by the same
    /// operations as an unbounded pass, and the nearest wins with the lower index on ties, so
    /// labels are exactly Lloyd's. Adds to the per-cluster sums and counts of `p`.
    pub(crate) fn elkan_rows(pass: &Pass<'_>, between: &[f64], start: usize, labels: &mut [u32], upper: &mut [f64], lower: &mut [f64], p: &mut Partial) -> () {
        let Pass { data, centers, packed, half_gap, shifts, .. } = *pass;
        let (k, w, slots) = (centers.k, data.w, packed.slots());
        let mut dist = vec![0.0; slots];
        // How far each centre has moved before this pass, per slot (padding never moves).
        let mut moved = vec![0.0; slots];
        if let Some(shifts) = shifts {
            moved[..k].copy_from_slice(&shifts.moved);
        }
        let centres = Candidates { packed, between, moved: &moved };
        let rows = data.rows(start, start + labels.len());
        for (((row, label), u), l) in rows.zip(labels.iter_mut()).zip(upper.iter_mut()).zip(lower.chunks_exact_mut(slots)) {
            let own = *label as usize;
            let j = match shifts {
                None => {
                    packed.distances(row, &mut dist);
                    l.iter_mut().zip(&dist).for_each(|(l, d)| *l = d.sqrt() * (1.0 - BOUND_SLACK));
                    let (best, d1, _) = argmin2(&dist, k);
                    *u = d1.sqrt() * (1.0 + BOUND_SLACK);
                    best
                }
                Some(shifts) => {
                    *u += shifts.by_center[own];
                    if *u < half_gap[own] * (1.0 - BOUND_SLACK) {
                        own
                    } else {
                        nearest(row, &centres, own, u, l, &mut dist)
                    }
                }
            };
            if j != own {
                p.changed += 1;
                *label = j as u32;
            }
            p.counts[j] += 1;
            p.sums[j * w..(j + 1) * w].iter_mut().zip(row).for_each(|(s, v)| *s += v);
        }
    }
}

/// Whether some centre of group `g` may be nearer than `best`: `u` (an upper bound on the
/// distance to `best`) reaches both its lower bound and half its distance to `best`.
#[inline(always)]
fn open(u: f64, l: &[f64], moved: &[f64], near: &[f64], g: usize) -> bool {
    let lanes = g * LANES..(g + 1) * LANES;
    let (l, moved, near) = (&l[lanes.clone()], &moved[lanes.clone()], &near[lanes]);
    // u ≥ l − moved, compared as u + moved ≥ l; the margin is relative to u + moved because
    // the stored bound carries the rounding of sums of that size. Non-short-circuit
    // operators: the four lanes compare at once.
    (0..LANES).fold(false, |any, c| {
        let reach = (u + moved[c]) * (1.0 + BOUND_SLACK);
        any | ((reach >= l[c]) & (u * (1.0 + BOUND_SLACK) >= near[c]))
    })
}

/// What every row's search for a nearer centre reads in one pass.
struct Candidates<'a> {
    packed: &'a Packed,
    /// Half the distance between every two centres, as [`half_distances`].
    between: &'a [f64],
    /// How far each centre has moved before this pass, per slot.
    moved: &'a [f64],
}

/// The nearest centre to `row`, labelled `own`, given its upper bound `u` on the distance to
/// `own` and lower bounds `l` on the distance to each centre (both tightened where distances
/// are computed).
#[inline(always)]
fn nearest(
    row: &[f64],
    centres: &Candidates<'_>,
    own: usize,
    u: &mut f64,
    l: &mut [f64],
    dist: &mut [f64],
) -> usize {
    let Candidates {
        packed,
        between,
        moved,
    } = *centres;
    let (slots, groups) = (l.len(), packed.groups());
    let near = |best: usize| &between[best * slots..(best + 1) * slots];
    if !(0..groups).any(|g| open(*u, l, moved, near(own), g)) {
        return own;
    }
    // Some centre may be nearer: first make `u` exact.
    let home = own / LANES;
    exact(row, packed, home, moved, l, dist);
    let (mut best, mut best_d) = (own, dist[own]);
    *u = best_d.sqrt() * (1.0 + BOUND_SLACK);
    for g in 0..groups {
        if g != home {
            if !open(*u, l, moved, near(best), g) {
                continue;
            }
            exact(row, packed, g, moved, l, dist);
        }
        // Padding lanes hold finite distances here but never win: only real centres count.
        let end = ((g + 1) * LANES).min(packed.count());
        for (c, &d) in dist.iter().enumerate().take(end).skip(g * LANES) {
            if d < best_d || (d == best_d && c < best) {
                (best, best_d) = (c, d);
                *u = d.sqrt() * (1.0 + BOUND_SLACK);
            }
        }
    }
    best
}

/// Exact squared distances from `row` to the centres of group `g` into `dist`, and their
/// lower bounds tightened to them (padding lanes keep their +∞).
#[inline(always)]
fn exact(row: &[f64], packed: &Packed, g: usize, moved: &[f64], l: &mut [f64], dist: &mut [f64]) {
    packed.group_distances(row, g, &mut dist[g * LANES..(g + 1) * LANES]);
    let end = ((g + 1) * LANES).min(packed.count());
    for ((l, d), m) in l[g * LANES..end]
        .iter_mut()
        .zip(&dist[g * LANES..end])
        .zip(&moved[g * LANES..end])
    {
        *l = d.sqrt() * (1.0 - BOUND_SLACK) + m;
    }
}

#[cfg(test)]
mod tests {
    use ndarray::Array2;

    use super::*;
    use crate::kernel::Rows;
    use crate::kmeans::{Buffers, Run};
    use crate::lloyd::lloyd_restarts_with;
    use crate::rng::Rng;

    /// `n` rows in `d` columns around `blobs` centres `spread` apart on average, unit
    /// Gaussian noise: with `spread` near 1 the blobs overlap.
    fn blobs(n: usize, d: usize, blobs: usize, spread: f64, seed: u64) -> Array2<f64> {
        let mut rng = Rng::new(seed, 0);
        let mut normal = move || {
            (-2.0 * (1.0 - rng.uniform()).ln()).sqrt()
                * (2.0 * std::f64::consts::PI * rng.uniform()).cos()
        };
        let centers: Vec<f64> = (0..blobs * d).map(|_| normal() * spread).collect();
        Array2::from_shape_fn((n, d), |(i, t)| centers[(i % blobs) * d + t] + normal())
    }

    /// Lloyd from `init` with Elkan's bounds or Hamerly's.
    fn lloyd(x: &Array2<f64>, init: &Array2<f64>, tol: f64, elkan: bool) -> Run {
        let view = x.view();
        let data = Rows::new(&view);
        let init = Centers::from_array(init);
        let slots = init.k.div_ceil(LANES) * LANES;
        let mut buffers = [Buffers::default()];
        let mut runs = lloyd_restarts_with(
            &data,
            vec![init],
            300,
            tol,
            &mut buffers,
            elkan.then_some(slots),
        );
        runs.pop().expect("one restart")
    }

    fn assert_same(a: &Run, b: &Run) {
        assert_eq!(a.labels, b.labels);
        assert_eq!(a.inertia.to_bits(), b.inertia.to_bits());
        assert_eq!(a.n_iter, b.n_iter);
        assert_eq!(a.converged, b.converged);
        let bits = |m: &Run| m.centroids.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(a), bits(b));
    }

    #[test]
    fn twelve_centres_in_overlapping_blobs_match_hamerly() {
        // Three overlapping blobs split twelve ways: the centres sit close together, so
        // Hamerly's bound (the second-nearest centre) fails for most rows. Rows span three
        // chunks; k = 13 leaves a partial group of packed centres.
        let x = blobs(10_000, 7, 3, 1.5, 11);
        for k in [12, 13] {
            let init = x.slice(ndarray::s![100..100 + k, ..]).to_owned();
            let hamerly = lloyd(&x, &init, 1e-6, false);
            let elkan = lloyd(&x, &init, 1e-6, true);
            assert!(hamerly.n_iter > 5, "k = {k}: {} iterations", hamerly.n_iter);
            assert_same(&elkan, &hamerly);
        }
    }

    #[test]
    fn empty_clusters_and_tied_centres_match_hamerly() {
        // Centre 3 duplicates centre 2 (every tie goes to the lower index, leaving 3 empty)
        // and centre 7 lies far from every row: both are empty after the first pass and take
        // the rows farthest from their centres.
        let x = blobs(6_000, 4, 5, 3.0, 5);
        let mut init = x.slice(ndarray::s![..11, ..]).to_owned();
        let dup = init.row(2).to_owned();
        init.row_mut(3).assign(&dup);
        init.row_mut(7).fill(1e3);
        let hamerly = lloyd(&x, &init, 1e-6, false);
        let elkan = lloyd(&x, &init, 1e-6, true);
        let mut used = [false; 11];
        hamerly.labels.iter().for_each(|&l| used[l as usize] = true);
        assert!(
            used.iter().all(|&u| u),
            "every cluster has rows after relocation"
        );
        assert_same(&elkan, &hamerly);
    }

    #[test]
    fn exact_ties_go_to_the_lower_index_as_in_hamerly() {
        // Centres (0, 0) and (4, 0) are the means of their members, and the rows (2, ±3) are
        // exactly equidistant from both (integer arithmetic, no rounding): every pass after
        // the first meets the tie in the bounded pass. In either order of the centres the
        // lower index must win it. A negative tolerance keeps unmoved centres iterating
        // until the labels stop changing.
        let x = ndarray::array![
            [-2.0, 3.0],
            [-2.0, -3.0],
            [2.0, 3.0],
            [2.0, -3.0],
            [4.0, 1.0],
            [4.0, -1.0],
        ];
        for init in [
            ndarray::array![[0.0, 0.0], [4.0, 0.0]],
            ndarray::array![[4.0, 0.0], [0.0, 0.0]],
        ] {
            let hamerly = lloyd(&x, &init, -1.0, false);
            assert!(hamerly.n_iter >= 2);
            assert_same(&lloyd(&x, &init, -1.0, true), &hamerly);
        }
    }
}
