//! The event log aggregated into the `features` artifact, one row per contact, written a batch
//! of contacts at a time; contacts with fewer than `min_events` events go to the `excluded`
//! artifact instead.

use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, StringArray};

use segflow_core::artifact::{META_TIME_OF_DAY, ParquetBatches, batch};
use segflow_core::error::Location;
use segflow_core::stage::{OutputDir, StageCtx};
use segflow_core::{Error, Result};

use crate::aggregate::{Global, Scope, Sorted, Source, event_feature, global};
use crate::derived::{Rows, add_derived};
use crate::events::{Events, read_events};
use crate::feature::{Aggregation, Feature};
use crate::layout::{Columns, finish_metadata, ordered_columns};
use crate::schema;
use crate::spec::Params;

/// The features artifact's count of contacts left out by `min_events`.
pub const META_EXCLUDED_CONTACTS: &str = "segflow.excluded_contacts";

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
    drop(input);

    (ctx.progress)("reading and grouping events by contact");
    let events = read_events(&path, &reading, ctx)?;
    let latest = *events.ts.iter().max().expect("non-empty");
    let as_of = match params.as_of_micros() {
        // Events after the reference time would get a negative recency, and tenure and gaps
        // would mix times on both sides of it: refused, not computed silently.
        Some(t) if t < latest => {
            let after = events.ts.iter().filter(|&&e| e > t).count();
            return Err(Error::config(
                "",
                "as_of",
                format!(
                    "{} is before the latest event ({}): {after} of {} events come after it; \
                     move as_of, use `latest_event`, or leave later events out in ingest \
                     (`where:`)",
                    micros_text(t),
                    micros_text(latest),
                    events.ts.len()
                ),
            ));
        }
        Some(t) => t,
        None => latest,
    };
    let (kept, excluded) = split_by_events(&events, params.min_events);
    if kept.is_empty() {
        let most = (0..events.groups()).map(|g| events.size(g)).max();
        return Err(Error::data(
            Location::file(&path),
            format!(
                "every contact has fewer than {} events (the most any has is {}): nothing \
                 left to aggregate; lower min_events",
                params.min_events,
                most.unwrap_or(0)
            ),
        ));
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
    // Contacts are aggregated and written a batch at a time, so the output columns of a large
    // log never exist whole.
    let mut features = None;
    let mut constancy = crate::warnings::Constancy::default();
    for contacts in kept.chunks(ParquetBatches::BATCH_ROWS) {
        let (sorted, sorted_of) = order_statistics(params, &events, &sources, contacts);
        let mut columns = Columns::new();
        for (((block, name, feature), global), (source, set)) in params
            .features()
            .zip(&globals)
            .zip(sources.iter().zip(&sorted_of))
        {
            if !feature.inputs().is_empty() {
                continue;
            }
            let scope = Scope {
                ev: &events,
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
            file: &path,
            id_column: "contact_id",
            ids: ids.clone(),
        };
        add_derived(params, &mut columns, &rows)?;
        let mut arrays: Vec<(&str, ArrayRef)> =
            vec![("contact_id", Arc::new(StringArray::from(ids)))];
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
            // Only when contacts can be excluded, so the artifacts of other pipelines keep
            // their bytes.
            if params.min_events > 1 {
                metadata.push((META_EXCLUDED_CONTACTS.into(), excluded.len().to_string()));
            }
            features = Some(out.stream("features", chunk.schema(), &metadata)?);
        }
        constancy.observe(&chunk)?;
        features.as_mut().expect("opened above").write(&chunk)?;
    }
    out.finish(features.expect("some contact is kept"))?;
    let mut warnings = constancy.warnings();
    warnings.extend(crate::warnings::far_as_of(
        &events.ts,
        as_of,
        &micros_text(as_of),
        params.as_of_micros().is_none(),
    ));
    out.write(
        "warnings",
        &segflow_core::warnings::to_batch(&warnings)?,
        &[],
    )?;
    if params.min_events > 1 {
        write_excluded(out, &events, &excluded, params.min_events)?;
    }
    Ok(kept.len() as u64)
}

/// Group indices of the contacts with at least `min_events` events, and of the others.
fn split_by_events(events: &Events, min_events: u64) -> (Vec<usize>, Vec<usize>) {
    (0..events.groups()).partition(|&g| events.size(g) as u64 >= min_events)
}

fn write_excluded(
    out: &mut OutputDir,
    events: &Events,
    excluded: &[usize],
    min_events: u64,
) -> Result<()> {
    let reason = format!("fewer than {min_events} events");
    let table = batch(vec![
        (
            "contact_id",
            Arc::new(StringArray::from_iter_values(
                excluded.iter().map(|&g| &events.ids[g]),
            )),
        ),
        (
            "events",
            Arc::new(Int64Array::from_iter_values(
                excluded.iter().map(|&g| events.size(g) as i64),
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
