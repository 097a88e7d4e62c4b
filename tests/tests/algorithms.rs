//! fit's alternatives to k-means on the lead table: Ward at the chosen K and DBSCAN without K,
//! each scoring new leads through `assign`.

use std::path::{Path, PathBuf};

use segflow_core::artifact::read_parquet;
use segflow_tests::*;

/// The lead pipeline through fit with another algorithm.
fn run_with(scratch: &Scratch, algorithm: &str, dbscan: Option<&str>) -> PathBuf {
    let pipeline = isolated_pipeline("leads", scratch.path(), |doc| {
        stop_after(doc, "fit");
        let fit = &mut doc["stages"]["fit"];
        fit["algorithm"] = algorithm.into();
        if let Some(spec) = dbscan {
            fit["dbscan"] = yaml_serde::from_str(spec).unwrap();
            fit["needs"] = yaml_serde::from_str("[preprocess, features]").unwrap();
            doc["stages"]
                .as_mapping_mut()
                .unwrap()
                .shift_remove("select_k");
        }
    });
    let out = segflow(&["run", pipeline.to_str().unwrap()]);
    assert!(out.status.success(), "{algorithm}: {}", stderr(&out));
    scratch.path().join("run")
}

fn assign(run: &Path, input: &Path, output: &Path) {
    let o = segflow(&[
        "assign",
        "--model",
        run.to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
        "--output",
        output.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
}

fn clusters(path: &Path) -> Vec<f64> {
    read_parquet(path).unwrap().float_column("cluster").unwrap()
}

#[test]
fn ward_segments_the_leads_and_scores_new_ones_by_the_nearest_mean() {
    let scratch = Scratch::new("algorithms-ward");
    let run = run_with(&scratch, "ward", None);
    let summary = render_full(&run.join("fit/summary.parquet"));
    assert!(
        summary.contains("algorithm | Ward agglomeration"),
        "{summary}"
    );
    assert!(summary.contains("segments | 5 | 5"), "{summary}");
    let fitted = clusters(&run.join("fit/assignments.parquet"));
    let scored = scratch.path().join("scored.parquet");
    assign(&run, &repo_root().join("data/leads/leads.csv"), &scored);
    // Ward's segments are summarised by their means; nearly every lead is nearest its own.
    let same = clusters(&scored)
        .iter()
        .zip(&fitted)
        .filter(|(a, b)| a == b)
        .count();
    assert!(
        same as f64 >= 0.99 * fitted.len() as f64,
        "{same} of {}",
        fitted.len()
    );
}

#[test]
fn dbscan_finds_the_dense_segments_marks_noise_and_suggests_eps() {
    let scratch = Scratch::new("algorithms-dbscan");
    let run = run_with(&scratch, "dbscan", Some("{eps: 1.5, min_samples: 10}"));
    let fitted = clusters(&run.join("fit/assignments.parquet"));
    let noise = fitted.iter().filter(|c| **c == -1.0).count();
    let k = fitted.iter().fold(0.0f64, |m, c| m.max(*c)) as usize + 1;
    assert_eq!(k, 5, "clusters");
    assert!(noise > 0 && noise < 100, "noise: {noise}");
    let summary = render_full(&run.join("fit/summary.parquet"));
    assert!(
        summary.contains(&format!("noise | {noise} contacts in no cluster")),
        "{summary}"
    );
    let eps = read_parquet(&run.join("fit/eps_suggestion.parquet")).unwrap();
    let suggested = eps.float_column("suggested_eps").unwrap()[0];
    assert!(
        suggested > 0.5 && suggested < 3.0,
        "suggested eps {suggested}"
    );

    // Scoring the training leads: core points keep their cluster; noise stays noise unless a
    // core point lies within eps.
    let scored = scratch.path().join("scored.parquet");
    assign(&run, &repo_root().join("data/leads/leads.csv"), &scored);
    let again = clusters(&scored);
    let same = again.iter().zip(&fitted).filter(|(a, b)| a == b).count();
    assert!(
        same as f64 >= 0.99 * fitted.len() as f64,
        "{same} of {}",
        fitted.len()
    );
    let segments = render_summary(&scored, 3);
    assert!(segments.contains("cluster: Int32"), "{segments}");

    // Robustness refits k-means only, and says so.
    let pipeline = isolated_pipeline("leads", scratch.path(), |doc| {
        let fit = &mut doc["stages"]["fit"];
        fit["algorithm"] = "dbscan".into();
        fit["dbscan"] = yaml_serde::from_str("{eps: 1.5, min_samples: 10}").unwrap();
    });
    let o = segflow(&["run", pipeline.to_str().unwrap(), "--only", "robustness"]);
    assert_eq!(o.status.code(), Some(65), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("robustness refits k-means; this fit used dbscan"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_gaussian_mixture_segments_the_leads_and_scores_with_its_posterior() {
    let scratch = Scratch::new("algorithms-gmm");
    let pipeline = isolated_pipeline("leads", scratch.path(), |doc| {
        stop_after(doc, "fit");
        let fit = &mut doc["stages"]["fit"];
        fit["algorithm"] = "gmm".into();
        fit["gmm"] = yaml_serde::from_str("{covariance: diag, n_init: 2}").unwrap();
        let select = &mut doc["stages"]["select_k"];
        select["bic"] = yaml_serde::from_str("{covariance: diag}").unwrap();
        select["rule"] = "min_bic".into();
    });
    let out = segflow(&["run", pipeline.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let run = scratch.path().join("run");
    let summary = render_full(&run.join("fit/summary.parquet"));
    assert!(
        summary.contains("Gaussian mixture (diag covariance"),
        "{summary}"
    );
    let fitted = read_parquet(&run.join("fit/assignments.parquet")).unwrap();
    let probability = fitted.float_column("probability").unwrap();
    assert!(probability.iter().all(|p| *p > 0.2 && *p <= 1.0));
    let scored = scratch.path().join("scored.parquet");
    assign(&run, &repo_root().join("data/leads/leads.csv"), &scored);
    let again = read_parquet(&scored).unwrap();
    assert_eq!(
        again.float_column("cluster").unwrap(),
        fitted.float_column("cluster").unwrap(),
        "the saved mixture scores the training leads as fit did"
    );
    assert_eq!(again.float_column("probability").unwrap(), probability);
}

#[test]
fn pca_before_clustering_keeps_the_asked_variance_and_assign_projects_new_rows() {
    let scratch = Scratch::new("algorithms-pca");
    let pipeline = isolated_pipeline("leads", scratch.path(), |doc| {
        stop_after(doc, "fit");
        doc["stages"]["preprocess"]["pca"] = yaml_serde::from_str("{variance: 0.92}").unwrap();
    });
    let out = segflow(&["run", pipeline.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let run = scratch.path().join("run");
    let projection = read_parquet(&run.join("preprocess/projection.parquet")).unwrap();
    let cumulative = projection.float_column("cumulative_ratio").unwrap();
    let kept = cumulative.len() - 1;
    assert!((2..12).contains(&kept), "{kept} components");
    assert!(cumulative[kept] >= 0.92 && cumulative[kept - 1] < 0.92);
    let text = render_full(&run.join("preprocess/projection.parquet"));
    assert!(text.contains("top_loadings"), "{text}");
    let matrix = render_summary(&run.join("preprocess/matrix.parquet"), 1);
    assert!(matrix.contains("pc1: Float64"), "{matrix}");

    let scored = scratch.path().join("scored.parquet");
    assign(&run, &repo_root().join("data/leads/leads.csv"), &scored);
    assert_eq!(
        clusters(&scored),
        clusters(&run.join("fit/assignments.parquet")),
        "the saved transform and projection score the training leads as fit did"
    );
}
