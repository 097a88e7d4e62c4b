//! Each base (non-derived) feature over a batch of contacts of the grouped event log, and what
//! a feature needs from the whole log first (thresholds, category ranks).

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, Float64Array, Int64Array, StringArray, TimestampMicrosecondArray,
};

use segflow_core::calendar;
use segflow_core::error::Location;
use segflow_core::{Error, Result};

use crate::events::{Bitmap, Column, Events, Text};
use crate::feature::{Aggregation, Condition, Feature};
use crate::schema::Reading;
use crate::stats;

/// What a feature needs from the whole log, computed once before contacts are aggregated.
pub enum Global {
    None,
    /// The bar of a `value_ge_quantile` share.
    Threshold(f64),
    /// Category codes: those of `category_in`.
    Codes(Vec<u32>),
    /// The `top` categories of `category_shares` in rank order, each with its code (none when
    /// no event of these contacts has it).
    Top(Vec<(String, Option<u32>)>),
    /// The byte-order rank of each code of a text column, for a mode's ties.
    Ranks(Vec<u32>),
}

/// What a feature reads of the log, resolved once: its column, and the events where its
/// condition (its `where:`, or a share's `where` condition) holds.
pub struct Source<'a> {
    pub column: Option<&'a Column>,
    pub mask: Option<&'a Bitmap>,
    /// Whether the mask selects the events the aggregation sees (a share's condition does not:
    /// a share sees every event and counts the matching ones).
    filters: bool,
}

impl<'a> Source<'a> {
    pub fn of(feature: &Feature, ev: &'a Events, reading: &Reading) -> Source<'a> {
        Source {
            column: feature.column().map(|c| ev.column(c)),
            mask: feature
                .condition()
                .map(|text| ev.mask(reading.conditions.index(text))),
            filters: feature.filter.is_some(),
        }
    }

    /// The contact's events this feature sees.
    pub fn rows<'s>(
        &'s self,
        ev: &'s Events,
        g: usize,
    ) -> impl Iterator<Item = usize> + Clone + 's {
        let mask = self.mask.filter(|_| self.filters);
        ev.group(g).filter(move |&i| mask.is_none_or(|m| m.get(i)))
    }

    pub fn numbers(&self) -> &'a [f64] {
        match self.column {
            Some(Column::Number(values)) => values,
            _ => unreachable!("checked: a number column"),
        }
    }

    /// The non-null numbers of the contact's events this feature sees.
    pub fn values<'s>(
        &'s self,
        ev: &'s Events,
        g: usize,
    ) -> impl Iterator<Item = f64> + Clone + 's {
        let numbers = self.numbers();
        self.rows(ev, g)
            .map(move |i| numbers[i])
            .filter(|x| !x.is_nan())
    }
}

fn text(column: &Column) -> &Text {
    match column {
        Column::Text(text) => text,
        _ => unreachable!("checked: a text column"),
    }
}

pub fn global(
    name: &str,
    feature: &Feature,
    ev: &Events,
    source: &Source<'_>,
    fixed_threshold: Option<f64>,
    thresholds: &mut Vec<(String, String)>,
) -> Result<Global> {
    Ok(match &feature.aggregation {
        Aggregation::Share(Condition::ValueGeQuantile(q)) => {
            let threshold = match fixed_threshold {
                Some(t) => t,
                None => {
                    let mut values: Vec<f64> = source
                        .numbers()
                        .iter()
                        .copied()
                        .filter(|x| !x.is_nan())
                        .collect();
                    if values.is_empty() {
                        return Err(Error::data(
                            Location::default().column(feature.column().unwrap_or_default()),
                            format!("{name}: no values to take the quantile of"),
                        ));
                    }
                    segflow_core::stats::quantile_in_place(&mut values, *q)
                }
            };
            thresholds.push((name.to_string(), threshold.to_string()));
            Global::Threshold(threshold)
        }
        Aggregation::Share(Condition::CategoryIn(names)) => {
            let cats = text(ev.column("category"));
            Global::Codes(
                (0..cats.names.len() as u32)
                    .filter(|&c| names.contains(&cats.names[c as usize]))
                    .collect(),
            )
        }
        Aggregation::CategoryShares { top } => {
            let cats = text(ev.column("category"));
            let mut counts = vec![0u64; cats.names.len()];
            for g in 0..ev.groups() {
                for i in source.rows(ev, g) {
                    let c = cats.codes[i];
                    if c != Text::NONE {
                        counts[c as usize] += 1;
                    }
                }
            }
            let names = cats.names.iter().map(String::as_str).zip(counts);
            let code = |name: &str| cats.names.iter().position(|c| c == name);
            Global::Top(
                crate::per_contact::ranked(names, *top)
                    .into_iter()
                    .map(|name| (name.to_string(), code(name).map(|c| c as u32)))
                    .collect(),
            )
        }
        Aggregation::Mode => match source.column {
            Some(Column::Text(text)) => {
                let mut by_name: Vec<u32> = (0..text.names.len() as u32).collect();
                by_name
                    .sort_unstable_by(|&a, &b| text.names[a as usize].cmp(&text.names[b as usize]));
                let mut ranks = vec![0u32; by_name.len()];
                for (r, &c) in by_name.iter().enumerate() {
                    ranks[c as usize] = r as u32;
                }
                Global::Ranks(ranks)
            }
            _ => Global::None,
        },
        _ => Global::None,
    })
}

/// The sorted non-null values each contact of a batch shows a median or quantile feature,
/// shared by the features that read the same column under the same condition.
pub struct Sorted {
    values: Vec<f64>,
    /// Contact `k` of the batch owns `values[offsets[k]..offsets[k + 1]]`.
    offsets: Vec<usize>,
}

impl Sorted {
    pub fn new(ev: &Events, source: &Source<'_>, contacts: &[usize]) -> Sorted {
        let mut values = Vec::new();
        let mut offsets = vec![0];
        for &g in contacts {
            let start = values.len();
            values.extend(source.values(ev, g));
            values[start..].sort_by(f64::total_cmp);
            offsets.push(values.len());
        }
        Sorted { values, offsets }
    }

    fn contact(&self, k: usize) -> &[f64] {
        &self.values[self.offsets[k]..self.offsets[k + 1]]
    }
}

/// A batch of contacts to aggregate one feature over.
pub struct Scope<'a> {
    pub ev: &'a Events,
    /// Group indices of the contacts, ascending.
    pub contacts: &'a [usize],
    pub as_of: i64,
    pub global: &'a Global,
    pub source: &'a Source<'a>,
    /// For medians and quantiles.
    pub sorted: Option<&'a Sorted>,
}

impl Scope<'_> {
    fn floats(&self, f: impl FnMut(usize) -> f64) -> ArrayRef {
        Arc::new(Float64Array::from_iter_values(
            self.contacts.iter().copied().map(f),
        ))
    }

    fn optional_floats(&self, f: impl FnMut(usize) -> Option<f64>) -> ArrayRef {
        Arc::new(
            self.contacts
                .iter()
                .copied()
                .map(f)
                .collect::<Float64Array>(),
        )
    }

    fn counts(&self, f: impl FnMut(usize) -> usize) -> ArrayRef {
        let mut f = f;
        Arc::new(Int64Array::from_iter_values(
            self.contacts.iter().map(|&g| f(g) as i64),
        ))
    }

    fn times(&self, f: impl FnMut(usize) -> Option<i64>) -> ArrayRef {
        Arc::new(
            self.contacts
                .iter()
                .copied()
                .map(f)
                .collect::<TimestampMicrosecondArray>(),
        )
    }

    fn sorted(&self, f: impl Fn(&[f64]) -> Option<f64>) -> ArrayRef {
        let sorted = self.sorted.expect("prepared for order statistics");
        Arc::new(
            (0..self.contacts.len())
                .map(|k| f(sorted.contact(k)))
                .collect::<Float64Array>(),
        )
    }

    fn codes(&self) -> &[u32] {
        match self.global {
            Global::Codes(codes) => codes,
            _ => unreachable!("prepared for category features"),
        }
    }

    /// The sorted distinct calendar days of the contact's events this feature sees.
    fn active_days(&self, g: usize) -> Vec<i64> {
        let mut days: Vec<i64> = self
            .source
            .rows(self.ev, g)
            .map(|i| calendar::day_number(self.ev.ts[i]))
            .collect();
        days.sort_unstable();
        days.dedup();
        days
    }

    fn first(&self, g: usize) -> Option<i64> {
        self.source.rows(self.ev, g).map(|i| self.ev.ts[i]).min()
    }

    fn last(&self, g: usize) -> Option<i64> {
        self.source.rows(self.ev, g).map(|i| self.ev.ts[i]).max()
    }
}

/// One base feature over a batch of contacts; `category_shares` yields several columns.
pub fn event_feature(name: &str, feature: &Feature, a: &Scope<'_>) -> Vec<(String, ArrayRef)> {
    let (ev, source) = (a.ev, a.source);
    let single = |array: ArrayRef| vec![(name.to_string(), array)];
    match &feature.aggregation {
        Aggregation::Count => single(a.counts(|g| {
            if source.filters {
                source.rows(ev, g).count()
            } else {
                ev.size(g)
            }
        })),
        Aggregation::DistinctDays => single(a.counts(|g| a.active_days(g).len())),
        Aggregation::Distinct => single(a.counts(|g| distinct(a, g))),
        Aggregation::Sum => single(a.floats(|g| stats::sum(source.values(ev, g)).0)),
        Aggregation::Mean => single(a.optional_floats(|g| stats::mean(source.values(ev, g)))),
        Aggregation::Min => single(a.optional_floats(|g| stats::min(source.values(ev, g)))),
        Aggregation::Max => single(a.optional_floats(|g| stats::max(source.values(ev, g)))),
        Aggregation::Std => single(a.optional_floats(|g| stats::std(source.values(ev, g)))),
        Aggregation::Median => single(a.sorted(|s| stats::quantile(s, 0.5))),
        Aggregation::Quantile(q) => single(a.sorted(|s| stats::quantile(s, *q))),
        Aggregation::FirstTs => single(a.times(|g| a.first(g))),
        Aggregation::LastTs => single(a.times(|g| a.last(g))),
        Aggregation::RecencyDays => {
            single(a.optional_floats(|g| a.last(g).map(|t| stats::days(a.as_of - t))))
        }
        Aggregation::TenureDays => {
            single(a.optional_floats(|g| Some(stats::days(a.last(g)? - a.first(g)?))))
        }
        Aggregation::MeanGapDays => single(a.optional_floats(|g| {
            let gaps = stats::gaps(&a.active_days(g));
            stats::mean(gaps.iter().copied())
        })),
        Aggregation::MedianGapDays => single(a.optional_floats(|g| {
            let mut gaps = stats::gaps(&a.active_days(g));
            gaps.sort_by(f64::total_cmp);
            stats::quantile(&gaps, 0.5)
        })),
        Aggregation::Mode => single(mode(a)),
        Aggregation::Share(condition) => {
            let test = event_test(condition, a);
            single(
                a.floats(|g| ev.group(g).filter(|&i| test(i)).count() as f64 / ev.size(g) as f64),
            )
        }
        Aggregation::CategoryShares { .. } => {
            let cats = text(ev.column("category"));
            let Global::Top(top) = a.global else {
                unreachable!("prepared for category shares")
            };
            top.iter()
                .map(|(category, code)| {
                    let array = a.floats(|g| {
                        let seen = source.rows(ev, g).count();
                        let Some(code) = *code else { return 0.0 };
                        if seen == 0 {
                            return 0.0;
                        }
                        source
                            .rows(ev, g)
                            .filter(|&i| cats.codes[i] == code)
                            .count() as f64
                            / seen as f64
                    });
                    (format!("{name}_{category}"), array)
                })
                .collect()
        }
        Aggregation::Ratio { .. } | Aggregation::Log1p(_) | Aggregation::Column(_) => {
            unreachable!("not a base event feature")
        }
    }
}

/// A number as a key where -0 and 0 are one value, as SQL and pandas count them.
fn number_key(x: f64) -> f64 {
    x + 0.0
}

/// The number of distinct non-null values of the feature's column among the events it sees.
fn distinct(a: &Scope<'_>, g: usize) -> usize {
    let rows = a.source.rows(a.ev, g);
    match a.source.column.expect("checked: distinct reads a column") {
        Column::Number(values) => {
            let mut keys: Vec<f64> = rows
                .map(|i| values[i])
                .filter(|x| !x.is_nan())
                .map(number_key)
                .collect();
            stats::distinct(&mut keys, f64::total_cmp)
        }
        Column::Text(text) => {
            let mut keys: Vec<u32> = rows
                .map(|i| text.codes[i])
                .filter(|&c| c != Text::NONE)
                .collect();
            stats::distinct(&mut keys, u32::cmp)
        }
        Column::Bool(flags) => {
            let mut keys: Vec<u8> = rows
                .map(|i| flags[i])
                .filter(|&f| f != Column::NO_FLAG)
                .collect();
            stats::distinct(&mut keys, u8::cmp)
        }
        Column::Timestamp(times) => {
            let mut keys: Vec<i64> = rows
                .map(|i| times[i])
                .filter(|&t| t != Column::NO_TIME)
                .collect();
            stats::distinct(&mut keys, i64::cmp)
        }
    }
}

/// The most frequent non-null value of the feature's column per contact, in the column's type.
fn mode(a: &Scope<'_>) -> ArrayRef {
    let (ev, source) = (a.ev, a.source);
    let contacts = a.contacts.iter().copied();
    match source.column.expect("checked: mode reads a column") {
        Column::Number(_) => Arc::new(
            contacts
                .map(|g| {
                    let mut keys: Vec<f64> = source.values(ev, g).map(number_key).collect();
                    stats::mode(&mut keys, f64::total_cmp)
                })
                .collect::<Float64Array>(),
        ),
        Column::Text(text) => {
            let Global::Ranks(ranks) = a.global else {
                unreachable!("prepared for a text mode")
            };
            Arc::new(
                contacts
                    .map(|g| {
                        let mut keys: Vec<u32> = source
                            .rows(ev, g)
                            .map(|i| text.codes[i])
                            .filter(|&c| c != Text::NONE)
                            .collect();
                        stats::mode(&mut keys, |&x, &y| {
                            ranks[x as usize].cmp(&ranks[y as usize])
                        })
                        .map(|c| text.names[c as usize].as_str())
                    })
                    .collect::<StringArray>(),
            )
        }
        Column::Bool(flags) => Arc::new(
            contacts
                .map(|g| {
                    let mut keys: Vec<u8> = source
                        .rows(ev, g)
                        .map(|i| flags[i])
                        .filter(|&f| f != Column::NO_FLAG)
                        .collect();
                    stats::mode(&mut keys, u8::cmp).map(|f| f == 1)
                })
                .collect::<BooleanArray>(),
        ),
        Column::Timestamp(times) => Arc::new(
            contacts
                .map(|g| {
                    let mut keys: Vec<i64> = source
                        .rows(ev, g)
                        .map(|i| times[i])
                        .filter(|&t| t != Column::NO_TIME)
                        .collect();
                    stats::mode(&mut keys, i64::cmp)
                })
                .collect::<TimestampMicrosecondArray>(),
        ),
    }
}

/// The per-event predicate of a share condition.
fn event_test<'a>(condition: &'a Condition, a: &'a Scope<'_>) -> Box<dyn Fn(usize) -> bool + 'a> {
    let ev = a.ev;
    match condition {
        Condition::HourIn(range) => Box::new(move |i| range.contains(calendar::hour(ev.ts[i]))),
        Condition::WeekdayIn(days) => {
            let set: Vec<u32> = days.iter().map(|d| d.index()).collect();
            Box::new(move |i| set.contains(&calendar::weekday(ev.ts[i])))
        }
        // NaN, a missing number, is never ≥ anything: as in SQL, missing is not a match.
        Condition::ValueGe(x) => {
            let values = a.source.numbers();
            Box::new(move |i| values[i] >= *x)
        }
        Condition::ValueGeQuantile(_) => {
            let Global::Threshold(threshold) = *a.global else {
                unreachable!("prepared for value_ge_quantile")
            };
            let values = a.source.numbers();
            Box::new(move |i| values[i] >= threshold)
        }
        Condition::CategoryIn(_) => {
            let (codes, wanted) = (&text(ev.column("category")).codes, a.codes());
            Box::new(move |i| wanted.contains(&codes[i]))
        }
        Condition::Where(_) => {
            let mask = a.source.mask.expect("prepared for a where condition");
            Box::new(move |i| mask.get(i))
        }
    }
}
