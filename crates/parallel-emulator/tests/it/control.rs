//! The control API under `/_emulator/`, driven over HTTP as a test in any language would.

use std::time::Duration;

use http::{Method, StatusCode};
use parallel_emulator::{Emulator, Faults};
use serde_json::json;

use crate::outages::wait_until;
use crate::{create_group, start};

#[tokio::test]
async fn the_control_api_takes_the_api_key() {
    let (emu, anonymous) = start(Emulator::builder().api_key("ctl-key")).await;
    anonymous
        .get("/_emulator/stats")
        .await
        .expect_error(StatusCode::UNAUTHORIZED);
    let client = anonymous.with_key("ctl-key");
    let stats = client.get("/_emulator/stats").await;
    assert_eq!(stats.status, StatusCode::OK);
    assert_eq!(stats.json()["unauthorized"], 1);
    emu.shutdown().await;
}

#[tokio::test]
async fn stats_faults_credits_and_rate_limit_are_read_and_set_over_http() {
    let (emu, client) = start(Emulator::builder().time_scale(0.0)).await;
    create_group(&client).await;
    let stats = client.get("/_emulator/stats").await.json();
    assert_eq!(stats["groups_created"], 1);
    assert_eq!(stats["requests"]["create_group"], 1);
    assert_eq!(stats["credits"], json!(null));

    let put = |path: &'static str, body: serde_json::Value| {
        let client = client.clone();
        async move { client.call(Method::PUT, path, Some(body)).await }
    };
    let faults = put(
        "/_emulator/faults",
        json!({"rate_429": 1.0, "retry_after_ms": 1500}),
    )
    .await;
    assert_eq!(faults.status, StatusCode::OK, "{}", faults.text());
    assert_eq!(faults.json()["rate_429"], 1.0);
    let refused = client.post("/v1/tasks/groups", json!({})).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.headers["retry-after-ms"], "1500");
    // Fields left out are off: this clears the 429s.
    assert_eq!(
        put("/_emulator/faults", json!({})).await.status,
        StatusCode::OK
    );
    assert_eq!(
        client.post("/v1/tasks/groups", json!({})).await.status,
        StatusCode::OK
    );
    let unknown = put("/_emulator/faults", json!({"rate_42": 1.0})).await;
    let message = unknown.expect_error(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(message.contains("rate_42"), "{message}");
    let out_of_range = put("/_emulator/faults", json!({"hang_rate": 2.0})).await;
    assert!(
        out_of_range
            .expect_error(StatusCode::UNPROCESSABLE_ENTITY)
            .contains("hang_rate")
    );
    assert_eq!(
        client.get("/_emulator/faults").await.json()["hang_rate"],
        0.0
    );

    assert_eq!(
        put("/_emulator/credits", json!({"credits": 0}))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(emu.credits(), Some(0));
    client
        .post("/v1/tasks/runs", json!({"input": "x", "processor": "lite"}))
        .await
        .expect_error(StatusCode::PAYMENT_REQUIRED);
    put("/_emulator/credits", json!({"credits": null})).await;
    assert_eq!(emu.credits(), None);

    put("/_emulator/rate-limit", json!({"per_minute": 1})).await;
    assert_eq!(
        client.post("/v1/tasks/groups", json!({})).await.status,
        StatusCode::OK
    );
    let limited = client.post("/v1/tasks/groups", json!({})).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    put("/_emulator/rate-limit", json!({"per_minute": null})).await;
    assert_eq!(
        client.post("/v1/tasks/groups", json!({})).await.status,
        StatusCode::OK
    );

    client
        .get("/_emulator/nothing")
        .await
        .expect_error(StatusCode::NOT_FOUND);
    client
        .post("/_emulator/stats", json!({}))
        .await
        .expect_error(StatusCode::METHOD_NOT_ALLOWED);
    emu.set_faults(Faults::none());
    emu.shutdown().await;
}

#[tokio::test]
async fn an_outage_is_started_over_http_after_the_answer_is_sent() {
    let (emu, client) = start(Emulator::builder()).await;
    let addr = emu.local_addr();
    let started = client
        .post("/_emulator/outage", json!({"mode": "refuse", "secs": 1.0}))
        .await;
    assert_eq!(started.status, StatusCode::OK, "{}", started.text());
    wait_until(Duration::from_secs(5), "the outage starts", async || {
        tokio::net::TcpStream::connect(addr).await.is_err()
    })
    .await;
    wait_until(Duration::from_secs(10), "the outage ends", async || {
        tokio::net::TcpStream::connect(addr).await.is_ok()
    })
    .await;
    let bad = client
        .post("/_emulator/outage", json!({"mode": "down", "secs": 1.0}))
        .await;
    assert!(
        bad.expect_error(StatusCode::UNPROCESSABLE_ENTITY)
            .contains("refuse or hang")
    );
    emu.shutdown().await;
}
