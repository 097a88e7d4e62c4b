//! Table mode on a real entity table (UCI Wholesale customers: CRLF, no final newline, no id).

use arrow::array::AsArray;
use segflow_core::artifact::read_parquet;
use segflow_tests::*;

const PARAMS: &str = "mode: table\ntable:\n  types: {Channel: string, Region: string}\n";

#[test]
fn wholesale_table_ingests_with_synthesised_ids_and_types() {
    let scratch = Scratch::new("wholesale");
    let params = scratch.path().join("ingest.yaml");
    std::fs::write(&params, PARAMS).unwrap();
    let out = scratch.path().join("ingest");
    let o = run_stage(
        "ingest",
        "data/wholesale_customers/wholesale_customers.csv",
        &out,
        params.to_str().unwrap(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let table = read_parquet(&out.join("table.parquet")).unwrap();
    assert_eq!(table.batch.num_rows(), 440);
    let ids = table
        .batch
        .column_by_name("row_id")
        .unwrap()
        .as_string::<i32>();
    assert_eq!(ids.value(0), "000001");
    assert_eq!(ids.value(439), "000440");
    insta::assert_snapshot!("wholesale_table", render_full(&out.join("table.parquet")));
    insta::assert_snapshot!(
        "wholesale_audit_columns",
        render_full(&out.join("audit_columns.parquet"))
    );
    insta::assert_snapshot!(
        "wholesale_audit_summary",
        render_full(&out.join("audit_summary.parquet"))
    );

    // Features pass selected columns through in blocks, with a derived column.
    let fparams = scratch.path().join("features.yaml");
    std::fs::write(
        &fparams,
        "blocks:\n  fresh_food:\n    fresh: {column: Fresh}\n    milk: {column: Milk}\n  \
         household:\n    detergents: {column: Detergents_Paper}\n    log_detergents: {log1p: detergents}\n  \
         context:\n    channel: {column: Channel}\nmodel_blocks: [fresh_food, household]\n",
    )
    .unwrap();
    let fout = scratch.path().join("features");
    let o = run_stage(
        "features",
        out.join("table.parquet").to_str().unwrap(),
        &fout,
        fparams.to_str().unwrap(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let f = read_parquet(&fout.join("features.parquet")).unwrap();
    assert_eq!(f.batch.num_rows(), 440);
    assert_eq!(
        f.meta("segflow.model_columns"),
        Some(r#"["fresh","milk","detergents","log_detergents"]"#)
    );
    insta::assert_snapshot!(
        "wholesale_features",
        render_summary(&fout.join("features.parquet"), 5)
    );
}

#[test]
fn the_wholesale_pipeline_runs_end_to_end_and_names_segments_from_their_spending() {
    let scratch = Scratch::new("wholesale-pipeline");
    let pipeline = isolated_pipeline("wholesale", scratch.path(), |_| {});
    let out = segflow(&["run", pipeline.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let run = scratch.path().join("run");
    let policy = render_full(&run.join("fit/policy.parquet"));
    // No role rules: every name comes from the segment's distinguishing features.
    assert!(
        policy.contains("no role claimed it: named from its 2 most distinguishing features"),
        "{policy}"
    );
    let report = std::fs::read_to_string(run.join("visualize/report.html")).unwrap();
    assert!(report.contains("Majority of indices"));
    // Channel and Region describe the segments in their readable labels, beside every client.
    assert!(report.contains("<h4>channel</h4>") && report.contains("<h4>region</h4>"));
    assert!(
        report.contains("<th>Horeca</th><th>Retail</th>"),
        "{report}"
    );
    assert!(report.contains("<td>all clients</td>"));
    assert!(report.contains("<dt>channel</dt><dd>most often Horeca: "));
    let big = [
        "ingest/table.parquet",
        "features/features.parquet",
        "preprocess/matrix.parquet",
        "fit/assignments.parquet",
        "visualize/pca.parquet",
    ];
    for (name, text) in artifact_renderings(&run, "wholesale_run", &big) {
        insta::assert_snapshot!(name, text);
    }
}
