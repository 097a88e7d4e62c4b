//! Greedy k-means++ seeding as scikit-learn does it, for several restarts at once: each step
//! of every restart is scored in one shared pass over the rows, so a fit with ten restarts
//! reads its data 2k − 2 times for seeding instead of ten times as often. Each restart's
//! arithmetic is exactly that of seeding it alone.
//!
//! A row's distance to a candidate is computed only where it may matter: a candidate `c` at
//! least twice as far from the row's nearest chosen centre `m` as the row itself
//! (‖c − m‖² ≥ 4 ‖x − m‖²) is, by the triangle inequality, no nearer to the row than `m`, so
//! its capped distance is the row's closest distance as it stands, the very value
//! `min(‖x − c‖², closest)` would give. Every sum, potential and chosen row is therefore bit
//! for bit that of computing every distance.

use rayon::prelude::*;

use crate::chunks::{CHUNK_ROWS, by_chunk};
use crate::kernel::{LANES, Packed, Rows, multiversion, sq_dist};
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

/// Relative slack on the pruning test, far above the rounding of the squared distances it
/// compares (a few ulps per coordinate), so a pruned distance is certainly no lower than the
/// row's closest distance; in doubt the distance is computed.
const PRUNE_SLACK: f64 = 1e-9;

/// What a shared pass computes: `step` for every restart, with `per` points of each restart
/// packed in `packed` in restart order.
#[derive(Clone, Copy)]
struct Pass<'a> {
    data: &'a Rows<'a>,
    step: Step,
    packed: &'a Packed,
    per: usize,
    /// Per packed point and chosen centre so far (`chosen` of them, in the order chosen):
    /// a quarter of their squared distance, shrunk by the slack. A row whose closest distance
    /// is below it cannot be lowered by that point. Empty for `First`.
    far: &'a [f64],
    chosen: usize,
}

multiversion! {
    /// One shared pass over rows [start, start + len) for every restart: `packed` holds `per`
    /// points of each restart in restart order, so one packed distance call per row serves all
    /// restarts (each lane of a packed distance is computed on its own, so every value is bit
    /// for bit what the restart alone would compute). A group of packed points none of which
    /// can lower the row's closest distance of its restart is not computed: its lanes read
    /// +∞, which the cap turns into the closest distance, exactly what computing them gives.
    /// Adds to `sums` (per restart: the candidates' potentials, or the closest distances for
    /// `First`); `nearest` is per restart and row the index of the chosen centre at the
    /// closest distance. A non-empty `kept` (one restart only) receives each row's capped
    /// distances to the candidates.
    fn seed_rows(pass: &Pass<'_>, start: usize, closest: &mut [&mut [f64]], nearest: &mut [&mut [u32]], sums: &mut [Vec<f64>], kept: &mut [f64]) -> () {
        let Pass { data, step, packed, per, far, chosen } = *pass;
        // Groups of one restart's points each: one test per group, against the group's
        // nearest point to each chosen centre.
        let gate: Vec<f64> = if per % LANES == 0 && step != Step::First {
            (0..packed.groups() * chosen)
                .map(|gm| {
                    let (g, m) = (gm / chosen, gm % chosen);
                    (g * LANES..(g + 1) * LANES).map(|q| far[q * chosen + m]).fold(f64::INFINITY, f64::min)
                })
                .collect()
        } else {
            Vec::new()
        };
        let len = closest.first().map_or(0, |c| c.len());
        let mut dist = vec![0.0; packed.slots()];
        let count = packed.count();
        for (i, row) in data.rows(start, start + len).enumerate() {
            if step == Step::First {
                packed.distances(row, &mut dist);
            } else {
                for (g, slot) in dist.chunks_exact_mut(LANES).enumerate() {
                    let needed = if gate.is_empty() {
                        let mut needed = false;
                        for q in g * LANES..(g * LANES + LANES).min(count) {
                            let r = q / per;
                            needed |= closest[r][i] >= far[q * chosen + nearest[r][i] as usize];
                        }
                        needed
                    } else {
                        let r = g * LANES / per;
                        closest[r][i] >= gate[g * chosen + nearest[r][i] as usize]
                    };
                    if needed {
                        packed.group_distances(row, g, slot);
                    } else {
                        slot.fill(f64::INFINITY);
                    }
                }
                dist[count..].fill(f64::INFINITY);
            }
            for (((cl, near), sum), d) in closest.iter_mut().zip(nearest.iter_mut()).zip(sums.iter_mut()).zip(dist.chunks_exact(per)) {
                let old = &mut cl[i];
                match step {
                    Step::First => {
                        *old = d[0];
                        near[i] = 0;
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
                    Step::Choose => {
                        if d[0] < *old {
                            *old = d[0];
                            near[i] = chosen as u32;
                        }
                    }
                }
            }
        }
    }
}

/// Runs `step` for every restart over every row, chunks of rows in parallel, with `per`
/// points of each restart packed in `packed` (`far`: see [`Pass`]). Returns per restart its
/// chunk partial sums in chunk order.
fn shared_pass(
    data: &Rows<'_>,
    step: Step,
    (packed, per): (&Packed, usize),
    (far, chosen): (&[f64], usize),
    buffers: &mut [Buffers],
) -> Vec<Vec<Vec<f64>>> {
    let restarts = buffers.len();
    let pass = Pass {
        data,
        step,
        packed,
        per,
        far,
        chosen,
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
    let mut nearest = Vec::with_capacity(restarts);
    let mut kept: Vec<&mut [f64]> = Vec::new();
    for b in buffers.iter_mut() {
        near.push(&mut b.near[..data.n]);
        nearest.push(&mut b.labels[..data.n]);
        if keep {
            b.kept.resize(data.n * per, 0.0);
            kept = b.kept[..data.n * per]
                .chunks_mut(CHUNK_ROWS * per)
                .collect();
        }
    }
    let closest = by_chunk(near.into_iter());
    let nearest = by_chunk(nearest.into_iter());
    kept.resize_with(closest.len(), Default::default);
    let per_chunk: Vec<Vec<Vec<f64>>> = closest
        .into_par_iter()
        .zip(nearest)
        .zip(kept)
        .enumerate()
        .map(|(c, ((mut closest, mut nearest), kept))| {
            let mut sums = vec![vec![0.0; width]; restarts];
            seed_rows(
                &pass,
                c * CHUNK_ROWS,
                &mut closest,
                &mut nearest,
                &mut sums,
                kept,
            );
            sums
        })
        .collect();
    (0..restarts)
        .map(|r| per_chunk.iter().map(|c| c[r].clone()).collect())
        .collect()
}

/// [`Pass::far`] for `points` (rows of `data`, `per` of each restart in restart order)
/// against each restart's chosen centres.
fn far_from_chosen(
    data: &Rows<'_>,
    points: &[usize],
    per: usize,
    chosen: &[Vec<usize>],
) -> Vec<f64> {
    // ‖c − m‖² ≥ 4 ‖x − m‖² (1 + slack) / (1 − slack) certainly leaves c no nearer than m.
    let scale = (1.0 - PRUNE_SLACK) / (4.0 * (1.0 + PRUNE_SLACK));
    points
        .iter()
        .enumerate()
        .flat_map(|(q, &p)| {
            chosen[q / per]
                .iter()
                .map(move |&m| sq_dist(data.row(p), data.row(m)) * scale)
        })
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
/// restart's per-row state per seeding (`labels`: the index of each row's nearest chosen centre,
/// for the pruning).
pub(crate) fn seed_restarts(
    data: &Rows<'_>,
    k: usize,
    seedings: &[Seeding],
    buffers: &mut [Buffers],
) -> Vec<Centers> {
    let trials = local_trials(k);
    for b in buffers.iter_mut() {
        b.near.resize(data.n, 0.0);
        b.labels.resize(data.n, 0);
    }
    let pack = |rows: &[usize]| {
        let mut c = Centers::empty(data.d);
        rows.iter().for_each(|&i| c.push(data.row(i)));
        Packed::new(&c.data, c.k, c.d, c.w)
    };
    let firsts: Vec<usize> = seedings.iter().map(|s| s.first).collect();
    let mut chosen: Vec<Vec<usize>> = firsts.iter().map(|&i| vec![i]).collect();
    let mut potential: Vec<f64> =
        shared_pass(data, Step::First, (&pack(&firsts), 1), (&[], 0), buffers)
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
        let points = ids.concat();
        let far = far_from_chosen(data, &points, trials, &chosen);
        let pots = shared_pass(
            data,
            Step::Score,
            (&pack(&points), trials),
            (&far, step),
            buffers,
        );
        let mut best_of = Vec::with_capacity(seedings.len());
        for (r, parts) in pots.iter().enumerate() {
            let pots = in_chunk_order(parts);
            let best = (0..trials).fold(0, |b, c| if pots[c] < pots[b] { c } else { b });
            potential[r] = pots[best];
            chosen[r].push(ids[r][best]);
            best_of.push(best);
        }
        // The last centre's distances are never used.
        if step + 1 < k {
            if let [alone] = buffers {
                let best = best_of[0];
                alone.near[..data.n]
                    .par_chunks_mut(CHUNK_ROWS)
                    .zip(alone.labels[..data.n].par_chunks_mut(CHUNK_ROWS))
                    .zip(alone.kept[..data.n * trials].par_chunks(CHUNK_ROWS * trials))
                    .for_each(|((near, nearest), kept)| {
                        let rows = near.iter_mut().zip(nearest).zip(kept.chunks_exact(trials));
                        for ((c, m), d) in rows {
                            if d[best] < *c {
                                *c = d[best];
                                *m = step as u32;
                            }
                        }
                    });
            } else {
                let rows: Vec<usize> = chosen.iter().map(|c| c[step]).collect();
                let far: Vec<f64> = best_of
                    .iter()
                    .enumerate()
                    .flat_map(|(r, &best)| {
                        let q = r * trials + best;
                        far[q * step..(q + 1) * step].iter().copied()
                    })
                    .collect();
                shared_pass(data, Step::Choose, (&pack(&rows), 1), (&far, step), buffers);
            }
        }
    }
    chosen
        .iter()
        .map(|rows| {
            let mut c = Centers::empty(data.d);
            rows.iter().for_each(|&i| c.push(data.row(i)));
            c
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use ndarray::Array2;

    use super::*;

    /// Greedy k-means++ computing every distance, each as the lane of the packed kernel
    /// computed alone (so bit for bit the pass's values), potentials summed per chunk of rows
    /// and the chunks in order as the shared passes do.
    fn unpruned(data: &Rows<'_>, k: usize, seeding: &Seeding) -> Vec<usize> {
        let trials = local_trials(k);
        let to = |i: usize| {
            let mut c = Centers::empty(data.d);
            c.push(data.row(i));
            Packed::new(&c.data, 1, c.d, c.w)
        };
        let chunked = |v: &[f64]| {
            let parts: Vec<Vec<f64>> = v
                .chunks(CHUNK_ROWS)
                .map(|c| vec![c.iter().fold(0.0, |a, b| a + b)])
                .collect();
            parts
        };
        let first = to(seeding.first);
        let mut closest: Vec<f64> = (0..data.n)
            .map(|i| first.distance(data.row(i), 0))
            .collect();
        let mut potential: f64 = chunked(&closest).iter().map(|p| p[0]).sum();
        let mut chosen = vec![seeding.first];
        for step in 1..k {
            let targets: Vec<f64> = seeding.uniforms[(step - 1) * trials..step * trials]
                .iter()
                .map(|u| u * potential)
                .collect();
            let ids = sample_rows(&closest, &targets);
            let capped: Vec<Vec<f64>> = ids
                .iter()
                .map(|&c| {
                    let c = to(c);
                    (0..data.n)
                        .map(|i| c.distance(data.row(i), 0).min(closest[i]))
                        .collect()
                })
                .collect();
            let pots: Vec<f64> = capped
                .iter()
                .map(|v| in_chunk_order(&chunked(v))[0])
                .collect();
            let best = (0..trials).fold(0, |b, c| if pots[c] < pots[b] { c } else { b });
            potential = pots[best];
            chosen.push(ids[best]);
            closest.clone_from(&capped[best]);
        }
        chosen
    }

    /// `n` rows in 3 columns around `centres` blobs of spread `spread`, from a fixed LCG.
    fn blobs(n: usize, centres: usize, spread: f64) -> Array2<f64> {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut uniform = move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        Array2::from_shape_fn((n, 3), |(i, j)| {
            ((i % centres) * (j + 1)) as f64 * 10.0 + spread * (uniform() - 0.5)
        })
    }

    fn seedings(count: usize, n: usize, k: usize) -> Vec<Seeding> {
        let mut state = 7u64;
        (0..count)
            .map(|_| {
                Seeding::draw(
                    k,
                    &mut state,
                    |s| {
                        *s = s.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                        (*s >> 33) as usize % n
                    },
                    |s| {
                        *s = s.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                        (*s >> 11) as f64 / (1u64 << 53) as f64
                    },
                )
            })
            .collect()
    }

    /// Pruned seeding chooses the same rows as computing every distance, bit for bit, on
    /// well-separated and on overlapping blobs, seeded alone and several in lockstep.
    #[test]
    fn pruned_seeding_is_the_unpruned_seeding() {
        for spread in [1.0, 40.0] {
            let x = blobs(10_000, 6, spread);
            let view = x.view();
            let data = Rows::new(&view);
            for k in [2, 5, 8, 12] {
                let draws = seedings(3, data.n, k);
                let expected: Vec<Vec<f64>> = draws
                    .iter()
                    .map(|s| {
                        let mut c = Centers::empty(data.d);
                        unpruned(&data, k, s)
                            .iter()
                            .for_each(|&i| c.push(data.row(i)));
                        c.data
                    })
                    .collect();
                let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                for (s, e) in draws.iter().zip(&expected) {
                    let alone = kmeans_plusplus(&data, k, s, &mut Buffers::default());
                    assert_eq!(bits(&alone.data), bits(e), "alone, spread {spread}, k {k}");
                }
                let mut buffers: Vec<Buffers> = (0..3).map(|_| Buffers::default()).collect();
                let lockstep = seed_restarts(&data, k, &draws, &mut buffers);
                for (c, e) in lockstep.iter().zip(&expected) {
                    assert_eq!(bits(&c.data), bits(e), "lockstep, spread {spread}, k {k}");
                }
            }
        }
    }

    #[test]
    fn sampled_rows_are_where_the_running_sum_reaches_each_target() {
        let closest = [1.0, 0.0, 2.0, 3.0];
        // Running sums 1, 1, 3, 6.
        let ids = sample_rows(&closest, &[3.0, 0.5, 1.0, 6.5, 0.0]);
        assert_eq!(ids, vec![2, 0, 0, 3, 0]);
    }
}
