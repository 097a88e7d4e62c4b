//! Per-segment mixes of the context columns that are not numbers to summarise: labels (text),
//! flags (true/false), and whole-number 0/1 columns. Each segment's share per category sits beside
//! the share among all entities, and the cell where a segment differs most is flagged. This is
//! how an outcome (churned, converted) or a label (region, contract) describes the segments
//! without shaping them.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, RecordBatch};
use arrow::datatypes::DataType;

use segflow_core::Result;
use segflow_core::artifact::{Artifact, batch};

use crate::arrays::{floats, strings, u32s, u64s};
use crate::params::Params;
use crate::training::Feature;

/// The category of entities whose value is null: counted, never dropped.
pub const MISSING: &str = "(missing)";
/// The categories beyond the `mix_top` most frequent ones, counted together.
pub const OTHER: &str = "(other)";

/// The spellings of a yes/no column, positive first, compared without case.
const BINARY_PAIRS: [(&str, &str); 4] = [("yes", "no"), ("true", "false"), ("y", "n"), ("1", "0")];

/// One context column's mix over the segments.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnMix {
    pub column: String,
    /// For a yes/no column, its positive category (the first of `categories`): the segment's
    /// rate is its share.
    pub rate_of: Option<String>,
    /// In order: the named categories (by decreasing overall count, ties by label), then
    /// `(other)`, then `(missing)` where there are any.
    pub categories: Vec<String>,
    /// Per segment, per category.
    pub counts: Vec<Vec<u64>>,
    /// Per category, among every entity (DBSCAN's noise included).
    pub overall: Vec<u64>,
    /// The (segment, category) cell furthest from the overall share.
    pub flagged: (usize, usize),
}

impl ColumnMix {
    pub fn size(&self, segment: usize) -> u64 {
        self.counts[segment].iter().sum()
    }

    pub fn total(&self) -> u64 {
        self.overall.iter().sum()
    }

    /// count / segment size; 0 for an empty segment.
    pub fn share(&self, segment: usize, category: usize) -> f64 {
        ratio(self.counts[segment][category], self.size(segment))
    }

    pub fn overall_share(&self, category: usize) -> f64 {
        ratio(self.overall[category], self.total())
    }

    pub fn difference(&self, segment: usize, category: usize) -> f64 {
        self.share(segment, category) - self.overall_share(category)
    }

    /// The segment's most frequent category (ties to the earlier one in `categories`).
    pub fn top(&self, segment: usize) -> usize {
        let counts = &self.counts[segment];
        (0..counts.len())
            .rev()
            .max_by_key(|&c| counts[c])
            .unwrap_or_default()
    }
}

fn ratio(count: u64, size: u64) -> f64 {
    if size == 0 {
        0.0
    } else {
        count as f64 / size as f64
    }
}

/// The mix of every context column that is text, a flag or a whole-number 0/1 column, its codes
/// read through the params' `labels`; other numeric context columns are described by the
/// profile instead. `segments` holds each row's segment (None for noise), `k` their number.
pub fn mixes(
    features: &Artifact,
    context: &[Feature],
    segments: &[Option<usize>],
    k: usize,
    params: &Params,
) -> Result<Vec<ColumnMix>> {
    let mut out = Vec::new();
    for f in context {
        let array = features.column(&f.name)?;
        if let Some(mut values) = labels_of(array.as_ref()) {
            if let Some(readable) = params.labels.get(&f.name) {
                for v in values.iter_mut().flatten() {
                    if let Some(label) = readable.get(v.as_str()) {
                        v.clone_from(label);
                    }
                }
            }
            out.push(mix(f.name.clone(), &values, segments, k, params.mix_top));
        }
    }
    Ok(out)
}

/// The labels of a column that has a mix: text as written, flags as `true`/`false`, a column
/// of whole numbers that are all 0 or 1 as `0`/`1`; None for any other column.
fn labels_of(array: &dyn Array) -> Option<Vec<Option<String>>> {
    let n = array.len();
    let valid = |i: usize| array.is_valid(i);
    match array.data_type() {
        DataType::Utf8 => {
            let s = array.as_string::<i32>();
            Some(
                (0..n)
                    .map(|i| valid(i).then(|| s.value(i).to_string()))
                    .collect(),
            )
        }
        DataType::LargeUtf8 => {
            let s = array.as_string::<i64>();
            Some(
                (0..n)
                    .map(|i| valid(i).then(|| s.value(i).to_string()))
                    .collect(),
            )
        }
        DataType::Boolean => {
            let b = array.as_boolean();
            Some(
                (0..n)
                    .map(|i| valid(i).then(|| b.value(i).to_string()))
                    .collect(),
            )
        }
        // Whole numbers only: a share or a rate computed per entity (a float) can happen to be
        // 0 or 1 everywhere without being a yes/no column.
        t if t.is_integer() => {
            let ints = arrow::compute::cast(array, &DataType::Int64).ok()?;
            let ints = ints.as_primitive::<arrow::datatypes::Int64Type>();
            let values: Vec<Option<i64>> =
                (0..n).map(|i| valid(i).then(|| ints.value(i))).collect();
            let binary = values.iter().flatten().all(|v| *v == 0 || *v == 1)
                && values.iter().any(Option::is_some);
            binary.then(|| values.iter().map(|v| v.map(|v| v.to_string())).collect())
        }
        _ => None,
    }
}

/// The positive and negative spellings when every label is one of a yes/no pair (as written
/// in the data; the pair's own word where one side never occurs).
fn binary_pair(distinct: &[&String]) -> Option<(String, String)> {
    BINARY_PAIRS.iter().find_map(|(yes, no)| {
        let all_in_pair = distinct
            .iter()
            .all(|d| d.eq_ignore_ascii_case(yes) || d.eq_ignore_ascii_case(no));
        all_in_pair.then(|| {
            let spelled = |word: &str| {
                distinct
                    .iter()
                    .find(|d| d.eq_ignore_ascii_case(word))
                    .map_or_else(|| word.to_string(), |d| (*d).clone())
            };
            (spelled(yes), spelled(no))
        })
    })
}

fn mix(
    column: String,
    values: &[Option<String>],
    labels: &[Option<usize>],
    k: usize,
    top: usize,
) -> ColumnMix {
    let mut distinct: Vec<&String> = values.iter().flatten().collect();
    distinct.sort();
    distinct.dedup();
    let pair = binary_pair(&distinct);
    // A yes/no column's spellings ("Yes", "yes") are one category on each side.
    let canonical: Vec<Option<&str>> = values
        .iter()
        .map(|v| {
            v.as_deref().map(|v| match &pair {
                Some((yes, _)) if v.eq_ignore_ascii_case(yes) => yes.as_str(),
                Some((_, no)) => no.as_str(),
                None => v,
            })
        })
        .collect();
    let mut frequency: HashMap<&str, u64> = HashMap::new();
    for v in canonical.iter().flatten() {
        *frequency.entry(v).or_default() += 1;
    }
    let mut ranked: Vec<(&str, u64)> = frequency.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    let (mut categories, rate_of) = match &pair {
        Some((yes, no)) => (vec![yes.clone(), no.clone()], Some(yes.clone())),
        None => (
            ranked.iter().take(top).map(|r| r.0.to_string()).collect(),
            None,
        ),
    };
    let named = categories.len();
    let index: HashMap<String, usize> = categories
        .iter()
        .enumerate()
        .map(|(i, c)| (c.clone(), i))
        .collect();
    if ranked.len() > named {
        categories.push(OTHER.to_string());
    }
    if canonical.iter().any(Option::is_none) {
        categories.push(MISSING.to_string());
    }
    let missing = categories.len() - 1;
    let category_of = |v: &Option<&str>| match v {
        None => missing,
        Some(v) => index.get(*v).copied().unwrap_or(named),
    };
    let mut counts = vec![vec![0u64; categories.len()]; k];
    let mut overall = vec![0u64; categories.len()];
    for (v, l) in canonical.iter().zip(labels) {
        let c = category_of(v);
        overall[c] += 1;
        if let Some(l) = l {
            counts[*l][c] += 1;
        }
    }
    let mut m = ColumnMix {
        column,
        rate_of,
        categories,
        counts,
        overall,
        flagged: (0, 0),
    };
    m.flagged = flag(&m);
    m
}

/// The cell whose share is furthest from the overall share, the first one on a tie (segments
/// in order, categories in order). A yes/no column is flagged on its rate only: its two shares
/// differ from the overall ones by the same amount.
fn flag(m: &ColumnMix) -> (usize, usize) {
    let categories = if m.rate_of.is_some() {
        1
    } else {
        m.categories.len()
    };
    let mut best = (0, 0);
    for s in 0..m.counts.len() {
        for c in 0..categories {
            if m.difference(s, c).abs() > m.difference(best.0, best.1).abs() {
                best = (s, c);
            }
        }
    }
    best
}

/// The mix artifact: one row per column, segment and category, with the overall share beside
/// the segment's.
pub fn mix_batch(mixes: &[ColumnMix], names: &[String]) -> Result<RecordBatch> {
    let rows: Vec<(&ColumnMix, usize, usize)> = mixes
        .iter()
        .flat_map(|m| {
            (0..m.counts.len()).flat_map(move |s| (0..m.categories.len()).map(move |c| (m, s, c)))
        })
        .collect();
    let bools = |f: &dyn Fn(&ColumnMix, usize, usize) -> bool| -> ArrayRef {
        Arc::new(BooleanArray::from(
            rows.iter().map(|&(m, s, c)| f(m, s, c)).collect::<Vec<_>>(),
        ))
    };
    batch(vec![
        ("cluster", u32s(rows.iter().map(|r| r.1 as u32))),
        ("segment", strings(rows.iter().map(|r| names[r.1].clone()))),
        ("column", strings(rows.iter().map(|r| r.0.column.clone()))),
        (
            "category",
            strings(rows.iter().map(|r| r.0.categories[r.2].clone())),
        ),
        ("count", u64s(rows.iter().map(|&(m, s, c)| m.counts[s][c]))),
        ("size", u64s(rows.iter().map(|&(m, s, _)| m.size(s)))),
        ("share", floats(rows.iter().map(|&(m, s, c)| m.share(s, c)))),
        (
            "overall_count",
            u64s(rows.iter().map(|&(m, _, c)| m.overall[c])),
        ),
        (
            "overall_share",
            floats(rows.iter().map(|&(m, _, c)| m.overall_share(c))),
        ),
        (
            "difference",
            floats(rows.iter().map(|&(m, s, c)| m.difference(s, c))),
        ),
        ("rate", bools(&|m, _, c| m.rate_of.is_some() && c == 0)),
        ("flagged", bools(&|m, s, c| m.flagged == (s, c))),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(v: &[Option<&str>]) -> Vec<Option<String>> {
        v.iter().map(|s| s.map(str::to_string)).collect()
    }

    #[test]
    fn a_yes_no_column_gives_a_rate_and_nulls_their_own_category() {
        let values = labels(&[Some("Yes"), Some("No"), None, Some("no"), Some("yes")]);
        let m = mix(
            "churned".into(),
            &values,
            &[Some(0), Some(0), Some(1), Some(1), None],
            2,
            8,
        );
        assert_eq!(m.rate_of.as_deref(), Some("Yes"));
        // "yes" and "no" join "Yes" and "No".
        assert_eq!(m.categories, ["Yes", "No", MISSING]);
        assert_eq!(m.counts, [vec![1, 1, 0], vec![0, 1, 1]]);
        assert_eq!(m.overall, [2, 2, 1]);
        assert_eq!(m.share(0, 0), 0.5);
        assert_eq!(m.overall_share(0), 0.4);
        // Segment 1's rate (0) is further from 0.4 than segment 0's (0.5).
        assert_eq!(m.flagged, (1, 0));
    }

    #[test]
    fn categories_beyond_the_top_are_other_and_ties_go_by_label() {
        let values = labels(&[Some("b"), Some("a"), Some("c"), Some("c"), Some("d")]);
        let m = mix("plan".into(), &values, &[Some(0); 5], 1, 2);
        assert_eq!(m.categories, ["c", "a", OTHER]);
        assert_eq!(m.counts, [vec![2, 1, 2]]);
        assert_eq!(m.top(0), 0);
        assert_eq!(m.rate_of, None);
    }

    #[test]
    fn numbers_have_a_mix_only_when_they_are_all_zero_or_one() {
        let flags = arrow::array::Int64Array::from(vec![Some(1), None, Some(0)]);
        assert_eq!(
            labels_of(&flags),
            Some(labels(&[Some("1"), None, Some("0")]))
        );
        let amounts = arrow::array::Int64Array::from(vec![1, 2]);
        assert_eq!(labels_of(&amounts), None);
        let shares = arrow::array::Float64Array::from(vec![1.0, 0.0]);
        assert_eq!(labels_of(&shares), None);
        let yes = labels(&[Some("1"), Some("1")]);
        let m = mix("promo".into(), &yes, &[Some(0), Some(0)], 1, 8);
        assert_eq!(m.categories, ["1", "0"]);
        assert_eq!(m.counts, [vec![2, 0]]);
    }
}
