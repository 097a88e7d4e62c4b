//! The features stage's warning about its reference time: an `as_of` far after the bulk of
//! the event dates (by [`FarBounds`]) measures every recency and tenure from a time few
//! events are near, as when a few events were mistyped far into the future and `as_of:
//! latest_event` followed them.

use std::collections::BTreeMap;

use segflow_core::warnings::{FarBounds, Warning, day_of, day_text};

/// A `far_as_of` warning when `as_of` lies beyond the bulk of the event times `ts`;
/// `latest` says whether it is the latest event's time rather than a given one.
pub fn far_as_of(ts: &[i64], as_of: i64, as_of_text: &str, latest: bool) -> Option<Warning> {
    let mut days: BTreeMap<i64, u64> = BTreeMap::new();
    for &t in ts {
        *days.entry(day_of(t)).or_default() += 1;
    }
    let days: Vec<(i64, u64)> = days.into_iter().collect();
    let bounds = FarBounds::from_days(&days)?;
    let day = day_of(as_of);
    if !bounds.late(day) {
        return None;
    }
    let (source, fix) = match latest {
        true => (
            "`latest_event`",
            "see the ingest's `far_timestamps` warning for the events that moved it; leave them \
             out in ingest (`where:`) or give `as_of` a time",
        ),
        false => ("given", "give an `as_of` near the data"),
    };
    let beyond = day as f64 - bounds.q3;
    Some(Warning::new(
        "far_as_of",
        None,
        format!(
            "the as_of used, {as_of_text} ({source}), lies {beyond:.0} days after the upper \
             quartile of event dates ({}), beyond the {:.0}-day margin: every recency and tenure \
             is measured from it; {fix}",
            day_text(bounds.q3.round() as i64),
            bounds.margin
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_as_of_a_year_past_a_short_log_is_far_and_one_a_day_past_is_not() {
        let day = 86_400_000_000i64;
        let ts: Vec<i64> = (0..60).map(|d| d * day).collect();
        assert!(far_as_of(&ts, 61 * day, "x", true).is_none());
        let far = far_as_of(&ts, 500 * day, "x", false).expect("far");
        assert_eq!(far.code, "far_as_of");
    }
}
