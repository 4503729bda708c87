//! Reading results back: sweeps of the group's runs stream (results in bulk, see
//! [`ledger`](super::ledger)), scans of it (which runs exist, without outputs) and, where a
//! sweep cannot serve, one run's `/result`.

use std::borrow::Cow;
use std::time::Duration;

use futures::StreamExt;
use futures::stream::BoxStream;
use parallel_types::{RunStatus, TaskRun};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::items::BatchOutput;
use crate::add_runs::ClientTag;
use crate::client::Client;
use crate::error::Error;
use crate::streams::GroupRunsOptions;

/// How many runs a sweep's stream may read ahead of the engine: overlaps reading with
/// decoding, while the engine's consumer sets the pace.
const SWEEP_READ_AHEAD: usize = 256;

/// How long a `/result` call for a run known to be completed may wait.
const RESULT_WAIT: Duration = Duration::from_secs(60);

/// A run event of the runs stream, decoded only as far as a batch reads it: the run, and the
/// output kept raw (its basis is skipped without allocating).
#[derive(Deserialize)]
pub(crate) struct RunEvent<'a> {
    #[serde(default, borrow)]
    pub(crate) event_id: Option<Cow<'a, str>>,
    pub(crate) run: TaskRun,
    #[serde(default, borrow)]
    pub(crate) output: Option<&'a RawValue>,
}

/// One run a sweep read: its position when it is one of the batch's, the run, its output,
/// and its event id (the cursor after it).
pub(crate) struct Swept {
    pub(crate) position: Option<u64>,
    pub(crate) run: TaskRun,
    pub(crate) output: Option<BatchOutput>,
    pub(crate) event_id: Option<String>,
}

/// A sweep: the group's completed runs with their outputs, from `cursor` to the end of the
/// stream, as they arrive (one connection: the engine decides what an early end means).
pub(crate) fn sweep(
    client: &Client,
    group_id: &str,
    token: String,
    cursor: Option<String>,
) -> BoxStream<'static, Result<Swept, Error>> {
    let mut options = GroupRunsOptions {
        include_output: true,
        status: Some(RunStatus::Completed),
        last_event_id: cursor,
        read_ahead: SWEEP_READ_AHEAD,
        ..GroupRunsOptions::default()
    };
    options.one_pass = true;
    client
        .group(group_id)
        .runs(options)
        .map(move |run| {
            let run = run?;
            let event: RunEvent<'_> = decode(run.json())?;
            Ok(Swept {
                position: position(&event.run, &token),
                output: event.output.map(|o| BatchOutput(o.to_owned())),
                event_id: event.event_id.map(Cow::into_owned),
                run: event.run,
            })
        })
        .boxed()
}

/// Streams all the group's runs (without inputs or outputs) and calls
/// `found(position, run, place, cursor)` for each run tagged with `token`: `place` counts the
/// runs of the stream from 0, `cursor` is the event id of the run before it (where a read
/// that yields this run may start). Returns the cursor after the last run.
pub(crate) async fn scan(
    client: &Client,
    group_id: &str,
    token: &str,
    mut found: impl FnMut(u64, TaskRun, u64, Option<String>),
) -> Result<Option<String>, Error> {
    let mut stream = client.group(group_id).runs(GroupRunsOptions::default());
    let mut cursor = None;
    let mut place = 0;
    while let Some(run) = stream.next().await {
        let run = run?;
        let event: RunEvent<'_> = decode(run.json())?;
        if let Some(position) = position(&event.run, token) {
            found(position, event.run, place, cursor.clone());
        }
        if let Some(id) = event.event_id {
            cursor = Some(id.into_owned());
        }
        place += 1;
    }
    Ok(cursor)
}

/// The run and output of a completed run, read with `/result`.
pub(crate) async fn fetch(client: &Client, run_id: &str) -> Result<(TaskRun, BatchOutput), Error> {
    let result = client.run_result(run_id).timeout(RESULT_WAIT).await?;
    let output = serde_json::value::to_raw_value(&result.output)
        .map_err(|e| Error::decode("a run output", e))?;
    Ok((result.run, BatchOutput(output)))
}

/// The position of a run tagged with `token`.
pub(crate) fn position(run: &TaskRun, token: &str) -> Option<u64> {
    ClientTag::of(run.metadata.as_ref())?.position_under(token)
}

/// `json` decoded as `T`; `what` names it in the error.
pub(crate) fn decode_as<'a, T: Deserialize<'a>>(json: &'a [u8], what: &str) -> Result<T, Error> {
    parallel_types::from_json_slice(json).map_err(|e| Error::decode(what, e))
}

fn decode(json: &[u8]) -> Result<RunEvent<'_>, Error> {
    parallel_types::from_json_slice(json).map_err(|e| Error::decode("a run of the group", e))
}
