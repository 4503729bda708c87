//! Building requests and sending them with retries.
//!
//! Every call goes through [`Inner::execute`], which decides per failure whether sending again
//! is safe. The rule that keeps work from being duplicated: a request that creates work
//! ([`Effect::CreatesWork`]) is sent again only when it provably never reached the server (the
//! transport says so, or the server rejected it with 408/409/429 before doing anything, or the
//! server said `x-should-retry: true`). Anything else leaves the outcome unknown and is
//! returned as an error with [`Error::is_outcome_unknown`], for the caller to reconcile.

use std::fmt::Write as _;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use parallel_transport::{Body, TransportError};
use serde::de::DeserializeOwned;

use crate::beta::{self, Beta};
use crate::client::Inner;
use crate::error::{Error, Kind};
use crate::retry::{should_retry_header, status_is_retryable};

/// The most of an error body that is read, to quote the server's message.
const MAX_ERROR_BODY: usize = 64 << 10;

/// What a request does on the server, which decides when it may be sent again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Effect {
    /// Reads, or creates nothing that costs (an empty group): retried freely.
    Idempotent,
    /// Creates runs: retried only when it provably did not reach the server.
    CreatesWork,
}

/// One logical call: a request and how to treat its failures.
pub(crate) struct Call {
    /// What the call does, for error messages ("getting task group tgrp_..").
    pub(crate) what: String,
    pub(crate) method: Method,
    /// Path and query, starting with `/`.
    pub(crate) path: String,
    pub(crate) body: Option<Bytes>,
    pub(crate) effect: Effect,
    /// Ask for `text/event-stream` instead of JSON.
    pub(crate) stream: bool,
    /// The time one attempt may take, head and body.
    pub(crate) timeout: Duration,
    /// The time one attempt may wait for the response head (time to first byte).
    pub(crate) first_byte_timeout: Duration,
    /// Retries of this call instead of the policy's (streams reconnect by their own policy).
    pub(crate) max_retries: Option<u32>,
    /// Betas for the `parallel-beta` header, merged with the client's own.
    pub(crate) betas: Vec<Beta>,
    /// Whether a 408 answer is retried by the policy. `/result` answers 408 when the run is
    /// still active and handles it itself.
    pub(crate) retry_408: bool,
    /// Headers of this call ([`RequestOptions::header`](crate::RequestOptions::header)),
    /// replacing the client's headers of the same names.
    pub(crate) headers: Vec<(http::HeaderName, http::HeaderValue)>,
    /// When the whole call, retries included, must be done by.
    pub(crate) deadline: Option<Deadline>,
    /// Counts the `429` answers this call meets (the batch engine's throttling report).
    pub(crate) throttled: Option<std::sync::Arc<std::sync::atomic::AtomicU64>>,
}

impl Call {
    pub(crate) fn get(inner: &Inner, what: String, path: String) -> Self {
        Self {
            what,
            method: Method::GET,
            path,
            body: None,
            effect: Effect::Idempotent,
            stream: false,
            timeout: inner.request_timeout,
            first_byte_timeout: inner.first_byte_timeout,
            max_retries: None,
            betas: Vec::new(),
            retry_408: true,
            headers: Vec::new(),
            deadline: None,
            throttled: None,
        }
    }

    pub(crate) fn post(
        inner: &Inner,
        what: String,
        path: String,
        body: Bytes,
        effect: Effect,
    ) -> Self {
        Self {
            method: Method::POST,
            body: Some(body),
            effect,
            ..Self::get(inner, what, path)
        }
    }

    pub(crate) fn stream(mut self) -> Self {
        self.stream = true;
        self
    }
}

/// When a call with a timeout must be done by: the instant, and the timeout it came from
/// (for the error).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline {
    pub(crate) at: tokio::time::Instant,
    pub(crate) timeout: Duration,
}

impl Deadline {
    pub(crate) fn after(timeout: Duration) -> Self {
        Self {
            at: tokio::time::Instant::now() + timeout,
            timeout,
        }
    }

    /// The error of a call whose deadline passed.
    pub(crate) fn error(self, what: &str) -> Error {
        Error::new(
            Kind::Timeout,
            format!(
                "{what} did not finish within its timeout of {:?}; give the call a longer \
                 .timeout(..)",
                self.timeout
            ),
        )
    }
}

/// What one attempt ended with.
enum Attempt<T> {
    Done(T),
    /// Failed; `retry` says whether sending again is safe and useful.
    Failed {
        error: Error,
        retry: bool,
        headers: Option<http::HeaderMap>,
    },
}

impl Inner {
    fn build_request(&self, call: &Call) -> Result<Request<Bytes>, Error> {
        let uri = format!("{}{}", self.base_url, call.path);
        let mut builder = Request::builder().method(call.method.clone()).uri(&uri);
        if let Some(headers) = builder.headers_mut() {
            headers.extend(self.headers.iter().map(|(k, v)| (k.clone(), v.clone())));
            for (name, _) in &call.headers {
                headers.remove(name);
            }
            for (name, value) in &call.headers {
                headers.append(name.clone(), value.clone());
            }
            headers.insert("x-api-key", self.api_key.clone());
            if !call.betas.is_empty()
                && let Some(value) =
                    beta::header_value(self.headers.get_all(beta::HEADER), &call.betas)
            {
                headers.insert(beta::HEADER, value);
            }
            let accept = if call.stream {
                "text/event-stream"
            } else {
                "application/json"
            };
            headers.insert(header::ACCEPT, http::HeaderValue::from_static(accept));
            if call.body.is_some() {
                headers.insert(
                    header::CONTENT_TYPE,
                    http::HeaderValue::from_static("application/json"),
                );
            }
        }
        builder
            .body(call.body.clone().unwrap_or_default())
            .map_err(|e| {
                Error::config(format!("could not build the request for {uri}")).with_source(e)
            })
    }

    /// Sends `call` until it succeeds or the retry policy gives up, and returns the response
    /// head with its body still streaming.
    pub(crate) async fn send(&self, call: &Call) -> Result<Response<Body>, Error> {
        self.execute(call, |response| async move { Ok(response) })
            .await
    }

    /// Sends `call` and decodes its JSON answer; reading the body is part of each attempt, so
    /// a body that breaks off is retried like a failed request.
    pub(crate) async fn json<T: DeserializeOwned>(&self, call: &Call) -> Result<T, Error> {
        let max = self.max_response_bytes;
        let bytes = self
            .execute(call, |response| async move {
                response.into_body().collect_limited(max).await
            })
            .await?;
        parallel_types::from_json_slice(&bytes)
            .map_err(|e| Error::decode(&format!("the answer to {}", call.what), e))
    }

    /// The retry loop. `read` turns a success response into the call's result within the
    /// attempt's time budget; its transport errors count as a failed attempt.
    async fn execute<T, F, Fut>(&self, call: &Call, read: F) -> Result<T, Error>
    where
        F: Fn(Response<Body>) -> Fut,
        Fut: Future<Output = Result<T, TransportError>>,
    {
        let mut retries = 0;
        let max_retries = call.max_retries.unwrap_or(self.retry.retries());
        loop {
            if let Some(deadline) = call.deadline
                && tokio::time::Instant::now() >= deadline.at
            {
                return Err(deadline.error(&call.what));
            }
            let request = self.build_request(call)?;
            let attempt = self.attempt(call, request, &read).await;
            match attempt {
                Attempt::Done(value) => return Ok(value),
                Attempt::Failed {
                    error,
                    retry,
                    headers,
                } => {
                    if !retry || retries >= max_retries {
                        return Err(if retries == 0 {
                            error
                        } else {
                            error.context(&format!(" (gave up after {} attempts)", retries + 1))
                        });
                    }
                    let delay = self.retry.delay(retries, headers.as_ref());
                    if let Some(deadline) = call.deadline
                        && tokio::time::Instant::now() + delay >= deadline.at
                    {
                        if tokio::time::Instant::now() >= deadline.at {
                            // The deadline cut this attempt: its error says so.
                            return Err(error);
                        }
                        return Err(error.context(&format!(
                            " (no time left for another attempt within the call's timeout of {:?})",
                            deadline.timeout
                        )));
                    }
                    tracing::debug!(
                        what = %call.what,
                        retry = retries + 1,
                        delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                        error = %error,
                        "retrying"
                    );
                    tokio::time::sleep(delay).await;
                    retries += 1;
                }
            }
        }
    }

    async fn attempt<T, F, Fut>(&self, call: &Call, request: Request<Bytes>, read: &F) -> Attempt<T>
    where
        F: Fn(Response<Body>) -> Fut,
        Fut: Future<Output = Result<T, TransportError>>,
    {
        let creates_work = call.effect == Effect::CreatesWork;
        let started = tokio::time::Instant::now();
        let attempt_deadline = started + call.timeout;
        // The call's own deadline cuts the attempt short when it comes first.
        let call_deadline = call.deadline.filter(|d| d.at < attempt_deadline);
        let deadline = call_deadline.map_or(attempt_deadline, |d| d.at);
        let head_deadline = deadline.min(started + call.first_byte_timeout);
        let late = |fallback: Error| match call_deadline {
            Some(d) if tokio::time::Instant::now() >= d.at => d.error(&call.what),
            _ => fallback,
        };
        let sent = self.transport.send(request);
        let response = match tokio::time::timeout_at(head_deadline, sent).await {
            Err(_) => {
                let error = late(no_answer_error(call, head_deadline - started));
                return unknown_outcome(error, creates_work);
            }
            Ok(Err(e)) => return transport_failure(call, e, creates_work),
            Ok(Ok(response)) => response,
        };
        self.reachability.record_answer();

        let status = response.status();
        if status.is_success() {
            return match tokio::time::timeout_at(deadline, read(response)).await {
                Err(_) => unknown_outcome(late(timeout_error(call)), creates_work),
                Ok(Err(e)) => transport_failure(call, e, creates_work),
                Ok(Ok(value)) => Attempt::Done(value),
            };
        }

        if status == StatusCode::TOO_MANY_REQUESTS
            && let Some(throttled) = &call.throttled
        {
            throttled.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        let (parts, body) = response.into_parts();
        // The error body is informative only; if it cannot be read the status still decides.
        let body =
            match tokio::time::timeout_at(deadline, body.collect_limited(MAX_ERROR_BODY)).await {
                Ok(Ok(bytes)) => bytes,
                _ => Bytes::new(),
            };
        let error = Error::api(status, &call.what, &body);
        let retryable = status_is_retryable(status, &parts.headers)
            && (call.retry_408 || status != StatusCode::REQUEST_TIMEOUT);
        if !retryable {
            return Attempt::Failed {
                error,
                retry: false,
                headers: None,
            };
        }
        // A server error may come after the work was done; only explicit rejections are safe
        // to repeat for a request that creates work.
        let rejected_before_work = matches!(status.as_u16(), 408 | 409 | 429)
            || should_retry_header(&parts.headers) == Some(true);
        if creates_work && !rejected_before_work {
            return Attempt::Failed {
                error: error.outcome_unknown(),
                retry: false,
                headers: None,
            };
        }
        Attempt::Failed {
            error,
            retry: true,
            headers: Some(parts.headers),
        }
    }
}

fn no_answer_error(call: &Call, waited: Duration) -> Error {
    Error::new(
        Kind::Timeout,
        format!(
            "{} timed out: the server sent no answer (not even a response head) within \
             {waited:?}; raise ClientBuilder::first_byte_timeout if the server is slow to answer",
            call.what
        ),
    )
}

fn timeout_error(call: &Call) -> Error {
    Error::new(
        Kind::Timeout,
        format!(
            "{} timed out after {:?} while reading the answer; raise \
             ClientBuilder::request_timeout if the server is slow",
            call.what, call.timeout
        ),
    )
}

fn unknown_outcome<T>(error: Error, creates_work: bool) -> Attempt<T> {
    if creates_work {
        Attempt::Failed {
            error: error.outcome_unknown(),
            retry: false,
            headers: None,
        }
    } else {
        Attempt::Failed {
            error,
            retry: true,
            headers: None,
        }
    }
}

fn transport_failure<T>(call: &Call, e: TransportError, creates_work: bool) -> Attempt<T> {
    if e.is_config() {
        let error = Error::config(format!(
            "{} cannot be sent: check the client setup",
            call.what
        ))
        .with_source(e);
        return Attempt::Failed {
            error,
            retry: false,
            headers: None,
        };
    }
    if e.is_limit() {
        let error = Error::new(
            Kind::Limit,
            format!(
                "the answer to {} is too large; raise ClientBuilder::max_response_bytes",
                call.what
            ),
        )
        .with_source(e);
        return Attempt::Failed {
            error,
            retry: false,
            headers: None,
        };
    }
    let not_sent = e.is_request_not_sent();
    let (kind, text) = if e.is_timeout() {
        (Kind::Timeout, "timed out")
    } else {
        (Kind::Connection, "failed on the network")
    };
    let error = Error::new(
        kind,
        format!(
            "{} {text}; check the network and the base URL, then try again",
            call.what
        ),
    )
    .with_source(e);
    if not_sent {
        Attempt::Failed {
            error,
            retry: true,
            headers: None,
        }
    } else {
        unknown_outcome(error, creates_work)
    }
}

/// Appends `key=value` pairs to a path, percent-encoding the values.
pub(crate) struct PathBuilder {
    path: String,
    has_query: bool,
}

impl PathBuilder {
    pub(crate) fn new(path: impl Into<String>) -> Self {
        let path = path.into();
        let has_query = path.contains('?');
        Self { path, has_query }
    }

    /// Appends one path segment, percent-encoded.
    pub(crate) fn segment(mut self, segment: &str) -> Self {
        self.path.push('/');
        encode_into(&mut self.path, segment);
        self
    }

    pub(crate) fn query(mut self, key: &str, value: &str) -> Self {
        self.path.push(if self.has_query { '&' } else { '?' });
        self.has_query = true;
        encode_into(&mut self.path, key);
        self.path.push('=');
        encode_into(&mut self.path, value);
        self
    }

    pub(crate) fn query_opt(self, key: &str, value: Option<&str>) -> Self {
        match value {
            Some(v) => self.query(key, v),
            None => self,
        }
    }

    pub(crate) fn build(self) -> String {
        self.path
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn encode_into(out: &mut String, text: &str) {
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_encode_segments_and_query_values() {
        let path = PathBuilder::new("/v1/tasks/groups")
            .segment("tgrp_1 /x")
            .segment("runs")
            .query("include_input", "true")
            .query_opt("status", None)
            .query_opt("last_event_id", Some("17&a=b"))
            .build();
        assert_eq!(
            path,
            "/v1/tasks/groups/tgrp_1%20%2Fx/runs?include_input=true&last_event_id=17%26a%3Db"
        );
    }
}
