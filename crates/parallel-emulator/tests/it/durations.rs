//! Every duration the emulator is given is bounded: a `422` naming the limit for a request
//! or the control API, an error at start for the builder, and never a panic.

use std::time::Duration;

use http::{Method, StatusCode};
use parallel_emulator::{Emulator, Faults, Limits};
use serde_json::json;

use crate::http::Client;
use crate::{add_runs, create_group, inputs, instant, start};

const DAY: &str = "86400 s";

/// A group of three runs is streamed in full and ends cleanly.
async fn assert_runs_stream_served(client: &Client) {
    let group = create_group(client).await;
    add_runs(client, &group, inputs(0, 3, "lite")).await;
    let streamed = client
        .stream(&format!("/v1/tasks/groups/{group}/runs"))
        .await;
    assert!(streamed.clean && streamed.status == StatusCode::OK);
    let (frames, _, _) = crate::http::split_frames(&streamed.body);
    assert_eq!(frames.len(), 3);
}

#[tokio::test]
async fn request_timeouts_beyond_the_limit_get_422_and_the_connection_lives_on() {
    let (emu, client) = start(Emulator::builder().time_scale(1.0)).await;
    let group = create_group(&client).await;
    let added = add_runs(&client, &group, inputs(0, 1, "lite")).await;
    let run = added["run_ids"][0].as_str().unwrap().to_owned();
    for path in [
        format!("/v1/tasks/runs/{run}/result?timeout=1e19"),
        format!("/v1/tasks/runs/{run}/result?timeout=86400.5"),
        format!("/v1/tasks/groups/{group}/events?timeout=1e19"),
    ] {
        let reply = client
            .try_call(Method::GET, &path, None)
            .await
            .unwrap_or_else(|e| panic!("{path}: dropped without an answer ({e})"));
        let message = reply.expect_error(StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            message.contains("timeout") && message.contains(DAY),
            "{message}"
        );
    }
    // A timeout at the limit is a wait like any other.
    let waited = client
        .get(&format!("/v1/tasks/runs/{run}/result?timeout=0.05"))
        .await;
    waited.expect_error(StatusCode::REQUEST_TIMEOUT);
    emu.shutdown().await;
}

#[tokio::test]
async fn control_api_durations_beyond_the_limit_get_422() {
    let (emu, client) = instant().await;
    for (path, method, body, field) in [
        (
            "/_emulator/outage",
            Method::POST,
            json!({"mode": "hang", "secs": 1e19}),
            "secs",
        ),
        (
            "/_emulator/outage",
            Method::POST,
            json!({"mode": "hang", "secs": 1, "start_after_secs": 1e19}),
            "start_after_secs",
        ),
        (
            "/_emulator/faults",
            Method::PUT,
            json!({"close_streams_after_secs": 1e19}),
            "close_streams_after_secs",
        ),
        (
            "/_emulator/faults",
            Method::PUT,
            json!({"retry_after_ms": u64::MAX}),
            "retry_after",
        ),
        (
            "/_emulator/faults",
            Method::PUT,
            json!({"drip_bytes": 1, "drip_pause_ms": u64::MAX}),
            "drip pause",
        ),
    ] {
        let reply = client.call(method, path, Some(body.clone())).await;
        let message = reply.expect_error(StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            message.contains(field) && message.contains(DAY),
            "{body}: {message}"
        );
    }
    // Nothing was set: no outage, and streams are served as before.
    assert_runs_stream_served(&client).await;
    assert_eq!(emu.stats().streams_closed, 0);
    emu.shutdown().await;
}

#[tokio::test]
async fn builder_durations_beyond_the_limit_are_refused_at_start() {
    let too_long = Duration::from_secs(86_401);
    let builders = [
        Emulator::builder().faults(Faults::none().close_streams_after(Duration::MAX)),
        Emulator::builder().header_read_timeout(Duration::MAX),
        Emulator::builder().keep_alive_interval(too_long),
        Emulator::builder().outage(
            too_long,
            Duration::from_secs(1),
            parallel_emulator::OutageMode::Hang,
        ),
    ];
    for builder in builders {
        let error = builder.start().await.expect_err("refused");
        assert!(
            error.is_config() && error.to_string().contains(DAY),
            "{error}"
        );
    }
    let mut limits = Limits::default();
    limits.max_duration = Duration::MAX;
    let error = Emulator::builder()
        .limits(limits)
        .start()
        .await
        .expect_err("refused");
    assert!(error.to_string().contains("max_duration"), "{error}");
}

#[tokio::test]
async fn a_huge_delay_given_to_the_handle_does_not_break_streams() {
    // The handle takes faults without a check: the stream must still be served.
    let (emu, client) = instant().await;
    emu.set_faults(Faults::none().close_streams_after(Duration::MAX));
    assert_runs_stream_served(&client).await;
    emu.shutdown().await;
}
