//! Task runs, their results and outputs.

use serde::ser::SerializeStruct;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::serde_util::null_as_default;
use crate::tagged::{Tagged, deserialize_tagged};
use crate::{ErrorObject, Metadata, Processor, RunStatus, WarningType};

/// A task run's status and identity (`TaskRun`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TaskRun {
    /// The run id (`trun_` followed by 32 hex digits).
    pub run_id: String,
    /// The interaction id, to pass as `previous_interaction_id` later. Empty when the
    /// server is older than this field.
    #[serde(default, deserialize_with = "null_as_default")]
    pub interaction_id: String,
    /// Current status.
    pub status: RunStatus,
    /// Whether the run is queued, running or cancelling.
    pub is_active: bool,
    /// The processor the run uses.
    pub processor: Processor,
    /// Creation time, RFC 3339.
    #[serde(default)]
    pub created_at: Option<String>,
    /// Time of the last status change, RFC 3339.
    #[serde(default)]
    pub modified_at: Option<String>,
    /// Warnings about the run's spec or input.
    #[serde(default)]
    pub warnings: Option<Vec<Warning>>,
    /// Why the run failed; set only for failed runs.
    #[serde(default)]
    pub error: Option<ErrorObject>,
    /// Metadata given at creation.
    #[serde(default)]
    pub metadata: Option<Metadata>,
    /// The group the run belongs to, if any.
    #[serde(default)]
    pub taskgroup_id: Option<String>,
}

impl TaskRun {
    /// A run with this id, status and processor, active as the status says
    /// ([`RunStatus::is_active`]), every other field unset: for tests, emulators and servers
    /// that answer with runs. Set the other fields on the value it returns.
    ///
    /// ```
    /// use parallel_types::{RunStatus, TaskRun};
    ///
    /// let mut run = TaskRun::new("trun_1", RunStatus::Completed, "lite-fast");
    /// run.taskgroup_id = Some("tgrp_1".to_owned());
    /// assert!(run.is_finished());
    /// ```
    pub fn new(
        run_id: impl Into<String>,
        status: RunStatus,
        processor: impl Into<Processor>,
    ) -> Self {
        Self {
            run_id: run_id.into(),
            interaction_id: String::new(),
            is_active: status.is_active(),
            status,
            processor: processor.into(),
            created_at: None,
            modified_at: None,
            warnings: None,
            error: None,
            metadata: None,
            taskgroup_id: None,
        }
    }

    /// Whether the run is finished: the server no longer counts it as active and its status
    /// is [finished](RunStatus::is_finished). An unknown status counts as finished only
    /// once the server says the run is not active.
    pub fn is_finished(&self) -> bool {
        is_finished(self.is_active, &self.status)
    }
}

/// The rule of [`TaskRun::is_finished`], for the owned and the borrowed run.
pub(crate) fn is_finished(is_active: bool, status: &RunStatus) -> bool {
    !is_active && status.is_finished()
}

/// A completed run with its output (`TaskRunResult`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TaskRunResult {
    /// The run.
    pub run: TaskRun,
    /// Its output.
    pub output: RunOutput,
}

/// A warning about a run's spec or input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Warning {
    /// Warning kind.
    #[serde(rename = "type")]
    pub r#type: WarningType,
    /// What is wrong.
    pub message: String,
    /// Structured details.
    #[serde(default)]
    pub detail: Option<Value>,
}

/// The output of a completed run, discriminated by `"type"`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum RunOutput {
    /// `"type":"json"`: structured content.
    Json(JsonOutput),
    /// `"type":"text"`: free text.
    Text(TextOutput),
    /// An output type this version does not know, kept whole.
    Other(Value),
}

impl RunOutput {
    /// The output's `type` string.
    pub fn output_type(&self) -> &str {
        match self {
            Self::Json(_) => "json",
            Self::Text(_) => "text",
            Self::Other(raw) => raw.get("type").and_then(Value::as_str).unwrap_or(""),
        }
    }

    /// The research basis of each output field (empty for unknown output types).
    pub fn basis(&self) -> &[FieldBasis] {
        match self {
            Self::Json(output) => &output.basis,
            Self::Text(output) => &output.basis,
            Self::Other(_) => &[],
        }
    }
}

/// Structured output (`TaskRunJsonOutput`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct JsonOutput {
    /// The output object, shaped by the run's output schema.
    pub content: Value,
    /// The research basis of each output field.
    #[serde(default, deserialize_with = "null_as_default")]
    pub basis: Vec<FieldBasis>,
    /// MCP tool calls made by the run.
    #[serde(default)]
    pub mcp_tool_calls: Option<Vec<McpToolCall>>,
    /// For auto-schema runs: the schema the service chose.
    #[serde(default)]
    pub output_schema: Option<Value>,
    /// Deprecated beta fields.
    #[serde(default)]
    pub beta_fields: Option<Value>,
}

/// Free-text output (`TaskRunTextOutput`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct TextOutput {
    /// The text.
    pub content: String,
    /// The research basis (one entry, `field` = `"output"`).
    #[serde(default, deserialize_with = "null_as_default")]
    pub basis: Vec<FieldBasis>,
    /// MCP tool calls made by the run.
    #[serde(default)]
    pub mcp_tool_calls: Option<Vec<McpToolCall>>,
    /// Deprecated beta fields.
    #[serde(default)]
    pub beta_fields: Option<Value>,
}

impl Serialize for JsonOutput {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut state = serializer.serialize_struct("JsonOutput", 6)?;
        state.serialize_field("type", "json")?;
        state.serialize_field("content", &self.content)?;
        state.serialize_field("basis", &self.basis)?;
        state.serialize_field("mcp_tool_calls", &self.mcp_tool_calls)?;
        state.serialize_field("output_schema", &self.output_schema)?;
        state.serialize_field("beta_fields", &self.beta_fields)?;
        state.end()
    }
}

impl Serialize for TextOutput {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut state = serializer.serialize_struct("TextOutput", 5)?;
        state.serialize_field("type", "text")?;
        state.serialize_field("content", &self.content)?;
        state.serialize_field("basis", &self.basis)?;
        state.serialize_field("mcp_tool_calls", &self.mcp_tool_calls)?;
        state.serialize_field("beta_fields", &self.beta_fields)?;
        state.end()
    }
}

impl Serialize for RunOutput {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Json(output) => output.serialize(serializer),
            Self::Text(output) => output.serialize(serializer),
            Self::Other(raw) => raw.serialize(serializer),
        }
    }
}

impl<'de> Tagged<'de> for RunOutput {
    const EXPECTING: &'static str = "a run output object";

    fn is_known(tag: &str) -> bool {
        matches!(tag, "json" | "text")
    }

    fn decode<D: Deserializer<'de>>(tag: &str, rest: D) -> Result<Self, D::Error> {
        if tag == "json" {
            JsonOutput::deserialize(rest).map(Self::Json)
        } else {
            TextOutput::deserialize(rest).map(Self::Text)
        }
    }

    fn unknown(raw: Value) -> Self {
        Self::Other(raw)
    }
}

impl<'de> Deserialize<'de> for RunOutput {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserialize_tagged(deserializer)
    }
}

/// Why the run believes one output field: citations, reasoning and confidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FieldBasis {
    /// The output field (a top-level key, or `key.N` for array elements).
    pub field: String,
    /// The sources. `None` when the server sent `null` or left the key out, which the
    /// official SDKs keep apart from an empty list; it is written back as `null`.
    #[serde(default)]
    pub citations: Option<Vec<Citation>>,
    /// The reasoning.
    #[serde(default, deserialize_with = "null_as_default")]
    pub reasoning: String,
    /// Confidence, as the server rates it (`low`, `medium`, `high`).
    #[serde(default)]
    pub confidence: Option<String>,
}

impl FieldBasis {
    /// The citations, empty when there are none or the server sent `null`.
    pub fn citation_list(&self) -> &[Citation] {
        self.citations.as_deref().unwrap_or_default()
    }
}

/// A source cited for an output field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Citation {
    /// The source URL. The API documents it as required, but a citation without one
    /// still decodes (as `None`, written back as `null`).
    #[serde(default)]
    pub url: Option<String>,
    /// The page title.
    #[serde(default)]
    pub title: Option<String>,
    /// Relevant excerpts.
    #[serde(default)]
    pub excerpts: Option<Vec<String>>,
}

/// An MCP tool call made during a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct McpToolCall {
    /// The call id.
    pub tool_call_id: String,
    /// The MCP server called.
    pub server_name: String,
    /// The tool called.
    pub tool_name: String,
    /// The arguments, as JSON text.
    pub arguments: String,
    /// The tool's answer.
    #[serde(default)]
    pub content: Option<String>,
    /// The tool's error.
    #[serde(default)]
    pub error: Option<String>,
}
