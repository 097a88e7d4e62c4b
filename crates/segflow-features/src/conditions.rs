//! The `where` conditions of the features: each distinct text parsed once against the events'
//! columns, and evaluated (vectorised, with Arrow kernels) over every batch of events read.

use std::path::Path;

use arrow::array::{BooleanArray, RecordBatch};
use arrow::datatypes::Schema;
use segflow_expr::{ErrorKind, Expr, Type};

use segflow_core::error::Location;
use segflow_core::{Error, Result};

use crate::schema::readable_columns;
use crate::spec::Params;

/// The distinct conditions, in first-use order, each with the key of its first use.
pub struct Conditions {
    conditions: Vec<Condition>,
}

struct Condition {
    text: String,
    key: String,
    expr: Expr,
}

impl Conditions {
    /// Parses every feature's condition against the events' columns; a condition that does
    /// not parse, names an unknown column or is not true-or-false is a config error at
    /// `blocks.<block>.<feature>.where`, with its position in the text.
    pub fn parse(schema: &Schema, params: &Params) -> Result<Conditions> {
        let columns: Vec<(String, Type)> = readable_columns(schema)
            .filter_map(|(name, data_type)| Some((name.to_string(), Type::from_arrow(data_type)?)))
            .collect();
        let mut conditions: Vec<Condition> = Vec::new();
        for (block, name, feature) in params.features() {
            let Some(text) = feature.condition() else {
                continue;
            };
            if conditions.iter().any(|c| c.text == text) {
                continue;
            }
            let key = format!("blocks.{block}.{name}.where");
            let expr = Expr::parse(text, &columns).map_err(|e| {
                let mut message = e.to_string();
                if e.kind == ErrorKind::UnknownColumn {
                    // The usual slip: naming a column of the input file that ingest did not
                    // carry into the events artifact.
                    let names: Vec<&str> = columns.iter().map(|(n, _)| n.as_str()).collect();
                    message.push_str(&format!(
                        "; conditions read the events artifact ({}): carry an input column \
                         into it with ingest's `keep:` or `derive:`",
                        names.join(", ")
                    ));
                }
                Error::config("", &key, message)
            })?;
            if expr.output_type() != Type::Bool {
                return Err(Error::config(
                    "",
                    key,
                    format!(
                        "at column 1: a condition is true or false, and `{text}` is a {}",
                        expr.output_type().name()
                    ),
                ));
            }
            conditions.push(Condition {
                text: text.to_string(),
                key,
                expr,
            });
        }
        Ok(Conditions { conditions })
    }

    pub fn len(&self) -> usize {
        self.conditions.len()
    }

    /// The position of a feature's condition among the conditions.
    pub fn index(&self, text: &str) -> usize {
        self.conditions
            .iter()
            .position(|c| c.text == text)
            .expect("parsed")
    }

    /// Whether some condition reads the column `name`.
    pub fn reads(&self, name: &str) -> bool {
        self.conditions
            .iter()
            .any(|c| c.expr.columns().iter().any(|col| col == name))
    }

    /// For each condition, the rows of `batch` (read from `path`) where it is true.
    pub fn masks(&self, batch: &RecordBatch, path: &Path) -> Result<Vec<BooleanArray>> {
        self.conditions
            .iter()
            .map(|c| {
                c.expr.mask(batch).map_err(|e| {
                    Error::data(
                        Location::file(path).column(&c.key),
                        format!("cannot evaluate: {e}"),
                    )
                })
            })
            .collect()
    }
}
