//! Submitting one chunk of a batch: tagged, with refused inputs set aside, and retried
//! through passing failures without creating a run twice.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use parallel_types::{ErrorObject, Processor, RunInput, TaskSpec};

use super::items::BatchInput;
use super::ledger::RunsStart;
use super::outage::{Tolerance, patiently};
use crate::add_runs::{ChunkRequest, MAX_RUNS_PER_REQUEST};
use crate::client::Client;
use crate::error::Error;

/// What a chunk's submission gave.
pub(crate) struct Submitted {
    /// `(position, run id)` of each input that got a run, in input order.
    pub(crate) runs: Vec<(u64, String)>,
    /// `(position, error)` of each input the API refused.
    pub(crate) rejected: Vec<(u64, ErrorObject)>,
    /// Where its runs start in the runs stream: the `run_cursor` of an answer for the whole
    /// chunk, unknown when the runs were found by reconciling.
    pub(crate) start: RunsStart,
}

/// Everything a chunk is sent with.
#[derive(Clone)]
pub(crate) struct Submitter {
    pub(crate) client: Client,
    pub(crate) group_id: String,
    pub(crate) token: String,
    pub(crate) spec: Arc<TaskSpec>,
    pub(crate) processor: Processor,
    pub(crate) tolerance: Tolerance,
    /// `429` answers met by the batch's submissions.
    pub(crate) throttled: Arc<AtomicU64>,
}

impl Submitter {
    /// Sends `chunk` (at most [`MAX_RUNS_PER_REQUEST`] inputs). After a failure that may have
    /// reached the server (no answer, a timeout, a 5xx), the next try first looks the tags up
    /// in the group, so an input never gets two runs.
    pub(crate) async fn submit(
        self,
        chunk: Vec<BatchInput>,
        last: bool,
    ) -> Result<Submitted, Error> {
        debug_assert!(chunk.len() <= MAX_RUNS_PER_REQUEST);
        let runs: Vec<(u64, RunInput)> = chunk
            .into_iter()
            .map(|input| {
                let value: serde_json::Value =
                    serde_json::from_str(input.input.get()).unwrap_or_default();
                let processor = input.processor.unwrap_or_else(|| self.processor.clone());
                let mut run = RunInput::new(value, processor);
                run.metadata = input.metadata;
                (input.position, run)
            })
            .collect();
        let outcome = patiently(&self.tolerance, |previous: Option<Error>| {
            let request = ChunkRequest {
                group_id: &self.group_id,
                chunk: runs.clone(),
                default_task_spec: Some(&self.spec),
                token: Some(&self.token),
                refresh_status: last,
                reject_invalid: true,
                reconcile_first: previous.is_some_and(|e| may_have_reached(&e)),
                per_call: None,
                throttled: Some(&self.throttled),
            };
            self.client.submit_chunk(request)
        })
        .await?;
        let mut submitted = Submitted {
            runs: Vec::with_capacity(runs.len()),
            rejected: Vec::with_capacity(outcome.rejected.len()),
            start: outcome
                .cursors
                .map_or(RunsStart::Unknown, |(run_cursor, _)| {
                    RunsStart::After(run_cursor)
                }),
        };
        for ((position, _), id) in runs.iter().zip(outcome.ids) {
            if let Some(id) = id {
                submitted.runs.push((*position, id));
            }
        }
        for (index, error) in outcome.rejected {
            submitted.rejected.push((runs[index].0, error));
        }
        Ok(submitted)
    }
}

/// Whether a failed add-runs request may have created runs.
fn may_have_reached(error: &Error) -> bool {
    error.is_outcome_unknown()
        || error.is_timeout()
        || error.status().is_some_and(|s| s.is_server_error())
}
