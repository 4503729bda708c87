//! HTTPS with a test certificate: HTTP/2 by ALPN, trust by `add_root_certificate`, and the
//! connect timeout covering the TLS handshake.

use std::error::Error as _;
use std::time::Duration;

use parallel_transport::{HyperTransport, Transport};

use crate::get;
use crate::server::{RawListener, Server, TestCertificate, full, guard, response};

/// A transport that trusts `certificate` (and talks to it directly, without a proxy).
fn trusting(certificate: &TestCertificate) -> HyperTransport {
    HyperTransport::builder()
        .no_proxy()
        .add_root_certificate(certificate.der.clone())
        .build()
        .expect("builds")
}

async fn version_server(certificate: &TestCertificate) -> Server {
    Server::start_tls(
        |request: http::Request<hyper::body::Incoming>| async move {
            response(200, full(format!("{:?}", request.version())))
        },
        certificate,
    )
    .await
}

#[tokio::test]
async fn http2_over_tls_with_a_trusted_test_certificate() {
    let certificate = TestCertificate::new(&["localhost"]);
    let server = version_server(&certificate).await;
    let transport = trusting(&certificate);

    let url = format!("https://localhost:{}/v1/secure", server.addr.port());
    for _ in 0..3 {
        let response = guard(transport.send(get(&url))).await.expect("TLS request");
        assert_eq!(response.version(), http::Version::HTTP_2, "ALPN chose h2");
        assert_eq!(
            response.into_body().collect().await.expect("body"),
            "HTTP/2.0"
        );
    }
    assert_eq!(
        server.connections(),
        1,
        "HTTP/2 requests share one connection"
    );
}

#[tokio::test]
async fn an_untrusted_certificate_is_rejected_before_sending() {
    let certificate = TestCertificate::new(&["localhost"]);
    let server = version_server(&certificate).await;
    // Trusts the webpki roots, which do not include the test certificate.
    let transport = HyperTransport::builder()
        .no_proxy()
        .build()
        .expect("builds");

    let url = format!("https://localhost:{}/", server.addr.port());
    let error = guard(transport.send(get(&url)))
        .await
        .expect_err("untrusted");
    assert!(error.is_connect(), "{error:?}");
    assert!(error.is_request_not_sent(), "{error:?}");
    assert!(!error.is_timeout(), "{error:?}");
    assert!(error.to_string().contains("certificate"), "{error}");
    assert!(error.source().is_some(), "the cause is kept");
    crate::assert_each_cause_said_once(&error);
}

#[tokio::test]
async fn a_certificate_for_another_name_is_rejected() {
    let certificate = TestCertificate::new(&["other.example"]);
    let server = version_server(&certificate).await;
    let transport = trusting(&certificate);
    let url = format!("https://localhost:{}/", server.addr.port());
    let error = guard(transport.send(get(&url)))
        .await
        .expect_err("wrong name");
    assert!(
        error.is_connect() && error.is_request_not_sent(),
        "{error:?}"
    );
}

#[tokio::test]
async fn the_connect_timeout_covers_a_tls_handshake_that_never_completes() {
    // Accepts TCP connections and holds them open without ever answering the ClientHello.
    let listener = RawListener::bind().await;
    let addr = listener.addr;
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        loop {
            held.push(listener.accept().await);
        }
    });

    let transport = HyperTransport::builder()
        .no_proxy()
        .connect_timeout(Duration::from_millis(300))
        .build()
        .expect("builds");
    let url = format!("https://localhost:{}/", addr.port());
    let error = guard(transport.send(get(&url)))
        .await
        .expect_err("handshake never completes");
    assert!(error.is_connect(), "{error:?}");
    assert!(error.is_timeout(), "{error:?}");
    assert!(error.is_request_not_sent(), "{error:?}");
    assert!(error.to_string().contains("300ms"), "{error}");
    crate::assert_each_cause_said_once(&error);
    holder.abort();
}

#[tokio::test]
async fn dropping_an_http2_body_mid_stream_resets_only_that_stream() {
    let certificate = TestCertificate::new(&["localhost"]);
    let (senders_tx, mut senders_rx) = tokio::sync::mpsc::unbounded_channel();
    let server = Server::start_tls(
        move |request: http::Request<hyper::body::Incoming>| {
            let streaming = request.uri().path() == "/events";
            let (sender, body) = crate::server::channel_body();
            if streaming {
                let _ = senders_tx.send(sender);
            }
            async move {
                if streaming {
                    response(200, body)
                } else {
                    response(200, full("after"))
                }
            }
        },
        &certificate,
    )
    .await;
    let transport = trusting(&certificate);
    let base = format!("https://localhost:{}", server.addr.port());

    let response = guard(transport.send(get(&format!("{base}/events"))))
        .await
        .expect("head");
    assert_eq!(response.version(), http::Version::HTTP_2);
    let sender = guard(senders_rx.recv()).await.expect("sender");
    sender
        .send(bytes::Bytes::from_static(b"event"))
        .await
        .expect("send");
    let mut stream = response.into_body().into_stream();
    let first = guard(futures::StreamExt::next(&mut stream)).await;
    assert_eq!(first.expect("frame").expect("data"), "event");
    drop(stream);

    // The server sees the stream reset...
    guard(sender.closed()).await;
    // ...while the connection itself stays up and serves the next request.
    let response = guard(transport.send(get(&format!("{base}/next"))))
        .await
        .expect("next request");
    assert_eq!(response.into_body().collect().await.expect("body"), "after");
    assert_eq!(server.connections(), 1, "HTTP/2 kept the connection");
}
