//! The three server-sent-event streams, as resuming `futures::Stream`s of typed events.
//!
//! One idea per file: [`session`] keeps one logical stream alive over as many HTTP responses
//! as it takes; [`runs`] is the group runs stream and [`group_run`] its items; [`read_ahead`]
//! reads a stream ahead of its caller on a task of its own; [`events`] holds the group and
//! run events streams; [`peek`] reads an event's type and id, once, without decoding it;
//! [`watch`] is a connection's idle timer.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::Stream;
use futures::stream::BoxStream;
use parallel_types::{GroupEvent, RunEvent};

use crate::error::Error;

pub(crate) mod events;
pub(crate) mod group_run;
pub(crate) mod peek;
pub(crate) mod read_ahead;
pub(crate) mod runs;
pub(crate) mod session;
pub(crate) mod watch;

pub use events::GroupEventsOptions;
pub(crate) use events::{group_events_stream, run_events_stream};
pub use group_run::GroupRun;
pub(crate) use peek::decode;
pub(crate) use read_ahead::TaskStream;
pub use runs::GroupRunsOptions;
pub(crate) use runs::runs_stream;

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
    /// The runs of a group ([`GroupHandle::runs`](crate::GroupHandle::runs)): one
    /// [`GroupRun`] per run, resuming by itself after interruptions, ending after the last run.
    ///
    /// The stream has no end marker, so when a connection that delivered runs ends, the
    /// stream asks once more after the last run, and ends when the server has nothing more.
    /// An `error` event from the server ends the stream with an error
    /// ([`Error::is_api`](crate::Error::is_api), the server's error object in
    /// [`Error::api_error`](crate::Error::api_error)); open a new stream with
    /// [`GroupRunsOptions::last_event_id`] set to the last run's `event_id` to go on. Events of
    /// a type this client does not know, or without a `type`, are skipped with a
    /// `tracing` warning.
    RunsStream,
    GroupRun
);

boxed_stream!(
    /// A group's status updates and run completions
    /// ([`GroupHandle::events`](crate::GroupHandle::events)), resuming by itself; it ends
    /// when the server closes it after a `task_group_status` event reporting the group
    /// inactive. Any other close is a reconnect from the last event id.
    ///
    /// An `error` event from the server is an item, [`GroupEvent::Error`], as the official
    /// SDKs yield it; the stream goes on (reconnecting if the server closes it), and a
    /// connection that brought only an error counts as a failed attempt of the
    /// [`ReconnectPolicy`](crate::ReconnectPolicy), so a server that keeps failing ends the
    /// stream with an error. Events of a type this client does not know, or without a `type`,
    /// are skipped with a `tracing` warning.
    GroupEvents,
    GroupEvent
);

boxed_stream!(
    /// A run's state, progress and messages ([`Client::run_events`](crate::Client::run_events)),
    /// reconnecting by itself without repeating events; it ends after the run's final state.
    ///
    /// An `error` event from the server is an item, [`RunEvent::Error`], as for
    /// [`GroupEvents`]. Events of a type this client does not know, or without a `type`, are
    /// skipped with a `tracing` warning.
    RunEvents,
    RunEvent
);

/// Turns a step function (`state -> next item`) into a stream that stops after the end or
/// the first error.
pub(crate) fn drive<S, T, F, Fut>(state: S, mut step: F) -> BoxStream<'static, Result<T, Error>>
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
