//! The task every row runs: built from `--spec`, `--output-schema`, `--columns` or `--text`.

use std::fmt;
use std::path::Path;

use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::{Value, json};

use crate::Error;

/// How the user described the task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskSource {
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
pub struct Task {
    /// The `default_task_spec` of every add-runs request.
    pub spec: Value,
    /// Top-level output field names, in schema order, when the output is a JSON object with
    /// known properties; `None` for text or auto output (written as one `output` column).
    pub output_fields: Option<Vec<String>>,
}

impl Task {
    /// Builds the task from the user's description.
    pub fn build(source: &TaskSource) -> Result<Self, Error> {
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
                let mut properties = serde_json::Map::new();
                for (name, description) in &fields {
                    properties.insert(
                        name.clone(),
                        json!({"type": "string", "description": description}),
                    );
                }
                let names: Vec<String> = fields.into_iter().map(|(n, _)| n).collect();
                Ok(Self {
                    spec: json!({"output_schema": {"type": "json", "json_schema": {
                        "type": "object",
                        "properties": properties,
                        "required": names,
                        "additionalProperties": false,
                    }}}),
                    output_fields: Some(names),
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

/// Parses `name: description, other: "a description, with commas"`.
///
/// Items are separated by commas; a description holding a comma is put in double quotes
/// (`""` for a quote inside them). A name is letters, digits, `_` and `-`. Either every item
/// has a description or none has (`name, other`: each description is its name). Anything
/// else is an error that shows what was read, so nothing is folded silently.
pub fn parse_columns(text: &str) -> Result<Vec<(String, String)>, Error> {
    let items = split_items(text)?;
    let described = items.iter().filter(|i| has_colon(i)).count();
    let mut fields: Vec<(String, String)> = Vec::new();
    for (n, item) in items.iter().enumerate() {
        let fail = |why: String| columns_error(n, item, &why, &fields);
        let (name, description) = match split_colon(item) {
            Some((name, description)) => (name.trim(), unquote(description.trim()).map_err(fail)?),
            None if described > 0 => {
                return Err(fail(
                    "it has no `: description` while other items do; a description holding a \
                     comma must be in double quotes"
                        .to_owned(),
                ));
            }
            None => (item.trim(), item.trim().replace('_', " ")),
        };
        if name.is_empty() {
            return Err(fail("the name before `:` is empty".to_owned()));
        }
        if let Some(bad) = name
            .chars()
            .find(|c| !(c.is_alphanumeric() || *c == '_' || *c == '-'))
        {
            return Err(fail(format!(
                "the name `{name}` contains {bad:?}; names are letters, digits, `_` and `-` \
                 (e.g. `{}`)",
                name.split_whitespace().collect::<Vec<_>>().join("_")
            )));
        }
        if fields.iter().any(|(n, _)| n == name) {
            return Err(fail(format!("`{name}` appears twice")));
        }
        let description = if description.is_empty() {
            name.replace('_', " ")
        } else {
            description
        };
        fields.push((name.to_owned(), description));
    }
    if fields.is_empty() {
        return Err(Error::usage(
            "--columns: name at least one output field, as \"name: description, ...\"",
        ));
    }
    Ok(fields)
}

/// The items of `--columns`: split at commas outside double quotes, empty ones dropped.
fn split_items(text: &str) -> Result<Vec<String>, Error> {
    let mut items = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in text.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                current.push(c);
            }
            ',' if !quoted => items.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    if quoted {
        return Err(Error::usage(format!(
            "--columns: a `\"` is never closed in `{}`",
            current.trim()
        )));
    }
    items.push(current);
    Ok(items.into_iter().filter(|i| !i.trim().is_empty()).collect())
}

fn has_colon(item: &str) -> bool {
    split_colon(item).is_some()
}

/// `name: description` at the first colon outside quotes.
fn split_colon(item: &str) -> Option<(&str, &str)> {
    let quote = item.find('"').unwrap_or(item.len());
    let colon = item[..quote].find(':')?;
    Some((&item[..colon], &item[colon + 1..]))
}

/// A description as written, or the text inside its double quotes.
fn unquote(description: &str) -> Result<String, String> {
    let Some(inner) = description.strip_prefix('"') else {
        if description.contains('"') {
            return Err(
                "a description with a `\"` must be quoted whole: name: \"text \"\"quoted\"\"\""
                    .to_owned(),
            );
        }
        return Ok(description.to_owned());
    };
    let Some(inner) = inner.strip_suffix('"') else {
        return Err("text follows the closing `\"` of the description".to_owned());
    };
    let text = inner.replace("\"\"", "\"");
    if inner.replace("\"\"", "").contains('"') {
        return Err("a `\"` inside a quoted description must be doubled (`\"\"`)".to_owned());
    }
    Ok(text)
}

/// The error for item `n`, showing the fields read before it.
fn columns_error(n: usize, item: &str, why: &str, read: &[(String, String)]) -> Error {
    let read = if read.is_empty() {
        "nothing".to_owned()
    } else {
        read.iter()
            .map(|(name, description)| format!("{name} ({description:?})"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    Error::usage(format!(
        "--columns: cannot read item {} `{}`: {why}. Read before it: {read}. Write \
         \"name: description, other_name: \\\"a description, with commas\\\"\"",
        n + 1,
        item.trim()
    ))
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
    struct Schema {
        #[serde(default)]
        properties: Option<OrderedKeys>,
    }
    let schema: Schema = serde_json::from_str(schema_text).map_err(|e| {
        Error::usage(format!(
            "{}: the schema's `properties`: {e}",
            path.display()
        ))
    })?;
    Ok(schema.properties.map(|k| k.0).filter(|k| !k.is_empty()))
}

/// The top-level keys of a JSON object text, in document order (empty if it is not one).
pub(crate) fn object_keys(text: &str) -> Option<Vec<String>> {
    serde_json::from_str::<OrderedKeys>(text).ok().map(|k| k.0)
}

/// The keys of a JSON object in document order (`serde_json::Map` would sort them).
struct OrderedKeys(Vec<String>);

impl<'de> serde::Deserialize<'de> for OrderedKeys {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Keys;
        impl<'de> Visitor<'de> for Keys {
            type Value = OrderedKeys;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<OrderedKeys, A::Error> {
                let mut keys = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    map.next_value::<IgnoredAny>()?;
                    keys.push(key);
                }
                Ok(OrderedKeys(keys))
            }
        }
        deserializer.deserialize_map(Keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_quote_commas_and_refuse_what_they_cannot_read() {
        let fields = parse_columns(
            r#"ceo_name: "Full name of the CEO, if any", founded_year: "Year, ""YYYY""""#,
        )
        .unwrap();
        assert_eq!(
            fields,
            vec![
                ("ceo_name".into(), "Full name of the CEO, if any".into()),
                ("founded_year".into(), "Year, \"YYYY\"".into()),
            ]
        );
        let fields = parse_columns("industry, hq_city").unwrap();
        assert_eq!(
            fields,
            vec![
                ("industry".into(), "industry".into()),
                ("hq_city".into(), "hq city".into())
            ]
        );
        // The issue's example: names with a space are refused, naming the item and the parse.
        let err = parse_columns(
            "ceo: CEO name, founded year: the year founded, hq city: headquarters city",
        )
        .unwrap_err();
        assert!(err.is_usage());
        let text = err.to_string();
        assert!(
            text.contains("item 2 `founded year: the year founded`"),
            "{text}"
        );
        assert!(text.contains("ceo (\"CEO name\")"), "{text}");
        assert!(text.contains("founded_year"), "{text}");
        // An unquoted comma inside a description is not folded into it.
        let err = parse_columns("ceo: Full name, if known").unwrap_err();
        assert!(err.to_string().contains("item 2 `if known`"), "{err}");
        assert!(parse_columns("a: x, a: y").unwrap_err().is_usage());
        assert!(parse_columns(" ").unwrap_err().is_usage());
        assert!(parse_columns("a: \"open").unwrap_err().is_usage());
        assert!(parse_columns(": nameless").unwrap_err().is_usage());
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
