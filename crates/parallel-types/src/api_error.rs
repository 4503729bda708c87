//! Error bodies the API returns, in both documented shapes.

use std::borrow::Cow;
use std::fmt;

use serde::ser::SerializeStruct;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::serde_util::null_as_default;

/// The error object (`Error`): in error responses, error events and failed runs.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ErrorObject {
    /// Server-side reference for support requests (a dashed UUID). Empty if the server
    /// left it out, as some documented bodies do.
    #[serde(default, deserialize_with = "null_as_default")]
    pub ref_id: String,
    /// What went wrong.
    #[serde(default, deserialize_with = "null_as_default")]
    pub message: String,
    /// Structured details.
    #[serde(default)]
    pub detail: Option<Value>,
}

impl ErrorObject {
    /// An error object with this message, without `ref_id` or detail.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            ref_id: String::new(),
            message: message.into(),
            detail: None,
        }
    }

    /// Sets the server-side reference.
    #[must_use]
    pub fn with_ref_id(mut self, ref_id: impl Into<String>) -> Self {
        self.ref_id = ref_id.into();
        self
    }

    /// Sets the structured details.
    #[must_use]
    pub fn with_detail(mut self, detail: Value) -> Self {
        self.detail = Some(detail);
        self
    }
}

impl fmt::Display for ErrorObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if !self.ref_id.is_empty() {
            write!(f, " (ref_id {})", self.ref_id)?;
        }
        Ok(())
    }
}

/// The error body of non-2xx responses: `{"type":"error","error":{...}}`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct ErrorResponse {
    /// The error.
    pub error: ErrorObject,
}

impl ErrorResponse {
    /// The error body holding `error`.
    pub fn new(error: ErrorObject) -> Self {
        Self { error }
    }
}

impl Serialize for ErrorResponse {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut state = serializer.serialize_struct("ErrorResponse", 2)?;
        state.serialize_field("type", "error")?;
        state.serialize_field("error", &self.error)?;
        state.end()
    }
}

/// `FastAPI`'s validation error body (`HTTPValidationError`): `{"detail":[...]}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ValidationErrorBody {
    /// One entry per problem.
    #[serde(default, deserialize_with = "null_as_default")]
    pub detail: Vec<ValidationIssue>,
}

/// One problem in a [`ValidationErrorBody`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ValidationIssue {
    /// Where: path segments such as `["body", "inputs", 0, "processor"]`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub loc: Vec<LocationSegment>,
    /// What is wrong.
    #[serde(default, deserialize_with = "null_as_default")]
    pub msg: String,
    /// Error kind, e.g. `missing`.
    #[serde(rename = "type", default, deserialize_with = "null_as_default")]
    pub r#type: String,
}

/// One segment of a [`ValidationIssue::loc`] path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum LocationSegment {
    /// An object key.
    Key(String),
    /// An array index.
    Index(i64),
}

impl fmt::Display for LocationSegment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Key(key) => f.write_str(key),
            Self::Index(index) => write!(f, "{index}"),
        }
    }
}

impl ValidationIssue {
    fn write_to(&self, out: &mut String) {
        let path: Vec<String> = self.loc.iter().map(ToString::to_string).collect();
        if !path.is_empty() {
            out.push_str(&path.join("."));
            out.push_str(": ");
        }
        out.push_str(&self.msg);
    }
}

/// Any error body: either documented shape, or anything else kept as JSON.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ApiErrorBody {
    /// `{"type":"error","error":{...}}` (also accepted without `type`).
    Error(ErrorObject),
    /// `{"detail":[{"loc":...,"msg":...,"type":...}]}`.
    Validation(ValidationErrorBody),
    /// Any other JSON body.
    Other(Value),
}

impl ApiErrorBody {
    /// Decodes an error body; never fails on valid JSON of an unexpected shape.
    pub fn from_slice(body: &[u8]) -> Result<Self, crate::Error> {
        serde_json::from_slice(body).map_err(crate::Error::decode("an API error body"))
    }

    /// The error object, for the `{"type":"error"}` shape.
    pub fn error_object(&self) -> Option<&ErrorObject> {
        match self {
            Self::Error(error) => Some(error),
            _ => None,
        }
    }

    /// A one-line human-readable message.
    pub fn message(&self) -> Cow<'_, str> {
        match self {
            Self::Error(error) => Cow::Borrowed(&error.message),
            Self::Validation(body) => {
                let mut out = String::new();
                for (i, issue) in body.detail.iter().enumerate() {
                    if i > 0 {
                        out.push_str("; ");
                    }
                    issue.write_to(&mut out);
                }
                Cow::Owned(out)
            }
            Self::Other(Value::Object(object)) => {
                match object.get("detail").or_else(|| object.get("message")) {
                    Some(Value::String(text)) => Cow::Borrowed(text),
                    _ => Cow::Owned(Value::Object(object.clone()).to_string()),
                }
            }
            Self::Other(Value::String(text)) => Cow::Borrowed(text),
            Self::Other(other) => Cow::Owned(other.to_string()),
        }
    }
}

impl fmt::Display for ApiErrorBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

impl Serialize for ApiErrorBody {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Error(error) => ErrorResponse {
                error: error.clone(),
            }
            .serialize(serializer),
            Self::Validation(body) => body.serialize(serializer),
            Self::Other(raw) => raw.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for ApiErrorBody {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Error bodies are small and rare: decode to a tree, then pick the shape.
        let value = Value::deserialize(deserializer)?;
        let shape = match &value {
            Value::Object(object) if object.get("error").is_some_and(Value::is_object) => 0,
            Value::Object(object) if object.get("detail").is_some_and(Value::is_array) => 1,
            _ => 2,
        };
        match shape {
            0 => match ErrorResponse::deserialize(&value) {
                Ok(response) => Ok(Self::Error(response.error)),
                Err(_) => Ok(Self::Other(value)),
            },
            1 => match ValidationErrorBody::deserialize(&value) {
                Ok(body) => Ok(Self::Validation(body)),
                Err(_) => Ok(Self::Other(value)),
            },
            _ => Ok(Self::Other(value)),
        }
    }
}
