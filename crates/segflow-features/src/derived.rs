//! Features computed from other features (ratio, log1p), after the base features of a batch
//! of rows, in dependency order.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array};
use arrow::compute::cast;
use arrow::datatypes::DataType;

use segflow_core::error::Location;
use segflow_core::{Error, Result};

use crate::feature::Aggregation;
use crate::layout::Columns;
use crate::spec::Params;

fn as_floats(name: &str, array: &ArrayRef) -> Result<Float64Array> {
    let cast = cast(array, &DataType::Float64)
        .map_err(|_| Error::config("", name, format!("`{name}` is not numeric")))?;
    Ok(cast
        .as_any()
        .downcast_ref::<Float64Array>()
        .expect("cast to Float64")
        .clone())
}

/// Whose rows a batch of feature columns holds, so a bad derived value names its entity.
pub struct Rows<'a> {
    /// The events or table artifact the features are computed from.
    pub file: &'a Path,
    pub id_column: &'a str,
    pub ids: Vec<&'a str>,
}

/// Ratios and log1p, each after the features it refers to. Nulls propagate.
pub fn add_derived(params: &Params, columns: &mut Columns, rows: &Rows<'_>) -> Result<()> {
    let order = params
        .derived_order()
        .map_err(|c| Error::Internal(format!("cycle survived validation: {c}")))?;
    for name in order {
        let (_, _, feature) = params
            .features()
            .find(|(_, n, _)| *n == name)
            .expect("derived from params");
        let input = |col: &str| -> Result<Float64Array> { as_floats(col, &columns[col].1) };
        let array: Float64Array = match &feature.aggregation {
            Aggregation::Ratio {
                num,
                den,
                den_offset,
                if_zero,
            } => {
                let (a, b) = (input(num)?, input(den)?);
                a.iter()
                    .zip(b.iter())
                    .map(|(x, y)| {
                        let (x, y) = (x?, y? + den_offset);
                        Some(if y == 0.0 { *if_zero } else { x / y })
                    })
                    .collect()
            }
            Aggregation::Log1p(of) => {
                let values = input(of)?;
                // ln(1 + x) is −∞ at −1 and undefined below: refused rather than written.
                if let Some(row) = values.iter().position(|x| x.is_some_and(|x| x <= -1.0)) {
                    return Err(Error::data(
                        Location::file(rows.file).column(name),
                        format!(
                            "{} {}: log1p of `{of}` = {} needs values above −1",
                            rows.id_column,
                            rows.ids[row],
                            values.value(row)
                        ),
                    ));
                }
                values.iter().map(|x| x.map(f64::ln_1p)).collect()
            }
            _ => unreachable!("only ratio and log1p are derived"),
        };
        columns.insert(name.to_string(), (name.to_string(), Arc::new(array)));
    }
    Ok(())
}
