//! How much cluster structure a mean silhouette shows, in Kaufman and Rousseeuw's bands
//! (Finding Groups in Data, 1990, ch. 2), and what that means for using the segments.

/// A band of the mean silhouette.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Structure {
    /// Above 0.70.
    Strong,
    /// 0.51 to 0.70.
    Reasonable,
    /// 0.26 to 0.50: could be artificial.
    Weak,
    /// 0.25 or less.
    NoSubstantial,
}

impl Structure {
    /// The band of a mean silhouette. Kaufman and Rousseeuw quote two decimals, so the bands
    /// meet at 0.70, 0.50 and 0.25 and a value between their printed edges (0.505) takes the
    /// lower band.
    pub fn of(mean_silhouette: f64) -> Structure {
        match mean_silhouette {
            s if s > 0.70 => Structure::Strong,
            s if s > 0.50 => Structure::Reasonable,
            s if s > 0.25 => Structure::Weak,
            _ => Structure::NoSubstantial,
        }
    }

    /// The band's name, with its range.
    pub fn band(self) -> &'static str {
        match self {
            Structure::Strong => "strong structure (silhouette above 0.70)",
            Structure::Reasonable => "reasonable structure (silhouette 0.51–0.70)",
            Structure::Weak => "weak structure, could be artificial (silhouette 0.26–0.50)",
            Structure::NoSubstantial => "no substantial structure (silhouette 0.25 or less)",
        }
    }

    /// What the band means for using the segments.
    pub fn meaning(self) -> &'static str {
        match self {
            Structure::Strong => {
                "the segments are distinct groups; members sit clearly closer to their own segment than to any other"
            }
            Structure::Reasonable => {
                "the segments are real groups, with members at their edges that sit almost as close to a neighbouring segment"
            }
            Structure::Weak | Structure::NoSubstantial => {
                "the segments partition a continuum rather than separate distinct groups: use them as tiers along it (more or less of the same behaviour), not as types, and expect members near a border to move between neighbouring segments"
            }
        }
    }

    /// Band and meaning in one sentence, naming the mean silhouette.
    pub fn reading(mean_silhouette: f64) -> String {
        let s = Structure::of(mean_silhouette);
        format!(
            "Mean silhouette {mean_silhouette:.3}: {} in Kaufman and Rousseeuw's bands; {}.",
            s.band(),
            s.meaning()
        )
    }
}

/// A silhouette curve over K whose range (maximum − minimum) is below this is flat: no K
/// separates the data clearly better than another.
pub const FLAT_SILHOUETTE: f64 = 0.05;

/// A K's neighbour (K − 1 or K + 1) whose silhouette is at most this much below the chosen
/// K's is as good as the chosen K.
pub const AS_GOOD_SILHOUETTE: f64 = 0.02;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bands_follow_kaufman_and_rousseeuw() {
        let cases = [
            (0.71, Structure::Strong),
            (0.70, Structure::Reasonable),
            (0.51, Structure::Reasonable),
            (0.50, Structure::Weak),
            (0.26, Structure::Weak),
            (0.25, Structure::NoSubstantial),
            (-0.1, Structure::NoSubstantial),
        ];
        for (s, band) in cases {
            assert_eq!(Structure::of(s), band, "{s}");
        }
        let text = Structure::reading(0.23);
        assert!(
            text.contains("no substantial structure") && text.contains("tiers"),
            "{text}"
        );
    }
}
