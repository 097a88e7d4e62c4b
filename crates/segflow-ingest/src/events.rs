//! Events mode: one output row per accepted record, from one file or several sources.
//!
//! Each record is, in this order: rejected for the wrong number of fields; excluded for a
//! blank contact id (`blank_ids: exclude`) or as a repeat of an earlier record (`dedupe:
//! exact`); rejected when a field does not parse; excluded when a `where` does not keep it;
//! otherwise accepted. So `rows_in = accepted + excluded + rejected`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, channel, sync_channel};

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringArray, new_null_array};
use arrow::compute::filter_record_batch;
use arrow::compute::kernels::coalesce::BatchCoalescer;
use arrow::datatypes::{DataType, Float64Type, SchemaRef, TimestampMicrosecondType, UInt32Type};
use csv::ByteRecord;

use segflow_core::artifact::{META_ID_COLUMN, META_TIME_OF_DAY, batch};
use segflow_core::error::Location;
use segflow_core::stage::{OutputDir, StageCtx, StagedStream};
use segflow_core::{Error, Result};

use segflow_expr::Type;

use crate::audit::{self, ColumnAudit, Counts, EventAudit, EventTally, Excluded, Rejects};
use crate::clock::{Clock, ClockFormats, typed_formats};
use crate::contacts::Contacts;
use crate::expressions::{RowExpressions, SourceColumns};
use crate::privacy::IdHasher;
use crate::reader::{ColumnProfile, Duplicates, field};
use crate::records::Records;
use crate::rows::{
    CATEGORY, Columns, Extra, LINE, Layout, Parsing, Reading, TS, VALUE, blank_contact,
};
use crate::weak_data::{EventDays, ValueTally};
use crate::{Audit, BlankIds, Dedupe, EventColumns, Formats, Outputs, Params, Source, ValueType};

/// Rows per Parquet batch: a multiple of the writer's 1,024-row mini-batch, so the file's
/// bytes do not depend on how the input was cut.
const BATCH_ROWS: usize = segflow_core::artifact::ParquetBatches::BATCH_ROWS;

/// One input file, opened, with everything needed to read it.
struct Opened<'a> {
    /// The `source` tag; `None` for a single-file ingest.
    name: Option<&'a str>,
    path: PathBuf,
    header: Vec<String>,
    /// Taken by the reader thread.
    records: Option<Records>,
    columns: &'a EventColumns,
    /// The configured formats, or the fixed ones of clock columns typed in the input.
    formats: Formats,
    clock_formats: ClockFormats,
    layout: Layout,
    expressions: RowExpressions,
}

/// The events artifact's columns besides contact_id, ts and source_line.
struct OutputColumns {
    value: bool,
    category: bool,
    /// Kept columns with their types, then hashed ones (text).
    extras: Vec<(String, ValueType)>,
    derived: Vec<(String, DataType)>,
    source: bool,
}

pub fn run(
    inputs: &[PathBuf],
    params: &Params,
    ids: &IdHasher,
    audit: Audit,
    out: &mut OutputDir,
    ctx: &StageCtx<'_>,
) -> Result<Outputs> {
    let mut opened = open_all(inputs, params)?;
    let output = output_columns(params, &opened)?;
    let time_of_day = opened
        .iter()
        .all(|o| o.clock_formats.time_of_day(&o.layout.clock));
    let roles = roles(params, &opened);
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
    if let Some(zone) = &params.timezone {
        extra.push(("segflow.timezone".to_string(), zone.clone()));
    }
    let schema = output.schema()?;
    let events = out.stream("events", schema.clone(), &extra)?;

    let mut state = State {
        contacts: Contacts::default(),
        rejects: Rejects::default(),
        tally: EventTally::default(),
        values: (output.value && audit == Audit::Full).then(Vec::new),
        rows_in: 0,
        accepted: 0,
        excluded: Excluded::default(),
        parsed: 0,
        ts_ok: 0,
        value_ok: 0,
        value_rows: 0,
        derived_nulls: vec![0; output.derived.len()],
        source: 0,
        tallies: tallied_columns(params, &output),
        days: EventDays::default(),
    };
    let mut audits: Vec<ColumnAudit> = Vec::new();
    let mut duplicate_rows = Some(0);
    (ctx.progress)("reading input");
    std::thread::scope(|scope| -> Result<()> {
        let (batches_tx, batches_rx) = sync_channel::<RecordBatch>(2);
        let writer = scope.spawn(move || -> Result<StagedStream> {
            let mut events = events;
            for batch in batches_rx {
                events.write(&batch)?;
            }
            Ok(events)
        });
        let mut coalescer = BatchCoalescer::new(schema.clone(), BATCH_ROWS);
        let read = (|| -> Result<()> {
            for (index, source) in opened.iter_mut().enumerate() {
                state.source = index;
                let read = read_source(
                    scope,
                    source,
                    params,
                    ids,
                    audit,
                    &output,
                    &mut state,
                    &mut coalescer,
                    &batches_tx,
                    ctx,
                )?;
                duplicate_rows = duplicate_rows.zip(read.duplicates).map(|(a, b)| a + b);
                audits.extend(column_audits(
                    source,
                    &read.profiles,
                    read.profiled,
                    &roles,
                    params,
                ));
            }
            coalescer.finish_buffered_batch()?;
            while let Some(batch) = coalescer.next_completed_batch() {
                if batches_tx.send(batch).is_err() {
                    break;
                }
            }
            Ok(())
        })();
        drop(batches_tx);
        let written = writer.join().expect("the writer thread does not panic");
        read?;
        let events = written?;
        state.finish(inputs, params, &opened)?;
        out.finish(events)
    })?;

    let source_columns = audits.len() as u64;
    // Derived columns are audited beside the source columns: how many accepted rows have a
    // value, so a division by zero shows as nulls counted rather than as a crash.
    for ((name, ty), nulls) in output.derived.iter().zip(&state.derived_nulls) {
        audits.push(ColumnAudit {
            column: name.clone(),
            role: "derived".into(),
            inferred_type: Type::from_arrow(ty).map_or("?", Type::name).to_string(),
            type_source: "expression",
            non_null: state.accepted - nulls,
            rows: state.accepted,
        });
    }
    let rejected = state.rejects.len() as u64;
    out.write("rejects", &state.rejects.batch()?, &[])?;
    (ctx.progress)("writing audit");
    let event_audit = EventAudit {
        counts: Counts {
            rows_in: state.rows_in,
            columns: source_columns,
            accepted: state.accepted,
            rejected,
            duplicate_rows,
            excluded: state.excluded,
            ids: state.contacts.shape,
        },
        distinct_contacts: state.contacts.accepted_count(),
        timestamp_parse_rate: state.ts_ok as f64 / state.parsed.max(1) as f64,
        value_parse_rate: output
            .value
            .then(|| state.value_ok as f64 / state.value_rows.max(1) as f64),
        tally: state.tally,
        values: state.values,
    };
    let mut warnings = Vec::new();
    for t in &state.tallies {
        t.tally.warnings(&t.name, &mut warnings);
    }
    let names: Vec<&str> = opened.iter().filter_map(|o| o.name).collect();
    state.days.warnings(&names, &mut warnings);
    audit::write_event_audit(
        out,
        event_audit,
        &audits,
        &warnings,
        &params.audit,
        time_of_day,
    )?;
    Ok(Outputs {
        rows_in: state.rows_in,
        accepted: state.accepted,
        rejected,
    })
}

/// Row accounting and what the audit collects across sources.
struct State {
    contacts: Contacts,
    rejects: Rejects,
    tally: EventTally,
    /// Every accepted value, for the audit's exact quantiles (none kept for scoring).
    values: Option<Vec<f64>>,
    rows_in: u64,
    accepted: u64,
    excluded: Excluded,
    /// Rows that reached parsing (not excluded before it).
    parsed: u64,
    ts_ok: u64,
    value_ok: u64,
    /// Rows of sources with a value column.
    value_rows: u64,
    /// Accepted rows whose derived column is null (a division by zero, a null input, …),
    /// per derived column.
    derived_nulls: Vec<u64>,
    /// The source being read, as an index into the inputs.
    source: usize,
    /// The values of the written columns the weak-data warnings look at.
    tallies: Vec<Tallied>,
    days: EventDays,
}

impl State {
    /// The checks on the whole log, once every source is read.
    fn finish(&self, inputs: &[PathBuf], params: &Params, opened: &[Opened<'_>]) -> Result<()> {
        let rejected = self.rejects.len() as u64;
        if self.rows_in != self.accepted + self.excluded.total() + rejected {
            return Err(Error::Internal(format!(
                "row accounting broken: {} in, {} accepted, {} excluded, {rejected} rejected",
                self.rows_in,
                self.accepted,
                self.excluded.total()
            )));
        }
        let files: Vec<&Path> = inputs.iter().map(PathBuf::as_path).collect();
        if self.rows_in == 0 {
            return Err(Error::data(
                Location::file(files[0]),
                "no data rows after the header",
            ));
        }
        self.rejects
            .check_fraction(&files, self.rows_in, params.max_reject_fraction)?;
        if self.accepted == 0 && self.excluded.total() > 0 {
            return Err(Error::data(
                Location::file(files[0]),
                format!(
                    "every row was excluded by rule ({} by `where`, {} blank ids, {} duplicates, \
                     {rejected} rejected of {}): nothing is left to segment",
                    self.excluded.by_where,
                    self.excluded.blank_ids,
                    self.excluded.duplicates,
                    self.rows_in
                ),
            ));
        }
        let contact_columns: Vec<&str> =
            opened.iter().map(|o| o.columns.contact.as_str()).collect();
        self.contacts.check_distinct(files[0], contact_columns[0])
    }
}

/// Opens every input with its layout and compiled expressions, so a missing column or a bad
/// expression in any source fails before a row is read.
fn open_all<'a>(inputs: &[PathBuf], params: &'a Params) -> Result<Vec<Opened<'a>>> {
    if params.sources.is_empty() {
        let [input] = inputs else {
            return Err(Error::Usage(format!(
                "ingest reads exactly one input, got {}",
                inputs.len()
            )));
        };
        let columns = params
            .columns
            .as_ref()
            .expect("validated: events mode has columns");
        return Ok(vec![open(input, params, None, columns)?]);
    }
    if inputs.len() != params.sources.len() {
        return Err(Error::Usage(format!(
            "ingest has {} sources but was given {} input files",
            params.sources.len(),
            inputs.len()
        )));
    }
    params
        .sources
        .iter()
        .zip(inputs)
        .map(|(source, input)| open(input, params, Some(source), &source.columns))
        .collect()
}

fn open<'a>(
    input: &Path,
    params: &'a Params,
    source: Option<&'a Source>,
    columns: &'a EventColumns,
) -> Result<Opened<'a>> {
    let zone = params.zone()?;
    let records = Records::open(input, &params.text_layout(Some(columns), source), zone)?;
    let header = records.header();
    let key = |k: &str| match source {
        Some(s) => format!(
            "sources[{}].{k}",
            params
                .sources
                .iter()
                .position(|p| p.name == s.name)
                .unwrap_or(0)
        ),
        None => k.to_string(),
    };
    let expressions = RowExpressions::compile(
        params,
        &SourceColumns {
            header,
            columns,
            own_filter: source.and_then(|s| s.filter.as_deref().map(|f| (key("where"), f))),
        },
    )?;
    let clock = match (&columns.timestamp, &columns.date) {
        (Some(ts), _) => Clock::Timestamp {
            col: records.index(ts)?,
        },
        (None, Some(date)) => Clock::DateTime {
            date: records.index(date)?,
            time: columns
                .time
                .as_ref()
                .map(|t| records.index(t))
                .transpose()?,
        },
        (None, None) => unreachable!("validated: a clock column is set"),
    };
    let formats = typed_formats(
        source
            .and_then(|s| s.formats.as_ref())
            .unwrap_or(&params.formats),
        &clock,
        |col| records.temporal(col),
    );
    let mut extras: Vec<Extra> = Vec::new();
    let typed =
        |name: &str| Reading::Typed(params.types.get(name).copied().unwrap_or(ValueType::Text));
    for name in &params.keep {
        extras.push(Extra {
            col: records.index(name)?,
            name: name.clone(),
            reading: typed(name),
        });
    }
    for name in &params.privacy.hash {
        extras.push(Extra {
            col: records.index(name)?,
            name: name.clone(),
            reading: Reading::Hashed,
        });
    }
    for name in expressions.extra_inputs() {
        // A hashed column is read raw for conditions, under its own entry: the written one
        // holds the pseudonym.
        if extras
            .iter()
            .any(|e| e.name == name && e.reading != Reading::Hashed)
        {
            continue;
        }
        if params.privacy.hash.iter().any(|h| h == name) {
            return Err(Error::config(
                "",
                "where",
                format!("`{name}` is listed in privacy.hash; conditions cannot read it"),
            ));
        }
        extras.push(Extra {
            col: records.index(name)?,
            name: name.to_string(),
            reading: typed(name),
        });
    }
    let layout = Layout {
        contact: records.index(&columns.contact)?,
        clock,
        value: columns
            .value
            .as_ref()
            .map(|v| records.index(v))
            .transpose()?,
        category: columns
            .category
            .as_ref()
            .map(|c| records.index(c))
            .transpose()?,
        extras,
    };
    Ok(Opened {
        name: source.map(|s| s.name.as_str()),
        clock_formats: ClockFormats::new(&formats, zone)?,
        path: records.path().to_path_buf(),
        header: records.header().to_vec(),
        records: Some(records),
        columns,
        formats,
        layout,
        expressions,
    })
}

/// The output columns every source must be able to fill: derived columns of one type in all.
fn output_columns(params: &Params, opened: &[Opened<'_>]) -> Result<OutputColumns> {
    let derived = opened[0].expressions.derived_types();
    for other in &opened[1..] {
        for ((name, a), (_, b)) in derived.iter().zip(other.expressions.derived_types()) {
            if *a != b {
                return Err(Error::config(
                    "",
                    format!("derive.{name}"),
                    format!(
                        "is {} in source `{}` but {} in source `{}`",
                        a.name(),
                        opened[0].name.unwrap_or_default(),
                        b.name(),
                        other.name.unwrap_or_default()
                    ),
                ));
            }
        }
    }
    let mut extras: Vec<(String, ValueType)> = params
        .keep
        .iter()
        .map(|k| {
            (
                k.clone(),
                params.types.get(k).copied().unwrap_or(ValueType::Text),
            )
        })
        .collect();
    extras.extend(
        params
            .privacy
            .hash
            .iter()
            .map(|h| (h.clone(), ValueType::Text)),
    );
    Ok(OutputColumns {
        value: opened.iter().any(|o| o.layout.value.is_some()),
        category: opened.iter().any(|o| o.layout.category.is_some()),
        extras,
        derived: derived.into_iter().map(|(n, t)| (n, t.arrow())).collect(),
        source: opened.len() > 1 || opened[0].name.is_some(),
    })
}

impl OutputColumns {
    fn schema(&self) -> Result<SchemaRef> {
        Ok(self.empty_batch()?.schema())
    }

    fn empty_batch(&self) -> Result<RecordBatch> {
        let mut arrays: Vec<(&str, ArrayRef)> = vec![
            ("contact_id", new_null_array(&DataType::Utf8, 0)),
            (
                "ts",
                new_null_array(
                    &DataType::Timestamp(arrow::datatypes::TimeUnit::Microsecond, None),
                    0,
                ),
            ),
        ];
        if self.value {
            arrays.push(("value", new_null_array(&DataType::Float64, 0)));
        }
        if self.category {
            arrays.push(("category", new_null_array(&DataType::Utf8, 0)));
        }
        for (name, ty) in &self.extras {
            arrays.push((name, new_null_array(&value_type(*ty), 0)));
        }
        for (name, ty) in &self.derived {
            arrays.push((name, new_null_array(ty, 0)));
        }
        if self.source {
            arrays.push(("source", new_null_array(&DataType::Utf8, 0)));
        }
        arrays.push(("source_line", new_null_array(&DataType::UInt64, 0)));
        batch(arrays)
    }

    /// The accepted rows of `parsed` (with their derived columns) as output columns.
    fn batch(
        &self,
        parsed: &RecordBatch,
        derived: &[ArrayRef],
        contacts: &Contacts,
        source: Option<&str>,
    ) -> Result<RecordBatch> {
        let n = parsed.num_rows();
        let column = |name: &str| parsed.column_by_name(name).cloned();
        let ids = parsed
            .column_by_name(crate::rows::CONTACT)
            .expect("parsed batches carry the contact")
            .as_primitive::<UInt32Type>();
        let mut arrays: Vec<(&str, ArrayRef)> = vec![
            (
                "contact_id",
                Arc::new(StringArray::from_iter_values(
                    ids.values().iter().map(|&c| &*contacts.ids[c as usize]),
                )),
            ),
            ("ts", column(TS).expect("parsed batches carry ts")),
        ];
        if self.value {
            arrays.push((
                "value",
                column(VALUE).unwrap_or_else(|| new_null_array(&DataType::Float64, n)),
            ));
        }
        if self.category {
            arrays.push((
                "category",
                column(CATEGORY).unwrap_or_else(|| new_null_array(&DataType::Utf8, n)),
            ));
        }
        for (name, _) in &self.extras {
            arrays.push((
                name,
                column(name).expect("every source reads the kept columns"),
            ));
        }
        for ((name, _), array) in self.derived.iter().zip(derived) {
            arrays.push((name, array.clone()));
        }
        if self.source {
            arrays.push((
                "source",
                Arc::new(StringArray::from_iter_values(std::iter::repeat_n(
                    source.unwrap_or_default(),
                    n,
                ))),
            ));
        }
        arrays.push((
            "source_line",
            column(LINE).expect("parsed batches carry lines"),
        ));
        batch(arrays)
    }
}

fn value_type(t: ValueType) -> DataType {
    match t {
        ValueType::Number => DataType::Float64,
        ValueType::Text => DataType::Utf8,
    }
}

/// A record with its starting line and whether it repeats an earlier one (with dedupe).
struct Record {
    line: u64,
    repeat: bool,
    record: ByteRecord,
}

/// Records handed from the reader thread in input order.
type Chunk = Vec<Record>;

const CHUNK_RECORDS: usize = 4096;

/// What reading one source found besides its rows.
struct SourceRead {
    profiles: Vec<ColumnProfile>,
    /// Records of the right width, over which the columns were profiled.
    profiled: u64,
    /// `None` when not counted (for scoring).
    duplicates: Option<u64>,
}

/// Reads one source: a reader thread splits records (profiling and fingerprinting them), this
/// thread parses them in input order and hands finished batches to the writer.
#[allow(clippy::too_many_arguments)]
fn read_source<'scope>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    source: &mut Opened<'_>,
    params: &Params,
    ids: &IdHasher,
    audit: Audit,
    output: &OutputColumns,
    state: &mut State,
    coalescer: &mut BatchCoalescer,
    batches: &SyncSender<RecordBatch>,
    ctx: &StageCtx<'_>,
) -> Result<SourceRead> {
    let header = source.header.clone();
    let n_fields = header.len();
    let records = source.records.take().expect("each source is read once");
    let dedupe = params.dedupe == Dedupe::Exact;
    let (records_tx, records_rx) = sync_channel::<Result<Chunk>>(4);
    let (spent_tx, spent_rx) = channel::<Chunk>();
    let duplicates = Duplicates::new(dedupe, audit == Audit::Full);
    let reader = scope.spawn(move || read_records(records, duplicates, records_tx, spent_rx));
    if let Some(name) = source.name {
        state.rejects.start_source(name);
    }
    let parsing = Parsing {
        header: &header,
        formats: &source.formats,
        clock_formats: &source.clock_formats,
        value_min: params.value_min,
        ids,
    };
    let mut columns = Columns::new(&source.layout);
    let mut hashed = vec![foldhash::HashMap::default(); source.layout.extras.len()];
    let has_value = source.layout.value.is_some();
    let mut profiled = 0u64;
    let parsed = (|| -> Result<()> {
        for chunk in &records_rx {
            let chunk = chunk?;
            for Record {
                line,
                repeat,
                record,
            } in &chunk
            {
                let line = *line;
                state.rows_in += 1;
                if state.rows_in.is_multiple_of(1_000_000) {
                    (ctx.progress)(&format!("{} rows read", state.rows_in));
                }
                if record.len() != n_fields {
                    state.parsed += 1;
                    state.value_rows += has_value as u64;
                    state.rejects.push_wrong_width(line, n_fields, record.len());
                    continue;
                }
                profiled += 1;
                if params.blank_ids == BlankIds::Exclude
                    && blank_contact(record, source.layout.contact)
                {
                    state.excluded.blank_ids += 1;
                    continue;
                }
                if *repeat {
                    state.excluded.duplicates += 1;
                    continue;
                }
                state.parsed += 1;
                state.value_rows += has_value as u64;
                let pushed = columns.push(
                    record,
                    line,
                    &source.layout,
                    &parsing,
                    &mut state.contacts,
                    &mut hashed,
                );
                state.ts_ok += pushed.clock_ok as u64;
                state.value_ok += (has_value && pushed.value_ok) as u64;
                if let Err(r) = pushed.result {
                    state.rejects.push(line, Some(r.field), r.reason, r.value);
                }
                if columns.len() == BATCH_ROWS
                    && !hand_on(&mut columns, source, output, state, coalescer, batches)?
                {
                    // The writer stopped on an error, which joining it returns.
                    return Ok(());
                }
            }
            // The reader may have stopped; then the chunk is simply dropped.
            let _ = spent_tx.send(chunk);
        }
        if columns.len() > 0 {
            hand_on(&mut columns, source, output, state, coalescer, batches)?;
        }
        Ok(())
    })();
    drop(records_rx);
    let (profiles, duplicates) = reader.join().expect("the reader thread does not panic");
    parsed?;
    Ok(SourceRead {
        profiles,
        profiled,
        duplicates: duplicates.count(),
    })
}

/// Runs the expressions over the buffered rows, counts and hands on those kept; false when
/// the writer has stopped.
fn hand_on(
    columns: &mut Columns,
    source: &Opened<'_>,
    output: &OutputColumns,
    state: &mut State,
    coalescer: &mut BatchCoalescer,
    batches: &SyncSender<RecordBatch>,
) -> Result<bool> {
    let mut parsed = columns.take_batch(&source.layout)?;
    let mut derived = Vec::new();
    if !source.expressions.is_empty() {
        let (arrays, mask) = source.expressions.apply(&parsed, &source.path)?;
        derived = arrays;
        if let Some(mask) = mask {
            let kept = mask.true_count();
            state.excluded.by_where += (parsed.num_rows() - kept) as u64;
            if kept < parsed.num_rows() {
                parsed = filter_record_batch(&parsed, &mask)?;
                derived = derived
                    .iter()
                    .map(|a| arrow::compute::filter(a, &mask))
                    .collect::<std::result::Result<_, _>>()?;
            }
        }
    }
    account(&parsed, state);
    for (nulls, array) in state.derived_nulls.iter_mut().zip(&derived) {
        *nulls += array.null_count() as u64;
    }
    let batch = output.batch(&parsed, &derived, &state.contacts, source.name)?;
    for t in state
        .tallies
        .iter_mut()
        .filter(|t| t.read_by(source.columns))
    {
        if let Some(array) = batch.column_by_name(&t.name) {
            t.tally.observe(array.as_ref());
        }
    }
    state.days.observe(&batch, state.source);
    coalescer.push_batch(batch)?;
    while let Some(batch) = coalescer.next_completed_batch() {
        if batches.send(batch).is_err() {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The accepted rows of a batch in the counts, the calendar tally and the audit's values.
fn account(parsed: &RecordBatch, state: &mut State) {
    state.accepted += parsed.num_rows() as u64;
    let contacts = parsed
        .column_by_name(crate::rows::CONTACT)
        .expect("parsed batches carry the contact")
        .as_primitive::<UInt32Type>();
    for &c in contacts.values() {
        state.contacts.accepted[c as usize] = true;
    }
    let ts = parsed
        .column_by_name(TS)
        .expect("parsed batches carry ts")
        .as_primitive::<TimestampMicrosecondType>();
    for &t in ts.values() {
        state.tally.observe(t);
    }
    if let (Some(kept), Some(values)) = (state.values.as_mut(), parsed.column_by_name(VALUE)) {
        kept.extend(values.as_primitive::<Float64Type>().iter().flatten());
    }
}

/// The reader thread: reads the input's records, sends them on in chunks (reusing the
/// buffers of chunks sent back), and profiles and fingerprints every record on the way.
fn read_records(
    mut input: Records,
    mut duplicates: Duplicates,
    records: SyncSender<Result<Chunk>>,
    spent: Receiver<Chunk>,
) -> (Vec<ColumnProfile>, Duplicates) {
    let n_fields = input.header().len();
    let mut profiles = vec![ColumnProfile::default(); n_fields];
    loop {
        let mut chunk = spent.try_recv().unwrap_or_default();
        let mut spare: Vec<ByteRecord> = chunk.drain(..).map(|r| r.record).collect();
        let mut end = false;
        while chunk.len() < CHUNK_RECORDS {
            let mut record = spare.pop().unwrap_or_default();
            match input.next(&mut record) {
                Ok(Some(line)) => {
                    let repeat = duplicates.observe(&record);
                    if record.len() == n_fields {
                        for (i, profile) in profiles.iter_mut().enumerate() {
                            profile.observe(field(&record[i]).ok().flatten());
                        }
                    }
                    chunk.push(Record {
                        line,
                        repeat,
                        record,
                    });
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

/// What each source column became, for the audit and the artifact metadata; with several
/// sources, keyed `source.column`.
fn roles(params: &Params, opened: &[Opened<'_>]) -> BTreeMap<String, String> {
    let mut roles = BTreeMap::new();
    for o in opened {
        let prefix = o.name.map(|n| format!("{n}.")).unwrap_or_default();
        let header = &o.header;
        let c = o.columns;
        let mut set = |column: &str, role: &str| {
            if header.iter().any(|h| h == column) {
                roles.insert(format!("{prefix}{column}"), role.to_string());
            }
        };
        set(&c.contact, "contact (hashed into contact_id)");
        for (column, role) in [
            (&c.timestamp, "timestamp"),
            (&c.date, "date"),
            (&c.time, "time"),
            (&c.value, "value"),
            (&c.category, "category"),
        ] {
            if let Some(column) = column {
                set(column, role);
            }
        }
        for k in &params.keep {
            set(k, "kept");
        }
        for h in &params.privacy.hash {
            set(h, "hashed (PII)");
        }
        for d in &params.privacy.drop {
            set(d, "dropped (PII)");
        }
        let read: Vec<&str> = o.expressions.extra_inputs().collect();
        for extra in read {
            if header.iter().any(|h| h == extra) {
                roles
                    .entry(format!("{prefix}{extra}"))
                    .or_insert_with(|| "read by expressions".to_string());
            }
        }
    }
    roles
}

/// The audit of one source's columns, profiled over its `rows` records of the right width.
fn column_audits(
    source: &Opened<'_>,
    profiles: &[ColumnProfile],
    rows: u64,
    roles: &BTreeMap<String, String>,
    params: &Params,
) -> Vec<ColumnAudit> {
    let prefix = source.name.map(|n| format!("{n}.")).unwrap_or_default();
    source
        .header
        .iter()
        .zip(profiles)
        .map(|(name, p)| {
            let column = format!("{prefix}{name}");
            let (inferred_type, type_source) = match params.types.get(name) {
                Some(ValueType::Number) => ("number".to_string(), "declared"),
                Some(ValueType::Text) => ("text".to_string(), "declared"),
                None => (p.inferred().to_string(), "inferred"),
            };
            ColumnAudit {
                role: roles
                    .get(&column)
                    .cloned()
                    .unwrap_or_else(|| "ignored".into()),
                column,
                inferred_type,
                type_source,
                non_null: p.non_null,
                rows,
            }
        })
        .collect()
}

/// The written columns whose values the weak-data warnings tally: the value, the category and
/// the kept columns (contact ids repeat by design, and derived columns follow their inputs).
fn tallied_columns(params: &Params, output: &OutputColumns) -> Vec<Tallied> {
    let mut out: Vec<Tallied> = Vec::new();
    let tallied = |name: &str, role| Tallied {
        name: name.to_string(),
        role,
        tally: ValueTally::default(),
    };
    if output.value {
        out.push(tallied("value", Some(Role::Value)));
    }
    if output.category {
        out.push(tallied("category", Some(Role::Category)));
    }
    out.extend(params.keep.iter().map(|k| tallied(k, None)));
    out
}

/// A written column whose values the weak-data warnings tally.
struct Tallied {
    name: String,
    /// The role whose column it is, or `None` for a kept column (every source has it).
    role: Option<Role>,
    tally: ValueTally,
}

#[derive(Clone, Copy)]
enum Role {
    Value,
    Category,
}

impl Tallied {
    /// Whether a source's rows have this column: a source without a value (or category)
    /// column writes nulls there, which are not missing values of the column.
    fn read_by(&self, columns: &EventColumns) -> bool {
        match self.role {
            None => true,
            Some(Role::Value) => columns.value.is_some(),
            Some(Role::Category) => columns.category.is_some(),
        }
    }
}
