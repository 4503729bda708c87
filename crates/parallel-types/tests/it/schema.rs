//! Task specs from Rust types (`schemars` feature): the schema is one the API accepts.

use std::collections::BTreeMap;

use parallel_types::{InputSchema, JsonSchema, OutputSchema, SchemaLimits, TaskSpec};
use schemars::JsonSchema as DeriveJsonSchema;
use serde_json::{Value, json};

/// The company to research.
#[allow(dead_code)]
#[derive(DeriveJsonSchema)]
struct Company {
    /// Name of the company.
    company_name: String,
    /// Company website URL.
    company_website: String,
}

/// Facts about a company.
#[allow(dead_code)]
#[derive(DeriveJsonSchema)]
struct Facts {
    /// Year the company was founded, YYYY.
    founded_year: u16,
    /// Current CEO.
    ceo: Person,
    /// Main products, best sellers first.
    products: Vec<Product>,
    /// Stock ticker, if listed.
    ticker: Option<String>,
    /// Headquarters, if known.
    headquarters: Option<Address>,
    /// Ownership.
    ownership: Ownership,
    /// Funding in USD.
    #[schemars(range(min = 0))]
    funding: f64,
}

#[allow(dead_code)]
#[derive(DeriveJsonSchema)]
struct Person {
    /// Full name.
    name: String,
    #[schemars(length(max = 40))]
    title: String,
}

#[allow(dead_code)]
#[derive(DeriveJsonSchema)]
struct Product {
    name: String,
    launched: Option<u32>,
}

#[allow(dead_code)]
#[derive(DeriveJsonSchema)]
struct Address {
    city: String,
    country: String,
}

#[allow(dead_code)]
#[derive(DeriveJsonSchema)]
#[serde(rename_all = "snake_case")]
enum Ownership {
    Public,
    Private,
    NonProfit,
}

/// Every object (at any depth) with properties must list them all as required and forbid
/// others; no `$ref`, `$defs`, `oneOf`, `const`, or unsupported keyword may remain.
fn assert_api_subset(schema: &Value, path: &str) {
    let Value::Object(object) = schema else {
        return;
    };
    for banned in [
        "$ref",
        "$defs",
        "definitions",
        "$schema",
        "oneOf",
        "const",
        "format",
        "minimum",
        "maxLength",
    ] {
        assert!(
            !object.contains_key(banned),
            "{path}: `{banned}` left in {schema}"
        );
    }
    if let Some(Value::Object(properties)) = object.get("properties") {
        let mut required: Vec<&str> = object["required"]
            .as_array()
            .expect("required list")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        required.sort_unstable();
        let mut names: Vec<&str> = properties.keys().map(String::as_str).collect();
        names.sort_unstable();
        assert_eq!(required, names, "{path}: required must list every property");
        assert_eq!(object["additionalProperties"], json!(false), "{path}");
        for (name, property) in properties {
            assert_api_subset(property, &format!("{path}.{name}"));
        }
    }
    for key in ["anyOf", "allOf"] {
        for (i, branch) in object
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            assert_api_subset(branch, &format!("{path}.{key}[{i}]"));
        }
    }
    if let Some(items) = object.get("items") {
        assert_api_subset(items, &format!("{path}[]"));
    }
}

#[test]
fn output_schema_is_inline_strict_and_described() {
    let spec = TaskSpec::from_output::<Facts>().expect("schema");
    assert!(spec.input_schema.is_none());
    let OutputSchema::Json(JsonSchema { json_schema, .. }) = &spec.output_schema else {
        panic!("json schema expected")
    };
    assert_api_subset(json_schema, "$");
    assert_eq!(json_schema["type"], "object");
    assert_eq!(json_schema["description"], "Facts about a company.");
    assert!(json_schema.get("title").is_none());
    let properties = &json_schema["properties"];
    assert_eq!(properties["founded_year"]["type"], "integer");
    assert_eq!(
        properties["founded_year"]["description"],
        "Year the company was founded, YYYY."
    );
    assert_eq!(properties["ceo"]["properties"]["name"]["type"], "string");
    assert_eq!(
        properties["products"]["items"]["properties"]["launched"]["type"],
        json!(["integer", "null"])
    );
    // Optional fields stay optional by being nullable, since every field is required.
    assert_eq!(properties["ticker"]["type"], json!(["string", "null"]));
    let headquarters = &properties["headquarters"];
    assert_eq!(headquarters["type"], json!(["object", "null"]));
    assert_eq!(headquarters["properties"]["city"]["type"], "string");
    assert_eq!(
        properties["ownership"]["enum"],
        json!(["public", "private", "non_profit"])
    );
    // Validation keywords the API does not support are gone, descriptions are kept.
    assert!(properties["funding"].get("minimum").is_none());
    assert!(
        properties["ceo"]["properties"]["title"]
            .get("maxLength")
            .is_none()
    );
    assert!(properties["founded_year"].get("format").is_none());
}

#[test]
fn input_and_output_types_make_a_full_spec() {
    let spec = TaskSpec::from_types::<Company, Facts>().expect("schema");
    let Some(InputSchema::Json(JsonSchema { json_schema, .. })) = &spec.input_schema else {
        panic!("input schema")
    };
    assert_api_subset(json_schema, "$");
    assert_eq!(
        json_schema["required"],
        json!(["company_name", "company_website"])
    );
    let wire = serde_json::to_value(&spec).expect("serialize");
    assert_eq!(wire["input_schema"]["type"], "json");
    assert_eq!(wire["output_schema"]["type"], "json");
    // The spec decodes back as sent.
    assert_eq!(
        serde_json::from_value::<TaskSpec>(wire).expect("decode"),
        spec
    );
}

#[allow(dead_code)]
#[derive(DeriveJsonSchema)]
struct Deep {
    level2: Level2,
}

#[allow(dead_code)]
#[derive(DeriveJsonSchema)]
struct Level2 {
    level3: Vec<Level4>,
}

#[allow(dead_code)]
#[derive(DeriveJsonSchema)]
struct Level4 {
    leaf: String,
}

#[test]
fn nesting_beyond_the_limit_is_an_error_unless_raised() {
    let error = JsonSchema::from_type::<Deep>().expect_err("4 levels");
    assert!(error.is_schema());
    assert!(error.to_string().contains("4 levels"), "{error}");
    let raised = JsonSchema::from_type_with_limits::<Deep>(SchemaLimits::default().max_depth(4));
    assert!(raised.is_ok());
    assert!(
        JsonSchema::from_type::<Facts>().is_ok(),
        "3 levels: root, products array, product object"
    );
}

#[allow(dead_code)]
#[derive(DeriveJsonSchema)]
struct Tree {
    label: String,
    children: Vec<Tree>,
}

#[allow(dead_code)]
#[derive(DeriveJsonSchema)]
enum Shape {
    Circle { radius: f64 },
    Square { side: f64 },
}

#[test]
fn schemas_the_api_cannot_take_are_errors() {
    let recursive = JsonSchema::from_type::<Tree>().expect_err("recursive");
    assert!(
        recursive.is_schema() && recursive.to_string().contains("recursive"),
        "{recursive}"
    );
    let not_object = JsonSchema::from_type::<Vec<String>>().expect_err("array root");
    assert!(not_object.to_string().contains("object"), "{not_object}");
    assert!(
        JsonSchema::from_type::<Shape>().is_err(),
        "union at the root"
    );
    assert!(
        JsonSchema::from_type::<BTreeMap<String, String>>().is_err(),
        "map root has no properties"
    );
    let few = SchemaLimits::default().max_properties(3);
    let too_many = JsonSchema::from_type_with_limits::<Facts>(few).expect_err("property count");
    assert!(too_many.to_string().contains("properties"), "{too_many}");
}

#[allow(dead_code)]
#[derive(DeriveJsonSchema)]
struct WithUnion {
    shape: Shape,
}

#[test]
fn enums_with_data_become_any_of() {
    let schema = JsonSchema::from_type::<WithUnion>()
        .expect("schema")
        .json_schema;
    assert_api_subset(&schema, "$");
    let branches = schema["properties"]["shape"]["anyOf"]
        .as_array()
        .expect("anyOf");
    assert_eq!(branches.len(), 2);
}
