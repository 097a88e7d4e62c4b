//! Evaluation of the feature configuration over an events or table artifact.

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, Float64Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use arrow::compute::{cast, take};
use arrow::datatypes::{DataType, TimeUnit};
use indexmap::IndexMap;

use segflow_core::artifact::{Artifact, META_TIME_OF_DAY, ParquetBatches, batch};
use segflow_core::calendar::{self, MICROS_PER_SECOND};
use segflow_core::error::Location;
use segflow_core::stage::{OutputDir, StageCtx};
use segflow_core::stats::quantile_sorted;
use segflow_core::{Error, Result};

use crate::spec::{Condition, Feature, Params};
use crate::{META_BLOCKS, META_ID_COLUMN, META_MODEL_COLUMNS};

pub struct FeatureTable {
    pub batch: RecordBatch,
    pub metadata: Vec<(String, String)>,
}

/// The event log held compactly (a timestamp, a value and a category code per event, nothing
/// textual), grouped by contact in ascending id order. Group `g` is the index range
/// `bounds[g]..bounds[g + 1]`, in input order within the contact.
struct Events {
    ids: Vec<String>,
    bounds: Vec<usize>,
    ts: Vec<i64>,
    value: Option<Vec<f64>>,
    category: Option<Categories>,
}

/// Category names, and one code per event ([`Categories::NONE`] for a missing category).
struct Categories {
    names: Vec<String>,
    codes: Vec<u32>,
}

impl Categories {
    const NONE: u32 = u32::MAX;
}

impl Events {
    fn groups(&self) -> usize {
        self.ids.len()
    }

    fn group(&self, g: usize) -> Range<usize> {
        self.bounds[g]..self.bounds[g + 1]
    }

    fn size(&self, g: usize) -> usize {
        self.bounds[g + 1] - self.bounds[g]
    }

    fn values(&self) -> &[f64] {
        self.value
            .as_deref()
            .expect("checked: value features need a value column")
    }

    fn categories(&self) -> &Categories {
        self.category
            .as_ref()
            .expect("checked: category features need a category column")
    }
}

/// Interns text into dense codes in order of first appearance, holding each text once.
/// foldhash rather than SipHash: one lookup per event makes hashing a large share of the stage.
#[derive(Default)]
struct Interner {
    codes: foldhash::HashMap<Box<str>, u32>,
}

impl Interner {
    fn code(&mut self, text: &str, path: &Path, column: &str) -> Result<u32> {
        if let Some(&code) = self.codes.get(text) {
            return Ok(code);
        }
        let code = u32::try_from(self.codes.len())
            .ok()
            .filter(|&c| c != Categories::NONE)
            .ok_or_else(|| {
                Error::data(
                    Location::file(path).column(column),
                    "more than 4 billion distinct values",
                )
            })?;
        self.codes.insert(text.into(), code);
        Ok(code)
    }

    /// The texts, indexed by code.
    fn into_names(self) -> Vec<String> {
        let mut names = vec![String::new(); self.codes.len()];
        for (text, code) in self.codes {
            names[code as usize] = text.into();
        }
        names
    }
}

fn wrong_type(path: &Path, name: &str, expected: &str) -> Error {
    Error::data(
        Location::file(path).column(name),
        format!("expected a {expected} column"),
    )
}

fn no_nulls(path: &Path, name: &str, array: &dyn Array) -> Result<()> {
    if array.null_count() > 0 {
        return Err(Error::data(
            Location::file(path).column(name),
            "unexpected null values",
        ));
    }
    Ok(())
}

/// The columns of an events artifact that features read; the others are never decoded.
pub const EVENT_COLUMNS: &[&str] = &["contact_id", "ts", "value", "category"];

/// Checks that the events' column `name` exists (unless optional) with the given type.
fn check_column(
    input: &ParquetBatches,
    name: &str,
    required: bool,
    expected: &str,
    fits: impl Fn(&DataType) -> bool,
) -> Result<bool> {
    match input.schema.field_with_name(name) {
        Ok(field) if fits(field.data_type()) => Ok(true),
        Ok(_) => Err(wrong_type(&input.path, name, expected)),
        Err(_) if required => Err(Error::data(
            Location::file(&input.path).column(name),
            "required column is missing",
        )),
        Err(_) => Ok(false),
    }
}

fn typed<'a, T: 'static>(batch: &'a RecordBatch, name: &str) -> &'a T {
    batch
        .column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<T>())
        .expect("schema checked")
}

/// Reads the event log batch by batch into its compact form, then groups it by contact.
fn read_events(
    input: ParquetBatches,
    has_value: bool,
    has_category: bool,
    ctx: &StageCtx<'_>,
) -> Result<Events> {
    let path = input.path.clone();
    let mut contacts = Interner::default();
    let mut categories = Interner::default();
    let mut contact: Vec<u32> = Vec::new();
    let mut ts: Vec<i64> = Vec::new();
    let mut value: Vec<f64> = Vec::new();
    let mut codes: Vec<u32> = Vec::new();
    for batch in input {
        let batch = batch?;
        let ids: &StringArray = typed(&batch, "contact_id");
        no_nulls(&path, "contact_id", ids)?;
        let times: &TimestampMicrosecondArray = typed(&batch, "ts");
        no_nulls(&path, "ts", times)?;
        for id in ids.iter().flatten() {
            contact.push(contacts.code(id, &path, "contact_id")?);
        }
        ts.extend_from_slice(times.values());
        if has_value {
            let values: &Float64Array = typed(&batch, "value");
            no_nulls(&path, "value", values)?;
            value.extend_from_slice(values.values());
        }
        if has_category {
            let cats: &StringArray = typed(&batch, "category");
            for c in cats {
                codes.push(match c {
                    Some(c) => categories.code(c, &path, "category")?,
                    None => Categories::NONE,
                });
            }
        }
        if ts.len() % 1_000_000 < batch.num_rows() {
            (ctx.progress)(&format!("{} events read", ts.len()));
        }
    }
    if ts.is_empty() {
        return Err(Error::data(Location::file(&path), "the event log is empty"));
    }
    if u32::try_from(ts.len()).is_err() {
        return Err(Error::data(
            Location::file(&path),
            "more than 4 billion events; split the log",
        ));
    }

    // A counting sort by the rank of each contact's id: stable, so events keep input order
    // within a contact, and linear in the number of events.
    let names = contacts.into_names();
    let mut by_id: Vec<u32> = (0..names.len() as u32).collect();
    by_id.sort_unstable_by(|&a, &b| names[a as usize].cmp(&names[b as usize]));
    let mut rank = vec![0u32; names.len()];
    for (r, &c) in by_id.iter().enumerate() {
        rank[c as usize] = r as u32;
    }
    let mut bounds = vec![0usize; names.len() + 1];
    for &c in &contact {
        bounds[rank[c as usize] as usize + 1] += 1;
    }
    for g in 1..bounds.len() {
        bounds[g] += bounds[g - 1];
    }
    let mut next = bounds.clone();
    let mut position: Vec<u32> = Vec::with_capacity(contact.len());
    for &c in &contact {
        let slot = &mut next[rank[c as usize] as usize];
        position.push(*slot as u32);
        *slot += 1;
    }
    drop(contact);
    let ids = {
        let mut names = names;
        by_id
            .iter()
            .map(|&c| std::mem::take(&mut names[c as usize]))
            .collect()
    };
    Ok(Events {
        ids,
        ts: permute(&position, ts),
        value: has_value.then(|| permute(&position, value)),
        category: has_category.then(|| Categories {
            names: categories.into_names(),
            codes: permute(&position, codes),
        }),
        bounds,
    })
}

/// Places `items[i]` at `position[i]`.
fn permute<T: Copy + Default>(position: &[u32], items: Vec<T>) -> Vec<T> {
    let mut out = vec![T::default(); items.len()];
    for (&p, item) in position.iter().zip(items) {
        out[p as usize] = item;
    }
    out
}

/// Aggregates the event log `input` into the `features` artifact of `out`; returns the number
/// of contacts.
pub fn from_events(
    input: ParquetBatches,
    params: &Params,
    out: &mut OutputDir,
    ctx: &StageCtx<'_>,
) -> Result<u64> {
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
    check_column(&input, "contact_id", true, "string", |t| {
        *t == DataType::Utf8
    })?;
    check_column(&input, "ts", true, "timestamp[µs]", |t| {
        matches!(t, DataType::Timestamp(TimeUnit::Microsecond, _))
    })?;
    let has_value = check_column(&input, "value", false, "float64", |t| {
        *t == DataType::Float64
    })?;
    let has_category = check_column(&input, "category", false, "string", |t| {
        *t == DataType::Utf8
    })?;
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
        if (needs_value && !has_value) || (needs_category && !has_category) {
            let column = if needs_value { "value" } else { "category" };
            return Err(Error::config(
                "",
                format!("blocks.{block}.{name}"),
                format!("needs the events' `{column}` column, which ingest did not map"),
            ));
        }
    }

    let hour_feature = params
        .features()
        .find(|(_, _, f)| matches!(f, Feature::Share(Condition::HourIn(_))));
    if let Some((block, name, _)) = hour_feature
        && input.meta(META_TIME_OF_DAY) == Some("false")
    {
        return Err(Error::config(
            "",
            format!("blocks.{block}.{name}"),
            "the event log has dates only (ingest read no time of day), so the hour of day is \
             unknown; drop this hour_in share or ingest a time column",
        ));
    }

    (ctx.progress)("reading and grouping events by contact");
    let path = input.path.clone();
    let events = read_events(input, has_value, has_category, ctx)?;
    let as_of = match params.as_of_micros() {
        Some(t) => t,
        None => *events.ts.iter().max().expect("non-empty"),
    };

    (ctx.progress)("aggregating");
    let mut thresholds: Vec<(String, String)> = Vec::new();
    let globals: Vec<Global> = params
        .features()
        .map(|(_, name, feature)| {
            global(
                name,
                feature,
                &events,
                params.thresholds.get(name).copied(),
                &mut thresholds,
            )
        })
        .collect();
    // After the globals, whose quantiles sort their own copy: the two copies never coexist.
    let sorted_values = params
        .features()
        .any(|(_, _, f)| matches!(f, Feature::Median | Feature::Quantile(_)))
        .then(|| sorted_group_values(&events));
    // Contacts are aggregated and written a batch at a time, so the output columns of a large
    // log never exist whole.
    let mut features = None;
    let n = events.groups();
    for start in (0..n).step_by(ParquetBatches::BATCH_ROWS) {
        let contacts = start..n.min(start + ParquetBatches::BATCH_ROWS);
        let mut columns: IndexMap<String, (String, ArrayRef)> = IndexMap::new();
        for ((block, name, feature), global) in params.features().zip(&globals) {
            if !feature.inputs().is_empty() {
                continue;
            }
            let ctx = Aggregation {
                ev: &events,
                contacts: contacts.clone(),
                as_of,
                sorted: sorted_values.as_deref(),
                global,
            };
            for (col, array) in event_feature(name, feature, &ctx) {
                columns.insert(col, (block.to_string(), array));
            }
        }
        let rows = Rows {
            file: &path,
            id_column: "contact_id",
            ids: events.ids[contacts.clone()]
                .iter()
                .map(String::as_str)
                .collect(),
        };
        add_derived(params, &mut columns, &rows)?;
        let mut arrays: Vec<(&str, ArrayRef)> = vec![(
            "contact_id",
            Arc::new(StringArray::from_iter_values(
                events.ids[contacts.clone()].iter(),
            )),
        )];
        let metadata = features
            .is_none()
            .then(|| finish_metadata(params, &columns, "contact_id"));
        let ordered = ordered_columns(params, columns);
        arrays.extend(ordered.iter().map(|(n, a)| (n.as_str(), a.clone())));
        let chunk = batch(arrays)?;
        if let Some(mut metadata) = metadata {
            metadata.push(("segflow.as_of".into(), micros_text(as_of)));
            metadata.push((
                "segflow.thresholds".into(),
                serde_json::to_string(&thresholds).expect("pairs serialise"),
            ));
            features = Some(out.stream("features", chunk.schema(), &metadata)?);
        }
        features.as_mut().expect("opened above").write(&chunk)?;
    }
    out.finish(features.expect("an event log has contacts"))?;
    Ok(n as u64)
}

fn micros_text(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .map(|t| t.naive_utc().format("%Y-%m-%d %H:%M:%S%.f").to_string())
        .unwrap_or_default()
}

/// The values with each contact's range sorted (a copy: sums keep input order).
fn sorted_group_values(events: &Events) -> Vec<f64> {
    let mut sorted = events.values().to_vec();
    for g in 0..events.groups() {
        sorted[events.group(g)].sort_by(f64::total_cmp);
    }
    sorted
}

fn days(micros: i64) -> f64 {
    // pandas: Timedelta.total_seconds() / 86400, in that order, for the same last digit.
    (micros as f64 / MICROS_PER_SECOND as f64) / 86_400.0
}

/// What a feature needs from the whole log, computed once before contacts are aggregated.
enum Global {
    None,
    /// The bar of a `value_ge_quantile` share.
    Threshold(f64),
    /// Category codes: the `top` of `category_shares` in rank order, or those of `category_in`.
    Codes(Vec<u32>),
}

fn global(
    name: &str,
    feature: &Feature,
    ev: &Events,
    fixed_threshold: Option<f64>,
    thresholds: &mut Vec<(String, String)>,
) -> Global {
    match feature {
        Feature::Share(Condition::ValueGeQuantile(q)) => {
            let threshold = fixed_threshold
                .unwrap_or_else(|| segflow_core::stats::quantiles(ev.values(), &[*q])[0]);
            thresholds.push((name.to_string(), threshold.to_string()));
            Global::Threshold(threshold)
        }
        Feature::Share(Condition::CategoryIn(names)) => {
            let cats = ev.categories();
            Global::Codes(
                (0..cats.names.len() as u32)
                    .filter(|&c| names.contains(&cats.names[c as usize]))
                    .collect(),
            )
        }
        Feature::CategoryShares { top } => {
            let cats = ev.categories();
            let mut counts = vec![0u64; cats.names.len()];
            for &c in cats.codes.iter().filter(|&&c| c != Categories::NONE) {
                counts[c as usize] += 1;
            }
            let mut ranked: Vec<u32> = (0..cats.names.len() as u32).collect();
            ranked.sort_by(|&a, &b| {
                counts[b as usize]
                    .cmp(&counts[a as usize])
                    .then(cats.names[a as usize].cmp(&cats.names[b as usize]))
            });
            ranked.truncate(*top);
            Global::Codes(ranked)
        }
        _ => Global::None,
    }
}

/// A batch of contacts to aggregate one feature over.
struct Aggregation<'a> {
    ev: &'a Events,
    contacts: Range<usize>,
    as_of: i64,
    sorted: Option<&'a [f64]>,
    global: &'a Global,
}

impl Aggregation<'_> {
    fn floats(&self, f: impl FnMut(usize) -> f64) -> ArrayRef {
        Arc::new(Float64Array::from_iter_values(self.contacts.clone().map(f)))
    }

    fn codes(&self) -> &[u32] {
        match self.global {
            Global::Codes(codes) => codes,
            _ => unreachable!("prepared for category features"),
        }
    }
}

/// One base (non-derived) feature over a batch of contacts; `category_shares` yields several
/// columns.
fn event_feature(name: &str, feature: &Feature, a: &Aggregation<'_>) -> Vec<(String, ArrayRef)> {
    let ev = a.ev;
    let value = |i: usize| ev.values()[i];
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
    let contacts = || a.contacts.clone();
    match feature {
        Feature::Count => single(Arc::new(Int64Array::from_iter_values(
            contacts().map(|g| ev.size(g) as i64),
        ))),
        Feature::DistinctDays => single(Arc::new(Int64Array::from_iter_values(contacts().map(
            |g| {
                let mut d: Vec<i64> = ev
                    .group(g)
                    .map(|i| calendar::day_number(ev.ts[i]))
                    .collect();
                d.sort_unstable();
                d.dedup();
                d.len() as i64
            },
        )))),
        Feature::Sum => single(a.floats(|g| ev.group(g).map(value).sum())),
        Feature::Mean => {
            single(a.floats(|g| ev.group(g).map(value).sum::<f64>() / ev.size(g) as f64))
        }
        Feature::Min => single(a.floats(|g| ev.group(g).map(value).fold(f64::INFINITY, f64::min))),
        Feature::Max => {
            single(a.floats(|g| ev.group(g).map(value).fold(f64::NEG_INFINITY, f64::max)))
        }
        Feature::Median => {
            let s = a.sorted.expect("prepared");
            single(a.floats(|g| quantile_sorted(&s[ev.group(g)], 0.5)))
        }
        Feature::Quantile(q) => {
            let s = a.sorted.expect("prepared");
            single(a.floats(|g| quantile_sorted(&s[ev.group(g)], *q)))
        }
        Feature::FirstTs => single(Arc::new(TimestampMicrosecondArray::from_iter_values(
            contacts().map(first),
        ))),
        Feature::LastTs => single(Arc::new(TimestampMicrosecondArray::from_iter_values(
            contacts().map(last),
        ))),
        Feature::RecencyDays => single(a.floats(|g| days(a.as_of - last(g)))),
        Feature::TenureDays => single(a.floats(|g| days(last(g) - first(g)))),
        Feature::Share(condition) => {
            let test = event_test(condition, a);
            single(
                a.floats(|g| ev.group(g).filter(|&i| test(i)).count() as f64 / ev.size(g) as f64),
            )
        }
        Feature::CategoryShares { .. } => {
            let cats = ev.categories();
            a.codes()
                .iter()
                .map(|&code| {
                    let array = a.floats(|g| {
                        ev.group(g).filter(|&i| cats.codes[i] == code).count() as f64
                            / ev.size(g) as f64
                    });
                    (format!("{name}_{}", cats.names[code as usize]), array)
                })
                .collect()
        }
        Feature::Ratio { .. } | Feature::Log1p(_) | Feature::Column(_) => {
            unreachable!("not a base event feature")
        }
    }
}

/// The per-event predicate of a share condition.
fn event_test<'a>(
    condition: &'a Condition,
    a: &'a Aggregation<'_>,
) -> Box<dyn Fn(usize) -> bool + 'a> {
    let ev = a.ev;
    match condition {
        Condition::HourIn(range) => Box::new(move |i| range.contains(calendar::hour(ev.ts[i]))),
        Condition::WeekdayIn(days) => {
            let set: Vec<u32> = days.iter().map(|d| d.index()).collect();
            Box::new(move |i| set.contains(&calendar::weekday(ev.ts[i])))
        }
        Condition::ValueGe(x) => Box::new(move |i| ev.values()[i] >= *x),
        Condition::ValueGeQuantile(_) => {
            let Global::Threshold(threshold) = *a.global else {
                unreachable!("prepared for value_ge_quantile")
            };
            Box::new(move |i| ev.values()[i] >= threshold)
        }
        Condition::CategoryIn(_) => {
            let (codes, wanted) = (&ev.categories().codes, a.codes());
            Box::new(move |i| wanted.contains(&codes[i]))
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
    let ids = artifact
        .column(&id_name)?
        .as_any()
        .downcast_ref::<StringArray>()
        .ok_or_else(|| wrong_type(&artifact.path, &id_name, "string"))?;
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
    let sorted_ids = take(ids, &order, None)?;
    let rows = Rows {
        file: &artifact.path,
        id_column: &id_name,
        ids: sorted_ids
            .as_string::<i32>()
            .iter()
            .map(Option::unwrap_or_default)
            .collect(),
    };
    add_derived(params, &mut columns, &rows)?;
    let metadata = finish_metadata(params, &columns, &id_name);
    let ordered = ordered_columns(params, columns);
    let mut arrays: Vec<(&str, ArrayRef)> = vec![(id_name.as_str(), sorted_ids)];
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

/// Whose rows a batch of feature columns holds, so a bad derived value names its entity.
struct Rows<'a> {
    /// The events or table artifact the features are computed from.
    file: &'a Path,
    id_column: &'a str,
    ids: Vec<&'a str>,
}

/// Ratios and log1p, each after the features it refers to. Nulls propagate.
fn add_derived(
    params: &Params,
    columns: &mut IndexMap<String, (String, ArrayRef)>,
    rows: &Rows<'_>,
) -> Result<()> {
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
            Feature::Log1p(of) => {
                let values = input(of)?;
                // ln(1 + x) is −∞ at −1 and undefined below: refused rather than written.
                if let Some(row) = values.iter().position(|x| x.is_some_and(|x| x <= -1.0)) {
                    return Err(Error::data(
                        Location::file(rows.file).column(name),
                        format!(
                            "{} {}: log1p of `{of}` = {} needs values above −1",
                            rows.id_column,
                            rows.ids[row],
                            values.value(row)
                        ),
                    ));
                }
                values.iter().map(|x| x.map(f64::ln_1p)).collect()
            }
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
