//! Single runs: create, retrieve, input, blocking result.

use http::StatusCode;
use parallel_emulator::{Emulator, Endpoint};
use parallel_types::{RunOutput, RunStatus, TaskRun, TaskRunResult};
use serde_json::json;

use crate::{add_runs, create_group, inputs, instant, start};

#[tokio::test]
async fn create_retrieve_input_and_result() {
    let (emu, client) = instant().await;
    let body = json!({
        "input": "Who is the CEO of Initech?",
        "processor": "core",
        "metadata": {"ticket": "T-1"},
        "task_spec": {"output_schema": {"type": "text", "description": "CEO name"}},
        "mcp_servers": [{"name": "crm", "url": "https://mcp.example", "headers": {"Authorization": "Bearer hidden"}}]
    });
    let created = client
        .clone()
        .with_header("parallel-beta", "mcp-server-2025-07-17")
        .post("/v1/tasks/runs", body.clone())
        .await;
    assert_eq!(created.status, StatusCode::ACCEPTED);
    let run: TaskRun = serde_json::from_slice(&created.body).unwrap();
    assert_eq!(run.run_id, run.interaction_id);
    assert_eq!(created.json()["taskgroup_id"], json!(null));
    let id = run.run_id;

    let fetched = client.get(&format!("/v1/tasks/runs/{id}")).await;
    let fetched: TaskRun = serde_json::from_slice(&fetched.body).unwrap();
    assert_eq!(
        fetched.status,
        RunStatus::Completed,
        "time scale 0 finishes at once"
    );

    let input = client
        .get(&format!("/v1/tasks/runs/{id}/input"))
        .await
        .json();
    assert_eq!(input["input"], body["input"]);
    assert_eq!(input["metadata"], body["metadata"]);
    assert_eq!(
        input["task_spec"]["output_schema"],
        json!({"type": "text", "description": "CEO name"})
    );
    assert_eq!(
        input["mcp_servers"][0]["headers"],
        json!(null),
        "secrets are not echoed"
    );
    assert_eq!(input["webhook"], json!(null));
    let typed_input: parallel_types::RunInput = serde_json::from_value(input).unwrap();
    assert_eq!(typed_input.processor.as_str(), "core");

    let result = client.get(&format!("/v1/tasks/runs/{id}/result")).await;
    assert_eq!(result.status, StatusCode::OK);
    let typed: TaskRunResult = serde_json::from_slice(&result.body).unwrap();
    let RunOutput::Text(text) = typed.output else {
        panic!("text output")
    };
    assert!(text.content.contains("Initech"));
    assert_eq!(text.basis.len(), 1);
    assert_eq!(text.basis[0].field, "output");

    // The standalone run is not part of any group.
    let group = create_group(&client).await;
    let reply = client
        .get(&format!("/v1/tasks/groups/{group}/runs/{id}"))
        .await;
    assert_eq!(
        reply.expect_error(StatusCode::NOT_FOUND),
        "Run id not found"
    );
    assert_eq!(emu.stats().requests(Endpoint::CreateRun), 1);
    emu.shutdown().await;
}

#[tokio::test]
async fn result_times_out_with_408_while_active() {
    let (emu, client) = start(Emulator::builder().time_scale(1.0)).await;
    let created = client
        .post(
            "/v1/tasks/runs",
            json!({"input": "slow", "processor": "ultra8x"}),
        )
        .await;
    let id = created.json()["run_id"].as_str().unwrap().to_owned();
    let reply = client
        .get(&format!("/v1/tasks/runs/{id}/result?timeout=0"))
        .await;
    assert_eq!(
        reply.expect_error(StatusCode::REQUEST_TIMEOUT),
        "Request timed out; run still active"
    );
    let reply = client
        .get(&format!("/v1/tasks/runs/{id}/result?timeout=soon"))
        .await;
    assert!(
        reply
            .expect_error(StatusCode::UNPROCESSABLE_ENTITY)
            .contains("timeout")
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn result_waits_for_completion() {
    let (emu, client) = start(Emulator::builder().time_scale(0.001).seed(1)).await;
    let created = client
        .post(
            "/v1/tasks/runs",
            json!({"input": {"q": "x"}, "processor": "lite"}),
        )
        .await;
    assert_eq!(created.json()["status"], "queued");
    let id = created.json()["run_id"].as_str().unwrap().to_owned();
    let reply = client
        .get(&format!("/v1/tasks/runs/{id}/result?timeout=30"))
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["run"]["status"], "completed");
    assert_eq!(
        reply.json()["output"]["type"],
        "json",
        "no task spec means an auto schema"
    );
    assert!(
        reply.json()["output"]["output_schema"].is_object(),
        "auto runs report the inferred schema"
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn failed_runs_carry_an_error_and_have_no_result() {
    let (emu, client) = start(Emulator::builder().time_scale(0.0).fail_rate(1.0)).await;
    let group = create_group(&client).await;
    let added = add_runs(&client, &group, inputs(0, 2, "base")).await;
    assert_eq!(
        added["status"]["task_run_status_counts"],
        json!({"failed": 2})
    );
    let id = added["run_ids"][0].as_str().unwrap();
    let run = client.get(&format!("/v1/tasks/runs/{id}")).await.json();
    assert_eq!(run["status"], "failed");
    assert!(crate::http::is_uuid(
        run["error"]["ref_id"].as_str().unwrap()
    ));
    assert!(run["error"]["message"].as_str().unwrap().contains("failed"));
    let again = client
        .get(&format!("/v1/tasks/groups/{group}/runs/{id}"))
        .await
        .json();
    assert_eq!(again["error"], run["error"], "the same error on every read");
    let reply = client.get(&format!("/v1/tasks/runs/{id}/result")).await;
    assert_eq!(
        reply.expect_error(StatusCode::NOT_FOUND),
        "Run failed or run id not found"
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn lifecycle_moves_from_queued_to_completed() {
    let (emu, client) = start(Emulator::builder().time_scale(0.002).seed(8)).await;
    let created = client
        .post(
            "/v1/tasks/runs",
            json!({"input": "x", "processor": "lite-fast"}),
        )
        .await;
    let id = created.json()["run_id"].as_str().unwrap().to_owned();
    let mut statuses = vec![created.json()["status"].as_str().unwrap().to_owned()];
    loop {
        let run = client.get(&format!("/v1/tasks/runs/{id}")).await.json();
        let status = run["status"].as_str().unwrap().to_owned();
        assert_eq!(run["is_active"], json!(status != "completed"));
        if statuses.last() != Some(&status) {
            statuses.push(status.clone());
        }
        if status == "completed" {
            assert!(run["modified_at"].as_str() > run["created_at"].as_str());
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert_eq!(statuses.first().map(String::as_str), Some("queued"));
    assert!(
        statuses
            .iter()
            .all(|s| ["queued", "running", "completed"].contains(&s.as_str())),
        "{statuses:?}"
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn the_input_echo_spells_out_every_field() {
    let (emu, client) = instant().await;
    let created = client
        .post(
            "/v1/tasks/runs",
            json!({"input": "hi", "processor": "lite", "metadata": {"k": true}}),
        )
        .await;
    let id = created.json()["run_id"].as_str().unwrap().to_owned();
    let echo = client.get(&format!("/v1/tasks/runs/{id}/input")).await;
    assert_eq!(
        echo.text(),
        r#"{"input":"hi","processor":"lite","metadata":{"k":true},"source_policy":null,"advanced_settings":null,"task_spec":null,"previous_interaction_id":null,"mcp_servers":null,"enable_events":null,"webhook":null}"#
    );
    let with_policy = json!({"input": {"a": 1}, "processor": "base", "source_policy": {"include_domains": ["example.com"]}, "enable_events": false});
    let created = client.post("/v1/tasks/runs", with_policy).await;
    let id = created.json()["run_id"].as_str().unwrap().to_owned();
    let echo = client
        .get(&format!("/v1/tasks/runs/{id}/input"))
        .await
        .json();
    assert_eq!(
        echo["source_policy"],
        json!({"include_domains": ["example.com"]})
    );
    assert_eq!(echo["enable_events"], json!(false));
    assert_eq!(echo["metadata"], json!(null));
    assert_eq!(echo.as_object().unwrap().len(), 10);
    emu.shutdown().await;
}
