//! The `results` command: every run of a group, with its input and output, into a file.
//!
//! Each run is read as a borrowed view of the stream's bytes: the input and the output content
//! go to the file as they came, without being decoded into trees and encoded again.

use std::borrow::Cow;
use std::path::Path;

use futures::StreamExt;
use parallel_client::add_runs::ClientTag;
use parallel_client::batch::run_error;
use parallel_client::{Client, GroupRun, GroupRunsOptions};
use parallel_types::{RunStatus, TaskRunEventRef};
use serde::Deserialize;
use serde_json::value::RawValue;

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

/// Writes every run of `group` with its input and output to `output`.
pub(crate) async fn write(
    client: &Client,
    group: &str,
    output: &Path,
    format: OutputFormat,
) -> Result<Counts, Error> {
    let mut stream = client
        .group(group)
        .runs(GroupRunsOptions::with_input_and_output());
    let mut file = ResultsFile {
        output,
        format,
        writer: None,
        buffer: Vec::new(),
    };
    let mut counts = Counts::default();
    let mut index = 0u64;
    let what = || format!("cannot read the runs of {group}");
    while let Some(run) = stream.next().await {
        let run = run.map_err(|e| Error::api(what(), e))?;
        let row = RunLine::read(&run, index)?;
        index += 1;
        if row.completed {
            counts.completed += 1;
        } else {
            counts.failed += 1;
        }
        file.write(&row.record())?;
    }
    file.finish()?;
    Ok(counts)
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
    /// Reads `run`; a run without a client tag takes the row `index` (its place in the
    /// stream).
    fn read(run: &'a GroupRun, index: u64) -> Result<Self, Error> {
        let event: TaskRunEventRef<'a> = run
            .view()
            .map_err(|e| Error::api("cannot read a run of the group", e))?;
        let row = event
            .run
            .metadata
            .and_then(|m| serde_json::from_str::<Tag<'_>>(m.get()).ok())
            .and_then(|tag| ClientTag::parse(tag.client_tag?.as_ref()).map(|t| t.position()))
            .unwrap_or(index);
        let input = event
            .input
            .and_then(|i| serde_json::from_str::<InputOnly<'_>>(i.get()).ok())
            .and_then(|i| i.input)
            .unwrap_or(RawValue::NULL);
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
            input,
            output: event.output.as_ref().map(|o| o.content),
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

/// The `input` member of a run's input object, raw.
#[derive(Deserialize)]
struct InputOnly<'a> {
    #[serde(borrow, default)]
    input: Option<&'a RawValue>,
}

/// A row held until the CSV columns are known.
struct Held {
    row: u64,
    input: Box<RawValue>,
    output: Option<Box<RawValue>>,
    run_id: String,
    status: String,
    error: Option<String>,
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
    fn write(&mut self, record: &Record<'_>) -> Result<(), Error> {
        if self.writer.is_none() {
            let fields = match (record.output, self.format) {
                (_, OutputFormat::Jsonl | OutputFormat::Parquet) => Some(None),
                (Some(o), OutputFormat::Csv) if o.get().starts_with('{') => {
                    Some(crate::spec::object_keys(o.get()))
                }
                _ if self.buffer.len() >= MAX_BUFFERED => Some(None),
                _ => None,
            };
            let Some(fields) = fields else {
                self.buffer.push(Held {
                    row: record.row,
                    input: record.input.to_owned(),
                    output: record.output.map(RawValue::to_owned),
                    run_id: record.run_id.to_owned(),
                    status: record.status.to_owned(),
                    error: record.error.map(str::to_owned),
                });
                return Ok(());
            };
            self.open(fields.as_deref())?;
        }
        match self.writer.as_mut() {
            Some(writer) => writer.write(record),
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
