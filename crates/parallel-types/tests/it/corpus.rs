//! The lenient-decoding corpus (`tests/corpus/`, see its README): one payload per shape the
//! wire may take that the official SDKs accept. Each payload decodes with the owned type and
//! with the borrowed view (where there is one; a run input or task spec is read through the
//! `task_run.state` event that carries it), the owned value re-encodes without losing a
//! field, and the shape the file is about is checked on the decoded value.

use std::fmt::Debug;
use std::path::{Path, PathBuf};

use parallel_types::{
    GroupEvent, GroupRunEvent, MetadataValue, OutputSchema, ProgressMessageKind, RunEvent,
    RunInput, RunOutput, RunOutputRef, TaskGroup, TaskRun, TaskRunEvent, TaskRunEventAs,
    TaskRunEventRef, TaskRunRef, TaskRunResult, TaskSpec,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

/// Asserts that `encoded` keeps every member of `original`, recursively. The spec makes a
/// nullable field's `null` and its absence the same (§3), so a `null` member may be left out
/// on either side, and only there; every other value must come back equal, in kind too (a
/// `null` that comes back as `[]` is a change).
fn assert_nothing_lost(at: &str, original: &Value, encoded: &Value) {
    match (original, encoded) {
        (Value::Object(original), Value::Object(encoded)) => {
            for (key, value) in original {
                let path = format!("{at}.{key}");
                match encoded.get(key) {
                    Some(again) => assert_nothing_lost(&path, value, again),
                    None => assert!(value.is_null(), "{path}: lost (was {value})"),
                }
            }
            for (key, value) in encoded {
                assert!(
                    original.contains_key(key) || value.is_null(),
                    "{at}.{key}: added {value}"
                );
            }
        }
        (Value::Array(original), Value::Array(encoded)) => {
            assert_eq!(original.len(), encoded.len(), "{at}: length changed");
            for (index, (value, again)) in original.iter().zip(encoded).enumerate() {
                assert_nothing_lost(&format!("{at}[{index}]"), value, again);
            }
        }
        _ => assert_eq!(original, encoded, "{at}: value changed"),
    }
}

/// Decodes `text` as `T`, re-encodes it without losing a field, and decodes the re-encoded
/// JSON to an equal value.
fn owned<T>(name: &str, text: &str) -> T
where
    T: DeserializeOwned + Serialize + PartialEq + Debug,
{
    let type_name = std::any::type_name::<T>();
    let original: Value = serde_json::from_str(text).expect("corpus file is JSON");
    let decoded: T = serde_json::from_str(text)
        .unwrap_or_else(|e| panic!("{name}: does not decode as {type_name}: {e}"));
    let encoded = serde_json::to_value(&decoded).expect("serialize");
    assert_nothing_lost(name, &original, &encoded);
    let again: T = serde_json::from_value(encoded).expect("re-encoded JSON decodes");
    assert_eq!(again, decoded, "{name}: second decode differs");
    decoded
}

/// A `task_run.state` event of the runs stream carrying `run_input` raw, as the server
/// sends an echoed input.
fn event_with_input(run_input: &str) -> String {
    let run = r#"{"run_id":"trun_1","status":"queued","is_active":true,"processor":"base"}"#;
    format!(r#"{{"type":"task_run.state","event_id":"1","input":{run_input},"run":{run}}}"#)
}

/// Reads a run input through the borrowed event view and its single-pass typed form.
fn borrowed_run_input(name: &str, text: &str) -> RunInput {
    let event = event_with_input(text);
    let view = TaskRunEventRef::from_slice(event.as_bytes())
        .unwrap_or_else(|e| panic!("{name}: borrowed view: {e}"));
    let original: Value = serde_json::from_str(text).expect("corpus file is JSON");
    let input: Option<Value> = view.input_as().expect("input as JSON");
    assert_eq!(input.as_ref(), original.get("input"), "{name}: input_as");
    let typed: TaskRunEventAs<'_, Value, Value> =
        TaskRunEventAs::from_slice(event.as_bytes()).expect("single-pass view");
    assert_eq!(
        typed.input.as_ref(),
        original.get("input"),
        "{name}: typed input"
    );
    view.run_input()
        .unwrap_or_else(|e| panic!("{name}: borrowed run_input: {e}"))
        .expect("the event carries the input")
}

/// Decodes a `task_run.state` event with every borrowed view and checks each agrees with
/// the owned event.
fn borrowed_event(name: &str, text: &str, owned: &TaskRunEvent) {
    let bytes = text.as_bytes();
    let view = TaskRunEventRef::from_slice(bytes)
        .unwrap_or_else(|e| panic!("{name}: TaskRunEventRef: {e}"));
    assert_eq!(view.run.metadata().expect("metadata"), owned.run.metadata);
    if let Some(output) = &view.output {
        let basis = output.basis().expect("basis");
        assert_eq!(
            Some(basis.as_slice()),
            owned.output.as_ref().map(RunOutput::basis)
        );
    }
    assert_eq!(&view.into_owned().expect("into_owned"), owned, "{name}");
    let typed: TaskRunEventAs<'_, Value, Value> =
        TaskRunEventAs::from_slice(bytes).unwrap_or_else(|e| panic!("{name}: TaskRunEventAs: {e}"));
    assert_eq!(typed.run.run_id, owned.run.run_id);
}

/// A run result read through the borrowed run and output views.
#[derive(Deserialize)]
struct ResultRef<'a> {
    #[serde(borrow)]
    run: TaskRunRef<'a>,
    #[serde(borrow)]
    output: RunOutputRef<'a>,
}

fn metadata_of_any_json(name: &str, metadata: Option<&parallel_types::Metadata>) {
    let metadata = metadata.unwrap_or_else(|| panic!("{name}: metadata"));
    assert_eq!(metadata["row"], MetadataValue::Integer(7));
    assert_eq!(metadata["score"], MetadataValue::Number(0.75));
    assert_eq!(metadata["priority"], MetadataValue::Bool(true));
    assert_eq!(metadata["note"], MetadataValue::Other(Value::Null));
    assert_eq!(
        metadata["tags"],
        MetadataValue::Other(json!(["b2b", "emea"]))
    );
    assert_eq!(
        metadata["owner"],
        MetadataValue::Other(json!({"team": "growth", "ids": [3, 5]}))
    );
}

fn check_task_run(name: &str, text: &str) {
    let run: TaskRun = owned(name, text);
    let view: TaskRunRef<'_> = serde_json::from_str(text).expect("borrowed run");
    assert_eq!(view.into_owned().expect("into_owned"), run);
    match name {
        "task_run.metadata_any_json.json" => metadata_of_any_json(name, run.metadata.as_ref()),
        other => panic!("corpus file {other} has no check; add one"),
    }
}

fn check_result(name: &str, text: &str) {
    let result: TaskRunResult = owned(name, text);
    let view: ResultRef<'_> = serde_json::from_str(text).expect("borrowed result");
    assert_eq!(view.output.basis().expect("basis"), result.output.basis());
    assert_eq!(view.run.into_owned().expect("run"), result.run);
    assert_eq!(view.output.into_owned().expect("output"), result.output);
    let basis = result.output.basis();
    match name {
        "task_run_result.citation_without_url.json" => {
            let citations = basis[0].citation_list();
            assert_eq!(
                citations[0].url.as_deref(),
                Some("https://acme.example/about")
            );
            assert_eq!(citations[1].url, None);
            assert!(citations[1].title.is_some());
            assert_eq!(basis[1].citation_list()[0].url, None);
        }
        "task_run_result.citations_null.json" => {
            assert_eq!(basis[0].citations, None);
            assert_eq!(basis[1].citations, Some(Vec::new()));
        }
        "task_run_result.text_output_citations_null.json" => {
            assert!(matches!(result.output, RunOutput::Text(_)));
            assert_eq!(basis[0].citations, None);
        }
        other => panic!("corpus file {other} has no check; add one"),
    }
}

fn check_task_spec(name: &str, text: &str) {
    let spec: TaskSpec = owned(name, text);
    let carried = borrowed_run_input(
        name,
        &format!(r#"{{"input":"x","processor":"base","task_spec":{text}}}"#),
    );
    assert_eq!(carried.task_spec.as_ref(), Some(&spec));
    let original: Value = serde_json::from_str(text).expect("JSON");
    match name {
        "task_spec.output_schema_null.json" => {
            assert_eq!(spec.output_schema, OutputSchema::Other(Value::Null));
            assert_eq!(spec.input_schema, None);
        }
        "task_spec.json_without_json_schema.json" | "task_spec.description_not_a_string.json" => {
            assert_eq!(
                spec.output_schema,
                OutputSchema::Other(original["output_schema"].clone())
            );
            let input_schema = spec.input_schema.expect("input schema");
            assert_eq!(
                serde_json::to_value(input_schema).expect("encode"),
                original["input_schema"]
            );
        }
        other => panic!("corpus file {other} has no check; add one"),
    }
}

fn check_run_input(name: &str, text: &str) {
    let input: RunInput = owned(name, text);
    assert_eq!(
        borrowed_run_input(name, text),
        input,
        "{name}: borrowed view"
    );
    match name {
        "run_input.mcp_header_null.json" => {
            let headers = input.mcp_servers.as_ref().expect("servers")[0]
                .headers
                .clone()
                .expect("headers");
            assert_eq!(headers["Authorization"], None);
            assert_eq!(headers["X-Tenant"].as_deref(), Some("acme"));
        }
        "run_input.advanced_settings_data_sources.json" => {
            let settings = input.advanced_settings.expect("advanced settings");
            let sources = settings.data_sources.expect("data sources");
            assert_eq!(sources.free, Some(vec!["sec_filings".to_owned()]));
            assert_eq!(sources.pay_per_use.expect("pay per use").len(), 2);
        }
        "run_input.webhook_empty_event_types.json" => {
            let webhook = input.webhook.as_ref().expect("webhook");
            assert!(webhook.event_types.is_empty());
            let encoded = serde_json::to_value(&input).expect("encode");
            assert_eq!(encoded["webhook"]["event_types"], json!([]));
        }
        "run_input.metadata_any_json.json" => metadata_of_any_json(name, input.metadata.as_ref()),
        "run_input.task_spec_output_schema_null.json" => {
            let spec = input.task_spec.expect("task spec");
            assert_eq!(spec.output_schema, OutputSchema::Other(Value::Null));
        }
        other => panic!("corpus file {other} has no check; add one"),
    }
}

fn check_event(name: &str, text: &str) {
    let event: TaskRunEvent = owned(name, text);
    assert!(
        matches!(owned::<GroupRunEvent>(name, text), GroupRunEvent::TaskRunState(e) if e == event)
    );
    assert!(matches!(owned::<GroupEvent>(name, text), GroupEvent::TaskRunState(e) if e == event));
    borrowed_event(name, text, &event);
    match name {
        "group_runs_event.lenient_input_and_output.json" => {
            let input = event.input.as_ref().expect("input");
            metadata_of_any_json(name, input.metadata.as_ref());
            metadata_of_any_json(name, event.run.metadata.as_ref());
            let spec = input.task_spec.as_ref().expect("task spec");
            assert!(matches!(spec.output_schema, OutputSchema::Other(_)));
            let server = &input.mcp_servers.as_ref().expect("servers")[0];
            assert_eq!(
                server.headers.as_ref().expect("headers")["Authorization"],
                None
            );
            let settings = input.advanced_settings.as_ref().expect("settings");
            assert!(settings.data_sources.is_some());
            assert!(
                input
                    .webhook
                    .as_ref()
                    .expect("webhook")
                    .event_types
                    .is_empty()
            );
            let basis = event.output.as_ref().expect("output").basis();
            assert_eq!(basis[0].citation_list()[1].url, None);
            assert_eq!(basis[2].citations, None);
        }
        "group_runs_event.task_spec_output_schema_null.json" => {
            let spec = event
                .input
                .and_then(|input| input.task_spec)
                .expect("task spec");
            assert_eq!(spec.output_schema, OutputSchema::Other(Value::Null));
            assert_eq!(event.output.expect("output").basis()[0].citations, None);
        }
        "group_event.task_run_state_metadata_any_json.json" => {
            metadata_of_any_json(name, event.run.metadata.as_ref());
            assert!(event.run.error.is_some());
        }
        other => panic!("corpus file {other} has no check; add one"),
    }
}

fn check_run_event(name: &str, text: &str) {
    let RunEvent::ProgressMessage(event) = owned::<RunEvent>(name, text) else {
        panic!("{name}: not a progress message");
    };
    match name {
        "run_event.progress_msg_extract.json" => {
            assert_eq!(event.kind, ProgressMessageKind::Extract);
            assert_eq!(event.event_type(), "task_run.progress_msg.extract");
        }
        other => panic!("corpus file {other} has no check; add one"),
    }
}

fn check_task_group(name: &str, text: &str) {
    let group: TaskGroup = owned(name, text);
    match name {
        "task_group.metadata_any_json.json" => {
            let metadata = group.metadata.expect("metadata");
            assert_eq!(
                metadata["owners"],
                MetadataValue::Other(json!(["ana", "li"]))
            );
            assert_eq!(metadata["reviewed"], MetadataValue::Other(Value::Null));
        }
        other => panic!("corpus file {other} has no check; add one"),
    }
}

#[test]
fn every_corpus_payload_decodes_and_keeps_every_field() {
    let mut names: Vec<String> = std::fs::read_dir(corpus_dir())
        .expect("corpus dir")
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
    assert!(names.len() >= 17, "the corpus shrank: {names:?}");
    for name in &names {
        let text = std::fs::read_to_string(corpus_dir().join(name)).expect("read corpus file");
        match name.split_once('.').map_or("", |(kind, _)| kind) {
            "task_run" => check_task_run(name, &text),
            "task_run_result" => check_result(name, &text),
            "task_spec" => check_task_spec(name, &text),
            "run_input" => check_run_input(name, &text),
            "group_runs_event" | "group_event" => check_event(name, &text),
            "run_event" => check_run_event(name, &text),
            "task_group" => check_task_group(name, &text),
            other => panic!("{name}: unknown corpus kind {other:?}"),
        }
    }
}

#[test]
fn the_lost_field_check_catches_changes() {
    // The check above is only as good as this: a dropped member, a `null` turned into `[]`,
    // an added value and a changed number each fail it.
    let original = json!({"a": {"citations": null, "n": 1}, "list": [1, 2]});
    for changed in [
        json!({"a": {"citations": null}, "list": [1, 2]}),
        json!({"a": {"citations": [], "n": 1}, "list": [1, 2]}),
        json!({"a": {"citations": null, "n": 1, "extra": 0}, "list": [1, 2]}),
        json!({"a": {"citations": null, "n": 1.5}, "list": [1, 2]}),
        json!({"a": {"citations": null, "n": 1}, "list": [1]}),
    ] {
        let caught = std::panic::catch_unwind(|| assert_nothing_lost("x", &original, &changed));
        assert!(caught.is_err(), "not caught: {changed}");
    }
    // `null` and absence are the same, both ways.
    assert_nothing_lost(
        "x",
        &original,
        &json!({"a": {"n": 1}, "list": [1, 2], "b": null}),
    );
}
