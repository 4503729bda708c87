//! Issue 26: `--basis` on `run` and `results`: each output field's sources (`X_citations`,
//! `X_confidence`, `X_reasoning`) beside the output, checked against the runs' own basis as
//! the API gives it.

use std::collections::BTreeMap;
use std::path::Path;

use parallel_client::Client;
use parallel_types::FieldBasis;
use serde_json::{Value, json};

use crate::support::{
    Emu, read_csv_output, read_jsonl_output, results_command, run_command, run_ok, stderr_of,
    write_csv,
};

const FIELDS: &str = "ceo: CEO name, tags (list): industries";

/// What the API's basis says of `field`, worked out here from the entries: the URLs of its
/// own entry and of its elements' (`tags.0`, ...), each once, in order; its own entry's
/// confidence and reasoning.
fn expected(basis: &[FieldBasis], field: &str) -> (Vec<String>, Option<String>, Option<String>) {
    let mut urls: Vec<String> = Vec::new();
    let mut own = None;
    for entry in basis {
        let element = entry
            .field
            .strip_prefix(&format!("{field}."))
            .is_some_and(|i| i.parse::<u32>().is_ok());
        if entry.field != field && !element {
            continue;
        }
        for url in entry.citation_list().iter().filter_map(|c| c.url.clone()) {
            if !urls.contains(&url) {
                urls.push(url);
            }
        }
        if entry.field == field {
            own = Some(entry);
        }
    }
    let own = own.expect("the emulator gives every field its own entry");
    (urls, own.confidence.clone(), Some(own.reasoning.clone()))
}

/// The basis of every run, by run id, as the API gives it.
fn bases(emu: &Emu, run_ids: &[String]) -> BTreeMap<String, Vec<FieldBasis>> {
    let client = Client::builder()
        .api_key("test")
        .base_url(emu.url())
        .build()
        .unwrap();
    emu.block_on(async {
        let mut bases = BTreeMap::new();
        for id in run_ids {
            let result = client.run_result(id).await.unwrap();
            bases.insert(id.clone(), result.output.basis().to_vec());
        }
        bases
    })
}

fn group_of(stdout: &[u8]) -> String {
    let summary: Value = serde_json::from_slice(stdout).unwrap();
    summary["group_id"].as_str().unwrap().to_owned()
}

#[test]
fn run_basis_to_csv_writes_each_fields_sources_after_the_output() {
    let emu = Emu::start(0.2, 0.0);
    let dir = tempfile::tempdir().unwrap();
    let input = write_csv(dir.path(), 40);
    let output = dir.path().join("out.csv");
    run_ok(run_command(&emu, &["--quiet"], &input, &output).args(["--columns", FIELDS, "--basis"]));
    let (header, rows) = read_csv_output(&output);
    assert_eq!(
        header,
        [
            "row",
            "name",
            "website",
            "ceo",
            "tags",
            "ceo_citations",
            "ceo_confidence",
            "ceo_reasoning",
            "tags_citations",
            "tags_confidence",
            "tags_reasoning",
            "run_id",
            "status",
            "error"
        ]
    );
    let completed: Vec<String> = rows
        .values()
        .filter(|r| r["status"] == "completed")
        .map(|r| r["run_id"].clone())
        .collect();
    let by_run = bases(&emu, &completed);
    let mut failed = 0;
    for row in rows.values() {
        if row["status"] != "completed" {
            failed += 1;
            for column in ["ceo_citations", "ceo_confidence", "tags_reasoning"] {
                assert_eq!(row[column], "", "a failed row has no sources");
            }
            continue;
        }
        let basis = &by_run[&row["run_id"]];
        for field in ["ceo", "tags"] {
            let (urls, confidence, reasoning) = expected(basis, field);
            let cell = &row[&format!("{field}_citations")];
            let written: Vec<&str> = cell.split(' ').collect();
            assert_eq!(written, urls, "row {}", row["row"]);
            assert_eq!(
                Some(&row[&format!("{field}_confidence")]),
                confidence.as_ref()
            );
            assert_eq!(
                Some(&row[&format!("{field}_reasoning")]),
                reasoning.as_ref()
            );
        }
        // A list field's elements have entries of their own: their URLs are the field's.
        let tags: Vec<String> = serde_json::from_str(&row["tags"]).unwrap();
        let elements = basis
            .iter()
            .filter(|b| b.field.starts_with("tags."))
            .count();
        assert_eq!(elements, tags.len());
    }
    assert!(failed > 0 && failed < 40, "{failed} failed");
}

#[test]
fn results_basis_writes_the_sources_that_run_basis_wrote() {
    let emu = Emu::start(0.1, 0.0);
    let dir = tempfile::tempdir().unwrap();
    let input = write_csv(dir.path(), 60);
    let output = dir.path().join("out.jsonl");
    let out = run_ok(run_command(&emu, &["--json"], &input, &output).args([
        "--columns",
        FIELDS,
        "--basis",
    ]));
    let group = group_of(&out.stdout);
    let lines = read_jsonl_output(&output);
    for line in lines.values() {
        let sources = &line["sources"];
        if line["status"] == "completed" {
            let keys: Vec<&String> = sources.as_object().unwrap().keys().collect();
            assert_eq!(keys.len(), 6, "{sources}");
            assert!(
                sources["ceo_citations"]
                    .as_array()
                    .is_some_and(|a| !a.is_empty())
            );
            assert!(sources["tags_confidence"].is_string(), "{sources}");
            // The output is the API's, without the sources mixed in.
            assert_eq!(
                line["output"]
                    .as_object()
                    .unwrap()
                    .keys()
                    .collect::<Vec<_>>(),
                ["ceo", "tags"]
            );
        } else {
            assert_eq!(sources, &Value::Null, "{line}");
        }
    }

    let exported = dir.path().join("runs.jsonl");
    run_ok(results_command(&emu.url(), &group, &exported).arg("--basis"));
    assert_eq!(sources_by_row(&exported), sources_by_row(&output));

    let csv = dir.path().join("runs.csv");
    run_ok(results_command(&emu.url(), &group, &csv).arg("--basis"));
    let (header, rows) = read_csv_output(&csv);
    let at = |name: &str| header.iter().position(|h| h == name).unwrap();
    assert!(at("tags") < at("ceo_citations") && at("tags_reasoning") < at("run_id"));
    for (row, line) in &lines {
        let urls: Vec<&str> = line["sources"]["ceo_citations"]
            .as_array()
            .map(|a| a.iter().map(|u| u.as_str().unwrap()).collect())
            .unwrap_or_default();
        assert_eq!(rows[row]["ceo_citations"], urls.join(" "), "row {row}");
    }
    // Without --basis, no sources.
    let plain = dir.path().join("plain.jsonl");
    run_ok(&mut results_command(&emu.url(), &group, &plain));
    assert!(
        read_jsonl_output(&plain)
            .values()
            .all(|l| l.get("sources").is_none())
    );
}

#[test]
fn a_text_outputs_sources_are_those_of_output() {
    let emu = Emu::start(0.0, 0.0);
    let dir = tempfile::tempdir().unwrap();
    let input = write_csv(dir.path(), 10);
    let output = dir.path().join("out.csv");
    run_ok(run_command(&emu, &["--quiet"], &input, &output).args([
        "--text",
        "A short profile",
        "--basis",
    ]));
    let (header, rows) = read_csv_output(&output);
    assert_eq!(
        header[3..8],
        [
            "output",
            "output_citations",
            "output_confidence",
            "output_reasoning",
            "run_id"
        ]
    );
    for row in rows.values() {
        assert!(row["output_citations"].starts_with("https://"), "{row:?}");
        assert!(["low", "medium", "high"].contains(&row["output_confidence"].as_str()));
    }
}

#[test]
fn basis_needs_fields_and_is_part_of_the_task() {
    let emu = Emu::start(0.0, 0.0);
    let dir = tempfile::tempdir().unwrap();
    let input = write_csv(dir.path(), 10);
    let output = dir.path().join("out.csv");
    let out = run_command(&emu, &[], &input, &output)
        .arg("--basis")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = stderr_of(&out);
    assert!(
        stderr.contains("--basis needs the output's fields") && stderr.contains("--basis`"),
        "{stderr}"
    );
    assert_eq!(emu.handle.stats().total_requests(), 0);

    // A job started without sources is not resumed with them (its columns would change).
    run_ok(run_command(&emu, &["--quiet"], &input, &output).args(["--columns", FIELDS]));
    let before = std::fs::read(&output).unwrap();
    let out = run_command(&emu, &[], &input, &output)
        .args(["--columns", FIELDS, "--basis"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(stderr_of(&out).contains("differs"), "{}", stderr_of(&out));
    assert_eq!(std::fs::read(&output).unwrap(), before);
}

/// The `sources` of each line of a JSON Lines file (`null` when it has none), by `row`.
pub(crate) fn sources_by_row(path: &Path) -> BTreeMap<u64, Value> {
    read_jsonl_output(path)
        .into_iter()
        .map(|(row, line)| (row, line.get("sources").cloned().unwrap_or(json!(null))))
        .collect()
}
