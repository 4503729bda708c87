//! Request bodies: parsed as JSON values and checked field by field, so that every rejection
//! names the offending field (`inputs[3].processor`), then turned into what the store keeps.

use std::sync::Arc;

use http::StatusCode;
use serde_json::{Map, Value};

use crate::config::Limits;
use crate::lenient::Variation;
use crate::processor::Processor;
use crate::rng::hash_bytes;
use crate::spec::{Spec, push_json};

/// Longest metadata key and string value the API accepts.
const MAX_METADATA_KEY_CHARS: usize = 16;
const MAX_METADATA_VALUE_CHARS: usize = 512;
/// Most include plus exclude domains in a source policy.
const MAX_POLICY_DOMAINS: usize = 200;

/// An error answer: status, message, optional detail object.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) message: String,
    pub(crate) detail: Option<Value>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            detail: None,
        }
    }

    /// `422` naming the field (`loc`) and what is wrong with it.
    pub(crate) fn validation(loc: &str, problem: impl Into<String>) -> Self {
        let problem = problem.into();
        let message = if loc.is_empty() {
            format!("Request validation error: {problem}")
        } else {
            format!("Request validation error: {loc}: {problem}")
        };
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            message,
            detail: Some(serde_json::json!({"loc": loc, "msg": problem})),
        }
    }
}

/// Joins a location and a field name: `inputs[3]` + `processor`.
pub(crate) fn at(loc: &str, field: &str) -> String {
    if loc.is_empty() {
        field.to_owned()
    } else {
        format!("{loc}.{field}")
    }
}

/// Parses a request body as a JSON object; an empty body counts as `{}` when `empty_ok`.
pub(crate) fn parse_object(body: &[u8], empty_ok: bool) -> Result<Map<String, Value>, ApiError> {
    if empty_ok && body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::validation("body", "must be a JSON object")),
        Err(e) => Err(ApiError::validation(
            "body",
            format!("is not valid JSON ({e})"),
        )),
    }
}

/// Checks a `metadata` value and returns it as compact JSON (`None` for absent or null).
/// With `any_type` (lenient mode) values may be any JSON value, as the official SDKs accept.
pub(crate) fn metadata(
    value: Option<&Value>,
    loc: &str,
    any_type: bool,
) -> Result<Option<Vec<u8>>, ApiError> {
    let map = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(map)) => map,
        Some(_) => return Err(ApiError::validation(loc, "must be an object or null")),
    };
    for (key, v) in map {
        if key.chars().count() > MAX_METADATA_KEY_CHARS {
            return Err(ApiError::validation(
                &format!("{loc}.{key}"),
                format!("metadata keys may have at most {MAX_METADATA_KEY_CHARS} characters"),
            ));
        }
        match v {
            Value::String(s) if s.chars().count() > MAX_METADATA_VALUE_CHARS => {
                return Err(ApiError::validation(
                    &format!("{loc}.{key}"),
                    format!(
                        "metadata values may have at most {MAX_METADATA_VALUE_CHARS} characters"
                    ),
                ));
            }
            Value::String(_) | Value::Number(_) | Value::Bool(_) => {}
            _ if any_type => {}
            _ => {
                return Err(ApiError::validation(
                    &format!("{loc}.{key}"),
                    "metadata values must be strings, numbers or booleans",
                ));
            }
        }
    }
    let mut out = Vec::new();
    push_json(&mut out, &Value::Object(map.clone()));
    Ok(Some(out))
}

/// A task spec parsed once, with its size for the spec + input limit.
#[derive(Debug, Clone)]
pub(crate) struct ParsedSpec {
    pub(crate) spec: Arc<Spec>,
    pub(crate) chars: usize,
}

/// Parses an optional `task_spec` / `default_task_spec` value.
pub(crate) fn task_spec(
    value: Option<&Value>,
    loc: &str,
    limits: &Limits,
) -> Result<Option<ParsedSpec>, ApiError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(v) => {
            let spec = Spec::parse(v, limits.max_schema_depth).map_err(|e| {
                let where_ = if e.path.is_empty() {
                    loc.to_owned()
                } else {
                    at(loc, &e.path)
                };
                ApiError::validation(&where_, e.message)
            })?;
            Ok(Some(ParsedSpec {
                spec: Arc::new(spec),
                chars: json_chars(v),
            }))
        }
    }
}

fn json_chars(v: &Value) -> usize {
    serde_json::to_string(v).map_or(0, |s| s.chars().count())
}

/// One run to create, checked and serialised.
#[derive(Debug)]
pub(crate) struct NewInput {
    /// The `TaskRunInput` as the API echoes it.
    pub(crate) canonical: Vec<u8>,
    pub(crate) input_range: (u32, u32),
    pub(crate) metadata_range: Option<(u32, u32)>,
    pub(crate) processor: Processor,
    pub(crate) spec: Arc<Spec>,
    pub(crate) events_enabled: bool,
    /// Hash of the `input` value's JSON: the same input plans and generates the same way.
    pub(crate) input_hash: u64,
    /// The lenient shape this run shows, in lenient mode.
    pub(crate) lenient: Option<Variation>,
    /// Where the run's `task_run.status` webhook goes, if it asked for one.
    pub(crate) webhook: Option<crate::webhook::Target>,
}

/// Checks one `TaskRunInput` at `loc` (`inputs[3]`, or empty for a single-run body), in the
/// strict mode.
#[cfg(test)]
pub(crate) fn run_input(
    value: &Value,
    loc: &str,
    default_spec: Option<&ParsedSpec>,
    limits: &Limits,
) -> Result<NewInput, ApiError> {
    run_input_varied(value, loc, default_spec, limits, None)
}

/// Checks one `TaskRunInput` at `loc`; in lenient mode (`lenient` set) it accepts metadata
/// values of any type and echoes the run with its lenient shape.
pub(crate) fn run_input_varied(
    value: &Value,
    loc: &str,
    default_spec: Option<&ParsedSpec>,
    limits: &Limits,
    lenient: Option<Variation>,
) -> Result<NewInput, ApiError> {
    let Some(obj) = value.as_object() else {
        return Err(ApiError::validation(
            loc,
            "each input must be a JSON object with `input` and `processor`",
        ));
    };
    let (input, processor) = input_and_processor(obj, loc)?;
    let metadata = metadata(obj.get("metadata"), &at(loc, "metadata"), lenient.is_some())?;
    let own_spec = task_spec(obj.get("task_spec"), &at(loc, "task_spec"), limits)?;
    check_source_policy(obj.get("source_policy"), &at(loc, "source_policy"))?;
    check_nullable_object(
        obj.get("advanced_settings"),
        &at(loc, "advanced_settings"),
        &[("location", Kind::String)],
    )?;
    check_nullable_object(
        obj.get("webhook"),
        &at(loc, "webhook"),
        &[
            ("url", Kind::RequiredString),
            ("event_types", Kind::StringArray),
            ("secret", Kind::String),
        ],
    )?;
    let webhook = crate::webhook::target(obj.get("webhook"))
        .map_err(|problem| ApiError::validation(&at(&at(loc, "webhook"), "url"), problem))?;
    let mcp_servers = check_mcp_servers(obj.get("mcp_servers"), &at(loc, "mcp_servers"))?;
    for field in ["previous_interaction_id", "memory_scope_key"] {
        if !matches!(obj.get(field), None | Some(Value::Null | Value::String(_))) {
            return Err(ApiError::validation(
                &at(loc, field),
                "must be a string or null",
            ));
        }
    }
    let enable_events = match obj.get("enable_events") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => {
            return Err(ApiError::validation(
                &at(loc, "enable_events"),
                "must be a boolean or null",
            ));
        }
    };

    let effective = own_spec.as_ref().or(default_spec);
    let input_json = serde_json::to_vec(input).unwrap_or_default();
    let input_chars = String::from_utf8_lossy(&input_json).chars().count();
    let total = input_chars + effective.map_or(0, |s| s.chars);
    if total > limits.max_spec_and_input_chars {
        return Err(ApiError::validation(
            loc,
            format!(
                "the input and task spec together have {total} characters; the limit is {} (shorten the input or the schema descriptions)",
                limits.max_spec_and_input_chars
            ),
        ));
    }

    let echo = Echo {
        obj,
        input_json: &input_json,
        processor,
        metadata: metadata.as_deref(),
        mcp_servers: mcp_servers.as_ref(),
        lenient,
    };
    let (out, input_range, metadata_range) = echo.write();

    Ok(NewInput {
        input_hash: hash_bytes(0, &input_json),
        canonical: out,
        input_range,
        metadata_range,
        processor,
        spec: effective.map_or_else(Spec::auto, |s| Arc::clone(&s.spec)),
        events_enabled: enable_events.unwrap_or_else(|| processor.events_by_default()),
        lenient,
        webhook,
    })
}

/// A run input's `input` (a string or an object) and its processor (`403` for an unknown one).
fn input_and_processor<'a>(
    obj: &'a serde_json::Map<String, Value>,
    loc: &str,
) -> Result<(&'a Value, Processor), ApiError> {
    let input = match obj.get("input") {
        Some(v @ (Value::String(_) | Value::Object(_))) => v,
        Some(_) => {
            return Err(ApiError::validation(
                &at(loc, "input"),
                "must be a string or an object",
            ));
        }
        None => return Err(ApiError::validation(&at(loc, "input"), "is required")),
    };
    let processor = match obj.get("processor") {
        Some(Value::String(name)) => Processor::from_name(name).ok_or_else(|| ApiError {
            status: StatusCode::FORBIDDEN,
            message: format!(
                "Forbidden: invalid processor in request: {}: `{name}` is not a processor; use one of {}",
                at(loc, "processor"),
                Processor::all_names().collect::<Vec<_>>().join(", ")
            ),
            detail: Some(serde_json::json!({"loc": at(loc, "processor"), "processor": name})),
        })?,
        Some(_) => return Err(ApiError::validation(&at(loc, "processor"), "must be a string")),
        None => return Err(ApiError::validation(&at(loc, "processor"), "is required")),
    };
    Ok((input, processor))
}

/// Start and end offsets inside a buffer.
type ByteRange = (u32, u32);

/// The parts of a `TaskRunInput` that are echoed back.
struct Echo<'a> {
    obj: &'a Map<String, Value>,
    input_json: &'a [u8],
    processor: Processor,
    metadata: Option<&'a [u8]>,
    mcp_servers: Option<&'a Value>,
    lenient: Option<Variation>,
}

impl Echo<'_> {
    /// Writes the echo with a fixed key order, explicit nulls, and no MCP header values or
    /// webhook secret (write-only secrets). Returns it with the byte ranges of `input` and
    /// `metadata`.
    fn write(&self) -> (Vec<u8>, ByteRange, Option<ByteRange>) {
        let lenient_metadata = self.lenient.and_then(|v| v.metadata(self.metadata));
        let metadata = lenient_metadata.as_deref().or(self.metadata);
        let mut out = Vec::with_capacity(self.input_json.len() + 256);
        out.extend_from_slice(b"{\"input\":");
        let input_start = out.len();
        out.extend_from_slice(self.input_json);
        let input_range = range(input_start, out.len());
        out.extend_from_slice(b",\"processor\":");
        crate::wire::push_str(&mut out, self.processor.name());
        out.extend_from_slice(b",\"metadata\":");
        let metadata_range = if let Some(m) = metadata {
            let start = out.len();
            out.extend_from_slice(m);
            Some(range(start, out.len()))
        } else {
            out.extend_from_slice(b"null");
            None
        };
        push_field(&mut out, "source_policy", self.obj.get("source_policy"));
        let own_settings = self.obj.get("advanced_settings").filter(|v| !v.is_null());
        let settings = self.lenient.and_then(|v| v.advanced_settings(own_settings));
        push_field(
            &mut out,
            "advanced_settings",
            settings.as_ref().or(self.obj.get("advanced_settings")),
        );
        let spec = match self.lenient.and_then(Variation::task_spec) {
            Some(lenient) => Some(lenient),
            None => self
                .obj
                .get("task_spec")
                .filter(|v| !v.is_null())
                .map(normalized_spec),
        };
        push_field(&mut out, "task_spec", spec.as_ref());
        push_field(
            &mut out,
            "previous_interaction_id",
            self.obj.get("previous_interaction_id"),
        );
        let sent_servers = self.obj.get("mcp_servers");
        let servers = self.lenient.and_then(|v| v.mcp_servers(sent_servers));
        push_field(
            &mut out,
            "mcp_servers",
            servers.as_ref().or(self.mcp_servers),
        );
        push_field(&mut out, "enable_events", self.obj.get("enable_events"));
        let own_hook = self.obj.get("webhook").filter(|v| !v.is_null());
        let hook = match self.lenient.and_then(|v| v.webhook(own_hook)) {
            Some(lenient) => Some(lenient),
            None => own_hook.map(without_secret),
        };
        push_field(
            &mut out,
            "webhook",
            hook.as_ref().or(self.obj.get("webhook")),
        );
        if let Some(v) = self.obj.get("memory_scope_key").filter(|v| !v.is_null()) {
            push_field(&mut out, "memory_scope_key", Some(v));
        }
        out.push(b'}');
        (out, input_range, metadata_range)
    }
}

/// A webhook as echoed: its `secret` is write-only.
fn without_secret(hook: &Value) -> Value {
    let mut hook = hook.clone();
    if let Some(obj) = hook.as_object_mut() {
        obj.remove("secret");
    }
    hook
}

/// A checked task spec as the API echoes it: both keys present, and every schema object with
/// its `type` (and a text schema with its `description`) spelled out.
fn normalized_spec(spec: &Value) -> Value {
    fn schema(v: &Value) -> Value {
        let Value::Object(obj) = v else {
            return v.clone();
        };
        let mut obj = obj.clone();
        let ty = match obj.get("type").and_then(Value::as_str) {
            Some(t) => t.to_owned(),
            None if obj.contains_key("json_schema") => "json".to_owned(),
            None => "text".to_owned(),
        };
        if ty == "text" {
            obj.entry("description").or_insert(Value::Null);
        }
        obj.insert("type".into(), Value::String(ty));
        Value::Object(obj)
    }
    let get = |key: &str| spec.get(key).map_or(Value::Null, schema);
    serde_json::json!({"output_schema": get("output_schema"), "input_schema": get("input_schema")})
}

fn range(start: usize, end: usize) -> (u32, u32) {
    (
        u32::try_from(start).unwrap_or(u32::MAX),
        u32::try_from(end).unwrap_or(u32::MAX),
    )
}

fn push_field(out: &mut Vec<u8>, name: &str, value: Option<&Value>) {
    out.push(b',');
    crate::wire::push_str(out, name);
    out.push(b':');
    match value {
        Some(v) => push_json(out, v),
        None => out.extend_from_slice(b"null"),
    }
}

#[derive(Clone, Copy)]
enum Kind {
    String,
    RequiredString,
    StringArray,
}

fn check_nullable_object(
    value: Option<&Value>,
    loc: &str,
    fields: &[(&str, Kind)],
) -> Result<(), ApiError> {
    let obj = match value {
        None | Some(Value::Null) => return Ok(()),
        Some(Value::Object(obj)) => obj,
        Some(_) => return Err(ApiError::validation(loc, "must be an object or null")),
    };
    check_fields(obj, loc, fields)
}

fn check_fields(
    obj: &Map<String, Value>,
    loc: &str,
    fields: &[(&str, Kind)],
) -> Result<(), ApiError> {
    for (name, kind) in fields {
        let v = obj.get(*name);
        let ok = match kind {
            Kind::String => matches!(v, None | Some(Value::Null | Value::String(_))),
            Kind::RequiredString => matches!(v, Some(Value::String(_))),
            Kind::StringArray => match v {
                None | Some(Value::Null) => true,
                Some(Value::Array(items)) => items.iter().all(Value::is_string),
                Some(_) => false,
            },
        };
        if !ok {
            let problem = match kind {
                Kind::String => "must be a string or null",
                Kind::RequiredString => "is required and must be a string",
                Kind::StringArray => "must be an array of strings",
            };
            return Err(ApiError::validation(&at(loc, name), problem));
        }
    }
    Ok(())
}

fn check_source_policy(value: Option<&Value>, loc: &str) -> Result<(), ApiError> {
    check_nullable_object(
        value,
        loc,
        &[
            ("include_domains", Kind::StringArray),
            ("exclude_domains", Kind::StringArray),
            ("after_date", Kind::String),
        ],
    )?;
    let Some(obj) = value.and_then(Value::as_object) else {
        return Ok(());
    };
    let count = |k: &str| obj.get(k).and_then(Value::as_array).map_or(0, Vec::len);
    if count("include_domains") + count("exclude_domains") > MAX_POLICY_DOMAINS {
        return Err(ApiError::validation(
            loc,
            format!("at most {MAX_POLICY_DOMAINS} include plus exclude domains are allowed"),
        ));
    }
    if let Some(date) = obj.get("after_date").and_then(Value::as_str) {
        let b = date.as_bytes();
        let shaped = b.len() == 10
            && b[4] == b'-'
            && b[7] == b'-'
            && b.iter()
                .enumerate()
                .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
        if !shaped {
            return Err(ApiError::validation(
                &at(loc, "after_date"),
                "must be a date as YYYY-MM-DD",
            ));
        }
    }
    Ok(())
}

/// Checks `mcp_servers` and returns the value to echo, with header values removed.
fn check_mcp_servers(value: Option<&Value>, loc: &str) -> Result<Option<Value>, ApiError> {
    let servers = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(servers)) => servers,
        Some(_) => return Err(ApiError::validation(loc, "must be an array or null")),
    };
    let mut echo = Vec::with_capacity(servers.len());
    for (i, server) in servers.iter().enumerate() {
        let here = format!("{loc}[{i}]");
        let Some(obj) = server.as_object() else {
            return Err(ApiError::validation(
                &here,
                "must be an object with `name` and `url`",
            ));
        };
        check_fields(
            obj,
            &here,
            &[
                ("name", Kind::RequiredString),
                ("url", Kind::RequiredString),
                ("allowed_tools", Kind::StringArray),
            ],
        )?;
        let mut copy = obj.clone();
        if copy.contains_key("headers") {
            copy.insert("headers".into(), Value::Null);
        }
        echo.push(Value::Object(copy));
    }
    Ok(Some(Value::Array(echo)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn limits() -> Limits {
        Limits::default()
    }

    #[test]
    fn echo_has_every_field_in_order_with_nulls() {
        let parsed = run_input(
            &json!({"input": "hi", "processor": "lite", "metadata": {"row": 1}}),
            "",
            None,
            &limits(),
        )
        .unwrap();
        let text = String::from_utf8(parsed.canonical.clone()).unwrap();
        assert_eq!(
            text,
            r#"{"input":"hi","processor":"lite","metadata":{"row":1},"source_policy":null,"advanced_settings":null,"task_spec":null,"previous_interaction_id":null,"mcp_servers":null,"enable_events":null,"webhook":null}"#
        );
        let (a, b) = parsed.metadata_range.unwrap();
        assert_eq!(&parsed.canonical[a as usize..b as usize], br#"{"row":1}"#);
        let (a, b) = parsed.input_range;
        assert_eq!(&parsed.canonical[a as usize..b as usize], br#""hi""#);
        assert!(!parsed.events_enabled);
    }

    #[test]
    fn errors_name_the_field() {
        let e = run_input(
            &json!({"input": "x", "processor": 5}),
            "inputs[3]",
            None,
            &limits(),
        )
        .unwrap_err();
        assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(e.message.contains("inputs[3].processor"), "{}", e.message);
        let e = run_input(
            &json!({"input": "x", "processor": "warp"}),
            "inputs[0]",
            None,
            &limits(),
        )
        .unwrap_err();
        assert_eq!(e.status, StatusCode::FORBIDDEN);
        assert!(
            e.message.contains("inputs[0].processor") && e.message.contains("warp"),
            "{}",
            e.message
        );
        let e = run_input(&json!({"processor": "lite"}), "", None, &limits()).unwrap_err();
        assert!(e.message.contains("input: is required"), "{}", e.message);
        let e = run_input(
            &json!({"input": "x", "processor": "lite", "metadata": {"a": [1]}}),
            "",
            None,
            &limits(),
        )
        .unwrap_err();
        assert!(e.message.contains("metadata.a"), "{}", e.message);
        let e = run_input(
            &json!({"input": "x", "processor": "lite", "source_policy": {"after_date": "May 2024"}}),
            "inputs[1]",
            None,
            &limits(),
        )
        .unwrap_err();
        assert!(
            e.message.contains("inputs[1].source_policy.after_date"),
            "{}",
            e.message
        );
        let e = run_input(
            &json!({"input": "x", "processor": "lite", "task_spec": {"output_schema": {"type": "json", "json_schema": {"type": "object", "properties": {"a": {"type": "tuple"}}}}}}),
            "inputs[2]",
            None,
            &limits(),
        )
        .unwrap_err();
        assert!(
            e.message
                .contains("inputs[2].task_spec.output_schema.json_schema.properties.a.type"),
            "{}",
            e.message
        );
    }

    #[test]
    fn spec_plus_input_limit_counts_the_default_spec() {
        let spec_value = json!({"output_schema": "x".repeat(24_950)});
        let spec = task_spec(Some(&spec_value), "default_task_spec", &limits())
            .unwrap()
            .unwrap();
        assert!(
            run_input(
                &json!({"input": "ok", "processor": "lite"}),
                "inputs[0]",
                Some(&spec),
                &limits()
            )
            .is_ok()
        );
        let e = run_input(
            &json!({"input": "a".repeat(30), "processor": "lite"}),
            "inputs[0]",
            Some(&spec),
            &limits(),
        )
        .unwrap_err();
        assert!(e.message.contains("25000"), "{}", e.message);
    }

    #[test]
    fn mcp_header_values_are_not_echoed() {
        let parsed = run_input(
            &json!({"input": "x", "processor": "pro", "mcp_servers": [{"name": "n", "url": "https://m.example", "headers": {"Authorization": "secret"}}]}),
            "",
            None,
            &limits(),
        )
        .unwrap();
        let text = String::from_utf8(parsed.canonical).unwrap();
        assert!(!text.contains("secret"), "{text}");
        assert!(parsed.events_enabled);
    }
}
