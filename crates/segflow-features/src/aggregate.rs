//! Evaluation of the feature configuration over an events or table artifact.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use arrow::compute::{cast, take};
use arrow::datatypes::DataType;
use indexmap::IndexMap;

use segflow_core::artifact::{Artifact, batch};
use segflow_core::calendar::{self, MICROS_PER_SECOND};
use segflow_core::error::Location;
use segflow_core::stage::StageCtx;
use segflow_core::stats::quantile_sorted;
use segflow_core::{Error, Result};

use crate::spec::{Condition, Feature, Params};
use crate::{META_BLOCKS, META_ID_COLUMN, META_MODEL_COLUMNS};

pub struct FeatureTable {
    pub batch: RecordBatch,
    pub metadata: Vec<(String, String)>,
}

/// The event log, grouped by contact in ascending id order.
struct Events<'a> {
    ts: &'a [i64],
    value: Option<&'a [f64]>,
    category: Option<&'a StringArray>,
    /// Event indices ordered by contact (stable: input order within a contact).
    order: Vec<usize>,
    /// Ranges of `order`, one per contact.
    groups: Vec<(usize, usize)>,
}

impl Events<'_> {
    fn group(&self, g: usize) -> impl Iterator<Item = usize> + '_ {
        let (a, b) = self.groups[g];
        self.order[a..b].iter().copied()
    }

    fn size(&self, g: usize) -> usize {
        self.groups[g].1 - self.groups[g].0
    }
}

fn strings<'a>(artifact: &'a Artifact, name: &str) -> Result<&'a StringArray> {
    artifact
        .column(name)?
        .as_any()
        .downcast_ref::<StringArray>()
        .ok_or_else(|| wrong_type(artifact, name, "string"))
}

fn wrong_type(artifact: &Artifact, name: &str, expected: &str) -> Error {
    Error::data(
        Location::file(&artifact.path).column(name),
        format!("expected a {expected} column"),
    )
}

fn no_nulls(artifact: &Artifact, name: &str, array: &dyn Array) -> Result<()> {
    if array.null_count() > 0 {
        return Err(Error::data(
            Location::file(&artifact.path).column(name),
            "unexpected null values",
        ));
    }
    Ok(())
}

pub fn from_events(
    artifact: &Artifact,
    params: &Params,
    ctx: &StageCtx<'_>,
) -> Result<FeatureTable> {
    if let Some((block, name, _)) = params
        .features()
        .find(|(_, _, f)| matches!(f, Feature::Column(_)))
    {
        return Err(Error::config(
            "",
            format!("blocks.{block}.{name}"),
            "`column` passes a table column through; the input is an event log",
        ));
    }
    let ids = strings(artifact, "contact_id")?;
    no_nulls(artifact, "contact_id", ids)?;
    let ts_array = artifact
        .column("ts")?
        .as_any()
        .downcast_ref::<TimestampMicrosecondArray>()
        .ok_or_else(|| wrong_type(artifact, "ts", "timestamp[µs]"))?;
    no_nulls(artifact, "ts", ts_array)?;
    let value_array = match artifact.batch.column_by_name("value") {
        None => None,
        Some(v) => {
            let v = v
                .as_any()
                .downcast_ref::<Float64Array>()
                .ok_or_else(|| wrong_type(artifact, "value", "float64"))?;
            no_nulls(artifact, "value", v)?;
            Some(v)
        }
    };
    let category = match artifact.batch.column_by_name("category") {
        None => None,
        Some(c) => Some(
            c.as_any()
                .downcast_ref::<StringArray>()
                .ok_or_else(|| wrong_type(artifact, "category", "string"))?,
        ),
    };
    if ts_array.is_empty() {
        return Err(Error::data(
            Location::file(&artifact.path),
            "the event log is empty",
        ));
    }
    for (block, name, feature) in params.features() {
        let needs_value = matches!(
            feature,
            Feature::Sum
                | Feature::Mean
                | Feature::Median
                | Feature::Min
                | Feature::Max
                | Feature::Quantile(_)
                | Feature::Share(Condition::ValueGe(_) | Condition::ValueGeQuantile(_))
        );
        let needs_category = matches!(
            feature,
            Feature::CategoryShares { .. } | Feature::Share(Condition::CategoryIn(_))
        );
        if (needs_value && value_array.is_none()) || (needs_category && category.is_none()) {
            let column = if needs_value { "value" } else { "category" };
            return Err(Error::config(
                "",
                format!("blocks.{block}.{name}"),
                format!("needs the events' `{column}` column, which ingest did not map"),
            ));
        }
    }

    (ctx.progress)("grouping events by contact");
    let mut order: Vec<usize> = (0..ids.len()).collect();
    order.sort_by(|&a, &b| ids.value(a).cmp(ids.value(b)));
    let mut groups = Vec::new();
    let mut start = 0;
    for i in 1..=order.len() {
        if i == order.len() || ids.value(order[i]) != ids.value(order[start]) {
            groups.push((start, i));
            start = i;
        }
    }
    let events = Events {
        ts: ts_array.values(),
        value: value_array.map(|v| &v.values()[..]),
        category,
        order,
        groups,
    };
    let as_of = match params.as_of_micros() {
        Some(t) => t,
        None => *events.ts.iter().max().expect("non-empty"),
    };
    let id_column: Vec<&str> = events
        .groups
        .iter()
        .map(|&(a, _)| ids.value(events.order[a]))
        .collect();

    (ctx.progress)("aggregating");
    let sorted_values = params
        .features()
        .any(|(_, _, f)| matches!(f, Feature::Median | Feature::Quantile(_)))
        .then(|| sorted_group_values(&events));
    let mut thresholds: Vec<(String, String)> = Vec::new();
    let mut columns: IndexMap<String, (String, ArrayRef)> = IndexMap::new();
    for (block, name, feature) in params.features() {
        if !feature.inputs().is_empty() {
            continue;
        }
        for (col, array) in event_feature(
            name,
            feature,
            &events,
            as_of,
            sorted_values.as_deref(),
            params.thresholds.get(name).copied(),
            &mut thresholds,
        ) {
            columns.insert(col, (block.to_string(), array));
        }
    }
    add_derived(params, &mut columns)?;
    let mut metadata = finish_metadata(params, &columns, "contact_id");
    metadata.push(("segflow.as_of".into(), micros_text(as_of)));
    metadata.push((
        "segflow.thresholds".into(),
        serde_json::to_string(&thresholds).expect("pairs serialise"),
    ));
    let ordered = ordered_columns(params, columns);
    let mut arrays: Vec<(&str, ArrayRef)> =
        vec![("contact_id", Arc::new(StringArray::from(id_column)))];
    arrays.extend(ordered.iter().map(|(n, a)| (n.as_str(), a.clone())));
    Ok(FeatureTable {
        batch: batch(arrays)?,
        metadata,
    })
}

fn micros_text(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .map(|t| t.naive_utc().format("%Y-%m-%d %H:%M:%S%.f").to_string())
        .unwrap_or_default()
}

fn sorted_group_values(events: &Events<'_>) -> Vec<Vec<f64>> {
    let values = events
        .value
        .expect("checked: value features need a value column");
    (0..events.groups.len())
        .map(|g| {
            let mut v: Vec<f64> = events.group(g).map(|i| values[i]).collect();
            v.sort_by(f64::total_cmp);
            v
        })
        .collect()
}

fn floats(n: usize, f: impl FnMut(usize) -> f64) -> ArrayRef {
    Arc::new(Float64Array::from_iter_values((0..n).map(f)))
}

fn days(micros: i64) -> f64 {
    // pandas: Timedelta.total_seconds() / 86400, in that order, for the same last digit.
    (micros as f64 / MICROS_PER_SECOND as f64) / 86_400.0
}

/// One base (non-derived) feature; `category_shares` yields several columns.
fn event_feature(
    name: &str,
    feature: &Feature,
    ev: &Events<'_>,
    as_of: i64,
    sorted: Option<&[Vec<f64>]>,
    fixed_threshold: Option<f64>,
    thresholds: &mut Vec<(String, String)>,
) -> Vec<(String, ArrayRef)> {
    let n = ev.groups.len();
    let value = |i: usize| ev.value.expect("checked")[i];
    let first = |g: usize| {
        ev.group(g)
            .map(|i| ev.ts[i])
            .min()
            .expect("groups are non-empty")
    };
    let last = |g: usize| {
        ev.group(g)
            .map(|i| ev.ts[i])
            .max()
            .expect("groups are non-empty")
    };
    let single = |array: ArrayRef| vec![(name.to_string(), array)];
    match feature {
        Feature::Count => single(Arc::new(Int64Array::from_iter_values(
            (0..n).map(|g| ev.size(g) as i64),
        ))),
        Feature::DistinctDays => single(Arc::new(Int64Array::from_iter_values((0..n).map(|g| {
            let mut d: Vec<i64> = ev
                .group(g)
                .map(|i| calendar::day_number(ev.ts[i]))
                .collect();
            d.sort_unstable();
            d.dedup();
            d.len() as i64
        })))),
        Feature::Sum => single(floats(n, |g| ev.group(g).map(value).sum())),
        Feature::Mean => single(floats(n, |g| {
            ev.group(g).map(value).sum::<f64>() / ev.size(g) as f64
        })),
        Feature::Min => single(floats(n, |g| {
            ev.group(g).map(value).fold(f64::INFINITY, f64::min)
        })),
        Feature::Max => single(floats(n, |g| {
            ev.group(g).map(value).fold(f64::NEG_INFINITY, f64::max)
        })),
        Feature::Median => {
            let s = sorted.expect("prepared");
            single(floats(n, |g| quantile_sorted(&s[g], 0.5)))
        }
        Feature::Quantile(q) => {
            let s = sorted.expect("prepared");
            single(floats(n, |g| quantile_sorted(&s[g], *q)))
        }
        Feature::FirstTs => single(Arc::new(TimestampMicrosecondArray::from_iter_values(
            (0..n).map(first),
        ))),
        Feature::LastTs => single(Arc::new(TimestampMicrosecondArray::from_iter_values(
            (0..n).map(last),
        ))),
        Feature::RecencyDays => single(floats(n, |g| days(as_of - last(g)))),
        Feature::TenureDays => single(floats(n, |g| days(last(g) - first(g)))),
        Feature::Share(condition) => {
            let test = event_test(condition, ev, name, fixed_threshold, thresholds);
            single(floats(n, |g| {
                ev.group(g).filter(|&i| test(i)).count() as f64 / ev.size(g) as f64
            }))
        }
        Feature::CategoryShares { top } => {
            let cats = ev.category.expect("checked");
            let mut counts: HashMap<&str, u64> = HashMap::new();
            for c in cats.iter().flatten() {
                *counts.entry(c).or_default() += 1;
            }
            let mut ranked: Vec<(&str, u64)> = counts.into_iter().collect();
            ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
            ranked
                .iter()
                .take(*top)
                .map(|(cat, _)| {
                    let array = floats(n, |g| {
                        ev.group(g)
                            .filter(|&i| cats.is_valid(i) && cats.value(i) == *cat)
                            .count() as f64
                            / ev.size(g) as f64
                    });
                    (format!("{name}_{cat}"), array)
                })
                .collect()
        }
        Feature::Ratio { .. } | Feature::Log1p(_) | Feature::Column(_) => {
            unreachable!("not a base event feature")
        }
    }
}

/// The per-event predicate of a share condition. Global thresholds are computed once here and
/// recorded for the artifact metadata.
fn event_test<'a>(
    condition: &'a Condition,
    ev: &'a Events<'_>,
    name: &str,
    fixed_threshold: Option<f64>,
    thresholds: &mut Vec<(String, String)>,
) -> Box<dyn Fn(usize) -> bool + 'a> {
    match condition {
        Condition::HourIn(range) => Box::new(move |i| range.contains(calendar::hour(ev.ts[i]))),
        Condition::WeekdayIn(days) => {
            let set: Vec<u32> = days.iter().map(|d| d.index()).collect();
            Box::new(move |i| set.contains(&calendar::weekday(ev.ts[i])))
        }
        Condition::ValueGe(x) => Box::new(move |i| ev.value.expect("checked")[i] >= *x),
        Condition::ValueGeQuantile(q) => {
            let values = ev.value.expect("checked");
            let threshold =
                fixed_threshold.unwrap_or_else(|| segflow_core::stats::quantiles(values, &[*q])[0]);
            thresholds.push((name.to_string(), threshold.to_string()));
            Box::new(move |i| values[i] >= threshold)
        }
        Condition::CategoryIn(cats) => {
            let column = ev.category.expect("checked");
            Box::new(move |i| column.is_valid(i) && cats.iter().any(|c| c == column.value(i)))
        }
    }
}

pub fn from_table(artifact: &Artifact, params: &Params) -> Result<FeatureTable> {
    if let Some((block, name, _)) = params.features().find(|(_, _, f)| f.needs_events()) {
        return Err(Error::config(
            "",
            format!("blocks.{block}.{name}"),
            "needs an event log; over an entity table use `column`, `ratio` or `log1p`",
        ));
    }
    let id_name = artifact
        .meta(META_ID_COLUMN)
        .unwrap_or("row_id")
        .to_string();
    let ids = strings(artifact, &id_name)?;
    let mut order: Vec<u32> = (0..ids.len() as u32).collect();
    order.sort_by(|&a, &b| ids.value(a as usize).cmp(ids.value(b as usize)));
    let order = arrow::array::UInt32Array::from(order);
    let mut columns: IndexMap<String, (String, ArrayRef)> = IndexMap::new();
    for (block, name, feature) in params.features() {
        if let Feature::Column(source) = feature {
            let array = artifact.column(source)?;
            columns.insert(
                name.to_string(),
                (block.to_string(), take(array.as_ref(), &order, None)?),
            );
        }
    }
    add_derived(params, &mut columns)?;
    let metadata = finish_metadata(params, &columns, &id_name);
    let ordered = ordered_columns(params, columns);
    let mut arrays: Vec<(&str, ArrayRef)> = vec![(id_name.as_str(), take(ids, &order, None)?)];
    arrays.extend(ordered.iter().map(|(n, a)| (n.as_str(), a.clone())));
    Ok(FeatureTable {
        batch: batch(arrays)?,
        metadata,
    })
}

fn as_floats(name: &str, array: &ArrayRef) -> Result<Float64Array> {
    let cast = cast(array, &DataType::Float64)
        .map_err(|_| Error::config("", name, format!("`{name}` is not numeric")))?;
    Ok(cast
        .as_any()
        .downcast_ref::<Float64Array>()
        .expect("cast to Float64")
        .clone())
}

/// Ratios and log1p, each after the features it refers to. Nulls propagate.
fn add_derived(params: &Params, columns: &mut IndexMap<String, (String, ArrayRef)>) -> Result<()> {
    let order = params
        .derived_order()
        .map_err(|c| Error::Internal(format!("cycle survived validation: {c}")))?;
    for name in order {
        let (block, _, feature) = params
            .features()
            .find(|(_, n, _)| *n == name)
            .expect("derived from params");
        let input = |col: &str| -> Result<Float64Array> { as_floats(col, &columns[col].1) };
        let array: Float64Array = match feature {
            Feature::Ratio {
                num,
                den,
                den_offset,
                if_zero,
            } => {
                let (a, b) = (input(num)?, input(den)?);
                a.iter()
                    .zip(b.iter())
                    .map(|(x, y)| {
                        let (x, y) = (x?, y? + den_offset);
                        Some(if y == 0.0 { *if_zero } else { x / y })
                    })
                    .collect()
            }
            Feature::Log1p(of) => input(of)?.iter().map(|x| x.map(f64::ln_1p)).collect(),
            _ => unreachable!("only ratio and log1p are derived"),
        };
        columns.insert(name.to_string(), (block.to_string(), Arc::new(array)));
    }
    Ok(())
}

/// (block, column) in output order: block order, then declaration order within a block, with
/// `category_shares` expansions in place.
fn layout(
    params: &Params,
    columns: &IndexMap<String, (String, ArrayRef)>,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (block, features) in &params.blocks {
        for (name, feature) in features {
            match feature {
                Feature::CategoryShares { .. } => {
                    let prefix = format!("{name}_");
                    out.extend(
                        columns
                            .iter()
                            .filter(|(c, (b, _))| b == block && c.starts_with(&prefix))
                            .map(|(c, _)| (block.clone(), c.clone())),
                    );
                }
                _ => out.push((block.clone(), name.clone())),
            }
        }
    }
    out
}

fn ordered_columns(
    params: &Params,
    mut columns: IndexMap<String, (String, ArrayRef)>,
) -> Vec<(String, ArrayRef)> {
    layout(params, &columns)
        .into_iter()
        .filter_map(|(_, name)| columns.shift_remove(&name).map(|(_, array)| (name, array)))
        .collect()
}

fn finish_metadata(
    params: &Params,
    columns: &IndexMap<String, (String, ArrayRef)>,
    id: &str,
) -> Vec<(String, String)> {
    let layout = layout(params, columns);
    let mut blocks = Vec::new();
    let mut model_columns = Vec::new();
    for block in params.blocks.keys() {
        let model_input = params.model_blocks.contains(block);
        let cols: Vec<&str> = layout
            .iter()
            .filter(|(b, _)| b == block)
            .map(|(_, c)| c.as_str())
            .collect();
        if model_input {
            model_columns.extend(cols.iter().map(|c| c.to_string()));
        }
        blocks.push(
            serde_json::json!({ "block": block, "model_input": model_input, "columns": cols }),
        );
    }
    vec![
        (META_ID_COLUMN.to_string(), id.to_string()),
        (
            META_BLOCKS.to_string(),
            serde_json::Value::Array(blocks).to_string(),
        ),
        (
            META_MODEL_COLUMNS.to_string(),
            serde_json::to_string(&model_columns).expect("strings serialise"),
        ),
    ]
}
