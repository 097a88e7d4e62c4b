//! Output columns in block order and the metadata that records blocks and model inputs.

use arrow::array::ArrayRef;
use indexmap::IndexMap;

use crate::spec::Params;
use crate::{META_BLOCKS, META_ID_COLUMN, META_MODEL_COLUMNS};

/// Computed columns by name: the feature each comes from (itself, or the `category_shares`
/// feature it expands), and its values.
pub type Columns = IndexMap<String, (String, ArrayRef)>;

/// (block, column) in output order: block order, then declaration order within a block, with
/// `category_shares` expansions in place, in the order they were computed.
fn layout(params: &Params, columns: &Columns) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (block, features) in &params.blocks {
        for name in features.keys() {
            out.extend(
                columns
                    .iter()
                    .filter(|(_, (feature, _))| feature == name)
                    .map(|(c, _)| (block.clone(), c.clone())),
            );
        }
    }
    out
}

pub fn ordered_columns(params: &Params, mut columns: Columns) -> Vec<(String, ArrayRef)> {
    layout(params, &columns)
        .into_iter()
        .filter_map(|(_, name)| columns.shift_remove(&name).map(|(_, array)| (name, array)))
        .collect()
}

pub fn finish_metadata(params: &Params, columns: &Columns, id: &str) -> Vec<(String, String)> {
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
