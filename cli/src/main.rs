//! `gwen`: train, evaluate and query GwEN click-through-rate models stored in RocksDB.

#![deny(unsafe_code)]
#![recursion_limit = "256"]

mod admin;
mod bench;
mod commands;
mod logging;
mod pipeline;
mod transfer;
mod trim;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// Group-wise embedding networks for CTR prediction, with tables larger than RAM.
#[derive(Debug, Parser)]
#[command(name = "gwen", version, about, long_about = None)]
struct Cli {
    /// More log output (-v debug, -vv trace).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// Only warnings and errors.
    #[arg(short, long, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Train a model on a data file read as the schema's [input] says (creating the database
    /// if needed).
    Train(commands::TrainArgs),
    /// Score a labeled file: logloss, AUC, mean prediction vs observed CTR.
    Eval(commands::EvalArgs),
    /// Write one click probability per input line.
    Predict(commands::PredictArgs),
    /// Write a synthetic Criteo-format file with a hidden, learnable click model.
    Synth(commands::SynthArgs),
    /// Generate synthetic data, train on 90% of it and evaluate on the rest.
    Demo(commands::DemoArgs),
    /// Describe a database (or one row of it): groups, sizes, files, checkpoints.
    Inspect(admin::InspectArgs),
    /// Compact the store, optionally dropping old or rare rows.
    Compact(admin::CompactArgs),
    /// List, create, restore or prune checkpoints.
    Checkpoint(admin::CheckpointArgs),
    /// Write the rows (and the MLP) of a database to portable files.
    Export(transfer::ExportArgs),
    /// Read files written by `gwen export` into a database.
    Import(transfer::ImportArgs),
    /// Measure training on a synthetic stream with every row cached, with a small cache
    /// (with and without prefetch), and raw RocksDB reads; one JSON record per configuration.
    Bench(bench::BenchArgs),
}

/// Which lines of the input file to use, shared by the commands that read data.
#[derive(Debug, Clone, Args)]
struct DataArgs {
    /// The data file (plain or gzip), in the format of the schema's [input]: Criteo TSV by
    /// default, or CSV, libsvm or libffm (docs/input.md).
    #[arg(long)]
    data: PathBuf,
    /// Skip this many records at the start of the file, unparsed (a header line is not one;
    /// a quoted value over several lines is one).
    #[arg(long, default_value_t = 0)]
    skip_lines: u64,
    /// Use at most this many samples after the skipped ones (0 = to the end).
    #[arg(long, default_value_t = 0)]
    max_lines: u64,
    /// Skip and count malformed lines instead of stopping at the first one.
    #[arg(long)]
    skip_bad_lines: bool,
    /// Samples per batch.
    #[arg(long, default_value_t = 256)]
    batch: usize,
}

/// Largest accepted `--batch`.
const MAX_BATCH: usize = 1 << 20;

impl DataArgs {
    /// Checks the arguments that need no file access.
    fn check(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            (1..=MAX_BATCH).contains(&self.batch),
            "--batch {} must be in 1..={MAX_BATCH}",
            self.batch
        );
        Ok(())
    }
}

/// Writes one line to stdout and returns the I/O result (a closed pipe is then an error the
/// command returns, and `main` treats a broken pipe as success).
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)
    }};
}
pub(crate) use say;

/// Exit code for success.
const EXIT_OK: u8 = 0;
/// Exit code for any error.
const EXIT_ERROR: u8 = 2;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help and --version: print and succeed.
            let _ = e.print();
            return ExitCode::from(EXIT_OK);
        }
        Err(e) => {
            let text = e.render().to_string();
            let first = text.lines().next().unwrap_or("invalid arguments");
            let first = first.strip_prefix("error: ").unwrap_or(first);
            eprintln!("gwen: error: {first} (see gwen --help)");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    logging::init(cli.verbose, cli.quiet);
    let _trimmer = trim::start();
    let result = match cli.command {
        Command::Train(args) => commands::train(&args),
        Command::Eval(args) => commands::eval(&args),
        Command::Predict(args) => commands::predict(&args),
        Command::Synth(args) => commands::synth(&args),
        Command::Demo(args) => commands::demo(&args),
        Command::Inspect(args) => match admin::inspect(&args) {
            Ok(false) => return ExitCode::from(admin::EXIT_NOT_FOUND),
            other => other.map(|_| ()),
        },
        Command::Compact(args) => admin::compact(&args),
        Command::Checkpoint(args) => admin::checkpoint(&args),
        Command::Export(args) => transfer::export(&args),
        Command::Import(args) => transfer::import(&args),
        Command::Bench(args) => bench::bench(&args),
    };
    match result {
        Ok(()) => ExitCode::from(EXIT_OK),
        Err(e) if is_broken_pipe(&e) => ExitCode::from(EXIT_OK),
        Err(e) => {
            logging::clear_progress();
            // One line, whatever the causes contain.
            let message = format!("{e:#}").replace(['\n', '\r'], " ");
            eprintln!("gwen: error: {message}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
