//! Stage params as they reach a stage: a document tree owned by segflow-core, whatever format
//! it was written in (pipeline YAML, a params file, or the JSON provenance of an artifact), and
//! the strict typed parsing every stage does on it.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value as Tree;

use crate::{Error, Result};

/// A params document in document order (feature order is column order).
#[derive(Debug, Clone, PartialEq)]
pub struct ParamTree(Tree);

impl Default for ParamTree {
    fn default() -> Self {
        Self::empty()
    }
}

impl ParamTree {
    /// No params: an empty mapping.
    pub fn empty() -> Self {
        Self(Tree::Object(Default::default()))
    }

    pub(crate) fn from_tree(tree: Tree) -> Self {
        Self(tree)
    }

    /// The params recorded as one line of JSON in an artifact's provenance.
    pub fn from_json(text: &str) -> Result<Self> {
        serde_json::from_str(text)
            .map(Self)
            .map_err(|e| Error::Internal(format!("params are not JSON: {e}")))
    }

    /// Params built in code.
    pub fn from_serialize(value: &impl Serialize) -> Result<Self> {
        serde_json::to_value(value)
            .map(Self)
            .map_err(|e| Error::Internal(e.to_string()))
    }

    pub fn is_null(&self) -> bool {
        self.0.is_null()
    }

    /// Whether the document is a mapping holding `key`.
    pub fn contains_key(&self, key: &str) -> bool {
        self.0.get(key).is_some()
    }

    /// Sets `key` of a mapping document (the runner's and `assign`'s additions to a stage's
    /// params); a document that is not a mapping is a config error.
    pub fn set(&mut self, key: &str, value: impl Serialize) -> Result<()> {
        let value = serde_json::to_value(value).map_err(|e| Error::Internal(e.to_string()))?;
        match &mut self.0 {
            Tree::Object(map) => {
                map.insert(key.to_string(), value);
                Ok(())
            }
            _ => Err(Error::config("", "", "params must be a mapping")),
        }
    }

    /// The document as one line of JSON in document order: what artifacts record and what the
    /// params hash is taken over.
    pub fn to_json(&self) -> String {
        self.0.to_string()
    }

    pub(crate) fn tree(&self) -> &Tree {
        &self.0
    }

    pub(crate) fn into_tree(self) -> Tree {
        self.0
    }
}

/// Deserialises stage params strictly; the error names the offending key path, nested keys and
/// enum variants included (`blocks.volume.n_calls.quantile`).
pub fn parse_params<P: DeserializeOwned>(params: &ParamTree) -> Result<P> {
    serde_path_to_error::deserialize(&params.0).map_err(|e| {
        let path = e.path().to_string();
        let message = e.into_inner().to_string();
        let hint = misspelling_hint(&message);
        Error::config(
            "",
            if path == "." { String::new() } else { path },
            format!("{message}{hint}"),
        )
    })
}

/// For serde's "unknown variant `x`, expected one of `a`, `b`" (and unknown fields), the
/// nearest expected names, so a typo in a chart or key name reads "did you mean `a`?".
fn misspelling_hint(message: &str) -> String {
    if !(message.starts_with("unknown variant") || message.starts_with("unknown field")) {
        return String::new();
    }
    let mut quoted = message.split('`').skip(1).step_by(2);
    match quoted.next() {
        Some(name) => crate::suggest::did_you_mean(name, quoted),
        None => String::new(),
    }
}

/// Params that check what serde cannot (ranges, combinations of keys).
pub trait Validate {
    fn validate(&self) -> Result<()>;
}

/// Deserialises stage params strictly, then validates them.
pub fn parse_valid<P: DeserializeOwned + Validate>(params: &ParamTree) -> Result<P> {
    let params: P = parse_params(params)?;
    params.validate()?;
    Ok(params)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use std::collections::BTreeMap;

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(rename_all = "snake_case", deny_unknown_fields)]
    enum Agg {
        Count,
        Quantile(f64),
        Ratio { num: String },
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Spec {
        blocks: BTreeMap<String, BTreeMap<String, Agg>>,
    }

    fn tree(text: &str) -> ParamTree {
        crate::yaml::parse_document("p.yaml", text).unwrap()
    }

    #[test]
    fn enums_read_as_names_one_key_maps_and_tags() {
        let read = |s: &str| parse_params::<Agg>(&tree(s));
        assert_eq!(read("count").unwrap(), Agg::Count);
        assert_eq!(read("{quantile: 0.9}").unwrap(), Agg::Quantile(0.9));
        assert_eq!(read("!quantile 0.9").unwrap(), Agg::Quantile(0.9));
        assert_eq!(
            read("{ratio: {num: a}}").unwrap(),
            Agg::Ratio { num: "a".into() }
        );
        assert!(read("{mystery: 1}").is_err());
    }

    #[test]
    fn errors_name_the_full_path_inside_enum_variants() {
        let spec = parse_params::<Spec>(&tree("blocks: {volume: {n: count}}")).unwrap();
        assert_eq!(spec.blocks["volume"]["n"], Agg::Count);
        let err = parse_params::<Spec>(&tree("blocks: {volume: {n: {quantile: high}}}"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("blocks.volume.n.quantile"), "{err}");
        let err = parse_params::<Spec>(&tree("blocks: {volume: {n: {ratio: {num: a, den: b}}}}"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("blocks.volume.n.ratio"), "{err}");
        assert!(err.contains("unknown field `den`"), "{err}");
    }

    #[test]
    fn a_misspelled_variant_names_the_nearest_ones() {
        let err = parse_params::<Agg>(&tree("quantle: 0.9"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("did you mean `quantile`?"), "{err}");
    }
}
