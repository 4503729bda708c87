//! The `results` command: every run of a group, with its input and output, into a file.
//!
//! Each run is read on demand from the stream's bytes ([`RunResultRef`]): the run, its input
//! and its output content, not the research basis that follows them; the input and the
//! content go to the file as they came, without being decoded into trees and encoded again.
//! Batches of runs are read on the runtime's worker threads while the stream reads ahead, and
//! written to the file in stream order.
//!
//! The runs go to `FILE.partial` first, as JSON Lines, and become `FILE` once every run is
//! written: put in input order (by `row`) unless `--order completion`, then renamed for a
//! JSON Lines file, converted for CSV and Parquet, whose columns are those of every run's
//! input and output (known only once all are read). A `FILE` is always the whole group (an
//! existing one is replaced only then), and a command that fails or is interrupted leaves
//! the runs it read in `FILE.partial`, whose name says what it is.

mod file;

use std::path::{Path, PathBuf};

use futures::StreamExt;
use parallel_client::{Client, GroupRunsOptions};

use crate::counts::Counts;
use crate::error::Error;
use crate::files::Companion;
use crate::finish::Order;
use crate::group_runs::{Decoded, Failure};
use crate::output::OutputFormat;
use file::ResultsFile;

/// What `results` is asked for.
pub(crate) struct Export<'a> {
    pub(crate) group: &'a str,
    /// The file to write, or `-`: standard output.
    pub(crate) output: &'a Path,
    pub(crate) format: OutputFormat,
    pub(crate) order: Order,
    /// Replace an existing file (never a `run` job's output).
    pub(crate) force: bool,
    /// Add each output field's sources (`--basis`).
    pub(crate) basis: bool,
}

impl Export<'_> {
    /// Writes every run of the group, then says what was written.
    pub(crate) async fn run(&self, client: &Client, json: bool) -> Result<(), Error> {
        #[cfg(not(feature = "parquet"))]
        if self.format == OutputFormat::Parquet {
            return Err(Error::parquet_not_built());
        }
        let to_stdout = crate::run::is_dash(self.output);
        let counts = if to_stdout {
            self.write_stdout(client).await?
        } else {
            check_target(self.output, self.force)?;
            let target = self.target(self.output, KeepPartial::Yes);
            write_on_worker(client, self.group, target).await?
        };
        let output = if to_stdout {
            Path::new("standard output")
        } else {
            self.output
        };
        print_summary(self.group, output, &counts, json, to_stdout);
        Ok(())
    }

    /// Writes every run to standard output, once all of them are read (through a temporary
    /// file: standard output gets the whole group or nothing).
    async fn write_stdout(&self, client: &Client) -> Result<Counts, Error> {
        let dir =
            tempfile::tempdir().map_err(|e| Error::io("cannot create a temporary directory", e))?;
        let path = dir.path().join("runs");
        let target = self.target(&path, KeepPartial::No);
        let counts = write_on_worker(client, self.group, target).await?;
        crate::run::copy_to_stdout(&path)?;
        Ok(counts)
    }

    fn target(&self, output: &Path, keep: KeepPartial) -> Target {
        Target {
            output: output.to_owned(),
            format: self.format,
            order: self.order,
            keep,
            basis: self.basis,
        }
    }
}

/// What was written, on standard error (or standard output with `--json`, unless the runs
/// went there).
fn print_summary(group: &str, output: &Path, counts: &Counts, json: bool, to_stdout: bool) {
    if json {
        let summary = serde_json::json!({"group_id": group, "output": output,
            "rows": counts.all(), "completed": counts.completed, "failed": counts.failed,
            "unfinished": counts.unfinished});
        if to_stdout {
            eprintln!("{summary}");
        } else {
            println!("{summary}");
        }
    } else {
        let unfinished = if counts.unfinished > 0 {
            format!(", {} not finished yet", counts.unfinished)
        } else {
            String::new()
        };
        eprintln!(
            "Wrote {} runs of {group} to {} ({} completed, {} not completed{unfinished}).",
            counts.all(),
            output.display(),
            counts.completed,
            counts.failed
        );
    }
    if counts.unfinished > 0 {
        crate::progress::notice(
            "unfinished",
            &format!(
                "{} of these runs were not finished yet (queued or running): the group is \
                 still running. `parallel-batch wait {group}` waits until it is done; run \
                 `results` again then to have every result.",
                counts.unfinished
            ),
        );
    }
}

/// Refuses to write over the output of a `run` job (its state file or lock says so), and
/// over any other existing file unless `force`.
fn check_target(output: &Path, force: bool) -> Result<(), Error> {
    let job = Companion::of(output);
    if crate::files::earlier::in_use(&job) {
        return Err(Error::usage(format!(
            "{} is the output of a `run` job (its state is in {}); writing the group's runs \
             there would break that job's resume. Choose another file",
            output.display(),
            job.state().display()
        )));
    }
    // A link counts as a file there (dangling or not): it is replaced, never written through.
    if !force && output.symlink_metadata().is_ok() {
        return Err(Error::usage(format!(
            "{} already exists; pass --force to replace it, or choose another file",
            output.display()
        )));
    }
    Ok(())
}

/// Runs decoded by one task. Reading each event's JSON is most of this command's work:
/// batches of this size let both cores decode while the stream reads ahead, at a cost per
/// task that is small beside the batch's.
const DECODE_BATCH: usize = 256;
/// Batches decoded at once; the file takes them in stream order.
const DECODE_AHEAD: usize = 4;

/// Where and how the runs are written.
struct Target {
    output: PathBuf,
    format: OutputFormat,
    order: Order,
    keep: KeepPartial,
    /// Add each output's sources.
    basis: bool,
}

/// Whether the runs read before a failure are kept (in `FILE.partial`, and the user told).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeepPartial {
    Yes,
    No,
}

/// Runs [`write_here`] on a worker thread of the runtime: the calling thread (the one that
/// blocks on the runtime) only waits, so the stream, the reading of runs and the file share
/// the two workers instead of handing every batch to a third thread (about 5% faster).
async fn write_on_worker(client: &Client, group: &str, target: Target) -> Result<Counts, Error> {
    let task = AbortOnDrop(tokio::spawn(write_here(
        client.clone(),
        group.to_owned(),
        target,
    )));
    task.await
        .map_err(|e| Error::state(format!("internal: writing the runs of {group} failed: {e}")))?
}

/// A task that stops when its handle is dropped (the command interrupted), as the future it
/// replaces would.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> std::future::Future for AbortOnDrop<T> {
    type Output = Result<T, tokio::task::JoinError>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        std::pin::Pin::new(&mut self.0).poll(cx)
    }
}

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Writes every run of `group` with its input and output to the target; after a failure
/// the runs read before it are left in `FILE.partial` (if the target keeps them).
async fn write_here(client: Client, group: String, target: Target) -> Result<Counts, Error> {
    let group = group.as_str();
    let stream = client
        .group(group)
        .runs(GroupRunsOptions::with_input_and_output());
    let mut next_index = 0u64;
    let basis = target.basis;
    let mut batches = stream
        .ready_chunks(DECODE_BATCH)
        .map(move |runs| {
            let first = next_index;
            next_index += runs.len() as u64;
            tokio::spawn(async move { Decoded::of(runs, first, basis) })
        })
        .buffered(DECODE_AHEAD);
    let mut file = ResultsFile::create(&target.output, target.format)?;
    let mut counts = Counts::default();
    let failure = loop {
        let Some(decoded) = batches.next().await else {
            break None;
        };
        let decoded = match decoded {
            Ok(decoded) => decoded,
            Err(e) => {
                break Some(Error::state(format!(
                    "internal: reading the runs of {group} failed: {e}"
                )));
            }
        };
        counts.add(decoded.counts);
        file.append(&decoded.lines)?;
        match decoded.error {
            None => {}
            Some(Failure::Stream(e)) => {
                break Some(Error::api(format!("cannot read the runs of {group}"), e));
            }
            Some(Failure::Run(e)) => break Some(e),
        }
    };
    match failure {
        None => {
            file.finish(target.order)?;
            Ok(counts)
        }
        Some(e) => {
            file.abandon(target.keep, counts.all());
            Err(e)
        }
    }
}
