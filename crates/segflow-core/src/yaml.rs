//! The one module that knows segflow's YAML library. Pipelines, params files and the lock file
//! are read here; everything else sees a parsed document as a [`ParamTree`] or a typed struct,
//! so swapping the library touches this file alone.
//!
//! A document becomes a JSON-shaped tree in document order: YAML tags (`!quantile 0.9`) become
//! one-key maps (`{quantile: 0.9}`), which is how params write enums; scalar keys become
//! strings. Hostile input is refused before the YAML parser sees it: its scanner is quadratic in
//! the nesting depth of flow collections (100,000 nested brackets took 30 s), so [`check_depth`]
//! bounds that depth in one linear pass.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value as Tree};
use yaml_serde::Value;

use crate::params::ParamTree;
use crate::{Error, Result};

/// Deeper than any real params document (the deepest segflow params nest 5 levels).
pub const MAX_DEPTH: usize = 64;

/// Reads a YAML configuration file (a pipeline or a params file); bytes that are not UTF-8
/// are a configuration error, not an I/O failure.
pub fn read_config(path: &std::path::Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| Error::open(path, e))?;
    String::from_utf8(bytes).map_err(|e| {
        Error::config(
            path.display().to_string(),
            "",
            format!(
                "not UTF-8 text (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            ),
        )
    })
}

/// Parses a configuration document; every problem is a config error naming `file` (and the
/// line, where the parser knows it).
pub fn parse_document(file: &str, text: &str) -> Result<ParamTree> {
    let invalid = |message: String| Error::config(file, "", format!("not valid YAML: {message}"));
    check_depth(text).map_err(invalid)?;
    let value: Value = yaml_serde::from_str(text).map_err(|e| invalid(e.to_string()))?;
    let mut path = Vec::new();
    to_tree(value, &mut path)
        .map(ParamTree::from_tree)
        .map_err(|(key, message)| Error::config(file, key, message))
}

/// Reads a YAML file segflow wrote itself (the lock file) into `T`.
pub fn from_str<T: DeserializeOwned>(text: &str) -> std::result::Result<T, String> {
    check_depth(text)?;
    yaml_serde::from_str(text).map_err(|e| e.to_string())
}

/// Writes `value` as YAML.
pub fn to_string<T: Serialize>(value: &T) -> Result<String> {
    yaml_serde::to_string(value).map_err(|e| Error::Internal(e.to_string()))
}

/// Refuses flow collections (`[…]`, `{…}`) nested deeper than [`MAX_DEPTH`], skipping quoted
/// scalars and comments. Block nesting needs indentation, so a file's size bounds it; the
/// deserializer's recursion limit refuses what gets past this.
pub fn check_depth(text: &str) -> std::result::Result<(), String> {
    let mut depth = 0usize;
    let mut line = 1usize;
    let mut chars = text.chars().peekable();
    // `previous` is the character just before; `significant` the last one that is not a space
    // or tab. A quote opens a quoted scalar only where a scalar may start (so `don't` opens
    // nothing), and `#` starts a comment only after a blank.
    let mut previous = '\n';
    let mut significant = '\n';
    while let Some(c) = chars.next() {
        match c {
            '\n' => line += 1,
            '#' if previous.is_whitespace() => {
                while chars.peek().is_some_and(|&n| n != '\n') {
                    chars.next();
                }
            }
            '"' | '\'' if matches!(significant, '\n' | '[' | '{' | ',' | ':' | '-' | '?') => {
                // Inside "…" a backslash escapes; inside '…' a doubled quote does.
                while let Some(q) = chars.next() {
                    match q {
                        '\n' => line += 1,
                        '\\' if c == '"' => {
                            chars.next();
                        }
                        q if q == c => {
                            if c == '\'' && chars.peek() == Some(&'\'') {
                                chars.next();
                            } else {
                                break;
                            }
                        }
                        _ => {}
                    }
                }
            }
            '[' | '{' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(format!(
                        "collections nested deeper than {MAX_DEPTH} levels at line {line}"
                    ));
                }
            }
            ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        previous = c;
        if c != ' ' && c != '\t' {
            significant = c;
        }
    }
    Ok(())
}

/// Converts a YAML value; an error carries the key path and what is wrong there.
fn to_tree(value: Value, path: &mut Vec<String>) -> std::result::Result<Tree, (String, String)> {
    let at = |path: &[String]| path.join(".");
    Ok(match value {
        Value::Null => Tree::Null,
        Value::Bool(b) => Tree::Bool(b),
        Value::Number(n) => {
            if n.as_f64().is_some_and(|f| !f.is_finite()) {
                return Err((at(path), format!("{n} is not a finite number")));
            }
            serde_json::to_value(&n).map_err(|e| (at(path), e.to_string()))?
        }
        Value::String(s) => Tree::String(s),
        Value::Sequence(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.into_iter().enumerate() {
                path.push(i.to_string());
                out.push(to_tree(item, path)?);
                path.pop();
            }
            Tree::Array(out)
        }
        Value::Mapping(map) => {
            let mut out = Map::new();
            for (key, item) in map {
                let key = match key {
                    Value::String(s) => s,
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    Value::Null => "null".to_string(),
                    _ => return Err((at(path), "keys must be plain scalars".into())),
                };
                path.push(key.clone());
                let item = to_tree(item, path)?;
                path.pop();
                if out.insert(key.clone(), item).is_some() {
                    return Err((at(path), format!("duplicate key `{key}`")));
                }
            }
            Tree::Object(out)
        }
        Value::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let name = tag.trim_start_matches('!').to_string();
            path.push(name.clone());
            let inner = to_tree(tagged.value, path)?;
            path.pop();
            let mut out = Map::new();
            out.insert(name, inner);
            Tree::Object(out)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(text: &str) -> String {
        parse_document("p.yaml", text).unwrap().to_json()
    }

    #[test]
    fn tags_become_one_key_maps_and_keys_strings() {
        assert_eq!(json("a: !quantile 0.9"), r#"{"a":{"quantile":0.9}}"#);
        assert_eq!(json("a: {quantile: 0.9}"), r#"{"a":{"quantile":0.9}}"#);
        assert_eq!(json("{2: x, true: y}"), r#"{"2":"x","true":"y"}"#);
        assert_eq!(json("[1, -2, 0.5, null]"), "[1,-2,0.5,null]");
    }

    #[test]
    fn non_finite_numbers_are_refused_with_their_path() {
        let err = parse_document("p.yaml", "a: {b: [1, .nan]}").unwrap_err();
        assert_eq!(err.exit_code(), 78);
        assert!(err.to_string().contains("a.b.1"), "{err}");
    }

    #[test]
    fn deep_flow_nesting_is_refused_and_quoted_brackets_are_not_counted() {
        let deep = format!(
            "a: {}{}",
            "[".repeat(MAX_DEPTH + 1),
            "]".repeat(MAX_DEPTH + 1)
        );
        let err = parse_document("p.yaml", &deep).unwrap_err().to_string();
        assert!(
            err.contains("nested deeper than 64 levels at line 1"),
            "{err}"
        );
        let shallow = format!("a: {}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse_document("p.yaml", &shallow).is_ok());
        let quoted = format!(
            "a: '{}'\nb: \"{}\" # {}",
            "[".repeat(100),
            "{".repeat(100),
            "[".repeat(100)
        );
        assert!(check_depth(&quoted).is_ok());
        assert!(check_depth("a: 'it''s [' \nb: \"\\\" [\"").is_ok());
    }
}
