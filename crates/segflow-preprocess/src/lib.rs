//! The preprocess stage: from the features artifact to the model matrix.
//!
//! In order: select the model columns (optionally log1p some), drop truly constant columns,
//! winsorize each column to its own quantiles, impute missing values with the median, scale
//! (robust, standard or none), cap. Every fitted statistic is written to `transform.parquet`;
//! the matrix itself is produced by applying that transform, so applying it to new rows
//! (scoring) is the same arithmetic, not a re-implementation.

mod transform;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Float64Array, StringArray};
use serde::Deserialize;

use segflow_core::artifact::{
    META_BLOCKS, META_ID_COLUMN, META_MODEL_COLUMNS, batch, read_parquet,
};
use segflow_core::error::Location;
use segflow_core::stage::{
    OutputDir, Planned, Stage, StageCtx, Validate, parse_params, parse_valid, single_input,
};
use segflow_core::{Error, Result};

pub use transform::{ColumnTransform, Transform};

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

pub struct Outputs {
    pub transform: Transform,
    pub rows: u64,
}

pub fn run(
    input: &Path,
    params: &Params,
    out: &mut OutputDir,
    ctx: &StageCtx<'_>,
) -> Result<Outputs> {
    params.validate()?;
    (ctx.progress)("reading features");
    let artifact = read_parquet(input)?;
    if artifact.kind() != Some("features") {
        return Err(Error::data(
            Location::file(input),
            "expected a features artifact",
        ));
    }
    let id_name = artifact
        .meta(META_ID_COLUMN)
        .unwrap_or("contact_id")
        .to_string();
    let ids = artifact.column(&id_name)?.clone();
    let columns = model_columns(&artifact, params.columns.as_deref())?;
    for name in &params.log1p {
        if !columns.iter().any(|(c, _)| c == name) {
            return Err(Error::config(
                "",
                "log1p",
                format!("`{name}` is not one of the preprocessed columns"),
            ));
        }
    }
    (ctx.progress)("fitting the transform");
    let (transform, dominance) = Transform::fit(&columns, params).map_err(|e| e.located(input))?;
    let matrix = transform.apply(&columns).map_err(|e| e.located(input))?;

    let output_names = transform.output_columns();
    let mut arrays: Vec<(&str, ArrayRef)> = vec![(id_name.as_str(), ids)];
    for (name, values) in output_names.iter().zip(&matrix) {
        arrays.push((name.as_str(), Arc::new(Float64Array::from(values.clone()))));
    }
    let blocks = kept_blocks(artifact.meta(META_BLOCKS), &output_names);
    let extra = vec![
        (META_ID_COLUMN.to_string(), id_name.clone()),
        (
            META_MODEL_COLUMNS.to_string(),
            serde_json::to_string(&output_names).expect("strings"),
        ),
        (META_BLOCKS.to_string(), blocks),
    ];
    let rows = ids_len(&arrays);
    out.write("matrix", &batch(arrays)?, &extra)?;
    out.write("transform", &transform.to_batch()?, &[])?;
    out.write("dominance", &dominance.to_batch()?, &[])?;
    Ok(Outputs { transform, rows })
}

fn ids_len(arrays: &[(&str, ArrayRef)]) -> u64 {
    arrays[0].1.len() as u64
}

/// The features' block layout restricted to the matrix columns (missing indicators form a
/// block of their own), so later stages can drop a whole block.
fn kept_blocks(meta: Option<&str>, output: &[String]) -> String {
    let parsed: Vec<serde_json::Value> = meta
        .and_then(|m| serde_json::from_str(m).ok())
        .unwrap_or_default();
    let mut blocks = Vec::new();
    let mut placed: Vec<&String> = Vec::new();
    for block in &parsed {
        let cols: Vec<&String> = output
            .iter()
            .filter(|c| {
                block["columns"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|v| v.as_str() == Some(c.as_str())))
            })
            .collect();
        if !cols.is_empty() {
            placed.extend(cols.iter().copied());
            blocks.push(serde_json::json!({ "block": block["block"], "model_input": true, "columns": cols }));
        }
    }
    let rest: Vec<&String> = output.iter().filter(|c| !placed.contains(c)).collect();
    if !rest.is_empty() {
        blocks
            .push(serde_json::json!({ "block": "missing", "model_input": true, "columns": rest }));
    }
    serde_json::Value::Array(blocks).to_string()
}

pub struct PreprocessStage;

impl Stage for PreprocessStage {
    fn kind(&self) -> &'static str {
        "preprocess"
    }

    fn about(&self) -> &'static str {
        "features → model matrix: drop constants, winsorize, impute, scale, cap (transform saved)"
    }

    fn consumes(&self) -> &'static [&'static str] {
        &["features"]
    }

    fn plan(&self, params: &serde_yaml::Value) -> Result<Vec<Planned>> {
        parse_valid::<Params>(params)?;
        Ok(vec![
            Planned::new("matrix"),
            Planned::new("transform"),
            Planned::new("dominance"),
        ])
    }

    fn run(
        &self,
        inputs: &[PathBuf],
        params: &serde_yaml::Value,
        out: &mut OutputDir,
        ctx: &StageCtx<'_>,
    ) -> Result<u64> {
        let params: Params = parse_params(params)?;
        let input = single_input(self.kind(), inputs)?;
        Ok(run(input, &params, out, ctx)?.rows)
    }
}

/// A strings column helper for the statistics tables.
pub(crate) fn strings(values: impl IntoIterator<Item = String>) -> ArrayRef {
    Arc::new(StringArray::from_iter_values(values))
}
