//! `--basis`: each output field's sources beside the output. For every output field `X`,
//! three columns from the run's research basis ([`FieldSources`]): `X_citations` (the URLs
//! cited, each once), `X_confidence` (`low`, `medium`, `high`) and `X_reasoning`.
//!
//! A record carries them as one JSON object, `{"X_citations": [..], "X_confidence": ..,
//! "X_reasoning": ..}`, field by field in the output's order: JSON Lines writes it as the
//! line's `sources` member (beside `input` and `output`, which stay as the API gave them);
//! CSV and Parquet make a column of each member, after the output's columns. In CSV the
//! URLs are separated by spaces (a space inside a URL written `%20`, so that splitting on
//! spaces gives them back); in Parquet they are a list of strings.

use parallel_types::{FieldBasis, FieldSources, source_column_names};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::error::Error;
use crate::spec::Task;

/// The field a text output's sources are filed under.
const TEXT_FIELD: &str = "output";

/// The output fields a `run` writes sources for: the task's fields, or `output` for a text
/// output. An output of no known fields (`auto`, or a schema without properties) is refused:
/// its columns could not be known before its first result.
pub(crate) fn fields_of(task: &Task) -> Result<Vec<String>, Error> {
    if let Some(fields) = &task.output_fields {
        return Ok(fields.clone());
    }
    if task.spec["output_schema"]["type"] == "text" {
        return Ok(vec![TEXT_FIELD.to_owned()]);
    }
    Err(Error::usage(
        "--basis needs the output's fields: give them with --columns, --output-schema or \
         --spec (a schema with `properties`), or --text; an output the service shapes (no \
         task given) has its fields only in its results: run the job, then write them with \
         their sources with `parallel-batch results GROUP -o FILE --basis`",
    ))
}

/// The source columns of `fields`, in order: `X_citations`, `X_confidence`, `X_reasoning`
/// for each.
pub(crate) fn column_names(fields: &[String]) -> Vec<String> {
    fields
        .iter()
        .flat_map(|field| source_column_names(field))
        .collect()
}

/// The fields of an output `content`: its members in order, or `output` for a text (or any
/// other not-object) content.
pub(crate) fn fields_in(content: &RawValue) -> Vec<String> {
    crate::spec::object_keys(content.get()).unwrap_or_else(|| vec![TEXT_FIELD.to_owned()])
}

/// The sources object of `fields` from an output's `basis` (raw; absent or `null`: no
/// sources, so empty citations and no confidence or reasoning). `row` names the row in
/// the error of a basis that cannot be read.
pub(crate) fn sources(
    basis: Option<&RawValue>,
    fields: &[String],
    row: u64,
) -> Result<Box<RawValue>, Error> {
    let basis: Vec<FieldBasis> = match basis {
        Some(raw) => serde_json::from_str::<Option<Vec<FieldBasis>>>(raw.get())
            .map_err(|e| Error::state(format!("cannot read the basis of row {row}: {e}")))?
            .unwrap_or_default(),
        None => Vec::new(),
    };
    let mut object = String::from("{");
    for field in fields {
        let found = FieldSources::of(&basis, field);
        let [citations, confidence, reasoning] = source_column_names(field);
        for (name, value) in [
            (citations, serde_json::to_string(&found.citations)),
            (confidence, serde_json::to_string(&found.confidence)),
            (reasoning, serde_json::to_string(&found.reasoning)),
        ] {
            if object.len() > 1 {
                object.push(',');
            }
            let encode = |e| Error::state(format!("cannot encode a run's sources: {e}"));
            object.push_str(&serde_json::to_string(&name).map_err(encode)?);
            object.push(':');
            object.push_str(&value.map_err(encode)?);
        }
    }
    object.push('}');
    RawValue::from_string(object)
        .map_err(|e| Error::state(format!("cannot encode a run's sources: {e}")))
}

/// Whether a source column holds the URLs (a list), rather than text.
pub(crate) fn is_citations(column: &str) -> bool {
    column.ends_with(parallel_types::SOURCE_SUFFIXES[0])
}

/// A CSV cell of the source column `column`: the URLs separated by spaces, or the text.
pub(crate) fn csv_cell(column: &str, value: Option<&Value>) -> String {
    match value {
        Some(Value::Array(urls)) if is_citations(column) => urls
            .iter()
            .map(|url| match url {
                Value::String(url) => url.replace(' ', "%20"),
                other => other.to_string(),
            })
            .collect::<Vec<_>>()
            .join(" "),
        None | Some(Value::Null) => String::new(),
        Some(Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::TaskSource;

    #[test]
    fn sources_follow_the_fields_and_fold_list_elements() {
        let basis = RawValue::from_string(
            r#"[{"field": "ceo", "reasoning": "From the site.", "confidence": "high",
                 "citations": [{"url": "https://a.example/x y"}, {"url": "https://a.example/x y"}]},
                {"field": "tags.0", "reasoning": "One.", "confidence": "medium",
                 "citations": [{"url": "https://t.example"}]},
                {"field": "tags.1", "reasoning": "Two.", "confidence": "low", "citations": null}]"#
                .to_owned(),
        )
        .unwrap();
        let fields = ["tags".to_owned(), "ceo".to_owned(), "hq".to_owned()];
        let found = sources(Some(&basis), &fields, 0).unwrap();
        assert_eq!(
            crate::spec::object_keys(found.get()).unwrap(),
            column_names(&fields),
            "in field order"
        );
        let value: Value = serde_json::from_str(found.get()).unwrap();
        assert_eq!(
            value["tags_citations"],
            serde_json::json!(["https://t.example"])
        );
        assert_eq!(value["tags_confidence"], "low");
        assert_eq!(value["tags_reasoning"], "One.\nTwo.");
        assert_eq!(
            value["ceo_citations"],
            serde_json::json!(["https://a.example/x y"])
        );
        assert_eq!(value["hq_citations"], serde_json::json!([]));
        assert_eq!(value["hq_confidence"], Value::Null);
        assert_eq!(
            csv_cell(
                "ceo_citations",
                Some(&serde_json::json!([
                    "https://a.example/x y",
                    "https://b.example"
                ]))
            ),
            "https://a.example/x%20y https://b.example"
        );
        assert_eq!(
            csv_cell("ceo_reasoning", Some(&value["ceo_reasoning"])),
            "From the site."
        );
        assert_eq!(csv_cell("hq_confidence", Some(&Value::Null)), "");
        let none = sources(None, &fields, 0).unwrap();
        assert!(
            none.get().contains(r#""ceo_citations":[]"#),
            "{}",
            none.get()
        );
        let bad = RawValue::from_string("{}".to_owned()).unwrap();
        let err = sources(Some(&bad), &fields, 7).unwrap_err();
        assert!(err.to_string().contains("basis of row 7"), "{err}");
    }

    #[test]
    fn a_run_needs_fields_to_name_its_source_columns() {
        let columns = Task::build(&TaskSource::Columns("ceo, hq".into())).unwrap();
        assert_eq!(fields_of(&columns).unwrap(), ["ceo", "hq"]);
        let text = Task::build(&TaskSource::Text("a profile".into())).unwrap();
        assert_eq!(fields_of(&text).unwrap(), ["output"]);
        let err = fields_of(&Task::build(&TaskSource::Auto).unwrap()).unwrap_err();
        assert!(
            err.is_usage() && err.to_string().contains("results GROUP"),
            "{err}"
        );
    }
}
