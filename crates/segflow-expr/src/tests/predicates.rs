//! IS NULL, IN, BETWEEN and LIKE.

use super::*;

#[test]
fn is_null_on_every_type() {
    assert_eq!(
        bools("Quantity IS NULL"),
        vec![
            Some(false),
            Some(false),
            Some(false),
            Some(true),
            Some(false)
        ]
    );
    assert_eq!(
        bools("InvoiceNo IS NOT NULL"),
        vec![Some(true), Some(true), Some(true), Some(false), Some(true)]
    );
    assert_eq!(bools("ok IS NULL")[2], Some(true));
    assert_eq!(bools("ts IS NULL")[2], Some(true));
    assert_eq!(bools("NULL IS NULL"), vec![Some(true); 5]);
    assert_eq!(bools("Quantity / 0 IS NULL"), vec![Some(true); 5]);
}

#[test]
fn in_lists_with_sql_null_semantics() {
    assert_eq!(
        bools("Quantity IN (6, 0)"),
        vec![Some(true), Some(false), Some(true), None, Some(false)]
    );
    assert_eq!(
        bools("Quantity NOT IN (6, 0)"),
        vec![Some(false), Some(true), Some(false), None, Some(true)]
    );
    // No match and a NULL in the list: unknown.
    assert_eq!(
        bools("Quantity IN (6, NULL)"),
        vec![Some(true), None, None, None, None]
    );
    assert_eq!(
        bools("Quantity NOT IN (6, NULL)"),
        vec![Some(false), None, None, None, None]
    );
    assert_eq!(
        bools("InvoiceNo IN ('C', '536365')"),
        vec![Some(true), Some(false), Some(true), None, Some(false)]
    );
    assert_eq!(
        bools("ts IN ('2024-01-07', '1999-01-01')"),
        vec![Some(false), Some(false), None, Some(false), Some(true)]
    );
    assert_eq!(bools("Quantity IN (-2)")[1], Some(true));
}

#[test]
fn between_is_inclusive() {
    assert_eq!(
        bools("Quantity BETWEEN 0 AND 6"),
        vec![Some(true), Some(false), Some(true), None, Some(false)]
    );
    assert_eq!(
        bools("Quantity NOT BETWEEN 0 AND 6"),
        vec![Some(false), Some(true), Some(false), None, Some(true)]
    );
    // A NULL bound leaves only the rows the other bound decides.
    assert_eq!(
        bools("Quantity BETWEEN NULL AND 1"),
        vec![Some(false), None, None, None, Some(false)]
    );
    assert_eq!(
        bools("ts BETWEEN '2024-01-01' AND '2024-01-06 23:59:59'"),
        vec![Some(true), Some(true), None, Some(false), Some(false)]
    );
    assert_eq!(
        bools("InvoiceNo BETWEEN 'C' AND 'D'"),
        vec![Some(false), Some(true), Some(true), None, Some(false)]
    );
}

#[test]
fn like_with_percent_underscore_and_backslash() {
    assert_eq!(
        bools("InvoiceNo LIKE 'C%'"),
        vec![Some(false), Some(true), Some(true), None, Some(false)]
    );
    assert_eq!(
        bools("InvoiceNo NOT LIKE 'C%'"),
        vec![Some(true), Some(false), Some(false), None, Some(true)]
    );
    assert_eq!(
        bools("InvoiceNo LIKE 'C_'"),
        vec![Some(false), Some(false), Some(false), None, Some(false)]
    );
    // `_` is one character, not one byte.
    assert_eq!(bools("InvoiceNo LIKE 'Stra_e%'")[4], Some(true));
    assert_eq!(bools("InvoiceNo LIKE '%ΣΑΣ'")[4], Some(true));
    assert_eq!(bools("InvoiceNo LIKE '5%6_'")[0], Some(true));
    // Case matters; the whole text must match.
    assert_eq!(bools("InvoiceNo LIKE 'c%'")[1], Some(false));
    assert_eq!(bools("InvoiceNo LIKE '5363'")[0], Some(false));
    // Backslash escapes a wildcard.
    assert_eq!(bools("'50%' LIKE '50\\%'"), vec![Some(true); 5]);
    assert_eq!(bools("'500' LIKE '50\\%'"), vec![Some(false); 5]);
    assert_eq!(bools("'a.c' LIKE 'a.c'"), vec![Some(true); 5]);
    assert_eq!(bools("'abc' LIKE 'a.c'"), vec![Some(false); 5]);
    assert_eq!(bools("'a\\b' LIKE 'a\\\\b'"), vec![Some(true); 5]);
}
