//! Algorithm versions in the lock: a stage whose version changes runs again (and the stages
//! whose inputs that changes after it), an old lock without versions counts as stale, and
//! `assign` refuses a model built by another version.

use std::path::{Path, PathBuf};

use segflow_core::params::ParamTree;
use segflow_core::pipeline::Pipeline;
use segflow_core::runner::{self, Observer, Outcome, RunOptions, StageReport};
use segflow_core::stage::{OutputDir, Planned, Registry, Stage, StageCtx};
use segflow_tests::*;

/// The lead pipeline through fit, with a short K sweep and few restarts (the numbers do not
/// bear on these tests).
fn leads_through_fit(scratch: &Scratch) -> PathBuf {
    isolated_pipeline("leads", scratch.path(), |doc| {
        stop_after(doc, "fit");
        doc["stages"]["select_k"]["k"] = yaml_serde::from_str("[2, 5]").unwrap();
        doc["stages"]["select_k"]["n_init"] = 2.into();
        doc["stages"]["fit"]["n_init"] = 2.into();
    })
}

/// The real preprocess stage reporting a given algorithm version. Version 2 stands for a
/// changed implementation whose results differ: it caps the scaled values at ±1, which the
/// lead pipeline (`cap: null`) leaves alone.
struct Preprocess {
    version: u32,
}

impl Preprocess {
    fn real() -> &'static dyn Stage {
        segflow_cli::registry()
            .get("preprocess")
            .expect("preprocess is registered")
    }
}

impl Stage for Preprocess {
    fn kind(&self) -> &'static str {
        Self::real().kind()
    }

    fn about(&self) -> &'static str {
        Self::real().about()
    }

    fn consumes(&self) -> &'static [&'static str] {
        Self::real().consumes()
    }

    fn plan(&self, params: &ParamTree) -> segflow_core::Result<Vec<Planned>> {
        Self::real().plan(params)
    }

    fn algorithm_version(&self, _params: &ParamTree) -> segflow_core::Result<String> {
        Ok(self.version.to_string())
    }

    fn run(
        &self,
        inputs: &[PathBuf],
        params: &ParamTree,
        out: &mut OutputDir,
        ctx: &StageCtx<'_>,
    ) -> segflow_core::Result<u64> {
        let mut params = params.clone();
        if self.version > 1 {
            params.set("cap", 1.0)?;
        }
        Self::real().run(inputs, &params, out, ctx)
    }
}

/// segflow's stages, with preprocess at the given version.
fn registry(preprocess_version: u32) -> Registry {
    let preprocess: &'static dyn Stage = Box::leak(Box::new(Preprocess {
        version: preprocess_version,
    }));
    let real = segflow_cli::registry();
    Registry::new(
        real.kinds()
            .into_iter()
            .map(|kind| match kind {
                "preprocess" => preprocess,
                other => real.get(other).unwrap(),
            })
            .collect(),
    )
}

struct Quiet;

impl Observer for Quiet {
    fn started(&self, _: &str, _: &str) {}
    fn message(&self, _: &str, _: &str) {}
    fn finished(&self, _: &StageReport) {}
}

/// Runs the pipeline with preprocess at `version`; returns (stage, outcome, reasons).
fn run(pipeline: &Path, version: u32) -> Vec<(String, Outcome, Vec<String>)> {
    let pipeline = Pipeline::load(pipeline, &registry(version)).unwrap();
    runner::run(&pipeline, &RunOptions::default(), &Quiet)
        .unwrap()
        .stages
        .into_iter()
        .map(|s| (s.stage, s.outcome, s.reasons))
        .collect()
}

fn outcomes(report: &[(String, Outcome, Vec<String>)]) -> Vec<(&str, Outcome)> {
    report.iter().map(|(s, o, _)| (s.as_str(), *o)).collect()
}

const STAGES: [&str; 5] = ["ingest", "features", "preprocess", "select_k", "fit"];

fn all(outcome: Outcome) -> Vec<(&'static str, Outcome)> {
    STAGES.iter().map(|s| (*s, outcome)).collect()
}

#[test]
fn a_changed_algorithm_version_reruns_the_stage_and_what_its_new_results_feed() {
    use Outcome::{Ran, Skipped};
    let scratch = Scratch::new("versions-rerun");
    let pipeline = leads_through_fit(&scratch);
    let matrix = scratch.path().join("run/preprocess/matrix.parquet");

    assert_eq!(outcomes(&run(&pipeline, 1)), all(Ran));
    let matrix_v1 = std::fs::read(&matrix).unwrap();
    // The same version: nothing to do.
    assert_eq!(outcomes(&run(&pipeline, 1)), all(Skipped));

    let loaded = Pipeline::load(&pipeline, &registry(2)).unwrap();
    let status = runner::status(&loaded).unwrap();
    assert_eq!(
        status[2].reasons,
        ["preprocess algorithm version changed (1 → 2)"]
    );
    assert_eq!(status[3].reasons, ["upstream stage `preprocess` is stale"]);
    assert!(status[..2].iter().all(|s| s.up_to_date));

    let report = run(&pipeline, 2);
    assert_eq!(
        outcomes(&report),
        [
            ("ingest", Skipped),
            ("features", Skipped),
            ("preprocess", Ran),
            ("select_k", Ran),
            ("fit", Ran)
        ]
    );
    assert_eq!(
        report[2].2,
        ["preprocess algorithm version changed (1 → 2)"]
    );
    assert_ne!(std::fs::read(&matrix).unwrap(), matrix_v1);
    // select_k and fit ran because the matrix they read changed, not for a version of theirs.
    for (stage, _, reasons) in &report[3..] {
        assert!(
            reasons
                .iter()
                .any(|r| r.ends_with("matrix.parquet changed"))
                && !reasons.iter().any(|r| r.contains("algorithm version")),
            "{stage}: {reasons:?}"
        );
    }
    assert_eq!(outcomes(&run(&pipeline, 2)), all(Skipped));
}

#[test]
fn a_lock_without_algorithm_versions_is_read_and_every_stage_in_it_is_stale() {
    let scratch = Scratch::new("versions-old-lock");
    let pipeline = leads_through_fit(&scratch);
    let p = pipeline.to_str().unwrap();
    assert!(segflow(&["run", p]).status.success());
    let lock_path = scratch.path().join("run/segflow.lock");
    let mut lock: yaml_serde::Value =
        yaml_serde::from_str(&std::fs::read_to_string(&lock_path).unwrap()).unwrap();
    assert_eq!(lock["schema"], 2);
    // As segflow wrote it before the lock recorded versions.
    lock["schema"] = 1.into();
    for (_, entry) in lock["stages"].as_mapping_mut().unwrap() {
        assert!(entry["algorithm_version"].is_string());
        entry.as_mapping_mut().unwrap().remove("algorithm_version");
    }
    std::fs::write(&lock_path, yaml_serde::to_string(&lock).unwrap()).unwrap();

    let status = stdout(&segflow(&["status", p]));
    assert!(
        status
            .contains("fit: stale — fit algorithm version not recorded (lock of an older segflow)"),
        "{status}"
    );
    let o = segflow(&["run", p, "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        summary["stages"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["outcome"] == "ran"),
        "{summary}"
    );
    let lock: yaml_serde::Value =
        yaml_serde::from_str(&std::fs::read_to_string(&lock_path).unwrap()).unwrap();
    assert_eq!(lock["schema"], 2);
    assert!(lock["stages"]["fit"]["algorithm_version"].is_string());
}

fn assign(run: &Path, output: &Path) -> std::process::Output {
    segflow(&[
        "assign",
        "--model",
        run.to_str().unwrap(),
        "--input",
        "data/leads/leads.csv",
        "--output",
        output.to_str().unwrap(),
    ])
}

#[test]
fn assign_refuses_a_model_built_by_another_algorithm_version() {
    let scratch = Scratch::new("versions-assign");
    let pipeline = leads_through_fit(&scratch);
    assert!(
        segflow(&["run", pipeline.to_str().unwrap()])
            .status
            .success()
    );
    let run = scratch.path().join("run");
    let scored = scratch.path().join("scored.parquet");
    let o = assign(&run, &scored);
    assert!(o.status.success(), "{}", stderr(&o));
    std::fs::remove_file(&scored).unwrap();

    let lock_path = run.join("segflow.lock");
    let text = std::fs::read_to_string(&lock_path).unwrap();
    let mut lock: yaml_serde::Value = yaml_serde::from_str(&text).unwrap();
    let current = lock["stages"]["fit"]["algorithm_version"]
        .as_str()
        .unwrap()
        .to_string();
    // The fit as an older build recorded it.
    lock["stages"]["fit"]["algorithm_version"] = "0".into();
    std::fs::write(&lock_path, yaml_serde::to_string(&lock).unwrap()).unwrap();
    let o = assign(&run, &scored);
    assert_eq!(o.status.code(), Some(65), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("segflow.lock")
            && err.contains(&format!(
                "stage `fit` ran fit algorithm version 0, this segflow runs version {current}"
            ))
            && err.contains("rerun the pipeline"),
        "{err}"
    );
    assert!(!scored.exists());

    // A lock from before versions were recorded cannot vouch for its model either.
    lock["stages"]["fit"]["algorithm_version"] = current.into();
    lock["stages"]["select_k"]
        .as_mapping_mut()
        .unwrap()
        .remove("algorithm_version");
    std::fs::write(&lock_path, yaml_serde::to_string(&lock).unwrap()).unwrap();
    let o = assign(&run, &scored);
    assert_eq!(o.status.code(), Some(65), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("stage `select_k` recorded no algorithm version"),
        "{}",
        stderr(&o)
    );

    // Restored, the run scores again: the refusals came from the versions alone.
    std::fs::write(&lock_path, text).unwrap();
    assert!(assign(&run, &scored).status.success());
}
