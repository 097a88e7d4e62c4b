//! Calendar arithmetic on naive timestamps stored as microseconds since 1970-01-01T00:00:00,
//! shared by the ingest audit and the features stage so both cut hours and days identically.

use serde::{Deserialize, Serialize};

pub const MICROS_PER_SECOND: i64 = 1_000_000;
pub const MICROS_PER_DAY: i64 = 86_400 * MICROS_PER_SECOND;

/// Days since 1970-01-01 (the calendar date of the timestamp).
pub fn day_number(micros: i64) -> i64 {
    micros.div_euclid(MICROS_PER_DAY)
}

/// Hour of day, 0–23.
pub fn hour(micros: i64) -> u32 {
    (micros.rem_euclid(MICROS_PER_DAY) / (3600 * MICROS_PER_SECOND)) as u32
}

/// Day of week with Monday = 0 (1970-01-01 was a Thursday).
pub fn weekday(micros: i64) -> u32 {
    (day_number(micros) + 3).rem_euclid(7) as u32
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Weekday {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl Weekday {
    pub const ALL: [Weekday; 7] = [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
        Weekday::Sat,
        Weekday::Sun,
    ];

    /// Monday = 0.
    pub fn index(self) -> u32 {
        self as u32
    }

    pub fn name(self) -> &'static str {
        [
            "Monday",
            "Tuesday",
            "Wednesday",
            "Thursday",
            "Friday",
            "Saturday",
            "Sunday",
        ][self as usize]
    }
}

/// An inclusive range of hours, e.g. `[8, 17]` for business hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HourRange(pub u32, pub u32);

impl HourRange {
    pub fn contains(self, hour: u32) -> bool {
        self.0 <= hour && hour <= self.1
    }

    pub fn check(self) -> Result<(), String> {
        if self.0 > 23 || self.1 > 23 || self.0 > self.1 {
            Err(format!(
                "hour range [{}, {}] must satisfy 0 ≤ from ≤ to ≤ 23",
                self.0, self.1
            ))
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        // 2024-10-04 20:15:16 was a Friday.
        let micros = (20_000 * 86_400 + 20 * 3600 + 15 * 60 + 16) * MICROS_PER_SECOND;
        assert_eq!(weekday(micros), 4);
        assert_eq!(hour(micros), 20);
        // 1969-12-31 23:00 was a Wednesday.
        assert_eq!(weekday(-3600 * MICROS_PER_SECOND), 2);
        assert_eq!(hour(-3600 * MICROS_PER_SECOND), 23);
    }
}
