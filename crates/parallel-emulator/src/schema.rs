//! Output schemas: checking the subset of JSON Schema the API accepts, and generating values
//! that conform to it.
//!
//! A schema is compiled once per task spec into a [`Node`] tree (references resolved, types
//! normalised), then every run with that spec generates its output from the tree with a
//! generator seeded by the run's input, so the same input always gets the same output.

use serde_json::{Map, Value};

use crate::rng::DetRng;

/// How deep objects may nest in an output schema, counting the root object as level 1.
pub(crate) const DEFAULT_MAX_OBJECT_DEPTH: usize = 3;

/// Upper bound on `$ref` indirections followed while compiling, so a recursive schema is an
/// error instead of a stack overflow.
const MAX_REF_HOPS: usize = 32;

/// A compiled schema node.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    Object {
        properties: Vec<Property>,
    },
    Array {
        items: Box<Node>,
        min_items: usize,
        max_items: usize,
    },
    String {
        format: Option<String>,
        min_len: usize,
        max_len: Option<usize>,
    },
    Integer {
        min: i64,
        max: i64,
    },
    Number {
        min: f64,
        max: f64,
    },
    Boolean,
    Null,
    /// `enum` or `const`: one of these exact values.
    OneOf(Vec<Value>),
}

/// One property of an object node.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Property {
    pub(crate) name: String,
    pub(crate) node: Node,
    pub(crate) required: bool,
}

/// Why a schema was rejected, and where (a dotted path below the schema root).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SchemaError {
    pub(crate) path: String,
    pub(crate) message: String,
}

struct Compiler<'a> {
    root: &'a Value,
    max_depth: usize,
    hops: usize,
}

/// Compiles a `json_schema` object. The root must describe an object.
pub(crate) fn compile(schema: &Value, max_depth: usize) -> Result<Node, SchemaError> {
    let mut compiler = Compiler {
        root: schema,
        max_depth,
        hops: 0,
    };
    let node = compiler.node(schema, "json_schema", 0)?;
    if !matches!(node, Node::Object { .. }) {
        return Err(SchemaError {
            path: "json_schema".into(),
            message: "the root of a JSON output schema must be `\"type\": \"object\"`".into(),
        });
    }
    Ok(node)
}

fn err(path: &str, message: impl Into<String>) -> SchemaError {
    SchemaError {
        path: path.to_owned(),
        message: message.into(),
    }
}

impl Compiler<'_> {
    fn node(&mut self, schema: &Value, path: &str, depth: usize) -> Result<Node, SchemaError> {
        let Some(obj) = schema.as_object() else {
            return match schema {
                // `true` accepts anything: a string is as good a value as any.
                Value::Bool(true) => Ok(Node::String {
                    format: None,
                    min_len: 0,
                    max_len: None,
                }),
                _ => Err(err(path, "a schema must be a JSON object")),
            };
        };
        if let Some(reference) = obj.get("$ref") {
            return self.reference(reference, path, depth);
        }
        if let Some(value) = obj.get("const") {
            return Ok(Node::OneOf(vec![value.clone()]));
        }
        if let Some(values) = obj.get("enum") {
            return match values.as_array() {
                Some(list) if !list.is_empty() => Ok(Node::OneOf(list.clone())),
                _ => Err(err(
                    &format!("{path}.enum"),
                    "`enum` must be a non-empty array",
                )),
            };
        }
        for key in ["anyOf", "oneOf", "allOf"] {
            if let Some(options) = obj.get(key) {
                return self.alternatives(options, &format!("{path}.{key}"), depth);
            }
        }
        let ty = match obj.get("type") {
            None => {
                if obj.contains_key("properties") {
                    "object"
                } else if obj.contains_key("items") {
                    "array"
                } else {
                    "string"
                }
            }
            Some(Value::String(s)) => s.as_str(),
            Some(Value::Array(types)) => {
                // `["string", "null"]`: generate the non-null type.
                let names: Vec<&str> = types.iter().filter_map(Value::as_str).collect();
                if names.len() != types.len() || names.is_empty() {
                    return Err(err(
                        &format!("{path}.type"),
                        "`type` must be a string or an array of strings",
                    ));
                }
                names
                    .iter()
                    .copied()
                    .find(|t| *t != "null")
                    .unwrap_or("null")
            }
            Some(_) => {
                return Err(err(
                    &format!("{path}.type"),
                    "`type` must be a string or an array of strings",
                ));
            }
        };
        match ty {
            "object" => self.object(obj, path, depth),
            "array" => self.array(obj, path, depth),
            "string" => Ok(Node::String {
                format: obj.get("format").and_then(Value::as_str).map(str::to_owned),
                min_len: usize_field(obj, "minLength", path)?.unwrap_or(0),
                max_len: usize_field(obj, "maxLength", path)?,
            }),
            "integer" => {
                let (min, max) = bounds(obj, path, 0.0, 1000.0)?;
                let lo = min.ceil();
                let hi = max.floor();
                if lo > hi {
                    return Err(err(path, "no integer lies between `minimum` and `maximum`"));
                }
                #[allow(clippy::cast_possible_truncation)]
                Ok(Node::Integer {
                    min: lo as i64,
                    max: hi as i64,
                })
            }
            "number" => {
                let (min, max) = bounds(obj, path, 0.0, 1000.0)?;
                Ok(Node::Number { min, max })
            }
            "boolean" => Ok(Node::Boolean),
            "null" => Ok(Node::Null),
            other => Err(err(
                &format!("{path}.type"),
                format!(
                    "unsupported type `{other}`; use object, array, string, integer, number, boolean or null"
                ),
            )),
        }
    }

    fn reference(
        &mut self,
        reference: &Value,
        path: &str,
        depth: usize,
    ) -> Result<Node, SchemaError> {
        let here = format!("{path}.$ref");
        let Some(pointer) = reference.as_str().and_then(|r| r.strip_prefix('#')) else {
            return Err(err(
                &here,
                "only local references (`#/$defs/Name`) are supported",
            ));
        };
        self.hops += 1;
        if self.hops > MAX_REF_HOPS {
            return Err(err(
                &here,
                "references nest too deeply (recursive schemas are not supported)",
            ));
        }
        let Some(target) = self.root.pointer(pointer) else {
            return Err(err(
                &here,
                format!("reference `#{pointer}` does not resolve"),
            ));
        };
        let node = self.node(target, path, depth);
        self.hops -= 1;
        node
    }

    fn alternatives(
        &mut self,
        options: &Value,
        path: &str,
        depth: usize,
    ) -> Result<Node, SchemaError> {
        let Some(list) = options.as_array().filter(|l| !l.is_empty()) else {
            return Err(err(path, "must be a non-empty array of schemas"));
        };
        // Generate the first alternative that is not plain `null`, so that optional fields
        // written as `anyOf: [T, null]` still carry a value.
        let index = list
            .iter()
            .position(|s| s.get("type").and_then(Value::as_str) != Some("null"))
            .unwrap_or(0);
        self.node(&list[index], &format!("{path}[{index}]"), depth)
    }

    fn object(
        &mut self,
        obj: &Map<String, Value>,
        path: &str,
        depth: usize,
    ) -> Result<Node, SchemaError> {
        let depth = depth + 1;
        if depth > self.max_depth {
            return Err(err(
                path,
                format!(
                    "objects nest {depth} levels deep; output schemas allow at most {}",
                    self.max_depth
                ),
            ));
        }
        let properties = match obj.get("properties") {
            None => Map::new(),
            Some(Value::Object(p)) => p.clone(),
            Some(_) => {
                return Err(err(
                    &format!("{path}.properties"),
                    "`properties` must be an object",
                ));
            }
        };
        let required: Vec<&str> = match obj.get("required") {
            None => Vec::new(),
            Some(Value::Array(names)) => {
                let mut out = Vec::with_capacity(names.len());
                for (i, name) in names.iter().enumerate() {
                    let Some(name) = name.as_str() else {
                        return Err(err(&format!("{path}.required[{i}]"), "must be a string"));
                    };
                    if !properties.contains_key(name) {
                        return Err(err(
                            &format!("{path}.required[{i}]"),
                            format!("`{name}` is required but not listed in `properties`"),
                        ));
                    }
                    out.push(name);
                }
                out
            }
            Some(_) => {
                return Err(err(
                    &format!("{path}.required"),
                    "`required` must be an array of strings",
                ));
            }
        };
        let mut compiled = Vec::with_capacity(properties.len());
        for (name, schema) in &properties {
            let node = self.node(schema, &format!("{path}.properties.{name}"), depth)?;
            compiled.push(Property {
                name: name.clone(),
                node,
                required: required.contains(&name.as_str()),
            });
        }
        Ok(Node::Object {
            properties: compiled,
        })
    }

    fn array(
        &mut self,
        obj: &Map<String, Value>,
        path: &str,
        depth: usize,
    ) -> Result<Node, SchemaError> {
        let items = match obj.get("items") {
            None => Node::String {
                format: None,
                min_len: 0,
                max_len: None,
            },
            Some(schema) => self.node(schema, &format!("{path}.items"), depth)?,
        };
        let min_items = usize_field(obj, "minItems", path)?.unwrap_or(0);
        let max_items = usize_field(obj, "maxItems", path)?.unwrap_or(usize::MAX);
        if min_items > max_items {
            return Err(err(path, "`minItems` is larger than `maxItems`"));
        }
        Ok(Node::Array {
            items: Box::new(items),
            min_items,
            max_items,
        })
    }
}

fn usize_field(
    obj: &Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<Option<usize>, SchemaError> {
    match obj.get(key) {
        None => Ok(None),
        Some(v) => v
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| {
                err(
                    &format!("{path}.{key}"),
                    format!("`{key}` must be a non-negative integer"),
                )
            }),
    }
}

fn bounds(
    obj: &Map<String, Value>,
    path: &str,
    lo: f64,
    hi: f64,
) -> Result<(f64, f64), SchemaError> {
    let number = |key: &str| -> Result<Option<f64>, SchemaError> {
        match obj.get(key) {
            None => Ok(None),
            Some(v) => v.as_f64().map(Some).ok_or_else(|| {
                err(
                    &format!("{path}.{key}"),
                    format!("`{key}` must be a number"),
                )
            }),
        }
    };
    let min = number("minimum")?;
    let max = number("maximum")?;
    // Exclusive bounds are honoured by stepping inside them.
    let xmin = number("exclusiveMinimum")?.map(|v| v + 1.0);
    let xmax = number("exclusiveMaximum")?.map(|v| v - 1.0);
    let min = match (min, xmin) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    let max = match (max, xmax) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let (min, max) = match (min, max) {
        (Some(a), Some(b)) => (a, b),
        (Some(a), None) => (a, a.max(lo) + (hi - lo)),
        (None, Some(b)) => (b.min(hi) - (hi - lo), b),
        (None, None) => (lo, hi),
    };
    if min > max {
        return Err(err(path, "`minimum` is larger than `maximum`"));
    }
    Ok((min, max))
}

/// What a generated value is about: taken from the run's input.
#[derive(Debug, Clone)]
pub(crate) struct Subject {
    /// A short human-readable name, e.g. `Acme Corp`.
    pub(crate) name: String,
    /// A domain for citation URLs, from a URL in the input or made from the name.
    pub(crate) domain: String,
}

impl Subject {
    pub(crate) fn from_input(input: &Value) -> Subject {
        let mut name = None;
        let mut domain = None;
        match input {
            Value::String(s) => name = Some(s.trim().to_owned()),
            Value::Object(map) => {
                for value in map.values() {
                    if let Some(s) = value.as_str() {
                        if let Some(d) = domain_of(s) {
                            domain.get_or_insert(d);
                        } else if name.is_none() && !s.trim().is_empty() {
                            name = Some(s.trim().to_owned());
                        }
                    }
                }
                if name.is_none() {
                    name = map.values().next().map(|v| match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    });
                }
            }
            other => name = Some(other.to_string()),
        }
        let name = truncate_chars(&name.unwrap_or_else(|| "the input".to_owned()), 80);
        let name = if name.is_empty() {
            "the input".to_owned()
        } else {
            name
        };
        let domain = domain.unwrap_or_else(|| format!("{}.example", slug(&name)));
        Subject { name, domain }
    }
}

fn domain_of(s: &str) -> Option<String> {
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))?;
    let host = rest.split(['/', '?', '#']).next()?;
    (!host.is_empty() && !host.contains(char::is_whitespace)).then(|| host.to_ascii_lowercase())
}

/// Lowercase ASCII letters and digits joined by single dashes; never empty.
pub(crate) fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
        if out.len() >= 40 {
            break;
        }
    }
    let trimmed = out.trim_end_matches('-');
    if trimmed.is_empty() {
        "subject".to_owned()
    } else {
        trimmed.to_owned()
    }
}

pub(crate) fn truncate_chars(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// `ceo_name` → `CEO name`-ish: words separated by spaces, first letter capitalised.
pub(crate) fn humanize(field: &str) -> String {
    let words = field.replace(['_', '-', '.'], " ");
    let mut chars = words.trim().chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => "Value".to_owned(),
    }
}

/// Generates a value conforming to `node`; `field` is the name of the property being filled
/// (it shapes strings such as URLs or years), `subject` what the input was about.
pub(crate) fn generate(node: &Node, field: &str, subject: &Subject, rng: &mut DetRng) -> Value {
    match node {
        Node::Object { properties } => {
            let mut map = Map::with_capacity(properties.len());
            for p in properties {
                // Optional fields appear most of the time, so both cases show up in outputs.
                if p.required || rng.chance(0.75) {
                    map.insert(p.name.clone(), generate(&p.node, &p.name, subject, rng));
                }
            }
            Value::Object(map)
        }
        Node::Array {
            items,
            min_items,
            max_items,
        } => {
            let lo = (*min_items).max(1).min(*max_items);
            let hi = (*max_items).min(lo.max(3));
            let n = lo + rng.index(hi - lo + 1);
            (0..n)
                .map(|i| generate(items, &format!("{field} {}", i + 1), subject, rng))
                .collect()
        }
        Node::String {
            format,
            min_len,
            max_len,
        } => Value::String(string_value(
            format.as_deref(),
            *min_len,
            *max_len,
            field,
            subject,
            rng,
        )),
        Node::Integer { min, max } => {
            let v = if is_year_field(field) && *min <= 2024 && *max >= 1950 {
                rng.range_i64((*min).max(1950), (*max).min(2024))
            } else {
                rng.range_i64(*min, *max)
            };
            Value::from(v)
        }
        Node::Number { min, max } => {
            let v = min + (max - min) * rng.unit();
            // Two decimals read better, but never round outside the bounds.
            let rounded = (v * 100.0).round() / 100.0;
            let v = if rounded >= *min && rounded <= *max {
                rounded
            } else {
                v
            };
            serde_json::Number::from_f64(v).map_or(Value::from(0), Value::Number)
        }
        Node::Boolean => Value::Bool(rng.chance(0.5)),
        Node::Null => Value::Null,
        Node::OneOf(values) => values[rng.index(values.len())].clone(),
    }
}

fn is_year_field(field: &str) -> bool {
    field.to_ascii_lowercase().contains("year")
}

fn string_value(
    format: Option<&str>,
    min_len: usize,
    max_len: Option<usize>,
    field: &str,
    subject: &Subject,
    rng: &mut DetRng,
) -> String {
    let lower = field.to_ascii_lowercase();
    let field_slug = slug(field);
    let year = rng.range_i64(1950, 2024);
    let month = rng.range_i64(1, 12);
    let day = rng.range_i64(1, 28);
    let text = match format {
        Some("date") => format!("{year:04}-{month:02}-{day:02}"),
        Some("date-time") => format!(
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:00Z",
            rng.below(24),
            rng.below(60)
        ),
        Some("time") => format!("{:02}:{:02}:00", rng.below(24), rng.below(60)),
        Some("email") => format!("{field_slug}@{}", subject.domain),
        Some("uri" | "url" | "iri") => format!("https://{}/{field_slug}", subject.domain),
        Some("hostname") => subject.domain.clone(),
        Some("uuid") => rng.uuid(),
        Some("ipv4") => format!("192.0.2.{}", rng.range_i64(1, 254)),
        Some("ipv6") => format!("2001:db8::{:x}", rng.below(0xffff)),
        _ if lower.contains("url") || lower.contains("website") || lower.contains("link") => {
            format!("https://{}/{field_slug}", subject.domain)
        }
        _ if lower.contains("email") => format!("{field_slug}@{}", subject.domain),
        _ if lower.contains("date") => format!("{year:04}-{month:02}-{day:02}"),
        _ if is_year_field(field) => format!("{year:04}"),
        _ => format!("{} of {}", humanize(field), subject.name),
    };
    fit_length(text, min_len, max_len)
}

fn fit_length(mut text: String, min_len: usize, max_len: Option<usize>) -> String {
    let count = text.chars().count();
    if count < min_len {
        text.extend(std::iter::repeat_n('.', min_len - count));
    }
    match max_len {
        Some(max) if text.chars().count() > max => truncate_chars(&text, max),
        _ => text,
    }
}

/// Names of output properties that the API warns about (they collide with the basis).
pub(crate) const DISCOURAGED_PROPERTIES: [&str; 7] = [
    "citations",
    "confidence",
    "evidence",
    "reasoning",
    "source",
    "sources",
    "source_urls",
];

/// The schema an `auto` run reports as inferred, and generates its content from.
pub(crate) fn auto_schema() -> Value {
    serde_json::json!({
        "type": "object",
        "properties": {
            "summary": {"type": "string", "description": "A short summary of the findings"},
            "key_facts": {"type": "array", "items": {"type": "string"}, "description": "Notable facts"},
            "facts_found": {"type": "integer", "description": "How many facts were found"}
        },
        "required": ["summary", "key_facts", "facts_found"],
        "additionalProperties": false
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[allow(clippy::needless_pass_by_value)] // lets the tests pass `json!` literals
    fn compiled(schema: Value) -> Result<Node, SchemaError> {
        compile(&schema, DEFAULT_MAX_OBJECT_DEPTH)
    }

    #[test]
    fn rejects_bad_schemas_with_a_location() {
        let e = compiled(json!({"type": "string"})).unwrap_err();
        assert!(e.message.contains("root"), "{e:?}");
        let e =
            compiled(json!({"type": "object", "properties": {"a": {"type": "date"}}})).unwrap_err();
        assert_eq!(e.path, "json_schema.properties.a.type");
        let e =
            compiled(json!({"type": "object", "properties": {}, "required": ["x"]})).unwrap_err();
        assert_eq!(e.path, "json_schema.required[0]");
        let e =
            compiled(json!({"type": "object", "properties": {"a": {"$ref": "#/$defs/Missing"}}}))
                .unwrap_err();
        assert!(e.message.contains("does not resolve"), "{e:?}");
        let deep = json!({"type": "object", "properties": {"a": {"type": "object", "properties": {
            "b": {"type": "object", "properties": {"c": {"type": "object", "properties": {}}}}}}}});
        let e = compiled(deep).unwrap_err();
        assert!(e.message.contains("at most 3"), "{e:?}");
        let recursive = json!({"type": "object", "properties": {"n": {"$ref": "#"}}});
        assert!(compiled(recursive).is_err());
    }

    #[test]
    fn resolves_refs_and_nullable_alternatives() {
        let schema = json!({
            "type": "object",
            "properties": {
                "ceo": {"$ref": "#/$defs/Person"},
                "nick": {"anyOf": [{"type": "null"}, {"type": "string"}]}
            },
            "required": ["ceo", "nick"],
            "$defs": {"Person": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}}
        });
        let node = compiled(schema).unwrap();
        let subject = Subject::from_input(&json!({"company": "Acme Corp"}));
        let value = generate(&node, "output", &subject, &mut DetRng::new(1));
        assert!(value["ceo"]["name"].is_string(), "{value}");
        assert!(value["nick"].is_string(), "{value}");
    }

    #[test]
    fn subject_comes_from_the_input() {
        let s = Subject::from_input(
            &json!({"company_name": "Acme Corp", "company_website": "https://acme.example/x"}),
        );
        assert_eq!(s.name, "Acme Corp");
        assert_eq!(s.domain, "acme.example");
        let s = Subject::from_input(&json!("Who founded Initech?"));
        assert_eq!(s.name, "Who founded Initech?");
        assert_eq!(s.domain, "who-founded-initech.example");
    }

    #[test]
    fn honours_string_and_number_limits() {
        let node = compiled(json!({"type": "object", "properties": {
            "short": {"type": "string", "maxLength": 3},
            "long": {"type": "string", "minLength": 200},
            "n": {"type": "number", "minimum": 0.5, "maximum": 0.75},
            "i": {"type": "integer", "exclusiveMinimum": 10, "maximum": 11},
            "list": {"type": "array", "items": {"type": "boolean"}, "minItems": 4, "maxItems": 4}
        }, "required": ["short", "long", "n", "i", "list"]}))
        .unwrap();
        let subject = Subject::from_input(&json!("x"));
        for seed in 0..50 {
            let v = generate(&node, "output", &subject, &mut DetRng::new(seed));
            assert!(v["short"].as_str().unwrap().chars().count() <= 3);
            assert!(v["long"].as_str().unwrap().chars().count() >= 200);
            let n = v["n"].as_f64().unwrap();
            assert!((0.5..=0.75).contains(&n), "{n}");
            assert_eq!(v["i"], json!(11));
            assert_eq!(v["list"].as_array().unwrap().len(), 4);
        }
    }

    #[test]
    fn humanize_and_slug() {
        assert_eq!(humanize("ceo_name"), "Ceo name");
        assert_eq!(slug("Acme Corp, Inc."), "acme-corp-inc");
        assert_eq!(slug("!!!"), "subject");
    }
}
