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

/// Fails when the text of an error in the chain holds the text of an error after it: an
/// error reporter prints `source()` after the message, so each cause is said once.
fn assert_each_cause_said_once(error: &(dyn std::error::Error + 'static)) {
    let mut chain = Vec::new();
    let mut next = Some(error);
    while let Some(e) = next {
        chain.push(e.to_string());
        next = e.source();
    }
    for (i, text) in chain.iter().enumerate() {
        for later in &chain[i + 1..] {
            assert!(
                !text.contains(later.as_str()),
                "`{text}` repeats its cause `{later}` (chain: {chain:#?})"
            );
        }
    }
}
