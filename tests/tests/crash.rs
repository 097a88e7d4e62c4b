//! Crash safety: `segflow run` SIGKILLed at points spread over a whole run, then rerun. Each
//! time the rerun completes, `segflow verify` is clean, and every artifact is byte-identical to
//! an uninterrupted run's: over the default pipeline, and over a generated log large enough
//! that ingest and features stream it in several batches.

use std::path::Path;
use std::process::Command;
use std::sync::Mutex;
use std::time::Instant;

use segflow_tests::*;

/// Every artifact of a run (the lock names absolute paths, so it is compared by `verify`).
fn artifacts(run: &Path) -> Vec<(String, Vec<u8>)> {
    files_under(run)
        .into_iter()
        .filter(|f| f != "segflow.lock")
        .map(|f| (f.clone(), std::fs::read(run.join(&f)).unwrap()))
        .collect()
}

/// Runs `pipeline` uninterrupted into a reference directory, then `attempts` times in `dir`:
/// SIGKILLs `segflow run --force` at points spread evenly over the uninterrupted run's length
/// and checks that a rerun completes, `verify` is clean and every artifact equals the
/// reference's, and that at least half the kills landed mid-run.
fn kill_and_resume(name: &str, attempts: u32, edit: impl Fn(&mut yaml_serde::Value)) {
    // One at a time: kill points are fractions of a timed run, which a concurrent one slows.
    static SERIAL: Mutex<()> = Mutex::new(());
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let reference = Scratch::new(&format!("{name}-reference"));
    let pipeline = isolated_pipeline("walsoft", reference.path(), &edit);
    let started = Instant::now();
    let out = segflow(&["run", pipeline.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let full = started.elapsed();
    let expected = artifacts(&reference.path().join("run"));

    let scratch = Scratch::new(name);
    let pipeline = isolated_pipeline("walsoft", scratch.path(), &edit);
    let p = pipeline.to_str().unwrap();
    let run = scratch.path().join("run");
    let mut killed = 0;
    for i in 0..attempts {
        let delay = full.mul_f64((f64::from(i) + 0.5) / f64::from(attempts));
        let mut child = Command::new(binary())
            .args(["run", p, "--force"])
            .current_dir(repo_root())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
            killed += 1;
        }
        child.wait().unwrap();

        let resumed = segflow(&["run", p]);
        assert!(
            resumed.status.success(),
            "after kill {i}: {}",
            stderr(&resumed)
        );
        let verify = segflow(&["verify", run.to_str().unwrap()]);
        assert!(
            verify.status.success(),
            "after kill {i}: {}",
            stdout(&verify)
        );
        let got = artifacts(&run);
        assert_eq!(
            got.iter().map(|f| &f.0).collect::<Vec<_>>(),
            expected.iter().map(|f| &f.0).collect::<Vec<_>>(),
            "after kill {i} ({delay:?}): leftovers or missing artifacts"
        );
        for ((name, a), (_, b)) in got.iter().zip(&expected) {
            assert!(a == b, "after kill {i} ({delay:?}): {name} differs");
        }
    }
    assert!(
        killed >= attempts / 2,
        "only {killed} of {attempts} runs were still running when killed"
    );
    eprintln!("{killed} runs SIGKILLed mid-flight over a {full:?} run; all resumed identically");
}

#[test]
fn killed_runs_resume_to_byte_identical_artifacts() {
    kill_and_resume("crash", 12, |doc| stop_after(doc, "fit"));
}

/// Kills that land while ingest and features stream a log of several batches and row groups.
#[test]
fn runs_killed_while_streaming_a_large_log_resume_identically() {
    let scratch = Scratch::new("crash-stream-log");
    let calls = scratch.path().join("calls.csv");
    synth_calls(&calls, 300_000, 80_000, 5);
    kill_and_resume("crash-stream", 6, |doc| {
        stop_after(doc, "features");
        doc["stages"]["ingest"]["input"] = calls.to_str().unwrap().into();
    });
}
