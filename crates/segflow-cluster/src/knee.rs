//! Kneedle (Satopää et al., 2011) on a decreasing convex curve such as inertia versus K.

/// Index of the knee of `points` (x increasing, y decreasing and convex), or `None` when the
/// curve has none. Both axes are normalised to [0, 1]; the difference curve
/// (1 − x) − y measures how far each point lies below the chord from the first to the last
/// point. The knee is the first local maximum of that curve that the curve later falls below
/// its threshold (maximum − mean x-step, sensitivity 1) from, before any new maximum.
pub fn kneedle(points: &[(f64, f64)]) -> Option<usize> {
    let n = points.len();
    if n < 3 {
        return None;
    }
    let (x0, x1) = (points[0].0, points[n - 1].0);
    let (ymin, ymax) = points
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
            (a.min(p.1), b.max(p.1))
        });
    if x1 <= x0 || ymax <= ymin {
        return None;
    }
    let xs: Vec<f64> = points.iter().map(|p| (p.0 - x0) / (x1 - x0)).collect();
    let diff: Vec<f64> = points
        .iter()
        .zip(&xs)
        .map(|(p, x)| (1.0 - x) - (p.1 - ymin) / (ymax - ymin))
        .collect();
    let step = 1.0 / (n - 1) as f64;
    let mut candidate: Option<(usize, f64)> = None;
    for i in 1..n {
        let is_max = i + 1 < n && diff[i] > diff[i - 1] && diff[i] >= diff[i + 1];
        if is_max && diff[i] > 0.0 {
            candidate = Some((i, diff[i] - step));
            continue;
        }
        if let Some((k, threshold)) = candidate
            && diff[i] < threshold
        {
            return Some(k);
        }
    }
    // A maximum that never fell below its threshold before the end still counts when the
    // curve ends at 0 (the last point), which is below every positive threshold.
    candidate.filter(|&(_, t)| diff[n - 1] < t).map(|(k, _)| k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_bend_of_a_convex_decreasing_curve() {
        let pts: Vec<(f64, f64)> = [100.0, 40.0, 20.0, 17.0, 15.0, 14.0, 13.5]
            .iter()
            .enumerate()
            .map(|(i, &y)| (i as f64 + 2.0, y))
            .collect();
        assert_eq!(kneedle(&pts), Some(2));
    }

    #[test]
    fn a_straight_line_has_no_knee() {
        let pts: Vec<(f64, f64)> = (0..6).map(|i| (i as f64, 10.0 - i as f64)).collect();
        assert_eq!(kneedle(&pts), None);
    }
}
