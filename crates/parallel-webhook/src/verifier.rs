//! The verifier: headers and raw body in, a typed event out.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{HeaderMap, Request};
use parallel_types::WebhookEvent;
use ring::hmac;

use crate::error::{Kind, WebhookError};
use crate::headers::SignedHeaders;
use crate::replay::ReplayGuard;
use crate::signature;

/// How far a delivery's timestamp may be from now, either way, by default.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(5 * 60);

/// How many entries `webhook-signature` may hold by default (the service sends one, or a
/// few while a secret is rotated); each `v1` entry costs a base64 decoding and a comparison
/// (the HMAC of the body is computed once per delivery).
pub const DEFAULT_MAX_SIGNATURES: usize = 8;

/// Checks that a webhook delivery comes from the service and is fresh, then decodes it.
///
/// Built once from the webhook secret (the run's own `secret`, else the account's) and shared
/// by every request (`Verifier` is `Send + Sync`; clone it or put it in an `Arc`). `Debug`
/// never shows the secret.
///
/// A delivery is accepted when `webhook-timestamp` is within the tolerance of now, either
/// way (checked first, before any HMAC), and when one of the `v1` entries of
/// `webhook-signature` is the HMAC-SHA256, keyed with the secret's bytes as given, of
/// `<webhook-id>.<webhook-timestamp>.<exact body>` (computed once, compared with each entry
/// in constant time; other versions are skipped, so that a secret can be rotated). Then the
/// body is decoded as a [`WebhookEvent`].
///
/// The tolerance bounds how long a captured delivery can be replayed, but within it the same
/// delivery verifies again and again. Receivers de-duplicate on `webhook-id` (the same on
/// every attempt of one event): in their own store, or with a [`ReplayGuard`] given to
/// [`replay_guard`](Self::replay_guard).
#[derive(Clone)]
pub struct Verifier {
    key: hmac::Key,
    tolerance: Duration,
    max_signatures: usize,
    replay_guard: Option<ReplayGuard>,
}

impl Verifier {
    /// A verifier of deliveries signed with `secret`, with the default tolerance
    /// ([`DEFAULT_TOLERANCE`]) and entry limit ([`DEFAULT_MAX_SIGNATURES`]), and no replay
    /// guard.
    ///
    /// An empty secret is refused ([`WebhookError::is_empty_secret`]): anyone can sign a
    /// delivery with it. So is a secret of zero bytes only, which HMAC pads into the same key.
    /// Read the secret so that a missing one is an error, not an empty string.
    pub fn new(secret: impl AsRef<[u8]>) -> Result<Self, WebhookError> {
        let secret = secret.as_ref();
        if secret.iter().all(|&byte| byte == 0) {
            return Err(WebhookError::new(Kind::EmptySecret));
        }
        Ok(Self {
            key: signature::key(secret),
            tolerance: DEFAULT_TOLERANCE,
            max_signatures: DEFAULT_MAX_SIGNATURES,
            replay_guard: None,
        })
    }

    /// Sets how far a delivery's timestamp may be from now, in the past or the future.
    #[must_use]
    pub fn tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// Sets how many entries `webhook-signature` may hold (at least one is always allowed);
    /// a delivery with more is rejected as malformed before any HMAC is computed.
    #[must_use]
    pub fn max_signatures(mut self, max_signatures: usize) -> Self {
        self.max_signatures = max_signatures.max(1);
        self
    }

    /// Remembers the `webhook-id` of every delivery accepted, in `guard`, and rejects the same
    /// id again ([`WebhookError::is_replay`]); see [`ReplayGuard`]. Clones of this verifier
    /// share the guard.
    #[must_use]
    pub fn replay_guard(mut self, guard: ReplayGuard) -> Self {
        self.replay_guard = Some(guard);
        self
    }

    /// Verifies a delivery from its headers and its raw body, exactly as received, against
    /// the system clock, and decodes the event.
    pub fn verify(&self, headers: &HeaderMap, body: &[u8]) -> Result<WebhookEvent, WebhookError> {
        self.verify_at(headers, body, SystemTime::now())
    }

    /// [`verify`](Self::verify) with the time taken as `now` (for tests, or a clock of your
    /// own).
    pub fn verify_at(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: SystemTime,
    ) -> Result<WebhookEvent, WebhookError> {
        self.verify_signature_at(headers, body, now)?;
        parallel_types::from_json_slice(body)
            .map_err(|error| WebhookError::new(Kind::BadBody(error)))
    }

    /// Verifies a delivery received as an `http::Request<Bytes>` against the system clock.
    pub fn verify_request(&self, request: &Request<Bytes>) -> Result<WebhookEvent, WebhookError> {
        self.verify(request.headers(), request.body())
    }

    /// [`verify_request`](Self::verify_request) with the time taken as `now`.
    pub fn verify_request_at(
        &self,
        request: &Request<Bytes>,
        now: SystemTime,
    ) -> Result<WebhookEvent, WebhookError> {
        self.verify_at(request.headers(), request.body(), now)
    }

    /// Checks the timestamp and the signature only (and the replay guard, if any), against
    /// the system clock, without decoding the body: for a body the caller decodes into a type
    /// of its own. `Ok` means authentic and fresh.
    pub fn verify_signature(&self, headers: &HeaderMap, body: &[u8]) -> Result<(), WebhookError> {
        self.verify_signature_at(headers, body, SystemTime::now())
    }

    /// [`verify_signature`](Self::verify_signature) with the time taken as `now`.
    pub fn verify_signature_at(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: SystemTime,
    ) -> Result<(), WebhookError> {
        let signed = SignedHeaders::read(headers, self.max_signatures)?;
        // A stale or future delivery costs no HMAC.
        let now = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        self.check_time(signed.timestamp, now)?;
        let expected = signature::tag(&self.key, signed.id, signed.timestamp_text, body);
        // Every entry is tried until one matches: an unreadable or stale-secret entry does not
        // stop the search, so that rotation works whatever the order of the entries.
        let matched = signed
            .v1_signatures
            .iter()
            .any(|entry| signature::matches(&expected, entry));
        if !matched {
            return Err(WebhookError::new(Kind::NoMatch {
                tried: signed.v1_signatures.len(),
            }));
        }
        match &self.replay_guard {
            Some(guard) => {
                let oldest = now.saturating_sub(self.tolerance.as_secs());
                guard.admit(signed.id, signed.timestamp, oldest)
            }
            None => Ok(()),
        }
    }

    /// The timestamp is within the tolerance of `now` (Unix seconds; a clock before 1970
    /// counts as 1970), either way, in whole seconds as the timestamp is.
    fn check_time(&self, timestamp: u64, now: u64) -> Result<(), WebhookError> {
        let now = Duration::from_secs(now);
        let signed_at = Duration::from_secs(timestamp);
        let tolerance = self.tolerance;
        if let Some(age) = now.checked_sub(signed_at).filter(|age| *age > tolerance) {
            return Err(WebhookError::new(Kind::Stale {
                timestamp,
                age,
                tolerance,
            }));
        }
        if let Some(ahead) = signed_at
            .checked_sub(now)
            .filter(|ahead| *ahead > tolerance)
        {
            return Err(WebhookError::new(Kind::Future {
                timestamp,
                ahead,
                tolerance,
            }));
        }
        Ok(())
    }
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("key", &"HMAC-SHA256, secret (hidden)")
            .field("tolerance", &self.tolerance)
            .field("max_signatures", &self.max_signatures)
            .field("replay_guard", &self.replay_guard)
            .finish()
    }
}
