//! Checks made before a group is created: what the API would refuse for the whole job
//! (an unknown processor, an output schema it cannot take) is a usage error with what to do,
//! not a half-created batch.

use parallel_types::Processor;
use serde_json::Value;

use crate::error::Error;

/// The API's limit on a task spec and one input together, in characters.
pub(crate) const MAX_INPUT_CHARS: usize = 25_000;

/// How deeply the API lets objects nest in an output schema.
pub(crate) const MAX_SCHEMA_DEPTH: usize = 3;

/// The processor named on the command line: a known one, or any name when `allow_unknown`.
pub(crate) fn processor(name: &str, allow_unknown: bool) -> Result<Processor, Error> {
    let processor: Processor = name
        .parse()
        .map_err(|_| Error::usage(format!("unknown processor `{name}`")))?;
    if matches!(processor, Processor::Other(_)) && !allow_unknown {
        let known: Vec<&str> = Processor::KNOWN.iter().map(Processor::as_str).collect();
        return Err(Error::usage(format!(
            "unknown processor `{name}`; known processors: {}. If the API has a newer one, \
             pass --allow-processor to send `{name}` as it is",
            known.join(", ")
        )));
    }
    Ok(processor)
}

/// The output schema of a task spec, if it is a JSON schema: its root must be an object
/// and its objects nest at most [`MAX_SCHEMA_DEPTH`] deep.
pub(crate) fn output_schema(spec: &Value) -> Result<(), Error> {
    let output = &spec["output_schema"];
    let Some(schema) = output.get("json_schema") else {
        return Ok(());
    };
    let root_type = schema.get("type").and_then(Value::as_str);
    let is_object = root_type == Some("object")
        || (root_type.is_none() && schema.get("properties").is_some_and(Value::is_object));
    if !is_object {
        return Err(Error::usage(format!(
            "the output schema's root must be an object (`\"type\": \"object\"` with \
             `properties`), not {}; put the value in a property, e.g. {{\"type\": \"object\", \
             \"properties\": {{\"answer\": ...}}}}",
            root_type.map_or_else(
                || "a schema without a type".to_owned(),
                |t| format!("`{t}`")
            )
        )));
    }
    if let Some((depth, path)) = deepest(schema, "")
        && depth > MAX_SCHEMA_DEPTH
    {
        return Err(Error::usage(format!(
            "the output schema nests objects {depth} levels deep (at `{path}`); the API \
             accepts at most {MAX_SCHEMA_DEPTH}: flatten it"
        )));
    }
    Ok(())
}

/// The deepest object nesting in `schema` (an object is one level) and where it is.
fn deepest(schema: &Value, at: &str) -> Option<(usize, String)> {
    if let Some(items) = schema.get("items") {
        return deepest(items, &format!("{at}[]"));
    }
    let properties = schema.get("properties")?.as_object()?;
    let mut best = (
        1,
        if at.is_empty() {
            "(root)".to_owned()
        } else {
            at.to_owned()
        },
    );
    for (name, child) in properties {
        let child_at = if at.is_empty() {
            name.clone()
        } else {
            format!("{at}.{name}")
        };
        if let Some((depth, path)) = deepest(child, &child_at)
            && depth + 1 > best.0
        {
            best = (depth + 1, path);
        }
    }
    Some(best)
}

/// A row's size against the limit: the input and the task spec together.
pub(crate) fn row_size(input: &str, spec_chars: usize, limit: usize) -> Result<(), String> {
    // Bytes bound characters from above: count characters only when it matters.
    if input.len() + spec_chars <= limit {
        return Ok(());
    }
    let chars = input.chars().count() + spec_chars;
    if chars <= limit {
        return Ok(());
    }
    Err(format!(
        "the row is {chars} characters with the task spec ({spec_chars} of them), over the \
         API's limit of {limit}; shorten it (or drop columns with --input-columns), or pass \
         --max-input-chars if the API's limit changed"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_processors_need_the_flag() {
        assert_eq!(processor("core", false).unwrap(), Processor::Core);
        let err = processor("warp-speed", false).unwrap_err();
        assert!(
            err.is_usage() && err.to_string().contains("lite-fast"),
            "{err}"
        );
        assert!(err.to_string().contains("--allow-processor"), "{err}");
        assert!(processor("warp-speed", true).is_ok());
    }

    #[test]
    fn schemas_need_an_object_root_and_shallow_nesting() {
        let wrap = |s: Value| json!({"output_schema": {"type": "json", "json_schema": s}});
        assert!(output_schema(&wrap(json!({"type": "object", "properties": {"a": {}}}))).is_ok());
        let err = output_schema(&wrap(json!({"type": "array", "items": {}}))).unwrap_err();
        assert!(err.to_string().contains("`array`"), "{err}");
        let three = json!({"type": "object", "properties": {"a": {"type": "object",
            "properties": {"b": {"type": "object", "properties": {"c": {}}}}}}});
        assert!(output_schema(&wrap(three)).is_ok());
        let four = json!({"type": "object", "properties": {"a": {"type": "object",
            "properties": {"b": {"type": "array", "items": {"type": "object", "properties":
            {"c": {"type": "object", "properties": {"d": {}}}}}}}}}});
        let err = output_schema(&wrap(four)).unwrap_err();
        assert!(
            err.to_string().contains("4 levels deep (at `a.b[].c`)"),
            "{err}"
        );
        assert!(output_schema(&json!({"output_schema": {"type": "text"}})).is_ok());
    }

    #[test]
    fn row_size_counts_characters_not_bytes() {
        assert!(row_size(&"é".repeat(100), 0, 100).is_ok());
        let err = row_size(&"x".repeat(90), 20, 100).unwrap_err();
        assert!(err.contains("110 characters"), "{err}");
    }
}
