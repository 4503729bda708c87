//! Lenient payloads: every shape the official SDKs accept shows up within a few runs.
//!
//! The frames are read as plain JSON here: telling these shapes apart is the point, and the
//! workspace's typed decoding of them is tested in parallel-types.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::http::split_frames;
use crate::{create_group, start};
use parallel_emulator::Emulator;

/// The lenient shapes one `task_run.state` event (with input and output) shows.
fn shapes(event: &Value) -> Vec<&'static str> {
    let input = &event["input"];
    let output = &event["output"];
    let spec = &input["task_spec"];
    let basis = output["basis"].as_array().cloned().unwrap_or_default();
    let mut found = Vec::new();
    if event["run"]["metadata"]["lenient_nested"].is_object()
        && event["run"]["metadata"]["lenient_null"].is_null()
        && input["metadata"] == event["run"]["metadata"]
    {
        found.push("metadata of any type");
    }
    let servers = input["mcp_servers"].as_array().cloned().unwrap_or_default();
    if servers.iter().any(|s| {
        s["headers"]
            .as_object()
            .is_some_and(|h| !h.is_empty() && h.values().all(Value::is_null))
    }) {
        found.push("mcp header null");
    }
    if basis
        .first()
        .and_then(|b| b["citations"][0].as_object())
        .is_some_and(|c| !c.contains_key("url"))
    {
        found.push("citation without url");
    }
    if spec.get("output_schema") == Some(&Value::Null) {
        found.push("output_schema null");
    }
    if spec["output_schema"] == json!({"type": "json"}) {
        found.push("without json_schema");
    }
    if spec["output_schema"]["type"] == "text" && !spec["output_schema"]["description"].is_string()
    {
        found.push("description not a string");
    }
    if input["advanced_settings"]["data_sources"].is_array() {
        found.push("data_sources");
    }
    if !basis.is_empty() && basis.iter().all(|b| b["citations"].is_null()) {
        found.push("citations null");
    }
    if input["webhook"]["event_types"] == json!([]) {
        found.push("webhook event_types empty");
    }
    found
}

#[tokio::test]
async fn lenient_mode_shows_every_shape_within_a_few_runs() {
    let (emu, client) = start(
        Emulator::builder()
            .time_scale(0.0)
            .seed(11)
            .lenient_payloads(true),
    )
    .await;
    let group = create_group(&client).await;
    let inputs: Vec<Value> = (0..30)
        .map(|i| json!({"input": {"company_name": format!("Co {i}")}, "processor": "pro", "metadata": {"row": i}}))
        .collect();
    let path = format!("/v1/tasks/groups/{group}/runs");
    let added = client.post(&path, json!({"inputs": inputs})).await;
    assert_eq!(added.status, 200, "{}", added.text());

    let streamed = client
        .stream(&format!("{path}?include_input=true&include_output=true"))
        .await;
    let (frames, _, _) = split_frames(&streamed.body);
    assert_eq!(frames.len(), 30);
    let mut seen = BTreeSet::new();
    for frame in &frames {
        let found = shapes(&frame.data);
        assert!(found.len() <= 1, "one variation per run: {found:?}");
        seen.extend(found);
        // The run's own metadata is kept whatever the variation.
        assert!(
            frame.data["run"]["metadata"]["row"].is_number(),
            "{}",
            frame.raw_data
        );
    }

    let mut extract = 0;
    for id in added.json()["run_ids"].as_array().unwrap().iter().take(10) {
        let events = client
            .stream(&format!("/v1/tasks/runs/{}/events", id.as_str().unwrap()))
            .await;
        let (frames, _, _) = split_frames(&events.body);
        extract += frames
            .iter()
            .filter(|f| f.event == "task_run.progress_msg.extract")
            .count();
    }
    assert_eq!(
        extract, 1,
        "one of ten consecutive runs has an extract message"
    );
    assert_eq!(seen.len(), 9, "every shape of the runs stream: {seen:?}");

    // Lenient mode also accepts metadata values of any JSON type, and keeps them.
    let nested = json!({"inputs": [{"input": "x", "processor": "lite", "metadata": {"k": {"a": 1}, "n": null}}]});
    let added = client.post(&path, nested).await;
    assert_eq!(added.status, 200, "{}", added.text());
    let id = added.json()["run_ids"][0].as_str().unwrap().to_owned();
    let run = client.get(&format!("/v1/tasks/runs/{id}")).await.json();
    assert_eq!(run["metadata"]["k"], json!({"a": 1}));
    assert!(run["metadata"].as_object().unwrap().contains_key("n"));
    emu.shutdown().await;
}

#[tokio::test]
async fn strict_mode_shows_none_of_the_lenient_shapes() {
    let (emu, client) = crate::instant().await;
    let group = create_group(&client).await;
    let inputs: Vec<Value> = (0..20)
        .map(|i| json!({"input": format!("Company {i}"), "processor": "pro", "metadata": {"row": i}}))
        .collect();
    let path = format!("/v1/tasks/groups/{group}/runs");
    assert_eq!(
        client.post(&path, json!({"inputs": inputs})).await.status,
        200
    );
    let streamed = client
        .stream(&format!("{path}?include_input=true&include_output=true"))
        .await;
    let (frames, _, _) = split_frames(&streamed.body);
    assert_eq!(frames.len(), 20);
    for frame in &frames {
        assert_eq!(
            shapes(&frame.data),
            Vec::<&str>::new(),
            "{}",
            frame.raw_data
        );
    }
    // Strict mode keeps refusing nested metadata values.
    let nested =
        json!({"inputs": [{"input": "x", "processor": "lite", "metadata": {"k": {"a": 1}}}]});
    assert_eq!(client.post(&path, nested.clone()).await.status, 422);
    emu.shutdown().await;
}
