//! Event logs as they come, segmented by YAML alone, against independent pandas computations
//! (tests/oracle/eventlog.py and the scripts beside it):
//! - the shipped retail log (pipelines/retail.yaml): derived line values, cancellations and
//!   blank customers by rule, distinct invoices;
//! - a call log with relative-second timestamps, missed calls marked -1 and a callee number
//!   declared PII (tests/oracle/calllog/);
//! - calls and text messages of the same people as two sources (tests/oracle/twosource/).
//!
//! Each checks the ingest's row accounting (`rows_in = accepted + excluded + rejected`) and
//! every feature of every contact.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Float64Type, Int64Type, UInt64Type};
use segflow_core::artifact::read_parquet;
use segflow_tests::*;

/// A pipeline of the repository with its run directory in `scratch` and every input path
/// (`input`, and each source's) made absolute, stopped after `last`.
fn pipeline(file: &str, scratch: &Path, last: &str) -> PathBuf {
    let text = std::fs::read_to_string(repo_root().join(file)).expect("pipeline exists");
    let mut doc: yaml_serde::Value = yaml_serde::from_str(&text).expect("pipeline parses");
    doc["run_dir"] = yaml_serde::Value::String(scratch.join("run").display().to_string());
    let absolute = |v: &mut yaml_serde::Value| {
        if let Some(p) = v.as_str() {
            *v = yaml_serde::Value::String(repo_root().join(p).display().to_string());
        }
    };
    let ingest = &mut doc["stages"]["ingest"];
    if ingest.get("input").is_some() {
        absolute(&mut ingest["input"]);
    }
    if let Some(sources) = ingest.get_mut("sources").and_then(|s| s.as_sequence_mut()) {
        for source in sources {
            absolute(&mut source["input"]);
        }
    }
    stop_after(&mut doc, last);
    let path = scratch.join("pipeline.yaml");
    std::fs::write(&path, yaml_serde::to_string(&doc).unwrap()).unwrap();
    path
}

fn run(pipeline: &Path) {
    let out = segflow(&["run", pipeline.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
}

/// The expected counts of a `*_counts.json` oracle.
fn expected_counts(name: &str) -> serde_json::Value {
    let path = repo_root().join(format!("tests/oracle/{name}_counts.json"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn audit_count(run: &Path, column: &str) -> u64 {
    read_parquet(&run.join("ingest/audit_summary.parquet"))
        .unwrap()
        .batch
        .column_by_name(column)
        .unwrap_or_else(|| panic!("no {column} in the audit summary"))
        .as_primitive::<UInt64Type>()
        .value(0)
}

/// The ingest's row accounting equals the oracle's, and adds up.
fn check_counts(run: &Path, name: &str) {
    let want = expected_counts(name);
    let got = |c: &str| audit_count(run, c);
    for (ours, theirs) in [
        ("rows_in", "rows_in"),
        ("accepted", "accepted"),
        ("rejected", "rejected"),
        ("excluded_blank_ids", "excluded_blank_ids"),
        ("excluded_duplicates", "excluded_duplicates"),
        ("excluded_by_where", "excluded_by_where"),
        ("distinct_contacts", "contacts"),
    ] {
        assert_eq!(got(ours), want[theirs].as_u64().unwrap(), "{name}: {ours}");
    }
    assert_eq!(
        got("rows_in"),
        got("accepted") + got("excluded") + got("rejected"),
        "{name}: rows_in = accepted + excluded + rejected"
    );
    assert_eq!(
        got("excluded"),
        got("excluded_blank_ids") + got("excluded_duplicates") + got("excluded_by_where")
    );
}

/// Every feature of every contact equals the oracle's: counts exactly, floats to 1e-12
/// relative, text exactly, nulls where the oracle has an empty field.
fn check_features(run: &Path, name: &str) {
    let (header, records) =
        read_csv(&repo_root().join(format!("tests/oracle/{name}_features.csv")));
    let features = read_parquet(&run.join("features/features.parquet"))
        .unwrap()
        .batch;
    let ids = features
        .column_by_name("contact_id")
        .unwrap()
        .as_string::<i32>();
    let row_of: BTreeMap<&str, usize> = (0..ids.len()).map(|r| (ids.value(r), r)).collect();
    assert_eq!(row_of.len(), records.len(), "{name}: number of contacts");
    let mut checked = 0;
    for (c, column) in header.iter().enumerate().skip(1) {
        let array = features
            .column_by_name(column)
            .unwrap_or_else(|| panic!("{name}: no feature {column}"));
        for record in &records {
            let row = *row_of
                .get(&record[0])
                .unwrap_or_else(|| panic!("{name}: contact {} missing", &record[0]));
            let want = &record[c];
            let at = format!("{name}: {column} of {}", &record[0]);
            if want.is_empty() {
                assert!(
                    array.is_null(row),
                    "{at}: expected null, got {}",
                    cell(array.as_ref(), row)
                );
                continue;
            }
            assert!(array.is_valid(row), "{at}: null, expected {want}");
            match array.data_type() {
                DataType::Int64 => assert_eq!(
                    array.as_primitive::<Int64Type>().value(row) as f64,
                    want.parse::<f64>().unwrap(),
                    "{at}"
                ),
                DataType::Float64 => {
                    let (got, want) = (
                        array.as_primitive::<Float64Type>().value(row),
                        want.parse::<f64>().unwrap(),
                    );
                    assert!(
                        (got - want).abs() <= 1e-12 * want.abs().max(1.0),
                        "{at}: {got} vs {want}"
                    );
                }
                DataType::Utf8 => assert_eq!(array.as_string::<i32>().value(row), want, "{at}"),
                other => panic!("{at}: unexpected type {other}"),
            }
            checked += 1;
        }
    }
    assert!(checked > 0);
}

#[test]
fn retail_log_as_it_comes_matches_pandas() {
    let scratch = Scratch::new("retail-oracle");
    let p = pipeline("pipelines/retail.yaml", scratch.path(), "features");
    run(&p);
    let run_dir = scratch.path().join("run");
    check_counts(&run_dir, "retail");
    check_features(&run_dir, "retail");
    // Derived columns are typed and written; the raw customer id is not.
    let events = read_parquet(&run_dir.join("ingest/events.parquet")).unwrap();
    let names = column_names(&events);
    for column in ["line_value", "is_return", "InvoiceNo", "Quantity"] {
        assert!(names.contains(&column.to_string()), "{names:?}");
    }
    assert!(!names.contains(&"CustomerID".to_string()));
}

#[test]
fn call_log_with_relative_seconds_missed_calls_and_a_pii_callee_matches_pandas() {
    let scratch = Scratch::new("calllog-oracle");
    let p = pipeline(
        "tests/oracle/calllog/pipeline.yaml",
        scratch.path(),
        "features",
    );
    run(&p);
    let run_dir = scratch.path().join("run");
    check_counts(&run_dir, "calllog");
    check_features(&run_dir, "calllog");
    // The callee is counted through its pseudonym; its raw numbers reach no artifact.
    let callees = std::fs::read_to_string(repo_root().join("tests/oracle/calllog/callees.txt"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect::<Vec<_>>();
    assert!(callees.len() > 100);
    assert!(assert_no_raw_identifiers(&run_dir, &RawIds::new(callees)) > 0);
}

#[test]
fn calls_and_sms_as_two_sources_match_pandas() {
    let scratch = Scratch::new("twosource-oracle");
    let p = pipeline(
        "tests/oracle/twosource/pipeline.yaml",
        scratch.path(),
        "features",
    );
    run(&p);
    let run_dir = scratch.path().join("run");
    check_counts(&run_dir, "twosource");
    check_features(&run_dir, "twosource");
    // The SMS source maps no value: its nulls there are no weak data.
    assert_eq!(
        segflow_core::warnings::read(&run_dir.join("ingest/audit_warnings.parquet")).unwrap(),
        Vec::new()
    );
    let events = read_parquet(&run_dir.join("ingest/events.parquet")).unwrap();
    let source = events
        .batch
        .column_by_name("source")
        .unwrap()
        .as_string::<i32>();
    let calls = source.iter().filter(|s| *s == Some("calls")).count() as u64;
    let want = expected_counts("twosource");
    assert_eq!(calls, want["calls"]["accepted"].as_u64().unwrap());
    assert_eq!(
        source.len() as u64 - calls,
        want["sms"]["accepted"].as_u64().unwrap()
    );
}

/// `assign` scores the raw lines of new records as they come: the run's types, derivations,
/// `where`, blank-id rule and dedupe apply again, and the report accounts for every line.
#[test]
fn assign_scores_raw_retail_lines_with_the_runs_rules() {
    let scratch = Scratch::new("retail-assign");
    let p = pipeline("pipelines/retail.yaml", scratch.path(), "fit");
    run(&p);
    // The last 3,000 lines of the log, header kept, one of them repeated: new records as an
    // export would bring them, blank customers, cancellations and all.
    let text = std::fs::read_to_string(repo_root().join("data/retail/online_retail_first20k.csv"))
        .unwrap();
    let lines: Vec<&str> = text.split("\r\n").collect();
    let tail = &lines[lines.len() - 3000..];
    let mut new = format!("{}\r\n{}\r\n", lines[0], tail.join("\r\n"));
    new.push_str(tail[10]);
    let input = scratch.path().join("new.csv");
    std::fs::write(&input, &new).unwrap();
    let blank = tail
        .iter()
        .filter(|l| {
            let mut r = csv::ReaderBuilder::new()
                .has_headers(false)
                .from_reader(l.as_bytes());
            let rec = r.records().next().unwrap().unwrap();
            rec[6].trim().is_empty()
        })
        .count() as u64;
    let output = scratch.path().join("scored.parquet");
    let out = segflow(&[
        "assign",
        "--model",
        scratch.path().join("run").to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
        "--output",
        output.to_str().unwrap(),
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["rows_read"], 3001);
    assert_eq!(report["rejected"], 0);
    // Blank customers and the repeated line are excluded by rule, at least.
    assert!(report["excluded"].as_u64().unwrap() > blank);
    let scored = read_parquet(&output).unwrap();
    assert_eq!(
        scored.batch.num_rows() as u64,
        report["rows"].as_u64().unwrap()
    );
    assert!(scored.batch.num_rows() > 10);
}

/// With `min_events`, `assign` reports the new contacts it left out for too few events
/// rather than silently scoring fewer: as many as the pandas oracle counts below the bar.
#[test]
fn assign_reports_contacts_below_min_events() {
    let scratch = Scratch::new("calllog-min-events");
    let path = pipeline(
        "tests/oracle/calllog/pipeline.yaml",
        scratch.path(),
        "features",
    );
    let mut doc: yaml_serde::Value =
        yaml_serde::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    doc["stages"]["features"]["min_events"] = 25.into();
    let rest: yaml_serde::Value = yaml_serde::from_str(
        "preprocess: {needs: [features]}\nfit: {needs: [preprocess, features], k: 3, n_init: 5}\n",
    )
    .unwrap();
    for (k, v) in rest.as_mapping().unwrap() {
        doc["stages"]
            .as_mapping_mut()
            .unwrap()
            .insert(k.clone(), v.clone());
    }
    std::fs::write(&path, yaml_serde::to_string(&doc).unwrap()).unwrap();
    run(&path);
    let (header, records) = read_csv(&repo_root().join("tests/oracle/calllog_features.csv"));
    let n_calls = csv_position(&header, "n_calls");
    let below = records
        .iter()
        .filter(|r| r[n_calls].parse::<u64>().unwrap() < 25)
        .count() as u64;
    assert!(below > 0 && (below as usize) < records.len());
    let output = scratch.path().join("scored.parquet");
    let out = segflow(&[
        "assign",
        "--model",
        scratch.path().join("run").to_str().unwrap(),
        "--input",
        repo_root()
            .join("tests/oracle/calllog/calls.csv")
            .to_str()
            .unwrap(),
        "--output",
        output.to_str().unwrap(),
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["too_few_events"], below);
    assert_eq!(
        report["rows"].as_u64().unwrap() + below,
        records.len() as u64
    );
}

/// The shipped retail pipeline end to end: every artifact locked by a snapshot, the four
/// named segments, the report accounting for the rows excluded by rule, and no raw customer
/// number anywhere.
#[test]
fn the_retail_pipeline_runs_end_to_end_with_every_artifact_locked() {
    let scratch = Scratch::new("retail-pipeline");
    let p = isolated_pipeline("retail", scratch.path(), |_| {});
    run(&p);
    let run_dir = scratch.path().join("run");
    let cards = render_full(&run_dir.join("fit/cards.parquet"));
    for segment in [
        "Occasional buyers",
        "Big single baskets",
        "Returners",
        "Best customers",
    ] {
        assert!(cards.contains(segment), "{segment} missing: {cards}");
    }
    let report = std::fs::read_to_string(run_dir.join("visualize/report.html")).unwrap();
    for column in [
        "excluded_blank_ids",
        "excluded_duplicates",
        "excluded_by_where",
    ] {
        assert!(report.contains(column), "the report does not show {column}");
    }
    let customers = csv_column(
        &repo_root().join("data/retail/online_retail_first20k.csv"),
        "CustomerID",
    )
    .into_iter()
    .filter(|c| !c.trim().is_empty());
    // Customer numbers are 5 digits, so line numbers, quantities and counts equal some of
    // them by chance: the check is on every text cell, column name and metadata value of the
    // Parquet artifacts, where an id would be written as an id.
    let (leaks, checked) = raw_identifier_leaks_in_parquet(&run_dir, &RawIds::new(customers));
    let numeric = |leak: &&String| {
        ["source_line", "Quantity", "units", "n_lines"]
            .iter()
            .any(|c| leak.contains(&format!(": column {c} row ")))
    };
    let leaks: Vec<&String> = leaks.iter().filter(|l| !numeric(l)).collect();
    assert!(checked > 0 && leaks.is_empty(), "{leaks:#?}");
    let big = [
        "ingest/events.parquet",
        "features/features.parquet",
        "preprocess/matrix.parquet",
        "fit/assignments.parquet",
        "visualize/pca.parquet",
    ];
    for (name, text) in artifact_renderings(&run_dir, "retail", &big) {
        insta::assert_snapshot!(name, text);
    }
}

/// An `as_of` before the latest event would give negative recencies: refused (78) naming the
/// key, the latest event and how many events come after it, before features writes anything.
#[test]
fn an_as_of_before_the_latest_event_is_refused() {
    let scratch = Scratch::new("calllog-as-of");
    let path = pipeline(
        "tests/oracle/calllog/pipeline.yaml",
        scratch.path(),
        "features",
    );
    let text = std::fs::read_to_string(&path).unwrap();
    let mut doc: yaml_serde::Value = yaml_serde::from_str(&text).unwrap();
    doc["stages"]["features"]["as_of"] = "2024-03-10 00:00:00".into();
    std::fs::write(&path, yaml_serde::to_string(&doc).unwrap()).unwrap();
    let out = segflow(&["run", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(78), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("as_of") && err.contains("before the latest event"),
        "{err}"
    );
    assert!(!scratch.path().join("run/features").exists());
}

/// The ingest's events of `file`'s pipeline sorted by contact (stably, so each contact keeps
/// its input order), marked grouped with parts of `part_events` events, as `assign` hands
/// them to features.
fn grouped_events(events: &Path, out: &Path, part_events: &str) {
    use parquet::file::metadata::KeyValue;
    let all = read_parquet(events).unwrap();
    let ids = all
        .batch
        .column_by_name("contact_id")
        .unwrap()
        .as_string::<i32>();
    let mut order: Vec<u32> = (0..all.batch.num_rows() as u32).collect();
    order.sort_by(|&a, &b| ids.value(a as usize).cmp(ids.value(b as usize)));
    let sorted =
        arrow::compute::take_record_batch(&all.batch, &arrow::array::UInt32Array::from(order))
            .unwrap();
    let mut kv: Vec<KeyValue> = all
        .metadata
        .iter()
        .filter(|(k, _)| k.as_str() != "ARROW:schema")
        .map(|(k, v)| KeyValue::new(k.clone(), v.clone()))
        .collect();
    kv.push(KeyValue::new(
        segflow_features::META_GROUPED.to_string(),
        part_events.to_string(),
    ));
    let props = parquet::file::properties::WriterProperties::builder()
        .set_key_value_metadata(Some(kv))
        .set_max_row_group_row_count(Some(1000))
        .build();
    let file = std::fs::File::create(out).unwrap();
    let mut writer =
        parquet::arrow::ArrowWriter::try_new(file, sorted.schema(), Some(props)).unwrap();
    writer.write(&sorted).unwrap();
    writer.close().unwrap();
}

/// Features of an event log grouped by contact, read a part of whole contacts at a time (as
/// `assign` runs them), equal those of the log held whole: every feature of every contact,
/// the thresholds, the warnings and the contacts `min_events` leaves out, with parts cut
/// inside contacts' runs of events and a part size of one event.
#[test]
fn features_of_a_log_grouped_by_contact_equal_the_whole_logs() {
    for file in ["pipelines/walsoft.yaml", "pipelines/retail.yaml"] {
        let name = file
            .trim_start_matches("pipelines/")
            .trim_end_matches(".yaml");
        let scratch = Scratch::new(&format!("grouped-{name}"));
        run(&pipeline(file, scratch.path(), "features"));
        let run_dir = scratch.path().join("run");
        let trained = read_parquet(&run_dir.join("features/features.parquet")).unwrap();
        let mut params: serde_json::Value =
            serde_json::from_str(trained.meta("segflow.params").unwrap()).unwrap();
        params["min_events"] = 3.into();
        let params = segflow_core::params::ParamTree::from_json(&params.to_string()).unwrap();
        let features = |input: &Path, dir: &str| {
            let dir = scratch.path().join(dir);
            run_in_process(
                &segflow_features::FeaturesStage,
                &[input.to_path_buf()],
                &params,
                &dir,
            )
            .unwrap();
            dir
        };
        let events = run_dir.join("ingest/events.parquet");
        let whole = features(&events, "whole");
        for part_events in [1, 997, 1 << 20] {
            let grouped = scratch
                .path()
                .join(format!("grouped-{part_events}.parquet"));
            grouped_events(&events, &grouped, &part_events.to_string());
            let parts = features(&grouped, &format!("parts-{part_events}"));
            for artifact in ["features.parquet", "warnings.parquet", "excluded.parquet"] {
                let a = read_parquet(&whole.join(artifact)).unwrap();
                let b = read_parquet(&parts.join(artifact)).unwrap();
                assert_eq!(
                    a.batch, b.batch,
                    "{name} {artifact}, parts of {part_events}"
                );
                for key in [
                    "segflow.as_of",
                    "segflow.thresholds",
                    "segflow.blocks",
                    "segflow.model_columns",
                    "segflow.excluded_contacts",
                ] {
                    assert_eq!(a.meta(key), b.meta(key), "{name} {artifact} {key}");
                }
            }
            let excluded = read_parquet(&parts.join("excluded.parquet")).unwrap();
            assert!(
                excluded.batch.num_rows() > 0,
                "{name}: min_events leaves some out"
            );
        }
        // The mark is read: a part size that is not a number is refused, naming it.
        let grouped = scratch.path().join("grouped-bad.parquet");
        grouped_events(&events, &grouped, "x");
        let err = run_in_process(
            &segflow_features::FeaturesStage,
            std::slice::from_ref(&grouped),
            &params,
            &scratch.path().join("bad"),
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("not a number of events: x"),
            "{err}"
        );
    }
}
