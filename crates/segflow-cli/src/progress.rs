//! Per-stage progress: on a terminal, a bar with the stage's counted steps ("robustness:
//! seeds 23/50, bootstrap 0/100") or, for a stage that counts nothing, a spinner with its
//! current step; with `--json`, one JSON line per event on stderr for orchestrators; silent
//! otherwise, so logs of orchestrated runs stay clean. It also remembers which stage is
//! running, which names the stage in a failed run's JSON error. A stage's weak-data warnings
//! are printed when it finishes.
//!
//! indicatif draws the bar: it is already what the spinner used, redraws at a bounded rate
//! however often parallel refits count, and clears itself when stderr is not a terminal.

use std::sync::Mutex;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use segflow_core::runner::{Observer, Outcome, StageReport};
use segflow_core::stage::Tally;
use segflow_core::warnings::Warning;

/// Where progress goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Display {
    /// A bar on a terminal.
    Bar,
    /// JSON lines on stderr (`--json`).
    Json,
    Quiet,
}

impl Display {
    /// `--json` wins; otherwise a bar only when stderr is a terminal.
    pub fn choose(json: bool) -> Self {
        use std::io::IsTerminal;
        if json {
            Display::Json
        } else if std::io::stderr().is_terminal() {
            Display::Bar
        } else {
            Display::Quiet
        }
    }
}

/// One counted step of the running stage.
struct Step {
    name: String,
    done: u64,
    total: u64,
}

pub struct Progress {
    display: Display,
    bar: Mutex<Option<ProgressBar>>,
    /// The running stage's counted steps, in the order they were announced.
    steps: Mutex<Vec<Step>>,
    /// The stage started and not yet finished: the one a failed run failed in.
    running: Mutex<Option<String>>,
}

impl Progress {
    pub fn new(display: Display) -> Self {
        Self {
            display,
            bar: Mutex::new(None),
            steps: Mutex::new(Vec::new()),
            running: Mutex::new(None),
        }
    }

    /// The stage that started and did not finish, if any.
    pub fn running(&self) -> Option<String> {
        lock(&self.running).clone()
    }
}

/// A poisoned lock only means another thread panicked while drawing; the panic is reported
/// on its own, and the progress state is still usable.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// One progress event as a JSON line on stderr.
fn json_line(value: serde_json::Value) {
    eprintln!("{value}");
}

/// "seeds 23/50, bootstrap 0/100".
fn counts_text(steps: &[Step]) -> String {
    steps
        .iter()
        .map(|s| format!("{} {}/{}", s.name, s.done, s.total))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Observer for Progress {
    fn started(&self, stage: &str, kind: &str) {
        *lock(&self.running) = Some(stage.to_string());
        lock(&self.steps).clear();
        match self.display {
            Display::Quiet => {}
            Display::Json => json_line(serde_json::json!({
                "event": "started", "stage": stage, "kind": kind,
            })),
            Display::Bar => {
                let bar = ProgressBar::new_spinner();
                bar.set_style(
                    ProgressStyle::with_template("{spinner} {prefix:.bold} {msg} [{elapsed}]")
                        .expect("valid template"),
                );
                bar.set_prefix(if stage == kind {
                    stage.to_string()
                } else {
                    format!("{stage} ({kind})")
                });
                bar.enable_steady_tick(Duration::from_millis(100));
                *lock(&self.bar) = Some(bar);
            }
        }
    }

    fn message(&self, stage: &str, message: &str) {
        match self.display {
            Display::Quiet => {}
            Display::Json => json_line(serde_json::json!({
                "event": "message", "stage": stage, "message": message,
            })),
            Display::Bar => {
                // Once the stage counts, the counts say more than its current step.
                if lock(&self.steps).is_empty()
                    && let Some(bar) = lock(&self.bar).as_ref()
                {
                    bar.set_message(message.to_string());
                }
            }
        }
    }

    fn tally(&self, stage: &str, step: &str, tally: Tally) {
        // The lock is held while drawing, so counts are shown in the order they were made.
        let mut steps = lock(&self.steps);
        let i = match steps.iter().position(|s| s.name == step) {
            Some(i) => i,
            None => {
                steps.push(Step {
                    name: step.to_string(),
                    done: 0,
                    total: 0,
                });
                steps.len() - 1
            }
        };
        match tally {
            Tally::Total(n) => steps[i].total = n,
            Tally::Done => steps[i].done += 1,
        }
        match self.display {
            Display::Quiet => {}
            Display::Json => {
                if tally == Tally::Done {
                    json_line(serde_json::json!({
                        "event": "step", "stage": stage, "step": step,
                        "done": steps[i].done, "total": steps[i].total,
                    }));
                }
            }
            Display::Bar => {
                if let Some(bar) = lock(&self.bar).as_ref() {
                    if bar.length().is_none() {
                        bar.set_style(
                            ProgressStyle::with_template(
                                "{spinner} {prefix:.bold} [{bar:24}] {msg} [{elapsed}]",
                            )
                            .expect("valid template")
                            .progress_chars("=> "),
                        );
                    }
                    bar.set_length(steps.iter().map(|s| s.total).sum());
                    bar.set_position(steps.iter().map(|s| s.done).sum());
                    bar.set_message(counts_text(&steps));
                }
            }
        }
    }

    fn finished(&self, report: &StageReport) {
        lock(&self.running).take();
        lock(&self.steps).clear();
        let outcome = match report.outcome {
            Outcome::Ran => "ran",
            Outcome::Skipped => "skipped",
        };
        match self.display {
            Display::Quiet => {}
            Display::Json => json_line(serde_json::json!({
                "event": "finished", "stage": report.stage, "outcome": outcome,
                "rows": report.rows, "seconds": report.seconds,
            })),
            Display::Bar => {
                if let Some(bar) = lock(&self.bar).take() {
                    let what = match report.outcome {
                        Outcome::Ran => {
                            format!("ran: {} rows in {:.2} s", report.rows, report.seconds)
                        }
                        Outcome::Skipped => "up to date, skipped".to_string(),
                    };
                    bar.finish_with_message(what);
                }
            }
        }
        print_warnings(&report.stage, &report.warnings);
    }
}

/// A stage's weak-data warnings on stderr, one line each, whether or not stderr is a terminal:
/// they concern the results, not the progress. (`--json` also lists them in its summary.)
pub fn print_warnings(stage: &str, warnings: &[Warning]) {
    for w in warnings {
        eprintln!("warning: {stage}: {} ({})", w.detail, w.code);
    }
}
