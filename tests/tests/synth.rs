//! Generated call logs run through the default pipeline's ingest and features, as the memory
//! and speed measurements use them, large enough that both stages stream in several batches.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use arrow::array::{Array, Float64Array, Int64Array, StringArray};
use segflow_core::artifact::{ParquetBatches, ROW_GROUP_ROWS, read_parquet};
use segflow_tests::*;

const ROWS: usize = 300_000;

/// Runs the default pipeline's ingest and features over `calls` into `dir/run`.
fn ingest_and_features(dir: &Path, calls: &Path, features: impl Fn(&mut yaml_serde::Value)) {
    let pipeline = isolated_pipeline("walsoft", dir, |doc| {
        stop_after(doc, "features");
        doc["stages"]["ingest"]["input"] = calls.to_str().unwrap().into();
        features(&mut doc["stages"]["features"]);
    });
    let o = segflow(&["run", pipeline.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
}

/// contact_id → (column → value as f64) for every numeric column.
fn rows(features: &segflow_core::artifact::Artifact) -> BTreeMap<String, BTreeMap<String, f64>> {
    let b = &features.batch;
    let ids = b.column(0).as_any().downcast_ref::<StringArray>().unwrap();
    let mut out = BTreeMap::new();
    for r in 0..b.num_rows() {
        let mut row = BTreeMap::new();
        for (field, column) in b.schema().fields().iter().zip(b.columns()).skip(1) {
            let v = if let Some(f) = column.as_any().downcast_ref::<Float64Array>() {
                f.value(r)
            } else if let Some(i) = column.as_any().downcast_ref::<Int64Array>() {
                i.value(r) as f64
            } else {
                continue;
            };
            row.insert(field.name().clone(), v);
        }
        out.insert(ids.value(r).to_string(), row);
    }
    out
}

#[test]
fn a_generated_call_log_streams_through_ingest_and_features() {
    let scratch = Scratch::new("synth-calls");
    let calls = scratch.path().join("calls.csv");
    let o = synth_calls(&calls, ROWS as u64, 100_000, 3);
    let active: usize = stdout(&o)
        .split(" among ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|s| s.parse().ok())
        .unwrap();
    ingest_and_features(scratch.path(), &calls, |_| {});
    let run = scratch.path().join("run");
    let events = read_parquet(&run.join("ingest/events.parquet")).unwrap();
    assert_eq!(events.batch.num_rows(), ROWS);
    let groups = parquet::file::reader::FileReader::metadata(
        &parquet::file::reader::SerializedFileReader::new(
            std::fs::File::open(run.join("ingest/events.parquet")).unwrap(),
        )
        .unwrap(),
    )
    .num_row_groups();
    assert_eq!(groups, ROWS.div_ceil(ROW_GROUP_ROWS));
    let features = read_parquet(&run.join("features/features.parquet")).unwrap();
    assert_eq!(features.batch.num_rows(), active);
    assert!(
        active > ParquetBatches::BATCH_ROWS,
        "one batch only: {active}"
    );

    // The contacts of the log's first and last 200 calls, alone in a log of their own, get
    // the features they got among everyone (with the full log's as-of time and long-call
    // threshold): aggregation does not depend on which batch a contact or event fell in.
    let (header, records) = read_csv(&calls);
    let contact = csv_position(&header, "dialled_phone_number");
    let chosen: BTreeSet<&str> = records[..200]
        .iter()
        .chain(&records[records.len() - 200..])
        .map(|r| &r[contact])
        .collect();
    let subset_dir = scratch.path().join("subset");
    std::fs::create_dir_all(&subset_dir).unwrap();
    let subset_calls = subset_dir.join("calls.csv");
    write_csv(
        &subset_calls,
        &header,
        records.iter().filter(|r| chosen.contains(&r[contact])),
    );
    let as_of = features.meta("segflow.as_of").unwrap().to_string();
    let thresholds: Vec<(String, String)> =
        serde_json::from_str(features.meta("segflow.thresholds").unwrap()).unwrap();
    ingest_and_features(&subset_dir, &subset_calls, |f| {
        f["as_of"] = as_of.clone().into();
        for (name, value) in &thresholds {
            f["thresholds"][name.as_str()] = value.parse::<f64>().unwrap().into();
        }
    });
    let part = rows(&read_parquet(&subset_dir.join("run/features/features.parquet")).unwrap());
    let whole = rows(&features);
    assert_eq!(part.len(), chosen.len());
    let ranks: Vec<usize> = part
        .keys()
        .map(|id| whole.keys().position(|k| k == id).unwrap())
        .collect();
    assert!(ranks.iter().any(|&r| r >= ParquetBatches::BATCH_ROWS));
    assert!(ranks.iter().any(|&r| r < ParquetBatches::BATCH_ROWS));
    for (id, row) in &part {
        for (column, value) in &whole[id] {
            // A category no chosen contact called is no column of the subset: its share is 0.
            let expected = row.get(column).copied().unwrap_or(0.0);
            assert_eq!(value.to_bits(), expected.to_bits(), "{id} {column}");
        }
    }
}
