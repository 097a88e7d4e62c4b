//! The fitted transform: per column, every statistic needed to turn raw feature values into
//! model-matrix values, fitted once and applied identically to training and new rows.
//! Encoded categories and per-column missing indicators come first (`encode.rs`); the
//! columns they produce are fitted here like any other.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float64Array, RecordBatch, StringArray, UInt32Array,
    UInt64Array,
};

use segflow_core::artifact::{Artifact, batch};
use segflow_core::error::Location;
use segflow_core::stats::quantile_sorted;
use segflow_core::{Error, Result};

use crate::encode::{self, Encoded, Kind, Unseen};
use crate::{EncodedScale, Fill, Impute, Params, Raw, Scale, strings};

/// The transform artifact's metadata key holding the encodings, as JSON.
pub const META_ENCODINGS: &str = "segflow.encodings";

#[derive(Debug, Clone, PartialEq)]
pub struct ColumnTransform {
    pub name: String,
    pub log1p: bool,
    /// Constant at fit time: not in the matrix.
    pub dropped: bool,
    pub clip: Option<(f64, f64)>,
    /// Value that replaces a missing one, if imputing.
    pub impute: Option<f64>,
    /// How `impute` was chosen (`median`, `mean`, `most_frequent`, `constant`).
    pub impute_method: Option<String>,
    /// Missing values filled at fit time.
    pub n_imputed: u64,
    /// Emit `<name>_missing` (1 where the value was missing).
    pub indicator: bool,
    pub center: f64,
    pub scale: f64,
    pub cap: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Transform {
    /// Input columns turned into numbers, or given their own missing indicator, first.
    pub encodings: Vec<Encoded>,
    pub columns: Vec<ColumnTransform>,
}

/// Per input column: how much it would dominate distances.
#[derive(Debug)]
pub struct Dominance {
    rows: Vec<DominanceRow>,
}

#[derive(Debug)]
struct DominanceRow {
    name: String,
    distinct: u64,
    raw_p01: f64,
    raw_p99: f64,
    raw_iqr: f64,
    max_abs_scaled: Option<f64>,
    n_capped: Option<u64>,
}

fn sorted_finite(values: &[f64]) -> Vec<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    v.sort_by(f64::total_cmp);
    v
}

/// Rejects ±∞ and applies log1p; missing values (NaN) pass through.
fn prepared(name: &str, values: &[f64], log1p: bool) -> Result<Vec<f64>> {
    values
        .iter()
        .enumerate()
        .map(|(row, &x)| {
            let bad = |msg: &str| {
                Err(Error::data(
                    Location::default().row(row as u64).column(name),
                    msg.to_string(),
                ))
            };
            if x.is_infinite() {
                return bad("infinite value");
            }
            if log1p {
                // ln(1 + x) is −∞ at −1 and undefined below: no matrix value can stand for it.
                if x <= -1.0 {
                    return bad(&format!(
                        "log1p of {x}: needs values above −1 (ln(1 + x) is not finite there)"
                    ));
                }
                return Ok(x.ln_1p());
            }
            Ok(x)
        })
        .collect()
}

/// One column's transform and its dominance row: log1p, then winsorize, impute, scale. Encoded
/// columns and indicators are never missing and are not winsorized: clipping a 0/1 column at
/// its 1 % quantile would erase a rare category.
fn fit_column(
    name: &str,
    raw: &[f64],
    kind: Kind,
    params: &Params,
) -> Result<(ColumnTransform, DominanceRow)> {
    let log1p = kind == Kind::Numeric && params.log1p.iter().any(|c| c == name);
    let values = prepared(name, raw, log1p)?;
    let sorted = sorted_finite(&values);
    let mut row = DominanceRow::raw(name, &sorted);
    if params.drop_constant && row.distinct <= 1 {
        return Ok((ColumnTransform::dropped(name, log1p), row));
    }
    if sorted.is_empty() {
        return Err(Error::data(
            Location::default().column(name),
            "every value is missing",
        ));
    }
    let clip = params
        .winsorize
        .filter(|_| kind == Kind::Numeric)
        .map(|[lo, hi]| (quantile_sorted(&sorted, lo), quantile_sorted(&sorted, hi)));
    let clipped = clipped(&values, clip);
    let n_imputed = (values.len() - sorted.len()) as u64;
    let impute_with = params
        .per_column
        .get(name)
        .and_then(|c| c.impute.as_ref())
        .unwrap_or(&params.impute);
    let impute = match kind {
        Kind::Numeric => imputed_value(name, &values, &clipped, n_imputed > 0, impute_with)?,
        Kind::Encoded(_) | Kind::Indicator => None,
    };
    let filled = filled(&clipped, impute);
    let (center, scale, cap) = match kind {
        Kind::Encoded(EncodedScale::AsIs) => (0.0, 1.0, None),
        _ => {
            let (center, scale) = center_and_scale(&filled, params.scale);
            (center, scale, params.cap)
        }
    };
    let scaled: Vec<f64> = filled.iter().map(|x| (x - center) / scale).collect();
    row.max_abs_scaled = Some(scaled.iter().fold(0.0f64, |m, x| m.max(x.abs())));
    row.n_capped = Some(cap.map_or(0, |c| scaled.iter().filter(|x| x.abs() > c).count() as u64));
    let column = ColumnTransform {
        name: name.to_string(),
        log1p,
        dropped: false,
        clip,
        impute,
        impute_method: impute.map(|_| impute_with.method().to_string()),
        n_imputed,
        indicator: kind == Kind::Numeric && params.missing_indicators && n_imputed > 0,
        center,
        scale,
        cap,
    };
    Ok((column, row))
}

/// Values clipped to the winsorizing bounds; missing values stay missing.
fn clipped(values: &[f64], clip: Option<(f64, f64)>) -> Vec<f64> {
    values
        .iter()
        .map(|&x| clip.map_or(x, |(lo, hi)| if x.is_nan() { x } else { x.clamp(lo, hi) }))
        .collect()
}

/// The value a missing one becomes (median, mean or most frequent value after clipping, or
/// the constant), or none when nothing is missing and the params do not impute; missing
/// values the params do not impute are an error at the first one.
fn imputed_value(
    name: &str,
    values: &[f64],
    clipped: &[f64],
    has_missing: bool,
    impute: &Impute,
) -> Result<Option<f64>> {
    let observed = || sorted_finite(clipped);
    match (impute, has_missing) {
        (Impute::Median, _) => Ok(Some(quantile_sorted(&observed(), 0.5))),
        (Impute::Mean, _) => {
            let v = observed();
            Ok(Some(v.iter().sum::<f64>() / v.len() as f64))
        }
        (Impute::MostFrequent, _) => Ok(most_frequent_number(&observed())),
        (Impute::Constant(Fill::Number(v)), _) => Ok(Some(*v)),
        (Impute::Constant(Fill::Label(_)), _) => Err(Error::config(
            "",
            format!("per_column.{name}.impute.constant"),
            "a numeric column is filled with a number",
        )),
        (Impute::None, false) => Ok(None),
        (Impute::None, true) => {
            let r = values.iter().position(|x| x.is_nan()).expect("has missing");
            Err(Error::data(
                Location::default().row(r as u64).column(name),
                "missing value and impute: none",
            ))
        }
    }
}

/// The most frequent of sorted values, ties to the smallest (scikit-learn's SimpleImputer).
fn most_frequent_number(sorted: &[f64]) -> Option<f64> {
    let mut best: Option<(f64, usize)> = None;
    for run in sorted.chunk_by(|a, b| a == b) {
        if best.is_none_or(|(_, n)| run.len() > n) {
            best = Some((run[0], run.len()));
        }
    }
    best.map(|(v, _)| v)
}

/// Clipped values with every missing one replaced by the imputed value.
fn filled(clipped: &[f64], impute: Option<f64>) -> Vec<f64> {
    clipped
        .iter()
        .map(|&x| {
            if x.is_nan() {
                impute.expect("imputing")
            } else {
                x
            }
        })
        .collect()
}

/// Center and scale of the filled values; a zero spread scales by 1.
fn center_and_scale(filled: &[f64], scale: Scale) -> (f64, f64) {
    match scale {
        Scale::Robust => {
            let s = sorted_finite(filled);
            let iqr = quantile_sorted(&s, 0.75) - quantile_sorted(&s, 0.25);
            (quantile_sorted(&s, 0.5), if iqr == 0.0 { 1.0 } else { iqr })
        }
        Scale::Standard => {
            let n = filled.len() as f64;
            let mean = filled.iter().sum::<f64>() / n;
            let std = (filled.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n).sqrt();
            (mean, if std == 0.0 { 1.0 } else { std })
        }
        Scale::None => (0.0, 1.0),
    }
}

impl ColumnTransform {
    /// A column left out of the matrix because it was constant at fit time.
    fn dropped(name: &str, log1p: bool) -> ColumnTransform {
        ColumnTransform {
            name: name.to_string(),
            log1p,
            dropped: true,
            clip: None,
            impute: None,
            impute_method: None,
            n_imputed: 0,
            indicator: false,
            center: 0.0,
            scale: 1.0,
            cap: None,
        }
    }
}

impl DominanceRow {
    /// The raw spread of a column (after log1p); the scaled figures come once it is scaled.
    fn raw(name: &str, sorted: &[f64]) -> DominanceRow {
        let mut distinct = sorted.to_vec();
        distinct.dedup();
        let q = |p: f64| quantile_sorted(sorted, p);
        DominanceRow {
            name: name.to_string(),
            distinct: distinct.len() as u64,
            raw_p01: q(0.01),
            raw_p99: q(0.99),
            raw_iqr: q(0.75) - q(0.25),
            max_abs_scaled: None,
            n_capped: None,
        }
    }
}

impl Transform {
    /// Fits every statistic on the given columns.
    pub fn fit(inputs: &[(String, Raw)], params: &Params) -> Result<(Transform, Dominance)> {
        let (derived, encodings) = encode::fit(inputs, params)?;
        let mut out = Vec::new();
        let mut dominance = Vec::new();
        for d in &derived {
            let (column, row) = fit_column(&d.name, &d.values, d.kind, params)?;
            out.push(column);
            dominance.push(row);
        }
        if out.iter().all(|c| c.dropped) {
            return Err(Error::data(
                Location::default(),
                "every column is constant: nothing to model",
            ));
        }
        let transform = Transform {
            encodings,
            columns: out,
        };
        transform.refuse_collisions()?;
        Ok((transform, Dominance { rows: dominance }))
    }

    /// Two outputs of one name (a category sanitized to another's name, or to an existing
    /// column's) would make the matrix ambiguous.
    fn refuse_collisions(&self) -> Result<()> {
        let names = self.output_columns();
        for (i, name) in names.iter().enumerate() {
            if names[..i].contains(name) {
                let source = self
                    .encodings
                    .iter()
                    .find(|e| e.labels().iter().any(|(n, _, _)| n == name))
                    .map_or(name.as_str(), |e| e.column.as_str());
                return Err(Error::config(
                    "",
                    format!("per_column.{source}"),
                    format!(
                        "two model columns would be named `{name}`: rename a category or a feature, or list `categories`"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The features columns `apply` reads: the kept columns, an encoded one by its source.
    pub fn input_columns(&self) -> Vec<String> {
        let labels = self.labels();
        let kept = self.columns.iter().filter(|c| !c.dropped).map(|c| {
            labels
                .iter()
                .find(|(n, _, _)| n == &c.name)
                .map_or(&c.name, |(_, source, _)| source)
        });
        let mut names: Vec<String> = Vec::new();
        for name in kept.chain(self.encodings.iter().map(|e| &e.column)) {
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
        names
    }

    /// Output column → (source column, category label) for the columns encodings add.
    pub fn labels(&self) -> Vec<(String, String, Option<String>)> {
        self.encodings.iter().flat_map(Encoded::labels).collect()
    }

    /// Matrix column names: kept columns in order, then missing-value indicators.
    pub fn output_columns(&self) -> Vec<String> {
        let kept = self
            .columns
            .iter()
            .filter(|c| !c.dropped)
            .map(|c| c.name.clone());
        let indicators = self
            .columns
            .iter()
            .filter(|c| c.indicator)
            .map(|c| format!("{}_missing", c.name));
        kept.chain(indicators).collect()
    }

    /// Applies the transform to columns by name (extra columns are ignored; a missing one is
    /// an error), returning the matrix columns in `output_columns` order and, per encoded
    /// column, how many labels it did not know.
    pub fn apply(&self, inputs: &[(String, Raw)]) -> Result<(Vec<Vec<f64>>, Vec<Unseen>)> {
        let mut columns: Vec<(String, Vec<f64>)> = Vec::new();
        for (name, raw) in inputs {
            if let Raw::Numbers(v) = raw {
                columns.push((name.clone(), v.clone()));
            }
        }
        let mut unseen = Vec::new();
        for e in &self.encodings {
            let (_, raw) = inputs.iter().find(|(n, _)| n == &e.column).ok_or_else(|| {
                Error::data(
                    Location::default().column(&e.column),
                    "column the model was fitted with is missing",
                )
            })?;
            let (derived, counted) = e.apply(raw)?;
            // An encoded source is not a model column itself.
            columns.retain(|(n, _)| e.encoding.is_none() || n != &e.column);
            columns.extend(derived);
            unseen.extend(counted);
        }
        Ok((self.apply_numeric(&columns)?, unseen))
    }

    fn apply_numeric(&self, columns: &[(String, Vec<f64>)]) -> Result<Vec<Vec<f64>>> {
        let mut kept = Vec::new();
        let mut indicators = Vec::new();
        for t in self.columns.iter().filter(|c| !c.dropped) {
            let (_, raw) = columns.iter().find(|(n, _)| n == &t.name).ok_or_else(|| {
                Error::data(
                    Location::default().column(&t.name),
                    "column the model was fitted with is missing",
                )
            })?;
            let values = prepared(&t.name, raw, t.log1p)?;
            let mut out = Vec::with_capacity(values.len());
            for (row, &x) in values.iter().enumerate() {
                let x = match (x.is_nan(), t.impute) {
                    (false, _) => t.clip.map_or(x, |(lo, hi)| x.clamp(lo, hi)),
                    (true, Some(v)) => v,
                    (true, None) => {
                        return Err(Error::data(
                            Location::default().row(row as u64).column(&t.name),
                            "missing value and the model does not impute",
                        ));
                    }
                };
                let scaled = (x - t.center) / t.scale;
                out.push(t.cap.map_or(scaled, |c| scaled.clamp(-c, c)));
            }
            if t.indicator {
                indicators.push(
                    values
                        .iter()
                        .map(|x| if x.is_nan() { 1.0 } else { 0.0 })
                        .collect(),
                );
            }
            kept.push(out);
        }
        kept.extend(indicators);
        Ok(kept)
    }

    /// Reads a transform back from its artifact (`to_batch`'s layout).
    pub fn from_artifact(a: &Artifact) -> Result<Transform> {
        let at = |column: &str| Location::file(&a.path).column(column);
        if a.kind() != Some("transform") {
            return Err(Error::data(
                Location::file(&a.path),
                "expected a transform artifact",
            ));
        }
        let names = a
            .column("column")?
            .as_string_opt::<i32>()
            .ok_or_else(|| Error::data(at("column"), "expected strings"))?;
        let flag = |name: &str| -> Result<Vec<bool>> {
            let col = a
                .column(name)?
                .as_boolean_opt()
                .ok_or_else(|| Error::data(at(name), "expected booleans"))?;
            Ok((0..col.len())
                .map(|i| col.is_valid(i) && col.value(i))
                .collect())
        };
        let number = |name: &str| -> Result<Vec<Option<f64>>> {
            Ok(a.float_column(name)?
                .into_iter()
                .map(|v| (!v.is_nan()).then_some(v))
                .collect())
        };
        let (dropped, log1p, indicator) = (
            flag("dropped_constant")?,
            flag("log1p")?,
            flag("missing_indicator")?,
        );
        let (lo, hi, impute) = (
            number("clip_low")?,
            number("clip_high")?,
            number("impute_value")?,
        );
        let (center, scale, cap) = (number("center")?, number("scale")?, number("cap")?);
        let methods = a
            .column("impute_method")?
            .as_string_opt::<i32>()
            .ok_or_else(|| Error::data(at("impute_method"), "expected strings"))?;
        let n_imputed = a.float_column("n_imputed")?;
        let mut columns = Vec::with_capacity(names.len());
        for i in 0..names.len() {
            let needed = |v: Option<f64>, name: &str| {
                v.ok_or_else(|| Error::data(at(name).row(i as u64), "missing for a kept column"))
            };
            columns.push(ColumnTransform {
                name: names.value(i).to_string(),
                log1p: log1p[i],
                dropped: dropped[i],
                clip: lo[i].zip(hi[i]),
                impute: impute[i],
                impute_method: methods.is_valid(i).then(|| methods.value(i).to_string()),
                n_imputed: if n_imputed[i].is_nan() {
                    0
                } else {
                    n_imputed[i] as u64
                },
                indicator: indicator[i],
                center: if dropped[i] {
                    0.0
                } else {
                    needed(center[i], "center")?
                },
                scale: if dropped[i] {
                    1.0
                } else {
                    needed(scale[i], "scale")?
                },
                cap: cap[i],
            });
        }
        let encodings = match a.meta(META_ENCODINGS) {
            Some(json) => serde_json::from_str(json).map_err(|e| {
                Error::data(
                    Location::file(&a.path),
                    format!("bad {META_ENCODINGS}: {e}"),
                )
            })?,
            None => Vec::new(),
        };
        Ok(Transform { encodings, columns })
    }

    /// The metadata the transform artifact carries beside its table: the encodings, when any.
    pub fn metadata(&self) -> Vec<(String, String)> {
        if self.encodings.is_empty() {
            return Vec::new();
        }
        vec![(
            META_ENCODINGS.to_string(),
            serde_json::to_string(&self.encodings).expect("encodings serialize"),
        )]
    }

    pub fn to_batch(&self) -> Result<RecordBatch> {
        let cols = &self.columns;
        let mut position = 0u32;
        let positions: Vec<Option<u32>> = cols
            .iter()
            .map(|c| {
                (!c.dropped).then(|| {
                    position += 1;
                    position - 1
                })
            })
            .collect();
        let opt = |f: &dyn Fn(&ColumnTransform) -> Option<f64>| -> ArrayRef {
            Arc::new(Float64Array::from(cols.iter().map(f).collect::<Vec<_>>()))
        };
        batch(vec![
            ("column", strings(cols.iter().map(|c| c.name.clone()))),
            (
                "position",
                Arc::new(UInt32Array::from(positions)) as ArrayRef,
            ),
            (
                "dropped_constant",
                Arc::new(BooleanArray::from(
                    cols.iter().map(|c| c.dropped).collect::<Vec<_>>(),
                )),
            ),
            (
                "log1p",
                Arc::new(BooleanArray::from(
                    cols.iter().map(|c| c.log1p).collect::<Vec<_>>(),
                )),
            ),
            ("clip_low", opt(&|c| c.clip.map(|b| b.0))),
            ("clip_high", opt(&|c| c.clip.map(|b| b.1))),
            ("impute_value", opt(&|c| c.impute)),
            (
                "impute_method",
                Arc::new(StringArray::from(
                    cols.iter()
                        .map(|c| c.impute_method.clone())
                        .collect::<Vec<_>>(),
                )),
            ),
            (
                "n_imputed",
                Arc::new(UInt64Array::from(
                    cols.iter()
                        .map(|c| (!c.dropped).then_some(c.n_imputed))
                        .collect::<Vec<_>>(),
                )),
            ),
            (
                "missing_indicator",
                Arc::new(BooleanArray::from(
                    cols.iter().map(|c| c.indicator).collect::<Vec<_>>(),
                )),
            ),
            ("center", opt(&|c| (!c.dropped).then_some(c.center))),
            ("scale", opt(&|c| (!c.dropped).then_some(c.scale))),
            ("cap", opt(&|c| if c.dropped { None } else { c.cap })),
        ])
    }
}

impl Dominance {
    pub fn to_batch(&self) -> Result<RecordBatch> {
        let r = &self.rows;
        let floats = |f: &dyn Fn(&DominanceRow) -> Option<f64>| -> ArrayRef {
            Arc::new(Float64Array::from(r.iter().map(f).collect::<Vec<_>>()))
        };
        batch(vec![
            ("column", strings(r.iter().map(|d| d.name.clone()))),
            (
                "distinct",
                Arc::new(UInt64Array::from_iter_values(r.iter().map(|d| d.distinct))) as ArrayRef,
            ),
            ("raw_p01", floats(&|d| Some(d.raw_p01))),
            ("raw_p99", floats(&|d| Some(d.raw_p99))),
            ("raw_iqr", floats(&|d| Some(d.raw_iqr))),
            ("max_abs_scaled", floats(&|d| d.max_abs_scaled)),
            (
                "n_capped",
                Arc::new(UInt64Array::from(
                    r.iter().map(|d| d.n_capped).collect::<Vec<_>>(),
                )),
            ),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> Params {
        segflow_core::params::parse_params(&segflow_core::params::ParamTree::empty()).unwrap()
    }

    fn cols(c: &[(&str, &[f64])]) -> Vec<(String, Raw)> {
        c.iter()
            .map(|(n, v)| (n.to_string(), Raw::Numbers(v.to_vec())))
            .collect()
    }

    #[test]
    fn constant_columns_drop_and_missing_values_take_the_clipped_median() {
        let mut p = params();
        p.missing_indicators = true;
        p.winsorize = None;
        let data = cols(&[
            ("flat", &[3.0, 3.0, 3.0, 3.0]),
            ("x", &[1.0, f64::NAN, 3.0, 10.0]),
        ]);
        let (t, _) = Transform::fit(&data, &p).unwrap();
        assert!(t.columns[0].dropped);
        assert_eq!(t.columns[1].impute, Some(3.0));
        assert_eq!(t.output_columns(), ["x", "x_missing"]);
        let (m, _) = t.apply(&data).unwrap();
        // Robust scaling of [1, 3, 3, 10]: median 3, IQR 4.75 − 2.5 = 2.25.
        assert_eq!(m[0], vec![-2.0 / 2.25, 0.0, 0.0, 7.0 / 2.25]);
        assert_eq!(m[1], vec![0.0, 1.0, 0.0, 0.0]);
    }

    #[test]
    fn winsorize_scale_and_cap_follow_the_fitted_statistics() {
        let mut p = params();
        p.scale = Scale::Standard;
        p.cap = Some(1.0);
        p.winsorize = Some([0.0, 0.5]);
        p.log1p = vec!["x".into()];
        let data = cols(&[("x", &[0.0, 1.0, 3.0, 7.0])]);
        let (t, _) = Transform::fit(&data, &p).unwrap();
        let c = &t.columns[0];
        // log1p → [0, ln 2, ln 4, ln 8]; clipped at the median (ln 2 + ln 4) / 2.
        let hi = (2f64.ln() + 4f64.ln()) / 2.0;
        assert_eq!(c.clip, Some((0.0, hi)));
        let (m, _) = t.apply(&data).unwrap();
        assert!(m[0].iter().all(|v| v.abs() <= 1.0));
        // New rows go through the same statistics.
        let new = t
            .apply(&cols(&[("x", &[100.0]), ("other", &[1.0])]))
            .unwrap()
            .0;
        assert_eq!(new[0][0], ((hi - c.center) / c.scale).clamp(-1.0, 1.0));
    }

    #[test]
    fn the_artifact_round_trips_the_transform() {
        let mut p = params();
        p.missing_indicators = true;
        p.log1p = vec!["x".into()];
        let data = cols(&[
            ("flat", &[3.0, 3.0, 3.0, 3.0]),
            ("x", &[1.0, f64::NAN, 3.0, 10.0]),
            ("y", &[0.5, 0.25, 8.0, 1.0]),
        ]);
        let (t, _) = Transform::fit(&data, &p).unwrap();
        let artifact = Artifact {
            path: "transform.parquet".into(),
            batch: t.to_batch().unwrap(),
            metadata: [(
                segflow_core::artifact::META_ARTIFACT.to_string(),
                "transform".to_string(),
            )]
            .into(),
        };
        assert_eq!(Transform::from_artifact(&artifact).unwrap(), t);
    }

    #[test]
    fn encodings_and_scaled_indicators_round_trip_and_score_unseen_labels() {
        let mut p: Params = segflow_core::params::parse_params(
            &segflow_core::params::ParamTree::from_json(
                r#"{"scale": "standard", "winsorize": null, "per_column": {
                    "plan": {"encode": "one_hot", "top": 1},
                    "x": {"impute": {"constant": 0}, "missing_indicator": true}}}"#,
            )
            .unwrap(),
        )
        .unwrap();
        p.cap = None;
        let labels =
            |l: &[Option<&str>]| Raw::Labels(l.iter().map(|v| v.map(str::to_string)).collect());
        let data = vec![
            (
                "plan".to_string(),
                labels(&[Some("a"), Some("b"), None, Some("a")]),
            ),
            ("x".to_string(), Raw::Numbers(vec![1.0, f64::NAN, 3.0, 4.0])),
        ];
        let (t, _) = Transform::fit(&data, &p).unwrap();
        assert_eq!(
            t.output_columns(),
            ["plan_a", "plan_other", "x", "x_missing"]
        );
        let (m, _) = t.apply(&data).unwrap();
        // The blank plan takes the most frequent label, a.
        assert_eq!(m[0], vec![1.0, 0.0, 1.0, 1.0]);
        // One missing x in four: the indicator is standardised, (v − 0.25) / √(0.25 · 0.75).
        let sd = (0.25f64 * 0.75).sqrt();
        assert_eq!(m[3], vec![-0.25 / sd, 0.75 / sd, -0.25 / sd, -0.25 / sd]);
        let x = &t.columns[2];
        assert_eq!((x.impute, x.n_imputed), (Some(0.0), 1));
        let artifact = Artifact {
            path: "transform.parquet".into(),
            batch: t.to_batch().unwrap(),
            metadata: t
                .metadata()
                .into_iter()
                .chain([(
                    segflow_core::artifact::META_ARTIFACT.to_string(),
                    "transform".to_string(),
                )])
                .collect(),
        };
        let back = Transform::from_artifact(&artifact).unwrap();
        assert_eq!(back, t);
        let new = vec![
            ("plan".to_string(), labels(&[Some("b"), Some("z")])),
            ("x".to_string(), Raw::Numbers(vec![2.0, 2.0])),
        ];
        let (m, unseen) = back.apply(&new).unwrap();
        assert_eq!(m[1], vec![1.0, 1.0]);
        assert_eq!((unseen[0].column.as_str(), unseen[0].count), ("plan", 1));
    }

    #[test]
    fn bad_values_are_data_errors_naming_row_and_column() {
        let data = cols(&[("x", &[1.0, f64::INFINITY, 2.0])]);
        let err = Transform::fit(&data, &params()).unwrap_err().to_string();
        assert!(
            err.contains("row 1") && err.contains("column `x`") && err.contains("infinite"),
            "{err}"
        );
        let mut p = params();
        p.impute = Impute::None;
        let err = Transform::fit(&cols(&[("x", &[1.0, f64::NAN, 2.0])]), &p)
            .unwrap_err()
            .to_string();
        assert!(err.contains("missing value"), "{err}");
        let (t, _) = Transform::fit(&cols(&[("x", &[1.0, 2.0])]), &params()).unwrap();
        let err = t.apply(&cols(&[("y", &[1.0])])).unwrap_err().to_string();
        assert!(err.contains("column `x`"), "{err}");
    }

    #[test]
    fn log1p_of_minus_one_or_less_is_refused_at_fit_and_at_apply() {
        let mut p = params();
        p.log1p = vec!["x".into()];
        for bad in [-1.0, -3.5] {
            let err = Transform::fit(&cols(&[("x", &[0.0, 2.0, bad, 5.0])]), &p)
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("row 2")
                    && err.contains("column `x`")
                    && err.contains(&bad.to_string()),
                "{err}"
            );
        }
        let (t, _) = Transform::fit(&cols(&[("x", &[0.0, 2.0, -0.5, 5.0])]), &p).unwrap();
        let err = t.apply(&cols(&[("x", &[3.0, -1.0])])).unwrap_err();
        assert_eq!(err.exit_code(), 65);
        assert!(err.to_string().contains("row 1"), "{err}");
    }
}
