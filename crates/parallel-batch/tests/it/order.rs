//! The finished output is in input order, in every format, however the runs finished;
//! `--order completion` keeps the order they finished in.

use std::process::Stdio;

use crate::resume::kill_when;
use crate::support::{
    COLUMNS, Emu, companion, read_jsonl_output, run_command, state_of, temporary_files, write_csv,
    write_jsonl,
};

/// The `row` of each record of a CSV or JSON Lines output, in file order.
fn rows_in_file_order(path: &std::path::Path) -> Vec<u64> {
    if path.extension().is_some_and(|e| e == "csv") {
        let mut reader = csv::Reader::from_path(path).unwrap();
        return reader
            .records()
            .map(|r| r.unwrap()[0].parse().unwrap())
            .collect();
    }
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["row"]
                .as_u64()
                .unwrap()
        })
        .collect()
}

#[test]
fn a_finished_output_is_in_input_order_and_completion_order_on_request() {
    const ROWS: u64 = 400;
    // `lite` runs of 0.5 to 3 s: they finish out of order, and the engine's sweeps of the
    // group find some done and some not.
    let emu = Emu::start(0.0, 0.05);
    let dir = tempfile::tempdir().unwrap();
    let csv = write_csv(dir.path(), ROWS);
    let jsonl = write_jsonl(dir.path(), ROWS);
    let run = |input: &std::path::Path, output: &std::path::Path, order: &str| {
        run_command(&emu, &[], input, output)
            .args([
                "--columns",
                COLUMNS,
                "--processor",
                "lite",
                "--order",
                order,
            ])
            .output()
            .unwrap()
    };
    for (input, name) in [(&csv, "out.csv"), (&jsonl, "out.jsonl")] {
        let output = dir.path().join(name);
        let out = run(input, &output, "input");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            rows_in_file_order(&output),
            (0..ROWS).collect::<Vec<_>>(),
            "{name}"
        );
        assert_eq!(state_of(&output)["complete"], true);
        // The state vouches for the file as it is now: a rerun has nothing to do.
        let out = run(input, &output, "input");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("Nothing to do"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let output = dir.path().join("streamed.csv");
    let out = run(&csv, &output, "completion");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows = rows_in_file_order(&output);
    let mut sorted = rows.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (0..ROWS).collect::<Vec<_>>(), "every row once");
    assert_ne!(rows, sorted, "the rows as they finished, not sorted");
}

#[test]
fn a_kill_while_the_output_is_put_in_order_is_repaired_by_the_same_command() {
    const ROWS: u64 = 20_000;
    let emu = Emu::start(0.0, 0.0005);
    let dir = tempfile::tempdir().unwrap();
    let input = write_jsonl(dir.path(), ROWS);
    let output = dir.path().join("out.jsonl");
    let spawn = || {
        run_command(&emu, &["--quiet"], &input, &output)
            .args(["--columns", COLUMNS])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    // Killed while the ordered file is being written, if the kill gets there in time.
    let mut child = spawn();
    kill_when(&mut child, || !temporary_files(dir.path()).is_empty());
    let status = spawn().wait().unwrap();
    assert!(status.success());
    let rows = rows_in_file_order(&output);
    assert_eq!(rows, (0..ROWS).collect::<Vec<_>>());
    assert_eq!(read_jsonl_output(&output).len(), rows.len());
    assert_eq!(
        temporary_files(dir.path()),
        Vec::<std::path::PathBuf>::new()
    );
    assert!(!companion(&output).join("lock").exists());
    assert_eq!(emu.runs_created(), ROWS, "nothing sent twice");
}
