//! The `segflow` command line: a thin clap layer over the stage crates and the runner in
//! segflow-core. Every failure maps to a sysexits exit code (see `segflow_core::Error`).

mod assign;
mod assign_table;
mod commands;
mod model_version;
mod panic;
mod progress;
mod spill;
mod sql;
mod sql_score;

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use segflow_core::Error;
use segflow_core::runner::RunOptions;
use segflow_core::stage::Registry;

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
    /// Check a pipeline without running it: params, ranges, input headers and every column
    /// name referenced (exit 0, or the config error).
    Check { pipeline: PathBuf },
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
    /// SQL for the engines a warehouse already runs (Spark, DuckDB, PostgreSQL).
    Sql {
        #[command(subcommand)]
        what: sql::Sql,
    },
    /// Score new records with a finished run: its ingest and features params, saved
    /// transform and centroids; writes id, segment and action per contact.
    Assign {
        /// Run directory of a pipeline run through fit (holds segflow.lock).
        #[arg(long)]
        model: PathBuf,
        /// New records in the layout of the run's ingest input: the raw file as it comes
        /// (the run's derivations, filters and dedupe are applied again). Repeat it for a run
        /// that ingested several sources, one file per source in the pipeline's order.
        #[arg(long, required = true)]
        input: Vec<PathBuf>,
        /// Parquet file to write (atomically).
        #[arg(long)]
        output: PathBuf,
        /// Reference time for recency features (`YYYY-MM-DD HH:MM:SS`); default: the
        /// pipeline's rule applied to the new records.
        #[arg(long)]
        as_of: Option<String>,
        /// Fail when more than this share of the new rows is rejected (default: the run's
        /// ingest `max_reject_fraction`).
        #[arg(long)]
        max_reject_fraction: Option<f64>,
        /// Add per row the runner-up segment, the squared-distance margin to it, and the three
        /// features that pull the row most towards its own segment, with their contributions.
        #[arg(long)]
        explain: bool,
        /// Entity-table runs: rows read and scored per batch (default 16,384). Memory grows
        /// with it; the output does not depend on it.
        #[arg(long)]
        batch_rows: Option<usize>,
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
        /// Also write categorical attributes (industry, region, lead source, yes/no flags)
        /// and a `converted` outcome that differs between the planted segments.
        #[arg(long)]
        attributes: bool,
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
    /// Seed recorded in provenance and used by stochastic stages; scikit-learn's
    /// `random_state` for k-means, so 0..=4294967295.
    #[arg(long, default_value_t = segflow_core::pipeline::DEFAULT_SEED,
          value_parser = clap::value_parser!(u64).range(..=u32::MAX as u64))]
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
            Command::Check { .. }
            | Command::Dag { .. }
            | Command::Synth { .. }
            | Command::Sql { .. } => false,
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
    let args: Vec<OsString> = args.into_iter().collect();
    // A panic can come before or after the command line parsed: its words say whether JSON
    // was asked for. Whatever summary was being built is lost, so the stage is not named.
    let json = args.iter().any(|a| a == "--json");
    panic::caught(
        move || {
            panic::deliberate_panic();
            run(args)
        },
        |message| {
            if json {
                print_error_json(None, 70, message);
            }
        },
    )
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

/// Runs the parsed command. Only `run` and the stage subcommands can name the stage that
/// failed; every other command's error converts to a failure with no stage.
fn dispatch(command: Command) -> Result<u8, Box<Failure>> {
    match command {
        Command::Run {
            pipeline,
            only,
            from,
            force,
            json,
        } => commands::run(&pipeline, RunOptions { only, from, force }, json),
        Command::Check { pipeline } => Ok(commands::check(&pipeline)?),
        Command::Dag { pipeline, format } => Ok(commands::dag(&pipeline, format)?),
        Command::Status { pipeline, json } => Ok(commands::status(&pipeline, json)?),
        Command::Verify { run_dir, json } => Ok(commands::verify(&run_dir, json)?),
        Command::Ingest(args) => commands::stage(&segflow_ingest::IngestStage, args),
        Command::Features(args) => commands::stage(&segflow_features::FeaturesStage, args),
        Command::Preprocess(args) => commands::stage(&segflow_preprocess::PreprocessStage, args),
        Command::SelectK(args) => commands::stage(&segflow_select_k::SelectKStage, args),
        Command::Fit(args) => commands::stage(&segflow_fit::FitStage, args),
        Command::Robustness(args) => commands::stage(&segflow_robustness::RobustnessStage, args),
        Command::Visualize(args) => commands::stage(&segflow_visualize::VisualizeStage, args),
        Command::Compare {
            run_a,
            run_b,
            output,
            json,
        } => Ok(commands::compare(&run_a, &run_b, &output, json)?),
        Command::Synth {
            what:
                Synth::Leads {
                    rows,
                    seed,
                    output,
                    truth,
                    attributes,
                },
        } => Ok(commands::synth_leads(
            rows, seed, attributes, &output, truth,
        )?),
        Command::Synth {
            what:
                Synth::Calls {
                    rows,
                    contacts,
                    seed,
                    output,
                },
        } => Ok(commands::synth_calls(rows, contacts, seed, &output)?),
        Command::Sql { what } => Ok(sql::run(what)?),
        Command::Assign {
            model,
            input,
            output,
            as_of,
            max_reject_fraction,
            explain,
            batch_rows,
            json,
        } => Ok(commands::assign(
            &model,
            &input,
            &output,
            &assign::Options {
                as_of: as_of.as_deref(),
                max_reject_fraction,
                explain,
                batch_rows,
            },
            json,
        )?),
    }
}
