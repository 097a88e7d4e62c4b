//! The shipped mixed-type pipeline (pipelines/lead_outcomes.yaml): a generated lead table with
//! numeric columns, labels and yes/no flags in the model and a conversion outcome as context.
//! Every artifact is snapshotted; the report gives the conversion rate of each segment beside
//! every lead's, and the rates follow the planted segments the generator recorded.

use std::collections::HashMap;

use segflow_core::artifact::read_parquet;
use segflow_tests::*;

#[test]
fn the_lead_outcomes_pipeline_models_categories_and_reports_conversion_per_segment() {
    let scratch = Scratch::new("lead-outcomes-pipeline");
    let pipeline = isolated_pipeline("lead_outcomes", scratch.path(), |_| {});
    let out = segflow(&["run", pipeline.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let run = scratch.path().join("run");

    // The labels are model inputs, encoded; the outcome is not.
    let matrix = read_parquet(&run.join("preprocess/matrix.parquet")).unwrap();
    let columns = column_names(&matrix);
    for encoded in [
        "industry_software",
        "region_europe",
        "lead_source_referral",
        "requested_demo",
    ] {
        assert!(columns.contains(&encoded.to_string()), "{columns:?}");
    }
    assert!(
        !columns.iter().any(|c| c.starts_with("converted")),
        "{columns:?}"
    );

    // The conversion rate per segment, recounted from ingest's table (the outcome per hashed
    // id) and fit's assignments (the segment per hashed id).
    let table = read_parquet(&run.join("ingest/table.parquet")).unwrap();
    let text = |a: &segflow_core::artifact::Artifact, name: &str| -> Vec<String> {
        let col = a.column(name).unwrap();
        (0..col.len()).map(|r| cell(col.as_ref(), r)).collect()
    };
    let outcome: HashMap<String, String> = text(&table, "row_id")
        .into_iter()
        .zip(text(&table, "converted"))
        .collect();
    let assignments = read_parquet(&run.join("fit/assignments.parquet")).unwrap();
    let mut recount: HashMap<u32, (u64, u64)> = HashMap::new();
    for (id, cluster) in text(&assignments, "row_id")
        .iter()
        .zip(assignments.float_column("cluster").unwrap())
    {
        let entry = recount.entry(cluster as u32).or_default();
        entry.0 += u64::from(outcome[id] == "Yes");
        entry.1 += 1;
    }
    let total_yes: u64 = recount.values().map(|c| c.0).sum();
    let mix = read_parquet(&run.join("fit/mix.parquet")).unwrap();
    let rendered = render_full(&run.join("fit/mix.parquet"));
    let (rate, cluster, category) = (
        text(&mix, "rate"),
        mix.float_column("cluster").unwrap(),
        text(&mix, "category"),
    );
    let (counts, sizes, shares, overall) = (
        mix.float_column("count").unwrap(),
        mix.float_column("size").unwrap(),
        mix.float_column("share").unwrap(),
        mix.float_column("overall_share").unwrap(),
    );
    let rate_rows: Vec<usize> = (0..rate.len()).filter(|&r| rate[r] == "true").collect();
    assert_eq!(rate_rows.len(), recount.len(), "{rendered}");
    for &r in &rate_rows {
        assert_eq!(category[r], "Yes");
        let (yes, size) = recount[&(cluster[r] as u32)];
        assert_eq!(
            (counts[r], sizes[r]),
            (yes as f64, size as f64),
            "{rendered}"
        );
        assert_eq!(shares[r], yes as f64 / size as f64);
        assert_eq!(overall[r], total_yes as f64 / outcome.len() as f64);
    }
    // The planted quick closers convert most: one segment's rate is far above every lead's.
    let everyone = overall[rate_rows[0]];
    assert!(
        rate_rows.iter().any(|&r| shares[r] > 2.0 * everyone),
        "{rendered}"
    );

    let report = std::fs::read_to_string(run.join("visualize/report.html")).unwrap();
    assert!(report.contains("<h4>converted</h4>"), "mix table");
    assert!(report.contains("<dt>converted</dt><dd>Yes: "), "card line");
    assert!(report.contains(&format!("(all leads {:.1} %)", everyone * 100.0)));

    let big = [
        "ingest/table.parquet",
        "features/features.parquet",
        "preprocess/matrix.parquet",
        "fit/assignments.parquet",
        "visualize/pca.parquet",
    ];
    for (name, text) in artifact_renderings(&run, "lead_outcomes_run", &big) {
        insta::assert_snapshot!(name, text);
    }
}
