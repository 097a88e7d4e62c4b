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

/// Rows per block within a chunk when several restarts share a pass: a block of rows stays
/// in the L1 cache while every restart works through it.
pub const BLOCK_ROWS: usize = 256;

/// Cuts each of several per-row slices (one per restart) into chunks and regroups them by
/// chunk: element `c` holds every slice's chunk `c`, in slice order.
pub fn by_chunk<'a, T>(slices: impl Iterator<Item = &'a mut [T]>) -> Vec<Vec<&'a mut [T]>> {
    by_chunk_of(slices, 1)
}

/// [`by_chunk`] for slices holding `per_row` values per row.
pub fn by_chunk_of<'a, T>(
    slices: impl Iterator<Item = &'a mut [T]>,
    per_row: usize,
) -> Vec<Vec<&'a mut [T]>> {
    let mut out: Vec<Vec<&'a mut [T]>> = Vec::new();
    for slice in slices {
        for (c, part) in slice.chunks_mut(CHUNK_ROWS * per_row).enumerate() {
            if out.len() == c {
                out.push(Vec::new());
            }
            out[c].push(part);
        }
    }
    out
}
