//! Segment names from the cards: roles claim clusters in priority order, so two roles never
//! name the same cluster; clusters no role claims are named from their distinguishing
//! features, so any K gets distinct names.

use std::cmp::Ordering;

use segflow_core::nouns::Noun;

use crate::params::{Action, Criterion, Naming, Role};

#[derive(Debug, Clone, PartialEq)]
pub struct Named {
    pub name: String,
    /// Why the segment has its name, for reviewers.
    pub rule: String,
    pub action: Action,
}

/// What naming needs to know about the clusters (ids are canonical: 0 is the largest).
pub struct Clusters<'a> {
    pub sizes: &'a [usize],
    /// The statistic a criterion key refers to, per cluster.
    pub stat: &'a dyn Fn(usize, &str) -> f64,
    /// Per cluster: model features by decreasing |standardized difference|, with the signed
    /// difference.
    pub distinguishing: &'a [Vec<(String, f64)>],
    /// What a row of the model is, for the rules' words.
    pub entity: &'a Noun,
}

fn describe(c: &Criterion, value: f64) -> String {
    let (word, key) = match c {
        Criterion::Lowest(k) => ("lowest", k),
        Criterion::Highest(k) => ("highest", k),
    };
    if key == "n_contacts" {
        format!("{word} n_contacts ({value})")
    } else {
        format!("{word} median {key} ({})", crate::fmt_num(value))
    }
}

pub fn name_segments(naming: &Naming, clusters: &Clusters<'_>) -> Vec<Named> {
    let k = clusters.sizes.len();
    let mut named: Vec<Option<Named>> = vec![None; k];
    for role in &naming.roles {
        let open: Vec<usize> = (0..k).filter(|&c| named[c].is_none()).collect();
        if open.is_empty() {
            break;
        }
        let (chosen, rule) = claim(role, &open, clusters);
        named[chosen] = Some(Named {
            name: role.name.clone(),
            rule,
            action: role.action.clone(),
        });
    }
    let taken: Vec<String> = named.iter().flatten().map(|n| n.name.clone()).collect();
    let unclaimed: Vec<usize> = (0..k).filter(|&c| named[c].is_none()).collect();
    for (c, name, n) in fallback_names(&unclaimed, &taken, clusters.distinguishing) {
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
    named
        .into_iter()
        .map(|n| n.expect("every cluster named"))
        .collect()
}

/// The cluster a role claims among the `open` ones (ascending ids), and why.
fn claim(role: &Role, open: &[usize], clusters: &Clusters<'_>) -> (usize, String) {
    let k = clusters.sizes.len();
    if role.by.is_empty() {
        // Canonical ids run by decreasing size, so the first open cluster is the largest.
        let first = open[0];
        return (
            first,
            format!(
                "role {}: the largest cluster no earlier role claimed ({})",
                role.name,
                clusters.entity.count(clusters.sizes[first] as u64)
            ),
        );
    }
    let order = |a: usize, b: usize| -> Ordering {
        for c in &role.by {
            let (x, y) = ((clusters.stat)(a, c.key()), (clusters.stat)(b, c.key()));
            let o = match c {
                Criterion::Lowest(_) => x.total_cmp(&y),
                Criterion::Highest(_) => y.total_cmp(&x),
            };
            if o != Ordering::Equal {
                return o;
            }
        }
        a.cmp(&b)
    };
    let best = open
        .iter()
        .copied()
        .min_by(|&a, &b| order(a, b))
        .expect("open is non-empty");
    let mut why: Vec<String> = role
        .by
        .iter()
        .map(|c| describe(c, (clusters.stat)(best, c.key())))
        .collect();
    if open.len() < k {
        why.push(format!("among the {} clusters left", open.len()));
    }
    (best, format!("role {}: {}", role.name, why.join(", then ")))
}

/// Names for the clusters no role claimed, from their distinguishing features, distinct from
/// each other and from the `taken` role names: (cluster, name, features used).
fn fallback_names(
    unclaimed: &[usize],
    taken: &[String],
    distinguishing: &[Vec<(String, f64)>],
) -> Vec<(usize, String, usize)> {
    let mut fallback: Vec<(usize, String, usize)> = unclaimed
        .iter()
        .map(|&c| (c, feature_name(&distinguishing[c], 2), 2))
        .collect();
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
                fallback[i] = (c, feature_name(&distinguishing[c], n + 1), n + 1);
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

/// "High n_calls · low recency_days" from the first `n` distinguishing features.
fn feature_name(features: &[(String, f64)], n: usize) -> String {
    let words: Vec<String> = features
        .iter()
        .take(n)
        .map(|(f, d)| format!("{} {f}", if *d >= 0.0 { "high" } else { "low" }))
        .collect();
    if words.is_empty() {
        return "Undistinguished".into();
    }
    let mut s = words.join(" · ");
    s[..1].make_ascii_uppercase();
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::Role;

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
            action: action(name),
        }
    }

    fn reference_roles() -> Naming {
        use Criterion::*;
        Naming {
            roles: vec![
                role(
                    "One-off",
                    vec![Lowest("n_calls".into()), Lowest("total_dur_sec".into())],
                ),
                role(
                    "Core active",
                    vec![Highest("n_calls".into()), Highest("n_contacts".into())],
                ),
                role(
                    "Rare deep",
                    vec![
                        Highest("median_dur_sec".into()),
                        Highest("long_call_share".into()),
                    ],
                ),
                role("Warm occasional", vec![]),
            ],
            fallback_action: action("fallback"),
        }
    }

    /// Columns: n_calls, total_dur_sec, median_dur_sec, long_call_share per cluster.
    fn names(sizes: &[usize], table: &[[f64; 4]], dist: &[Vec<(String, f64)>]) -> Vec<Named> {
        let stat = |c: usize, key: &str| match key {
            "n_contacts" => sizes[c] as f64,
            "n_calls" => table[c][0],
            "total_dur_sec" => table[c][1],
            "median_dur_sec" => table[c][2],
            "long_call_share" => table[c][3],
            other => panic!("unknown key {other}"),
        };
        name_segments(
            &reference_roles(),
            &Clusters {
                sizes,
                stat: &stat,
                distinguishing: dist,
                entity: &Noun::new("contact", "contacts"),
            },
        )
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
