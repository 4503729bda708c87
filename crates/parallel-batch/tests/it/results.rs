//! `parallel-batch results`: every run of a group, read back from the runs stream.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;

use crate::support::{
    COLUMNS, Emu, read_csv_output, read_jsonl_output, results_command, run_command, run_ok,
    state_of, write_csv,
};

fn results(base_url: &str, group: &str, output: &Path) -> std::process::Output {
    results_command(base_url, group, output).output().unwrap()
}

#[test]
fn every_run_of_a_group_comes_back_in_order_as_the_run_wrote_it() {
    // 1,000 runs, a fifth of them failed: several batches of the reader, completed and
    // failed runs mixed in each.
    let emu = Emu::start(0.2, 0.0);
    let dir = tempfile::tempdir().unwrap();
    let input = write_csv(dir.path(), 1000);
    let output = dir.path().join("out.jsonl");
    run_ok(run_command(&emu, &["--quiet"], &input, &output).args(["--columns", COLUMNS]));
    let written = read_jsonl_output(&output);
    let group = state_of(&output)["group_id"].as_str().unwrap().to_owned();
    let failed = written.values().filter(|r| r["status"] == "failed").count();
    assert!(failed > 100 && failed < 300, "{failed} failed");

    let all = dir.path().join("all.jsonl");
    let out = results(&emu.url(), &group, &all);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&all).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let rows: Vec<u64> = lines.iter().map(|l| l["row"].as_u64().unwrap()).collect();
    assert_eq!(
        rows,
        (0..1000).collect::<Vec<_>>(),
        "every run once, in stream order"
    );
    for line in &lines {
        let row = line["row"].as_u64().unwrap();
        assert_eq!(line, &written[&row], "row {row}");
    }
    assert!(
        String::from_utf8_lossy(&out.stdout).is_empty(),
        "--quiet prints nothing"
    );

    // The same runs as CSV: the columns of the first completed output.
    let csv = dir.path().join("all.csv");
    let out = results(&emu.url(), &group, &csv);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (header, csv_rows) = read_csv_output(&csv);
    assert!(header.contains(&"ceo_name".to_owned()), "{header:?}");
    assert_eq!(csv_rows.len(), 1000);
    for (row, fields) in &csv_rows {
        let line = &written[row];
        assert_eq!(
            fields["run_id"],
            line["run_id"].as_str().unwrap(),
            "row {row}"
        );
        assert_eq!(
            fields["status"],
            line["status"].as_str().unwrap(),
            "row {row}"
        );
        assert_eq!(
            fields["error"],
            line["error"].as_str().unwrap_or(""),
            "row {row}"
        );
        let ceo = line["output"]["ceo_name"].as_str().unwrap_or("");
        assert_eq!(fields["ceo_name"], ceo, "row {row}");
    }
}

/// A `task_run.state` event of a completed run at `position`.
fn event(position: u64) -> String {
    format!(
        r#"{{"type":"task_run.state","event_id":"{n}","input":{{"input":{{"n":{position}}},"processor":"base"}},"run":{{"run_id":"trun_{position}","status":"completed","is_active":false,"processor":"base","metadata":{{"client_tag":"0123456789abcdef:{position}"}}}},"output":{{"type":"json","content":{{"v":{position}}},"basis":[]}}}}"#,
        n = position + 1
    )
}

/// Serves `body` as the runs stream to every request, on a thread, until the test ends.
fn serve_stream(body: String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            );
        }
    });
    url
}

#[test]
fn a_run_the_server_sends_broken_stops_results_at_it_with_the_runs_before_it_written() {
    let mut body = String::new();
    for position in 0..600 {
        let mut data = event(position);
        if position == 400 {
            data = data.replace(r#""status":"completed""#, r#""status":"#);
        }
        writeln!(body, "event: task_run.state\ndata: {data}\n").unwrap();
    }
    let url = serve_stream(body);
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("all.jsonl");
    let out = results(&url, "tgrp_broken", &output);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot read run 401 of the group (in stream order)"),
        "{stderr}"
    );
    let rows: Vec<u64> = std::fs::read_to_string(&output)
        .unwrap()
        .lines()
        .map(|line| {
            serde_json::from_str::<serde_json::Value>(line).unwrap()["row"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(rows, (0..400).collect::<Vec<_>>());
}
