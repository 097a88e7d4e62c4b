//! `just bench`: segflow-cluster against scikit-learn on the same deterministic data, in one
//! invocation. Writes Gaussian blobs (d = 12, and d = 20 for the larger-K fits; five blobs of
//! unequal sizes, heavy-tailed columns) as .npy, times segflow here, runs
//! benches/sklearn_bench.py on the same files, and prints
//! speed ratios (scikit-learn time / segflow time) next to the goals.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use ndarray::{Array1, Array2, ArrayView2};
use rand_xoshiro::Xoshiro256PlusPlus;
use rand_xoshiro::rand_core::{Rng as _, SeedableRng};
use segflow_cluster::metrics::{calinski_harabasz, davies_bouldin, silhouette_score};
use segflow_cluster::{KMeansParams, MiniBatchKMeansParams};

const D: usize = 12;
/// Columns of the 10⁵-row matrix the larger-K fits run on, as in a Walsoft-like feature matrix.
const D_WIDE: usize = 20;
const K: usize = 5;
const SHARES: [f64; K] = [0.40, 0.25, 0.18, 0.12, 0.05];

/// Blobs with unequal sizes in `d` columns; columns 9 and up get Student-t(2)-like
/// heavy-tailed noise.
fn blobs(n: usize, d: usize, seed: u64) -> (Array2<f64>, Array1<i64>) {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut uniform = move || ((rng.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
    let normal = move |u: &mut dyn FnMut() -> f64| {
        (-2.0 * u().ln()).sqrt() * (2.0 * std::f64::consts::PI * u()).cos()
    };
    let centers: Vec<Vec<f64>> = (0..K)
        .map(|_| (0..d).map(|_| normal(&mut uniform) * 4.0).collect())
        .collect();
    let mut x = Array2::zeros((n, d));
    let mut labels = Array1::zeros(n);
    let mut bounds = Vec::new();
    let mut acc = 0.0;
    for s in SHARES {
        acc += s;
        bounds.push((acc * n as f64).round() as usize);
    }
    for i in 0..n {
        // Interleave clusters so no algorithm benefits from sorted input.
        let r = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) as usize % n;
        let c = bounds.iter().position(|&b| r < b).unwrap_or(K - 1);
        labels[i] = c as i64;
        for t in 0..d {
            let noise = if t >= 9 {
                let z = normal(&mut uniform);
                let chi = -2.0 * uniform().ln();
                z / (chi / 2.0).sqrt()
            } else {
                normal(&mut uniform)
            };
            x[[i, t]] = centers[c][t] + noise;
        }
    }
    (x, labels)
}

fn write_npy(path: &Path, descr: &str, shape: &[usize], bytes: &[u8]) {
    let shape_text = match shape {
        [n] => format!("({n},)"),
        dims => format!(
            "({})",
            dims.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut header =
        format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape_text}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).expect("create .npy"));
    f.write_all(b"\x93NUMPY\x01\x00").unwrap();
    f.write_all(&(header.len() as u16).to_le_bytes()).unwrap();
    f.write_all(header.as_bytes()).unwrap();
    f.write_all(bytes).unwrap();
}

fn save(dir: &Path, name: &str, x: &Array2<f64>, labels: &Array1<i64>) {
    let (n, d) = x.dim();
    let xb: Vec<u8> = x.iter().flat_map(|v| v.to_le_bytes()).collect();
    write_npy(&dir.join(format!("blobs_{name}.npy")), "<f8", &[n, d], &xb);
    let lb: Vec<u8> = labels.iter().flat_map(|v| v.to_le_bytes()).collect();
    write_npy(&dir.join(format!("labels_{name}.npy")), "<i8", &[n], &lb);
}

fn best_of<T>(repeats: usize, mut f: impl FnMut() -> T) -> (f64, T) {
    let mut best = f64::INFINITY;
    let mut out = None;
    for _ in 0..repeats {
        let t0 = Instant::now();
        let r = f();
        best = best.min(t0.elapsed().as_secs_f64());
        out = Some(r);
    }
    (best, out.expect("repeats ≥ 1"))
}

/// Reads every element once (two threads): the memory-bandwidth floor of a pass over X.
fn stream(x: ArrayView2<'_, f64>) -> f64 {
    use rayon::prelude::*;
    x.as_slice()
        .unwrap()
        .par_chunks(1 << 16)
        .map(|c| c.iter().sum::<f64>())
        .sum()
}

fn main() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-data");
    std::fs::create_dir_all(&dir).unwrap();
    eprintln!("generating data in {}", dir.display());
    let (x6, l6) = blobs(1_000_000, D, 1);
    let (x5, l5) = blobs(100_000, D, 2);
    let (x4, l4) = blobs(10_000, D, 3);
    let (xw, lw) = blobs(100_000, D_WIDE, 4);
    save(&dir, "1000000", &x6, &l6);
    save(&dir, "100000", &x5, &l5);
    save(&dir, "10000", &x4, &l4);
    save(&dir, "100000x20", &xw, &lw);
    let u6: Vec<usize> = l6.iter().map(|&v| v as usize).collect();
    let u4: Vec<usize> = l4.iter().map(|&v| v as usize).collect();
    let threads = rayon::current_num_threads();

    eprintln!("timing segflow");
    let (t_stream, _) = best_of(5, || stream(x6.view()));
    let init = x6.slice(ndarray::s![0..K, ..]).to_owned();
    // Per-iteration cost without set-up: difference between runs of 1 and of M iterations
    // from the same initial centroids.
    let from = |iters: usize| {
        KMeansParams::new(K)
            .max_iter(iters)
            .tol(0.0)
            .fit_from(x6.view(), init.view())
            .unwrap()
    };
    let (t_one, _) = best_of(3, || from(1));
    let (t_many, many) = best_of(3, || from(11));
    let t_lloyd = (t_many - t_one) / (many.n_iter - 1) as f64;
    let (t_km, km) = best_of(1, || {
        KMeansParams::new(K)
            .n_init(10)
            .seed(0)
            .fit_array(x6.view())
            .unwrap()
    });
    let (t_mb, mb) = best_of(3, || {
        MiniBatchKMeansParams::new(K)
            .seed(0)
            .fit_array(x6.view())
            .unwrap()
    });
    let (t_sweep, sweep) = best_of(1, || {
        (2..=10)
            .map(|k| {
                KMeansParams::new(k)
                    .n_init(10)
                    .seed(0)
                    .fit_array(x5.view())
                    .unwrap()
                    .inertia
            })
            .collect::<Vec<_>>()
    });
    // Larger K on the wider matrix, 50 restarts as select_k and fit run them by default.
    let wide = |k: usize| {
        KMeansParams::new(k)
            .n_init(50)
            .seed(0)
            .fit_array(xw.view())
            .unwrap()
    };
    let (t_k8, k8) = best_of(1, || wide(8));
    let (t_k12, k12) = best_of(1, || wide(12));
    let (t_sil, sil) = best_of(5, || silhouette_score(x4.view(), &u4).unwrap());
    let (t_db, db) = best_of(3, || davies_bouldin(x6.view(), &u6).unwrap());
    let (t_ch, ch) = best_of(3, || calinski_harabasz(x6.view(), &u6).unwrap());

    eprintln!("timing scikit-learn (same data, same machine)");
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches/sklearn_bench.py");
    let out = std::process::Command::new("python3")
        .arg(&script)
        .arg(&dir)
        .output()
        .expect("run python3");
    if !out.status.success() {
        eprintln!("{}", String::from_utf8_lossy(&out.stderr));
        eprintln!(
            "scikit-learn side failed: pip install -r crates/segflow-cluster/benches/requirements.txt"
        );
        std::process::exit(1);
    }
    let sk: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("JSON from sklearn_bench.py");
    let secs = |task: &str| sk[task]["seconds"].as_f64().unwrap();

    println!(
        "segflow-cluster vs scikit-learn {} (numpy {}), {threads} threads, same data",
        sk["versions"]["sklearn"].as_str().unwrap(),
        sk["versions"]["numpy"].as_str().unwrap()
    );
    println!(
        "{:<34} {:>11} {:>12} {:>8}  {:<8} met",
        "task", "segflow s", "sklearn s", "ratio", "goal"
    );
    let row = |task: &str, ours: f64, theirs: f64, goal: f64| {
        let ratio = theirs / ours;
        println!(
            "{task:<34} {ours:>11.4} {theirs:>12.4} {ratio:>7.2}×  ≥ {goal:<5}× {}",
            if ratio >= goal { "yes" } else { "NO" }
        );
    };
    row(
        "k-means 1e6×12 k=5 n_init=10",
        t_km,
        secs("kmeans_1e6"),
        3.0,
    );
    row(
        "K sweep 2..10 at 1e5, n_init=10",
        t_sweep,
        secs("ksweep_1e5"),
        3.0,
    );
    row(
        "k-means 1e5×20 k=8 n_init=50",
        t_k8,
        secs("kmeans_1e5x20_k8"),
        3.0,
    );
    row(
        "k-means 1e5×20 k=12 n_init=50",
        t_k12,
        secs("kmeans_1e5x20_k12"),
        3.0,
    );
    row(
        "silhouette exact n=1e4",
        t_sil,
        secs("silhouette_1e4"),
        10.0,
    );
    row("Davies–Bouldin 1e6", t_db, secs("davies_bouldin_1e6"), 3.0);
    row(
        "Calinski–Harabasz 1e6",
        t_ch,
        secs("calinski_harabasz_1e6"),
        3.0,
    );
    let lloyd_ratio = t_lloyd / t_stream;
    println!(
        "{:<34} {:>11.4} {:>12.4} {:>7.2}×  ≤ 2    × {}   (Lloyd iteration / one stream of X)",
        "one Lloyd iteration 1e6×12 k=5",
        t_lloyd,
        t_stream,
        lloyd_ratio,
        if lloyd_ratio <= 2.0 { "yes" } else { "NO" }
    );
    println!(
        "{:<34} {:>11.4} {:>12.4} {:>7.2}×  (no goal; inertia segflow {:.6e}, scikit-learn {:.6e})",
        "mini-batch k-means 1e6 k=5",
        t_mb,
        secs("minibatch_1e6"),
        secs("minibatch_1e6") / t_mb,
        mb.inertia,
        sk["minibatch_1e6"]["inertia"].as_f64().unwrap()
    );
    let sk_inertia = sk["kmeans_1e6"]["inertia"].as_f64().unwrap();
    println!(
        "k-means 1e6 inertia: segflow {:.6} ({} iterations), scikit-learn {:.6} ({} iterations): segflow {}",
        km.inertia,
        km.n_iter,
        sk_inertia,
        sk["kmeans_1e6"]["n_iter"],
        if km.inertia <= sk_inertia * (1.0 + 1e-9) {
            "≤ scikit-learn"
        } else {
            "WORSE"
        }
    );
    for (name, ours) in [("k8", &k8), ("k12", &k12)] {
        let theirs = &sk[format!("kmeans_1e5x20_{name}")];
        println!(
            "k-means 1e5×20 {name}: inertia segflow {:.6} ({} iterations), scikit-learn {:.6} ({} iterations)",
            ours.inertia,
            ours.n_iter,
            theirs["inertia"].as_f64().unwrap(),
            theirs["n_iter"]
        );
    }
    let sweep_sk: Vec<f64> = serde_json::from_value(sk["ksweep_1e5"]["inertia"].clone()).unwrap();
    let worse = sweep
        .iter()
        .zip(&sweep_sk)
        .filter(|(a, b)| **a > **b * (1.0 + 1e-9))
        .count();
    println!("K sweep inertia: segflow worse than scikit-learn at {worse} of 9 K");
    let rel = |a: f64, b: f64| ((a - b) / b).abs();
    println!(
        "values: silhouette Δrel {:.1e}, Davies–Bouldin Δrel {:.1e}, Calinski–Harabasz Δrel {:.1e}",
        rel(sil, sk["silhouette_1e4"]["value"].as_f64().unwrap()),
        rel(db, sk["davies_bouldin_1e6"]["value"].as_f64().unwrap()),
        rel(ch, sk["calinski_harabasz_1e6"]["value"].as_f64().unwrap())
    );
    let _ = (l5, lw);
}
