//! The one error type: what went wrong and where in the expression text.

use std::fmt;

use sqlparser::tokenizer::{Location, Span};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The text is not an expression (unbalanced parentheses, a stray token, a malformed
    /// literal).
    Syntax,
    /// A name that is none of the columns.
    UnknownColumn,
    /// Operands or arguments of the wrong type, a wrong number of arguments, a timestamp
    /// literal that is not a date.
    TypeMismatch,
    /// Valid SQL outside the language: subqueries, aggregates, window functions, unknown
    /// functions.
    Unsupported,
    /// The batch given to `eval` lacks a column or holds it with another type.
    Evaluation,
}

/// An error with the 1-based line and column, within the expression text, of the
/// sub-expression at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExprError {
    pub kind: ErrorKind,
    pub line: u64,
    pub column: u64,
    pub message: String,
    /// Whether the text had several lines, so that `Display` names the line too.
    multiline: bool,
}

/// A position in the expression text (1-based line and column, in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pos {
    pub line: u64,
    pub column: u64,
}

impl Pos {
    /// The start of `span`, or `fallback` where sqlparser records none.
    pub fn of(span: Span, fallback: Pos) -> Pos {
        Pos::at(span.start).unwrap_or(fallback)
    }

    pub fn at(location: Location) -> Option<Pos> {
        (location.line > 0).then_some(Pos {
            line: location.line,
            column: location.column,
        })
    }

    pub const START: Pos = Pos { line: 1, column: 1 };
}

impl ExprError {
    pub(crate) fn new(kind: ErrorKind, pos: Pos, message: impl Into<String>) -> ExprError {
        ExprError {
            kind,
            line: pos.line,
            column: pos.column,
            message: message.into(),
            multiline: false,
        }
    }

    pub(crate) fn in_text(self, multiline: bool) -> ExprError {
        ExprError { multiline, ..self }
    }
}

/// A trailing newline (as YAML block scalars leave) does not make a second line.
pub(crate) fn is_multiline(text: &str) -> bool {
    text.trim_end().contains('\n')
}

impl fmt::Display for ExprError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.multiline {
            write!(f, "at line {}, column {}: ", self.line, self.column)?;
        } else {
            write!(f, "at column {}: ", self.column)?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ExprError {}
