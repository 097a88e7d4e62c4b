//! The data layout and inner loops shared by k-means and the indices.
//!
//! Rows are stored with a stride rounded up to 4 (zero padding), so every distance runs over
//! whole 4-lane blocks with independent accumulators and vectorises. Hot loops are compiled
//! twice (baseline and AVX2) and the CPU picks at run time; both versions perform the same
//! operations in the same order (no fused multiply-add), so results are bit-identical.

use std::borrow::Cow;

use ndarray::ArrayView2;
use rayon::prelude::*;

use crate::chunks::CHUNK_ROWS;

/// Lanes per block; the row stride is a multiple of this.
pub const LANES: usize = 4;

/// Defines `fn NAME(args) -> R` that runs its body compiled for AVX2 when the CPU has it.
macro_rules! multiversion {
    ($(#[$meta:meta])* $vis:vis fn $name:ident$(<$($lt:lifetime),*>)?($($arg:ident : $ty:ty),* $(,)?) -> $ret:ty $body:block) => {
        $(#[$meta])*
        $vis fn $name$(<$($lt),*>)?($($arg: $ty),*) -> $ret {
            #[inline(always)]
            fn inner$(<$($lt),*>)?($($arg: $ty),*) -> $ret $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2")]
                unsafe fn avx2$(<$($lt),*>)?($($arg: $ty),*) -> $ret {
                    inner($($arg),*)
                }
                if std::arch::is_x86_feature_detected!("avx2") {
                    // SAFETY: the CPU supports AVX2, checked just above.
                    return unsafe { avx2($($arg),*) };
                }
            }
            inner($($arg),*)
        }
    };
}
pub(crate) use multiversion;

pub fn stride(d: usize) -> usize {
    d.div_ceil(LANES) * LANES
}

/// Row-major data with a stride that is a multiple of [`LANES`] (borrowed when the input
/// already has that layout).
pub struct Rows<'a> {
    data: Cow<'a, [f64]>,
    pub n: usize,
    pub d: usize,
    /// Row stride (d rounded up to a multiple of LANES).
    pub w: usize,
}

impl<'a> Rows<'a> {
    pub fn new<'b: 'a>(x: &'a ArrayView2<'b, f64>) -> Self {
        let (n, d) = x.dim();
        let w = stride(d);
        let data = match x.as_slice() {
            Some(s) if w == d => Cow::Borrowed(s),
            _ => {
                let mut v = vec![0.0; n * w];
                for (i, row) in x.rows().into_iter().enumerate() {
                    v[i * w..i * w + d]
                        .iter_mut()
                        .zip(row)
                        .for_each(|(o, x)| *o = *x);
                }
                Cow::Owned(v)
            }
        };
        Rows { data, n, d, w }
    }

    /// An owned copy of `x` with `shift` subtracted from each row, written by chunks of rows
    /// in parallel (at 10⁶ rows the copy and its page faults are a visible share of a fit).
    pub fn centred(x: &ArrayView2<'_, f64>, shift: &[f64]) -> Rows<'static> {
        let (n, d) = x.dim();
        let w = stride(d);
        let mut v = vec![0.0; n * w];
        v.par_chunks_mut(CHUNK_ROWS * w)
            .enumerate()
            .for_each(|(c, block)| {
                for (r, out) in block.chunks_exact_mut(w).enumerate() {
                    out.iter_mut()
                        .zip(x.row(c * CHUNK_ROWS + r))
                        .zip(shift)
                        .for_each(|((o, x), m)| *o = x - m);
                }
            });
        Rows {
            data: Cow::Owned(v),
            n,
            d,
            w,
        }
    }

    /// Row `i` including its zero padding.
    #[inline(always)]
    pub fn row(&self, i: usize) -> &[f64] {
        &self.data[i * self.w..(i + 1) * self.w]
    }

    pub fn rows(&self, start: usize, end: usize) -> std::slice::ChunksExact<'_, f64> {
        self.data[start * self.w..end * self.w].chunks_exact(self.w)
    }
}

/// Squared Euclidean distance of two padded rows (same stride).
#[inline(always)]
pub fn sq_dist(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0.0f64; LANES];
    for (x, y) in a.chunks_exact(LANES).zip(b.chunks_exact(LANES)) {
        for l in 0..LANES {
            let t = x[l] - y[l];
            acc[l] += t * t;
        }
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3])
}

/// Centres (or candidate points) packed for distance computations: groups of four, stored
/// coordinate-major, so one row's distances to four centres accumulate in one vector with
/// no horizontal sums.
pub struct Packed {
    k: usize,
    d: usize,
    groups: usize,
    data: Vec<[f64; LANES]>,
}

impl Packed {
    /// `rows` are k centres with stride `w`; only the first `d` coordinates matter.
    pub fn new(rows: &[f64], k: usize, d: usize, w: usize) -> Self {
        let groups = k.div_ceil(LANES);
        let mut data = vec![[0.0; LANES]; groups * d];
        for j in 0..k {
            for t in 0..d {
                data[(j / LANES) * d + t][j % LANES] = rows[j * w + t];
            }
        }
        Packed { k, d, groups, data }
    }

    /// Slots needed by [`Packed::distances`].
    pub fn slots(&self) -> usize {
        self.groups * LANES
    }

    /// Number of centres packed.
    pub fn count(&self) -> usize {
        self.k
    }

    /// Number of groups of [`LANES`] centres.
    pub fn groups(&self) -> usize {
        self.groups
    }

    /// Squared distance from `row` to centre `j`: lane `j` of [`Packed::distances`], computed
    /// alone in the same order, so bit for bit the same value.
    #[inline(always)]
    pub fn distance(&self, row: &[f64], j: usize) -> f64 {
        let (d, lane) = (self.d, j % LANES);
        let c = &self.data[(j / LANES) * d..(j / LANES + 1) * d];
        let (mut even, mut odd) = (0.0, 0.0);
        let mut pairs_x = row[..d].chunks_exact(2);
        let mut pairs_c = c.chunks_exact(2);
        for (x, cc) in (&mut pairs_x).zip(&mut pairs_c) {
            let u = x[0] - cc[0][lane];
            even += u * u;
            let v = x[1] - cc[1][lane];
            odd += v * v;
        }
        if let ([x], [cc]) = (pairs_x.remainder(), pairs_c.remainder()) {
            let u = x - cc[lane];
            even += u * u;
        }
        even + odd
    }

    /// Squared distances from `row` to every centre into `out[..k]` (`out[k..]` = +∞).
    #[inline(always)]
    pub fn distances(&self, row: &[f64], out: &mut [f64]) {
        for (g, slot) in out.chunks_exact_mut(LANES).enumerate().take(self.groups) {
            self.group_distances(row, g, slot);
        }
        out[self.k..].iter_mut().for_each(|v| *v = f64::INFINITY);
    }

    /// Squared distances from `row` to the centres of group `g` (centres `g * LANES ..`) into
    /// `slot[..LANES]`, by the same operations as [`Packed::distances`]; lanes past the last
    /// centre hold distances to padding, not +∞.
    #[inline(always)]
    pub fn group_distances(&self, row: &[f64], g: usize, slot: &mut [f64]) {
        let d = self.d;
        let c = &self.data[g * d..(g + 1) * d];
        // Two accumulators halve the dependency chain over coordinates.
        let mut even = [0.0f64; LANES];
        let mut odd = [0.0f64; LANES];
        let mut pairs_x = row[..d].chunks_exact(2);
        let mut pairs_c = c.chunks_exact(2);
        for (x, cc) in (&mut pairs_x).zip(&mut pairs_c) {
            for l in 0..LANES {
                let u = x[0] - cc[0][l];
                even[l] += u * u;
                let v = x[1] - cc[1][l];
                odd[l] += v * v;
            }
        }
        if let ([x], [cc]) = (pairs_x.remainder(), pairs_c.remainder()) {
            for l in 0..LANES {
                let u = x - cc[l];
                even[l] += u * u;
            }
        }
        for l in 0..LANES {
            slot[l] = even[l] + odd[l];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One centre's distance alone is bit for bit its lane of the packed distances, with an
    /// odd and an even number of columns.
    #[test]
    fn one_distance_is_its_lane_of_all_distances() {
        for d in [5, 12] {
            let w = stride(d);
            let value = |i: usize| ((i * 7919) % 1013) as f64 / 37.0 - 11.0;
            let centres: Vec<f64> = (0..7 * w).map(|i| value(i + 5)).collect();
            let packed = Packed::new(&centres, 7, d, w);
            let mut all = vec![0.0; packed.slots()];
            for r in 0..20 {
                let row: Vec<f64> = (0..w)
                    .map(|t| if t < d { value(r * 31 + t) } else { 0.0 })
                    .collect();
                packed.distances(&row, &mut all);
                for (j, v) in all[..7].iter().enumerate() {
                    assert_eq!(packed.distance(&row, j).to_bits(), v.to_bits());
                }
            }
        }
    }
}
