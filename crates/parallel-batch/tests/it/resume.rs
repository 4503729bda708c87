//! Killing the tool with SIGKILL at several points, then running the same command again,
//! ends with every row exactly once and no run submitted twice.

use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

use crate::support::{
    COLUMNS, Emu, batch, lines_in, read_csv_output, read_jsonl_output, run_command, run_ok,
    temporary_files, write_csv, write_jsonl,
};

/// The resumable job the kill tests run: small chunks, so kills land mid-submission.
pub(crate) fn spawn(emu: &Emu, input: &Path, output: &Path) -> Child {
    run_command(emu, &["--quiet"], input, output)
        .args([
            "--columns",
            COLUMNS,
            "--chunk-size",
            "50",
            "--max-in-flight",
            "400",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

/// Waits until `ready()` or the child exits; then SIGKILLs it. Returns whether it was killed.
pub(crate) fn kill_when(child: &mut Child, ready: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        if ready() || Instant::now() > deadline {
            child.kill().unwrap(); // SIGKILL on Unix
            child.wait().unwrap();
            return true;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// SIGKILLs the job four times, each run started again with the same command: (1) as soon as
/// its `state` file exists (before or during the first submission), (2) once 500 runs exist
/// on the server, (3 and 4) with a third, then two thirds of the `rows` in `written` (the
/// file the job appends its rows to). `after_mid` runs after each of the last two kills.
pub(crate) fn kill_at_four_points(
    emu: &Emu,
    input: &Path,
    output: &Path,
    state: &Path,
    written: &Path,
    rows: u64,
    after_mid: impl Fn(),
) {
    let mut child = spawn(emu, input, output);
    assert!(kill_when(&mut child, || state.exists()), "killed early");
    let mut child = spawn(emu, input, output);
    assert!(
        kill_when(&mut child, || emu.runs_created() >= 500),
        "killed mid-submission"
    );
    for fraction in [3, 2] {
        let mut child = spawn(emu, input, output);
        let target = usize::try_from(rows).unwrap() / fraction;
        assert!(
            kill_when(&mut child, || lines_in(written) >= target),
            "killed mid-output"
        );
        after_mid();
    }
}

fn kill_and_resume(jsonl: bool) {
    const ROWS: u64 = 3000;
    // Runs take a few milliseconds, so kills land mid-submission and mid-collection.
    let emu = Emu::start(0.05, 0.0005);
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = if jsonl {
        (write_jsonl(dir.path(), ROWS), dir.path().join("out.jsonl"))
    } else {
        (write_csv(dir.path(), ROWS), dir.path().join("out.csv"))
    };
    let state = crate::support::state_path(&output);

    kill_at_four_points(&emu, &input, &output, &state, &output, ROWS, || {});
    // Finally let it finish.
    let mut child = spawn(&emu, &input, &output);
    let status = child.wait().unwrap();
    assert!(status.success(), "the last run exits cleanly");

    let rows: Vec<u64> = if jsonl {
        read_jsonl_output(&output).into_keys().collect()
    } else {
        read_csv_output(&output).1.into_keys().collect()
    };
    assert_eq!(
        rows,
        (0..ROWS).collect::<Vec<_>>(),
        "every row exactly once"
    );
    assert_eq!(emu.runs_created(), ROWS, "no row submitted twice");
    assert_eq!(
        temporary_files(dir.path()),
        Vec::<std::path::PathBuf>::new()
    );
}

#[test]
fn sigkill_at_several_points_then_resume_csv() {
    kill_and_resume(false);
}

#[test]
fn sigkill_at_several_points_then_resume_jsonl() {
    kill_and_resume(true);
}

#[test]
fn ctrl_c_keeps_what_was_written_and_says_how_to_resume() {
    const ROWS: u64 = 2000;
    let emu = Emu::start(0.0, 0.002);
    let dir = tempfile::tempdir().unwrap();
    let input = write_csv(dir.path(), ROWS);
    let output = dir.path().join("out.csv");
    let command = |cmd: &mut std::process::Command| {
        cmd.args(["--base-url", &emu.url(), "run"])
            .arg(&input)
            .arg("-o")
            .arg(&output)
            .args([
                "--columns",
                COLUMNS,
                "--chunk-size",
                "100",
                "--max-in-flight",
                "300",
            ]);
    };
    let mut cmd = batch();
    command(&mut cmd);
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while lines_in(&output) < 100 && Instant::now() < deadline {
        assert!(child.try_wait().unwrap().is_none(), "still running");
        std::thread::sleep(Duration::from_millis(2));
    }
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("To resume, run the same command again"),
        "{stderr}"
    );
    assert!(stderr.contains("parallel-batch --base-url"), "{stderr}");
    let kept = read_csv_output(&output).1.len();
    assert!(
        kept >= 100 && kept < usize::try_from(ROWS).unwrap(),
        "{kept}"
    );

    let mut cmd = batch();
    command(&mut cmd);
    run_ok(&mut cmd);
    let rows: Vec<u64> = read_csv_output(&output).1.into_keys().collect();
    assert_eq!(rows, (0..ROWS).collect::<Vec<_>>());
    assert_eq!(emu.runs_created(), ROWS);
}
