//! The bad-input corpus: one case per kind of bad input, each checked for its exit code, a
//! message naming the file and the line, row, column or YAML key, and that nothing is left
//! behind (no output directory, no staging leftovers) while earlier artifacts stay untouched.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Schema};

use segflow_tests::*;

const HEADER: &str =
    "date_stamp,time,day-of_week,month,year,dialled_phone_number,name,duration_in_seconds,category";
const ROW: &str = "1/1/2022,16:03:01,Sat,Jan,2022,648578192,n,179,Unknown";

const EVENTS: &str = "mode: events
columns: {contact: dialled_phone_number, date: date_stamp, time: time,
          value: duration_in_seconds, category: category}
formats: {date: \"%m/%d/%Y\", time: \"%H:%M:%S\"}
value_min: 0
max_reject_fraction: 0
privacy: {id: {method: sha256, hex_chars: 12}, drop: [name]}
";

/// Runs `segflow ingest` on `bytes` with `params`; returns (exit code, stderr).
fn ingest(scratch: &Path, case: &str, bytes: &[u8], params: &str) -> (Option<i32>, String) {
    let input = scratch.join(format!("{case}.csv"));
    std::fs::write(&input, bytes).unwrap();
    let params_file = scratch.join(format!("{case}.yaml"));
    std::fs::write(&params_file, params).unwrap();
    let out = scratch.join(format!("out_{case}"));
    let o = run_stage(
        "ingest",
        input.to_str().unwrap(),
        &out,
        params_file.to_str().unwrap(),
    );
    (o.status.code(), stderr(&o))
}

/// Every ingest failure: exit 65, the file and the given details named, nothing written.
fn rejected(case: &str, bytes: &[u8], params: &str, needles: &[&str]) {
    let scratch = Scratch::new(&format!("bad-{case}"));
    let (code, err) = ingest(scratch.path(), case, bytes, params);
    assert_eq!(code, Some(65), "{case}: {err}");
    assert!(
        err.contains(&format!("{case}.csv")),
        "{case}: file not named: {err}"
    );
    for n in needles {
        assert!(err.contains(n), "{case}: `{n}` not in: {err}");
    }
    assert!(!err.contains("panicked"), "{case}: {err}");
    let left: Vec<String> = files_under(scratch.path())
        .into_iter()
        .filter(|f| !f.starts_with(case))
        .collect();
    assert!(left.is_empty(), "{case}: left behind {left:?}");
}

fn csv(rows: &[&str]) -> Vec<u8> {
    let mut s = String::from(HEADER);
    for r in rows {
        s.push('\n');
        s.push_str(r);
    }
    s.push('\n');
    s.into_bytes()
}

#[test]
fn malformed_csv_files_are_refused_with_their_place_named() {
    rejected("empty", b"", EVENTS, &["line 1", "empty file"]);
    rejected("header_only", &csv(&[]), EVENTS, &["no data rows"]);
    rejected(
        "missing_column",
        b"date_stamp,time,name\n1/1/2022,1:00:00,x\n",
        EVENTS,
        &[
            "line 1",
            "column `dialled_phone_number`",
            "required column is missing",
        ],
    );
    // One hex character gives 16 ids: 17 contacts cannot all have their own.
    let contacts: Vec<String> = (0..17)
        .map(|i| ROW.replace("648578192", &(600_000_000 + i).to_string()))
        .collect();
    let rows: Vec<&str> = contacts.iter().map(String::as_str).collect();
    rejected(
        "id_collision",
        &csv(&rows),
        &EVENTS.replace("hex_chars: 12", "hex_chars: 1"),
        &[
            "column `dialled_phone_number`",
            "two different contacts hash to the same id",
        ],
    );
    rejected(
        "wrong_delimiter",
        format!("{}\n{}\n", HEADER.replace(',', ";"), ROW.replace(',', ";")).as_bytes(),
        EVENTS,
        &["line 1", "required column is missing", "date_stamp;time"],
    );
    rejected(
        "ragged",
        &csv(&["1/1/2022,16:03:01,Sat,Jan,2022,648578192,n,179"]),
        EVENTS,
        &["line 2", "expected 9 fields, found 8"],
    );
    let mut non_utf8 = csv(&[ROW]);
    let at = non_utf8.len() - 20;
    non_utf8[at] = 0xff;
    rejected(
        "non_utf8",
        &non_utf8,
        EVENTS,
        &["line 2", "column `dialled_phone_number`", "not valid UTF-8"],
    );
    let big = format!(
        "1/1/2022,16:03:01,Sat,Jan,2022,648578192,n,{},Unknown",
        "7".repeat(10 << 20)
    );
    rejected(
        "ten_megabyte_field",
        &csv(&[&big]),
        EVENTS,
        &[
            "line 2",
            "column `duration_in_seconds`",
            "not a finite number",
        ],
    );
}

#[test]
fn values_that_do_not_parse_are_rejects_with_line_and_column() {
    for (case, row, column, reason) in [
        (
            "bad_date",
            "13/45/2022,16:03:01,Sat,Jan,2022,648578192,n,179,Unknown",
            "date_stamp",
            "cannot parse as date",
        ),
        (
            "bad_time",
            "1/1/2022,26:03:01,Sat,Jan,2022,648578192,n,179,Unknown",
            "time",
            "cannot parse as time",
        ),
        (
            "negative",
            "1/1/2022,16:03:01,Sat,Jan,2022,648578192,n,-5,Unknown",
            "duration_in_seconds",
            "negative value",
        ),
        (
            "nan",
            "1/1/2022,16:03:01,Sat,Jan,2022,648578192,n,NaN,Unknown",
            "duration_in_seconds",
            "not a finite number",
        ),
        (
            "infinite",
            "1/1/2022,16:03:01,Sat,Jan,2022,648578192,n,inf,Unknown",
            "duration_in_seconds",
            "not a finite number",
        ),
    ] {
        rejected(
            case,
            &csv(&[ROW, row]),
            EVENTS,
            &["line 3", &format!("column `{column}`"), reason],
        );
    }
    rejected(
        "duplicate_ids",
        b"lead_id,x\nA,1\nA,2\n",
        "mode: table\ntable: {id: lead_id}\n",
        &["line 3", "column `lead_id`", "repeats the entity of line 2"],
    );
}

#[test]
fn awkward_but_valid_files_are_read() {
    let scratch = Scratch::new("bad-valid");
    for (case, bytes) in [
        ("bom", [b"\xef\xbb\xbf".as_slice(), &csv(&[ROW])].concat()),
        ("crlf", format!("{HEADER}\r\n{ROW}\r\n").into_bytes()),
        (
            "quoted_newline",
            csv(&["1/1/2022,16:03:01,Sat,Jan,2022,648578192,\"two\nlines\",179,Unknown"]),
        ),
        (
            "all_null_column",
            csv(&[
                "1/1/2022,16:03:01,Sat,Jan,2022,648578192,n,179,",
                "1/2/2022,16:03:01,Sun,Jan,2022,648578193,n,17,",
            ]),
        ),
    ] {
        let (code, err) = ingest(scratch.path(), case, &bytes, EVENTS);
        assert_eq!(code, Some(0), "{case}: {err}");
        assert!(
            scratch
                .path()
                .join(format!("out_{case}/events.parquet"))
                .is_file()
        );
    }
}

/// The Walsoft pipeline through select_k on `csv`, edited by `edit`; returns the run summary.
fn pipeline_fails(
    case: &str,
    csv_text: Option<String>,
    edit: impl FnOnce(&mut yaml_serde::Value),
    code: i32,
    needles: &[&str],
) {
    let scratch = Scratch::new(&format!("bad-{case}"));
    let input = scratch.path().join("calls.csv");
    if let Some(text) = &csv_text {
        std::fs::write(&input, text).unwrap();
    }
    let pipeline = isolated_pipeline("walsoft", scratch.path(), |doc| {
        stop_after(doc, "select_k");
        if csv_text.is_some() {
            doc["stages"]["ingest"]["input"] = input.to_str().unwrap().into();
        }
        edit(doc);
    });
    let o = segflow(&["run", pipeline.to_str().unwrap()]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(code), "{case}: {err}");
    for n in needles {
        assert!(err.contains(n), "{case}: `{n}` not in: {err}");
    }
    let leftovers: Vec<String> = files_under(scratch.path())
        .into_iter()
        .filter(|f| f.contains("staging") || f.contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "{case}: {leftovers:?}");
}

#[test]
fn too_few_contacts_bad_k_ranges_and_constant_features_are_named() {
    let one_contact: Vec<String> = (1..=9)
        .map(|d| {
            format!(
                "1/{d}/2022,16:03:01,Sat,Jan,2022,648578192,n,{},Unknown",
                10 * d
            )
        })
        .collect();
    pipeline_fails(
        "one_contact",
        Some(format!("{HEADER}\n{}\n", one_contact.join("\n"))),
        |_| {},
        65,
        &["every column is constant"],
    );
    let five: Vec<String> = (1..=5)
        .map(|c| {
            format!(
                "1/{c}/2022,1{c}:03:01,Sat,Jan,2022,64857819{c},n,{},Unknown",
                7 * c * c
            )
        })
        .collect();
    pipeline_fails(
        "fewer_contacts_than_k",
        Some(format!("{HEADER}\n{}\n", five.join("\n"))),
        |_| {},
        65,
        &[
            "matrix.parquet",
            "K up to 12 needs more than 12 rows; the matrix has 5",
        ],
    );
    pipeline_fails(
        "inverted_k_range",
        None,
        |doc| doc["stages"]["select_k"]["k"] = yaml_serde::from_str("[6, 3]").unwrap(),
        78,
        &["stages.select_k.k", "needs 2 ≤ low ≤ high"],
    );
    pipeline_fails(
        "wrong_type",
        None,
        |doc| doc["stages"]["select_k"]["n_init"] = "many".into(),
        78,
        &["stages.select_k", "n_init"],
    );
}

#[test]
fn a_wrong_schema_or_truncated_parquet_between_stages_is_named_and_leaves_the_rest_alone() {
    let scratch = Scratch::new("bad-parquet");
    let pipeline = isolated_pipeline("walsoft", scratch.path(), |doc| {
        stop_after(doc, "preprocess")
    });
    let p = pipeline.to_str().unwrap();
    assert!(segflow(&["run", p]).status.success());
    let run = scratch.path().join("run");

    // A features artifact where select-k expects the matrix.
    let params = scratch.path().join("select_k.yaml");
    std::fs::write(&params, "k: [2, 4]\nrule: max_silhouette\n").unwrap();
    let o = run_stage(
        "select-k",
        run.join("features/features.parquet").to_str().unwrap(),
        &scratch.path().join("sk"),
        params.to_str().unwrap(),
    );
    assert_eq!(o.status.code(), Some(65), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("features.parquet") && stderr(&o).contains("expected a matrix"),
        "{}",
        stderr(&o)
    );
    assert!(!scratch.path().join("sk").exists());

    // Events with the right kind but the wrong schema: features names the file and column.
    let params = walsoft_params(scratch.path(), "features");
    let events = run.join("ingest/events.parquet");
    let cases: [(&str, &str, Change); 3] = [
        ("ts as text", "expected a timestamp", |b| {
            replace(
                b,
                "ts",
                cast(b.column_by_name("ts").unwrap(), &DataType::Utf8).unwrap(),
            )
        }),
        ("value as integers", "expected a float64", |b| {
            replace(
                b,
                "value",
                cast(b.column_by_name("value").unwrap(), &DataType::Int64).unwrap(),
            )
        }),
        ("no contact_id", "required column is missing", |b| {
            let mut b = b.clone();
            b.remove_column(0);
            b
        }),
    ];
    for (case, message, change) in cases {
        let bad = scratch.path().join("bad_events.parquet");
        rewrite_parquet(&events, &bad, change);
        let out = scratch.path().join("bad_features");
        let o = run_stage(
            "features",
            bad.to_str().unwrap(),
            &out,
            params.to_str().unwrap(),
        );
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(65), "{case}: {err}");
        let column = if case == "no contact_id" {
            "contact_id"
        } else {
            case.split(' ').next().unwrap()
        };
        assert!(
            err.contains("bad_events.parquet") && err.contains(message) && err.contains(column),
            "{case}: {err}"
        );
        assert!(!out.exists(), "{case}: output left behind");
    }

    // Features whose model column holds text: preprocess asks for the column's encoding (a
    // label column is a model input only by declaration), naming the key and the column.
    let params = walsoft_params(scratch.path(), "preprocess");
    let bad = scratch.path().join("bad_features.parquet");
    rewrite_parquet(&run.join("features/features.parquet"), &bad, |b| {
        let column = b.column_by_name("n_calls").unwrap();
        replace(b, "n_calls", cast(column, &DataType::Utf8).unwrap())
    });
    let out = scratch.path().join("bad_preprocess");
    let o = run_stage(
        "preprocess",
        bad.to_str().unwrap(),
        &out,
        params.to_str().unwrap(),
    );
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(78), "{err}");
    assert!(
        err.contains("per_column.n_calls.encode") && err.contains("one_hot"),
        "{err}"
    );
    assert!(!out.exists(), "output left behind");

    // A truncated features artifact: preprocess fails naming it; nothing else changes.
    let before: Vec<(String, Vec<u8>)> = files_under(&run)
        .into_iter()
        .map(|f| (f.clone(), std::fs::read(run.join(&f)).unwrap()))
        .collect();
    let features = run.join("features/features.parquet");
    let bytes = std::fs::read(&features).unwrap();
    std::fs::write(&features, &bytes[..bytes.len() / 2]).unwrap();
    let o = segflow(&["run", p, "--only", "preprocess", "--force"]);
    assert_eq!(o.status.code(), Some(65), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("features.parquet") && stderr(&o).contains("Parquet"),
        "{}",
        stderr(&o)
    );
    for (name, old) in &before {
        if name != "features/features.parquet" {
            assert!(
                &std::fs::read(run.join(name)).unwrap() == old,
                "{name} changed after a failed stage"
            );
        }
    }
}

/// A change made to an artifact's data.
type Change = fn(&RecordBatch) -> RecordBatch;

/// `batch` with column `name` replaced by `array` (declared nullable, like segflow's own).
fn replace(batch: &RecordBatch, name: &str, array: ArrayRef) -> RecordBatch {
    let schema = batch.schema();
    let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    let mut columns = batch.columns().to_vec();
    let i = schema.index_of(name).unwrap();
    fields[i] = Field::new(name, array.data_type().clone(), true);
    columns[i] = array;
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap()
}

/// Copies a Parquet artifact through `change`, keeping its segflow metadata.
fn rewrite_parquet(src: &Path, dst: &Path, change: Change) {
    let artifact = segflow_core::artifact::read_parquet(src).unwrap();
    let batch = change(&artifact.batch);
    let kv = artifact
        .metadata
        .iter()
        .map(|(k, v)| parquet::file::metadata::KeyValue::new(k.clone(), v.clone()))
        .collect();
    let props = parquet::file::properties::WriterProperties::builder()
        .set_key_value_metadata(Some(kv))
        .build();
    let file = std::fs::File::create(dst).unwrap();
    let mut writer =
        parquet::arrow::ArrowWriter::try_new(file, batch.schema(), Some(props)).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
}

/// The default pipeline's params of `stage` as a standalone params file in `dir`.
fn walsoft_params(dir: &Path, stage: &str) -> std::path::PathBuf {
    let pipeline: yaml_serde::Value = yaml_serde::from_str(
        &std::fs::read_to_string(repo_root().join("pipelines/walsoft.yaml")).unwrap(),
    )
    .unwrap();
    let mut params = pipeline["stages"][stage].clone();
    params.as_mapping_mut().unwrap().shift_remove("needs");
    let path = dir.join(format!("{stage}.yaml"));
    std::fs::write(&path, yaml_serde::to_string(&params).unwrap()).unwrap();
    path
}

/// The Wholesale table (CRLF, no final newline) with the Milk spend of data row 5 (`row_id`
/// 000005) replaced by `value`.
fn wholesale_with_milk(value: &str) -> String {
    let text = std::fs::read_to_string(
        repo_root().join("data/wholesale_customers/wholesale_customers.csv"),
    )
    .unwrap();
    let mut lines: Vec<String> = text.split("\r\n").map(str::to_string).collect();
    let milk = lines[0].split(',').position(|h| h == "Milk").unwrap();
    let mut fields: Vec<&str> = lines[5].split(',').collect();
    fields[milk] = value;
    lines[5] = fields.join(",");
    lines.join("\r\n")
}

/// Runs the Wholesale pipeline through `last` on `csv`, edited by `edit`; returns the exit code
/// and stderr after checking that no staging leftover remains.
fn wholesale_run(
    scratch: &Path,
    csv: &str,
    last: &str,
    edit: impl FnOnce(&mut yaml_serde::Value),
) -> (Option<i32>, String) {
    let input = scratch.join("clients.csv");
    std::fs::write(&input, csv).unwrap();
    let pipeline = isolated_pipeline("wholesale", scratch, |doc| {
        stop_after(doc, last);
        doc["stages"]["ingest"]["input"] = input.to_str().unwrap().into();
        edit(doc);
    });
    let o = segflow(&["run", pipeline.to_str().unwrap(), "--json"]);
    let leftovers: Vec<String> = files_under(scratch)
        .into_iter()
        .filter(|f| f.contains("staging") || f.contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    if !o.status.success() {
        assert_no_summary(&stdout(&o));
    }
    (o.status.code(), stderr(&o))
}

#[test]
fn log1p_of_minus_one_or_less_is_refused_naming_the_feature_the_value_and_the_file() {
    // preprocess's log1p over a column holding −1 (ln 0) or less: the features file, the
    // column and the value are named, and no matrix is written.
    for value in ["-1", "-7.5"] {
        let scratch = Scratch::new(&format!("bad-log1p{value}"));
        let (code, err) = wholesale_run(
            scratch.path(),
            &wholesale_with_milk(value),
            "preprocess",
            |_| {},
        );
        assert_eq!(code, Some(65), "{value}: {err}");
        for needle in [
            "features/features.parquet",
            "column `milk`",
            &format!("log1p of {value}"),
        ] {
            assert!(err.contains(needle), "{value}: `{needle}` not in {err}");
        }
        assert!(!err.contains("panicked"), "{err}");
        assert!(!scratch.path().join("run/preprocess").exists());
    }

    // A `{log1p: x}` feature: refused at features, naming the feature and the entity.
    let scratch = Scratch::new("bad-log1p-feature");
    let (code, err) = wholesale_run(
        scratch.path(),
        &wholesale_with_milk("-1"),
        "features",
        |d| {
            d["stages"]["features"]["blocks"]["fresh_food"]["log_milk"] =
                yaml_serde::from_str("{log1p: milk}").unwrap();
        },
    );
    assert_eq!(code, Some(65), "{err}");
    for needle in [
        "ingest/table.parquet",
        "column `log_milk`",
        "row_id 000005",
        "log1p of `milk` = -1",
    ] {
        assert!(err.contains(needle), "`{needle}` not in {err}");
    }
    assert!(!scratch.path().join("run/features").exists());

    // assign applies the saved transform to new records: the same refusal, naming the new
    // file and the record, and no output.
    let scratch = Scratch::new("bad-log1p-assign");
    let original = std::fs::read_to_string(
        repo_root().join("data/wholesale_customers/wholesale_customers.csv"),
    )
    .unwrap();
    let (code, err) = wholesale_run(scratch.path(), &original, "fit", |_| {});
    assert_eq!(code, Some(0), "{err}");
    let new = scratch.path().join("new_clients.csv");
    std::fs::write(&new, wholesale_with_milk("-1")).unwrap();
    let scored = scratch.path().join("scored.parquet");
    let o = segflow(&[
        "assign",
        "--model",
        scratch.path().join("run").to_str().unwrap(),
        "--input",
        new.to_str().unwrap(),
        "--output",
        scored.to_str().unwrap(),
        "--json",
    ]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(65), "{err}");
    for needle in [
        "new_clients.csv",
        "column `milk`",
        "row_id 000005",
        "log1p of -1",
    ] {
        assert!(err.contains(needle), "`{needle}` not in {err}");
    }
    assert_no_summary(&stdout(&o));
    let left: Vec<String> = files_under(scratch.path())
        .into_iter()
        .filter(|f| !f.starts_with("run/") && f.contains("scored"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_log1p_feature_over_an_event_aggregate_of_minus_one_names_the_contact() {
    // A −1 duration (a "missed call" marker) is accepted without `value_min`; the contact's
    // total duration is then −1 and ln(1 + total) is not finite.
    let missed = "1/3/2022,10:00:00,Mon,Jan,2022,700000001,m,-1,Unknown";
    let contact = &segflow_core::hash::sha256_hex(b"700000001")[..12];
    pipeline_fails(
        "missed_call",
        Some(format!("{HEADER}\n{ROW}\n{missed}\n")),
        |doc| {
            doc["stages"]["ingest"]
                .as_mapping_mut()
                .unwrap()
                .shift_remove("value_min");
        },
        65,
        &[
            "ingest/events.parquet",
            "column `log_total_dur`",
            &format!("contact_id {contact}"),
            "log1p of `total_dur_sec` = -1",
        ],
    );
}

/// `segflow <stage>` on the given inputs with `--json`; returns (exit code, stdout, stderr).
fn stage_on(
    stage: &str,
    inputs: &[PathBuf],
    out: &Path,
    params: &Path,
) -> (Option<i32>, String, String) {
    let mut args = vec![stage.to_string()];
    for i in inputs {
        args.push("--input".into());
        args.push(i.to_str().unwrap().into());
    }
    for (flag, value) in [("--output-dir", out), ("--params", params)] {
        args.push(flag.into());
        args.push(value.to_str().unwrap().into());
    }
    args.push("--json".into());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = segflow(&args);
    (o.status.code(), stdout(&o), stderr(&o))
}

#[test]
fn artifacts_from_different_runs_or_an_empty_decision_are_refused_together() {
    let scratch = Scratch::new("bad-lineage");
    let pipeline = isolated_pipeline("walsoft", scratch.path(), |doc| stop_after(doc, "fit"));
    let o = segflow(&["run", pipeline.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let run = scratch.path().join("run");
    let at = |rel: &str| run.join(rel);
    let fit_params = walsoft_params(scratch.path(), "fit");
    let k3_params = scratch.path().join("fit_k3.yaml");
    let text = std::fs::read_to_string(&fit_params).unwrap();
    std::fs::write(&k3_params, format!("{text}k: 3\n")).unwrap();
    let visualize_params = scratch.path().join("visualize.yaml");
    std::fs::write(&visualize_params, "charts: [k_inertia, segment_sizes]\n").unwrap();
    let (matrix, features) = (
        at("preprocess/matrix.parquet"),
        at("features/features.parquet"),
    );

    // Another fit of the same matrix, at K = 3.
    let k3 = scratch.path().join("k3");
    let (code, _, err) = stage_on("fit", &[matrix.clone(), features.clone()], &k3, &k3_params);
    assert_eq!(code, Some(0), "{err}");

    // What visualize reads, but the decision and the policy.
    let common: Vec<PathBuf> = [
        "preprocess/matrix.parquet",
        "select_k/k_scores.parquet",
        "fit/assignments.parquet",
        "fit/centroids.parquet",
        "fit/cards.parquet",
        "fit/findings.parquet",
        "fit/summary.parquet",
    ]
    .into_iter()
    .map(at)
    .collect();
    let with =
        |extra: &[PathBuf]| -> Vec<PathBuf> { common.iter().chain(extra).cloned().collect() };
    let (decision, policy) = (at("select_k/decision.parquet"), at("fit/policy.parquet"));

    // One run's artifacts draw a report.
    let (code, _, err) = stage_on(
        "visualize",
        &with(&[decision.clone(), policy.clone()]),
        &scratch.path().join("report"),
        &visualize_params,
    );
    assert_eq!(code, Some(0), "{err}");

    // The K = 3 policy beside the K = 4 findings: refused, naming artifacts of both runs.
    let mixed = scratch.path().join("mixed");
    let (code, out, err) = stage_on(
        "visualize",
        &with(&[decision.clone(), k3.join("policy.parquet")]),
        &mixed,
        &visualize_params,
    );
    assert_eq!(code, Some(65), "{err}");
    assert!(
        err.contains("k3/policy.parquet")
            && err.contains("run/fit/")
            && err.contains("different runs"),
        "{err}"
    );
    assert_no_summary(&out);
    assert!(!mixed.exists());

    // A matrix beside features it was not built from (features rerun with another as-of).
    let features_params = walsoft_params(scratch.path(), "features");
    let text = std::fs::read_to_string(&features_params)
        .unwrap()
        .replace("as_of: latest_event", "as_of: 2030-01-01 00:00:00");
    std::fs::write(&features_params, text).unwrap();
    let other = scratch.path().join("other_features");
    let (code, _, err) = stage_on(
        "features",
        &[at("ingest/events.parquet")],
        &other,
        &features_params,
    );
    assert_eq!(code, Some(0), "{err}");
    let fit_mixed = scratch.path().join("fit_mixed");
    let (code, out, err) = stage_on(
        "fit",
        &[matrix.clone(), other.join("features.parquet")],
        &fit_mixed,
        &k3_params,
    );
    assert_eq!(code, Some(65), "{err}");
    assert!(
        err.contains("other_features/features.parquet")
            && err.contains("run/preprocess/matrix.parquet")
            && err.contains("different runs"),
        "{err}"
    );
    assert_no_summary(&out);
    assert!(!fit_mixed.exists());
    let robustness_mixed = scratch.path().join("robustness_mixed");
    let (code, _, err) = stage_on(
        "robustness",
        &[
            k3.join("assignments.parquet"),
            matrix.clone(),
            other.join("features.parquet"),
        ],
        &robustness_mixed,
        &walsoft_params(scratch.path(), "robustness"),
    );
    assert_eq!(code, Some(65), "{err}");
    assert!(
        err.contains("other_features/features.parquet")
            && err.contains("k3/assignments.parquet")
            && err.contains("different runs"),
        "{err}"
    );
    assert!(!robustness_mixed.exists());

    // A decision without rows: visualize refuses it in fit's own words.
    let empty = scratch.path().join("empty_decision.parquet");
    rewrite_parquet(&decision, &empty, |b| b.slice(0, 0));
    let wording = "empty_decision.parquet, column `k`: expected one K";
    let (code, _, err) = stage_on(
        "fit",
        &[matrix.clone(), features.clone(), empty.clone()],
        &scratch.path().join("fit_empty"),
        &fit_params,
    );
    assert_eq!(code, Some(65), "{err}");
    assert!(err.contains(wording), "{err}");
    let report_empty = scratch.path().join("report_empty");
    let (code, out, err) = stage_on(
        "visualize",
        &with(&[empty, policy]),
        &report_empty,
        &visualize_params,
    );
    assert_eq!(code, Some(65), "{err}");
    assert!(err.contains(wording), "{err}");
    assert_no_summary(&out);
    assert!(!report_empty.exists());
}
