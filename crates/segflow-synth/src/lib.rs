//! Deterministic generators of realistic test data (a lead table, optionally with categorical
//! attributes and an outcome; a call log of any length): the same rows, seed and version always
//! give the same bytes. No real lead table is public, so the lead-segmentation pipeline runs
//! on a generated one whose planted segments are kept aside for measuring recovery.

mod calls;
mod lead_attributes;
mod leads;

pub use calls::write_calls;
pub use leads::{LEAD_SEGMENTS, write_leads};
