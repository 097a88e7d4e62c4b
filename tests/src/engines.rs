//! The SQL engines the tests run segflow's generated queries in: DuckDB (its Python wheel) and
//! Spark in local mode (PySpark) through `tests/engines/run_query.py`, and PostgreSQL as a
//! throwaway server from `tests/engines/postgres.sh`. Every engine loads one input table (a
//! Parquet artifact, or a CSV log with every column as text) and writes its result as CSV, so
//! the tests compare all engines with one piece of code.
//!
//! `SEGFLOW_ENGINES` (a comma-separated list of `duckdb`, `postgres`, `spark`) chooses the
//! engines; the default is DuckDB and PostgreSQL. Spark runs only when listed (`just
//! sql-check-spark`): each Spark session costs tens of seconds, too much for every `cargo
//! test`. A chosen engine that is missing is skipped with a message on a developer's machine
//! and fails under `CI=true`.

use std::path::{Path, PathBuf};
use std::process::Command;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Float64Type};
use segflow_core::artifact::read_parquet;

use crate::{cell, repo_root, segflow, stderr, stdout};

/// The table a query reads: `path` (a `.parquet` artifact, read with its types, or a CSV log,
/// every column text) registered as `table`, without the column `drop`.
pub struct Input<'a> {
    pub table: &'a str,
    pub path: &'a Path,
    pub drop: Option<&'a str>,
}

/// An engine that is present and, for PostgreSQL, running.
pub enum Engine {
    Duckdb,
    Postgres(Postgres),
    Spark,
}

impl Engine {
    pub fn name(&self) -> &'static str {
        match self {
            Engine::Duckdb => "DuckDB",
            Engine::Postgres(_) => "PostgreSQL",
            Engine::Spark => "Spark",
        }
    }

    /// The `--dialect` of `segflow sql` for this engine.
    pub fn dialect(&self) -> &'static str {
        match self {
            Engine::Duckdb => "duckdb",
            Engine::Postgres(_) => "postgres",
            Engine::Spark => "spark",
        }
    }

    /// Runs the query file over `inputs` (one table each) and writes the result to `out` as
    /// CSV (header, nulls empty, doubles in shortest round-trip form); the engine's error text
    /// otherwise.
    pub fn run(&self, inputs: &[Input], query: &Path, out: &Path) -> Result<(), String> {
        match self {
            Engine::Postgres(pg) => {
                for input in inputs {
                    pg.load(input, out.parent().expect("output in a directory"));
                }
                let csv = pg.psql(&["--csv", "-f", query.to_str().unwrap()])?;
                std::fs::write(out, csv).unwrap();
                Ok(())
            }
            Engine::Duckdb | Engine::Spark => {
                let mut cmd = Command::new("python3");
                cmd.arg(engines_dir().join("run_query.py"))
                    .arg(self.dialect())
                    .arg(query)
                    .arg(out);
                for input in inputs {
                    cmd.arg(format!("{}={}", input.table, input.path.display()));
                    if let Some(column) = input.drop {
                        cmd.args(["--drop", &format!("{}={column}", input.table)]);
                    }
                }
                let o = cmd.output().expect("run python3");
                if o.status.success() {
                    Ok(())
                } else {
                    Err(stderr(&o))
                }
            }
        }
    }

    /// Writes the features query of `pipeline` in this engine's dialect (reading the tables of
    /// `--source` when given), runs it over `inputs` and compares the result with segflow's
    /// `features` artifact (`tests/engines/compare_features.py`): the comparison's one-line
    /// summary, or what differed or what the engine said.
    pub fn features_match(
        &self,
        pipeline: &Path,
        source: Option<&str>,
        inputs: &[Input],
        features: &Path,
        scratch: &Path,
    ) -> Result<String, String> {
        let dialect = self.dialect();
        let query = scratch.join(format!("features_{dialect}.sql"));
        let mut args = vec![
            "sql",
            "features",
            pipeline.to_str().unwrap(),
            "--dialect",
            dialect,
            "-o",
            query.to_str().unwrap(),
        ];
        if let Some(source) = source {
            args.extend(["--source", source]);
        }
        let out = segflow(&args);
        assert!(out.status.success(), "{}", stderr(&out));
        let text = std::fs::read_to_string(&query).unwrap();
        assert!(text.starts_with("-- segflow "), "{text}");
        assert!(
            text.contains("\n-- params hash (ingest + features): "),
            "{text}"
        );
        assert!(
            text.contains(&format!("\n-- dialect: {dialect}\n")),
            "{text}"
        );
        let result = scratch.join(format!("features_{dialect}.csv"));
        self.run(inputs, &query, &result)?;
        let out = Command::new("python3")
            .arg(engines_dir().join("compare_features.py"))
            .arg(&result)
            .arg(features)
            .output()
            .expect("run python3");
        if out.status.success() {
            Ok(stdout(&out))
        } else {
            Err(format!("{}{}", stdout(&out), stderr(&out)))
        }
    }

    /// Whether an engine's error says that `column` does not exist, in its own words.
    pub fn names_missing_column(&self, error: &str, column: &str) -> bool {
        match self {
            Engine::Duckdb => error.contains(&format!("column \"{column}\" not found")),
            Engine::Postgres(_) => error.contains(&format!("column \"{column}\" does not exist")),
            Engine::Spark => {
                error.contains("UNRESOLVED_COLUMN") && error.contains(&format!("`{column}`"))
            }
        }
    }
}

/// The chosen engines that are present, in a fixed order: DuckDB, PostgreSQL (a server
/// started for the caller, stopped when dropped), Spark.
pub fn engines() -> Vec<Engine> {
    let chosen = std::env::var("SEGFLOW_ENGINES").unwrap_or_else(|_| "duckdb,postgres".into());
    let chosen: Vec<&str> = chosen.split(',').map(str::trim).collect();
    for name in &chosen {
        assert!(
            ["duckdb", "postgres", "spark"].contains(name),
            "SEGFLOW_ENGINES: unknown engine `{name}` (known: duckdb, postgres, spark)"
        );
    }
    let mut found = Vec::new();
    if chosen.contains(&"duckdb") && python_imports("duckdb", "DuckDB") {
        found.push(Engine::Duckdb);
    }
    if chosen.contains(&"postgres") {
        found.extend(Postgres::start().map(Engine::Postgres));
    }
    if chosen.contains(&"spark") && spark_available() {
        found.push(Engine::Spark);
    }
    found
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

/// Whether python3 imports the engine's `module` (and pyarrow, which the comparisons read
/// Parquet with).
fn python_imports(module: &str, engine: &str) -> bool {
    let ok = Command::new("python3")
        .args(["-c", &format!("import {module}, pyarrow")])
        .output()
        .is_ok_and(|o| o.status.success());
    let install = match engine {
        "Spark" => "bash tests/engines/spark.sh install",
        _ => "python3 -m pip install -r tests/engines/requirements.txt",
    };
    ok || missing(
        engine,
        &format!("python3 -c 'import {module}, pyarrow' failed; {install}"),
    )
}

fn spark_available() -> bool {
    let java = Command::new("java")
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !java {
        return missing("Spark", "no java: bash tests/engines/spark.sh install");
    }
    python_imports("pyspark", "Spark")
}

fn engines_dir() -> PathBuf {
    repo_root().join("tests/engines")
}

/// A PostgreSQL server on a socket in a temporary directory, stopped when dropped (also when
/// the test fails).
pub struct Postgres {
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

    /// (Re)creates the input's table: a Parquet artifact's columns with their types, written
    /// out as exact CSV, or a CSV log's columns as text, then loaded with `\copy`.
    fn load(&self, input: &Input, scratch: &Path) {
        let (columns, csv) = if input.path.extension().is_some_and(|e| e == "parquet") {
            let csv = scratch.join(format!("{}.csv", input.table));
            (parquet_as_csv(input.path, &csv), csv)
        } else {
            let mut reader = csv::ReaderBuilder::new()
                .delimiter(delimiter(input.path))
                .from_path(input.path)
                .unwrap();
            let header = reader.headers().unwrap();
            let columns = header.iter().map(|h| (h.to_string(), "TEXT")).collect();
            (columns, input.path.to_path_buf())
        };
        let ddl: Vec<String> = columns
            .iter()
            .map(|(name, ty)| format!("\"{name}\" {ty}"))
            .collect();
        let table = input.table;
        let mut commands = vec![
            format!("DROP TABLE IF EXISTS \"{table}\""),
            format!("CREATE TABLE \"{table}\" ({})", ddl.join(", ")),
            format!(
                "\\copy \"{table}\" FROM '{}' CSV HEADER DELIMITER '{}'",
                csv.display(),
                delimiter(&csv) as char
            ),
        ];
        if let Some(column) = input.drop {
            commands.push(format!("ALTER TABLE \"{table}\" DROP COLUMN \"{column}\""));
        }
        let args: Vec<&str> = commands.iter().flat_map(|c| ["-c", c.as_str()]).collect();
        self.psql(&args).unwrap();
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

/// The delimiter of a CSV log: the one of `,` `;` `|` and tab its header line holds most of (the
/// logs of several-source pipelines differ).
fn delimiter(csv: &Path) -> u8 {
    let mut header = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(std::fs::File::open(csv).unwrap()),
        &mut header,
    )
    .unwrap();
    *[b',', b';', b'|', b'\t']
        .iter()
        .max_by_key(|&&d| (header.bytes().filter(|&b| b == d).count(), d == b','))
        .unwrap()
}

/// Writes a Parquet artifact as CSV that reads back exactly; its columns with their
/// PostgreSQL types.
fn parquet_as_csv(parquet: &Path, csv: &Path) -> Vec<(String, &'static str)> {
    let a = read_parquet(parquet).unwrap();
    let schema = a.batch.schema();
    let columns: Vec<(String, &'static str)> = schema
        .fields()
        .iter()
        .map(|f| {
            let ty = match f.data_type() {
                DataType::Float64 | DataType::Float32 => "DOUBLE PRECISION",
                DataType::Boolean => "BOOLEAN",
                DataType::Timestamp(..) => "TIMESTAMP",
                t if t.is_integer() => "BIGINT",
                _ => "TEXT",
            };
            (f.name().clone(), ty)
        })
        .collect();
    let mut text = columns
        .iter()
        .map(|(name, _)| name.as_str())
        .collect::<Vec<_>>()
        .join(",");
    text.push('\n');
    for row in 0..a.batch.num_rows() {
        let cells: Vec<String> = (0..columns.len())
            .map(|i| exact_cell(a.batch.column(i).as_ref(), row))
            .collect();
        text.push_str(&cells.join(","));
        text.push('\n');
    }
    std::fs::write(csv, text).unwrap();
    columns
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
