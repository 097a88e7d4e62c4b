//! One mini-batch k-means fit of a float64 .npy matrix, for `just bench-minibatch`
//! (benches/minibatch_bench.py runs it beside scikit-learn's `MiniBatchKMeans`, each in its
//! own process so each has its own peak memory). Prints one JSON line: fit seconds, inertia,
//! batches, and the process's peak resident memory (VmHWM) in KiB.
//!
//!     minibatch_fit DATA.npy K BATCH_SIZE SEED

use std::fs::File;
use std::io::{BufReader, Read};
use std::time::Instant;

use ndarray::Array2;
use segflow_cluster::MiniBatchKMeansParams;

/// A C-ordered little-endian float64 .npy file (version 1 header) as a matrix, read through
/// a buffer so the file's bytes are never held beside the values.
fn read_npy(path: &str) -> Array2<f64> {
    let mut f = BufReader::new(File::open(path).expect("open .npy"));
    let mut prefix = [0u8; 10];
    f.read_exact(&mut prefix).expect("npy prefix");
    let mut header = vec![0u8; u16::from_le_bytes([prefix[8], prefix[9]]) as usize];
    f.read_exact(&mut header).expect("npy header");
    let header = String::from_utf8(header).expect("header text");
    assert!(header.contains("'descr': '<f8'") && header.contains("'fortran_order': False"));
    let shape = &header[header.find("'shape': (").expect("shape") + 10..];
    let dims: Vec<usize> = shape[..shape.find(')').expect("shape end")]
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let mut values = Vec::with_capacity(dims[0] * dims[1]);
    let mut word = [0u8; 8];
    for _ in 0..dims[0] * dims[1] {
        f.read_exact(&mut word).expect("npy data");
        values.push(f64::from_le_bytes(word));
    }
    Array2::from_shape_vec((dims[0], dims[1]), values).expect("shape matches data")
}

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
