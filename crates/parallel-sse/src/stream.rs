//! The `Stream` adapter: events from any stream of byte chunks.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_core::Stream;

use crate::error::StreamError;
use crate::event::Event;
use crate::limits::Limits;
use crate::parser::Parser;

/// Parses server-sent events from a stream of byte chunks, such as an HTTP response body.
///
/// Yields `Ok(Event)` for each event, `Err(StreamError::Source(e))` when the byte source fails
/// (the source is polled again if this stream is), and `Err(StreamError::Parse(e))` when a
/// [`Limits`] bound is exceeded, after which the stream ends. When the source ends, an event
/// without its closing blank line is discarded, as the SSE rules require.
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

    /// The last event id seen so far (`""` if none); send it as `Last-Event-ID` when
    /// reconnecting.
    pub fn last_event_id(&self) -> &str {
        self.parser.last_event_id()
    }

    /// The reconnection time in milliseconds from the last valid `retry:` field, if any.
    pub fn retry(&self) -> Option<u64> {
        self.parser.retry()
    }
}

impl<S, E> Stream for EventStream<S>
where
    S: Stream<Item = Result<Bytes, E>>,
{
    type Item = Result<Event, StreamError<E>>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            match this.parser.next_event() {
                Some(Ok(event)) => return Poll::Ready(Some(Ok(event))),
                Some(Err(error)) => {
                    // The parser stops after a limit error; so does the stream.
                    this.source_done = true;
                    return Poll::Ready(Some(Err(StreamError::Parse(error))));
                }
                None if this.source_done => return Poll::Ready(None),
                None => {}
            }
            match this.source.as_mut().poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(chunk))) => this.parser.push(chunk),
                Poll::Ready(Some(Err(error))) => {
                    return Poll::Ready(Some(Err(StreamError::Source(error))));
                }
                Poll::Ready(None) => {
                    this.parser.finish();
                    this.source_done = true;
                }
            }
        }
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
