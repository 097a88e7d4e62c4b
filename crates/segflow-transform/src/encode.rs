//! Categorical columns turned into numbers (one-hot, binary, ordinal) after their missing
//! labels are imputed, and the per-column missing indicators: fitted on the training labels,
//! saved with the transform, and applied to new rows, where an unseen label is counted, never
//! an error.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use segflow_core::error::Location;
use segflow_core::{Error, Result};

use crate::{ColumnParams, EncodeKind, EncodedScale, Fill, Impute, Params, Raw};

/// The most labels a `one_hot` without `top` or `categories` encodes, one column each: more
/// is almost always an identifier or free text, where a column per value would swamp the
/// model.
const ONE_HOT_ALL_LIMIT: usize = 30;

/// Named numeric columns, in output order.
type Columns = Vec<(String, Vec<f64>)>;

/// Labels that a `binary` column without `positive` accepts, compared ignoring case.
const YES: [&str; 3] = ["yes", "true", "1"];
const NO: [&str; 3] = ["no", "false", "0"];

/// One input column that is encoded, has its own missing indicator, or both.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Encoded {
    pub column: String,
    /// None: a numeric column that only adds its indicator.
    pub encoding: Option<Fitted>,
    /// The label a missing value takes, with the method that chose it.
    pub fill: Option<String>,
    pub impute_method: Option<String>,
    /// Missing values filled at fit time.
    pub n_imputed: u64,
    /// The name of the `<column>_missing` output, when asked for.
    pub indicator: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "encode", rename_all = "snake_case")]
pub enum Fitted {
    OneHot {
        /// (output column, category label) in output order.
        outputs: Vec<(String, String)>,
        /// The output of every label outside `outputs`; without it they are all zeros.
        other: Option<String>,
        /// Training labels outside `outputs`: grouped, not unseen, when new rows have them.
        grouped: Vec<String>,
        scale: EncodedScaleName,
    },
    Binary {
        output: String,
        positive: Vec<String>,
        /// Labels meaning 0; None: every label not positive.
        negative: Option<Vec<String>>,
        /// The value of an unseen label: the most frequent training label's.
        unseen: f64,
        scale: EncodedScaleName,
    },
    Ordinal {
        output: String,
        order: Vec<String>,
        unseen: f64,
        scale: EncodedScaleName,
    },
}

/// [`EncodedScale`] as the artifact spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EncodedScaleName {
    AsIs,
    LikeNumeric,
}

/// New rows of one encoded column whose label training never saw.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Unseen {
    pub column: String,
    pub count: u64,
    /// What those rows were scored as.
    pub scored_as: String,
}

/// How a derived column is scaled by the transform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Numeric,
    Encoded(EncodedScale),
    /// A per-column missing indicator, scaled like the numeric columns.
    Indicator,
}

/// A numeric column the transform fits, after encoding.
pub struct Derived {
    pub name: String,
    pub values: Vec<f64>,
    pub kind: Kind,
}

/// `Month-to-month` → `month_to_month`: lower case ASCII letters and digits, every other run
/// of characters one `_`, none at the ends.
pub fn sanitize(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    out.trim_matches('_').to_string()
}

fn output_name(column: &str, label: &str) -> Result<String> {
    let part = sanitize(label);
    if part.is_empty() {
        return Err(Error::config(
            "",
            format!("per_column.{column}"),
            format!("category `{label}` has no letter or digit to name its column"),
        ));
    }
    Ok(format!("{}_{part}", sanitize(column)))
}

/// Labels of a raw column: numbers declared categorical read as their shortest text (1, 2.5).
fn labels(raw: &Raw) -> Vec<Option<String>> {
    match raw {
        Raw::Labels(l) => l.clone(),
        Raw::Numbers(v) => v
            .iter()
            .map(|x| (!x.is_nan()).then(|| x.to_string()))
            .collect(),
    }
}

/// The most frequent label, ties to the smallest (scikit-learn's SimpleImputer).
fn most_frequent<'a>(labels: impl Iterator<Item = &'a str>) -> Option<String> {
    let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
    labels.for_each(|l| *counts.entry(l).or_default() += 1);
    let best = counts.values().copied().max()?;
    counts
        .into_iter()
        .find(|(_, c)| *c == best)
        .map(|(l, _)| l.to_string())
}

/// Splits the inputs into the numeric columns the transform fits and the encodings that made
/// them.
pub fn fit(inputs: &[(String, Raw)], params: &Params) -> Result<(Vec<Derived>, Vec<Encoded>)> {
    let none = ColumnParams::default();
    let mut derived = Vec::new();
    let mut encodings = Vec::new();
    for (name, raw) in inputs {
        let own = params.per_column.get(name).unwrap_or(&none);
        let missing: Vec<bool> = match raw {
            Raw::Numbers(v) => v.iter().map(|x| x.is_nan()).collect(),
            Raw::Labels(l) => l.iter().map(Option::is_none).collect(),
        };
        let indicator = own.missing_indicator.then(|| format!("{name}_missing"));
        let encoded = match (own.encode, raw) {
            (None, Raw::Numbers(values)) => {
                derived.push(Derived {
                    name: name.clone(),
                    values: values.clone(),
                    kind: Kind::Numeric,
                });
                indicator.as_ref().map(|_| Encoded {
                    column: name.clone(),
                    encoding: None,
                    fill: None,
                    impute_method: None,
                    n_imputed: 0,
                    indicator: indicator.clone(),
                })
            }
            (None, Raw::Labels(_)) => {
                return Err(Error::config(
                    "",
                    format!("per_column.{name}.encode"),
                    format!(
                        "column `{name}` holds labels: declare its encoding (one_hot, binary or ordinal)"
                    ),
                ));
            }
            (Some(kind), _) => {
                let (encoded, columns) = fit_encoding(name, &labels(raw), kind, own, params)?;
                derived.extend(columns);
                Some(Encoded {
                    indicator: indicator.clone(),
                    ..encoded
                })
            }
        };
        if let Some(out) = indicator {
            derived.push(Derived {
                name: out,
                values: missing.iter().map(|&m| f64::from(u8::from(m))).collect(),
                kind: Kind::Indicator,
            });
        }
        encodings.extend(encoded);
    }
    Ok((derived, encodings))
}

fn fit_encoding(
    name: &str,
    raw: &[Option<String>],
    kind: EncodeKind,
    own: &ColumnParams,
    params: &Params,
) -> Result<(Encoded, Vec<Derived>)> {
    let impute = own.impute.clone().unwrap_or(Impute::MostFrequent);
    let n_imputed = raw.iter().filter(|l| l.is_none()).count() as u64;
    let fill = match &impute {
        Impute::Constant(Fill::Label(l)) => Some(l.clone()),
        Impute::MostFrequent => Some(
            most_frequent(raw.iter().flatten().map(String::as_str)).ok_or_else(|| {
                Error::data(Location::default().column(name), "every value is missing")
            })?,
        ),
        _ => None,
    };
    let filled: Vec<&str> = raw
        .iter()
        .enumerate()
        .map(|(row, l)| {
            l.as_deref().or(fill.as_deref()).ok_or_else(|| {
                Error::data(
                    Location::default().row(row as u64).column(name),
                    "missing value and impute: none",
                )
            })
        })
        .collect::<Result<_>>()?;
    let scale = own.scale.unwrap_or(params.encoded_scale);
    let scale_name = match scale {
        EncodedScale::AsIs => EncodedScaleName::AsIs,
        EncodedScale::LikeNumeric => EncodedScaleName::LikeNumeric,
    };
    let mode = most_frequent(filled.iter().copied()).unwrap_or_default();
    let fitted = match kind {
        EncodeKind::OneHot => {
            let (kept, other) = match (&own.top, &own.categories) {
                (Some(n), _) => {
                    let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
                    filled
                        .iter()
                        .for_each(|l| *counts.entry(l).or_default() += 1);
                    let mut ranked: Vec<(&str, u64)> = counts.into_iter().collect();
                    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
                    let mut kept: Vec<String> =
                        ranked.iter().take(*n).map(|(l, _)| l.to_string()).collect();
                    kept.sort();
                    (kept, ranked.len() > *n)
                }
                (None, Some(listed)) => (listed.clone(), own.other.unwrap_or(true)),
                (None, None) => {
                    let labels: std::collections::BTreeSet<&str> = filled.iter().copied().collect();
                    if labels.len() > ONE_HOT_ALL_LIMIT {
                        return Err(Error::config(
                            "",
                            format!("per_column.{name}.encode"),
                            format!(
                                "one_hot without `top` writes a column per label, at most \
                                 {ONE_HOT_ALL_LIMIT}; `{name}` has {} labels: declare `top: N` \
                                 or `categories`",
                                labels.len()
                            ),
                        ));
                    }
                    (labels.into_iter().map(str::to_string).collect(), false)
                }
            };
            let grouped: Vec<String> = filled
                .iter()
                .filter(|l| !kept.iter().any(|k| k == *l))
                .map(|l| l.to_string())
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            Fitted::OneHot {
                grouped,
                outputs: kept
                    .iter()
                    .map(|l| Ok((output_name(name, l)?, l.clone())))
                    .collect::<Result<_>>()?,
                other: other.then(|| format!("{}_other", sanitize(name))),
                scale: scale_name,
            }
        }
        EncodeKind::Binary => {
            let (positive, negative) = match &own.positive {
                Some(p) => (p.clone(), None),
                None => (
                    YES.map(str::to_string).to_vec(),
                    Some(NO.map(str::to_string).to_vec()),
                ),
            };
            let mut f = Fitted::Binary {
                output: name.to_string(),
                positive,
                negative,
                unseen: 0.0,
                scale: scale_name,
            };
            let unseen = f.code(&mode).unwrap_or(0.0);
            if let Fitted::Binary { unseen: u, .. } = &mut f {
                *u = unseen;
            }
            f
        }
        EncodeKind::Ordinal => {
            let order = own.order.clone().ok_or_else(|| {
                Error::config(
                    "",
                    format!("per_column.{name}.order"),
                    "ordinal needs `order`",
                )
            })?;
            let unseen = order.iter().position(|l| *l == mode).unwrap_or(0) as f64;
            Fitted::Ordinal {
                output: name.to_string(),
                order,
                unseen,
                scale: scale_name,
            }
        }
    };
    if !matches!(fitted, Fitted::OneHot { .. })
        && let Some(row) = filled.iter().position(|l| fitted.code(l).is_none())
    {
        return Err(Error::data(
            Location::default().row(row as u64).column(name),
            format!(
                "label `{}` is not one of the encoding's labels",
                filled[row]
            ),
        ));
    }
    let columns = fitted
        .encode(filled.iter().copied())
        .0
        .into_iter()
        .map(|(out, values)| Derived {
            name: out,
            values,
            kind: Kind::Encoded(scale),
        })
        .collect();
    let encoded = Encoded {
        column: name.to_string(),
        encoding: Some(fitted),
        fill,
        impute_method: Some(impute.method().to_string()),
        n_imputed,
        indicator: None,
    };
    Ok((encoded, columns))
}

impl Fitted {
    /// The value of a binary or ordinal label; None when the encoding does not know it.
    fn code(&self, label: &str) -> Option<f64> {
        let is = |list: &[String]| list.iter().any(|l| l.eq_ignore_ascii_case(label));
        match self {
            Fitted::Binary {
                positive, negative, ..
            } => {
                if is(positive) {
                    Some(1.0)
                } else if negative.as_ref().is_none_or(|n| is(n)) {
                    Some(0.0)
                } else {
                    None
                }
            }
            Fitted::Ordinal { order, .. } => {
                order.iter().position(|l| l == label).map(|p| p as f64)
            }
            Fitted::OneHot { outputs, .. } => outputs
                .iter()
                .position(|(_, l)| l == label)
                .map(|p| p as f64),
        }
    }

    /// The output columns of these labels, and how many labels the encoding did not know.
    fn encode<'a>(&self, labels: impl Iterator<Item = &'a str>) -> (Columns, u64) {
        let mut unseen = 0u64;
        match self {
            Fitted::OneHot {
                outputs,
                other,
                grouped,
                ..
            } => {
                let width = outputs.len() + usize::from(other.is_some());
                let mut columns: Vec<Vec<f64>> = vec![Vec::new(); width];
                for label in labels {
                    let hit = self.code(label).map(|p| p as usize).or_else(|| {
                        if !grouped.iter().any(|g| g == label) {
                            unseen += 1;
                        }
                        other.as_ref().map(|_| outputs.len())
                    });
                    for (j, column) in columns.iter_mut().enumerate() {
                        column.push(f64::from(u8::from(hit == Some(j))));
                    }
                }
                let names = outputs.iter().map(|(n, _)| n.clone()).chain(other.clone());
                (names.zip(columns).collect(), unseen)
            }
            Fitted::Binary {
                output, unseen: u, ..
            }
            | Fitted::Ordinal {
                output, unseen: u, ..
            } => {
                let values = labels
                    .map(|l| {
                        self.code(l).unwrap_or_else(|| {
                            unseen += 1;
                            *u
                        })
                    })
                    .collect();
                (vec![(output.clone(), values)], unseen)
            }
        }
    }

    /// Every output column, in order.
    pub fn outputs(&self) -> Vec<(String, Option<String>)> {
        match self {
            Fitted::OneHot { outputs, other, .. } => outputs
                .iter()
                .map(|(n, l)| (n.clone(), Some(l.clone())))
                .chain(other.iter().map(|o| (o.clone(), None)))
                .collect(),
            Fitted::Binary { output, .. } | Fitted::Ordinal { output, .. } => {
                vec![(output.clone(), None)]
            }
        }
    }

    /// What a label the training never saw becomes, in words.
    fn unseen_treatment(&self) -> String {
        match self {
            Fitted::OneHot { other: Some(o), .. } => format!("`{o}`"),
            Fitted::OneHot { other: None, .. } => "zeros in every category column".into(),
            Fitted::Binary { unseen, .. } => format!("{unseen} (the most frequent label's value)"),
            Fitted::Ordinal { order, unseen, .. } => match order.get(*unseen as usize) {
                Some(label) => format!("`{label}` (the most frequent label)"),
                None => format!("rank {unseen}"),
            },
        }
    }
}

impl Encoded {
    /// This column's outputs for new rows (missing labels filled as at fit time), and the
    /// count of labels the encoding did not know.
    pub fn apply(&self, raw: &Raw) -> Result<(Columns, Option<Unseen>)> {
        let mut out = Vec::new();
        let mut unseen = None;
        if let Some(fitted) = &self.encoding {
            let labels = labels(raw);
            let filled: Vec<&str> = labels
                .iter()
                .enumerate()
                .map(|(row, l)| {
                    l.as_deref().or(self.fill.as_deref()).ok_or_else(|| {
                        Error::data(
                            Location::default().row(row as u64).column(&self.column),
                            "missing value and impute: none",
                        )
                    })
                })
                .collect::<Result<_>>()?;
            let (columns, count) = fitted.encode(filled.into_iter());
            out = columns;
            unseen = Some(Unseen {
                column: self.column.clone(),
                count,
                scored_as: fitted.unseen_treatment(),
            });
        }
        if let Some(name) = &self.indicator {
            let missing = match raw {
                Raw::Numbers(v) => v.iter().map(|x| f64::from(u8::from(x.is_nan()))).collect(),
                Raw::Labels(l) => l.iter().map(|x| f64::from(u8::from(x.is_none()))).collect(),
            };
            out.push((name.clone(), missing));
        }
        Ok((out, unseen))
    }

    /// Output column → (source column, category label) for every column this encoding adds.
    pub fn labels(&self) -> Vec<(String, String, Option<String>)> {
        let mut out: Vec<(String, String, Option<String>)> = self
            .encoding
            .iter()
            .flat_map(Fitted::outputs)
            .map(|(n, l)| (n, self.column.clone(), l))
            .collect();
        out.extend(
            self.indicator
                .iter()
                .map(|n| (n.clone(), self.column.clone(), None)),
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_become_lower_case_words_joined_by_underscores() {
        assert_eq!(sanitize("Month-to-month"), "month_to_month");
        assert_eq!(sanitize("Credit card (automatic)"), "credit_card_automatic");
        assert_eq!(sanitize("  Fiber optic "), "fiber_optic");
        assert_eq!(
            output_name("Contract", "Two year").unwrap(),
            "contract_two_year"
        );
        assert_eq!(output_name("c", "€").unwrap_err().exit_code(), 78);
    }
}
