//! The HTTP layer of the Parallel API client: one request attempt in, a streaming response out.
//!
//! The client sends every request through a [`Transport`], so the HTTP stack can be swapped (for
//! another HTTP client, a proxy-aware one, or a mock in tests) without the client becoming
//! generic: it stores a [`SharedTransport`], a cheap-to-clone, type-erased handle.
//!
//! - [`Transport`]: one method, written as a plain `async fn`: an [`http::Request<Bytes>`] in,
//!   an [`http::Response<Body>`] out. One attempt: no retries, no redirects followed.
//! - [`Body`]: a streaming body of [`Bytes`](bytes::Bytes) frames (an [`http_body::Body`]), read frame by frame
//!   with [`Body::into_stream`] or whole with [`Body::collect_limited`].
//! - [`TransportError`]: opaque, with the predicates a retry policy needs
//!   ([`is_request_not_sent`](TransportError::is_request_not_sent),
//!   [`is_connect`](TransportError::is_connect), [`is_timeout`](TransportError::is_timeout),
//!   [`is_body`](TransportError::is_body)) and the cause in `source()`.
//! - `HyperTransport` (feature `hyper`, on by default): hyper 1 with a connection pool, HTTP/1.1
//!   and HTTP/2, rustls with the `ring` crypto provider (or the one given to
//!   [`HyperTransportBuilder::crypto_provider`], such as `aws-lc-rs`), proxies from the
//!   environment, plain `http://` only to loopback.
//! - `test_util` (feature `test-util`): `FnTransport`, `ReplayTransport` and `FaultTransport`,
//!   for tests that need responses the network will not produce on demand.
//!
//! No hyper or hyper-util type appears in the public API, and rustls's only where a crypto
//! provider is chosen ([`HyperTransportBuilder::crypto_provider`]).
//!
//! # Example
//!
//! A transport is anything that can answer a request; here, one that echoes the request body:
//!
//! ```
//! use bytes::Bytes;
//! use parallel_transport::{Body, SharedTransport, Transport, TransportError};
//!
//! struct Echo;
//!
//! impl Transport for Echo {
//!     async fn send(
//!         &self,
//!         request: http::Request<Bytes>,
//!     ) -> Result<http::Response<Body>, TransportError> {
//!         Ok(http::Response::new(Body::from_bytes(request.into_body())))
//!     }
//! }
//!
//! # async fn run() -> Result<(), TransportError> {
//! let transport = SharedTransport::new(Echo);
//! let request = http::Request::post("https://api.parallel.ai/v1/echo")
//!     .body(Bytes::from_static(b"hello"))
//!     .expect("a valid request");
//! let response = transport.send(request).await?;
//! let body = response.into_body().collect_limited(1 << 20).await?;
//! assert_eq!(body, "hello");
//! # Ok(())
//! # }
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(run()).unwrap();
//! ```
//!
//! With the default `hyper` feature, the production transport:
//!
//! ```no_run
//! # #[cfg(feature = "hyper")]
//! # async fn run() -> Result<(), parallel_transport::TransportError> {
//! use std::time::Duration;
//! use parallel_transport::{HyperTransport, SharedTransport};
//!
//! let transport = HyperTransport::builder()
//!     .connect_timeout(Duration::from_secs(5))
//!     .build()?;
//! let transport = SharedTransport::new(transport);
//! # let _ = transport;
//! # Ok(())
//! # }
//! ```
//!
//! # Cargo features
//!
//! - `hyper` (default): `HyperTransport`, hyper 1 + rustls with the `ring` provider and the
//!   webpki root certificates, HTTP/1.1 and HTTP/2, connection pooling and proxies from the
//!   environment. Without it the crate is the trait and its types only, for a transport of
//!   your own.
//! - `native-roots`: `HyperTransport` also trusts the operating system's root certificates.
//!   Implies `hyper`.
//! - `test-util`: the `test_util` module, `FnTransport`, `ReplayTransport` and
//!   `FaultTransport`, for tests.
#![deny(missing_docs)]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod body;
mod error;
#[cfg(feature = "hyper")]
mod hyper_transport;
#[cfg(feature = "test-util")]
pub mod test_util;
mod transport;

pub use crate::body::{Body, BodyStream};
pub use crate::error::TransportError;
#[cfg(feature = "hyper")]
pub use crate::hyper_transport::{HyperTransport, HyperTransportBuilder};
pub use crate::transport::{SharedTransport, Transport};

/// The README's examples, compiled and run as doctests so that they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
