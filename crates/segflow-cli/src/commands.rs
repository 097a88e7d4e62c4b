//! What each subcommand does and prints: one function per command, called by `dispatch`
//! with the command's parsed arguments.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use segflow_core::pipeline::Pipeline;
use segflow_core::runner::{self, Observer, Outcome, RunOptions, StageReport};
use segflow_core::stage::{Stage, Tally, run_standalone};
use segflow_core::{Error, Result};

use crate::progress::{Display, Progress};
use crate::{DagFormat, Failure, StageArgs};

/// `segflow run`: the pipeline's stages, then a table (or JSON) of what ran.
pub(crate) fn run(pipeline: &Path, options: RunOptions, json: bool) -> Result<u8, Box<Failure>> {
    let pipeline = load(pipeline)?;
    pipeline.check_names()?;
    let observer = Progress::new(Display::choose(json));
    let summary = runner::run(&pipeline, &options, &observer).map_err(|error| {
        Box::new(Failure {
            stage: observer.running(),
            error,
        })
    })?;
    if json {
        print_json(&summary)?;
        return Ok(0);
    }
    println!(
        "{:<16} {:<8} {:>12} {:>9}",
        "stage", "outcome", "rows", "seconds"
    );
    for s in &summary.stages {
        let outcome = match s.outcome {
            Outcome::Ran => "ran",
            Outcome::Skipped => "skipped",
        };
        println!(
            "{:<16} {:<8} {:>12} {:>9.2}",
            s.stage, outcome, s.rows, s.seconds
        );
    }
    println!(
        "{} → {} in {:.2} s",
        summary.pipeline, summary.run_dir, summary.seconds
    );
    Ok(0)
}

/// `segflow check`: the pipeline validated as `run` does before any stage runs (params and
/// their ranges, the input headers, every column name referenced), and nothing run.
pub(crate) fn check(pipeline: &Path) -> Result<u8> {
    let pipeline = load(pipeline)?;
    pipeline.check_names()?;
    println!(
        "{}: OK, {} stages checked against the input headers",
        pipeline.name,
        pipeline.stages.len()
    );
    Ok(0)
}

/// `segflow dag`: the stages and what each reads and writes.
pub(crate) fn dag(pipeline: &Path, format: DagFormat) -> Result<u8> {
    let pipeline = load(pipeline)?;
    print!(
        "{}",
        match format {
            DagFormat::Text => dag_text(&pipeline),
            DagFormat::Mermaid => dag_mermaid(&pipeline),
        }
    );
    Ok(0)
}

/// `segflow status`: each stage up to date, or stale and why.
pub(crate) fn status(pipeline: &Path, json: bool) -> Result<u8> {
    let pipeline = load(pipeline)?;
    let status = runner::status(&pipeline)?;
    if json {
        print_json(&status)?;
        return Ok(0);
    }
    for s in &status {
        if s.up_to_date {
            println!("{}: up to date", s.stage);
        } else {
            println!("{}: stale — {}", s.stage, s.reasons.join("; "));
        }
    }
    Ok(0)
}

/// `segflow verify`: exit 65 when an artifact no longer matches the lock.
pub(crate) fn verify(run_dir: &Path, json: bool) -> Result<u8> {
    let (checked, problems) = runner::verify(run_dir)?;
    if json {
        print_json(
            &serde_json::json!({ "run_dir": run_dir, "checked": checked, "problems": problems }),
        )?;
    } else if problems.is_empty() {
        println!(
            "{checked} artifacts verified in {}: all match segflow.lock",
            run_dir.display()
        );
    } else {
        for p in &problems {
            println!("CHANGED {} (stage {}): {}", p.artifact, p.stage, p.problem);
        }
        println!(
            "{} of {checked} artifacts do not match segflow.lock",
            problems.len()
        );
    }
    Ok(if problems.is_empty() { 0 } else { 65 })
}

/// `segflow <stage>`: one stage on the files given, outside any pipeline.
pub(crate) fn stage(stage: &dyn Stage, args: StageArgs) -> Result<u8, Box<Failure>> {
    let observer = Progress::new(Display::choose(args.json));
    let kind = stage.kind();
    observer.started(kind, kind);
    let started = std::time::Instant::now();
    let progress = |msg: &str| observer.message(kind, msg);
    let tally = |step: &str, t: Tally| observer.tally(kind, step, t);
    let (rows, written) = run_standalone(
        stage,
        &args.input,
        &args.params,
        &args.output_dir,
        args.seed,
        &progress,
        &tally,
    )
    .map_err(|error| {
        Box::new(Failure {
            stage: Some(stage.kind().to_string()),
            error,
        })
    })?;
    let seconds = started.elapsed().as_secs_f64();
    let warnings = segflow_core::warnings::read_written(&written)?;
    observer.finished(&StageReport {
        stage: kind.to_string(),
        kind: kind.to_string(),
        outcome: Outcome::Ran,
        rows,
        seconds,
        reasons: Vec::new(),
        warnings: warnings.clone(),
    });
    if args.json {
        let mut summary = serde_json::json!({ "stage": stage.kind(), "rows": rows, "seconds": seconds, "outputs": written });
        if !warnings.is_empty() {
            summary["warnings"] = serde_json::json!(warnings);
        }
        print_json(&summary)?;
    } else {
        println!(
            "{}: {rows} rows → {} ({} artifacts) in {seconds:.2} s",
            stage.kind(),
            args.output_dir.display(),
            written.len()
        );
    }
    Ok(0)
}

/// `segflow compare`: the drift between two runs' fits, written and summarised.
pub(crate) fn compare(run_a: &Path, run_b: &Path, output: &Path, json: bool) -> Result<u8> {
    let (a, b) = (locked_assignments(run_a)?, locked_assignments(run_b)?);
    let drift = segflow_fit::drift::compare(&a, &b)?;
    compare_outputs(&drift, &a, &b, output)?;
    if json {
        print_json(&serde_json::json!({
            "contacts_a": drift.contacts_a, "contacts_b": drift.contacts_b,
            "contacts_in_both": drift.common, "ari": drift.ari, "ami": drift.ami,
            "transitions": drift.transitions,
        }))?;
    } else {
        println!(
            "{} contacts in A, {} in B, {} in both: ARI {:.4}, AMI {:.4}",
            drift.contacts_a, drift.contacts_b, drift.common, drift.ari, drift.ami
        );
        print!("{}", drift.table());
        println!("→ {}", output.display());
    }
    Ok(0)
}

/// A run's fit assignments, checked against the hash its lock records.
fn locked_assignments(run: &Path) -> Result<PathBuf> {
    if !run.is_dir() {
        return Err(Error::NoInput {
            path: run.to_path_buf(),
            reason: "no such run directory".into(),
        });
    }
    let lock = segflow_core::lock::Lock::load_existing(run)?;
    Ok(crate::assign::locked_output(run, &lock, "fit", &["assignments.parquet"])?.path)
}

/// Writes the drift tables atomically into `dir`, with the two assignments as inputs.
fn compare_outputs(
    drift: &segflow_fit::drift::Drift,
    a: &Path,
    b: &Path,
    dir: &Path,
) -> Result<()> {
    let params = segflow_core::params::ParamTree::empty();
    let mut input_hashes = std::collections::BTreeMap::new();
    input_hashes.insert(
        "a/assignments.parquet".to_string(),
        segflow_core::hash::file_sha256(a)?,
    );
    input_hashes.insert(
        "b/assignments.parquet".to_string(),
        segflow_core::hash::file_sha256(b)?,
    );
    let provenance = segflow_core::artifact::Provenance {
        stage: "compare".into(),
        params_hash: segflow_core::hash::params_hash("compare", &params)?,
        params: segflow_core::hash::params_json(&params)?,
        input_hashes,
        seed: 0,
    };
    let planned = vec![
        segflow_core::stage::Planned::new("drift"),
        segflow_core::stage::Planned::new("transitions"),
    ];
    let mut out = segflow_core::stage::OutputDir::new(dir, provenance, planned)?;
    out.write("drift", &drift.summary_batch()?, &[])?;
    out.write("transitions", &drift.transitions_batch()?, &[])?;
    out.commit()?;
    Ok(())
}

/// `segflow synth leads`: the lead table and its truth file, with the planted segment sizes.
pub(crate) fn synth_leads(
    rows: u64,
    seed: u64,
    attributes: bool,
    output: &Path,
    truth: Option<PathBuf>,
) -> Result<u8> {
    let truth = truth.unwrap_or_else(|| output.with_extension("truth.csv"));
    let counts = segflow_synth::write_leads(rows, seed, attributes, output, &truth)?;
    println!(
        "synth leads: {rows} rows (seed {seed}) → {} and {}",
        output.display(),
        truth.display()
    );
    for ((segment, _), n) in segflow_synth::LEAD_SEGMENTS.iter().zip(counts) {
        println!("  {segment:<24} {n:>10}");
    }
    Ok(0)
}

/// `segflow synth calls`: the call log, streamed.
pub(crate) fn synth_calls(rows: u64, contacts: u64, seed: u64, output: &Path) -> Result<u8> {
    let active = segflow_synth::write_calls(rows, contacts, seed, output)?;
    println!(
        "synth calls: {rows} calls (seed {seed}) among {active} of {contacts} contacts → {}",
        output.display()
    );
    Ok(0)
}

/// `segflow assign`: new records scored with a finished run, and the contacts per segment.
pub(crate) fn assign(
    model: &Path,
    input: &[PathBuf],
    output: &Path,
    options: &crate::assign::Options<'_>,
    json: bool,
) -> Result<u8> {
    let show = std::io::stderr().is_terminal() && !json;
    let started = std::time::Instant::now();
    let progress = |msg: &str| {
        if show {
            eprintln!("assign: {msg}");
        }
    };
    let report = crate::assign::assign(model, input, output, options, &progress)?;
    let seconds = started.elapsed().as_secs_f64();
    if let Some(w) = report.window.as_ref().filter(|w| w.differs) {
        // On stderr, so it shows beside --json too.
        eprintln!(
            "assign: warning: the new records span {:.1} days, training spanned {:.1} ({:+.0} %); \
             counts and sums scale with the window, so segments shift. Window-dependent model \
             features: {}",
            w.new_days,
            w.training_days,
            w.change * 100.0,
            if w.window_dependent.is_empty() {
                "none found".to_string()
            } else {
                w.window_dependent.join(", ")
            }
        );
    }
    if json {
        print_json(&serde_json::json!({
            "rows": report.rows,
            "rows_read": report.rows_read,
            "excluded": report.excluded,
            "rejected": report.rejected,
            "too_few_events": report.too_few_events,
            "output": report.output,
            "segments": report.segments,
            "unseen_categories": report.unseen,
            "window": report.window,
            "seconds": seconds
        }))?;
        return Ok(0);
    }
    println!(
        "assign: {} rows read, {} excluded by rule, {} rejected; {} contacts scored → {} in {seconds:.2} s",
        report.rows_read,
        report.excluded,
        report.rejected,
        report.rows,
        report.output.display()
    );
    if report.too_few_events > 0 {
        println!(
            "  {} contacts left out: fewer events than the run's min_events",
            report.too_few_events
        );
    }
    for u in report.unseen.iter().filter(|u| u.count > 0) {
        println!(
            "  {}: {} {} not seen in training, scored as {}",
            u.column,
            u.count,
            if u.count == 1 { "label" } else { "labels" },
            u.scored_as
        );
    }
    let width = report
        .segments
        .iter()
        .map(|(s, _)| s.chars().count())
        .max()
        .unwrap_or(0);
    for (segment, count) in &report.segments {
        println!("  {segment:<width$} {count:>8}");
    }
    Ok(0)
}

fn load(pipeline: &Path) -> Result<Pipeline> {
    Pipeline::load(pipeline, &crate::registry())
}

/// A command's summary on stdout, pretty-printed JSON.
fn print_json(value: &impl serde::Serialize) -> Result<()> {
    println!(
        "{}",
        serde_json::to_string_pretty(value).map_err(|e| Error::Internal(e.to_string()))?
    );
    Ok(())
}

fn dag_text(p: &Pipeline) -> String {
    let mut s = format!(
        "pipeline {} (run dir {}, seed {})\n",
        p.name,
        p.run_dir.display(),
        p.seed
    );
    for spec in &p.stages {
        let from = if spec.needs.is_empty() {
            spec.inputs
                .iter()
                .map(|i| i.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        } else {
            spec.needs.join(", ")
        };
        s.push_str(&format!(
            "{} [{}] ← {}\n",
            spec.name,
            spec.stage.kind(),
            from
        ));
        for out in spec.output_paths() {
            s.push_str(&format!("    → {}\n", out.display()));
        }
    }
    s
}

fn dag_mermaid(p: &Pipeline) -> String {
    let mut s = String::from("flowchart LR\n");
    for (i, spec) in p.stages.iter().enumerate() {
        s.push_str(&format!(
            "  s{i}[\"{} ({})\"]\n",
            spec.name,
            spec.stage.kind()
        ));
        for input in &spec.inputs {
            s.push_str(&format!("  in{i}[(\"{}\")] --> s{i}\n", input.display()));
        }
    }
    for (i, spec) in p.stages.iter().enumerate() {
        for need in &spec.needs {
            if let Some(j) = p.stages.iter().position(|u| &u.name == need) {
                s.push_str(&format!("  s{j} --> s{i}\n"));
            }
        }
    }
    s
}
