//! The contacts of an event log: each raw id hashed once, in order of first appearance.

use std::path::Path;

use segflow_core::error::Location;
use segflow_core::{Error, Result};

use crate::id_shape::IdShape;
use crate::privacy::IdHasher;

/// Every contact seen, by its canonical raw text (so each is hashed once), with its
/// pseudonymous id, the line it first appeared on, and whether a row of it was accepted.
/// Memory grows with contacts, not rows.
#[derive(Default)]
pub struct Contacts {
    /// foldhash rather than SipHash: one lookup per row.
    by_raw: foldhash::HashMap<Box<str>, u32>,
    pub ids: Vec<Box<str>>,
    first_line: Vec<u64>,
    pub accepted: Vec<bool>,
    pub shape: IdShape,
}

impl Contacts {
    pub fn index(&mut self, canonical: &str, hasher: &IdHasher, line: u64) -> u32 {
        if let Some(&i) = self.by_raw.get(canonical) {
            return i;
        }
        let i = self.ids.len() as u32;
        self.shape.observe(canonical);
        self.ids.push(hasher.id(canonical).into());
        self.first_line.push(line);
        self.accepted.push(false);
        self.by_raw.insert(canonical.into(), i);
        i
    }

    pub fn accepted_count(&self) -> u64 {
        self.accepted.iter().filter(|&&a| a).count() as u64
    }

    /// Refuses two contacts with one id, naming the line where the second first appeared.
    pub fn check_distinct(&self, path: &Path, column: &str) -> Result<()> {
        let mut order: Vec<usize> = (0..self.ids.len()).collect();
        order.sort_unstable_by(|&a, &b| self.ids[a].cmp(&self.ids[b]));
        for pair in order.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            if self.ids[a] == self.ids[b] {
                let line = self.first_line[a].max(self.first_line[b]);
                return Err(Error::data(
                    Location::file(path).line(line).column(column),
                    format!(
                        "two different contacts hash to the same id {}; raise privacy.id.hex_chars",
                        self.ids[a]
                    ),
                ));
            }
        }
        Ok(())
    }
}
