//! SQL row expressions — derived columns, row filters and the conditions of aggregations —
//! parsed with `sqlparser`, resolved against the columns a stage has, type-checked, and
//! evaluated vectorised over Arrow arrays with Arrow's compute kernels.
//!
//! Every construct has one semantics that Spark, DuckDB and PostgreSQL can all express; the
//! user reference is `docs/expressions.md`. This crate knows nothing of stages or YAML:
//! callers turn an [`ExprError`] into their own error naming the YAML key.

mod cast;
mod error;
mod eval;
mod functions;
mod names;
mod parse;
mod resolve;
mod timestamp;
pub mod tree;

#[cfg(test)]
mod tests;

use arrow::array::{ArrayRef, BooleanArray, RecordBatch};
use arrow::datatypes::{DataType, TimeUnit};

pub use error::{ErrorKind, ExprError};

/// The value types of the language and the Arrow type each is stored as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Type {
    /// `Float64`: every number is a double.
    Number,
    /// `Utf8`.
    Text,
    /// `Boolean`.
    Bool,
    /// `Timestamp(Microsecond, None)`: naive date and time.
    Timestamp,
}

impl Type {
    pub fn arrow(self) -> DataType {
        match self {
            Type::Number => DataType::Float64,
            Type::Text => DataType::Utf8,
            Type::Bool => DataType::Boolean,
            Type::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
        }
    }

    /// The type of a column stored as `data_type`, if it is one of the language's.
    pub fn from_arrow(data_type: &DataType) -> Option<Type> {
        [Type::Number, Type::Text, Type::Bool, Type::Timestamp]
            .into_iter()
            .find(|t| t.arrow() == *data_type)
    }

    pub fn name(self) -> &'static str {
        match self {
            Type::Number => "number",
            Type::Text => "text",
            Type::Bool => "boolean",
            Type::Timestamp => "timestamp",
        }
    }
}

/// A parsed, resolved and type-checked expression.
#[derive(Debug, Clone)]
pub struct Expr {
    root: tree::Node,
    columns: Vec<String>,
    multiline: bool,
}

impl Expr {
    /// Parses `text` and resolves every column against `columns` (name and type of each
    /// column the expression may read): an exact name first, otherwise the one column whose
    /// name matches ignoring case. Then type-checks the whole expression.
    pub fn parse<S: AsRef<str>>(text: &str, columns: &[(S, Type)]) -> Result<Expr, ExprError> {
        let multiline = error::is_multiline(text);
        let ast = parse::parse(text).map_err(|e| e.in_text(multiline))?;
        let (root, columns) = resolve::resolve(&ast, columns).map_err(|e| e.in_text(multiline))?;
        Ok(Expr {
            root,
            columns,
            multiline,
        })
    }

    /// Like [`Expr::parse`], for callers that do not know every column: a name that is none
    /// of `columns` is read as a column of type `other`, named as written.
    pub fn parse_open<S: AsRef<str>>(
        text: &str,
        columns: &[(S, Type)],
        other: Type,
    ) -> Result<Expr, ExprError> {
        let multiline = error::is_multiline(text);
        let ast = parse::parse(text).map_err(|e| e.in_text(multiline))?;
        let (root, columns) =
            resolve::resolve_open(&ast, columns, other).map_err(|e| e.in_text(multiline))?;
        Ok(Expr {
            root,
            columns,
            multiline,
        })
    }

    /// The resolved, typed tree, for rendering the expression elsewhere.
    pub fn tree(&self) -> &tree::Node {
        &self.root
    }

    pub fn output_type(&self) -> Type {
        self.root.ty
    }

    /// The columns the expression reads: resolved names, in order of first appearance, each
    /// once.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// Evaluates over a batch holding (at least) [`Expr::columns`], each stored as its
    /// [`Type::arrow`] type; one output value per row, of [`Expr::output_type`].
    pub fn eval(&self, batch: &RecordBatch) -> Result<ArrayRef, ExprError> {
        eval::eval(&self.root, batch).map_err(|e| e.in_text(self.multiline))
    }

    /// For a boolean expression, the rows where it is TRUE (NULL and FALSE rows are not
    /// kept), as a mask without nulls for `arrow::compute::filter_record_batch`.
    pub fn mask(&self, batch: &RecordBatch) -> Result<BooleanArray, ExprError> {
        eval::mask(&self.root, batch).map_err(|e| e.in_text(self.multiline))
    }
}
