//! Requests never answered, and outage windows (connections refused, or accepted and never
//! answered), with the server working as before once they are over.

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use http_body_util::BodyExt as _;
use hyper_util::rt::TokioIo;
use parallel_emulator::{Emulator, EmulatorHandle, Endpoint, Faults, OutageMode};
use serde_json::json;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use crate::{add_runs, create_group, inputs, start};

/// Polls `check` every 20 ms for at most `limit`; panics with `what` when it never holds.
pub async fn wait_until<F: AsyncFnMut() -> bool>(limit: Duration, what: &str, mut check: F) {
    let started = Instant::now();
    while !check().await {
        assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn refused(addr: SocketAddr) -> bool {
    matches!(TcpStream::connect(addr).await, Err(e) if e.kind() == ErrorKind::ConnectionRefused)
}

/// Sends a raw request; returns the connection for reading the answer.
pub async fn raw_request(addr: SocketAddr, request: &str) -> TcpStream {
    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    tcp.write_all(request.as_bytes()).await.expect("write");
    tcp
}

/// Reads until the server closes the connection or `limit` passes; returns what arrived and
/// whether the connection was closed.
pub async fn read_until_closed(tcp: &mut TcpStream, limit: Duration) -> (Vec<u8>, bool) {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, tcp.read(&mut buf)).await {
            Err(_) => return (data, false),
            Ok(Ok(0) | Err(_)) => return (data, true),
            Ok(Ok(n)) => data.extend_from_slice(&buf[..n]),
        }
    }
}

/// An emulator whose `lite` runs take real seconds, so groups stay active.
async fn slow() -> (EmulatorHandle, crate::http::Client) {
    start(
        Emulator::builder()
            .time_scale(1.0)
            .keep_alive_interval(Duration::from_millis(100)),
    )
    .await
}

#[tokio::test]
async fn hung_requests_are_read_and_never_answered() {
    let (emu, client) = start(Emulator::builder().faults(Faults::none().hang_rate(1.0))).await;
    let body = "{}";
    let mut tcp = raw_request(
        emu.local_addr(),
        &format!("POST /v1/tasks/groups HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}", body.len()),
    )
    .await;
    let (data, closed) = read_until_closed(&mut tcp, Duration::from_millis(800)).await;
    assert!(data.is_empty() && !closed, "no byte, connection held open");
    assert_eq!(emu.stats().requests_hung, 1);
    assert_eq!(
        emu.stats().groups_created,
        0,
        "the request was not carried out"
    );
    drop(tcp);

    emu.set_faults(Faults::none());
    let reply = client.post("/v1/tasks/groups", json!({})).await;
    assert_eq!(reply.status, 200);
    emu.shutdown().await;
}

#[tokio::test]
async fn a_refusing_outage_drops_open_streams_and_rebinds_the_same_port() {
    let (emu, client) = slow().await;
    let addr = emu.local_addr();
    let group = create_group(&client).await;
    add_runs(&client, &group, inputs(0, 2, "lite")).await;
    let events = tokio::spawn({
        let client = client.clone();
        let path = format!("/v1/tasks/groups/{group}/events");
        async move { client.stream(&path).await }
    });
    wait_until(Duration::from_secs(5), "the stream is open", async || {
        emu.stats().requests(Endpoint::GroupEvents) == 1
    })
    .await;

    let started = Instant::now();
    emu.outage(OutageMode::Refuse, Duration::from_secs(2));
    wait_until(Duration::from_secs(5), "connections refused", async || {
        refused(addr).await
    })
    .await;
    let streamed = tokio::time::timeout(Duration::from_secs(5), events)
        .await
        .expect("the open stream ends with the outage")
        .unwrap();
    assert!(!streamed.clean, "the open stream is dropped, not ended");

    wait_until(
        Duration::from_secs(15),
        "the port is bound again",
        async || TcpStream::connect(addr).await.is_ok(),
    )
    .await;
    assert!(
        started.elapsed() >= Duration::from_millis(1900),
        "refused for the whole window, reopened after {:?}",
        started.elapsed()
    );
    let reply = client.get(&format!("/v1/tasks/groups/{group}")).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["status"]["num_task_runs"], 2, "state intact");
    assert!(emu.stats().outage_connections >= 1);
    emu.shutdown().await;
}

#[tokio::test]
async fn a_planned_outage_starts_and_ends_on_time() {
    let emu = Emulator::builder()
        .outage(
            Duration::from_millis(300),
            Duration::from_secs(1),
            OutageMode::Refuse,
        )
        .start()
        .await
        .unwrap();
    let addr = emu.local_addr();
    wait_until(Duration::from_secs(5), "the outage starts", async || {
        refused(addr).await
    })
    .await;
    wait_until(Duration::from_secs(10), "the outage ends", async || {
        TcpStream::connect(addr).await.is_ok()
    })
    .await;
    emu.shutdown().await;
}

/// Reads a response body frame by frame, reporting when each arrived.
async fn watch_stream(addr: SocketAddr, path: String, arrivals: mpsc::UnboundedSender<Instant>) {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let request = http::Request::get(path)
        .header("host", "127.0.0.1")
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .unwrap();
    let mut body = sender.send_request(request).await.unwrap().into_body();
    while let Some(Ok(_)) = body.frame().await {
        if arrivals.send(Instant::now()).is_err() {
            return;
        }
    }
}

#[tokio::test]
async fn a_hanging_outage_silences_streams_and_holds_new_connections() {
    let (emu, client) = slow().await;
    let addr = emu.local_addr();
    let group = create_group(&client).await;
    add_runs(&client, &group, inputs(0, 2, "lite")).await;
    let (tx, mut arrivals) = mpsc::unbounded_channel();
    tokio::spawn(watch_stream(
        addr,
        format!("/v1/tasks/groups/{group}/events"),
        tx,
    ));
    arrivals.recv().await.expect("the stream sends its status");
    arrivals.recv().await.expect("then keep-alives");

    let started = Instant::now();
    emu.outage(OutageMode::Hang, Duration::from_millis(1500));
    let mut held = raw_request(
        addr,
        "GET /v1/tasks/groups HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n",
    )
    .await;
    let (data, closed) = read_until_closed(&mut held, Duration::from_secs(10)).await;
    let held_for = started.elapsed();
    assert!(
        data.is_empty(),
        "not a byte: {}",
        String::from_utf8_lossy(&data)
    );
    assert!(closed, "closed when the outage is over");
    assert!(
        held_for >= Duration::from_millis(1400),
        "held for {held_for:?}"
    );

    let after = arrivals
        .recv()
        .await
        .expect("the stream goes on after the outage");
    let mut during = Vec::new();
    while let Ok(at) = arrivals.try_recv() {
        during.push(at);
    }
    let silent_from = started + Duration::from_millis(300);
    let silent_to = started + Duration::from_millis(1300);
    assert!(
        !std::iter::once(after)
            .chain(during)
            .any(|at| at > silent_from && at < silent_to),
        "no byte on the open stream during the outage"
    );
    let reply = client.get(&format!("/v1/tasks/groups/{group}")).await;
    assert_eq!(reply.status, 200, "works again, state intact");
    assert_eq!(reply.json()["status"]["num_task_runs"], 2);
    assert!(emu.stats().outage_connections >= 1);
    emu.shutdown().await;
}
