//! Issue 13: ordinary user mistakes end in a clear refusal or a correct file, never in a
//! silently wrong one (cases 1-6, 9 and 10; 7 and 8 are in `fixes.rs`).

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{
    COLUMNS, Emu, SLOW, batch, files_in, interrupted_job, lines_in, read_csv_output,
    results_command, run_command, run_ok, state_of, stderr_of, write_csv,
};

#[test]
fn case1_resume_refuses_an_output_sorted_since_the_checkpoint() {
    const ROWS: u64 = 2000;
    let emu = Emu::start(0.0, 0.002);
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = interrupted_job(&emu, dir.path(), ROWS);
    let original = std::fs::read(&output).unwrap();
    // Sort the data lines by their text: same bytes, same length, another order.
    let text = String::from_utf8(original.clone()).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines[1..].sort_unstable();
    let sorted = format!("{}\n", lines.join("\n"));
    assert_eq!(sorted.len(), original.len());
    assert_ne!(
        sorted.as_bytes(),
        &original[..],
        "the sort changed the order"
    );
    std::fs::write(&output, &sorted).unwrap();
    let runs_before = emu.runs_created();

    let out = run_command(&emu, &[], &input, &output)
        .args(SLOW)
        .output()
        .unwrap();
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("is not the file this job wrote"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("run the same command to resume"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(&output).unwrap(),
        sorted,
        "left untouched"
    );
    assert_eq!(emu.runs_created(), runs_before, "nothing submitted");

    // With the file as it was written, the same command finishes the job exactly once.
    std::fs::write(&output, &original).unwrap();
    run_ok(run_command(&emu, &["--quiet"], &input, &output).args(SLOW));
    let rows: Vec<u64> = read_csv_output(&output).1.into_keys().collect();
    assert_eq!(rows, (0..ROWS).collect::<Vec<_>>());
    assert_eq!(emu.runs_created(), ROWS);
}

#[test]
fn case2_a_second_run_on_the_same_output_is_refused_and_names_the_holder() {
    const ROWS: u64 = 2000;
    let emu = Emu::start(0.0, 0.002);
    let dir = tempfile::tempdir().unwrap();
    let input = write_csv(dir.path(), ROWS);
    let output = dir.path().join("out.csv");
    let mut first = run_command(&emu, &["--quiet"], &input, &output)
        .args(SLOW)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while lines_in(&output) < 10 {
        assert!(
            first.try_wait().unwrap().is_none(),
            "the first run ended early"
        );
        assert!(Instant::now() < deadline, "no output after 60 s");
        std::thread::sleep(Duration::from_millis(2));
    }
    let out = run_command(&emu, &["--quiet"], &input, &output)
        .args(SLOW)
        .output()
        .unwrap();
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("process {} holds", first.id())),
        "{stderr}"
    );
    assert!(
        first.wait().unwrap().success(),
        "the first run is not disturbed"
    );
    let rows: Vec<u64> = read_csv_output(&output).1.into_keys().collect();
    assert_eq!(
        rows,
        (0..ROWS).collect::<Vec<_>>(),
        "every row exactly once"
    );
    assert_eq!(emu.runs_created(), ROWS);
}

#[test]
fn case3_force_never_writes_over_the_input() {
    let emu = Emu::start(0.0, 0.0);
    let dir = tempfile::tempdir().unwrap();
    let input = write_csv(dir.path(), 5);
    let before = std::fs::read(&input).unwrap();
    // The same file by its own name, and by another name (a hard link).
    let link = dir.path().join("link.csv");
    std::fs::hard_link(&input, &link).unwrap();
    for output in [&input, &link] {
        let out = run_command(&emu, &[], &input, output)
            .args(["--columns", COLUMNS, "--force"])
            .output()
            .unwrap();
        let stderr = stderr_of(&out);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("is the input file itself"), "{stderr}");
        assert_eq!(
            std::fs::read(&input).unwrap(),
            before,
            "the input is intact"
        );
    }
    assert_eq!(emu.runs_created(), 0);
}

#[test]
fn case4_results_refuses_existing_files_and_a_run_output() {
    let emu = Emu::start(0.0, 0.0);
    let dir = tempfile::tempdir().unwrap();
    let input = write_csv(dir.path(), 20);
    let output = dir.path().join("out.csv");
    run_ok(run_command(&emu, &["--quiet"], &input, &output).args(["--columns", COLUMNS]));
    let group = state_of(&output)["group_id"].as_str().unwrap().to_owned();
    let results = |target: &Path, force: bool| {
        let mut cmd = results_command(&emu.url(), &group, target);
        if force {
            cmd.arg("--force");
        }
        cmd.output().unwrap()
    };

    let precious = dir.path().join("precious.csv");
    std::fs::write(&precious, "keep me\n").unwrap();
    let out = results(&precious, false);
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("--force"));
    assert_eq!(std::fs::read_to_string(&precious).unwrap(), "keep me\n");
    let out = results(&precious, true);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(read_csv_output(&precious).1.len(), 20);

    // A run's output, even with --force.
    let written = std::fs::read(&output).unwrap();
    let out = results(&output, true);
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("is the output of a `run` job"), "{stderr}");
    assert_eq!(std::fs::read(&output).unwrap(), written);
}

#[test]
fn case5_a_quote_that_never_closes_is_an_error_at_its_line() {
    let emu = Emu::start(0.0, 0.0);
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.csv");
    std::fs::write(
        &input,
        "name,website\nAlpha,https://a.example\nBeta,https://b.example\n\
         Gamma,\"https://g.example\nDelta,https://d.example\n",
    )
    .unwrap();
    let output = dir.path().join("out.csv");
    let out = run_command(&emu, &[], &input, &output)
        .args(["--columns", COLUMNS])
        .output()
        .unwrap();
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("in.csv: line 4, column 2 (`website`)"),
        "{stderr}"
    );
    assert!(stderr.contains("not closed"), "{stderr}");
    assert_eq!(emu.runs_created(), 0);

    // A quoted field that spans more lines than --max-row-lines, closed much later.
    let mut text = String::from("name,website\nAlpha,\"https://a.example\n");
    for i in 0..150 {
        writeln!(text, "Row {i},x").unwrap();
    }
    text.push_str("end\"\nOmega,https://o.example\n");
    std::fs::write(&input, &text).unwrap();
    let out = run_command(&emu, &[], &input, &output)
        .args(["--columns", COLUMNS])
        .output()
        .unwrap();
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("line 2"), "{stderr}");
    assert!(
        stderr.contains("spans 152 lines, more than --max-row-lines 100"),
        "{stderr}"
    );
    // Raising the limit reads the long field as the user meant it.
    run_ok(run_command(&emu, &["--quiet"], &input, &output).args([
        "--columns",
        COLUMNS,
        "--max-row-lines",
        "200",
    ]));
    let (_, rows) = read_csv_output(&output);
    assert_eq!(rows.len(), 2);
    assert!(rows[&0]["website"].ends_with("Row 149,x\nend"));
}

#[test]
fn case6_columns_it_cannot_parse_are_an_error_that_shows_the_parse() {
    let emu = Emu::start(0.0, 0.0);
    let dir = tempfile::tempdir().unwrap();
    let input = write_csv(dir.path(), 3);
    let output = dir.path().join("out.csv");
    let out = run_command(&emu, &[], &input, &output)
        .args([
            "--columns",
            "ceo: CEO name, founded year: the year founded, hq city: headquarters city",
        ])
        .output()
        .unwrap();
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("item 2 `founded year: the year founded`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("Read before it: ceo (\"CEO name\")"),
        "{stderr}"
    );
    assert_eq!(emu.runs_created(), 0);

    // Quoted, a description keeps its commas; every field becomes a column.
    run_ok(run_command(&emu, &["--quiet"], &input, &output).args([
        "--columns",
        r#"ceo: "CEO name, if any", founded_year: the year founded, hq_city: "city, country""#,
    ]));
    let (header, _) = read_csv_output(&output);
    assert_eq!(
        header[3..6],
        ["ceo".to_owned(), "founded_year".into(), "hq_city".into()]
    );
}

/// The job-wide mistakes of case 9, each refused with exit 2 before a group exists.
#[test]
fn case9_job_wide_mistakes_are_refused_before_a_group_is_made() {
    let emu = Emu::start(0.0, 0.0);
    let dir = tempfile::tempdir().unwrap();
    let input = write_csv(dir.path(), 3);
    let output = dir.path().join("out.csv");
    let schema = dir.path().join("schema.json");
    let refused = |cmd: &mut Command, expect: &str| {
        let out = cmd.output().unwrap();
        let stderr = stderr_of(&out);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(expect), "{expect}: {stderr}");
        assert!(!stderr.contains("resume"), "{stderr}");
        assert!(!output.exists(), "no output for a refused job");
    };
    refused(
        run_command(&emu, &[], &input, &output).args(["--processor", "warp-speed"]),
        "known processors: lite,",
    );
    std::fs::write(&schema, r#"{"type": "array", "items": {"type": "string"}}"#).unwrap();
    refused(
        run_command(&emu, &[], &input, &output)
            .arg("--output-schema")
            .arg(&schema),
        "the output schema's root must be an object",
    );
    std::fs::write(
        &schema,
        r#"{"type": "object", "properties": {"a": {"type": "object", "properties": {"b":
            {"type": "object", "properties": {"c": {"type": "object", "properties":
            {"d": {"type": "string"}}}}}}}}}"#,
    )
    .unwrap();
    refused(
        run_command(&emu, &[], &input, &output)
            .arg("--output-schema")
            .arg(&schema),
        "nests objects 4 levels deep (at `a.b.c`)",
    );
    let big = dir.path().join("big.csv");
    let long = "x".repeat(25_000);
    std::fs::write(
        &big,
        format!("name,website\nA,a.example\n{long},b.example\n"),
    )
    .unwrap();
    refused(
        run_command(&emu, &[], &big, &output).args(["--columns", COLUMNS]),
        "big.csv: line 3: the row is",
    );
    let nameless = dir.path().join("nameless.csv");
    std::fs::write(&nameless, "name,,website\nA,1,a.example\n").unwrap();
    refused(
        run_command(&emu, &[], &nameless, &output).args(["--columns", COLUMNS]),
        "nameless.csv: line 1, column 2: this column has no name",
    );
    assert_eq!(emu.handle.stats().groups_created, 0, "no group was created");
}

#[test]
fn case10_a_group_gone_from_the_server_says_how_to_go_on_with_a_new_one() {
    const ROWS: u64 = 1000;
    // Runs of 0.1-0.2 s: results are read in bulk, and at a smaller time scale the whole job
    // can be done before the interrupt arrives.
    let emu = Emu::start(0.0, 0.01);
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = interrupted_job(&emu, dir.path(), ROWS);
    let kept = read_csv_output(&output).1;
    let old_group = state_of(&output)["group_id"].as_str().unwrap().to_owned();
    // The server forgets everything: a new emulator on the same address.
    let addr = emu.addr();
    drop(emu);
    let emu = Emu::start_at(0.0, 0.0, addr);

    let out = run_command(&emu, &[], &input, &output)
        .args(SLOW)
        .output()
        .unwrap();
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("task group {old_group}")),
        "{stderr}"
    );
    assert!(stderr.contains("is gone"), "{stderr}");
    assert!(stderr.contains(&format!(
        "The {} rows already in the output are kept",
        kept.len()
    )));
    assert!(stderr.contains("--new-group"), "{stderr}");
    assert!(
        !stderr.contains("run the same command to resume"),
        "{stderr}"
    );

    run_ok(
        run_command(&emu, &["--quiet"], &input, &output)
            .args(SLOW)
            .arg("--new-group"),
    );
    let rows = read_csv_output(&output).1;
    assert_eq!(
        rows.keys().copied().collect::<Vec<_>>(),
        (0..ROWS).collect::<Vec<_>>()
    );
    for (row, fields) in &kept {
        assert_eq!(
            rows[row]["run_id"], fields["run_id"],
            "row {row} was kept as written"
        );
    }
    assert_eq!(emu.runs_created(), ROWS - kept.len() as u64);
    assert_ne!(state_of(&output)["group_id"], old_group.as_str());
}

/// A build without the `parquet` feature says how to get Parquet, before anything is sent.
#[cfg(not(feature = "parquet"))]
#[test]
fn parquet_without_the_feature_says_how_to_get_it() {
    let emu = Emu::start(0.0, 0.0);
    let dir = tempfile::tempdir().unwrap();
    let input = write_csv(dir.path(), 3);
    let output = dir.path().join("out.parquet");
    let out = run_command(&emu, &[], &input, &output)
        .args(["--columns", COLUMNS])
        .output()
        .unwrap();
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--features parquet"), "{stderr}");
    assert!(!output.exists());
    assert_eq!(emu.runs_created(), 0);
}

#[test]
fn a_wrong_input_path_is_refused_before_a_backend_or_a_lock() {
    // No key and no --base-url: the embedded emulator would start; a wrong path must be
    // refused first, without its notice and without leaving files beside the output.
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("folder")).unwrap();
    for (input, says) in [
        ("missing.csv", "missing.csv: cannot be opened"),
        ("folder", "folder: is a directory"),
    ] {
        let out = batch()
            .current_dir(dir.path())
            .args(["run", input, "-o", "out.jsonl", "--columns", COLUMNS])
            .output()
            .unwrap();
        let stderr = stderr_of(&out);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(says), "{stderr}");
        assert!(!stderr.contains("embedded emulator"), "{stderr}");
        assert_eq!(
            files_in(dir.path()),
            ["folder"],
            "nothing written for {input}"
        );
    }
}

#[test]
fn an_output_that_cannot_be_made_is_refused_before_a_backend_or_a_lock() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("folder")).unwrap();
    std::fs::write(dir.path().join("in.csv"), "name\nAcme\n").unwrap();
    for (output, says) in [
        (
            "nowhere/out.csv",
            "cannot write nowhere/out.csv: its directory nowhere does not exist",
        ),
        (
            "folder",
            "folder is a directory; give the name of the file to write",
        ),
        (
            "in.csv/out.csv",
            "cannot write in.csv/out.csv: in.csv is not a directory",
        ),
    ] {
        let run = batch()
            .current_dir(dir.path())
            .args(["run", "in.csv", "-o", output, "--columns", COLUMNS])
            .output()
            .unwrap();
        let results = batch()
            .current_dir(dir.path())
            .args([
                "--base-url",
                "http://127.0.0.1:9",
                "results",
                "tgrp_x",
                "-o",
                output,
            ])
            .output()
            .unwrap();
        for out in [run, results] {
            let stderr = stderr_of(&out);
            assert_eq!(out.status.code(), Some(2), "{stderr}");
            assert!(stderr.contains(says), "{stderr}");
            assert!(!stderr.contains("embedded emulator"), "{stderr}");
        }
        assert_eq!(
            files_in(dir.path()),
            ["folder", "in.csv"],
            "nothing written for {output}"
        );
    }
}
