//! `parallel_enrich` in real `DataFusion` queries, against the emulator over loopback TCP with
//! the real client.

#[cfg(feature = "ballista")]
mod distributed;
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
        (
            "SELECT parallel_enrich(named_struct('n', name, 'gap', INTERVAL '1 day'), \
             'ceo: CEO name') FROM t",
            "cannot be sent as a run input: values of type Interval",
        ),
        (
            "SELECT parallel_enrich(name, 'ceo (person): CEO name') FROM t",
            "`person` is not a type",
        ),
        (
            "SELECT parallel_enrich(name, 'ceo: CEO name', 'sources') FROM t",
            "the options are 'basis'",
        ),
        (
            "SELECT parallel_enrich(name, 'ceo: CEO name', name) FROM t",
            "must be a string literal such as 'basis'",
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_columns_and_their_sources_hold_the_runs_output() {
    use datafusion::arrow::array::{AsArray, Date32Array};
    let emu = Emu::start(0.0).await;
    let ctx = context(ParallelEnrich::new(emu.client()));
    typed_table(&ctx);
    let batches = ctx
        .sql(
            "SELECT id, parallel_enrich(name, 'employees (integer): head count, \
             founded (date): founding date, sectors (list): industries, public (bool): listed', \
             'basis') AS found FROM t WHERE id = 1",
        )
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let found = support::struct_column(&batches[0], "found");
    let field = |name: &str| found.column_by_name(name).unwrap();
    assert_eq!(field("employees").data_type(), &DataType::Int64);
    assert_eq!(field("founded").data_type(), &DataType::Date32);
    assert_eq!(field("public").data_type(), &DataType::Boolean);
    let list = DataType::new_list(DataType::Utf8, true);
    assert_eq!(field("sectors").data_type(), &list);
    assert_eq!(field("sectors_citations").data_type(), &list);
    assert_eq!(field("sectors_confidence").data_type(), &DataType::Utf8);

    // Each value is the run's own output, and each source its basis.
    let run_id = field("run_id").as_string::<i32>().value(0).to_owned();
    let result = emu
        .client()
        .run_result(&run_id)
        .timeout(std::time::Duration::from_secs(5))
        .await
        .unwrap();
    let parallel_types::RunOutput::Json(output) = result.output else {
        panic!("a JSON output: {:?}", result.output);
    };
    let content = &output.content;
    assert_eq!(
        field("employees")
            .as_primitive::<datafusion::arrow::datatypes::Int64Type>()
            .value(0),
        content["employees"].as_i64().unwrap()
    );
    let founded = field("founded")
        .as_any()
        .downcast_ref::<Date32Array>()
        .unwrap();
    assert_eq!(
        founded.value_as_date(0).unwrap().to_string(),
        content["founded"].as_str().unwrap()
    );
    let sectors = field("sectors").as_list::<i32>().value(0);
    let sectors: Vec<&str> = sectors.as_string::<i32>().iter().flatten().collect();
    assert_eq!(json!(sectors), content["sectors"]);
    assert_eq!(
        field("public").as_boolean().value(0),
        content["public"].as_bool().unwrap()
    );
    for name in ["employees", "founded", "sectors", "public"] {
        let sources = parallel_types::FieldSources::of(&output.basis, name);
        assert!(!sources.citations.is_empty(), "{name}: the emulator cites");
        let citations = field(&format!("{name}_citations"))
            .as_list::<i32>()
            .value(0);
        let citations: Vec<&str> = citations.as_string::<i32>().iter().flatten().collect();
        assert_eq!(citations, sources.citations, "{name}");
        let text = |suffix: &str| {
            let column = field(&format!("{name}{suffix}")).as_string::<i32>();
            column.is_valid(0).then(|| column.value(0).to_owned())
        };
        assert_eq!(text("_confidence"), sources.confidence, "{name}");
        assert_eq!(text("_reasoning"), sources.reasoning, "{name}");
    }
    assert!(found.column_by_name("error").unwrap().is_null(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_run_again_in_the_querys_group_pay_for_no_row_twice() {
    let emu = Emu::start(0.0).await;
    let enrich = ParallelEnrich::new(emu.client()).rows_per_call(250);
    let group = enrich.create_group().await.unwrap();
    let ctx = context(enrich);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("companies.csv");
    // Ten names over 1,000 rows: identical rows are still distinct runs.
    let mut csv = String::from("id,name\n");
    for i in 0..1_000 {
        writeln!(csv, "{i},Company {}", i % 10).unwrap();
    }
    std::fs::write(&path, csv).unwrap();
    ctx.register_csv("companies", path.to_str().unwrap(), CsvReadOptions::new())
        .await
        .unwrap();
    // Every call of 250 rows sends the same ten names in the same order: the key (the id)
    // keeps the calls apart.
    let sql = format!(
        "SELECT id, parallel_enrich(name, 'summary: a one-line summary', 'group={group}', id) \
         AS found FROM companies ORDER BY id"
    );
    let first = rows(&ctx, &sql).await;
    assert_eq!(first.len(), 1_000);
    let run_ids: std::collections::HashSet<&str> =
        first.iter().map(|r| r.text("run_id").unwrap()).collect();
    assert_eq!(
        run_ids.len(),
        1_000,
        "one run per row, identical rows included"
    );
    assert_eq!(emu.handle.run_count(), 1_000);

    // Every task evaluated again, as an engine does after losing an executor: the calls
    // find their runs in the group and add none; each row gets its own run's result.
    let again = rows(&ctx, &sql).await;
    assert_eq!(emu.handle.run_count(), 1_000);
    for (row, earlier) in again.iter().zip(&first) {
        assert_eq!(row.id, earlier.id);
        assert_eq!(row.text("status"), Some("completed"), "{row:?}");
        assert_eq!(row.text("run_id"), earlier.text("run_id"), "row {}", row.id);
        assert_eq!(
            row.text("summary"),
            earlier.text("summary"),
            "row {}",
            row.id
        );
        let name = format!("Company {}", row.id % 10);
        assert!(row.text("summary").unwrap().contains(&name), "{row:?}");
    }
    let group_runs = emu
        .client()
        .group(&group)
        .get()
        .await
        .unwrap()
        .status
        .num_task_runs;
    assert_eq!(group_runs, 1_000, "every run is in the query's group");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_with_parallel_enrich_round_trips_through_datafusion_proto() {
    use datafusion::physical_plan::{collect, displayable};
    use datafusion_proto::bytes::{physical_plan_from_bytes, physical_plan_to_bytes};

    let emu = Emu::start(0.0).await;
    let enrich = ParallelEnrich::new(emu.client());
    let group = enrich.create_group().await.unwrap();
    let coordinator = context(enrich);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("companies.csv");
    std::fs::write(&path, "id,name\n1,Acme Corp\n2,Globex\n").unwrap();
    coordinator
        .register_csv("companies", path.to_str().unwrap(), CsvReadOptions::new())
        .await
        .unwrap();
    let sql = format!(
        "SELECT id, parallel_enrich(name, 'ceo: CEO name, founded (integer): year', \
         'basis, group={group}') AS found FROM companies ORDER BY id"
    );
    let plan = coordinator
        .sql(&sql)
        .await
        .unwrap()
        .create_physical_plan()
        .await
        .unwrap();
    let bytes = physical_plan_to_bytes(Arc::clone(&plan)).unwrap();

    // An executor shares nothing with the coordinator but the bytes: its own session, with
    // its own registration of the function, resolves it by name.
    let executor = context(ParallelEnrich::new(emu.client()));
    let decoded = physical_plan_from_bytes(&bytes, &executor.task_ctx()).unwrap();
    let shown = |plan: &Arc<dyn datafusion::physical_plan::ExecutionPlan>| {
        displayable(plan.as_ref()).indent(true).to_string()
    };
    assert_eq!(shown(&decoded), shown(&plan));
    assert!(
        shown(&decoded).contains("AsyncFuncExec"),
        "{}",
        shown(&decoded)
    );
    assert!(
        shown(&decoded).contains(&group),
        "the group travels in the plan"
    );

    let batches = collect(decoded, executor.task_ctx()).await.unwrap();
    let found = support::struct_column(&batches[0], "found");
    assert_eq!(found.len(), 2);
    assert!(found.column_by_name("founded_citations").is_some());
    assert_eq!(emu.handle.run_count(), 2);
    let group_runs = emu.client().group(&group).get().await.unwrap();
    assert_eq!(
        group_runs.status.num_task_runs, 2,
        "the rows ran in the plan's group"
    );
}
