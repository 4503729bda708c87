//! Requests, streaming and connection reuse over plain HTTP on loopback.

use bytes::Bytes;
use futures::StreamExt;
use http_body_util::BodyExt;
use parallel_transport::{SharedTransport, Transport};

use crate::server::{Server, channel_body, full, guard, response};
use crate::{get, transport};

/// Answers with what it received: method, path and query, the body length and the body.
async fn echo_server() -> Server {
    Server::start(|request: http::Request<hyper::body::Incoming>| async move {
        let head = format!(
            "{} {} {}\n",
            request.method(),
            request.uri().path_and_query().map_or("", |p| p.as_str()),
            request
                .headers()
                .get("x-test")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-")
        );
        let body = request
            .into_body()
            .collect()
            .await
            .expect("request body")
            .to_bytes();
        let mut echoed = head.into_bytes();
        echoed.extend_from_slice(&body);
        response(200, full(echoed))
    })
    .await
}

#[tokio::test]
async fn get_and_post_carry_method_path_headers_and_bodies() {
    let server = echo_server().await;
    let transport = SharedTransport::new(transport());

    let response = guard(transport.send(get(&server.url("/v1/things?limit=2"))))
        .await
        .expect("GET");
    assert_eq!(response.status(), 200);
    let body = response.into_body().collect().await.expect("body");
    assert_eq!(body, "GET /v1/things?limit=2 -\n");

    // A body larger than any single read or frame, to exercise the request body path.
    let payload: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let request = http::Request::post(server.url("/v1/things"))
        .header("x-test", "yes")
        .header("content-type", "application/octet-stream")
        .body(Bytes::from(payload.clone()))
        .expect("valid request");
    let response = guard(transport.send(request)).await.expect("POST");
    let body = response.into_body().collect().await.expect("body");
    let (head, echoed) =
        body.split_at(body.iter().position(|&b| b == b'\n').expect("a head line") + 1);
    assert_eq!(head, b"POST /v1/things yes\n");
    assert_eq!(echoed, payload.as_slice());
}

#[tokio::test]
async fn response_body_is_delivered_frame_by_frame_without_buffering() {
    let (sender_tx, sender_rx) = tokio::sync::oneshot::channel();
    let sender_tx = std::sync::Mutex::new(Some(sender_tx));
    let server = Server::start(move |_request| {
        let (sender, body) = channel_body();
        if let Some(tx) = sender_tx.lock().expect("lock").take() {
            let _ = tx.send(sender);
        }
        async move { response(200, body) }
    })
    .await;

    let transport = transport();
    let response = guard(transport.send(get(&server.url("/events"))))
        .await
        .expect("response head");
    let sender = guard(sender_rx).await.expect("the server's body sender");
    let mut stream = response.into_body().into_stream();

    // The second frame is only written after the client has seen the first: a transport that
    // buffered the body would wait forever here (and trip the hang guard).
    sender
        .send(Bytes::from_static(b"first"))
        .await
        .expect("send first");
    let first = guard(stream.next()).await.expect("a frame").expect("data");
    assert_eq!(first, "first");
    sender
        .send(Bytes::from_static(b"second"))
        .await
        .expect("send second");
    let second = guard(stream.next()).await.expect("a frame").expect("data");
    assert_eq!(second, "second");
    drop(sender);
    assert!(
        guard(stream.next()).await.is_none(),
        "the body ends when the server ends it"
    );
}

#[tokio::test]
async fn connections_are_reused_across_requests() {
    let server = echo_server().await;
    let transport = transport();
    for i in 0..5 {
        let response = guard(transport.send(get(&server.url(&format!("/{i}")))))
            .await
            .expect("GET");
        let body = response.into_body().collect().await.expect("body");
        assert_eq!(body, format!("GET /{i} -\n"));
    }
    assert_eq!(
        server.connections(),
        1,
        "one kept-alive connection for five requests"
    );
}

#[tokio::test]
async fn dropping_a_body_mid_stream_discards_the_connection_cleanly() {
    let (senders_tx, mut senders_rx) = tokio::sync::mpsc::unbounded_channel();
    let server = Server::start(move |request: http::Request<hyper::body::Incoming>| {
        let streaming = request.uri().path() == "/stream";
        let (sender, body) = channel_body();
        if streaming {
            let _ = senders_tx.send(sender);
        }
        async move {
            if streaming {
                response(200, body)
            } else {
                response(200, full("done"))
            }
        }
    })
    .await;
    let transport = transport();

    let response = guard(transport.send(get(&server.url("/stream"))))
        .await
        .expect("head");
    let sender = guard(senders_rx.recv()).await.expect("sender");
    sender
        .send(Bytes::from_static(b"part"))
        .await
        .expect("send");
    let mut stream = response.into_body().into_stream();
    assert_eq!(
        guard(stream.next()).await.expect("frame").expect("data"),
        "part"
    );
    drop(stream);

    // The server notices that nobody reads any more: its writes start failing once the
    // connection is gone (`closed` resolves when the body, hence the connection, is dropped).
    guard(sender.closed()).await;

    // The transport keeps working, on a new connection.
    let response = guard(transport.send(get(&server.url("/after"))))
        .await
        .expect("next request");
    assert_eq!(response.into_body().collect().await.expect("body"), "done");
    assert_eq!(
        server.connections(),
        2,
        "the half-read connection was not reused"
    );
}

#[tokio::test]
async fn collect_limited_stops_at_the_limit() {
    let server = Server::start(|_request| async { response(200, full(vec![b'x'; 10_000])) }).await;
    let transport = transport();
    let response = guard(transport.send(get(&server.url("/big"))))
        .await
        .expect("head");
    let error = response
        .into_body()
        .collect_limited(1_000)
        .await
        .expect_err("too large");
    assert!(error.is_limit(), "{error:?}");
    assert!(error.to_string().contains("1000 bytes"), "{error}");

    let response = guard(transport.send(get(&server.url("/big"))))
        .await
        .expect("head");
    let body = response
        .into_body()
        .collect_limited(10_000)
        .await
        .expect("fits exactly");
    assert_eq!(body.len(), 10_000);
}

#[tokio::test]
async fn http2_with_prior_knowledge_over_plain_loopback() {
    let server = Server::start(|request: http::Request<hyper::body::Incoming>| async move {
        response(200, full(format!("{:?}", request.version())))
    })
    .await;
    let transport = parallel_transport::HyperTransport::builder()
        .no_proxy()
        .http2_only(true)
        .build()
        .expect("builds");
    let response = guard(transport.send(get(&server.url("/"))))
        .await
        .expect("h2c");
    assert_eq!(response.version(), http::Version::HTTP_2);
    assert_eq!(
        response.into_body().collect().await.expect("body"),
        "HTTP/2.0"
    );
}
