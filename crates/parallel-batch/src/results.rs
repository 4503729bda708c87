//! The `results` command: every run of a group, with its input and output, into a file.
//!
//! Each run is read on demand from the stream's bytes ([`RunResultRef`]): the run, its input
//! and its output content, not the research basis that follows them; the input and the
//! content go to the file as they came, without being decoded into trees and encoded again.
//! Batches of runs are read on the runtime's worker threads while the stream reads ahead, and
//! written to the file in stream order.
//!
//! The runs go to `FILE.partial` first, renamed to `FILE` once every run is written and on
//! disk: a `FILE` is always the whole group (an existing one is replaced only then), and a
//! command that fails or is interrupted leaves the runs it read in `FILE.partial`, whose name
//! says what it is.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use futures::StreamExt;
use parallel_client::add_runs::ClientTag;
use parallel_client::batch::run_error;
use parallel_client::{Client, GroupRun, GroupRunsOptions};
use parallel_types::{RunResultRef, RunStatus};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::output::jsonl_line;
use crate::{Error, OutputFormat, OutputWriter, Record};

/// Rows held (at most) until the first completed JSON output names the CSV columns.
const MAX_BUFFERED: usize = 10_000;

/// Refuses to write over the output of a `run` job (its state file or lock says so), and
/// over any other existing file unless `force`.
pub(crate) fn check_target(output: &Path, force: bool) -> Result<(), Error> {
    if crate::state::state_path(output).exists() || crate::run::OutputLock::is_held(output) {
        return Err(Error::usage(format!(
            "{} is the output of a `run` job (its state is in {}); writing the group's runs \
             there would break that job's resume. Choose another file",
            output.display(),
            crate::state::state_path(output).display()
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
pub(crate) async fn write(
    client: &Client,
    group: &str,
    output: &Path,
    format: OutputFormat,
) -> Result<Exported, Error> {
    write_on_worker(client, group, output, format, KeepPartial::Yes).await
}

/// Writes every run of `group` to standard output, once all of them are read (through a
/// temporary file: standard output gets the whole group or nothing).
pub(crate) async fn write_stdout(
    client: &Client,
    group: &str,
    format: OutputFormat,
) -> Result<Exported, Error> {
    let dir =
        tempfile::tempdir().map_err(|e| Error::io("cannot create a temporary directory", e))?;
    let path = dir.path().join("runs");
    let counts = write_on_worker(client, group, &path, format, KeepPartial::No).await?;
    let mut file = std::fs::File::open(&path)
        .map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?;
    let mut out = std::io::stdout().lock();
    std::io::copy(&mut file, &mut out)
        .and_then(|_| std::io::Write::flush(&mut out))
        .map_err(|e| Error::io("cannot write standard output", e))?;
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
) -> Result<Exported, Error> {
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
) -> Result<Exported, Error> {
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
            tokio::spawn(async move { Decoded::of(runs, first, format) })
        })
        .buffered(DECODE_AHEAD);
    let mut file = ResultsFile {
        partial: partial_path(output),
        output,
        format,
        writer: None,
        buffer: Vec::new(),
    };
    let mut counts = Exported::default();
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
        counts.add_all(decoded.counts);
        file.write_jsonl(&decoded.lines)?;
        for row in decoded.held {
            file.write(row)?;
        }
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
            file.abandon(keep, counts.runs());
            Err(e)
        }
    }
}

/// Where the runs are written until all of them are: `FILE.partial` beside `FILE`.
pub(crate) fn partial_path(output: &Path) -> PathBuf {
    let mut name = output.as_os_str().to_owned();
    name.push(".partial");
    PathBuf::from(name)
}

/// A batch of runs read into rows, up to the first failure: JSON Lines records ready for the
/// file, or for CSV rows whose columns the file decides.
#[derive(Default)]
struct Decoded {
    lines: Vec<u8>,
    held: Vec<Held>,
    counts: Exported,
    error: Option<Failure>,
}

/// The runs written, by how they stand.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Exported {
    /// Completed, with an output.
    pub(crate) completed: u64,
    /// Finished without an output (failed, cancelled, waiting for action).
    pub(crate) failed: u64,
    /// Not finished yet (queued, running): the group was read before it was done.
    pub(crate) unfinished: u64,
}

impl Exported {
    /// Every run written.
    pub(crate) fn runs(&self) -> u64 {
        self.completed + self.failed + self.unfinished
    }

    fn add(&mut self, line: &RunLine<'_>) {
        if line.completed {
            self.completed += 1;
        } else if line.finished {
            self.failed += 1;
        } else {
            self.unfinished += 1;
        }
    }

    fn add_all(&mut self, other: Self) {
        self.completed += other.completed;
        self.failed += other.failed;
        self.unfinished += other.unfinished;
    }
}

enum Failure {
    /// The stream failed.
    Stream(parallel_client::Error),
    /// A run could not be read.
    Run(Error),
}

impl Decoded {
    /// Reads `runs`, the first of which is the stream's run number `first`, for a file in
    /// `format`.
    fn of(
        runs: Vec<Result<GroupRun, parallel_client::Error>>,
        first: u64,
        format: OutputFormat,
    ) -> Self {
        let mut decoded = Self::default();
        for (index, run) in (first..).zip(runs) {
            let added = match run {
                Ok(run) => decoded.add(&run, index, format).map_err(Failure::Run),
                Err(e) => Err(Failure::Stream(e)),
            };
            if let Err(failure) = added {
                decoded.error = Some(failure);
                break;
            }
        }
        decoded
    }

    fn add(&mut self, run: &GroupRun, index: u64, format: OutputFormat) -> Result<(), Error> {
        let line = RunLine::read(run, index)?;
        self.counts.add(&line);
        match format {
            OutputFormat::Csv => self.held.push(Held::from(&line)),
            OutputFormat::Jsonl | OutputFormat::Parquet => {
                jsonl_line(&mut self.lines, &line.record())?;
            }
        }
        Ok(())
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
    /// Whether the run will not move on by itself ([`TaskRunRef::is_finished`](parallel_types::TaskRunRef::is_finished)); a group
    /// read before it is done has runs that are still queued or running.
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

/// A run as a row of the file, owned: decoded on another task, or held until the CSV
/// columns are known.
struct Held {
    row: u64,
    input: Box<RawValue>,
    output: Option<Box<RawValue>>,
    run_id: String,
    status: String,
    error: Option<String>,
}

impl From<&RunLine<'_>> for Held {
    fn from(line: &RunLine<'_>) -> Self {
        Self {
            row: line.row,
            input: line.input.to_owned(),
            output: line.output.map(RawValue::to_owned),
            run_id: line.run_id.clone().into_owned(),
            status: line.status.as_str().to_owned(),
            error: line.error.clone(),
        }
    }
}

impl Held {
    fn record(&self) -> Record<'_> {
        Record {
            row: self.row,
            input: &self.input,
            output: self.output.as_deref(),
            run_id: &self.run_id,
            status: &self.status,
            error: self.error.as_deref(),
        }
    }
}

/// The output file, opened (as `FILE.partial`) once its CSV columns are known: from the first
/// completed JSON output, or after [`MAX_BUFFERED`] rows without one.
struct ResultsFile<'p> {
    output: &'p Path,
    partial: PathBuf,
    format: OutputFormat,
    writer: Option<OutputWriter>,
    buffer: Vec<Held>,
}

impl ResultsFile<'_> {
    fn write(&mut self, row: Held) -> Result<(), Error> {
        if self.writer.is_none() {
            let fields = match (row.output.as_deref(), self.format) {
                (_, OutputFormat::Jsonl | OutputFormat::Parquet) => Some(None),
                (Some(o), OutputFormat::Csv) if o.get().starts_with('{') => {
                    Some(crate::spec::object_keys(o.get()))
                }
                _ if self.buffer.len() >= MAX_BUFFERED => Some(None),
                _ => None,
            };
            let Some(fields) = fields else {
                self.buffer.push(row);
                return Ok(());
            };
            self.open(fields.as_deref())?;
        }
        match self.writer.as_mut() {
            Some(writer) => writer.write(&row.record()),
            None => Ok(()),
        }
    }

    /// Appends JSON Lines records (none for a CSV file, whose rows come one by one).
    fn write_jsonl(&mut self, lines: &[u8]) -> Result<(), Error> {
        if lines.is_empty() {
            return Ok(());
        }
        if self.writer.is_none() {
            self.open(None)?;
        }
        match self.writer.as_mut() {
            Some(writer) => writer.write_jsonl(lines),
            None => Ok(()),
        }
    }

    /// Opens the output with these CSV fields and writes the rows held so far.
    fn open(&mut self, fields: Option<&[String]>) -> Result<(), Error> {
        let mut writer = OutputWriter::open(&self.partial, self.format, 0, None, fields)?;
        for held in self.buffer.drain(..) {
            writer.write(&held.record())?;
        }
        self.writer = Some(writer);
        Ok(())
    }

    /// Puts every run on disk and gives the file its name.
    fn finish(mut self) -> Result<(), Error> {
        if self.writer.is_none() {
            self.open(None)?;
        }
        if let Some(writer) = self.writer.as_mut() {
            writer.sync()?;
        }
        std::fs::rename(&self.partial, self.output).map_err(|e| {
            Error::io(
                format!(
                    "cannot rename {} to {}",
                    self.partial.display(),
                    self.output.display()
                ),
                e,
            )
        })
    }

    /// After a failure: writes the `rows` runs read so far to `FILE.partial` and says so if
    /// `keep`, else (or if there are none) leaves nothing. `FILE` is not touched.
    fn abandon(mut self, keep: KeepPartial, rows: u64) {
        let kept = keep == KeepPartial::Yes
            && rows > 0
            && (self.writer.is_some() || self.open(None).is_ok())
            && self.writer.as_mut().is_some_and(|w| w.flush().is_ok());
        if kept {
            crate::progress::notice(
                "partial",
                &format!(
                    "The {rows} runs read before the failure are in {}; {} was not written.",
                    self.partial.display(),
                    self.output.display()
                ),
            );
        } else {
            drop(self.writer.take());
            let _ = std::fs::remove_file(&self.partial);
        }
    }
}
