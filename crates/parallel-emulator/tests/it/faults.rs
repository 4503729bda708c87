//! Faults: reproducible from the seed, and observable by the client exactly as described.

use std::time::Duration;

use http::{Method, StatusCode};
use parallel_emulator::{Emulator, Endpoint, Faults};
use serde_json::json;

use crate::http::split_frames;
use crate::{add_runs, create_group, inputs, instant, start};

async fn status_sequence(seed: u64) -> Vec<u16> {
    let faults = Faults::none()
        .rate_429(0.3)
        .rate_5xx(0.2)
        .retry_after(Duration::from_millis(1500));
    let (emu, client) = start(
        Emulator::builder()
            .time_scale(0.0)
            .seed(seed)
            .faults(faults),
    )
    .await;
    let mut statuses = Vec::new();
    for _ in 0..40 {
        let reply = client.post("/v1/tasks/groups", json!({})).await;
        let code = reply.status.as_u16();
        if code != 200 {
            assert_eq!(reply.headers["retry-after-ms"], "1500");
            assert_eq!(
                reply.headers["retry-after"], "2",
                "whole seconds, rounded up"
            );
            reply.expect_error(reply.status);
        }
        statuses.push(code);
    }
    let stats = emu.stats();
    let count = |c: u16| statuses.iter().filter(|s| **s == c).count() as u64;
    assert_eq!(stats.injected_429, count(429));
    assert_eq!(stats.injected_5xx, 40 - count(200) - count(429));
    assert_eq!(
        stats.groups_created,
        count(200),
        "a fault answer creates nothing"
    );
    emu.shutdown().await;
    statuses
}

#[tokio::test]
async fn error_faults_are_reproducible_by_seed() {
    let a = status_sequence(21).await;
    let b = status_sequence(21).await;
    let c = status_sequence(22).await;
    assert_eq!(a, b, "same seed, same faults");
    assert_ne!(a, c, "another seed, other faults");
    assert!(
        a.contains(&429) && a.iter().any(|s| *s >= 500) && a.contains(&200),
        "{a:?}"
    );
    assert!(a.iter().all(|s| [200, 429, 500, 502, 503].contains(s)));
}

#[tokio::test]
async fn cut_streams_stop_inside_an_event_and_resume_without_loss() {
    let faults = Faults::none().cut_sse_after(3);
    let (emu, client) = start(Emulator::builder().time_scale(0.0).seed(5).faults(faults)).await;
    let group = create_group(&client).await;
    add_runs(&client, &group, inputs(0, 10, "lite")).await;
    let mut seen = Vec::new();
    let mut last = String::new();
    let mut connections = 0;
    loop {
        connections += 1;
        let path =
            format!("/v1/tasks/groups/{group}/runs?include_output=true&last_event_id={last}");
        let streamed = client.stream(&path).await;
        let (frames, _, tail) = split_frames(&streamed.body);
        for f in &frames {
            seen.push(f.data["run"]["run_id"].as_str().unwrap().to_owned());
            last = f.data["event_id"].as_str().unwrap().to_owned();
        }
        if streamed.clean {
            assert!(tail.is_empty());
            break;
        }
        assert_eq!(frames.len(), 3, "cut after 3 events");
        assert!(!tail.is_empty(), "part of the 4th event was sent");
        assert!(
            tail.starts_with('e'),
            "the partial event starts at its first byte: {tail:?}"
        );
        assert!(connections < 10, "progress on every connection");
    }
    assert_eq!(connections, 4, "10 runs, 3 per connection");
    assert_eq!(seen.len(), 10);
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 10, "no run delivered twice");
    assert_eq!(emu.stats().streams_cut, 3);
    emu.shutdown().await;
}

#[tokio::test]
async fn cut_offsets_are_fixed_or_seeded() {
    let cut_tail = |offset: Option<usize>, seed: u64| async move {
        let mut faults = Faults::none().cut_sse_after(1);
        if let Some(o) = offset {
            faults = faults.cut_sse_at_offset(o);
        }
        let (emu, client) = start(
            Emulator::builder()
                .time_scale(0.0)
                .seed(seed)
                .faults(faults),
        )
        .await;
        let group = create_group(&client).await;
        add_runs(&client, &group, inputs(0, 3, "lite")).await;
        let streamed = client
            .stream(&format!("/v1/tasks/groups/{group}/runs"))
            .await;
        assert!(!streamed.clean);
        emu.shutdown().await;
        split_frames(&streamed.body).2
    };
    assert_eq!(cut_tail(Some(10), 1).await, "event: tas");
    let a = cut_tail(None, 3).await;
    let b = cut_tail(None, 3).await;
    // Timestamps differ between the two servers; the cut position does not.
    assert_eq!(a.len(), b.len(), "seeded offsets repeat");
    assert!(!a.is_empty() && !a.ends_with("\n\n"));
}

#[tokio::test]
async fn dripping_streams_arrive_in_small_pieces_intact() {
    let faults = Faults::none().drip(64, Duration::from_millis(1));
    let (emu, client) = start(Emulator::builder().time_scale(0.0).faults(faults)).await;
    let group = create_group(&client).await;
    add_runs(&client, &group, inputs(0, 4, "lite")).await;
    let streamed = client
        .stream(&format!("/v1/tasks/groups/{group}/runs?include_input=true"))
        .await;
    assert!(streamed.clean);
    let (frames, _, tail) = split_frames(&streamed.body);
    assert_eq!(frames.len(), 4);
    assert!(tail.is_empty());
    assert!(
        streamed.pieces >= streamed.body.len() / 64,
        "{} pieces for {} bytes",
        streamed.pieces,
        streamed.body.len()
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn a_lost_response_still_creates_the_runs() {
    let (emu, client) = instant().await;
    let group = create_group(&client).await;
    emu.lose_next_response("/runs");
    let body = serde_json::to_vec(&json!({"inputs": inputs(0, 5, "lite")})).unwrap();
    let lost = client
        .try_call(
            Method::POST,
            &format!("/v1/tasks/groups/{group}/runs"),
            Some(body.clone()),
        )
        .await;
    assert!(lost.is_err(), "no response: {lost:?}");
    assert_eq!(emu.run_count(), 5, "the request was processed");
    assert_eq!(emu.stats().responses_lost, 1);
    let streamed = client
        .stream(&format!("/v1/tasks/groups/{group}/runs"))
        .await;
    assert_eq!(split_frames(&streamed.body).0.len(), 5);
    // One-shot: the next request is answered.
    let reply = client
        .try_call(
            Method::POST,
            &format!("/v1/tasks/groups/{group}/runs"),
            Some(body),
        )
        .await
        .unwrap();
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(emu.stats().requests(Endpoint::AddRuns), 2);

    // As a rate, it applies to POSTs only.
    emu.set_faults(Faults::none().lost_response_rate(1.0));
    assert!(
        client
            .try_call(Method::POST, "/v1/tasks/groups", Some(b"{}".to_vec()))
            .await
            .is_err()
    );
    assert_eq!(
        client
            .get(&format!("/v1/tasks/groups/{group}"))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(emu.stats().groups_created, 2);
    emu.shutdown().await;
}

#[tokio::test]
async fn out_of_range_settings_are_rejected_at_start() {
    let err = Emulator::builder()
        .fail_rate(1.5)
        .start()
        .await
        .unwrap_err();
    assert!(err.is_config() && err.to_string().contains("1.5"), "{err}");
    let err = Emulator::builder()
        .faults(Faults::none().rate_429(-0.1))
        .start()
        .await
        .unwrap_err();
    assert!(
        err.is_config() && err.to_string().contains("rate_429"),
        "{err}"
    );
    let err = Emulator::builder()
        .listen("0.0.0.0:0".parse().unwrap())
        .start()
        .await
        .unwrap_err();
    assert!(
        err.is_config() && err.to_string().contains("loopback"),
        "{err}"
    );
    let (emu, _) = instant().await;
    let err = Emulator::builder()
        .listen(emu.local_addr())
        .start()
        .await
        .unwrap_err();
    assert!(err.is_bind(), "{err}");
    assert!(std::error::Error::source(&err).is_some());
    emu.shutdown().await;
}
