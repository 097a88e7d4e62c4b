//! The features stage: one row per contact from an event log, through a small declarative
//! library of aggregations, or selected columns of an entity table passed through.
//!
//! Features are grouped in named blocks; the output keeps block order and records in its
//! metadata which block each column belongs to and whether it is a model input, so later
//! stages (preprocess, drop-one-block robustness) need no other configuration.

mod aggregate;
mod conditions;
mod derived;
mod events;
mod feature;
mod layout;
mod names;
mod per_contact;
mod schema;
mod spec;
mod stats;
mod table;
mod warnings;

use std::path::PathBuf;

use segflow_core::artifact::open_parquet;
use segflow_core::error::Location;
use segflow_core::params::{ParamTree, Validate, parse_params, parse_valid};
use segflow_core::stage::{
    Columns, OutputDir, Planned, Stage, StageCtx, compose_version, single_input,
};
use segflow_core::{Error, Result};

pub use feature::{Aggregation, Condition, Feature};
pub use per_contact::{META_EXCLUDED_CONTACTS, META_GROUPED};
pub use spec::Params;
pub use table::{FeatureTable, table_features};

pub use segflow_core::artifact::{META_BLOCKS, META_ID_COLUMN, META_MODEL_COLUMNS};

/// Computes the features of `input` (an `events` or `table` artifact) into `out`; returns the
/// number of rows (contacts or entities).
pub fn run(
    input: &std::path::Path,
    params: &Params,
    out: &mut OutputDir,
    ctx: &StageCtx<'_>,
) -> Result<u64> {
    params.validate()?;
    (ctx.progress)("reading input");
    let artifact = open_parquet(input)?;
    match artifact.kind() {
        Some("events") => per_contact::from_events(artifact, params, out, ctx),
        Some("table") => {
            let table = table::from_table(&artifact.read_all()?, params)?;
            (ctx.progress)("writing features");
            out.write("features", &table.batch, &table.metadata)?;
            let mut constancy = warnings::Constancy::default();
            constancy.observe(&table.batch)?;
            let found = constancy.warnings();
            out.write("warnings", &segflow_core::warnings::to_batch(&found)?, &[])?;
            Ok(table.batch.num_rows() as u64)
        }
        other => Err(Error::data(
            Location::file(input),
            format!(
                "expected an events or table artifact from ingest, found {}",
                other.unwrap_or("a file without segflow metadata")
            ),
        )),
    }
}

/// The version of this stage's results: bump it with any change that alters them, and say what
/// changed in CHANGELOG.md.
const VERSION: u32 = 3;

pub struct FeaturesStage;

impl Stage for FeaturesStage {
    fn kind(&self) -> &'static str {
        "features"
    }

    fn about(&self) -> &'static str {
        "events → one row per contact (declarative aggregations), or table passthrough"
    }

    fn consumes(&self) -> &'static [&'static str] {
        &["events", "table"]
    }

    fn plan(&self, params: &ParamTree) -> Result<Vec<Planned>> {
        let params = parse_valid::<Params>(params)?;
        let mut planned = vec![Planned::new("features"), Planned::new("warnings")];
        // Only when contacts can be excluded, so other pipelines keep their outputs.
        if params.min_events > 1 {
            planned.push(Planned::new("excluded"));
        }
        Ok(planned)
    }

    fn algorithm_version(&self, _params: &ParamTree) -> Result<String> {
        Ok(compose_version(VERSION, &[]))
    }

    fn columns(
        &self,
        params: &ParamTree,
        _inputs: &[PathBuf],
        upstream: Option<&Columns>,
    ) -> Result<Option<Columns>> {
        let params = parse_valid::<Params>(params)?;
        Ok(Some(names::provided(&params, upstream)))
    }

    fn check_references(&self, params: &ParamTree, upstream: &Columns) -> Result<()> {
        names::check(&parse_valid::<Params>(params)?, upstream)
    }

    fn run(
        &self,
        inputs: &[PathBuf],
        params: &ParamTree,
        out: &mut OutputDir,
        ctx: &StageCtx<'_>,
    ) -> Result<u64> {
        let params: Params = parse_params(params)?;
        let input = single_input(self.kind(), inputs)?;
        run(input, &params, out, ctx)
    }
}
