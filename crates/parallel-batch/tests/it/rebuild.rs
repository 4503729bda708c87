//! Issue 25, case 6: the output of a job deleted, the same command writes it again from the
//! job's group, without sending any row again.

use std::fmt::Write as _;
use std::path::Path;

use crate::support::{
    COLUMNS, Emu, SLOW, batch, companion, interrupted_job, read_csv_output, run_command, run_ok,
    state_of, stderr_of, write_csv,
};

#[test]
fn a_deleted_csv_or_jsonl_output_is_written_again_from_the_group() {
    let emu = Emu::start(0.0, 0.0);
    let dir = tempfile::tempdir().unwrap();
    let input = write_csv(dir.path(), 40);
    for name in ["done_out.csv", "done_out.jsonl"] {
        let output = dir.path().join(name);
        run_ok(run_command(&emu, &["--quiet"], &input, &output).args(["--columns", COLUMNS]));
        let written = std::fs::read(&output).unwrap();
        let runs = emu.runs_created();
        std::fs::remove_file(&output).unwrap();

        let out = run_ok(run_command(&emu, &[], &input, &output).args(["--columns", COLUMNS]));
        let stderr = stderr_of(&out);
        assert!(
            stderr.contains(&format!("Wrote {} again from group", output.display())),
            "{stderr}"
        );
        assert!(stderr.contains("none was sent again"), "{stderr}");
        assert!(!stderr.contains("Nothing to do"), "{stderr}");
        assert_eq!(emu.runs_created(), runs, "{name}: no row sent again");
        assert_eq!(
            std::fs::read(&output).unwrap(),
            written,
            "{name}: the same file"
        );

        // And the job is whole again: the next run has nothing to do.
        let out =
            run_ok(run_command(&emu, &["--json"], &input, &output).args(["--columns", COLUMNS]));
        let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(summary["written_now"], 0, "{summary}");
        assert_eq!(summary["rebuilt"], false, "{summary}");
        assert_eq!(emu.runs_created(), runs);
    }
}

#[test]
fn a_deleted_output_with_sources_is_written_again_with_them() {
    let emu = Emu::start(0.0, 0.0);
    let dir = tempfile::tempdir().unwrap();
    let input = write_csv(dir.path(), 30);
    for name in ["basis_out.csv", "basis_out.jsonl"] {
        let output = dir.path().join(name);
        let args = ["--columns", COLUMNS, "--basis"];
        run_ok(run_command(&emu, &["--quiet"], &input, &output).args(args));
        let written = std::fs::read(&output).unwrap();
        assert!(
            String::from_utf8_lossy(&written).contains("_citations"),
            "{name}: the job wrote sources"
        );
        let runs = emu.runs_created();
        std::fs::remove_file(&output).unwrap();

        run_ok(run_command(&emu, &["--quiet"], &input, &output).args(args));
        assert_eq!(emu.runs_created(), runs, "{name}: no row sent again");
        assert_eq!(
            std::fs::read(&output).unwrap(),
            written,
            "{name}: the same file, sources included"
        );
    }
}

#[test]
fn the_deleted_output_of_an_interrupted_job_is_written_again_and_the_job_goes_on() {
    const ROWS: u64 = 2000;
    let emu = Emu::start(0.0, 0.002);
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = interrupted_job(&emu, dir.path(), ROWS);
    let (_, kept) = read_csv_output(&output);
    assert_eq!(state_of(&output)["complete"], false);
    std::fs::remove_file(&output).unwrap();

    let out = run_ok(run_command(&emu, &[], &input, &output).args(SLOW));
    let stderr = stderr_of(&out);
    assert!(
        stderr.contains(&format!("Wrote the {} rows of", kept.len())),
        "{stderr}"
    );
    let (_, rows) = read_csv_output(&output); // panics on a row written twice
    assert_eq!(
        rows.keys().copied().collect::<Vec<_>>(),
        (0..ROWS).collect::<Vec<_>>()
    );
    for (row, fields) in &kept {
        assert_eq!(rows[row]["run_id"], fields["run_id"], "row {row}");
    }
    assert_eq!(emu.runs_created(), ROWS, "every row sent once");
}

/// `rows` companies; row `long` gets a name over the API's size limit.
fn write_input(path: &Path, rows: u64, long: u64) {
    let mut text = String::from("name,website\n");
    for i in 0..rows {
        let name = if i == long {
            "x".repeat(30_000)
        } else {
            format!("Company {i}")
        };
        writeln!(text, "{name},https://c{i}.example").unwrap();
    }
    std::fs::write(path, text).unwrap();
}

#[test]
fn a_rebuilt_output_has_each_rows_last_run_and_its_rejected_rows() {
    const ROWS: u64 = 60;
    // A third of the runs fail, retries too: rows end with runs of several rounds.
    let emu = Emu::start(0.3, 0.0);
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.csv");
    let output = dir.path().join("out.csv");
    write_input(&input, ROWS, 7);
    let args = ["--columns", COLUMNS, "--max-input-chars", "100000"];
    run_ok(run_command(&emu, &["--quiet"], &input, &output).args(args));
    for _ in 0..2 {
        run_ok(
            run_command(&emu, &["--quiet"], &input, &output)
                .args(args)
                .arg("--retry-failed"),
        );
    }
    let (_, before) = read_csv_output(&output);
    let runs = emu.runs_created();
    assert!(
        runs > ROWS,
        "some rows ran more than once: {runs} runs for {ROWS} rows"
    );
    std::fs::remove_file(&output).unwrap();

    run_ok(run_command(&emu, &["--quiet"], &input, &output).args(args));
    assert_eq!(emu.runs_created(), runs, "no row sent again");
    let (_, after) = read_csv_output(&output);
    assert_eq!(after.len() as u64, ROWS);
    for (row, fields) in &before {
        for column in ["name", "run_id", "status", "ceo_name"] {
            assert_eq!(after[row][column], fields[column], "row {row}, {column}");
        }
        if *row != 7 {
            assert_eq!(after[row]["error"], fields["error"], "row {row}");
        }
    }
    assert_eq!(after[&7]["status"], "rejected");
    assert!(
        after[&7]["error"].starts_with("input line 9: refused by the API"),
        "{:?}",
        after[&7]
    );
}

#[test]
fn a_deleted_output_that_cannot_be_read_again_says_why_and_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let input = write_csv(dir.path(), 5);
    let output = dir.path().join("out.csv");
    // On the embedded emulator (no key, no --base-url), the group ends with the process.
    let embedded = || {
        let mut cmd = batch();
        cmd.current_dir(dir.path())
            .args(["--quiet", "run", "companies.csv", "-o", "out.csv"])
            .args(["--columns", COLUMNS]);
        cmd
    };
    run_ok(&mut embedded());
    std::fs::remove_file(&output).unwrap();
    let out = embedded().output().unwrap();
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("whose groups ended with it"), "{stderr}");
    assert!(stderr.contains(".out.csv.parallel-batch"), "{stderr}");
    assert!(!output.exists());

    // A server that lost the group (restarted empty).
    let emu = Emu::start(0.0, 0.0);
    std::fs::remove_dir_all(companion(&output)).unwrap();
    run_ok(run_command(&emu, &["--quiet"], &input, &output).args(["--columns", COLUMNS]));
    std::fs::remove_file(&output).unwrap();
    let addr = emu.addr();
    drop(emu);
    let emu = Emu::start_at(0.0, 0.0, addr);
    let out = run_command(&emu, &[], &input, &output)
        .args(["--columns", COLUMNS])
        .output()
        .unwrap();
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("and so is the job's group"), "{stderr}");
    assert!(!output.exists());
    assert_eq!(emu.runs_created(), 0);
}
