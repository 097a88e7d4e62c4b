//! Table mode: selected columns of an entity table passed through, with derived features.

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
    let mut columns = Columns::new();
    for (_, name, feature) in params.features() {
        if let Aggregation::Column(source) = &feature.aggregation {
            let array = artifact.column(source)?;
            columns.insert(
                name.to_string(),
                (name.to_string(), take(array.as_ref(), &order, None)?),
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
