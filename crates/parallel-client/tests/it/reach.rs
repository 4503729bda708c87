//! Per-call options as the server receives them (headers, query parameters, body fields) on
//! every request method, per-call timeouts that bound a whole call, and `Client::execute`.

use std::time::{Duration, Instant};

use futures::StreamExt;
use parallel_client::{
    AddRuns, Client, GroupEventsOptions, GroupRunsOptions, RequestOptions, RetryPolicy,
};
use parallel_emulator::Faults;
use parallel_types::{CreateTaskGroupRequest, RunInput};
use serde_json::json;

use crate::common::{Insight, KEY, client, emulator};
use crate::scripted::{Recorded, Reply, Scripted};

const RUN: &str = r#"{"run_id":"trun_1","status":"completed","is_active":false,"processor":"lite","metadata":null,"created_at":null,"modified_at":null,"error":null,"warnings":null,"taskgroup_id":"tgrp_1"}"#;

const STATUS: &str = r#"{"num_task_runs":1,"task_run_status_counts":{"completed":1},"is_active":false,"status_message":null,"modified_at":null}"#;

fn group() -> String {
    format!(r#"{{"taskgroup_id":"tgrp_1","status":{STATUS},"created_at":null,"metadata":null}}"#)
}

fn answer(request: &Recorded, _: usize) -> Reply {
    let run_event = format!(
        r#"{{"type":"task_run.state","event_id":"1","run":{RUN},"input":null,"output":null}}"#
    );
    match (request.method.as_str(), request.path()) {
        ("POST", "/v1/tasks/groups") | (_, "/v1/tasks/groups/tgrp_1") => Reply::json(200, &group()),
        ("POST", "/v1/tasks/groups/tgrp_1/runs") => Reply::json(
            200,
            &format!(
                r#"{{"status":{STATUS},"run_ids":["trun_1"],"run_cursor":null,"event_cursor":null}}"#
            ),
        ),
        ("POST", "/v1/tasks/runs") => Reply::json(202, RUN),
        (_, "/v1/tasks/groups/tgrp_1/runs/trun_1" | "/v1/tasks/runs/trun_1") => {
            Reply::json(200, RUN)
        }
        (_, "/v1/tasks/runs/trun_1/input") => {
            Reply::json(200, r#"{"input":"q","processor":"lite"}"#)
        }
        (_, "/v1/tasks/runs/trun_1/result") => Reply::json(
            200,
            &format!(
                r#"{{"run":{RUN},"output":{{"type":"text","content":"Jane Doe","basis":[]}}}}"#
            ),
        ),
        (_, "/v1/tasks/runs/trun_1/events") => Reply::sse(&format!(
            "event: task_run.state\ndata: {{\"type\":\"task_run.state\",\"event_id\":null,\"run\":{RUN}}}\n\n"
        )),
        (_, "/v1/tasks/groups/tgrp_1/runs") => {
            Reply::sse(&format!("event: task_run.state\ndata: {run_event}\n\n"))
        }
        (_, "/v1/tasks/groups/tgrp_1/events") => Reply::sse(&format!(
            "event: task_group_status\ndata: {{\"type\":\"task_group_status\",\"event_id\":\"2\",\"status\":{STATUS}}}\n\n"
        )),
        _ => Reply::json(404, r#"{"error":{"message":"not here"}}"#),
    }
}

fn input() -> RunInput {
    RunInput::new("Who is the CEO of Acme?", "lite")
}

/// What every call below adds.
fn extras() -> RequestOptions {
    RequestOptions::default()
        .header("x-trace-id", "t-1")
        .header("x-team", "per-call")
        .query("probe", "a b")
}

#[tokio::test]
async fn every_request_method_sends_the_calls_headers_and_query() {
    let server = Scripted::start(answer).await;
    let client = Client::builder()
        .api_key("k")
        .base_url(server.base_url())
        .header("x-team", "client-wide")
        .build()
        .unwrap();
    let group = client.group("tgrp_1");

    client
        .create_group(CreateTaskGroupRequest::new())
        .options(extras())
        .await
        .unwrap();
    group.get().options(extras()).await.unwrap();
    group.get_run("trun_1").options(extras()).await.unwrap();
    group
        .add_runs(AddRuns::new([input()]))
        .options(extras())
        .await
        .unwrap();
    client.create_run(input()).options(extras()).await.unwrap();
    client.get_run("trun_1").options(extras()).await.unwrap();
    client.run_input("trun_1").options(extras()).await.unwrap();
    client.run_result("trun_1").options(extras()).await.unwrap();
    let runs: Vec<_> = group
        .runs(GroupRunsOptions::default().request_options(extras()))
        .collect()
        .await;
    assert_eq!(runs.len(), 1, "{runs:?}");
    let events: Vec<_> = group
        .events(GroupEventsOptions::default().request_options(extras()))
        .collect()
        .await;
    assert_eq!(events.len(), 1, "{events:?}");
    group.wait().options(extras()).await.unwrap();
    let run_events: Vec<_> = client.run_events("trun_1", extras()).collect().await;
    assert_eq!(run_events.len(), 1, "{run_events:?}");
    client
        .execute::<String>(input())
        .options(extras())
        .await
        .unwrap();

    let requests = server.requests();
    assert!(requests.len() >= 15, "{requests:#?}");
    // The last is the wait of `execute`: a read, which takes the call's headers only.
    let (wait, calls) = requests.split_last().unwrap();
    assert!(
        wait.path().ends_with("/result") && !wait.target.contains("probe"),
        "{wait:?}"
    );
    for request in calls {
        assert!(request.target.contains("probe=a%20b"), "{request:?}");
    }
    for request in &requests {
        assert_eq!(request.header("x-trace-id"), Some("t-1"), "{request:?}");
        // The call's header replaced the client's of the same name.
        let teams: Vec<_> = request
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("x-team"))
            .map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(teams, ["per-call"], "{request:?}");
        assert_eq!(request.header("x-api-key"), Some("k"));
    }
}

#[tokio::test]
async fn body_fields_are_merged_into_every_json_body() {
    let server = Scripted::start(answer).await;
    let client = Client::builder()
        .api_key("k")
        .base_url(server.base_url())
        .build()
        .unwrap();
    client
        .create_group(CreateTaskGroupRequest::new())
        .body_field("brand_new", json!({"a": 1}))
        .await
        .unwrap();
    client
        .group("tgrp_1")
        .add_runs(AddRuns::new([input()]).client_tags(false))
        .body_field("brand_new", 2)
        .await
        .unwrap();
    client
        .create_run(input())
        .body_field("brand_new", "three")
        .body_field("processor", "core") // replaces the call's own field
        .await
        .unwrap();
    client
        .execute::<String>(input())
        .body_field("brand_new", 4)
        .await
        .unwrap();

    let bodies: Vec<_> = server
        .requests()
        .iter()
        .filter(|r| r.method == "POST")
        .map(Recorded::json)
        .collect();
    assert_eq!(bodies.len(), 4, "{bodies:#?}");
    assert_eq!(bodies[0]["brand_new"], json!({"a": 1}));
    assert_eq!(bodies[1]["brand_new"], 2);
    assert_eq!(bodies[1]["inputs"][0]["input"], "Who is the CEO of Acme?");
    assert_eq!(bodies[2]["brand_new"], "three");
    assert_eq!(bodies[2]["processor"], "core");
    assert_eq!(bodies[2]["input"], "Who is the CEO of Acme?");
    assert_eq!(bodies[3]["brand_new"], 4);
    // The waits of `execute` are reads: no body.
    let last = server.requests().pop().unwrap();
    assert!(
        last.path().ends_with("/result") && last.body.is_empty(),
        "{last:?}"
    );
}

#[tokio::test]
async fn options_a_call_cannot_take_are_refused_before_sending() {
    let server = Scripted::start(answer).await;
    let client = Client::builder()
        .api_key("k")
        .base_url(server.base_url())
        .build()
        .unwrap();
    let error = client
        .get_run("trun_1")
        .body_field("x", 1)
        .await
        .unwrap_err();
    assert!(
        error.is_config() && error.to_string().contains("no body"),
        "{error}"
    );
    let error = client
        .get_run("trun_1")
        .header("x-api-key", "other")
        .await
        .unwrap_err();
    assert!(error.is_config(), "{error}");
    let error = client
        .get_run("trun_1")
        .header("bad header", "v")
        .await
        .unwrap_err();
    assert!(
        error.is_config() && error.to_string().contains("header"),
        "{error}"
    );
    let timed = GroupRunsOptions::default()
        .request_options(RequestOptions::default().timeout(Duration::from_secs(1)));
    let mut runs = client.group("tgrp_1").runs(timed);
    let error = runs.next().await.unwrap().unwrap_err();
    assert!(
        error.is_config() && error.to_string().contains("timeout"),
        "{error}"
    );
    assert!(server.requests().is_empty(), "{:?}", server.requests());
}

#[tokio::test]
async fn a_calls_timeout_bounds_it_whole() {
    // A server that never answers: the client's own time-to-first-byte is a minute.
    let emu = emulator(Faults::none().hang_rate(1.0)).await;
    let client = client(&emu);
    let started = Instant::now();
    let error = client
        .group("tgrp_x")
        .get()
        .timeout(Duration::from_millis(300))
        .await
        .unwrap_err();
    let waited = started.elapsed();
    assert!(error.is_timeout(), "{error:?}");
    assert!(error.to_string().contains("300ms"), "{error}");
    assert!(waited < Duration::from_secs(2), "waited {waited:?}");
    emu.shutdown().await;

    // Server errors retried with long pauses: the timeout ends the retries.
    let emu = emulator(
        Faults::none()
            .rate_5xx(1.0)
            .retry_after(Duration::from_secs(5)),
    )
    .await;
    let client = Client::builder()
        .api_key(KEY)
        .base_url(emu.base_url())
        .retry_policy(RetryPolicy::default().max_retries(10))
        .build()
        .unwrap();
    let started = Instant::now();
    let error = client
        .create_group(CreateTaskGroupRequest::new())
        .timeout(Duration::from_millis(500))
        .await
        .unwrap_err();
    assert!(error.is_api(), "{error:?}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(error.to_string().contains("500ms"), "{error}");
    emu.shutdown().await;
}

#[tokio::test]
async fn wait_takes_a_timeout() {
    // At full scale a `lite` run takes 10 s or more.
    let emu = crate::common::emulator_scaled(1.0).await;
    let client = client(&emu);
    let group = crate::common::new_group(&client).await;
    client
        .group(&group)
        .add_runs(AddRuns::new([input()]))
        .await
        .unwrap();
    let started = Instant::now();
    let error = client
        .group(&group)
        .wait()
        .timeout(Duration::from_millis(400))
        .await
        .unwrap_err();
    let waited = started.elapsed();
    assert!(error.is_timeout(), "{error:?}");
    assert!(
        waited >= Duration::from_millis(400) && waited < Duration::from_secs(2),
        "{waited:?}"
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn execute_creates_waits_and_decodes_one_run() {
    let emu = crate::common::emulator_scaled(0.02).await;
    let client = client(&emu);
    let spec = crate::common::spec();
    let answer = client
        .execute::<Insight>(RunInput::new("Acme Corp", "lite-fast").with_task_spec(spec.clone()))
        .await
        .unwrap();
    assert!(!answer.content.ceo_name.is_empty(), "{answer:?}");
    assert_eq!(answer.run.status, parallel_types::RunStatus::Completed);
    assert_eq!(emu.run_count(), 1);

    // A run that outlives the timeout: a time-out that says how long it waited.
    let started = Instant::now();
    let error = client
        .execute::<Insight>(RunInput::new("Initech", "ultra").with_task_spec(spec))
        .timeout(Duration::from_millis(700))
        .await
        .unwrap_err();
    let waited = started.elapsed();
    assert!(error.is_timeout(), "{error:?}");
    assert!(
        waited >= Duration::from_millis(700) && waited < Duration::from_millis(1500),
        "{waited:?}"
    );
    assert_eq!(emu.run_count(), 2, "created once");
    emu.shutdown().await;
}
