//! The robustness stage: how much the fitted segments depend on chance and on choices.
//!
//! - Seed stability: refit with every seed of a list, ARI against the fit's labels; the worst
//!   seed's clusters side by side with the baseline's.
//! - Drop-one-block sensitivity: rebuild the whole preprocessing without one feature block
//!   (same params, from the features artifact), refit, ARI against a baseline rebuilt the
//!   same way.
//! - Bootstrap stability per segment with clusterboot semantics (best Jaccard of each original
//!   cluster in each resample).
//!
//! - Structure: the fit's mean silhouette in Kaufman and Rousseeuw's bands, first in the
//!   verdict.
//!
//! Refits run in parallel; each is seeded on its own, so results do not depend on scheduling.
//! A mini-batch fit, made for more rows than repeated refits can afford, is refitted with
//! mini-batch k-means on a seeded subsample of a stated size (`subsample.rs`).

mod bootstrap;
mod effort;
mod subsample;

use std::path::PathBuf;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, AsArray, BooleanArray, Float64Array, StringArray, UInt32Array, UInt64Array,
};
use ndarray::{Array2, ArrayView2};
use rayon::prelude::*;
use serde::Deserialize;

use segflow_cluster::metrics::{adjusted_rand_index, contingency};
use segflow_cluster::{KMeansParams, MiniBatchSpec, Structure};
use segflow_core::artifact::{Artifact, META_BLOCKS, META_MODEL, META_PARAMS, batch, read_parquet};
use segflow_core::error::Location;
use segflow_core::matrix::read_matrix;
use segflow_core::params::{ParamTree, Validate, parse_params, parse_valid};
use segflow_core::stage::{
    OutputDir, Planned, Stage, StageCtx, Tally, compose_version, inputs_by_kind, required_input,
};
use segflow_core::stats::quantile_sorted;
use segflow_core::{Error, Result};

pub use bootstrap::{Method, Resampled};
pub use effort::{Effort, FULL_UP_TO, MEDIUM_UP_TO};
pub use subsample::{META_SUBSAMPLE, Subsample};

/// Metadata key of the verdict artifact: the effort that ran (JSON of [`Effort`]).
pub const META_EFFORT: &str = "segflow.effort";

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// Seeds of the stability refits: a count `n` (seeds 0..n) or a list; default: the
    /// effort rule's count of n (`effort.rs`).
    pub seeds: Option<Seeds>,
    /// Restarts per refit; default: the fit's, or the effort rule's when `seeds` is unset too.
    pub n_init: Option<usize>,
    /// Rebuild and refit without each model feature block.
    #[serde(default = "yes")]
    pub drop_blocks: bool,
    #[serde(default)]
    pub bootstrap: Bootstrap,
    /// Rows a mini-batch fit's refits run on: a seeded sample of this many (all rows when
    /// there are no more). Ignored for a k-means fit, whose refits use every row.
    #[serde(default = "default_subsample")]
    pub subsample: usize,
}

fn default_subsample() -> usize {
    subsample::DEFAULT
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Seeds {
    Count(u64),
    List(Vec<u64>),
}

impl Seeds {
    pub fn list(&self) -> Vec<u64> {
        match self {
            Seeds::Count(n) => (0..*n).collect(),
            Seeds::List(l) => l.clone(),
        }
    }
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bootstrap {
    /// Number of resamples; 0 skips the bootstrap. Default: the effort rule's.
    pub resamples: Option<usize>,
    /// `boot` (n draws with replacement) or `subset` (a share of the rows without).
    #[serde(default)]
    pub method: Method,
    /// Share of rows in a `subset` resample.
    #[serde(default = "default_subset")]
    pub subset_fraction: f64,
    /// Restarts per resample fit. Default: the effort rule's.
    pub n_init: Option<usize>,
}

impl Default for Bootstrap {
    fn default() -> Self {
        Bootstrap {
            resamples: None,
            method: Method::default(),
            subset_fraction: default_subset(),
            n_init: None,
        }
    }
}

fn default_subset() -> f64 {
    0.8
}

impl Validate for Params {
    fn validate(&self) -> Result<()> {
        let seeds = self.seeds.as_ref().map(Seeds::list).unwrap_or_default();
        if self.seeds.is_some() && seeds.is_empty() {
            return Err(Error::config("", "seeds", "needs at least one seed"));
        }
        if seeds.iter().any(|&s| s > u32::MAX as u64) {
            return Err(Error::config(
                "",
                "seeds",
                "seeds are scikit-learn's random_state values, 0 to 4294967295",
            ));
        }
        if self.subsample < 2 {
            return Err(Error::config("", "subsample", "must be ≥ 2"));
        }
        if self.n_init == Some(0) || self.bootstrap.n_init == Some(0) {
            return Err(Error::config("", "n_init", "must be ≥ 1"));
        }
        let f = self.bootstrap.subset_fraction;
        if !(f > 0.0 && f < 1.0) {
            return Err(Error::config(
                "",
                "bootstrap.subset_fraction",
                "must lie strictly between 0 and 1",
            ));
        }
        Ok(())
    }
}

/// The clustering the fit used, from its assignments' `segflow.model` (and, for mini-batch
/// k-means, its settings from the fit's params).
#[derive(Debug, Clone, Deserialize)]
struct Clustering {
    algorithm: String,
    k: usize,
    n_init: usize,
    max_iter: usize,
    tol: f64,
    #[serde(skip)]
    minibatch: Option<MiniBatchSpec>,
}

impl Clustering {
    fn fit(&self, x: ArrayView2<'_, f64>, n_init: usize, seed: u64) -> Result<(Vec<usize>, f64)> {
        let model = match &self.minibatch {
            Some(spec) => spec.params(self.k, seed).n_init(n_init).fit_array(x),
            None => KMeansParams::new(self.k)
                .n_init(n_init)
                .max_iter(self.max_iter)
                .tol(self.tol)
                .seed(seed)
                .fit_array(x),
        }
        .map_err(|e| Error::data(Location::default(), e.to_string()))?;
        Ok((model.labels.to_vec(), model.inertia))
    }
}

/// A mini-batch fit's settings, from the `minibatch` key of the fit's params (scikit-learn's
/// defaults where it is absent).
fn minibatch_spec(assignments: &Artifact) -> Result<MiniBatchSpec> {
    let at = || Location::file(&assignments.path);
    let params: serde_json::Value = assignments
        .meta(META_PARAMS)
        .and_then(|j| serde_json::from_str(j).ok())
        .ok_or_else(|| Error::data(at(), "no segflow.params: rerun fit"))?;
    match params.get("minibatch") {
        None | Some(serde_json::Value::Null) => Ok(MiniBatchSpec::default()),
        Some(spec) => serde_json::from_value(spec.clone())
            .map_err(|e| Error::data(at(), format!("the fit's minibatch params: {e}"))),
    }
}

fn ari(a: &[usize], b: &[usize]) -> f64 {
    adjusted_rand_index(a, b).expect("labelings of equal length")
}

/// Sizes largest first, as "1599/225/176/91".
fn sizes_text(labels: &[usize], k: usize) -> String {
    let mut sizes = vec![0usize; k];
    labels.iter().for_each(|&l| sizes[l] += 1);
    sizes.sort_unstable_by(|a, b| b.cmp(a));
    sizes
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>()
        .join("/")
}

pub struct Inputs {
    pub assignments: PathBuf,
    pub matrix: PathBuf,
    pub features: PathBuf,
}

/// One line of the overall verdict.
struct Verdict {
    check: String,
    value: f64,
    band: String,
    reading: String,
}

/// How much structure the fit found, first of the verdict: the mean of the fit's per-row
/// silhouettes (rows in no segment left out) in Kaufman and Rousseeuw's bands, with what the
/// band means for using the segments. Stability says whether the segments come back; this
/// says whether they are groups or cuts through a continuum.
fn structure_verdict(assignments: &Artifact) -> Result<Verdict> {
    let scored: Vec<f64> = assignments
        .float_column("silhouette")?
        .into_iter()
        .filter(|v| !v.is_nan())
        .collect();
    if scored.is_empty() {
        return Err(Error::data(
            Location::file(&assignments.path).column("silhouette"),
            "no row has a silhouette",
        ));
    }
    let mean = scored.iter().sum::<f64>() / scored.len() as f64;
    let structure = Structure::of(mean);
    Ok(Verdict {
        check: "structure".into(),
        value: mean,
        band: structure.band().into(),
        reading: Structure::reading(mean),
    })
}

/// Reads the seed-stability ARIs the way the reference does.
fn seed_band(aris: &[f64]) -> &'static str {
    let share =
        |f: &dyn Fn(f64) -> bool| aris.iter().filter(|a| f(**a)).count() as f64 / aris.len() as f64;
    if share(&|a| a >= 0.90) > 0.5 {
        "very stable"
    } else if share(&|a| a >= 0.75) > 0.5 {
        "reasonably stable"
    } else if share(&|a| a < 0.60) >= 0.25 {
        "unstable"
    } else {
        "moderately stable"
    }
}

fn block_band(ari: f64) -> &'static str {
    match ari {
        a if a >= 0.90 => "barely changes",
        a if a >= 0.75 => "changes somewhat",
        a if a >= 0.60 => "changes markedly",
        _ => "depends on this block",
    }
}

pub fn run(
    inputs: &Inputs,
    params: &Params,
    out: &mut OutputDir,
    ctx: &StageCtx<'_>,
) -> Result<u64> {
    params.validate()?;
    let m = read_matrix(&inputs.matrix)?;
    let assignments = read_parquet(&inputs.assignments)?;
    let mut clustering: Clustering = assignments
        .meta(META_MODEL)
        .and_then(|j| serde_json::from_str(j).ok())
        .ok_or_else(|| {
            Error::data(
                Location::file(&inputs.assignments),
                "no segflow.model metadata: not an assignments artifact of fit",
            )
        })?;
    if clustering.algorithm == "minibatch_kmeans" {
        let spec = minibatch_spec(&assignments)?;
        // "The fit's restarts" for a mini-batch fit are its own `minibatch.n_init`.
        clustering.n_init = spec.n_init;
        clustering.minibatch = Some(spec);
    } else if clustering.algorithm != "kmeans" {
        return Err(Error::data(
            Location::file(&inputs.assignments),
            format!(
                "robustness refits k-means; this fit used {}",
                clustering.algorithm
            ),
        ));
    }
    let baseline: Vec<usize> = assignments
        .float_column("cluster")?
        .into_iter()
        .map(|c| c as usize)
        .collect();
    let segments: Vec<String> = {
        let seg = assignments.column("segment")?.as_string::<i32>();
        let mut names = vec![String::new(); clustering.k];
        for (i, &c) in baseline.iter().enumerate() {
            if c < clustering.k && names[c].is_empty() {
                names[c] = seg.value(i).to_string();
            }
        }
        names
    };
    if baseline.len() != m.ids.len() || baseline.iter().any(|&c| c >= clustering.k) {
        return Err(Error::data(
            Location::file(&inputs.assignments),
            "the assignments and the matrix come from different runs",
        ));
    }
    let k = clustering.k;
    let sample = clustering
        .minibatch
        .as_ref()
        .map(|_| Subsample::draw(m.ids.len(), params.subsample, ctx.seed));
    let (sampled, baseline) = match &sample {
        Some(s) => {
            (ctx.progress)(&s.describe());
            (
                Some(m.values.select(ndarray::Axis(0), &s.rows)),
                s.rows.iter().map(|&r| baseline[r]).collect(),
            )
        }
        None => (None, baseline),
    };
    let x = sampled.as_ref().map_or(m.values.view(), Array2::view);
    let effort = effort::resolve(
        x.nrows(),
        clustering.n_init,
        &effort::Given {
            seeds: params.seeds.as_ref().map(|s| s.list().len()),
            n_init: params.n_init,
            resamples: params.bootstrap.resamples,
            bootstrap_n_init: params.bootstrap.n_init,
        },
    );
    let n_init = effort.n_init;
    let seeds = match &params.seeds {
        Some(s) => s.list(),
        None => (0..effort.seeds as u64).collect(),
    };
    (ctx.progress)(&format!(
        "seed stability: {} refits × {n_init} restarts",
        seeds.len()
    ));
    let tally = ctx.tally;
    tally("seeds", Tally::Total(seeds.len() as u64));
    tally("bootstrap", Tally::Total(effort.resamples as u64));
    let refits: Vec<(u64, Vec<usize>, f64)> = seeds
        .par_iter()
        .map(|&seed| {
            let fitted = clustering.fit(x, n_init, seed);
            tally("seeds", Tally::Done);
            fitted.map(|(l, inertia)| (seed, l, inertia))
        })
        .collect::<Result<_>>()?;
    let aris: Vec<f64> = refits.iter().map(|(_, l, _)| ari(l, &baseline)).collect();
    let worst = (0..aris.len())
        .min_by(|&a, &b| aris[a].total_cmp(&aris[b]))
        .expect("at least one seed");
    out.write(
        "seed_stability",
        &batch(vec![
            (
                "seed",
                Arc::new(UInt64Array::from_iter_values(seeds.iter().copied())) as ArrayRef,
            ),
            ("ari", Arc::new(Float64Array::from(aris.clone()))),
            (
                "inertia",
                Arc::new(Float64Array::from_iter_values(refits.iter().map(|r| r.2))),
            ),
            (
                "sizes",
                Arc::new(StringArray::from_iter_values(
                    refits.iter().map(|r| sizes_text(&r.1, k)),
                )),
            ),
            (
                "worst",
                Arc::new(BooleanArray::from(
                    (0..aris.len()).map(|i| i == worst).collect::<Vec<_>>(),
                )),
            ),
        ])?,
        &[],
    )?;
    out.write(
        "worst_seed",
        &worst_seed_batch(refits[worst].0, &refits[worst].1, &baseline, &segments)?,
        &[],
    )?;
    let mut sorted = aris.clone();
    sorted.sort_by(f64::total_cmp);
    let band = seed_band(&aris);
    let mut verdicts = vec![
        structure_verdict(&assignments)?,
        Verdict {
            check: "seed_stability".into(),
            value: quantile_sorted(&sorted, 0.5),
            band: band.into(),
            reading: format!(
                "ARI against the fit over {} seeds{}: min {:.3}, p05 {:.3}, median {:.3}, p95 {:.3}, max {:.3}; worst seed {}",
                aris.len(),
                if effort.reduced() {
                    format!(" ({}, the default effort for {})", effort.text, effort.tier)
                } else {
                    String::new()
                },
                sorted[0],
                quantile_sorted(&sorted, 0.05),
                quantile_sorted(&sorted, 0.5),
                quantile_sorted(&sorted, 0.95),
                sorted[sorted.len() - 1],
                refits[worst].0
            ) + &sample
                .as_ref()
                .map(|s| format!("; {}", s.describe()))
                .unwrap_or_default(),
        },
    ];

    let features = read_parquet(&inputs.features)?;
    let blocks = if params.drop_blocks {
        (ctx.progress)("drop-one-block sensitivity");
        block_sensitivity(
            &features,
            &m.artifact,
            &clustering,
            n_init,
            ctx.seed,
            &Refitted {
                labels: &baseline,
                rows: sample.as_ref().map(|s| &s.rows[..]),
            },
            tally,
        )?
    } else {
        Vec::new()
    };
    for b in blocks.iter().filter(|b| b.block.is_some()) {
        verdicts.push(Verdict {
            check: format!("without_{}", b.block.as_deref().unwrap_or_default()),
            value: b.ari,
            band: block_band(b.ari).into(),
            reading: format!(
                "Without the {} block ({}), ARI against the rebuilt baseline is {:.3}",
                b.block.as_deref().unwrap_or_default(),
                b.dropped.join(", "),
                b.ari
            ),
        });
    }
    out.write("block_sensitivity", &blocks_batch(&blocks)?, &[])?;

    let boot = &params.bootstrap;
    (ctx.progress)(&format!("bootstrap: {} resamples", effort.resamples));
    let stability = bootstrap::cluster_stability(
        x,
        &baseline,
        &Resampled {
            k,
            resamples: effort.resamples,
            method: boot.method,
            subset_fraction: boot.subset_fraction,
            seed: ctx.seed,
        },
        &|xs, seed| {
            let fitted = clustering.fit(xs, effort.bootstrap_n_init, seed);
            tally("bootstrap", Tally::Done);
            fitted.map(|r| r.0)
        },
    )?;
    for (c, s) in stability.iter().enumerate() {
        if let Some(mean) = s.mean() {
            verdicts.push(Verdict {
                check: format!("bootstrap_{}", segments[c]),
                value: mean,
                band: bootstrap::band(mean).into(),
                reading: format!(
                    "{}: mean Jaccard {:.3} over {} resamples; dissolved {} times, recovered {} times",
                    segments[c],
                    mean,
                    s.jaccards.len(),
                    s.dissolved(),
                    s.recovered()
                ),
            });
        }
    }
    out.write(
        "bootstrap",
        &bootstrap::batch_of(&stability, &segments, boot.method)?,
        &[],
    )?;
    let mut verdict_meta = vec![(
        META_EFFORT.to_string(),
        serde_json::to_string(&effort).map_err(|e| Error::Internal(e.to_string()))?,
    )];
    if let Some(s) = &sample {
        verdict_meta.push((META_SUBSAMPLE.to_string(), s.to_json()));
    }
    out.write(
        "verdict",
        &batch(vec![
            (
                "check",
                Arc::new(StringArray::from_iter_values(
                    verdicts.iter().map(|v| v.check.clone()),
                )) as ArrayRef,
            ),
            (
                "value",
                Arc::new(Float64Array::from_iter_values(
                    verdicts.iter().map(|v| v.value),
                )),
            ),
            (
                "band",
                Arc::new(StringArray::from_iter_values(
                    verdicts.iter().map(|v| v.band.clone()),
                )),
            ),
            (
                "reading",
                Arc::new(StringArray::from_iter_values(
                    verdicts.iter().map(|v| v.reading.clone()),
                )),
            ),
        ])?,
        &verdict_meta,
    )?;
    Ok(seeds.len() as u64)
}

/// The worst seed's clusters against the baseline's: every pair's overlap, each worst-seed
/// cluster's best-matching baseline cluster, and the sizes side by side.
fn worst_seed_batch(
    seed: u64,
    labels: &[usize],
    baseline: &[usize],
    segments: &[String],
) -> Result<arrow::array::RecordBatch> {
    // The seed's own ids made canonical like the fit's: largest cluster first.
    let mut sizes: Vec<(usize, usize)> = Vec::new();
    for &l in labels {
        match sizes.iter_mut().find(|s| s.0 == l) {
            Some(s) => s.1 += 1,
            None => sizes.push((l, 1)),
        }
    }
    sizes.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let labels: Vec<usize> = labels
        .iter()
        .map(|l| sizes.iter().position(|s| s.0 == *l).expect("seen"))
        .collect();
    let labels = &labels[..];
    let c = contingency(labels, baseline).map_err(|e| Error::Internal(e.to_string()))?;
    let mut rows: Vec<(usize, usize, u64, bool)> = Vec::new();
    let size_of = |labels: &[usize], l: usize| labels.iter().filter(|&&x| x == l).count() as u64;
    for (i, &own) in c.row_labels.iter().enumerate() {
        let best = (0..c.col_labels.len())
            .max_by(|&a, &b| c.counts[[i, a]].cmp(&c.counts[[i, b]]).then(b.cmp(&a)))
            .expect("k ≥ 1");
        for (j, &base) in c.col_labels.iter().enumerate() {
            rows.push((own, base, c.counts[[i, j]], j == best));
        }
    }
    batch(vec![
        (
            "seed",
            Arc::new(UInt64Array::from_iter_values(rows.iter().map(|_| seed))) as ArrayRef,
        ),
        (
            "cluster",
            Arc::new(UInt32Array::from_iter_values(
                rows.iter().map(|r| r.0 as u32),
            )),
        ),
        (
            "size",
            Arc::new(UInt64Array::from_iter_values(
                rows.iter().map(|r| size_of(labels, r.0)),
            )),
        ),
        (
            "baseline_cluster",
            Arc::new(UInt32Array::from_iter_values(
                rows.iter().map(|r| r.1 as u32),
            )),
        ),
        (
            "baseline_segment",
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| segments[r.1].clone()),
            )),
        ),
        (
            "baseline_size",
            Arc::new(UInt64Array::from_iter_values(
                rows.iter().map(|r| size_of(baseline, r.1)),
            )),
        ),
        (
            "overlap",
            Arc::new(UInt64Array::from_iter_values(rows.iter().map(|r| r.2))),
        ),
        (
            "best_match",
            Arc::new(BooleanArray::from(
                rows.iter().map(|r| r.3).collect::<Vec<_>>(),
            )),
        ),
    ])
}

struct BlockRun {
    /// None: the rebuilt baseline itself (compared with the fit's labels).
    block: Option<String>,
    dropped: Vec<String>,
    columns_left: usize,
    ari: f64,
    sizes: String,
}

/// The model blocks of a features artifact and their columns.
fn model_blocks(features: &Artifact) -> Vec<(String, Vec<String>)> {
    let parsed: Vec<serde_json::Value> = features
        .meta(META_BLOCKS)
        .and_then(|m| serde_json::from_str(m).ok())
        .unwrap_or_default();
    parsed
        .iter()
        .filter(|b| b["model_input"].as_bool() == Some(true))
        .map(|b| {
            (
                b["block"].as_str().unwrap_or_default().to_string(),
                b["columns"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|c| c.as_str().map(str::to_string))
                    .collect(),
            )
        })
        .collect()
}

/// The rows the refits run on: which of the matrix's (all when `rows` is None), and the fit's
/// labels of them.
struct Refitted<'a> {
    labels: &'a [usize],
    rows: Option<&'a [usize]>,
}

fn block_sensitivity(
    features: &Artifact,
    matrix: &Artifact,
    clustering: &Clustering,
    n_init: usize,
    seed: u64,
    refitted: &Refitted<'_>,
    tally: &(dyn Fn(&str, Tally) + Sync),
) -> Result<Vec<BlockRun>> {
    let params_json = matrix.meta(META_PARAMS).ok_or_else(|| {
        Error::data(
            Location::file(&matrix.path),
            "no segflow.params: rerun preprocess",
        )
    })?;
    let preprocess: segflow_transform::Params = ParamTree::from_json(params_json)
        .and_then(|p| parse_params(&p))
        .map_err(|e| {
            Error::data(
                Location::file(&matrix.path),
                format!("preprocess params: {e}"),
            )
        })?;
    let all: Vec<String> = match &preprocess.columns {
        Some(c) => c.clone(),
        None => segflow_transform::model_columns(features, None)?
            .into_iter()
            .map(|(n, _)| n)
            .collect(),
    };
    let blocks = model_blocks(features);
    let rebuild = |columns: Vec<String>| -> Result<Vec<usize>> {
        let mut p = preprocess.clone();
        p.log1p.retain(|c| columns.contains(c));
        p.columns = Some(columns);
        let built = segflow_transform::build(features, &p)?;
        let (n, d) = (built.matrix.first().map_or(0, Vec::len), built.matrix.len());
        let x = match refitted.rows {
            Some(rows) => Array2::from_shape_fn((rows.len(), d), |(i, j)| built.matrix[j][rows[i]]),
            None => Array2::from_shape_fn((n, d), |(i, j)| built.matrix[j][i]),
        };
        Ok(clustering.fit(x.view(), n_init, seed)?.0)
    };
    let runs: Vec<(Option<String>, Vec<String>, Vec<String>)> =
        std::iter::once((None, Vec::new(), all.clone()))
            .chain(blocks.iter().filter_map(|(name, cols)| {
                let dropped: Vec<String> =
                    cols.iter().filter(|c| all.contains(c)).cloned().collect();
                let left: Vec<String> = all.iter().filter(|c| !cols.contains(c)).cloned().collect();
                (!dropped.is_empty() && !left.is_empty())
                    .then(|| (Some(name.clone()), dropped, left))
            }))
            .collect();
    tally("blocks", Tally::Total(runs.len() as u64));
    let labels: Vec<Vec<usize>> = runs
        .par_iter()
        .map(|(_, _, left)| {
            let rebuilt = rebuild(left.clone());
            tally("blocks", Tally::Done);
            rebuilt
        })
        .collect::<Result<_>>()?;
    let base = &labels[0];
    Ok(runs
        .into_iter()
        .zip(&labels)
        .map(|((block, dropped, left), l)| BlockRun {
            ari: ari(
                l,
                if block.is_none() {
                    refitted.labels
                } else {
                    base
                },
            ),
            sizes: sizes_text(l, clustering.k),
            block,
            dropped,
            columns_left: left.len(),
        })
        .collect())
}

fn blocks_batch(runs: &[BlockRun]) -> Result<arrow::array::RecordBatch> {
    batch(vec![
        (
            "dropped_block",
            Arc::new(StringArray::from(
                runs.iter().map(|r| r.block.clone()).collect::<Vec<_>>(),
            )) as ArrayRef,
        ),
        (
            "dropped_columns",
            Arc::new(StringArray::from_iter_values(
                runs.iter().map(|r| r.dropped.join(", ")),
            )),
        ),
        (
            "columns_left",
            Arc::new(UInt32Array::from_iter_values(
                runs.iter().map(|r| r.columns_left as u32),
            )),
        ),
        (
            "compared_with",
            Arc::new(StringArray::from_iter_values(runs.iter().map(|r| {
                if r.block.is_none() {
                    "fit labels"
                } else {
                    "rebuilt baseline"
                }
                .to_string()
            }))),
        ),
        (
            "ari",
            Arc::new(Float64Array::from_iter_values(runs.iter().map(|r| r.ari))),
        ),
        (
            "sizes",
            Arc::new(StringArray::from_iter_values(
                runs.iter().map(|r| r.sizes.clone()),
            )),
        ),
    ])
}

/// The version of this stage's own computations, composed with the versions of the clustering
/// algorithms it runs: bump it with any change that alters its results, and say what changed in
/// CHANGELOG.md.
const VERSION: u32 = 3;

pub struct RobustnessStage;

impl Stage for RobustnessStage {
    fn kind(&self) -> &'static str {
        "robustness"
    }

    fn about(&self) -> &'static str {
        "fit → seed stability, drop-one-block sensitivity, bootstrap Jaccard per segment, verdict"
    }

    fn consumes(&self) -> &'static [&'static str] {
        &["assignments", "matrix", "features"]
    }

    fn plan(&self, params: &ParamTree) -> Result<Vec<Planned>> {
        parse_valid::<Params>(params)?;
        Ok(vec![
            Planned::new("seed_stability"),
            Planned::new("worst_seed"),
            Planned::new("block_sensitivity"),
            Planned::new("bootstrap"),
            Planned::new("verdict"),
        ])
    }

    fn algorithm_version(&self, _params: &ParamTree) -> Result<String> {
        Ok(compose_version(
            VERSION,
            &[("kmeans", segflow_cluster::kmeans::VERSION)],
        ))
    }

    fn run(
        &self,
        inputs: &[PathBuf],
        params: &ParamTree,
        out: &mut OutputDir,
        ctx: &StageCtx<'_>,
    ) -> Result<u64> {
        let params: Params = parse_params(params)?;
        let found = inputs_by_kind(self.kind(), inputs, self.consumes())?;
        let inputs = Inputs {
            assignments: required_input(&found, self.kind(), "assignments")?,
            matrix: required_input(&found, self.kind(), "matrix")?,
            features: required_input(&found, self.kind(), "features")?,
        };
        run(&inputs, &params, out, ctx)
    }
}
