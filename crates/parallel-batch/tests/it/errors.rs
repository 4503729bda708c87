//! Bad input, API refusals and missing configuration give clear errors.

use std::fmt::Write as _;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::{COLUMNS, Emu, batch, read_csv_output, run_command, state_of, write_csv};

#[test]
fn bad_csv_row_names_line_and_column_and_submits_nothing() {
    let emu = Emu::start(0.0, 0.0);
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("bad.csv");
    std::fs::write(
        &input,
        "name,website\nA,a.example\nB,b.example\nC\nD,d.example\n",
    )
    .unwrap();
    let out = run_command(&emu, &[], &input, &dir.path().join("out.csv"))
        .args(["--columns", COLUMNS])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("line 4, column 2 (`website`)"), "{stderr}");
    assert_eq!(emu.runs_created(), 0);
}

#[test]
fn bad_jsonl_line_names_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("bad.jsonl");
    std::fs::write(&input, "{\"a\":1}\n{\"a\":2,}\n").unwrap();
    let out = batch()
        .args(["--emulator", "run"])
        .arg(&input)
        .arg("-o")
        .arg(dir.path().join("out.jsonl"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("bad.jsonl: line 2, column 8"), "{stderr}");
}

#[test]
fn api_refusal_shows_the_api_message() {
    let emu = Emu::start(0.0, 0.0);
    let dir = tempfile::tempdir().unwrap();
    let input = write_csv(dir.path(), 5);
    let out = run_command(&emu, &[], &input, &dir.path().join("out.csv"))
        .args([
            "--columns",
            COLUMNS,
            "--processor",
            "warp-speed",
            "--allow-processor",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("invalid processor"), "{stderr}");
    assert!(stderr.contains("warp-speed"), "{stderr}");
    assert_eq!(emu.runs_created(), 0);

    // Nothing was accepted, so the corrected command starts over instead of refusing.
    let output = dir.path().join("out.csv");
    crate::support::run_ok(
        run_command(&emu, &["--quiet"], &input, &output).args(["--columns", COLUMNS]),
    );
    assert_eq!(crate::support::read_csv_output(&output).1.len(), 5);
    assert_eq!(emu.runs_created(), 5);
}

#[test]
fn inspecting_a_group_without_a_key_explains_how_to_set_one() {
    let out = batch().args(["status", "tgrp_0"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("PARALLEL_API_KEY"), "{stderr}");
    assert!(stderr.contains("--base-url"), "{stderr}");
}

#[test]
fn an_existing_output_without_state_is_not_overwritten() {
    let emu = Emu::start(0.0, 0.0);
    let dir = tempfile::tempdir().unwrap();
    let input = write_csv(dir.path(), 3);
    let output = dir.path().join("out.csv");
    std::fs::write(&output, "precious\n").unwrap();
    let out = run_command(&emu, &[], &input, &output)
        .args(["--columns", COLUMNS])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--force"));
    assert_eq!(std::fs::read_to_string(&output).unwrap(), "precious\n");
    assert_eq!(emu.runs_created(), 0);
}

#[test]
fn a_changed_input_is_refused_on_resume() {
    let emu = Emu::start(0.0, 0.0);
    let dir = tempfile::tempdir().unwrap();
    let input = write_csv(dir.path(), 10);
    let output = dir.path().join("out.csv");
    let run = |input: &std::path::Path| {
        run_command(&emu, &["--quiet"], input, &output)
            .args(["--columns", COLUMNS])
            .output()
            .unwrap()
    };
    assert!(run(&input).status.success());
    write_csv(dir.path(), 11);
    let out = run(&input);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("changed since this job started"));
}

#[test]
fn an_input_that_shrinks_while_the_batch_runs_is_an_error_not_a_short_success() {
    // A named pipe gives the first pass (which counts the rows) ten rows and the second
    // (which submits them) four: the batch must not report success with six rows missing.
    let emu = Emu::start(0.0, 0.0);
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("changing.csv");
    let made = std::process::Command::new("mkfifo")
        .arg(&input)
        .status()
        .unwrap();
    assert!(made.success());
    let output = dir.path().join("out.csv");
    {
        let input = input.clone();
        // Written once the first pass is over: the tool saves the job's state after it has
        // read the input to its end and closed it, and before it opens it again.
        let state = crate::support::state_path(&output);
        std::thread::spawn(move || {
            let rows = |n: usize| {
                let mut text = String::from("name,website\n");
                for i in 0..n {
                    let _ = writeln!(text, "Company {i},https://c{i}.example");
                }
                text
            };
            // Each write blocks until the tool opens the pipe to read.
            std::fs::write(&input, rows(10)).unwrap();
            // The signal that the first reader is gone: a write before that would add the
            // second rows to the first pass instead.
            let deadline = Instant::now() + Duration::from_secs(60);
            while !state.exists() {
                if Instant::now() > deadline {
                    return; // the tool never got there; the test reports it
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            std::fs::write(&input, rows(4)).unwrap();
        });
    }
    let mut child = run_command(&emu, &["--quiet"], &input, &output)
        .args(["--columns", COLUMNS])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("the batch did not finish: the pipe was not read twice as expected");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("the input ended early: 4 of the 10 rows"),
        "{stderr}"
    );
    // The rows that were read are written, and the batch is not marked complete.
    let (_, rows) = read_csv_output(&output);
    assert_eq!(rows.len(), 4);
    assert_eq!(state_of(&output)["complete"], false);
}
