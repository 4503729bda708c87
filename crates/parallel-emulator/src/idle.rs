//! Requests in flight on one connection, so that a connection carrying none for too long is
//! closed whatever its protocol: hyper's header-read timeout covers HTTP/1 only, and an
//! HTTP/2 connection that sent its preface and nothing more would otherwise hold its place
//! under `max_connections` for ever.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use tokio::sync::watch;

use crate::body::ResponseBody;

/// How many requests of one connection are in flight: from the call of the service until
/// its response body is dropped (sent in full, or abandoned).
#[derive(Debug, Clone)]
pub(crate) struct Activity(Arc<watch::Sender<usize>>);

impl Activity {
    pub(crate) fn new() -> Activity {
        Activity(Arc::new(watch::channel(0).0))
    }

    /// Counts one request in flight until the returned guard is dropped.
    pub(crate) fn begin(&self) -> InFlight {
        self.0.send_modify(|n| *n += 1);
        InFlight(Arc::clone(&self.0))
    }

    /// Completes once no request has been in flight for `limit` in a row.
    pub(crate) async fn idle_for(&self, limit: Duration) {
        let mut in_flight = self.0.subscribe();
        loop {
            let busy = *in_flight.borrow_and_update() > 0;
            tokio::select! {
                () = tokio::time::sleep(limit), if !busy => return,
                // The sender lives in `self`, so this never fails.
                _ = in_flight.changed() => {}
            }
        }
    }
}

/// One request in flight; dropping it ends it.
#[derive(Debug)]
pub(crate) struct InFlight(Arc<watch::Sender<usize>>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// A response body that keeps its request in flight until hyper drops it.
#[derive(Debug)]
pub(crate) struct TrackedBody {
    body: ResponseBody,
    _in_flight: InFlight,
}

impl TrackedBody {
    pub(crate) fn new(body: ResponseBody, in_flight: InFlight) -> TrackedBody {
        TrackedBody {
            body,
            _in_flight: in_flight,
        }
    }
}

impl http_body::Body for TrackedBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn idle_means_no_request_in_flight_for_the_whole_limit() {
        let activity = Activity::new();
        let limit = Duration::from_secs(10);
        let request = activity.begin();
        let started = tokio::time::Instant::now();
        let watcher = tokio::spawn({
            let activity = activity.clone();
            async move { activity.idle_for(limit).await }
        });
        tokio::time::sleep(Duration::from_secs(30)).await;
        assert!(!watcher.is_finished(), "busy for 30 s: not idle");
        drop(request);
        watcher.await.unwrap();
        assert_eq!(started.elapsed(), Duration::from_secs(40));
    }
}
