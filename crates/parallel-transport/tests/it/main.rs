//! Integration tests of `HyperTransport` over real loopback sockets, against servers started by
//! the tests themselves.

mod failures;
mod http1;
mod proxy;
mod server;
mod tls;

use bytes::Bytes;
use parallel_transport::HyperTransport;

/// A transport that ignores any proxy set in the environment the tests run in.
fn transport() -> HyperTransport {
    HyperTransport::builder()
        .no_proxy()
        .build()
        .expect("default transport builds")
}

fn get(url: &str) -> http::Request<Bytes> {
    http::Request::get(url)
        .body(Bytes::new())
        .expect("valid request")
}
