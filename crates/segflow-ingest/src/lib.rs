//! The ingest stage: a CSV file (or Parquet: one file, or a directory of part files)
//! becomes typed, privacy-safe Parquet.
//!
//! - events mode: one row per event (`events.parquet`) with a hashed `contact_id`, a naive
//!   timestamp `ts`, an optional numeric `value` and `category`, plus kept columns;
//! - table mode: one row per entity (`table.parquet`) with a `row_id` and typed columns.
//!
//! Rows that do not parse go to `rejects.parquet` (source line, or row number for Parquet
//! input; field, reason); audit tables describe the input. The raw contact column and the
//! listed PII columns never reach an artifact.

mod audit;
mod clock;
mod columns;
mod compressed;
mod contacts;
mod events;
mod expressions;
mod id_shape;
mod parquet_rows;
mod privacy;
mod reader;
mod records;
mod rows;
mod table;
mod table_batches;
mod weak_data;

use reader::TextLayout;

use std::path::PathBuf;

use indexmap::IndexMap;
use serde::Deserialize;

use segflow_core::calendar::{HourRange, Weekday};
use segflow_core::params::{ParamTree, Validate, parse_params, parse_valid};
use segflow_core::stage::{
    Columns, OutputDir, Planned, Stage, StageCtx, compose_version, single_input,
};
use segflow_core::{Error, Result};

pub use columns::output_columns;
pub use privacy::{IdMethod, IdRule};
pub use table_batches::{TableBatch, TableBatches};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Events,
    Table,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    pub mode: Mode,
    /// Field delimiter of the CSV.
    #[serde(default = "default_delimiter")]
    pub delimiter: Delimiter,
    /// Column names of a file without a header row: its first line is data.
    pub header: Option<Vec<String>>,
    /// Events mode: which CSV columns play which role.
    pub columns: Option<EventColumns>,
    #[serde(default)]
    pub formats: Formats,
    /// Events mode: the IANA time zone (`Europe/London`) whose wall-clock time the log's
    /// timestamps are kept in. Timestamps without a zone are taken as already in it; epoch
    /// counts (instants) are converted to it, so hour and weekday features follow it. Unset:
    /// UTC.
    pub timezone: Option<String>,
    /// Extra columns copied into the output (events mode): text, or numbers when `types`
    /// says so.
    #[serde(default)]
    pub keep: Vec<String>,
    /// Events mode: declared types of source columns that expressions compute with or `keep`
    /// copies (undeclared columns are text).
    #[serde(default)]
    pub types: IndexMap<String, ValueType>,
    /// Events mode: named columns computed from each row by a SQL expression, in order (a
    /// later one may use an earlier one), written to the events artifact.
    #[serde(default)]
    pub derive: IndexMap<String, String>,
    /// Events mode: a SQL condition; rows where it is not TRUE are excluded by rule (counted
    /// in the audit, not rejected).
    #[serde(rename = "where")]
    pub filter: Option<String>,
    /// What a row with a blank contact id is: a reject (bad data), or excluded by rule.
    #[serde(default)]
    pub blank_ids: BlankIds,
    /// `exact`: a row identical to an earlier one is excluded (counted in the audit).
    #[serde(default)]
    pub dedupe: Dedupe,
    /// Events mode: several input files of the same contacts (calls and SMS, …), each with
    /// its own layout and a `source` tag; the stage-level settings above apply to all.
    #[serde(default)]
    pub sources: Vec<Source>,
    #[serde(default)]
    pub privacy: Privacy,
    /// Values below this are rejected (e.g. 0 for durations: a negative duration is a reject).
    pub value_min: Option<f64>,
    /// Largest tolerated share of rejected rows; above it the stage fails (exit 65).
    #[serde(default)]
    pub max_reject_fraction: f64,
    #[serde(default)]
    pub audit: AuditParams,
    #[serde(default)]
    pub table: TableParams,
}

fn default_delimiter() -> Delimiter {
    Delimiter::Char(b',')
}

/// How the fields of a line are separated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delimiter {
    /// One ASCII character (`,`, `;`, a tab, …).
    Char(u8),
    /// Runs of spaces or tabs, as in column-aligned text (`delimiter: whitespace`).
    Whitespace,
}

impl Delimiter {
    /// How a user writes this delimiter in the params YAML.
    pub fn yaml(self) -> String {
        match self {
            Delimiter::Whitespace => "whitespace".into(),
            Delimiter::Char(b'\t') => r#""\t""#.into(),
            Delimiter::Char(c) => format!("\"{}\"", c as char),
        }
    }
}

impl<'de> Deserialize<'de> for Delimiter {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let mut chars = text.chars();
        match (chars.next(), chars.next()) {
            _ if text == "whitespace" => Ok(Delimiter::Whitespace),
            (Some(c), None) if c.is_ascii() => Ok(Delimiter::Char(c as u8)),
            _ => Err(serde::de::Error::custom(format!(
                "`{text}` is neither a single ASCII character nor `whitespace`"
            ))),
        }
    }
}

/// The type of a source column in expressions and kept columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ValueType {
    /// Decimal numbers (Float64); a blank is null, anything else that does not parse is a
    /// reject.
    Number,
    Text,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BlankIds {
    #[default]
    Reject,
    Exclude,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dedupe {
    #[default]
    None,
    Exact,
}

/// One input file of a several-source events ingest. Unset reader settings are the
/// stage-level ones.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// The tag written to the events' `source` column.
    pub name: String,
    pub input: PathBuf,
    pub delimiter: Option<Delimiter>,
    pub header: Option<Vec<String>>,
    pub columns: EventColumns,
    pub formats: Option<Formats>,
    /// A condition for this source's rows only, applied with the stage-level `where`.
    #[serde(rename = "where")]
    pub filter: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventColumns {
    pub contact: String,
    /// Either `timestamp`, or `date` with an optional `time`.
    pub timestamp: Option<String>,
    pub date: Option<String>,
    pub time: Option<String>,
    pub value: Option<String>,
    pub category: Option<String>,
}

/// chrono format strings (`%m/%d/%Y` also reads unpadded `1/1/2022`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Formats {
    #[serde(default = "default_date_format")]
    pub date: String,
    #[serde(default = "default_time_format")]
    pub time: String,
    /// Tried in order for a single timestamp column: chrono formats, or one of
    /// [`UNIX_SECONDS`], [`UNIX_MILLIS`], [`SECONDS_SINCE`]. One format may be written without
    /// the list.
    #[serde(
        default = "default_timestamp_formats",
        deserialize_with = "one_or_many"
    )]
    pub timestamp: Vec<String>,
    /// The `YYYY-MM-DD HH:MM:SS` that `seconds_since` timestamps count from.
    pub origin: Option<String>,
}

/// Timestamps that are seconds since 1970-01-01 00:00:00 UTC, integer or decimal.
pub const UNIX_SECONDS: &str = "unix_seconds";
/// Timestamps that are milliseconds since 1970-01-01 00:00:00 UTC, integer or decimal.
pub const UNIX_MILLIS: &str = "unix_millis";
/// Timestamps that are seconds (integer or decimal, negative allowed) after `formats.origin`.
pub const SECONDS_SINCE: &str = "seconds_since";

const ORIGIN_FORMAT: &str = "%Y-%m-%d %H:%M:%S";

impl Default for Formats {
    fn default() -> Self {
        Self {
            date: default_date_format(),
            time: default_time_format(),
            timestamp: default_timestamp_formats(),
            origin: None,
        }
    }
}

impl Formats {
    /// `origin` as microseconds since the Unix epoch; present exactly when a timestamp format
    /// is `seconds_since`.
    pub fn origin_micros(&self) -> Result<Option<i64>> {
        let bad = |msg: String| Err(Error::config("", "formats.origin", msg));
        let relative = self.timestamp.iter().any(|f| f == SECONDS_SINCE);
        match (&self.origin, relative) {
            (None, false) => Ok(None),
            (None, true) => bad(format!(
                "`{SECONDS_SINCE}` timestamps need an origin, e.g. `origin: \"2024-01-01 00:00:00\"`"
            )),
            (Some(_), false) => bad(format!(
                "an origin is only read by the `{SECONDS_SINCE}` timestamp format"
            )),
            (Some(origin), true) => {
                match chrono::NaiveDateTime::parse_from_str(origin, ORIGIN_FORMAT) {
                    Ok(t) => Ok(Some(t.and_utc().timestamp_micros())),
                    Err(e) => bad(format!(
                        "`{origin}` is not a timestamp `YYYY-MM-DD HH:MM:SS`: {e}"
                    )),
                }
            }
        }
    }
}

/// A list of strings, or one string standing for a list of one.
fn one_or_many<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    })
}

fn default_date_format() -> String {
    "%Y-%m-%d".into()
}
fn default_time_format() -> String {
    "%H:%M:%S".into()
}
fn default_timestamp_formats() -> Vec<String> {
    vec![
        "%Y-%m-%d %H:%M:%S".into(),
        "%Y-%m-%dT%H:%M:%S".into(),
        "%Y-%m-%d %H:%M:%S%.f".into(),
    ]
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Privacy {
    /// How the contact (or table id) column becomes `contact_id` / `row_id`.
    #[serde(default)]
    pub id: IdRule,
    /// Columns never read into any artifact (names, e-mail addresses, …); they need not be
    /// present.
    #[serde(default)]
    pub drop: Vec<String>,
    /// Events mode: second identifiers (a callee number, …) written as pseudonyms made like
    /// `contact_id`, so they can be counted (`distinct`) but never read back.
    #[serde(default)]
    pub hash: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditParams {
    /// Named inclusive hour ranges counted in `audit_time_bands.parquet`.
    #[serde(default = "default_time_bands")]
    pub time_bands: IndexMap<String, HourRange>,
    /// Days counted as open; the rest are closed.
    #[serde(default = "default_open_days")]
    pub open_days: Vec<Weekday>,
    #[serde(default = "default_quantiles")]
    pub value_quantiles: Vec<f64>,
}

impl Default for AuditParams {
    fn default() -> Self {
        Self {
            time_bands: default_time_bands(),
            open_days: default_open_days(),
            value_quantiles: default_quantiles(),
        }
    }
}

fn default_time_bands() -> IndexMap<String, HourRange> {
    IndexMap::from([
        ("early_morning".to_string(), HourRange(0, 7)),
        ("business_hours".to_string(), HourRange(8, 17)),
        ("evening".to_string(), HourRange(18, 20)),
        ("late_night".to_string(), HourRange(21, 23)),
    ])
}
fn default_open_days() -> Vec<Weekday> {
    Weekday::ALL[..6].to_vec()
}
fn default_quantiles() -> Vec<f64> {
    vec![0.0, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 1.0]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnType {
    Int64,
    Float64,
    String,
}

impl ColumnType {
    pub fn name(self) -> &'static str {
        match self {
            ColumnType::Int64 => "int64",
            ColumnType::Float64 => "float64",
            ColumnType::String => "string",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableParams {
    /// Column identifying each entity, hashed by `privacy.id`; without it, `row_id` is the
    /// data row number, stable for a given file.
    pub id: Option<String>,
    /// Declared column types; undeclared columns are inferred (int64, else float64, else string).
    #[serde(default)]
    pub types: IndexMap<String, ColumnType>,
    /// Values read as null, compared after trimming; an empty or all-space field always is.
    #[serde(default = "default_blanks")]
    pub blanks: Vec<String>,
}

impl Default for TableParams {
    fn default() -> Self {
        TableParams {
            id: None,
            types: IndexMap::new(),
            blanks: default_blanks(),
        }
    }
}

/// The spellings of "no value" spreadsheets and database exports write most often.
fn default_blanks() -> Vec<String> {
    ["NA", "N/A", "null"].map(str::to_string).to_vec()
}

impl Validate for Params {
    /// Checks what serde cannot: mode-specific keys and value ranges.
    fn validate(&self) -> Result<()> {
        let bad = |key: &str, msg: String| Err(Error::config("", key, msg));
        if self.mode == Mode::Table {
            self.validate_events_only()?;
        }
        if !self.sources.is_empty() {
            self.validate_sources()?;
        }
        match (self.mode, &self.columns) {
            (Mode::Events, None) if self.sources.is_empty() => {
                return bad(
                    "columns",
                    "events mode needs `columns` (contact, timestamp or date, …)".into(),
                );
            }
            (Mode::Events, None) => {}
            (Mode::Table, Some(_)) => {
                return bad(
                    "columns",
                    "table mode takes no `columns` mapping; use `table`".into(),
                );
            }
            (Mode::Events, Some(_)) if !self.sources.is_empty() => {
                return bad(
                    "columns",
                    "with `sources`, each source maps its own `columns`".into(),
                );
            }
            (Mode::Events, Some(c)) => self.validate_columns(c, "columns")?,
            (Mode::Table, None) => {
                if !self.keep.is_empty() {
                    return bad("keep", "table mode keeps every column not dropped".into());
                }
            }
        }
        if self.mode == Mode::Events && (self.table.id.is_some() || !self.table.types.is_empty()) {
            return bad("table", "only for table mode".into());
        }
        if !(0.0..=1.0).contains(&self.max_reject_fraction) {
            return bad("max_reject_fraction", "must be between 0 and 1".into());
        }
        if self.formats.timestamp.is_empty() {
            return bad("formats.timestamp", "needs at least one format".into());
        }
        self.formats.origin_micros()?;
        self.zone()?;
        for (name, range) in &self.audit.time_bands {
            range
                .check()
                .or_else(|m| bad(&format!("audit.time_bands.{name}"), m))?;
        }
        for (i, q) in self.audit.value_quantiles.iter().enumerate() {
            if !(0.0..=1.0).contains(q) {
                return bad(
                    &format!("audit.value_quantiles[{i}]"),
                    "quantiles lie in [0, 1]".into(),
                );
            }
        }
        if let Some(names) = &self.header {
            self.validate_header(names, self.columns.as_ref(), "header")?;
        }
        self.privacy.id.validate()
    }
}

impl Params {
    /// The configured time zone, if any.
    pub fn zone(&self) -> Result<Option<chrono_tz::Tz>> {
        self.timezone
            .as_deref()
            .map(|name| {
                name.parse::<chrono_tz::Tz>().map_err(|_| {
                    Error::config(
                        "",
                        "timezone",
                        format!("`{name}` is not an IANA time zone name (e.g. `Europe/London`, `America/New_York`, `UTC`)"),
                    )
                })
            })
            .transpose()
    }

    /// The role mapping `c` (at `key`) against the stage-level settings: one clock, and no
    /// column both written and private.
    fn validate_columns(&self, c: &EventColumns, key: &str) -> Result<()> {
        let bad = |key: String, msg: String| Err(Error::config("", key, msg));
        if c.timestamp.is_some() == c.date.is_some() {
            return bad(
                key.into(),
                "give either `timestamp` or `date` (with optional `time`)".into(),
            );
        }
        if c.time.is_some() && c.date.is_none() {
            return bad(format!("{key}.time"), "`time` needs `date`".into());
        }
        for (list, names) in [("keep", &self.keep), ("privacy.hash", &self.privacy.hash)] {
            for (i, name) in names.iter().enumerate() {
                if self.privacy.drop.contains(name) {
                    return bad(
                        format!("{list}[{i}]"),
                        format!("`{name}` is listed in privacy.drop"),
                    );
                }
                if name == &c.contact {
                    return bad(
                        format!("{list}[{i}]"),
                        "the raw contact column is never written; it becomes contact_id".into(),
                    );
                }
            }
        }
        if let Some(i) = self.keep.iter().position(|k| self.privacy.hash.contains(k)) {
            return bad(
                format!("keep[{i}]"),
                format!(
                    "`{}` is listed in privacy.hash, which writes it hashed",
                    self.keep[i]
                ),
            );
        }
        Ok(())
    }

    /// Keys that only events mode reads.
    fn validate_events_only(&self) -> Result<()> {
        let set = [
            ("types", !self.types.is_empty()),
            ("derive", !self.derive.is_empty()),
            ("where", self.filter.is_some()),
            ("sources", !self.sources.is_empty()),
            ("privacy.hash", !self.privacy.hash.is_empty()),
            ("blank_ids", self.blank_ids != BlankIds::Reject),
            ("dedupe", self.dedupe != Dedupe::None),
            ("timezone", self.timezone.is_some()),
        ];
        match set.iter().find(|(_, on)| *on) {
            Some((key, _)) => Err(Error::config(
                "",
                *key,
                "only for events mode (table mode declares its types under `table.types`)",
            )),
            None => Ok(()),
        }
    }

    /// Named, distinct sources with their own mappings and files.
    fn validate_sources(&self) -> Result<()> {
        let bad = |key: String, msg: String| Err(Error::config("", key, msg));
        for (i, source) in self.sources.iter().enumerate() {
            let key = format!("sources[{i}]");
            if source.name.trim().is_empty() {
                return bad(format!("{key}.name"), "a source needs a name".into());
            }
            if self.sources[..i].iter().any(|s| s.name == source.name) {
                return bad(
                    format!("{key}.name"),
                    format!("`{}` names two sources", source.name),
                );
            }
            if self.sources[..i].iter().any(|s| s.input == source.input) {
                return bad(
                    format!("{key}.input"),
                    format!("{} is read by two sources", source.input.display()),
                );
            }
            self.validate_columns(&source.columns, &format!("{key}.columns"))?;
            if let Some(formats) = &source.formats {
                formats.origin_micros().map_err(|e| e.in_config("", &key))?;
            }
            if let Some(names) = &source.header {
                self.validate_header(names, Some(&source.columns), &format!("{key}.header"))?;
            }
        }
        Ok(())
    }

    /// The names given by `header` (at `key`): non-empty, distinct, and covering every column
    /// the params refer to, so a mismatch is reported before any line is read.
    fn validate_header(
        &self,
        names: &[String],
        columns: Option<&EventColumns>,
        key: &str,
    ) -> Result<()> {
        let bad = |key: String, msg: String| Err(Error::config("", key, msg));
        if names.is_empty() {
            return bad(key.into(), "needs at least one column name".into());
        }
        for (i, name) in names.iter().enumerate() {
            if name.trim().is_empty() {
                return bad(format!("{key}[{i}]"), "column name is empty".into());
            }
            if names[..i].contains(name) {
                return bad(format!("{key}[{i}]"), format!("`{name}` appears twice"));
            }
        }
        for (what, column) in self.referenced_columns(columns) {
            if !names.iter().any(|n| n == column) {
                return bad(
                    key.into(),
                    format!("`{column}` ({what}) is not among the header names"),
                );
            }
        }
        Ok(())
    }

    /// Every input column the params require of a file read with the role mapping `columns`,
    /// with the key that names it. Dropped PII columns are not required: they are never read.
    fn referenced_columns<'a>(
        &'a self,
        columns: Option<&'a EventColumns>,
    ) -> Vec<(String, &'a str)> {
        let mut out: Vec<(String, &str)> = Vec::new();
        if let Some(c) = columns {
            out.push(("columns.contact".into(), &c.contact));
            for (key, column) in [
                ("timestamp", &c.timestamp),
                ("date", &c.date),
                ("time", &c.time),
                ("value", &c.value),
                ("category", &c.category),
            ] {
                if let Some(column) = column {
                    out.push((format!("columns.{key}"), column));
                }
            }
        }
        if let Some(id) = &self.table.id {
            out.push(("table.id".into(), id));
        }
        out.extend(
            self.table
                .types
                .keys()
                .map(|c| (format!("table.types.{c}"), c.as_str())),
        );
        for (list, columns) in [("keep", &self.keep), ("privacy.hash", &self.privacy.hash)] {
            out.extend(
                columns
                    .iter()
                    .enumerate()
                    .map(|(i, c)| (format!("{list}[{i}]"), c.as_str())),
            );
        }
        out
    }

    /// How the file read with the role mapping `columns` is laid out; `source` overrides the
    /// stage-level reader settings.
    fn text_layout<'a>(
        &'a self,
        columns: Option<&'a EventColumns>,
        source: Option<&'a Source>,
    ) -> TextLayout<'a> {
        TextLayout {
            delimiter: source.and_then(|s| s.delimiter).unwrap_or(self.delimiter),
            header: source
                .and_then(|s| s.header.as_deref())
                .or(self.header.as_deref()),
            required: self
                .referenced_columns(columns)
                .into_iter()
                .map(|(_, c)| c)
                .collect(),
        }
    }

    fn outputs(&self) -> Vec<Planned> {
        let mut out = match self.mode {
            Mode::Events => vec![Planned::new("events")],
            Mode::Table => vec![Planned::new("table")],
        };
        out.push(Planned::new("rejects"));
        out.extend(
            audit::ARTIFACTS
                .iter()
                .filter(|a| !a.events_only || self.mode == Mode::Events)
                .map(|a| Planned::new(a.kind)),
        );
        out
    }
}

/// What a run reports back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outputs {
    pub rows_in: u64,
    pub accepted: u64,
    pub rejected: u64,
}

/// How much of an event log's audit a run computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audit {
    /// All of it.
    Full,
    /// Without what grows with the events: the exact value quantiles (8 bytes per accepted
    /// event) and the duplicate count (16 bytes per record; `dedupe: exact` still removes
    /// repeats). Their audit columns are null. The events artifact is the same.
    Scoring,
}

/// Ingests `inputs` (one file, or one per source in order) into `out` according to `params`.
pub fn run(
    inputs: &[PathBuf],
    params: &Params,
    audit: Audit,
    out: &mut OutputDir,
    ctx: &StageCtx<'_>,
) -> Result<Outputs> {
    params.validate()?;
    columns::check_inputs(params, inputs)?;
    let id = params.privacy.id.hasher()?;
    match params.mode {
        Mode::Events => events::run(inputs, params, &id, audit, out, ctx),
        Mode::Table => table::run(single_input("ingest", inputs)?, params, &id, out, ctx),
    }
}

/// The version of this stage's results: bump it with any change that alters them, and say what
/// changed in CHANGELOG.md.
const VERSION: u32 = 5;

/// The ingest stage as the runner sees it.
pub struct IngestStage;

/// The ingest stage as `assign` runs it on new records: the same stage, with [`Audit::Scoring`],
/// so its memory does not grow with the events for audit figures nobody reads.
pub struct ScoringIngestStage;

impl Stage for ScoringIngestStage {
    fn kind(&self) -> &'static str {
        IngestStage.kind()
    }

    fn about(&self) -> &'static str {
        IngestStage.about()
    }

    fn consumes(&self) -> &'static [&'static str] {
        IngestStage.consumes()
    }

    fn plan(&self, params: &ParamTree) -> Result<Vec<Planned>> {
        IngestStage.plan(params)
    }

    fn algorithm_version(&self, params: &ParamTree) -> Result<String> {
        IngestStage.algorithm_version(params)
    }

    fn external_inputs(&self, params: &ParamTree) -> Result<Vec<PathBuf>> {
        IngestStage.external_inputs(params)
    }

    fn columns(
        &self,
        params: &ParamTree,
        inputs: &[PathBuf],
        upstream: Option<&Columns>,
    ) -> Result<Option<Columns>> {
        IngestStage.columns(params, inputs, upstream)
    }

    fn run(
        &self,
        inputs: &[PathBuf],
        params: &ParamTree,
        out: &mut OutputDir,
        ctx: &StageCtx<'_>,
    ) -> Result<u64> {
        let params: Params = parse_params(params)?;
        Ok(run(inputs, &params, Audit::Scoring, out, ctx)?.accepted)
    }
}

impl Stage for IngestStage {
    fn kind(&self) -> &'static str {
        "ingest"
    }

    fn about(&self) -> &'static str {
        "CSV or Parquet → typed events or entity table, with rejects, audit and privacy hashing"
    }

    fn consumes(&self) -> &'static [&'static str] {
        &[]
    }

    fn plan(&self, params: &ParamTree) -> Result<Vec<Planned>> {
        let params: Params = parse_valid(params)?;
        Ok(params.outputs())
    }

    fn algorithm_version(&self, _params: &ParamTree) -> Result<String> {
        Ok(compose_version(VERSION, &[]))
    }

    fn external_inputs(&self, params: &ParamTree) -> Result<Vec<PathBuf>> {
        let params: Params = parse_valid(params)?;
        Ok(params.sources.iter().map(|s| s.input.clone()).collect())
    }

    fn columns(
        &self,
        params: &ParamTree,
        inputs: &[PathBuf],
        _upstream: Option<&Columns>,
    ) -> Result<Option<Columns>> {
        let params: Params = parse_valid(params)?;
        columns::check_inputs(&params, inputs)?;
        Ok(Some(Columns::new(output_columns(&params, inputs)?)))
    }

    fn run(
        &self,
        inputs: &[PathBuf],
        params: &ParamTree,
        out: &mut OutputDir,
        ctx: &StageCtx<'_>,
    ) -> Result<u64> {
        let params: Params = parse_params(params)?;
        Ok(run(inputs, &params, Audit::Full, out, ctx)?.accepted)
    }
}
