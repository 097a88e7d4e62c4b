//! `segflow sql features`: one query computing a pipeline's features artifact from the raw
//! events table, as ingest (typing, blank ids, dedupe, id hashing, rejects dropped) and the
//! features stage (every aggregation, the log-wide quantities as sub-queries) compute it.
//! A construct with no exact rendering is refused, naming its YAML key.

use segflow_core::params::{ParamTree, parse_valid};
use segflow_core::{Error, Result};
use segflow_features::{Aggregation, Condition, Feature};
use segflow_ingest::{EventColumns, IdMethod, Mode, SECONDS_SINCE, UNIX_MILLIS, UNIX_SECONDS};

use crate::Dialect;
use crate::clock::{self, Field, Holds, Pattern};
use crate::spelling::{self as sp, ident};

/// What the query is written for and from.
pub struct Request<'a> {
    pub dialect: Dialect,
    pub pipeline: &'a str,
    /// The raw events table (or view), with the input's columns as text.
    pub source: &'a str,
    pub ingest: &'a ParamTree,
    pub features: &'a ParamTree,
    /// Hash of the ingest and features params, for the header.
    pub params_hash: &'a str,
}

/// A decimal number as Rust's `f64::from_str` reads it (sign, digits with an optional
/// fraction, optional exponent); captures: sign, integer digits, fraction digits, exponent.
const NUMBER: &str = "^([+-]?)([0-9]*)(?:[.]([0-9]*))?([eE][+-]?[0-9]+)?$";
/// An id written as a whole number with a zero fraction (`648578192.0`), which ingest reads
/// as the number's digits.
const ZERO_FRACTION: &str = "^([0-9]+)[.]0+$";

fn refuse(key: &str, message: impl Into<String>) -> Error {
    Error::config("", key, message)
}

/// The features query for `req`.
pub fn features_query(req: &Request<'_>) -> Result<String> {
    let ingest: segflow_ingest::Params = parse_valid(req.ingest)?;
    let features: segflow_features::Params = parse_valid(req.features)?;
    let d = req.dialect;
    let events = Events::new(d, &ingest)?;
    let mut q = Query {
        d,
        features: &features,
        events: &events,
        ranks: Vec::new(),
        base: Vec::new(),
        sides: Vec::new(),
    };
    let columns = q.feature_columns()?;
    let mut out = header(req);
    out.push_str(&events.ctes(req.source, &ingest));
    // Every ranking is the same (all categories, by count then name); each feature keeps its
    // own `top` of it.
    for i in 0..q.ranks.len() {
        out.push_str(&format!(
            ",\n{} AS (\n  SELECT {cat} AS category, ROW_NUMBER() OVER (ORDER BY COUNT(*) DESC, \
             {}) AS category_rank\n  FROM sf_events WHERE {cat} IS NOT NULL GROUP BY {cat}\n)",
            rank_table(i),
            sp::bytewise(d, &events.category_column()),
            cat = events.category_column(),
        ));
    }
    for (name, query) in &q.sides {
        out.push_str(&format!(",\n{name} AS (\n{query}\n)"));
    }
    let mut joins: String = (0..q.ranks.len())
        .map(|i| {
            format!(
                "\n  LEFT JOIN {t} ON {t}.category = sf_events.{}",
                events.category_column(),
                t = rank_table(i)
            )
        })
        .collect();
    for (name, _) in &q.sides {
        joins.push_str(&format!(
            "\n  LEFT JOIN {name} ON {name}.contact_id = sf_events.contact_id"
        ));
    }
    let having = match features.min_events {
        1 => String::new(),
        n => format!("\n  HAVING COUNT(*) >= {n}"),
    };
    let base: Vec<String> = q
        .base
        .iter()
        .map(|(name, expr)| format!("    {expr} AS {}", ident(d, name)))
        .collect();
    out.push_str(&format!(
        ",\nsf_base AS (\n  SELECT\n    sf_events.contact_id,\n{}\n  FROM sf_events{joins}\n  \
         GROUP BY sf_events.contact_id{having}\n)\n",
        base.join(",\n")
    ));
    let select: Vec<String> = std::iter::once("  contact_id".to_string())
        .chain(
            columns
                .iter()
                .map(|(name, expr)| format!("  {expr} AS {}", ident(d, name))),
        )
        .collect();
    out.push_str(&format!(
        "SELECT\n{}\nFROM sf_base\nORDER BY {}\n",
        select.join(",\n"),
        sp::bytewise(d, "contact_id")
    ));
    Ok(out)
}

fn header(req: &Request<'_>) -> String {
    let mut h = format!(
        "-- segflow {} features query\n-- pipeline: {}\n-- params hash (ingest + features): {}\n\
         -- dialect: {}\n-- source: {} (the raw events, columns as the input's text)\n",
        env!("CARGO_PKG_VERSION"),
        req.pipeline,
        req.params_hash,
        req.dialect,
        req.source,
    );
    if req.dialect == Dialect::Spark {
        h.push_str("-- needs Spark 3.4 or later (TIMESTAMP_NTZ)\n");
    }
    h.push_str("WITH\n");
    h
}

fn rank_table(i: usize) -> String {
    format!("sf_category_rank_{i}")
}

/// Ingest's events mode as CTEs: `sf_events` holds `contact_id`, `sf_ts` (microseconds of
/// the naive local time), `sf_day`, `sf_hour`, `sf_weekday` (Monday 0) and the artifact's
/// value, category and kept columns.
struct Events {
    d: Dialect,
    columns: EventColumns,
    clock: Vec<(String, Pattern)>,
    /// Source name, artifact name, whether a number.
    kept: Vec<(String, String, bool)>,
    /// Source columns written as pseudonyms (`privacy.hash`).
    hashed: Vec<String>,
    hex_chars: usize,
}

impl Events {
    fn new(d: Dialect, p: &segflow_ingest::Params) -> Result<Events> {
        if p.mode != Mode::Events {
            return Err(refuse(
                "ingest.mode",
                "the features query is written for events mode; an entity table is already \
                 one row per entity",
            ));
        }
        if !p.sources.is_empty() {
            return Err(refuse(
                "ingest.sources",
                "several sources are not rendered as SQL yet; union them into one table with \
                 the layout of one source",
            ));
        }
        if !p.derive.is_empty() {
            return Err(refuse(
                "ingest.derive",
                format!(
                    "row expressions are not rendered in {d} SQL by this segflow version; \
                     compute the column in the source table"
                ),
            ));
        }
        if p.filter.is_some() {
            return Err(refuse(
                "ingest.where",
                format!(
                    "row expressions are not rendered in {d} SQL by this segflow version; \
                     filter the source table"
                ),
            ));
        }
        if p.timezone.is_some() {
            return Err(refuse(
                "ingest.timezone",
                format!(
                    "time zone conversion depends on the engine's zone database, which is \
                     not segflow's; {d} SQL is written only for logs kept in UTC wall-clock time"
                ),
            ));
        }
        if p.privacy.id.method == IdMethod::HmacSha256 {
            let why = match d {
                Dialect::Spark => "Spark SQL has no HMAC function",
                Dialect::Duckdb => "DuckDB has no HMAC function",
                Dialect::Postgres => {
                    "PostgreSQL has HMAC only in the pgcrypto extension, and the key would be \
                     written into the query text"
                }
            };
            return Err(refuse(
                "ingest.privacy.id.method",
                format!("hmac_sha256 ids cannot be computed in {d} SQL: {why}"),
            ));
        }
        let columns = p
            .columns
            .clone()
            .ok_or_else(|| refuse("ingest.columns", "events mode needs columns"))?;
        let clock = match (&columns.timestamp, &columns.date) {
            (Some(ts), _) => {
                let mut patterns = Vec::new();
                for (i, f) in p.formats.timestamp.iter().enumerate() {
                    let key = format!("ingest.formats.timestamp[{i}]");
                    if [UNIX_SECONDS, UNIX_MILLIS, SECONDS_SINCE].contains(&f.as_str()) {
                        return Err(refuse(
                            &key,
                            format!("`{f}` epoch counts are not rendered in {d} SQL"),
                        ));
                    }
                    let pattern = clock::pattern(f, Holds::DateAndMaybeTime)
                        .map_err(|m| refuse(&key, format!("`{f}`: {m}")))?;
                    patterns.push((ts.clone(), pattern));
                }
                patterns
            }
            (None, Some(date)) => {
                let f = &p.formats.date;
                let mut parts = vec![(
                    date.clone(),
                    clock::pattern(f, Holds::Date)
                        .map_err(|m| refuse("ingest.formats.date", format!("`{f}`: {m}")))?,
                )];
                if let Some(time) = &columns.time {
                    let f = &p.formats.time;
                    parts.push((
                        time.clone(),
                        clock::pattern(f, Holds::Time)
                            .map_err(|m| refuse("ingest.formats.time", format!("`{f}`: {m}")))?,
                    ));
                }
                parts
            }
            (None, None) => return Err(refuse("ingest.columns", "no timestamp or date column")),
        };
        let kept = p
            .keep
            .iter()
            .map(|c| {
                let number = p.types.get(c) == Some(&segflow_ingest::ValueType::Number);
                (c.clone(), c.clone(), number)
            })
            .collect();
        Ok(Events {
            d,
            columns,
            clock,
            kept,
            hashed: p.privacy.hash.clone(),
            hex_chars: p.privacy.id.hex_chars,
        })
    }

    fn category_column(&self) -> String {
        ident(self.d, "category")
    }

    /// The events columns the features may read (`of:`), with whether each is a number.
    fn readable(&self) -> Vec<(String, bool)> {
        let mut cols = Vec::new();
        if self.columns.value.is_some() {
            cols.push(("value".to_string(), true));
        }
        if self.columns.category.is_some() {
            cols.push(("category".to_string(), false));
        }
        for (_, name, number) in &self.kept {
            cols.push((name.clone(), *number));
        }
        for name in &self.hashed {
            cols.push((name.clone(), false));
        }
        cols
    }

    /// A source column as ingest reads a field: trimmed text, NULL when blank.
    fn field(&self, column: &str) -> String {
        let d = self.d;
        format!(
            "NULLIF({}, '')",
            sp::trim(d, &sp::to_text(d, &ident(d, column)))
        )
    }

    /// The number ingest reads from trimmed text `f` (NULL when it is not one), rebuilt in a
    /// form every engine parses (`1.` and `.5` are numbers to Rust, not to every engine).
    fn number(&self, f: &str) -> String {
        let d = self.d;
        let g = |i| sp::capture(d, f, NUMBER, i);
        format!(
            "CASE WHEN {m} AND ({int} IS NOT NULL OR {frac} IS NOT NULL) THEN CAST(\
             CASE WHEN COALESCE({sign}, '') = '-' THEN '-' ELSE '' END || COALESCE({int}, '0') || '.' || \
             COALESCE({frac}, '0') || COALESCE({exp}, '') AS {t}) END",
            m = sp::matches(d, f, NUMBER),
            sign = g(1),
            int = g(2),
            frac = g(3),
            exp = g(4),
            t = sp::double_type(d),
        )
    }

    fn ctes(&self, source: &str, p: &segflow_ingest::Params) -> String {
        let d = self.d;
        let from = if p.dedupe == segflow_ingest::Dedupe::Exact {
            // A record identical to an earlier one is excluded: a set of records.
            format!("(SELECT DISTINCT * FROM {source}) sf_source")
        } else {
            source.to_string()
        };
        // 1. Fields as ingest reads them.
        let mut fields = vec![format!(
            "{} AS sf_contact",
            self.field(&self.columns.contact)
        )];
        let mut seen_clock = Vec::new();
        for (col, _) in &self.clock {
            if !seen_clock.contains(col) {
                fields.push(format!(
                    "{} AS {}",
                    self.field(col),
                    ident(d, &format!("sf_clock_{}", seen_clock.len()))
                ));
                seen_clock.push(col.clone());
            }
        }
        if let Some(v) = &self.columns.value {
            fields.push(format!("{} AS sf_value_text", self.field(v)));
        }
        if let Some(c) = &self.columns.category {
            fields.push(format!("{} AS sf_category", self.field(c)));
        }
        for (i, (src, _, _)) in self.kept.iter().enumerate() {
            fields.push(format!("{} AS sf_kept_{i}", self.field(src)));
        }
        for (i, src) in self.hashed.iter().enumerate() {
            fields.push(format!("{} AS sf_hashed_{i}", self.field(src)));
        }
        let clock_col = |col: &str| {
            let i = seen_clock.iter().position(|c| c == col).expect("listed");
            ident(d, &format!("sf_clock_{i}"))
        };
        // 2. Clock fields as integers, per format.
        let groups: Vec<(String, Vec<(&str, String)>)> = self
            .clock
            .iter()
            .enumerate()
            .map(|(k, (col, pattern))| {
                let fields = pattern
                    .groups
                    .iter()
                    .map(|&field| {
                        let expr = clock::field_sql(d, &clock_col(col), pattern, field);
                        (field_name(field), expr.expect("group"))
                    })
                    .collect();
                (format!("sf_p{k}"), fields)
            })
            .collect();
        let (parts, parts_from) = sp::with_groups(d, "sf_fields", &groups);
        // 3. The clock in microseconds, the value, and whether the row is accepted.
        let ts = self.ts_sql();
        let value = self
            .columns
            .value
            .as_ref()
            .map(|_| self.number("sf_value_text"));
        let mut accepted = vec![
            "sf_contact IS NOT NULL".to_string(),
            "sf_ts IS NOT NULL".into(),
        ];
        let mut rows = vec!["sf_parts.*".to_string(), format!("{ts} AS sf_ts")];
        if let Some(value) = value {
            rows.push(format!("{value} AS sf_value"));
            accepted.push("sf_value IS NOT NULL".into());
            if let Some(min) = p.value_min {
                accepted.push(format!("sf_value >= {}", sp::double(d, min)));
            }
        }
        for (i, (_, _, number)) in self.kept.iter().enumerate() {
            if *number {
                rows.push(format!(
                    "{} AS sf_kept_number_{i}",
                    self.number(&format!("sf_kept_{i}"))
                ));
                // A blank is null; any other text that is not a number is a reject.
                accepted.push(format!(
                    "(sf_kept_{i} IS NULL OR sf_kept_number_{i} IS NOT NULL)"
                ));
            }
        }
        // 4. The events: hashed ids and calendar fields.
        let canonical = |f: &str| format!("COALESCE({}, {f})", sp::capture(d, f, ZERO_FRACTION, 1));
        let mut events = vec![
            format!(
                "{} AS contact_id",
                sp::sha256_hex(d, &canonical("sf_contact"), self.hex_chars)
            ),
            "sf_ts".to_string(),
        ];
        let day = format!(
            "{} - CASE WHEN sf_ts % 86400000000 < 0 THEN 1 ELSE 0 END",
            sp::div(d, "sf_ts", "86400000000")
        );
        // Integer division truncates toward zero on every engine: before 1970 the day is one
        // less, and the time of day is what remains.
        events.push(format!("({day}) AS sf_day"));
        events.push(format!(
            "{} AS sf_hour",
            sp::div(d, &format!("(sf_ts - ({day}) * 86400000000)"), "3600000000")
        ));
        events.push(format!("(({day}) % 7 + 7 + 3) % 7 AS sf_weekday"));
        if self.columns.value.is_some() {
            events.push(format!("sf_value AS {}", ident(d, "value")));
        }
        if self.columns.category.is_some() {
            events.push(format!("sf_category AS {}", ident(d, "category")));
        }
        for (i, (_, name, number)) in self.kept.iter().enumerate() {
            let col = if *number {
                format!("sf_kept_number_{i}")
            } else {
                format!("sf_kept_{i}")
            };
            events.push(format!("{col} AS {}", ident(d, name)));
        }
        for (i, name) in self.hashed.iter().enumerate() {
            let f = format!("sf_hashed_{i}");
            events.push(format!(
                "CASE WHEN {f} IS NOT NULL THEN {} END AS {}",
                sp::sha256_hex(d, &canonical(&f), self.hex_chars),
                ident(d, name)
            ));
        }
        let once = sp::materialized(d);
        format!(
            "sf_fields AS (\n  SELECT\n    {}\n  FROM {from}\n),\n\
             sf_parts {once} (\n  SELECT\n    {}\n  FROM {parts_from}\n),\n\
             sf_rows {once} (\n  SELECT\n    {}\n  FROM sf_parts\n),\n\
             sf_events {once} (\n  SELECT\n    {}\n  FROM sf_rows\n  WHERE {}\n)",
            fields.join(",\n    "),
            parts.join(",\n    "),
            rows.join(",\n    "),
            events.join(",\n    "),
            accepted.join("\n    AND "),
        )
    }

    /// The clock in microseconds: the first timestamp format that reads the field, or the
    /// date (and time) fields; NULL when none does (a reject).
    fn ts_sql(&self) -> String {
        let d = self.d;
        let f = |k: usize, field: Field| -> Option<String> {
            self.clock[k]
                .1
                .groups
                .contains(&field)
                .then(|| sp::group_field(d, &format!("sf_p{k}"), field_name(field)))
        };
        let read = |k: usize, with_time: Option<usize>| -> (String, String) {
            let (y, m, day) = (
                f(k, Field::Year).expect("a date format has %Y"),
                f(k, Field::Month).expect("a date format has %m"),
                f(k, Field::Day).expect("a date format has %d"),
            );
            let t = with_time.unwrap_or(k);
            let (h, mi, s, us) = (
                f(t, Field::Hour).unwrap_or_else(|| "0".into()),
                f(t, Field::Minute).unwrap_or_else(|| "0".into()),
                f(t, Field::Second).unwrap_or_else(|| "0".into()),
                f(t, Field::Fraction).unwrap_or_else(|| "0".into()),
            );
            let mut present = vec![y.clone(), m.clone(), day.clone()];
            present.extend(
                [Field::Hour, Field::Minute]
                    .into_iter()
                    .filter_map(|field| f(t, field)),
            );
            if with_time.is_some() {
                // A separate time column must read, whatever its fields.
                present.push(f(t, Field::Hour).expect("a time format has %H"));
            }
            let nulls = present
                .iter()
                .map(|c| format!("{c} IS NOT NULL"))
                .collect::<Vec<_>>()
                .join(" AND ");
            let ok = format!(
                "{nulls} AND {} AND {}",
                clock::valid_date(&y, &m, &day),
                clock::valid_time(&h, &mi, &s)
            );
            let micros = clock::micros(&clock::days_from_civil(d, &y, &m, &day), &h, &mi, &s, &us);
            (ok, micros)
        };
        match (&self.columns.timestamp, self.clock.len()) {
            (Some(_), n) => {
                let branches: String = (0..n)
                    .map(|k| {
                        let (ok, us) = read(k, None);
                        format!(" WHEN {ok} THEN {us}")
                    })
                    .collect();
                format!("CASE{branches} END")
            }
            (None, 1) => {
                let (ok, us) = read(0, None);
                format!("CASE WHEN {ok} THEN {us} END")
            }
            (None, _) => {
                let (ok, us) = read(0, Some(1));
                format!("CASE WHEN {ok} THEN {us} END")
            }
        }
    }
}

fn field_name(f: Field) -> &'static str {
    match f {
        Field::Year => "y",
        Field::Month => "m",
        Field::Day => "d",
        Field::Hour => "h",
        Field::Minute => "mi",
        Field::Second => "s",
        Field::Fraction => "us",
    }
}

/// The features over `sf_events`: base aggregations in `sf_base`, final columns (derived
/// features on top) in the outer select.
struct Query<'a> {
    d: Dialect,
    features: &'a segflow_features::Params,
    events: &'a Events,
    /// One ranking of the log's categories per `category_shares` feature (its `top`).
    ranks: Vec<usize>,
    /// Base aggregations: column of `sf_base`, expression.
    base: Vec<(String, String)>,
    /// Per-contact tables (at most one row per contact) the base aggregation joins: name and
    /// query, e.g. the median gap between active days, or a mode.
    sides: Vec<(String, String)>,
}

impl Query<'_> {
    /// The outer select's columns in artifact order.
    fn feature_columns(&mut self) -> Result<Vec<(String, String)>> {
        let mut out = Vec::new();
        for (block, name, feature) in self.features.features() {
            let key = format!("features.blocks.{block}.{name}");
            if !feature.needs_events() {
                continue;
            }
            for (col, expr) in self.base_feature(&key, name, feature)? {
                self.base.push((col.clone(), expr));
                out.push((col.clone(), ident(self.d, &col)));
            }
        }
        // Derived features are expressions over the base columns, in feature order.
        let mut columns = Vec::new();
        for (_, name, feature) in self.features.features() {
            if feature.needs_events() {
                columns.extend(
                    out.iter()
                        .filter(|(c, _)| {
                            c == name
                                || (matches!(
                                    feature.aggregation,
                                    Aggregation::CategoryShares { .. }
                                ) && c
                                    .strip_prefix(name)
                                    .is_some_and(|r| r.starts_with("_top")))
                        })
                        .cloned(),
                );
            } else {
                columns.push((name.to_string(), self.derived(name)?));
            }
        }
        Ok(columns)
    }

    fn feature(&self, name: &str) -> &Feature {
        self.features
            .features()
            .find(|(_, n, _)| *n == name)
            .map(|(_, _, f)| f)
            .expect("validated reference")
    }

    /// A feature's value as a double expression over `sf_base`.
    fn derived(&self, name: &str) -> Result<String> {
        let d = self.d;
        let feature = self.feature(name);
        Ok(match &feature.aggregation {
            Aggregation::Ratio {
                num,
                den,
                den_offset,
                if_zero,
            } => {
                let (a, b) = (self.derived(num)?, self.derived(den)?);
                let b = format!("({b} + {})", sp::double(d, *den_offset));
                format!(
                    "CASE WHEN {a} IS NULL OR {b} IS NULL THEN NULL WHEN {b} = {} THEN {} \
                     ELSE {a} / {b} END",
                    sp::double(d, 0.0),
                    sp::double(d, *if_zero)
                )
            }
            Aggregation::Log1p(of) => sp::log1p(d, &self.derived(of)?),
            _ => sp::to_double(d, &ident(d, name)),
        })
    }

    /// The column `of:` names in `sf_events`, checked to exist (and be a number when the
    /// aggregation needs one).
    fn of_column(&self, key: &str, feature: &Feature) -> Result<String> {
        let d = self.d;
        let name = feature.column().unwrap_or_default();
        if name == "ts" {
            return Ok("sf_ts".into());
        }
        let readable = self.events.readable();
        let Some((_, number)) = readable.iter().find(|(c, _)| c == name) else {
            let known: Vec<&str> = std::iter::once("ts")
                .chain(readable.iter().map(|(c, _)| c.as_str()))
                .collect();
            return Err(refuse(
                &format!("{key}.of"),
                format!(
                    "the events have no column `{name}` (they have: {})",
                    known.join(", ")
                ),
            ));
        };
        let numeric = !matches!(
            feature.aggregation,
            Aggregation::Distinct | Aggregation::Mode
        );
        if numeric && !number {
            return Err(refuse(
                &format!("{key}.of"),
                format!("`{name}` is text, not a number"),
            ));
        }
        Ok(format!("sf_events.{}", ident(d, name)))
    }

    fn base_feature(
        &mut self,
        key: &str,
        name: &str,
        feature: &Feature,
    ) -> Result<Vec<(String, String)>> {
        let d = self.d;
        if feature.filter.is_some() {
            return Err(refuse(
                &format!("{key}.where"),
                format!("conditions are not rendered in {d} SQL by this segflow version"),
            ));
        }
        let days = |micros: &str| {
            format!(
                "{} / {} / {}",
                sp::to_double(d, micros),
                sp::double(d, 1e6),
                sp::double(d, 86400.0)
            )
        };
        let single = |expr: String| Ok(vec![(name.to_string(), expr)]);
        match &feature.aggregation {
            Aggregation::Count => single("COUNT(*)".into()),
            Aggregation::DistinctDays => single("COUNT(DISTINCT sf_events.sf_day)".into()),
            Aggregation::Distinct => {
                let col = self.of_column(key, feature)?;
                // -0 and 0 are one value: adding 0 turns -0 into 0.
                let numeric = self
                    .events
                    .readable()
                    .iter()
                    .any(|(c, n)| *n && Some(c.as_str()) == feature.column());
                let col = if numeric {
                    format!("({col} + {})", sp::double(d, 0.0))
                } else {
                    col
                };
                single(format!("COUNT(DISTINCT {col})"))
            }
            Aggregation::Sum => single(format!(
                "COALESCE(SUM({}), {})",
                self.of_column(key, feature)?,
                sp::double(d, 0.0)
            )),
            Aggregation::Mean => single(format!("AVG({})", self.of_column(key, feature)?)),
            Aggregation::Min => single(format!("MIN({})", self.of_column(key, feature)?)),
            Aggregation::Max => single(format!("MAX({})", self.of_column(key, feature)?)),
            Aggregation::Std => single(format!("STDDEV_SAMP({})", self.of_column(key, feature)?)),
            Aggregation::Median => single(sp::quantile(d, &self.of_column(key, feature)?, 0.5)),
            Aggregation::Quantile(q) => single(sp::quantile(d, &self.of_column(key, feature)?, *q)),
            Aggregation::FirstTs => single(sp::timestamp_from_micros(d, "MIN(sf_events.sf_ts)")),
            Aggregation::LastTs => single(sp::timestamp_from_micros(d, "MAX(sf_events.sf_ts)")),
            Aggregation::RecencyDays => {
                let as_of = match self.features.as_of_micros() {
                    Some(us) => us.to_string(),
                    None => "(SELECT MAX(sf_ts) FROM sf_events)".into(),
                };
                single(days(&format!("({as_of} - MAX(sf_events.sf_ts))")))
            }
            Aggregation::TenureDays => {
                single(days("(MAX(sf_events.sf_ts) - MIN(sf_events.sf_ts))"))
            }
            // The gaps between sorted distinct days are integers, so their sum is exact and
            // their mean is the span over the number of gaps.
            Aggregation::MeanGapDays => single(format!(
                "CASE WHEN COUNT(DISTINCT sf_events.sf_day) >= 2 THEN {} / {} END",
                sp::to_double(d, "MAX(sf_events.sf_day) - MIN(sf_events.sf_day)"),
                sp::to_double(d, "COUNT(DISTINCT sf_events.sf_day) - 1")
            )),
            Aggregation::MedianGapDays => {
                if !self.sides.iter().any(|(n, _)| n == "sf_median_gap") {
                    self.sides.push((
                        "sf_median_gap".into(),
                        format!(
                            "  SELECT contact_id, {} AS sf_value\n  FROM (\n    \
                             SELECT contact_id, sf_day - LAG(sf_day) OVER (PARTITION BY \
                             contact_id ORDER BY sf_day) AS sf_gap\n    FROM (SELECT DISTINCT \
                             contact_id, sf_day FROM sf_events) sf_days\n  ) sf_gaps\n  \
                             WHERE sf_gap IS NOT NULL\n  GROUP BY contact_id",
                            sp::quantile(d, &sp::to_double(d, "sf_gap"), 0.5)
                        ),
                    ));
                }
                single("MAX(sf_median_gap.sf_value)".into())
            }
            Aggregation::Mode if feature.column() == Some("ts") => Err(refuse(
                &format!("{key}.of"),
                format!("the mode of ts is not rendered in {d} SQL by this segflow version"),
            )),
            Aggregation::Mode => {
                let col = self.of_column(key, feature)?;
                let numeric = self
                    .events
                    .readable()
                    .iter()
                    .any(|(c, n)| *n && Some(c.as_str()) == feature.column());
                // -0 and 0 are one value; a tie goes to the smallest value, text by its bytes.
                let (value, order) = if numeric {
                    let v = format!("({col} + {})", sp::double(d, 0.0));
                    (v.clone(), v)
                } else {
                    (col.clone(), sp::bytewise(d, &col))
                };
                let table = format!("sf_mode_{}", self.sides.len());
                self.sides.push((
                    table.clone(),
                    format!(
                        "  SELECT contact_id, sf_value\n  FROM (\n    SELECT contact_id, \
                         {value} AS sf_value, ROW_NUMBER() OVER (PARTITION BY contact_id \
                         ORDER BY COUNT(*) DESC, {order}) AS sf_rank\n    FROM sf_events\n    \
                         WHERE {col} IS NOT NULL\n    GROUP BY contact_id, {value}\n  ) \
                         sf_counts\n  WHERE sf_rank = 1"
                    ),
                ));
                single(format!("MAX({table}.sf_value)"))
            }
            Aggregation::Share(condition) => {
                let test = self.condition(key, feature, condition)?;
                single(format!(
                    "{} / {}",
                    sp::to_double(d, &format!("SUM(CASE WHEN {test} THEN 1 ELSE 0 END)")),
                    sp::to_double(d, "COUNT(*)")
                ))
            }
            Aggregation::CategoryShares { top } => {
                if self.events.columns.category.is_none() {
                    return Err(refuse(
                        key,
                        "category_shares needs ingest's category column",
                    ));
                }
                let table = rank_table(self.ranks.len());
                self.ranks.push(*top);
                Ok((1..=*top)
                    .map(|k| {
                        (
                            format!("{name}_top{k}"),
                            format!(
                                "{} / {}",
                                sp::to_double(
                                    d,
                                    &format!(
                                        "SUM(CASE WHEN {table}.category_rank = {k} \
                                         THEN 1 ELSE 0 END)"
                                    )
                                ),
                                sp::to_double(d, "COUNT(*)")
                            ),
                        )
                    })
                    .collect())
            }
            Aggregation::Ratio { .. } | Aggregation::Log1p(_) | Aggregation::Column(_) => {
                unreachable!("not an event aggregation")
            }
        }
    }

    /// A share's condition on one event, as SQL (NULL counts as not met).
    fn condition(&self, key: &str, feature: &Feature, c: &Condition) -> Result<String> {
        let d = self.d;
        Ok(match c {
            Condition::HourIn(r) => format!("sf_events.sf_hour BETWEEN {} AND {}", r.0, r.1),
            Condition::WeekdayIn(days) => {
                let list: Vec<String> = days.iter().map(|w| w.index().to_string()).collect();
                format!("sf_events.sf_weekday IN ({})", list.join(", "))
            }
            Condition::ValueGe(x) => {
                format!("{} >= {}", self.of_column(key, feature)?, sp::double(d, *x))
            }
            Condition::ValueGeQuantile(q) => {
                let col = self.of_column(key, feature)?;
                let bar = match self
                    .features
                    .thresholds
                    .get(key.rsplit('.').next().unwrap_or(""))
                {
                    Some(t) => sp::double(d, *t),
                    None => format!("(SELECT {} FROM sf_events)", sp::quantile(d, &col, *q)),
                };
                format!("{col} >= {bar}")
            }
            Condition::CategoryIn(names) => {
                if self.events.columns.category.is_none() {
                    return Err(refuse(key, "category_in needs ingest's category column"));
                }
                let list: Vec<String> = names.iter().map(|n| sp::text(n)).collect();
                format!(
                    "sf_events.{} IN ({})",
                    self.events.category_column(),
                    list.join(", ")
                )
            }
            Condition::Where(_) => {
                return Err(refuse(
                    &format!("{key}.share.where"),
                    format!("conditions are not rendered in {d} SQL by this segflow version"),
                ));
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(d: Dialect, ingest: &str, features: &str) -> Result<String> {
        features_query(&Request {
            dialect: d,
            pipeline: "p",
            source: "raw_calls",
            ingest: &ParamTree::from_json(ingest).unwrap(),
            features: &ParamTree::from_json(features).unwrap(),
            params_hash: "h",
        })
    }

    const INGEST: &str = r#"{"mode": "events",
        "columns": {"contact": "who", "timestamp": "at", "value": "secs", "category": "kind"},
        "formats": {"timestamp": ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"]},
        "dedupe": "exact"}"#;
    const FEATURES: &str = r#"{"as_of": "2024-01-01 00:00:00", "model_blocks": ["b"],
        "blocks": {"b": {"n": "count", "p90": {"quantile": 0.9},
                         "long": {"share": {"value_ge_quantile": 0.95}},
                         "late": {"share": {"hour_in": [21, 23]}},
                         "weekend": {"share": {"weekday_in": ["sat", "sun"]}},
                         "rec": "recency_days", "lg": {"log1p": "n"}}}}"#;

    #[test]
    fn spark_and_postgres_texts_hold_their_dialect_functions() {
        let spark = query(Dialect::Spark, INGEST, FEATURES).unwrap();
        assert!(spark.contains("-- dialect: spark\n"));
        assert!(spark.contains("FROM (SELECT DISTINCT * FROM raw_calls) sf_source"));
        assert!(spark.contains("percentile(sf_events.`value`, CAST('0.9' AS DOUBLE))"));
        assert!(spark.contains(
            "(SELECT percentile(sf_events.`value`, CAST('0.95' AS DOUBLE)) FROM sf_events)"
        ));
        assert!(spark.contains("sf_events.sf_hour BETWEEN 21 AND 23"));
        assert!(spark.contains("sf_events.sf_weekday IN (5, 6)"));
        // The fixed as-of time, 2024-01-01 00:00:00, in microseconds.
        assert!(spark.contains("(1704067200000000 - MAX(sf_events.sf_ts))"));
        assert!(spark.contains("log1p(CAST(`n` AS DOUBLE)) AS `lg`"));
        assert!(spark.contains("sf_events AS ("));
        let pg = query(Dialect::Postgres, INGEST, FEATURES).unwrap();
        assert!(pg.contains(
            "percentile_cont(CAST('0.9' AS DOUBLE PRECISION)) WITHIN GROUP (ORDER BY \
             sf_events.\"value\")"
        ));
        assert!(pg.contains("sf_events AS MATERIALIZED ("));
        assert!(pg.contains("ORDER BY contact_id COLLATE \"C\""));
    }

    #[test]
    fn default_timestamp_formats_render_and_a_two_digit_year_is_refused() {
        let ingest = r#"{"mode": "events",
            "columns": {"contact": "who", "timestamp": "at", "value": "secs"}}"#;
        let text = query(Dialect::Duckdb, ingest, FEATURES).unwrap();
        assert!(text.contains("AS sf_p2_us"), "{text}");
        let ingest = r#"{"mode": "events", "columns": {"contact": "who", "timestamp": "at"},
            "formats": {"timestamp": ["%Y-%m-%d", "%d/%m/%y %H:%M"]}}"#;
        let err = query(Dialect::Duckdb, ingest, FEATURES)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("ingest.formats.timestamp[1]: `%d/%m/%y %H:%M`: `%y` has no exact"),
            "{err}"
        );
    }
}
