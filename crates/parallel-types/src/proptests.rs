//! Property tests (inside the crate, where every type can be built field by field):
//! generated values of every type round-trip through JSON, unknown enum
//! values and event types survive, and the borrowed event views agree with the owned types.

use std::fmt::Debug;

use parallel_types::{
    AddRunsRequest, AddRunsResponse, AdvancedSettings, ApiErrorBody, Citation,
    CreateTaskGroupRequest, DataSources, ErrorEvent, ErrorObject, ErrorResponse, EventHead,
    FieldBasis, GroupEvent, GroupRunEvent, InputSchema, JsonOutput, JsonSchema, LocationSegment,
    McpServer, McpToolCall, Metadata, MetadataValue, OutputSchema, Processor, ProgressMessageEvent,
    ProgressMessageKind, ProgressStatsEvent, RunEvent, RunInput, RunOutput, RunResultRef,
    RunStatus, SourcePolicy, SourceStats, TaskGroup, TaskGroupStatus, TaskGroupStatusEvent,
    TaskRun, TaskRunEvent, TaskRunEventAs, TaskRunEventRef, TaskRunResult, TaskSpec, TextOutput,
    TextSchema, ValidationErrorBody, ValidationIssue, Warning, WarningType, Webhook,
};
use proptest::collection::{btree_map, vec};
use proptest::option::of;
use proptest::prelude::*;
use proptest::sample::select;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

// ---------------------------------------------------------------------------------------
// Strategies
//
// The composite strategies are boxed (`x()` wraps `x_unboxed()`): unboxed, their nested
// value trees are large enough to overflow the test thread's stack in debug builds.

/// Text with quotes, backslashes, control characters and non-ASCII, to exercise escaping.
fn text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 _./:\"\\\\\n\u{e9}\u{1F600}-]{0,12}"
}

fn id() -> impl Strategy<Value = String> {
    "[a-z0-9_]{1,16}"
}

/// Floats with at most 15 significant digits: `serde_json`'s default float parsing (without
/// its `float_roundtrip` feature) is exact only up to there.
fn float() -> impl Strategy<Value = f64> {
    (any::<i16>(), 0..10_i32)
        .prop_map(|(mantissa, shift)| f64::from(mantissa) / f64::from(1 << shift))
}

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        float().prop_map(Value::from),
        text().prop_map(Value::from),
    ]
}

fn json_value() -> BoxedStrategy<Value> {
    json_value_unboxed().boxed()
}

fn json_value_unboxed() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Value::Array),
            btree_map(text(), inner, 0..4).prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

fn json_object() -> BoxedStrategy<Value> {
    json_object_unboxed().boxed()
}

fn json_object_unboxed() -> impl Strategy<Value = Value> {
    btree_map(text(), json_value(), 0..4).prop_map(|map| Value::Object(map.into_iter().collect()))
}

/// Any JSON but `null` (for `Option<Value>` fields, where `null` means `None`).
fn non_null_json() -> impl Strategy<Value = Value> {
    json_value().prop_filter("not null", |value| !value.is_null())
}

/// A known value or an unknown string that the parser keeps in `Other`.
fn open_enum<T>(known: &'static [T]) -> impl Strategy<Value = T>
where
    T: Clone + Debug + From<String> + 'static,
{
    prop_oneof![3 => select(known), 1 => "[a-z_.-]{1,20}".prop_map(T::from)]
}

fn run_status() -> impl Strategy<Value = RunStatus> {
    open_enum(RunStatus::KNOWN)
}

fn processor() -> impl Strategy<Value = Processor> {
    open_enum(Processor::KNOWN)
}

fn metadata_value() -> impl Strategy<Value = MetadataValue> {
    prop_oneof![
        text().prop_map(MetadataValue::String),
        any::<i64>().prop_map(MetadataValue::Integer),
        float().prop_map(MetadataValue::Number),
        any::<bool>().prop_map(MetadataValue::Bool),
        // Kinds the API does not document but a response may carry: kept whole.
        prop_oneof![
            Just(Value::Null),
            vec(json_value(), 0..3).prop_map(Value::Array),
            json_object(),
        ]
        .prop_map(MetadataValue::Other),
    ]
}

fn metadata() -> BoxedStrategy<Metadata> {
    metadata_unboxed().boxed()
}

fn metadata_unboxed() -> impl Strategy<Value = Metadata> {
    btree_map(text(), metadata_value(), 0..4)
}

/// An object whose `type` none of the unions know.
fn unknown_object(known: &'static [&'static str]) -> impl Strategy<Value = Value> {
    (
        "[a-z_.]{1,20}",
        btree_map("[a-z_]{1,8}", json_value(), 0..3),
    )
        .prop_filter("type must be unknown", move |(tag, _)| {
            !known.contains(&tag.as_str())
        })
        .prop_map(|(tag, fields)| {
            let mut object: Map<String, Value> = fields
                .into_iter()
                .filter(|(key, _)| key != "type")
                .collect();
            object.insert("type".to_owned(), Value::String(tag));
            Value::Object(object)
        })
}

fn json_schema() -> impl Strategy<Value = JsonSchema> {
    json_value().prop_map(JsonSchema::new)
}

fn text_schema() -> impl Strategy<Value = TextSchema> {
    of(text()).prop_map(|description| TextSchema { description })
}

fn output_schema() -> impl Strategy<Value = OutputSchema> {
    prop_oneof![
        json_schema().prop_map(OutputSchema::Json),
        text_schema().prop_map(OutputSchema::Text),
        Just(OutputSchema::Auto),
        text().prop_map(OutputSchema::Bare),
        unknown_object(&["json", "text", "auto"]).prop_map(OutputSchema::Other),
    ]
}

fn input_schema() -> impl Strategy<Value = InputSchema> {
    prop_oneof![
        json_schema().prop_map(InputSchema::Json),
        text_schema().prop_map(InputSchema::Text),
        text().prop_map(InputSchema::Bare),
        unknown_object(&["json", "text", "auto"]).prop_map(InputSchema::Other),
    ]
}

fn task_spec() -> BoxedStrategy<TaskSpec> {
    task_spec_unboxed().boxed()
}

fn task_spec_unboxed() -> impl Strategy<Value = TaskSpec> {
    (output_schema(), of(input_schema())).prop_map(|(output_schema, input_schema)| TaskSpec {
        output_schema,
        input_schema,
    })
}

fn source_policy() -> impl Strategy<Value = SourcePolicy> {
    (
        of(vec(id(), 0..3)),
        of(vec(id(), 0..3)),
        of("[0-9]{4}-[0-9]{2}-[0-9]{2}"),
    )
        .prop_map(
            |(include_domains, exclude_domains, after_date)| SourcePolicy {
                include_domains,
                exclude_domains,
                after_date,
            },
        )
}

fn mcp_server() -> impl Strategy<Value = McpServer> {
    (
        id(),
        text(),
        of(Just("url".to_owned())),
        of(btree_map(id(), of(text()), 0..3)),
        of(vec(id(), 0..3)),
    )
        .prop_map(|(name, url, kind, headers, allowed_tools)| {
            let mut server = McpServer::new(name, url);
            server.r#type = kind;
            server.headers = headers;
            server.allowed_tools = allowed_tools;
            server
        })
}

fn advanced_settings() -> impl Strategy<Value = AdvancedSettings> {
    let data_sources = (of(vec(id(), 0..3)), of(vec(id(), 0..3)))
        .prop_map(|(free, pay_per_use)| DataSources { free, pay_per_use });
    (of(id()), of(data_sources)).prop_map(|(location, data_sources)| AdvancedSettings {
        location,
        data_sources,
    })
}

fn webhook() -> impl Strategy<Value = Webhook> {
    (text(), vec(id(), 0..2), of(text())).prop_map(|(url, event_types, secret)| {
        let webhook = Webhook::new(url).with_event_types(event_types);
        match secret {
            Some(secret) => webhook.with_secret(secret),
            None => webhook,
        }
    })
}

fn run_input() -> BoxedStrategy<RunInput> {
    run_input_unboxed().boxed()
}

fn run_input_unboxed() -> impl Strategy<Value = RunInput> {
    let input = prop_oneof![text().prop_map(Value::from), json_object()];
    let head = (
        input,
        processor(),
        of(metadata()),
        of(task_spec()),
        of(source_policy()),
    );
    let tail = (
        of(advanced_settings()),
        of(id()),
        of(vec(mcp_server(), 0..2)),
        of(any::<bool>()),
        of(webhook()),
        of(id()),
        any::<bool>(),
    );
    (head, tail).prop_map(
        |(
            (input, processor, metadata, task_spec, source_policy),
            (advanced_settings, previous, mcp_servers, enable_events, webhook, memory, nulls),
        )| {
            let mut run_input = RunInput::new(input, processor);
            if nulls {
                run_input = run_input.with_explicit_nulls();
            }
            run_input.metadata = metadata;
            run_input.task_spec = task_spec;
            run_input.source_policy = source_policy;
            run_input.advanced_settings = advanced_settings;
            run_input.previous_interaction_id = previous;
            run_input.mcp_servers = mcp_servers;
            run_input.enable_events = enable_events;
            run_input.webhook = webhook;
            run_input.memory_scope_key = memory;
            run_input
        },
    )
}

fn error_object() -> impl Strategy<Value = ErrorObject> {
    (id(), text(), of(non_null_json())).prop_map(|(ref_id, message, detail)| ErrorObject {
        ref_id,
        message,
        detail,
    })
}

fn warning() -> impl Strategy<Value = Warning> {
    (open_enum(WarningType::KNOWN), text(), of(non_null_json())).prop_map(
        |(r#type, message, detail)| Warning {
            r#type,
            message,
            detail,
        },
    )
}

fn task_run() -> BoxedStrategy<TaskRun> {
    task_run_unboxed().boxed()
}

fn task_run_unboxed() -> impl Strategy<Value = TaskRun> {
    let head = (
        id(),
        id(),
        run_status(),
        any::<bool>(),
        processor(),
        of(text()),
        of(text()),
    );
    let tail = (
        of(vec(warning(), 0..2)),
        of(error_object()),
        of(metadata()),
        of(id()),
    );
    (head, tail).prop_map(
        |(
            (run_id, interaction_id, status, is_active, processor, created_at, modified_at),
            (warnings, error, metadata, taskgroup_id),
        )| TaskRun {
            run_id,
            interaction_id,
            status,
            is_active,
            processor,
            created_at,
            modified_at,
            warnings,
            error,
            metadata,
            taskgroup_id,
        },
    )
}

fn field_basis() -> BoxedStrategy<FieldBasis> {
    field_basis_unboxed().boxed()
}

fn field_basis_unboxed() -> impl Strategy<Value = FieldBasis> {
    let citation =
        (of(text()), of(text()), of(vec(text(), 0..2))).prop_map(|(url, title, excerpts)| {
            Citation {
                url,
                title,
                excerpts,
            }
        });
    (
        id(),
        of(vec(citation, 0..3)),
        text(),
        of(select(vec!["low", "medium", "high"]).prop_map(String::from)),
    )
        .prop_map(|(field, citations, reasoning, confidence)| FieldBasis {
            field,
            citations,
            reasoning,
            confidence,
        })
}

fn mcp_tool_call() -> impl Strategy<Value = McpToolCall> {
    (id(), id(), id(), text(), of(text()), of(text())).prop_map(
        |(tool_call_id, server_name, tool_name, arguments, content, error)| McpToolCall {
            tool_call_id,
            server_name,
            tool_name,
            arguments,
            content,
            error,
        },
    )
}

fn known_run_output() -> BoxedStrategy<RunOutput> {
    known_run_output_unboxed().boxed()
}

fn known_run_output_unboxed() -> impl Strategy<Value = RunOutput> {
    let json = (
        json_object(),
        vec(field_basis(), 0..3),
        of(vec(mcp_tool_call(), 0..2)),
        of(json_object()),
        of(json_object()),
    )
        .prop_map(
            |(content, basis, mcp_tool_calls, output_schema, beta_fields)| {
                RunOutput::Json(JsonOutput {
                    content,
                    basis,
                    mcp_tool_calls,
                    output_schema,
                    beta_fields,
                })
            },
        );
    let text_output = (
        text(),
        vec(field_basis(), 0..2),
        of(vec(mcp_tool_call(), 0..2)),
        of(json_object()),
    )
        .prop_map(|(content, basis, mcp_tool_calls, beta_fields)| {
            RunOutput::Text(TextOutput {
                content,
                basis,
                mcp_tool_calls,
                beta_fields,
            })
        });
    prop_oneof![json, text_output]
}

fn run_output() -> BoxedStrategy<RunOutput> {
    run_output_unboxed().boxed()
}

fn run_output_unboxed() -> impl Strategy<Value = RunOutput> {
    prop_oneof![4 => known_run_output(), 1 => unknown_object(&["json", "text"]).prop_map(RunOutput::Other)]
}

fn group_status() -> BoxedStrategy<TaskGroupStatus> {
    group_status_unboxed().boxed()
}

fn group_status_unboxed() -> impl Strategy<Value = TaskGroupStatus> {
    (
        any::<u32>(),
        btree_map(run_status(), any::<u32>(), 0..4),
        any::<bool>(),
        of(text()),
        of(text()),
    )
        .prop_map(
            |(runs, counts, is_active, status_message, modified_at)| TaskGroupStatus {
                num_task_runs: u64::from(runs),
                task_run_status_counts: counts
                    .into_iter()
                    .map(|(status, count)| (status, u64::from(count)))
                    .collect(),
                is_active,
                status_message,
                modified_at,
            },
        )
}

/// A `task_run.state` event; `output` limited to what the borrowed view keeps exactly.
fn task_run_event_with(output: BoxedStrategy<RunOutput>) -> impl Strategy<Value = TaskRunEvent> {
    (of(id()), task_run(), of(run_input()), of(output)).prop_map(
        |(event_id, run, input, output)| TaskRunEvent {
            event_id,
            run,
            input,
            output,
        },
    )
}

fn task_run_event() -> BoxedStrategy<TaskRunEvent> {
    task_run_event_unboxed().boxed()
}

fn task_run_event_unboxed() -> impl Strategy<Value = TaskRunEvent> {
    task_run_event_with(run_output().boxed())
}

fn group_status_event() -> impl Strategy<Value = TaskGroupStatusEvent> {
    (id(), group_status()).prop_map(|(event_id, status)| TaskGroupStatusEvent { event_id, status })
}

fn error_event() -> impl Strategy<Value = ErrorEvent> {
    error_object().prop_map(|error| ErrorEvent { error })
}

const GROUP_TYPES: &[&str] = &["task_group_status", "task_run.state", "error"];
const RUN_TYPES: &[&str] = &["task_run.state", "task_run.progress_stats", "error"];

fn group_event() -> BoxedStrategy<GroupEvent> {
    group_event_unboxed().boxed()
}

fn group_event_unboxed() -> impl Strategy<Value = GroupEvent> {
    prop_oneof![
        group_status_event().prop_map(GroupEvent::TaskGroupStatus),
        task_run_event().prop_map(GroupEvent::TaskRunState),
        error_event().prop_map(GroupEvent::Error),
        unknown_object(GROUP_TYPES).prop_map(GroupEvent::Unknown),
    ]
}

fn group_run_event() -> BoxedStrategy<GroupRunEvent> {
    group_run_event_unboxed().boxed()
}

fn group_run_event_unboxed() -> impl Strategy<Value = GroupRunEvent> {
    prop_oneof![
        task_run_event().prop_map(GroupRunEvent::TaskRunState),
        error_event().prop_map(GroupRunEvent::Error),
        unknown_object(GROUP_TYPES).prop_map(GroupRunEvent::Unknown),
    ]
}

fn run_event() -> BoxedStrategy<RunEvent> {
    run_event_unboxed().boxed()
}

fn run_event_unboxed() -> impl Strategy<Value = RunEvent> {
    let stats = (
        float(),
        of(any::<u32>()),
        of(any::<u32>()),
        of(vec(text(), 0..3)),
    )
        .prop_map(|(progress_meter, considered, read, sources_read_sample)| {
            RunEvent::ProgressStats(ProgressStatsEvent {
                progress_meter,
                source_stats: SourceStats {
                    num_sources_considered: considered.map(u64::from),
                    num_sources_read: read.map(u64::from),
                    sources_read_sample,
                },
            })
        });
    let message = (open_enum(ProgressMessageKind::KNOWN), text(), of(text())).prop_map(
        |(kind, message, timestamp)| {
            RunEvent::ProgressMessage(ProgressMessageEvent {
                kind,
                message,
                timestamp,
            })
        },
    );
    prop_oneof![
        task_run_event().prop_map(RunEvent::TaskRunState),
        stats,
        message,
        error_event().prop_map(RunEvent::Error),
        unknown_object(RUN_TYPES)
            .prop_filter("not a progress message", |raw| {
                !raw["type"]
                    .as_str()
                    .is_some_and(|tag| tag.starts_with("task_run.progress_msg."))
            })
            .prop_map(RunEvent::Unknown),
    ]
}

// ---------------------------------------------------------------------------------------
// Properties

/// Encodes `value`, decodes it back equal, and checks that re-encoding the decoded value
/// gives the same JSON (so nothing the encoder wrote was lost or reshaped). Also decodes from
/// a key-sorted rendering, which moves `"type"` away from the front of objects.
fn assert_round_trip<T>(value: &T) -> Result<(), TestCaseError>
where
    T: Serialize + DeserializeOwned + PartialEq + Debug,
{
    let encoded = serde_json::to_string(value).expect("serialize");
    let decoded: T = serde_json::from_str(&encoded)
        .map_err(|e| TestCaseError::fail(format!("{e}: {encoded}")))?;
    prop_assert_eq!(&decoded, value);
    let first: Value = serde_json::from_str(&encoded).expect("valid JSON");
    prop_assert_eq!(
        serde_json::to_value(&decoded).expect("serialize"),
        first.clone()
    );

    let sorted = serde_json::to_string(&first).expect("serialize sorted");
    let from_sorted: T =
        serde_json::from_str(&sorted).map_err(|e| TestCaseError::fail(format!("{e}: {sorted}")))?;
    prop_assert_eq!(&from_sorted, value);
    Ok(())
}

proptest! {
    #[test]
    fn metadata_round_trips(value in metadata()) {
        assert_round_trip(&value)?;
    }

    #[test]
    fn run_input_round_trips(value in run_input()) {
        assert_round_trip(&value)?;
    }

    #[test]
    fn task_spec_round_trips(value in task_spec()) {
        assert_round_trip(&value)?;
    }

    #[test]
    fn group_types_round_trip(
        status in group_status(),
        id in id(),
        created_at in of(text()),
        metadata in of(metadata()),
        run_ids in vec(id(), 0..4),
        cursors in (of(id()), of(id())),
        inputs in vec(run_input(), 0..3),
        default_task_spec in of(task_spec()),
    ) {
        assert_round_trip(&status)?;
        let group = TaskGroup { taskgroup_id: id, status: status.clone(), created_at, metadata: metadata.clone() };
        assert_round_trip(&group)?;
        assert_round_trip(&CreateTaskGroupRequest { metadata })?;
        assert_round_trip(&AddRunsRequest { inputs, default_task_spec })?;
        let (run_cursor, event_cursor) = cursors;
        assert_round_trip(&AddRunsResponse { status, run_ids, run_cursor, event_cursor })?;
    }

    #[test]
    fn run_types_round_trip(run in task_run(), output in run_output()) {
        assert_round_trip(&run)?;
        assert_round_trip(&output)?;
        assert_round_trip(&TaskRunResult { run, output })?;
    }

    #[test]
    fn error_bodies_round_trip(
        error in error_object(),
        issues in vec((vec(prop_oneof![id().prop_map(LocationSegment::Key), any::<i64>().prop_map(LocationSegment::Index)], 0..4), text(), id()), 0..3),
    ) {
        assert_round_trip(&error)?;
        assert_round_trip(&ErrorResponse { error: error.clone() })?;
        assert_round_trip(&ApiErrorBody::Error(error))?;
        let body = ValidationErrorBody {
            detail: issues.into_iter().map(|(loc, msg, r#type)| ValidationIssue { loc, msg, r#type }).collect(),
        };
        assert_round_trip(&body)?;
        assert_round_trip(&ApiErrorBody::Validation(body))?;
    }

    #[test]
    fn events_round_trip(group in group_event(), group_run in group_run_event(), run in run_event()) {
        assert_round_trip(&group)?;
        assert_round_trip(&group_run)?;
        assert_round_trip(&run)?;
    }

    #[test]
    fn unknown_enum_values_survive(value in "[a-z_.-]{1,20}") {
        let status = RunStatus::from(value.as_str());
        let processor = Processor::from(value.as_str());
        let warning = WarningType::from(value.as_str());
        let kind = ProgressMessageKind::from(value.as_str());
        prop_assert_eq!(status.is_known(), RunStatus::KNOWN.iter().any(|known| known.as_str() == value));
        prop_assert_eq!(processor.is_known(), Processor::KNOWN.iter().any(|known| known.as_str() == value));
        for encoded in [
            serde_json::to_string(&status).expect("serialize"),
            serde_json::to_string(&processor).expect("serialize"),
            serde_json::to_string(&warning).expect("serialize"),
            serde_json::to_string(&kind).expect("serialize"),
        ] {
            prop_assert_eq!(encoded, serde_json::to_string(&value).expect("serialize"));
        }
        let decoded: RunStatus = serde_json::from_str(&serde_json::to_string(&value).expect("serialize")).expect("decode");
        prop_assert_eq!(decoded, status);
        // Inside a larger payload, an unknown status is kept and written back as it came.
        let payload = json!({"num_task_runs": 1, "task_run_status_counts": {value.clone(): 1}, "is_active": false});
        let parsed: TaskGroupStatus = serde_json::from_value(payload.clone()).expect("decode");
        prop_assert_eq!(parsed.count(&RunStatus::from(value.as_str())), 1);
        prop_assert_eq!(serde_json::to_value(&parsed).expect("serialize")["task_run_status_counts"].clone(), payload["task_run_status_counts"].clone());
    }

    #[test]
    fn borrowed_view_agrees_with_owned(
        event in task_run_event_with(known_run_output().boxed()),
        pretty in any::<bool>(),
        sorted in any::<bool>(),
    ) {
        let bytes = match (pretty, sorted) {
            (_, true) => serde_json::to_vec(&serde_json::to_value(&event).expect("to value")).expect("serialize"),
            (true, false) => serde_json::to_vec_pretty(&event).expect("serialize"),
            (false, false) => serde_json::to_vec(&event).expect("serialize"),
        };
        let view = TaskRunEventRef::from_slice(&bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(view.event_id.as_deref(), event.event_id.as_deref());
        prop_assert_eq!(&*view.run.run_id, event.run.run_id.as_str());
        prop_assert_eq!(&view.run.status, &event.run.status);
        prop_assert_eq!(view.run.metadata().expect("metadata"), event.run.metadata.clone());
        prop_assert_eq!(view.input_as::<Value>().expect("input"), event.input.as_ref().map(|input| input.input.clone()));
        let content = event.output.as_ref().map(|output| match output {
            RunOutput::Json(json) => json.content.clone(),
            RunOutput::Text(text) => Value::String(text.content.clone()),
            RunOutput::Other(_) => unreachable!("only known outputs generated"),
        });
        prop_assert_eq!(view.output_as::<Value>().expect("output"), content.clone());
        prop_assert_eq!(view.into_owned().expect("into_owned"), event.clone());

        // The single-pass typed view reads the same input and content, and the same run.
        let typed: TaskRunEventAs<'_, Value, Value> = TaskRunEventAs::from_slice(&bytes)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(typed.event_id.as_deref(), event.event_id.as_deref());
        prop_assert_eq!(typed.run.clone().into_owned().expect("run"), event.run.clone());
        prop_assert_eq!(typed.input, event.input.as_ref().map(|input| input.input.clone()));
        prop_assert_eq!(typed.output.as_ref().map(|output| output.content.clone()), content.clone());
        let basis = typed.output.as_ref().map(|output| output.basis().expect("basis"));
        prop_assert_eq!(basis.as_deref(), event.output.as_ref().map(RunOutput::basis));

        // The on-demand reader reads the same run, input and content.
        let result = RunResultRef::from_slice(&bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(result.run.into_owned().expect("run"), event.run.clone());
        let raw_value = |raw: &serde_json::value::RawValue| serde_json::from_str::<Value>(raw.get()).expect("raw JSON");
        let input = event.input.as_ref().map(|input| input.input.clone()).filter(|v| !v.is_null());
        prop_assert_eq!(result.input.map(raw_value), input);
        prop_assert_eq!(result.content.map(raw_value), content.filter(|v| !v.is_null()));

        let head = EventHead::from_slice(&bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(head.event_type.as_deref(), Some("task_run.state"));
        prop_assert_eq!(head.event_id.as_deref(), event.event_id.as_deref());
    }

    #[test]
    fn event_heads_agree_with_owned_events(event in group_event(), sorted in any::<bool>()) {
        // Sorted keys put `type` after `event_id`: the full parse instead of the front reader.
        let bytes = if sorted {
            serde_json::to_vec(&serde_json::to_value(&event).expect("to value")).expect("serialize")
        } else {
            serde_json::to_vec(&event).expect("serialize")
        };
        let owned: GroupEvent = serde_json::from_slice(&bytes).expect("owned decode");
        match EventHead::from_slice(&bytes) {
            Ok(head) => {
                let event_type = Some(owned.event_type()).filter(|t| !t.is_empty());
                prop_assert_eq!(head.event_type.as_deref(), event_type);
                prop_assert_eq!(head.event_id.as_deref(), owned.event_id());
            }
            // Only an event of unknown type may carry an `event_id` that is not a string.
            Err(_) => prop_assert!(matches!(
                &owned,
                GroupEvent::Unknown(raw) if raw.get("event_id").is_some_and(|id| !id.is_string() && !id.is_null())
            )),
        }
    }
}

#[test]
fn explicit_nulls_are_kept_and_equality_ignores_them() {
    let bare = RunInput::new("question", Processor::Lite);
    let nulls = bare.clone().with_explicit_nulls();
    assert_eq!(bare, nulls);
    assert_eq!(
        serde_json::to_value(&bare).expect("serialize"),
        json!({"input": "question", "processor": "lite"})
    );
    let with_nulls = serde_json::to_value(&nulls).expect("serialize");
    assert_eq!(with_nulls["webhook"], Value::Null);
    assert!(
        with_nulls.get("memory_scope_key").is_none(),
        "newer than the spec: left out"
    );
    assert_eq!(with_nulls.as_object().expect("object").len(), 10);

    let mixed = json!({"input": {"a": 1}, "processor": "pro", "metadata": null, "webhook": null, "enable_events": true});
    let decoded: RunInput = serde_json::from_value(mixed.clone()).expect("decode");
    assert_eq!(serde_json::to_value(&decoded).expect("serialize"), mixed);
}

#[test]
fn nullable_fields_accept_absence_and_null() {
    let minimal =
        json!({"run_id": "r", "status": "queued", "is_active": true, "processor": "base"});
    let run: TaskRun = serde_json::from_value(minimal).expect("absent nullable fields");
    assert_eq!(
        (run.interaction_id.as_str(), run.created_at, run.warnings),
        ("", None, None)
    );
    let nulls = json!({"run_id": "r", "interaction_id": null, "status": "queued", "is_active": true,
        "processor": "base", "created_at": null, "modified_at": null, "warnings": null, "error": null,
        "metadata": null, "taskgroup_id": null, "a_future_field": {"x": 1}});
    let run: TaskRun =
        serde_json::from_value(nulls).expect("null nullable fields, unknown field ignored");
    assert_eq!(run.interaction_id, "");
    let output: RunOutput =
        serde_json::from_value(json!({"type": "json", "content": {}, "basis": null}))
            .expect("null basis");
    assert!(output.basis().is_empty());
    let status: TaskGroupStatus = serde_json::from_value(
        json!({"num_task_runs": 0, "task_run_status_counts": null, "is_active": false}),
    )
    .expect("null counts");
    assert!(status.task_run_status_counts.is_empty() && status.status_message.is_none());
}

#[test]
fn api_error_body_reads_both_shapes_and_anything_else() {
    let validation = br#"{"detail":[{"loc":["body","inputs",0,"processor"],"msg":"Field required","type":"missing"}]}"#;
    let body = ApiErrorBody::from_slice(validation).expect("decode");
    assert_eq!(body.message(), "body.inputs.0.processor: Field required");
    let untyped = br#"{"error":{"message":"Run id not found","detail":null}}"#;
    let body = ApiErrorBody::from_slice(untyped).expect("decode");
    assert_eq!(
        body.error_object().map(|e| e.message.as_str()),
        Some("Run id not found")
    );
    let fastapi = br#"{"detail":"Not Found"}"#;
    assert_eq!(
        ApiErrorBody::from_slice(fastapi).expect("decode").message(),
        "Not Found"
    );
    let html = b"<html>bad gateway</html>";
    assert!(
        ApiErrorBody::from_slice(html)
            .expect_err("not JSON")
            .is_decode()
    );
}

#[test]
fn progress_message_types_map_to_kinds() {
    let tool = br#"{"type":"task_run.progress_msg.tool","message":"calling","timestamp":null}"#;
    let RunEvent::ProgressMessage(event) = serde_json::from_slice(tool).expect("decode") else {
        panic!("progress message expected");
    };
    assert_eq!(event.kind, ProgressMessageKind::Other("tool".to_owned()));
    assert_eq!(
        serde_json::to_vec(&event).expect("serialize"),
        tool.to_vec()
    );
    let plan = br#"{"type":"task_run.progress_msg.plan","message":"step 1","timestamp":"2026-03-02T14:05:00Z"}"#;
    let standalone: ProgressMessageEvent = serde_json::from_slice(plan).expect("standalone decode");
    assert_eq!(standalone.kind, ProgressMessageKind::Plan);
    let bare_prefix = br#"{"type":"task_run.progress_msg.","message":"?"}"#;
    assert!(matches!(
        serde_json::from_slice::<RunEvent>(bare_prefix),
        Ok(RunEvent::Unknown(_))
    ));
}

#[test]
fn output_schema_inference_follows_the_documented_rule() {
    let decode = |value: Value| serde_json::from_value::<OutputSchema>(value).expect("decode");
    assert!(matches!(
        decode(json!({"json_schema": {"type": "object"}})),
        OutputSchema::Json(_)
    ));
    assert!(matches!(
        decode(json!({"description": "a summary"})),
        OutputSchema::Text(TextSchema {
            description: Some(_)
        })
    ));
    assert!(matches!(decode(json!("a summary")), OutputSchema::Bare(_)));
    assert!(matches!(
        decode(json!({"type": "auto"})),
        OutputSchema::Auto
    ));
    assert!(matches!(
        decode(json!({"type": "xml", "dtd": "x"})),
        OutputSchema::Other(_)
    ));
    // Shapes the server may echo that fit no documented schema are kept whole.
    for kept in [
        json!({"type": "json"}),
        json!({"type": "json", "description": "no schema"}),
        json!({"type": "text", "description": {"en": "a summary"}}),
        json!({"description": 7}),
        Value::Null,
    ] {
        assert_eq!(decode(kept.clone()), OutputSchema::Other(kept));
    }
    assert!(serde_json::from_value::<OutputSchema>(json!(5)).is_err());
    // The standalone schema types still say what they expected.
    let error =
        serde_json::from_value::<JsonSchema>(json!({"type": "json"})).expect_err("no schema");
    assert!(error.to_string().contains("`json_schema`"), "{error}");
    let error =
        serde_json::from_value::<TextSchema>(json!({"description": 7})).expect_err("number");
    assert!(error.to_string().contains("`description`"), "{error}");
}

/// The `serde_json` error behind a decode error.
fn source_text(error: &parallel_types::Error) -> String {
    std::error::Error::source(error).map_or_else(String::new, ToString::to_string)
}

proptest! {
    /// Bad input is an error, never a panic: arbitrary bytes, and valid events cut short or
    /// with one byte changed, through every decoder of stream events.
    #[test]
    fn from_json_slice_agrees_with_serde_json(
        event in group_event(),
        noise in vec(any::<u8>(), 0..64),
        flip in any::<(prop::sample::Index, u8)>(),
    ) {
        // Valid events, events with one byte changed (often to invalid UTF-8 or invalid JSON)
        // and noise: the same value or the same error as `serde_json::from_slice`.
        let valid = serde_json::to_vec(&event).expect("serialize");
        let mut flipped = valid.clone();
        let at = flip.0.index(flipped.len());
        flipped[at] = flip.1;
        for bytes in [valid.as_slice(), flipped.as_slice(), noise.as_slice()] {
            let ours = parallel_types::from_json_slice::<Value>(bytes).map_err(|e| source_text(&e));
            let theirs = serde_json::from_slice::<Value>(bytes).map_err(|e| e.to_string());
            prop_assert_eq!(ours, theirs);
            let ours = parallel_types::from_json_slice::<GroupEvent>(bytes).map_err(|e| source_text(&e));
            let theirs = serde_json::from_slice::<GroupEvent>(bytes).map_err(|e| e.to_string());
            prop_assert_eq!(ours, theirs);
        }
    }

    #[test]
    fn decoders_never_panic(
        event in group_event(),
        noise in vec(any::<u8>(), 0..64),
        cut in any::<prop::sample::Index>(),
        flip in any::<(prop::sample::Index, u8)>(),
    ) {
        let valid = serde_json::to_vec(&event).expect("serialize");
        let mut flipped = valid.clone();
        let at = flip.0.index(flipped.len());
        flipped[at] = flip.1;
        let truncated = &valid[..cut.index(valid.len())];
        for bytes in [noise.as_slice(), truncated, flipped.as_slice()] {
            let _ = EventHead::from_slice(bytes);
            let _ = TaskRunEventRef::from_slice(bytes).map(|view| (view.input_as::<Value>(), view.into_owned()));
            let _ = TaskRunEventAs::<Value, &str>::from_slice(bytes);
            let _ = RunResultRef::from_slice(bytes).map(|result| result.run.into_owned());
            let _ = serde_json::from_slice::<GroupEvent>(bytes);
            let _ = serde_json::from_slice::<RunEvent>(bytes);
            let _ = ApiErrorBody::from_slice(bytes);
        }
        // Cut anywhere before the end, an event never decodes.
        if truncated.len() < valid.len() {
            prop_assert!(serde_json::from_slice::<GroupEvent>(truncated).is_err());
        }
    }
}
