//! Killing the tool with SIGKILL at several points, then running the same command again,
//! ends with every row exactly once and no run submitted twice.

use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

use crate::support::{
    COLUMNS, Emu, batch, read_csv_output, read_jsonl_output, write_csv, write_jsonl,
};

fn spawn(emu: &Emu, input: &Path, output: &Path) -> Child {
    batch()
        .args(["--base-url", &emu.url(), "--quiet", "run"])
        .arg(input)
        .arg("-o")
        .arg(output)
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

fn lines_in(path: &Path) -> usize {
    std::fs::read(path).map_or(0, |b| b.split(|&c| c == b'\n').count().saturating_sub(1))
}

/// Waits until `ready()` or the child exits; then SIGKILLs it. Returns whether it was killed.
fn kill_when(child: &mut Child, ready: impl Fn() -> bool) -> bool {
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
    let state = dir.path().join(if jsonl {
        "out.jsonl.state.json"
    } else {
        "out.csv.state.json"
    });

    // 1: as soon as the state file exists (before or during the first submission).
    let mut child = spawn(&emu, &input, &output);
    assert!(kill_when(&mut child, || state.exists()), "killed early");
    // 2: once some runs exist on the server.
    let mut child = spawn(&emu, &input, &output);
    assert!(
        kill_when(&mut child, || emu.runs_created() >= 500),
        "killed mid-submission"
    );
    // 3 and 4: with a third, then two thirds of the output written.
    for fraction in [3, 2] {
        let mut child = spawn(&emu, &input, &output);
        let target = usize::try_from(ROWS).unwrap() / fraction;
        assert!(
            kill_when(&mut child, || lines_in(&output) >= target),
            "killed mid-output"
        );
    }
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
}

#[test]
fn sigkill_at_several_points_then_resume_csv() {
    kill_and_resume(false);
}

#[test]
fn sigkill_at_several_points_then_resume_jsonl() {
    kill_and_resume(true);
}
