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

/// The subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run one task per input row and write the results as they complete.
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

    /// Output fields as "name: description, ..." (string fields).
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

    #[test]
    fn the_emulator_time_scale_is_the_emulators_own_default() {
        let builder = format!("{:?}", parallel_emulator::Emulator::builder());
        assert!(
            builder.contains(&format!("time_scale: {EMULATOR_TIME_SCALE:?},")),
            "{builder}"
        );
    }
}
