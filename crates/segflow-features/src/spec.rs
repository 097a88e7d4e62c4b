//! The feature configuration: blocks of named features, each one aggregation, and the checks
//! that need no data.

use indexmap::IndexMap;
use serde::Deserialize;

use segflow_core::params::Validate;
use segflow_core::{Error, Result};

use crate::feature::{Aggregation, Condition, Feature};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// Reference time for recency: `latest_event` (the latest event in the data, so results do
    /// not depend on the wall clock) or a timestamp `YYYY-MM-DD HH:MM:SS`.
    #[serde(default = "default_as_of")]
    pub as_of: String,
    /// Block name → (feature name → aggregation), in output column order.
    pub blocks: IndexMap<String, IndexMap<String, Feature>>,
    /// Blocks whose columns are model inputs; the others are for interpretation only.
    pub model_blocks: Vec<String>,
    /// Fixed global thresholds by feature name (`value_ge_quantile` shares) instead of
    /// quantiles of this data: scoring new contacts against the training bar.
    #[serde(default)]
    pub thresholds: IndexMap<String, f64>,
    /// Contacts with fewer events than this (all their events, before any `where`) are left
    /// out of the features and listed in the `excluded` artifact.
    #[serde(default = "one")]
    pub min_events: u64,
}

fn default_as_of() -> String {
    "latest_event".into()
}

fn one() -> u64 {
    1
}

impl Validate for Params {
    fn validate(&self) -> Result<()> {
        self.check_as_of()?;
        let names = self.check_features()?;
        self.check_references(&names)?;
        self.derived_order().map_err(|cycle| {
            Error::config(
                "",
                "blocks",
                format!("features refer to each other in a cycle: {cycle}"),
            )
        })?;
        self.check_model_blocks()?;
        self.check_thresholds()?;
        if self.model_blocks.is_empty() {
            return bad("model_blocks", "at least one block must be a model input");
        }
        if self.min_events == 0 {
            return bad("min_events", "must be at least 1");
        }
        Ok(())
    }
}

/// A config error at `key` of the features params.
fn bad<T>(key: impl Into<String>, message: impl Into<String>) -> Result<T> {
    Err(Error::config("", key, message))
}

/// The arguments a feature's aggregation takes, in their ranges.
fn check_arguments(key: &str, feature: &Feature) -> Result<()> {
    match &feature.aggregation {
        Aggregation::Quantile(q) if !(0.0..=1.0).contains(q) => {
            bad(key, "quantile must lie in [0, 1]")
        }
        Aggregation::Share(Condition::ValueGeQuantile(q)) if !(0.0..=1.0).contains(q) => {
            bad(key, "quantile must lie in [0, 1]")
        }
        Aggregation::Share(Condition::HourIn(range)) => range.check().or_else(|m| bad(key, m)),
        Aggregation::CategoryShares { top: 0 } => bad(key, "top must be at least 1"),
        _ => Ok(()),
    }
}

impl Params {
    fn check_as_of(&self) -> Result<()> {
        if self.as_of != "latest_event" && self.as_of_micros().is_none() {
            return bad(
                "as_of",
                "must be `latest_event` or a timestamp YYYY-MM-DD HH:MM:SS",
            );
        }
        Ok(())
    }

    /// Non-empty blocks of uniquely named features with valid arguments; the names in
    /// declaration order.
    fn check_features(&self) -> Result<Vec<&str>> {
        if self.blocks.is_empty() {
            return bad("blocks", "no feature blocks");
        }
        let mut names: Vec<&str> = Vec::new();
        for (block, features) in &self.blocks {
            if features.is_empty() {
                return bad(format!("blocks.{block}"), "empty block");
            }
            for (name, feature) in features {
                let key = format!("blocks.{block}.{name}");
                if names.contains(&name.as_str()) {
                    return bad(key, "feature defined twice");
                }
                names.push(name);
                check_arguments(&key, feature)?;
            }
        }
        Ok(names)
    }

    /// Derived features refer to features defined somewhere, each one column.
    fn check_references(&self, names: &[&str]) -> Result<()> {
        for (block, name, feature) in self.features() {
            for input in feature.inputs() {
                if !names.contains(&input) {
                    return bad(
                        format!("blocks.{block}.{name}"),
                        format!(
                            "refers to unknown feature `{input}`{}",
                            segflow_core::suggest::did_you_mean(input, names.iter().copied())
                        ),
                    );
                }
                if self.blocks.values().any(|f| {
                    f.get(input).is_some_and(|f| {
                        matches!(f.aggregation, Aggregation::CategoryShares { .. })
                    })
                }) {
                    return bad(
                        format!("blocks.{block}.{name}"),
                        format!("`{input}` expands to several columns"),
                    );
                }
            }
        }
        Ok(())
    }

    /// Model blocks exist and hold only measures: a mode is a label (text, a flag, a code),
    /// never a model input.
    fn check_model_blocks(&self) -> Result<()> {
        for (i, block) in self.model_blocks.iter().enumerate() {
            let Some(features) = self.blocks.get(block) else {
                return bad(
                    format!("model_blocks[{i}]"),
                    format!(
                        "unknown block `{block}`{}",
                        segflow_core::suggest::did_you_mean(
                            block,
                            self.blocks.keys().map(String::as_str)
                        )
                    ),
                );
            };
            if let Some((name, _)) = features
                .iter()
                .find(|(_, f)| f.aggregation == Aggregation::Mode)
            {
                return bad(
                    format!("blocks.{block}.{name}"),
                    format!(
                        "a mode is a label, not a model input, and `{block}` is in \
                         model_blocks; move it to a block for interpretation"
                    ),
                );
            }
        }
        Ok(())
    }

    fn check_thresholds(&self) -> Result<()> {
        for name in self.thresholds.keys() {
            if !self.features().any(|(_, n, f)| {
                n == name
                    && matches!(
                        f.aggregation,
                        Aggregation::Share(Condition::ValueGeQuantile(_))
                    )
            }) {
                return bad(
                    format!("thresholds.{name}"),
                    "not a feature with a global threshold (value_ge_quantile)",
                );
            }
        }
        Ok(())
    }
}

impl Params {
    pub fn as_of_micros(&self) -> Option<i64> {
        chrono::NaiveDateTime::parse_from_str(&self.as_of, "%Y-%m-%d %H:%M:%S")
            .ok()
            .map(|t| t.and_utc().timestamp_micros())
    }

    /// Every feature in declaration order with its block.
    pub fn features(&self) -> impl Iterator<Item = (&str, &str, &Feature)> {
        self.blocks
            .iter()
            .flat_map(|(b, fs)| fs.iter().map(move |(n, f)| (b.as_str(), n.as_str(), f)))
    }

    /// Derived features (ratio, log1p) ordered so each comes after what it refers to.
    pub fn derived_order(&self) -> std::result::Result<Vec<&str>, String> {
        let derived: Vec<(&str, &Feature)> = self
            .features()
            .filter(|(_, _, f)| !f.inputs().is_empty())
            .map(|(_, n, f)| (n, f))
            .collect();
        let mut order: Vec<&str> = Vec::new();
        while order.len() < derived.len() {
            let ready = derived.iter().find(|(n, f)| {
                !order.contains(n)
                    && f.inputs()
                        .iter()
                        .all(|i| order.contains(i) || !derived.iter().any(|(d, _)| d == i))
            });
            match ready {
                Some((n, _)) => order.push(n),
                None => {
                    let rest: Vec<&str> = derived
                        .iter()
                        .map(|(n, _)| *n)
                        .filter(|n| !order.contains(n))
                        .collect();
                    return Err(rest.join(", "));
                }
            }
        }
        Ok(order)
    }
}
