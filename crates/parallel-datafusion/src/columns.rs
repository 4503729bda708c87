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

use std::fmt;

use datafusion::arrow::datatypes::{DataType, Field, Fields};
use parallel_types::TaskSpec;
use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::{Value, json};

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
    let fields = parse_list(text)?;
    let mut properties = serde_json::Map::new();
    for (name, description) in &fields {
        properties.insert(
            name.clone(),
            json!({"type": "string", "description": description}),
        );
    }
    let names: Vec<&String> = fields.iter().map(|(n, _)| n).collect();
    let schema = json!({
        "type": "object",
        "properties": properties,
        "required": names,
        "additionalProperties": false,
    });
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
        check_name(&name)?;
        let kind = Kind::of_schema(&properties[&name]);
        columns.push(Column { name, kind });
    }
    if columns.is_empty() {
        return Err("the output schema's `properties` is empty: name at least one column".into());
    }
    Ok((columns, schema))
}

fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("an output column has an empty name".to_owned());
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_alphanumeric() || *c == '_' || *c == '-'))
    {
        return Err(format!(
            "the column name `{name}` contains {bad:?}; names are letters, digits, `_` and `-` \
             (e.g. `{}`)",
            name.split_whitespace().collect::<Vec<_>>().join("_")
        ));
    }
    Ok(())
}

/// Parses `name: description, other: "a description, with commas"` (the grammar of
/// `parallel-batch --columns`).
///
/// Items are separated by commas; a description holding a comma is put in double quotes
/// (`""` for a quote inside them). A name is letters, digits, `_` and `-`. Either every item
/// has a description or none has (`name, other`: each description is its name). Anything
/// else is an error that shows what was read, so nothing is folded silently.
pub(crate) fn parse_list(text: &str) -> Result<Vec<(String, String)>, String> {
    let items = split_items(text)?;
    let described = items.iter().filter(|i| split_colon(i).is_some()).count();
    let mut fields: Vec<(String, String)> = Vec::new();
    for (n, item) in items.iter().enumerate() {
        let fail = |why: String| item_error(n, item, &why, &fields);
        let (name, description) = match split_colon(item) {
            Some((name, description)) => (name.trim(), unquote(description.trim()).map_err(fail)?),
            None if described > 0 => {
                return Err(fail(
                    "it has no `: description` while other items do; a description holding a \
                     comma must be in double quotes"
                        .to_owned(),
                ));
            }
            None => (item.trim(), String::new()),
        };
        check_name(name).map_err(fail)?;
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
        return Err(
            "no output column named: write \"name: description, other_name: description\""
                .to_owned(),
        );
    }
    Ok(fields)
}

/// Items split at commas outside double quotes, empty ones dropped.
fn split_items(text: &str) -> Result<Vec<String>, String> {
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
        return Err(format!("a `\"` is never closed in `{}`", current.trim()));
    }
    items.push(current);
    Ok(items.into_iter().filter(|i| !i.trim().is_empty()).collect())
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
    if inner.replace("\"\"", "").contains('"') {
        return Err("a `\"` inside a quoted description must be doubled (`\"\"`)".to_owned());
    }
    Ok(inner.replace("\"\"", "\""))
}

fn item_error(n: usize, item: &str, why: &str, read: &[(String, String)]) -> String {
    let read = if read.is_empty() {
        "nothing".to_owned()
    } else {
        read.iter()
            .map(|(name, description)| format!("{name} ({description:?})"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "cannot read item {} `{}`: {why}. Read before it: {read}. Write \"name: description, \
         other_name: \\\"a description, with commas\\\"\"",
        n + 1,
        item.trim()
    )
}

/// The keys of the schema's top-level `properties`, in document order.
fn property_order(text: &str) -> Result<Vec<String>, String> {
    #[derive(serde::Deserialize)]
    struct Schema {
        properties: OrderedKeys,
    }
    serde_json::from_str::<Schema>(text)
        .map(|s| s.properties.0)
        .map_err(|e| format!("the output schema's `properties`: {e}"))
}

/// The keys of a JSON object in document order.
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
    fn a_list_quotes_commas_and_refuses_what_it_cannot_read() {
        let fields = parse_list(
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
        let fields = parse_list("industry, hq_city").unwrap();
        assert_eq!(fields[1], ("hq_city".into(), "hq city".into()));

        let err = parse_list("ceo: CEO name, founded year: the year founded").unwrap_err();
        assert!(
            err.contains("item 2 `founded year: the year founded`"),
            "{err}"
        );
        assert!(err.contains("ceo (\"CEO name\")"), "{err}");
        assert!(err.contains("founded_year"), "{err}");
        let err = parse_list("ceo: Full name, if known").unwrap_err();
        assert!(err.contains("item 2 `if known`"), "{err}");
        assert!(parse_list("a: x, a: y").unwrap_err().contains("twice"));
        assert!(parse_list(" ").unwrap_err().contains("no output column"));
        assert!(
            parse_list("a: \"open")
                .unwrap_err()
                .contains("never closed")
        );
        assert!(parse_list(": nameless").unwrap_err().contains("empty name"));
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
