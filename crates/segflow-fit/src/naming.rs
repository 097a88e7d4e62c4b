//! Segment names from the cards: roles claim clusters in priority order, so two roles never
//! name the same cluster; a role whose thresholds no cluster left meets stays unclaimed;
//! clusters no role claims are named from their distinguishing features, so any K gets
//! distinct names.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use segflow_core::nouns::Noun;

use crate::params::{Action, Criterion, Direction, FeatureWords, Naming, Role, Stat, Threshold};

#[derive(Debug, Clone, PartialEq)]
pub struct Named {
    pub name: String,
    /// Why the segment has its name, for reviewers.
    pub rule: String,
    pub action: Action,
}

/// The names of the segments, and the roles that stayed unclaimed because no cluster met
/// their thresholds (with why, for reviewers).
#[derive(Debug, Clone, PartialEq)]
pub struct Names {
    pub named: Vec<Named>,
    pub unclaimed: Vec<String>,
}

/// What naming needs to know about the clusters (ids are canonical: 0 is the largest).
pub struct Clusters<'a> {
    pub sizes: &'a [usize],
    /// A statistic of a feature (or `n_contacts`, the size), per cluster.
    pub stat: &'a dyn Fn(usize, &str, Stat) -> f64,
    /// Per cluster: model features by decreasing |standardized difference|, with the signed
    /// difference.
    pub distinguishing: &'a [Vec<(String, f64)>],
    /// The features' declared words, for fallback names.
    pub words: &'a BTreeMap<String, FeatureWords>,
    /// What a row of the model is, for the rules' words.
    pub entity: &'a Noun,
}

impl Clusters<'_> {
    fn value(&self, c: usize, key: &str, stat: Stat) -> f64 {
        if key == "n_contacts" {
            self.sizes[c] as f64
        } else {
            (self.stat)(c, key, stat)
        }
    }

    fn meets(&self, c: usize, t: &Threshold) -> bool {
        t.op.holds(self.value(c, &t.feature, t.stat), t.value)
    }
}

fn describe(c: &Criterion, value: f64) -> String {
    let word = c.direction.word();
    if c.key == "n_contacts" {
        format!("{word} n_contacts ({value})")
    } else {
        format!("{word} {} {} ({})", c.stat, c.key, crate::fmt_num(value))
    }
}

pub fn name_segments(naming: &Naming, clusters: &Clusters<'_>) -> Names {
    let k = clusters.sizes.len();
    let mut named: Vec<Option<Named>> = vec![None; k];
    let mut unclaimed = Vec::new();
    for role in &naming.roles {
        let open: Vec<usize> = (0..k).filter(|&c| named[c].is_none()).collect();
        if open.is_empty() {
            break;
        }
        let eligible: Vec<usize> = open
            .iter()
            .copied()
            .filter(|&c| role.conditions.0.iter().all(|t| clusters.meets(c, t)))
            .collect();
        if eligible.is_empty() {
            unclaimed.push(unmet(role, &open, clusters));
            continue;
        }
        let (chosen, rule) = claim(role, &eligible, open.len(), clusters);
        named[chosen] = Some(Named {
            name: role.name.clone(),
            rule,
            action: role.action.clone(),
        });
    }
    let taken: Vec<String> = named.iter().flatten().map(|n| n.name.clone()).collect();
    let left: Vec<usize> = (0..k).filter(|&c| named[c].is_none()).collect();
    for (c, name, n) in fallback_names(&left, &taken, clusters) {
        named[c] = Some(Named {
            name,
            rule: format!(
                "no role claimed it: named from its {n} most distinguishing features \
                 (standardized difference from all {})",
                clusters.entity.plural
            ),
            action: naming.fallback_action.clone(),
        });
    }
    Names {
        named: named
            .into_iter()
            .map(|n| n.expect("every cluster named"))
            .collect(),
        unclaimed,
    }
}

/// Why a role with thresholds claimed no cluster: each condition, with the range of the
/// statistic over the clusters left.
fn unmet(role: &Role, open: &[usize], clusters: &Clusters<'_>) -> String {
    let conditions: Vec<String> = role
        .conditions
        .0
        .iter()
        .map(|t| {
            let values = open.iter().map(|&c| clusters.value(c, &t.feature, t.stat));
            let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                (lo.min(v), hi.max(v))
            });
            let meeting = open.iter().filter(|&&c| clusters.meets(c, t)).count();
            format!(
                "{} ({meeting} of {} clusters left do; theirs run {} to {})",
                t.describe(),
                open.len(),
                crate::fmt_num(lo),
                crate::fmt_num(hi)
            )
        })
        .collect();
    format!(
        "role {}: unclaimed, no cluster left meets all of {}",
        role.name,
        conditions.join(" and ")
    )
}

/// The cluster a role claims among the `eligible` ones (ascending ids; those of the `open`
/// clusters that meet its thresholds), and why.
fn claim(role: &Role, eligible: &[usize], open: usize, clusters: &Clusters<'_>) -> (usize, String) {
    let k = clusters.sizes.len();
    let mut why: Vec<String> = Vec::new();
    let best = if role.by.is_empty() {
        // Canonical ids run by decreasing size, so the first eligible cluster is the largest.
        let first = eligible[0];
        why.push(format!(
            "the largest cluster no earlier role claimed ({})",
            clusters.entity.count(clusters.sizes[first] as u64)
        ));
        first
    } else {
        let order = |a: usize, b: usize| -> Ordering {
            for c in &role.by {
                let (x, y) = (
                    clusters.value(a, &c.key, c.stat),
                    clusters.value(b, &c.key, c.stat),
                );
                let o = match c.direction {
                    Direction::Lowest => x.total_cmp(&y),
                    Direction::Highest => y.total_cmp(&x),
                };
                if o != Ordering::Equal {
                    return o;
                }
            }
            a.cmp(&b)
        };
        let best = eligible
            .iter()
            .copied()
            .min_by(|&a, &b| order(a, b))
            .expect("eligible is non-empty");
        why.extend(
            role.by
                .iter()
                .map(|c| describe(c, clusters.value(best, &c.key, c.stat))),
        );
        best
    };
    if role.conditions.0.is_empty() && open < k && !role.by.is_empty() {
        why.push(format!("among the {open} clusters left"));
    }
    let mut rule = format!("role {}: {}", role.name, why.join(", then "));
    if !role.conditions.0.is_empty() {
        let conditions: Vec<String> = role.conditions.0.iter().map(Threshold::describe).collect();
        rule.push_str(&format!(
            ", among the {} clusters with {}",
            eligible.len(),
            conditions.join(" and ")
        ));
    }
    (best, rule)
}

/// Names for the clusters no role claimed, from their distinguishing features, distinct from
/// each other and from the `taken` role names: (cluster, name, features used).
fn fallback_names(
    unclaimed: &[usize],
    taken: &[String],
    clusters: &Clusters<'_>,
) -> Vec<(usize, String, usize)> {
    let distinguishing = clusters.distinguishing;
    let name = |c: usize, n: usize| feature_name(&distinguishing[c], n, clusters.words);
    let mut fallback: Vec<(usize, String, usize)> =
        unclaimed.iter().map(|&c| (c, name(c, 2), 2)).collect();
    // Lengthen colliding names one feature at a time; when features run out, the id decides.
    loop {
        let clash = |i: usize, list: &[(usize, String, usize)]| {
            taken.contains(&list[i].1)
                || list
                    .iter()
                    .enumerate()
                    .any(|(j, o)| j != i && o.1 == list[i].1)
        };
        let clashing: Vec<usize> = (0..fallback.len())
            .filter(|&i| clash(i, &fallback))
            .collect();
        if clashing.is_empty() {
            return fallback;
        }
        let mut grew = false;
        for i in clashing {
            let (c, _, n) = fallback[i];
            if n < distinguishing[c].len() {
                fallback[i] = (c, name(c, n + 1), n + 1);
                grew = true;
            }
        }
        if !grew {
            let list = fallback.clone();
            for (i, item) in fallback.iter_mut().enumerate() {
                if clash(i, &list) {
                    item.1 = format!("{} (segment {})", item.1, item.0);
                }
            }
            return fallback;
        }
    }
}

/// "Many calls · low recency_days" from the first `n` distinguishing features, in their
/// declared words where there are some.
fn feature_name(
    features: &[(String, f64)],
    n: usize,
    words: &BTreeMap<String, FeatureWords>,
) -> String {
    let none = FeatureWords::default();
    let words: Vec<String> = features
        .iter()
        .take(n)
        .map(|(f, d)| words.get(f).unwrap_or(&none).direction(f, *d >= 0.0))
        .collect();
    if words.is_empty() {
        return "Undistinguished".into();
    }
    let mut s = words.join(" · ");
    // Declared words may start with any letter, not only an ASCII one.
    if let Some(first) = s.chars().next() {
        s = first.to_uppercase().chain(s.chars().skip(1)).collect();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::{Op, Role};

    fn action(tag: &str) -> Action {
        Action {
            decision_use: tag.into(),
            operational_rule: tag.into(),
            typical_pattern: tag.into(),
            campaign: None,
        }
    }

    fn role(name: &str, by: Vec<Criterion>) -> Role {
        Role {
            name: name.into(),
            by,
            conditions: Default::default(),
            action: action(name),
        }
    }

    fn criterion(direction: Direction, key: &str) -> Criterion {
        Criterion {
            direction,
            key: key.into(),
            stat: Stat::Median,
        }
    }

    fn lowest(key: &str) -> Criterion {
        criterion(Direction::Lowest, key)
    }

    fn highest(key: &str) -> Criterion {
        criterion(Direction::Highest, key)
    }

    fn reference_roles() -> Naming {
        Naming {
            roles: vec![
                role("One-off", vec![lowest("n_calls"), lowest("total_dur_sec")]),
                role(
                    "Core active",
                    vec![highest("n_calls"), highest("n_contacts")],
                ),
                role(
                    "Rare deep",
                    vec![highest("median_dur_sec"), highest("long_call_share")],
                ),
                role("Warm occasional", vec![]),
            ],
            fallback_action: action("fallback"),
        }
    }

    /// Columns: n_calls, total_dur_sec, median_dur_sec, long_call_share per cluster.
    fn names(sizes: &[usize], table: &[[f64; 4]], dist: &[Vec<(String, f64)>]) -> Vec<Named> {
        names_with(&reference_roles(), sizes, table, dist, &BTreeMap::new()).named
    }

    /// Medians from `table`; a mean is the median + 1, any other statistic the median × 10,
    /// so tests can tell which one a role read.
    fn names_with(
        naming: &Naming,
        sizes: &[usize],
        table: &[[f64; 4]],
        dist: &[Vec<(String, f64)>],
        words: &BTreeMap<String, FeatureWords>,
    ) -> Names {
        let stat = |c: usize, key: &str, stat: Stat| {
            let median = median_of(table, c, key);
            match stat {
                Stat::Median => median,
                Stat::Mean => median + 1.0,
                _ => median * 10.0,
            }
        };
        name_segments(
            naming,
            &Clusters {
                sizes,
                stat: &stat,
                distinguishing: dist,
                words,
                entity: &Noun::new("contact", "contacts"),
            },
        )
    }

    fn median_of(table: &[[f64; 4]], c: usize, key: &str) -> f64 {
        match key {
            "n_calls" => table[c][0],
            "total_dur_sec" => table[c][1],
            "median_dur_sec" => table[c][2],
            "long_call_share" => table[c][3],
            other => panic!("unknown key {other}"),
        }
    }

    fn no_features(k: usize) -> Vec<Vec<(String, f64)>> {
        (0..k)
            .map(|c| vec![(format!("f{c}"), 1.0), ("g".into(), -1.0)])
            .collect()
    }

    #[test]
    fn the_reference_rules_name_four_distinct_clusters() {
        let n = names(
            &[900, 600, 400, 191],
            &[
                [1.0, 30.0, 30.0, 0.0],
                [4.0, 300.0, 40.0, 0.0],
                [40.0, 2000.0, 35.0, 0.01],
                [2.0, 600.0, 300.0, 1.0],
            ],
            &no_features(4),
        );
        let got: Vec<&str> = n.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(
            got,
            ["One-off", "Warm occasional", "Core active", "Rare deep"]
        );
        assert_eq!(
            n[0].rule,
            "role One-off: lowest median n_calls (1), then lowest median total_dur_sec (30)"
        );
        assert_eq!(n[1].action, action("Warm occasional"));
    }

    #[test]
    fn a_collision_goes_to_the_earlier_role_and_the_later_takes_the_next_best() {
        // Cluster 0 has both the fewest calls and the longest calls.
        let n = names(
            &[500, 400, 300],
            &[
                [1.0, 900.0, 400.0, 0.9],
                [3.0, 100.0, 20.0, 0.0],
                [30.0, 3000.0, 50.0, 0.1],
            ],
            &no_features(3),
        );
        let got: Vec<&str> = n.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(got, ["One-off", "Rare deep", "Core active"]);
        assert!(
            n[1].rule.contains("among the 1 clusters left"),
            "{}",
            n[1].rule
        );
    }

    #[test]
    fn ties_fall_to_the_next_criterion_then_to_the_larger_cluster() {
        let n = names(
            &[300, 200, 100],
            &[
                [2.0, 50.0, 10.0, 0.0],
                [2.0, 40.0, 10.0, 0.0],
                [2.0, 40.0, 10.0, 0.0],
            ],
            &no_features(3),
        );
        assert_eq!(n[1].name, "One-off");
        // Core active: n_calls tie, then most contacts → cluster 0.
        assert_eq!(n[0].name, "Core active");
        assert_eq!(n[2].name, "Rare deep");
    }

    #[test]
    fn extra_clusters_get_distinct_names_from_their_features() {
        let table = [[1.0, 1.0, 1.0, 0.0]; 6];
        let f = |a: &str, x: f64, b: &str, y: f64, c: &str, z: f64| {
            vec![(a.to_string(), x), (b.to_string(), y), (c.to_string(), z)]
        };
        let dist = vec![
            f("a", 1.0, "b", 1.0, "c", 1.0),
            f("a", 1.0, "b", 1.0, "c", 1.0),
            f("a", 1.0, "b", 1.0, "c", 1.0),
            f("a", 1.0, "b", 1.0, "c", 1.0),
            f("recency_days", 2.0, "n_calls", -1.0, "c", 1.0),
            f("recency_days", 2.0, "n_calls", -1.0, "x", -0.5),
        ];
        let n = names(&[6, 5, 4, 3, 2, 1], &table, &dist);
        assert_eq!(n[4].name, "High recency_days · low n_calls · high c");
        assert_eq!(n[5].name, "High recency_days · low n_calls · low x");
        assert_eq!(n[4].action, action("fallback"));
        let mut all: Vec<&str> = n.iter().map(|n| n.name.as_str()).collect();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 6);
    }

    #[test]
    fn identical_features_fall_back_to_the_segment_id() {
        let table = [[1.0, 1.0, 1.0, 0.0]; 6];
        let dist: Vec<_> = (0..6).map(|_| vec![("a".to_string(), 1.0)]).collect();
        let n = names(&[6, 5, 4, 3, 2, 1], &table, &dist);
        assert_eq!(n[4].name, "High a (segment 4)");
        assert_eq!(n[5].name, "High a (segment 5)");
    }

    fn with_threshold(mut r: Role, stat: Stat, feature: &str, op: Op, value: f64) -> Role {
        r.conditions.0.push(Threshold {
            stat,
            feature: feature.into(),
            op,
            value,
        });
        r
    }

    #[test]
    fn a_role_whose_thresholds_no_cluster_meets_stays_unclaimed() {
        // The most calls any cluster has is 9: "Core active" wants at least 10, and must not
        // take the least-bad cluster.
        let mut naming = reference_roles();
        naming.roles[1] = with_threshold(
            naming.roles[1].clone(),
            Stat::Median,
            "n_calls",
            Op::Ge,
            10.0,
        );
        let table = [
            [1.0, 1.0, 1.0, 0.0],
            [9.0, 1.0, 5.0, 0.0],
            [4.0, 1.0, 2.0, 0.0],
        ];
        let n = names_with(
            &naming,
            &[10, 5, 3],
            &table,
            &no_features(3),
            &BTreeMap::new(),
        );
        let got: Vec<&str> = n.named.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(got, ["One-off", "Rare deep", "Warm occasional"]);
        assert!(!got.contains(&"Core active"));
        assert_eq!(
            n.unclaimed,
            [
                "role Core active: unclaimed, no cluster left meets all of median n_calls ≥ 10 \
              (0 of 2 clusters left do; theirs run 4 to 9)"
            ]
        );
    }

    #[test]
    fn a_role_claims_the_best_cluster_among_those_meeting_its_thresholds() {
        // Cluster 1 has the most calls but too short calls; cluster 2 qualifies.
        let mut naming = reference_roles();
        naming.roles[1] = with_threshold(
            naming.roles[1].clone(),
            Stat::Median,
            "median_dur_sec",
            Op::Gt,
            3.0,
        );
        let table = [
            [1.0, 1.0, 1.0, 0.0],
            [9.0, 1.0, 2.0, 0.0],
            [4.0, 1.0, 5.0, 0.0],
        ];
        let n = names_with(
            &naming,
            &[10, 5, 3],
            &table,
            &no_features(3),
            &BTreeMap::new(),
        );
        assert_eq!(n.named[2].name, "Core active");
        assert_eq!(
            n.named[2].rule,
            "role Core active: highest median n_calls (4), then highest n_contacts (3), \
             among the 1 clusters with median median_dur_sec > 3"
        );
        assert!(n.unclaimed.is_empty());
    }

    #[test]
    fn roles_rank_on_the_statistic_they_name() {
        let mut naming = reference_roles();
        naming.roles.truncate(1);
        naming.roles[0].by = vec![Criterion {
            direction: Direction::Highest,
            key: "n_calls".into(),
            stat: Stat::Quantile(0.9),
        }];
        let table = [[1.0, 1.0, 1.0, 0.0], [9.0, 1.0, 2.0, 0.0]];
        let n = names_with(&naming, &[10, 5], &table, &no_features(2), &BTreeMap::new());
        assert_eq!(n.named[1].name, "One-off");
        assert_eq!(n.named[1].rule, "role One-off: highest q90 n_calls (90)");
    }

    #[test]
    fn fallback_names_use_the_features_declared_words() {
        let mut words = BTreeMap::new();
        words.insert(
            "n_days".to_string(),
            FeatureWords {
                label: Some("purchase days".into()),
                low: Some("few purchase days".into()),
                high: Some("many purchase days".into()),
            },
        );
        words.insert(
            "recency".to_string(),
            FeatureWords {
                label: Some("days since the last order".into()),
                ..Default::default()
            },
        );
        let dist = vec![
            vec![("n_days".to_string(), -1.2), ("recency".to_string(), 0.8)],
            vec![("n_days".to_string(), 1.5), ("x".to_string(), -0.3)],
        ];
        let naming = Naming {
            roles: Vec::new(),
            fallback_action: action("fallback"),
        };
        let n = names_with(&naming, &[10, 5], &[[0.0; 4]; 2], &dist, &words);
        assert_eq!(
            n.named[0].name,
            "Few purchase days · high days since the last order"
        );
        assert_eq!(n.named[1].name, "Many purchase days · low x");
    }

    #[test]
    fn fewer_clusters_than_roles_leave_later_roles_unused() {
        let n = names(
            &[10, 5],
            &[[1.0, 1.0, 1.0, 0.0], [9.0, 1.0, 1.0, 0.0]],
            &no_features(2),
        );
        let got: Vec<&str> = n.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(got, ["One-off", "Core active"]);
    }
}
