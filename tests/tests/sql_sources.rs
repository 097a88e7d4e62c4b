//! `segflow sql features` on a several-source pipeline (calls and text messages of the same
//! people, tests/oracle/twosource): one table per source (`TABLE_NAME`), each read with its
//! own columns and formats, unioned with the `source` column as ingest writes it; checked in
//! every engine present against segflow's features artifact.

use segflow_tests::engines::{Input, engines};
use segflow_tests::{Scratch, repo_root, segflow, stderr};

#[test]
fn two_sources_in_the_engines_match_segflow() {
    let scratch = Scratch::new("sql-sources");
    let dir = repo_root().join("tests/oracle/twosource");
    let text = std::fs::read_to_string(dir.join("pipeline.yaml")).unwrap();
    let text = text
        .replace(
            "run_dir: runs/twosource",
            &format!("run_dir: {}", scratch.path().join("run").display()),
        )
        .replace(
            "input: tests/oracle/twosource/",
            &format!("input: {}/", dir.display()),
        );
    let pipeline = scratch.path().join("p.yaml");
    std::fs::write(&pipeline, text).unwrap();
    let p = pipeline.to_str().unwrap();
    for engine in engines() {
        let query = scratch.path().join("features.sql");
        let q = query.to_str().unwrap();
        let out = segflow(&[
            "sql",
            "features",
            p,
            "--dialect",
            engine.dialect(),
            "--source",
            "raw",
            "-o",
            q,
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        let sql = std::fs::read_to_string(&query).unwrap();
        assert!(
            sql.contains("-- source: raw_calls, raw_sms (one table per source)"),
            "{sql}"
        );
    }
    for stage in ["ingest", "features"] {
        let out = segflow(&["run", p, "--only", stage]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let (calls, sms) = (dir.join("calls.csv"), dir.join("sms.csv"));
    let tables = [
        Input {
            table: "raw_calls",
            path: &calls,
            drop: None,
        },
        Input {
            table: "raw_sms",
            path: &sms,
            drop: None,
        },
    ];
    let features = scratch.path().join("run/features/features.parquet");
    for engine in engines() {
        let verdict = engine
            .features_match(&pipeline, Some("raw"), &tables, &features, scratch.path())
            .unwrap_or_else(|e| panic!("{}: {e}", engine.name()));
        assert!(
            verdict.starts_with("same: 60 rows, 9 columns"),
            "{}: {verdict}",
            engine.name()
        );
    }
}
