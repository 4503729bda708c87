//! Betas: `webhook` and `mcp_servers` need no `parallel-beta` header (as the official SDKs
//! send none unless asked), and the opt-in fault refuses them without their value.

use http::{Method, StatusCode};
use parallel_emulator::{Emulator, Faults};
use serde_json::json;

use crate::{company_spec, create_group, inputs, instant, start};

#[tokio::test]
async fn beta_fields_are_accepted_without_a_header_by_default() {
    let (emu, client) = instant().await;
    let group = create_group(&client).await;
    let mut runs = inputs(0, 2, "lite");
    runs[0]["webhook"] =
        json!({"url": "http://127.0.0.1:9/hook", "event_types": ["task_run.status"]});
    runs[1]["mcp_servers"] = json!([{"name": "crm", "url": "https://mcp.example"}]);
    let body = json!({"inputs": runs, "default_task_spec": company_spec()});
    let added = client
        .post(&format!("/v1/tasks/groups/{group}/runs"), body)
        .await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.text());
    let run = json!({
        "input": "x", "processor": "lite",
        "webhook": {"url": "http://127.0.0.1:9/hook", "event_types": ["task_run.status"]},
        "mcp_servers": [{"name": "crm", "url": "https://mcp.example"}]
    });
    let created = client.post("/v1/tasks/runs", run).await;
    assert_eq!(created.status, StatusCode::ACCEPTED, "{}", created.text());
    assert_eq!(emu.run_count(), 3);
    emu.shutdown().await;
}

#[tokio::test]
async fn the_control_api_switches_the_beta_requirement() {
    let (emu, client) = instant().await;
    let set = client
        .call(
            Method::PUT,
            "/_emulator/faults",
            Some(json!({"require_betas": true})),
        )
        .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.text());
    assert_eq!(set.json()["require_betas"], true);
    let run = json!({"input": "x", "processor": "lite", "mcp_servers": []});
    let message = client
        .post("/v1/tasks/runs", run.clone())
        .await
        .expect_error(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(message.contains("mcp-server-2025-07-17"), "{message}");
    let reset = client
        .call(Method::PUT, "/_emulator/faults", Some(json!({})))
        .await;
    assert_eq!(reset.json()["require_betas"], false);
    assert_eq!(
        client.post("/v1/tasks/runs", run).await.status,
        StatusCode::ACCEPTED
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn required_betas_need_their_header_value() {
    let (emu, client) = start(
        Emulator::builder()
            .time_scale(0.0)
            .seed(7)
            .faults(Faults::none().require_betas(true)),
    )
    .await;
    let group = create_group(&client).await;
    let mut runs = inputs(0, 3, "lite");
    runs[1]["webhook"] =
        json!({"url": "http://127.0.0.1:9/hook", "event_types": ["task_run.status"]});
    let body = json!({"inputs": runs, "default_task_spec": company_spec()});
    let path = format!("/v1/tasks/groups/{group}/runs");

    let refused = client.post(&path, body.clone()).await;
    let message = refused.expect_error(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(message.contains("inputs[1].webhook"), "{message}");
    assert!(
        message.contains("parallel-beta: webhook-2025-08-12"),
        "{message}"
    );
    assert_eq!(
        emu.run_count(),
        0,
        "nothing of a refused request is created"
    );

    let other_beta = client
        .clone()
        .with_header("parallel-beta", "events-sse-2025-07-24");
    other_beta
        .post(&path, body.clone())
        .await
        .expect_error(StatusCode::UNPROCESSABLE_ENTITY);

    // A comma-separated list, spaces tolerated.
    let with_beta = client
        .clone()
        .with_header("parallel-beta", "events-sse-2025-07-24, webhook-2025-08-12");
    let accepted = with_beta.post(&path, body).await;
    assert_eq!(accepted.status, StatusCode::OK, "{}", accepted.text());
    assert_eq!(emu.run_count(), 3);

    let run = json!({
        "input": "x", "processor": "lite",
        "mcp_servers": [{"name": "crm", "url": "https://mcp.example"}]
    });
    let message = with_beta
        .post("/v1/tasks/runs", run.clone())
        .await
        .expect_error(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(message.contains("mcp_servers"), "{message}");
    assert!(message.contains("mcp-server-2025-07-17"), "{message}");
    let mcp = client
        .clone()
        .with_header("parallel-beta", "mcp-server-2025-07-17");
    assert_eq!(
        mcp.post("/v1/tasks/runs", run).await.status,
        StatusCode::ACCEPTED
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn webhook_secrets_are_not_echoed() {
    let (emu, client) = instant().await;
    let client = client.with_header("parallel-beta", "webhook-2025-08-12");
    let run = json!({
        "input": "x", "processor": "lite",
        "webhook": {"url": "http://127.0.0.1:9/hook", "event_types": ["task_run.status"], "secret": "whsec-do-not-echo"}
    });
    let created = client.post("/v1/tasks/runs", run).await;
    assert_eq!(created.status, StatusCode::ACCEPTED, "{}", created.text());
    let id = created.json()["run_id"].as_str().unwrap().to_owned();
    let input = client.get(&format!("/v1/tasks/runs/{id}/input")).await;
    assert_eq!(
        input.json()["webhook"],
        json!({"url": "http://127.0.0.1:9/hook", "event_types": ["task_run.status"]})
    );
    assert!(!input.text().contains("whsec-do-not-echo"));
    emu.shutdown().await;
}
