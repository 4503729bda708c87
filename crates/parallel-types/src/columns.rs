//! Output columns written as one line of text, `name: description, other: "with, commas"`:
//! the grammar of `parallel-batch --columns` and of `parallel_enrich` in parallel-datafusion,
//! and the strict JSON schema that asks a run for them.

use std::fmt;

use serde::Deserializer;
use serde::de::{IgnoredAny, MapAccess, Visitor};
use serde_json::{Value, json};

/// A column list that cannot be read: the message says which item, why, what was read before
/// it, and how to write it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnsError {
    message: String,
}

impl fmt::Display for ColumnsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ColumnsError {}

impl ColumnsError {
    fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

/// Parses `name: description, other: "a description, with commas"` into `(name,
/// description)` pairs, in the order written.
///
/// Items are separated by commas; a description holding a comma is put in double quotes
/// (`""` for a quote inside them). A name is letters, digits, `_` and `-`. Either every item
/// has a description or none has (`name, other`: each description is its name, `_` read as a
/// space). Anything else is an error that shows what was read, so nothing is folded silently.
///
/// ```
/// let columns = parallel_types::parse_columns(r#"ceo: CEO name, hq: "City, country""#).unwrap();
/// assert_eq!(columns[1], ("hq".to_owned(), "City, country".to_owned()));
/// // An unquoted comma would have made `country` a column without a description.
/// assert!(parallel_types::parse_columns("ceo: CEO name, hq: City, country").is_err());
/// ```
pub fn parse_columns(text: &str) -> Result<Vec<(String, String)>, ColumnsError> {
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
        check_column_name(name).map_err(|e| fail(e.message))?;
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
        return Err(ColumnsError::new(
            "name at least one output column, as \"name: description, other_name: description\"",
        ));
    }
    Ok(fields)
}

/// Checks a column name: not empty; letters, digits, `_` and `-` only.
pub fn check_column_name(name: &str) -> Result<(), ColumnsError> {
    if name.is_empty() {
        return Err(ColumnsError::new("the column name is empty"));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_alphanumeric() || *c == '_' || *c == '-'))
    {
        return Err(ColumnsError::new(format!(
            "the name `{name}` contains {bad:?}; names are letters, digits, `_` and `-` \
             (e.g. `{}`)",
            name.split_whitespace().collect::<Vec<_>>().join("_")
        )));
    }
    Ok(())
}

/// The strict JSON schema of an object with these `(name, description)` string columns, all
/// required and nothing else: what a task spec's `json_schema` asks a run for.
pub fn columns_schema(columns: &[(String, String)]) -> Value {
    let mut properties = serde_json::Map::new();
    for (name, description) in columns {
        properties.insert(
            name.clone(),
            json!({"type": "string", "description": description}),
        );
    }
    let names: Vec<&String> = columns.iter().map(|(n, _)| n).collect();
    json!({
        "type": "object",
        "properties": properties,
        "required": names,
        "additionalProperties": false,
    })
}

/// The top-level keys of a JSON object text, in document order (`serde_json::Map` sorts
/// them); `None` if the text is not a JSON object.
pub fn object_keys(text: &str) -> Option<Vec<String>> {
    serde_json::from_str::<OrderedKeys>(text).ok().map(|k| k.0)
}

/// Items split at commas outside double quotes, empty ones dropped.
fn split_items(text: &str) -> Result<Vec<String>, ColumnsError> {
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
        return Err(ColumnsError::new(format!(
            "a `\"` is never closed in `{}`",
            current.trim()
        )));
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

/// The error for item `n`, showing the columns read before it.
fn item_error(n: usize, item: &str, why: &str, read: &[(String, String)]) -> ColumnsError {
    let read = if read.is_empty() {
        "nothing".to_owned()
    } else {
        read.iter()
            .map(|(name, description)| format!("{name} ({description:?})"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    ColumnsError::new(format!(
        "cannot read item {} `{}`: {why}. Read before it: {read}. Write \"name: description, \
         other_name: \\\"a description, with commas\\\"\"",
        n + 1,
        item.trim()
    ))
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
        // Names with a space are refused, naming the item, the parse so far and a fix.
        let err = parse_columns(
            "ceo: CEO name, founded year: the year founded, hq city: headquarters city",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("item 2 `founded year: the year founded`"),
            "{err}"
        );
        assert!(err.contains("ceo (\"CEO name\")"), "{err}");
        assert!(err.contains("founded_year"), "{err}");
        // An unquoted comma inside a description is not folded into it.
        let err = parse_columns("ceo: Full name, if known").unwrap_err();
        assert!(err.to_string().contains("item 2 `if known`"), "{err}");
        let err = parse_columns("a: x, a: y").unwrap_err();
        assert!(err.to_string().contains("`a` appears twice"), "{err}");
        let err = parse_columns(" ").unwrap_err();
        assert!(
            err.to_string().contains("at least one output column"),
            "{err}"
        );
        let err = parse_columns("a: \"open").unwrap_err();
        assert!(err.to_string().contains("never closed"), "{err}");
        let err = parse_columns(": nameless").unwrap_err();
        assert!(err.to_string().contains("name is empty"), "{err}");
        let err = parse_columns("a: \"x\" y").unwrap_err();
        assert!(err.to_string().contains("follows the closing"), "{err}");
    }

    #[test]
    fn the_schema_asks_for_every_column_as_a_string_and_nothing_else() {
        let columns = parse_columns("b: second, a: first").unwrap();
        let schema = columns_schema(&columns);
        assert_eq!(schema["properties"]["a"]["description"], "first");
        assert_eq!(schema["properties"]["b"]["type"], "string");
        assert_eq!(schema["required"], json!(["b", "a"]));
        assert_eq!(schema["additionalProperties"], false);
    }

    #[test]
    fn object_keys_keep_the_written_order() {
        assert_eq!(
            object_keys(r#"{"zeta": 1, "alpha": {"x": 2}, "mid": null}"#),
            Some(vec!["zeta".into(), "alpha".into(), "mid".into()])
        );
        assert_eq!(object_keys("[1, 2]"), None);
        assert_eq!(object_keys("{oops"), None);
    }
}
