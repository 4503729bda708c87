//! The [`Transport`] trait and [`SharedTransport`], its type-erased, cloneable handle.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;

use crate::{Body, TransportError};

/// Sends one HTTP request attempt and returns the response head with a streaming body.
///
/// A transport does one attempt per call: no retries, no redirects followed, no authentication.
/// Those belong to the client above it. Implement it with a plain `async fn`:
///
/// ```
/// use bytes::Bytes;
/// use parallel_transport::{Body, Transport, TransportError};
///
/// /// Answers every request with `204 No Content`.
/// struct NoContent;
///
/// impl Transport for NoContent {
///     async fn send(
///         &self,
///         _request: http::Request<Bytes>,
///     ) -> Result<http::Response<Body>, TransportError> {
///         let mut response = http::Response::new(Body::empty());
///         *response.status_mut() = http::StatusCode::NO_CONTENT;
///         Ok(response)
///     }
/// }
/// ```
///
/// Classify failures with the [`TransportError`] constructors: in particular, report failures
/// that happened before the request could reach the server with [`TransportError::connect`] or
/// [`TransportError::not_sent`], because that is what makes retrying a `POST` safe.
///
/// Adapting another HTTP client takes three conversions: build that client's request from the
/// `http::Request<Bytes>` (most clients accept `http` types directly); copy the status, version
/// and headers of its response into an `http::Response`, with the body streamed through
/// [`Body::from_stream`] (any `Stream<Item = Result<Bytes, E>>`); and map its errors to
/// [`TransportError::connect`], [`TransportError::timeout`] or [`TransportError::request`]
/// according to its own predicates.
pub trait Transport: Send + Sync + 'static {
    /// Sends `request` (absolute URI, headers and the whole body) once.
    fn send(
        &self,
        request: http::Request<Bytes>,
    ) -> impl Future<Output = Result<http::Response<Body>, TransportError>> + Send;
}

impl<T: Transport> Transport for Arc<T> {
    fn send(
        &self,
        request: http::Request<Bytes>,
    ) -> impl Future<Output = Result<http::Response<Body>, TransportError>> + Send {
        T::send(self, request)
    }
}

type SendFuture<'a> =
    Pin<Box<dyn Future<Output = Result<http::Response<Body>, TransportError>> + Send + 'a>>;

/// The object-safe twin of [`Transport`], implemented for every transport.
trait DynTransport: Send + Sync + 'static {
    fn send_boxed(&self, request: http::Request<Bytes>) -> SendFuture<'_>;
    fn type_name(&self) -> &'static str;
}

impl<T: Transport> DynTransport for T {
    fn send_boxed(&self, request: http::Request<Bytes>) -> SendFuture<'_> {
        Box::pin(self.send(request))
    }

    fn type_name(&self) -> &'static str {
        std::any::type_name::<T>()
    }
}

/// A type-erased [`Transport`] behind an `Arc`: cloning it is a reference-count increment.
///
/// This is what a client stores, so that the client type does not carry the transport as a
/// generic parameter. `SharedTransport` is itself a `Transport`, so it can be wrapped again.
///
/// ```
/// # #[cfg(feature = "test-util")] {
/// use parallel_transport::{Body, SharedTransport, test_util::FnTransport};
///
/// let transport = SharedTransport::new(FnTransport::new(|_request| async {
///     Ok(http::Response::new(Body::from("pong")))
/// }));
/// let clone = transport.clone(); // cheap
/// # let _ = clone;
/// # }
/// ```
#[derive(Clone)]
pub struct SharedTransport {
    inner: Arc<dyn DynTransport>,
}

impl SharedTransport {
    /// Erases the type of `transport`. A `SharedTransport` passed in is returned as is.
    pub fn new<T: Transport>(transport: T) -> Self {
        // Wrapping a `SharedTransport` again would add a box and a dynamic call per request.
        if let Some(shared) = (&transport as &dyn Any).downcast_ref::<SharedTransport>() {
            return shared.clone();
        }
        Self {
            inner: Arc::new(transport),
        }
    }

    /// Sends one request attempt through the wrapped transport.
    pub async fn send(
        &self,
        request: http::Request<Bytes>,
    ) -> Result<http::Response<Body>, TransportError> {
        self.inner.send_boxed(request).await
    }
}

impl Transport for SharedTransport {
    fn send(
        &self,
        request: http::Request<Bytes>,
    ) -> impl Future<Output = Result<http::Response<Body>, TransportError>> + Send {
        self.inner.send_boxed(request)
    }
}

impl fmt::Debug for SharedTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SharedTransport")
            .field(&self.inner.type_name())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BodyStream;

    fn send_sync_clone<T: Send + Sync + Clone + 'static>() {}
    fn send_unpin<T: Send + Unpin + 'static>() {}
    fn send_future<F: Future + Send>(_: &F) {}

    #[test]
    fn handles_and_bodies_cross_threads() {
        send_sync_clone::<SharedTransport>();
        send_unpin::<Body>();
        send_unpin::<BodyStream>();
        let transport = SharedTransport::new(Arc::new(Echo));
        let request = http::Request::new(Bytes::new());
        send_future(&transport.send(request));
    }

    struct Echo;

    impl Transport for Echo {
        async fn send(
            &self,
            request: http::Request<Bytes>,
        ) -> Result<http::Response<Body>, TransportError> {
            Ok(http::Response::new(Body::from_bytes(request.into_body())))
        }
    }

    #[test]
    fn debug_names_the_wrapped_transport() {
        let transport = SharedTransport::new(Echo);
        assert!(format!("{transport:?}").contains("Echo"), "{transport:?}");
    }
}
