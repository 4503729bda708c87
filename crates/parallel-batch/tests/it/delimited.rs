//! Issue 25, cases 1 and 2: the lines of files with Windows line endings are the lines an
//! editor shows, and a file separated by `;`, tabs or `|` is read by its columns.

use std::fmt::Write as _;
use std::path::Path;

use crate::support::{
    COLUMNS, Emu, SLOW, batch, companion, files_in, read_csv_output, run_command, run_ok,
    signal_after_lines, state_of, state_path, stderr_of,
};

/// The tool's own size check is raised so that the API is the one refusing a long row.
const LONG_ROWS: [&str; 4] = ["--columns", COLUMNS, "--max-input-chars", "100000"];

fn refused(emu: &Emu, input: &Path, output: &Path) -> String {
    let out = run_command(emu, &[], input, output)
        .args(["--columns", COLUMNS])
        .output()
        .unwrap();
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    stderr
}

#[test]
fn a_bad_row_in_a_crlf_file_is_named_by_the_line_an_editor_shows() {
    let emu = Emu::start(0.0, 0.0);
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.csv");
    let output = dir.path().join("out.csv");
    // A stray third field on line 7, as Excel and Python's csv module write files.
    let rows = [
        "name,website",
        "a,1",
        "b,2",
        "c,3",
        "d,4",
        "e,5",
        "f,6,x",
        "g,7",
    ];
    std::fs::write(&input, rows.join("\r\n") + "\r\n").unwrap();
    let stderr = refused(&emu, &input, &output);
    assert!(stderr.contains("in.csv: line 7, column 3"), "{stderr}");
    // The same with `\n` endings, as before.
    std::fs::write(&input, rows.join("\n") + "\n").unwrap();
    let stderr = refused(&emu, &input, &output);
    assert!(stderr.contains("in.csv: line 7, column 3"), "{stderr}");
    // Blank lines (skipped) and a quoted line break count as lines too.
    std::fs::write(
        &input,
        "name,website\r\na,1\r\n\r\n\"b\r\nB\",2\r\n\r\nc,3,x\r\n",
    )
    .unwrap();
    let stderr = refused(&emu, &input, &output);
    assert!(stderr.contains("in.csv: line 7, column 3"), "{stderr}");
    assert_eq!(emu.runs_created(), 0);
    assert_eq!(files_in(dir.path()), ["in.csv"]);
}

#[test]
fn a_rejected_row_and_the_resume_refusal_name_the_lines_of_a_crlf_file() {
    let emu = Emu::start(0.0, 0.0);
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.csv");
    let output = dir.path().join("out.csv");
    let long = "x".repeat(30_000);
    // Row 1 spans lines 3-4; row 2, on line 5, is over the API's size limit.
    let text = |last: &str| {
        format!(
            "name,website\r\nA,https://a\r\n\"B\r\nB\",https://b\r\n{long},https://c\r\n\
             {last},https://d\r\n"
        )
    };
    std::fs::write(&input, text("D")).unwrap();
    run_ok(run_command(&emu, &["--quiet"], &input, &output).args(LONG_ROWS));
    let (_, rows) = read_csv_output(&output);
    assert_eq!(rows[&2]["status"], "rejected");
    assert!(
        rows[&2]["error"].starts_with("input line 5: "),
        "{:?}",
        rows[&2]
    );
    // Row 3, on line 6, already ran: an edit to it is refused by its line.
    std::fs::write(&input, text("Dee")).unwrap();
    let out = run_command(&emu, &[], &input, &output)
        .args(LONG_ROWS)
        .output()
        .unwrap();
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("in.csv: line 6 (row 3) changed"),
        "{stderr}"
    );
}

#[test]
fn a_semicolon_separated_file_is_read_by_its_columns_and_the_tool_says_so() {
    let emu = Emu::start(0.0, 0.0);
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("companies.csv");
    let output = dir.path().join("out.csv");
    std::fs::write(
        &input,
        "name;website;country\nAcme;acme.example;FR\n\"Dupont; Fils\";dupont.example;BE\n",
    )
    .unwrap();
    let out = run_ok(run_command(&emu, &[], &input, &output).args(["--columns", COLUMNS]));
    let stderr = stderr_of(&out);
    assert!(
        stderr.contains("companies.csv: read as `;` (semicolon)-separated values"),
        "{stderr}"
    );
    let (header, rows) = read_csv_output(&output);
    assert_eq!(header[1..4], ["name", "website", "country"]);
    assert_eq!(rows[&1]["name"], "Dupont; Fils");
    assert_eq!(rows[&1]["country"], "BE");
}

#[test]
fn a_dry_run_says_which_delimiter_the_file_would_be_read_with() {
    let emu = Emu::start(0.0, 0.0);
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("companies.csv");
    let output = dir.path().join("out.csv");
    std::fs::write(
        &input,
        "name;website\nAcme;acme.example\nBeta;beta.example\n",
    )
    .unwrap();
    let out =
        run_ok(run_command(&emu, &[], &input, &output).args(["--dry-run", "--columns", COLUMNS]));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("companies.csv: read as `;` (semicolon)-separated values"),
        "{stdout}"
    );
    assert!(stdout.contains("2 of the 2 rows"), "{stdout}");
    assert_eq!(emu.runs_created(), 0);
    assert!(!output.exists());
}

#[test]
fn tab_and_pipe_separated_files_are_read_by_their_columns() {
    let emu = Emu::start(0.0, 0.0);
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("out.csv");
    for (name, text, told) in [
        ("in.tsv", "name\twebsite\nAcme\tacme.example\n", false),
        ("tabs.csv", "name\twebsite\nAcme\tacme.example\n", true),
        ("in.csv", "name|website\nAcme|acme.example\n", true),
        // A `.tsv` file whose header holds commas is read with them, and says so.
        ("commas.tsv", "name,website\nAcme,acme.example\n", true),
    ] {
        let input = dir.path().join(name);
        std::fs::write(&input, text).unwrap();
        let _ = std::fs::remove_file(&output);
        let _ = std::fs::remove_dir_all(companion(&output));
        let out = run_ok(run_command(&emu, &[], &input, &output).args(["--columns", COLUMNS]));
        let stderr = stderr_of(&out);
        assert_eq!(
            stderr.contains("-separated values"),
            told,
            "{name}: {stderr}"
        );
        let (header, rows) = read_csv_output(&output);
        assert_eq!(header[1..3], ["name", "website"], "{name}");
        assert_eq!(rows[&0]["website"], "acme.example", "{name}");
    }
}

#[test]
fn a_header_delimited_two_ways_is_refused_before_anything_is_sent_unless_delimiter_says() {
    let emu = Emu::start(0.0, 0.0);
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.csv");
    let output = dir.path().join("out.csv");
    std::fs::write(&input, "name;website,country\nAcme;acme.example,FR\n").unwrap();
    let stderr = refused(&emu, &input, &output);
    assert!(
        stderr
            .contains("in.csv: line 1: the header line looks delimited by `,` (comma) and by `;`"),
        "{stderr}"
    );
    assert!(stderr.contains("--delimiter"), "{stderr}");
    assert_eq!(emu.handle.stats().groups_created, 0);
    assert_eq!(files_in(dir.path()), ["in.csv"]);

    run_ok(run_command(&emu, &["--quiet"], &input, &output).args([
        "--columns",
        COLUMNS,
        "--delimiter",
        ";",
    ]));
    let (header, rows) = read_csv_output(&output);
    assert_eq!(header[1..3], ["name", "website,country"]);
    assert_eq!(rows[&0]["website,country"], "acme.example,FR");
}

#[test]
fn the_delimiter_flag_is_for_csv_input_and_one_character() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.jsonl"), "{\"a\":1}\n").unwrap();
    std::fs::write(dir.path().join("in.csv"), "a\n1\n").unwrap();
    for (input, delimiter, says) in [
        ("in.jsonl", ";", "--delimiter applies to CSV input"),
        ("in.csv", ";;", "--delimiter `;;`: expected one character"),
    ] {
        let out = batch()
            .current_dir(dir.path())
            .args([
                "--base-url",
                "http://127.0.0.1:9",
                "run",
                input,
                "-o",
                "out.jsonl",
            ])
            .args(["--delimiter", delimiter])
            .output()
            .unwrap();
        let stderr = stderr_of(&out);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(says), "{stderr}");
    }
    assert_eq!(files_in(dir.path()), ["in.csv", "in.jsonl"]);
}

#[test]
fn a_job_goes_on_reading_its_input_with_the_delimiter_it_started_with() {
    const ROWS: u64 = 2000;
    let emu = Emu::start(0.0, 0.002);
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.csv");
    let output = dir.path().join("out.csv");
    let mut text = String::from("name;website\n");
    for i in 0..ROWS {
        writeln!(text, "Company {i};https://c{i}.example").unwrap();
    }
    std::fs::write(&input, text).unwrap();
    // Started as an earlier release ran it: every line one column, and no delimiter in the
    // state.
    let out = signal_after_lines(
        run_command(&emu, &[], &input, &output)
            .args(SLOW)
            .args(["--delimiter", ","]),
        &output,
        100,
        "INT",
    );
    assert_eq!(out.status.code(), Some(130), "{}", stderr_of(&out));
    let mut state = state_of(&output);
    assert_eq!(
        state["delimiter"],
        u64::from(b','),
        "the delimiter is recorded"
    );
    state.as_object_mut().unwrap().remove("delimiter");
    std::fs::write(state_path(&output), state.to_string()).unwrap();
    let written = std::fs::read(&output).unwrap();
    let runs = emu.runs_created();

    let out = run_command(&emu, &[], &input, &output)
        .args(SLOW)
        .output()
        .unwrap();
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("with `,` (comma) as the delimiter (the release that started it"),
        "{stderr}"
    );
    assert!(stderr.contains("pass --delimiter ','"), "{stderr}");
    assert_eq!(std::fs::read(&output).unwrap(), written, "left as it was");
    assert_eq!(emu.runs_created(), runs, "nothing sent");

    run_ok(
        run_command(&emu, &["--quiet"], &input, &output)
            .args(SLOW)
            .args(["--delimiter", ","]),
    );
    let (header, rows) = read_csv_output(&output);
    assert_eq!(header[1], "name;website");
    assert_eq!(rows.len() as u64, ROWS);
    assert_eq!(emu.runs_created(), ROWS);
}
