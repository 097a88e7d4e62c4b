//! What fit says about each segment once the rows are clustered: its size, how well its rows
//! sit in it, every numeric feature's statistics in original units, the mix of each label
//! context column, the features that set it apart, and its name and action.

use ndarray::Axis;

use segflow_cluster::metrics::{
    calinski_harabasz, davies_bouldin, silhouette_sample_rows, silhouette_samples,
    silhouette_samples_of,
};
use segflow_core::Result;

use crate::algorithms::Clustered;
use crate::mix::{ColumnMix, mixes};
use crate::naming::{self, Named};
use crate::params::{Params, SIZE_PLACEHOLDERS, Stat, parse_placeholder, placeholders};
use crate::profile::{FeatureProfile, distinguishing};
use crate::training::Training;

pub struct Segments {
    /// Members per segment (noise left out).
    pub sizes: Vec<usize>,
    /// Rows in no segment (DBSCAN noise).
    pub noise: usize,
    pub scores: Scores,
    /// Every numeric feature, per segment (and noise as one more bucket).
    pub profiles: Vec<FeatureProfile>,
    /// Per segment: model features by decreasing |standardized difference|, signed.
    pub distinct: Vec<Vec<(String, f64)>>,
    pub named: Vec<Named>,
    pub names: Vec<String>,
    /// Why each role left unclaimed (thresholds no cluster met) claimed nothing.
    pub unclaimed: Vec<String>,
    /// The statistics the roles and the narrative name: (feature, statistic, per segment).
    stats: Vec<(String, Stat, Vec<f64>)>,
    /// Per text, flag or 0/1 context column: its categories per segment and overall.
    pub mixes: Vec<ColumnMix>,
}

/// How well the rows sit in their segments; noise is left out.
pub struct Scores {
    /// Per row; NaN for noise and, when sampled, for rows outside the sample.
    pub silhouette: Vec<f64>,
    /// How the silhouettes were computed: every member's exactly, or a seeded sample's.
    pub silhouette_method: SilhouetteMethod,
    pub davies_bouldin: f64,
    pub calinski_harabasz: f64,
}

/// Which rows have a silhouette.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SilhouetteMethod {
    /// Every clustered row's, against all the others.
    Exact,
    /// `sample` of the `members` clustered rows, drawn with `seed`, each scored within the
    /// sample (the estimate select_k uses for its silhouette).
    Sampled {
        sample: usize,
        members: usize,
        seed: u64,
    },
}

impl SilhouetteMethod {
    /// `exact`, or `sampled: 20000 of 99098, seed 42`: the artifacts' wording.
    pub fn describe(self) -> String {
        match self {
            SilhouetteMethod::Exact => "exact".into(),
            SilhouetteMethod::Sampled {
                sample,
                members,
                seed,
            } => format!("sampled: {sample} of {members}, seed {seed}"),
        }
    }
}

impl Segments {
    pub fn describe(
        params: &Params,
        training: &Training,
        clustered: &Clustered,
        seed: u64,
    ) -> Result<Segments> {
        let sizes = clustered.sizes();
        let scores = scores(params, training, clustered, seed)?;
        let profiles = profiles(training, clustered)?;
        let distinct = distinguishing(&profiles, clustered.k);
        let stats = named_statistics(params, training, clustered)?;
        let naming::Names { named, unclaimed } = name(params, &sizes, &stats, &distinct);
        let names = named.iter().map(|s| s.name.clone()).collect();
        let mixes = mixes(
            &training.features,
            &training.context,
            &clustered.labels,
            clustered.k,
            params,
        )?;
        Ok(Segments {
            sizes,
            noise: clustered.noise(),
            scores,
            profiles,
            distinct,
            named,
            names,
            unclaimed,
            stats,
            mixes,
        })
    }

    /// A statistic of a feature for segment `c`, as the roles and the narrative name it.
    pub fn stat(&self, c: usize, feature: &str, stat: Stat) -> f64 {
        lookup(&self.stats, c, feature, stat)
    }

    pub fn k(&self) -> usize {
        self.sizes.len()
    }

    pub fn profile(&self, feature: &str) -> Option<&FeatureProfile> {
        self.profiles.iter().find(|p| p.name == feature)
    }

    /// The segment's median of a feature, NaN for a feature without a profile.
    pub fn median(&self, c: usize, feature: &str) -> f64 {
        self.profile(feature)
            .map_or(f64::NAN, |p| p.clusters[c].median)
    }
}

fn scores(
    params: &Params,
    training: &Training,
    clustered: &Clustered,
    seed: u64,
) -> Result<Scores> {
    let x = training.matrix.values.view();
    let n = x.nrows();
    let members: Vec<usize> = (0..n).filter(|&i| clustered.labels[i].is_some()).collect();
    let member_x = x.select(Axis(0), &members);
    let member_labels: Vec<usize> = members
        .iter()
        .map(|&i| clustered.labels[i].expect("a member"))
        .collect();
    let err = |e| training.matrix_error(e);
    // Silhouette and the indices need two clusters; with one they are undefined (0, NaN).
    let mut silhouette = vec![f64::NAN; n];
    if clustered.k < 2 {
        members.iter().for_each(|&i| silhouette[i] = 0.0);
        return Ok(Scores {
            silhouette,
            silhouette_method: SilhouetteMethod::Exact,
            davies_bouldin: f64::NAN,
            calinski_harabasz: f64::NAN,
        });
    }
    // The exact pass costs O(n²·d): about 15 s at 10⁵ rows of 20 columns on two cores, and a
    // hundred times that at 10⁶; a seeded sample keeps it to a fixed cost.
    let sample = if members.len() < params.silhouette_exact_below {
        None
    } else {
        let size = params.silhouette_sample_size.min(members.len());
        let rows = silhouette_sample_rows(members.len(), size, seed).map_err(err)?;
        // A sample that misses all segments but one (a segment of a handful of contacts
        // among many) has no silhouette: then every contact is scored exactly.
        let mut drawn: Vec<usize> = rows.iter().map(|&r| member_labels[r]).collect();
        drawn.sort_unstable();
        drawn.dedup();
        (drawn.len() >= 2 && drawn.len() < size).then_some(rows)
    };
    let silhouette_method = match sample {
        None => {
            let s = silhouette_samples(member_x.view(), &member_labels).map_err(err)?;
            for (&i, v) in members.iter().zip(s.iter()) {
                silhouette[i] = *v;
            }
            SilhouetteMethod::Exact
        }
        Some(rows) => {
            let s = silhouette_samples_of(member_x.view(), &member_labels, &rows).map_err(err)?;
            for (&r, v) in rows.iter().zip(s.iter()) {
                silhouette[members[r]] = *v;
            }
            SilhouetteMethod::Sampled {
                sample: rows.len(),
                members: members.len(),
                seed,
            }
        }
    };
    Ok(Scores {
        silhouette,
        silhouette_method,
        davies_bouldin: davies_bouldin(member_x.view(), &member_labels).map_err(err)?,
        calinski_harabasz: calinski_harabasz(member_x.view(), &member_labels).map_err(err)?,
    })
}

/// Every numeric feature's statistics per segment; noise rows form one more bucket (id k),
/// which the tables leave out.
fn profiles(training: &Training, clustered: &Clustered) -> Result<Vec<FeatureProfile>> {
    let k = clustered.k;
    let buckets: Vec<usize> = clustered.labels.iter().map(|l| l.unwrap_or(k)).collect();
    let n_buckets = k + usize::from(clustered.noise() > 0);
    training
        .numeric
        .iter()
        .map(|f| {
            Ok(FeatureProfile::new(
                f.name.clone(),
                f.block.clone(),
                f.model_input,
                &training.features.float_column(&f.name)?,
                &buckets,
                n_buckets,
            ))
        })
        .collect()
}

/// Every (feature, statistic) pair the naming roles and the narrative name, per segment.
fn named_statistics(
    params: &Params,
    training: &Training,
    clustered: &Clustered,
) -> Result<Vec<(String, Stat, Vec<f64>)>> {
    let mut wanted: Vec<(&str, Stat)> = Vec::new();
    for role in &params.naming.roles {
        wanted.extend(role.by.iter().map(|c| (c.key(), c.stat)));
        wanted.extend(
            role.conditions
                .0
                .iter()
                .map(|t| (t.feature.as_str(), t.stat)),
        );
    }
    if let Some(template) = &params.narrative {
        // Validated with the params: every placeholder parses.
        wanted.extend(
            placeholders(template)
                .into_iter()
                .filter_map(|p| parse_placeholder(p).ok())
                .map(|p| (p.feature, p.stat)),
        );
    }
    let k = clustered.k;
    let mut stats: Vec<(String, Stat, Vec<f64>)> = Vec::new();
    for (feature, stat) in wanted {
        let size = SIZE_PLACEHOLDERS.contains(&feature);
        if size || stats.iter().any(|(f, s, _)| f == feature && *s == stat) {
            continue;
        }
        let values = training.features.float_column(feature)?;
        let mut by_cluster = vec![Vec::new(); k];
        for (v, l) in values.iter().zip(&clustered.labels) {
            if let Some(l) = l {
                by_cluster[*l].push(*v);
            }
        }
        let per_segment = by_cluster.iter().map(|v| stat.of(v)).collect();
        stats.push((feature.to_string(), stat, per_segment));
    }
    Ok(stats)
}

fn lookup(stats: &[(String, Stat, Vec<f64>)], c: usize, feature: &str, stat: Stat) -> f64 {
    stats
        .iter()
        .find(|(f, s, _)| f == feature && *s == stat)
        .map_or(f64::NAN, |(_, _, v)| v[c])
}

fn name(
    params: &Params,
    sizes: &[usize],
    stats: &[(String, Stat, Vec<f64>)],
    distinct: &[Vec<(String, f64)>],
) -> naming::Names {
    let stat = |c: usize, key: &str, stat: Stat| lookup(stats, c, key, stat);
    naming::name_segments(
        &params.naming,
        &naming::Clusters {
            sizes,
            stat: &stat,
            distinguishing: distinct,
            words: &params.features,
            entity: &params.nouns.entity,
        },
    )
}
