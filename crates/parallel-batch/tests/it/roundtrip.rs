//! Whole files through the tool, and the `status` / `results` commands.

use std::fmt::Write as _;

use crate::support::{
    COLUMNS, Emu, batch, input_name, read_csv_output, read_jsonl_output, results_command,
    run_command, run_ok, state_of, write_csv, write_jsonl,
};

#[test]
fn csv_to_csv_1000_rows_with_failed_runs() {
    let emu = Emu::start(0.1, 0.0);
    let dir = tempfile::tempdir().unwrap();
    let input = write_csv(dir.path(), 1000);
    let output = dir.path().join("out.csv");
    let out = run_ok(run_command(&emu, &["--json"], &input, &output).args([
        "--columns",
        COLUMNS,
        "--chunk-size",
        "300",
    ]));
    let (header, rows) = read_csv_output(&output);
    assert_eq!(
        header,
        [
            "row",
            "name",
            "website",
            "ceo_name",
            "founded_year",
            "run_id",
            "status",
            "error"
        ]
    );
    assert_eq!(rows.len(), 1000);
    assert_eq!(
        rows.keys().copied().collect::<Vec<_>>(),
        (0..1000).collect::<Vec<_>>()
    );
    let mut failed = 0;
    for (row, fields) in &rows {
        assert_eq!(fields["name"], input_name(*row));
        assert_eq!(fields["website"], format!("https://c{row}.example"));
        assert!(fields["run_id"].starts_with("trun_"));
        match fields["status"].as_str() {
            "completed" => {
                assert!(!fields["ceo_name"].is_empty() && fields["error"].is_empty());
            }
            "failed" => {
                failed += 1;
                assert!(!fields["error"].is_empty() && fields["ceo_name"].is_empty());
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert!(
        failed > 0 && failed < 1000,
        "about 10% of runs fail: {failed}"
    );
    assert_eq!(emu.runs_created(), 1000, "each row submitted once");
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["total"], 1000);
    assert_eq!(summary["failed"], failed);
    assert_eq!(summary["complete"], true);
    assert_eq!(state_of(&output)["complete"], true);

    // Running the same command again does nothing and submits nothing.
    run_ok(run_command(&emu, &[], &input, &output).args([
        "--columns",
        COLUMNS,
        "--chunk-size",
        "300",
    ]));
    assert_eq!(read_csv_output(&output).1.len(), 1000);
    assert_eq!(emu.runs_created(), 1000);
}

#[test]
fn small_chunks_with_instant_runs_write_every_row_once_and_submit_once() {
    // Runs finish as soon as they are added: completion events keep arriving while sweeps of
    // the group read, which exercises both ways results come in.
    let emu = Emu::start(0.0, 0.0);
    let dir = tempfile::tempdir().unwrap();
    let input = write_csv(dir.path(), 3000);
    let output = dir.path().join("out.csv");
    run_ok(
        run_command(&emu, &["--json"], &input, &output)
            .args(["--columns", COLUMNS, "--chunk-size", "50"])
            .args(["--max-in-flight", "400", "--fetch-concurrency", "4"]),
    );
    let (_, rows) = read_csv_output(&output);
    assert_eq!(
        rows.keys().copied().collect::<Vec<_>>(),
        (0..3000).collect::<Vec<_>>()
    );
    let lines = std::fs::read_to_string(&output).unwrap().lines().count();
    assert_eq!(lines, 3001, "one header and one line per row");
    assert_eq!(emu.runs_created(), 3000);
    for (row, fields) in &rows {
        assert_eq!(fields["name"], input_name(*row));
        assert_eq!(fields["status"], "completed");
    }
}

#[test]
fn jsonl_to_jsonl_1000_rows_with_failed_runs() {
    let emu = Emu::start(0.05, 0.0);
    let dir = tempfile::tempdir().unwrap();
    let input = write_jsonl(dir.path(), 1000);
    let output = dir.path().join("out.jsonl");
    run_ok(run_command(&emu, &["--quiet"], &input, &output).args(["--columns", COLUMNS]));
    let rows = read_jsonl_output(&output);
    assert_eq!(rows.len(), 1000);
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&input)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut failed = 0;
    for (row, value) in &rows {
        let i = usize::try_from(*row).unwrap();
        assert_eq!(
            value["input"], lines[i],
            "row {row} carries its input object"
        );
        match value["status"].as_str().unwrap() {
            "completed" => {
                assert!(value["output"]["ceo_name"].is_string());
                assert!(value["error"].is_null());
            }
            "failed" => {
                failed += 1;
                assert!(value["output"].is_null());
                assert!(value["error"].as_str().is_some_and(|e| !e.is_empty()));
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert!(failed > 0);
    assert_eq!(emu.runs_created(), 1000);
}

#[test]
fn input_columns_pick_and_rename_and_text_output() {
    let emu = Emu::start(0.0, 0.0);
    let dir = tempfile::tempdir().unwrap();
    let input = write_csv(dir.path(), 20);
    let output = dir.path().join("out.jsonl");
    run_ok(run_command(&emu, &["--quiet"], &input, &output).args([
        "--input-columns",
        "name=company",
        "--text",
        "A one-line profile",
    ]));
    let rows = read_jsonl_output(&output);
    assert_eq!(rows.len(), 20);
    assert_eq!(
        rows[&3]["input"],
        serde_json::json!({"company": "Company 3"})
    );
    assert!(rows[&3]["output"].is_string());
}

#[test]
fn status_and_results_commands_read_the_group_back() {
    let emu = Emu::start(0.1, 0.0);
    let dir = tempfile::tempdir().unwrap();
    let input = write_csv(dir.path(), 150);
    let output = dir.path().join("out.csv");
    run_ok(run_command(&emu, &["--quiet"], &input, &output).args(["--columns", COLUMNS]));
    let (_, written) = read_csv_output(&output);
    let group = state_of(&output)["group_id"].as_str().unwrap().to_owned();

    let out = run_ok(batch().args(["--base-url", &emu.url(), "--json", "status", &group]));
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["taskgroup_id"], group);
    assert_eq!(status["status"]["num_task_runs"], 150);
    assert_eq!(status["status"]["is_active"], false);
    let counts = &status["status"]["task_run_status_counts"];
    let failed_in_file = written.values().filter(|r| r["status"] == "failed").count();
    assert_eq!(
        counts["failed"].as_u64().unwrap_or(0),
        failed_in_file as u64
    );

    let out = run_ok(batch().args(["--base-url", &emu.url(), "status", &group]));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&group) && text.contains("150 runs"), "{text}");

    let results = dir.path().join("all.csv");
    run_ok(&mut results_command(&emu.url(), &group, &results));
    let (header, rows) = read_csv_output(&results);
    assert!(header.contains(&"ceo_name".to_owned()), "{header:?}");
    assert_eq!(rows.len(), 150);
    for (row, fields) in &rows {
        assert_eq!(fields["name"], input_name(*row));
        assert_eq!(fields["run_id"], written[row]["run_id"]);
        assert_eq!(fields["status"], written[row]["status"]);
        assert_eq!(fields["ceo_name"], written[row]["ceo_name"]);
    }

    let results = dir.path().join("all.jsonl");
    run_ok(&mut results_command(&emu.url(), &group, &results));
    assert_eq!(read_jsonl_output(&results).len(), 150);

    // `wait` returns at once for an idle group and prints its status.
    let out = run_ok(batch().args(["--base-url", &emu.url(), "--quiet", "wait", &group]));
    assert!(String::from_utf8_lossy(&out.stdout).contains("150 runs"));

    // `events` prints JSON lines and ends when the group is idle.
    let out = run_ok(batch().args(["--base-url", &emu.url(), "events", &group]));
    let text = String::from_utf8_lossy(&out.stdout);
    let types: Vec<String> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["type"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert!(types.iter().any(|t| t == "task_group_status"), "{types:?}");
}

#[test]
fn a_row_the_api_refuses_is_written_as_rejected_and_the_batch_goes_on() {
    // One row over the API's 25,000-character limit, late in a 3,000-row file: the batch
    // must not stop there (it used to, after 2,000 runs had been paid for).
    let emu = Emu::start(0.0, 0.0);
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.csv");
    let mut text = String::from("name,website\n");
    for i in 0..3000u64 {
        let name = if i == 2500 {
            "x".repeat(30_000)
        } else {
            format!("Company {i}")
        };
        writeln!(text, "{name},https://c{i}.example").unwrap();
    }
    std::fs::write(&input, text).unwrap();
    let output = dir.path().join("out.csv");
    // The tool's own size check would stop the job before the API sees the row.
    let columns = ["--columns", COLUMNS, "--max-input-chars", "100000"];
    let out = run_ok(run_command(&emu, &["--json"], &input, &output).args(columns));
    let (_, rows) = read_csv_output(&output);
    assert_eq!(rows.len(), 3000, "every row is in the output once");
    let refused = &rows[&2500];
    assert_eq!(refused["status"], "rejected");
    assert!(refused["run_id"].is_empty());
    assert!(
        refused["error"].contains("25000") || refused["error"].contains("25,000"),
        "{refused:?}"
    );
    assert!(!refused["error"].contains("inputs["), "{refused:?}");
    let others = rows.iter().filter(|(row, _)| **row != 2500);
    assert!(others.clone().all(|(_, f)| f["status"] == "completed"));
    assert_eq!(others.count(), 2999);
    assert_eq!(emu.runs_created(), 2999);
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["rejected"], 1);
    assert_eq!(summary["completed"], 2999);
    assert_eq!(state_of(&output)["rejected"], 1);

    // Running the same command again has nothing left to do.
    let again = run_ok(run_command(&emu, &["--json"], &input, &output).args(columns));
    let summary: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(summary["written_now"], 0);
    assert_eq!(emu.runs_created(), 2999);
}

#[test]
fn jsonl_rows_with_different_members_get_every_column_in_a_csv_output() {
    let emu = Emu::start(0.0, 0.0);
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("vary.jsonl");
    let mut text = String::new();
    for i in 0..300 {
        let line = match i {
            // A member only the 200th row has, and a text row.
            199 => format!(r#"{{"name":"n{i}","city":"Lyon"}}"#),
            250 => r#""just a question""#.to_owned(),
            _ => format!(r#"{{"name":"n{i}"}}"#),
        };
        text.push_str(&line);
        text.push('\n');
    }
    std::fs::write(&input, text).unwrap();
    let output = dir.path().join("out.csv");
    run_ok(run_command(&emu, &["--quiet"], &input, &output).args(["--columns", COLUMNS]));
    let (header, rows) = read_csv_output(&output);
    assert_eq!(header[..4], ["row", "name", "city", "input"], "{header:?}");
    assert_eq!(rows.len(), 300);
    assert_eq!(rows[&199]["city"], "Lyon");
    assert_eq!(rows[&199]["name"], "n199");
    assert_eq!(rows[&0]["city"], "");
    assert_eq!(rows[&250]["input"], "just a question");
    assert_eq!(rows[&250]["name"], "");
}

#[test]
fn wait_follows_a_running_group_to_its_end_and_shows_its_progress() {
    // `lite` runs take 10 to 60 s: at this scale, 0.5 to 3 s.
    let emu = Emu::start(0.0, 0.05);
    let group = crate::support::group_with_runs(&emu, 30, "lite");
    let out = run_ok(batch().args([
        "--base-url",
        &emu.url(),
        "--json",
        "--progress-interval",
        "0.2",
        "wait",
        &group,
    ]));
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["status"]["is_active"], false, "{status}");
    assert_eq!(
        status["status"]["task_run_status_counts"]["completed"], 30,
        "{status}"
    );
    let progress: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stderr)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .filter(|line: &serde_json::Value| line["event"] == "progress")
        .collect();
    let last = progress.last().expect("progress lines");
    assert_eq!(
        (last["total"].as_u64(), last["completed"].as_u64()),
        (Some(30), Some(30))
    );
}
