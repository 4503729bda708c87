//! `HyperTransport` against a bare hyper-util client, both talking to the same in-process hyper
//! server over loopback:
//!
//! - `transport/stream_256MiB`: one 256 MiB response body read frame by frame (throughput);
//! - `transport/small_get`: a small GET round trip on a kept-alive connection (latency).
//!
//! The difference between the two rows of a group is the cost of the transport layer: the
//! type-erased `Body`, the error classification and the connector stack (proxy, TLS, timeout)
//! that a kept-alive plain connection skips.
//!
//! Run: `cargo bench -p parallel-benches --bench transport -- --warm-up-time 1 --measurement-time 5 --noplot`

use std::convert::Infallible;
use std::hint::black_box;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use futures::StreamExt;
use http_body_util::{BodyExt, Empty, Full, StreamBody, combinators::BoxBody};
use hyper::body::Frame;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use parallel_transport::{HyperTransport, SharedTransport};
use tokio::runtime::Runtime;

const BIG: u64 = 256 * 1024 * 1024;
/// The server writes the big body in frames of this size (all clones of one buffer).
const SERVER_FRAME: usize = 64 * 1024;

type ServerBody = BoxBody<Bytes, Infallible>;

/// A hyper HTTP/1.1 server: `/big` streams `BIG` bytes, anything else answers `ok`.
async fn start_server() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the bench server");
    let addr = listener.local_addr().expect("local address");
    tokio::spawn(async move {
        let chunk = Bytes::from(vec![b'x'; SERVER_FRAME]);
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            let chunk = chunk.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request: http::Request<_>| {
                    let chunk = chunk.clone();
                    async move {
                        let response = if request.uri().path() == "/big" {
                            let frames = BIG / SERVER_FRAME as u64;
                            let body = StreamBody::new(futures::stream::iter(
                                (0..frames).map(move |_| Ok(Frame::data(chunk.clone()))),
                            ));
                            http::Response::builder()
                                .header("content-length", BIG)
                                .body(BodyExt::boxed(body))
                        } else {
                            http::Response::builder()
                                .header("content-type", "application/json")
                                .body(Full::new(Bytes::from_static(b"{\"ok\":true}")).boxed())
                        };
                        Ok::<http::Response<ServerBody>, Infallible>(
                            response.expect("valid response"),
                        )
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

fn bare_client() -> Client<HttpConnector, Empty<Bytes>> {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    Client::builder(TokioExecutor::new())
        .pool_timer(TokioTimer::new())
        .build(connector)
}

fn transport() -> SharedTransport {
    SharedTransport::new(
        HyperTransport::builder()
            .no_proxy()
            .build()
            .expect("the transport builds"),
    )
}

fn get(url: &str) -> http::Request<Bytes> {
    http::Request::get(url)
        .body(Bytes::new())
        .expect("valid request")
}

async fn read_via_transport(transport: &SharedTransport, url: &str) -> u64 {
    let response = transport.send(get(url)).await.expect("response");
    let mut stream = response.into_body().into_stream();
    let mut total = 0u64;
    while let Some(frame) = stream.next().await {
        total += frame.expect("frame").len() as u64;
    }
    total
}

async fn read_via_bare(client: &Client<HttpConnector, Empty<Bytes>>, url: &str) -> u64 {
    let request = http::Request::get(url)
        .body(Empty::new())
        .expect("valid request");
    let mut body = client.request(request).await.expect("response").into_body();
    let mut total = 0u64;
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.expect("frame").into_data() {
            total += data.len() as u64;
        }
    }
    total
}

fn runtime() -> Runtime {
    // Two workers: the server and the client each get one of the two cores.
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn stream_256mib(c: &mut Criterion) {
    let rt = runtime();
    let addr = rt.block_on(start_server());
    let url = format!("http://{addr}/big");
    let transport = transport();
    let bare = bare_client();

    let mut group = c.benchmark_group("transport/stream_256MiB");
    group
        .throughput(Throughput::Bytes(BIG))
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10);
    group.bench_function("HyperTransport", |b| {
        b.iter(|| {
            let n = rt.block_on(read_via_transport(&transport, &url));
            assert_eq!(n, BIG);
            black_box(n)
        });
    });
    group.bench_function("bare hyper-util", |b| {
        b.iter(|| {
            let n = rt.block_on(read_via_bare(&bare, &url));
            assert_eq!(n, BIG);
            black_box(n)
        });
    });
    group.finish();
}

fn small_get(c: &mut Criterion) {
    let rt = runtime();
    let addr = rt.block_on(start_server());
    let url = format!("http://{addr}/v1/tasks/groups/tgrp_1");
    let transport = transport();
    let bare = bare_client();

    let mut group = c.benchmark_group("transport/small_get");
    group.throughput(Throughput::Elements(1));
    group.bench_function("HyperTransport", |b| {
        b.iter(|| {
            rt.block_on(async {
                let response = transport.send(get(&url)).await.expect("response");
                black_box(response.into_body().collect().await.expect("body"))
            })
        });
    });
    group.bench_function("bare hyper-util", |b| {
        b.iter(|| {
            rt.block_on(async {
                let request = http::Request::get(url.as_str())
                    .body(Empty::new())
                    .expect("valid request");
                let response = bare.request(request).await.expect("response");
                black_box(
                    response
                        .into_body()
                        .collect()
                        .await
                        .expect("body")
                        .to_bytes(),
                )
            })
        });
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1));
    targets = stream_256mib, small_get
}
criterion_main!(benches);
