//! Table mode: selected columns of an entity table passed through, with derived features.

use std::path::Path;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringArray};
use arrow::compute::take;

use segflow_core::artifact::{Artifact, batch};
use segflow_core::{Error, Result};

use crate::META_ID_COLUMN;
use crate::derived::{Rows, add_derived};
use crate::feature::Aggregation;
use crate::layout::{Columns, finish_metadata, ordered_columns};
use crate::schema::wrong_type;
use crate::spec::Params;

pub struct FeatureTable {
    pub batch: RecordBatch,
    pub metadata: Vec<(String, String)>,
}

pub fn from_table(artifact: &Artifact, params: &Params) -> Result<FeatureTable> {
    let id_name = artifact
        .meta(META_ID_COLUMN)
        .unwrap_or("row_id")
        .to_string();
    check_table_features(params)?;
    let ids = artifact
        .column(&id_name)?
        .as_any()
        .downcast_ref::<StringArray>()
        .ok_or_else(|| wrong_type(&artifact.path, &id_name, "string"))?;
    let mut order: Vec<u32> = (0..ids.len() as u32).collect();
    order.sort_by(|&a, &b| ids.value(a as usize).cmp(ids.value(b as usize)));
    let order = arrow::array::UInt32Array::from(order);
    let sorted_ids = take(ids, &order, None)?;
    table_features(&artifact.path, &id_name, &sorted_ids, params, |source| {
        Ok(take(artifact.column(source)?.as_ref(), &order, None)?)
    })
}

/// The features of table rows in the order given: `ids` (strings, named `id_name`) and each
/// source column as `column` returns it. The rows come from `file`, for error messages.
/// Scoring calls this batch by batch; the stage over the whole table, sorted by id.
pub fn table_features(
    file: &Path,
    id_name: &str,
    ids: &ArrayRef,
    params: &Params,
    column: impl Fn(&str) -> Result<ArrayRef>,
) -> Result<FeatureTable> {
    check_table_features(params)?;
    let mut columns = Columns::new();
    for (_, name, feature) in params.features() {
        if let Aggregation::Column(source) = &feature.aggregation {
            columns.insert(name.to_string(), (name.to_string(), column(source)?));
        }
    }
    let rows = Rows {
        file,
        id_column: id_name,
        ids: ids
            .as_string_opt::<i32>()
            .ok_or_else(|| wrong_type(file, id_name, "string"))?
            .iter()
            .map(Option::unwrap_or_default)
            .collect(),
    };
    add_derived(params, &mut columns, &rows)?;
    let metadata = finish_metadata(params, &columns, id_name);
    let ordered = ordered_columns(params, columns);
    let mut arrays: Vec<(&str, ArrayRef)> = vec![(id_name, ids.clone())];
    arrays.extend(ordered.iter().map(|(n, a)| (n.as_str(), a.clone())));
    Ok(FeatureTable {
        batch: batch(arrays)?,
        metadata,
    })
}

/// Table mode has no events: only features of one row each.
fn check_table_features(params: &Params) -> Result<()> {
    match params.features().find(|(_, _, f)| f.needs_events()) {
        Some((block, name, _)) => Err(Error::config(
            "",
            format!("blocks.{block}.{name}"),
            "needs an event log; over an entity table use `column`, `ratio` or `log1p`",
        )),
        None => Ok(()),
    }
}
