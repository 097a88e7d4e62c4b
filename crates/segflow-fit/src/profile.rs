//! Per-segment statistics of every numeric feature in original units: what the cards, the
//! profile, the names and the narratives are built from.

use segflow_core::stats::quantile_sorted;

/// Location and spread of one feature over a set of contacts (missing values left out).
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub median: f64,
    pub q25: f64,
    pub q75: f64,
    pub mean: f64,
    /// Population standard deviation (divisor n).
    pub std: f64,
    /// Share of contacts with a value above 0.
    pub share_positive: f64,
}

impl Summary {
    fn of(mut values: Vec<f64>) -> Summary {
        values.retain(|v| !v.is_nan());
        values.sort_by(f64::total_cmp);
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        Summary {
            median: quantile_sorted(&values, 0.5),
            q25: quantile_sorted(&values, 0.25),
            q75: quantile_sorted(&values, 0.75),
            mean,
            std: (values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n).sqrt(),
            share_positive: values.iter().filter(|v| **v > 0.0).count() as f64 / n,
        }
    }
}

#[derive(Debug, Clone)]
pub struct FeatureProfile {
    pub name: String,
    pub block: String,
    pub model_input: bool,
    pub all: Summary,
    pub clusters: Vec<Summary>,
}

impl FeatureProfile {
    pub fn new(
        name: String,
        block: String,
        model_input: bool,
        values: &[f64],
        labels: &[usize],
        k: usize,
    ) -> Self {
        let mut by_cluster = vec![Vec::new(); k];
        for (&v, &l) in values.iter().zip(labels) {
            by_cluster[l].push(v);
        }
        FeatureProfile {
            name,
            block,
            model_input,
            all: Summary::of(values.to_vec()),
            clusters: by_cluster.into_iter().map(Summary::of).collect(),
        }
    }

    /// (segment mean − mean of all contacts) / standard deviation of all contacts; 0 for a
    /// feature that does not vary.
    pub fn std_diff(&self, cluster: usize) -> f64 {
        if self.all.std == 0.0 {
            0.0
        } else {
            (self.clusters[cluster].mean - self.all.mean) / self.all.std
        }
    }
}

/// Per cluster: the model features by decreasing |standardized difference| (ties by feature
/// order), with the signed difference.
pub fn distinguishing(profiles: &[FeatureProfile], k: usize) -> Vec<Vec<(String, f64)>> {
    (0..k)
        .map(|c| {
            let mut d: Vec<(String, f64)> = profiles
                .iter()
                .filter(|p| p.model_input)
                .map(|p| (p.name.clone(), p.std_diff(c)))
                .collect();
            d.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()));
            d
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_follow_numpy_quantiles_and_skip_missing_values() {
        let p = FeatureProfile::new(
            "x".into(),
            "b".into(),
            true,
            &[1.0, 2.0, f64::NAN, 4.0, 10.0, 0.0],
            &[0, 0, 0, 0, 1, 1],
            2,
        );
        let c0 = &p.clusters[0];
        assert_eq!((c0.q25, c0.median, c0.q75), (1.5, 2.0, 3.0));
        assert_eq!(c0.mean, 7.0 / 3.0);
        assert_eq!(p.clusters[1].share_positive, 0.5);
        assert_eq!(p.all.mean, 17.0 / 5.0);
        let d = distinguishing(&[p], 2);
        assert!(d[1][0].1 > 0.0 && d[0][0].1 < 0.0);
    }
}
