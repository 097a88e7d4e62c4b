//! CSV reading shared by both modes: header checks, line numbers, per-column profiles and
//! duplicate detection over the raw records.

use std::fs::File;
use std::path::{Path, PathBuf};

use csv::ByteRecord;
use xxhash_rust::xxh3::Xxh3;

use segflow_core::error::Location;
use segflow_core::{Error, Result};

pub struct Csv {
    pub path: PathBuf,
    pub header: Vec<String>,
    reader: csv::Reader<File>,
}

impl Csv {
    pub fn open(path: &Path, delimiter: char) -> Result<Self> {
        let file = File::open(path).map_err(|e| Error::open(path, e))?;
        // Records end at '\n' only: with CRLF files the csv crate's default terminator reports
        // each record one line early. The '\r' left at the end of the last field is trimmed
        // with the other whitespace.
        let mut reader = csv::ReaderBuilder::new()
            .terminator(csv::Terminator::Any(b'\n'))
            .delimiter(delimiter as u8)
            .flexible(true)
            .has_headers(true)
            .from_reader(file);
        let header = reader
            .byte_headers()
            .map_err(|e| csv_error(path, e))?
            .clone();
        if header.is_empty() || (header.len() == 1 && header[0].is_empty()) {
            return Err(Error::data(
                Location::file(path).line(1),
                "empty file: no header row",
            ));
        }
        let mut names = Vec::with_capacity(header.len());
        for (i, raw) in header.iter().enumerate() {
            let name = std::str::from_utf8(raw)
                .map_err(|_| {
                    Error::data(
                        Location::file(path).line(1),
                        format!("header field {} is not UTF-8", i + 1),
                    )
                })?
                .trim()
                .trim_start_matches('\u{feff}')
                .to_string();
            if name.is_empty() {
                return Err(Error::data(
                    Location::file(path).line(1),
                    format!("header field {} is empty", i + 1),
                ));
            }
            if names.contains(&name) {
                return Err(Error::data(
                    Location::file(path).line(1).column(&name),
                    "column name appears twice",
                ));
            }
            names.push(name);
        }
        Ok(Self {
            path: path.to_path_buf(),
            header: names,
            reader,
        })
    }

    /// Position of a required column; its absence fails the whole input (exit 65).
    pub fn index(&self, column: &str) -> Result<usize> {
        self.header.iter().position(|h| h == column).ok_or_else(|| {
            Error::data(
                Location::file(&self.path).line(1).column(column),
                format!(
                    "required column is missing (header: {})",
                    self.header.join(", ")
                ),
            )
        })
    }

    /// Reads the next record; returns its 1-based starting line.
    pub fn next(&mut self, record: &mut ByteRecord) -> Result<Option<u64>> {
        match self.reader.read_byte_record(record) {
            Ok(false) => Ok(None),
            Ok(true) => Ok(Some(record.position().map_or(0, |p| p.line()))),
            Err(e) => Err(csv_error(&self.path, e)),
        }
    }
}

fn csv_error(path: &Path, e: csv::Error) -> Error {
    let line = e.position().map(|p| p.line());
    match e.into_kind() {
        csv::ErrorKind::Io(io) => Error::io(path, io),
        other => {
            let mut loc = Location::file(path);
            if let Some(line) = line {
                loc = loc.line(line);
            }
            Error::data(loc, format!("malformed CSV: {other:?}"))
        }
    }
}

/// A field as trimmed UTF-8 text; `Err` for bytes that are not UTF-8, `Ok(None)` for blanks.
pub fn field(raw: &[u8]) -> std::result::Result<Option<&str>, ()> {
    let s = std::str::from_utf8(raw).map_err(|_| ())?.trim();
    Ok(if s.is_empty() { None } else { Some(s) })
}

/// What the audit reports per input column.
#[derive(Debug, Clone, Default)]
pub struct ColumnProfile {
    pub non_null: u64,
    /// The narrowest type every value so far fits. It only widens, so once a column is text
    /// its values are counted but no longer parsed.
    widest: Option<Inferred>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Inferred {
    Int64,
    Float64,
    Text,
}

impl ColumnProfile {
    pub fn observe(&mut self, value: Option<&str>) {
        let Some(v) = value else { return };
        self.non_null += 1;
        let floor = self.widest.unwrap_or(Inferred::Int64);
        let fits = if floor == Inferred::Text {
            Inferred::Text
        } else if floor == Inferred::Int64 && v.parse::<i64>().is_ok() {
            Inferred::Int64
        } else if v.parse::<f64>().is_ok_and(f64::is_finite) {
            Inferred::Float64
        } else {
            Inferred::Text
        };
        self.widest = Some(floor.max(fits));
    }

    pub fn inferred(&self) -> &'static str {
        match self.widest {
            None => "empty",
            Some(Inferred::Int64) => "int64",
            Some(Inferred::Float64) => "float64",
            Some(Inferred::Text) => "string",
        }
    }
}

/// Counts records identical to an earlier one over all columns (pandas' `duplicated().sum()`).
/// Keeps a 128-bit XXH3 fingerprint per record (16 bytes, not the record) and counts repeats by
/// sorting them once at the end, which needs half the memory of a hash set.
#[derive(Default)]
pub struct Duplicates {
    fingerprints: Vec<u128>,
}

impl Duplicates {
    pub fn observe(&mut self, record: &ByteRecord) {
        let mut hasher = Xxh3::new();
        for f in record.iter() {
            // The length first, so field boundaries are part of what is hashed.
            hasher.update(&(f.len() as u64).to_le_bytes());
            hasher.update(f);
        }
        self.fingerprints.push(hasher.digest128());
    }

    pub fn count(mut self) -> u64 {
        self.fingerprints.sort_unstable();
        let total = self.fingerprints.len();
        self.fingerprints.dedup();
        (total - self.fingerprints.len()) as u64
    }
}
