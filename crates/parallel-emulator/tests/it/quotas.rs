//! Account quotas: credit (402) and the rate limit on work-creating requests (429).

use std::time::Duration;

use http::StatusCode;
use parallel_emulator::Emulator;
use serde_json::json;

use crate::{add_runs, company_spec, create_group, inputs, start};

#[tokio::test]
async fn credit_covers_whole_requests_and_nothing_of_a_refused_one_is_created() {
    let (emu, client) = start(Emulator::builder().time_scale(0.0).credits(Some(5))).await;
    let group = create_group(&client).await;
    add_runs(&client, &group, inputs(0, 3, "lite")).await;
    assert_eq!(emu.credits(), Some(2));

    let path = format!("/v1/tasks/groups/{group}/runs");
    let too_many = json!({"inputs": inputs(3, 3, "lite"), "default_task_spec": company_spec()});
    let message = client
        .post(&path, too_many.clone())
        .await
        .expect_error(StatusCode::PAYMENT_REQUIRED);
    assert!(message.contains("insufficient credit"), "{message}");
    assert!(
        message.contains("3 run(s)") && message.contains("2 remain"),
        "{message}"
    );
    assert_eq!(emu.run_count(), 3, "no run of the refused request");
    let group_now = client
        .get(&format!("/v1/tasks/groups/{group}"))
        .await
        .json();
    assert_eq!(group_now["status"]["num_task_runs"], 3);

    let single = json!({"input": "x", "processor": "lite"});
    assert_eq!(
        client.post("/v1/tasks/runs", single.clone()).await.status,
        StatusCode::ACCEPTED
    );
    assert_eq!(
        client.post("/v1/tasks/runs", single.clone()).await.status,
        StatusCode::ACCEPTED
    );
    client
        .post("/v1/tasks/runs", single.clone())
        .await
        .expect_error(StatusCode::PAYMENT_REQUIRED);

    // Adding credit while it runs lets the same request through.
    emu.set_credits(Some(3));
    assert_eq!(client.post(&path, too_many).await.status, StatusCode::OK);
    assert_eq!(emu.run_count(), 8);
    assert_eq!(emu.stats().credit_refusals, 2);
    emu.shutdown().await;
}

#[tokio::test]
async fn an_empty_bucket_answers_429_with_the_wait_for_one_token() {
    // 60 a minute: one token a second after the first 60.
    let (emu, client) = start(Emulator::builder().time_scale(0.0).rate_limit(Some(60))).await;
    // The bucket holds 60; a token or two may refill while they are sent on a slow machine.
    let mut accepted = 0;
    let limited = loop {
        let reply = client.post("/v1/tasks/groups", json!({})).await;
        if reply.status != StatusCode::OK {
            break reply;
        }
        accepted += 1;
        assert!(accepted < 120, "the limit never applied");
    };
    assert!(accepted >= 60, "a full bucket first: {accepted}");
    let message = limited.expect_error(StatusCode::TOO_MANY_REQUESTS);
    assert!(
        message.contains("60 work-creating requests per minute"),
        "{message}"
    );
    let ms: u64 = limited.headers["retry-after-ms"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(ms > 0 && ms <= 1000, "the wait for one token: {ms} ms");
    assert_eq!(limited.headers["retry-after"], "1");
    // Reads are not limited.
    let read = client.get("/v1/tasks/groups/tgrp_unknown").await;
    assert_eq!(read.status, StatusCode::NOT_FOUND, "{}", read.text());

    // After the advertised wait, a token is there.
    tokio::time::sleep(Duration::from_millis(ms)).await;
    assert_eq!(client.post("/v1/tasks/groups", json!({})).await.status, 200);
    assert!(emu.stats().rate_limited >= 1);

    emu.set_rate_limit(None);
    for _ in 0..100 {
        assert_eq!(client.post("/v1/tasks/groups", json!({})).await.status, 200);
    }
    emu.shutdown().await;
}
