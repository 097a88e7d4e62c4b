//! The fit stage's params: the clustering, the card layout, the naming roles and the actions.

use std::collections::BTreeMap;

use serde::Deserialize;

use segflow_cluster::{MiniBatchSpec, dbscan, gmm, kmeans, minibatch, ward};
use segflow_core::nouns::{Noun, Nouns, plural_of};
use segflow_core::params::Validate;
use segflow_core::stage::Columns;
use segflow_core::{Error, Result};

pub use crate::statistic::Stat;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    #[serde(default)]
    pub algorithm: Algorithm,
    /// DBSCAN's settings (with `algorithm: dbscan`).
    pub dbscan: Option<DbscanSpec>,
    /// The mixture's settings (with `algorithm: gmm`).
    pub gmm: Option<GmmSpec>,
    /// Mini-batch k-means' settings (with `algorithm: minibatch_kmeans`; its own `n_init`
    /// and `max_iter`, scikit-learn's defaults).
    pub minibatch: Option<MiniBatchSpec>,
    /// Number of segments; absent → the K in select_k's decision artifact.
    pub k: Option<usize>,
    #[serde(default = "default_n_init")]
    pub n_init: usize,
    #[serde(default = "default_max_iter")]
    pub max_iter: usize,
    #[serde(default = "default_tol")]
    pub tol: f64,
    /// Every contact's exact silhouette below this many clustered contacts (an O(n²) pass);
    /// at or above it, the silhouettes of a seeded sample of `silhouette_sample_size` of them
    /// within the sample, the others left empty.
    #[serde(default = "default_silhouette_exact_below")]
    pub silhouette_exact_below: usize,
    #[serde(default = "default_silhouette_sample_size")]
    pub silhouette_sample_size: usize,
    #[serde(default)]
    pub cards: Cards,
    /// How many distinguishing features each segment lists (profile `top`, findings).
    #[serde(default = "default_top_features")]
    pub top_features: usize,
    /// How many categories of a context column the mix lists by name (the most frequent
    /// overall); the rest are counted together as `(other)`.
    #[serde(default = "default_mix_top")]
    pub mix_top: usize,
    /// Readable labels for the codes of a context column in its mix and on the cards
    /// (`{Channel: {"1": Horeca, "2": Retail}}`); a code without a label keeps its own text.
    #[serde(default)]
    pub labels: BTreeMap<String, BTreeMap<String, String>>,
    #[serde(default)]
    pub naming: Naming,
    /// Expected impact of the segment campaigns against one treatment for all: a projection
    /// from the configured rates, written next to the segments.
    pub impact: Option<Impact>,
    /// One line per segment; `{feature}` is the segment's median of that feature,
    /// `{mean:feature}` (`q90:`, `share_nonzero:`) another statistic, `{n_contacts}` and
    /// `{share_pct}` its size; `{feature|day}` (or `{feature|person|people}`) adds the noun in
    /// the form that goes with the number ("1 day", "3 days"), `{…|pct}` writes a share as a
    /// percentage ("42.0 %").
    pub narrative: Option<String>,
    /// Words for features, by feature name: `{n_days: {label: active days, low: few active
    /// days, high: many active days}}`.
    #[serde(default)]
    pub features: BTreeMap<String, FeatureWords>,
    /// The pipeline's nouns (its top-level `nouns` block), for the words of the tables.
    #[serde(default)]
    pub nouns: Nouns,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Algorithm {
    /// k-means++ and Lloyd, best of `n_init` restarts.
    #[default]
    Kmeans,
    /// Ward agglomeration cut at K clusters.
    Ward,
    /// Density clusters with noise; needs no K (`dbscan: {eps, min_samples}`).
    Dbscan,
    /// Gaussian mixture at K components (`gmm: {covariance, …}`); rows go to their most
    /// probable component.
    Gmm,
    /// scikit-learn's mini-batch k-means (`minibatch: {batch_size, …}`), for 10⁶ rows and
    /// more; rows go to their nearest centre.
    #[serde(rename = "minibatch_kmeans")]
    MinibatchKmeans,
}

impl Algorithm {
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Kmeans => "kmeans",
            Algorithm::Ward => "ward",
            Algorithm::Dbscan => "dbscan",
            Algorithm::Gmm => "gmm",
            Algorithm::MinibatchKmeans => "minibatch_kmeans",
        }
    }

    /// The clustering algorithms this choice runs, with their versions (part of the fit
    /// stage's algorithm version). A mixture starts from k-means.
    pub fn versions(self) -> &'static [(&'static str, u32)] {
        match self {
            Algorithm::Kmeans => &[("kmeans", kmeans::VERSION)],
            Algorithm::Ward => &[("ward", ward::VERSION)],
            Algorithm::Dbscan => &[("dbscan", dbscan::VERSION)],
            Algorithm::Gmm => &[("gmm", gmm::VERSION), ("kmeans", kmeans::VERSION)],
            Algorithm::MinibatchKmeans => &[("minibatch_kmeans", minibatch::VERSION)],
        }
    }
}

/// The Gaussian mixture's settings (scikit-learn's defaults).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GmmSpec {
    #[serde(default = "default_covariance")]
    pub covariance: CovarianceKind,
    #[serde(default = "one")]
    pub n_init: usize,
    #[serde(default = "default_gmm_iter")]
    pub max_iter: usize,
    #[serde(default = "default_gmm_tol")]
    pub tol: f64,
    #[serde(default = "default_reg")]
    pub reg_covar: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CovarianceKind {
    Full,
    Diag,
}

impl Default for GmmSpec {
    fn default() -> Self {
        GmmSpec {
            covariance: default_covariance(),
            n_init: 1,
            max_iter: default_gmm_iter(),
            tol: default_gmm_tol(),
            reg_covar: default_reg(),
        }
    }
}

fn default_covariance() -> CovarianceKind {
    CovarianceKind::Full
}
fn one() -> usize {
    1
}
fn default_gmm_iter() -> usize {
    100
}
fn default_gmm_tol() -> f64 {
    1e-3
}
fn default_reg() -> f64 {
    1e-6
}

impl GmmSpec {
    pub fn params(&self, k: usize, seed: u64) -> segflow_cluster::GmmParams {
        let mut p = segflow_cluster::GmmParams::new(
            k,
            match self.covariance {
                CovarianceKind::Full => segflow_cluster::Covariance::Full,
                CovarianceKind::Diag => segflow_cluster::Covariance::Diag,
            },
        );
        p.n_init = self.n_init;
        p.max_iter = self.max_iter;
        p.tol = self.tol;
        p.reg_covar = self.reg_covar;
        p.seed = seed;
        p
    }
}

/// DBSCAN's neighbourhood: radius in the scaled space and the points (itself included) a core
/// point needs within it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DbscanSpec {
    #[serde(default = "default_eps")]
    pub eps: f64,
    #[serde(default = "default_min_samples")]
    pub min_samples: usize,
}

impl Default for DbscanSpec {
    fn default() -> Self {
        DbscanSpec {
            eps: default_eps(),
            min_samples: default_min_samples(),
        }
    }
}

fn default_eps() -> f64 {
    0.5
}
fn default_min_samples() -> usize {
    5
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
fn default_silhouette_exact_below() -> usize {
    50_000
}
fn default_silhouette_sample_size() -> usize {
    20_000
}
fn default_mix_top() -> usize {
    8
}
fn default_top_features() -> usize {
    3
}

/// Which statistics the cluster cards carry, per feature.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cards {
    /// Per-segment medians; absent → every model feature.
    pub medians: Option<Vec<String>>,
    /// q25 / q50 / q75 per segment.
    #[serde(default)]
    pub spreads: Vec<String>,
    /// Per-segment means (e.g. of timing shares).
    #[serde(default)]
    pub means: Vec<String>,
    /// Per-segment standard deviations (divisor n).
    #[serde(default)]
    pub stds: Vec<String>,
    /// Percentage of the segment's contacts with a value above 0.
    #[serde(default)]
    pub any: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Naming {
    /// Roles in priority order: each takes the best cluster not already named.
    #[serde(default)]
    pub roles: Vec<Role>,
    /// The action of a segment no role claims (it is named from its distinguishing features).
    #[serde(default = "review_action")]
    pub fallback_action: Action,
}

impl Default for Naming {
    fn default() -> Self {
        Naming {
            roles: Vec::new(),
            fallback_action: review_action(),
        }
    }
}

fn review_action() -> Action {
    Action {
        decision_use: "Not yet decided: review the segment's profile and cards.".into(),
        operational_rule: "Current default treatment until an owner assigns one.".into(),
        typical_pattern: "See the segment's distinguishing features.".into(),
        campaign: None,
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Role {
    pub name: String,
    /// Criteria in order, each breaking the previous one's ties; none → the largest cluster
    /// left over.
    #[serde(default)]
    pub by: Vec<Criterion>,
    /// Conditions every cluster the role may claim meets; when no cluster left meets them,
    /// the role stays unclaimed.
    #[serde(default, rename = "where")]
    pub conditions: Thresholds,
    pub action: Action,
}

/// `{lowest: feature}` or `{highest: feature}`, ranking clusters on the segment median of a
/// feature (or on `n_contacts`), or on another statistic with `stat:` (`mean`, `q90`,
/// `{quantile: 0.9}`, `share_nonzero`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "CriterionText")]
pub struct Criterion {
    pub direction: Direction,
    pub key: String,
    pub stat: Stat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Lowest,
    Highest,
}

impl Direction {
    pub fn word(self) -> &'static str {
        match self {
            Direction::Lowest => "lowest",
            Direction::Highest => "highest",
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CriterionText {
    lowest: Option<String>,
    highest: Option<String>,
    stat: Option<Stat>,
}

impl TryFrom<CriterionText> for Criterion {
    type Error = String;

    fn try_from(c: CriterionText) -> std::result::Result<Criterion, String> {
        let (direction, key) = match (c.lowest, c.highest) {
            (Some(key), None) => (Direction::Lowest, key),
            (None, Some(key)) => (Direction::Highest, key),
            _ => return Err("a criterion names exactly one of `lowest` or `highest`".into()),
        };
        if key == "n_contacts" && c.stat.is_some() {
            return Err("n_contacts is a segment's size: it takes no `stat`".into());
        }
        Ok(Criterion {
            direction,
            key,
            stat: c.stat.unwrap_or_default(),
        })
    }
}

impl Criterion {
    pub fn key(&self) -> &str {
        &self.key
    }
}

/// A role's `where`: `{median: {n_purchase_days: {ge: 3}}, share_nonzero: {…}}`, all of which
/// must hold (statistics in name order, then features in name order).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(try_from = "BTreeMap<String, BTreeMap<String, Bounds>>")]
pub struct Thresholds(pub Vec<Threshold>);

/// One condition on a segment statistic.
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    pub stat: Stat,
    pub feature: String,
    pub op: Op,
    pub value: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Ge,
    Gt,
    Le,
    Lt,
}

impl Op {
    pub fn holds(self, x: f64, bound: f64) -> bool {
        match self {
            Op::Ge => x >= bound,
            Op::Gt => x > bound,
            Op::Le => x <= bound,
            Op::Lt => x < bound,
        }
    }

    pub fn symbol(self) -> &'static str {
        match self {
            Op::Ge => "≥",
            Op::Gt => ">",
            Op::Le => "≤",
            Op::Lt => "<",
        }
    }
}

/// The bounds on one feature's statistic: `{ge: 3}`, `{gt: 0, le: 10}`.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct Bounds {
    ge: Option<f64>,
    gt: Option<f64>,
    le: Option<f64>,
    lt: Option<f64>,
}

impl TryFrom<BTreeMap<String, BTreeMap<String, Bounds>>> for Thresholds {
    type Error = String;

    fn try_from(
        map: BTreeMap<String, BTreeMap<String, Bounds>>,
    ) -> std::result::Result<Thresholds, String> {
        let mut out = Vec::new();
        for (stat, features) in map {
            let stat = Stat::parse(&stat)?;
            for (feature, b) in features {
                let ops = [
                    (Op::Ge, b.ge),
                    (Op::Gt, b.gt),
                    (Op::Le, b.le),
                    (Op::Lt, b.lt),
                ];
                let before = out.len();
                for (op, value) in ops {
                    let Some(value) = value else { continue };
                    if !value.is_finite() {
                        return Err(format!("the bound on {stat} {feature} is not finite"));
                    }
                    out.push(Threshold {
                        stat,
                        feature: feature.clone(),
                        op,
                        value,
                    });
                }
                if out.len() == before {
                    return Err(format!("{stat} {feature}: give a bound (ge, gt, le or lt)"));
                }
            }
        }
        Ok(Thresholds(out))
    }
}

impl Threshold {
    /// "median n_purchase_days ≥ 3".
    pub fn describe(&self) -> String {
        format!(
            "{} {} {} {}",
            self.stat,
            self.feature,
            self.op.symbol(),
            crate::fmt_num(self.value)
        )
    }
}

/// A feature's words for people: what it is (`label`), and what a segment low or high on it
/// is (`low: few purchase days`), used by fallback names, narratives and explanations.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureWords {
    pub label: Option<String>,
    pub low: Option<String>,
    pub high: Option<String>,
}

impl FeatureWords {
    /// The feature's label, or its name.
    pub fn label<'a>(&'a self, name: &'a str) -> &'a str {
        self.label.as_deref().unwrap_or(name)
    }

    /// "few purchase days" for a segment below the others, or "low purchase days" without
    /// declared words.
    pub fn direction(&self, name: &str, high: bool) -> String {
        let declared = if high { &self.high } else { &self.low };
        declared.clone().unwrap_or_else(|| {
            format!("{} {}", if high { "high" } else { "low" }, self.label(name))
        })
    }
}

/// What the business does with a segment.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Action {
    /// What the segment is for in decisions.
    pub decision_use: String,
    /// The operational rule applied to its contacts.
    pub operational_rule: String,
    /// How its contacts typically behave.
    pub typical_pattern: String,
    /// The campaign that works the segment, when the pipeline runs campaigns.
    pub campaign: Option<Campaign>,
}

/// A sales or marketing campaign, with the assumptions the expected-impact table projects from.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Campaign {
    pub channel: String,
    pub message: String,
    pub owner: String,
    /// Expected share of the segment's leads that close (an assumption, 0..=1).
    pub close_rate: f64,
    /// Expected value of a closed deal (an assumption, in the pipeline's currency).
    pub deal_size: f64,
}

/// The one-size-fits-all treatment the segment campaigns are compared with.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Impact {
    pub baseline_close_rate: f64,
    pub baseline_deal_size: f64,
    /// Currency of deal sizes, for the table's labels.
    #[serde(default = "default_currency")]
    pub currency: String,
}

fn default_currency() -> String {
    "USD".into()
}

/// The `{name}` placeholders of a narrative template, in order.
pub fn placeholders(template: &str) -> Vec<&str> {
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

/// A narrative placeholder: `[stat:]feature[|pct | |noun[|plural]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Placeholder<'a> {
    pub stat: Stat,
    /// A feature, or `n_contacts` / `share_pct` (the segment's size).
    pub feature: &'a str,
    pub format: Format,
}

/// How a placeholder's number is written.
#[derive(Debug, Clone, PartialEq)]
pub enum Format {
    Number,
    /// A share in [0, 1] as a percentage: "42.0 %".
    Percent,
    /// The number and the noun in the form that goes with it: "1 day", "3 days".
    Noun(Noun),
}

/// The placeholders that stand for a segment's size rather than a feature's statistic.
pub const SIZE_PLACEHOLDERS: [&str; 2] = ["n_contacts", "share_pct"];

/// Reads a narrative placeholder: an optional statistic before `:`, the feature, and after
/// `|` either `pct` or the noun that follows the number (one word whose plural is derived,
/// or the singular and plural).
pub fn parse_placeholder(placeholder: &str) -> std::result::Result<Placeholder<'_>, String> {
    let mut parts = placeholder.splitn(3, '|');
    let subject = parts.next().unwrap_or_default();
    let (stat, feature) = match subject.split_once(':') {
        Some((stat, feature)) => (Stat::parse(stat.trim())?, feature.trim()),
        None => (Stat::Median, subject.trim()),
    };
    if SIZE_PLACEHOLDERS.contains(&feature) && subject.contains(':') {
        return Err(format!(
            "`{{{placeholder}}}`: {feature} is the segment's size and takes no statistic"
        ));
    }
    let format = match (parts.next(), parts.next()) {
        (None, _) => Format::Number,
        (Some("pct"), None) => Format::Percent,
        (Some(singular), plural) => Format::Noun(Noun::new(
            singular,
            &plural.map_or_else(|| plural_of(singular), str::to_string),
        )),
    };
    Ok(Placeholder {
        stat,
        feature,
        format,
    })
}

impl Validate for Params {
    fn validate(&self) -> Result<()> {
        if self.k.is_some_and(|k| k < 2) {
            return Err(Error::config("", "k", "needs K ≥ 2"));
        }
        self.check_algorithm_settings()?;
        if self.n_init == 0 || self.max_iter == 0 {
            return Err(Error::config(
                "",
                "n_init",
                "n_init and max_iter must be ≥ 1",
            ));
        }
        if !(self.tol >= 0.0 && self.tol.is_finite()) {
            return Err(Error::config("", "tol", "must be a finite number ≥ 0"));
        }
        if self.silhouette_sample_size < 2 {
            return Err(Error::config("", "silhouette_sample_size", "must be ≥ 2"));
        }
        if self.mix_top == 0 {
            return Err(Error::config("", "mix_top", "must be ≥ 1"));
        }
        self.check_campaigns()?;
        if let Some(template) = &self.narrative {
            for placeholder in placeholders(template) {
                parse_placeholder(placeholder).map_err(|e| Error::config("", "narrative", e))?;
            }
        }
        self.check_role_names()
    }
}

impl Params {
    /// Every feature the cards, the naming roles and the narrative name is a column of the
    /// features (`upstream`), or a segment's size where that may be named.
    pub fn check_references(&self, upstream: &Columns) -> Result<()> {
        let c = &self.cards;
        let lists = [
            ("medians", c.medians.as_deref().unwrap_or_default()),
            ("spreads", &c.spreads),
            ("means", &c.means),
            ("stds", &c.stds),
            ("any", &c.any),
        ];
        for (list, names) in lists {
            for (i, name) in names.iter().enumerate() {
                upstream.check(&format!("cards.{list}[{i}]"), name, &[])?;
            }
        }
        for (i, role) in self.naming.roles.iter().enumerate() {
            for (j, criterion) in role.by.iter().enumerate() {
                upstream.check(
                    &format!("naming.roles[{i}].by[{j}].{}", criterion.direction.word()),
                    criterion.key(),
                    &["n_contacts"],
                )?;
            }
        }
        if let Some(template) = &self.narrative {
            for placeholder in placeholders(template) {
                let name = parse_placeholder(placeholder)
                    .map_err(|e| Error::config("", "narrative", e))?
                    .feature;
                upstream.check("narrative", name, &SIZE_PLACEHOLDERS)?;
            }
        }
        for (i, role) in self.naming.roles.iter().enumerate() {
            for t in &role.conditions.0 {
                upstream.check(
                    &format!("naming.roles[{i}].where.{}.{}", t.stat, t.feature),
                    &t.feature,
                    &[],
                )?;
            }
        }
        for name in self.features.keys() {
            upstream.check(&format!("features.{name}"), name, &[])?;
        }
        for column in self.labels.keys() {
            upstream.check(&format!("labels.{column}"), column, &[])?;
        }
        Ok(())
    }

    /// DBSCAN's, the mixture's and mini-batch k-means' settings go with their algorithm and
    /// are in range.
    fn check_algorithm_settings(&self) -> Result<()> {
        let chosen = self.algorithm == Algorithm::MinibatchKmeans;
        if let Some(problem) = MiniBatchSpec::check(self.minibatch.as_ref(), chosen) {
            return Err(Error::config("", "minibatch", problem));
        }
        if let Some(d) = &self.dbscan {
            if self.algorithm != Algorithm::Dbscan {
                return Err(Error::config(
                    "",
                    "dbscan",
                    "DBSCAN settings need `algorithm: dbscan`",
                ));
            }
            if !(d.eps > 0.0 && d.eps.is_finite()) || d.min_samples == 0 {
                return Err(Error::config(
                    "",
                    "dbscan",
                    "needs eps > 0 and min_samples ≥ 1",
                ));
            }
        }
        if let Some(g) = &self.gmm {
            if self.algorithm != Algorithm::Gmm {
                return Err(Error::config(
                    "",
                    "gmm",
                    "mixture settings need `algorithm: gmm`",
                ));
            }
            let valid =
                |v: f64, strictly: bool| v.is_finite() && (v > 0.0 || (!strictly && v == 0.0));
            if g.n_init == 0 || g.max_iter == 0 || !valid(g.reg_covar, false) || !valid(g.tol, true)
            {
                return Err(Error::config(
                    "",
                    "gmm",
                    "needs n_init, max_iter ≥ 1, tol > 0 and reg_covar ≥ 0",
                ));
            }
        }
        Ok(())
    }

    /// Close rates lie in [0, 1], deal sizes are not negative, and with `impact` every action
    /// has a campaign to project.
    fn check_campaigns(&self) -> Result<()> {
        let rate = |key: String, r: f64| {
            if (0.0..=1.0).contains(&r) {
                Ok(())
            } else {
                Err(Error::config("", key, "a close rate lies in [0, 1]"))
            }
        };
        let size = |key: String, v: f64| {
            if v >= 0.0 {
                Ok(())
            } else {
                Err(Error::config("", key, "a deal size is at least 0"))
            }
        };
        let actions = self
            .naming
            .roles
            .iter()
            .enumerate()
            .map(|(i, r)| (format!("naming.roles[{i}].action"), &r.action))
            .chain(std::iter::once((
                "naming.fallback_action".to_string(),
                &self.naming.fallback_action,
            )));
        for (key, action) in actions {
            match (&action.campaign, &self.impact) {
                (Some(c), _) => {
                    rate(format!("{key}.campaign.close_rate"), c.close_rate)?;
                    size(format!("{key}.campaign.deal_size"), c.deal_size)?;
                }
                (None, Some(_)) => {
                    return Err(Error::config(
                        "",
                        format!("{key}.campaign"),
                        "`impact` projects every segment's campaign: give one here",
                    ));
                }
                (None, None) => {}
            }
        }
        if let Some(i) = &self.impact {
            rate("impact.baseline_close_rate".into(), i.baseline_close_rate)?;
            size("impact.baseline_deal_size".into(), i.baseline_deal_size)?;
        }
        Ok(())
    }

    /// Role names are set and distinct: they become segment names.
    fn check_role_names(&self) -> Result<()> {
        for (i, role) in self.naming.roles.iter().enumerate() {
            if role.name.trim().is_empty() {
                return Err(Error::config(
                    "",
                    format!("naming.roles[{i}].name"),
                    "must not be empty",
                ));
            }
            if let Some(j) = self.naming.roles[..i]
                .iter()
                .position(|r| r.name == role.name)
            {
                return Err(Error::config(
                    "",
                    format!("naming.roles[{i}].name"),
                    format!("`{}` is also the name of role {j}", role.name),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn narrative_placeholders_are_found_in_order() {
        assert_eq!(
            placeholders("{n_calls} calls, {recency_days} days; {share_pct} %"),
            ["n_calls", "recency_days", "share_pct"]
        );
    }

    #[test]
    fn a_placeholder_may_name_its_noun() {
        let p = parse_placeholder("recency_days").unwrap();
        assert_eq!(
            (p.stat, p.feature, p.format),
            (Stat::Median, "recency_days", Format::Number)
        );
        let p = parse_placeholder("n_days|day").unwrap();
        let Format::Noun(noun) = p.format else {
            panic!("a noun")
        };
        assert_eq!((p.feature, noun.count(1)), ("n_days", "1 day".to_string()));
        let Format::Noun(noun) = parse_placeholder("n|person|people").unwrap().format else {
            panic!("a noun")
        };
        assert_eq!(noun.form(2), "people");
    }

    #[test]
    fn a_placeholder_may_name_its_statistic_and_a_percentage() {
        let p = parse_placeholder("share_nonzero:n_returns|pct").unwrap();
        assert_eq!(
            (p.stat, p.feature, p.format),
            (Stat::ShareNonzero, "n_returns", Format::Percent)
        );
        assert_eq!(
            parse_placeholder("q90:gap").unwrap().stat,
            Stat::Quantile(0.9)
        );
        assert!(parse_placeholder("mean:n_contacts").is_err());
        assert!(
            parse_placeholder("mode:x")
                .unwrap_err()
                .contains("unknown statistic")
        );
    }

    fn roles(yaml: &str) -> std::result::Result<Vec<Role>, String> {
        let tree = segflow_core::yaml::parse_document("t.yaml", yaml).map_err(|e| e.to_string())?;
        segflow_core::params::parse_params::<Naming>(&tree)
            .map(|n| n.roles)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn roles_rank_on_any_statistic_under_thresholds() {
        let r = roles(
            "roles:\n  - name: Loyal\n    by: [{highest: n_days, stat: q90}, {lowest: n_contacts}]\n    \
             where: {median: {n_days: {ge: 3, lt: 20}}, share_nonzero: {returns: {le: 0.5}}}\n    \
             action: {decision_use: a, operational_rule: b, typical_pattern: c}\n",
        )
        .unwrap();
        let by = &r[0].by;
        assert_eq!(
            (by[0].direction, by[0].key(), by[0].stat),
            (Direction::Highest, "n_days", Stat::Quantile(0.9))
        );
        assert_eq!(by[1].stat, Stat::Median);
        let described: Vec<String> = r[0].conditions.0.iter().map(Threshold::describe).collect();
        assert_eq!(
            described,
            [
                "median n_days ≥ 3",
                "median n_days < 20",
                "share_nonzero returns ≤ 0.500"
            ]
        );
    }

    #[test]
    fn malformed_criteria_and_thresholds_are_config_errors() {
        let action = "action: {decision_use: a, operational_rule: b, typical_pattern: c}";
        for (bad, says) in [
            ("by: [{highest: a, lowest: b}]", "exactly one of"),
            ("by: [{highest: n_contacts, stat: mean}]", "takes no `stat`"),
            ("by: [{highest: a, stat: mode}]", "unknown statistic"),
            ("where: {median: {a: {}}}", "give a bound"),
            ("where: {q120: {a: {ge: 1}}}", "lies in [0, 1]"),
            ("where: {median: {a: {gte: 1}}}", "gte"),
        ] {
            let err =
                roles(&format!("roles:\n  - name: R\n    {bad}\n    {action}\n")).unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
        }
    }
}
