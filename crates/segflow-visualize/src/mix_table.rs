//! fit's `mix` artifact in the report: one table per context column (each segment's share per
//! category, then every entity's, the flagged cell marked) and one line per column on each
//! segment's card.

use std::fmt::Write;

use arrow::array::{Array, AsArray};

use segflow_core::Result;
use segflow_core::artifact::Artifact;
use segflow_core::nouns::Noun;

use crate::report::escape;
use crate::strings;

/// The mix tables' styles, added to the report's only when it has a mix.
pub const STYLE: &str = "td.flag { background: #fff3c4; font-weight: 600; }\ntr.overall td { border-top: 2px solid #56606b; font-style: italic; }\n";

/// One row of the mix artifact.
struct Cell {
    cluster: usize,
    column: String,
    category: String,
    share: f64,
    overall_share: f64,
    rate: bool,
    flagged: bool,
}

/// The mix of one context column, read back.
pub struct Mix {
    column: String,
    categories: Vec<String>,
    /// Per segment, per category: (share, flagged).
    shares: Vec<Vec<(f64, bool)>>,
    overall: Vec<f64>,
    /// A yes/no column's rate is the share of its first category.
    is_rate: bool,
}

fn cells(mix: &Artifact) -> Result<Vec<Cell>> {
    let (columns, categories) = (strings(mix, "column")?, strings(mix, "category")?);
    let (clusters, share, overall) = (
        mix.float_column("cluster")?,
        mix.float_column("share")?,
        mix.float_column("overall_share")?,
    );
    let flag = |name: &str| -> Result<Vec<bool>> {
        let col = mix.column(name)?;
        let b = col.as_boolean_opt().ok_or_else(|| {
            segflow_core::Error::data(
                segflow_core::error::Location::file(&mix.path).column(name),
                "expected true/false",
            )
        })?;
        Ok((0..b.len()).map(|i| b.is_valid(i) && b.value(i)).collect())
    };
    let (rate, flagged) = (flag("rate")?, flag("flagged")?);
    Ok((0..columns.len())
        .map(|i| Cell {
            cluster: clusters[i] as usize,
            column: columns[i].clone(),
            category: categories[i].clone(),
            share: share[i],
            overall_share: overall[i],
            rate: rate[i],
            flagged: flagged[i],
        })
        .collect())
}

/// The artifact's columns in order, each with its categories in order.
pub fn read(mix: &Artifact, k: usize) -> Result<Vec<Mix>> {
    let mut out: Vec<Mix> = Vec::new();
    for cell in cells(mix)? {
        if out.last().is_none_or(|m| m.column != cell.column) {
            out.push(Mix {
                column: cell.column.clone(),
                categories: Vec::new(),
                shares: vec![Vec::new(); k],
                overall: Vec::new(),
                is_rate: false,
            });
        }
        let m = out.last_mut().expect("pushed above");
        if cell.cluster == 0 {
            m.categories.push(cell.category.clone());
            m.overall.push(cell.overall_share);
        }
        m.is_rate |= cell.rate;
        if let Some(row) = m.shares.get_mut(cell.cluster) {
            row.push((cell.share, cell.flagged));
        }
    }
    Ok(out)
}

fn pct(share: f64) -> String {
    format!("{:.1} %", share * 100.0)
}

/// The card's line for a column, as text: a yes/no column's rate, a label column's most
/// frequent category, each beside every entity's.
pub fn card_line(m: &Mix, segment: usize, entity: &Noun) -> (String, String) {
    let shares = &m.shares[segment];
    let top = if m.is_rate {
        0
    } else {
        (0..shares.len())
            .rev()
            .max_by(|&a, &b| shares[a].0.total_cmp(&shares[b].0))
            .unwrap_or_default()
    };
    let (share, overall) = (
        shares.get(top).map_or(0.0, |s| s.0),
        m.overall.get(top).copied().unwrap_or_default(),
    );
    let label = m.categories.get(top).cloned().unwrap_or_default();
    let text = if m.is_rate {
        format!(
            "{label}: {} (all {} {})",
            pct(share),
            entity.plural,
            pct(overall)
        )
    } else {
        format!(
            "most often {label}: {} (all {} {})",
            pct(share),
            entity.plural,
            pct(overall)
        )
    };
    (m.column.clone(), text)
}

/// One table per column: a row per segment and one for every entity, a column per category.
pub fn section(mixes: &[Mix], names: &[String], entity: &Noun) -> String {
    let mut h = String::new();
    for m in mixes {
        let _ = write!(
            h,
            "<h4>{}</h4><table class=\"mix\"><thead><tr><th>segment</th>",
            escape(&m.column)
        );
        for c in &m.categories {
            let _ = write!(h, "<th>{}</th>", escape(c));
        }
        h.push_str("</tr></thead><tbody>");
        for (s, name) in names.iter().enumerate() {
            let _ = write!(h, "<tr><td>{}</td>", escape(name));
            for &(share, flagged) in &m.shares[s] {
                if flagged {
                    let _ = write!(
                        h,
                        "<td class=\"num flag\" title=\"furthest from all {}\">{} ◆</td>",
                        escape(&entity.plural),
                        pct(share)
                    );
                } else {
                    let _ = write!(h, "<td class=\"num\">{}</td>", pct(share));
                }
            }
            h.push_str("</tr>");
        }
        let _ = write!(
            h,
            "<tr class=\"overall\"><td>all {}</td>",
            escape(&entity.plural)
        );
        for &share in &m.overall {
            let _ = write!(h, "<td class=\"num\">{}</td>", pct(share));
        }
        h.push_str("</tr></tbody></table>");
        let reading = if m.is_rate {
            format!(
                "The rate is the share of {} per segment, blanks counted in the segment's size.",
                escape(&m.categories[0])
            )
        } else {
            "Each row's shares add up to 100 %; categories beyond the most frequent ones are counted as (other), blanks as (missing).".to_string()
        };
        let _ = write!(
            h,
            "<p class=\"mix-note\">{reading} ◆ marks the cell furthest from all {}.</p>",
            escape(&entity.plural)
        );
    }
    h
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{ArrayRef, BooleanArray, Float64Array, StringArray, UInt32Array};

    use super::*;

    fn artifact() -> Artifact {
        let rows = [
            (0, "churned", "Yes", 0.5, 0.25, true, false),
            (0, "churned", "No", 0.5, 0.75, false, false),
            (1, "churned", "Yes", 0.0, 0.25, true, true),
            (1, "churned", "No", 1.0, 0.75, false, false),
        ];
        let batch = segflow_core::artifact::batch(vec![
            (
                "cluster",
                Arc::new(UInt32Array::from_iter_values(rows.iter().map(|r| r.0))) as ArrayRef,
            ),
            (
                "column",
                Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.1))),
            ),
            (
                "category",
                Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.2))),
            ),
            (
                "share",
                Arc::new(Float64Array::from_iter_values(rows.iter().map(|r| r.3))),
            ),
            (
                "overall_share",
                Arc::new(Float64Array::from_iter_values(rows.iter().map(|r| r.4))),
            ),
            (
                "rate",
                Arc::new(BooleanArray::from(
                    rows.iter().map(|r| r.5).collect::<Vec<_>>(),
                )),
            ),
            (
                "flagged",
                Arc::new(BooleanArray::from(
                    rows.iter().map(|r| r.6).collect::<Vec<_>>(),
                )),
            ),
        ])
        .unwrap();
        Artifact {
            path: "mix.parquet".into(),
            batch,
            metadata: Default::default(),
        }
    }

    #[test]
    fn a_rate_reads_beside_everyone_and_the_flagged_cell_is_marked() {
        let mixes = read(&artifact(), 2).unwrap();
        let customers = Noun::new("customer", "customers");
        assert_eq!(mixes.len(), 1);
        assert_eq!(
            card_line(&mixes[0], 0, &customers),
            (
                "churned".to_string(),
                "Yes: 50.0 % (all customers 25.0 %)".to_string()
            )
        );
        let html = section(&mixes, &["Loyal".into(), "New".into()], &customers);
        assert_eq!(html.matches("◆</td>").count(), 1);
        assert!(
            html.contains(
                "<td class=\"num flag\" title=\"furthest from all customers\">0.0 % ◆</td>"
            )
        );
        assert!(
            html.contains(
                "<tr class=\"overall\"><td>all customers</td><td class=\"num\">25.0 %</td>"
            )
        );
    }
}
