//! The output columns `parallel_enrich` asks for, read from its second argument: the task
//! spec sent to the API and the fields of the result struct.
//!
//! Two forms:
//!
//! - `'name: description, other (integer): "a description, with commas"'`, the grammar of
//!   `parallel-batch --columns` ([`parallel_types::parse_columns`]): string columns unless a
//!   type is written (`integer`, `number`, `boolean`, `date`, `list`);
//! - a JSON schema of the output object, `'{"type": "object", "properties": {...}}'`: columns
//!   follow its `properties` in the order written, typed from each property's schema by
//!   [`ColumnType::from_schema`], the mapping parallel-batch's Parquet output uses too.
//!
//! With the third argument `'basis'`, each output column `X` also gets its sources:
//! `X_citations` (the URLs, a list), `X_confidence` and `X_reasoning`.

use datafusion::arrow::datatypes::{DataType, Field, Fields};
use parallel_arrow::ColumnType;
use parallel_types::TaskSpec;
use serde_json::Value;

use crate::options::BASIS;

/// Fields of the result struct that are not output columns.
pub(crate) const RUN_ID: &str = "run_id";
pub(crate) const STATUS: &str = "status";
pub(crate) const ERROR: &str = "error";

/// One requested output column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Column {
    pub(crate) name: String,
    pub(crate) column_type: ColumnType,
}

/// The output columns and the task spec that asks for them.
#[derive(Debug, Clone)]
pub(crate) struct Columns {
    pub(crate) outputs: Vec<Column>,
    pub(crate) spec: TaskSpec,
    /// Whether each column's sources are fields of the result too.
    pub(crate) basis: bool,
}

impl Columns {
    /// Reads the second argument of `parallel_enrich`; with `basis`, each column's sources
    /// are fields of the result too. The error says what is wrong and how to write it.
    pub(crate) fn parse(text: &str, basis: bool) -> Result<Columns, String> {
        let (columns, schema) = if text.trim_start().starts_with('{') {
            from_schema(text)?
        } else {
            from_list(text)?
        };
        let columns = Columns {
            outputs: columns,
            spec: TaskSpec::json(schema),
            basis,
        };
        columns.check_names()?;
        Ok(columns)
    }

    /// No output column takes the name of another field of the result.
    fn check_names(&self) -> Result<(), String> {
        for reserved in [RUN_ID, STATUS, ERROR] {
            if self.outputs.iter().any(|c| c.name == reserved) {
                return Err(format!(
                    "`{reserved}` is a field of the result itself (beside `{RUN_ID}`, `{STATUS}` \
                     and `{ERROR}`): name the output column otherwise, e.g. `{reserved}_found`"
                ));
            }
        }
        if self.basis {
            for column in &self.outputs {
                let names = parallel_types::source_column_names(&column.name);
                if let Some(taken) = self.outputs.iter().find(|c| names.contains(&c.name)) {
                    return Err(format!(
                        "`{}` is also the field of `{}`'s sources with '{BASIS}': name the \
                         output column otherwise",
                        taken.name, column.name
                    ));
                }
            }
        }
        Ok(())
    }

    /// The fields of the result struct: the output columns, with '`basis`' their sources,
    /// then `run_id`, `status`, `error`.
    pub(crate) fn fields(&self) -> Fields {
        let mut fields: Vec<Field> = self
            .outputs
            .iter()
            .map(|c| c.column_type.field(&c.name))
            .collect();
        if self.basis {
            for column in &self.outputs {
                let [citations, confidence, reasoning] =
                    parallel_types::source_column_names(&column.name);
                fields.push(ColumnType::List.field(citations));
                fields.push(ColumnType::String.field(confidence));
                fields.push(ColumnType::String.field(reasoning));
            }
        }
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

/// `name (type): description, ...` -> typed columns and a strict JSON schema asking for
/// them; each column's Arrow type is read from that schema, as for a schema written whole.
fn from_list(text: &str) -> Result<(Vec<Column>, Value), String> {
    let fields = parallel_types::parse_columns(text).map_err(|e| e.to_string())?;
    let schema = parallel_types::columns_schema(&fields);
    let columns = fields
        .into_iter()
        .map(|field| Column {
            column_type: ColumnType::from_schema(schema["properties"].get(&field.name)),
            name: field.name,
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
        let column_type = ColumnType::from_schema(properties.get(&name));
        columns.push(Column { name, column_type });
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
        let err = Columns::parse("ceo: CEO name, founded year: the year founded", false)
            .err()
            .unwrap();
        assert!(
            err.contains("item 2 `founded year: the year founded`"),
            "{err}"
        );
        assert!(
            Columns::parse(" ", false)
                .err()
                .unwrap()
                .contains("at least one output column")
        );
    }

    #[test]
    fn a_list_builds_strict_string_columns() {
        let columns = Columns::parse("b: second, a: first", false).unwrap();
        let names: Vec<&str> = columns.outputs.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["b", "a"]);
        assert!(
            columns
                .outputs
                .iter()
                .all(|c| c.column_type == ColumnType::String)
        );
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
            r#"{"type":"object","properties":{"zeta":{"type":["integer","null"]},
                "alpha":{"type":"number"},"ok":{"type":"boolean"},"tags":{"type":"array"},
                "name":{"type":"string"}}}"#,
            false,
        )
        .unwrap();
        let got: Vec<(&str, ColumnType)> = columns
            .outputs
            .iter()
            .map(|c| (c.name.as_str(), c.column_type))
            .collect();
        // A nullable union is its type; an array of no declared items is JSON text.
        assert_eq!(
            got,
            [
                ("zeta", ColumnType::Integer),
                ("alpha", ColumnType::Number),
                ("ok", ColumnType::Boolean),
                ("tags", ColumnType::Json),
                ("name", ColumnType::String)
            ]
        );
        let spec = serde_json::to_value(&columns.spec).unwrap();
        assert_eq!(spec["output_schema"]["json_schema"]["type"], "object");
        assert!(
            Columns::parse("{not json", false)
                .unwrap_err()
                .contains("not valid JSON")
        );
        assert!(
            Columns::parse(r#"{"type":"string"}"#, false)
                .unwrap_err()
                .contains("\"type\": \"object\"")
        );
        assert!(
            Columns::parse(r#"{"type":"object"}"#, false)
                .unwrap_err()
                .contains("no `properties`")
        );
    }

    #[test]
    fn basis_adds_three_fields_per_column_after_the_columns() {
        let columns = Columns::parse("ceo: CEO name, founded (integer): year", true).unwrap();
        let fields: Vec<(String, DataType)> = columns
            .fields()
            .iter()
            .map(|f| (f.name().clone(), f.data_type().clone()))
            .collect();
        let list = ColumnType::List.data_type();
        let names: Vec<&str> = fields.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "ceo",
                "founded",
                "ceo_citations",
                "ceo_confidence",
                "ceo_reasoning",
                "founded_citations",
                "founded_confidence",
                "founded_reasoning",
                "run_id",
                "status",
                "error"
            ]
        );
        assert_eq!(fields[1].1, DataType::Int64);
        assert_eq!(fields[2].1, list);
        assert_eq!(fields[3].1, DataType::Utf8);
        let err = Columns::parse("ceo: x, ceo_reasoning: y", true).unwrap_err();
        assert!(
            err.contains("`ceo_reasoning` is also the field of `ceo`'s sources"),
            "{err}"
        );
        assert!(Columns::parse("ceo: x, ceo_reasoning: y", false).is_ok());
    }

    #[test]
    fn typed_lists_give_typed_columns() {
        let columns = Columns::parse(
            "n (integer), x (number), ok (bool), d (date), tags (list), s",
            false,
        )
        .unwrap();
        let types: Vec<DataType> = columns
            .fields()
            .iter()
            .take(6)
            .map(|f| f.data_type().clone())
            .collect();
        assert_eq!(
            types,
            [
                DataType::Int64,
                DataType::Float64,
                DataType::Boolean,
                DataType::Date32,
                ColumnType::List.data_type(),
                DataType::Utf8
            ]
        );
        let spec = serde_json::to_value(&columns.spec).unwrap();
        let schema = &spec["output_schema"]["json_schema"]["properties"];
        assert_eq!(schema["d"]["format"], "date");
        assert_eq!(schema["tags"]["items"]["type"], "string");
    }

    #[test]
    fn result_field_names_are_reserved() {
        let err = Columns::parse("status: the company's status", false).unwrap_err();
        assert!(err.contains("`status` is a field of the result"), "{err}");
        assert!(Columns::parse(r#"{"type":"object","properties":{"run_id":{}}}"#, false).is_err());
    }
}
