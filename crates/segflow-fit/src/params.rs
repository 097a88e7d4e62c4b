//! The fit stage's params: the clustering, the card layout, the naming roles and the actions.

use std::collections::BTreeMap;

use serde::Deserialize;

use segflow_cluster::{dbscan, gmm, kmeans, ward};
use segflow_core::nouns::{Noun, Nouns, plural_of};
use segflow_core::params::Validate;
use segflow_core::stage::Columns;
use segflow_core::{Error, Result};

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    #[serde(default)]
    pub algorithm: Algorithm,
    /// DBSCAN's settings (with `algorithm: dbscan`).
    pub dbscan: Option<DbscanSpec>,
    /// The mixture's settings (with `algorithm: gmm`).
    pub gmm: Option<GmmSpec>,
    /// Number of segments; absent → the K in select_k's decision artifact.
    pub k: Option<usize>,
    #[serde(default = "default_n_init")]
    pub n_init: usize,
    #[serde(default = "default_max_iter")]
    pub max_iter: usize,
    #[serde(default = "default_tol")]
    pub tol: f64,
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
    /// `{n_contacts}` and `{share_pct}` its size; `{feature|day}` (or `{feature|person|people}`)
    /// adds the noun in the form that goes with the number ("1 day", "3 days").
    pub narrative: Option<String>,
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
}

impl Algorithm {
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Kmeans => "kmeans",
            Algorithm::Ward => "ward",
            Algorithm::Dbscan => "dbscan",
            Algorithm::Gmm => "gmm",
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
    pub action: Action,
}

/// `{lowest: feature}` or `{highest: feature}`: the segment median of a feature, or
/// `n_contacts`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Criterion {
    Lowest(String),
    Highest(String),
}

impl Criterion {
    pub fn key(&self) -> &str {
        match self {
            Criterion::Lowest(k) | Criterion::Highest(k) => k,
        }
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

/// A narrative placeholder's feature and, after `|`, the noun that follows its number: one
/// word whose plural is derived, or the singular and plural.
pub fn placeholder_parts(placeholder: &str) -> (&str, Option<Noun>) {
    let mut parts = placeholder.splitn(3, '|');
    let feature = parts.next().unwrap_or_default();
    let noun = parts.next().map(|singular| {
        let plural = parts
            .next()
            .map_or_else(|| plural_of(singular), str::to_string);
        Noun::new(singular, &plural)
    });
    (feature, noun)
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
        if self.mix_top == 0 {
            return Err(Error::config("", "mix_top", "must be ≥ 1"));
        }
        self.check_campaigns()?;
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
                let direction = match criterion {
                    Criterion::Lowest(_) => "lowest",
                    Criterion::Highest(_) => "highest",
                };
                upstream.check(
                    &format!("naming.roles[{i}].by[{j}].{direction}"),
                    criterion.key(),
                    &["n_contacts"],
                )?;
            }
        }
        if let Some(template) = &self.narrative {
            for placeholder in placeholders(template) {
                let (name, _) = placeholder_parts(placeholder);
                upstream.check("narrative", name, &["n_contacts", "share_pct"])?;
            }
        }
        for column in self.labels.keys() {
            upstream.check(&format!("labels.{column}"), column, &[])?;
        }
        Ok(())
    }

    /// DBSCAN's and the mixture's settings go with their algorithm and are in range.
    fn check_algorithm_settings(&self) -> Result<()> {
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
        assert_eq!(placeholder_parts("recency_days"), ("recency_days", None));
        let (f, noun) = placeholder_parts("n_days|day");
        assert_eq!((f, noun.unwrap().count(1)), ("n_days", "1 day".to_string()));
        let (_, noun) = placeholder_parts("n|person|people");
        assert_eq!(noun.unwrap().form(2), "people");
    }
}
