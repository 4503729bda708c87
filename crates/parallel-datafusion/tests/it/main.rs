//! `parallel_enrich` in real `DataFusion` queries, against the emulator over loopback TCP with
//! the real client.

mod support;

use std::fmt::Write as _;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::datasource::MemTable;
use datafusion::prelude::{CsvReadOptions, SessionContext};
use parallel_datafusion::ParallelEnrich;
use serde_json::json;

use support::{Emu, Row, context, rows};

/// A table `t(id, name, employees, revenue, public)` with typed columns and nulls.
fn typed_table(ctx: &SessionContext) {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("name", DataType::Utf8, true),
        Field::new("employees", DataType::Int64, true),
        Field::new("revenue", DataType::Float64, true),
        Field::new("public", DataType::Boolean, true),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(vec![1, 2, 3, 4])),
        Arc::new(StringArray::from(vec![
            Some("Acme Corp"),
            Some("Globex"),
            None,
            None,
        ])),
        Arc::new(Int64Array::from(vec![Some(120), None, Some(7), None])),
        Arc::new(Float64Array::from(vec![
            Some(1.5e6),
            Some(0.25),
            None,
            None,
        ])),
        Arc::new(BooleanArray::from(vec![
            Some(true),
            Some(false),
            None,
            None,
        ])),
    ];
    let batch = RecordBatch::try_new(Arc::clone(&schema), columns).unwrap();
    let table = MemTable::try_new(schema, vec![vec![batch]]).unwrap();
    ctx.register_table("t", Arc::new(table)).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn struct_inputs_reach_the_run_with_their_types() {
    let emu = Emu::start(0.0).await;
    let ctx = context(ParallelEnrich::new(emu.client()));
    typed_table(&ctx);
    let found = rows(
        &ctx,
        "SELECT id, parallel_enrich(named_struct('company', name, 'employees', employees, \
         'revenue', revenue, 'public', public), 'ceo_name: CEO name') AS found FROM t ORDER BY id",
    )
    .await;
    assert_eq!(found.len(), 4);
    let expected_inputs = [
        json!({"company": "Acme Corp", "employees": 120, "revenue": 1.5e6, "public": true}),
        json!({"company": "Globex", "employees": null, "revenue": 0.25, "public": false}),
        json!({"company": null, "employees": 7, "revenue": null, "public": null}),
    ];
    for (row, expected) in found.iter().zip(&expected_inputs) {
        assert_eq!(row.text("status"), Some("completed"), "{row:?}");
        let run_id = row.text("run_id").expect("a run id");
        let input = emu.client().run_input(run_id).await.unwrap().input;
        assert_eq!(&input, expected, "row {}", row.id);
        assert!(row.text("ceo_name").is_some(), "{row:?}");
    }
    // The fourth row's struct holds only nulls: no run, status `skipped`.
    let skipped = &found[3];
    assert_eq!(skipped.text("status"), Some("skipped"));
    assert_eq!(skipped.text("run_id"), None);
    assert_eq!(skipped.text("ceo_name"), None);
    assert_eq!(emu.handle.run_count(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn string_inputs_are_text_and_null_ones_are_skipped() {
    let emu = Emu::start(0.0).await;
    let ctx = context(ParallelEnrich::new(emu.client()));
    typed_table(&ctx);
    let found = rows(
        &ctx,
        "SELECT id, parallel_enrich(name, 'ceo_name: CEO name, hq: headquarters city') AS found \
         FROM t ORDER BY id",
    )
    .await;
    let statuses: Vec<Option<&str>> = found.iter().map(|r| r.text("status")).collect();
    assert_eq!(
        statuses,
        [
            Some("completed"),
            Some("completed"),
            Some("skipped"),
            Some("skipped")
        ]
    );
    let input = emu
        .client()
        .run_input(found[1].text("run_id").unwrap())
        .await
        .unwrap()
        .input;
    assert_eq!(input, json!("Globex"));
    assert!(found[0].text("hq").is_some());
    assert_eq!(emu.handle.run_count(), 2);

    // Only null inputs: nothing reaches the API, not even a group.
    let found = rows(
        &ctx,
        "SELECT id, parallel_enrich(name, 'ceo_name: CEO name') AS found FROM t WHERE name IS NULL",
    )
    .await;
    assert_eq!(found.len(), 2);
    assert!(found.iter().all(|r| r.text("status") == Some("skipped")));
    assert_eq!(emu.handle.run_count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_and_refused_rows_do_not_fail_the_query() {
    // Half the runs fail; one input is over the API's size limit and is refused.
    let emu = Emu::start(0.5).await;
    let ctx = context(ParallelEnrich::new(emu.client()));
    let mut names: Vec<String> = (0..40).map(|i| format!("Company {i:03}")).collect();
    names.push("x".repeat(30_000));
    let ids: Vec<i64> = (0..).take(names.len()).collect();
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("name", DataType::Utf8, false),
    ]));
    let batch = RecordBatch::try_new(
        Arc::clone(&schema),
        vec![
            Arc::new(Int64Array::from(ids)),
            Arc::new(StringArray::from(names.clone())),
        ],
    )
    .unwrap();
    let table = MemTable::try_new(schema, vec![vec![batch]]).unwrap();
    ctx.register_table("t", Arc::new(table)).unwrap();

    let found = rows(
        &ctx,
        "SELECT id, parallel_enrich(name, 'ceo_name: CEO name') AS found FROM t ORDER BY id",
    )
    .await;
    assert_eq!(found.len(), names.len());
    let (mut completed, mut failed) = (0, 0);
    for row in &found[..40] {
        match row.text("status") {
            Some("completed") => {
                completed += 1;
                assert!(row.text("ceo_name").is_some(), "{row:?}");
                assert_eq!(row.text("error"), None, "{row:?}");
            }
            Some("failed") => {
                failed += 1;
                assert_eq!(row.text("ceo_name"), None, "{row:?}");
                assert!(!row.text("error").unwrap_or_default().is_empty(), "{row:?}");
                assert!(row.text("run_id").is_some(), "{row:?}");
            }
            other => panic!("row {}: status {other:?}", row.id),
        }
    }
    assert!(
        completed > 0 && failed > 0,
        "{completed} completed, {failed} failed"
    );
    let refused = &found[40];
    assert_eq!(refused.text("status"), Some("rejected"), "{refused:?}");
    assert_eq!(refused.text("run_id"), None);
    assert!(
        refused
            .text("error")
            .is_some_and(|e| e.contains("25000") || e.contains("25,000")),
        "{refused:?}"
    );
    assert_eq!(emu.handle.run_count(), 40);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_rows_of_a_csv_file_get_their_own_results() {
    let emu = Emu::start(0.0).await;
    let ctx = context(ParallelEnrich::new(emu.client()));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("companies.csv");
    let mut csv = String::from("id,name\n");
    for i in 0..10_000 {
        writeln!(csv, "{i},Company {i:05}").unwrap();
    }
    std::fs::write(&path, csv).unwrap();
    ctx.register_csv("companies", path.to_str().unwrap(), CsvReadOptions::new())
        .await
        .unwrap();

    let found = rows(
        &ctx,
        "SELECT id, parallel_enrich(name, 'summary: a one-line summary') AS found \
         FROM companies ORDER BY id",
    )
    .await;
    assert_eq!(found.len(), 10_000);
    let mut run_ids = std::collections::HashSet::new();
    for (i, row) in found.iter().enumerate() {
        assert_eq!(row.id, i64::try_from(i).unwrap());
        assert_eq!(row.text("status"), Some("completed"), "{row:?}");
        // The emulator writes the input's name into generated text: each row's output is
        // about its own input.
        let name = format!("Company {i:05}");
        let summary = row.text("summary").unwrap();
        assert!(summary.contains(&name), "row {i}: {summary}");
        assert!(run_ids.insert(row.text("run_id").unwrap().to_owned()));
    }
    // And the run behind a sample of rows received that row's input.
    for row in found.iter().step_by(997) {
        let input = emu
            .client()
            .run_input(row.text("run_id").unwrap())
            .await
            .unwrap()
            .input;
        assert_eq!(input, json!(format!("Company {:05}", row.id)));
    }
    // Every row ran exactly once.
    assert_eq!(emu.handle.run_count(), 10_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_json_schema_gives_typed_columns() {
    let emu = Emu::start(0.0).await;
    let ctx = context(ParallelEnrich::new(emu.client()));
    typed_table(&ctx);
    let df = ctx
        .sql(
            r#"SELECT id, parallel_enrich(name, '{"type": "object", "properties": {
                "founded_year": {"type": "integer", "minimum": 1900, "maximum": 2024},
                "rating": {"type": "number", "minimum": 0, "maximum": 5},
                "public": {"type": "boolean"},
                "ceo_name": {"type": "string"}},
                "required": ["founded_year", "rating", "public", "ceo_name"]}') AS found
               FROM t WHERE id = 1"#,
        )
        .await
        .unwrap();
    let batches = df.collect().await.unwrap();
    let found = support::struct_column(&batches[0], "found");
    let types: Vec<(String, DataType)> = found
        .fields()
        .iter()
        .map(|f| (f.name().clone(), f.data_type().clone()))
        .collect();
    assert_eq!(
        types[..4],
        [
            ("founded_year".to_owned(), DataType::Int64),
            ("rating".to_owned(), DataType::Float64),
            ("public".to_owned(), DataType::Boolean),
            ("ceo_name".to_owned(), DataType::Utf8),
        ]
    );
    let year = found
        .column_by_name("founded_year")
        .unwrap()
        .as_any()
        .downcast_ref::<Int64Array>()
        .unwrap()
        .value(0);
    assert!((1900..=2024).contains(&year), "{year}");
    let rating = found
        .column_by_name("rating")
        .unwrap()
        .as_any()
        .downcast_ref::<Float64Array>()
        .unwrap();
    assert!(rating.is_valid(0) && (0.0..=5.0).contains(&rating.value(0)));
    assert!(found.column_by_name("public").unwrap().is_valid(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_arguments_are_planning_errors_that_say_what_to_write() {
    let emu = Emu::start(0.0).await;
    let ctx = context(ParallelEnrich::new(emu.client()));
    typed_table(&ctx);
    let cases = [
        (
            "SELECT parallel_enrich(name, 'ceo: CEO name, founded year: the year') FROM t",
            "item 2 `founded year: the year`",
        ),
        (
            "SELECT parallel_enrich(name, 'ceo: Full name, if known') FROM t",
            "item 2 `if known`",
        ),
        (
            "SELECT parallel_enrich(name, 'status: is it open') FROM t",
            "`status` is a field of the result",
        ),
        (
            "SELECT parallel_enrich(name, '{\"type\": \"object\"') FROM t",
            "not valid JSON",
        ),
        (
            "SELECT parallel_enrich(name, name) FROM t",
            "must be a string literal",
        ),
        (
            "SELECT parallel_enrich(employees, 'ceo: CEO name') FROM t",
            "a string, or a struct",
        ),
    ];
    for (query, says) in cases {
        let error = match ctx.sql(query).await {
            Ok(df) => df.collect().await.map(|_| ()).unwrap_err(),
            Err(error) => error,
        };
        let text = error.to_string();
        assert!(text.contains(says), "{query}: {text}");
        assert!(text.contains("parallel_enrich"), "{query}: {text}");
    }
    assert_eq!(emu.handle.run_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_can_choose_the_processor() {
    let emu = Emu::start(0.0).await;
    let ctx = context(ParallelEnrich::new(emu.client()).processor("lite"));
    typed_table(&ctx);
    let query =
        "SELECT id, parallel_enrich(name, 'ceo_name: CEO name') AS found FROM t WHERE id = 1";
    let processor = |row: Row| {
        let client = emu.client();
        async move {
            let run = client.get_run(row.text("run_id").unwrap()).await.unwrap();
            run.processor.to_string()
        }
    };
    let before = rows(&ctx, query).await.remove(0);
    assert_eq!(processor(before).await, "lite");
    ctx.sql("SET parallel.processor = 'base'")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let after = rows(&ctx, query).await.remove(0);
    assert_eq!(processor(after).await, "base");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_without_a_result_in_time_come_back_timed_out() {
    // At full scale a run takes seconds; the call waits a fraction of that.
    let emu = Emu::start_scaled(0.0, 1.0).await;
    let ctx =
        context(ParallelEnrich::new(emu.client()).timeout(std::time::Duration::from_millis(300)));
    typed_table(&ctx);
    let found = rows(
        &ctx,
        "SELECT id, parallel_enrich(name, 'ceo_name: CEO name') AS found FROM t ORDER BY id",
    )
    .await;
    for row in &found[..2] {
        assert_eq!(row.text("status"), Some("timed_out"), "{row:?}");
        assert!(row.text("error").unwrap().contains("time limit"), "{row:?}");
    }
    assert_eq!(found[2].text("status"), Some("skipped"));
}
