//! Table mode: one row per entity (customer, lead, …), columns typed by declaration, by the
//! input's own types (Parquet) or by inference, blanks and `table.blanks` values as nulls,
//! and a stable `row_id`.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, Float64Array, Int64Array, StringArray};
use arrow::datatypes::Int64Type;
use csv::ByteRecord;

use segflow_core::artifact::{META_ID_COLUMN, batch};
use segflow_core::error::Location;
use segflow_core::stage::{OutputDir, StageCtx};
use segflow_core::{Error, Result};

use crate::audit::{self, ColumnAudit, Counts, Rejects};
use crate::id_shape::IdShape;
use crate::privacy::{IdHasher, normalize_id};
use crate::reader::{ColumnProfile, Duplicates, field};
use crate::records::Records;
use crate::weak_data::{self, ValueTally};
use crate::{ColumnType, Outputs, Params};
use segflow_core::warnings::Warning;

struct Record {
    line: u64,
    /// 1-based position among data records, the synthesised id.
    number: u64,
    fields: Vec<Option<String>>,
}

pub fn run(
    input: &Path,
    params: &Params,
    ids: &IdHasher,
    out: &mut OutputDir,
    ctx: &StageCtx<'_>,
) -> Result<Outputs> {
    let mut source = Records::open(input, &params.text_layout(None, None), None)?;
    let header = source.header().to_vec();
    let id_col = params
        .table
        .id
        .as_ref()
        .map(|c| source.index(c))
        .transpose()?;
    let n_fields = header.len();
    let data_cols: Vec<usize> = (0..n_fields)
        .filter(|&i| Some(i) != id_col && !params.privacy.drop.contains(&header[i]))
        .collect();

    let mut profiles = vec![ColumnProfile::default(); n_fields];
    let mut duplicates = Duplicates::new(false, true);
    let mut rejects = Rejects::default();
    let mut records = Vec::new();
    let mut rows_in = 0u64;
    let mut raw = ByteRecord::new();
    (ctx.progress)("reading input");
    while let Some(line) = source.next(&mut raw)? {
        rows_in += 1;
        duplicates.observe(&raw);
        if raw.len() != n_fields {
            rejects.push_wrong_width(line, n_fields, raw.len());
            continue;
        }
        let fields = match text_fields(&raw, &params.table.blanks, |i, v| profiles[i].observe(v)) {
            Ok(fields) => fields,
            Err(i) => {
                rejects.push(
                    line,
                    Some(header[i].clone()),
                    "not valid UTF-8".into(),
                    None,
                );
                continue;
            }
        };
        records.push(Record {
            line,
            number: rows_in,
            fields,
        });
    }
    if rows_in == 0 {
        return Err(Error::data(
            Location::file(input),
            "no data rows after the header",
        ));
    }

    let types: Vec<(ColumnType, &'static str)> = (0..n_fields)
        .map(|i| match params.table.types.get(&header[i]) {
            Some(t) => (*t, "declared"),
            None => match source.declared(i) {
                Some(t) => (t, "parquet"),
                None => (
                    match profiles[i].inferred() {
                        "int64" => ColumnType::Int64,
                        "float64" => ColumnType::Float64,
                        _ => ColumnType::String,
                    },
                    "inferred",
                ),
            },
        })
        .collect();

    // Declared types can refuse a value; inferred ones fit every value by construction, and
    // Parquet's own types every value of their column but an unsigned one beyond int64.
    let mut accepted = Vec::with_capacity(records.len());
    for record in records {
        let refusal = refusal(&record.fields, &data_cols, |i| types[i].0);
        match refusal {
            Some((i, v)) => rejects.push(
                record.line,
                Some(header[i].clone()),
                format!("not a valid {}", types[i].0.name()),
                Some(v),
            ),
            None => accepted.push(record),
        }
    }

    let mut row_ids = Vec::with_capacity(accepted.len());
    let mut seen: HashMap<String, u64> = HashMap::new();
    let mut shape = IdShape::default();
    for record in &accepted {
        let id = match id_col {
            None => row_number_id(record.number, rows_in),
            Some(i) => {
                let name = &header[i];
                let raw = record.fields[i]
                    .as_deref()
                    .and_then(normalize_id)
                    .ok_or_else(|| {
                        Error::data(
                            Location::file(input).line(record.line).column(name),
                            "empty id",
                        )
                    })?;
                shape.observe(raw);
                ids.id(raw)
            }
        };
        if let Some(first) = seen.insert(id.clone(), record.line) {
            let column = params.table.id.clone().unwrap_or_default();
            return Err(Error::data(
                Location::file(input).line(record.line).column(column),
                format!(
                    "id repeats the entity of line {first} (an entity table has one row per entity)"
                ),
            ));
        }
        row_ids.push(id);
    }

    let accepted_n = accepted.len() as u64;
    let rejected = rejects.len() as u64;
    if rows_in != accepted_n + rejected {
        return Err(Error::Internal(format!(
            "row accounting broken: {rows_in} in, {accepted_n} accepted, {rejected} rejected"
        )));
    }
    rejects.check_fraction(&[input], rows_in, params.max_reject_fraction)?;

    (ctx.progress)("writing table");
    let mut arrays: Vec<(&str, ArrayRef)> = vec![("row_id", Arc::new(StringArray::from(row_ids)))];
    for &i in &data_cols {
        let values = accepted.iter().map(|r| r.fields[i].as_deref());
        arrays.push((header[i].as_str(), typed_array(values, types[i].0)));
    }
    let warnings = table_warnings(&header, id_col, &accepted, &arrays[1..]);
    let extra = vec![(META_ID_COLUMN.to_string(), "row_id".to_string())];
    out.write("table", &batch(arrays)?, &extra)?;
    out.write("rejects", &rejects.batch()?, &[])?;

    let columns: Vec<ColumnAudit> = (0..n_fields)
        .map(|i| {
            let name = &header[i];
            let role = if Some(i) == id_col {
                "id (hashed into row_id)"
            } else if params.privacy.drop.contains(name) {
                "dropped (PII)"
            } else {
                "kept"
            };
            ColumnAudit {
                column: name.clone(),
                role: role.into(),
                inferred_type: types[i].0.name().into(),
                type_source: types[i].1,
                non_null: profiles[i].non_null,
                rows: rows_in - rejects.wrong_width,
            }
        })
        .collect();
    let counts = Counts {
        rows_in,
        columns: n_fields as u64,
        accepted: accepted_n,
        rejected,
        duplicate_rows: duplicates.count(),
        excluded: Default::default(),
        ids: shape,
    };
    audit::write_table_audit(out, &counts, &columns, &warnings)?;
    Ok(Outputs {
        rows_in,
        accepted: accepted_n,
        rejected,
    })
}

/// A record's fields as trimmed text, blanks and `blanks` values as `None`, each shown to
/// `observe`; `Err` holds the first field that is not UTF-8.
pub(crate) fn text_fields(
    raw: &ByteRecord,
    blanks: &[String],
    mut observe: impl FnMut(usize, Option<&str>),
) -> std::result::Result<Vec<Option<String>>, usize> {
    let mut fields = Vec::with_capacity(raw.len());
    let mut bad_utf8 = None;
    for (i, raw) in raw.iter().enumerate() {
        match field(raw) {
            Ok(v) => {
                let v = v.filter(|v| !blanks.iter().any(|b| b == v));
                observe(i, v);
                fields.push(v.map(str::to_string));
            }
            Err(()) => {
                bad_utf8.get_or_insert(i);
                fields.push(None);
            }
        }
    }
    match bad_utf8 {
        Some(i) => Err(i),
        None => Ok(fields),
    }
}

/// The first of `columns` whose value does not fit its type, with the value.
pub(crate) fn refusal(
    fields: &[Option<String>],
    columns: &[usize],
    type_of: impl Fn(usize) -> ColumnType,
) -> Option<(usize, String)> {
    columns.iter().find_map(|&i| {
        let v = fields[i].as_deref()?;
        let fits = match type_of(i) {
            ColumnType::Int64 => v.parse::<i64>().is_ok(),
            ColumnType::Float64 => v.parse::<f64>().is_ok_and(f64::is_finite),
            ColumnType::String => true,
        };
        (!fits).then(|| (i, v.to_string()))
    })
}

/// A column of values that [`refusal`] accepted, as its Arrow type.
pub(crate) fn typed_array<'a>(
    values: impl Iterator<Item = Option<&'a str>>,
    column_type: ColumnType,
) -> ArrayRef {
    match column_type {
        ColumnType::Int64 => Arc::new(
            values
                .map(|v| v.map(|v| v.parse::<i64>().expect("checked")))
                .collect::<Int64Array>(),
        ),
        ColumnType::Float64 => Arc::new(
            values
                .map(|v| v.map(|v| v.parse::<f64>().expect("checked")))
                .collect::<Float64Array>(),
        ),
        ColumnType::String => Arc::new(values.collect::<StringArray>()),
    }
}

/// The synthesised id of the `number`th data record of an input of `rows_in` records: zero
/// padded, so text order is row order.
pub(crate) fn row_number_id(number: u64, rows_in: u64) -> String {
    let width = rows_in.to_string().len().max(6);
    format!("{number:0width$}")
}

/// The weak-data warnings of the table: per written column, then the id (or an integer
/// column) that counts rows.
fn table_warnings(
    header: &[String],
    id_col: Option<usize>,
    accepted: &[Record],
    columns: &[(&str, ArrayRef)],
) -> Vec<Warning> {
    let mut warnings = Vec::new();
    for (name, array) in columns {
        let mut tally = ValueTally::default();
        tally.observe(array.as_ref());
        tally.warnings(name, &mut warnings);
    }
    if let Some(i) = id_col {
        let ids = weak_data::integers(accepted.iter().map(|r| r.fields[i].as_deref()));
        warnings.extend(weak_data::row_number(&header[i], "the id column", &ids));
    }
    for (name, array) in columns {
        if let Some(ints) = array.as_primitive_opt::<Int64Type>() {
            let ints: Vec<Option<i64>> = ints.iter().collect();
            warnings.extend(weak_data::row_number(name, "the column", &ints));
        }
    }
    warnings
}
