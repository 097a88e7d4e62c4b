//! Progress for orchestrators: with `--json`, one JSON object per line on stderr (stage
//! started, messages, each unit of a counted step, stage finished), the summary alone on
//! stdout; without a terminal and without `--json`, no progress at all.

use std::collections::BTreeMap;

use segflow_tests::*;
use serde_json::Value;

/// The wholesale pipeline up to robustness: select_k counts K over 2..8, robustness its 20
/// seeds, its blocks and its 50 bootstrap resamples (pipelines/wholesale.yaml).
fn pipeline(scratch: &Scratch) -> std::path::PathBuf {
    isolated_pipeline("wholesale", scratch.path(), |doc| {
        stop_after(doc, "robustness")
    })
}

#[test]
fn json_progress_is_one_line_per_step_on_stderr() {
    let scratch = Scratch::new("progress-json");
    let pipeline = pipeline(&scratch);
    let out = segflow(&["run", pipeline.to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let summary: Value = serde_json::from_str(&stdout(&out)).expect("stdout is the summary");
    let ran: Vec<&str> = summary["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["stage"].as_str().unwrap())
        .collect();

    let events: Vec<Value> = stderr(&out)
        .lines()
        .filter(|l| !l.starts_with("warning: "))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
        .collect();
    // Every stage starts and finishes, in the summary's order.
    let of = |event: &str| -> Vec<&str> {
        events
            .iter()
            .filter(|e| e["event"] == event)
            .map(|e| e["stage"].as_str().unwrap())
            .collect()
    };
    assert_eq!(of("started"), ran);
    assert_eq!(of("finished"), ran);

    // Per (stage, step): the counts done run 1, 2, … up to the total, one line each.
    let mut steps: BTreeMap<(String, String), Vec<(u64, u64)>> = BTreeMap::new();
    for e in events.iter().filter(|e| e["event"] == "step") {
        steps
            .entry((
                e["stage"].as_str().unwrap().to_string(),
                e["step"].as_str().unwrap().to_string(),
            ))
            .or_default()
            .push((e["done"].as_u64().unwrap(), e["total"].as_u64().unwrap()));
    }
    let totals: BTreeMap<(String, String), u64> = steps
        .iter()
        .map(|(key, counts)| {
            let total = counts[0].1;
            let expected: Vec<(u64, u64)> = (1..=total).map(|d| (d, total)).collect();
            assert_eq!(counts, &expected, "{key:?}");
            (key.clone(), total)
        })
        .collect();
    let step = |stage: &str, step: &str| totals.get(&(stage.into(), step.into())).copied();
    assert_eq!(step("select_k", "K"), Some(7));
    assert_eq!(step("robustness", "seeds"), Some(20));
    assert_eq!(step("robustness", "bootstrap"), Some(50));
    // The baseline rebuild and one per model block.
    assert!(step("robustness", "blocks").is_some_and(|b| b >= 2));

    // A step line is emitted while its stage runs, between its started and finished lines.
    let position = |event: &str, stage: &str| {
        events
            .iter()
            .position(|e| e["event"] == event && e["stage"] == stage)
            .unwrap()
    };
    let first_seed = events.iter().position(|e| e["step"] == "seeds").unwrap();
    assert!(position("started", "robustness") < first_seed);
    assert!(first_seed < position("finished", "robustness"));
}

#[test]
fn without_a_terminal_or_json_there_is_no_progress() {
    let scratch = Scratch::new("progress-quiet");
    let pipeline = pipeline(&scratch);
    let out = segflow(&["run", pipeline.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    let progress: Vec<&str> = err
        .lines()
        .filter(|l| !l.starts_with("warning: "))
        .collect();
    assert!(progress.is_empty(), "{progress:?}");
}
