//! Drift between two fits (a re-training on new data, or the same data with other settings):
//! agreement over the contacts both runs saw (ARI, AMI) and who moved from which segment to
//! which.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, Float64Array, RecordBatch, StringArray, UInt64Array};

use segflow_cluster::metrics::{adjusted_mutual_info, adjusted_rand_index, contingency};
use segflow_core::artifact::{META_ID_COLUMN, batch, read_parquet};
use segflow_core::error::Location;
use segflow_core::{Error, Result};

pub struct Drift {
    pub contacts_a: usize,
    pub contacts_b: usize,
    pub common: usize,
    pub ari: f64,
    pub ami: f64,
    /// (segment in A, segment in B, contacts), every pair of segments.
    pub transitions: Vec<(String, String, u64)>,
    pub segments_a: Vec<String>,
    pub segments_b: Vec<String>,
}

/// Ids and segment names of a fit's assignments, with the segments in cluster order.
fn read(path: &Path) -> Result<(Vec<String>, Vec<usize>, Vec<String>)> {
    let a = read_parquet(path)?;
    if a.kind() != Some("assignments") {
        return Err(Error::data(
            Location::file(path),
            "expected the assignments artifact of a fit",
        ));
    }
    let id = a.meta(META_ID_COLUMN).unwrap_or("contact_id").to_string();
    let strings = |name: &str| -> Result<Vec<String>> {
        Ok(a.column(name)?
            .as_string_opt::<i32>()
            .ok_or_else(|| Error::data(Location::file(path).column(name), "expected strings"))?
            .iter()
            .map(|v| v.unwrap_or_default().to_string())
            .collect())
    };
    let (ids, names) = (strings(&id)?, strings("segment")?);
    let raw = a.float_column("cluster")?;
    let k = raw.iter().fold(
        0usize,
        |m, &c| if c >= 0.0 { m.max(c as usize + 1) } else { m },
    );
    // DBSCAN's noise (−1) is one more group, named as such.
    let clusters: Vec<usize> = raw
        .iter()
        .map(|&c| if c < 0.0 { k } else { c as usize })
        .collect();
    let mut segments = vec![crate::NOISE.to_string(); k + 1];
    for (c, name) in clusters.iter().zip(&names) {
        segments[*c] = name.clone();
    }
    Ok((ids, clusters, segments))
}

pub fn compare(a: &Path, b: &Path) -> Result<Drift> {
    let (ids_a, labels_a, segments_a) = read(a)?;
    let (ids_b, labels_b, segments_b) = read(b)?;
    let in_b: HashMap<&str, usize> = ids_b
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    let (mut la, mut lb) = (Vec::new(), Vec::new());
    for (i, id) in ids_a.iter().enumerate() {
        if let Some(&j) = in_b.get(id.as_str()) {
            la.push(labels_a[i]);
            lb.push(labels_b[j]);
        }
    }
    if la.is_empty() {
        return Err(Error::data(
            Location::file(b),
            "no contact appears in both runs: nothing to compare",
        ));
    }
    let metric = |r: std::result::Result<f64, segflow_cluster::ClusterError>| {
        r.map_err(|e| Error::data(Location::file(b), e.to_string()))
    };
    let c = contingency(&la, &lb).map_err(|e| Error::Internal(e.to_string()))?;
    let mut transitions = Vec::new();
    for (i, &ra) in c.row_labels.iter().enumerate() {
        for (j, &rb) in c.col_labels.iter().enumerate() {
            transitions.push((
                segments_a[ra].clone(),
                segments_b[rb].clone(),
                c.counts[[i, j]],
            ));
        }
    }
    Ok(Drift {
        contacts_a: ids_a.len(),
        contacts_b: ids_b.len(),
        common: la.len(),
        ari: metric(adjusted_rand_index(&la, &lb))?,
        ami: metric(adjusted_mutual_info(&la, &lb))?,
        transitions,
        segments_a,
        segments_b,
    })
}

impl Drift {
    pub fn summary_batch(&self) -> Result<RecordBatch> {
        let rows: [(&str, f64); 7] = [
            ("contacts_a", self.contacts_a as f64),
            ("contacts_b", self.contacts_b as f64),
            ("contacts_in_both", self.common as f64),
            ("only_in_a", (self.contacts_a - self.common) as f64),
            ("only_in_b", (self.contacts_b - self.common) as f64),
            ("ari", self.ari),
            ("ami", self.ami),
        ];
        batch(vec![
            (
                "metric",
                Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0))) as ArrayRef,
            ),
            (
                "value",
                Arc::new(Float64Array::from_iter_values(rows.iter().map(|r| r.1))),
            ),
        ])
    }

    pub fn transitions_batch(&self) -> Result<RecordBatch> {
        let t = &self.transitions;
        batch(vec![
            (
                "segment_a",
                Arc::new(StringArray::from_iter_values(t.iter().map(|r| r.0.clone()))) as ArrayRef,
            ),
            (
                "segment_b",
                Arc::new(StringArray::from_iter_values(t.iter().map(|r| r.1.clone()))),
            ),
            (
                "contacts",
                Arc::new(UInt64Array::from_iter_values(t.iter().map(|r| r.2))),
            ),
        ])
    }

    /// The transition matrix as text: rows are A's segments, columns B's.
    pub fn table(&self) -> String {
        let cols: Vec<&String> = self
            .segments_b
            .iter()
            .filter(|s| self.transitions.iter().any(|t| &t.1 == *s))
            .collect();
        let rows: Vec<&String> = self
            .segments_a
            .iter()
            .filter(|s| self.transitions.iter().any(|t| &t.0 == *s))
            .collect();
        let width = rows
            .iter()
            .map(|r| r.chars().count())
            .max()
            .unwrap_or(0)
            .max(10);
        let mut out = format!("{:<width$}", "A \\ B");
        for c in &cols {
            out.push_str(&format!(" | {c}"));
        }
        out.push('\n');
        for r in &rows {
            out.push_str(&format!("{r:<width$}"));
            for c in &cols {
                let n = self
                    .transitions
                    .iter()
                    .find(|t| &t.0 == *r && &t.1 == *c)
                    .map_or(0, |t| t.2);
                out.push_str(&format!(" | {n:>w$}", w = c.chars().count()));
            }
            out.push('\n');
        }
        out
    }
}
