//! `segflow sql features`: one query computing a pipeline's features artifact from the raw
//! events table, as ingest (typing, blank ids, dedupe, id hashing, derived columns and the
//! row filter, rejects dropped) and the features stage (every aggregation and its condition,
//! the log-wide quantities as sub-queries) compute it. A construct with no exact rendering is
//! refused, naming its YAML key.

use segflow_core::params::{ParamTree, parse_valid};
use segflow_core::{Error, Result};
use segflow_expr::{Expr, Type};
use segflow_features::{Aggregation, Condition, Feature};
use segflow_ingest::{
    EventColumns, IdMethod, Mode, SECONDS_SINCE, UNIX_MILLIS, UNIX_SECONDS, ValueType,
};

use crate::Dialect;
use crate::clock::{self, Field, Holds, Pattern};
use crate::epoch::Count;
use crate::expression::{self, text_to_number};
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
    let events = Log::new(d, &ingest)?;
    let mut q = Query {
        d,
        features: &features,
        events: &events,
        ranks: Vec::new(),
        base: Vec::new(),
        sides: Vec::new(),
        gap_conditions: Vec::new(),
    };
    let columns = q.feature_columns()?;
    let mut out = header(req, &events);
    out.push_str(&events.ctes(req.source, &ingest));
    // A ranking of all the log's categories by the count of the events the feature sees
    // (all, or those meeting its condition), then by name; each feature keeps its `top`.
    for (i, cond) in q.ranks.iter().enumerate() {
        let count = match cond {
            Some(c) => format!("SUM(CASE WHEN {c} THEN 1 ELSE 0 END)"),
            None => "COUNT(*)".to_string(),
        };
        out.push_str(&format!(
            ",\n{} AS (\n  SELECT {cat} AS category, ROW_NUMBER() OVER (ORDER BY {count} DESC, \
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

fn header(req: &Request<'_>, log: &Log) -> String {
    let tables = match &log.tags {
        None => req.source.to_string(),
        Some(tags) => {
            let tables: Vec<String> = tags.iter().map(|t| format!("{}_{t}", req.source)).collect();
            format!("{} (one table per source)", tables.join(", "))
        }
    };
    let mut h = format!(
        "-- segflow {} features query\n-- pipeline: {}\n-- params hash (ingest + features): {}\n\
         -- dialect: {}\n-- source: {tables} (the raw events, columns as the input's text)\n",
        env!("CARGO_PKG_VERSION"),
        req.pipeline,
        req.params_hash,
        req.dialect,
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
    clock: Vec<(String, Read)>,
    /// Source name, artifact name, whether a number.
    kept: Vec<(String, String, bool)>,
    /// Source columns written as pseudonyms (`privacy.hash`).
    hashed: Vec<String>,
    hex_chars: usize,
    /// Source columns only `derive` and `where` read, with whether each is a number.
    inputs: Vec<(String, bool)>,
    /// `derive`: name, type, SQL over the parsed row.
    derived: Vec<(String, Type, String)>,
    /// `where` (the stage's and the source's) as SQL over the parsed row and its derived
    /// columns.
    filters: Vec<String>,
}

/// The events of every source, unioned as ingest writes them (with a `source` column when
/// there are several).
struct Log {
    d: Dialect,
    sources: Vec<Events>,
    /// The sources' names, when there are several.
    tags: Option<Vec<String>>,
}

impl Log {
    fn new(d: Dialect, p: &segflow_ingest::Params) -> Result<Log> {
        if p.mode != Mode::Events {
            return Err(refuse(
                "ingest.mode",
                "the features query is written for events mode; an entity table is already \
                 one row per entity: after `segflow run`, `segflow sql score RUN_DIR` writes \
                 the query that scores such a table in the engine",
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
        if p.sources.is_empty() {
            let columns = p
                .columns
                .clone()
                .ok_or_else(|| refuse("ingest.columns", "events mode needs columns"))?;
            let events = Events::new(d, p, columns, &p.formats, None)?;
            return Ok(Log {
                d,
                sources: vec![events],
                tags: None,
            });
        }
        let mut sources = Vec::new();
        for (i, source) in p.sources.iter().enumerate() {
            let own = source
                .filter
                .as_deref()
                .map(|text| (format!("ingest.sources[{i}].where"), text));
            let formats = source.formats.as_ref().unwrap_or(&p.formats);
            sources.push(Events::new(d, p, source.columns.clone(), formats, own)?);
        }
        // Ingest writes one column per derived name: of one type in every source.
        for other in &sources[1..] {
            for ((name, a, _), (_, b, _)) in sources[0].derived.iter().zip(&other.derived) {
                if a != b {
                    return Err(refuse(
                        &format!("ingest.derive.{name}"),
                        format!("is {} in one source and {} in another", a.name(), b.name()),
                    ));
                }
            }
        }
        Ok(Log {
            d,
            sources,
            tags: Some(p.sources.iter().map(|s| s.name.clone()).collect()),
        })
    }

    fn has_value(&self) -> bool {
        self.sources.iter().any(|s| s.columns.value.is_some())
    }

    fn has_category(&self) -> bool {
        self.sources.iter().any(|s| s.columns.category.is_some())
    }

    fn category_column(&self) -> String {
        ident(self.d, "category")
    }

    /// The events columns the features may read (`of:`, conditions) besides `ts`, with
    /// their types.
    fn readable(&self) -> Vec<(String, Type)> {
        let mut cols = Vec::new();
        if self.has_value() {
            cols.push(("value".to_string(), Type::Number));
        }
        if self.has_category() {
            cols.push(("category".to_string(), Type::Text));
        }
        let first = &self.sources[0];
        for (_, name, number) in &first.kept {
            let ty = if *number { Type::Number } else { Type::Text };
            cols.push((name.clone(), ty));
        }
        for name in &first.hashed {
            cols.push((name.clone(), Type::Text));
        }
        for (name, ty, _) in &first.derived {
            cols.push((name.clone(), *ty));
        }
        if self.tags.is_some() {
            cols.push(("source".to_string(), Type::Text));
        }
        cols
    }

    /// The CTEs up to `sf_events`: one chain per source, read from `table` (with several
    /// sources, `table_NAME` per source), unioned.
    fn ctes(&self, table: &str, p: &segflow_ingest::Params) -> String {
        let shape = Shape {
            value: self.has_value(),
            category: self.has_category(),
        };
        let Some(tags) = &self.tags else {
            return self.sources[0].ctes(table, p, "sf", &shape, None);
        };
        let mut out = Vec::new();
        let mut union = Vec::new();
        for (i, (events, tag)) in self.sources.iter().zip(tags).enumerate() {
            let prefix = format!("sf_s{i}");
            out.push(events.ctes(&format!("{table}_{tag}"), p, &prefix, &shape, Some(tag)));
            union.push(format!("  SELECT * FROM {prefix}_events"));
        }
        out.push(format!(
            "sf_events {} (\n{}\n)",
            sp::materialized(self.d),
            union.join("\n  UNION ALL\n")
        ));
        out.join(",\n")
    }
}

/// The columns every source's events carry, so that they union.
struct Shape {
    value: bool,
    category: bool,
}

impl Events {
    fn new(
        d: Dialect,
        p: &segflow_ingest::Params,
        columns: EventColumns,
        formats: &segflow_ingest::Formats,
        own_filter: Option<(String, &str)>,
    ) -> Result<Events> {
        let clock = match (&columns.timestamp, &columns.date) {
            (Some(ts), _) => {
                let mut reads = Vec::new();
                for (i, f) in formats.timestamp.iter().enumerate() {
                    let key = format!("ingest.formats.timestamp[{i}]");
                    let read = match f.as_str() {
                        UNIX_SECONDS => Read::Count(Count {
                            digits: 6,
                            origin: 0,
                        }),
                        UNIX_MILLIS => Read::Count(Count {
                            digits: 3,
                            origin: 0,
                        }),
                        SECONDS_SINCE => Read::Count(Count {
                            digits: 6,
                            origin: formats
                                .origin_micros()
                                .map_err(|e| refuse("ingest.formats.origin", e.to_string()))?
                                .ok_or_else(|| {
                                    refuse("ingest.formats.origin", "seconds_since needs an origin")
                                })?,
                        }),
                        _ => Read::Pattern(
                            clock::pattern(f, Holds::DateAndMaybeTime)
                                .map_err(|m| refuse(&key, format!("`{f}`: {m}")))?,
                        ),
                    };
                    reads.push((ts.clone(), read));
                }
                reads
            }
            (None, Some(date)) => {
                let f = &formats.date;
                let mut parts = vec![(
                    date.clone(),
                    Read::Pattern(
                        clock::pattern(f, Holds::Date)
                            .map_err(|m| refuse("ingest.formats.date", format!("`{f}`: {m}")))?,
                    ),
                )];
                if let Some(time) = &columns.time {
                    let f = &formats.time;
                    parts.push((
                        time.clone(),
                        Read::Pattern(
                            clock::pattern(f, Holds::Time).map_err(|m| {
                                refuse("ingest.formats.time", format!("`{f}`: {m}"))
                            })?,
                        ),
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
                let number = p.types.get(c) == Some(&ValueType::Number);
                (c.clone(), c.clone(), number)
            })
            .collect();
        let mut events = Events {
            d,
            columns,
            clock,
            kept,
            hashed: p.privacy.hash.clone(),
            hex_chars: p.privacy.id.hex_chars,
            inputs: Vec::new(),
            derived: Vec::new(),
            filters: Vec::new(),
        };
        events.compile_expressions(p, own_filter)?;
        Ok(events)
    }

    /// The type a source column has in ingest's expressions: the value a number, the clock a
    /// timestamp, the others text unless `types` declares them numbers.
    fn source_type(&self, p: &segflow_ingest::Params, name: &str) -> Type {
        let c = &self.columns;
        let is = |role: &Option<String>| role.as_deref() == Some(name);
        if is(&c.value) || p.types.get(name) == Some(&ValueType::Number) {
            Type::Number
        } else if is(&c.timestamp) || is(&c.date) {
            Type::Timestamp
        } else {
            Type::Text
        }
    }

    /// `derive` and `where` parsed as ingest parses them. The source table's columns are not
    /// known here: a name that is no column the pipeline declares is read as a text column
    /// of the source, named as written.
    fn compile_expressions(
        &mut self,
        p: &segflow_ingest::Params,
        own_filter: Option<(String, &str)>,
    ) -> Result<()> {
        let c = &self.columns;
        let mut declared: Vec<&String> = vec![&c.contact];
        declared.extend(
            [&c.timestamp, &c.date, &c.time, &c.value, &c.category]
                .into_iter()
                .flatten(),
        );
        declared.extend(p.types.keys().chain(&p.keep).chain(&p.privacy.hash));
        let mut available: Vec<(String, Type)> = Vec::new();
        for name in declared {
            if !available.iter().any(|(n, _)| n == name) {
                available.push((name.clone(), self.source_type(p, name)));
            }
        }
        let mut parsed: Vec<Expr> = Vec::new();
        for (name, text) in &p.derive {
            let key = format!("ingest.derive.{name}");
            let expr = Expr::parse_open(text, &available, Type::Text)
                .map_err(|e| refuse(&key, e.to_string()))?;
            for col in expr.columns() {
                let why = if *col == c.contact {
                    Some("the raw contact column, which only ever becomes contact_id")
                } else if p.privacy.drop.contains(col) {
                    Some("listed in privacy.drop")
                } else if p.privacy.hash.contains(col) {
                    Some("listed in privacy.hash, so only its pseudonym is written")
                } else {
                    None
                };
                if let Some(why) = why {
                    return Err(refuse(
                        &key,
                        format!(
                            "reads `{col}`, {why}; a derived column may not carry it into the \
                             events artifact"
                        ),
                    ));
                }
            }
            available.retain(|(n, _)| n != name);
            available.push((name.clone(), expr.output_type()));
            self.derived
                .push((name.clone(), expr.output_type(), String::new()));
            parsed.push(expr);
        }
        // The stage's `where`, then the source's own.
        let mut filters: Vec<(String, Expr)> = Vec::new();
        let stage = p.filter.as_deref().map(|t| ("ingest.where".to_string(), t));
        for (key, text) in stage.into_iter().chain(own_filter) {
            let expr = Expr::parse_open(text, &available, Type::Text)
                .map_err(|e| refuse(&key, e.to_string()))?;
            if expr.output_type() != Type::Bool {
                return Err(refuse(
                    &key,
                    format!(
                        "`{text}` is {}, not a condition (true or false)",
                        expr.output_type().name()
                    ),
                ));
            }
            filters.push((key, expr));
        }
        // The source columns the expressions read besides the roles and the kept columns.
        for expr in parsed.iter().chain(filters.iter().map(|(_, e)| e)) {
            for col in expr.columns() {
                let known = self.role(col).is_some()
                    || self.kept.iter().any(|(k, _, _)| k == col)
                    || self.derived.iter().any(|(n, _, _)| n == col)
                    || self.inputs.iter().any(|(n, _)| n == col);
                if known {
                    continue;
                }
                if p.privacy.hash.contains(col) {
                    return Err(refuse(
                        "ingest.where",
                        format!("`{col}` is listed in privacy.hash; conditions cannot read it"),
                    ));
                }
                let number = p.types.get(col) == Some(&ValueType::Number);
                self.inputs.push((col.clone(), number));
            }
        }
        for (k, expr) in parsed.iter().enumerate() {
            let key = format!("ingest.derive.{}", self.derived[k].0);
            let sql = expression::render(self.d, &key, expr.tree(), &|name| self.row_column(name))?;
            self.derived[k].2 = sql;
        }
        for (key, expr) in &filters {
            let sql = expression::render(self.d, key, expr.tree(), &|name| self.row_column(name))?;
            self.filters.push(sql);
        }
        Ok(())
    }

    /// The row column of a role's source column, as ingest's expressions read it (the
    /// value and clock parsed, the category as text).
    fn role(&self, name: &str) -> Option<&'static str> {
        let c = &self.columns;
        let is = |role: &Option<String>| role.as_deref() == Some(name);
        if is(&c.value) {
            Some("sf_value")
        } else if is(&c.timestamp) || is(&c.date) {
            Some("sf_ts")
        } else if is(&c.category) {
            Some("sf_category")
        } else {
            None
        }
    }

    /// A column an ingest expression reads, as a column of the rows after parsing.
    fn row_column(&self, name: &str) -> String {
        if let Some(role) = self.role(name) {
            return role.to_string();
        }
        if let Some(i) = self.kept.iter().position(|(k, _, _)| k == name) {
            return if self.kept[i].2 {
                format!("sf_kept_number_{i}")
            } else {
                format!("sf_kept_{i}")
            };
        }
        if let Some(k) = self.derived.iter().position(|(n, _, _)| n == name) {
            return format!("sf_derived_{k}");
        }
        let i = self
            .inputs
            .iter()
            .position(|(n, _)| n == name)
            .expect("every column read is listed");
        if self.inputs[i].1 {
            format!("sf_input_number_{i}")
        } else {
            format!("sf_input_{i}")
        }
    }

    /// A source column as ingest reads a field: trimmed text, NULL when blank.
    fn field(&self, column: &str) -> String {
        let d = self.d;
        format!(
            "NULLIF({}, '')",
            sp::trim(d, &sp::to_text(d, &ident(d, column)))
        )
    }

    /// The number ingest reads from trimmed text `f`, NULL when it is not one.
    fn number(&self, f: &str) -> String {
        text_to_number(self.d, f)
    }

    /// This source's CTEs, named `{prefix}_…`, the last `{prefix}_events`; its events carry
    /// the columns of `shape` (NULL where this source has none) and, with a `tag`, the
    /// `source` column.
    fn ctes(
        &self,
        source: &str,
        p: &segflow_ingest::Params,
        prefix: &str,
        shape: &Shape,
        tag: Option<&str>,
    ) -> String {
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
        for (i, (src, _)) in self.inputs.iter().enumerate() {
            fields.push(format!("{} AS sf_input_{i}", self.field(src)));
        }
        let clock_col = |col: &str| {
            let i = seen_clock.iter().position(|c| c == col).expect("listed");
            ident(d, &format!("sf_clock_{i}"))
        };
        // 2. Clock fields as integers, per format.
        let mut groups: Vec<(String, Vec<(&str, String)>)> = Vec::new();
        let mut counts = Vec::new();
        for (k, (col, read)) in self.clock.iter().enumerate() {
            match read {
                Read::Pattern(pattern) => {
                    let fields = pattern
                        .groups
                        .iter()
                        .map(|&field| {
                            let expr = clock::field_sql(d, &clock_col(col), pattern, field);
                            (field_name(field), expr.expect("group"))
                        })
                        .collect();
                    groups.push((format!("sf_p{k}"), fields));
                }
                Read::Count(count) => {
                    for (expr, name) in count.parts(d, &clock_col(col), &format!("sf_c{k}")) {
                        counts.push(format!("{expr} AS {name}"));
                    }
                }
            }
        }
        let (mut parts, parts_from) = sp::with_groups(d, &format!("{prefix}_fields"), &groups);
        parts.extend(counts);
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
        let mut rows = vec![format!("{prefix}_parts.*"), format!("{ts} AS sf_ts")];
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
        for (i, (_, number)) in self.inputs.iter().enumerate() {
            if *number {
                rows.push(format!(
                    "{} AS sf_input_number_{i}",
                    self.number(&format!("sf_input_{i}"))
                ));
                accepted.push(format!(
                    "(sf_input_{i} IS NULL OR sf_input_number_{i} IS NOT NULL)"
                ));
            }
        }
        // `derive`, each column over the row and the columns derived before it; then `where`
        // keeps the rows where it is TRUE.
        let mut layers = String::new();
        let mut last = format!("{prefix}_rows");
        for (k, (_, _, sql)) in self.derived.iter().enumerate() {
            let layer = format!("{prefix}_derived_rows_{k}");
            layers.push_str(&format!(
                "{layer} AS (\n  SELECT\n    {last}.*,\n    {sql} AS sf_derived_{k}\n  FROM {last}\n),\n"
            ));
            last = layer;
        }
        accepted.extend(self.filters.iter().cloned());
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
        } else if shape.value {
            events.push(format!(
                "CAST(NULL AS {}) AS {}",
                sp::double_type(d),
                ident(d, "value")
            ));
        }
        if self.columns.category.is_some() {
            events.push(format!("sf_category AS {}", ident(d, "category")));
        } else if shape.category {
            events.push(format!(
                "CAST(NULL AS {}) AS {}",
                sp::text_type(d),
                ident(d, "category")
            ));
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
        for (k, (name, _, _)) in self.derived.iter().enumerate() {
            events.push(format!("sf_derived_{k} AS {}", ident(d, name)));
        }
        if let Some(tag) = tag {
            events.push(format!("{} AS {}", sp::string(d, tag), ident(d, "source")));
        }
        let once = sp::materialized(d);
        format!(
            "{prefix}_fields AS (\n  SELECT\n    {}\n  FROM {from}\n),\n\
             {prefix}_parts {once} (\n  SELECT\n    {}\n  FROM {parts_from}\n),\n\
             {prefix}_rows {once} (\n  SELECT\n    {}\n  FROM {prefix}_parts\n),\n\
             {layers}\
             {prefix}_events {once} (\n  SELECT\n    {}\n  FROM {last}\n  WHERE {}\n)",
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
            let Read::Pattern(pattern) = &self.clock[k].1 else {
                unreachable!("dates and times are read by patterns")
            };
            let groups = &pattern.groups;
            let field = match field {
                Field::Year if groups.contains(&Field::ShortYear) => Field::ShortYear,
                field => field,
            };
            groups
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
                        let (ok, us) = match &self.clock[k].1 {
                            Read::Pattern(_) => read(k, None),
                            Read::Count(count) => count.read(&format!("sf_c{k}")),
                        };
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

/// `AND` a condition, for a WHERE clause that has one already.
fn also_where(cond: Option<&str>) -> String {
    cond.map(|c| format!(" AND {c}")).unwrap_or_default()
}

/// How one clock format reads its field.
enum Read {
    /// A chrono format, by a regex.
    Pattern(Pattern),
    /// An epoch count.
    Count(Count),
}

fn field_name(f: Field) -> &'static str {
    match f {
        Field::Year => "y",
        Field::ShortYear => "yy",
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
    events: &'a Log,
    /// One ranking of the log's categories per `category_shares` feature, with the
    /// feature's condition.
    ranks: Vec<Option<String>>,
    /// Base aggregations: column of `sf_base`, expression.
    base: Vec<(String, String)>,
    /// Per-contact tables (at most one row per contact) the base aggregation joins: name and
    /// query, e.g. the median gap between active days, or a mode.
    sides: Vec<(String, String)>,
    /// The conditions of median gaps, one side table each.
    gap_conditions: Vec<String>,
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
        let Some((_, ty)) = readable.iter().find(|(c, _)| c == name) else {
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
        if numeric && *ty != Type::Number {
            return Err(refuse(
                &format!("{key}.of"),
                format!("`{name}` is {}, not a number", ty.name()),
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
        let cond = match &feature.filter {
            Some(text) => Some(self.condition_sql(&format!("{key}.where"), text)?),
            None => None,
        };
        // The events the feature sees: with a condition, the others' values are NULL, which
        // every aggregation skips.
        let seen = |expr: &str| match &cond {
            Some(c) => format!("CASE WHEN {c} THEN {expr} END"),
            None => expr.to_string(),
        };
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
            Aggregation::Count => single(match &cond {
                Some(_) => format!("COUNT({})", seen("1")),
                None => "COUNT(*)".into(),
            }),
            Aggregation::DistinctDays => {
                single(format!("COUNT(DISTINCT {})", seen("sf_events.sf_day")))
            }
            Aggregation::Distinct => {
                let col = self.of_column(key, feature)?;
                // -0 and 0 are one value: adding 0 turns -0 into 0.
                let col = if self.column_type(feature) == Some(Type::Number) {
                    format!("({col} + {})", sp::double(d, 0.0))
                } else {
                    col
                };
                single(format!("COUNT(DISTINCT {})", seen(&col)))
            }
            Aggregation::Sum => single(format!(
                "COALESCE(SUM({}), {})",
                seen(&self.of_column(key, feature)?),
                sp::double(d, 0.0)
            )),
            Aggregation::Mean => single(format!("AVG({})", seen(&self.of_column(key, feature)?))),
            Aggregation::Min => single(format!("MIN({})", seen(&self.of_column(key, feature)?))),
            Aggregation::Max => single(format!("MAX({})", seen(&self.of_column(key, feature)?))),
            Aggregation::Std => single(format!(
                "STDDEV_SAMP({})",
                seen(&self.of_column(key, feature)?)
            )),
            Aggregation::Median => {
                single(sp::quantile(d, &seen(&self.of_column(key, feature)?), 0.5))
            }
            Aggregation::Quantile(q) => {
                single(sp::quantile(d, &seen(&self.of_column(key, feature)?), *q))
            }
            Aggregation::FirstTs => single(sp::timestamp_from_micros(
                d,
                &format!("MIN({})", seen("sf_events.sf_ts")),
            )),
            Aggregation::LastTs => single(sp::timestamp_from_micros(
                d,
                &format!("MAX({})", seen("sf_events.sf_ts")),
            )),
            Aggregation::RecencyDays => {
                let as_of = match self.features.as_of_micros() {
                    Some(us) => us.to_string(),
                    None => "(SELECT MAX(sf_ts) FROM sf_events)".into(),
                };
                single(days(&format!(
                    "({as_of} - MAX({}))",
                    seen("sf_events.sf_ts")
                )))
            }
            Aggregation::TenureDays => single(days(&format!(
                "(MAX({ts}) - MIN({ts}))",
                ts = seen("sf_events.sf_ts")
            ))),
            // The gaps between sorted distinct days are integers, so their sum is exact and
            // their mean is the span over the number of gaps.
            Aggregation::MeanGapDays => {
                let day = seen("sf_events.sf_day");
                single(format!(
                    "CASE WHEN COUNT(DISTINCT {day}) >= 2 THEN {} / {} END",
                    sp::to_double(d, &format!("MAX({day}) - MIN({day})")),
                    sp::to_double(d, &format!("COUNT(DISTINCT {day}) - 1"))
                ))
            }
            Aggregation::MedianGapDays => {
                // One table per condition (or none), shared by the features that use it.
                let table = match &cond {
                    None => "sf_median_gap".to_string(),
                    Some(c) => format!(
                        "sf_median_gap_{}",
                        self.gap_conditions
                            .iter()
                            .position(|g| g == c)
                            .unwrap_or_else(|| {
                                self.gap_conditions.push(c.clone());
                                self.gap_conditions.len() - 1
                            })
                    ),
                };
                if !self.sides.iter().any(|(n, _)| *n == table) {
                    let filter = match &cond {
                        Some(c) => format!(" WHERE {c}"),
                        None => String::new(),
                    };
                    self.sides.push((
                        table.clone(),
                        format!(
                            "  SELECT contact_id, {} AS sf_value\n  FROM (\n    \
                             SELECT contact_id, sf_day - LAG(sf_day) OVER (PARTITION BY \
                             contact_id ORDER BY sf_day) AS sf_gap\n    FROM (SELECT DISTINCT \
                             contact_id, sf_day FROM sf_events{filter}) sf_days\n  ) sf_gaps\n  \
                             WHERE sf_gap IS NOT NULL\n  GROUP BY contact_id",
                            sp::quantile(d, &sp::to_double(d, "sf_gap"), 0.5)
                        ),
                    ));
                }
                single(format!("MAX({table}.sf_value)"))
            }
            Aggregation::Mode => {
                let col = self.of_column(key, feature)?;
                let ty = self
                    .column_type(feature)
                    .expect("of_column checked the column");
                // -0 and 0 are one value; a tie goes to the smallest value (FALSE first, the
                // earliest time), text by its bytes.
                let (value, order) = match ty {
                    Type::Number => {
                        let v = format!("({col} + {})", sp::double(d, 0.0));
                        (v.clone(), v)
                    }
                    Type::Text => (col.clone(), sp::bytewise(d, &col)),
                    Type::Bool | Type::Timestamp => (col.clone(), col.clone()),
                };
                let table = format!("sf_mode_{}", self.sides.len());
                self.sides.push((
                    table.clone(),
                    format!(
                        "  SELECT contact_id, sf_value\n  FROM (\n    SELECT contact_id, \
                         {value} AS sf_value, ROW_NUMBER() OVER (PARTITION BY contact_id \
                         ORDER BY COUNT(*) DESC, {order}) AS sf_rank\n    FROM sf_events\n    \
                         WHERE {col} IS NOT NULL{also}\n    GROUP BY contact_id, {value}\n  ) \
                         sf_counts\n  WHERE sf_rank = 1",
                        also = also_where(cond.as_deref()),
                    ),
                ));
                // One row per contact: the aggregate only carries it through the GROUP BY.
                single(match ty {
                    Type::Bool => format!("bool_or({table}.sf_value)"),
                    Type::Timestamp => {
                        sp::timestamp_from_micros(d, &format!("MAX({table}.sf_value)"))
                    }
                    Type::Number | Type::Text => format!("MAX({table}.sf_value)"),
                })
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
                if !self.events.has_category() {
                    return Err(refuse(
                        key,
                        "category_shares needs ingest's category column",
                    ));
                }
                let table = rank_table(self.ranks.len());
                self.ranks.push(cond.clone());
                // Over the events the feature sees; none seen: 0.
                let seen_count = sp::to_double(d, &format!("SUM({})", seen("1")));
                Ok((1..=*top)
                    .map(|k| {
                        let hits = sp::to_double(
                            d,
                            &format!(
                                "SUM({})",
                                seen(&format!(
                                    "CASE WHEN {table}.category_rank = {k} THEN 1 ELSE 0 END"
                                ))
                            ),
                        );
                        let share = match &cond {
                            None => format!("{hits} / {}", sp::to_double(d, "COUNT(*)")),
                            Some(_) => format!(
                                "CASE WHEN {seen_count} > {zero} THEN {hits} / {seen_count} \
                                 ELSE {zero} END",
                                zero = sp::double(d, 0.0)
                            ),
                        };
                        (format!("{name}_top{k}"), share)
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
                if !self.events.has_category() {
                    return Err(refuse(key, "category_in needs ingest's category column"));
                }
                let list: Vec<String> = names.iter().map(|n| sp::text(n)).collect();
                format!(
                    "sf_events.{} IN ({})",
                    self.events.category_column(),
                    list.join(", ")
                )
            }
            Condition::Where(text) => self.condition_sql(&format!("{key}.share.where"), text)?,
        })
    }

    /// The type of the events column a feature reads.
    fn column_type(&self, feature: &Feature) -> Option<Type> {
        let name = feature.column()?;
        if name == "ts" {
            return Some(Type::Timestamp);
        }
        self.events
            .readable()
            .into_iter()
            .find(|(c, _)| c == name)
            .map(|(_, ty)| ty)
    }

    /// A feature's condition over the events artifact's columns, as SQL over `sf_events`.
    fn condition_sql(&self, key: &str, text: &str) -> Result<String> {
        let d = self.d;
        let mut columns = vec![("ts".to_string(), Type::Timestamp)];
        columns.extend(self.events.readable());
        let expr = Expr::parse(text, &columns).map_err(|e| refuse(key, e.to_string()))?;
        if expr.output_type() != Type::Bool {
            return Err(refuse(
                key,
                format!(
                    "a condition is true or false, and `{text}` is a {}",
                    expr.output_type().name()
                ),
            ));
        }
        expression::render(d, key, expr.tree(), &|name| {
            if name == "ts" {
                "sf_events.sf_ts".to_string()
            } else {
                format!("sf_events.{}", ident(d, name))
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
    fn default_timestamp_formats_render_and_a_month_name_is_refused() {
        let ingest = r#"{"mode": "events",
            "columns": {"contact": "who", "timestamp": "at", "value": "secs"}}"#;
        let text = query(Dialect::Duckdb, ingest, FEATURES).unwrap();
        assert!(text.contains("AS sf_p2_us"), "{text}");
        let ingest = r#"{"mode": "events", "columns": {"contact": "who", "timestamp": "at"},
            "formats": {"timestamp": ["%Y-%m-%d", "%d %b %Y %H:%M"]}}"#;
        let err = query(Dialect::Duckdb, ingest, FEATURES)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("ingest.formats.timestamp[1]: `%d %b %Y %H:%M`: `%b` has no exact"),
            "{err}"
        );
    }
}
