//! Starting the engine on the job's group: made now, or the one the state names.

use std::sync::Arc;

use parallel_client::batch::{BatchOptions, StartedBatch};
use parallel_types::MetadataValue;

use super::job::{Backend, Job};
use super::sink::Sink;
use crate::error::Error;
use crate::state::State;

/// Starts the engine and records the group and token in the state before any run is created.
pub(crate) async fn start(
    backend: &Backend,
    job: &Job,
    sink: &mut Sink,
    resume_command: &str,
) -> Result<StartedBatch, Error> {
    let state = sink.state();
    let written = Arc::new(sink.written.clone());
    let options = options(job, &state.token, state.group_id.as_deref())
        .skip(move |row| written.contains(row));
    let had_group = state.group_id.is_some();
    let started = backend.client.batch(options).start().await.map_err(|e| {
        if had_group && e.status().is_some_and(|s| s.as_u16() == 404) {
            group_gone(state, sink.written.len(), resume_command)
        } else if had_group {
            Error::api("cannot open the task group to resume", e)
        } else {
            Error::api("cannot create the task group", e)
        }
    })?;
    sink.set_group(started.group_id(), started.token())?;
    Ok(started)
}

/// The engine's settings for `job`, its runs tagged with `token`, in `group` or a new one.
pub(crate) fn options(job: &Job, token: &str, group: Option<&str>) -> BatchOptions {
    let options = BatchOptions::new(job.spec.clone(), job.processor.clone())
        .token(token)
        .chunk_size(job.chunk_size)
        .max_in_flight(job.max_in_flight)
        .result_concurrency(job.fetch_concurrency);
    if let Some(group) = group {
        return options.group(group);
    }
    let mut metadata = job.metadata.clone();
    metadata.insert(
        "batch_token".into(),
        MetadataValue::String(token.to_owned()),
    );
    options.group_metadata(metadata)
}

/// The job's group no longer exists on the server: what is kept, and how to go on.
fn group_gone(state: &State, written: u64, resume_command: &str) -> Error {
    Error::state(format!(
        "the task group {} of this job is gone from {} (404 Not Found), so its runs cannot be \
         resumed. The {written} rows already in the output are kept; to send the other {} rows \
         to a new group, run the command again with --new-group:\n  {resume_command} --new-group",
        state.group_id.as_deref().unwrap_or("?"),
        state.backend,
        state.total_rows.saturating_sub(written),
    ))
}
