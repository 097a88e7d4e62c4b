//! Mini-batch k-means against scikit-learn's `MiniBatchKMeans` (tests/oracle/cluster/
//! minibatch.py → minibatch.json): on the same generated fixture and batch size, segflow's
//! median inertia over 16 seeds is at most 1 % above scikit-learn's, and a fit is
//! bit-identical on 1 and 4 threads.

use ndarray::Array2;
use segflow_cluster::{KMeans, MiniBatchKMeansParams};
use segflow_tests::repo_root;
use serde_json::Value;

fn oracle() -> Value {
    let text =
        std::fs::read_to_string(repo_root().join("tests/oracle/cluster/minibatch.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// splitmix64, as the oracle script draws.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn uniform(&mut self) -> f64 {
        (self.next() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// The oracle script's fixture, operation for operation.
fn fixture(n: usize, d: usize, k: usize) -> Array2<f64> {
    let mut g = SplitMix64(2026);
    let centers: Vec<Vec<f64>> = (0..k)
        .map(|_| (0..d).map(|_| g.uniform() * 40.0).collect())
        .collect();
    let spreads: Vec<f64> = (0..k).map(|_| 0.5 + g.uniform() * 2.5).collect();
    let mut x = Array2::zeros((n, d));
    for i in 0..n {
        let u = g.uniform();
        let c = (u * u * k as f64).floor() as usize;
        for t in 0..d {
            let noise = g.uniform() + g.uniform() + g.uniform() + g.uniform() - 2.0;
            x[[i, t]] = centers[c][t] + spreads[c] * noise;
        }
    }
    x
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len().is_multiple_of(2) {
        (v[m - 1] + v[m]) / 2.0
    } else {
        v[m]
    }
}

fn setup() -> (Value, Array2<f64>, MiniBatchKMeansParams) {
    let o = oracle();
    let get = |key: &str| o[key].as_u64().unwrap() as usize;
    let x = fixture(get("n"), get("d"), get("k"));
    // The same numbers as scikit-learn's, checked by their first row and sum.
    let first: Vec<f64> = serde_json::from_value(o["first_row"].clone()).unwrap();
    // serde_json may round the last bit of a decimal it reads.
    for (a, b) in x.row(0).iter().zip(&first) {
        assert!(
            (a - b).abs() <= 1e-12 * b.abs(),
            "fixture's first row: {a} vs {b}"
        );
    }
    let sum = o["sum"].as_f64().unwrap();
    assert!((x.sum() - sum).abs() <= 1e-9 * sum, "{} vs {sum}", x.sum());
    let params = MiniBatchKMeansParams::new(get("k")).batch_size(get("batch_size"));
    (o, x, params)
}

#[test]
fn minibatch_inertia_within_one_percent_of_scikit_learn() {
    let (o, x, params) = setup();
    let theirs: Vec<f64> = serde_json::from_value(o["inertia"].clone()).unwrap();
    let ours: Vec<f64> = (0..theirs.len() as u64)
        .map(|seed| {
            params
                .clone()
                .seed(seed)
                .fit_array(x.view())
                .unwrap()
                .inertia
        })
        .collect();
    let (ours_m, theirs_m) = (median(ours.clone()), median(theirs.clone()));
    assert!(
        ours_m <= theirs_m * 1.01,
        "segflow's median inertia {ours_m} vs scikit-learn's {theirs_m}\nsegflow: {ours:?}\nscikit-learn: {theirs:?}"
    );
}

#[test]
fn minibatch_is_identical_on_one_and_four_threads() {
    let (_, x, params) = setup();
    let fit = |threads: usize| -> KMeans {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| params.clone().seed(3).fit_array(x.view()).unwrap())
    };
    let one = fit(1);
    assert_eq!(one, fit(4));
    assert!(one.n_iter > 0);
}
