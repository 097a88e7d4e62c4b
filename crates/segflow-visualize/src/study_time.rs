//! How the report writes a moment of the log. Calendar logs read as dates. A log whose
//! timestamps are offsets reads as "day 12 of the study": visualize knows it from the ingest
//! params recorded in the events artifact's provenance — `formats.timestamp: seconds_since`
//! counts from `formats.origin`, and `unix_seconds` / `unix_millis` values that all fall in
//! 1970 are offsets from 0 rather than real dates (no customer log ends before 1971).

use arrow::array::{Array, AsArray};
use arrow::datatypes::TimestampMicrosecondType;
use chrono::{DateTime, Months, NaiveDate, NaiveDateTime};
use serde_json::Value;

use segflow_core::artifact::{Artifact, META_PARAMS};

const DAY_MICROS: i64 = 86_400_000_000;
/// 1971-01-01 00:00:00 UTC: a unix-time log that ends before it counts from 0.
const END_OF_1970_MICROS: i64 = 365 * DAY_MICROS;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StudyTime {
    Calendar,
    /// Offsets from this moment (microseconds since the Unix epoch), which is day 1.
    Relative {
        origin: i64,
    },
}

impl StudyTime {
    /// From the events artifact's provenance and the last timestamp ingest's audit saw.
    pub fn of_run(events: Option<&Artifact>, audit_summary: Option<&Artifact>) -> Self {
        let ts_max = audit_summary
            .and_then(|a| a.batch.column_by_name("ts_max"))
            .and_then(|c| {
                c.as_primitive_opt::<TimestampMicrosecondType>()
                    .filter(|c| c.is_valid(0))
                    .map(|c| c.value(0))
            });
        Self::of_log(events, ts_max)
    }

    /// From the ingest params in `events`' provenance and the log's last timestamp.
    pub fn of_log(events: Option<&Artifact>, ts_max: Option<i64>) -> Self {
        let Some(params) = events
            .and_then(|e| e.meta(META_PARAMS))
            .and_then(|p| serde_json::from_str::<Value>(p).ok())
        else {
            return StudyTime::Calendar;
        };
        let formats = &params["formats"];
        let declared: Vec<&str> = match &formats["timestamp"] {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if declared.contains(&"seconds_since")
            && let Some(origin) = formats["origin"].as_str().and_then(parse_moment)
        {
            return StudyTime::Relative { origin };
        }
        let epoch_offsets = !declared.is_empty()
            && declared
                .iter()
                .all(|f| *f == "unix_seconds" || *f == "unix_millis");
        if epoch_offsets && ts_max.is_some_and(|t| t < END_OF_1970_MICROS) {
            return StudyTime::Relative { origin: 0 };
        }
        StudyTime::Calendar
    }

    /// A moment as the report writes it: the date and time, or the day of the study.
    pub fn moment(&self, micros: i64) -> String {
        match self {
            StudyTime::Calendar => DateTime::from_timestamp_micros(micros)
                .map(|t| t.naive_utc().to_string())
                .unwrap_or_default(),
            StudyTime::Relative { origin } => {
                format!(
                    "day {} of the study",
                    (micros - origin).div_euclid(DAY_MICROS) + 1
                )
            }
        }
    }

    /// A calendar month of the audit ("1970-02") as the report writes it: the month, or the
    /// days of the study it holds ("days 32–59").
    pub fn month(&self, month: &str) -> String {
        let StudyTime::Relative { origin } = self else {
            return month.to_string();
        };
        let Some(first) = NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d").ok() else {
            return month.to_string();
        };
        let Some(next) = first.checked_add_months(Months::new(1)) else {
            return month.to_string();
        };
        let day = |d: NaiveDate| {
            (d.and_hms_opt(0, 0, 0)
                .unwrap_or_default()
                .and_utc()
                .timestamp_micros()
                - origin)
                .div_euclid(DAY_MICROS)
                + 1
        };
        format!("days {}–{}", day(first).max(1), day(next) - 1)
    }

    /// A moment written by segflow as text ("2010-12-09 12:50:00"), rewritten for the study;
    /// text that is no moment stays as it is.
    pub fn moment_text(&self, text: &str) -> String {
        match (self, parse_moment(text)) {
            (StudyTime::Relative { .. }, Some(m)) => self.moment(m),
            _ => text.to_string(),
        }
    }
}

fn parse_moment(text: &str) -> Option<i64> {
    ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%d %H:%M:%S"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
        .map(|t| t.and_utc().timestamp_micros())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_count_from_the_origin_as_day_one() {
        let t = StudyTime::Relative { origin: 0 };
        assert_eq!(t.moment(0), "day 1 of the study");
        assert_eq!(t.moment(27 * DAY_MICROS + 5), "day 28 of the study");
        assert_eq!(t.moment_text("1970-01-28 00:00:00"), "day 28 of the study");
        let from = parse_moment("2024-03-10 12:00:00").unwrap();
        let s = StudyTime::Relative { origin: from };
        assert_eq!(s.moment(from + 11 * DAY_MICROS), "day 12 of the study");
        assert_eq!(s.moment(from - 1), "day 0 of the study");
        assert_eq!(t.month("1970-01"), "days 1–31");
        assert_eq!(t.month("1970-02"), "days 32–59");
        assert_eq!(StudyTime::Calendar.month("2011-03"), "2011-03");
        assert_eq!(
            StudyTime::Calendar.moment_text("2010-12-09 12:50:00"),
            "2010-12-09 12:50:00"
        );
    }
}
