//! The three server-sent-event streams, as resuming `futures::Stream`s of typed events.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;
use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures::Stream;
use futures::stream::BoxStream;
use parallel_types::{ErrorObject, GroupEvent, RunEvent, RunStatus, TaskRunEvent, TaskRunEventRef};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

use crate::error::{Error, Kind};
use crate::session::{Frame, Session};

/// Options of [`Client::group_runs`](crate::Client::group_runs).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupRunsOptions {
    /// Include each run's input (`include_input`).
    pub include_input: bool,
    /// Include the output of completed runs (`include_output`).
    pub include_output: bool,
    /// Only runs in this status.
    pub status: Option<RunStatus>,
    /// Start after this event (a `run_cursor` or an `event_id` seen earlier).
    pub last_event_id: Option<String>,
}

impl GroupRunsOptions {
    /// Include inputs and outputs: everything needed to read a finished group's results.
    pub fn with_input_and_output() -> Self {
        Self {
            include_input: true,
            include_output: true,
            ..Self::default()
        }
    }

    /// Sets `include_input`.
    #[must_use]
    pub fn include_input(mut self, yes: bool) -> Self {
        self.include_input = yes;
        self
    }

    /// Sets `include_output`.
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

    /// Start after this event id or cursor.
    #[must_use]
    pub fn last_event_id(mut self, id: impl Into<String>) -> Self {
        self.last_event_id = Some(id.into());
        self
    }
}

/// Options of [`Client::group_events`](crate::Client::group_events).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupEventsOptions {
    /// Start after this event (an `event_cursor` or an `event_id` seen earlier).
    pub last_event_id: Option<String>,
    /// How long the server holds one connection (`timeout`); the stream reconnects by itself
    /// while the group is active, so this only bounds each connection.
    pub timeout: Option<Duration>,
}

impl GroupEventsOptions {
    /// Start after this event id or cursor.
    #[must_use]
    pub fn last_event_id(mut self, id: impl Into<String>) -> Self {
        self.last_event_id = Some(id.into());
        self
    }

    /// Sets the server-side `timeout` of each connection.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
}

/// One run from the group runs stream, still in its wire form.
///
/// The JSON is kept as received (a slice of the network buffer, no copy); decode what you need:
/// [`GroupRun::view`] borrows ids, status and raw input/output without allocating,
/// [`GroupRun::output_as`] and [`GroupRun::input_as`] deserialize straight into your types,
/// [`GroupRun::to_event`] builds the owned [`TaskRunEvent`].
#[derive(Clone)]
pub struct GroupRun {
    data: Bytes,
}

impl GroupRun {
    pub(crate) fn new(data: Bytes) -> Self {
        Self { data }
    }

    /// A borrowed view of the event (zero-copy).
    pub fn view(&self) -> Result<TaskRunEventRef<'_>, Error> {
        serde_json::from_slice(&self.data).map_err(|e| Error::decode("a task_run.state event", e))
    }

    /// The owned event.
    pub fn to_event(&self) -> Result<TaskRunEvent, Error> {
        serde_json::from_slice(&self.data).map_err(|e| Error::decode("a task_run.state event", e))
    }

    /// The run's output content as `T` (a JSON output's object, or a text output's string),
    /// or `None` when the event carries no output (not requested, or the run did not complete).
    pub fn output_as<T: DeserializeOwned>(&self) -> Result<Option<T>, Error> {
        let raw: RawParts<'_> = serde_json::from_slice(&self.data)
            .map_err(|e| Error::decode("a task_run.state event", e))?;
        raw.output
            .map(|o| serde_json::from_str(o.content.get()))
            .transpose()
            .map_err(|e| Error::decode("the run's output as the requested type", e))
    }

    /// The run's input (`input` of the original request) as `T`, or `None` when the event
    /// carries no input (not requested).
    pub fn input_as<T: DeserializeOwned>(&self) -> Result<Option<T>, Error> {
        let raw: RawParts<'_> = serde_json::from_slice(&self.data)
            .map_err(|e| Error::decode("a task_run.state event", e))?;
        raw.input
            .map(|i| serde_json::from_str(i.input.get()))
            .transpose()
            .map_err(|e| Error::decode("the run's input as the requested type", e))
    }

    /// The event's JSON text as received.
    pub fn json(&self) -> &[u8] {
        &self.data
    }
}

impl fmt::Debug for GroupRun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GroupRun")
            .field("json", &String::from_utf8_lossy(&self.data))
            .finish()
    }
}

/// Just the raw `input.input` and `output.content` of a run event.
#[derive(Deserialize)]
struct RawParts<'a> {
    #[serde(borrow, default)]
    input: Option<RawInput<'a>>,
    #[serde(borrow, default)]
    output: Option<RawOutput<'a>>,
}

#[derive(Deserialize)]
struct RawInput<'a> {
    #[serde(borrow)]
    input: &'a RawValue,
}

#[derive(Deserialize)]
struct RawOutput<'a> {
    #[serde(borrow)]
    content: &'a RawValue,
}

/// The `type` and `event_id` of an event, read without decoding the rest.
#[derive(Debug, Deserialize)]
pub(crate) struct Peek<'a> {
    #[serde(rename = "type", borrow)]
    pub(crate) kind: Cow<'a, str>,
    #[serde(borrow, default)]
    pub(crate) event_id: Option<Cow<'a, str>>,
}

impl<'a> Peek<'a> {
    /// Reads `type` and `event_id`. Servers write these two keys first; then they are read
    /// straight from the front of the event without scanning the rest (the caller's decode
    /// validates the whole event later). Any other layout takes the full JSON parse.
    pub(crate) fn parse(data: &'a [u8], what: &str) -> Result<Self, Error> {
        if let Some(peek) = Self::leading(data) {
            return Ok(peek);
        }
        serde_json::from_slice(data).map_err(|e| Error::decode(&format!("an event of {what}"), e))
    }

    /// `{"type":"..","event_id":".."|null,` or `}` at the start of `data`, with optional
    /// whitespace, and strings without escapes; `None` for anything else.
    fn leading(data: &'a [u8]) -> Option<Self> {
        let mut at = Cursor { data, pos: 0 };
        at.byte(b'{')?;
        at.literal(b"\"type\"")?;
        at.byte(b':')?;
        let kind = at.plain_string()?;
        at.byte(b',')?;
        at.literal(b"\"event_id\"")?;
        at.byte(b':')?;
        let event_id = if at.literal(b"null").is_some() {
            None
        } else {
            Some(at.plain_string()?)
        };
        at.skip_whitespace();
        matches!(at.data.get(at.pos), Some(b',' | b'}')).then_some(Peek {
            kind: Cow::Borrowed(kind),
            event_id: event_id.map(Cow::Borrowed),
        })
    }
}

/// A minimal reader for [`Peek::leading`].
struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn skip_whitespace(&mut self) {
        while matches!(self.data.get(self.pos), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn byte(&mut self, expected: u8) -> Option<()> {
        self.skip_whitespace();
        (self.data.get(self.pos) == Some(&expected)).then(|| self.pos += 1)
    }

    fn literal(&mut self, expected: &[u8]) -> Option<()> {
        self.skip_whitespace();
        self.data
            .get(self.pos..)?
            .starts_with(expected)
            .then(|| self.pos += expected.len())
    }

    /// A JSON string without escapes or control characters.
    fn plain_string(&mut self) -> Option<&'a str> {
        self.byte(b'"')?;
        let rest = self.data.get(self.pos..)?;
        let len = rest
            .iter()
            .position(|&b| b == b'"' || b == b'\\' || b < 0x20)?;
        if rest[len] != b'"' {
            return None;
        }
        let text = std::str::from_utf8(&rest[..len]).ok()?;
        self.pos += len + 1;
        Some(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peek(data: &str) -> (String, Option<String>) {
        let p = Peek::parse(data.as_bytes(), "test").unwrap();
        (p.kind.into_owned(), p.event_id.map(Cow::into_owned))
    }

    #[test]
    fn the_leading_fields_are_read_without_a_full_parse() {
        let fast = br#"{"type":"task_run.state","event_id":"17","run":{}}"#;
        let p = Peek::leading(fast).unwrap();
        assert_eq!(
            (p.kind.as_ref(), p.event_id.as_deref()),
            ("task_run.state", Some("17"))
        );
        let spaced = b"{ \"type\" : \"error\" ,\n \"event_id\" : null }";
        let p = Peek::leading(spaced).unwrap();
        assert_eq!((p.kind.as_ref(), p.event_id), ("error", None));
    }

    #[test]
    fn other_layouts_fall_back_to_the_full_parse_with_the_same_answer() {
        for (data, kind, id) in [
            (
                r#"{"event_id":"3","type":"task_group_status"}"#,
                "task_group_status",
                Some("3"),
            ),
            (
                r#"{"type":"task_run.state","run":{"event_id":"x"},"event_id":"4"}"#,
                "task_run.state",
                Some("4"),
            ),
            (r#"{"type":"a\u002eb","event_id":"5"}"#, "a.b", Some("5")),
            (r#"{"type":"error","error":{}}"#, "error", None),
        ] {
            assert!(Peek::leading(data.as_bytes()).is_none(), "{data}");
            assert_eq!(
                peek(data),
                (kind.to_owned(), id.map(str::to_owned)),
                "{data}"
            );
        }
    }

    #[test]
    fn broken_events_are_decode_errors() {
        for data in [&b"{"[..], b"[]", b"{\"type\":1}", b"not json"] {
            assert!(Peek::parse(data, "test").unwrap_err().is_decode());
        }
    }
}

/// An in-band `error` event: the stream was interrupted on the server side; the stream
/// reconnects after it, and reports it if reconnecting does not help.
fn error_event(data: &[u8], what: &str) -> Error {
    #[derive(Deserialize)]
    struct ErrorEventBody {
        error: ErrorObject,
    }
    match serde_json::from_slice::<ErrorEventBody>(data) {
        Ok(body) => Error::stream_event(what, body.error),
        Err(e) => Error::decode(&format!("an error event of {what}"), e),
    }
}

macro_rules! boxed_stream {
    ($(#[$meta:meta])* $name:ident, $item:ty) => {
        $(#[$meta])*
        pub struct $name {
            inner: BoxStream<'static, Result<$item, Error>>,
        }

        impl Stream for $name {
            type Item = Result<$item, Error>;

            fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
                self.inner.as_mut().poll_next(cx)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($name)).finish_non_exhaustive()
            }
        }
    };
}

boxed_stream!(
    /// The runs of a group ([`Client::group_runs`](crate::Client::group_runs)): one
    /// [`GroupRun`] per run, resuming by itself after interruptions, ending after the last run.
    RunsStream,
    GroupRun
);

boxed_stream!(
    /// A group's status updates and run completions
    /// ([`Client::group_events`](crate::Client::group_events)), resuming by itself; it ends
    /// when the server closes it after a `task_group_status` event reporting the group
    /// inactive.
    GroupEvents,
    GroupEvent
);

boxed_stream!(
    /// A run's state, progress and messages ([`Client::run_events`](crate::Client::run_events)),
    /// reconnecting by itself without repeating events; it ends after the run's final state.
    RunEvents,
    RunEvent
);

/// Turns a step function (`state -> next item`) into a stream that stops after the end or
/// the first error.
fn drive<S, T, F, Fut>(state: S, mut step: F) -> BoxStream<'static, Result<T, Error>>
where
    S: Send + 'static,
    T: Send + 'static,
    F: FnMut(S) -> Fut + Send + 'static,
    Fut: Future<Output = (Result<Option<T>, Error>, S)> + Send + 'static,
{
    Box::pin(futures::stream::unfold(Some(state), move |state| {
        let next = state.map(&mut step);
        async move {
            let (result, state) = next?.await;
            match result {
                Ok(Some(item)) => Some((Ok(item), Some(state))),
                Ok(None) => None,
                Err(error) => Some((Err(error), None)),
            }
        }
    }))
}

pub(crate) fn runs_stream(session: Session) -> RunsStream {
    RunsStream {
        inner: drive(session, |mut session| async move {
            let next = next_group_run(&mut session).await;
            (next, session)
        }),
    }
}

async fn next_group_run(session: &mut Session) -> Result<Option<GroupRun>, Error> {
    loop {
        let data = match session.next_frame().await? {
            Frame::End => return Ok(None),
            Frame::Data(data) => data,
        };
        let peek = Peek::parse(&data, session.what())?;
        match peek.kind.as_ref() {
            "task_run.state" => {
                let id = peek.event_id.as_deref();
                // A server resuming inclusively would repeat the last event.
                if id.is_some() && id == session.last_event_id() {
                    continue;
                }
                session.delivered(id);
                drop(peek);
                return Ok(Some(GroupRun::new(data)));
            }
            "error" => {
                let error = error_event(&data, session.what());
                session.interrupted(error).await?;
            }
            // An event type this client does not know: a newer server; skip it.
            _ => {}
        }
    }
}

/// The next data frame of a stream that is not an `error` event. A clean end of the body ends
/// the stream once `finished`; before that it is an interruption, and the session reconnects
/// (`still` says what was still going, for the error if reconnecting fails). An `error` event
/// is an interruption too.
async fn next_data(
    session: &mut Session,
    finished: bool,
    still: &str,
) -> Result<Option<Bytes>, Error> {
    loop {
        let data = match session.next_frame().await? {
            Frame::End if finished => return Ok(None),
            Frame::End => {
                let error = Error::new(
                    Kind::Connection,
                    format!("{} kept ending while {still}", session.what()),
                );
                session.reopen_after_clean_end(error).await?;
                continue;
            }
            Frame::Data(data) => data,
        };
        if Peek::parse(&data, session.what())?.kind == "error" {
            let error = error_event(&data, session.what());
            session.interrupted(error).await?;
            continue;
        }
        return Ok(Some(data));
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

async fn next_group_event(state: &mut GroupEventsState) -> Result<Option<GroupEvent>, Error> {
    loop {
        // The server also closes a connection after its `timeout` or an hour; until a status
        // said inactive, the group is still active as far as this stream knows.
        let finished = state.inactive;
        let session = &mut state.session;
        let Some(data) = next_data(session, finished, "the group was active").await? else {
            return Ok(None);
        };
        let peek = Peek::parse(&data, session.what())?;
        let event: GroupEvent = serde_json::from_slice(&data)
            .map_err(|e| Error::decode(&format!("an event of {}", session.what()), e))?;
        if let GroupEvent::TaskGroupStatus(status) = &event {
            // Even a repeated status (the snapshot opening a resumed connection) is current.
            state.inactive = !status.status.is_active;
        }
        let id = peek.event_id.as_deref();
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
        let Some(data) = next_data(session, finished, "the run was active").await? else {
            return Ok(None);
        };
        let hash = state.seen.hasher().hash_one(&data[..]);
        if !state.seen.insert(hash) {
            continue;
        }
        let event: RunEvent = serde_json::from_slice(&data)
            .map_err(|e| Error::decode(&format!("an event of {}", session.what()), e))?;
        session.delivered(None);
        if let RunEvent::TaskRunState(ev) = &event {
            // Not the end yet: a stream opened on a finished run starts with its state
            // without the output, and sends the final state with the output last.
            state.run_done = !ev.run.is_active;
        }
        return Ok(Some(event));
    }
}
