//! The fitted column transform shared by the stages that build a model matrix (preprocess,
//! and robustness when it rebuilds the matrix without a feature block) and by `assign`, which
//! scores new contacts with a saved one: winsorize, impute, scale and cap, per column.

mod projection;
mod transform;

use std::sync::Arc;

use arrow::array::{ArrayRef, StringArray};
use serde::Deserialize;

use segflow_core::artifact::META_MODEL_COLUMNS;
use segflow_core::error::Location;
use segflow_core::params::Validate;
use segflow_core::{Error, Result};

pub use projection::{PcaSpec, Projection};
pub use transform::{ColumnTransform, Dominance, Transform};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Impute {
    /// Missing values take the column's median (after winsorizing).
    #[default]
    Median,
    /// Missing values are an error.
    None,
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
    #[serde(default)]
    pub impute: Impute,
    /// Add a 0/1 column `<name>_missing` for each column that had missing values.
    #[serde(default)]
    pub missing_indicators: bool,
    #[serde(default)]
    pub scale: Scale,
    /// Scaled values are capped to ±cap; `null` disables.
    #[serde(default = "default_cap")]
    pub cap: Option<f64>,
    /// Cluster on principal components of the scaled matrix instead of its columns.
    pub pca: Option<PcaSpec>,
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
        if let Some(p) = &self.pca {
            p.validate()?;
        }
        Ok(())
    }
}

/// The model columns of a features artifact as f64 (nulls → NaN), with their names.
pub fn model_columns(
    artifact: &segflow_core::artifact::Artifact,
    wanted: Option<&[String]>,
) -> Result<Vec<(String, Vec<f64>)>> {
    let names: Vec<String> = match wanted {
        Some(c) => c.to_vec(),
        None => {
            let meta = artifact.meta(META_MODEL_COLUMNS).ok_or_else(|| {
                Error::data(
                    Location::file(&artifact.path),
                    "no segflow.model_columns metadata; name the columns in params",
                )
            })?;
            serde_json::from_str(meta).map_err(|e| {
                Error::data(
                    Location::file(&artifact.path),
                    format!("bad model columns metadata: {e}"),
                )
            })?
        }
    };
    names
        .into_iter()
        .map(|name| {
            let values = artifact.float_column(&name)?;
            Ok((name, values))
        })
        .collect()
}

/// A strings column helper for the statistics tables.
pub(crate) fn strings(values: impl IntoIterator<Item = String>) -> ArrayRef {
    Arc::new(StringArray::from_iter_values(values))
}

/// A model matrix fitted on a features artifact.
pub struct Built {
    pub transform: Transform,
    pub dominance: Dominance,
    /// The principal components the model sees, when the params ask for them.
    pub projection: Option<Projection>,
    /// Columns in [`Built::columns`] order, rows in the artifact's order.
    pub matrix: Vec<Vec<f64>>,
}

impl Built {
    /// The matrix's column names: the transform's outputs, or `pc1…` after a projection.
    pub fn columns(&self) -> Vec<String> {
        match &self.projection {
            Some(p) => p.output_columns(),
            None => self.transform.output_columns(),
        }
    }
}

/// Selects the params' columns of a features artifact (default: its model columns), fits the
/// transform on them and applies it.
pub fn build(features: &segflow_core::artifact::Artifact, params: &Params) -> Result<Built> {
    let columns = model_columns(features, params.columns.as_deref())?;
    for name in &params.log1p {
        if !columns.iter().any(|(c, _)| c == name) {
            return Err(Error::config(
                "",
                "log1p",
                format!("`{name}` is not one of the preprocessed columns"),
            ));
        }
    }
    let (transform, dominance) =
        Transform::fit(&columns, params).map_err(|e| e.located(&features.path))?;
    let scaled = transform
        .apply(&columns)
        .map_err(|e| e.located(&features.path))?;
    let (projection, matrix) = match &params.pca {
        Some(spec) => {
            let p = Projection::fit(spec, transform.output_columns(), &scaled)
                .map_err(|e| e.located(&features.path))?;
            let projected = p.apply(&scaled);
            (Some(p), projected)
        }
        None => (None, scaled),
    };
    Ok(Built {
        transform,
        dominance,
        projection,
        matrix,
    })
}
