//! Unit tests of the language, construct by construct, over one small batch.

mod casts;
mod columns;
mod conditionals;
mod errors;
mod functions;
mod operators;
mod predicates;

use std::sync::Arc;

use arrow::array::{
    ArrayRef, AsArray, BooleanArray, Float64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use arrow::datatypes::{Field, Float64Type, Schema, TimestampMicrosecondType};

use crate::{ErrorKind, Expr, ExprError, Type};

const COLUMNS: &[(&str, Type)] = &[
    ("Quantity", Type::Number),
    ("UnitPrice", Type::Number),
    ("InvoiceNo", Type::Text),
    ("Unit Price", Type::Number),
    ("ok", Type::Bool),
    ("ts", Type::Timestamp),
];

const DAY: i64 = 86_400_000_000;
const HOUR: i64 = 3_600_000_000;

/// Five rows: 2024-01-01 was a Monday (day 19,723 since 1970-01-01).
fn batch() -> RecordBatch {
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Float64Array::from(vec![
            Some(6.0),
            Some(-2.0),
            Some(0.0),
            None,
            Some(12.5),
        ])),
        Arc::new(Float64Array::from(vec![
            Some(2.55),
            Some(3.0),
            Some(0.0),
            Some(1.5),
            None,
        ])),
        Arc::new(StringArray::from(vec![
            Some("536365"),
            Some("C536379"),
            Some("C"),
            None,
            Some("Straße ΣΑΣ"),
        ])),
        Arc::new(Float64Array::from(vec![
            Some(1.0),
            None,
            Some(-0.0),
            Some(4.0),
            Some(5.0),
        ])),
        Arc::new(BooleanArray::from(vec![
            Some(true),
            Some(false),
            None,
            Some(true),
            Some(false),
        ])),
        Arc::new(TimestampMicrosecondArray::from(vec![
            Some(19_723 * DAY + 10 * HOUR + 30 * 60_000_000),
            Some(19_728 * DAY + 23 * HOUR + 3_599_000_000),
            None,
            Some(-HOUR),
            Some(19_729 * DAY),
        ])),
    ];
    let fields: Vec<Field> = COLUMNS
        .iter()
        .map(|(name, ty)| Field::new(*name, ty.arrow(), true))
        .collect();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap()
}

fn parse(text: &str) -> Expr {
    Expr::parse(text, COLUMNS).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn eval(text: &str) -> ArrayRef {
    let expr = parse(text);
    let out = expr
        .eval(&batch())
        .unwrap_or_else(|e| panic!("{text}: {e}"));
    assert_eq!(out.len(), 5, "{text}");
    assert_eq!(out.data_type(), &expr.output_type().arrow(), "{text}");
    out
}

fn numbers(text: &str) -> Vec<Option<f64>> {
    eval(text).as_primitive::<Float64Type>().iter().collect()
}

fn texts(text: &str) -> Vec<Option<String>> {
    eval(text)
        .as_string::<i32>()
        .iter()
        .map(|s| s.map(str::to_string))
        .collect()
}

fn bools(text: &str) -> Vec<Option<bool>> {
    eval(text).as_boolean().iter().collect()
}

fn stamps(text: &str) -> Vec<Option<i64>> {
    eval(text)
        .as_primitive::<TimestampMicrosecondType>()
        .iter()
        .collect()
}

/// The error of an expression that must not parse, checked for kind and column.
fn error(text: &str, kind: ErrorKind, column: u64) -> ExprError {
    let e = Expr::parse(text, COLUMNS).expect_err(text);
    assert_eq!((e.kind, e.column), (kind, column), "{text}: {e}");
    e
}
