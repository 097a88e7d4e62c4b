//! The saved model: the fit artifacts `assign` reads back to score new contacts. These are the
//! centroids, the policy (names and actions), and DBSCAN's core points or the Gaussian
//! mixture. Each is written and loaded here, side by side, so writer and reader agree on the
//! layout. Loading checks every file's shape against the centroids: a file that does not fit
//! is a data error naming it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Float64Array, RecordBatch, StringArray};
use ndarray::{Array1, Array2, ArrayView2, Axis};

use segflow_cluster::{Covariance, Gmm, Nearest, nearest};
use segflow_core::artifact::{Artifact, META_MODEL, META_MODEL_COLUMNS, batch, read_parquet};
use segflow_core::error::Location;
use segflow_core::{Error, Result};

use crate::arrays::{floats, strings, u32s, u64s};
use crate::naming::Named;
use crate::params::{Action, Algorithm, Campaign, Params};
use crate::profile::FeatureProfile;
use crate::{Fitted, Table};

/// The segment of rows DBSCAN leaves out of every cluster.
pub const NOISE: &str = "Noise";

/// The clustering as the fit's artifacts record it (`segflow.model`); [`Model::load`] reads
/// the algorithm, DBSCAN's eps and the mixture's covariance back from the centroids.
pub fn description(params: &Params, k: usize) -> String {
    let spec = params.dbscan.clone().unwrap_or_default();
    serde_json::json!({
        "algorithm": params.algorithm.name(),
        "k": k,
        "n_init": params.n_init,
        "max_iter": params.max_iter,
        "tol": params.tol,
        "eps": (params.algorithm == Algorithm::Dbscan).then_some(spec.eps),
        "covariance": params.gmm.as_ref().map(|g| format!("{:?}", g.covariance).to_lowercase()),
        "min_samples": (params.algorithm == Algorithm::Dbscan).then_some(spec.min_samples),
    })
    .to_string()
}

/// The saved model's artifacts: centroids, core points (DBSCAN), mixture (Gaussian mixture)
/// and policy.
pub fn tables(fit: &Fitted<'_>) -> Result<Vec<Table>> {
    let (params, matrix) = (fit.params, &fit.training.matrix);
    let (clustered, segments) = (fit.clustered, fit.segments);
    let columns = || {
        (
            META_MODEL_COLUMNS.to_string(),
            serde_json::to_string(&matrix.columns).expect("strings"),
        )
    };
    let mut tables = vec![
        Table::new(
            "centroids",
            centroids_batch(
                &matrix.columns,
                &clustered.centroids,
                &segments.names,
                &|name| segments.profile(name),
            )?,
        )
        .with_meta(columns())
        .with_meta((META_MODEL.to_string(), description(params, clustered.k))),
    ];
    if params.algorithm == Algorithm::Dbscan {
        let clusters: Vec<usize> = clustered
            .core
            .iter()
            .map(|&i| clustered.labels[i].expect("core points are clustered"))
            .collect();
        let points = matrix.values.select(Axis(0), &clustered.core);
        tables.push(
            Table::new(
                "core_points",
                core_points_batch(&matrix.columns, &clusters, points.view())?,
            )
            .with_meta(columns()),
        );
    }
    if let Some((gmm, _)) = &clustered.mixture {
        tables
            .push(Table::new("mixture", mixture_batch(gmm, &matrix.columns)?).with_meta(columns()));
    }
    let rows = clustered.labels.len();
    tables.push(
        Table::new(
            "policy",
            policy_batch(&segments.named, &segments.sizes, rows)?,
        )
        .with_csv(),
    );
    Ok(tables)
}

/// Rows `scaled` (the centroids the model scores with) and `original` (the mean of the
/// members' feature values; a column with no raw feature, such as a missing-value indicator,
/// repeats its scaled value).
fn centroids_batch<'a>(
    columns: &[String],
    centroids: &Array2<f64>,
    names: &[String],
    profile_of: &dyn Fn(&str) -> Option<&'a FeatureProfile>,
) -> Result<RecordBatch> {
    let k = centroids.nrows();
    let mut arrays: Vec<(&str, ArrayRef)> = vec![
        ("cluster", u32s((0..k as u32).chain(0..k as u32))),
        ("segment", strings(names.iter().chain(names).cloned())),
        (
            "space",
            strings(
                std::iter::repeat_n("scaled".to_string(), k)
                    .chain(std::iter::repeat_n("original".to_string(), k)),
            ),
        ),
    ];
    for (j, name) in columns.iter().enumerate() {
        let scaled = centroids.column(j);
        let original: Vec<f64> = (0..k)
            .map(|c| profile_of(name).map_or(scaled[c], |p| p.clusters[c].mean))
            .collect();
        arrays.push((
            name.as_str(),
            floats(scaled.iter().copied().chain(original)),
        ));
    }
    batch(arrays)
}

/// DBSCAN's core points with their clusters: new rows join the cluster of the nearest core
/// point within eps.
fn core_points_batch(
    columns: &[String],
    clusters: &[usize],
    points: ArrayView2<'_, f64>,
) -> Result<RecordBatch> {
    let mut arrays: Vec<(&str, ArrayRef)> =
        vec![("cluster", u32s(clusters.iter().map(|&c| c as u32)))];
    for (j, name) in columns.iter().enumerate() {
        arrays.push((name.as_str(), floats(points.column(j).iter().copied())));
    }
    batch(arrays)
}

/// A Gaussian mixture as rows: per component a `mean` row and the rows of its precision
/// factor, each with the component's weight; enough to score new rows exactly.
fn mixture_batch(g: &Gmm, columns: &[String]) -> Result<RecordBatch> {
    let (k, d) = g.means.dim();
    let mut rows: Vec<(usize, &str, usize, Vec<f64>)> = Vec::new();
    for c in 0..k {
        rows.push((c, "mean", 0, g.means.row(c).to_vec()));
        for r in 0..d {
            rows.push((
                c,
                "precision_factor",
                r,
                g.precision_cholesky[c].row(r).to_vec(),
            ));
        }
    }
    let mut arrays: Vec<(&str, ArrayRef)> = vec![
        ("cluster", u32s(rows.iter().map(|r| r.0 as u32))),
        ("part", strings(rows.iter().map(|r| r.1.to_string()))),
        ("index", u32s(rows.iter().map(|r| r.2 as u32))),
        ("weight", floats(rows.iter().map(|r| g.weights[r.0]))),
    ];
    for (j, name) in columns.iter().enumerate() {
        arrays.push((name.as_str(), floats(rows.iter().map(|r| r.3[j]))));
    }
    batch(arrays)
}

/// Per segment: its size, name, why it has that name, and its action (with the campaign
/// columns when any segment has a campaign). `rows` counts noise too.
fn policy_batch(named: &[Named], sizes: &[usize], rows: usize) -> Result<RecordBatch> {
    let k = sizes.len();
    let shares: Vec<f64> = sizes.iter().map(|&s| s as f64 / rows as f64).collect();
    let mut columns = vec![
        ("cluster", u32s(0..k as u32)),
        ("segment", strings(named.iter().map(|s| s.name.clone()))),
        ("n_contacts", u64s(sizes.iter().map(|&s| s as u64))),
        ("share", Arc::new(Float64Array::from(shares)) as ArrayRef),
        ("naming_rule", strings(named.iter().map(|s| s.rule.clone()))),
        (
            "decision_use",
            strings(named.iter().map(|s| s.action.decision_use.clone())),
        ),
        (
            "operational_rule",
            strings(named.iter().map(|s| s.action.operational_rule.clone())),
        ),
        (
            "typical_pattern",
            strings(named.iter().map(|s| s.action.typical_pattern.clone())),
        ),
    ];
    let campaigns: Vec<Option<&Campaign>> =
        named.iter().map(|s| s.action.campaign.as_ref()).collect();
    if campaigns.iter().any(Option::is_some) {
        let text = |f: &dyn Fn(&Campaign) -> String| -> ArrayRef {
            Arc::new(StringArray::from(
                campaigns.iter().map(|c| c.map(f)).collect::<Vec<_>>(),
            ))
        };
        let number = |f: &dyn Fn(&Campaign) -> f64| -> ArrayRef {
            Arc::new(Float64Array::from(
                campaigns.iter().map(|c| c.map(f)).collect::<Vec<_>>(),
            ))
        };
        columns.extend([
            ("channel", text(&|c| c.channel.clone())),
            ("message", text(&|c| c.message.clone())),
            ("owner", text(&|c| c.owner.clone())),
            ("expected_close_rate", number(&|c| c.close_rate)),
            ("deal_size", number(&|c| c.deal_size)),
        ]);
    }
    batch(columns)
}

/// A fitted segmentation read back from a fit's artifacts: centroids in matrix-column order,
/// segment names and actions.
pub struct Model {
    /// Matrix columns the centroids are expressed in.
    pub columns: Vec<String>,
    /// K × columns, canonical order.
    pub centroids: Array2<f64>,
    pub segments: Vec<String>,
    pub actions: Vec<Action>,
    /// DBSCAN: the core points, their clusters and eps; new rows join the cluster of the
    /// nearest core point within eps, or none.
    pub core: Option<(Array2<f64>, Vec<usize>, f64)>,
    /// Gaussian mixture: new rows go to their most probable component.
    pub mixture: Option<Gmm>,
}

/// New rows scored by a [`Model`].
pub struct Scored {
    /// Segment of each row; `None` for DBSCAN noise.
    pub labels: Vec<Option<usize>>,
    pub distance: Vec<f64>,
    pub margin: Vec<f64>,
    /// Gaussian mixture: posterior probability of the row's segment.
    pub probability: Option<Vec<f64>>,
}

impl Model {
    /// Reads a fit back. `locate` turns the file name of each artifact the model is built
    /// from (`centroids.parquet`, …) into the path to read, once that file has passed the
    /// check the caller requires (`assign`: the hash in the run's lock); no model file is
    /// read any other way.
    pub fn load(locate: &mut dyn FnMut(&str) -> Result<PathBuf>) -> Result<Model> {
        let (columns, centroids, clustering) = load_centroids(&locate("centroids.parquet")?)?;
        let k = centroids.nrows();
        let core = if clustering["algorithm"] == "dbscan" {
            Some(load_core_points(
                &locate("core_points.parquet")?,
                &columns,
                k,
                &clustering,
            )?)
        } else {
            None
        };
        let mixture = if clustering["algorithm"] == "gmm" {
            Some(load_mixture(
                &locate("mixture.parquet")?,
                &columns,
                k,
                &clustering,
            )?)
        } else {
            None
        };
        let (segments, actions) = load_policy(&locate("policy.parquet")?, k)?;
        Ok(Model {
            columns,
            centroids,
            segments,
            actions,
            core,
            mixture,
        })
    }

    /// Segment of each matrix row (columns in `self.columns` order): the nearest centroid
    /// (k-means; Ward, whose segments are summarised by their means), or for DBSCAN the
    /// cluster of the nearest core point within eps, else noise. Distance and margin are to
    /// the segment centroids, as in fit.
    pub fn assign(&self, x: ArrayView2<'_, f64>) -> Scored {
        let Nearest {
            labels,
            distance,
            margin,
        } = nearest(x, self.centroids.view());
        if let Some(g) = &self.mixture {
            let proba = g.predict_proba(x);
            let labels = g.predict(x);
            let probability = labels
                .iter()
                .enumerate()
                .map(|(i, &l)| proba[[i, l]])
                .collect();
            return Scored {
                labels: labels.into_iter().map(Some).collect(),
                distance,
                margin,
                probability: Some(probability),
            };
        }
        let labels = match &self.core {
            None => labels.into_iter().map(Some).collect(),
            Some((points, clusters, eps)) => {
                let near = nearest(x, points.view());
                near.labels
                    .iter()
                    .zip(&near.distance)
                    .map(|(&p, &d)| (d <= *eps).then(|| clusters[p]))
                    .collect()
            }
        };
        Scored {
            labels,
            distance,
            margin,
            probability: None,
        }
    }
}

/// The scaled centroids (K × columns), their columns, and the `segflow.model` description.
fn load_centroids(path: &Path) -> Result<(Vec<String>, Array2<f64>, serde_json::Value)> {
    let a = read_parquet(path)?;
    if a.kind() != Some("centroids") {
        return Err(Error::data(
            Location::file(path),
            "expected a centroids artifact",
        ));
    }
    let columns = model_columns(&a)?;
    let space = a
        .column("space")?
        .as_string_opt::<i32>()
        .ok_or_else(|| Error::data(Location::file(path).column("space"), "expected strings"))?;
    let scaled: Vec<usize> = (0..a.batch.num_rows())
        .filter(|&r| space.is_valid(r) && space.value(r) == "scaled")
        .collect();
    if scaled.is_empty() {
        return Err(Error::data(
            Location::file(path).column("space"),
            "no scaled centroids",
        ));
    }
    let mut centroids = Array2::zeros((scaled.len(), columns.len()));
    for (j, name) in columns.iter().enumerate() {
        let values = a.float_column(name)?;
        for (c, &r) in scaled.iter().enumerate() {
            centroids[[c, j]] = values[r];
        }
    }
    let clustering: serde_json::Value = a
        .meta(META_MODEL)
        .and_then(|m| serde_json::from_str(m).ok())
        .unwrap_or_default();
    Ok((columns, centroids, clustering))
}

/// DBSCAN's core points, each in one of the `k` clusters, and eps.
fn load_core_points(
    path: &Path,
    columns: &[String],
    k: usize,
    clustering: &serde_json::Value,
) -> Result<(Array2<f64>, Vec<usize>, f64)> {
    let a = read_parquet(path)?;
    same_columns(&a, columns)?;
    let clusters = ids_below(&a, "cluster", k, "segments of the centroids")?;
    if clusters.is_empty() {
        return Err(Error::data(Location::file(path), "no core points"));
    }
    let mut points = Array2::zeros((clusters.len(), columns.len()));
    for (j, name) in columns.iter().enumerate() {
        for (i, v) in a.float_column(name)?.into_iter().enumerate() {
            points[[i, j]] = v;
        }
    }
    let eps = clustering["eps"]
        .as_f64()
        .ok_or_else(|| Error::data(Location::file(path), "no eps in segflow.model metadata"))?;
    Ok((points, clusters, eps))
}

/// A mixture read back from `mixture.parquet`: one component per centroid (segment order).
fn load_mixture(
    path: &Path,
    columns: &[String],
    k: usize,
    clustering: &serde_json::Value,
) -> Result<Gmm> {
    let a = read_parquet(path)?;
    same_columns(&a, columns)?;
    let Components {
        means,
        factors,
        weights,
    } = components(&a, columns, k)?;
    let covariance = if clustering["covariance"] == "diag" {
        Covariance::Diag
    } else {
        Covariance::Full
    };
    Ok(Gmm {
        covariance,
        weights,
        means,
        precision_cholesky: factors,
        lower_bound: f64::NAN,
        n_iter: 0,
        converged: true,
    })
}

/// A mixture's components as its artifact holds them.
struct Components {
    /// k × d.
    means: Array2<f64>,
    /// Per component, d × d.
    factors: Vec<Array2<f64>>,
    weights: Array1<f64>,
}

/// The `k` components of a mixture artifact. Each has one `mean` row and one
/// `precision_factor` row per column.
fn components(a: &Artifact, columns: &[String], k: usize) -> Result<Components> {
    let path = &a.path;
    let d = columns.len();
    let part = texts(a, "part")?;
    let cluster = ids_below(a, "cluster", k, "segments of the centroids")?;
    let index = ids_below(a, "index", d, "model columns")?;
    let weight = a.float_column("weight")?;
    let values: Vec<Vec<f64>> = columns
        .iter()
        .map(|c| a.float_column(c))
        .collect::<Result<_>>()?;
    let mut means = Array2::zeros((k, d));
    let mut factors = vec![Array2::zeros((d, d)); k];
    let mut weights = Array1::zeros(k);
    // Per component, which of its rows were read: the mean, then each factor row.
    let mut read = vec![vec![false; d + 1]; k];
    for r in 0..part.len() {
        let (c, slot) = match part[r].as_str() {
            "mean" => (cluster[r], 0),
            "precision_factor" => (cluster[r], 1 + index[r]),
            other => {
                return Err(Error::data(
                    Location::file(path).row(r as u64).column("part"),
                    format!("`{other}` is neither mean nor precision_factor"),
                ));
            }
        };
        if std::mem::replace(&mut read[c][slot], true) {
            return Err(Error::data(
                Location::file(path).row(r as u64),
                format!("component {c} has this {} row twice", part[r]),
            ));
        }
        weights[c] = weight[r];
        for j in 0..d {
            match slot {
                0 => means[[c, j]] = values[j][r],
                _ => factors[c][[slot - 1, j]] = values[j][r],
            }
        }
    }
    if let Some(c) = read.iter().position(|rows| rows.contains(&false)) {
        let factor_rows = read[c][1..].iter().filter(|&&r| r).count();
        return Err(Error::data(
            Location::file(path),
            format!(
                "component {c} has {} mean row and {factor_rows} precision-factor rows; \
                 {k} components over {d} columns need 1 and {d} each",
                usize::from(read[c][0])
            ),
        ));
    }
    Ok(Components {
        means,
        factors,
        weights,
    })
}

/// The segment names and actions of the `k` segments.
fn load_policy(path: &Path, k: usize) -> Result<(Vec<String>, Vec<Action>)> {
    let p = read_parquet(path)?;
    let text = |name: &str| texts(&p, name);
    let segments = text("segment")?;
    let (uses, rules, patterns) = (
        text("decision_use")?,
        text("operational_rule")?,
        text("typical_pattern")?,
    );
    if segments.len() != k {
        return Err(Error::data(
            Location::file(path),
            format!(
                "{} segments for {k} centroids: the fit artifacts come from different runs",
                segments.len(),
            ),
        ));
    }
    let campaigns: Vec<Option<Campaign>> = if p.batch.column_by_name("channel").is_some() {
        let (channel, message, owner) = (text("channel")?, text("message")?, text("owner")?);
        let (rate, deal) = (
            p.float_column("expected_close_rate")?,
            p.float_column("deal_size")?,
        );
        (0..k)
            .map(|i| {
                (!rate[i].is_nan()).then(|| Campaign {
                    channel: channel[i].clone(),
                    message: message[i].clone(),
                    owner: owner[i].clone(),
                    close_rate: rate[i],
                    deal_size: deal[i],
                })
            })
            .collect()
    } else {
        vec![None; k]
    };
    let actions = campaigns
        .into_iter()
        .enumerate()
        .map(|(i, campaign)| Action {
            decision_use: uses[i].clone(),
            operational_rule: rules[i].clone(),
            typical_pattern: patterns[i].clone(),
            campaign,
        })
        .collect();
    Ok((segments, actions))
}

/// The model columns an artifact's values are expressed in.
fn model_columns(a: &Artifact) -> Result<Vec<String>> {
    a.meta(META_MODEL_COLUMNS)
        .and_then(|m| serde_json::from_str(m).ok())
        .ok_or_else(|| Error::data(Location::file(&a.path), "no segflow.model_columns metadata"))
}

/// The artifact is expressed in the centroids' columns.
fn same_columns(a: &Artifact, columns: &[String]) -> Result<()> {
    let own = model_columns(a)?;
    if own != columns {
        return Err(Error::data(
            Location::file(&a.path),
            format!(
                "{} model columns where the centroids have {}: the fit artifacts come from different runs",
                own.len(),
                columns.len()
            ),
        ));
    }
    Ok(())
}

/// A column of ids, each a whole number below `limit`.
fn ids_below(a: &Artifact, column: &str, limit: usize, what: &str) -> Result<Vec<usize>> {
    a.float_column(column)?
        .into_iter()
        .enumerate()
        .map(|(r, v)| {
            if v >= 0.0 && v.fract() == 0.0 && v < limit as f64 {
                Ok(v as usize)
            } else {
                Err(Error::data(
                    Location::file(&a.path).row(r as u64).column(column),
                    format!("{v} is not one of the {limit} {what}"),
                ))
            }
        })
        .collect()
}

/// A string column, nulls as empty strings.
fn texts(a: &Artifact, column: &str) -> Result<Vec<String>> {
    let col = a
        .column(column)?
        .as_string_opt::<i32>()
        .ok_or_else(|| Error::data(Location::file(&a.path).column(column), "expected strings"))?;
    Ok(col
        .iter()
        .map(|v| v.unwrap_or_default().to_string())
        .collect())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use arrow::array::UInt32Array;
    use ndarray::array;
    use segflow_core::artifact::{Provenance, write_parquet};

    use super::*;

    /// A fit directory of hand-made model artifacts, removed when dropped.
    struct FitDir(PathBuf);

    impl FitDir {
        fn new(name: &str) -> FitDir {
            let dir = std::env::temp_dir()
                .join(format!("segflow-fit-model-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            FitDir(dir)
        }

        fn write(&self, kind: &str, batch: &RecordBatch, extra: &[(String, String)]) {
            let provenance = Provenance {
                stage: "fit".into(),
                params_hash: String::new(),
                params: "{}".into(),
                input_hashes: BTreeMap::new(),
                seed: 0,
            };
            let path = self.0.join(format!("{kind}.parquet"));
            write_parquet(&path, batch, kind, &provenance, extra).unwrap();
        }

        fn load(&self) -> Result<Model> {
            Model::load(&mut |file| Ok(self.0.join(file)))
        }
    }

    impl Drop for FitDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn columns() -> Vec<String> {
        vec!["a".into(), "b".into()]
    }

    fn columns_meta(columns: &[String]) -> (String, String) {
        (
            META_MODEL_COLUMNS.to_string(),
            serde_json::to_string(columns).unwrap(),
        )
    }

    /// Two components over columns a and b, far apart.
    fn mixture() -> Gmm {
        Gmm {
            covariance: Covariance::Full,
            weights: array![0.6, 0.4],
            means: array![[0.0, 0.0], [10.0, 10.0]],
            precision_cholesky: vec![
                array![[1.0, 0.0], [0.5, 2.0]],
                array![[2.0, 0.0], [0.0, 1.0]],
            ],
            lower_bound: f64::NAN,
            n_iter: 0,
            converged: true,
        }
    }

    /// Centroids at the mixture's means and a policy for their two segments, for a fit whose
    /// `segflow.model` says `clustering`.
    fn write_centroids_and_policy(dir: &FitDir, clustering: serde_json::Value) {
        let names = vec!["Near".to_string(), "Far".to_string()];
        let centroids = centroids_batch(&columns(), &mixture().means, &names, &|_| None).unwrap();
        dir.write(
            "centroids",
            &centroids,
            &[
                columns_meta(&columns()),
                (META_MODEL.to_string(), clustering.to_string()),
            ],
        );
        let named: Vec<Named> = names
            .iter()
            .map(|name| Named {
                name: name.clone(),
                rule: "test".into(),
                action: Action {
                    decision_use: format!("work {name}"),
                    operational_rule: String::new(),
                    typical_pattern: String::new(),
                    campaign: None,
                },
            })
            .collect();
        dir.write("policy", &policy_batch(&named, &[3, 2], 5).unwrap(), &[]);
    }

    fn replaced(b: &RecordBatch, column: &str, values: ArrayRef) -> RecordBatch {
        let mut arrays = b.columns().to_vec();
        arrays[b.schema().index_of(column).unwrap()] = values;
        RecordBatch::try_new(b.schema(), arrays).unwrap()
    }

    /// The load fails with a data error (exit 65) located in `file`.
    fn assert_rejected(dir: &FitDir, file: &str, says: &str) {
        match dir.load() {
            Ok(_) => panic!("{file} was accepted"),
            Err(e) => {
                let text = e.to_string();
                assert_eq!(e.exit_code(), 65, "{text}");
                assert!(text.contains(file) && text.contains(says), "{text}");
            }
        }
    }

    #[test]
    fn a_saved_mixture_loads_back_as_written_and_scores_new_rows() {
        let dir = FitDir::new("mixture");
        write_centroids_and_policy(
            &dir,
            serde_json::json!({"algorithm": "gmm", "covariance": "full"}),
        );
        let written = mixture();
        dir.write(
            "mixture",
            &mixture_batch(&written, &columns()).unwrap(),
            &[columns_meta(&columns())],
        );
        let model = dir.load().unwrap();
        assert_eq!(model.columns, columns());
        assert_eq!(model.segments, ["Near", "Far"]);
        assert_eq!(model.actions[1].decision_use, "work Far");
        let g = model.mixture.as_ref().expect("a mixture");
        assert_eq!(g.covariance, Covariance::Full);
        assert_eq!(g.weights, written.weights);
        assert_eq!(g.means, written.means);
        assert_eq!(g.precision_cholesky, written.precision_cholesky);
        let scored = model.assign(array![[0.5, -0.5], [9.0, 11.0]].view());
        assert_eq!(scored.labels, [Some(0), Some(1)]);
    }

    #[test]
    fn a_mixture_that_does_not_fit_the_centroids_is_a_data_error_naming_it() {
        let dir = FitDir::new("bad-mixture");
        write_centroids_and_policy(
            &dir,
            serde_json::json!({"algorithm": "gmm", "covariance": "full"}),
        );
        let good = mixture_batch(&mixture(), &columns()).unwrap();
        let meta = [columns_meta(&columns())];
        // Rows: component 0 mean, factor 0, factor 1; component 1 mean, factor 0, factor 1.
        dir.write("mixture", &good.slice(0, good.num_rows() - 1), &meta);
        assert_rejected(
            &dir,
            "mixture.parquet",
            "component 1 has 1 mean row and 1 precision-factor rows",
        );

        let index = Arc::new(UInt32Array::from(vec![0, 2, 1, 0, 0, 1])) as ArrayRef;
        dir.write("mixture", &replaced(&good, "index", index), &meta);
        assert_rejected(
            &dir,
            "mixture.parquet, row 1, column `index`",
            "not one of the 2 model columns",
        );

        let mut three = mixture();
        three.weights = array![0.5, 0.3, 0.2];
        three.means = array![[0.0, 0.0], [10.0, 10.0], [20.0, 20.0]];
        three
            .precision_cholesky
            .push(array![[1.0, 0.0], [0.0, 1.0]]);
        dir.write(
            "mixture",
            &mixture_batch(&three, &columns()).unwrap(),
            &meta,
        );
        assert_rejected(
            &dir,
            "mixture.parquet, row 6, column `cluster`",
            "not one of the 2 segments",
        );

        let part = strings(
            [
                "mean",
                "precision_factor",
                "precision_factor",
                "mean",
                "mean",
                "precision_factor",
            ]
            .map(String::from)
            .into_iter(),
        );
        dir.write("mixture", &replaced(&good, "part", part), &meta);
        assert_rejected(
            &dir,
            "mixture.parquet, row 4",
            "component 1 has this mean row twice",
        );

        let other = vec!["a".to_string(), "c".to_string()];
        dir.write("mixture", &good, &[columns_meta(&other)]);
        assert_rejected(
            &dir,
            "mixture.parquet",
            "the fit artifacts come from different runs",
        );
    }

    #[test]
    fn core_points_load_back_and_core_points_of_no_segment_are_a_data_error() {
        let dir = FitDir::new("core");
        write_centroids_and_policy(&dir, serde_json::json!({"algorithm": "dbscan", "eps": 1.0}));
        let points = array![[0.0, 0.0], [10.0, 10.0], [10.5, 10.0]];
        let core = core_points_batch(&columns(), &[0, 1, 1], points.view()).unwrap();
        let meta = [columns_meta(&columns())];
        dir.write("core_points", &core, &meta);
        let model = dir.load().unwrap();
        let scored = model.assign(array![[0.5, 0.0], [10.2, 10.9], [5.0, 5.0]].view());
        assert_eq!(scored.labels, [Some(0), Some(1), None]);

        let clusters = Arc::new(UInt32Array::from(vec![0, 1, 2])) as ArrayRef;
        dir.write("core_points", &replaced(&core, "cluster", clusters), &meta);
        assert_rejected(
            &dir,
            "core_points.parquet, row 2, column `cluster`",
            "not one of the 2 segments",
        );

        dir.write("core_points", &core.slice(0, 0), &meta);
        assert_rejected(&dir, "core_points.parquet", "no core points");
    }
}
