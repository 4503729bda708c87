//! Issue 13, "messages and signals": what the tool says, where, and how it stops.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use crate::support::{
    COLUMNS, Emu, SLOW, batch, read_csv_output, read_jsonl_output, run_command, run_ok,
    signal_after_lines, write_csv,
};

fn all_json(stderr: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(stderr)
        .lines()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}"))
        })
        .collect()
}

#[test]
fn sigterm_is_handled_like_ctrl_c() {
    const ROWS: u64 = 2000;
    let emu = Emu::start(0.0, 0.002);
    let dir = tempfile::tempdir().unwrap();
    let input = write_csv(dir.path(), ROWS);
    let output = dir.path().join("out.csv");
    let out = signal_after_lines(
        run_command(&emu, &[], &input, &output).args(SLOW),
        &output,
        100,
        "TERM",
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(143), "{stderr}");
    assert!(
        stderr.contains("To resume, run the same command again"),
        "{stderr}"
    );
    let kept = read_csv_output(&output).1.len();
    assert!((100..2000).contains(&kept), "{kept}");
    run_ok(run_command(&emu, &["--quiet"], &input, &output).args(SLOW));
    let rows: Vec<u64> = read_csv_output(&output).1.into_keys().collect();
    assert_eq!(rows, (0..ROWS).collect::<Vec<_>>());
    assert_eq!(emu.runs_created(), ROWS);
}

#[test]
fn with_json_every_stderr_line_is_json() {
    let emu = Emu::start(0.0, 0.002);
    let dir = tempfile::tempdir().unwrap();
    let input = write_csv(dir.path(), 2000);
    let output = dir.path().join("out.csv");
    // An interrupted run, with progress lines.
    let out = signal_after_lines(
        run_command(
            &emu,
            &["--json", "--progress-interval", "0.1"],
            &input,
            &output,
        )
        .args(SLOW),
        &output,
        100,
        "TERM",
    );
    let lines = all_json(&out.stderr);
    assert!(lines.iter().any(|l| l["event"] == "progress"), "{lines:?}");
    let interrupted = lines.iter().find(|l| l["event"] == "interrupted").unwrap();
    assert!(
        interrupted["message"]
            .as_str()
            .unwrap()
            .contains("To resume")
    );
    // A refused command, and a command line clap refuses.
    let out = run_command(&emu, &["--json"], &input, &output)
        .args(["--columns", "a b: c"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        all_json(&out.stderr)[0]["error"]
            .as_str()
            .unwrap()
            .contains("--columns")
    );
    let out = batch()
        .args(["--json", "run", "--no-such-flag"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(all_json(&out.stderr)[0]["error"].is_string());
    // The embedded emulator's note, and the emulator subcommand.
    let small = dir.path().join("small.csv");
    std::fs::copy(write_csv(dir.path(), 3), &small).unwrap();
    let out = run_ok(
        batch()
            .args(["--json", "--emulator", "run"])
            .arg(&small)
            .arg("-o")
            .arg(dir.path().join("small.jsonl"))
            .args(["--columns", COLUMNS]),
    );
    assert!(
        all_json(&out.stderr)
            .iter()
            .any(|l| l["event"] == "message")
    );
    let mut child = batch()
        .args(["--json", "emulator", "--listen", "127.0.0.1:0"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stderr.as_mut().unwrap())
        .read_line(&mut first)
        .unwrap();
    let line: serde_json::Value = serde_json::from_str(&first).unwrap();
    assert_eq!(line["event"], "listening", "{first}");
    std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    all_json(&out.stderr);
}

#[test]
fn another_input_with_the_same_output_is_named_as_such() {
    let emu = Emu::start(0.0, 0.0);
    let dir = tempfile::tempdir().unwrap();
    let input = write_csv(dir.path(), 5);
    let output = dir.path().join("out.csv");
    run_ok(run_command(&emu, &["--quiet"], &input, &output).args(["--columns", COLUMNS]));
    let other = dir.path().join("other.csv");
    std::fs::write(&other, "name,website\nZeta,z.example\n").unwrap();
    let out = run_command(&emu, &[], &other, &output)
        .args(["--columns", COLUMNS])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("belongs to another input"), "{stderr}");
    assert!(stderr.contains("companies.csv"), "{stderr}");
    assert!(
        !stderr.contains("changed since this job started"),
        "{stderr}"
    );
}

#[test]
fn dash_reads_standard_input_and_writes_standard_output() {
    let emu = Emu::start(0.0, 0.0);
    let dir = tempfile::tempdir().unwrap();
    let input = write_csv(dir.path(), 20);
    let out = run_ok(
        batch()
            .args([
                "--base-url",
                &emu.url(),
                "run",
                "-",
                "-o",
                "-",
                "--format",
                "csv",
            ])
            .args(["--columns", COLUMNS])
            .stdin(std::fs::File::open(&input).unwrap()),
    );
    let stdout_file = dir.path().join("stdout.jsonl");
    std::fs::write(&stdout_file, &out.stdout).unwrap();
    let rows = read_jsonl_output(&stdout_file);
    assert_eq!(
        rows.keys().copied().collect::<Vec<_>>(),
        (0..20).collect::<Vec<_>>()
    );
    assert!(rows[&3]["output"]["ceo_name"].is_string());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot be resumed"), "{stderr}");
    assert!(
        stderr.contains("Done: 20 rows in - (20 completed, 0 failed"),
        "{stderr}"
    );
    // Standard input needs a format.
    let out = batch()
        .args(["--base-url", &emu.url(), "run", "-", "-o", "-"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--format"));
}

#[test]
fn jsonl_with_a_bom_is_read_and_a_json_array_is_refused_with_a_hint() {
    let emu = Emu::start(0.0, 0.0);
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("bom.jsonl");
    std::fs::write(&input, "\u{feff}{\"name\":\"A\"}\n{\"name\":\"B\"}\n").unwrap();
    let output = dir.path().join("out.jsonl");
    run_ok(run_command(&emu, &["--quiet"], &input, &output).args(["--columns", COLUMNS]));
    let rows = read_jsonl_output(&output);
    assert_eq!(rows[&0]["input"], serde_json::json!({"name": "A"}));

    let array = dir.path().join("list.json");
    std::fs::write(&array, "[\n  {\"name\": \"A\"},\n  {\"name\": \"B\"}\n]\n").unwrap();
    let out = run_command(&emu, &[], &array, &dir.path().join("o.jsonl"))
        .args(["--columns", COLUMNS])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("list.json: line 1: expected a JSON object"),
        "{stderr}"
    );
    assert!(stderr.contains("jq -c '.[]'"), "{stderr}");
    assert_eq!(emu.runs_created(), 2);
}

#[test]
fn base_url_credentials_and_remote_plain_http_are_refused_before_anything_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    let input = write_csv(dir.path(), 3);
    let output = dir.path().join("out.csv");
    let out = batch()
        .args(["--base-url", "http://alice:s3cret@127.0.0.1:9", "run"])
        .arg(&input)
        .arg("-o")
        .arg(&output)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        !stderr.contains("s3cret") && !stderr.contains("alice"),
        "{stderr}"
    );
    assert!(stderr.contains("PARALLEL_API_KEY"), "{stderr}");
    assert!(
        !crate::support::companion(&dir.path().join("out.csv")).exists(),
        "no state was written"
    );

    // 192.0.2.0/24 is reserved for documentation: nothing answers there.
    let out = batch()
        .args(["--base-url", "http://192.0.2.1:8080", "status", "tgrp_1"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("use https://"), "{stderr}");
    assert!(stderr.contains("ssh -L"), "{stderr}");
    assert!(!stderr.contains("HyperTransportBuilder"), "{stderr}");
}

#[test]
fn a_header_of_100000_columns_is_checked_in_one_pass() {
    // The header check was quadratic: 100,000 columns took 50 s of CPU.
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("wide.csv");
    let mut header: Vec<String> = (0..100_000).map(|i| format!("c{i}")).collect();
    header[99_999] = "c5".to_owned();
    std::fs::write(&input, format!("{}\n", header.join(","))).unwrap();
    let out = batch()
        .args(["--emulator", "--quiet", "run"])
        .arg(&input)
        .arg("-o")
        .arg(dir.path().join("out.csv"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("line 1, column 100000 (`c5`): this column name appears twice"));
}

#[test]
fn a_request_the_server_does_not_answer_shows_as_waiting() {
    // A server that accepts connections and never answers.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            held.push(stream);
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let input = write_csv(dir.path(), 3);
    let mut child = batch()
        .args(["--base-url", &url, "run"])
        .arg(&input)
        .arg("-o")
        .arg(dir.path().join("out.csv"))
        .args(["--columns", COLUMNS, "--waiting-notice", "1"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            if tx.send(line.unwrap()).is_err() {
                return;
            }
        }
    });
    // The notice names the server.
    let waiting = format!("waiting for the server at {url}, ");
    let seen = loop {
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(line) if line.starts_with(&waiting) => break line,
            Ok(_) => {}
            Err(e) => panic!("no waiting notice: {e}"),
        }
    };
    child.kill().unwrap();
    child.wait().unwrap();
    let seconds: u64 = seen
        .trim_start_matches(&waiting)
        .split(" s")
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(seconds >= 1, "{seen}");
}

#[test]
fn help_never_prints_the_base_url_from_the_environment() {
    let secret_url = "https://user:hunter2-do-not-print@proxy.example:8443";
    for args in [&["--help"][..], &["run", "--help"], &["results", "--help"]] {
        let out = batch()
            .env("PARALLEL_BASE_URL", secret_url)
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}");
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(
            help.contains("PARALLEL_BASE_URL"),
            "{args:?}: the variable is named\n{help}"
        );
        assert!(
            !help.contains("hunter2") && !help.contains("proxy.example"),
            "{args:?}\n{help}"
        );
    }
}
