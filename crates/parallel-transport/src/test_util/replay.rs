//! [`ReplayTransport`]: scripted answers, checked requests.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method, StatusCode};

use crate::{Body, Transport, TransportError};

/// One expected request and the answer to give it; scripted into a [`ReplayTransport`].
///
/// A request matches when its method and its path-and-query are equal to the expected ones,
/// each expected header is present with the expected value (other headers are ignored), and the
/// body matches when a body expectation was set.
pub struct Exchange {
    method: Method,
    path_and_query: String,
    headers: Vec<(String, String)>,
    absent_headers: Vec<String>,
    body: Option<BodyMatch>,
    reply: Option<Result<http::Response<Body>, TransportError>>,
    status: StatusCode,
    reply_headers: Vec<(String, String)>,
    reply_body: Option<Body>,
}

type BodyPredicate = Box<dyn Fn(&[u8]) -> bool + Send + Sync>;

enum BodyMatch {
    Exact(Bytes),
    Predicate {
        description: String,
        matches: BodyPredicate,
    },
}

impl Exchange {
    /// Expects a request with this method and path-and-query (for example
    /// `/v1/tasks/groups/g1/runs?include_input=true`). Answers `200` with an empty body unless
    /// told otherwise.
    pub fn new(method: Method, path_and_query: impl Into<String>) -> Self {
        Self {
            method,
            path_and_query: path_and_query.into(),
            headers: Vec::new(),
            absent_headers: Vec::new(),
            body: None,
            reply: None,
            status: StatusCode::OK,
            reply_headers: Vec::new(),
            reply_body: None,
        }
    }

    /// Expects a `GET` of `path_and_query`.
    pub fn get(path_and_query: impl Into<String>) -> Self {
        Self::new(Method::GET, path_and_query)
    }

    /// Expects a `POST` to `path_and_query`.
    pub fn post(path_and_query: impl Into<String>) -> Self {
        Self::new(Method::POST, path_and_query)
    }

    /// Expects the request to carry header `name` with exactly `value` (among its values).
    #[must_use]
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Expects the request not to carry header `name`.
    #[must_use]
    pub fn no_header(mut self, name: &str) -> Self {
        self.absent_headers.push(name.to_owned());
        self
    }

    /// Expects the request body to be exactly `body`.
    #[must_use]
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = Some(BodyMatch::Exact(body.into()));
        self
    }

    /// Expects the request body to satisfy `matches`; `description` says what it checks in the
    /// mismatch report.
    #[must_use]
    pub fn body_matches(
        mut self,
        description: impl Into<String>,
        matches: impl Fn(&[u8]) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.body = Some(BodyMatch::Predicate {
            description: description.into(),
            matches: Box::new(matches),
        });
        self
    }

    /// Answers with `status` and `body`.
    #[must_use]
    pub fn respond(mut self, status: u16, body: impl Into<Body>) -> Self {
        self.status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        self.reply_body = Some(body.into());
        self
    }

    /// Adds a header to the answer given by [`respond`](Self::respond).
    #[must_use]
    pub fn respond_header(mut self, name: &str, value: &str) -> Self {
        self.reply_headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Answers with this response, as is.
    #[must_use]
    pub fn respond_with(mut self, response: http::Response<Body>) -> Self {
        self.reply = Some(Ok(response));
        self
    }

    /// Answers with this error instead of a response.
    #[must_use]
    pub fn fail(mut self, error: TransportError) -> Self {
        self.reply = Some(Err(error));
        self
    }

    /// Why `request` does not match, or `None` when it does.
    fn mismatch(&self, request: &http::Request<Bytes>) -> Option<String> {
        let mut problems = Vec::new();
        if request.method() != self.method {
            problems.push(format!(
                "method {} instead of {}",
                request.method(),
                self.method
            ));
        }
        let path = request.uri().path_and_query().map_or("", |p| p.as_str());
        if path != self.path_and_query {
            problems.push(format!(
                "path `{path}` instead of `{}`",
                self.path_and_query
            ));
        }
        for (name, value) in &self.headers {
            let values: Vec<_> = request.headers().get_all(name.as_str()).iter().collect();
            if !values.iter().any(|v| v.as_bytes() == value.as_bytes()) {
                problems.push(format!(
                    "header `{name}: {value}` missing (found {values:?})"
                ));
            }
        }
        for name in &self.absent_headers {
            if request.headers().contains_key(name.as_str()) {
                problems.push(format!("header `{name}` present but not expected"));
            }
        }
        match &self.body {
            Some(BodyMatch::Exact(expected)) if request.body() != expected => {
                problems.push(format!(
                    "body {:?} instead of {:?}",
                    String::from_utf8_lossy(request.body()),
                    String::from_utf8_lossy(expected)
                ));
            }
            Some(BodyMatch::Predicate {
                description,
                matches,
            }) if !matches(request.body()) => {
                problems.push(format!(
                    "body {:?} does not satisfy: {description}",
                    String::from_utf8_lossy(request.body())
                ));
            }
            _ => {}
        }
        (!problems.is_empty()).then(|| problems.join("; "))
    }

    fn into_reply(self) -> Result<http::Response<Body>, TransportError> {
        if let Some(reply) = self.reply {
            return reply;
        }
        let mut response = http::Response::new(self.reply_body.unwrap_or_default());
        *response.status_mut() = self.status;
        for (name, value) in &self.reply_headers {
            match (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) {
                (Ok(name), Ok(value)) => {
                    response.headers_mut().append(name, value);
                }
                _ => {
                    return Err(TransportError::config_message(format!(
                        "the scripted response header `{name}: {value}` is not a valid header"
                    )));
                }
            }
        }
        Ok(response)
    }

    fn describe(&self) -> String {
        format!("{} {}", self.method, self.path_and_query)
    }
}

impl fmt::Debug for Exchange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Exchange")
            .field("method", &self.method)
            .field("path_and_query", &self.path_and_query)
            .field("headers", &self.headers)
            .finish_non_exhaustive()
    }
}

/// A transport that answers from a script and checks the requests it receives.
///
/// By default exchanges are consumed in order, each by one request. With
/// [`unordered`](Self::unordered), each request takes the first unused exchange it matches
/// (for clients that send requests concurrently).
///
/// A request that does not match gets an error for which
/// [`is_config`](TransportError::is_config) is true (so no retry policy retries it), and the
/// mismatch is recorded. [`assert_done`](Self::assert_done) then panics with every mismatch and
/// every exchange left unused. Clones share the script, so keep one to check after handing
/// another to the code under test.
#[derive(Clone, Default)]
pub struct ReplayTransport {
    state: Arc<Mutex<State>>,
}

#[derive(Default)]
struct State {
    unordered: bool,
    script: Vec<Option<Exchange>>,
    received: Vec<http::Request<Bytes>>,
    problems: Vec<String>,
}

impl ReplayTransport {
    /// An empty script: every request is unexpected until exchanges are added.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an exchange at the end of the script.
    #[must_use]
    pub fn expect(self, exchange: Exchange) -> Self {
        self.lock().script.push(Some(exchange));
        self
    }

    /// Lets each request take the first unused exchange it matches, in any order.
    #[must_use]
    pub fn unordered(self) -> Self {
        self.lock().unordered = true;
        self
    }

    /// Every request received so far, matched or not, in arrival order.
    pub fn received(&self) -> Vec<http::Request<Bytes>> {
        self.lock().received.clone()
    }

    /// How many scripted exchanges have not been used yet.
    pub fn remaining(&self) -> usize {
        self.lock().script.iter().flatten().count()
    }

    /// Every problem so far: mismatched or unexpected requests, then unused exchanges.
    pub fn problems(&self) -> Vec<String> {
        let state = self.lock();
        let unused = state
            .script
            .iter()
            .flatten()
            .map(|exchange| format!("expected request never came: {}", exchange.describe()));
        state.problems.iter().cloned().chain(unused).collect()
    }

    /// Panics unless every request matched and every exchange was used.
    #[track_caller]
    pub fn assert_done(&self) {
        let problems = self.problems();
        assert!(
            problems.is_empty(),
            "the replay script was not followed:\n  - {}",
            problems.join("\n  - ")
        );
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking test thread must not hide the script from the others.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn answer(
        &self,
        request: http::Request<Bytes>,
    ) -> Result<http::Response<Body>, TransportError> {
        let mut state = self.lock();
        let request_line = format!(
            "{} {}",
            request.method(),
            request.uri().path_and_query().map_or("", |p| p.as_str())
        );
        let found = if state.unordered {
            state
                .script
                .iter()
                .position(|e| e.as_ref().is_some_and(|e| e.mismatch(&request).is_none()))
                .ok_or_else(|| "no unused exchange matches it".to_owned())
        } else {
            match state.script.iter().position(Option::is_some) {
                None => Err("the script is exhausted".to_owned()),
                Some(next) => match state.script[next]
                    .as_ref()
                    .and_then(|e| e.mismatch(&request))
                {
                    None => Ok(next),
                    Some(mismatch) => Err(format!(
                        "expected {}: {mismatch}",
                        state.script[next]
                            .as_ref()
                            .map_or(String::new(), Exchange::describe)
                    )),
                },
            }
        };
        state.received.push(request);
        let taken = found.and_then(|index| {
            state.script[index]
                .take()
                .ok_or_else(|| "the exchange was already used".to_owned())
        });
        match taken {
            Ok(exchange) => exchange.into_reply(),
            Err(reason) => {
                let problem = format!("unexpected request {request_line}: {reason}");
                state.problems.push(problem.clone());
                Err(TransportError::config_message(problem))
            }
        }
    }
}

impl Transport for ReplayTransport {
    async fn send(
        &self,
        request: http::Request<Bytes>,
    ) -> Result<http::Response<Body>, TransportError> {
        self.answer(request)
    }
}

impl fmt::Debug for ReplayTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("ReplayTransport")
            .field("unordered", &state.unordered)
            .field("remaining", &state.script.iter().flatten().count())
            .field("received", &state.received.len())
            .field("problems", &state.problems)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: Method, uri: &str, body: &'static str) -> http::Request<Bytes> {
        http::Request::builder()
            .method(method)
            .uri(uri)
            .header("x-api-key", "k")
            .body(Bytes::from_static(body.as_bytes()))
            .expect("valid request")
    }

    #[tokio::test]
    async fn follows_the_script_in_order() {
        let replay = ReplayTransport::new()
            .expect(
                Exchange::post("/v1/groups")
                    .header("x-api-key", "k")
                    .body("{}")
                    .respond(201, "created")
                    .respond_header("retry-after", "1"),
            )
            .expect(Exchange::get("/v1/groups/g?x=1").respond(200, "group"));

        let response = replay
            .send(request(Method::POST, "http://h/v1/groups", "{}"))
            .await
            .expect("scripted");
        assert_eq!(response.status(), 201);
        assert_eq!(response.headers()["retry-after"], "1");
        assert_eq!(
            response.into_body().collect().await.expect("body"),
            "created"
        );

        let response = replay
            .send(request(Method::GET, "http://h/v1/groups/g?x=1", ""))
            .await
            .expect("scripted");
        assert_eq!(response.into_body().collect().await.expect("body"), "group");
        assert_eq!(replay.received().len(), 2);
        replay.assert_done();
    }

    #[tokio::test]
    async fn reports_mismatches_and_unused_exchanges() {
        let replay = ReplayTransport::new()
            .expect(
                Exchange::post("/v1/groups")
                    .header("x-api-key", "other")
                    .body("{}"),
            )
            .expect(Exchange::get("/never"));
        let error = replay
            .send(request(Method::GET, "http://h/v1/groups", "[]"))
            .await
            .expect_err("mismatch");
        assert!(error.is_config(), "{error:?}");

        let problems = replay.problems();
        assert_eq!(problems.len(), 3, "{problems:#?}");
        let mismatch = &problems[0];
        for part in [
            "method GET instead of POST",
            "x-api-key: other",
            "body \"[]\"",
        ] {
            assert!(mismatch.contains(part), "{mismatch} mentions {part}");
        }
        assert!(problems[2].contains("GET /never"), "{problems:#?}");
        let panic = std::panic::catch_unwind(|| replay.assert_done());
        assert!(panic.is_err(), "assert_done panics on problems");
    }

    #[tokio::test]
    async fn exhausted_script_fails_the_request() {
        let replay = ReplayTransport::new();
        let error = replay
            .send(request(Method::GET, "http://h/x", ""))
            .await
            .expect_err("nothing scripted");
        assert!(error.to_string().contains("exhausted"), "{error}");
    }

    #[tokio::test]
    async fn unordered_takes_the_first_match() {
        let replay = ReplayTransport::new()
            .unordered()
            .expect(Exchange::get("/a").respond(200, "a"))
            .expect(Exchange::get("/b").respond(200, "b"))
            .expect(
                Exchange::post("/c")
                    .body_matches("is JSON-ish", |b| b.starts_with(b"{"))
                    .respond(200, "c"),
            );
        for (method, path, body, answer) in [
            (Method::POST, "/c", "{\"k\":1}", "c"),
            (Method::GET, "/b", "", "b"),
            (Method::GET, "/a", "", "a"),
        ] {
            let response = replay
                .send(request(method, &format!("http://h{path}"), body))
                .await
                .expect("matched");
            assert_eq!(response.into_body().collect().await.expect("body"), answer);
        }
        assert_eq!(replay.remaining(), 0);
        replay.assert_done();
    }

    #[tokio::test]
    async fn scripted_errors_are_returned() {
        let replay = ReplayTransport::new().expect(
            Exchange::get("/x").fail(TransportError::connect(std::io::Error::other("refused"))),
        );
        let error = replay
            .send(request(Method::GET, "http://h/x", ""))
            .await
            .expect_err("scripted failure");
        assert!(error.is_connect());
        replay.assert_done();
    }
}
