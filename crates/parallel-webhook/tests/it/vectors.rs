//! The verifier against signatures computed outside the code under test.
//!
//! Every expected signature below was computed with Python 3.11's standard library:
//!
//! ```python
//! import hmac, hashlib, base64
//! def sig(secret, webhook_id, timestamp, body):
//!     content = f"{webhook_id}.{timestamp}.".encode() + body.encode()
//!     mac = hmac.new(secret.encode(), content, hashlib.sha256).digest()
//!     return base64.b64encode(mac).decode()
//! ```
//!
//! and `SIG_V1` was checked again with OpenSSL 3 (the body written to `body1.json` without a
//! trailing newline):
//!
//! ```sh
//! printf '%s' "whevent_abc123def456.1772460451.$(cat body1.json)" \
//!   | openssl dgst -sha256 -hmac "whsec_parallel_test_secret" -binary | base64
//! ```

use std::error::Error as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{HeaderMap, Request};
use parallel_types::{RunStatus, WebhookEventType};
use parallel_webhook::{
    ReplayGuard, Verifier, WEBHOOK_ID, WEBHOOK_SIGNATURE, WEBHOOK_TIMESTAMP, WebhookError,
};

const SECRET: &str = "whsec_parallel_test_secret";
const ID: &str = "whevent_abc123def456";
const TS: u64 = 1_772_460_451;
/// A completed run's delivery.
const BODY1: &str = r#"{"timestamp":"2026-03-02T14:07:31.004211Z","type":"task_run.status","data":{"run_id":"trun_9f3c2a1b4d5e6f708192a3b4c5d6e7f8","interaction_id":"trun_9f3c2a1b4d5e6f708192a3b4c5d6e7f8","status":"completed","is_active":false,"processor":"core-fast","created_at":"2026-03-02T14:05:00.123456Z","modified_at":"2026-03-02T14:07:31.004211Z","warnings":null,"error":null,"metadata":{"client_tag":"b7e1:42"},"taskgroup_id":"tgrp_4c1f0a7e2b9d4e58a3f6c0d1e2b7a9c4"}}"#;
/// `sig(SECRET, ID, TS, BODY1)`.
const SIG_V1: &str = "yVXBzxyXr5Re1QmH7vJ0HT/HH8D9rMJotRlNAguyXV4=";
/// `sig("old-secret-before-rotation", ID, TS, BODY1)`.
const SIG_OLD_SECRET: &str = "d38Qzyei5416b3rGrHuh1y5oK6xVuJht9QVGMpeE5XY=";

/// A failed run's delivery, signed with a secret that is not ASCII.
const SECRET2: &str = "s3cr3t/ünïcode";
const ID2: &str = "whevent_zz9";
const TS2: u64 = 1_772_463_600;
const BODY2: &str = r#"{"timestamp":"2026-03-02T15:00:00Z","type":"task_run.status","data":{"run_id":"trun_0123456789abcdef0123456789abcdef","interaction_id":"trun_0123456789abcdef0123456789abcdef","status":"failed","is_active":false,"processor":"ultra","created_at":null,"modified_at":null,"warnings":null,"error":{"ref_id":"8f14e45f-ceea-467e-a8c4-5b5b1f3a9d21","message":"Run failed","detail":null},"metadata":null,"taskgroup_id":null}}"#;
/// `sig(SECRET2, ID2, TS2, BODY2)`.
const SIG2: &str = "xsHG3ut9lCUdmL/N94kl1O7QxlvFUKx1JmPXc4xeNcI=";

/// `sig(SECRET, "whevent_notjson", TS, '{"hello":"world"}')`: authentic, but not an event.
const SIG_NOT_AN_EVENT: &str = "R8TN04UamRejXzafRS0s/apGdAfwHl5h3c+kyj4SMfo=";

fn at(seconds: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(seconds)
}

fn headers(id: &str, timestamp: &str, signature: &str) -> HeaderMap {
    let mut map = HeaderMap::new();
    map.insert(WEBHOOK_ID, id.parse().expect("id"));
    map.insert(WEBHOOK_TIMESTAMP, timestamp.parse().expect("timestamp"));
    map.insert(WEBHOOK_SIGNATURE, signature.parse().expect("signature"));
    map
}

fn delivery1(signature: &str) -> HeaderMap {
    headers(ID, &TS.to_string(), signature)
}

fn verify1(signature: &str, body: &str) -> Result<parallel_types::WebhookEvent, WebhookError> {
    Verifier::new(SECRET).expect("a secret").verify_at(
        &delivery1(signature),
        body.as_bytes(),
        at(TS + 10),
    )
}

#[test]
fn deliveries_signed_as_documented_are_accepted() {
    let event = verify1(&format!("v1,{SIG_V1}"), BODY1).expect("authentic");
    assert_eq!(event.event_type, WebhookEventType::TaskRunStatus);
    assert_eq!(event.data.run_id, "trun_9f3c2a1b4d5e6f708192a3b4c5d6e7f8");
    assert_eq!(event.data.status, RunStatus::Completed);
    assert_eq!(event.timestamp, "2026-03-02T14:07:31.004211Z");

    let failed = Verifier::new(SECRET2)
        .expect("a secret")
        .verify_at(
            &headers(ID2, &TS2.to_string(), &format!("v1,{SIG2}")),
            BODY2.as_bytes(),
            at(TS2),
        )
        .expect("authentic");
    assert_eq!(failed.data.status, RunStatus::Failed);
    assert_eq!(failed.data.error.expect("error").message, "Run failed");
}

#[test]
fn the_signing_helper_agrees_with_the_outside_vectors() {
    assert_eq!(
        parallel_webhook::sign(SECRET.as_bytes(), ID, TS, BODY1.as_bytes()),
        format!("v1,{SIG_V1}")
    );
    assert_eq!(
        parallel_webhook::sign(SECRET2.as_bytes(), ID2, TS2, BODY2.as_bytes()),
        format!("v1,{SIG2}")
    );
}

#[test]
fn one_valid_signature_among_several_is_enough() {
    // During a rotation the service signs with both secrets; either receiver accepts.
    for header in [
        format!("v1,{SIG_OLD_SECRET} v1,{SIG_V1}"),
        format!("v1,{SIG_V1} v1,{SIG_OLD_SECRET}"),
        format!("v2,{SIG_V1} v1,not-base64! v1,{SIG_V1}"),
    ] {
        verify1(&header, BODY1).unwrap_or_else(|e| panic!("{header}: {e}"));
    }
    let old = Verifier::new("old-secret-before-rotation").expect("a secret");
    let both = delivery1(&format!("v1,{SIG_OLD_SECRET} v1,{SIG_V1}"));
    old.verify_at(&both, BODY1.as_bytes(), at(TS))
        .expect("the old secret's receiver too");
    // Neither entry valid: rejected, saying how many were tried.
    let error = verify1(&format!("v1,{SIG_OLD_SECRET} v1,{SIG2}"), BODY1).expect_err("none valid");
    assert!(error.is_signature_mismatch(), "{error}");
    assert!(error.to_string().contains("none of the 2"), "{error}");
}

#[test]
fn a_tampered_body_is_rejected() {
    let signature = format!("v1,{SIG_V1}");
    for tampered in [
        BODY1.replace("\"completed\"", "\"cancelled\""),
        BODY1.replace("b7e1:42", "b7e1:43"),
        format!("{BODY1}\n"),
        format!(" {BODY1}"),
        String::new(),
    ] {
        let error = verify1(&signature, &tampered).expect_err("tampered");
        assert!(error.is_signature_mismatch(), "{error}");
    }
}

#[test]
fn tampered_headers_are_rejected() {
    let body = BODY1.as_bytes();
    let verifier = Verifier::new(SECRET).expect("a secret");
    let signature = format!("v1,{SIG_V1}");
    let cases = [
        headers("whevent_abc123def457", &TS.to_string(), &signature),
        headers(ID, &(TS + 1).to_string(), &signature),
        headers(ID, &(TS - 1).to_string(), &signature),
        headers(ID, &TS.to_string(), &signature.replace("yVX", "yVY")),
        headers(ID, &TS.to_string(), &format!("v1,{SIG2}")),
    ];
    for tampered in cases {
        let error = verifier
            .verify_at(&tampered, body, at(TS))
            .expect_err("tampered");
        assert!(error.is_signature_mismatch(), "{tampered:?}: {error}");
    }
    let other_secret = Verifier::new("whsec_parallel_test_secreT").expect("a secret");
    let error = other_secret
        .verify_at(&delivery1(&signature), body, at(TS))
        .expect_err("secret");
    assert!(error.is_signature_mismatch(), "{error}");
}

#[test]
fn timestamps_out_of_tolerance_either_way_are_rejected() {
    let signed = delivery1(&format!("v1,{SIG_V1}"));
    let body = BODY1.as_bytes();
    let verifier = Verifier::new(SECRET).expect("a secret");
    // Default tolerance: 5 minutes each way, bounds included.
    verifier
        .verify_at(&signed, body, at(TS + 300))
        .expect("300 s old");
    verifier
        .verify_at(&signed, body, at(TS - 300))
        .expect("300 s ahead");
    let stale = verifier
        .verify_at(&signed, body, at(TS + 301))
        .expect_err("stale");
    assert!(stale.is_stale() && !stale.is_future(), "{stale}");
    assert!(stale.to_string().contains("301 s old"), "{stale}");
    let future = verifier
        .verify_at(&signed, body, at(TS - 301))
        .expect_err("future");
    assert!(future.is_future() && !future.is_stale(), "{future}");
    assert!(
        future.to_string().contains("301 s in the future"),
        "{future}"
    );
    // A replay a day later, and a configured tolerance.
    assert!(
        verifier
            .verify_at(&signed, body, at(TS + 86_400))
            .expect_err("replay")
            .is_stale()
    );
    let strict = Verifier::new(SECRET)
        .expect("a secret")
        .tolerance(Duration::from_secs(10));
    strict
        .verify_at(&signed, body, at(TS + 10))
        .expect("within 10 s");
    assert!(
        strict
            .verify_at(&signed, body, at(TS + 11))
            .expect_err("11 s")
            .is_stale()
    );
    assert!(
        strict
            .verify_at(&signed, body, at(TS - 11))
            .expect_err("11 s")
            .is_future()
    );
    // The system clock: a delivery signed in 2026 is long stale (or, on a machine whose
    // clock says otherwise, out of tolerance the other way); never accepted.
    let error = verifier.verify(&signed, body).expect_err("real clock");
    assert!(error.is_stale() || error.is_future(), "{error}");
}

#[test]
fn missing_and_malformed_headers_are_rejected_by_name() {
    let signature = format!("v1,{SIG_V1}");
    let body = BODY1.as_bytes();
    let verifier = Verifier::new(SECRET).expect("a secret");
    for name in [WEBHOOK_ID, WEBHOOK_TIMESTAMP, WEBHOOK_SIGNATURE] {
        let mut map = delivery1(&signature);
        map.remove(name);
        let error = verifier.verify_at(&map, body, at(TS)).expect_err("missing");
        assert!(error.is_missing_header(), "{error}");
        assert_eq!(error.header(), Some(name));
        assert!(error.to_string().contains(name), "{error}");
    }
    for (map, name) in [
        (
            headers(ID, "2026-03-02T14:07:31Z", &signature),
            WEBHOOK_TIMESTAMP,
        ),
        (headers(ID, "1772460451.0", &signature), WEBHOOK_TIMESTAMP),
        (headers(ID, &TS.to_string(), SIG_V1), WEBHOOK_SIGNATURE),
        (
            headers(ID, &TS.to_string(), &format!("v2,{SIG_V1}")),
            WEBHOOK_SIGNATURE,
        ),
    ] {
        let error = verifier
            .verify_at(&map, body, at(TS))
            .expect_err("malformed");
        assert!(error.is_malformed_header(), "{error}");
        assert_eq!(error.header(), Some(name), "{error}");
    }
    let bytes = http::HeaderValue::from_bytes(b"whevent_\xff").expect("opaque bytes");
    let mut map = delivery1(&signature);
    map.insert(WEBHOOK_ID, bytes);
    let error = verifier
        .verify_at(&map, body, at(TS))
        .expect_err("not ASCII");
    assert!(
        error.is_malformed_header() && error.to_string().contains("visible ASCII"),
        "{error}"
    );
}

#[test]
fn an_authentic_body_that_is_not_an_event_is_a_body_error() {
    let map = headers(
        "whevent_notjson",
        &TS.to_string(),
        &format!("v1,{SIG_NOT_AN_EVENT}"),
    );
    let body = br#"{"hello":"world"}"#;
    let verifier = Verifier::new(SECRET).expect("a secret");
    verifier
        .verify_signature_at(&map, body, at(TS))
        .expect("the signature is good");
    let error = verifier
        .verify_at(&map, body, at(TS))
        .expect_err("not an event");
    assert!(
        error.is_bad_body() && !error.is_signature_mismatch(),
        "{error}"
    );
    let decode = error.source().expect("the decode error");
    let cause = decode.source().expect("the JSON error").to_string();
    assert!(cause.contains("missing field"), "{cause}");
}

#[test]
fn the_request_helper_reads_headers_and_body() {
    let request = Request::post("/hooks/parallel")
        .header(WEBHOOK_ID, ID)
        .header(WEBHOOK_TIMESTAMP, TS)
        .header(WEBHOOK_SIGNATURE, format!("v1,{SIG_V1}"))
        .header("content-type", "application/json")
        .body(Bytes::from_static(BODY1.as_bytes()))
        .expect("request");
    let verifier = Verifier::new(SECRET).expect("a secret");
    let event = verifier
        .verify_request_at(&request, at(TS + 1))
        .expect("authentic");
    assert_eq!(event.data.processor.as_str(), "core-fast");
    let forged = request.map(|_| Bytes::from_static(BODY2.as_bytes()));
    let error = verifier
        .verify_request_at(&forged, at(TS + 1))
        .expect_err("forged");
    assert!(error.is_signature_mismatch(), "{error}");
}

#[test]
fn the_secret_never_shows() {
    let verifier = Verifier::new(SECRET)
        .expect("a secret")
        .tolerance(Duration::from_secs(60));
    let shown = format!("{verifier:?}");
    assert!(
        !shown.contains("parallel_test") && shown.contains("(hidden)"),
        "{shown}"
    );
    let error = verify1(&format!("v1,{SIG2}"), BODY1).expect_err("mismatch");
    for text in [error.to_string(), format!("{error:?}")] {
        assert!(!text.contains("parallel_test"), "{text}");
    }
}

#[test]
fn an_empty_secret_is_refused() {
    // With the empty key, anyone can sign: sig("", ID, TS, BODY1) made by anybody.
    let forged = parallel_webhook::sign(b"", ID, TS, BODY1.as_bytes());
    assert!(forged.starts_with("v1,"));
    for empty in [&b""[..], b"\0", b"\0\0\0\0"] {
        let error = Verifier::new(empty).expect_err("no verifier for an empty secret");
        assert!(error.is_empty_secret(), "{error}");
        assert!(!error.is_signature_mismatch() && error.header().is_none());
        assert!(error.to_string().contains("empty"), "{error}");
    }
    let unset = std::env::var("PARALLEL_WEBHOOK_TEST_UNSET_SECRET").unwrap_or_default();
    assert!(Verifier::new(unset).unwrap_err().is_empty_secret());
    Verifier::new("\0x").expect("a non-zero byte makes a key");
}

#[test]
fn the_timestamp_is_checked_before_the_signature() {
    // Neither delivery is signed at all: the time rejects it first, without an HMAC.
    let bogus = format!("v1,{SIG2} v1,{SIG_OLD_SECRET}");
    let verifier = Verifier::new(SECRET).expect("a secret");
    let stale = verifier
        .verify_at(&delivery1(&bogus), BODY1.as_bytes(), at(TS + 301))
        .expect_err("stale");
    assert!(
        stale.is_stale() && !stale.is_signature_mismatch(),
        "{stale}"
    );
    let future = verifier
        .verify_at(&delivery1(&bogus), BODY1.as_bytes(), at(TS - 301))
        .expect_err("future");
    assert!(
        future.is_future() && !future.is_signature_mismatch(),
        "{future}"
    );
    let fresh = verifier
        .verify_at(&delivery1(&bogus), BODY1.as_bytes(), at(TS))
        .expect_err("forged");
    assert!(fresh.is_signature_mismatch(), "{fresh}");
}

#[test]
fn a_replay_guard_accepts_each_delivery_once() {
    let signature = format!("v1,{SIG_V1}");
    let verifier = Verifier::new(SECRET)
        .expect("a secret")
        .replay_guard(ReplayGuard::new(16));
    let body = BODY1.as_bytes();
    // A forgery with the same id is rejected on its signature and leaves no trace.
    let forged = verifier
        .verify_at(&delivery1(&format!("v1,{SIG2}")), body, at(TS))
        .expect_err("forged");
    assert!(forged.is_signature_mismatch(), "{forged}");
    verifier
        .verify_at(&delivery1(&signature), body, at(TS + 1))
        .expect("first delivery");
    // The same delivery again, through a clone (which shares the guard): a replay.
    let shared = verifier.clone();
    let replay = shared
        .verify_at(&delivery1(&signature), body, at(TS + 2))
        .expect_err("replay");
    assert!(replay.is_replay() && !replay.is_stale(), "{replay}");
    assert!(replay.to_string().contains("already accepted"), "{replay}");
    // Without a guard, the same delivery verifies again within the tolerance.
    Verifier::new(SECRET)
        .expect("a secret")
        .verify_at(&delivery1(&signature), body, at(TS + 2))
        .expect("no guard, no memory");
}

#[test]
fn a_guard_that_forgets_lets_the_retry_through() {
    let guard = ReplayGuard::new(16);
    let verifier = Verifier::new(SECRET)
        .expect("a secret")
        .replay_guard(guard.clone());
    let delivery = delivery1(&format!("v1,{SIG_V1}"));
    verifier
        .verify_at(&delivery, BODY1.as_bytes(), at(TS))
        .expect("first");
    assert_eq!(guard.len(), 1);
    // The handler failed after verifying: it forgets the id and answers 5xx.
    assert!(guard.forget(ID));
    verifier
        .verify_at(&delivery, BODY1.as_bytes(), at(TS + 5))
        .expect("the retry");
    // An id older than the tolerance is dropped: the verifier rejects its delivery as stale.
    let later = format!("v1,{SIG2}");
    let other = Verifier::new(SECRET2)
        .expect("a secret")
        .replay_guard(guard.clone());
    other
        .verify_at(
            &headers(ID2, &TS2.to_string(), &later),
            BODY2.as_bytes(),
            at(TS2),
        )
        .expect("signed with the second secret");
    assert_eq!(
        guard.len(),
        1,
        "{guard:?}: the first id was out of tolerance"
    );
}
