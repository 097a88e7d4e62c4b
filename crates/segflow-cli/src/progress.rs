//! Per-stage progress on a terminal (a spinner with the stage's current step); silent when
//! stderr is not a terminal, so logs of orchestrated runs stay clean.

use std::cell::RefCell;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use segflow_core::runner::{Observer, Outcome, StageReport};

pub struct Progress {
    enabled: bool,
    bar: RefCell<Option<ProgressBar>>,
}

impl Progress {
    pub fn new(enabled: bool) -> Self {
        Self {
            enabled,
            bar: RefCell::new(None),
        }
    }
}

impl Observer for Progress {
    fn started(&self, stage: &str, kind: &str) {
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
        if let Some(bar) = self.bar.borrow_mut().take() {
            let what = match report.outcome {
                Outcome::Ran => format!("ran: {} rows in {:.2} s", report.rows, report.seconds),
                Outcome::Skipped => "up to date, skipped".to_string(),
            };
            bar.finish_with_message(what);
        }
    }
}
