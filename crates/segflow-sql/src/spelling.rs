//! How each dialect spells the functions the generated queries use. Every spelling here is
//! exact: integer arithmetic stays integer, doubles come from text literals (correctly rounded
//! by every engine) and text order is byte order.

use crate::Dialect;

/// The Unicode `White_Space` code points, which Rust's `str::trim` removes from both ends of a
/// field and chrono skips before a number; the engines' `trim` with an explicit set removes
/// exactly these.
const WHITESPACE: [u32; 25] = [
    0x9, 0xa, 0xb, 0xc, 0xd, 0x20, 0x85, 0xa0, 0x1680, 0x2000, 0x2001, 0x2002, 0x2003, 0x2004,
    0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200a, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000,
];

/// Stands for the whitespace set inside a regex until [`regex`] spells it per dialect.
pub const WS: char = '\u{1}';

/// The whitespace set as a text expression, written with escapes so the query stays printable.
fn whitespace(d: Dialect) -> String {
    characters(d, &WHITESPACE)
}

/// The characters `set` (code points) as a text expression, written with escapes.
fn characters(d: Dialect, set: &[u32]) -> String {
    match d {
        Dialect::Spark => {
            let s: String = set.iter().map(|c| format!("\\u{c:04X}")).collect();
            format!("'{s}'")
        }
        Dialect::Duckdb => {
            let s: Vec<String> = set.iter().map(|c| format!("chr({c})")).collect();
            format!("({})", s.join(" || "))
        }
        Dialect::Postgres => {
            let s: String = set.iter().map(|c| format!("\\{c:04X}")).collect();
            format!("U&'{s}'")
        }
    }
}

/// A regex as a text expression: literal pieces joined with the whitespace set where `WS`
/// stands.
fn regex(d: Dialect, re: &str) -> String {
    let pieces: Vec<String> = re.split(WS).map(text).collect();
    pieces.join(&format!(" || {} || ", whitespace(d)))
}

/// A SQL string literal.
pub fn text(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A SQL string literal of any text: Spark reads a backslash in a literal as an escape, so
/// there it is doubled.
pub fn string(d: Dialect, s: &str) -> String {
    match d {
        Dialect::Spark => text(&s.replace('\\', "\\\\")),
        Dialect::Duckdb | Dialect::Postgres => text(s),
    }
}

/// A quoted identifier (column or table name).
pub fn ident(d: Dialect, name: &str) -> String {
    match d {
        Dialect::Spark => format!("`{}`", name.replace('`', "``")),
        Dialect::Duckdb | Dialect::Postgres => format!("\"{}\"", name.replace('"', "\"\"")),
    }
}

pub fn double_type(d: Dialect) -> &'static str {
    match d {
        Dialect::Postgres => "DOUBLE PRECISION",
        Dialect::Spark | Dialect::Duckdb => "DOUBLE",
    }
}

pub fn text_type(d: Dialect) -> &'static str {
    match d {
        Dialect::Spark => "STRING",
        Dialect::Duckdb | Dialect::Postgres => "VARCHAR",
    }
}

/// A double constant, parsed by the engine from its shortest round-trip text.
pub fn double(d: Dialect, x: f64) -> String {
    format!("CAST({} AS {})", text(&format!("{x:?}")), double_type(d))
}

/// An expression as a double.
pub fn to_double(d: Dialect, expr: &str) -> String {
    format!("CAST({expr} AS {})", double_type(d))
}

/// An expression as text (a source column of any type read as the text ingest would see).
pub fn to_text(d: Dialect, expr: &str) -> String {
    format!("CAST({expr} AS {})", text_type(d))
}

/// Text with the Unicode whitespace at both ends removed.
pub fn trim(d: Dialect, expr: &str) -> String {
    trim_set(d, expr, &WHITESPACE)
}

/// Text with the characters `set` (code points) at both ends removed.
pub fn trim_set(d: Dialect, expr: &str, set: &[u32]) -> String {
    let set = characters(d, set);
    match d {
        Dialect::Spark => format!("trim(BOTH {set} FROM {expr})"),
        Dialect::Duckdb => format!("trim({expr}, {set})"),
        Dialect::Postgres => format!("btrim({expr}, {set})"),
    }
}

/// The `group`-th capture of `regex` (anchored by the caller) in `expr`; NULL when it does not
/// match or the group is empty or unused, alike on every engine. Regexes are written without
/// backslashes, so Spark's string escapes leave them alone.
pub fn capture(d: Dialect, expr: &str, re: &str, group: usize) -> String {
    let re = regex(d, re);
    match d {
        Dialect::Spark | Dialect::Duckdb => {
            format!("NULLIF(regexp_extract({expr}, {re}, {group}), '')")
        }
        Dialect::Postgres => format!("NULLIF((regexp_match({expr}, {re}))[{group}], '')"),
    }
}

/// Whether `expr` matches `regex` (NULL for NULL).
pub fn matches(d: Dialect, expr: &str, re: &str) -> String {
    let re = regex(d, re);
    match d {
        Dialect::Spark => format!("({expr} RLIKE {re})"),
        Dialect::Duckdb => format!("regexp_matches({expr}, {re})"),
        Dialect::Postgres => format!("({expr} ~ {re})"),
    }
}

/// Integer division of non-negative integers.
pub fn div(d: Dialect, a: &str, b: &str) -> String {
    match d {
        Dialect::Spark => format!("({a} div {b})"),
        Dialect::Duckdb => format!("({a} // {b})"),
        Dialect::Postgres => format!("div({a}, {b})"),
    }
}

/// Text as a 64-bit integer (the caller has checked it is digits).
pub fn to_bigint(expr: &str) -> String {
    format!("CAST({expr} AS BIGINT)")
}

/// Lower-case hex SHA-256 of the UTF-8 bytes of `expr`, first `chars` characters.
pub fn sha256_hex(d: Dialect, expr: &str, chars: usize) -> String {
    let full = match d {
        Dialect::Spark => format!("sha2({expr}, 256)"),
        Dialect::Duckdb => format!("sha256({expr})"),
        Dialect::Postgres => format!("encode(sha256(convert_to({expr}, 'UTF8')), 'hex')"),
    };
    format!("substr({full}, 1, {chars})")
}

/// The linear-interpolation quantile (numpy's default) of the non-null values of `expr`.
pub fn quantile(d: Dialect, expr: &str, q: f64) -> String {
    let q = double(d, q);
    match d {
        Dialect::Spark => format!("percentile({expr}, {q})"),
        Dialect::Duckdb => format!("quantile_cont({expr}, {q})"),
        Dialect::Postgres => format!("percentile_cont({q}) WITHIN GROUP (ORDER BY {expr})"),
    }
}

/// ln(1 + x) to the last digits for small x: the engine's own `log1p` where it has one, else
/// Goldberg's correction of ln(1 + x) by the rounding of 1 + x.
pub fn log1p(d: Dialect, x: &str) -> String {
    match d {
        Dialect::Spark => format!("log1p({x})"),
        Dialect::Duckdb | Dialect::Postgres => {
            let one = double(d, 1.0);
            format!(
                "CASE WHEN {one} + {x} = {one} THEN {x} \
                 ELSE ln({one} + {x}) * {x} / (({one} + {x}) - {one}) END"
            )
        }
    }
}

/// A naive timestamp (no zone) from microseconds since 1970-01-01 00:00:00.
pub fn timestamp_from_micros(d: Dialect, micros: &str) -> String {
    match d {
        Dialect::Spark => {
            format!("timestampadd(MICROSECOND, {micros}, TIMESTAMP_NTZ '1970-01-01 00:00:00')")
        }
        Dialect::Duckdb => format!("make_timestamp({micros})"),
        Dialect::Postgres => {
            format!("(TIMESTAMP '1970-01-01 00:00:00' + {micros} * INTERVAL '1 microsecond')")
        }
    }
}

/// `expr` ordered by its bytes, whatever the database's collation.
pub fn bytewise(d: Dialect, expr: &str) -> String {
    match d {
        Dialect::Postgres => format!("{expr} COLLATE \"C\""),
        Dialect::Spark | Dialect::Duckdb => expr.to_string(),
    }
}

/// A projection of table `from` adding groups of columns, each read later by group name and
/// field (the fields a clock format's regex captures): its select items and FROM clause.
/// Spark gets the groups as structs from a one-row `LATERAL VIEW inline(...)`. Its optimizer
/// pushes the query's row filter down as far as it can and then, for every aliased column
/// whose expression the filter holds, adds a copy of every constraint it knows (constraint
/// propagation), so a timestamp read in three formats (the defaults, 21 captured fields)
/// exhausts the driver's memory before the query starts. A filter on generated columns stays
/// above the generator, and the regexes run once per row.
pub fn with_groups(
    d: Dialect,
    from: &str,
    groups: &[(String, Vec<(&str, String)>)],
) -> (Vec<String>, String) {
    let mut items = vec![format!("{from}.*")];
    match d {
        Dialect::Spark if !groups.is_empty() => {
            let structs: Vec<String> = groups
                .iter()
                .map(|(name, fields)| {
                    let fields: Vec<String> = fields
                        .iter()
                        .map(|(field, expr)| format!("{}, {expr}", text(field)))
                        .collect();
                    format!("{}, named_struct({})", text(name), fields.join(", "))
                })
                .collect();
            items.push("sf_groups.*".into());
            let generator = format!("inline(array(named_struct({})))", structs.join(", "));
            (items, format!("{from} LATERAL VIEW {generator} sf_groups"))
        }
        _ => {
            for (name, fields) in groups {
                items.extend(
                    fields
                        .iter()
                        .map(|(field, expr)| format!("{expr} AS {name}_{field}")),
                );
            }
            (items, from.to_string())
        }
    }
}

/// A field of a group of [`with_groups`].
pub fn group_field(d: Dialect, name: &str, field: &str) -> String {
    match d {
        Dialect::Spark => format!("{name}.{field}"),
        Dialect::Duckdb | Dialect::Postgres => format!("{name}_{field}"),
    }
}

/// How a CTE whose columns are read many times is introduced: computed once where the
/// dialect lets a query say so (DuckDB and PostgreSQL otherwise inline it, repeating every
/// regex per reference).
pub fn materialized(d: Dialect) -> &'static str {
    match d {
        Dialect::Spark => "AS",
        Dialect::Duckdb | Dialect::Postgres => "AS MATERIALIZED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_quantiles_per_dialect() {
        let q = |d| quantile(d, "x", 0.9);
        assert_eq!(q(Dialect::Spark), "percentile(x, CAST('0.9' AS DOUBLE))");
        assert_eq!(
            q(Dialect::Duckdb),
            "quantile_cont(x, CAST('0.9' AS DOUBLE))"
        );
        assert_eq!(
            q(Dialect::Postgres),
            "percentile_cont(CAST('0.9' AS DOUBLE PRECISION)) WITHIN GROUP (ORDER BY x)"
        );
    }

    #[test]
    fn sha256_hex_truncated_per_dialect() {
        assert_eq!(
            sha256_hex(Dialect::Spark, "c", 12),
            "substr(sha2(c, 256), 1, 12)"
        );
        assert_eq!(
            sha256_hex(Dialect::Duckdb, "c", 12),
            "substr(sha256(c), 1, 12)"
        );
        assert_eq!(
            sha256_hex(Dialect::Postgres, "c", 12),
            "substr(encode(sha256(convert_to(c, 'UTF8')), 'hex'), 1, 12)"
        );
    }

    #[test]
    fn integer_division_and_timestamps_per_dialect() {
        assert_eq!(div(Dialect::Spark, "a", "b"), "(a div b)");
        assert_eq!(div(Dialect::Duckdb, "a", "b"), "(a // b)");
        assert_eq!(div(Dialect::Postgres, "a", "b"), "div(a, b)");
        assert_eq!(
            timestamp_from_micros(Dialect::Spark, "t"),
            "timestampadd(MICROSECOND, t, TIMESTAMP_NTZ '1970-01-01 00:00:00')"
        );
        assert_eq!(
            timestamp_from_micros(Dialect::Postgres, "t"),
            "(TIMESTAMP '1970-01-01 00:00:00' + t * INTERVAL '1 microsecond')"
        );
    }

    #[test]
    fn whitespace_is_escaped_not_raw() {
        let spark = trim(Dialect::Spark, "f");
        assert!(
            spark.starts_with("trim(BOTH '\\u0009\\u000A\\u000B"),
            "{spark}"
        );
        assert!(spark.ends_with("\\u3000' FROM f)"), "{spark}");
        let pg = trim(Dialect::Postgres, "f");
        assert!(pg.starts_with("btrim(f, U&'\\0009\\000A"), "{pg}");
        for d in Dialect::ALL {
            assert!(!trim(d, "f").chars().any(|c| c.is_control()));
        }
    }

    #[test]
    fn regex_captures_per_dialect() {
        let re = format!("^[{WS}]*([0-9]{{1,2}})$");
        assert_eq!(
            capture(Dialect::Postgres, "f", &re, 1).replace(&whitespace(Dialect::Postgres), "WS"),
            "NULLIF((regexp_match(f, '^[' || WS || ']*([0-9]{1,2})$'))[1], '')"
        );
        assert_eq!(
            capture(Dialect::Spark, "f", &re, 1).replace(&whitespace(Dialect::Spark), "WS"),
            "NULLIF(regexp_extract(f, '^[' || WS || ']*([0-9]{1,2})$', 1), '')"
        );
        assert_eq!(matches(Dialect::Spark, "f", "^a$"), "(f RLIKE '^a$')");
        assert_eq!(matches(Dialect::Postgres, "f", "^a$"), "(f ~ '^a$')");
    }

    #[test]
    fn groups_are_columns_or_one_generated_struct_row() {
        let groups = vec![
            (
                "g0".to_string(),
                vec![("y", "a".to_string()), ("m", "b".to_string())],
            ),
            ("g1".to_string(), vec![("h", "c".to_string())]),
        ];
        let (items, from) = with_groups(Dialect::Duckdb, "t", &groups);
        assert_eq!(items, ["t.*", "a AS g0_y", "b AS g0_m", "c AS g1_h"]);
        assert_eq!(from, "t");
        assert_eq!(group_field(Dialect::Postgres, "g0", "m"), "g0_m");
        let (items, from) = with_groups(Dialect::Spark, "t", &groups);
        assert_eq!(items, ["t.*", "sf_groups.*"]);
        assert_eq!(
            from,
            "t LATERAL VIEW inline(array(named_struct('g0', named_struct('y', a, 'm', b), \
             'g1', named_struct('h', c)))) sf_groups"
        );
        assert_eq!(group_field(Dialect::Spark, "g0", "m"), "g0.m");
        assert_eq!(
            with_groups(Dialect::Spark, "t", &[]),
            (vec!["t.*".into()], "t".into())
        );
    }

    #[test]
    fn log1p_is_native_or_corrected() {
        assert_eq!(log1p(Dialect::Spark, "x"), "log1p(x)");
        assert!(log1p(Dialect::Postgres, "x").contains("ln("));
    }
}
