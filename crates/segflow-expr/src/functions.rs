//! The function library: names, signatures, and each function over whole arrays.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Float64Array, StringBuilder};
use arrow::compute::kernels::comparison;
use arrow::datatypes::{Float64Type, TimestampMicrosecondType};
use arrow::error::ArrowError;

use crate::Type;
use crate::eval::{Val, finite};
use crate::timestamp;
use crate::tree::Function;

/// Every function name, for messages (`coalesce` and `round` are resolved apart).
pub(crate) const NAMES: &[&str] = &[
    "abs",
    "ceil",
    "coalesce",
    "date",
    "floor",
    "hour",
    "length",
    "ln",
    "log1p",
    "lower",
    "round",
    "sqrt",
    "starts_with",
    "upper",
    "weekday",
];

/// round(x, digits) accepts digits in −15..=15: a double holds 15 to 17 significant
/// digits, and 10^15 is exact.
pub(crate) const MAX_ROUND_DIGITS: i32 = 15;

pub(crate) fn by_name(name: &str) -> Option<Function> {
    Some(match name {
        "abs" => Function::Abs,
        "ln" => Function::Ln,
        "log1p" => Function::Log1p,
        "floor" => Function::Floor,
        "ceil" => Function::Ceil,
        "sqrt" => Function::Sqrt,
        "lower" => Function::Lower,
        "upper" => Function::Upper,
        "length" => Function::Length,
        "starts_with" => Function::StartsWith,
        "hour" => Function::Hour,
        "weekday" => Function::Weekday,
        "date" => Function::Date,
        _ => return None,
    })
}

/// SQL's aggregate functions, refused with their own message.
pub(crate) fn is_aggregate(name: &str) -> bool {
    matches!(
        name,
        "count"
            | "sum"
            | "avg"
            | "mean"
            | "min"
            | "max"
            | "median"
            | "mode"
            | "stddev"
            | "stddev_pop"
            | "stddev_samp"
            | "variance"
            | "var_pop"
            | "var_samp"
            | "quantile"
            | "percentile_cont"
            | "percentile_disc"
            | "array_agg"
            | "string_agg"
            | "listagg"
            | "any_value"
            | "first"
            | "last"
            | "first_value"
            | "last_value"
            | "bool_and"
            | "bool_or"
            | "every"
    )
}

/// Argument types and result type.
pub(crate) fn signature(function: Function) -> (&'static [Type], Type) {
    match function {
        Function::Abs
        | Function::Ln
        | Function::Log1p
        | Function::Round(_)
        | Function::Floor
        | Function::Ceil
        | Function::Sqrt => (&[Type::Number], Type::Number),
        Function::Lower | Function::Upper => (&[Type::Text], Type::Text),
        Function::Length => (&[Type::Text], Type::Number),
        Function::StartsWith => (&[Type::Text, Type::Text], Type::Bool),
        Function::Hour | Function::Weekday => (&[Type::Timestamp], Type::Number),
        Function::Date => (&[Type::Timestamp], Type::Timestamp),
    }
}

/// `function` over its evaluated arguments (already of the signature's types).
pub(crate) fn eval(function: Function, args: &[Val]) -> Result<ArrayRef, ArrowError> {
    let x = &args[0].array;
    let numbers = |f: fn(f64) -> f64| -> ArrayRef {
        finite(Arc::new(
            x.as_primitive::<Float64Type>().unary::<_, Float64Type>(f),
        ))
    };
    Ok(match function {
        Function::Abs => numbers(f64::abs),
        // NULL for x ≤ 0 and for x ≤ −1: the logarithms are then −∞ or NaN, which `finite`
        // turns into NULL; likewise sqrt of a negative number.
        Function::Ln => numbers(f64::ln),
        Function::Log1p => numbers(f64::ln_1p),
        Function::Sqrt => numbers(f64::sqrt),
        Function::Floor => numbers(f64::floor),
        Function::Ceil => numbers(f64::ceil),
        Function::Round(digits) => finite(Arc::new(
            x.as_primitive::<Float64Type>()
                .unary::<_, Float64Type>(|v| round(v, digits)),
        )),
        Function::Lower => {
            let texts = x.as_string::<i32>();
            map_text(x, |i, out| {
                out.push_str(&texts.value(i).to_lowercase());
                true
            })
        }
        Function::Upper => {
            let texts = x.as_string::<i32>();
            map_text(x, |i, out| {
                out.push_str(&texts.value(i).to_uppercase());
                true
            })
        }
        Function::Length => Arc::new(
            x.as_string::<i32>()
                .iter()
                .map(|s| s.map(|s| s.chars().count() as f64))
                .collect::<Float64Array>(),
        ),
        Function::StartsWith => Arc::new(comparison::starts_with(&args[0], &args[1])?),
        Function::Hour => Arc::new(
            x.as_primitive::<TimestampMicrosecondType>()
                .unary::<_, Float64Type>(timestamp::hour),
        ),
        Function::Weekday => Arc::new(
            x.as_primitive::<TimestampMicrosecondType>()
                .unary::<_, Float64Type>(timestamp::weekday),
        ),
        Function::Date => Arc::new(
            x.as_primitive::<TimestampMicrosecondType>()
                .unary::<_, TimestampMicrosecondType>(timestamp::date),
        ),
    })
}

/// `x` rounded to `digits` decimals, ties away from zero: x·10^d rounded to a whole number,
/// then divided by 10^d (for negative d: x/10^−d rounded, times 10^−d). The scaling is
/// floating-point, so round(1.005, 2) is 1 (1.005 × 100 is 100.49999999999999). When the
/// scaling overflows, x is returned: it has no digits at that position.
fn round(x: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits.abs());
    let rounded = if digits >= 0 {
        (x * scale).round() / scale
    } else {
        (x / scale).round() * scale
    };
    if rounded.is_finite() { rounded } else { x }
}

/// Text for each row of `array` written by `write(row, out)` (returning false: NULL); NULL
/// rows stay NULL.
pub(crate) fn map_text(
    array: &ArrayRef,
    mut write: impl FnMut(usize, &mut String) -> bool,
) -> ArrayRef {
    let mut builder = StringBuilder::with_capacity(array.len(), array.len() * 8);
    let mut text = String::new();
    for i in 0..array.len() {
        text.clear();
        if array.is_valid(i) && write(i, &mut text) {
            builder.append_value(&text);
        } else {
            builder.append_null();
        }
    }
    Arc::new(builder.finish())
}

#[cfg(test)]
mod tests {
    use super::round;

    #[test]
    fn round_breaks_ties_away_from_zero() {
        assert_eq!(round(2.5, 0), 3.0);
        assert_eq!(round(-2.5, 0), -3.0);
        assert_eq!(round(0.49999999999999994, 0), 0.0);
        assert_eq!(round(1.25, 1), 1.3);
        assert_eq!(round(1.005, 2), 1.0);
        assert_eq!(round(2.675, 2), 2.68);
        assert_eq!(round(1250.0, -2), 1300.0);
        assert_eq!(round(-1249.0, -2), -1200.0);
        assert_eq!(round(1e300, 15), 1e300);
    }
}
