//! [`TransportError`]: the one error type of this crate.

use std::error::Error as StdError;
use std::fmt;

/// A boxed error that can cross threads: the cause kept in [`TransportError::source`].
pub(crate) type BoxError = Box<dyn StdError + Send + Sync>;

/// Why a request attempt or a response body failed.
///
/// The type is opaque: ask it questions with the `is_*` predicates, read the underlying cause with
/// [`source()`](StdError::source). The predicates are what a retry policy needs:
///
/// | predicate | meaning |
/// | --- | --- |
/// | [`is_request_not_sent`](Self::is_request_not_sent) | the server cannot have seen the request: retrying is safe even for a `POST` |
/// | [`is_connect`](Self::is_connect) | no connection could be made (refused, DNS, TLS handshake, proxy); implies not sent |
/// | [`is_timeout`](Self::is_timeout) | a deadline passed (with `is_connect`: while connecting) |
/// | [`is_body`](Self::is_body) | the response started but its body failed mid-stream |
/// | [`is_limit`](Self::is_limit) | a body was larger than the limit the caller set |
/// | [`is_config`](Self::is_config) | a configuration or policy problem: retrying will not help |
///
/// Custom [`Transport`](crate::Transport) implementations build these with the public
/// constructors ([`connect`](Self::connect), [`timeout`](Self::timeout), [`body`](Self::body),
/// [`not_sent`](Self::not_sent), [`request`](Self::request), ...), so that the client classifies
/// their failures exactly as it does the built-in transport's.
pub struct TransportError {
    kind: Kind,
    timeout: bool,
    not_sent: bool,
    /// A fixed explanation for errors raised by this crate itself, shown instead of the generic
    /// text of the kind.
    detail: Option<String>,
    source: Option<BoxError>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Connect,
    Timeout,
    Body,
    Limit,
    Config,
    Request,
}

impl TransportError {
    fn new(kind: Kind, source: Option<BoxError>) -> Self {
        Self {
            kind,
            timeout: kind == Kind::Timeout,
            not_sent: matches!(kind, Kind::Connect | Kind::Config),
            detail: None,
            source,
        }
    }

    /// A connection could not be made: refused, name resolution, TLS handshake or proxy failure.
    ///
    /// The request was not sent, so [`is_request_not_sent`](Self::is_request_not_sent) is true.
    pub fn connect(cause: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Self::new(Kind::Connect, Some(cause.into()))
    }

    /// Connecting (including the TLS handshake) took longer than allowed.
    ///
    /// Both [`is_connect`](Self::is_connect) and [`is_timeout`](Self::is_timeout) are true, and
    /// the request was not sent.
    pub fn connect_timeout(cause: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        let mut error = Self::new(Kind::Connect, Some(cause.into()));
        error.timeout = true;
        error
    }

    /// A deadline passed after the request may have been sent.
    pub fn timeout(cause: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Self::new(Kind::Timeout, Some(cause.into()))
    }

    /// The response body failed mid-stream (connection reset, truncated, malformed framing).
    pub fn body(cause: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Self::new(Kind::Body, Some(cause.into()))
    }

    /// Any other failure of a request attempt. The request may have reached the server.
    pub fn request(cause: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Self::new(Kind::Request, Some(cause.into()))
    }

    /// A failure that happened before any byte of the request left this process, such as an
    /// idle pooled connection found closed. Retrying is safe even for a `POST`.
    pub fn not_sent(cause: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        let mut error = Self::new(Kind::Request, Some(cause.into()));
        error.not_sent = true;
        error
    }

    /// The transport was configured wrongly or refused the request by policy (for example plain
    /// `http://` to a non-loopback host). Nothing was sent, and retrying will not help.
    pub fn config(cause: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Self::new(Kind::Config, Some(cause.into()))
    }

    /// A body was longer than `limit` bytes (see [`Body::collect_limited`](crate::Body::collect_limited)).
    pub fn body_too_large(limit: usize) -> Self {
        let mut error = Self::new(Kind::Limit, None);
        error.detail = Some(format!(
            "the response body is larger than the limit of {limit} bytes; \
             raise the limit if bodies this large are expected"
        ));
        error
    }

    /// A configuration or policy error explained by `message` alone.
    #[cfg_attr(not(any(feature = "hyper", feature = "test-util")), allow(dead_code))]
    pub(crate) fn config_message(message: String) -> Self {
        Self::new(Kind::Config, None).with_detail(message)
    }

    /// Replaces the generic message of the kind with a specific explanation.
    pub(crate) fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// Marks the error as a timeout as well as its kind.
    #[cfg_attr(not(feature = "hyper"), allow(dead_code))]
    pub(crate) fn with_timeout(mut self) -> Self {
        self.timeout = true;
        self
    }

    /// True when no connection could be made (refused, DNS, TLS, proxy, connect timeout).
    pub fn is_connect(&self) -> bool {
        self.kind == Kind::Connect
    }

    /// True when a deadline passed, while connecting or later.
    pub fn is_timeout(&self) -> bool {
        self.timeout
    }

    /// True when the response body failed after the response head was received.
    pub fn is_body(&self) -> bool {
        self.kind == Kind::Body
    }

    /// True when the request certainly did not reach the server, so that sending it again cannot
    /// duplicate its effect.
    pub fn is_request_not_sent(&self) -> bool {
        self.not_sent
    }

    /// True when a body exceeded a size limit set by the caller.
    pub fn is_limit(&self) -> bool {
        self.kind == Kind::Limit
    }

    /// True for a configuration or policy error (invalid certificate, forbidden plain `http://`,
    /// malformed URL): retrying will not help, the setup must change.
    pub fn is_config(&self) -> bool {
        self.kind == Kind::Config
    }

    fn generic_message(&self) -> &'static str {
        match (self.kind, self.timeout) {
            (Kind::Connect, true) => {
                "connecting to the server timed out (TCP, proxy or TLS handshake); \
                 check the network, or raise the connect timeout"
            }
            (Kind::Connect, false) => {
                "could not connect to the server; check the URL, the network, \
                 the proxy settings and the server's TLS certificate"
            }
            (Kind::Timeout, _) => "the request timed out",
            (Kind::Body, _) => {
                "the response body failed mid-stream; the data received so far is incomplete"
            }
            (Kind::Limit, _) => "the response body is larger than the configured limit",
            (Kind::Config, _) => "the transport configuration or the request is invalid",
            (Kind::Request, _) if self.not_sent => {
                "the request could not be sent; it did not reach the server and can be retried"
            }
            (Kind::Request, _) => "the request failed; it may or may not have reached the server",
        }
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            self.detail
                .as_deref()
                .unwrap_or_else(|| self.generic_message()),
        )
    }
}

impl fmt::Debug for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("TransportError");
        s.field("kind", &self.kind)
            .field("timeout", &self.timeout)
            .field("not_sent", &self.not_sent);
        if let Some(detail) = &self.detail {
            s.field("detail", detail);
        }
        if let Some(source) = &self.source {
            s.field("source", source);
        }
        s.finish()
    }
}

impl StdError for TransportError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}

/// Turns any boxed body error into a [`TransportError`], keeping one that already is one as is.
pub(crate) fn body_error(error: BoxError) -> TransportError {
    match error.downcast::<TransportError>() {
        Ok(error) => *error,
        Err(other) => TransportError::body(other),
    }
}

/// A plain message as an error cause.
#[cfg_attr(not(feature = "test-util"), allow(dead_code))]
#[derive(Debug)]
pub(crate) struct Message(pub(crate) String);

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl StdError for Message {}

#[cfg(test)]
mod tests {
    use super::*;

    fn io(kind: std::io::ErrorKind) -> std::io::Error {
        std::io::Error::from(kind)
    }

    #[test]
    fn predicates_follow_constructors() {
        let e = TransportError::connect(io(std::io::ErrorKind::ConnectionRefused));
        assert!(e.is_connect() && e.is_request_not_sent() && !e.is_timeout() && !e.is_body());

        let e = TransportError::connect_timeout(io(std::io::ErrorKind::TimedOut));
        assert!(e.is_connect() && e.is_timeout() && e.is_request_not_sent());

        let e = TransportError::timeout(io(std::io::ErrorKind::TimedOut));
        assert!(e.is_timeout() && !e.is_connect() && !e.is_request_not_sent());

        let e = TransportError::body(io(std::io::ErrorKind::UnexpectedEof));
        assert!(e.is_body() && !e.is_request_not_sent() && !e.is_connect());

        let e = TransportError::request(io(std::io::ErrorKind::BrokenPipe));
        assert!(!e.is_request_not_sent() && !e.is_body() && !e.is_connect());

        let e = TransportError::not_sent(io(std::io::ErrorKind::BrokenPipe));
        assert!(e.is_request_not_sent() && !e.is_connect());

        let e = TransportError::config(Message("bad".into()));
        assert!(e.is_config() && e.is_request_not_sent() && !e.is_connect());

        let e = TransportError::body_too_large(10);
        assert!(e.is_limit() && !e.is_body());
        assert!(e.to_string().contains("10 bytes"), "{e}");
    }

    #[test]
    fn source_is_the_cause() {
        let e = TransportError::body(io(std::io::ErrorKind::UnexpectedEof));
        let source = e.source().expect("a cause");
        let io = source
            .downcast_ref::<std::io::Error>()
            .expect("an io::Error");
        assert_eq!(io.kind(), std::io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn body_error_does_not_wrap_twice() {
        let inner = TransportError::connect(io(std::io::ErrorKind::ConnectionRefused));
        let e = body_error(Box::new(inner));
        assert!(e.is_connect(), "kept the original classification: {e:?}");
        let e = body_error(Box::new(io(std::io::ErrorKind::ConnectionReset)));
        assert!(e.is_body());
    }

    #[test]
    fn error_is_send_sync_static() {
        fn check<T: Send + Sync + 'static>() {}
        check::<TransportError>();
    }
}
