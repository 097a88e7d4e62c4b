//! The lock file `<run_dir>/segflow.lock`: per stage, the hashes of what it read and wrote.
//! It is what lets `segflow run` skip up-to-date stages and `segflow verify` prove that no
//! artifact was edited after it was written.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

pub const LOCK_FILE: &str = "segflow.lock";
const LOCK_SCHEMA: u32 = 1;

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
        let lock: Lock = crate::yaml::from_str(text).map_err(|e| {
            Error::data(
                crate::error::Location::file(path),
                format!("unreadable lock file: {e}"),
            )
        })?;
        if lock.schema != LOCK_SCHEMA {
            return Err(Error::data(
                crate::error::Location::file(path),
                format!(
                    "lock schema {} is not the supported {LOCK_SCHEMA}",
                    lock.schema
                ),
            ));
        }
        Ok(lock)
    }

    pub fn save(&self, run_dir: &Path) -> Result<()> {
        std::fs::create_dir_all(run_dir).map_err(|e| Error::io(run_dir, e))?;
        let text = crate::yaml::to_string(self)?;
        crate::artifact::write_atomic(&Self::path(run_dir), text.as_bytes())
    }
}
