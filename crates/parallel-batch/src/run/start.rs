//! Starting the engine on the job's group: made now, or the one the state (or `--group`)
//! names. A new job's state is saved here, once the server has proved the group exists: a
//! start that fails (a wrong address, key or group id) leaves nothing that ties the output
//! to a server or a group, so the corrected command simply runs.

use parallel_client::batch::{BatchOptions, StartedBatch};
use parallel_types::MetadataValue;

use super::job::{Backend, Job};
use super::row_hashes;
use crate::error::Error;
use crate::row_set::RowSet;
use crate::state::State;

/// What is known of the job when its engine starts.
pub(crate) struct Starting<'a> {
    pub(crate) state: &'a mut State,
    /// Rows already in the output (not sent again).
    pub(crate) written: &'a RowSet,
    /// For a new job, the hash of every input row: saved with the state, which is saved for
    /// the first time once the group exists. `None` for a job whose state is saved already.
    pub(crate) new_job: Option<&'a [u64]>,
}

/// Starts the engine and records the group and token in the state before any run is created.
pub(crate) async fn start(
    backend: &Backend,
    job: &Job,
    starting: Starting<'_>,
    resume_command: &str,
) -> Result<StartedBatch, Error> {
    let Starting {
        state,
        written,
        new_job,
    } = starting;
    let skipped = std::sync::Arc::new(written.clone());
    let options = options(job, &state.token, state.group_id.as_deref())
        .skip(move |row| skipped.contains(row));
    let started = backend.client.batch(options).start().await.map_err(|e| {
        not_started(
            backend,
            state,
            new_job.is_some(),
            written.len(),
            resume_command,
            e,
        )
    })?;
    state.group_id = Some(started.group_id().to_owned());
    started.token().clone_into(&mut state.token);
    let files = job.files();
    state.save(&files.state())?;
    if let Some(hashes) = new_job {
        row_hashes::save(&files, &state.input.hash, hashes)?;
    }
    Ok(started)
}

/// Why the engine did not start, in the user's terms: which server, which group, and what
/// to do.
fn not_started(
    backend: &Backend,
    state: &State,
    new_job: bool,
    written: u64,
    resume_command: &str,
    error: parallel_client::Error,
) -> Error {
    let at = backend.address();
    let not_found = error.status().is_some_and(|s| s.as_u16() == 404);
    match (&state.group_id, new_job) {
        (Some(group), true) if not_found => Error::api(
            format!(
                "the task group {group} (--group) was not found on {at}; check the id \
                 (`parallel-batch status GROUP` shows a group), or leave --group out to \
                 create one"
            ),
            error,
        ),
        (Some(group), true) => {
            Error::api(format!("cannot open the task group {group} on {at}"), error)
        }
        (Some(_), false) if not_found => group_gone(state, written, resume_command),
        (Some(group), false) => Error::api(
            format!(
                "cannot open the task group {group} on {at} to resume (nothing is lost: once \
                 it answers, run the same command again)"
            ),
            error,
        ),
        (None, _) => Error::api(format!("cannot create the task group on {at}"), error),
    }
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
