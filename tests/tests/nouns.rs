//! The pipeline's nouns and the report's dates: a misdeclared `nouns` block is a config error
//! before anything runs, and a log of offsets reads as days of the study, not as 1970.

use segflow_tests::*;

fn nouns_error(edit: impl FnOnce(&mut yaml_serde::Value)) -> String {
    let scratch = Scratch::new("nouns-error");
    let pipeline = isolated_pipeline("wholesale", scratch.path(), edit);
    let out = segflow(&["run", pipeline.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(78), "{}", stderr(&out));
    assert!(
        !scratch.path().join("run").exists(),
        "a config error writes nothing"
    );
    stderr(&out)
}

#[test]
fn a_misspelled_noun_key_is_a_config_error_naming_it() {
    let err = nouns_error(|d| {
        d["nouns"] = yaml_serde::from_str("{entity: client, evnt: order}").unwrap();
    });
    assert!(err.contains("nouns"), "{err}");
    assert!(err.contains("evnt"), "{err}");
}

#[test]
fn nouns_are_declared_once() {
    let err = nouns_error(|d| {
        d["stages"]["fit"]["nouns"] = yaml_serde::from_str("{entity: shop}").unwrap();
    });
    assert!(err.contains("stages.fit.nouns"), "{err}");
    assert!(err.contains("declare them once"), "{err}");
}

/// Days from 1970-01-01 to a civil date (Howard Hinnant's algorithm), to rewrite the Walsoft
/// log as offsets without using segflow's own calendar.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[test]
fn a_log_of_offsets_reads_as_days_of_the_study() {
    let scratch = Scratch::new("nouns-relative");
    let source = repo_root().join("data/walsoft/walsoft_semi_categorized_phone_dataset.csv");
    let (header, rows) = read_csv(&source);
    let col = |name: &str| csv_position(&header, name);
    let origin = days_from_civil(2022, 1, 1) * 86_400;
    let mut text = String::from("offset,dialled_phone_number,name,duration_in_seconds,category\n");
    for r in &rows {
        let date: Vec<i64> = r[col("date_stamp")]
            .split('/')
            .map(|p| p.parse().unwrap())
            .collect();
        let time: Vec<i64> = r[col("time")]
            .split(':')
            .map(|p| p.parse().unwrap())
            .collect();
        let t = days_from_civil(date[2], date[0], date[1]) * 86_400
            + time[0] * 3600
            + time[1] * 60
            + time[2];
        text.push_str(&format!(
            "{},{},{},{},{}\n",
            t - origin,
            &r[col("dialled_phone_number")],
            &r[col("name")],
            &r[col("duration_in_seconds")],
            &r[col("category")]
        ));
    }
    let csv = scratch.path().join("offsets.csv");
    std::fs::write(&csv, text).unwrap();
    let pipeline = isolated_pipeline("walsoft", scratch.path(), |d| {
        let ingest = &mut d["stages"]["ingest"];
        ingest["input"] = yaml_serde::Value::String(csv.display().to_string());
        ingest["columns"] = yaml_serde::from_str(
            "{contact: dialled_phone_number, timestamp: offset, value: duration_in_seconds, category: category}",
        )
        .unwrap();
        ingest["formats"] =
            yaml_serde::from_str("{timestamp: seconds_since, origin: '2022-01-01 00:00:00'}")
                .unwrap();
    });
    let out = segflow(&["run", pipeline.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report = std::fs::read_to_string(scratch.path().join("run/visualize/report.html")).unwrap();
    // The log's last call is on 2024-10-04: the days from the origin's day to it, plus 1 for
    // the origin's own day (day 1).
    let last = days_from_civil(2024, 10, 4) - days_from_civil(2022, 1, 1) + 1;
    let day = format!("day {last} of the study");
    assert!(
        report.contains(&format!("Recency is measured from {day}")),
        "the recency limitation does not count days of the study"
    );
    assert!(
        report.contains(&format!("<td>{day}</td>")),
        "the audit's last event is not a day of the study"
    );
    assert!(report.contains("<td>day 1 of the study</td>"));
    assert!(!report.contains("1970"), "a relative log reads as 1970");
    // The monthly chart's bars are calendar months of the shifted clock: labelled by the days
    // of the study they hold, never by the origin's calendar.
    let monthly = std::fs::read_to_string(
        scratch
            .path()
            .join("run/visualize/chart_monthly_volume.svg"),
    )
    .unwrap();
    assert!(monthly.contains("\ndays 1–31\n"), "{monthly}");
    assert!(
        !monthly.contains("\n2022-"),
        "a relative log's months read as dates"
    );
}
