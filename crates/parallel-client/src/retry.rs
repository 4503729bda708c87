//! When to retry a request, and how long to wait first.
//!
//! The defaults follow the official Parallel SDKs so that a Rust program puts the same load on
//! the service as a Python or TypeScript one: two retries (three attempts), for connection
//! errors, timeouts and the statuses 408, 409, 429 and 5xx; an exponential backoff of
//! `min(0.5 · 2ⁿ, 8)` seconds scaled by a random factor between 0.75 and 1.0; and the server's
//! `retry-after-ms`, `retry-after` and `x-should-retry` headers take precedence.

use std::time::{Duration, SystemTime};

use http::{HeaderMap, StatusCode};

/// How a failed request is retried.
///
/// ```
/// use std::time::Duration;
/// use parallel_client::RetryPolicy;
///
/// let policy = RetryPolicy::default()
///     .max_retries(5)
///     .initial_backoff(Duration::from_millis(200));
/// assert_ne!(policy, RetryPolicy::default());
/// // `RetryPolicy::none()` turns retries off.
/// assert_eq!(RetryPolicy::none(), RetryPolicy::default().max_retries(0));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    max_retries: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
    max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 2,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

/// `min(initial · 2ⁿ, max) · (1 − 0.25 · jitter)`, `jitter` in `[0, 1]`: the one backoff rule
/// of request retries, stream reconnects and the batch engine's pauses.
pub(crate) fn exponential_backoff(
    initial: Duration,
    max: Duration,
    n: u32,
    jitter: f64,
) -> Duration {
    let factor = 2f64.powi(i32::try_from(n.min(62)).unwrap_or(62));
    let base = (initial.as_secs_f64() * factor).min(max.as_secs_f64());
    let scaled = base * (1.0 - 0.25 * jitter.clamp(0.0, 1.0));
    Duration::try_from_secs_f64(scaled).unwrap_or(max)
}

impl RetryPolicy {
    /// A policy that never retries.
    pub fn none() -> Self {
        Self::default().max_retries(0)
    }

    /// How many times a failed request is sent again (default 2, so 3 attempts in all).
    #[must_use]
    pub fn max_retries(mut self, n: u32) -> Self {
        self.max_retries = n;
        self
    }

    /// The first backoff delay, doubled on every further retry (default 0.5 s).
    #[must_use]
    pub fn initial_backoff(mut self, delay: Duration) -> Self {
        self.initial_backoff = delay;
        self
    }

    /// The longest backoff delay (default 8 s).
    #[must_use]
    pub fn max_backoff(mut self, delay: Duration) -> Self {
        self.max_backoff = delay;
        self
    }

    /// The longest server-requested delay (`retry-after`, `retry-after-ms`) that is honoured
    /// (default 60 s, as in the official Python SDK). A longer or non-positive request falls
    /// back to the computed backoff, so that a misbehaving server cannot stall a program.
    #[must_use]
    pub fn max_retry_after(mut self, delay: Duration) -> Self {
        self.max_retry_after = delay;
        self
    }

    /// The configured number of retries (the setter's name is taken by the builder style).
    pub(crate) fn retries(&self) -> u32 {
        self.max_retries
    }

    /// The exponential backoff before retry number `retries_taken + 1`, with `jitter` in
    /// `[0, 1)` (a uniform random draw): `min(initial · 2ⁿ, max) · (1 − 0.25 · jitter)`.
    pub(crate) fn backoff(&self, retries_taken: u32, jitter: f64) -> Duration {
        exponential_backoff(
            self.initial_backoff,
            self.max_backoff,
            retries_taken,
            jitter,
        )
    }

    /// The delay before the next retry: the server's `retry-after-ms` / `retry-after` when
    /// present and within [`RetryPolicy::max_retry_after`], otherwise the backoff.
    pub(crate) fn delay(&self, retries_taken: u32, headers: Option<&HeaderMap>) -> Duration {
        if let Some(delay) = headers.and_then(|h| retry_after(h, SystemTime::now()))
            && !delay.is_zero()
            && delay <= self.max_retry_after
        {
            return delay;
        }
        self.backoff(retries_taken, fastrand::f64())
    }
}

/// Whether a response with this status and these headers should be retried, by the official
/// SDKs' rule: `x-should-retry` decides when present; otherwise 408, 409, 429 and 5xx. A 402
/// (insufficient credit) is never retried.
pub(crate) fn status_is_retryable(status: StatusCode, headers: &HeaderMap) -> bool {
    // Insufficient credit does not go away by asking again, whatever a header says.
    if status == StatusCode::PAYMENT_REQUIRED {
        return false;
    }
    match should_retry_header(headers) {
        Some(decision) => decision,
        None => matches!(status.as_u16(), 408 | 409 | 429) || status.is_server_error(),
    }
}

/// The server's explicit `x-should-retry: true|false`, if any.
pub(crate) fn should_retry_header(headers: &HeaderMap) -> Option<bool> {
    let value = headers.get("x-should-retry")?.to_str().ok()?.trim();
    if value.eq_ignore_ascii_case("true") {
        Some(true)
    } else if value.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// The delay a server asks for: `retry-after-ms` (float milliseconds), else `retry-after` as
/// float seconds or as an HTTP-date (relative to `now`). Unparseable values are ignored.
pub(crate) fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    if let Some(ms) = header_f64(headers, "retry-after-ms") {
        return secs(ms / 1000.0);
    }
    let value = headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(seconds) = value.parse::<f64>() {
        return secs(seconds);
    }
    let when = httpdate::parse_http_date(value).ok()?;
    // A date in the past means "now".
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

fn header_f64(headers: &HeaderMap, name: &str) -> Option<f64> {
    headers.get(name)?.to_str().ok()?.trim().parse::<f64>().ok()
}

fn secs(value: f64) -> Option<Duration> {
    if value.is_finite() && value >= 0.0 {
        Duration::try_from_secs_f64(value).ok()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let policy = RetryPolicy::default();
        let no_jitter: Vec<f64> = (0..7)
            .map(|n| policy.backoff(n, 0.0).as_secs_f64())
            .collect();
        assert_eq!(no_jitter, [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]);
        assert_eq!(policy.backoff(1000, 0.0), Duration::from_secs(8));
    }

    #[test]
    fn jitter_scales_between_75_and_100_percent() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.backoff(2, 1.0), Duration::from_millis(1500));
        assert_eq!(policy.backoff(2, 0.5), Duration::from_millis(1750));
        for _ in 0..1000 {
            let d = policy.delay(0, None);
            assert!(
                d >= Duration::from_millis(375) && d <= Duration::from_millis(500),
                "{d:?}"
            );
        }
    }

    #[test]
    fn retryable_statuses_follow_the_official_sdks() {
        let empty = HeaderMap::new();
        for code in [408, 409, 429, 500, 502, 503, 504, 599] {
            assert!(
                status_is_retryable(StatusCode::from_u16(code).unwrap(), &empty),
                "{code}"
            );
        }
        for code in [400, 401, 402, 403, 404, 422] {
            assert!(
                !status_is_retryable(StatusCode::from_u16(code).unwrap(), &empty),
                "{code}"
            );
        }
    }

    #[test]
    fn x_should_retry_overrides_the_status_rule() {
        let yes = headers(&[("x-should-retry", "true")]);
        let no = headers(&[("x-should-retry", "FALSE")]);
        let junk = headers(&[("x-should-retry", "maybe")]);
        assert!(status_is_retryable(StatusCode::BAD_REQUEST, &yes));
        assert!(!status_is_retryable(StatusCode::SERVICE_UNAVAILABLE, &no));
        assert!(status_is_retryable(StatusCode::SERVICE_UNAVAILABLE, &junk));
        assert!(!status_is_retryable(StatusCode::PAYMENT_REQUIRED, &yes));
    }

    #[test]
    fn retry_after_ms_wins_over_retry_after() {
        let h = headers(&[("retry-after-ms", "250.5"), ("retry-after", "9")]);
        assert_eq!(
            retry_after(&h, SystemTime::now()),
            Some(Duration::from_micros(250_500))
        );
    }

    #[test]
    fn retry_after_accepts_float_seconds_and_http_dates() {
        let h = headers(&[("retry-after", "1.5")]);
        assert_eq!(
            retry_after(&h, SystemTime::now()),
            Some(Duration::from_millis(1500))
        );

        let now = httpdate::parse_http_date("Sun, 06 Nov 1994 08:49:30 GMT").unwrap();
        let h = headers(&[("retry-after", "Sun, 06 Nov 1994 08:49:37 GMT")]);
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(7)));
        let past = headers(&[("retry-after", "Sun, 06 Nov 1994 08:49:00 GMT")]);
        assert_eq!(retry_after(&past, now), Some(Duration::ZERO));
    }

    #[test]
    fn unusable_retry_after_values_are_ignored() {
        for value in ["soon", "-1", "NaN", "inf", ""] {
            let h = headers(&[("retry-after", value)]);
            assert_eq!(retry_after(&h, SystemTime::now()), None, "{value}");
        }
    }

    #[test]
    fn delay_honours_the_server_only_within_the_cap() {
        let policy = RetryPolicy::default();
        let short = headers(&[("retry-after", "3")]);
        assert_eq!(policy.delay(0, Some(&short)), Duration::from_secs(3));
        // Longer than 60 s or zero: fall back to the backoff (0.375..=0.5 s for the first retry).
        for value in ["61", "0"] {
            let h = headers(&[("retry-after", value)]);
            assert!(
                policy.delay(0, Some(&h)) <= Duration::from_millis(500),
                "{value}"
            );
        }
        let lenient = RetryPolicy::default().max_retry_after(Duration::from_secs(120));
        let long = headers(&[("retry-after", "90")]);
        assert_eq!(lenient.delay(0, Some(&long)), Duration::from_secs(90));
    }
}
