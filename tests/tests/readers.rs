//! Text layouts beyond comma-separated with a header row: `delimiter: whitespace` for
//! column-aligned files (against pandas' `sep=r"\s+"` reading of tests/oracle/purchases.txt),
//! `header:` for files without a header row, and the hint when another delimiter would have
//! found the columns.

use std::path::{Path, PathBuf};

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Float64Type, Int64Type, UInt64Type};
use segflow_core::artifact::read_parquet;
use segflow_tests::*;

/// The purchase log of tests/oracle/purchases.py.
fn purchase_log() -> PathBuf {
    repo_root().join("tests/oracle/purchases.txt")
}

const PURCHASE_INGEST: &str = "mode: events\n\
     delimiter: whitespace\n\
     columns: {contact: customer_id, date: date, value: dollar_value}\n\
     formats: {date: '%Y%m%d'}\n";

/// A pipeline over the purchase log: ingest and features, then (with `fit`) preprocess and a
/// three-segment k-means.
fn purchase_pipeline(scratch: &Path, fit: bool) -> PathBuf {
    let indent = |block: &str| {
        block
            .lines()
            .map(|l| format!("    {l}\n"))
            .collect::<String>()
    };
    let mut yaml = format!(
        "pipeline: purchases\nseed: 42\nrun_dir: {}\nstages:\n  ingest:\n    input: {}\n{}",
        scratch.join("run").display(),
        purchase_log().display(),
        indent(PURCHASE_INGEST)
    );
    yaml.push_str(
        "  features:\n    needs: [ingest]\n    blocks:\n\
         \x20     frequency: {n_purchases: count, n_days_active: distinct_days}\n\
         \x20     monetary: {total_value: sum, mean_value: mean}\n\
         \x20   model_blocks: [frequency, monetary]\n",
    );
    if fit {
        yaml.push_str(
            "  preprocess: {needs: [features]}\n\
             \x20 fit: {needs: [preprocess, features], k: 3, n_init: 5}\n",
        );
    }
    let path = scratch.join("purchases.yaml");
    std::fs::write(&path, yaml).unwrap();
    path
}

fn uint(artifact: &Path, column: &str) -> u64 {
    read_parquet(artifact)
        .unwrap()
        .batch
        .column_by_name(column)
        .unwrap_or_else(|| panic!("no {column} in {}", artifact.display()))
        .as_primitive::<UInt64Type>()
        .value(0)
}

#[test]
fn a_whitespace_aligned_purchase_log_gives_the_features_pandas_computes() {
    let scratch = Scratch::new("readers-oracle");
    let out = segflow(&[
        "run",
        purchase_pipeline(scratch.path(), false).to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let run = scratch.path().join("run");
    let summary = run.join("ingest/audit_summary.parquet");
    assert_eq!(uint(&summary, "rows_in"), 1500);
    assert_eq!(uint(&summary, "accepted"), 1500);

    let ours = read_parquet(&run.join("features/features.parquet")).unwrap();
    let ids = ours
        .batch
        .column_by_name("contact_id")
        .unwrap()
        .as_string::<i32>();
    let (header, rows) = read_csv(&repo_root().join("tests/oracle/purchases_features.csv"));
    assert_eq!(ids.len(), rows.len());
    let mut compared = 0;
    for (c, name) in header.iter().enumerate().skip(1) {
        let column = ours
            .batch
            .column_by_name(name)
            .unwrap_or_else(|| panic!("segflow lacks {name}"));
        assert_eq!(column.null_count(), 0, "{name}");
        let values: Vec<f64> = match column.data_type() {
            DataType::Float64 => column.as_primitive::<Float64Type>().values().to_vec(),
            DataType::Int64 => column
                .as_primitive::<Int64Type>()
                .values()
                .iter()
                .map(|&v| v as f64)
                .collect(),
            other => panic!("{name} has type {other}"),
        };
        for (r, row) in rows.iter().enumerate() {
            assert_eq!(&row[0], ids.value(r), "row order");
            let want: f64 = row[c].parse().unwrap();
            let got = values[r];
            assert!(
                (got - want).abs() <= 1e-12 * want.abs(),
                "{name} of {}: segflow {got} vs pandas {want}",
                &row[0]
            );
            compared += 1;
        }
    }
    assert_eq!(compared, 249 * 4);
}

#[test]
fn the_aligned_log_read_with_commas_fails_suggesting_whitespace() {
    let scratch = Scratch::new("readers-hint");
    let params = scratch.path().join("ingest.yaml");
    std::fs::write(
        &params,
        PURCHASE_INGEST.replace("delimiter: whitespace\n", ""),
    )
    .unwrap();
    let o = run_stage(
        "ingest",
        purchase_log().to_str().unwrap(),
        &scratch.path().join("out"),
        params.to_str().unwrap(),
    );
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(65), "{err}");
    for needle in [
        "purchases.txt",
        "line 1",
        "required column is missing",
        "did you mean `delimiter: whitespace`?",
    ] {
        assert!(err.contains(needle), "`{needle}` not in: {err}");
    }
    assert!(!scratch.path().join("out").exists());

    // A comma file read as whitespace-aligned: the hint goes the other way.
    let csv = scratch.path().join("purchases.csv");
    std::fs::write(&csv, "customer_id,date,dollar_value\n1,19970101,11.77\n").unwrap();
    std::fs::write(&params, PURCHASE_INGEST).unwrap();
    let o = run_stage(
        "ingest",
        csv.to_str().unwrap(),
        &scratch.path().join("out"),
        params.to_str().unwrap(),
    );
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(65), "{err}");
    assert!(err.contains(r#"did you mean `delimiter: ","`?"#), "{err}");
}

#[test]
fn a_headerless_file_with_given_names_reads_its_first_line_as_data() {
    let scratch = Scratch::new("readers-headerless");
    let data = scratch.path().join("orders.txt");
    // Tabs and spaces mixed, CRLF line ends, blanks at both ends of a line.
    std::fs::write(
        &data,
        "C1\t2024-03-01   12.5\r\n  C2 2024-03-02\t\t7\r\nC1 2024-03-05 x \r\n",
    )
    .unwrap();
    let params = scratch.path().join("ingest.yaml");
    std::fs::write(
        &params,
        "mode: events\ndelimiter: whitespace\nheader: [customer, day, amount]\n\
         columns: {contact: customer, date: day, value: amount}\nmax_reject_fraction: 0.5\n",
    )
    .unwrap();
    let out = scratch.path().join("events");
    let o = run_stage(
        "ingest",
        data.to_str().unwrap(),
        &out,
        params.to_str().unwrap(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(uint(&out.join("audit_summary.parquet"), "rows_in"), 3);
    let events = render_full(&out.join("events.parquet"));
    assert!(
        events.contains("| 2024-03-01 00:00:00 | 12.5 | 1"),
        "{events}"
    );
    assert!(events.contains("| 2024-03-02 00:00:00 | 7 | 2"), "{events}");
    let rejects = render_full(&out.join("rejects.parquet"));
    assert!(
        rejects.contains("3 | amount | not a finite number"),
        "{rejects}"
    );

    // Table mode, comma-delimited: the first line is entity 1.
    let table = scratch.path().join("table.csv");
    std::fs::write(&table, "a,1.5\nb,2.5\n").unwrap();
    std::fs::write(&params, "mode: table\nheader: [name, score]\n").unwrap();
    let out = scratch.path().join("table");
    let o = run_stage(
        "ingest",
        table.to_str().unwrap(),
        &out,
        params.to_str().unwrap(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(uint(&out.join("audit_summary.parquet"), "rows_in"), 2);
    let rows = render_full(&out.join("table.parquet"));
    assert!(rows.contains("000001 | a | 1.5"), "{rows}");
}

#[test]
fn assign_scores_new_records_in_the_whitespace_layout() {
    let scratch = Scratch::new("readers-assign");
    let out = segflow(&[
        "run",
        purchase_pipeline(scratch.path(), true).to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    // New records: the log's first lines, realigned with tabs.
    let text = std::fs::read_to_string(purchase_log()).unwrap();
    let customers: std::collections::HashSet<&str> = text
        .lines()
        .skip(1)
        .take(40)
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    let new: String = text
        .lines()
        .take(41)
        .map(|l| {
            format!(
                "{}\r\n",
                l.split_whitespace().collect::<Vec<_>>().join("\t ")
            )
        })
        .collect();
    let input = scratch.path().join("new.txt");
    std::fs::write(&input, new).unwrap();
    let scored = scratch.path().join("scored.parquet");
    let o = segflow(&[
        "assign",
        "--model",
        scratch.path().join("run").to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
        "--output",
        scored.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let scored = read_parquet(&scored).unwrap();
    assert_eq!(scored.batch.num_rows(), customers.len());
    assert!(scored.float_column("cluster").is_ok());
}

#[test]
fn bad_header_params_are_config_errors_naming_header() {
    let scratch = Scratch::new("readers-bad-header");
    let data = scratch.path().join("orders.csv");
    std::fs::write(&data, "C1,2024-03-01,12.5\n").unwrap();
    let params = scratch.path().join("ingest.yaml");
    for (header, says) in [
        ("[]", "needs at least one column name"),
        ("[customer, day, customer]", "appears twice"),
        ("[customer, '', amount]", "column name is empty"),
        ("[customer, date, amount]", "`day` (columns.date)"),
    ] {
        std::fs::write(
            &params,
            format!(
                "mode: events\nheader: {header}\n\
                 columns: {{contact: customer, date: day, value: amount}}\n"
            ),
        )
        .unwrap();
        let o = run_stage(
            "ingest",
            data.to_str().unwrap(),
            &scratch.path().join("out"),
            params.to_str().unwrap(),
        );
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(78), "{header}: {err}");
        assert!(err.contains("header"), "{header}: {err}");
        assert!(err.contains(says), "{header}: `{says}` not in {err}");
    }
}
