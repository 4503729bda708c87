//! Output columns written as one line of text, `name: description, other (integer): "with,
//! commas"`: the grammar of `parallel-batch --columns` and of `parallel_enrich` in
//! parallel-datafusion, and the strict JSON schema that asks a run for them.

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

/// One output column: its name, what to find, and the type of its values.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OutputColumn {
    /// The column's name: letters, digits, `_` and `-`.
    pub name: String,
    /// What the run is asked to find.
    pub description: String,
    /// The type of its values (default [`ValueType::String`]).
    pub value_type: ValueType,
}

impl OutputColumn {
    /// A string column.
    pub fn new(name: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            description: description.into(),
            value_type: ValueType::String,
        }
    }

    /// The column with values of `value_type`.
    #[must_use]
    pub fn with_type(mut self, value_type: ValueType) -> Self {
        self.value_type = value_type;
        self
    }
}

/// The type of an output column's values, as `name (type): description` writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ValueType {
    /// `string` (or `str`): text; the default.
    String,
    /// `integer` (or `int`): a whole number.
    Integer,
    /// `number` (or `float`): any number.
    Number,
    /// `boolean` (or `bool`): `true` or `false`.
    Boolean,
    /// `date`: a calendar date, `YYYY-MM-DD` (a string with `"format": "date"`).
    Date,
    /// `list`: a list of strings.
    List,
}

impl ValueType {
    /// The names the grammar reads, each with the type it means; the official tool's short
    /// names (`str`, `int`, `float`, `bool`) are read too.
    const NAMES: [(&'static str, ValueType); 10] = [
        ("string", Self::String),
        ("str", Self::String),
        ("integer", Self::Integer),
        ("int", Self::Integer),
        ("number", Self::Number),
        ("float", Self::Number),
        ("boolean", Self::Boolean),
        ("bool", Self::Boolean),
        ("date", Self::Date),
        ("list", Self::List),
    ];

    /// The type a name means (`integer`, `int`, ...; any case), if any.
    pub fn from_name(name: &str) -> Option<Self> {
        let name = name.trim().to_ascii_lowercase();
        Self::NAMES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, value_type)| *value_type)
    }

    /// The type's name in the grammar (`string`, `integer`, `number`, `boolean`, `date`,
    /// `list`).
    pub fn name(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Integer => "integer",
            Self::Number => "number",
            Self::Boolean => "boolean",
            Self::Date => "date",
            Self::List => "list",
        }
    }

    /// The JSON schema of one property of this type, described by `description`.
    pub fn schema(self, description: &str) -> Value {
        match self {
            Self::Date => json!({"type": "string", "format": "date", "description": description}),
            Self::List => json!({
                "type": "array",
                "items": {"type": "string"},
                "description": description,
            }),
            other => json!({"type": other.name(), "description": description}),
        }
    }
}

/// Parses `name: description, other (integer): "a description, with commas"` into
/// [`OutputColumn`]s, in the order written.
///
/// Items are separated by commas; a description holding a comma is put in double quotes
/// (`""` for a quote inside them). A name is letters, digits, `_` and `-`, followed by its
/// type in parentheses if it is not a string: `string`, `integer`, `number`, `boolean`,
/// `date` (`YYYY-MM-DD`) or `list` (of strings), or the short `str`, `int`, `float`, `bool`.
/// Either every item has a description or none has (`name, other (date)`: each description
/// is its name, `_` read as a space). Anything else is an error that shows what was read, so
/// nothing is folded silently.
///
/// ```
/// use parallel_types::{ValueType, parse_columns};
///
/// let columns = parse_columns(r#"ceo: CEO name, hq: "City, country", founded (int): year"#)?;
/// assert_eq!(columns[1].description, "City, country");
/// assert_eq!(columns[2].value_type, ValueType::Integer);
/// // An unquoted comma would have made `country` a column without a description.
/// assert!(parse_columns("ceo: CEO name, hq: City, country").is_err());
/// # Ok::<(), parallel_types::ColumnsError>(())
/// ```
pub fn parse_columns(text: &str) -> Result<Vec<OutputColumn>, ColumnsError> {
    let items = split_items(text)?;
    let described = items.iter().filter(|i| split_colon(i).is_some()).count();
    let mut fields: Vec<OutputColumn> = Vec::new();
    for (n, item) in items.iter().enumerate() {
        let fail = |why: String| item_error(n, item, &why, &fields);
        let (head, description) = match split_colon(item) {
            Some((head, description)) => (head.trim(), unquote(description.trim()).map_err(fail)?),
            None if described > 0 => {
                return Err(fail(
                    "it has no `: description` while other items do; a description holding a \
                     comma must be in double quotes"
                        .to_owned(),
                ));
            }
            None => (item.trim(), String::new()),
        };
        let (name, value_type) = split_type(head).map_err(fail)?;
        check_column_name(name).map_err(|e| fail(e.message))?;
        if fields.iter().any(|c| c.name == name) {
            return Err(fail(format!("`{name}` appears twice")));
        }
        let description = if description.is_empty() {
            name.replace('_', " ")
        } else {
            description
        };
        fields.push(OutputColumn::new(name, description).with_type(value_type));
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

/// `name (type)` -> the name and the type (a string when none is written).
fn split_type(head: &str) -> Result<(&str, ValueType), String> {
    let Some(open) = head.find('(') else {
        return Ok((head, ValueType::String));
    };
    let (name, rest) = (head[..open].trim(), &head[open + 1..]);
    let Some(type_name) = rest.strip_suffix(')') else {
        return Err("a type is written in parentheses after the name: `name (integer)`".into());
    };
    match ValueType::from_name(type_name) {
        Some(value_type) => Ok((name, value_type)),
        None => Err(format!(
            "`{}` is not a type; write string, integer, number, boolean, date or list",
            type_name.trim()
        )),
    }
}

/// The strict JSON schema of an object with these columns, all required and nothing else:
/// what a task spec's `json_schema` asks a run for. Each property has its column's type
/// ([`ValueType::schema`]).
pub fn columns_schema(columns: &[OutputColumn]) -> Value {
    let mut properties = serde_json::Map::new();
    for column in columns {
        properties.insert(
            column.name.clone(),
            column.value_type.schema(&column.description),
        );
    }
    let names: Vec<&String> = columns.iter().map(|c| &c.name).collect();
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
fn item_error(n: usize, item: &str, why: &str, read: &[OutputColumn]) -> ColumnsError {
    let read = if read.is_empty() {
        "nothing".to_owned()
    } else {
        read.iter()
            .map(|c| format!("{} ({:?})", c.name, c.description))
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
                OutputColumn::new("ceo_name", "Full name of the CEO, if any"),
                OutputColumn::new("founded_year", "Year, \"YYYY\""),
            ]
        );
        let fields = parse_columns("industry, hq_city").unwrap();
        assert_eq!(
            fields,
            vec![
                OutputColumn::new("industry", "industry"),
                OutputColumn::new("hq_city", "hq city")
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
    fn typed_columns_name_their_type_in_parentheses() {
        let fields = parse_columns(
            "name, employees (integer), revenue (Number), public (bool), \
             founded (date), tags (list), ceo (string)",
        )
        .unwrap();
        let types: Vec<(&str, ValueType)> = fields
            .iter()
            .map(|c| (c.name.as_str(), c.value_type))
            .collect();
        assert_eq!(
            types,
            [
                ("name", ValueType::String),
                ("employees", ValueType::Integer),
                ("revenue", ValueType::Number),
                ("public", ValueType::Boolean),
                ("founded", ValueType::Date),
                ("tags", ValueType::List),
                ("ceo", ValueType::String),
            ]
        );
        assert_eq!(fields[1].description, "employees");
        let fields =
            parse_columns(r#"year (int): "Year founded, as YYYY", ok (float): x"#).unwrap();
        assert_eq!(fields[0].description, "Year founded, as YYYY");
        assert_eq!(fields[1].value_type, ValueType::Number);
        let err = parse_columns("ceo: CEO, size (huge): employees").unwrap_err();
        let err = err.to_string();
        assert!(
            err.contains("item 2") && err.contains("`huge` is not a type"),
            "{err}"
        );
        assert!(err.contains("ceo (\"CEO\")"), "{err}");
        let err = parse_columns("size (integer: employees").unwrap_err();
        assert!(err.to_string().contains("in parentheses"), "{err}");
        let err = parse_columns("(integer): employees").unwrap_err();
        assert!(err.to_string().contains("name is empty"), "{err}");
    }

    #[test]
    fn typed_columns_ask_for_their_json_type() {
        let schema = columns_schema(
            &parse_columns(
                "n (integer): a, x (number): b, ok (boolean): c, d (date): d, l (list): e",
            )
            .unwrap(),
        );
        let p = &schema["properties"];
        assert_eq!(p["n"], json!({"type": "integer", "description": "a"}));
        assert_eq!(p["x"]["type"], "number");
        assert_eq!(p["ok"]["type"], "boolean");
        assert_eq!(
            p["d"],
            json!({"type": "string", "format": "date", "description": "d"})
        );
        assert_eq!(
            p["l"],
            json!({"type": "array", "items": {"type": "string"}, "description": "e"})
        );
        assert_eq!(schema["required"], json!(["n", "x", "ok", "d", "l"]));
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
