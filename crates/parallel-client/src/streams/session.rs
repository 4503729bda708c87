//! One logical server-sent-event stream over as many HTTP responses as it takes.
//!
//! A [`Session`] opens the stream, hands out the data of each non-empty frame, and when the
//! connection breaks (a body error, a response cut inside an event, an idle timeout) it waits a
//! backed-off moment and opens it again with `last_event_id` set to the last event the caller
//! took, so that no event is lost or repeated. Reconnects are bounded: after
//! `max_stream_reconnects` consecutive interruptions without a new event the stream fails.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::{Stream, StreamExt};
use parallel_sse::{EventStream, StreamError};
use parallel_transport::{BodyStream, TransportError};

use crate::client::Inner;
use crate::error::{Error, Kind};
use crate::request::{Call, PathBuilder};

type Events = EventStream<TailTracked<BodyStream>>;

pub(crate) struct Session {
    inner: Arc<Inner>,
    /// What the stream is, for error messages.
    what: String,
    /// Path and query, without `last_event_id`.
    path: String,
    /// Whether the server takes `last_event_id` (the run event stream has no cursor).
    resumable: bool,
    last_event_id: Option<String>,
    open: Option<(Events, Arc<AtomicU32>)>,
    /// Interruptions since the last delivered event.
    failures: u32,
    /// Whether the current connection sent any event, even one the caller skipped.
    heard_from_connection: bool,
}

/// What [`Session::next_frame`] found.
pub(crate) enum Frame {
    /// The data of one non-empty event.
    Data(Bytes),
    /// The server ended the response cleanly, after a complete event.
    End,
}

impl Session {
    pub(crate) fn new(inner: Arc<Inner>, what: String, path: String, resumable: bool) -> Self {
        Self {
            inner,
            what,
            path,
            resumable,
            last_event_id: None,
            open: None,
            failures: 0,
            heard_from_connection: false,
        }
    }

    /// Starts (or resumes) the stream after this event id.
    pub(crate) fn resume_after(mut self, last_event_id: Option<String>) -> Self {
        self.last_event_id = last_event_id.filter(|id| !id.is_empty());
        self
    }

    pub(crate) fn what(&self) -> &str {
        &self.what
    }

    pub(crate) fn last_event_id(&self) -> Option<&str> {
        self.last_event_id.as_deref()
    }

    /// The data of the next non-empty frame, reconnecting through interruptions.
    pub(crate) async fn next_frame(&mut self) -> Result<Frame, Error> {
        loop {
            let Some((events, tail)) = &mut self.open else {
                self.connect().await?;
                continue;
            };
            let idle = self.inner.stream_idle_timeout;
            match tokio::time::timeout(idle, events.next()).await {
                Err(_) => {
                    let error = Error::new(
                        Kind::Timeout,
                        format!(
                            "{} was silent for {idle:?} and reconnecting did not help; raise \
                             ClientBuilder::stream_idle_timeout if the server is slow",
                            self.what
                        ),
                    );
                    self.interrupted(error).await?;
                }
                Ok(None) => {
                    let complete = ends_with_blank_line(tail.load(Ordering::Relaxed));
                    self.open = None;
                    if complete {
                        return Ok(Frame::End);
                    }
                    let error = Error::new(
                        Kind::Connection,
                        format!(
                            "{} was cut inside an event and reconnecting did not help",
                            self.what
                        ),
                    );
                    self.interrupted(error).await?;
                }
                Ok(Some(Err(StreamError::Source(e)))) => {
                    let kind = if e.is_timeout() {
                        Kind::Timeout
                    } else {
                        Kind::Connection
                    };
                    let error = Error::new(
                        kind,
                        format!(
                            "{} broke off and reconnecting did not help; check the network",
                            self.what
                        ),
                    )
                    .with_source(e);
                    self.interrupted(error).await?;
                }
                Ok(Some(Err(StreamError::Parse(e)))) => {
                    self.open = None;
                    return Err(Error::new(
                        Kind::Limit,
                        format!("{} sent an event over the size limits; raise ClientBuilder::sse_limits", self.what),
                    )
                    .with_source(e));
                }
                Ok(Some(Ok(event))) => {
                    self.heard_from_connection = true;
                    let data = event.into_data();
                    // Keep-alive frames may carry empty or blank data; they are not events.
                    if data.iter().all(u8::is_ascii_whitespace) {
                        continue;
                    }
                    return Ok(Frame::Data(data));
                }
            }
        }
    }

    /// Records that the caller took an event: a reconnect resumes after it, and the
    /// interruption budget starts again.
    pub(crate) fn delivered(&mut self, event_id: Option<&str>) {
        if let Some(id) = event_id.filter(|id| !id.is_empty()) {
            match &mut self.last_event_id {
                Some(last) => {
                    last.clear();
                    last.push_str(id);
                }
                None => self.last_event_id = Some(id.to_owned()),
            }
        }
        self.failures = 0;
    }

    /// The connection broke or ended early: drop it and wait before the next connect, or
    /// give up with `error` when the budget is spent.
    pub(crate) async fn interrupted(&mut self, error: Error) -> Result<(), Error> {
        self.open = None;
        if self.failures >= self.inner.max_stream_reconnects {
            return Err(error);
        }
        let delay = self.inner.retry.backoff(self.failures, fastrand::f64());
        tracing::debug!(what = %self.what, attempt = self.failures + 1, error = %error, "reconnecting stream");
        self.failures += 1;
        tokio::time::sleep(delay).await;
        Ok(())
    }

    /// The server ended a response cleanly although the stream is not finished (servers cap
    /// a connection's lifetime). Reconnecting is normal then and costs nothing from the budget,
    /// unless the connection sent nothing at all, which would otherwise loop forever.
    pub(crate) async fn reopen_after_clean_end(&mut self, error: Error) -> Result<(), Error> {
        if self.heard_from_connection {
            self.open = None;
            self.failures = 0;
            // A short pause, so that a server closing every connection at once is not hammered.
            let pause = self.inner.retry.backoff(0, fastrand::f64()) / 4;
            tokio::time::sleep(pause).await;
            Ok(())
        } else {
            self.interrupted(error).await
        }
    }

    async fn connect(&mut self) -> Result<(), Error> {
        let mut path = PathBuilder::new(self.path.clone());
        if self.resumable {
            path = path.query_opt("last_event_id", self.last_event_id.as_deref());
        }
        let what = format!("opening {}", self.what);
        let call = Call::get(&self.inner, what, path.build()).stream();
        let response = self.inner.send(&call).await?;
        self.heard_from_connection = false;
        let tail = Arc::new(AtomicU32::new(EMPTY_TAIL));
        let body = TailTracked {
            inner: response.into_body().into_stream(),
            tail: tail.clone(),
        };
        self.open = Some((EventStream::with_limits(body, self.inner.sse_limits), tail));
        Ok(())
    }
}

/// The tail value of a body that sent nothing.
const EMPTY_TAIL: u32 = u32::MAX;

/// Passes a body through while remembering its last four bytes, so that a response that ends
/// cleanly but inside an event (a server or proxy cutting the stream) can be told from a
/// complete one.
pub(crate) struct TailTracked<S> {
    inner: S,
    tail: Arc<AtomicU32>,
}

impl<S> Stream for TailTracked<S>
where
    S: Stream<Item = Result<Bytes, TransportError>> + Unpin,
{
    type Item = Result<Bytes, TransportError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let polled = self.inner.poll_next_unpin(cx);
        if let Poll::Ready(Some(Ok(chunk))) = &polled
            && !chunk.is_empty()
        {
            let previous = self.tail.load(Ordering::Relaxed);
            let previous = if previous == EMPTY_TAIL { 0 } else { previous };
            let tail = chunk
                .iter()
                .fold(previous, |acc, &b| (acc << 8) | u32::from(b));
            self.tail.store(tail, Ordering::Relaxed);
        }
        polled
    }
}

/// Whether the last four bytes of a body (big-endian, newest lowest) end with a blank line,
/// that is two line terminators in a row, or the body was empty.
fn ends_with_blank_line(tail: u32) -> bool {
    if tail == EMPTY_TAIL {
        return true;
    }
    let bytes = tail.to_be_bytes();
    // Strip one terminator (CRLF, LF or CR); a terminator must remain before it.
    let rest: &[u8] = match bytes {
        [a, b, b'\r', b'\n'] => &[a, b],
        [a, b, c, b'\n' | b'\r'] => &[a, b, c],
        _ => return false,
    };
    matches!(rest.last(), Some(b'\n' | b'\r'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tail_of(body: &[u8]) -> u32 {
        if body.is_empty() {
            return EMPTY_TAIL;
        }
        body.iter().fold(0u32, |acc, &b| (acc << 8) | u32::from(b))
    }

    #[test]
    fn complete_bodies_end_with_a_blank_line() {
        for body in [
            &b""[..],
            b"data: {}\n\n",
            b"data: {}\r\n\r\n",
            b"data: {}\r\r",
            b"data: {}\n\r\n",
            b": keep-alive\n\n",
            b"\n\n",
        ] {
            assert!(
                ends_with_blank_line(tail_of(body)),
                "{:?}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn bodies_cut_inside_an_event_are_detected() {
        for body in [
            &b"data: {\"a\""[..],
            b"data: {}\n",
            b"data: {}\r\n",
            b"event: x\r",
            b"d",
        ] {
            assert!(
                !ends_with_blank_line(tail_of(body)),
                "{:?}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[tokio::test]
    async fn the_tail_spans_chunks() {
        let chunks: Vec<Result<Bytes, TransportError>> = vec![
            Ok(Bytes::from_static(b"data: 1\n")),
            Ok(Bytes::new()),
            Ok(Bytes::from_static(b"\n")),
        ];
        let tail = Arc::new(AtomicU32::new(EMPTY_TAIL));
        let mut tracked = TailTracked {
            inner: futures::stream::iter(chunks),
            tail: tail.clone(),
        };
        while tracked.next().await.is_some() {}
        assert!(ends_with_blank_line(tail.load(Ordering::Relaxed)));
    }
}
