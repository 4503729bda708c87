//! Everything the tool keeps for a job lives in one hidden directory beside the output; its
//! lock is gone when the tool exits, whatever the exit; a job an earlier release started
//! (its files beside the output) is taken up and its files moved in.

use std::path::Path;
use std::process::Stdio;

use crate::support::{
    COLUMNS, Emu, SLOW, companion, files_in, interrupted_job, read_csv_output, results_command,
    run_command, run_ok, send_signal, signal_after_lines, state_of, state_path, stderr_of,
    wait_until, write_csv,
};

#[test]
fn a_finished_job_leaves_its_output_and_one_hidden_directory() {
    let emu = Emu::start(0.0, 0.0);
    let dir = tempfile::tempdir().unwrap();
    let input = write_csv(dir.path(), 30);
    let output = dir.path().join("out.csv");
    run_ok(run_command(&emu, &["--quiet"], &input, &output).args(["--columns", COLUMNS]));
    assert_eq!(
        files_in(dir.path()),
        [".out.csv.parallel-batch", "companies.csv", "out.csv"]
    );
    assert_eq!(files_in(&companion(&output)), ["rows", "state.json"]);
    assert_eq!(state_of(&output)["complete"], true);
}

#[test]
fn the_lock_is_gone_after_an_error_and_ctrl_c_and_a_killed_runs_lock_is_taken_over() {
    const ROWS: u64 = 2000;
    let emu = Emu::start(0.0, 0.002);
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("out.csv");
    let lock = companion(&output).join("lock");

    // An error once the lock is taken (a bad row): nothing is left at all.
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "name,website\na,b\nc\n").unwrap();
    let out = run_command(&emu, &[], &bad, &output)
        .args(["--columns", COLUMNS])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
    assert_eq!(files_in(dir.path()), ["bad.csv"]);

    // Ctrl-C part-way: the state stays, the lock goes.
    let input = write_csv(dir.path(), ROWS);
    let out = signal_after_lines(
        run_command(&emu, &[], &input, &output).args(SLOW),
        &output,
        100,
        "INT",
    );
    assert_eq!(out.status.code(), Some(130), "{}", stderr_of(&out));
    assert_eq!(files_in(&companion(&output)), ["rows", "state.json"]);

    // Killed: its lock stays, held by no one, and the next run takes it over.
    let mut child = run_command(&emu, &["--quiet"], &input, &output)
        .args(SLOW)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_until(&mut child, "lock", || lock.exists());
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(lock.exists(), "a killed run cannot remove its lock");
    run_ok(run_command(&emu, &["--quiet"], &input, &output).args(SLOW));
    assert!(!lock.exists());
    let rows: Vec<u64> = read_csv_output(&output).1.into_keys().collect();
    assert_eq!(rows, (0..ROWS).collect::<Vec<_>>());
}

#[test]
fn ctrl_c_while_the_input_is_checked_lets_the_lock_go() {
    let emu = Emu::start(0.0, 0.0);
    let dir = tempfile::tempdir().unwrap();
    // Large enough that the check pass is still reading when the signal comes.
    let input = write_csv(dir.path(), 300_000);
    let output = dir.path().join("out.csv");
    let lock = companion(&output).join("lock");
    let mut child = run_command(&emu, &[], &input, &output)
        .args(["--columns", COLUMNS])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until(&mut child, "lock", || lock.exists());
    send_signal(&child, "INT");
    let out = child.wait_with_output().unwrap();
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("run the same command again"), "{stderr}");
    assert!(!lock.exists(), "{:?}", files_in(&companion(&output)));
}

/// Puts the files of the job writing `output` where an earlier release kept them: beside
/// the output, as `OUTPUT.state.json`, `OUTPUT.rows` and `OUTPUT.lock` (a lock left by a
/// process that is gone), with a temporary file it left too.
fn as_an_earlier_release_left_it(output: &Path) {
    let dir = companion(output);
    let beside = |suffix: &str| {
        let mut name = output.file_name().unwrap().to_os_string();
        name.push(suffix);
        output.with_file_name(name)
    };
    std::fs::rename(dir.join("state.json"), beside(".state.json")).unwrap();
    std::fs::rename(dir.join("rows"), beside(".rows")).unwrap();
    std::fs::remove_dir(&dir).unwrap();
    std::fs::write(beside(".lock"), "4194999\n").unwrap();
    std::fs::write(beside(".state.json.tmp"), "{\"half\":").unwrap();
}

#[test]
fn a_job_an_earlier_release_started_resumes_and_its_files_move_in() {
    const ROWS: u64 = 2000;
    let emu = Emu::start(0.0, 0.002);
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = interrupted_job(&emu, dir.path(), ROWS);
    let group = state_of(&output)["group_id"].as_str().unwrap().to_owned();
    let submitted = emu.runs_created();
    as_an_earlier_release_left_it(&output);
    assert_eq!(
        files_in(dir.path()),
        [
            "companies.csv",
            "out.csv",
            "out.csv.lock",
            "out.csv.rows",
            "out.csv.state.json",
            "out.csv.state.json.tmp"
        ]
    );

    // Still the output of a job: `results` does not write over it.
    let out = results_command(&emu.url(), &group, &output)
        .arg("--force")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("is the output of a `run` job"));
    // A dry run, which moves nothing, says how to go on instead of taking the output for
    // someone else's file.
    let before = files_in(dir.path());
    let out = run_command(&emu, &[], &input, &output)
        .args(SLOW)
        .arg("--dry-run")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr_of(&out).contains("an earlier parallel-batch started"),
        "{}",
        stderr_of(&out)
    );
    assert_eq!(files_in(dir.path()), before);

    let out = run_ok(run_command(&emu, &[], &input, &output).args(SLOW));
    let stderr = stderr_of(&out);
    assert!(
        stderr.contains("Moved this job's files (out.csv.rows, out.csv.state.json)"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("Resuming group {group}")),
        "{stderr}"
    );
    let rows: Vec<u64> = read_csv_output(&output).1.into_keys().collect();
    assert_eq!(
        rows,
        (0..ROWS).collect::<Vec<_>>(),
        "every row exactly once"
    );
    assert_eq!(emu.runs_created(), ROWS, "no row submitted twice");
    assert!(submitted < ROWS, "the first run was stopped part-way");
    assert_eq!(
        files_in(dir.path()),
        [".out.csv.parallel-batch", "companies.csv", "out.csv"]
    );
    assert_eq!(state_of(&output)["group_id"], group.as_str());
    assert!(state_path(&output).exists());
}
