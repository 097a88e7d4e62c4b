//! The shape of the raw ids seen, never the ids themselves: their length and which kinds of
//! character they use. The report's privacy note reads it to say how large the id space an
//! attacker would enumerate is (5-digit customer numbers are far easier than phone numbers).

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, UInt64Array};

/// A kind of character: who belongs to it, and how many characters it has.
type Kind = (fn(char) -> bool, u64);

/// Character kinds an id may use.
const KINDS: [Kind; 4] = [
    (|c| c.is_ascii_digit(), 10),
    (|c| c.is_ascii_lowercase(), 26),
    (|c| c.is_ascii_uppercase(), 26),
    // Anything else: counted as the 33 printable ASCII symbols and space, a lower bound for
    // ids with other scripts.
    (|c| !c.is_ascii_alphanumeric(), 33),
];

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct IdShape {
    /// Distinct raw ids observed.
    count: u64,
    chars_min: u64,
    chars_max: u64,
    digits_only: u64,
    /// Bit i: some id used a character of `KINDS[i]`.
    kinds: u8,
}

impl IdShape {
    /// Notes one distinct raw id (as it is hashed, after normalization).
    pub fn observe(&mut self, id: &str) {
        let chars = id.chars().count() as u64;
        if self.count == 0 {
            (self.chars_min, self.chars_max) = (chars, chars);
        } else {
            self.chars_min = self.chars_min.min(chars);
            self.chars_max = self.chars_max.max(chars);
        }
        self.count += 1;
        if id.chars().all(|c| c.is_ascii_digit()) {
            self.digits_only += 1;
        }
        for c in id.chars() {
            for (i, (is, _)) in KINDS.iter().enumerate() {
                if is(c) {
                    self.kinds |= 1 << i;
                }
            }
        }
    }

    /// How many characters the ids draw from: the sizes of the kinds seen.
    fn alphabet(&self) -> u64 {
        KINDS
            .iter()
            .enumerate()
            .filter(|(i, _)| self.kinds & (1 << i) != 0)
            .map(|(_, (_, n))| n)
            .sum()
    }

    /// Audit columns; null where no raw id was seen (a table keyed by row number).
    pub fn arrays(&self) -> Vec<(&'static str, ArrayRef)> {
        let seen = self.count > 0;
        let u = |v: u64| Arc::new(UInt64Array::from(vec![seen.then_some(v)])) as ArrayRef;
        vec![
            ("id_chars_min", u(self.chars_min)),
            ("id_chars_max", u(self.chars_max)),
            (
                "id_digits_only_share",
                Arc::new(Float64Array::from(vec![
                    seen.then(|| self.digits_only as f64 / self.count as f64),
                ])),
            ),
            ("id_alphabet", u(self.alphabet())),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_counts_lengths_digits_and_alphabet() {
        let mut s = IdShape::default();
        for id in ["12345", "17850", "1234"] {
            s.observe(id);
        }
        assert_eq!((s.chars_min, s.chars_max, s.digits_only), (4, 5, 3));
        assert_eq!(s.alphabet(), 10);
        s.observe("ab-9");
        assert_eq!(s.alphabet(), 10 + 26 + 33);
        assert_eq!(s.digits_only, 3);
        assert_eq!(s.count, 4);
    }

    #[test]
    fn nothing_seen_is_null() {
        let a = IdShape::default().arrays();
        assert!(a.iter().all(|(_, c)| c.null_count() == 1));
    }
}
