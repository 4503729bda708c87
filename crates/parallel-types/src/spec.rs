//! Task specs: what a run gets as input and must produce as output.

use serde::de::Error as _;
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

/// The task spec of a run or a group's default: its output schema and optional input schema.
///
/// Omitting a task spec is the same as `{"output_schema":{"type":"auto"}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TaskSpec {
    /// The output the run must produce. A spec echoed without one, or with `null`, decodes
    /// as [`OutputSchema::Other`] holding `null`.
    #[serde(default = "OutputSchema::null")]
    pub output_schema: OutputSchema,
    /// The shape of the input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_schema: Option<InputSchema>,
}

impl TaskSpec {
    /// A spec with a JSON output schema.
    pub fn json(output_schema: Value) -> Self {
        Self {
            output_schema: OutputSchema::Json(JsonSchema::new(output_schema)),
            input_schema: None,
        }
    }

    /// A spec with a free-text output described by `description`.
    pub fn text(description: impl Into<String>) -> Self {
        Self {
            output_schema: OutputSchema::Text(TextSchema::new(description)),
            input_schema: None,
        }
    }

    /// A spec that lets the service choose the output schema.
    pub fn auto() -> Self {
        Self {
            output_schema: OutputSchema::Auto,
            input_schema: None,
        }
    }

    /// Sets the input schema.
    #[must_use]
    pub fn with_input_schema(mut self, input_schema: InputSchema) -> Self {
        self.input_schema = Some(input_schema);
        self
    }
}

/// A JSON output schema (`{"type":"json","json_schema":{...}}`).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct JsonSchema {
    /// The JSON Schema (the API supports a subset; nesting at most 3 levels).
    pub json_schema: Value,
}

impl JsonSchema {
    /// Wraps a JSON Schema document.
    pub fn new(json_schema: Value) -> Self {
        Self { json_schema }
    }
}

/// A free-text schema (`{"type":"text","description":...}`).
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct TextSchema {
    /// What the text should contain.
    pub description: Option<String>,
}

impl TextSchema {
    /// A text schema with a description.
    pub fn new(description: impl Into<String>) -> Self {
        Self {
            description: Some(description.into()),
        }
    }
}

/// The output schema of a [`TaskSpec`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum OutputSchema {
    /// Structured JSON output.
    Json(JsonSchema),
    /// Free-text output.
    Text(TextSchema),
    /// The service chooses the schema (`{"type":"auto"}`).
    Auto,
    /// A bare JSON string: a text schema with this description, written back as a bare string.
    Bare(String),
    /// Anything else, kept whole and written back unchanged: a schema object with a `type`
    /// this version does not know, or a shape it cannot read as its type (`null`, a `json`
    /// schema without `json_schema`, a `text` schema whose `description` is not a string).
    Other(Value),
}

impl OutputSchema {
    fn null() -> Self {
        Self::Other(Value::Null)
    }
}

/// The input schema of a [`TaskSpec`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum InputSchema {
    /// Structured JSON input.
    Json(JsonSchema),
    /// Free-text input.
    Text(TextSchema),
    /// A bare JSON string: a text schema with this description, written back as a bare string.
    Bare(String),
    /// Anything else, kept whole and written back unchanged: a schema object with a `type`
    /// this version does not know, or a shape it cannot read as its type (a `json` schema
    /// without `json_schema`, a `text` schema whose `description` is not a string).
    Other(Value),
}

/// The schema shapes both unions share, decoded from a JSON value.
enum Shape {
    Json(JsonSchema),
    Text(TextSchema),
    Auto,
    Bare(String),
    Other(Value),
}

impl Shape {
    // Schemas are small, so going through `Value` costs nothing that matters and keeps the
    // documented inference rule in one readable place: `type` first; without it, an object
    // holding `json_schema` is JSON, any other object text; a string is a bare description.
    // A shape that fits none of them is kept whole (`Other`): a response must not fail to
    // decode over a schema the server echoes back, and `Other` writes it back unchanged.
    fn from_value<E: serde::de::Error>(value: Value) -> Result<Self, E> {
        match value {
            Value::String(description) => Ok(Self::Bare(description)),
            Value::Object(object) => Ok(Self::from_object(object)),
            Value::Null => Ok(Self::Other(Value::Null)),
            other => Err(E::custom(format!(
                "expected a schema object, string or null, found {other}"
            ))),
        }
    }

    fn from_object(mut object: Map<String, Value>) -> Self {
        let kind = match object.get("type") {
            None | Some(Value::Null) if object.contains_key("json_schema") => "json",
            None | Some(Value::Null) => "text",
            Some(Value::String(kind)) => kind.as_str(),
            Some(_) => return Self::Other(Value::Object(object)),
        };
        match kind {
            "json" => match object.remove("json_schema") {
                Some(json_schema) => Self::Json(JsonSchema { json_schema }),
                None => Self::Other(Value::Object(object)),
            },
            "text" => match object.get("description") {
                None | Some(Value::Null) => Self::Text(TextSchema { description: None }),
                Some(Value::String(description)) => Self::Text(TextSchema {
                    description: Some(description.clone()),
                }),
                Some(_) => Self::Other(Value::Object(object)),
            },
            "auto" => Self::Auto,
            _ => Self::Other(Value::Object(object)),
        }
    }
}

fn serialize_json<S: Serializer>(schema: &JsonSchema, serializer: S) -> Result<S::Ok, S::Error> {
    let mut map = serializer.serialize_map(Some(2))?;
    map.serialize_entry("type", "json")?;
    map.serialize_entry("json_schema", &schema.json_schema)?;
    map.end()
}

fn serialize_text<S: Serializer>(schema: &TextSchema, serializer: S) -> Result<S::Ok, S::Error> {
    let mut map = serializer.serialize_map(None)?;
    map.serialize_entry("type", "text")?;
    if let Some(description) = &schema.description {
        map.serialize_entry("description", description)?;
    }
    map.end()
}

impl Serialize for JsonSchema {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serialize_json(self, serializer)
    }
}

impl Serialize for TextSchema {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serialize_text(self, serializer)
    }
}

impl<'de> Deserialize<'de> for JsonSchema {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Shape::from_value(Value::deserialize(deserializer)?)? {
            Shape::Json(schema) => Ok(schema),
            _ => Err(D::Error::custom(
                "expected a JSON schema object (`type`: `json`, with a `json_schema` member)",
            )),
        }
    }
}

impl<'de> Deserialize<'de> for TextSchema {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Shape::from_value(Value::deserialize(deserializer)?)? {
            Shape::Text(schema) => Ok(schema),
            Shape::Bare(description) => Ok(TextSchema {
                description: Some(description),
            }),
            _ => Err(D::Error::custom(
                "expected a text schema (`type`: `text`, `description` a string or null)",
            )),
        }
    }
}

impl Serialize for OutputSchema {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Json(schema) => serialize_json(schema, serializer),
            Self::Text(schema) => serialize_text(schema, serializer),
            Self::Auto => {
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry("type", "auto")?;
                map.end()
            }
            Self::Bare(description) => serializer.serialize_str(description),
            Self::Other(raw) => raw.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for OutputSchema {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(
            match Shape::from_value(Value::deserialize(deserializer)?)? {
                Shape::Json(schema) => Self::Json(schema),
                Shape::Text(schema) => Self::Text(schema),
                Shape::Auto => Self::Auto,
                Shape::Bare(description) => Self::Bare(description),
                Shape::Other(raw) => Self::Other(raw),
            },
        )
    }
}

impl Serialize for InputSchema {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Json(schema) => serialize_json(schema, serializer),
            Self::Text(schema) => serialize_text(schema, serializer),
            Self::Bare(description) => serializer.serialize_str(description),
            Self::Other(raw) => raw.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for InputSchema {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(
            match Shape::from_value(Value::deserialize(deserializer)?)? {
                Shape::Json(schema) => Self::Json(schema),
                Shape::Text(schema) => Self::Text(schema),
                // `auto` is not a valid input schema; keep it rather than fail.
                Shape::Auto => Self::Other(serde_json::json!({ "type": "auto" })),
                Shape::Bare(description) => Self::Bare(description),
                Shape::Other(raw) => Self::Other(raw),
            },
        )
    }
}
