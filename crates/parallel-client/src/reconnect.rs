//! How a stream reconnects after its connection fails.

use std::time::Duration;

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
/// The first connection of a stream is attempted the same way, so a stream opened while the
/// network is down waits for it too; an answer that retrying cannot change (401, 404, 422)
/// fails at once.
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

#[cfg(test)]
mod tests {
    use super::*;

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
