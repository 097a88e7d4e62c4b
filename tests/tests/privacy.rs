//! The privacy audit of the table-mode pipelines (the call log's is in walsoft.rs): no raw
//! identifier reaches any artifact, report or chart; and the audit itself finds one planted
//! where it must not be.

use segflow_tests::*;

const WALSOFT_CSV: &str = "data/walsoft/walsoft_semi_categorized_phone_dataset.csv";

#[test]
fn no_lead_artifact_holds_a_raw_lead_id() {
    let scratch = Scratch::new("privacy-leads");
    let pipeline = isolated_pipeline("leads", scratch.path(), |_| {});
    let out = segflow(&["run", pipeline.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let raw = RawIds::new(csv_column(
        &repo_root().join("data/leads/leads.csv"),
        "lead_id",
    ));
    assert_eq!(raw.len(), 5000);
    let checked = assert_no_raw_identifiers(&scratch.path().join("run"), &raw);
    assert!(checked > 5000 * 12, "{checked} cells and documents checked");
}

/// A run directory with a report, a chart and a CSV copy as segflow writes them, holding only
/// hashed ids unless `leak` puts a raw one in.
fn report_like_run(dir: &std::path::Path, leak: Option<&str>) {
    let hashed = &segflow_core::hash::sha256_hex(b"648578192")[..12];
    let shown = leak.unwrap_or(hashed);
    std::fs::create_dir_all(dir.join("visualize")).unwrap();
    std::fs::create_dir_all(dir.join("fit")).unwrap();
    std::fs::write(
        dir.join("visualize/report.html"),
        format!(
            "<!doctype html><table><tr><th>contact</th><th>segment</th></tr>\
             <tr><td>{shown}</td><td>One-off</td></tr></table>\
             <p>2091 contacts, 24952 calls, hash {}</p>",
            segflow_core::hash::sha256_hex(b"814500001")
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("visualize/chart_pca_scatter.svg"),
        "<svg><text x=\"10\" y=\"20\">PC1 (41.2 %)</text></svg>",
    )
    .unwrap();
    std::fs::write(
        dir.join("fit/cards.csv"),
        "cluster,segment,n_contacts\n0,One-off,1599\n",
    )
    .unwrap();
}

#[test]
fn the_audit_finds_a_raw_id_planted_in_a_report() {
    let raw = RawIds::new(csv_column(
        &repo_root().join(WALSOFT_CSV),
        "dialled_phone_number",
    ));
    assert_eq!(raw.len(), 2091);
    // A real number of the call log, which also appears in segflow's own sources (a unit test
    // of the id normalisation): the audit must flag it all the same.
    let planted = "648578192";
    let sources =
        std::fs::read_to_string(repo_root().join("crates/segflow-ingest/src/privacy.rs")).unwrap();
    assert!(sources.contains(planted));

    let clean = Scratch::new("privacy-planted-clean");
    report_like_run(clean.path(), None);
    let (leaks, checked) = raw_identifier_leaks(clean.path(), &raw);
    assert_eq!(leaks, Vec::<String>::new());
    assert_eq!(checked, 3);

    let leaked = Scratch::new("privacy-planted-leak");
    report_like_run(leaked.path(), Some(planted));
    let (leaks, _) = raw_identifier_leaks(leaked.path(), &raw);
    assert_eq!(
        leaks,
        [format!("visualize/report.html: text: [\"{planted}\"]")]
    );

    // As a spreadsheet exports it, the number is still the raw id.
    report_like_run(leaked.path(), Some("648578192.0"));
    let (leaks, _) = raw_identifier_leaks(leaked.path(), &raw);
    assert_eq!(leaks.len(), 1, "{leaks:?}");
}

#[test]
fn the_audit_matches_whole_ids_only() {
    let raw = RawIds::new(["648578192".to_string(), "Husband CEL01".to_string()]);
    assert_eq!(raw.found_in("<td>648578192</td>"), ["648578192"]);
    assert_eq!(raw.found_in("called Husband CEL01."), ["Husband CEL01"]);
    // Digits inside a longer number or a hex hash, or a name inside a longer word, are not
    // the id.
    assert!(raw.found_in("1648578192 a648578192f").is_empty());
    assert!(raw.found_in("Husband CEL012").is_empty());
}
