//! The fit stage: the final clustering of the model matrix at the chosen K, with canonical
//! cluster ids (by decreasing size, ties by centroid order), per-contact assignments, centroids,
//! segment cards and profiles in original units, names from the YAML's role rules, actions,
//! and the summary tables (cards, policy, findings, executive summary) as Parquet and CSV.
//!
//! [`Model`] reads a fit's artifacts back, so new contacts are scored by the same
//! nearest-centroid arithmetic that labelled the training contacts.

mod algorithms;
pub mod drift;
mod naming;
mod params;
mod profile;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float64Array, Int32Array, RecordBatch, StringArray,
    UInt32Array, UInt64Array,
};
use ndarray::Array2;

use segflow_cluster::metrics::{calinski_harabasz, davies_bouldin, silhouette_samples};
use segflow_cluster::{Nearest, nearest};
use segflow_core::artifact::{
    Artifact, META_BLOCKS, META_ID_COLUMN, META_MODEL, META_MODEL_COLUMNS, batch, read_parquet,
};
use segflow_core::decision::read_decision;
use segflow_core::error::Location;
use segflow_core::matrix::read_matrix;
use segflow_core::params::{ParamTree, Validate, parse_params, parse_valid};
use segflow_core::stage::{
    OutputDir, Planned, Stage, StageCtx, compose_version, inputs_by_kind, required_input,
};
use segflow_core::{Error, Result};

pub use naming::Named;
pub use params::{Action, Algorithm, Campaign, Cards, Criterion, Impact, Naming, Params, Role};
use profile::{FeatureProfile, distinguishing};

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

struct Chosen {
    k: usize,
    source: String,
    reason: String,
}

fn chosen_k(params: &Params, decision: Option<&Path>) -> Result<Chosen> {
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

/// Block and model-input flag of each feature column, from the features metadata.
fn block_of(features: &Artifact) -> Vec<(String, String, bool)> {
    let parsed: Vec<serde_json::Value> = features
        .meta(META_BLOCKS)
        .and_then(|m| serde_json::from_str(m).ok())
        .unwrap_or_default();
    let mut out = Vec::new();
    for b in &parsed {
        let block = b["block"].as_str().unwrap_or_default().to_string();
        let model = b["model_input"].as_bool().unwrap_or(false);
        for c in b["columns"].as_array().into_iter().flatten() {
            if let Some(c) = c.as_str() {
                out.push((c.to_string(), block.clone(), model));
            }
        }
    }
    out
}

/// Checks that every feature the params name exists, before any clustering.
fn check_keys(params: &Params, known: &[&str]) -> Result<()> {
    let check = |key: String, name: &str| -> Result<()> {
        if known.contains(&name) {
            Ok(())
        } else {
            Err(Error::config(
                "",
                key,
                format!("`{name}` is not a numeric feature of the features artifact"),
            ))
        }
    };
    let c = &params.cards;
    for (key, list) in [
        ("cards.medians", c.medians.as_deref().unwrap_or_default()),
        ("cards.spreads", &c.spreads[..]),
        ("cards.means", &c.means[..]),
        ("cards.stds", &c.stds[..]),
        ("cards.any", &c.any[..]),
    ] {
        for name in list {
            check(key.into(), name)?;
        }
    }
    for (i, role) in params.naming.roles.iter().enumerate() {
        for c in &role.by {
            if c.key() != "n_contacts" {
                check(format!("naming.roles[{i}].by"), c.key())?;
            }
        }
    }
    if let Some(template) = &params.narrative {
        for name in placeholders(template) {
            if !matches!(name, "n_contacts" | "share_pct") {
                check("narrative".into(), name)?;
            }
        }
    }
    Ok(())
}

/// The `{name}` placeholders of a narrative template.
fn placeholders(template: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        out.push(&rest[open + 1..open + close]);
        rest = &rest[open + close + 1..];
    }
    out
}

pub fn run(
    inputs: &Inputs,
    params: &Params,
    out: &mut OutputDir,
    ctx: &StageCtx<'_>,
) -> Result<Outputs> {
    params.validate()?;
    (ctx.progress)("reading the matrix and features");
    let m = read_matrix(&inputs.matrix)?;
    let features = read_parquet(&inputs.features)?;
    if features.kind() != Some("features") {
        return Err(Error::data(
            Location::file(&inputs.features),
            "expected a features artifact",
        ));
    }
    let feature_ids = features.column(&m.id_column)?;
    let feature_ids = feature_ids.as_string_opt::<i32>().ok_or_else(|| {
        Error::data(
            Location::file(&inputs.features).column(&m.id_column),
            "ids must be strings",
        )
    })?;
    if feature_ids.len() != m.ids.len() {
        return Err(Error::data(
            Location::file(&inputs.features),
            format!(
                "{} rows, the matrix has {}: they come from different runs",
                feature_ids.len(),
                m.ids.len()
            ),
        ));
    }
    if let Some(row) = (0..m.ids.len()).find(|&i| feature_ids.value(i) != m.ids[i]) {
        return Err(Error::data(
            Location::file(&inputs.features)
                .row(row as u64)
                .column(&m.id_column),
            format!(
                "id {} where the matrix has {}: they come from different runs",
                feature_ids.value(row),
                m.ids[row]
            ),
        ));
    }
    let n = m.values.nrows();
    let chosen = if params.algorithm == Algorithm::Dbscan {
        None
    } else {
        let chosen = chosen_k(params, inputs.decision.as_deref())?;
        if chosen.k >= n {
            return Err(Error::data(
                Location::file(&inputs.matrix),
                format!(
                    "K = {} needs more than {} rows; the matrix has {n}",
                    chosen.k, chosen.k
                ),
            ));
        }
        Some(chosen)
    };
    let layout = block_of(&features);
    let numeric: Vec<(String, String, bool)> = layout
        .into_iter()
        .filter(|(name, _, _)| {
            features
                .batch
                .column_by_name(name)
                .is_some_and(|c| c.data_type().is_numeric())
        })
        .collect();
    let known: Vec<&str> = numeric.iter().map(|(n, _, _)| n.as_str()).collect();
    check_keys(params, &known)?;

    (ctx.progress)(&format!("clustering ({})", params.algorithm.name()));
    let cluster_err = |e: segflow_cluster::ClusterError| {
        Error::data(Location::file(&inputs.matrix), e.to_string())
    };
    let x = m.values.view();
    let clustered = algorithms::cluster(params, x, chosen.as_ref().map_or(0, |c| c.k), ctx.seed)
        .map_err(cluster_err)?;
    let k = clustered.k;
    let noise = clustered.labels.iter().filter(|l| l.is_none()).count();
    if k == 0 {
        let spec = params.dbscan.clone().unwrap_or_default();
        return Err(Error::data(
            Location::file(&inputs.matrix),
            format!(
                "DBSCAN (eps {}, min_samples {}) found no cluster: every row is noise; a larger eps would join them",
                spec.eps, spec.min_samples
            ),
        ));
    }
    let chosen = chosen.unwrap_or_else(|| {
        let spec = params.dbscan.clone().unwrap_or_default();
        Chosen {
            k,
            source: format!(
                "DBSCAN (eps {}, min_samples {})",
                spec.eps, spec.min_samples
            ),
            reason: format!("DBSCAN found {k} clusters and {noise} noise points; K is not chosen"),
        }
    });
    // Noise rows form one more bucket (id k) for the feature profiles; tables show 0..k.
    let buckets: Vec<usize> = clustered.labels.iter().map(|l| l.unwrap_or(k)).collect();
    let mut sizes = vec![0usize; k];
    clustered
        .labels
        .iter()
        .flatten()
        .for_each(|&l| sizes[l] += 1);

    (ctx.progress)("scoring and profiling the segments");
    let members: Vec<usize> = (0..n).filter(|&i| clustered.labels[i].is_some()).collect();
    let member_x = x.select(ndarray::Axis(0), &members);
    let member_labels: Vec<usize> = members.iter().map(|&i| buckets[i]).collect();
    // Silhouette and the indices need two clusters; with one they are undefined (0, NaN).
    let mut silhouette = vec![f64::NAN; n];
    let (davies, calinski) = if k >= 2 {
        let s = silhouette_samples(member_x.view(), &member_labels).map_err(cluster_err)?;
        for (&i, v) in members.iter().zip(s.iter()) {
            silhouette[i] = *v;
        }
        (
            davies_bouldin(member_x.view(), &member_labels).map_err(cluster_err)?,
            calinski_harabasz(member_x.view(), &member_labels).map_err(cluster_err)?,
        )
    } else {
        members.iter().for_each(|&i| silhouette[i] = 0.0);
        (f64::NAN, f64::NAN)
    };
    let profiles: Vec<FeatureProfile> = numeric
        .iter()
        .map(|(name, block, model_input)| {
            Ok(FeatureProfile::new(
                name.clone(),
                block.clone(),
                *model_input,
                &features.float_column(name)?,
                &buckets,
                k + usize::from(noise > 0),
            ))
        })
        .collect::<Result<_>>()?;
    let profile_of = |name: &str| profiles.iter().find(|p| p.name == name);
    let stat = |c: usize, key: &str| -> f64 {
        if key == "n_contacts" {
            sizes[c] as f64
        } else {
            profile_of(key).map_or(f64::NAN, |p| p.clusters[c].median)
        }
    };
    let distinct = distinguishing(&profiles, k);
    let named = naming::name_segments(
        &params.naming,
        &naming::Clusters {
            sizes: &sizes,
            stat: &stat,
            distinguishing: &distinct,
        },
    );
    let names: Vec<String> = named.iter().map(|s| s.name.clone()).collect();

    let id_column = m.id_column.clone();
    let assignments = batch(vec![
        (
            id_column.as_str(),
            Arc::new(StringArray::from_iter_values(&m.ids)) as ArrayRef,
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
            Arc::new(Float64Array::from(silhouette.clone())),
        ),
    ])?;
    let assignments = match &clustered.mixture {
        Some((_, probability)) => {
            let schema = assignments.schema();
            let mut columns: Vec<(&str, ArrayRef)> = schema
                .fields()
                .iter()
                .map(|f| f.name().as_str())
                .zip(assignments.columns().iter().cloned())
                .collect();
            columns.push(("probability", floats(probability.iter().copied())));
            batch(columns)?
        }
        None => assignments,
    };
    let spec = params.dbscan.clone().unwrap_or_default();
    let clustering = serde_json::json!({
        "algorithm": params.algorithm.name(),
        "k": k,
        "n_init": params.n_init,
        "max_iter": params.max_iter,
        "tol": params.tol,
        "eps": (params.algorithm == Algorithm::Dbscan).then_some(spec.eps),
        "covariance": params.gmm.as_ref().map(|g| format!("{:?}", g.covariance).to_lowercase()),
        "min_samples": (params.algorithm == Algorithm::Dbscan).then_some(spec.min_samples),
    });
    out.write(
        "assignments",
        &assignments,
        &[
            (META_ID_COLUMN.to_string(), id_column.clone()),
            (META_MODEL.to_string(), clustering.to_string()),
        ],
    )?;

    out.write(
        "centroids",
        &centroids_batch(&m.columns, &clustered.centroids, &names, &profile_of)?,
        &[
            (
                META_MODEL_COLUMNS.to_string(),
                serde_json::to_string(&m.columns).expect("strings"),
            ),
            (META_MODEL.to_string(), clustering.to_string()),
        ],
    )?;
    if params.algorithm == Algorithm::Dbscan {
        dbscan_artifacts(out, &m, &clustered, &spec)?;
    }
    if let Some((gmm, _)) = &clustered.mixture {
        out.write(
            "mixture",
            &mixture_batch(gmm, &m.columns)?,
            &[(
                META_MODEL_COLUMNS.to_string(),
                serde_json::to_string(&m.columns).expect("strings"),
            )],
        )?;
    }

    let model_features: Vec<String> = numeric
        .iter()
        .filter(|(_, _, model)| *model)
        .map(|(n, _, _)| n.clone())
        .collect();
    let cards = cards_batch(params, &model_features, &profiles, &sizes, &names)?;
    out.write("cards", &cards, &[])?;
    out.write_csv("cards", &cards)?;

    out.write(
        "profile",
        &profile_batch(&profiles, &names, params.top_features)?,
        &[],
    )?;

    let shares: Vec<f64> = sizes.iter().map(|&s| s as f64 / n as f64).collect();
    let mut policy_columns = vec![
        ("cluster", u32s(0..k as u32)),
        ("segment", strings(names.iter().cloned())),
        ("n_contacts", u64s(sizes.iter().map(|&s| s as u64))),
        ("share", Arc::new(Float64Array::from(shares.clone()))),
        ("naming_rule", strings(named.iter().map(|s| s.rule.clone()))),
        (
            "decision_use",
            strings(named.iter().map(|s| s.action.decision_use.clone())),
        ),
        (
            "operational_rule",
            strings(named.iter().map(|s| s.action.operational_rule.clone())),
        ),
        (
            "typical_pattern",
            strings(named.iter().map(|s| s.action.typical_pattern.clone())),
        ),
    ];
    let campaigns: Vec<Option<&Campaign>> =
        named.iter().map(|s| s.action.campaign.as_ref()).collect();
    if campaigns.iter().any(Option::is_some) {
        let text = |f: &dyn Fn(&Campaign) -> String| -> ArrayRef {
            Arc::new(StringArray::from(
                campaigns.iter().map(|c| c.map(f)).collect::<Vec<_>>(),
            ))
        };
        let number = |f: &dyn Fn(&Campaign) -> f64| -> ArrayRef {
            Arc::new(Float64Array::from(
                campaigns.iter().map(|c| c.map(f)).collect::<Vec<_>>(),
            ))
        };
        policy_columns.extend([
            ("channel", text(&|c| c.channel.clone())),
            ("message", text(&|c| c.message.clone())),
            ("owner", text(&|c| c.owner.clone())),
            ("expected_close_rate", number(&|c| c.close_rate)),
            ("deal_size", number(&|c| c.deal_size)),
        ]);
    }
    let policy = batch(policy_columns)?;
    out.write("policy", &policy, &[])?;
    out.write_csv("policy", &policy)?;
    if let Some(impact) = &params.impact {
        let table = impact_batch(impact, &campaigns, &sizes, &names)?;
        out.write("impact", &table, &[])?;
        out.write_csv("impact", &table)?;
    }

    let mean_by = |values: &[f64], c: usize| {
        let (sum, count) = clustered
            .labels
            .iter()
            .zip(values)
            .filter(|(l, _)| **l == Some(c))
            .fold((0.0, 0usize), |(s, n), (_, v)| (s + v, n + 1));
        sum / count as f64
    };
    let findings = batch(vec![
        ("cluster", u32s(0..k as u32)),
        ("segment", strings(names.iter().cloned())),
        ("n_contacts", u64s(sizes.iter().map(|&s| s as u64))),
        ("share", Arc::new(Float64Array::from(shares.clone()))),
        (
            "narrative",
            strings((0..k).map(|c| narrative(params, c, &sizes, n, &profiles, &distinct))),
        ),
        (
            "distinguishing",
            strings(distinct.iter().map(|d| {
                d.iter()
                    .take(params.top_features)
                    .map(|(f, v)| {
                        format!("{f} {}{:.2} sd", if *v < 0.0 { "−" } else { "+" }, v.abs())
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            })),
        ),
        (
            "mean_silhouette",
            floats((0..k).map(|c| mean_by(&silhouette, c))),
        ),
        (
            "mean_distance",
            floats((0..k).map(|c| mean_by(assignments_distance(&assignments), c))),
        ),
    ])?;
    out.write("findings", &findings, &[])?;
    out.write_csv("findings", &findings)?;

    let scored: Vec<f64> = silhouette.iter().copied().filter(|v| !v.is_nan()).collect();
    let summary = summary_batch(&SummaryFacts {
        n,
        d: m.columns.len(),
        chosen: &chosen,
        params,
        seed: ctx.seed,
        inertia: clustered.inertia,
        silhouette: scored.iter().sum::<f64>() / scored.len() as f64,
        davies_bouldin: davies,
        calinski_harabasz: calinski,
        negative_silhouette: scored.iter().filter(|s| **s < 0.0).count(),
        iterations: clustered.iterations,
        noise,
        sizes: &sizes,
        names: &names,
    })?;
    out.write("summary", &summary, &[])?;
    out.write_csv("summary", &summary)?;
    Ok(Outputs {
        rows: n as u64,
        k,
        segments: named,
    })
}

/// Expected closes and revenue per segment under its campaign and under the baseline
/// treatment: arithmetic on configured assumptions, labelled as such in every row.
fn impact_batch(
    impact: &Impact,
    campaigns: &[Option<&Campaign>],
    sizes: &[usize],
    names: &[String],
) -> Result<RecordBatch> {
    let k = sizes.len();
    let campaign = |c: usize| campaigns[c].expect("validated: every segment has a campaign");
    let n = |c: usize| sizes[c] as f64;
    let expected = |c: usize| n(c) * campaign(c).close_rate * campaign(c).deal_size;
    let baseline = |c: usize| n(c) * impact.baseline_close_rate * impact.baseline_deal_size;
    let segment_rows = (0..k).map(Some).chain(std::iter::once(None));
    let total = |f: &dyn Fn(usize) -> f64| (0..k).map(f).sum::<f64>();
    let value = |f: &dyn Fn(usize) -> f64| -> ArrayRef {
        floats(segment_rows.clone().map(|c| c.map_or_else(|| total(f), f)))
    };
    batch(vec![
        (
            "segment",
            strings(
                segment_rows
                    .clone()
                    .map(|c| c.map_or("all segments".to_string(), |c| names[c].clone())),
            ),
        ),
        ("n_contacts", value(&n)),
        (
            "expected_close_rate",
            Arc::new(Float64Array::from(
                segment_rows
                    .clone()
                    .map(|c| c.map(|c| campaign(c).close_rate))
                    .collect::<Vec<_>>(),
            )),
        ),
        (
            "deal_size",
            Arc::new(Float64Array::from(
                segment_rows
                    .clone()
                    .map(|c| c.map(|c| campaign(c).deal_size))
                    .collect::<Vec<_>>(),
            )),
        ),
        ("expected_closes", value(&|c| n(c) * campaign(c).close_rate)),
        ("expected_revenue", value(&expected)),
        (
            "baseline_closes",
            value(&|c| n(c) * impact.baseline_close_rate),
        ),
        ("baseline_revenue", value(&baseline)),
        ("uplift", value(&|c| expected(c) - baseline(c))),
        (
            "currency",
            strings(segment_rows.clone().map(|_| impact.currency.clone())),
        ),
        (
            "basis",
            strings(segment_rows.map(|_| {
                format!(
                    "projection from configured close rates and deal sizes (baseline {:.1} % at {} {}), not a measurement",
                    impact.baseline_close_rate * 100.0,
                    fmt_num(impact.baseline_deal_size),
                    impact.currency
                )
            })),
        ),
    ])
}

/// A Gaussian mixture as rows: per component a `mean` row and the rows of its precision
/// factor, each with the component's weight; enough to score new rows exactly.
fn mixture_batch(g: &segflow_cluster::Gmm, columns: &[String]) -> Result<RecordBatch> {
    let (k, d) = g.means.dim();
    let mut rows: Vec<(usize, &str, usize, Vec<f64>)> = Vec::new();
    for c in 0..k {
        rows.push((c, "mean", 0, g.means.row(c).to_vec()));
        for r in 0..d {
            rows.push((
                c,
                "precision_factor",
                r,
                g.precision_cholesky[c].row(r).to_vec(),
            ));
        }
    }
    let mut arrays: Vec<(&str, ArrayRef)> = vec![
        ("cluster", u32s(rows.iter().map(|r| r.0 as u32))),
        ("part", strings(rows.iter().map(|r| r.1.to_string()))),
        ("index", u32s(rows.iter().map(|r| r.2 as u32))),
        ("weight", floats(rows.iter().map(|r| g.weights[r.0]))),
    ];
    for (j, name) in columns.iter().enumerate() {
        arrays.push((name.as_str(), floats(rows.iter().map(|r| r.3[j]))));
    }
    batch(arrays)
}

/// The segment of rows DBSCAN leaves out of every cluster.
pub const NOISE: &str = "Noise";

/// DBSCAN's core points (what `assign` scores new rows against) and the k-distance curve
/// whose knee suggests eps.
fn dbscan_artifacts(
    out: &mut OutputDir,
    m: &segflow_core::matrix::Matrix,
    clustered: &algorithms::Clustered,
    spec: &params::DbscanSpec,
) -> Result<()> {
    let core = &clustered.core;
    let mut columns: Vec<(&str, ArrayRef)> = vec![(
        "cluster",
        u32s(
            core.iter()
                .map(|&i| clustered.labels[i].expect("core points are clustered") as u32),
        ),
    )];
    for (j, name) in m.columns.iter().enumerate() {
        columns.push((
            name.as_str(),
            floats(core.iter().map(|&i| m.values[[i, j]])),
        ));
    }
    out.write(
        "core_points",
        &batch(columns)?,
        &[(
            META_MODEL_COLUMNS.to_string(),
            serde_json::to_string(&m.columns).expect("strings"),
        )],
    )?;
    let k = spec.min_samples.saturating_sub(1).max(1);
    let curve = segflow_cluster::k_distances(m.values.view(), k)
        .map_err(|e| Error::data(Location::file(&m.artifact.path), e.to_string()))?;
    // Kneedle wants a decreasing curve: read the sorted distances from the top.
    let points: Vec<(f64, f64)> = curve
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| (i as f64, d))
        .collect();
    let knee = segflow_cluster::kneedle(&points).map(|i| points[i].1);
    out.write(
        "eps_suggestion",
        &batch(vec![
            (
                "rank",
                Arc::new(UInt64Array::from_iter_values(0..curve.len() as u64)) as ArrayRef,
            ),
            ("k_distance", floats(curve.iter().copied())),
            (
                "suggested_eps",
                Arc::new(Float64Array::from(vec![knee; curve.len()])),
            ),
        ])?,
        &[("segflow.k".to_string(), k.to_string())],
    )?;
    Ok(())
}

fn assignments_distance(b: &RecordBatch) -> &[f64] {
    b.column_by_name("distance")
        .expect("written above")
        .as_primitive::<arrow::datatypes::Float64Type>()
        .values()
}

fn strings(values: impl Iterator<Item = String>) -> ArrayRef {
    Arc::new(StringArray::from_iter_values(values))
}

fn floats(values: impl Iterator<Item = f64>) -> ArrayRef {
    Arc::new(Float64Array::from_iter_values(values))
}

fn u32s(values: impl Iterator<Item = u32>) -> ArrayRef {
    Arc::new(UInt32Array::from_iter_values(values))
}

fn u64s(values: impl Iterator<Item = u64>) -> ArrayRef {
    Arc::new(UInt64Array::from_iter_values(values))
}

/// Rows `scaled` (the centroids the model scores with) and `original` (the mean of the
/// members' feature values; a column with no raw feature, such as a missing-value indicator,
/// repeats its scaled value).
fn centroids_batch<'a>(
    columns: &[String],
    centroids: &Array2<f64>,
    names: &[String],
    profile_of: &dyn Fn(&str) -> Option<&'a FeatureProfile>,
) -> Result<RecordBatch> {
    let k = centroids.nrows();
    let mut arrays: Vec<(&str, ArrayRef)> = vec![
        ("cluster", u32s((0..k as u32).chain(0..k as u32))),
        ("segment", strings(names.iter().chain(names).cloned())),
        (
            "space",
            strings(
                std::iter::repeat_n("scaled".to_string(), k)
                    .chain(std::iter::repeat_n("original".to_string(), k)),
            ),
        ),
    ];
    for (j, name) in columns.iter().enumerate() {
        let scaled = centroids.column(j);
        let original: Vec<f64> = (0..k)
            .map(|c| profile_of(name).map_or(scaled[c], |p| p.clusters[c].mean))
            .collect();
        arrays.push((
            name.as_str(),
            floats(scaled.iter().copied().chain(original)),
        ));
    }
    batch(arrays)
}

fn cards_batch(
    params: &Params,
    model_features: &[String],
    profiles: &[FeatureProfile],
    sizes: &[usize],
    names: &[String],
) -> Result<RecordBatch> {
    let k = sizes.len();
    let n: usize = sizes.iter().sum();
    let p = |name: &str| {
        profiles
            .iter()
            .find(|p| p.name == name)
            .expect("keys checked before fitting")
    };
    let mut cols: Vec<(String, ArrayRef)> = vec![
        ("cluster".into(), u32s(0..k as u32)),
        ("segment".into(), strings(names.iter().cloned())),
        ("n_contacts".into(), u64s(sizes.iter().map(|&s| s as u64))),
        (
            "share".into(),
            floats(sizes.iter().map(|&s| s as f64 / n as f64)),
        ),
    ];
    let c = &params.cards;
    for name in c.medians.as_deref().unwrap_or(model_features) {
        cols.push((
            format!("median_{name}"),
            floats((0..k).map(|i| p(name).clusters[i].median)),
        ));
    }
    for name in &c.spreads {
        for (q, get) in [
            (
                "q25",
                (|s: &profile::Summary| s.q25) as fn(&profile::Summary) -> f64,
            ),
            ("q50", |s| s.median),
            ("q75", |s| s.q75),
        ] {
            cols.push((
                format!("{name}_{q}"),
                floats((0..k).map(|i| get(&p(name).clusters[i]))),
            ));
        }
    }
    for name in &c.means {
        cols.push((
            format!("mean_{name}"),
            floats((0..k).map(|i| p(name).clusters[i].mean)),
        ));
    }
    for name in &c.stds {
        cols.push((
            format!("std_{name}"),
            floats((0..k).map(|i| p(name).clusters[i].std)),
        ));
    }
    for name in &c.any {
        cols.push((
            format!("pct_any_{name}"),
            floats((0..k).map(|i| p(name).clusters[i].share_positive * 100.0)),
        ));
    }
    batch(cols.iter().map(|(n, a)| (n.as_str(), a.clone())).collect())
}

fn profile_batch(profiles: &[FeatureProfile], names: &[String], top: usize) -> Result<RecordBatch> {
    let k = names.len();
    let mut rows: Vec<(usize, &FeatureProfile, Option<u32>)> = Vec::new();
    for c in 0..k {
        let mut ranked: Vec<&FeatureProfile> = profiles.iter().filter(|p| p.model_input).collect();
        ranked.sort_by(|a, b| b.std_diff(c).abs().total_cmp(&a.std_diff(c).abs()));
        for p in profiles {
            let rank = ranked
                .iter()
                .position(|r| r.name == p.name)
                .map(|r| r as u32 + 1);
            rows.push((c, p, rank));
        }
    }
    let f =
        |g: &dyn Fn(usize, &FeatureProfile) -> f64| floats(rows.iter().map(|(c, p, _)| g(*c, p)));
    batch(vec![
        ("cluster", u32s(rows.iter().map(|r| r.0 as u32))),
        ("segment", strings(rows.iter().map(|r| names[r.0].clone()))),
        ("feature", strings(rows.iter().map(|r| r.1.name.clone()))),
        ("block", strings(rows.iter().map(|r| r.1.block.clone()))),
        (
            "model_input",
            Arc::new(BooleanArray::from(
                rows.iter().map(|r| r.1.model_input).collect::<Vec<_>>(),
            )),
        ),
        ("median", f(&|c, p| p.clusters[c].median)),
        ("q25", f(&|c, p| p.clusters[c].q25)),
        ("q75", f(&|c, p| p.clusters[c].q75)),
        ("iqr", f(&|c, p| p.clusters[c].q75 - p.clusters[c].q25)),
        ("mean", f(&|c, p| p.clusters[c].mean)),
        ("all_median", f(&|_, p| p.all.median)),
        ("all_iqr", f(&|_, p| p.all.q75 - p.all.q25)),
        ("all_mean", f(&|_, p| p.all.mean)),
        ("all_std", f(&|_, p| p.all.std)),
        ("std_diff", f(&|c, p| p.std_diff(c))),
        (
            "rank",
            Arc::new(UInt32Array::from(
                rows.iter().map(|r| r.2).collect::<Vec<_>>(),
            )),
        ),
        (
            "top",
            Arc::new(BooleanArray::from(
                rows.iter()
                    .map(|r| r.2.is_some_and(|rank| rank as usize <= top))
                    .collect::<Vec<_>>(),
            )),
        ),
    ])
}

/// The segment's narrative from the template, or from its top distinguishing features.
fn narrative(
    params: &Params,
    c: usize,
    sizes: &[usize],
    n: usize,
    profiles: &[FeatureProfile],
    distinct: &[Vec<(String, f64)>],
) -> String {
    let median = |name: &str| {
        profiles
            .iter()
            .find(|p| p.name == name)
            .map_or(f64::NAN, |p| p.clusters[c].median)
    };
    match &params.narrative {
        Some(template) => {
            let mut text = template.clone();
            for name in placeholders(template) {
                let value = match name {
                    "n_contacts" => sizes[c].to_string(),
                    "share_pct" => format!("{:.1}", sizes[c] as f64 / n as f64 * 100.0),
                    other => fmt_num(median(other)),
                };
                text = text.replacen(&format!("{{{name}}}"), &value, 1);
            }
            text
        }
        None => {
            let parts: Vec<String> = distinct[c]
                .iter()
                .take(params.top_features)
                .map(|(f, _)| format!("{f} {}", fmt_num(median(f))))
                .collect();
            format!(
                "{} contacts; typical (median) {}.",
                sizes[c],
                parts.join(", ")
            )
        }
    }
}

struct SummaryFacts<'a> {
    n: usize,
    d: usize,
    chosen: &'a Chosen,
    params: &'a Params,
    seed: u64,
    inertia: f64,
    silhouette: f64,
    davies_bouldin: f64,
    calinski_harabasz: f64,
    negative_silhouette: usize,
    iterations: Option<(usize, bool)>,
    noise: usize,
    sizes: &'a [usize],
    names: &'a [String],
}

/// The executive summary: one metric per row, as text and (where numeric) as a number.
fn summary_batch(f: &SummaryFacts<'_>) -> Result<RecordBatch> {
    let share = |c: usize| f.sizes[c] as f64 / f.n as f64 * 100.0;
    let segment = |c: usize| {
        format!(
            "{}: {} contacts ({:.1} %)",
            f.names[c],
            f.sizes[c],
            share(c)
        )
    };
    let last = f.sizes.len() - 1;
    let spec = f.params.dbscan.clone().unwrap_or_default();
    let algorithm = match f.params.algorithm {
        Algorithm::Kmeans => format!(
            "k-means (k-means++, {} restarts, max_iter {}, tol {}, seed {})",
            f.params.n_init, f.params.max_iter, f.params.tol, f.seed
        ),
        Algorithm::Ward => "Ward agglomeration".to_string(),
        Algorithm::Dbscan => format!(
            "DBSCAN (eps {}, min_samples {})",
            spec.eps, spec.min_samples
        ),
        Algorithm::Gmm => {
            let g = f.params.gmm.clone().unwrap_or_default();
            format!(
                "Gaussian mixture ({} covariance, {} init, reg_covar {}, seed {})",
                format!("{:?}", g.covariance).to_lowercase(),
                g.n_init,
                g.reg_covar,
                f.seed
            )
        }
    };
    let mut rows: Vec<(&str, String, Option<f64>)> = vec![
        ("contacts", f.n.to_string(), Some(f.n as f64)),
        ("model_features", f.d.to_string(), Some(f.d as f64)),
        (
            "segments",
            f.sizes.len().to_string(),
            Some(f.sizes.len() as f64),
        ),
        ("k_source", f.chosen.source.clone(), None),
        ("k_reason", f.chosen.reason.clone(), None),
        ("algorithm", algorithm, None),
        ("inertia", fmt_num(f.inertia), Some(f.inertia)),
        (
            "silhouette",
            format!("{:.4}", f.silhouette),
            Some(f.silhouette),
        ),
        (
            "davies_bouldin",
            format!("{:.4}", f.davies_bouldin),
            Some(f.davies_bouldin),
        ),
        (
            "calinski_harabasz",
            fmt_num(f.calinski_harabasz),
            Some(f.calinski_harabasz),
        ),
        (
            "negative_silhouette_pct",
            format!(
                "{:.1} % of contacts sit closer to another segment on average",
                f.negative_silhouette as f64 / f.n as f64 * 100.0
            ),
            Some(f.negative_silhouette as f64 / f.n as f64 * 100.0),
        ),
        ("largest_segment", segment(0), Some(share(0))),
        ("smallest_segment", segment(last), Some(share(last))),
    ];
    if let Some((n_iter, converged)) = f.iterations {
        rows.push(("iterations", n_iter.to_string(), Some(n_iter as f64)));
        rows.push((
            "converged",
            converged.to_string(),
            Some(if converged { 1.0 } else { 0.0 }),
        ));
    }
    if f.params.algorithm == Algorithm::Dbscan {
        rows.push((
            "noise",
            format!("{} contacts in no cluster", f.noise),
            Some(f.noise as f64),
        ));
    }
    batch(vec![
        ("metric", strings(rows.iter().map(|r| r.0.to_string()))),
        ("value", strings(rows.iter().map(|r| r.1.clone()))),
        (
            "number",
            Arc::new(Float64Array::from(
                rows.iter().map(|r| r.2).collect::<Vec<_>>(),
            )),
        ),
    ])
}

/// A fitted segmentation read back from a fit's artifacts: centroids in matrix-column order,
/// segment names and actions.
pub struct Model {
    /// Matrix columns the centroids are expressed in.
    pub columns: Vec<String>,
    /// K × columns, canonical order.
    pub centroids: Array2<f64>,
    pub segments: Vec<String>,
    pub actions: Vec<Action>,
    /// DBSCAN: the core points, their clusters and eps; new rows join the cluster of the
    /// nearest core point within eps, or none.
    pub core: Option<(Array2<f64>, Vec<usize>, f64)>,
    /// Gaussian mixture: new rows go to their most probable component.
    pub mixture: Option<segflow_cluster::Gmm>,
}

/// New rows scored by a [`Model`].
pub struct Scored {
    /// Segment of each row; `None` for DBSCAN noise.
    pub labels: Vec<Option<usize>>,
    pub distance: Vec<f64>,
    pub margin: Vec<f64>,
    /// Gaussian mixture: posterior probability of the row's segment.
    pub probability: Option<Vec<f64>>,
}

impl Model {
    pub fn load(fit_dir: &Path) -> Result<Model> {
        let path = fit_dir.join("centroids.parquet");
        let a = read_parquet(&path)?;
        if a.kind() != Some("centroids") {
            return Err(Error::data(
                Location::file(&path),
                "expected a centroids artifact",
            ));
        }
        let columns: Vec<String> = a
            .meta(META_MODEL_COLUMNS)
            .and_then(|m| serde_json::from_str(m).ok())
            .ok_or_else(|| {
                Error::data(Location::file(&path), "no segflow.model_columns metadata")
            })?;
        let space = a.column("space")?.as_string_opt::<i32>().ok_or_else(|| {
            Error::data(Location::file(&path).column("space"), "expected strings")
        })?;
        let scaled: Vec<usize> = (0..a.batch.num_rows())
            .filter(|&r| space.is_valid(r) && space.value(r) == "scaled")
            .collect();
        let mut centroids = Array2::zeros((scaled.len(), columns.len()));
        for (j, name) in columns.iter().enumerate() {
            let values = a.float_column(name)?;
            for (c, &r) in scaled.iter().enumerate() {
                centroids[[c, j]] = values[r];
            }
        }
        let clustering: serde_json::Value = a
            .meta(META_MODEL)
            .and_then(|m| serde_json::from_str(m).ok())
            .unwrap_or_default();
        let core = if clustering["algorithm"] == "dbscan" {
            let path = fit_dir.join("core_points.parquet");
            let c = read_parquet(&path)?;
            let clusters: Vec<usize> = c
                .float_column("cluster")?
                .into_iter()
                .map(|v| v as usize)
                .collect();
            let mut points = Array2::zeros((clusters.len(), columns.len()));
            for (j, name) in columns.iter().enumerate() {
                for (i, v) in c.float_column(name)?.into_iter().enumerate() {
                    points[[i, j]] = v;
                }
            }
            let eps = clustering["eps"].as_f64().ok_or_else(|| {
                Error::data(Location::file(&path), "no eps in segflow.model metadata")
            })?;
            Some((points, clusters, eps))
        } else {
            None
        };
        let mixture = if clustering["algorithm"] == "gmm" {
            Some(load_mixture(
                &fit_dir.join("mixture.parquet"),
                &columns,
                &clustering,
            )?)
        } else {
            None
        };
        let path = fit_dir.join("policy.parquet");
        let p = read_parquet(&path)?;
        let text = |name: &str| -> Result<Vec<String>> {
            let col = p.column(name)?.as_string_opt::<i32>().ok_or_else(|| {
                Error::data(Location::file(&path).column(name), "expected strings")
            })?;
            Ok(col
                .iter()
                .map(|v| v.unwrap_or_default().to_string())
                .collect())
        };
        let segments = text("segment")?;
        let (uses, rules, patterns) = (
            text("decision_use")?,
            text("operational_rule")?,
            text("typical_pattern")?,
        );
        if segments.len() != centroids.nrows() {
            return Err(Error::data(
                Location::file(&path),
                format!(
                    "{} segments for {} centroids: the fit artifacts come from different runs",
                    segments.len(),
                    centroids.nrows()
                ),
            ));
        }
        let campaigns: Vec<Option<Campaign>> = if p.batch.column_by_name("channel").is_some() {
            let (channel, message, owner) = (text("channel")?, text("message")?, text("owner")?);
            let (rate, deal) = (
                p.float_column("expected_close_rate")?,
                p.float_column("deal_size")?,
            );
            (0..segments.len())
                .map(|i| {
                    (!rate[i].is_nan()).then(|| Campaign {
                        channel: channel[i].clone(),
                        message: message[i].clone(),
                        owner: owner[i].clone(),
                        close_rate: rate[i],
                        deal_size: deal[i],
                    })
                })
                .collect()
        } else {
            vec![None; segments.len()]
        };
        let actions = campaigns
            .into_iter()
            .enumerate()
            .map(|(i, campaign)| Action {
                decision_use: uses[i].clone(),
                operational_rule: rules[i].clone(),
                typical_pattern: patterns[i].clone(),
                campaign,
            })
            .collect();
        Ok(Model {
            columns,
            centroids,
            segments,
            actions,
            core,
            mixture,
        })
    }

    /// Segment of each matrix row (columns in `self.columns` order): the nearest centroid
    /// (k-means; Ward, whose segments are summarised by their means), or for DBSCAN the
    /// cluster of the nearest core point within eps, else noise. Distance and margin are to
    /// the segment centroids, as in fit.
    pub fn assign(&self, x: ndarray::ArrayView2<'_, f64>) -> Scored {
        let Nearest {
            labels,
            distance,
            margin,
        } = nearest(x, self.centroids.view());
        if let Some(g) = &self.mixture {
            let proba = g.predict_proba(x);
            let labels = g.predict(x);
            let probability = labels
                .iter()
                .enumerate()
                .map(|(i, &l)| proba[[i, l]])
                .collect();
            return Scored {
                labels: labels.into_iter().map(Some).collect(),
                distance,
                margin,
                probability: Some(probability),
            };
        }
        let labels = match &self.core {
            None => labels.into_iter().map(Some).collect(),
            Some((points, clusters, eps)) => {
                let near = nearest(x, points.view());
                near.labels
                    .iter()
                    .zip(&near.distance)
                    .map(|(&p, &d)| (d <= *eps).then(|| clusters[p]))
                    .collect()
            }
        };
        Scored {
            labels,
            distance,
            margin,
            probability: None,
        }
    }
}

/// A mixture read back from `mixture.parquet` (components in segment order).
fn load_mixture(
    path: &Path,
    columns: &[String],
    clustering: &serde_json::Value,
) -> Result<segflow_cluster::Gmm> {
    let a = read_parquet(path)?;
    let part: Vec<String> = a
        .column("part")?
        .as_string_opt::<i32>()
        .ok_or_else(|| Error::data(Location::file(path).column("part"), "expected strings"))?
        .iter()
        .map(|v| v.unwrap_or_default().to_string())
        .collect();
    let (cluster, index, weight) = (
        a.float_column("cluster")?,
        a.float_column("index")?,
        a.float_column("weight")?,
    );
    let values: Vec<Vec<f64>> = columns
        .iter()
        .map(|c| a.float_column(c))
        .collect::<Result<_>>()?;
    let d = columns.len();
    let k = cluster.iter().fold(0usize, |m, &c| m.max(c as usize + 1));
    let mut means = Array2::zeros((k, d));
    let mut factors = vec![Array2::zeros((d, d)); k];
    let mut weights = ndarray::Array1::zeros(k);
    for r in 0..part.len() {
        let c = cluster[r] as usize;
        weights[c] = weight[r];
        for j in 0..d {
            match part[r].as_str() {
                "mean" => means[[c, j]] = values[j][r],
                _ => factors[c][[index[r] as usize, j]] = values[j][r],
            }
        }
    }
    let covariance = if clustering["covariance"] == "diag" {
        segflow_cluster::Covariance::Diag
    } else {
        segflow_cluster::Covariance::Full
    };
    Ok(segflow_cluster::Gmm {
        covariance,
        weights,
        means,
        precision_cholesky: factors,
        lower_bound: f64::NAN,
        n_iter: 0,
        converged: true,
    })
}

/// The version of this stage's own computations, composed with the versions of the algorithms
/// its params select: bump it with any change that alters its results, and say what changed in
/// CHANGELOG.md.
const VERSION: u32 = 1;

pub struct FitStage;

impl Stage for FitStage {
    fn kind(&self) -> &'static str {
        "fit"
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

    #[test]
    fn narrative_placeholders_are_found_in_order() {
        assert_eq!(
            placeholders("{n_calls} calls, {recency_days} days; {share_pct} %"),
            ["n_calls", "recency_days", "share_pct"]
        );
    }
}
