//! The type of a Parquet column made from JSON values: declared by the output schema
//! (`string`, `integer`, `number`, `boolean`), or seen in the values (input columns of a CSV
//! or JSONL file). Anything else, and a declared column whose values do not all fit its type,
//! is JSON text: no value is ever dropped to fit a type.

use std::sync::Arc;

use arrow_array::ArrayRef;
use arrow_array::builder::{BooleanBuilder, Float64Builder, Int64Builder, StringBuilder};
use arrow_schema::DataType;
use serde_json::Value;

/// A column's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// No value seen yet (only nulls): becomes a string column.
    Unknown,
    /// Strings (`Utf8`); other values written as JSON text.
    String,
    /// Whole numbers (`Int64`).
    Integer,
    /// Numbers (`Float64`).
    Number,
    /// Booleans.
    Boolean,
    /// Any JSON value, as compact JSON text (`Utf8`).
    Json,
}

impl Kind {
    /// The kind a JSON schema declares for a property.
    pub(crate) fn declared(schema: Option<&Value>) -> Self {
        let ty = schema.and_then(|s| s.get("type"));
        let name = match ty {
            Some(Value::String(name)) => Some(name.as_str()),
            // `["integer", "null"]`: the one type that is not null.
            Some(Value::Array(types)) => {
                let not_null: Vec<&str> = types
                    .iter()
                    .filter_map(Value::as_str)
                    .filter(|n| *n != "null")
                    .collect();
                if not_null.len() == 1 {
                    Some(not_null[0])
                } else {
                    None
                }
            }
            _ => None,
        };
        match name {
            Some("string") => Self::String,
            Some("integer") => Self::Integer,
            Some("number") => Self::Number,
            Some("boolean") => Self::Boolean,
            _ => Self::Json,
        }
    }

    /// A declared kind after seeing `value`: itself when the value fits, JSON text otherwise.
    pub(crate) fn admit(self, value: &Value) -> Self {
        let fits = match (self, value) {
            (Self::Integer, Value::Number(_)) => integer(value).is_some(),
            (_, Value::Null)
            | (Self::String | Self::Json | Self::Unknown, _)
            | (Self::Number, Value::Number(_))
            | (Self::Boolean, Value::Bool(_)) => true,
            _ => false,
        };
        if fits { self } else { Self::Json }
    }

    /// An inferred kind after seeing `value`.
    pub(crate) fn infer(self, value: &Value) -> Self {
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
            (Self::Unknown, seen) => seen,
            (a, b) if a == b => a,
            (Self::Integer | Self::Number, Self::Integer | Self::Number) => Self::Number,
            _ => Self::Json,
        }
    }

    /// The Arrow type of the column.
    pub(crate) fn data_type(self) -> DataType {
        match self {
            Self::Integer => DataType::Int64,
            Self::Number => DataType::Float64,
            Self::Boolean => DataType::Boolean,
            Self::Unknown | Self::String | Self::Json => DataType::Utf8,
        }
    }

    /// A builder for a column of this kind.
    pub(crate) fn builder(self) -> ColumnBuilder {
        match self {
            Self::Integer => ColumnBuilder::Integer(Int64Builder::new()),
            Self::Number => ColumnBuilder::Number(Float64Builder::new()),
            Self::Boolean => ColumnBuilder::Boolean(BooleanBuilder::new()),
            Self::Unknown | Self::String => ColumnBuilder::Text(StringBuilder::new(), false),
            Self::Json => ColumnBuilder::Text(StringBuilder::new(), true),
        }
    }
}

/// The value as an `i64`, when it is a whole number in range (`1999.0` counts).
fn integer(value: &Value) -> Option<i64> {
    if let Some(i) = value.as_i64() {
        return Some(i);
    }
    let f = value.as_f64()?;
    #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
    let fits = f.fract() == 0.0 && f >= i64::MIN as f64 && f < i64::MAX as f64;
    #[allow(clippy::cast_possible_truncation)]
    fits.then_some(f as i64)
}

/// Builds one column from JSON values.
pub(crate) enum ColumnBuilder {
    /// Strings; with `true`, every value as JSON text.
    Text(StringBuilder, bool),
    Integer(Int64Builder),
    Number(Float64Builder),
    Boolean(BooleanBuilder),
}

impl ColumnBuilder {
    /// Appends `value` (absent: null). The kind was checked against every value first, so a
    /// value that does not fit does not occur; if one did, it is null rather than a panic.
    pub(crate) fn append(&mut self, value: Option<&Value>) {
        let value = value.filter(|v| !v.is_null());
        match self {
            Self::Text(builder, json) => match value {
                None => builder.append_null(),
                Some(Value::String(s)) if !*json => builder.append_value(s),
                Some(other) => builder.append_value(other.to_string()),
            },
            Self::Integer(builder) => builder.append_option(value.and_then(integer)),
            Self::Number(builder) => builder.append_option(value.and_then(Value::as_f64)),
            Self::Boolean(builder) => builder.append_option(value.and_then(Value::as_bool)),
        }
    }

    /// The values appended since the last call, as an array.
    pub(crate) fn finish(&mut self) -> ArrayRef {
        match self {
            Self::Text(builder, _) => Arc::new(builder.finish()),
            Self::Integer(builder) => Arc::new(builder.finish()),
            Self::Number(builder) => Arc::new(builder.finish()),
            Self::Boolean(builder) => Arc::new(builder.finish()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn declared_kinds_fall_back_to_json_text_when_a_value_does_not_fit() {
        let integer = Kind::declared(Some(&json!({"type": ["integer", "null"]})));
        assert_eq!(integer, Kind::Integer);
        assert_eq!(integer.admit(&json!(1999)), Kind::Integer);
        assert_eq!(integer.admit(&json!(1999.0)), Kind::Integer);
        assert_eq!(integer.admit(&Value::Null), Kind::Integer);
        assert_eq!(integer.admit(&json!(19.5)), Kind::Json);
        assert_eq!(integer.admit(&json!("1999")), Kind::Json);
        assert_eq!(
            Kind::declared(Some(&json!({"type": "boolean"}))).admit(&json!(1)),
            Kind::Json
        );
        assert_eq!(Kind::declared(Some(&json!({"type": "array"}))), Kind::Json);
        assert_eq!(Kind::declared(None), Kind::Json);
        assert_eq!(Kind::String.admit(&json!([1])), Kind::String);
    }

    #[test]
    fn inferred_kinds_widen_numbers_and_give_up_on_mixtures() {
        let kind = [json!(null), json!(1), json!(2)]
            .iter()
            .fold(Kind::Unknown, Kind::infer);
        assert_eq!(kind, Kind::Integer);
        assert_eq!(kind.infer(&json!(2.5)), Kind::Number);
        assert_eq!(kind.infer(&json!("x")), Kind::Json);
        assert_eq!(Kind::Unknown.infer(&json!({"a": 1})), Kind::Json);
        assert_eq!(Kind::Unknown.infer(&json!(u64::MAX)), Kind::Json);
        assert_eq!(Kind::Unknown.infer(&Value::Null), Kind::Unknown);
    }

    #[test]
    fn builders_write_strings_as_they_are_and_other_values_as_json() {
        let mut text = Kind::String.builder();
        text.append(Some(&json!("a \"b\"")));
        text.append(Some(&json!([1, 2])));
        text.append(None);
        let array = text.finish();
        let array = array
            .as_any()
            .downcast_ref::<arrow_array::StringArray>()
            .unwrap();
        assert_eq!(array.value(0), "a \"b\"");
        assert_eq!(array.value(1), "[1,2]");
        assert!(arrow_array::Array::is_null(array, 2));
        let mut json = Kind::Json.builder();
        json.append(Some(&json!("x")));
        let array = json.finish();
        let array = array
            .as_any()
            .downcast_ref::<arrow_array::StringArray>()
            .unwrap();
        assert_eq!(array.value(0), "\"x\"");
    }
}
