//! The names the features read and write, checked before anything runs: the columns the
//! features name in ingest's output, and the feature columns later stages may name.

use segflow_core::stage::Columns;
use segflow_core::{Error, Result};
use segflow_expr::{ErrorKind, Expr, Type};

use crate::feature::{Aggregation, Feature};
use crate::spec::Params;

/// The features' columns: the id column ingest writes, then every feature. The columns of a
/// `category_shares` feature are named after the categories found in the data, so only their
/// prefix is known.
pub fn provided(params: &Params, upstream: Option<&Columns>) -> Columns {
    let id = upstream.and_then(|u| u.names().find(|n| matches!(*n, "contact_id" | "row_id")));
    let shares = |f: &Feature| matches!(f.aggregation, Aggregation::CategoryShares { .. });
    let names = params
        .features()
        .filter(|(_, _, f)| !shares(f))
        .map(|(_, name, _)| name.to_string());
    let mut columns = Columns::new(id.map(str::to_string).into_iter().chain(names));
    for (_, name, _) in params.features().filter(|(_, _, f)| shares(f)) {
        columns.add_open_prefix(format!("{name}_"));
    }
    columns
}

/// Every column a feature reads (`of`, `column`, the default `value`) and every column its
/// `where` names is one of ingest's.
pub fn check(params: &Params, upstream: &Columns) -> Result<()> {
    for (block, name, feature) in params.features() {
        let key = format!("blocks.{block}.{name}");
        if let Aggregation::Column(column) = &feature.aggregation {
            upstream.check(&format!("{key}.column"), column, &[])?;
        }
        match (feature.column(), &feature.of) {
            (Some(column), Some(_)) => upstream.check(&format!("{key}.of"), column, &[])?,
            (Some(column), None) if !upstream.names().any(|n| n == column) => {
                return Err(Error::config(
                    "",
                    key,
                    format!(
                        "needs the events' `{column}` column, which ingest did not map \
                         (`columns.value`); or name another number column with `of:`"
                    ),
                ));
            }
            _ => {}
        }
        if let Some(text) = feature.condition()
            && let Some(message) = unknown_column(text, upstream)
        {
            return Err(Error::config("", format!("{key}.where"), message));
        }
    }
    Ok(())
}

/// The error of a condition naming a column ingest does not write, if it does. The columns'
/// types are known only once ingest has run, and whether a name resolves does not depend on
/// them: the condition is resolved with every column taken as each type in turn, and a
/// typing under which it resolves has found every name.
fn unknown_column(text: &str, upstream: &Columns) -> Option<String> {
    for ty in [Type::Bool, Type::Number, Type::Text, Type::Timestamp] {
        let columns: Vec<(&str, Type)> = upstream.names().map(|n| (n, ty)).collect();
        match Expr::parse(text, &columns) {
            Ok(_) => return None,
            Err(e) if e.kind == ErrorKind::UnknownColumn => {
                // The usual slip: a column of the input that ingest does not carry into the
                // events artifact.
                let names: Vec<&str> = upstream.names().collect();
                return Some(format!(
                    "{e}; conditions read the events artifact ({}): carry an input column into \
                     it with ingest's `keep:` or `derive:`",
                    names.join(", ")
                ));
            }
            Err(_) => {}
        }
    }
    None
}
