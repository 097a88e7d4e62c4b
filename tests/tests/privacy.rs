//! The privacy audit of the table-mode pipelines (the call log's is in walsoft.rs): no raw
//! identifier reaches any artifact, report or chart.

use std::collections::HashSet;

use segflow_tests::*;

#[test]
fn no_lead_artifact_holds_a_raw_lead_id() {
    let scratch = Scratch::new("privacy-leads");
    let pipeline = isolated_pipeline("leads", scratch.path(), |_| {});
    let out = segflow(&["run", pipeline.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(repo_root().join("data/leads/leads.csv")).unwrap();
    let raw: HashSet<String> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().to_string())
        .collect();
    assert_eq!(raw.len(), 5000);
    let checked = assert_no_raw_identifiers(&scratch.path().join("run"), &raw);
    assert!(checked > 5000 * 12, "{checked} cells and documents checked");
}
