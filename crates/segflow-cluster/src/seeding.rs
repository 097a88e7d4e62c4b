//! Greedy k-means++ seeding as scikit-learn does it, for several restarts at once: each step
//! of every restart is scored in one shared pass over the rows, so a fit with ten restarts
//! reads its data 2k − 2 times for seeding instead of ten times as often. Each restart's
//! arithmetic is exactly that of seeding it alone.

use rayon::prelude::*;

use crate::chunks::{CHUNK_ROWS, by_chunk};
use crate::kernel::{Packed, Rows, multiversion};
use crate::kmeans::{Buffers, Centers};

/// Candidates per k-means++ step: 2 + ⌊ln k⌋, as scikit-learn.
pub(crate) fn local_trials(k: usize) -> usize {
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

/// Greedy k-means++ for one restart (see [`seed_restarts`]).
pub(crate) fn kmeans_plusplus(
    data: &Rows<'_>,
    k: usize,
    seeding: &Seeding,
    buffers: &mut Buffers,
) -> Centers {
    seed_restarts(
        data,
        k,
        std::slice::from_ref(seeding),
        std::slice::from_mut(buffers),
    )
    .pop()
    .expect("one seeding")
}

/// What a shared pass does for every restart.
#[derive(Clone, Copy, PartialEq)]
enum Step {
    /// Sets the closest distances from the first centre, and sums them.
    First,
    /// Sums each candidate's distances, capped by the closest distances.
    Score,
    /// Lowers the closest distances to those from the chosen candidate.
    Choose,
}

/// What a shared pass computes: `step` for every restart, with `per` points of each restart
/// packed in `packed` in restart order.
#[derive(Clone, Copy)]
struct Pass<'a> {
    data: &'a Rows<'a>,
    step: Step,
    packed: &'a Packed,
    per: usize,
}

multiversion! {
    /// One shared pass over rows [start, start + len) for every restart: `packed` holds `per`
    /// points of each restart in restart order, so one packed distance call per row serves all
    /// restarts (each lane of a packed distance is computed on its own, so every value is bit
    /// for bit what the restart alone would compute). Adds to `sums` (per restart: the
    /// candidates' potentials, or the closest distances for `First`). A non-empty `kept`
    /// (one restart only) receives each row's capped distances to the candidates.
    fn seed_rows(pass: &Pass<'_>, start: usize, closest: &mut [&mut [f64]], sums: &mut [Vec<f64>], kept: &mut [f64]) -> () {
        let Pass { data, step, packed, per } = *pass;
        let len = closest.first().map_or(0, |c| c.len());
        let mut dist = vec![0.0; packed.slots()];
        for (i, row) in data.rows(start, start + len).enumerate() {
            packed.distances(row, &mut dist);
            for ((cl, sum), d) in closest.iter_mut().zip(sums.iter_mut()).zip(dist.chunks_exact(per)) {
                let old = &mut cl[i];
                match step {
                    Step::First => {
                        *old = d[0];
                        sum[0] += d[0];
                    }
                    Step::Score => {
                        for (p, &v) in sum.iter_mut().zip(d) {
                            *p += v.min(*old);
                        }
                        if !kept.is_empty() {
                            for (k, &v) in kept[i * per..(i + 1) * per].iter_mut().zip(d) {
                                *k = v.min(*old);
                            }
                        }
                    }
                    Step::Choose => *old = d[0].min(*old),
                }
            }
        }
    }
}

/// Runs `step` for every restart over every row, chunks of rows in parallel, with `per`
/// points of each restart packed in `packed`. Returns per restart its chunk partial sums in
/// chunk order.
fn shared_pass(
    data: &Rows<'_>,
    step: Step,
    packed: &Packed,
    per: usize,
    buffers: &mut [Buffers],
) -> Vec<Vec<Vec<f64>>> {
    let restarts = buffers.len();
    let pass = Pass {
        data,
        step,
        packed,
        per,
    };
    let width = match step {
        Step::First => 1,
        Step::Score => per,
        Step::Choose => 0,
    };
    // A restart seeded alone keeps its candidates' distances, so choosing one is a copy
    // rather than another pass of distance computations; restarts in lockstep would need
    // that much memory per restart.
    let keep = step == Step::Score && restarts == 1;
    let mut near = Vec::with_capacity(restarts);
    let mut kept: Vec<&mut [f64]> = Vec::new();
    for b in buffers.iter_mut() {
        near.push(&mut b.near[..data.n]);
        if keep {
            b.kept.resize(data.n * per, 0.0);
            kept = b.kept[..data.n * per]
                .chunks_mut(CHUNK_ROWS * per)
                .collect();
        }
    }
    let closest = by_chunk(near.into_iter());
    kept.resize_with(closest.len(), Default::default);
    let per_chunk: Vec<Vec<Vec<f64>>> = closest
        .into_par_iter()
        .zip(kept)
        .enumerate()
        .map(|(c, (mut closest, kept))| {
            let mut sums = vec![vec![0.0; width]; restarts];
            seed_rows(&pass, c * CHUNK_ROWS, &mut closest, &mut sums, kept);
            sums
        })
        .collect();
    (0..restarts)
        .map(|r| per_chunk.iter().map(|c| c[r].clone()).collect())
        .collect()
}

/// Adds chunk partials in chunk order.
fn in_chunk_order(parts: &[Vec<f64>]) -> Vec<f64> {
    let mut total = parts[0].clone();
    for p in &parts[1..] {
        total.iter_mut().zip(p).for_each(|(t, v)| *t += v);
    }
    total
}

/// The rows a step samples: for each target the first row whose running sum of closest
/// distances (in row order, as numpy's stable_cumsum) reaches it, the last row if none does.
fn sample_rows(closest: &[f64], targets: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..targets.len()).collect();
    order.sort_by(|&a, &b| targets[a].total_cmp(&targets[b]));
    let mut ids = vec![closest.len() - 1; targets.len()];
    let mut next = order.iter().peekable();
    let mut acc = 0.0;
    for (i, &v) in closest.iter().enumerate() {
        acc += v;
        while let Some(&&t) = next.peek() {
            if acc < targets[t] {
                break;
            }
            ids[t] = i;
            next.next();
        }
        if next.peek().is_none() {
            break;
        }
    }
    ids
}

/// Greedy k-means++ as scikit-learn, for every seeding in `seedings` at once: each new centre
/// is the best of 2 + ⌊ln k⌋ candidates sampled proportionally to the squared distance to the
/// nearest chosen centre. One pass scores the candidates of a step for all restarts, a second
/// lowers each restart's closest distances to those from its chosen candidate. `buffers` holds one
/// restart's per-row state per seeding.
pub(crate) fn seed_restarts(
    data: &Rows<'_>,
    k: usize,
    seedings: &[Seeding],
    buffers: &mut [Buffers],
) -> Vec<Centers> {
    let trials = local_trials(k);
    for b in buffers.iter_mut() {
        b.near.resize(data.n, 0.0);
    }
    let pack = |rows: &[usize]| {
        let mut c = Centers::empty(data.d);
        rows.iter().for_each(|&i| c.push(data.row(i)));
        Packed::new(&c.data, c.k, c.d, c.w)
    };
    let firsts: Vec<usize> = seedings.iter().map(|s| s.first).collect();
    let mut centers: Vec<Centers> = firsts
        .iter()
        .map(|&i| {
            let mut c = Centers::empty(data.d);
            c.push(data.row(i));
            c
        })
        .collect();
    let mut potential: Vec<f64> = shared_pass(data, Step::First, &pack(&firsts), 1, buffers)
        .iter()
        .map(|parts| parts.iter().map(|p| p[0]).sum())
        .collect();
    for step in 1..k {
        let uniforms = (step - 1) * trials..step * trials;
        let ids: Vec<Vec<usize>> = seedings
            .par_iter()
            .zip(buffers.par_iter())
            .zip(&potential)
            .map(|((s, b), &pot)| {
                let targets: Vec<f64> = s.uniforms[uniforms.clone()]
                    .iter()
                    .map(|u| u * pot)
                    .collect();
                sample_rows(&b.near[..data.n], &targets)
            })
            .collect();
        let candidates = pack(&ids.concat());
        let pots = shared_pass(data, Step::Score, &candidates, trials, buffers);
        let mut chosen = Vec::with_capacity(seedings.len());
        let mut best_of = Vec::with_capacity(seedings.len());
        for (r, parts) in pots.iter().enumerate() {
            let pots = in_chunk_order(parts);
            let best = (0..trials).fold(0, |b, c| if pots[c] < pots[b] { c } else { b });
            potential[r] = pots[best];
            centers[r].push(data.row(ids[r][best]));
            chosen.push(ids[r][best]);
            best_of.push(best);
        }
        // The last centre's distances are never used.
        if step + 1 < k {
            if let [alone] = buffers {
                let best = best_of[0];
                alone.near[..data.n]
                    .par_chunks_mut(CHUNK_ROWS)
                    .zip(alone.kept[..data.n * trials].par_chunks(CHUNK_ROWS * trials))
                    .for_each(|(near, kept)| {
                        for (c, d) in near.iter_mut().zip(kept.chunks_exact(trials)) {
                            *c = d[best];
                        }
                    });
            } else {
                shared_pass(data, Step::Choose, &pack(&chosen), 1, buffers);
            }
        }
    }
    centers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampled_rows_are_where_the_running_sum_reaches_each_target() {
        let closest = [1.0, 0.0, 2.0, 3.0];
        // Running sums 1, 1, 3, 6.
        let ids = sample_rows(&closest, &[3.0, 0.5, 1.0, 6.5, 0.0]);
        assert_eq!(ids, vec![2, 0, 0, 3, 0]);
    }
}
