//! The Walsoft report in a real browser: headless Chromium loads report.html from disk (no
//! network), runs its render check, and the test reads back the rendered DOM and a
//! screenshot. On a developer's machine without Chromium it is skipped with a message
//! (`tests/browser/install-chromium.sh` installs Debian's); under CI (`CI=true`) a missing
//! browser fails the test, so CI can never pass without having looked at the report.

use std::path::{Path, PathBuf};
use std::process::Command;

use segflow_tests::*;

fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("SEGFLOW_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|dir| dir.join(name))
                    .find(|p| p.is_file())
            })
        })
}

fn headless(browser: &Path, profile: &Path, args: &[&str]) -> std::process::Output {
    Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--hide-scrollbars",
            "--virtual-time-budget=5000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .output()
        .expect("chromium starts")
}

#[test]
fn the_report_renders_every_chart_and_names_every_segment() {
    let browser = chromium().filter(|b| b.is_file());
    let Some(browser) = browser else {
        let message =
            "no Chromium found; run tests/browser/install-chromium.sh or set SEGFLOW_CHROMIUM";
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true: {message}"
        );
        eprintln!("SKIPPED: {message}");
        return;
    };
    let scratch = Scratch::new("report-browser");
    let pipeline = isolated_pipeline("walsoft", scratch.path(), |_| {});
    let out = segflow(&["run", pipeline.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report = scratch.path().join("run/visualize/report.html");
    let url = format!("file://{}", report.display());
    let profile = scratch.path().join("profile");

    let dom = headless(&browser, &profile, &["--dump-dom", &url]);
    let dom_text = String::from_utf8_lossy(&dom.stdout);
    assert!(
        dom_text.contains("data-charts-rendered=\"15/15\""),
        "not every chart rendered: {}",
        dom_text
            .lines()
            .find(|l| l.contains("<body"))
            .unwrap_or("no <body> in the dumped DOM")
    );
    for name in ["One-off", "Warm occasional", "Core active", "Rare deep"] {
        assert!(
            dom_text.contains(&format!("<h3>{name}</h3>")),
            "segment {name} missing"
        );
    }

    let shot = scratch.path().join("report.png");
    let o = headless(
        &browser,
        &profile,
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1280,2400",
            &url,
        ],
    );
    assert!(shot.is_file(), "{}", String::from_utf8_lossy(&o.stderr));
    let png = std::fs::read(&shot).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert!(
        png.len() > 50_000,
        "a blank page is small: {} bytes",
        png.len()
    );
    if let Some(keep) = std::env::var_os("SEGFLOW_REPORT_SCREENSHOT") {
        std::fs::copy(&shot, keep).unwrap();
    }
}
