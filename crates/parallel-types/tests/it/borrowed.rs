//! The borrowed event views: zero-copy where possible, same meaning as the owned types.

use std::borrow::Cow;

use parallel_types::{
    EventHead, GroupEvent, Processor, RunOutput, RunStatus, TaskRunEvent, TaskRunEventAs,
    TaskRunEventRef,
};
use serde::Deserialize;

fn sample(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/it/samples")
        .join(name);
    std::fs::read(path).expect("read sample")
}

#[derive(Debug, Deserialize, PartialEq)]
struct Company<'a> {
    company_name: &'a str,
    company_website: &'a str,
}

#[derive(Debug, Deserialize, PartialEq)]
struct Facts {
    founded_year: String,
    ceo_name: String,
}

#[test]
fn completed_sample_borrows_ids_and_decodes_user_types() {
    let bytes = sample("event_task_run_state_completed.json");
    let event = TaskRunEventRef::from_slice(&bytes).expect("decode");
    assert!(matches!(
        event.run.run_id,
        Cow::Borrowed("trun_0b6f2d1c9e8a4f37b2c5d4e3f1a0b9c8")
    ));
    assert!(matches!(event.event_id, Some(Cow::Borrowed("17"))));
    assert!(matches!(event.run.taskgroup_id, Some(Cow::Borrowed(_))));
    assert_eq!(event.run.status, RunStatus::Completed);
    assert_eq!(event.run.processor, Processor::CoreFast);

    let company: Company<'_> = event
        .input_as()
        .expect("input decodes")
        .expect("input present");
    assert_eq!(
        company,
        Company {
            company_name: "Acme Corp",
            company_website: "https://acme.example"
        }
    );
    let facts: Facts = event
        .output_as()
        .expect("output decodes")
        .expect("output present");
    assert_eq!(facts.ceo_name, "Jane Q. Example");
    assert_eq!(facts.founded_year, "1998");

    let output = event.output.as_ref().expect("output");
    assert_eq!(output.output_type, "json");
    assert_eq!(output.basis().expect("basis").len(), 2);
    let metadata = event.run.metadata().expect("metadata").expect("present");
    assert_eq!(metadata["row"].as_i64(), Some(0));
}

#[test]
fn into_owned_equals_owned_decode_on_samples() {
    let bytes = sample("event_task_run_state_completed.json");
    let owned: TaskRunEvent = serde_json::from_slice(&bytes).expect("owned decode");
    let via_ref = TaskRunEventRef::from_slice(&bytes)
        .expect("borrowed decode")
        .into_owned()
        .expect("into_owned");
    assert_eq!(via_ref, owned);

    let wire = String::from_utf8(sample("sse_group_events_wire.txt")).expect("utf-8");
    for data in wire.lines().filter_map(|line| line.strip_prefix("data: ")) {
        let owned: GroupEvent = serde_json::from_str(data).expect("owned");
        let head = EventHead::from_slice(data.as_bytes()).expect("head");
        assert_eq!(head.event_type.as_deref(), Some(owned.event_type()));
        assert_eq!(head.event_id.as_deref(), owned.event_id());
    }
}

#[test]
fn escaped_strings_are_copied_and_unescaped() {
    let json = br#"{"type":"task_run.state","event_id":"a\"b","run":{"run_id":"trun_\u0041","status":"running",
        "is_active":true,"processor":"lite"},"input":null,"output":null}"#;
    let event = TaskRunEventRef::from_slice(json).expect("decode");
    assert!(matches!(&event.event_id, Some(Cow::Owned(id)) if id == "a\"b"));
    assert!(matches!(&event.run.run_id, Cow::Owned(id) if id == "trun_A"));
    assert_eq!(event.run.interaction_id, "");
    assert!(event.input.is_none() && event.output.is_none());
    assert_eq!(
        event
            .input_as::<serde_json::Value>()
            .expect("no input is fine"),
        None
    );
}

#[test]
fn text_output_content_decodes_as_str() {
    let json =
        br#"{"type":"task_run.state","event_id":null,"run":{"run_id":"r","interaction_id":"r",
        "status":"completed","is_active":false,"processor":"base"},
        "output":{"type":"text","content":"plain answer","basis":[]}}"#;
    let event = TaskRunEventRef::from_slice(json).expect("decode");
    assert_eq!(
        event.output_as::<&str>().expect("text").expect("present"),
        "plain answer"
    );
    let owned = event.into_owned().expect("into_owned");
    assert!(matches!(owned.output, Some(RunOutput::Text(text)) if text.content == "plain answer"));
}

#[test]
fn text_output_with_non_string_content_fails_into_owned() {
    let json = br#"{"run":{"run_id":"r","status":"completed","is_active":false,"processor":"base"},
        "output":{"type":"text","content":{"not":"text"}}}"#;
    let event =
        TaskRunEventRef::from_slice(json).expect("the view itself does not look inside content");
    let error = event
        .into_owned()
        .expect_err("text content must be a string");
    assert!(error.is_decode());
}

#[test]
fn event_heads_are_read_wherever_the_type_is() {
    let type_last = br#"{"event_id":"5","status":{"num_task_runs":0,"task_run_status_counts":{},"is_active":false},
        "type":"task_group_status"}"#;
    let head = EventHead::from_slice(type_last).expect("head");
    assert_eq!(head.event_type.as_deref(), Some("task_group_status"));
    assert_eq!(head.event_id.as_deref(), Some("5"));

    // Escaped strings are unescaped (and copied); a later `type` of a nested object is not
    // the event's.
    let escaped = br#"{"x":[{"type":"inner"}],"type":"a\u0062","event_id":"c\"d"}"#;
    let head = EventHead::from_slice(escaped).expect("head");
    assert_eq!(head.event_type.as_deref(), Some("ab"));
    assert_eq!(head.event_id.as_deref(), Some("c\"d"));

    let front = br#"{"type":"task_group.paused","event_id":"9","reason":"maintenance"}"#;
    let head = EventHead::from_slice(front).expect("head");
    assert_eq!(
        (head.event_type.as_deref(), head.event_id.as_deref()),
        (Some("task_group.paused"), Some("9"))
    );

    let no_type = EventHead::from_slice(br#"{"event_id":"9"}"#).expect("head");
    assert_eq!(no_type.event_type, None);
    let number_type = EventHead::from_slice(br#"{"type":5}"#).expect("head");
    assert_eq!(number_type.event_type, None);
    assert!(EventHead::from_slice(b"[1,2]").is_err());
    assert!(EventHead::from_slice(br#"{"type":"error""#).is_err());
    assert!(EventHead::from_slice(br#"{"type":"x","event_id":5}"#).is_err());
}

#[test]
fn typed_view_decodes_input_and_output_in_one_pass_borrowing_plain_strings() {
    let bytes = sample("event_task_run_state_completed.json");
    let event: TaskRunEventAs<'_, Company<'_>, Facts> =
        TaskRunEventAs::from_slice(&bytes).expect("decode");
    let owned: TaskRunEvent = serde_json::from_slice(&bytes).expect("owned");
    assert!(matches!(event.event_id, Some(Cow::Borrowed("17"))));
    assert!(matches!(event.run.run_id, Cow::Borrowed(id) if id == owned.run.run_id));
    let input = event.input.expect("the sample carries its input");
    let expected = &owned.input.expect("input").input;
    assert_eq!(input.company_name, expected["company_name"]);
    assert_eq!(input.company_website, expected["company_website"]);
    let output = event.output.expect("the sample carries its output");
    let Some(RunOutput::Json(json)) = owned.output else {
        panic!("the sample's output is JSON");
    };
    assert_eq!(output.output_type, "json");
    assert_eq!(output.content.ceo_name, json.content["ceo_name"]);
    assert_eq!(output.content.founded_year, json.content["founded_year"]);
    assert_eq!(output.basis().expect("basis"), json.basis);
}

#[test]
fn typed_view_reads_absent_or_null_input_and_output_as_none_and_text_as_a_string() {
    let run = r#"{"run_id":"r","status":"completed","is_active":false,"processor":"base"}"#;
    let absent = format!(r#"{{"run":{run}}}"#);
    let event: TaskRunEventAs<'_, Company<'_>, Facts> =
        TaskRunEventAs::from_slice(absent.as_bytes()).expect("absent parts");
    assert!(event.input.is_none() && event.output.is_none() && event.event_id.is_none());

    let null = format!(r#"{{"run":{run},"input":null,"output":null,"event_id":null}}"#);
    let event: TaskRunEventAs<'_, Company<'_>, Facts> =
        TaskRunEventAs::from_slice(null.as_bytes()).expect("null parts");
    assert!(event.input.is_none() && event.output.is_none());

    let text = format!(
        r#"{{"run":{run},"input":{{"processor":"base","input":"a question"}},
        "output":{{"type":"text","content":"an answer","basis":null}}}}"#
    );
    let event: TaskRunEventAs<'_, &str, &str> =
        TaskRunEventAs::from_slice(text.as_bytes()).expect("text");
    assert_eq!(event.input, Some("a question"));
    let output = event.output.expect("output");
    assert_eq!(
        (&*output.output_type, output.content),
        ("text", "an answer")
    );
    assert!(output.basis().expect("null basis").is_empty());
}

#[test]
fn typed_view_says_when_the_types_do_not_match() {
    // The sample's output has no `headquarters`; the error names the mismatch.
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Elsewhere {
        headquarters: String,
    }
    let bytes = sample("event_task_run_state_completed.json");
    let error = TaskRunEventAs::<'_, Company<'_>, Elsewhere>::from_slice(&bytes)
        .expect_err("no headquarters in the output");
    assert!(error.is_decode());
    let message = error.to_string();
    assert!(
        message.contains("requested input and output types"),
        "{message}"
    );
    // What did not match is the cause, not repeated in the message.
    let cause = std::error::Error::source(&error)
        .expect("cause")
        .to_string();
    assert!(cause.contains("headquarters"), "{cause}");
    assert!(!message.contains(&cause), "{message}");
    // An input without its `input` member is malformed, not a missing input.
    let json = br#"{"run":{"run_id":"r","status":"queued","is_active":true,"processor":"base"},
        "input":{"processor":"base"}}"#;
    let error = TaskRunEventAs::<'_, serde_json::Value, Facts>::from_slice(json)
        .expect_err("the run input lacks `input`");
    let cause = std::error::Error::source(&error)
        .expect("cause")
        .to_string();
    assert!(cause.contains("missing field `input`"), "{cause}");
}
