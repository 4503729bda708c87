//! The client's one error type.

use std::fmt;

use http::StatusCode;
use parallel_types::ErrorObject;
use serde::Deserialize;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Everything that can go wrong in a client call.
///
/// The type is opaque: ask it what happened with the `is_*` predicates, read the server's
/// error object with [`Error::api_error`], and follow [`std::error::Error::source`] for the
/// underlying cause. The `Display` text says what failed and what to do about it.
///
/// | predicate | what happened | what to do |
/// |---|---|---|
/// | [`is_unauthorized`](Error::is_unauthorized) | 401: the API key is missing or wrong | fix the key |
/// | [`is_insufficient_credit`](Error::is_insufficient_credit) | 402: not enough credit | add credit |
/// | [`is_forbidden`](Error::is_forbidden) | 403: refused, such as an unknown processor | fix the request |
/// | [`is_not_found`](Error::is_not_found) | 404: no such group or run (or a failed run's `/result`) | check the id |
/// | [`is_invalid_request`](Error::is_invalid_request) | 400, 413 or 422: the request is malformed | fix the request |
/// | [`is_rate_limited`](Error::is_rate_limited) | 429 after the retries | slow down |
/// | [`is_timeout`](Error::is_timeout), [`is_connection`](Error::is_connection) | the network or the server is slow or down (after the retries) | try again later |
/// | [`is_outcome_unknown`](Error::is_outcome_unknown) | a request that creates work may or may not have arrived | look before submitting again |
/// | [`is_config`](Error::is_config) | the client or a call was set up wrongly | fix the code |
///
/// Any other answer of the server is [`is_api`](Error::is_api), with its [`status`](Error::status)
/// (a [`StatusCode`](crate::StatusCode)) and the server's error object.
///
/// ```
/// use parallel_client::{Client, StatusCode};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let emulator = parallel_emulator::Emulator::builder().api_key("key").start().await?;
/// # let client = Client::builder().api_key("key").base_url(emulator.base_url()).build()?;
/// match client.group("tgrp_missing").get().await {
///     Ok(group) => println!("{} runs", group.status.num_task_runs),
///     Err(err) if err.is_not_found() => println!("no such group"),
///     Err(err) if err.is_unauthorized() => println!("check PARALLEL_API_KEY: {err}"),
///     Err(err) if err.is_timeout() || err.is_connection() => println!("network trouble: {err}"),
///     Err(err) if err.status() == Some(StatusCode::CONFLICT) => println!("conflict: {err}"),
///     Err(err) => println!("{err}"),
/// }
/// # emulator.shutdown().await;
/// # Ok(()) }
/// ```
pub struct Error {
    kind: Kind,
    message: String,
    api: Option<Box<ErrorObject>>,
    outcome_unknown: bool,
    source: Option<BoxError>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// The client was configured wrongly or a call got an invalid argument.
    Config,
    /// The server answered with a non-success status.
    Api(StatusCode),
    /// The server sent an `error` event inside a stream.
    StreamEvent,
    /// A request, a stream frame or a caller's deadline timed out.
    Timeout,
    /// The connection failed or broke.
    Connection,
    /// A response did not decode as the expected JSON.
    Decode,
    /// A configured size limit was exceeded.
    Limit,
    /// A run failed or was cancelled (reading its output).
    RunFailed,
}

impl Error {
    pub(crate) fn new(kind: Kind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            api: None,
            outcome_unknown: false,
            source: None,
        }
    }

    pub(crate) fn with_source(mut self, source: impl Into<BoxError>) -> Self {
        self.source = Some(source.into());
        self
    }

    pub(crate) fn with_api(mut self, api: Option<ErrorObject>) -> Self {
        self.api = api.map(Box::new);
        self
    }

    pub(crate) fn outcome_unknown(mut self) -> Self {
        self.outcome_unknown = true;
        self
    }

    /// Adds to the message (what was tried before giving up, say).
    pub(crate) fn context(mut self, more: &str) -> Self {
        self.message.push_str(more);
        self
    }

    /// Whether trying again later may help: a connection failure, a time-out, or a 408, 409,
    /// 429 or 5xx answer (the official SDKs' retryable statuses).
    pub(crate) fn is_transient(&self) -> bool {
        match self.kind {
            Kind::Timeout | Kind::Connection => true,
            Kind::Api(status) => {
                matches!(status.as_u16(), 408 | 409 | 429) || status.is_server_error()
            }
            _ => false,
        }
    }

    pub(crate) fn config(message: impl Into<String>) -> Self {
        Self::new(Kind::Config, message)
    }

    pub(crate) fn decode(what: &str, source: impl Into<BoxError>) -> Self {
        Self::new(
            Kind::Decode,
            format!(
                "could not decode {what}; the server sent something this client version does not \
                 understand (upgrade the client, or report it with the response body)"
            ),
        )
        .with_source(source)
    }

    /// An error answer from the server, with the error object parsed from either body shape.
    ///
    /// The text is `<what> failed with HTTP <code>: <the server's message> (ref_id ..); <what
    /// to do>`. The status's reason phrase is given only when the server sent no message:
    /// servers start their messages with it (`Unauthorized: invalid or missing credentials`).
    pub(crate) fn api(status: StatusCode, what: &str, body: &[u8]) -> Self {
        let api = parse_error_body(body);
        let detail = api.as_ref().map_or_else(
            || {
                let text = String::from_utf8_lossy(body);
                let text = text.trim();
                if text.is_empty() {
                    status
                        .canonical_reason()
                        .map_or_else(String::new, |reason| format!(" {reason}"))
                } else {
                    format!(": {}", truncate(text, 300))
                }
            },
            |obj| {
                if obj.ref_id.is_empty() {
                    format!(": {}", obj.message)
                } else {
                    format!(": {} (ref_id {})", obj.message, obj.ref_id)
                }
            },
        );
        Self::new(
            Kind::Api(status),
            format!(
                "{what} failed with HTTP {}{detail}{}",
                status.as_u16(),
                remedy(status)
            ),
        )
        .with_api(api)
    }

    /// An in-band `error` event of a stream.
    pub(crate) fn stream_event(what: &str, error: ErrorObject) -> Self {
        Self::new(
            Kind::StreamEvent,
            format!(
                "{what} reported an error: {} (ref_id {}); try again later",
                error.message, error.ref_id
            ),
        )
        .with_api(Some(error))
    }

    /// True when the server answered with an error status or sent an `error` event; see
    /// [`Error::status`] and [`Error::api_error`].
    pub fn is_api(&self) -> bool {
        matches!(self.kind, Kind::Api(_) | Kind::StreamEvent)
    }

    /// The HTTP status of an error answer.
    pub fn status(&self) -> Option<StatusCode> {
        match self.kind {
            Kind::Api(status) => Some(status),
            _ => None,
        }
    }

    /// The server's error object (`ref_id`, `message`, `detail`), parsed from either error
    /// body shape (`{"error": {..}}` or a validation `{"detail": [..]}`, whose issues become
    /// the object's `detail`).
    pub fn api_error(&self) -> Option<&ErrorObject> {
        self.api.as_deref()
    }

    /// True when the server answered 401: the API key is missing or wrong. Never retried:
    /// check the key ([`ClientBuilder::api_key`](crate::ClientBuilder::api_key), or
    /// `PARALLEL_API_KEY` with [`Client::from_env`](crate::Client::from_env)).
    pub fn is_unauthorized(&self) -> bool {
        self.status() == Some(StatusCode::UNAUTHORIZED)
    }

    /// True when the server answered 403: the request is not allowed, as with a processor
    /// name the API does not know. Never retried.
    pub fn is_forbidden(&self) -> bool {
        self.status() == Some(StatusCode::FORBIDDEN)
    }

    /// True when the server answered 404: no group or run has the id (a failed or cancelled
    /// run's `/result` answers 404 too; its error is on [`Client::get_run`](crate::Client::get_run)).
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(StatusCode::NOT_FOUND)
    }

    /// True when the server refused the request as malformed: 400, 413 (too large) or 422
    /// (validation; [`Error::api_error`] says which field). Never retried: fix the request.
    pub fn is_invalid_request(&self) -> bool {
        matches!(self.status().map(|s| s.as_u16()), Some(400 | 413 | 422))
    }

    /// True when the server answered 402: the account has not enough credit (runs in flight
    /// and groups reserve credit up front). Never retried: add credit, then submit again.
    pub fn is_insufficient_credit(&self) -> bool {
        self.status() == Some(StatusCode::PAYMENT_REQUIRED)
    }

    /// True when the server answered 429 after the retry policy's attempts: the rate limit
    /// or quota was exceeded. Slow down, or raise [`RetryPolicy::max_retries`](crate::RetryPolicy::max_retries).
    pub fn is_rate_limited(&self) -> bool {
        self.status() == Some(StatusCode::TOO_MANY_REQUESTS)
    }

    /// True when a request, a stream's idle wait or a caller's deadline timed out.
    pub fn is_timeout(&self) -> bool {
        self.kind == Kind::Timeout
    }

    /// True when the connection could not be made or broke.
    pub fn is_connection(&self) -> bool {
        self.kind == Kind::Connection
    }

    /// True when a response did not decode as the expected JSON.
    pub fn is_decode(&self) -> bool {
        self.kind == Kind::Decode
    }

    /// True when a configured size limit was exceeded (response body size, SSE line or event
    /// size).
    pub fn is_limit(&self) -> bool {
        self.kind == Kind::Limit
    }

    /// True when a run's output was asked for but the run failed or was cancelled; see
    /// [`Error::api_error`] for the run's error.
    pub fn is_run_failed(&self) -> bool {
        self.kind == Kind::RunFailed
    }

    /// True when the client was configured wrongly or a call got an invalid argument.
    pub fn is_config(&self) -> bool {
        self.kind == Kind::Config
    }

    /// True when a request that creates work (a run, runs in a group) may or may not have been
    /// processed: the request was sent but no answer arrived. Look before submitting again;
    /// [`GroupHandle::add_runs`](crate::GroupHandle::add_runs) does this by itself.
    pub fn is_outcome_unknown(&self) -> bool {
        self.outcome_unknown
    }
}

/// A payload of the wire types that did not decode (a view's `output_as`, say), so that `?`
/// works on them in a function returning this crate's error.
impl From<parallel_types::Error> for Error {
    fn from(error: parallel_types::Error) -> Self {
        Self::new(
            Kind::Decode,
            "could not decode a payload as the requested type",
        )
        .with_source(error)
    }
}

// The message alone: the cause is `source()`, which error reporters print after it.
impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.kind).field("message", &self.message);
        if let Some(api) = &self.api {
            d.field("api_error", api);
        }
        if self.outcome_unknown {
            d.field("outcome_unknown", &true);
        }
        if let Some(source) = &self.source {
            d.field("source", source);
        }
        d.finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// What to do about an error answer, after its message. Worded so as not to repeat what
/// the server's own messages say.
fn remedy(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 => "; check the API key (PARALLEL_API_KEY)",
        402 => "; the account needs more credit",
        403 => "; check the processor name",
        404 => "; check the id",
        408 => "; call again later",
        400 | 413 | 422 => "; fix the request (see the error detail)",
        429 => "; slow down or retry later",
        500..=599 => "; wait and try again",
        _ => "",
    }
}

fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Parses an error body of either documented shape: `{"type":"error","error":{"ref_id",
/// "message","detail"}}` (with `type` and `ref_id` optional, as in the prose docs) or `FastAPI`'s
/// `{"detail":[{"loc","msg","type"}]}`.
pub(crate) fn parse_error_body(body: &[u8]) -> Option<ErrorObject> {
    #[derive(Deserialize)]
    struct Wrapped {
        error: Inner,
    }
    #[derive(Deserialize)]
    struct Inner {
        #[serde(default)]
        ref_id: Option<String>,
        #[serde(default)]
        message: Option<String>,
        #[serde(default)]
        detail: Option<serde_json::Value>,
    }
    #[derive(Deserialize)]
    struct Validation {
        detail: serde_json::Value,
    }

    if let Ok(Wrapped { error }) = serde_json::from_slice::<Wrapped>(body) {
        return Some(error_object(
            error.ref_id.unwrap_or_default(),
            error
                .message
                .unwrap_or_else(|| "unspecified error".to_owned()),
            error.detail.filter(|d| !d.is_null()),
        ));
    }
    let Validation { detail } = serde_json::from_slice::<Validation>(body).ok()?;
    let message = match &detail {
        serde_json::Value::String(text) => text.clone(),
        serde_json::Value::Array(issues) => {
            let parts: Vec<String> = issues
                .iter()
                .take(5)
                .map(|issue| {
                    let msg = issue
                        .get("msg")
                        .and_then(|m| m.as_str())
                        .unwrap_or("invalid");
                    match issue.get("loc").and_then(|l| l.as_array()) {
                        Some(loc) => {
                            let path: Vec<String> = loc
                                .iter()
                                .map(|p| p.as_str().map_or_else(|| p.to_string(), str::to_owned))
                                .collect();
                            format!("{}: {msg}", path.join("."))
                        }
                        None => msg.to_owned(),
                    }
                })
                .collect();
            format!("Request validation error: {}", parts.join("; "))
        }
        _ => "Request validation error".to_owned(),
    };
    Some(error_object(String::new(), message, Some(detail)))
}

fn error_object(ref_id: String, message: String, detail: Option<serde_json::Value>) -> ErrorObject {
    let mut object = ErrorObject::new(message).with_ref_id(ref_id);
    object.detail = detail;
    object
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_error_response_shape() {
        let body = br#"{"type":"error","error":{"ref_id":"a2b4","message":"Request timed out; run still active","detail":null}}"#;
        let obj = parse_error_body(body).unwrap();
        assert_eq!(obj.ref_id, "a2b4");
        assert_eq!(obj.message, "Request timed out; run still active");
        assert_eq!(obj.detail, None);
    }

    #[test]
    fn parses_the_documented_shape_without_type_or_ref_id() {
        let obj =
            parse_error_body(br#"{"error":{"message":"bad","detail":{"field":"x"}}}"#).unwrap();
        assert_eq!(obj.ref_id, "");
        assert_eq!(obj.message, "bad");
        assert_eq!(obj.detail, Some(serde_json::json!({"field":"x"})));
    }

    #[test]
    fn parses_the_fastapi_validation_shape() {
        let body = br#"{"detail":[{"loc":["body","inputs",0,"processor"],"msg":"field required","type":"missing"}]}"#;
        let obj = parse_error_body(body).unwrap();
        assert_eq!(
            obj.message,
            "Request validation error: body.inputs.0.processor: field required"
        );
        assert!(obj.detail.unwrap().is_array());
    }

    #[test]
    fn unknown_bodies_give_no_error_object_but_keep_the_text() {
        assert!(parse_error_body(b"<html>bad gateway</html>").is_none());
        let err = Error::api(
            StatusCode::BAD_GATEWAY,
            "getting the group",
            b"<html>bad gateway</html>",
        );
        assert!(err.is_api());
        assert_eq!(err.status(), Some(StatusCode::BAD_GATEWAY));
        assert!(err.api_error().is_none());
        let text = err.to_string();
        assert!(
            text.contains("502") && text.contains("bad gateway") && text.contains("try again"),
            "{text}"
        );
    }

    #[test]
    fn api_errors_name_the_call_the_server_message_and_a_remedy() {
        let body = br#"{"type":"error","error":{"ref_id":"r1","message":"TaskGroup not found","detail":null}}"#;
        let err = Error::api(StatusCode::NOT_FOUND, "getting task group tgrp_x", body);
        let text = err.to_string();
        assert!(
            text.starts_with("getting task group tgrp_x failed with HTTP 404"),
            "{text}"
        );
        assert!(
            text.contains("TaskGroup not found") && text.contains("r1"),
            "{text}"
        );
        assert_eq!(err.api_error().unwrap().message, "TaskGroup not found");
        assert!(!err.is_timeout() && !err.is_connection() && !err.is_decode() && !err.is_limit());
    }
}
