//! Every sample payload decodes, re-encodes to the same JSON and decodes again to the same
//! value. The samples are copies of the API reference's samples (see `samples/README.md`).

use std::fmt::Debug;
use std::path::{Path, PathBuf};

use parallel_types::{
    AddRunsRequest, AddRunsResponse, ApiErrorBody, ErrorEvent, ErrorResponse, GroupEvent,
    GroupRunEvent, OutputSchema, Processor, RunEvent, RunOutput, RunStatus, TaskGroup,
    TaskRunEvent,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

fn samples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/samples")
}

fn read(name: &str) -> String {
    std::fs::read_to_string(samples_dir().join(name))
        .unwrap_or_else(|e| panic!("read sample {name}: {e}"))
}

/// Decodes `text` as `T`, checks that it re-encodes to JSON equal to the original and that
/// the re-encoded JSON decodes to an equal value. Returns the decoded value.
fn round_trip<T>(name: &str, text: &str) -> T
where
    T: DeserializeOwned + Serialize + PartialEq + Debug,
{
    let original: Value =
        serde_json::from_str(text).unwrap_or_else(|e| panic!("{name}: not JSON: {e}"));
    let decoded: T = serde_json::from_str(text).unwrap_or_else(|e| {
        panic!(
            "{name}: does not decode as {}: {e}",
            std::any::type_name::<T>()
        )
    });
    let encoded = serde_json::to_string(&decoded).expect("serialize");
    let reencoded: Value = serde_json::from_str(&encoded).expect("re-encoded JSON parses");
    assert_eq!(
        reencoded,
        original,
        "{name}: re-encoding as {} changed the JSON",
        std::any::type_name::<T>()
    );
    let again: T = serde_json::from_str(&encoded).expect("re-encoded JSON decodes");
    assert_eq!(again, decoded, "{name}: second decode differs");
    decoded
}

fn check_file(name: &str) {
    let text = read(name);
    match name {
        "task_group_response.json" => {
            let group: TaskGroup = round_trip(name, &text);
            assert_eq!(group.taskgroup_id, "tgrp_4c1f0a7e2b9d4e58a3f6c0d1e2b7a9c4");
            assert_eq!(group.status.count(&RunStatus::Queued), 1);
            assert_eq!(group.status.status_message, None);
            let metadata = group.metadata.expect("metadata");
            assert_eq!(metadata["attempt"].as_i64(), Some(1));
            assert_eq!(metadata["batch"].as_str(), Some("crm-enrichment-q1"));
        }
        "add_runs_request.json" => {
            let request: AddRunsRequest = round_trip(name, &text);
            assert_eq!(request.inputs.len(), 3);
            assert_eq!(request.inputs[0].processor, Processor::CoreFast);
            assert_eq!(request.inputs[2].processor, Processor::Base);
            assert!(request.inputs[2].input.is_string());
            let spec = request.inputs[2].task_spec.as_ref().expect("task_spec");
            assert!(
                matches!(&spec.output_schema, OutputSchema::Bare(text) if text.starts_with("Name of the CEO"))
            );
            let default_spec = request.default_task_spec.expect("default_task_spec");
            assert!(matches!(default_spec.output_schema, OutputSchema::Json(_)));
            let policy = request.inputs[1]
                .source_policy
                .as_ref()
                .expect("source_policy");
            assert_eq!(policy.after_date.as_deref(), Some("2024-01-01"));
            assert_eq!(policy.include_domains, None);
        }
        "add_runs_response.json" => {
            let response: AddRunsResponse = round_trip(name, &text);
            assert_eq!(response.run_ids.len(), 3);
            assert_eq!(response.run_cursor, None);
            assert_eq!(response.status.num_task_runs, 3);
        }
        "error_response_408.json" => {
            let response: ErrorResponse = round_trip(name, &text);
            assert_eq!(
                response.error.message,
                "Request timed out; run still active"
            );
            let body: ApiErrorBody = round_trip(name, &text);
            assert_eq!(body.message(), "Request timed out; run still active");
        }
        "event_error.json" => {
            let event: ErrorEvent = round_trip(name, &text);
            assert!(event.error.message.contains("reconnect"));
            assert!(matches!(
                round_trip::<GroupEvent>(name, &text),
                GroupEvent::Error(_)
            ));
            assert!(matches!(
                round_trip::<GroupRunEvent>(name, &text),
                GroupRunEvent::Error(_)
            ));
            assert!(matches!(
                round_trip::<RunEvent>(name, &text),
                RunEvent::Error(_)
            ));
        }
        "event_task_group_status.json" => {
            let GroupEvent::TaskGroupStatus(event) = round_trip::<GroupEvent>(name, &text) else {
                panic!("{name}: not a task_group_status event");
            };
            assert_eq!(event.event_id, "18");
            assert!(!event.status.is_active);
            assert_eq!(event.status.finished(), 3);
        }
        "event_task_run_state_completed.json" => {
            let event: TaskRunEvent = round_trip(name, &text);
            assert_eq!(event.event_id.as_deref(), Some("17"));
            assert_eq!(event.run.status, RunStatus::Completed);
            let input = event.input.as_ref().expect("input");
            assert_eq!(input.input["company_name"], "Acme Corp");
            let Some(RunOutput::Json(output)) = &event.output else {
                panic!("{name}: no JSON output")
            };
            assert_eq!(output.content["founded_year"], "1998");
            assert_eq!(output.basis.len(), 2);
            assert_eq!(output.basis[1].citation_list()[1].title, None);
            assert!(
                matches!(round_trip::<GroupRunEvent>(name, &text), GroupRunEvent::TaskRunState(e) if e == event)
            );
            assert!(
                matches!(round_trip::<GroupEvent>(name, &text), GroupEvent::TaskRunState(e) if e == event)
            );
            assert!(
                matches!(round_trip::<RunEvent>(name, &text), RunEvent::TaskRunState(e) if e == event)
            );
        }
        other => panic!("sample {other} has no test; add one"),
    }
}

#[test]
fn every_json_sample_round_trips() {
    let mut names: Vec<String> = std::fs::read_dir(samples_dir())
        .expect("samples dir")
        .map(|entry| {
            entry
                .expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|name| Path::new(name).extension().is_some_and(|ext| ext == "json"))
        .collect();
    names.sort();
    assert_eq!(
        names.len(),
        7,
        "expected the 7 JSON samples, found {names:?}"
    );
    for name in &names {
        check_file(name);
    }
}

#[test]
fn wire_sample_data_lines_decode_as_group_events() {
    let text = read("sse_group_events_wire.txt");
    let events: Vec<GroupEvent> = text
        .lines()
        .filter_map(|line| line.strip_prefix("data:"))
        .map(|data| {
            serde_json::from_str(data.trim_start()).expect("data line decodes as GroupEvent")
        })
        .collect();
    let types: Vec<&str> = events.iter().map(GroupEvent::event_type).collect();
    assert_eq!(types, ["task_group_status", "task_run.state"]);
    assert_eq!(events[0].event_id(), Some("16"));
    assert_eq!(events[1].event_id(), Some("17"));
    let GroupEvent::TaskRunState(run_event) = &events[1] else {
        unreachable!()
    };
    assert_eq!(run_event.input, None);
    assert_eq!(run_event.output, None);
    // Each frame's `event:` name matches the JSON type.
    let names: Vec<&str> = text
        .lines()
        .filter_map(|line| line.strip_prefix("event: "))
        .collect();
    assert_eq!(names, types);
}
