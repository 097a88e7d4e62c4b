//! segflow's row expressions (`derive`, `where`, the features' conditions) as SQL per dialect,
//! with the language's semantics (docs/expressions.md): numbers are doubles, finite or NULL;
//! division by zero is NULL; text compares by bytes; casts from text are try-casts. A
//! construct a dialect cannot compute the same way is refused, naming the YAML key.
//!
//! In SQL a number is a double, text is text, a boolean a boolean, and a timestamp the
//! microseconds since 1970-01-01 00:00:00 as a 64-bit integer (as `sf_ts` of the features
//! query), so that its calendar parts are the integer arithmetic the features query uses.

use segflow_core::{Error, Result};
use segflow_expr::Type;
use segflow_expr::tree::{ArithOp, CmpOp, Function, Kind, Literal, Node, Target};

use crate::Dialect;
use crate::spelling as sp;

/// A decimal number as Rust's `f64::from_str` reads it (sign, digits with an optional
/// fraction, optional exponent); captures: sign, integer digits, fraction digits, exponent.
const NUMBER: &str = "^([+-]?)([0-9]*)(?:[.]([0-9]*))?([eE][+-]?[0-9]+)?$";

/// The blanks a cast from text ignores around the value: space, tab, LF, CR.
const BLANKS: [u32; 4] = [0x20, 0x9, 0xa, 0xd];

/// Below 2^52 in magnitude a double may have a fraction; from there on it is a whole number.
const WHOLE_FROM: f64 = 4_503_599_627_370_496.0;

const MICROS_PER_DAY: &str = "86400000000";
const MICROS_PER_HOUR: &str = "3600000000";

/// `node` as SQL; `column` spells a column's value in the SQL representation of its type.
pub fn render(
    d: Dialect,
    key: &str,
    node: &Node,
    column: &dyn Fn(&str) -> String,
) -> Result<String> {
    Renderer { d, key, column }.sql(node)
}

/// The SQL type a value of `ty` is held as.
pub fn sql_type(d: Dialect, ty: Type) -> &'static str {
    match ty {
        Type::Number => sp::double_type(d),
        Type::Text => sp::text_type(d),
        Type::Bool => "BOOLEAN",
        Type::Timestamp => "BIGINT",
    }
}

/// The number that trimmed text `f` holds in decimal notation (NULL when it holds none),
/// rebuilt in a form every engine parses (`1.` and `.5` are numbers to Rust, not to every
/// engine).
pub fn text_to_number(d: Dialect, f: &str) -> String {
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

struct Renderer<'a> {
    d: Dialect,
    key: &'a str,
    column: &'a dyn Fn(&str) -> String,
}

impl Renderer<'_> {
    fn refuse(&self, what: &str, why: &str) -> Error {
        Error::config(
            "",
            self.key,
            format!("{what} is not rendered in {} SQL: {why}", self.d),
        )
    }

    fn double(&self, x: f64) -> String {
        sp::double(self.d, x)
    }

    /// A double result as the language has it: NULL when not finite, and −0 as 0. DuckDB and
    /// Spark give ±∞ and NaN for overflow and invalid operations; PostgreSQL stops the query
    /// with an error instead, so there the value is finite whenever the query completes.
    fn finite(&self, e: String) -> String {
        let zero = self.double(0.0);
        match self.d {
            Dialect::Postgres => format!("({e} + {zero})"),
            Dialect::Duckdb | Dialect::Spark => {
                let t = sp::double_type(self.d);
                format!(
                    "NULLIF(NULLIF(NULLIF({e} + {zero}, CAST('Infinity' AS {t})), \
                     CAST('-Infinity' AS {t})), CAST('NaN' AS {t}))"
                )
            }
        }
    }

    /// A whole number toward zero, as a double.
    fn trunc(&self, x: &str) -> String {
        match self.d {
            Dialect::Duckdb | Dialect::Postgres => format!("trunc({x})"),
            // Spark truncates numbers only by a cast to an integer type, exact below 2^52
            // (from there on the double is whole already).
            Dialect::Spark => format!(
                "CASE WHEN abs({x}) < {w} THEN CAST(CAST({x} AS BIGINT) AS DOUBLE) ELSE {x} END",
                w = self.double(WHOLE_FROM)
            ),
        }
    }

    fn sql(&self, node: &Node) -> Result<String> {
        let d = self.d;
        Ok(match &node.kind {
            Kind::Literal(literal) => self.literal(literal, node.ty),
            Kind::Column(name) => (self.column)(name),
            Kind::Arith(op, l, r) => {
                let (l, r) = (self.sql(l)?, self.sql(r)?);
                let zero = self.double(0.0);
                match op {
                    ArithOp::Add => self.finite(format!("({l} + {r})")),
                    ArithOp::Sub => self.finite(format!("({l} - {r})")),
                    ArithOp::Mul => self.finite(format!("({l} * {r})")),
                    ArithOp::Div => self.finite(format!("({l} / NULLIF({r}, {zero}))")),
                    ArithOp::Rem => match d {
                        Dialect::Postgres => {
                            return Err(self.refuse(
                                "`%` of numbers",
                                "PostgreSQL has no remainder of doubles (its numeric `%` works \
                                 on the decimal digits, not the binary value)",
                            ));
                        }
                        Dialect::Duckdb | Dialect::Spark => {
                            self.finite(format!("({l} % NULLIF({r}, {zero}))"))
                        }
                    },
                }
            }
            // 0 − x rather than −x: the negation of 0 is 0, not −0.
            Kind::Negate(x) => format!("({} - {})", self.double(0.0), self.sql(x)?),
            Kind::Compare(op, l, r) => {
                let op = match op {
                    CmpOp::Eq => "=",
                    CmpOp::NotEq => "<>",
                    CmpOp::Lt => "<",
                    CmpOp::LtEq => "<=",
                    CmpOp::Gt => ">",
                    CmpOp::GtEq => ">=",
                };
                format!("({} {op} {})", self.ordered(l)?, self.sql(r)?)
            }
            Kind::And(l, r) => format!("({} AND {})", self.sql(l)?, self.sql(r)?),
            Kind::Or(l, r) => format!("({} OR {})", self.sql(l)?, self.sql(r)?),
            Kind::Not(x) => format!("(NOT {})", self.sql(x)?),
            Kind::IsNull { operand, negated } => {
                let not = if *negated { " NOT" } else { "" };
                format!("({} IS{not} NULL)", self.sql(operand)?)
            }
            Kind::InList {
                operand,
                items,
                negated,
            } => {
                let items: Vec<String> =
                    items.iter().map(|i| self.sql(i)).collect::<Result<_>>()?;
                negate(
                    *negated,
                    format!("({} IN ({}))", self.sql(operand)?, items.join(", ")),
                )
            }
            Kind::Between {
                operand,
                low,
                high,
                negated,
            } => negate(
                *negated,
                format!(
                    "({} BETWEEN {} AND {})",
                    self.ordered(operand)?,
                    self.sql(low)?,
                    self.sql(high)?
                ),
            ),
            Kind::Like {
                operand,
                pattern,
                negated,
            } => {
                let pattern = self.like_pattern(pattern)?;
                let not = if *negated { " NOT" } else { "" };
                format!(
                    "({}{not} LIKE {} ESCAPE {})",
                    self.sql(operand)?,
                    sp::string(d, &pattern),
                    sp::string(d, "\\")
                )
            }
            Kind::Case {
                operand,
                branches,
                otherwise,
            } => {
                let mut s = String::from("CASE");
                if let Some(operand) = operand {
                    s.push_str(&format!(" {}", self.sql(operand)?));
                }
                for (when, then) in branches {
                    s.push_str(&format!(
                        " WHEN {} THEN {}",
                        self.sql(when)?,
                        self.sql(then)?
                    ));
                }
                s.push_str(&format!(" ELSE {} END", self.sql(otherwise)?));
                s
            }
            Kind::Cast(x, target) => self.cast(x, *target)?,
            Kind::Coalesce(args) => {
                let args: Vec<String> = args.iter().map(|a| self.sql(a)).collect::<Result<_>>()?;
                format!("COALESCE({})", args.join(", "))
            }
            Kind::Call(function, args) => self.call(*function, args)?,
        })
    }

    /// The left side of an order comparison: text compares by its bytes.
    fn ordered(&self, node: &Node) -> Result<String> {
        let sql = self.sql(node)?;
        Ok(if node.ty == Type::Text {
            sp::bytewise(self.d, &sql)
        } else {
            sql
        })
    }

    fn literal(&self, literal: &Literal, ty: Type) -> String {
        match literal {
            Literal::Null => format!("CAST(NULL AS {})", sql_type(self.d, ty)),
            Literal::Number(x) => self.double(*x),
            Literal::Text(s) => sp::string(self.d, s),
            Literal::Bool(b) => if *b { "TRUE" } else { "FALSE" }.to_string(),
            Literal::Timestamp(micros) => format!("CAST({micros} AS BIGINT)"),
        }
    }

    /// The pattern with `\` escaping exactly `%`, `_` and `\` (every engine reads those the
    /// same; an escaped ordinary character is refused by some).
    fn like_pattern(&self, pattern: &str) -> Result<String> {
        let mut out = String::new();
        let mut chars = pattern.chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                let Some(next) = chars.next() else {
                    return Err(self.refuse(
                        "a LIKE pattern ending in a lone `\\`",
                        "the engines refuse it",
                    ));
                };
                if matches!(next, '%' | '_' | '\\') {
                    out.push('\\');
                }
                out.push(next);
            } else {
                out.push(c);
            }
        }
        Ok(out)
    }

    fn cast(&self, x: &Node, target: Target) -> Result<String> {
        let d = self.d;
        let v = self.sql(x)?;
        Ok(match (x.ty, target) {
            (Type::Number, Target::Double)
            | (Type::Text, Target::Text)
            | (Type::Bool, Target::Bool) => v,
            (Type::Number, Target::Integer) => self.integer(&v, 32),
            (Type::Number, Target::BigInt) => self.integer(&v, 64),
            (Type::Text, Target::Double | Target::Integer | Target::BigInt) => {
                let trimmed = sp::trim_set(d, &v, &BLANKS);
                let number = self.finite(text_to_number(d, &trimmed));
                match target {
                    Target::Integer => self.integer(&number, 32),
                    Target::BigInt => self.integer(&number, 64),
                    _ => number,
                }
            }
            (Type::Bool, Target::Double | Target::Integer | Target::BigInt) => {
                sp::to_double(d, &format!("CAST({v} AS INTEGER)"))
            }
            (Type::Bool, Target::Text) => sp::to_text(d, &v),
            (Type::Text, Target::Bool) => format!(
                "CASE lower({}) WHEN 'true' THEN TRUE WHEN 't' THEN TRUE WHEN '1' THEN TRUE \
                 WHEN 'false' THEN FALSE WHEN 'f' THEN FALSE WHEN '0' THEN FALSE END",
                sp::trim_set(d, &v, &BLANKS)
            ),
            (Type::Number, Target::Bool) => format!("({v} <> {})", self.double(0.0)),
            (Type::Number, Target::Text) => {
                return Err(self.refuse(
                    "CAST of a number to text",
                    "each engine writes doubles in its own layout, none as segflow does \
                     (shortest digits, JavaScript's layout)",
                ));
            }
            (Type::Timestamp, _) => {
                return Err(self.refuse(
                    "CAST of a timestamp to text",
                    "compare timestamps, or take hour(), weekday() or date() of them",
                ));
            }
        })
    }

    /// Truncated toward zero, NULL outside a signed integer of `bits` bits, as a double.
    fn integer(&self, x: &str, bits: i32) -> String {
        let bound = 2f64.powi(bits - 1);
        // trunc(x) ≥ −bound exactly when x > −bound − 1; for 64 bits that bound is no
        // double, and x ≥ −bound says the same.
        let low = if bits < 53 {
            format!("{x} > {}", self.double(-bound - 1.0))
        } else {
            format!("{x} >= {}", self.double(-bound))
        };
        format!(
            "CASE WHEN {low} AND {x} < {} THEN {} + {} END",
            self.double(bound),
            self.trunc(x),
            self.double(0.0)
        )
    }

    fn call(&self, function: Function, args: &[Node]) -> Result<String> {
        let d = self.d;
        let x = self.sql(&args[0])?;
        let zero = self.double(0.0);
        Ok(match function {
            Function::Abs => format!("abs({x})"),
            Function::Ln => match d {
                // PostgreSQL stops at the logarithm of zero or less: those are NULL first.
                Dialect::Postgres => format!("ln(CASE WHEN {x} > {zero} THEN {x} END)"),
                Dialect::Duckdb | Dialect::Spark => self.finite(format!("ln({x})")),
            },
            Function::Log1p => match d {
                Dialect::Postgres => {
                    let minus_one = self.double(-1.0);
                    let guarded = format!("CASE WHEN {x} > {minus_one} THEN {x} END");
                    sp::log1p(d, &format!("({guarded})"))
                }
                Dialect::Duckdb | Dialect::Spark => self.finite(sp::log1p(d, &x)),
            },
            Function::Sqrt => match d {
                Dialect::Postgres => format!("sqrt(CASE WHEN {x} >= {zero} THEN {x} END)"),
                Dialect::Duckdb | Dialect::Spark => self.finite(format!("sqrt({x})")),
            },
            Function::Floor | Function::Ceil => {
                let f = if function == Function::Floor {
                    "floor"
                } else {
                    "ceil"
                };
                match d {
                    Dialect::Duckdb | Dialect::Postgres => format!("({f}({x}) + {zero})"),
                    // Spark's floor and ceil of a double are 64-bit integers: taken only
                    // where the double may have a fraction.
                    Dialect::Spark => format!(
                        "CASE WHEN abs({x}) < {w} THEN CAST({f}({x}) AS DOUBLE) + {zero} \
                         ELSE {x} END",
                        w = self.double(WHOLE_FROM)
                    ),
                }
            }
            Function::Round(digits) => self.round(&x, digits),
            Function::Lower | Function::Upper => {
                return Err(self.refuse(
                    "lower() and upper()",
                    "the engines map non-ASCII letters by other rules than segflow's Unicode \
                     mappings (DuckDB's upper('ß') is 'ẞ', segflow's 'SS')",
                ));
            }
            Function::Length => sp::to_double(d, &format!("length({x})")),
            Function::StartsWith => {
                let prefix = self.sql(&args[1])?;
                match d {
                    Dialect::Spark => format!("startswith({x}, {prefix})"),
                    Dialect::Duckdb | Dialect::Postgres => format!("starts_with({x}, {prefix})"),
                }
            }
            Function::Hour => sp::to_double(
                d,
                &sp::div(
                    d,
                    &format!("({x} - {} * {MICROS_PER_DAY})", self.day(&x)),
                    MICROS_PER_HOUR,
                ),
            ),
            // ISO weekday: 1970-01-01, day 0, was a Thursday (4).
            Function::Weekday => {
                sp::to_double(d, &format!("((({}) % 7 + 7 + 3) % 7 + 1)", self.day(&x)))
            }
            Function::Date => format!("({} * {MICROS_PER_DAY})", self.day(&x)),
        })
    }

    /// The day of a timestamp (microseconds) since 1970-01-01, rounded down.
    fn day(&self, micros: &str) -> String {
        format!(
            "({} - CASE WHEN {micros} % {MICROS_PER_DAY} < 0 THEN 1 ELSE 0 END)",
            sp::div(self.d, micros, MICROS_PER_DAY)
        )
    }

    /// round(x, digits) as segflow computes it: x scaled by 10^|digits|, rounded half away
    /// from zero (the whole part plus the truncation of twice the exact remainder), scaled
    /// back; x itself where the scaling leaves the doubles.
    fn round(&self, x: &str, digits: i32) -> String {
        let scale = self.double(10f64.powi(digits.abs()));
        let (scaled, back) = if digits >= 0 {
            (format!("({x} * {scale})"), "/")
        } else {
            (format!("({x} / {scale})"), "*")
        };
        let whole = self.trunc(&scaled);
        let rounded = format!(
            "(({whole}) + {})",
            self.trunc(&format!("({} * ({scaled} - ({whole})))", self.double(2.0)))
        );
        let result = format!("({rounded} {back} {scale})");
        let finite = self.finite(result);
        let scaled_finite = self.finite(scaled);
        format!("CASE WHEN {scaled_finite} IS NULL THEN {x} ELSE COALESCE({finite}, {x}) END")
    }
}

fn negate(negated: bool, sql: String) -> String {
    if negated { format!("(NOT {sql})") } else { sql }
}
