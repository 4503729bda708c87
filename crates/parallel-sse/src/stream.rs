//! The `Stream` adapters: events (or frames) from any stream of byte chunks.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_core::Stream;

use crate::error::{Error, StreamError};
use crate::event::Event;
use crate::frame::Frame;
use crate::limits::Limits;
use crate::parser::Parser;

/// Parses server-sent events from a stream of byte chunks, such as an HTTP response body.
///
/// Yields `Ok(Event)` for each event, `Err(StreamError::Source(e))` when the byte source fails
/// (the source is polled again if this stream is), and `Err(StreamError::Parse(e))` when a
/// [`Limits`] bound is exceeded, after which the stream ends. When the source ends, an event
/// without its closing blank line is discarded, as the SSE rules require;
/// [`ended_inside_event`](EventStream::ended_inside_event) then says so.
///
/// ```
/// use bytes::Bytes;
/// use futures::{StreamExt, executor::block_on, stream};
/// use parallel_sse::EventStream;
///
/// let chunks = vec![Ok::<_, std::io::Error>(Bytes::from_static(b"data: hel")), Ok(Bytes::from_static(b"lo\n\n"))];
/// let mut events = EventStream::new(stream::iter(chunks));
/// let event = block_on(events.next()).unwrap().unwrap();
/// assert_eq!(event.data_str(), "hello");
/// assert!(block_on(events.next()).is_none());
/// assert!(!events.ended_inside_event());
/// ```
pub struct EventStream<S> {
    // Boxed so that any source works, `Unpin` or not, without unsafe pin projection.
    source: Pin<Box<S>>,
    parser: Parser,
    source_done: bool,
}

impl<S> EventStream<S> {
    /// Parses `source` with the default [`Limits`].
    pub fn new(source: S) -> Self {
        EventStream::with_limits(source, Limits::default())
    }

    /// Parses `source` with the given limits.
    pub fn with_limits(source: S, limits: Limits) -> Self {
        EventStream {
            source: Box::pin(source),
            parser: Parser::with_limits(limits),
            source_done: false,
        }
    }

    /// The same stream, yielding comments as well as events.
    pub fn frames(self) -> FrameStream<S> {
        FrameStream { events: self }
    }

    /// The last event id seen so far (`""` if none); send it as `Last-Event-ID` when
    /// reconnecting.
    pub fn last_event_id(&self) -> &str {
        self.parser.last_event_id()
    }

    /// The reconnection time in milliseconds from the last valid `retry:` field, if any.
    pub fn retry(&self) -> Option<u64> {
        self.parser.retry()
    }

    /// Once the stream has ended: whether the source ended inside an event
    /// ([`Parser::ended_inside_event`]), which tells a connection cut short from a server that
    /// closed the stream between events.
    pub fn ended_inside_event(&self) -> bool {
        self.parser.ended_inside_event()
    }

    /// Takes the next item from the parser, pulling chunks from the source as needed.
    fn poll_parsed<T, E>(
        &mut self,
        cx: &mut Context<'_>,
        next: impl Fn(&mut Parser) -> Option<Result<T, Error>>,
    ) -> Poll<Option<Result<T, StreamError<E>>>>
    where
        S: Stream<Item = Result<Bytes, E>>,
    {
        loop {
            match next(&mut self.parser) {
                Some(Ok(item)) => return Poll::Ready(Some(Ok(item))),
                Some(Err(error)) => {
                    // The parser stops after a limit error; so does the stream.
                    self.source_done = true;
                    return Poll::Ready(Some(Err(StreamError::Parse(error))));
                }
                None if self.source_done => return Poll::Ready(None),
                None => {}
            }
            match self.source.as_mut().poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(chunk))) => self.parser.push(chunk),
                Poll::Ready(Some(Err(error))) => {
                    return Poll::Ready(Some(Err(StreamError::Source(error))));
                }
                Poll::Ready(None) => {
                    self.parser.finish();
                    self.source_done = true;
                }
            }
        }
    }
}

impl<S, E> Stream for EventStream<S>
where
    S: Stream<Item = Result<Bytes, E>>,
{
    type Item = Result<Event, StreamError<E>>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_parsed(cx, Parser::next_event)
    }
}

impl<S> std::fmt::Debug for EventStream<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStream")
            .field("parser", &self.parser)
            .field("source_done", &self.source_done)
            .finish_non_exhaustive()
    }
}

/// An [`EventStream`] that yields comments too, as [`Frame`]s in stream order
/// ([`EventStream::frames`]). Errors and the end of the stream are as for [`EventStream`].
///
/// ```
/// use bytes::Bytes;
/// use futures::{StreamExt, executor::block_on, stream};
/// use parallel_sse::{EventStream, Frame};
///
/// let chunks = vec![Ok::<_, std::io::Error>(Bytes::from_static(b":\n\ndata: 1\n\ndata: 2"))];
/// let mut frames = EventStream::new(stream::iter(chunks)).frames();
/// assert!(matches!(block_on(frames.next()), Some(Ok(Frame::Comment(_)))));
/// assert!(matches!(block_on(frames.next()), Some(Ok(Frame::Event(_)))));
/// assert!(block_on(frames.next()).is_none());
/// assert!(frames.ended_inside_event(), "the second event was cut off");
/// ```
pub struct FrameStream<S> {
    events: EventStream<S>,
}

impl<S> FrameStream<S> {
    /// As [`EventStream::last_event_id`].
    pub fn last_event_id(&self) -> &str {
        self.events.last_event_id()
    }

    /// As [`EventStream::retry`].
    pub fn retry(&self) -> Option<u64> {
        self.events.retry()
    }

    /// As [`EventStream::ended_inside_event`].
    pub fn ended_inside_event(&self) -> bool {
        self.events.ended_inside_event()
    }
}

impl<S, E> Stream for FrameStream<S>
where
    S: Stream<Item = Result<Bytes, E>>,
{
    type Item = Result<Frame, StreamError<E>>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().events.poll_parsed(cx, Parser::next_frame)
    }
}

impl<S> std::fmt::Debug for FrameStream<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameStream")
            .field("events", &self.events)
            .finish()
    }
}
