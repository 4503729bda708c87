//! Task specs and the outputs generated from them.

use std::fmt::Write as _;
use std::sync::{Arc, LazyLock};

use serde_json::Value;

use crate::rng::{DetRng, combine, hash_bytes};
use crate::schema::{self, Node, Subject};

/// A run's effective task spec, compiled once and shared by every run that uses it.
#[derive(Debug)]
pub(crate) struct Spec {
    pub(crate) kind: SpecKind,
    /// Hash of the spec's JSON text; mixed into the output seed so that different specs give
    /// different outputs for the same input.
    pub(crate) hash: u64,
    /// Pre-serialised `warnings` array for runs with this spec, if the spec draws warnings.
    pub(crate) warnings: Option<Box<[u8]>>,
}

/// What kind of output a spec asks for.
#[derive(Debug)]
pub(crate) enum SpecKind {
    Json(Node),
    Text { description: Option<String> },
    Auto,
}

/// Why a task spec was rejected; `path` is relative to the task spec.
#[derive(Debug)]
pub(crate) struct SpecError {
    pub(crate) path: String,
    pub(crate) message: String,
}

static AUTO_SCHEMA: LazyLock<(Value, Node)> = LazyLock::new(|| {
    let schema = schema::auto_schema();
    // The built-in schema is valid by construction; an empty object is the fallback that
    // keeps this total.
    let node = schema::compile(&schema, schema::DEFAULT_MAX_OBJECT_DEPTH).unwrap_or(Node::Object {
        properties: Vec::new(),
    });
    (schema, node)
});

static AUTO_SPEC: LazyLock<Arc<Spec>> = LazyLock::new(|| {
    Arc::new(Spec {
        kind: SpecKind::Auto,
        hash: hash_bytes(0, b"auto"),
        warnings: None,
    })
});

impl Spec {
    /// The spec used when neither the input nor the request gives one.
    pub(crate) fn auto() -> Arc<Spec> {
        Arc::clone(&AUTO_SPEC)
    }

    /// Parses a `task_spec` value (not null).
    pub(crate) fn parse(value: &Value, max_depth: usize) -> Result<Spec, SpecError> {
        let fail = |path: &str, message: String| SpecError {
            path: path.to_owned(),
            message,
        };
        let Some(obj) = value.as_object() else {
            return Err(fail(
                "",
                "a task spec must be an object with `output_schema`".into(),
            ));
        };
        let Some(output) = obj.get("output_schema") else {
            return Err(fail("", "`output_schema` is required".into()));
        };
        if let Some(input_schema) = obj.get("input_schema") {
            check_input_schema(input_schema).map_err(|m| fail("input_schema", m))?;
        }
        let (kind, warnings) = match output {
            Value::String(description) => (
                SpecKind::Text {
                    description: Some(description.clone()),
                },
                None,
            ),
            Value::Object(schema_obj) => {
                let ty = match schema_obj.get("type") {
                    None if schema_obj.contains_key("json_schema") => "json",
                    None => "text",
                    Some(Value::String(t)) => t.as_str(),
                    Some(_) => {
                        return Err(fail(
                            "output_schema.type",
                            "must be \"json\", \"text\" or \"auto\"".into(),
                        ));
                    }
                };
                match ty {
                    "json" => {
                        let Some(json_schema) = schema_obj.get("json_schema") else {
                            return Err(fail(
                                "output_schema.json_schema",
                                "is required for a json output schema".into(),
                            ));
                        };
                        let node = schema::compile(json_schema, max_depth)
                            .map_err(|e| fail(&format!("output_schema.{}", e.path), e.message))?;
                        let warnings = discouraged_warning(&node);
                        (SpecKind::Json(node), warnings)
                    }
                    "text" => {
                        let description = match schema_obj.get("description") {
                            None | Some(Value::Null) => None,
                            Some(Value::String(d)) => Some(d.clone()),
                            Some(_) => {
                                return Err(fail(
                                    "output_schema.description",
                                    "must be a string or null".into(),
                                ));
                            }
                        };
                        (SpecKind::Text { description }, None)
                    }
                    "auto" => (SpecKind::Auto, None),
                    other => {
                        return Err(fail(
                            "output_schema.type",
                            format!(
                                "unknown output schema type `{other}`; use \"json\", \"text\" or \"auto\""
                            ),
                        ));
                    }
                }
            }
            _ => {
                return Err(fail(
                    "output_schema",
                    "must be a string or an object".into(),
                ));
            }
        };
        let text = serde_json::to_vec(value).unwrap_or_default();
        Ok(Spec {
            kind,
            hash: hash_bytes(0, &text),
            warnings,
        })
    }
}

fn check_input_schema(value: &Value) -> Result<(), String> {
    match value {
        Value::Null | Value::String(_) => Ok(()),
        Value::Object(obj) => match obj.get("type").and_then(Value::as_str) {
            Some("json") | None if obj.contains_key("json_schema") => {
                if obj.get("json_schema").is_some_and(Value::is_object) {
                    Ok(())
                } else {
                    Err("`json_schema` must be an object".into())
                }
            }
            Some("json") => Err("`json_schema` is required for a json input schema".into()),
            Some("text") | None => Ok(()),
            Some(other) => Err(format!(
                "unknown input schema type `{other}`; use \"json\" or \"text\""
            )),
        },
        _ => Err("must be a string, an object or null".into()),
    }
}

/// The API warns when output properties are named like the basis fields.
fn discouraged_warning(node: &Node) -> Option<Box<[u8]>> {
    let Node::Object { properties } = node else {
        return None;
    };
    let names: Vec<&str> = properties
        .iter()
        .map(|p| p.name.as_str())
        .filter(|n| schema::DISCOURAGED_PROPERTIES.contains(n))
        .collect();
    if names.is_empty() {
        return None;
    }
    let warning = serde_json::json!([{
        "type": "spec_validation_warning",
        "message": format!(
            "Output schema property names {} overlap with the research basis; the basis already carries citations, reasoning and confidence",
            names.join(", ")
        ),
        "detail": null,
    }]);
    serde_json::to_vec(&warning).ok().map(Vec::into_boxed_slice)
}

/// Everything output generation needs about one run.
pub(crate) struct OutputContext<'a> {
    pub(crate) seed: u64,
    pub(crate) spec: &'a Spec,
    /// The run's `input` value (string or object).
    pub(crate) input: &'a Value,
    /// Compact JSON of `input`, for the seed.
    pub(crate) input_json: &'a [u8],
    pub(crate) processor: &'a str,
    /// Names of the MCP servers the run was given: each gets one tool call in the output.
    pub(crate) mcp_servers: &'a [String],
}

/// Writes the run's `output` object (JSON or text output) to `out`.
pub(crate) fn write_output(out: &mut Vec<u8>, ctx: &OutputContext<'_>) {
    let seed = combine(hash_bytes(ctx.seed, ctx.input_json), ctx.spec.hash);
    let mut rng = DetRng::new(seed);
    let subject = Subject::from_input(ctx.input);
    match &ctx.spec.kind {
        SpecKind::Json(node) => write_json_output(out, node, None, ctx, &subject, &mut rng),
        SpecKind::Auto => write_json_output(
            out,
            &AUTO_SCHEMA.1,
            Some(&AUTO_SCHEMA.0),
            ctx,
            &subject,
            &mut rng,
        ),
        SpecKind::Text { description } => {
            let mut content = format!(
                "{} — findings prepared by the {} processor. ",
                subject.name, ctx.processor
            );
            if let Some(d) = description {
                let _ = write!(content, "Requested: {}. ", d.trim_end_matches('.'));
            }
            let _ = write!(
                content,
                "Sources reviewed include {} and {} related pages.",
                subject.domain,
                2 + rng.below(8)
            );
            out.extend_from_slice(b"{\"type\":\"text\",\"content\":");
            push_json(out, &Value::String(content));
            out.extend_from_slice(b",\"basis\":[");
            write_basis(out, "output", &subject, &mut rng);
            out.extend_from_slice(b"],\"mcp_tool_calls\":");
            write_tool_calls(out, ctx.mcp_servers, &subject);
            out.extend_from_slice(b",\"beta_fields\":null}");
        }
    }
}

fn write_json_output(
    out: &mut Vec<u8>,
    node: &Node,
    inferred: Option<&Value>,
    ctx: &OutputContext<'_>,
    subject: &Subject,
    rng: &mut DetRng,
) {
    let content = schema::generate(node, "output", subject, rng);
    out.extend_from_slice(b"{\"type\":\"json\",\"content\":");
    push_json(out, &content);
    out.extend_from_slice(b",\"basis\":[");
    if let Value::Object(fields) = &content {
        for (i, (field, value)) in fields.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_basis(out, field, subject, rng);
            write_element_basis(out, field, value, subject, ctx.seed);
        }
    }
    out.extend_from_slice(b"],\"mcp_tool_calls\":");
    write_tool_calls(out, ctx.mcp_servers, subject);
    out.extend_from_slice(b",\"beta_fields\":null,\"output_schema\":");
    match inferred {
        Some(schema) => push_json(out, schema),
        None => out.extend_from_slice(b"null"),
    }
    out.push(b'}');
}

/// One basis entry per element of a list field (`field.0`, `field.1`, ...), after the
/// field's own entry, as the API gives them. Drawn from a generator of their own, so that
/// the entries of the other fields do not depend on the length of a list.
fn write_element_basis(
    out: &mut Vec<u8>,
    field: &str,
    value: &Value,
    subject: &Subject,
    seed: u64,
) {
    let Value::Array(elements) = value else {
        return;
    };
    let mut rng = DetRng::new(hash_bytes(seed ^ 0x656c_656d, field.as_bytes()));
    for i in 0..elements.len() {
        out.push(b',');
        write_basis(out, &format!("{field}.{i}"), subject, &mut rng);
    }
}

/// `mcp_tool_calls`: `null` without MCP servers, else one call to each server.
fn write_tool_calls(out: &mut Vec<u8>, servers: &[String], subject: &Subject) {
    if servers.is_empty() {
        out.extend_from_slice(b"null");
        return;
    }
    let calls: Vec<Value> = servers
        .iter()
        .enumerate()
        .map(|(i, server)| {
            serde_json::json!({
                "tool_call_id": format!("call_{i}"),
                "server_name": server,
                "tool_name": "search",
                "arguments": serde_json::json!({"query": subject.name}).to_string(),
                "content": format!("Results about {} from {server}", subject.name),
                "error": null,
            })
        })
        .collect();
    push_json(out, &Value::Array(calls));
}

/// A `FieldBasis` entry, fields in the order the API writes them.
#[derive(serde::Serialize)]
struct Basis<'a> {
    field: &'a str,
    citations: Vec<Citation>,
    reasoning: String,
    confidence: &'static str,
}

#[derive(serde::Serialize)]
struct Citation {
    url: String,
    title: Option<String>,
    excerpts: Option<Vec<String>>,
}

fn write_basis(out: &mut Vec<u8>, field: &str, subject: &Subject, rng: &mut DetRng) {
    const CONFIDENCE: [&str; 3] = ["high", "medium", "low"];
    let pretty = schema::humanize(field);
    let page = schema::slug(field);
    let mut citations = vec![Citation {
        url: format!("https://{}/{page}", subject.domain),
        title: Some(format!("{pretty} — {}", subject.name)),
        excerpts: Some(vec![format!(
            "{} lists its {} on this page.",
            subject.name,
            pretty.to_lowercase()
        )]),
    }];
    let reasoning = if rng.chance(0.5) {
        citations.push(Citation {
            url: format!(
                "https://news.example.com/{}-{page}",
                schema::slug(&subject.name)
            ),
            title: None,
            excerpts: None,
        });
        format!(
            "Two sources agree on the {} of {}.",
            pretty.to_lowercase(),
            subject.name
        )
    } else {
        format!("{pretty} of {} is stated on its own page.", subject.name)
    };
    let basis = Basis {
        field,
        citations,
        reasoning,
        confidence: CONFIDENCE[rng.index(3)],
    };
    let _ = serde_json::to_writer(&mut *out, &basis);
}

/// Appends compact JSON. Writing a `Value` into a `Vec` cannot fail.
pub(crate) fn push_json(out: &mut Vec<u8>, value: &Value) {
    let _ = serde_json::to_writer(&mut *out, value);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn output(spec: &Spec, input: &Value) -> Value {
        let json = serde_json::to_vec(input).unwrap();
        let mut out = Vec::new();
        write_output(
            &mut out,
            &OutputContext {
                seed: 7,
                spec,
                input,
                input_json: &json,
                processor: "core",
                mcp_servers: &[],
            },
        );
        serde_json::from_slice(&out).unwrap()
    }

    #[test]
    fn parses_every_output_schema_form() {
        let bare = Spec::parse(&json!({"output_schema": "CEO name"}), 3).unwrap();
        assert!(
            matches!(bare.kind, SpecKind::Text { description: Some(ref d) } if d == "CEO name")
        );
        let implicit_json = Spec::parse(
            &json!({"output_schema": {"json_schema": {"type": "object", "properties": {}}}}),
            3,
        )
        .unwrap();
        assert!(matches!(implicit_json.kind, SpecKind::Json(_)));
        let auto = Spec::parse(&json!({"output_schema": {"type": "auto"}}), 3).unwrap();
        assert!(matches!(auto.kind, SpecKind::Auto));
        let e = Spec::parse(&json!({"output_schema": {"type": "xml"}}), 3).unwrap_err();
        assert_eq!(e.path, "output_schema.type");
        let e = Spec::parse(&json!({}), 3).unwrap_err();
        assert!(e.message.contains("output_schema"));
        let e = Spec::parse(&json!({"output_schema": {"type": "json"}}), 3).unwrap_err();
        assert_eq!(e.path, "output_schema.json_schema");
    }

    #[test]
    fn text_and_auto_outputs_have_the_documented_shape() {
        let input = json!({"company_name": "Initech"});
        let text = output(
            &Spec::parse(&json!({"output_schema": "CEO"}), 3).unwrap(),
            &input,
        );
        assert_eq!(text["type"], "text");
        assert!(text["content"].as_str().unwrap().contains("Initech"));
        assert_eq!(text["basis"][0]["field"], "output");
        assert!(text.get("output_schema").is_none());
        let auto = output(&Spec::auto(), &input);
        assert_eq!(auto["type"], "json");
        assert_eq!(auto["output_schema"]["type"], "object");
        assert!(
            auto["content"]["summary"]
                .as_str()
                .unwrap()
                .contains("Initech")
        );
        // One entry per field, then one per element of each list field.
        let basis = auto["basis"].as_array().unwrap();
        let fields: Vec<&str> = basis.iter().map(|b| b["field"].as_str().unwrap()).collect();
        let top: Vec<&&str> = fields.iter().filter(|f| !f.contains('.')).collect();
        assert_eq!(top.len(), 3, "{fields:?}");
        for field in &fields {
            if let Some((list, index)) = field.split_once('.') {
                let elements = auto["content"][list].as_array().unwrap();
                assert!(index.parse::<usize>().unwrap() < elements.len(), "{field}");
            }
        }
    }

    #[test]
    fn discouraged_property_names_draw_a_warning() {
        let spec = Spec::parse(
            &json!({"output_schema": {"type": "json", "json_schema": {"type": "object", "properties": {"sources": {"type": "string"}}}}}),
            3,
        )
        .unwrap();
        let warnings: Value = serde_json::from_slice(spec.warnings.as_deref().unwrap()).unwrap();
        assert_eq!(warnings[0]["type"], "spec_validation_warning");
    }
}
