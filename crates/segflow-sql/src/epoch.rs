//! Ingest's epoch-count timestamp formats (`unix_seconds`, `unix_millis`, `seconds_since`) as
//! SQL: `[+-]digits[.digits]` read with integer arithmetic as ingest reads it (the first digit
//! below a microsecond rounds half up on the magnitude), the origin added, and the result kept
//! only within chrono's calendar, as ingest keeps it.

use crate::Dialect;
use crate::spelling as sp;

/// The count's text, with at least one digit; a count without a sign or exponent.
const SHAPE: &str = "^[+-]?([0-9]+([.][0-9]*)?|[.][0-9]+)$";
/// Captures: sign, whole digits without leading zeros, fraction digits.
const PARTS: &str = "^([+-]?)0*([0-9]*)(?:[.]([0-9]*))?$";

/// chrono's first and last microsecond (-262143-01-01 00:00:00 and +262142-12-31
/// 23:59:59.999999), outside which ingest cannot place an event.
const FIRST_MICROS: i64 = -8_334_601_228_800_000_000;
const LAST_MICROS: i64 = 8_210_266_876_799_999_999;

/// A count of `10^digits` microseconds after `origin` (microseconds since the epoch).
#[derive(Debug, Clone, Copy)]
pub struct Count {
    pub digits: u32,
    pub origin: i64,
}

impl Count {
    fn unit(self) -> i64 {
        10i64.pow(self.digits)
    }

    /// The parts of the count read from trimmed text `f`, as (expression, column name)
    /// with names starting `prefix`.
    pub fn parts(self, d: Dialect, f: &str, prefix: &str) -> Vec<(String, String)> {
        let unit_digits = self.digits as usize;
        let fraction = sp::capture(d, f, PARTS, 3);
        let whole = format!("COALESCE({}, '')", sp::capture(d, f, PARTS, 2));
        vec![
            (sp::matches(d, f, SHAPE), format!("{prefix}_ok")),
            (
                format!("COALESCE({}, '') = '-'", sp::capture(d, f, PARTS, 1)),
                format!("{prefix}_negative"),
            ),
            // At most 18 digits fit a 64-bit integer whatever they are; longer counts are
            // beyond chrono's calendar in any unit.
            (
                format!(
                    "CASE WHEN length({whole}) = 0 THEN 0 WHEN length({whole}) <= 18 THEN {} END",
                    sp::to_bigint(&whole)
                ),
                format!("{prefix}_whole"),
            ),
            (
                sp::to_bigint(&format!(
                    "rpad(substr(COALESCE({fraction}, ''), 1, {unit_digits}), {unit_digits}, '0')"
                )),
                format!("{prefix}_fraction"),
            ),
            (
                format!(
                    "CASE WHEN substr(COALESCE({fraction}, ''), {}, 1) >= '5' THEN 1 ELSE 0 END",
                    unit_digits + 1
                ),
                format!("{prefix}_round"),
            ),
        ]
    }

    /// Whether the parts named `prefix` read as a time, and its microseconds (to be taken only
    /// where it reads).
    pub fn read(self, prefix: &str) -> (String, String) {
        let unit = self.unit();
        // The magnitude in microseconds, and the bounds it must keep for the signed count
        // plus the origin to stay within chrono's calendar (i128: the bounds are computed
        // here, never in the engine).
        let magnitude = format!("({prefix}_whole * {unit} + {prefix}_fraction + {prefix}_round)");
        let clamp = |x: i128| x.clamp(0, i128::from(i64::MAX)) as i64;
        let origin = i128::from(self.origin);
        let positive_max = clamp(i128::from(LAST_MICROS) - origin);
        let negative_max = clamp(origin - i128::from(FIRST_MICROS));
        // Whole counts past these overflow a 64-bit integer once multiplied, and are far
        // beyond both bounds.
        let whole_max = i64::MAX / unit - 1;
        // Nested CASEs, not AND: the engine may evaluate both sides of an AND, and the
        // magnitude of a longer count would overflow.
        let ok = format!(
            "CASE WHEN {prefix}_ok AND {prefix}_whole <= {whole_max} THEN CASE WHEN \
             {prefix}_negative THEN {magnitude} <= {negative_max} ELSE {magnitude} <= \
             {positive_max} END ELSE FALSE END"
        );
        let micros = format!(
            "(CASE WHEN {prefix}_negative THEN -1 ELSE 1 END * {magnitude} + {})",
            self.origin
        );
        (ok, micros)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_leave_the_engine_no_overflow() {
        let (ok, micros) = Count {
            digits: 6,
            origin: 0,
        }
        .read("c");
        assert!(ok.contains("c_whole <= 9223372036853 THEN"), "{ok}");
        assert!(ok.contains("<= 8210266876799999999 END"), "{ok}");
        assert!(ok.contains("<= 8334601228800000000 ELSE"), "{ok}");
        assert!(micros.ends_with(" + 0)"), "{micros}");
    }
}
