//! Watching the bytes of one stream connection: how long it has been silent, whether a whole
//! frame (an event or a keep-alive) arrived, and whether it ended on a frame boundary.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use parallel_transport::TransportError;
use tokio::time::{Instant, Sleep};

/// The tail value of a body that sent nothing.
const EMPTY_TAIL: u32 = u32::MAX;

/// What the bytes of one connection showed, shared between the body wrapper (inside the SSE
/// parser) and the session.
#[derive(Debug)]
pub(crate) struct Seen {
    /// The last four bytes, big-endian, newest lowest ([`EMPTY_TAIL`] before any byte).
    tail: AtomicU32,
    /// Whether a blank line (the end of an event or of a keep-alive comment) arrived.
    framed: AtomicBool,
    /// Whether the idle timer fired.
    silent: AtomicBool,
}

impl Seen {
    fn new() -> Self {
        Self {
            tail: AtomicU32::new(EMPTY_TAIL),
            framed: AtomicBool::new(false),
            silent: AtomicBool::new(false),
        }
    }

    /// Whether a whole frame, event or keep-alive, arrived: the connection made progress.
    pub(crate) fn framed(&self) -> bool {
        self.framed.load(Ordering::Relaxed)
    }

    /// Whether the body went silent for longer than the idle timeout.
    pub(crate) fn went_silent(&self) -> bool {
        self.silent.load(Ordering::Relaxed)
    }

    /// Whether the bytes so far end on a frame boundary (or there were none).
    pub(crate) fn ends_on_a_boundary(&self) -> bool {
        ends_with_blank_line(self.tail.load(Ordering::Relaxed))
    }

    fn record(&self, chunk: &[u8]) {
        let previous = self.tail.load(Ordering::Relaxed);
        if !self.framed() {
            let before = (previous != EMPTY_TAIL).then_some(previous.to_be_bytes()[3]);
            let mut last = before;
            for &byte in chunk {
                if matches!(
                    (last, byte),
                    (Some(b'\n'), b'\n' | b'\r') | (Some(b'\r'), b'\r')
                ) {
                    self.framed.store(true, Ordering::Relaxed);
                    break;
                }
                last = Some(byte);
            }
        }
        let previous = if previous == EMPTY_TAIL { 0 } else { previous };
        let newest = &chunk[chunk.len().saturating_sub(4)..];
        let tail = newest
            .iter()
            .fold(previous, |acc, &b| (acc << 8) | u32::from(b));
        self.tail.store(tail, Ordering::Relaxed);
    }
}

/// The body went silent for longer than the idle timeout.
#[derive(Debug)]
struct Silent(Duration);

impl fmt::Display for Silent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "no byte arrived for {:?}", self.0)
    }
}

impl std::error::Error for Silent {}

/// Passes a body through, recording what [`Seen`] tracks, and fails it with a time-out when
/// no byte arrives for `idle`: silence is measured on bytes, so keep-alive comments, which
/// the parser swallows, keep the connection alive.
pub(crate) struct Watched<S> {
    inner: S,
    seen: Arc<Seen>,
    idle: Duration,
    timer: Pin<Box<Sleep>>,
}

impl<S> Watched<S> {
    /// Watches `inner`; the idle timer starts now.
    pub(crate) fn new(inner: S, idle: Duration) -> (Self, Arc<Seen>) {
        let seen = Arc::new(Seen::new());
        let watched = Self {
            inner,
            seen: Arc::clone(&seen),
            idle,
            timer: Box::pin(tokio::time::sleep(idle)),
        };
        (watched, seen)
    }
}

impl<S> Stream for Watched<S>
where
    S: Stream<Item = Result<Bytes, TransportError>> + Unpin,
{
    type Item = Result<Bytes, TransportError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        match this.inner.poll_next_unpin(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                if !chunk.is_empty() {
                    this.seen.record(&chunk);
                    this.timer.as_mut().reset(Instant::now() + this.idle);
                }
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Pending => match this.timer.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    this.seen.silent.store(true, Ordering::Relaxed);
                    Poll::Ready(Some(Err(TransportError::timeout(Silent(this.idle)))))
                }
                Poll::Pending => Poll::Pending,
            },
            other @ Poll::Ready(_) => other,
        }
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

    async fn watch(
        chunks: &[&'static [u8]],
        idle: Duration,
    ) -> (Vec<Result<Bytes, TransportError>>, Arc<Seen>) {
        let chunks: Vec<Result<Bytes, TransportError>> =
            chunks.iter().map(|c| Ok(Bytes::from_static(c))).collect();
        let (watched, seen) = Watched::new(futures::stream::iter(chunks), idle);
        (watched.collect().await, seen)
    }

    #[tokio::test]
    async fn the_tail_and_frame_boundaries_span_chunks() {
        let (_, seen) = watch(&[b"data: 1\n", b"", b"\n"], Duration::from_secs(5)).await;
        assert!(seen.ends_on_a_boundary() && seen.framed());
        let (_, seen) = watch(
            &[b": keep-alive\r\n\r\ndata: {\"a", b"\":1}"],
            Duration::from_secs(5),
        )
        .await;
        assert!(seen.framed() && !seen.ends_on_a_boundary());
        let (_, seen) = watch(
            &[b"data: {\"a\":1}\n", b"data: 2\r"],
            Duration::from_secs(5),
        )
        .await;
        assert!(!seen.framed() && !seen.went_silent());
    }

    #[tokio::test(start_paused = true)]
    async fn silence_of_bytes_fails_the_body_and_bytes_keep_it_open() {
        let idle = Duration::from_secs(3);
        // A keep-alive every second for ten seconds, then silence.
        let beats = futures::stream::unfold(0, |n| async move {
            if n == 10 {
                futures::future::pending::<()>().await;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
            Some((Ok::<_, TransportError>(Bytes::from_static(b":\n\n")), n + 1))
        });
        let started = Instant::now();
        let (mut watched, seen) = Watched::new(Box::pin(beats), idle);
        for _ in 0..10 {
            assert!(watched.next().await.unwrap().is_ok());
        }
        let error = watched.next().await.unwrap().unwrap_err();
        assert!(error.is_timeout() && seen.went_silent(), "{error:?}");
        assert_eq!(started.elapsed(), Duration::from_secs(13));
    }
}
