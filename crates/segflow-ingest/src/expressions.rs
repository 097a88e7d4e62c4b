//! `derive` and `where`: SQL row expressions over one source's parsed rows, evaluated a
//! batch at a time with arrow's kernels.
//!
//! Expressions name source columns as the file does. The value column reads as a number and
//! the timestamp (or date) column as the parsed timestamp; other columns are text unless
//! `types` declares them numbers.

use std::collections::BTreeSet;
use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, RecordBatch};
use arrow::compute::kernels::boolean::and;
use arrow::datatypes::{Field, Schema};
use segflow_expr::{ErrorKind, Expr, ExprError, Type};

use segflow_core::error::Location;
use segflow_core::{Error, Result};

use crate::rows::{CATEGORY, TS, VALUE};
use crate::{EventColumns, Params, ValueType};

/// The compiled `derive` and `where` of one source.
pub struct RowExpressions {
    derived: Vec<(String, Expr)>,
    filters: Vec<Expr>,
    /// Source columns the expressions read, with the parsed batch's name for each.
    inputs: Vec<(String, String)>,
}

/// One source's view of the stage settings, for compiling its expressions.
pub struct SourceColumns<'a> {
    pub header: &'a [String],
    pub columns: &'a EventColumns,
    /// The key of this source's own `where` and its text, if any.
    pub own_filter: Option<(String, &'a str)>,
}

impl RowExpressions {
    pub fn compile(params: &Params, source: &SourceColumns<'_>) -> Result<Self> {
        let c = source.columns;
        let is = |name: &str, role: &Option<String>| role.as_deref() == Some(name);
        let source_type = |name: &str| -> Option<Type> {
            if !source.header.iter().any(|h| h == name) {
                return None;
            }
            Some(if is(name, &c.value) {
                Type::Number
            } else if is(name, &c.timestamp) || is(name, &c.date) {
                Type::Timestamp
            } else if params.types.get(name) == Some(&ValueType::Number) {
                Type::Number
            } else {
                Type::Text
            })
        };
        let mut derived: Vec<(String, Expr)> = Vec::new();
        for (name, text) in &params.derive {
            let key = format!("derive.{name}");
            if source.header.contains(name) {
                return Err(Error::config(
                    "",
                    key,
                    format!(
                        "`{name}` is already a column of the input; name the derived column differently"
                    ),
                ));
            }
            let expr = Expr::parse(text, |col| {
                derived
                    .iter()
                    .find(|(n, _)| n == col)
                    .map(|(_, e)| e.output_type())
                    .or_else(|| source_type(col))
            })
            .map_err(|e| expression_error(&key, e, params, source.header))?;
            check_private(params, c, &key, &expr)?;
            derived.push((name.clone(), expr));
        }
        let filter_type = |col: &str| {
            derived
                .iter()
                .find(|(n, _)| n == col)
                .map(|(_, e)| e.output_type())
                .or_else(|| source_type(col))
        };
        let mut filters = Vec::new();
        let own = source.own_filter.as_ref().map(|(k, t)| (k.clone(), *t));
        for (key, text) in params
            .filter
            .as_deref()
            .map(|t| ("where".to_string(), t))
            .into_iter()
            .chain(own)
        {
            let expr = Expr::parse(text, filter_type)
                .map_err(|e| expression_error(&key, e, params, source.header))?;
            if expr.output_type() != Type::Bool {
                return Err(Error::config(
                    "",
                    key,
                    format!(
                        "`{text}` is {}, not a condition (true or false)",
                        expr.output_type().name()
                    ),
                ));
            }
            filters.push(expr);
        }
        let derived_names: BTreeSet<&str> = derived.iter().map(|(n, _)| n.as_str()).collect();
        let mut inputs: Vec<(String, String)> = Vec::new();
        for expr in derived.iter().map(|(_, e)| e).chain(&filters) {
            for col in expr.columns() {
                if derived_names.contains(col.as_str()) || inputs.iter().any(|(n, _)| n == col) {
                    continue;
                }
                let parsed = if is(col, &c.value) {
                    VALUE.to_string()
                } else if is(col, &c.timestamp) || is(col, &c.date) {
                    TS.to_string()
                } else if is(col, &c.category) {
                    CATEGORY.to_string()
                } else {
                    col.clone()
                };
                inputs.push((col.clone(), parsed));
            }
        }
        Ok(Self {
            derived,
            filters,
            inputs,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.derived.is_empty() && self.filters.is_empty()
    }

    /// Source columns (other than the value, clock and category) the expressions read: the
    /// parsed batch must carry them.
    pub fn extra_inputs(&self) -> impl Iterator<Item = &str> {
        self.inputs
            .iter()
            .filter(|(name, parsed)| name == parsed)
            .map(|(name, _)| name.as_str())
    }

    /// The derived columns' names and types, in order.
    pub fn derived_types(&self) -> Vec<(String, Type)> {
        self.derived
            .iter()
            .map(|(n, e)| (n.clone(), e.output_type()))
            .collect()
    }

    /// The derived columns of `parsed`, and the rows every condition keeps (`None`: all).
    pub fn apply(
        &self,
        parsed: &RecordBatch,
        file: &std::path::Path,
    ) -> Result<(Vec<ArrayRef>, Option<BooleanArray>)> {
        let mut fields: Vec<Field> = Vec::new();
        let mut arrays: Vec<ArrayRef> = Vec::new();
        for (name, internal) in &self.inputs {
            let array = parsed
                .column_by_name(internal)
                .expect("the parsed batch carries every expression input")
                .clone();
            fields.push(Field::new(name, array.data_type().clone(), true));
            arrays.push(array);
        }
        let failed = |key: String, e: ExprError| {
            Error::data(
                Location::file(file).column(&key),
                format!("cannot evaluate: {e}"),
            )
        };
        let mut derived = Vec::with_capacity(self.derived.len());
        for (name, expr) in &self.derived {
            let view = view(&fields, &arrays, parsed.num_rows())?;
            let array = expr
                .eval(&view)
                .map_err(|e| failed(format!("derive.{name}"), e))?;
            fields.push(Field::new(name, array.data_type().clone(), true));
            arrays.push(array.clone());
            derived.push(array);
        }
        let mut mask: Option<BooleanArray> = None;
        if !self.filters.is_empty() {
            let view = view(&fields, &arrays, parsed.num_rows())?;
            for expr in &self.filters {
                let keep = expr.mask(&view).map_err(|e| failed("where".into(), e))?;
                mask = Some(match mask {
                    None => keep,
                    Some(m) => and(&m, &keep)?,
                });
            }
        }
        Ok((derived, mask))
    }
}

fn view(fields: &[Field], arrays: &[ArrayRef], rows: usize) -> Result<RecordBatch> {
    let options = arrow::array::RecordBatchOptions::new().with_row_count(Some(rows));
    Ok(RecordBatch::try_new_with_options(
        Arc::new(Schema::new(fields.to_vec())),
        arrays.to_vec(),
        &options,
    )?)
}

/// A derived column is written to the events artifact, so it may not read the raw contact, a
/// dropped column or a column written hashed: that would carry the identity into an artifact.
fn check_private(params: &Params, c: &EventColumns, key: &str, expr: &Expr) -> Result<()> {
    for col in expr.columns() {
        let why = if *col == c.contact {
            Some("the raw contact column, which only ever becomes contact_id")
        } else if params.privacy.drop.contains(col) {
            Some("listed in privacy.drop")
        } else if params.privacy.hash.contains(col) {
            Some("listed in privacy.hash, so only its pseudonym is written")
        } else {
            None
        };
        if let Some(why) = why {
            return Err(Error::config(
                "",
                key,
                format!(
                    "reads `{col}`, {why}; a derived column may not carry it into the events artifact"
                ),
            ));
        }
    }
    Ok(())
}

/// An expression error as a config error at `key`, with a hint when a column compared or
/// computed with as a number was read as text only for want of a declared type.
fn expression_error(key: &str, e: ExprError, params: &Params, header: &[String]) -> Error {
    let mut message = e.to_string();
    if e.kind == ErrorKind::TypeMismatch {
        let undeclared: Vec<&str> = header
            .iter()
            .filter(|h| message.contains(&format!("`{h}`")) && !params.types.contains_key(*h))
            .map(String::as_str)
            .collect();
        if let Some(col) = undeclared.first() {
            message.push_str(&format!(
                "; `{col}` is read as text: declare `types: {{{col}: number}}` to compute with it"
            ));
        }
    }
    Error::config("", key, message)
}
