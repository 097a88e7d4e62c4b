//! Weak-data warnings: what a stage noticed about its data that does not stop it but may
//! spoil the segments (a constant column, an id that is a row number, an event dated
//! thousands of years ahead). A stage writes them as a Parquet artifact whose file name ends
//! in `warnings.parquet`; the runner reads them back and the CLI prints them after the stage.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Float64Array, RecordBatch, StringArray, UInt64Array};
use arrow::datatypes::{Float64Type, UInt64Type};
use serde::Serialize;

use crate::Result;
use crate::artifact::batch;

/// The file name suffix by which the runner finds a stage's warnings.
pub const FILE_SUFFIX: &str = "warnings.parquet";

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Warning {
    /// A stable name of the kind of warning (`constant_column`, `far_timestamps`, …).
    pub code: String,
    /// The column concerned, if one is.
    pub column: Option<String>,
    /// What was found and why it matters, in a sentence.
    pub detail: String,
    /// The share the rule measured (a value's share of rows, the share missing, …).
    pub share: Option<f64>,
    /// The rows concerned.
    pub rows: Option<u64>,
}

impl Warning {
    pub fn new(code: &str, column: Option<&str>, detail: String) -> Self {
        Warning {
            code: code.to_string(),
            column: column.map(str::to_string),
            detail,
            share: None,
            rows: None,
        }
    }

    pub fn share(mut self, share: f64) -> Self {
        self.share = Some(share);
        self
    }

    pub fn rows(mut self, rows: u64) -> Self {
        self.rows = Some(rows);
        self
    }
}

/// The warnings artifact's rows, one per warning (an empty table when there are none).
pub fn to_batch(warnings: &[Warning]) -> Result<RecordBatch> {
    batch(vec![
        (
            "code",
            Arc::new(StringArray::from_iter_values(
                warnings.iter().map(|w| w.code.as_str()),
            )) as ArrayRef,
        ),
        (
            "column",
            Arc::new(StringArray::from_iter(
                warnings.iter().map(|w| w.column.as_deref()),
            )),
        ),
        (
            "detail",
            Arc::new(StringArray::from_iter_values(
                warnings.iter().map(|w| w.detail.as_str()),
            )),
        ),
        (
            "share",
            Arc::new(Float64Array::from_iter(warnings.iter().map(|w| w.share))),
        ),
        (
            "rows",
            Arc::new(UInt64Array::from_iter(warnings.iter().map(|w| w.rows))),
        ),
    ])
}

/// The warnings a stage wrote to `path`.
pub fn read(path: &Path) -> Result<Vec<Warning>> {
    let artifact = crate::artifact::read_parquet(path)?;
    let text = |name: &str| -> Result<StringArray> {
        Ok(artifact.column(name)?.as_string::<i32>().clone())
    };
    let (code, column, detail) = (text("code")?, text("column")?, text("detail")?);
    let share = artifact
        .column("share")?
        .as_primitive::<Float64Type>()
        .clone();
    let rows = artifact
        .column("rows")?
        .as_primitive::<UInt64Type>()
        .clone();
    Ok((0..code.len())
        .map(|i| Warning {
            code: code.value(i).to_string(),
            column: column.is_valid(i).then(|| column.value(i).to_string()),
            detail: detail.value(i).to_string(),
            share: share.is_valid(i).then(|| share.value(i)),
            rows: rows.is_valid(i).then(|| rows.value(i)),
        })
        .collect())
}

/// The warnings among a stage's written files, in file order.
pub fn read_written(paths: &[std::path::PathBuf]) -> Result<Vec<Warning>> {
    let mut all = Vec::new();
    for path in paths {
        if path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().ends_with(FILE_SUFFIX))
        {
            all.extend(read(path)?);
        }
    }
    Ok(all)
}
