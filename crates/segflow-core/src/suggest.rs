//! The nearest valid names to a misspelled one, for "did you mean" in config errors.

/// Up to three of `candidates` nearest to `name` in edit distance (ignoring case), nearest
/// first, among those close enough to be a typo: at most 2 edits, or a third of the name's
/// length for long names. Ties keep the candidates' order.
pub fn nearest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let folded = name.to_lowercase();
    let limit = (folded.chars().count() / 3).max(2);
    let mut scored: Vec<(usize, &str)> = Vec::new();
    for candidate in candidates {
        if scored.iter().any(|(_, c)| *c == candidate) {
            continue;
        }
        let distance = strsim::levenshtein(&folded, &candidate.to_lowercase());
        if distance <= limit {
            scored.push((distance, candidate));
        }
    }
    scored.sort_by_key(|(d, _)| *d);
    scored.into_iter().take(3).map(|(_, c)| c).collect()
}

/// " (did you mean `a` or `b`?)" for the nearest candidates, or "" when none is close.
pub fn did_you_mean<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    let near: Vec<String> = nearest(name, candidates)
        .iter()
        .map(|c| format!("`{c}`"))
        .collect();
    match near.as_slice() {
        [] => String::new(),
        [one] => format!(" (did you mean {one}?)"),
        [rest @ .., last] => format!(" (did you mean {} or {last}?)", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn near_misses_are_suggested_nearest_first() {
        let names = [
            "n_calls",
            "n_days_active",
            "n_purchase_days",
            "recency_days",
        ];
        assert_eq!(nearest("n_purchse_days", names), ["n_purchase_days"]);
        assert_eq!(nearest("n_call", names), ["n_calls"]);
        assert!(nearest("something_else", names).is_empty());
        assert_eq!(did_you_mean("n_cals", names), " (did you mean `n_calls`?)");
        assert_eq!(did_you_mean("zzz", names), "");
    }
}
