//! The crate's error type.

use std::fmt;

use serde_json::error::Category;

/// An error from this crate: a payload that could not be decoded, or (with the `schemars`
/// feature) a Rust type whose schema the API would not accept.
pub struct Error {
    kind: ErrorKind,
}

enum ErrorKind {
    Decode {
        what: &'static str,
        source: serde_json::Error,
    },
    #[cfg_attr(not(feature = "schemars"), allow(dead_code))]
    Schema(String),
}

impl Error {
    /// A decode error of `what` (e.g. "the run input"), for `map_err`.
    pub(crate) fn decode(what: &'static str) -> impl FnOnce(serde_json::Error) -> Self {
        move |source| Self {
            kind: ErrorKind::Decode { what, source },
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
        matches!(self.kind, ErrorKind::Decode { .. })
    }

    /// A JSON Schema built from a Rust type cannot be sent as a task spec.
    pub fn is_schema(&self) -> bool {
        matches!(self.kind, ErrorKind::Schema(_))
    }

    /// For decode errors, the 1-based line and column where decoding stopped.
    pub fn position(&self) -> Option<(usize, usize)> {
        match &self.kind {
            ErrorKind::Decode { source, .. } if source.line() > 0 => {
                Some((source.line(), source.column()))
            }
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ErrorKind::Decode { what, source } => {
                let why = match source.classify() {
                    Category::Data => "the JSON does not have the expected shape",
                    Category::Eof => "the JSON ends early",
                    Category::Syntax => "the bytes are not valid JSON",
                    Category::Io => "reading failed",
                };
                // The `serde_json` error (what and where) is `source()`, not repeated here.
                write!(f, "could not decode {what}: {why}")
            }
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
            ErrorKind::Decode { what, source } => f
                .debug_struct("Error::Decode")
                .field("what", what)
                .field("source", source)
                .finish(),
            ErrorKind::Schema(message) => f.debug_tuple("Error::Schema").field(message).finish(),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            ErrorKind::Decode { source, .. } => Some(source),
            ErrorKind::Schema(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_error(json: &str, what: &'static str) -> Error {
        serde_json::from_str::<Vec<u32>>(json)
            .map_err(Error::decode(what))
            .expect_err("must fail")
    }

    #[test]
    fn decode_errors_say_what_failed_why_and_where() {
        let shape = decode_error("[1, \"x\"]", "the numbers");
        assert!(shape.is_decode() && !shape.is_schema());
        let text = shape.to_string();
        assert!(
            text.starts_with(
                "could not decode the numbers: the JSON does not have the expected shape"
            ),
            "{text}"
        );
        assert_eq!(shape.position(), Some((1, 7)));
        assert!(std::error::Error::source(&shape).is_some());

        assert!(decode_error("[1,", "x").to_string().contains("ends early"));
        assert!(
            decode_error("[1}", "x")
                .to_string()
                .contains("not valid JSON")
        );
    }

    #[test]
    fn schema_errors_suggest_a_way_out() {
        let error = Error::schema("`Tree` is recursive");
        assert!(error.is_schema() && error.position().is_none());
        assert!(error.to_string().contains("pass a JSON schema yourself"));
    }
}
