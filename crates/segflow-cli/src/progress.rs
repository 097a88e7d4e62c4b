//! Per-stage progress on a terminal (a spinner with the stage's current step); silent when
//! stderr is not a terminal, so logs of orchestrated runs stay clean. It also remembers which
//! stage is running, which names the stage in a failed run's JSON error. A stage's weak-data
//! warnings are printed when it finishes.

use std::cell::RefCell;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use segflow_core::runner::{Observer, Outcome, StageReport};
use segflow_core::warnings::Warning;

pub struct Progress {
    enabled: bool,
    bar: RefCell<Option<ProgressBar>>,
    /// The stage started and not yet finished: the one a failed run failed in.
    running: RefCell<Option<String>>,
}

impl Progress {
    pub fn new(enabled: bool) -> Self {
        Self {
            enabled,
            bar: RefCell::new(None),
            running: RefCell::new(None),
        }
    }

    /// The stage that started and did not finish, if any.
    pub fn running(&self) -> Option<String> {
        self.running.borrow().clone()
    }
}

impl Observer for Progress {
    fn started(&self, stage: &str, kind: &str) {
        *self.running.borrow_mut() = Some(stage.to_string());
        if !self.enabled {
            return;
        }
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
        *self.bar.borrow_mut() = Some(bar);
    }

    fn message(&self, _stage: &str, message: &str) {
        if let Some(bar) = self.bar.borrow().as_ref() {
            bar.set_message(message.to_string());
        }
    }

    fn finished(&self, report: &StageReport) {
        self.running.borrow_mut().take();
        if let Some(bar) = self.bar.borrow_mut().take() {
            let what = match report.outcome {
                Outcome::Ran => format!("ran: {} rows in {:.2} s", report.rows, report.seconds),
                Outcome::Skipped => "up to date, skipped".to_string(),
            };
            bar.finish_with_message(what);
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
