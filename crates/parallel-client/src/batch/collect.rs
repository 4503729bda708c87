//! Reading results back: sweeps of the group's runs stream (results in bulk), scans of it
//! (which runs exist, without outputs) and, where a sweep cannot serve, one run's `/result`.

use std::borrow::Cow;
use std::time::Duration;

use futures::StreamExt;
use parallel_types::TaskRun;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::items::BatchOutput;
use crate::add_runs::ClientTag;
use crate::client::Client;
use crate::error::Error;
use crate::streams::GroupRunsOptions;

/// How many runs a sweep's stream may read ahead of the sweep. A sweep often stops early
/// (at its cap, or before a run still going); a small read-ahead still overlaps reading
/// with decoding without fetching much that is thrown away.
const SWEEP_READ_AHEAD: usize = 256;

/// How long a `/result` call for a run known to be completed may wait.
const RESULT_WAIT: Duration = Duration::from_secs(60);

/// A run event of the runs stream, decoded only as far as a batch reads it: the run, and the
/// output kept raw (its basis is skipped without allocating).
#[derive(Deserialize)]
struct RunEvent<'a> {
    #[serde(default, borrow)]
    event_id: Option<Cow<'a, str>>,
    run: TaskRun,
    #[serde(default, borrow)]
    output: Option<&'a RawValue>,
}

/// What one sweep read.
pub(crate) struct Sweep {
    /// Runs of the batch's token, in stream order: position, run, output of completed ones.
    pub(crate) runs: Vec<(u64, TaskRun, Option<BatchOutput>)>,
    /// The cursor after the last run read.
    pub(crate) cursor: Option<String>,
    /// Whether the sweep stopped before the end of the group.
    pub(crate) capped: bool,
}

/// Reads the group's runs after `cursor`, with outputs, up to `cap` runs. It stops before the
/// first run still going once it has collected a finished one, so that the next sweep starts
/// there and runs are read when they are done; a run still going at the front is stepped
/// over (its result is then fetched on its own).
///
/// One streamed request serves thousands of results this way, instead of one request each.
pub(crate) async fn sweep(
    client: Client,
    group_id: String,
    token: String,
    cursor: Option<String>,
    cap: usize,
) -> Result<Sweep, Error> {
    let options = GroupRunsOptions {
        include_output: true,
        last_event_id: cursor.clone(),
        read_ahead: SWEEP_READ_AHEAD,
        ..GroupRunsOptions::default()
    };
    let mut stream = client.group(&group_id).runs(options);
    let mut sweep = Sweep {
        runs: Vec::new(),
        cursor,
        capped: false,
    };
    let (mut read, mut finished) = (0usize, 0usize);
    while let Some(run) = stream.next().await {
        let run = run?;
        let event: RunEvent<'_> = decode(run.json())?;
        if let Some(position) = position(&event.run, &token) {
            if event.run.is_finished() {
                finished += 1;
            } else if finished > 0 {
                sweep.capped = true;
                break;
            }
            let output = event.output.map(|o| BatchOutput(o.to_owned()));
            sweep.runs.push((position, event.run, output));
        }
        if let Some(id) = event.event_id {
            sweep.cursor = Some(id.into_owned());
        }
        read += 1;
        if read >= cap {
            sweep.capped = true;
            break;
        }
    }
    Ok(sweep)
}

/// Streams all the group's runs (without inputs or outputs) and calls `found(position, run)`
/// for each run tagged with `token`; returns the cursor after the last run.
pub(crate) async fn scan(
    client: &Client,
    group_id: &str,
    token: &str,
    mut found: impl FnMut(u64, TaskRun),
) -> Result<Option<String>, Error> {
    let mut stream = client.group(group_id).runs(GroupRunsOptions::default());
    let mut cursor = None;
    while let Some(run) = stream.next().await {
        let run = run?;
        let event: RunEvent<'_> = decode(run.json())?;
        if let Some(id) = event.event_id {
            cursor = Some(id.into_owned());
        }
        if let Some(position) = position(&event.run, token) {
            found(position, event.run);
        }
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

fn decode(json: &[u8]) -> Result<RunEvent<'_>, Error> {
    parallel_types::from_json_slice(json).map_err(|e| Error::decode("a run of the group", e))
}
