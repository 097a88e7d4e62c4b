//! Generated call logs run through the default pipeline's ingest and features, as the memory
//! and speed measurements use them.

use segflow_core::artifact::read_parquet;
use segflow_tests::*;

#[test]
fn a_generated_call_log_runs_through_ingest_and_features() {
    let scratch = Scratch::new("synth-calls");
    let calls = scratch.path().join("calls.csv");
    let o = segflow(&[
        "synth",
        "calls",
        "--rows",
        "20000",
        "--contacts",
        "500",
        "--seed",
        "3",
        "--output",
        calls.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let active: usize = stdout(&o)
        .split(" among ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|s| s.parse().ok())
        .unwrap();
    let pipeline = isolated_pipeline("walsoft", scratch.path(), |doc| {
        stop_after(doc, "features");
        doc["stages"]["ingest"]["input"] = calls.to_str().unwrap().into();
    });
    let o = segflow(&["run", pipeline.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let events = read_parquet(&scratch.path().join("run/ingest/events.parquet")).unwrap();
    assert_eq!(events.batch.num_rows(), 20000);
    let features = read_parquet(&scratch.path().join("run/features/features.parquet")).unwrap();
    assert_eq!(features.batch.num_rows(), active);
}
