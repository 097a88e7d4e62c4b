//! A per-segment statistic of one feature, as naming roles, thresholds and narratives name it:
//! `median`, `mean`, a quantile (`q90`, or `{quantile: 0.9}`), or `share_nonzero`.

use std::fmt;

use serde::Deserialize;

use segflow_core::stats::quantile_sorted;

#[derive(Debug, Clone, Copy, PartialEq, Default, Deserialize)]
#[serde(try_from = "StatText")]
pub enum Stat {
    #[default]
    Median,
    Mean,
    /// Linear interpolation, as numpy's default.
    Quantile(f64),
    /// Share of the segment's members whose value is not 0: for 0/1 flags and zero-heavy
    /// counts, where the median is 0 in most segments.
    ShareNonzero,
}

/// How a statistic is written in YAML: its name, or a map with the quantile.
#[derive(Deserialize)]
#[serde(untagged)]
enum StatText {
    Name(String),
    Quantile { quantile: f64 },
}

impl TryFrom<StatText> for Stat {
    type Error = String;

    fn try_from(text: StatText) -> Result<Stat, String> {
        match text {
            StatText::Name(name) => Stat::parse(&name),
            StatText::Quantile { quantile } => Stat::quantile(quantile),
        }
    }
}

impl Stat {
    /// `median`, `mean`, `share_nonzero`, or `q` and a percentage (`q90`, `q2.5`).
    pub fn parse(name: &str) -> Result<Stat, String> {
        match name {
            "median" => Ok(Stat::Median),
            "mean" => Ok(Stat::Mean),
            "share_nonzero" => Ok(Stat::ShareNonzero),
            _ => name
                .strip_prefix('q')
                .and_then(|pct| pct.parse::<f64>().ok())
                .ok_or_else(|| {
                    format!(
                        "unknown statistic `{name}`: expected median, mean, share_nonzero, \
                         or a quantile such as q90"
                    )
                })
                .and_then(|pct| Stat::quantile(pct / 100.0)),
        }
    }

    fn quantile(p: f64) -> Result<Stat, String> {
        if (0.0..=1.0).contains(&p) {
            Ok(Stat::Quantile(p))
        } else {
            Err(format!("a quantile lies in [0, 1] (q0 … q100), not {}", p))
        }
    }

    /// The statistic of a segment's values, missing values left out; NaN for no values.
    pub fn of(self, values: &[f64]) -> f64 {
        let mut v: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
        if v.is_empty() {
            return f64::NAN;
        }
        let n = v.len() as f64;
        match self {
            Stat::Mean => v.iter().sum::<f64>() / n,
            Stat::ShareNonzero => v.iter().filter(|x| **x != 0.0).count() as f64 / n,
            Stat::Median | Stat::Quantile(_) => {
                v.sort_by(f64::total_cmp);
                let p = if let Stat::Quantile(p) = self { p } else { 0.5 };
                quantile_sorted(&v, p)
            }
        }
    }

    /// Whether the statistic is a share in [0, 1], read as a percentage.
    pub fn is_share(self) -> bool {
        self == Stat::ShareNonzero
    }
}

impl fmt::Display for Stat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stat::Median => f.write_str("median"),
            Stat::Mean => f.write_str("mean"),
            Stat::ShareNonzero => f.write_str("share_nonzero"),
            // Rounded so that q90 reads back as written, not as 0.9 × 100 in binary.
            Stat::Quantile(p) => write!(f, "q{}", (p * 100.0 * 1e9).round() / 1e9),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics_are_named_as_in_yaml() {
        assert_eq!(Stat::parse("q90"), Ok(Stat::Quantile(0.9)));
        assert_eq!(Stat::parse("q2.5"), Ok(Stat::Quantile(0.025)));
        assert_eq!(Stat::parse("share_nonzero"), Ok(Stat::ShareNonzero));
        assert!(Stat::parse("q150").is_err());
        assert!(
            Stat::parse("modal")
                .unwrap_err()
                .contains("unknown statistic `modal`")
        );
        assert_eq!(Stat::Quantile(0.9).to_string(), "q90");
    }

    #[test]
    fn statistics_follow_numpy_and_skip_missing_values() {
        let v = [0.0, 0.0, 0.0, 4.0, f64::NAN, 1.0];
        assert_eq!(Stat::Median.of(&v), 0.0);
        assert_eq!(Stat::Mean.of(&v), 1.0);
        assert_eq!(Stat::ShareNonzero.of(&v), 0.4);
        // numpy.quantile([0, 0, 0, 1, 4], 0.9) = 1 + 0.6 × 3
        assert!((Stat::Quantile(0.9).of(&v) - 2.8).abs() < 1e-12);
        assert!(Stat::Mean.of(&[f64::NAN]).is_nan());
    }
}
