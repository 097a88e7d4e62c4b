//! Whether a finished run's model was built by the algorithms of this segflow build: `assign`
//! scores new records the way the training stages computed, so a model whose lock records
//! another algorithm version for one of those stages would score them differently from what a
//! rerun of the pipeline now produces.

use std::path::Path;

use segflow_core::artifact::{META_PARAMS, open_parquet};
use segflow_core::error::Location;
use segflow_core::hash::params_hash;
use segflow_core::lock::Lock;
use segflow_core::params::ParamTree;
use segflow_core::{Error, Result};

/// The stage kinds a model is built from: the ones that shape the contacts' features, the
/// matrix, K and the centroids. Robustness and visualize only report on the model.
const MODEL_KINDS: [&str; 5] = ["ingest", "features", "preprocess", "select_k", "fit"];

/// Refuses a run whose lock records, for a stage the model is built from, an algorithm version
/// other than this build's for the params the stage ran with.
///
/// The error is bad data (65), like an edited model artifact: the run on disk is a valid model
/// for the build that wrote it, but not input this build can score with. It is neither a
/// command-line mistake (64) nor a configuration error (78), and the fix is to rerun the
/// pipeline.
pub(crate) fn require_current(run_dir: &Path, lock: &Lock) -> Result<()> {
    let lock_path = Lock::path(run_dir);
    let registry = crate::registry();
    for (name, entry) in &lock.stages {
        if !MODEL_KINDS.contains(&entry.kind.as_str()) {
            continue;
        }
        let stage = registry.get(&entry.kind).ok_or_else(|| {
            Error::data(
                Location::file(&lock_path),
                format!(
                    "stage `{name}` has kind {}, unknown to this segflow",
                    entry.kind
                ),
            )
        })?;
        let Some(recorded) = &entry.algorithm_version else {
            return Err(Error::data(
                Location::file(&lock_path),
                format!(
                    "stage `{name}` recorded no algorithm version (written by an older \
                     segflow); rerun the pipeline"
                ),
            ));
        };
        let current = stage.algorithm_version(&recorded_params(run_dir, name, entry)?)?;
        if *recorded != current {
            return Err(Error::data(
                Location::file(&lock_path),
                format!(
                    "stage `{name}` ran {} algorithm version {recorded}, this segflow runs \
                     version {current}; rerun the pipeline",
                    entry.kind
                ),
            ));
        }
    }
    Ok(())
}

/// The params a locked stage ran with, from the provenance of one of its Parquet artifacts,
/// checked against the params hash in the lock.
fn recorded_params(
    run_dir: &Path,
    name: &str,
    entry: &segflow_core::lock::LockEntry,
) -> Result<ParamTree> {
    let lock_path = Lock::path(run_dir);
    let rel = entry
        .outputs
        .keys()
        .find(|rel| rel.ends_with(".parquet"))
        .ok_or_else(|| {
            Error::data(
                Location::file(&lock_path),
                format!("stage `{name}` recorded no Parquet artifact"),
            )
        })?;
    let path = run_dir.join(rel);
    let artifact = open_parquet(&path)?;
    let params = artifact
        .meta(META_PARAMS)
        .map(ParamTree::from_json)
        .transpose()
        .map_err(|e| Error::data(Location::file(&path), format!("unreadable params: {e}")))?
        .ok_or_else(|| Error::data(Location::file(&path), "no segflow.params provenance"))?;
    if params_hash(&entry.kind, &params)? != entry.params_hash {
        return Err(Error::data(
            Location::file(&path),
            "params differ from those the lock records (see `segflow verify`); rerun the pipeline",
        ));
    }
    Ok(params)
}
