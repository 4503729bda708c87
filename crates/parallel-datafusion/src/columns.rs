//! The output columns `parallel_enrich` asks for, read from its second argument: the task
//! spec sent to the API and the fields of the result struct.
//!
//! Two forms:
//!
//! - `'name: description, other: "a description, with commas"'`, as `parallel-batch
//!   --columns`: every column is a string (`Utf8`);
//! - a JSON schema of the output object, `'{"type": "object", "properties": {...}}'`: columns
//!   follow its `properties` in the order written, typed from each property's `type`
//!   (`string` -> `Utf8`, `integer` -> `Int64`, `number` -> `Float64`, `boolean` ->
//!   `Boolean`, anything else -> `Utf8` holding the value's JSON text).

use datafusion::arrow::datatypes::{DataType, Field, Fields};
use parallel_types::TaskSpec;
use serde_json::Value;

/// Fields of the result struct that are not output columns.
pub(crate) const RUN_ID: &str = "run_id";
pub(crate) const STATUS: &str = "status";
pub(crate) const ERROR: &str = "error";

/// What Arrow type an output column has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A JSON string, as `Utf8`; any other JSON value as its JSON text.
    Text,
    Integer,
    Number,
    Boolean,
}

impl Kind {
    fn of_schema(property: &Value) -> Kind {
        match property.get("type").and_then(Value::as_str) {
            Some("integer") => Kind::Integer,
            Some("number") => Kind::Number,
            Some("boolean") => Kind::Boolean,
            _ => Kind::Text,
        }
    }

    pub(crate) fn data_type(self) -> DataType {
        match self {
            Kind::Text => DataType::Utf8,
            Kind::Integer => DataType::Int64,
            Kind::Number => DataType::Float64,
            Kind::Boolean => DataType::Boolean,
        }
    }
}

/// One requested output column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Column {
    pub(crate) name: String,
    pub(crate) kind: Kind,
}

/// The output columns and the task spec that asks for them.
#[derive(Debug, Clone)]
pub(crate) struct Columns {
    pub(crate) columns: Vec<Column>,
    pub(crate) spec: TaskSpec,
}

impl Columns {
    /// Reads the second argument of `parallel_enrich`. The error says what is wrong and how
    /// to write it.
    pub(crate) fn parse(text: &str) -> Result<Columns, String> {
        let columns = if text.trim_start().starts_with('{') {
            from_schema(text)?
        } else {
            from_list(text)?
        };
        for reserved in [RUN_ID, STATUS, ERROR] {
            if columns.0.iter().any(|c| c.name == reserved) {
                return Err(format!(
                    "`{reserved}` is a field of the result itself (beside `{RUN_ID}`, `{STATUS}` \
                     and `{ERROR}`): name the output column otherwise, e.g. `{reserved}_found`"
                ));
            }
        }
        Ok(Columns {
            columns: columns.0,
            spec: TaskSpec::json(columns.1),
        })
    }

    /// The fields of the result struct: the output columns, then `run_id`, `status`, `error`.
    pub(crate) fn fields(&self) -> Fields {
        let mut fields: Vec<Field> = self
            .columns
            .iter()
            .map(|c| Field::new(&c.name, c.kind.data_type(), true))
            .collect();
        for name in [RUN_ID, STATUS, ERROR] {
            fields.push(Field::new(name, DataType::Utf8, true));
        }
        Fields::from(fields)
    }

    /// The result struct's type.
    pub(crate) fn data_type(&self) -> DataType {
        DataType::Struct(self.fields())
    }
}

/// `name: description, ...` -> string columns and a strict JSON schema asking for them.
fn from_list(text: &str) -> Result<(Vec<Column>, Value), String> {
    let fields = parallel_types::parse_columns(text).map_err(|e| e.to_string())?;
    let schema = parallel_types::columns_schema(&fields);
    let columns = fields
        .into_iter()
        .map(|(name, _)| Column {
            name,
            kind: Kind::Text,
        })
        .collect();
    Ok((columns, schema))
}

/// A JSON schema of the output object -> its properties in written order, typed.
fn from_schema(text: &str) -> Result<(Vec<Column>, Value), String> {
    let schema: Value = serde_json::from_str(text)
        .map_err(|e| format!("the output schema is not valid JSON: {e}"))?;
    if schema.get("type").and_then(Value::as_str) != Some("object") {
        return Err(
            "the output schema must be a JSON schema of `\"type\": \"object\"` with \
                    `properties`"
                .to_owned(),
        );
    }
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        return Err(
            "the output schema has no `properties` object: name the output columns \
                    there"
                .to_owned(),
        );
    };
    // `serde_json::Map` sorts its keys; the columns follow the order the user wrote.
    let order = property_order(text)?;
    let mut columns = Vec::with_capacity(order.len());
    for name in order {
        parallel_types::check_column_name(&name).map_err(|e| e.to_string())?;
        let kind = Kind::of_schema(&properties[&name]);
        columns.push(Column { name, kind });
    }
    if columns.is_empty() {
        return Err("the output schema's `properties` is empty: name at least one column".into());
    }
    Ok((columns, schema))
}

/// The keys of the schema's top-level `properties`, in document order.
fn property_order(text: &str) -> Result<Vec<String>, String> {
    #[derive(serde::Deserialize)]
    struct Schema<'a> {
        #[serde(borrow)]
        properties: &'a serde_json::value::RawValue,
    }
    let schema: Schema<'_> =
        serde_json::from_str(text).map_err(|e| format!("the output schema's `properties`: {e}"))?;
    parallel_types::object_keys(schema.properties.get())
        .ok_or_else(|| "the output schema's `properties` is not a JSON object".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_list_that_cannot_be_read_says_which_item_and_why() {
        let err = Columns::parse("ceo: CEO name, founded year: the year founded")
            .err()
            .unwrap();
        assert!(
            err.contains("item 2 `founded year: the year founded`"),
            "{err}"
        );
        assert!(
            Columns::parse(" ")
                .err()
                .unwrap()
                .contains("at least one output column")
        );
    }

    #[test]
    fn a_list_builds_strict_string_columns() {
        let columns = Columns::parse("b: second, a: first").unwrap();
        let names: Vec<&str> = columns.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["b", "a"]);
        assert!(columns.columns.iter().all(|c| c.kind == Kind::Text));
        let spec = serde_json::to_value(&columns.spec).unwrap();
        let schema = &spec["output_schema"]["json_schema"];
        assert_eq!(schema["properties"]["a"]["description"], "first");
        assert_eq!(schema["required"], json!(["b", "a"]));
        let fields: Vec<String> = columns.fields().iter().map(|f| f.name().clone()).collect();
        assert_eq!(fields, ["b", "a", "run_id", "status", "error"]);
    }

    #[test]
    fn a_schema_gives_typed_columns_in_written_order() {
        let columns = Columns::parse(
            r#"{"type":"object","properties":{"zeta":{"type":"integer"},
                "alpha":{"type":"number"},"ok":{"type":"boolean"},"tags":{"type":"array"},
                "name":{"type":"string"}}}"#,
        )
        .unwrap();
        let got: Vec<(&str, Kind)> = columns
            .columns
            .iter()
            .map(|c| (c.name.as_str(), c.kind))
            .collect();
        assert_eq!(
            got,
            [
                ("zeta", Kind::Integer),
                ("alpha", Kind::Number),
                ("ok", Kind::Boolean),
                ("tags", Kind::Text),
                ("name", Kind::Text)
            ]
        );
        let spec = serde_json::to_value(&columns.spec).unwrap();
        assert_eq!(spec["output_schema"]["json_schema"]["type"], "object");
        assert!(
            Columns::parse("{not json")
                .unwrap_err()
                .contains("not valid JSON")
        );
        assert!(
            Columns::parse(r#"{"type":"string"}"#)
                .unwrap_err()
                .contains("\"type\": \"object\"")
        );
        assert!(
            Columns::parse(r#"{"type":"object"}"#)
                .unwrap_err()
                .contains("no `properties`")
        );
    }

    #[test]
    fn result_field_names_are_reserved() {
        let err = Columns::parse("status: the company's status").unwrap_err();
        assert!(err.contains("`status` is a field of the result"), "{err}");
        assert!(Columns::parse(r#"{"type":"object","properties":{"run_id":{}}}"#).is_err());
    }
}
