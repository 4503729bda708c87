//! The `parallel-emulator` binary: first stdout line, flags, refusal of bad settings.

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};

use http::StatusCode;
use serde_json::json;

use crate::http::Client;

#[tokio::test]
async fn the_binary_prints_its_address_and_serves_with_its_flags() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_parallel-emulator"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--api-key",
            "bin-key",
            "--time-scale",
            "0",
            "--seed",
            "3",
            "--fail-rate",
            "1",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base_url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("first line: {line:?}"));
    assert!(base_url.starts_with("http://127.0.0.1:"), "{base_url}");

    let anonymous = Client::new(base_url);
    anonymous
        .post("/v1/tasks/groups", json!({}))
        .await
        .expect_error(StatusCode::UNAUTHORIZED);
    let client = anonymous.with_key("bin-key");
    let group = crate::create_group(&client).await;
    let added = crate::add_runs(&client, &group, crate::inputs(0, 2, "lite")).await;
    assert_eq!(
        added["status"]["task_run_status_counts"],
        json!({"failed": 2}),
        "--fail-rate 1 fails every run"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn the_binary_refuses_non_loopback_addresses() {
    let output = Command::new(env!("CARGO_BIN_EXE_parallel-emulator"))
        .args(["--listen", "0.0.0.0:0"])
        .output()
        .expect("the binary runs");
    assert!(!output.status.success());
    assert!(
        output.stdout.is_empty(),
        "nothing on stdout when not listening"
    );
    assert!(String::from_utf8_lossy(&output.stderr).contains("loopback"));
}
