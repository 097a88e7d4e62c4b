//! Lloyd iterations (scikit-learn's `_kmeans_single_lloyd`) with Hamerly bounds, for several
//! restarts at once: every pass over the rows serves each restart still iterating, and a
//! restart that has converged drops out after its final exact pass. Each restart's arithmetic
//! (labels, sums, inertia, iteration count) is exactly that of running it alone.

use rayon::prelude::*;

use crate::chunks::{BLOCK_ROWS, CHUNK_ROWS, by_chunk, by_chunk_of};
use crate::elkan::{bounds_per_row, elkan_rows, half_distances};
use crate::kernel::{Packed, Rows, multiversion, sq_dist};
use crate::kmeans::{Buffers, Centers, Partial, Run, argmin2, assign_rows, combine_partials};

/// Relative safety margin on the bounds: rounding in the bound updates can never make a row
/// skip a centre that is in fact at least as close as its own.
pub(crate) const BOUND_SLACK: f64 = 1e-9;

/// How far each centre moved in the last update, for the bound updates.
pub(crate) struct Shifts {
    pub(crate) by_center: Vec<f64>,
    /// How far each centre moved in all updates so far (the sum of its shifts).
    pub(crate) moved: Vec<f64>,
    largest: (usize, f64),
    second: f64,
}

impl Shifts {
    /// The shifts from `old` to `new`, `before` those of the earlier updates.
    fn between(old: &Centers, new: &Centers, before: Option<&Shifts>) -> Self {
        let by_center: Vec<f64> = (0..old.k)
            .map(|j| sq_dist(old.row(j), new.row(j)).sqrt())
            .collect();
        let moved = match before {
            Some(b) => b.moved.iter().zip(&by_center).map(|(m, s)| m + s).collect(),
            None => by_center.clone(),
        };
        let (j, d1, d2) = argmin2(&by_center.iter().map(|v| -v).collect::<Vec<_>>(), old.k);
        Shifts {
            by_center,
            moved,
            largest: (j, -d1),
            second: if d2.is_finite() { -d2 } else { 0.0 },
        }
    }

    /// The most any centre other than `a` moved.
    #[inline(always)]
    fn others(&self, a: usize) -> f64 {
        if a == self.largest.0 {
            self.second
        } else {
            self.largest.1
        }
    }
}

/// What one bounded assignment pass reads for one restart.
#[derive(Clone, Copy)]
pub(crate) struct Pass<'a> {
    pub(crate) data: &'a Rows<'a>,
    pub(crate) centers: &'a Centers,
    pub(crate) packed: &'a Packed,
    pub(crate) half_gap: &'a [f64],
    pub(crate) shifts: Option<&'a Shifts>,
    /// The pass after the last update of a restart stopped by `tol` or `max_iter`: labels
    /// and inertia only.
    pub(crate) last: bool,
}

multiversion! {
    /// One bounded assignment pass over rows [start, start + labels.len()) (Hamerly's
    /// algorithm): a row whose bounds prove its centre is still strictly the nearest skips the
    /// distance computations; any other row gets exact distances to every centre, so labels
    /// are exactly Lloyd's. Adds to the per-cluster sums and counts of `p`, or on the `last`
    /// pass to its inertia: each row's squared distance to its centre computed exactly as an
    /// unbounded assignment computes it.
    fn bounded_rows(pass: &Pass<'_>, start: usize, labels: &mut [u32], upper: &mut [f64], lower: &mut [f64], dist: &mut [f64], p: &mut Partial) -> () {
        let Pass { data, centers, packed, half_gap, shifts, last } = *pass;
        let (k, w) = (centers.k, data.w);
        let dist = &mut dist[..packed.slots()];
        let rows = data.rows(start, start + labels.len());
        for (((row, label), u), l) in rows.zip(labels.iter_mut()).zip(upper.iter_mut()).zip(lower.iter_mut()) {
            let mut j = *label as usize;
            let settled = match shifts {
                None => false,
                Some(shifts) => {
                    *u += shifts.by_center[j];
                    *l -= shifts.others(j);
                    let bound = half_gap[j].max(*l) * (1.0 - BOUND_SLACK);
                    *u < bound || {
                        *u = sq_dist(row, centers.row(j)).sqrt() * (1.0 + BOUND_SLACK);
                        *u < bound
                    }
                }
            };
            if !settled {
                packed.distances(row, dist);
                let (best, d1, d2) = argmin2(dist, k);
                if best != j {
                    p.changed += 1;
                    j = best;
                    *label = best as u32;
                }
                if last {
                    p.inertia += d1;
                    continue;
                }
                *u = d1.sqrt() * (1.0 + BOUND_SLACK);
                *l = d2.sqrt() * (1.0 - BOUND_SLACK);
            } else if last {
                p.inertia += packed.distance(row, j);
                continue;
            }
            p.counts[j] += 1;
            p.sums[j * w..(j + 1) * w].iter_mut().zip(row).for_each(|(s, v)| *s += v);
        }
    }
}

multiversion! {
    /// Adds to `p.inertia` the squared distances of rows [start, start + labels.len()) to
    /// their labelled centre.
    fn inertia_rows(data: &Rows<'_>, centers: &Centers, start: usize, labels: &[u32], p: &mut Partial) -> () {
        for (row, &l) in data.rows(start, start + labels.len()).zip(labels) {
            p.inertia += sq_dist(row, centers.row(l as usize));
        }
    }
}

/// Half the distance from each centre to its nearest other centre: a row closer than that
/// to its own centre cannot be closer to another.
fn half_gaps(centers: &Centers) -> Vec<f64> {
    (0..centers.k)
        .map(|a| {
            (0..centers.k)
                .filter(|&b| b != a)
                .map(|b| sq_dist(centers.row(a), centers.row(b)).sqrt())
                .fold(f64::INFINITY, f64::min)
                / 2.0
        })
        .collect()
}

/// What a bounded pass over one restart reads besides its centres: the packed centres, half
/// the distance from each to its nearest other, and with Elkan's bounds half the distance
/// between every two (empty otherwise).
type Prepared = (Packed, Vec<f64>, Vec<f64>);

/// Where a restart stands between passes.
enum Phase {
    /// The next pass is a bounded assignment.
    Iterating,
    /// Converged; the next pass computes the inertia of the final centres: over the labels as
    /// they are when the labels stopped changing (`strict`), else after one more (bounded)
    /// assignment.
    Final {
        strict: bool,
    },
    Done(Run),
}

struct Restart {
    centers: Centers,
    shifts: Option<Shifts>,
    n_iter: usize,
    phase: Phase,
}

/// What the next pass does for one restart, with what it reads.
enum Task<'a> {
    Bounded(Pass<'a>),
    /// A bounded pass with Elkan's bounds: half the distance between every two centres.
    Elkan(Pass<'a>, &'a [f64]),
    /// The exact last pass of a restart fitted with Elkan's bounds.
    Assign(Packed),
    Inertia(&'a Centers),
    Idle,
}

impl Task<'_> {
    fn partial(&self) -> Partial {
        let (k, w) = match self {
            Task::Bounded(pass) if !pass.last => (pass.centers.k, pass.data.w),
            Task::Elkan(pass, _) => (pass.centers.k, pass.data.w),
            Task::Assign(p) => (p.count(), 0),
            Task::Bounded(_) | Task::Inertia(_) | Task::Idle => (0, 0),
        };
        Partial {
            sums: vec![0.0; k * w],
            counts: vec![0; k],
            inertia: 0.0,
            changed: 0,
        }
    }
}

/// Runs every restart's task over all rows in one shared pass: chunks of rows in parallel,
/// and within a chunk each block of rows serves every restart while it is in cache. Returns
/// each restart's result combined over chunks in chunk order. Each row has `bounds` lower
/// bounds per restart.
fn shared_pass(
    data: &Rows<'_>,
    tasks: &[Task<'_>],
    buffers: &mut [Buffers],
    bounds: usize,
) -> Vec<Partial> {
    let n = data.n;
    let mut labels = Vec::new();
    let mut upper = Vec::new();
    let mut lower = Vec::new();
    for b in buffers.iter_mut() {
        labels.push(&mut b.labels[..n]);
        upper.push(&mut b.near[..n]);
        lower.push(&mut b.lower[..n * bounds]);
    }
    let slots = tasks
        .iter()
        .map(|t| match t {
            Task::Bounded(pass) | Task::Elkan(pass, _) => pass.packed.slots(),
            Task::Assign(_) | Task::Inertia(_) | Task::Idle => 0,
        })
        .max()
        .unwrap_or(0);
    let labels = by_chunk(labels.into_iter());
    let upper = by_chunk(upper.into_iter());
    let lower = by_chunk_of(lower.into_iter(), bounds);
    let per_chunk: Vec<Vec<Partial>> = labels
        .into_par_iter()
        .zip(upper)
        .zip(lower)
        .enumerate()
        .map(|(c, ((mut labels, mut upper), mut lower))| {
            let start = c * CHUNK_ROWS;
            let len = labels[0].len();
            let mut parts: Vec<Partial> = tasks.iter().map(Task::partial).collect();
            // One row's distances, allocated once per chunk rather than per block and restart.
            let mut dist = vec![0.0; slots];
            for b in (0..len).step_by(BLOCK_ROWS) {
                let e = (b + BLOCK_ROWS).min(len);
                for (r, (task, p)) in tasks.iter().zip(&mut parts).enumerate() {
                    let lab = &mut labels[r][b..e];
                    match task {
                        Task::Bounded(pass) => bounded_rows(
                            pass,
                            start + b,
                            lab,
                            &mut upper[r][b..e],
                            &mut lower[r][b..e],
                            &mut dist,
                            p,
                        ),
                        Task::Elkan(pass, between) => elkan_rows(
                            pass,
                            between,
                            start + b,
                            lab,
                            &mut upper[r][b..e],
                            &mut lower[r][b * bounds..e * bounds],
                            p,
                        ),
                        Task::Assign(packed) => {
                            assign_rows(data, packed, packed.count(), start + b, lab, false, p)
                        }
                        Task::Inertia(centers) => inertia_rows(data, centers, start + b, lab, p),
                        Task::Idle => {}
                    }
                }
            }
            parts
        })
        .collect();
    let mut per_restart: Vec<Vec<Partial>> = tasks.iter().map(|_| Vec::new()).collect();
    for parts in per_chunk {
        for (r, p) in parts.into_iter().enumerate() {
            per_restart[r].push(p);
        }
    }
    per_restart.into_iter().map(combine_partials).collect()
}

/// Lloyd iterations from each of `inits` (scikit-learn's `_kmeans_single_lloyd`, one per
/// restart, `buffers` holding one restart's per-row state each): each iteration assigns every
/// row to its nearest centre and moves each centre to the exact mean of its members,
/// recomputed from scratch; the assignment skips distance computations that bounds prove
/// unnecessary. The restarts share each pass over the rows.
pub(crate) fn lloyd_restarts(
    data: &Rows<'_>,
    inits: Vec<Centers>,
    max_iter: usize,
    tol: f64,
    buffers: &mut [Buffers],
) -> Vec<Run> {
    let elkan = bounds_per_row(data.n, inits[0].k, inits.len());
    lloyd_restarts_with(data, inits, max_iter, tol, buffers, elkan)
}

/// [`lloyd_restarts`] with Elkan's bounds (`Some` bounds per row) or Hamerly's (`None`).
pub(crate) fn lloyd_restarts_with(
    data: &Rows<'_>,
    inits: Vec<Centers>,
    max_iter: usize,
    tol: f64,
    buffers: &mut [Buffers],
    elkan: Option<usize>,
) -> Vec<Run> {
    let bounds = elkan.unwrap_or(1);
    for b in buffers.iter_mut() {
        // Every row is labelled by the first pass; the bounds are set there too.
        b.labels.resize(data.n, 0);
        b.labels[..data.n].fill(0);
        b.near.resize(data.n, 0.0);
        b.lower.resize(data.n * bounds, 0.0);
    }
    let mut restarts: Vec<Restart> = inits
        .into_iter()
        .map(|centers| Restart {
            centers,
            shifts: None,
            n_iter: 0,
            phase: Phase::Iterating,
        })
        .collect();
    while restarts.iter().any(|r| !matches!(r.phase, Phase::Done(_))) {
        let prepared: Vec<Option<Prepared>> = restarts
            .iter()
            .map(|r| match r.phase {
                Phase::Iterating => {
                    let packed =
                        Packed::new(&r.centers.data, r.centers.k, r.centers.d, r.centers.w);
                    let (between, gaps) = if let Some(slots) = elkan {
                        half_distances(&r.centers, slots)
                    } else {
                        (Vec::new(), half_gaps(&r.centers))
                    };
                    Some((packed, gaps, between))
                }
                Phase::Final { strict: false } if elkan.is_none() => Some((
                    Packed::new(&r.centers.data, r.centers.k, r.centers.d, r.centers.w),
                    half_gaps(&r.centers),
                    Vec::new(),
                )),
                _ => None,
            })
            .collect();
        let tasks: Vec<Task> = restarts
            .iter()
            .zip(&prepared)
            .map(|(r, prep)| match (&r.phase, prep) {
                (
                    Phase::Iterating | Phase::Final { strict: false },
                    Some((packed, gaps, between)),
                ) => {
                    let pass = Pass {
                        data,
                        centers: &r.centers,
                        packed,
                        half_gap: gaps,
                        shifts: r.shifts.as_ref(),
                        last: !matches!(r.phase, Phase::Iterating),
                    };
                    if elkan.is_some() {
                        Task::Elkan(pass, between)
                    } else {
                        Task::Bounded(pass)
                    }
                }
                (Phase::Final { strict: true }, _) => Task::Inertia(&r.centers),
                (Phase::Final { strict: false }, None) => Task::Assign(Packed::new(
                    &r.centers.data,
                    r.centers.k,
                    r.centers.d,
                    r.centers.w,
                )),
                _ => Task::Idle,
            })
            .collect();
        let results = shared_pass(data, &tasks, buffers, bounds);
        drop(tasks);
        for ((r, p), b) in restarts.iter_mut().zip(results).zip(buffers.iter()) {
            let labels = &b.labels[..data.n];
            match r.phase {
                Phase::Iterating => {
                    r.n_iter += 1;
                    advance(data, r, p, labels, max_iter, tol);
                }
                Phase::Final { strict } => {
                    r.phase = Phase::Done(Run {
                        centroids: r.centers.to_array(),
                        // Taken from the buffers once every restart is done.
                        labels: Vec::new(),
                        inertia: p.inertia,
                        n_iter: r.n_iter,
                        converged: r.n_iter < max_iter || strict,
                    });
                }
                Phase::Done(_) => {}
            }
        }
    }
    restarts
        .into_iter()
        .zip(buffers)
        .map(|(r, b)| match r.phase {
            Phase::Done(run) => {
                b.labels.truncate(data.n);
                Run {
                    labels: std::mem::take(&mut b.labels),
                    ..run
                }
            }
            _ => unreachable!("the loop runs until every restart is done"),
        })
        .collect()
}

/// Moves a restart's centres to the means of the assignment just made and decides whether it
/// has converged.
fn advance(
    data: &Rows<'_>,
    r: &mut Restart,
    p: Partial,
    labels: &[u32],
    max_iter: usize,
    tol: f64,
) {
    let old = &r.centers;
    let mut new = Centers {
        data: p.sums,
        ..old.clone()
    };
    let mut counts = p.counts;
    relocate_empty(data, old, labels, &mut new, &mut counts);
    for (sum, &n_j) in new.data.chunks_exact_mut(old.w).zip(&counts) {
        sum.iter_mut().for_each(|v| *v /= n_j as f64);
    }
    // The first pass labels every row from scratch, so "no label changed" only counts from
    // the second pass on (scikit-learn starts from labels that match nothing).
    if r.n_iter > 1 && p.changed == 0 {
        // Same partition, same sums in the same order: the new centres are bit-identical.
        r.centers = new;
        r.phase = Phase::Final { strict: true };
        return;
    }
    let shift: f64 = (0..old.k).map(|j| sq_dist(new.row(j), old.row(j))).sum();
    r.shifts = Some(Shifts::between(old, &new, r.shifts.as_ref()));
    r.centers = new;
    // Labels must match the final centres: one more assignment.
    if shift <= tol || r.n_iter == max_iter {
        r.phase = Phase::Final { strict: false };
    }
}

/// Empty clusters take the points farthest from their own centre (ties: lower row first);
/// the point's contribution moves from its old cluster's sum to the new one.
fn relocate_empty(
    data: &Rows<'_>,
    old: &Centers,
    labels: &[u32],
    sums: &mut Centers,
    counts: &mut [u64],
) {
    let empty: Vec<usize> = (0..counts.len()).filter(|&j| counts[j] == 0).collect();
    if empty.is_empty() {
        return;
    }
    let w = data.w;
    let dist: Vec<f64> = crate::chunks::map_chunks(data.n, |s, e| {
        data.rows(s, e)
            .zip(&labels[s..e])
            .map(|(r, &l)| sq_dist(r, old.row(l as usize)))
            .collect::<Vec<_>>()
    })
    .concat();
    let mut order: Vec<usize> = (0..data.n).collect();
    order.sort_by(|&a, &b| dist[b].total_cmp(&dist[a]).then(a.cmp(&b)));
    for (&j, &far) in empty.iter().zip(&order) {
        let from = labels[far] as usize;
        let row = data.row(far);
        sums.data[from * w..(from + 1) * w]
            .iter_mut()
            .zip(row)
            .for_each(|(s, v)| *s -= v);
        sums.data[j * w..(j + 1) * w].copy_from_slice(row);
        counts[from] -= 1;
        counts[j] = 1;
    }
}
