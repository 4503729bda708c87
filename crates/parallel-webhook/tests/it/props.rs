//! Sign-then-verify round trips for arbitrary bodies, ids, secrets and times, and any change
//! to what was signed is caught.

use std::time::{Duration, UNIX_EPOCH};

use http::HeaderMap;
use parallel_webhook::{Verifier, WEBHOOK_ID, WEBHOOK_SIGNATURE, WEBHOOK_TIMESTAMP, sign};
use proptest::collection::vec;
use proptest::prelude::*;

fn headers(id: &str, timestamp: u64, signature: &str) -> HeaderMap {
    let mut map = HeaderMap::new();
    map.insert(WEBHOOK_ID, id.parse().expect("id"));
    map.insert(WEBHOOK_TIMESTAMP, timestamp.into());
    map.insert(WEBHOOK_SIGNATURE, signature.parse().expect("signature"));
    map
}

/// A usable secret: not empty, and not only zero bytes (HMAC pads those into the empty key).
fn secret() -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 1..80).prop_filter("a secret with a non-zero byte", |s| {
        s.iter().any(|&b| b != 0)
    })
}

proptest! {
    #[test]
    fn what_is_signed_verifies_and_any_change_does_not(
        secret in secret(),
        other_secret in secret(),
        id in "[!-~]{1,48}",
        timestamp in 0..4_000_000_000_u64,
        skew in -300_i64..=300,
        body in vec(any::<u8>(), 0..600),
        flip in any::<(prop::sample::Index, u8)>(),
    ) {
        let signature = sign(&secret, &id, timestamp, &body);
        let now = UNIX_EPOCH + Duration::from_secs(timestamp.saturating_add_signed(skew));
        let verifier = Verifier::new(&secret).expect("a secret");
        let map = headers(&id, timestamp, &signature);
        prop_assert!(verifier.verify_signature_at(&map, &body, now).is_ok());

        // Another body, another secret, another time in the signed text: no match.
        let mut changed = body.clone();
        if changed.is_empty() {
            changed.push(flip.1);
        } else {
            let at = flip.0.index(changed.len());
            changed[at] = changed[at].wrapping_add(flip.1.max(1));
        }
        let error = verifier.verify_signature_at(&map, &changed, now).unwrap_err();
        prop_assert!(error.is_signature_mismatch());
        // HMAC pads a short key with zero bytes, so `k` and `k\0` are the same key.
        let key = |secret: &[u8]| secret.iter().rposition(|&b| b != 0).map_or(0, |end| end + 1);
        if other_secret[..key(&other_secret)] != secret[..key(&secret)] {
            let other = Verifier::new(&other_secret).expect("a secret");
            let error = other.verify_signature_at(&map, &body, now).unwrap_err();
            prop_assert!(error.is_signature_mismatch());
        }
        // Another time, one second off, still within the tolerance of `now`.
        let now_secs = timestamp.saturating_add_signed(skew);
        let other_time = if now_secs > timestamp || timestamp == 0 { timestamp + 1 } else { timestamp - 1 };
        let moved = headers(&id, other_time, &signature);
        prop_assert!(verifier.verify_signature_at(&moved, &body, now).unwrap_err().is_signature_mismatch());
    }
}

proptest! {
    #[test]
    fn secrets_of_zero_bytes_only_are_refused_like_the_empty_one(zeros in 0..64_usize) {
        let error = Verifier::new(vec![0_u8; zeros]).unwrap_err();
        prop_assert!(error.is_empty_secret());
    }
}
