//! The report's note on ids ingest kept unhashed, and on unsalted pseudonyms, computed from the shape of the raw ids the ingest
//! audit saw (length, digits only, alphabet; never the ids): how many ids of that shape exist,
//! and how long hashing them all takes.

use arrow::array::{Array, AsArray};
use arrow::datatypes::{Float64Type, UInt64Type};

use segflow_core::artifact::Artifact;
use segflow_core::nouns::{Nouns, capitalized};

/// SHA-256 hashes of short inputs per second, measured with `openssl speed -evp sha256` on
/// this project's 2-core build machine (173.6 MB/s on 16-byte blocks, one core, 2026-11). A
/// stronger machine, or many, enumerates faster: the times are an upper bound for one core.
pub const MEASURED_SHA256_PER_SECOND: f64 = 10.8e6;

/// The id shape columns of `audit_summary`.
struct Shape {
    chars_min: u64,
    chars_max: u64,
    digits_only_share: f64,
    alphabet: u64,
}

fn shape(audit: &Artifact) -> Option<Shape> {
    let u = |name: &str| {
        let c = audit.batch.column_by_name(name)?;
        let c = c.as_primitive_opt::<UInt64Type>()?;
        c.is_valid(0).then(|| c.value(0))
    };
    let share = audit
        .batch
        .column_by_name("id_digits_only_share")?
        .as_primitive_opt::<Float64Type>()?
        .value(0);
    Some(Shape {
        chars_min: u("id_chars_min")?,
        chars_max: u("id_chars_max")?,
        digits_only_share: share,
        alphabet: u("id_alphabet")?,
    })
}

/// The note for ids ingest kept as they were (`method: none`): segflow hashed nothing, so they
/// are exactly as private as whatever made them.
pub fn kept(nouns: &Nouns) -> String {
    format!(
        "{} ids are the input's own ids, kept as they were (`privacy.id.method: none`): segflow did not hash them. They are only as private as the system that produced them; `none` is meant for ids that are already pseudonyms.",
        capitalized(&nouns.entity.singular)
    )
}

/// The note for unsalted SHA-256 ids; generic (no sizes) when the audit holds no id shape.
pub fn note(audit: Option<&Artifact>, nouns: &Nouns) -> String {
    let entity = &nouns.entity;
    let head = format!(
        "{} ids are unsalted SHA-256 pseudonyms: anyone holding a {}'s raw id can recompute its pseudonym.",
        capitalized(&entity.singular),
        entity.singular
    );
    let tail = "They are not anonymous; use `method: hmac_sha256` with a secret key for ids that cannot be reversed.";
    let Some(s) = audit.and_then(shape) else {
        return format!("{head} {tail}");
    };
    let length = if s.chars_min == s.chars_max {
        format!("{} characters", s.chars_max)
    } else {
        format!("{} to {} characters", s.chars_min, s.chars_max)
    };
    let (kind, alphabet) = if s.digits_only_share >= 1.0 {
        ("digits only".to_string(), 10)
    } else {
        (
            format!(
                "{:.1} % digits only, the rest drawn from {} kinds of character",
                s.digits_only_share * 100.0,
                s.alphabet
            ),
            s.alphabet,
        )
    };
    let space: f64 = (s.chars_min..=s.chars_max)
        .map(|l| (alphabet as f64).powi(l as i32))
        .sum();
    let seconds = space / MEASURED_SHA256_PER_SECOND;
    format!(
        "{head} The raw ids seen have {length}, {kind}: a space of {} values, which one core hashes in {} at the {} SHA-256 hashes per second measured on segflow's build machine. {tail}",
        count(space),
        duration(seconds),
        count(MEASURED_SHA256_PER_SECOND),
    )
}

/// A large count in words a reader can compare: digits with separators up to a billion,
/// then a power of ten.
fn count(n: f64) -> String {
    if n < 1e9 {
        let digits = format!("{n:.0}");
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        out
    } else {
        format!("about 10^{:.0}", n.log10())
    }
}

fn duration(seconds: f64) -> String {
    let units = [
        (365.25 * 86_400.0, "year"),
        (86_400.0, "day"),
        (3_600.0, "hour"),
        (60.0, "minute"),
        (1.0, "second"),
    ];
    if seconds < 1.0 {
        return "under a second".into();
    }
    let (size, unit) = units
        .iter()
        .find(|(size, _)| seconds >= *size)
        .expect("seconds ≥ 1");
    let n = (seconds / size).round() as u64;
    format!("about {n} {unit}{}", if n == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_durations_read_as_words() {
        assert_eq!(count(100_000.0), "100,000");
        assert_eq!(count(999_999_999.0), "999,999,999");
        assert_eq!(count(1e12), "about 10^12");
        assert_eq!(duration(0.01), "under a second");
        assert_eq!(duration(92.6), "about 2 minutes");
        assert_eq!(duration(3600.0), "about 1 hour");
        assert_eq!(duration(40.0 * 86_400.0), "about 40 days");
    }
}
