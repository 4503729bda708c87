//! Borrowed views of the hot stream events, decoded without copying.
//!
//! A group runs stream with `include_input` and `include_output` carries every run's input
//! and output; most of those bytes are the user's own data. These views decode an event from
//! a byte slice without building a `serde_json::Value` tree: ids and timestamps borrow from
//! the slice (a copy is made only when the JSON string holds an escape), and the input, the
//! output content and the rarely used nested objects stay raw JSON slices ([`RawValue`])
//! until asked for, straight into the caller's own type.

use std::borrow::Cow;

use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::serde_util::{Key, cow_str, json_from_slice, option_cow_str};
use crate::{
    Error, ErrorObject, FieldBasis, JsonOutput, McpToolCall, Metadata, Processor, RunInput,
    RunOutput, RunStatus, TaskRun, TaskRunEvent, TextOutput, Warning,
};

/// Decodes a raw part; `what` names it in the error.
fn parse<'a, T: Deserialize<'a>>(raw: &'a RawValue, what: &'static str) -> Result<T, Error> {
    serde_json::from_str(raw.get()).map_err(Error::decode(what))
}

fn parse_opt<'a, T: Deserialize<'a>>(
    raw: Option<&'a RawValue>,
    what: &'static str,
) -> Result<Option<T>, Error> {
    raw.map(|raw| parse(raw, what)).transpose()
}

const USER_INPUT: &str = "the run's input as the requested type (does the type match the input?)";
const USER_OUTPUT: &str =
    "the output content as the requested type (does the type match the output schema?)";

/// A borrowed `task_run.state` event; see [`TaskRunEvent`] for the owned form.
///
/// ```
/// use parallel_types::TaskRunEventRef;
///
/// #[derive(serde::Deserialize)]
/// struct Company<'a> { company_name: &'a str }
/// #[derive(serde::Deserialize)]
/// struct Facts { founded_year: String }
///
/// let data = br#"{"type":"task_run.state","event_id":"17",
///   "input":{"input":{"company_name":"Acme"},"processor":"core-fast"},
///   "run":{"run_id":"trun_1","interaction_id":"trun_1","status":"completed","is_active":false,
///          "processor":"core-fast","created_at":null,"modified_at":null},
///   "output":{"type":"json","content":{"founded_year":"1998"},"basis":[]}}"#;
/// let event = TaskRunEventRef::from_slice(data)?;
/// assert_eq!(event.run.run_id, "trun_1");
/// let company: Company<'_> = event.input_as()?.expect("input requested");
/// let facts: Facts = event.output_as()?.expect("run completed");
/// assert_eq!((company.company_name, facts.founded_year.as_str()), ("Acme", "1998"));
/// let owned = event.into_owned()?;
/// assert_eq!(owned.event_id.as_deref(), Some("17"));
/// # Ok::<(), parallel_types::Error>(())
/// ```
#[derive(Debug, Clone, Deserialize)]
#[non_exhaustive]
pub struct TaskRunEventRef<'a> {
    /// Resume cursor (null outside group streams).
    #[serde(default, borrow, deserialize_with = "option_cow_str")]
    pub event_id: Option<Cow<'a, str>>,
    /// The run.
    #[serde(borrow)]
    pub run: TaskRunRef<'a>,
    /// The whole `TaskRunInput` object (input, processor, metadata, ...), raw.
    #[serde(default, borrow)]
    pub input: Option<&'a RawValue>,
    /// The output, with its content raw.
    #[serde(default, borrow)]
    pub output: Option<RunOutputRef<'a>>,
}

impl<'a> TaskRunEventRef<'a> {
    /// Decodes an event from JSON bytes, borrowing from them.
    pub fn from_slice(json: &'a [u8]) -> Result<Self, Error> {
        json_from_slice(json).map_err(Error::decode("a task_run.state event"))
    }

    /// The run's own input (the `input` member of the run input), decoded as `T` straight
    /// from the raw bytes; `None` when the event carries no input.
    pub fn input_as<T: Deserialize<'a>>(&self) -> Result<Option<T>, Error> {
        #[derive(Deserialize)]
        struct InputOnly<'a> {
            #[serde(borrow)]
            input: &'a RawValue,
        }
        let Some(raw) = self.input else {
            return Ok(None);
        };
        let only: InputOnly<'a> = parse(raw, "the run input")?;
        parse(only.input, USER_INPUT).map(Some)
    }

    /// The whole run input, owned; `None` when the event carries no input.
    pub fn run_input(&self) -> Result<Option<RunInput>, Error> {
        parse_opt(self.input, "the run input")
    }

    /// The output content decoded as `T` straight from the raw bytes; `None` when the event
    /// carries no output. For a text output, `T` = `String` or `&str` (when unescaped).
    pub fn output_as<T: Deserialize<'a>>(&self) -> Result<Option<T>, Error> {
        self.output
            .as_ref()
            .map(RunOutputRef::content_as)
            .transpose()
    }

    /// Converts to the owned event, decoding the raw parts. Fails only if a raw part does
    /// not have the shape the owned type requires (e.g. a text output whose content is not
    /// a string).
    pub fn into_owned(self) -> Result<TaskRunEvent, Error> {
        Ok(TaskRunEvent {
            event_id: self.event_id.map(Cow::into_owned),
            run: self.run.into_owned()?,
            input: parse_opt(self.input, "the run input")?,
            output: self.output.map(RunOutputRef::into_owned).transpose()?,
        })
    }
}

/// A `task_run.state` event with the run's own input decoded as `I` and the output content
/// as `O`, in a single pass over the bytes: the fastest way to read typed results from a
/// runs stream. Ids borrow from the bytes as in [`TaskRunEventRef`]; `I` and `O` may borrow
/// too (`&str`, `Cow<str>` fields). The other members of the run input (processor, metadata,
/// spec, ...) are skipped; use [`TaskRunEventRef`] to read them.
///
/// ```
/// use parallel_types::TaskRunEventAs;
///
/// #[derive(serde::Deserialize)]
/// struct Company<'a> { company_name: &'a str }
/// #[derive(serde::Deserialize)]
/// struct Facts { founded_year: String }
///
/// let data = br#"{"type":"task_run.state","event_id":"17",
///   "input":{"input":{"company_name":"Acme"},"processor":"core-fast"},
///   "run":{"run_id":"trun_1","status":"completed","is_active":false,"processor":"core-fast"},
///   "output":{"type":"json","content":{"founded_year":"1998"},"basis":[]}}"#;
/// let event: TaskRunEventAs<'_, Company<'_>, Facts> = TaskRunEventAs::from_slice(data)?;
/// assert_eq!(event.input.expect("input requested").company_name, "Acme");
/// assert_eq!(event.output.expect("run completed").content.founded_year, "1998");
/// # Ok::<(), parallel_types::Error>(())
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(bound(deserialize = "I: Deserialize<'de>, O: Deserialize<'de>"))]
#[non_exhaustive]
pub struct TaskRunEventAs<'a, I, O> {
    /// Resume cursor (null outside group streams).
    #[serde(default, borrow, deserialize_with = "option_cow_str")]
    pub event_id: Option<Cow<'a, str>>,
    /// The run.
    #[serde(borrow)]
    pub run: TaskRunRef<'a>,
    /// The run's own input (the `input` member of the run input); `None` when the event
    /// carries no input.
    #[serde(default = "none", deserialize_with = "input_member")]
    pub input: Option<I>,
    /// The output, with its content as `O`; `None` when the event carries no output.
    #[serde(default = "none", borrow)]
    pub output: Option<RunOutputAs<'a, O>>,
}

impl<'a, I: Deserialize<'a>, O: Deserialize<'a>> TaskRunEventAs<'a, I, O> {
    /// Decodes an event from JSON bytes, borrowing from them. The error says whether the
    /// event, the input or the output content did not match.
    pub fn from_slice(json: &'a [u8]) -> Result<Self, Error> {
        json_from_slice(json).map_err(Error::decode(
            "a task_run.state event with the requested input and output types (do the types \
             match the run's input and output schema?)",
        ))
    }
}

/// A run output with its content decoded as `O`; the rest stays raw, as in [`RunOutputRef`].
#[derive(Debug, Clone, Deserialize)]
#[non_exhaustive]
pub struct RunOutputAs<'a, O> {
    /// The output type: `json`, `text`, or a type this version does not know.
    #[serde(rename = "type", borrow, deserialize_with = "cow_str")]
    pub output_type: Cow<'a, str>,
    /// The content: for a `json` output its object, for a `text` output its string.
    pub content: O,
    /// The research basis, raw; see [`RunOutputAs::basis`].
    #[serde(default, borrow)]
    pub basis: Option<&'a RawValue>,
    /// MCP tool calls, raw.
    #[serde(default, borrow)]
    pub mcp_tool_calls: Option<&'a RawValue>,
    /// For auto-schema runs, the schema the service chose, raw.
    #[serde(default, borrow)]
    pub output_schema: Option<&'a RawValue>,
    /// Deprecated beta fields, raw.
    #[serde(default, borrow)]
    pub beta_fields: Option<&'a RawValue>,
}

impl<O> RunOutputAs<'_, O> {
    /// The research basis, decoded (empty when absent or null).
    pub fn basis(&self) -> Result<Vec<FieldBasis>, Error> {
        basis(self.basis)
    }
}

fn none<T>() -> Option<T> {
    None
}

/// The `input` member of a run input object (or null), skipping the object's other members.
fn input_member<'de, D: Deserializer<'de>, I: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<I>, D::Error> {
    #[derive(Deserialize)]
    struct InputMember<I> {
        input: I,
    }
    Ok(Option::<InputMember<I>>::deserialize(deserializer)?.map(|member| member.input))
}

fn basis(raw: Option<&RawValue>) -> Result<Vec<FieldBasis>, Error> {
    Ok(parse_opt(raw, "the output's basis")?.unwrap_or_default())
}

/// A borrowed [`TaskRun`].
#[derive(Debug, Clone, Deserialize)]
#[non_exhaustive]
pub struct TaskRunRef<'a> {
    /// The run id.
    #[serde(borrow, deserialize_with = "cow_str")]
    pub run_id: Cow<'a, str>,
    /// The interaction id (empty when the server is older than this field).
    #[serde(default, borrow, deserialize_with = "null_as_empty")]
    pub interaction_id: Cow<'a, str>,
    /// Current status (known values are not allocated).
    pub status: RunStatus,
    /// Whether the run is queued, running or cancelling.
    pub is_active: bool,
    /// The processor (known values are not allocated).
    pub processor: Processor,
    /// Creation time, RFC 3339.
    #[serde(default, borrow, deserialize_with = "option_cow_str")]
    pub created_at: Option<Cow<'a, str>>,
    /// Time of the last status change, RFC 3339.
    #[serde(default, borrow, deserialize_with = "option_cow_str")]
    pub modified_at: Option<Cow<'a, str>>,
    /// Warnings, raw; see [`TaskRunRef::warnings`].
    #[serde(default, borrow)]
    pub warnings: Option<&'a RawValue>,
    /// Error of a failed run, raw; see [`TaskRunRef::error`].
    #[serde(default, borrow)]
    pub error: Option<&'a RawValue>,
    /// Metadata, raw; see [`TaskRunRef::metadata`].
    #[serde(default, borrow)]
    pub metadata: Option<&'a RawValue>,
    /// The group the run belongs to.
    #[serde(default, borrow, deserialize_with = "option_cow_str")]
    pub taskgroup_id: Option<Cow<'a, str>>,
}

impl<'a> TaskRunRef<'a> {
    /// Whether the run is finished, by the rule of [`TaskRun::is_finished`].
    ///
    /// ```
    /// use parallel_types::TaskRunRef;
    ///
    /// let json = r#"{"run_id":"trun_1","status":"running","is_active":true,"processor":"base"}"#;
    /// let run: TaskRunRef<'_> = serde_json::from_str(json).unwrap();
    /// assert!(!run.is_finished());
    /// ```
    pub fn is_finished(&self) -> bool {
        crate::run::is_finished(self.is_active, &self.status)
    }

    /// The warnings, decoded.
    pub fn warnings(&self) -> Result<Option<Vec<Warning>>, Error> {
        parse_opt(self.warnings, "the run's warnings")
    }

    /// The error of a failed run, decoded.
    pub fn error(&self) -> Result<Option<ErrorObject>, Error> {
        parse_opt(self.error, "the run's error")
    }

    /// The metadata, decoded.
    pub fn metadata(&self) -> Result<Option<Metadata>, Error> {
        parse_opt(self.metadata, "the run's metadata")
    }

    /// The metadata decoded as the caller's own type (e.g. a struct with borrowed fields).
    pub fn metadata_as<T: Deserialize<'a>>(&self) -> Result<Option<T>, Error> {
        parse_opt(self.metadata, "the run's metadata as the requested type")
    }

    /// Converts to the owned run.
    pub fn into_owned(self) -> Result<TaskRun, Error> {
        Ok(TaskRun {
            warnings: self.warnings()?,
            error: self.error()?,
            metadata: self.metadata()?,
            run_id: self.run_id.into_owned(),
            interaction_id: self.interaction_id.into_owned(),
            status: self.status,
            is_active: self.is_active,
            processor: self.processor,
            created_at: self.created_at.map(Cow::into_owned),
            modified_at: self.modified_at.map(Cow::into_owned),
            taskgroup_id: self.taskgroup_id.map(Cow::into_owned),
        })
    }
}

/// A borrowed [`RunOutput`]: the content and nested objects stay raw.
#[derive(Debug, Clone, Deserialize)]
#[non_exhaustive]
pub struct RunOutputRef<'a> {
    /// The output type: `json`, `text`, or a type this version does not know.
    #[serde(rename = "type", borrow, deserialize_with = "cow_str")]
    pub output_type: Cow<'a, str>,
    /// The content, raw: a JSON object for `json`, a JSON string for `text`.
    #[serde(borrow, default = "raw_null")]
    pub content: &'a RawValue,
    /// The research basis, raw; see [`RunOutputRef::basis`].
    #[serde(default, borrow)]
    pub basis: Option<&'a RawValue>,
    /// MCP tool calls, raw.
    #[serde(default, borrow)]
    pub mcp_tool_calls: Option<&'a RawValue>,
    /// For auto-schema runs, the schema the service chose, raw.
    #[serde(default, borrow)]
    pub output_schema: Option<&'a RawValue>,
    /// Deprecated beta fields, raw.
    #[serde(default, borrow)]
    pub beta_fields: Option<&'a RawValue>,
}

fn null_as_empty<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Cow<'de, str>, D::Error> {
    Ok(option_cow_str(deserializer)?.unwrap_or_default())
}

fn raw_null() -> &'static RawValue {
    RawValue::NULL
}

impl<'a> RunOutputRef<'a> {
    /// The content decoded as `T` straight from the raw bytes.
    pub fn content_as<T: Deserialize<'a>>(&self) -> Result<T, Error> {
        parse(self.content, USER_OUTPUT)
    }

    /// The research basis, decoded (empty when absent or null).
    pub fn basis(&self) -> Result<Vec<FieldBasis>, Error> {
        basis(self.basis)
    }

    /// MCP tool calls, decoded.
    pub fn mcp_tool_calls(&self) -> Result<Option<Vec<McpToolCall>>, Error> {
        parse_opt(self.mcp_tool_calls, "the output's MCP tool calls")
    }

    /// Converts to the owned output. An output of unknown type becomes
    /// [`RunOutput::Other`] holding its type and the members this view knows (present and
    /// not null); other members of such an output are not kept.
    pub fn into_owned(self) -> Result<RunOutput, Error> {
        match &*self.output_type {
            "json" => Ok(RunOutput::Json(JsonOutput {
                content: parse(self.content, "the JSON output content")?,
                basis: self.basis()?,
                mcp_tool_calls: self.mcp_tool_calls()?,
                output_schema: parse_opt(self.output_schema, "the output's schema")?,
                beta_fields: parse_opt(self.beta_fields, "the output's beta fields")?,
            })),
            "text" => Ok(RunOutput::Text(TextOutput {
                content: parse(self.content, "the text output content (a JSON string)")?,
                basis: self.basis()?,
                mcp_tool_calls: self.mcp_tool_calls()?,
                beta_fields: parse_opt(self.beta_fields, "the output's beta fields")?,
            })),
            _ => {
                let mut object = Map::new();
                object.insert(
                    "type".to_owned(),
                    Value::String(self.output_type.into_owned()),
                );
                object.insert(
                    "content".to_owned(),
                    parse(self.content, "the output content")?,
                );
                let rest = [
                    ("basis", self.basis),
                    ("mcp_tool_calls", self.mcp_tool_calls),
                    ("output_schema", self.output_schema),
                    ("beta_fields", self.beta_fields),
                ];
                for (name, raw) in rest {
                    if let Some(raw) = raw {
                        object.insert(name.to_owned(), parse(raw, "an output member")?);
                    }
                }
                Ok(RunOutput::Other(Value::Object(object)))
            }
        }
    }
}

/// The `type` and `event_id` of an event's JSON, read without decoding the rest: what a
/// stream reader needs to route an event (and to resume after it) before it decodes it.
///
/// Servers write these two members first (`{"type":"..","event_id":"..",...}`); then they are
/// read straight from the first bytes, borrowed, and nothing after them is looked at (the
/// caller's full decode checks the rest). Any other layout takes a full parse of the object.
///
/// ```
/// use parallel_types::EventHead;
///
/// let head = EventHead::from_slice(br#"{"type":"task_run.state","event_id":"17","run":{}}"#)?;
/// assert_eq!(head.event_type.as_deref(), Some("task_run.state"));
/// assert_eq!(head.event_id.as_deref(), Some("17"));
/// // Another layout is read too; an object without a string `type` has none.
/// let head = EventHead::from_slice(br#"{"event_id":"3","type":"error"}"#)?;
/// assert_eq!(head.event_type.as_deref(), Some("error"));
/// assert_eq!(EventHead::from_slice(br#"{"x":1}"#)?.event_type, None);
/// assert!(EventHead::from_slice(b"[1").is_err());
/// # Ok::<(), parallel_types::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EventHead<'a> {
    /// The event's `type`; `None` when the object has no `type`, or one that is not a string.
    pub event_type: Option<Cow<'a, str>>,
    /// The event's `event_id` (its resume cursor); `None` when absent or `null`.
    pub event_id: Option<Cow<'a, str>>,
}

impl<'a> EventHead<'a> {
    /// Reads the `type` and `event_id` of the event object in `json`. Fails when `json` is
    /// not a JSON object (read in full when the members are not in front), or when its
    /// `event_id` is neither a string nor `null`.
    pub fn from_slice(json: &'a [u8]) -> Result<Self, Error> {
        if let Some((event_type, event_id)) = leading_type_and_id(json) {
            return Ok(Self {
                event_type: Some(Cow::Borrowed(event_type)),
                event_id: event_id.map(Cow::Borrowed),
            });
        }
        let loose: LooseHead<'a> = json_from_slice(json).map_err(Error::decode("an event"))?;
        Ok(Self {
            event_type: loose
                .event_type
                .and_then(|raw| serde_json::from_str::<Key<'a>>(raw.get()).ok())
                .map(|key| key.0),
            event_id: loose.event_id.flatten().map(|key| key.0),
        })
    }
}

/// `type` (raw, any JSON) and `event_id` (a string or `null`) of an event object, the other
/// members skipped. Only an object is accepted (a derived struct would take an array too).
struct LooseHead<'a> {
    event_type: Option<&'a RawValue>,
    #[allow(clippy::option_option)] // absent, `null`, or a string
    event_id: Option<Option<Key<'a>>>,
}

impl<'de> Deserialize<'de> for LooseHead<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;

        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = LooseHead<'de>;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an event object")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Self::Value, A::Error> {
                let mut head = LooseHead {
                    event_type: None,
                    event_id: None,
                };
                while let Some(key) = map.next_key::<Key<'de>>()? {
                    match &*key.0 {
                        "type" => head.event_type = Some(map.next_value()?),
                        "event_id" => head.event_id = Some(map.next_value()?),
                        _ => {
                            map.next_value::<serde::de::IgnoredAny>()?;
                        }
                    }
                }
                Ok(head)
            }
        }

        deserializer.deserialize_map(Visitor)
    }
}

/// The `type` and `event_id` of an event laid out as servers write it, read from its first
/// bytes without looking at the rest: `{"type":"<type>","event_id":"<id>"` (or `null` for
/// the id), then `,` or `}`, with optional whitespace and both strings without escapes.
/// `None` for any other layout; decode the event then. Nothing after these two members is
/// validated: a stream reader uses this to route an event cheaply and decodes it in full
/// later.
fn leading_type_and_id(json: &[u8]) -> Option<(&str, Option<&str>)> {
    let mut at = Front { json, pos: 0 };
    at.byte(b'{')?;
    at.literal(b"\"type\"")?;
    at.byte(b':')?;
    let event_type = at.plain_string()?;
    at.byte(b',')?;
    at.literal(b"\"event_id\"")?;
    at.byte(b':')?;
    let event_id = if at.literal(b"null").is_some() {
        None
    } else {
        Some(at.plain_string()?)
    };
    at.skip_whitespace();
    matches!(at.json.get(at.pos), Some(b',' | b'}')).then_some((event_type, event_id))
}

/// A reader of the first bytes of an event, for [`leading_type_and_id`].
struct Front<'a> {
    json: &'a [u8],
    pos: usize,
}

impl<'a> Front<'a> {
    fn skip_whitespace(&mut self) {
        while matches!(self.json.get(self.pos), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn byte(&mut self, expected: u8) -> Option<()> {
        self.skip_whitespace();
        (self.json.get(self.pos) == Some(&expected)).then(|| self.pos += 1)
    }

    fn literal(&mut self, expected: &[u8]) -> Option<()> {
        self.skip_whitespace();
        self.json
            .get(self.pos..)?
            .starts_with(expected)
            .then(|| self.pos += expected.len())
    }

    /// A JSON string without escapes or control characters.
    fn plain_string(&mut self) -> Option<&'a str> {
        self.byte(b'"')?;
        let rest = self.json.get(self.pos..)?;
        let len = rest
            .iter()
            .position(|&b| b == b'"' || b == b'\\' || b < 0x20)?;
        if rest[len] != b'"' {
            return None;
        }
        let text = std::str::from_utf8(&rest[..len]).ok()?;
        self.pos += len + 1;
        Some(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leading_type_and_id_reads_only_the_server_layout() {
        assert_eq!(
            leading_type_and_id(br#"{"type":"task_run.state","event_id":"17","run":{}}"#),
            Some(("task_run.state", Some("17")))
        );
        assert_eq!(
            leading_type_and_id(b"{ \"type\" : \"error\" ,\n \"event_id\" : null }"),
            Some(("error", None))
        );
        // Another order, escapes, a missing id, a non-string id or truncation: not read here.
        for other in [
            &br#"{"event_id":"3","type":"task_group_status"}"#[..],
            br#"{"type":"a\u002eb","event_id":"5"}"#,
            br#"{"type":"error","error":{}}"#,
            br#"{"type":"x","event_id":5}"#,
            br#"{"type":"x","event_id":"5""#,
            br#"{"type":"x","event_id":"5"]"#,
        ] {
            assert_eq!(leading_type_and_id(other), None, "{other:?}");
        }
    }
}
