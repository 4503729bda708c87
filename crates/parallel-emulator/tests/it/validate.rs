//! A small JSON Schema validator for the subset output schemas use, written independently of
//! the emulator's generator so that a generator bug cannot hide behind its own reading.

use serde_json::Value;

/// Returns every violation of `schema` by `value`, as `path: problem`.
pub fn violations(schema: &Value, value: &Value) -> Vec<String> {
    let mut out = Vec::new();
    check(schema, schema, value, "$", &mut out);
    out
}

#[allow(clippy::too_many_lines)] // one match over the JSON kinds reads best whole
fn check(root: &Value, schema: &Value, value: &Value, path: &str, out: &mut Vec<String>) {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        let target = root
            .pointer(reference.trim_start_matches('#'))
            .expect("reference resolves");
        return check(root, target, value, path, out);
    }
    if let Some(options) = schema.get("anyOf").and_then(Value::as_array) {
        if !options
            .iter()
            .any(|o| violations_in(root, o, value).is_empty())
        {
            out.push(format!("{path}: matches no anyOf alternative"));
        }
        return;
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        if !values.contains(value) {
            out.push(format!("{path}: {value} is not one of {values:?}"));
        }
        return;
    }
    let types: Vec<&str> = match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => return,
    };
    let actual = match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    if !types
        .iter()
        .any(|t| *t == actual || (*t == "number" && actual == "integer"))
    {
        out.push(format!(
            "{path}: expected {types:?}, found {actual} ({value})"
        ));
        return;
    }
    match value {
        Value::Object(map) => {
            let props = schema.get("properties").and_then(Value::as_object);
            for name in schema
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let name = name.as_str().unwrap();
                if !map.contains_key(name) {
                    out.push(format!("{path}: missing required `{name}`"));
                }
            }
            for (key, v) in map {
                match props.and_then(|p| p.get(key)) {
                    Some(sub) => check(root, sub, v, &format!("{path}.{key}"), out),
                    None if schema.get("additionalProperties") == Some(&Value::Bool(false)) => {
                        out.push(format!("{path}: unexpected property `{key}`"));
                    }
                    None => {}
                }
            }
        }
        Value::Array(items) => {
            let n = items.len() as u64;
            if schema
                .get("minItems")
                .and_then(Value::as_u64)
                .is_some_and(|m| n < m)
            {
                out.push(format!("{path}: {n} items, fewer than minItems"));
            }
            if schema
                .get("maxItems")
                .and_then(Value::as_u64)
                .is_some_and(|m| n > m)
            {
                out.push(format!("{path}: {n} items, more than maxItems"));
            }
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    check(root, item_schema, item, &format!("{path}[{i}]"), out);
                }
            }
        }
        Value::String(s) => {
            let n = s.chars().count() as u64;
            if schema
                .get("minLength")
                .and_then(Value::as_u64)
                .is_some_and(|m| n < m)
            {
                out.push(format!("{path}: shorter than minLength"));
            }
            if schema
                .get("maxLength")
                .and_then(Value::as_u64)
                .is_some_and(|m| n > m)
            {
                out.push(format!("{path}: longer than maxLength"));
            }
            match schema.get("format").and_then(Value::as_str) {
                Some("date") if !is_date(s) => out.push(format!("{path}: {s:?} is not a date")),
                Some("date-time") if !(s.len() >= 20 && is_date(&s[..10]) && &s[10..11] == "T") => {
                    out.push(format!("{path}: {s:?} is not a date-time"));
                }
                Some("email") if !s.contains('@') || s.starts_with('@') => {
                    out.push(format!("{path}: {s:?} is not an email"));
                }
                Some("uri") if !s.starts_with("https://") => {
                    out.push(format!("{path}: {s:?} is not a URI"));
                }
                _ => {}
            }
        }
        Value::Number(n) => {
            let x = n.as_f64().unwrap();
            if schema
                .get("minimum")
                .and_then(Value::as_f64)
                .is_some_and(|m| x < m)
            {
                out.push(format!("{path}: {x} below minimum"));
            }
            if schema
                .get("maximum")
                .and_then(Value::as_f64)
                .is_some_and(|m| x > m)
            {
                out.push(format!("{path}: {x} above maximum"));
            }
        }
        _ => {}
    }
}

fn violations_in(root: &Value, schema: &Value, value: &Value) -> Vec<String> {
    let mut out = Vec::new();
    check(root, schema, value, "$", &mut out);
    out
}

fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

#[test]
fn the_validator_rejects_what_it_should() {
    let schema = serde_json::json!({"type": "object", "properties": {
        "n": {"type": "integer", "minimum": 1}, "s": {"type": "string", "enum": ["a"]},
        "d": {"type": "string", "format": "date"}},
        "required": ["n"], "additionalProperties": false});
    assert!(
        violations(
            &schema,
            &serde_json::json!({"n": 1, "s": "a", "d": "2024-01-31"})
        )
        .is_empty()
    );
    assert_eq!(violations(&schema, &serde_json::json!({"n": 0})).len(), 1);
    assert_eq!(violations(&schema, &serde_json::json!({"n": 1.5})).len(), 1);
    assert_eq!(violations(&schema, &serde_json::json!({"s": "b"})).len(), 2);
    assert_eq!(
        violations(&schema, &serde_json::json!({"n": 2, "x": 1})).len(),
        1
    );
    assert_eq!(
        violations(&schema, &serde_json::json!({"n": 2, "d": "31/01/2024"})).len(),
        1
    );
}
