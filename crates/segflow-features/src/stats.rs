//! Statistics of one contact's values: what each aggregation computes once the events it sees
//! are chosen.

use segflow_core::calendar::MICROS_PER_SECOND;
use segflow_core::stats::quantile_sorted;

/// Sum in event order, and the number of values; the sum of nothing is 0.
pub fn sum(values: impl Iterator<Item = f64> + Clone) -> (f64, usize) {
    let n = values.clone().count();
    // Iterator::sum over the values as given: the order (and so the last digit) pandas
    // reproduces for short groups.
    (if n == 0 { 0.0 } else { values.sum() }, n)
}

pub fn mean(values: impl Iterator<Item = f64> + Clone) -> Option<f64> {
    let (sum, n) = sum(values);
    (n > 0).then(|| sum / n as f64)
}

/// Sample standard deviation (ddof 1), by the corrected two-pass algorithm: the mean first,
/// then the squared deviations from it, less the rounding error left in that mean. Stable
/// where Σx² − (Σx)²/n cancels catastrophically.
pub fn std(values: impl Iterator<Item = f64> + Clone) -> Option<f64> {
    let (total, n) = sum(values.clone());
    if n < 2 {
        return None;
    }
    let mean = total / n as f64;
    let (mut squares, mut residual) = (0.0, 0.0);
    for x in values {
        let d = x - mean;
        squares += d * d;
        residual += d;
    }
    let variance = (squares - residual * residual / n as f64) / (n - 1) as f64;
    Some(variance.max(0.0).sqrt())
}

/// Quantile by linear interpolation of sorted values; none of nothing.
pub fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    (!sorted.is_empty()).then(|| quantile_sorted(sorted, q))
}

pub fn min(values: impl Iterator<Item = f64>) -> Option<f64> {
    values.reduce(f64::min)
}

pub fn max(values: impl Iterator<Item = f64>) -> Option<f64> {
    values.reduce(f64::max)
}

/// A duration in µs as days.
pub fn days(micros: i64) -> f64 {
    // pandas: Timedelta.total_seconds() / 86400, in that order, for the same last digit.
    (micros as f64 / MICROS_PER_SECOND as f64) / 86_400.0
}

/// The gaps in days between consecutive distinct days of sorted, deduplicated day numbers.
pub fn gaps(days: &[i64]) -> Vec<f64> {
    days.windows(2).map(|w| (w[1] - w[0]) as f64).collect()
}

/// The number of distinct keys; `keys` is sorted in place.
pub fn distinct<K: PartialEq>(
    keys: &mut [K],
    order: impl Fn(&K, &K) -> std::cmp::Ordering,
) -> usize {
    keys.sort_unstable_by(&order);
    let mut n = 0;
    for (i, k) in keys.iter().enumerate() {
        if i == 0 || keys[i - 1] != *k {
            n += 1;
        }
    }
    n
}

/// The most frequent key, the smallest in `order` among equally frequent ones; `keys` is
/// sorted in place.
pub fn mode<K: PartialEq + Copy>(
    keys: &mut [K],
    order: impl Fn(&K, &K) -> std::cmp::Ordering,
) -> Option<K> {
    keys.sort_unstable_by(&order);
    let mut best: Option<(K, usize)> = None;
    let mut start = 0;
    for i in 1..=keys.len() {
        if i == keys.len() || keys[i] != keys[start] {
            // Runs come in ascending order, so a later run wins only with a higher count.
            if best.is_none_or(|(_, count)| i - start > count) {
                best = Some((keys[start], i - start));
            }
            start = i;
        }
    }
    best.map(|(key, _)| key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn std_is_the_sample_deviation_and_needs_two_values() {
        assert_eq!(std([1.0].into_iter()), None);
        // numpy.std([2, 4, 4, 4, 5, 5, 7, 9], ddof=1) = 2.138089935299395
        let s = std([2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0].into_iter()).unwrap();
        assert!((s - 2.138_089_935_299_395).abs() < 1e-15, "{s}");
    }

    #[test]
    fn std_survives_a_large_offset() {
        // Σx² − (Σx)²/n loses every digit here; the two-pass algorithm keeps them.
        let xs = [1e9 + 4.0, 1e9 + 7.0, 1e9 + 13.0, 1e9 + 16.0];
        let s = std(xs.into_iter()).unwrap();
        assert!((s - 30f64.sqrt()).abs() < 1e-12, "{s}");
    }

    #[test]
    fn mode_breaks_ties_by_the_smallest_key() {
        let cmp = |a: &i64, b: &i64| a.cmp(b);
        assert_eq!(mode(&mut [3, 1, 3, 1, 2], cmp), Some(1));
        assert_eq!(mode(&mut [3, 1, 3, 2], cmp), Some(3));
        assert_eq!(mode(&mut [] as &mut [i64], cmp), None);
        assert_eq!(distinct(&mut [3, 1, 3, 2], cmp), 3);
    }

    #[test]
    fn gaps_between_active_days() {
        assert_eq!(gaps(&[10, 11, 15]), vec![1.0, 4.0]);
        assert!(gaps(&[10]).is_empty());
    }
}
