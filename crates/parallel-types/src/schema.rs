//! Task specs built from Rust types (`schemars` feature), as the Python SDK does with
//! pydantic models.
//!
//! `schemars` describes a type in full JSON Schema; the API accepts a subset. The generated
//! schema is rewritten into that subset: every subschema inlined (no `$ref`/`$defs`),
//! `additionalProperties: false` and a `required` list naming every property on each object
//! (optional fields stay optional by being nullable, as the API docs show), `oneOf` as
//! `anyOf`, `const` as a one-value `enum`, and the validation keywords the API does not
//! support (`format`, `minimum`, `pattern`, ...) removed. What cannot be rewritten (a
//! recursive type, a root that is not an object, nesting or property counts beyond the
//! limits) is an error rather than a request the server would reject.
//!
//! Properties come out in alphabetical order, as `serde_json` keeps object keys sorted; a
//! build that enables `serde_json`'s `preserve_order` feature keeps the declaration order.

use schemars::generate::SchemaSettings;
use serde_json::{Map, Value};

use crate::{Error, InputSchema, JsonSchema, OutputSchema, TaskSpec};

/// Limits a generated schema must stay within.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct SchemaLimits {
    /// Most nested levels of objects and arrays, the root object being level 1.
    pub max_depth: usize,
    /// Most properties over all objects of the schema.
    pub max_properties: usize,
}

impl SchemaLimits {
    /// The documented nesting limit of output schemas.
    pub const DEFAULT_MAX_DEPTH: usize = 3;
    /// The documented limit on properties across all levels.
    pub const DEFAULT_MAX_PROPERTIES: usize = 100;

    /// Sets the nesting limit.
    #[must_use]
    pub fn max_depth(mut self, max_depth: usize) -> Self {
        self.max_depth = max_depth;
        self
    }

    /// Sets the property-count limit.
    #[must_use]
    pub fn max_properties(mut self, max_properties: usize) -> Self {
        self.max_properties = max_properties;
        self
    }
}

impl Default for SchemaLimits {
    fn default() -> Self {
        Self {
            max_depth: Self::DEFAULT_MAX_DEPTH,
            max_properties: Self::DEFAULT_MAX_PROPERTIES,
        }
    }
}

/// Validation keywords outside the subset the API supports; they only narrow values, so
/// dropping them keeps the schema's meaning for the research task.
const UNSUPPORTED: &[&str] = &[
    "format",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "uniqueItems",
    "contains",
    "minContains",
    "maxContains",
    "minProperties",
    "maxProperties",
    "patternProperties",
    "propertyNames",
];

impl JsonSchema {
    /// The JSON schema of `T`, rewritten into the subset the API accepts, within the
    /// default [`SchemaLimits`].
    pub fn from_type<T: schemars::JsonSchema>() -> Result<Self, Error> {
        Self::from_type_with_limits::<T>(SchemaLimits::default())
    }

    /// [`JsonSchema::from_type`] with explicit limits.
    pub fn from_type_with_limits<T: schemars::JsonSchema>(
        limits: SchemaLimits,
    ) -> Result<Self, Error> {
        let name = T::schema_name();
        let generator = SchemaSettings::draft07()
            .with(|settings| {
                settings.inline_subschemas = true;
                settings.meta_schema = None;
            })
            .into_generator();
        let mut schema = generator.into_root_schema_for::<T>().to_value();
        if let Value::Object(root) = &mut schema {
            root.remove("title");
            root.remove("definitions");
        }
        rewrite(&mut schema, &name)?;
        check_root(&schema, &name)?;
        let depth = depth(&schema);
        if depth > limits.max_depth {
            return Err(Error::schema(format!(
                "`{name}` nests objects and arrays {depth} levels deep; the API allows {}",
                limits.max_depth
            )));
        }
        let properties = count_properties(&schema);
        if properties > limits.max_properties {
            return Err(Error::schema(format!(
                "`{name}` has {properties} properties in all; the API allows {}",
                limits.max_properties
            )));
        }
        Ok(Self::new(schema))
    }
}

impl TaskSpec {
    /// A spec whose JSON output schema describes `Out`.
    ///
    /// ```
    /// # #[cfg(feature = "schemars")] {
    /// /// Facts about a company.
    /// #[derive(schemars::JsonSchema)]
    /// struct Facts {
    ///     /// Year the company was founded, YYYY.
    ///     founded_year: String,
    ///     /// Full name of the current CEO, if known.
    ///     ceo_name: Option<String>,
    /// }
    ///
    /// let spec = parallel_types::TaskSpec::from_output::<Facts>()?;
    /// let json = serde_json::to_value(&spec)?;
    /// let schema = &json["output_schema"]["json_schema"];
    /// assert_eq!(schema["additionalProperties"], false);
    /// assert_eq!(schema["properties"]["ceo_name"]["type"], serde_json::json!(["string", "null"]));
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_output<Out: schemars::JsonSchema>() -> Result<Self, Error> {
        Ok(Self {
            output_schema: OutputSchema::Json(JsonSchema::from_type::<Out>()?),
            input_schema: None,
        })
    }

    /// A spec whose JSON input and output schemas describe `In` and `Out`.
    pub fn from_types<In: schemars::JsonSchema, Out: schemars::JsonSchema>() -> Result<Self, Error>
    {
        Ok(Self {
            output_schema: OutputSchema::Json(JsonSchema::from_type::<Out>()?),
            input_schema: Some(InputSchema::Json(JsonSchema::from_type::<In>()?)),
        })
    }
}

/// Rewrites one subschema and its children in place.
fn rewrite(schema: &mut Value, name: &str) -> Result<(), Error> {
    let Value::Object(object) = schema else {
        return Ok(());
    };
    if object.contains_key("$ref") {
        return Err(Error::schema(format!(
            "`{name}` is recursive (or refers to itself through another type), which the API cannot express"
        )));
    }
    for keyword in UNSUPPORTED {
        object.remove(*keyword);
    }
    object.remove("$schema");
    if let Some(one_of) = object.remove("oneOf") {
        match object.get_mut("anyOf") {
            Some(Value::Array(any_of)) => {
                // Both present means "all of these"; keep it expressible by nesting.
                let nested = Map::from_iter([("anyOf".to_owned(), one_of)]);
                let existing = std::mem::take(any_of);
                object.remove("anyOf");
                object.insert(
                    "allOf".to_owned(),
                    Value::Array(vec![
                        Value::Object(Map::from_iter([(
                            "anyOf".to_owned(),
                            Value::Array(existing),
                        )])),
                        Value::Object(nested),
                    ]),
                );
            }
            _ => {
                object.insert("anyOf".to_owned(), one_of);
            }
        }
    }
    if let Some(value) = object.remove("const") {
        object
            .entry("enum")
            .or_insert_with(|| Value::Array(vec![value]));
    }
    if let Some(Value::Object(properties)) = object.get("properties") {
        let required = properties.keys().cloned().map(Value::String).collect();
        object.insert("required".to_owned(), Value::Array(required));
        object.insert("additionalProperties".to_owned(), Value::Bool(false));
    }
    for (key, child) in object.iter_mut() {
        match (key.as_str(), child) {
            ("properties", Value::Object(properties)) => {
                for property in properties.values_mut() {
                    rewrite(property, name)?;
                }
            }
            ("anyOf" | "allOf" | "items", Value::Array(items)) => {
                for item in items {
                    rewrite(item, name)?;
                }
            }
            ("items" | "additionalProperties" | "not", child @ Value::Object(_)) => {
                rewrite(child, name)?;
            }
            _ => {}
        }
    }
    Ok(())
}

/// The API requires an object with properties at the root, not a union.
fn check_root(schema: &Value, name: &str) -> Result<(), Error> {
    let is_object = schema.get("type").and_then(Value::as_str) == Some("object");
    if !is_object || !schema.get("properties").is_some_and(Value::is_object) {
        return Err(Error::schema(format!(
            "`{name}` is not a struct with named fields; the API needs an object with properties at the root"
        )));
    }
    if schema.get("anyOf").is_some() || schema.get("allOf").is_some() {
        return Err(Error::schema(format!(
            "`{name}` is a union at the root, which the API does not accept"
        )));
    }
    Ok(())
}

fn has_type(schema: &Value, wanted: &str) -> bool {
    match schema.get("type") {
        Some(Value::String(kind)) => kind == wanted,
        Some(Value::Array(kinds)) => kinds.iter().any(|kind| kind == wanted),
        _ => false,
    }
}

/// Levels of objects and arrays, the outermost counting 1; unions add no level.
fn depth(schema: &Value) -> usize {
    let Value::Object(object) = schema else {
        return 0;
    };
    let own = usize::from(has_type(schema, "object") || has_type(schema, "array"));
    let mut children = 0;
    for (key, child) in object {
        let deepest = match (key.as_str(), child) {
            ("properties", Value::Object(properties)) => {
                properties.values().map(depth).max().unwrap_or(0)
            }
            ("anyOf" | "allOf" | "items", Value::Array(items)) => {
                items.iter().map(depth).max().unwrap_or(0)
            }
            ("items" | "additionalProperties", child) => depth(child),
            _ => 0,
        };
        children = children.max(deepest);
    }
    // A union's branches sit at the union's own level.
    if own == 0 { children } else { own + children }
}

fn count_properties(schema: &Value) -> usize {
    let Value::Object(object) = schema else {
        return 0;
    };
    object
        .iter()
        .map(|(key, child)| match (key.as_str(), child) {
            ("properties", Value::Object(properties)) => {
                properties.len() + properties.values().map(count_properties).sum::<usize>()
            }
            ("anyOf" | "allOf" | "items", Value::Array(items)) => {
                items.iter().map(count_properties).sum()
            }
            ("items" | "additionalProperties", child) => count_properties(child),
            _ => 0,
        })
        .sum()
}
