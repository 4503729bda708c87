//! The connector stack under the pooled client:
//! `Connector` (one timeout over everything) → `HttpsConnector` (rustls, ALPN) →
//! `ProxyConnector` (direct TCP, `CONNECT` tunnel, or TCP to a forwarding proxy).

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::rt::{Read, ReadBufCursor, Write};
use hyper_rustls::{HttpsConnector, MaybeHttpsStream};
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::client::proxy::matcher::Matcher;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tower_service::Service;

use super::is_loopback_host;
use crate::error::BoxError;

type BoxFuture<T> = Pin<Box<dyn Future<Output = Result<T, BoxError>> + Send>>;

/// The connector given to the pooled client: the whole stack under one connect timeout, so that
/// a server that accepts TCP but never finishes the TLS handshake cannot hang a request.
#[derive(Clone)]
pub(crate) struct Connector {
    inner: HttpsConnector<ProxyConnector>,
    timeout: Option<Duration>,
}

impl Connector {
    pub(crate) fn new(inner: HttpsConnector<ProxyConnector>, timeout: Option<Duration>) -> Self {
        Self { inner, timeout }
    }
}

impl Service<http::Uri> for Connector {
    type Response = MaybeHttpsStream<ProxyStream>;
    type Error = BoxError;
    type Future = BoxFuture<Self::Response>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, dst: http::Uri) -> Self::Future {
        let connecting = self.inner.call(dst);
        let Some(timeout) = self.timeout else {
            return connecting;
        };
        Box::pin(async move {
            match tokio::time::timeout(timeout, connecting).await {
                Ok(result) => result,
                Err(_elapsed) => Err(Box::new(ConnectTimeout(timeout)) as BoxError),
            }
        })
    }
}

/// Connecting took longer than the connect timeout.
#[derive(Debug)]
pub(crate) struct ConnectTimeout(Duration);

impl ConnectTimeout {
    /// What happened and what to do, for the transport error that has this one in its
    /// `source()` chain (which prints this one's own, shorter, text).
    pub(crate) fn explain(&self) -> String {
        format!(
            "connecting to the server (TCP, proxy and TLS handshake) took longer than the \
             connect timeout ({:?}); check the network, or raise the connect timeout",
            self.0
        )
    }
}

impl fmt::Display for ConnectTimeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "no connection within {:?}", self.0)
    }
}

impl StdError for ConnectTimeout {}

/// The proxy named by the environment cannot be used.
#[derive(Debug)]
pub(crate) struct UnsupportedProxy(String);

impl fmt::Display for UnsupportedProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the proxy from HTTPS_PROXY/HTTP_PROXY/ALL_PROXY uses the `{}` scheme, which is not \
             supported; use an http:// proxy, or exclude the host with NO_PROXY",
            self.0
        )
    }
}

impl StdError for UnsupportedProxy {}

/// Makes the TCP connection for a destination: directly, through a `CONNECT` tunnel (for
/// `https://` destinations behind a proxy) or to a forwarding proxy (for `http://` ones).
#[derive(Clone)]
pub(crate) struct ProxyConnector {
    http: HttpConnector,
    proxy: Option<Arc<Matcher>>,
}

impl ProxyConnector {
    pub(crate) fn new(http: HttpConnector, proxy: Option<Arc<Matcher>>) -> Self {
        Self { http, proxy }
    }
}

impl Service<http::Uri> for ProxyConnector {
    type Response = ProxyStream;
    type Error = BoxError;
    type Future = BoxFuture<ProxyStream>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        // `HttpConnector` is always ready; each call below works on its own clone.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, dst: http::Uri) -> Self::Future {
        let intercept = match &self.proxy {
            Some(matcher) if !dst.host().is_some_and(is_loopback_host) => matcher.intercept(&dst),
            _ => None,
        };
        let mut http = self.http.clone();
        Box::pin(async move {
            let Some(intercept) = intercept else {
                let io = http.call(dst).await?;
                return Ok(ProxyStream::new(io, false));
            };
            let proxy = intercept.uri().clone();
            match proxy.scheme_str() {
                Some("http") => {}
                other => {
                    return Err(
                        Box::new(UnsupportedProxy(other.unwrap_or("").to_owned())) as BoxError
                    );
                }
            }
            if dst.scheme_str() == Some("https") {
                let mut tunnel = Tunnel::new(proxy, http);
                if let Some(auth) = intercept.basic_auth() {
                    tunnel = tunnel.with_auth(auth.clone());
                }
                let io = tunnel
                    .call(dst)
                    .await
                    .map_err(|e| Box::new(TunnelFailed(Box::new(e))) as BoxError)?;
                Ok(ProxyStream::new(io, false))
            } else {
                // Plain http through a proxy: connect to the proxy, and have hyper send the
                // request line in absolute form.
                let io = http.call(proxy).await?;
                Ok(ProxyStream::new(io, true))
            }
        })
    }
}

/// The proxy did not open a `CONNECT` tunnel (refused, needs credentials, unreachable).
#[derive(Debug)]
pub(crate) struct TunnelFailed(BoxError);

impl TunnelFailed {
    /// What to do, for the transport error that has this one in its `source()` chain.
    pub(crate) const ADVICE: &'static str = "the proxy tunnel could not be opened; check the \
        proxy settings (HTTPS_PROXY, NO_PROXY) and the proxy's credentials";
}

// The cause is `source()`, not repeated here.
impl fmt::Display for TunnelFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the proxy refused or failed the CONNECT request")
    }
}

impl StdError for TunnelFailed {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&*self.0)
    }
}

/// A TCP connection that knows whether it leads to a forwarding proxy.
pub(crate) struct ProxyStream {
    io: TokioIo<TcpStream>,
    forwarding_proxy: bool,
}

impl ProxyStream {
    fn new(io: TokioIo<TcpStream>, forwarding_proxy: bool) -> Self {
        Self {
            io,
            forwarding_proxy,
        }
    }
}

impl Connection for ProxyStream {
    fn connected(&self) -> Connected {
        self.io.connected().proxy(self.forwarding_proxy)
    }
}

impl Read for ProxyStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl Write for ProxyStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }
}
