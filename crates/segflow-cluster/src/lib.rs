//! segflow's clustering core: k-means (scikit-learn's k-means++ and Lloyd, exact means,
//! inertia as a sum), a seeded mini-batch variant, DBSCAN and Ward agglomeration with
//! scikit-learn's semantics, validity indices (silhouette, Davies–Bouldin,
//! Calinski–Harabasz, ARI, AMI, contingency, Jaccard), PCA, the Kneedle knee and the
//! Kaufman–Rousseeuw reading of a mean silhouette.
//!
//! Every result is checked against scikit-learn (tests/oracle/cluster). Work is split into
//! fixed-size row chunks whose partial results are combined in chunk order, so results are
//! bit-identical whatever the number of threads.

mod chunks;
pub mod dbscan;
mod elkan;
pub mod gmm;
mod kernel;
pub mod kmeans;
pub mod knee;
mod lloyd;
pub mod metrics;
pub mod minibatch;

pub mod pca;
pub mod random_state;
pub mod rng;
mod seeding;
pub mod structure;
pub mod ward;

pub use pca::{Components, Pca, PcaParams};

pub use dbscan::{Dbscan, DbscanParams, k_distances};
pub use gmm::{Covariance, Gmm, GmmParams};
pub use kmeans::{KMeans, KMeansParams, Nearest, distances, nearest};
pub use knee::{CLEAR_KNEE, Knee, kneedle};
pub use minibatch::{MiniBatchKMeansParams, MiniBatchSpec};
pub use random_state::RandomState;
pub use structure::Structure;
pub use ward::ward;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ClusterError {
    #[error("invalid parameter: {0}")]
    InvalidParam(String),
    #[error("invalid input: {0}")]
    InvalidInput(String),
    #[error(transparent)]
    Linfa(#[from] LinfaError),
}

/// linfa's error, wrapped so `ClusterError` can satisfy linfa's `Fit` bound while staying
/// comparable in tests.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct LinfaError(String);

impl From<linfa::Error> for ClusterError {
    fn from(e: linfa::Error) -> Self {
        ClusterError::Linfa(LinfaError(e.to_string()))
    }
}

pub type Result<T> = std::result::Result<T, ClusterError>;

/// Rejects empty or non-finite input up front: a NaN would otherwise poison every distance.
pub(crate) fn check_finite(x: &ndarray::ArrayView2<'_, f64>) -> Result<()> {
    use rayon::prelude::*;
    if x.nrows() == 0 || x.ncols() == 0 {
        return Err(ClusterError::InvalidInput(format!(
            "empty matrix {}×{}",
            x.nrows(),
            x.ncols()
        )));
    }
    let all_finite = match x.as_slice() {
        // Branch-free per chunk so the scan vectorises.
        Some(s) => s
            .par_chunks(1 << 16)
            .all(|c| c.iter().fold(true, |ok, v| ok & v.is_finite())),
        None => x.iter().all(|v| v.is_finite()),
    };
    if all_finite {
        return Ok(());
    }
    let ((r, c), _) = x
        .indexed_iter()
        .find(|(_, v)| !v.is_finite())
        .expect("a non-finite value exists");
    Err(ClusterError::InvalidInput(format!(
        "non-finite value at row {r}, column {c}"
    )))
}
