//! One source's records parsed into typed columns, buffered a batch at a time.
//!
//! A record becomes the contact's index, its clock, its value and category (the roles), and
//! the extra columns the stage writes or computes with: kept columns, hashed second
//! identifiers, and the source columns that `derive` and `where` read.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, Float64Array, RecordBatch, StringArray, TimestampMicrosecondArray, UInt32Array,
    UInt64Array,
};
use csv::ByteRecord;

use segflow_core::Result;
use segflow_core::artifact::batch;

use crate::clock::{Clock, ClockFormats, parse_clock};
use crate::contacts::Contacts;
use crate::privacy::{IdHasher, normalize_id};
use crate::reader::field;
use crate::{Formats, ValueType};

/// Why a record was rejected: the offending field and the reason.
pub struct Reject {
    pub field: String,
    pub reason: String,
    /// The offending text, unless the field is the contact or a PII column.
    pub value: Option<String>,
}

impl Reject {
    fn new(field: &str, reason: &str, value: Option<&str>) -> Self {
        Self {
            field: field.to_string(),
            reason: reason.to_string(),
            value: value.map(str::to_string),
        }
    }
}

/// How an extra source column is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    /// As text, or as a number when declared so in `types`.
    Typed(ValueType),
    /// As the pseudonym of its trimmed text (`privacy.hash`).
    Hashed,
}

/// A source column besides the roles that a record is read into.
#[derive(Debug, Clone)]
pub struct Extra {
    pub col: usize,
    /// The source column's name, by which expressions and the output know it.
    pub name: String,
    pub reading: Reading,
}

/// Where each role of a record is read from in one source.
pub struct Layout {
    pub contact: usize,
    pub clock: Clock,
    pub value: Option<usize>,
    pub category: Option<usize>,
    pub extras: Vec<Extra>,
}

/// What the stage settings say about reading values.
pub struct Parsing<'a> {
    pub header: &'a [String],
    pub formats: &'a Formats,
    pub clock_formats: &'a ClockFormats,
    pub value_min: Option<f64>,
    pub ids: &'a IdHasher,
}

enum Buffer {
    Number(Vec<Option<f64>>),
    Text(Vec<Option<String>>),
}

/// Parsed rows not yet handed on: at most one batch.
pub struct Columns {
    pub line: Vec<u64>,
    /// Indices into [`Contacts`].
    pub contact: Vec<u32>,
    pub ts: Vec<i64>,
    value: Option<Vec<Option<f64>>>,
    category: Option<Vec<Option<String>>>,
    extras: Vec<Buffer>,
}

/// Internal column names of a parsed batch (the extras keep their source names, which cannot
/// collide: these start with a character no CSV header of segflow's keeps).
pub const CONTACT: &str = "\u{1}contact";
pub const TS: &str = "\u{1}ts";
pub const VALUE: &str = "\u{1}value";
pub const CATEGORY: &str = "\u{1}category";
pub const LINE: &str = "\u{1}line";

impl Columns {
    pub fn new(layout: &Layout) -> Self {
        Self {
            line: Vec::new(),
            contact: Vec::new(),
            ts: Vec::new(),
            value: layout.value.map(|_| Vec::new()),
            category: layout.category.map(|_| Vec::new()),
            extras: layout
                .extras
                .iter()
                .map(|e| match e.reading {
                    Reading::Typed(ValueType::Number) => Buffer::Number(Vec::new()),
                    _ => Buffer::Text(Vec::new()),
                })
                .collect(),
        }
    }

    pub fn len(&self) -> usize {
        self.line.len()
    }

    /// Parses `record` and buffers it, or says why it is rejected.
    pub fn push(
        &mut self,
        record: &ByteRecord,
        line: u64,
        layout: &Layout,
        parsing: &Parsing<'_>,
        contacts: &mut Contacts,
        hashed: &mut [foldhash::HashMap<Box<str>, Box<str>>],
    ) -> Pushed {
        let header = parsing.header;
        let clock = parse_clock(
            record,
            &layout.clock,
            header,
            parsing.formats,
            parsing.clock_formats,
        );
        let value = layout
            .value
            .map(|i| parse_value(&record[i], &header[i], parsing.value_min))
            .transpose();
        Pushed {
            clock_ok: clock.is_ok(),
            value_ok: value.is_ok(),
            result: self.push_parsed(
                record, line, layout, parsing, contacts, hashed, clock, value,
            ),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn push_parsed(
        &mut self,
        record: &ByteRecord,
        line: u64,
        layout: &Layout,
        parsing: &Parsing<'_>,
        contacts: &mut Contacts,
        hashed: &mut [foldhash::HashMap<Box<str>, Box<str>>],
        clock: std::result::Result<i64, Reject>,
        value: std::result::Result<Option<f64>, Reject>,
    ) -> std::result::Result<(), Reject> {
        let header = parsing.header;
        let contact = parse_contact(record, layout.contact, header, parsing.ids, contacts, line)?;
        let ts = clock?;
        let value = value?;
        let category = layout
            .category
            .map(|i| text(&record[i], &header[i]))
            .transpose()?;
        // Every field is checked before any buffer grows, so the buffers stay aligned.
        let mut extras = Vec::with_capacity(layout.extras.len());
        for (k, extra) in layout.extras.iter().enumerate() {
            let raw = text(&record[extra.col], &extra.name)?;
            extras.push(match extra.reading {
                Reading::Typed(ValueType::Number) => {
                    Parsed::Number(raw.map(|v| number(&v, &extra.name)).transpose()?)
                }
                Reading::Typed(ValueType::Text) => Parsed::Text(raw),
                Reading::Hashed => Parsed::Text(raw.as_deref().and_then(normalize_id).map(|id| {
                    let cache = &mut hashed[k];
                    match cache.get(id) {
                        Some(h) => h.to_string(),
                        None => {
                            let h = parsing.ids.id(id);
                            cache.insert(id.into(), h.as_str().into());
                            h
                        }
                    }
                })),
            });
        }
        self.line.push(line);
        self.contact.push(contact);
        self.ts.push(ts);
        if let Some(buffer) = &mut self.value {
            buffer.push(value);
        }
        if let Some(buffer) = &mut self.category {
            buffer.push(category.flatten());
        }
        for (buffer, parsed) in self.extras.iter_mut().zip(extras) {
            match (buffer, parsed) {
                (Buffer::Number(b), Parsed::Number(v)) => b.push(v),
                (Buffer::Text(b), Parsed::Text(v)) => b.push(v),
                _ => unreachable!("buffers are made from the same layout"),
            }
        }
        Ok(())
    }

    /// Moves the buffered rows into a batch of the internal column names and the extras'
    /// source names, leaving the buffers empty.
    pub fn take_batch(&mut self, layout: &Layout) -> Result<RecordBatch> {
        let mut arrays: Vec<(&str, ArrayRef)> = vec![
            (
                CONTACT,
                Arc::new(UInt32Array::from(std::mem::take(&mut self.contact))),
            ),
            (
                TS,
                Arc::new(TimestampMicrosecondArray::from(std::mem::take(
                    &mut self.ts,
                ))),
            ),
        ];
        if let Some(value) = &mut self.value {
            arrays.push((VALUE, Arc::new(Float64Array::from(std::mem::take(value)))));
        }
        if let Some(category) = &mut self.category {
            arrays.push((
                CATEGORY,
                Arc::new(StringArray::from(std::mem::take(category))),
            ));
        }
        for (extra, buffer) in layout.extras.iter().zip(&mut self.extras) {
            let array: ArrayRef = match buffer {
                Buffer::Number(b) => Arc::new(Float64Array::from(std::mem::take(b))),
                Buffer::Text(b) => Arc::new(StringArray::from(std::mem::take(b))),
            };
            arrays.push((extra.name.as_str(), array));
        }
        arrays.push((
            LINE,
            Arc::new(UInt64Array::from(std::mem::take(&mut self.line))),
        ));
        batch(arrays)
    }
}

/// The outcome of parsing one record, and whether its clock and value parsed (for the
/// audit's parse rates, whatever else failed).
pub struct Pushed {
    pub clock_ok: bool,
    pub value_ok: bool,
    pub result: std::result::Result<(), Reject>,
}

enum Parsed {
    Number(Option<f64>),
    Text(Option<String>),
}

fn text(raw: &[u8], name: &str) -> std::result::Result<Option<String>, Reject> {
    field(raw)
        .map(|v| v.map(str::to_string))
        .map_err(|_| Reject::new(name, "not valid UTF-8", None))
}

fn number(text: &str, name: &str) -> std::result::Result<f64, Reject> {
    text.parse()
        .ok()
        .filter(|x: &f64| x.is_finite())
        .ok_or_else(|| Reject::new(name, "not a finite number", Some(text)))
}

fn parse_contact(
    record: &ByteRecord,
    col: usize,
    header: &[String],
    hasher: &IdHasher,
    contacts: &mut Contacts,
    line: u64,
) -> std::result::Result<u32, Reject> {
    let name = &header[col];
    let raw = match field(&record[col]) {
        Err(()) => return Err(Reject::new(name, "not valid UTF-8", None)),
        Ok(None) => return Err(Reject::new(name, "empty contact", None)),
        Ok(Some(raw)) => raw,
    };
    let canonical = normalize_id(raw).ok_or_else(|| Reject::new(name, "empty contact", None))?;
    Ok(contacts.index(canonical, hasher, line))
}

/// Whether the contact field of `record` is blank (empty after trimming).
pub fn blank_contact(record: &ByteRecord, col: usize) -> bool {
    matches!(field(&record[col]), Ok(None)) || record[col].iter().all(u8::is_ascii_whitespace)
}

fn parse_value(raw: &[u8], name: &str, value_min: Option<f64>) -> std::result::Result<f64, Reject> {
    let v = match field(raw) {
        Ok(Some(v)) => v,
        Ok(None) => return Err(Reject::new(name, "empty", None)),
        Err(()) => return Err(Reject::new(name, "not valid UTF-8", None)),
    };
    let x = number(v, name)?;
    if let Some(min) = value_min.filter(|&min| x < min) {
        let reason = if min == 0.0 {
            "negative value".to_string()
        } else {
            format!("below value_min {min}")
        };
        return Err(Reject::new(name, &reason, Some(v)));
    }
    Ok(x)
}
