//! The fit stage: the final clustering of the model matrix at the chosen K, with canonical
//! cluster ids (by decreasing size, ties by centroid order), per-contact assignments, centroids,
//! segment cards and profiles in original units, the mix of each label context column, names from the YAML's role rules, actions,
//! and the summary tables (cards, policy, findings, executive summary) as Parquet and CSV.
//!
//! [`Model`] reads a fit's artifacts back, so new contacts are scored by the same
//! nearest-centroid arithmetic that labelled the training contacts.

mod algorithms;
mod arrays;
pub mod drift;
pub mod explain;
mod k;
mod mix;
mod model;
mod naming;
mod params;
mod profile;
mod segments;
mod statistic;
mod tables;
mod training;

use std::path::PathBuf;
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int32Array, RecordBatch, StringArray};

use segflow_core::artifact::{META_ID_COLUMN, META_MODEL, META_SILHOUETTE, batch};
use segflow_core::error::Location;
use segflow_core::params::{ParamTree, Validate, parse_params, parse_valid};
use segflow_core::stage::{
    Columns, OutputDir, Planned, Stage, StageCtx, compose_version, inputs_by_kind, required_input,
};
use segflow_core::{Error, Result};

use algorithms::Clustered;
use arrays::{floats, strings};
use k::Chosen;
pub use model::{Model, NOISE, Scored};
pub use naming::Named;
pub use params::{
    Action, Algorithm, Campaign, Cards, Criterion, Direction, FeatureWords, Impact, Naming, Op,
    Params, Role, Stat, Threshold, Thresholds,
};
use segments::Segments;
use training::Training;

/// The artifacts fit reads, identified by their `segflow.artifact` kind.
pub struct Inputs {
    pub matrix: PathBuf,
    pub features: PathBuf,
    /// select_k's decision; needed unless params give `k`.
    pub decision: Option<PathBuf>,
}

impl Inputs {
    pub fn classify(paths: &[PathBuf]) -> Result<Inputs> {
        let found = inputs_by_kind("fit", paths, &["matrix", "features", "decision"])?;
        Ok(Inputs {
            matrix: required_input(&found, "fit", "matrix")?,
            features: required_input(&found, "fit", "features")?,
            decision: found.get("decision").cloned(),
        })
    }
}

/// What the fit produced, for callers and the run summary.
pub struct Outputs {
    pub rows: u64,
    pub k: usize,
    pub segments: Vec<Named>,
}

/// Numbers in names, narratives and summary text: whole numbers as integers, others rounded
/// for reading (the Parquet columns keep full precision).
pub(crate) fn fmt_num(x: f64) -> String {
    if !x.is_finite() {
        return x.to_string();
    }
    if x == 0.0 {
        return "0".into();
    }
    if x == x.trunc() && x.abs() < 1e15 {
        return format!("{x:.0}");
    }
    match x.abs() {
        m if m >= 100.0 => format!("{x:.1}"),
        m if m >= 1.0 => format!("{x:.2}"),
        _ => format!("{x:.3}"),
    }
}

pub fn run(
    inputs: &Inputs,
    params: &Params,
    out: &mut OutputDir,
    ctx: &StageCtx<'_>,
) -> Result<Outputs> {
    params.validate()?;
    (ctx.progress)("reading the matrix and features");
    let training = Training::read(inputs, params)?;
    let chosen = k::choose(
        params,
        inputs.decision.as_deref(),
        &inputs.matrix,
        training.rows(),
    )?;
    (ctx.progress)(&format!("clustering ({})", params.algorithm.name()));
    let clustered = cluster(params, &training, chosen.as_ref(), ctx.seed)?;
    let chosen = chosen.unwrap_or_else(|| k::found_by_dbscan(params, &clustered));
    (ctx.progress)("scoring and profiling the segments");
    let segments = Segments::describe(params, &training, &clustered, ctx.seed)?;
    let fit = Fitted {
        params,
        training: &training,
        chosen: &chosen,
        clustered: &clustered,
        segments: &segments,
        seed: ctx.seed,
    };
    let mut artifacts = vec![assignments(&fit)?];
    artifacts.extend(model::tables(&fit)?);
    artifacts.extend(tables::build(&fit)?);
    write(out, &artifacts)?;
    Ok(Outputs {
        rows: training.rows() as u64,
        k: clustered.k,
        segments: segments.named,
    })
}

/// Clusters the matrix into `chosen` segments (DBSCAN: as many as it finds, at least one).
fn cluster(
    params: &Params,
    training: &Training,
    chosen: Option<&Chosen>,
    seed: u64,
) -> Result<Clustered> {
    let x = training.matrix.values.view();
    let clustered = algorithms::cluster(params, x, chosen.map_or(0, |c| c.k), seed)
        .map_err(|e| training.matrix_error(e))?;
    if clustered.k == 0 {
        let spec = params.dbscan.clone().unwrap_or_default();
        return Err(Error::data(
            Location::file(&training.matrix.artifact.path),
            format!(
                "DBSCAN (eps {}, min_samples {}) found no cluster: every row is noise; a larger eps would join them",
                spec.eps, spec.min_samples
            ),
        ));
    }
    Ok(clustered)
}

/// Everything fit worked out, from which its artifacts are built.
pub(crate) struct Fitted<'a> {
    pub params: &'a Params,
    pub training: &'a Training,
    pub chosen: &'a Chosen,
    pub clustered: &'a Clustered,
    pub segments: &'a Segments,
    pub seed: u64,
}

/// An artifact fit writes: its kind, its rows, extra `segflow.*` metadata, and whether people
/// also get it as CSV.
pub(crate) struct Table {
    kind: &'static str,
    batch: RecordBatch,
    metadata: Vec<(String, String)>,
    csv: bool,
}

impl Table {
    pub fn new(kind: &'static str, batch: RecordBatch) -> Table {
        Table {
            kind,
            batch,
            metadata: Vec::new(),
            csv: false,
        }
    }

    pub fn with_meta(mut self, key_value: (String, String)) -> Table {
        self.metadata.push(key_value);
        self
    }

    pub fn with_csv(mut self) -> Table {
        self.csv = true;
        self
    }
}

/// Per contact: segment (DBSCAN noise as cluster -1), distance to its centroid, margin to the
/// next, silhouette, and for a mixture the posterior probability of its segment.
fn assignments(fit: &Fitted<'_>) -> Result<Table> {
    let (m, clustered, names) = (&fit.training.matrix, fit.clustered, &fit.segments.names);
    let mut columns: Vec<(&str, ArrayRef)> = vec![
        (
            m.id_column.as_str(),
            Arc::new(StringArray::from_iter_values(&m.ids)),
        ),
        (
            "cluster",
            Arc::new(Int32Array::from_iter_values(
                clustered.labels.iter().map(|l| l.map_or(-1, |c| c as i32)),
            )),
        ),
        (
            "segment",
            strings(
                clustered
                    .labels
                    .iter()
                    .map(|l| l.map_or(NOISE.to_string(), |c| names[c].clone())),
            ),
        ),
        (
            "distance",
            Arc::new(Float64Array::from(clustered.distance.clone())),
        ),
        (
            "margin",
            Arc::new(Float64Array::from(clustered.margin.clone())),
        ),
        (
            "silhouette",
            Arc::new(Float64Array::from(fit.segments.scores.silhouette.clone())),
        ),
    ];
    if let Some((_, probability)) = &clustered.mixture {
        columns.push(("probability", floats(probability.iter().copied())));
    }
    Ok(Table::new("assignments", batch(columns)?)
        .with_meta((META_ID_COLUMN.to_string(), m.id_column.clone()))
        .with_meta((
            META_MODEL.to_string(),
            model::description(fit.params, clustered.k),
        ))
        .with_meta((
            META_SILHOUETTE.to_string(),
            fit.segments.scores.silhouette_method.describe(),
        )))
}

fn write(out: &mut OutputDir, tables: &[Table]) -> Result<()> {
    for t in tables {
        out.write(t.kind, &t.batch, &t.metadata)?;
        if t.csv {
            out.write_csv(t.kind, &t.batch)?;
        }
    }
    Ok(())
}

/// The version of this stage's own computations, composed with the versions of the algorithms
/// its params select: bump it with any change that alters its results, and say what changed in
/// CHANGELOG.md.
const VERSION: u32 = 3;

pub struct FitStage;

impl Stage for FitStage {
    fn kind(&self) -> &'static str {
        "fit"
    }

    fn speaks(&self) -> bool {
        true
    }

    fn about(&self) -> &'static str {
        "matrix + K → final segments: assignments, centroids, cards, profile, names, actions, summaries"
    }

    fn consumes(&self) -> &'static [&'static str] {
        &["matrix", "decision", "features"]
    }

    fn plan(&self, params: &ParamTree) -> Result<Vec<Planned>> {
        let params: Params = parse_valid(params)?;
        let mut planned = vec![
            Planned::new("assignments"),
            Planned::new("centroids"),
            Planned::new("cards"),
            Planned::csv("cards"),
            Planned::new("profile"),
            Planned::new("mix"),
            Planned::csv("mix"),
            Planned::new("policy"),
            Planned::csv("policy"),
            Planned::new("findings"),
            Planned::csv("findings"),
            Planned::new("summary"),
            Planned::csv("summary"),
        ];
        if params.impact.is_some() {
            planned.extend([Planned::new("impact"), Planned::csv("impact")]);
        }
        if params.algorithm == Algorithm::Dbscan {
            planned.extend([Planned::new("core_points"), Planned::new("eps_suggestion")]);
        }
        if params.algorithm == Algorithm::Gmm {
            planned.push(Planned::new("mixture"));
        }
        Ok(planned)
    }

    fn algorithm_version(&self, params: &ParamTree) -> Result<String> {
        let params: Params = parse_params(params)?;
        Ok(compose_version(VERSION, params.algorithm.versions()))
    }

    fn check_references(&self, params: &ParamTree, upstream: &Columns) -> Result<()> {
        parse_valid::<Params>(params)?.check_references(upstream)
    }

    fn run(
        &self,
        inputs: &[PathBuf],
        params: &ParamTree,
        out: &mut OutputDir,
        ctx: &StageCtx<'_>,
    ) -> Result<u64> {
        let params: Params = parse_params(params)?;
        Ok(run(&Inputs::classify(inputs)?, &params, out, ctx)?.rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_naturally() {
        assert_eq!(fmt_num(905.0), "905");
        assert_eq!(fmt_num(-0.0), "0");
        assert_eq!(fmt_num(196.13485), "196.1");
        assert_eq!(fmt_num(2.356771), "2.36");
        assert_eq!(fmt_num(0.009945), "0.010");
    }
}
