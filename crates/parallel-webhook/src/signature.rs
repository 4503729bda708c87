//! The signature scheme: HMAC-SHA256 over `<webhook-id>.<webhook-timestamp>.<body>`, in
//! standard base64 with padding, sent as `v1,<base64>`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::hmac;
use subtle::ConstantTimeEq as _;

/// The HMAC key of a webhook secret: the secret's bytes as given.
pub(crate) fn key(secret: &[u8]) -> hmac::Key {
    hmac::Key::new(hmac::HMAC_SHA256, secret)
}

/// The HMAC of a delivery: `<webhook-id>.<webhook-timestamp>.<body>`, with the timestamp as
/// sent, fed to the HMAC in parts so that the body is never copied.
pub(crate) fn tag(key: &hmac::Key, id: &str, timestamp: &str, body: &[u8]) -> hmac::Tag {
    let mut context = hmac::Context::with_key(key);
    for part in [id.as_bytes(), b".", timestamp.as_bytes(), b".", body] {
        context.update(part);
    }
    context.sign()
}

/// Whether one `v1` signature (its base64 part) is `expected`, compared in constant time.
/// Text that is not standard base64 with padding matches nothing.
pub(crate) fn matches(expected: &hmac::Tag, signature: &str) -> bool {
    STANDARD
        .decode(signature)
        .is_ok_and(|given| bool::from(given.as_slice().ct_eq(expected.as_ref())))
}

/// Signs a delivery as the service does: returns the `webhook-signature` entry
/// `v1,<base64 of HMAC-SHA256(secret, "<webhook_id>.<timestamp>.<body>")>`.
///
/// For servers, emulators and tests that send deliveries; receivers use
/// [`Verifier`](crate::Verifier). Several entries (while a secret is rotated) are joined with
/// a space.
///
/// ```
/// let entry = parallel_webhook::sign(b"secret", "whevent_1", 1_700_000_000, b"{}");
/// assert!(entry.starts_with("v1,") && entry.ends_with('='));
/// ```
pub fn sign(secret: &[u8], webhook_id: &str, timestamp: u64, body: &[u8]) -> String {
    let tag = tag(&key(secret), webhook_id, &timestamp.to_string(), body);
    format!("v1,{}", STANDARD.encode(tag.as_ref()))
}
