//! Content hashing for lock entries, provenance and `segflow verify`.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::params::ParamTree;
use crate::{Error, Result};

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// SHA-256 of a file's content, streamed so large inputs are not held in memory.
pub fn file_sha256(path: &Path) -> Result<String> {
    let mut file = File::open(path).map_err(|e| Error::open(path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

/// Hash of a params document that does not depend on YAML formatting (comments, anchors,
/// flow or block style). Key order counts: it sets the column order of features.
pub fn params_hash(kind: &str, params: &ParamTree) -> Result<String> {
    let canonical = serde_json::json!({ "stage": kind, "params": params.tree() });
    Ok(sha256_hex(canonical.to_string().as_bytes()))
}

/// A params document as one line of JSON in document order, for artifact provenance: later
/// tools (`segflow assign`) rerun a stage with exactly the params it was run with.
pub fn params_json(params: &ParamTree) -> Result<String> {
    Ok(params.to_json())
}

pub fn hex(bytes: &[u8]) -> String {
    // By table, not `write!`: ingest encodes one digest per input row.
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_hash_ignores_formatting_but_not_order() {
        let tree = |text: &str| crate::yaml::parse_document("p.yaml", text).unwrap();
        let a = tree("{a: 1, b: [x, {c: 2, d: 3}]}");
        let block = tree("# note\na: 1\nb:\n  - x\n  - c: 2\n    d: 3\n");
        let reordered = tree("{a: 1, b: [x, {d: 3, c: 2}]}");
        let changed = tree("{a: 2, b: [x, {c: 2, d: 3}]}");
        let h = |v: &ParamTree| params_hash("s", v).unwrap();
        assert_eq!(h(&a), h(&block));
        assert_ne!(h(&a), h(&reordered), "feature order sets column order");
        assert_ne!(h(&a), h(&changed));
        assert_ne!(h(&a), params_hash("t", &a).unwrap());
        assert_eq!(
            params_json(&a).unwrap(),
            r#"{"a":1,"b":["x",{"c":2,"d":3}]}"#
        );
    }

    #[test]
    fn sha256_known_vector() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
