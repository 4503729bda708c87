//! Verify signed webhook deliveries of the [Parallel](https://parallel.ai) Task API, in any
//! web server, without the API client.
//!
//! A run that asks for a webhook (`webhook: {url, event_types: ["task_run.status"], secret?}`)
//! makes the service POST to the URL when the run finishes,
//! completed or failed, with three headers: `webhook-id`, `webhook-timestamp` (Unix seconds)
//! and `webhook-signature` (space-separated `v1,<base64>` entries, several while a secret is
//! rotated), each entry the HMAC-SHA256 of `<webhook-id>.<webhook-timestamp>.<exact body>`
//! keyed with the webhook secret (the run's own, else the account's).
//!
//! - [`Verifier`] checks a delivery: the timestamp must be within a tolerance of now
//!   (default 5 minutes, either way), checked before any HMAC; the HMAC of the delivery is
//!   computed once and every signature entry is compared with it in constant time; then the
//!   body is decoded as a [`WebhookEvent`] (re-exported from `parallel-types`).
//!   [`Verifier::new`] refuses an empty secret. [`Verifier::verify`] takes an
//!   `http::HeaderMap` and the raw body, [`Verifier::verify_request`] an
//!   `http::Request<Bytes>`; the `_at` forms take the time.
//! - [`ReplayGuard`]: a bounded memory of the `webhook-id`s accepted, for receivers that want
//!   the verifier to reject a delivery it has accepted before.
//! - [`WebhookError`] says why a delivery was rejected: [`is_missing_header`],
//!   [`is_malformed_header`], [`is_stale`], [`is_future`], [`is_signature_mismatch`],
//!   [`is_bad_body`], [`is_replay`] (and [`is_empty_secret`] from [`Verifier::new`]).
//! - [`sign`] makes a signature entry, for servers, emulators and tests that send deliveries.
//!
//! Verify the body exactly as received: a body parsed and re-encoded first (by a JSON
//! extractor, say) no longer matches its signature.
//!
//! The tolerance only bounds how long a captured delivery can be replayed: within it, the
//! same delivery verifies again, and the service itself sends a delivery again (same
//! `webhook-id`) when it did not get a 2xx. Receivers de-duplicate on `webhook-id`, in the
//! store where they record what they did with it, or with a [`ReplayGuard`].
//!
//! [`is_missing_header`]: WebhookError::is_missing_header
//! [`is_malformed_header`]: WebhookError::is_malformed_header
//! [`is_stale`]: WebhookError::is_stale
//! [`is_future`]: WebhookError::is_future
//! [`is_signature_mismatch`]: WebhookError::is_signature_mismatch
//! [`is_bad_body`]: WebhookError::is_bad_body
//! [`is_replay`]: WebhookError::is_replay
//! [`is_empty_secret`]: WebhookError::is_empty_secret
//!
//! # Example
//!
//! ```
//! use std::time::{Duration, UNIX_EPOCH};
//!
//! use bytes::Bytes;
//! use parallel_webhook::{Verifier, WebhookEventType};
//!
//! let secret = "my-webhook-secret";
//! let body = Bytes::from_static(br#"{"timestamp":"2026-03-02T14:07:31Z","type":"task_run.status",
//!   "data":{"run_id":"trun_1","status":"completed","is_active":false,"processor":"base"}}"#);
//! // What the service sends (made here with `sign`, as a test or an emulator would).
//! let request = http::Request::post("/parallel/webhook")
//!     .header("webhook-id", "whevent_abc123def456")
//!     .header("webhook-timestamp", "1772460451")
//!     .header(
//!         "webhook-signature",
//!         parallel_webhook::sign(secret.as_bytes(), "whevent_abc123def456", 1_772_460_451, &body),
//!     )
//!     .body(body)?;
//!
//! let verifier = Verifier::new(secret)?.tolerance(Duration::from_secs(300));
//! let now = UNIX_EPOCH + Duration::from_secs(1_772_460_460);
//! let event = verifier.verify_request_at(&request, now)?;
//! assert_eq!(event.event_type, WebhookEventType::TaskRunStatus);
//! assert_eq!(event.data.run_id, "trun_1");
//!
//! // A changed body, or the same delivery an hour later, is rejected.
//! let later = now + Duration::from_secs(3600);
//! assert!(verifier.verify_request_at(&request, later).unwrap_err().is_stale());
//! let forged = request.map(|_| Bytes::from_static(b"{}"));
//! assert!(verifier.verify_request_at(&forged, now).unwrap_err().is_signature_mismatch());
//! // An empty secret would accept anyone's signature: refused.
//! assert!(Verifier::new("").unwrap_err().is_empty_secret());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod error;
mod headers;
mod replay;
mod signature;
mod verifier;

pub use error::WebhookError;
pub use headers::{WEBHOOK_ID, WEBHOOK_SIGNATURE, WEBHOOK_TIMESTAMP};
pub use parallel_types::{WebhookEvent, WebhookEventType};
pub use replay::ReplayGuard;
pub use signature::sign;
pub use verifier::{DEFAULT_MAX_SIGNATURES, DEFAULT_TOLERANCE, Verifier};

/// The README's example, compiled and run as a doctest so that it cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
