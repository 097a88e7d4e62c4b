//! fit's alternatives to k-means on the lead table: Ward at the chosen K, DBSCAN without K
//! and a Gaussian mixture, each scoring new leads through `assign`, which refuses a model file
//! the run did not write or that does not fit its centroids.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, RecordBatch, UInt32Array};
use parquet::arrow::ArrowWriter;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use segflow_core::artifact::read_parquet;
use segflow_core::hash::file_sha256;
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
        summary.contains(&format!("noise | {noise} leads in no cluster")),
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

/// The lead pipeline through fit with a diagonal Gaussian mixture at the K of lowest BIC.
fn gmm_run(scratch: &Scratch) -> PathBuf {
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
    scratch.path().join("run")
}

#[test]
fn a_gaussian_mixture_segments_the_leads_and_scores_with_its_posterior() {
    let scratch = Scratch::new("algorithms-gmm");
    let run = gmm_run(&scratch);
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

/// Rewrites a fit artifact with `edit` applied to its rows, keeping its segflow metadata: a
/// valid artifact with other content.
fn rewrite(path: &Path, edit: impl FnOnce(&RecordBatch) -> RecordBatch) {
    let a = read_parquet(path).unwrap();
    let batch = edit(&a.batch);
    let metadata = a
        .metadata
        .iter()
        .filter(|(k, _)| k.starts_with("segflow."))
        .map(|(k, v)| KeyValue::new(k.clone(), v.clone()))
        .collect();
    let props = WriterProperties::builder()
        .set_key_value_metadata(Some(metadata))
        .build();
    let mut writer =
        ArrowWriter::try_new(File::create(path).unwrap(), batch.schema(), Some(props)).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
}

/// `b` with `column` replaced.
fn replaced(b: &RecordBatch, column: &str, values: ArrayRef) -> RecordBatch {
    let mut arrays = b.columns().to_vec();
    arrays[b.schema().index_of(column).unwrap()] = values;
    RecordBatch::try_new(b.schema(), arrays).unwrap()
}

/// `b`'s float column with the value in `row` changed.
fn nudged(b: &RecordBatch, column: &str, row: usize) -> RecordBatch {
    let mut values = read_floats(b, column);
    values[row] += 0.25;
    replaced(b, column, Arc::new(Float64Array::from(values)))
}

fn read_floats(b: &RecordBatch, column: &str) -> Vec<f64> {
    b.column_by_name(column)
        .unwrap()
        .as_any()
        .downcast_ref::<Float64Array>()
        .unwrap()
        .values()
        .to_vec()
}

/// `b`'s u32 column with the value in `row` set to `value`.
fn set_u32(b: &RecordBatch, column: &str, row: usize, value: u32) -> RecordBatch {
    let mut values = b
        .column_by_name(column)
        .unwrap()
        .as_any()
        .downcast_ref::<UInt32Array>()
        .unwrap()
        .values()
        .to_vec();
    values[row] = value;
    replaced(b, column, Arc::new(UInt32Array::from(values)))
}

/// Records the file as it now is in the run's lock, in place of the hash the run wrote, as
/// if the run itself had written this content.
fn relock(run: &Path, file: &Path, written: &str) {
    let lock = run.join("segflow.lock");
    let text = std::fs::read_to_string(&lock).unwrap();
    assert_eq!(text.matches(written).count(), 1, "{text}");
    let now = file_sha256(file).unwrap();
    std::fs::write(&lock, text.replace(written, &now)).unwrap();
}

/// `assign` with the run's model exits 65 naming `file` and saying `says`, and writes nothing.
fn assert_refused(run: &Path, scratch: &Scratch, file: &str, says: &str) {
    let out = scratch.path().join("refused/scored.parquet");
    let o = segflow(&[
        "assign",
        "--model",
        run.to_str().unwrap(),
        "--input",
        repo_root().join("data/leads/leads.csv").to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(65), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(file) && stderr(&o).contains(says),
        "{}",
        stderr(&o)
    );
    let parent = out.parent().unwrap();
    assert!(
        !parent.exists() || files_under(parent).is_empty(),
        "written: {:?}",
        files_under(parent)
    );
}

#[test]
fn assign_refuses_a_mixture_other_than_the_one_the_run_wrote() {
    let scratch = Scratch::new("algorithms-gmm-tampered");
    let run = gmm_run(&scratch);
    let mixture = run.join("fit/mixture.parquet");
    let written = file_sha256(&mixture).unwrap();

    // A valid mixture with one component's weight changed: only the lock tells it apart.
    rewrite(&mixture, |b| nudged(b, "weight", 0));
    assert_refused(&run, &scratch, "mixture.parquet", "changed since");

    // Recorded in the lock, a precision-factor row of a column the model does not have.
    rewrite(&mixture, |b| set_u32(b, "index", 1, 1000));
    relock(&run, &mixture, &written);
    assert_refused(
        &run,
        &scratch,
        "mixture.parquet, row 1, column `index`",
        "1000 is not one of the",
    );
}

#[test]
fn assign_refuses_core_points_other_than_the_ones_the_run_wrote() {
    let scratch = Scratch::new("algorithms-dbscan-tampered");
    let run = run_with(&scratch, "dbscan", Some("{eps: 1.5, min_samples: 10}"));
    let core = run.join("fit/core_points.parquet");
    let written = file_sha256(&core).unwrap();
    let first_column = read_parquet(&core)
        .unwrap()
        .batch
        .schema()
        .field(1)
        .name()
        .clone();

    // A valid file with one core point moved: only the lock tells it apart.
    rewrite(&core, |b| nudged(b, &first_column, 0));
    assert_refused(&run, &scratch, "core_points.parquet", "changed since");

    // Recorded in the lock, a core point in a cluster the centroids do not have.
    rewrite(&core, |b| set_u32(b, "cluster", 0, 99));
    relock(&run, &core, &written);
    assert_refused(
        &run,
        &scratch,
        "core_points.parquet, row 0, column `cluster`",
        "99 is not one of the 5 segments",
    );
}

/// The lead pipeline through fit with mini-batch k-means in select_k and fit (batches of 512
/// of the 5,000 leads), or with k-means.
fn minibatch_run(scratch: &Scratch, minibatch: bool) -> PathBuf {
    let pipeline = isolated_pipeline("leads", scratch.path(), |doc| {
        stop_after(doc, "fit");
        if minibatch {
            for stage in ["select_k", "fit"] {
                let s = &mut doc["stages"][stage];
                s["algorithm"] = "minibatch_kmeans".into();
                s["minibatch"] = yaml_serde::from_str("{batch_size: 512}").unwrap();
            }
        }
    });
    let out = segflow(&["run", pipeline.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    scratch.path().join("run")
}

#[test]
fn minibatch_kmeans_chooses_k_and_finds_the_segments_full_kmeans_finds() {
    let (mb_scratch, km_scratch) = (
        Scratch::new("algorithms-minibatch"),
        Scratch::new("algorithms-minibatch-kmeans"),
    );
    let run = minibatch_run(&mb_scratch, true);
    let summary = render_full(&run.join("fit/summary.parquet"));
    assert!(
        summary.contains("mini-batch k-means (k-means++, 3 inits, batch_size 512, max_iter 100, reassignment_ratio 0.01, seed"),
        "{summary}"
    );
    let baseline = minibatch_run(&km_scratch, false);
    let k = |run: &Path| {
        read_parquet(&run.join("select_k/decision.parquet"))
            .unwrap()
            .float_column("k")
            .unwrap()[0]
    };
    assert_eq!(k(&run), k(&baseline), "the same K");
    let labels = |run: &Path| -> Vec<usize> {
        clusters(&run.join("fit/assignments.parquet"))
            .iter()
            .map(|&c| c as usize)
            .collect()
    };
    let fitted = labels(&run);
    let ari = segflow_cluster::metrics::adjusted_rand_index(&fitted, &labels(&baseline)).unwrap();
    assert!(ari >= 0.99, "ARI against full k-means: {ari}");

    // Scoring the training leads gives back their clusters: both label by the nearest centre.
    let scored = mb_scratch.path().join("scored.parquet");
    assign(&run, &repo_root().join("data/leads/leads.csv"), &scored);
    let again: Vec<usize> = clusters(&scored).iter().map(|&c| c as usize).collect();
    assert_eq!(again, fitted);
}

#[test]
fn minibatch_settings_need_their_algorithm_and_a_ratio_below_one() {
    let scratch = Scratch::new("algorithms-minibatch-config");
    for (algorithm, spec, message) in [
        (
            "kmeans",
            "{batch_size: 512}",
            "mini-batch settings need `algorithm: minibatch_kmeans`",
        ),
        (
            "minibatch_kmeans",
            "{reassignment_ratio: 1.5}",
            "reassignment_ratio = 1.5 must lie in [0, 1)",
        ),
        ("minibatch_kmeans", "{batch_sise: 512}", "batch_sise"),
    ] {
        let pipeline = isolated_pipeline("leads", scratch.path(), |doc| {
            let fit = &mut doc["stages"]["fit"];
            fit["algorithm"] = algorithm.into();
            fit["minibatch"] = yaml_serde::from_str(spec).unwrap();
        });
        let o = segflow(&["run", pipeline.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(78), "{spec}: {}", stderr(&o));
        assert!(stderr(&o).contains(message), "{spec}: {}", stderr(&o));
        assert!(stderr(&o).contains("minibatch"), "{spec}: {}", stderr(&o));
    }
}
