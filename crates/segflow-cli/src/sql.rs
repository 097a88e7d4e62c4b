//! `segflow sql`: the queries that run segflow's definitions on a SQL engine.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Subcommand;

use segflow_core::hash::{params_hash, sha256_hex};
use segflow_core::pipeline::Pipeline;
use segflow_core::{Error, Result};
use segflow_sql::Dialect;

#[derive(Subcommand)]
pub(crate) enum Sql {
    /// Write one query computing the pipeline's features artifact (same columns, same order)
    /// from the raw events table: ingest's typing, blank ids, dedupe and id hashing, then every
    /// aggregation. Constructs without an exact equivalent in the dialect are refused (exit 78).
    Features {
        pipeline: PathBuf,
        #[arg(long, value_parser = parse_dialect)]
        dialect: Dialect,
        /// The table (or view) holding the raw events, columns as in the ingest input.
        #[arg(long, default_value = "events")]
        source: String,
        /// File to write the query to (default: standard output).
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// The query that scores a features table with a finished run, exactly as `assign`:
    /// saved transform, nearest centroid, segment and action per contact.
    Score(crate::sql_score::ScoreArgs),
}

fn parse_dialect(s: &str) -> std::result::Result<Dialect, String> {
    s.parse().map_err(|e: Error| e.to_string())
}

pub(crate) fn run(sql: Sql) -> Result<u8> {
    match sql {
        Sql::Features {
            pipeline,
            dialect,
            source,
            output,
        } => features(&pipeline, dialect, &source, output.as_deref()),
        Sql::Score(args) => crate::sql_score::command(&args),
    }
}

fn features(path: &Path, dialect: Dialect, source: &str, output: Option<&Path>) -> Result<u8> {
    let pipeline = Pipeline::load(path, &crate::registry())?;
    let stage = |kind: &str| {
        pipeline
            .stages
            .iter()
            .find(|s| s.stage.kind() == kind)
            .ok_or_else(|| {
                Error::config(
                    path.display().to_string(),
                    "stages",
                    format!("the features query needs a {kind} stage"),
                )
            })
    };
    let (ingest, features) = (stage("ingest")?, stage("features")?);
    let hash = sha256_hex(
        format!(
            "{}{}",
            params_hash("ingest", &ingest.params)?,
            params_hash("features", &features.params)?
        )
        .as_bytes(),
    );
    let query = segflow_sql::features_query(&segflow_sql::Request {
        dialect,
        pipeline: &pipeline.name,
        source,
        ingest: &ingest.params,
        features: &features.params,
        params_hash: &hash,
    })
    .map_err(|e| in_file(e, path))?;
    match output {
        None => std::io::stdout()
            .write_all(query.as_bytes())
            .map_err(|e| Error::io(Path::new("<stdout>"), e))?,
        Some(file) => std::fs::write(file, query).map_err(|e| Error::io(file, e))?,
    }
    Ok(0)
}

/// A refusal names the pipeline file as well as the key.
fn in_file(e: Error, path: &Path) -> Error {
    match e {
        Error::Config { file, key, message } if file.is_empty() => Error::Config {
            file: path.display().to_string(),
            key,
            message,
        },
        other => other,
    }
}
