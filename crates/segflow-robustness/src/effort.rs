//! How much refitting the stage does: the user's settings where given, otherwise the default
//! effort rule of n (the matrix's rows), which keeps a pipeline at its defaults within minutes
//! on 10⁵–10⁶ contacts. The rule and its reasons: `docs/robustness.md`.
//!
//! | n              | seed refits | restarts per refit  | bootstrap resamples | restarts each |
//! |----------------|-------------|---------------------|---------------------|---------------|
//! | ≤ 20,000       | 50          | the fit's `n_init`  | 100                 | 10            |
//! | ≤ 200,000      | 20          | fit's, at most 10   | 20                  | 3             |
//! | above          | 10          | fit's, at most 3    | 10                  | 1             |
//!
//! The seed refits' pair (`seeds`, `n_init`) and the bootstrap's pair (`bootstrap.resamples`,
//! `bootstrap.n_init`) are each the user's as soon as either of its two keys is set: an
//! explicit setting is never changed, nor read differently because of n.

use serde::Serialize;

/// Up to this many rows the defaults are the full effort.
pub const FULL_UP_TO: usize = 20_000;
/// Up to this many rows the defaults are the medium tier.
pub const MEDIUM_UP_TO: usize = 200_000;

/// The effort one run of the stage spends, as it is recorded in the verdict's metadata.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Effort {
    /// Rows of the matrix.
    pub n: usize,
    pub seeds: usize,
    /// Restarts of each seed refit and of each drop-one-block refit.
    pub n_init: usize,
    /// `params` or `rule`.
    pub seeds_from: &'static str,
    pub resamples: usize,
    pub bootstrap_n_init: usize,
    pub bootstrap_from: &'static str,
    /// The rule's tier when it set anything: "n ≤ 20,000", "20,000 < n ≤ 200,000", "n > 200,000".
    pub tier: &'static str,
    /// The same in words, for the report: "20 seeds × 10 restarts, 20 bootstrap resamples
    /// × 3 restarts at n = 99,098".
    pub text: String,
}

/// What the rule gives at `n` rows for a fit that used `fit_n_init` restarts:
/// (seeds, restarts per seed refit, bootstrap resamples, restarts per resample).
pub fn rule(n: usize, fit_n_init: usize) -> (usize, usize, usize, usize) {
    if n <= FULL_UP_TO {
        (50, fit_n_init, 100, 10)
    } else if n <= MEDIUM_UP_TO {
        (20, fit_n_init.min(10), 20, 3)
    } else {
        (10, fit_n_init.min(3), 10, 1)
    }
}

fn tier(n: usize) -> &'static str {
    if n <= FULL_UP_TO {
        "n ≤ 20,000"
    } else if n <= MEDIUM_UP_TO {
        "20,000 < n ≤ 200,000"
    } else {
        "n > 200,000"
    }
}

/// The settings given (`None`: left at the default) resolved at `n` rows.
pub struct Given {
    pub seeds: Option<usize>,
    pub n_init: Option<usize>,
    pub resamples: Option<usize>,
    pub bootstrap_n_init: Option<usize>,
}

/// The effort of a run: each pair the user's when either of its keys is set (an unset
/// `n_init` is then the fit's, an unset count the fixed default), otherwise the rule's.
pub fn resolve(n: usize, fit_n_init: usize, given: &Given) -> Effort {
    let (rule_seeds, rule_n_init, rule_resamples, rule_boot_n_init) = rule(n, fit_n_init);
    let (full_seeds, _, full_resamples, full_boot_n_init) = rule(0, fit_n_init);
    let seeds_given = given.seeds.is_some() || given.n_init.is_some();
    let (seeds, n_init) = if seeds_given {
        (
            given.seeds.unwrap_or(full_seeds),
            given.n_init.unwrap_or(fit_n_init),
        )
    } else {
        (rule_seeds, rule_n_init)
    };
    let boot_given = given.resamples.is_some() || given.bootstrap_n_init.is_some();
    let (resamples, bootstrap_n_init) = if boot_given {
        (
            given.resamples.unwrap_or(full_resamples),
            given.bootstrap_n_init.unwrap_or(full_boot_n_init),
        )
    } else {
        (rule_resamples, rule_boot_n_init)
    };
    let by_rule = !seeds_given || !boot_given;
    let text = format!(
        "{seeds} seeds × {n_init} restarts, {resamples} bootstrap resamples × {bootstrap_n_init} \
         restarts at n = {}",
        thousands(n)
    );
    Effort {
        n,
        seeds,
        n_init,
        seeds_from: if seeds_given { "params" } else { "rule" },
        resamples,
        bootstrap_n_init,
        bootstrap_from: if boot_given { "params" } else { "rule" },
        tier: if by_rule { tier(n) } else { "" },
        text,
    }
}

impl Effort {
    /// Whether the rule ran less than the full defaults would have.
    pub fn reduced(&self) -> bool {
        (self.seeds_from == "rule" || self.bootstrap_from == "rule") && self.n > FULL_UP_TO
    }
}

/// `99098` as "99,098".
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFAULTS: Given = Given {
        seeds: None,
        n_init: None,
        resamples: None,
        bootstrap_n_init: None,
    };

    #[test]
    fn the_rule_shrinks_only_above_twenty_thousand_rows() {
        assert_eq!(rule(2_091, 50), (50, 50, 100, 10));
        assert_eq!(rule(20_000, 50), (50, 50, 100, 10));
        assert_eq!(rule(20_001, 50), (20, 10, 20, 3));
        assert_eq!(rule(99_098, 4), (20, 4, 20, 3));
        assert_eq!(rule(200_001, 50), (10, 3, 10, 1));
    }

    #[test]
    fn a_pair_with_either_key_set_is_the_users() {
        // walsoft.yaml: seeds 50 and the bootstrap block set, n_init left to the fit's 50.
        let walsoft = Given {
            seeds: Some(50),
            n_init: None,
            resamples: Some(100),
            bootstrap_n_init: Some(10),
        };
        let e = resolve(99_098, 50, &walsoft);
        assert_eq!(
            (e.seeds, e.n_init, e.resamples, e.bootstrap_n_init),
            (50, 50, 100, 10)
        );
        assert!(!e.reduced());
        assert_eq!(e.tier, "");

        let only_n_init = Given {
            n_init: Some(7),
            ..DEFAULTS
        };
        let e = resolve(99_098, 50, &only_n_init);
        assert_eq!((e.seeds, e.n_init, e.seeds_from), (50, 7, "params"));
        assert_eq!(
            (e.resamples, e.bootstrap_n_init, e.bootstrap_from),
            (20, 3, "rule")
        );
        assert!(e.reduced());
    }

    #[test]
    fn the_text_says_what_ran() {
        let e = resolve(99_098, 50, &DEFAULTS);
        assert_eq!(
            e.text,
            "20 seeds × 10 restarts, 20 bootstrap resamples × 3 restarts at n = 99,098"
        );
        assert_eq!(e.tier, "20,000 < n ≤ 200,000");
        assert!(!resolve(2_091, 50, &DEFAULTS).reduced());
        assert_eq!(thousands(1_000_000), "1,000,000");
        assert_eq!(thousands(999), "999");
    }
}
