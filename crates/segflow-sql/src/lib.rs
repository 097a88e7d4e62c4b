//! SQL generation for the engines users already run: the features query (a pipeline's
//! ingest and features definitions over a raw events table) and the scoring query (a finished
//! run's transform and model), one text per dialect, exact or refused.

mod clock;
pub mod dialect;
mod epoch;
pub mod expression;
pub mod features;
pub mod score;
mod spelling;

pub use dialect::Dialect;
pub use features::{Request, features_query};
