//! Each error kind, with the position of the sub-expression at fault.

use super::*;

#[test]
fn syntax_errors() {
    error("Quantity +", ErrorKind::Syntax, 11);
    error("(Quantity + 1", ErrorKind::Syntax, 14);
    error("Quantity 1", ErrorKind::Syntax, 10);
    error("Quantity > 0 ;", ErrorKind::Syntax, 14);
    error("'unterminated", ErrorKind::Syntax, 1);
    error("   ", ErrorKind::Syntax, 1);
    error("1e999 > Quantity", ErrorKind::Syntax, 1);
    let e = error("InvoiceNo LIKE 'C\\'", ErrorKind::Syntax, 16);
    assert!(e.message.contains("escapes nothing"), "{e}");
}

#[test]
fn unknown_columns_suggest_a_near_name() {
    let e = error("Quantityy * UnitPrice", ErrorKind::UnknownColumn, 1);
    assert_eq!(
        e.to_string(),
        "at column 1: unknown column `Quantityy` (did you mean `Quantity`?)"
    );
    let e = error("Quantity * UnitPrise", ErrorKind::UnknownColumn, 12);
    assert!(e.message.ends_with("(did you mean `UnitPrice`?)"), "{e}");
    let e = error("CustomerID IS NOT NULL", ErrorKind::UnknownColumn, 1);
    assert_eq!(e.message, "unknown column `CustomerID`");
    let e = error("\"Unit Prices\" > 0", ErrorKind::UnknownColumn, 1);
    assert!(e.message.contains("did you mean `Unit Price`"), "{e}");
    let columns = [("a", Type::Number), ("A", Type::Number)];
    let e = Expr::parse("1 + \"a \"", &columns).unwrap_err();
    assert_eq!(e.kind, ErrorKind::UnknownColumn);
    let columns = [("Ab", Type::Number), ("aB", Type::Number)];
    let e = Expr::parse("1 + ab", &columns).unwrap_err();
    assert_eq!((e.kind, e.column), (ErrorKind::UnknownColumn, 5));
    assert!(e.message.contains("`Ab`, `aB`"), "{e}");
}

#[test]
fn type_mismatches_point_at_the_operand() {
    let e = error("Quantity * InvoiceNo", ErrorKind::TypeMismatch, 12);
    assert_eq!(e.message, "`*` needs a number, but `InvoiceNo` is text");
    error("ok + 1", ErrorKind::TypeMismatch, 1);
    error("-InvoiceNo", ErrorKind::TypeMismatch, 2);
    error("Quantity = 'C'", ErrorKind::TypeMismatch, 12);
    error("Quantity AND ok", ErrorKind::TypeMismatch, 1);
    error("NOT Quantity", ErrorKind::TypeMismatch, 5);
    error("ts > InvoiceNo", ErrorKind::TypeMismatch, 6);
    let e = error("ts >= '2024-02-30'", ErrorKind::TypeMismatch, 7);
    assert!(e.message.contains("'YYYY-MM-DD'"), "{e}");
    error("Quantity IN (1, 'a')", ErrorKind::TypeMismatch, 17);
    error("Quantity BETWEEN 1 AND ok", ErrorKind::TypeMismatch, 24);
    error("InvoiceNo LIKE 5", ErrorKind::Unsupported, 16);
    error("Quantity LIKE 'a'", ErrorKind::TypeMismatch, 1);
    error("CASE WHEN Quantity THEN 1 END", ErrorKind::TypeMismatch, 11);
    let e = error(
        "CASE WHEN ok THEN 1 ELSE 'x' END",
        ErrorKind::TypeMismatch,
        26,
    );
    assert!(e.message.contains("one type"), "{e}");
    error(
        "CASE Quantity WHEN 'a' THEN 1 END",
        ErrorKind::TypeMismatch,
        20,
    );
    error("COALESCE(Quantity, InvoiceNo)", ErrorKind::TypeMismatch, 20);
    error("CAST(ts AS DOUBLE)", ErrorKind::TypeMismatch, 6);
    error("ln(InvoiceNo)", ErrorKind::TypeMismatch, 4);
    error("hour(Quantity)", ErrorKind::TypeMismatch, 6);
    error("starts_with(InvoiceNo, 1)", ErrorKind::TypeMismatch, 24);
    let e = error("abs(Quantity, 2)", ErrorKind::TypeMismatch, 1);
    assert_eq!(e.message, "`abs` takes 1 argument, but 2 are given");
    error("round(Quantity, 1, 2)", ErrorKind::TypeMismatch, 1);
    error("1 + floor(Quantity, 2)", ErrorKind::TypeMismatch, 11);
    error("round(Quantity, UnitPrice)", ErrorKind::TypeMismatch, 17);
    error("round(Quantity, 1.5)", ErrorKind::TypeMismatch, 17);
    error("COALESCE()", ErrorKind::TypeMismatch, 1);
    let e = error("NULL", ErrorKind::TypeMismatch, 1);
    assert!(e.message.contains("CAST(NULL AS DOUBLE)"), "{e}");
    error("CASE WHEN ok THEN NULL END", ErrorKind::TypeMismatch, 1);
}

#[test]
fn constructs_outside_the_language_are_unsupported() {
    let cases = [
        ("Quantity IN (SELECT 1)", 1, "subqueries"),
        ("EXISTS (SELECT 1)", 9, "subqueries"),
        ("sum(Quantity) > 0", 1, "aggregate"),
        ("count(*)", 1, "aggregate"),
        ("row_number() OVER (ORDER BY Quantity)", 1, "window"),
        ("foo(Quantity)", 1, "unknown function `foo`"),
        ("lenght(InvoiceNo)", 1, "did you mean `length`?"),
        ("InvoiceNo || 'x'", 1, "`||`"),
        ("InvoiceNo ILIKE 'c%'", 1, "ILIKE"),
        ("InvoiceNo LIKE 'a' ESCAPE '!'", 1, "ESCAPE"),
        ("CAST(Quantity AS DATE)", 6, "CAST to DATE"),
        ("CAST(Quantity AS VARCHAR(10))", 6, "CAST to VARCHAR(10)"),
        ("TRY_CAST(InvoiceNo AS DOUBLE)", 10, "TRY_CAST"),
        ("t.Quantity > 0", 1, "qualified"),
        ("ts > TIMESTAMP '2024-01-01 00:00:00'", 16, "typed literals"),
        ("EXTRACT(HOUR FROM ts)", 19, "EXTRACT"),
        ("ok IS TRUE", 1, "IS TRUE"),
        ("Quantity IS DISTINCT FROM 1", 1, "IS DISTINCT FROM"),
        ("Quantity > 0 AND x'ff' = 1", 18, "literal"),
        ("count(DISTINCT Quantity)", 1, "aggregate"),
        ("abs(DISTINCT Quantity)", 1, "plain arguments"),
    ];
    let wrong: Vec<String> = cases
        .iter()
        .filter_map(|(text, column, words)| match Expr::parse(text, COLUMNS) {
            Err(e)
                if e.kind == ErrorKind::Unsupported
                    && e.column == *column
                    && e.message.contains(words) =>
            {
                None
            }
            outcome => Some(format!("{text}: {outcome:?}")),
        })
        .collect();
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn deep_nesting_is_refused_without_overflowing_the_stack() {
    let deep = format!("{}1{}", "(".repeat(200), ")".repeat(200));
    error(&deep, ErrorKind::Unsupported, 1);
    // The longest chain parsed (1000 operators) is refused for its depth; walking and
    // dropping its parse tree must not overflow a test thread's stack either.
    let chain = vec!["1"; 1001].join("+");
    let e = error(&chain, ErrorKind::Unsupported, 1);
    assert!(e.message.contains("256 levels"), "{e}");
    let e = error(&format!("{chain}+1"), ErrorKind::Unsupported, 1);
    assert!(e.message.contains("too long"), "{e}");
    let chain = vec!["Quantity = 1"; 200].join(" OR ");
    assert_eq!(bools(&chain)[0], Some(false));
    let list = vec!["1"; 5000].join(", ");
    assert_eq!(bools(&format!("Quantity IN ({list})"))[0], Some(false));
}

#[test]
fn positions_name_the_line_in_multi_line_text() {
    let e = error(
        "Quantity > 0\n  AND Quantityy < 5",
        ErrorKind::UnknownColumn,
        7,
    );
    assert_eq!(e.line, 2);
    assert_eq!(
        e.to_string(),
        "at line 2, column 7: unknown column `Quantityy` (did you mean `Quantity`?)"
    );
    // A trailing newline (YAML block scalars) is not a second line.
    let e = error("Quantityy > 0\n", ErrorKind::UnknownColumn, 1);
    assert_eq!(
        e.to_string(),
        "at column 1: unknown column `Quantityy` (did you mean `Quantity`?)"
    );
}

#[test]
fn evaluation_errors_name_the_column() {
    let e = parse("UnitPrice * 2 + Quantity");
    let err = e.eval(&batch().project(&[1]).unwrap()).unwrap_err();
    assert_eq!((err.kind, err.column), (ErrorKind::Evaluation, 17));
    assert_eq!(err.message, "the batch has no column `Quantity`");
    let other = Expr::parse("InvoiceNo = 'x'", &[("InvoiceNo", Type::Text)]).unwrap();
    let schema = Schema::new(vec![Field::new("InvoiceNo", Type::Number.arrow(), true)]);
    let wrong = RecordBatch::try_new(Arc::new(schema), vec![batch().column(0).clone()]).unwrap();
    let err = other.eval(&wrong).unwrap_err();
    assert_eq!((err.kind, err.column), (ErrorKind::Evaluation, 1));
    assert!(err.message.contains("stored as Float64"), "{err}");
    let err = parse("Quantity + 1").mask(&batch()).unwrap_err();
    assert_eq!(err.kind, ErrorKind::TypeMismatch);
}
