//! segflow-expr against an independent Python evaluation of the same expressions
//! (tests/oracle/expressions.py over expressions_input.csv: every value, floats bit for bit),
//! and the property that evaluating slices of a batch gives the batch's result.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use arrow::compute::{cast, concat};
use arrow::datatypes::{Field, Float64Type, Schema, TimestampMicrosecondType};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use segflow_expr::{Expr, Type};
use segflow_tests::*;

/// How the oracle writes NULL (an empty field is an empty text).
const NULL: &str = r"\N";

/// The input's column types, as the oracle script declares them.
fn column_type(name: &str) -> Type {
    match name {
        "Quantity" | "UnitPrice" | "Customer ID" => Type::Number,
        "InvoiceDate" => Type::Timestamp,
        "Returned" => Type::Bool,
        _ => Type::Text,
    }
}

fn value(field: &str) -> Option<&str> {
    (field != NULL).then_some(field)
}

/// Text values as an array of `ty`: numbers and booleans parsed here, timestamps by Arrow's
/// cast (`YYYY-MM-DD HH:MM:SS[.ffffff]`).
fn typed(texts: &[Option<&str>], ty: Type) -> ArrayRef {
    match ty {
        Type::Number => Arc::new(
            texts
                .iter()
                .map(|t| t.map(|t| t.parse::<f64>().unwrap()))
                .collect::<Float64Array>(),
        ),
        Type::Bool => Arc::new(
            texts
                .iter()
                .map(|t| t.map(|t| t.parse::<bool>().unwrap()))
                .collect::<BooleanArray>(),
        ),
        Type::Text => Arc::new(StringArray::from(texts.to_vec())),
        Type::Timestamp => cast(&StringArray::from(texts.to_vec()), &ty.arrow()).unwrap(),
    }
}

fn input() -> (RecordBatch, Vec<(String, Type)>) {
    let (header, rows) = read_csv(&repo_root().join("tests/oracle/expressions_input.csv"));
    let columns: Vec<(String, Type)> = header
        .iter()
        .map(|h| (h.to_string(), column_type(h)))
        .collect();
    let arrays = columns
        .iter()
        .enumerate()
        .map(|(c, (_, ty))| {
            let texts: Vec<Option<&str>> = rows.iter().map(|r| value(&r[c])).collect();
            typed(&texts, *ty)
        })
        .collect();
    let fields: Vec<Field> = columns
        .iter()
        .map(|(name, ty)| Field::new(name, ty.arrow(), true))
        .collect();
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).unwrap();
    (batch, columns)
}

/// Whether row `row` of `ours` is the oracle's `want` (already typed, one row).
fn same(ours: &ArrayRef, row: usize, want: &ArrayRef) -> bool {
    if ours.is_null(row) || want.is_null(0) {
        return ours.is_null(row) && want.is_null(0);
    }
    match ours.data_type() {
        arrow::datatypes::DataType::Float64 => {
            let (a, b) = (
                ours.as_primitive::<Float64Type>().value(row),
                want.as_primitive::<Float64Type>().value(0),
            );
            a.to_bits() == b.to_bits()
        }
        arrow::datatypes::DataType::Timestamp(..) => {
            ours.as_primitive::<TimestampMicrosecondType>().value(row)
                == want.as_primitive::<TimestampMicrosecondType>().value(0)
        }
        arrow::datatypes::DataType::Boolean => {
            ours.as_boolean().value(row) == want.as_boolean().value(0)
        }
        _ => ours.as_string::<i32>().value(row) == want.as_string::<i32>().value(0),
    }
}

#[test]
fn every_value_agrees_with_the_python_oracle() {
    let (batch, columns) = input();
    let (_, expected) = read_csv(&repo_root().join("tests/oracle/expressions_expected.csv"));
    let mut wrong = Vec::new();
    let mut compared = 0;
    let mut expressions = 0;
    for group in expected.chunk_by(|a, b| a[0] == b[0]) {
        let text = &group[0][0];
        let expr = Expr::parse(text, &columns).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(expr.output_type().name(), &group[0][1], "{text}");
        let ours = expr.eval(&batch).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(group.len(), batch.num_rows(), "{text}");
        for record in group {
            let row: usize = record[2].parse().unwrap();
            let want = typed(&[value(&record[3])], expr.output_type());
            if !same(&ours, row, &want) {
                let got = arrow::util::display::array_value_to_string(&ours, row).unwrap();
                wrong.push(format!(
                    "{text}, row {row}: segflow {got:?}, Python {:?}",
                    &record[3]
                ));
            }
            compared += 1;
        }
        expressions += 1;
    }
    assert!(
        wrong.is_empty(),
        "{} differences:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    assert_eq!(expressions, 63);
    assert_eq!(compared, 63 * 20);
}

/// Every construct of the language, over the columns of `chunk_batch`.
const CHUNKED: &[&str] = &[
    "a * b + 1",
    "a / b",
    "a % b",
    "-a",
    "a > b OR f",
    "NOT f AND a <= 0",
    "t IS NULL",
    "a IN (0, 1.5, NULL)",
    "t NOT IN ('C1', 'x')",
    "a BETWEEN -1 AND b",
    "t LIKE 'C%'",
    "t NOT LIKE '_é%'",
    "CASE WHEN a > 0 THEN t WHEN f THEN 'f' END",
    "CASE t WHEN 'C1' THEN 1 ELSE a END",
    "COALESCE(a, b, 0)",
    "CAST(t AS DOUBLE)",
    "CAST(a AS INTEGER)",
    "CAST(a AS TEXT)",
    "CAST(ts AS TEXT)",
    "CAST(f AS DOUBLE)",
    "abs(a) + ln(b) + log1p(a) + sqrt(b) + floor(a) + ceil(b)",
    "round(a * b, 2)",
    "lower(t) = upper(t)",
    "length(t)",
    "starts_with(t, 'C')",
    "hour(ts) + weekday(ts)",
    "date(ts)",
    "ts >= '2000-01-01' AND date(ts) < '2030-06-30 12:00:00'",
];

/// One generated row: a, b, t, f, ts.
type Row = (
    Option<f64>,
    Option<f64>,
    Option<String>,
    Option<bool>,
    Option<i64>,
);

fn chunk_batch(rows: Vec<Row>) -> RecordBatch {
    let a: Float64Array = rows.iter().map(|r| r.0).collect();
    let b: Float64Array = rows.iter().map(|r| r.1).collect();
    let t: StringArray = rows.iter().map(|r| r.2.clone()).collect();
    let f: BooleanArray = rows.iter().map(|r| r.3).collect();
    let ts: TimestampMicrosecondArray = rows.iter().map(|r| r.4).collect();
    let schema = Schema::new(vec![
        Field::new("a", Type::Number.arrow(), true),
        Field::new("b", Type::Number.arrow(), true),
        Field::new("t", Type::Text.arrow(), true),
        Field::new("f", Type::Bool.arrow(), true),
        Field::new("ts", Type::Timestamp.arrow(), true),
    ]);
    let arrays: Vec<ArrayRef> = vec![
        Arc::new(a),
        Arc::new(b),
        Arc::new(t),
        Arc::new(f),
        Arc::new(ts),
    ];
    RecordBatch::try_new(Arc::new(schema), arrays).unwrap()
}

#[test]
fn evaluating_slices_gives_the_whole_batchs_result() {
    let columns = [
        ("a", Type::Number),
        ("b", Type::Number),
        ("t", Type::Text),
        ("f", Type::Bool),
        ("ts", Type::Timestamp),
    ];
    let expressions: Vec<Expr> = CHUNKED
        .iter()
        .map(|text| Expr::parse(text, &columns).unwrap_or_else(|e| panic!("{text}: {e}")))
        .collect();
    let number = prop_oneof![
        Just(None),
        Just(Some(0.0)),
        Just(Some(-0.0)),
        Just(Some(1.5)),
        Just(Some(1e308)),
        (-1e6..1e6f64).prop_map(Some),
    ];
    let text = prop_oneof![
        Just(None),
        Just(Some(String::new())),
        "[Cxé_%Σ1]{0,4}".prop_map(Some),
    ];
    // Timestamps from 1900 to 2100, at any microsecond.
    let timestamp = prop_oneof![
        Just(None),
        (-2_208_988_800_000_000i64..4_102_444_800_000_000).prop_map(Some),
    ];
    let row = (
        number.clone(),
        number,
        text,
        proptest::option::of(any::<bool>()),
        timestamp,
    );
    let case = (
        proptest::collection::vec(row, 0..120),
        proptest::collection::vec(0..120usize, 0..6),
    );
    let mut runner = TestRunner::new(Config {
        cases: 64,
        ..Config::default()
    });
    runner
        .run(&case, |(rows, mut cuts)| {
            let batch = chunk_batch(rows);
            cuts.push(0);
            cuts.push(batch.num_rows());
            cuts.iter_mut()
                .for_each(|c| *c = (*c).min(batch.num_rows()));
            cuts.sort_unstable();
            for (expr, text) in expressions.iter().zip(CHUNKED) {
                let whole = expr.eval(&batch).unwrap();
                let parts: Vec<ArrayRef> = cuts
                    .windows(2)
                    .map(|w| expr.eval(&batch.slice(w[0], w[1] - w[0])).unwrap())
                    .collect();
                let parts: Vec<&dyn Array> = parts.iter().map(|p| p.as_ref()).collect();
                let joined = concat(&parts).unwrap();
                prop_assert_eq!(
                    whole.to_data(),
                    joined.to_data(),
                    "{} over cuts {:?}",
                    text,
                    cuts
                );
                if expr.output_type() == Type::Bool {
                    let mask = expr.mask(&batch).unwrap();
                    let masks: Vec<BooleanArray> = cuts
                        .windows(2)
                        .map(|w| expr.mask(&batch.slice(w[0], w[1] - w[0])).unwrap())
                        .collect();
                    let masks: Vec<&dyn Array> = masks.iter().map(|m| m as &dyn Array).collect();
                    prop_assert_eq!(
                        mask.to_data(),
                        concat(&masks).unwrap().to_data(),
                        "mask of {}",
                        text
                    );
                }
            }
            Ok(())
        })
        .unwrap();
}
