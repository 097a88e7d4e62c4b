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
