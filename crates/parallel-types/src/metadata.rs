//! User metadata attached to groups and runs.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Serialize, Serializer};
use serde_json::Value;

/// Metadata on a group or run: string keys to string, integer, number or boolean values
/// (and, when a server sends them, any other JSON value, kept as [`MetadataValue::Other`]).
///
/// The API documents keys of at most 16 characters and string values of at most 512
/// characters; the server enforces that, this type does not.
pub type Metadata = BTreeMap<String, MetadataValue>;

/// One metadata value. Serialized as the bare JSON value (no tag).
#[derive(Debug, Clone, PartialEq)]
pub enum MetadataValue {
    /// A JSON string.
    String(String),
    /// A JSON number without fraction or exponent that fits an `i64`.
    Integer(i64),
    /// Any other JSON number.
    Number(f64),
    /// A JSON boolean.
    Bool(bool),
    /// Any other JSON value (`null`, an array or an object). The API documents only the
    /// four kinds above, but a response must not fail to decode because a value has
    /// another shape: it is kept here and written back unchanged.
    Other(Value),
}

impl MetadataValue {
    /// The string, if this is a string value.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::String(value) => Some(value),
            _ => None,
        }
    }

    /// The integer, if this is an integer value.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Self::Integer(value) => Some(*value),
            _ => None,
        }
    }
}

impl From<&str> for MetadataValue {
    fn from(value: &str) -> Self {
        Self::String(value.to_owned())
    }
}

impl From<String> for MetadataValue {
    fn from(value: String) -> Self {
        Self::String(value)
    }
}

impl From<i64> for MetadataValue {
    fn from(value: i64) -> Self {
        Self::Integer(value)
    }
}

impl From<f64> for MetadataValue {
    fn from(value: f64) -> Self {
        Self::Number(value)
    }
}

impl From<bool> for MetadataValue {
    fn from(value: bool) -> Self {
        Self::Bool(value)
    }
}

impl fmt::Display for MetadataValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::String(value) => f.write_str(value),
            Self::Integer(value) => write!(f, "{value}"),
            Self::Number(value) => write!(f, "{value}"),
            Self::Bool(value) => write!(f, "{value}"),
            Self::Other(value) => write!(f, "{value}"),
        }
    }
}

impl Serialize for MetadataValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::String(value) => serializer.serialize_str(value),
            Self::Integer(value) => serializer.serialize_i64(*value),
            Self::Number(value) => serializer.serialize_f64(*value),
            Self::Bool(value) => serializer.serialize_bool(*value),
            Self::Other(value) => value.serialize(serializer),
        }
    }
}

// Hand-written rather than `#[serde(untagged)]`: no buffering of the documented kinds.
impl<'de> Deserialize<'de> for MetadataValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ValueVisitor;

        impl<'de> Visitor<'de> for ValueVisitor {
            type Value = MetadataValue;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a metadata value (any JSON value)")
            }

            fn visit_str<E: de::Error>(self, value: &str) -> Result<MetadataValue, E> {
                Ok(MetadataValue::String(value.to_owned()))
            }

            fn visit_string<E: de::Error>(self, value: String) -> Result<MetadataValue, E> {
                Ok(MetadataValue::String(value))
            }

            fn visit_i64<E: de::Error>(self, value: i64) -> Result<MetadataValue, E> {
                Ok(MetadataValue::Integer(value))
            }

            fn visit_u64<E: de::Error>(self, value: u64) -> Result<MetadataValue, E> {
                // Integers beyond i64 keep their magnitude as a number, as JSON allows.
                #[allow(clippy::cast_precision_loss)]
                Ok(i64::try_from(value)
                    .map_or(MetadataValue::Number(value as f64), MetadataValue::Integer))
            }

            fn visit_f64<E: de::Error>(self, value: f64) -> Result<MetadataValue, E> {
                Ok(MetadataValue::Number(value))
            }

            fn visit_bool<E: de::Error>(self, value: bool) -> Result<MetadataValue, E> {
                Ok(MetadataValue::Bool(value))
            }

            fn visit_unit<E: de::Error>(self) -> Result<MetadataValue, E> {
                Ok(MetadataValue::Other(Value::Null))
            }

            fn visit_none<E: de::Error>(self) -> Result<MetadataValue, E> {
                Ok(MetadataValue::Other(Value::Null))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<MetadataValue, A::Error> {
                Value::deserialize(SeqAccessDeserializer::new(seq)).map(MetadataValue::Other)
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<MetadataValue, A::Error> {
                Value::deserialize(MapAccessDeserializer::new(map)).map(MetadataValue::Other)
            }
        }

        deserializer.deserialize_any(ValueVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_keep_their_json_kind() {
        let metadata: Metadata = serde_json::from_str(
            r#"{"s":"x","i":-3,"n":1.5,"whole":2.0,"b":true,"big":18446744073709551615}"#,
        )
        .expect("decode");
        assert_eq!(metadata["s"], MetadataValue::String("x".to_owned()));
        assert_eq!(metadata["i"], MetadataValue::Integer(-3));
        assert_eq!(metadata["n"], MetadataValue::Number(1.5));
        assert_eq!(metadata["whole"], MetadataValue::Number(2.0));
        assert_eq!(metadata["b"], MetadataValue::Bool(true));
        assert!(
            matches!(metadata["big"], MetadataValue::Number(_)),
            "beyond i64 stays a number"
        );
        let encoded = serde_json::to_string(&metadata).expect("encode");
        assert_eq!(
            encoded,
            r#"{"b":true,"big":1.8446744073709552e+19,"i":-3,"n":1.5,"s":"x","whole":2.0}"#
        );
    }

    #[test]
    fn values_of_other_kinds_are_kept_whole() {
        let text = r#"{"a":[1,"x",null],"n":null,"o":{"nested":{"deep":true}}}"#;
        let metadata: Metadata = serde_json::from_str(text).expect("decode");
        assert_eq!(metadata["n"], MetadataValue::Other(Value::Null));
        assert_eq!(
            metadata["a"],
            MetadataValue::Other(serde_json::json!([1, "x", null]))
        );
        assert_eq!(
            metadata["o"],
            MetadataValue::Other(serde_json::json!({"nested": {"deep": true}}))
        );
        assert_eq!(metadata["o"].as_str(), None);
        assert_eq!(metadata["o"].to_string(), r#"{"nested":{"deep":true}}"#);
        assert_eq!(serde_json::to_string(&metadata).expect("encode"), text);
    }
}
