//! CSV reading shared by both modes: header checks, line numbers, per-column profiles and
//! duplicate detection over the raw records.

use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};

use csv::ByteRecord;
use xxhash_rust::xxh3::Xxh3;

use segflow_core::error::Location;
use segflow_core::{Error, Result};

use crate::Delimiter;
use crate::compressed::{self, Corrupt};

pub struct Csv {
    pub path: PathBuf,
    pub header: Vec<String>,
    reader: csv::Reader<Box<dyn Read + Send>>,
}

/// How a text file is laid out, and the columns it must have.
pub struct TextLayout<'a> {
    pub delimiter: Delimiter,
    /// The column names of a file without a header row.
    pub header: Option<&'a [String]>,
    pub required: Vec<&'a str>,
}

impl Csv {
    /// Opens `path` as `layout` describes it (delimiter, header row or given names) and
    /// checks that every required column is there.
    pub fn open(path: &Path, layout: &TextLayout<'_>) -> Result<Self> {
        let text = compressed::open(path)?;
        let (source, delimiter): (Box<dyn Read + Send>, u8) = match layout.delimiter {
            Delimiter::Char(c) => (Box::new(text), c),
            Delimiter::Whitespace => (Box::new(Blanks::new(text)), BLANK),
        };
        // Records end at '\n' only: with CRLF files the csv crate's default terminator reports
        // each record one line early. The '\r' left at the end of the last field is trimmed
        // with the other whitespace.
        let mut reader = csv::ReaderBuilder::new()
            .terminator(csv::Terminator::Any(b'\n'))
            .delimiter(delimiter)
            .flexible(true)
            .has_headers(layout.header.is_none())
            .from_reader(source);
        let csv = match layout.header {
            Some(names) => Self {
                path: path.to_path_buf(),
                header: names.to_vec(),
                reader,
            },
            None => {
                let header = reader
                    .byte_headers()
                    .map_err(|e| csv_error(path, e))?
                    .clone();
                let csv = Self {
                    path: path.to_path_buf(),
                    header: header_names(path, &header)?,
                    reader,
                };
                let required = &layout.required;
                if let Some(missing) = required
                    .iter()
                    .find(|c| !csv.header.contains(&c.to_string()))
                {
                    let line = header.iter().collect::<Vec<_>>().join(&delimiter);
                    let hint = other_delimiter(&line, layout.delimiter, required)
                        .map(|d| format!("; did you mean `delimiter: {}`?", d.yaml()))
                        .unwrap_or_default();
                    return Err(Error::data(
                        Location::file(path).line(1).column(*missing),
                        format!(
                            "required column is missing (header: {}){hint}",
                            csv.header.join(", ")
                        ),
                    ));
                }
                csv
            }
        };
        Ok(csv)
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
        csv::ErrorKind::Io(io) => {
            Corrupt::as_data_error(path, &io).unwrap_or_else(|| Error::io(path, io))
        }
        other => {
            let mut loc = Location::file(path);
            if let Some(line) = line {
                loc = loc.line(line);
            }
            Error::data(loc, format!("malformed CSV: {other:?}"))
        }
    }
}

/// The names of a header row: UTF-8, trimmed, non-empty and distinct.
fn header_names(path: &Path, header: &ByteRecord) -> Result<Vec<String>> {
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
    Ok(names)
}

/// The first other common delimiter that splits the header `line` into names holding every
/// `required` column: what the user most likely meant when one is missing. Whitespace comes
/// last, as it also splits the names of a file delimited by tabs.
fn other_delimiter(line: &[u8], current: Delimiter, required: &[&str]) -> Option<Delimiter> {
    let text = String::from_utf8_lossy(line);
    let text = text.trim_start_matches('\u{feff}');
    [b',', b';', b'\t', b'|']
        .map(Delimiter::Char)
        .into_iter()
        .chain([Delimiter::Whitespace])
        .filter(|&d| d != current)
        .find(|&d| {
            let names: Vec<&str> = match d {
                Delimiter::Whitespace => text.split_ascii_whitespace().collect(),
                Delimiter::Char(c) => text
                    .split(c as char)
                    .map(|n| n.trim().trim_matches('"'))
                    .collect(),
            };
            required.iter().all(|r| names.contains(r))
        })
}

/// The byte [`Blanks`] puts between fields. A space, so that a quoted field keeps its blanks
/// (each run as one space).
const BLANK: u8 = b' ';

/// Column-aligned text as single-delimited CSV, streamed: each run of spaces, tabs and
/// carriage returns inside a line becomes one [`BLANK`], and runs at either end of a line are
/// dropped (so CRLF line ends go too). Newlines are kept, so line numbers stay the file's.
struct Blanks<R> {
    inner: R,
    at_line_start: bool,
    /// A run of blanks was read after a field; it becomes a delimiter if another field follows
    /// on the same line.
    pending: bool,
    /// A byte that did not fit the caller's buffer after its delimiter.
    carry: Option<u8>,
}

impl<R: BufRead> Blanks<R> {
    fn new(inner: R) -> Self {
        Self {
            inner,
            at_line_start: true,
            pending: false,
            carry: None,
        }
    }
}

impl<R: BufRead> Read for Blanks<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        let mut n = 0;
        if let Some(b) = self.carry.take() {
            out[0] = b;
            n = 1;
        }
        // A chunk of blanks alone yields nothing: read on until there is output or the end.
        loop {
            let input = self.inner.fill_buf()?;
            if input.is_empty() {
                return Ok(n);
            }
            let mut used = 0;
            for &b in input {
                if n == out.len() {
                    break;
                }
                used += 1;
                match b {
                    b' ' | b'\t' | b'\r' => self.pending = !self.at_line_start,
                    b'\n' => {
                        self.pending = false;
                        self.at_line_start = true;
                        out[n] = b;
                        n += 1;
                    }
                    _ => {
                        self.at_line_start = false;
                        if std::mem::take(&mut self.pending) {
                            out[n] = BLANK;
                            n += 1;
                            if n == out.len() {
                                self.carry = Some(b);
                                continue;
                            }
                        }
                        out[n] = b;
                        n += 1;
                    }
                }
            }
            self.inner.consume(used);
            if n > 0 {
                return Ok(n);
            }
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
/// A 128-bit XXH3 fingerprint stands for each record (16 bytes, not the record). Only counting,
/// it keeps every fingerprint and counts repeats by sorting them once at the end, which needs
/// half the memory of a hash set. With `dedupe: exact` it needs the set anyway, to tell each
/// record whether an identical one came before it, and counts the repeats the set finds.
pub struct Duplicates {
    fingerprints: Vec<u128>,
    seen: Option<foldhash::HashSet<u128>>,
    repeats: u64,
    /// Whether the repeats are counted at all: scoring reads no audit count.
    counted: bool,
}

impl Duplicates {
    /// `remove`: whether [`Duplicates::observe`] must answer as records come; `count`: whether
    /// [`Duplicates::count`] is wanted (without either, nothing is kept).
    pub fn new(remove: bool, count: bool) -> Self {
        Self {
            fingerprints: Vec::new(),
            seen: remove.then(foldhash::HashSet::default),
            repeats: 0,
            counted: count,
        }
    }

    /// Records `record`; true when it is to be removed as a repeat of an earlier record
    /// (only with `remove`). A 128-bit hash of the fields stands for the record: two
    /// different records share one with odds far below any data error.
    pub fn observe(&mut self, record: &ByteRecord) -> bool {
        if self.seen.is_none() && !self.counted {
            return false;
        }
        let mut hasher = Xxh3::new();
        let last = record.len().saturating_sub(1);
        for (i, f) in record.iter().enumerate() {
            // Records end at '\n' (see `Csv::open`), so in a CRLF file every record's last
            // field keeps its '\r' but a last line without a line ending has none: the '\r'
            // is the line ending's, not the value's.
            let f = match f {
                [rest @ .., b'\r'] if i == last => rest,
                _ => f,
            };
            // The length first, so field boundaries are part of what is hashed.
            hasher.update(&(f.len() as u64).to_le_bytes());
            hasher.update(f);
        }
        let fingerprint = hasher.digest128();
        match self.seen.as_mut() {
            Some(seen) => {
                let repeat = !seen.insert(fingerprint);
                self.repeats += repeat as u64;
                repeat
            }
            None => {
                self.fingerprints.push(fingerprint);
                false
            }
        }
    }

    /// The records that repeat an earlier one; `None` when they were not counted.
    pub fn count(mut self) -> Option<u64> {
        if !self.counted {
            return None;
        }
        if self.seen.is_some() {
            return Some(self.repeats);
        }
        self.fingerprints.sort_unstable();
        let total = self.fingerprints.len();
        self.fingerprints.dedup();
        Some((total - self.fingerprints.len()) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufReader;

    /// Everything `Blanks` makes of `text`, read through a buffer of `size` bytes.
    fn collapsed(text: &str, size: usize) -> String {
        let mut blanks = Blanks::new(BufReader::with_capacity(3, text.as_bytes()));
        let mut out = Vec::new();
        let mut buf = vec![0; size];
        loop {
            let n = blanks.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_crlf_records_line_ending_is_not_part_of_its_fingerprint() {
        // A CRLF file's last line without a line ending repeats the first record; a '\r'
        // inside a field is the value's and still tells records apart.
        let records = [
            vec!["a", "x\r", "1\r"],
            vec!["a", "x", "1\r"],
            vec!["a", "x\r", "1"],
        ];
        for remove in [false, true] {
            let mut duplicates = Duplicates::new(remove, true);
            let repeats: Vec<bool> = records
                .iter()
                .map(|r| duplicates.observe(&ByteRecord::from(r.clone())))
                .collect();
            if remove {
                assert_eq!(repeats, [false, false, true]);
            }
            assert_eq!(duplicates.count(), Some(1));
        }
    }

    #[test]
    fn runs_of_blanks_become_one_delimiter_and_line_ends_keep_their_place() {
        let text = " id   date\tvalue  \r\n  7 \t 20240101    1.5\r\n\n      \nx\n   ";
        for size in [1, 2, 3, 64] {
            assert_eq!(
                collapsed(text, size),
                "id date value\n7 20240101 1.5\n\n\nx\n",
                "buffer of {size}"
            );
        }
    }

    #[test]
    fn the_hint_names_the_delimiter_that_finds_every_required_column() {
        let required = ["customer_id", "dollar_value"];
        let hint = |line: &str, current| other_delimiter(line.as_bytes(), current, &required);
        let comma = Delimiter::Char(b',');
        assert_eq!(
            hint(" customer_id  date   dollar_value", comma),
            Some(Delimiter::Whitespace)
        );
        assert_eq!(
            hint("customer_id;date;dollar_value", comma),
            Some(Delimiter::Char(b';'))
        );
        assert_eq!(
            hint("customer_id\tdollar_value", comma),
            Some(Delimiter::Char(b'\t'))
        );
        assert_eq!(
            hint("customer_id, dollar_value", Delimiter::Whitespace),
            Some(comma)
        );
        assert_eq!(hint("customer_id;date;value", comma), None);
    }
}
