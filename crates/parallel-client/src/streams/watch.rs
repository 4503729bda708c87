//! The idle timer of a stream connection: silence of bytes past the idle timeout fails the
//! body.
//!
//! Silence is measured on bytes, below the SSE parser, so that keep-alive comments keep a quiet
//! connection open and an event of many megabytes arriving slowly is not cut. What the bytes
//! mean (an event or a comment completed, the body ended inside an event) is the parser's to
//! say.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use parallel_transport::TransportError;
use tokio::time::{Instant, Sleep};

/// The body went silent for longer than the idle timeout.
#[derive(Debug)]
struct Silent(Duration);

impl fmt::Display for Silent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "no byte arrived for {:?}", self.0)
    }
}

impl std::error::Error for Silent {}

/// Whether a body error is the idle timer's.
pub(crate) fn is_silence(error: &TransportError) -> bool {
    std::error::Error::source(error).is_some_and(<dyn std::error::Error>::is::<Silent>)
}

/// Passes a body through, and fails it with a time-out ([`is_silence`]) when no byte
/// arrives for `idle`.
pub(crate) struct Watched<S> {
    inner: S,
    idle: Duration,
    timer: Pin<Box<Sleep>>,
}

impl<S> Watched<S> {
    /// Watches `inner`; the idle timer starts now.
    pub(crate) fn new(inner: S, idle: Duration) -> Self {
        Self {
            inner,
            idle,
            timer: Box::pin(tokio::time::sleep(idle)),
        }
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
                    this.timer.as_mut().reset(Instant::now() + this.idle);
                }
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Pending => match this.timer.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    Poll::Ready(Some(Err(TransportError::timeout(Silent(this.idle)))))
                }
                Poll::Pending => Poll::Pending,
            },
            other @ Poll::Ready(_) => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let mut watched = Watched::new(Box::pin(beats), idle);
        for _ in 0..10 {
            assert!(watched.next().await.unwrap().is_ok());
        }
        let error = watched.next().await.unwrap().unwrap_err();
        assert!(error.is_timeout() && is_silence(&error), "{error:?}");
        assert_eq!(started.elapsed(), Duration::from_secs(13));
    }

    #[test]
    fn other_time_outs_are_not_silence() {
        let other = TransportError::timeout(std::io::Error::from(std::io::ErrorKind::TimedOut));
        assert!(other.is_timeout() && !is_silence(&other));
    }
}
