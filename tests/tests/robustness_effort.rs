//! The robustness stage's default effort rule of n (docs/robustness.md), read back from the
//! verdict's `segflow.effort` metadata: what ran at which n, and that a setting given in the
//! YAML is kept whatever n is.

use segflow_core::artifact::read_parquet;
use segflow_tests::*;
use yaml_serde::Value;

/// The Walsoft pipeline on a generated log of `contacts` contacts, K fixed (no select_k),
/// stopping after robustness, whose block is left at its defaults.
fn pipeline_on(scratch: &Scratch, contacts: u64, fit_n_init: u64) -> std::path::PathBuf {
    let log = scratch.path().join("calls.csv");
    synth_calls(&log, contacts * 5, contacts, 3);
    isolated_pipeline("walsoft", scratch.path(), |doc| {
        stop_after(doc, "robustness");
        let stages = doc["stages"].as_mapping_mut().unwrap();
        stages.shift_remove("select_k");
        doc["stages"]["ingest"]["input"] = Value::String(log.display().to_string());
        let fit = &mut doc["stages"]["fit"];
        fit["needs"] = yaml_serde::from_str("[preprocess, features]").unwrap();
        fit["k"] = Value::from(4u64);
        fit["n_init"] = Value::from(fit_n_init);
        doc["stages"]["robustness"] =
            yaml_serde::from_str("{needs: [fit, preprocess, features]}").unwrap();
    })
}

fn effort(run: &std::path::Path) -> serde_json::Value {
    let verdict = read_parquet(&run.join("robustness/verdict.parquet")).unwrap();
    serde_json::from_str(verdict.meta("segflow.effort").expect("effort metadata")).unwrap()
}

fn rows(path: &std::path::Path) -> u64 {
    read_parquet(path).unwrap().batch.num_rows() as u64
}

#[test]
fn defaults_shrink_above_twenty_thousand_rows_and_explicit_settings_stay() {
    let scratch = Scratch::new("robustness-effort");
    let pipeline = pipeline_on(&scratch, 30_000, 12);
    let out = segflow(&["run", pipeline.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let run = scratch.path().join("run");
    let n = rows(&run.join("preprocess/matrix.parquet"));
    assert!(n > 20_000 && n <= 200_000, "n = {n}");

    // The middle tier: 20 seeds × min(fit's 12, 10), 20 resamples × 3.
    let e = effort(&run);
    assert_eq!(e["n"], n);
    assert_eq!(
        (e["seeds"].as_u64(), e["n_init"].as_u64()),
        (Some(20), Some(10))
    );
    assert_eq!(
        (e["resamples"].as_u64(), e["bootstrap_n_init"].as_u64()),
        (Some(20), Some(3))
    );
    assert_eq!(
        (e["seeds_from"].as_str(), e["bootstrap_from"].as_str()),
        (Some("rule"), Some("rule"))
    );
    assert_eq!(e["tier"], "20,000 < n ≤ 200,000");
    let n_text = n
        .to_string()
        .as_bytes()
        .rchunks(3)
        .rev()
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join(",");
    let said =
        format!("20 seeds × 10 restarts, 20 bootstrap resamples × 3 restarts at n = {n_text}");
    assert_eq!(e["text"], said.as_str());
    // What ran is what the artifacts hold, and the verdict's reading says so.
    assert_eq!(rows(&run.join("robustness/seed_stability.parquet")), 20);
    let verdict = render_full(&run.join("robustness/verdict.parquet"));
    assert!(verdict.contains(&said), "{verdict}");
    let boot = read_parquet(&run.join("robustness/bootstrap.parquet")).unwrap();
    assert!(
        boot.float_column("resamples")
            .unwrap()
            .iter()
            .all(|r| *r <= 20.0)
    );

    // Setting one key of a pair makes the pair the user's: the bootstrap's resamples given,
    // its restarts the fixed default 10; the seed refits still follow the rule.
    let text = std::fs::read_to_string(&pipeline).unwrap();
    let mut doc: Value = yaml_serde::from_str(&text).unwrap();
    doc["stages"]["robustness"]["bootstrap"] = yaml_serde::from_str("{resamples: 4}").unwrap();
    std::fs::write(&pipeline, yaml_serde::to_string(&doc).unwrap()).unwrap();
    let out = segflow(&["run", pipeline.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let e = effort(&run);
    assert_eq!(
        (e["resamples"].as_u64(), e["bootstrap_n_init"].as_u64()),
        (Some(4), Some(10))
    );
    assert_eq!(e["bootstrap_from"], "params");
    assert_eq!(
        (e["seeds"].as_u64(), e["seeds_from"].as_str()),
        (Some(20), Some("rule"))
    );
}

#[test]
fn walsoft_runs_its_explicit_fifty_by_fifty() {
    let scratch = Scratch::new("robustness-effort-walsoft");
    let pipeline = isolated_pipeline("walsoft", scratch.path(), |doc| {
        stop_after(doc, "robustness")
    });
    let out = segflow(&["run", pipeline.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let e = effort(&scratch.path().join("run"));
    assert_eq!(e["n"], 2091);
    assert_eq!(
        (e["seeds"].as_u64(), e["n_init"].as_u64()),
        (Some(50), Some(50))
    );
    assert_eq!(
        (e["resamples"].as_u64(), e["bootstrap_n_init"].as_u64()),
        (Some(100), Some(10))
    );
    assert_eq!(
        (e["seeds_from"].as_str(), e["bootstrap_from"].as_str()),
        (Some("params"), Some("params"))
    );
    assert_eq!(e["tier"], "");
}
