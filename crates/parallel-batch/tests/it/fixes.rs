//! Issue 13, cases 7 and 8: after rows were rejected or runs failed, the same job sends
//! exactly those rows again and the output ends with one line per row.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::{COLUMNS, Emu, read_csv_output, run_command, run_ok, state_of, write_csv};

/// `rows` companies; the rows in `long` get a name over the API's size limit.
fn write_input(path: &Path, rows: u64, long: &[u64]) {
    let mut text = String::from("name,website\n");
    for i in 0..rows {
        let name = if long.contains(&i) {
            "x".repeat(30_000)
        } else {
            format!("Company {i}")
        };
        writeln!(text, "{name},https://c{i}.example").unwrap();
    }
    std::fs::write(path, text).unwrap();
}

/// The tool's own size check is raised so that the API is the one refusing the rows.
const ARGS: [&str; 4] = ["--columns", COLUMNS, "--max-input-chars", "100000"];

#[test]
fn case7_fixed_rejected_rows_are_sent_again_and_replace_their_lines() {
    let emu = Emu::start(0.0, 0.0);
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.csv");
    let output = dir.path().join("out.csv");
    write_input(&input, 300, &[100, 200]);
    run_ok(run_command(&emu, &["--quiet"], &input, &output).args(ARGS));
    let (_, rows) = read_csv_output(&output);
    assert_eq!(rows[&100]["status"], "rejected");
    // The header is line 1: row 100 starts on line 102.
    assert!(
        rows[&100]["error"].starts_with("input line 102: "),
        "{:?}",
        rows[&100]
    );
    assert!(
        rows[&200]["error"].starts_with("input line 202: "),
        "{:?}",
        rows[&200]
    );
    assert_eq!(emu.runs_created(), 298);

    // The user fixes the two rows; the same command sends exactly those.
    write_input(&input, 300, &[]);
    let out = run_ok(run_command(&emu, &["--json"], &input, &output).args(ARGS));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["fixed"], 2, "{summary}");
    assert_eq!(summary["rejected"], 0, "{summary}");
    assert_eq!(summary["completed"], 300, "{summary}");
    assert_eq!(
        emu.runs_created(),
        300,
        "only the two fixed rows were submitted"
    );
    let (_, after) = read_csv_output(&output); // panics on a row written twice
    assert_eq!(after.len(), 300);
    assert_eq!(
        std::fs::read_to_string(&output).unwrap().lines().count(),
        301
    );
    for row in [100, 200] {
        assert_eq!(after[&row]["status"], "completed");
        assert_eq!(after[&row]["name"], format!("Company {row}"));
    }
    for (row, fields) in &rows {
        if ![100, 200].contains(row) {
            assert_eq!(
                after[row]["run_id"], fields["run_id"],
                "row {row} is unchanged"
            );
        }
    }
    assert_eq!(state_of(&output)["complete"], true);
    // Done: the same command again has nothing to do.
    let out = run_ok(run_command(&emu, &["--json"], &input, &output).args(ARGS));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["written_now"], 0);
    assert_eq!(emu.runs_created(), 300);
}

#[test]
fn case7_an_edit_to_a_submitted_row_is_refused_by_line() {
    let emu = Emu::start(0.0, 0.0);
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.csv");
    let output = dir.path().join("out.csv");
    write_input(&input, 100, &[40]);
    run_ok(run_command(&emu, &["--quiet"], &input, &output).args(ARGS));
    let written = std::fs::read(&output).unwrap();
    // Row 40 is fixed, and row 7 (already run) is edited too.
    let text = std::fs::read_to_string(&input).unwrap();
    let text = text
        .replace(&"x".repeat(30_000), "Company 40")
        .replace("Company 7,", "Company Seven,");
    std::fs::write(&input, text).unwrap();
    let out = run_command(&emu, &[], &input, &output)
        .args(ARGS)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("line 9 (row 7)"), "{stderr}");
    assert!(
        !stderr.contains("row 40"),
        "the fixed row is not blamed: {stderr}"
    );
    assert!(
        stderr.contains("only rows written as rejected may be fixed"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read(&output).unwrap(),
        written,
        "the output is untouched"
    );
    assert_eq!(emu.runs_created(), 99);
}

/// Rows written as failed in a CSV output.
fn failed_rows(output: &Path) -> Vec<u64> {
    let (_, rows) = read_csv_output(output);
    rows.iter()
        .filter(|(_, f)| f["status"] == "failed")
        .map(|(row, _)| *row)
        .collect()
}

#[test]
fn case8_retry_failed_sends_failed_rows_again_and_replaces_their_lines() {
    const ROWS: u64 = 300;
    let emu = Emu::start(0.3, 0.0);
    let dir = tempfile::tempdir().unwrap();
    let input = write_csv(dir.path(), ROWS);
    let output = dir.path().join("out.csv");
    let args = ["--columns", COLUMNS];
    run_ok(run_command(&emu, &["--quiet"], &input, &output).args(args));
    let failed = failed_rows(&output);
    assert!(!failed.is_empty(), "some runs fail at a 30% rate");
    let before = read_csv_output(&output).1;

    let out = run_ok(
        run_command(&emu, &["--json"], &input, &output)
            .args(args)
            .arg("--retry-failed"),
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["retried"], failed.len(), "{summary}");
    assert_eq!(emu.runs_created(), ROWS + failed.len() as u64);
    let after = read_csv_output(&output).1; // panics on a row written twice
    assert_eq!(
        after.keys().copied().collect::<Vec<_>>(),
        (0..ROWS).collect::<Vec<_>>()
    );
    for row in &failed {
        assert_ne!(
            after[row]["run_id"], before[row]["run_id"],
            "row {row} ran again"
        );
    }
    let still_failed = failed_rows(&output);
    assert!(
        still_failed.len() < failed.len(),
        "{still_failed:?} of {failed:?}"
    );
    assert_eq!(summary["failed"], still_failed.len());
    assert_eq!(state_of(&output)["group_id"], summary["group_id"]);
}

#[test]
fn case8_a_retry_killed_midway_resumes_without_duplicates() {
    const ROWS: u64 = 1500;
    // Runs take a few milliseconds, so that the kill lands in the middle of the retry.
    let emu = Emu::start(0.5, 0.002);
    let dir = tempfile::tempdir().unwrap();
    let input = write_csv(dir.path(), ROWS);
    let output = dir.path().join("out.csv");
    let args = [
        "--columns",
        COLUMNS,
        "--chunk-size",
        "50",
        "--max-in-flight",
        "200",
    ];
    run_ok(run_command(&emu, &["--quiet"], &input, &output).args(args));
    let failed = failed_rows(&output).len() as u64;
    assert!(failed > 200, "{failed}");
    let mut child = run_command(&emu, &["--quiet"], &input, &output)
        .args(args)
        .arg("--retry-failed")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while emu.runs_created() < ROWS + 100 {
        assert!(child.try_wait().unwrap().is_none(), "the retry ended early");
        assert!(Instant::now() < deadline, "the retry submitted nothing");
        std::thread::sleep(Duration::from_millis(1));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // The same command finishes that round: no retried row is submitted twice.
    run_ok(
        run_command(&emu, &["--quiet"], &input, &output)
            .args(args)
            .arg("--retry-failed"),
    );
    assert_eq!(emu.runs_created(), ROWS + failed);
    let rows = read_csv_output(&output).1;
    assert_eq!(
        rows.keys().copied().collect::<Vec<_>>(),
        (0..ROWS).collect::<Vec<_>>()
    );
}
