//! Column resolution and the columns an expression reads.

use super::*;

#[test]
fn columns_in_order_of_first_appearance() {
    let e = parse("Quantity * UnitPrice > 10 AND quantity > 0 AND starts_with(InvoiceNo, 'C')");
    assert_eq!(e.columns(), ["Quantity", "UnitPrice", "InvoiceNo"]);
    assert_eq!(e.output_type(), Type::Bool);
    assert!(parse("1 + 1").columns().is_empty());
}

#[test]
fn quoted_and_case_insensitive_names() {
    assert_eq!(
        numbers("\"Unit Price\" * 2"),
        vec![Some(2.0), None, Some(0.0), Some(8.0), Some(10.0)]
    );
    assert_eq!(
        parse("QUANTITY + unitprice").columns(),
        ["Quantity", "UnitPrice"]
    );
    assert_eq!(parse("\"quantity\"").columns(), ["Quantity"]);
}

#[test]
fn an_exact_name_wins_over_case_insensitive_ones() {
    let columns = [("a", Type::Number), ("A", Type::Text)];
    let e = Expr::parse("A", &columns).unwrap();
    assert_eq!(
        (e.columns(), e.output_type()),
        (&["A".to_string()][..], Type::Text)
    );
    let e = Expr::parse("a", &columns).unwrap();
    assert_eq!(e.output_type(), Type::Number);
    let e = Expr::parse("\"A\" = 'x'", &columns).unwrap();
    assert_eq!(e.columns(), ["A"]);
}

#[test]
fn eval_reads_only_the_columns_it_needs() {
    let e = parse("Quantity * 2");
    let batch = batch().project(&[0]).unwrap();
    assert_eq!(e.eval(&batch).unwrap().len(), 5);
}

#[test]
fn mask_keeps_only_true_rows() {
    let e = parse("Quantity > 0 OR ok");
    let mask = e.mask(&batch()).unwrap();
    assert_eq!(arrow::array::Array::null_count(&mask), 0);
    // [true, false, NULL (false OR NULL), true (NULL OR true), true]
    assert_eq!(
        mask.iter().collect::<Vec<_>>(),
        vec![Some(true), Some(false), Some(false), Some(true), Some(true)]
    );
    let kept = arrow::compute::filter_record_batch(&batch(), &mask).unwrap();
    assert_eq!(kept.num_rows(), 3);
}

#[test]
fn empty_batches_and_types() {
    let e = parse("Quantity + 1");
    let empty = batch().slice(0, 0);
    assert_eq!(e.eval(&empty).unwrap().len(), 0);
    assert_eq!(parse("1").eval(&empty).unwrap().len(), 0);
    assert_eq!(
        Type::from_arrow(&Type::Timestamp.arrow()),
        Some(Type::Timestamp)
    );
    assert_eq!(Type::from_arrow(&arrow::datatypes::DataType::Int64), None);
    assert_eq!(Type::Text.name(), "text");
}

#[test]
fn expressions_are_shared_between_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Expr>();
    send_sync::<ExprError>();
}

#[test]
fn an_open_parse_reads_unknown_names_as_columns_of_the_given_type() {
    let columns = [("Quantity", Type::Number)];
    let e = Expr::parse_open(
        "quantity > 0 AND starts_with(Code, 'C')",
        &columns,
        Type::Text,
    )
    .unwrap();
    assert_eq!(e.columns(), ["Quantity", "Code"]);
    let err = Expr::parse_open("Code > 0", &columns, Type::Text).unwrap_err();
    assert_eq!(err.kind, ErrorKind::TypeMismatch);
    assert!(Expr::parse("Code > 0", &columns).is_err());
}
