//! The client handle and its builder.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::header::{HeaderMap, HeaderName, HeaderValue};
use parallel_sse::Limits;
use parallel_transport::{SharedTransport, Transport};

use crate::error::Error;
use crate::reconnect::ReconnectPolicy;
use crate::retry::RetryPolicy;

/// The base URL used when neither [`ClientBuilder::base_url`] nor `PARALLEL_BASE_URL` is set.
pub const DEFAULT_BASE_URL: &str = "https://api.parallel.ai";

/// The default time allowed for one request attempt, reading a JSON answer's body included
/// (600 s, as the official Python SDK).
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(600);

/// The default time a request attempt waits for the response head (time to first byte):
/// 60 s, as the official TypeScript SDK. A server that accepts a request and never answers is
/// a time-out after this, retried by the [`RetryPolicy`].
pub const DEFAULT_FIRST_BYTE_TIMEOUT: Duration = Duration::from_secs(60);

/// The default longest silence of bytes on an open stream before the client reconnects: any
/// byte counts, keep-alive comments included, so a quiet stream that the server keeps alive
/// stays open.
pub const DEFAULT_STREAM_IDLE_TIMEOUT: Duration = Duration::from_secs(120);

/// The default number of consecutive failed reconnects of a stream before it gives up (see
/// [`ReconnectPolicy`]).
pub const DEFAULT_MAX_STREAM_RECONNECTS: u32 = crate::reconnect::DEFAULT_MAX_ATTEMPTS;

/// The default size limit of a JSON response body (64 MiB).
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 64 << 20;

const USER_AGENT: &str = concat!("parallel-rust/", env!("CARGO_PKG_VERSION"));

/// A client of the Parallel Task Group and Task Run API.
///
/// Cheap to clone (an `Arc` inside); clones share the transport and its connection pool.
/// Build one with [`Client::builder`] or [`Client::from_env`].
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) transport: SharedTransport,
    /// Scheme, authority and an optional path prefix, without a trailing slash.
    pub(crate) base_url: String,
    /// `/v1` or `/v1beta`, for the task-group endpoints only: task-run endpoints were always
    /// served under `/v1`.
    pub(crate) group_prefix: &'static str,
    pub(crate) api_key: HeaderValue,
    /// User agent and extra headers, added to every request.
    pub(crate) headers: HeaderMap,
    pub(crate) retry: RetryPolicy,
    pub(crate) request_timeout: Duration,
    pub(crate) first_byte_timeout: Duration,
    pub(crate) stream_idle_timeout: Duration,
    pub(crate) reconnect: ReconnectPolicy,
    pub(crate) max_response_bytes: usize,
    pub(crate) sse_limits: Limits,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &self.inner;
        f.debug_struct("Client")
            .field("base_url", &inner.base_url)
            .field("group_prefix", &inner.group_prefix)
            .field("api_key", &"<redacted>")
            .field("retry", &inner.retry)
            .field("request_timeout", &inner.request_timeout)
            .field("first_byte_timeout", &inner.first_byte_timeout)
            .field("stream_idle_timeout", &inner.stream_idle_timeout)
            .field("reconnect", &inner.reconnect)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A builder with every setting at its default.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A client configured from `PARALLEL_API_KEY`, `PARALLEL_BASE_URL` and
    /// `PARALLEL_CUSTOM_HEADERS`, with the default transport and settings.
    pub fn from_env() -> Result<Self, Error> {
        Self::builder().build()
    }

    /// The base URL requests go to.
    pub fn base_url(&self) -> &str {
        &self.inner.base_url
    }
}

/// Configures and builds a [`Client`].
///
/// ```
/// use std::time::Duration;
/// use parallel_client::{Client, RetryPolicy};
///
/// let client = Client::builder()
///     .api_key("my-key")
///     .base_url("http://127.0.0.1:8080")
///     .retry_policy(RetryPolicy::default().max_retries(4))
///     .request_timeout(Duration::from_secs(30))
///     .stream_idle_timeout(Duration::from_secs(90))
///     .header("x-team", "research")
///     .build()?;
/// // The key never shows in debug output.
/// assert!(!format!("{client:?}").contains("my-key"));
/// # Ok::<(), parallel_client::Error>(())
/// ```
#[derive(Default)]
pub struct ClientBuilder {
    api_key: Option<String>,
    base_url: Option<String>,
    transport: Option<SharedTransport>,
    retry: Option<RetryPolicy>,
    request_timeout: Option<Duration>,
    first_byte_timeout: Option<Duration>,
    stream_idle_timeout: Option<Duration>,
    reconnect: Option<ReconnectPolicy>,
    max_stream_reconnects: Option<u32>,
    max_response_bytes: Option<usize>,
    sse_limits: Option<Limits>,
    user_agent: Option<String>,
    headers: Vec<(String, String)>,
    legacy_v1beta: bool,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("base_url", &self.base_url)
            .field("legacy_v1beta", &self.legacy_v1beta)
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    /// The API key, sent as `x-api-key`. Defaults to `PARALLEL_API_KEY`.
    #[must_use]
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// The server's base URL (scheme, host, optional port and path prefix). Defaults to
    /// `PARALLEL_BASE_URL`, then to [`DEFAULT_BASE_URL`].
    #[must_use]
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// The transport that sends requests. Defaults to `HyperTransport` (feature `hyper`).
    #[must_use]
    pub fn transport<T: Transport>(mut self, transport: T) -> Self {
        self.transport = Some(SharedTransport::new(transport));
        self
    }

    /// An already shared transport, for several clients over one connection pool.
    #[must_use]
    pub fn shared_transport(mut self, transport: SharedTransport) -> Self {
        self.transport = Some(transport);
        self
    }

    /// How failed requests are retried (default: [`RetryPolicy::default`]).
    #[must_use]
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }

    /// The time one request attempt may take, reading a JSON answer's body included (default
    /// [`DEFAULT_REQUEST_TIMEOUT`]). The blocking [`Client::run_result`] call extends it by its
    /// own server-side wait. A stream's body is bounded by
    /// [`ClientBuilder::stream_idle_timeout`] instead.
    #[must_use]
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = Some(timeout);
        self
    }

    /// The time one request attempt waits for the response head, its first bytes (default
    /// [`DEFAULT_FIRST_BYTE_TIMEOUT`]). A server that accepts the request and never answers
    /// is a time-out after this, retried by the [`RetryPolicy`], then reported as an error
    /// that says what timed out. [`Client::run_result`] waits longer, by its server-side wait.
    #[must_use]
    pub fn first_byte_timeout(mut self, timeout: Duration) -> Self {
        self.first_byte_timeout = Some(timeout);
        self
    }

    /// The longest silence of bytes on an open stream before it reconnects (default
    /// [`DEFAULT_STREAM_IDLE_TIMEOUT`]). Any byte resets it, keep-alive comments included:
    /// a stream that receives only keep-alives stays open as long as the server keeps it open.
    #[must_use]
    pub fn stream_idle_timeout(mut self, timeout: Duration) -> Self {
        self.stream_idle_timeout = Some(timeout);
        self
    }

    /// How streams reconnect after failures (default: [`ReconnectPolicy::default`], which
    /// rides out an outage of at least seven minutes).
    #[must_use]
    pub fn stream_reconnect(mut self, policy: ReconnectPolicy) -> Self {
        self.reconnect = Some(policy);
        self
    }

    /// How many consecutive failed reconnects a stream makes before it fails (default
    /// [`DEFAULT_MAX_STREAM_RECONNECTS`]): a shortcut for
    /// [`ReconnectPolicy::max_attempts`], which it overrides.
    #[must_use]
    pub fn max_stream_reconnects(mut self, n: u32) -> Self {
        self.max_stream_reconnects = Some(n);
        self
    }

    /// The size limit of a JSON response body (default [`DEFAULT_MAX_RESPONSE_BYTES`]).
    #[must_use]
    pub fn max_response_bytes(mut self, bytes: usize) -> Self {
        self.max_response_bytes = Some(bytes);
        self
    }

    /// Size limits of the stream parser (line, event and data-line counts).
    #[must_use]
    pub fn sse_limits(mut self, limits: Limits) -> Self {
        self.sse_limits = Some(limits);
        self
    }

    /// The `User-Agent` header (default `parallel-rust/<version>`).
    #[must_use]
    pub fn user_agent(mut self, agent: impl Into<String>) -> Self {
        self.user_agent = Some(agent.into());
        self
    }

    /// A header added to every request; checked when the client is built. It replaces a header
    /// of the same name from `PARALLEL_CUSTOM_HEADERS`; `parallel-beta` values are merged
    /// with the betas of each call.
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Use the legacy `/v1beta` paths for the task-group endpoints (default `false`: `/v1`).
    #[must_use]
    pub fn legacy_v1beta(mut self, legacy: bool) -> Self {
        self.legacy_v1beta = legacy;
        self
    }

    /// Builds the client.
    ///
    /// Settings not given fall back to the environment: `PARALLEL_API_KEY`,
    /// `PARALLEL_BASE_URL`, and `PARALLEL_CUSTOM_HEADERS` (extra headers, one `Name: value` per
    /// line, read as the official SDKs do: lines without a colon are ignored, name and value
    /// trimmed; headers given with [`ClientBuilder::header`] win over them).
    ///
    /// Fails when no API key is given (neither here nor in `PARALLEL_API_KEY`), when the base
    /// URL or a header is invalid, or when no transport is given and the `hyper` feature is off.
    pub fn build(self) -> Result<Client, Error> {
        let Some(api_key) = self.api_key.or_else(|| env_nonempty("PARALLEL_API_KEY")) else {
            return Err(Error::config(
                "no API key: set PARALLEL_API_KEY or call ClientBuilder::api_key",
            ));
        };
        let mut api_key = HeaderValue::from_str(api_key.trim()).map_err(|_| {
            Error::config("the API key contains characters not allowed in an HTTP header")
        })?;
        api_key.set_sensitive(true);

        let base_url = self
            .base_url
            .or_else(|| env_nonempty("PARALLEL_BASE_URL"))
            .unwrap_or_else(|| DEFAULT_BASE_URL.to_owned());
        let base_url = normalize_base_url(&base_url)?;

        let mut headers = HeaderMap::new();
        let agent = self.user_agent.unwrap_or_else(|| USER_AGENT.to_owned());
        headers.insert(
            http::header::USER_AGENT,
            HeaderValue::from_str(&agent)
                .map_err(|_| Error::config(format!("invalid user agent {agent:?}")))?,
        );
        let from_env = std::env::var("PARALLEL_CUSTOM_HEADERS").ok();
        let from_env = parse_custom_headers(from_env.as_deref().unwrap_or(""));
        let given: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
            .collect();
        let env_only = from_env
            .into_iter()
            .filter(|(name, _)| !given.iter().any(|(g, _)| g.eq_ignore_ascii_case(name)));
        for (name, value) in env_only.chain(given.iter().copied()) {
            let header = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| Error::config(format!("invalid header name {name:?}")))?;
            let value = HeaderValue::from_str(value)
                .map_err(|_| Error::config(format!("invalid value for header {name:?}")))?;
            headers.append(header, value);
        }

        let transport = match self.transport {
            Some(transport) => transport,
            None => default_transport()?,
        };

        Ok(Client {
            inner: Arc::new(Inner {
                transport,
                base_url,
                group_prefix: if self.legacy_v1beta { "/v1beta" } else { "/v1" },
                api_key,
                headers,
                retry: self.retry.unwrap_or_default(),
                request_timeout: self.request_timeout.unwrap_or(DEFAULT_REQUEST_TIMEOUT),
                first_byte_timeout: self
                    .first_byte_timeout
                    .unwrap_or(DEFAULT_FIRST_BYTE_TIMEOUT),
                stream_idle_timeout: self
                    .stream_idle_timeout
                    .unwrap_or(DEFAULT_STREAM_IDLE_TIMEOUT),
                reconnect: match self.max_stream_reconnects {
                    Some(n) => self.reconnect.unwrap_or_default().max_attempts(n),
                    None => self.reconnect.unwrap_or_default(),
                },
                max_response_bytes: self
                    .max_response_bytes
                    .unwrap_or(DEFAULT_MAX_RESPONSE_BYTES),
                sse_limits: self.sse_limits.unwrap_or_default(),
            }),
        })
    }
}

/// `PARALLEL_CUSTOM_HEADERS` as the official SDKs read it: one header per line, name and
/// value split at the first colon and trimmed; lines without a colon are ignored, and a later
/// line replaces an earlier one of the same name.
fn parse_custom_headers(text: &str) -> Vec<(&str, &str)> {
    let mut headers: Vec<(&str, &str)> = Vec::new();
    for line in text.split('\n') {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let (name, value) = (name.trim(), value.trim());
        headers.retain(|(seen, _)| !seen.eq_ignore_ascii_case(name));
        headers.push((name, value));
    }
    headers
}

fn env_nonempty(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

#[cfg(feature = "hyper")]
fn default_transport() -> Result<SharedTransport, Error> {
    let transport = parallel_transport::HyperTransport::new().map_err(|e| {
        Error::config("could not set up the default HTTPS transport").with_source(e)
    })?;
    Ok(SharedTransport::new(transport))
}

#[cfg(not(feature = "hyper"))]
fn default_transport() -> Result<SharedTransport, Error> {
    Err(Error::config(
        "no transport: enable the `hyper` feature of parallel-client or call ClientBuilder::transport",
    ))
}

/// Checks a base URL and strips its trailing slashes, so that paths can be appended.
fn normalize_base_url(url: &str) -> Result<String, Error> {
    let trimmed = url.trim().trim_end_matches('/');
    let uri: http::Uri = trimmed
        .parse()
        .map_err(|_| Error::config(format!("invalid base URL {url:?}")))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        _ => {
            return Err(Error::config(format!(
                "invalid base URL {url:?}: it must start with https:// (or http:// for a local server)"
            )));
        }
    }
    if uri.authority().is_none() || uri.query().is_some() {
        return Err(Error::config(format!(
            "invalid base URL {url:?}: give scheme, host and optional port and path, no query"
        )));
    }
    Ok(trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_headers_are_read_as_the_official_sdks_do() {
        let text = "X-Team: research\r\nno colon here\n\n x-team : later \nparallel-beta: a,b\nX-Url: http://h:1";
        assert_eq!(
            parse_custom_headers(text),
            [
                ("x-team", "later"),
                ("parallel-beta", "a,b"),
                ("X-Url", "http://h:1")
            ]
        );
        assert!(parse_custom_headers("").is_empty());
    }

    #[test]
    fn base_urls_are_checked_and_trimmed() {
        assert_eq!(
            normalize_base_url("https://api.parallel.ai/").unwrap(),
            "https://api.parallel.ai"
        );
        assert_eq!(
            normalize_base_url(" http://127.0.0.1:80/proxy// ").unwrap(),
            "http://127.0.0.1:80/proxy"
        );
        for bad in [
            "api.parallel.ai",
            "ftp://x",
            "https://x/?a=b",
            "",
            "http://",
        ] {
            let err = normalize_base_url(bad).unwrap_err();
            assert!(err.is_config(), "{bad}");
            assert!(err.to_string().contains("base URL"), "{err}");
        }
    }
}
