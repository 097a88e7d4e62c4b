use std::time::Instant;
fn main() {
    let n = 1_000_000;
    let d = 12;
    let mut s = 1u64;
    let mut rnd = || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f64 / (1u64 << 53) as f64
    };
    let x = ndarray::Array2::from_shape_fn((n, d), |(i, _)| rnd() + (i % 5) as f64 * 3.0);
    let t = Instant::now();
    let m = segflow_cluster::KMeansParams::new(5)
        .n_init(10)
        .seed(0)
        .fit_array(x.view())
        .unwrap();
    println!("full {:?} iters {}", t.elapsed(), m.n_iter);
}
