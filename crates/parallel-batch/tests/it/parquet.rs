//! Parquet in and out: column types kept in the run input and in the output, output columns
//! typed from the output schema, and resume after SIGKILL at every point, the finishing step
//! included.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::builder::{ListBuilder, StringBuilder};
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type, UInt64Type};
use arrow_array::{
    Array, ArrayRef, BooleanArray, Date32Array, Float64Array, Int32Array, Int64Array, RecordBatch,
    StringArray, StructArray,
};
use arrow_schema::{DataType, Field};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{BrotliLevel, Compression, GzipLevel, ZstdLevel};
use parquet::file::properties::WriterProperties;
use serde_json::{Value, json};

use crate::resume::{kill_at_four_points, kill_when, spawn};
use crate::support::{
    COLUMNS, Emu, input_name, read_csv_output, read_jsonl_output, results_command, run_command,
    run_ok, state_of, temporary_files, write_csv,
};

/// A Parquet file of `rows` rows with typed, nested and null values; see [`expected_input`].
fn write_parquet_input(dir: &Path, rows: u64) -> PathBuf {
    write_parquet_input_as(
        &dir.join("companies.parquet"),
        rows,
        Compression::UNCOMPRESSED,
    )
}

/// [`write_parquet_input`] to `path`, its pages compressed with `codec`.
fn write_parquet_input_as(path: &Path, rows: u64, codec: Compression) -> PathBuf {
    let path = path.to_owned();
    let range = 0..rows;
    let name: StringArray = range.clone().map(|i| Some(input_name(i))).collect();
    let employees: Int64Array = range
        .clone()
        .map(|i| (i % 5 != 4).then(|| i64::try_from(i * 10).unwrap()))
        .collect();
    let revenue: Float64Array = range.clone().map(|i| Some(revenue_of(i))).collect();
    let public: BooleanArray = range.clone().map(|i| Some(i % 2 == 0)).collect();
    // 2000-02-01 is day 10,988 of the Unix epoch.
    let founded: Date32Array = range
        .clone()
        .map(|i| Some(10_988 + i32::try_from(i % 28).unwrap()))
        .collect();
    let mut tags = ListBuilder::new(StringBuilder::new());
    for i in range.clone() {
        if i % 7 == 3 {
            tags.append_null();
        } else {
            tags.values().append_value(format!("t{i}"));
            tags.values().append_value("x");
            tags.append(true);
        }
    }
    let city: StringArray = range.clone().map(|i| Some(format!("City {i}"))).collect();
    let zip: Int32Array = range
        .clone()
        .map(|i| Some(10_000 + i32::try_from(i).unwrap()))
        .collect();
    let hq = StructArray::from(vec![
        (
            Arc::new(Field::new("city", DataType::Utf8, true)),
            Arc::new(city) as ArrayRef,
        ),
        (
            Arc::new(Field::new("zip", DataType::Int32, true)),
            Arc::new(zip) as ArrayRef,
        ),
    ]);
    let note: StringArray = range
        .map(|i| (i % 2 == 0).then(|| format!("n{i}")))
        .collect();
    let batch = RecordBatch::try_from_iter(vec![
        ("name", Arc::new(name) as ArrayRef),
        ("employees", Arc::new(employees) as ArrayRef),
        ("revenue", Arc::new(revenue) as ArrayRef),
        ("public", Arc::new(public) as ArrayRef),
        ("founded", Arc::new(founded) as ArrayRef),
        ("tags", Arc::new(tags.finish()) as ArrayRef),
        ("hq", Arc::new(hq) as ArrayRef),
        ("note", Arc::new(note) as ArrayRef),
    ])
    .unwrap();
    let props = WriterProperties::builder().set_compression(codec).build();
    let mut writer =
        ArrowWriter::try_new(File::create(&path).unwrap(), batch.schema(), Some(props)).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    path
}

fn revenue_of(i: u64) -> f64 {
    f64::from(u32::try_from(i).unwrap()) + 0.5
}

/// Row `i` of [`write_parquet_input`] as the run input the API must get.
fn expected_input(i: u64) -> Value {
    json!({
        "name": input_name(i),
        "employees": if i % 5 == 4 { Value::Null } else { json!(i * 10) },
        "revenue": revenue_of(i),
        "public": i.is_multiple_of(2),
        "founded": format!("2000-02-{:02}", i % 28 + 1),
        "tags": if i % 7 == 3 { Value::Null } else { json!([format!("t{i}"), "x"]) },
        "hq": {"city": format!("City {i}"), "zip": 10_000 + i},
        "note": if i.is_multiple_of(2) { json!(format!("n{i}")) } else { Value::Null },
    })
}

/// Every record batch of a Parquet file.
fn read_parquet(path: &Path) -> Vec<RecordBatch> {
    let file = File::open(path).unwrap();
    ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .with_batch_size(1 << 20)
        .build()
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap()
}

/// One column of simple values, across batches, as JSON.
fn column(batches: &[RecordBatch], name: &str) -> Vec<Value> {
    let mut values = Vec::new();
    for batch in batches {
        let array = batch
            .column_by_name(name)
            .unwrap_or_else(|| panic!("no column {name}"));
        for i in 0..array.len() {
            values.push(if array.is_null(i) {
                Value::Null
            } else {
                match array.data_type() {
                    DataType::UInt64 => json!(array.as_primitive::<UInt64Type>().value(i)),
                    DataType::Int64 => json!(array.as_primitive::<Int64Type>().value(i)),
                    DataType::Float64 => json!(array.as_primitive::<Float64Type>().value(i)),
                    DataType::Boolean => json!(array.as_boolean().value(i)),
                    DataType::Utf8 => json!(array.as_string::<i32>().value(i)),
                    DataType::List(_) => {
                        let items = array.as_list::<i32>().value(i);
                        let items = items.as_string::<i32>();
                        json!(items.iter().collect::<Vec<_>>())
                    }
                    other => panic!("column {name}: unexpected type {other}"),
                }
            });
        }
    }
    values
}

fn field_types(batches: &[RecordBatch]) -> Vec<(String, DataType)> {
    batches[0]
        .schema()
        .fields()
        .iter()
        .map(|f| (f.name().clone(), f.data_type().clone()))
        .collect()
}

fn journal_of(output: &Path) -> PathBuf {
    crate::support::companion(output).join("journal")
}

#[test]
fn parquet_inputs_are_read_whatever_codec_compresses_them() {
    let emu = Emu::start(0.0, 0.0);
    let dir = tempfile::tempdir().unwrap();
    for codec in [
        Compression::SNAPPY,
        Compression::ZSTD(ZstdLevel::default()),
        Compression::GZIP(GzipLevel::default()),
        Compression::LZ4,
        Compression::LZ4_RAW,
        Compression::BROTLI(BrotliLevel::default()),
    ] {
        let name = format!("{codec:?}")
            .to_lowercase()
            .replace(['(', ')', ' '], "_");
        let input = write_parquet_input_as(&dir.path().join(format!("{name}.parquet")), 20, codec);
        let output = dir.path().join(format!("{name}.jsonl"));
        run_ok(run_command(&emu, &["--quiet"], &input, &output).args(["--columns", COLUMNS]));
        let rows = read_jsonl_output(&output);
        assert_eq!(rows.len(), 20, "{codec:?}");
        for (row, line) in &rows {
            assert_eq!(line["input"], expected_input(*row), "{codec:?} row {row}");
        }
    }
}

#[test]
fn parquet_input_reaches_the_api_with_its_column_types_and_nulls() {
    const ROWS: u64 = 60;
    let emu = Emu::start(0.0, 0.0);
    let dir = tempfile::tempdir().unwrap();
    let input = write_parquet_input(dir.path(), ROWS);
    let output = dir.path().join("out.jsonl");
    run_ok(run_command(&emu, &["--quiet"], &input, &output).args(["--columns", COLUMNS]));
    let rows = read_jsonl_output(&output);
    assert_eq!(rows.len(), 60);
    for (row, line) in &rows {
        assert_eq!(line["input"], expected_input(*row), "row {row}");
        assert_eq!(line["status"], "completed");
    }
    // What the server holds: the inputs it was sent, read back from the group.
    let group = state_of(&output)["group_id"].as_str().unwrap().to_owned();
    let all = dir.path().join("all.jsonl");
    run_ok(&mut results_command(&emu.url(), &group, &all));
    let on_server = read_jsonl_output(&all);
    assert_eq!(on_server.len(), 60);
    for (row, line) in &on_server {
        assert_eq!(
            line["input"],
            expected_input(*row),
            "row {row} on the server"
        );
    }

    // To CSV: numbers as their text, nulls empty, nested values as JSON.
    let csv = dir.path().join("out.csv");
    run_ok(run_command(&emu, &["--quiet"], &input, &csv).args(["--columns", COLUMNS]));
    let (header, rows) = read_csv_output(&csv);
    assert_eq!(
        header[..9],
        [
            "row",
            "name",
            "employees",
            "revenue",
            "public",
            "founded",
            "tags",
            "hq",
            "note"
        ]
    );
    assert_eq!(rows[&3]["employees"], "30");
    assert_eq!(rows[&4]["employees"], "");
    assert_eq!(rows[&3]["revenue"], "3.5");
    assert_eq!(rows[&3]["public"], "false");
    assert_eq!(rows[&3]["founded"], "2000-02-04");
    assert_eq!(rows[&3]["tags"], "");
    assert_eq!(rows[&5]["tags"], r#"["t5","x"]"#);
    assert_eq!(
        serde_json::from_str::<Value>(&rows[&5]["hq"]).unwrap(),
        json!({"city": "City 5", "zip": 10_005})
    );
}

#[test]
fn csv_to_parquet_types_the_output_columns_from_the_schema() {
    const ROWS: u64 = 300;
    let emu = Emu::start(0.1, 0.0);
    let dir = tempfile::tempdir().unwrap();
    let input = write_csv(dir.path(), ROWS);
    let schema = dir.path().join("schema.json");
    // Written out by hand: the columns follow the file's property order.
    std::fs::write(
        &schema,
        r#"{"type": "object", "properties": {
            "ceo_name": {"type": "string", "description": "CEO"},
            "founded_year": {"type": "integer", "description": "Year founded"},
            "revenue": {"type": ["number", "null"], "description": "Revenue"},
            "public": {"type": "boolean", "description": "Listed?"},
            "products": {"type": "array", "items": {"type": "string"}, "description": "Products"}
        }}"#,
    )
    .unwrap();
    let output = dir.path().join("out.parquet");
    run_ok(
        run_command(&emu, &["--quiet"], &input, &output)
            .arg("--output-schema")
            .arg(&schema),
    );
    let batches = read_parquet(&output);
    let types = field_types(&batches);
    let expected: Vec<(String, DataType)> = [
        ("row", DataType::UInt64),
        ("name", DataType::Utf8),
        ("website", DataType::Utf8),
        ("ceo_name", DataType::Utf8),
        ("founded_year", DataType::Int64),
        ("revenue", DataType::Float64),
        ("public", DataType::Boolean),
        ("products", DataType::new_list(DataType::Utf8, true)),
        ("run_id", DataType::Utf8),
        ("status", DataType::Utf8),
        ("error", DataType::Utf8),
    ]
    .into_iter()
    .map(|(n, t)| (n.to_owned(), t))
    .collect();
    assert_eq!(types, expected);
    assert_eq!(
        column(&batches, "row"),
        (0..ROWS).map(|r| json!(r)).collect::<Vec<_>>(),
        "every row once, in input order"
    );
    let names = column(&batches, "name");
    for (row, name) in names.iter().enumerate() {
        assert_eq!(name, &json!(input_name(row as u64)));
    }
    let failed = check_against_journal(&batches, &output);
    assert!(failed > 0 && failed < 300, "{failed}");
    assert_eq!(emu.runs_created(), 300);

    // The same runs read back from the group by `results`: the columns found in the runs,
    // typed from their values, hold what the job wrote.
    let group = state_of(&output)["group_id"].as_str().unwrap().to_owned();
    let all = dir.path().join("all.parquet");
    run_ok(&mut results_command(&emu.url(), &group, &all));
    assert!(!dir.path().join("all.parquet.partial").exists());
    let read_back = read_parquet(&all);
    let mut found = expected.clone();
    // Without the schema, a list is typed from its values: JSON text.
    found[7].1 = DataType::Utf8;
    // The output columns in the order the emulator lists an output's members (by name).
    found[3..8].sort();
    assert_eq!(field_types(&read_back), found);
    assert_eq!(
        column(&read_back, "row"),
        (0..ROWS).map(|r| json!(r)).collect::<Vec<_>>(),
        "the stream gives the runs in the order they were added"
    );
    assert_eq!(check_against_journal(&read_back, &output), failed);
}

/// Checks the typed columns against the journal (the JSON Lines record of the same runs);
/// returns how many rows failed.
fn check_against_journal(batches: &[RecordBatch], output: &Path) -> usize {
    // The values are the journal's (the JSON Lines record of the same runs), typed.
    let journal = read_jsonl_output(&journal_of(output));
    assert_eq!(journal.len(), 300);
    let columns: Vec<(&str, Vec<Value>)> = [
        "ceo_name",
        "founded_year",
        "revenue",
        "public",
        "products",
        "run_id",
        "status",
        "error",
    ]
    .into_iter()
    .map(|c| (c, column(batches, c)))
    .collect();
    let (mut failed, mut with_year) = (0, 0);
    for (row, line) in &journal {
        let at = usize::try_from(*row).unwrap();
        let get = |name: &str| &columns.iter().find(|(n, _)| *n == name).unwrap().1[at];
        assert_eq!(get("run_id"), &line["run_id"]);
        assert_eq!(get("status"), &line["status"]);
        assert_eq!(get("error"), &line["error"]);
        if line["status"] == "completed" {
            let out = &line["output"];
            assert_eq!(get("ceo_name"), &out["ceo_name"], "row {row}");
            assert_eq!(
                get("founded_year").as_i64(),
                out["founded_year"].as_i64(),
                "row {row}"
            );
            if !out["founded_year"].is_null() {
                with_year += 1;
                assert!(get("founded_year").is_i64(), "row {row}");
            }
            assert_eq!(
                get("revenue").as_f64(),
                out["revenue"].as_f64(),
                "row {row}"
            );
            assert_eq!(get("public"), &out["public"], "row {row}");
            // A list column, or a list's JSON text when typed from the values.
            let products = match get("products") {
                Value::String(text) => Some(serde_json::from_str(text).unwrap()),
                Value::Null => None,
                list => Some(list.clone()),
            };
            assert_eq!(
                products.unwrap_or(Value::Null),
                out["products"],
                "row {row}"
            );
        } else {
            failed += 1;
            assert_eq!(get("ceo_name"), &Value::Null);
            assert_eq!(get("founded_year"), &Value::Null);
        }
    }
    assert!(with_year > 0, "some rows have a year");
    failed
}

#[test]
fn parquet_to_parquet_keeps_every_input_column_type_and_value() {
    const ROWS: u64 = 200;
    let emu = Emu::start(0.0, 0.0);
    let dir = tempfile::tempdir().unwrap();
    let input = write_parquet_input(dir.path(), ROWS);
    let output = dir.path().join("out.parquet");
    run_ok(run_command(&emu, &["--quiet"], &input, &output).args(["--columns", COLUMNS]));
    let source = read_parquet(&input);
    let result = read_parquet(&output);
    assert_eq!((source.len(), result.len()), (1, 1), "one row group each");
    let (source, result) = (&source[0], &result[0]);
    assert_eq!(result.num_rows(), 200);
    for field in source.schema().fields() {
        let name = field.name();
        let copied = result
            .column_by_name(name)
            .unwrap_or_else(|| panic!("no column {name}"));
        assert_eq!(copied.data_type(), field.data_type(), "type of {name}");
        assert_eq!(
            copied.as_ref(),
            source.column_by_name(name).unwrap().as_ref(),
            "values of {name}"
        );
    }
    let names: Vec<String> = result
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(
        names,
        [
            "row",
            "name",
            "employees",
            "revenue",
            "public",
            "founded",
            "tags",
            "hq",
            "note",
            "ceo_name",
            "founded_year",
            "run_id",
            "status",
            "error"
        ]
    );
    assert!(
        column(std::slice::from_ref(result), "ceo_name")
            .iter()
            .all(Value::is_string)
    );

    // Picked and renamed columns keep their types too.
    let picked = dir.path().join("picked.parquet");
    run_ok(run_command(&emu, &["--quiet"], &input, &picked).args([
        "--columns",
        COLUMNS,
        "--input-columns",
        "employees=staff,name",
    ]));
    let picked = &read_parquet(&picked)[0];
    let names: Vec<String> = picked
        .schema()
        .fields()
        .iter()
        .take(3)
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(names, ["row", "staff", "name"]);
    assert_eq!(
        picked.column_by_name("staff").unwrap().as_ref(),
        source.column_by_name("employees").unwrap().as_ref()
    );
    assert_eq!(emu.runs_created(), 400);
}

#[test]
fn sigkill_at_several_points_then_resume_parquet() {
    const ROWS: u64 = 3000;
    let emu = Emu::start(0.05, 0.0005);
    let dir = tempfile::tempdir().unwrap();
    let input = write_csv(dir.path(), ROWS);
    let output = dir.path().join("out.parquet");
    let journal = journal_of(&output);
    let state = crate::support::state_path(&output);

    kill_at_four_points(&emu, &input, &output, &state, &journal, ROWS, || {
        assert!(!output.exists(), "no Parquet file before the job completes");
    });
    // While the Parquet file is being written, if the kill gets there in time.
    let mut child = spawn(&emu, &input, &output);
    kill_when(&mut child, || {
        !temporary_files(dir.path()).is_empty() || output.exists()
    });
    let mut child = spawn(&emu, &input, &output);
    assert!(
        child.wait().unwrap().success(),
        "the last run exits cleanly"
    );

    let batches = read_parquet(&output);
    assert_eq!(
        column(&batches, "row"),
        (0..ROWS).map(|r| json!(r)).collect::<Vec<_>>(),
        "every row exactly once"
    );
    let names = column(&batches, "name");
    assert!(
        names
            .iter()
            .enumerate()
            .all(|(i, n)| n == &json!(input_name(i as u64)))
    );
    assert_eq!(emu.runs_created(), ROWS, "no row submitted twice");
    assert_eq!(temporary_files(dir.path()), Vec::<PathBuf>::new());
    assert_eq!(
        state_of(&output)["finished_output"]["len"],
        std::fs::metadata(&output).unwrap().len()
    );
}

/// Sets the state's record of the finished output to `value`.
fn set_finished(output: &Path, value: &Value) {
    let path = crate::support::state_path(output);
    let mut state = state_of(output);
    state["finished_output"] = value.clone();
    std::fs::write(path, state.to_string()).unwrap();
}

#[test]
fn a_crash_in_the_finishing_step_is_repaired_and_a_finished_job_is_left_alone() {
    let emu = Emu::start(0.0, 0.0);
    let dir = tempfile::tempdir().unwrap();
    let input = write_csv(dir.path(), 100);
    let output = dir.path().join("out.parquet");
    // A temporary file as a run killed while writing the output leaves it.
    let tmp = dir.path().join(".out.parquet.x7Yz0q.tmp");
    let run = || {
        run_command(&emu, &["--quiet"], &input, &output)
            .args(["--columns", COLUMNS])
            .output()
            .unwrap()
    };
    assert!(run().status.success());
    let written = std::fs::read(&output).unwrap();
    let recorded = state_of(&output)["finished_output"].clone();
    assert_eq!(recorded["len"], written.len());

    // A rerun of the finished job changes nothing and submits nothing.
    let modified = std::fs::metadata(&output).unwrap().modified().unwrap();
    assert!(run().status.success());
    assert_eq!(
        std::fs::metadata(&output).unwrap().modified().unwrap(),
        modified
    );
    assert_eq!(emu.runs_created(), 100);

    // Killed before the rename: no output, a partial temporary file, nothing recorded.
    std::fs::remove_file(&output).unwrap();
    std::fs::write(&tmp, &written[..written.len() / 2]).unwrap();
    set_finished(&output, &Value::Null);
    assert!(run().status.success());
    assert_eq!(std::fs::read(&output).unwrap(), written);
    assert!(!tmp.exists());
    assert_eq!(state_of(&output)["finished_output"], recorded);

    // Killed after the rename, before the state recorded it.
    set_finished(&output, &Value::Null);
    assert!(run().status.success());
    assert_eq!(std::fs::read(&output).unwrap(), written);
    assert_eq!(state_of(&output)["finished_output"], recorded);

    // Changed by someone since: refused, left untouched.
    std::fs::write(&output, &written[..100]).unwrap();
    let out = run();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("changed since this job wrote it"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&output).unwrap(), &written[..100]);

    // Removed: written again from the journal.
    std::fs::remove_file(&output).unwrap();
    assert!(run().status.success());
    assert_eq!(std::fs::read(&output).unwrap(), written);
    assert_eq!(emu.runs_created(), 100);
}

#[test]
fn a_parquet_output_deleted_with_its_journal_is_written_again_from_the_group() {
    let emu = Emu::start(0.0, 0.0);
    let dir = tempfile::tempdir().unwrap();
    let input = write_csv(dir.path(), 100);
    let output = dir.path().join("out.parquet");
    run_ok(run_command(&emu, &["--quiet"], &input, &output).args(["--columns", COLUMNS]));
    let before = read_parquet(&output);
    std::fs::remove_file(&output).unwrap();
    std::fs::remove_file(journal_of(&output)).unwrap();

    let out = run_ok(run_command(&emu, &[], &input, &output).args(["--columns", COLUMNS]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("again from group"), "{stderr}");
    let after = read_parquet(&output);
    for name in [
        "row", "name", "website", "ceo_name", "run_id", "status", "error",
    ] {
        assert_eq!(column(&after, name), column(&before, name), "{name}");
    }
    assert_eq!(emu.runs_created(), 100, "no row sent again");
    assert!(journal_of(&output).exists());
}

#[test]
fn retry_failed_rewrites_the_parquet_output_with_each_row_once() {
    let emu = Emu::start(0.3, 0.0);
    let dir = tempfile::tempdir().unwrap();
    let input = write_csv(dir.path(), 200);
    let output = dir.path().join("out.parquet");
    let run = |extra: &[&str]| {
        run_ok(
            run_command(&emu, &["--quiet"], &input, &output)
                .args(["--columns", COLUMNS])
                .args(extra),
        );
    };
    run(&[]);
    let before = column(&read_parquet(&output), "status");
    let failed = before.iter().filter(|s| *s == "failed").count();
    assert!(failed > 0);
    run(&["--retry-failed"]);
    let batches = read_parquet(&output);
    assert_eq!(
        column(&batches, "row"),
        (0..200).map(|r| json!(r)).collect::<Vec<_>>()
    );
    let after = column(&batches, "status");
    for (row, (was, now)) in before.iter().zip(&after).enumerate() {
        if was == "completed" {
            assert_eq!(now, "completed", "row {row} kept");
        }
    }
    assert_eq!(
        emu.runs_created(),
        200 + failed as u64,
        "only failed rows sent again"
    );
}

#[test]
fn a_file_that_is_not_parquet_is_refused_with_its_path() {
    let emu = Emu::start(0.0, 0.0);
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("data.parquet");
    std::fs::write(&fake, "name,website\nAcme,acme.example\n").unwrap();
    let output = dir.path().join("out.csv");
    let out = run_command(&emu, &[], &fake, &output)
        .args(["--columns", COLUMNS])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&fake.display().to_string()), "{stderr}");
    assert!(stderr.contains("Parquet"), "{stderr}");

    let csv = write_csv(dir.path(), 3);
    let out = run_command(&emu, &[], &csv, &output)
        .args(["--columns", COLUMNS, "--format", "parquet"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("companies.csv"), "{stderr}");
    assert_eq!(emu.runs_created(), 0);
}

#[cfg(unix)]
#[test]
fn links_at_the_names_of_a_parquet_jobs_files_are_not_written_through() {
    use std::os::unix::fs::symlink;
    let emu = Emu::start(0.0, 0.0);
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("precious.txt");
    std::fs::write(&target, "precious").unwrap();
    let input = write_csv(dir.path(), 20);
    let output = dir.path().join("out.parquet");
    // The names an earlier release wrote: its journal and its temporary Parquet file.
    for name in ["out.parquet.journal", "out.parquet.tmp"] {
        symlink(&target, dir.path().join(name)).unwrap();
    }
    run_ok(run_command(&emu, &["--quiet"], &input, &output).args(["--columns", COLUMNS]));
    assert_eq!(column(&read_parquet(&output), "row").len(), 20);
    // The journal of this release's layout, a link: refused.
    let other = dir.path().join("other.parquet");
    let journal = journal_of(&other);
    std::fs::create_dir(journal.parent().unwrap()).unwrap();
    symlink(&target, &journal).unwrap();
    let out = run_command(&emu, &["--quiet"], &input, &other)
        .args(["--columns", COLUMNS])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("is a symbolic link"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious");
}

#[test]
fn typed_columns_become_typed_parquet_columns() {
    let emu = Emu::start(0.0, 0.0);
    let dir = tempfile::tempdir().unwrap();
    let input = write_csv(dir.path(), 20);
    let output = dir.path().join("out.parquet");
    run_ok(
        run_command(&emu, &["--quiet"], &input, &output)
            .arg("--columns")
            .arg("ceo: CEO, founded (integer): year, listed (date): IPO date, sectors (list): industries"),
    );
    let batches = read_parquet(&output);
    let types: Vec<(String, DataType)> = field_types(&batches)[3..7].to_vec();
    assert_eq!(
        types,
        [
            ("ceo".to_owned(), DataType::Utf8),
            ("founded".to_owned(), DataType::Int64),
            ("listed".to_owned(), DataType::Date32),
            (
                "sectors".to_owned(),
                DataType::new_list(DataType::Utf8, true)
            ),
        ]
    );
    // The values are the journal's, typed.
    let journal = read_jsonl_output(&journal_of(&output));
    let listed = batches[0].column_by_name("listed").unwrap();
    let listed = listed.as_primitive::<arrow_array::types::Date32Type>();
    let founded = column(&batches, "founded");
    let sectors = column(&batches, "sectors");
    for (row, line) in &journal {
        let at = usize::try_from(*row).unwrap();
        assert_eq!(line["status"], "completed");
        let out = &line["output"];
        assert_eq!(founded[at], out["founded"], "row {row}");
        assert_eq!(sectors[at], out["sectors"], "row {row}");
        let date = listed.value_as_date(at).unwrap().to_string();
        assert_eq!(json!(date), out["listed"], "row {row}");
    }
}

#[test]
fn basis_columns_are_a_list_of_urls_and_text_in_run_and_results() {
    let emu = Emu::start(0.2, 0.0);
    let dir = tempfile::tempdir().unwrap();
    let input = write_csv(dir.path(), 30);
    let output = dir.path().join("out.parquet");
    let out = run_ok(run_command(&emu, &["--json"], &input, &output).args([
        "--columns",
        "ceo: CEO, tags (list): industries",
        "--basis",
    ]));
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    let group = summary["group_id"].as_str().unwrap().to_owned();
    let sources = crate::basis::sources_by_row(&journal_of(&output));
    let exported = dir.path().join("runs.parquet");
    run_ok(results_command(&emu.url(), &group, &exported).arg("--basis"));
    for file in [&output, &exported] {
        let batches = read_parquet(file);
        let types = field_types(&batches);
        let at = |name: &str| types.iter().position(|(n, _)| n == name).unwrap();
        assert!(at("tags") < at("ceo_citations") && at("tags_reasoning") < at("run_id"));
        let list = DataType::new_list(DataType::Utf8, true);
        assert_eq!(types[at("ceo_citations")].1, list);
        assert_eq!(types[at("tags_citations")].1, list);
        assert_eq!(types[at("ceo_confidence")].1, DataType::Utf8);
        assert_eq!(types[at("tags_reasoning")].1, DataType::Utf8);
        let rows = column(&batches, "row");
        let mut nulls = 0;
        for name in [
            "ceo_citations",
            "ceo_confidence",
            "tags_citations",
            "tags_reasoning",
        ] {
            for (row, value) in rows.iter().zip(column(&batches, name)) {
                let expected = &sources[&row.as_u64().unwrap()];
                if expected.is_null() {
                    nulls += 1;
                    assert_eq!(value, Value::Null, "{}: row {row}", file.display());
                } else {
                    assert_eq!(value, expected[name], "{}: row {row}", file.display());
                }
            }
        }
        assert!(
            nulls > 0 && nulls < 4 * 30,
            "failed rows have no sources: {nulls}"
        );
    }
}
