//! The client handle and its builder.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::header::{HeaderMap, HeaderName, HeaderValue};
use parallel_transport::{SharedTransport, Transport};

use crate::SseLimits;
use crate::error::Error;
use crate::reconnect::{Reachability, Reconnect, ReconnectPolicy};
use crate::retry::RetryPolicy;

/// The base URL used when [`ClientBuilder::base_url`] is not called (and, with
/// [`ClientBuilder::from_env`], `PARALLEL_BASE_URL` is not set).
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
    pub(crate) sse_limits: SseLimits,
    /// Whether the server ever answered, and who is told of stream reconnects.
    pub(crate) reachability: Reachability,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &self.inner;
        f.debug_struct("Client")
            .field("base_url", &inner.base_url)
            .field("group_prefix", &inner.group_prefix)
            .field("api_key", &"<redacted>")
            .field("headers", &RedactedHeaders(&inner.headers))
            .field("retry", &inner.retry)
            .field("request_timeout", &inner.request_timeout)
            .field("first_byte_timeout", &inner.first_byte_timeout)
            .field("stream_idle_timeout", &inner.stream_idle_timeout)
            .field("reconnect", &inner.reconnect)
            .finish_non_exhaustive()
    }
}

/// Header names with their values hidden: custom headers may carry credentials.
struct RedactedHeaders<'a>(&'a HeaderMap);

impl fmt::Debug for RedactedHeaders<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(name, value)| {
                let shown = if value.is_sensitive() {
                    "<redacted>"
                } else {
                    value.to_str().unwrap_or("<binary>")
                };
                (name.as_str(), shown)
            }))
            .finish()
    }
}

impl Client {
    /// A builder with every setting at its default. It reads nothing from the environment:
    /// use [`ClientBuilder::from_env`] (or [`Client::from_env`]) for that.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A client configured from the environment, with the default transport and settings:
    /// [`ClientBuilder::from_env`] then [`ClientBuilder::build`]. Fails when
    /// `PARALLEL_API_KEY` is not set.
    pub fn from_env() -> Result<Self, Error> {
        ClientBuilder::from_env().build()
    }

    /// The base URL requests go to.
    pub fn base_url(&self) -> &str {
        &self.inner.base_url
    }
}

/// Configures and builds a [`Client`].
///
/// The builder is pure: [`Client::builder`] starts from the defaults and reads nothing from
/// the environment, so a program's settings are all in its code. [`ClientBuilder::from_env`]
/// starts from `PARALLEL_API_KEY`, `PARALLEL_BASE_URL` and `PARALLEL_CUSTOM_HEADERS` instead,
/// and any setter called afterwards wins over them.
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
    /// Headers read by [`ClientBuilder::from_env`] (`PARALLEL_CUSTOM_HEADERS`); those given
    /// with [`ClientBuilder::header`] replace them by name.
    env_headers: Vec<(String, String)>,
    transport: Option<SharedTransport>,
    retry: Option<RetryPolicy>,
    request_timeout: Option<Duration>,
    first_byte_timeout: Option<Duration>,
    stream_idle_timeout: Option<Duration>,
    reconnect: Option<ReconnectPolicy>,
    max_response_bytes: Option<usize>,
    sse_limits: Option<SseLimits>,
    on_reconnect: Option<crate::reconnect::ReconnectReport>,
    user_agent: Option<String>,
    headers: Vec<(String, String)>,
    legacy_v1beta: bool,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .env_headers
            .iter()
            .chain(&self.headers)
            .map(|(name, _)| (name.as_str(), "<redacted>"))
            .collect();
        f.debug_struct("ClientBuilder")
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("base_url", &self.base_url.as_deref().map(redact_url))
            .field("headers", &headers)
            .field("legacy_v1beta", &self.legacy_v1beta)
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    /// A builder set from the environment, the way the official SDKs read it:
    ///
    /// - `PARALLEL_API_KEY`: the API key ([`ClientBuilder::api_key`]);
    /// - `PARALLEL_BASE_URL`: the base URL ([`ClientBuilder::base_url`]);
    /// - `PARALLEL_CUSTOM_HEADERS`: extra headers, one `Name: value` per line (lines without
    ///   a colon are ignored, name and value trimmed, a later line of the same name wins);
    ///   a header of the same name given with [`ClientBuilder::header`] replaces one of these.
    ///
    /// Unset or blank variables leave the defaults. Nothing is checked until
    /// [`ClientBuilder::build`]; setters called on the result win over the environment.
    ///
    /// ```
    /// use parallel_client::ClientBuilder;
    ///
    /// // Whatever the environment says, this client talks to a local server.
    /// let client = ClientBuilder::from_env()
    ///     .api_key("test-key")
    ///     .base_url("http://127.0.0.1:8080")
    ///     .build()?;
    /// assert_eq!(client.base_url(), "http://127.0.0.1:8080");
    /// # Ok::<(), parallel_client::Error>(())
    /// ```
    pub fn from_env() -> Self {
        let custom = std::env::var("PARALLEL_CUSTOM_HEADERS").unwrap_or_default();
        Self {
            api_key: env_nonempty("PARALLEL_API_KEY"),
            base_url: env_nonempty("PARALLEL_BASE_URL"),
            env_headers: parse_custom_headers(&custom)
                .into_iter()
                .map(|(name, value)| (name.to_owned(), value.to_owned()))
                .collect(),
            ..Self::default()
        }
    }

    /// The API key, sent as `x-api-key` (required; [`ClientBuilder::from_env`] reads
    /// `PARALLEL_API_KEY`).
    #[must_use]
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// The server's base URL (scheme, host, optional port and path prefix). Defaults to
    /// [`DEFAULT_BASE_URL`] ([`ClientBuilder::from_env`] reads `PARALLEL_BASE_URL`).
    /// [`build`](ClientBuilder::build) refuses one with credentials (`user:password@`), a
    /// fragment (`#`) or a query, in an error that does not show the credentials.
    #[must_use]
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// The transport that sends requests. Defaults to `HyperTransport` (feature `hyper`).
    ///
    /// Any [`Transport`]: a type of your own, an `Arc` of one, or a
    /// [`SharedTransport`](parallel_transport::SharedTransport) that other clients use too
    /// (several clients over one connection pool). A `SharedTransport` is kept as it is, not
    /// wrapped again.
    #[must_use]
    pub fn transport<T: Transport>(mut self, transport: T) -> Self {
        self.transport = Some(SharedTransport::new(transport));
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

    /// Called each time a stream reconnects after a failure (a connection refused or cut, an
    /// idle timeout, a 5xx answer), with a [`Reconnect`] that names the stream, the server's
    /// address, the attempt and the error; its `Display` is a ready-made line for a log or a
    /// progress display. Without it, reconnects are only `tracing` events. Shared by the
    /// client's clones; it runs on the stream's task, so it should return quickly.
    ///
    /// ```
    /// let client = parallel_client::Client::builder()
    ///     .api_key("key")
    ///     .on_reconnect(|reconnect| eprintln!("{reconnect}"))
    ///     .build()?;
    /// # Ok::<(), parallel_client::Error>(())
    /// ```
    #[must_use]
    pub fn on_reconnect(mut self, report: impl Fn(&Reconnect<'_>) + Send + Sync + 'static) -> Self {
        self.on_reconnect = Some(Arc::new(report));
        self
    }

    /// The size limit of a JSON response body (default [`DEFAULT_MAX_RESPONSE_BYTES`]).
    #[must_use]
    pub fn max_response_bytes(mut self, bytes: usize) -> Self {
        self.max_response_bytes = Some(bytes);
        self
    }

    /// Size limits of the stream parser (line, event and data-line counts; default
    /// [`SseLimits::default`]).
    #[must_use]
    pub fn sse_limits(mut self, limits: SseLimits) -> Self {
        self.sse_limits = Some(limits);
        self
    }

    /// The `User-Agent` header (default `parallel-rust/<version>`).
    #[must_use]
    pub fn user_agent(mut self, agent: impl Into<String>) -> Self {
        self.user_agent = Some(agent.into());
        self
    }

    /// A header added to every request; checked when the client is built. Its value is
    /// treated as sensitive: `Debug` output shows the name only. It replaces a header
    /// of the same name read by [`ClientBuilder::from_env`]; `parallel-beta` values are
    /// merged with the betas of each call.
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

    /// Builds the client. Reads nothing from the environment (see
    /// [`ClientBuilder::from_env`]).
    ///
    /// Fails when no API key is given, when the base URL or a header is invalid, or when no
    /// transport is given and the `hyper` feature is off.
    pub fn build(self) -> Result<Client, Error> {
        let Some(api_key) = self.api_key.filter(|key| !key.trim().is_empty()) else {
            return Err(Error::config(
                "no API key: call ClientBuilder::api_key, or set PARALLEL_API_KEY and use \
                 Client::from_env (or ClientBuilder::from_env)",
            ));
        };
        let mut api_key = HeaderValue::from_str(api_key.trim()).map_err(|_| {
            Error::config("the API key contains characters not allowed in an HTTP header")
        })?;
        api_key.set_sensitive(true);

        let base_url = self.base_url.unwrap_or_else(|| DEFAULT_BASE_URL.to_owned());
        let base_url = normalize_base_url(&base_url)?;

        let mut headers = HeaderMap::new();
        let agent = self.user_agent.unwrap_or_else(|| USER_AGENT.to_owned());
        headers.insert(
            http::header::USER_AGENT,
            HeaderValue::from_str(&agent)
                .map_err(|_| Error::config(format!("invalid user agent {agent:?}")))?,
        );
        let given = &self.headers;
        let env_only = self
            .env_headers
            .iter()
            .filter(|(name, _)| !given.iter().any(|(g, _)| g.eq_ignore_ascii_case(name)));
        for (name, value) in env_only.chain(given) {
            let header = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| Error::config(format!("invalid header name {name:?}")))?;
            let mut value = HeaderValue::from_str(value)
                .map_err(|_| Error::config(format!("invalid value for header {name:?}")))?;
            // Custom headers may carry credentials: kept out of `Debug` and of HTTP/2's
            // header compression tables.
            value.set_sensitive(true);
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
                reconnect: self.reconnect.unwrap_or_default(),
                max_response_bytes: self
                    .max_response_bytes
                    .unwrap_or(DEFAULT_MAX_RESPONSE_BYTES),
                sse_limits: self.sse_limits.unwrap_or_default(),
                reachability: Reachability::new(self.on_reconnect),
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
///
/// Credentials (`user:password@`) are refused: the API takes its key in a header, and a URL
/// is printed, logged and shown in errors where a key must not be. A fragment (`#..`) is
/// refused too: it is never sent, so everything after it would be cut off silently. Error
/// texts show the URL without its credentials ([`redact_url`]).
fn normalize_base_url(url: &str) -> Result<String, Error> {
    let shown = redact_url(url);
    let trimmed = url.trim().trim_end_matches('/');
    if trimmed.contains('#') {
        return Err(Error::config(format!(
            "invalid base URL {shown:?}: it has a fragment (`#`), which is never sent to the \
             server; give scheme, host and optional port and path"
        )));
    }
    let uri: http::Uri = trimmed
        .parse()
        .map_err(|_| Error::config(format!("invalid base URL {shown:?}")))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        _ => {
            return Err(Error::config(format!(
                "invalid base URL {shown:?}: it must start with https:// (or http:// for a local server)"
            )));
        }
    }
    if uri.authority().is_some_and(|a| a.as_str().contains('@')) || shown != url {
        return Err(Error::config(format!(
            "invalid base URL {shown:?}: it carries credentials (`user:password@`); give the \
             API key with ClientBuilder::api_key (or PARALLEL_API_KEY), never in the URL"
        )));
    }
    if uri.authority().is_none() || uri.query().is_some() {
        return Err(Error::config(format!(
            "invalid base URL {shown:?}: give scheme, host and optional port and path, no query"
        )));
    }
    Ok(trimmed.to_owned())
}

/// `url` with anything that may be credentials replaced by `***`: everything between the
/// scheme's `://` (or the start) and the last `@`. A password may hold `/`, `?` or `#`, so the
/// last `@` anywhere counts, not only one inside the authority.
fn redact_url(url: &str) -> String {
    let start = url.find("://").map_or(0, |i| i + 3);
    match url[start..].rfind('@') {
        Some(at) => format!("{}***@{}", &url[..start], &url[start + at + 1..]),
        None => url.to_owned(),
    }
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

    /// Runs in a child process of the test binary with the variables set, so that it checks
    /// the same thing whatever this process's environment holds.
    #[test]
    fn only_from_env_reads_the_environment() {
        const CHILD: &str = "PARALLEL_CLIENT_TEST_ENV_CHILD";
        if std::env::var_os(CHILD).is_some() {
            let error = Client::builder().build().unwrap_err();
            assert!(
                error.is_config() && error.to_string().contains("from_env"),
                "{error}"
            );
            let pure = Client::builder().api_key("given").build().unwrap();
            assert_eq!(pure.base_url(), DEFAULT_BASE_URL);
            assert!(!pure.inner.headers.contains_key("x-team"));
            let from_env = ClientBuilder::from_env().build().unwrap();
            assert_eq!(from_env.base_url(), "http://127.0.0.1:9");
            assert_eq!(from_env.inner.headers["x-team"], "research");
            let overridden = ClientBuilder::from_env()
                .base_url("http://127.0.0.1:10")
                .header("X-Team", "sales")
                .build()
                .unwrap();
            assert_eq!(overridden.base_url(), "http://127.0.0.1:10");
            let teams: Vec<_> = overridden.inner.headers.get_all("x-team").iter().collect();
            assert_eq!(teams, ["sales"]);
            return;
        }
        let name = "client::tests::only_from_env_reads_the_environment";
        let output = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", name, "--nocapture"])
            .env(CHILD, "1")
            .env("PARALLEL_API_KEY", "from-env")
            .env("PARALLEL_BASE_URL", "http://127.0.0.1:9")
            .env("PARALLEL_CUSTOM_HEADERS", "X-Team: research")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && stdout.contains("1 passed"),
            "{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
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
            "http://127.0.0.1:8080#/v1",
        ] {
            let err = normalize_base_url(bad).unwrap_err();
            assert!(err.is_config(), "{bad}");
            assert!(err.to_string().contains("base URL"), "{err}");
        }
    }

    #[test]
    fn credentials_in_a_base_url_are_refused_without_showing_them() {
        for url in [
            "https://user:s3cr3t@api.parallel.ai",
            "https://s3cr3t@api.parallel.ai/v1",
            "http://user:s3/cr#3t@127.0.0.1:8080",
            "user:s3cr3t@api.parallel.ai",
        ] {
            let err = normalize_base_url(url).unwrap_err();
            let text = err.to_string();
            assert!(err.is_config(), "{url}: {text}");
            assert!(
                !text.contains("s3cr3t") && !text.contains("cr#3t"),
                "{text}"
            );
            assert!(!format!("{err:?}").contains("s3cr3t"), "{err:?}");
        }
        assert!(
            normalize_base_url("https://user:s3cr3t@x")
                .unwrap_err()
                .to_string()
                .contains("credentials")
        );
        let builder = Client::builder()
            .api_key("k")
            .base_url("https://user:s3cr3t@api.parallel.ai");
        assert!(!format!("{builder:?}").contains("s3cr3t"), "{builder:?}");
        let err = builder.build().unwrap_err();
        assert!(!format!("{err} {err:?}").contains("s3cr3t"), "{err:?}");
    }

    #[test]
    fn custom_header_values_are_sensitive_and_never_in_debug() {
        let builder = Client::builder()
            .api_key("k")
            .header("x-proxy-token", "tok-s3cr3t");
        assert!(
            !format!("{builder:?}").contains("tok-s3cr3t"),
            "{builder:?}"
        );
        let client = builder.build().unwrap();
        let shown = format!("{client:?}");
        assert!(
            !shown.contains("tok-s3cr3t") && shown.contains("x-proxy-token"),
            "{shown}"
        );
        assert!(client.inner.headers["x-proxy-token"].is_sensitive());
        assert!(
            shown.contains("parallel-rust/"),
            "the user agent is shown: {shown}"
        );
    }
}
