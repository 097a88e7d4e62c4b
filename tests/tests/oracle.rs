//! The features and preprocess stages against independent pandas computations
//! (tests/oracle/walsoft_features.py and walsoft_matrix.py): every value of every contact.

use std::path::Path;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Float64Type, Int64Type};
use segflow_core::artifact::read_parquet;
use segflow_tests::*;

/// Compares every oracle column with the artifact's column of the same name, row by row
/// (rows in the same contact order); returns how many values were compared.
fn compare(artifact: &Path, oracle_csv: &str, rel: f64) -> usize {
    let ours = read_parquet(artifact).unwrap();
    let ids = ours
        .batch
        .column_by_name("contact_id")
        .unwrap()
        .as_string::<i32>();
    let (header, rows) = read_csv(&repo_root().join("tests/oracle").join(oracle_csv));
    assert_eq!(rows.len(), ids.len());
    let mut compared = 0;
    for (c, name) in header.iter().enumerate().skip(1) {
        let column = ours
            .batch
            .column_by_name(name)
            .unwrap_or_else(|| panic!("segflow lacks {name}"));
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
        assert_eq!(column.null_count(), 0);
        for (r, row) in rows.iter().enumerate() {
            assert_eq!(&row[0], ids.value(r), "row order");
            let want: f64 = row[c].parse().unwrap();
            let got = values[r];
            // Summation order may differ from pandas' in the last bits; nothing more.
            assert!(
                (got - want).abs() <= rel * want.abs().max(1.0),
                "{name} of {}: segflow {got} vs pandas {want}",
                &row[0]
            );
            compared += 1;
        }
    }
    compared
}

#[test]
fn walsoft_features_and_matrix_agree_with_pandas_on_every_value() {
    let scratch = Scratch::new("oracle");
    let pipeline = isolated_pipeline("walsoft", scratch.path(), |doc| {
        stop_after(doc, "preprocess")
    });
    let out = segflow(&["run", pipeline.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let run = scratch.path().join("run");
    assert_eq!(
        compare(
            &run.join("features/features.parquet"),
            "walsoft_features.csv",
            1e-12
        ),
        2091 * 25
    );
    assert_eq!(
        compare(
            &run.join("preprocess/matrix.parquet"),
            "walsoft_matrix.csv",
            1e-12
        ),
        2091 * 20
    );

    // The fitted statistics: clip bounds, centres and scales of every kept column.
    let transform = read_parquet(&run.join("preprocess/transform.parquet")).unwrap();
    let names = transform
        .batch
        .column_by_name("column")
        .unwrap()
        .as_string::<i32>();
    let (header, records) = read_csv(&repo_root().join("tests/oracle/walsoft_transform.csv"));
    let mut compared = 0;
    for f in &records {
        let row = (0..names.len()).find(|&i| names.value(i) == &f[0]).unwrap();
        for (j, stat) in header.iter().enumerate().skip(1) {
            let ours = transform.float_column(stat).unwrap()[row];
            let want: f64 = f[j].parse().unwrap();
            assert!(
                (ours - want).abs() <= 1e-12 * want.abs().max(1.0),
                "{} {stat}: {ours} vs {want}",
                &f[0]
            );
            compared += 1;
        }
    }
    assert_eq!(compared, 20 * 4);
}
