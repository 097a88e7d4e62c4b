//! Time of segflow-expr's evaluation over 10^6 rows, per expression (median of 5 runs), on
//! generated retail-like data. `just bench-expressions` runs it beside pandas doing the same
//! computations (tests/bench/expression_speed.py); docs/decisions.md records the numbers.

use std::sync::Arc;
use std::time::Instant;

use arrow::array::{ArrayRef, Float64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use arrow::compute::filter_record_batch;
use arrow::datatypes::{Field, Schema};
use segflow_expr::{Expr, Type};

const ROWS: usize = 1_000_000;

/// The expressions timed, the same list as the pandas script's.
const EXPRESSIONS: &[&str] = &[
    "Quantity * UnitPrice",
    "NOT starts_with(InvoiceNo, 'C') AND CustomerID IS NOT NULL",
    "Quantity * UnitPrice >= 10 AND Country IN ('France', 'Germany', 'Spain')",
    "CASE WHEN Quantity < 0 THEN 'return' WHEN Quantity = 0 THEN 'none' ELSE 'sale' END",
    "round(Quantity * UnitPrice, 2)",
    "lower(Country)",
    "hour(InvoiceDate) BETWEEN 9 AND 17",
    "CAST(InvoiceNo AS DOUBLE)",
];

/// A small linear congruential generator: the data need only be reproducible.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

fn data() -> RecordBatch {
    let mut rng = Lcg(42);
    let countries = [
        "United Kingdom",
        "France",
        "Germany",
        "Spain",
        "EIRE",
        "Netherlands",
    ];
    let mut quantity = Vec::with_capacity(ROWS);
    let mut price = Vec::with_capacity(ROWS);
    let mut invoice = Vec::with_capacity(ROWS);
    let mut customer = Vec::with_capacity(ROWS);
    let mut country = Vec::with_capacity(ROWS);
    let mut date = Vec::with_capacity(ROWS);
    for i in 0..ROWS {
        let r = rng.next();
        let cancelled = r.is_multiple_of(50);
        let q = (r % 40) as f64 - if cancelled { 40.0 } else { 0.0 };
        quantity.push((!r.is_multiple_of(97)).then_some(q));
        price.push(Some((rng.next() % 2000) as f64 / 100.0));
        invoice.push(format!(
            "{}{}",
            if cancelled { "C" } else { "" },
            536365 + i / 20
        ));
        customer
            .push((!rng.next().is_multiple_of(5)).then_some(12346.0 + (rng.next() % 4000) as f64));
        country.push(countries[(rng.next() % 6) as usize]);
        date.push(Some(
            1_291_161_600_000_000 + (rng.next() % 31_536_000) as i64 * 1_000_000,
        ));
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Float64Array::from(quantity)),
        Arc::new(Float64Array::from(price)),
        Arc::new(StringArray::from(invoice)),
        Arc::new(Float64Array::from(customer)),
        Arc::new(StringArray::from(country)),
        Arc::new(TimestampMicrosecondArray::from(date)),
    ];
    let schema = Schema::new(
        columns_types()
            .iter()
            .map(|(name, ty)| Field::new(*name, ty.arrow(), true))
            .collect::<Vec<_>>(),
    );
    RecordBatch::try_new(Arc::new(schema), columns).unwrap()
}

fn columns_types() -> [(&'static str, Type); 6] {
    [
        ("Quantity", Type::Number),
        ("UnitPrice", Type::Number),
        ("InvoiceNo", Type::Text),
        ("CustomerID", Type::Number),
        ("Country", Type::Text),
        ("InvoiceDate", Type::Timestamp),
    ]
}

fn median_ms(mut run: impl FnMut()) -> f64 {
    let mut times: Vec<f64> = (0..5)
        .map(|_| {
            let start = Instant::now();
            run();
            start.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[2]
}

fn main() {
    let batch = data();
    println!("{:<90} {:>10}", format!("segflow-expr, {ROWS} rows"), "ms");
    for text in EXPRESSIONS {
        let expr = Expr::parse(text, &columns_types()).unwrap();
        let ms = if expr.output_type() == Type::Bool {
            // A condition is used as a filter: mask, then keep the rows.
            median_ms(|| {
                let mask = expr.mask(&batch).unwrap();
                filter_record_batch(&batch, &mask).unwrap();
            })
        } else {
            median_ms(|| {
                expr.eval(&batch).unwrap();
            })
        };
        println!("{text:<90} {ms:>10.2}");
    }
    let parse = median_ms(|| {
        for text in EXPRESSIONS {
            Expr::parse(text, &columns_types()).unwrap();
        }
    });
    println!("{:<90} {:>10.3}", "parsing all of the above", parse);
}
