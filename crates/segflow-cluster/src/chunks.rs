//! Deterministic parallel reductions over rows: rows are cut into fixed-size chunks (not one
//! per thread), each chunk reduces on its own, and the partial results are combined in chunk
//! order. The floating-point result is therefore the same for any thread count.

use rayon::prelude::*;

/// Rows per chunk: small enough to balance two to many cores, large enough that combining
/// partial results costs nothing.
pub const CHUNK_ROWS: usize = 4096;

/// Maps each chunk of rows `[start, end)` to a partial result in parallel and returns the
/// partials in chunk order.
pub fn map_chunks<T: Send>(n: usize, f: impl Fn(usize, usize) -> T + Sync + Send) -> Vec<T> {
    let n_chunks = n.div_ceil(CHUNK_ROWS);
    (0..n_chunks)
        .into_par_iter()
        .map(|c| f(c * CHUNK_ROWS, ((c + 1) * CHUNK_ROWS).min(n)))
        .collect()
}
