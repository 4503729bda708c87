//! Issue 25, cases 3 to 5: a job that cannot start (a mistyped address, an unknown host, a
//! wrong key or group) fails within seconds, says why and where, and leaves nothing behind,
//! so the corrected command simply runs; a job under way waits out an outage and says what
//! it is waiting for.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use parallel_emulator::OutageMode;

use crate::support::{
    COLUMNS, Emu, batch, closed_port, files_in, lines_in, read_csv_output, run_command, run_ok,
    state_of, stderr_of, wait_until, write_csv,
};

/// How long a start that cannot succeed may take, on a loaded machine: the client's own
/// retries take about a second and a half.
const FAILS_WITHIN: Duration = Duration::from_secs(20);

/// Runs `cmd`, which must fail with exit 1 within [`FAILS_WITHIN`] and leave `dir` as it was
/// (only the input in it); its standard error.
fn fails_fast_leaving_nothing(cmd: &mut Command, dir: &Path) -> String {
    let started = Instant::now();
    let out: Output = cmd.output().unwrap();
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        started.elapsed() < FAILS_WITHIN,
        "{:?}: {stderr}",
        started.elapsed()
    );
    assert_eq!(
        files_in(dir),
        ["companies.csv"],
        "no output, state, rows file, lock or directory: {stderr}"
    );
    stderr
}

fn run_at(base_url: &str, input: &Path, output: &Path) -> Command {
    let mut cmd = batch();
    cmd.args(["--base-url", base_url, "run"])
        .arg(input)
        .arg("-o")
        .arg(output)
        .args(["--columns", COLUMNS]);
    cmd
}

#[test]
fn a_mistyped_port_fails_fast_naming_it_and_the_corrected_command_runs() {
    let emu = Emu::start(0.0, 0.0);
    let dir = tempfile::tempdir().unwrap();
    let input = write_csv(dir.path(), 20);
    let output = dir.path().join("out.csv");
    let wrong = format!("http://127.0.0.1:{}", closed_port());
    let stderr = fails_fast_leaving_nothing(&mut run_at(&wrong, &input, &output), dir.path());
    assert!(
        stderr.contains(&format!("cannot create the task group on {wrong}")),
        "{stderr}"
    );
    assert!(stderr.contains("refused the connection"), "{stderr}");
    // Neither --force nor --new-group is needed: nothing ties the output to that address.
    run_ok(run_at(&emu.url(), &input, &output).arg("--quiet"));
    assert_eq!(read_csv_output(&output).1.len(), 20);
    assert_eq!(emu.runs_created(), 20);
}

#[test]
fn an_unknown_host_fails_fast_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let input = write_csv(dir.path(), 3);
    let output = dir.path().join("out.csv");
    // `.invalid` never resolves (RFC 6761).
    let url = "https://no-such-host.invalid";
    let stderr = fails_fast_leaving_nothing(&mut run_at(url, &input, &output), dir.path());
    assert!(
        stderr.contains("cannot create the task group on https://no-such-host.invalid"),
        "{stderr}"
    );
    assert!(stderr.contains("dns error"), "{stderr}");
}

#[test]
fn a_wrong_api_key_leaves_nothing_behind() {
    let emu = Emu::start_requiring_key("right-key");
    let dir = tempfile::tempdir().unwrap();
    let input = write_csv(dir.path(), 5);
    let output = dir.path().join("out.csv");
    let stderr = fails_fast_leaving_nothing(
        run_at(&emu.url(), &input, &output).env("PARALLEL_API_KEY", "wrong-key"),
        dir.path(),
    );
    assert!(stderr.contains("401"), "{stderr}");
    run_ok(
        run_at(&emu.url(), &input, &output)
            .env("PARALLEL_API_KEY", "right-key")
            .arg("--quiet"),
    );
    assert_eq!(read_csv_output(&output).1.len(), 5);
}

#[test]
fn a_mistyped_group_leaves_nothing_and_the_right_one_takes_the_rows() {
    let emu = Emu::start(0.0, 0.0);
    let right = crate::support::group_with_runs(&emu, 1, "lite");
    let dir = tempfile::tempdir().unwrap();
    let input = write_csv(dir.path(), 10);
    let output = dir.path().join("out.csv");
    let wrong = format!("tgrp_{}", "0".repeat(32));
    let stderr = fails_fast_leaving_nothing(
        run_at(&emu.url(), &input, &output).args(["--group", &wrong]),
        dir.path(),
    );
    assert!(
        stderr.contains(&format!(
            "the task group {wrong} (--group) was not found on"
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("--new-group"), "{stderr}");
    run_ok(
        run_at(&emu.url(), &input, &output)
            .args(["--group", &right])
            .arg("--quiet"),
    );
    assert_eq!(read_csv_output(&output).1.len(), 10);
    assert_eq!(state_of(&output)["group_id"], right.as_str());
    assert_eq!(emu.runs_created(), 11, "the group's run and the job's ten");
}

#[test]
fn the_waiting_line_names_the_server_and_the_last_error() {
    // Runs of seconds (time scale 0.3): rows are still running when the port closes.
    let emu = Emu::start(0.0, 0.3);
    let dir = tempfile::tempdir().unwrap();
    let input = write_csv(dir.path(), 300);
    let output = dir.path().join("out.csv");
    let mut child = run_command(&emu, &[], &input, &output)
        .args(["--columns", COLUMNS, "--waiting-notice", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until(&mut child, "rows written", || lines_in(&output) >= 5);
    emu.handle
        .outage(OutageMode::Refuse, Duration::from_secs(4));
    let out = child.wait_with_output().unwrap();
    let stderr = stderr_of(&out);
    assert!(out.status.success(), "{stderr}");
    // Runs take seconds: silences without failures are told too (without an error).
    let waiting = stderr
        .lines()
        .find(|line| line.starts_with("waiting for the server") && line.contains("last error"))
        .unwrap_or_else(|| panic!("no waiting line with an error: {stderr}"));
    assert!(
        waiting.starts_with(&format!("waiting for the server at {}, ", emu.url())),
        "{waiting}"
    );
    assert!(waiting.contains("(last error: "), "{waiting}");
    assert!(waiting.contains("refused"), "{waiting}");
    assert_eq!(read_csv_output(&output).1.len(), 300);
}
