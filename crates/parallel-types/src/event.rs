//! Server-sent events and the unions each stream carries.
//!
//! Every event is a JSON object whose `"type"` names it. Each event struct writes its own
//! `"type"` when serialized and ignores it when deserialized on its own; the unions read it
//! to pick the variant and keep events of unknown type whole instead of failing.

use serde::ser::SerializeStruct;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::serde_util::null_as_default;
use crate::tagged::{Tagged, deserialize_tagged};
use crate::{ErrorObject, ProgressMessageKind, RunInput, RunOutput, TaskGroupStatus, TaskRun};

/// Event type of [`TaskGroupStatusEvent`].
pub const TASK_GROUP_STATUS: &str = "task_group_status";
/// Event type of [`TaskRunEvent`].
pub const TASK_RUN_STATE: &str = "task_run.state";
/// Event type of [`ErrorEvent`].
pub const ERROR: &str = "error";
/// Event type of [`ProgressStatsEvent`].
pub const TASK_RUN_PROGRESS_STATS: &str = "task_run.progress_stats";
/// Event type prefix of [`ProgressMessageEvent`]; the kind follows.
pub const TASK_RUN_PROGRESS_MSG_PREFIX: &str = "task_run.progress_msg.";

/// `task_group_status`: the group's aggregated status changed.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct TaskGroupStatusEvent {
    /// Resume cursor: pass as `last_event_id` to continue after this event.
    #[serde(default, deserialize_with = "null_as_default")]
    pub event_id: String,
    /// The group status.
    pub status: TaskGroupStatus,
}

impl TaskGroupStatusEvent {
    /// The event of `status`, with resume cursor `event_id`.
    pub fn new(event_id: impl Into<String>, status: TaskGroupStatus) -> Self {
        Self {
            event_id: event_id.into(),
            status,
        }
    }
}

impl Serialize for TaskGroupStatusEvent {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut state = serializer.serialize_struct("TaskGroupStatusEvent", 3)?;
        state.serialize_field("type", TASK_GROUP_STATUS)?;
        state.serialize_field("event_id", &self.event_id)?;
        state.serialize_field("status", &self.status)?;
        state.end()
    }
}

/// `task_run.state`: a run's state, with its input and output when they were asked for.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct TaskRunEvent {
    /// Resume cursor (null outside group streams).
    #[serde(default)]
    pub event_id: Option<String>,
    /// The run.
    pub run: TaskRun,
    /// The run's input (group runs stream with `include_input=true`).
    #[serde(default)]
    pub input: Option<RunInput>,
    /// The run's output (`include_output=true` and completed, or the run stream's last event).
    #[serde(default)]
    pub output: Option<RunOutput>,
}

impl TaskRunEvent {
    /// The state event of `run`, without cursor, input or output; set those on the value
    /// it returns.
    pub fn new(run: TaskRun) -> Self {
        Self {
            event_id: None,
            run,
            input: None,
            output: None,
        }
    }
}

impl Serialize for TaskRunEvent {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut state = serializer.serialize_struct("TaskRunEvent", 5)?;
        state.serialize_field("type", TASK_RUN_STATE)?;
        state.serialize_field("event_id", &self.event_id)?;
        state.serialize_field("input", &self.input)?;
        state.serialize_field("run", &self.run)?;
        state.serialize_field("output", &self.output)?;
        state.end()
    }
}

/// `error`: the stream hit an error.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct ErrorEvent {
    /// The error.
    pub error: ErrorObject,
}

impl ErrorEvent {
    /// The event reporting `error`.
    pub fn new(error: ErrorObject) -> Self {
        Self { error }
    }
}

impl Serialize for ErrorEvent {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut state = serializer.serialize_struct("ErrorEvent", 2)?;
        state.serialize_field("type", ERROR)?;
        state.serialize_field("error", &self.error)?;
        state.end()
    }
}

/// `task_run.progress_stats`: how far a run has got (run stream only).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct ProgressStatsEvent {
    /// Progress, 0 to 100.
    #[serde(default)]
    pub progress_meter: f64,
    /// Source counts.
    #[serde(default)]
    pub source_stats: SourceStats,
}

impl Serialize for ProgressStatsEvent {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut state = serializer.serialize_struct("ProgressStatsEvent", 3)?;
        state.serialize_field("type", TASK_RUN_PROGRESS_STATS)?;
        state.serialize_field("progress_meter", &self.progress_meter)?;
        state.serialize_field("source_stats", &self.source_stats)?;
        state.end()
    }
}

/// Source counts of a [`ProgressStatsEvent`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SourceStats {
    /// Sources considered so far.
    #[serde(default)]
    pub num_sources_considered: Option<u64>,
    /// Sources read so far.
    #[serde(default)]
    pub num_sources_read: Option<u64>,
    /// A sample of the sources read.
    #[serde(default)]
    pub sources_read_sample: Option<Vec<String>>,
}

/// `task_run.progress_msg.<kind>`: a step of the run's reasoning trace (run stream only).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ProgressMessageEvent {
    /// The kind, from the event type after `task_run.progress_msg.`.
    pub kind: ProgressMessageKind,
    /// The message.
    pub message: String,
    /// When it happened, RFC 3339.
    pub timestamp: Option<String>,
}

impl ProgressMessageEvent {
    /// The full event type, e.g. `task_run.progress_msg.plan`.
    pub fn event_type(&self) -> String {
        format!("{TASK_RUN_PROGRESS_MSG_PREFIX}{}", self.kind)
    }
}

#[derive(Deserialize)]
struct ProgressMessageFields {
    #[serde(default, deserialize_with = "null_as_default")]
    message: String,
    #[serde(default)]
    timestamp: Option<String>,
}

impl Serialize for ProgressMessageEvent {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut state = serializer.serialize_struct("ProgressMessageEvent", 3)?;
        state.serialize_field("type", &self.event_type())?;
        state.serialize_field("message", &self.message)?;
        state.serialize_field("timestamp", &self.timestamp)?;
        state.end()
    }
}

impl<'de> Deserialize<'de> for ProgressMessageEvent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Wire {
            #[serde(rename = "type")]
            event_type: String,
            #[serde(flatten)]
            fields: ProgressMessageFields,
        }
        let wire = Wire::deserialize(deserializer)?;
        let kind = wire.event_type.strip_prefix(TASK_RUN_PROGRESS_MSG_PREFIX).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "expected an event type starting with `{TASK_RUN_PROGRESS_MSG_PREFIX}`, found `{}`",
                wire.event_type
            ))
        })?;
        Ok(Self::from_fields(
            ProgressMessageKind::from(kind),
            wire.fields,
        ))
    }
}

impl ProgressMessageEvent {
    fn from_fields(kind: ProgressMessageKind, fields: ProgressMessageFields) -> Self {
        Self {
            kind,
            message: fields.message,
            timestamp: fields.timestamp,
        }
    }
}

/// An event on a group's events stream (`GET /v1/tasks/groups/{id}/events`).
// Not boxed: events are decoded and handled one at a time, and plain variants keep
// construction and matching simple for emulators and tests.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum GroupEvent {
    /// `task_group_status`.
    TaskGroupStatus(TaskGroupStatusEvent),
    /// `task_run.state` (a run reached a final status; no input or output here).
    TaskRunState(TaskRunEvent),
    /// `error`.
    Error(ErrorEvent),
    /// An event of a type this version does not know, kept whole.
    Unknown(Value),
}

/// An event on a group's runs stream (`GET /v1/tasks/groups/{id}/runs`).
// Not boxed: events are decoded and handled one at a time, and plain variants keep
// construction and matching simple for emulators and tests.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum GroupRunEvent {
    /// `task_run.state`.
    TaskRunState(TaskRunEvent),
    /// `error`.
    Error(ErrorEvent),
    /// An event of a type this version does not know, kept whole.
    Unknown(Value),
}

/// An event on a run's events stream (`GET /v1/tasks/runs/{id}/events`).
// Not boxed: events are decoded and handled one at a time, and plain variants keep
// construction and matching simple for emulators and tests.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum RunEvent {
    /// `task_run.state`.
    TaskRunState(TaskRunEvent),
    /// `task_run.progress_stats`.
    ProgressStats(ProgressStatsEvent),
    /// `task_run.progress_msg.*`.
    ProgressMessage(ProgressMessageEvent),
    /// `error`.
    Error(ErrorEvent),
    /// An event of a type this version does not know, kept whole.
    Unknown(Value),
}

fn unknown_type(raw: &Value) -> &str {
    raw.get("type").and_then(Value::as_str).unwrap_or("")
}

impl GroupEvent {
    /// The event's `type` string (empty if an unknown event has none).
    pub fn event_type(&self) -> &str {
        match self {
            Self::TaskGroupStatus(_) => TASK_GROUP_STATUS,
            Self::TaskRunState(_) => TASK_RUN_STATE,
            Self::Error(_) => ERROR,
            Self::Unknown(raw) => unknown_type(raw),
        }
    }

    /// The resume cursor of this event, if it has one.
    pub fn event_id(&self) -> Option<&str> {
        match self {
            Self::TaskGroupStatus(event) => Some(&event.event_id),
            Self::TaskRunState(event) => event.event_id.as_deref(),
            Self::Error(_) => None,
            Self::Unknown(raw) => raw.get("event_id").and_then(Value::as_str),
        }
    }
}

impl GroupRunEvent {
    /// The event's `type` string (empty if an unknown event has none).
    pub fn event_type(&self) -> &str {
        match self {
            Self::TaskRunState(_) => TASK_RUN_STATE,
            Self::Error(_) => ERROR,
            Self::Unknown(raw) => unknown_type(raw),
        }
    }

    /// The resume cursor of this event, if it has one.
    pub fn event_id(&self) -> Option<&str> {
        match self {
            Self::TaskRunState(event) => event.event_id.as_deref(),
            Self::Error(_) => None,
            Self::Unknown(raw) => raw.get("event_id").and_then(Value::as_str),
        }
    }
}

impl RunEvent {
    /// The event's `type` string (empty if an unknown event has none).
    pub fn event_type(&self) -> std::borrow::Cow<'_, str> {
        match self {
            Self::TaskRunState(_) => TASK_RUN_STATE.into(),
            Self::ProgressStats(_) => TASK_RUN_PROGRESS_STATS.into(),
            Self::ProgressMessage(event) => event.event_type().into(),
            Self::Error(_) => ERROR.into(),
            Self::Unknown(raw) => unknown_type(raw).into(),
        }
    }
}

impl<'de> Tagged<'de> for GroupEvent {
    const EXPECTING: &'static str = "a group event object";

    fn is_known(tag: &str) -> bool {
        matches!(tag, TASK_GROUP_STATUS | TASK_RUN_STATE | ERROR)
    }

    fn decode<D: Deserializer<'de>>(tag: &str, rest: D) -> Result<Self, D::Error> {
        match tag {
            TASK_GROUP_STATUS => TaskGroupStatusEvent::deserialize(rest).map(Self::TaskGroupStatus),
            TASK_RUN_STATE => TaskRunEvent::deserialize(rest).map(Self::TaskRunState),
            _ => ErrorEvent::deserialize(rest).map(Self::Error),
        }
    }

    fn unknown(raw: Value) -> Self {
        Self::Unknown(raw)
    }
}

impl<'de> Tagged<'de> for GroupRunEvent {
    const EXPECTING: &'static str = "a group run event object";

    fn is_known(tag: &str) -> bool {
        matches!(tag, TASK_RUN_STATE | ERROR)
    }

    fn decode<D: Deserializer<'de>>(tag: &str, rest: D) -> Result<Self, D::Error> {
        match tag {
            TASK_RUN_STATE => TaskRunEvent::deserialize(rest).map(Self::TaskRunState),
            _ => ErrorEvent::deserialize(rest).map(Self::Error),
        }
    }

    fn unknown(raw: Value) -> Self {
        Self::Unknown(raw)
    }
}

impl<'de> Tagged<'de> for RunEvent {
    const EXPECTING: &'static str = "a run event object";

    fn is_known(tag: &str) -> bool {
        matches!(tag, TASK_RUN_STATE | TASK_RUN_PROGRESS_STATS | ERROR)
            || tag
                .strip_prefix(TASK_RUN_PROGRESS_MSG_PREFIX)
                .is_some_and(|kind| !kind.is_empty())
    }

    fn decode<D: Deserializer<'de>>(tag: &str, rest: D) -> Result<Self, D::Error> {
        match tag {
            TASK_RUN_STATE => TaskRunEvent::deserialize(rest).map(Self::TaskRunState),
            TASK_RUN_PROGRESS_STATS => {
                ProgressStatsEvent::deserialize(rest).map(Self::ProgressStats)
            }
            ERROR => ErrorEvent::deserialize(rest).map(Self::Error),
            _ => {
                let kind = tag
                    .strip_prefix(TASK_RUN_PROGRESS_MSG_PREFIX)
                    .unwrap_or(tag);
                let fields = ProgressMessageFields::deserialize(rest)?;
                Ok(Self::ProgressMessage(ProgressMessageEvent::from_fields(
                    ProgressMessageKind::from(kind),
                    fields,
                )))
            }
        }
    }

    fn unknown(raw: Value) -> Self {
        Self::Unknown(raw)
    }
}

macro_rules! union_serde {
    ($name:ident { $($variant:ident),* }) => {
        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                match self {
                    $( Self::$variant(event) => event.serialize(serializer), )*
                    Self::Unknown(raw) => raw.serialize(serializer),
                }
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                deserialize_tagged(deserializer)
            }
        }
    };
}

union_serde!(GroupEvent {
    TaskGroupStatus,
    TaskRunState,
    Error
});
union_serde!(GroupRunEvent {
    TaskRunState,
    Error
});
union_serde!(RunEvent {
    TaskRunState,
    ProgressStats,
    ProgressMessage,
    Error
});
