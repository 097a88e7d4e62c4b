//! The function library.

use super::*;

#[test]
fn numeric_functions() {
    assert_eq!(
        numbers("abs(Quantity)"),
        vec![Some(6.0), Some(2.0), Some(0.0), None, Some(12.5)]
    );
    assert_eq!(
        numbers("ln(Quantity)"),
        vec![Some(6f64.ln()), None, None, None, Some(12.5f64.ln())]
    );
    assert_eq!(
        numbers("log1p(Quantity + 1)"),
        vec![
            Some(7f64.ln_1p()),
            None,
            Some(1f64.ln_1p()),
            None,
            Some(13.5f64.ln_1p())
        ]
    );
    assert_eq!(numbers("log1p(-1)"), vec![None; 5]);
    assert_eq!(numbers("log1p(-2)"), vec![None; 5]);
    assert_eq!(
        numbers("sqrt(Quantity)"),
        vec![
            Some(6f64.sqrt()),
            None,
            Some(0.0),
            None,
            Some(12.5f64.sqrt())
        ]
    );
    assert_eq!(numbers("floor(-2.5)"), vec![Some(-3.0); 5]);
    assert_eq!(numbers("ceil(-2.5)"), vec![Some(-2.0); 5]);
    assert!(numbers("ceil(-0.5)")[0].unwrap().is_sign_positive());
    assert_eq!(numbers("floor(Quantity / 4)")[4], Some(3.0));
    assert_eq!(numbers("ceil(Quantity / 4)")[4], Some(4.0));
}

#[test]
fn round_half_away_from_zero() {
    assert_eq!(numbers("round(2.5)"), vec![Some(3.0); 5]);
    assert_eq!(numbers("round(-2.5)"), vec![Some(-3.0); 5]);
    assert_eq!(numbers("round(Quantity / 4)")[4], Some(3.0));
    assert_eq!(numbers("round(1.005, 2)"), vec![Some(1.0); 5]);
    assert_eq!(numbers("round(1.125, 2)"), vec![Some(1.13); 5]);
    assert_eq!(numbers("round(1250, -2)"), vec![Some(1300.0); 5]);
    assert_eq!(numbers("round(UnitPrice, 1)")[0], Some(2.6));
}

#[test]
fn text_functions() {
    assert_eq!(
        texts("lower(InvoiceNo)"),
        vec![
            Some("536365".into()),
            Some("c536379".into()),
            Some("c".into()),
            None,
            Some("straße σας".into())
        ]
    );
    assert_eq!(
        texts("upper(InvoiceNo)")[4],
        Some("STRASSE ΣΑΣ".to_string())
    );
    assert_eq!(
        numbers("length(InvoiceNo)"),
        vec![Some(6.0), Some(7.0), Some(1.0), None, Some(10.0)]
    );
    assert_eq!(numbers("length('')"), vec![Some(0.0); 5]);
    assert_eq!(
        bools("starts_with(InvoiceNo, 'C')"),
        vec![Some(false), Some(true), Some(true), None, Some(false)]
    );
    assert_eq!(bools("starts_with(InvoiceNo, 'Straß')")[4], Some(true));
    assert_eq!(bools("starts_with(InvoiceNo, NULL)"), vec![None; 5]);
    assert_eq!(
        bools("starts_with('C536379', InvoiceNo)"),
        vec![Some(false), Some(true), Some(true), None, Some(false)]
    );
}

#[test]
fn timestamp_functions() {
    assert_eq!(
        numbers("hour(ts)"),
        vec![Some(10.0), Some(23.0), None, Some(23.0), Some(0.0)]
    );
    assert_eq!(
        numbers("weekday(ts)"),
        vec![Some(1.0), Some(6.0), None, Some(3.0), Some(7.0)]
    );
    assert_eq!(
        stamps("date(ts)"),
        vec![
            Some(19_723 * DAY),
            Some(19_728 * DAY),
            None,
            Some(-DAY),
            Some(19_729 * DAY)
        ]
    );
    assert_eq!(
        bools("date(ts) = '2024-01-01'"),
        vec![Some(true), Some(false), None, Some(false), Some(false)]
    );
}

#[test]
fn function_names_ignore_case() {
    assert_eq!(numbers("ABS(-1)"), vec![Some(1.0); 5]);
    assert_eq!(numbers("Round(2.5)"), vec![Some(3.0); 5]);
    assert_eq!(numbers("FLOOR(2.5)"), vec![Some(2.0); 5]);
}
