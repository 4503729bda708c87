//! Proxies: `CONNECT` tunnels for https://, absolute-form forwarding for http://, credentials,
//! and loopback destinations that bypass the proxy.

use std::time::Duration;

use http_body_util::BodyExt;
use parallel_transport::{HyperTransport, Transport};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::get;
use crate::server::{RawListener, Server, TestCertificate, full, guard, read_head, response};

#[tokio::test]
async fn https_goes_through_a_connect_tunnel_with_credentials() {
    // The destination name is resolved by the proxy only: here the proxy sends every tunnel to
    // the local TLS server, whose certificate is for that name.
    let certificate = TestCertificate::new(&["api.example.test"]);
    let origin = Server::start_tls(
        |request: http::Request<hyper::body::Incoming>| async move {
            let body = request
                .into_body()
                .collect()
                .await
                .expect("body")
                .to_bytes();
            response(200, full(body))
        },
        &certificate,
    )
    .await;
    let proxy = RawListener::bind().await;
    let proxy_address = proxy.addr;
    let origin_addr = origin.addr;
    let proxy_task = tokio::spawn(async move {
        let mut client = proxy.accept().await;
        let head = read_head(&mut client).await;
        let mut upstream = TcpStream::connect(origin_addr).await.expect("origin");
        client
            .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
            .await
            .expect("write");
        let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
        head
    });

    let transport = HyperTransport::builder()
        .proxy(format!("http://user:secret@{proxy_address}"), "")
        .add_root_certificate(certificate.der.clone())
        .build()
        .expect("builds");
    let request = http::Request::post("https://api.example.test:8443/v1/tasks/groups")
        .body(bytes::Bytes::from_static(b"tunnelled"))
        .expect("valid request");
    let response = guard(transport.send(request))
        .await
        .expect("through the tunnel");
    assert_eq!(
        response.into_body().collect().await.expect("body"),
        "tunnelled"
    );
    drop(transport);

    let head = guard(proxy_task).await.expect("proxy task");
    assert!(
        head.starts_with("CONNECT api.example.test:8443 HTTP/1.1\r\n"),
        "{head}"
    );
    // "user:secret" in base64.
    assert!(
        head.to_ascii_lowercase()
            .contains("proxy-authorization: basic dxnlcjpzzwnyzxq="),
        "{head}"
    );
}

#[tokio::test]
async fn loopback_destinations_bypass_the_proxy() {
    let proxy = RawListener::bind().await;
    let server = Server::start(|_request| async { response(200, full("direct")) }).await;
    let transport = HyperTransport::builder()
        .proxy(format!("http://{}", proxy.addr), "")
        .build()
        .expect("builds");
    for host in ["127.0.0.1", "localhost"] {
        let url = format!("http://{host}:{}/", server.addr.port());
        let response = guard(transport.send(get(&url))).await.expect("direct");
        assert_eq!(
            response.into_body().collect().await.expect("body"),
            "direct"
        );
    }
    let attempted = tokio::time::timeout(Duration::from_millis(200), proxy.listener.accept()).await;
    assert!(attempted.is_err(), "the proxy saw no connection");
}

#[tokio::test]
async fn a_proxy_refusing_the_tunnel_is_a_connect_error() {
    let proxy = RawListener::bind().await;
    let addr = proxy.addr;
    let proxy_task = tokio::spawn(async move {
        let mut client = proxy.accept().await;
        read_head(&mut client).await;
        client
            .write_all(b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n")
            .await
            .expect("write");
    });
    let transport = HyperTransport::builder()
        .proxy(format!("http://{addr}"), "")
        .build()
        .expect("builds");
    let error = guard(transport.send(get("https://api.example.test/")))
        .await
        .expect_err("refused");
    assert!(
        error.is_connect() && error.is_request_not_sent(),
        "{error:?}"
    );
    assert!(error.to_string().contains("proxy"), "{error}");
    crate::assert_each_cause_said_once(&error);
    proxy_task.await.expect("proxy task");
}
