//! The event log held compactly and grouped by contact: a timestamp per event, the columns
//! the features read (numbers as f64, text as interned codes, flags as bytes), and one bit per
//! event for each `where` condition.

use std::ops::Range;
use std::path::Path;

use arrow::array::{
    Array, AsArray, BooleanArray, Float64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use arrow::datatypes::TimestampMicrosecondType;

use segflow_core::artifact::ParquetBatches;
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

    fn new(kind: Type) -> Column {
        match kind {
            Type::Number => Column::Number(Vec::new()),
            Type::Text => Column::Text(Text {
                names: Vec::new(),
                codes: Vec::new(),
            }),
            Type::Bool => Column::Bool(Vec::new()),
            Type::Timestamp => Column::Timestamp(Vec::new()),
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
    fn new() -> Self {
        Bitmap {
            words: Vec::new(),
            len: 0,
        }
    }

    fn push(&mut self, bit: bool) {
        if self.len.is_multiple_of(64) {
            self.words.push(0);
        }
        if bit {
            self.words[self.len / 64] |= 1 << (self.len % 64);
        }
        self.len += 1;
    }

    pub fn get(&self, i: usize) -> bool {
        self.words[i / 64] >> (i % 64) & 1 == 1
    }

    /// Bit `i` moved to `position[i]`.
    fn permuted(&self, position: &[u32]) -> Bitmap {
        let mut out = Bitmap {
            words: vec![0; self.words.len()],
            len: self.len,
        };
        for (i, &p) in position.iter().enumerate() {
            if self.get(i) {
                out.words[p as usize / 64] |= 1 << (p % 64);
            }
        }
        out
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

/// Appends a batch's values of one column, with its interner for text.
fn append(
    column: &mut Column,
    interner: &mut Interner,
    array: &dyn Array,
    path: &Path,
    name: &str,
) -> Result<()> {
    match column {
        Column::Number(values) => {
            let array: &Float64Array = array.as_primitive();
            if array.null_count() == 0 {
                values.extend_from_slice(array.values());
            } else {
                values.extend(array.iter().map(|v| v.unwrap_or(f64::NAN)));
            }
        }
        Column::Text(text) => {
            let array: &StringArray = array.as_string();
            for v in array {
                text.codes.push(match v {
                    Some(v) => interner.code(v, path, name)?,
                    None => Text::NONE,
                });
            }
        }
        Column::Bool(flags) => {
            let array: &BooleanArray = array.as_boolean();
            flags.extend(array.iter().map(|v| v.map_or(Column::NO_FLAG, u8::from)));
        }
        Column::Timestamp(times) => {
            let array = array.as_primitive::<TimestampMicrosecondType>();
            times.extend(array.iter().map(|v| v.unwrap_or(Column::NO_TIME)));
        }
    }
    Ok(())
}

/// Reads the event log batch by batch into its compact form, then groups it by contact.
pub fn read_events(input: ParquetBatches, reading: &Reading, ctx: &StageCtx<'_>) -> Result<Events> {
    let path = input.path.clone();
    let mut contacts = Interner::default();
    let mut contact: Vec<u32> = Vec::new();
    let mut ts: Vec<i64> = Vec::new();
    let mut columns: Vec<(String, Column, Interner)> = reading
        .columns
        .iter()
        .map(|(name, kind)| (name.clone(), Column::new(*kind), Interner::default()))
        .collect();
    let conditions = &reading.conditions;
    let mut masks: Vec<Bitmap> = (0..conditions.len()).map(|_| Bitmap::new()).collect();
    for batch in input {
        let batch = batch?;
        let ids: &StringArray = typed(&batch, "contact_id");
        no_nulls(&path, "contact_id", ids)?;
        let times: &TimestampMicrosecondArray = typed(&batch, "ts");
        no_nulls(&path, "ts", times)?;
        for id in ids.iter().flatten() {
            contact.push(contacts.code(id, &path, "contact_id")?);
        }
        ts.extend_from_slice(times.values());
        for (name, column, interner) in &mut columns {
            let array = batch.column_by_name(name).expect("schema checked");
            append(column, interner, array, &path, name)?;
        }
        for (bits, mask) in masks.iter_mut().zip(conditions.masks(&batch, &path)?) {
            for bit in mask.values() {
                bits.push(bit);
            }
        }
        if ts.len() % 1_000_000 < batch.num_rows() {
            (ctx.progress)(&format!("{} events read", ts.len()));
        }
    }
    if ts.is_empty() {
        return Err(Error::data(Location::file(&path), "the event log is empty"));
    }
    if u32::try_from(ts.len()).is_err() {
        return Err(Error::data(
            Location::file(&path),
            "more than 4 billion events; split the log",
        ));
    }

    // A counting sort by the rank of each contact's id: stable, so events keep input order
    // within a contact, and linear in the number of events.
    let names = contacts.into_names();
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
    let mut position: Vec<u32> = Vec::with_capacity(contact.len());
    for &c in &contact {
        let slot = &mut next[rank[c as usize] as usize];
        position.push(*slot as u32);
        *slot += 1;
    }
    drop(contact);
    let ids = {
        let mut names = names;
        by_id
            .iter()
            .map(|&c| std::mem::take(&mut names[c as usize]))
            .collect()
    };
    let columns = columns
        .into_iter()
        .map(|(name, column, interner)| {
            let column = match column {
                Column::Number(v) => Column::Number(permute(&position, v)),
                Column::Text(text) => Column::Text(Text {
                    names: interner.into_names(),
                    codes: permute(&position, text.codes),
                }),
                Column::Bool(v) => Column::Bool(permute(&position, v)),
                Column::Timestamp(v) => Column::Timestamp(permute(&position, v)),
            };
            (name, column)
        })
        .collect();
    Ok(Events {
        ids,
        ts: permute(&position, ts),
        columns,
        masks: masks.iter().map(|m| m.permuted(&position)).collect(),
        bounds,
    })
}

/// Places `items[i]` at `position[i]`.
fn permute<T: Copy + Default>(position: &[u32], items: Vec<T>) -> Vec<T> {
    let mut out = vec![T::default(); items.len()];
    for (&p, item) in position.iter().zip(items) {
        out[p as usize] = item;
    }
    out
}
