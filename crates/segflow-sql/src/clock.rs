//! Ingest's clock formats as SQL: a chrono format becomes an anchored regex whose captures are
//! the date and time fields, checked for range as chrono checks them, and turned into
//! microseconds since 1970-01-01 by integer arithmetic, the same on every engine. Only the
//! formats whose parse a regex reproduces exactly are rendered; the others are refused.

use crate::Dialect;
use crate::spelling::{self, WS};

/// A numeric field of a chrono format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Year,
    /// `%y`: a year of two digits, 0–69 read as 2000–2069 and 70–99 as 1970–1999 (as chrono
    /// reads it).
    ShortYear,
    Month,
    Day,
    Hour,
    Minute,
    Second,
    /// The digits after the dot of `%.f` (or `%.3f`, `%.6f`, `%.9f`).
    Fraction,
}

impl Field {
    /// The most digits chrono reads for the field (unsigned).
    fn width(self) -> usize {
        match self {
            Field::Year => 4,
            _ => 2,
        }
    }
}

/// A chrono format read as a regex: which capture group holds which field.
#[derive(Debug, Clone)]
pub struct Pattern {
    pub regex: String,
    pub groups: Vec<Field>,
}

/// Which fields a format must hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holds {
    /// A date (year, month, day); an hour and minute (and second) are optional together.
    DateAndMaybeTime,
    Date,
    Time,
}

/// The regex of `format`, or why it cannot be rendered exactly.
pub fn pattern(format: &str, holds: Holds) -> Result<Pattern, String> {
    let expanded = format
        .replace("%F", "%Y-%m-%d")
        .replace("%T", "%H:%M:%S")
        .replace("%R", "%H:%M");
    // Every whitespace character chrono skips before a number or for a space in the format.
    let ws = format!("[{WS}]*");
    let mut regex = String::from("^");
    let mut groups = Vec::new();
    let mut chars = expanded.chars();
    let mut after_number = false;
    while let Some(c) = chars.next() {
        if c == '%' {
            let spec = chars.next().ok_or("ends with a lone `%`")?;
            if spec == '.' {
                // chrono: an optional dot with its digits (any number of them for `%.f`,
                // exactly 3, 6 or 9 otherwise); digits past the ninth are skipped.
                let digits = match (chars.next(), chars.clone().next()) {
                    (Some('f'), _) => "+".to_string(),
                    (Some(n @ ('3' | '6' | '9')), Some('f')) => {
                        chars.next();
                        format!("{{{n}}}")
                    }
                    _ => return Err("`%.` is read only as %.f, %.3f, %.6f or %.9f".into()),
                };
                if after_number && !groups.contains(&Field::Second) {
                    return Err("a fraction must follow %S".into());
                }
                if groups.contains(&Field::Fraction) {
                    return Err("a fraction appears twice".into());
                }
                regex.push_str(&format!("(?:[.]([0-9]{digits}))?"));
                groups.push(Field::Fraction);
                after_number = true;
                continue;
            }
            let field = match spec {
                'Y' => Field::Year,
                'y' => Field::ShortYear,
                'm' => Field::Month,
                'd' => Field::Day,
                'H' => Field::Hour,
                'M' => Field::Minute,
                'S' => Field::Second,
                '%' => {
                    regex.push_str("[%]");
                    after_number = false;
                    continue;
                }
                other => {
                    return Err(format!(
                        "`%{other}` has no exact SQL rendering (the engines read %Y %y %m %d \
                         %H %M %S, %F, %T, %R and literal separators)"
                    ));
                }
            };
            if after_number {
                return Err(
                    "two numeric fields with no separator between them are read greedily by \
                     segflow, which a SQL regex does not reproduce"
                        .into(),
                );
            }
            if groups.contains(&field) {
                return Err(format!("`%{spec}` appears twice"));
            }
            regex.push_str(&format!("{ws}([0-9]{{1,{}}})", field.width()));
            groups.push(field);
            after_number = true;
        } else if c.is_whitespace() {
            regex.push_str(&ws);
            after_number = false;
        } else if matches!(c, ']' | '^' | '\\' | '[' | '\'') || c.is_control() {
            return Err(format!("the literal `{c}` has no exact SQL rendering"));
        } else {
            regex.push_str(&format!("[{c}]"));
            after_number = false;
        }
    }
    regex.push('$');
    if groups.contains(&Field::Year) && groups.contains(&Field::ShortYear) {
        return Err("a year appears twice (%Y and %y)".into());
    }
    let has =
        |f: Field| groups.contains(&f) || (f == Field::Year && groups.contains(&Field::ShortYear));
    let date = [Field::Year, Field::Month, Field::Day];
    let time = [Field::Hour, Field::Minute, Field::Second];
    match holds {
        Holds::Date | Holds::DateAndMaybeTime if !date.iter().all(|&f| has(f)) => {
            return Err("a date needs %Y, %m and %d".into());
        }
        Holds::Date if time.iter().any(|&f| has(f)) => {
            return Err("a date format holds no time of day".into());
        }
        Holds::Time if date.iter().any(|&f| has(f)) => {
            return Err("a time format holds no date".into());
        }
        Holds::Time if !(has(Field::Hour) && has(Field::Minute)) => {
            return Err("a time needs %H and %M".into());
        }
        _ => {}
    }
    if has(Field::Fraction) && !has(Field::Second) {
        return Err("a fraction of a second needs %S".into());
    }
    if has(Field::Hour) != has(Field::Minute) || (has(Field::Second) && !has(Field::Hour)) {
        return Err("a time of day needs %H and %M together (and %S only with them)".into());
    }
    Ok(Pattern { regex, groups })
}

/// The integer value of `field` read from `expr` by `pattern`, or NULL; a fraction as
/// microseconds (its first six digits, truncated as chrono's microseconds are, 0 when absent).
pub fn field_sql(d: Dialect, expr: &str, pattern: &Pattern, field: Field) -> Option<String> {
    let group = pattern.groups.iter().position(|&f| f == field)? + 1;
    let text = spelling::capture(d, expr, &pattern.regex, group);
    Some(match field {
        Field::Fraction => spelling::to_bigint(&format!(
            "COALESCE(rpad(substr({text}, 1, 6), 6, '0'), '0')"
        )),
        Field::ShortYear => {
            let y = spelling::to_bigint(&text);
            format!("(CASE WHEN {y} < 70 THEN 2000 ELSE 1900 END + {y})")
        }
        _ => spelling::to_bigint(&text),
    })
}

/// Whether a year, month and day (integer expressions) make a date of the proleptic
/// Gregorian calendar, as chrono requires.
pub fn valid_date(y: &str, m: &str, day: &str) -> String {
    let leap = format!("(({y} % 4 = 0 AND {y} % 100 <> 0) OR {y} % 400 = 0)");
    format!(
        "({m} BETWEEN 1 AND 12 AND {day} >= 1 AND {day} <= CASE \
         WHEN {m} = 2 THEN CASE WHEN {leap} THEN 29 ELSE 28 END \
         WHEN {m} IN (4, 6, 9, 11) THEN 30 ELSE 31 END)"
    )
}

/// Whether an hour, minute and second make a time chrono accepts (second 60 is a leap second,
/// which chrono counts as the next second).
pub fn valid_time(h: &str, mi: &str, s: &str) -> String {
    format!("({h} <= 23 AND {mi} <= 59 AND {s} <= 60)")
}

/// Days since 1970-01-01 of a valid date with a year from 0 to 9999 (Howard Hinnant's
/// days_from_civil, shifted by 400 years so every division is of non-negative integers).
pub fn days_from_civil(d: Dialect, y: &str, m: &str, day: &str) -> String {
    let y1 = format!("({y} + 400 - CASE WHEN {m} <= 2 THEN 1 ELSE 0 END)");
    let era = spelling::div(d, &y1, "400");
    let yoe = format!("({y1} - {era} * 400)");
    let mp = format!("(CASE WHEN {m} > 2 THEN {m} - 3 ELSE {m} + 9 END)");
    let doy = format!(
        "({} + {day} - 1)",
        spelling::div(d, &format!("(153 * {mp} + 2)"), "5")
    );
    let doe = format!(
        "({yoe} * 365 + {} - {} + {doy})",
        spelling::div(d, &yoe, "4"),
        spelling::div(d, &yoe, "100")
    );
    // 146097 days per 400 years: the shift taken back.
    format!("({era} * 146097 + {doe} - 719468 - 146097)")
}

/// Microseconds since 1970-01-01 00:00:00 of days, an hour, minute and second, and the
/// microseconds of the fraction.
pub fn micros(days: &str, h: &str, mi: &str, s: &str, us: &str) -> String {
    format!("({days} * 86400000000 + ({h} * 3600 + {mi} * 60 + {s}) * 1000000 + {us})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walsoft_formats() {
        let p = pattern("%m/%d/%Y", Holds::Date).unwrap();
        assert_eq!(p.groups, [Field::Month, Field::Day, Field::Year]);
        assert!(p.regex.starts_with('^') && p.regex.ends_with("([0-9]{1,4})$"));
        assert!(p.regex.contains("[/]"));
        pattern("%H:%M:%S", Holds::Time).unwrap();
        pattern("%Y-%m-%dT%H:%M:%S", Holds::DateAndMaybeTime).unwrap();
        let p = pattern("%Y-%m-%d %H:%M:%S%.f", Holds::DateAndMaybeTime).unwrap();
        assert!(
            p.regex.ends_with("([0-9]{1,2})(?:[.]([0-9]+))?$"),
            "{}",
            p.regex
        );
        let p = pattern("%H:%M:%S%.3f", Holds::Time).unwrap();
        assert!(p.regex.ends_with("(?:[.]([0-9]{3}))?$"), "{}", p.regex);
    }

    #[test]
    fn refusals() {
        let refused = |f: &str, h: Holds| pattern(f, h).unwrap_err();
        assert!(refused("%Y-%m-%d %H:%M:%S%.2f", Holds::DateAndMaybeTime).contains("`%.`"));
        assert!(refused("%Y-%m-%d %H:%M%.f", Holds::DateAndMaybeTime).contains("%S"));
        assert!(refused("%Y%m%d", Holds::Date).contains("no separator"));
        assert!(refused("%d %b %Y", Holds::Date).contains("`%b`"));
        assert!(refused("%H", Holds::Time).contains("%H and %M"));
    }
}
