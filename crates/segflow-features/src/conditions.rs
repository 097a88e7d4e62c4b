//! The `where` conditions of the features: each distinct text parsed once against the events'
//! columns and evaluated over every batch read.

use arrow::array::{BooleanArray, RecordBatch};
use arrow::datatypes::Schema;

use segflow_core::{Error, Result};

use crate::spec::Params;

/// The distinct conditions, in first-use order.
pub struct Conditions {
    texts: Vec<String>,
}

impl Conditions {
    pub fn parse(_schema: &Schema, params: &Params) -> Result<Conditions> {
        if let Some((block, name, _)) = params.features().find(|(_, _, f)| f.condition().is_some())
        {
            return Err(Error::config(
                "",
                format!("blocks.{block}.{name}.where"),
                "conditions are not available yet",
            ));
        }
        Ok(Conditions { texts: Vec::new() })
    }

    pub fn len(&self) -> usize {
        self.texts.len()
    }

    /// The position of a feature's condition among the conditions.
    pub fn index(&self, text: &str) -> usize {
        self.texts.iter().position(|t| t == text).expect("parsed")
    }

    /// Whether some condition reads the column `name`.
    pub fn reads(&self, _name: &str) -> bool {
        false
    }

    /// For each condition, the rows of `batch` where it is true.
    pub fn masks(&self, _batch: &RecordBatch) -> Result<Vec<BooleanArray>> {
        Ok(Vec::new())
    }
}
