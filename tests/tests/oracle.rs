//! The features stage against an independent pandas computation (tests/oracle/
//! walsoft_features.py → walsoft_features.csv): every value of every contact.

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Float64Type, Int64Type};
use segflow_core::artifact::read_parquet;
use segflow_tests::*;

#[test]
fn walsoft_features_agree_with_pandas_on_every_value() {
    let scratch = Scratch::new("oracle");
    let pipeline = isolated_pipeline("walsoft", scratch.path(), |_| {});
    let out = segflow(&["run", pipeline.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let ours = read_parquet(&scratch.path().join("run/features/features.parquet")).unwrap();
    let ids = ours
        .batch
        .column_by_name("contact_id")
        .unwrap()
        .as_string::<i32>();

    let oracle =
        std::fs::read_to_string(repo_root().join("tests/oracle/walsoft_features.csv")).unwrap();
    let mut lines = oracle.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
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
            assert_eq!(row[0], ids.value(r), "row order");
            let want: f64 = row[c].parse().unwrap();
            let got = values[r];
            // Summation order may differ from pandas' in the last bits; nothing more.
            assert!(
                (got - want).abs() <= 1e-12 * want.abs().max(1.0),
                "{name} of {}: segflow {got} vs pandas {want}",
                row[0]
            );
            compared += 1;
        }
    }
    assert_eq!(compared, 2091 * 25);
}
