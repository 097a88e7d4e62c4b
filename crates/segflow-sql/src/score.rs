//! The scoring query: a finished run's saved transform and nearest-centroid rule as one SQL
//! query over a features table, computing what `segflow assign` computes, operation for
//! operation, so a warehouse re-scores its customers where they are.
//!
//! Exactness: every constant is written with its shortest round-trip digits as a DOUBLE
//! literal, and the arithmetic follows `Transform::apply` and the k-means distance kernel in
//! the same order (four partial sums of squares, combined pairwise), so each engine's IEEE
//! doubles give `assign`'s distances. `log1p` is the one exception: no engine but Spark has
//! it, so it is `ln(1 + x)`, which may differ from it in the last bits.
//!
//! A Gaussian mixture (full or diagonal covariance, the two segflow fits) scores by its highest
//! weighted log-density: the quadratic form through the precision's Cholesky factor, summed in
//! `Gmm::weighted_log_prob`'s order, plus per-component constants segflow computes; its
//! distance and margin are still to the nearest centroid, as assign reports them.

use segflow_cluster::Gmm;
use segflow_core::{Error, Result};
use segflow_fit::Model;
use segflow_transform::{Fitted, Projection, Transform};

use crate::Dialect;

/// Everything of a finished run the scoring query is written from.
pub struct Run<'a> {
    pub transform: &'a Transform,
    pub projection: Option<&'a Projection>,
    pub model: &'a Model,
    /// The features table's id column, passed through as the output's first column.
    pub id_column: &'a str,
    /// Features columns stored as numbers: an encoded one matches its labels as numbers, the
    /// way `assign` reads a number as its shortest text.
    pub numeric: &'a [String],
    /// Lines for the header comment (segflow version, run, model files and their hashes).
    pub header: &'a [String],
}

/// The columns every scoring query outputs after the id, as `assign` writes them.
pub const OUTPUT_COLUMNS: [&str; 6] = [
    "cluster",
    "segment",
    "distance",
    "margin",
    "decision_use",
    "operational_rule",
];

/// The scoring query over the table (or view) `source`, or the reason the run's algorithm
/// cannot be scored exactly in SQL.
pub fn query(run: &Run<'_>, dialect: Dialect, source: &str) -> Result<String> {
    refuse_unsupported(run.model)?;
    let sql = Sql(dialect);
    let mut out = String::new();
    for line in run.header {
        out.push_str(&format!("-- {line}\n"));
    }
    out.push_str(&format!("-- dialect: {dialect}; reads: {source}\n"));
    let inputs = transform_inputs(run, sql)?;
    let kept: Vec<_> = run
        .transform
        .columns
        .iter()
        .filter(|c| !c.dropped)
        .collect();
    let mut values = Vec::new();
    for t in &kept {
        let (_, expr) = inputs
            .iter()
            .find(|(name, _)| name == &t.name)
            .ok_or_else(|| Error::Internal(format!("transform column {} has no input", t.name)))?;
        let v = if t.log1p {
            format!("LN({} + {expr})", sql.num(1.0))
        } else {
            expr.clone()
        };
        values.push(v);
    }
    out.push_str("WITH segflow_inputs AS (\n  SELECT ");
    out.push_str(&format!("{} AS segflow_id", sql.ident(run.id_column)));
    for (i, v) in values.iter().enumerate() {
        out.push_str(&format!(",\n    {v} AS v{i}"));
    }
    out.push_str(&format!("\n  FROM {source}\n),\n"));

    // The matrix: impute or clip, scale, cap; then the unscaled missing indicators.
    let mut matrix = Vec::new();
    for (i, t) in kept.iter().enumerate() {
        let v = format!("v{i}");
        let clipped = match t.clip {
            Some((lo, hi)) => format!("LEAST(GREATEST({v}, {}), {})", sql.num(lo), sql.num(hi)),
            None => v.clone(),
        };
        let filled = match t.impute {
            Some(fill) => format!(
                "CASE WHEN {v} IS NULL THEN {} ELSE {clipped} END",
                sql.num(fill)
            ),
            None => clipped,
        };
        let scaled = format!(
            "(({filled}) - {}) / {}",
            sql.num(t.center),
            sql.num(t.scale)
        );
        matrix.push(match t.cap {
            Some(c) => format!("LEAST(GREATEST({scaled}, {}), {})", sql.num(-c), sql.num(c)),
            None => scaled,
        });
    }
    for (i, t) in kept.iter().enumerate() {
        if t.indicator {
            matrix.push(format!(
                "CASE WHEN v{i} IS NULL THEN {} ELSE {} END",
                sql.num(1.0),
                sql.num(0.0)
            ));
        }
    }
    let matrix_names = run.transform.output_columns();
    out.push_str("segflow_matrix AS (\n  SELECT segflow_id");
    for (j, (m, name)) in matrix.iter().zip(&matrix_names).enumerate() {
        out.push_str(&format!(",\n    -- {name}\n    {m} AS m{j}"));
    }
    out.push_str("\n  FROM segflow_inputs\n),\n");

    let mut model_input = "segflow_matrix";
    if let Some(p) = run.projection {
        out.push_str(&projection(p, sql));
        model_input = "segflow_projected";
    }
    let d = run.model.columns.len();
    let k = run.model.centroids.nrows();
    let coordinates: Vec<String> = (0..d).map(|j| format!("m{j}")).collect();
    let mixture = run.model.mixture.as_ref();
    // A mixture's whitened coordinates and log-densities are long expressions that later steps
    // name several times; PostgreSQL would inline them into every use, so there they are
    // computed once.
    let once = match (mixture, dialect) {
        (Some(_), Dialect::Postgres) => " MATERIALIZED",
        _ => "",
    };
    if let Some(g) = mixture {
        out.push_str(&whitened(g, &coordinates, model_input, once, sql));
        model_input = "segflow_whitened";
    }
    out.push_str(&format!(
        "segflow_distances AS{once} (\n  SELECT segflow_id"
    ));
    for c in 0..k {
        let centre = run.model.centroids.row(c);
        out.push_str(&format!(
            ",\n    SQRT({}) AS d{c}",
            squared_distance(
                &coordinates,
                centre.as_slice().expect("row-major centroids"),
                sql
            )
        ));
    }
    if let Some(g) = mixture {
        out.push_str(&log_densities(g, sql));
    }
    out.push_str(&format!("\n  FROM {model_input}\n),\n"));

    let all: Vec<String> = (0..k).map(|c| format!("d{c}")).collect();
    let densities: Vec<String> = (0..k).map(|c| format!("l{c}")).collect();
    let highest = match mixture {
        Some(_) => format!(", {} AS segflow_log_density", greatest(&densities)),
        None => String::new(),
    };
    out.push_str(&format!(
        "segflow_nearest AS (\n  SELECT *, {} AS segflow_distance{highest}\n  FROM segflow_distances\n),\n",
        least(&all)
    ));
    // The first centroid at the smallest distance, as `assign` breaks ties; a mixture's
    // cluster is the first component of highest log-density, and its distance and margin
    // still measure the nearest centroid, as assign reports them.
    let first_at = |values: &[String], best: &str| {
        let mut e = String::from("CASE");
        for (c, v) in values.iter().enumerate() {
            e.push_str(&format!(" WHEN {v} = {best} THEN {c}"));
        }
        e.push_str(" END");
        e
    };
    let nearest = first_at(&all, "segflow_distance");
    let (labels, centroid) = match mixture {
        Some(_) => (
            format!(
                "{nearest} AS segflow_centroid, {} AS segflow_cluster",
                first_at(&densities, "segflow_log_density")
            ),
            "segflow_centroid",
        ),
        None => (format!("{nearest} AS segflow_cluster"), "segflow_cluster"),
    };
    out.push_str(&format!(
        "segflow_labelled AS (\n  SELECT *, {labels}\n  FROM segflow_nearest\n)\n"
    ));

    // The runner-up: the smallest distance to any other centroid; with one centroid, none.
    let runner_up = if k == 1 {
        format!("CAST('Infinity' AS {})", sql.double())
    } else {
        let mut e = format!("CASE {centroid}");
        for c in 0..k {
            let others: Vec<String> = (0..k)
                .filter(|&o| o != c)
                .map(|o| format!("d{o}"))
                .collect();
            e.push_str(&format!(" WHEN {c} THEN {}", least(&others)));
        }
        e.push_str(" END");
        e
    };
    let per_cluster = |value: &dyn Fn(usize) -> Option<String>| -> String {
        let mut e = String::from("CASE segflow_cluster");
        for c in 0..k {
            if let Some(v) = value(c) {
                e.push_str(&format!(" WHEN {c} THEN {}", sql.text(&v)));
            }
        }
        e.push_str(" END");
        e
    };
    let model = run.model;
    out.push_str(&format!(
        "SELECT segflow_id AS {},\n  segflow_cluster AS cluster,\n  {} AS segment,\n  \
         segflow_distance AS distance,\n  ({runner_up}) - segflow_distance AS margin,\n  \
         {} AS decision_use,\n  {} AS operational_rule",
        sql.ident(run.id_column),
        per_cluster(&|c| Some(model.segments[c].clone())),
        per_cluster(&|c| Some(model.actions[c].decision_use.clone())),
        per_cluster(&|c| Some(model.actions[c].operational_rule.clone())),
    ));
    if mixture.is_some() {
        out.push_str(&format!(",\n  {} AS probability", probability(k, sql)));
    }
    if model.actions.iter().any(|a| a.campaign.is_some()) {
        out.push_str(&format!(
            ",\n  {} AS channel,\n  {} AS owner",
            per_cluster(&|c| model.actions[c]
                .campaign
                .as_ref()
                .map(|a| a.channel.clone())),
            per_cluster(&|c| model.actions[c].campaign.as_ref().map(|a| a.owner.clone())),
        ));
    }
    out.push_str("\nFROM segflow_labelled\nORDER BY segflow_id;\n");
    Ok(out)
}

/// DBSCAN scores by a search over its core points, which has no per-row SQL form.
fn refuse_unsupported(model: &Model) -> Result<()> {
    if model.core.is_some() {
        return Err(Error::Usage(
            "the run's algorithm is DBSCAN: a new row joins the cluster of its nearest core \
             point within eps, a search over every core point that a per-row SQL expression \
             does not express; score it with `segflow assign`"
                .into(),
        ));
    }
    Ok(())
}

/// Per transform input column (a numeric feature, or an output of an encoding), its SQL value
/// before log1p, in the order `Transform::apply` builds them.
fn transform_inputs(run: &Run<'_>, sql: Sql) -> Result<Vec<(String, String)>> {
    let t = run.transform;
    let is_numeric = |name: &str| run.numeric.iter().any(|n| n == name);
    let mut columns: Vec<(String, String)> = t
        .input_columns()
        .into_iter()
        .filter(|name| is_numeric(name))
        .map(|name| {
            let expr = format!("CAST({} AS {})", sql.ident(&name), sql.double());
            (name, expr)
        })
        .collect();
    for e in &t.encodings {
        let source = sql.ident(&e.column);
        let numeric = is_numeric(&e.column);
        if let Some(fitted) = &e.encoding {
            let label = Label {
                source: &source,
                numeric,
                fill: e.fill.as_deref(),
                sql,
            };
            columns.retain(|(n, _)| n != &e.column);
            columns.extend(encoded(fitted, &label));
        }
        if let Some(name) = &e.indicator {
            columns.push((
                name.clone(),
                format!(
                    "CASE WHEN {source} IS NULL THEN {} ELSE {} END",
                    sql.num(1.0),
                    sql.num(0.0)
                ),
            ));
        }
    }
    Ok(columns)
}

/// An encoded column's label: its text (or number), a missing one replaced by the fitted fill.
struct Label<'a> {
    source: &'a str,
    numeric: bool,
    fill: Option<&'a str>,
    sql: Sql,
}

impl Label<'_> {
    /// The label as the query compares it: text, or for a numeric column its number.
    fn value(&self) -> String {
        let ty = if self.numeric {
            self.sql.double()
        } else {
            self.sql.text_type()
        };
        let cast = format!("CAST({} AS {ty})", self.source);
        match self.fill {
            // A fill no number spells leaves a numeric column's missing labels unmatched.
            Some(fill) => match self.literal(fill, false) {
                Some(fill) => format!("COALESCE({cast}, {fill})"),
                None => cast,
            },
            None => cast,
        }
    }

    /// A label as a literal of the column's type; none for a label of a numeric column that
    /// no number's shortest text spells (assign compares that text), which nothing matches.
    fn literal(&self, label: &str, fold_case: bool) -> Option<String> {
        if !self.numeric {
            let text = if fold_case {
                label.to_ascii_lowercase()
            } else {
                label.to_string()
            };
            return Some(self.sql.text(&text));
        }
        label
            .parse::<f64>()
            .ok()
            .filter(|x| x.is_finite() && x.to_string() == label)
            .map(|x| self.sql.num(x))
    }

    /// `value` matches one of `labels`; `fold_case` compares ignoring ASCII case only, as
    /// Rust's `eq_ignore_ascii_case` does (SQL's LOWER folds every alphabet).
    fn is_one_of(&self, labels: &[String], fold_case: bool) -> String {
        let list: Vec<String> = labels
            .iter()
            .filter_map(|l| self.literal(l, fold_case))
            .collect();
        if list.is_empty() {
            return "FALSE".into();
        }
        let value = if fold_case && !self.numeric {
            format!(
                "TRANSLATE({}, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')",
                self.value()
            )
        } else {
            self.value()
        };
        format!("{value} IN ({})", list.join(", "))
    }

    /// `then` for a row whose label is missing and not imputed (assign refuses such a row;
    /// the query leaves its score NULL), else `otherwise`.
    fn guarded(&self, otherwise: String) -> String {
        match self.fill {
            Some(_) => otherwise,
            None => format!(
                "CASE WHEN {} IS NULL THEN NULL ELSE {otherwise} END",
                self.source
            ),
        }
    }
}

/// The numeric columns of one encoding, as `Fitted::encode` computes them.
fn encoded(fitted: &Fitted, label: &Label<'_>) -> Vec<(String, String)> {
    let sql = label.sql;
    let (one, zero) = (sql.num(1.0), sql.num(0.0));
    match fitted {
        Fitted::OneHot { outputs, other, .. } => {
            let mut out: Vec<(String, String)> = outputs
                .iter()
                .map(|(name, l)| {
                    let hit = label.is_one_of(std::slice::from_ref(l), false);
                    let e = format!("CASE WHEN {hit} THEN {one} ELSE {zero} END");
                    (name.clone(), label.guarded(e))
                })
                .collect();
            if let Some(name) = other {
                let all: Vec<String> = outputs.iter().map(|(_, l)| l.clone()).collect();
                let e = format!(
                    "CASE WHEN {} THEN {zero} ELSE {one} END",
                    label.is_one_of(&all, false)
                );
                out.push((name.clone(), label.guarded(e)));
            }
            out
        }
        Fitted::Binary {
            output,
            positive,
            negative,
            unseen,
            ..
        } => {
            let otherwise = match negative {
                None => zero,
                Some(n) => format!(
                    "CASE WHEN {} THEN {zero} ELSE {} END",
                    label.is_one_of(n, true),
                    sql.num(*unseen)
                ),
            };
            let e = format!(
                "CASE WHEN {} THEN {one} ELSE {otherwise} END",
                label.is_one_of(positive, true)
            );
            vec![(output.clone(), label.guarded(e))]
        }
        Fitted::Ordinal {
            output,
            order,
            unseen,
            ..
        } => {
            let mut e = String::from("CASE");
            for (rank, l) in order.iter().enumerate() {
                e.push_str(&format!(
                    " WHEN {} THEN {}",
                    label.is_one_of(std::slice::from_ref(l), false),
                    sql.num(rank as f64)
                ));
            }
            e.push_str(&format!(" ELSE {} END", sql.num(*unseen)));
            vec![(output.clone(), label.guarded(e))]
        }
    }
}

/// The PCA projection, (m − mean) · componentᵀ per component, summed in input order.
fn projection(p: &Projection, sql: Sql) -> String {
    let mut out = String::from("segflow_projected AS (\n  SELECT segflow_id");
    for (c, component) in p.pca.components.rows().into_iter().enumerate() {
        let terms: Vec<String> = component
            .iter()
            .zip(&p.pca.mean)
            .enumerate()
            .map(|(j, (w, mean))| format!("((m{j} - {}) * {})", sql.num(*mean), sql.num(*w)))
            .collect();
        out.push_str(&format!(",\n    {} AS m{c}", terms.join(" + ")));
    }
    out.push_str("\n  FROM segflow_matrix\n),\n");
    out
}

/// The squared distance of the row's `coordinates` to `centre`, summed as segflow's distance
/// kernel sums it: coordinate j into partial sum j mod 4 in order, then
/// (s0 + s1) + (s2 + s3).
fn squared_distance(coordinates: &[String], centre: &[f64], sql: Sql) -> String {
    const LANES: usize = 4;
    let lane = |l: usize| -> String {
        let terms: Vec<String> = coordinates
            .iter()
            .zip(centre)
            .skip(l)
            .step_by(LANES)
            .map(|(m, c)| {
                let t = format!("({m} - {})", sql.num(*c));
                format!("{t} * {t}")
            })
            .collect();
        match terms.len() {
            0 => sql.num(0.0),
            _ => format!("({})", terms.join(" + ")),
        }
    };
    format!("({} + {}) + ({} + {})", lane(0), lane(1), lane(2), lane(3))
}

/// A mixture's whitened coordinates: per component c and coordinate j,
/// `z{c}_{j} = Σᵢ (mᵢ − μᵢ) · Pᵢⱼ` over the nonzero entries of the precision factor (upper
/// triangular for a full covariance, diagonal for a diagonal one), in index order, as
/// `Gmm::weighted_log_prob` sums them.
fn whitened(g: &Gmm, coordinates: &[String], from: &str, once: &str, sql: Sql) -> String {
    let mut out = format!("segflow_whitened AS{once} (\n  SELECT *");
    for (c, p) in g.precision_cholesky.iter().enumerate() {
        let mean = g.means.row(c);
        for j in 0..coordinates.len() {
            let terms: Vec<String> = coordinates
                .iter()
                .enumerate()
                .filter(|&(i, _)| p[[i, j]] != 0.0)
                .map(|(i, m)| format!("({m} - {}) * {}", sql.num(mean[i]), sql.num(p[[i, j]])))
                .collect();
            let z = match terms.len() {
                0 => sql.num(0.0),
                _ => terms.join(" + "),
            };
            out.push_str(&format!(",\n    {z} AS z{c}_{j}"));
        }
    }
    out.push_str(&format!("\n  FROM {from}\n),\n"));
    out
}

/// Each component's weighted log-density, `constant − 0.5 · Σⱼ zⱼ²`, the constant (log weight,
/// log determinant and the 2π term) computed by segflow and written as a literal. A square
/// below 1e-300 is written as 0: PostgreSQL refuses a product that underflows (a coordinate at
/// a component's mean of 1e-200, say), and so small a square cannot move the constant.
fn log_densities(g: &Gmm, sql: Sql) -> String {
    let d = g.means.ncols();
    g.log_constants()
        .iter()
        .enumerate()
        .map(|(c, constant)| {
            let squares: Vec<String> = (0..d)
                .map(|j| {
                    format!(
                        "CASE WHEN ABS(z{c}_{j}) < {} THEN {} ELSE z{c}_{j} * z{c}_{j} END",
                        sql.num(1e-150),
                        sql.num(0.0)
                    )
                })
                .collect();
            format!(
                ",\n    {} - {} * ({}) AS l{c}",
                sql.num(*constant),
                sql.num(0.5),
                squares.join(" + ")
            )
        })
        .collect()
}

/// The posterior of the row's component: 1 / Σ exp(lⱼ − lmax). A term below e⁻⁷⁰⁰ counts as
/// 0, both because it cannot move the sum and because PostgreSQL's EXP refuses to underflow.
fn probability(k: usize, sql: Sql) -> String {
    let terms: Vec<String> = (0..k)
        .map(|c| {
            format!(
                "CASE WHEN l{c} - segflow_log_density < {} THEN {} ELSE EXP(l{c} - segflow_log_density) END",
                sql.num(-700.0),
                sql.num(0.0)
            )
        })
        .collect();
    format!("{} / ({})", sql.num(1.0), terms.join(" + "))
}

/// The largest of several values (GREATEST needs two in Spark).
fn greatest(values: &[String]) -> String {
    match values {
        [one] => one.clone(),
        _ => format!("GREATEST({})", values.join(", ")),
    }
}

/// The smallest of several values (LEAST needs two in Spark).
fn least(values: &[String]) -> String {
    match values {
        [one] => one.clone(),
        _ => format!("LEAST({})", values.join(", ")),
    }
}

/// How a dialect spells names, texts, numbers and types.
#[derive(Clone, Copy)]
struct Sql(Dialect);

impl Sql {
    fn ident(self, name: &str) -> String {
        match self.0 {
            Dialect::Spark => format!("`{}`", name.replace('`', "``")),
            Dialect::Duckdb | Dialect::Postgres => format!("\"{}\"", name.replace('"', "\"\"")),
        }
    }

    /// A text literal; Spark reads backslash escapes inside quotes, the others do not.
    fn text(self, value: &str) -> String {
        match self.0 {
            Dialect::Spark => format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'")),
            Dialect::Duckdb | Dialect::Postgres => format!("'{}'", value.replace('\'', "''")),
        }
    }

    /// A DOUBLE constant with its shortest round-trip digits. The exponent form makes Spark and
    /// DuckDB read it as a double (a plain decimal literal would be a DECIMAL, converted with
    /// a rounding of its own); PostgreSQL reads every literal as numeric, and its cast to
    /// double goes through the decimal text, rounded once.
    fn num(self, x: f64) -> String {
        let digits = format!("{x:e}");
        match self.0 {
            Dialect::Postgres => format!("CAST({digits} AS DOUBLE PRECISION)"),
            Dialect::Spark | Dialect::Duckdb if x.is_sign_negative() => format!("({digits})"),
            Dialect::Spark | Dialect::Duckdb => digits,
        }
    }

    fn double(self) -> &'static str {
        match self.0 {
            Dialect::Postgres => "DOUBLE PRECISION",
            Dialect::Spark | Dialect::Duckdb => "DOUBLE",
        }
    }

    fn text_type(self) -> &'static str {
        match self.0 {
            Dialect::Spark => "STRING",
            Dialect::Duckdb => "VARCHAR",
            Dialect::Postgres => "TEXT",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_keep_every_bit_in_each_dialect() {
        for x in [0.1, -2.5e-300, 1.0 / 3.0, 123456789.125] {
            let text = Sql(Dialect::Duckdb).num(x);
            let digits = text.trim_matches(|c| c == '(' || c == ')');
            assert_eq!(
                digits.parse::<f64>().unwrap().to_bits(),
                x.to_bits(),
                "{text}"
            );
            assert!(digits.contains('e'), "{text}");
        }
        assert_eq!(
            Sql(Dialect::Postgres).num(-0.5),
            "CAST(-5e-1 AS DOUBLE PRECISION)"
        );
    }

    #[test]
    fn names_and_texts_are_quoted_per_dialect() {
        assert_eq!(Sql(Dialect::Spark).ident("a`b"), "`a``b`");
        assert_eq!(Sql(Dialect::Postgres).ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(Sql(Dialect::Spark).text("it's \\"), "'it\\'s \\\\'");
        assert_eq!(Sql(Dialect::Duckdb).text("it's"), "'it''s'");
    }

    #[test]
    fn a_mixture_whitens_by_the_nonzero_factor_entries_and_adds_its_constants() {
        let g = Gmm {
            covariance: segflow_cluster::Covariance::Full,
            weights: ndarray::array![1.0],
            means: ndarray::array![[1.0, -2.0]],
            precision_cholesky: vec![ndarray::array![[2.0, 0.5], [0.0, 4.0]]],
            lower_bound: 0.0,
            n_iter: 0,
            converged: true,
        };
        let m: Vec<String> = (0..2).map(|j| format!("m{j}")).collect();
        let sql = Sql(Dialect::Duckdb);
        assert_eq!(
            whitened(&g, &m, "segflow_matrix", "", sql),
            "segflow_whitened AS (\n  SELECT *,\n    (m0 - 1e0) * 2e0 AS z0_0,\n    \
             (m0 - 1e0) * 5e-1 + (m1 - (-2e0)) * 4e0 AS z0_1\n  FROM segflow_matrix\n),\n"
        );
        // ln 1 + ln 2 + ln 4 − ln 2π, as the scoring in segflow computes it.
        let constant = g.log_constants()[0];
        assert!((constant - (8f64.ln() - (2.0 * std::f64::consts::PI).ln())).abs() < 1e-15);
        let l = log_densities(&g, sql);
        assert!(l.starts_with(&format!(
            ",\n    {} - 5e-1 * (CASE WHEN ABS(z0_0)",
            sql.num(constant)
        )));
        assert!(l.ends_with(" ELSE z0_1 * z0_1 END) AS l0"), "{l}");
    }

    #[test]
    fn distances_sum_in_the_kernels_four_lanes() {
        let m: Vec<String> = (0..6).map(|j| format!("m{j}")).collect();
        let e = squared_distance(&m, &[0.0; 6], Sql(Dialect::Duckdb));
        assert_eq!(
            e,
            "(((m0 - 0e0) * (m0 - 0e0) + (m4 - 0e0) * (m4 - 0e0)) + ((m1 - 0e0) * (m1 - 0e0) + \
             (m5 - 0e0) * (m5 - 0e0))) + (((m2 - 0e0) * (m2 - 0e0)) + ((m3 - 0e0) * (m3 - 0e0)))"
        );
    }
}
