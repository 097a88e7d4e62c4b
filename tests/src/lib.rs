//! Helpers for segflow's end-to-end tests: isolated copies of the pipelines, running the
//! binary, and a stable text rendering of Parquet artifacts for insta snapshots.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{
    DataType, Float64Type, Int64Type, TimeUnit, TimestampMicrosecondType, UInt32Type, UInt64Type,
};
use segflow_core::artifact::read_parquet;

/// The repository root (pipelines/, data/).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the repo root")
        .to_path_buf()
}

/// A scratch directory removed when dropped.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("segflow-test-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create scratch dir");
        Scratch(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Loads a pipeline YAML of the repo and points its run directory into `scratch`, and its
/// relative input paths at the repo, so tests never touch `runs/`.
pub fn isolated_pipeline(
    name: &str,
    scratch: &Path,
    edit: impl FnOnce(&mut yaml_serde::Value),
) -> PathBuf {
    let text = std::fs::read_to_string(repo_root().join("pipelines").join(format!("{name}.yaml")))
        .expect("pipeline exists");
    let mut doc: yaml_serde::Value = yaml_serde::from_str(&text).expect("pipeline parses");
    doc["run_dir"] = yaml_serde::Value::String(scratch.join("run").display().to_string());
    if let Some(stages) = doc["stages"].as_mapping_mut() {
        for (_, stage) in stages.iter_mut() {
            if let Some(input) = stage
                .get("input")
                .and_then(|i| i.as_str())
                .map(str::to_string)
                && Path::new(&input).is_relative()
            {
                stage["input"] =
                    yaml_serde::Value::String(repo_root().join(input).display().to_string());
            }
        }
    }
    edit(&mut doc);
    let path = scratch.join(format!("{name}.yaml"));
    std::fs::write(&path, yaml_serde::to_string(&doc).expect("serialise")).expect("write pipeline");
    path
}

/// The package's `segflow-e2e` binary. Cargo builds a package's binaries before running its
/// integration tests, into the directory above the test executables (`target/<profile>/deps`).
pub fn binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps/<test>");
    let bin = dir.join(format!("segflow-e2e{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.is_file(),
        "{} is missing: run the tests through cargo",
        bin.display()
    );
    bin
}

/// Runs the segflow binary with `args` from the repo root.
pub fn segflow(args: &[&str]) -> Output {
    segflow_env(args, &[])
}

pub fn segflow_env(args: &[&str], env: &[(&str, Option<&str>)]) -> Output {
    let mut cmd = Command::new(binary());
    cmd.args(args).current_dir(repo_root());
    for (k, v) in env {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    cmd.output().expect("run segflow")
}

/// Runs one stage alone, as an orchestrator would.
pub fn run_stage(stage: &str, input: &str, output_dir: &Path, params: &str) -> Output {
    segflow(&[
        stage,
        "--input",
        input,
        "--output-dir",
        output_dir.to_str().unwrap(),
        "--params",
        params,
    ])
}

/// Writes a generated call log (`segflow synth calls`) to `output`; returns segflow's output
/// after checking it succeeded.
pub fn synth_calls(output: &Path, rows: u64, contacts: u64, seed: u64) -> Output {
    let o = segflow(&[
        "synth",
        "calls",
        "--rows",
        &rows.to_string(),
        "--contacts",
        &contacts.to_string(),
        "--seed",
        &seed.to_string(),
        "--output",
        output.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    o
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Drops every stage after `last` from a pipeline document: for tests that need only the
/// first stages of a pipeline.
pub fn stop_after(doc: &mut yaml_serde::Value, last: &str) {
    let stages = doc["stages"].as_mapping_mut().expect("stages mapping");
    let keep = stages
        .keys()
        .position(|k| k.as_str() == Some(last))
        .expect("stage exists")
        + 1;
    let later: Vec<yaml_serde::Value> = stages.keys().skip(keep).cloned().collect();
    for stage in later {
        stages.shift_remove(&stage);
    }
}

/// Every Parquet artifact of a run rendered for a snapshot named `<prefix>_<stage>_<artifact>`:
/// whole, or summary and head for the `big` ones (paths relative to the run directory).
pub fn artifact_renderings(run: &Path, prefix: &str, big: &[&str]) -> Vec<(String, String)> {
    files_under(run)
        .into_iter()
        .filter(|rel| rel.ends_with(".parquet"))
        .map(|rel| {
            let name = format!(
                "{prefix}_{}",
                rel.trim_end_matches(".parquet").replace('/', "_")
            );
            let text = if big.contains(&rel.as_str()) {
                render_summary(&run.join(&rel), 10)
            } else {
                render_full(&run.join(&rel))
            };
            (name, text)
        })
        .collect()
}

/// Fails if any artifact of `run` holds one of the `raw` identifiers: in a Parquet cell or
/// its metadata, or as a word of a text document. Words segflow and the shipped pipelines
/// write whatever the data (a contact named "Davies" against "Davies–Bouldin") are not leaks.
/// Returns how many cells and documents were checked.
pub fn assert_no_raw_identifiers(run: &Path, raw: &std::collections::HashSet<String>) -> usize {
    use std::collections::HashSet;
    let mut own_text = String::new();
    for f in files_under(&repo_root().join("pipelines")) {
        own_text.push_str(&std::fs::read_to_string(repo_root().join("pipelines").join(f)).unwrap());
    }
    for crate_dir in std::fs::read_dir(repo_root().join("crates")).unwrap() {
        let src = crate_dir.unwrap().path().join("src");
        for f in files_under(&src) {
            own_text.push_str(&std::fs::read_to_string(src.join(f)).unwrap());
        }
    }
    let words = |text: &str| -> HashSet<String> {
        text.split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_string)
            .collect()
    };
    let vocabulary = words(&own_text);
    let mut checked = 0;
    for rel in files_under(run) {
        let path = run.join(&rel);
        let bytes = std::fs::read(&path).unwrap();
        if !rel.ends_with(".parquet") {
            let text = String::from_utf8_lossy(&bytes);
            let found = words(&text);
            let leaked: Vec<&String> = raw
                .iter()
                .filter(|r| !vocabulary.contains(r.as_str()))
                .filter(|r| {
                    if r.contains(' ') {
                        text.contains(r.as_str())
                    } else {
                        found.contains(r.as_str())
                    }
                })
                .collect();
            assert!(leaked.is_empty(), "{rel} holds raw identifiers {leaked:?}");
            checked += 1;
            continue;
        }
        let a = read_parquet(&path).unwrap();
        for v in a.metadata.values() {
            assert!(
                !raw.iter().any(|r| r.len() > 3 && v.contains(r.as_str())),
                "{rel} metadata holds a raw identifier"
            );
        }
        for col in a.batch.columns() {
            for r in 0..col.len() {
                let c = cell(col.as_ref(), r);
                assert!(!raw.contains(&c), "{rel} holds raw identifier {c}");
                checked += 1;
            }
        }
    }
    checked
}

/// The column names of an artifact, in schema order.
pub fn column_names(a: &segflow_core::artifact::Artifact) -> Vec<String> {
    a.batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect()
}

/// Every file under `dir`, relative, sorted.
pub fn files_under(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                out.push(p.strip_prefix(base).unwrap().display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// A float rounded to `digits` significant digits, printed in its shortest form.
pub fn sig(x: f64, digits: usize) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x == 0.0 || x.is_infinite() {
        return format!("{x}");
    }
    let rounded: f64 = format!("{:.*e}", digits - 1, x)
        .parse()
        .expect("float text parses");
    format!("{rounded}")
}

/// Significant digits used in snapshots: enough to catch any real change, few enough that
/// last-bit summation differences across platforms do not churn snapshots.
pub const SNAPSHOT_DIGITS: usize = 9;

/// One cell as text.
pub fn cell(array: &dyn Array, row: usize) -> String {
    if array.is_null(row) {
        return "∅".into();
    }
    match array.data_type() {
        DataType::Utf8 => array.as_string::<i32>().value(row).to_string(),
        DataType::Boolean => array.as_boolean().value(row).to_string(),
        DataType::Float64 => sig(
            array.as_primitive::<Float64Type>().value(row),
            SNAPSHOT_DIGITS,
        ),
        DataType::Int64 => array.as_primitive::<Int64Type>().value(row).to_string(),
        DataType::UInt64 => array.as_primitive::<UInt64Type>().value(row).to_string(),
        DataType::UInt32 => array.as_primitive::<UInt32Type>().value(row).to_string(),
        DataType::Timestamp(TimeUnit::Microsecond, None) => {
            let micros = array.as_primitive::<TimestampMicrosecondType>().value(row);
            arrow::temporal_conversions::timestamp_us_to_datetime(micros)
                .map(|t| t.format("%Y-%m-%d %H:%M:%S%.f").to_string())
                .unwrap_or_else(|| micros.to_string())
        }
        other => format!("<{other}>"),
    }
}

/// Segflow metadata of an artifact, minus the tool version (which changes with releases).
pub fn metadata(meta: &BTreeMap<String, String>) -> String {
    let mut s = String::new();
    for (k, v) in meta {
        if k.starts_with("segflow.") && k != segflow_core::artifact::META_TOOL_VERSION {
            writeln!(s, "  {k}: {v}").unwrap();
        }
    }
    s
}

fn schema(batch: &RecordBatch) -> String {
    batch
        .schema()
        .fields()
        .iter()
        .map(|f| format!("  {}: {}\n", f.name(), f.data_type()))
        .collect()
}

fn rows(batch: &RecordBatch, range: std::ops::Range<usize>) -> String {
    let mut s = batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect::<Vec<_>>()
        .join(" | ");
    s.push('\n');
    for r in range {
        let line: Vec<String> = batch
            .columns()
            .iter()
            .map(|c| cell(c.as_ref(), r))
            .collect();
        s.push_str(&line.join(" | "));
        s.push('\n');
    }
    s
}

/// Metadata, schema and every row: for artifacts small enough to review whole.
pub fn render_full(path: &Path) -> String {
    let a = read_parquet(path).expect("artifact reads");
    format!(
        "metadata:\n{}schema:\n{}rows: {}\n{}",
        metadata(&a.metadata),
        schema(&a.batch),
        a.batch.num_rows(),
        rows(&a.batch, 0..a.batch.num_rows())
    )
}

/// Metadata, schema, a per-column summary and the first `head` rows: for big artifacts.
pub fn render_summary(path: &Path, head: usize) -> String {
    let a = read_parquet(path).expect("artifact reads");
    let b = &a.batch;
    let mut s = format!(
        "metadata:\n{}schema:\n{}rows: {}\nsummary:\n",
        metadata(&a.metadata),
        schema(b),
        b.num_rows()
    );
    for (field, col) in b.schema().fields().iter().zip(b.columns()) {
        let n = col.len();
        let nulls = col.null_count();
        let mut cells: Vec<String> = (0..n)
            .filter(|&r| col.is_valid(r))
            .map(|r| cell(col.as_ref(), r))
            .collect();
        let distinct = {
            let mut c = cells.clone();
            c.sort();
            c.dedup();
            c.len()
        };
        let detail = match col.data_type() {
            DataType::Float64 | DataType::Int64 | DataType::UInt64 | DataType::UInt32 => {
                let as_f64 =
                    arrow::compute::cast(col, &DataType::Float64).expect("numeric casts to float");
                let v = as_f64.as_primitive::<Float64Type>();
                let sum: f64 = v.iter().flatten().sum();
                let min = v.iter().flatten().fold(f64::INFINITY, f64::min);
                let max = v.iter().flatten().fold(f64::NEG_INFINITY, f64::max);
                format!(
                    "min {} max {} sum {}",
                    sig(min, SNAPSHOT_DIGITS),
                    sig(max, SNAPSHOT_DIGITS),
                    sig(sum, SNAPSHOT_DIGITS)
                )
            }
            _ => {
                cells.sort();
                format!(
                    "min {} max {}",
                    cells.first().cloned().unwrap_or_default(),
                    cells.last().cloned().unwrap_or_default()
                )
            }
        };
        writeln!(
            s,
            "  {}: nulls {nulls}, distinct {distinct}, {detail}",
            field.name()
        )
        .unwrap();
    }
    s.push_str(&format!("head {head}:\n"));
    s.push_str(&rows(b, 0..head.min(b.num_rows())));
    s
}
