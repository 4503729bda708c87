//! The crate's error type.

use std::fmt;

/// An error from this crate: a payload that could not be decoded, or (with the `schemars`
/// feature) a Rust type whose schema the API would not accept.
pub struct Error {
    kind: ErrorKind,
}

enum ErrorKind {
    Decode(serde_json::Error),
    #[cfg_attr(not(feature = "schemars"), allow(dead_code))]
    Schema(String),
}

impl Error {
    pub(crate) fn decode(source: serde_json::Error) -> Self {
        Self {
            kind: ErrorKind::Decode(source),
        }
    }

    #[cfg_attr(not(feature = "schemars"), allow(dead_code))]
    pub(crate) fn schema(message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::Schema(message.into()),
        }
    }

    /// The payload was not valid JSON or did not have the expected shape.
    pub fn is_decode(&self) -> bool {
        matches!(self.kind, ErrorKind::Decode(_))
    }

    /// A JSON Schema built from a Rust type cannot be sent as a task spec.
    pub fn is_schema(&self) -> bool {
        matches!(self.kind, ErrorKind::Schema(_))
    }

    /// For decode errors, the 1-based line and column where decoding stopped.
    pub fn position(&self) -> Option<(usize, usize)> {
        match &self.kind {
            ErrorKind::Decode(source) if source.line() > 0 => {
                Some((source.line(), source.column()))
            }
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ErrorKind::Decode(source) => write!(
                f,
                "could not decode API payload: {source}; the server sent JSON of an unexpected shape"
            ),
            ErrorKind::Schema(message) => write!(
                f,
                "cannot build a task spec from this type: {message}; simplify the type or pass a JSON schema yourself"
            ),
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ErrorKind::Decode(source) => f.debug_tuple("Error::Decode").field(source).finish(),
            ErrorKind::Schema(message) => f.debug_tuple("Error::Schema").field(message).finish(),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            ErrorKind::Decode(source) => Some(source),
            ErrorKind::Schema(_) => None,
        }
    }
}
