//! Helpers for segflow's end-to-end tests: isolated copies of the pipelines, running the
//! binary, and a stable text rendering of Parquet artifacts for insta snapshots.

pub mod engines;

use std::collections::{BTreeMap, HashSet};
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

/// Writes `csv` as `dir/<file>` and `params` as `dir/ingest.yaml`, then runs the ingest stage on
/// them into `dir/<out>`; returns segflow's output and that directory.
pub fn ingest_text(
    dir: &Path,
    file: &str,
    csv: &str,
    params: &str,
    out: &str,
) -> (Output, PathBuf) {
    let input = dir.join(file);
    std::fs::write(&input, csv).expect("write the input");
    let params_file = dir.join("ingest.yaml");
    std::fs::write(&params_file, params).expect("write the params");
    let out = dir.join(out);
    let o = run_stage(
        "ingest",
        input.to_str().unwrap(),
        &out,
        params_file.to_str().unwrap(),
    );
    (o, out)
}

/// Runs `stage` in this process over `inputs` into `dir`, as the runner does (seed 42, no
/// progress lines).
pub fn run_in_process(
    stage: &dyn segflow_core::stage::Stage,
    inputs: &[PathBuf],
    params: &segflow_core::params::ParamTree,
    dir: &Path,
) -> segflow_core::Result<(u64, Vec<PathBuf>)> {
    segflow_core::stage::run_with_params(
        stage,
        inputs,
        params,
        dir,
        42,
        &|_| {},
        &segflow_core::stage::no_tally,
    )
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

/// Raw identifiers of an input (its contact or entity id column, read with [`csv_column`]),
/// split for matching: ids that are one word (letters and digits) are looked up among a
/// text's words; others (with spaces or punctuation) are searched for as they are.
pub struct RawIds {
    words: HashSet<String>,
    phrases: Vec<String>,
}

impl RawIds {
    pub fn new(ids: impl IntoIterator<Item = String>) -> Self {
        let (words, phrases): (HashSet<String>, HashSet<String>) = ids
            .into_iter()
            .filter(|id| !id.is_empty())
            .partition(|id| id.chars().all(char::is_alphanumeric));
        RawIds {
            words,
            phrases: phrases.into_iter().collect(),
        }
    }

    pub fn len(&self) -> usize {
        self.words.len() + self.phrases.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The ids that stand in `text` as themselves: not inside a longer word or number, so
    /// the digits of a phone number inside a hex hash are no leak, while `648578192` in
    /// `<td>648578192</td>` or `648578192.0` is one.
    pub fn found_in(&self, text: &str) -> Vec<String> {
        let mut found: Vec<String> = text
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| self.words.contains(*w))
            .map(str::to_string)
            .collect();
        for phrase in &self.phrases {
            let standalone = text.match_indices(phrase.as_str()).any(|(at, _)| {
                let before = text[..at].chars().next_back();
                let after = text[at + phrase.len()..].chars().next();
                !before.is_some_and(char::is_alphanumeric)
                    && !after.is_some_and(char::is_alphanumeric)
            });
            if standalone {
                found.push(phrase.clone());
            }
        }
        found.sort();
        found.dedup();
        found
    }
}

/// Every place a file under `run` holds one of the raw `ids`, as `file: where: ids`: Parquet
/// cells, column names and metadata values, and the whole text of every other file (HTML
/// report, SVG charts, CSV copies, lock file). Also returns how many cells and documents
/// were checked.
pub fn raw_identifier_leaks(run: &Path, ids: &RawIds) -> (Vec<String>, usize) {
    leaks_under(run, ids, true)
}

/// [`raw_identifier_leaks`] in the Parquet artifacts alone, for raw values that may also be
/// ordinary words of a report (a contact named Davies against the Davies–Bouldin index).
pub fn raw_identifier_leaks_in_parquet(run: &Path, ids: &RawIds) -> (Vec<String>, usize) {
    leaks_under(run, ids, false)
}

fn leaks_under(run: &Path, ids: &RawIds, text_files: bool) -> (Vec<String>, usize) {
    let mut leaks = Vec::new();
    let mut checked = 0;
    let mut report = |rel: &str, place: &str, found: Vec<String>| {
        if !found.is_empty() {
            leaks.push(format!("{rel}: {place}: {found:?}"));
        }
    };
    for rel in files_under(run) {
        let path = run.join(&rel);
        if !rel.ends_with(".parquet") {
            if text_files {
                let bytes = std::fs::read(&path).unwrap();
                report(&rel, "text", ids.found_in(&String::from_utf8_lossy(&bytes)));
                checked += 1;
            }
            continue;
        }
        let a = read_parquet(&path).unwrap();
        for (key, value) in &a.metadata {
            report(&rel, &format!("metadata {key}"), ids.found_in(value));
        }
        for (field, col) in a.batch.schema().fields().iter().zip(a.batch.columns()) {
            report(&rel, "column name", ids.found_in(field.name()));
            for r in (0..col.len()).filter(|&r| col.is_valid(r)) {
                let found = match col.data_type() {
                    // A number is a raw id only when it equals one, printed in full (not
                    // rounded as in snapshots): 648578192.5 is a value, 648578192 an id.
                    DataType::Float64 => {
                        let v = col.as_primitive::<Float64Type>().value(r).to_string();
                        ids.words.get(&v).cloned().into_iter().collect()
                    }
                    _ => ids.found_in(&cell(col.as_ref(), r)),
                };
                report(&rel, &format!("column {} row {r}", field.name()), found);
                checked += 1;
            }
        }
    }
    (leaks, checked)
}

/// Fails if any file under `run` holds one of the raw `ids` (see [`raw_identifier_leaks`]);
/// returns how many cells and documents were checked.
pub fn assert_no_raw_identifiers(run: &Path, ids: &RawIds) -> usize {
    let (leaks, checked) = raw_identifier_leaks(run, ids);
    assert!(
        leaks.is_empty(),
        "{} places hold raw identifiers, the first: {:#?}",
        leaks.len(),
        &leaks[..leaks.len().min(10)]
    );
    checked
}

/// A CSV file's header and records, parsed with the csv crate (quoted fields, embedded
/// delimiters and CRLF line ends included).
pub fn read_csv(path: &Path) -> (csv::StringRecord, Vec<csv::StringRecord>) {
    let mut reader = csv::Reader::from_path(path)
        .unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display()));
    let header = reader.headers().expect("CSV header").clone();
    let records = reader
        .records()
        .collect::<Result<Vec<_>, _>>()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (header, records)
}

/// The position of `column` in a CSV header.
pub fn csv_position(header: &csv::StringRecord, column: &str) -> usize {
    header
        .iter()
        .position(|h| h == column)
        .unwrap_or_else(|| panic!("no column {column} in {header:?}"))
}

/// Every value of one column of a CSV file, in row order.
pub fn csv_column(path: &Path, column: &str) -> Vec<String> {
    let (header, records) = read_csv(path);
    let at = csv_position(&header, column);
    records.iter().map(|r| r[at].to_string()).collect()
}

/// Writes a CSV file (header, then records) with the csv crate.
pub fn write_csv<'a>(
    path: &Path,
    header: &csv::StringRecord,
    records: impl IntoIterator<Item = &'a csv::StringRecord>,
) {
    let mut writer = csv::Writer::from_path(path).expect("create CSV");
    writer.write_record(header).expect("write CSV header");
    for record in records {
        writer.write_record(record).expect("write CSV record");
    }
    writer.flush().expect("flush CSV");
}

/// A text column of a Parquet artifact, nulls as empty strings.
pub fn text_column(path: &Path, column: &str) -> Vec<String> {
    let a = read_parquet(path).unwrap();
    a.batch
        .column_by_name(column)
        .unwrap_or_else(|| panic!("{} has no column {column}", path.display()))
        .as_string::<i32>()
        .iter()
        .map(|v| v.unwrap_or_default().to_string())
        .collect()
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

/// What a failed command may print on stdout: nothing, or (with `--json`) one error object and
/// nothing of a summary.
pub fn assert_no_summary(stdout: &str) {
    if stdout.trim().is_empty() {
        return;
    }
    let value: serde_json::Value = serde_json::from_str(stdout)
        .unwrap_or_else(|e| panic!("stdout is neither empty nor one JSON value ({e}): {stdout}"));
    let keys: Vec<&String> = value
        .as_object()
        .map(|o| o.keys().collect())
        .unwrap_or_default();
    assert_eq!(keys, ["error"], "half a summary: {stdout}");
}

/// Walsoft's model blocks and their features, in the order its features stage writes them.
pub const WALSOFT_MODEL_BLOCKS: &[(&str, &[&str])] = &[
    (
        "volume",
        &[
            "n_calls",
            "n_days_active",
            "calls_per_active_day",
            "calls_per_tenure_day",
            "log_n_calls",
        ],
    ),
    (
        "duration",
        &[
            "total_dur_sec",
            "mean_dur_sec",
            "median_dur_sec",
            "p90_dur_sec",
            "log_total_dur",
            "log_median_dur",
            "long_call_share",
        ],
    ),
    ("recency", &["recency_days", "tenure_days"]),
    (
        "timing",
        &[
            "share_business_hours",
            "share_evening",
            "share_early_morning",
            "share_late_night",
            "share_open_day",
            "share_closed_day",
        ],
    ),
];

/// The call-log oracle's pipeline (`tests/oracle/calllog`) with preprocess and fit at `k`
/// added, `fit_extra` appended to fit's params, run into `scratch/run`; returns the run
/// directory.
pub fn calllog_run(scratch: &Path, k: usize, fit_extra: &str) -> PathBuf {
    let text =
        std::fs::read_to_string(repo_root().join("tests/oracle/calllog/pipeline.yaml")).unwrap();
    let mut doc: yaml_serde::Value = yaml_serde::from_str(&text).unwrap();
    doc["run_dir"] = yaml_serde::Value::String(scratch.join("run").display().to_string());
    doc["stages"]["ingest"]["input"] = yaml_serde::Value::String(
        repo_root()
            .join("tests/oracle/calllog/calls.csv")
            .display()
            .to_string(),
    );
    let rest: yaml_serde::Value = yaml_serde::from_str(&format!(
        "preprocess: {{needs: [features]}}\n\
         fit: {{needs: [preprocess, features], k: {k}, n_init: 5, {fit_extra}}}\n"
    ))
    .unwrap();
    for (key, value) in rest.as_mapping().unwrap() {
        doc["stages"]
            .as_mapping_mut()
            .unwrap()
            .insert(key.clone(), value.clone());
    }
    let path = scratch.join("pipeline.yaml");
    std::fs::write(&path, yaml_serde::to_string(&doc).unwrap()).unwrap();
    let out = segflow(&["run", path.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    scratch.join("run")
}
