//! The `results` command: every run of a group, with its input and output, into a file.
//!
//! Each run is read on demand from the stream's bytes ([`RunResultRef`]): the run, its input
//! and its output content, not the research basis that follows them; the input and the
//! content go to the file as they came, without being decoded into trees and encoded again.
//! Batches of runs are read on the runtime's worker threads while the stream reads ahead, and
//! written to the file in stream order.
//!
//! The runs go to `FILE.partial` first, as JSON Lines, and become `FILE` once every run is
//! written and on disk: renamed for a JSON Lines file, converted for CSV and Parquet, whose
//! columns are those of every run's input and output (known only once all are read). A
//! `FILE` is always the whole group (an existing one is replaced only then), and a command
//! that fails or is interrupted leaves the runs it read in `FILE.partial`, whose name says
//! what it is.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use futures::StreamExt;
use parallel_client::add_runs::ClientTag;
use parallel_client::batch::run_error;
use parallel_client::{Client, GroupRun, GroupRunsOptions};
use parallel_types::{RunResultRef, RunStatus};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::counts::Counts;
use crate::error::Error;
use crate::files::{Companion, Fresh, with_suffix};
use crate::output::{JournalLine, KeyOrder, jsonl_line};
use crate::output::{OutputFormat, OutputWriter, Record};

/// `results`: every run of `group` to `output` (`-`: standard output), and what was written.
pub(crate) async fn command(
    client: &Client,
    group: &str,
    output: &Path,
    format: OutputFormat,
    force: bool,
    json: bool,
) -> Result<(), Error> {
    #[cfg(not(feature = "parquet"))]
    if format == OutputFormat::Parquet {
        return Err(Error::parquet_not_built());
    }
    let to_stdout = crate::run::is_dash(output);
    let counts = if to_stdout {
        write_stdout(client, group, format).await?
    } else {
        check_target(output, force)?;
        write(client, group, output, format).await?
    };
    let output = if to_stdout {
        Path::new("standard output")
    } else {
        output
    };
    print_summary(group, output, &counts, json, to_stdout);
    Ok(())
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
    if !force && std::fs::metadata(output).is_ok() {
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

/// Writes every run of `group` with its input and output to `output`; after a failure the
/// runs read before it are left in `FILE.partial`.
async fn write(
    client: &Client,
    group: &str,
    output: &Path,
    format: OutputFormat,
) -> Result<Counts, Error> {
    write_on_worker(client, group, output, format, KeepPartial::Yes).await
}

/// Writes every run of `group` to standard output, once all of them are read (through a
/// temporary file: standard output gets the whole group or nothing).
async fn write_stdout(client: &Client, group: &str, format: OutputFormat) -> Result<Counts, Error> {
    let dir =
        tempfile::tempdir().map_err(|e| Error::io("cannot create a temporary directory", e))?;
    let path = dir.path().join("runs");
    let counts = write_on_worker(client, group, &path, format, KeepPartial::No).await?;
    crate::run::copy_to_stdout(&path)?;
    Ok(counts)
}

/// Whether the runs read before a failure are kept (in `FILE.partial`, and the user told).
#[derive(Clone, Copy, PartialEq, Eq)]
enum KeepPartial {
    Yes,
    No,
}

/// Runs [`write_here`] on a worker thread of the runtime: the calling thread (the one that
/// blocks on the runtime) only waits, so the stream, the reading of runs and the file share
/// the two workers instead of handing every batch to a third thread (about 5% faster).
async fn write_on_worker(
    client: &Client,
    group: &str,
    output: &Path,
    format: OutputFormat,
    keep: KeepPartial,
) -> Result<Counts, Error> {
    let task = AbortOnDrop(tokio::spawn(write_here(
        client.clone(),
        group.to_owned(),
        output.to_owned(),
        format,
        keep,
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

async fn write_here(
    client: Client,
    group: String,
    output: PathBuf,
    format: OutputFormat,
    keep: KeepPartial,
) -> Result<Counts, Error> {
    let (group, output) = (group.as_str(), output.as_path());
    let stream = client
        .group(group)
        .runs(GroupRunsOptions::with_input_and_output());
    let mut next_index = 0u64;
    let mut batches = stream
        .ready_chunks(DECODE_BATCH)
        .map(move |runs| {
            let first = next_index;
            next_index += runs.len() as u64;
            tokio::spawn(async move { Decoded::of(runs, first) })
        })
        .buffered(DECODE_AHEAD);
    let mut file = ResultsFile::create(output, format)?;
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
        file.writer.write_jsonl(&decoded.lines)?;
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
            file.finish()?;
            Ok(counts)
        }
        Some(e) => {
            file.abandon(keep, counts.all());
            Err(e)
        }
    }
}

/// Where the runs are written until all of them are: `FILE.partial` beside `FILE`.
fn partial_path(output: &Path) -> PathBuf {
    with_suffix(output, ".partial")
}

/// A batch of runs read into JSON Lines records, up to the first failure.
#[derive(Default)]
struct Decoded {
    lines: Vec<u8>,
    counts: Counts,
    error: Option<Failure>,
}

enum Failure {
    /// The stream failed.
    Stream(parallel_client::Error),
    /// A run could not be read.
    Run(Error),
}

impl Decoded {
    /// Reads `runs`, the first of which is the stream's run number `first`.
    fn of(runs: Vec<Result<GroupRun, parallel_client::Error>>, first: u64) -> Self {
        let mut decoded = Self::default();
        for (index, run) in (first..).zip(runs) {
            let added = match run {
                Ok(run) => decoded.add(&run, index).map_err(Failure::Run),
                Err(e) => Err(Failure::Stream(e)),
            };
            if let Err(failure) = added {
                decoded.error = Some(failure);
                break;
            }
        }
        decoded
    }

    fn add(&mut self, run: &GroupRun, index: u64) -> Result<(), Error> {
        let line = RunLine::read(run, index)?;
        self.counts.add_outcome(line.completed, line.finished, 1);
        jsonl_line(&mut self.lines, &line.record())
    }
}

/// One run as a row of the file, borrowed from the stream's bytes.
struct RunLine<'a> {
    row: u64,
    input: &'a RawValue,
    output: Option<&'a RawValue>,
    run_id: Cow<'a, str>,
    status: RunStatus,
    completed: bool,
    /// Whether the run will not move on by itself (by the rule of
    /// [`TaskRunRef::is_finished`](parallel_types::TaskRunRef::is_finished)); a group read
    /// before it is done has runs that are still queued or running.
    finished: bool,
    error: Option<String>,
}

impl<'a> RunLine<'a> {
    /// Reads `run` as far as its result (the run, its own input and its output content; the
    /// research basis after them is not read); a run without a client tag takes the row
    /// `index` (its place in the stream).
    fn read(run: &'a GroupRun, index: u64) -> Result<Self, Error> {
        let event = RunResultRef::from_slice(run.json()).map_err(|e| {
            Error::api(
                format!(
                    "cannot read run {} of the group (in stream order)",
                    index + 1
                ),
                e.into(),
            )
        })?;
        let row = event
            .run
            .metadata_as::<Tag<'_>>()
            .ok()
            .flatten()
            .and_then(|tag| ClientTag::parse(tag.client_tag?.as_ref()).map(|t| t.position()))
            .unwrap_or(index);
        let completed = event.run.status == RunStatus::Completed;
        let finished = event.run.is_finished();
        // A run still queued or running has no error: it has not ended yet.
        let error = if completed || !finished {
            None
        } else {
            let run = event.run.clone().into_owned().map_err(|e| {
                Error::api_message_only("cannot read a run of the group", e.to_string())
            })?;
            Some(run_error(&run).message)
        };
        Ok(Self {
            row,
            input: event.input.unwrap_or(RawValue::NULL),
            output: event.content,
            run_id: event.run.run_id,
            status: event.run.status,
            completed,
            finished,
            error,
        })
    }

    fn record(&self) -> Record<'_> {
        Record {
            row: self.row,
            input: self.input,
            output: self.output,
            run_id: &self.run_id,
            status: self.status.as_str(),
            error: self.error.as_deref(),
        }
    }
}

/// The client tag in a run's metadata, borrowed.
#[derive(Deserialize)]
struct Tag<'a> {
    #[serde(borrow, default)]
    client_tag: Option<Cow<'a, str>>,
}

/// The output: JSON Lines in `FILE.partial` until every run is in.
struct ResultsFile<'p> {
    output: &'p Path,
    partial: PathBuf,
    format: OutputFormat,
    writer: OutputWriter,
}

impl<'p> ResultsFile<'p> {
    fn create(output: &'p Path, format: OutputFormat) -> Result<Self, Error> {
        let partial = partial_path(output);
        let writer = OutputWriter::open(&partial, OutputFormat::Jsonl, 0, None, None)?;
        Ok(Self {
            output,
            partial,
            format,
            writer,
        })
    }

    /// Puts every run on disk and makes the file.
    fn finish(mut self) -> Result<(), Error> {
        if self.format == OutputFormat::Jsonl {
            // The file is the partial file renamed: it goes to disk first.
            self.writer.sync()?;
            return std::fs::rename(&self.partial, self.output).map_err(|e| {
                Error::io(
                    format!(
                        "cannot rename {} to {}",
                        self.partial.display(),
                        self.output.display()
                    ),
                    e,
                )
            });
        }
        // CSV and Parquet are made from the partial file, and synced instead of it.
        self.writer.flush()?;
        let len = self.writer.len();
        match self.format {
            OutputFormat::Parquet => self.write_parquet(len),
            _ => self.write_csv(len),
        }
    }

    /// Turns the JSON Lines in `FILE.partial` (its first `len` bytes) into the CSV file, made
    /// beside it and renamed into place, then removes them. The columns are every input's
    /// and every output's members ([`KeyOrder`]); an output that is not an object makes
    /// one `output` column.
    fn write_csv(self, len: u64) -> Result<(), Error> {
        let (mut inputs, mut outputs, mut objects) =
            (KeyOrder::default(), KeyOrder::default(), true);
        self.each_line(len, |line| {
            match crate::spec::object_keys(line.input.get()) {
                Some(keys) => inputs.add(keys.iter().map(String::as_str)),
                None => inputs.add(["input"]),
            }
            match line.output.map(|o| (o, crate::spec::object_keys(o.get()))) {
                Some((_, Some(keys))) => outputs.add(keys.iter().map(String::as_str)),
                Some((o, None)) if o.get() != "null" => objects = false,
                _ => {}
            }
            Ok(())
        })?;
        let inputs = inputs.into_names();
        let outputs = outputs.into_names();
        let fields = (objects && !outputs.is_empty()).then_some(outputs.as_slice());
        let io = |e| Error::io(format!("cannot write {}", self.output.display()), e);
        // Removed when dropped on a failure below.
        let tmp = Fresh::beside(self.output).map_err(io)?;
        let file = tmp.file().try_clone().map_err(io)?;
        let mut writer =
            OutputWriter::create(file, self.output, OutputFormat::Csv, Some(&inputs), fields)?;
        self.each_line(len, |line| writer.write(&line.record()))?;
        writer.flush()?;
        drop(writer);
        tmp.persist(self.output).map_err(io)?;
        let _ = std::fs::remove_file(&self.partial);
        Ok(())
    }

    /// Calls `each` with every record of the first `len` bytes of `FILE.partial`.
    fn each_line(
        &self,
        len: u64,
        mut each: impl FnMut(&JournalLine<'_>) -> Result<(), Error>,
    ) -> Result<(), Error> {
        use std::io::{BufRead, Read};
        let io = |e| Error::io(format!("cannot read {}", self.partial.display()), e);
        let file = std::fs::File::open(&self.partial).map_err(io)?;
        let mut reader = std::io::BufReader::with_capacity(256 * 1024, file.take(len));
        let mut buf = Vec::new();
        loop {
            buf.clear();
            if reader.read_until(b'\n', &mut buf).map_err(io)? == 0 {
                return Ok(());
            }
            let line: JournalLine<'_> = serde_json::from_slice(&buf)
                .map_err(|e| Error::state(format!("{} is damaged: {e}", self.partial.display())))?;
            each(&line)?;
        }
    }

    /// Turns the JSON Lines in `FILE.partial` (its first `len` bytes) into the Parquet file,
    /// made beside it and renamed into place, then removes them.
    #[cfg(feature = "parquet")]
    fn write_parquet(self, len: u64) -> Result<(), Error> {
        use crate::parquet::{InputColumns, OutputColumns, Rows, WholeOutput};
        WholeOutput {
            output: self.output,
            journal: &self.partial,
            journal_len: len,
            rows: Rows::AsWritten,
            input: InputColumns::Journal { order: None },
            outputs: OutputColumns::Found,
        }
        .write()?;
        let _ = std::fs::remove_file(&self.partial);
        Ok(())
    }

    #[cfg(not(feature = "parquet"))]
    #[allow(clippy::unused_self)] // the signature of the `parquet` build's
    fn write_parquet(self, _: u64) -> Result<(), Error> {
        Err(Error::parquet_not_built())
    }

    /// After a failure: keeps the `rows` runs read so far in `FILE.partial` and says so if
    /// `keep`, else (or if there are none) leaves nothing. `FILE` is not touched.
    fn abandon(mut self, keep: KeepPartial, rows: u64) {
        let kept = keep == KeepPartial::Yes && rows > 0 && self.writer.flush().is_ok();
        if kept {
            crate::progress::notice(
                "partial",
                &format!(
                    "The {rows} runs read before the failure are in {}{}; {} was not written.",
                    self.partial.display(),
                    if self.format == OutputFormat::Jsonl {
                        ""
                    } else {
                        " (as JSON Lines)"
                    },
                    self.output.display()
                ),
            );
        } else {
            drop(self.writer);
            let _ = std::fs::remove_file(&self.partial);
        }
    }
}
