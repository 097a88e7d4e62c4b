//! The fitted column transform shared by the stages that build a model matrix (preprocess,
//! and robustness when it rebuilds the matrix without a feature block) and by `assign`, which
//! scores new contacts with a saved one: encode categories, winsorize, impute, scale and cap,
//! per column.

mod encode;
mod params;
mod projection;
mod transform;

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, StringArray};
use arrow::datatypes::DataType;

use segflow_core::artifact::META_MODEL_COLUMNS;
use segflow_core::error::Location;
use segflow_core::{Error, Result};

pub use encode::{Encoded, Fitted, Unseen};
pub use params::{ColumnParams, EncodeKind, EncodedScale, Fill, Impute, Params, Scale};
pub use projection::{PcaSpec, Projection};
pub use transform::{ColumnTransform, Dominance, Transform};

/// A model input column as read from the features artifact: numbers (nulls → NaN), or labels
/// (text and booleans; nulls → `None`) that only an encoding turns into numbers.
#[derive(Debug, Clone, PartialEq)]
pub enum Raw {
    Numbers(Vec<f64>),
    Labels(Vec<Option<String>>),
}

/// The model columns of a features artifact, numeric or labelled, with their names.
pub fn model_columns(
    artifact: &segflow_core::artifact::Artifact,
    wanted: Option<&[String]>,
) -> Result<Vec<(String, Raw)>> {
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
            let array = artifact.column(&name)?;
            let raw = if array.data_type().is_numeric() {
                Raw::Numbers(artifact.float_column(&name)?)
            } else {
                let text = arrow::compute::cast(array, &DataType::Utf8).map_err(|_| {
                    Error::data(
                        Location::file(&artifact.path).column(&name),
                        format!("neither numbers nor labels ({})", array.data_type()),
                    )
                })?;
                Raw::Labels(
                    text.as_string::<i32>()
                        .iter()
                        .map(|v| v.map(str::to_string))
                        .collect(),
                )
            };
            Ok((name, raw))
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
    if let Some(name) = params.log1p.iter().find(|c| {
        params
            .per_column
            .get(c.as_str())
            .is_some_and(|p| p.encode.is_some())
    }) {
        return Err(Error::config(
            "",
            "log1p",
            format!("`{name}` is encoded as categories: ln(1 + x) has no meaning for it"),
        ));
    }
    let (transform, dominance) =
        Transform::fit(&columns, params).map_err(|e| e.located(&features.path))?;
    let (scaled, _) = transform
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
