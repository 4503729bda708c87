//! JSON bodies and SSE frames, written straight into byte buffers.
//!
//! Field order and explicit `null`s follow the samples in the API reference. Only strings the
//! emulator did not make itself (ids are hex, statuses and processors come from fixed tables)
//! go through the JSON escaper; stored inputs are already compact JSON and are copied as-is.

use std::io::Write as _;

use serde_json::Value;

use crate::clock::Timestamp;
use crate::ids::GroupId;
use crate::rng::DetRng;
use crate::spec::{OutputContext, write_output};
use crate::state::{Run, Status, StatusSnapshot};

/// Appends a JSON string literal.
pub(crate) fn push_str(out: &mut Vec<u8>, s: &str) {
    let _ = serde_json::to_writer(&mut *out, s);
}

fn push_ts(out: &mut Vec<u8>, micros: i64) {
    let _ = write!(out, "\"{}\"", Timestamp(micros));
}

/// `TaskGroupStatus`.
pub(crate) fn write_status(out: &mut Vec<u8>, s: &StatusSnapshot) {
    let _ = write!(
        out,
        "{{\"num_task_runs\":{},\"task_run_status_counts\":{{",
        s.num_task_runs
    );
    let mut first = true;
    for status in Status::ALL {
        let n = s.counts[status as usize];
        if n > 0 {
            if !first {
                out.push(b',');
            }
            first = false;
            let _ = write!(out, "\"{}\":{n}", status.as_str());
        }
    }
    let _ = write!(
        out,
        "}},\"is_active\":{},\"status_message\":null,\"modified_at\":",
        s.is_active()
    );
    push_ts(out, s.modified_at);
    out.push(b'}');
}

/// `TaskGroupResponse`.
pub(crate) fn write_group(
    out: &mut Vec<u8>,
    id: GroupId,
    created_at: i64,
    metadata: Option<&[u8]>,
    s: &StatusSnapshot,
) {
    let _ = write!(out, "{{\"taskgroup_id\":\"{id}\",\"status\":");
    write_status(out, s);
    out.extend_from_slice(b",\"created_at\":");
    push_ts(out, created_at);
    out.extend_from_slice(b",\"metadata\":");
    out.extend_from_slice(metadata.unwrap_or(b"null"));
    out.push(b'}');
}

/// An `Error` object.
pub(crate) fn write_error_object(
    out: &mut Vec<u8>,
    ref_id: &str,
    message: &str,
    detail: Option<&Value>,
) {
    out.extend_from_slice(b"{\"ref_id\":");
    push_str(out, ref_id);
    out.extend_from_slice(b",\"message\":");
    push_str(out, message);
    out.extend_from_slice(b",\"detail\":");
    match detail {
        Some(d) => crate::spec::push_json(out, d),
        None => out.extend_from_slice(b"null"),
    }
    out.push(b'}');
}

/// `ErrorResponse`.
pub(crate) fn write_error_response(
    out: &mut Vec<u8>,
    ref_id: &str,
    message: &str,
    detail: Option<&Value>,
) {
    out.extend_from_slice(b"{\"type\":\"error\",\"error\":");
    write_error_object(out, ref_id, message, detail);
    out.push(b'}');
}

/// The message a failed run carries.
pub(crate) const RUN_FAILED_MESSAGE: &str =
    "Task run failed: the processor could not complete the task (simulated failure)";

/// `TaskRun`.
pub(crate) fn write_run(out: &mut Vec<u8>, run: &Run, group: Option<GroupId>) {
    let _ = write!(
        out,
        "{{\"run_id\":\"{id}\",\"interaction_id\":\"{id}\",\"status\":\"{}\",\"is_active\":{},\"warnings\":",
        run.status.as_str(),
        run.status.is_active(),
        id = run.id
    );
    out.extend_from_slice(run.spec.warnings.as_deref().unwrap_or(b"null"));
    out.extend_from_slice(b",\"error\":");
    if run.status == Status::Failed {
        // The ref_id is derived from the run id so every read shows the same error.
        let ref_id = DetRng::new(crate::rng::mix(fold(run.id.0))).uuid();
        write_error_object(out, &ref_id, RUN_FAILED_MESSAGE, None);
    } else {
        out.extend_from_slice(b"null");
    }
    let _ = write!(
        out,
        ",\"processor\":\"{}\",\"metadata\":",
        run.processor.name()
    );
    out.extend_from_slice(run.metadata_json().unwrap_or(b"null"));
    out.extend_from_slice(b",\"taskgroup_id\":");
    match group {
        Some(g) => {
            let _ = write!(out, "\"{g}\"");
        }
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"created_at\":");
    push_ts(out, run.created_at);
    out.extend_from_slice(b",\"modified_at\":");
    push_ts(out, run.modified_at);
    out.push(b'}');
}

/// The run's `output` object; only meaningful for completed runs.
pub(crate) fn write_run_output(out: &mut Vec<u8>, run: &Run, seed: u64) {
    let start = out.len();
    write_strict_output(out, run, seed);
    if let Some(lenient) = run.lenient.and_then(|v| v.output(&out[start..])) {
        out.truncate(start);
        out.extend_from_slice(&lenient);
    }
}

fn write_strict_output(out: &mut Vec<u8>, run: &Run, seed: u64) {
    let input_json = run.input_value_json();
    let input: Value = serde_json::from_slice(input_json).unwrap_or(Value::Null);
    let mcp_servers = mcp_server_names(run);
    write_output(
        out,
        &OutputContext {
            seed,
            spec: &run.spec,
            input: &input,
            input_json,
            processor: run.processor.name(),
            mcp_servers: &mcp_servers,
        },
    );
}

/// The names of the MCP servers the run was given (none when its optional fields are all
/// null, the common case, which is not parsed).
fn mcp_server_names(run: &Run) -> Vec<String> {
    if run.null_tail {
        return Vec::new();
    }
    let Ok(Value::Object(input)) = serde_json::from_slice::<Value>(&run.input) else {
        return Vec::new();
    };
    let Some(Value::Array(servers)) = input.get("mcp_servers") else {
        return Vec::new();
    };
    servers
        .iter()
        .filter_map(|s| s.get("name").and_then(Value::as_str).map(str::to_owned))
        .collect()
}

/// `TaskRunResult`.
pub(crate) fn write_result(out: &mut Vec<u8>, run: &Run, group: Option<GroupId>, seed: u64) {
    out.extend_from_slice(b"{\"run\":");
    write_run(out, run, group);
    out.extend_from_slice(b",\"output\":");
    write_run_output(out, run, seed);
    out.push(b'}');
}

/// `TaskRunEvent` (without the SSE framing). `output` is written only for completed runs.
pub(crate) fn write_run_event(
    out: &mut Vec<u8>,
    event_id: Option<u64>,
    run: &Run,
    group: Option<GroupId>,
    include_input: bool,
    output_seed: Option<u64>,
) {
    out.extend_from_slice(b"{\"type\":\"task_run.state\",\"event_id\":");
    match event_id {
        Some(id) => {
            let _ = write!(out, "\"{id}\"");
        }
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"input\":");
    if include_input {
        run.write_input(out);
    } else {
        out.extend_from_slice(b"null");
    }
    out.extend_from_slice(b",\"run\":");
    write_run(out, run, group);
    out.extend_from_slice(b",\"output\":");
    match output_seed {
        Some(seed) if run.status == Status::Completed => write_run_output(out, run, seed),
        _ => out.extend_from_slice(b"null"),
    }
    out.push(b'}');
}

/// `TaskGroupStatusEvent` (without the SSE framing).
pub(crate) fn write_status_event(out: &mut Vec<u8>, event_id: u64, s: &StatusSnapshot) {
    let _ = write!(
        out,
        "{{\"type\":\"task_group_status\",\"event_id\":\"{event_id}\",\"status\":"
    );
    write_status(out, s);
    out.push(b'}');
}

/// Starts an SSE frame: `event: <type>\ndata: `. The JSON follows, then [`end_frame`].
pub(crate) fn begin_frame(out: &mut Vec<u8>, event_type: &str) {
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(event_type.as_bytes());
    out.extend_from_slice(b"\ndata: ");
}

/// Ends an SSE frame. Compact JSON never contains a raw newline, so one `data:` line holds it.
pub(crate) fn end_frame(out: &mut Vec<u8>) {
    out.extend_from_slice(b"\n\n");
}

/// The comment sent on quiet streams.
pub(crate) const KEEP_ALIVE: &[u8] = b": keep-alive\n\n";

/// Folds 128 bits into 64.
fn fold(v: u128) -> u64 {
    let bytes = v.to_le_bytes();
    let (lo, hi) = bytes.split_at(8);
    let word = |b: &[u8]| u64::from_le_bytes(b.try_into().unwrap_or([0; 8]));
    word(lo) ^ word(hi)
}
