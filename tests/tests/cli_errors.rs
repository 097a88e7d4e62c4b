//! Every documented error path: its sysexits code, a message naming the problem, and no
//! artifact (nor staging leftover) in the run directory.

use segflow_tests::*;

const WHOLESALE: &str = "data/wholesale_customers/wholesale_customers.csv";

/// Runs `segflow run` on the walsoft pipeline as edited, and checks the failure.
fn run_fails(
    name: &str,
    edit: impl FnOnce(&mut yaml_serde::Value),
    code: i32,
    message: &[&str],
) -> Scratch {
    let scratch = Scratch::new(name);
    let pipeline = isolated_pipeline("walsoft", scratch.path(), edit);
    let out = segflow(&["run", pipeline.to_str().unwrap()]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(code), "{name}: stderr was {err}");
    for m in message {
        assert!(err.contains(m), "{name}: `{m}` not in: {err}");
    }
    assert_eq!(
        files_under(&scratch.path().join("run")),
        Vec::<String>::new(),
        "{name}: artifacts left behind"
    );
    scratch
}

fn yaml(s: &str) -> yaml_serde::Value {
    yaml_serde::from_str(s).unwrap()
}

#[test]
fn unknown_top_level_key_is_a_config_error() {
    run_fails(
        "top-key",
        |d| d["schedule"] = yaml("daily"),
        78,
        &["schedule", "unknown key"],
    );
}

#[test]
fn unknown_stage_param_names_the_key() {
    run_fails(
        "param-key",
        |d| d["stages"]["ingest"]["delimeter"] = yaml("';'"),
        78,
        &["stages.ingest", "delimeter"],
    );
    run_fails(
        "nested-key",
        |d| d["stages"]["ingest"]["columns"]["contakt"] = yaml("x"),
        78,
        &["stages.ingest.columns", "contakt"],
    );
    run_fails(
        "feature-agg",
        |d| d["stages"]["features"]["blocks"]["volume"]["n_calls"] = yaml("kount"),
        78,
        &["stages.features.blocks", "n_calls", "kount"],
    );
}

#[test]
fn a_seed_outside_numpys_range_is_refused_before_anything_runs() {
    // k-means reads the seed as scikit-learn's random_state, numpy's 32-bit RandomState seed.
    run_fails(
        "seed-range",
        |d| d["seed"] = yaml("4294967296"),
        78,
        &["seed", "4294967295"],
    );
    run_fails(
        "robustness-seed-range",
        |d| d["stages"]["robustness"]["seeds"] = yaml("[1, 4294967296]"),
        78,
        &["seeds", "4294967295"],
    );
    let out = segflow(&[
        "select-k",
        "--input",
        "m.parquet",
        "--output-dir",
        "out",
        "--params",
        "p.yaml",
        "--seed",
        "4294967296",
    ]);
    assert_eq!(out.status.code(), Some(64), "{}", stderr(&out));
    assert!(stderr(&out).contains("--seed"), "{}", stderr(&out));
}

#[test]
fn unknown_stage_kind_is_a_config_error() {
    run_fails(
        "stage-kind",
        |d| d["stages"]["clusterize"] = yaml("{needs: [features]}"),
        78,
        &["stages.clusterize", "unknown stage kind"],
    );
    run_fails(
        "needs-unknown",
        |d| d["stages"]["features"]["needs"] = yaml("[ingets]"),
        78,
        &["stages.features.needs", "ingets"],
    );
}

#[test]
fn dependency_cycle_is_a_config_error() {
    run_fails(
        "cycle",
        |d| {
            d["stages"]["ingest"]["needs"] = yaml("[features2]");
            d["stages"]["features2"] = d["stages"]["features"].clone();
            d["stages"]["features2"]["uses"] = yaml("features");
            d["stages"]["features2"]["needs"] = yaml("[features]");
        },
        78,
        &["dependency cycle"],
    );
}

#[test]
fn missing_input_is_a_config_error() {
    run_fails(
        "missing-input",
        |d| d["stages"]["ingest"]["input"] = yaml("data/nope.csv"),
        78,
        &["stages.ingest.input", "data/nope.csv", "does not exist"],
    );
    run_fails(
        "no-upstream",
        |d| d["stages"]["features"]["needs"] = yaml("[]"),
        78,
        &["stages.features.needs", "events or table"],
    );
}

#[test]
fn output_dir_escaping_the_run_dir_is_a_config_error() {
    run_fails(
        "escape",
        |d| d["stages"]["features"]["output_dir"] = yaml("../../elsewhere"),
        78,
        &["stages.features.output_dir", "escapes the run directory"],
    );
    run_fails(
        "absolute",
        |d| d["stages"]["features"]["output_dir"] = yaml("/tmp/features"),
        78,
        &["stages.features.output_dir"],
    );
}

/// A run replaces a stage's directory as a whole, so one stage's directory inside another's
/// would be wiped by it.
#[test]
fn output_dirs_one_inside_another_are_a_config_error() {
    run_fails(
        "nested",
        |d| d["stages"]["fit"]["output_dir"] = yaml("features/fit"),
        78,
        &[
            "stages.fit.output_dir",
            "stage `features`'s",
            "lie one inside the other",
        ],
    );
    run_fails(
        "shared",
        |d| d["stages"]["fit"]["output_dir"] = yaml("features"),
        78,
        &[
            "stages.fit.output_dir",
            "already stage `features`'s output directory",
        ],
    );
}

#[test]
fn missing_hmac_key_is_a_config_error() {
    let scratch = Scratch::new("hmac-missing");
    let pipeline = isolated_pipeline("walsoft", scratch.path(), |d| {
        d["stages"]["ingest"]["privacy"]["id"] =
            yaml("{method: hmac_sha256, key_env: SEGFLOW_TEST_ABSENT_KEY}");
    });
    let out = segflow_env(
        &["run", pipeline.to_str().unwrap()],
        &[("SEGFLOW_TEST_ABSENT_KEY", None)],
    );
    assert_eq!(out.status.code(), Some(78), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("stages.ingest.privacy.id.key_env"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("SEGFLOW_TEST_ABSENT_KEY is not set"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        files_under(&scratch.path().join("run")),
        Vec::<String>::new()
    );
}

/// A small call log with one bad row of each kind.
const BAD_CSV: &str = "date_stamp,time,day-of_week,month,year,dialled_phone_number,name,duration_in_seconds,category\n\
1/1/2022,16:03:01,Saturday,January,2022,648578192,Abel,179,Unknown\n\
1/1/2022,16:06:17,Saturday,January,2022,814500001,Husband,-66,Family\n\
13/45/2022,19:08:44,Saturday,January,2022,814500001,Husband,38,Family\n\
1/2/2022,19:08:44,Sunday,January,2022,814500001,Husband\n\
1/2/2022,20:03:11,Sunday,January,2022,694500003.0,Daughter,1283,Family\n";

#[test]
fn rejects_over_the_threshold_fail_with_65_and_leave_nothing() {
    let scratch = run_fails_with_csv("rejects-over", BAD_CSV, None);
    drop(scratch);
}

fn run_fails_with_csv(name: &str, csv: &str, max_reject: Option<f64>) -> Scratch {
    let scratch = Scratch::new(name);
    let csv_path = scratch.path().join("calls.csv");
    std::fs::write(&csv_path, csv).unwrap();
    let pipeline = isolated_pipeline("walsoft", scratch.path(), |d| {
        d["stages"]["ingest"]["input"] = yaml_serde::Value::String(csv_path.display().to_string());
        if let Some(m) = max_reject {
            d["stages"]["ingest"]["max_reject_fraction"] = yaml_serde::to_value(m).unwrap();
        }
    });
    // Two accepted calls are too few to choose among K = 2..12: ingest only.
    let out = segflow(&["run", pipeline.to_str().unwrap(), "--only", "ingest"]);
    if max_reject.is_none() {
        assert_eq!(out.status.code(), Some(65), "{}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains("3 of 5 rows rejected"), "{err}");
        assert!(
            err.contains("calls.csv, line 3, column `duration_in_seconds`"),
            "{err}"
        );
        assert!(err.contains("negative value"), "{err}");
        assert_eq!(
            files_under(&scratch.path().join("run")),
            Vec::<String>::new()
        );
    } else {
        assert!(out.status.success(), "{}", stderr(&out));
    }
    scratch
}

#[test]
fn tolerated_rejects_are_listed_with_line_field_and_reason() {
    let scratch = run_fails_with_csv("rejects-ok", BAD_CSV, Some(0.7));
    let rejects = render_full(&scratch.path().join("run/ingest/rejects.parquet"));
    let rows: Vec<&str> = rejects
        .lines()
        .skip_while(|l| !l.starts_with("source_line |"))
        .skip(1)
        .collect();
    assert_eq!(
        rows,
        [
            "3 | duration_in_seconds | negative value | -66",
            "4 | date_stamp | cannot parse as date with format %m/%d/%Y | 13/45/2022",
            "5 | ∅ | expected 9 fields, found 7 | ∅",
        ]
    );
    let events = render_full(&scratch.path().join("run/ingest/events.parquet"));
    // 694500003.0 is read as the number 694500003, as the reference hashes it.
    assert!(
        events.contains(&segflow_core::hash::sha256_hex(b"694500003")[..12]),
        "{events}"
    );
    let summary = render_full(&scratch.path().join("run/ingest/audit_summary.parquet"));
    assert!(summary.contains("5 | 9 | 2 | 3 | 0.6 |"), "{summary}");
}

#[test]
fn missing_required_column_is_a_data_error() {
    let scratch = Scratch::new("missing-column");
    let csv_path = scratch.path().join("calls.csv");
    std::fs::write(&csv_path, "date_stamp,time,dialled_phone_number,name,category\n1/1/2022,16:03:01,648578192,Abel,Unknown\n").unwrap();
    let pipeline = isolated_pipeline("walsoft", scratch.path(), |d| {
        d["stages"]["ingest"]["input"] = yaml_serde::Value::String(csv_path.display().to_string());
    });
    let out = segflow(&["run", pipeline.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(65), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("column `duration_in_seconds`: required column is missing"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        files_under(&scratch.path().join("run")),
        Vec::<String>::new()
    );
}

#[test]
fn standalone_stage_with_a_missing_input_exits_66() {
    let scratch = Scratch::new("standalone-missing");
    let params = scratch.path().join("p.yaml");
    std::fs::write(&params, "mode: table\n").unwrap();
    let out_dir = scratch.path().join("out");
    let out = run_stage(
        "ingest",
        "data/absent.csv",
        &out_dir,
        params.to_str().unwrap(),
    );
    assert_eq!(out.status.code(), Some(66), "{}", stderr(&out));
    assert!(stderr(&out).contains("data/absent.csv"));
    assert!(!out_dir.exists());
    let out = run_stage("ingest", WHOLESALE, &out_dir, "absent.yaml");
    assert_eq!(out.status.code(), Some(66), "{}", stderr(&out));
    assert!(!out_dir.exists());
}

#[test]
fn bad_params_file_exits_78_naming_file_and_key() {
    let scratch = Scratch::new("standalone-params");
    let params = scratch.path().join("p.yaml");
    std::fs::write(&params, "mode: table\nmax_reject_fraction: 2\n").unwrap();
    let out_dir = scratch.path().join("out");
    let out = run_stage("ingest", WHOLESALE, &out_dir, params.to_str().unwrap());
    assert_eq!(out.status.code(), Some(78), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("p.yaml: params.max_reject_fraction"),
        "{}",
        stderr(&out)
    );
    assert!(!out_dir.exists());
}

#[test]
fn command_line_misuse_exits_64() {
    assert_eq!(segflow(&["run"]).status.code(), Some(64));
    assert_eq!(segflow(&["frobnicate"]).status.code(), Some(64));
    assert_eq!(
        segflow(&["run", "pipelines/walsoft.yaml", "--only", "nonexistent"])
            .status
            .code(),
        Some(64)
    );
    assert_eq!(segflow(&["--help"]).status.code(), Some(0));
}

#[test]
fn verify_without_a_lock_exits_66() {
    let scratch = Scratch::new("verify-nolock");
    let out = segflow(&["verify", scratch.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(66));
    assert!(stderr(&out).contains("segflow.lock"));
}

#[test]
fn dag_prints_text_and_mermaid() {
    let text = stdout(&segflow(&["dag", "pipelines/walsoft.yaml"]));
    assert!(
        text.contains("ingest [ingest] ← data/walsoft/walsoft_semi_categorized_phone_dataset.csv"),
        "{text}"
    );
    assert!(text.contains("features [features] ← ingest"), "{text}");
    assert!(
        text.contains("→ runs/walsoft/features/features.parquet"),
        "{text}"
    );
    let mermaid = stdout(&segflow(&[
        "dag",
        "pipelines/walsoft.yaml",
        "--format",
        "mermaid",
    ]));
    assert!(mermaid.starts_with("flowchart LR\n"), "{mermaid}");
    assert!(mermaid.contains("s0 --> s1"), "{mermaid}");
}

#[test]
fn fit_params_are_checked_by_key_before_any_stage_runs() {
    run_fails(
        "fit-role-key",
        |d| d["stages"]["fit"]["naming"]["roles"][0]["bye"] = yaml("[{lowest: n_calls}]"),
        78,
        &["stages.fit.naming.roles[0]", "bye"],
    );
    run_fails(
        "fit-k",
        |d| d["stages"]["fit"]["k"] = yaml("1"),
        78,
        &["stages.fit.k", "K ≥ 2"],
    );
    // Feature names are derived from the features spec before anything runs: a misspelled
    // one stops the run before ingest writes anything.
    run_fails(
        "fit-unknown-feature",
        |d| d["stages"]["fit"]["naming"]["roles"][1]["by"] = yaml("[{highest: n_callz}]"),
        78,
        &[
            "stages.fit.naming.roles[1].by[0].highest",
            "n_callz",
            "did you mean `n_calls`",
        ],
    );
}

/// Hostile pipeline files are refused as config errors before any stage runs: deep flow
/// nesting (the YAML scanner is quadratic in it) and an alias bomb.
#[test]
fn hostile_yaml_is_refused_before_parsing_blows_up() {
    let scratch = Scratch::new("hostile-yaml");
    let laughs = (1..=9).fold(
        String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"),
        |doc, i| {
            let refs = vec![format!("*a{}", i - 1); 9].join(", ");
            doc + &format!("a{i}: &a{i} [{refs}]\n")
        },
    );
    let cases = [
        (
            "deep-10k.yaml",
            format!(
                "pipeline: x\nstages: {}{}\n",
                "[".repeat(10_000),
                "]".repeat(10_000)
            ),
            "nested deeper than 64 levels at line 2",
        ),
        (
            "deep-100k.yaml",
            format!("pipeline: x\nstages: {}\n", "[".repeat(100_000)),
            "nested deeper than 64 levels at line 2",
        ),
        (
            "laughs.yaml",
            format!("pipeline: x\n{laughs}stages: *a9\n"),
            "not valid YAML",
        ),
    ];
    for (file, text, message) in cases {
        let path = scratch.path().join(file);
        std::fs::write(&path, text).unwrap();
        let out = segflow(&["run", path.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(78), "{file}: {}", stderr(&out));
        assert!(stderr(&out).contains(message), "{file}: {}", stderr(&out));
        assert!(stderr(&out).contains(file), "{file}: {}", stderr(&out));
    }
}

/// An error inside a `{variant: data}` param names the whole key path down to the variant.
#[test]
fn errors_inside_enum_params_name_the_full_path() {
    run_fails(
        "enum-path",
        |d| d["stages"]["features"]["blocks"]["duration"]["p90_dur_sec"] = yaml("{quantile: high}"),
        78,
        &[
            "stages.features.blocks.duration.p90_dur_sec.quantile",
            "expected f64",
        ],
    );
}

/// The error object a failed `--json` command printed on stdout, after checking that stdout
/// holds nothing else and stderr still has the message for people.
fn json_error(out: &std::process::Output, code: i32) -> serde_json::Value {
    assert_eq!(out.status.code(), Some(code), "{}", stderr(out));
    assert!(stderr(out).contains("error"), "stderr: {}", stderr(out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON value ({e}): {}", stdout(out)));
    let error = &report["error"];
    assert_eq!(error["exit_code"], code, "{report}");
    assert!(
        error["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{report}"
    );
    error.clone()
}

#[test]
fn failed_json_commands_print_the_error_as_json_on_stdout() {
    // Bad data inside a stage: the stage is named, the message is the one on stderr.
    let scratch = Scratch::new("json-errors");
    let csv_path = scratch.path().join("calls.csv");
    std::fs::write(&csv_path, BAD_CSV).unwrap();
    let pipeline = isolated_pipeline("walsoft", scratch.path(), |d| {
        d["stages"]["ingest"]["input"] = yaml_serde::Value::String(csv_path.display().to_string());
    });
    let p = pipeline.to_str().unwrap();
    let out = segflow(&["run", p, "--only", "ingest", "--json"]);
    let error = json_error(&out, 65);
    assert_eq!(error["stage"], "ingest");
    let message = error["message"].as_str().unwrap();
    assert!(message.contains("3 of 5 rows rejected"), "{message}");
    assert!(stderr(&out).contains(message), "{}", stderr(&out));
    // Without --json stdout stays empty.
    let out = segflow(&["run", p, "--only", "ingest"]);
    assert_eq!(out.status.code(), Some(65));
    assert_eq!(stdout(&out), "");

    // A later stage whose input is missing: that stage, not the first one.
    let out = segflow(&["run", p, "--only", "features", "--json"]);
    let error = json_error(&out, 66);
    assert_eq!(error["stage"], "features");

    // Before any stage runs: the pipeline YAML or the command line.
    let out = segflow(&["run", p, "--only", "nonexistent", "--json"]);
    assert!(json_error(&out, 64)["stage"].is_null());
    let other = Scratch::new("json-errors-yaml");
    let bad_yaml = isolated_pipeline("walsoft", other.path(), |d| d["schedule"] = yaml("daily"));
    let out = segflow(&["run", bad_yaml.to_str().unwrap(), "--json"]);
    assert!(json_error(&out, 78)["stage"].is_null());
    let out = segflow(&["run", "--json"]);
    assert!(json_error(&out, 64)["stage"].is_null());

    // A stage subcommand names its stage.
    let params = scratch.path().join("p.yaml");
    std::fs::write(&params, "mode: table\n").unwrap();
    let out = segflow(&[
        "ingest",
        "--input",
        "data/absent.csv",
        "--output-dir",
        scratch.path().join("out").to_str().unwrap(),
        "--params",
        params.to_str().unwrap(),
        "--json",
    ]);
    let error = json_error(&out, 66);
    assert_eq!(error["stage"], "ingest");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("data/absent.csv"),
        "{error}"
    );
}

#[test]
fn a_panic_exits_70_with_one_line_saying_where_on_any_thread() {
    for (trigger, message) in [
        ("1", "deliberate panic (SEGFLOW_TEST_PANIC)"),
        ("worker", "deliberate panic (SEGFLOW_TEST_PANIC=worker)"),
    ] {
        let out = segflow_env(
            &["run", "pipelines/walsoft.yaml", "--json"],
            &[("SEGFLOW_TEST_PANIC", Some(trigger))],
        );
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(70), "{trigger}: {err}");
        // With --json, the same line as one JSON error object on stdout.
        let report: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{trigger}: stdout is not JSON ({e}): {}", stdout(&out)));
        assert_eq!(report["error"]["exit_code"], 70, "{report}");
        assert_eq!(
            report["error"]["message"].as_str(),
            err.lines().next(),
            "{report}"
        );
        // Exactly one line: Rust's own panic message and backtrace are not shown.
        let line = err.strip_suffix('\n').unwrap_or(&err);
        assert!(!line.contains('\n'), "{trigger}: more than one line: {err}");
        let place = line
            .strip_prefix(&format!("internal error: {message} at "))
            .and_then(|rest| rest.strip_suffix("; please report it"))
            .unwrap_or_else(|| panic!("{trigger}: unexpected line: {line}"));
        // The place is the source line of the panic.
        let (file, number) = place.rsplit_once(':').unwrap();
        let source = std::fs::read_to_string(repo_root().join(file)).unwrap();
        let code = source
            .lines()
            .nth(number.parse::<usize>().unwrap() - 1)
            .unwrap();
        assert!(code.contains("panic!("), "{trigger}: {place} is `{code}`");
    }
}

/// Whether this system lets an unprivileged process mount a tmpfs in its own namespace.
fn can_mount_tmpfs() -> bool {
    std::process::Command::new("unshare")
        .args(["-rm", "sh", "-c", "mount -t tmpfs tmpfs \"$1\"", "sh"])
        .arg(std::env::temp_dir())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn a_full_disk_exits_74_naming_the_file_and_keeps_earlier_artifacts_verified() {
    if !can_mount_tmpfs() {
        // CI's machines allow it: there the test must run, never skip.
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true: `unshare -rm` cannot mount a tmpfs, so the full-disk test cannot run"
        );
        eprintln!("skipped: `unshare -rm` cannot mount a tmpfs here");
        return;
    }
    // The same run on a roomy disk gives the sizes: the small disk holds ingest's artifacts and
    // the lock, and half of features.parquet.
    let roomy = Scratch::new("disk-roomy");
    let pipeline = isolated_pipeline("walsoft", roomy.path(), |d| stop_after(d, "features"));
    let out = segflow(&["run", pipeline.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let run = roomy.path().join("run");
    let size = |rel: &str| std::fs::metadata(run.join(rel)).unwrap().len();
    let pages = |bytes: u64| bytes.div_ceil(4096) * 4096;
    let ingest: u64 = files_under(&run)
        .iter()
        .filter(|f| f.starts_with("ingest/"))
        .map(|f| pages(size(f)))
        .sum();
    let lock = pages(size("segflow.lock"));
    let features = size("features/features.parquet");
    assert!(
        features / 2 > 2 * lock,
        "features.parquet ({features} B) too small to tell apart"
    );
    let disk = ingest + 2 * lock + features / 2;

    let scratch = Scratch::new("disk-full");
    let pipeline = isolated_pipeline("walsoft", scratch.path(), |d| stop_after(d, "features"));
    let run = scratch.path().join("run");
    std::fs::create_dir_all(&run).unwrap();
    let report = scratch.path().join("report");
    std::fs::create_dir_all(&report).unwrap();
    // The tmpfs lives as long as the shell: everything is observed from inside it.
    let script = r#"mount -t tmpfs -o size="$1" tmpfs "$2" || exit 99
"$3" run "$4" --json >"$5/stdout" 2>"$5/stderr"; echo $? >"$5/code"
find "$2" >"$5/files"
"$3" verify "$2" >"$5/verify" 2>&1; echo $? >"$5/verify_code""#;
    let status = std::process::Command::new("unshare")
        .args(["-rm", "sh", "-c", script, "sh"])
        .arg(disk.to_string())
        .arg(&run)
        .arg(binary())
        .arg(&pipeline)
        .arg(&report)
        .current_dir(repo_root())
        .status()
        .unwrap();
    assert!(status.success(), "{status}");
    let read = |name: &str| std::fs::read_to_string(report.join(name)).unwrap();
    let err = read("stderr");
    assert_eq!(read("code").trim(), "74", "{err}");
    assert!(
        err.contains("features.parquet") && err.contains("No space left on device"),
        "{err}"
    );
    assert_no_summary(&read("stdout"));
    let files = read("files");
    assert!(
        !files.contains("staging") && !files.contains(".tmp-") && !files.contains("features"),
        "{files}"
    );
    assert!(files.contains("ingest/events.parquet"), "{files}");
    assert_eq!(read("verify_code").trim(), "0", "{}", read("verify"));
    assert!(read("verify").contains("all match segflow.lock"));
}
