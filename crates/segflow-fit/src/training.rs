//! The training data fit clusters and describes: the model matrix, the features it was built
//! from (checked to hold the same contacts in the same order), and the numeric features with
//! their block and model-input flag, against which every feature the params name is checked.

use arrow::array::{Array, AsArray};

use segflow_cluster::ClusterError;
use segflow_core::artifact::{Artifact, META_BLOCKS, read_parquet};
use segflow_core::error::Location;
use segflow_core::matrix::{Matrix, read_matrix};
use segflow_core::{Error, Result};

use crate::Inputs;
use crate::params::{Params, SIZE_PLACEHOLDERS, parse_placeholder, placeholders};

/// A column of the features artifact, in block order.
#[derive(Clone)]
pub struct Feature {
    pub name: String,
    pub block: String,
    pub model_input: bool,
}

pub struct Training {
    pub matrix: Matrix,
    pub features: Artifact,
    pub numeric: Vec<Feature>,
    /// Every column of the blocks that are not model inputs, in block order: the candidates
    /// for a per-segment mix.
    pub context: Vec<Feature>,
}

impl Training {
    /// Reads the matrix and the features, and checks the params against them before any
    /// clustering.
    pub fn read(inputs: &Inputs, params: &Params) -> Result<Training> {
        let matrix = read_matrix(&inputs.matrix)?;
        let features = read_parquet(&inputs.features)?;
        if features.kind() != Some("features") {
            return Err(Error::data(
                Location::file(&inputs.features),
                "expected a features artifact",
            ));
        }
        same_contacts(&matrix, &features)?;
        let declared = declared_features(&features);
        let context: Vec<Feature> = declared
            .iter()
            .filter(|f| !f.model_input && features.batch.column_by_name(&f.name).is_some())
            .cloned()
            .collect();
        let numeric: Vec<Feature> = declared
            .into_iter()
            .filter(|f| {
                features
                    .batch
                    .column_by_name(&f.name)
                    .is_some_and(|c| c.data_type().is_numeric())
            })
            .collect();
        let known: Vec<&str> = numeric.iter().map(|f| f.name.as_str()).collect();
        let context_names: Vec<&str> = context.iter().map(|f| f.name.as_str()).collect();
        check_keys(params, &known, &context_names)?;
        Ok(Training {
            matrix,
            features,
            numeric,
            context,
        })
    }

    pub fn rows(&self) -> usize {
        self.matrix.values.nrows()
    }

    /// A clustering failure, located in the matrix it ran on.
    pub fn matrix_error(&self, e: ClusterError) -> Error {
        Error::data(Location::file(&self.matrix.artifact.path), e.to_string())
    }
}

/// The features must describe the matrix's contacts row for row: both come from one run.
fn same_contacts(m: &Matrix, features: &Artifact) -> Result<()> {
    let path = &features.path;
    let feature_ids = features.column(&m.id_column)?;
    let feature_ids = feature_ids.as_string_opt::<i32>().ok_or_else(|| {
        Error::data(
            Location::file(path).column(&m.id_column),
            "ids must be strings",
        )
    })?;
    if feature_ids.len() != m.ids.len() {
        return Err(Error::data(
            Location::file(path),
            format!(
                "{} rows, the matrix has {}: they come from different runs",
                feature_ids.len(),
                m.ids.len()
            ),
        ));
    }
    if let Some(row) = (0..m.ids.len()).find(|&i| feature_ids.value(i) != m.ids[i]) {
        return Err(Error::data(
            Location::file(path).row(row as u64).column(&m.id_column),
            format!(
                "id {} where the matrix has {}: they come from different runs",
                feature_ids.value(row),
                m.ids[row]
            ),
        ));
    }
    Ok(())
}

/// The feature columns with their block and model-input flag, from the features metadata.
fn declared_features(features: &Artifact) -> Vec<Feature> {
    let parsed: Vec<serde_json::Value> = features
        .meta(META_BLOCKS)
        .and_then(|m| serde_json::from_str(m).ok())
        .unwrap_or_default();
    let mut out = Vec::new();
    for b in &parsed {
        let block = b["block"].as_str().unwrap_or_default().to_string();
        let model_input = b["model_input"].as_bool().unwrap_or(false);
        for c in b["columns"].as_array().into_iter().flatten() {
            if let Some(name) = c.as_str() {
                out.push(Feature {
                    name: name.to_string(),
                    block: block.clone(),
                    model_input,
                });
            }
        }
    }
    out
}

/// Checks that every feature the params name exists, and that `labels` name context columns,
/// before any clustering.
fn check_keys(params: &Params, known: &[&str], context: &[&str]) -> Result<()> {
    let check = |key: String, name: &str| -> Result<()> {
        if known.contains(&name) {
            Ok(())
        } else {
            Err(Error::config(
                "",
                key,
                format!("`{name}` is not a numeric feature of the features artifact"),
            ))
        }
    };
    let c = &params.cards;
    for (key, list) in [
        ("cards.medians", c.medians.as_deref().unwrap_or_default()),
        ("cards.spreads", &c.spreads[..]),
        ("cards.means", &c.means[..]),
        ("cards.stds", &c.stds[..]),
        ("cards.any", &c.any[..]),
    ] {
        for name in list {
            check(key.into(), name)?;
        }
    }
    for (i, role) in params.naming.roles.iter().enumerate() {
        for c in &role.by {
            if c.key() != "n_contacts" {
                check(format!("naming.roles[{i}].by"), c.key())?;
            }
        }
        for t in &role.conditions.0 {
            check(format!("naming.roles[{i}].where.{}", t.stat), &t.feature)?;
        }
    }
    for name in params.features.keys() {
        check(format!("features.{name}"), name)?;
    }
    for column in params.labels.keys() {
        if !context.contains(&column.as_str()) {
            return Err(Error::config(
                "",
                format!("labels.{column}"),
                format!(
                    "`{column}` is not a context column of the features artifact (a column of a block that is not a model input)"
                ),
            ));
        }
    }
    if let Some(template) = &params.narrative {
        for placeholder in placeholders(template) {
            let name = parse_placeholder(placeholder)
                .map_err(|e| Error::config("", "narrative", e))?
                .feature;
            if !SIZE_PLACEHOLDERS.contains(&name) {
                check("narrative".into(), name)?;
            }
        }
    }
    Ok(())
}
