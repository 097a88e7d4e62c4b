//! Naming roles on a real run: ranking on a statistic other than the median, thresholds that
//! no cluster meets (the role stays unclaimed and the summary says why), a threshold that
//! narrows the choice, and a narrative share written as a percentage — each checked against
//! statistics the test computes itself from the features and the assignments.

use std::path::Path;

use arrow::array::AsArray;
use arrow::datatypes::{Float64Type, Int32Type};
use segflow_core::artifact::read_parquet;
use segflow_tests::*;

const ACTION: &str = "{decision_use: a, operational_rule: b, typical_pattern: c}";

/// Per cluster, the values of a feature over its members (features and assignments share
/// the row order: ascending contact id).
fn by_cluster(run: &Path, feature: &str) -> Vec<Vec<f64>> {
    let features = read_parquet(&run.join("features/features.parquet")).unwrap();
    let assignments = read_parquet(&run.join("fit/assignments.parquet")).unwrap();
    let values = features.column(feature).unwrap();
    let values: Vec<f64> = match values.as_primitive_opt::<Float64Type>() {
        Some(v) => v.values().to_vec(),
        None => arrow::compute::cast(values, &arrow::datatypes::DataType::Float64)
            .unwrap()
            .as_primitive::<Float64Type>()
            .values()
            .to_vec(),
    };
    let labels = assignments.column("cluster").unwrap();
    let labels = labels.as_primitive::<Int32Type>();
    let k = labels.values().iter().max().unwrap() + 1;
    let mut out = vec![Vec::new(); k as usize];
    for (v, l) in values.iter().zip(labels.values()) {
        out[*l as usize].push(*v);
    }
    out
}

fn segment_names(run: &Path) -> Vec<String> {
    let policy = read_parquet(&run.join("fit/policy.parquet")).unwrap();
    policy
        .column("segment")
        .unwrap()
        .as_string::<i32>()
        .iter()
        .map(|s| s.unwrap().to_string())
        .collect()
}

fn summary(run: &Path, metric: &str) -> Vec<String> {
    let s = read_parquet(&run.join("fit/summary.parquet")).unwrap();
    let metrics = s.column("metric").unwrap().as_string::<i32>().clone();
    let values = s.column("value").unwrap().as_string::<i32>().clone();
    (0..s.batch.num_rows())
        .filter(|&r| metrics.value(r) == metric)
        .map(|r| values.value(r).to_string())
        .collect()
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

fn share_nonzero(v: &[f64]) -> f64 {
    v.iter().filter(|x| **x != 0.0).count() as f64 / v.len() as f64
}

/// A role whose threshold no cluster meets claims nothing, not the least-bad cluster; a role
/// ranking on the mean among clusters meeting a share_nonzero bar takes the cluster the test
/// finds itself; the narrative writes the share as a percentage.
#[test]
fn roles_with_thresholds_and_statistics_name_the_clusters_the_data_says() {
    let scratch = Scratch::new("naming-thresholds");
    let roles = format!(
        "narrative: 'Night callers: {{share_nonzero:night_share|pct}}.',\n\
         naming: {{roles: [\n\
         {{name: Marathon, by: [{{highest: n_calls}}], where: {{median: {{n_calls: {{ge: 100000}}}}}}, action: {ACTION}}},\n\
         {{name: Night busy, by: [{{highest: n_calls, stat: mean}}], \
           where: {{share_nonzero: {{night_share: {{ge: 0.5}}}}}}, action: {ACTION}}}]}}"
    );
    let run = calllog_run(scratch.path(), 4, &roles);
    let names = segment_names(&run);
    let n_calls = by_cluster(&run, "n_calls");
    let night = by_cluster(&run, "night_share");

    assert!(!names.contains(&"Marathon".to_string()), "{names:?}");
    let unclaimed = summary(&run, "unclaimed_role");
    assert_eq!(unclaimed.len(), 1, "{unclaimed:?}");
    assert!(
        unclaimed[0].starts_with(
            "role Marathon: unclaimed, no cluster left meets all of median n_calls ≥ 100000"
        ),
        "{}",
        unclaimed[0]
    );

    let eligible: Vec<usize> = (0..night.len())
        .filter(|&c| share_nonzero(&night[c]) >= 0.5)
        .collect();
    let expected = eligible.iter().copied().max_by(|&a, &b| {
        mean(&n_calls[a])
            .total_cmp(&mean(&n_calls[b]))
            .then(b.cmp(&a))
    });
    let c = expected.expect("a cluster where most members call at night");
    assert!(
        eligible.len() < night.len(),
        "the bar leaves some cluster out"
    );
    assert_eq!(names[c], "Night busy", "{names:?}");
    let rule = read_parquet(&run.join("fit/policy.parquet")).unwrap();
    let rule = rule
        .column("naming_rule")
        .unwrap()
        .as_string::<i32>()
        .value(c)
        .to_string();
    assert!(
        rule.contains("highest mean n_calls") && rule.contains("share_nonzero night_share ≥ 0.500"),
        "{rule}"
    );

    let findings = read_parquet(&run.join("fit/findings.parquet")).unwrap();
    let narratives = findings
        .column("narrative")
        .unwrap()
        .as_string::<i32>()
        .clone();
    for (c, values) in night.iter().enumerate() {
        assert_eq!(
            narratives.value(c),
            format!("Night callers: {:.1} %.", share_nonzero(values) * 100.0)
        );
    }
}

/// A threshold on a feature the run does not have is a config error naming the key, before
/// anything runs.
#[test]
fn a_threshold_on_an_unknown_feature_is_a_config_error() {
    let scratch = Scratch::new("naming-unknown");
    let text =
        std::fs::read_to_string(repo_root().join("tests/oracle/calllog/pipeline.yaml")).unwrap();
    let mut doc: yaml_serde::Value = yaml_serde::from_str(&text).unwrap();
    doc["run_dir"] = yaml_serde::Value::String(scratch.path().join("run").display().to_string());
    let fit: yaml_serde::Value = yaml_serde::from_str(&format!(
        "{{needs: [preprocess, features], k: 3, naming: {{roles: [{{name: R, \
         where: {{q90: {{n_cals: {{gt: 1}}}}}}, action: {ACTION}}}]}}}}"
    ))
    .unwrap();
    let stages = doc["stages"].as_mapping_mut().unwrap();
    stages.insert(
        "preprocess".into(),
        yaml_serde::from_str("{needs: [features]}").unwrap(),
    );
    stages.insert("fit".into(), fit);
    let path = scratch.path().join("pipeline.yaml");
    std::fs::write(&path, yaml_serde::to_string(&doc).unwrap()).unwrap();
    let out = segflow(&["run", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(78), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("naming.roles[0].where.q90.n_cals"), "{err}");
    assert!(err.contains("n_calls"), "did you mean: {err}");
    assert!(!scratch.path().join("run/ingest").exists());
}
