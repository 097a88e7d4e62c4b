//! Reading the clock of an event: timestamp formats (chrono, epoch counts, seconds since an
//! origin), compiled once, and the parse of one record's clock fields.

use chrono::format::{Item, Numeric, Parsed, StrftimeItems};
use chrono::{NaiveTime, TimeZone};
use chrono_tz::Tz;
use csv::ByteRecord;

use segflow_core::calendar::MICROS_PER_SECOND;
use segflow_core::{Error, Result};

use crate::reader::field;
use crate::rows::Reject;
use crate::{Formats, SECONDS_SINCE, UNIX_MILLIS, UNIX_SECONDS};

/// How an input column typed as a date, time or timestamp (in Parquet) is rendered as text,
/// and so read back exactly, to the microsecond, whatever `formats` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Temporal {
    Timestamp,
    Date,
    Time,
}

impl Temporal {
    pub fn format(self) -> &'static str {
        match self {
            Temporal::Timestamp => "%Y-%m-%d %H:%M:%S%.6f",
            Temporal::Date => "%Y-%m-%d",
            Temporal::Time => "%H:%M:%S%.6f",
        }
    }
}

/// The formats that read `clock`: the configured ones, except where a clock column is typed
/// (`temporal`, by column index) as a point in time that fits its role; such a column is read
/// in the fixed form it is rendered in.
pub fn typed_formats(
    formats: &Formats,
    clock: &Clock,
    temporal: impl Fn(usize) -> Option<Temporal>,
) -> Formats {
    let mut out = formats.clone();
    match *clock {
        Clock::Timestamp { col } => {
            if let Some(t @ (Temporal::Timestamp | Temporal::Date)) = temporal(col) {
                out.timestamp = vec![t.format().to_string()];
                // The origin belongs to the `seconds_since` format just replaced.
                out.origin = None;
            }
        }
        Clock::DateTime { date, time } => {
            if let Some(t @ (Temporal::Timestamp | Temporal::Date)) = temporal(date) {
                out.date = t.format().to_string();
            }
            if let Some(t @ (Temporal::Timestamp | Temporal::Time)) = time.and_then(&temporal) {
                out.time = t.format().to_string();
            }
        }
    }
    out
}

/// Where an event's clock is read from.
pub enum Clock {
    Timestamp { col: usize },
    DateTime { date: usize, time: Option<usize> },
}

/// How one `formats.timestamp` entry reads a field.
enum TimestampFormat {
    /// A chrono format, compiled once rather than once per row; one without an hour field
    /// reads a date, at midnight.
    Chrono {
        items: Vec<Item<'static>>,
        has_hour: bool,
    },
    /// A decimal count of `unit` microseconds after `origin` (microseconds since the epoch);
    /// with a `zone`, the count is an instant read as that zone's wall-clock time.
    Count {
        unit: i64,
        origin: i64,
        zone: Option<Tz>,
    },
}

impl TimestampFormat {
    fn chrono(items: Vec<Item<'static>>) -> Self {
        let has_hour = items.iter().any(|item| {
            matches!(
                item,
                Item::Numeric(Numeric::Hour | Numeric::Hour12 | Numeric::Timestamp, _)
            )
        });
        TimestampFormat::Chrono { items, has_hour }
    }

    fn parse(&self, text: &str) -> Option<i64> {
        match self {
            TimestampFormat::Chrono { items, has_hour } => {
                let datetime = if *has_hour {
                    parse_with(text, items, |p| p.to_naive_datetime_with_offset(0))?
                } else {
                    parse_with(text, items, Parsed::to_naive_date)?.and_time(NaiveTime::MIN)
                };
                let utc = datetime.and_utc();
                Some(utc.timestamp() * MICROS_PER_SECOND + i64::from(utc.timestamp_subsec_micros()))
            }
            TimestampFormat::Count { unit, origin, zone } => {
                let micros = decimal_micros(text, *unit)?.checked_add(*origin)?;
                // Beyond chrono's calendar the audit and features could not place the event.
                let instant = chrono::DateTime::from_timestamp_micros(micros)?;
                match zone {
                    None => Some(micros),
                    Some(zone) => {
                        let local = zone.from_utc_datetime(&instant.naive_utc()).naive_local();
                        Some(local.and_utc().timestamp_micros())
                    }
                }
            }
        }
    }

    /// Whether the format reads a time of day (an hour field, or a count of seconds).
    fn has_time_of_day(&self) -> bool {
        match self {
            TimestampFormat::Chrono { has_hour, .. } => *has_hour,
            TimestampFormat::Count { .. } => true,
        }
    }
}

/// `text` (`-12`, `1641052981.25`, `+.5`) times `unit` microseconds, rounded to the nearest
/// microsecond; `None` for anything else (exponents, blanks inside, overflow).
fn decimal_micros(text: &str, unit: i64) -> Option<i64> {
    let (negative, digits) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let is_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.len() + fraction.len() == 0 || !is_digits(whole) || !is_digits(fraction) {
        return None;
    }
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    // Exact integer arithmetic: f64 would lose microseconds on today's epoch values.
    let mut micros = whole.checked_mul(unit)?;
    let mut scale = unit;
    for d in fraction.bytes().map(|d| i64::from(d - b'0')) {
        if scale < 10 {
            // The first digit below a microsecond rounds; the rest cannot change that.
            micros = micros.checked_add(i64::from(d >= 5))?;
            break;
        }
        scale /= 10;
        micros = micros.checked_add(d * scale)?;
    }
    Some(if negative { -micros } else { micros })
}

/// The configured formats, compiled once rather than once per row.
pub struct ClockFormats {
    timestamp: Vec<TimestampFormat>,
    date: Vec<Item<'static>>,
    time: Vec<Item<'static>>,
}

impl ClockFormats {
    /// `zone`: the time zone epoch counts are shown in (none: UTC).
    pub fn new(f: &Formats, zone: Option<Tz>) -> Result<Self> {
        let compile = |format: &str, key: String| {
            StrftimeItems::new(format).parse_to_owned().map_err(|_| {
                Error::config("", key, format!("`{format}` is not a valid chrono format"))
            })
        };
        let origin = f.origin_micros()?;
        Ok(Self {
            timestamp: f
                .timestamp
                .iter()
                .enumerate()
                .map(|(i, t)| match t.as_str() {
                    UNIX_SECONDS => Ok(TimestampFormat::Count {
                        unit: MICROS_PER_SECOND,
                        origin: 0,
                        zone,
                    }),
                    UNIX_MILLIS => Ok(TimestampFormat::Count {
                        unit: MICROS_PER_SECOND / 1000,
                        origin: 0,
                        zone,
                    }),
                    SECONDS_SINCE => Ok(TimestampFormat::Count {
                        unit: MICROS_PER_SECOND,
                        origin: origin.expect("validated: seconds_since has an origin"),
                        // The origin is already wall-clock time in the log's zone.
                        zone: None,
                    }),
                    _ => compile(t, format!("formats.timestamp[{i}]")).map(TimestampFormat::chrono),
                })
                .collect::<Result<_>>()?,
            date: compile(&f.date, "formats.date".into())?,
            time: compile(&f.time, "formats.time".into())?,
        })
    }

    /// Whether accepted events can carry a time of day: not when only a date is read.
    pub fn time_of_day(&self, clock: &Clock) -> bool {
        match clock {
            Clock::Timestamp { .. } => self.timestamp.iter().any(TimestampFormat::has_time_of_day),
            Clock::DateTime { time, .. } => time.is_some(),
        }
    }
}

/// What `parse_from_str` does, with a compiled format.
fn parse_with<T>(
    text: &str,
    items: &[Item<'static>],
    finish: impl FnOnce(&Parsed) -> chrono::ParseResult<T>,
) -> Option<T> {
    let mut parsed = Parsed::new();
    chrono::format::parse(&mut parsed, text, items.iter()).ok()?;
    finish(&parsed).ok()
}

pub fn parse_clock(
    record: &ByteRecord,
    clock: &Clock,
    header: &[String],
    f: &Formats,
    formats: &ClockFormats,
) -> std::result::Result<i64, Reject> {
    let get = |i: usize| -> std::result::Result<&str, Reject> {
        match field(&record[i]) {
            Ok(Some(v)) => Ok(v),
            Ok(None) => Err(Reject {
                field: header[i].clone(),
                reason: "empty".into(),
                value: None,
            }),
            Err(()) => Err(Reject {
                field: header[i].clone(),
                reason: "not valid UTF-8".into(),
                value: None,
            }),
        }
    };
    let fail = |i: usize, v: &str, what: &str, fmt: &str| Reject {
        field: header[i].clone(),
        reason: format!("cannot parse as {what} with format {fmt}"),
        value: Some(v.to_string()),
    };
    match *clock {
        Clock::Timestamp { col } => {
            let v = get(col)?;
            formats
                .timestamp
                .iter()
                .find_map(|f| f.parse(v))
                .ok_or_else(|| fail(col, v, "timestamp", &f.timestamp.join(" | ")))
        }
        Clock::DateTime { date, time } => {
            let d = get(date)?;
            let day = parse_with(d, &formats.date, Parsed::to_naive_date)
                .ok_or_else(|| fail(date, d, "date", &f.date))?;
            let clock = match time {
                None => NaiveTime::MIN,
                Some(t_col) => {
                    let t = get(t_col)?;
                    parse_with(t, &formats.time, Parsed::to_naive_time)
                        .ok_or_else(|| fail(t_col, t, "time", &f.time))?
                }
            };
            let utc = day.and_time(clock).and_utc();
            Ok(utc.timestamp() * MICROS_PER_SECOND + i64::from(utc.timestamp_subsec_micros()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The clock `formats` read from one record of `fields`, typed as `temporal` says.
    fn read(clock: Clock, fields: &[&str], temporal: &[Option<Temporal>]) -> Option<i64> {
        let formats = typed_formats(&Formats::default(), &clock, |c| temporal[c]);
        let compiled = ClockFormats::new(&formats, None).unwrap();
        let header: Vec<String> = (0..fields.len()).map(|i| format!("c{i}")).collect();
        parse_clock(
            &ByteRecord::from(fields.to_vec()),
            &clock,
            &header,
            &formats,
            &compiled,
        )
        .ok()
    }

    fn micros(text: &str) -> i64 {
        chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f")
            .unwrap()
            .and_utc()
            .timestamp_micros()
    }

    #[test]
    fn typed_columns_are_read_in_their_rendered_form_in_every_role() {
        let ts = Some(Temporal::Timestamp);
        let stamp = "2024-11-03 01:30:00.000001";
        assert_eq!(
            read(Clock::Timestamp { col: 0 }, &[stamp], &[ts]),
            Some(micros(stamp))
        );
        assert_eq!(
            read(
                Clock::Timestamp { col: 0 },
                &["2024-11-03"],
                &[Some(Temporal::Date)]
            ),
            Some(micros("2024-11-03 00:00:00"))
        );
        // A date from a timestamp column and a time from another.
        assert_eq!(
            read(
                Clock::DateTime {
                    date: 0,
                    time: Some(1)
                },
                &[stamp, "2020-01-01 07:08:09.500000"],
                &[ts, ts]
            ),
            Some(micros("2024-11-03 07:08:09.5"))
        );
        assert_eq!(
            read(
                Clock::DateTime {
                    date: 0,
                    time: Some(1)
                },
                &["2024-11-03", "07:08:09.000002"],
                &[Some(Temporal::Date), Some(Temporal::Time)]
            ),
            Some(micros("2024-11-03 07:08:09.000002"))
        );
        // A text column keeps the configured formats.
        assert_eq!(
            read(
                Clock::Timestamp { col: 0 },
                &["2024-11-03T01:30:00"],
                &[None]
            ),
            Some(micros("2024-11-03 01:30:00"))
        );
    }
}
