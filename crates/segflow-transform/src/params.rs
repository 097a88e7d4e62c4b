//! The preprocess params: which columns, how each is encoded, imputed and scaled, and the
//! checks that need no data.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use segflow_core::params::Validate;
use segflow_core::{Error, Result};

use crate::PcaSpec;

/// How a missing value is filled.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Impute {
    /// The column's median (after winsorizing).
    #[default]
    Median,
    /// The column's mean (after winsorizing).
    Mean,
    /// The most frequent value; ties go to the smallest value or label.
    MostFrequent,
    /// A fixed value: a number for a numeric column, a label for an encoded one.
    Constant(Fill),
    /// Missing values are an error.
    None,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum Fill {
    Number(f64),
    Label(String),
}

impl Impute {
    /// The word the transform artifact records for this method.
    pub fn method(&self) -> &'static str {
        match self {
            Impute::Median => "median",
            Impute::Mean => "mean",
            Impute::MostFrequent => "most_frequent",
            Impute::Constant(_) => "constant",
            Impute::None => "none",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scale {
    /// (x − median) / IQR; an IQR of 0 scales by 1 (scikit-learn's RobustScaler).
    #[default]
    Robust,
    /// (x − mean) / standard deviation (divisor n); a deviation of 0 scales by 1.
    Standard,
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EncodeKind {
    /// One 0/1 column per category.
    OneHot,
    /// One 0/1 column: yes/true/1 (or the declared `positive` labels) → 1.
    Binary,
    /// One column of ranks 0, 1, … in the declared `order`.
    Ordinal,
}

/// How encoded columns are scaled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EncodedScale {
    /// Left as coded (0/1, or ranks): a differing category adds 1 to a squared distance.
    #[default]
    AsIs,
    /// Centred and scaled by the stage's `scale`, and capped, like the numeric columns.
    LikeNumeric,
}

/// What `per_column` says about one column.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnParams {
    pub encode: Option<EncodeKind>,
    /// `one_hot`: keep the N most frequent categories (ties by label), the rest → `other`.
    pub top: Option<usize>,
    /// `one_hot`: the categories, in this order, instead of `top`.
    pub categories: Option<Vec<String>>,
    /// `one_hot` with `categories`: add `<column>_other` for every other label (default true).
    pub other: Option<bool>,
    /// `binary`: the labels that mean 1; every other label means 0.
    pub positive: Option<Vec<String>>,
    /// `ordinal`: every label, lowest first.
    pub order: Option<Vec<String>>,
    /// Encoded columns: overrides the stage's `encoded_scale`.
    pub scale: Option<EncodedScale>,
    /// Overrides the stage's `impute` (numeric columns) or `most_frequent` (encoded ones).
    pub impute: Option<Impute>,
    /// Adds `<column>_missing` (1 where the value was missing), scaled like numeric columns.
    #[serde(default)]
    pub missing_indicator: bool,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// Columns to use; default: the features artifact's model columns.
    pub columns: Option<Vec<String>>,
    /// Columns transformed with ln(1 + x) first.
    #[serde(default)]
    pub log1p: Vec<String>,
    /// Drop columns with at most one distinct value.
    #[serde(default = "yes")]
    pub drop_constant: bool,
    /// Lower and upper quantile each column is clipped to; `null` disables.
    #[serde(default = "default_winsorize")]
    pub winsorize: Option<[f64; 2]>,
    /// The imputation of numeric columns without their own `impute`.
    #[serde(default)]
    pub impute: Impute,
    /// Add an unscaled 0/1 column `<name>_missing` for each column that had missing values.
    #[serde(default)]
    pub missing_indicators: bool,
    #[serde(default)]
    pub scale: Scale,
    /// The scaling of encoded columns without their own `scale`.
    #[serde(default)]
    pub encoded_scale: EncodedScale,
    /// Scaled values are capped to ±cap; `null` disables.
    #[serde(default = "default_cap")]
    pub cap: Option<f64>,
    /// Cluster on principal components of the scaled matrix instead of its columns.
    pub pca: Option<PcaSpec>,
    /// Encoding, imputation and missing indicator of single columns.
    #[serde(default)]
    pub per_column: BTreeMap<String, ColumnParams>,
}

fn yes() -> bool {
    true
}
fn default_winsorize() -> Option<[f64; 2]> {
    Some([0.01, 0.99])
}
fn default_cap() -> Option<f64> {
    Some(10.0)
}

impl Validate for Params {
    fn validate(&self) -> Result<()> {
        if let Some([lo, hi]) = self.winsorize
            && !(0.0 <= lo && lo < hi && hi <= 1.0)
        {
            return Err(Error::config("", "winsorize", "needs 0 ≤ low < high ≤ 1"));
        }
        if let Some(cap) = self.cap
            && !(cap > 0.0 && cap.is_finite())
        {
            return Err(Error::config("", "cap", "must be a positive number"));
        }
        if self.columns.as_ref().is_some_and(|c| c.is_empty()) {
            return Err(Error::config("", "columns", "no columns"));
        }
        if let Impute::Constant(Fill::Label(_)) = self.impute {
            return Err(Error::config(
                "",
                "impute.constant",
                "the stage's `impute` fills numeric columns: give a number (a label goes in per_column)",
            ));
        }
        if let Some(p) = &self.pca {
            p.validate()?;
        }
        for (name, column) in &self.per_column {
            column.validate(name, self.missing_indicators)?;
        }
        Ok(())
    }
}

impl ColumnParams {
    fn validate(&self, name: &str, global_indicators: bool) -> Result<()> {
        let key = |k: &str| format!("per_column.{name}.{k}");
        let refuse = |k: &str, msg: &str| Err(Error::config("", key(k), msg.to_string()));
        let allowed: &[&str] = match self.encode {
            None => &[],
            Some(EncodeKind::OneHot) => &["top", "categories", "other"],
            Some(EncodeKind::Binary) => &["positive"],
            Some(EncodeKind::Ordinal) => &["order"],
        };
        let given = [
            ("top", self.top.is_some()),
            ("categories", self.categories.is_some()),
            ("other", self.other.is_some()),
            ("positive", self.positive.is_some()),
            ("order", self.order.is_some()),
            ("scale", self.scale.is_some()),
        ];
        for (k, present) in given {
            if present && !allowed.contains(&k) && !(k == "scale" && self.encode.is_some()) {
                return refuse(k, "does not apply to this column's `encode`");
            }
        }
        match self.encode {
            Some(EncodeKind::OneHot) => match (&self.top, &self.categories) {
                (Some(0), _) => return refuse("top", "must be at least 1"),
                (Some(_), None) => {
                    if self.other.is_some() {
                        return refuse(
                            "other",
                            "with `top`, `other` exists when there are more categories",
                        );
                    }
                }
                (None, Some(c)) => distinct_labels(c, &key("categories"))?,
                (Some(_), Some(_)) => {
                    return refuse("top", "give either `top: N` or `categories`, not both");
                }
                (None, None) => {}
            },
            Some(EncodeKind::Binary) => {
                if let Some(p) = &self.positive {
                    distinct_labels(p, &key("positive"))?;
                }
            }
            Some(EncodeKind::Ordinal) => match &self.order {
                Some(o) => distinct_labels(o, &key("order"))?,
                None => return refuse("order", "ordinal needs `order`: every label, lowest first"),
            },
            None => {}
        }
        match (&self.impute, self.encode) {
            (Some(Impute::Median | Impute::Mean), Some(_)) => {
                return refuse(
                    "impute",
                    "an encoded column takes most_frequent, constant or none",
                );
            }
            (Some(Impute::Constant(Fill::Number(_))), Some(_)) => {
                return refuse(
                    "impute.constant",
                    "an encoded column is filled with a label: quote it",
                );
            }
            (Some(Impute::Constant(Fill::Label(_))), None) => {
                return refuse(
                    "impute.constant",
                    "a numeric column is filled with a number",
                );
            }
            _ => {}
        }
        if self.missing_indicator && global_indicators {
            return refuse(
                "missing_indicator",
                "the stage's `missing_indicators: true` already adds `<column>_missing`",
            );
        }
        Ok(())
    }
}

/// A non-empty list without repeats.
fn distinct_labels(labels: &[String], key: &str) -> Result<()> {
    if labels.is_empty() {
        return Err(Error::config("", key, "needs at least one label"));
    }
    for (i, l) in labels.iter().enumerate() {
        if labels[..i].contains(l) {
            return Err(Error::config("", key, format!("`{l}` is listed twice")));
        }
    }
    Ok(())
}
