//! Weak-data warnings: a generated customer table with constant columns (one of them a model
//! feature), an almost constant one, a 95 %-missing one, a row-number id and a rare 0/1 model column, and an event log with
//! events re-dated 9999-12-31, get every warning named in the audit (and on stderr); clean
//! versions of both get none. The expected rows and lines follow from how the data is built.

use std::path::Path;

use segflow_core::artifact::read_parquet;
use segflow_core::warnings::{self, Warning};
use segflow_tests::*;

const ROWS: usize = 200;

/// Row `i` (0-based) of the customer table; `weak` adds the weak columns and a row-number id.
fn customer_row(i: usize, weak: bool) -> String {
    let spend = ((i * 37) % 101) as f64 * 1.5 + 10.0;
    let visits = (i * 13) % 29;
    if weak {
        let fax = if i.is_multiple_of(20) {
            format!("+351 21 000 {i:04}")
        } else {
            String::new()
        };
        let senior = u8::from(i % 20 == 1);
        let plan = if i == 7 { "gold" } else { "basic" };
        format!("{},PT,{fax},{plan},{senior},{spend},{visits},3", i + 1)
    } else {
        let senior = i % 2;
        format!(
            "C{:05},{senior},{spend},{visits}",
            (10_007 + i * 7_919) % 100_000
        )
    }
}

fn table_pipeline(scratch: &Path, weak: bool) -> std::path::PathBuf {
    let csv = scratch.join("customers.csv");
    let header = if weak {
        "customer_no,country,fax,plan,senior,spend,visits,branch"
    } else {
        "customer_no,senior,spend,visits"
    };
    let rows: Vec<String> = (0..ROWS).map(|i| customer_row(i, weak)).collect();
    std::fs::write(&csv, format!("{header}\n{}\n", rows.join("\n"))).unwrap();
    let pipeline = scratch.join("customers.yaml");
    std::fs::write(
        &pipeline,
        format!(
            "pipeline: customers\nrun_dir: {run}\nstages:\n\
             \x20 ingest:\n    input: {csv}\n    mode: table\n    table: {{id: customer_no}}\n\
             \x20 features:\n    needs: [ingest]\n    blocks:\n      usage:\n\
             \x20       senior: {{column: senior}}\n        spend: {{column: spend}}\n\
             \x20       visits: {{column: visits}}\n{branch}    model_blocks: [usage]\n\
             \x20 preprocess:\n    needs: [features]\n    winsorize: null\n    scale: standard\n\
             \x20   cap: null\n",
            run = scratch.join("run").display(),
            csv = csv.display(),
            branch = if weak {
                "        branch: {column: branch}\n"
            } else {
                ""
            },
        ),
    )
    .unwrap();
    pipeline
}

/// The log's data rows: contact, timestamp, amount. Days 0..60 of 2024 for 23 contacts; with
/// `far`, the data rows 100 to 104 are re-dated 9999-12-31, as a typo would.
fn event_rows(far: bool) -> Vec<String> {
    (0..300)
        .map(|i| {
            let day = i * 7 % 60;
            let date = if far && (100..105).contains(&i) {
                "9999-12-31".to_string()
            } else if day < 31 {
                format!("2024-01-{:02}", day + 1)
            } else {
                format!("2024-02-{:02}", day - 30)
            };
            format!(
                "c{:02},{date} {:02}:00:00,{}",
                i % 23,
                8 + i % 10,
                5 + i % 17
            )
        })
        .collect()
}

fn event_pipeline(scratch: &Path, far: bool) -> std::path::PathBuf {
    let csv = scratch.join("events.csv");
    std::fs::write(
        &csv,
        format!("contact,at,amount\n{}\n", event_rows(far).join("\n")),
    )
    .unwrap();
    let pipeline = scratch.join("events.yaml");
    std::fs::write(
        &pipeline,
        format!(
            "pipeline: events\nrun_dir: {run}\nstages:\n\
             \x20 ingest:\n    input: {csv}\n    mode: events\n\
             \x20   columns: {{contact: contact, timestamp: at, value: amount}}\n\
             \x20 features:\n    needs: [ingest]\n    as_of: latest_event\n    blocks:\n\
             \x20     activity:\n        n_events: count\n        spend: sum\n\
             \x20       recency_days: recency_days\n    model_blocks: [activity]\n",
            run = scratch.join("run").display(),
            csv = csv.display(),
        ),
    )
    .unwrap();
    pipeline
}

fn warnings_of(path: &Path) -> Vec<Warning> {
    warnings::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn find<'a>(all: &'a [Warning], code: &str, column: Option<&str>) -> &'a Warning {
    all.iter()
        .find(|w| w.code == code && w.column.as_deref() == column)
        .unwrap_or_else(|| panic!("no {code} warning for {column:?} in {all:#?}"))
}

#[test]
fn every_weak_column_of_a_table_is_named_in_the_audit_and_on_stderr() {
    let scratch = Scratch::new("weak-table");
    let pipeline = table_pipeline(scratch.path(), true);
    let out = segflow(&["run", pipeline.to_str().unwrap()]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    let run = scratch.path().join("run");

    let audit = warnings_of(&run.join("ingest/audit_warnings.parquet"));
    let constant = find(&audit, "constant_column", Some("country"));
    assert_eq!(constant.rows, Some(ROWS as u64));
    // Rows 0, 20, …, 180 have a fax: 10 of 200, so 190 (95 %) are missing.
    let missing = find(&audit, "mostly_missing_column", Some("fax"));
    assert_eq!((missing.rows, missing.share), (Some(190), Some(0.95)));
    let almost = find(&audit, "almost_constant_column", Some("plan"));
    assert_eq!((almost.rows, almost.share), (Some(1), Some(199.0 / 200.0)));
    let id = find(&audit, "row_number_id", Some("customer_no"));
    assert!(id.detail.contains("from 1 to 200"), "{}", id.detail);
    find(&audit, "constant_column", Some("branch"));
    assert_eq!(audit.len(), 5, "{audit:#?}");

    // 10 of 200 seniors: standard scaling puts them at sqrt(0.95 / 0.05) ≈ 4.36.
    let matrix = warnings_of(&run.join("preprocess/warnings.parquet"));
    let senior = find(&matrix, "dominant_binary", Some("senior"));
    assert_eq!((senior.rows, senior.share), (Some(10), Some(0.05)));
    assert!(senior.detail.contains("4.36"), "{}", senior.detail);
    assert_eq!(matrix.len(), 1, "{matrix:#?}");
    let features = warnings_of(&run.join("features/warnings.parquet"));
    let branch = find(&features, "constant_feature", Some("branch"));
    assert_eq!(branch.rows, Some(ROWS as u64));
    assert_eq!(features.len(), 1, "{features:#?}");

    for needle in [
        "warning: ingest: `country` has one value",
        "(mostly_missing_column)",
        "(almost_constant_column)",
        "(row_number_id)",
        "warning: preprocess: `senior` takes two values",
        "warning: features: `branch` has one value for all 200 entities",
    ] {
        assert!(err.contains(needle), "`{needle}` not in: {err}");
    }

    let json = segflow(&["run", pipeline.to_str().unwrap(), "--force", "--json"]);
    let summary: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let codes: Vec<&str> = summary["stages"][0]["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        [
            "constant_column",
            "mostly_missing_column",
            "almost_constant_column",
            "constant_column",
            "row_number_id"
        ]
    );
}

#[test]
fn far_future_events_are_named_by_line_and_the_as_of_they_moved_is_recorded() {
    let scratch = Scratch::new("weak-events");
    let pipeline = event_pipeline(scratch.path(), true);
    let out = segflow(&["run", pipeline.to_str().unwrap()]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    let run = scratch.path().join("run");
    let audit = warnings_of(&run.join("ingest/audit_warnings.parquet"));
    let far = find(&audit, "far_timestamps", None);
    assert_eq!(far.rows, Some(5));
    // Data rows 100..105 sit on lines 102..107 (line 1 is the header).
    assert!(
        far.detail.contains("lines 102, 103, 104, 105, 106;"),
        "{}",
        far.detail
    );
    assert!(far.detail.contains("9999-12-31"), "{}", far.detail);
    assert_eq!(audit.len(), 1, "{audit:#?}");
    assert!(err.contains("(far_timestamps)"), "{err}");
    let as_of = warnings_of(&run.join("features/warnings.parquet"));
    let far = find(&as_of, "far_as_of", None);
    for needle in [
        "the as_of used, 9999-12-31 ",
        "(`latest_event`)",
        "far_timestamps",
    ] {
        assert!(far.detail.contains(needle), "{needle}: {}", far.detail);
    }
    assert!(err.contains("warning: features: the as_of used"), "{err}");
    let features = read_parquet(&run.join("features/features.parquet")).unwrap();
    assert!(
        features
            .meta("segflow.as_of")
            .is_some_and(|a| a.starts_with("9999-12-31")),
        "{:?}",
        features.meta("segflow.as_of")
    );
}

#[test]
fn a_standalone_stage_prints_its_warnings_and_lists_them_under_json() {
    let scratch = Scratch::new("weak-standalone");
    event_pipeline(scratch.path(), true);
    let params = scratch.path().join("ingest.yaml");
    std::fs::write(
        &params,
        "mode: events\ncolumns: {contact: contact, timestamp: at, value: amount}\n",
    )
    .unwrap();
    let out = segflow(&[
        "ingest",
        "--input",
        scratch.path().join("events.csv").to_str().unwrap(),
        "--output-dir",
        scratch.path().join("out").to_str().unwrap(),
        "--params",
        params.to_str().unwrap(),
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("warning: ingest: 5 events (dated 9999-12-31)"),
        "{}",
        stderr(&out)
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["warnings"][0]["code"], "far_timestamps");
    assert_eq!(summary["warnings"][0]["rows"], 5);
}

#[test]
fn clean_data_gets_no_warning() {
    let scratch = Scratch::new("weak-clean-table");
    let out = segflow(&[
        "run",
        table_pipeline(scratch.path(), false).to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let run = scratch.path().join("run");
    assert_eq!(
        warnings_of(&run.join("ingest/audit_warnings.parquet")),
        Vec::new()
    );
    for file in ["features/warnings.parquet", "preprocess/warnings.parquet"] {
        assert_eq!(warnings_of(&run.join(file)), Vec::new());
    }
    assert!(!stderr(&out).contains("warning:"), "{}", stderr(&out));

    let scratch = Scratch::new("weak-clean-events");
    let out = segflow(&[
        "run",
        event_pipeline(scratch.path(), false).to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    for file in ["ingest/audit_warnings.parquet", "features/warnings.parquet"] {
        assert_eq!(
            warnings_of(&scratch.path().join("run").join(file)),
            Vec::new()
        );
    }
    assert!(!stderr(&out).contains("warning:"), "{}", stderr(&out));
}

/// The warnings segflow gives for the oracle's random table and log are those pandas and
/// scikit-learn computed by the same rules (`tests/oracle/weak_data.py`).
#[test]
fn the_warnings_match_the_pandas_oracle() {
    let oracle = repo_root().join("tests/oracle/weak_data");
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(oracle.join("expected.json")).unwrap())
            .unwrap();
    let scratch = Scratch::new("weak-oracle");
    let pipeline = scratch.path().join("oracle.yaml");
    std::fs::write(
        &pipeline,
        format!(
            "pipeline: oracle\nrun_dir: {run}\nstages:\n\
             \x20 ingest:\n    input: {table}\n    mode: table\n    table: {{id: customer_no}}\n\
             \x20 features:\n    needs: [ingest]\n    blocks:\n      usage:\n\
             \x20       senior: {{column: senior}}\n        spend: {{column: spend}}\n\
             \x20       visits: {{column: visits}}\n    model_blocks: [usage]\n\
             \x20 preprocess:\n    needs: [features]\n    winsorize: null\n    scale: standard\n\
             \x20   cap: null\n\
             \x20 log:\n    uses: ingest\n    input: {events}\n    mode: events\n\
             \x20   columns: {{contact: contact, timestamp: at, value: amount}}\n",
            run = scratch.path().join("run").display(),
            table = oracle.join("customers.csv").display(),
            events = oracle.join("events.csv").display(),
        ),
    )
    .unwrap();
    let out = segflow(&["run", pipeline.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let run = scratch.path().join("run");

    let same = |got: &[Warning], want: &serde_json::Value| {
        let want = want.as_array().unwrap();
        assert_eq!(got.len(), want.len(), "{got:#?}");
        for (g, w) in got.iter().zip(want) {
            assert_eq!(g.code, w["code"].as_str().unwrap());
            assert_eq!(g.column.as_deref(), w["column"].as_str());
            assert_eq!(g.rows, w["rows"].as_u64());
            match w["share"].as_f64() {
                Some(share) => assert!((g.share.unwrap() - share).abs() < 1e-12, "{g:?}"),
                None => assert_eq!(g.share, None),
            }
        }
    };
    same(
        &warnings_of(&run.join("ingest/audit_warnings.parquet")),
        &expected["table"],
    );
    let matrix = warnings_of(&run.join("preprocess/warnings.parquet"));
    same(&matrix, &expected["matrix"]);
    let z = format!(
        "sits at {:.2}",
        expected["matrix"][0]["z"].as_f64().unwrap()
    );
    assert!(matrix[0].detail.contains(&z), "{z}: {}", matrix[0].detail);

    let events = &expected["events"];
    let far = warnings_of(&run.join("log/audit_warnings.parquet"));
    assert_eq!(far.len(), 1, "{far:#?}");
    assert_eq!(far[0].code, events["code"].as_str().unwrap());
    assert_eq!(far[0].rows, events["rows"].as_u64());
    let lines: Vec<String> = events["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.to_string())
        .collect();
    for needle in [
        format!("lines {};", lines.join(", ")),
        format!("more than {} days", events["margin_days"]),
    ] {
        assert!(
            far[0].detail.contains(&needle),
            "{needle}: {}",
            far[0].detail
        );
    }
}
