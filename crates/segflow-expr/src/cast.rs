//! CAST between the language's types. Text that does not read as the target gives NULL
//! (try-cast), so one malformed row never fails a stage; numbers are written as text in
//! their shortest round-trip form.

use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, BooleanArray, Float64Array, Scalar};
use arrow::compute::kernels::cmp;
use arrow::compute::{CastOptions, cast_with_options};
use arrow::datatypes::{DataType, Float64Type, TimestampMicrosecondType};
use arrow::error::ArrowError;

use crate::Type;
use crate::eval::finite;
use crate::functions::map_text;
use crate::timestamp;
use crate::tree::Target;

pub(crate) fn eval(array: &ArrayRef, from: Type, to: Target) -> Result<ArrayRef, ArrowError> {
    match (from, to) {
        (Type::Number, Target::Double)
        | (Type::Text, Target::Text)
        | (Type::Bool, Target::Bool) => Ok(array.clone()),
        (Type::Number, Target::Integer) => Ok(integer(array.as_primitive(), 32)),
        (Type::Number, Target::BigInt) => Ok(integer(array.as_primitive(), 64)),
        (Type::Text, Target::Double | Target::Integer | Target::BigInt) => {
            let numbers: Float64Array = array
                .as_string::<i32>()
                .iter()
                .map(|s| s.and_then(parse_number))
                .collect();
            eval(&finite(Arc::new(numbers)), Type::Number, to)
        }
        (Type::Bool, Target::Double | Target::Integer | Target::BigInt) => {
            cast_with_options(array, &DataType::Float64, &CastOptions::default())
        }
        (Type::Bool, Target::Text) => {
            cast_with_options(array, &DataType::Utf8, &CastOptions::default())
        }
        (Type::Number, Target::Text) => {
            let numbers = array.as_primitive::<Float64Type>();
            Ok(map_text(array, |i, out| {
                write_number(numbers.value(i), out);
                true
            }))
        }
        (Type::Timestamp, Target::Text) => {
            let micros = array.as_primitive::<TimestampMicrosecondType>();
            Ok(map_text(array, |i, out| {
                timestamp::write_text(micros.value(i), out).is_some()
            }))
        }
        (Type::Text, Target::Bool) => {
            let bools: BooleanArray = array
                .as_string::<i32>()
                .iter()
                .map(|s| s.and_then(parse_bool))
                .collect();
            Ok(Arc::new(bools))
        }
        (Type::Number, Target::Bool) => {
            let zero = Scalar::new(Float64Array::from(vec![0.0]));
            Ok(Arc::new(cmp::neq(array, &zero)?))
        }
        (Type::Timestamp, _) => Err(ArrowError::InvalidArgumentError(
            "a timestamp is cast only to text (checked when parsing)".to_string(),
        )),
    }
}

/// Truncated toward zero; NULL outside the range of a signed integer of `bits` bits
/// (what INTEGER and BIGINT hold).
fn integer(numbers: &Float64Array, bits: i32) -> ArrayRef {
    let bound = 2f64.powi(bits - 1);
    Arc::new(numbers.unary_opt::<_, Float64Type>(|x| {
        let t = x.trunc() + 0.0;
        (-bound..bound).contains(&t).then_some(t)
    }))
}

/// The characters trimmed around text read as a number or a boolean: what every SQL engine
/// treats as blank, and no more (Unicode spaces differ between engines).
fn trim(text: &str) -> &str {
    text.trim_matches(|c| matches!(c, ' ' | '\t' | '\n' | '\r'))
}

/// `[+-]digits[.digits][e[+-]digits]` (digits on at least one side of the point); no
/// `inf`, `nan`, hexadecimal or digit separators, which engines read differently.
pub(crate) fn parse_number(text: &str) -> Option<f64> {
    let text = trim(text);
    let bytes = text.as_bytes();
    let mut i = usize::from(matches!(bytes.first(), Some(b'+' | b'-')));
    let digits = |i: &mut usize| {
        let start = *i;
        while bytes.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - start
    };
    let mut mantissa = digits(&mut i);
    if bytes.get(i) == Some(&b'.') {
        i += 1;
        mantissa += digits(&mut i);
    }
    if mantissa == 0 {
        return None;
    }
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(bytes.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return None;
        }
    }
    if i != bytes.len() {
        return None;
    }
    text.parse().ok()
}

/// `true`, `t`, `1` and `false`, `f`, `0`, in any case: the spellings PostgreSQL, DuckDB and
/// Spark all read.
fn parse_bool(text: &str) -> Option<bool> {
    match trim(text).to_ascii_lowercase().as_str() {
        "true" | "t" | "1" => Some(true),
        "false" | "f" | "0" => Some(false),
        _ => None,
    }
}

/// The shortest digits that read back as `x`, laid out as JavaScript's `Number.toString`
/// does: plain notation for 1e-7 ≤ |x| < 1e21 (`42`, `0.1`, `1234.5`), otherwise
/// `d.ddde±n` (`1e+21`, `1.5e-7`). `x` is finite and not −0.
pub(crate) fn write_number(x: f64, out: &mut String) {
    if x == 0.0 {
        out.push('0');
        return;
    }
    // Rust's `{:e}` gives the shortest round-trip digits: `-1.2345e3`.
    let scientific = format!("{x:e}");
    let (mantissa, exponent) = scientific
        .split_once('e')
        .expect("{:e} always writes an exponent");
    let exponent: i32 = exponent.parse().expect("{:e} writes a decimal exponent");
    let (negative, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let k = digits.len() as i32;
    // The decimal point sits after the first `n` digits.
    let n = exponent + 1;
    if negative {
        out.push('-');
    }
    if k <= n && n <= 21 {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n('0', (n - k) as usize));
    } else if 0 < n && n <= 21 {
        out.push_str(&digits[..n as usize]);
        out.push('.');
        out.push_str(&digits[n as usize..]);
    } else if -6 < n && n <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-n) as usize));
        out.push_str(&digits);
    } else {
        out.push_str(&digits[..1]);
        if k > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if n - 1 < 0 { '-' } else { '+' });
        out.push_str(&(n - 1).abs().to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(x: f64) -> String {
        let mut s = String::new();
        write_number(x, &mut s);
        s
    }

    #[test]
    fn numbers_as_text_follow_javascript_layout() {
        let cases = [
            (42.0, "42"),
            (-3.0, "-3"),
            (0.1, "0.1"),
            (1234.5, "1234.5"),
            (1e20, "100000000000000000000"),
            (1e21, "1e+21"),
            (1.5e21, "1.5e+21"),
            (1e-6, "0.000001"),
            (1.5e-7, "1.5e-7"),
            (-2.5e-7, "-2.5e-7"),
            (0.1 + 0.2, "0.30000000000000004"),
            (f64::MAX, "1.7976931348623157e+308"),
            (5e-324, "5e-324"),
            (123456789012345680.0, "123456789012345680"),
        ];
        for (x, expected) in cases {
            assert_eq!(text(x), expected, "{x:e}");
        }
    }

    #[test]
    fn text_reads_as_a_number_only_in_decimal_notation() {
        assert_eq!(parse_number(" 12.5 "), Some(12.5));
        assert_eq!(parse_number("-.5e1"), Some(-5.0));
        assert_eq!(parse_number("+3."), Some(3.0));
        assert_eq!(parse_number("1E-2"), Some(0.01));
        for bad in [
            "", ".", "e5", "1e", "1e+", "inf", "NaN", "0x10", "1_000", "1,5", "- 1", "\u{a0}1",
        ] {
            assert_eq!(parse_number(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn text_reads_as_a_boolean_in_the_common_spellings() {
        assert_eq!(parse_bool(" TRUE"), Some(true));
        assert_eq!(parse_bool("t"), Some(true));
        assert_eq!(parse_bool("0"), Some(false));
        assert_eq!(parse_bool("yes"), None);
        assert_eq!(parse_bool("on"), None);
    }
}
