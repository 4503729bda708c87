//! The group events and run events streams.

use std::collections::HashSet;
use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
use std::time::Duration;

use parallel_types::{GroupEvent, RunEvent};

use crate::error::{Error, Kind};
use crate::streams::peek::{Peeked, decode_event, skip_unknown, skip_untyped};
use crate::streams::session::{Frame, Session};
use crate::streams::{GroupEvents, RunEvents, drive};

use futures::stream::BoxStream;

/// Options of [`GroupHandle::events`](crate::GroupHandle::events): by default every event,
/// from the first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupEventsOptions {
    pub(crate) last_event_id: Option<String>,
    pub(crate) api_timeout: Option<Duration>,
    pub(crate) request: crate::RequestOptions,
}

impl GroupEventsOptions {
    /// Start after this event: an `event_cursor`
    /// ([`AddedRuns::event_cursor`](crate::AddedRuns::event_cursor)) or the `event_id` of an
    /// event seen earlier.
    #[must_use]
    pub fn last_event_id(mut self, id: impl Into<String>) -> Self {
        self.last_event_id = Some(id.into());
        self
    }

    /// How long the server holds one connection (the API's `timeout` parameter, the
    /// official SDKs' `api_timeout`; default the server's). The stream reconnects by itself
    /// while the group is active, so this only bounds each connection.
    #[must_use]
    pub fn api_timeout(mut self, timeout: Duration) -> Self {
        self.api_timeout = Some(timeout);
        self
    }

    /// Headers, query parameters and betas sent with every connection of the stream (see
    /// [`RequestOptions`](crate::RequestOptions)); a stream takes no body fields and no
    /// timeout, and fails with a configuration error if given one.
    #[must_use]
    pub fn request_options(mut self, options: crate::RequestOptions) -> Self {
        self.request = options;
        self
    }
}

/// The next event of a type the stream knows (`known`), or an `error` event. A clean end of
/// the body ends the stream once `finished`; before that the session reconnects from the last
/// event id (`still` says what was still going, for the error if reconnecting fails). Events
/// without a `type` or of a type this client does not know are skipped with a warning.
async fn next_data(
    session: &mut Session,
    finished: bool,
    still: &str,
    known: fn(&str) -> bool,
) -> Result<Option<Peeked>, Error> {
    loop {
        let event = match session.next_frame().await? {
            Frame::End if finished => return Ok(None),
            Frame::End => {
                let error = Error::new(
                    Kind::Connection,
                    format!("{} kept ending while {still}", session.what()),
                );
                session.reopen_after_clean_end(error).await?;
                continue;
            }
            Frame::Event(event) => event,
        };
        let Some(kind) = event.kind() else {
            skip_untyped(session.what());
            continue;
        };
        if kind == "error" || known(kind) {
            return Ok(Some(event));
        }
        skip_unknown(session.what(), kind);
        session.delivered(event.event_id());
    }
}

/// The events stream's state: the session and whether the latest status said inactive.
///
/// The stream ends when the server closes it after an inactive status. It does not stop at
/// the first inactive status by itself: a server opens each connection with a snapshot of the
/// current status, which may say inactive while the events after the cursor still follow.
pub(crate) struct GroupEventsState {
    session: Session,
    inactive: bool,
}

pub(crate) fn group_events_stream(session: Session) -> GroupEvents {
    let state = GroupEventsState {
        session,
        inactive: false,
    };
    GroupEvents {
        inner: drive(state, |mut state| async move {
            let next = next_group_event(&mut state).await;
            (next, state)
        }),
    }
}

/// The group events stream as each event's JSON with its type and id, decoded no further
/// (the batch engine reads only what it needs of each); it resumes and ends as
/// [`GroupEvents`] does.
pub(crate) fn group_event_frames(session: Session) -> BoxStream<'static, Result<Peeked, Error>> {
    let state = GroupEventsState {
        session,
        inactive: false,
    };
    drive(state, |mut state| async move {
        let next = next_group_frame(&mut state).await;
        (next, state)
    })
}

async fn next_group_event(state: &mut GroupEventsState) -> Result<Option<GroupEvent>, Error> {
    let Some(event) = next_group_frame(state).await? else {
        return Ok(None);
    };
    decode_event(event.data(), state.session.what()).map(Some)
}

/// The next event of the group events stream, noting whether a status said inactive.
async fn next_group_frame(state: &mut GroupEventsState) -> Result<Option<Peeked>, Error> {
    /// What the stream itself reads of a status event.
    #[derive(serde::Deserialize)]
    struct Status {
        status: Active,
    }
    #[derive(serde::Deserialize)]
    struct Active {
        is_active: bool,
    }
    loop {
        // The server also closes a connection after its `timeout` or an hour; until a status
        // said inactive, the group is still active as far as this stream knows.
        let finished = state.inactive;
        let session = &mut state.session;
        let known = |kind: &str| matches!(kind, "task_group_status" | "task_run.state");
        let Some(event) = next_data(session, finished, "the group was active", known).await? else {
            return Ok(None);
        };
        if event.kind() == Some("task_group_status") {
            // Even a repeated status (the snapshot opening a resumed connection) is current.
            let status: Status = decode_event(event.data(), session.what())?;
            state.inactive = !status.status.is_active;
        }
        let id = event.event_id();
        if id.is_some() && id == session.last_event_id() {
            continue;
        }
        session.delivered(id);
        return Ok(Some(event));
    }
}

/// The run events stream's state. The stream has no cursor: a reconnect replays the run's
/// history, so events already delivered are recognised by a hash of their JSON and skipped.
pub(crate) struct RunEventsState {
    session: Session,
    seen: HashSet<u64, BuildHasherDefault<DefaultHasher>>,
    /// Whether the latest state was final.
    run_done: bool,
}

pub(crate) fn run_events_stream(session: Session) -> RunEvents {
    let state = RunEventsState {
        session,
        seen: HashSet::default(),
        run_done: false,
    };
    RunEvents {
        inner: drive(state, |mut state| async move {
            let next = next_run_event(&mut state).await;
            (next, state)
        }),
    }
}

async fn next_run_event(state: &mut RunEventsState) -> Result<Option<RunEvent>, Error> {
    loop {
        // The server closes the stream after the final state (with the output), and also
        // after 570 s while the run is still active.
        let finished = state.run_done;
        let session = &mut state.session;
        let known = |kind: &str| {
            matches!(kind, "task_run.state" | "task_run.progress_stats")
                || kind.starts_with("task_run.progress_msg.")
        };
        let Some(event) = next_data(session, finished, "the run was active", known).await? else {
            return Ok(None);
        };
        let hash = state.seen.hasher().hash_one(event.data());
        if !state.seen.insert(hash) {
            continue;
        }
        let event: RunEvent = decode_event(event.data(), session.what())?;
        session.delivered(None);
        if let RunEvent::TaskRunState(ev) = &event {
            // Not the end yet: a stream opened on a finished run starts with its state
            // without the output, and sends the final state with the output last.
            state.run_done = !ev.run.is_active;
        }
        return Ok(Some(event));
    }
}
