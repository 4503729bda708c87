//! Shared set-up: an emulator, a client pointed at it, a task spec and inputs.

use std::time::Duration;

use parallel_client::{Client, ReconnectPolicy, RetryPolicy};
use parallel_emulator::{Emulator, EmulatorHandle, Faults};
use parallel_types::{CreateTaskGroupRequest, RunInput, TaskSpec};
use serde::{Deserialize, Serialize};

pub(crate) const KEY: &str = "test-key";

/// What the tests ask each run for.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct Insight {
    pub(crate) founded_year: String,
    pub(crate) ceo_name: String,
}

/// What each run gets.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct Company {
    pub(crate) company_name: String,
    pub(crate) row: u64,
}

pub(crate) async fn emulator(faults: Faults) -> EmulatorHandle {
    emulator_with(faults, 0.0).await
}

pub(crate) async fn emulator_with(faults: Faults, fail_rate: f64) -> EmulatorHandle {
    Emulator::builder()
        .api_key(KEY)
        .time_scale(0.0)
        .seed(7)
        .fail_rate(fail_rate)
        .faults(faults)
        .start()
        .await
        .expect("the emulator starts")
}

/// An emulator whose runs take their processor's latency times `time_scale` (at 1.0 a `lite`
/// run takes 10 s or more).
pub(crate) async fn emulator_scaled(time_scale: f64) -> EmulatorHandle {
    Emulator::builder()
        .api_key(KEY)
        .time_scale(time_scale)
        .seed(7)
        .start()
        .await
        .expect("the emulator starts")
}

/// Retries quick enough for tests; as many as a fault-heavy test needs.
pub(crate) fn fast_retries(max: u32) -> RetryPolicy {
    RetryPolicy::default()
        .max_retries(max)
        .initial_backoff(Duration::from_millis(5))
        .max_backoff(Duration::from_millis(20))
}

pub(crate) fn client(emu: &EmulatorHandle) -> Client {
    client_with(emu, fast_retries(2))
}

/// Stream reconnects quick enough for tests: as many as the default, waits of milliseconds.
pub(crate) fn fast_reconnects() -> ReconnectPolicy {
    ReconnectPolicy::default()
        .initial_backoff(Duration::from_millis(5))
        .max_backoff(Duration::from_millis(20))
}

pub(crate) fn client_with(emu: &EmulatorHandle, retry: RetryPolicy) -> Client {
    Client::builder()
        .api_key(KEY)
        .base_url(emu.base_url())
        .retry_policy(retry)
        .stream_reconnect(fast_reconnects())
        .stream_idle_timeout(Duration::from_secs(10))
        .build()
        .expect("the client builds")
}

/// A new, empty group; its id.
pub(crate) async fn new_group(client: &Client) -> String {
    client
        .create_group(CreateTaskGroupRequest::default())
        .await
        .expect("the group is created")
        .taskgroup_id
}

pub(crate) fn spec() -> TaskSpec {
    TaskSpec::json(serde_json::json!({
        "type": "object",
        "properties": {
            "founded_year": {"type": "string", "description": "Year founded, YYYY"},
            "ceo_name": {"type": "string", "description": "Full name of the CEO"}
        },
        "required": ["founded_year", "ceo_name"],
        "additionalProperties": false
    }))
}

pub(crate) fn company(row: u64) -> serde_json::Value {
    serde_json::to_value(Company {
        company_name: format!("Company {row}"),
        row,
    })
    .unwrap()
}

pub(crate) fn inputs(n: u64) -> Vec<RunInput> {
    (0..n)
        .map(|row| RunInput::new(company(row), "lite-fast"))
        .collect()
}
