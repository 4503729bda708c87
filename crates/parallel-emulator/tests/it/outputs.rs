//! Generated outputs: conform to their schema, derive from the input, repeat per seed.

use parallel_emulator::Emulator;
use serde_json::{Value, json};

use crate::http::split_frames;
use crate::validate::violations;
use crate::{create_group, start};

fn rich_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "name": {"type": "string", "description": "Official name"},
            "short_code": {"type": "string", "maxLength": 4},
            "summary": {"type": "string", "minLength": 60},
            "segment": {"type": "string", "enum": ["enterprise", "consumer", "public sector"]},
            "founded": {"type": "string", "format": "date"},
            "updated_at": {"type": "string", "format": "date-time"},
            "contact": {"type": "string", "format": "email"},
            "homepage": {"type": "string", "format": "uri"},
            "employees": {"type": "integer", "minimum": 1, "maximum": 500_000},
            "margin": {"type": "number", "minimum": -1.0, "maximum": 1.0},
            "public": {"type": "boolean"},
            "nickname": {"type": ["string", "null"]},
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2, "maxItems": 5},
            "executives": {"type": "array", "items": {"$ref": "#/$defs/Person"}},
            "headquarters": {
                "type": "object",
                "properties": {
                    "city": {"type": "string"},
                    "geo": {"type": "object", "properties": {"lat": {"type": "number"}, "lon": {"type": "number"}},
                            "required": ["lat", "lon"], "additionalProperties": false}
                },
                "required": ["city"],
                "additionalProperties": false
            },
            "ticker": {"anyOf": [{"type": "string", "maxLength": 5}, {"type": "null"}]},
            "kind": {"const": "company"}
        },
        "required": ["name", "short_code", "summary", "segment", "founded", "employees", "tags", "headquarters", "kind"],
        "additionalProperties": false,
        "$defs": {"Person": {"type": "object", "properties": {"name": {"type": "string"}, "title": {"type": "string"}},
                              "required": ["name", "title"], "additionalProperties": false}}
    })
}

async fn outputs_for(seed: u64, spec: &Value, inputs: &[Value]) -> Vec<Value> {
    let (emu, client) = start(Emulator::builder().time_scale(0.0).seed(seed)).await;
    let group = create_group(&client).await;
    let body = json!({
        "inputs": inputs.iter().map(|i| json!({"input": i, "processor": "core"})).collect::<Vec<_>>(),
        "default_task_spec": spec,
    });
    let reply = client
        .post(&format!("/v1/tasks/groups/{group}/runs"), body)
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let streamed = client
        .stream(&format!(
            "/v1/tasks/groups/{group}/runs?include_output=true"
        ))
        .await;
    emu.shutdown().await;
    split_frames(&streamed.body)
        .0
        .into_iter()
        .map(|f| f.data["output"].clone())
        .collect()
}

fn company_inputs(n: usize) -> Vec<Value> {
    (0..n).map(|i| json!({"company_name": format!("Firm {i} Holdings"), "website": format!("https://firm{i}.example")})).collect()
}

#[tokio::test]
async fn json_outputs_conform_to_their_schema_and_carry_a_basis() {
    let schema = rich_schema();
    let spec = json!({"output_schema": {"type": "json", "json_schema": schema}});
    let inputs = company_inputs(25);
    let outputs = outputs_for(1, &spec, &inputs).await;
    assert_eq!(outputs.len(), 25);
    let mut optional_seen = 0;
    for (output, input) in outputs.iter().zip(&inputs) {
        assert_eq!(output["type"], "json");
        let content = &output["content"];
        let problems = violations(&schema, content);
        assert!(problems.is_empty(), "{problems:?}\n{content}");
        let name = input["company_name"].as_str().unwrap();
        assert!(
            content["name"].as_str().unwrap().contains(name),
            "derived from the input: {content}"
        );
        if let Some(homepage) = content.get("homepage") {
            assert!(
                homepage.as_str().unwrap().contains("firm"),
                "uses the input's domain: {content}"
            );
        }
        optional_seen += usize::from(content.get("margin").is_some());
        let basis = output["basis"].as_array().unwrap();
        let fields: Vec<&str> = basis.iter().map(|b| b["field"].as_str().unwrap()).collect();
        let mut keys: Vec<&str> = content
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        let mut sorted: Vec<&str> = fields
            .iter()
            .copied()
            .filter(|f| !f.contains('.'))
            .collect();
        sorted.sort_unstable();
        assert_eq!(sorted, keys, "one basis entry per top-level field");
        // ... and one per element of each list field, named `field.N`.
        for (key, value) in content.as_object().unwrap() {
            let elements: Vec<String> = fields
                .iter()
                .filter_map(|f| f.strip_prefix(&format!("{key}.")))
                .map(str::to_owned)
                .collect();
            let expected: Vec<String> = match value.as_array() {
                Some(list) => (0..list.len()).map(|i| i.to_string()).collect(),
                None => Vec::new(),
            };
            assert_eq!(elements, expected, "element basis of {key}");
        }
        for b in basis {
            assert!(!b["reasoning"].as_str().unwrap().is_empty());
            assert!(["low", "medium", "high"].contains(&b["confidence"].as_str().unwrap()));
            assert!(
                b["citations"][0]["url"]
                    .as_str()
                    .unwrap()
                    .starts_with("https://")
            );
        }
        assert_eq!(
            output["output_schema"],
            json!(null),
            "only auto runs report a schema"
        );
        let typed: parallel_types::RunOutput = serde_json::from_value(output.clone()).unwrap();
        assert!(matches!(typed, parallel_types::RunOutput::Json(_)));
    }
    assert!(
        (1..25).contains(&optional_seen),
        "optional fields appear sometimes: {optional_seen}"
    );
}

#[tokio::test]
async fn outputs_repeat_for_a_seed_and_input_and_differ_across_seeds() {
    let spec = json!({"output_schema": {"type": "json", "json_schema": rich_schema()}});
    let inputs = company_inputs(5);
    let a = outputs_for(3, &spec, &inputs).await;
    let b = outputs_for(3, &spec, &inputs).await;
    let c = outputs_for(4, &spec, &inputs).await;
    assert_eq!(a, b);
    assert_ne!(a, c);
    // The same input gives the same output wherever it sits in the batch.
    let reversed: Vec<Value> = inputs.iter().rev().cloned().collect();
    let mut d = outputs_for(3, &spec, &reversed).await;
    d.reverse();
    assert_eq!(a, d);
}

#[tokio::test]
async fn text_and_auto_schemas() {
    let text = outputs_for(
        1,
        &json!({"output_schema": "The CEO's name"}),
        &[json!("Who runs Initech?")],
    )
    .await;
    assert_eq!(text[0]["type"], "text");
    assert!(
        text[0]["content"]
            .as_str()
            .unwrap()
            .contains("Who runs Initech?")
    );
    assert!(text[0].as_object().unwrap().get("output_schema").is_none());
    let auto = outputs_for(
        1,
        &json!({"output_schema": {"type": "auto"}}),
        &[json!({"topic": "Initech"})],
    )
    .await;
    assert_eq!(auto[0]["type"], "json");
    let schema = &auto[0]["output_schema"];
    assert!(violations(schema, &auto[0]["content"]).is_empty());
    assert!(
        auto[0]["content"]["summary"]
            .as_str()
            .unwrap()
            .contains("Initech")
    );
}

/// A tiny deterministic generator for random schemas (independent of the emulator's).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

fn random_schema(rng: &mut Lcg, depth: usize) -> Value {
    let kinds = if depth >= 3 { 6 } else { 8 };
    match rng.next(kinds) {
        0 => json!({"type": "string"}),
        1 => json!({"type": "string", "enum": ["red", "green", "blue"]}),
        2 => json!({"type": "integer", "minimum": rng.next(50), "maximum": 50 + rng.next(50)}),
        3 => json!({"type": "number"}),
        4 => json!({"type": "boolean"}),
        5 => {
            let format =
                ["date", "email", "uri", "date-time"][usize::try_from(rng.next(4)).unwrap()];
            json!({"type": "string", "format": format})
        }
        6 => {
            json!({"type": "array", "items": random_schema(rng, depth), "maxItems": 1 + rng.next(4)})
        }
        _ => random_object(rng, depth + 1),
    }
}

fn random_object(rng: &mut Lcg, depth: usize) -> Value {
    let n = 1 + rng.next(5);
    let mut properties = serde_json::Map::new();
    let mut required = Vec::new();
    for i in 0..n {
        let name = format!("field_{i}");
        properties.insert(name.clone(), random_schema(rng, depth));
        if rng.next(2) == 0 {
            required.push(name);
        }
    }
    json!({"type": "object", "properties": properties, "required": required, "additionalProperties": false})
}

#[tokio::test]
async fn random_schemas_always_get_conforming_outputs() {
    let mut rng = Lcg(42);
    let inputs = company_inputs(3);
    for round in 0..20 {
        let schema = random_object(&mut rng, 1);
        let spec = json!({"output_schema": {"type": "json", "json_schema": schema}});
        for output in outputs_for(round, &spec, &inputs).await {
            let problems = violations(&schema, &output["content"]);
            assert!(
                problems.is_empty(),
                "schema {schema}\noutput {}\n{problems:?}",
                output["content"]
            );
        }
    }
}
