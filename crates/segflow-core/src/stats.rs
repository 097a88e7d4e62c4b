//! Small numerical helpers with pandas/numpy semantics, shared by stages.

/// Quantile of already sorted, finite values by linear interpolation at position (n − 1)·p,
/// numpy's and pandas' default. Returns NaN for an empty slice.
pub fn quantile_sorted(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let pos = (sorted.len() - 1) as f64 * p;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    let frac = pos - lo as f64;
    if lo == hi || frac == 0.0 {
        sorted[lo]
    } else {
        // numpy's formula (lerp via a + (b − a)·t) so the last digit agrees with the reference.
        sorted[lo] + (sorted[hi] - sorted[lo]) * frac
    }
}

/// The quantile [`quantile_sorted`] gives, of finite values in any order, reordering them in
/// place: two selections instead of a sort, and no copy, for log-wide thresholds over every
/// event. Returns NaN for an empty slice.
pub fn quantile_in_place(values: &mut [f64], p: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let pos = (values.len() - 1) as f64 * p;
    let lo = pos.floor() as usize;
    let frac = pos - lo as f64;
    let (_, &mut low, above) = values.select_nth_unstable_by(lo, f64::total_cmp);
    if frac == 0.0 || above.is_empty() {
        return low;
    }
    // The next order statistic is the smallest value above the selected one.
    let high = above.iter().copied().fold(f64::INFINITY, f64::min);
    low + (high - low) * frac
}

/// Sorts a copy with a total order (NaN last) and takes several quantiles.
pub fn quantiles(values: &[f64], ps: &[f64]) -> Vec<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    ps.iter().map(|&p| quantile_sorted(&sorted, p)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selecting_in_place_gives_the_sorted_quantile() {
        let values: Vec<f64> = (0..1000)
            .map(|i| ((i * 7919) % 1009) as f64 * 0.37)
            .collect();
        let mut sorted = values.clone();
        sorted.sort_by(f64::total_cmp);
        for p in [0.0, 0.01, 0.25, 0.5, 0.9, 0.95, 0.999, 1.0] {
            let mut scratch = values.clone();
            assert_eq!(
                quantile_in_place(&mut scratch, p).to_bits(),
                quantile_sorted(&sorted, p).to_bits()
            );
        }
        assert!(quantile_in_place(&mut [], 0.5).is_nan());
    }

    #[test]
    fn linear_interpolation_matches_numpy() {
        // numpy.quantile([1, 2, 3, 4], [0, .25, .5, .9, 1]) = [1, 1.75, 2.5, 3.7, 4]
        let q = quantiles(&[4.0, 1.0, 3.0, 2.0], &[0.0, 0.25, 0.5, 0.9, 1.0]);
        assert_eq!(q[0], 1.0);
        assert_eq!(q[1], 1.75);
        assert_eq!(q[2], 2.5);
        assert!((q[3] - 3.7).abs() < 1e-12);
        assert_eq!(q[4], 4.0);
        assert!(quantile_sorted(&[], 0.5).is_nan());
    }
}
