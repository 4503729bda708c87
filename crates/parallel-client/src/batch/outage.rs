//! Riding out failures that pass: what counts as one, and retrying until the batch's
//! outage tolerance runs out.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use crate::client::Client;
use crate::error::Error;

/// How long a batch rides out failures that may pass, and for which server: failures are
/// ridden out only once that server has answered at least once. A wrong address or a server
/// that is not up fails within the client's own retries, with its connection error, instead
/// of after the whole tolerance.
#[derive(Clone)]
pub(crate) struct Tolerance {
    pub(crate) window: Duration,
    pub(crate) client: Client,
}

impl Tolerance {
    fn rides_out(&self, error: &Error, since: Instant) -> bool {
        is_transient(error)
            && since.elapsed() < self.window
            && self.client.inner.reachability.ever_answered()
    }
}

/// The first pause after a failure; it doubles up to [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(250);

/// The longest pause between two tries, so that the batch goes on within seconds of the
/// end of an outage.
const MAX_PAUSE: Duration = Duration::from_secs(5);

/// Whether `error` may pass if the same thing is tried again later: the network, a timeout,
/// an `error` event, or the statuses the API uses for passing trouble (408, 409, 429, 5xx).
/// A 402 (no credit), a 4xx about the request, or a decode error does not pass by waiting.
pub(crate) fn is_transient(error: &Error) -> bool {
    if error.is_timeout() || error.is_connection() || error.is_outcome_unknown() {
        return true;
    }
    if error.is_api() && error.status().is_none() {
        return true; // an `error` event inside a stream
    }
    error.status().is_some_and(|status| {
        matches!(status.as_u16(), 408 | 409 | 429) || status.is_server_error()
    })
}

/// Failures in a row and since when, for one thing the batch keeps trying.
#[derive(Debug, Default)]
pub(crate) struct Patience {
    since: Option<Instant>,
    failures: u32,
}

impl Patience {
    /// Records a failure: the pause before trying again, or `None` when `error` does not
    /// pass by waiting, the failures have lasted longer than the tolerance, or the server has
    /// never answered.
    pub(crate) fn failed(&mut self, error: &Error, tolerance: &Tolerance) -> Option<Duration> {
        let since = *self.since.get_or_insert_with(Instant::now);
        if !tolerance.rides_out(error, since) {
            return None;
        }
        let pause = crate::retry::exponential_backoff(FIRST_PAUSE, MAX_PAUSE, self.failures, 0.0);
        self.failures += 1;
        tracing::warn!(error = %error, retry_in = ?pause, "batch: retrying after a failure");
        Some(pause)
    }

    /// Records a success: the next failure starts a new count.
    pub(crate) fn succeeded(&mut self) {
        self.since = None;
        self.failures = 0;
    }
}

/// Calls `attempt` until it succeeds, pausing after each failure that may pass, for as long
/// as `tolerance` allows. `attempt` gets the error of the try before it, if any.
pub(crate) async fn patiently<T, F, Fut>(tolerance: &Tolerance, mut attempt: F) -> Result<T, Error>
where
    F: FnMut(Option<Error>) -> Fut,
    Fut: Future<Output = Result<T, Error>>,
{
    let mut patience = Patience::default();
    let mut last = None;
    loop {
        match attempt(last.take()).await {
            Ok(value) => return Ok(value),
            Err(error) => {
                let Some(pause) = patience.failed(&error, tolerance) else {
                    return Err(error);
                };
                last = Some(error);
                tokio::time::sleep(pause).await;
            }
        }
    }
}
