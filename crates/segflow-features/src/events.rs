//! The event log held compactly and grouped by contact: a timestamp per event, the columns
//! the features read (numbers as f64, text as interned codes, flags as bytes), and one bit per
//! event for each `where` condition.

use std::ops::Range;
use std::path::Path;

use arrow::array::{
    Array, AsArray, BooleanArray, Float64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use arrow::datatypes::TimestampMicrosecondType;

use segflow_core::artifact::open_parquet_columns;
use segflow_core::error::Location;
use segflow_core::stage::StageCtx;
use segflow_core::{Error, Result};
use segflow_expr::Type;

use crate::schema::Reading;

/// Events grouped by contact in ascending id order. Group `g` is the index range
/// `bounds[g]..bounds[g + 1]`, in input order within the contact; every per-event vector
/// below is in that grouped order.
pub struct Events {
    pub ids: Vec<String>,
    bounds: Vec<usize>,
    pub ts: Vec<i64>,
    /// The columns of [`Reading::columns`], in that order.
    columns: Vec<(String, Column)>,
    /// One bitmap per condition of [`Reading::conditions`], in that order.
    masks: Vec<Bitmap>,
}

/// One events column. Ingest never stores NaN, so NaN marks a missing number; a missing
/// timestamp is [`Column::NO_TIME`], far outside any date a log holds.
pub enum Column {
    Number(Vec<f64>),
    Text(Text),
    /// 0 false, 1 true, [`Column::NO_FLAG`] missing.
    Bool(Vec<u8>),
    Timestamp(Vec<i64>),
}

impl Column {
    pub const NO_FLAG: u8 = 2;
    pub const NO_TIME: i64 = i64::MIN;

    /// A column of `n` events, filled in as the events are placed.
    fn with_len(kind: Type, n: usize) -> Column {
        match kind {
            Type::Number => Column::Number(vec![0.0; n]),
            Type::Text => Column::Text(Text {
                names: Vec::new(),
                codes: vec![0; n],
            }),
            Type::Bool => Column::Bool(vec![0; n]),
            Type::Timestamp => Column::Timestamp(vec![0; n]),
        }
    }
}

/// Text values, and one code per event ([`Text::NONE`] for a missing value).
pub struct Text {
    pub names: Vec<String>,
    pub codes: Vec<u32>,
}

impl Text {
    pub const NONE: u32 = u32::MAX;
}

/// One bit per event.
pub struct Bitmap {
    words: Vec<u64>,
    len: usize,
}

impl Bitmap {
    fn with_len(len: usize) -> Self {
        Bitmap {
            words: vec![0; len.div_ceil(64)],
            len,
        }
    }

    fn set(&mut self, i: usize) {
        self.words[i / 64] |= 1 << (i % 64);
    }

    pub fn get(&self, i: usize) -> bool {
        debug_assert!(i < self.len);
        self.words[i / 64] >> (i % 64) & 1 == 1
    }
}

impl Events {
    pub fn groups(&self) -> usize {
        self.ids.len()
    }

    pub fn group(&self, g: usize) -> Range<usize> {
        self.bounds[g]..self.bounds[g + 1]
    }

    pub fn size(&self, g: usize) -> usize {
        self.bounds[g + 1] - self.bounds[g]
    }

    /// A column the reading planned.
    pub fn column(&self, name: &str) -> &Column {
        &self
            .columns
            .iter()
            .find(|(n, _)| n == name)
            .expect("planned by the reading")
            .1
    }

    /// The events where condition `index` of the reading holds.
    pub fn mask(&self, index: usize) -> &Bitmap {
        &self.masks[index]
    }
}

/// Interns text into dense codes in order of first appearance, holding each text once.
/// foldhash rather than SipHash: one lookup per event makes hashing a large share of the stage.
#[derive(Default)]
struct Interner {
    codes: foldhash::HashMap<Box<str>, u32>,
}

impl Interner {
    fn code(&mut self, text: &str, path: &Path, column: &str) -> Result<u32> {
        if let Some(&code) = self.codes.get(text) {
            return Ok(code);
        }
        let code = u32::try_from(self.codes.len())
            .ok()
            .filter(|&c| c != Text::NONE)
            .ok_or_else(|| {
                Error::data(
                    Location::file(path).column(column),
                    "more than 4 billion distinct values",
                )
            })?;
        self.codes.insert(text.into(), code);
        Ok(code)
    }

    /// The texts, indexed by code.
    fn into_names(self) -> Vec<String> {
        let mut names = vec![String::new(); self.codes.len()];
        for (text, code) in self.codes {
            names[code as usize] = text.into();
        }
        names
    }
}

fn no_nulls(path: &Path, name: &str, array: &dyn Array) -> Result<()> {
    if array.null_count() > 0 {
        return Err(Error::data(
            Location::file(path).column(name),
            "unexpected null values",
        ));
    }
    Ok(())
}

fn typed<'a, T: 'static>(batch: &'a RecordBatch, name: &str) -> &'a T {
    batch
        .column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<T>())
        .expect("schema checked")
}

/// Places a batch's values of one column at their events' positions (`at[k]` for the batch's
/// row `k`), with its interner for text: codes follow the order of first appearance in the
/// log, as the rows come.
fn scatter(
    column: &mut Column,
    interner: &mut Interner,
    array: &dyn Array,
    at: &[u32],
    path: &Path,
    name: &str,
) -> Result<()> {
    match column {
        Column::Number(values) => {
            let array: &Float64Array = array.as_primitive();
            for (&p, v) in at.iter().zip(array.iter()) {
                values[p as usize] = v.unwrap_or(f64::NAN);
            }
        }
        Column::Text(text) => {
            let array: &StringArray = array.as_string();
            for (&p, v) in at.iter().zip(array.iter()) {
                text.codes[p as usize] = match v {
                    Some(v) => interner.code(v, path, name)?,
                    None => Text::NONE,
                };
            }
        }
        Column::Bool(flags) => {
            let array: &BooleanArray = array.as_boolean();
            for (&p, v) in at.iter().zip(array.iter()) {
                flags[p as usize] = v.map_or(Column::NO_FLAG, u8::from);
            }
        }
        Column::Timestamp(times) => {
            let array = array.as_primitive::<TimestampMicrosecondType>();
            for (&p, v) in at.iter().zip(array.iter()) {
                times[p as usize] = v.unwrap_or(Column::NO_TIME);
            }
        }
    }
    Ok(())
}

/// Reads the event log at `path` grouped by contact, in two passes over the file. The first
/// reads the contact ids alone and works out where each event goes (a stable counting sort
/// by id); the second reads the other columns and writes each value straight to its place.
/// So no column exists twice, in input order and grouped: at 10⁷ events that copy was the
/// stage's peak of memory.
pub fn read_events(path: &Path, reading: &Reading, ctx: &StageCtx<'_>) -> Result<Events> {
    let (ids, bounds, position) = contact_positions(path, ctx)?;
    let n = position.len();
    let input = open_parquet_columns(path, |c| c != "contact_id" && reading.decodes(c))?;
    let mut placed = Placed::new(reading, n);
    let mut offset = 0;
    for batch in input {
        let batch = batch?;
        let rows = batch.num_rows();
        let at = position.get(offset..offset + rows).ok_or_else(|| {
            Error::data(
                Location::file(path),
                "the file changed while it was read: more events than contact ids",
            )
        })?;
        placed.place(&batch, at, reading, path)?;
        offset += rows;
    }
    if offset != n {
        return Err(Error::data(
            Location::file(path),
            "the file changed while it was read: fewer events than contact ids",
        ));
    }
    Ok(placed.finish(ids, bounds))
}

/// Events already grouped by contact in ascending id order (a part of a log sorted by
/// contact, whole contacts only), as [`Events`].
pub fn grouped_events(batch: &RecordBatch, reading: &Reading, path: &Path) -> Result<Events> {
    let contacts: &StringArray = typed(batch, "contact_id");
    no_nulls(path, "contact_id", contacts)?;
    let mut ids: Vec<String> = Vec::new();
    let mut bounds = vec![0];
    for (i, id) in contacts.iter().flatten().enumerate() {
        match ids.last() {
            Some(last) if last == id => {}
            Some(last) if last.as_str() > id => {
                return Err(Error::Internal(format!(
                    "{}: events not grouped by contact at {id}",
                    path.display()
                )));
            }
            _ => {
                if i > 0 {
                    bounds.push(i);
                }
                ids.push(id.to_string());
            }
        }
    }
    if !ids.is_empty() {
        bounds.push(batch.num_rows());
    }
    let at: Vec<u32> = (0..batch.num_rows() as u32).collect();
    let mut placed = Placed::new(reading, at.len());
    placed.place(batch, &at, reading, path)?;
    Ok(placed.finish(ids, bounds))
}

/// The per-event vectors of [`Events`], filled in a batch at a time.
struct Placed {
    ts: Vec<i64>,
    columns: Vec<(String, Column, Interner)>,
    masks: Vec<Bitmap>,
}

impl Placed {
    fn new(reading: &Reading, n: usize) -> Placed {
        Placed {
            ts: vec![0i64; n],
            columns: reading
                .columns
                .iter()
                .map(|(name, kind)| {
                    (
                        name.clone(),
                        Column::with_len(*kind, n),
                        Interner::default(),
                    )
                })
                .collect(),
            masks: (0..reading.conditions.len())
                .map(|_| Bitmap::with_len(n))
                .collect(),
        }
    }

    /// Places the batch's row `k` at event `at[k]`.
    fn place(
        &mut self,
        batch: &RecordBatch,
        at: &[u32],
        reading: &Reading,
        path: &Path,
    ) -> Result<()> {
        let times: &TimestampMicrosecondArray = typed(batch, "ts");
        no_nulls(path, "ts", times)?;
        for (&p, &t) in at.iter().zip(times.values()) {
            self.ts[p as usize] = t;
        }
        for (name, column, interner) in &mut self.columns {
            let array = batch.column_by_name(name).expect("schema checked");
            scatter(column, interner, array, at, path, name)?;
        }
        let masks = reading.conditions.masks(batch, path)?;
        for (bits, mask) in self.masks.iter_mut().zip(masks) {
            for (&p, bit) in at.iter().zip(mask.values()) {
                if bit {
                    bits.set(p as usize);
                }
            }
        }
        Ok(())
    }

    fn finish(self, ids: Vec<String>, bounds: Vec<usize>) -> Events {
        let columns = self
            .columns
            .into_iter()
            .map(|(name, column, interner)| {
                let column = match column {
                    Column::Text(text) => Column::Text(Text {
                        names: interner.into_names(),
                        codes: text.codes,
                    }),
                    other => other,
                };
                (name, column)
            })
            .collect();
        Events {
            ids,
            ts: self.ts,
            columns,
            masks: self.masks,
            bounds,
        }
    }
}

/// The first pass: every contact id (interned in order of first appearance) and, per event,
/// its position once events are grouped by contact in ascending id order, keeping input order
/// within a contact.
/// Returns the ids in ascending order, each one's range of grouped events (`bounds`), and the
/// positions.
fn contact_positions(
    path: &Path,
    ctx: &StageCtx<'_>,
) -> Result<(Vec<String>, Vec<usize>, Vec<u32>)> {
    let mut contacts = Interner::default();
    let mut contact: Vec<u32> = Vec::new();
    for batch in open_parquet_columns(path, |c| c == "contact_id")? {
        let batch = batch?;
        let ids: &StringArray = typed(&batch, "contact_id");
        no_nulls(path, "contact_id", ids)?;
        for id in ids.iter().flatten() {
            contact.push(contacts.code(id, path, "contact_id")?);
        }
        if contact.len() % 1_000_000 < batch.num_rows() {
            (ctx.progress)(&format!("{} events read", contact.len()));
        }
    }
    if contact.is_empty() {
        return Err(Error::data(Location::file(path), "the event log is empty"));
    }
    if u32::try_from(contact.len()).is_err() {
        return Err(Error::data(
            Location::file(path),
            "more than 4 billion events; split the log",
        ));
    }
    let mut names = contacts.into_names();
    // A counting sort by the rank of each contact's id: stable, and linear in the events.
    let mut by_id: Vec<u32> = (0..names.len() as u32).collect();
    by_id.sort_unstable_by(|&a, &b| names[a as usize].cmp(&names[b as usize]));
    let mut rank = vec![0u32; names.len()];
    for (r, &c) in by_id.iter().enumerate() {
        rank[c as usize] = r as u32;
    }
    let mut bounds = vec![0usize; names.len() + 1];
    for &c in &contact {
        bounds[rank[c as usize] as usize + 1] += 1;
    }
    for g in 1..bounds.len() {
        bounds[g] += bounds[g - 1];
    }
    let mut next = bounds.clone();
    // Each event's contact code becomes its position, in place.
    for c in &mut contact {
        let slot = &mut next[rank[*c as usize] as usize];
        *c = *slot as u32;
        *slot += 1;
    }
    let ids = by_id
        .iter()
        .map(|&c| std::mem::take(&mut names[c as usize]))
        .collect();
    Ok((ids, bounds, contact))
}
