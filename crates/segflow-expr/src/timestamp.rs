//! Naive timestamps as microseconds since 1970-01-01 00:00:00: literals, calendar parts,
//! and text.

use std::fmt::Write;

use chrono::{DateTime, Datelike, NaiveDate, Timelike};

const MICROS_PER_SECOND: i64 = 1_000_000;
const MICROS_PER_HOUR: i64 = 3_600 * MICROS_PER_SECOND;
pub(crate) const MICROS_PER_DAY: i64 = 24 * MICROS_PER_HOUR;

/// A text literal compared with a timestamp: exactly `YYYY-MM-DD` or `YYYY-MM-DD HH:MM:SS`,
/// a real date and time of day.
pub(crate) fn parse_literal(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| -> Option<u32> {
        let part = bytes.get(range)?;
        part.iter()
            .all(u8::is_ascii_digit)
            .then(|| part.iter().fold(0, |n, d| n * 10 + u32::from(d - b'0')))
    };
    let (time, len) = match bytes.len() {
        10 => ((0, 0, 0), 10),
        19 if bytes[10] == b' ' && bytes[13] == b':' && bytes[16] == b':' => {
            ((digits(11..13)?, digits(14..16)?, digits(17..19)?), 19)
        }
        _ => return None,
    };
    if bytes[4] != b'-' || bytes[7] != b'-' || len != bytes.len() {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(digits(0..4)? as i32, digits(5..7)?, digits(8..10)?)?;
    let datetime = date.and_hms_opt(time.0, time.1, time.2)?;
    Some(datetime.and_utc().timestamp_micros())
}

/// Hour of day, 0–23.
pub(crate) fn hour(micros: i64) -> f64 {
    (micros.rem_euclid(MICROS_PER_DAY) / MICROS_PER_HOUR) as f64
}

/// ISO day of week: 1 = Monday … 7 = Sunday (1970-01-01 was a Thursday).
pub(crate) fn weekday(micros: i64) -> f64 {
    ((micros.div_euclid(MICROS_PER_DAY) + 3).rem_euclid(7) + 1) as f64
}

/// The timestamp at midnight of its day.
pub(crate) fn date(micros: i64) -> i64 {
    micros - micros.rem_euclid(MICROS_PER_DAY)
}

/// `YYYY-MM-DD HH:MM:SS`, then `.` and the fraction of a second without trailing zeros when
/// there is one (as PostgreSQL, DuckDB and Spark print timestamps). None beyond chrono's
/// calendar (about 262,000 years from now), which the i64 of microseconds slightly exceeds.
pub(crate) fn write_text(micros: i64, out: &mut String) -> Option<()> {
    let datetime = DateTime::from_timestamp_micros(micros)?;
    let datetime = datetime.naive_utc();
    // Writing into a String cannot fail.
    let _ = write!(
        out,
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        datetime.year(),
        datetime.month(),
        datetime.day(),
        datetime.hour(),
        datetime.minute(),
        datetime.second()
    );
    let fraction = micros.rem_euclid(MICROS_PER_SECOND);
    if fraction != 0 {
        let digits = format!("{fraction:06}");
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_are_exact_dates_and_times() {
        assert_eq!(parse_literal("1970-01-01"), Some(0));
        assert_eq!(
            parse_literal("1970-01-02 00:00:01"),
            Some(MICROS_PER_DAY + 1_000_000)
        );
        assert_eq!(parse_literal("1969-12-31 23:59:59"), Some(-1_000_000));
        assert_eq!(parse_literal("2024-02-29"), Some(19_782 * MICROS_PER_DAY));
        for bad in [
            "2023-02-29",
            "2024-13-01",
            "2024-1-01",
            "2024-01-01T00:00:00",
            "2024-01-01 24:00:00",
            "2024-01-01 00:00",
            "2024/01/01",
            "+024-01-01",
            "",
        ] {
            assert_eq!(parse_literal(bad), None, "{bad}");
        }
    }

    #[test]
    fn calendar_parts_before_and_after_the_epoch() {
        // 1970-01-01 was a Thursday; 1969-12-31 23:00 a Wednesday.
        assert_eq!(weekday(0), 4.0);
        assert_eq!(hour(-MICROS_PER_HOUR), 23.0);
        assert_eq!(weekday(-MICROS_PER_HOUR), 3.0);
        assert_eq!(date(-MICROS_PER_HOUR), -MICROS_PER_DAY);
        assert_eq!(weekday(4 * MICROS_PER_DAY), 1.0);
    }

    #[test]
    fn text_trims_the_fraction() {
        let mut s = String::new();
        write_text(1_500_000, &mut s).unwrap();
        assert_eq!(s, "1970-01-01 00:00:01.5");
        s.clear();
        write_text(-1, &mut s).unwrap();
        assert_eq!(s, "1969-12-31 23:59:59.999999");
        assert_eq!(write_text(i64::MAX, &mut s), None);
    }
}
