//! The event log aggregated into the `features` artifact, one row per contact, written a batch
//! of contacts at a time; contacts with fewer than `min_events` events go to the `excluded`
//! artifact instead.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, Int64Array, RecordBatch, StringArray};
use arrow::compute::concat_batches;
use arrow::datatypes::{Float64Type, TimestampMicrosecondType};

use segflow_core::artifact::{META_TIME_OF_DAY, ParquetBatches, batch, open_parquet_columns};
use segflow_core::error::Location;
use segflow_core::stage::{OutputDir, StageCtx, StagedStream};
use segflow_core::warnings::Warning;
use segflow_core::{Error, Result};

use crate::aggregate::{Global, Scope, Sorted, Source, event_feature, global};
use crate::derived::{Rows, add_derived};
use crate::events::{Column, Events, grouped_events, read_events};
use crate::feature::{Aggregation, Condition, Feature};
use crate::layout::{Columns, finish_metadata, ordered_columns};
use crate::schema::{self, Reading};
use crate::spec::Params;

/// The features artifact's count of contacts left out by `min_events`.
pub const META_EXCLUDED_CONTACTS: &str = "segflow.excluded_contacts";

/// Metadata of an events artifact whose rows are sorted by contact id (input order kept within
/// a contact), as `assign` writes one: features then holds one part of whole contacts at a
/// time. Its value is the events a part holds: a part ends at the first contact boundary
/// after that many (a contact with more is held whole).
pub const META_GROUPED: &str = "segflow.grouped_by_contact";

/// Aggregates the event log `input` (opened, not yet read) into the `features` artifact of
/// `out`; returns the number of contacts written.
pub fn from_events(
    input: ParquetBatches,
    params: &Params,
    out: &mut OutputDir,
    ctx: &StageCtx<'_>,
) -> Result<u64> {
    let path = input.path.clone();
    let reading = schema::plan(&input.schema, &path, params, input.meta(META_TIME_OF_DAY))?;
    let part_events = match input.meta(META_GROUPED) {
        Some(n) => Some(n.parse::<usize>().map_err(|_| {
            Error::data(
                Location::file(&path),
                format!("{META_GROUPED} is not a number of events: {n}"),
            )
        })?),
        None => None,
    };
    drop(input);
    if let Some(part_events) = part_events {
        return from_grouped(&path, &reading, params, part_events.max(1), out, ctx);
    }

    (ctx.progress)("reading and grouping events by contact");
    let events = read_events(&path, &reading, ctx)?;
    let latest = *events.ts.iter().max().expect("non-empty");
    let after = |t: i64| events.ts.iter().filter(|&&e| e > t).count() as u64;
    let as_of = reference_time(params, latest, after, events.ts.len() as u64)?;
    let (kept, excluded) = split_by_events(&events, params.min_events);
    if kept.is_empty() {
        let most = (0..events.groups()).map(|g| events.size(g)).max();
        return Err(nothing_kept(&path, params, most.unwrap_or(0) as u64));
    }

    (ctx.progress)("aggregating");
    let sources: Vec<Source<'_>> = params
        .features()
        .map(|(_, _, feature)| Source::of(feature, &events, &reading))
        .collect();
    let mut thresholds: Vec<(String, String)> = Vec::new();
    let globals: Vec<Global> = params
        .features()
        .zip(&sources)
        .map(|((_, name, feature), source)| {
            global(
                name,
                feature,
                &events,
                source,
                params.thresholds.get(name).copied(),
                &mut thresholds,
            )
        })
        .collect::<Result<_>>()?;
    let mut written = Written::new(as_of, thresholds, excluded.len());
    // Contacts are aggregated and written a batch at a time, so the output columns of a large
    // log never exist whole.
    for contacts in kept.chunks(ParquetBatches::BATCH_ROWS) {
        let (chunk, metadata) =
            aggregate(params, &events, &sources, &globals, contacts, as_of, &path)?;
        written.write(out, params, chunk, metadata)?;
    }
    let far = crate::warnings::far_as_of(
        &events.ts,
        as_of,
        &micros_text(as_of),
        params.as_of_micros().is_none(),
    );
    written.finish(out, far)?;
    if params.min_events > 1 {
        let excluded: Vec<(&str, usize)> = excluded
            .iter()
            .map(|&g| (events.ids[g].as_str(), events.size(g)))
            .collect();
        write_excluded(out, &excluded, params.min_events)?;
    }
    Ok(kept.len() as u64)
}

/// The reference time: `as_of` when given (refused when `after(as_of)` of the `events` come
/// after it), else the latest event.
fn reference_time(
    params: &Params,
    latest: i64,
    after: impl Fn(i64) -> u64,
    events: u64,
) -> Result<i64> {
    match params.as_of_micros() {
        // Events after the reference time would get a negative recency, and tenure and gaps
        // would mix times on both sides of it: refused, not computed silently.
        Some(t) if t < latest => Err(Error::config(
            "",
            "as_of",
            format!(
                "{} is before the latest event ({}): {} of {events} events come after it; \
                 move as_of, use `latest_event`, or leave later events out in ingest \
                 (`where:`)",
                micros_text(t),
                micros_text(latest),
                after(t)
            ),
        )),
        Some(t) => Ok(t),
        None => Ok(latest),
    }
}

fn nothing_kept(path: &Path, params: &Params, most: u64) -> Error {
    Error::data(
        Location::file(path),
        format!(
            "every contact has fewer than {} events (the most any has is {most}): nothing \
             left to aggregate; lower min_events",
            params.min_events,
        ),
    )
}

/// The features of a batch of `contacts` (group indices of `events`), with the artifact's
/// metadata as their columns make it.
fn aggregate(
    params: &Params,
    events: &Events,
    sources: &[Source<'_>],
    globals: &[Global],
    contacts: &[usize],
    as_of: i64,
    path: &Path,
) -> Result<(RecordBatch, Vec<(String, String)>)> {
    let (sorted, sorted_of) = order_statistics(params, events, sources, contacts);
    let mut columns = Columns::new();
    for (((block, name, feature), global), (source, set)) in params
        .features()
        .zip(globals)
        .zip(sources.iter().zip(&sorted_of))
    {
        if !feature.inputs().is_empty() {
            continue;
        }
        let scope = Scope {
            ev: events,
            contacts,
            as_of,
            global,
            source,
            sorted: set.map(|i| &sorted[i]),
        };
        for (col, array) in event_feature(name, feature, &scope) {
            let another = col != name && params.features().any(|(_, n, _)| n == col);
            if another || columns.contains_key(&col) {
                return Err(Error::config(
                    "",
                    format!("blocks.{block}.{name}"),
                    format!("its column `{col}` has the name of another feature's column"),
                ));
            }
            columns.insert(col, (name.to_string(), array));
        }
    }
    let ids: Vec<&str> = contacts.iter().map(|&g| events.ids[g].as_str()).collect();
    let rows = Rows {
        file: path,
        id_column: "contact_id",
        ids: ids.clone(),
    };
    add_derived(params, &mut columns, &rows)?;
    let mut arrays: Vec<(&str, ArrayRef)> = vec![("contact_id", Arc::new(StringArray::from(ids)))];
    let metadata = finish_metadata(params, &columns, "contact_id");
    let ordered = ordered_columns(params, columns);
    arrays.extend(ordered.iter().map(|(n, a)| (n.as_str(), a.clone())));
    Ok((batch(arrays)?, metadata))
}

/// The features artifact as its batches come, and the warnings on them.
struct Written {
    as_of: i64,
    thresholds: Vec<(String, String)>,
    excluded: usize,
    features: Option<StagedStream>,
    constancy: crate::warnings::Constancy,
}

impl Written {
    fn new(as_of: i64, thresholds: Vec<(String, String)>, excluded: usize) -> Written {
        Written {
            as_of,
            thresholds,
            excluded,
            features: None,
            constancy: crate::warnings::Constancy::default(),
        }
    }

    /// Writes `chunk`; the first opens the artifact with `metadata` and the run's own.
    fn write(
        &mut self,
        out: &mut OutputDir,
        params: &Params,
        chunk: RecordBatch,
        mut metadata: Vec<(String, String)>,
    ) -> Result<()> {
        if self.features.is_none() {
            metadata.push(("segflow.as_of".into(), micros_text(self.as_of)));
            metadata.push((
                "segflow.thresholds".into(),
                serde_json::to_string(&self.thresholds).expect("pairs serialise"),
            ));
            // Only when contacts can be excluded, so the artifacts of other pipelines keep
            // their bytes.
            if params.min_events > 1 {
                metadata.push((META_EXCLUDED_CONTACTS.into(), self.excluded.to_string()));
            }
            self.features = Some(out.stream("features", chunk.schema(), &metadata)?);
        }
        self.constancy.observe(&chunk)?;
        self.features.as_mut().expect("opened above").write(&chunk)
    }

    fn finish(self, out: &mut OutputDir, far: Option<Warning>) -> Result<()> {
        out.finish(self.features.expect("some contact is kept"))?;
        let mut warnings = self.constancy.warnings();
        warnings.extend(far);
        out.write(
            "warnings",
            &segflow_core::warnings::to_batch(&warnings)?,
            &[],
        )
    }
}

/// What the features of a log grouped by contact need from all of it, read in a first pass
/// that holds no event: the reference time, the contacts `min_events` keeps, the days of the
/// events (for the `far_as_of` warning) and each feature's log-wide figure.
struct LogWide {
    events: u64,
    latest: i64,
    /// Events after a given `as_of`.
    after: u64,
    days: BTreeMap<i64, u64>,
    kept: u64,
    excluded: u64,
    most: u64,
    globals: Vec<LogGlobal>,
}

/// A feature's figure over the whole log; the rest is worked out in each part.
enum LogGlobal {
    PerPart,
    Threshold(f64),
    /// A `value_ge_quantile` bar not fixed in the params: every value of the column.
    Values(Vec<f64>),
    /// `category_shares`: every category and how many of the events the feature sees have it.
    Categories(BTreeMap<String, u64>),
}

fn log_wide(path: &Path, reading: &Reading, params: &Params) -> Result<LogWide> {
    let mut wide = LogWide {
        events: 0,
        latest: i64::MIN,
        after: 0,
        days: BTreeMap::new(),
        kept: 0,
        excluded: 0,
        most: 0,
        globals: params
            .features()
            .map(|(_, name, feature)| match &feature.aggregation {
                Aggregation::Share(Condition::ValueGeQuantile(_)) => {
                    match params.thresholds.get(name) {
                        Some(&t) => LogGlobal::Threshold(t),
                        None => LogGlobal::Values(Vec::new()),
                    }
                }
                Aggregation::CategoryShares { .. } => LogGlobal::Categories(BTreeMap::new()),
                _ => LogGlobal::PerPart,
            })
            .collect(),
    };
    let as_of = params.as_of_micros();
    let mut contact: Option<(String, u64)> = None;
    let close = |wide: &mut LogWide, events: u64| {
        wide.most = wide.most.max(events);
        if events >= params.min_events {
            wide.kept += 1;
        } else {
            wide.excluded += 1;
        }
    };
    for batch in open_parquet_columns(path, |c| reading.decodes(c))? {
        let batch = batch?;
        let ids = batch
            .column_by_name("contact_id")
            .ok_or_else(|| Error::data(Location::file(path), "no contact_id column"))?
            .as_string::<i32>();
        for id in ids.iter().flatten() {
            match &mut contact {
                Some((current, n)) if current == id => *n += 1,
                _ => {
                    if let Some((_, n)) = contact.take() {
                        close(&mut wide, n);
                    }
                    contact = Some((id.to_string(), 1));
                }
            }
        }
        let ts = batch
            .column_by_name("ts")
            .ok_or_else(|| Error::data(Location::file(path), "no ts column"))?
            .as_primitive::<TimestampMicrosecondType>();
        for &t in ts.values() {
            wide.events += 1;
            wide.latest = wide.latest.max(t);
            wide.after += as_of.is_some_and(|a| t > a) as u64;
            *wide
                .days
                .entry(segflow_core::warnings::day_of(t))
                .or_default() += 1;
        }
        let masks = reading.conditions.masks(&batch, path)?;
        for ((_, _, feature), g) in params.features().zip(&mut wide.globals) {
            match g {
                LogGlobal::Values(values) => {
                    let column = batch
                        .column_by_name(feature.column().expect("a share of values"))
                        .expect("schema checked")
                        .as_primitive::<Float64Type>();
                    values.extend(column.iter().flatten().filter(|x| !x.is_nan()));
                }
                LogGlobal::Categories(counts) => {
                    let seen = feature.filter.is_some().then(|| {
                        &masks[reading
                            .conditions
                            .index(feature.condition().expect("a filter"))]
                    });
                    let cats = batch
                        .column_by_name("category")
                        .expect("schema checked")
                        .as_string::<i32>();
                    for (i, cat) in cats.iter().enumerate() {
                        let Some(cat) = cat else { continue };
                        let n = match counts.get_mut(cat) {
                            Some(n) => n,
                            None => counts.entry(cat.to_string()).or_default(),
                        };
                        *n += seen.is_none_or(|m| m.value(i)) as u64;
                    }
                }
                LogGlobal::PerPart | LogGlobal::Threshold(_) => {}
            }
        }
    }
    if let Some((_, n)) = contact {
        close(&mut wide, n);
    }
    if wide.events == 0 {
        return Err(Error::data(Location::file(path), "the event log is empty"));
    }
    Ok(wide)
}

/// [`from_events`] for a log grouped by contact: a first pass for what the features need
/// from the whole log, then a part of whole contacts at a time, so memory holds the contacts'
/// ids and one part of events rather than the log.
fn from_grouped(
    path: &Path,
    reading: &Reading,
    params: &Params,
    part_events: usize,
    out: &mut OutputDir,
    ctx: &StageCtx<'_>,
) -> Result<u64> {
    (ctx.progress)("reading the log grouped by contact");
    let mut wide = log_wide(path, reading, params)?;
    let as_of = reference_time(params, wide.latest, |_| wide.after, wide.events)?;
    if wide.kept == 0 {
        return Err(nothing_kept(path, params, wide.most));
    }
    let mut thresholds = Vec::new();
    for ((_, name, feature), g) in params.features().zip(&mut wide.globals) {
        if let LogGlobal::Values(values) = g {
            if values.is_empty() {
                return Err(Error::data(
                    Location::default().column(feature.column().unwrap_or_default()),
                    format!("{name}: no values to take the quantile of"),
                ));
            }
            let Aggregation::Share(Condition::ValueGeQuantile(q)) = feature.aggregation else {
                unreachable!("values are kept for value_ge_quantile")
            };
            *g = LogGlobal::Threshold(segflow_core::stats::quantile_in_place(values, q));
        }
        if let LogGlobal::Threshold(t) = g {
            thresholds.push((name.to_string(), t.to_string()));
        }
    }
    let mut written = Written::new(as_of, thresholds, wide.excluded as usize);
    let mut excluded: Vec<(String, usize)> = Vec::new();
    let mut last_id: Option<String> = None;

    (ctx.progress)("aggregating");
    let mut part = |batch: &RecordBatch| -> Result<()> {
        let events = grouped_events(batch, reading, path)?;
        if let (Some(last), Some(first)) = (&last_id, events.ids.first())
            && last >= first
        {
            return Err(Error::Internal(format!(
                "{}: events not grouped by contact at {first}",
                path.display()
            )));
        }
        last_id = events.ids.last().cloned();
        let sources: Vec<Source<'_>> = params
            .features()
            .map(|(_, _, feature)| Source::of(feature, &events, reading))
            .collect();
        let globals: Vec<Global> = params
            .features()
            .zip(&sources)
            .zip(&wide.globals)
            .map(|(((_, name, feature), source), g)| match g {
                LogGlobal::Categories(counts) => {
                    let top = match feature.aggregation {
                        Aggregation::CategoryShares { top } => top,
                        _ => unreachable!("counted for category_shares"),
                    };
                    Ok(Global::Top(top_in(
                        &ranked(counts.iter().map(|(c, &n)| (c.as_str(), n)), top),
                        &events,
                    )))
                }
                LogGlobal::Threshold(t) => {
                    global(name, feature, &events, source, Some(*t), &mut Vec::new())
                }
                LogGlobal::PerPart | LogGlobal::Values(_) => {
                    global(name, feature, &events, source, None, &mut Vec::new())
                }
            })
            .collect::<Result<_>>()?;
        let (kept, out_of) = split_by_events(&events, params.min_events);
        excluded.extend(
            out_of
                .iter()
                .map(|&g| (events.ids[g].clone(), events.size(g))),
        );
        for contacts in kept.chunks(ParquetBatches::BATCH_ROWS) {
            let (chunk, metadata) =
                aggregate(params, &events, &sources, &globals, contacts, as_of, path)?;
            written.write(out, params, chunk, metadata)?;
        }
        Ok(())
    };
    let mut held: Vec<RecordBatch> = Vec::new();
    let mut held_rows = 0;
    let input = open_parquet_columns(path, |c| reading.decodes(c))?;
    let schema = input.schema.clone();
    for batch in input {
        let batch = batch?;
        held_rows += batch.num_rows();
        held.push(batch);
        if held_rows >= part_events {
            let rest = whole_parts(&concat_batches(&schema, &held)?, part_events, &mut part)?;
            held_rows = rest.num_rows();
            held = vec![rest];
        }
    }
    let rest = whole_parts(&concat_batches(&schema, &held)?, part_events, &mut part)?;
    drop(held);
    if rest.num_rows() > 0 {
        part(&rest)?;
    }
    written.finish(
        out,
        crate::warnings::far_as_of_days(
            &wide.days,
            as_of,
            &micros_text(as_of),
            params.as_of_micros().is_none(),
        ),
    )?;
    if params.min_events > 1 {
        let excluded: Vec<(&str, usize)> =
            excluded.iter().map(|(id, n)| (id.as_str(), *n)).collect();
        write_excluded(out, &excluded, params.min_events)?;
    }
    Ok(wide.kept)
}

/// Hands `part` the leading parts of `events` (grouped by contact), each ending at the first
/// contact boundary after `part_events` events; returns the rest, whose last contact may go on
/// in the rows still to come.
fn whole_parts(
    events: &RecordBatch,
    part_events: usize,
    part: &mut dyn FnMut(&RecordBatch) -> Result<()>,
) -> Result<RecordBatch> {
    let ids = events
        .column_by_name("contact_id")
        .expect("decoded")
        .as_string::<i32>();
    let mut start = 0;
    loop {
        let boundary =
            (start + part_events..events.num_rows()).find(|&i| ids.value(i) != ids.value(i - 1));
        let Some(end) = boundary else {
            return Ok(events.slice(start, events.num_rows() - start));
        };
        part(&events.slice(start, end - start))?;
        start = end;
    }
}

/// The `top` categories by events, ties by name.
pub fn ranked<'c>(counts: impl Iterator<Item = (&'c str, u64)>, top: usize) -> Vec<&'c str> {
    let mut ranked: Vec<(&str, u64)> = counts.collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    ranked.into_iter().take(top).map(|(c, _)| c).collect()
}

/// The categories `names` with their codes in `events` (none for one no event there has).
fn top_in(names: &[&str], events: &Events) -> Vec<(String, Option<u32>)> {
    let Column::Text(cats) = events.column("category") else {
        unreachable!("checked: a text column")
    };
    names
        .iter()
        .map(|&n| {
            let code = cats.names.iter().position(|c| c == n).map(|c| c as u32);
            (n.to_string(), code)
        })
        .collect()
}

/// Group indices of the contacts with at least `min_events` events, and of the others.
fn split_by_events(events: &Events, min_events: u64) -> (Vec<usize>, Vec<usize>) {
    (0..events.groups()).partition(|&g| events.size(g) as u64 >= min_events)
}

fn write_excluded(out: &mut OutputDir, excluded: &[(&str, usize)], min_events: u64) -> Result<()> {
    let reason = format!("fewer than {min_events} events");
    let table = batch(vec![
        (
            "contact_id",
            Arc::new(StringArray::from_iter_values(
                excluded.iter().map(|(id, _)| *id),
            )),
        ),
        (
            "events",
            Arc::new(Int64Array::from_iter_values(
                excluded.iter().map(|(_, n)| *n as i64),
            )),
        ),
        (
            "reason",
            Arc::new(StringArray::from_iter_values(
                excluded.iter().map(|_| reason.as_str()),
            )),
        ),
    ])?;
    out.write("excluded", &table, &[])
}

/// The sorted values the medians and quantiles read over this batch of contacts, one set per
/// column and condition, and for each feature the index of its set.
fn order_statistics(
    params: &Params,
    events: &Events,
    sources: &[Source<'_>],
    contacts: &[usize],
) -> (Vec<Sorted>, Vec<Option<usize>>) {
    let mut keys: Vec<Key<'_>> = Vec::new();
    let mut sets: Vec<Sorted> = Vec::new();
    let mut of_feature = Vec::new();
    for ((_, _, feature), source) in params.features().zip(sources) {
        if !matches!(
            feature.aggregation,
            Aggregation::Median | Aggregation::Quantile(_)
        ) {
            of_feature.push(None);
            continue;
        }
        let key = Key::of(feature);
        let index = match keys.iter().position(|k| *k == key) {
            Some(index) => index,
            None => {
                keys.push(key);
                sets.push(Sorted::new(events, source, contacts));
                sets.len() - 1
            }
        };
        of_feature.push(Some(index));
    }
    (sets, of_feature)
}

/// What a median or quantile sorts: a column under a condition.
#[derive(PartialEq)]
struct Key<'f> {
    column: Option<&'f str>,
    condition: Option<&'f str>,
}

impl<'f> Key<'f> {
    fn of(feature: &'f Feature) -> Self {
        Key {
            column: feature.column(),
            condition: feature.condition(),
        }
    }
}

fn micros_text(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .map(|t| t.naive_utc().format("%Y-%m-%d %H:%M:%S%.f").to_string())
        .unwrap_or_default()
}
