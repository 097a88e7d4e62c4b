//! Table mode read batch by batch, for scoring new rows with a finished run: the same records,
//! blanks, typing and id rules as [`crate::table`], holding one batch at a time. Column types
//! are given (the training table's), not inferred, since inference needs every row first.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, StringArray};
use csv::ByteRecord;

use segflow_core::artifact::batch;
use segflow_core::error::Location;
use segflow_core::params::Validate;
use segflow_core::{Error, Result};

use crate::audit::RejectTally;
use crate::privacy::{IdHasher, normalize_id};
use crate::records::Records;
use crate::table::{refusal, row_number_id, text_fields, typed_array};
use crate::{ColumnType, Mode, Params};

/// One batch of accepted rows.
pub struct TableBatch {
    /// `row_id` (the hashed id, or the row number padded to six digits or more), then the
    /// typed columns, in the input's order.
    pub rows: RecordBatch,
    /// Per row: its line in the input (row number for Parquet).
    pub lines: Vec<u64>,
    /// Per row: its 1-based position among the input's data records, from which the final
    /// `row_id` of an input without an id column is made once the record count is known
    /// ([`TableBatches::row_id`]).
    pub numbers: Vec<u64>,
}

/// An entity table's rows, typed and with their ids, a batch at a time.
pub struct TableBatches {
    source: Records,
    input: PathBuf,
    blanks: Vec<String>,
    max_reject_fraction: f64,
    id: Option<(usize, String)>,
    ids: IdHasher,
    /// (position in the input, name, type) of every column written.
    columns: Vec<(usize, String, ColumnType)>,
    n_fields: usize,
    rows_in: u64,
    rejects: RejectTally,
    raw: ByteRecord,
}

impl TableBatches {
    /// Opens `input` for the table-mode `params`; `types` are the types of the columns to
    /// write (other input columns are not read).
    pub fn open(
        input: &Path,
        params: &Params,
        types: &[(String, ColumnType)],
    ) -> Result<TableBatches> {
        params.validate()?;
        if params.mode != Mode::Table {
            return Err(Error::Internal("a table reader over events params".into()));
        }
        crate::columns::check_inputs(params, &[input.to_path_buf()])?;
        let source = Records::open(input, &params.text_layout(None, None), None)?;
        let header = source.header().to_vec();
        let id = params
            .table
            .id
            .as_ref()
            .map(|c| Ok::<_, Error>((source.index(c)?, c.clone())))
            .transpose()?;
        let mut columns = Vec::new();
        for (name, column_type) in types {
            let at = source.index(name)?;
            if params.privacy.drop.contains(name) || id.as_ref().is_some_and(|(i, _)| *i == at) {
                continue;
            }
            columns.push((at, name.clone(), *column_type));
        }
        Ok(TableBatches {
            n_fields: header.len(),
            source,
            input: input.to_path_buf(),
            blanks: params.table.blanks.clone(),
            max_reject_fraction: params.max_reject_fraction,
            id,
            ids: params.privacy.id.hasher()?,
            columns,
            rows_in: 0,
            rejects: RejectTally::default(),
            raw: ByteRecord::new(),
        })
    }

    /// The next batch of at most `rows` accepted rows; `None` at the end of the input.
    pub fn next_batch(&mut self, rows: usize) -> Result<Option<TableBatch>> {
        let mut records: Vec<Vec<Option<String>>> = Vec::with_capacity(rows);
        let mut lines = Vec::with_capacity(rows);
        let mut numbers = Vec::with_capacity(rows);
        let mut row_ids = Vec::with_capacity(rows);
        let positions: Vec<usize> = self.columns.iter().map(|(i, _, _)| *i).collect();
        while records.len() < rows {
            let Some(line) = self.source.next(&mut self.raw)? else {
                break;
            };
            self.rows_in += 1;
            if self.raw.len() != self.n_fields {
                self.rejects.push(
                    line,
                    None,
                    format!(
                        "expected {} fields, found {}",
                        self.n_fields,
                        self.raw.len()
                    ),
                );
                continue;
            }
            let fields = match text_fields(&self.raw, &self.blanks, |_, _| {}) {
                Ok(fields) => fields,
                Err(i) => {
                    let name = self.source.header()[i].clone();
                    self.rejects
                        .push(line, Some(name), "not valid UTF-8".into());
                    continue;
                }
            };
            let type_of = |i: usize| {
                self.columns
                    .iter()
                    .find(|(at, _, _)| *at == i)
                    .map_or(ColumnType::String, |(_, _, t)| *t)
            };
            if let Some((i, _)) = refusal(&fields, &positions, type_of) {
                let name = self.source.header()[i].clone();
                let reason = format!("not a valid {}", type_of(i).name());
                self.rejects.push(line, Some(name), reason);
                continue;
            }
            row_ids.push(match &self.id {
                None => row_number_id(self.rows_in, self.rows_in),
                Some((i, name)) => {
                    let raw = fields[*i]
                        .as_deref()
                        .and_then(normalize_id)
                        .ok_or_else(|| {
                            Error::data(
                                Location::file(&self.input).line(line).column(name),
                                "empty id",
                            )
                        })?;
                    self.ids.id(raw)
                }
            });
            records.push(fields);
            lines.push(line);
            numbers.push(self.rows_in);
        }
        if records.is_empty() {
            return Ok(None);
        }
        let mut arrays: Vec<(&str, ArrayRef)> =
            vec![("row_id", Arc::new(StringArray::from(row_ids)))];
        for (at, name, column_type) in &self.columns {
            let values = records.iter().map(|r| r[*at].as_deref());
            arrays.push((name.as_str(), typed_array(values, *column_type)));
        }
        Ok(Some(TableBatch {
            rows: batch(arrays)?,
            lines,
            numbers,
        }))
    }

    /// Whether the input names each entity by an id column (else rows are numbered).
    pub fn has_id(&self) -> bool {
        self.id.is_some()
    }

    /// The id column's name in the input, if any.
    pub fn id_column(&self) -> Option<&str> {
        self.id.as_ref().map(|(_, name)| name.as_str())
    }

    /// The `row_id` of the `number`th data record once the whole input has been read.
    pub fn row_id(&self, number: u64) -> String {
        row_number_id(number, self.rows_in)
    }

    /// Records read so far, and those rejected.
    pub fn counts(&self) -> (u64, u64) {
        (self.rows_in, self.rejects.count)
    }

    /// After the last batch: the checks ingest makes of the whole input (some data, not too
    /// many rejects).
    pub fn finish(&self) -> Result<()> {
        if self.rows_in == 0 {
            return Err(Error::data(
                Location::file(&self.input),
                "no data rows after the header",
            ));
        }
        self.rejects
            .check_fraction(&self.input, self.rows_in, self.max_reject_fraction)
    }
}
