//! The features checked against an events artifact's schema, before any event is read: which
//! columns to decode and keep, and the config errors of features naming columns the events
//! lack or cannot give.

use std::path::Path;

use arrow::datatypes::{DataType, Schema, TimeUnit};

use segflow_core::error::Location;
use segflow_core::{Error, Result};
use segflow_expr::Type;

use crate::conditions::Conditions;
use crate::feature::{Aggregation, Condition, DEFAULT_OF, Feature, Reads};
use crate::spec::Params;

/// Columns of the events artifact that are bookkeeping, not event attributes.
const NOT_READABLE: &[&str] = &["contact_id", "source_line"];

/// What the features read from an events artifact.
pub struct Reading {
    /// Columns kept per event besides `contact_id` and `ts`, in first-use order.
    pub columns: Vec<(String, Type)>,
    pub conditions: Conditions,
}

impl Reading {
    /// Whether the Parquet column `name` is decoded: the kept columns, and the ones the
    /// conditions read.
    pub fn decodes(&self, name: &str) -> bool {
        name == "contact_id"
            || name == "ts"
            || self.columns.iter().any(|(c, _)| c == name)
            || self.conditions.reads(name)
    }
}

pub fn wrong_type(path: &Path, name: &str, expected: &str) -> Error {
    Error::data(
        Location::file(path).column(name),
        format!("expected a {expected} column"),
    )
}

/// Checks that the events' column `name` exists (unless optional) with the given type.
fn check_column(
    schema: &Schema,
    path: &Path,
    name: &str,
    required: bool,
    expected: &str,
    fits: impl Fn(&DataType) -> bool,
) -> Result<bool> {
    match schema.field_with_name(name) {
        Ok(field) if fits(field.data_type()) => Ok(true),
        Ok(_) => Err(wrong_type(path, name, expected)),
        Err(_) if required => Err(Error::data(
            Location::file(path).column(name),
            "required column is missing",
        )),
        Err(_) => Ok(false),
    }
}

/// The events' columns features may name, with their types.
pub fn readable_columns(schema: &Schema) -> impl Iterator<Item = (&str, &DataType)> {
    schema
        .fields()
        .iter()
        .filter(|f| !NOT_READABLE.contains(&f.name().as_str()))
        .map(|f| (f.name().as_str(), f.data_type()))
}

/// The columns features may name, with their types, for error messages.
fn available(schema: &Schema) -> String {
    readable_columns(schema)
        .map(|(name, data_type)| match Type::from_arrow(data_type) {
            Some(kind) => format!("{name} ({})", kind.name()),
            None => format!("{name} ({data_type}, not readable)"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The kind of the events column `name`, if features may read it.
pub fn readable(schema: &Schema, name: &str) -> Option<Type> {
    if NOT_READABLE.contains(&name) {
        return None;
    }
    schema
        .field_with_name(name)
        .ok()
        .and_then(|f| Type::from_arrow(f.data_type()))
}

/// Checks the standard columns and every feature's column against the events' schema.
pub fn plan(
    schema: &Schema,
    path: &Path,
    params: &Params,
    time_of_day: Option<&str>,
) -> Result<Reading> {
    if let Some((block, name, _)) = params
        .features()
        .find(|(_, _, f)| matches!(f.aggregation, Aggregation::Column(_)))
    {
        return Err(Error::config(
            "",
            format!("blocks.{block}.{name}"),
            "`column` passes a table column through; the input is an event log",
        ));
    }
    check_column(schema, path, "contact_id", true, "string", |t| {
        *t == DataType::Utf8
    })?;
    check_column(schema, path, "ts", true, "timestamp[µs]", |t| {
        matches!(t, DataType::Timestamp(TimeUnit::Microsecond, _))
    })?;
    let has_value = check_column(schema, path, "value", false, "float64", |t| {
        *t == DataType::Float64
    })?;
    let has_category = check_column(schema, path, "category", false, "string", |t| {
        *t == DataType::Utf8
    })?;

    let mut columns: Vec<(String, Type)> = Vec::new();
    for (block, name, feature) in params.features() {
        let key = format!("blocks.{block}.{name}");
        let needs_category = matches!(
            feature.aggregation,
            Aggregation::CategoryShares { .. } | Aggregation::Share(Condition::CategoryIn(_))
        );
        if needs_category {
            if !has_category {
                return Err(Error::config(
                    "",
                    key,
                    "needs the events' `category` column, which ingest did not map",
                ));
            }
            add(&mut columns, "category", Type::Text);
        }
        if matches!(
            feature.aggregation,
            Aggregation::Share(Condition::HourIn(_))
        ) && time_of_day == Some("false")
        {
            return Err(Error::config(
                "",
                key,
                "the event log has dates only (ingest read no time of day), so the hour of \
                 day is unknown; drop this hour_in share or ingest a time column",
            ));
        }
        if let Some(column) = feature.column() {
            let kind = column_kind(schema, &key, feature, column, has_value)?;
            add(&mut columns, column, kind);
        }
    }
    let conditions = Conditions::parse(schema, params)?;
    Ok(Reading {
        columns,
        conditions,
    })
}

fn add(columns: &mut Vec<(String, Type)>, name: &str, kind: Type) {
    if !columns.iter().any(|(c, _)| c == name) {
        columns.push((name.to_string(), kind));
    }
}

/// The kind of the column a feature reads, checked to suit the aggregation.
fn column_kind(
    schema: &Schema,
    key: &str,
    feature: &Feature,
    column: &str,
    has_value: bool,
) -> Result<Type> {
    if feature.of.is_none() && column == DEFAULT_OF && !has_value {
        return Err(Error::config(
            "",
            key,
            format!(
                "needs the events' `value` column, which ingest did not map; or name another \
                 number column with `of:`; the events have: {}",
                available(schema)
            ),
        ));
    }
    let of_key = format!("{key}.of");
    let Some(kind) = readable(schema, column) else {
        let why = match schema.field_with_name(column) {
            Ok(field) if !NOT_READABLE.contains(&column) => {
                format!("has type {}, which features cannot read", field.data_type())
            }
            _ => "is not a column of the events".to_string(),
        };
        return Err(Error::config(
            "",
            of_key,
            format!("`{column}` {why}; the events have: {}", available(schema)),
        ));
    };
    if feature.aggregation.reads() == Reads::Numbers && kind != Type::Number {
        return Err(Error::config(
            "",
            of_key,
            format!(
                "`{column}` is a {} column and this aggregation needs numbers; the events \
                 have: {}",
                kind.name(),
                available(schema)
            ),
        ));
    }
    Ok(kind)
}
