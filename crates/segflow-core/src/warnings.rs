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

/// How far from the bulk of an event log a date is far: beyond this many interquartile
/// ranges of the event dates past a quartile, and at least [`FAR_MIN_DAYS`].
pub const FAR_IQRS: f64 = 10.0;
pub const FAR_MIN_DAYS: f64 = 365.0;
const DAY_MICROS: i64 = 86_400_000_000;

/// The bounds beyond which an event's date is far outside the bulk of the log: more than
/// max([`FAR_IQRS`] × IQR, [`FAR_MIN_DAYS`]) days after the upper quartile of the event dates
/// or before the lower one (quartiles of whole days, linear interpolation). Quartiles rather
/// than extreme percentiles, so that even a few percent of mistyped dates cannot move them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FarBounds {
    pub q1: f64,
    pub q3: f64,
    /// Days beyond a quartile at which a date is far.
    pub margin: f64,
}

impl FarBounds {
    /// From events per day (day number since 1970-01-01, ascending, with its events); `None`
    /// for fewer than two events.
    pub fn from_days(days: &[(i64, u64)]) -> Option<Self> {
        let total: u64 = days.iter().map(|(_, c)| c).sum();
        if total < 2 {
            return None;
        }
        let day_at = |rank: u64| {
            let mut seen = 0;
            for &(day, count) in days {
                seen += count;
                if rank < seen {
                    return day as f64;
                }
            }
            unreachable!("rank below the total")
        };
        let quantile = |p: f64| {
            let position = (total - 1) as f64 * p;
            let (lo, hi) = (position.floor() as u64, position.ceil() as u64);
            let (a, b) = (day_at(lo), day_at(hi));
            a + (b - a) * (position - lo as f64)
        };
        let (q1, q3) = (quantile(0.25), quantile(0.75));
        Some(FarBounds {
            q1,
            q3,
            margin: (FAR_IQRS * (q3 - q1)).max(FAR_MIN_DAYS),
        })
    }

    pub fn late(&self, day: i64) -> bool {
        day as f64 > self.q3 + self.margin
    }

    pub fn early(&self, day: i64) -> bool {
        (day as f64) < self.q1 - self.margin
    }
}

/// The day (since 1970-01-01) of a timestamp in microseconds.
pub fn day_of(micros: i64) -> i64 {
    micros.div_euclid(DAY_MICROS)
}

/// A day number as `YYYY-MM-DD`.
pub fn day_text(day: i64) -> String {
    chrono::DateTime::from_timestamp(day.saturating_mul(86_400), 0).map_or_else(
        || format!("day {day}"),
        |t| t.format("%Y-%m-%d").to_string(),
    )
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quartiles_of_days_interpolate_and_the_margin_is_at_least_a_year() {
        let b = FarBounds::from_days(&[(0, 1), (10, 1)]).unwrap();
        assert_eq!((b.q1, b.q3, b.margin), (2.5, 7.5, 365.0));
        assert!(b.late(373) && !b.late(372));
        assert!(b.early(-363) && !b.early(-362));
        let wide = FarBounds::from_days(&[(0, 1), (100, 2), (200, 1)]).unwrap();
        assert_eq!((wide.q1, wide.q3, wide.margin), (75.0, 125.0, 500.0));
        assert_eq!(FarBounds::from_days(&[(5, 1)]), None);
        assert_eq!(day_text(day_of(0)), "1970-01-01");
    }
}
