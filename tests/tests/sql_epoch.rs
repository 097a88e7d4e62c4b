//! `segflow sql features` reads epoch-count timestamps (`unix_seconds`, `unix_millis`,
//! `seconds_since` an origin) as ingest reads them: signs, fractions rounded at the
//! microsecond, leading zeros, whitespace, and rejects, checked in every engine
//! present (DuckDB and PostgreSQL; Spark with `SEGFLOW_ENGINES`) against segflow's features
//! artifact.

use segflow_tests::engines::{Input, engines};
use segflow_tests::{Scratch, segflow, stderr};

const FEATURES: &str = "  features:\n    needs: [ingest]\n    as_of: latest_event\n    blocks:\n      \
     b:\n        n: count\n        days: distinct_days\n        total: sum\n        \
     first: first_ts\n        last: last_ts\n        tenure: tenure_days\n        \
     rec: recency_days\n        late: {share: {hour_in: [21, 23]}}\n        \
     sun: {share: {weekday_in: [sun]}}\n    model_blocks: [b]\n";

/// Runs ingest and features on `counts` (contact, count) read with `formats`, and the query in
/// every engine present on the same log; each engine's comparison verdict.
fn check(name: &str, formats: &str, counts: &[(&str, &str)]) -> Vec<(&'static str, String)> {
    let scratch = Scratch::new(&format!("sql-epoch-{name}"));
    let log = scratch.path().join("log.csv");
    let mut text = String::from("id,at,secs\n");
    for (i, (id, at)) in counts.iter().enumerate() {
        text.push_str(&format!("{id},\"{at}\",{}\n", i + 1));
    }
    std::fs::write(&log, text).unwrap();
    let pipeline = scratch.path().join("p.yaml");
    std::fs::write(
        &pipeline,
        format!(
            "pipeline: epoch\nrun_dir: {run}\nstages:\n  ingest:\n    input: {log}\n    \
             mode: events\n    columns: {{contact: id, timestamp: at, value: secs}}\n    \
             formats: {formats}\n    max_reject_fraction: 1\n{FEATURES}",
            run = scratch.path().join("run").display(),
            log = log.display(),
        ),
    )
    .unwrap();
    let p = pipeline.to_str().unwrap();
    for stage in ["ingest", "features"] {
        let out = segflow(&["run", p, "--only", stage]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let features = scratch.path().join("run/features/features.parquet");
    let input = Input {
        table: "events",
        path: &log,
        drop: None,
    };
    engines()
        .iter()
        .map(|engine| {
            let verdict = engine
                .features_match(
                    &pipeline,
                    None,
                    std::slice::from_ref(&input),
                    &features,
                    scratch.path(),
                )
                .unwrap_or_else(|e| panic!("{}: {e}", engine.name()));
            (engine.name(), verdict)
        })
        .collect()
}

#[test]
fn unix_seconds_and_millis_are_read_as_ingest_reads_them() {
    let seconds = [
        ("a", "1641052981.25"),
        ("a", "1641052981.0000005"),
        ("a", "1641052981.00000049"),
        ("a", " 00001641139381 "),
        ("a", "+1641225781."),
        ("b", "-86399.9999995"),
        ("b", "-0.0000005"),
        ("b", ".5"),
        ("b", "1641052981.1234567891"),
        // Rejects: an exponent, no digits, a blank, text, a count past chrono's calendar.
        ("c", "1e9"),
        ("c", "."),
        ("c", "-"),
        ("c", "abc"),
        ("c", "8210266876800"),
        ("c", "99999999999999999999999"),
        ("c", "2024-01-01 10:00:00"),
    ];
    let verdicts = check("seconds", "{timestamp: [unix_seconds]}", &seconds);
    for (engine, verdict) in verdicts {
        assert!(
            verdict.starts_with("same: 2 rows, 10 columns"),
            "{engine}: {verdict}"
        );
    }
    // Milliseconds, falling back to a date format for the text that is not a count.
    let millis = [
        ("a", "1641052981250"),
        ("a", "1641052981250.5"),
        ("a", "1641052981250.4999"),
        ("a", "2024-01-01 10:00:00"),
        ("b", "-1"),
        ("b", "0.0005"),
        ("b", "1e3"),
    ];
    let verdicts = check(
        "millis",
        "{timestamp: [unix_millis, \"%Y-%m-%d %H:%M:%S\"]}",
        &millis,
    );
    for (engine, verdict) in verdicts {
        assert!(
            verdict.starts_with("same: 2 rows, 10 columns"),
            "{engine}: {verdict}"
        );
    }
}

#[test]
fn seconds_since_an_origin_are_read_as_ingest_reads_them() {
    let counts = [
        ("a", "0"),
        ("a", "86400.5"),
        ("a", "-3600"),
        ("b", "31536000"),
        ("b", "12.0000015"),
        ("b", "x"),
    ];
    let verdicts = check(
        "since",
        "{timestamp: [seconds_since], origin: \"2024-01-01 00:00:00\"}",
        &counts,
    );
    for (engine, verdict) in verdicts {
        assert!(
            verdict.starts_with("same: 2 rows, 10 columns"),
            "{engine}: {verdict}"
        );
    }
}
