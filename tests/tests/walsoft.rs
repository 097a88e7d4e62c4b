//! The default pipeline end to end on the real call log: snapshots of every artifact, the
//! reference's golden rows and audit facts, privacy, skipping, forcing and verification.

use std::path::{Path, PathBuf};

use arrow::array::{Array, AsArray};
use arrow::datatypes::{Float64Type, Int64Type, UInt64Type};
use segflow_core::artifact::read_parquet;
use segflow_tests::*;

const INGEST: &[&str] = &[
    "events",
    "rejects",
    "audit_summary",
    "audit_columns",
    "audit_time_bands",
    "audit_weekdays",
    "audit_day_types",
    "audit_value_quantiles",
    "audit_monthly",
    "audit_warnings",
];

/// The outcome of each stage in a `run --json` summary.
fn stage_outcomes(summary: &serde_json::Value) -> Vec<&str> {
    summary["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["outcome"].as_str().unwrap())
        .collect()
}

fn run_walsoft(scratch: &Scratch) -> PathBuf {
    let pipeline = isolated_pipeline("walsoft", scratch.path(), |_| {});
    let out = segflow(&["run", pipeline.to_str().unwrap()]);
    assert!(out.status.success(), "run failed: {}", stderr(&out));
    scratch.path().join("run")
}

#[test]
fn every_artifact_matches_its_snapshot() {
    let scratch = Scratch::new("walsoft-snap");
    let run = run_walsoft(&scratch);
    for name in INGEST {
        let path = run.join("ingest").join(format!("{name}.parquet"));
        let text = if *name == "events" {
            render_summary(&path, 20)
        } else {
            render_full(&path)
        };
        insta::assert_snapshot!(format!("walsoft_ingest_{name}"), text);
    }
    for name in ["transform", "dominance", "warnings"] {
        insta::assert_snapshot!(
            format!("walsoft_preprocess_{name}"),
            render_full(&run.join(format!("preprocess/{name}.parquet")))
        );
    }
    for name in ["k_scores", "decision"] {
        insta::assert_snapshot!(
            format!("walsoft_select_k_{name}"),
            render_full(&run.join(format!("select_k/{name}.parquet")))
        );
    }
    for name in [
        "centroids",
        "cards",
        "profile",
        "policy",
        "findings",
        "summary",
    ] {
        insta::assert_snapshot!(
            format!("walsoft_fit_{name}"),
            render_full(&run.join(format!("fit/{name}.parquet")))
        );
    }
    for name in [
        "seed_stability",
        "worst_seed",
        "block_sensitivity",
        "bootstrap",
        "verdict",
    ] {
        insta::assert_snapshot!(
            format!("walsoft_robustness_{name}"),
            render_full(&run.join(format!("robustness/{name}.parquet")))
        );
    }
    insta::assert_snapshot!(
        "walsoft_visualize_pca",
        render_summary(&run.join("visualize/pca.parquet"), 10)
    );
    insta::assert_snapshot!(
        "walsoft_visualize_pca_variance",
        render_full(&run.join("visualize/pca_variance.parquet"))
    );
    insta::assert_snapshot!(
        "walsoft_visualize_documents",
        documents(&run.join("visualize"))
    );
    insta::assert_snapshot!(
        "walsoft_visualize_report_text",
        report_text(&std::fs::read_to_string(run.join("visualize/report.html")).unwrap())
    );
    insta::assert_snapshot!(
        "walsoft_fit_assignments",
        render_summary(&run.join("fit/assignments.parquet"), 20)
    );
    insta::assert_snapshot!(
        "walsoft_preprocess_matrix",
        render_summary(&run.join("preprocess/matrix.parquet"), 20)
    );
    insta::assert_snapshot!(
        "walsoft_features",
        render_full(&run.join("features/features.parquet"))
    );
    insta::assert_snapshot!(
        "walsoft_features_warnings",
        render_full(&run.join("features/warnings.parquet"))
    );
}

/// Each chart and the report by size and SHA-256: any change to a drawing shows up here.
fn documents(dir: &Path) -> String {
    files_under(dir)
        .iter()
        .filter(|f| f.ends_with(".svg") || f.ends_with(".html"))
        .map(|f| {
            let bytes = std::fs::read(dir.join(f)).unwrap();
            format!(
                "{f} {} bytes sha256 {}",
                bytes.len(),
                segflow_core::hash::sha256_hex(&bytes)
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The report's words without markup, styles, scripts or charts: what a reader reads.
fn report_text(html: &str) -> String {
    let mut body = html.to_string();
    for (open, close, keep) in [
        ("<style>", "</style>", ""),
        ("<script>", "</script>", ""),
        ("<svg", "</svg>", "[chart]"),
    ] {
        while let (Some(a), Some(b)) = (body.find(open), body.find(close)) {
            body.replace_range(a..b + close.len(), keep);
        }
    }
    let mut out = String::new();
    let mut in_tag = false;
    for ch in body.chars() {
        match ch {
            '<' => {
                in_tag = true;
                out.push('\n');
            }
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

fn feature_row(run: &Path, contact: &str) -> std::collections::BTreeMap<String, f64> {
    let a = read_parquet(&run.join("features/features.parquet")).unwrap();
    let ids = a
        .batch
        .column_by_name("contact_id")
        .unwrap()
        .as_string::<i32>();
    let row = (0..ids.len())
        .find(|&r| ids.value(r) == contact)
        .expect("contact present");
    let mut out = std::collections::BTreeMap::new();
    for (f, col) in a.batch.schema().fields().iter().zip(a.batch.columns()) {
        let v = match col.data_type() {
            arrow::datatypes::DataType::Float64 => col.as_primitive::<Float64Type>().value(row),
            arrow::datatypes::DataType::Int64 => col.as_primitive::<Int64Type>().value(row) as f64,
            _ => continue,
        };
        out.insert(f.name().clone(), v);
    }
    out
}

#[test]
// The golden values are the reference's printed digits (0.693147 is ln 2 rounded), kept as printed.
#[allow(clippy::approx_constant)]
fn golden_rows_and_layout_match_the_reference() {
    let scratch = Scratch::new("walsoft-golden");
    let run = run_walsoft(&scratch);
    let a = read_parquet(&run.join("features/features.parquet")).unwrap();
    assert_eq!(a.batch.num_rows(), 2091);
    let ids = a
        .batch
        .column_by_name("contact_id")
        .unwrap()
        .as_string::<i32>();
    let ids: Vec<&str> = (0..ids.len()).map(|r| ids.value(r)).collect();
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "rows in ascending contact_id"
    );
    for known in [
        "00047e187745",
        "000d71073f3e",
        "001c36642ecb",
        "70ac660de5a1",
    ] {
        assert!(ids.contains(&known), "{known} is a reference id");
    }

    let golden = [
        ("n_calls", 905.0),
        ("n_days_active", 384.0),
        ("total_dur_sec", 44383.0),
        ("mean_dur_sec", 49.041989),
        ("median_dur_sec", 22.0),
        ("p90_dur_sec", 99.0),
        ("recency_days", 6.21809),
        ("tenure_days", 999.274213),
        ("calls_per_active_day", 2.356771),
        ("calls_per_tenure_day", 0.904752),
        ("log_n_calls", 6.809039),
        ("log_total_dur", 10.700634),
        ("log_median_dur", 3.135494),
        ("long_call_share", 0.009945),
        ("share_business_hours", 0.923757),
        ("share_early_morning", 0.028729),
        ("share_evening", 0.047514),
        ("share_late_night", 0.0),
        ("share_open_day", 0.967956),
        ("share_closed_day", 0.032044),
        ("share_cat_Unknown", 1.0),
    ];
    let row = feature_row(&run, "000d71073f3e");
    for (name, want) in golden {
        // The reference prints 6 decimals (recency 5): agree to that rounding.
        assert!(
            (row[name] - want).abs() <= 1e-6,
            "{name}: {} vs golden {want}",
            row[name]
        );
    }
    let one = feature_row(&run, "00047e187745");
    for (name, want) in [
        ("n_calls", 1.0),
        ("recency_days", 196.13485),
        ("tenure_days", 0.0),
        ("calls_per_tenure_day", 1.0),
        ("log_n_calls", 0.693147),
    ] {
        assert!(
            (one[name] - want).abs() <= 1e-6,
            "{name}: {} vs golden {want}",
            one[name]
        );
    }

    let columns: Vec<String> = column_names(&a);
    let expected_model = [
        "n_calls",
        "n_days_active",
        "calls_per_active_day",
        "calls_per_tenure_day",
        "log_n_calls",
        "total_dur_sec",
        "mean_dur_sec",
        "median_dur_sec",
        "p90_dur_sec",
        "log_total_dur",
        "log_median_dur",
        "long_call_share",
        "recency_days",
        "tenure_days",
        "share_business_hours",
        "share_evening",
        "share_early_morning",
        "share_late_night",
        "share_open_day",
        "share_closed_day",
    ];
    assert_eq!(&columns[1..21], &expected_model);
    assert_eq!(columns.len(), 1 + 20 + 5 + 2);
    assert!(columns[21..26].iter().all(|c| c.starts_with("share_cat_")));
    assert_eq!(&columns[26..], &["first_call_ts", "last_call_ts"]);
    let model: Vec<String> =
        serde_json::from_str(a.meta("segflow.model_columns").unwrap()).unwrap();
    assert_eq!(model, expected_model);
    let blocks: serde_json::Value =
        serde_json::from_str(a.meta("segflow.blocks").unwrap()).unwrap();
    let category = blocks
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["block"] == "category")
        .unwrap();
    assert_eq!(category["model_input"], false);
    assert_eq!(category["columns"].as_array().unwrap().len(), 5);
    assert_eq!(a.meta("segflow.as_of"), Some("2024-10-04 20:15:16"));
}

fn u64_col(path: &Path, name: &str) -> Vec<u64> {
    let a = read_parquet(path).unwrap();
    a.batch
        .column_by_name(name)
        .unwrap()
        .as_primitive::<UInt64Type>()
        .values()
        .to_vec()
}

#[test]
fn audit_reproduces_the_reference_facts() {
    let scratch = Scratch::new("walsoft-audit");
    let run = run_walsoft(&scratch).join("ingest");
    let summary = run.join("audit_summary.parquet");
    assert_eq!(u64_col(&summary, "rows_in"), [24952]);
    assert_eq!(u64_col(&summary, "columns"), [9]);
    assert_eq!(u64_col(&summary, "accepted"), [24952]);
    assert_eq!(u64_col(&summary, "rejected"), [0]);
    assert_eq!(u64_col(&summary, "duplicate_rows"), [0]);
    assert_eq!(u64_col(&summary, "distinct_contacts"), [2091]);
    let s = read_parquet(&summary).unwrap();
    assert_eq!(
        cell(s.batch.column_by_name("ts_min").unwrap().as_ref(), 0),
        "2022-01-01 16:03:01"
    );
    assert_eq!(
        cell(s.batch.column_by_name("ts_max").unwrap().as_ref(), 0),
        "2024-10-04 20:15:16"
    );
    for rate in ["timestamp_parse_rate", "value_parse_rate"] {
        assert_eq!(
            s.batch
                .column_by_name(rate)
                .unwrap()
                .as_primitive::<Float64Type>()
                .value(0),
            1.0
        );
    }
    assert_eq!(
        u64_col(&run.join("audit_time_bands.parquet"), "events"),
        [20624, 2877, 1071, 380]
    );
    assert_eq!(
        u64_col(&run.join("audit_weekdays.parquet"), "events")[6],
        1652
    );
    assert_eq!(
        u64_col(&run.join("audit_day_types.parquet"), "events"),
        [24952 - 1652, 1652]
    );
    let q = read_parquet(&run.join("audit_value_quantiles.parquet")).unwrap();
    let qv = q
        .batch
        .column_by_name("value")
        .unwrap()
        .as_primitive::<Float64Type>();
    assert_eq!(qv.value(2), 34.0);
    assert_eq!(qv.value(5), 396.0);
    assert!((qv.value(6) - 1273.98).abs() < 1e-9);
    assert_eq!(
        read_parquet(&run.join("rejects.parquet"))
            .unwrap()
            .batch
            .num_rows(),
        0
    );
    assert_eq!(
        u64_col(&run.join("audit_monthly.parquet"), "events")
            .iter()
            .sum::<u64>(),
        24952
    );
}

#[test]
fn no_artifact_holds_a_raw_number_or_name() {
    let scratch = Scratch::new("walsoft-privacy");
    let run = run_walsoft(&scratch);
    let csv = repo_root().join("data/walsoft/walsoft_semi_categorized_phone_dataset.csv");
    let numbers = RawIds::new(csv_column(&csv, "dialled_phone_number"));
    assert_eq!(numbers.len(), 2091);
    let checked = assert_no_raw_identifiers(&run, &numbers);
    assert!(checked > 24952 * 4);
    // The dropped `name` column: no Parquet cell, column or metadata holds one. Not searched
    // in the report's prose, where the contact Davies and the Davies–Bouldin index share a word.
    let names = RawIds::new(csv_column(&csv, "name"));
    assert!(names.len() > 2000);
    let (leaks, checked) = raw_identifier_leaks_in_parquet(&run, &names);
    assert_eq!(leaks, Vec::<String>::new());
    assert!(checked > 24952 * 4);
}

#[test]
fn rerun_skips_force_is_byte_identical_and_verify_catches_edits() {
    let scratch = Scratch::new("walsoft-lock");
    let pipeline = isolated_pipeline("walsoft", scratch.path(), |_| {});
    let p = pipeline.to_str().unwrap();
    let run = scratch.path().join("run");
    assert!(segflow(&["run", p]).status.success());
    let first: Vec<(String, Vec<u8>)> = files_under(&run)
        .into_iter()
        .map(|f| (f.clone(), std::fs::read(run.join(&f)).unwrap()))
        .collect();

    let again = segflow(&["run", p, "--json"]);
    assert!(again.status.success());
    let summary: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    let outcomes = stage_outcomes(&summary);
    assert_eq!(outcomes, ["skipped"; 7]);
    assert_eq!(summary["stages"][1]["rows"], 2091);

    let forced = segflow(&["run", p, "--force", "--json"]);
    let summary: serde_json::Value = serde_json::from_slice(&forced.stdout).unwrap();
    assert!(
        summary["stages"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["outcome"] == "ran")
    );
    let second: Vec<(String, Vec<u8>)> = files_under(&run)
        .into_iter()
        .map(|f| (f.clone(), std::fs::read(run.join(&f)).unwrap()))
        .collect();
    assert_eq!(first, second, "--force rewrites byte-identical artifacts");

    let status = segflow(&["status", p]);
    assert_eq!(
        stdout(&status),
        "ingest: up to date\nfeatures: up to date\npreprocess: up to date\nselect_k: up to date\nfit: up to date\nrobustness: up to date\nvisualize: up to date\n"
    );
    let ok = segflow(&["verify", run.to_str().unwrap()]);
    assert!(ok.status.success(), "{}", stdout(&ok));

    // An edited artifact: verify names it, status explains, run repairs only that stage.
    let features = run.join("features/features.parquet");
    let mut bytes = std::fs::read(&features).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&features, bytes).unwrap();
    let bad = segflow(&["verify", run.to_str().unwrap()]);
    assert_eq!(bad.status.code(), Some(65));
    assert!(
        stdout(&bad).contains("CHANGED features/features.parquet (stage features)"),
        "{}",
        stdout(&bad)
    );
    assert!(!stdout(&bad).contains("ingest/"));
    assert!(
        stdout(&segflow(&["status", p]))
            .contains("features: stale — output features/features.parquet was modified")
    );
    let repair = segflow(&["run", p, "--json"]);
    let summary: serde_json::Value = serde_json::from_slice(&repair.stdout).unwrap();
    let outcomes = stage_outcomes(&summary);
    // features is rewritten identically, so the later stages still match their inputs.
    assert_eq!(
        outcomes,
        [
            "skipped", "ran", "skipped", "skipped", "skipped", "skipped", "skipped"
        ]
    );
    assert!(segflow(&["verify", run.to_str().unwrap()]).status.success());

    // --only and --from select stages.
    let only: serde_json::Value = serde_json::from_slice(
        &segflow(&["run", p, "--only", "features", "--force", "--json"]).stdout,
    )
    .unwrap();
    assert_eq!(only["stages"].as_array().unwrap().len(), 1);
    let from: serde_json::Value =
        serde_json::from_slice(&segflow(&["run", p, "--from", "ingest", "--json"]).stdout).unwrap();
    assert!(
        from["stages"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["outcome"] == "ran")
    );
}

#[test]
fn standalone_stages_write_the_same_artifacts_as_the_runner() {
    let scratch = Scratch::new("walsoft-standalone");
    let run = run_walsoft(&scratch);
    let text = std::fs::read_to_string(repo_root().join("pipelines/walsoft.yaml")).unwrap();
    let doc: yaml_serde::Value = yaml_serde::from_str(&text).unwrap();
    let params = |stage: &str| {
        let mut block = doc["stages"][stage].as_mapping().unwrap().clone();
        for k in ["input", "needs", "uses", "output_dir"] {
            block.shift_remove(k);
        }
        let path = scratch.path().join(format!("{stage}.params.yaml"));
        std::fs::write(&path, yaml_serde::to_string(&block).unwrap()).unwrap();
        path
    };
    let (ingest_params, features_params, preprocess_params, select_k_params, fit_params) = (
        params("ingest"),
        params("features"),
        params("preprocess"),
        params("select_k"),
        params("fit"),
    );
    let alone = scratch.path().join("alone");
    let csv = repo_root().join("data/walsoft/walsoft_semi_categorized_phone_dataset.csv");
    let o = segflow(&[
        "ingest",
        "--input",
        csv.to_str().unwrap(),
        "--output-dir",
        alone.join("ingest").to_str().unwrap(),
        "--params",
        ingest_params.to_str().unwrap(),
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["rows"], 24952);
    for (stage, input) in [
        ("features", "ingest/events.parquet"),
        ("preprocess", "features/features.parquet"),
    ] {
        let params = if stage == "features" {
            &features_params
        } else {
            &preprocess_params
        };
        let o = run_stage(
            stage,
            alone.join(input).to_str().unwrap(),
            &alone.join(stage),
            params.to_str().unwrap(),
        );
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let o = run_stage(
        "select-k",
        alone.join("preprocess/matrix.parquet").to_str().unwrap(),
        &alone.join("select_k"),
        select_k_params.to_str().unwrap(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    // fit tells its inputs apart by artifact kind, whatever their order.
    let o = segflow(&[
        "fit",
        "--input",
        alone.join("features/features.parquet").to_str().unwrap(),
        "--input",
        alone.join("select_k/decision.parquet").to_str().unwrap(),
        "--input",
        alone.join("preprocess/matrix.parquet").to_str().unwrap(),
        "--output-dir",
        alone.join("fit").to_str().unwrap(),
        "--params",
        fit_params.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let mut compared = 0;
    for rel in files_under(&alone) {
        assert_eq!(
            std::fs::read(alone.join(&rel)).unwrap(),
            std::fs::read(run.join(&rel)).unwrap(),
            "{rel} differs"
        );
        compared += 1;
    }
    assert_eq!(compared, INGEST.len() + 2 + 4 + 2 + 13);
}

#[test]
fn keyed_ids_need_the_key_and_differ_from_the_public_hash() {
    let scratch = Scratch::new("walsoft-hmac");
    let pipeline = isolated_pipeline("walsoft", scratch.path(), |doc| {
        doc["stages"]["ingest"]["privacy"]["id"] =
            yaml_serde::from_str("{method: hmac_sha256, key_env: SEGFLOW_TEST_KEY, hex_chars: 16}")
                .unwrap();
    });
    let p = pipeline.to_str().unwrap();
    let o = segflow_env(
        &["run", p],
        &[("SEGFLOW_TEST_KEY", Some("correct horse battery staple"))],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let a = read_parquet(&scratch.path().join("run/features/features.parquet")).unwrap();
    let ids = a
        .batch
        .column_by_name("contact_id")
        .unwrap()
        .as_string::<i32>();
    assert_eq!(ids.len(), 2091);
    assert!(ids.iter().flatten().all(|id| id.len() == 16));
    assert!(
        !ids.iter()
            .flatten()
            .any(|id| id.starts_with("000d71073f3e"))
    );
}

/// A Float64 column of a run's artifact.
fn floats(path: &Path, column: &str) -> Vec<f64> {
    let a = read_parquet(path).unwrap();
    let c = a.batch.column_by_name(column).unwrap();
    c.as_primitive::<Float64Type>().values().to_vec()
}

/// The pipeline's k-means results equal scikit-learn's on the pandas matrix
/// (tests/oracle/cluster/kmeans_random_state.json): the inertia at every K within 1e-9
/// relative, and the 50 seed ARIs and the four drop-block ARIs within 1e-9.
fn kmeans_results_are_scikit_learns(run: &Path) {
    let text =
        std::fs::read_to_string(repo_root().join("tests/oracle/cluster/kmeans_random_state.json"))
            .unwrap();
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let sk = &doc["walsoft"];
    let want = |rows: &serde_json::Value, key: &str| -> Vec<f64> {
        rows.as_array()
            .unwrap()
            .iter()
            .map(|r| r[key].as_f64().unwrap())
            .collect()
    };
    let inertia = floats(&run.join("select_k/k_scores.parquet"), "inertia");
    for (k, (got, want)) in (2..).zip(inertia.iter().zip(want(&sk["k_sweep"], "inertia"))) {
        assert!(
            (got - want).abs() <= 1e-9 * want,
            "K = {k}: inertia {got} vs scikit-learn's {want}"
        );
    }
    let seeds = floats(&run.join("robustness/seed_stability.parquet"), "ari");
    let blocks = floats(&run.join("robustness/block_sensitivity.parquet"), "ari");
    // The first block row is the fit against itself; the drops follow in block order.
    for (what, got, want) in [
        ("seed", &seeds[..], want(&sk["seeds"], "ari")),
        ("block", &blocks[1..], want(&sk["blocks"], "ari")),
    ] {
        assert_eq!(got.len(), want.len());
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert!(
                (g - w).abs() <= 1e-9,
                "{what} {i}: ARI {g} vs scikit-learn's {w}"
            );
        }
    }
}

#[test]
fn k_means_equals_scikit_learn_and_select_k_settles_on_four_by_the_knee() {
    let scratch = Scratch::new("walsoft-k");
    let run = run_walsoft(&scratch);
    kmeans_results_are_scikit_learns(&run);
    let decision = render_full(&run.join("select_k/decision.parquet"));
    let row = decision.lines().last().unwrap();
    assert!(
        row.starts_with("4 | elbow_knee | Knee of the inertia curve (Kneedle) at K = 4"),
        "{decision}"
    );
    let scores = read_parquet(&run.join("select_k/k_scores.parquet")).unwrap();
    assert_eq!(scores.batch.num_rows(), 11, "K = 2..12");
    // The reference's shortlists (its random stream is segflow's): top five by silhouette,
    // K = 2..6, and best five by Davies–Bouldin, K = 2..5 and 10 (0.9975 against K = 6's 0.9996).
    let text = render_full(&run.join("select_k/k_scores.parquet"));
    let shortlisted = |suffixes: &[&str]| -> Vec<String> {
        text.lines()
            .filter(|l| suffixes.iter().any(|s| l.ends_with(s)))
            .map(|l| l.split(" | ").next().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        shortlisted(&["| true | true", "| true | false"]),
        ["2", "3", "4", "5", "6"]
    );
    assert_eq!(
        shortlisted(&["| true | true", "| false | true"]),
        ["2", "3", "4", "5", "10"]
    );
}
