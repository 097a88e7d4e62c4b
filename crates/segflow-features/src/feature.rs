//! One feature of the configuration: an aggregation, the events column it reads (`of:`) and
//! the events it sees (`where:`), and how each is written in YAML.

use std::fmt;

use serde::Deserialize;
use serde::de::value::{MapAccessDeserializer, StrDeserializer};
use serde::de::{self, Deserializer, MapAccess, Visitor};

use segflow_core::calendar::{HourRange, Weekday};

/// The events column numeric aggregations read when `of:` is not given.
pub const DEFAULT_OF: &str = "value";

#[derive(Debug, Clone, PartialEq)]
pub struct Feature {
    pub aggregation: Aggregation,
    /// `of:`, the events column read by an aggregation over a column's values.
    pub of: Option<String>,
    /// `where:`, a SQL condition: the aggregation sees only the contact's events where it is
    /// true.
    pub filter: Option<String>,
}

/// What a feature computes. In YAML: `count`, `{quantile: 0.9}`,
/// `{sum: {of: amount, where: "NOT is_return"}}`, `{share: {hour_in: [8, 17]}}`, …
#[derive(Debug, Clone, PartialEq)]
pub enum Aggregation {
    /// Number of events.
    Count,
    /// Distinct calendar dates with an event.
    DistinctDays,
    /// Distinct non-null values of a column.
    Distinct,
    Sum,
    Mean,
    /// Median (mean of the two middle values for even counts).
    Median,
    Min,
    Max,
    /// Sample standard deviation (ddof 1).
    Std,
    /// Quantile, linear interpolation.
    Quantile(f64),
    FirstTs,
    LastTs,
    /// (as-of − last event) in days.
    RecencyDays,
    /// (last − first event) in days.
    TenureDays,
    /// Mean of the gaps in days between consecutive active days.
    MeanGapDays,
    /// Median of the gaps in days between consecutive active days.
    MedianGapDays,
    /// The most frequent non-null value of a column; ties go to the smallest.
    Mode,
    /// Share of the contact's events meeting a condition.
    Share(Condition),
    /// One column `<name>_<category>` per category among the `top` most frequent overall.
    CategoryShares {
        top: usize,
    },
    /// num / (den + den_offset); `if_zero` when the denominator is 0.
    Ratio {
        num: String,
        den: String,
        den_offset: f64,
        if_zero: f64,
    },
    /// ln(1 + x) of another feature.
    Log1p(String),
    /// Table mode: a column of the entity table, passed through.
    Column(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// Hour of day within an inclusive range.
    HourIn(HourRange),
    WeekdayIn(Vec<Weekday>),
    /// The `of` column ≥ the given number.
    ValueGe(f64),
    /// The `of` column ≥ the given quantile of all events' values (a global threshold).
    ValueGeQuantile(f64),
    CategoryIn(Vec<String>),
    /// A SQL condition over the events' columns.
    Where(String),
}

/// Which column an aggregation reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reads {
    /// No column's values (counts, timestamps, shares by hour, …).
    Nothing,
    /// Numbers: `of:`, `value` by default.
    Numbers,
    /// Any column, named by `of:`.
    AnyColumn,
}

impl Aggregation {
    pub fn reads(&self) -> Reads {
        match self {
            Aggregation::Sum
            | Aggregation::Mean
            | Aggregation::Median
            | Aggregation::Min
            | Aggregation::Max
            | Aggregation::Std
            | Aggregation::Quantile(_)
            | Aggregation::Share(Condition::ValueGe(_) | Condition::ValueGeQuantile(_)) => {
                Reads::Numbers
            }
            Aggregation::Distinct | Aggregation::Mode => Reads::AnyColumn,
            _ => Reads::Nothing,
        }
    }
}

impl Feature {
    fn new(aggregation: Aggregation) -> Self {
        Feature {
            aggregation,
            of: None,
            filter: None,
        }
    }

    /// Whether this feature needs an event log (as opposed to an entity table).
    pub fn needs_events(&self) -> bool {
        !matches!(
            self.aggregation,
            Aggregation::Ratio { .. } | Aggregation::Log1p(_) | Aggregation::Column(_)
        )
    }

    /// Features this one is computed from.
    pub fn inputs(&self) -> Vec<&str> {
        match &self.aggregation {
            Aggregation::Ratio { num, den, .. } => vec![num, den],
            Aggregation::Log1p(of) => vec![of],
            _ => Vec::new(),
        }
    }

    /// The events column whose values the aggregation reads, if any.
    pub fn column(&self) -> Option<&str> {
        match self.aggregation.reads() {
            Reads::Nothing => None,
            Reads::Numbers => Some(self.of.as_deref().unwrap_or(DEFAULT_OF)),
            Reads::AnyColumn => self.of.as_deref(),
        }
    }

    /// Every SQL condition the feature evaluates: its `where:`, or a `{share: {where: …}}`.
    pub fn condition(&self) -> Option<&str> {
        match &self.aggregation {
            Aggregation::Share(Condition::Where(text)) => Some(text),
            _ => self.filter.as_deref(),
        }
    }
}

/// Aggregations written as a bare name, e.g. `n_calls: count`.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum Named {
    Count,
    DistinctDays,
    Sum,
    Mean,
    Median,
    Min,
    Max,
    Std,
    FirstTs,
    LastTs,
    RecencyDays,
    TenureDays,
    MeanGapDays,
    MedianGapDays,
}

/// Aggregations written as a one-key map, e.g. `{quantile: {q: 0.9, of: duration}}`.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum Tagged {
    Count(Filter),
    DistinctDays(Filter),
    Distinct(ColumnOf),
    Sum(Over),
    Mean(Over),
    Median(Over),
    Min(Over),
    Max(Over),
    Std(Over),
    Quantile(QuantileOf),
    FirstTs(Filter),
    LastTs(Filter),
    RecencyDays(Filter),
    TenureDays(Filter),
    MeanGapDays(Filter),
    MedianGapDays(Filter),
    Mode(ColumnOf),
    Share(Share),
    CategoryShares {
        top: usize,
        #[serde(rename = "where")]
        filter: Option<String>,
    },
    Ratio {
        num: String,
        den: String,
        #[serde(default)]
        den_offset: f64,
        #[serde(default)]
        if_zero: f64,
    },
    Log1p(String),
    Column(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Filter {
    #[serde(rename = "where")]
    filter: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Over {
    of: Option<String>,
    #[serde(rename = "where")]
    filter: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OverColumn {
    of: String,
    #[serde(rename = "where")]
    filter: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct QuantileOver {
    q: f64,
    of: Option<String>,
    #[serde(rename = "where")]
    filter: Option<String>,
}

/// `{quantile: 0.9}` or `{quantile: {q: 0.9, of: …, where: …}}`.
struct QuantileOf(QuantileOver);

/// `{distinct: Country}` or `{distinct: {of: Country, where: …}}`.
struct ColumnOf(OverColumn);

/// The share's one condition, and `of:` for the `value_ge` conditions.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ShareArgs {
    hour_in: Option<HourRange>,
    weekday_in: Option<Vec<Weekday>>,
    value_ge: Option<f64>,
    value_ge_quantile: Option<f64>,
    category_in: Option<Vec<String>>,
    #[serde(rename = "where")]
    filter: Option<String>,
    of: Option<String>,
}

struct Share {
    condition: Condition,
    of: Option<String>,
}

impl<'de> Deserialize<'de> for QuantileOf {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = QuantileOf;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("f64 (the quantile) or a map {q, of, where}")
            }
            fn visit_f64<E: de::Error>(self, q: f64) -> Result<QuantileOf, E> {
                Ok(QuantileOf(QuantileOver {
                    q,
                    of: None,
                    filter: None,
                }))
            }
            fn visit_u64<E: de::Error>(self, q: u64) -> Result<QuantileOf, E> {
                self.visit_f64(q as f64)
            }
            fn visit_i64<E: de::Error>(self, q: i64) -> Result<QuantileOf, E> {
                self.visit_f64(q as f64)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<QuantileOf, A::Error> {
                QuantileOver::deserialize(MapAccessDeserializer::new(map)).map(QuantileOf)
            }
        }
        deserializer.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for ColumnOf {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ColumnOf;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a column name or a map {of, where}")
            }
            fn visit_str<E: de::Error>(self, of: &str) -> Result<ColumnOf, E> {
                Ok(ColumnOf(OverColumn {
                    of: of.to_string(),
                    filter: None,
                }))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<ColumnOf, A::Error> {
                OverColumn::deserialize(MapAccessDeserializer::new(map)).map(ColumnOf)
            }
        }
        deserializer.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for Share {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let args = ShareArgs::deserialize(deserializer)?;
        let mut conditions = Vec::new();
        if let Some(range) = args.hour_in {
            conditions.push(Condition::HourIn(range));
        }
        if let Some(days) = args.weekday_in {
            conditions.push(Condition::WeekdayIn(days));
        }
        if let Some(x) = args.value_ge {
            conditions.push(Condition::ValueGe(x));
        }
        if let Some(q) = args.value_ge_quantile {
            conditions.push(Condition::ValueGeQuantile(q));
        }
        if let Some(names) = args.category_in {
            conditions.push(Condition::CategoryIn(names));
        }
        if let Some(text) = args.filter {
            conditions.push(Condition::Where(text));
        }
        let condition = match conditions.len() {
            1 => conditions.pop().expect("one"),
            n => {
                return Err(de::Error::custom(format!(
                    "a share takes exactly one condition (hour_in, weekday_in, value_ge, \
                     value_ge_quantile, category_in or where), found {n}"
                )));
            }
        };
        if args.of.is_some()
            && !matches!(
                condition,
                Condition::ValueGe(_) | Condition::ValueGeQuantile(_)
            )
        {
            return Err(de::Error::custom(
                "`of` goes with value_ge and value_ge_quantile only; a `where` condition names \
                 its columns itself",
            ));
        }
        Ok(Share {
            condition,
            of: args.of,
        })
    }
}

impl From<Named> for Aggregation {
    fn from(named: Named) -> Self {
        match named {
            Named::Count => Aggregation::Count,
            Named::DistinctDays => Aggregation::DistinctDays,
            Named::Sum => Aggregation::Sum,
            Named::Mean => Aggregation::Mean,
            Named::Median => Aggregation::Median,
            Named::Min => Aggregation::Min,
            Named::Max => Aggregation::Max,
            Named::Std => Aggregation::Std,
            Named::FirstTs => Aggregation::FirstTs,
            Named::LastTs => Aggregation::LastTs,
            Named::RecencyDays => Aggregation::RecencyDays,
            Named::TenureDays => Aggregation::TenureDays,
            Named::MeanGapDays => Aggregation::MeanGapDays,
            Named::MedianGapDays => Aggregation::MedianGapDays,
        }
    }
}

impl From<Tagged> for Feature {
    fn from(tagged: Tagged) -> Self {
        let filtered = |aggregation, f: Filter| Feature {
            aggregation,
            of: None,
            filter: f.filter,
        };
        let over = |aggregation, o: Over| Feature {
            aggregation,
            of: o.of,
            filter: o.filter,
        };
        let column = |aggregation, c: ColumnOf| Feature {
            aggregation,
            of: Some(c.0.of),
            filter: c.0.filter,
        };
        match tagged {
            Tagged::Count(f) => filtered(Aggregation::Count, f),
            Tagged::DistinctDays(f) => filtered(Aggregation::DistinctDays, f),
            Tagged::Distinct(c) => column(Aggregation::Distinct, c),
            Tagged::Sum(o) => over(Aggregation::Sum, o),
            Tagged::Mean(o) => over(Aggregation::Mean, o),
            Tagged::Median(o) => over(Aggregation::Median, o),
            Tagged::Min(o) => over(Aggregation::Min, o),
            Tagged::Max(o) => over(Aggregation::Max, o),
            Tagged::Std(o) => over(Aggregation::Std, o),
            Tagged::Quantile(QuantileOf(q)) => Feature {
                aggregation: Aggregation::Quantile(q.q),
                of: q.of,
                filter: q.filter,
            },
            Tagged::FirstTs(f) => filtered(Aggregation::FirstTs, f),
            Tagged::LastTs(f) => filtered(Aggregation::LastTs, f),
            Tagged::RecencyDays(f) => filtered(Aggregation::RecencyDays, f),
            Tagged::TenureDays(f) => filtered(Aggregation::TenureDays, f),
            Tagged::MeanGapDays(f) => filtered(Aggregation::MeanGapDays, f),
            Tagged::MedianGapDays(f) => filtered(Aggregation::MedianGapDays, f),
            Tagged::Mode(c) => column(Aggregation::Mode, c),
            Tagged::Share(share) => Feature {
                aggregation: Aggregation::Share(share.condition),
                of: share.of,
                filter: None,
            },
            Tagged::CategoryShares { top, filter } => Feature {
                aggregation: Aggregation::CategoryShares { top },
                of: None,
                filter,
            },
            Tagged::Ratio {
                num,
                den,
                den_offset,
                if_zero,
            } => Feature::new(Aggregation::Ratio {
                num,
                den,
                den_offset,
                if_zero,
            }),
            Tagged::Log1p(of) => Feature::new(Aggregation::Log1p(of)),
            Tagged::Column(of) => Feature::new(Aggregation::Column(of)),
        }
    }
}

impl<'de> Deserialize<'de> for Feature {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Feature;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an aggregation: a name such as `count`, or a one-key map")
            }
            fn visit_str<E: de::Error>(self, name: &str) -> Result<Feature, E> {
                if let Ok(named) = Named::deserialize(StrDeserializer::<E>::new(name)) {
                    return Ok(Feature::new(named.into()));
                }
                Err(E::custom(match name {
                    "quantile" | "distinct" | "mode" | "share" | "category_shares" | "ratio"
                    | "log1p" | "column" => {
                        format!("`{name}` takes arguments: write it as a map, {{{name}: …}}")
                    }
                    _ => format!(
                        "unknown aggregation `{name}`; expected one of count, distinct_days, \
                         distinct, sum, mean, median, min, max, std, quantile, first_ts, \
                         last_ts, recency_days, tenure_days, mean_gap_days, median_gap_days, \
                         mode, share, category_shares, ratio, log1p, column"
                    ),
                }))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Feature, A::Error> {
                let tagged = Tagged::deserialize(MapAccessDeserializer::new(&mut map))?;
                if let Some(extra) = map.next_key::<String>()? {
                    return Err(de::Error::custom(format!(
                        "one aggregation per feature; `{extra}` is a second one"
                    )));
                }
                Ok(tagged.into())
            }
        }
        deserializer.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use segflow_core::params::parse_params;
    use segflow_core::yaml::parse_document;

    fn read(text: &str) -> Result<Feature, String> {
        let tree = parse_document("f.yaml", text).unwrap();
        parse_params::<Feature>(&tree).map_err(|e| e.to_string())
    }

    fn feature(aggregation: Aggregation, of: Option<&str>, filter: Option<&str>) -> Feature {
        Feature {
            aggregation,
            of: of.map(str::to_string),
            filter: filter.map(str::to_string),
        }
    }

    #[test]
    fn legacy_forms_read_as_before() {
        assert_eq!(
            read("count").unwrap(),
            feature(Aggregation::Count, None, None)
        );
        assert_eq!(read("std").unwrap(), feature(Aggregation::Std, None, None));
        assert_eq!(
            read("{quantile: 0.9}").unwrap(),
            feature(Aggregation::Quantile(0.9), None, None)
        );
        assert_eq!(
            read("{quantile: 1}").unwrap(),
            feature(Aggregation::Quantile(1.0), None, None)
        );
        assert_eq!(
            read("{share: {weekday_in: [sun]}}").unwrap(),
            feature(
                Aggregation::Share(Condition::WeekdayIn(vec![Weekday::Sun])),
                None,
                None
            )
        );
        assert_eq!(
            read("{ratio: {num: a, den: b}}").unwrap().inputs(),
            vec!["a", "b"]
        );
    }

    #[test]
    fn of_and_where_read_from_every_form() {
        assert_eq!(
            read("{count: {where: \"x > 0\"}}").unwrap(),
            feature(Aggregation::Count, None, Some("x > 0"))
        );
        assert_eq!(
            read("{quantile: {q: 0.25, of: d, where: ok}}").unwrap(),
            feature(Aggregation::Quantile(0.25), Some("d"), Some("ok"))
        );
        assert_eq!(
            read("{distinct: InvoiceNo}").unwrap(),
            feature(Aggregation::Distinct, Some("InvoiceNo"), None)
        );
        assert_eq!(
            read("{mode: {of: Country, where: ok}}").unwrap(),
            feature(Aggregation::Mode, Some("Country"), Some("ok"))
        );
        let share = read("{share: {value_ge: 60, of: duration}}").unwrap();
        assert_eq!(share.column(), Some("duration"));
        let share = read("{share: {where: \"d = -1\"}}").unwrap();
        assert_eq!(share.condition(), Some("d = -1"));
        assert_eq!(share.filter, None);
        assert_eq!(
            read("{category_shares: {top: 3, where: ok}}").unwrap(),
            feature(Aggregation::CategoryShares { top: 3 }, None, Some("ok"))
        );
        assert_eq!(read("sum").unwrap().column(), Some(DEFAULT_OF));
        assert_eq!(read("count").unwrap().column(), None);
    }

    #[test]
    fn misuse_is_named() {
        for (text, needle) in [
            ("kount", "unknown aggregation `kount`"),
            ("quantile", "`quantile` takes arguments"),
            ("{quantile: high}", "expected f64"),
            ("{count: {of: x}}", "unknown field `of`"),
            ("{distinct: {where: ok}}", "missing field `of`"),
            (
                "{share: {hour_in: [1, 2], where: ok}}",
                "exactly one condition",
            ),
            ("{share: {where: ok, of: x}}", "`of` goes with value_ge"),
            (
                "{count: {where: ok}, sum: {}}",
                "one aggregation per feature",
            ),
        ] {
            let err = read(text).unwrap_err();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }
}
