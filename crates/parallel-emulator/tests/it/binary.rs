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

#[test]
fn an_empty_api_key_is_refused_not_taken_for_none() {
    for (args, env) in [(&["--api-key", ""][..], None), (&[][..], Some(""))] {
        let mut command = Command::new(env!("CARGO_BIN_EXE_parallel-emulator"));
        command.args(["--listen", "127.0.0.1:0"]).args(args);
        command.env_remove("PARALLEL_EMULATOR_API_KEY");
        if let Some(value) = env {
            command.env("PARALLEL_EMULATOR_API_KEY", value);
        }
        let output = command.output().expect("the binary runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?} {env:?}: {stderr}");
        assert!(output.stdout.is_empty(), "not listening");
        assert!(stderr.contains("API key is empty"), "{stderr}");
    }
}

#[tokio::test]
async fn the_binary_takes_the_rough_edge_flags() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_parallel-emulator"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--time-scale",
            "0",
            "--lenient-payloads",
            "--error-event-after",
            "1",
            "--close-streams-after-secs",
            "30",
            "--hang-rate",
            "0",
            "--header-read-timeout-secs",
            "5",
            "--body-read-timeout-secs",
            "5",
            "--max-connections",
            "64",
            "--outage-at",
            "0.5",
            "--outage-secs",
            "1",
            "--outage-mode",
            "refuse",
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
        .unwrap()
        .to_owned();
    let addr: std::net::SocketAddr = base_url.strip_prefix("http://").unwrap().parse().unwrap();
    // The planned outage refuses connections for a while, then the port serves again.
    crate::outages::wait_until(
        std::time::Duration::from_secs(10),
        "the outage",
        async || tokio::net::TcpStream::connect(addr).await.is_err(),
    )
    .await;
    crate::outages::wait_until(
        std::time::Duration::from_secs(10),
        "the end of it",
        async || tokio::net::TcpStream::connect(addr).await.is_ok(),
    )
    .await;
    let client = Client::new(&base_url);
    let group = crate::create_group(&client).await;
    crate::add_runs(&client, &group, crate::inputs(0, 2, "pro")).await;
    let streamed = client
        .stream(&format!("/v1/tasks/groups/{group}/events"))
        .await;
    let (frames, _, _) = crate::http::split_frames(&streamed.body);
    assert_eq!(
        frames.last().unwrap().event,
        "error",
        "--error-event-after 1"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn the_binary_names_a_bad_outage_mode() {
    let output = Command::new(env!("CARGO_BIN_EXE_parallel-emulator"))
        .args(["--outage-mode", "down"])
        .output()
        .expect("the binary runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("`down`") && stderr.contains("refuse or hang"),
        "{stderr}"
    );
}

#[tokio::test]
async fn the_binary_takes_quota_flags_and_prints_a_random_webhook_secret_on_stderr() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_parallel-emulator"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--time-scale",
            "0",
            "--credits",
            "1",
            "--rate-limit",
            "100",
            "--webhook-attempts",
            "2",
            "--webhook-timeout-secs",
            "1",
        ])
        .env_remove("PARALLEL_EMULATOR_WEBHOOK_SECRET")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base_url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("the first stdout line is the address: {line:?}"))
        .to_owned();
    let mut err_line = String::new();
    BufReader::new(child.stderr.take().unwrap())
        .read_line(&mut err_line)
        .unwrap();
    assert!(
        err_line.contains("webhook secret") && err_line.contains("whsec_"),
        "{err_line}"
    );

    let client = Client::new(&base_url);
    let run = json!({"input": "x", "processor": "lite"});
    assert_eq!(
        client.post("/v1/tasks/runs", run.clone()).await.status,
        StatusCode::ACCEPTED
    );
    client
        .post("/v1/tasks/runs", run)
        .await
        .expect_error(StatusCode::PAYMENT_REQUIRED);
    let stats = client.get("/_emulator/stats").await.json();
    assert_eq!(stats["credits"], 0);
    assert_eq!(stats["rate_limit_per_minute"], 100);
    child.kill().unwrap();
    child.wait().unwrap();
}
