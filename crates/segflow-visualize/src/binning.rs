//! How many points fall where: the value histogram's bins (equal-width, or equal-width in
//! log10(1 + value) when the values are heavy-tailed) and the PCA density grid. The charts
//! draw what these functions count; the rules and thresholds live here, stated once.

/// Above this many points, the PCA scatter is drawn as a density and the silhouette plot
/// draws each segment's sorted values at a fixed resolution: one SVG element per point would
/// make the report of 10⁵ contacts megabytes large.
pub const POINTS_DRAWN_ONE_BY_ONE: usize = 5_000;

/// Sample skewness (the moment coefficient, m₃ / m₂^1.5) above which non-negative values are
/// heavy-tailed: their equal-width histogram would put nearly everything in the first bars.
pub const HEAVY_TAIL_SKEWNESS: f64 = 2.0;

/// The cells of the PCA density grid, across and up.
pub const DENSITY_GRID: (usize, usize) = (60, 36);

/// The axis a histogram is binned on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// Bins of equal width in the value.
    Linear,
    /// Bins of equal width in log10(1 + value), for heavy-tailed non-negative values.
    Log,
}

impl Scale {
    pub fn to_axis(self, value: f64) -> f64 {
        match self {
            Scale::Linear => value,
            Scale::Log => (1.0 + value).log10(),
        }
    }

    pub fn from_axis(self, axis: f64) -> f64 {
        match self {
            Scale::Linear => axis,
            Scale::Log => 10f64.powf(axis) - 1.0,
        }
    }
}

/// A histogram of finite values: `edges` (one more than `counts`) are on the axis of `scale`.
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    pub scale: Scale,
    /// The values' sample skewness (NaN when they do not vary), which chose the scale.
    pub skewness: f64,
    pub edges: Vec<f64>,
    pub counts: Vec<u64>,
}

/// The moment coefficient of skewness, m₃ / m₂^1.5 (scipy's `skew` with `bias=True`); NaN
/// when the values do not vary.
pub fn skewness(values: &[f64]) -> f64 {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let (mut m2, mut m3) = (0.0, 0.0);
    for &v in values {
        let d = v - mean;
        m2 += d * d;
        m3 += d * d * d;
    }
    let (m2, m3) = (m2 / n, m3 / n);
    if m2 > 0.0 {
        m3 / m2.powf(1.5)
    } else {
        f64::NAN
    }
}

/// The scale the value histogram uses: logarithmic when every value is ≥ 0 and the skewness
/// exceeds [`HEAVY_TAIL_SKEWNESS`].
pub fn scale_for(values: &[f64], skewness: f64) -> Scale {
    if skewness > HEAVY_TAIL_SKEWNESS && values.iter().all(|&v| v >= 0.0) {
        Scale::Log
    } else {
        Scale::Linear
    }
}

/// `bins` equal-width bins over the range of the finite `values` on the scale their shape
/// calls for. Values are placed as numpy's `histogram` places them (each bin half-open but
/// the last, edges from `linspace`), so its counts can be checked against numpy's.
pub fn histogram(values: &[f64], bins: usize) -> Histogram {
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    let skewness = skewness(&finite);
    let scale = scale_for(&finite, skewness);
    let axis: Vec<f64> = finite.iter().map(|&v| scale.to_axis(v)).collect();
    let (mut lo, mut hi) = axis
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &v| {
            (l.min(v), h.max(v))
        });
    if axis.is_empty() {
        (lo, hi) = (0.0, 1.0);
    } else if lo == hi {
        (lo, hi) = (lo - 0.5, hi + 0.5);
    }
    let step = (hi - lo) / bins as f64;
    let mut edges: Vec<f64> = (0..bins).map(|i| i as f64 * step + lo).collect();
    edges.push(hi);
    let mut counts = vec![0u64; bins];
    for &t in &axis {
        let mut i = (((t - lo) / (hi - lo)) * bins as f64) as usize;
        if i >= bins {
            i = bins - 1;
        }
        if t < edges[i] {
            i = i.saturating_sub(1);
        } else if t >= edges[i + 1] && i != bins - 1 {
            i += 1;
        }
        counts[i] += 1;
    }
    Histogram {
        scale,
        skewness,
        edges,
        counts,
    }
}

/// One occupied cell of the density grid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    /// Column and row (0 at the left and bottom).
    pub at: (usize, usize),
    pub count: u64,
    /// The segment most of its points belong to; ties go to the lowest id.
    pub segment: usize,
}

/// The points `(x, y, segment)` counted in a `grid` of equal cells over `x` × `y`; the
/// occupied cells in row-major order.
pub fn density(
    points: &[(f64, f64, usize)],
    x: &std::ops::Range<f64>,
    y: &std::ops::Range<f64>,
    grid: (usize, usize),
) -> Vec<Cell> {
    let place = |v: f64, r: &std::ops::Range<f64>, n: usize| {
        (((v - r.start) / (r.end - r.start) * n as f64).max(0.0) as usize).min(n - 1)
    };
    let mut per_cell: std::collections::BTreeMap<
        (usize, usize),
        std::collections::BTreeMap<usize, u64>,
    > = std::collections::BTreeMap::new();
    for &(px, py, segment) in points {
        if !(px.is_finite() && py.is_finite()) {
            continue;
        }
        let at = (place(py, y, grid.1), place(px, x, grid.0));
        *per_cell.entry(at).or_default().entry(segment).or_default() += 1;
    }
    per_cell
        .into_iter()
        .map(|((row, column), segments)| {
            let count = segments.values().sum();
            let (&segment, _) = segments
                .iter()
                .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
                .unwrap_or((&0, &0));
            Cell {
                at: (column, row),
                count,
                segment,
            }
        })
        .collect()
}

/// Above [`POINTS_DRAWN_ONE_BY_ONE`] points, the silhouette plot's outline keeps about this
/// many of the sorted values (more than the plot has pixel rows, so nothing visible is lost).
pub const SILHOUETTE_OUTLINE: usize = 1_000;

/// The step between the ranks the silhouette outline keeps for `n` points: 1 (every point)
/// up to [`POINTS_DRAWN_ONE_BY_ONE`].
pub fn outline_step(n: usize) -> usize {
    if n > POINTS_DRAWN_ONE_BY_ONE {
        n.div_ceil(SILHOUETTE_OUTLINE)
    } else {
        1
    }
}

/// The ranks of a sorted run of `n` values kept at `step`: every `step`-th, and the last, so
/// the outline keeps both ends.
pub fn thinned_ranks(n: usize, step: usize) -> Vec<usize> {
    let mut ranks: Vec<usize> = (0..n).step_by(step.max(1)).collect();
    if n > 0 && ranks.last() != Some(&(n - 1)) {
        ranks.push(n - 1);
    }
    ranks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_finite_value_is_counted_once() {
        let values = [0.0, 1.0, 1.0, 2.5, f64::NAN, 10.0, f64::INFINITY];
        let h = histogram(&values, 4);
        assert_eq!(h.counts.iter().sum::<u64>(), 5);
        assert_eq!(h.edges.len(), 5);
        assert_eq!(*h.edges.last().unwrap(), 10.0);
    }

    #[test]
    fn a_long_right_tail_switches_to_log_bins_and_symmetric_data_does_not() {
        let mut tail: Vec<f64> = (0..1000).map(|i| f64::from(i % 10)).collect();
        tail.push(100_000.0);
        let h = histogram(&tail, 20);
        assert_eq!(h.scale, Scale::Log);
        assert!(h.skewness > HEAVY_TAIL_SKEWNESS);
        let even: Vec<f64> = (0..1000).map(f64::from).collect();
        assert_eq!(histogram(&even, 20).scale, Scale::Linear);
        let negative: Vec<f64> = tail.iter().map(|v| v - 1.0).collect();
        assert_eq!(histogram(&negative, 20).scale, Scale::Linear);
    }

    #[test]
    fn constant_values_fill_one_bin_of_a_unit_range() {
        let h = histogram(&[3.0; 7], 5);
        assert_eq!(h.counts.iter().sum::<u64>(), 7);
        assert!(h.skewness.is_nan());
        assert_eq!((h.edges[0], h.edges[5]), (2.5, 3.5));
    }

    #[test]
    fn density_cells_count_every_point_and_take_the_majority_segment() {
        let points = [
            (0.1, 0.1, 2),
            (0.2, 0.15, 1),
            (0.15, 0.2, 1),
            (0.9, 0.9, 0),
            (1.0, 1.0, 3),
            (0.95, 0.99, 0),
        ];
        let cells = density(&points, &(0.0..1.0), &(0.0..1.0), (2, 2));
        assert_eq!(
            cells,
            vec![
                Cell {
                    at: (0, 0),
                    count: 3,
                    segment: 1
                },
                Cell {
                    at: (1, 1),
                    count: 3,
                    segment: 0
                },
            ]
        );
    }

    #[test]
    fn thinned_ranks_keep_both_ends() {
        assert_eq!(thinned_ranks(10, 3), vec![0, 3, 6, 9]);
        assert_eq!(thinned_ranks(9, 3), vec![0, 3, 6, 8]);
        assert_eq!(thinned_ranks(3, 1), vec![0, 1, 2]);
        assert!(thinned_ranks(0, 10).is_empty());
        assert_eq!(outline_step(POINTS_DRAWN_ONE_BY_ONE), 1);
        assert_eq!(outline_step(100_000), 100);
    }
}
