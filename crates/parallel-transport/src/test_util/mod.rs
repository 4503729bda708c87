//! Transports for tests (feature `test-util`).
//!
//! - [`FnTransport`]: a transport from an async closure, for one-off behaviours.
//! - [`ReplayTransport`]: answers from a script of [`Exchange`]s and checks that the requests it
//!   received are the ones the script expects (method, path and query, headers, body).
//! - [`FaultTransport`]: wraps any transport and damages what comes back, reproducibly from a
//!   seed: response bodies split at fixed or random sizes down to 1 byte, bodies cut after N
//!   bytes, delays, requests that fail before being sent, and responses lost after the server
//!   processed the request.
//!
//! ```
//! use parallel_transport::test_util::{Exchange, FaultTransport, ReplayTransport};
//! use parallel_transport::SharedTransport;
//!
//! # async fn run() -> Result<(), parallel_transport::TransportError> {
//! let replay = ReplayTransport::new()
//!     .expect(Exchange::get("/v1/things/1").respond(200, r#"{"id":"1"}"#));
//! // Deliver the body one byte at a time.
//! let transport = SharedTransport::new(FaultTransport::new(replay.clone()).split_every(1));
//!
//! let request = http::Request::get("http://127.0.0.1/v1/things/1")
//!     .body(bytes::Bytes::new())
//!     .expect("a valid request");
//! let body = transport.send(request).await?.into_body().collect().await?;
//! assert_eq!(body, r#"{"id":"1"}"#);
//! replay.assert_done();
//! # Ok(())
//! # }
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(run()).unwrap();
//! ```

mod fault;
mod replay;

use std::fmt;
use std::future::Future;

use bytes::Bytes;

pub use self::fault::FaultTransport;
pub use self::replay::{Exchange, ReplayTransport};
use crate::{Body, Transport, TransportError};

/// A transport made from a closure returning a future.
///
/// ```
/// use parallel_transport::{Body, test_util::FnTransport};
///
/// let transport = FnTransport::new(|request: http::Request<bytes::Bytes>| async move {
///     let path = request.uri().path().to_owned();
///     Ok(http::Response::new(Body::from(path)))
/// });
/// # let _ = transport;
/// ```
pub struct FnTransport<F> {
    handler: F,
}

impl<F, Fut> FnTransport<F>
where
    F: Fn(http::Request<Bytes>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<http::Response<Body>, TransportError>> + Send + 'static,
{
    /// Calls `handler` for every request.
    pub fn new(handler: F) -> Self {
        Self { handler }
    }
}

impl<F, Fut> Transport for FnTransport<F>
where
    F: Fn(http::Request<Bytes>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<http::Response<Body>, TransportError>> + Send + 'static,
{
    fn send(
        &self,
        request: http::Request<Bytes>,
    ) -> impl Future<Output = Result<http::Response<Body>, TransportError>> + Send {
        (self.handler)(request)
    }
}

impl<F> fmt::Debug for FnTransport<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FnTransport").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SharedTransport;

    #[tokio::test]
    async fn fn_transport_calls_the_closure() {
        let transport = SharedTransport::new(FnTransport::new(|request: http::Request<Bytes>| {
            let body = request.into_body();
            async move {
                let mut response = http::Response::new(Body::from_bytes(body));
                *response.status_mut() = http::StatusCode::CREATED;
                Ok(response)
            }
        }));
        let request = http::Request::post("http://127.0.0.1/")
            .body(Bytes::from_static(b"ping"))
            .expect("valid");
        let response = transport.send(request).await.expect("answered");
        assert_eq!(response.status(), http::StatusCode::CREATED);
        assert_eq!(response.into_body().collect().await.expect("body"), "ping");
    }

    #[tokio::test]
    async fn shared_transport_is_not_wrapped_twice() {
        let shared = SharedTransport::new(FnTransport::new(|_| async {
            Err(TransportError::not_sent(std::io::Error::other("offline")))
        }));
        let again = SharedTransport::new(shared.clone());
        assert_eq!(format!("{shared:?}"), format!("{again:?}"));
        let request = http::Request::get("http://127.0.0.1/")
            .body(Bytes::new())
            .expect("valid");
        let error = again.send(request).await.expect_err("fails");
        assert!(error.is_request_not_sent());
    }
}
