//! The columns an ingest writes to its main artifact, known before any row is read, so that a
//! pipeline's references to them are checked before anything runs.

use std::path::PathBuf;

use segflow_core::Result;
use segflow_core::stage::single_input;

use crate::records::Records;
use crate::{Mode, Params};

/// The columns features may name in what this ingest writes: for events mode the events'
/// columns (contact_id, ts, value, category, kept, hashed, derived, source), for table mode
/// `row_id` and the input's columns (its header, or its Parquet schema) that are neither the
/// id nor dropped.
pub fn output_columns(params: &Params, inputs: &[PathBuf]) -> Result<Vec<String>> {
    match params.mode {
        Mode::Events => Ok(event_columns(params)),
        Mode::Table => {
            let input = single_input("ingest", inputs)?;
            let records = Records::open(input, &params.text_layout(None, None), None)?;
            let mut names = vec!["row_id".to_string()];
            names.extend(
                records
                    .header()
                    .iter()
                    .filter(|h| {
                        params.table.id.as_ref() != Some(*h) && !params.privacy.drop.contains(h)
                    })
                    .cloned(),
            );
            Ok(names)
        }
    }
}

fn event_columns(params: &Params) -> Vec<String> {
    let layouts: Vec<_> = params
        .columns
        .iter()
        .chain(params.sources.iter().map(|s| &s.columns))
        .collect();
    let mut names = vec!["contact_id".to_string(), "ts".to_string()];
    if layouts.iter().any(|c| c.value.is_some()) {
        names.push("value".into());
    }
    if layouts.iter().any(|c| c.category.is_some()) {
        names.push("category".into());
    }
    names.extend(params.keep.iter().cloned());
    names.extend(params.privacy.hash.iter().cloned());
    names.extend(params.derive.keys().cloned());
    if !params.sources.is_empty() {
        names.push("source".into());
    }
    names
}
