//! `segflow sql score`: the scoring query of a finished run, written from the same artifacts
//! `assign` scores with, each found through the run's lock and checked against its hash.

use std::path::Path;

use clap::Args;

use segflow_core::artifact::{META_ID_COLUMN, read_parquet};
use segflow_core::lock::Lock;
use segflow_core::{Error, Result};
use segflow_fit::Model;
use segflow_sql::Dialect;
use segflow_sql::score::{Run, query};
use segflow_transform::{Projection, Transform};

use crate::assign::locked_output;

/// `segflow sql score RUN_DIR --dialect D [--source TABLE]`.
#[derive(Args)]
pub(crate) struct ScoreArgs {
    /// Run directory of a pipeline run through fit (holds segflow.lock).
    run_dir: std::path::PathBuf,
    /// The engine the query is for: spark, duckdb or postgres.
    #[arg(long)]
    dialect: String,
    /// The table (or view) holding the features, one row per contact, with the columns of the
    /// run's features.parquet.
    #[arg(long, default_value = "features")]
    source: String,
}

/// Prints the scoring query on stdout.
pub(crate) fn command(args: &ScoreArgs) -> Result<u8> {
    let dialect: Dialect = args.dialect.parse()?;
    print!("{}", sql_score(&args.run_dir, dialect, &args.source)?);
    Ok(0)
}

/// The query for `run_dir` in `dialect`, reading the features table `source`.
pub fn sql_score(run_dir: &Path, dialect: Dialect, source: &str) -> Result<String> {
    if !run_dir.is_dir() {
        return Err(Error::NoInput {
            path: run_dir.to_path_buf(),
            reason: "no such run directory".into(),
        });
    }
    let lock = Lock::load_existing(run_dir)?;
    crate::model_version::require_current(run_dir, &lock)?;
    let mut read: Vec<String> = Vec::new();
    let mut locate = |kind: &str, file: &str| -> Result<std::path::PathBuf> {
        let out = locked_output(run_dir, &lock, kind, &[file])?;
        read.push(format!("{} sha256 {}", out.relative, out.sha256));
        Ok(out.path)
    };
    let features = read_parquet(&locate("features", "features.parquet")?)?;
    let transform =
        Transform::from_artifact(&read_parquet(&locate("preprocess", "transform.parquet")?)?)?;
    let has_projection = lock.stages.values().any(|e| {
        e.kind == "preprocess" && e.outputs.keys().any(|k| k.ends_with("projection.parquet"))
    });
    let projection = if has_projection {
        Some(Projection::from_artifact(
            &read_parquet(&locate("preprocess", "projection.parquet")?)?,
            transform.output_columns(),
        )?)
    } else {
        None
    };
    let model = Model::load(&mut |file| locate("fit", file))?;
    let matrix_columns = projection
        .as_ref()
        .map_or_else(|| transform.output_columns(), Projection::output_columns);
    if matrix_columns != model.columns {
        return Err(Error::data(
            segflow_core::error::Location::file(run_dir),
            "the transform and the centroids name different columns: they come from different runs",
        ));
    }
    let id_column = features
        .meta(META_ID_COLUMN)
        .unwrap_or("contact_id")
        .to_string();
    let numeric: Vec<String> = features
        .batch
        .schema()
        .fields()
        .iter()
        .filter(|f| f.data_type().is_numeric())
        .map(|f| f.name().clone())
        .collect();
    let mut header = vec![
        format!(
            "segflow {}: scoring query of the run {}",
            segflow_core::TOOL_VERSION,
            run_dir.display()
        ),
        format!(
            "input: a table with the columns of features.parquet ({id_column} and the model's inputs: {})",
            transform.input_columns().join(", ")
        ),
        format!(
            "output: {id_column}, {}; as `segflow assign` scores",
            segflow_sql::score::OUTPUT_COLUMNS.join(", ")
        ),
        "model files:".to_string(),
    ];
    header.extend(read.iter().map(|r| format!("  {r}")));
    query(
        &Run {
            transform: &transform,
            projection: projection.as_ref(),
            model: &model,
            id_column: &id_column,
            numeric: &numeric,
            header: &header,
        },
        dialect,
        source,
    )
}
