//! The emulator's own limits: slow or idle clients are closed, and a cap on open
//! connections keeps it answering.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Empty, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use parallel_emulator::{Emulator, EmulatorHandle};
use tokio::net::TcpStream;

use crate::outages::{raw_request, read_until_closed, wait_until};
use crate::{add_runs, create_group, inputs};

/// The bytes that open an HTTP/2 connection with prior knowledge.
const H2_PREFACE: &str = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Whether a new connection is answered `status` (a plain HTTP/1.1 request).
async fn probe_answers(addr: std::net::SocketAddr, status: &str) -> bool {
    let mut probe = raw_request(
        addr,
        "GET /v1/tasks/groups/x HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n",
    )
    .await;
    let (data, _) = read_until_closed(&mut probe, Duration::from_secs(5)).await;
    data.starts_with(format!("HTTP/1.1 {status}").as_bytes())
}

async fn short_timeouts() -> EmulatorHandle {
    Emulator::builder()
        .header_read_timeout(Duration::from_millis(300))
        .body_read_timeout(Duration::from_millis(300))
        .start()
        .await
        .unwrap()
}

#[tokio::test]
async fn idle_connections_are_closed_after_the_header_timeout() {
    let emu = short_timeouts().await;
    let started = Instant::now();
    let mut idle = raw_request(emu.local_addr(), "").await;
    let (data, closed) = read_until_closed(&mut idle, Duration::from_secs(10)).await;
    assert!(closed, "closed, not left open");
    assert!(
        data.is_empty() || data.starts_with(b"HTTP/1.1 408"),
        "{data:?}"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "{:?}",
        started.elapsed()
    );

    // Idle after an answer, on a kept-alive connection: closed too.
    let mut kept = raw_request(
        emu.local_addr(),
        "GET /v1/tasks/groups/x HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n",
    )
    .await;
    let (data, closed) = read_until_closed(&mut kept, Duration::from_secs(10)).await;
    assert!(
        data.starts_with(b"HTTP/1.1 404"),
        "{}",
        String::from_utf8_lossy(&data)
    );
    assert!(closed, "closed while idle after the answer");
    emu.shutdown().await;
}

#[tokio::test]
async fn half_sent_headers_are_closed_after_the_header_timeout() {
    let emu = short_timeouts().await;
    let mut half = raw_request(
        emu.local_addr(),
        "GET /v1/tasks/groups/x HTTP/1.1\r\nhost: 127.0.0.1\r\n",
    )
    .await;
    let (data, closed) = read_until_closed(&mut half, Duration::from_secs(10)).await;
    assert!(closed);
    assert!(
        data.is_empty() || data.starts_with(b"HTTP/1.1 408"),
        "{data:?}"
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn a_body_shorter_than_its_length_is_answered_408_and_closed() {
    let emu = short_timeouts().await;
    let mut short = raw_request(
        emu.local_addr(),
        "POST /v1/tasks/groups HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"metadata\":",
    )
    .await;
    let (data, closed) = read_until_closed(&mut short, Duration::from_secs(10)).await;
    assert!(closed);
    let text = String::from_utf8_lossy(&data);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("did not arrive in full"), "{text}");
    assert_eq!(emu.stats().groups_created, 0);
    emu.shutdown().await;
}

#[tokio::test]
async fn connections_over_the_cap_get_503_while_open_ones_keep_working() {
    let emu = Emulator::builder()
        .max_connections(2)
        .start()
        .await
        .unwrap();
    let addr = emu.local_addr();
    // One client with a kept-alive connection, one idle connection: the cap is reached.
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut kept, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let create = || {
        http::Request::post("/v1/tasks/groups")
            .header("host", "127.0.0.1")
            .body(Full::new(Bytes::from_static(b"{}")))
            .unwrap()
    };
    assert_eq!(kept.send_request(create()).await.unwrap().status(), 200);
    let idle = TcpStream::connect(addr).await.unwrap();

    let mut over = raw_request(
        addr,
        "GET /v1/tasks/groups/x HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n",
    )
    .await;
    let (data, closed) = read_until_closed(&mut over, Duration::from_secs(10)).await;
    assert!(closed, "closed after the answer");
    let text = String::from_utf8_lossy(&data);
    assert!(text.starts_with("HTTP/1.1 503"), "{text}");
    let body = text.split("\r\n\r\n").nth(1).unwrap_or_default();
    let error: parallel_types::ErrorResponse = serde_json::from_str(body).expect("JSON error");
    assert!(
        error.error.message.contains("too many open connections"),
        "{body}"
    );
    assert_eq!(emu.stats().connections_over_cap, 1);

    let again = kept.send_request(create()).await.unwrap();
    assert_eq!(again.status(), 200, "the open connection is still served");
    let _ = again.into_body().collect().await;

    drop(idle);
    wait_until(Duration::from_secs(10), "a place frees up", async || {
        probe_answers(addr, "404").await
    })
    .await;
    emu.shutdown().await;
}

#[tokio::test]
async fn idle_http2_connections_are_closed_and_give_their_place_back() {
    let emu = Emulator::builder()
        .max_connections(4)
        .header_read_timeout(Duration::from_millis(300))
        .start()
        .await
        .unwrap();
    let addr = emu.local_addr();
    let started = Instant::now();
    // Four connections that open HTTP/2 and then ask for nothing: two written by hand (which
    // never answer a ping), two from hyper's client (which does).
    let mut by_hand = Vec::new();
    for _ in 0..2 {
        by_hand.push(raw_request(addr, H2_PREFACE).await);
    }
    let mut clients = Vec::new();
    for _ in 0..2 {
        let stream = TcpStream::connect(addr).await.unwrap();
        let (sender, conn) = hyper::client::conn::http2::handshake::<_, _, Empty<Bytes>>(
            TokioExecutor::new(),
            TokioIo::new(stream),
        )
        .await
        .unwrap();
        clients.push((sender, tokio::spawn(conn)));
    }
    wait_until(Duration::from_secs(5), "every place is taken", async || {
        probe_answers(addr, "503").await
    })
    .await;

    for mut idle in by_hand {
        let (_, closed) = read_until_closed(&mut idle, Duration::from_secs(10)).await;
        assert!(closed, "an idle HTTP/2 connection is closed");
    }
    for (_sender, conn) in clients {
        tokio::time::timeout(Duration::from_secs(10), conn)
            .await
            .expect("the server closes an idle HTTP/2 connection")
            .unwrap()
            .ok();
    }
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "not before the timeout: {:?}",
        started.elapsed()
    );
    assert!(
        probe_answers(addr, "404").await,
        "real requests are served again"
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn an_http2_connection_with_a_stream_open_is_not_idle() {
    let emu = Emulator::builder()
        .time_scale(1.0)
        .keep_alive_interval(Duration::from_millis(50))
        .header_read_timeout(Duration::from_millis(200))
        .start()
        .await
        .unwrap();
    let client = crate::http::Client::new(&emu.base_url());
    let group = create_group(&client).await;
    add_runs(&client, &group, inputs(0, 1, "lite")).await;

    let mut sender = crate::http::http2(emu.local_addr()).await;
    let events = http::Request::get(format!("{}/v1/tasks/groups/{group}/events", emu.base_url()))
        .body(Empty::<Bytes>::new())
        .unwrap();
    let mut body = sender.send_request(events).await.unwrap().into_body();
    // Keep-alive comments go on arriving well past the idle timeout.
    let open = Instant::now();
    while open.elapsed() < Duration::from_millis(700) {
        let frame = tokio::time::timeout(Duration::from_secs(5), body.frame())
            .await
            .expect("the stream goes on")
            .expect("not ended")
            .expect("not broken");
        assert!(frame.is_data());
    }
    // And the connection still takes requests.
    let again = http::Request::get(format!("{}/v1/tasks/groups/{group}", emu.base_url()))
        .body(Empty::<Bytes>::new())
        .unwrap();
    assert_eq!(sender.send_request(again).await.unwrap().status(), 200);
    emu.shutdown().await;
}

/// Opens a group events stream on a connection of its own and returns once its headers are in.
async fn open_events(
    addr: std::net::SocketAddr,
    group: &str,
) -> http::Response<hyper::body::Incoming> {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let request = http::Request::get(format!("/v1/tasks/groups/{group}/events"))
        .header("host", addr.to_string())
        .body(Empty::<Bytes>::new())
        .unwrap();
    sender.send_request(request).await.unwrap()
}

#[tokio::test]
async fn event_streams_beyond_the_cap_get_503_until_one_ends() {
    let emu = Emulator::builder()
        .time_scale(1.0)
        .keep_alive_interval(Duration::from_millis(50))
        .max_event_streams(2)
        .start()
        .await
        .unwrap();
    let client = crate::http::Client::new(&emu.base_url());
    let group = create_group(&client).await;
    add_runs(&client, &group, inputs(0, 1, "lite")).await;
    let first = open_events(emu.local_addr(), &group).await;
    let second = open_events(emu.local_addr(), &group).await;
    assert_eq!(
        (first.status().as_u16(), second.status().as_u16()),
        (200, 200)
    );

    for path in [
        format!("/v1/tasks/groups/{group}/events"),
        format!("/v1/tasks/groups/{group}/runs"),
    ] {
        let refused = client.get(&path).await;
        let message = refused.expect_error(http::StatusCode::SERVICE_UNAVAILABLE);
        assert!(message.contains("2 event streams"), "{message}");
        assert_eq!(refused.headers["retry-after"], "1");
    }
    // Other requests are served meanwhile.
    assert_eq!(
        client
            .get(&format!("/v1/tasks/groups/{group}"))
            .await
            .status,
        200
    );

    drop(first);
    wait_until(Duration::from_secs(10), "a place frees up", async || {
        client
            .stream(&format!("/v1/tasks/groups/{group}/runs"))
            .await
            .status
            == 200
    })
    .await;
    drop(second);
    emu.shutdown().await;
}
