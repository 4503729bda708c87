//! Throttling made visible. Under a rate limit the client retries each `429` quietly and the
//! batch engine pauses and tries again, so the batch slows down without an error; the only
//! trace of it is their `tracing` events. The tool listens to those events and counts the
//! answers that said "too many requests", so that its progress can say why it is slow.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use tracing::field::{Field, Visit};
use tracing::subscriber::Interest;
use tracing::{Event, Metadata};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::{Context, SubscriberExt as _};

/// `429` answers met by this process (retried by the client or the engine).
static THROTTLED: AtomicU64 = AtomicU64::new(0);

/// The crate whose retries are watched.
const CLIENT_TARGET: &str = "parallel_client";

/// How the client words a `429` in its errors (`... failed with HTTP 429 Too Many Requests`).
const RATE_LIMITED: &str = "HTTP 429";

/// `429` answers met so far by this process.
pub(crate) fn throttled() -> u64 {
    THROTTLED.load(Ordering::Relaxed)
}

/// Starts watching the client's retries, once per process. Does nothing when the process
/// already has a global `tracing` subscriber.
pub(crate) fn watch() {
    let subscriber = tracing_subscriber::registry().with(Watcher);
    let _ = tracing::subscriber::set_global_default(subscriber);
}

/// The layer that counts the client's retries of `429` answers.
struct Watcher;

impl<S: tracing::Subscriber> Layer<S> for Watcher {
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        if is_watched(metadata) {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, metadata: &Metadata<'_>, _: Context<'_, S>) -> bool {
        is_watched(metadata)
    }

    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let mut error = ErrorField(false);
        event.record(&mut error);
        if error.0 {
            THROTTLED.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The client's events that carry an `error`: the client's retry of a request, and the
/// engine's pause after the client gave up (each is one answer of the server).
fn is_watched(metadata: &Metadata<'_>) -> bool {
    metadata.is_event()
        && metadata.target().starts_with(CLIENT_TARGET)
        && metadata.fields().field("error").is_some()
}

/// Whether an event's `error` field is a `429`.
struct ErrorField(bool);

impl Visit for ErrorField {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "error" {
            self.0 = is_rate_limited(&format!("{value:?}"));
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "error" {
            self.0 = is_rate_limited(value);
        }
    }
}

fn is_rate_limited(error: &str) -> bool {
    error.contains(RATE_LIMITED)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_429_is_told_from_other_failures() {
        assert!(is_rate_limited(
            "add runs failed with HTTP 429 Too Many Requests: rate limit exceeded; slow down"
        ));
        assert!(!is_rate_limited(
            "add runs failed with HTTP 503 Service Unavailable"
        ));
        assert!(!is_rate_limited("connection refused"));
    }
}
