//! [`HyperTransport`]: hyper 1 + hyper-util's pooled client + rustls (`ring` primitives by
//! default).

mod connector;
mod crypto;

use std::error::Error as StdError;
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::PROXY_AUTHORIZATION;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::proxy::matcher::Matcher;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;

use self::connector::{ConnectTimeout, Connector, ProxyConnector, TunnelFailed, UnsupportedProxy};
use crate::{Body, Transport, TransportError};

/// How long connecting (TCP, proxy `CONNECT` and TLS handshake together) may take by default.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long an unused pooled connection is kept by default: below the usual 120 s to 5 min of
/// servers and load balancers, so that the client rarely picks a connection the server is closing.
const DEFAULT_POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(90);
/// TCP keep-alive probes keep long, quiet event streams alive through NATs and proxies.
const TCP_KEEPALIVE: Duration = Duration::from_secs(60);

/// The production transport: hyper 1 over a connection pool, TLS by rustls.
///
/// - HTTP/1.1 and HTTP/2, chosen per connection by ALPN; idle connections are reused and closed
///   after [`pool_idle_timeout`](HyperTransportBuilder::pool_idle_timeout).
/// - TLS with rustls and an explicit crypto provider, `ring` unless
///   [`crypto_provider`](HyperTransportBuilder::crypto_provider) names another (the
///   process-wide default provider is never consulted or installed); certificates are always verified, against the webpki roots
///   (plus the operating system's with the `native-roots` feature) and any
///   [`add_root_certificate`](HyperTransportBuilder::add_root_certificate).
/// - `HTTPS_PROXY` / `HTTP_PROXY` / `ALL_PROXY` / `NO_PROXY` (and lower-case forms) are honoured
///   for `http://` proxies: `https://` destinations go through a `CONNECT` tunnel, `http://` ones
///   through the proxy in absolute form. Loopback destinations never use a proxy.
/// - Plain `http://` is refused for any host but loopback (`127.0.0.0/8`, `::1`, `localhost`)
///   unless [`allow_plain_http`](HyperTransportBuilder::allow_plain_http) is set: the API key must
///   not cross a network in the clear. The refusal happens before any network traffic.
/// - The connect timeout covers TCP, the proxy tunnel and the TLS handshake together.
///
/// Errors are classified for retries: a connection that could not be made
/// ([`is_connect`](TransportError::is_connect)) and an idle pooled connection found closed are
/// [`is_request_not_sent`](TransportError::is_request_not_sent); a failure after the request was
/// written is not; a failure while reading the body is [`is_body`](TransportError::is_body).
///
/// Cloning is cheap and clones share the pool. `send` must run inside a Tokio runtime.
#[derive(Clone)]
pub struct HyperTransport {
    client: Client<Connector, Full<Bytes>>,
    allow_plain_http: bool,
    /// Kept to add `Proxy-Authorization` to requests forwarded through an `http://` proxy.
    proxy: Option<Arc<Matcher>>,
}

impl HyperTransport {
    /// A transport with the default settings (see [`HyperTransportBuilder`]).
    pub fn new() -> Result<Self, TransportError> {
        Self::builder().build()
    }

    /// Starts configuring a transport.
    pub fn builder() -> HyperTransportBuilder {
        HyperTransportBuilder::default()
    }

    /// Checks the URL against the transport's policy before anything touches the network.
    fn check_uri(&self, uri: &http::Uri) -> Result<(), TransportError> {
        let Some(host) = uri.host() else {
            return Err(config_error(format!(
                "the request URL `{uri}` has no host; requests need an absolute URL \
                 such as https://api.parallel.ai/v1/..."
            )));
        };
        match uri.scheme_str() {
            Some("https") => Ok(()),
            Some("http") if self.allow_plain_http || is_loopback_host(host) => Ok(()),
            Some("http") => Err(config_error(format!(
                "refusing to send a request to `{host}` over plain http://: it would cross the \
                 network unencrypted, API key included; use https://, or allow it explicitly \
                 with HyperTransportBuilder::allow_plain_http(true)"
            ))),
            _ => Err(config_error(format!(
                "the request URL `{uri}` does not use http:// or https://; \
                 only those schemes are supported"
            ))),
        }
    }
}

impl Transport for HyperTransport {
    async fn send(
        &self,
        request: http::Request<Bytes>,
    ) -> Result<http::Response<Body>, TransportError> {
        let (mut parts, body) = request.into_parts();
        self.check_uri(&parts.uri)?;
        if parts.uri.scheme_str() == Some("http") {
            self.add_proxy_authorization(&parts.uri, &mut parts.headers);
        }
        // host:port only: a URI's authority could carry credentials, which are never shown.
        let server = parts.uri.host().map(|host| {
            format!(
                "{host}:{}",
                parts
                    .uri
                    .port_u16()
                    .unwrap_or_else(|| default_port(&parts.uri))
            )
        });
        let request = http::Request::from_parts(parts, Full::new(body));
        let response = self
            .client
            .request(request)
            .await
            .map_err(|e| classify_request_error(e, server.as_deref()))?;
        Ok(response.map(Body::from_incoming))
    }
}

impl HyperTransport {
    /// Requests forwarded by an `http://` proxy carry the proxy credentials themselves (tunnelled
    /// `https://` requests send them in the `CONNECT` instead).
    fn add_proxy_authorization(&self, uri: &http::Uri, headers: &mut http::HeaderMap) {
        let Some(matcher) = &self.proxy else { return };
        if uri.host().is_some_and(is_loopback_host) {
            return;
        }
        if let Some(auth) = matcher.intercept(uri).and_then(|i| i.basic_auth().cloned()) {
            headers.entry(PROXY_AUTHORIZATION).or_insert(auth);
        }
    }
}

impl fmt::Debug for HyperTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The proxy matcher is left out: its URL may carry credentials.
        f.debug_struct("HyperTransport")
            .field("allow_plain_http", &self.allow_plain_http)
            .field("proxy", &self.proxy.is_some())
            .finish_non_exhaustive()
    }
}

/// Where proxy settings come from.
#[derive(Clone, Debug)]
enum ProxySetting {
    Environment,
    Disabled,
    Explicit { url: String, no_proxy: String },
}

/// Configures a [`HyperTransport`]; from [`HyperTransport::builder`].
#[derive(Clone)]
pub struct HyperTransportBuilder {
    connect_timeout: Option<Duration>,
    pool_idle_timeout: Option<Duration>,
    pool_max_idle_per_host: usize,
    allow_plain_http: bool,
    http2_only: bool,
    built_in_roots: bool,
    root_certificates: Vec<Vec<u8>>,
    proxy: ProxySetting,
    crypto_provider: Option<Arc<rustls::crypto::CryptoProvider>>,
}

impl Default for HyperTransportBuilder {
    fn default() -> Self {
        Self {
            connect_timeout: Some(DEFAULT_CONNECT_TIMEOUT),
            pool_idle_timeout: Some(DEFAULT_POOL_IDLE_TIMEOUT),
            pool_max_idle_per_host: usize::MAX,
            allow_plain_http: false,
            http2_only: false,
            built_in_roots: true,
            root_certificates: Vec::new(),
            proxy: ProxySetting::Environment,
            crypto_provider: None,
        }
    }
}

impl HyperTransportBuilder {
    /// How long making a connection may take: TCP connect, proxy tunnel and TLS handshake
    /// together. `None` waits as long as the operating system does. Default: 10 s.
    #[must_use]
    pub fn connect_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.connect_timeout = timeout.into();
        self
    }

    /// How long an unused connection stays in the pool. `None` keeps it until the server closes
    /// it. Default: 90 s.
    #[must_use]
    pub fn pool_idle_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.pool_idle_timeout = timeout.into();
        self
    }

    /// At most this many idle connections are kept per host (`0` disables reuse). Default: no
    /// limit.
    #[must_use]
    pub fn pool_max_idle_per_host(mut self, max: usize) -> Self {
        self.pool_max_idle_per_host = max;
        self
    }

    /// Allows plain `http://` to hosts other than loopback. Default: `false`, so that an API key
    /// never crosses a network unencrypted by mistake.
    #[must_use]
    pub fn allow_plain_http(mut self, allow: bool) -> Self {
        self.allow_plain_http = allow;
        self
    }

    /// Speaks only HTTP/2: over TLS it is the only protocol offered by ALPN; over plain `http://`
    /// it is used with prior knowledge. Default: `false` (HTTP/1.1 or HTTP/2 by ALPN).
    #[must_use]
    pub fn http2_only(mut self, only: bool) -> Self {
        self.http2_only = only;
        self
    }

    /// Also trusts this root certificate (one DER-encoded X.509 certificate), for example a
    /// company's TLS-inspecting proxy or a test server. Checked by [`build`](Self::build).
    #[must_use]
    pub fn add_root_certificate(mut self, der: impl Into<Vec<u8>>) -> Self {
        self.root_certificates.push(der.into());
        self
    }

    /// Whether the built-in roots (webpki, and the operating system's with the `native-roots`
    /// feature) are trusted. Default: `true`. With `false`, only the certificates from
    /// [`add_root_certificate`](Self::add_root_certificate) are.
    #[must_use]
    pub fn built_in_roots(mut self, enabled: bool) -> Self {
        self.built_in_roots = enabled;
        self
    }

    /// Reads the proxy from `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY` (or their
    /// lower-case forms) when the transport is built. This is the default.
    #[must_use]
    pub fn proxy_from_env(mut self) -> Self {
        self.proxy = ProxySetting::Environment;
        self
    }

    /// Sends every non-loopback request through this `http://` proxy (credentials may be given
    /// as `http://user:password@host:port`), except the hosts in `no_proxy`, a comma-separated
    /// list in the `NO_PROXY` format (`example.com, .internal, 10.0.0.0/8`, or `*`).
    #[must_use]
    pub fn proxy(mut self, url: impl Into<String>, no_proxy: impl Into<String>) -> Self {
        self.proxy = ProxySetting::Explicit {
            url: url.into(),
            no_proxy: no_proxy.into(),
        };
        self
    }

    /// The rustls crypto provider of TLS connections. Default: rustls's `ring` primitives
    /// (the process-wide default provider is never consulted).
    ///
    /// To use `aws-lc-rs` instead, depend on `rustls` (0.23) with its `aws_lc_rs` feature
    /// and pass its provider; cargo unifies that `rustls` with this crate's:
    ///
    /// ```ignore
    /// let transport = parallel_transport::HyperTransport::builder()
    ///     .crypto_provider(std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
    ///     .build()?;
    /// ```
    #[must_use]
    pub fn crypto_provider(mut self, provider: Arc<rustls::crypto::CryptoProvider>) -> Self {
        self.crypto_provider = Some(provider);
        self
    }

    /// Never uses a proxy, whatever the environment says.
    #[must_use]
    pub fn no_proxy(mut self) -> Self {
        self.proxy = ProxySetting::Disabled;
        self
    }

    /// Builds the transport. Fails for an invalid root certificate or proxy URL.
    pub fn build(self) -> Result<HyperTransport, TransportError> {
        let tls = self.tls_config()?;
        let proxy = self.proxy_matcher()?.map(Arc::new);

        let mut http = HttpConnector::new();
        // The scheme is checked by the TLS layer above; this connector only makes TCP connections.
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_keepalive(Some(TCP_KEEPALIVE));
        // The timeout is applied around the whole connection set-up instead (see `Connector`).
        http.set_connect_timeout(None);

        let proxied = ProxyConnector::new(http, proxy.clone());
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http();
        let https = if self.http2_only {
            https.enable_http2().wrap_connector(proxied)
        } else {
            https.enable_http1().enable_http2().wrap_connector(proxied)
        };
        let connector = Connector::new(https, self.connect_timeout);

        let mut client = Client::builder(TokioExecutor::new());
        client
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .pool_idle_timeout(self.pool_idle_timeout)
            .pool_max_idle_per_host(self.pool_max_idle_per_host)
            .http2_only(self.http2_only);
        Ok(HyperTransport {
            client: client.build(connector),
            allow_plain_http: self.allow_plain_http,
            proxy,
        })
    }

    fn tls_config(&self) -> Result<rustls::ClientConfig, TransportError> {
        let mut roots = RootCertStore::empty();
        if self.built_in_roots {
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            #[cfg(feature = "native-roots")]
            {
                let native = rustls_native_certs::load_native_certs();
                for error in &native.errors {
                    tracing::warn!(%error, "could not load some of the system's root certificates");
                }
                let (added, ignored) = roots.add_parsable_certificates(native.certs);
                tracing::debug!(added, ignored, "loaded the system's root certificates");
            }
        }
        for der in &self.root_certificates {
            roots
                .add(CertificateDer::from(der.as_slice()).into_owned())
                .map_err(|e| {
                    TransportError::config(e).with_detail(
                        "the root certificate given to add_root_certificate is invalid; \
                         it must be one DER-encoded X.509 certificate (convert PEM first)",
                    )
                })?;
        }
        // An explicit provider: the process-wide default may be unset, or set by another
        // library to something else.
        let provider = self
            .crypto_provider
            .clone()
            .unwrap_or_else(crypto::ring_provider);
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| {
                TransportError::config(e).with_detail("the TLS provider could not be set up")
            })?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(config)
    }

    fn proxy_matcher(&self) -> Result<Option<Matcher>, TransportError> {
        match &self.proxy {
            ProxySetting::Disabled => Ok(None),
            ProxySetting::Environment => Ok(Some(Matcher::from_env())),
            ProxySetting::Explicit { url, no_proxy } => {
                let uri: http::Uri = url.parse().map_err(|e| {
                    TransportError::config(e).with_detail(format!(
                        "the proxy URL is invalid; expected http://[user:password@]host:port, got `{}`",
                        redact_userinfo(url)
                    ))
                })?;
                if uri.scheme_str() != Some("http") || uri.host().is_none() {
                    return Err(config_error(format!(
                        "unsupported proxy URL `{}`: only http:// proxies are supported",
                        redact_userinfo(url)
                    )));
                }
                Ok(Some(
                    Matcher::builder()
                        .all(url.clone())
                        .no(no_proxy.clone())
                        .build(),
                ))
            }
        }
    }
}

impl fmt::Debug for HyperTransportBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let proxy = match &self.proxy {
            ProxySetting::Environment => "environment",
            ProxySetting::Disabled => "disabled",
            ProxySetting::Explicit { .. } => "explicit",
        };
        f.debug_struct("HyperTransportBuilder")
            .field("connect_timeout", &self.connect_timeout)
            .field("pool_idle_timeout", &self.pool_idle_timeout)
            .field("pool_max_idle_per_host", &self.pool_max_idle_per_host)
            .field("allow_plain_http", &self.allow_plain_http)
            .field("http2_only", &self.http2_only)
            .field("built_in_roots", &self.built_in_roots)
            .field("root_certificates", &self.root_certificates.len())
            .field("proxy", &proxy)
            .field(
                "crypto_provider",
                &if self.crypto_provider.is_some() {
                    "given"
                } else {
                    "ring"
                },
            )
            .finish()
    }
}

fn config_error(message: String) -> TransportError {
    TransportError::config_message(message)
}

/// Drops `user:password@` from a URL before it goes into an error message.
fn redact_userinfo(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            format!("{}://***@{}", &url[..scheme_end], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

/// `127.0.0.0/8`, `::1` (also as an IPv4-mapped address) and `localhost`.
pub(crate) fn is_loopback_host(host: &str) -> bool {
    let host = host.strip_suffix('.').unwrap_or(host);
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    match bare.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => ip.is_loopback(),
        Ok(IpAddr::V6(ip)) => {
            ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
        Err(_) => false,
    }
}

/// Finds an error of type `T` in the chain, looking inside `io::Error` wrappers too (whose
/// `source()` skips the error they wrap).
fn find_in_chain<'a, T: StdError + 'static>(error: &'a (dyn StdError + 'static)) -> Option<&'a T> {
    let mut next = Some(error);
    while let Some(error) = next {
        if let Some(found) = error.downcast_ref::<T>() {
            return Some(found);
        }
        if let Some(inner) = error
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            && let Some(found) = find_in_chain::<T>(inner)
        {
            return Some(found);
        }
        next = error.source();
    }
    None
}

/// The port a URI's scheme implies.
fn default_port(uri: &http::Uri) -> u16 {
    if uri.scheme_str() == Some("https") {
        443
    } else {
        80
    }
}

fn classify_request_error(
    error: hyper_util::client::legacy::Error,
    server: Option<&str>,
) -> TransportError {
    if error.is_connect() {
        // A proxy scheme this transport cannot speak: retrying will not help.
        if let Some(unsupported) = find_in_chain::<UnsupportedProxy>(&error) {
            return TransportError::config_message(unsupported.to_string());
        }
        let timeout = find_in_chain::<ConnectTimeout>(&error).map(ConnectTimeout::explain);
        let detail = connect_detail(&error, server);
        let mut classified = TransportError::connect(error);
        if let Some(timeout) = timeout {
            classified = classified.with_timeout().with_detail(timeout);
        } else if let Some(detail) = detail {
            classified = classified.with_detail(detail);
        }
        return classified;
    }
    // hyper hands an unsent request back as "canceled" when the connection closed before it
    // was written (hyper-util already retried it once if the connection was a reused one).
    let not_sent = find_in_chain::<hyper::Error>(&error).is_some_and(hyper::Error::is_canceled);
    if not_sent {
        TransportError::not_sent(error)
    } else {
        TransportError::request(error)
    }
}

/// A more specific message for the common connect failures.
fn connect_detail(error: &(dyn StdError + 'static), server: Option<&str>) -> Option<String> {
    if find_in_chain::<TunnelFailed>(error).is_some() {
        return Some(TunnelFailed::ADVICE.to_owned());
    }
    if let Some(tls) = find_in_chain::<rustls::Error>(error) {
        return Some(match tls {
            rustls::Error::InvalidCertificate(reason) => format!(
                "the server's TLS certificate was rejected ({reason:?}); if the server uses a \
                 private certificate authority, trust it with add_root_certificate"
            ),
            // The rustls error is in the `source()` chain.
            _ => "the TLS handshake with the server failed; check that the base URL's \
                  scheme and port are those of the server's TLS endpoint"
                .to_owned(),
        });
    }
    if let Some(io) = find_in_chain::<std::io::Error>(error)
        && io.kind() == std::io::ErrorKind::ConnectionRefused
    {
        let at = server.map(|s| format!(" at {s}")).unwrap_or_default();
        return Some(format!(
            "the server{at} refused the connection; check the URL and port, \
             and that the server is running"
        ));
    }
    None
}

/// A body error from hyper: the connection failed or the framing was broken mid-body.
pub(crate) fn classify_body_error(error: hyper::Error) -> TransportError {
    TransportError::body(error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for host in [
            "localhost",
            "LOCALHOST",
            "localhost.",
            "127.0.0.1",
            "127.1.2.3",
            "[::1]",
            "::1",
            "[::ffff:127.0.0.1]",
        ] {
            assert!(is_loopback_host(host), "{host} is loopback");
        }
        for host in [
            "example.com",
            "localhost.example.com",
            "10.0.0.1",
            "0.0.0.0",
            "[::]",
            "128.0.0.1",
            "[::ffff:10.0.0.1]",
        ] {
            assert!(!is_loopback_host(host), "{host} is not loopback");
        }
    }

    #[test]
    fn credentials_are_redacted() {
        assert_eq!(
            redact_userinfo("http://user:secret@proxy:3128"),
            "http://***@proxy:3128"
        );
        assert_eq!(redact_userinfo("http://proxy:3128"), "http://proxy:3128");
    }

    #[test]
    fn invalid_root_certificate_is_a_config_error() {
        let error = HyperTransport::builder()
            .add_root_certificate(b"not a certificate".to_vec())
            .build()
            .map(|_| ())
            .expect_err("garbage is not a certificate");
        assert!(error.is_config(), "{error:?}");
    }

    #[test]
    fn proxy_must_be_plain_http() {
        let error = HyperTransport::builder()
            .proxy("socks5://user:hunter2@proxy:1080", "")
            .build()
            .map(|_| ())
            .expect_err("socks is not supported");
        assert!(error.is_config(), "{error:?}");
        assert!(!error.to_string().contains("hunter2"), "{error}");
        assert!(!format!("{error:?}").contains("hunter2"), "{error:?}");
    }

    #[test]
    fn explicit_proxy_honours_the_no_proxy_list() {
        let builder =
            HyperTransport::builder().proxy("http://proxy.test:3128", "internal.test, .corp.test");
        let matcher = builder.proxy_matcher().expect("valid").expect("a proxy");
        let uri = |s: &str| s.parse::<http::Uri>().expect("valid URI");
        for excluded in ["https://internal.test/", "http://api.corp.test/x"] {
            assert!(
                matcher.intercept(&uri(excluded)).is_none(),
                "{excluded} is not proxied"
            );
        }
        for proxied in ["https://api.parallel.ai/v1", "http://example.test/"] {
            let intercept = matcher.intercept(&uri(proxied)).expect("proxied");
            assert_eq!(intercept.uri(), &uri("http://proxy.test:3128"), "{proxied}");
        }
        let disabled = HyperTransport::builder()
            .no_proxy()
            .proxy_matcher()
            .expect("valid");
        assert!(disabled.is_none());
    }

    #[tokio::test]
    async fn non_http_schemes_are_refused() {
        let transport = HyperTransport::builder()
            .no_proxy()
            .build()
            .expect("builds");
        let request = http::Request::get("ftp://127.0.0.1/file")
            .body(Bytes::new())
            .expect("valid request");
        let error = transport.send(request).await.expect_err("ftp is refused");
        assert!(
            error.is_config() && error.is_request_not_sent(),
            "{error:?}"
        );
        let request = http::Request::get("/relative")
            .body(Bytes::new())
            .expect("valid request");
        let error = transport.send(request).await.expect_err("no host");
        assert!(error.is_config(), "{error:?}");
    }
}
