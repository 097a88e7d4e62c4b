//! Content hashing for lock entries, provenance and `segflow verify`.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

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
pub fn params_hash(kind: &str, params: &serde_yaml::Value) -> Result<String> {
    let canonical = serde_json::json!({ "stage": kind, "params": params_value(params)? });
    Ok(sha256_hex(canonical.to_string().as_bytes()))
}

/// A params document as one line of JSON in document order, for artifact provenance: later
/// tools (`segflow assign`) rerun a stage with exactly the params it was run with.
pub fn params_json(params: &serde_yaml::Value) -> Result<String> {
    Ok(params_value(params)?.to_string())
}

fn params_value(value: &serde_yaml::Value) -> Result<serde_json::Value> {
    use serde_yaml::Value as Y;
    Ok(match value {
        Y::Null => serde_json::Value::Null,
        Y::Bool(b) => serde_json::Value::Bool(*b),
        Y::Number(n) => serde_json::to_value(n).map_err(|e| Error::Internal(e.to_string()))?,
        Y::String(s) => serde_json::Value::String(s.clone()),
        Y::Sequence(items) => {
            serde_json::Value::Array(items.iter().map(params_value).collect::<Result<_>>()?)
        }
        Y::Mapping(map) => {
            let mut out = serde_json::Map::new();
            for (k, v) in map {
                let key = match k {
                    Y::String(s) => s.clone(),
                    other => serde_yaml::to_string(other)
                        .map_err(|e| Error::Internal(e.to_string()))?
                        .trim()
                        .to_string(),
                };
                out.insert(key, params_value(v)?);
            }
            serde_json::Value::Object(out)
        }
        Y::Tagged(tagged) => serde_json::json!({
            "tag": tagged.tag.to_string(),
            "value": params_value(&tagged.value)?,
        }),
    })
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
        let a: serde_yaml::Value = serde_yaml::from_str("{a: 1, b: [x, {c: 2, d: 3}]}").unwrap();
        let block: serde_yaml::Value =
            serde_yaml::from_str("# note\na: 1\nb:\n  - x\n  - c: 2\n    d: 3\n").unwrap();
        let reordered: serde_yaml::Value =
            serde_yaml::from_str("{a: 1, b: [x, {d: 3, c: 2}]}").unwrap();
        let changed: serde_yaml::Value =
            serde_yaml::from_str("{a: 2, b: [x, {c: 2, d: 3}]}").unwrap();
        let h = |v: &serde_yaml::Value| params_hash("s", v).unwrap();
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
