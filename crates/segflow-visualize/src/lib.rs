//! The visualize stage: a PCA picture of the contacts and centroids, SVG charts of the audit,
//! the K decision, the segments and the robustness evidence, and one self-contained HTML
//! report (inline SVG and CSS, no network) that a reviewer can read in any browser.
//!
//! Every chart is named in the params; each one needs certain upstream artifacts, which are
//! told apart by their kind. A chart whose data is missing is a configuration error, not an
//! empty picture.

pub mod binning;
mod charts;
mod drawing;
mod mix_table;
mod privacy_note;
mod report;
mod study_time;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Float64Array, Int32Array, StringArray, UInt32Array};

use serde::{Deserialize, Serialize};

use segflow_cluster::PcaParams;
use segflow_cluster::pca::Components;
use segflow_core::artifact::{Artifact, META_ID_COLUMN, META_MODEL_COLUMNS, batch, read_parquet};
use segflow_core::decision::{Decision, read_decision};
use segflow_core::error::Location;
use segflow_core::matrix::read_matrix;
use segflow_core::nouns::Nouns;
use segflow_core::params::{ParamTree, Validate, parse_params, parse_valid};
use segflow_core::stage::{OutputDir, Planned, Stage, StageCtx, compose_version, inputs_by_kind};
use segflow_core::{Error, Result};

pub use drawing::Drawn;
use drawing::draw;

/// Every chart the stage can draw, in report order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Chart {
    MonthlyVolume,
    /// The distribution of the events' value; `duration_histogram` is its former name.
    #[serde(alias = "duration_histogram")]
    ValueHistogram,
    #[serde(alias = "duration_boxplot")]
    ValueBoxplot,
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
        Chart::ValueHistogram,
        Chart::ValueBoxplot,
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
            Chart::ValueHistogram => "chart_value_histogram",
            Chart::ValueBoxplot => "chart_value_boxplot",
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
            Chart::ValueHistogram | Chart::ValueBoxplot => &["events"],
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
    /// Bins of the value histogram.
    #[serde(default = "default_bins")]
    pub histogram_bins: usize,
    /// Limitations the report states besides the ones segflow derives from the run.
    #[serde(default)]
    pub limitations: Vec<String>,
    /// Axis label of the event value; default: the pipeline's `nouns.value`.
    #[serde(default)]
    pub value_label: Option<String>,
    /// The pipeline's nouns (its top-level `nouns` block), for every word about the rows.
    #[serde(default)]
    pub nouns: Nouns,
}

impl Params {
    /// The event value's axis label: `value_label`, or the declared value noun.
    fn value_axis(&self) -> String {
        self.value_label
            .clone()
            .unwrap_or_else(|| self.nouns.value.axis())
    }
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
    "mix",
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
const VERSION: u32 = 4;

pub struct VisualizeStage;

impl Stage for VisualizeStage {
    fn kind(&self) -> &'static str {
        "visualize"
    }

    fn speaks(&self) -> bool {
        true
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

    /// Without a `charts` key, the charts whose artifacts the stage reads (a table pipeline has
    /// no event log to draw); a declared chart without its artifact is a config error.
    fn complete_params(
        &self,
        params: &ParamTree,
        available: &BTreeSet<String>,
    ) -> Result<Option<ParamTree>> {
        let p: Params = parse_valid(params)?;
        let unread = |chart: Chart| {
            chart
                .needs()
                .iter()
                .find(|kind| !available.contains(**kind))
                .copied()
        };
        if params.contains_key("charts") {
            for (i, &chart) in p.charts.iter().enumerate() {
                if let Some(kind) = unread(chart) {
                    return Err(Error::config(
                        "",
                        format!("charts[{i}]"),
                        format!(
                            "{} is drawn from the {kind} artifact, which no stage in `needs` \
                             writes: add the stage that writes it to `needs`, or drop the chart",
                            chart.kind()
                        ),
                    ));
                }
            }
            return Ok(None);
        }
        let drawable: Vec<Chart> = p
            .charts
            .iter()
            .copied()
            .filter(|&c| unread(c).is_none())
            .collect();
        if drawable.len() == p.charts.len() {
            return Ok(None);
        }
        let mut completed = params.clone();
        completed.set("charts", &drawable)?;
        Ok(Some(completed))
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
