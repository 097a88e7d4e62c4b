//! What the examples share: reading the benchmark's .npy matrices.

use std::fs::File;
use std::io::{BufReader, Read};

use ndarray::Array2;

/// A C-ordered little-endian float64 .npy file (version 1 header) as a matrix, read through
/// a buffer so the file's bytes are never held beside the values.
pub fn read_npy(path: &str) -> Array2<f64> {
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
