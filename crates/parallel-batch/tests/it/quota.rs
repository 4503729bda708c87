//! The account's limits: out of credit (402) the tool stops and the same command finishes
//! the job once credit is added; under a rate limit (429) it slows down and finishes.

use crate::support::{COLUMNS, Emu, read_csv_output, run_command, run_ok, write_csv};

#[test]
fn out_of_credit_stops_checkpointed_and_the_same_command_finishes_after_credit_is_added() {
    let emu = Emu::start(0.0, 0.0);
    emu.handle.set_credits(Some(1500));
    let dir = tempfile::tempdir().unwrap();
    let input = write_csv(dir.path(), 3000);
    let output = dir.path().join("out.csv");
    let command = || {
        let mut cmd = run_command(&emu, &[], &input, &output);
        cmd.args(["--columns", COLUMNS, "--chunk-size", "500"]);
        cmd
    };

    let first = command().output().unwrap();
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert_eq!(first.status.code(), Some(1), "stderr: {stderr}");
    assert!(stderr.contains("out of credit"), "stderr: {stderr}");
    assert!(stderr.contains("Add credit"), "stderr: {stderr}");
    assert!(
        stderr.contains("run the same command") && stderr.contains(&emu.url()),
        "the command to run again is printed: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "stderr: {stderr}");
    assert_eq!(
        emu.runs_created(),
        1500,
        "three chunks of 500 were paid for"
    );
    assert!(emu.handle.stats().credit_refusals > 0);
    let kept = if output.exists() {
        read_csv_output(&output).1
    } else {
        std::collections::BTreeMap::new()
    };
    assert!(kept.len() <= 1500, "{} rows written", kept.len());

    emu.handle.set_credits(None);
    run_ok(&mut command());
    let (_, rows) = read_csv_output(&output);
    assert_eq!(
        rows.keys().copied().collect::<Vec<_>>(),
        (0..3000).collect::<Vec<_>>(),
        "every row once"
    );
    assert!(rows.values().all(|r| r["status"] == "completed"));
    for (row, line) in &kept {
        assert_eq!(
            &rows[row], line,
            "row {row} written by the first run is kept"
        );
    }
    assert_eq!(emu.runs_created(), 3000, "no run created twice");
}

#[test]
fn a_rate_limited_batch_slows_down_finishes_and_says_it_was_throttled() {
    let emu = Emu::start(0.0, 0.0);
    // A bucket of 60 requests refilled at one a second; the batch needs 71 (a group and 70
    // chunks of 10), so about 11 s are spent waiting for the bucket.
    emu.handle.set_rate_limit(Some(60));
    let dir = tempfile::tempdir().unwrap();
    let input = write_csv(dir.path(), 700);
    let output = dir.path().join("out.csv");
    let out = run_ok(
        run_command(
            &emu,
            &["--json", "--progress-interval", "0.5"],
            &input,
            &output,
        )
        .args(["--columns", COLUMNS, "--chunk-size", "10"]),
    );

    assert!(emu.handle.stats().rate_limited > 0, "the limit was met");
    let (_, rows) = read_csv_output(&output);
    assert_eq!(
        rows.keys().copied().collect::<Vec<_>>(),
        (0..700).collect::<Vec<_>>(),
        "every row once"
    );
    assert_eq!(emu.runs_created(), 700, "no run created twice");

    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let notice = lines
        .iter()
        .find(|l| l["event"] == "throttled")
        .unwrap_or_else(|| panic!("no throttling notice in {stderr}"));
    assert!(
        notice["message"].as_str().unwrap().contains("429"),
        "{notice}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l["event"] == "progress" && l["throttled"].as_u64() > Some(0)),
        "no progress line counts the throttling: {stderr}"
    );
    let summary: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).trim()).unwrap();
    assert!(summary["throttled"].as_u64() > Some(0), "{summary}");
    assert_eq!(summary["complete"], true);
}

#[test]
fn with_quiet_a_stop_still_says_how_to_finish_the_job() {
    // --quiet hides progress, not the advice that goes with an error.
    let emu = Emu::start(0.0, 0.0);
    emu.handle.set_credits(Some(100));
    let dir = tempfile::tempdir().unwrap();
    let input = write_csv(dir.path(), 300);
    let output = dir.path().join("out.csv");
    let out = run_command(&emu, &["--quiet"], &input, &output)
        .args(["--columns", COLUMNS, "--chunk-size", "100"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    assert!(stderr.contains("Add credit"), "stderr: {stderr}");
    assert!(
        stderr.contains("run the same command") && stderr.contains(&emu.url()),
        "the command to run again is printed: {stderr}"
    );
}
