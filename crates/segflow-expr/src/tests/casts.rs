//! CAST between the types.

use super::*;

#[test]
fn text_to_number_is_a_try_cast() {
    assert_eq!(
        numbers("CAST(InvoiceNo AS DOUBLE)"),
        vec![Some(536365.0), None, None, None, None]
    );
    assert_eq!(
        numbers("CAST(' -1.5e3 ' AS NUMERIC)"),
        vec![Some(-1500.0); 5]
    );
    assert_eq!(numbers("CAST('1e999' AS DOUBLE)"), vec![None; 5]);
    assert_eq!(numbers("CAST('NaN' AS DOUBLE)"), vec![None; 5]);
    assert_eq!(numbers("'12'::DOUBLE"), vec![Some(12.0); 5]);
}

#[test]
fn integer_truncates_toward_zero_within_range() {
    assert_eq!(numbers("CAST(2.7 AS INTEGER)"), vec![Some(2.0); 5]);
    assert_eq!(numbers("CAST(-2.7 AS INT)"), vec![Some(-2.0); 5]);
    assert!(
        numbers("CAST(-0.5 AS INTEGER)")[0]
            .unwrap()
            .is_sign_positive()
    );
    assert_eq!(numbers("CAST('7.9' AS BIGINT)"), vec![Some(7.0); 5]);
    assert_eq!(
        numbers("CAST(2147483647.9 AS INTEGER)"),
        vec![Some(2147483647.0); 5]
    );
    assert_eq!(numbers("CAST(2147483648 AS INTEGER)"), vec![None; 5]);
    assert_eq!(
        numbers("CAST(-2147483648.5 AS INTEGER)"),
        vec![Some(-2147483648.0); 5]
    );
    assert_eq!(
        numbers("CAST(2147483648 AS BIGINT)"),
        vec![Some(2147483648.0); 5]
    );
    assert_eq!(numbers("CAST(1e19 AS BIGINT)"), vec![None; 5]);
}

#[test]
fn numbers_booleans_and_timestamps_as_text() {
    assert_eq!(
        texts("CAST(Quantity AS VARCHAR)"),
        vec![
            Some("6".into()),
            Some("-2".into()),
            Some("0".into()),
            None,
            Some("12.5".into())
        ]
    );
    assert_eq!(
        texts("CAST(Quantity * UnitPrice AS TEXT)")[0],
        Some("15.299999999999999".to_string())
    );
    assert_eq!(texts("CAST(1e21 AS STRING)")[0], Some("1e+21".to_string()));
    assert_eq!(
        texts("CAST(ok AS TEXT)"),
        vec![
            Some("true".into()),
            Some("false".into()),
            None,
            Some("true".into()),
            Some("false".into())
        ]
    );
    assert_eq!(
        texts("CAST(ts AS TEXT)"),
        vec![
            Some("2024-01-01 10:30:00".into()),
            Some("2024-01-06 23:59:59".into()),
            None,
            Some("1969-12-31 23:00:00".into()),
            Some("2024-01-07 00:00:00".into())
        ]
    );
    assert_eq!(
        texts("CAST(InvoiceNo AS TEXT)")[4],
        Some("Straße ΣΑΣ".to_string())
    );
}

#[test]
fn booleans_from_numbers_and_text() {
    assert_eq!(
        bools("CAST(Quantity AS BOOLEAN)"),
        vec![Some(true), Some(true), Some(false), None, Some(true)]
    );
    assert_eq!(bools("CAST(' True' AS BOOL)"), vec![Some(true); 5]);
    assert_eq!(bools("CAST('f' AS BOOLEAN)"), vec![Some(false); 5]);
    assert_eq!(bools("CAST('yes' AS BOOLEAN)"), vec![None; 5]);
    assert_eq!(
        numbers("CAST(ok AS DOUBLE)"),
        vec![Some(1.0), Some(0.0), None, Some(1.0), Some(0.0)]
    );
    assert_eq!(numbers("CAST(ok AS INTEGER)")[0], Some(1.0));
    assert_eq!(bools("CAST(ok AS BOOLEAN)")[1], Some(false));
}
