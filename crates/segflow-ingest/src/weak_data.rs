//! The audit's weak-data warnings (`audit_warnings.parquet`): columns that carry (almost)
//! nothing, ids that are row numbers, and events dated far outside the bulk of the log.
//!
//! The rules, with their thresholds:
//! - `mostly_missing_column`: at least [`MOSTLY_MISSING_SHARE`] of the rows have no value;
//! - `constant_column`: every non-missing row has the same value;
//! - `almost_constant_column`: one value fills at least [`ALMOST_CONSTANT_SHARE`] of the
//!   non-missing rows;
//! - `row_number_id`: an id, or an integer column, whose values are the row numbers (each one
//!   more than the row before), or a contiguous range of integers in another order;
//! - `far_timestamps`: events dated beyond [`FarBounds`] (more than max(10 × IQR, 365 days)
//!   past the quartiles of the event dates); at most [`LISTED_LINES`] input lines are named,
//!   and the count of all.

use std::collections::BTreeMap;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Float64Type, Int64Type, TimestampMicrosecondType, UInt64Type};

use segflow_core::warnings::{FarBounds, Warning, day_of, day_text};

pub const MOSTLY_MISSING_SHARE: f64 = 0.5;
pub const ALMOST_CONSTANT_SHARE: f64 = 0.99;
pub const LISTED_LINES: usize = 20;

/// Distinct values counted per column, so memory stays bounded on a column of unique values.
/// A value first seen after this many others is not counted: it could only be almost
/// constant if the rows before its first one held none of it, over 6.5 million rows.
const TALLIED_VALUES: usize = 65_536;

/// How often each value of one column occurs, and how many rows have none.
#[derive(Default)]
pub struct ValueTally {
    rows: u64,
    nulls: u64,
    /// Value fingerprint (XXH3 of its text, or its bits) → rows, for the first
    /// [`TALLIED_VALUES`] distinct values.
    counts: foldhash::HashMap<u64, u64>,
    /// Whether a value beyond those was seen (the column is then not constant).
    more: bool,
}

impl ValueTally {
    /// Counts every row of `array` (text, integers or decimals; other types are not tallied).
    pub fn observe(&mut self, array: &dyn Array) {
        self.rows += array.len() as u64;
        self.nulls += array.null_count() as u64;
        let (counts, more) = (&mut self.counts, &mut self.more);
        let mut count = |key: u64| {
            let room = counts.len() < TALLIED_VALUES;
            match counts.get_mut(&key) {
                Some(n) => *n += 1,
                None if room => {
                    counts.insert(key, 1);
                }
                None => *more = true,
            }
        };
        match array.data_type() {
            DataType::Utf8 => array
                .as_string::<i32>()
                .iter()
                .flatten()
                .for_each(|s| count(xxhash_rust::xxh3::xxh3_64(s.as_bytes()))),
            DataType::Int64 => array
                .as_primitive::<Int64Type>()
                .iter()
                .flatten()
                .for_each(|v| count(v as u64)),
            // −0 and 0 are one value.
            DataType::Float64 => array
                .as_primitive::<Float64Type>()
                .iter()
                .flatten()
                .for_each(|v| count((v + 0.0).to_bits())),
            _ => {}
        }
    }

    /// The warnings this column's values call for.
    pub fn warnings(&self, column: &str, out: &mut Vec<Warning>) {
        if self.rows == 0 {
            return;
        }
        let missing = self.nulls as f64 / self.rows as f64;
        if missing >= MOSTLY_MISSING_SHARE {
            out.push(
                Warning::new(
                    "mostly_missing_column",
                    Some(column),
                    format!(
                        "`{column}` is missing in {} of its {} rows ({:.1} %, the threshold is \
                         {:.0} %): imputed values would stand for most of it",
                        self.nulls,
                        self.rows,
                        missing * 100.0,
                        MOSTLY_MISSING_SHARE * 100.0
                    ),
                )
                .share(missing)
                .rows(self.nulls),
            );
        }
        let present = self.rows - self.nulls;
        let Some(&top) = self.counts.values().max() else {
            return;
        };
        let share = top as f64 / present as f64;
        if self.counts.len() == 1 && !self.more {
            out.push(
                Warning::new(
                    "constant_column",
                    Some(column),
                    format!(
                        "`{column}` has one value in all {present} rows that have one: it cannot \
                         tell segments apart"
                    ),
                )
                .share(1.0)
                .rows(present),
            );
        } else if share >= ALMOST_CONSTANT_SHARE {
            out.push(
                Warning::new(
                    "almost_constant_column",
                    Some(column),
                    format!(
                        "one value of `{column}` fills {top} of its {present} non-missing rows \
                         ({:.2} %, the threshold is {:.0} %): the few others may form a segment \
                         of their own",
                        share * 100.0,
                        ALMOST_CONSTANT_SHARE * 100.0
                    ),
                )
                .share(share)
                .rows(present - top),
            );
        }
    }
}

/// A `row_number_id` warning when `values` (in row order) are integers that count rows: each
/// one more than the one before, or, in another order, a contiguous range without repeats.
pub fn row_number(column: &str, role: &str, values: &[Option<i64>]) -> Option<Warning> {
    let ints: Vec<i64> = values.iter().copied().collect::<Option<Vec<i64>>>()?;
    let n = ints.len();
    if n < 3 {
        return None;
    }
    let in_order = ints.windows(2).all(|w| w[1].checked_sub(w[0]) == Some(1));
    let what = if in_order {
        format!("counts the rows from {} to {}", ints[0], ints[n - 1])
    } else {
        let mut sorted = ints.clone();
        sorted.sort_unstable();
        if !sorted.windows(2).all(|w| w[1].checked_sub(w[0]) == Some(1)) {
            return None;
        }
        format!(
            "is the contiguous range {} to {} in another order",
            sorted[0],
            sorted[n - 1]
        )
    };
    Some(
        Warning::new(
            "row_number_id",
            Some(column),
            format!(
                "{role} `{column}` {what}: it looks like a row number, not an identity, so it \
                 says nothing about the entity (and is trivially enumerable)"
            ),
        )
        .rows(n as u64),
    )
}

/// The integers of a text column, `None` for a row that is missing or not an integer.
pub fn integers<'a>(values: impl Iterator<Item = Option<&'a str>>) -> Vec<Option<i64>> {
    values
        .map(|v| v.and_then(|v| v.trim().parse::<i64>().ok()))
        .collect()
}

/// Events per day, with the first input lines of each day, for the far-timestamps rule.
#[derive(Default)]
pub struct EventDays {
    /// Day number since 1970-01-01 → events and up to [`LISTED_LINES`] (source, line).
    days: BTreeMap<i64, (u64, Vec<(usize, u64)>)>,
}

impl EventDays {
    /// Counts the accepted events of `batch` (its `ts` and `source_line` columns), read from
    /// source number `source`.
    pub fn observe(&mut self, batch: &RecordBatch, source: usize) {
        let (Some(ts), Some(lines)) = (
            batch.column_by_name("ts"),
            batch.column_by_name("source_line"),
        ) else {
            return;
        };
        let ts = ts.as_primitive::<TimestampMicrosecondType>();
        let lines = lines.as_primitive::<UInt64Type>();
        for (&t, &line) in ts.values().iter().zip(lines.values()) {
            let (count, listed) = self.days.entry(day_of(t)).or_default();
            *count += 1;
            if listed.len() < LISTED_LINES {
                listed.push((source, line));
            }
        }
    }

    /// The `far_timestamps` warnings (late, then early); `sources` names the inputs when
    /// there are several.
    pub fn warnings(&self, sources: &[&str], out: &mut Vec<Warning>) {
        let counts: Vec<(i64, u64)> = self.days.iter().map(|(d, (c, _))| (*d, *c)).collect();
        let Some(bounds) = FarBounds::from_days(&counts) else {
            return;
        };
        let total: u64 = counts.iter().map(|(_, c)| c).sum();
        let late: Vec<_> = self.days.iter().filter(|(d, _)| bounds.late(**d)).collect();
        let early: Vec<_> = self
            .days
            .iter()
            .filter(|(d, _)| bounds.early(**d))
            .collect();
        for (far, side, edge) in [
            (late, "after the upper", bounds.q3),
            (early, "before the lower", bounds.q1),
        ] {
            if far.is_empty() {
                continue;
            }
            let count: u64 = far.iter().map(|(_, (c, _))| c).sum();
            let lines: Vec<String> = far
                .iter()
                .flat_map(|(_, (_, listed))| listed)
                .take(LISTED_LINES)
                .map(|&(source, line)| match sources.get(source) {
                    Some(name) if sources.len() > 1 => format!("{name} {line}"),
                    _ => line.to_string(),
                })
                .collect();
            let more = if count as usize > lines.len() {
                format!(" and {} more", count as usize - lines.len())
            } else {
                String::new()
            };
            let (first, last) = (*far[0].0, *far[far.len() - 1].0);
            let dates = match first == last {
                true => format!("dated {}", day_text(first)),
                false => format!("dated {} to {}", day_text(first), day_text(last)),
            };
            out.push(
                Warning::new(
                    "far_timestamps",
                    None,
                    format!(
                        "{count} events ({dates}) lie more than {:.0} days {side} quartile of \
                         event dates ({}): lines {}{more}; an `as_of: latest_event` and every \
                         recency and tenure follow them (features record the as_of they used \
                         as `segflow.as_of`)",
                        bounds.margin,
                        day_text(edge.round() as i64),
                        lines.join(", ")
                    ),
                )
                .share(count as f64 / total as f64)
                .rows(count),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_numbers_in_order_or_as_a_shuffled_range_are_found() {
        let ids = |v: &[i64]| v.iter().map(|&x| Some(x)).collect::<Vec<_>>();
        assert!(row_number("id", "the id", &ids(&[1, 2, 3, 4])).is_some());
        assert!(row_number("id", "the id", &ids(&[0, 1, 2])).is_some());
        assert!(row_number("id", "the id", &ids(&[3, 1, 2, 4])).is_some());
        assert!(row_number("id", "the id", &ids(&[1, 2, 4, 5])).is_none());
        assert!(row_number("id", "the id", &ids(&[1, 1, 2])).is_none());
        assert!(row_number("id", "the id", &[Some(1), None, Some(3)]).is_none());
    }

    fn codes(values: Vec<Option<&str>>) -> Vec<String> {
        let mut tally = ValueTally::default();
        tally.observe(&arrow::array::StringArray::from(values));
        let mut out = Vec::new();
        tally.warnings("c", &mut out);
        out.into_iter().map(|w| w.code).collect()
    }

    #[test]
    fn thresholds_are_inclusive_and_a_column_beyond_the_tally_is_not_constant() {
        let mut rows = vec![Some("a"); 99];
        rows.push(Some("b"));
        assert_eq!(codes(rows.clone()), ["almost_constant_column"]);
        rows.push(Some("b"));
        assert!(codes(rows).is_empty());
        assert_eq!(
            codes(vec![Some("a"), None]),
            ["mostly_missing_column", "constant_column"]
        );
        assert!(codes(vec![Some("a"), Some("b"), None]).is_empty());

        let texts: Vec<String> = (0..=TALLIED_VALUES).map(|i| i.to_string()).collect();
        let mut tally = ValueTally::default();
        tally.observe(&arrow::array::StringArray::from_iter_values(
            std::iter::repeat_n("0", TALLIED_VALUES).chain(texts.iter().map(String::as_str)),
        ));
        assert!(tally.more);
        let mut out = Vec::new();
        tally.warnings("c", &mut out);
        assert!(out.is_empty(), "{out:?}");
    }
}
