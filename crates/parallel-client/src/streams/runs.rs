//! The group runs stream: every run of a group, resuming from the last run delivered.

use parallel_types::RunStatus;

use crate::error::Error;
use crate::streams::peek::{error_event, skip_unknown, skip_untyped};
use crate::streams::read_ahead::read_ahead;
use crate::streams::session::{Frame, Session};
use crate::streams::{GroupRun, RunsStream, drive};

/// Options of [`GroupHandle::runs`](crate::GroupHandle::runs): by default every run, without
/// input or output, from the first.
///
/// ```
/// use parallel_client::GroupRunsOptions;
/// use parallel_types::RunStatus;
///
/// let completed = GroupRunsOptions::with_input_and_output().status(RunStatus::Completed);
/// assert_ne!(completed, GroupRunsOptions::default());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct GroupRunsOptions {
    pub(crate) include_input: bool,
    pub(crate) include_output: bool,
    pub(crate) status: Option<RunStatus>,
    pub(crate) last_event_id: Option<String>,
    pub(crate) read_ahead: usize,
    pub(crate) request: crate::RequestOptions,
    /// End with the first connection that ends cleanly, instead of reopening after the last
    /// run to make sure the server did not close it early (the batch engine's sweeps, which
    /// know what they expect, decide that themselves).
    pub(crate) one_pass: bool,
}

impl Default for GroupRunsOptions {
    fn default() -> Self {
        Self {
            include_input: false,
            include_output: false,
            status: None,
            last_event_id: None,
            read_ahead: Self::DEFAULT_READ_AHEAD,
            request: crate::RequestOptions::default(),
            one_pass: false,
        }
    }
}

impl GroupRunsOptions {
    /// The default [`GroupRunsOptions::read_ahead()`]: 1,024 runs, about 2 MB of runs with a
    /// typical input and output.
    pub const DEFAULT_READ_AHEAD: usize = 1024;

    /// Include inputs and outputs: everything needed to read a finished group's results.
    pub fn with_input_and_output() -> Self {
        Self {
            include_input: true,
            include_output: true,
            ..Self::default()
        }
    }

    /// Include each run's input (`include_input`; default `false`).
    #[must_use]
    pub fn include_input(mut self, yes: bool) -> Self {
        self.include_input = yes;
        self
    }

    /// Include the output of completed runs (`include_output`; default `false`).
    #[must_use]
    pub fn include_output(mut self, yes: bool) -> Self {
        self.include_output = yes;
        self
    }

    /// Only runs in `status`.
    #[must_use]
    pub fn status(mut self, status: RunStatus) -> Self {
        self.status = Some(status);
        self
    }

    /// Start after this event: a `run_cursor` ([`AddedRuns::run_cursor`](crate::AddedRuns::run_cursor))
    /// or the `event_id` of a run seen earlier.
    #[must_use]
    pub fn last_event_id(mut self, id: impl Into<String>) -> Self {
        self.last_event_id = Some(id.into());
        self
    }

    /// How many runs the stream may read ahead of the caller, on a Tokio task of its own
    /// (default [`GroupRunsOptions::DEFAULT_READ_AHEAD`]). On a multi-thread runtime, reading
    /// the network and framing events then run on one core while the caller decodes on
    /// another, which makes a stream of large runs read with their inputs and outputs about
    /// a third faster. `0` reads on the caller's task only.
    #[must_use]
    pub fn read_ahead(mut self, runs: usize) -> Self {
        self.read_ahead = runs;
        self
    }

    /// Headers, query parameters and betas sent with every connection of the stream (see
    /// [`RequestOptions`](crate::RequestOptions)); a stream takes no body fields and no
    /// timeout (its idle timeout is the client's), and fails with a configuration error if
    /// given one.
    #[must_use]
    pub fn request_options(mut self, options: crate::RequestOptions) -> Self {
        self.request = options;
        self
    }
}

pub(crate) fn runs_stream(session: Session, read_ahead: usize, one_pass: bool) -> RunsStream {
    let inner = drive(Box::new(session), move |mut session| async move {
        let next = next_group_run(&mut session, one_pass).await;
        (next, session)
    });
    RunsStream {
        inner: self::read_ahead(inner, read_ahead),
    }
}

async fn next_group_run(session: &mut Session, one_pass: bool) -> Result<Option<GroupRun>, Error> {
    loop {
        let event = match session.next_frame().await? {
            // The stream has no end marker, and a server or proxy may close it early: after a
            // connection that moved the cursor, reopen after the last run; the stream is done
            // when a connection ends cleanly without a new one.
            Frame::End if session.ended_after_moving() && !one_pass => continue,
            Frame::End => return Ok(None),
            Frame::Event(event) => event,
        };
        let Some(kind) = event.kind() else {
            skip_untyped(session.what());
            continue;
        };
        // A server that ignores the cursor repeats every event up to it.
        if session.is_replayed(event.event_id()) {
            continue;
        }
        match kind {
            "task_run.state" => {
                let id = event.event_id();
                // A server resuming inclusively would repeat the last event.
                if id.is_some() && id == session.last_event_id() {
                    continue;
                }
                session.delivered(id);
                return Ok(Some(GroupRun::new(event.into_data())));
            }
            // Surfaced as the stream's error, which ends it; open a new stream after the last
            // run taken to go on.
            "error" => return Err(error_event(event.data(), session.what())),
            other => {
                skip_unknown(session.what(), other);
                session.delivered(event.event_id());
            }
        }
    }
}
