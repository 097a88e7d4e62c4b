//! The pipeline YAML: parsing, validation and dependency order.
//!
//! Every problem is a config error (exit 78) naming the file and the key path, found before
//! any stage runs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

use serde_json::{Map as Mapping, Value};

use crate::params::ParamTree;

use crate::stage::{Columns, Format, Planned, Registry, Stage};
use crate::{Error, Result};

const TOP_KEYS: &[&str] = &[
    "pipeline",
    "description",
    "seed",
    "run_dir",
    "nouns",
    "stages",
];
/// Keys the runner reads from a stage's block; every other key is the stage's params.
const RUNNER_KEYS: &[&str] = &["uses", "needs", "input", "output_dir"];
pub const DEFAULT_SEED: u64 = 42;

#[derive(Clone)]
pub struct Pipeline {
    pub file: PathBuf,
    pub name: String,
    pub seed: u64,
    pub run_dir: PathBuf,
    /// Stages in dependency order (ties keep the order of the YAML).
    pub stages: Vec<StageSpec>,
}

#[derive(Clone)]
pub struct StageSpec {
    pub name: String,
    pub stage: &'static dyn Stage,
    pub needs: Vec<String>,
    /// External input files (`input`), as named in the YAML.
    pub inputs: Vec<PathBuf>,
    pub output_dir: PathBuf,
    pub params: ParamTree,
    /// Artifacts a run writes.
    pub outputs: Vec<Planned>,
}

impl StageSpec {
    pub fn output_paths(&self) -> Vec<PathBuf> {
        self.outputs
            .iter()
            .map(|o| self.output_dir.join(&o.file))
            .collect()
    }
}

impl Pipeline {
    pub fn load(path: &Path, registry: &Registry) -> Result<Self> {
        let text = crate::yaml::read_config(path)?;
        Self::parse(path, &text, registry)
    }

    pub fn stage(&self, name: &str) -> Option<&StageSpec> {
        self.stages.iter().find(|s| s.name == name)
    }

    /// The stage named `name`, or a usage error listing the stages there are.
    pub fn require_stage(&self, name: &str) -> Result<&StageSpec> {
        self.stage(name).ok_or_else(|| {
            let names: Vec<&str> = self.stages.iter().map(|s| s.name.as_str()).collect();
            Error::Usage(format!(
                "pipeline {} has no stage `{name}` (stages: {})",
                self.name,
                names.join(", ")
            ))
        })
    }

    /// Names of `name` and every stage that depends on it, directly or not.
    pub fn downstream(&self, name: &str) -> BTreeSet<String> {
        let mut set = BTreeSet::from([name.to_string()]);
        for spec in &self.stages {
            if spec.needs.iter().any(|n| set.contains(n)) {
                set.insert(spec.name.clone());
            }
        }
        set
    }

    pub fn parse(path: &Path, text: &str, registry: &Registry) -> Result<Self> {
        let file = path.display().to_string();
        let root = crate::yaml::parse_document(&file, text)?.into_tree();
        let Value::Object(root) = root else {
            return Err(Error::config(
                &file,
                "",
                "the pipeline must be a mapping with `pipeline` and `stages`",
            ));
        };
        check_keys(&root, TOP_KEYS, "", &file)?;
        let name = parse_name(&root, &file)?;
        let seed = parse_seed(&root, &file)?;
        let run_dir = parse_run_dir(&root, &name, &file)?;
        let nouns = parse_nouns(&root, &file)?;
        let declared = parse_stages(&root, &run_dir, nouns, registry, &file)?;
        check_needs(&declared, &file)?;
        check_output_dirs(&declared, &file)?;
        let mut stages = topological_order(declared, &file)?;
        complete_params(&mut stages, &file)?;
        let pipeline = Pipeline {
            file: path.to_path_buf(),
            name,
            seed,
            run_dir,
            stages,
        };
        pipeline.check_inputs()?;
        Ok(pipeline)
    }

    /// Every column name the stages' params reference, checked against the columns their
    /// upstream stages will write (the input headers, the feature names the spec derives)
    /// before any stage runs, so a typo is a config error now and not after the stages before
    /// it have run. Names that depend on the data are checked by [`Pipeline::recheck_names`].
    pub fn check_names(&self) -> Result<()> {
        self.check_names_given(None)
    }

    /// Once `stage` has written its main artifact, the references to its columns whose names
    /// depend on the data (`category_shares`' categories) are checked against the columns it
    /// wrote, before any later stage writes. A stage whose columns were all known upfront has
    /// nothing left to check.
    pub fn recheck_names(&self, stage: &StageSpec) -> Result<()> {
        let Some(main) = stage.outputs.iter().find(|o| o.format == Format::Parquet) else {
            return Ok(());
        };
        let path = stage.output_dir.join(&main.file);
        let written = crate::artifact::open_parquet_columns(&path, |_| true)?;
        let names = written.schema.fields().iter().map(|f| f.name().clone());
        self.check_names_given(Some((&stage.name, Columns::new(names))))
    }

    /// [`Pipeline::check_names`], with the columns one stage actually wrote in place of its
    /// open (data-dependent) ones; without any open ones, nothing is checked again.
    fn check_names_given(&self, written: Option<(&str, Columns)>) -> Result<()> {
        let file = self.file.display().to_string();
        let mut known: BTreeMap<&str, Columns> = BTreeMap::new();
        for spec in &self.stages {
            let in_config = |e: Error| e.in_config(&file, &format!("stages.{}", spec.name));
            let mut upstream: Option<Columns> = None;
            for need in &spec.needs {
                if let Some(columns) = known.get(need.as_str()) {
                    upstream
                        .get_or_insert_with(Columns::default)
                        .extend(columns);
                }
            }
            if let Some(upstream) = &upstream {
                spec.stage
                    .check_references(&spec.params, upstream)
                    .map_err(in_config)?;
            }
            let mut provided = spec
                .stage
                .columns(&spec.params, &spec.inputs, upstream.as_ref())
                .map_err(in_config)?;
            if let Some((stage, columns)) = &written
                && *stage == spec.name
            {
                if !provided.as_ref().is_some_and(Columns::is_open) {
                    return Ok(());
                }
                provided = Some(columns.clone());
            }
            if let Some(columns) = provided {
                known.insert(&spec.name, columns);
            }
        }
        Ok(())
    }

    /// Every stage must find what it reads: existing external files, or an upstream stage
    /// producing an artifact kind it consumes.
    fn check_inputs(&self) -> Result<()> {
        let file = self.file.display().to_string();
        for spec in &self.stages {
            let consumes = spec.stage.consumes();
            if consumes.is_empty() {
                if spec.inputs.is_empty() {
                    return Err(Error::config(
                        &file,
                        format!("stages.{}.input", spec.name),
                        "missing: this stage reads an input file",
                    ));
                }
                for input in &spec.inputs {
                    if !crate::dataset::exists(input) {
                        return Err(Error::config(
                            &file,
                            format!("stages.{}.input", spec.name),
                            format!("input {} does not exist", input.display()),
                        ));
                    }
                }
            } else {
                if !spec.inputs.is_empty() {
                    return Err(Error::config(
                        &file,
                        format!("stages.{}.input", spec.name),
                        "this stage reads its upstream stages' artifacts (`needs`), not files",
                    ));
                }
                let found = spec.needs.iter().any(|need| {
                    self.stage(need).is_some_and(|up| {
                        up.outputs
                            .iter()
                            .any(|o| o.format == Format::Parquet && consumes.contains(&o.kind))
                    })
                });
                if !found {
                    return Err(Error::config(
                        &file,
                        format!("stages.{}.needs", spec.name),
                        format!(
                            "no stage in `needs` produces what {} reads ({})",
                            spec.stage.kind(),
                            consumes.join(" or ")
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}

fn parse_name(root: &Mapping<String, Value>, file: &str) -> Result<String> {
    match root.get("pipeline") {
        Some(Value::String(s)) if valid_name(s) => Ok(s.clone()),
        Some(_) => Err(Error::config(
            file,
            "pipeline",
            "must be a name of letters, digits, `_` or `-`",
        )),
        None => Err(Error::config(
            file,
            "pipeline",
            "missing (the pipeline's name)",
        )),
    }
}

fn parse_seed(root: &Mapping<String, Value>, file: &str) -> Result<u64> {
    match root.get("seed") {
        None => Ok(DEFAULT_SEED),
        // k-means reads the seed as scikit-learn's random_state, numpy's RandomState(seed),
        // which takes 32-bit seeds only.
        Some(v) => v.as_u64().filter(|&s| s <= u32::MAX as u64).ok_or_else(|| {
            Error::config(
                file,
                "seed",
                "must be an integer from 0 to 4294967295 (scikit-learn's random_state range)",
            )
        }),
    }
}

/// `run_dir`, by default `runs/<pipeline name>`.
fn parse_run_dir(root: &Mapping<String, Value>, name: &str, file: &str) -> Result<PathBuf> {
    match root.get("run_dir") {
        None => Ok(PathBuf::from("runs").join(name)),
        Some(Value::String(s)) if !s.is_empty() => Ok(PathBuf::from(s)),
        Some(_) => Err(Error::config(file, "run_dir", "must be a path")),
    }
}

/// Every stage block, in the order of the YAML.
/// The top-level `nouns` block, checked here so a typo names the pipeline's key rather than
/// a stage's.
fn parse_nouns<'a>(root: &'a Mapping<String, Value>, file: &str) -> Result<Option<&'a Value>> {
    let Some(nouns) = root.get("nouns") else {
        return Ok(None);
    };
    crate::params::parse_params::<crate::nouns::Nouns>(&ParamTree::from_tree(nouns.clone()))
        .map_err(|e| e.in_config(file, "nouns"))?;
    Ok(Some(nouns))
}

fn parse_stages(
    root: &Mapping<String, Value>,
    run_dir: &Path,
    nouns: Option<&Value>,
    registry: &Registry,
    file: &str,
) -> Result<Vec<StageSpec>> {
    let Some(Value::Object(stage_map)) = root.get("stages") else {
        return Err(Error::config(
            file,
            "stages",
            "missing or not a mapping of stage name → stage",
        ));
    };
    if stage_map.is_empty() {
        return Err(Error::config(file, "stages", "no stages"));
    }
    stage_map
        .iter()
        .map(|(stage_name, body)| parse_stage(stage_name, body, run_dir, nouns, registry, file))
        .collect()
}

/// Each stage's params completed for the artifact kinds its `needs` stages produce
/// ([`Stage::complete_params`]), and its outputs planned again from them.
fn complete_params(stages: &mut [StageSpec], file: &str) -> Result<()> {
    for i in 0..stages.len() {
        let spec = &stages[i];
        let available: BTreeSet<String> = stages
            .iter()
            .filter(|up| spec.needs.contains(&up.name))
            .flat_map(|up| &up.outputs)
            .filter(|o| o.format == Format::Parquet)
            .map(|o| o.kind.to_string())
            .collect();
        let in_config = |e: Error| e.in_config(file, &format!("stages.{}", spec.name));
        let Some(params) = spec
            .stage
            .complete_params(&spec.params, &available)
            .map_err(in_config)?
        else {
            continue;
        };
        let outputs = spec.stage.plan(&params).map_err(in_config)?;
        let spec = &mut stages[i];
        spec.params = params;
        spec.outputs = outputs;
    }
    Ok(())
}

/// Every `needs` names a declared stage.
fn check_needs(declared: &[StageSpec], file: &str) -> Result<()> {
    let names: Vec<String> = declared.iter().map(|s| s.name.clone()).collect();
    for spec in declared {
        for need in &spec.needs {
            if !names.contains(need) {
                return Err(Error::config(
                    file,
                    format!("stages.{}.needs", spec.name),
                    format!("unknown stage `{need}` (stages: {})", names.join(", ")),
                ));
            }
        }
    }
    Ok(())
}

/// No two stages write into the same directory, nor one inside another's: a run replaces a
/// stage's directory as a whole.
fn check_output_dirs(declared: &[StageSpec], file: &str) -> Result<()> {
    for (i, spec) in declared.iter().enumerate() {
        for other in &declared[..i] {
            let (a, b) = (&spec.output_dir, &other.output_dir);
            let problem = if a == b {
                format!(
                    "{} is already stage `{}`'s output directory",
                    a.display(),
                    other.name
                )
            } else if a.starts_with(b) || b.starts_with(a) {
                format!(
                    "{} and stage `{}`'s {} lie one inside the other; each run replaces a stage's directory as a whole",
                    a.display(),
                    other.name,
                    b.display()
                )
            } else {
                continue;
            };
            return Err(Error::config(
                file,
                format!("stages.{}.output_dir", spec.name),
                problem,
            ));
        }
    }
    Ok(())
}

fn parse_stage(
    name: &str,
    body: &Value,
    run_dir: &Path,
    nouns: Option<&Value>,
    registry: &Registry,
    file: &str,
) -> Result<StageSpec> {
    let key = |k: &str| format!("stages.{name}.{k}");
    let Value::Object(body) = body else {
        return Err(Error::config(
            file,
            format!("stages.{name}"),
            "must be a mapping",
        ));
    };
    let kind = match body.get("uses") {
        None => name.to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(_) => {
            return Err(Error::config(
                file,
                key("uses"),
                "must be a stage kind name",
            ));
        }
    };
    let stage = registry.get(&kind).ok_or_else(|| {
        let k = if body.contains_key("uses") {
            key("uses")
        } else {
            format!("stages.{name}")
        };
        Error::config(
            file,
            k,
            format!(
                "unknown stage kind `{kind}` (known: {})",
                registry.kinds().join(", ")
            ),
        )
    })?;
    let needs = string_list(body.get("needs"), &key("needs"), file)?;
    let mut inputs: Vec<PathBuf> = string_list(body.get("input"), &key("input"), file)?
        .into_iter()
        .map(PathBuf::from)
        .collect();
    let out_rel = match body.get("output_dir") {
        None => PathBuf::from(name),
        Some(Value::String(s)) => PathBuf::from(s),
        Some(_) => {
            return Err(Error::config(
                file,
                key("output_dir"),
                "must be a relative path",
            ));
        }
    };
    if !stays_inside(&out_rel) {
        return Err(Error::config(
            file,
            key("output_dir"),
            format!(
                "{} escapes the run directory {}",
                out_rel.display(),
                run_dir.display()
            ),
        ));
    }
    let mut params: Mapping<String, Value> = body
        .iter()
        .filter(|(k, _)| !RUNNER_KEYS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if let Some(nouns) = nouns.filter(|_| stage.speaks()) {
        if params.contains_key("nouns") {
            return Err(Error::config(
                file,
                key("nouns"),
                "the pipeline declares `nouns` at the top; declare them once",
            ));
        }
        params.insert("nouns".into(), nouns.clone());
    }
    let params = ParamTree::from_tree(Value::Object(params));
    let outputs = stage
        .plan(&params)
        .map_err(|e| e.in_config(file, &format!("stages.{name}")))?;
    let named = stage
        .external_inputs(&params)
        .map_err(|e| e.in_config(file, &format!("stages.{name}")))?;
    if !named.is_empty() {
        if !inputs.is_empty() {
            return Err(Error::config(
                file,
                key("input"),
                "the inputs are named by the stage's own settings (`sources`); drop `input`",
            ));
        }
        inputs = named;
    }
    Ok(StageSpec {
        name: name.to_string(),
        stage,
        needs,
        inputs,
        output_dir: run_dir.join(out_rel),
        params,
        outputs,
    })
}

fn string_list(value: Option<&Value>, key: &str, file: &str) -> Result<Vec<String>> {
    match value {
        None => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| Error::config(file, key, "must be a list of strings"))
            })
            .collect(),
        Some(_) => Err(Error::config(
            file,
            key,
            "must be a string or a list of strings",
        )),
    }
}

fn check_keys(
    map: &Mapping<String, Value>,
    allowed: &[&str],
    prefix: &str,
    file: &str,
) -> Result<()> {
    for name in map.keys() {
        if !allowed.contains(&name.as_str()) {
            let key = if prefix.is_empty() {
                name.to_string()
            } else {
                format!("{prefix}.{name}")
            };
            return Err(Error::config(
                file,
                key,
                format!("unknown key (expected one of: {})", allowed.join(", ")),
            ));
        }
    }
    Ok(())
}

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// A relative path that never climbs above its starting directory.
fn stays_inside(path: &Path) -> bool {
    let mut depth = 0i32;
    for c in path.components() {
        match c {
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::ParentDir => {
                depth -= 1;
                if depth < 0 {
                    return false;
                }
            }
            Component::RootDir | Component::Prefix(_) => return false,
        }
    }
    depth > 0
}

fn topological_order(mut pending: Vec<StageSpec>, file: &str) -> Result<Vec<StageSpec>> {
    let mut done: Vec<StageSpec> = Vec::new();
    while !pending.is_empty() {
        let ready = pending
            .iter()
            .position(|s| s.needs.iter().all(|n| done.iter().any(|d| &d.name == n)));
        match ready {
            Some(i) => done.push(pending.remove(i)),
            None => {
                let names: Vec<&str> = pending.iter().map(|s| s.name.as_str()).collect();
                return Err(Error::config(
                    file,
                    format!("stages.{}.needs", names[0]),
                    format!("dependency cycle among stages {}", names.join(", ")),
                ));
            }
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::stays_inside;
    use std::path::Path;

    #[test]
    fn output_dirs_must_stay_inside_the_run_dir() {
        assert!(stays_inside(Path::new("ingest")));
        assert!(stays_inside(Path::new("a/../b")));
        assert!(!stays_inside(Path::new("../elsewhere")));
        assert!(!stays_inside(Path::new("a/../..")));
        assert!(!stays_inside(Path::new("/tmp/x")));
        assert!(!stays_inside(Path::new(".")));
    }
}
