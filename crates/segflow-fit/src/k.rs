//! How many segments, and why: K from the fit params, from select_k's decision, or (DBSCAN)
//! whatever the density clustering found. The source and reason go into the summary.

use std::path::Path;

use segflow_core::artifact::read_parquet;
use segflow_core::decision::read_decision;
use segflow_core::error::Location;
use segflow_core::{Error, Result};

use crate::algorithms::Clustered;
use crate::params::{Algorithm, Params};

pub struct Chosen {
    pub k: usize,
    pub source: String,
    pub reason: String,
}

/// K for the algorithms that need one (`None` for DBSCAN), checked against the `rows` of the
/// matrix at `matrix`.
pub fn choose(
    params: &Params,
    decision: Option<&Path>,
    matrix: &Path,
    rows: usize,
) -> Result<Option<Chosen>> {
    if params.algorithm == Algorithm::Dbscan {
        return Ok(None);
    }
    let chosen = given_or_decided(params, decision)?;
    if chosen.k >= rows {
        return Err(Error::data(
            Location::file(matrix),
            format!(
                "K = {} needs more than {} rows; the matrix has {rows}",
                chosen.k, chosen.k
            ),
        ));
    }
    Ok(Some(chosen))
}

/// DBSCAN chooses no K: the summary reports what it found.
pub fn found_by_dbscan(params: &Params, clustered: &Clustered) -> Chosen {
    let spec = params.dbscan.clone().unwrap_or_default();
    let (k, noise) = (clustered.k, clustered.noise());
    Chosen {
        k,
        source: format!(
            "DBSCAN (eps {}, min_samples {})",
            spec.eps, spec.min_samples
        ),
        reason: format!("DBSCAN found {k} clusters and {noise} noise points; K is not chosen"),
    }
}

fn given_or_decided(params: &Params, decision: Option<&Path>) -> Result<Chosen> {
    if let Some(k) = params.k {
        return Ok(Chosen {
            k,
            source: "fit params".into(),
            reason: format!("K set to {k} in the fit params"),
        });
    }
    let Some(path) = decision else {
        return Err(Error::config(
            "",
            "k",
            "no K: give `k` or the decision artifact of select_k as an input",
        ));
    };
    let decision = read_decision(&read_parquet(path)?)?;
    Ok(Chosen {
        k: decision.k,
        source: format!("select_k decision (rule {})", decision.rule),
        reason: decision.reason,
    })
}
