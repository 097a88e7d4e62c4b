//! `segflow assign`: scores new records with a finished run. The new CSV goes through the
//! run's own ingest and features stages (params read from the artifacts' provenance, global
//! thresholds fixed to the training values), the saved transform, and the fit's model. Every
//! file of the run that scoring reads is first checked against the run's lock.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Float64Array, Int32Array, RecordBatch, StringArray};
use arrow::datatypes::TimestampMicrosecondType;
use ndarray::Array2;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use serde::Serialize;

use segflow_core::artifact::{
    Artifact, META_ID_COLUMN, META_PARAMS, ParquetBatches, ParquetStream, Provenance, batch,
    read_parquet,
};
use segflow_core::error::Location;
use segflow_core::hash::{file_sha256, params_hash, params_json};
use segflow_core::lock::Lock;
use segflow_core::params::ParamTree;
use segflow_core::stage::{Stage, no_tally, run_with_params};
use segflow_core::{Error, Result};
use segflow_fit::{Action, Campaign, FeatureWords, Model, NOISE, Scored};
use segflow_transform::{Projection, Transform, Unseen};

use crate::spill::{Key, SortedRuns};

#[derive(Debug, Serialize)]
pub struct Report {
    /// Rows read from the input files.
    pub rows_read: u64,
    /// Rows left out by the run's rules (`where`, blank ids, duplicates).
    pub excluded: u64,
    /// Rows refused as bad data.
    pub rejected: u64,
    /// Contacts left out for having fewer events than the run's `min_events`.
    pub too_few_events: u64,
    /// Contacts scored.
    pub rows: usize,
    pub output: PathBuf,
    /// Contacts per segment, in segment order.
    pub segments: Vec<(String, usize)>,
    /// Per encoded column: rows whose label training never saw, and what they were scored as.
    pub unseen: Vec<Unseen>,
    /// The time span of the new records against training's (event logs only).
    pub window: Option<Window>,
}

/// What the user asks of `assign` beyond its files.
#[derive(Debug, Default, Clone)]
pub struct Options<'a> {
    /// Reference time for recency features; default: the pipeline's rule on the new records.
    pub as_of: Option<&'a str>,
    /// Replaces the run's ingest `max_reject_fraction` for the new records.
    pub max_reject_fraction: Option<f64>,
    /// Adds, per row, the runner-up segment and the three features that pull the row most
    /// towards its own.
    pub explain: bool,
    /// Entity tables: rows scored per batch (default [`BATCH_ROWS`]).
    pub batch_rows: Option<usize>,
}

/// Rows of an entity table scored per batch unless `--batch-rows` says otherwise: a multiple
/// of the Parquet writer's 1,024-row mini-batch, so the streamed output's bytes equal those of
/// one whole-table write.
pub const BATCH_ROWS: usize = 16_384;

/// The days the new records span against the days training spanned. Counts and sums grow
/// with the window, so a much shorter or longer window moves contacts between segments.
#[derive(Debug, Clone, Serialize)]
pub struct Window {
    pub training_days: f64,
    pub new_days: f64,
    /// new_days / training_days − 1.
    pub change: f64,
    /// |change| above `WINDOW_TOLERANCE`.
    pub differs: bool,
    /// Model features that scale with the window (counts, sums, distinct counts, tenure, and
    /// what is derived from them), in features order.
    pub window_dependent: Vec<String>,
}

/// How far the new records' window may stray from training's before `assign` warns.
pub const WINDOW_TOLERANCE: f64 = 0.2;

/// The output metadata key of the window comparison (JSON).
const META_WINDOW: &str = "segflow.window";
/// The output metadata key of the row accounting (JSON).
const META_ROWS: &str = "segflow.rows";
/// The output metadata key saying how `--explain` columns were computed.
const META_EXPLAIN: &str = "segflow.explain";

/// An artifact of a finished run, checked against the hash its lock records.
pub(crate) struct LockedOutput {
    pub path: PathBuf,
    /// The path relative to the run directory, as the lock names it.
    pub relative: String,
    pub sha256: String,
    /// The seed the stage ran with.
    pub seed: u64,
}

/// An artifact of a finished run, found through its lock file and checked against the hash
/// recorded there.
pub(crate) fn locked_output(
    run_dir: &Path,
    lock: &Lock,
    kind: &str,
    files: &[&str],
) -> Result<LockedOutput> {
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
    Ok(LockedOutput {
        path,
        relative: rel.clone(),
        sha256: hash.clone(),
        seed: entry.seed,
    })
}

/// A finished run read through its lock: every artifact taken from it is checked first, and
/// remembered with its hash for the provenance of the scored output.
struct LockedRun<'a> {
    dir: &'a Path,
    lock: Lock,
    /// Path relative to the run directory → SHA-256, of every artifact read.
    read: BTreeMap<String, String>,
}

impl<'a> LockedRun<'a> {
    fn open(dir: &'a Path) -> Result<Self> {
        let lock = Lock::load_existing(dir)?;
        crate::model_version::require_current(dir, &lock)?;
        Ok(LockedRun {
            dir,
            lock,
            read: BTreeMap::new(),
        })
    }

    /// The checked path of the `kind` stage's output named one of `files`, and its seed.
    fn output(&mut self, kind: &str, files: &[&str]) -> Result<(PathBuf, u64)> {
        let out = locked_output(self.dir, &self.lock, kind, files)?;
        self.read.insert(out.relative, out.sha256);
        Ok((out.path, out.seed))
    }

    fn has_output(&self, kind: &str, file: &str) -> bool {
        self.lock
            .stages
            .values()
            .any(|e| e.kind == kind && e.outputs.keys().any(|k| k.ends_with(file)))
    }
}

/// Everything of a finished run that scores new records: the params its ingest and features
/// stages ran with, its transform and projection, and the fit's model.
pub(crate) struct Scoring {
    /// Training's ingest output (events or entity table).
    pub(crate) ingested: PathBuf,
    pub(crate) ingest_params: ParamTree,
    pub(crate) features_params: ParamTree,
    pub(crate) transform: Transform,
    projection: Option<Projection>,
    pub(crate) model: Model,
    pub(crate) seed: u64,
    /// Training's event time span in days (event logs only).
    training_days: Option<f64>,
    /// The fit's words for its features, for explanations.
    words: BTreeMap<String, FeatureWords>,
}

impl Scoring {
    fn load(run: &mut LockedRun<'_>, options: &Options<'_>) -> Result<Scoring> {
        let (events, seed) = run.output("ingest", &["events.parquet", "table.parquet"])?;
        let training_days = if run.has_output("ingest", "audit_summary.parquet") {
            span_days(&run.output("ingest", &["audit_summary.parquet"])?.0)?
        } else {
            None
        };
        let (features, _) = run.output("features", &["features.parquet"])?;
        let (transform_path, _) = run.output("preprocess", &["transform.parquet"])?;
        let projection_path = run
            .has_output("preprocess", "projection.parquet")
            .then(|| run.output("preprocess", &["projection.parquet"]))
            .transpose()?
            .map(|(p, _)| p);
        let model = Model::load(&mut |file| Ok(run.output("fit", &[file])?.0))?;
        let words = fit_words(&run.output("fit", &["centroids.parquet"])?.0)?;

        let (mut ingest_params, features_params) = stage_params(&events, &features, options.as_of)?;
        if let Some(max) = options.max_reject_fraction {
            if !(0.0..=1.0).contains(&max) {
                return Err(Error::Usage(format!(
                    "--max-reject-fraction must lie between 0 and 1, not {max}"
                )));
            }
            ingest_params
                .set("max_reject_fraction", max)
                .map_err(|_| Error::data(Location::file(&events), "params are not a mapping"))?;
        }
        let transform = Transform::from_artifact(&read_parquet(&transform_path)?)?;
        let projection = match &projection_path {
            Some(path) => Some(Projection::from_artifact(
                &read_parquet(path)?,
                transform.output_columns(),
            )?),
            None => None,
        };
        let matrix_columns = projection
            .as_ref()
            .map_or_else(|| transform.output_columns(), Projection::output_columns);
        if matrix_columns != model.columns {
            return Err(Error::data(
                Location::file(&transform_path),
                "the transform and the centroids name different columns: they come from different runs",
            ));
        }
        Ok(Scoring {
            ingested: events,
            ingest_params,
            features_params,
            transform,
            projection,
            model,
            seed,
            training_days,
            words,
        })
    }
}

/// The days between the first and the last event an ingest audit records; `None` for a
/// table, which has no event times.
fn span_days(audit_summary: &Path) -> Result<Option<f64>> {
    let summary = read_parquet(audit_summary)?;
    let Some(column) = summary.batch.column_by_name("ts_min") else {
        return Ok(None);
    };
    let ts = |c: &ArrayRef| {
        c.as_primitive_opt::<TimestampMicrosecondType>()
            .filter(|a| !a.is_empty() && a.is_valid(0))
            .map(|a| a.value(0))
    };
    let max = summary.batch.column_by_name("ts_max");
    Ok(match (ts(column), max.and_then(ts)) {
        (Some(lo), Some(hi)) => Some((hi - lo) as f64 / 86_400e6),
        _ => None,
    })
}

/// The fit's words for its features (its `features` params), from the centroids'
/// provenance.
fn fit_words(centroids: &Path) -> Result<BTreeMap<String, FeatureWords>> {
    let params = params_of(&read_parquet(centroids)?)?;
    let fit: segflow_fit::Params = segflow_core::params::parse_params(&params)
        .map_err(|e| Error::data(Location::file(centroids), format!("fit params: {e}")))?;
    Ok(fit.features)
}

/// The model features whose values grow with the time window the records cover: counts,
/// sums, distinct counts and tenure, logs of them, and ratios of one of them to a feature
/// that does not grow (a ratio of two that grow does not).
fn window_dependent(features_params: &ParamTree, model_inputs: &[String]) -> Vec<String> {
    use segflow_features::Aggregation as A;
    let Ok(spec) = segflow_core::params::parse_params::<segflow_features::Params>(features_params)
    else {
        return Vec::new();
    };
    let mut grows: BTreeMap<&str, bool> = BTreeMap::new();
    for (_, name, f) in spec.features() {
        let base = matches!(
            f.aggregation,
            A::Count | A::DistinctDays | A::Distinct | A::Sum | A::TenureDays
        );
        grows.insert(name, base);
    }
    for name in spec.derived_order().unwrap_or_default() {
        let Some((_, _, f)) = spec.features().find(|(_, n, _)| *n == name) else {
            continue;
        };
        let of = |n: &str| grows.get(n).copied().unwrap_or(false);
        let derived = match &f.aggregation {
            A::Log1p(x) => of(x),
            A::Ratio { num, den, .. } => of(num) != of(den),
            _ => false,
        };
        grows.insert(name, derived);
    }
    spec.features()
        .map(|(_, name, _)| name)
        .filter(|name| grows.get(name).copied().unwrap_or(false))
        .filter(|name| model_inputs.iter().any(|m| m == name))
        .map(str::to_string)
        .collect()
}

/// The params the run's ingest and features stages ran with, from their artifacts'
/// provenance; features with the training thresholds fixed and `as_of` when given.
fn stage_params(
    events: &Path,
    features: &Path,
    as_of: Option<&str>,
) -> Result<(ParamTree, ParamTree)> {
    let training_events = read_parquet(events)?;
    let training_features = read_parquet(features)?;
    let ingest_params = params_of(&training_events)?;
    let mut features_params = params_of(&training_features)?;
    let not_mapping = |_| Error::data(Location::file(features), "params are not a mapping");
    features_params
        .set("thresholds", fixed_thresholds(&training_features)?)
        .map_err(not_mapping)?;
    if let Some(t) = as_of {
        features_params.set("as_of", t).map_err(not_mapping)?;
    }
    Ok((ingest_params, features_params))
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

/// The scratch directory of the intermediate artifacts, beside the output; removed however
/// assign ends.
pub(crate) struct Scratch(pub(crate) PathBuf);

impl Scratch {
    fn beside(output: &Path) -> Result<Scratch> {
        let parent = output
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        let name = output
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        Ok(Scratch(
            parent.join(format!(".{name}.assign-{}", std::process::id())),
        ))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Scores the new records in `inputs` (one file, or one per source of a run that ingested
/// several, in the same order).
pub fn assign(
    run_dir: &Path,
    inputs: &[PathBuf],
    output: &Path,
    options: &Options<'_>,
    progress: &dyn Fn(&str),
) -> Result<Report> {
    require(run_dir, inputs)?;
    fixed_mmap_threshold();
    let input = inputs[0].as_path();
    let mut run = LockedRun::open(run_dir)?;
    let scoring = Scoring::load(&mut run, options)?;
    let scratch = Scratch::beside(output)?;
    if crate::assign_table::is_table(&scoring) {
        let batch_rows = match options.batch_rows {
            Some(0) => return Err(Error::Usage("--batch-rows must be at least 1".into())),
            Some(n) => n,
            None => BATCH_ROWS,
        };
        let input = segflow_core::stage::single_input("ingest", inputs)?;
        return crate::assign_table::assign_table(
            input, &scoring, &scratch, output, options, batch_rows, &run.read, progress,
        )
        .map_err(|e| in_user_terms(e, &scratch.0, input));
    }
    if options.batch_rows.is_some() {
        return Err(Error::Usage(
            "--batch-rows is for runs over an entity table; this run ingested an event log".into(),
        ));
    }
    let (features, rows) = new_features(inputs, &scoring, &scratch, progress)
        .map_err(|e| in_user_terms(e, &scratch.0, input))?;
    let window = match (scoring.training_days, rows.days) {
        (Some(training_days), Some(new_days)) if training_days > 0.0 => {
            let change = new_days / training_days - 1.0;
            Some(Window {
                training_days,
                new_days,
                change,
                differs: change.abs() > WINDOW_TOLERANCE,
                window_dependent: window_dependent(
                    &scoring.features_params,
                    &scoring.transform.input_columns(),
                ),
            })
        }
        _ => None,
    };
    progress("transform and nearest centroid");
    let contacts = Contacts::of(&features, &scoring, input)?;
    let scored = scoring.model.assign(contacts.x.view());
    let mut table = scored_table(&contacts.id_column, &contacts.ids, &scoring.model, &scored)?;
    if options.explain {
        table = with_explanations(&table, &contacts, &scoring, &scored)?;
    }
    let mut counts = Vec::new();
    count_segments(&scoring.model, &scored, &mut counts);
    let report = Report {
        rows_read: rows.rows_in,
        excluded: rows.excluded,
        rejected: rows.rejected,
        too_few_events: rows.too_few_events,
        rows: contacts.ids.len(),
        output: output.to_path_buf(),
        segments: segments(&scoring.model, &counts),
        unseen: contacts.unseen,
        window,
    };
    let used = Used {
        read: &run.read,
        options,
        seed: scoring.seed,
    };
    let metadata = output_metadata(&report, &contacts.id_column, &scoring, options)?;
    let mut stream = open_scored(output, table.schema(), &metadata, inputs, &used)?;
    stream.write(&table)?;
    stream.finish()?;
    Ok(report)
}

/// The scored output's metadata: the id column, the row accounting, the window comparison
/// and how explanations were computed.
pub(crate) fn output_metadata(
    report: &Report,
    id_column: &str,
    scoring: &Scoring,
    options: &Options<'_>,
) -> Result<Vec<(String, String)>> {
    let mut metadata = vec![
        (META_ID_COLUMN.to_string(), id_column.to_string()),
        (META_ROWS.to_string(), rows_json(report)),
    ];
    if let Some(w) = &report.window {
        let json = serde_json::to_string(w).map_err(|e| Error::Internal(e.to_string()))?;
        metadata.push((META_WINDOW.to_string(), json));
    }
    if options.explain {
        metadata.push((META_EXPLAIN.to_string(), explain_method(scoring)));
    }
    Ok(metadata)
}

/// `text` with every path under `scratch` replaced by `user`.
fn without_scratch(text: &str, scratch: &str, user: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find(scratch) {
        out.push_str(&rest[..at]);
        out.push_str(user);
        let tail = &rest[at..];
        // The path runs up to the next space or separator of the message.
        let end = tail
            .find(|c: char| c.is_whitespace() || c == ':' || c == ',')
            .unwrap_or(tail.len());
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// The row accounting of a scoring, as the output's metadata records it.
fn rows_json(r: &Report) -> String {
    serde_json::json!({
        "rows_read": r.rows_read,
        "excluded": r.excluded,
        "rejected": r.rejected,
        "too_few_events": r.too_few_events,
        "scored": r.rows,
    })
    .to_string()
}

/// The scratch directory's files mean nothing to the user: an error located in one of them
/// names the user's input instead, and the scratch paths are taken out of its message.
fn in_user_terms(e: Error, scratch: &Path, input: &Path) -> Error {
    let (scratch_text, user) = (scratch.display().to_string(), input.display().to_string());
    let clean = |text: String| without_scratch(&text, &scratch_text, &user);
    match e {
        Error::Data {
            mut location,
            message,
        } => {
            location.file = location.file.map(&clean);
            Error::Data {
                location,
                message: layout_hint_for_assign(&clean(message)),
            }
        }
        // The run's params are the user's options here: `--as-of` is what set this key.
        Error::Config { file, key, message } if file.is_empty() && key == "as_of" => {
            Error::Usage(format!("--as-of: {} (in {user})", clean(message)))
        }
        Error::Config { file, key, message } => Error::Config {
            file: clean(file),
            key,
            message: clean(message),
        },
        Error::NoInput { path, reason } if path.starts_with(scratch) => Error::NoInput {
            path: input.to_path_buf(),
            reason: clean(reason),
        },
        Error::Usage(message) => Error::Usage(clean(message)),
        other => other,
    }
}

/// Ingest's hint for a header that splits with another delimiter names the pipeline key; the
/// user of `assign` cannot change the run's, so it says to write the file as the run read its
/// own.
fn layout_hint_for_assign(message: &str) -> String {
    const HINT: &str = "; did you mean `delimiter: ";
    let Some(start) = message.find(HINT) else {
        return message.to_string();
    };
    let rest = &message[start + HINT.len()..];
    let Some(end) = rest.find("`?") else {
        return message.to_string();
    };
    format!(
        "{}; this file splits into the columns with `delimiter: {}`, but `assign` reads new \
         records in the run's layout (its ingest `delimiter`): export them that way{}",
        &message[..start],
        &rest[..end],
        &rest[end + 2..]
    )
}

fn require(run_dir: &Path, inputs: &[PathBuf]) -> Result<()> {
    if !run_dir.is_dir() {
        return Err(Error::NoInput {
            path: run_dir.to_path_buf(),
            reason: "no such run directory".into(),
        });
    }
    if inputs.is_empty() {
        return Err(Error::Usage("assign needs at least one --input".into()));
    }
    for input in inputs {
        if !segflow_core::dataset::exists(input) {
            return Err(Error::NoInput {
                path: input.to_path_buf(),
                reason: "no such file".into(),
            });
        }
    }
    Ok(())
}

/// How the new records' rows were accounted for by the run's ingest.
struct RowCounts {
    rows_in: u64,
    excluded: u64,
    rejected: u64,
    too_few_events: u64,
    /// Days between the first and last accepted event (event logs only).
    days: Option<f64>,
}

impl RowCounts {
    fn of(audit_summary: &Path) -> Result<Self> {
        let summary = read_parquet(audit_summary)?;
        let count = |name: &str| -> Result<u64> {
            let column = summary.column(name)?;
            column
                .as_primitive_opt::<arrow::datatypes::UInt64Type>()
                .map(|a| a.value(0))
                .ok_or_else(|| Error::Internal(format!("audit column {name} is not a count")))
        };
        Ok(Self {
            rows_in: count("rows_in")?,
            excluded: count("excluded")?,
            rejected: count("rejected")?,
            too_few_events: 0,
            days: span_days(audit_summary)?,
        })
    }
}

/// The new records through the run's own ingest and features stages, in the scratch
/// directory.
fn new_features(
    inputs: &[PathBuf],
    scoring: &Scoring,
    scratch: &Scratch,
    progress: &dyn Fn(&str),
) -> Result<(Artifact, RowCounts)> {
    let stage_dir = |stage: &dyn Stage| scratch.0.join(stage.kind());
    progress("ingest");
    let ingest: &dyn Stage = &segflow_ingest::ScoringIngestStage;
    let (_, written) = run_with_params(
        ingest,
        inputs,
        &scoring.ingest_params,
        &stage_dir(ingest),
        scoring.seed,
        progress,
        &no_tally,
    )?;
    let events = pick(&written, &["events.parquet", "table.parquet"])?;
    let rows = RowCounts::of(&pick(&written, &["audit_summary.parquet"])?)?;
    progress("sorting events by contact");
    let events = grouped_by_contact(&events, scratch)?;
    progress("features");
    let features_stage: &dyn Stage = &segflow_features::FeaturesStage;
    let (_, written) = run_with_params(
        features_stage,
        std::slice::from_ref(&events),
        &scoring.features_params,
        &stage_dir(features_stage),
        scoring.seed,
        progress,
        &no_tally,
    )?;
    // With `min_events`, features lists the contacts it left out; they are reported, not
    // silently unscored.
    let mut rows = rows;
    if let Ok(excluded) = pick(&written, &["excluded.parquet"]) {
        rows.too_few_events = read_parquet(&excluded)?.batch.num_rows() as u64;
    }
    Ok((read_parquet(&pick(&written, &["features.parquet"])?)?, rows))
}

/// Rows of the new log sorted into one run of the scratch directory at once.
const GROUP_RUN_ROWS: usize = 262_144;
/// Events the features stage holds at once (whole contacts; a larger contact is held whole).
const PART_EVENTS: usize = 1 << 16;

/// The events artifact `events` sorted by contact (input order kept within a contact) into
/// the scratch directory, marked so the features stage reads it a part of contacts at a time:
/// memory then holds the contacts and one part, not the log.
fn grouped_by_contact(events: &Path, scratch: &Scratch) -> Result<PathBuf> {
    let input = segflow_core::artifact::open_parquet(events)?;
    let runs_dir = scratch.0.join("events_runs");
    std::fs::create_dir_all(&runs_dir).map_err(|e| Error::io(&runs_dir, e))?;
    let mut runs = SortedRuns::new(&runs_dir, Key::Text("contact_id"), GROUP_RUN_ROWS);
    let mut key_values: Vec<KeyValue> = input
        .metadata
        .iter()
        // The writer embeds the Arrow schema itself.
        .filter(|(k, _)| k.as_str() != "ARROW:schema")
        .map(|(k, v)| KeyValue::new(k.clone(), v.clone()))
        .collect();
    key_values.push(KeyValue::new(
        segflow_features::META_GROUPED.to_string(),
        PART_EVENTS.to_string(),
    ));
    let schema = input.schema.clone();
    for batch in input {
        runs.push(batch?)?;
    }
    let path = scratch.0.join("events_by_contact.parquet");
    let file = std::fs::File::create(&path).map_err(|e| Error::io(&path, e))?;
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(segflow_core::artifact::ROW_GROUP_ROWS))
        .set_compression(Compression::SNAPPY)
        .set_key_value_metadata(Some(key_values))
        .build();
    let mut writer = ArrowWriter::try_new(file, schema, Some(props))
        .map_err(|e| Error::parquet_write(&path, e))?;
    runs.finish(ParquetBatches::BATCH_ROWS, &mut |batch| {
        writer
            .write(&batch)
            .map_err(|e| Error::parquet_write(&path, e))
    })?;
    writer.close().map_err(|e| Error::parquet_write(&path, e))?;
    std::fs::remove_dir_all(&runs_dir).map_err(|e| Error::io(&runs_dir, e))?;
    Ok(path)
}

fn pick(written: &[PathBuf], names: &[&str]) -> Result<PathBuf> {
    written
        .iter()
        .find(|p| names.iter().any(|n| p.file_name() == Some(n.as_ref())))
        .cloned()
        .ok_or_else(|| Error::Internal(format!("stage wrote none of {names:?}")))
}

/// The new contacts as rows of the model matrix.
pub(crate) struct Contacts {
    pub(crate) id_column: String,
    pub(crate) ids: Vec<String>,
    /// contacts × model columns.
    pub(crate) x: Array2<f64>,
    pub(crate) unseen: Vec<Unseen>,
}

impl Contacts {
    pub(crate) fn of(features: &Artifact, scoring: &Scoring, input: &Path) -> Result<Contacts> {
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
        let wanted = scoring.transform.input_columns();
        let columns = segflow_transform::model_columns(features, Some(&wanted))?;
        let (matrix, unseen) = scoring
            .transform
            .apply(&columns)
            .map_err(|e| name_the_contact(e, input, &id_column, &ids))?;
        let matrix = match &scoring.projection {
            Some(p) => p.apply(&matrix),
            None => matrix,
        };
        let (n, d) = (ids.len(), matrix.len());
        let x = Array2::from_shape_fn((n, d), |(i, j)| matrix[j][i]);
        Ok(Contacts {
            id_column,
            ids,
            x,
            unseen,
        })
    }
}

/// Rows of the intermediate features artifact mean nothing to the user: a transform error is
/// located in the input file and names the contact.
fn name_the_contact(e: Error, input: &Path, id_column: &str, ids: &[String]) -> Error {
    match e {
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
    }
}

/// Per contact: id, segment (noise as cluster -1), distance, margin, the segment's action,
/// the mixture's probability and the campaign's channel and owner where the model has them.
pub(crate) fn scored_table(
    id_column: &str,
    ids: &[String],
    model: &Model,
    scored: &Scored,
) -> Result<RecordBatch> {
    let labels = &scored.labels;
    let mut columns = vec![
        (
            id_column,
            Arc::new(StringArray::from_iter_values(ids)) as ArrayRef,
        ),
        (
            "cluster",
            Arc::new(Int32Array::from_iter_values(
                labels.iter().map(|l| l.map_or(-1, |l| l as i32)),
            )),
        ),
        (
            "segment",
            Arc::new(StringArray::from_iter_values(labels.iter().map(|l| {
                l.map_or(NOISE.to_string(), |l| model.segments[l].clone())
            }))),
        ),
        (
            "distance",
            Arc::new(Float64Array::from(scored.distance.clone())),
        ),
        (
            "margin",
            Arc::new(Float64Array::from(scored.margin.clone())),
        ),
    ];
    let action = |f: &dyn Fn(&Action) -> Option<String>| -> ArrayRef {
        Arc::new(StringArray::from(
            labels
                .iter()
                .map(|l| l.and_then(|l| f(&model.actions[l])))
                .collect::<Vec<_>>(),
        ))
    };
    columns.push(("decision_use", action(&|a| Some(a.decision_use.clone()))));
    columns.push((
        "operational_rule",
        action(&|a| Some(a.operational_rule.clone())),
    ));
    if let Some(p) = &scored.probability {
        columns.push(("probability", Arc::new(Float64Array::from(p.clone()))));
    }
    if model.actions.iter().any(|a| a.campaign.is_some()) {
        let campaign = |f: fn(&Campaign) -> String| action(&move |a| a.campaign.as_ref().map(f));
        columns.push(("channel", campaign(|c| c.channel.clone())));
        columns.push(("owner", campaign(|c| c.owner.clone())));
    }
    batch(columns)
}

/// What a scoring was made with, for the output's provenance.
pub(crate) struct Used<'a> {
    /// The run's artifacts read (as checked against the lock), path → SHA-256.
    pub(crate) read: &'a BTreeMap<String, String>,
    pub(crate) options: &'a Options<'a>,
    pub(crate) seed: u64,
}

/// The scored output, to be written batch by batch, with its provenance: the run's
/// artifacts the contacts were scored with, the options, and the input files.
pub(crate) fn open_scored(
    output: &Path,
    schema: arrow::datatypes::SchemaRef,
    metadata: &[(String, String)],
    inputs: &[PathBuf],
    used: &Used<'_>,
) -> Result<ParquetStream> {
    let mut params = serde_json::json!({
        "model": used.read,
        "as_of": used.options.as_of,
    });
    // Only options given are recorded, so a plain scoring keeps its params hash.
    if let Some(max) = used.options.max_reject_fraction {
        params["max_reject_fraction"] = max.into();
    }
    if used.options.explain {
        params["explain"] = true.into();
    }
    let params = ParamTree::from_serialize(&params)?;
    let input_hashes = segflow_core::stage::input_hashes(inputs)?;
    let provenance = Provenance {
        stage: "assign".into(),
        params_hash: params_hash("assign", &params)?,
        params: params_json(&params)?,
        input_hashes,
        seed: used.seed,
    };
    ParquetStream::create(output, schema, "assignments", &provenance, metadata)
}

/// How many explaining features each row lists.
const EXPLAINED: usize = 3;

/// The matrix's features: per matrix column the feature it belongs to, and each feature's
/// name (a one-hot column and a missing indicator belong to their source column; with a
/// PCA projection each component is its own feature).
fn matrix_features(scoring: &Scoring) -> (Vec<usize>, Vec<String>) {
    let columns = &scoring.model.columns;
    if scoring.projection.is_some() {
        return ((0..columns.len()).collect(), columns.clone());
    }
    let labels = scoring.transform.labels();
    let indicated: Vec<&str> = scoring
        .transform
        .columns
        .iter()
        .filter(|c| c.indicator)
        .map(|c| c.name.as_str())
        .collect();
    let mut names: Vec<String> = Vec::new();
    let groups = columns
        .iter()
        .map(|column| {
            let source = labels
                .iter()
                .find(|(output, _, _)| output == column)
                .map(|(_, source, _)| source.as_str())
                .or_else(|| {
                    column
                        .strip_suffix("_missing")
                        .filter(|name| indicated.contains(name))
                })
                .unwrap_or(column);
            match names.iter().position(|n| n == source) {
                Some(i) => i,
                None => {
                    names.push(source.to_string());
                    names.len() - 1
                }
            }
        })
        .collect();
    (groups, names)
}

/// How the explanation columns were computed, for the output's metadata.
fn explain_method(scoring: &Scoring) -> String {
    let space = if scoring.projection.is_some() {
        "in the PCA components the model clusters (each component is one term, named with \
         its three largest loadings)"
    } else {
        "in the scaled matrix, the columns of a one-hot encoded feature or a missing \
         indicator summed into their feature"
    };
    format!(
        "contribution_j = (x_j − runner_up_j)² − (x_j − own_j)², {space}; contributions sum \
         to margin_sq = d²(runner-up) − d²(own); features listed by decreasing contribution"
    )
}

/// The scored table with, per row: the runner-up segment, the squared-distance margin, and
/// the three features pulling the row hardest towards its segment, with their contributions
/// and in the features' own words.
pub(crate) fn with_explanations(
    table: &RecordBatch,
    contacts: &Contacts,
    scoring: &Scoring,
    scored: &Scored,
) -> Result<RecordBatch> {
    let (groups, names) = matrix_features(scoring);
    let model = &scoring.model;
    let explained = segflow_fit::explain::explain(
        contacts.x.view(),
        model.centroids.view(),
        &scored.labels,
        &groups,
        names.len(),
    );
    let none = FeatureWords::default();
    let words = |i: usize, row: usize, runner_up: usize| -> String {
        let name = &names[i];
        let columns: Vec<usize> = (0..groups.len()).filter(|&j| groups[j] == i).collect();
        let high = |j: usize| contacts.x[[row, j]] > model.centroids[[runner_up, j]];
        match (&scoring.projection, &columns[..]) {
            (Some(p), &[j]) => format!(
                "{} {name} ({})",
                if high(j) { "high" } else { "low" },
                p.top_loadings(j)
            ),
            (None, &[j]) => scoring
                .words
                .get(name)
                .unwrap_or(&none)
                .direction(name, high(j)),
            _ => scoring
                .words
                .get(name)
                .unwrap_or(&none)
                .label(name)
                .to_string(),
        }
    };
    let top: Vec<Option<Vec<usize>>> = explained
        .iter()
        .map(|e| {
            e.as_ref()
                .map(|e| segflow_fit::explain::strongest(&e.contributions, EXPLAINED))
        })
        .collect();
    let mut fields: Vec<(String, ArrayRef)> = vec![
        (
            "runner_up".into(),
            Arc::new(StringArray::from(
                explained
                    .iter()
                    .map(|e| e.as_ref().map(|e| model.segments[e.runner_up].clone()))
                    .collect::<Vec<_>>(),
            )),
        ),
        (
            "margin_sq".into(),
            Arc::new(Float64Array::from(
                explained
                    .iter()
                    .map(|e| e.as_ref().map(|e| e.margin))
                    .collect::<Vec<_>>(),
            )),
        ),
    ];
    for rank in 0..EXPLAINED {
        let pick = |row: usize| -> Option<(usize, usize, f64)> {
            let e = explained[row].as_ref()?;
            let i = *top[row].as_ref()?.get(rank)?;
            Some((i, e.runner_up, e.contributions[i]))
        };
        let rows = 0..explained.len();
        fields.push((
            format!("feature_{}", rank + 1),
            Arc::new(StringArray::from(
                rows.clone()
                    .map(|r| pick(r).map(|(i, _, _)| names[i].clone()))
                    .collect::<Vec<_>>(),
            )),
        ));
        fields.push((
            format!("contribution_{}", rank + 1),
            Arc::new(Float64Array::from(
                rows.clone()
                    .map(|r| pick(r).map(|(_, _, c)| c))
                    .collect::<Vec<_>>(),
            )),
        ));
        fields.push((
            format!("explain_{}", rank + 1),
            Arc::new(StringArray::from(
                rows.map(|r| pick(r).map(|(i, up, c)| format!("{} ({c:+.3})", words(i, r, up))))
                    .collect::<Vec<_>>(),
            )),
        ));
    }
    let schema = table.schema();
    let mut columns: Vec<(&str, ArrayRef)> = schema
        .fields()
        .iter()
        .zip(table.columns())
        .map(|(f, c)| (f.name().as_str(), c.clone()))
        .collect();
    columns.extend(fields.iter().map(|(n, c)| (n.as_str(), c.clone())));
    batch(columns)
}

/// Adds the contacts `scored` to the per-segment `counts` (DBSCAN's noise last).
pub(crate) fn count_segments(model: &Model, scored: &Scored, counts: &mut Vec<usize>) {
    let k = model.segments.len();
    counts.resize(k + 1, 0);
    scored
        .labels
        .iter()
        .for_each(|l| counts[l.unwrap_or(k)] += 1);
}

/// Contacts per segment, in segment order, with DBSCAN's noise last when there is any.
pub(crate) fn segments(model: &Model, counts: &[usize]) -> Vec<(String, usize)> {
    model
        .segments
        .iter()
        .cloned()
        .chain(std::iter::once(NOISE.to_string()))
        .zip(counts.iter().copied().chain(std::iter::repeat(0)))
        .filter(|(name, count)| name != NOISE || *count > 0)
        .collect()
}

/// glibc raises its mmap threshold whenever a large block is freed. From then on large buffers
/// come from the heap, whose freed gaps it keeps: over an entity table, peak memory grew by
/// 1.7 MB per row group written in the final merge, so with the rows; over an event log,
/// ingest's peak grew with the events (178 MiB at 3 × 10⁷ events, 149 with the threshold
/// fixed; docs/decisions.md). Setting the threshold (to glibc's initial 128 KiB) turns that off:
/// large buffers stay mapped and go back to the system when freed.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn fixed_mmap_threshold() {
    // SAFETY: mallopt only sets an allocator parameter, which glibc changes under its own lock.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn fixed_mmap_threshold() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_in_scratch_files_name_the_users_input() {
        let scratch = Path::new("/out/.scored.parquet.assign-7");
        let input = Path::new("/data/new calls.csv");
        let e = in_user_terms(
            Error::data(
                Location::file(scratch.join("ingest/events.parquet")).line(3),
                format!(
                    "column x of {}: not a number",
                    scratch.join("ingest/events.parquet").display()
                ),
            ),
            scratch,
            input,
        );
        let text = e.to_string();
        assert_eq!(
            text,
            "bad data in /data/new calls.csv, line 3: column x of /data/new calls.csv: not a number"
        );
        let e = in_user_terms(
            Error::config(scratch.join("features").display().to_string(), "k", "m"),
            scratch,
            input,
        );
        assert!(!e.to_string().contains(".assign-"), "{e}");
        // A header that splits with another delimiter: the hint speaks of the run's layout.
        let aligned = Error::data(
            Location::file(input),
            "required column is missing (header: a  b); did you mean `delimiter: whitespace`?",
        );
        assert_eq!(
            in_user_terms(aligned, scratch, input).to_string(),
            "bad data in /data/new calls.csv: required column is missing (header: a  b); this \
             file splits into the columns with `delimiter: whitespace`, but `assign` reads new \
             records in the run's layout (its ingest `delimiter`): export them that way"
        );
        // Errors about the user's own file pass unchanged.
        let own = Error::data(Location::file(input), "bad");
        assert_eq!(
            in_user_terms(own, scratch, input).to_string(),
            "bad data in /data/new calls.csv: bad"
        );
    }
}
