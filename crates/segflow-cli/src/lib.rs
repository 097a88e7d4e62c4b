//! The `segflow` command line: a thin clap layer over the stage crates and the runner in
//! segflow-core. Every failure maps to a sysexits exit code (see `segflow_core::Error`).

mod assign;
mod model_version;
mod panic;
mod progress;

use std::ffi::OsString;
use std::io::IsTerminal;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use segflow_core::pipeline::Pipeline;
use segflow_core::runner::{self, Outcome, RunOptions};
use segflow_core::stage::{Registry, Stage, run_standalone};
use segflow_core::{Error, Result};

/// Every stage kind this build knows, in pipeline order.
pub fn registry() -> Registry {
    Registry::new(vec![
        &segflow_ingest::IngestStage,
        &segflow_features::FeaturesStage,
        &segflow_preprocess::PreprocessStage,
        &segflow_select_k::SelectKStage,
        &segflow_fit::FitStage,
        &segflow_robustness::RobustnessStage,
        &segflow_visualize::VisualizeStage,
    ])
}

#[derive(Parser)]
#[command(
    name = "segflow",
    version,
    about = "Behavioural records → audited customer/contact segments, as a pipeline of Parquet stages."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a pipeline, skipping stages that are up to date.
    Run {
        pipeline: PathBuf,
        /// Run only this stage (its inputs must exist).
        #[arg(long)]
        only: Option<String>,
        /// Re-run this stage and every stage downstream of it.
        #[arg(long)]
        from: Option<String>,
        /// Re-run every selected stage even if up to date.
        #[arg(long)]
        force: bool,
        /// Print the run summary as JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Print the pipeline's stages and their dependencies.
    Dag {
        pipeline: PathBuf,
        #[arg(long, value_enum, default_value_t = DagFormat::Text)]
        format: DagFormat,
    },
    /// Show which stages are stale and why.
    Status {
        pipeline: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Recompute the hash of every artifact in a run directory against its lock file.
    Verify {
        run_dir: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Ingest one CSV file (events or entity table) into Parquet, with rejects and audit.
    Ingest(StageArgs),
    /// Compute per-contact features from an events or table artifact.
    Features(StageArgs),
    /// Build the model matrix from a features artifact (and save the fitted transform).
    Preprocess(StageArgs),
    /// Score K over a range on the model matrix and choose one by the params' rule.
    SelectK(StageArgs),
    /// Fit the final segments (K from a select_k decision input or `k` in the params), with
    /// cards, profile, names, actions and summary tables.
    Fit(StageArgs),
    /// Seed stability, drop-one-block sensitivity and bootstrap stability of a fit.
    Robustness(StageArgs),
    /// PCA, SVG charts and the self-contained HTML report of a run.
    Visualize(StageArgs),
    /// Compare the segments of two finished runs (a re-training, or other settings): ARI and
    /// AMI over the contacts both saw, and who moved from which segment to which.
    Compare {
        run_a: PathBuf,
        run_b: PathBuf,
        /// Directory for drift.parquet and transitions.parquet.
        #[arg(long)]
        output: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Generate realistic test data, deterministically from a seed.
    Synth {
        #[command(subcommand)]
        what: Synth,
    },
    /// Score new records with a finished run: its ingest and features params, saved
    /// transform and centroids; writes id, segment and action per contact.
    Assign {
        /// Run directory of a pipeline run through fit (holds segflow.lock).
        #[arg(long)]
        model: PathBuf,
        /// New records in the same CSV layout as the run's ingest input.
        #[arg(long)]
        input: PathBuf,
        /// Parquet file to write (atomically).
        #[arg(long)]
        output: PathBuf,
        /// Reference time for recency features (`YYYY-MM-DD HH:MM:SS`); default: the
        /// pipeline's rule applied to the new records.
        #[arg(long)]
        as_of: Option<String>,
        /// Print a JSON summary on stdout.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum Synth {
    /// A lead table (12 numeric features, five planted segments kept in a truth file).
    Leads {
        #[arg(long)]
        rows: u64,
        #[arg(long, default_value_t = segflow_core::pipeline::DEFAULT_SEED)]
        seed: u64,
        /// CSV to write.
        #[arg(long)]
        output: PathBuf,
        /// CSV of the planted segment per lead; default: OUTPUT with `.truth.csv`.
        #[arg(long)]
        truth: Option<PathBuf>,
    },
    /// A call log in the Walsoft layout, streamed: any number of rows in constant memory.
    Calls {
        #[arg(long)]
        rows: u64,
        #[arg(long)]
        contacts: u64,
        #[arg(long, default_value_t = segflow_core::pipeline::DEFAULT_SEED)]
        seed: u64,
        /// CSV to write.
        #[arg(long)]
        output: PathBuf,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum DagFormat {
    Text,
    Mermaid,
}

/// The orchestrator interface shared by every stage subcommand.
#[derive(Args)]
struct StageArgs {
    /// Input file(s).
    #[arg(long, required = true)]
    input: Vec<PathBuf>,
    /// Directory to write the stage's artifacts into (atomically).
    #[arg(long)]
    output_dir: PathBuf,
    /// YAML file with the stage's params (the keys of its block in a pipeline).
    #[arg(long)]
    params: PathBuf,
    /// Seed recorded in provenance and used by stochastic stages.
    #[arg(long, default_value_t = segflow_core::pipeline::DEFAULT_SEED)]
    seed: u64,
    /// Print a JSON summary on stdout.
    #[arg(long)]
    json: bool,
}

impl Command {
    /// Whether the command reports on stdout as JSON.
    fn json(&self) -> bool {
        match self {
            Command::Run { json, .. }
            | Command::Status { json, .. }
            | Command::Verify { json, .. }
            | Command::Compare { json, .. }
            | Command::Assign { json, .. } => *json,
            Command::Ingest(args)
            | Command::Features(args)
            | Command::Preprocess(args)
            | Command::SelectK(args)
            | Command::Fit(args)
            | Command::Robustness(args)
            | Command::Visualize(args) => args.json,
            Command::Dag { .. } | Command::Synth { .. } => false,
        }
    }
}

/// A failed command: the error, and the stage that raised it when one was running. Boxed
/// where it is returned, so the success path does not carry its size.
struct Failure {
    stage: Option<String>,
    error: Error,
}

impl From<Error> for Box<Failure> {
    fn from(error: Error) -> Self {
        Box::new(Failure { stage: None, error })
    }
}

/// Runs the command line and returns the process exit code; a panic ends as exit 70.
pub fn main(args: impl IntoIterator<Item = OsString>) -> u8 {
    panic::caught(|| {
        panic::deliberate_panic();
        run(args)
    })
}

fn run(args: impl IntoIterator<Item = OsString>) -> u8 {
    let args: Vec<OsString> = args.into_iter().collect();
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            if matches!(
                e.kind(),
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion
            ) {
                return 0;
            }
            // The command line did not parse, so only its words say whether JSON was asked for.
            if args.iter().any(|a| a == "--json") {
                print_error_json(None, 64, e.to_string().trim_end());
            }
            return 64;
        }
    };
    let json = cli.command.json();
    match dispatch(cli.command) {
        Ok(code) => code,
        Err(failure) => {
            let Failure { stage, error } = *failure;
            eprintln!("segflow: error: {error}");
            if json {
                print_error_json(stage.as_deref(), error.exit_code(), &error.to_string());
            }
            error.exit_code()
        }
    }
}

/// What a `--json` command prints on stdout when it fails, in place of its summary, so an
/// orchestrator reading stdout learns which stage failed and why (stderr keeps the message
/// for people). `stage` is null when the failure came before or between stages.
fn print_error_json(stage: Option<&str>, exit_code: u8, message: &str) {
    let report = serde_json::json!({
        "error": { "stage": stage, "exit_code": exit_code, "message": message }
    });
    println!("{report:#}");
}

fn dispatch(command: Command) -> Result<u8, Box<Failure>> {
    let registry = registry();
    match command {
        Command::Run {
            pipeline,
            only,
            from,
            force,
            json,
        } => {
            let pipeline = Pipeline::load(&pipeline, &registry)?;
            let observer = progress::Progress::new(std::io::stderr().is_terminal());
            let summary = runner::run(&pipeline, &RunOptions { only, from, force }, &observer)
                .map_err(|error| {
                    Box::new(Failure {
                        stage: observer.running(),
                        error,
                    })
                })?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&summary)
                        .map_err(|e| Error::Internal(e.to_string()))?
                );
            } else {
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
            }
            Ok(0)
        }
        Command::Dag { pipeline, format } => {
            let pipeline = Pipeline::load(&pipeline, &registry)?;
            print!(
                "{}",
                match format {
                    DagFormat::Text => dag_text(&pipeline),
                    DagFormat::Mermaid => dag_mermaid(&pipeline),
                }
            );
            Ok(0)
        }
        Command::Status { pipeline, json } => {
            let pipeline = Pipeline::load(&pipeline, &registry)?;
            let status = runner::status(&pipeline)?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&status)
                        .map_err(|e| Error::Internal(e.to_string()))?
                );
            } else {
                for s in &status {
                    if s.up_to_date {
                        println!("{}: up to date", s.stage);
                    } else {
                        println!("{}: stale — {}", s.stage, s.reasons.join("; "));
                    }
                }
            }
            Ok(0)
        }
        Command::Verify { run_dir, json } => {
            let (checked, problems) = runner::verify(&run_dir)?;
            if json {
                let report = serde_json::json!({ "run_dir": run_dir, "checked": checked, "problems": problems });
                println!(
                    "{}",
                    serde_json::to_string_pretty(&report)
                        .map_err(|e| Error::Internal(e.to_string()))?
                );
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
        Command::Ingest(args) => standalone(&segflow_ingest::IngestStage, args),
        Command::Features(args) => standalone(&segflow_features::FeaturesStage, args),
        Command::Preprocess(args) => standalone(&segflow_preprocess::PreprocessStage, args),
        Command::SelectK(args) => standalone(&segflow_select_k::SelectKStage, args),
        Command::Fit(args) => standalone(&segflow_fit::FitStage, args),
        Command::Robustness(args) => standalone(&segflow_robustness::RobustnessStage, args),
        Command::Visualize(args) => standalone(&segflow_visualize::VisualizeStage, args),
        Command::Compare {
            run_a,
            run_b,
            output,
            json,
        } => {
            let assignments = |run: &PathBuf| -> Result<PathBuf> {
                if !run.is_dir() {
                    return Err(Error::NoInput {
                        path: run.clone(),
                        reason: "no such run directory".into(),
                    });
                }
                let lock = segflow_core::lock::Lock::load_existing(run)?;
                Ok(assign::locked_output(run, &lock, "fit", &["assignments.parquet"])?.path)
            };
            let (a, b) = (assignments(&run_a)?, assignments(&run_b)?);
            let drift = segflow_fit::drift::compare(&a, &b)?;
            compare_outputs(&drift, &a, &b, &output)?;
            if json {
                let value = serde_json::json!({
                    "contacts_a": drift.contacts_a, "contacts_b": drift.contacts_b,
                    "contacts_in_both": drift.common, "ari": drift.ari, "ami": drift.ami,
                    "transitions": drift.transitions,
                });
                println!(
                    "{}",
                    serde_json::to_string_pretty(&value)
                        .map_err(|e| Error::Internal(e.to_string()))?
                );
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
        Command::Synth {
            what:
                Synth::Leads {
                    rows,
                    seed,
                    output,
                    truth,
                },
        } => {
            let truth = truth.unwrap_or_else(|| output.with_extension("truth.csv"));
            let counts = segflow_synth::write_leads(rows, seed, &output, &truth)?;
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
        Command::Synth {
            what:
                Synth::Calls {
                    rows,
                    contacts,
                    seed,
                    output,
                },
        } => {
            let active = segflow_synth::write_calls(rows, contacts, seed, &output)?;
            println!(
                "synth calls: {rows} calls (seed {seed}) among {active} of {contacts} contacts → {}",
                output.display()
            );
            Ok(0)
        }
        Command::Assign {
            model,
            input,
            output,
            as_of,
            json,
        } => {
            let show = std::io::stderr().is_terminal() && !json;
            let started = std::time::Instant::now();
            let progress = |msg: &str| {
                if show {
                    eprintln!("assign: {msg}");
                }
            };
            let report = assign::assign(&model, &input, &output, as_of.as_deref(), &progress)?;
            let seconds = started.elapsed().as_secs_f64();
            if json {
                let value = serde_json::json!({ "rows": report.rows, "output": report.output, "segments": report.segments, "seconds": seconds });
                println!(
                    "{}",
                    serde_json::to_string_pretty(&value)
                        .map_err(|e| Error::Internal(e.to_string()))?
                );
            } else {
                println!(
                    "assign: {} contacts → {} in {seconds:.2} s",
                    report.rows,
                    report.output.display()
                );
                for (segment, count) in &report.segments {
                    println!("  {segment:<24} {count:>8}");
                }
            }
            Ok(0)
        }
    }
}

/// Writes the drift tables atomically into `dir`, with the two assignments as inputs.
fn compare_outputs(
    drift: &segflow_fit::drift::Drift,
    a: &std::path::Path,
    b: &std::path::Path,
    dir: &std::path::Path,
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

fn standalone(stage: &dyn Stage, args: StageArgs) -> Result<u8, Box<Failure>> {
    let show = std::io::stderr().is_terminal() && !args.json;
    let started = std::time::Instant::now();
    let progress = |msg: &str| {
        if show {
            eprintln!("{}: {msg}", stage.kind());
        }
    };
    let (rows, written) = run_standalone(
        stage,
        &args.input,
        &args.params,
        &args.output_dir,
        args.seed,
        &progress,
    )
    .map_err(|error| {
        Box::new(Failure {
            stage: Some(stage.kind().to_string()),
            error,
        })
    })?;
    let seconds = started.elapsed().as_secs_f64();
    if args.json {
        let report = serde_json::json!({ "stage": stage.kind(), "rows": rows, "seconds": seconds, "outputs": written });
        println!(
            "{}",
            serde_json::to_string_pretty(&report).map_err(|e| Error::Internal(e.to_string()))?
        );
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
