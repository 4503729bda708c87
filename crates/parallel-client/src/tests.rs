//! Unit tests of request building, retries and reconciliation, over scripted transports.

use std::time::Duration;

use futures::StreamExt;
use parallel_transport::TransportError;
use parallel_transport::test_util::{Exchange, FaultTransport, ReplayTransport};
use parallel_types::{CreateTaskGroupRequest, RunInput};

use crate::{AddRuns, Client, GroupRunsOptions, ReconnectPolicy, RetryPolicy};

const GROUP: &str = r#"{"taskgroup_id":"tgrp_1","status":{"num_task_runs":0,"task_run_status_counts":{},"is_active":false,"status_message":null,"modified_at":null},"created_at":null,"metadata":null}"#;

fn fast_retries(n: u32) -> RetryPolicy {
    RetryPolicy::default()
        .max_retries(n)
        .initial_backoff(Duration::from_millis(1))
        .max_backoff(Duration::from_millis(2))
}

fn fast_reconnects(n: u32) -> ReconnectPolicy {
    ReconnectPolicy::default()
        .max_attempts(n)
        .initial_backoff(Duration::from_millis(1))
        .max_backoff(Duration::from_millis(2))
}

fn client(transport: impl parallel_transport::Transport, retries: u32) -> Client {
    Client::builder()
        .api_key("secret-key")
        .base_url("http://127.0.0.1:9")
        .transport(transport)
        .retry_policy(fast_retries(retries))
        .stream_reconnect(fast_reconnects(3))
        .stream_idle_timeout(Duration::from_millis(300))
        .header("x-team", "research")
        .build()
        .unwrap()
}

fn run_event(id: usize, tag: &str) -> String {
    format!(
        "event: task_run.state\ndata: {{\"type\":\"task_run.state\",\"event_id\":\"{id}\",\"input\":null,\"output\":null,\"run\":{{\"run_id\":\"trun_{id}\",\"interaction_id\":\"trun_{id}\",\"status\":\"queued\",\"is_active\":true,\"processor\":\"lite\",\"created_at\":null,\"modified_at\":null,\"metadata\":{{\"client_tag\":\"{tag}\"}}}}}}\n\n"
    )
}

fn add_response(ids: &[&str]) -> String {
    let ids: Vec<String> = ids.iter().map(|id| format!("\"{id}\"")).collect();
    format!(
        r#"{{"status":{{"num_task_runs":3,"task_run_status_counts":{{}},"is_active":true,"status_message":null,"modified_at":null}},"run_ids":[{}],"run_cursor":null,"event_cursor":null}}"#,
        ids.join(",")
    )
}

#[tokio::test]
async fn requests_carry_the_key_accept_user_agent_and_extra_headers() {
    let replay = ReplayTransport::new().expect(
        Exchange::get("/v1/tasks/groups/tgrp_1")
            .header("x-api-key", "secret-key")
            .header("accept", "application/json")
            .header("x-team", "research")
            .respond(200, GROUP),
    );
    let client = client(replay.clone(), 0);
    let group = client.group("tgrp_1").get().await.unwrap();
    assert_eq!(group.taskgroup_id, "tgrp_1");
    replay.assert_done();
    let request = &replay.received()[0];
    let agent = request.headers()["user-agent"].to_str().unwrap();
    assert!(agent.starts_with("parallel-rust/"), "{agent}");
    assert!(!format!("{client:?}").contains("secret-key"));
}

#[tokio::test]
async fn the_legacy_prefix_applies_to_group_paths_only() {
    let replay = ReplayTransport::new()
        .expect(
            Exchange::post("/v1beta/tasks/groups")
                .header("content-type", "application/json")
                .respond(200, GROUP),
        )
        .expect(
            Exchange::get("/v1/tasks/runs/trun_1/input")
                .respond(200, r#"{"input":"x","processor":"lite"}"#),
        );
    let client = Client::builder()
        .api_key("k")
        .base_url("http://127.0.0.1:9/")
        .transport(replay.clone())
        .legacy_v1beta(true)
        .build()
        .unwrap();
    client
        .create_group(CreateTaskGroupRequest::default())
        .await
        .unwrap();
    let input = client.run_input("trun_1").await.unwrap();
    assert_eq!(input.input, serde_json::json!("x"));
    replay.assert_done();
}

#[tokio::test]
async fn retryable_statuses_are_retried_then_succeed() {
    let replay = ReplayTransport::new()
        .expect(
            Exchange::get("/v1/tasks/groups/tgrp_1")
                .respond(429, "")
                .respond_header("retry-after-ms", "1"),
        )
        .expect(Exchange::get("/v1/tasks/groups/tgrp_1").respond(503, "oops"))
        .expect(Exchange::get("/v1/tasks/groups/tgrp_1").respond(200, GROUP));
    let client = client(replay.clone(), 2);
    assert_eq!(
        client.group("tgrp_1").get().await.unwrap().taskgroup_id,
        "tgrp_1"
    );
    replay.assert_done();
}

#[tokio::test]
async fn the_client_gives_up_after_the_policy_with_the_last_error() {
    let body = r#"{"type":"error","error":{"ref_id":"r-9","message":"Too many requests: quota temporarily exceeded","detail":null}}"#;
    let replay = ReplayTransport::new()
        .expect(Exchange::get("/v1/tasks/groups/tgrp_1").respond(429, body))
        .expect(Exchange::get("/v1/tasks/groups/tgrp_1").respond(429, body));
    let client = client(replay.clone(), 1);
    let err = client.group("tgrp_1").get().await.unwrap_err();
    replay.assert_done();
    assert_eq!(err.status(), Some(http::StatusCode::TOO_MANY_REQUESTS));
    assert_eq!(err.api_error().unwrap().ref_id, "r-9");
    assert!(
        err.to_string().contains("quota temporarily exceeded"),
        "{err}"
    );
}

#[tokio::test]
async fn client_errors_and_x_should_retry_false_are_not_retried() {
    let replay = ReplayTransport::new()
        .expect(Exchange::get("/v1/tasks/runs/trun_1").respond(
            404,
            r#"{"type":"error","error":{"ref_id":"r","message":"Run id not found","detail":null}}"#,
        ))
        .expect(
            Exchange::get("/v1/tasks/runs/trun_2")
                .respond(503, "")
                .respond_header("x-should-retry", "false"),
        );
    let client = client(replay.clone(), 3);
    assert_eq!(
        client.get_run("trun_1").await.unwrap_err().status(),
        Some(http::StatusCode::NOT_FOUND)
    );
    assert_eq!(
        client.get_run("trun_2").await.unwrap_err().status(),
        Some(http::StatusCode::SERVICE_UNAVAILABLE)
    );
    replay.assert_done();
}

#[tokio::test]
async fn create_run_is_not_resent_when_the_answer_is_lost() {
    let replay = ReplayTransport::new().expect(
        Exchange::post("/v1/tasks/runs").respond(202, r#"{"run_id":"trun_1","interaction_id":"trun_1","status":"queued","is_active":true,"processor":"lite","created_at":null,"modified_at":null}"#),
    );
    let client = client(FaultTransport::new(replay.clone()).lose_response(), 3);
    let err = client
        .create_run(RunInput::new("x", "lite"))
        .await
        .unwrap_err();
    assert!(err.is_outcome_unknown() && err.is_connection(), "{err:?}");
    assert_eq!(replay.received().len(), 1);
}

#[tokio::test]
async fn a_request_that_was_never_sent_is_retried_even_when_it_creates_work() {
    let replay = ReplayTransport::new().expect(
        Exchange::post("/v1/tasks/runs").respond(202, r#"{"run_id":"trun_1","interaction_id":"trun_1","status":"queued","is_active":true,"processor":"lite","created_at":null,"modified_at":null}"#),
    );
    let faulty = FaultTransport::new(replay.clone())
        .fail_before_sending()
        .times(1);
    let client = client(faulty, 1);
    let run = client.create_run(RunInput::new("x", "lite")).await.unwrap();
    assert_eq!(run.run_id, "trun_1");
    replay.assert_done();
}

#[tokio::test]
async fn add_runs_reconciles_a_lost_answer_and_resubmits_only_missing_inputs() {
    // The first request's answer is a 502 (the server may have processed it): the runs stream
    // shows that position 0 and 2 exist, so only position 1 is sent again.
    let token = "tok";
    let stream = format!(
        "{}{}{}",
        run_event(1, "tok:0"),
        run_event(2, "other:1"),
        run_event(3, "tok:2")
    );
    let replay = ReplayTransport::new()
        .expect(Exchange::post("/v1/tasks/groups/tgrp_1/runs").respond(502, "bad gateway"))
        .expect(
            Exchange::get("/v1/tasks/groups/tgrp_1/runs")
                .header("accept", "text/event-stream")
                .respond(200, stream),
        )
        // A runs stream that ended after new runs is asked once more from its last event, so
        // that a server closing it early cannot hide runs; this one has nothing more.
        .expect(
            Exchange::get("/v1/tasks/groups/tgrp_1/runs?last_event_id=3")
                .header("accept", "text/event-stream")
                .respond(200, ""),
        )
        .expect(
            Exchange::post("/v1/tasks/groups/tgrp_1/runs")
                .body_matches("only the missing input, position 1", |body| {
                    let v: serde_json::Value = serde_json::from_slice(body).unwrap();
                    let inputs = v["inputs"].as_array().unwrap();
                    inputs.len() == 1 && inputs[0]["metadata"]["client_tag"] == "tok:1"
                })
                .respond(200, add_response(&["trun_9"])),
        );
    let client = client(replay.clone(), 2);
    let inputs = (0..3).map(|i| RunInput::new(format!("input {i}"), "lite"));
    let ids = client
        .group("tgrp_1")
        .add_runs(AddRuns::new(inputs).token(token))
        .await
        .unwrap()
        .run_ids;
    replay.assert_done();
    assert_eq!(ids, ["trun_1", "trun_9", "trun_3"]);
}

#[tokio::test]
async fn add_runs_splits_into_requests_of_at_most_1000_and_refreshes_status_last() {
    let mut replay = ReplayTransport::new();
    for (size, query) in [
        (1000, "?refresh_status=false"),
        (1000, "?refresh_status=false"),
        (500, ""),
    ] {
        let ids: Vec<String> = (0..size).map(|i| format!("trun_{size}_{i}")).collect();
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        replay = replay.expect(
            Exchange::post(format!("/v1/tasks/groups/tgrp_1/runs{query}"))
                .body_matches(format!("{size} inputs"), move |body| {
                    let v: serde_json::Value = serde_json::from_slice(body).unwrap();
                    v["inputs"].as_array().unwrap().len() == size
                })
                .respond(200, add_response(&refs)),
        );
    }
    let client = client(replay.clone(), 0);
    let inputs = (0..2500).map(|i| RunInput::new(format!("input {i}"), "lite"));
    let ids = client
        .group("tgrp_1")
        .add_runs(AddRuns::new(inputs))
        .await
        .unwrap()
        .run_ids;
    replay.assert_done();
    assert_eq!(ids.len(), 2500);
    assert_eq!(ids[0], "trun_1000_0");
    assert_eq!(ids[1999], "trun_1000_999");
    assert_eq!(ids[2000], "trun_500_0");
    // Every input carries a tag with one random token and its position.
    let body: serde_json::Value = serde_json::from_slice(replay.received()[2].body()).unwrap();
    let tag = body["inputs"][499]["metadata"]["client_tag"]
        .as_str()
        .unwrap();
    assert!(tag.ends_with(":2499"), "{tag}");
}

#[tokio::test]
async fn the_runs_stream_resumes_after_a_cut_with_last_event_id() {
    let first = format!("{}{}", run_event(1, "a"), &run_event(2, "a")[..40]);
    let replay = ReplayTransport::new()
        .expect(
            Exchange::get("/v1/tasks/groups/tgrp_1/runs?include_input=true").respond(200, first),
        )
        .expect(
            Exchange::get("/v1/tasks/groups/tgrp_1/runs?include_input=true&last_event_id=1")
                .respond(
                    200,
                    format!(
                        ": keep-alive\n\ndata: \n\n{}{}",
                        run_event(2, "a"),
                        run_event(3, "a")
                    ),
                ),
        )
        // The stream has no end marker: it asks once more after the last run, and ends when
        // nothing follows.
        .expect(
            Exchange::get("/v1/tasks/groups/tgrp_1/runs?include_input=true&last_event_id=3")
                .respond(200, ": keep-alive\n\n"),
        );
    let client = client(replay.clone(), 0);
    let runs: Vec<_> = client
        .group("tgrp_1")
        .runs(GroupRunsOptions::default().include_input(true))
        .map(|r| r.unwrap().view().unwrap().run.run_id.into_owned())
        .collect()
        .await;
    replay.assert_done();
    assert_eq!(runs, ["trun_1", "trun_2", "trun_3"]);
}

#[tokio::test]
async fn a_stream_gives_up_after_the_reconnect_budget() {
    let cut = &run_event(1, "a")[..30];
    let mut replay = ReplayTransport::new();
    for _ in 0..3 {
        replay = replay
            .expect(Exchange::get("/v1/tasks/groups/tgrp_1/runs").respond(200, cut.to_owned()));
    }
    let client = Client::builder()
        .api_key("k")
        .base_url("http://127.0.0.1:9")
        .transport(replay.clone())
        .retry_policy(fast_retries(0))
        .stream_reconnect(crate::ReconnectPolicy::default().max_attempts(2))
        .build()
        .unwrap();
    let mut runs = client.group("tgrp_1").runs(GroupRunsOptions::default());
    let err = runs.next().await.unwrap().unwrap_err();
    assert!(err.is_connection(), "{err:?}");
    assert!(runs.next().await.is_none());
    replay.assert_done();
}

#[tokio::test]
async fn transport_errors_are_classified() {
    let replay = ReplayTransport::new()
        .expect(Exchange::get("/v1/tasks/runs/trun_1").fail(TransportError::timeout("slow")))
        .expect(Exchange::get("/v1/tasks/runs/trun_2").fail(TransportError::connect("refused")));
    let client = client(replay.clone(), 0);
    assert!(client.get_run("trun_1").await.unwrap_err().is_timeout());
    let err = client.get_run("trun_2").await.unwrap_err();
    assert!(err.is_connection() && !err.is_outcome_unknown(), "{err:?}");
    replay.assert_done();
}

#[tokio::test]
async fn oversized_answers_are_a_limit_error() {
    let replay =
        ReplayTransport::new().expect(Exchange::get("/v1/tasks/groups/tgrp_1").respond(200, GROUP));
    let client = Client::builder()
        .api_key("k")
        .base_url("http://127.0.0.1:9")
        .transport(replay)
        .max_response_bytes(16)
        .build()
        .unwrap();
    let err = client.group("tgrp_1").get().await.unwrap_err();
    assert!(err.is_limit(), "{err:?}");
}

/// The variables the builder falls back to; the check below runs without them.
const CLIENT_ENV: [&str; 3] = [
    "PARALLEL_API_KEY",
    "PARALLEL_BASE_URL",
    "PARALLEL_CUSTOM_HEADERS",
];

#[test]
fn a_missing_api_key_is_a_config_error() {
    // The builder falls back to `PARALLEL_API_KEY`, and a test must not depend on the
    // environment it happens to run in: the check runs in a child process of this test binary
    // whose environment has none of the client's variables, so it holds with a key set too.
    let mut child = std::process::Command::new(std::env::current_exe().unwrap());
    child.args([
        "--exact",
        "tests::no_api_key_anywhere_is_a_config_error",
        "--ignored",
        "--test-threads=1",
    ]);
    for name in CLIENT_ENV {
        child.env_remove(name);
    }
    let out = child.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The child ran the check rather than finding nothing to run.
    assert!(stdout.contains("1 passed"), "{stdout}");
}

#[test]
#[ignore = "run by a_missing_api_key_is_a_config_error, in an environment without the client's variables"]
fn no_api_key_anywhere_is_a_config_error() {
    for name in CLIENT_ENV {
        assert!(
            std::env::var_os(name).is_none(),
            "{name} is set: run this through a_missing_api_key_is_a_config_error"
        );
    }
    let err = Client::builder()
        .base_url("http://127.0.0.1:9")
        .build()
        .unwrap_err();
    assert!(
        err.is_config() && err.to_string().contains("API key"),
        "{err}"
    );
}

#[test]
fn handles_and_streams_can_cross_threads() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<Client>();
    send_sync::<crate::Error>();
    send::<crate::RunsStream>();
    send::<crate::GroupEvents>();
    send::<crate::RunEvents>();
    send::<crate::batch::BatchStream>();
    send_sync::<crate::GroupRun>();
}
