//! The lead pipeline end to end: the committed table is the generator's output, K comes from
//! the highest silhouette, k-means recovers the planted segments, new leads are scored, and
//! every artifact matches its snapshot.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use arrow::array::AsArray;
use segflow_core::artifact::read_parquet;
use segflow_core::hash::sha256_hex;
use segflow_tests::*;

fn run_leads(scratch: &Scratch) -> PathBuf {
    let pipeline = isolated_pipeline("leads", scratch.path(), |_| {});
    let out = segflow(&["run", pipeline.to_str().unwrap()]);
    assert!(out.status.success(), "run failed: {}", stderr(&out));
    scratch.path().join("run")
}

/// Planted segment by hashed id (the pipeline hashes `lead_id` like any identifier).
fn truth(path: &Path) -> HashMap<String, String> {
    let ids = csv_column(path, "lead_id");
    let segments = csv_column(path, "segment");
    ids.iter()
        .zip(segments)
        .map(|(id, segment)| (sha256_hex(id.as_bytes())[..12].to_string(), segment))
        .collect()
}

/// ARI of the segments in an assignments artifact against the planted truth.
fn recovery(assignments: &Path, truth: &HashMap<String, String>) -> f64 {
    let ids = text_column(assignments, "row_id");
    let found = text_column(assignments, "segment");
    let code = |values: Vec<&String>| -> Vec<usize> {
        let mut names: Vec<&String> = values.clone();
        names.sort();
        names.dedup();
        values
            .iter()
            .map(|v| names.binary_search(v).unwrap())
            .collect()
    };
    let planted = code(ids.iter().map(|id| &truth[id]).collect());
    let ours = code(found.iter().collect());
    segflow_cluster::metrics::adjusted_rand_index(&ours, &planted).unwrap()
}

#[test]
fn the_committed_lead_table_is_the_generators_output() {
    let scratch = Scratch::new("leads-synth");
    let out = scratch.path().join("leads.csv");
    let o = segflow(&[
        "synth",
        "leads",
        "--rows",
        "5000",
        "--seed",
        "42",
        "--output",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    for (ours, committed) in [
        (out.clone(), "data/leads/leads.csv"),
        (
            scratch.path().join("leads.truth.csv"),
            "data/leads/leads.truth.csv",
        ),
    ] {
        assert!(
            std::fs::read(&ours).unwrap() == std::fs::read(repo_root().join(committed)).unwrap(),
            "{committed} differs from the generator's output"
        );
    }
}

#[test]
fn k_means_at_the_silhouette_k_recovers_the_planted_segments_and_scores_new_leads() {
    let scratch = Scratch::new("leads-recovery");
    let run = run_leads(&scratch);
    let decision = render_full(&run.join("select_k/decision.parquet"));
    assert!(
        decision.contains("5 | max_silhouette | Highest silhouette score: 0.4"),
        "{decision}"
    );
    let planted = truth(&repo_root().join("data/leads/leads.truth.csv"));
    let ari = recovery(&run.join("fit/assignments.parquet"), &planted);
    assert!(ari >= 0.9, "ARI against the planted segments: {ari}");

    let mut names = text_column(&run.join("fit/policy.parquet"), "segment");
    names.sort();
    assert_eq!(
        names,
        [
            "Churn risk",
            "High-value enterprise",
            "Mid-market nurture",
            "SMB quick closer",
            "Tire kicker"
        ]
    );
    let impact = render_full(&run.join("fit/impact.parquet"));
    assert!(impact.contains("not a measurement"), "{impact}");

    // New leads from another seed: the saved transform and centroids score them.
    let new = scratch.path().join("new_leads.csv");
    let o = segflow(&[
        "synth",
        "leads",
        "--rows",
        "400",
        "--seed",
        "7",
        "--output",
        new.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let scored = scratch.path().join("scored.parquet");
    let o = segflow(&[
        "assign",
        "--model",
        run.to_str().unwrap(),
        "--input",
        new.to_str().unwrap(),
        "--output",
        scored.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(text_column(&scored, "row_id").len(), 400);
    assert!(
        text_column(&scored, "channel")
            .iter()
            .all(|c| !c.is_empty())
    );
    let new_truth = truth(&scratch.path().join("new_leads.truth.csv"));
    let ari = recovery(&scored, &new_truth);
    assert!(ari >= 0.9, "new leads: ARI {ari}");
}

#[test]
fn every_lead_artifact_matches_its_snapshot() {
    let scratch = Scratch::new("leads-snap");
    let run = run_leads(&scratch);
    let big = [
        "ingest/table.parquet",
        "features/features.parquet",
        "preprocess/matrix.parquet",
        "fit/assignments.parquet",
        "visualize/pca.parquet",
    ];
    for (name, text) in artifact_renderings(&run, "leads", &big) {
        insta::assert_snapshot!(name, text);
    }
    let report = std::fs::read_to_string(run.join("visualize/report.html")).unwrap();
    assert!(report.contains("Highest silhouette score"));
    assert!(report.contains("SMB quick closer"));
    assert!(
        report.contains("account-based outreach"),
        "campaigns in the report"
    );
    assert!(
        report.contains("Expected impact — a projection from configured close rates and deal sizes, not a measurement"),
        "the impact table is labelled as a projection"
    );
}

#[test]
fn compare_reports_agreement_and_who_moved_after_retraining_on_a_subset() {
    let scratch = Scratch::new("leads-compare");
    let run_a = run_leads(&scratch);
    // Re-training on the first 4,000 leads only.
    let text = std::fs::read_to_string(repo_root().join("data/leads/leads.csv")).unwrap();
    let subset = scratch.path().join("leads_4000.csv");
    std::fs::write(
        &subset,
        text.lines().take(4001).collect::<Vec<_>>().join("\n") + "\n",
    )
    .unwrap();
    let dir_b = scratch.path().join("b");
    std::fs::create_dir_all(&dir_b).unwrap();
    let pipeline_b = isolated_pipeline("leads", &dir_b, |doc| {
        doc["stages"]["ingest"]["input"] = subset.to_str().unwrap().into();
        stop_after(doc, "fit");
    });
    let o = segflow(&["run", pipeline_b.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = scratch.path().join("drift");
    let o = segflow(&[
        "compare",
        run_a.to_str().unwrap(),
        dir_b.join("run").to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["contacts_in_both"], 4000);
    assert!(report["ari"].as_f64().unwrap() > 0.99, "{report}");
    let transitions = read_parquet(&out.join("transitions.parquet")).unwrap();
    let moved: u64 = transitions
        .batch
        .column_by_name("contacts")
        .unwrap()
        .as_primitive::<arrow::datatypes::UInt64Type>()
        .values()
        .iter()
        .sum();
    assert_eq!(moved, 4000);
    assert_eq!(files_under(&out), ["drift.parquet", "transitions.parquet"]);
    // A run that never fitted cannot be compared: the error names the lock file.
    let o = segflow(&[
        "compare",
        run_a.to_str().unwrap(),
        scratch.path().join("nowhere").to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(66), "{}", stderr(&o));
}
