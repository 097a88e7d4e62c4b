//! The features stage over an events artifact with columns of every type and nulls, against
//! pandas (tests/oracle/features_any_column.py): `of:` and `where:` on every aggregation,
//! std, mode, distinct, gaps, min_events; and the config errors of features naming columns
//! the events cannot give.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringArray, UInt64Array};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type, Int64Type, TimeUnit};
use segflow_core::artifact::{Provenance, read_parquet, write_parquet};
use segflow_tests::*;

fn oracle(file: &str) -> PathBuf {
    repo_root().join("tests/oracle").join(file)
}

/// The oracle's events CSV written as the events artifact ingest would write: typed
/// columns (blank = null), then `source_line`.
fn write_events(dir: &Path) -> PathBuf {
    let (header, records) = read_csv(&oracle("features_any_column_events.csv"));
    let types = [
        ("contact_id", DataType::Utf8),
        ("ts", DataType::Timestamp(TimeUnit::Microsecond, None)),
        ("value", DataType::Float64),
        ("category", DataType::Utf8),
        ("duration", DataType::Float64),
        ("rate", DataType::Float64),
        ("answered", DataType::Boolean),
        ("country", DataType::Utf8),
        ("callee", DataType::Utf8),
        ("source", DataType::Utf8),
        ("day", DataType::Timestamp(TimeUnit::Microsecond, None)),
    ];
    let mut columns: Vec<(&str, ArrayRef)> = types
        .iter()
        .map(|(name, data_type)| {
            let at = csv_position(&header, name);
            let text: StringArray = records
                .iter()
                .map(|r| Some(&r[at]).filter(|v| !v.is_empty()))
                .collect();
            let array = cast(&text, data_type).unwrap();
            assert_eq!(array.null_count(), text.null_count(), "{name} parses");
            (*name, array)
        })
        .collect();
    columns.push((
        "source_line",
        Arc::new(UInt64Array::from_iter_values(2..records.len() as u64 + 2)),
    ));
    let batch = segflow_core::artifact::batch(columns).unwrap();
    let path = dir.join("events.parquet");
    let provenance = Provenance {
        stage: "ingest".into(),
        params_hash: "test".into(),
        params: "{}".into(),
        input_hashes: Default::default(),
        seed: 0,
    };
    write_parquet(&path, &batch, "events", &provenance, &[]).unwrap();
    path
}

/// Runs the features stage on `events` with `params` (YAML text) into `dir/out`.
fn features(dir: &Path, events: &Path, params: &str) -> (std::process::Output, PathBuf) {
    let params_file = dir.join("features.yaml");
    std::fs::write(&params_file, params).unwrap();
    let out = dir.join("out");
    let o = run_stage(
        "features",
        events.to_str().unwrap(),
        &out,
        params_file.to_str().unwrap(),
    );
    (o, out)
}

/// Every value of `batch` against the oracle CSV `file`, column by column: integers, text,
/// flags and timestamps exactly, floats within `tolerance(column)` relative.
fn compare(batch: &RecordBatch, file: &str, tolerance: impl Fn(&str) -> f64) -> usize {
    let (header, records) = read_csv(&oracle(file));
    let names: Vec<&str> = batch
        .schema_ref()
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect::<Vec<_>>();
    assert_eq!(
        names,
        header.iter().collect::<Vec<_>>(),
        "columns of {file}"
    );
    assert_eq!(batch.num_rows(), records.len(), "rows of {file}");
    let mut compared = 0;
    for (c, name) in names.iter().enumerate() {
        let column = batch.column(c);
        for (r, record) in records.iter().enumerate() {
            let want = &record[c];
            let id = &record[0];
            if want.is_empty() {
                assert!(
                    column.is_null(r),
                    "{name} of {id}: want null, got {}",
                    cell(column, r)
                );
                compared += 1;
                continue;
            }
            assert!(column.is_valid(r), "{name} of {id}: want {want}, got null");
            match column.data_type() {
                DataType::Float64 => {
                    let got = column.as_primitive::<Float64Type>().value(r);
                    let want: f64 = want.parse().unwrap();
                    let bound = tolerance(name) * want.abs();
                    assert!(
                        (got - want).abs() <= bound,
                        "{name} of {id}: segflow {got:e} vs pandas {want:e}"
                    );
                }
                DataType::Int64 => assert_eq!(
                    column.as_primitive::<Int64Type>().value(r),
                    want.parse::<i64>().unwrap(),
                    "{name} of {id}"
                ),
                _ => assert_eq!(&cell(column, r), want, "{name} of {id}"),
            }
            compared += 1;
        }
    }
    compared
}

#[test]
fn every_aggregation_over_any_column_matches_pandas() {
    let scratch = Scratch::new("features-any-column");
    let events = write_events(scratch.path());
    let params = std::fs::read_to_string(oracle("features_any_column.yaml")).unwrap();
    let (o, out) = features(scratch.path(), &events, &params);
    assert!(o.status.success(), "{}", stderr(&o));

    let features = read_parquet(&out.join("features.parquet")).unwrap();
    // Sums and means in event order against pandas' compensated sums, the sample deviation
    // (corrected two-pass) against pandas' Welford updates: a few ulp apart, so within 1e-12
    // relative (and a zero deviation exactly zero). Everything else takes the same operations
    // in the same order as pandas (order statistics, extremes, shares, day counts and gaps)
    // and must agree exactly.
    let summed = |name: &str| {
        ["total_", "mean_value", "mean_rate", "sd_"]
            .iter()
            .any(|p| name.starts_with(p))
    };
    let compared = compare(&features.batch, "features_any_column.csv", |name| {
        if summed(name) { 1e-12 } else { 0.0 }
    });
    assert_eq!(
        compared,
        64 * 49,
        "64 contacts × (contact_id and 48 feature columns)"
    );
    assert_eq!(features.meta("segflow.excluded_contacts"), Some("6"));

    let excluded = read_parquet(&out.join("excluded.parquet")).unwrap();
    compare(&excluded.batch, "features_any_column_excluded.csv", |_| 0.0);
}

/// Features params of one block `b` (a model block) holding `features` (YAML flow mapping
/// entries), plus `extra` top-level lines.
fn one_block(features: &str, extra: &str) -> String {
    format!("blocks:\n  b: {{{features}}}\nmodel_blocks: [b]\n{extra}")
}

/// Runs features with `params` on the oracle events, expecting exit `code`, every `needle`
/// in the message, and no output directory.
fn fails(case: &str, params: &str, code: i32, needles: &[&str]) {
    let scratch = Scratch::new(&format!("features-error-{case}"));
    let events = write_events(scratch.path());
    let (o, out) = features(scratch.path(), &events, params);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(code), "{case}: {err}");
    for needle in needles {
        assert!(err.contains(needle), "{case}: no `{needle}` in {err}");
    }
    assert!(!out.exists(), "{case}: output left behind");
}

#[test]
fn a_column_features_cannot_read_is_a_config_error_naming_key_and_column() {
    let listed = "the events have: ts (timestamp), value (number), category (text), \
                  duration (number), rate (number), answered (boolean), country (text), \
                  callee (text), source (text), day (timestamp)";
    fails(
        "missing-of",
        &one_block("n: count, s: {sum: {of: duraton}}", ""),
        78,
        &[
            "blocks.b.s.of",
            "`duraton` is not a column of the events",
            listed,
        ],
    );
    fails(
        "text-of",
        &one_block("q: {quantile: {q: 0.5, of: country}}", ""),
        78,
        &[
            "blocks.b.q.of",
            "`country` is a text column",
            "needs numbers",
            listed,
        ],
    );
    fails(
        "flag-share",
        &one_block("s: {share: {value_ge: 1, of: answered}}", ""),
        78,
        &["blocks.b.s.of", "`answered` is a boolean column"],
    );
    fails(
        "missing-distinct",
        &one_block("n: {distinct: calee}", ""),
        78,
        &[
            "blocks.b.n.of",
            "`calee` is not a column of the events",
            listed,
        ],
    );
    fails(
        "bookkeeping",
        &one_block("n: {distinct: source_line}", ""),
        78,
        &[
            "blocks.b.n.of",
            "`source_line` is not a column of the events",
        ],
    );
    fails(
        "mode-in-model-block",
        &one_block("n: count, top: {mode: country}", ""),
        78,
        &[
            "blocks.b.top",
            "a mode is a label, not a model input",
            "model_blocks",
        ],
    );
    fails(
        "of-on-a-count",
        &one_block("n: {count: {of: value}}", ""),
        78,
        &["blocks.b.n.count", "unknown field `of`"],
    );
    fails(
        "two-share-conditions",
        &one_block("s: {share: {value_ge: 1, hour_in: [8, 17]}}", ""),
        78,
        &["blocks.b.s.share", "exactly one condition"],
    );
    fails(
        "min-events-zero",
        &one_block("n: count", "min_events: 0"),
        78,
        &["min_events", "at least 1"],
    );
}

#[test]
fn min_events_excluding_every_contact_is_a_data_error_and_writes_nothing() {
    // The oracle log's largest contact has 40 events at most.
    fails(
        "everyone-excluded",
        &one_block("n: count", "min_events: 41"),
        65,
        &["every contact has fewer than 41 events", "lower min_events"],
    );
}

/// The values of a Float64 column, nulls as None.
fn floats(artifact: &segflow_core::artifact::Artifact, name: &str) -> Vec<Option<f64>> {
    artifact
        .column(name)
        .unwrap()
        .as_primitive::<Float64Type>()
        .iter()
        .collect()
}

/// numpy's median of sorted values.
fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

#[test]
fn null_features_are_imputed_by_preprocess_and_min_events_lists_who_is_left_out() {
    let scratch = Scratch::new("features-nulls-preprocess");
    let pipeline = isolated_pipeline("walsoft", scratch.path(), |doc| {
        stop_after(doc, "preprocess");
        let features = &mut doc["stages"]["features"];
        features["min_events"] = 2.into();
        let duration = &mut features["blocks"]["duration"];
        // Null for a contact with calls on one day only.
        duration["gap_days"] = yaml_serde::from_str("mean_gap_days").unwrap();
        duration["median_gap_days"] = yaml_serde::from_str("median_gap_days").unwrap();
    });
    let o = segflow(&["run", pipeline.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let run = scratch.path().join("run");

    // Contacts with one call, counted from the events themselves.
    let events = read_parquet(&run.join("ingest/events.parquet")).unwrap();
    let mut calls: std::collections::BTreeMap<&str, i64> = Default::default();
    for id in events
        .column("contact_id")
        .unwrap()
        .as_string::<i32>()
        .iter()
    {
        *calls.entry(id.unwrap()).or_default() += 1;
    }
    let once: Vec<&str> = calls
        .iter()
        .filter(|(_, n)| **n < 2)
        .map(|(id, _)| *id)
        .collect();
    assert!(!once.is_empty());
    let excluded = read_parquet(&run.join("features/excluded.parquet")).unwrap();
    let listed: Vec<&str> = excluded
        .column("contact_id")
        .unwrap()
        .as_string::<i32>()
        .iter()
        .map(Option::unwrap)
        .collect();
    assert_eq!(listed, once);
    let reasons = excluded.column("reason").unwrap().as_string::<i32>();
    assert!(reasons.iter().all(|r| r == Some("fewer than 2 events")));
    let features = read_parquet(&run.join("features/features.parquet")).unwrap();
    assert_eq!(features.batch.num_rows(), calls.len() - once.len());
    assert_eq!(
        features.meta("segflow.excluded_contacts"),
        Some(once.len().to_string().as_str())
    );

    let matrix = read_parquet(&run.join("preprocess/matrix.parquet")).unwrap();
    let transform = read_parquet(&run.join("preprocess/transform.parquet")).unwrap();
    let names = transform.column("column").unwrap().as_string::<i32>();
    for column in ["gap_days", "median_gap_days"] {
        let raw = floats(&features, column);
        let missing: Vec<usize> = (0..raw.len()).filter(|&r| raw[r].is_none()).collect();
        assert!(!missing.is_empty(), "{column} has nulls");
        let t = names.iter().position(|n| n == Some(column)).unwrap();
        let param = |p: &str| floats(&transform, p)[t].unwrap();
        // The median of the clipped non-null values, as a table's blanks are imputed.
        let (lo, hi) = (param("clip_low"), param("clip_high"));
        let mut clipped: Vec<f64> = raw.iter().flatten().map(|x| x.clamp(lo, hi)).collect();
        clipped.sort_by(f64::total_cmp);
        assert_eq!(param("impute_value"), median(&clipped), "{column}");
        let scaled = ((median(&clipped) - param("center")) / param("scale"))
            .clamp(-param("cap"), param("cap"));
        let matrix_column = floats(&matrix, column);
        assert!(matrix_column.iter().all(|x| x.is_some_and(f64::is_finite)));
        for r in missing {
            assert_eq!(matrix_column[r], Some(scaled), "{column} row {r}");
        }
    }
}

#[test]
fn a_bad_where_is_a_config_error_naming_the_key_and_the_position() {
    let cases = [
        // (case, condition, where and what the message says)
        ("syntax", "duration >= (1", "at column 15: Expected: )"),
        (
            "unknown-column",
            "duration > 0 AND contry = 'NL'",
            "at column 18: unknown column `contry` (did you mean `country`?)",
        ),
        (
            "type-mismatch",
            "duration >= 'long'",
            "at column 13: `>=` compares values",
        ),
        (
            "bad-date",
            "answered AND ts > 'yesterday'",
            "at column 19: 'yesterday'",
        ),
        (
            "unsupported",
            "duration > 0 AND max(rate) > 1",
            "at column 18: `max` is an aggregate function",
        ),
        (
            "not-a-condition",
            "duration + 1",
            "at column 1: a condition is true or false, and `duration + 1` is a number",
        ),
        (
            "bookkeeping",
            "source_line > 3",
            "unknown column `source_line`",
        ),
    ];
    for (case, condition, needle) in cases {
        fails(
            &format!("where-{case}"),
            &one_block(
                &format!("n: count, m: {{mean: {{where: \"{condition}\"}}}}"),
                "",
            ),
            78,
            &["blocks.b.m.where", needle],
        );
    }
    fails(
        "share-where",
        &one_block("s: {share: {where: \"answerd\"}}", ""),
        78,
        &[
            "blocks.b.s.where",
            "at column 1",
            "unknown column `answerd`",
        ],
    );
}
