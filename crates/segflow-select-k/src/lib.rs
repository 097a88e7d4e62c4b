//! The select-k stage: k-means for every K in a range on the model matrix, validity indices
//! per K, knee detection on the inertia curve, and a decision rule chosen in the YAML that
//! writes its reason next to the chosen K.

mod rules;

use std::path::PathBuf;
use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, Float64Array, StringArray, UInt32Array, UInt64Array};
use serde::Deserialize;

use segflow_cluster::KMeansParams;
use segflow_cluster::metrics::{
    calinski_harabasz, davies_bouldin, silhouette_score, silhouette_score_sampled,
};
use segflow_core::artifact::batch;
use segflow_core::error::Location;
use segflow_core::matrix::read_matrix;
use segflow_core::params::{ParamTree, Validate, parse_params, parse_valid};
use segflow_core::stage::{OutputDir, Planned, Stage, StageCtx, compose_version, single_input};
use segflow_core::{Error, Result};

pub use rules::{Decision, decide};
pub use segflow_cluster::kneedle;

/// How K is chosen. In YAML: `max_silhouette`, `consensus`, `{fixed: 4}`, `{elbow: knee}` or
/// `{elbow: largest_drop}`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Rule {
    Fixed(usize),
    /// Highest silhouette; ties go to the smallest K.
    MaxSilhouette,
    Elbow(Elbow),
    /// Majority vote of silhouette, Davies–Bouldin, Calinski–Harabasz and the knee; ties go
    /// to the smallest K.
    Consensus,
    /// Lowest BIC of a Gaussian mixture per K (needs `bic`); ties go to the smallest K.
    MinBic,
}

impl Rule {
    /// The rule's name and version, part of the stage's algorithm version: bump a rule's
    /// number with any change to the K it chooses or the reason it gives.
    pub fn version(&self) -> (&'static str, u32) {
        match self {
            Rule::Fixed(_) => ("fixed", 1),
            Rule::MaxSilhouette => ("max_silhouette", 1),
            Rule::Elbow(Elbow::Knee) => ("knee", 1),
            Rule::Elbow(Elbow::LargestDrop) => ("largest_drop", 1),
            Rule::Consensus => ("consensus", 1),
            Rule::MinBic => ("min_bic", 1),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Elbow {
    /// The Kneedle knee of the inertia curve (no knee → the stage fails).
    Knee,
    /// The K whose inertia dropped the most, relative to K − 1.
    LargestDrop,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// Inclusive range of K.
    pub k: [usize; 2],
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
    /// Smallest allowed share of rows in any cluster; K that fail it are not chosen.
    #[serde(default)]
    pub min_segment_share: f64,
    /// Also fit a Gaussian mixture per K and report its BIC.
    pub bic: Option<BicSpec>,
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
        if !(0.0..1.0).contains(&self.min_segment_share) {
            return Err(Error::config("", "min_segment_share", "must lie in [0, 1)"));
        }
        if !(self.tol >= 0.0 && self.tol.is_finite()) {
            return Err(Error::config("", "tol", "must be a finite number ≥ 0"));
        }
        if self.shortlist == 0 {
            return Err(Error::config("", "shortlist", "must be ≥ 1"));
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
    for k in lo..=hi {
        (ctx.progress)(&format!("K = {k} of {lo}..{hi}"));
        let model = KMeansParams::new(k)
            .n_init(params.n_init)
            .max_iter(params.max_iter)
            .tol(params.tol)
            .seed(ctx.seed)
            .fit_array(m.values.view())
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
        });
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
    batch(columns)
}

/// The version of this stage's own computations, composed with the versions of the algorithms
/// its params select: bump it with any change that alters its results, and say what changed in
/// CHANGELOG.md.
const VERSION: u32 = 1;

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
            ("kmeans", segflow_cluster::kmeans::VERSION),
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
        assert_eq!(
            (d.k, d.reason.as_str()),
            (3, "Lowest BIC of a Gaussian mixture: 1000.0")
        );
    }

    #[test]
    fn each_rule_explains_its_choice() {
        let s = scores();
        let d = decide(&s, &params("max_silhouette")).unwrap();
        assert_eq!(
            (d.k, d.reason.as_str()),
            (2, "Highest silhouette score: 0.600"),
            "ties go to the smaller K"
        );
        let d = decide(&s, &params("{fixed: 5}")).unwrap();
        assert_eq!(
            (d.k, d.reason.as_str()),
            (5, "K fixed to 5 in the pipeline")
        );
        let d = decide(&s, &params("{elbow: largest_drop}")).unwrap();
        assert_eq!(d.k, 3);
        assert!(
            d.reason.contains("50.0 % from K = 2 to K = 3"),
            "{}",
            d.reason
        );
        // Normalised, K = 4 lies farthest below the chord from K = 2 to K = 6.
        let d = decide(&s, &params("{elbow: knee}")).unwrap();
        assert_eq!((d.k, d.knee), (4, Some(4)));
        assert!(
            d.reason
                .contains("falls 40.0 % from K = 3, then only 6.7 % to K = 5"),
            "{}",
            d.reason
        );
        let d = decide(&s, &params("consensus")).unwrap();
        // silhouette → 2, Davies–Bouldin → 4, Calinski–Harabasz → 4, knee → 4.
        assert_eq!(d.k, 4);
        assert!(
            d.reason.contains("3 of 4 votes") && d.reason.contains("silhouette → 2"),
            "{}",
            d.reason
        );
    }

    #[test]
    fn the_segment_share_guard_excludes_tiny_segments() {
        let s = scores();
        let mut p = params("consensus");
        p.min_segment_share = 0.05;
        let d = decide(&s, &p).unwrap();
        assert_ne!(d.k, 4, "K = 4 has a 2-row segment");
        assert!(d.reason.contains("at least 5.0 %"), "{}", d.reason);
        let mut p = params("{fixed: 4}");
        p.min_segment_share = 0.05;
        assert!(decide(&s, &p).is_err());
    }

    #[test]
    fn no_knee_is_an_error_for_the_knee_rule() {
        let line: Vec<KScore> = (2..7)
            .map(|k| score(k, 100.0 - k as f64 * 10.0, 0.5, 1.0, 1.0, 50))
            .collect();
        assert!(
            decide(&line, &params("{elbow: knee}"))
                .unwrap_err()
                .to_string()
                .contains("no knee")
        );
    }

    #[test]
    fn params_are_checked() {
        assert!(params("{fixed: 9}").validate().is_err());
        assert!(yaml("{k: [2, 6], rule: majority}").is_err());
    }
}
