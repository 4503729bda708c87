//! The signature scheme: HMAC-SHA256 over `<webhook-id>.<webhook-timestamp>.<body>`, in
//! standard base64 with padding, sent as `v1,<base64>`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::hmac;

/// The HMAC key of a webhook secret: the secret's bytes as given.
pub(crate) fn key(secret: &[u8]) -> hmac::Key {
    hmac::Key::new(hmac::HMAC_SHA256, secret)
}

/// The bytes a delivery's signature covers: `<webhook-id>.<webhook-timestamp>.<body>`, with
/// the timestamp as sent. `ring` verifies over one slice, so the body is copied once here,
/// for every entry to be checked against.
pub(crate) fn signed_content(id: &str, timestamp: &str, body: &[u8]) -> Vec<u8> {
    let mut content = Vec::with_capacity(id.len() + timestamp.len() + body.len() + 2);
    for part in [id.as_bytes(), b".", timestamp.as_bytes(), b".", body] {
        content.extend_from_slice(part);
    }
    content
}

/// Whether one `v1` signature (its base64 part) is the HMAC of `content`, compared in
/// constant time. Text that is not standard base64 with padding matches nothing.
pub(crate) fn matches(key: &hmac::Key, content: &[u8], signature: &str) -> bool {
    STANDARD
        .decode(signature)
        .is_ok_and(|tag| hmac::verify(key, content, &tag).is_ok())
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
    let timestamp = timestamp.to_string();
    let mut context = hmac::Context::with_key(&key(secret));
    for part in [
        webhook_id.as_bytes(),
        b".",
        timestamp.as_bytes(),
        b".",
        body,
    ] {
        context.update(part);
    }
    format!("v1,{}", STANDARD.encode(context.sign().as_ref()))
}
