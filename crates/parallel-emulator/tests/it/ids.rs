//! Ids, `ref_id`s and the random webhook secret come from the operating system's random
//! source: none is derived from a counter, the time or the process, so one tells nothing
//! about another.

use std::collections::HashSet;

use http::StatusCode;
use parallel_emulator::Emulator;
use serde_json::json;

use crate::start;

#[tokio::test]
async fn ref_ids_are_not_derived_from_the_order_of_requests() {
    // The first answer of two emulators alike: were a `ref_id` a function of a count, both
    // would carry the same one (and give that count, and with it the ids, away).
    let mut seen = HashSet::new();
    for _ in 0..2 {
        let (emu, anonymous) = start(Emulator::builder().api_key("k").seed(3)).await;
        let refused = anonymous.post("/v1/tasks/groups", json!({})).await;
        refused.expect_error(StatusCode::UNAUTHORIZED);
        let ref_id = refused.json()["error"]["ref_id"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(seen.insert(ref_id.clone()), "ref_id {ref_id} repeated");
        emu.shutdown().await;
    }
}

#[tokio::test]
async fn the_random_webhook_secret_carries_256_bits() {
    let mut secrets = HashSet::new();
    for _ in 0..2 {
        let emu = Emulator::builder().start().await.unwrap();
        let secret = emu.webhook_secret().to_owned();
        let hex = secret.strip_prefix("whsec_").expect("whsec_ prefix");
        assert!(
            hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()),
            "{} hex digits",
            hex.len()
        );
        assert!(secrets.insert(secret));
        emu.shutdown().await;
    }
}
