//! The fit stage on the Walsoft data against scikit-learn and pandas
//! (tests/oracle/walsoft_fit.py), its names and actions, and `segflow assign`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use arrow::array::{Array, AsArray};
use arrow::datatypes::{Float64Type, UInt32Type, UInt64Type};
use segflow_core::artifact::{Artifact, read_parquet};
use segflow_tests::*;

/// The Walsoft pipeline through fit (the later stages do not bear on these tests).
fn run_walsoft(scratch: &Scratch) -> PathBuf {
    let pipeline = isolated_pipeline("walsoft", scratch.path(), |doc| stop_after(doc, "fit"));
    let out = segflow(&["run", pipeline.to_str().unwrap()]);
    assert!(out.status.success(), "run failed: {}", stderr(&out));
    scratch.path().join("run")
}

fn floats(a: &Artifact, name: &str) -> Vec<f64> {
    a.float_column(name).unwrap()
}

fn texts(a: &Artifact, name: &str) -> Vec<String> {
    a.batch
        .column_by_name(name)
        .unwrap_or_else(|| panic!("no column {name}"))
        .as_string::<i32>()
        .iter()
        .map(|v| v.unwrap().to_string())
        .collect()
}

fn u32s(a: &Artifact, name: &str) -> Vec<u32> {
    a.batch
        .column_by_name(name)
        .unwrap()
        .as_primitive::<UInt32Type>()
        .values()
        .to_vec()
}

fn close(ours: f64, oracle: f64, rel: f64) -> bool {
    (ours - oracle).abs() <= rel * oracle.abs().max(1.0)
}

/// The oracle as (cluster, stat, feature) → value.
fn oracle() -> HashMap<(String, String, String), f64> {
    let (header, records) = read_csv(&repo_root().join("tests/oracle/walsoft_fit.csv"));
    let at = |column: &str| csv_position(&header, column);
    let (cluster, stat, feature, value) = (at("cluster"), at("stat"), at("feature"), at("value"));
    records
        .iter()
        .map(|r| {
            (
                (
                    r[cluster].to_string(),
                    r[stat].to_string(),
                    r[feature].to_string(),
                ),
                r[value].parse().unwrap(),
            )
        })
        .collect()
}

#[test]
fn fit_matches_scikit_learn_and_pandas_on_every_card_statistic() {
    let scratch = Scratch::new("fit-oracle");
    let run = run_walsoft(&scratch);
    let oracle = oracle();
    let get = |c: &str, stat: &str, f: &str| {
        *oracle
            .get(&(c.to_string(), stat.to_string(), f.to_string()))
            .unwrap_or_else(|| panic!("oracle lacks {c} {stat} {f}"))
    };
    let summary = read_parquet(&run.join("fit/summary.parquet")).unwrap();
    let metric = |name: &str| {
        let i = texts(&summary, "metric")
            .iter()
            .position(|m| m == name)
            .unwrap();
        floats(&summary, "number")[i]
    };
    assert!(close(metric("inertia"), get("", "inertia", ""), 1e-9));
    assert!(close(metric("silhouette"), get("", "silhouette", ""), 1e-9));

    let cards = read_parquet(&run.join("fit/cards.parquet")).unwrap();
    let sizes: Vec<u64> = cards
        .batch
        .column_by_name("n_contacts")
        .unwrap()
        .as_primitive::<UInt64Type>()
        .values()
        .to_vec();
    let mut compared = 0;
    for (c, &size) in sizes.iter().enumerate() {
        let cl = c.to_string();
        assert_eq!(
            size as f64,
            get(&cl, "n_contacts", ""),
            "size of cluster {c}"
        );
        for (key, stat, feature) in oracle.keys().filter(|k| k.0 == cl) {
            let column = match stat.as_str() {
                "median" => format!("median_{feature}"),
                "q25" | "q75" => format!("{feature}_{stat}"),
                "mean" => format!("mean_{feature}"),
                "pct_any" => format!("pct_any_{feature}"),
                _ => continue,
            };
            let ours = floats(&cards, &column)[c];
            let want = get(key, stat, feature);
            assert!(close(ours, want, 1e-12), "{column}[{c}]: {ours} vs {want}");
            compared += 1;
        }
    }
    assert_eq!(compared, 4 * (14 + 8 + 6 + 4));

    let profile = read_parquet(&run.join("fit/profile.parquet")).unwrap();
    let (pc, pf, pd) = (
        u32s(&profile, "cluster"),
        texts(&profile, "feature"),
        floats(&profile, "std_diff"),
    );
    let mut diffs = 0;
    for i in 0..pc.len() {
        if let Some(want) = oracle.get(&(pc[i].to_string(), "std_diff".into(), pf[i].clone())) {
            assert!(close(pd[i], *want, 1e-9), "std_diff {} {}", pc[i], pf[i]);
            diffs += 1;
        }
    }
    assert_eq!(diffs, 4 * 20);

    let centroids = read_parquet(&run.join("fit/centroids.parquet")).unwrap();
    let space = texts(&centroids, "space");
    let mut cells = 0;
    for ((cl, stat, feature), want) in &oracle {
        if stat == "centroid" {
            let c: usize = cl.parse().unwrap();
            assert_eq!(space[c], "scaled");
            let ours = floats(&centroids, feature)[c];
            assert!(close(ours, *want, 1e-9), "centroid {c} {feature}");
            cells += 1;
        }
    }
    assert_eq!(cells, 4 * 20);
}

#[test]
fn four_named_segments_carry_actions_and_the_k_reason() {
    let scratch = Scratch::new("fit-names");
    let run = run_walsoft(&scratch);
    let policy = read_parquet(&run.join("fit/policy.parquet")).unwrap();
    assert_eq!(
        texts(&policy, "segment"),
        ["One-off", "Warm occasional", "Core active", "Rare deep"]
    );
    for column in ["decision_use", "operational_rule", "typical_pattern"] {
        assert!(texts(&policy, column).iter().all(|t| t.len() > 10));
    }
    assert!(texts(&policy, "naming_rule")[0].starts_with("role One-off: lowest median n_calls"));
    let summary = render_full(&run.join("fit/summary.parquet"));
    assert!(
        summary.contains("k_reason | Knee of the inertia curve (Kneedle) at K = 4"),
        "{summary}"
    );
    let findings = read_parquet(&run.join("fit/findings.parquet")).unwrap();
    assert!(texts(&findings, "narrative")[2].starts_with("A typical contact made 35.50 calls"));

    // Each CSV holds the same table as its Parquet twin.
    for name in ["cards", "policy", "findings", "summary"] {
        let parquet = read_parquet(&run.join(format!("fit/{name}.parquet"))).unwrap();
        let mut csv = csv::Reader::from_path(run.join(format!("fit/{name}.csv"))).unwrap();
        let header: Vec<String> = csv.headers().unwrap().iter().map(String::from).collect();
        let names: Vec<String> = column_names(&parquet);
        assert_eq!(header, names, "{name}.csv header");
        let records: Vec<csv::StringRecord> = csv.records().map(Result::unwrap).collect();
        assert_eq!(records.len(), parquet.batch.num_rows(), "{name}.csv rows");
        for (j, field) in parquet.batch.schema().fields().iter().enumerate() {
            let column = parquet.batch.column(j);
            for (r, record) in records.iter().enumerate() {
                let text = &record[j];
                match field.data_type() {
                    arrow::datatypes::DataType::Float64 => {
                        let v = column.as_primitive::<Float64Type>();
                        if v.is_null(r) {
                            assert_eq!(text, "");
                        } else {
                            assert_eq!(text.parse::<f64>().unwrap(), v.value(r), "{name} {r} {j}");
                        }
                    }
                    arrow::datatypes::DataType::Utf8 => {
                        assert_eq!(text, column.as_string::<i32>().value(r))
                    }
                    _ => assert_eq!(text, cell(column.as_ref(), r)),
                }
            }
        }
    }
}

fn walsoft_csv() -> PathBuf {
    repo_root().join("data/walsoft/walsoft_semi_categorized_phone_dataset.csv")
}

fn assign(run: &Path, input: &Path, output: &Path) -> std::process::Output {
    segflow(&[
        "assign",
        "--model",
        run.to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
        "--output",
        output.to_str().unwrap(),
        "--json",
    ])
}

#[test]
fn assigning_the_training_contacts_reproduces_fit_exactly() {
    let scratch = Scratch::new("fit-assign");
    let run = run_walsoft(&scratch);
    let out = scratch.path().join("scored/assigned.parquet");
    let o = assign(&run, &walsoft_csv(), &out);
    assert!(o.status.success(), "{}", stderr(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["rows"], 2091);
    let ours = read_parquet(&out).unwrap();
    let fit = read_parquet(&run.join("fit/assignments.parquet")).unwrap();
    assert_eq!(texts(&ours, "contact_id"), texts(&fit, "contact_id"));
    assert_eq!(floats(&ours, "cluster"), floats(&fit, "cluster"));
    assert_eq!(texts(&ours, "segment"), texts(&fit, "segment"));
    assert_eq!(floats(&ours, "distance"), floats(&fit, "distance"));
    assert_eq!(floats(&ours, "margin"), floats(&fit, "margin"));
    assert!(texts(&ours, "decision_use").iter().all(|t| !t.is_empty()));
    // Nothing but the output is left beside it.
    assert_eq!(
        files_under(&scratch.path().join("scored")),
        ["assigned.parquet"]
    );
    // Same inputs, same bytes.
    let again = scratch.path().join("scored/again.parquet");
    assert!(assign(&run, &walsoft_csv(), &again).status.success());
    assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(&again).unwrap());
}

#[test]
fn new_records_are_scored_and_bad_ones_are_named() {
    let scratch = Scratch::new("fit-assign-new");
    let run = run_walsoft(&scratch);
    // The last 3,000 calls of the log, as a later export would hold.
    let (header, records) = read_csv(&walsoft_csv());
    let recent = scratch.path().join("recent.csv");
    write_csv(&recent, &header, &records[records.len() - 3000..]);
    let out = scratch.path().join("recent.parquet");
    let o = assign(&run, &recent, &out);
    assert!(o.status.success(), "{}", stderr(&o));
    let scored = read_parquet(&out).unwrap();
    let training: std::collections::HashSet<String> = texts(
        &read_parquet(&run.join("fit/assignments.parquet")).unwrap(),
        "contact_id",
    )
    .into_iter()
    .collect();
    let ids = texts(&scored, "contact_id");
    assert!(!ids.is_empty() && ids.iter().all(|id| training.contains(id)));

    // A file without the duration column: exit 65 naming the file and the column.
    let drop = csv_position(&header, "duration_in_seconds");
    let cut = |r: &csv::StringRecord| -> csv::StringRecord {
        r.iter()
            .enumerate()
            .filter(|(i, _)| *i != drop)
            .map(|(_, f)| f)
            .collect()
    };
    let bad = scratch.path().join("no_duration.csv");
    write_csv(
        &bad,
        &cut(&header),
        &records[..49].iter().map(cut).collect::<Vec<_>>(),
    );
    let bad_out = scratch.path().join("bad.parquet");
    let o = assign(&run, &bad, &bad_out);
    assert_eq!(o.status.code(), Some(65), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("no_duration.csv") && stderr(&o).contains("duration_in_seconds"),
        "{}",
        stderr(&o)
    );
    assert!(!bad_out.exists());
    assert_eq!(
        files_under(scratch.path())
            .iter()
            .filter(|f| f.contains(".assign-"))
            .count(),
        0,
        "no scratch left behind"
    );

    // No such model: 66. An edited model artifact: 65, named.
    let o = assign(&scratch.path().join("nowhere"), &recent, &bad_out);
    assert_eq!(o.status.code(), Some(66), "{}", stderr(&o));
    let centroids = run.join("fit/centroids.parquet");
    let mut bytes = std::fs::read(&centroids).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    std::fs::write(&centroids, bytes).unwrap();
    let o = assign(&run, &recent, &bad_out);
    assert_eq!(o.status.code(), Some(65));
    assert!(
        stderr(&o).contains("centroids.parquet") && stderr(&o).contains("changed since"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn fit_runs_alone_with_k_in_its_params_and_needs_a_k() {
    let scratch = Scratch::new("fit-alone");
    let run = run_walsoft(&scratch);
    let text = std::fs::read_to_string(repo_root().join("pipelines/walsoft.yaml")).unwrap();
    let doc: yaml_serde::Value = yaml_serde::from_str(&text).unwrap();
    let mut block = doc["stages"]["fit"].as_mapping().unwrap().clone();
    block.shift_remove("needs");
    let no_k = scratch.path().join("fit.yaml");
    std::fs::write(&no_k, yaml_serde::to_string(&block).unwrap()).unwrap();
    block.insert("k".into(), 4.into());
    let with_k = scratch.path().join("fit_k4.yaml");
    std::fs::write(&with_k, yaml_serde::to_string(&block).unwrap()).unwrap();
    let fit = |params: &Path, out: &Path| {
        segflow(&[
            "fit",
            "--input",
            run.join("preprocess/matrix.parquet").to_str().unwrap(),
            "--input",
            run.join("features/features.parquet").to_str().unwrap(),
            "--output-dir",
            out.to_str().unwrap(),
            "--params",
            params.to_str().unwrap(),
        ])
    };
    let alone = scratch.path().join("alone");
    let o = fit(&with_k, &alone);
    assert!(o.status.success(), "{}", stderr(&o));
    let a = read_parquet(&alone.join("assignments.parquet")).unwrap();
    let b = read_parquet(&run.join("fit/assignments.parquet")).unwrap();
    assert_eq!(floats(&a, "cluster"), floats(&b, "cluster"));
    assert!(render_full(&alone.join("summary.parquet")).contains("k_source | fit params"));

    let o = fit(&no_k, &scratch.path().join("none"));
    assert_eq!(o.status.code(), Some(78), "{}", stderr(&o));
    assert!(stderr(&o).contains("no K"), "{}", stderr(&o));
    assert!(!scratch.path().join("none").exists());
}

/// Silhouette of each row of `x` within `x`, straight from the definition (sklearn.metrics):
/// a = mean distance to the other members of its cluster, b = the lowest mean distance to
/// another cluster, (b − a) / max(a, b), 0 for members of singleton clusters.
fn naive_silhouettes(x: &[Vec<f64>], labels: &[i32]) -> Vec<f64> {
    let dist = |a: &[f64], b: &[f64]| {
        a.iter()
            .zip(b)
            .map(|(p, q)| (p - q) * (p - q))
            .sum::<f64>()
            .sqrt()
    };
    (0..x.len())
        .map(|i| {
            let mut by_cluster: HashMap<i32, (f64, usize)> = HashMap::new();
            for j in (0..x.len()).filter(|&j| j != i) {
                let e = by_cluster.entry(labels[j]).or_default();
                e.0 += dist(&x[i], &x[j]);
                e.1 += 1;
            }
            let Some(&(own_sum, own_n)) = by_cluster.get(&labels[i]) else {
                return 0.0;
            };
            let a = own_sum / own_n as f64;
            let b = by_cluster
                .iter()
                .filter(|(c, _)| **c != labels[i])
                .map(|(_, (s, n))| s / *n as f64)
                .fold(f64::INFINITY, f64::min);
            (b - a) / a.max(b)
        })
        .collect()
}

#[test]
fn above_the_exact_threshold_a_seeded_sample_is_scored_and_said_so() {
    let scratch = Scratch::new("fit-sampled-silhouette");
    let pipeline = isolated_pipeline("walsoft", scratch.path(), |doc| {
        stop_after(doc, "fit");
        doc["stages"]["fit"]["silhouette_exact_below"] = 1000.into();
        doc["stages"]["fit"]["silhouette_sample_size"] = 300.into();
    });
    let out = segflow(&["run", pipeline.to_str().unwrap()]);
    assert!(out.status.success(), "run failed: {}", stderr(&out));
    let run = scratch.path().join("run");
    let assignments = read_parquet(&run.join("fit/assignments.parquet")).unwrap();
    assert_eq!(
        assignments.meta("segflow.silhouette"),
        Some("sampled: 300 of 2091, seed 42")
    );
    let silhouette = floats(&assignments, "silhouette");
    let sampled: Vec<usize> = (0..silhouette.len())
        .filter(|&i| !silhouette[i].is_nan())
        .collect();
    assert_eq!(sampled.len(), 300);

    // The sampled rows' values are their silhouettes within the sample.
    let matrix = read_parquet(&run.join("preprocess/matrix.parquet")).unwrap();
    assert_eq!(
        texts(&matrix, "contact_id"),
        texts(&assignments, "contact_id")
    );
    let columns: Vec<Vec<f64>> = column_names(&matrix)
        .iter()
        .filter(|c| *c != "contact_id")
        .map(|c| floats(&matrix, c))
        .collect();
    let rows: Vec<Vec<f64>> = sampled
        .iter()
        .map(|&i| columns.iter().map(|c| c[i]).collect())
        .collect();
    let clusters = assignments
        .batch
        .column_by_name("cluster")
        .unwrap()
        .as_primitive::<arrow::datatypes::Int32Type>()
        .values()
        .to_vec();
    let labels: Vec<i32> = sampled.iter().map(|&i| clusters[i]).collect();
    for (pos, expected) in naive_silhouettes(&rows, &labels).into_iter().enumerate() {
        let ours = silhouette[sampled[pos]];
        assert!(
            close(ours, expected, 1e-12),
            "row {}: {ours} vs {expected}",
            sampled[pos]
        );
    }

    // The summary states it, and its mean is the sample's.
    let summary = read_parquet(&run.join("fit/summary.parquet")).unwrap();
    let metrics = texts(&summary, "metric");
    let values = texts(&summary, "value");
    let at = |name: &str| metrics.iter().position(|m| m == name).unwrap();
    assert_eq!(
        values[at("silhouette_method")],
        "sampled: 300 of 2091 contacts (seed 42), each scored within the sample; exact below 1000"
    );
    let mean = sampled.iter().map(|&i| silhouette[i]).sum::<f64>() / 300.0;
    assert!(close(
        floats(&summary, "number")[at("silhouette")],
        mean,
        1e-12
    ));
}

#[test]
fn below_the_exact_threshold_every_contact_is_scored() {
    let scratch = Scratch::new("fit-exact-silhouette");
    let run = run_walsoft(&scratch);
    let assignments = read_parquet(&run.join("fit/assignments.parquet")).unwrap();
    assert_eq!(assignments.meta("segflow.silhouette"), Some("exact"));
    assert!(
        floats(&assignments, "silhouette")
            .iter()
            .all(|v| !v.is_nan())
    );
}
