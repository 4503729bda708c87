//! [`ColumnType`]: the Arrow type of a column of JSON values, declared by a JSON schema or
//! seen in the values, and the one rule that says which values fit it.

use arrow_schema::{DataType, Field};
use serde_json::Value;

/// The type of a column made from JSON values.
///
/// A JSON schema declares it ([`ColumnType::from_schema`]), or the values show it
/// ([`ColumnType::infer`]). A value that does not fit a declared type is not forced into it:
/// [`ColumnType::admit`] says which type would hold it (JSON text holds anything), and a
/// [`ColumnBuilder`](crate::ColumnBuilder) of a fixed type appends null and reports it.
///
/// | JSON schema | `ColumnType` | Arrow |
/// |---|---|---|
/// | `"string"` | `String` | `Utf8` |
/// | `"string"`, `"format": "date"` | `Date` | `Date32` |
/// | `"integer"` | `Integer` | `Int64` |
/// | `"number"` | `Number` | `Float64` |
/// | `"boolean"` | `Boolean` | `Boolean` |
/// | `"array"` of `"string"` items | `List` | `List(Utf8)` |
/// | anything else, or none | `Json` | `Utf8` (each value's JSON text) |
///
/// A type with `null` beside it (`["integer", "null"]`, or `anyOf` of a type and `null`)
/// is that type: every column is nullable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ColumnType {
    /// No value seen yet, only nulls: a `Utf8` column.
    Null,
    /// Strings (`Utf8`); in an inferred or declared string column, another value is written
    /// as its JSON text.
    String,
    /// Whole numbers (`Int64`); `1999.0` counts as one.
    Integer,
    /// Numbers (`Float64`).
    Number,
    /// `true` and `false` (`Boolean`).
    Boolean,
    /// Calendar dates written `YYYY-MM-DD` (`Date32`).
    Date,
    /// Lists of strings (`List(Utf8)`).
    List,
    /// Any JSON value, as its compact JSON text (`Utf8`): nothing is lost.
    Json,
}

impl ColumnType {
    /// The type a JSON schema declares for a property; `None` (no schema) is [`Json`].
    ///
    /// [`Json`]: ColumnType::Json
    pub fn from_schema(schema: Option<&Value>) -> Self {
        let Some(schema) = schema else {
            return Self::Json;
        };
        let name = match schema.get("type") {
            Some(Value::String(name)) => Some(name.as_str()),
            Some(Value::Array(types)) => single_not_null(types.iter().filter_map(Value::as_str)),
            None => {
                // `anyOf: [{...}, {"type": "null"}]`: the one branch that is not null.
                let branches = schema.get("anyOf").and_then(Value::as_array);
                let mut others = branches
                    .into_iter()
                    .flatten()
                    .filter(|b| b.get("type").and_then(Value::as_str) != Some("null"));
                return match (others.next(), others.next()) {
                    (Some(only), None) => Self::from_schema(Some(only)),
                    _ => Self::Json,
                };
            }
            _ => None,
        };
        match name {
            Some("string") if schema.get("format").and_then(Value::as_str) == Some("date") => {
                Self::Date
            }
            Some("string") => Self::String,
            Some("integer") => Self::Integer,
            Some("number") => Self::Number,
            Some("boolean") => Self::Boolean,
            Some("array") if Self::from_schema(schema.get("items")) == Self::String => Self::List,
            _ => Self::Json,
        }
    }

    /// Whether `value` fits a column of this type (null fits every one).
    pub fn fits(self, value: &Value) -> bool {
        match (self, value) {
            (_, Value::Null)
            | (Self::Null | Self::String | Self::Json, _)
            | (Self::Number, Value::Number(_))
            | (Self::Boolean, Value::Bool(_)) => true,
            (Self::Integer, Value::Number(_)) => integer(value).is_some(),
            (Self::Date, Value::String(s)) => date(s).is_some(),
            (Self::List, Value::Array(items)) => items
                .iter()
                .all(|i| matches!(i, Value::String(_) | Value::Null)),
            _ => false,
        }
    }

    /// A declared type after seeing `value`: itself when the value fits, [`Json`] otherwise,
    /// so that a column checked against all its values first never drops one.
    ///
    /// [`Json`]: ColumnType::Json
    #[must_use]
    pub fn admit(self, value: &Value) -> Self {
        if self.fits(value) { self } else { Self::Json }
    }

    /// An inferred type after seeing `value` (start from [`Null`]): the first value's type,
    /// integers widened to numbers, and any other mixture [`Json`]. Strings stay strings
    /// (never dates) and arrays and objects are [`Json`]: only a schema declares those.
    ///
    /// [`Null`]: ColumnType::Null
    /// [`Json`]: ColumnType::Json
    #[must_use]
    pub fn infer(self, value: &Value) -> Self {
        let seen = match value {
            Value::Null => return self,
            Value::Bool(_) => Self::Boolean,
            Value::Number(n) if n.is_i64() => Self::Integer,
            Value::Number(n) if n.is_f64() => Self::Number,
            Value::String(_) => Self::String,
            // Numbers past i64 and nested values are kept as JSON text.
            _ => Self::Json,
        };
        match (self, seen) {
            (Self::Null, seen) => seen,
            (a, b) if a == b => a,
            (Self::Integer | Self::Number, Self::Integer | Self::Number) => Self::Number,
            _ => Self::Json,
        }
    }

    /// The Arrow type of the column.
    pub fn data_type(self) -> DataType {
        match self {
            Self::Integer => DataType::Int64,
            Self::Number => DataType::Float64,
            Self::Boolean => DataType::Boolean,
            Self::Date => DataType::Date32,
            Self::List => DataType::new_list(DataType::Utf8, true),
            Self::Null | Self::String | Self::Json => DataType::Utf8,
        }
    }

    /// A nullable Arrow field of this type.
    pub fn field(self, name: impl Into<String>) -> Field {
        Field::new(name, self.data_type(), true)
    }

    /// The name of the type in the column grammar (`string`, `integer`, ...; `json` for
    /// [`Json`](ColumnType::Json), `null` for [`Null`](ColumnType::Null)).
    pub fn name(self) -> &'static str {
        match self {
            Self::Null => "null",
            Self::String => "string",
            Self::Integer => "integer",
            Self::Number => "number",
            Self::Boolean => "boolean",
            Self::Date => "date",
            Self::List => "list",
            Self::Json => "json",
        }
    }
}

/// The one name among `types` that is not `null`, if there is exactly one.
fn single_not_null<'a>(types: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let mut others = types.filter(|n| *n != "null");
    match (others.next(), others.next()) {
        (Some(only), None) => Some(only),
        _ => None,
    }
}

/// The value as an `i64`, when it is a whole number in range (`1999.0` counts).
pub(crate) fn integer(value: &Value) -> Option<i64> {
    if let Some(i) = value.as_i64() {
        return Some(i);
    }
    let f = value.as_f64()?;
    #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
    let fits = f.fract() == 0.0 && f >= i64::MIN as f64 && f < i64::MAX as f64;
    #[allow(clippy::cast_possible_truncation)]
    fits.then_some(f as i64)
}

/// A `YYYY-MM-DD` date as days since 1970-01-01 (Arrow's `Date32`).
pub(crate) fn date(text: &str) -> Option<i32> {
    let day: chrono::NaiveDate = text.parse().ok()?;
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1)?;
    i32::try_from(day.signed_duration_since(epoch).num_days()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn schemas_map_to_one_type_each_nullable_unions_included() {
        let cases = [
            (json!({"type": "string"}), ColumnType::String),
            (json!({"type": ["string", "null"]}), ColumnType::String),
            (json!({"type": "integer"}), ColumnType::Integer),
            (json!({"type": ["integer", "null"]}), ColumnType::Integer),
            (json!({"type": ["null", "integer"]}), ColumnType::Integer),
            (
                json!({"anyOf": [{"type": "integer"}, {"type": "null"}]}),
                ColumnType::Integer,
            ),
            (json!({"type": "number"}), ColumnType::Number),
            (json!({"type": "boolean"}), ColumnType::Boolean),
            (
                json!({"type": "string", "format": "date"}),
                ColumnType::Date,
            ),
            (
                json!({"type": ["string", "null"], "format": "date"}),
                ColumnType::Date,
            ),
            (
                json!({"type": "array", "items": {"type": "string"}}),
                ColumnType::List,
            ),
            (
                json!({"type": "array", "items": {"type": "integer"}}),
                ColumnType::Json,
            ),
            (json!({"type": "array"}), ColumnType::Json),
            (json!({"type": "object"}), ColumnType::Json),
            (json!({"type": ["integer", "string"]}), ColumnType::Json),
            (json!({"type": "null"}), ColumnType::Json),
            (json!({"description": "anything"}), ColumnType::Json),
        ];
        for (schema, expected) in cases {
            assert_eq!(ColumnType::from_schema(Some(&schema)), expected, "{schema}");
        }
        assert_eq!(ColumnType::from_schema(None), ColumnType::Json);
    }

    #[test]
    fn declared_types_fall_back_to_json_text_when_a_value_does_not_fit() {
        let integer = ColumnType::Integer;
        assert_eq!(integer.admit(&json!(1999)), ColumnType::Integer);
        assert_eq!(integer.admit(&json!(1999.0)), ColumnType::Integer);
        assert_eq!(integer.admit(&Value::Null), ColumnType::Integer);
        assert_eq!(integer.admit(&json!(19.5)), ColumnType::Json);
        assert_eq!(integer.admit(&json!("1999")), ColumnType::Json);
        assert_eq!(ColumnType::Boolean.admit(&json!(1)), ColumnType::Json);
        assert_eq!(ColumnType::String.admit(&json!([1])), ColumnType::String);
        assert_eq!(
            ColumnType::Date.admit(&json!("2024-02-29")),
            ColumnType::Date
        );
        assert_eq!(
            ColumnType::Date.admit(&json!("2023-02-29")),
            ColumnType::Json
        );
        assert_eq!(
            ColumnType::Date.admit(&json!("29/02/2024")),
            ColumnType::Json
        );
        assert_eq!(
            ColumnType::List.admit(&json!(["a", null])),
            ColumnType::List
        );
        assert_eq!(ColumnType::List.admit(&json!(["a", 1])), ColumnType::Json);
        assert_eq!(ColumnType::List.admit(&json!("a")), ColumnType::Json);
    }

    #[test]
    fn inferred_types_widen_numbers_and_give_up_on_mixtures() {
        let ty = [json!(null), json!(1), json!(2)]
            .iter()
            .fold(ColumnType::Null, ColumnType::infer);
        assert_eq!(ty, ColumnType::Integer);
        assert_eq!(ty.infer(&json!(2.5)), ColumnType::Number);
        assert_eq!(ty.infer(&json!("x")), ColumnType::Json);
        assert_eq!(
            ColumnType::Null.infer(&json!("2024-01-01")),
            ColumnType::String
        );
        assert_eq!(ColumnType::Null.infer(&json!({"a": 1})), ColumnType::Json);
        assert_eq!(ColumnType::Null.infer(&json!(["a"])), ColumnType::Json);
        assert_eq!(ColumnType::Null.infer(&json!(u64::MAX)), ColumnType::Json);
        assert_eq!(ColumnType::Null.infer(&Value::Null), ColumnType::Null);
    }

    #[test]
    fn dates_count_days_from_the_epoch() {
        assert_eq!(date("1970-01-01"), Some(0));
        assert_eq!(date("1969-12-31"), Some(-1));
        assert_eq!(date("2024-05-01"), Some(19_844));
        assert_eq!(date("2024-5-1x"), None);
        assert_eq!(
            ColumnType::List.data_type(),
            DataType::List(std::sync::Arc::new(Field::new(
                "item",
                DataType::Utf8,
                true
            )))
        );
    }
}
