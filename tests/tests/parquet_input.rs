//! Parquet input: one file, or a Hive-partitioned directory of part files as Spark writes it,
//! ingested to the same artifacts as the CSV of the same rows (fixtures and the pandas
//! time-zone oracle from tests/oracle/parquet_input.py); a directory's part files in the
//! lock; corrupt input refused as bad data.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, TimestampMicrosecondType, UInt64Type};
use segflow_core::artifact::read_parquet;
use segflow_tests::*;

fn fixture(name: &str) -> PathBuf {
    repo_root().join("tests/oracle/parquet_input").join(name)
}

/// The events params of the fixtures; `extra` adds keys.
fn events_params(extra: &str) -> String {
    format!(
        "mode: events\n\
         columns: {{contact: contact, timestamp: ts, value: amount, category: channel}}\n\
         keep: [country, items, first_visit, visit_date]\n\
         types: {{items: number}}\n{extra}"
    )
}

/// Runs `segflow ingest` on `input` with `params` into `scratch/<name>`.
fn ingest(
    scratch: &Scratch,
    name: &str,
    input: &Path,
    params: &str,
) -> (std::process::Output, PathBuf) {
    let params_file = scratch.path().join(format!("{name}.yaml"));
    std::fs::write(&params_file, params).unwrap();
    let out = scratch.path().join(name);
    let o = run_stage(
        "ingest",
        input.to_str().unwrap(),
        &out,
        params_file.to_str().unwrap(),
    );
    (o, out)
}

fn ingested(scratch: &Scratch, name: &str, input: &Path, params: &str) -> PathBuf {
    let (o, out) = ingest(scratch, name, input, params);
    assert!(o.status.success(), "{name}: {}", stderr(&o));
    out
}

/// An artifact's data without `source_line`, and that column.
fn without_lines(path: &Path) -> (RecordBatch, Vec<u64>) {
    let batch = read_parquet(path).unwrap().batch;
    let schema = batch.schema();
    let line = schema.index_of("source_line").unwrap();
    let lines = batch
        .column(line)
        .as_primitive::<UInt64Type>()
        .values()
        .to_vec();
    let rest: Vec<usize> = (0..batch.num_columns()).filter(|&i| i != line).collect();
    (batch.project(&rest).unwrap(), lines)
}

/// Artifact metadata without what differs by input file and params text.
fn comparable_metadata(path: &Path) -> BTreeMap<String, String> {
    let mut metadata = read_parquet(path).unwrap().metadata;
    for key in [
        "segflow.input_hashes",
        "segflow.params",
        "segflow.params_hash",
    ] {
        metadata.remove(key);
    }
    metadata
}

#[test]
fn a_parquet_file_and_a_partitioned_directory_give_the_events_of_the_csv() {
    let scratch = Scratch::new("parquet-events");
    let csv = ingested(&scratch, "csv", &fixture("events.csv"), &events_params(""));
    let (want, csv_lines) = without_lines(&csv.join("events.parquet"));
    assert_eq!(want.num_rows(), 40);
    assert_eq!(
        csv_lines,
        (2..=41).collect::<Vec<u64>>(),
        "CSV lines after the header"
    );
    // A timestamp format that reads none of the CSV's text: typed columns do not use it.
    let parquet_params = events_params("formats: {timestamp: '%d/%m/%Y'}\n");
    for (name, input) in [
        ("file", fixture("events.parquet")),
        ("directory", fixture("events_by_country")),
    ] {
        let out = ingested(&scratch, name, &input, &parquet_params);
        let events = out.join("events.parquet");
        let (got, lines) = without_lines(&events);
        assert!(
            got == want,
            "{name}: events differ from the CSV's\n{}",
            render_full(&events)
        );
        assert_eq!(lines, (1..=40).collect::<Vec<u64>>(), "{name}: row numbers");
        assert_eq!(
            comparable_metadata(&events),
            comparable_metadata(&csv.join("events.parquet")),
            "{name}"
        );
        assert_eq!(
            read_parquet(&out.join("rejects.parquet"))
                .unwrap()
                .batch
                .num_rows(),
            0
        );
    }
    // The partition column of the directory, null under Hive's default partition.
    let country = read_parquet(&scratch.path().join("directory/events.parquet"))
        .unwrap()
        .batch
        .column_by_name("country")
        .unwrap()
        .clone();
    let country = country.as_string::<i32>();
    assert_eq!(country.value(0), "DE");
    assert!(country.is_null(39));
    let csv_countries = csv_column(&fixture("events.csv"), "country");
    for (i, c) in csv_countries.iter().enumerate() {
        assert_eq!(country.is_null(i), c.is_empty(), "row {}", i + 1);
        if !c.is_empty() {
            assert_eq!(country.value(i), c, "row {}", i + 1);
        }
    }
}

#[test]
fn a_source_may_be_parquet_beside_a_text_source() {
    let scratch = Scratch::new("parquet-sources");
    let (csv, lake) = (fixture("events.csv"), fixture("events_by_country"));
    let columns = "{contact: contact, timestamp: ts, value: amount, category: channel}";
    let params = scratch.path().join("ingest.yaml");
    std::fs::write(
        &params,
        format!(
            "mode: events\nsources:\n\
             - {{name: text, input: {}, columns: {columns}}}\n\
             - {{name: lake, input: {}, columns: {columns}}}\n\
             keep: [country, items, first_visit, visit_date]\ntypes: {{items: number}}\n",
            csv.display(),
            lake.display()
        ),
    )
    .unwrap();
    let out = scratch.path().join("out");
    let o = segflow(&[
        "ingest",
        "--input",
        csv.to_str().unwrap(),
        "--input",
        lake.to_str().unwrap(),
        "--output-dir",
        out.to_str().unwrap(),
        "--params",
        params.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let batch = read_parquet(&out.join("events.parquet")).unwrap().batch;
    assert_eq!(batch.num_rows(), 80);
    let schema = batch.schema();
    let data: Vec<usize> = (0..batch.num_columns())
        .filter(|&i| !["source", "source_line"].contains(&schema.field(i).name().as_str()))
        .collect();
    let data = batch.project(&data).unwrap();
    assert!(
        data.slice(0, 40) == data.slice(40, 40),
        "{}",
        render_full(&out.join("events.parquet"))
    );
    let source = batch.column_by_name("source").unwrap().as_string::<i32>();
    assert_eq!((source.value(0), source.value(40)), ("text", "lake"));
}

#[test]
fn instants_are_wall_clock_time_in_the_ingest_time_zone_as_pandas_tz_convert_gives() {
    let scratch = Scratch::new("parquet-timezone");
    let want = csv_column(&fixture("events_ts_new_york.csv"), "ts");
    let params = events_params("timezone: America/New_York\n");
    // The file's timestamp[us, tz=UTC] and the directory's INT96 (Spark's instants).
    for (name, input) in [
        ("file", fixture("events.parquet")),
        ("directory", fixture("events_by_country")),
    ] {
        let out = ingested(&scratch, name, &input, &params);
        let batch = read_parquet(&out.join("events.parquet")).unwrap().batch;
        let ts = batch
            .column_by_name("ts")
            .unwrap()
            .as_primitive::<TimestampMicrosecondType>();
        let got: Vec<String> = ts
            .values()
            .iter()
            .map(|&us| {
                arrow::temporal_conversions::timestamp_us_to_datetime(us)
                    .unwrap()
                    .format("%Y-%m-%d %H:%M:%S%.6f")
                    .to_string()
            })
            .collect();
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn table_mode_keeps_the_parquet_types_and_declared_types_override_them() {
    let scratch = Scratch::new("parquet-table");
    let parquet = ingested(
        &scratch,
        "parquet",
        &fixture("table.parquet"),
        "mode: table\ntable: {id: customer_id, types: {age: float64}}\n",
    );
    // From text, the zero-padded codes would be read as integers unless declared.
    let csv = ingested(
        &scratch,
        "csv",
        &fixture("table.csv"),
        "mode: table\ntable: {id: customer_id, types: {age: float64, zip: string}}\n",
    );
    let got = read_parquet(&parquet.join("table.parquet")).unwrap().batch;
    let want = read_parquet(&csv.join("table.parquet")).unwrap().batch;
    assert_eq!(got.num_rows(), 25);
    assert!(
        got == want,
        "{}",
        render_full(&parquet.join("table.parquet"))
    );
    let types: Vec<(String, DataType)> = got
        .schema()
        .fields()
        .iter()
        .map(|f| (f.name().clone(), f.data_type().clone()))
        .collect();
    assert_eq!(
        types,
        [
            ("row_id".to_string(), DataType::Utf8),
            ("age".to_string(), DataType::Float64),
            ("visits".to_string(), DataType::Int64),
            ("spend".to_string(), DataType::Float64),
            ("balance".to_string(), DataType::Float64),
            ("zip".to_string(), DataType::Utf8),
            ("segment".to_string(), DataType::Utf8),
        ]
    );
    let audit = read_parquet(&parquet.join("audit_columns.parquet"))
        .unwrap()
        .batch;
    let sources: Vec<String> = (0..audit.num_rows())
        .map(|i| cell(audit.column_by_name("type_source").unwrap(), i))
        .collect();
    assert_eq!(
        sources,
        [
            "parquet", "declared", "parquet", "parquet", "parquet", "parquet", "parquet"
        ]
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn status(pipeline: &Path) -> String {
    let o = segflow(&["status", pipeline.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    stdout(&o)
}

#[test]
fn a_changed_added_or_removed_part_file_makes_the_stage_stale() {
    let scratch = Scratch::new("parquet-stale");
    let data = scratch.path().join("events_by_country");
    copy_dir(&fixture("events_by_country"), &data);
    let pipeline = scratch.path().join("pipeline.yaml");
    let stage = events_params("").replace('\n', "\n    ");
    std::fs::write(
        &pipeline,
        format!(
            "pipeline: parquet\nseed: 1\nrun_dir: {}\nstages:\n  ingest:\n    input: {}\n    {stage}\n",
            scratch.path().join("run").display(),
            data.display()
        ),
    )
    .unwrap();
    let run = |what: &str| {
        let o = segflow(&["run", pipeline.to_str().unwrap()]);
        assert!(o.status.success(), "{what}: {}", stderr(&o));
    };
    run("first run");
    assert_eq!(status(&pipeline), "ingest: up to date\n");
    // Markers and checksums are not data.
    std::fs::write(data.join("_SUCCESS"), "done").unwrap();
    std::fs::write(data.join("country=FR/.part-0000.parquet.crc"), "changed").unwrap();
    assert_eq!(status(&pipeline), "ingest: up to date\n");

    let de = data.join("country=DE");
    let changed = std::fs::read(de.join("part-0001.parquet")).unwrap();
    std::fs::write(de.join("part-0000.parquet"), changed).unwrap();
    let stale = status(&pipeline);
    assert!(
        stale.starts_with("ingest: stale — input ") && stale.contains("changed"),
        "{stale}"
    );
    run("after a changed part");
    assert_eq!(status(&pipeline), "ingest: up to date\n");

    std::fs::copy(de.join("part-0001.parquet"), de.join("part-0002.parquet")).unwrap();
    assert!(status(&pipeline).contains("changed"), "an added part file");
    run("after an added part");
    std::fs::remove_file(de.join("part-0002.parquet")).unwrap();
    assert!(status(&pipeline).contains("changed"), "a removed part file");
}

/// `segflow ingest` of `input` exits 65 with a message holding every one of `says`, and
/// leaves nothing behind.
fn assert_refused(scratch: &Scratch, name: &str, input: &Path, params: &str, says: &[&str]) {
    let (o, out) = ingest(scratch, name, input, params);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(65), "{name}: {err}");
    for s in says {
        assert!(err.contains(s), "{name}: `{s}` not in {err}");
    }
    assert!(
        !out.exists() || files_under(&out).is_empty(),
        "{name}: written {:?}",
        files_under(&out)
    );
}

#[test]
fn corrupt_parquet_an_empty_directory_and_a_missing_column_are_bad_data() {
    let scratch = Scratch::new("parquet-refused");
    let params = events_params("");
    let whole = std::fs::read(fixture("events.parquet")).unwrap();
    let truncated = scratch.path().join("truncated.parquet");
    std::fs::write(&truncated, &whole[..whole.len() / 2]).unwrap();
    let shown = truncated.display().to_string();
    assert_refused(
        &scratch,
        "truncated",
        &truncated,
        &params,
        &[&shown, "Parquet"],
    );

    // One truncated part among good ones: refused before anything is written, naming it.
    let data = scratch.path().join("dataset");
    copy_dir(&fixture("events_by_country"), &data);
    let part = data.join("country=GB/part-0000.parquet");
    let bytes = std::fs::read(&part).unwrap();
    std::fs::write(&part, &bytes[..bytes.len() - 10]).unwrap();
    let shown = part.display().to_string();
    assert_refused(&scratch, "bad-part", &data, &params, &[&shown, "Parquet"]);

    let empty = scratch.path().join("empty-dataset");
    std::fs::create_dir_all(empty.join("_temporary")).unwrap();
    std::fs::write(empty.join("_SUCCESS"), "").unwrap();
    let shown = empty.display().to_string();
    assert_refused(
        &scratch,
        "empty",
        &empty,
        &params,
        &[&shown, "no Parquet part file"],
    );

    let shown = fixture("events.parquet").display().to_string();
    assert_refused(
        &scratch,
        "missing",
        &fixture("events.parquet"),
        &params.replace("value: amount", "value: price"),
        &[&shown, "column `price`", "required column is missing"],
    );
}
