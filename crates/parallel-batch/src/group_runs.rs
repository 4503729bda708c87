//! The runs of a group as rows of a file (what `results` writes, and what `run` reads back
//! to write a lost output again): each read on demand from the stream's bytes
//! ([`RunResultRef`]), the run, its input and its output content (not the research basis
//! after them), the input and the content kept as the JSON they came as.

use std::borrow::Cow;

use parallel_client::GroupRun;
use parallel_client::add_runs::ClientTag;
use parallel_client::batch::run_error;
use parallel_types::{RunResultRef, RunStatus};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::counts::Counts;
use crate::error::Error;
use crate::output::{Record, jsonl_line};

/// A batch of runs read into JSON Lines records, up to the first failure.
#[derive(Default)]
pub(crate) struct Decoded {
    pub(crate) lines: Vec<u8>,
    pub(crate) counts: Counts,
    pub(crate) error: Option<Failure>,
}

pub(crate) enum Failure {
    /// The stream failed.
    Stream(parallel_client::Error),
    /// A run could not be read.
    Run(Error),
}

impl Decoded {
    /// Reads `runs`, the first of which is the stream's run number `first`; with `basis`,
    /// each output's sources too.
    pub(crate) fn of(
        runs: Vec<Result<GroupRun, parallel_client::Error>>,
        first: u64,
        basis: bool,
    ) -> Self {
        let mut decoded = Self::default();
        for (index, run) in (first..).zip(runs) {
            let added = match run {
                Ok(run) => decoded.add(&run, index, basis).map_err(Failure::Run),
                Err(e) => Err(Failure::Stream(e)),
            };
            if let Err(failure) = added {
                decoded.error = Some(failure);
                break;
            }
        }
        decoded
    }

    fn add(&mut self, run: &GroupRun, index: u64, basis: bool) -> Result<(), Error> {
        let mut line = RunLine::read(run, index)?;
        if basis {
            line.sources = Some(line.sources_of(run, None)?);
        }
        self.counts.add_outcome(line.completed, line.finished, 1);
        jsonl_line(&mut self.lines, &line.record())
    }
}

/// Appends `run` to `lines` as the JSON Lines record of its row if it is a run of the `run`
/// job whose client tags carry one of `tokens`, with the sources of the `basis` fields
/// when the job has `--basis`; its row, or `None` for another run.
pub(crate) fn job_run(
    run: &GroupRun,
    tokens: &[&str],
    basis: Option<&[String]>,
    lines: &mut Vec<u8>,
) -> Result<Option<u64>, Error> {
    let event = RunResultRef::from_slice(run.json())
        .map_err(|e| Error::api("cannot read a run of the group", e.into()))?;
    let tag = event.run.metadata_as::<Tag<'_>>().ok().flatten();
    let position = tag
        .as_ref()
        .and_then(|tag| ClientTag::parse(tag.client_tag.as_deref()?))
        .filter(|tag| tokens.contains(&tag.token()))
        .map(|tag| tag.position());
    let Some(position) = position else {
        return Ok(None);
    };
    let mut line = RunLine::read(run, position)?;
    if let Some(fields) = basis {
        line.sources = Some(line.sources_of(run, Some(fields))?);
    }
    jsonl_line(lines, &line.record())?;
    Ok(Some(line.row))
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
    /// `--basis`: the sources of the output's fields (`null` without an output).
    sources: Option<Box<RawValue>>,
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
            sources: None,
        })
    }

    /// The sources of `fields` (by default the output's fields: its members, or `output` for
    /// a text output), read from the basis of `run`, the event this line was read from;
    /// `null` without an output.
    fn sources_of(
        &self,
        run: &GroupRun,
        fields: Option<&[String]>,
    ) -> Result<Box<RawValue>, Error> {
        #[derive(Deserialize)]
        struct Event<'a> {
            #[serde(borrow, default)]
            output: Option<Output<'a>>,
        }
        #[derive(Deserialize)]
        struct Output<'a> {
            #[serde(borrow, default)]
            basis: Option<&'a RawValue>,
        }
        let Some(content) = self.output else {
            return Ok(RawValue::NULL.to_owned());
        };
        let event: Event<'_> = serde_json::from_slice(run.json())
            .map_err(|e| Error::state(format!("cannot read the basis of row {}: {e}", self.row)))?;
        let basis = event.output.and_then(|o| o.basis);
        match fields {
            Some(fields) => crate::basis::sources(basis, fields, self.row),
            None => crate::basis::sources(basis, &crate::basis::fields_in(content), self.row),
        }
    }

    fn record(&self) -> Record<'_> {
        Record {
            row: self.row,
            input: self.input,
            output: self.output,
            run_id: &self.run_id,
            status: self.status.as_str(),
            error: self.error.as_deref(),
            sources: self.sources.as_deref(),
        }
    }
}

/// The client tag in a run's metadata, borrowed.
#[derive(Deserialize)]
struct Tag<'a> {
    #[serde(borrow, default)]
    client_tag: Option<Cow<'a, str>>,
}
