//! The preprocess stage: from the features artifact to the model matrix.
//!
//! In order: select the model columns, encode the categorical ones (one-hot, binary, ordinal;
//! missing labels imputed first), optionally log1p some, drop truly constant columns,
//! winsorize each numeric column to its own quantiles, impute missing values (median, mean,
//! most frequent or a constant), scale (robust, standard or none), cap. Every fitted statistic is written to `transform.parquet`;
//! the matrix itself is produced by applying that transform, so applying it to new rows
//! (scoring) is the same arithmetic, not a re-implementation.

mod warnings;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Float64Array};

use segflow_core::artifact::{
    META_BLOCKS, META_ID_COLUMN, META_MODEL_COLUMNS, batch, read_parquet,
};
use segflow_core::error::Location;
use segflow_core::params::{ParamTree, Validate, parse_params, parse_valid};
use segflow_core::stage::{
    Columns, OutputDir, Planned, Stage, StageCtx, compose_version, single_input,
};
use segflow_core::suggest::did_you_mean;
use segflow_core::{Error, Result};

pub use segflow_transform::{
    Built, ColumnTransform, Impute, Params, Scale, Transform, build, model_columns,
};

/// The matrix's metadata key mapping each encoded column to its source column and label.
pub const META_COLUMN_LABELS: &str = "segflow.column_labels";

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
    (ctx.progress)("fitting the transform");
    let inputs: Vec<String> = match &params.columns {
        Some(c) => c.clone(),
        None => model_columns(&artifact, None)?
            .into_iter()
            .map(|(n, _)| n)
            .collect(),
    };
    if let Some(name) = params.per_column.keys().find(|k| !inputs.contains(k)) {
        return Err(Error::config(
            "",
            format!("per_column.{name}"),
            format!("`{name}` is not one of the preprocessed columns"),
        ));
    }
    let built = build(&artifact, params)?;
    let output_names = built.columns();
    let Built {
        transform,
        dominance,
        projection,
        matrix,
    } = built;
    let mut arrays: Vec<(&str, ArrayRef)> = vec![(id_name.as_str(), ids)];
    for (name, values) in output_names.iter().zip(&matrix) {
        arrays.push((name.as_str(), Arc::new(Float64Array::from(values.clone()))));
    }
    let blocks = match &projection {
        // Components mix every block: they form one block of their own.
        Some(_) => {
            serde_json::json!([{ "block": "pca", "model_input": true, "columns": output_names }])
                .to_string()
        }
        None => kept_blocks(artifact.meta(META_BLOCKS), &output_names, &transform),
    };
    let mut extra = vec![
        (META_ID_COLUMN.to_string(), id_name.clone()),
        (
            META_MODEL_COLUMNS.to_string(),
            serde_json::to_string(&output_names).expect("strings"),
        ),
        (META_BLOCKS.to_string(), blocks),
    ];
    let labels = transform.labels();
    if !labels.is_empty() {
        let map: serde_json::Map<String, serde_json::Value> = labels
            .into_iter()
            .map(|(out, source, label)| {
                (out, serde_json::json!({ "source": source, "label": label }))
            })
            .collect();
        extra.push((
            META_COLUMN_LABELS.to_string(),
            serde_json::Value::Object(map).to_string(),
        ));
    }
    let rows = ids_len(&arrays);
    // Components mix every column: none of them is a 0/1 column.
    let warnings = match &projection {
        Some(_) => Vec::new(),
        None => warnings::dominant_binaries(&output_names, &matrix),
    };
    out.write("matrix", &batch(arrays)?, &extra)?;
    out.write(
        "warnings",
        &segflow_core::warnings::to_batch(&warnings)?,
        &[],
    )?;
    out.write("transform", &transform.to_batch()?, &transform.metadata())?;
    out.write("dominance", &dominance.to_batch()?, &[])?;
    if let Some(p) = &projection {
        out.write("projection", &p.to_batch()?, &[])?;
    }
    Ok(Outputs { transform, rows })
}

fn ids_len(arrays: &[(&str, ArrayRef)]) -> u64 {
    arrays[0].1.len() as u64
}

/// The features' block layout restricted to the matrix columns (an encoded column in its
/// source's block; missing indicators form a block of their own), so later stages can drop a
/// whole block.
fn kept_blocks(meta: Option<&str>, output: &[String], transform: &Transform) -> String {
    let source = |c: &str| -> String {
        transform
            .encodings
            .iter()
            .find(|e| {
                e.encoding
                    .as_ref()
                    .is_some_and(|f| f.outputs().iter().any(|(n, _)| n == c))
            })
            .map_or(c, |e| e.column.as_str())
            .to_string()
    };
    let parsed: Vec<serde_json::Value> = meta
        .and_then(|m| serde_json::from_str(m).ok())
        .unwrap_or_default();
    let mut blocks = Vec::new();
    let mut placed: Vec<&String> = Vec::new();
    for block in &parsed {
        let cols: Vec<&String> = output
            .iter()
            .filter(|c| {
                let s = source(c);
                block["columns"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|v| v.as_str() == Some(s.as_str())))
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

/// The version of this stage's results: bump it with any change that alters them, and say what
/// changed in CHANGELOG.md.
const VERSION: u32 = 3;

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

    fn plan(&self, params: &ParamTree) -> Result<Vec<Planned>> {
        let params: Params = parse_valid(params)?;
        let mut planned = vec![
            Planned::new("matrix"),
            Planned::new("transform"),
            Planned::new("dominance"),
            Planned::new("warnings"),
        ];
        if params.pca.is_some() {
            planned.push(Planned::new("projection"));
        }
        Ok(planned)
    }

    fn algorithm_version(&self, _params: &ParamTree) -> Result<String> {
        Ok(compose_version(VERSION, &[]))
    }

    /// `columns`, `log1p` and the keys of `per_column` name feature columns; with `columns`
    /// given, a `per_column` key must be one of them.
    fn check_references(&self, params: &ParamTree, upstream: &Columns) -> Result<()> {
        let params: Params = parse_valid(params)?;
        let lists = [
            ("columns", params.columns.as_deref().unwrap_or_default()),
            ("log1p", &params.log1p),
        ];
        for (list, names) in lists {
            for (i, name) in names.iter().enumerate() {
                upstream.check(&format!("{list}[{i}]"), name, &[])?;
            }
        }
        // A misspelled column here would otherwise be ignored, and its column encoded or
        // imputed by the stage's defaults.
        for name in params.per_column.keys() {
            let key = format!("per_column.{name}");
            upstream.check(&key, name, &[])?;
            if let Some(columns) = params.columns.as_ref().filter(|c| !c.contains(name)) {
                return Err(Error::config(
                    "",
                    key,
                    format!(
                        "`{name}` is not one of the preprocessed `columns`{}",
                        did_you_mean(name, columns.iter().map(String::as_str))
                    ),
                ));
            }
        }
        Ok(())
    }

    fn run(
        &self,
        inputs: &[PathBuf],
        params: &ParamTree,
        out: &mut OutputDir,
        ctx: &StageCtx<'_>,
    ) -> Result<u64> {
        let params: Params = parse_params(params)?;
        let input = single_input(self.kind(), inputs)?;
        Ok(run(input, &params, out, ctx)?.rows)
    }
}
