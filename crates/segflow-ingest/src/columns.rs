//! The columns an ingest reads and writes, known before any row is read: its references
//! checked against the inputs' headers (or Parquet schemas), and the columns it will write,
//! so that a pipeline's names are checked before anything runs.

use std::path::{Path, PathBuf};

use segflow_core::stage::single_input;
use segflow_core::suggest::{did_you_mean, nearest};
use segflow_core::{Error, Result};

use crate::expressions::{RowExpressions, SourceColumns};
use crate::records::Records;
use crate::{EventColumns, Mode, Params, Source};

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

/// Checks every column the params name against the inputs' headers before a row is read: the
/// roles, `table.id`, `table.types`, `types`, `keep`, `privacy.hash`, the columns `derive` and
/// `where` read, and `privacy.drop`.
///
/// A name absent from a header but near one of its names is a typo: a config error at its
/// key with the nearest names. A name near none is a column the file lacks: the reader's data
/// error (with its hint when another delimiter would find the columns). A `privacy.drop` name
/// or `types` name need not be present (one list serves several files), unless it is near a
/// present name: a misspelled drop would write the very column it means to keep out.
pub fn check_inputs(params: &Params, inputs: &[PathBuf]) -> Result<()> {
    let files: Vec<(&Path, Option<&Source>, Option<&EventColumns>)> = match params.mode {
        Mode::Table => vec![(single_input("ingest", inputs)?, None, None)],
        Mode::Events if params.sources.is_empty() => {
            vec![(
                single_input("ingest", inputs)?,
                None,
                params.columns.as_ref(),
            )]
        }
        Mode::Events => params
            .sources
            .iter()
            .zip(inputs)
            .map(|(s, input)| (input.as_path(), Some(s), Some(&s.columns)))
            .collect(),
    };
    let mut headers: Vec<Vec<String>> = Vec::new();
    for (input, source, columns) in &files {
        let mut layout = params.text_layout(*columns, *source);
        let required = std::mem::take(&mut layout.required);
        let header = Records::open(input, &layout, None)?.header().to_vec();
        let key_prefix = source_key(params, *source);
        let mut lacking = false;
        let references = params
            .referenced_columns(*columns)
            .into_iter()
            .map(|(key, column)| match key.starts_with("columns.") {
                true => (format!("{key_prefix}{key}"), column),
                false => (key, column),
            });
        for (key, column) in references {
            if header.iter().any(|h| h == column) {
                continue;
            }
            if nearest(column, header.iter().map(String::as_str)).is_empty() {
                lacking = true;
                continue;
            }
            return Err(not_in_header(&key, column, input, &header));
        }
        if lacking {
            layout.required = required;
            Records::open(input, &layout, None)?;
        }
        headers.push(header);
    }
    let all = || headers.iter().flatten().map(String::as_str);
    let optional = params
        .types
        .keys()
        .map(|c| (format!("types.{c}"), c, "it would be read as text"))
        .chain(params.privacy.drop.iter().enumerate().map(|(i, c)| {
            (
                format!("privacy.drop[{i}]"),
                c,
                "a misspelled drop would write the column it means to keep out",
            )
        }));
    for (key, name, why) in optional {
        if all().any(|h| h == name) || nearest(name, all()).is_empty() {
            continue;
        }
        return Err(Error::config(
            "",
            key,
            format!(
                "`{name}` is not a column of the input{}; {why}",
                did_you_mean(name, all())
            ),
        ));
    }
    // Last, so that a misspelled `types` entry is named rather than the expression that
    // computes with the column it failed to declare.
    for ((_, source, columns), header) in files.iter().zip(&headers) {
        if let Some(columns) = columns {
            let key_prefix = source_key(params, *source);
            RowExpressions::compile(
                params,
                &SourceColumns {
                    header,
                    columns,
                    own_filter: source.and_then(|s| {
                        s.filter
                            .as_deref()
                            .map(|f| (format!("{key_prefix}where"), f))
                    }),
                },
            )?;
        }
    }
    Ok(())
}

fn not_in_header(key: &str, column: &str, input: &Path, header: &[String]) -> Error {
    Error::config(
        "",
        key,
        format!(
            "`{column}` is not a column of {}{}",
            input.display(),
            did_you_mean(column, header.iter().map(String::as_str))
        ),
    )
}

/// `sources[i].` for a source's own keys, "" for a single input.
fn source_key(params: &Params, source: Option<&Source>) -> String {
    source
        .and_then(|s| params.sources.iter().position(|p| p.name == s.name))
        .map(|i| format!("sources[{i}]."))
        .unwrap_or_default()
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
