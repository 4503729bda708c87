//! The command line.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::finish::Order;
use crate::input::InputFormat;
use crate::output::OutputFormat;

/// The emulator's latency scale unless told otherwise: the emulator's own default, so that
/// `parallel-batch emulator`, the embedded emulator and `parallel-emulator` run alike.
pub(crate) const EMULATOR_TIME_SCALE: f64 = 0.01;

/// Run a CSV, JSONL or Parquet file through the Parallel Task Group API, one task per row,
/// resumably.
///
/// With no `PARALLEL_API_KEY` set (or with --emulator), `run` uses an embedded local emulator,
/// so everything works offline; results are then simulated.
#[derive(Debug, Parser)]
#[command(name = "parallel-batch", version, about, long_about = None)]
pub(crate) struct Cli {
    /// The API base URL (default <https://api.parallel.ai>; e.g. an emulator's
    /// <http://127.0.0.1:8080>).
    #[arg(
        long,
        global = true,
        env = "PARALLEL_BASE_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub(crate) base_url: Option<String>,

    /// Use the embedded emulator even when `PARALLEL_API_KEY` is set.
    #[arg(long, global = true, conflicts_with = "base_url")]
    pub(crate) emulator: bool,

    /// Machine-readable output: a JSON summary on stdout, progress as JSON lines on stderr.
    #[arg(long, global = true)]
    pub(crate) json: bool,

    /// No progress display (errors, and how to resume after one, are still printed).
    #[arg(long, short, global = true)]
    pub(crate) quiet: bool,

    /// Seconds between progress lines when stderr is not a terminal.
    #[arg(long, global = true, default_value_t = 5.0, value_name = "SECONDS")]
    pub(crate) progress_interval: f64,

    /// What to do.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Examples at the end of `run --help`.
const RUN_EXAMPLES: &str = "Examples:
  Typed output columns (string unless a type is given):
    parallel-batch run companies.csv -o out.csv \\
      --columns \"ceo: CEO name, employees (integer): head count, tags (list): industries\"
  How many runs, and what they would cost, without sending anything:
    parallel-batch run companies.csv -o out.csv --columns \"ceo: CEO name\" --processor core --dry-run
  Refuse to start above USD 50, with the account's own price for core:
    parallel-batch run companies.csv -o out.csv --columns \"ceo: CEO name\" --processor core \\
      --max-cost 50 --prices core=20
  Each field's sources (ceo_citations, ceo_confidence, ceo_reasoning):
    parallel-batch run companies.csv -o out.csv --columns \"ceo: CEO name\" --basis";

/// Examples at the end of `results --help`.
const RESULTS_EXAMPLES: &str = "Examples:
  parallel-batch results tgrp_123 -o runs.csv
  parallel-batch results tgrp_123 -o runs.jsonl --basis   # with each field's sources";

/// Examples at the end of `completions --help`.
const COMPLETIONS_EXAMPLES: &str = "Examples:
  parallel-batch completions bash > ~/.local/share/bash-completion/completions/parallel-batch
  parallel-batch completions zsh > ~/.zfunc/_parallel-batch
  parallel-batch completions fish > ~/.config/fish/completions/parallel-batch.fish";

/// The subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run one task per input row and write the results as they complete.
    #[command(after_help = RUN_EXAMPLES)]
    Run(Box<RunArgs>),
    /// Show a task group's status.
    Status {
        /// The task group id (`tgrp_...`).
        group: String,
    },
    /// Wait until a task group has no active runs, showing progress.
    Wait {
        /// The task group id (`tgrp_...`).
        group: String,
    },
    /// Write every run of a task group, with its input and output, to a file.
    #[command(after_help = RESULTS_EXAMPLES)]
    Results {
        /// The task group id (`tgrp_...`).
        group: String,
        /// The file to write (`.csv`, `.jsonl` or `.parquet`), or `-` for standard output.
        #[arg(short, long)]
        output: PathBuf,
        /// The output format (default: from the extension; JSONL unless `.csv` or
        /// `.parquet`).
        #[arg(long, value_enum)]
        output_format: Option<OutputFormat>,
        /// The order of the runs in the file: by input row (`row`, from each run's client
        /// tag), or as the group's runs stream gives them.
        #[arg(long, value_enum, default_value = "input")]
        order: Order,
        /// Replace an existing file (never the output of a `run` job).
        #[arg(long)]
        force: bool,
        /// Add each output field's sources: columns `X_citations` (the URLs),
        /// `X_confidence` and `X_reasoning` for every output field `X`.
        #[arg(long)]
        basis: bool,
    },
    /// Print a task group's events as they happen, one JSON object per line.
    Events {
        /// The task group id (`tgrp_...`).
        group: String,
        /// Start after this event id (from an earlier event's `event_id`).
        #[arg(long)]
        last_event_id: Option<String>,
    },
    /// Serve the emulator on this machine until Ctrl-C.
    Emulator(EmulatorArgs),
    /// Print a completion script for a shell.
    #[command(after_help = COMPLETIONS_EXAMPLES)]
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write the man pages (`parallel-batch.1`, one per command) into a directory; what
    /// `cargo xtask man` runs.
    #[command(hide = true)]
    ManPages {
        /// The directory to write them in (it must exist).
        dir: PathBuf,
    },
}

/// `run` options.
#[derive(Debug, Clone, Args)]
pub(crate) struct RunArgs {
    /// The input file: CSV with a header line, JSON Lines, or Parquet (whose column types are
    /// kept in each run's input) (`-`: standard input, with --format; such a job cannot be
    /// resumed).
    pub(crate) input: PathBuf,

    /// The output file (`.csv`, `.jsonl` or `.parquet`); the job's state is kept beside it in
    /// the hidden directory `.<OUTPUT>.parallel-batch`. A Parquet output is written when the
    /// job completes, in input order; until then its rows are kept in that directory (`-`:
    /// standard output, JSONL unless --output-format, written when the job completes; such a
    /// job cannot be resumed).
    #[arg(short, long)]
    pub(crate) output: PathBuf,

    /// The input format (default: from the extension).
    #[arg(long, value_enum)]
    pub(crate) format: Option<InputFormat>,

    /// The CSV input's field delimiter: `,` `;` `|` `tab` or another character (default:
    /// the one of `,` `;` tab `|` the header line is delimited by).
    #[arg(long, value_name = "CHAR")]
    pub(crate) delimiter: Option<String>,

    /// The order of the rows once the job is done: `input` (the input's order), or
    /// `completion` (the order they finished in, as the output grew while the job ran). A
    /// Parquet output is always in input order.
    #[arg(long, value_enum, default_value = "input")]
    pub(crate) order: Order,

    /// The output format (default: from the extension; JSONL unless `.csv` or `.parquet`).
    #[arg(long, value_enum)]
    pub(crate) output_format: Option<OutputFormat>,

    /// A task spec JSON file (`{"output_schema": ..., "input_schema": ...}`).
    #[arg(long, value_name = "FILE", group = "task")]
    pub(crate) spec: Option<PathBuf>,

    /// A JSON schema file for the output object.
    #[arg(long, value_name = "FILE", group = "task")]
    pub(crate) output_schema: Option<PathBuf>,

    /// Output fields as "name: description, ...", strings unless a type follows the name:
    /// "employees (integer): head count, tags (list): industries" (string, integer, number,
    /// boolean, date, list).
    #[arg(long, value_name = "FIELDS", group = "task")]
    pub(crate) columns: Option<String>,

    /// Free-text output: what to write for each row.
    #[arg(long, value_name = "DESCRIPTION", group = "task")]
    pub(crate) text: Option<String>,

    /// Input columns to send, as "`column,column=new_name`,..." (default: all).
    #[arg(long, value_name = "COLUMNS")]
    pub(crate) input_columns: Option<String>,

    /// The processor for every run.
    #[arg(long, default_value = "lite-fast")]
    pub(crate) processor: String,

    /// Send a --processor name this tool does not know (a processor newer than the tool).
    #[arg(long)]
    pub(crate) allow_processor: bool,

    /// Check everything and say how many runs would be sent and what they would cost, then
    /// stop: no group is created and no file written.
    #[arg(long)]
    pub(crate) dry_run: bool,

    /// Refuse a job (or the rest of a resumed one) whose estimated cost is over this many
    /// US dollars, before anything is sent.
    #[arg(long, value_name = "USD")]
    pub(crate) max_cost: Option<f64>,

    /// Prices in USD per 1,000 runs for an account whose prices differ from the list
    /// prices, as "processor=USD,...", e.g. "core=20,pro=80" (over `PARALLEL_PRICES`).
    #[arg(long, value_name = "PRICES")]
    pub(crate) prices: Option<String>,

    /// Add each output field's sources: columns `X_citations` (the URLs), `X_confidence`
    /// and `X_reasoning` for every output field `X`.
    #[arg(long)]
    pub(crate) basis: bool,

    /// The API's limit on one row's input and the task spec together, in characters; a
    /// longer row stops the job before anything is sent.
    #[arg(long, default_value_t = crate::run::MAX_INPUT_CHARS, value_name = "CHARS")]
    pub(crate) max_input_chars: usize,

    /// The most lines one CSV row may span (quoted fields with line breaks); a longer row is
    /// an error, most likely a quote never closed.
    #[arg(long, default_value_t = crate::input::MAX_ROW_LINES, value_name = "LINES")]
    pub(crate) max_row_lines: u64,

    /// Send the rows whose runs failed again (new runs in the same group) and replace their
    /// lines; for a finished job.
    #[arg(long)]
    pub(crate) retry_failed: bool,

    /// When the job's group is gone from the server: send the rows not yet written to a new
    /// group, keeping the rows already written.
    #[arg(long)]
    pub(crate) new_group: bool,

    /// Add the runs to this existing task group instead of creating one.
    #[arg(long, value_name = "GROUP_ID")]
    pub(crate) group: Option<String>,

    /// Metadata for the group and every run, as key=value (repeatable).
    #[arg(long, value_name = "KEY=VALUE")]
    pub(crate) metadata: Vec<String>,

    /// Inputs per add-runs request (at most 1000).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub(crate) chunk_size: u16,

    /// Submitted rows not yet written, at most (bounds memory and work in flight).
    #[arg(long, default_value_t = 20_000, value_name = "ROWS")]
    pub(crate) max_in_flight: usize,

    /// Result downloads running at once.
    #[arg(long, default_value_t = 32, value_name = "N")]
    pub(crate) fetch_concurrency: usize,

    /// Say "waiting for the server" after this many seconds without news from it (0: never).
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    pub(crate) waiting_notice: f64,

    /// Replace an existing output that is not this job's (otherwise an error).
    #[arg(long)]
    pub(crate) force: bool,

    /// Embedded emulator only: latency scale (0 = instant, 1 = real-world latencies).
    #[arg(long, default_value_t = EMULATOR_TIME_SCALE, value_name = "SCALE")]
    pub(crate) emulator_time_scale: f64,

    /// Embedded emulator only: fraction of runs that fail.
    #[arg(long, default_value_t = 0.0, value_name = "RATE")]
    pub(crate) emulator_fail_rate: f64,
}

/// `emulator` options.
#[derive(Debug, Args)]
pub(crate) struct EmulatorArgs {
    /// The address to listen on (loopback only).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub(crate) listen: std::net::SocketAddr,
    /// Latency scale (0 = instant, 1 = real-world latencies).
    #[arg(long, default_value_t = EMULATOR_TIME_SCALE)]
    pub(crate) time_scale: f64,
    /// Fraction of runs that fail.
    #[arg(long, default_value_t = 0.0)]
    pub(crate) fail_rate: f64,
    /// Seed for deterministic outputs.
    #[arg(long, default_value_t = 7)]
    pub(crate) seed: u64,
    /// Require this API key (`x-api-key`); default: accept any request.
    #[arg(long, env = "PARALLEL_EMULATOR_API_KEY", hide_env_values = true)]
    pub(crate) api_key: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The command lines of an examples text, continuation lines joined, split into words
    /// as a shell would (double quotes only, which is all the examples use).
    fn example_commands(text: &str) -> Vec<Vec<String>> {
        let joined = text.replace("\\\n", " ");
        joined
            .lines()
            .map(str::trim)
            .filter(|line| line.starts_with("parallel-batch "))
            .map(|line| {
                let line = line.split("  #").next().unwrap_or(line);
                let (mut words, mut word, mut quoted) = (Vec::new(), String::new(), false);
                for c in line.chars() {
                    match c {
                        '"' => quoted = !quoted,
                        ' ' if !quoted => {
                            words.extend((!word.is_empty()).then(|| std::mem::take(&mut word)));
                        }
                        '>' if !quoted => break,
                        c => word.push(c),
                    }
                }
                words.extend((!word.is_empty()).then_some(word));
                words
            })
            .collect()
    }

    #[test]
    fn the_help_examples_are_command_lines_the_tool_takes() {
        let mut count = 0;
        for text in [RUN_EXAMPLES, RESULTS_EXAMPLES, COMPLETIONS_EXAMPLES] {
            for words in example_commands(text) {
                Cli::try_parse_from(&words).unwrap_or_else(|e| panic!("{words:?}: {e}"));
                count += 1;
            }
        }
        assert_eq!(count, 9);
    }

    #[test]
    fn the_emulator_time_scale_is_the_emulators_own_default() {
        let builder = format!("{:?}", parallel_emulator::Emulator::builder());
        assert!(
            builder.contains(&format!("time_scale: {EMULATOR_TIME_SCALE:?},")),
            "{builder}"
        );
    }
}
