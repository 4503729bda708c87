//! The task every row runs: built from `--spec`, `--output-schema`, `--columns` or `--text`.

use std::path::Path;

use serde_json::{Value, json};

use crate::error::Error;

/// How the user described the task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TaskSource {
    /// A whole task spec (`{"output_schema": ..., "input_schema": ...}`) in a JSON file.
    SpecFile(std::path::PathBuf),
    /// A JSON schema for the output, in a file.
    OutputSchemaFile(std::path::PathBuf),
    /// `name: description, ...`: string fields.
    Columns(String),
    /// Free-text output described by this sentence.
    Text(String),
    /// No description: the service picks the output shape (`auto` schema).
    Auto,
}

/// The task spec as sent to the API, and the output fields it promises.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Task {
    /// The `default_task_spec` of every add-runs request.
    pub(crate) spec: Value,
    /// Top-level output field names, in schema order, when the output is a JSON object with
    /// known properties; `None` for text or auto output (written as one `output` column).
    pub(crate) output_fields: Option<Vec<String>>,
}

impl Task {
    /// Builds the task from the user's description.
    pub(crate) fn build(source: &TaskSource) -> Result<Self, Error> {
        match source {
            TaskSource::SpecFile(path) => {
                let text = read(path)?;
                let spec: Value = parse(path, &text)?;
                let Some(output) = spec.get("output_schema") else {
                    return Err(Error::usage(format!(
                        "{}: a task spec needs an `output_schema` (use --output-schema for a \
                         bare JSON schema)",
                        path.display()
                    )));
                };
                let output_fields = match output {
                    Value::Object(o) if o.contains_key("json_schema") => {
                        let raw = raw_field(path, &text, "output_schema")?;
                        let raw = raw_field(path, &raw, "json_schema")?;
                        property_order(path, &raw)?
                    }
                    _ => None,
                };
                Ok(Self {
                    spec,
                    output_fields,
                })
            }
            TaskSource::OutputSchemaFile(path) => {
                let text = read(path)?;
                let schema: Value = parse(path, &text)?;
                if !schema.is_object() {
                    return Err(Error::usage(format!(
                        "{}: the output schema must be a JSON object",
                        path.display()
                    )));
                }
                // Accept both a bare JSON schema and one already wrapped as `{"type":"json",
                // "json_schema": ...}`.
                let (json_schema, raw) = if schema.get("json_schema").is_some() {
                    let raw = raw_field(path, &text, "json_schema")?;
                    (schema["json_schema"].clone(), raw)
                } else {
                    (schema, text)
                };
                let output_fields = property_order(path, &raw)?;
                Ok(Self {
                    spec: json!({"output_schema": {"type": "json", "json_schema": json_schema}}),
                    output_fields,
                })
            }
            TaskSource::Columns(columns) => {
                let fields = parse_columns(columns)?;
                let schema = parallel_types::columns_schema(&fields);
                Ok(Self {
                    spec: json!({"output_schema": {"type": "json", "json_schema": schema}}),
                    output_fields: Some(fields.into_iter().map(|c| c.name).collect()),
                })
            }
            TaskSource::Text(description) => Ok(Self {
                spec: json!({"output_schema": {"type": "text", "description": description}}),
                output_fields: None,
            }),
            TaskSource::Auto => Ok(Self {
                spec: json!({"output_schema": {"type": "auto"}}),
                output_fields: None,
            }),
        }
    }
}

/// Parses `--columns`: `name: description, other: "a description, with commas"` (see
/// [`parallel_types::parse_columns`] for the grammar), or a usage error that says which
/// item, why, and what was read before it.
pub(crate) fn parse_columns(text: &str) -> Result<Vec<parallel_types::OutputColumn>, Error> {
    parallel_types::parse_columns(text).map_err(|e| Error::usage(format!("--columns: {e}")))
}

fn read(path: &Path) -> Result<String, Error> {
    std::fs::read_to_string(path)
        .map_err(|e| Error::io(format!("cannot read {}", path.display()), e))
}

fn parse(path: &Path, text: &str) -> Result<Value, Error> {
    serde_json::from_str(text).map_err(|e| {
        Error::input(
            path,
            e.line() as u64,
            Some(e.column().to_string()),
            format!("invalid JSON: {e}"),
        )
    })
}

/// The raw text of one top-level field of a JSON object, keeping its key order.
fn raw_field(path: &Path, text: &str, key: &str) -> Result<String, Error> {
    let map: std::collections::BTreeMap<String, Box<serde_json::value::RawValue>> =
        serde_json::from_str(text).map_err(|e| Error::usage(format!("{}: {e}", path.display())))?;
    Ok(map.get(key).map(|r| r.get().to_owned()).unwrap_or_default())
}

/// The top-level `properties` names of a JSON schema, in the order the file lists them.
fn property_order(path: &Path, schema_text: &str) -> Result<Option<Vec<String>>, Error> {
    #[derive(serde::Deserialize)]
    struct Schema<'a> {
        #[serde(default, borrow)]
        properties: Option<&'a serde_json::value::RawValue>,
    }
    let schema: Schema<'_> = serde_json::from_str(schema_text)
        .map_err(|e| Error::usage(format!("{}: the schema: {e}", path.display())))?;
    let Some(properties) = schema.properties else {
        return Ok(None);
    };
    let keys = object_keys(properties.get()).ok_or_else(|| {
        Error::usage(format!(
            "{}: the schema's `properties` is not a JSON object",
            path.display()
        ))
    })?;
    Ok(Some(keys).filter(|k| !k.is_empty()))
}

pub(crate) use parallel_types::object_keys;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_errors_are_usage_errors_that_name_the_flag() {
        let err = parse_columns("ceo: CEO name, founded year: the year founded").unwrap_err();
        assert!(err.is_usage());
        let text = err.to_string();
        assert!(text.starts_with("--columns: cannot read item 2"), "{text}");
        assert!(parse_columns(" ").unwrap_err().is_usage());
        assert_eq!(parse_columns("a, b_c").unwrap()[1].description, "b c");
    }

    #[test]
    fn columns_build_a_strict_json_schema() {
        let task = Task::build(&TaskSource::Columns("b: second, a: first".into())).unwrap();
        assert_eq!(task.output_fields, Some(vec!["b".into(), "a".into()]));
        let schema = &task.spec["output_schema"];
        assert_eq!(schema["type"], "json");
        assert_eq!(
            schema["json_schema"]["properties"]["a"]["description"],
            "first"
        );
        assert_eq!(schema["json_schema"]["required"], json!(["b", "a"]));
    }

    #[test]
    fn schema_files_keep_property_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("schema.json");
        std::fs::write(
            &path,
            r#"{"type":"object","properties":{"zeta":{"type":"string"},"alpha":{"type":"integer"}}}"#,
        )
        .unwrap();
        let task = Task::build(&TaskSource::OutputSchemaFile(path.clone())).unwrap();
        assert_eq!(
            task.output_fields,
            Some(vec!["zeta".into(), "alpha".into()])
        );
        assert_eq!(task.spec["output_schema"]["json_schema"]["type"], "object");

        std::fs::write(
            &path,
            r#"{"output_schema":{"type":"json","json_schema":{"properties":{"y":{},"x":{}}}}}"#,
        )
        .unwrap();
        let task = Task::build(&TaskSource::SpecFile(path.clone())).unwrap();
        assert_eq!(task.output_fields, Some(vec!["y".into(), "x".into()]));

        std::fs::write(&path, r#"{"input_schema": "x"}"#).unwrap();
        assert!(
            Task::build(&TaskSource::SpecFile(path.clone()))
                .unwrap_err()
                .is_usage()
        );
        std::fs::write(&path, "{\n  \"a\": oops }").unwrap();
        let err = Task::build(&TaskSource::SpecFile(path)).unwrap_err();
        assert_eq!(err.line(), Some(2));
    }

    #[test]
    fn text_and_auto_have_no_fixed_fields() {
        let task = Task::build(&TaskSource::Text("A short profile".into())).unwrap();
        assert_eq!(task.spec["output_schema"]["description"], "A short profile");
        assert_eq!(task.output_fields, None);
        assert_eq!(Task::build(&TaskSource::Auto).unwrap().output_fields, None);
    }
}
