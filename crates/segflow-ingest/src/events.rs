//! Events mode: one output row per accepted CSV record.

use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, channel, sync_channel};

use arrow::array::{
    ArrayRef, Float64Array, RecordBatch, StringArray, TimestampMicrosecondArray, UInt64Array,
};
use chrono::NaiveTime;
use chrono::format::{Item, Numeric, Parsed, StrftimeItems};
use csv::ByteRecord;

use segflow_core::artifact::{META_ID_COLUMN, META_TIME_OF_DAY, batch};
use segflow_core::calendar::MICROS_PER_SECOND;
use segflow_core::error::Location;
use segflow_core::stage::{OutputDir, StageCtx, StagedStream};
use segflow_core::{Error, Result};

use crate::audit::{self, ColumnAudit, Counts, EventAudit, EventTally, Rejects};
use crate::privacy::{IdHasher, normalize_id};
use crate::reader::{ColumnProfile, Csv, Duplicates, field};
use crate::{Outputs, Params, SECONDS_SINCE, UNIX_MILLIS, UNIX_SECONDS};

enum Clock {
    Timestamp { col: usize },
    DateTime { date: usize, time: Option<usize> },
}

struct Layout {
    contact: usize,
    clock: Clock,
    value: Option<usize>,
    category: Option<usize>,
    keep: Vec<usize>,
}

/// Accepted rows not yet handed to the Parquet writer: at most one batch.
struct Columns {
    line: Vec<u64>,
    /// Indices into [`Contacts`].
    contact: Vec<u32>,
    ts: Vec<i64>,
    value: Option<Vec<f64>>,
    category: Option<Vec<Option<String>>>,
    keep: Vec<Vec<Option<String>>>,
}

impl Columns {
    fn new(layout: &Layout) -> Self {
        Self {
            line: Vec::new(),
            contact: Vec::new(),
            ts: Vec::new(),
            value: layout.value.map(|_| Vec::new()),
            category: layout.category.map(|_| Vec::new()),
            keep: vec![Vec::new(); layout.keep.len()],
        }
    }

    fn len(&self) -> usize {
        self.line.len()
    }

    /// Moves the buffered rows into a record batch, leaving the buffers empty.
    fn take_batch(&mut self, keep_names: &[String], contacts: &Contacts) -> Result<RecordBatch> {
        let ids =
            StringArray::from_iter_values(self.contact.iter().map(|&c| &*contacts.ids[c as usize]));
        self.contact.clear();
        let mut arrays: Vec<(&str, ArrayRef)> = vec![
            ("contact_id", Arc::new(ids)),
            (
                "ts",
                Arc::new(TimestampMicrosecondArray::from(std::mem::take(
                    &mut self.ts,
                ))),
            ),
        ];
        if let Some(value) = &mut self.value {
            arrays.push(("value", Arc::new(Float64Array::from(std::mem::take(value)))));
        }
        if let Some(category) = &mut self.category {
            arrays.push((
                "category",
                Arc::new(StringArray::from(std::mem::take(category))),
            ));
        }
        for (name, kept) in keep_names.iter().zip(&mut self.keep) {
            arrays.push((
                name.as_str(),
                Arc::new(StringArray::from(std::mem::take(kept))),
            ));
        }
        arrays.push((
            "source_line",
            Arc::new(UInt64Array::from(std::mem::take(&mut self.line))),
        ));
        batch(arrays)
    }
}

struct Row {
    contact: u32,
    ts: i64,
    value: Option<f64>,
    category: Option<String>,
}

/// Why a record was rejected: the offending field and the reason.
struct Reject {
    field: String,
    reason: String,
    /// The offending text, unless the field is the contact or a PII column.
    value: Option<String>,
}

/// Every contact seen, by its canonical raw text (so each is hashed once), with its
/// pseudonymous id, the line it first appeared on, and whether a row of it was accepted.
/// Memory grows with contacts, not rows.
#[derive(Default)]
struct Contacts {
    /// foldhash rather than SipHash: one lookup per row.
    by_raw: foldhash::HashMap<Box<str>, u32>,
    ids: Vec<Box<str>>,
    first_line: Vec<u64>,
    accepted: Vec<bool>,
}

impl Contacts {
    fn index(&mut self, canonical: &str, hasher: &IdHasher, line: u64) -> u32 {
        if let Some(&i) = self.by_raw.get(canonical) {
            return i;
        }
        let i = self.ids.len() as u32;
        self.ids.push(hasher.id(canonical).into());
        self.first_line.push(line);
        self.accepted.push(false);
        self.by_raw.insert(canonical.into(), i);
        i
    }

    fn accepted(&self) -> u64 {
        self.accepted.iter().filter(|&&a| a).count() as u64
    }

    /// Refuses two contacts with one id, naming the line where the second first appeared.
    fn check_distinct(&self, path: &Path, column: &str) -> Result<()> {
        let mut order: Vec<usize> = (0..self.ids.len()).collect();
        order.sort_unstable_by(|&a, &b| self.ids[a].cmp(&self.ids[b]));
        for pair in order.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            if self.ids[a] == self.ids[b] {
                let line = self.first_line[a].max(self.first_line[b]);
                return Err(Error::data(
                    Location::file(path).line(line).column(column),
                    format!(
                        "two different contacts hash to the same id {}; raise privacy.id.hex_chars",
                        self.ids[a]
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// Rows per Parquet batch: a multiple of the writer's 1,024-row mini-batch, so the file's
/// bytes do not depend on how the input was cut.
const BATCH_ROWS: usize = segflow_core::artifact::ParquetBatches::BATCH_ROWS;

pub fn run(
    input: &Path,
    params: &Params,
    ids: &IdHasher,
    out: &mut OutputDir,
    ctx: &StageCtx<'_>,
) -> Result<Outputs> {
    let cols = params
        .columns
        .as_ref()
        .expect("validated: events mode has columns");
    let csv = Csv::open(input, params)?;
    let layout = Layout {
        contact: csv.index(&cols.contact)?,
        clock: match (&cols.timestamp, &cols.date) {
            (Some(ts), _) => Clock::Timestamp {
                col: csv.index(ts)?,
            },
            (None, Some(date)) => Clock::DateTime {
                date: csv.index(date)?,
                time: cols.time.as_ref().map(|t| csv.index(t)).transpose()?,
            },
            (None, None) => unreachable!("validated: a clock column is set"),
        },
        value: cols.value.as_ref().map(|v| csv.index(v)).transpose()?,
        category: cols.category.as_ref().map(|c| csv.index(c)).transpose()?,
        keep: params
            .keep
            .iter()
            .map(|k| csv.index(k))
            .collect::<Result<_>>()?,
    };
    let formats = ClockFormats::new(params)?;
    let header = csv.header.clone();
    let n_fields = header.len();
    let mut rejects = Rejects::default();
    let mut columns = Columns::new(&layout);
    let mut contacts = Contacts::default();
    let mut tally = EventTally::default();
    let mut values: Vec<f64> = Vec::new();
    let (mut rows_in, mut accepted, mut ts_ok, mut value_ok) = (0u64, 0u64, 0u64, 0u64);

    let time_of_day = formats.time_of_day(&layout.clock);
    let roles = roles(params, &header);
    let mut extra = vec![
        (META_ID_COLUMN.to_string(), "contact_id".to_string()),
        (
            "segflow.source_columns".to_string(),
            serde_json::to_string(&roles).expect("map serialises"),
        ),
    ];
    // Only a log without times says so, so logs with times keep their bytes.
    if !time_of_day {
        extra.push((META_TIME_OF_DAY.to_string(), "false".to_string()));
    }
    let schema = Columns::new(&layout)
        .take_batch(&params.keep, &contacts)?
        .schema();
    let events = out.stream("events", schema, &extra)?;

    // Three threads in a pipeline, so reading, parsing and Parquet encoding overlap: the
    // reader splits records (and profiles and fingerprints them), this thread parses and
    // assigns contacts in input order, the writer encodes batches. Each hands over in order,
    // so the output does not depend on how the work was spread.
    (ctx.progress)("reading CSV");
    let (events, profiles, duplicates) = std::thread::scope(|scope| -> Result<_> {
        let (records_tx, records_rx) = sync_channel::<Result<Chunk>>(4);
        let (spent_tx, spent_rx) = channel::<Chunk>();
        let reader = scope.spawn(move || read_records(csv, records_tx, spent_rx));
        let (batches_tx, batches_rx) = sync_channel::<RecordBatch>(2);
        let writer = scope.spawn(move || -> Result<StagedStream> {
            let mut events = events;
            for batch in batches_rx {
                events.write(&batch)?;
            }
            Ok(events)
        });
        let parsed = (|| -> Result<()> {
            for chunk in &records_rx {
                let chunk = chunk?;
                for (line, record) in &chunk {
                    let line = *line;
                    rows_in += 1;
                    if rows_in % 1_000_000 == 0 {
                        (ctx.progress)(&format!("{rows_in} rows read"));
                    }
                    if record.len() != n_fields {
                        rejects.push_wrong_width(line, n_fields, record.len());
                        continue;
                    }
                    let clock = parse_clock(record, &layout, &header, params, &formats);
                    ts_ok += clock.is_ok() as u64;
                    let value = parse_value(record, &layout, &header, params);
                    value_ok += value.is_ok() as u64;
                    let row = parse_contact(record, &layout, &header, ids, &mut contacts, line)
                        .and_then(|contact| {
                            let ts = clock?;
                            let value = value?;
                            let category = text(record, layout.category, &header)?;
                            Ok(Row {
                                contact,
                                ts,
                                value,
                                category,
                            })
                        });
                    match row {
                        Ok(row) => {
                            accepted += 1;
                            tally.observe(row.ts);
                            contacts.accepted[row.contact as usize] = true;
                            columns.line.push(line);
                            columns.contact.push(row.contact);
                            columns.ts.push(row.ts);
                            if let (Some(buffer), Some(v)) = (&mut columns.value, row.value) {
                                buffer.push(v);
                                values.push(v);
                            }
                            if let Some(buffer) = &mut columns.category {
                                buffer.push(row.category);
                            }
                            for (k, &i) in layout.keep.iter().enumerate() {
                                columns.keep[k]
                                    .push(field(&record[i]).ok().flatten().map(str::to_string));
                            }
                            if columns.len() == BATCH_ROWS
                                && batches_tx
                                    .send(columns.take_batch(&params.keep, &contacts)?)
                                    .is_err()
                            {
                                // The writer stopped on an error, which joining it returns.
                                return Ok(());
                            }
                        }
                        Err(r) => rejects.push(line, Some(r.field), r.reason, r.value),
                    }
                }
                // The reader may have stopped; then the chunk is simply dropped.
                let _ = spent_tx.send(chunk);
            }
            if columns.len() > 0 {
                let _ = batches_tx.send(columns.take_batch(&params.keep, &contacts)?);
            }
            Ok(())
        })();
        drop(batches_tx);
        drop(records_rx);
        let events = writer.join().expect("the writer thread does not panic");
        let (profiles, duplicates) = reader.join().expect("the reader thread does not panic");
        parsed?;
        Ok((events?, profiles, duplicates))
    })?;
    let rejected = rejects.len() as u64;
    if rows_in != accepted + rejected {
        return Err(Error::Internal(format!(
            "row accounting broken: {rows_in} in, {accepted} accepted, {rejected} rejected"
        )));
    }
    if rows_in == 0 {
        return Err(Error::data(
            Location::file(input),
            "no data rows after the header",
        ));
    }
    rejects.check_fraction(input, rows_in, params.max_reject_fraction)?;
    contacts.check_distinct(input, &cols.contact)?;

    out.finish(events)?;
    out.write("rejects", &rejects.batch()?, &[])?;

    (ctx.progress)("writing audit");
    let columns_audit: Vec<ColumnAudit> = header
        .iter()
        .zip(&profiles)
        .map(|(name, p)| ColumnAudit {
            column: name.clone(),
            role: roles.get(name).cloned().unwrap_or_else(|| "ignored".into()),
            inferred_type: p.inferred().to_string(),
            type_source: "inferred",
            non_null: p.non_null,
            rows: rows_in - rejects.wrong_width,
        })
        .collect();
    let event_audit = EventAudit {
        counts: Counts {
            rows_in,
            columns: n_fields as u64,
            accepted,
            rejected,
            duplicate_rows: duplicates.count(),
        },
        distinct_contacts: contacts.accepted(),
        timestamp_parse_rate: ts_ok as f64 / rows_in as f64,
        value_parse_rate: layout.value.map(|_| value_ok as f64 / rows_in as f64),
        tally,
        values: layout.value.map(|_| values),
    };
    audit::write_event_audit(out, event_audit, &columns_audit, &params.audit, time_of_day)?;
    Ok(Outputs {
        rows_in,
        accepted,
        rejected,
    })
}

/// Records with their starting lines, handed from the reader thread in input order.
type Chunk = Vec<(u64, ByteRecord)>;

const CHUNK_RECORDS: usize = 4096;

/// The reader thread: splits the CSV into records, sends them on in chunks (reusing the
/// buffers of chunks sent back), and profiles and fingerprints every record on the way.
fn read_records(
    mut csv: Csv,
    records: SyncSender<Result<Chunk>>,
    spent: Receiver<Chunk>,
) -> (Vec<ColumnProfile>, Duplicates) {
    let n_fields = csv.header.len();
    let mut profiles = vec![ColumnProfile::default(); n_fields];
    let mut duplicates = Duplicates::default();
    loop {
        let mut chunk = spent.try_recv().unwrap_or_default();
        let mut spare: Vec<ByteRecord> = chunk.drain(..).map(|(_, r)| r).collect();
        let mut end = false;
        while chunk.len() < CHUNK_RECORDS {
            let mut record = spare.pop().unwrap_or_default();
            match csv.next(&mut record) {
                Ok(Some(line)) => {
                    duplicates.observe(&record);
                    if record.len() == n_fields {
                        for (i, profile) in profiles.iter_mut().enumerate() {
                            profile.observe(field(&record[i]).ok().flatten());
                        }
                    }
                    chunk.push((line, record));
                }
                Ok(None) => {
                    end = true;
                    break;
                }
                Err(e) => {
                    if !chunk.is_empty() {
                        let _ = records.send(Ok(chunk));
                    }
                    let _ = records.send(Err(e));
                    return (profiles, duplicates);
                }
            }
        }
        if !chunk.is_empty() && records.send(Ok(chunk)).is_err() {
            return (profiles, duplicates);
        }
        if end {
            return (profiles, duplicates);
        }
    }
}

/// What each source column became, for the audit and the artifact metadata.
fn roles(params: &Params, header: &[String]) -> std::collections::BTreeMap<String, String> {
    let cols = params.columns.as_ref().expect("events mode");
    let mut roles = std::collections::BTreeMap::new();
    let mut set = |c: &Option<String>, role: &str| {
        if let Some(c) = c {
            roles.insert(c.clone(), role.to_string());
        }
    };
    set(
        &Some(cols.contact.clone()),
        "contact (hashed into contact_id)",
    );
    set(&cols.timestamp, "timestamp");
    set(&cols.date, "date");
    set(&cols.time, "time");
    set(&cols.value, "value");
    set(&cols.category, "category");
    for k in &params.keep {
        roles.insert(k.clone(), "kept".into());
    }
    for d in &params.privacy.drop {
        roles.insert(d.clone(), "dropped (PII)".into());
    }
    roles.retain(|k, _| header.contains(k));
    roles
}

fn text(
    record: &ByteRecord,
    col: Option<usize>,
    header: &[String],
) -> std::result::Result<Option<String>, Reject> {
    let Some(i) = col else { return Ok(None) };
    field(&record[i])
        .map(|v| v.map(str::to_string))
        .map_err(|_| Reject {
            field: header[i].clone(),
            reason: "not valid UTF-8".into(),
            value: None,
        })
}

fn parse_contact(
    record: &ByteRecord,
    layout: &Layout,
    header: &[String],
    hasher: &IdHasher,
    contacts: &mut Contacts,
    line: u64,
) -> std::result::Result<u32, Reject> {
    let reject = |reason: &str| Reject {
        field: header[layout.contact].clone(),
        reason: reason.into(),
        value: None,
    };
    let raw = match field(&record[layout.contact]) {
        Err(()) => return Err(reject("not valid UTF-8")),
        Ok(None) => return Err(reject("empty contact")),
        Ok(Some(raw)) => raw,
    };
    let canonical = normalize_id(raw).ok_or_else(|| reject("empty contact"))?;
    Ok(contacts.index(canonical, hasher, line))
}

/// How one `formats.timestamp` entry reads a field.
enum TimestampFormat {
    /// A chrono format, compiled once rather than once per row; one without an hour field
    /// reads a date, at midnight.
    Chrono {
        items: Vec<Item<'static>>,
        has_hour: bool,
    },
    /// A decimal count of `unit` microseconds after `origin` (microseconds since the epoch).
    Count { unit: i64, origin: i64 },
}

impl TimestampFormat {
    fn chrono(items: Vec<Item<'static>>) -> Self {
        let has_hour = items.iter().any(|item| {
            matches!(
                item,
                Item::Numeric(Numeric::Hour | Numeric::Hour12 | Numeric::Timestamp, _)
            )
        });
        TimestampFormat::Chrono { items, has_hour }
    }

    fn parse(&self, text: &str) -> Option<i64> {
        match self {
            TimestampFormat::Chrono { items, has_hour } => {
                let datetime = if *has_hour {
                    parse_with(text, items, |p| p.to_naive_datetime_with_offset(0))?
                } else {
                    parse_with(text, items, Parsed::to_naive_date)?.and_time(NaiveTime::MIN)
                };
                let utc = datetime.and_utc();
                Some(utc.timestamp() * MICROS_PER_SECOND + i64::from(utc.timestamp_subsec_micros()))
            }
            TimestampFormat::Count { unit, origin } => {
                let micros = decimal_micros(text, *unit)?.checked_add(*origin)?;
                // Beyond chrono's calendar the audit and features could not place the event.
                chrono::DateTime::from_timestamp_micros(micros).map(|_| micros)
            }
        }
    }

    /// Whether the format reads a time of day (an hour field, or a count of seconds).
    fn has_time_of_day(&self) -> bool {
        match self {
            TimestampFormat::Chrono { has_hour, .. } => *has_hour,
            TimestampFormat::Count { .. } => true,
        }
    }
}

/// `text` (`-12`, `1641052981.25`, `+.5`) times `unit` microseconds, rounded to the nearest
/// microsecond; `None` for anything else (exponents, blanks inside, overflow).
fn decimal_micros(text: &str, unit: i64) -> Option<i64> {
    let (negative, digits) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let is_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.len() + fraction.len() == 0 || !is_digits(whole) || !is_digits(fraction) {
        return None;
    }
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    // Exact integer arithmetic: f64 would lose microseconds on today's epoch values.
    let mut micros = whole.checked_mul(unit)?;
    let mut scale = unit;
    for d in fraction.bytes().map(|d| i64::from(d - b'0')) {
        if scale < 10 {
            // The first digit below a microsecond rounds; the rest cannot change that.
            micros = micros.checked_add(i64::from(d >= 5))?;
            break;
        }
        scale /= 10;
        micros = micros.checked_add(d * scale)?;
    }
    Some(if negative { -micros } else { micros })
}

/// The configured formats, compiled once rather than once per row.
struct ClockFormats {
    timestamp: Vec<TimestampFormat>,
    date: Vec<Item<'static>>,
    time: Vec<Item<'static>>,
}

impl ClockFormats {
    fn new(params: &Params) -> Result<Self> {
        let compile = |format: &str, key: String| {
            StrftimeItems::new(format).parse_to_owned().map_err(|_| {
                Error::config("", key, format!("`{format}` is not a valid chrono format"))
            })
        };
        let f = &params.formats;
        let origin = f.origin_micros()?;
        Ok(Self {
            timestamp: f
                .timestamp
                .iter()
                .enumerate()
                .map(|(i, t)| match t.as_str() {
                    UNIX_SECONDS => Ok(TimestampFormat::Count {
                        unit: MICROS_PER_SECOND,
                        origin: 0,
                    }),
                    UNIX_MILLIS => Ok(TimestampFormat::Count {
                        unit: MICROS_PER_SECOND / 1000,
                        origin: 0,
                    }),
                    SECONDS_SINCE => Ok(TimestampFormat::Count {
                        unit: MICROS_PER_SECOND,
                        origin: origin.expect("validated: seconds_since has an origin"),
                    }),
                    _ => compile(t, format!("formats.timestamp[{i}]")).map(TimestampFormat::chrono),
                })
                .collect::<Result<_>>()?,
            date: compile(&f.date, "formats.date".into())?,
            time: compile(&f.time, "formats.time".into())?,
        })
    }

    /// Whether accepted events can carry a time of day: not when only a date is read.
    fn time_of_day(&self, clock: &Clock) -> bool {
        match clock {
            Clock::Timestamp { .. } => self.timestamp.iter().any(TimestampFormat::has_time_of_day),
            Clock::DateTime { time, .. } => time.is_some(),
        }
    }
}

/// What `parse_from_str` does, with a compiled format.
fn parse_with<T>(
    text: &str,
    items: &[Item<'static>],
    finish: impl FnOnce(&Parsed) -> chrono::ParseResult<T>,
) -> Option<T> {
    let mut parsed = Parsed::new();
    chrono::format::parse(&mut parsed, text, items.iter()).ok()?;
    finish(&parsed).ok()
}

fn parse_clock(
    record: &ByteRecord,
    layout: &Layout,
    header: &[String],
    params: &Params,
    formats: &ClockFormats,
) -> std::result::Result<i64, Reject> {
    let get = |i: usize| -> std::result::Result<&str, Reject> {
        match field(&record[i]) {
            Ok(Some(v)) => Ok(v),
            Ok(None) => Err(Reject {
                field: header[i].clone(),
                reason: "empty".into(),
                value: None,
            }),
            Err(()) => Err(Reject {
                field: header[i].clone(),
                reason: "not valid UTF-8".into(),
                value: None,
            }),
        }
    };
    let fail = |i: usize, v: &str, what: &str, fmt: &str| Reject {
        field: header[i].clone(),
        reason: format!("cannot parse as {what} with format {fmt}"),
        value: Some(v.to_string()),
    };
    match layout.clock {
        Clock::Timestamp { col } => {
            let v = get(col)?;
            formats
                .timestamp
                .iter()
                .find_map(|f| f.parse(v))
                .ok_or_else(|| fail(col, v, "timestamp", &params.formats.timestamp.join(" | ")))
        }
        Clock::DateTime { date, time } => {
            let d = get(date)?;
            let day = parse_with(d, &formats.date, Parsed::to_naive_date)
                .ok_or_else(|| fail(date, d, "date", &params.formats.date))?;
            let clock = match time {
                None => NaiveTime::MIN,
                Some(t_col) => {
                    let t = get(t_col)?;
                    parse_with(t, &formats.time, Parsed::to_naive_time)
                        .ok_or_else(|| fail(t_col, t, "time", &params.formats.time))?
                }
            };
            let utc = day.and_time(clock).and_utc();
            Ok(utc.timestamp() * MICROS_PER_SECOND + i64::from(utc.timestamp_subsec_micros()))
        }
    }
}

fn parse_value(
    record: &ByteRecord,
    layout: &Layout,
    header: &[String],
    params: &Params,
) -> std::result::Result<Option<f64>, Reject> {
    let Some(i) = layout.value else {
        return Ok(None);
    };
    let name = &header[i];
    let v = match field(&record[i]) {
        Ok(Some(v)) => v,
        Ok(None) => {
            return Err(Reject {
                field: name.clone(),
                reason: "empty".into(),
                value: None,
            });
        }
        Err(()) => {
            return Err(Reject {
                field: name.clone(),
                reason: "not valid UTF-8".into(),
                value: None,
            });
        }
    };
    let x: f64 = v
        .parse()
        .ok()
        .filter(|x: &f64| x.is_finite())
        .ok_or_else(|| Reject {
            field: name.clone(),
            reason: "not a finite number".into(),
            value: Some(v.to_string()),
        })?;
    if let Some(min) = params.value_min.filter(|&min| x < min) {
        let reason = if min == 0.0 {
            "negative value".to_string()
        } else {
            format!("below value_min {min}")
        };
        return Err(Reject {
            field: name.clone(),
            reason,
            value: Some(v.to_string()),
        });
    }
    Ok(Some(x))
}
