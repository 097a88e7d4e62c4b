//! CASE and COALESCE.

use super::*;

#[test]
fn searched_case_takes_the_first_true_branch() {
    assert_eq!(
        texts("CASE WHEN Quantity < 0 THEN 'return' WHEN Quantity = 0 THEN 'none' ELSE 'sale' END"),
        vec![
            Some("sale".into()),
            Some("return".into()),
            Some("none".into()),
            Some("sale".into()),
            Some("sale".into())
        ]
    );
    // A NULL condition is not true; without ELSE the result is NULL.
    assert_eq!(
        numbers("CASE WHEN ok THEN Quantity END"),
        vec![Some(6.0), None, None, None, None]
    );
    assert_eq!(
        numbers("CASE WHEN ok THEN 1 WHEN NOT ok THEN 2 ELSE 3 END"),
        vec![Some(1.0), Some(2.0), Some(3.0), Some(1.0), Some(2.0)]
    );
    // Constant conditions.
    assert_eq!(
        numbers("CASE WHEN FALSE THEN 1 WHEN TRUE THEN 2 END"),
        vec![Some(2.0); 5]
    );
    assert_eq!(
        numbers("CASE WHEN NULL THEN 1 ELSE Quantity END")[0],
        Some(6.0)
    );
    // NULL branches take the other branches' type.
    assert_eq!(
        numbers("CASE WHEN ok THEN NULL ELSE UnitPrice END"),
        vec![None, Some(3.0), Some(0.0), None, None]
    );
}

#[test]
fn simple_case_compares_with_equals() {
    assert_eq!(
        texts("CASE InvoiceNo WHEN 'C' THEN 'cancel' WHEN '536365' THEN 'first' ELSE 'other' END"),
        vec![
            Some("first".into()),
            Some("other".into()),
            Some("cancel".into()),
            Some("other".into()),
            Some("other".into())
        ]
    );
    assert_eq!(
        numbers("CASE weekday(ts) WHEN 7 THEN 1 ELSE 0 END"),
        vec![Some(0.0), Some(0.0), Some(0.0), Some(0.0), Some(1.0)]
    );
    assert_eq!(
        bools("CASE ts WHEN '2024-01-07' THEN TRUE END"),
        vec![None, None, None, None, Some(true)]
    );
}

#[test]
fn coalesce_takes_the_first_non_null() {
    assert_eq!(
        numbers("COALESCE(UnitPrice, Quantity, -1)"),
        vec![Some(2.55), Some(3.0), Some(0.0), Some(1.5), Some(12.5)]
    );
    assert_eq!(
        numbers("coalesce(Quantity, UnitPrice)"),
        vec![Some(6.0), Some(-2.0), Some(0.0), Some(1.5), Some(12.5)]
    );
    assert_eq!(
        texts("COALESCE(InvoiceNo, 'none')")[3],
        Some("none".to_string())
    );
    assert_eq!(numbers("COALESCE(NULL, 2, Quantity)"), vec![Some(2.0); 5]);
    assert_eq!(
        numbers("COALESCE(Quantity)"),
        vec![Some(6.0), Some(-2.0), Some(0.0), None, Some(12.5)]
    );
    assert_eq!(
        bools("COALESCE(ok, FALSE)"),
        vec![
            Some(true),
            Some(false),
            Some(false),
            Some(true),
            Some(false)
        ]
    );
}
