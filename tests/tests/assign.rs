//! `segflow assign` as an analyst relies on it: the new records' time window compared with
//! training's, the reject bar overridable, errors naming the user's file, and `--explain`'s
//! contributions (a property, the numpy oracle of `tests/oracle/explain.py`, and the scored
//! output of a real run).

use std::path::{Path, PathBuf};

use arrow::array::AsArray;
use arrow::datatypes::Float64Type;
use ndarray::Array2;
use proptest::prelude::*;
use segflow_core::artifact::read_parquet;
use segflow_fit::explain::{explain, strongest};
use segflow_tests::*;

const CALLS: &str = "tests/oracle/calllog/calls.csv";

/// fit's words for `n_calls`, which the explanations use.
const WORDS: &str = "features: {n_calls: {label: calls, low: few calls, high: many calls}}";

/// The call log's lines whose offset lies in the first half of its time span, header kept.
fn first_half(scratch: &Path) -> PathBuf {
    let text = std::fs::read_to_string(repo_root().join(CALLS)).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let rows: Vec<&str> = lines.collect();
    let offset = |l: &str| l.split(',').nth(2).unwrap().parse::<f64>().unwrap();
    let (lo, hi) = rows
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), l| {
            (lo.min(offset(l)), hi.max(offset(l)))
        });
    let half: Vec<&str> = rows
        .iter()
        .copied()
        .filter(|l| offset(l) <= lo + (hi - lo) / 2.0)
        .collect();
    let path = scratch.join("half.csv");
    std::fs::write(&path, format!("{header}\n{}\n", half.join("\n"))).unwrap();
    path
}

fn assign(run: &Path, input: &Path, output: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "assign",
        "--model",
        run.to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
        "--output",
        output.to_str().unwrap(),
    ];
    args.extend(extra);
    segflow(&args)
}

/// The model features of the call-log pipeline whose aggregation grows with the window
/// (count, distinct, distinct_days, sum, tenure_days), read from its YAML.
fn growing_features() -> Vec<String> {
    let text =
        std::fs::read_to_string(repo_root().join("tests/oracle/calllog/pipeline.yaml")).unwrap();
    let doc: yaml_serde::Value = yaml_serde::from_str(&text).unwrap();
    let features = &doc["stages"]["features"];
    let mut out = Vec::new();
    for block in features["model_blocks"].as_sequence().unwrap() {
        let block = block.as_str().unwrap();
        for (name, f) in features["blocks"][block].as_mapping().unwrap() {
            let kind = match f {
                yaml_serde::Value::String(s) => s.clone(),
                yaml_serde::Value::Mapping(m) => {
                    m.keys().next().unwrap().as_str().unwrap().to_string()
                }
                _ => continue,
            };
            if ["count", "distinct", "distinct_days", "sum", "tenure_days"].contains(&&kind[..]) {
                out.push(name.as_str().unwrap().to_string());
            }
        }
    }
    out
}

/// Half the training window: `assign` warns, names the window-dependent features, and
/// records the comparison in the output's metadata; the full window does not warn.
#[test]
fn a_half_length_window_warns_and_names_the_window_dependent_features() {
    let scratch = Scratch::new("assign-window");
    let run = calllog_run(scratch.path(), 3, WORDS);
    let half = first_half(scratch.path());
    let output = scratch.path().join("half.parquet");
    let out = assign(&run, &half, &output, &["--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let growing = growing_features();
    assert_eq!(growing, ["n_calls", "n_callees", "n_days_active"]);
    let warning = stderr(&out);
    assert!(
        warning.contains("warning: the new records span"),
        "{warning}"
    );
    assert!(warning.contains(&growing.join(", ")), "{warning}");

    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let window = &report["window"];
    assert_eq!(window["differs"], true);
    let change = window["change"].as_f64().unwrap();
    assert!((-0.55..-0.45).contains(&change), "{change}");
    assert_eq!(window["window_dependent"], serde_json::json!(growing));
    let scored = read_parquet(&output).unwrap();
    let meta: serde_json::Value =
        serde_json::from_str(scored.meta("segflow.window").unwrap()).unwrap();
    assert_eq!(&meta, window);
    let rows: serde_json::Value =
        serde_json::from_str(scored.meta("segflow.rows").unwrap()).unwrap();
    assert_eq!(rows["rows_read"], report["rows_read"]);
    assert_eq!(rows["scored"], scored.batch.num_rows());

    let full = scratch.path().join("full.parquet");
    let out = assign(&run, &repo_root().join(CALLS), &full, &["--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("warning"), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["window"]["differs"], false);
}

/// A file with one unparsable row in two fails against the run's bar, naming the user's
/// file; `--max-reject-fraction` lets it through; an out-of-range value is a usage error.
#[test]
fn max_reject_fraction_overrides_the_runs_value() {
    let scratch = Scratch::new("assign-rejects");
    let run = calllog_run(scratch.path(), 3, WORDS);
    let bad = scratch.path().join("new calls.csv");
    std::fs::write(
        &bad,
        "caller,callee,offset_s,duration_s\n1,1,x,3\n2,2,6,4\n",
    )
    .unwrap();
    let output = scratch.path().join("scored.parquet");
    let out = assign(&run, &bad, &output, &[]);
    assert_eq!(out.status.code(), Some(65), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("new calls.csv, line 2"),
        "{}",
        stderr(&out)
    );
    assert!(!output.exists());

    let out = assign(
        &run,
        &bad,
        &output,
        &["--max-reject-fraction", "0.6", "--json"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(
        (report["rows_read"].as_u64(), report["rejected"].as_u64()),
        (Some(2), Some(1))
    );

    let out = assign(&run, &bad, &output, &["--max-reject-fraction", "2"]);
    assert_eq!(out.status.code(), Some(64), "{}", stderr(&out));
}

/// Whatever stage fails on the new records, the error names the user's file and never the
/// scratch directory the run's stages work in.
#[test]
fn errors_name_the_users_file_never_a_staging_path() {
    let scratch = Scratch::new("assign-errors");
    let run = calllog_run(scratch.path(), 3, WORDS);
    let output = scratch.path().join("scored.parquet");
    for (name, text) in [
        (
            "blank ids.csv",
            "caller,callee,offset_s,duration_s\n,1,5,3\n,2,6,4\n",
        ),
        ("header only.csv", "caller,callee,offset_s,duration_s\n"),
        (
            "bad offsets.csv",
            "caller,callee,offset_s,duration_s\n1,1,x,3\n2,2,y,4\n",
        ),
        ("short rows.csv", "caller,callee,offset_s,duration_s\n1,1\n"),
    ] {
        let input = scratch.path().join(name);
        std::fs::write(&input, text).unwrap();
        let out = assign(&run, &input, &output, &[]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(65), "{name}: {err}");
        assert!(err.contains(name), "{name}: {err}");
        assert!(!err.contains(".assign-"), "{name}: {err}");
        assert!(!err.contains("events.parquet"), "{name}: {err}");
    }
    // An --as-of before the new records' last event is the option's fault, said as such.
    let out = assign(
        &run,
        &repo_root().join(CALLS),
        &output,
        &["--as-of", "2024-03-02 00:00:00"],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(64), "{err}");
    assert!(
        err.contains("--as-of: 2024-03-02 00:00:00 is before the latest event"),
        "{err}"
    );
    assert!(err.contains("calls.csv"), "{err}");
}

/// On a real run: each row's runner-up is another segment, `margin_sq` is the difference of
/// the squared distances `distance` and `margin` imply, the three contributions fall in
/// order and do not exceed the margin's positive part, and the words are the fit's.
#[test]
fn explain_writes_the_runner_up_and_the_strongest_features() {
    let scratch = Scratch::new("assign-explain");
    let run = calllog_run(scratch.path(), 3, WORDS);
    let output = scratch.path().join("scored.parquet");
    let out = assign(&run, &repo_root().join(CALLS), &output, &["--explain"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let scored = read_parquet(&output).unwrap();
    let b = &scored.batch;
    let text = |c: &str| b.column_by_name(c).unwrap().as_string::<i32>().clone();
    let float = |c: &str| {
        b.column_by_name(c)
            .unwrap()
            .as_primitive::<Float64Type>()
            .clone()
    };
    let (segment, runner_up) = (text("segment"), text("runner_up"));
    let (distance, margin, margin_sq) = (float("distance"), float("margin"), float("margin_sq"));
    let contributions: Vec<_> = (1..=3)
        .map(|i| float(&format!("contribution_{i}")))
        .collect();
    let named: Vec<_> = (1..=3)
        .map(|i| (text(&format!("feature_{i}")), text(&format!("explain_{i}"))))
        .collect();
    let mut worded = 0;
    for r in 0..b.num_rows() {
        assert_ne!(segment.value(r), runner_up.value(r));
        let (d, m) = (distance.value(r), margin.value(r));
        let want = (d + m) * (d + m) - d * d;
        assert!(
            (margin_sq.value(r) - want).abs() <= 1e-9 * want.abs().max(1.0),
            "row {r}"
        );
        let c: Vec<f64> = contributions.iter().map(|a| a.value(r)).collect();
        assert!(c[0] >= c[1] && c[1] >= c[2], "row {r}: {c:?}");
        assert!(
            c[0] > 0.0,
            "row {r}: something pulls every row towards its own segment"
        );
        for (feature, words) in &named {
            if feature.value(r) == "n_calls" {
                let w = words.value(r);
                assert!(
                    w.starts_with("many calls (") || w.starts_with("few calls ("),
                    "{w}"
                );
                worded += 1;
            }
        }
    }
    assert!(worded > 0, "n_calls is among some row's strongest features");
    assert!(
        scored
            .meta("segflow.explain")
            .unwrap()
            .contains("sum to margin_sq"),
        "the method is recorded"
    );
}

fn read_matrix(path: &Path) -> Array2<f64> {
    let (_, records) = read_csv(path);
    let rows: Vec<Vec<f64>> = records
        .iter()
        .map(|r| r.iter().map(|v| v.parse().unwrap()).collect())
        .collect();
    Array2::from_shape_fn((rows.len(), rows[0].len()), |(i, j)| rows[i][j])
}

/// The contributions, runner-ups, margins and top three equal numpy's on the oracle fixture.
#[test]
fn explanations_equal_the_numpy_oracle() {
    let dir = repo_root().join("tests/oracle/explain");
    let x = read_matrix(&dir.join("matrix.csv"));
    let centroids = read_matrix(&dir.join("centroids.csv"));
    let groups: Vec<usize> = csv_column(&dir.join("groups.csv"), "feature")
        .iter()
        .map(|g| g.parse().unwrap())
        .collect();
    let (header, expected) = read_csv(&dir.join("expected.csv"));
    let at = |name: &str| csv_position(&header, name);
    let own: Vec<Option<usize>> = expected
        .iter()
        .map(|r| Some(r[at("own")].parse().unwrap()))
        .collect();
    // The rows' own segments are the nearest centroids, as segflow labels them.
    let nearest = segflow_cluster::nearest(x.view(), centroids.view());
    assert_eq!(
        nearest.labels,
        own.iter().map(|o| o.unwrap()).collect::<Vec<_>>()
    );
    let got = explain(x.view(), centroids.view(), &own, &groups, 5);
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * a.abs().max(b.abs()).max(1.0);
    for (r, (e, want)) in got.iter().zip(&expected).enumerate() {
        let e = e.as_ref().unwrap();
        let num = |name: &str| want[at(name)].parse::<f64>().unwrap();
        assert_eq!(e.runner_up as f64, num("runner_up"), "row {r}");
        assert!(close(e.margin, num("margin")), "row {r}");
        for f in 0..5 {
            assert!(
                close(e.contributions[f], num(&format!("f{f}"))),
                "row {r} f{f}"
            );
        }
        let top: Vec<f64> = strongest(&e.contributions, 3)
            .iter()
            .map(|&i| i as f64)
            .collect();
        assert_eq!(top, [num("top1"), num("top2"), num("top3")], "row {r}");
    }
}

proptest! {
    /// Whatever the rows, centroids and column-to-feature map, each row's contributions add
    /// up to d²(runner-up) − d²(own), computed directly.
    #[test]
    fn contributions_sum_to_the_margin(
        (d, k, values, groups) in (1usize..6, 2usize..5).prop_flat_map(|(d, k)| (
            Just(d),
            Just(k),
            prop::collection::vec(-1e3f64..1e3, (8 + k) * d),
            prop::collection::vec(0usize..3, d),
        ))
    ) {
        let x = Array2::from_shape_fn((8, d), |(i, j)| values[i * d + j]);
        let c = Array2::from_shape_fn((k, d), |(i, j)| values[(8 + i) * d + j]);
        let labels: Vec<Option<usize>> = (0..8).map(|i| Some(i % k)).collect();
        for (i, e) in explain(x.view(), c.view(), &labels, &groups, 3).iter().enumerate() {
            let e = e.as_ref().unwrap();
            let d2 = |c_: usize| -> f64 {
                (0..d).map(|j| (x[[i, j]] - c[[c_, j]]).powi(2)).sum()
            };
            let direct = d2(e.runner_up) - d2(i % k);
            let total: f64 = e.contributions.iter().sum();
            let scale = d2(e.runner_up).max(d2(i % k)).max(1.0);
            prop_assert!((total - direct).abs() <= 1e-9 * scale, "{total} vs {direct}");
            prop_assert!((e.margin - direct).abs() <= 1e-9 * scale);
            // The runner-up is the nearest other centroid.
            for other in (0..k).filter(|&o| o != i % k) {
                prop_assert!(d2(e.runner_up) <= d2(other));
            }
        }
    }
}

/// A table-mode pipeline (leads: an id column; wholesale: rows numbered) run through fit.
fn table_run(scratch: &Scratch, pipeline: &str) -> PathBuf {
    let pipeline = isolated_pipeline(pipeline, scratch.path(), |doc| stop_after(doc, "fit"));
    let o = segflow(&["run", pipeline.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    scratch.path().join("run")
}

/// Scores `input` with the table run of `pipeline` twice, in one batch and in batches of
/// `small` rows (more sorted runs than one merge takes at once), and checks both outputs are
/// the same bytes and give the fit's segments in the fit's row order.
fn streamed_equals_whole_and_the_fit(pipeline: &str, input: &str, small: &str) {
    let scratch = Scratch::new(&format!("assign-stream-{pipeline}"));
    let run = table_run(&scratch, pipeline);
    let input = repo_root().join(input);
    let whole = scratch.path().join("whole.parquet");
    let o = assign(
        &run,
        &input,
        &whole,
        &["--explain", "--batch-rows", "100000"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let small_out = scratch.path().join("small.parquet");
    let o = assign(
        &run,
        &input,
        &small_out,
        &["--explain", "--batch-rows", small],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        std::fs::read(&whole).unwrap(),
        std::fs::read(&small_out).unwrap(),
        "the streamed output depends on the batch size"
    );
    // The training rows scored again land where the fit put them, in the fit's id order.
    let fit = run.join("fit/assignments.parquet");
    assert_eq!(
        text_column(&small_out, "row_id"),
        text_column(&fit, "row_id")
    );
    assert_eq!(
        text_column(&small_out, "segment"),
        text_column(&fit, "segment")
    );
    let leftovers: Vec<_> = std::fs::read_dir(scratch.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".assign-"))
        .collect();
    assert!(leftovers.is_empty(), "scratch runs left behind");
}

#[test]
fn an_entity_table_scored_in_small_batches_equals_one_batch_and_the_fit() {
    // 5,000 leads with hashed ids in batches of 7: 45 sorted runs, merged in two rounds.
    streamed_equals_whole_and_the_fit("leads", "data/leads/leads.csv", "7");
    // 440 clients numbered by row in batches of 2: 14 runs, merged by row number.
    streamed_equals_whole_and_the_fit(
        "wholesale",
        "data/wholesale_customers/wholesale_customers.csv",
        "2",
    );
}

#[test]
fn a_repeated_id_in_batches_far_apart_names_both_lines() {
    let scratch = Scratch::new("assign-stream-repeat");
    let run = table_run(&scratch, "leads");
    let text = std::fs::read_to_string(repo_root().join("data/leads/leads.csv")).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    // Line 3 (the second lead) again as line 4,001.
    let repeat = lines[2];
    lines.insert(4000, repeat);
    let input = scratch.path().join("repeat.csv");
    std::fs::write(&input, lines.join("\n") + "\n").unwrap();
    let output = scratch.path().join("scored.parquet");
    let o = assign(&run, &input, &output, &["--batch-rows", "100"]);
    assert_eq!(o.status.code(), Some(65), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("line 4001, column `lead_id`: id repeats the entity of line 3"),
        "{}",
        stderr(&o)
    );
    assert!(!output.exists());
}

/// The retail log (with a value column) through ingest as the stage runs it and as `assign`
/// does; the full audit's duplicate count against records compared field by field.
fn scoring_ingest_matches_full(dedupe: &str) {
    use arrow::array::Array;
    use segflow_core::stage::Stage;
    let scratch = Scratch::new(&format!("scoring-ingest-{dedupe}"));
    // The retail log with two of its lines exported twice more, so there is something to count;
    // the last of them without a line ending, as an export may end.
    let text = std::fs::read_to_string(repo_root().join("data/retail/online_retail_first20k.csv"))
        .unwrap();
    let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
    let input = scratch.path().join("new.csv");
    let mut new = lines.join("\r\n");
    for line in [lines[5], lines[5], lines[700]] {
        new.push_str("\r\n");
        new.push_str(line);
    }
    std::fs::write(&input, &new).unwrap();
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(&input)
        .unwrap();
    let mut seen = std::collections::HashSet::new();
    let mut repeats = 0u64;
    for record in reader.byte_records() {
        let fields: Vec<Vec<u8>> = record.unwrap().iter().map(<[u8]>::to_vec).collect();
        repeats += u64::from(!seen.insert(fields));
    }
    assert!(repeats >= 3, "{repeats} repeats");

    let params = serde_json::json!({
        "mode": "events",
        "columns": {"contact": "CustomerID", "timestamp": "InvoiceDate",
                    "category": "Country", "value": "UnitPrice"},
        "formats": {"timestamp": "%m/%d/%y %H:%M"},
        "types": {"Quantity": "number", "UnitPrice": "number"},
        "derive": {"line_value": "Quantity * UnitPrice"},
        "keep": ["InvoiceNo", "Quantity"],
        "blank_ids": "exclude",
        "dedupe": dedupe,
        "privacy": {"id": {"method": "sha256", "hex_chars": 12}},
    });
    let params = segflow_core::params::ParamTree::from_json(&params.to_string()).unwrap();
    let ingest = |stage: &dyn Stage, dir: &str| {
        let dir = scratch.path().join(dir);
        run_in_process(stage, std::slice::from_ref(&input), &params, &dir).unwrap();
        dir
    };
    let full = ingest(&segflow_ingest::IngestStage, "full");
    let scoring = ingest(&segflow_ingest::ScoringIngestStage, "scoring");

    // Every artifact but the two audit tables of per-event figures, byte for byte.
    let mut files: Vec<String> = std::fs::read_dir(&full)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    assert!(files.contains(&"events.parquet".to_string()), "{files:?}");
    for file in &files {
        if file == "audit_summary.parquet" || file == "audit_value_quantiles.parquet" {
            continue;
        }
        let bytes = |dir: &Path| std::fs::read(dir.join(file)).unwrap();
        assert!(bytes(&full) == bytes(&scoring), "{file} differs");
    }

    let column = |dir: &Path, file: &str, name: &str| {
        read_parquet(&dir.join(file))
            .unwrap()
            .column(name)
            .unwrap()
            .clone()
    };
    let summary = "audit_summary.parquet";
    let counted = column(&full, summary, "duplicate_rows");
    assert_eq!(
        counted
            .as_primitive::<arrow::datatypes::UInt64Type>()
            .value(0),
        repeats
    );
    assert!(column(&scoring, summary, "duplicate_rows").is_null(0));
    let names = segflow_tests::column_names(&read_parquet(&full.join(summary)).unwrap());
    for name in names.iter().filter(|n| *n != "duplicate_rows") {
        assert_eq!(
            column(&full, summary, name).to_data(),
            column(&scoring, summary, name).to_data(),
            "{name}"
        );
    }
    let quantiles = "audit_value_quantiles.parquet";
    let full_values = column(&full, quantiles, "value");
    assert_eq!(full_values.null_count(), 0);
    let scoring_values = column(&scoring, quantiles, "value");
    assert_eq!(scoring_values.null_count(), scoring_values.len());
    assert_eq!(
        column(&full, quantiles, "q").to_data(),
        column(&scoring, quantiles, "q").to_data()
    );
}

/// `assign` runs ingest without the audit's per-event state (the values kept for exact
/// quantiles, the fingerprints kept for the duplicate count): the events, rejects and every
/// other artifact stay byte for byte what the stage writes, with or without `dedupe: exact`.
#[test]
fn ingest_for_scoring_writes_the_same_events_without_per_event_audit_state() {
    scoring_ingest_matches_full("none");
    scoring_ingest_matches_full("exact");
}
