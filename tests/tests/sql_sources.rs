//! `segflow sql features` on a several-source pipeline (calls and text messages of the same
//! people, tests/oracle/twosource): one table per source (`TABLE_NAME`), each read with its
//! own columns and formats, unioned with the `source` column as ingest writes it; checked in
//! DuckDB against segflow's features artifact.

use std::process::Command;

use segflow_tests::{Scratch, repo_root, segflow, stderr};

#[test]
fn two_sources_in_duckdb_match_segflow() {
    let ok = Command::new("python3")
        .args(["-c", "import duckdb, pyarrow"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        let msg = "DuckDB is not installed (pip install -r tests/engines/requirements.txt)";
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{msg}");
        eprintln!("skipped: {msg}");
        return;
    }
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
    let query = scratch.path().join("features.sql");
    let q = query.to_str().unwrap();
    let out = segflow(&[
        "sql",
        "features",
        p,
        "--dialect",
        "duckdb",
        "--source",
        "raw",
        "-o",
        q,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let sql = std::fs::read_to_string(&query).unwrap();
    assert!(
        sql.contains("FROM raw_calls\n") && sql.contains("FROM raw_sms\n"),
        "{sql}"
    );
    assert!(
        sql.contains("-- source: raw_calls, raw_sms (one table per source)"),
        "{sql}"
    );
    for stage in ["ingest", "features"] {
        let out = segflow(&["run", p, "--only", stage]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let (calls, sms) = (dir.join("calls.csv"), dir.join("sms.csv"));
    let out = Command::new("python3")
        .arg(repo_root().join("tests/engines/compare_features.py"))
        .arg(&query)
        .arg(&calls)
        .arg(scratch.path().join("run/features/features.parquet"))
        .args(["--table", "raw_calls"])
        .arg(&calls)
        .args(["--table", "raw_sms"])
        .arg(&sms)
        .output()
        .expect("run python3");
    let verdict = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{verdict}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(verdict.starts_with("same: 60 rows, 9 columns"), "{verdict}");
}
