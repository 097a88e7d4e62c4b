//! Categorical model columns and imputation over a telco-like subscriber table, against pandas
//! and scikit-learn (tests/oracle/categorical.py): one-hot (top N with `other`, an explicit list
//! without it), binary, most-frequent / median / mean / constant imputation, a scaled missing
//! indicator, table-mode blank spellings, and `assign` counting labels training never saw.

use std::path::{Path, PathBuf};

use segflow_core::artifact::read_parquet;
use segflow_tests::*;

fn oracle(file: &str) -> PathBuf {
    repo_root().join("tests/oracle").join(file)
}

const PREPROCESS: &str = r#"
    winsorize: null
    scale: none
    cap: null
    drop_constant: false
    impute: mean
    per_column:
      contract: {encode: one_hot, categories: [Month-to-month, One year, Two year], other: false}
      payment: {encode: one_hot, top: 2}
      internet: {encode: one_hot}
      paperless: {encode: binary}
      senior: {encode: binary}
      monthly_charges: {impute: median}
      total_charges: {impute: {constant: 0}, missing_indicator: true}
"#;

/// A pipeline over the oracle's table, up to fit with K = 3 when `fit` is set.
fn pipeline(dir: &Path, preprocess: &str, fit: bool) -> PathBuf {
    let mut text = format!(
        "pipeline: telco\nseed: 7\nrun_dir: {}\nstages:\n  ingest:\n    input: {}\n    mode: table\n  \
         features:\n    needs: [ingest]\n    blocks:\n      account:\n        contract: {{column: contract}}\n        \
         payment: {{column: payment}}\n        internet: {{column: internet}}\n        paperless: {{column: paperless}}\n        \
         senior: {{column: senior}}\n      usage:\n        tenure: {{column: tenure}}\n        monthly_charges: {{column: monthly_charges}}\n        \
         total_charges: {{column: total_charges}}\n        age: {{column: age}}\n    model_blocks: [account, usage]\n  \
         preprocess:\n    needs: [features]{preprocess}",
        dir.join("run").display(),
        oracle("categorical_input.csv").display(),
    );
    if fit {
        text.push_str("  fit:\n    needs: [preprocess, features]\n    k: 3\n    n_init: 4\n");
    }
    let path = dir.join("telco.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

fn counts() -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(oracle("categorical_counts.json")).unwrap())
        .unwrap()
}

#[test]
fn encodings_and_imputation_equal_scikit_learn() {
    let scratch = Scratch::new("categorical");
    let o = segflow(&[
        "run",
        pipeline(scratch.path(), PREPROCESS, false)
            .to_str()
            .unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let run = scratch.path().join("run");
    let matrix = read_parquet(&run.join("preprocess/matrix.parquet")).unwrap();
    let expected = oracle("categorical_expected.csv");
    let (header, records) = read_csv(&expected);
    let mut want: Vec<String> = header.iter().skip(1).map(str::to_string).collect();
    let mut got = column_names(&matrix)[1..].to_vec();
    want.sort();
    got.sort();
    assert_eq!(got, want, "model columns");
    assert_eq!(matrix.batch.num_rows(), records.len());
    let ids = csv_column(&expected, "row_id");
    let segflow_ids: Vec<String> = (0..matrix.batch.num_rows())
        .map(|r| cell(matrix.column("row_id").unwrap().as_ref(), r))
        .collect();
    assert_eq!(segflow_ids, ids);
    for name in &want {
        let values = matrix.float_column(name).unwrap();
        let oracle: Vec<f64> = csv_column(&expected, name)
            .iter()
            .map(|v| v.parse().unwrap())
            .collect();
        for (row, (g, w)) in values.iter().zip(&oracle).enumerate() {
            assert!(
                (g - w).abs() <= 1e-9 * w.abs().max(1.0),
                "{name} row {row}: segflow {g}, scikit-learn {w}"
            );
        }
    }

    // The encoded columns keep their labels; the transform says what it imputed, and with what.
    let labels: serde_json::Value =
        serde_json::from_str(matrix.meta("segflow.column_labels").unwrap()).unwrap();
    assert_eq!(labels["contract_one_year"]["label"], "One year");
    assert_eq!(labels["payment_other"]["source"], "payment");
    let transform = read_parquet(&run.join("preprocess/transform.parquet")).unwrap();
    let encodings: serde_json::Value =
        serde_json::from_str(transform.meta("segflow.encodings").unwrap()).unwrap();
    let imputed = &counts()["imputed"];
    for e in encodings.as_array().unwrap() {
        let column = e["column"].as_str().unwrap();
        if let Some(n) = imputed.get(column)
            && e["encoding"].is_object()
        {
            assert_eq!(&e["n_imputed"], n, "{column}");
            assert_eq!(e["impute_method"], "most_frequent", "{column}");
        }
    }
    let rendered = render_full(&run.join("preprocess/transform.parquet"));
    for (column, method) in [
        ("monthly_charges", "median"),
        ("total_charges", "constant"),
        ("age", "mean"),
    ] {
        let line = rendered
            .lines()
            .find(|l| l.split_whitespace().next() == Some(column))
            .unwrap_or_else(|| panic!("{column} in\n{rendered}"));
        assert!(
            line.contains(method) && line.contains(&format!(" {} ", imputed[column])),
            "{line}"
        );
    }
}

#[test]
fn assign_counts_labels_training_never_saw() {
    let scratch = Scratch::new("categorical-assign");
    let o = segflow(&[
        "run",
        pipeline(scratch.path(), PREPROCESS, true).to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let scored = scratch.path().join("scored.parquet");
    let o = segflow(&[
        "assign",
        "--model",
        scratch.path().join("run").to_str().unwrap(),
        "--input",
        oracle("categorical_new.csv").to_str().unwrap(),
        "--output",
        scored.to_str().unwrap(),
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let report: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let want = counts();
    assert_eq!(report["rows"], want["new_rows"]);
    let reported = report["unseen_categories"].as_array().unwrap();
    for (column, count) in want["unseen"].as_object().unwrap() {
        let u = reported.iter().find(|u| u["column"] == column.as_str());
        assert_eq!(u.map(|u| &u["count"]), Some(count), "{column}");
    }
    // The binary columns' labels are all known: nothing unseen there.
    for u in reported {
        if want["unseen"].get(u["column"].as_str().unwrap()).is_none() {
            assert_eq!(u["count"], 0, "{u}");
        }
    }
    let scored_as = |c: &str| {
        report["unseen_categories"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["column"] == c)
            .unwrap()["scored_as"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(scored_as("payment").contains("payment_other"));
    assert!(scored_as("contract").contains("zeros"));

    // The text report says the same.
    let o = segflow(&[
        "assign",
        "--model",
        scratch.path().join("run").to_str().unwrap(),
        "--input",
        oracle("categorical_new.csv").to_str().unwrap(),
        "--output",
        scored.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(
        text.contains(&format!(
            "payment: {} labels not seen in training",
            want["unseen"]["payment"]
        )),
        "{text}"
    );
}

#[test]
fn a_text_column_without_an_encoding_and_a_bad_encoding_are_config_errors() {
    let scratch = Scratch::new("categorical-errors");
    let no_encoding = "\n    winsorize: null\n";
    let o = segflow(&[
        "run",
        pipeline(scratch.path(), no_encoding, false)
            .to_str()
            .unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(78), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("per_column.contract.encode"),
        "{}",
        stderr(&o)
    );

    for (bad, key) in [
        (
            "\n    per_column:\n      contract: {encode: one_hot}\n      payment: {encode: one_hot}\n      internet: {encode: one_hot}\n      paperless: {encode: binary}\n      senior: {encode: binary}\n      monthly_charges: {encode: one_hot}\n",
            "per_column.monthly_charges.encode: one_hot without `top` writes a column per label, at most 30",
        ),
        (
            "\n    per_column:\n      paperless: {encode: binary, top: 2}\n",
            "per_column.paperless.top",
        ),
        (
            "\n    per_column:\n      tenure: {impute: most_common}\n",
            "per_column",
        ),
        (
            "\n    per_column:\n      contract: {encode: ordinal, order: [Month-to-month, One year]}\n      payment: {encode: binary}\n      internet: {encode: binary}\n      paperless: {encode: binary}\n      senior: {encode: binary}\n",
            "",
        ),
    ] {
        let _ = std::fs::remove_dir_all(scratch.path().join("run"));
        let o = segflow(&[
            "run",
            pipeline(scratch.path(), bad, false).to_str().unwrap(),
        ]);
        let code = if key.is_empty() { 65 } else { 78 };
        assert_eq!(o.status.code(), Some(code), "{bad}: {}", stderr(&o));
        assert!(stderr(&o).contains(key), "{}", stderr(&o));
    }
}

#[test]
fn table_mode_reads_the_blank_spellings_as_null_unless_told_otherwise() {
    let scratch = Scratch::new("categorical-blanks");
    let input = oracle("categorical_input.csv");
    let imputed = counts()["imputed"].clone();
    for (params, internet_nulls) in [
        ("mode: table\n", imputed["internet"].as_u64().unwrap()),
        ("mode: table\ntable: {blanks: []}\n", 0),
    ] {
        let file = scratch.path().join("ingest.yaml");
        std::fs::write(&file, params).unwrap();
        let out = scratch.path().join("ingest");
        let _ = std::fs::remove_dir_all(&out);
        let o = run_stage(
            "ingest",
            input.to_str().unwrap(),
            &out,
            file.to_str().unwrap(),
        );
        assert!(o.status.success(), "{}", stderr(&o));
        let table = read_parquet(&out.join("table.parquet")).unwrap();
        let nulls = |c: &str| table.column(c).unwrap().null_count() as u64;
        assert_eq!(nulls("internet"), internet_nulls, "{params}");
        // "" and " " are null whatever the list says.
        for column in ["contract", "total_charges"] {
            assert_eq!(nulls(column), imputed[column].as_u64().unwrap(), "{column}");
        }
        if internet_nulls == 0 {
            assert!(render_full(&out.join("table.parquet")).contains("| NA |"));
        } else {
            for column in ["monthly_charges", "age"] {
                assert_eq!(nulls(column), imputed[column].as_u64().unwrap(), "{column}");
            }
        }
    }
}
