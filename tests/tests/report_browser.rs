//! The reports in a real browser: headless Chromium loads report.html from disk (no network),
//! runs its render check, and the test reads back the rendered DOM and a screenshot. The
//! wholesale, leads, lead_outcomes and retail reports are read for their words: the nouns their pipelines
//! declare, and no phone-log word in any text segflow itself writes. On a developer's machine without Chromium it is skipped with a message
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

/// The browser, or None (after a message) where a developer has none; CI must have one.
fn browser_or_skip() -> Option<PathBuf> {
    let browser = chromium().filter(|b| b.is_file());
    if browser.is_none() {
        let message =
            "no Chromium found; run tests/browser/install-chromium.sh or set SEGFLOW_CHROMIUM";
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true: {message}"
        );
        eprintln!("SKIPPED: {message}");
    }
    browser
}

#[test]
fn the_report_renders_every_chart_and_names_every_segment() {
    let Some(browser) = browser_or_skip() else {
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

/// The text a reader sees in a rendered DOM: every text node (SVG labels included), with the
/// style and script elements left out and entities decoded.
fn visible_text(dom: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = dom;
    let mut skip_until: Option<&str> = None;
    while let Some(open) = rest.find('<') {
        let text = &rest[..open];
        if skip_until.is_none() && !text.trim().is_empty() {
            out.push(
                text.replace("&lt;", "<")
                    .replace("&gt;", ">")
                    .replace("&quot;", "\"")
                    .replace("&#39;", "'")
                    .replace("&amp;", "&")
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" "),
            );
        }
        let close = rest[open..].find('>').map_or(rest.len(), |c| open + c + 1);
        let tag = rest[open..close].to_ascii_lowercase();
        match skip_until {
            Some(end) if tag.starts_with(end) => skip_until = None,
            None if tag.starts_with("<style") => skip_until = Some("</style"),
            None if tag.starts_with("<script") => skip_until = Some("</script"),
            _ => {}
        }
        rest = &rest[close..];
    }
    out
}

/// Every string the pipeline YAML holds (titles, actions, limitations, feature names), with
/// whitespace collapsed: text the user wrote, exempt from the word check.
fn yaml_strings(v: &yaml_serde::Value, out: &mut Vec<String>) {
    match v {
        yaml_serde::Value::String(s) => {
            out.push(s.split_whitespace().collect::<Vec<_>>().join(" "))
        }
        yaml_serde::Value::Sequence(items) => items.iter().for_each(|i| yaml_strings(i, out)),
        yaml_serde::Value::Mapping(m) => m.iter().for_each(|(k, v)| {
            yaml_strings(k, out);
            yaml_strings(v, out);
        }),
        yaml_serde::Value::Tagged(t) => yaml_strings(&t.value, out),
        _ => {}
    }
}

/// Words of the phone log in `text`, as whole words (so "typically" is no "call") and inside
/// identifiers (`n_contacts`).
fn phone_words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .map(str::to_lowercase)
        .filter(|w| matches!(w.as_str(), "contact" | "contacts" | "call" | "calls"))
        .collect()
}

#[test]
fn phone_words_are_found_as_words_only() {
    assert_eq!(
        phone_words("n_contacts, Calls per month"),
        ["contacts", "calls"]
    );
    assert!(phone_words("typically recalled locally, Calinski").is_empty());
    let text =
        visible_text("<p>a &amp; b</p><style>.call{}</style><svg><text>Contacts</text></svg>");
    assert_eq!(text, ["a & b", "Contacts"]);
}

#[test]
fn reports_speak_the_declared_nouns_and_never_of_calls() {
    let Some(browser) = browser_or_skip() else {
        return;
    };
    for (name, nouns) in [
        // The wholesale segments' channel mix reads in the labels the pipeline gives its codes.
        (
            "wholesale",
            &["clients", "client", "Horeca", "all clients"][..],
        ),
        ("leads", &["leads", "lead"][..]),
        (
            "lead_outcomes",
            &["leads", "lead", "converted", "all leads"][..],
        ),
        (
            "retail",
            &["customers", "customer", "invoice lines", "1 month,"][..],
        ),
    ] {
        let scratch = Scratch::new(&format!("report-words-{name}"));
        let pipeline = isolated_pipeline(name, scratch.path(), |_| {});
        let out = segflow(&["run", pipeline.to_str().unwrap()]);
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        let yaml: yaml_serde::Value =
            yaml_serde::from_str(&std::fs::read_to_string(&pipeline).unwrap()).unwrap();
        let mut exempt = Vec::new();
        yaml_strings(&yaml, &mut exempt);
        exempt.sort_by_key(|s| std::cmp::Reverse(s.len()));

        let report = scratch.path().join("run/visualize/report.html");
        let url = format!("file://{}", report.display());
        let dom = headless(
            &browser,
            &scratch.path().join("profile"),
            &["--dump-dom", &url],
        );
        let dom = String::from_utf8_lossy(&dom.stdout);
        assert!(
            dom.contains("data-charts-rendered="),
            "{name}: no rendered report"
        );
        let texts = visible_text(&dom);
        let all = texts.join("\n");
        for noun in nouns {
            assert!(all.contains(noun), "{name}: the report never says {noun:?}");
        }
        if name == "retail" {
            // UCI customer numbers are 5 digits: 10^5 candidates, not a phone number space.
            assert!(
                all.contains("5 characters, digits only: a space of 100,000 values"),
                "retail: the privacy note does not describe 5-digit ids"
            );
        }
        for text in &texts {
            let mut own = text.clone();
            for s in exempt.iter().filter(|s| !s.is_empty()) {
                own = own.replace(s.as_str(), " ");
            }
            let found = phone_words(&own);
            assert!(
                found.is_empty(),
                "{name}: segflow writes {found:?} in {text:?}"
            );
        }
    }
}
