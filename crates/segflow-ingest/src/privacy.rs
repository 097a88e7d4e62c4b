//! Contact ids that never expose the raw identifier.
//!
//! `sha256` reproduces the reference analysis (hex SHA-256 of the decimal string, truncated).
//! It is pseudonymous, not private: 9-digit phone numbers can be enumerated in minutes.
//! `hmac_sha256` keys the hash with a secret read from the environment or a file, never from
//! the YAML, so ids cannot be reversed without the key. `none` keeps ids as the input holds
//! them (trimmed): only for ids that are already pseudonyms, e.g. hashed by the engine that
//! computed the features.

use std::path::PathBuf;

use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use segflow_core::hash::hex;
use segflow_core::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdMethod {
    Sha256,
    HmacSha256,
    /// The input's ids, already pseudonyms, kept as they are.
    None,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdRule {
    #[serde(default = "default_method")]
    pub method: IdMethod,
    /// Leading hex characters kept (1–64).
    #[serde(default = "default_hex_chars")]
    pub hex_chars: usize,
    /// Environment variable holding the HMAC key.
    pub key_env: Option<String>,
    /// File holding the HMAC key (trailing newline ignored).
    pub key_file: Option<PathBuf>,
}

impl Default for IdRule {
    fn default() -> Self {
        Self {
            method: default_method(),
            hex_chars: default_hex_chars(),
            key_env: None,
            key_file: None,
        }
    }
}

fn default_method() -> IdMethod {
    IdMethod::Sha256
}
fn default_hex_chars() -> usize {
    12
}

impl IdRule {
    pub fn validate(&self) -> Result<()> {
        if !(1..=64).contains(&self.hex_chars) {
            return Err(Error::config(
                "",
                "privacy.id.hex_chars",
                "must be between 1 and 64",
            ));
        }
        match (self.method, &self.key_env, &self.key_file) {
            (IdMethod::Sha256, None, None) => Ok(()),
            (IdMethod::Sha256, _, _) => Err(Error::config(
                "",
                "privacy.id",
                "sha256 takes no key; use method: hmac_sha256",
            )),
            (IdMethod::HmacSha256, None, None) | (IdMethod::HmacSha256, Some(_), Some(_)) => {
                Err(Error::config(
                    "",
                    "privacy.id",
                    "hmac_sha256 needs exactly one of key_env or key_file",
                ))
            }
            (IdMethod::HmacSha256, _, _) => Ok(()),
            (IdMethod::None, None, None) if self.hex_chars == default_hex_chars() => Ok(()),
            (IdMethod::None, _, _) => Err(Error::config(
                "",
                "privacy.id",
                "none keeps the ids as they are: it takes no key and no hex_chars",
            )),
        }
    }

    /// Resolves the key (if any) into a ready hasher.
    pub fn hasher(&self) -> Result<IdHasher> {
        let key = match (&self.key_env, &self.key_file) {
            (Some(var), _) => match std::env::var_os(var) {
                Some(v) if !v.is_empty() => Some(v.into_encoded_bytes()),
                _ => {
                    return Err(Error::config(
                        "",
                        "privacy.id.key_env",
                        format!(
                            "environment variable {var} is not set (it must hold the HMAC key)"
                        ),
                    ));
                }
            },
            (None, Some(path)) => {
                let mut bytes = std::fs::read(path).map_err(|e| {
                    Error::config(
                        "",
                        "privacy.id.key_file",
                        format!("cannot read {}: {e}", path.display()),
                    )
                })?;
                while bytes.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                    bytes.pop();
                }
                if bytes.is_empty() {
                    return Err(Error::config(
                        "",
                        "privacy.id.key_file",
                        format!("{} is empty", path.display()),
                    ));
                }
                Some(bytes)
            }
            (None, None) => None,
        };
        Ok(IdHasher {
            key,
            hex_chars: self.hex_chars,
            keep: self.method == IdMethod::None,
        })
    }
}

pub struct IdHasher {
    key: Option<Vec<u8>>,
    hex_chars: usize,
    keep: bool,
}

impl IdHasher {
    pub fn id(&self, raw: &str) -> String {
        if self.keep {
            return raw.to_string();
        }
        let digest = match &self.key {
            None => Sha256::digest(raw.as_bytes()).to_vec(),
            Some(key) => {
                let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
                    .expect("HMAC takes keys of any length");
                mac.update(raw.as_bytes());
                mac.finalize().into_bytes().to_vec()
            }
        };
        let mut s = hex(&digest[..self.hex_chars.div_ceil(2)]);
        s.truncate(self.hex_chars);
        s
    }
}

/// The canonical decimal text of an identifier: trimmed, and a number written as a float with
/// a zero fraction (`648578192.0`, as spreadsheets export it) loses the fraction.
pub fn normalize_id(raw: &str) -> Option<&str> {
    let s = raw.trim();
    if s.is_empty() {
        return None;
    }
    if let Some((int, frac)) = s.split_once('.')
        && !int.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && !frac.is_empty()
        && frac.bytes().all(|b| b == b'0')
    {
        return Some(int);
    }
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_ids() {
        let h = IdRule::default().hasher().unwrap();
        // SHA-256("abc") starts ba7816bf8f01.
        assert_eq!(h.id("abc"), "ba7816bf8f01");
        assert_eq!(normalize_id(" 648578192.0 "), Some("648578192"));
        assert_eq!(normalize_id("648578192.5"), Some("648578192.5"));
        assert_eq!(normalize_id("  "), None);
    }

    #[test]
    fn hmac_known_vector() {
        // RFC 4231 test case 2.
        let h = IdHasher {
            key: Some(b"Jefe".to_vec()),
            hex_chars: 64,
            keep: false,
        };
        assert_eq!(
            h.id("what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn none_keeps_the_trimmed_id_and_takes_no_settings() {
        let rule = |json: &str| -> IdRule { serde_json::from_str(json).unwrap() };
        let keep = rule(r#"{"method": "none"}"#);
        keep.validate().unwrap();
        let h = keep.hasher().unwrap();
        assert_eq!(
            normalize_id(" 3fa9c2e01b7d ").map(|id| h.id(id)),
            Some("3fa9c2e01b7d".into())
        );
        for bad in [
            r#"{"method": "none", "hex_chars": 8}"#,
            r#"{"method": "none", "key_env": "K"}"#,
        ] {
            let e = rule(bad).validate().unwrap_err().to_string();
            assert!(e.contains("none keeps the ids as they are"), "{bad}: {e}");
        }
    }
}
