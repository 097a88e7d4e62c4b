//! Kneedle (Satopää et al., 2011) on a decreasing convex curve such as inertia versus K.

/// Below this Kneedle difference a knee is too faint to read as one, and a rule that reads the
/// knee says "no clear knee" instead. A curve that falls like −log K, evenly on a log scale with
/// no K standing out, peaks at 0.21 over K = 2..12 and 0.18 over K = 2..8; a straight line at 0.
/// A difference above it is a bend, not proof of cluster structure: K^-1, the inertia of
/// uniform data in two dimensions, reaches 0.42.
pub const CLEAR_KNEE: f64 = 0.25;

/// The knee of a curve: its index, and its strength as Kneedle's difference value (how far the
/// normalised point lies below the chord from the first to the last point, in [0, 1]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Knee {
    pub index: usize,
    pub difference: f64,
}

impl Knee {
    /// Whether the knee is strong enough to read as one (difference ≥ [`CLEAR_KNEE`]).
    pub fn is_clear(&self) -> bool {
        self.difference >= CLEAR_KNEE
    }
}

/// The knee of `points` (x increasing, y decreasing and convex), or `None` when the curve has
/// none. Both axes are normalised to [0, 1]; the difference curve (1 − x) − y measures how far
/// each point lies below the chord from the first to the last point. The knee is the first
/// local maximum of that curve that the curve later falls below its threshold (maximum − mean
/// x-step, sensitivity 1) from, before any new maximum.
pub fn kneedle(points: &[(f64, f64)]) -> Option<Knee> {
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
    let knee = |index: usize| Knee {
        index,
        difference: diff[index],
    };
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
            return Some(knee(k));
        }
    }
    // A maximum that never fell below its threshold before the end still counts when the
    // curve ends at 0 (the last point), which is below every positive threshold.
    candidate
        .filter(|&(_, t)| diff[n - 1] < t)
        .map(|(k, _)| knee(k))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn curve(ys: &[f64]) -> Vec<(f64, f64)> {
        ys.iter()
            .enumerate()
            .map(|(i, &y)| (i as f64 + 2.0, y))
            .collect()
    }

    #[test]
    fn finds_the_bend_of_a_convex_decreasing_curve() {
        let knee = kneedle(&curve(&[100.0, 40.0, 20.0, 17.0, 15.0, 14.0, 13.5])).unwrap();
        assert_eq!(knee.index, 2);
        // (1 − 2/6) − (20 − 13.5)/(100 − 13.5), computed by hand.
        assert!((knee.difference - (2.0 / 3.0 - 6.5 / 86.5)).abs() < 1e-12);
        assert!(knee.is_clear());
    }

    #[test]
    fn a_straight_line_has_no_knee() {
        let pts: Vec<(f64, f64)> = (0..6).map(|i| (i as f64, 10.0 - i as f64)).collect();
        assert_eq!(kneedle(&pts), None);
    }

    #[test]
    fn a_logarithmic_decay_has_no_clear_knee() {
        // 100 − 10 ln K over K = 2..12: convex and decreasing, but it bends evenly on a log
        // scale, so no K stands out; its largest Kneedle difference is about 0.21.
        let ys: Vec<f64> = (2..13).map(|k| 100.0 - 10.0 * (k as f64).ln()).collect();
        let knee = kneedle(&curve(&ys));
        assert!(knee.is_none_or(|k| !k.is_clear()), "{knee:?}");
    }
}
