//! The decision rules: which K each rule chooses among the scored K, and the reason it gives.

use segflow_core::error::Location;
use segflow_core::{Error, Result};

use crate::{Elbow, KScore, Params, Rule, kneedle};

#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub k: usize,
    pub rule: String,
    pub reason: String,
    pub knee: Option<usize>,
}

pub fn decide(scores: &[KScore], params: &Params) -> Result<Decision> {
    let c = Candidates::new(scores, params.min_segment_share);
    let (k, rule, reason) = match &params.rule {
        Rule::Fixed(k) => fixed(&c, *k)?,
        Rule::MaxSilhouette => max_silhouette(&c)?,
        Rule::Elbow(Elbow::Knee) => elbow_knee(&c)?,
        Rule::Elbow(Elbow::LargestDrop) => elbow_largest_drop(&c)?,
        Rule::MinBic => min_bic(&c)?,
        Rule::Consensus => consensus(&c)?,
    };
    Ok(Decision {
        k,
        rule: rule.to_string(),
        reason,
        knee: c.knee,
    })
}

/// What every rule chooses from: the scores, the K that pass the segment-share guard, and
/// the knee of the inertia curve.
struct Candidates<'a> {
    scores: &'a [KScore],
    eligible: Vec<&'a KScore>,
    knee: Option<usize>,
    min_segment_share: f64,
}

/// A rule's choice: K, the rule's name, and the reason.
type Choice = (usize, &'static str, String);

impl<'a> Candidates<'a> {
    fn new(scores: &'a [KScore], min_segment_share: f64) -> Candidates<'a> {
        let knee = kneedle(
            &scores
                .iter()
                .map(|s| (s.k as f64, s.inertia))
                .collect::<Vec<_>>(),
        )
        .map(|i| scores[i].k);
        let eligible = scores
            .iter()
            .filter(|s| s.smallest_share() >= min_segment_share)
            .collect();
        Candidates {
            scores,
            eligible,
            knee,
            min_segment_share,
        }
    }

    fn is_eligible(&self, k: usize) -> bool {
        self.eligible.iter().any(|s| s.k == k)
    }

    fn score(&self, k: usize) -> &KScore {
        self.scores.iter().find(|s| s.k == k).expect("k in range")
    }

    /// The end of a reason when the segment-share guard narrowed the choice.
    fn guard(&self) -> String {
        if self.min_segment_share > 0.0 {
            format!(
                " among K whose smallest segment holds at least {:.1} % of rows",
                self.min_segment_share * 100.0
            )
        } else {
            String::new()
        }
    }

    fn none_eligible(&self) -> Error {
        Error::data(
            Location::default(),
            format!(
                "no K in the range has every segment at least {:.1} % of rows",
                self.min_segment_share * 100.0
            ),
        )
    }
}

/// Picks the smallest K with the best value of `key` among `eligible` (greater is better).
fn best_by(scores: &[&KScore], key: impl Fn(&KScore) -> f64) -> Option<usize> {
    scores
        .iter()
        .fold(None::<&KScore>, |best, s| match best {
            Some(b) if key(b) >= key(s) => Some(b),
            _ => Some(s),
        })
        .map(|s| s.k)
}

fn fixed(c: &Candidates<'_>, k: usize) -> Result<Choice> {
    if !c.is_eligible(k) {
        return Err(Error::data(
            Location::default(),
            format!("fixed K = {k} has a segment below min_segment_share"),
        ));
    }
    Ok((k, "fixed", format!("K fixed to {k} in the pipeline")))
}

fn max_silhouette(c: &Candidates<'_>) -> Result<Choice> {
    let k = best_by(&c.eligible, |s| s.silhouette).ok_or_else(|| c.none_eligible())?;
    Ok((
        k,
        "max_silhouette",
        format!(
            "Highest silhouette score: {:.3}{}",
            c.score(k).silhouette,
            c.guard()
        ),
    ))
}

fn elbow_knee(c: &Candidates<'_>) -> Result<Choice> {
    let k = c.knee.ok_or_else(|| {
        Error::data(
            Location::default(),
            "the inertia curve has no knee (Kneedle); choose another rule",
        )
    })?;
    if !c.is_eligible(k) {
        return Err(Error::data(
            Location::default(),
            format!("the knee K = {k} has a segment below min_segment_share"),
        ));
    }
    let s = c.score(k);
    let prev = c.scores.iter().find(|p| p.k == k - 1);
    let next = c.scores.iter().find(|p| p.k == k + 1);
    let pct = |a: &KScore, b: &KScore| (a.inertia - b.inertia) / a.inertia * 100.0;
    let mut reason = format!("Knee of the inertia curve (Kneedle) at K = {k}");
    if let Some(p) = prev {
        reason.push_str(&format!(
            ": inertia falls {:.1} % from K = {}",
            pct(p, s),
            p.k
        ));
    }
    if let Some(nx) = next {
        reason.push_str(&format!(", then only {:.1} % to K = {}", pct(s, nx), nx.k));
    }
    Ok((k, "elbow_knee", reason))
}

fn elbow_largest_drop(c: &Candidates<'_>) -> Result<Choice> {
    let drops: Vec<(usize, f64)> = c
        .scores
        .windows(2)
        .filter(|w| c.is_eligible(w[1].k))
        .map(|w| (w[1].k, (w[0].inertia - w[1].inertia) / w[0].inertia))
        .collect();
    let (k, drop) = drops
        .iter()
        .fold(None::<(usize, f64)>, |b, &(k, d)| match b {
            Some((_, bd)) if bd >= d => b,
            _ => Some((k, d)),
        })
        .ok_or_else(|| c.none_eligible())?;
    Ok((
        k,
        "elbow_largest_drop",
        format!(
            "Largest relative inertia drop: {:.1} % from K = {} to K = {k}{}",
            drop * 100.0,
            k - 1,
            c.guard()
        ),
    ))
}

fn min_bic(c: &Candidates<'_>) -> Result<Choice> {
    let k = best_by(&c.eligible, |s| -s.bic.unwrap_or(f64::INFINITY))
        .ok_or_else(|| c.none_eligible())?;
    Ok((
        k,
        "min_bic",
        format!(
            "Lowest BIC of a Gaussian mixture: {:.1}{}",
            c.score(k).bic.unwrap_or(f64::NAN),
            c.guard()
        ),
    ))
}

fn consensus(c: &Candidates<'_>) -> Result<Choice> {
    let votes = [
        ("silhouette", best_by(&c.eligible, |s| s.silhouette)),
        (
            "Davies–Bouldin",
            best_by(&c.eligible, |s| -s.davies_bouldin),
        ),
        (
            "Calinski–Harabasz",
            best_by(&c.eligible, |s| s.calinski_harabasz),
        ),
        ("knee", c.knee.filter(|k| c.is_eligible(*k))),
    ];
    let counts = tally(&votes);
    let (k, n) = *counts.first().ok_or_else(|| c.none_eligible())?;
    let detail: Vec<String> = votes
        .iter()
        .map(|(name, v)| {
            format!(
                "{name} → {}",
                v.map_or("none".to_string(), |k| k.to_string())
            )
        })
        .collect();
    let agree = if counts.len() == 1 {
        "all indices agree".to_string()
    } else {
        format!(
            "{n} of {} votes",
            votes.iter().filter(|v| v.1.is_some()).count()
        )
    };
    Ok((
        k,
        "consensus",
        format!(
            "Majority of indices: K = {k}, {agree} ({}){}",
            detail.join(", "),
            c.guard()
        ),
    ))
}

/// Votes per K, most votes first; ties go to the smaller K.
fn tally(votes: &[(&str, Option<usize>)]) -> Vec<(usize, usize)> {
    let mut counts: Vec<(usize, usize)> = Vec::new();
    for k in votes.iter().filter_map(|v| v.1) {
        match counts.iter_mut().find(|c| c.0 == k) {
            Some(c) => c.1 += 1,
            None => counts.push((k, 1)),
        }
    }
    counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    counts
}
