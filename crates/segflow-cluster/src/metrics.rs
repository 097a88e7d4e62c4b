//! Cluster validity indices with scikit-learn's definitions (sklearn.metrics): silhouette
//! (exact, sampled, per sample), Davies–Bouldin, Calinski–Harabasz, ARI, AMI, the contingency
//! table, and Jaccard similarity between the clusters of two labelings.
//!
//! Labels may be any integers; like scikit-learn they are re-encoded by sorted unique value.

use ndarray::{Array1, Array2, ArrayView2};
use rayon::prelude::*;

use crate::chunks::map_chunks;
use crate::kernel::{Rows, multiversion, sq_dist};
use crate::rng::Rng;
use crate::{ClusterError, Result, check_finite};

/// Labels re-encoded to 0..n_labels by sorted unique value.
struct Encoded {
    codes: Vec<usize>,
    n_labels: usize,
}

fn encode(labels: &[usize]) -> Encoded {
    let mut uniq = labels.to_vec();
    uniq.sort_unstable();
    uniq.dedup();
    let codes = labels
        .iter()
        .map(|l| uniq.binary_search(l).expect("present"))
        .collect();
    Encoded {
        codes,
        n_labels: uniq.len(),
    }
}

fn check_labels(x: &ArrayView2<'_, f64>, labels: &[usize]) -> Result<Encoded> {
    check_finite(x)?;
    if labels.len() != x.nrows() {
        return Err(ClusterError::InvalidInput(format!(
            "{} labels for {} rows",
            labels.len(),
            x.nrows()
        )));
    }
    let enc = encode(labels);
    let n = labels.len();
    if enc.n_labels < 2 || enc.n_labels > n - 1 {
        return Err(ClusterError::InvalidInput(format!(
            "number of labels is {}; valid values are 2 to n_samples - 1 = {} (inclusive)",
            enc.n_labels,
            n.saturating_sub(1)
        )));
    }
    Ok(enc)
}

/// Silhouette of each sample: (b − a) / max(a, b), where a is the mean distance to the other
/// members of its cluster and b the lowest mean distance to another cluster. Members of
/// singleton clusters score 0.
pub fn silhouette_samples(x: ArrayView2<'_, f64>, labels: &[usize]) -> Result<Array1<f64>> {
    let enc = check_labels(&x, labels)?;
    Ok(Array1::from(silhouette_encoded(&x, &enc)))
}

/// Mean silhouette over all samples (exact; O(n²·d), parallel).
pub fn silhouette_score(x: ArrayView2<'_, f64>, labels: &[usize]) -> Result<f64> {
    let s = silhouette_samples(x, labels)?;
    Ok(s.iter().sum::<f64>() / s.len() as f64)
}

/// Mean silhouette over `sample_size` rows drawn without replacement with `seed`, as
/// scikit-learn's `silhouette_score(…, sample_size=…)`: the exact score of the sample.
pub fn silhouette_score_sampled(
    x: ArrayView2<'_, f64>,
    labels: &[usize],
    sample_size: usize,
    seed: u64,
) -> Result<f64> {
    let idx = silhouette_sample_rows(x.nrows(), sample_size, seed)?;
    let s = silhouette_samples_of(x, labels, &idx)?;
    Ok(s.iter().sum::<f64>() / s.len() as f64)
}

/// The rows of a seeded silhouette sample: `sample_size` of `n`, without replacement, in
/// draw order.
pub fn silhouette_sample_rows(n: usize, sample_size: usize, seed: u64) -> Result<Vec<usize>> {
    if sample_size == 0 || sample_size > n {
        return Err(ClusterError::InvalidParam(format!(
            "sample_size = {sample_size} must lie in 1..={n}"
        )));
    }
    let mut rng = Rng::new(seed, 0);
    let mut idx: Vec<usize> = (0..n).collect();
    for i in 0..sample_size {
        let j = i + rng.below(n - i);
        idx.swap(i, j);
    }
    idx.truncate(sample_size);
    Ok(idx)
}

/// The silhouette of each row of `rows` within `rows` (the per-sample values behind
/// [`silhouette_score_sampled`] for the rows [`silhouette_sample_rows`] draws).
pub fn silhouette_samples_of(
    x: ArrayView2<'_, f64>,
    labels: &[usize],
    rows: &[usize],
) -> Result<Array1<f64>> {
    if labels.len() != x.nrows() {
        return Err(ClusterError::InvalidInput(format!(
            "{} labels for {} rows",
            labels.len(),
            x.nrows()
        )));
    }
    let xs = x.select(ndarray::Axis(0), rows);
    let ls: Vec<usize> = rows.iter().map(|&i| labels[i]).collect();
    silhouette_samples(xs.view(), &ls)
}

/// Lanes of the distance kernel: distances from one row to `LANES` rows at once.
const LANES: usize = 8;

fn silhouette_encoded(x: &ArrayView2<'_, f64>, enc: &Encoded) -> Vec<f64> {
    let (n, d, k) = (x.nrows(), x.ncols(), enc.n_labels);
    // Rows sorted by cluster, stored column-major, so each cluster is a contiguous run of each
    // column and the kernel computes LANES distances per step.
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| enc.codes[i]);
    let mut bounds = vec![0usize; k + 1];
    for &i in &order {
        bounds[enc.codes[i] + 1] += 1;
    }
    for c in 0..k {
        bounds[c + 1] += bounds[c];
    }
    let mut cols = vec![0.0; d * n];
    for (pos, &i) in order.iter().enumerate() {
        for t in 0..d {
            cols[t * n + pos] = x[[i, t]];
        }
    }
    let sizes: Vec<usize> = (0..k).map(|c| bounds[c + 1] - bounds[c]).collect();

    // sums[pos · k + c]: Σ of distances from sorted row `pos` to the rows of cluster c.
    let mut sums = vec![0.0; n * k];
    for c in 0..k {
        let own = own_sums(&cols, n, d, bounds[c], bounds[c + 1]);
        for (r, v) in own.into_iter().enumerate() {
            sums[(bounds[c] + r) * k + c] = v;
        }
    }
    // Between two clusters each distance is computed once and feeds both rows. Row blocks of
    // cluster a run in parallel; their partial sums for the rows of b are added in block order.
    for a in 0..k {
        for b in a + 1..k {
            let (a0, a1, b0, b1) = (bounds[a], bounds[a + 1], bounds[b], bounds[b + 1]);
            // At most 64 blocks, so the partial column sums stay within 64 × n values.
            let block = (a1 - a0).div_ceil(64).max(64);
            let parts: Vec<(Vec<f64>, Vec<f64>)> = (a0..a1)
                .step_by(block)
                .collect::<Vec<_>>()
                .into_par_iter()
                .map(|i0| cross_sums(&cols, n, d, i0, (i0 + block).min(a1), b0, b1))
                .collect();
            let mut column = vec![0.0; b1 - b0];
            for (blk, (rows, cols_part)) in parts.iter().enumerate() {
                for (r, v) in rows.iter().enumerate() {
                    sums[(a0 + blk * block + r) * k + b] = *v;
                }
                column.iter_mut().zip(cols_part).for_each(|(t, v)| *t += v);
            }
            for (j, v) in column.into_iter().enumerate() {
                sums[(b0 + j) * k + a] = v;
            }
        }
    }

    let mut scores = vec![0.0; n];
    for (pos, &i) in order.iter().enumerate() {
        let own = enc.codes[i];
        if sizes[own] == 1 {
            continue;
        }
        let s = &sums[pos * k..(pos + 1) * k];
        let a = s[own] / (sizes[own] - 1) as f64;
        let b = (0..k)
            .filter(|&c| c != own)
            .map(|c| s[c] / sizes[c] as f64)
            .fold(f64::INFINITY, f64::min);
        let v = (b - a) / a.max(b);
        // 0/0 (a row identical to all others) is 0, as scikit-learn's nan_to_num.
        scores[i] = if v.is_nan() { 0.0 } else { v };
    }
    scores
}

/// Rows per block of the within-cluster pass.
const OWN_BLOCK: usize = 256;

/// Σ of distances from each row of [a0, a1) to every row of [a0, a1) (one cluster). Each
/// distance between two blocks is computed once and feeds both rows' sums; a block with
/// itself is computed row by row. Block p's rows add their parts in a fixed order (the blocks
/// before p, p itself, then the blocks after it), so the sums do not depend on the threads.
fn own_sums(cols: &[f64], n: usize, d: usize, a0: usize, a1: usize) -> Vec<f64> {
    let len = a1 - a0;
    let blocks = len.div_ceil(OWN_BLOCK);
    let range = |p: usize| (a0 + p * OWN_BLOCK, (a0 + (p + 1) * OWN_BLOCK).min(a1));
    let mut sums = vec![0.0; len];
    for p in 0..blocks {
        let (p0, p1) = range(p);
        // Block p against itself and against every later block, side by side.
        let diagonal: Vec<f64> = (p0..p1)
            .into_par_iter()
            .map(|i| {
                let xi: Vec<f64> = (0..d).map(|t| cols[t * n + i]).collect();
                distance_sum(cols, n, &xi, p0, p1)
            })
            .collect();
        let later: Vec<(Vec<f64>, Vec<f64>)> = (p + 1..blocks)
            .into_par_iter()
            .map(|q| {
                let (q0, q1) = range(q);
                cross_sums(cols, n, d, p0, p1, q0, q1)
            })
            .collect();
        let (done, rest) = sums.split_at_mut(p1 - a0);
        let own = &mut done[p0 - a0..];
        own.iter_mut().zip(&diagonal).for_each(|(s, v)| *s += v);
        for (q, (rows, column)) in (p + 1..blocks).zip(later) {
            own.iter_mut().zip(&rows).for_each(|(s, v)| *s += v);
            let (q0, q1) = range(q);
            rest[q0 - p1..q1 - p1]
                .iter_mut()
                .zip(&column)
                .for_each(|(s, v)| *s += v);
        }
    }
    sums
}

multiversion! {
    /// Distances between rows [i0, i1) and rows [b0, b1) of the column-major matrix: the sum
    /// for each row of the first range, and for each row of the second.
    fn cross_sums(cols: &[f64], n: usize, d: usize, i0: usize, i1: usize, b0: usize, b1: usize) -> (Vec<f64>, Vec<f64>) {
        let mut rows = vec![0.0; i1 - i0];
        let mut column = vec![0.0; b1 - b0];
        let mut xi = vec![0.0; d];
        for (r, total) in rows.iter_mut().enumerate() {
            for (t, v) in xi.iter_mut().enumerate() {
                *v = cols[t * n + i0 + r];
            }
            let mut lanes = [0.0f64; LANES];
            let mut j = b0;
            while j + LANES <= b1 {
                let dists = lane_distances(cols, n, &xi, j);
                let out = &mut column[j - b0..j - b0 + LANES];
                for l in 0..LANES {
                    let dist = dists[l];
                    lanes[l] += dist;
                    out[l] += dist;
                }
                j += LANES;
            }
            *total = lanes.iter().sum();
            for q in j..b1 {
                let dist = distance(cols, n, &xi, q);
                *total += dist;
                column[q - b0] += dist;
            }
        }
        (rows, column)
    }
}

/// Distances from `xi` to the LANES rows starting at `j` of the column-major matrix.
#[inline(always)]
fn lane_distances(cols: &[f64], n: usize, xi: &[f64], j: usize) -> [f64; LANES] {
    let mut acc = [0.0f64; LANES];
    for (t, &v) in xi.iter().enumerate() {
        let col = &cols[t * n + j..t * n + j + LANES];
        for l in 0..LANES {
            let diff = v - col[l];
            acc[l] += diff * diff;
        }
    }
    acc.map(f64::sqrt)
}

/// Distance from `xi` to row `q` of the column-major matrix.
#[inline(always)]
fn distance(cols: &[f64], n: usize, xi: &[f64], q: usize) -> f64 {
    xi.iter()
        .enumerate()
        .map(|(t, &v)| (v - cols[t * n + q]) * (v - cols[t * n + q]))
        .fold(0.0, |a, x| a + x)
        .sqrt()
}

multiversion! {
    /// Σ_j ‖xi − x_j‖ over the rows j in [start, end) of the column-major matrix.
    fn distance_sum(cols: &[f64], n: usize, xi: &[f64], start: usize, end: usize) -> f64 {
        let mut lanes = [0.0f64; LANES];
        let mut j = start;
        while j + LANES <= end {
            let dists = lane_distances(cols, n, xi, j);
            for l in 0..LANES {
                lanes[l] += dists[l];
            }
            j += LANES;
        }
        let mut total: f64 = lanes.iter().sum();
        for q in j..end {
            total += distance(cols, n, xi, q);
        }
        total
    }
}

/// Per-cluster sums and counts in one deterministic parallel pass.
/// Centroids are returned with the data's padded stride.
fn cluster_means(data: &Rows<'_>, codes: &[usize], k: usize) -> (Vec<f64>, Vec<usize>) {
    let d = data.w;
    let parts = map_chunks(data.n, |s, e| {
        let mut sums = vec![0.0; k * d];
        let mut counts = vec![0usize; k];
        for (row, &c) in data.rows(s, e).zip(&codes[s..e]) {
            counts[c] += 1;
            sums[c * d..(c + 1) * d]
                .iter_mut()
                .zip(row)
                .for_each(|(a, v)| *a += v);
        }
        (sums, counts)
    });
    let mut sums = vec![0.0; k * d];
    let mut counts = vec![0usize; k];
    for (s, c) in parts {
        sums.iter_mut().zip(&s).for_each(|(a, v)| *a += v);
        counts.iter_mut().zip(&c).for_each(|(a, v)| *a += v);
    }
    for c in 0..k {
        sums[c * d..(c + 1) * d]
            .iter_mut()
            .for_each(|v| *v /= counts[c] as f64);
    }
    (sums, counts)
}

/// Davies–Bouldin index: mean over clusters of the worst (sᵢ + sⱼ) / dᵢⱼ, with sᵢ the mean
/// distance of members to their centroid. Lower is better.
pub fn davies_bouldin(x: ArrayView2<'_, f64>, labels: &[usize]) -> Result<f64> {
    let enc = check_labels(&x, labels)?;
    let data = Rows::new(&x);
    let (k, d) = (enc.n_labels, data.w);
    let (centroids, counts) = cluster_means(&data, &enc.codes, k);
    let parts = map_chunks(data.n, |s, e| {
        let mut acc = vec![0.0; k];
        for (row, &c) in data.rows(s, e).zip(&enc.codes[s..e]) {
            acc[c] += sq_dist(row, &centroids[c * d..(c + 1) * d]).sqrt();
        }
        acc
    });
    let mut intra = vec![0.0; k];
    for p in parts {
        intra.iter_mut().zip(&p).for_each(|(a, v)| *a += v);
    }
    intra
        .iter_mut()
        .zip(&counts)
        .for_each(|(a, &c)| *a /= c as f64);
    let centroid = |c: usize| &centroids[c * d..(c + 1) * d];
    let mut between = vec![0.0; k * k];
    for i in 0..k {
        for j in 0..k {
            between[i * k + j] = sq_dist(centroid(i), centroid(j)).sqrt();
        }
    }
    // numpy.allclose(v, 0): every |v| ≤ 1e-8.
    if intra.iter().all(|v| v.abs() <= 1e-8) || between.iter().all(|v| v.abs() <= 1e-8) {
        return Ok(0.0);
    }
    let scores: Vec<f64> = (0..k)
        .map(|i| {
            (0..k)
                .map(|j| {
                    let dist = if between[i * k + j] == 0.0 {
                        f64::INFINITY
                    } else {
                        between[i * k + j]
                    };
                    (intra[i] + intra[j]) / dist
                })
                .fold(f64::NEG_INFINITY, f64::max)
        })
        .collect();
    Ok(scores.iter().sum::<f64>() / k as f64)
}

/// Calinski–Harabasz index: between-cluster over within-cluster dispersion, each divided by
/// its degrees of freedom. Higher is better.
pub fn calinski_harabasz(x: ArrayView2<'_, f64>, labels: &[usize]) -> Result<f64> {
    let enc = check_labels(&x, labels)?;
    let data = Rows::new(&x);
    let (n, k, d) = (data.n, enc.n_labels, data.w);
    let (centroids, counts) = cluster_means(&data, &enc.codes, k);
    let mean: Vec<f64> = (0..d)
        .map(|t| {
            (0..k)
                .map(|c| centroids[c * d + t] * counts[c] as f64)
                .sum::<f64>()
                / n as f64
        })
        .collect();
    let extra: f64 = (0..k)
        .map(|c| counts[c] as f64 * sq_dist(&centroids[c * d..(c + 1) * d], &mean))
        .sum();
    let intra: f64 = map_chunks(n, |s, e| {
        data.rows(s, e)
            .zip(&enc.codes[s..e])
            .map(|(row, &c)| sq_dist(row, &centroids[c * d..(c + 1) * d]))
            .sum::<f64>()
    })
    .into_iter()
    .sum();
    Ok(if intra == 0.0 {
        1.0
    } else {
        extra * (n - k) as f64 / (intra * (k - 1) as f64)
    })
}

/// Counts of samples per (label of `a`, label of `b`); rows and columns follow the sorted
/// unique label values.
#[derive(Debug, Clone, PartialEq)]
pub struct Contingency {
    pub row_labels: Vec<usize>,
    pub col_labels: Vec<usize>,
    pub counts: Array2<u64>,
}

pub fn contingency(a: &[usize], b: &[usize]) -> Result<Contingency> {
    if a.len() != b.len() {
        return Err(ClusterError::InvalidInput(format!(
            "labelings of different lengths {} and {}",
            a.len(),
            b.len()
        )));
    }
    let label_values = |l: &[usize]| {
        let mut u = l.to_vec();
        u.sort_unstable();
        u.dedup();
        u
    };
    let (ra, rb) = (label_values(a), label_values(b));
    let (ea, eb) = (encode(a), encode(b));
    let mut counts = Array2::zeros((ea.n_labels, eb.n_labels));
    for (&i, &j) in ea.codes.iter().zip(&eb.codes) {
        counts[[i, j]] += 1;
    }
    Ok(Contingency {
        row_labels: ra,
        col_labels: rb,
        counts,
    })
}

/// Adjusted Rand index (pair counting, chance-corrected; 1 for identical partitions).
pub fn adjusted_rand_index(a: &[usize], b: &[usize]) -> Result<f64> {
    let c = contingency(a, b)?;
    let n = a.len() as i128;
    let n_c: Vec<i128> = c
        .counts
        .rows()
        .into_iter()
        .map(|r| r.sum() as i128)
        .collect();
    let n_k: Vec<i128> = c
        .counts
        .columns()
        .into_iter()
        .map(|col| col.sum() as i128)
        .collect();
    let sum_squares: i128 = c.counts.iter().map(|&v| (v as i128) * (v as i128)).sum();
    let mut fp = -sum_squares;
    let mut fn_ = -sum_squares;
    for ((i, j), &v) in c.counts.indexed_iter() {
        fp += v as i128 * n_k[j];
        fn_ += v as i128 * n_c[i];
    }
    let tp = sum_squares - n;
    let tn = n * n - fp - fn_ - sum_squares;
    if fn_ == 0 && fp == 0 {
        return Ok(1.0);
    }
    let num = tp * tn - fn_ * fp;
    let den = (tp + fn_) * (fn_ + tn) + (tp + fp) * (fp + tn);
    Ok(2.0 * num as f64 / den as f64)
}

fn entropy(counts: &[u64]) -> f64 {
    let nz: Vec<f64> = counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| c as f64)
        .collect();
    if nz.len() <= 1 {
        return 0.0;
    }
    let total: f64 = nz.iter().sum();
    -nz.iter()
        .map(|&p| (p / total) * (p.ln() - total.ln()))
        .sum::<f64>()
}

fn mutual_info(c: &Contingency) -> f64 {
    let (rows, cols) = c.counts.dim();
    if rows == 1 || cols == 1 {
        return 0.0;
    }
    let pi: Vec<f64> = c
        .counts
        .rows()
        .into_iter()
        .map(|r| r.sum() as f64)
        .collect();
    let pj: Vec<f64> = c
        .counts
        .columns()
        .into_iter()
        .map(|col| col.sum() as f64)
        .collect();
    let total: f64 = pi.iter().sum();
    let mut mi = 0.0;
    for ((i, j), &v) in c.counts.indexed_iter() {
        if v == 0 {
            continue;
        }
        let nm = v as f64 / total;
        let log_outer = -(pi[i] * pj[j]).ln() + total.ln() + total.ln();
        let term = nm * ((v as f64).ln() - total.ln()) + nm * log_outer;
        if term.abs() >= f64::EPSILON {
            mi += term;
        }
    }
    mi.max(0.0)
}

fn lgamma(x: f64) -> f64 {
    libm::lgamma(x)
}

/// Expected mutual information of two labelings with the given marginals under the
/// hypergeometric model (Vinh, Epps & Bailey), computed in log space.
fn expected_mutual_info(c: &Contingency, n: u64) -> f64 {
    let a: Vec<u64> = c.counts.rows().into_iter().map(|r| r.sum()).collect();
    let b: Vec<u64> = c
        .counts
        .columns()
        .into_iter()
        .map(|col| col.sum())
        .collect();
    if a.len() == 1 || b.len() == 1 {
        return 0.0;
    }
    let nf = n as f64;
    let max_nij = *a.iter().chain(&b).max().expect("non-empty") as usize;
    let log_nnij: Vec<f64> = (0..=max_nij)
        .map(|v| nf.ln() + (v.max(1) as f64).ln())
        .collect();
    let gln_nnij: Vec<f64> = (0..=max_nij)
        .map(|v| lgamma(v.max(1) as f64 + 1.0) + lgamma(nf + 1.0))
        .collect();
    let prep = |m: &[u64]| -> Vec<(f64, f64, f64)> {
        m.iter()
            .map(|&v| {
                (
                    (v as f64).ln(),
                    lgamma(v as f64 + 1.0),
                    lgamma((n - v) as f64 + 1.0),
                )
            })
            .collect()
    };
    let (pa, pb) = (prep(&a), prep(&b));
    let rows: Vec<f64> = (0..a.len())
        .into_par_iter()
        .map(|i| {
            let mut emi = 0.0;
            for j in 0..b.len() {
                let (ai, bj) = (a[i] as i64, b[j] as i64);
                let start = (ai - n as i64 + bj).max(1);
                let end = ai.min(bj) + 1;
                for nij in start..end {
                    let u = nij as usize;
                    let term1 = nij as f64 / nf;
                    let term2 = log_nnij[u] - pa[i].0 - pb[j].0;
                    let gln = pa[i].1 + pb[j].1 + pa[i].2 + pb[j].2
                        - gln_nnij[u]
                        - lgamma((ai - nij + 1) as f64)
                        - lgamma((bj - nij + 1) as f64)
                        - lgamma((n as i64 - ai - bj + nij + 1) as f64);
                    emi += term1 * term2 * gln.exp();
                }
            }
            emi
        })
        .collect();
    rows.iter().sum()
}

/// Adjusted mutual information with the arithmetic-mean normaliser (scikit-learn's default).
pub fn adjusted_mutual_info(a: &[usize], b: &[usize]) -> Result<f64> {
    let c = contingency(a, b)?;
    let (rows, cols) = c.counts.dim();
    if (rows == 1 && cols == 1) || a.is_empty() {
        return Ok(1.0);
    }
    let mi = mutual_info(&c);
    let emi = expected_mutual_info(&c, a.len() as u64);
    let row_counts: Vec<u64> = c.counts.rows().into_iter().map(|r| r.sum()).collect();
    let col_counts: Vec<u64> = c
        .counts
        .columns()
        .into_iter()
        .map(|col| col.sum())
        .collect();
    let normalizer = (entropy(&row_counts) + entropy(&col_counts)) / 2.0;
    let mut denominator = normalizer - emi;
    denominator = if denominator < 0.0 {
        denominator.min(-f64::EPSILON)
    } else {
        denominator.max(f64::EPSILON)
    };
    Ok((mi - emi) / denominator)
}

/// Jaccard similarity |A ∩ B| / |A ∪ B| between every cluster of `a` (rows) and of `b`
/// (columns), in sorted label order, as used for cluster-wise stability.
pub fn jaccard(a: &[usize], b: &[usize]) -> Result<(Contingency, Array2<f64>)> {
    let c = contingency(a, b)?;
    let rs: Vec<u64> = c.counts.rows().into_iter().map(|r| r.sum()).collect();
    let cs: Vec<u64> = c
        .counts
        .columns()
        .into_iter()
        .map(|col| col.sum())
        .collect();
    let j = Array2::from_shape_fn(c.counts.dim(), |(i, k)| {
        let inter = c.counts[[i, k]];
        inter as f64 / (rs[i] + cs[k] - inter) as f64
    });
    Ok((c, j))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ari_is_invariant_to_label_permutation() {
        let a = [0, 0, 1, 1, 2, 2, 2, 0];
        let b = [5, 5, 9, 9, 1, 1, 1, 5];
        assert_eq!(adjusted_rand_index(&a, &b).unwrap(), 1.0);
        assert!((adjusted_mutual_info(&a, &b).unwrap() - 1.0).abs() < 1e-12);
        let c = [0, 1, 0, 1, 0, 1, 0, 1];
        let ari = adjusted_rand_index(&a, &c).unwrap();
        let permuted: Vec<usize> = c.iter().map(|v| 1 - v).collect();
        assert_eq!(ari, adjusted_rand_index(&a, &permuted).unwrap());
    }

    #[test]
    fn jaccard_of_identical_partitions_is_one_on_the_matching() {
        let (_, j) = jaccard(&[0, 0, 1, 1], &[1, 1, 0, 0]).unwrap();
        assert_eq!(j[[0, 1]], 1.0);
        assert_eq!(j[[0, 0]], 0.0);
    }
}
