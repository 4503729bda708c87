//! The three server-sent-event streams, as resuming `futures::Stream`s of typed events.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;
use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{Stream, StreamExt};
use parallel_types::{
    ErrorObject, GroupEvent, RunEvent, RunStatus, TaskRunEvent, TaskRunEventAs, TaskRunEventRef,
    from_json_slice, leading_type_and_id,
};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

use crate::error::{Error, Kind};
use crate::session::{Frame, Session};

/// Options of [`Client::group_runs`](crate::Client::group_runs).
#[derive(Debug, Clone, PartialEq)]
pub struct GroupRunsOptions {
    /// Include each run's input (`include_input`).
    pub include_input: bool,
    /// Include the output of completed runs (`include_output`).
    pub include_output: bool,
    /// Only runs in this status.
    pub status: Option<RunStatus>,
    /// Start after this event (a `run_cursor` or an `event_id` seen earlier).
    pub last_event_id: Option<String>,
    /// How many runs the stream may read ahead of the caller, on a Tokio task of its own
    /// (default [`GroupRunsOptions::DEFAULT_READ_AHEAD`]). On a multi-thread runtime, reading
    /// the network and framing events then run on one core while the caller decodes on
    /// another, which makes a stream of large runs read with their inputs and outputs about
    /// a third faster. `0` reads on the caller's task only.
    pub read_ahead: usize,
}

impl Default for GroupRunsOptions {
    fn default() -> Self {
        Self {
            include_input: false,
            include_output: false,
            status: None,
            last_event_id: None,
            read_ahead: Self::DEFAULT_READ_AHEAD,
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

    /// Sets the `read_ahead` field: how many runs may be read ahead (`0`: no read-ahead task).
    #[must_use]
    pub fn read_ahead(mut self, runs: usize) -> Self {
        self.read_ahead = runs;
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
/// [`GroupRun::view_as`] decodes the input and output content into your types in one pass
/// (the fastest way to typed results), [`GroupRun::view`] borrows ids, status and raw
/// input/output without allocating, [`GroupRun::output_as`] and [`GroupRun::input_as`] read
/// one of the two into an owned type, [`GroupRun::to_event`] builds the owned
/// [`TaskRunEvent`].
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
        decode(&self.data, "a task_run.state event")
    }

    /// The event with the run's input as `I` and its output content as `O`, decoded in one
    /// pass; `I` and `O` may borrow from the event (`&str` or `Cow<str>` fields).
    ///
    /// ```no_run
    /// # async fn demo(client: parallel_client::Client) -> Result<(), parallel_client::Error> {
    /// use futures::StreamExt;
    /// use parallel_client::GroupRunsOptions;
    ///
    /// #[derive(serde::Deserialize)]
    /// struct Company<'a> { company_name: &'a str }
    /// #[derive(serde::Deserialize)]
    /// struct Facts<'a> { ceo_name: &'a str }
    ///
    /// let mut runs = client.group_runs("tgrp_...", GroupRunsOptions::with_input_and_output());
    /// while let Some(run) = runs.next().await {
    ///     let run = run?;
    ///     let event = run.view_as::<Company<'_>, Facts<'_>>()?;
    ///     if let (Some(company), Some(output)) = (event.input, event.output) {
    ///         println!("{}: {}", company.company_name, output.content.ceo_name);
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub fn view_as<'a, I: Deserialize<'a>, O: Deserialize<'a>>(
        &'a self,
    ) -> Result<TaskRunEventAs<'a, I, O>, Error> {
        decode(
            &self.data,
            "a task_run.state event with the requested input and output types (do the types \
             match the run's input and output schema?)",
        )
    }

    /// The owned event.
    pub fn to_event(&self) -> Result<TaskRunEvent, Error> {
        decode(&self.data, "a task_run.state event")
    }

    /// The run's output content as `T` (a JSON output's object, or a text output's string),
    /// or `None` when the event carries no output (not requested, or the run did not complete).
    pub fn output_as<T: DeserializeOwned>(&self) -> Result<Option<T>, Error> {
        let raw: RawParts<'_> = decode(&self.data, "a task_run.state event")?;
        raw.output
            .map(|o| serde_json::from_str(o.content.get()))
            .transpose()
            .map_err(|e| Error::decode("the run's output as the requested type", e))
    }

    /// The run's input (`input` of the original request) as `T`, or `None` when the event
    /// carries no input (not requested).
    pub fn input_as<T: DeserializeOwned>(&self) -> Result<Option<T>, Error> {
        let raw: RawParts<'_> = decode(&self.data, "a task_run.state event")?;
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

/// Decodes an event's JSON; `what` names it in the error.
pub(crate) fn decode<'a, T: Deserialize<'a>>(data: &'a [u8], what: &str) -> Result<T, Error> {
    from_json_slice(data).map_err(|e| Error::decode(what, e))
}

/// Decodes an event of the stream `stream` (a session's `what`); the error's wording is
/// only built when there is an error.
fn decode_event<'a, T: Deserialize<'a>>(data: &'a [u8], stream: &str) -> Result<T, Error> {
    from_json_slice(data).map_err(|e| Error::decode(&format!("an event of {stream}"), e))
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
        decode_event(data, what)
    }

    /// The two keys in front, as servers write them
    /// ([`parallel_types::leading_type_and_id`]); `None` for any other layout.
    fn leading(data: &'a [u8]) -> Option<Self> {
        let (kind, event_id) = leading_type_and_id(data)?;
        Some(Peek {
            kind: Cow::Borrowed(kind),
            event_id: event_id.map(Cow::Borrowed),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use futures::FutureExt;

    use super::*;

    fn numbers(n: u32) -> BoxStream<'static, Result<u32, Error>> {
        futures::stream::iter((0..n).map(Ok)).boxed()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn read_ahead_keeps_every_item_in_order_whatever_the_capacity() {
        for capacity in [0, 1, 2, 127, 128, 129, 1000, 5000] {
            let mut stream = read_ahead(numbers(3000), capacity);
            let items: Vec<u32> = stream.by_ref().map(Result::unwrap).collect().await;
            assert_eq!(items, (0..3000).collect::<Vec<_>>(), "capacity {capacity}");
            assert!(
                stream.next().await.is_none(),
                "still ended when polled again"
            );
        }
    }

    #[tokio::test]
    async fn read_ahead_ends_after_an_error() {
        let inner =
            futures::stream::iter([Ok(1), Err(Error::new(Kind::Connection, "cut")), Ok(3)]).boxed();
        let items: Vec<Result<u32, Error>> = read_ahead(inner, 16).collect().await;
        assert_eq!(items.len(), 2, "{items:?}");
        assert_eq!(items[0].as_ref().unwrap(), &1);
        assert!(items[1].as_ref().unwrap_err().is_connection());
    }

    /// Sets its flag when dropped.
    struct DropFlag(Arc<AtomicBool>);

    impl Drop for DropFlag {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    #[tokio::test]
    async fn dropping_the_stream_stops_the_read_ahead_task() {
        // One item, then a stream that never ends (a connection waiting for data): only
        // aborting the task drops it.
        let dropped = Arc::new(AtomicBool::new(false));
        let flag = DropFlag(Arc::clone(&dropped));
        let inner = futures::stream::once(async { Ok(7) })
            .chain(futures::stream::pending())
            .map(move |item| {
                let _owned_by_the_stream = &flag;
                item
            })
            .boxed();
        let mut stream = read_ahead(inner, 16);
        assert_eq!(stream.next().await.unwrap().unwrap(), 7);
        assert!(!dropped.load(Ordering::SeqCst), "the task still runs");
        drop(stream);
        for _ in 0..100 {
            if dropped.load(Ordering::SeqCst) {
                return;
            }
            tokio::task::yield_now().await;
        }
        panic!("the read-ahead task still holds the inner stream");
    }

    #[tokio::test]
    async fn a_panic_in_the_read_ahead_task_reaches_the_caller() {
        // Without it the stream would simply end, and the runs after the panic be lost
        // without a word.
        let inner = futures::stream::iter([1, 2])
            .map(|n| {
                if n == 2 {
                    panic!("decoding run {n}")
                } else {
                    Ok(n)
                }
            })
            .boxed();
        let mut stream = read_ahead(inner, 16);
        let caught = std::panic::AssertUnwindSafe(async {
            while let Some(item) = stream.next().await {
                item.unwrap();
            }
        })
        .catch_unwind()
        .await;
        let panic = caught.expect_err("the panic is resumed");
        assert_eq!(
            panic.downcast_ref::<String>().map(String::as_str),
            Some("decoding run 2")
        );
    }

    #[test]
    fn outside_a_runtime_the_stream_is_read_directly() {
        let mut stream = read_ahead(numbers(3), 16);
        let mut cx = Context::from_waker(std::task::Waker::noop());
        for expected in 0..3 {
            match stream.as_mut().poll_next(&mut cx) {
                Poll::Ready(Some(Ok(item))) => assert_eq!(item, expected),
                other => panic!("expected item {expected}, got {other:?}"),
            }
        }
        assert!(matches!(
            stream.as_mut().poll_next(&mut cx),
            Poll::Ready(None)
        ));
    }

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
    match from_json_slice::<ErrorEventBody>(data) {
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

pub(crate) fn runs_stream(session: Session, read_ahead: usize) -> RunsStream {
    let inner = drive(Box::new(session), |mut session| async move {
        let next = next_group_run(&mut session).await;
        (next, session)
    });
    RunsStream {
        inner: self::read_ahead(inner, read_ahead),
    }
}

/// At most this many items go to the caller in one hand-over from the read-ahead task.
const READ_AHEAD_CHUNK: usize = 128;

/// Runs `inner` on a Tokio task of its own, up to `capacity` items ahead of the caller, so
/// that producing items (network reads, framing) overlaps with the caller's own work. Items
/// cross in chunks of what was ready at once, which keeps the hand-over cheap. The task
/// starts at the first poll (outside a Tokio runtime, `inner` is polled directly), stops at
/// the end of `inner` or after an error, and is aborted when the stream is dropped; a panic
/// in it is resumed in the caller.
fn read_ahead<T: Send + 'static>(
    inner: BoxStream<'static, Result<T, Error>>,
    capacity: usize,
) -> BoxStream<'static, Result<T, Error>> {
    enum State<T> {
        NotStarted(BoxStream<'static, Result<T, Error>>),
        Direct(BoxStream<'static, Result<T, Error>>),
        Ahead {
            chunks: TaskStream<Vec<Result<T, Error>>>,
            current: std::vec::IntoIter<Result<T, Error>>,
        },
    }

    if capacity == 0 {
        return inner;
    }
    let chunk = capacity.min(READ_AHEAD_CHUNK);
    let slots = capacity.div_ceil(chunk);
    let mut state = State::NotStarted(inner);
    Box::pin(futures::stream::poll_fn(move |cx| {
        loop {
            match &mut state {
                State::Direct(inner) => return inner.as_mut().poll_next(cx),
                State::Ahead { chunks, current } => {
                    if let Some(item) = current.next() {
                        return Poll::Ready(Some(item));
                    }
                    match chunks.poll_next_unpin(cx) {
                        Poll::Ready(Some(chunk)) => *current = chunk.into_iter(),
                        Poll::Ready(None) => return Poll::Ready(None),
                        Poll::Pending => return Poll::Pending,
                    }
                }
                State::NotStarted(_) => {
                    let State::NotStarted(inner) = std::mem::replace(
                        &mut state,
                        State::Direct(Box::pin(futures::stream::empty())),
                    ) else {
                        unreachable!("matched above")
                    };
                    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
                        state = State::Direct(inner);
                        continue;
                    };
                    let (sender, chunks) = tokio::sync::mpsc::channel(slots);
                    let task = runtime.spawn(async move {
                        let mut ready = inner.ready_chunks(chunk);
                        while let Some(mut chunk) = ready.next().await {
                            let error = chunk.iter().position(Result::is_err);
                            if let Some(at) = error {
                                chunk.truncate(at + 1);
                            }
                            if sender.send(chunk).await.is_err() || error.is_some() {
                                break;
                            }
                        }
                    });
                    state = State::Ahead {
                        chunks: TaskStream::new(chunks, task),
                        current: Vec::new().into_iter(),
                    };
                }
            }
        }
    }))
}

/// What a spawned task sends over a channel, as a stream. It ends when the task has ended
/// (and answers `None` when polled again); a panic in the task is resumed in the caller, as it
/// would have been had the caller done the work itself, instead of looking like the end and
/// losing what the task had not sent; dropping the stream aborts the task.
pub(crate) struct TaskStream<I> {
    items: tokio::sync::mpsc::Receiver<I>,
    task: tokio::task::JoinHandle<()>,
    ended: bool,
}

impl<I> TaskStream<I> {
    /// The stream of `items`, which `task` sends.
    pub(crate) fn new(
        items: tokio::sync::mpsc::Receiver<I>,
        task: tokio::task::JoinHandle<()>,
    ) -> Self {
        Self {
            items,
            task,
            ended: false,
        }
    }
}

impl<I> Stream for TaskStream<I> {
    type Item = I;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<I>> {
        let this = self.get_mut();
        if this.ended {
            return Poll::Ready(None);
        }
        match this.items.poll_recv(cx) {
            // The channel closed: wait for the task's end (a finished task must not be
            // polled twice, hence `ended`).
            Poll::Ready(None) => match Pin::new(&mut this.task).poll(cx) {
                Poll::Ready(Err(error)) if error.is_panic() => {
                    std::panic::resume_unwind(error.into_panic())
                }
                Poll::Ready(_) => {
                    this.ended = true;
                    Poll::Ready(None)
                }
                Poll::Pending => Poll::Pending,
            },
            other => other,
        }
    }
}

impl<I> Drop for TaskStream<I> {
    fn drop(&mut self) {
        self.task.abort();
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
        let event: GroupEvent = decode_event(&data, session.what())?;
        if let GroupEvent::TaskGroupStatus(status) = &event {
            // Even a repeated status (the snapshot opening a resumed connection) is current.
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
        let Some(data) = next_data(session, finished, "the run was active").await? else {
            return Ok(None);
        };
        let hash = state.seen.hasher().hash_one(&data[..]);
        if !state.seen.insert(hash) {
            continue;
        }
        let event: RunEvent = decode_event(&data, session.what())?;
        session.delivered(None);
        if let RunEvent::TaskRunState(ev) = &event {
            // Not the end yet: a stream opened on a finished run starts with its state
            // without the output, and sends the final state with the output last.
            state.run_done = !ev.run.is_active;
        }
        return Ok(Some(event));
    }
}
