//! The tables people read: segment cards, feature profiles, context mixes, findings with narratives, the
//! executive summary, the projected impact of the campaigns, and DBSCAN's eps suggestion.

use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, Float64Array, RecordBatch, UInt32Array, UInt64Array};

use segflow_cluster::Structure;
use segflow_core::artifact::batch;
use segflow_core::{Error, Result};

use crate::arrays::{floats, strings, u32s, u64s};
use crate::mix;
use crate::params::{
    Algorithm, Campaign, FeatureWords, Format, Impact, parse_placeholder, placeholders,
};
use crate::profile::{self, FeatureProfile};
use crate::segments::SilhouetteMethod;
use crate::{Fitted, Table, fmt_num};

pub fn build(fit: &Fitted<'_>) -> Result<Vec<Table>> {
    let s = fit.segments;
    let mut tables = vec![
        Table::new("cards", cards_batch(fit)?).with_csv(),
        Table::new(
            "profile",
            profile_batch(&s.profiles, &s.names, fit.params.top_features)?,
        ),
        Table::new("mix", mix::mix_batch(&s.mixes, &s.names)?).with_csv(),
        Table::new("findings", findings_batch(fit)?).with_csv(),
        Table::new("summary", summary_batch(fit)?).with_csv(),
    ];
    if let Some(impact) = &fit.params.impact {
        tables.push(Table::new("impact", impact_batch(impact, fit)?).with_csv());
    }
    if fit.params.algorithm == Algorithm::Dbscan {
        tables.push(eps_suggestion(fit)?);
    }
    Ok(tables)
}

/// Per segment: size, share, and the statistics the params ask for (by default the median of
/// every model feature).
fn cards_batch(fit: &Fitted<'_>) -> Result<RecordBatch> {
    let s = fit.segments;
    let (k, sizes) = (s.k(), &s.sizes);
    let n: usize = sizes.iter().sum();
    let mut cols: Vec<(String, ArrayRef)> = vec![
        ("cluster".into(), u32s(0..k as u32)),
        ("segment".into(), strings(s.names.iter().cloned())),
        ("n_contacts".into(), u64s(sizes.iter().map(|&s| s as u64))),
        (
            "share".into(),
            floats(sizes.iter().map(|&s| s as f64 / n as f64)),
        ),
    ];
    cols.extend(card_statistics(fit));
    cols.extend(card_mixes(fit));
    batch(cols.iter().map(|(n, a)| (n.as_str(), a.clone())).collect())
}

/// The cards' statistic columns, in the order the params list them.
fn card_statistics(fit: &Fitted<'_>) -> Vec<(String, ArrayRef)> {
    let s = fit.segments;
    let k = s.k();
    let p = |name: &str| s.profile(name).expect("keys checked before fitting");
    let per_segment = |name: &str, get: &dyn Fn(&profile::Summary) -> f64| {
        floats((0..k).map(|i| get(&p(name).clusters[i])))
    };
    let model_features: Vec<String> = fit
        .training
        .numeric
        .iter()
        .filter(|f| f.model_input)
        .map(|f| f.name.clone())
        .collect();
    let c = &fit.params.cards;
    let mut cols = Vec::new();
    for name in c.medians.as_deref().unwrap_or(&model_features) {
        cols.push((format!("median_{name}"), per_segment(name, &|s| s.median)));
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
            cols.push((format!("{name}_{q}"), per_segment(name, &get)));
        }
    }
    for name in &c.means {
        cols.push((format!("mean_{name}"), per_segment(name, &|s| s.mean)));
    }
    for name in &c.stds {
        cols.push((format!("std_{name}"), per_segment(name, &|s| s.std)));
    }
    for name in &c.any {
        cols.push((
            format!("pct_any_{name}"),
            per_segment(name, &|s| s.share_positive * 100.0),
        ));
    }
    cols
}

/// The cards' mix columns: a yes/no column's rate (`<column>_rate`), a label column's most
/// frequent category and its share (`<column>_top`, `<column>_top_share`).
fn card_mixes(fit: &Fitted<'_>) -> Vec<(String, ArrayRef)> {
    let k = fit.segments.k();
    let mut cols = Vec::new();
    for m in &fit.segments.mixes {
        if m.rate_of.is_some() {
            cols.push((
                format!("{}_rate", m.column),
                floats((0..k).map(|s| m.share(s, 0))),
            ));
        } else {
            cols.push((
                format!("{}_top", m.column),
                strings((0..k).map(|s| m.categories[m.top(s)].clone())),
            ));
            cols.push((
                format!("{}_top_share", m.column),
                floats((0..k).map(|s| m.share(s, m.top(s)))),
            ));
        }
    }
    cols
}

/// Per segment and numeric feature: the segment's statistics beside everyone's, and the
/// feature's rank among the model features by |standardized difference|.
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

/// Per segment: size, narrative, distinguishing features, and how well its members sit in it.
fn findings_batch(fit: &Fitted<'_>) -> Result<RecordBatch> {
    let s = fit.segments;
    let (k, n) = (s.k(), fit.training.rows());
    let labels = &fit.clustered.labels;
    let mean_by = |values: &[f64], c: usize| {
        let (sum, count) = labels
            .iter()
            .zip(values)
            .filter(|(l, _)| **l == Some(c))
            .fold((0.0, 0usize), |(s, n), (_, v)| (s + v, n + 1));
        sum / count as f64
    };
    let top = fit.params.top_features;
    batch(vec![
        ("cluster", u32s(0..k as u32)),
        ("segment", strings(s.names.iter().cloned())),
        ("n_contacts", u64s(s.sizes.iter().map(|&s| s as u64))),
        (
            "share",
            Arc::new(Float64Array::from(
                s.sizes
                    .iter()
                    .map(|&s| s as f64 / n as f64)
                    .collect::<Vec<_>>(),
            )),
        ),
        ("narrative", strings((0..k).map(|c| narrative(fit, c)))),
        (
            "distinguishing",
            strings(s.distinct.iter().map(|d| {
                d.iter()
                    .take(top)
                    .map(|(f, v)| {
                        format!("{f} {}{:.2} sd", if *v < 0.0 { "−" } else { "+" }, v.abs())
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            })),
        ),
        (
            "mean_silhouette",
            floats((0..k).map(|c| mean_by(&s.scores.silhouette, c))),
        ),
        (
            "mean_distance",
            floats((0..k).map(|c| mean_by(&fit.clustered.distance, c))),
        ),
    ])
}

/// The segment's narrative from the template, or from its top distinguishing features.
fn narrative(fit: &Fitted<'_>, c: usize) -> String {
    let s = fit.segments;
    let size = s.sizes[c];
    match &fit.params.narrative {
        Some(template) => {
            let mut text = template.clone();
            for placeholder in placeholders(template) {
                let Ok(p) = parse_placeholder(placeholder) else {
                    continue; // validated with the params
                };
                let (value, number) = match p.feature {
                    "n_contacts" => (size.to_string(), size as f64),
                    "share_pct" => {
                        let pct = size as f64 / fit.training.rows() as f64 * 100.0;
                        (format!("{pct:.1}"), pct)
                    }
                    other => {
                        let m = s.stat(c, other, p.stat);
                        (fmt_num(m), m)
                    }
                };
                let value = match p.format {
                    Format::Number => value,
                    Format::Percent => format!("{:.1} %", number * 100.0),
                    // Exactly one takes the singular: "1 day", "0 days", "1.5 days".
                    Format::Noun(noun) if number == 1.0 => format!("{value} {}", noun.singular),
                    Format::Noun(noun) => format!("{value} {}", noun.plural),
                };
                text = text.replacen(&format!("{{{placeholder}}}"), &value, 1);
            }
            text
        }
        None => {
            let none = FeatureWords::default();
            let parts: Vec<String> = s.distinct[c]
                .iter()
                .take(fit.params.top_features)
                .map(|(f, _)| {
                    let label = fit.params.features.get(f).unwrap_or(&none).label(f);
                    format!("{label} {}", fmt_num(s.median(c, f)))
                })
                .collect();
            format!(
                "{}; typical (median) {}.",
                fit.params.nouns.entity.count(size as u64),
                parts.join(", ")
            )
        }
    }
}

/// One metric of the executive summary: name, text, and the number where there is one.
type Metric = (&'static str, String, Option<f64>);

/// The executive summary: one metric per row, as text and (where numeric) as a number.
fn summary_batch(fit: &Fitted<'_>) -> Result<RecordBatch> {
    let (s, n) = (fit.segments, fit.training.rows());
    let (d, k) = (fit.training.matrix.columns.len(), s.k());
    let mut rows: Vec<Metric> = vec![
        ("contacts", n.to_string(), Some(n as f64)),
        ("model_features", d.to_string(), Some(d as f64)),
        ("segments", k.to_string(), Some(k as f64)),
        ("k_source", fit.chosen.source.clone(), None),
        ("k_reason", fit.chosen.reason.clone(), None),
        ("algorithm", algorithm_text(fit), None),
    ];
    rows.extend(quality(fit));
    let share = |c: usize| s.sizes[c] as f64 / n as f64 * 100.0;
    let entity = &fit.params.nouns.entity;
    let segment = |c: usize| {
        format!(
            "{}: {} ({:.1} %)",
            s.names[c],
            entity.count(s.sizes[c] as u64),
            share(c)
        )
    };
    for reason in &s.unclaimed {
        rows.push(("unclaimed_role", reason.clone(), None));
    }
    rows.push(("largest_segment", segment(0), Some(share(0))));
    rows.push(("smallest_segment", segment(k - 1), Some(share(k - 1))));
    if let Some((n_iter, converged)) = fit.clustered.iterations {
        rows.push(("iterations", n_iter.to_string(), Some(n_iter as f64)));
        rows.push((
            "converged",
            converged.to_string(),
            Some(if converged { 1.0 } else { 0.0 }),
        ));
    }
    if fit.params.algorithm == Algorithm::Dbscan {
        rows.push((
            "noise",
            format!("{} in no cluster", entity.count(s.noise as u64)),
            Some(s.noise as f64),
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

/// How well the contacts sit in their segments: inertia, mean silhouette (noise left out) and
/// its Kaufman–Rousseeuw band with what that means for use, Davies–Bouldin,
/// Calinski–Harabasz, and the share with a negative silhouette.
fn quality(fit: &Fitted<'_>) -> Vec<Metric> {
    let scores = &fit.segments.scores;
    let scored: Vec<f64> = scores
        .silhouette
        .iter()
        .copied()
        .filter(|v| !v.is_nan())
        .collect();
    let silhouette = scored.iter().sum::<f64>() / scored.len() as f64;
    let method = scores.silhouette_method;
    // Exact: a share of every contact (noise counts as not negative); sampled: of the sample.
    let base = match method {
        SilhouetteMethod::Exact => fit.training.rows(),
        SilhouetteMethod::Sampled { sample, .. } => sample,
    };
    let negative = scored.iter().filter(|s| **s < 0.0).count() as f64 / base as f64 * 100.0;
    let entities = match method {
        SilhouetteMethod::Exact => fit.params.nouns.entity.plural.clone(),
        SilhouetteMethod::Sampled { .. } => {
            format!("the sampled {}", fit.params.nouns.entity.plural)
        }
    };
    let (inertia, db, ch) = (
        fit.clustered.inertia,
        scores.davies_bouldin,
        scores.calinski_harabasz,
    );
    vec![
        ("inertia", fmt_num(inertia), Some(inertia)),
        ("silhouette", format!("{silhouette:.4}"), Some(silhouette)),
        (
            "silhouette_method",
            match method {
                SilhouetteMethod::Exact => format!(
                    "exact, over every clustered {}",
                    fit.params.nouns.entity.singular
                ),
                SilhouetteMethod::Sampled {
                    sample,
                    members,
                    seed,
                } => format!(
                    "sampled: {sample} of {members} {} (seed {seed}), each scored within the sample; exact below {}",
                    fit.params.nouns.entity.plural, fit.params.silhouette_exact_below
                ),
            },
            None,
        ),
        ("structure", Structure::reading(silhouette), None),
        ("davies_bouldin", format!("{db:.4}"), Some(db)),
        ("calinski_harabasz", fmt_num(ch), Some(ch)),
        (
            "negative_silhouette_pct",
            format!("{negative:.1} % of {entities} sit closer to another segment on average",),
            Some(negative),
        ),
    ]
}

/// The clustering and its settings, in words.
fn algorithm_text(fit: &Fitted<'_>) -> String {
    let (params, seed) = (fit.params, fit.seed);
    match params.algorithm {
        Algorithm::Kmeans => format!(
            "k-means (k-means++, {} restarts, max_iter {}, tol {}, seed {seed})",
            params.n_init, params.max_iter, params.tol
        ),
        Algorithm::MinibatchKmeans => {
            let m = params.minibatch.clone().unwrap_or_default();
            format!(
                "mini-batch k-means (k-means++, {} inits, batch_size {}, max_iter {}, \
                 reassignment_ratio {}, seed {seed})",
                m.n_init, m.batch_size, m.max_iter, m.reassignment_ratio
            )
        }
        Algorithm::Ward => "Ward agglomeration".to_string(),
        Algorithm::Dbscan => {
            let spec = params.dbscan.clone().unwrap_or_default();
            format!(
                "DBSCAN (eps {}, min_samples {})",
                spec.eps, spec.min_samples
            )
        }
        Algorithm::Gmm => {
            let g = params.gmm.clone().unwrap_or_default();
            format!(
                "Gaussian mixture ({} covariance, {} init, reg_covar {}, seed {seed})",
                format!("{:?}", g.covariance).to_lowercase(),
                g.n_init,
                g.reg_covar,
            )
        }
    }
}

/// Expected closes and revenue per segment under its campaign and under the baseline
/// treatment: arithmetic on configured assumptions, labelled as such in every row.
fn impact_batch(impact: &Impact, fit: &Fitted<'_>) -> Result<RecordBatch> {
    let (sizes, names) = (&fit.segments.sizes, &fit.segments.names);
    let campaigns: Vec<Option<&Campaign>> = fit
        .segments
        .named
        .iter()
        .map(|s| s.action.campaign.as_ref())
        .collect();
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
    let assumption = |f: &dyn Fn(&Campaign) -> f64| -> ArrayRef {
        Arc::new(Float64Array::from(
            segment_rows
                .clone()
                .map(|c| c.map(|c| f(campaign(c))))
                .collect::<Vec<_>>(),
        ))
    };
    let basis = format!(
        "projection from configured close rates and deal sizes (baseline {:.1} % at {} {}), not a measurement",
        impact.baseline_close_rate * 100.0,
        fmt_num(impact.baseline_deal_size),
        impact.currency
    );
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
        ("expected_close_rate", assumption(&|c| c.close_rate)),
        ("deal_size", assumption(&|c| c.deal_size)),
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
        ("basis", strings(segment_rows.map(|_| basis.clone()))),
    ])
}

/// The k-distance curve of the matrix, whose knee suggests an eps for DBSCAN.
fn eps_suggestion(fit: &Fitted<'_>) -> Result<Table> {
    let m = &fit.training.matrix;
    let spec = fit.params.dbscan.clone().unwrap_or_default();
    let k = spec.min_samples.saturating_sub(1).max(1);
    let curve = segflow_cluster::k_distances(m.values.view(), k).map_err(|e| {
        Error::data(
            segflow_core::error::Location::file(&m.artifact.path),
            e.to_string(),
        )
    })?;
    // Kneedle wants a decreasing curve: read the sorted distances from the top.
    let points: Vec<(f64, f64)> = curve
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| (i as f64, d))
        .collect();
    let knee = segflow_cluster::kneedle(&points).map(|knee| points[knee.index].1);
    let table = batch(vec![
        (
            "rank",
            Arc::new(UInt64Array::from_iter_values(0..curve.len() as u64)) as ArrayRef,
        ),
        ("k_distance", floats(curve.iter().copied())),
        (
            "suggested_eps",
            Arc::new(Float64Array::from(vec![knee; curve.len()])),
        ),
    ])?;
    Ok(Table::new("eps_suggestion", table).with_meta(("segflow.k".to_string(), k.to_string())))
}
