//! `derive` and `where` in ingest on a small invoice log: errors that name the YAML key and
//! the position in the expression, rules that exclude every row, divisions by zero, and
//! expressions that would carry an identity into an artifact.

use std::path::PathBuf;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{Float64Type, UInt64Type};
use segflow_core::artifact::read_parquet;
use segflow_tests::*;

const LOG: &str = "InvoiceNo,Quantity,UnitPrice,CustomerID,InvoiceDate,Name\n\
     536365,6,2.55,17850,2010-12-01 08:26:00,Ann\n\
     536366,4,0,17850,2010-12-01 09:00:00,Ann\n\
     C536367,-2,3.5,13047,2010-12-02 10:00:00,Bob\n\
     536368,6,1.25,13047,2010-12-03 11:00:00,Bob\n\
     536369,3,4,,2010-12-03 12:00:00,\n";

const BASE: &str = "mode: events\n\
     columns: {contact: CustomerID, timestamp: InvoiceDate}\n\
     types: {Quantity: number, UnitPrice: number}\n\
     blank_ids: exclude\n\
     privacy: {drop: [Name]}\n";

/// Ingests the log with `extra` params appended to [`BASE`].
fn ingest(scratch: &Scratch, extra: &str) -> (std::process::Output, PathBuf) {
    ingest_text(
        scratch.path(),
        "invoices.csv",
        LOG,
        &format!("{BASE}{extra}"),
        "out",
    )
}

/// Fails with exit 78, leaves nothing behind, and says each of `needles`.
fn refused(name: &str, extra: &str, needles: &[&str]) {
    let scratch = Scratch::new(name);
    let (o, out) = ingest(&scratch, extra);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(78), "{extra}: {err}");
    for needle in needles {
        assert!(err.contains(needle), "{extra}: `{needle}` not in: {err}");
    }
    assert!(!out.exists(), "a refused ingest leaves no output");
}

#[test]
fn an_unknown_column_names_the_key_the_position_and_the_closest_column() {
    refused(
        "row-expr-refused-1",
        "derive: {line_value: \"Quantity * UnitPrize\"}\n",
        &["derive.line_value", "column 12", "UnitPrize", "UnitPrice"],
    );
}

#[test]
fn a_type_mismatch_says_which_column_to_declare_a_number() {
    refused(
        "row-expr-refused-2",
        "derive: {doubled: \"InvoiceNo * 2\"}\n",
        &["derive.doubled", "InvoiceNo", "types: {InvoiceNo: number}"],
    );
}

#[test]
fn an_unsupported_function_and_a_syntax_error_are_refused_by_key() {
    refused(
        "row-expr-refused-3",
        "where: \"md5(InvoiceNo) = 'x'\"\n",
        &["where", "md5"],
    );
    refused("row-expr-refused-4", "where: \"Quantity > \"\n", &["where"]);
}

#[test]
fn a_where_that_is_not_a_condition_is_refused() {
    refused(
        "row-expr-refused-5",
        "where: \"Quantity + 1\"\n",
        &["where", "not a condition"],
    );
}

#[test]
fn a_derived_column_may_not_read_the_contact_or_a_dropped_column() {
    refused(
        "row-expr-refused-6",
        "derive: {who: \"lower(CustomerID)\"}\n",
        &["derive.who", "CustomerID", "contact"],
    );
    refused(
        "row-expr-refused-7",
        "derive: {who: \"upper(Name)\"}\n",
        &["derive.who", "Name", "privacy.drop"],
    );
}

#[test]
fn a_where_that_keeps_no_row_fails_with_the_counts_and_leaves_nothing() {
    let scratch = Scratch::new("row-expr-none-left");
    let (o, out) = ingest(&scratch, "where: \"UnitPrice > 100\"\n");
    assert_eq!(o.status.code(), Some(65), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("every row was excluded"),
        "{}",
        stderr(&o)
    );
    assert!(
        stderr(&o).contains("4 by `where`, 1 blank ids"),
        "{}",
        stderr(&o)
    );
    assert!(!out.exists());
}

#[test]
fn a_division_by_zero_is_a_null_counted_in_the_audit_and_rows_add_up() {
    let scratch = Scratch::new("row-expr-divide");
    let (o, out) = ingest(
        &scratch,
        "derive:\n  per_unit: \"Quantity / UnitPrice\"\n  is_return: \"starts_with(InvoiceNo, 'C')\"\n\
         where: \"NOT is_return\"\n",
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let events = read_parquet(&out.join("events.parquet")).unwrap();
    let per_unit = events
        .column("per_unit")
        .unwrap()
        .as_primitive::<Float64Type>();
    // Lines 2, 3 and 5 are kept: 6 / 2.55, 4 / 0 (null), 6 / 1.25.
    assert_eq!(per_unit.len(), 3);
    assert_eq!(per_unit.value(0), 6.0 / 2.55);
    assert!(per_unit.is_null(1));
    assert_eq!(per_unit.value(2), 6.0 / 1.25);
    let columns = read_parquet(&out.join("audit_columns.parquet")).unwrap();
    let names = columns.column("column").unwrap().as_string::<i32>();
    let row = (0..names.len())
        .find(|&r| names.value(r) == "per_unit")
        .unwrap();
    let non_null = columns
        .column("non_null")
        .unwrap()
        .as_primitive::<UInt64Type>();
    assert_eq!(non_null.value(row), 2);
    let summary = read_parquet(&out.join("audit_summary.parquet")).unwrap();
    let count = |c: &str| {
        summary
            .column(c)
            .unwrap()
            .as_primitive::<UInt64Type>()
            .value(0)
    };
    assert_eq!(count("rows_in"), 5);
    assert_eq!(count("accepted"), 3);
    assert_eq!(count("excluded_by_where"), 1);
    assert_eq!(count("excluded_blank_ids"), 1);
    assert_eq!(count("rejected"), 0);
    assert_eq!(
        count("rows_in"),
        count("accepted") + count("excluded") + count("rejected")
    );
}
