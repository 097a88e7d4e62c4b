//! The preprocess warning about the model columns as the matrix sees them (constant features
//! are the features stage's warning):
//!
//! - `dominant_binary`: a model column with two values whose rarer value lies far from the
//!   centre after scaling pulls every distance towards it, so the clustering tends to put that
//!   value's rows in a segment of their own (the "all seniors" segment), whatever the other
//!   columns say. The rule: the column takes exactly two values in the matrix and the rarer
//!   one sits beyond [`DOMINANT_Z`] from zero. Under standard scaling a 0/1 column whose
//!   rarer value has share `p` sits at |z| = sqrt((1 − p) / p), above 3 exactly when p < 10 %.

use segflow_core::warnings::Warning;

pub const DOMINANT_Z: f64 = 3.0;

/// The `dominant_binary` warnings for the matrix columns `names`, whose values are `columns`.
pub fn dominant_binaries(names: &[String], columns: &[Vec<f64>]) -> Vec<Warning> {
    names
        .iter()
        .zip(columns)
        .filter_map(|(name, values)| dominant(name, values))
        .collect()
}

fn dominant(name: &str, values: &[f64]) -> Option<Warning> {
    let first = *values.first()?;
    let other = values.iter().copied().find(|v| *v != first)?;
    let mut first_rows = 0u64;
    for &v in values {
        if v == first {
            first_rows += 1;
        } else if v != other {
            return None;
        }
    }
    let other_rows = values.len() as u64 - first_rows;
    let (rare, rare_rows) = if other_rows < first_rows {
        (other, other_rows)
    } else {
        (first, first_rows)
    };
    if rare.abs() <= DOMINANT_Z {
        return None;
    }
    let share = rare_rows as f64 / values.len() as f64;
    Some(
        Warning::new(
            "dominant_binary",
            Some(name),
            format!(
                "`{name}` takes two values; its rarer one ({rare_rows} rows, {:.1} %) sits at \
                 {rare:.2} after scaling, beyond ±{DOMINANT_Z} (a 0/1 column standard-scaled \
                 does when under 10 % of rows have the rare value): it dominates distances and \
                 may form a segment of its own; keep it as context, or model it as a category \
                 left at 0/1 (`per_column` encodings)",
                share * 100.0
            ),
        )
        .share(share)
        .rows(rare_rows),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rare_value_far_out_is_dominant_and_a_common_one_is_not() {
        // p = 0.05: the standard-scaled 1 sits at sqrt(0.95 / 0.05) ≈ 4.36.
        let p: f64 = 0.05;
        let (hi, lo) = (((1.0 - p) / p).sqrt(), -(p / (1.0 - p)).sqrt());
        let mut rare = vec![lo; 95];
        rare.extend([hi; 5]);
        let w = dominant("senior", &rare).expect("dominant");
        assert_eq!(w.rows, Some(5));
        // p = 0.2: the 1 sits at 2.
        let mut common = vec![-0.5; 80];
        common.extend([2.0; 20]);
        assert!(dominant("x", &common).is_none());
        assert!(dominant("y", &[0.0, 1.0, 2.0, 5.0]).is_none());
    }
}
