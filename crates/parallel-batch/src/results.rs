//! The `results` command: every run of a group, with its input and output, into a file.
//!
//! Each run is read on demand from the stream's bytes ([`RunResultRef`]): the run, its input
//! and its output content, not the research basis that follows them; the input and the
//! content go to the file as they came, without being decoded into trees and encoded again.
//! Batches of runs are read on the runtime's worker threads while the stream reads ahead, and
//! written to the file in stream order.

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
use crate::progress::Counts;
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

/// Writes every run of `group` with its input and output to `output`.
///
/// The work runs on a worker thread of the runtime: the calling thread (the one that blocks on
/// the runtime) only waits, so the stream, the reading of runs and the file share the two
/// workers instead of handing every batch to a third thread (about 5% faster).
pub(crate) async fn write(
    client: &Client,
    group: &str,
    output: &Path,
    format: OutputFormat,
) -> Result<Counts, Error> {
    let task = AbortOnDrop(tokio::spawn(write_here(
        client.clone(),
        group.to_owned(),
        output.to_owned(),
        format,
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
            tokio::spawn(async move { Decoded::of(runs, first, format) })
        })
        .buffered(DECODE_AHEAD);
    let mut file = ResultsFile {
        output,
        format,
        writer: None,
        buffer: Vec::new(),
    };
    let mut counts = Counts::default();
    while let Some(decoded) = batches.next().await {
        let decoded = decoded.map_err(|e| {
            Error::state(format!("internal: reading the runs of {group} failed: {e}"))
        })?;
        counts.completed += decoded.completed;
        counts.failed += decoded.failed;
        file.write_jsonl(&decoded.lines)?;
        for row in decoded.held {
            file.write(row)?;
        }
        match decoded.error {
            None => {}
            Some(Failure::Stream(e)) => {
                return Err(Error::api(format!("cannot read the runs of {group}"), e));
            }
            Some(Failure::Run(e)) => return Err(e),
        }
    }
    file.finish()?;
    Ok(counts)
}

/// A batch of runs read into rows, up to the first failure: JSON Lines records ready for the
/// file, or for CSV rows whose columns the file decides.
#[derive(Default)]
struct Decoded {
    lines: Vec<u8>,
    held: Vec<Held>,
    completed: u64,
    failed: u64,
    error: Option<Failure>,
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
        if line.completed {
            self.completed += 1;
        } else {
            self.failed += 1;
        }
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
        let error = if completed {
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

/// The output file, opened once its CSV columns are known: from the first completed JSON
/// output, or after [`MAX_BUFFERED`] rows without one.
struct ResultsFile<'p> {
    output: &'p Path,
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
        let mut writer = OutputWriter::open(self.output, self.format, 0, None, fields)?;
        for held in self.buffer.drain(..) {
            writer.write(&held.record())?;
        }
        self.writer = Some(writer);
        Ok(())
    }

    fn finish(mut self) -> Result<(), Error> {
        if self.writer.is_none() {
            self.open(None)?;
        }
        if let Some(writer) = self.writer.as_mut() {
            writer.sync()?;
        }
        Ok(())
    }
}
