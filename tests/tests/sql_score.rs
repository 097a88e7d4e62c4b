//! `segflow sql score` on real engines: the scoring query of a finished run, run in DuckDB (its
//! Python wheel) and PostgreSQL (a throwaway server from `tests/engines/postgres.sh`) over the
//! run's features, gives `segflow assign`'s clusters exactly and its distances and margins
//! within 1e-9, on the Walsoft run (k-means) and on a categorical customer table (Ward, with
//! one-hot, binary and imputed columns). An engine that is missing is skipped with a message,
//! and fails the test under `CI=true`. Gaussian mixtures (full and diagonal covariance) score by
//! their highest posterior, as assign does. Bad input: an edited model file and DBSCAN are
//! refused; a source table lacking a column fails in the engine, naming it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Float64Type, Int32Type};
use segflow_core::artifact::read_parquet;
use segflow_tests::*;

/// How far an engine's distance or margin may stray from assign's (absolute, or relative to
/// values above 1).
const TOLERANCE: f64 = 1e-9;

fn engines_dir() -> PathBuf {
    repo_root().join("tests/engines")
}

/// Whether a missing engine fails the test (CI) or skips it (a developer's machine).
fn required() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Skips (locally) or fails (CI) for an engine that is not there.
fn missing(engine: &str, why: &str) -> bool {
    assert!(!required(), "{engine} is required under CI=true: {why}");
    eprintln!("skipped: {engine} is not available ({why})");
    false
}

fn duckdb_available() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import duckdb"])
        .output()
        .is_ok_and(|o| o.status.success());
    ok || missing(
        "DuckDB",
        "python3 -c 'import duckdb' failed; pip install -r tests/engines/requirements.txt",
    )
}

/// A PostgreSQL server on a socket in a temporary directory, stopped when dropped (also when
/// the test fails).
struct Postgres {
    dir: String,
}

impl Postgres {
    fn start() -> Option<Postgres> {
        let out = Command::new("bash")
            .arg(engines_dir().join("postgres.sh"))
            .arg("start")
            .output()
            .expect("run bash");
        if !out.status.success() {
            missing("PostgreSQL", stderr(&out).trim());
            return None;
        }
        Some(Postgres {
            dir: stdout(&out).trim().to_string(),
        })
    }

    /// Runs psql with `args` against the server; stdout, or the error text.
    fn psql(&self, args: &[&str]) -> Result<String, String> {
        let out = Command::new("psql")
            .args([
                "-h", &self.dir, "-U", "segflow", "-d", "postgres", "-X", "-q",
            ])
            .args(["-v", "ON_ERROR_STOP=1"])
            .args(args)
            .output()
            .expect("run psql");
        if out.status.success() {
            Ok(stdout(&out))
        } else {
            Err(stderr(&out))
        }
    }

    /// Loads a Parquet artifact as table `name` (CSV through `\copy`), leaving out `drop`.
    fn load(&self, parquet: &Path, name: &str, drop: Option<&str>, scratch: &Path) {
        let a = read_parquet(parquet).unwrap();
        let schema = a.batch.schema();
        let fields: Vec<_> = schema
            .fields()
            .iter()
            .enumerate()
            .filter(|(_, f)| Some(f.name().as_str()) != drop)
            .collect();
        let ddl: Vec<String> = fields
            .iter()
            .map(|(_, f)| {
                let ty = match f.data_type() {
                    DataType::Float64 | DataType::Float32 => "DOUBLE PRECISION",
                    DataType::Boolean => "BOOLEAN",
                    t if t.is_integer() => "BIGINT",
                    _ => "TEXT",
                };
                format!("\"{}\" {ty}", f.name())
            })
            .collect();
        let csv = scratch.join(format!("{name}.csv"));
        let mut text = String::new();
        text.push_str(
            &fields
                .iter()
                .map(|(_, f)| f.name().clone())
                .collect::<Vec<_>>()
                .join(","),
        );
        text.push('\n');
        for row in 0..a.batch.num_rows() {
            let cells: Vec<String> = fields
                .iter()
                .map(|(i, _)| exact_cell(a.batch.column(*i).as_ref(), row))
                .collect();
            text.push_str(&cells.join(","));
            text.push('\n');
        }
        std::fs::write(&csv, text).unwrap();
        self.psql(&[
            "-c",
            &format!("CREATE TABLE \"{name}\" ({})", ddl.join(", ")),
            "-c",
            &format!("\\copy \"{name}\" FROM '{}' CSV HEADER", csv.display()),
        ])
        .unwrap();
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(engines_dir().join("postgres.sh"))
            .args(["stop", &self.dir])
            .output();
    }
}

/// A cell as CSV text that reads back exactly: doubles in shortest round-trip form, nulls
/// empty, texts quoted.
fn exact_cell(array: &dyn Array, row: usize) -> String {
    if array.is_null(row) {
        return String::new();
    }
    match array.data_type() {
        DataType::Float64 => format!("{:?}", array.as_primitive::<Float64Type>().value(row)),
        DataType::Utf8 => format!(
            "\"{}\"",
            array.as_string::<i32>().value(row).replace('"', "\"\"")
        ),
        _ => cell(array, row),
    }
}

/// The run's features artifact.
fn features(run: &Path) -> PathBuf {
    run.join("features/features.parquet")
}

fn sql_score(run: &Path, dialect: &str, scratch: &Path) -> PathBuf {
    let out = segflow(&["sql", "score", run.to_str().unwrap(), "--dialect", dialect]);
    assert!(out.status.success(), "{}", stderr(&out));
    let path = scratch.join(format!("score_{dialect}.sql"));
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

fn run_duckdb(
    table: &Path,
    query: &Path,
    out: &Path,
    drop: Option<&str>,
) -> Result<String, String> {
    let mut cmd = Command::new("python3");
    cmd.arg(engines_dir().join("duckdb_run.py"))
        .arg(table)
        .arg(query)
        .arg(out);
    if let Some(column) = drop {
        cmd.args(["--drop", column]);
    }
    let o = cmd.output().expect("run python3");
    if o.status.success() {
        Ok(std::fs::read_to_string(out).unwrap())
    } else {
        Err(stderr(&o))
    }
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
    if duckdb_available() {
        let query = sql_score(run, "duckdb", scratch);
        let got = run_duckdb(&features(run), &query, &scratch.join("duckdb.csv"), None).unwrap();
        assert_same_scores("DuckDB", &engine_rows(&got), &want);
    }
    if let Some(pg) = Postgres::start() {
        pg.load(&features(run), "features", None, scratch);
        let query = sql_score(run, "postgres", scratch);
        let got = pg.psql(&["--csv", "-f", query.to_str().unwrap()]).unwrap();
        assert_same_scores("PostgreSQL", &engine_rows(&got), &want);
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
fn the_walsoft_scoring_query_scores_as_assign_in_duckdb_and_postgres() {
    let scratch = Scratch::new("sql-score-walsoft");
    let run = walsoft_run(scratch.path());
    let input = repo_root().join("data/walsoft/walsoft_semi_categorized_phone_dataset.csv");
    engines_score_as_assign(&run, &input, scratch.path());
}

#[test]
fn encoded_categories_score_as_assign_in_duckdb_and_postgres() {
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
fn ordinal_ranks_and_a_pca_projection_score_as_assign_in_duckdb_and_postgres() {
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
fn gaussian_mixtures_score_as_assign_in_duckdb_and_postgres() {
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
    if duckdb_available() {
        let query = sql_score(&run, "duckdb", scratch.path());
        let err = run_duckdb(
            &features(&run),
            &query,
            &scratch.path().join("out.csv"),
            Some("monthly_charges"),
        )
        .unwrap_err();
        assert!(err.contains("monthly_charges"), "{err}");
    }
    if let Some(pg) = Postgres::start() {
        pg.load(&features(&run), "partial", Some("payment"), scratch.path());
        let out = segflow(&[
            "sql",
            "score",
            run.to_str().unwrap(),
            "--dialect",
            "postgres",
            "--source",
            "partial",
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        let query = scratch.path().join("partial.sql");
        std::fs::write(&query, out.stdout).unwrap();
        let err = pg
            .psql(&["--csv", "-f", query.to_str().unwrap()])
            .unwrap_err();
        assert!(err.contains("column \"payment\" does not exist"), "{err}");
    }
}
