//! The emulator in time: a capacity that makes groups queue, every run status, the bytes it
//! counts, and the runs stream in another order.

use std::collections::HashSet;

use parallel_emulator::{Emulator, Endpoint, Faults};
use serde_json::{Value, json};

use crate::http::split_frames;
use crate::{add_runs, create_group, inputs, start};

/// Every `task_group_status` of a group's events stream, read to its end.
async fn statuses(client: &crate::http::Client, group: &str) -> Vec<Value> {
    let streamed = client
        .stream(&format!("/v1/tasks/groups/{group}/events"))
        .await;
    assert!(streamed.clean);
    let (frames, _, tail) = split_frames(&streamed.body);
    assert!(tail.is_empty());
    frames
        .into_iter()
        .filter(|f| f.event == "task_group_status")
        .map(|f| f.data["status"].clone())
        .collect()
}

fn count(status: &Value, of: &str) -> u64 {
    status["task_run_status_counts"][of].as_u64().unwrap_or(0)
}

#[tokio::test]
async fn a_group_larger_than_the_capacity_queues_and_never_runs_more_than_it() {
    // lite at time scale 0.01 runs 0.1-0.6 s: 40 runs through 8 slots take several waves.
    let (emulator, client) = start(
        Emulator::builder()
            .time_scale(0.01)
            .seed(3)
            .capacity(Some(8)),
    )
    .await;
    let group = create_group(&client).await;
    add_runs(&client, &group, inputs(0, 40, "lite")).await;
    let statuses = statuses(&client, &group).await;
    let last = statuses.last().expect("a status");
    assert_eq!(count(last, "completed"), 40, "{last}");
    assert!(
        statuses.iter().all(|s| count(s, "running") <= 8),
        "never more than the capacity running: {statuses:?}"
    );
    assert!(
        statuses
            .iter()
            .any(|s| count(s, "queued") >= 30 && count(s, "running") == 8),
        "runs wait queued while the slots are full: {statuses:?}"
    );
    // They finish out of order: the order of the completion events is not the add order.
    let streamed = client
        .stream(&format!("/v1/tasks/groups/{group}/events"))
        .await;
    let (frames, _, _) = split_frames(&streamed.body);
    let rows: Vec<u64> = frames
        .iter()
        .filter(|f| f.event == "task_run.state")
        .map(|f| f.data["run"]["metadata"]["row"].as_u64().unwrap())
        .collect();
    assert_eq!(rows.len(), 40);
    assert!(
        rows.windows(2).any(|w| w[0] > w[1]),
        "out of order: {rows:?}"
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn runs_can_end_cancelled_or_waiting_for_action_and_the_group_ends_either_way() {
    let faults = Faults::none().cancel_rate(0.5).action_required_rate(0.5);
    let (emulator, client) =
        start(Emulator::builder().time_scale(0.001).seed(5).faults(faults)).await;
    let group = create_group(&client).await;
    let added = add_runs(&client, &group, inputs(0, 30, "lite")).await;
    let statuses = statuses(&client, &group).await;
    let last = statuses.last().expect("a status");
    assert_eq!(last["is_active"], false, "{last}");
    let (cancelled, waiting) = (count(last, "cancelled"), count(last, "action_required"));
    assert_eq!(cancelled + waiting, 30, "{last}");
    assert!(cancelled > 0 && waiting > 0, "{last}");
    assert!(
        statuses.iter().any(|s| count(s, "cancelling") > 0),
        "cancelled runs pass through cancelling: {statuses:?}"
    );
    // Neither has a result: `/result` answers 404 at once, as for a failed run.
    for id in added["run_ids"].as_array().unwrap().iter().take(5) {
        let id = id.as_str().unwrap();
        let reply = client
            .get(&format!("/v1/tasks/runs/{id}/result?timeout=5"))
            .await;
        assert_eq!(reply.status, 404, "{}", reply.text());
    }
    // The runs stream gives each its status, and no output.
    let streamed = client
        .stream(&format!(
            "/v1/tasks/groups/{group}/runs?include_output=true"
        ))
        .await;
    let (frames, _, _) = split_frames(&streamed.body);
    let seen: HashSet<&str> = frames
        .iter()
        .map(|f| f.data["run"]["status"].as_str().unwrap())
        .collect();
    assert_eq!(seen, HashSet::from(["cancelled", "action_required"]));
    assert!(frames.iter().all(|f| f.data["output"].is_null()));
    assert!(frames.iter().all(|f| f.data["run"]["is_active"] == false));
    emulator.shutdown().await;
}

#[tokio::test]
async fn stats_count_the_bytes_each_endpoint_served() {
    let (emulator, client) = crate::instant().await;
    let group = create_group(&client).await;
    add_runs(&client, &group, inputs(0, 25, "lite")).await;
    let before = emulator.stats();
    let streamed = client
        .stream(&format!(
            "/v1/tasks/groups/{group}/runs?include_output=true"
        ))
        .await;
    let got = client.get(&format!("/v1/tasks/groups/{group}")).await;
    let after = emulator.stats();
    assert_eq!(
        after.bytes(Endpoint::GroupRuns) - before.bytes(Endpoint::GroupRuns),
        streamed.body.len() as u64
    );
    assert_eq!(
        after.bytes(Endpoint::GetGroup) - before.bytes(Endpoint::GetGroup),
        got.body.len() as u64
    );
    assert_eq!(after.bytes(Endpoint::RunResult), 0);
    // The control API says the same.
    let stats = client.get("/_emulator/stats").await.json();
    assert_eq!(
        stats["bytes"]["group_runs"].as_u64(),
        Some(after.bytes(Endpoint::GroupRuns))
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn in_change_order_the_runs_stream_is_a_feed_of_what_changed_since_a_cursor() {
    let faults = Faults::none().runs_in_change_order(true);
    let (emulator, client) =
        start(Emulator::builder().time_scale(0.01).seed(9).faults(faults)).await;
    let group = create_group(&client).await;
    add_runs(&client, &group, inputs(0, 20, "lite")).await;
    // Right after the add, every run is listed once, queued, in add order.
    let first = client
        .stream(&format!("/v1/tasks/groups/{group}/runs"))
        .await;
    let (frames, _, _) = split_frames(&first.body);
    assert_eq!(frames.len(), 20);
    let cursor = frames.last().unwrap().data["event_id"]
        .as_str()
        .unwrap()
        .to_owned();
    statuses(&client, &group).await; // until the group is done
    // From that cursor: every run again (each changed since), in the order they finished.
    let later = client
        .stream(&format!(
            "/v1/tasks/groups/{group}/runs?status=completed&last_event_id={cursor}"
        ))
        .await;
    let (frames, _, _) = split_frames(&later.body);
    assert_eq!(frames.len(), 20);
    let finished: Vec<&str> = frames
        .iter()
        .map(|f| f.data["run"]["modified_at"].as_str().unwrap())
        .collect();
    assert!(finished.windows(2).all(|w| w[0] <= w[1]), "{finished:?}");
    let rows: Vec<u64> = frames
        .iter()
        .map(|f| f.data["run"]["metadata"]["row"].as_u64().unwrap())
        .collect();
    assert!(
        rows.windows(2).any(|w| w[0] > w[1]),
        "not add order: {rows:?}"
    );
    // Nothing changed after the last one.
    let last = frames.last().unwrap().data["event_id"].as_str().unwrap();
    let none = client
        .stream(&format!(
            "/v1/tasks/groups/{group}/runs?last_event_id={last}"
        ))
        .await;
    assert!(split_frames(&none.body).0.is_empty());
    emulator.shutdown().await;
}

#[tokio::test]
async fn list_fields_get_a_basis_entry_per_element_and_mcp_servers_get_tool_calls() {
    let (emulator, client) = crate::instant().await;
    let spec = json!({"output_schema": {"type": "json", "json_schema": {
        "type": "object",
        "properties": {
            "ceo_name": {"type": "string"},
            "key_executives": {"type": "array", "items": {"type": "string"}, "minItems": 2}
        },
        "required": ["ceo_name", "key_executives"],
        "additionalProperties": false
    }}});
    let reply = client
        .clone()
        .with_header("parallel-beta", "mcp-server-2025-07-17")
        .post(
            "/v1/tasks/runs",
            json!({
                "input": "Acme Corp", "processor": "lite", "task_spec": spec,
                "mcp_servers": [{"type": "url", "name": "crm", "url": "https://mcp.example/crm"}]
            }),
        )
        .await;
    assert_eq!(reply.status, 202, "{}", reply.text());
    let id = reply.json()["run_id"].as_str().unwrap().to_owned();
    let result = client
        .get(&format!("/v1/tasks/runs/{id}/result"))
        .await
        .json();
    let output = &result["output"];
    let executives = output["content"]["key_executives"]
        .as_array()
        .unwrap()
        .len();
    assert!(executives >= 2);
    let fields: Vec<&str> = output["basis"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["field"].as_str().unwrap())
        .collect();
    let mut expected = vec!["ceo_name".to_owned(), "key_executives".to_owned()];
    expected.extend((0..executives).map(|i| format!("key_executives.{i}")));
    assert_eq!(fields, expected);
    let calls = output["mcp_tool_calls"].as_array().expect("tool calls");
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["server_name"], "crm");
    // Without MCP servers there are none.
    let plain = client
        .post(
            "/v1/tasks/runs",
            json!({"input": "Acme Corp", "processor": "lite"}),
        )
        .await
        .json();
    let id = plain["run_id"].as_str().unwrap();
    let result = client
        .get(&format!("/v1/tasks/runs/{id}/result"))
        .await
        .json();
    assert!(result["output"]["mcp_tool_calls"].is_null());
    // The output still decodes with the wire types.
    let _: parallel_types::TaskRunResult = serde_json::from_value(result).expect("TaskRunResult");
    emulator.shutdown().await;
}
