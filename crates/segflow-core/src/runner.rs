//! Runs a pipeline in dependency order, skipping stages whose lock entry still matches, and
//! answers `status` (what is stale and why) and `verify` (which artifacts changed).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use crate::artifact::Provenance;
use crate::dataset::{self, input_sha256};
use crate::hash::{file_sha256, params_hash};
use crate::lock::{Lock, LockEntry};
use crate::pipeline::{Pipeline, StageSpec};
use crate::stage::{Format, OutputDir, StageCtx, Tally, input_hashes};
use crate::warnings::Warning;
use crate::{Error, Result, TOOL_VERSION};

#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Run just this stage (its inputs must already exist).
    pub only: Option<String>,
    /// Re-run this stage and everything downstream of it.
    pub from: Option<String>,
    /// Re-run every selected stage even when up to date.
    pub force: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Ran,
    Skipped,
}

#[derive(Debug, Clone, Serialize)]
pub struct StageReport {
    pub stage: String,
    pub kind: String,
    pub outcome: Outcome,
    pub rows: u64,
    pub seconds: f64,
    /// Why the stage ran (empty when skipped).
    pub reasons: Vec<String>,
    /// What the stage noticed about weak data (empty when skipped: they were shown when it ran,
    /// and stay in its warnings artifact).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<Warning>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    pub pipeline: String,
    pub run_dir: String,
    pub stages: Vec<StageReport>,
    pub seconds: f64,
}

/// Receives progress from the runner (a progress bar in a terminal, nothing elsewhere).
/// `Sync` because stages count their steps from worker threads.
pub trait Observer: Sync {
    fn started(&self, stage: &str, kind: &str);
    fn message(&self, stage: &str, message: &str);
    /// A counted step of the running stage moved.
    fn tally(&self, _stage: &str, _step: &str, _tally: Tally) {}
    fn finished(&self, report: &StageReport);
}

/// Removes what a killed run left behind: staging directories, temporary files and stage
/// directories set aside by a commit (`.<name>.staging-<pid>`, `.<name>.tmp-<pid>`,
/// `.<name>.old-<pid>`) of processes that no longer run. None of them is a committed artifact
/// the lock records.
fn remove_leftovers(dir: &Path) -> Result<()> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let pid = [".staging-", ".tmp-", ".old-"]
            .iter()
            .find_map(|marker| name.rsplit_once(marker).map(|(_, pid)| pid))
            .and_then(|pid| pid.parse::<u32>().ok());
        let Some(pid) = pid.filter(|_| name.starts_with('.')) else {
            continue;
        };
        if pid == std::process::id() || process_alive(pid) {
            continue;
        }
        let path = entry.path();
        let removed = if path.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        removed.map_err(|e| Error::io(&path, e))?;
    }
    Ok(())
}

/// Whether a process id is running. Where /proc is missing, every owner counts as gone.
fn process_alive(pid: u32) -> bool {
    Path::new("/proc").join(pid.to_string()).exists()
}

/// The files a stage reads: its external inputs, or the artifacts of the kinds it consumes
/// that its upstream stages write, in `needs` order.
pub fn stage_inputs(pipeline: &Pipeline, spec: &StageSpec) -> Vec<PathBuf> {
    if spec.stage.consumes().is_empty() {
        return spec.inputs.clone();
    }
    let mut inputs = Vec::new();
    for need in &spec.needs {
        if let Some(up) = pipeline.stage(need) {
            for out in &up.outputs {
                if out.format == Format::Parquet && spec.stage.consumes().contains(&out.kind) {
                    inputs.push(up.output_dir.join(&out.file));
                }
            }
        }
    }
    inputs
}

fn display(path: &Path) -> String {
    path.to_string_lossy().replace('\\', "/")
}

fn relative_to(path: &Path, base: &Path) -> String {
    display(path.strip_prefix(base).unwrap_or(path))
}

/// Why a stage is not up to date; empty when its lock entry still matches everything.
pub fn stale_reasons(pipeline: &Pipeline, spec: &StageSpec, lock: &Lock) -> Result<Vec<String>> {
    let Some(entry) = lock.stages.get(&spec.name) else {
        return Ok(vec!["never run".into()]);
    };
    let mut reasons = Vec::new();
    if entry.tool_version != TOOL_VERSION {
        reasons.push(format!(
            "segflow version changed ({} → {TOOL_VERSION})",
            entry.tool_version
        ));
    }
    if entry.kind != spec.stage.kind() {
        reasons.push(format!(
            "stage kind changed ({} → {})",
            entry.kind,
            spec.stage.kind()
        ));
    }
    let version = algorithm_version(pipeline, spec)?;
    match &entry.algorithm_version {
        None => reasons.push(format!(
            "{} algorithm version not recorded (lock of an older segflow)",
            spec.stage.kind()
        )),
        Some(recorded) if *recorded != version => reasons.push(format!(
            "{} algorithm version changed ({recorded} → {version})",
            spec.stage.kind()
        )),
        Some(_) => {}
    }
    if entry.seed != pipeline.seed {
        reasons.push(format!("seed changed ({} → {})", entry.seed, pipeline.seed));
    }
    if entry.params_hash != params_hash(spec.stage.kind(), &spec.params)? {
        reasons.push("params changed".into());
    }
    let inputs = stage_inputs(pipeline, spec);
    let names: BTreeSet<String> = inputs.iter().map(|p| display(p)).collect();
    if names != entry.inputs.keys().cloned().collect() {
        reasons.push("input files changed".into());
    }
    for input in &inputs {
        let name = display(input);
        if !dataset::exists(input) {
            reasons.push(format!("input {name} is missing"));
        } else if entry.inputs.get(&name) != Some(&input_sha256(input)?) {
            reasons.push(format!("input {name} changed"));
        }
    }
    let planned: BTreeSet<String> = spec
        .output_paths()
        .iter()
        .map(|p| relative_to(p, &pipeline.run_dir))
        .collect();
    if planned != entry.outputs.keys().cloned().collect() {
        reasons.push("output set changed".into());
    }
    for (rel, hash) in &entry.outputs {
        let path = pipeline.run_dir.join(rel);
        if !path.is_file() {
            reasons.push(format!("output {rel} is missing"));
        } else if &file_sha256(&path)? != hash {
            reasons.push(format!("output {rel} was modified"));
        }
    }
    Ok(reasons)
}

/// The algorithm version of a stage of the pipeline with its params.
fn algorithm_version(pipeline: &Pipeline, spec: &StageSpec) -> Result<String> {
    spec.stage.algorithm_version(&spec.params).map_err(|e| {
        e.in_config(
            &pipeline.file.display().to_string(),
            &format!("stages.{}", spec.name),
        )
    })
}

pub fn run(
    pipeline: &Pipeline,
    options: &RunOptions,
    observer: &dyn Observer,
) -> Result<RunSummary> {
    let started = Instant::now();
    for name in options.only.iter().chain(options.from.iter()) {
        pipeline.require_stage(name)?;
    }
    let selected: BTreeSet<String> = match (&options.only, &options.from) {
        (Some(_), Some(_)) => {
            return Err(Error::Usage("--only and --from cannot be combined".into()));
        }
        (Some(only), None) => BTreeSet::from([only.clone()]),
        (None, Some(from)) => pipeline.downstream(from),
        (None, None) => pipeline.stages.iter().map(|s| s.name.clone()).collect(),
    };
    let mut dirs: BTreeSet<PathBuf> = BTreeSet::from([pipeline.run_dir.clone()]);
    dirs.extend(
        pipeline
            .stages
            .iter()
            .filter_map(|s| s.output_dir.parent().map(Path::to_path_buf)),
    );
    for dir in &dirs {
        remove_leftovers(dir)?;
    }
    let mut lock = Lock::load(&pipeline.run_dir, &pipeline.name)?;
    lock.pipeline = pipeline.name.clone();
    let mut reports = Vec::new();
    for spec in pipeline
        .stages
        .iter()
        .filter(|s| selected.contains(&s.name))
    {
        let t0 = Instant::now();
        observer.started(&spec.name, spec.stage.kind());
        let mut reasons = stale_reasons(pipeline, spec, &lock)?;
        if reasons.is_empty() && (options.force || options.from.is_some()) {
            reasons.push("forced".into());
        }
        let report = if reasons.is_empty() {
            StageReport {
                stage: spec.name.clone(),
                kind: spec.stage.kind().to_string(),
                outcome: Outcome::Skipped,
                rows: lock.stages[&spec.name].rows,
                seconds: t0.elapsed().as_secs_f64(),
                reasons,
                warnings: Vec::new(),
            }
        } else {
            let entry = run_stage(pipeline, spec, observer)?;
            let rows = entry.rows;
            lock.stages.insert(spec.name.clone(), entry);
            lock.save(&pipeline.run_dir)?;
            StageReport {
                stage: spec.name.clone(),
                kind: spec.stage.kind().to_string(),
                outcome: Outcome::Ran,
                rows,
                seconds: t0.elapsed().as_secs_f64(),
                reasons,
                warnings: crate::warnings::read_written(&spec.output_paths())?,
            }
        };
        pipeline.recheck_names(spec)?;
        observer.finished(&report);
        reports.push(report);
    }
    Ok(RunSummary {
        pipeline: pipeline.name.clone(),
        run_dir: display(&pipeline.run_dir),
        stages: reports,
        seconds: started.elapsed().as_secs_f64(),
    })
}

fn run_stage(pipeline: &Pipeline, spec: &StageSpec, observer: &dyn Observer) -> Result<LockEntry> {
    let file = pipeline.file.display().to_string();
    let inputs = stage_inputs(pipeline, spec);
    for input in &inputs {
        if !dataset::exists(input) {
            let producer = pipeline
                .stages
                .iter()
                .find(|s| s.output_paths().contains(input));
            let reason = match producer {
                Some(up) => format!("no such file; run stage `{}` first", up.name),
                None => "no such file".to_string(),
            };
            return Err(Error::NoInput {
                path: input.clone(),
                reason,
            });
        }
    }
    let kind = spec.stage.kind();
    let algorithm_version = algorithm_version(pipeline, spec)?;
    let params_hash = params_hash(kind, &spec.params)?;
    let provenance = Provenance {
        stage: kind.to_string(),
        params_hash: params_hash.clone(),
        params: crate::hash::params_json(&spec.params)?,
        input_hashes: input_hashes(&inputs)?,
        seed: pipeline.seed,
    };
    let mut out = OutputDir::owned(&spec.output_dir, provenance, spec.outputs.clone())?;
    let progress = |msg: &str| observer.message(&spec.name, msg);
    let tally = |step: &str, t: Tally| observer.tally(&spec.name, step, t);
    let ctx = StageCtx {
        seed: pipeline.seed,
        progress: &progress,
        tally: &tally,
    };
    let rows = spec
        .stage
        .run(&inputs, &spec.params, &mut out, &ctx)
        .map_err(|e| e.in_config(&file, &format!("stages.{}", spec.name)))?;
    let written = out.commit()?;
    let mut input_map = BTreeMap::new();
    for input in &inputs {
        input_map.insert(display(input), input_sha256(input)?);
    }
    let mut outputs = BTreeMap::new();
    for path in &written {
        outputs.insert(relative_to(path, &pipeline.run_dir), file_sha256(path)?);
    }
    Ok(LockEntry {
        kind: kind.to_string(),
        tool_version: TOOL_VERSION.to_string(),
        algorithm_version: Some(algorithm_version),
        seed: pipeline.seed,
        params_hash,
        inputs: input_map,
        outputs,
        rows,
    })
}

#[derive(Debug, Clone, Serialize)]
pub struct StageStatus {
    pub stage: String,
    pub kind: String,
    pub up_to_date: bool,
    pub reasons: Vec<String>,
}

/// Every stage with the reasons it would run. A stage downstream of a stale one is stale too,
/// since its inputs are about to change.
pub fn status(pipeline: &Pipeline) -> Result<Vec<StageStatus>> {
    let lock = Lock::load(&pipeline.run_dir, &pipeline.name)?;
    let mut stale: BTreeSet<String> = BTreeSet::new();
    let mut out = Vec::new();
    for spec in &pipeline.stages {
        let mut reasons = stale_reasons(pipeline, spec, &lock)?;
        for need in &spec.needs {
            if stale.contains(need) {
                reasons.push(format!("upstream stage `{need}` is stale"));
            }
        }
        if !reasons.is_empty() {
            stale.insert(spec.name.clone());
        }
        out.push(StageStatus {
            stage: spec.name.clone(),
            kind: spec.stage.kind().to_string(),
            up_to_date: reasons.is_empty(),
            reasons,
        });
    }
    Ok(out)
}

#[derive(Debug, Clone, Serialize)]
pub struct VerifyProblem {
    pub stage: String,
    pub artifact: String,
    pub problem: String,
}

/// Recomputes the hash of every artifact recorded in a run directory's lock file.
pub fn verify(run_dir: &Path) -> Result<(usize, Vec<VerifyProblem>)> {
    let lock = Lock::load_existing(run_dir)?;
    let mut checked = 0;
    let mut problems = Vec::new();
    for (stage, entry) in &lock.stages {
        for (rel, hash) in &entry.outputs {
            checked += 1;
            let path = run_dir.join(rel);
            let problem = if !path.is_file() {
                Some("missing".to_string())
            } else {
                let actual = file_sha256(&path)?;
                (&actual != hash).then(|| {
                    format!(
                        "content changed (sha256 {} ≠ recorded {})",
                        &actual[..12],
                        &hash[..12.min(hash.len())]
                    )
                })
            };
            if let Some(problem) = problem {
                problems.push(VerifyProblem {
                    stage: stage.clone(),
                    artifact: rel.clone(),
                    problem,
                });
            }
        }
    }
    Ok((checked, problems))
}
