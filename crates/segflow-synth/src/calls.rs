//! A call log with the Walsoft layout, as long as asked: calls in time order over 33 months,
//! contacts whose activity is heavily skewed (a few called daily, most once or twice), mostly
//! business-hour calls, heavy-tailed durations, one category per number. Written as a stream:
//! memory does not grow with the number of rows.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use rand_distr::{Distribution, LogNormal};
use rand_xoshiro::Xoshiro256PlusPlus;
use rand_xoshiro::rand_core::{Rng, SeedableRng};

use segflow_core::{Error, Result};

const HEADER: &str =
    "date_stamp,time,day-of_week,month,year,dialled_phone_number,name,duration_in_seconds,category";
const CATEGORIES: [(&str, f64); 5] = [
    ("Unknown", 0.70),
    ("Family", 0.10),
    ("Supplier", 0.08),
    ("Important Contacts", 0.07),
    ("Service Provider", 0.05),
];
/// Share of calls per hour of the day (business hours dominate).
const HOURS: [f64; 24] = [
    0.3, 0.2, 0.1, 0.1, 0.1, 0.3, 0.8, 2.4, 7.0, 10.0, 10.5, 10.0, 8.5, 9.0, 9.5, 9.0, 8.0, 6.5,
    4.0, 3.0, 2.6, 1.1, 0.9, 0.6,
];
fn uniform(rng: &mut Xoshiro256PlusPlus) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

fn pick(rng: &mut Xoshiro256PlusPlus, weights: &[f64]) -> usize {
    let total: f64 = weights.iter().sum();
    let mut u = uniform(rng) * total;
    for (i, w) in weights.iter().enumerate() {
        if u < *w {
            return i;
        }
        u -= w;
    }
    weights.len() - 1
}

/// A distinct 9-digit number per contact: an affine permutation of 0..9×10⁸.
fn number(contact: u64) -> u64 {
    100_000_000 + (contact.wrapping_mul(387_420_489) + 12_345_679) % 900_000_000
}

/// The contact's category, fixed per number.
fn category(contact: u64) -> &'static str {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(contact ^ 0x5eed);
    let weights: Vec<f64> = CATEGORIES.iter().map(|c| c.1).collect();
    CATEGORIES[pick(&mut rng, &weights)].0
}

/// Writes `rows` calls among `contacts` numbers to `output` (atomically). Returns the number
/// of distinct contacts that made at least one call.
pub fn write_calls(rows: u64, contacts: u64, seed: u64, output: &Path) -> Result<u64> {
    if contacts == 0 || contacts > 900_000_000 {
        return Err(Error::Usage(
            "contacts must lie between 1 and 900,000,000".into(),
        ));
    }
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let duration = LogNormal::new(34f64.ln(), 1.3)
        .map_err(|e| Error::Internal(format!("duration distribution: {e}")))?;
    // 2022-01-01 00:00 to 2024-10-04 24:00, in days.
    let start = chrono::NaiveDate::from_ymd_opt(2022, 1, 1).expect("valid date");
    let span_days = 1008.0;
    let tmp = output.with_file_name(format!(
        ".{}.tmp-{}",
        output
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        std::process::id()
    ));
    let mut seen = vec![false; contacts.min(50_000_000) as usize];
    let result = (|| {
        let io = |e| Error::io(output, e);
        let mut w = BufWriter::with_capacity(1 << 20, File::create(&tmp).map_err(io)?);
        writeln!(w, "{HEADER}").map_err(io)?;
        let mut last_day = 0u64;
        for i in 0..rows {
            // Days advance monotonically; the hour within a day is drawn, so rows stay sorted
            // by date and roughly by time.
            let day = ((i as f64 + uniform(&mut rng)) / rows as f64 * span_days) as u64;
            let day = day.max(last_day);
            last_day = day;
            let date = start + chrono::Days::new(day);
            let hour = pick(&mut rng, &HOURS);
            let (minute, second) = (rng.next_u64() % 60, rng.next_u64() % 60);
            // Cubing a uniform concentrates calls on few contacts (low indices).
            let contact = ((uniform(&mut rng).powi(3)) * contacts as f64) as u64;
            let contact = contact.min(contacts - 1);
            if let Some(s) = seen.get_mut(contact as usize) {
                *s = true;
            }
            let seconds = duration.sample(&mut rng).round().clamp(1.0, 7200.0);
            use chrono::Datelike;
            writeln!(
                w,
                "{}/{}/{},{hour}:{minute:02}:{second:02},{},{},{},{},Contact {contact},{seconds:.0},{}",
                date.month(),
                date.day(),
                date.year(),
                date.format("%A"),
                date.format("%B"),
                date.year(),
                number(contact),
                category(contact),
            )
            .map_err(io)?;
        }
        w.into_inner()
            .map_err(|e| Error::io(output, e.into_error()))?
            .sync_all()
            .map_err(io)?;
        std::fs::rename(&tmp, output).map_err(io)?;
        Ok(seen.iter().filter(|s| **s).count() as u64)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_follow_the_walsoft_layout_in_time_order() {
        let dir = std::env::temp_dir().join(format!("segflow-calls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (a, b) = (dir.join("a.csv"), dir.join("b.csv"));
        let active = write_calls(3000, 200, 9, &a).unwrap();
        write_calls(3000, 200, 9, &b).unwrap();
        assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
        assert!(active > 20 && active <= 200, "{active}");
        let text = std::fs::read_to_string(&a).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], HEADER);
        assert_eq!(lines.len(), 3001);
        assert!(lines[1..].iter().all(|l| l.split(',').count() == 9));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
