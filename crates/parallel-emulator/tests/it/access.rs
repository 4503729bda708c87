//! Who the emulator answers: an API key that is never empty, and, without a key, only
//! requests addressed to a loopback name (against DNS rebinding).

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Empty;
use parallel_emulator::Emulator;

use crate::outages::{raw_request, read_until_closed};
use crate::{create_group, instant, start};

#[tokio::test]
async fn an_empty_api_key_is_refused_at_start() {
    let error = Emulator::builder()
        .api_key("")
        .start()
        .await
        .expect_err("an empty key would accept any request");
    assert!(error.is_config(), "{error}");
    assert!(error.to_string().contains("API key is empty"), "{error}");
}

/// Sends `GET {target}` with `host` (none when `None`) on a new connection; returns the
/// status line and body of the answer.
async fn get_addressed(addr: SocketAddr, target: &str, host: Option<&str>) -> (String, String) {
    let host = host.map_or_else(String::new, |h| format!("host: {h}\r\n"));
    let mut tcp = raw_request(
        addr,
        &format!("GET {target} HTTP/1.1\r\n{host}connection: close\r\n\r\n"),
    )
    .await;
    let (data, _) = read_until_closed(&mut tcp, Duration::from_secs(10)).await;
    let text = String::from_utf8_lossy(&data).into_owned();
    let status = text.lines().next().unwrap_or_default().to_owned();
    let body = text.split("\r\n\r\n").nth(1).unwrap_or_default().to_owned();
    (status, body)
}

#[tokio::test]
async fn without_a_key_only_requests_addressed_to_loopback_are_answered() {
    let (emu, client) = instant().await;
    let addr = emu.local_addr();
    let port = addr.port();
    let group = create_group(&client).await;
    let path = format!("/v1/tasks/groups/{group}");
    for host in [
        format!("localhost:{port}"),
        "LOCALHOST.".to_owned(),
        format!("api.localhost:{port}"),
        format!("127.0.0.1:{port}"),
        "127.9.9.9".to_owned(),
        format!("[::1]:{port}"),
    ] {
        let (status, body) = get_addressed(addr, &path, Some(&host)).await;
        assert!(
            status.starts_with("HTTP/1.1 200"),
            "{host}: {status} {body}"
        );
    }
    let evil = format!("http://evil.example:{port}{path}");
    for (target, host) in [
        (path.as_str(), Some(format!("evil.example:{port}"))),
        (path.as_str(), Some("127.0.0.1.evil.example".to_owned())),
        (path.as_str(), Some("localhost.evil.example".to_owned())),
        (path.as_str(), Some("10.0.0.1".to_owned())),
        (path.as_str(), None),
        // An absolute-form request names its authority twice: both must be loopback.
        (evil.as_str(), Some(format!("127.0.0.1:{port}"))),
        ("/_emulator/stats", Some("evil.example".to_owned())),
    ] {
        let (status, body) = get_addressed(addr, target, host.as_deref()).await;
        assert!(
            status.starts_with("HTTP/1.1 403"),
            "{host:?}: {status} {body}"
        );
        let error: parallel_types::ErrorResponse = serde_json::from_str(&body).expect(&body);
        assert!(
            error.error.message.contains("loopback") && error.error.message.contains("API key"),
            "{body}"
        );
    }
    emu.shutdown().await;
}

#[tokio::test]
async fn http2_requests_are_checked_by_their_authority() {
    let (emu, client) = instant().await;
    let group = create_group(&client).await;
    let mut sender = crate::http::http2(emu.local_addr()).await;
    let port = emu.local_addr().port();
    for (authority, status) in [("evil.example", 403), ("localhost", 200)] {
        let request =
            http::Request::get(format!("http://{authority}:{port}/v1/tasks/groups/{group}"))
                .body(Empty::<Bytes>::new())
                .unwrap();
        let response = sender.send_request(request).await.unwrap();
        assert_eq!(response.status().as_u16(), status, "{authority}");
    }
    emu.shutdown().await;
}

#[tokio::test]
async fn with_a_key_any_host_is_answered_with_the_key() {
    let (emu, client) = start(Emulator::builder().api_key("k").time_scale(0.0)).await;
    let client = client.with_key("k");
    let group = create_group(&client).await;
    let mut tcp = raw_request(
        emu.local_addr(),
        &format!(
            "GET /v1/tasks/groups/{group} HTTP/1.1\r\nhost: emulator.internal:9\r\nx-api-key: k\r\nconnection: close\r\n\r\n"
        ),
    )
    .await;
    let (data, _) = read_until_closed(&mut tcp, Duration::from_secs(10)).await;
    assert!(
        data.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&data)
    );
    emu.shutdown().await;
}
