//! How a stream reconnects after its connection fails: the policy, the rule for a server that
//! never answered, and the report a caller gets of each reconnect.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::error::Error;

/// How a stream ([`RunsStream`](crate::RunsStream), [`GroupEvents`](crate::GroupEvents),
/// [`RunEvents`](crate::RunEvents), and so [`GroupHandle::wait`](crate::GroupHandle::wait))
/// reconnects after its connection fails.
///
/// The budget counts **consecutive failed attempts**: a connect error, a time-out before the
/// response head, a 408, 429 or 5xx answer, a body that breaks or goes silent before a whole
/// event or keep-alive arrived, or a connection that brought only an `error` event. Each
/// failed attempt waits `min(initial · 2ⁿ, max)`, scaled by a random 75–100 %, before the
/// next; a connection that delivers a whole event or keep-alive resets the count. A
/// connection that made progress and then ended is simply reopened from the last event id.
/// Each reconnect after a failure is reported to
/// [`ClientBuilder::on_reconnect`](crate::ClientBuilder::on_reconnect) (a [`Reconnect`]).
///
/// The policy applies once the server has answered a request of the client (or of a clone
/// of it), so that an outage is ridden out. Before that, nothing says the server is there at
/// all (a wrong base URL, a closed port): a stream's first connection, and
/// [`GroupHandle::wait`](crate::GroupHandle::wait), are then requests like any other, retried
/// by the [`RetryPolicy`](crate::RetryPolicy), and fail with the connection error within
/// seconds. An answer that retrying cannot change (401, 404, 422) fails at once.
///
/// The default (24 attempts, 0.5 s doubling to 30 s) rides out a network outage of at least
/// seven minutes ([`ReconnectPolicy::min_outage_ridden`]):
///
/// ```
/// use std::time::Duration;
/// use parallel_client::ReconnectPolicy;
///
/// assert!(ReconnectPolicy::default().min_outage_ridden() >= Duration::from_secs(7 * 60));
/// // Give up sooner, after about a minute:
/// let quick = ReconnectPolicy::default()
///     .max_attempts(8)
///     .max_backoff(Duration::from_secs(15));
/// assert!(quick.min_outage_ridden() >= Duration::from_secs(45));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ReconnectPolicy {
    max_attempts: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
}

impl Default for ReconnectPolicy {
    fn default() -> Self {
        Self {
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
        }
    }
}

/// The default [`ReconnectPolicy::max_attempts`].
pub(crate) const DEFAULT_MAX_ATTEMPTS: u32 = 24;

impl ReconnectPolicy {
    /// A policy that never reconnects: the first failure ends the stream.
    pub fn none() -> Self {
        Self::default().max_attempts(0)
    }

    /// How many consecutive failed reconnects a stream makes before it fails (default 24).
    #[must_use]
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n;
        self
    }

    /// The wait before the first reconnect of a run of failures (default 0.5 s).
    #[must_use]
    pub fn initial_backoff(mut self, delay: Duration) -> Self {
        self.initial_backoff = delay;
        self
    }

    /// The longest wait between two reconnects (default 30 s).
    #[must_use]
    pub fn max_backoff(mut self, delay: Duration) -> Self {
        self.max_backoff = delay;
        self
    }

    /// The configured number of consecutive failed reconnects.
    pub(crate) fn attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The shortest time the policy keeps trying when every attempt fails at once (the
    /// backoffs at their lowest jitter): an outage shorter than this is ridden out.
    pub fn min_outage_ridden(&self) -> Duration {
        (0..self.max_attempts).map(|n| self.backoff(n, 1.0)).sum()
    }

    /// The wait before reconnect number `failures + 1` of a run of failures, with `jitter`
    /// in `[0, 1]`: `min(initial · 2ⁿ, max) · (1 − 0.25 · jitter)`.
    pub(crate) fn backoff(&self, failures: u32, jitter: f64) -> Duration {
        crate::retry::exponential_backoff(self.initial_backoff, self.max_backoff, failures, jitter)
    }
}

/// What a client knows of its server's reachability, shared by its clones: whether any
/// request ever got an answer (any status). Streams, [`GroupHandle::wait`](crate::GroupHandle::wait)
/// and the batch engine ride out outages only once it has, and fail with the connection error
/// before; the same rule serves every caller in the crate. It also carries the caller's
/// [`ClientBuilder::on_reconnect`](crate::ClientBuilder::on_reconnect) report.
#[derive(Default)]
pub(crate) struct Reachability {
    answered: AtomicBool,
    on_reconnect: Option<ReconnectReport>,
}

/// The caller's reconnect report ([`ClientBuilder::on_reconnect`](crate::ClientBuilder::on_reconnect)).
pub(crate) type ReconnectReport = Arc<dyn Fn(&Reconnect<'_>) + Send + Sync>;

impl Reachability {
    pub(crate) fn new(on_reconnect: Option<ReconnectReport>) -> Self {
        Self {
            answered: AtomicBool::new(false),
            on_reconnect,
        }
    }

    /// Records that the server answered a request (any status).
    pub(crate) fn record_answer(&self) {
        self.answered.store(true, Ordering::Relaxed);
    }

    /// Whether the server ever answered a request of this client or of a clone of it.
    pub(crate) fn ever_answered(&self) -> bool {
        self.answered.load(Ordering::Relaxed)
    }

    /// Tells the caller about a reconnect, and logs it.
    pub(crate) fn report(&self, reconnect: &Reconnect<'_>) {
        let delay_ms = u64::try_from(reconnect.delay.as_millis()).unwrap_or(u64::MAX);
        if reconnect.attempt > 2 {
            tracing::warn!(stream = %reconnect.stream, address = %reconnect.address, attempt = reconnect.attempt, delay_ms, error = %Chain(reconnect.error), "reconnecting stream");
        } else {
            tracing::debug!(stream = %reconnect.stream, address = %reconnect.address, attempt = reconnect.attempt, delay_ms, error = %Chain(reconnect.error), "reconnecting stream");
        }
        if let Some(report) = &self.on_reconnect {
            report(reconnect);
        }
    }
}

impl fmt::Debug for Reachability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reachability")
            .field("answered", &self.answered)
            .field("on_reconnect", &self.on_reconnect.as_ref().map(|_| "<fn>"))
            .finish()
    }
}

/// A stream lost its connection (or could not open one) and is about to try again: what
/// [`ClientBuilder::on_reconnect`](crate::ClientBuilder::on_reconnect) is told, each time.
///
/// `Display` gives the whole story in one line, for a log or a progress display:
///
/// ```text
/// reconnecting the events stream of task group tgrp_1 to 127.0.0.1:8080 in 1.9s (attempt 3 of 24) after: opening the events stream of task group tgrp_1 failed on the network; check the network and the base URL, then try again: connection refused
/// ```
///
/// Reconnects after a connection that made progress and then ended (servers close streams
/// after a while) are routine and not reported.
#[derive(Debug)]
#[non_exhaustive]
pub struct Reconnect<'a> {
    /// The stream, in words (`the runs stream of task group tgrp_...`).
    pub stream: &'a str,
    /// The server: host and port of the base URL (never its credentials).
    pub address: &'a str,
    /// The consecutive failed attempts so far, this one included (from 1).
    pub attempt: u32,
    /// The most the [`ReconnectPolicy`] allows before the stream fails.
    pub max_attempts: u32,
    /// The wait before the next attempt.
    pub delay: Duration,
    /// The failure; its `source()` chain holds the cause.
    pub error: &'a Error,
}

impl fmt::Display for Reconnect<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "reconnecting {} to {} in {:.1?} (attempt {} of {}) after: {}",
            self.stream,
            self.address,
            self.delay,
            self.attempt,
            self.max_attempts,
            Chain(self.error)
        )
    }
}

/// An error and its `source()` chain, joined with `: `.
struct Chain<'a>(&'a Error);

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = std::error::Error::source(self.0);
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

/// Host and port of a base URL, for messages: never the credentials a URL may carry.
pub(crate) fn address(base_url: &str) -> String {
    let Ok(uri) = base_url.parse::<http::Uri>() else {
        return String::from("the server");
    };
    match (uri.host(), uri.port_u16()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_owned(),
        _ => String::from("the server"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Kind;

    #[test]
    fn addresses_show_host_and_port_only() {
        assert_eq!(address("http://127.0.0.1:8080"), "127.0.0.1:8080");
        assert_eq!(address("https://api.parallel.ai/prefix"), "api.parallel.ai");
        assert_eq!(address("http://user:secret@h.example:81"), "h.example:81");
        assert_eq!(address("not a url"), "the server");
    }

    #[test]
    fn a_reconnect_says_what_where_when_and_why() {
        let cause = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let error = Error::new(Kind::Connection, "opening it failed").with_source(cause);
        let reconnect = Reconnect {
            stream: "the events stream of task group tgrp_1",
            address: "127.0.0.1:9",
            attempt: 3,
            max_attempts: 24,
            delay: Duration::from_millis(1900),
            error: &error,
        };
        assert_eq!(
            reconnect.to_string(),
            "reconnecting the events stream of task group tgrp_1 to 127.0.0.1:9 in 1.9s \
             (attempt 3 of 24) after: opening it failed: refused"
        );
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_with_jitter_between_75_and_100_percent() {
        let policy = ReconnectPolicy::default();
        let top: Vec<f64> = (0..9)
            .map(|n| policy.backoff(n, 0.0).as_secs_f64())
            .collect();
        assert_eq!(top, [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]);
        assert_eq!(policy.backoff(3, 1.0), Duration::from_secs(3));
        assert_eq!(policy.backoff(u32::MAX, 0.0), Duration::from_secs(30));
    }

    #[test]
    fn the_default_rides_out_an_outage_of_more_than_five_minutes() {
        // 0.75 · (0.5 + 1 + 2 + 4 + 8 + 16 + 18 · 30) = 428.6 s at the lowest jitter.
        let ridden = ReconnectPolicy::default().min_outage_ridden();
        assert!(ridden > Duration::from_secs(5 * 60), "{ridden:?}");
        assert!(ridden < Duration::from_secs(10 * 60), "{ridden:?}");
        assert_eq!(ReconnectPolicy::none().min_outage_ridden(), Duration::ZERO);
    }
}
