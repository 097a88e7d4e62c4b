//! Property-based fuzzing of the two parsers that face users' files: CSV ingest (events and
//! table mode; comma-separated and whitespace-aligned) and pipeline YAML. Inputs are the committed corpus (`tests/fuzz/`) with random
//! byte edits; the property is that segflow answers with a result or a typed error — never a
//! panic — and that a failed ingest leaves no artifact.
//!
//! `cargo test` fuzzes for 5 seconds; `just fuzz` for SEGFLOW_FUZZ_SECONDS (600 there), each batch
//! with its own fixed seed, so any failure is reproducible from the printed batch number.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestRunner};

use segflow_core::pipeline::Pipeline;
use segflow_core::stage::{no_tally, run_with_params};
use segflow_tests::*;

/// One byte-level edit: (kind, position, byte).
type Edit = (u8, usize, u8);

fn mutate(seed: &[u8], edits: &[Edit]) -> Vec<u8> {
    let mut b = seed.to_vec();
    for &(kind, pos, byte) in edits {
        let at = if b.is_empty() { 0 } else { pos % b.len() };
        match kind % 5 {
            0 if !b.is_empty() => b[at] = byte,
            1 if !b.is_empty() => {
                b.remove(at);
            }
            2 => b.insert(at, byte),
            // Structure-aware edits: the characters CSV and YAML care about.
            3 => b.insert(at, b",\n\r\":{}[]-#&*!|>'"[byte as usize % 17]),
            _ => b.truncate(at),
        }
    }
    b
}

fn corpus(kind: &str) -> Vec<(String, Vec<u8>)> {
    let dir = repo_root().join("tests/fuzz").join(kind);
    files_under(&dir)
        .into_iter()
        .map(|f| (f.clone(), std::fs::read(dir.join(&f)).unwrap()))
        .collect()
}

/// A stage's params: its block in a shipped pipeline without the runner's keys.
fn ingest_params(pipeline: &str) -> segflow_core::params::ParamTree {
    let text = std::fs::read_to_string(repo_root().join("pipelines").join(pipeline)).unwrap();
    let doc: yaml_serde::Value = yaml_serde::from_str(&text).unwrap();
    let mut block = doc["stages"]["ingest"].as_mapping().unwrap().clone();
    for k in ["input", "needs", "uses", "output_dir"] {
        block.shift_remove(k);
    }
    let text = yaml_serde::to_string(&block).unwrap();
    segflow_core::yaml::parse_document(pipeline, &text).unwrap()
}

fn budget() -> (Duration, u32) {
    let seconds: u64 = std::env::var("SEGFLOW_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    (Duration::from_secs(seconds), 48)
}

/// Runs `property` over batches with seeds 0, 1, 2, … until the time budget is spent (at least
/// one batch).
fn batches(
    name: &str,
    strategy: impl Strategy<Value = (usize, Vec<Edit>)> + Clone,
    property: impl Fn((usize, Vec<Edit>)) -> Result<(), TestCaseError>,
) {
    let (limit, cases) = budget();
    let started = Instant::now();
    let mut batch = 0u64;
    loop {
        let mut runner = TestRunner::new(Config {
            cases,
            rng_seed: RngSeed::Fixed(batch),
            failure_persistence: None,
            ..Config::default()
        });
        if let Err(e) = runner.run(&strategy, &property) {
            panic!("{name}, batch {batch}: {e}");
        }
        batch += 1;
        if started.elapsed() >= limit {
            break;
        }
    }
    eprintln!(
        "{name}: {} cases in {:.0?} without a panic",
        batch * cases as u64,
        started.elapsed()
    );
}

fn edits(files: usize) -> impl Strategy<Value = (usize, Vec<Edit>)> + Clone {
    (
        0..files,
        prop::collection::vec((any::<u8>(), any::<usize>(), any::<u8>()), 0..10),
    )
}

#[test]
fn csv_ingest_never_panics_and_leaves_nothing_on_failure() {
    let scratch = Scratch::new("fuzz-csv");
    let files = corpus("csv");
    let whitespace = segflow_core::yaml::parse_document(
        "purchases",
        "mode: events\ndelimiter: whitespace\n\
         columns: {contact: customer_id, date: date, value: dollar_value}\n\
         formats: {date: '%Y%m%d'}\nmax_reject_fraction: 1\n",
    )
    .unwrap();
    let params = [
        ingest_params("walsoft.yaml"),
        ingest_params("leads.yaml"),
        whitespace,
    ];
    let registry = segflow_cli::registry();
    let stage = registry.get("ingest").unwrap();
    let input: PathBuf = scratch.path().join("input.csv");
    let out: PathBuf = scratch.path().join("out");
    batches("CSV ingest", edits(files.len()), |(file, e)| {
        let bytes = mutate(&files[file].1, &e);
        std::fs::write(&input, &bytes).unwrap();
        for p in &params {
            let _ = std::fs::remove_dir_all(&out);
            match run_with_params(
                stage,
                std::slice::from_ref(&input),
                p,
                &out,
                42,
                &|_| {},
                &no_tally,
            ) {
                Ok(_) => prop_assert!(out.join("rejects.parquet").is_file()),
                Err(err) => {
                    prop_assert!(
                        [65, 78].contains(&err.exit_code()),
                        "unexpected exit {} for {}: {err}",
                        err.exit_code(),
                        files[file].0
                    );
                    prop_assert!(!out.exists(), "a failed ingest left {}", out.display());
                }
            }
        }
        Ok(())
    });
}

#[test]
fn pipeline_yaml_never_panics() {
    let scratch = Scratch::new("fuzz-yaml");
    let repo = repo_root().display().to_string();
    // Inputs point into the repository so that a valid document loads.
    let files: Vec<(String, Vec<u8>)> = corpus("yaml")
        .into_iter()
        .map(|(name, bytes)| {
            let text = String::from_utf8(bytes).unwrap();
            (
                name,
                text.replace("input: data/", &format!("input: {repo}/data/"))
                    .into_bytes(),
            )
        })
        .collect();
    let registry = segflow_cli::registry();
    let path = scratch.path().join("pipeline.yaml");
    batches("pipeline YAML", edits(files.len()), |(file, e)| {
        std::fs::write(&path, mutate(&files[file].1, &e)).unwrap();
        match Pipeline::load(&path, &registry) {
            Ok(p) => prop_assert!(!p.stages.is_empty()),
            Err(err) => prop_assert!(
                [64, 65, 66, 78].contains(&err.exit_code()),
                "unexpected exit {}: {err}",
                err.exit_code()
            ),
        }
        Ok(())
    });
}
