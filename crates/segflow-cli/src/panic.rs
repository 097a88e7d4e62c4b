//! The last line of defence. A panic is a bug in segflow, never the user's doing: instead of
//! Rust's default message and exit 101, the user sees one line saying where it happened and the
//! process exits 70 (internal error), whichever thread panicked.

use std::any::Any;
use std::io::Write;
use std::panic::{self, AssertUnwindSafe, PanicHookInfo};
use std::sync::{Mutex, PoisonError};

/// The first panic of the process, as `<message> at <file:line>`. Later ones only carry it
/// further (a thread's join re-panicking in its parent) and would hide where it began.
static FIRST: Mutex<Option<String>> = Mutex::new(None);

/// Runs `main`, turning any panic (on this thread, or on a worker thread whose panic reaches
/// it, as rayon's and scoped threads' do) into exit code 70 and one line on stderr; `report`
/// also gets that line's message (for `--json`).
pub fn caught(main: impl FnOnce() -> u8, report: impl FnOnce(&str)) -> u8 {
    panic::set_hook(Box::new(record));
    match panic::catch_unwind(AssertUnwindSafe(main)) {
        Ok(code) => code,
        Err(payload) => {
            let first = FIRST.lock().unwrap_or_else(PoisonError::into_inner).take();
            let what = first.unwrap_or_else(|| message(payload.as_ref()).to_string());
            let message = format!("internal error: {what}; please report it");
            let _ = writeln!(std::io::stderr(), "{message}");
            report(&message);
            70
        }
    }
}

/// The panic hook: records the panic instead of printing Rust's default message.
fn record(info: &PanicHookInfo<'_>) {
    let mut first = FIRST.lock().unwrap_or_else(PoisonError::into_inner);
    if first.is_none() {
        let message = message(info.payload());
        *first = Some(match info.location() {
            Some(at) => format!("{message} at {}:{}", at.file(), at.line()),
            None => message.to_string(),
        });
    }
}

fn message(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "panic without a message"
    }
}

/// Exists only for the test that drives a panic through the real binary (tests/tests/
/// cli_errors.rs): `SEGFLOW_TEST_PANIC=worker` panics in a rayon worker thread, any other
/// value on the main thread. Unset, it does nothing.
pub fn deliberate_panic() {
    match std::env::var_os("SEGFLOW_TEST_PANIC") {
        Some(v) if v == "worker" => {
            rayon::scope(|s| s.spawn(|_| panic!("deliberate panic (SEGFLOW_TEST_PANIC=worker)")))
        }
        Some(_) => panic!("deliberate panic (SEGFLOW_TEST_PANIC)"),
        None => {}
    }
}
