//! `segflow sql score` on real engines: the scoring query of a finished run, run in DuckDB,
//! PostgreSQL and (`SEGFLOW_ENGINES=spark`) Spark over the run's features (the engines of
//! `segflow_tests::engines`), gives `segflow assign`'s clusters exactly and its distances and
//! margins within 1e-9, on the Walsoft run (k-means) and on a categorical customer table (Ward,
//! with one-hot, binary and imputed columns). Gaussian mixtures (full and diagonal covariance)
//! score by their highest posterior, as assign does. Bad input: an edited model file and DBSCAN
//! are refused; a source table lacking a column fails in the engine, naming it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use arrow::array::AsArray;
use arrow::datatypes::{Float64Type, Int32Type};
use segflow_core::artifact::read_parquet;
use segflow_tests::engines::{Input, engines};
use segflow_tests::*;

/// How far an engine's distance or margin may stray from assign's (absolute, or relative to
/// values above 1).
const TOLERANCE: f64 = 1e-9;

/// The run's features artifact.
fn features(run: &Path) -> PathBuf {
    run.join("features/features.parquet")
}

/// The scoring query of `run` for `dialect`, reading table `source`.
fn sql_score(run: &Path, dialect: &str, source: &str, scratch: &Path) -> PathBuf {
    let out = segflow(&[
        "sql",
        "score",
        run.to_str().unwrap(),
        "--dialect",
        dialect,
        "--source",
        source,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let path = scratch.join(format!("score_{dialect}_{source}.sql"));
    std::fs::write(&path, out.stdout).unwrap();
    path
}

/// One scored row: cluster, segment, distance, margin, decision use, operational rule.
#[derive(Debug)]
struct Scored {
    cluster: i64,
    texts: [String; 3],
    distance: f64,
    margin: f64,
}

/// assign's output, by id.
fn assigned(path: &Path) -> BTreeMap<String, Scored> {
    let a = read_parquet(path).unwrap();
    let b = &a.batch;
    let ids = b.column(0).as_string::<i32>();
    let text = |name: &str, i: usize| {
        b.column_by_name(name)
            .unwrap()
            .as_string::<i32>()
            .value(i)
            .to_string()
    };
    let float = |name: &str, i: usize| {
        b.column_by_name(name)
            .unwrap()
            .as_primitive::<Float64Type>()
            .value(i)
    };
    let clusters = b
        .column_by_name("cluster")
        .unwrap()
        .as_primitive::<Int32Type>();
    (0..b.num_rows())
        .map(|i| {
            (
                ids.value(i).to_string(),
                Scored {
                    cluster: i64::from(clusters.value(i)),
                    texts: [
                        text("segment", i),
                        text("decision_use", i),
                        text("operational_rule", i),
                    ],
                    distance: float("distance", i),
                    margin: float("margin", i),
                },
            )
        })
        .collect()
}

/// An engine's CSV output, by id.
fn engine_rows(csv_text: &str) -> BTreeMap<String, Scored> {
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    let header = reader.headers().unwrap().clone();
    let at = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no {name} in {header:?}"))
    };
    let (cluster, segment, distance, margin, decision, rule) = (
        at("cluster"),
        at("segment"),
        at("distance"),
        at("margin"),
        at("decision_use"),
        at("operational_rule"),
    );
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            (
                r[0].to_string(),
                Scored {
                    cluster: r[cluster].parse().unwrap(),
                    texts: [
                        r[segment].to_string(),
                        r[decision].to_string(),
                        r[rule].to_string(),
                    ],
                    distance: r[distance].parse().unwrap(),
                    margin: r[margin].parse().unwrap(),
                },
            )
        })
        .collect()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= TOLERANCE * b.abs().max(1.0)
}

fn assert_same_scores(
    engine: &str,
    got: &BTreeMap<String, Scored>,
    want: &BTreeMap<String, Scored>,
) {
    assert_eq!(got.len(), want.len(), "{engine}: row count");
    let mut worst = 0.0f64;
    for (id, w) in want {
        let g = got
            .get(id)
            .unwrap_or_else(|| panic!("{engine}: id {id} missing"));
        assert_eq!(g.cluster, w.cluster, "{engine}: cluster of {id}");
        assert_eq!(g.texts, w.texts, "{engine}: segment and action of {id}");
        assert!(
            close(g.distance, w.distance),
            "{engine}: distance of {id}: {} vs {}",
            g.distance,
            w.distance
        );
        assert!(
            close(g.margin, w.margin),
            "{engine}: margin of {id}: {} vs {}",
            g.margin,
            w.margin
        );
        worst = worst
            .max((g.distance - w.distance).abs())
            .max((g.margin - w.margin).abs());
    }
    eprintln!(
        "{engine}: {} rows, clusters equal, largest distance or margin difference {worst:e}",
        want.len()
    );
}

/// Runs `assign` on the run's own input, then the scoring query in each engine present, and
/// compares.
fn engines_score_as_assign(run: &Path, input: &Path, scratch: &Path) {
    let scored = scratch.join("assigned.parquet");
    let o = segflow(&[
        "assign",
        "--model",
        run.to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
        "--output",
        scored.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let want = assigned(&scored);
    for engine in engines() {
        let started = std::time::Instant::now();
        let query = sql_score(run, engine.dialect(), "features", scratch);
        let result = scratch.join(format!("{}.csv", engine.dialect()));
        let table = Input {
            table: "features",
            path: &features(run),
            drop: None,
        };
        engine
            .run(std::slice::from_ref(&table), &query, &result)
            .unwrap_or_else(|e| panic!("{}: {e}", engine.name()));
        let got = std::fs::read_to_string(&result).unwrap();
        assert_same_scores(engine.name(), &engine_rows(&got), &want);
        eprintln!(
            "{}: {:.1} s",
            engine.name(),
            started.elapsed().as_secs_f64()
        );
    }
}

fn walsoft_run(scratch: &Path) -> PathBuf {
    let pipeline = isolated_pipeline("walsoft", scratch, |doc| stop_after(doc, "fit"));
    let o = segflow(&["run", pipeline.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    scratch.join("run")
}

const CATEGORICAL: &str = "tests/oracle/categorical_input.csv";

/// The contract column one-hot encoded from a list, without `other`.
const CONTRACT_ONE_HOT: &str =
    "{encode: one_hot, categories: [Month-to-month, One year, Two year], other: false}";

/// The categorical oracle's subscriber table through fit, `contract` encoded as given, with
/// `preprocess` and `fit` as extra keys of those blocks: one-hot (top 2 with `other`, every
/// label), binary (of text and of 0/1 numbers), imputation and a missing indicator, log1p,
/// winsorizing, robust scaling with a cap.
fn categorical_run(scratch: &Path, contract: &str, preprocess: &str, fit: &str) -> PathBuf {
    let text = format!(
        "pipeline: telco\nseed: 7\nrun_dir: {}\nstages:\n  ingest:\n    input: {}\n    mode: table\n  \
         features:\n    needs: [ingest]\n    blocks:\n      account:\n        contract: {{column: contract}}\n        \
         payment: {{column: payment}}\n        internet: {{column: internet}}\n        paperless: {{column: paperless}}\n        \
         senior: {{column: senior}}\n      usage:\n        tenure: {{column: tenure}}\n        monthly_charges: {{column: monthly_charges}}\n        \
         total_charges: {{column: total_charges}}\n        age: {{column: age}}\n    model_blocks: [account, usage]\n  \
         preprocess:\n    needs: [features]\n    winsorize: [0.05, 0.95]\n    scale: robust\n    cap: 3\n    \
         log1p: [total_charges]\n    per_column:\n      \
         contract: {contract}\n      \
         payment: {{encode: one_hot, top: 2}}\n      internet: {{encode: one_hot}}\n      \
         paperless: {{encode: binary}}\n      senior: {{encode: binary}}\n      \
         monthly_charges: {{impute: median}}\n      \
         total_charges: {{impute: {{constant: 0}}, missing_indicator: true}}\n{preprocess}  \
         fit:\n    needs: [preprocess, features]\n{fit}",
        scratch.join("run").display(),
        repo_root().join(CATEGORICAL).display(),
    );
    let path = scratch.join("telco.yaml");
    std::fs::write(&path, text).unwrap();
    let o = segflow(&["run", path.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    scratch.join("run")
}

#[test]
fn the_walsoft_scoring_query_scores_as_assign_in_every_engine() {
    let scratch = Scratch::new("sql-score-walsoft");
    let run = walsoft_run(scratch.path());
    let input = repo_root().join("data/walsoft/walsoft_semi_categorized_phone_dataset.csv");
    engines_score_as_assign(&run, &input, scratch.path());
}

#[test]
fn encoded_categories_score_as_assign_in_every_engine() {
    let scratch = Scratch::new("sql-score-categorical");
    let run = categorical_run(
        scratch.path(),
        CONTRACT_ONE_HOT,
        "",
        "    algorithm: ward\n    k: 4\n",
    );
    engines_score_as_assign(&run, &repo_root().join(CATEGORICAL), scratch.path());
}

#[test]
fn ordinal_ranks_and_a_pca_projection_score_as_assign_in_every_engine() {
    let scratch = Scratch::new("sql-score-pca");
    let run = categorical_run(
        scratch.path(),
        "{encode: ordinal, order: [Month-to-month, One year, Two year]}",
        "    pca: {components: 4}\n",
        "    k: 3\n    n_init: 4\n",
    );
    assert!(run.join("preprocess/projection.parquet").is_file());
    engines_score_as_assign(&run, &repo_root().join(CATEGORICAL), scratch.path());
}

#[test]
fn an_edited_model_file_is_refused() {
    let scratch = Scratch::new("sql-score-edited");
    let run = categorical_run(
        scratch.path(),
        CONTRACT_ONE_HOT,
        "",
        "    k: 3\n    n_init: 4\n",
    );
    let centroids = run.join("fit/centroids.parquet");
    let mut bytes = std::fs::read(&centroids).unwrap();
    bytes.push(0);
    std::fs::write(&centroids, bytes).unwrap();
    let o = segflow(&["sql", "score", run.to_str().unwrap(), "--dialect", "duckdb"]);
    assert_eq!(o.status.code(), Some(65), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("centroids.parquet") && err.contains("changed since the run wrote it"),
        "{err}"
    );
    assert!(o.stdout.is_empty(), "no query for an edited run");
}

#[test]
fn dbscan_is_refused_with_the_reason() {
    let scratch = Scratch::new("sql-score-dbscan");
    let run = categorical_run(
        scratch.path(),
        CONTRACT_ONE_HOT,
        "",
        "    algorithm: dbscan\n    dbscan: {eps: 1.5, min_samples: 3}\n",
    );
    let o = segflow(&[
        "sql",
        "score",
        run.to_str().unwrap(),
        "--dialect",
        "postgres",
    ]);
    assert_eq!(o.status.code(), Some(64), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("DBSCAN") && err.contains("segflow assign"),
        "{err}"
    );
}

#[test]
fn gaussian_mixtures_score_as_assign_in_every_engine() {
    // Walsoft's contacts through a mixture with a full covariance (an upper-triangular
    // precision factor) and with a diagonal one; overlapping components put rows near the
    // boundaries, where a different rounding would change the cluster.
    let input = repo_root().join("data/walsoft/walsoft_semi_categorized_phone_dataset.csv");
    for covariance in ["full", "diag"] {
        let scratch = Scratch::new(&format!("sql-score-gmm-{covariance}"));
        let pipeline = isolated_pipeline("walsoft", scratch.path(), |doc| {
            stop_after(doc, "fit");
            let fit = &mut doc["stages"]["fit"];
            fit["algorithm"] = "gmm".into();
            fit["gmm"] = yaml_serde::from_str(&format!("{{covariance: {covariance}}}")).unwrap();
        });
        let o = segflow(&["run", pipeline.to_str().unwrap()]);
        assert!(o.status.success(), "{}", stderr(&o));
        let run = scratch.path().join("run");
        assert!(run.join("fit/mixture.parquet").is_file());
        engines_score_as_assign(&run, &input, scratch.path());

        // The posterior of the row's component, which assign also reports for a mixture.
        let a = read_parquet(&scratch.path().join("assigned.parquet")).unwrap();
        let want: BTreeMap<String, f64> = (0..a.batch.num_rows())
            .map(|i| cell(a.batch.column(0).as_ref(), i))
            .zip(a.float_column("probability").unwrap())
            .collect();
        let uncertain = want.values().filter(|p| **p < 0.9).count();
        eprintln!("{covariance}: {uncertain} rows with a posterior below 0.9");
        assert!(uncertain > 0, "some rows lie near a boundary");
        let engine = scratch.path().join("duckdb.csv");
        if engine.is_file() {
            let mut reader = csv::Reader::from_path(&engine).unwrap();
            let at = reader
                .headers()
                .unwrap()
                .iter()
                .position(|h| h == "probability")
                .expect("a probability column");
            let mut got = BTreeMap::new();
            for r in reader.records() {
                let r = r.unwrap();
                got.insert(r[0].to_string(), r[at].parse::<f64>().unwrap());
            }
            assert_eq!(got.len(), want.len());
            for (id, w) in &want {
                assert!(
                    close(got[id], *w),
                    "probability of {id}: {} vs {w}",
                    got[id]
                );
            }
        }
    }
}

#[test]
fn a_source_table_lacking_a_column_fails_in_the_engine_naming_it() {
    let scratch = Scratch::new("sql-score-missing-column");
    let run = categorical_run(
        scratch.path(),
        CONTRACT_ONE_HOT,
        "",
        "    k: 3\n    n_init: 4\n",
    );
    let o = segflow(&[
        "sql",
        "score",
        run.to_str().unwrap(),
        "--dialect",
        "bigquery",
    ]);
    assert_eq!(o.status.code(), Some(64), "{}", stderr(&o));
    for engine in engines() {
        let query = sql_score(&run, engine.dialect(), "partial", scratch.path());
        let table = Input {
            table: "partial",
            path: &features(&run),
            drop: Some("payment"),
        };
        let err = engine
            .run(
                std::slice::from_ref(&table),
                &query,
                &scratch.path().join("out.csv"),
            )
            .expect_err("the query needs the column");
        assert!(
            engine.names_missing_column(&err, "payment"),
            "{}: {err}",
            engine.name()
        );
    }
}
