//! Literals, arithmetic, comparison and logic.

use super::*;

#[test]
fn literals_broadcast_to_every_row() {
    assert_eq!(numbers("1.5e2"), vec![Some(150.0); 5]);
    assert_eq!(texts("'it''s'"), vec![Some("it's".to_string()); 5]);
    assert_eq!(bools("TRUE"), vec![Some(true); 5]);
    assert_eq!(bools("false"), vec![Some(false); 5]);
    assert_eq!(numbers("CAST(NULL AS DOUBLE)"), vec![None; 5]);
    assert_eq!(numbers("1 + NULL"), vec![None; 5]);
}

#[test]
fn arithmetic_on_numbers() {
    assert_eq!(
        numbers("Quantity * UnitPrice"),
        vec![Some(6.0 * 2.55), Some(-6.0), Some(0.0), None, None]
    );
    assert_eq!(
        numbers("Quantity + 1 - 0.5"),
        vec![Some(6.5), Some(-1.5), Some(0.5), None, Some(13.0)]
    );
    assert_eq!(
        numbers("-Quantity"),
        vec![Some(-6.0), Some(2.0), Some(0.0), None, Some(-12.5)]
    );
    assert_eq!(numbers("+Quantity")[0], Some(6.0));
    assert_eq!(numbers("2 + 3 * 4"), vec![Some(14.0); 5]);
    assert_eq!(numbers("(2 + 3) * 4"), vec![Some(20.0); 5]);
}

#[test]
fn division_by_zero_and_non_finite_results_are_null() {
    assert_eq!(
        numbers("Quantity / UnitPrice"),
        vec![Some(6.0 / 2.55), Some(-2.0 / 3.0), None, None, None]
    );
    assert_eq!(numbers("1 / 0"), vec![None; 5]);
    assert_eq!(numbers("0 / 0"), vec![None; 5]);
    assert_eq!(numbers("Quantity % 0"), vec![None; 5]);
    assert_eq!(numbers("1e308 * 10"), vec![None; 5]);
    assert_eq!(numbers("Quantity * 1e308 * 1e10")[2], Some(0.0));
}

#[test]
fn remainder_takes_the_sign_of_the_dividend() {
    assert_eq!(
        numbers("Quantity % 4"),
        vec![Some(2.0), Some(-2.0), Some(0.0), None, Some(0.5)]
    );
    assert_eq!(numbers("-7 % -3"), vec![Some(-1.0); 5]);
}

#[test]
fn negative_zero_is_zero() {
    // -0 * 1 is -0 in IEEE arithmetic; SQL engines compare it equal to 0, and so does segflow.
    let zero = numbers("-Quantity * 1");
    assert!(zero[2].unwrap().is_sign_positive());
    assert_eq!(bools("\"Unit Price\" = 0")[2], Some(true));
    assert_eq!(bools("\"Unit Price\" < 0")[2], Some(false));
}

#[test]
fn comparisons_of_each_type() {
    assert_eq!(
        bools("Quantity > 0"),
        vec![Some(true), Some(false), Some(false), None, Some(true)]
    );
    assert_eq!(
        bools("Quantity <> 0"),
        vec![Some(true), Some(true), Some(false), None, Some(true)]
    );
    assert_eq!(bools("Quantity != 0"), bools("Quantity <> 0"));
    assert_eq!(
        bools("Quantity <= UnitPrice"),
        vec![Some(false), Some(true), Some(true), None, None]
    );
    assert_eq!(bools("Quantity >= -2")[1], Some(true));
    assert_eq!(bools("Quantity < -2")[1], Some(false));
    assert_eq!(bools("Quantity = 6")[0], Some(true));
    // Text compares by bytes: 'C' < 'S' < 'c' and a prefix sorts first.
    assert_eq!(
        bools("InvoiceNo < 'C5'"),
        vec![Some(true), Some(false), Some(true), None, Some(false)]
    );
    assert_eq!(bools("'a' > 'B'"), vec![Some(true); 5]);
    assert_eq!(
        bools("ok = TRUE"),
        vec![Some(true), Some(false), None, Some(true), Some(false)]
    );
    assert_eq!(
        bools("ok < TRUE"),
        vec![Some(false), Some(true), None, Some(false), Some(true)]
    );
    assert_eq!(
        bools("ts >= date(ts)"),
        vec![Some(true), Some(true), None, Some(true), Some(true)]
    );
}

#[test]
fn timestamps_compare_with_date_literals() {
    assert_eq!(
        bools("ts >= '2024-01-01'"),
        vec![Some(true), Some(true), None, Some(false), Some(true)]
    );
    assert_eq!(
        bools("'2024-01-06 23:59:59' = ts"),
        vec![Some(false), Some(true), None, Some(false), Some(false)]
    );
    assert_eq!(
        bools("ts < '2024-01-01 10:30:00'"),
        vec![Some(false), Some(false), None, Some(true), Some(false)]
    );
}

#[test]
fn and_or_not_follow_three_valued_logic() {
    // ok: [true, false, NULL, true, false]; Quantity > 0: [true, false, false, NULL, true]
    assert_eq!(
        bools("ok AND Quantity > 0"),
        vec![Some(true), Some(false), Some(false), None, Some(false)]
    );
    assert_eq!(
        bools("ok OR Quantity > 0"),
        vec![Some(true), Some(false), None, Some(true), Some(true)]
    );
    assert_eq!(
        bools("NOT ok"),
        vec![Some(false), Some(true), None, Some(false), Some(true)]
    );
    assert_eq!(
        bools("ok AND NULL"),
        vec![None, Some(false), None, None, Some(false)]
    );
    assert_eq!(
        bools("ok OR NULL"),
        vec![Some(true), None, None, Some(true), None]
    );
    assert_eq!(bools("NULL AND FALSE"), vec![Some(false); 5]);
    assert_eq!(bools("NULL OR TRUE"), vec![Some(true); 5]);
    assert_eq!(bools("NOT NULL"), vec![None; 5]);
    // AND binds tighter than OR.
    assert_eq!(bools("TRUE OR FALSE AND FALSE"), vec![Some(true); 5]);
}
