//! YAML conveniences for stage params.
//!
//! serde_yaml reads an enum variant that carries data only from a YAML tag (`!quantile 0.9`).
//! Params are friendlier as one-key maps (`{quantile: 0.9}`), so enum-valued params go
//! through [`enum_value`], which accepts both.

use serde::Deserialize;
use serde::de::{DeserializeOwned, Deserializer, Error as _};
use serde_yaml::Value;
use serde_yaml::value::{Tag, TaggedValue};

/// Reads a YAML configuration file (a pipeline or a params file); bytes that are not UTF-8
/// are a configuration error, not an I/O failure.
pub fn read_config(path: &std::path::Path) -> crate::Result<String> {
    let bytes = std::fs::read(path).map_err(|e| crate::Error::open(path, e))?;
    String::from_utf8(bytes).map_err(|e| {
        crate::Error::config(
            path.display().to_string(),
            "",
            format!(
                "not UTF-8 text (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            ),
        )
    })
}

/// Deserialises an externally tagged enum written as `variant` or `{variant: data}`.
pub fn enum_value<T: DeserializeOwned>(value: Value) -> Result<T, serde_yaml::Error> {
    let value = match value {
        Value::Mapping(map) if map.len() == 1 => {
            let (key, data) = map.into_iter().next().expect("one entry");
            match key {
                Value::String(tag) => Value::Tagged(Box::new(TaggedValue {
                    tag: Tag::new(tag),
                    value: data,
                })),
                key => {
                    let mut map = serde_yaml::Mapping::new();
                    map.insert(key, data);
                    Value::Mapping(map)
                }
            }
        }
        other => other,
    };
    serde_yaml::from_value(value)
}

/// For `#[serde(deserialize_with = "…")]` on a field holding such an enum.
pub fn deserialize_enum<'de, D: Deserializer<'de>, T: DeserializeOwned>(
    d: D,
) -> Result<T, D::Error> {
    enum_value(Value::deserialize(d)?).map_err(D::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(rename_all = "snake_case")]
    enum Agg {
        Count,
        Quantile(f64),
        Ratio { num: String },
    }

    #[test]
    fn accepts_plain_tagged_and_one_key_maps() {
        let read = |s: &str| enum_value::<Agg>(serde_yaml::from_str(s).unwrap());
        assert_eq!(read("count").unwrap(), Agg::Count);
        assert_eq!(read("{quantile: 0.9}").unwrap(), Agg::Quantile(0.9));
        assert_eq!(read("!quantile 0.9").unwrap(), Agg::Quantile(0.9));
        assert_eq!(
            read("{ratio: {num: a}}").unwrap(),
            Agg::Ratio { num: "a".into() }
        );
        assert!(read("{mystery: 1}").is_err());
    }
}
