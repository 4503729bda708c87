//! Integration tests: the emulator over real loopback TCP.
#![allow(missing_docs, unreachable_pub)]

mod access;
mod betas;
mod binary;
mod control;
mod durations;
mod faults;
mod groups;
mod hardening;
mod http;
mod ids;
mod lenient;
mod outages;
mod outputs;
mod quotas;
mod real_time;
mod runs;
mod stream_closes;
mod streams;
mod validate;
mod webhooks;

use parallel_emulator::{Emulator, EmulatorBuilder, EmulatorHandle};
use serde_json::{Value, json};

use crate::http::Client;

/// Starts an emulator and a client for it.
pub async fn start(builder: EmulatorBuilder) -> (EmulatorHandle, Client) {
    let emulator = builder.start().await.expect("the emulator starts");
    let client = Client::new(&emulator.base_url());
    (emulator, client)
}

/// An emulator whose runs finish at once.
pub async fn instant() -> (EmulatorHandle, Client) {
    start(Emulator::builder().time_scale(0.0).seed(7)).await
}

pub async fn create_group(client: &Client) -> String {
    let reply = client.post("/v1/tasks/groups", json!({})).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply.json()["taskgroup_id"].as_str().unwrap().to_owned()
}

/// `n` company inputs numbered from `from`.
pub fn inputs(from: usize, n: usize, processor: &str) -> Vec<Value> {
    (from..from + n)
        .map(|i| {
            json!({
                "input": {"company_name": format!("Company {i}"), "company_website": format!("https://company{i}.example")},
                "processor": processor,
                "metadata": {"row": i}
            })
        })
        .collect()
}

pub fn company_spec() -> Value {
    json!({"output_schema": {"type": "json", "json_schema": {
        "type": "object",
        "properties": {
            "ceo_name": {"type": "string", "description": "Full name of the current CEO"},
            "founded_year": {"type": "integer", "minimum": 1800, "maximum": 2025}
        },
        "required": ["ceo_name", "founded_year"],
        "additionalProperties": false
    }}})
}

pub async fn add_runs(client: &Client, group: &str, inputs: Vec<Value>) -> Value {
    let reply = client
        .post(
            &format!("/v1/tasks/groups/{group}/runs"),
            json!({"inputs": inputs, "default_task_spec": company_spec()}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let typed: parallel_types::AddRunsResponse =
        serde_json::from_slice(&reply.body).expect("AddRunsResponse");
    assert_eq!(
        typed.run_ids.len(),
        reply.json()["run_ids"].as_array().unwrap().len()
    );
    reply.json()
}
