//! [`Error`]: what cannot be converted, and why.

use std::fmt;

use serde_json::Value;

use crate::ColumnType;

/// A value that does not fit its column, or an Arrow type without a JSON form.
///
/// The message names the value (shortened) or the type; the predicates tell the cases apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: Kind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Misfit { value: String, expected: ColumnType },
    Unsupported { data_type: String },
}

/// The longest shown value, in characters.
const SHOWN: usize = 60;

impl Error {
    pub(crate) fn misfit(value: &Value, expected: ColumnType) -> Self {
        let mut shown = value.to_string();
        if let Some((cut, _)) = shown.char_indices().nth(SHOWN) {
            shown.truncate(cut);
            shown.push_str("...");
        }
        Self {
            kind: Kind::Misfit {
                value: shown,
                expected,
            },
        }
    }

    pub(crate) fn unsupported(data_type: String) -> Self {
        Self {
            kind: Kind::Unsupported { data_type },
        }
    }

    /// A JSON value that does not fit the column's type (it was appended as null).
    pub fn is_misfit(&self) -> bool {
        matches!(self.kind, Kind::Misfit { .. })
    }

    /// An Arrow type with no JSON form (an interval, say), found in a column or inside one.
    pub fn is_unsupported_type(&self) -> bool {
        matches!(self.kind, Kind::Unsupported { .. })
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Misfit { value, expected } => {
                let article = if matches!(expected, ColumnType::Integer) {
                    "an"
                } else {
                    "a"
                };
                let what = match expected {
                    ColumnType::Date => "date (YYYY-MM-DD)",
                    ColumnType::List => "list of strings",
                    other => other.name(),
                };
                write!(f, "{value} is not {article} {what}")
            }
            Kind::Unsupported { data_type } => {
                write!(f, "values of type {data_type} have no JSON form")
            }
        }
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_misfit_names_the_value_shortened_and_the_type() {
        let error = Error::misfit(&json!("about 1990"), ColumnType::Integer);
        assert_eq!(error.to_string(), "\"about 1990\" is not an integer");
        assert!(error.is_misfit() && !error.is_unsupported_type());
        let long = Error::misfit(&json!("x".repeat(500)), ColumnType::Date).to_string();
        assert!(long.ends_with("... is not a date (YYYY-MM-DD)"), "{long}");
        assert!(long.len() < 100, "{long}");
    }
}
