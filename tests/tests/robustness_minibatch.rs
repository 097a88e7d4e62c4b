//! Robustness of a mini-batch fit: its refits run mini-batch k-means on a seeded subsample of
//! the stated size, the verdict's metadata and reading say the size, and the artifacts are
//! byte-identical on 1 and 2 threads. select_k with mini-batch k-means scores K with the
//! sampled silhouette at `silhouette_sample_size`.

use segflow_core::artifact::read_parquet;
use segflow_tests::*;
use yaml_serde::Value;

/// The Walsoft pipeline on a generated log, select_k and fit by mini-batch k-means, stopping
/// after robustness with refits on 1,000 rows.
fn pipeline(scratch: &Scratch) -> std::path::PathBuf {
    let log = scratch.path().join("calls.csv");
    synth_calls(&log, 3_000 * 5, 3_000, 3);
    isolated_pipeline("walsoft", scratch.path(), |doc| {
        stop_after(doc, "robustness");
        doc["stages"]["ingest"]["input"] = Value::String(log.display().to_string());
        for stage in ["select_k", "fit"] {
            let s = &mut doc["stages"][stage];
            s["algorithm"] = "minibatch_kmeans".into();
            s["minibatch"] = yaml_serde::from_str("{batch_size: 256}").unwrap();
        }
        let select = &mut doc["stages"]["select_k"];
        select["silhouette_exact_below"] = Value::from(1_000u64);
        select["silhouette_sample_size"] = Value::from(500u64);
        doc["stages"]["robustness"] = yaml_serde::from_str(
            "{needs: [fit, preprocess, features], subsample: 1000, seeds: 4, \
             bootstrap: {resamples: 4}}",
        )
        .unwrap();
    })
}

#[test]
fn a_minibatch_fit_is_refitted_on_a_stated_subsample_identically_on_one_and_two_threads() {
    let mut runs = Vec::new();
    for threads in ["1", "2"] {
        let scratch = Scratch::new(&format!("robustness-minibatch-{threads}"));
        let p = pipeline(&scratch);
        let out = segflow_env(
            &["run", p.to_str().unwrap()],
            &[("RAYON_NUM_THREADS", Some(threads))],
        );
        assert!(out.status.success(), "{}", stderr(&out));
        let run = scratch.path().join("run");
        let files: Vec<(String, Vec<u8>)> = files_under(&run.join("robustness"))
            .into_iter()
            .map(|f| {
                (
                    f.clone(),
                    std::fs::read(run.join("robustness").join(&f)).unwrap(),
                )
            })
            .collect();
        runs.push((scratch, files));
    }
    let (a, b) = (&runs[0].1, &runs[1].1);
    assert!(a.iter().any(|f| f.0 == "verdict.parquet"));
    assert_eq!(a.len(), b.len());
    for ((name, x), (_, y)) in a.iter().zip(b) {
        assert!(x == y, "{name} differs between 1 and 2 threads");
    }

    let run = runs[0].0.path().join("run");
    let n = read_parquet(&run.join("preprocess/matrix.parquet"))
        .unwrap()
        .batch
        .num_rows();
    assert!(n > 1_000, "n = {n}");
    let verdict = read_parquet(&run.join("robustness/verdict.parquet")).unwrap();
    let sample: serde_json::Value = serde_json::from_str(
        verdict
            .meta("segflow.subsample")
            .expect("subsample metadata"),
    )
    .unwrap();
    assert_eq!(sample["size"], 1_000);
    assert_eq!(sample["of"], n);
    let effort: serde_json::Value =
        serde_json::from_str(verdict.meta("segflow.effort").unwrap()).unwrap();
    assert_eq!(effort["n"], 1_000, "the effort is the subsample's");
    let text = render_full(&run.join("robustness/verdict.parquet"));
    let said = format!("mini-batch refits on a seeded subsample of 1000 of {n} rows");
    assert!(text.contains(&said), "{text}");
    assert_eq!(
        read_parquet(&run.join("robustness/seed_stability.parquet"))
            .unwrap()
            .batch
            .num_rows(),
        4
    );
    // The first block row rebuilds the baseline on the same rows: mini-batch refits of the
    // same data agree with the fit far above chance.
    let blocks = read_parquet(&run.join("robustness/block_sensitivity.parquet")).unwrap();
    assert!(blocks.float_column("ari").unwrap()[0] > 0.5);

    // select_k scored every K with the silhouette of a 500-row sample (n ≥ 1,000).
    let scores = read_parquet(&run.join("select_k/k_scores.parquet")).unwrap();
    let method = scores.column("silhouette_method").unwrap();
    let rows = scores.batch.num_rows();
    assert!(rows > 1);
    for r in 0..rows {
        assert_eq!(cell(method.as_ref(), r), "sampled");
    }
}

#[test]
fn a_k_means_fit_ignores_the_subsample_and_writes_no_subsample_metadata() {
    let scratch = Scratch::new("robustness-minibatch-kmeans");
    let log = scratch.path().join("calls.csv");
    synth_calls(&log, 1_500 * 5, 1_500, 3);
    let p = isolated_pipeline("walsoft", scratch.path(), |doc| {
        stop_after(doc, "robustness");
        doc["stages"]["ingest"]["input"] = Value::String(log.display().to_string());
        doc["stages"]["robustness"] = yaml_serde::from_str(
            "{needs: [fit, preprocess, features], subsample: 100, seeds: 2, \
             bootstrap: {resamples: 2}}",
        )
        .unwrap();
    });
    let out = segflow(&["run", p.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let run = scratch.path().join("run");
    let verdict = read_parquet(&run.join("robustness/verdict.parquet")).unwrap();
    assert!(verdict.meta("segflow.subsample").is_none());
    let n = read_parquet(&run.join("preprocess/matrix.parquet"))
        .unwrap()
        .batch
        .num_rows();
    let effort: serde_json::Value =
        serde_json::from_str(verdict.meta("segflow.effort").unwrap()).unwrap();
    assert_eq!(effort["n"], n);
}
