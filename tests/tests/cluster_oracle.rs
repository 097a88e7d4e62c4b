//! segflow-cluster against scikit-learn on fixed inputs (tests/oracle/cluster/make_fixtures.py
//! → fixtures.json): metrics and PCA to 1e-9 relative; k-means with ARI = 1 where the optimum
//! is unique and inertia no worse than scikit-learn's × (1 + 1e-9).

use linfa::dataset::DatasetBase;
use linfa::traits::{Fit, Predict};
use ndarray::{Array1, Array2};
use segflow_cluster::metrics::*;
use segflow_cluster::{Components, KMeansParams, PcaParams};
use segflow_tests::repo_root;
use serde_json::Value;

fn fixtures() -> Value {
    let text =
        std::fs::read_to_string(repo_root().join("tests/oracle/cluster/fixtures.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn matrix(v: &Value) -> Array2<f64> {
    let rows: Vec<Vec<f64>> = serde_json::from_value(v.clone()).unwrap();
    let (n, d) = (rows.len(), rows[0].len());
    Array2::from_shape_vec((n, d), rows.into_iter().flatten().collect()).unwrap()
}

fn labels(v: &Value) -> Vec<usize> {
    serde_json::from_value(v.clone()).unwrap()
}

fn floats(v: &Value) -> Vec<f64> {
    serde_json::from_value(v.clone()).unwrap()
}

#[track_caller]
fn close(got: f64, want: f64, rel: f64, what: &str) {
    let tol = rel * want.abs().max(1e-300);
    assert!(
        (got - want).abs() <= tol || (got == want),
        "{what}: segflow {got} vs scikit-learn {want} (|Δ| = {:e})",
        (got - want).abs()
    );
}

#[test]
fn validity_indices_match_scikit_learn() {
    let f = fixtures();
    for case in f["metrics"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let x = matrix(&case["X"]);
        let l = labels(&case["labels"]);
        close(
            silhouette_score(x.view(), &l).unwrap(),
            case["silhouette"].as_f64().unwrap(),
            1e-9,
            &format!("{name} silhouette"),
        );
        let samples = silhouette_samples(x.view(), &l).unwrap();
        for (i, (got, want)) in samples
            .iter()
            .zip(floats(&case["silhouette_samples"]))
            .enumerate()
        {
            // Per-sample values near 0 are compared on the scale of the score range [−1, 1].
            assert!(
                (got - want).abs() <= 1e-9 * want.abs().max(1e-3),
                "{name} sample {i}: {got} vs {want}"
            );
        }
        close(
            davies_bouldin(x.view(), &l).unwrap(),
            case["davies_bouldin"].as_f64().unwrap(),
            1e-9,
            &format!("{name} DB"),
        );
        close(
            calinski_harabasz(x.view(), &l).unwrap(),
            case["calinski_harabasz"].as_f64().unwrap(),
            1e-9,
            &format!("{name} CH"),
        );
    }
    for case in f["silhouette_errors"].as_array().unwrap() {
        let x = matrix(&case["X"]);
        let l = labels(&case["labels"]);
        let err = silhouette_score(x.view(), &l).unwrap_err().to_string();
        assert!(
            err.contains("valid values are 2 to n_samples - 1"),
            "{}: {err}",
            case["name"]
        );
        assert!(davies_bouldin(x.view(), &l).is_err() && calinski_harabasz(x.view(), &l).is_err());
    }
}

#[test]
fn partition_comparisons_match_scikit_learn() {
    let f = fixtures();
    for case in f["pairs"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let (a, b) = (labels(&case["a"]), labels(&case["b"]));
        close(
            adjusted_rand_index(&a, &b).unwrap(),
            case["ari"].as_f64().unwrap(),
            1e-9,
            &format!("{name} ARI"),
        );
        let ami = adjusted_mutual_info(&a, &b).unwrap();
        let want = case["ami"].as_f64().unwrap();
        assert!(
            (ami - want).abs() <= 1e-9 * want.abs().max(1e-6),
            "{name} AMI: {ami} vs {want}"
        );
        let c = contingency(&a, &b).unwrap();
        let want: Vec<Vec<u64>> = serde_json::from_value(case["contingency"].clone()).unwrap();
        let got: Vec<Vec<u64>> = c.counts.rows().into_iter().map(|r| r.to_vec()).collect();
        assert_eq!(got, want, "{name} contingency");
    }
}

#[test]
fn kmeans_matches_or_beats_scikit_learn() {
    let f = fixtures();
    for case in f["kmeans"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let x = matrix(&case["X"]);
        let params = KMeansParams::new(case["k"].as_u64().unwrap() as usize)
            .n_init(case["n_init"].as_u64().unwrap() as usize)
            .max_iter(case["max_iter"].as_u64().unwrap() as usize)
            .tol(case["tol"].as_f64().unwrap())
            .seed(42);
        let dataset = DatasetBase::from(x.clone());
        let model = params.fit(&dataset).unwrap();
        let want = case["inertia"].as_f64().unwrap();
        let sk = labels(&case["labels"]);
        if case["unique_optimum"].as_bool().unwrap() {
            assert_eq!(
                adjusted_rand_index(model.labels.as_slice().unwrap(), &sk).unwrap(),
                1.0,
                "{name}: partition differs"
            );
            close(model.inertia, want, 1e-9, &format!("{name} inertia"));
        }
        // Over the same 20 seeds: best no worse than scikit-learn's best × (1 + 1e-9), mean
        // within 0.1 % of scikit-learn's mean (kmeans_random_state.rs checks each seed's
        // result equals scikit-learn's; this holds for any stream).
        let sk_by_seed = floats(&case["inertia_by_seed"]);
        let ours: Vec<f64> = (0..sk_by_seed.len() as u64)
            .map(|seed| {
                params
                    .clone()
                    .seed(seed)
                    .fit_array(x.view())
                    .unwrap()
                    .inertia
            })
            .collect();
        let min = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        assert!(
            min(&ours) <= min(&sk_by_seed) * (1.0 + 1e-9),
            "{name}: best inertia {} vs scikit-learn's {}",
            min(&ours),
            min(&sk_by_seed)
        );
        assert!(
            mean(&ours) <= mean(&sk_by_seed) * (1.0 + 1e-3),
            "{name}: mean inertia {} vs scikit-learn's {}",
            mean(&ours),
            mean(&sk_by_seed)
        );
        // Centroids are the exact means of their members, and inertia is their sum of squares.
        let k = model.centroids.nrows();
        let mut sse = 0.0;
        for j in 0..k {
            let members: Vec<usize> = (0..x.nrows()).filter(|&i| model.labels[i] == j).collect();
            let mean = x
                .select(ndarray::Axis(0), &members)
                .mean_axis(ndarray::Axis(0))
                .unwrap();
            for (got, want) in model.centroids.row(j).iter().zip(mean.iter()) {
                assert!(
                    (got - want).abs() <= 1e-12 * want.abs().max(1.0),
                    "{name} centroid {j}"
                );
            }
            for &i in &members {
                sse += (&x.row(i) - &mean).mapv(|v| v * v).sum();
            }
        }
        close(
            model.inertia,
            sse,
            1e-12,
            &format!("{name} inertia is a sum"),
        );
        let predicted: Array1<usize> = model.predict(&x);
        assert_eq!(
            predicted, model.labels,
            "{name}: predict reproduces the training labels"
        );
        let distances = model.transform(x.view());
        for i in 0..x.nrows() {
            let nearest = (0..k)
                .min_by(|&a, &b| distances[[i, a]].total_cmp(&distances[[i, b]]))
                .unwrap();
            assert_eq!(nearest, model.labels[i]);
        }
    }
}

#[test]
fn kmeans_is_deterministic_whatever_the_thread_count() {
    let f = fixtures();
    let case = &f["kmeans"][3];
    let x = matrix(&case["X"]);
    let fit = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| {
                KMeansParams::new(6)
                    .n_init(4)
                    .seed(7)
                    .fit_array(x.view())
                    .unwrap()
            })
    };
    let one = fit(1);
    for threads in [2, 3, 8] {
        let other = fit(threads);
        assert_eq!(one.labels, other.labels);
        assert_eq!(one.inertia.to_bits(), other.inertia.to_bits());
        assert!(
            one.centroids
                .iter()
                .zip(other.centroids.iter())
                .all(|(a, b)| a.to_bits() == b.to_bits())
        );
    }
    assert_ne!(
        fit(1).labels,
        KMeansParams::new(6)
            .n_init(1)
            .seed(8)
            .max_iter(1)
            .fit_array(x.view())
            .unwrap()
            .labels
    );
}

#[test]
fn pca_matches_scikit_learn() {
    let f = fixtures();
    for case in f["pca"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let x = matrix(&case["X"]);
        let n_components = match &case["n_components"] {
            Value::Number(v) if v.is_u64() => Components::Count(v.as_u64().unwrap() as usize),
            v => Components::Fraction(v.as_f64().unwrap()),
        };
        let pca = PcaParams::new(n_components)
            .fit(&DatasetBase::from(x.clone()))
            .unwrap();
        let keep = case["n_components_resolved"].as_u64().unwrap() as usize;
        assert_eq!(pca.components.nrows(), keep, "{name}: number of components");
        for (what, got, want) in [
            (
                "explained_variance",
                pca.explained_variance.to_vec(),
                floats(&case["explained_variance"]),
            ),
            (
                "explained_variance_ratio",
                pca.explained_variance_ratio.to_vec(),
                floats(&case["explained_variance_ratio"]),
            ),
            (
                "singular_values",
                pca.singular_values.to_vec(),
                floats(&case["singular_values"]),
            ),
            ("mean", pca.mean.to_vec(), floats(&case["mean"])),
        ] {
            for (g, w) in got.iter().zip(&want) {
                close(*g, *w, 1e-9, &format!("{name} {what}"));
            }
        }
        let components = matrix(&case["components"]);
        for (g, w) in pca.components.iter().zip(components.iter()) {
            // Loadings are unit-vector entries: compare on that scale.
            assert!((g - w).abs() <= 1e-9, "{name} components: {g} vs {w}");
        }
        let projected = pca.transform_array(x.view());
        let want = matrix(&case["transformed"]);
        let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        for (g, w) in projected.iter().zip(want.iter()) {
            assert!(
                (g - w).abs() <= 1e-9 * scale,
                "{name} transform: {g} vs {w}"
            );
        }
    }
}

#[test]
fn sampled_silhouette_is_the_exact_score_of_a_seeded_sample() {
    let f = fixtures();
    let case = &f["metrics"][1];
    let x = matrix(&case["X"]);
    let l = labels(&case["labels"]);
    let exact = silhouette_score(x.view(), &l).unwrap();
    let whole = silhouette_score_sampled(x.view(), &l, x.nrows(), 3).unwrap();
    assert!(
        (whole - exact).abs() <= 1e-12,
        "a sample of every row is the exact score"
    );
    let a = silhouette_score_sampled(x.view(), &l, 100, 9).unwrap();
    assert_eq!(
        a,
        silhouette_score_sampled(x.view(), &l, 100, 9).unwrap(),
        "same seed, same sample"
    );
    assert!((-1.0..=1.0).contains(&a));
    assert!(silhouette_score_sampled(x.view(), &l, x.nrows() + 1, 9).is_err());
    for case in f["metrics"].as_array().unwrap() {
        let s = silhouette_samples(matrix(&case["X"]).view(), &labels(&case["labels"])).unwrap();
        assert!(s.iter().all(|v| (-1.0..=1.0).contains(v)));
    }
}

#[test]
fn jaccard_matches_the_contingency_table() {
    let f = fixtures();
    let case = &f["pairs"][2];
    let (a, b) = (labels(&case["a"]), labels(&case["b"]));
    let (c, j) = jaccard(&a, &b).unwrap();
    for ((r, k), &v) in j.indexed_iter() {
        let in_a: std::collections::HashSet<usize> =
            (0..a.len()).filter(|&i| a[i] == c.row_labels[r]).collect();
        let in_b: std::collections::HashSet<usize> =
            (0..b.len()).filter(|&i| b[i] == c.col_labels[k]).collect();
        let want = in_a.intersection(&in_b).count() as f64 / in_a.union(&in_b).count() as f64;
        assert_eq!(v, want);
    }
}

#[test]
fn indices_are_bit_identical_whatever_the_thread_count() {
    let f = fixtures();
    let case = &f["metrics"][1];
    let x = matrix(&case["X"]);
    let l = labels(&case["labels"]);
    let all = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| {
                let s = silhouette_samples(x.view(), &l).unwrap();
                let mut bits: Vec<u64> = s.iter().map(|v| v.to_bits()).collect();
                bits.push(davies_bouldin(x.view(), &l).unwrap().to_bits());
                bits.push(calinski_harabasz(x.view(), &l).unwrap().to_bits());
                bits
            })
    };
    let one = all(1);
    for threads in [2, 5] {
        assert_eq!(one, all(threads));
    }
}

#[test]
fn dbscan_and_ward_match_scikit_learn() {
    let text =
        std::fs::read_to_string(repo_root().join("tests/oracle/cluster/dbscan_ward.json")).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    let mut checked = 0;
    for case in doc["cases"].as_array().unwrap() {
        let x = matrix(&case["x"]);
        let want: Vec<i64> = serde_json::from_value(case["labels"].clone()).unwrap();
        let name = format!("{} {}", case["algorithm"], case["name"]);
        match case["algorithm"].as_str().unwrap() {
            "dbscan" => {
                let m = segflow_cluster::DbscanParams::new(
                    case["eps"].as_f64().unwrap(),
                    case["min_samples"].as_u64().unwrap() as usize,
                )
                .fit_array(x.view())
                .unwrap();
                let got: Vec<i64> = m
                    .labels
                    .iter()
                    .map(|l| l.map_or(-1, |c| c as i64))
                    .collect();
                assert_eq!(got, want, "{name}: labels differ");
            }
            _ => {
                let k = case["k"].as_u64().unwrap() as usize;
                let got = segflow_cluster::ward(x.view(), k).unwrap();
                let want: Vec<usize> = want.iter().map(|&l| l as usize).collect();
                let ari = segflow_cluster::metrics::adjusted_rand_index(&got, &want).unwrap();
                assert_eq!(ari, 1.0, "{name}: ARI {ari}");
            }
        }
        checked += 1;
    }
    assert_eq!(checked, 6);
}

#[test]
fn gaussian_mixtures_match_scikit_learn() {
    let text = std::fs::read_to_string(repo_root().join("tests/oracle/cluster/gmm.json")).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    for case in doc["cases"].as_array().unwrap() {
        let x = matrix(&case["x"]);
        let covariance = match case["covariance"].as_str().unwrap() {
            "full" => segflow_cluster::Covariance::Full,
            _ => segflow_cluster::Covariance::Diag,
        };
        let name = format!("{} {}", case["name"], case["covariance"]);
        let mut params = segflow_cluster::GmmParams::new(3, covariance);
        params.n_init = 5;
        let g = params.fit_array(x.view()).unwrap();
        let want = labels(&case["labels"]);
        let got = g.predict(x.view());
        let ari = segflow_cluster::metrics::adjusted_rand_index(&got, &want).unwrap();
        assert_eq!(ari, 1.0, "{name}: ARI {ari}");
        close(
            g.score(x.view()),
            case["score"].as_f64().unwrap(),
            1e-3,
            &name,
        );
        close(g.bic(x.view()), case["bic"].as_f64().unwrap(), 1e-3, &name);
    }
}

#[test]
fn random_state_draws_what_numpy_draws() {
    use segflow_cluster::RandomState;
    use segflow_cluster::random_state::choice_cdf;
    let text = std::fs::read_to_string(repo_root().join("tests/oracle/cluster/random_state.json"))
        .unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    for case in doc["cases"].as_array().unwrap() {
        let seed = case["seed"].as_u64().unwrap();
        let fresh = || RandomState::from_seed(seed).unwrap();
        let raw: Vec<u32> = serde_json::from_value(case["next_u32"].clone()).unwrap();
        let mut r = fresh();
        assert!(
            raw.iter().all(|&w| r.next_u32() == w),
            "seed {seed}: raw outputs"
        );
        let from_bits = |v: &Value| -> Vec<f64> {
            let bits: Vec<u64> = serde_json::from_value(v.clone()).unwrap();
            bits.into_iter().map(f64::from_bits).collect()
        };
        let mut r = fresh();
        for (i, want) in from_bits(&case["random_sample_bits"])
            .into_iter()
            .enumerate()
        {
            assert_eq!(r.random_sample(), want, "seed {seed}: random_sample {i}");
        }
        let mut r = fresh();
        for (i, want) in from_bits(&case["uniform_-2.5_3_bits"])
            .into_iter()
            .enumerate()
        {
            assert_eq!(r.uniform(-2.5, 3.0), want, "seed {seed}: uniform {i}");
        }
        for (range, want) in case["randint"].as_object().unwrap() {
            let (low, high) = range.split_once(',').unwrap();
            let (low, high): (i64, i64) = (low.parse().unwrap(), high.parse().unwrap());
            let want: Vec<i64> = serde_json::from_value(want.clone()).unwrap();
            let mut r = fresh();
            let got: Vec<i64> = want.iter().map(|_| r.randint(low, high)).collect();
            assert_eq!(got, want, "seed {seed}: randint({low}, {high})");
        }
        let even = choice_cdf(&vec![1.0 / 2091.0; 2091]);
        let want = labels(&case["choice_even_2091"]);
        let mut r = fresh();
        let got: Vec<usize> = want.iter().map(|_| r.choice(&even)).collect();
        assert_eq!(got, want, "seed {seed}: choice(2091, p=uniform)");
        let uneven = choice_cdf(&from_bits(&case["choice_uneven_p_bits"]));
        let want = labels(&case["choice_uneven"]);
        let mut r = fresh();
        let got: Vec<usize> = want.iter().map(|_| r.choice(&uneven)).collect();
        assert_eq!(got, want, "seed {seed}: choice(17, p=uneven)");
    }
    assert!(RandomState::from_seed(1 << 32).is_err());
}

/// Clusters large enough for the exact silhouette's blocked within-cluster pass (822, 410
/// and 205 rows, in blocks of 256): every row's value against the definition evaluated pair
/// by pair, and bit-identical on 1, 2 and 3 threads.
#[test]
fn blocked_exact_silhouette_matches_the_definition_on_any_thread_count() {
    let n = 1437;
    let mut state = 17u64;
    let mut uniform = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    // Rows of the three clusters interleaved, so the sort by cluster matters.
    let l: Vec<usize> = (0..n).map(|i| [0, 0, 1, 0, 2, 1, 0][i % 7]).collect();
    let x = Array2::from_shape_fn((n, 5), |(i, t)| {
        l[i] as f64 * (1.0 + t as f64 * 0.3) + 2.0 * uniform()
    });
    let dist = |i: usize, j: usize| {
        (0..5)
            .map(|t| (x[[i, t]] - x[[j, t]]).powi(2))
            .sum::<f64>()
            .sqrt()
    };
    let ours = silhouette_samples(x.view(), &l).unwrap();
    for i in 0..n {
        let mut sum = [0.0; 3];
        let mut count = [0usize; 3];
        for j in (0..n).filter(|&j| j != i) {
            sum[l[j]] += dist(i, j);
            count[l[j]] += 1;
        }
        let a = sum[l[i]] / count[l[i]] as f64;
        let b = (0..3)
            .filter(|&c| c != l[i])
            .map(|c| sum[c] / count[c] as f64)
            .fold(f64::INFINITY, f64::min);
        let want = (b - a) / a.max(b);
        assert!(
            (ours[i] - want).abs() <= 1e-12,
            "row {i}: {} vs {want}",
            ours[i]
        );
    }
    let bits = |threads: usize| -> Vec<u64> {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| silhouette_samples(x.view(), &l).unwrap())
            .iter()
            .map(|v| v.to_bits())
            .collect()
    };
    let one = bits(1);
    assert_eq!(one, bits(2));
    assert_eq!(one, bits(3));
}
