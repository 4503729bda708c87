//! Failures and how they are classified for retries.

use std::time::Duration;

use bytes::Bytes;
use parallel_transport::{HyperTransport, Transport};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::server::{RawListener, guard, read_head};
use crate::{get, transport};

#[tokio::test]
async fn a_refused_connection_is_connect_and_not_sent() {
    // A port that was just free: nothing listens there any more.
    let port = RawListener::bind().await.addr.port();
    let transport = transport();
    let error = guard(transport.send(get(&format!("http://127.0.0.1:{port}/"))))
        .await
        .expect_err("refused");
    assert!(error.is_connect(), "{error:?}");
    assert!(error.is_request_not_sent(), "{error:?}");
    assert!(!error.is_timeout() && !error.is_body(), "{error:?}");
    assert!(error.to_string().contains("refused"), "{error}");
}

#[tokio::test]
async fn a_body_cut_by_the_server_mid_stream_is_a_body_error() {
    let listener = RawListener::bind().await;
    let url = format!("http://{}/cut", listener.addr);
    let server = tokio::spawn(async move {
        let mut stream = listener.accept().await;
        read_head(&mut stream).await;
        // Promises 100 bytes, sends 10, and closes the connection.
        stream
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n0123456789")
            .await
            .expect("write");
        stream.shutdown().await.expect("shutdown");
    });
    let transport = transport();
    let response = guard(transport.send(get(&url)))
        .await
        .expect("the head arrives");
    assert_eq!(response.status(), 200);
    let error = guard(response.into_body().collect())
        .await
        .expect_err("cut");
    assert!(error.is_body(), "{error:?}");
    assert!(
        !error.is_request_not_sent() && !error.is_connect(),
        "{error:?}"
    );
    server.await.expect("server task");
}

#[tokio::test]
async fn a_response_lost_after_the_request_was_written_is_not_not_sent() {
    let listener = RawListener::bind().await;
    let url = format!("http://{}/v1/tasks/groups", listener.addr);
    let server = tokio::spawn(async move {
        let mut stream = listener.accept().await;
        let head = read_head(&mut stream).await;
        let mut body = [0u8; 2];
        stream.read_exact(&mut body).await.expect("request body");
        // The request was processed; the connection drops before any response.
        drop(stream);
        (head, body)
    });
    let transport = transport();
    let request = http::Request::post(url)
        .body(Bytes::from_static(b"{}"))
        .expect("valid request");
    let error = guard(transport.send(request))
        .await
        .expect_err("no response");
    assert!(
        !error.is_request_not_sent(),
        "the server did get the request: {error:?}"
    );
    assert!(!error.is_connect() && !error.is_body(), "{error:?}");
    let (head, body) = server.await.expect("server task");
    assert!(
        head.starts_with("POST /v1/tasks/groups HTTP/1.1\r\n"),
        "{head}"
    );
    assert_eq!(&body, b"{}");
}

#[tokio::test]
async fn plain_http_to_a_non_loopback_host_is_refused_without_network_traffic() {
    // Any connection attempt would go to this "proxy" instead of the network; none must come.
    let proxy = RawListener::bind().await;
    let transport = HyperTransport::builder()
        .proxy(format!("http://{}", proxy.addr), "")
        .build()
        .expect("builds");
    for url in [
        "http://example.com/v1/tasks",
        "http://10.1.2.3/",
        "http://[2001:db8::1]/",
    ] {
        let error = guard(transport.send(get(url)))
            .await
            .expect_err("plain http refused");
        assert!(error.is_config(), "{url}: {error:?}");
        assert!(
            error.is_request_not_sent() && !error.is_connect(),
            "{url}: {error:?}"
        );
        assert!(error.to_string().contains("allow_plain_http"), "{error}");
    }
    let attempted = tokio::time::timeout(Duration::from_millis(200), proxy.listener.accept()).await;
    assert!(attempted.is_err(), "no connection was attempted");
}

#[tokio::test]
async fn plain_http_to_a_non_loopback_host_is_allowed_when_asked() {
    // Through a forwarding proxy on loopback, so that nothing leaves the machine.
    let proxy = RawListener::bind().await;
    let transport = HyperTransport::builder()
        .allow_plain_http(true)
        .proxy(format!("http://user:secret@{}", proxy.addr), "")
        .build()
        .expect("builds");
    let server = tokio::spawn(async move {
        let mut stream = proxy.accept().await;
        let head = read_head(&mut stream).await;
        stream
            .write_all(b"HTTP/1.1 204 No Content\r\n\r\n")
            .await
            .expect("write");
        head
    });
    let response = guard(transport.send(get("http://example.com/v1/tasks")))
        .await
        .expect("allowed");
    assert_eq!(response.status(), 204);
    let head = server.await.expect("proxy task");
    assert!(
        head.starts_with("GET http://example.com/v1/tasks HTTP/1.1\r\n"),
        "{head}"
    );
    // The forwarded request carries the proxy credentials ("user:secret" in base64).
    let lower = head.to_ascii_lowercase();
    assert!(
        lower.contains("proxy-authorization: basic dxnlcjpzzwnyzxq="),
        "{head}"
    );
}
