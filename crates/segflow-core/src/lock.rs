//! The lock file `<run_dir>/segflow.lock`: per stage, the hashes of what it read and wrote.
//! It is what lets `segflow run` skip up-to-date stages and `segflow verify` prove that no
//! artifact was edited after it was written.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

pub const LOCK_FILE: &str = "segflow.lock";
/// Schema 2 added each stage's algorithm version.
const LOCK_SCHEMA: u32 = 2;
/// Older schemas still read: a schema 1 lock has no algorithm versions, so every stage in it
/// is stale, and it is written back as the current schema.
const READABLE_SCHEMAS: [u32; 2] = [1, LOCK_SCHEMA];

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lock {
    pub schema: u32,
    pub pipeline: String,
    pub stages: BTreeMap<String, LockEntry>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockEntry {
    pub kind: String,
    pub tool_version: String,
    /// The stage's [`crate::stage::Stage::algorithm_version`] for the params it ran with;
    /// `None` in locks written before versions were recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub algorithm_version: Option<String>,
    pub seed: u64,
    pub params_hash: String,
    /// Input path (as the pipeline names it) → SHA-256.
    pub inputs: BTreeMap<String, String>,
    /// Output path relative to the run directory → SHA-256.
    pub outputs: BTreeMap<String, String>,
    pub rows: u64,
}

impl Lock {
    pub fn path(run_dir: &Path) -> PathBuf {
        run_dir.join(LOCK_FILE)
    }

    /// Loads the lock of a run directory; a missing file is an empty lock.
    pub fn load(run_dir: &Path, pipeline: &str) -> Result<Self> {
        let path = Self::path(run_dir);
        match std::fs::read_to_string(&path) {
            Ok(text) => Self::parse(&path, &text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Lock {
                schema: LOCK_SCHEMA,
                pipeline: pipeline.to_string(),
                stages: BTreeMap::new(),
            }),
            Err(e) => Err(Error::io(&path, e)),
        }
    }

    /// Loads an existing lock; its absence means there is nothing to verify.
    pub fn load_existing(run_dir: &Path) -> Result<Self> {
        let path = Self::path(run_dir);
        let text = std::fs::read_to_string(&path).map_err(|e| Error::open(&path, e))?;
        Self::parse(&path, &text)
    }

    fn parse(path: &Path, text: &str) -> Result<Self> {
        let mut lock: Lock = crate::yaml::from_str(text).map_err(|e| {
            Error::data(
                crate::error::Location::file(path),
                format!("unreadable lock file: {e}"),
            )
        })?;
        if !READABLE_SCHEMAS.contains(&lock.schema) {
            return Err(Error::data(
                crate::error::Location::file(path),
                format!(
                    "lock schema {} is not one of the supported {READABLE_SCHEMAS:?}",
                    lock.schema
                ),
            ));
        }
        lock.schema = LOCK_SCHEMA;
        Ok(lock)
    }

    pub fn save(&self, run_dir: &Path) -> Result<()> {
        std::fs::create_dir_all(run_dir).map_err(|e| Error::io(run_dir, e))?;
        let text = crate::yaml::to_string(self)?;
        crate::artifact::write_atomic(&Self::path(run_dir), text.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENTRY: &str = "    kind: fit
    tool_version: 0.0.0
    seed: 42
    params_hash: abc
    inputs: {}
    outputs: {}
    rows: 10
";

    #[test]
    fn a_schema_1_lock_reads_without_versions_and_is_written_back_as_the_current_schema() {
        let text = format!("schema: 1\npipeline: p\nstages:\n  fit:\n{ENTRY}");
        let lock = Lock::parse(Path::new("segflow.lock"), &text).unwrap();
        assert_eq!(lock.schema, LOCK_SCHEMA);
        assert_eq!(lock.stages["fit"].algorithm_version, None);
        assert_eq!(lock.stages["fit"].rows, 10);
    }

    #[test]
    fn the_current_schema_keeps_each_stages_version() {
        let text = format!(
            "schema: {LOCK_SCHEMA}\npipeline: p\nstages:\n  fit:\n    algorithm_version: 1+kmeans.1\n{ENTRY}"
        );
        let lock = Lock::parse(Path::new("segflow.lock"), &text).unwrap();
        assert_eq!(
            lock.stages["fit"].algorithm_version.as_deref(),
            Some("1+kmeans.1")
        );
        let written = crate::yaml::to_string(&lock).unwrap();
        assert_eq!(
            Lock::parse(Path::new("segflow.lock"), &written).unwrap(),
            lock
        );
    }

    #[test]
    fn an_unknown_schema_is_refused() {
        let text = format!("schema: {}\npipeline: p\nstages: {{}}\n", LOCK_SCHEMA + 1);
        let err = Lock::parse(Path::new("segflow.lock"), &text).unwrap_err();
        assert_eq!(err.exit_code(), 65);
        assert!(err.to_string().contains("lock schema 3"), "{err}");
    }
}
