//! One mini-batch k-means fit of a float64 .npy matrix, for `just bench-minibatch`
//! (benches/minibatch_bench.py runs it beside scikit-learn's `MiniBatchKMeans`, each in its
//! own process so each has its own peak memory). Prints one JSON line: fit seconds, inertia,
//! batches, and the process's peak resident memory (VmHWM) in KiB.
//!
//!     minibatch_fit DATA.npy K BATCH_SIZE SEED

use std::time::Instant;

use segflow_cluster::MiniBatchKMeansParams;

mod common;
use common::read_npy;

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, path, k, batch, seed] = args.as_slice() else {
        panic!("usage: minibatch_fit DATA.npy K BATCH_SIZE SEED");
    };
    let x = read_npy(path);
    let start = Instant::now();
    let model = MiniBatchKMeansParams::new(k.parse().expect("K"))
        .batch_size(batch.parse().expect("BATCH_SIZE"))
        .seed(seed.parse().expect("SEED"))
        .fit_array(x.view())
        .expect("fit");
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({
            "seconds": seconds,
            "inertia": model.inertia,
            "batches": model.n_iter,
            "peak_rss_kib": peak_rss_kib(),
        })
    );
}
