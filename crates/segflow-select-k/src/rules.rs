//! The decision rules: which K each rule chooses among the scored K, and the reason it gives,
//! with what the segment-share guard changed and the cautions a skeptical reader needs (a flat
//! silhouette curve, neighbouring K as good as the chosen one).

use segflow_cluster::structure::{AS_GOOD_SILHOUETTE, FLAT_SILHOUETTE};
use segflow_cluster::{CLEAR_KNEE, Knee, kneedle};
use segflow_core::decision::CAUTION;
use segflow_core::error::Location;
use segflow_core::{Error, Result};

use crate::gap::one_se_choice;
use crate::{Elbow, KScore, Params, Rule, Tiebreak};

#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub k: usize,
    pub rule: String,
    pub reason: String,
    /// Kneedle's knee of the inertia curve, however faint.
    pub knee: Option<usize>,
}

pub fn decide(scores: &[KScore], params: &Params) -> Result<Decision> {
    let knee = kneedle(
        &scores
            .iter()
            .map(|s| (s.k as f64, s.inertia))
            .collect::<Vec<_>>(),
    );
    let guarded = Candidates::new(scores, params.min_segment_share, knee);
    let (k, rule, mut reason) = choose(&guarded, params)?;
    reason.push_str(&guard_note(&guarded, k, params));
    reason.push_str(&cautions(scores, k));
    Ok(Decision {
        k,
        rule: rule.to_string(),
        reason,
        knee: knee.map(|kn| scores[kn.index].k),
    })
}

fn choose(c: &Candidates<'_>, params: &Params) -> Result<Choice> {
    match &params.rule {
        Rule::Fixed(k) => fixed(c, *k),
        Rule::MaxSilhouette => max_silhouette(c),
        Rule::Elbow(Elbow::Knee) => elbow_knee(c),
        Rule::Elbow(Elbow::LargestDrop) => elbow_largest_drop(c),
        Rule::MinBic => min_bic(c),
        Rule::Consensus => consensus(c, params.tiebreak.unwrap_or_default()),
        Rule::Gap => gap(c, params.gap_b()),
    }
}

/// What the segment-share guard did: the K it excluded, and the K the rule would have chosen
/// without it when that differs.
fn guard_note(guarded: &Candidates<'_>, k: usize, params: &Params) -> String {
    let share = params.min_segment_share;
    let excluded: Vec<&KScore> = guarded
        .scores
        .iter()
        .filter(|s| !guarded.is_eligible(s.k))
        .collect();
    if share == 0.0 || excluded.is_empty() {
        return String::new();
    }
    let list = excluded
        .iter()
        .map(|s| format!("{} ({:.1} %)", s.k, s.smallest_share() * 100.0))
        .collect::<Vec<_>>()
        .join(", ");
    let open = Candidates::new(guarded.scores, 0.0, guarded.knee);
    let effect = match choose(&open, params) {
        Ok((unguarded, ..)) if unguarded != k => {
            format!("without it the rule would have chosen K = {unguarded}")
        }
        _ => "it did not change the choice".to_string(),
    };
    format!(
        ". min_segment_share {:.1} % excluded K = {list} (smallest segment's share); {effect}",
        share * 100.0
    )
}

/// Cautions about the silhouette curve: flat across K, or a neighbour of the chosen K as good.
fn cautions(scores: &[KScore], k: usize) -> String {
    let mut out = Vec::new();
    let (lo, hi) = scores
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), s| {
            (a.min(s.silhouette), b.max(s.silhouette))
        });
    if scores.len() > 1 && hi - lo < FLAT_SILHOUETTE {
        out.push(format!(
            "the silhouette curve is flat ({lo:.3}–{hi:.3} over K = {}..{}, a range under {FLAT_SILHOUETTE}): no K separates the data clearly better than another",
            scores[0].k,
            scores[scores.len() - 1].k
        ));
    }
    if let Some(chosen) = scores.iter().find(|s| s.k == k) {
        let as_good: Vec<String> = scores
            .iter()
            .filter(|s| s.k + 1 == k || s.k == k + 1)
            .filter(|s| s.silhouette >= chosen.silhouette - AS_GOOD_SILHOUETTE)
            .map(|s| format!("K = {} ({:.3})", s.k, s.silhouette))
            .collect();
        if !as_good.is_empty() {
            out.push(format!(
                "the silhouette does not single out K = {k} ({:.3}): neighbouring {} {} within {AS_GOOD_SILHOUETTE} of it or above",
                chosen.silhouette,
                as_good.join(" and "),
                if as_good.len() == 1 { "scores" } else { "score" },
            ));
        }
    }
    if out.is_empty() {
        String::new()
    } else {
        format!("{CAUTION}{}", out.join("; "))
    }
}

/// What every rule chooses from: the scores, the K that pass the segment-share guard, and
/// the knee of the inertia curve.
struct Candidates<'a> {
    scores: &'a [KScore],
    eligible: Vec<&'a KScore>,
    knee: Option<Knee>,
    min_segment_share: f64,
}

/// A rule's choice: K, the rule's name, and the reason.
type Choice = (usize, &'static str, String);

impl<'a> Candidates<'a> {
    fn new(scores: &'a [KScore], min_segment_share: f64, knee: Option<Knee>) -> Candidates<'a> {
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

    /// The knee's K when it is clear.
    fn clear_knee(&self) -> Option<usize> {
        self.knee
            .filter(Knee::is_clear)
            .map(|kn| self.scores[kn.index].k)
    }

    /// The knee in words: where it is and how strong, or that there is no clear one.
    fn knee_text(&self) -> String {
        match self.knee {
            Some(kn) if kn.is_clear() => format!(
                "K = {} (Kneedle difference {:.2})",
                self.scores[kn.index].k, kn.difference
            ),
            Some(kn) => format!(
                "no clear knee (Kneedle's best, K = {}, has difference {:.2} < {CLEAR_KNEE})",
                self.scores[kn.index].k, kn.difference
            ),
            None => "no knee (Kneedle finds none)".to_string(),
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

/// Picks the smallest K with the best value of `key` among `scores` (greater is better).
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
        format!("Highest silhouette score: {:.3}", c.score(k).silhouette),
    ))
}

fn elbow_knee(c: &Candidates<'_>) -> Result<Choice> {
    let k = c.clear_knee().ok_or_else(|| {
        Error::data(
            Location::default(),
            format!(
                "the inertia curve has {}; choose another rule",
                c.knee_text()
            ),
        )
    })?;
    if !c.is_eligible(k) {
        return Err(Error::data(
            Location::default(),
            format!("the knee K = {k} has a segment below min_segment_share"),
        ));
    }
    let s = c.score(k);
    let prev = c.scores.iter().find(|p| p.k + 1 == k);
    let next = c.scores.iter().find(|p| p.k == k + 1);
    let pct = |a: &KScore, b: &KScore| (a.inertia - b.inertia) / a.inertia * 100.0;
    let mut reason = format!("Knee of the inertia curve (Kneedle) at {}", c.knee_text());
    match (prev, next) {
        (Some(p), Some(nx)) => {
            let (before, after) = (pct(p, s), pct(s, nx));
            let compared = if after < before {
                "a smaller drop"
            } else {
                "a drop no smaller"
            };
            reason.push_str(&format!(
                ": inertia falls {before:.1} % from K = {} and then {after:.1} % to K = {}, {compared}",
                p.k, nx.k
            ));
        }
        (Some(p), None) => reason.push_str(&format!(
            ": inertia falls {:.1} % from K = {}",
            pct(p, s),
            p.k
        )),
        (None, Some(nx)) => reason.push_str(&format!(
            ": inertia falls {:.1} % to K = {}",
            pct(s, nx),
            nx.k
        )),
        (None, None) => {}
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
            "Largest relative inertia drop: {:.1} % from K = {} to K = {k}",
            drop * 100.0,
            k - 1
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
            "Lowest BIC of a Gaussian mixture: {:.1}",
            c.score(k).bic.unwrap_or(f64::NAN)
        ),
    ))
}

fn gap(c: &Candidates<'_>, b: usize) -> Result<Choice> {
    let gaps: Vec<_> = c
        .scores
        .iter()
        .map(|s| s.gap.expect("gap is computed for the gap rule"))
        .collect();
    let source = format!(
        "Gap statistic (Tibshirani, Walther & Hastie 2001; B = {b} reference sets uniform over the principal-component box)"
    );
    if let Some(i) = one_se_choice(&gaps, |i| c.is_eligible(c.scores[i].k)) {
        let (k, next) = (c.scores[i].k, c.scores[i + 1].k);
        let (g, gn) = (gaps[i], gaps[i + 1]);
        return Ok((
            k,
            "gap",
            format!(
                "{source}: K = {k} is the smallest K with Gap({k}) ≥ Gap({next}) − s({next}): {:.4} ≥ {:.4} − {:.4} = {:.4}",
                g.gap,
                gn.gap,
                gn.s,
                gn.gap - gn.s
            ),
        ));
    }
    // Gap still rises by more than its error at every K: the range ends before the structure
    // does, and the largest K computed is the closest to what the statistic asks for.
    let last = c.eligible.last().ok_or_else(|| c.none_eligible())?.k;
    Ok((
        last,
        "gap",
        format!(
            "{source}: no K up to {} has Gap(k) ≥ Gap(k+1) − s(k+1); Gap still rises at the end of the range, so K = {last}, the largest allowed, and a wider range may choose more",
            c.scores[c.scores.len() - 1].k - 1
        ),
    ))
}

fn consensus(c: &Candidates<'_>, tiebreak: Tiebreak) -> Result<Choice> {
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
        ("knee", c.clear_knee().filter(|k| c.is_eligible(*k))),
    ];
    let counts = tally(&votes);
    let (leader, most) = *counts.first().ok_or_else(|| c.none_eligible())?;
    let cast = votes.iter().filter(|v| v.1.is_some()).count();
    let detail: Vec<String> = votes
        .iter()
        .map(|(name, v)| match (*name, v, c.knee) {
            ("knee", Some(k), Some(kn)) => {
                format!("knee → {k} (Kneedle difference {:.2})", kn.difference)
            }
            ("knee", None, _) => match c.clear_knee() {
                Some(k) => format!("knee → {k}, excluded by min_segment_share"),
                None => format!("knee → {}", c.knee_text()),
            },
            (_, Some(k), _) => format!("{name} → {k}"),
            (_, None, _) => format!("{name} → none"),
        })
        .collect();
    let detail = detail.join(", ");
    if 2 * most > cast {
        let agree = if most == cast {
            format!("all {cast} votes agree")
        } else {
            format!("{most} of {cast} votes")
        };
        return Ok((
            leader,
            "consensus",
            format!("Majority of indices: K = {leader}, {agree} ({detail})"),
        ));
    }
    let tied: Vec<usize> = counts
        .iter()
        .filter(|(_, n)| *n == most)
        .map(|(k, _)| *k)
        .collect();
    let votes_word = if most == 1 { "vote" } else { "votes" };
    if tied.len() == 1 {
        return Ok((
            leader,
            "consensus",
            format!(
                "No majority of indices ({detail}): K = {leader} has the most votes, {most} of {cast}"
            ),
        ));
    }
    let (k, why) = break_tie(c, &tied, tiebreak);
    let list = tied
        .iter()
        .map(|k| k.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    Ok((
        k,
        "consensus",
        format!(
            "No majority of indices ({detail}): K = {list} tie with {most} {votes_word} each of {cast}; tiebreak `{}` takes K = {k}{why}",
            tiebreak.name()
        ),
    ))
}

/// The K the tiebreak takes among `tied` (ascending), and why, as the end of a sentence.
fn break_tie(c: &Candidates<'_>, tied: &[usize], tiebreak: Tiebreak) -> (usize, String) {
    let by_silhouette = || {
        let scores: Vec<&KScore> = tied.iter().map(|&k| c.score(k)).collect();
        let k = best_by(&scores, |s| s.silhouette).expect("a tie has K");
        (
            k,
            format!(
                ", the highest silhouette among them ({:.3})",
                c.score(k).silhouette
            ),
        )
    };
    match tiebreak {
        Tiebreak::MaxSilhouette => by_silhouette(),
        Tiebreak::SmallestK => (tied[0], ", the smallest".to_string()),
        Tiebreak::LargestK => (tied[tied.len() - 1], ", the largest".to_string()),
        Tiebreak::Knee => match c.clear_knee() {
            Some(knee) => {
                let k = *tied
                    .iter()
                    .min_by_key(|&&k| k.abs_diff(knee))
                    .expect("a tie has K");
                (k, format!(", the nearest to the knee at K = {knee}"))
            }
            None => {
                let (k, why) = by_silhouette();
                (
                    k,
                    format!(
                        "{why}: the inertia curve has {}, so the tiebreak falls back to max_silhouette",
                        c.knee_text()
                    ),
                )
            }
        },
    }
}

/// Votes per K, most votes first; equal counts in ascending K.
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
