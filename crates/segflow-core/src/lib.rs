//! Shared foundation of every segflow stage: errors and exit codes, Parquet artifacts with
//! provenance, content hashing, the lock file, the stage contract and the pipeline runner.

pub mod artifact;
pub mod calendar;
pub mod dataset;
pub mod decision;
pub mod error;
pub mod hash;
pub mod lineage;
pub mod lock;
pub mod matrix;
pub mod nouns;
pub mod params;
pub mod pipeline;
pub mod runner;
pub mod stage;
pub mod stats;
pub mod suggest;
pub mod warnings;
pub mod yaml;

pub use error::{Error, Result};

/// Version of segflow recorded in every artifact and lock entry.
pub const TOOL_VERSION: &str = env!("CARGO_PKG_VERSION");
