//! Deterministic generators of realistic test data: the same rows, seed and version always
//! give the same bytes. No real lead table is public, so the lead-segmentation pipeline runs
//! on a generated one whose planted segments are kept aside for measuring recovery.

mod leads;

pub use leads::{LEAD_SEGMENTS, write_leads};
