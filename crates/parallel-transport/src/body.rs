//! [`Body`]: a streaming response (or request) body, and [`BodyStream`], its data as a `Stream`.

use std::any::Any;
use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Bytes, BytesMut};
use futures_core::Stream;
use http_body::{Body as _, Frame, SizeHint};

use crate::error::{BoxError, TransportError, body_error};

/// A streaming HTTP body: a sequence of [`Bytes`] frames that may fail mid-stream.
///
/// `Body` implements [`http_body::Body`] with `Data = Bytes` and `Error = TransportError`, so it
/// plugs into the `http-body` ecosystem. Frames are handed over as the transport receives them,
/// never buffered: read them with [`into_stream`](Self::into_stream), or gather everything with
/// [`collect`](Self::collect) / [`collect_limited`](Self::collect_limited).
///
/// Dropping a body before its end is fine: the transport discards the connection it came on
/// instead of reusing it.
pub struct Body {
    inner: Inner,
}

enum Inner {
    Full(Option<Bytes>),
    #[cfg(feature = "hyper")]
    Incoming(hyper::body::Incoming),
    Boxed(Pin<Box<dyn http_body::Body<Data = Bytes, Error = TransportError> + Send>>),
}

impl Body {
    /// A body with no bytes.
    pub fn empty() -> Self {
        Self {
            inner: Inner::Full(None),
        }
    }

    /// A body of one buffer, handed over without copying.
    pub fn from_bytes(bytes: impl Into<Bytes>) -> Self {
        let bytes = bytes.into();
        Self {
            inner: Inner::Full((!bytes.is_empty()).then_some(bytes)),
        }
    }

    /// A body from a stream of buffers. An error item becomes a [`TransportError`] for which
    /// [`is_body`](TransportError::is_body) is true (a `TransportError` item is kept as is).
    pub fn from_stream<S, E>(stream: S) -> Self
    where
        S: Stream<Item = Result<Bytes, E>> + Send + 'static,
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        Self {
            inner: Inner::Boxed(Box::pin(StreamBody {
                stream: Box::pin(stream),
            })),
        }
    }

    /// Wraps any [`http_body::Body`] with `Bytes` data. Its errors become [`TransportError`]s
    /// for which [`is_body`](TransportError::is_body) is true (a `TransportError` is kept as is).
    pub fn new<B>(body: B) -> Self
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        // A `Body` given back to us is used as is rather than boxed once more.
        let mut slot = Some(body);
        if let Some(body) = (&mut slot as &mut dyn Any).downcast_mut::<Option<Body>>()
            && let Some(body) = body.take()
        {
            return body;
        }
        match slot {
            Some(body) => Self {
                inner: Inner::Boxed(Box::pin(http_body_util::BodyExt::map_err(body, |e| {
                    body_error(e.into())
                }))),
            },
            // Only reached when the slot held a `Body` and was emptied above.
            None => Self::empty(),
        }
    }

    #[cfg(feature = "hyper")]
    pub(crate) fn from_incoming(body: hyper::body::Incoming) -> Self {
        Self {
            inner: Inner::Incoming(body),
        }
    }

    /// The data frames of the body as a [`Stream`]; trailers are skipped.
    pub fn into_stream(self) -> BodyStream {
        BodyStream { body: self }
    }

    /// Reads the whole body into one buffer.
    ///
    /// Prefer [`collect_limited`](Self::collect_limited) for bodies whose size the program does
    /// not control.
    pub async fn collect(self) -> Result<Bytes, TransportError> {
        self.collect_limited(usize::MAX).await
    }

    /// Reads the whole body into one buffer, failing with an error for which
    /// [`is_limit`](TransportError::is_limit) is true as soon as it is known to exceed `max`
    /// bytes (from the announced length when there is one, else while reading).
    ///
    /// A body made of a single frame is returned without copying.
    pub async fn collect_limited(mut self, max: usize) -> Result<Bytes, TransportError> {
        let hint = http_body::Body::size_hint(&self);
        if usize::try_from(hint.lower()).map_or(true, |lower| lower > max) {
            return Err(TransportError::body_too_large(max));
        }
        let mut first: Option<Bytes> = None;
        let mut rest: Option<BytesMut> = None;
        let mut total = 0usize;
        while let Some(data) = std::future::poll_fn(|cx| poll_data(&mut self, cx)).await {
            let data = data?;
            if data.is_empty() {
                continue;
            }
            total = total.saturating_add(data.len());
            if total > max {
                return Err(TransportError::body_too_large(max));
            }
            match (&mut first, &mut rest) {
                (None, _) => first = Some(data),
                (Some(head), None) => {
                    // Second frame: from here on the body is copied into one buffer, sized from
                    // the announced length when the server gave one.
                    let expected = hint.exact().and_then(|n| usize::try_from(n).ok());
                    let capacity = expected.unwrap_or(0).max(head.len() + data.len()).min(max);
                    let mut buffer = BytesMut::with_capacity(capacity);
                    buffer.extend_from_slice(head);
                    buffer.extend_from_slice(&data);
                    rest = Some(buffer);
                }
                (Some(_), Some(buffer)) => buffer.extend_from_slice(&data),
            }
        }
        Ok(match (first, rest) {
            (_, Some(buffer)) => buffer.freeze(),
            (Some(only), None) => only,
            (None, None) => Bytes::new(),
        })
    }
}

/// Polls the next data frame, skipping trailers.
fn poll_data(body: &mut Body, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, TransportError>>> {
    loop {
        match ready!(Pin::new(&mut *body).poll_frame(cx)) {
            None => return Poll::Ready(None),
            Some(Err(error)) => return Poll::Ready(Some(Err(error))),
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    return Poll::Ready(Some(Ok(data)));
                }
            }
        }
    }
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = TransportError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, TransportError>>> {
        match &mut self.get_mut().inner {
            Inner::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            #[cfg(feature = "hyper")]
            Inner::Incoming(incoming) => Pin::new(incoming)
                .poll_frame(cx)
                .map_err(crate::hyper_transport::classify_body_error),
            Inner::Boxed(body) => body.as_mut().poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.inner {
            Inner::Full(bytes) => bytes.is_none(),
            #[cfg(feature = "hyper")]
            Inner::Incoming(incoming) => incoming.is_end_stream(),
            Inner::Boxed(body) => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.inner {
            Inner::Full(bytes) => {
                SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64))
            }
            #[cfg(feature = "hyper")]
            Inner::Incoming(incoming) => incoming.size_hint(),
            Inner::Boxed(body) => body.size_hint(),
        }
    }
}

impl Default for Body {
    fn default() -> Self {
        Self::empty()
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.inner {
            Inner::Full(_) => "full",
            #[cfg(feature = "hyper")]
            Inner::Incoming(_) => "streaming",
            Inner::Boxed(_) => "boxed",
        };
        f.debug_struct("Body")
            .field("kind", &kind)
            .field("size_hint", &http_body::Body::size_hint(self))
            .finish()
    }
}

impl From<Bytes> for Body {
    fn from(bytes: Bytes) -> Self {
        Self::from_bytes(bytes)
    }
}

impl From<Vec<u8>> for Body {
    fn from(bytes: Vec<u8>) -> Self {
        Self::from_bytes(bytes)
    }
}

impl From<String> for Body {
    fn from(text: String) -> Self {
        Self::from_bytes(text)
    }
}

impl From<&'static str> for Body {
    fn from(text: &'static str) -> Self {
        Self::from_bytes(text)
    }
}

impl From<&'static [u8]> for Body {
    fn from(bytes: &'static [u8]) -> Self {
        Self::from_bytes(bytes)
    }
}

/// The data of a [`Body`] as a [`Stream`] of `Result<Bytes, TransportError>`; from
/// [`Body::into_stream`].
///
/// Empty frames are passed on as they come; trailers are skipped.
#[derive(Debug)]
pub struct BodyStream {
    body: Body,
}

impl BodyStream {
    /// Gives the body back, with whatever has not been read yet.
    pub fn into_body(self) -> Body {
        self.body
    }
}

impl Stream for BodyStream {
    type Item = Result<Bytes, TransportError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        poll_data(&mut self.get_mut().body, cx)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        if http_body::Body::is_end_stream(&self.body) {
            (0, Some(0))
        } else {
            (0, None)
        }
    }
}

/// Adapts a stream of buffers to `http_body::Body`.
struct StreamBody<S> {
    stream: Pin<Box<S>>,
}

impl<S, E> http_body::Body for StreamBody<S>
where
    S: Stream<Item = Result<Bytes, E>>,
    E: Into<BoxError>,
{
    type Data = Bytes;
    type Error = TransportError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, TransportError>>> {
        self.stream
            .as_mut()
            .poll_next(cx)
            .map_ok(Frame::data)
            .map_err(|e| body_error(e.into()))
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use futures::StreamExt;
    use http_body_util::{BodyExt, StreamBody};

    use super::*;

    fn chunks(parts: &[&'static str]) -> Body {
        let parts: Vec<Result<Bytes, std::io::Error>> = parts
            .iter()
            .map(|p| Ok(Bytes::from_static(p.as_bytes())))
            .collect();
        Body::from_stream(futures::stream::iter(parts))
    }

    #[tokio::test]
    async fn collect_joins_frames() {
        assert_eq!(
            chunks(&["ab", "", "cd", "e"])
                .collect()
                .await
                .expect("body"),
            "abcde"
        );
        assert_eq!(Body::empty().collect().await.expect("body"), "");
    }

    #[tokio::test]
    async fn a_single_frame_is_collected_without_copying() {
        let data = Bytes::from(vec![7u8; 4096]);
        let collected = Body::from_bytes(data.clone())
            .collect()
            .await
            .expect("body");
        assert_eq!(collected.as_ptr(), data.as_ptr(), "same buffer");
    }

    #[tokio::test]
    async fn collect_limited_fails_past_the_limit() {
        let error = chunks(&["abc", "def"])
            .collect_limited(5)
            .await
            .expect_err("6 > 5");
        assert!(error.is_limit(), "{error:?}");
        assert_eq!(
            chunks(&["abc", "de"])
                .collect_limited(5)
                .await
                .expect("5 fits"),
            "abcde"
        );
        // A known length over the limit fails before reading anything.
        let error = Body::from_bytes(vec![0u8; 10])
            .collect_limited(9)
            .await
            .expect_err("10 > 9");
        assert!(error.is_limit(), "{error:?}");
    }

    #[tokio::test]
    async fn stream_errors_become_body_errors() {
        let parts = vec![
            Ok(Bytes::from_static(b"ok")),
            Err(std::io::Error::other("reset")),
        ];
        let mut stream = Body::from_stream(futures::stream::iter(parts)).into_stream();
        assert_eq!(stream.next().await.expect("frame").expect("data"), "ok");
        let error = stream.next().await.expect("item").expect_err("failed");
        assert!(error.is_body(), "{error:?}");
        let source = std::error::Error::source(&error).map(ToString::to_string);
        assert_eq!(source.as_deref(), Some("reset"));
    }

    #[tokio::test]
    async fn wrapping_keeps_bodies_and_skips_trailers() {
        // `Body::new(Body)` is the same body, not a box around it.
        let body = Body::new(Body::from_bytes("x"));
        assert!(format!("{body:?}").contains("full"), "{body:?}");

        let mut trailers = http::HeaderMap::new();
        trailers.insert("x-checksum", http::HeaderValue::from_static("1"));
        let frames = vec![
            Ok::<_, Infallible>(Frame::data(Bytes::from_static(b"data"))),
            Ok(Frame::trailers(trailers)),
        ];
        let body = Body::new(StreamBody::new(futures::stream::iter(frames)));
        let data: Vec<_> = body.into_stream().collect().await;
        assert_eq!(data.len(), 1);
        assert_eq!(data[0].as_ref().expect("data"), "data");

        // And it is an `http_body::Body` for the ecosystem's combinators.
        let collected = Body::from("abc").collect().await.expect("body");
        let via_trait = BodyExt::collect(Body::from("abc"))
            .await
            .expect("body")
            .to_bytes();
        assert_eq!(collected, via_trait);
    }
}
