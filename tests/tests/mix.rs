//! Per-segment mixes of context columns against pandas (tests/oracle/mix.py): a Yes/No
//! outcome with blanks, a plan with more labels than are named, a 0/1 number and true/false
//! text, each segment's shares by `pd.crosstab(normalize="index")` beside everyone's, the
//! flagged cell, the cards' rate and top category, and the report's mix tables.

use std::path::{Path, PathBuf};

use segflow_core::artifact::read_parquet;
use segflow_tests::*;

fn oracle(file: &str) -> PathBuf {
    repo_root().join("tests/oracle").join(file)
}

/// A pipeline over the oracle's table, K = 3, with `fit_extra` added to fit's params.
fn pipeline(dir: &Path, fit_extra: &str) -> PathBuf {
    let text = format!(
        "pipeline: subscribers\nseed: 7\nrun_dir: {run}\nnouns:\n  entity: {{singular: subscriber, plural: subscribers}}\n\
         stages:\n  ingest:\n    input: {input}\n    mode: table\n  \
         features:\n    needs: [ingest]\n    blocks:\n      position:\n        x: {{column: x}}\n        y: {{column: y}}\n      \
         context:\n        churned: {{column: churned}}\n        plan: {{column: plan}}\n        promo: {{column: promo}}\n        \
         senior: {{column: senior}}\n        tenure: {{column: tenure}}\n    model_blocks: [position]\n  \
         preprocess:\n    needs: [features]\n    scale: standard\n  \
         fit:\n    needs: [preprocess, features]\n    k: 3\n    n_init: 4\n{fit_extra}  \
         visualize:\n    needs: [preprocess, fit, features]\n    charts: [segment_sizes]\n",
        run = dir.join("run").display(),
        input = oracle("mix_input.csv").display(),
    );
    let path = dir.join("subscribers.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn segment_mixes_equal_pandas_crosstab() {
    let scratch = Scratch::new("mix");
    let o = segflow(&["run", pipeline(scratch.path(), "").to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let run = scratch.path().join("run");

    // The planted groups are far apart: segflow's segments are exactly them, largest first,
    // so the oracle's crosstab over the planted groups is a crosstab over segflow's segments.
    let assignments = read_parquet(&run.join("fit/assignments.parquet")).unwrap();
    let planted: Vec<f64> = csv_column(&oracle("mix_input.csv"), "planted")
        .iter()
        .map(|g| match g.as_str() {
            "a" => 0.0,
            "b" => 1.0,
            _ => 2.0,
        })
        .collect();
    assert_eq!(assignments.float_column("cluster").unwrap(), planted);

    let mix = read_parquet(&run.join("fit/mix.parquet")).unwrap();
    let (header, expected) = read_csv(&oracle("mix_expected.csv"));
    assert_eq!(mix.batch.num_rows(), expected.len());
    let text = |name: &str| -> Vec<String> {
        let col = mix.column(name).unwrap();
        (0..col.len()).map(|r| cell(col.as_ref(), r)).collect()
    };
    for name in ["column", "category", "rate", "flagged"] {
        let want: Vec<String> = expected
            .iter()
            .map(|r| r[csv_position(&header, name)].to_lowercase())
            .collect();
        let got: Vec<String> = text(name).iter().map(|v| v.to_lowercase()).collect();
        assert_eq!(got, want, "{name}");
    }
    // Shares are count / size in both: equal to the last bit.
    for name in [
        "cluster",
        "count",
        "size",
        "share",
        "overall_count",
        "overall_share",
        "difference",
    ] {
        let want: Vec<f64> = expected
            .iter()
            .map(|r| r[csv_position(&header, name)].parse().unwrap())
            .collect();
        assert_eq!(mix.float_column(name).unwrap(), want, "{name}");
    }

    // The cards carry each yes/no column's rate and each label column's top category;
    // tenure (a number, not 0/1) has no mix.
    let cards = read_parquet(&run.join("fit/cards.parquet")).unwrap();
    let columns = column_names(&cards);
    for name in [
        "churned_rate",
        "promo_rate",
        "senior_rate",
        "plan_top",
        "plan_top_share",
    ] {
        assert!(columns.contains(&name.to_string()), "{columns:?}");
    }
    assert!(
        !columns.iter().any(|c| c.starts_with("tenure")),
        "{columns:?}"
    );
    assert_eq!(cards.float_column("churned_rate").unwrap()[2], 0.72);

    let report = std::fs::read_to_string(run.join("visualize/report.html")).unwrap();
    assert!(
        report.contains("<dt>churned</dt><dd>Yes: 72.0 % (all subscribers 30.0 %)</dd>"),
        "{report}"
    );
    assert!(report.contains("<h4>plan</h4>"));
    assert!(report.contains("<td>all subscribers</td>"));
    assert_eq!(report.matches("class=\"num flag\"").count(), 4);
}

#[test]
fn readable_labels_replace_codes_and_must_name_a_context_column() {
    let scratch = Scratch::new("mix-labels");
    let labels = "    labels:\n      promo: {\"1\": Yes, \"0\": No}\n      plan: {plan_k: Basic}\n";
    let o = segflow(&["run", pipeline(scratch.path(), labels).to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let mix = render_full(&scratch.path().join("run/fit/mix.parquet"));
    assert!(mix.contains("| promo | Yes |"), "{mix}");
    assert!(mix.contains("| plan | Basic |"), "{mix}");
    assert!(!mix.contains("| plan_k |"), "{mix}");

    let scratch = Scratch::new("mix-labels-typo");
    let labels = "    labels:\n      churnd: {\"1\": Yes}\n";
    let o = segflow(&["run", pipeline(scratch.path(), labels).to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(78), "{}", stderr(&o));
    assert!(stderr(&o).contains("labels.churnd"), "{}", stderr(&o));
    assert!(stderr(&o).contains("churned"), "{}", stderr(&o));
    assert!(!scratch.path().join("run/ingest").exists());
}
