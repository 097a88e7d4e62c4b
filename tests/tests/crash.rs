//! Crash safety: `segflow run` SIGKILLed at points spread over a whole run, then rerun. Each
//! time the rerun completes, `segflow verify` is clean, and every artifact is byte-identical to
//! an uninterrupted run's.

use std::path::Path;
use std::process::Command;
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

#[test]
fn killed_runs_resume_to_byte_identical_artifacts() {
    let reference = Scratch::new("crash-reference");
    let pipeline = isolated_pipeline("walsoft", reference.path(), |doc| stop_after(doc, "fit"));
    let started = Instant::now();
    let out = segflow(&["run", pipeline.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let full = started.elapsed();
    let expected = artifacts(&reference.path().join("run"));

    let scratch = Scratch::new("crash");
    let pipeline = isolated_pipeline("walsoft", scratch.path(), |doc| stop_after(doc, "fit"));
    let p = pipeline.to_str().unwrap();
    let run = scratch.path().join("run");
    let attempts = 12;
    let mut killed = 0;
    for i in 0..attempts {
        // Kill points spread evenly over the length of an uninterrupted run.
        let delay = full.mul_f64((i as f64 + 0.5) / attempts as f64);
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
