//! segflow's row expressions rendered as SQL give, run in DuckDB, the values the independent
//! Python oracle computed, doubles bit for bit (tests/oracle/expressions.py over expressions_input.csv); the
//! constructs a dialect cannot compute the same way are refused, naming the key and the
//! construct.

use std::collections::BTreeMap;
use std::process::Command;

use segflow_expr::{Expr, Type};
use segflow_sql::Dialect;
use segflow_sql::expression::render;
use segflow_tests::{Scratch, repo_root};

const INPUT: &str = "tests/oracle/expressions_input.csv";
const EXPECTED: &str = "tests/oracle/expressions_expected.csv";

/// The input's column types, as the oracle script declares them.
fn column_type(name: &str) -> Type {
    match name {
        "Quantity" | "UnitPrice" | "Customer ID" => Type::Number,
        "InvoiceDate" => Type::Timestamp,
        "Returned" => Type::Bool,
        _ => Type::Text,
    }
}

fn columns() -> Vec<(String, Type)> {
    let mut reader = csv::Reader::from_path(repo_root().join(INPUT)).unwrap();
    reader
        .headers()
        .unwrap()
        .iter()
        .map(|h| (h.to_string(), column_type(h)))
        .collect()
}

/// (expression, type) in file order, and the expected value of each (expression, row).
fn expected() -> (Vec<(String, String)>, BTreeMap<(String, usize), String>) {
    let mut reader = csv::Reader::from_path(repo_root().join(EXPECTED)).unwrap();
    let mut order = Vec::new();
    let mut values = BTreeMap::new();
    for record in reader.records() {
        let r = record.unwrap();
        let (text, kind) = (r[0].to_string(), r[1].to_string());
        if !order.iter().any(|(t, _)| *t == text) {
            order.push((text.clone(), kind));
        }
        values.insert((text, r[2].parse().unwrap()), r[3].to_string());
    }
    (order, values)
}

/// Each expression rendered for `d`: its SQL, or the refusal's message.
fn rendered(d: Dialect) -> Vec<(String, String, Result<String, String>)> {
    let columns = columns();
    let quote = |name: &str| match d {
        Dialect::Spark => format!("`{name}`"),
        Dialect::Duckdb | Dialect::Postgres => format!("\"{name}\""),
    };
    expected()
        .0
        .into_iter()
        .map(|(text, kind)| {
            let expr = Expr::parse(&text, &columns).unwrap();
            let sql =
                render(d, "derive.x", expr.tree(), &|name| quote(name)).map_err(|e| e.to_string());
            (text, kind, sql)
        })
        .collect()
}

/// The expressions refused in every dialect, with what each message names.
const REFUSED_EVERYWHERE: [(&str, &str); 5] = [
    (
        "CAST(Quantity * UnitPrice AS VARCHAR)",
        "CAST of a number to text",
    ),
    ("CAST(UnitPrice / 7 AS TEXT)", "CAST of a number to text"),
    ("CAST(InvoiceDate AS TEXT)", "CAST of a timestamp to text"),
    ("lower(Description)", "lower() and upper()"),
    ("upper(Description)", "lower() and upper()"),
];

#[test]
fn constructs_without_the_same_semantics_are_refused_per_dialect() {
    for d in Dialect::ALL {
        let mut refused: Vec<(String, String)> = rendered(d)
            .into_iter()
            .filter_map(|(text, _, sql)| sql.err().map(|e| (text, e)))
            .collect();
        if d == Dialect::Postgres {
            let at = refused
                .iter()
                .position(|(t, _)| t == "Quantity % UnitPrice")
                .expect("PostgreSQL refuses % of doubles");
            let (_, message) = refused.remove(at);
            assert!(
                message.contains("derive.x: `%` of numbers is not rendered in postgres SQL"),
                "{message}"
            );
        }
        assert_eq!(refused.len(), REFUSED_EVERYWHERE.len(), "{d}: {refused:?}");
        for ((text, message), (want, what)) in refused.iter().zip(REFUSED_EVERYWHERE) {
            assert_eq!(text, want, "{d}");
            assert!(
                message.contains(&format!("derive.x: {what} is not rendered in {d} SQL: ")),
                "{message}"
            );
        }
    }
}

#[test]
fn expressions_in_duckdb_give_the_oracles_values() {
    let available = Command::new("python3")
        .args(["-c", "import duckdb"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !available {
        let msg = "DuckDB is not installed (pip install -r tests/engines/requirements.txt)";
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{msg}");
        eprintln!("skipped: {msg}");
        return;
    }
    let scratch = Scratch::new("sql-expressions");
    let queries: Vec<serde_json::Value> = rendered(Dialect::Duckdb)
        .into_iter()
        .filter_map(|(text, kind, sql)| {
            let sql = sql.ok()?;
            Some(serde_json::json!({"expression": text, "type": kind, "sql": sql}))
        })
        .collect();
    let queries_file = scratch.path().join("queries.json");
    std::fs::write(&queries_file, serde_json::to_string(&queries).unwrap()).unwrap();
    let out_file = scratch.path().join("values.csv");
    let out = Command::new("python3")
        .arg(repo_root().join("tests/engines/expressions_run.py"))
        .arg("duckdb")
        .arg(repo_root().join(INPUT))
        .arg(&queries_file)
        .arg(&out_file)
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (_, expected) = expected();
    let mut reader = csv::Reader::from_path(&out_file).unwrap();
    let mut checked = 0;
    let mut wrong = Vec::new();
    for record in reader.records() {
        let r = record.unwrap();
        let key = (r[0].to_string(), r[2].parse::<usize>().unwrap());
        let want = &expected[&key];
        // Doubles as their shortest round-trip text: equal text, equal bits.
        if &r[3] != want {
            wrong.push(format!(
                "{} row {}: DuckDB {} ≠ {want}",
                key.0, key.1, &r[3]
            ));
        }
        checked += 1;
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // Every expression but the five refused ones, over the 20 rows of the input.
    assert_eq!(checked, (queries.len()) * 20);
    assert_eq!(queries.len() + REFUSED_EVERYWHERE.len(), 63);
}
