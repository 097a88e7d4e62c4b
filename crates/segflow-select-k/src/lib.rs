//! The select-k stage: k-means (or mini-batch k-means) for every K in a range on the model
//! matrix, validity indices
//! per K, knee detection on the inertia curve, and a decision rule chosen in the YAML that
//! writes its reason next to the chosen K.

pub mod gap;
mod rules;

use std::path::PathBuf;
use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, Float64Array, StringArray, UInt32Array, UInt64Array};
use serde::Deserialize;

use segflow_cluster::metrics::{
    calinski_harabasz, davies_bouldin, silhouette_score, silhouette_score_sampled,
};
use segflow_cluster::{KMeans, KMeansParams, MiniBatchSpec};
use segflow_core::artifact::batch;
use segflow_core::error::Location;
use segflow_core::matrix::read_matrix;
use segflow_core::params::{ParamTree, Validate, parse_params, parse_valid};
use segflow_core::stage::{
    OutputDir, Planned, Stage, StageCtx, Tally, compose_version, single_input,
};
use segflow_core::{Error, Result};

pub use gap::GapScore;
pub use rules::{Decision, decide};

/// How K is chosen. In YAML: `max_silhouette`, `consensus`, `gap`, `min_bic`, `{fixed: 4}`,
/// `{elbow: knee}` or `{elbow: largest_drop}`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Rule {
    Fixed(usize),
    /// Highest silhouette; ties go to the smallest K.
    MaxSilhouette,
    Elbow(Elbow),
    /// Majority vote of silhouette, Davies–Bouldin, Calinski–Harabasz and the knee (when
    /// clear); without a majority the K with the most votes, and among K tied on votes the
    /// declared `tiebreak`.
    Consensus,
    /// Lowest BIC of a Gaussian mixture per K (needs `bic`); ties go to the smallest K.
    MinBic,
    /// The gap statistic's 1-SE choice: the smallest K with Gap(k) ≥ Gap(k+1) − s(k+1).
    Gap,
}

/// Which K `consensus` takes among K tied on votes when no K has a majority.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tiebreak {
    /// The tied K with the highest silhouette (then the smallest).
    #[default]
    MaxSilhouette,
    SmallestK,
    LargestK,
    /// The tied K nearest the clear knee (then the smallest); max_silhouette without one.
    Knee,
}

impl Tiebreak {
    pub fn name(self) -> &'static str {
        match self {
            Tiebreak::MaxSilhouette => "max_silhouette",
            Tiebreak::SmallestK => "smallest_k",
            Tiebreak::LargestK => "largest_k",
            Tiebreak::Knee => "knee",
        }
    }
}

impl Rule {
    /// The rule's name and version, part of the stage's algorithm version: bump a rule's
    /// number with any change to the K it chooses or the reason it gives.
    pub fn version(&self) -> (&'static str, u32) {
        match self {
            Rule::Fixed(_) => ("fixed", 1),
            Rule::MaxSilhouette => ("max_silhouette", 1),
            Rule::Elbow(Elbow::Knee) => ("knee", 2),
            Rule::Elbow(Elbow::LargestDrop) => ("largest_drop", 1),
            Rule::Consensus => ("consensus", 2),
            Rule::MinBic => ("min_bic", 1),
            Rule::Gap => ("gap", 1),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Elbow {
    /// The Kneedle knee of the inertia curve (no clear knee → the stage fails).
    Knee,
    /// The K whose inertia dropped the most, relative to K − 1.
    LargestDrop,
}

/// The clustering fitted at each K.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Algorithm {
    /// k-means++ and Lloyd, best of `n_init` restarts.
    #[default]
    Kmeans,
    /// scikit-learn's mini-batch k-means (`minibatch: {batch_size, …}`), for 10⁶ rows and
    /// more.
    MinibatchKmeans,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// Inclusive range of K.
    pub k: [usize; 2],
    #[serde(default)]
    pub algorithm: Algorithm,
    /// Mini-batch k-means' settings (with `algorithm: minibatch_kmeans`; its own `n_init`
    /// and `max_iter`).
    pub minibatch: Option<MiniBatchSpec>,
    #[serde(default = "default_n_init")]
    pub n_init: usize,
    #[serde(default = "default_max_iter")]
    pub max_iter: usize,
    #[serde(default = "default_tol")]
    pub tol: f64,
    /// Exact silhouette below this many rows, sampled (with the seed) at or above it.
    #[serde(default = "default_exact_below")]
    pub silhouette_exact_below: usize,
    #[serde(default = "default_sample_size")]
    pub silhouette_sample_size: usize,
    /// How many K the silhouette and Davies–Bouldin shortlists keep.
    #[serde(default = "default_shortlist")]
    pub shortlist: usize,
    pub rule: Rule,
    /// For `consensus`: which K wins among K tied on votes (default `max_silhouette`).
    pub tiebreak: Option<Tiebreak>,
    /// Smallest allowed share of rows in any cluster; K that fail it are not chosen.
    #[serde(default)]
    pub min_segment_share: f64,
    /// Also fit a Gaussian mixture per K and report its BIC.
    pub bic: Option<BicSpec>,
    /// Also compute the gap statistic per K (always computed for the `gap` rule).
    pub gap: Option<GapSpec>,
}

/// The gap statistic's reference sets.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GapSpec {
    /// How many reference sets (B).
    #[serde(default = "default_gap_b")]
    pub b: usize,
    /// k-means restarts per reference set and K (default: select_k's `n_init`; mini-batch
    /// k-means uses its own `minibatch.n_init`).
    pub n_init: Option<usize>,
}

fn default_gap_b() -> usize {
    10
}

impl Params {
    /// The gap statistic's settings when it is computed.
    fn gap_spec(&self) -> Option<GapSpec> {
        match (&self.gap, &self.rule) {
            (Some(g), _) => Some(g.clone()),
            (None, Rule::Gap) => Some(GapSpec {
                b: default_gap_b(),
                n_init: None,
            }),
            (None, _) => None,
        }
    }

    fn gap_b(&self) -> usize {
        self.gap_spec().map_or(default_gap_b(), |g| g.b)
    }
}

/// The mixture whose BIC is reported per K.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BicSpec {
    /// `full` or `diag`.
    #[serde(default = "default_covariance")]
    pub covariance: String,
    #[serde(default = "default_bic_n_init")]
    pub n_init: usize,
}

fn default_covariance() -> String {
    "full".into()
}
fn default_bic_n_init() -> usize {
    1
}

impl BicSpec {
    fn covariance(&self) -> segflow_cluster::Covariance {
        if self.covariance == "diag" {
            segflow_cluster::Covariance::Diag
        } else {
            segflow_cluster::Covariance::Full
        }
    }
}

fn default_n_init() -> usize {
    10
}
fn default_max_iter() -> usize {
    300
}
fn default_tol() -> f64 {
    1e-4
}
fn default_exact_below() -> usize {
    20_000
}
fn default_sample_size() -> usize {
    10_000
}
fn default_shortlist() -> usize {
    5
}

impl Validate for Params {
    fn validate(&self) -> Result<()> {
        let [lo, hi] = self.k;
        if lo < 2 || hi < lo {
            return Err(Error::config("", "k", "needs 2 ≤ low ≤ high"));
        }
        if let Rule::Fixed(k) = self.rule
            && !(lo..=hi).contains(&k)
        {
            return Err(Error::config(
                "",
                "rule.fixed",
                format!("K = {k} is outside k: [{lo}, {hi}]"),
            ));
        }
        if matches!(self.rule, Rule::Elbow(_)) && hi - lo < 2 {
            return Err(Error::config("", "rule", "an elbow needs at least three K"));
        }
        if let Some(b) = &self.bic
            && (!matches!(b.covariance.as_str(), "full" | "diag") || b.n_init == 0)
        {
            return Err(Error::config(
                "",
                "bic",
                "covariance is full or diag, and n_init ≥ 1",
            ));
        }
        if self.rule == Rule::MinBic && self.bic.is_none() {
            return Err(Error::config(
                "",
                "rule",
                "min_bic needs `bic: {covariance: full}` (or diag)",
            ));
        }
        if self.tiebreak.is_some() && self.rule != Rule::Consensus {
            return Err(Error::config(
                "",
                "tiebreak",
                "applies to rule consensus only",
            ));
        }
        if let Some(g) = &self.gap
            && (g.b < 2 || g.n_init == Some(0))
        {
            return Err(Error::config(
                "",
                "gap",
                "b ≥ 2 reference sets (their spread is the statistic's error), and n_init ≥ 1",
            ));
        }
        if self.rule == Rule::Gap && hi == lo {
            return Err(Error::config(
                "",
                "rule",
                "gap compares each K with the next: k needs at least two K",
            ));
        }
        if !(0.0..1.0).contains(&self.min_segment_share) {
            return Err(Error::config("", "min_segment_share", "must lie in [0, 1)"));
        }
        if !(self.tol >= 0.0 && self.tol.is_finite()) {
            return Err(Error::config("", "tol", "must be a finite number ≥ 0"));
        }
        if self.shortlist == 0 {
            return Err(Error::config("", "shortlist", "must be ≥ 1"));
        }
        let chosen = self.algorithm == Algorithm::MinibatchKmeans;
        if let Some(problem) = MiniBatchSpec::check(self.minibatch.as_ref(), chosen) {
            return Err(Error::config("", "minibatch", problem));
        }
        if self.n_init == 0 || self.max_iter == 0 || self.silhouette_sample_size < 2 {
            return Err(Error::config(
                "",
                "n_init",
                "n_init, max_iter ≥ 1 and silhouette_sample_size ≥ 2",
            ));
        }
        Ok(())
    }
}

impl Params {
    /// The clustering at `k`.
    fn fit(
        &self,
        k: usize,
        x: ndarray::ArrayView2<'_, f64>,
        seed: u64,
    ) -> segflow_cluster::Result<KMeans> {
        match self.algorithm {
            Algorithm::Kmeans => KMeansParams::new(k)
                .n_init(self.n_init)
                .max_iter(self.max_iter)
                .tol(self.tol)
                .seed(seed)
                .fit_array(x),
            Algorithm::MinibatchKmeans => self
                .minibatch
                .clone()
                .unwrap_or_default()
                .params(k, seed)
                .fit_array(x),
        }
    }
}

/// Scores of one K.
#[derive(Debug, Clone, PartialEq)]
pub struct KScore {
    pub k: usize,
    pub inertia: f64,
    pub silhouette: f64,
    pub silhouette_sampled: bool,
    pub davies_bouldin: f64,
    pub calinski_harabasz: f64,
    /// Cluster sizes, largest first.
    pub sizes: Vec<usize>,
    pub n_iter: usize,
    pub converged: bool,
    /// BIC of the Gaussian mixture at this K, when configured.
    pub bic: Option<f64>,
    /// The gap statistic at this K, when computed.
    pub gap: Option<GapScore>,
}

impl KScore {
    fn smallest_share(&self) -> f64 {
        *self.sizes.last().expect("k ≥ 2") as f64 / self.sizes.iter().sum::<usize>() as f64
    }
}

pub fn run(
    input: &std::path::Path,
    params: &Params,
    out: &mut OutputDir,
    ctx: &StageCtx<'_>,
) -> Result<(Vec<KScore>, Decision)> {
    params.validate()?;
    let m = read_matrix(input)?;
    let n = m.values.nrows();
    let [lo, hi] = params.k;
    if hi >= n {
        return Err(Error::data(
            Location::file(input),
            format!("K up to {hi} needs more than {hi} rows; the matrix has {n}"),
        ));
    }
    let cluster_err =
        |e: segflow_cluster::ClusterError| Error::data(Location::file(input), e.to_string());
    let mut scores = Vec::new();
    (ctx.tally)("K", Tally::Total((hi - lo + 1) as u64));
    for k in lo..=hi {
        (ctx.progress)(&format!("K = {k} of {lo}..{hi}"));
        let model = params
            .fit(k, m.values.view(), ctx.seed)
            .map_err(cluster_err)?;
        let labels = model.labels.as_slice().expect("contiguous");
        let sampled = n >= params.silhouette_exact_below;
        let silhouette = if sampled {
            silhouette_score_sampled(
                m.values.view(),
                labels,
                params.silhouette_sample_size.min(n),
                ctx.seed,
            )
        } else {
            silhouette_score(m.values.view(), labels)
        }
        .map_err(cluster_err)?;
        let mut sizes = vec![0usize; k];
        labels.iter().for_each(|&l| sizes[l] += 1);
        sizes.sort_unstable_by(|a, b| b.cmp(a));
        scores.push(KScore {
            k,
            inertia: model.inertia,
            silhouette,
            silhouette_sampled: sampled,
            davies_bouldin: davies_bouldin(m.values.view(), labels).map_err(cluster_err)?,
            calinski_harabasz: calinski_harabasz(m.values.view(), labels).map_err(cluster_err)?,
            sizes,
            n_iter: model.n_iter,
            converged: model.converged,
            bic: match &params.bic {
                Some(b) => {
                    let mut g = segflow_cluster::GmmParams::new(k, b.covariance());
                    g.n_init = b.n_init;
                    g.seed = ctx.seed;
                    Some(
                        g.fit_array(m.values.view())
                            .map_err(cluster_err)?
                            .bic(m.values.view()),
                    )
                }
                None => None,
            },
            gap: None,
        });
        (ctx.tally)("K", Tally::Done);
    }
    if let Some(spec) = params.gap_spec() {
        add_gap(&mut scores, m.values.view(), &spec, params, ctx).map_err(cluster_err)?;
    }
    let decision = decide(&scores, params).map_err(|e| e.located(input))?;
    out.write(
        "k_scores",
        &scores_batch(&scores, params, decision.knee)?,
        &[],
    )?;
    out.write(
        "decision",
        &batch(vec![
            (
                "k",
                Arc::new(UInt32Array::from(vec![decision.k as u32])) as ArrayRef,
            ),
            (
                "rule",
                Arc::new(StringArray::from(vec![decision.rule.clone()])),
            ),
            (
                "reason",
                Arc::new(StringArray::from(vec![decision.reason.clone()])),
            ),
            (
                "knee",
                Arc::new(UInt32Array::from(vec![decision.knee.map(|k| k as u32)])),
            ),
        ])?,
        &[],
    )?;
    Ok((scores, decision))
}

/// Gap and s per K, from `spec.b` reference sets clustered like the data.
fn add_gap(
    scores: &mut [KScore],
    x: ndarray::ArrayView2<'_, f64>,
    spec: &GapSpec,
    params: &Params,
    ctx: &StageCtx<'_>,
) -> std::result::Result<(), segflow_cluster::ClusterError> {
    if let Some(s) = scores.iter().find(|s| s.inertia <= 0.0) {
        return Err(segflow_cluster::ClusterError::InvalidInput(format!(
            "the gap statistic takes the log of the inertia, and K = {} leaves none (as many distinct rows as clusters)",
            s.k
        )));
    }
    (ctx.progress)(&format!("gap statistic: {} reference sets", spec.b));
    let ks: Vec<usize> = scores.iter().map(|s| s.k).collect();
    // Reference sets are clustered by the same algorithm as the data.
    let reference = gap::reference_inertias(x, &ks, spec.b, ctx.seed, |k, set| {
        match params.algorithm {
            Algorithm::Kmeans => KMeansParams::new(k)
                .n_init(spec.n_init.unwrap_or(params.n_init))
                .max_iter(params.max_iter)
                .tol(params.tol)
                .seed(ctx.seed)
                .fit_array(set),
            Algorithm::MinibatchKmeans => params.fit(k, set, ctx.seed),
        }
        .map(|model| model.inertia)
    })?;
    let inertia: Vec<f64> = scores.iter().map(|s| s.inertia).collect();
    for (s, g) in scores.iter_mut().zip(gap::gap_scores(&inertia, &reference)) {
        s.gap = Some(g);
    }
    Ok(())
}

/// Top `n` K by `key` (greater is better; ties → smaller K).
fn shortlist(scores: &[KScore], n: usize, key: impl Fn(&KScore) -> f64) -> Vec<usize> {
    let mut ks: Vec<&KScore> = scores.iter().collect();
    ks.sort_by(|a, b| key(b).total_cmp(&key(a)).then(a.k.cmp(&b.k)));
    ks.iter().take(n).map(|s| s.k).collect()
}

fn scores_batch(
    scores: &[KScore],
    params: &Params,
    knee: Option<usize>,
) -> Result<arrow::array::RecordBatch> {
    let by_sil = shortlist(scores, params.shortlist, |s| s.silhouette);
    let by_db = shortlist(scores, params.shortlist, |s| -s.davies_bouldin);
    let f = |g: &dyn Fn(&KScore) -> f64| -> ArrayRef {
        Arc::new(Float64Array::from_iter_values(scores.iter().map(g)))
    };
    let drops: Vec<Option<f64>> = (0..scores.len())
        .map(|i| (i > 0).then(|| scores[i - 1].inertia - scores[i].inertia))
        .collect();
    let drop_pct: Vec<Option<f64>> = (0..scores.len())
        .map(|i| {
            (i > 0).then(|| {
                (scores[i - 1].inertia - scores[i].inertia) / scores[i - 1].inertia * 100.0
            })
        })
        .collect();
    let flags = |set: &dyn Fn(usize) -> bool| -> ArrayRef {
        Arc::new(BooleanArray::from(
            scores.iter().map(|s| set(s.k)).collect::<Vec<_>>(),
        ))
    };
    let mut columns: Vec<(&str, ArrayRef)> = vec![
        (
            "k",
            Arc::new(UInt32Array::from_iter_values(
                scores.iter().map(|s| s.k as u32),
            )) as ArrayRef,
        ),
        ("inertia", f(&|s| s.inertia)),
        ("inertia_drop", Arc::new(Float64Array::from(drops))),
        ("inertia_drop_pct", Arc::new(Float64Array::from(drop_pct))),
        ("silhouette", f(&|s| s.silhouette)),
        (
            "silhouette_method",
            Arc::new(StringArray::from_iter_values(scores.iter().map(|s| {
                if s.silhouette_sampled {
                    "sampled"
                } else {
                    "exact"
                }
            }))),
        ),
        ("davies_bouldin", f(&|s| s.davies_bouldin)),
        ("calinski_harabasz", f(&|s| s.calinski_harabasz)),
        (
            "sizes",
            Arc::new(StringArray::from_iter_values(scores.iter().map(|s| {
                s.sizes
                    .iter()
                    .map(|v| v.to_string())
                    .collect::<Vec<_>>()
                    .join("/")
            }))),
        ),
        ("smallest_share", f(&|s| s.smallest_share())),
        (
            "n_iter",
            Arc::new(UInt64Array::from_iter_values(
                scores.iter().map(|s| s.n_iter as u64),
            )),
        ),
        (
            "converged",
            flags(&|k| scores.iter().any(|s| s.k == k && s.converged)),
        ),
        ("knee", flags(&|k| knee == Some(k))),
        ("shortlist_silhouette", flags(&|k| by_sil.contains(&k))),
        ("shortlist_davies_bouldin", flags(&|k| by_db.contains(&k))),
    ];
    if params.bic.is_some() {
        columns.push((
            "bic",
            Arc::new(Float64Array::from(
                scores.iter().map(|s| s.bic).collect::<Vec<_>>(),
            )),
        ));
    }
    if params.gap_spec().is_some() {
        let gap = |f: fn(&GapScore) -> f64| -> ArrayRef {
            Arc::new(Float64Array::from(
                scores
                    .iter()
                    .map(|s| s.gap.as_ref().map(f))
                    .collect::<Vec<_>>(),
            ))
        };
        columns.push(("gap", gap(|g| g.gap)));
        columns.push(("gap_s", gap(|g| g.s)));
    }
    batch(columns)
}

/// The version of this stage's own computations, composed with the versions of the algorithms
/// its params select: bump it with any change that alters its results, and say what changed in
/// CHANGELOG.md.
const VERSION: u32 = 3;

pub struct SelectKStage;

impl Stage for SelectKStage {
    fn kind(&self) -> &'static str {
        "select_k"
    }

    fn about(&self) -> &'static str {
        "matrix → k-means over a K range, validity indices, knee, and the chosen K with its reason"
    }

    fn consumes(&self) -> &'static [&'static str] {
        &["matrix"]
    }

    fn plan(&self, params: &ParamTree) -> Result<Vec<Planned>> {
        parse_valid::<Params>(params)?;
        Ok(vec![Planned::new("k_scores"), Planned::new("decision")])
    }

    fn algorithm_version(&self, params: &ParamTree) -> Result<String> {
        let params: Params = parse_params(params)?;
        let mut algorithms = vec![
            match params.algorithm {
                Algorithm::Kmeans => ("kmeans", segflow_cluster::kmeans::VERSION),
                Algorithm::MinibatchKmeans => {
                    ("minibatch_kmeans", segflow_cluster::minibatch::VERSION)
                }
            },
            params.rule.version(),
        ];
        if params.bic.is_some() {
            algorithms.push(("gmm", segflow_cluster::gmm::VERSION));
        }
        Ok(compose_version(VERSION, &algorithms))
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
        Ok(run(input, &params, out, ctx)?.0.len() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn score(k: usize, inertia: f64, silhouette: f64, db: f64, ch: f64, smallest: usize) -> KScore {
        let mut sizes = vec![100; k - 1];
        sizes.push(smallest);
        KScore {
            k,
            inertia,
            silhouette,
            silhouette_sampled: false,
            davies_bouldin: db,
            calinski_harabasz: ch,
            sizes,
            n_iter: 1,
            converged: true,
            // A BIC curve with its minimum at K = 3.
            bic: Some(1000.0 + (k as f64 - 3.0).powi(2) * 50.0),
            gap: None,
        }
    }

    fn scores() -> Vec<KScore> {
        vec![
            score(2, 1000.0, 0.60, 0.9, 500.0, 100),
            score(3, 500.0, 0.60, 0.7, 700.0, 100),
            score(4, 300.0, 0.55, 0.6, 800.0, 2),
            score(5, 280.0, 0.50, 0.8, 750.0, 50),
            score(6, 270.0, 0.40, 0.9, 600.0, 50),
        ]
    }

    /// Four indices, four different K: silhouette → 3, Davies–Bouldin → 5, Calinski–Harabasz
    /// → 2, knee → 4 (Kneedle difference 0.36). Silhouette is highest at K = 3 and second at 5.
    fn split_votes() -> Vec<KScore> {
        vec![
            score(2, 1000.0, 0.40, 0.9, 900.0, 100),
            score(3, 700.0, 0.45, 0.8, 700.0, 100),
            score(4, 400.0, 0.30, 0.7, 600.0, 100),
            score(5, 350.0, 0.42, 0.5, 500.0, 100),
            score(6, 300.0, 0.20, 0.9, 400.0, 100),
        ]
    }

    fn yaml(text: &str) -> Result<Params> {
        parse_params(&segflow_core::yaml::parse_document("params.yaml", text)?)
    }

    fn params(rule: &str) -> Params {
        yaml(&format!("{{k: [2, 6], rule: {rule}}}")).unwrap()
    }

    #[test]
    fn min_bic_needs_the_mixture_and_takes_the_lowest() {
        let err = yaml("{k: [2, 6], rule: min_bic}")
            .unwrap()
            .validate()
            .unwrap_err()
            .to_string();
        assert!(err.contains("min_bic needs"), "{err}");
        let p = yaml("{k: [2, 6], rule: min_bic, bic: {covariance: diag}}").unwrap();
        p.validate().unwrap();
        let d = decide(&scores(), &p).unwrap();
        assert_eq!(d.k, 3);
        assert!(
            d.reason
                .starts_with("Lowest BIC of a Gaussian mixture: 1000.0"),
            "{}",
            d.reason
        );
    }

    #[test]
    fn each_rule_explains_its_choice() {
        let s = scores();
        let d = decide(&s, &params("max_silhouette")).unwrap();
        assert_eq!(d.k, 2, "ties go to the smaller K");
        assert!(
            d.reason.starts_with("Highest silhouette score: 0.600. Caution: the silhouette does not single out K = 2 (0.600): neighbouring K = 3 (0.600) scores within 0.02 of it or above"),
            "{}",
            d.reason
        );
        let d = decide(&s, &params("{fixed: 5}")).unwrap();
        assert!(
            d.reason.starts_with("K fixed to 5 in the pipeline"),
            "{}",
            d.reason
        );
        let d = decide(&s, &params("{elbow: largest_drop}")).unwrap();
        assert_eq!(d.k, 3);
        assert!(
            d.reason.contains("50.0 % from K = 2 to K = 3"),
            "{}",
            d.reason
        );
        // Normalised, K = 4 lies farthest below the chord from K = 2 to K = 6: by
        // (1 − 0.5) − (300 − 270)/(1000 − 270) = 0.459.
        let d = decide(&s, &params("{elbow: knee}")).unwrap();
        assert_eq!((d.k, d.knee), (4, Some(4)));
        assert!(
            d.reason.starts_with(
                "Knee of the inertia curve (Kneedle) at K = 4 (Kneedle difference 0.46): inertia falls 40.0 % from K = 3 and then 6.7 % to K = 5, a smaller drop"
            ),
            "{}",
            d.reason
        );
        let d = decide(&s, &params("consensus")).unwrap();
        // silhouette → 2, Davies–Bouldin → 4, Calinski–Harabasz → 4, knee → 4.
        assert_eq!(d.k, 4);
        assert!(
            d.reason.starts_with("Majority of indices: K = 4, 3 of 4 votes (silhouette → 2, Davies–Bouldin → 4, Calinski–Harabasz → 4, knee → 4 (Kneedle difference 0.46))"),
            "{}",
            d.reason
        );
    }

    #[test]
    fn the_knee_rule_says_when_the_later_drop_is_larger() {
        // The wording: inertia fell 23.7 % to the knee, then 24.4 % after it.
        let s: Vec<KScore> = [1700.0, 1000.0, 763.0, 576.828, 500.0, 470.0, 450.0]
            .iter()
            .enumerate()
            .map(|(i, &w)| score(i + 2, w, 0.5 - i as f64 / 10.0, 1.0, 1.0, 100))
            .collect();
        let d = decide(&s, &params("{elbow: knee}")).unwrap();
        assert_eq!(d.k, 4, "{}", d.reason);
        assert!(
            d.reason.contains(
                "inertia falls 23.7 % from K = 3 and then 24.4 % to K = 5, a drop no smaller"
            ) && !d.reason.contains("only"),
            "{}",
            d.reason
        );
    }

    #[test]
    fn consensus_without_a_majority_says_so_and_applies_the_tiebreak() {
        let s = split_votes();
        let detail = "(silhouette → 3, Davies–Bouldin → 5, Calinski–Harabasz → 2, knee → 4 (Kneedle difference 0.36))";
        let cases = [
            (
                "consensus",
                3,
                "tiebreak `max_silhouette` takes K = 3, the highest silhouette among them (0.450)",
            ),
            (
                "consensus, tiebreak: max_silhouette",
                3,
                "`max_silhouette` takes K = 3",
            ),
            (
                "consensus, tiebreak: smallest_k",
                2,
                "tiebreak `smallest_k` takes K = 2, the smallest",
            ),
            (
                "consensus, tiebreak: largest_k",
                5,
                "tiebreak `largest_k` takes K = 5, the largest",
            ),
            (
                "consensus, tiebreak: knee",
                4,
                "tiebreak `knee` takes K = 4, the nearest to the knee at K = 4",
            ),
        ];
        for (rule, k, why) in cases {
            let d = decide(&s, &params(rule)).unwrap();
            assert_eq!(d.k, k, "{rule}: {}", d.reason);
            assert!(
                d.reason.starts_with(&format!(
                    "No majority of indices {detail}: K = 2, 3, 4, 5 tie with 1 vote each of 4; "
                )),
                "{rule}: {}",
                d.reason
            );
            assert!(d.reason.contains(why), "{rule}: {}", d.reason);
        }
        // Two votes of four is the most, not a majority.
        let mut s = split_votes();
        s[0].davies_bouldin = 0.1;
        let d = decide(&s, &params("consensus")).unwrap();
        assert_eq!(d.k, 2, "{}", d.reason);
        assert!(
            d.reason
                .starts_with("No majority of indices (silhouette → 3, Davies–Bouldin → 2,")
                && d.reason.contains("K = 2 has the most votes, 2 of 4"),
            "{}",
            d.reason
        );
        assert!(
            yaml("{k: [2, 6], rule: max_silhouette, tiebreak: knee}")
                .unwrap()
                .validate()
                .unwrap_err()
                .to_string()
                .contains("consensus only")
        );
        assert!(yaml("{k: [2, 6], rule: consensus, tiebreak: coin}").is_err());
    }

    #[test]
    fn a_flat_silhouette_curve_is_flagged() {
        // The purchase log: silhouette 0.19–0.23 at every K.
        let sil = [0.23, 0.21, 0.19, 0.20, 0.22];
        let s: Vec<KScore> = (2..7)
            .map(|k| score(k, 1000.0 / k as f64, sil[k - 2], 1.0, 1.0, 100))
            .collect();
        let d = decide(&s, &params("max_silhouette")).unwrap();
        assert_eq!(d.k, 2);
        assert!(
            d.reason.contains("Caution: the silhouette curve is flat (0.190–0.230 over K = 2..6, a range under 0.05): no K separates the data clearly better than another"),
            "{}",
            d.reason
        );
        // A curve with a real peak is not flagged as flat, and a clear winner has no caution.
        let d = decide(&scores(), &params("{fixed: 5}")).unwrap();
        assert!(!d.reason.contains("flat"), "{}", d.reason);
        let d = decide(&split_votes(), &params("max_silhouette")).unwrap();
        assert!(!d.reason.contains("Caution"), "{}", d.reason);
    }

    #[test]
    fn a_curve_without_a_knee_says_so() {
        let line: Vec<KScore> = (2..7)
            .map(|k| score(k, 100.0 - k as f64 * 10.0, 0.5, 1.0, 1.0, 50))
            .collect();
        let err = decide(&line, &params("{elbow: knee}"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("no knee (Kneedle finds none)"), "{err}");
        // Falls like −log K: Kneedle's best bend (K = 6, difference 0.21) is too faint.
        let log: Vec<KScore> = (2..13)
            .map(|k| {
                score(
                    k,
                    100.0 - 10.0 * (k as f64).ln(),
                    0.5 - k as f64 / 100.0,
                    1.0,
                    1.0,
                    50,
                )
            })
            .collect();
        let err = decide(&log, &params("{elbow: knee}"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("no clear knee (Kneedle's best, K = 6, has difference 0.21 < 0.25)"),
            "{err}"
        );
        let d = decide(&log, &params("consensus")).unwrap();
        assert!(
            d.reason.contains(
                "knee → no clear knee (Kneedle's best, K = 6, has difference 0.21 < 0.25)"
            ),
            "{}",
            d.reason
        );
    }

    #[test]
    fn the_segment_share_guard_says_when_it_bit() {
        let s = scores();
        let mut p = params("consensus");
        p.min_segment_share = 0.05;
        let d = decide(&s, &p).unwrap();
        assert_ne!(d.k, 4, "K = 4 has a 2-row segment");
        assert!(
            d.reason.contains(". min_segment_share 5.0 % excluded K = 4 (0.7 %) (smallest segment's share); without it the rule would have chosen K = 4"),
            "{}",
            d.reason
        );
        let mut p = params("max_silhouette");
        p.min_segment_share = 0.05;
        let d = decide(&s, &p).unwrap();
        assert!(
            d.reason.contains(
                "excluded K = 4 (0.7 %) (smallest segment's share); it did not change the choice"
            ),
            "{}",
            d.reason
        );
        p.min_segment_share = 0.001;
        let d = decide(&s, &p).unwrap();
        assert!(!d.reason.contains("min_segment_share"), "{}", d.reason);
        let mut p = params("{fixed: 4}");
        p.min_segment_share = 0.05;
        assert!(decide(&s, &p).is_err());
    }

    #[test]
    fn the_gap_rule_takes_the_first_k_within_one_se() {
        let mut s = split_votes();
        // Gap − s of the next K: 0.55 − 0.1 at K = 3 > Gap(2); K = 3 passes against K = 4.
        let gaps = [
            (0.40, 0.05),
            (0.55, 0.1),
            (0.50, 0.02),
            (0.60, 0.02),
            (0.61, 0.05),
        ];
        for (score, (gap, s_k)) in s.iter_mut().zip(gaps) {
            score.gap = Some(GapScore {
                gap,
                sd: s_k,
                s: s_k,
            });
        }
        let d = decide(&s, &params("gap")).unwrap();
        assert_eq!(d.k, 3, "{}", d.reason);
        assert!(
            d.reason.starts_with("Gap statistic (Tibshirani, Walther & Hastie 2001; B = 10 reference sets uniform over the principal-component box): K = 3 is the smallest K with Gap(3) ≥ Gap(4) − s(4): 0.5500 ≥ 0.5000 − 0.0200 = 0.4800"),
            "{}",
            d.reason
        );
        // The guard moves the choice to the next K that passes: K = 5 against K = 6.
        s[1].sizes = vec![100, 100, 1];
        let mut p = params("gap");
        p.min_segment_share = 0.05;
        let d = decide(&s, &p).unwrap();
        assert_eq!(d.k, 5, "{}", d.reason);
        assert!(
            d.reason
                .contains("without it the rule would have chosen K = 3"),
            "{}",
            d.reason
        );
        // Gap rising by more than its error everywhere: the largest K, said so.
        for (i, score) in s.iter_mut().enumerate() {
            score.gap = Some(GapScore {
                gap: i as f64,
                sd: 0.1,
                s: 0.1,
            });
        }
        let d = decide(&s, &params("gap")).unwrap();
        assert_eq!(d.k, 6);
        assert!(
            d.reason
                .contains("no K up to 5 has Gap(k) ≥ Gap(k+1) − s(k+1)"),
            "{}",
            d.reason
        );
    }

    #[test]
    fn params_are_checked() {
        assert!(params("{fixed: 9}").validate().is_err());
        assert!(yaml("{k: [2, 6], rule: majority}").is_err());
        assert!(
            yaml("{k: [2, 6], rule: gap, gap: {b: 1}}")
                .unwrap()
                .validate()
                .is_err()
        );
        assert!(yaml("{k: [2, 2], rule: gap}").unwrap().validate().is_err());
        assert!(yaml("{k: [2, 6], rule: gap, gap: {b: 5, draws: 3}}").is_err());
        yaml("{k: [2, 6], rule: gap, gap: {b: 5, n_init: 3}}")
            .unwrap()
            .validate()
            .unwrap();
    }
}
