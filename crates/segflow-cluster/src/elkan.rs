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
    /// bounds (`lower` holds one per packed slot per row, +∞ past the last centre): a centre
    /// whose bounds prove it strictly farther than the row's own is skipped; the others get
    /// exact distances, computed a group of [`LANES`] centres at a time by the same
    /// operations as an unbounded pass, and the nearest wins with the lower index on ties, so
    /// labels are exactly Lloyd's. Adds to the per-cluster sums and counts of `p`.
    pub(crate) fn elkan_rows(pass: &Pass<'_>, between: &[f64], start: usize, labels: &mut [u32], upper: &mut [f64], lower: &mut [f64], p: &mut Partial) -> () {
        let Pass { data, centers, packed, half_gap, shifts } = *pass;
        let (k, w, slots) = (centers.k, data.w, packed.slots());
        let mut dist = vec![0.0; slots];
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
                    l.iter_mut().zip(&shifts.by_center).for_each(|(l, s)| *l -= s);
                    if *u < half_gap[own] * (1.0 - BOUND_SLACK) {
                        own
                    } else {
                        nearest(row, packed, between, own, u, l, &mut dist)
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
fn open(u: f64, l: &[f64], near: &[f64], g: usize) -> bool {
    let u = u * (1.0 + BOUND_SLACK);
    let (l, near) = (&l[g * LANES..(g + 1) * LANES], &near[g * LANES..(g + 1) * LANES]);
    // Non-short-circuit operators: the four lanes compare at once.
    (0..LANES).fold(false, |any, c| any | ((u >= l[c]) & (u >= near[c])))
}

/// The nearest centre to `row`, labelled `own`, given its upper bound `u` on the distance to
/// `own` and lower bounds `l` on the distance to each centre (both tightened where distances
/// are computed).
#[inline(always)]
fn nearest(
    row: &[f64],
    packed: &Packed,
    between: &[f64],
    own: usize,
    u: &mut f64,
    l: &mut [f64],
    dist: &mut [f64],
) -> usize {
    let (slots, groups) = (l.len(), packed.groups());
    let near = |best: usize| &between[best * slots..(best + 1) * slots];
    if !(0..groups).any(|g| open(*u, l, near(own), g)) {
        return own;
    }
    // Some centre may be nearer: first make `u` exact.
    let home = own / LANES;
    exact(row, packed, home, l, dist);
    let (mut best, mut best_d) = (own, dist[own]);
    *u = best_d.sqrt() * (1.0 + BOUND_SLACK);
    for g in 0..groups {
        if g != home {
            if !open(*u, l, near(best), g) {
                continue;
            }
            exact(row, packed, g, l, dist);
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
fn exact(row: &[f64], packed: &Packed, g: usize, l: &mut [f64], dist: &mut [f64]) {
    packed.group_distances(row, g, &mut dist[g * LANES..(g + 1) * LANES]);
    let end = ((g + 1) * LANES).min(packed.count());
    for (l, d) in l[g * LANES..end].iter_mut().zip(&dist[g * LANES..end]) {
        *l = d.sqrt() * (1.0 - BOUND_SLACK);
    }
}
