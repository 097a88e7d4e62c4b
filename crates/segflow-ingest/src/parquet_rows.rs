//! Parquet input read as records: one file, or a directory of part files with Hive
//! partition directories (`country=DE/part-0000.parquet`), read batch by batch, each value
//! rendered as the text a CSV of the same rows would hold, so Parquet rows go through exactly
//! the parsing, rules and audit of text rows.
//!
//! Integers are written in decimal, floats in Rust's shortest round-trip form, strings and
//! binary values as they are, booleans `true`/`false`, nulls as empty fields, and dates, times
//! and timestamps in the fixed forms of [`Temporal`]. A timestamp with a time zone, or Spark's
//! legacy INT96 timestamp, is an instant: it is written as wall-clock time in the ingest time
//! zone (UTC when none is set). A naive timestamp is already wall-clock time.

use std::fmt::Write as _;
use std::fs::File;
use std::io::Read;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};

use arrow::array::{
    Array, ArrayRef, AsArray, BinaryArray, BooleanArray, Float32Array, Float64Array, Int64Array,
    LargeBinaryArray, RecordBatch, StringArray, UInt64Array,
};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, SchemaRef, TimeUnit};
use arrow::error::ArrowError;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use chrono::format::{Item, StrftimeItems};
use chrono::{NaiveDate, NaiveDateTime, NaiveTime, TimeZone};
use chrono_tz::Tz;
use csv::ByteRecord;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReader,
    ParquetRecordBatchReaderBuilder,
};
use parquet::basic::Type as PhysicalType;

use segflow_core::dataset;
use segflow_core::error::Location;
use segflow_core::{Error, Result};

use crate::ColumnType;
use crate::clock::Temporal;
use crate::reader::TextLayout;

const MAGIC: &[u8; 4] = b"PAR1";

/// Rows decoded at a time: memory is bounded by one batch per input, not by the file.
const BATCH_ROWS: usize = 8192;

/// The value Hive writes for a null (or empty) partition value.
const HIVE_NULL: &str = "__HIVE_DEFAULT_PARTITION__";

/// Whether `path` starts with Parquet's magic bytes.
pub fn is_parquet(path: &Path) -> Result<bool> {
    let mut head = Vec::with_capacity(MAGIC.len());
    File::open(path)
        .map_err(|e| Error::open(path, e))?
        .take(MAGIC.len() as u64)
        .read_to_end(&mut head)
        .map_err(|e| Error::io(path, e))?;
    Ok(head == MAGIC)
}

/// One Parquet file of the input, its schema read from its footer.
struct Part {
    path: PathBuf,
    schema: SchemaRef,
    /// Per schema field: whether its values are instants (a timestamp with a time zone, or an
    /// INT96 timestamp, which Spark writes for instants).
    instants: Vec<bool>,
    /// The `key=value` directories above the file, decoded; `None` for Hive's null.
    partition: Vec<(String, Option<String>)>,
}

/// Where one header column's values come from in one part file.
enum Origin {
    Field(usize),
    Partition(Option<String>),
    Missing,
}

pub struct ParquetRows {
    pub path: PathBuf,
    pub header: Vec<String>,
    temporal: Vec<Option<Temporal>>,
    declared: Vec<Option<ColumnType>>,
    parts: std::vec::IntoIter<Part>,
    current: Option<Reading>,
    render: Render,
    /// Rows read so far: the "line" of a Parquet row is its 1-based number in the input.
    row: u64,
}

/// The part file being read and its current batch.
struct Reading {
    path: PathBuf,
    reader: ParquetRecordBatchReader,
    origins: Vec<Origin>,
    instants: Vec<bool>,
    columns: Vec<Column>,
    rows: usize,
    next: usize,
}

impl ParquetRows {
    /// Opens `path` (a Parquet file, or a directory of part files), reading every footer up
    /// front so that an unreadable part, a partition key that is also a column, or a missing
    /// required column fails before any row is read. `zone`: the time zone instants are
    /// written in (UTC when `None`).
    pub fn open(path: &Path, layout: &TextLayout<'_>, zone: Option<Tz>) -> Result<Self> {
        if layout.header.is_some() {
            return Err(Error::config(
                "",
                "header",
                format!(
                    "{} is Parquet, which names its own columns; `header` is for text without a header row",
                    path.display()
                ),
            ));
        }
        let files = if path.is_dir() {
            dataset::part_files(path)?
                .into_iter()
                .map(|p| Ok((p.path, partition_of(path, &p.relative)?)))
                .collect::<Result<Vec<_>>>()?
        } else {
            vec![(path.to_path_buf(), Vec::new())]
        };
        let parts = files
            .into_iter()
            .map(|(file, partition)| {
                let path = file.clone();
                guarded(&path, || Part::read(file, partition))
            })
            .collect::<Result<Vec<_>>>()?;
        let (header, temporal, declared) = merged_schema(path, &parts)?;
        if let Some(missing) = layout
            .required
            .iter()
            .find(|c| !header.iter().any(|h| h == *c))
        {
            return Err(Error::data(
                Location::file(path).column(*missing),
                format!("required column is missing (header: {})", header.join(", ")),
            ));
        }
        Ok(Self {
            path: path.to_path_buf(),
            header,
            temporal,
            declared,
            parts: parts.into_iter(),
            current: None,
            render: Render::new(zone),
            row: 0,
        })
    }

    /// Position of a column; its absence fails the whole input (exit 65).
    pub fn index(&self, column: &str) -> Result<usize> {
        self.header.iter().position(|h| h == column).ok_or_else(|| {
            Error::data(
                Location::file(&self.path).column(column),
                format!(
                    "required column is missing (header: {})",
                    self.header.join(", ")
                ),
            )
        })
    }

    /// Whether column `col` holds points in time, and of which kind.
    pub fn temporal(&self, col: usize) -> Option<Temporal> {
        self.temporal[col]
    }

    /// The table-mode type column `col` has in the files, where it maps to one.
    pub fn declared(&self, col: usize) -> Option<ColumnType> {
        self.declared[col]
    }

    /// Reads the next row as text fields; returns its 1-based row number in the input.
    pub fn next(&mut self, record: &mut ByteRecord) -> Result<Option<u64>> {
        loop {
            if let Some(reading) = &mut self.current {
                if reading.next < reading.rows {
                    record.clear();
                    let i = reading.next;
                    for (origin, column) in reading.origins.iter().zip(&reading.columns) {
                        match origin {
                            Origin::Field(_) => self.render.push(column, i, record),
                            Origin::Partition(value) => {
                                record.push_field(value.as_deref().unwrap_or("").as_bytes())
                            }
                            Origin::Missing => record.push_field(b""),
                        }
                    }
                    reading.next += 1;
                    self.row += 1;
                    return Ok(Some(self.row));
                }
                let path = reading.path.clone();
                let render = &self.render;
                let more = guarded(&path, || match reading.reader.next() {
                    Some(batch) => {
                        let batch = batch.map_err(|e| corrupt(&reading.path, e))?;
                        reading.load(&batch, render)?;
                        Ok(true)
                    }
                    None => Ok(false),
                })?;
                if !more {
                    self.current = None;
                }
                continue;
            }
            match self.parts.next() {
                Some(part) => {
                    let path = part.path.clone();
                    let header = &self.header;
                    self.current = Some(guarded(&path, || Reading::open(part, header))?);
                }
                None => return Ok(None),
            }
        }
    }
}

impl Part {
    fn read(path: PathBuf, partition: Vec<(String, Option<String>)>) -> Result<Self> {
        let file = File::open(&path).map_err(|e| Error::open(&path, e))?;
        let metadata = ArrowReaderMetadata::load(&file, ArrowReaderOptions::new())
            .map_err(|e| corrupt(&path, e))?;
        let schema = metadata.schema().clone();
        let leaves = metadata.parquet_schema().columns();
        let instants = schema
            .fields()
            .iter()
            .map(|f| match f.data_type() {
                DataType::Timestamp(_, Some(_)) => true,
                DataType::Timestamp(_, None) => leaves.iter().any(|c| {
                    c.path().parts() == [f.name().as_str()]
                        && c.physical_type() == PhysicalType::INT96
                }),
                _ => false,
            })
            .collect();
        Ok(Self {
            path,
            schema,
            instants,
            partition,
        })
    }
}

impl Reading {
    fn open(part: Part, header: &[String]) -> Result<Self> {
        let file = File::open(&part.path).map_err(|e| Error::open(&part.path, e))?;
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)
            .and_then(|b| b.with_batch_size(BATCH_ROWS).build())
            .map_err(|e| corrupt(&part.path, e))?;
        let origins = header
            .iter()
            .map(|name| {
                if let Ok(i) = part.schema.index_of(name) {
                    Origin::Field(i)
                } else if let Some((_, value)) = part.partition.iter().find(|(k, _)| k == name) {
                    Origin::Partition(value.clone())
                } else {
                    Origin::Missing
                }
            })
            .collect();
        Ok(Self {
            path: part.path,
            reader,
            origins,
            instants: part.instants,
            columns: Vec::new(),
            rows: 0,
            next: 0,
        })
    }

    /// Makes `batch` the rows to hand out, each header column in a form ready to render.
    fn load(&mut self, batch: &RecordBatch, render: &Render) -> Result<()> {
        self.columns = self
            .origins
            .iter()
            .map(|origin| match origin {
                Origin::Field(i) => {
                    Column::new(batch.column(*i), self.instants[*i], render.zone.is_some())
                }
                _ => Ok(Column::Absent),
            })
            .collect::<std::result::Result<_, ArrowError>>()
            .map_err(|e| corrupt(&self.path, e))?;
        self.rows = batch.num_rows();
        self.next = 0;
        Ok(())
    }
}

/// Runs a step of the Parquet decoder. Its panics on malformed bytes (arrow-rs does not
/// promise never to panic on them) are the input's fault, not segflow's: bad data naming the
/// file.
fn guarded<T>(path: &Path, step: impl FnOnce() -> Result<T>) -> Result<T> {
    std::panic::catch_unwind(AssertUnwindSafe(step)).unwrap_or_else(|payload| {
        let message = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("the decoder failed");
        Err(corrupt(path, message))
    })
}

fn corrupt(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::data(
        Location::file(path),
        format!("corrupt, truncated or unreadable Parquet input: {e}"),
    )
}

/// The header of the input (every column of the part files in order of first appearance,
/// then the partition keys), and what each column's type says.
#[allow(clippy::type_complexity)]
fn merged_schema(
    input: &Path,
    parts: &[Part],
) -> Result<(Vec<String>, Vec<Option<Temporal>>, Vec<Option<ColumnType>>)> {
    let mut header: Vec<String> = Vec::new();
    let mut temporal: Vec<Option<Temporal>> = Vec::new();
    let mut declared: Vec<Option<ColumnType>> = Vec::new();
    for part in parts {
        for field in part.schema.fields() {
            let (t, d) = (temporal_of(field), declared_of(field.data_type()));
            match header.iter().position(|h| h == field.name()) {
                Some(i) => {
                    // Parts that disagree leave the column to the text rules.
                    if temporal[i] != t {
                        temporal[i] = None;
                    }
                    declared[i] = match (declared[i], d) {
                        (Some(a), Some(b)) if a == b => Some(a),
                        (
                            Some(ColumnType::Int64 | ColumnType::Float64),
                            Some(ColumnType::Int64 | ColumnType::Float64),
                        ) => Some(ColumnType::Float64),
                        _ => None,
                    };
                }
                None => {
                    header.push(field.name().clone());
                    temporal.push(t);
                    declared.push(d);
                }
            }
        }
    }
    let files = header.len();
    for part in parts {
        for (key, _) in &part.partition {
            if header[..files].contains(key) {
                return Err(Error::data(
                    Location::file(&part.path).column(key),
                    format!(
                        "`{key}` is both a column of the file and a partition directory of {}",
                        input.display()
                    ),
                ));
            }
            if !header[files..].contains(key) {
                header.push(key.clone());
                temporal.push(None);
                declared.push(Some(ColumnType::String));
            }
        }
    }
    Ok((header, temporal, declared))
}

fn temporal_of(field: &Field) -> Option<Temporal> {
    match field.data_type() {
        DataType::Timestamp(..) => Some(Temporal::Timestamp),
        DataType::Date32 | DataType::Date64 => Some(Temporal::Date),
        DataType::Time32(_) | DataType::Time64(_) => Some(Temporal::Time),
        _ => None,
    }
}

fn declared_of(t: &DataType) -> Option<ColumnType> {
    match t {
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64 => Some(ColumnType::Int64),
        DataType::Float16
        | DataType::Float32
        | DataType::Float64
        | DataType::Decimal32(..)
        | DataType::Decimal64(..)
        | DataType::Decimal128(..)
        | DataType::Decimal256(..) => Some(ColumnType::Float64),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Some(ColumnType::String),
        DataType::Dictionary(_, values) => declared_of(values),
        _ => None,
    }
}

/// The Hive partition values of a part file at `relative` below `dir`: each directory
/// `key=value` on the way, URL-decoded.
fn partition_of(dir: &Path, relative: &str) -> Result<Vec<(String, Option<String>)>> {
    let mut out = Vec::new();
    let mut folders: Vec<&str> = relative.split('/').collect();
    folders.pop();
    for folder in folders {
        let Some((key, value)) = folder.split_once('=') else {
            continue;
        };
        let decode = |text: &str| {
            percent_decode(text).ok_or_else(|| {
                Error::data(
                    Location::file(dir.join(relative)),
                    format!("partition directory `{folder}` is not URL-encoded UTF-8"),
                )
            })
        };
        let key = decode(key)?;
        let value = decode(value)?;
        out.push((
            key,
            (value != HIVE_NULL && !value.is_empty()).then_some(value),
        ));
    }
    Ok(out)
}

/// `%XX` escapes (as Hive and Spark write them in partition directories) decoded; `None` for
/// a broken escape or bytes that are not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// A batch column in the form its values are rendered from.
enum Column {
    /// Not a column of this part file (a partition value, or missing).
    Absent,
    Text(StringArray),
    Binary(BinaryArray),
    LargeBinary(LargeBinaryArray),
    Int(Int64Array),
    UInt(UInt64Array),
    F32(Float32Array),
    F64(Float64Array),
    Bool(BooleanArray),
    /// Raw counts of `unit` since the epoch; `instant`: to be shown in the ingest zone.
    Timestamp {
        raw: Int64Array,
        unit: TimeUnit,
        instant: bool,
    },
    /// Days since the epoch.
    Date(Int64Array),
    /// Raw counts of `unit` since midnight.
    Time {
        raw: Int64Array,
        unit: TimeUnit,
    },
    /// Any other type (decimals, intervals, nested values), rendered by Arrow's display.
    Formatted(StringArray),
}

impl Column {
    /// `shifted`: whether instants are shown in a zone other than UTC.
    fn new(
        array: &ArrayRef,
        instant: bool,
        shifted: bool,
    ) -> std::result::Result<Self, ArrowError> {
        let ints = |a: &ArrayRef| -> std::result::Result<Int64Array, ArrowError> {
            Ok(cast(a, &DataType::Int64)?.as_primitive().clone())
        };
        Ok(match array.data_type() {
            DataType::Utf8 => Column::Text(array.as_string::<i32>().clone()),
            DataType::LargeUtf8 | DataType::Utf8View => {
                Column::Text(cast(array, &DataType::Utf8)?.as_string::<i32>().clone())
            }
            DataType::Binary => Column::Binary(array.as_binary::<i32>().clone()),
            DataType::LargeBinary => Column::LargeBinary(array.as_binary::<i64>().clone()),
            DataType::Dictionary(_, values) => {
                return Column::new(&cast(array, values)?, instant, shifted);
            }
            DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 => {
                Column::Int(ints(array)?)
            }
            DataType::UInt8 | DataType::UInt16 | DataType::UInt32 | DataType::UInt64 => {
                Column::UInt(cast(array, &DataType::UInt64)?.as_primitive().clone())
            }
            DataType::Float16 | DataType::Float32 => {
                Column::F32(cast(array, &DataType::Float32)?.as_primitive().clone())
            }
            DataType::Float64 => Column::F64(array.as_primitive().clone()),
            DataType::Boolean => Column::Bool(array.as_boolean().clone()),
            DataType::Timestamp(unit, _) => Column::Timestamp {
                raw: ints(array)?,
                unit: *unit,
                instant: instant && shifted,
            },
            DataType::Date32 => Column::Date(ints(array)?),
            DataType::Date64 => {
                let millis = ints(array)?;
                Column::Date(millis.unary(|ms| ms.div_euclid(86_400_000)))
            }
            DataType::Time32(unit) | DataType::Time64(unit) => Column::Time {
                raw: ints(array)?,
                unit: *unit,
            },
            _ => {
                let options = FormatOptions::new().with_null("");
                let formatter = ArrayFormatter::try_new(array.as_ref(), &options)?;
                let mut text = String::new();
                let values: StringArray = (0..array.len())
                    .map(|i| {
                        (!array.is_null(i)).then(|| {
                            text.clear();
                            let _ = write!(text, "{}", formatter.value(i));
                            text.clone()
                        })
                    })
                    .collect();
                Column::Formatted(values)
            }
        })
    }
}

/// Renders values as text fields, reusing one buffer.
struct Render {
    /// The zone instants are shown in; `None`: UTC, where an instant's count is already its
    /// wall-clock time.
    zone: Option<Tz>,
    timestamp: Vec<Item<'static>>,
    date: Vec<Item<'static>>,
    time: Vec<Item<'static>>,
    text: String,
}

impl Render {
    fn new(zone: Option<Tz>) -> Self {
        let items = |t: Temporal| {
            StrftimeItems::new(t.format())
                .parse_to_owned()
                .expect("the fixed formats are valid")
        };
        Self {
            zone: zone.filter(|z| *z != Tz::UTC),
            timestamp: items(Temporal::Timestamp),
            date: items(Temporal::Date),
            time: items(Temporal::Time),
            text: String::new(),
        }
    }

    /// Appends value `i` of `column` to `record`; a null is an empty field.
    fn push(&mut self, column: &Column, i: usize, record: &mut ByteRecord) {
        let is_null = match column {
            Column::Absent => true,
            Column::Text(a) => a.is_null(i),
            Column::Binary(a) => a.is_null(i),
            Column::LargeBinary(a) => a.is_null(i),
            Column::Int(a) => a.is_null(i),
            Column::UInt(a) => a.is_null(i),
            Column::F32(a) => a.is_null(i),
            Column::F64(a) => a.is_null(i),
            Column::Bool(a) => a.is_null(i),
            Column::Timestamp { raw, .. } => raw.is_null(i),
            Column::Date(a) => a.is_null(i),
            Column::Time { raw, .. } => raw.is_null(i),
            Column::Formatted(a) => a.is_null(i),
        };
        if is_null {
            record.push_field(b"");
            return;
        }
        let bytes: &[u8] = match column {
            Column::Text(a) => a.value(i).as_bytes(),
            Column::Binary(a) => a.value(i),
            Column::LargeBinary(a) => a.value(i),
            Column::Formatted(a) => a.value(i).as_bytes(),
            Column::Bool(a) => {
                if a.value(i) {
                    b"true"
                } else {
                    b"false"
                }
            }
            _ => {
                let mut text = std::mem::take(&mut self.text);
                text.clear();
                self.write(column, i, &mut text);
                record.push_field(text.as_bytes());
                self.text = text;
                return;
            }
        };
        record.push_field(bytes);
    }

    fn write(&self, column: &Column, i: usize, text: &mut String) {
        let _ = match column {
            Column::Int(a) => write!(text, "{}", a.value(i)),
            Column::UInt(a) => write!(text, "{}", a.value(i)),
            Column::F32(a) => write!(text, "{}", a.value(i)),
            Column::F64(a) => write!(text, "{}", a.value(i)),
            Column::Timestamp { raw, unit, instant } => {
                let count = raw.value(i);
                match self.wall_clock(count, *unit, *instant) {
                    Some(t) => write!(text, "{}", t.format_with_items(self.timestamp.iter())),
                    // Beyond the calendar: written as the count, which no timestamp format
                    // reads, so the row is rejected showing it.
                    None => write!(text, "{count}"),
                }
            }
            Column::Date(days) => {
                let days = days.value(i);
                match i32::try_from(days)
                    .ok()
                    .and_then(|d| NaiveDate::from_num_days_from_ce_opt(d.checked_add(719_163)?))
                {
                    Some(d) => write!(text, "{}", d.format_with_items(self.date.iter())),
                    None => write!(text, "{days}"),
                }
            }
            Column::Time { raw, unit } => {
                let count = raw.value(i);
                let micros = micros(count, *unit);
                match micros.and_then(|us| {
                    NaiveTime::from_num_seconds_from_midnight_opt(
                        u32::try_from(us.div_euclid(1_000_000)).ok()?,
                        u32::try_from(us.rem_euclid(1_000_000) * 1000).ok()?,
                    )
                }) {
                    Some(t) => write!(text, "{}", t.format_with_items(self.time.iter())),
                    None => write!(text, "{count}"),
                }
            }
            Column::Absent
            | Column::Text(_)
            | Column::Binary(_)
            | Column::LargeBinary(_)
            | Column::Bool(_)
            | Column::Formatted(_) => unreachable!("written as bytes by `push`"),
        };
    }

    /// A timestamp's wall-clock time, to the microsecond (nanoseconds are floored).
    fn wall_clock(&self, count: i64, unit: TimeUnit, instant: bool) -> Option<NaiveDateTime> {
        let utc = chrono::DateTime::from_timestamp_micros(micros(count, unit)?)?.naive_utc();
        Some(match (&self.zone, instant) {
            (Some(zone), true) => zone.from_utc_datetime(&utc).naive_local(),
            _ => utc,
        })
    }
}

/// `count` of `unit` in microseconds, floored; `None` on overflow.
fn micros(count: i64, unit: TimeUnit) -> Option<i64> {
    match unit {
        TimeUnit::Second => count.checked_mul(1_000_000),
        TimeUnit::Millisecond => count.checked_mul(1_000),
        TimeUnit::Microsecond => Some(count),
        TimeUnit::Nanosecond => Some(count.div_euclid(1_000)),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn partition_directories_are_url_decoded_and_hive_null_is_null() {
        let dir = Path::new("/data/calls");
        let got = partition_of(
            dir,
            "region=North%20%26%20West/day=2024-01-01/x/country=__HIVE_DEFAULT_PARTITION__/part-0.parquet",
        )
        .unwrap();
        assert_eq!(
            got,
            [
                ("region".to_string(), Some("North & West".to_string())),
                ("day".to_string(), Some("2024-01-01".to_string())),
                ("country".to_string(), None),
            ]
        );
        assert_eq!(percent_decode("a%3Db%2Fc%25"), Some("a=b/c%".to_string()));
        assert_eq!(percent_decode("C%C3%B4te"), Some("Côte".to_string()));
        assert_eq!(percent_decode("bad%2"), None);
        assert_eq!(percent_decode("bad%zz"), None);
        assert_eq!(percent_decode("%FF"), None);
        let e = partition_of(dir, "k=%ZZ/part-0.parquet").unwrap_err();
        assert_eq!(e.exit_code(), 65);
    }

    /// Writes `batch` as a Parquet file at `path`.
    fn write(path: &Path, batch: &RecordBatch) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let file = File::create(path).unwrap();
        let mut writer = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).unwrap();
        writer.write(batch).unwrap();
        writer.close().unwrap();
    }

    #[test]
    fn part_files_with_other_columns_read_as_one_table_with_partition_columns_last() {
        let dir = std::env::temp_dir().join(format!("segflow-parquet-rows-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let ints: ArrayRef = Arc::new(Int64Array::from(vec![Some(1), None]));
        let text: ArrayRef = Arc::new(StringArray::from(vec!["x", "y"]));
        let floats: ArrayRef = Arc::new(Float64Array::from(vec![2.5]));
        let more: ArrayRef = Arc::new(StringArray::from(vec!["z"]));
        let first = RecordBatch::try_from_iter([("a", ints), ("b", text)]).unwrap();
        let second = RecordBatch::try_from_iter([("c", floats), ("b", more)]).unwrap();
        write(&dir.join("k=2/part-0.parquet"), &second);
        write(&dir.join("k=1/part-0.parquet"), &first);
        let layout = TextLayout {
            delimiter: crate::Delimiter::Char(b','),
            header: None,
            required: vec!["b", "k"],
        };
        let mut rows = ParquetRows::open(&dir, &layout, None).unwrap();
        assert_eq!(rows.header, ["a", "b", "c", "k"]);
        assert_eq!(rows.declared(0), Some(ColumnType::Int64));
        assert_eq!(rows.declared(3), Some(ColumnType::String));
        let mut record = ByteRecord::new();
        let mut read = Vec::new();
        while let Some(row) = rows.next(&mut record).unwrap() {
            let fields: Vec<String> = record
                .iter()
                .map(|f| String::from_utf8(f.to_vec()).unwrap())
                .collect();
            read.push((row, fields.join("|")));
        }
        let want = [(1, "1|x||1"), (2, "|y||1"), (3, "|z|2.5|2")];
        assert_eq!(read, want.map(|(row, text)| (row, text.to_string())));
        let missing = TextLayout {
            required: vec!["d"],
            ..layout
        };
        let e = ParquetRows::open(&dir, &missing, None).err().unwrap();
        assert!(e.to_string().contains("required column is missing"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn values_are_rendered_as_csv_text() {
        let render = |column: Column, zone: Option<Tz>| {
            let mut render = Render::new(zone);
            let mut record = ByteRecord::new();
            render.push(&column, 0, &mut record);
            render.push(&column, 1, &mut record);
            record
                .iter()
                .map(|f| String::from_utf8(f.to_vec()).unwrap())
                .collect::<Vec<_>>()
        };
        let f64s = Column::F64(Float64Array::from(vec![Some(0.1 + 0.2), None]));
        assert_eq!(render(f64s, None), ["0.30000000000000004", ""]);
        let f32s = Column::F32(Float32Array::from(vec![1.1f32, -2.5e-8]));
        assert_eq!(render(f32s, None), ["1.1", "-0.000000025"]);
        let bools = Column::Bool(BooleanArray::from(vec![true, false]));
        assert_eq!(render(bools, None), ["true", "false"]);
        let ints = Column::UInt(UInt64Array::from(vec![u64::MAX, 0]));
        assert_eq!(render(ints, None), ["18446744073709551615", "0"]);
        // 2024-11-03 05:30:00.000001 and 06:30 UTC: 01:30 in New York, daylight and standard.
        let instants = |instant| Column::Timestamp {
            raw: Int64Array::from(vec![1_730_611_800_000_001_000, 1_730_615_400_000_000_999]),
            unit: TimeUnit::Nanosecond,
            instant,
        };
        let new_york = Some(chrono_tz::America::New_York);
        assert_eq!(
            render(instants(true), new_york),
            ["2024-11-03 01:30:00.000001", "2024-11-03 01:30:00.000000"]
        );
        assert_eq!(
            render(instants(false), new_york),
            ["2024-11-03 05:30:00.000001", "2024-11-03 06:30:00.000000"]
        );
        let seconds = Column::Timestamp {
            raw: Int64Array::from(vec![-1, i64::MAX]),
            unit: TimeUnit::Second,
            instant: false,
        };
        assert_eq!(
            render(seconds, None),
            ["1969-12-31 23:59:59.000000", "9223372036854775807"]
        );
        let dates = Column::Date(Int64Array::from(vec![0, 19_723]));
        assert_eq!(render(dates, None), ["1970-01-01", "2024-01-01"]);
        let times = Column::Time {
            raw: Int64Array::from(vec![3_723_000_500, 86_399_999_999]),
            unit: TimeUnit::Microsecond,
        };
        assert_eq!(render(times, None), ["01:02:03.000500", "23:59:59.999999"]);
    }
}
