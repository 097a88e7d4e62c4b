//! Audit and reject artifacts: what the input looked like and what was refused, as Parquet a
//! reviewer can query.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::Datelike;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, Float64Array, StringArray, TimestampMicrosecondArray, UInt32Array, UInt64Array,
};

use segflow_core::artifact::batch;

use crate::id_shape::IdShape;
use segflow_core::calendar::{self, Weekday};
use segflow_core::error::Location;
use segflow_core::stage::OutputDir;
use segflow_core::stats::quantile_sorted;
use segflow_core::warnings::{self, Warning};
use segflow_core::{Error, Result};

use crate::AuditParams;

pub struct AuditArtifact {
    pub kind: &'static str,
    pub events_only: bool,
}

/// Every audit artifact, in the order they are planned.
pub const ARTIFACTS: &[AuditArtifact] = &[
    AuditArtifact {
        kind: "audit_summary",
        events_only: false,
    },
    AuditArtifact {
        kind: "audit_columns",
        events_only: false,
    },
    AuditArtifact {
        kind: "audit_time_bands",
        events_only: true,
    },
    AuditArtifact {
        kind: "audit_weekdays",
        events_only: true,
    },
    AuditArtifact {
        kind: "audit_day_types",
        events_only: true,
    },
    AuditArtifact {
        kind: "audit_value_quantiles",
        events_only: true,
    },
    AuditArtifact {
        kind: "audit_monthly",
        events_only: true,
    },
    AuditArtifact {
        kind: "audit_warnings",
        events_only: false,
    },
];

/// The error of an input with more rejects than `max` allows, quoting the first: (line,
/// field, reason).
fn too_many_rejects(
    file: &Path,
    (line, field, reason): (u64, Option<&str>, &str),
    rejected: u64,
    rows_in: u64,
    max: f64,
) -> Error {
    let mut location = Location::file(file).line(line);
    if let Some(field) = field {
        location = location.column(field);
    }
    let fraction = rejected as f64 / rows_in as f64;
    Error::data(
        location,
        format!(
            "{rejected} of {rows_in} rows rejected ({:.4}%), above max_reject_fraction {max}; first: {reason}",
            fraction * 100.0,
        ),
    )
}

/// How many records a streaming reader rejected, and the first of them: what scoring needs,
/// in constant memory (the full list is [`Rejects`]).
#[derive(Default)]
pub struct RejectTally {
    pub count: u64,
    /// Line, field and reason of the first reject.
    first: Option<(u64, Option<String>, String)>,
}

impl RejectTally {
    pub fn push(&mut self, line: u64, field: Option<String>, reason: String) {
        self.count += 1;
        self.first.get_or_insert((line, field, reason));
    }

    /// As [`Rejects::check_fraction`], for one input.
    pub fn check_fraction(&self, file: &Path, rows_in: u64, max: f64) -> Result<()> {
        match &self.first {
            Some((line, field, reason)) if self.count as f64 / rows_in as f64 > max => {
                Err(too_many_rejects(
                    file,
                    (*line, field.as_deref(), reason),
                    self.count,
                    rows_in,
                    max,
                ))
            }
            _ => Ok(()),
        }
    }
}

/// Rejected records: source line (the row number for Parquet input), offending field, reason
/// and (when not sensitive) the text.
#[derive(Default)]
pub struct Rejects {
    line: Vec<u64>,
    field: Vec<Option<String>>,
    reason: Vec<String>,
    value: Vec<Option<String>>,
    /// Records with the wrong number of fields (excluded from column profiles).
    pub wrong_width: u64,
    /// The input each reject came from, as an index into `inputs`.
    input: Vec<u32>,
    /// The names of the inputs (sources) read so far; a `source` column when several.
    inputs: Vec<String>,
}

impl Rejects {
    pub fn push(
        &mut self,
        line: u64,
        field: Option<String>,
        reason: String,
        value: Option<String>,
    ) {
        if field.is_none() {
            self.wrong_width += 1;
        }
        self.input.push(self.inputs.len().saturating_sub(1) as u32);
        self.line.push(line);
        self.field.push(field);
        self.reason.push(reason);
        self.value.push(value);
    }

    /// A record with the wrong number of fields (no single field to blame).
    pub fn push_wrong_width(&mut self, line: u64, expected: usize, found: usize) {
        self.push(
            line,
            None,
            format!("expected {expected} fields, found {found}"),
            None,
        );
    }

    pub fn len(&self) -> usize {
        self.line.len()
    }

    /// Rejects pushed from now on come from the source `name`.
    pub fn start_source(&mut self, name: &str) {
        self.inputs.push(name.to_string());
    }

    /// Fails the stage when too many rows were refused, quoting the first refusal; `files`
    /// are the inputs in the order their sources were started (one without sources).
    pub fn check_fraction(&self, files: &[&Path], rows_in: u64, max: f64) -> Result<()> {
        if self.len() as f64 / rows_in as f64 <= max {
            return Ok(());
        }
        let file = files[(self.input[0] as usize).min(files.len() - 1)];
        let first = (
            self.line[0],
            self.field[0].as_deref(),
            self.reason[0].as_str(),
        );
        Err(too_many_rejects(
            file,
            first,
            self.len() as u64,
            rows_in,
            max,
        ))
    }

    pub fn batch(&self) -> Result<arrow::array::RecordBatch> {
        let mut columns: Vec<(&str, ArrayRef)> = vec![
            (
                "source_line",
                Arc::new(UInt64Array::from(self.line.clone())) as ArrayRef,
            ),
            ("field", Arc::new(StringArray::from(self.field.clone()))),
            ("reason", Arc::new(StringArray::from(self.reason.clone()))),
            ("value", Arc::new(StringArray::from(self.value.clone()))),
        ];
        if self.inputs.len() > 1 {
            columns.push((
                "source",
                Arc::new(StringArray::from_iter_values(
                    self.input.iter().map(|&i| self.inputs[i as usize].as_str()),
                )),
            ));
        }
        batch(columns)
    }
}

pub struct ColumnAudit {
    pub column: String,
    pub role: String,
    pub inferred_type: String,
    pub type_source: &'static str,
    pub non_null: u64,
    /// Records the column was profiled over.
    pub rows: u64,
}

pub fn columns_batch(columns: &[ColumnAudit]) -> Result<arrow::array::RecordBatch> {
    let rate = |c: &ColumnAudit| {
        if c.rows == 0 {
            0.0
        } else {
            c.non_null as f64 / c.rows as f64
        }
    };
    batch(vec![
        (
            "column",
            Arc::new(StringArray::from_iter_values(
                columns.iter().map(|c| c.column.as_str()),
            )) as ArrayRef,
        ),
        (
            "role",
            Arc::new(StringArray::from_iter_values(
                columns.iter().map(|c| c.role.as_str()),
            )),
        ),
        (
            "type",
            Arc::new(StringArray::from_iter_values(
                columns.iter().map(|c| c.inferred_type.as_str()),
            )),
        ),
        (
            "type_source",
            Arc::new(StringArray::from_iter_values(
                columns.iter().map(|c| c.type_source),
            )),
        ),
        (
            "non_null",
            Arc::new(UInt64Array::from_iter_values(
                columns.iter().map(|c| c.non_null),
            )),
        ),
        (
            "non_null_rate",
            Arc::new(Float64Array::from_iter_values(columns.iter().map(rate))),
        ),
    ])
}

/// Row accounting common to both modes.
pub struct Counts {
    pub rows_in: u64,
    pub columns: u64,
    pub accepted: u64,
    pub rejected: u64,
    /// `None` when ingest ran for scoring, which does not count them.
    pub duplicate_rows: Option<u64>,
    pub excluded: Excluded,
    pub ids: IdShape,
}

/// Rows left out by rule rather than refused as bad data.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Excluded {
    /// A blank contact id, with `blank_ids: exclude`.
    pub blank_ids: u64,
    /// A repeat of an earlier row, with `dedupe: exact`.
    pub duplicates: u64,
    /// Not kept by a `where` condition.
    pub by_where: u64,
}

impl Excluded {
    pub fn total(&self) -> u64 {
        self.blank_ids + self.duplicates + self.by_where
    }
}

impl Counts {
    fn arrays(&self) -> Vec<(&'static str, ArrayRef)> {
        let one = |v: u64| Arc::new(UInt64Array::from(vec![v])) as ArrayRef;
        vec![
            ("rows_in", one(self.rows_in)),
            ("columns", one(self.columns)),
            ("accepted", one(self.accepted)),
            ("rejected", one(self.rejected)),
            (
                "reject_fraction",
                Arc::new(Float64Array::from(vec![
                    self.rejected as f64 / self.rows_in as f64,
                ])),
            ),
            (
                "duplicate_rows",
                match self.duplicate_rows {
                    Some(n) => one(n),
                    None => Arc::new(UInt64Array::from(vec![None])),
                },
            ),
            ("excluded", one(self.excluded.total())),
            ("excluded_blank_ids", one(self.excluded.blank_ids)),
            ("excluded_duplicates", one(self.excluded.duplicates)),
            ("excluded_by_where", one(self.excluded.by_where)),
        ]
    }
}

/// Calendar counts of accepted events, kept as they stream past.
#[derive(Default)]
pub struct EventTally {
    events: u64,
    ts_min: Option<i64>,
    ts_max: Option<i64>,
    per_hour: [u64; 24],
    per_weekday: [u64; 7],
    /// (year, month) → events.
    per_month: BTreeMap<(i32, u32), u64>,
}

impl EventTally {
    pub fn observe(&mut self, ts: i64) {
        self.events += 1;
        self.ts_min = Some(self.ts_min.map_or(ts, |m| m.min(ts)));
        self.ts_max = Some(self.ts_max.map_or(ts, |m| m.max(ts)));
        self.per_hour[calendar::hour(ts) as usize] += 1;
        self.per_weekday[calendar::weekday(ts) as usize] += 1;
        let date = chrono::DateTime::from_timestamp_micros(ts)
            .expect("parsed timestamps are in range")
            .date_naive();
        *self
            .per_month
            .entry((date.year(), date.month()))
            .or_default() += 1;
    }
}

pub struct EventAudit {
    pub counts: Counts,
    pub distinct_contacts: u64,
    pub timestamp_parse_rate: f64,
    pub value_parse_rate: Option<f64>,
    pub tally: EventTally,
    /// Every accepted value, for exact quantiles (8 bytes per event); `None` without a value
    /// column or when ingest ran for scoring.
    pub values: Option<Vec<f64>>,
}

pub fn write_event_audit(
    out: &mut OutputDir,
    a: EventAudit,
    columns: &[ColumnAudit],
    warnings: &[Warning],
    params: &AuditParams,
    time_of_day: bool,
) -> Result<()> {
    out.write("audit_warnings", &warnings::to_batch(warnings)?, &[])?;
    let mut summary = a.counts.arrays();
    summary.push((
        "distinct_contacts",
        Arc::new(UInt64Array::from(vec![a.distinct_contacts])),
    ));
    summary.push((
        "timestamp_parse_rate",
        Arc::new(Float64Array::from(vec![a.timestamp_parse_rate])),
    ));
    summary.push((
        "value_parse_rate",
        Arc::new(Float64Array::from(vec![a.value_parse_rate])),
    ));
    summary.push((
        "ts_min",
        Arc::new(TimestampMicrosecondArray::from(vec![a.tally.ts_min])),
    ));
    summary.push((
        "ts_max",
        Arc::new(TimestampMicrosecondArray::from(vec![a.tally.ts_max])),
    ));
    // Last, so the columns audits had before keep their places.
    summary.extend(a.counts.ids.arrays());
    out.write("audit_summary", &batch(summary)?, &[])?;
    out.write("audit_columns", &columns_batch(columns)?, &[])?;

    let EventTally {
        events,
        per_hour,
        per_weekday,
        per_month,
        ..
    } = a.tally;

    out.write(
        "audit_time_bands",
        &time_bands(params, &per_hour, events, time_of_day)?,
        &[],
    )?;

    let day_type = |d: Weekday| {
        if params.open_days.contains(&d) {
            "open"
        } else {
            "closed"
        }
    };
    out.write(
        "audit_weekdays",
        &batch(vec![
            (
                "dow",
                Arc::new(UInt32Array::from_iter_values(
                    Weekday::ALL.iter().map(|d| d.index()),
                )) as ArrayRef,
            ),
            (
                "weekday",
                Arc::new(StringArray::from_iter_values(
                    Weekday::ALL.iter().map(|d| d.name()),
                )),
            ),
            (
                "day_type",
                Arc::new(StringArray::from_iter_values(
                    Weekday::ALL.iter().map(|d| day_type(*d)),
                )),
            ),
            ("events", Arc::new(UInt64Array::from(per_weekday.to_vec()))),
        ])?,
        &[],
    )?;
    let open: u64 = Weekday::ALL
        .iter()
        .filter(|d| day_type(**d) == "open")
        .map(|d| per_weekday[d.index() as usize])
        .sum();
    out.write(
        "audit_day_types",
        &batch(vec![
            (
                "day_type",
                Arc::new(StringArray::from(vec!["open", "closed"])) as ArrayRef,
            ),
            (
                "events",
                Arc::new(UInt64Array::from(vec![open, events - open])),
            ),
        ])?,
        &[],
    )?;

    let qs = &params.value_quantiles;
    let values = match a.values {
        Some(mut v) => {
            v.sort_by(f64::total_cmp);
            qs.iter().map(|&q| Some(quantile_sorted(&v, q))).collect()
        }
        None => vec![None; qs.len()],
    };
    out.write(
        "audit_value_quantiles",
        &batch(vec![
            ("q", Arc::new(Float64Array::from(qs.clone())) as ArrayRef),
            ("value", Arc::new(Float64Array::from(values))),
        ])?,
        &[],
    )?;

    out.write(
        "audit_monthly",
        &batch(vec![
            (
                "month",
                Arc::new(StringArray::from_iter_values(per_month.keys().map(
                    |&(year, month)| {
                        chrono::NaiveDate::from_ymd_opt(year, month, 1)
                            .expect("a month seen in the data")
                            .format("%Y-%m")
                            .to_string()
                    },
                ))) as ArrayRef,
            ),
            (
                "events",
                Arc::new(UInt64Array::from_iter_values(per_month.values().copied())),
            ),
        ])?,
        &[],
    )
}

/// Events per configured time band; for a log of dates only, where every event would count at
/// midnight, one row says the hour is unknown instead.
fn time_bands(
    params: &AuditParams,
    per_hour: &[u64; 24],
    events: u64,
    time_of_day: bool,
) -> Result<arrow::array::RecordBatch> {
    struct Band<'a> {
        name: &'a str,
        hours: Option<(u32, u32)>,
        events: u64,
    }
    let rows: Vec<Band> = if time_of_day {
        params
            .time_bands
            .iter()
            .map(|(name, range)| {
                let events = (range.0..=range.1).map(|h| per_hour[h as usize]).sum();
                Band {
                    name,
                    hours: Some((range.0, range.1)),
                    events,
                }
            })
            .collect()
    } else {
        vec![Band {
            name: UNKNOWN_HOUR_BAND,
            hours: None,
            events,
        }]
    };
    let hours = |pick: fn((u32, u32)) -> u32| {
        Arc::new(UInt32Array::from_iter(
            rows.iter().map(|r| r.hours.map(pick)),
        )) as ArrayRef
    };
    batch(vec![
        (
            "band",
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.name))) as ArrayRef,
        ),
        ("hour_from", hours(|r| r.0)),
        ("hour_to", hours(|r| r.1)),
        (
            "events",
            Arc::new(UInt64Array::from_iter_values(rows.iter().map(|r| r.events))),
        ),
    ])
}

/// The time band of every event in a log of dates only.
const UNKNOWN_HOUR_BAND: &str = "hour unknown (dates only)";

pub fn write_table_audit(
    out: &mut OutputDir,
    counts: &Counts,
    columns: &[ColumnAudit],
    warnings: &[Warning],
) -> Result<()> {
    out.write("audit_warnings", &warnings::to_batch(warnings)?, &[])?;
    let summary = counts.arrays().into_iter().chain(counts.ids.arrays());
    out.write("audit_summary", &batch(summary.collect())?, &[])?;
    out.write("audit_columns", &columns_batch(columns)?, &[])
}
