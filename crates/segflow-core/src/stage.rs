//! The stage contract: what every stage crate implements so the runner (and the CLI's
//! per-stage subcommands) can validate, run and record it the same way.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use arrow::array::RecordBatch;

use crate::artifact::{self, Provenance};
use crate::lineage;
use crate::params::ParamTree;
use crate::{Error, Result};

/// What a stage run may use besides its inputs and params.
pub struct StageCtx<'a> {
    pub seed: u64,
    /// Reports what the stage is doing now, for progress display.
    pub progress: &'a dyn Fn(&str),
    /// Counts the units of a named step ("seeds", "K") for progress bars with counts; callable
    /// from worker threads, so parallel refits count as they finish.
    pub tally: &'a (dyn Fn(&str, Tally) + Sync),
}

/// A change to one counted step of a stage ("seeds 23/50").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tally {
    /// The step has this many units; announced before the first is done.
    Total(u64),
    /// One more unit done.
    Done,
}

/// Counts nothing: for callers that show no progress.
pub fn no_tally(_step: &str, _tally: Tally) {}

/// A stage kind (ingest, features, …), implemented by a stage crate over its `Params` and `run`.
pub trait Stage: Sync {
    fn kind(&self) -> &'static str;

    /// One line for `segflow --help` and `segflow dag`.
    fn about(&self) -> &'static str;

    /// Artifact kinds (the `segflow.artifact` metadata) this stage reads from upstream stages.
    /// Empty for a stage that reads external files named by `input`.
    fn consumes(&self) -> &'static [&'static str];

    /// Validates params and returns the artifacts a run writes.
    fn plan(&self, params: &ParamTree) -> Result<Vec<Planned>>;

    /// The version of what this stage computes with these params (see [`compose_version`]),
    /// recorded in the lock: a stage whose recorded version differs runs again, and `assign`
    /// refuses a model built by another version. Any change that alters a stage's results
    /// bumps its version, or that of the algorithm its params select.
    fn algorithm_version(&self, params: &ParamTree) -> Result<String>;

    /// Whether the stage writes words about the rows (report, cards, narratives): the runner
    /// then puts the pipeline's top-level `nouns` block into its params as `nouns`, so the
    /// stage crates share no state and a change of nouns changes the params it records.
    fn speaks(&self) -> bool {
        false
    }

    /// The params completed for the artifact kinds the stage will read (`available`: what its
    /// `needs` stages produce, or the files given to a single-stage run), before anything runs.
    /// `None` keeps the params as given. A default that reads an artifact no input provides is
    /// narrowed here, and a declared reference to one is a config error now, not after the
    /// stages before it have run.
    fn complete_params(
        &self,
        _params: &ParamTree,
        _available: &BTreeSet<String>,
    ) -> Result<Option<ParamTree>> {
        Ok(None)
    }

    /// The files a stage that reads external input names in its own params (an ingest's
    /// `sources`), read when the stage's `input` is not given.
    fn external_inputs(&self, _params: &ParamTree) -> Result<Vec<PathBuf>> {
        Ok(Vec::new())
    }

    /// The columns this stage's main artifact will hold, known before anything runs: from its
    /// params, the headers of its external `inputs`, and `upstream`, the columns of the stages
    /// it needs (when any is known). `None`: not known upfront, or nothing later stages name.
    fn columns(
        &self,
        _params: &ParamTree,
        _inputs: &[PathBuf],
        _upstream: Option<&Columns>,
    ) -> Result<Option<Columns>> {
        Ok(None)
    }

    /// Checks every column name the params reference against `upstream`, the columns of the
    /// stages this one needs; a name that is none of them is a config error at its key.
    fn check_references(&self, _params: &ParamTree, _upstream: &Columns) -> Result<()> {
        Ok(())
    }

    /// Runs the stage, writing every planned artifact into `out`; returns the stage's row count
    /// (rows of its main artifact) for the summary.
    fn run(
        &self,
        inputs: &[PathBuf],
        params: &ParamTree,
        out: &mut OutputDir,
        ctx: &StageCtx<'_>,
    ) -> Result<u64>;
}

/// Column names an artifact will hold, as far as they are known before any stage runs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Columns {
    names: Vec<String>,
    /// Prefixes of columns whose names depend on the data (`share_cat_` + a category): a
    /// reference under one is checked when the data is read, not upfront.
    open_prefixes: Vec<String>,
}

impl Columns {
    pub fn new(names: impl IntoIterator<Item = String>) -> Self {
        let mut columns = Self::default();
        columns.names.extend(names);
        columns
    }

    /// Adds columns named `prefix` + a value found in the data.
    pub fn add_open_prefix(&mut self, prefix: impl Into<String>) {
        self.open_prefixes.push(prefix.into());
    }

    /// Adds every column of `other` not already here.
    pub fn extend(&mut self, other: &Columns) {
        for name in &other.names {
            if !self.names.contains(name) {
                self.names.push(name.clone());
            }
        }
        self.open_prefixes
            .extend(other.open_prefixes.iter().cloned());
    }

    /// Whether some of the names depend on the data.
    pub fn is_open(&self) -> bool {
        !self.open_prefixes.is_empty()
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(String::as_str)
    }

    /// Checks the reference to `name` at `key`: one of these columns or of `also` (names the
    /// referring stage computes itself), or under an open prefix. Otherwise a config error
    /// naming the nearest valid names.
    pub fn check(&self, key: &str, name: &str, also: &[&str]) -> Result<()> {
        if self.names.iter().any(|n| n == name)
            || also.contains(&name)
            || self
                .open_prefixes
                .iter()
                .any(|p| name.starts_with(p.as_str()))
        {
            return Ok(());
        }
        let hint = crate::suggest::did_you_mean(name, self.names().chain(also.iter().copied()));
        Err(Error::config(
            "",
            key,
            format!("unknown column `{name}`{hint}"),
        ))
    }
}

/// A stage's algorithm version as the lock records it: the stage's own number, then the name
/// and number of each algorithm its params select (`1`, `1+kmeans.1`). Composing them means a
/// change to an algorithm shared by several stages (k-means) reruns each stage that uses it.
pub fn compose_version(stage: u32, algorithms: &[(&str, u32)]) -> String {
    let mut version = stage.to_string();
    for (name, number) in algorithms {
        version.push_str(&format!("+{name}.{number}"));
    }
    version
}

/// One artifact a stage run will write: its file name and its `segflow.artifact` kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    pub file: String,
    pub kind: &'static str,
    pub format: Format,
}

/// Parquet artifacts are what stages read; CSV copies of summary tables, charts and reports
/// are for people, never a stage input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Parquet,
    Csv,
    /// A file written as given (SVG, HTML).
    Document,
}

impl Planned {
    pub fn new(kind: &'static str) -> Self {
        Self {
            file: format!("{kind}.parquet"),
            kind,
            format: Format::Parquet,
        }
    }

    /// A document (chart, report) named `file`.
    pub fn document(kind: &'static str, file: impl Into<String>) -> Self {
        Self {
            file: file.into(),
            kind,
            format: Format::Document,
        }
    }

    /// A CSV rendering of the artifact `kind`.
    pub fn csv(kind: &'static str) -> Self {
        Self {
            file: format!("{kind}.csv"),
            kind,
            format: Format::Csv,
        }
    }
}

/// The input of a stage that reads exactly one file.
pub fn single_input<'a>(kind: &str, inputs: &'a [PathBuf]) -> Result<&'a Path> {
    match inputs {
        [input] => Ok(input),
        _ => Err(Error::Usage(format!(
            "{kind} reads exactly one input, got {}",
            inputs.len()
        ))),
    }
}

/// The inputs of a stage that reads several artifacts, keyed by their `segflow.artifact` kind
/// (so their order on a command line does not matter). Each kind may appear once; one outside
/// `kinds` is an error, and so are inputs from different runs ([`lineage::check`]): every
/// stage that reads several artifacts classifies them here, so none can skip that check.
pub fn inputs_by_kind(
    stage: &str,
    inputs: &[PathBuf],
    kinds: &[&str],
) -> Result<BTreeMap<String, PathBuf>> {
    let mut found = BTreeMap::new();
    let mut metadata = Vec::with_capacity(inputs.len());
    for path in inputs {
        // Only the footer is read: no column is decoded to learn an artifact's kind.
        let artifact = artifact::open_parquet_columns(path, |_| false)?;
        let kind = artifact.kind().unwrap_or_default().to_string();
        if !kinds.contains(&kind.as_str()) {
            return Err(Error::data(
                crate::error::Location::file(path),
                format!(
                    "{stage} reads {} artifacts, not {}",
                    kinds.join(", "),
                    if kind.is_empty() {
                        "a file without segflow metadata"
                    } else {
                        &kind
                    }
                ),
            ));
        }
        if found.insert(kind.clone(), path.clone()).is_some() {
            return Err(Error::Usage(format!(
                "two {kind} artifacts given to {stage}"
            )));
        }
        metadata.push(artifact.metadata);
    }
    let chain: Vec<lineage::Input<'_>> = inputs
        .iter()
        .zip(&metadata)
        .map(|(path, metadata)| lineage::Input { path, metadata })
        .collect();
    lineage::check(&chain)?;
    Ok(found)
}

/// The input of kind `kind` among [`inputs_by_kind`]'s, which the stage cannot do without.
pub fn required_input(
    found: &BTreeMap<String, PathBuf>,
    stage: &str,
    kind: &str,
) -> Result<PathBuf> {
    found
        .get(kind)
        .cloned()
        .ok_or_else(|| Error::Usage(format!("{stage} needs the {kind} artifact as an input")))
}

/// The stage kinds this build knows.
pub struct Registry {
    stages: Vec<&'static dyn Stage>,
}

impl Registry {
    pub fn new(stages: Vec<&'static dyn Stage>) -> Self {
        Self { stages }
    }

    pub fn get(&self, kind: &str) -> Option<&'static dyn Stage> {
        self.stages.iter().copied().find(|s| s.kind() == kind)
    }

    pub fn kinds(&self) -> Vec<&'static str> {
        self.stages.iter().map(|s| s.kind()).collect()
    }
}

/// Where a stage writes its artifacts. Files go to a staging directory beside the final one
/// and are moved into place by [`OutputDir::commit`]; if the stage fails, dropping the
/// `OutputDir` removes the staging directory, so no partial artifact is ever left behind.
pub struct OutputDir {
    staging: PathBuf,
    target: PathBuf,
    provenance: Provenance,
    planned: Vec<Planned>,
    written: Vec<String>,
    committed: bool,
    /// Whether the target directory is the stage's alone ([`OutputDir::owned`]).
    owned: bool,
}

/// An artifact being written batch by batch into an [`OutputDir`].
pub struct StagedStream {
    file: String,
    stream: artifact::ParquetStream,
}

impl StagedStream {
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.stream.write(batch)
    }
}

impl OutputDir {
    /// An output directory the user named, which may hold other files: committing replaces
    /// the planned files and leaves everything else there alone.
    pub fn new(target: &Path, provenance: Provenance, planned: Vec<Planned>) -> Result<Self> {
        Self::create(target, provenance, planned, false)
    }

    /// A stage's directory in a run, which holds nothing but that stage's artifacts:
    /// committing replaces the directory as a whole, so an artifact the stage no longer
    /// plans (a chart taken out of the pipeline) leaves with the rest of the previous run.
    pub fn owned(target: &Path, provenance: Provenance, planned: Vec<Planned>) -> Result<Self> {
        Self::create(target, provenance, planned, true)
    }

    fn create(
        target: &Path,
        provenance: Provenance,
        planned: Vec<Planned>,
        owned: bool,
    ) -> Result<Self> {
        let parent = target
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let staging = parent.join(format!(".{name}.staging-{}", std::process::id()));
        if staging.exists() {
            fs::remove_dir_all(&staging).map_err(|e| Error::io(&staging, e))?;
        }
        fs::create_dir_all(&staging).map_err(|e| Error::io(&staging, e))?;
        Ok(Self {
            staging,
            target: target.to_path_buf(),
            provenance,
            planned,
            written: Vec::new(),
            committed: false,
            owned,
        })
    }

    pub fn provenance(&self) -> &Provenance {
        &self.provenance
    }

    /// Writes the planned artifact of kind `kind`, with extra `segflow.*` metadata.
    pub fn write(
        &mut self,
        kind: &str,
        batch: &RecordBatch,
        extra: &[(String, String)],
    ) -> Result<()> {
        let file = self.planned_file(kind, Format::Parquet)?;
        artifact::write_parquet(
            &self.staging.join(&file),
            batch,
            kind,
            &self.provenance,
            extra,
        )?;
        self.written.push(file);
        Ok(())
    }

    /// Opens the planned artifact `kind` for writing batch by batch; it counts as written once
    /// [`OutputDir::finish`] has closed it.
    pub fn stream(
        &mut self,
        kind: &str,
        schema: arrow::datatypes::SchemaRef,
        extra: &[(String, String)],
    ) -> Result<StagedStream> {
        let file = self.planned_file(kind, Format::Parquet)?;
        let stream = artifact::ParquetStream::create(
            &self.staging.join(&file),
            schema,
            kind,
            &self.provenance,
            extra,
        )?;
        Ok(StagedStream { file, stream })
    }

    pub fn finish(&mut self, staged: StagedStream) -> Result<()> {
        staged.stream.finish()?;
        self.written.push(staged.file);
        Ok(())
    }

    /// Writes the planned CSV rendering of `kind` (header row, RFC 4180 quoting).
    pub fn write_csv(&mut self, kind: &str, batch: &RecordBatch) -> Result<()> {
        let file = self.planned_file(kind, Format::Csv)?;
        let mut bytes = Vec::new();
        arrow::csv::WriterBuilder::new()
            .with_header(true)
            .build(&mut bytes)
            .write(batch)?;
        artifact::write_atomic(&self.staging.join(&file), &bytes)?;
        self.written.push(file);
        Ok(())
    }

    /// Writes the planned document `kind` (its bytes as given).
    pub fn write_document(&mut self, kind: &str, bytes: &[u8]) -> Result<()> {
        let file = self.planned_file(kind, Format::Document)?;
        artifact::write_atomic(&self.staging.join(&file), bytes)?;
        self.written.push(file);
        Ok(())
    }

    fn planned_file(&self, kind: &str, format: Format) -> Result<String> {
        self.planned
            .iter()
            .find(|p| p.kind == kind && p.format == format)
            .map(|p| p.file.clone())
            .ok_or_else(|| {
                Error::Internal(format!(
                    "stage wrote unplanned artifact {kind} ({format:?})"
                ))
            })
    }

    /// Moves every artifact into the target directory. Returns their final paths.
    pub fn commit(mut self) -> Result<Vec<PathBuf>> {
        let missing: Vec<&str> = self
            .planned
            .iter()
            .filter(|p| !self.written.contains(&p.file))
            .map(|p| p.file.as_str())
            .collect();
        if !missing.is_empty() {
            return Err(Error::Internal(format!(
                "stage did not write planned artifacts {missing:?}"
            )));
        }
        if self.owned {
            self.replace_target()?;
        } else {
            fs::create_dir_all(&self.target).map_err(|e| Error::io(&self.target, e))?;
            for planned in &self.planned {
                let to = self.target.join(&planned.file);
                fs::rename(self.staging.join(&planned.file), &to).map_err(|e| Error::io(&to, e))?;
            }
        }
        self.committed = true;
        let _ = fs::remove_dir_all(&self.staging);
        Ok(self
            .planned
            .iter()
            .map(|p| self.target.join(&p.file))
            .collect())
    }

    /// Swaps the staging directory in for the target: the previous directory is first renamed
    /// aside (`.<name>.old-<pid>`, which the runner removes if a crash leaves it), so the
    /// target never mixes two runs' files; a crash between the renames leaves it missing,
    /// which the lock reports as stale.
    fn replace_target(&self) -> Result<()> {
        let aside = self.staging.with_file_name(format!(
            ".{}.old-{}",
            self.target
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            std::process::id()
        ));
        if aside.exists() {
            fs::remove_dir_all(&aside).map_err(|e| Error::io(&aside, e))?;
        }
        let previous = match fs::rename(&self.target, &aside) {
            Ok(()) => true,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
            Err(e) => return Err(Error::io(&self.target, e)),
        };
        fs::rename(&self.staging, &self.target).map_err(|e| Error::io(&self.target, e))?;
        if previous {
            fs::remove_dir_all(&aside).map_err(|e| Error::io(&aside, e))?;
        }
        Ok(())
    }
}

impl Drop for OutputDir {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_dir_all(&self.staging);
        }
    }
}

/// Hashes of the given inputs (files or part-file directories) keyed by file name, as
/// recorded in provenance.
pub fn input_hashes(inputs: &[PathBuf]) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for path in inputs {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        out.insert(name, crate::dataset::input_sha256(path)?);
    }
    Ok(out)
}

/// The `segflow.artifact` kinds of the given artifacts, read from their footers alone.
fn input_kinds(inputs: &[PathBuf]) -> Result<BTreeSet<String>> {
    inputs
        .iter()
        .map(|path| {
            let artifact = artifact::open_parquet_columns(path, |_| false)?;
            Ok(artifact.kind().unwrap_or_default().to_string())
        })
        .collect()
}

/// Runs one stage outside a pipeline (the orchestrator path) with the same artifacts the
/// runner would write.
pub fn run_standalone(
    stage: &dyn Stage,
    inputs: &[PathBuf],
    params_file: &Path,
    output_dir: &Path,
    seed: u64,
    progress: &dyn Fn(&str),
    tally: &(dyn Fn(&str, Tally) + Sync),
) -> Result<(u64, Vec<PathBuf>)> {
    let text = crate::yaml::read_config(params_file)?;
    let file = params_file.display().to_string();
    let params = crate::yaml::parse_document(&file, &text)?;
    let params = if params.is_null() {
        ParamTree::empty()
    } else {
        params
    };
    run_with_params(stage, inputs, &params, output_dir, seed, progress, tally)
        .map_err(|e| e.in_config(&file, "params"))
}

/// Runs one stage on the given files with params already parsed, committing its artifacts
/// to `output_dir` only when all of them are written.
pub fn run_with_params(
    stage: &dyn Stage,
    inputs: &[PathBuf],
    params: &ParamTree,
    output_dir: &Path,
    seed: u64,
    progress: &dyn Fn(&str),
    tally: &(dyn Fn(&str, Tally) + Sync),
) -> Result<(u64, Vec<PathBuf>)> {
    for input in inputs {
        if !crate::dataset::exists(input) {
            return Err(Error::NoInput {
                path: input.clone(),
                reason: "no such file".into(),
            });
        }
    }
    let completed = if stage.consumes().is_empty() {
        None
    } else {
        stage.complete_params(params, &input_kinds(inputs)?)?
    };
    let params = completed.as_ref().unwrap_or(params);
    let planned = stage.plan(params)?;
    let provenance = Provenance {
        stage: stage.kind().to_string(),
        params_hash: crate::hash::params_hash(stage.kind(), params)?,
        params: crate::hash::params_json(params)?,
        input_hashes: input_hashes(inputs)?,
        seed,
    };
    let mut out = OutputDir::new(output_dir, provenance, planned)?;
    let ctx = StageCtx {
        seed,
        progress,
        tally,
    };
    let rows = stage.run(inputs, params, &mut out, &ctx)?;
    Ok((rows, out.commit()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provenance() -> Provenance {
        Provenance {
            stage: "visualize".into(),
            params_hash: String::new(),
            params: "{}".into(),
            input_hashes: BTreeMap::new(),
            seed: 0,
        }
    }

    /// Commits documents `files` (each holding its own name) into `target`.
    fn commit(target: &Path, files: &[&'static str], owned: bool) -> Vec<PathBuf> {
        let planned: Vec<Planned> = files.iter().map(|f| Planned::document(f, *f)).collect();
        let mut out = if owned {
            OutputDir::owned(target, provenance(), planned)
        } else {
            OutputDir::new(target, provenance(), planned)
        }
        .unwrap();
        for f in files {
            out.write_document(f, f.as_bytes()).unwrap();
        }
        out.commit().unwrap()
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn an_owned_directory_holds_exactly_the_last_commit_and_a_shared_one_keeps_other_files() {
        let base = std::env::temp_dir().join(format!("segflow-outputdir-{}", std::process::id()));
        let _ = fs::remove_dir_all(&base);
        let owned = base.join("run/visualize");
        commit(&owned, &["a.svg", "b.svg"], true);
        fs::write(owned.join("notes.txt"), "left by hand").unwrap();
        let paths = commit(&owned, &["b.svg", "c.svg"], true);
        assert_eq!(names(&owned), ["b.svg", "c.svg"]);
        assert_eq!(paths, [owned.join("b.svg"), owned.join("c.svg")]);
        assert_eq!(
            names(&base.join("run")),
            ["visualize"],
            "nothing set aside is left"
        );

        let shared = base.join("out");
        commit(&shared, &["a.svg", "b.svg"], false);
        commit(&shared, &["b.svg"], false);
        assert_eq!(names(&shared), ["a.svg", "b.svg"]);
        fs::remove_dir_all(&base).unwrap();
    }
}
