//! The `parallel-beta` header as the server sees it: per call, added by the client for beta
//! fields, merged with the client's own header, without repeats.

use std::time::Duration;

use futures::StreamExt;
use parallel_client::{AddRuns, Beta, Client};
use parallel_types::RunInput;
use serde_json::json;

use crate::scripted::{Recorded, Reply, Scripted};

const RUN: &str = r#"{"run_id":"trun_1","status":"queued","is_active":true,"processor":"lite","metadata":null,"created_at":null,"modified_at":null,"error":null,"warnings":null,"taskgroup_id":null}"#;

const ADDED: &str = r#"{"status":{"num_task_runs":1,"task_run_status_counts":{},"is_active":true,"status_message":null,"modified_at":null},"run_ids":["trun_1","trun_2"],"run_cursor":null,"event_cursor":null}"#;

const RESULT: &str = r#"{"run":{"run_id":"trun_1","status":"completed","is_active":false,"processor":"lite","metadata":null,"created_at":null,"modified_at":null,"error":null,"warnings":null,"taskgroup_id":null},"output":{"type":"text","content":"Jane Doe","basis":[]}}"#;

fn answer(request: &Recorded, _: usize) -> Reply {
    match (request.method.as_str(), request.path()) {
        ("POST", "/v1/tasks/runs") => Reply::json(202, RUN),
        ("POST", _) => Reply::json(200, ADDED),
        (_, "/v1/tasks/runs/trun_1/result") => Reply::json(200, RESULT),
        (_, "/v1/tasks/runs/trun_1/events") => Reply::sse(&format!(
            "event: task_run.state\ndata: {{\"type\":\"task_run.state\",\"event_id\":null,\"run\":{RESULT_RUN}}}\n\n"
        )),
        _ => Reply::json(404, r#"{"error":{"message":"not here"}}"#),
    }
}

const RESULT_RUN: &str = r#"{"run_id":"trun_1","status":"completed","is_active":false,"processor":"lite","metadata":null,"created_at":null,"modified_at":null,"error":null,"warnings":null,"taskgroup_id":null}"#;

fn input(extra: &serde_json::Value) -> RunInput {
    let mut value = json!({"input": "Who is the CEO of Acme?", "processor": "lite"});
    value
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    serde_json::from_value(value).expect("a valid run input")
}

fn client(
    server: &Scripted,
    builder: impl FnOnce(parallel_client::ClientBuilder) -> parallel_client::ClientBuilder,
) -> Client {
    builder(Client::builder().api_key("k").base_url(server.base_url()))
        .build()
        .unwrap()
}

/// The `parallel-beta` header of each request, in order.
fn betas_seen(server: &Scripted) -> Vec<Option<String>> {
    server
        .requests()
        .iter()
        .map(|r| r.header("parallel-beta").map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn beta_fields_bring_their_betas_and_per_call_betas_are_sent() {
    let server = Scripted::start(answer).await;
    let client = client(&server, |b| b);

    // No beta field, no beta: no header.
    client.create_run(input(&json!({}))).await.unwrap();
    // A webhook and run events: both betas, by themselves.
    let webhook = input(&json!({
        "webhook": {"url": "https://example.com/hook", "event_types": ["task_run.status"]},
        "enable_events": true
    }));
    client.create_run(webhook).await.unwrap();
    // Per call, then what the input needs, each once.
    client
        .create_run(input(&json!({"enable_events": true})))
        .betas([
            Beta::FieldBasis,
            Beta::EventsSse,
            Beta::from("brand-new-2027-01-01"),
        ])
        .await
        .unwrap();
    // Add runs: an MCP server on one input of the chunk, and a per-call beta.
    let mcp = input(&json!({"mcp_servers": [{"name": "docs", "url": "https://mcp.example.com"}]}));
    client
        .group("tgrp_1")
        .add_runs(AddRuns::new([input(&json!({})), mcp]))
        .betas([Beta::FindAll])
        .await
        .unwrap();
    // Result with a per-call beta; the run events stream with the events beta.
    client
        .run_result("trun_1")
        .timeout(Duration::from_secs(5))
        .betas([Beta::FieldBasis])
        .await
        .unwrap();
    let events: Vec<_> = client
        .run_events("trun_1", parallel_client::RequestOptions::default())
        .collect()
        .await;
    assert_eq!(events.len(), 1, "{events:?}");
    client.group("tgrp_1").get().await.unwrap_err();

    assert_eq!(
        betas_seen(&server),
        [
            None,
            Some("webhook-2025-08-12,events-sse-2025-07-24".to_owned()),
            Some("field-basis-2025-11-25,events-sse-2025-07-24,brand-new-2027-01-01".to_owned()),
            Some("findall-2025-09-15,mcp-server-2025-07-17".to_owned()),
            Some("field-basis-2025-11-25".to_owned()),
            Some("events-sse-2025-07-24".to_owned()),
            None,
        ]
    );
}

#[tokio::test]
async fn the_clients_own_beta_header_is_merged_with_each_calls() {
    let server = Scripted::start(answer).await;
    let client = client(&server, |b| {
        b.header("parallel-beta", "team-beta-1, field-basis-2025-11-25")
    });
    client
        .create_run(input(&json!({})))
        .betas([Beta::FieldBasis, Beta::McpServer])
        .await
        .unwrap();
    client.group("tgrp_1").get().await.unwrap_err();
    assert_eq!(
        betas_seen(&server),
        [
            Some("team-beta-1,field-basis-2025-11-25,mcp-server-2025-07-17".to_owned()),
            // Requests without betas of their own carry the client's header as given.
            Some("team-beta-1, field-basis-2025-11-25".to_owned()),
        ]
    );
}
