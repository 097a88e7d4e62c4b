//! `segflow assign`: scores new records with a finished run. The new CSV goes through the
//! run's own ingest and features stages (params read from the artifacts' provenance, global
//! thresholds fixed to the training values), the saved transform, and the fit's centroids.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, Float64Array, Int32Array, StringArray};
use ndarray::Array2;
use serde::Serialize;

use segflow_core::artifact::{
    Artifact, META_ID_COLUMN, META_PARAMS, Provenance, batch, read_parquet, write_parquet,
};
use segflow_core::error::Location;
use segflow_core::hash::{file_sha256, params_hash, params_json};
use segflow_core::lock::Lock;
use segflow_core::params::ParamTree;
use segflow_core::stage::{Stage, run_with_params};
use segflow_core::{Error, Result};
use segflow_fit::Model;
use segflow_transform::{Projection, Transform};

#[derive(Debug, Serialize)]
pub struct Report {
    pub rows: usize,
    pub output: PathBuf,
    /// Contacts per segment, in segment order.
    pub segments: Vec<(String, usize)>,
}

/// The artifacts of a finished run that scoring needs, each checked against the lock.
struct RunArtifacts {
    events: PathBuf,
    features: PathBuf,
    transform: PathBuf,
    /// The preprocess stage's PCA, when the model sees principal components.
    projection: Option<PathBuf>,
    fit_dir: PathBuf,
    seed: u64,
}

/// An artifact of a finished run, found through its lock file and checked against the hash
/// recorded there; also the seed the stage ran with.
pub(crate) fn locked_output(
    run_dir: &Path,
    lock: &Lock,
    kind: &str,
    files: &[&str],
) -> Result<(PathBuf, u64)> {
    let lock_path = Lock::path(run_dir);
    let stages: Vec<_> = lock.stages.values().filter(|e| e.kind == kind).collect();
    let entry = match stages[..] {
        [entry] => entry,
        [] => {
            return Err(Error::data(
                Location::file(&lock_path),
                format!("the run has no {kind} stage"),
            ));
        }
        _ => {
            return Err(Error::data(
                Location::file(&lock_path),
                format!("the run has several {kind} stages; exactly one is needed"),
            ));
        }
    };
    let (rel, hash) = entry
        .outputs
        .iter()
        .find(|(rel, _)| {
            files
                .iter()
                .any(|f| Path::new(rel).file_name() == Some(f.as_ref()))
        })
        .ok_or_else(|| {
            Error::data(
                Location::file(&lock_path),
                format!("the {kind} stage recorded no {}", files.join(" or ")),
            )
        })?;
    let path = run_dir.join(rel);
    if &file_sha256(&path)? != hash {
        return Err(Error::data(
            Location::file(&path),
            "changed since the run wrote it (see `segflow verify`); rerun the pipeline",
        ));
    }
    Ok((path, entry.seed))
}

fn locate(run_dir: &Path) -> Result<RunArtifacts> {
    let lock = Lock::load_existing(run_dir)?;
    crate::model_version::require_current(run_dir, &lock)?;
    let output = |kind: &str, files: &[&str]| locked_output(run_dir, &lock, kind, files);
    let (events, seed) = output("ingest", &["events.parquet", "table.parquet"])?;
    let (features, _) = output("features", &["features.parquet"])?;
    let (transform, _) = output("preprocess", &["transform.parquet"])?;
    let projection = lock
        .stages
        .values()
        .any(|e| {
            e.kind == "preprocess" && e.outputs.keys().any(|k| k.ends_with("projection.parquet"))
        })
        .then(|| output("preprocess", &["projection.parquet"]))
        .transpose()?
        .map(|(p, _)| p);
    let (centroids, _) = output("fit", &["centroids.parquet"])?;
    let (policy, _) = output("fit", &["policy.parquet"])?;
    let fit_dir = centroids
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    if policy.parent() != Some(fit_dir.as_path()) {
        return Err(Error::Internal("fit artifacts in two directories".into()));
    }
    Ok(RunArtifacts {
        events,
        features,
        transform,
        projection,
        fit_dir,
        seed,
    })
}

/// The params a stage ran with, from its artifact's provenance.
fn params_of(a: &Artifact) -> Result<ParamTree> {
    let json = a.meta(META_PARAMS).ok_or_else(|| {
        Error::data(
            Location::file(&a.path),
            "no segflow.params provenance; rerun the pipeline with this segflow version",
        )
    })?;
    ParamTree::from_json(json)
        .map_err(|e| Error::data(Location::file(&a.path), format!("unreadable params: {e}")))
}

/// The training run's global thresholds, so new contacts are measured against the same bar.
fn fixed_thresholds(features: &Artifact) -> Result<serde_json::Map<String, serde_json::Value>> {
    let pairs: Vec<(String, String)> = features
        .meta("segflow.thresholds")
        .map(serde_json::from_str)
        .transpose()
        .map_err(|e| Error::data(Location::file(&features.path), format!("thresholds: {e}")))?
        .unwrap_or_default();
    pairs
        .into_iter()
        .map(|(name, value)| {
            let value: f64 = value.parse().map_err(|_| {
                Error::data(
                    Location::file(&features.path),
                    format!("threshold of {name} is not a number: {value}"),
                )
            })?;
            Ok((name, value.into()))
        })
        .collect()
}

/// Removes the scratch directory of the intermediate artifacts however assign ends.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn assign(
    run_dir: &Path,
    input: &Path,
    output: &Path,
    as_of: Option<&str>,
    progress: &dyn Fn(&str),
) -> Result<Report> {
    if !run_dir.is_dir() {
        return Err(Error::NoInput {
            path: run_dir.to_path_buf(),
            reason: "no such run directory".into(),
        });
    }
    if !input.is_file() {
        return Err(Error::NoInput {
            path: input.to_path_buf(),
            reason: "no such file".into(),
        });
    }
    let run = locate(run_dir)?;
    let training_events = read_parquet(&run.events)?;
    let training_features = read_parquet(&run.features)?;
    let ingest_params = params_of(&training_events)?;
    let mut features_params = params_of(&training_features)?;
    let not_mapping = |_| Error::data(Location::file(&run.features), "params are not a mapping");
    features_params
        .set("thresholds", fixed_thresholds(&training_features)?)
        .map_err(not_mapping)?;
    if let Some(t) = as_of {
        features_params.set("as_of", t).map_err(not_mapping)?;
    }

    let parent = output
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    let name = output
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let scratch = Scratch(parent.join(format!(".{name}.assign-{}", std::process::id())));
    let stage_dir = |stage: &dyn Stage| scratch.0.join(stage.kind());

    progress("ingest");
    let ingest: &dyn Stage = &segflow_ingest::IngestStage;
    let (_, written) = run_with_params(
        ingest,
        &[input.to_path_buf()],
        &ingest_params,
        &stage_dir(ingest),
        run.seed,
        progress,
    )?;
    let events = pick(&written, &["events.parquet", "table.parquet"])?;
    progress("features");
    let features_stage: &dyn Stage = &segflow_features::FeaturesStage;
    let (_, written) = run_with_params(
        features_stage,
        std::slice::from_ref(&events),
        &features_params,
        &stage_dir(features_stage),
        run.seed,
        progress,
    )
    .map_err(|e| match e {
        // The intermediate events file means nothing to the user: name the records it holds.
        Error::Data {
            mut location,
            message,
        } if location.file == Some(events.display().to_string()) => {
            location.file = Some(input.display().to_string());
            Error::Data { location, message }
        }
        other => other,
    })?;
    let features = read_parquet(&pick(&written, &["features.parquet"])?)?;

    progress("transform and nearest centroid");
    let transform = Transform::from_artifact(&read_parquet(&run.transform)?)?;
    let projection = match &run.projection {
        Some(path) => Some(Projection::from_artifact(
            &read_parquet(path)?,
            transform.output_columns(),
        )?),
        None => None,
    };
    let model = Model::load(&run.fit_dir)?;
    let matrix_columns = projection
        .as_ref()
        .map_or_else(|| transform.output_columns(), Projection::output_columns);
    if matrix_columns != model.columns {
        return Err(Error::data(
            Location::file(&run.transform),
            "the transform and the centroids name different columns: they come from different runs",
        ));
    }
    let id_column = features
        .meta(META_ID_COLUMN)
        .unwrap_or("contact_id")
        .to_string();
    let ids: Vec<String> = features
        .column(&id_column)?
        .as_string_opt::<i32>()
        .ok_or_else(|| Error::Internal("features ids are not strings".into()))?
        .iter()
        .map(|v| v.unwrap_or_default().to_string())
        .collect();
    let wanted: Vec<String> = transform
        .columns
        .iter()
        .filter(|c| !c.dropped)
        .map(|c| c.name.clone())
        .collect();
    let columns = segflow_transform::model_columns(&features, Some(&wanted))?;
    let matrix = transform.apply(&columns).map_err(|e| match e {
        // Rows of the intermediate features artifact mean nothing to the user: name the contact.
        Error::Data { location, message } => Error::data(
            Location {
                file: Some(input.display().to_string()),
                line: None,
                row: None,
                column: location.column,
            },
            match location.row {
                Some(r) => format!("{id_column} {}: {message}", ids[r as usize]),
                None => message,
            },
        ),
        other => other,
    })?;
    let matrix = match &projection {
        Some(p) => p.apply(&matrix),
        None => matrix,
    };
    let (n, d) = (ids.len(), matrix.len());
    let x = Array2::from_shape_fn((n, d), |(i, j)| matrix[j][i]);
    let scored = model.assign(x.view());

    // Segment counts, with DBSCAN's noise last.
    let mut counts = vec![0usize; model.segments.len() + 1];
    scored
        .labels
        .iter()
        .for_each(|l| counts[l.unwrap_or(model.segments.len())] += 1);
    let action = |f: &dyn Fn(&segflow_fit::Action) -> String| -> ArrayRef {
        Arc::new(StringArray::from(
            scored
                .labels
                .iter()
                .map(|l| l.map(|l| f(&model.actions[l])))
                .collect::<Vec<_>>(),
        ))
    };
    let mut columns = vec![
        (
            id_column.as_str(),
            Arc::new(StringArray::from_iter_values(&ids)) as ArrayRef,
        ),
        (
            "cluster",
            Arc::new(Int32Array::from_iter_values(
                scored.labels.iter().map(|l| l.map_or(-1, |l| l as i32)),
            )),
        ),
        (
            "segment",
            Arc::new(StringArray::from_iter_values(scored.labels.iter().map(
                |l| {
                    l.map_or(segflow_fit::NOISE.to_string(), |l| {
                        model.segments[l].clone()
                    })
                },
            ))),
        ),
        (
            "distance",
            Arc::new(Float64Array::from(scored.distance.clone())),
        ),
        (
            "margin",
            Arc::new(Float64Array::from(scored.margin.clone())),
        ),
        ("decision_use", action(&|a| a.decision_use.clone())),
        ("operational_rule", action(&|a| a.operational_rule.clone())),
    ];
    if let Some(p) = &scored.probability {
        columns.push(("probability", Arc::new(Float64Array::from(p.clone()))));
    }
    if model.actions.iter().any(|a| a.campaign.is_some()) {
        let campaign = |f: &dyn Fn(&segflow_fit::Campaign) -> String| -> ArrayRef {
            Arc::new(StringArray::from(
                scored
                    .labels
                    .iter()
                    .map(|l| l.and_then(|l| model.actions[l].campaign.as_ref().map(f)))
                    .collect::<Vec<_>>(),
            ))
        };
        columns.push(("channel", campaign(&|c| c.channel.clone())));
        columns.push(("owner", campaign(&|c| c.owner.clone())));
    }
    let table = batch(columns)?;

    let mut model_hashes = BTreeMap::new();
    for path in [
        run.events.clone(),
        run.features.clone(),
        run.transform.clone(),
        run.fit_dir.join("centroids.parquet"),
        run.fit_dir.join("policy.parquet"),
    ] {
        let rel = path
            .strip_prefix(run_dir)
            .unwrap_or(&path)
            .to_string_lossy()
            .replace('\\', "/");
        model_hashes.insert(rel, file_sha256(&path)?);
    }
    let params = ParamTree::from_serialize(&serde_json::json!({
        "model": model_hashes,
        "as_of": as_of,
    }))?;
    let mut input_hashes = BTreeMap::new();
    input_hashes.insert(
        input
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default(),
        file_sha256(input)?,
    );
    let provenance = Provenance {
        stage: "assign".into(),
        params_hash: params_hash("assign", &params)?,
        params: params_json(&params)?,
        input_hashes,
        seed: run.seed,
    };
    write_parquet(
        output,
        &table,
        "assignments",
        &provenance,
        &[(META_ID_COLUMN.to_string(), id_column)],
    )?;
    Ok(Report {
        rows: n,
        output: output.to_path_buf(),
        segments: model
            .segments
            .iter()
            .cloned()
            .chain(std::iter::once(segflow_fit::NOISE.to_string()))
            .zip(counts)
            .filter(|(name, count)| name != segflow_fit::NOISE || *count > 0)
            .collect(),
    })
}

fn pick(written: &[PathBuf], names: &[&str]) -> Result<PathBuf> {
    written
        .iter()
        .find(|p| names.iter().any(|n| p.file_name() == Some(n.as_ref())))
        .cloned()
        .ok_or_else(|| Error::Internal(format!("stage wrote none of {names:?}")))
}
