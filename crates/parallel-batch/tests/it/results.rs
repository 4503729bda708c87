//! `parallel-batch results`: every run of a group, read back from the runs stream.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;

use crate::support::{
    COLUMNS, Emu, files_in, read_csv_output, read_jsonl_output, results_command, run_command,
    run_ok, state_of, write_csv,
};

/// The `row` of each JSON Lines record in `text`.
fn rows_of(text: &str) -> Vec<u64> {
    text.lines()
        .map(|line| {
            serde_json::from_str::<serde_json::Value>(line).unwrap()["row"]
                .as_u64()
                .unwrap()
        })
        .collect()
}

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
    assert!(
        !dir.path().join("all.jsonl.partial").exists(),
        "the whole export is renamed into place"
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
    event_numbered(position, position + 1)
}

/// A `task_run.state` event of a completed run at `position`, the stream's `n`th.
fn event_numbered(position: u64, n: u64) -> String {
    format!(
        r#"{{"type":"task_run.state","event_id":"{n}","input":{{"input":{{"n":{position}}},"processor":"base"}},"run":{{"run_id":"trun_{n}","status":"completed","is_active":false,"processor":"base","metadata":{{"client_tag":"0123456789abcdef:{position}"}}}},"output":{{"type":"json","content":{{"v":{position}}},"basis":[]}}}}"#
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
fn a_run_the_server_sends_broken_stops_results_with_the_runs_before_it_kept_apart() {
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
    // An earlier export, to be replaced (--force) only by a whole one.
    let output = dir.path().join("all.jsonl");
    std::fs::write(&output, "an earlier export\n").unwrap();
    let out = results_command(&url, "tgrp_broken", &output)
        .arg("--force")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot read run 401 of the group (in stream order)"),
        "{stderr}"
    );
    let partial = dir.path().join("all.jsonl.partial");
    assert!(
        stderr.contains(&format!(
            "The 400 runs read before the failure are in {}; {} was not written",
            partial.display(),
            output.display()
        )),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(&output).unwrap(),
        "an earlier export\n",
        "a failed export leaves the file it would replace as it was"
    );
    let rows = rows_of(&std::fs::read_to_string(&partial).unwrap());
    assert_eq!(rows, (0..400).collect::<Vec<_>>());

    // Without a run to keep, nothing is left behind, and no file is created.
    let mut first_broken = String::new();
    let data = event(0).replace(r#""status":"completed""#, r#""status":"#);
    writeln!(first_broken, "event: task_run.state\ndata: {data}\n").unwrap();
    let url = serve_stream(first_broken);
    let fresh = dir.path().join("fresh.csv");
    let out = results(&url, "tgrp_broken", &fresh);
    assert!(!out.status.success());
    assert_eq!(files_in(dir.path()), ["all.jsonl", "all.jsonl.partial"]);
}

#[test]
fn results_to_standard_output_writes_the_whole_group_there_and_no_file() {
    let mut body = String::new();
    for position in 0..300 {
        writeln!(body, "event: task_run.state\ndata: {}\n", event(position)).unwrap();
    }
    let url = serve_stream(body.clone());
    let dir = tempfile::tempdir().unwrap();
    let out = results_command(&url, "tgrp_all", Path::new("-"))
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows = rows_of(&String::from_utf8(out.stdout).unwrap());
    assert_eq!(rows, (0..300).collect::<Vec<_>>());

    // A group that cannot be read whole: nothing on standard output, and no file anywhere.
    let broken = body.replacen(r#""status":"completed""#, r#""status":"#, 1);
    let url = serve_stream(broken);
    let out = results_command(&url, "tgrp_broken", Path::new("-"))
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot read run 1 of the group"),
        "{stderr}"
    );
    assert!(!stderr.contains(".partial"), "{stderr}");
    assert!(files_in(dir.path()).is_empty());
}

#[test]
fn a_group_still_running_is_written_as_it_stands_and_said_to_be_unfinished() {
    // Runs that take hours: the group is read while every run is queued or running.
    let emu = Emu::start(0.0, 10_000.0);
    let group = crate::support::group_with_runs(&emu, 40, "base");
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("now.jsonl");
    let out = results_command(&emu.url(), &group, &output)
        .arg("--json")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("40 of these runs were not finished yet"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("parallel-batch wait {group}")),
        "{stderr}"
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["unfinished"], 40, "{summary}");
    assert_eq!(summary["failed"], 0, "{summary}");
    let text = std::fs::read_to_string(&output).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 40);
    for line in &lines {
        assert!(
            line["status"] == "queued" || line["status"] == "running",
            "{line}"
        );
        assert!(
            line["error"].is_null(),
            "a run not finished has no error: {line}"
        );
        assert!(line["output"].is_null(), "{line}");
    }
}

/// A `task_run.state` event of a completed run at `position` with this input and output.
fn event_with(position: u64, input: &str, content: &str) -> String {
    format!(
        r#"{{"type":"task_run.state","event_id":"{n}","input":{{"input":{input},"processor":"base"}},"run":{{"run_id":"trun_{position}","status":"completed","is_active":false,"processor":"base","metadata":{{"client_tag":"0123456789abcdef:{position}"}}}},"output":{{"type":"json","content":{content},"basis":[]}}}}"#,
        n = position + 1
    )
}

#[test]
fn csv_results_have_a_column_for_every_member_of_every_input_and_output() {
    // Outputs that each leave out some members of one schema, in its order; a member first
    // seen in the 400th run; inputs that differ too.
    let mut body = String::new();
    for position in 0..500u64 {
        let content = match position % 3 {
            0 => format!(r#"{{"ceo":"c{position}","products":["p"]}}"#),
            1 => format!(r#"{{"ceo":"c{position}","founded":{position},"products":[]}}"#),
            _ if position >= 400 => r#"{"founded":1,"public":true,"products":[]}"#.to_owned(),
            _ => r#"{"founded":2,"products":null}"#.to_owned(),
        };
        let input = if position == 250 {
            r#"{"name":"n250","late":"only here"}"#.to_owned()
        } else {
            format!(r#"{{"name":"n{position}"}}"#)
        };
        writeln!(
            body,
            "event: task_run.state\ndata: {}\n",
            event_with(position, &input, &content)
        )
        .unwrap();
    }
    let url = serve_stream(body);
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("all.csv");
    let out = results(&url, "tgrp_shapes", &csv);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!dir.path().join("all.csv.partial").exists());
    let (header, rows) = read_csv_output(&csv);
    assert_eq!(
        header,
        [
            "row", "name", "late", "ceo", "founded", "public", "products", "run_id", "status",
            "error"
        ]
    );
    assert_eq!(rows.len(), 500);
    assert_eq!(rows[&250]["late"], "only here");
    assert_eq!(rows[&1]["late"], "");
    assert_eq!(rows[&401]["public"], "true");
    assert_eq!(rows[&4]["founded"], "4");
    assert_eq!(rows[&3]["products"], r#"["p"]"#);
    assert_eq!(rows[&3]["founded"], "");

    // Text outputs: one `output` column.
    let mut text = String::new();
    for position in 0..3u64 {
        let data = event_with(
            position,
            r#"{"q":"why"}"#,
            &format!(r#""answer {position}""#),
        );
        writeln!(text, "event: task_run.state\ndata: {data}\n").unwrap();
    }
    let url = serve_stream(text);
    let csv = dir.path().join("text.csv");
    assert!(results(&url, "tgrp_text", &csv).status.success());
    let (header, rows) = read_csv_output(&csv);
    assert_eq!(header, ["row", "q", "output", "run_id", "status", "error"]);
    assert_eq!(rows[&2]["output"], "answer 2");
}

#[test]
fn results_are_in_input_order_unless_completion_order_is_asked_for() {
    // A group whose runs stream gives rows out of order (a retry's runs come last, say),
    // row 5 twice (the failed run and its retry).
    let positions = [3, 0, 4, 1, 5, 2, 5];
    let mut body = String::new();
    for (n, position) in (1..).zip(positions) {
        let data = event_numbered(position, n);
        writeln!(body, "event: task_run.state\ndata: {data}\n").unwrap();
    }
    let url = serve_stream(body);
    let dir = tempfile::tempdir().unwrap();
    for name in ["runs.jsonl", "runs.csv"] {
        let output = dir.path().join(name);
        let out = results(&url, "tgrp_shuffled", &output);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let rows: Vec<u64> = if output.extension().is_some_and(|e| e == "csv") {
            let mut reader = csv::Reader::from_path(&output).unwrap();
            reader
                .records()
                .map(|r| r.unwrap()[0].parse().unwrap())
                .collect()
        } else {
            rows_of(&std::fs::read_to_string(&output).unwrap())
        };
        assert_eq!(rows, [0, 1, 2, 3, 4, 5, 5], "{name}");
    }
    let output = dir.path().join("as-streamed.jsonl");
    let out = results_command(&url, "tgrp_shuffled", &output)
        .args(["--order", "completion"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        rows_of(&std::fs::read_to_string(&output).unwrap()),
        positions
    );
    assert_eq!(
        files_in(dir.path()),
        ["as-streamed.jsonl", "runs.csv", "runs.jsonl"],
        "no partial or temporary file is left"
    );
}
