//! Declared timestamp formats: `unix_seconds`, `unix_millis` and `seconds_since` an origin,
//! against tests/oracle/timestamps.py (Python's datetime over the generated instants), and
//! logs of dates only, whose hour of day is unknown.

use std::path::{Path, PathBuf};

use arrow::array::{Array, AsArray};
use arrow::datatypes::{Float64Type, TimestampMicrosecondType};
use segflow_core::artifact::read_parquet;
use segflow_tests::*;

fn oracle(file: &str) -> PathBuf {
    repo_root().join("tests/oracle/timestamps").join(file)
}

const FEATURES: &str = "blocks:\n\
     \x20 time:\n\
     \x20   first: first_ts\n\
     \x20   last: last_ts\n\
     \x20   recency: recency_days\n\
     \x20   business: {share: {hour_in: [8, 17]}}\n\
     model_blocks: [time]\n";

/// Runs ingest on `csv` with `formats` (a YAML flow mapping), then features; returns the
/// ingest output directory.
fn ingest_and_features(scratch: &Scratch, csv: &Path, formats: &str) -> PathBuf {
    let params = scratch.path().join("ingest.yaml");
    std::fs::write(
        &params,
        format!(
            "mode: events\ncolumns: {{contact: contact, timestamp: ts, value: duration}}\n\
             formats: {formats}\n"
        ),
    )
    .unwrap();
    let ingest = scratch.path().join("ingest");
    let o = run_stage(
        "ingest",
        csv.to_str().unwrap(),
        &ingest,
        params.to_str().unwrap(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let features = scratch.path().join("features.yaml");
    std::fs::write(&features, FEATURES).unwrap();
    let o = run_stage(
        "features",
        ingest.join("events.parquet").to_str().unwrap(),
        &scratch.path().join("features"),
        features.to_str().unwrap(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    ingest
}

/// Compares the features of `scratch` with the oracle, contact by contact.
fn assert_features_match_oracle(scratch: &Scratch) {
    let ours = read_parquet(&scratch.path().join("features/features.parquet")).unwrap();
    let column = |name: &str| ours.batch.column_by_name(name).unwrap().clone();
    let ids = column("contact_id");
    let ids = ids.as_string::<i32>();
    let (first, last) = (column("first"), column("last"));
    let first = first.as_primitive::<TimestampMicrosecondType>();
    let last = last.as_primitive::<TimestampMicrosecondType>();
    let (recency, business) = (column("recency"), column("business"));
    let recency = recency.as_primitive::<Float64Type>();
    let business = business.as_primitive::<Float64Type>();
    let (_, rows) = read_csv(&oracle("features.csv"));
    assert_eq!(ids.len(), rows.len(), "contacts");
    for (r, row) in rows.iter().enumerate() {
        let id = &row[0];
        assert_eq!(ids.value(r), id, "row order");
        assert_eq!(
            first.value(r),
            row[1].parse::<i64>().unwrap(),
            "first of {id}"
        );
        assert_eq!(
            last.value(r),
            row[2].parse::<i64>().unwrap(),
            "last of {id}"
        );
        let want: f64 = row[3].parse().unwrap();
        assert!(
            (recency.value(r) - want).abs() <= 1e-12 * want.abs().max(1.0),
            "recency of {id}: segflow {} vs Python {want}",
            recency.value(r)
        );
        let want: f64 = row[4].parse().unwrap();
        assert!(
            (business.value(r) - want).abs() <= 1e-15,
            "business share of {id}: segflow {} vs Python {want}",
            business.value(r)
        );
    }
}

fn time_of_day_meta(events: &Path) -> Option<String> {
    read_parquet(events)
        .unwrap()
        .metadata
        .get("segflow.time_of_day")
        .cloned()
}

#[test]
fn unix_seconds_give_the_features_python_computes() {
    let scratch = Scratch::new("ts-unix-seconds");
    let ingest = ingest_and_features(
        &scratch,
        &oracle("calls_unix_seconds.csv"),
        "{timestamp: unix_seconds}",
    );
    assert_features_match_oracle(&scratch);
    assert_eq!(time_of_day_meta(&ingest.join("events.parquet")), None);
}

#[test]
fn unix_millis_give_the_features_python_computes() {
    let scratch = Scratch::new("ts-unix-millis");
    ingest_and_features(
        &scratch,
        &oracle("calls_unix_millis.csv"),
        "{timestamp: unix_millis}",
    );
    assert_features_match_oracle(&scratch);
}

#[test]
fn seconds_since_an_origin_give_the_features_python_computes() {
    let scratch = Scratch::new("ts-seconds-since");
    ingest_and_features(
        &scratch,
        &oracle("calls_seconds_since.csv"),
        "{timestamp: seconds_since, origin: '2024-03-10 12:00:00'}",
    );
    assert_features_match_oracle(&scratch);
}

#[test]
fn epoch_values_that_do_not_parse_are_rejects_naming_line_and_field() {
    let scratch = Scratch::new("ts-epoch-rejects");
    let (o, out) = ingest_text(
        scratch.path(),
        "calls.csv",
        "contact,ts,duration\n1,1710000000,5\n2,1.7e9,5\n3,,5\n4,17100000x0,5\n5,-86400.5,5\n",
        "mode: events\ncolumns: {contact: contact, timestamp: ts, value: duration}\n\
         formats: {timestamp: unix_seconds}\nmax_reject_fraction: 0.6\n",
        "out",
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let rejects = render_full(&out.join("rejects.parquet"));
    for needle in [
        "3 | ts | cannot parse as timestamp with format unix_seconds | 1.7e9",
        "4 | ts | empty",
        "5 | ts | cannot parse as timestamp with format unix_seconds | 17100000x0",
    ] {
        assert!(rejects.contains(needle), "{needle} not in {rejects}");
    }
    let events = render_full(&out.join("events.parquet"));
    // 1710000000 s = 19791 days + 57600 s = 2024-03-09 16:00:00; -86400.5 s is half a
    // second before 1969-12-31 00:00:00.
    for ts in ["| 2024-03-09 16:00:00 |", "| 1969-12-30 23:59:59.500 |"] {
        assert!(events.contains(ts), "{ts} not in {events}");
    }
}

/// Runs ingest with `formats` on a two-column relative log; returns the process output.
fn ingest_relative(scratch: &Scratch, formats: &str) -> std::process::Output {
    let csv = scratch.path().join("calls.csv");
    std::fs::write(&csv, "contact,ts\n1,0\n2,-3600\n").unwrap();
    let params = scratch.path().join("ingest.yaml");
    std::fs::write(
        &params,
        format!("mode: events\ncolumns: {{contact: contact, timestamp: ts}}\nformats: {formats}\n"),
    )
    .unwrap();
    run_stage(
        "ingest",
        csv.to_str().unwrap(),
        &scratch.path().join("out"),
        params.to_str().unwrap(),
    )
}

#[test]
fn seconds_since_without_a_valid_origin_is_a_config_error() {
    for (formats, needle) in [
        ("{timestamp: seconds_since}", "need an origin"),
        (
            "{timestamp: seconds_since, origin: '2024-13-01 00:00:00'}",
            "is not a timestamp `YYYY-MM-DD HH:MM:SS`",
        ),
        (
            "{timestamp: seconds_since, origin: '2024-03-01'}",
            "2024-03-01",
        ),
    ] {
        let scratch = Scratch::new("ts-bad-origin");
        let o = ingest_relative(&scratch, formats);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(78), "{formats}: {err}");
        assert!(err.contains("formats.origin"), "{formats}: {err}");
        assert!(err.contains(needle), "{formats}: {err}");
    }
}

#[test]
fn a_date_only_log_refuses_hour_features_and_its_audit_says_the_hour_is_unknown() {
    for (columns, formats) in [
        ("{contact: contact, date: day}", "{date: '%d.%m.%Y'}"),
        (
            "{contact: contact, timestamp: day}",
            "{timestamp: '%d.%m.%Y'}",
        ),
    ] {
        let scratch = Scratch::new("ts-date-only");
        let csv = scratch.path().join("calls.csv");
        std::fs::write(
            &csv,
            "contact,day\n1,01.03.2024\n1,02.03.2024\n2,05.03.2024\n",
        )
        .unwrap();
        let params = scratch.path().join("ingest.yaml");
        std::fs::write(
            &params,
            format!("mode: events\ncolumns: {columns}\nformats: {formats}\n"),
        )
        .unwrap();
        let ingest = scratch.path().join("ingest");
        let o = run_stage(
            "ingest",
            csv.to_str().unwrap(),
            &ingest,
            params.to_str().unwrap(),
        );
        assert!(o.status.success(), "{}", stderr(&o));
        let events = ingest.join("events.parquet");
        assert_eq!(time_of_day_meta(&events).as_deref(), Some("false"));
        let bands = render_full(&ingest.join("audit_time_bands.parquet"));
        assert!(
            bands.contains("hour unknown (dates only) | ∅ | ∅ | 3"),
            "{bands}"
        );
        assert!(!bands.contains("early_morning"), "{bands}");

        let features = scratch.path().join("features.yaml");
        std::fs::write(&features, FEATURES.replace("    first: first_ts\n", "")).unwrap();
        let o = run_stage(
            "features",
            events.to_str().unwrap(),
            &scratch.path().join("features"),
            features.to_str().unwrap(),
        );
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(78), "{err}");
        for needle in ["blocks.time.business", "dates only"] {
            assert!(err.contains(needle), "{needle} not in {err}");
        }
    }
}

#[test]
fn a_date_only_log_still_gives_day_level_features() {
    let scratch = Scratch::new("ts-date-only-ok");
    let (o, ingest) = ingest_text(
        scratch.path(),
        "calls.csv",
        "contact,day\n1,2024-03-01\n1,2024-03-02\n2,2024-03-05\n",
        "mode: events\ncolumns: {contact: contact, date: day}\n",
        "ingest",
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let features = scratch.path().join("features.yaml");
    std::fs::write(
        &features,
        "blocks: {time: {recency: recency_days}}\nmodel_blocks: [time]\n",
    )
    .unwrap();
    let out = scratch.path().join("features");
    let o = run_stage(
        "features",
        ingest.join("events.parquet").to_str().unwrap(),
        &out,
        features.to_str().unwrap(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let ours = read_parquet(&out.join("features.parquet")).unwrap();
    let recency = ours.batch.column_by_name("recency").unwrap();
    let mut recency: Vec<f64> = recency.as_primitive::<Float64Type>().values().to_vec();
    recency.sort_by(f64::total_cmp);
    // Contact 1 last called on the 2nd, contact 2 on the 5th: 3 days and 0.
    assert_eq!(recency, [0.0, 3.0]);
    assert_eq!(ours.batch.column(0).len(), 2);
}

/// Epoch timestamps ingested with `timezone:`, against tests/oracle/timezone.py (Python's
/// zoneinfo): every event's wall-clock time, across both zones' daylight-saving changes in
/// March 2024, and the zone recorded in the artifact.
#[test]
fn epoch_timestamps_follow_the_configured_time_zone() {
    let (header, records) = read_csv(&oracle("timezone.csv"));
    for zone in ["America/New_York", "Europe/Berlin"] {
        let scratch = Scratch::new("timezone");
        let params = scratch.path().join("ingest.yaml");
        std::fs::write(
            &params,
            format!(
                "mode: events\ncolumns: {{contact: contact, timestamp: ts, value: duration}}\n\
                 formats: {{timestamp: unix_seconds}}\ntimezone: {zone}\n"
            ),
        )
        .unwrap();
        let out = scratch.path().join("ingest");
        let o = run_stage(
            "ingest",
            oracle("calls_unix_seconds.csv").to_str().unwrap(),
            &out,
            params.to_str().unwrap(),
        );
        assert!(o.status.success(), "{}", stderr(&o));
        let events = read_parquet(&out.join("events.parquet")).unwrap();
        assert_eq!(events.meta("segflow.timezone"), Some(zone));
        let ts = events
            .column("ts")
            .unwrap()
            .as_primitive::<TimestampMicrosecondType>()
            .clone();
        let lines = events
            .column("source_line")
            .unwrap()
            .as_primitive::<arrow::datatypes::UInt64Type>()
            .clone();
        let z = csv_position(&header, zone);
        assert_eq!(ts.len(), records.len());
        for r in 0..ts.len() {
            let want = &records[lines.value(r) as usize - 2];
            assert_eq!(want[0].parse::<u64>().unwrap(), lines.value(r));
            assert_eq!(
                ts.value(r),
                want[z].parse::<i64>().unwrap(),
                "{zone} line {}",
                lines.value(r)
            );
        }
    }
}

#[test]
fn an_unknown_time_zone_is_a_config_error() {
    let scratch = Scratch::new("timezone-bad");
    let params = scratch.path().join("ingest.yaml");
    std::fs::write(
        &params,
        "mode: events\ncolumns: {contact: contact, timestamp: ts}\n\
         formats: {timestamp: unix_seconds}\ntimezone: Mars/Olympus\n",
    )
    .unwrap();
    let out = scratch.path().join("ingest");
    let o = run_stage(
        "ingest",
        oracle("calls_unix_seconds.csv").to_str().unwrap(),
        &out,
        params.to_str().unwrap(),
    );
    assert_eq!(o.status.code(), Some(78), "{}", stderr(&o));
    assert!(stderr(&o).contains("timezone") && stderr(&o).contains("Mars/Olympus"));
    assert!(!out.exists());
}
