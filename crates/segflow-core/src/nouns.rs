//! The pipeline's nouns: what one row of the model is (`entity`), what one line of an event log
//! is (`event`), and what its value measures (`value`), so that the report, cards and
//! narratives speak the user's domain. Declared once at the top of the pipeline YAML; the
//! runner hands the block to the stages that write words (see `Stage::speaks`). Without it
//! segflow speaks of the reference phone log: contacts, calls and call duration (s).

use serde::{Deserialize, Deserializer};

/// A countable noun with its plural ("customer", "customers").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Noun {
    pub singular: String,
    pub plural: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Forms {
    singular: String,
    plural: Option<String>,
}

impl<'de> Deserialize<'de> for Noun {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        use serde::de::Error as _;
        // Read as a value first so a misspelled key gets the forms' own message rather than
        // "no variant matched".
        let (singular, plural) = match serde_json::Value::deserialize(d)? {
            serde_json::Value::String(w) => (w, None),
            forms @ serde_json::Value::Object(_) => {
                let Forms { singular, plural } =
                    serde_json::from_value(forms).map_err(D::Error::custom)?;
                (singular, plural)
            }
            _ => {
                return Err(D::Error::custom(
                    "a noun is a word, or {singular: …, plural: …}",
                ));
            }
        };
        if singular.trim().is_empty() || plural.as_deref().is_some_and(|p| p.trim().is_empty()) {
            return Err(D::Error::custom("a noun must not be blank"));
        }
        let plural = plural.unwrap_or_else(|| plural_of(&singular));
        Ok(Noun { singular, plural })
    }
}

impl Noun {
    pub fn new(singular: &str, plural: &str) -> Self {
        Noun {
            singular: singular.into(),
            plural: plural.into(),
        }
    }

    /// The form that goes with `n`: "1 customer", "2 customers", "0 customers".
    pub fn form(&self, n: u64) -> &str {
        if n == 1 { &self.singular } else { &self.plural }
    }

    /// `n` and the noun: "1 customer", "559 customers".
    pub fn count(&self, n: u64) -> String {
        format!("{n} {}", self.form(n))
    }
}

/// The English plural of a noun phrase: its last word takes -s, -es or -ies.
pub fn plural_of(singular: &str) -> String {
    let s = singular.trim_end();
    let ends = |x: &str| s.ends_with(x);
    let consonant_y = ends("y")
        && !s
            .chars()
            .rev()
            .nth(1)
            .is_some_and(|c| "aeiouAEIOU".contains(c));
    if consonant_y {
        format!("{}ies", &s[..s.len() - 1])
    } else if ["s", "x", "z", "ch", "sh"].iter().any(|e| ends(e)) {
        format!("{s}es")
    } else {
        format!("{s}s")
    }
}

/// `n` days: "1 day", "12 days".
pub fn days(n: u64) -> String {
    Noun::new("day", "days").count(n)
}

/// What the event value measures, as an axis label: "order value (GBP)".
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValueNoun {
    pub label: String,
    #[serde(default)]
    pub unit: Option<String>,
}

impl Default for ValueNoun {
    fn default() -> Self {
        ValueNoun {
            label: "call duration".into(),
            unit: Some("s".into()),
        }
    }
}

impl ValueNoun {
    pub fn axis(&self) -> String {
        match &self.unit {
            Some(u) => format!("{} ({u})", self.label),
            None => self.label.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Nouns {
    #[serde(default = "contact")]
    pub entity: Noun,
    #[serde(default = "call")]
    pub event: Noun,
    #[serde(default)]
    pub value: ValueNoun,
}

fn contact() -> Noun {
    Noun::new("contact", "contacts")
}
fn call() -> Noun {
    Noun::new("call", "calls")
}

impl Default for Nouns {
    fn default() -> Self {
        Nouns {
            entity: contact(),
            event: call(),
            value: ValueNoun::default(),
        }
    }
}

/// The first letter in upper case, for a noun that starts a sentence or a title.
pub fn capitalized(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> std::result::Result<Nouns, String> {
        serde_json::from_value(yaml_serde::from_str::<serde_json::Value>(yaml).unwrap())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn plurals_are_derived_or_given() {
        let n = parse("entity: customer\nevent: {singular: invoice line}").unwrap();
        assert_eq!(n.entity.count(1), "1 customer");
        assert_eq!(n.entity.count(2), "2 customers");
        assert_eq!(n.event.plural, "invoice lines");
        assert_eq!(plural_of("company"), "companies");
        assert_eq!(plural_of("day"), "days");
        assert_eq!(plural_of("purchase"), "purchases");
        assert_eq!(plural_of("match"), "matches");
        let given = parse("entity: {singular: person, plural: people}").unwrap();
        assert_eq!(given.entity.count(3), "3 people");
        assert_eq!(days(1), "1 day");
        assert_eq!(days(0), "0 days");
    }

    #[test]
    fn defaults_speak_of_the_phone_log() {
        let n = parse("{}").unwrap();
        assert_eq!(n, Nouns::default());
        assert_eq!(n.value.axis(), "call duration (s)");
        let v = parse("value: {label: order value, unit: GBP}").unwrap();
        assert_eq!(v.value.axis(), "order value (GBP)");
    }

    #[test]
    fn blanks_and_unknown_keys_are_refused() {
        assert!(parse("entity: ''").is_err());
        let typo = parse("entity: {singular: x, plurl: y}").unwrap_err();
        assert!(typo.contains("plurl"), "{typo}");
        assert!(parse("entity: [a, b]").is_err());
        assert!(parse("entitty: customer").is_err());
    }
}
