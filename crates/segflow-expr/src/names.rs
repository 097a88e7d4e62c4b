//! Column names as written → the columns they mean, with a suggestion for a near miss.

use crate::Type;

pub(crate) enum Resolution<'a> {
    Found(&'a str, Type),
    /// Several columns differ from the name only by case.
    Ambiguous(Vec<&'a str>),
    Unknown {
        suggestion: Option<&'a str>,
    },
}

/// The exact name first, otherwise the unique column equal to it ignoring case.
pub(crate) fn resolve<'a, S: AsRef<str>>(name: &str, columns: &'a [(S, Type)]) -> Resolution<'a> {
    if let Some((column, ty)) = columns.iter().find(|(c, _)| c.as_ref() == name) {
        return Resolution::Found(column.as_ref(), *ty);
    }
    let folded = name.to_lowercase();
    let matches: Vec<(&str, Type)> = columns
        .iter()
        .filter(|(c, _)| c.as_ref().to_lowercase() == folded)
        .map(|(c, t)| (c.as_ref(), *t))
        .collect();
    match matches.as_slice() {
        [(column, ty)] => Resolution::Found(column, *ty),
        [] => Resolution::Unknown {
            suggestion: closest(&folded, columns.iter().map(|(c, _)| c.as_ref())),
        },
        several => Resolution::Ambiguous(several.iter().map(|(c, _)| *c).collect()),
    }
}

/// The candidate nearest to `folded` (already lowercase) in edit distance, if it is close
/// enough to be a typo: at most 2 edits, or a third of the name's length for long names.
/// Ties go to the first candidate.
pub(crate) fn closest<'a>(
    folded: &str,
    candidates: impl Iterator<Item = &'a str>,
) -> Option<&'a str> {
    let limit = (folded.chars().count() / 3).max(2);
    let mut best: Option<(usize, &str)> = None;
    for candidate in candidates {
        let distance = strsim::levenshtein(folded, &candidate.to_lowercase());
        if distance <= limit && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closest_ignores_far_names() {
        let names = ["Quantity", "UnitPrice"];
        assert_eq!(closest("quantityy", names.into_iter()), Some("Quantity"));
        assert_eq!(closest("unitprise", names.into_iter()), Some("UnitPrice"));
        assert_eq!(closest("customer", names.into_iter()), None);
    }
}
