//! The visualize stage: a PCA picture of the contacts and centroids, SVG charts of the audit,
//! the K decision, the segments and the robustness evidence, and one self-contained HTML
//! report (inline SVG and CSS, no network) that a reviewer can read in any browser.
//!
//! Every chart is named in the params; each one needs certain upstream artifacts, which are
//! told apart by their kind. A chart whose data is missing is a configuration error, not an
//! empty picture.

mod charts;
mod report;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Float64Array, Int32Array, StringArray, UInt32Array};

use serde::Deserialize;

use segflow_cluster::PcaParams;
use segflow_cluster::pca::Components;
use segflow_core::artifact::{Artifact, META_ID_COLUMN, META_MODEL_COLUMNS, batch, read_parquet};
use segflow_core::decision::{Decision, read_decision};
use segflow_core::error::Location;
use segflow_core::matrix::read_matrix;
use segflow_core::params::{ParamTree, Validate, parse_params, parse_valid};
use segflow_core::stage::{OutputDir, Planned, Stage, StageCtx, compose_version, inputs_by_kind};
use segflow_core::{Error, Result};

/// Every chart the stage can draw, in report order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Chart {
    MonthlyVolume,
    DurationHistogram,
    DurationBoxplot,
    TimeBands,
    DayTypes,
    KInertia,
    KSilhouette,
    KDaviesBouldin,
    KCalinskiHarabasz,
    PcaScatter,
    Silhouette,
    SegmentSizes,
    ProfileHeatmap,
    SeedStability,
    Bootstrap,
}

impl Chart {
    pub const ALL: [Chart; 15] = [
        Chart::MonthlyVolume,
        Chart::DurationHistogram,
        Chart::DurationBoxplot,
        Chart::TimeBands,
        Chart::DayTypes,
        Chart::KInertia,
        Chart::KSilhouette,
        Chart::KDaviesBouldin,
        Chart::KCalinskiHarabasz,
        Chart::PcaScatter,
        Chart::Silhouette,
        Chart::SegmentSizes,
        Chart::ProfileHeatmap,
        Chart::SeedStability,
        Chart::Bootstrap,
    ];

    /// The artifact kind (and file stem) of the chart.
    pub fn kind(self) -> &'static str {
        match self {
            Chart::MonthlyVolume => "chart_monthly_volume",
            Chart::DurationHistogram => "chart_duration_histogram",
            Chart::DurationBoxplot => "chart_duration_boxplot",
            Chart::TimeBands => "chart_time_bands",
            Chart::DayTypes => "chart_day_types",
            Chart::KInertia => "chart_k_inertia",
            Chart::KSilhouette => "chart_k_silhouette",
            Chart::KDaviesBouldin => "chart_k_davies_bouldin",
            Chart::KCalinskiHarabasz => "chart_k_calinski_harabasz",
            Chart::PcaScatter => "chart_pca_scatter",
            Chart::Silhouette => "chart_silhouette",
            Chart::SegmentSizes => "chart_segment_sizes",
            Chart::ProfileHeatmap => "chart_profile_heatmap",
            Chart::SeedStability => "chart_seed_stability",
            Chart::Bootstrap => "chart_bootstrap",
        }
    }

    /// Artifact kinds the chart is drawn from.
    fn needs(self) -> &'static [&'static str] {
        match self {
            Chart::MonthlyVolume => &["audit_monthly"],
            Chart::DurationHistogram | Chart::DurationBoxplot => &["events"],
            Chart::TimeBands => &["audit_time_bands"],
            Chart::DayTypes => &["audit_day_types"],
            Chart::KInertia
            | Chart::KSilhouette
            | Chart::KDaviesBouldin
            | Chart::KCalinskiHarabasz => &["k_scores", "decision"],
            Chart::PcaScatter | Chart::Silhouette => &["matrix", "assignments", "centroids"],
            Chart::SegmentSizes => &["policy"],
            Chart::ProfileHeatmap => &["profile"],
            Chart::SeedStability => &["seed_stability"],
            Chart::Bootstrap => &["bootstrap"],
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// Title of the report; default: the pipeline's segments.
    #[serde(default = "default_title")]
    pub title: String,
    /// Charts to draw; default: all.
    #[serde(default = "all_charts")]
    pub charts: Vec<Chart>,
    /// Bins of the value (duration) histogram.
    #[serde(default = "default_bins")]
    pub histogram_bins: usize,
    /// Limitations the report states besides the ones segflow derives from the run.
    #[serde(default)]
    pub limitations: Vec<String>,
    /// Axis label of the event value (e.g. "call duration (s)").
    #[serde(default = "default_value_label")]
    pub value_label: String,
}

fn default_title() -> String {
    "Segments".into()
}
fn all_charts() -> Vec<Chart> {
    Chart::ALL.to_vec()
}
fn default_bins() -> usize {
    60
}
fn default_value_label() -> String {
    "value".into()
}

impl Validate for Params {
    fn validate(&self) -> Result<()> {
        if self.histogram_bins == 0 {
            return Err(Error::config("", "histogram_bins", "must be ≥ 1"));
        }
        for (i, c) in self.charts.iter().enumerate() {
            if self.charts[..i].contains(c) {
                return Err(Error::config(
                    "",
                    format!("charts[{i}]"),
                    format!("{} is listed twice", c.kind()),
                ));
            }
        }
        Ok(())
    }
}

/// The kinds visualize can read; the report needs the fit's tables, the rest is optional.
const CONSUMES: &[&str] = &[
    "events",
    "audit_summary",
    "audit_monthly",
    "audit_time_bands",
    "audit_day_types",
    "features",
    "matrix",
    "k_scores",
    "decision",
    "assignments",
    "centroids",
    "cards",
    "profile",
    "policy",
    "findings",
    "summary",
    "seed_stability",
    "block_sensitivity",
    "bootstrap",
    "verdict",
    "impact",
];
const REQUIRED: &[&str] = &[
    "matrix",
    "assignments",
    "centroids",
    "policy",
    "findings",
    "summary",
    "cards",
];

/// The upstream artifacts, read once, by kind.
pub struct Sources {
    by_kind: BTreeMap<String, Artifact>,
    /// select_k's decision, checked when read: it holds exactly one K.
    decision: Option<Decision>,
}

impl Sources {
    fn get(&self, kind: &str) -> Option<&Artifact> {
        self.by_kind.get(kind)
    }

    fn need(&self, kind: &str) -> Result<&Artifact> {
        self.get(kind)
            .ok_or_else(|| Error::Internal(format!("{kind} checked before drawing")))
    }
}

fn strings(a: &Artifact, name: &str) -> Result<Vec<String>> {
    let col = a.column(name)?;
    let s = col
        .as_string_opt::<i32>()
        .ok_or_else(|| Error::data(Location::file(&a.path).column(name), "expected strings"))?;
    Ok((0..s.len())
        .map(|i| {
            if s.is_valid(i) {
                s.value(i).to_string()
            } else {
                String::new()
            }
        })
        .collect())
}

/// Cluster ids of an artifact; DBSCAN's noise (−1) becomes `NOISE_ID`, which draws grey.
fn clusters(a: &Artifact) -> Result<Vec<usize>> {
    Ok(a.float_column("cluster")?
        .into_iter()
        .map(|c| {
            if c < 0.0 {
                charts::NOISE_ID
            } else {
                c as usize
            }
        })
        .collect())
}

/// The PCA picture: contacts and centroids projected on the first two components of the
/// model matrix.
struct PcaPicture {
    contacts: Vec<(f64, f64, usize)>,
    centroids: Vec<(f64, f64, String)>,
    ratios: [f64; 2],
    top_loadings: [String; 2],
}

fn pca_picture(
    src: &Sources,
    inputs: &BTreeMap<String, PathBuf>,
) -> Result<(
    PcaPicture,
    arrow::array::RecordBatch,
    arrow::array::RecordBatch,
)> {
    let m = read_matrix(&inputs["matrix"])?;
    let assignments = src.need("assignments")?;
    let labels = clusters(assignments)?;
    let segments = strings(assignments, "segment")?;
    let centroids = src.need("centroids")?;
    let space = strings(centroids, "space")?;
    let names = strings(centroids, "segment")?;
    let columns: Vec<String> = centroids
        .meta(META_MODEL_COLUMNS)
        .and_then(|j| serde_json::from_str(j).ok())
        .unwrap_or_default();
    if columns != m.columns || labels.len() != m.ids.len() {
        return Err(Error::data(
            Location::file(&centroids.path),
            "the centroids, assignments and matrix come from different runs",
        ));
    }
    let rows: Vec<usize> = (0..space.len()).filter(|&r| space[r] == "scaled").collect();
    let mut c = ndarray::Array2::zeros((rows.len(), columns.len()));
    for (j, name) in columns.iter().enumerate() {
        let v = centroids.float_column(name)?;
        for (i, &r) in rows.iter().enumerate() {
            c[[i, j]] = v[r];
        }
    }
    let pca = PcaParams::new(Components::Count(2))
        .fit_array(m.values.view())
        .map_err(|e| Error::data(Location::file(&m.artifact.path), e.to_string()))?;
    let p = pca.transform_array(m.values.view());
    let pc = pca.transform_array(c.view());
    let top = |comp: usize| -> String {
        let row = pca.components.row(comp);
        let mut idx: Vec<usize> = (0..row.len()).collect();
        idx.sort_by(|&a, &b| row[b].abs().total_cmp(&row[a].abs()));
        idx.iter()
            .take(3)
            .map(|&j| format!("{} {:+.2}", columns[j], row[j]))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let picture = PcaPicture {
        contacts: (0..p.nrows())
            .map(|i| (p[[i, 0]], p[[i, 1]], labels[i]))
            .collect(),
        centroids: (0..pc.nrows())
            .map(|i| (pc[[i, 0]], pc[[i, 1]], names[rows[i]].clone()))
            .collect(),
        ratios: [
            pca.explained_variance_ratio[0],
            pca.explained_variance_ratio[1],
        ],
        top_loadings: [top(0), top(1)],
    };
    let id_column = m.id_column.clone();
    let n = p.nrows();
    let k = pc.nrows();
    let points = batch(vec![
        (
            "kind",
            Arc::new(StringArray::from_iter_values(
                std::iter::repeat_n("contact", n).chain(std::iter::repeat_n("centroid", k)),
            )) as ArrayRef,
        ),
        (
            id_column.as_str(),
            Arc::new(StringArray::from(
                m.ids
                    .iter()
                    .map(|s| Some(s.clone()))
                    .chain((0..k).map(|_| None))
                    .collect::<Vec<_>>(),
            )),
        ),
        (
            "cluster",
            Arc::new(Int32Array::from_iter_values(
                labels
                    .iter()
                    .map(|&l| if l == charts::NOISE_ID { -1 } else { l as i32 })
                    .chain(0..k as i32),
            )),
        ),
        (
            "segment",
            Arc::new(StringArray::from_iter_values(
                segments
                    .iter()
                    .cloned()
                    .chain(rows.iter().map(|&r| names[r].clone())),
            )),
        ),
        (
            "pc1",
            Arc::new(Float64Array::from_iter_values(
                p.column(0).iter().chain(pc.column(0).iter()).copied(),
            )),
        ),
        (
            "pc2",
            Arc::new(Float64Array::from_iter_values(
                p.column(1).iter().chain(pc.column(1).iter()).copied(),
            )),
        ),
    ])?;
    let cumulative = [picture.ratios[0], picture.ratios[0] + picture.ratios[1]];
    let variance = batch(vec![
        (
            "component",
            Arc::new(UInt32Array::from_iter_values([1, 2])) as ArrayRef,
        ),
        (
            "explained_variance_ratio",
            Arc::new(Float64Array::from_iter_values(picture.ratios)),
        ),
        (
            "cumulative_ratio",
            Arc::new(Float64Array::from_iter_values(cumulative)),
        ),
        (
            "top_loadings",
            Arc::new(StringArray::from_iter_values(
                picture.top_loadings.iter().cloned(),
            )),
        ),
    ])?;
    Ok((picture, points, variance))
}

/// A drawn chart: what the report shows under it.
pub struct Drawn {
    pub chart: Chart,
    pub svg: String,
    pub caption: String,
}

fn draw(chart: Chart, src: &Sources, params: &Params, pca: &PcaPicture) -> Result<Drawn> {
    let (svg, caption) = match chart {
        Chart::MonthlyVolume => {
            let a = src.need("audit_monthly")?;
            let months = strings(a, "month")?;
            let events = a.float_column("events")?;
            (
                charts::bars("Events per month", "events", &months, &events, None)?,
                format!(
                    "{} months, {} events in total.",
                    months.len(),
                    events.iter().sum::<f64>()
                ),
            )
        }
        Chart::DurationHistogram | Chart::DurationBoxplot => {
            let values = src.need("events")?.float_column("value")?;
            if chart == Chart::DurationHistogram {
                (
                    charts::histogram(
                        &format!("Distribution of {}", params.value_label),
                        &params.value_label,
                        &values,
                        params.histogram_bins,
                    )?,
                    format!(
                        "{} events in {} equal-width bins.",
                        values.len(),
                        params.histogram_bins
                    ),
                )
            } else {
                (
                    charts::boxplot(
                        &format!("Box plot of {}", params.value_label),
                        &params.value_label,
                        &values,
                    )?,
                    "Box: quartiles and median; whiskers: 1.5 × IQR; dots: values beyond.".into(),
                )
            }
        }
        Chart::TimeBands | Chart::DayTypes => {
            let (kind, column, title) = if chart == Chart::TimeBands {
                ("audit_time_bands", "band", "Events by time band")
            } else {
                (
                    "audit_day_types",
                    "day_type",
                    "Events on open and closed days",
                )
            };
            let a = src.need(kind)?;
            let labels = strings(a, column)?;
            let events = a.float_column("events")?;
            let total: f64 = events.iter().sum();
            let shares: Vec<String> = labels
                .iter()
                .zip(&events)
                .map(|(l, e)| format!("{l} {:.1} %", e / total * 100.0))
                .collect();
            (
                charts::bars(title, "events", &labels, &events, None)?,
                format!("{}.", shares.join(", ")),
            )
        }
        Chart::KInertia | Chart::KSilhouette | Chart::KDaviesBouldin | Chart::KCalinskiHarabasz => {
            let scores = src.need("k_scores")?;
            let ks: Vec<f64> = scores.float_column("k")?;
            let (column, title, better) = match chart {
                Chart::KInertia => (
                    "inertia",
                    "Inertia versus K",
                    "lower is tighter; look for the elbow",
                ),
                Chart::KSilhouette => ("silhouette", "Silhouette versus K", "higher is better"),
                Chart::KDaviesBouldin => (
                    "davies_bouldin",
                    "Davies–Bouldin versus K",
                    "lower is better",
                ),
                _ => (
                    "calinski_harabasz",
                    "Calinski–Harabasz versus K",
                    "higher is better",
                ),
            };
            let ys = scores.float_column(column)?;
            let chosen = src
                .decision
                .as_ref()
                .ok_or_else(|| Error::Internal("decision checked before drawing".into()))?
                .k as f64;
            let points: Vec<(f64, f64)> = ks.iter().copied().zip(ys).collect();
            (
                charts::line(
                    title,
                    "K",
                    column,
                    &points,
                    Some((chosen, format!("chosen K = {chosen}"))),
                )?,
                format!("{column} for each K ({better}); the vertical line marks the chosen K."),
            )
        }
        Chart::PcaScatter => {
            let p = pca;
            (
                charts::scatter(
                    "Contacts on the first two principal components",
                    (
                        &format!("PC1 ({:.1} % of variance)", p.ratios[0] * 100.0),
                        &format!("PC2 ({:.1} % of variance)", p.ratios[1] * 100.0),
                    ),
                    &p.contacts,
                    &p.centroids,
                )?,
                format!(
                    "Crosses are segment centroids. PC1 ≈ {}; PC2 ≈ {}. Interpretation only: the segments were fitted in all model dimensions.",
                    p.top_loadings[0], p.top_loadings[1]
                ),
            )
        }
        Chart::Silhouette => {
            let a = src.need("assignments")?;
            let labels = clusters(a)?;
            let s = a.float_column("silhouette")?;
            let names = strings(src.need("policy")?, "segment")?;
            // Noise has no silhouette: only clustered contacts are drawn.
            let scored: Vec<(usize, f64)> = labels
                .iter()
                .copied()
                .zip(s.iter().copied())
                .filter(|(l, v)| *l != charts::NOISE_ID && !v.is_nan())
                .collect();
            let mean = scored.iter().map(|v| v.1).sum::<f64>() / scored.len() as f64;
            let negative = scored.iter().filter(|v| v.1 < 0.0).count();
            (
                charts::silhouette(
                    "Silhouette of every contact, by segment",
                    &scored,
                    &names,
                    mean,
                )?,
                format!(
                    "Mean silhouette {mean:.3}; {negative} contacts below 0 sit closer to another segment."
                ),
            )
        }
        Chart::SegmentSizes => {
            let p = src.need("policy")?;
            let names = strings(p, "segment")?;
            let sizes = p.float_column("n_contacts")?;
            let colors: Vec<_> = (0..names.len()).map(charts::segment_color).collect();
            (
                charts::bars(
                    "Contacts per segment",
                    "contacts",
                    &names,
                    &sizes,
                    Some(&colors),
                )?,
                "Segments in canonical order, largest first.".into(),
            )
        }
        Chart::ProfileHeatmap => {
            let p = src.need("profile")?;
            let model: Vec<bool> = p
                .column("model_input")?
                .as_boolean_opt()
                .map(|b| (0..b.len()).map(|i| b.value(i)).collect())
                .unwrap_or_default();
            let (cl, features, diffs) = (
                clusters(p)?,
                strings(p, "feature")?,
                p.float_column("std_diff")?,
            );
            let names = strings(src.need("policy")?, "segment")?;
            let mut rows: Vec<String> = Vec::new();
            for (i, f) in features.iter().enumerate() {
                if model.get(i) == Some(&true) && !rows.contains(f) {
                    rows.push(f.clone());
                }
            }
            let value = |r: usize, c: usize| {
                (0..features.len())
                    .find(|&i| cl[i] == c && features[i] == rows[r])
                    .map_or(f64::NAN, |i| diffs[i])
            };
            (
                charts::heatmap(
                    "Standardized difference of each segment from all contacts",
                    &rows,
                    &names,
                    &value,
                    2.0,
                )?,
                "(segment mean − overall mean) / overall standard deviation, per model feature; red above, blue below, saturated at ±2.".into(),
            )
        }
        Chart::SeedStability => {
            let a = src.need("seed_stability")?;
            let seeds = a.float_column("seed")?;
            let aris = a.float_column("ari")?;
            let points: Vec<(f64, f64)> = seeds.into_iter().zip(aris.iter().copied()).collect();
            let min = aris.iter().copied().fold(f64::INFINITY, f64::min);
            (
                charts::line(
                    "Seed stability: ARI against the fit",
                    "seed",
                    "ARI",
                    &points,
                    None,
                )?,
                format!(
                    "{} refits with other seeds; lowest ARI {min:.3}.",
                    points.len()
                ),
            )
        }
        Chart::Bootstrap => {
            let a = src.need("bootstrap")?;
            let names = strings(a, "segment")?;
            let (mean, lo, hi) = (
                a.float_column("mean_jaccard")?,
                a.float_column("min_jaccard")?,
                a.float_column("max_jaccard")?,
            );
            let stats: Vec<(f64, f64, f64)> =
                (0..names.len()).map(|i| (mean[i], lo[i], hi[i])).collect();
            (
                charts::bars_with_range(
                    "Bootstrap stability per segment",
                    "Jaccard",
                    &names,
                    &stats,
                    &[
                        (0.75, "stable from", charts::GOOD),
                        (0.6, "doubtful below", charts::WARN),
                        (0.5, "dissolved at or below", charts::BAD),
                    ],
                )?,
                "Bars: mean best Jaccard over the resamples; whiskers: lowest to highest.".into(),
            )
        }
    };
    Ok(Drawn {
        chart,
        svg,
        caption,
    })
}

pub fn run(
    inputs: &BTreeMap<String, PathBuf>,
    params: &Params,
    out: &mut OutputDir,
    ctx: &StageCtx<'_>,
) -> Result<u64> {
    params.validate()?;
    for kind in REQUIRED {
        if !inputs.contains_key(*kind) {
            return Err(Error::Usage(format!(
                "visualize needs the {kind} artifact of fit"
            )));
        }
    }
    for (i, chart) in params.charts.iter().enumerate() {
        if let Some(missing) = chart.needs().iter().find(|k| !inputs.contains_key(**k)) {
            return Err(Error::config(
                "",
                format!("charts[{i}]"),
                format!(
                    "{} needs a {missing} artifact, which no input provides",
                    chart.kind()
                ),
            ));
        }
    }
    (ctx.progress)("reading the upstream artifacts");
    let mut by_kind = BTreeMap::new();
    for (kind, path) in inputs {
        by_kind.insert(kind.clone(), read_parquet(path)?);
    }
    let decision = by_kind.get("decision").map(read_decision).transpose()?;
    let src = Sources { by_kind, decision };
    (ctx.progress)("PCA of the model matrix");
    let (pca, points, variance) = pca_picture(&src, inputs)?;
    let id = src
        .need("assignments")?
        .meta(META_ID_COLUMN)
        .unwrap_or("contact_id")
        .to_string();
    out.write("pca", &points, &[(META_ID_COLUMN.to_string(), id)])?;
    out.write("pca_variance", &variance, &[])?;
    let mut drawn = Vec::new();
    for &chart in &params.charts {
        (ctx.progress)(&format!("drawing {}", chart.kind()));
        let d = draw(chart, &src, params, &pca)?;
        out.write_document(chart.kind(), d.svg.as_bytes())?;
        drawn.push(d);
    }
    (ctx.progress)("writing the report");
    let html = report::render(&src, params, &drawn, pca.ratios)?;
    out.write_document("report", html.as_bytes())?;
    Ok(drawn.len() as u64)
}

/// The version of this stage's results: bump it with any change that alters them, and say what
/// changed in CHANGELOG.md.
const VERSION: u32 = 1;

pub struct VisualizeStage;

impl Stage for VisualizeStage {
    fn kind(&self) -> &'static str {
        "visualize"
    }

    fn about(&self) -> &'static str {
        "run artifacts → PCA, SVG charts and a self-contained HTML report"
    }

    fn consumes(&self) -> &'static [&'static str] {
        CONSUMES
    }

    fn plan(&self, params: &ParamTree) -> Result<Vec<Planned>> {
        let p: Params = parse_valid(params)?;
        let mut planned = vec![Planned::new("pca"), Planned::new("pca_variance")];
        planned.extend(
            p.charts
                .iter()
                .map(|c| Planned::document(c.kind(), format!("{}.svg", c.kind()))),
        );
        planned.push(Planned::document("report", "report.html"));
        Ok(planned)
    }

    fn algorithm_version(&self, _params: &ParamTree) -> Result<String> {
        Ok(compose_version(VERSION, &[]))
    }

    fn run(
        &self,
        inputs: &[PathBuf],
        params: &ParamTree,
        out: &mut OutputDir,
        ctx: &StageCtx<'_>,
    ) -> Result<u64> {
        let params: Params = parse_params(params)?;
        let found = inputs_by_kind(self.kind(), inputs, CONSUMES)?;
        run(&found, &params, out, ctx)
    }
}
