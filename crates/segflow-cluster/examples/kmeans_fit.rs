//! One k-means fit of a float64 .npy matrix (scikit-learn's `KMeans(n_clusters=K,
//! n_init=N_INIT, random_state=SEED)`), for comparing builds: prints the fit's CPU time (user
//! and system, from /proc/self/stat; the file read excluded), its wall time, the inertia and
//! its bits, the iterations, and a hash of the labels, centroid bits and inertia bits, which
//! must not change when only speed does.
//!
//!     kmeans_fit DATA.npy K N_INIT SEED

use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::Instant;

use segflow_cluster::KMeansParams;

mod common;
use common::read_npy;

/// This process's user and system CPU seconds so far (Linux; zeros elsewhere).
fn cpu_seconds() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let fields: Vec<&str> = stat
        .rfind(')')
        .map(|i| stat[i + 1..].split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // The kernel reports clock ticks, 100 per second on Linux.
    (ticks(11) / 100.0, ticks(12) / 100.0)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, path, k, n_init, seed] = args.as_slice() else {
        panic!("usage: kmeans_fit DATA.npy K N_INIT SEED");
    };
    let x = read_npy(path);
    let (user0, sys0) = cpu_seconds();
    let start = Instant::now();
    let model = KMeansParams::new(k.parse().expect("K"))
        .n_init(n_init.parse().expect("N_INIT"))
        .seed(seed.parse().expect("SEED"))
        .fit_array(x.view())
        .expect("fit");
    let wall = start.elapsed().as_secs_f64();
    let (user1, sys1) = cpu_seconds();
    let mut hash = DefaultHasher::new();
    model.labels.iter().for_each(|l| l.hash(&mut hash));
    model
        .centroids
        .iter()
        .for_each(|c| c.to_bits().hash(&mut hash));
    model.inertia.to_bits().hash(&mut hash);
    println!(
        "user {:.2} s, sys {:.2} s, wall {wall:.3} s; inertia {:.6} (bits {:016x}), {} iterations, result hash {:016x}",
        user1 - user0,
        sys1 - sys0,
        model.inertia,
        model.inertia.to_bits(),
        model.n_iter,
        hash.finish()
    );
}
