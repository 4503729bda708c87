//! The one error type of the crate: why a delivery was not accepted.

use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

/// Why a webhook delivery was rejected, or a [`Verifier`](crate::Verifier) not built. Opaque:
/// ask with the `is_*` predicates; the message says what was wrong and where, and never holds
/// the secret.
///
/// Answer a rejected delivery with a 4xx status, not a 5xx: none of the reasons goes away if
/// the same delivery is sent again, except a timestamp rejected because the receiver's clock
/// is off. A [replay](Self::is_replay) is the exception: it was accepted before, so a 2xx
/// (without acting on it again) tells the service to stop sending it.
pub struct WebhookError {
    kind: Kind,
}

#[derive(Debug)]
pub(crate) enum Kind {
    /// A required header is absent.
    MissingHeader(&'static str),
    /// A header is present but unreadable; the reason says how.
    MalformedHeader {
        header: &'static str,
        reason: String,
    },
    /// The timestamp is older than the tolerance allows.
    Stale {
        timestamp: u64,
        age: Duration,
        tolerance: Duration,
    },
    /// The timestamp is further in the future than the tolerance allows.
    Future {
        timestamp: u64,
        ahead: Duration,
        tolerance: Duration,
    },
    /// No `v1` signature matches the content.
    NoMatch { tried: usize },
    /// The body is authentic but is not a webhook event.
    BadBody(parallel_types::Error),
    /// `Verifier::new` was given an empty secret.
    EmptySecret,
    /// The replay guard has already accepted a delivery with this `webhook-id`.
    Replay,
    /// The replay guard is full and no longer remembers deliveries signed this early.
    BeyondReplayGuard {
        timestamp: u64,
        horizon: u64,
        capacity: usize,
    },
}

impl WebhookError {
    pub(crate) fn new(kind: Kind) -> Self {
        Self { kind }
    }

    pub(crate) fn malformed(header: &'static str, reason: impl Into<String>) -> Self {
        Self::new(Kind::MalformedHeader {
            header,
            reason: reason.into(),
        })
    }

    /// A required header (`webhook-id`, `webhook-timestamp` or `webhook-signature`) is absent.
    pub fn is_missing_header(&self) -> bool {
        matches!(self.kind, Kind::MissingHeader(_))
    }

    /// A header is present but cannot be read: not visible ASCII, a timestamp that is not
    /// Unix seconds, a signature header without any `v1` entry, or too many entries.
    pub fn is_malformed_header(&self) -> bool {
        matches!(self.kind, Kind::MalformedHeader { .. })
    }

    /// The header at fault, for a missing or malformed header.
    pub fn header(&self) -> Option<&'static str> {
        match &self.kind {
            Kind::MissingHeader(header) | Kind::MalformedHeader { header, .. } => Some(header),
            _ => None,
        }
    }

    /// The signed timestamp is older than the tolerance allows: a replay, or a delivery
    /// held up for too long. Also when a full [`ReplayGuard`](crate::ReplayGuard) can no
    /// longer tell whether a delivery signed that early was accepted before.
    pub fn is_stale(&self) -> bool {
        matches!(
            self.kind,
            Kind::Stale { .. } | Kind::BeyondReplayGuard { .. }
        )
    }

    /// The signed timestamp is further ahead than the tolerance allows (a clock out of sync,
    /// or a forged timestamp).
    pub fn is_future(&self) -> bool {
        matches!(self.kind, Kind::Future { .. })
    }

    /// No signature in `webhook-signature` matches the delivery: the wrong secret, a body
    /// changed on the way (verify the exact bytes received, before any parsing), or a forgery.
    pub fn is_signature_mismatch(&self) -> bool {
        matches!(self.kind, Kind::NoMatch { .. })
    }

    /// The signature matched, but the body is not a webhook event.
    pub fn is_bad_body(&self) -> bool {
        matches!(self.kind, Kind::BadBody(_))
    }

    /// The delivery is authentic and fresh, but its `webhook-id` was accepted before (by the
    /// verifier's [`ReplayGuard`](crate::ReplayGuard)): a replay, or the service sending again
    /// a delivery whose answer it did not get.
    pub fn is_replay(&self) -> bool {
        matches!(self.kind, Kind::Replay)
    }

    /// [`Verifier::new`](crate::Verifier::new) was given an empty secret (or one of zero bytes
    /// only, which HMAC treats as empty), with which anyone could sign a delivery.
    pub fn is_empty_secret(&self) -> bool {
        matches!(self.kind, Kind::EmptySecret)
    }
}

impl fmt::Display for WebhookError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::MissingHeader(header) => write!(
                f,
                "webhook delivery has no `{header}` header (is this a Parallel webhook delivery, \
                 with its headers passed on unchanged?)"
            ),
            Kind::MalformedHeader { header, reason } => {
                write!(f, "webhook header `{header}` is malformed: {reason}")
            }
            Kind::Stale {
                timestamp,
                age,
                tolerance,
            } => write!(
                f,
                "webhook timestamp {timestamp} is {} s old, more than the tolerance of {} s \
                 (a replayed delivery, or this machine's clock is wrong)",
                age.as_secs(),
                tolerance.as_secs()
            ),
            Kind::Future {
                timestamp,
                ahead,
                tolerance,
            } => write!(
                f,
                "webhook timestamp {timestamp} is {} s in the future, more than the tolerance \
                 of {} s (this machine's clock is wrong, or the timestamp is forged)",
                ahead.as_secs(),
                tolerance.as_secs()
            ),
            Kind::NoMatch { tried } => write!(
                f,
                "none of the {tried} `v1` signatures in `webhook-signature` matches the delivery \
                 (a wrong secret, or a body changed before verification: verify the exact bytes \
                 received)"
            ),
            Kind::BadBody(_) => f.write_str(
                "webhook body is signed correctly but is not a webhook event \
                 (`timestamp`, `type`, `data` holding a task run)",
            ),
            Kind::EmptySecret => f.write_str(
                "the webhook secret is empty (or only zero bytes, which HMAC treats as empty): \
                 anyone could sign a delivery with it; pass the run's webhook secret or the \
                 account's, and make a missing secret an error",
            ),
            Kind::Replay => f.write_str(
                "a webhook delivery with this `webhook-id` was already accepted (a replay, or \
                 the service sending it again: answer 2xx without acting on it again)",
            ),
            Kind::BeyondReplayGuard {
                timestamp,
                horizon,
                capacity,
            } => write!(
                f,
                "webhook timestamp {timestamp} is at or before {horizon}, the oldest the full \
                 replay guard still vouches for (it remembers {capacity} ids; give it more \
                 room for the deliveries of one tolerance window)"
            ),
        }
    }
}

impl fmt::Debug for WebhookError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookError")
            .field("kind", &self.kind)
            .finish()
    }
}

impl StdError for WebhookError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match &self.kind {
            Kind::BadBody(error) => Some(error),
            _ => None,
        }
    }
}
