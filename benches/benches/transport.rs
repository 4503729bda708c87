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
//! The server runs on its own thread; the client (its connection task included) runs on a
//! current-thread runtime on the bench thread. Each group is measured twice: by wall time
//! (`transport/...`) and by the CPU time of the client thread (`transport_cpu/...`), which on a
//! machine shared with other work is far less noisy and is what the transport layer adds to.
//!
//! Run: `cargo bench -p parallel-benches --bench transport -- --warm-up-time 1 --measurement-time 5 --noplot`
//! (`TRANSPORT_AB=1` first prints an interleaved comparison, see `interleaved_report`).

use std::convert::Infallible;
use std::hint::black_box;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{Criterion, SamplingMode, Throughput, criterion_group};
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

/// Starts, on a thread of its own, a hyper HTTP/1.1 server: `/big` streams `BIG` bytes,
/// anything else answers a small JSON object. The thread lives as long as the process.
fn start_server() -> SocketAddr {
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("server runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind the bench server");
            addr_tx
                .send(listener.local_addr().expect("local address"))
                .expect("report the address");
            serve(listener).await;
        });
    });
    addr_rx.recv().expect("the server started")
}

async fn serve(listener: tokio::net::TcpListener) {
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
                    Ok::<http::Response<ServerBody>, Infallible>(response.expect("valid response"))
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// The client side: everything, connection tasks included, on the bench thread.
fn client_runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime")
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

fn stream_256mib<M: Measurement + 'static>(c: &mut Criterion<M>, prefix: &str) {
    let addr = start_server();
    let rt = client_runtime();
    let url = format!("http://{addr}/big");
    let transport = rt.block_on(async { transport() });
    let bare = rt.block_on(async { bare_client() });

    let mut group = c.benchmark_group(format!("{prefix}/stream_256MiB"));
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

fn small_get<M: Measurement + 'static>(c: &mut Criterion<M>, prefix: &str) {
    let addr = start_server();
    let rt = client_runtime();
    let url = format!("http://{addr}/v1/tasks/groups/tgrp_1");
    let transport = rt.block_on(async { transport() });
    let bare = rt.block_on(async { bare_client() });

    let mut group = c.benchmark_group(format!("{prefix}/small_get"));
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

/// CPU time consumed by the calling thread (`CLOCK_THREAD_CPUTIME_ID`): time the bench thread
/// spent waiting for the server or for a core does not count.
struct ThreadCpuTime;

static WALL_TIME: WallTime = WallTime;

fn thread_cpu_now() -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // The only unsafe code of the benches: a libc call writing into a local `timespec`.
    #[allow(unsafe_code)]
    // SAFETY: `now` is a valid, writable timespec for the duration of the call.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &raw mut now) };
    assert_eq!(status, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
    Duration::new(
        u64::try_from(now.tv_sec).unwrap_or(0),
        u32::try_from(now.tv_nsec).unwrap_or(0),
    )
}

impl Measurement for ThreadCpuTime {
    type Intermediate = Duration;
    type Value = Duration;

    fn start(&self) -> Duration {
        thread_cpu_now()
    }

    fn end(&self, started: Duration) -> Duration {
        thread_cpu_now().saturating_sub(started)
    }

    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }

    fn zero(&self) -> Duration {
        Duration::ZERO
    }

    fn to_f64(&self, value: &Duration) -> f64 {
        value.as_secs_f64() * 1e9
    }

    fn formatter(&self) -> &dyn ValueFormatter {
        // Nanoseconds, like wall time.
        WALL_TIME.formatter()
    }
}

fn wall(c: &mut Criterion) {
    stream_256mib(c, "transport");
    small_get(c, "transport");
}

fn cpu(c: &mut Criterion<ThreadCpuTime>) {
    stream_256mib(c, "transport_cpu");
    small_get(c, "transport_cpu");
}

criterion_group! {
    name = wall_time;
    config = Criterion::default().warm_up_time(Duration::from_secs(1));
    targets = wall
}
criterion_group! {
    name = client_cpu_time;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .with_measurement(ThreadCpuTime);
    targets = cpu
}

/// Criterion measures one client after the other, so a change in the machine's load between the
/// two windows shows up as a difference. With `TRANSPORT_AB=1`, this first alternates the two
/// clients block by block on the same connection set-up and prints the median, over the
/// blocks, of the client-thread CPU time ratio `HyperTransport / bare hyper-util`.
fn interleaved_report() {
    const ROUNDS: usize = 21;
    const GETS_PER_BLOCK: usize = 300;
    let addr = start_server();
    let rt = client_runtime();
    let transport = rt.block_on(async { transport() });
    let bare = rt.block_on(async { bare_client() });
    let big = format!("http://{addr}/big");
    let small = format!("http://{addr}/v1/tasks/groups/tgrp_1");

    let cpu_of = |f: &dyn Fn()| {
        let started = thread_cpu_now();
        f();
        thread_cpu_now().saturating_sub(started)
    };
    let report = |name: &str, ours: &[Duration], theirs: &[Duration], per: f64| {
        let mut ratios: Vec<f64> = ours
            .iter()
            .zip(theirs)
            .map(|(a, b)| a.as_secs_f64() / b.as_secs_f64())
            .collect();
        ratios.sort_by(f64::total_cmp);
        let median = |v: &[Duration]| {
            let mut v: Vec<f64> = v.iter().map(Duration::as_secs_f64).collect();
            v.sort_by(f64::total_cmp);
            v[v.len() / 2] / per
        };
        println!(
            "interleaved/{name}: client CPU per op: HyperTransport {:.3} us, bare hyper-util {:.3} us; \
             median ratio {:.3} (quartiles {:.3} .. {:.3}, {} rounds)",
            median(ours) * 1e6,
            median(theirs) * 1e6,
            ratios[ratios.len() / 2],
            ratios[ratios.len() / 4],
            ratios[ratios.len() * 3 / 4],
            ratios.len(),
        );
    };

    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        ours.push(cpu_of(&|| {
            assert_eq!(rt.block_on(read_via_transport(&transport, &big)), BIG);
        }));
        theirs.push(cpu_of(&|| {
            assert_eq!(rt.block_on(read_via_bare(&bare, &big)), BIG);
        }));
    }
    report("stream_256MiB", &ours, &theirs, 1.0);

    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        ours.push(cpu_of(&|| {
            rt.block_on(async {
                for _ in 0..GETS_PER_BLOCK {
                    let response = transport.send(get(&small)).await.expect("response");
                    black_box(response.into_body().collect().await.expect("body"));
                }
            });
        }));
        theirs.push(cpu_of(&|| {
            rt.block_on(async {
                for _ in 0..GETS_PER_BLOCK {
                    let request = http::Request::get(small.as_str())
                        .body(Empty::new())
                        .expect("valid request");
                    let response = bare.request(request).await.expect("response");
                    black_box(response.into_body().collect().await.expect("body"));
                }
            });
        }));
    }
    #[allow(clippy::cast_precision_loss)]
    report("small_get", &ours, &theirs, GETS_PER_BLOCK as f64);
}

fn main() {
    if std::env::var_os("TRANSPORT_AB").is_some() {
        interleaved_report();
    }
    wall_time();
    client_cpu_time();
    Criterion::default().configure_from_args().final_summary();
}
