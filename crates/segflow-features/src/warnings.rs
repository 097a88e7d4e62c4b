//! The features stage's warnings:
//! - `far_as_of`: an `as_of` far after the bulk of the event dates (by [`FarBounds`])
//!   measures every recency and tenure from a time few events are near, as when a few events
//!   were mistyped far into the future and `as_of: latest_event` followed them;
//! - `constant_feature`: a feature with one value for every entity (or none at all) cannot
//!   separate segments, in the model or as context; preprocess leaves such a model column
//!   out of the matrix.

use std::collections::BTreeMap;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Float64Type, Int64Type};

use segflow_core::Result;
use segflow_core::warnings::{FarBounds, Warning, day_of, day_text};

/// Whether each feature column has kept one value over the batches seen so far.
#[derive(Default)]
pub struct Constancy {
    columns: Vec<ColumnConstancy>,
    rows: u64,
}

struct ColumnConstancy {
    name: String,
    /// The first value, as text for text columns or as the bits of a number.
    first: Option<Value>,
    varies: bool,
}

#[derive(PartialEq)]
enum Value {
    Number(u64),
    Text(String),
}

impl Constancy {
    /// Looks at every column of `batch` but the first (the id).
    pub fn observe(&mut self, batch: &RecordBatch) -> Result<()> {
        let schema = batch.schema();
        if self.columns.is_empty() {
            self.columns = schema.fields()[1..]
                .iter()
                .map(|f| ColumnConstancy {
                    name: f.name().clone(),
                    first: None,
                    varies: false,
                })
                .collect();
        }
        self.rows += batch.num_rows() as u64;
        for (column, array) in self.columns.iter_mut().zip(&batch.columns()[1..]) {
            if column.varies {
                continue;
            }
            let mut see = |v: Value| match &column.first {
                None => column.first = Some(v),
                Some(first) => column.varies |= *first != v,
            };
            // −0 and 0 are one value.
            match array.data_type() {
                DataType::Float64 => array
                    .as_primitive::<Float64Type>()
                    .iter()
                    .flatten()
                    .for_each(|x| see(Value::Number((x + 0.0).to_bits()))),
                DataType::Int64 => array
                    .as_primitive::<Int64Type>()
                    .iter()
                    .flatten()
                    .for_each(|x| see(Value::Number(x as u64))),
                _ => {
                    let text = arrow::compute::cast(array, &DataType::Utf8)?;
                    text.as_string::<i32>()
                        .iter()
                        .flatten()
                        .for_each(|t| see(Value::Text(t.to_string())));
                }
            }
        }
        Ok(())
    }

    /// A `constant_feature` warning per column with one value (or none) for every entity.
    pub fn warnings(&self) -> Vec<Warning> {
        self.columns
            .iter()
            .filter(|c| !c.varies && self.rows > 1)
            .map(|c| {
                let what = match c.first {
                    Some(_) => "has one value for all",
                    None => "has no value for any of the",
                };
                Warning::new(
                    "constant_feature",
                    Some(&c.name),
                    format!(
                        "`{}` {what} {} entities: it cannot separate segments (preprocess \
                         leaves such a model column out of the matrix)",
                        c.name, self.rows
                    ),
                )
                .share(1.0)
                .rows(self.rows)
            })
            .collect()
    }
}

/// A `far_as_of` warning when `as_of` lies beyond the bulk of the event times `ts`;
/// `latest` says whether it is the latest event's time rather than a given one.
pub fn far_as_of(ts: &[i64], as_of: i64, as_of_text: &str, latest: bool) -> Option<Warning> {
    let mut days: BTreeMap<i64, u64> = BTreeMap::new();
    for &t in ts {
        *days.entry(day_of(t)).or_default() += 1;
    }
    far_as_of_days(&days, as_of, as_of_text, latest)
}

/// [`far_as_of`] from the events per day.
pub fn far_as_of_days(
    days: &BTreeMap<i64, u64>,
    as_of: i64,
    as_of_text: &str,
    latest: bool,
) -> Option<Warning> {
    let days: Vec<(i64, u64)> = days.iter().map(|(&d, &n)| (d, n)).collect();
    let bounds = FarBounds::from_days(&days)?;
    let day = day_of(as_of);
    if !bounds.late(day) {
        return None;
    }
    let (source, fix) = match latest {
        true => (
            "`latest_event`",
            "see the ingest's `far_timestamps` warning for the events that moved it; leave them \
             out in ingest (`where:`) or give `as_of` a time",
        ),
        false => ("given", "give an `as_of` near the data"),
    };
    let beyond = day as f64 - bounds.q3;
    Some(Warning::new(
        "far_as_of",
        None,
        format!(
            "the as_of used, {as_of_text} ({source}), lies {beyond:.0} days after the upper \
             quartile of event dates ({}), beyond the {:.0}-day margin: every recency and tenure \
             is measured from it; {fix}",
            day_text(bounds.q3.round() as i64),
            bounds.margin
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_column_is_constant_until_a_second_value_in_any_batch() {
        use std::sync::Arc;
        let batch = |x: Vec<Option<f64>>, t: Vec<&str>| {
            segflow_core::artifact::batch(vec![
                (
                    "id",
                    Arc::new(arrow::array::StringArray::from(vec!["a"; x.len()])) as _,
                ),
                ("x", Arc::new(arrow::array::Float64Array::from(x)) as _),
                ("t", Arc::new(arrow::array::StringArray::from(t)) as _),
            ])
            .unwrap()
        };
        let mut c = Constancy::default();
        c.observe(&batch(vec![Some(0.0), None], vec!["u", "u"]))
            .unwrap();
        c.observe(&batch(vec![Some(-0.0)], vec!["v"])).unwrap();
        let names: Vec<_> = c.warnings().into_iter().map(|w| w.column).collect();
        assert_eq!(names, [Some("x".to_string())]);
    }

    #[test]
    fn an_as_of_a_year_past_a_short_log_is_far_and_one_a_day_past_is_not() {
        let day = 86_400_000_000i64;
        let ts: Vec<i64> = (0..60).map(|d| d * day).collect();
        assert!(far_as_of(&ts, 61 * day, "x", true).is_none());
        let far = far_as_of(&ts, 500 * day, "x", false).expect("far");
        assert_eq!(far.code, "far_as_of");
    }
}
