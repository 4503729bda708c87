//! Task-run endpoints.

use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;
use parallel_types::{FieldBasis, RunInput, RunOutput, TaskRun, TaskRunResult};
use serde::de::DeserializeOwned;

use crate::beta::{self, Beta};
use crate::client::Client;
use crate::error::{Error, Kind};
use crate::groups::to_body;
use crate::request::{Call, Effect, PathBuilder};
use crate::session::Session;
use crate::streams::{RunEvents, run_events_stream};

/// The longest server-side wait of one `/result` call, the server's own default.
const MAX_RESULT_WAIT: Duration = Duration::from_secs(600);

/// Extra time the client gives a `/result` call beyond its server-side wait.
const RESULT_GRACE: Duration = Duration::from_secs(30);

/// A run's result with the output content decoded as the caller's type
/// ([`Client::run_result_as`]).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct TypedResult<T> {
    /// The run (completed).
    pub run: TaskRun,
    /// The output content: a JSON output's object, or a text output's string.
    pub content: T,
    /// The reasoning and citations behind each output field.
    pub basis: Vec<FieldBasis>,
}

/// Whether a `/result` call failed in a way that waiting longer may cure, as the official
/// SDKs' result polling: a 408 (still active), 503, 504, or a time-out.
fn still_waiting(error: &Error) -> bool {
    error.is_timeout() || matches!(error.status().map(|s| s.as_u16()), Some(408 | 503 | 504))
}

fn run_path(run_id: &str) -> PathBuilder {
    PathBuilder::new("/v1/tasks/runs").segment(run_id)
}

impl Client {
    /// Creates a single run (`POST /v1/tasks/runs`).
    ///
    /// Never sent twice unless the first attempt provably did not reach the server: when the
    /// answer is lost the error says so ([`Error::is_outcome_unknown`]); the run may exist.
    /// The betas its beta fields need (`webhook`, `mcp_servers`, `enable_events`) are sent by
    /// themselves; see [`Beta`].
    pub async fn create_run(&self, input: RunInput) -> Result<TaskRun, Error> {
        self.create_run_with_betas(input, &[]).await
    }

    /// [`Client::create_run`] with these betas in the `parallel-beta` header, besides those
    /// the input's beta fields need.
    pub async fn create_run_with_betas(
        &self,
        input: RunInput,
        betas: &[Beta],
    ) -> Result<TaskRun, Error> {
        let inner = &self.inner;
        let body = to_body(&input, "the run input")?;
        let mut call = Call::post(
            inner,
            "creating a task run".to_owned(),
            "/v1/tasks/runs".to_owned(),
            body,
            Effect::CreatesWork,
        );
        call.betas = beta::for_inputs(betas, [&input]);
        inner.json(&call).await
    }

    /// A run's status (`GET /v1/tasks/runs/{id}`).
    pub async fn get_run(&self, run_id: &str) -> Result<TaskRun, Error> {
        let inner = &self.inner;
        let call = Call::get(
            inner,
            format!("getting run {run_id}"),
            run_path(run_id).build(),
        );
        inner.json(&call).await
    }

    /// A run's original input (`GET /v1/tasks/runs/{id}/input`).
    pub async fn run_input(&self, run_id: &str) -> Result<RunInput, Error> {
        let inner = &self.inner;
        let path = run_path(run_id).segment("input").build();
        let call = Call::get(inner, format!("getting the input of run {run_id}"), path);
        inner.json(&call).await
    }

    /// A run's result (`GET /v1/tasks/runs/{id}/result`), waiting up to `wait` for the run to
    /// finish.
    ///
    /// The server holds each call up to 600 s and answers 408 while the run is active; as the
    /// official SDKs' `execute`, this calls again through 408, 503 and 504 answers and
    /// time-outs until the run finishes or `wait` has passed, then fails with
    /// [`Error::is_timeout`]. A failed or cancelled run answers 404
    /// ([`Error::status`]); its error is on [`Client::get_run`].
    pub async fn run_result(&self, run_id: &str, wait: Duration) -> Result<TaskRunResult, Error> {
        self.run_result_with_betas(run_id, wait, &[]).await
    }

    /// [`Client::run_result`] with these betas in the `parallel-beta` header (for example
    /// [`Beta::FieldBasis`]).
    pub async fn run_result_with_betas(
        &self,
        run_id: &str,
        wait: Duration,
        betas: &[Beta],
    ) -> Result<TaskRunResult, Error> {
        let inner = &self.inner;
        let deadline = tokio::time::Instant::now() + wait;
        let mut waits = 0;
        loop {
            let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
            // Whole seconds, at least one: the server's `timeout` is an integer.
            let server_wait = remaining.min(MAX_RESULT_WAIT).as_secs().max(1);
            let path = run_path(run_id)
                .segment("result")
                .query("timeout", &server_wait.to_string())
                .build();
            let mut call = Call::get(inner, format!("getting the result of run {run_id}"), path);
            let server_wait = Duration::from_secs(server_wait);
            call.timeout = inner.request_timeout.max(server_wait + RESULT_GRACE);
            call.first_byte_timeout = inner.first_byte_timeout.max(server_wait + RESULT_GRACE);
            call.retry_408 = false;
            call.betas = betas.to_vec();
            let error = match inner.json::<TaskRunResult>(&call).await {
                Err(e) if still_waiting(&e) => e,
                other => return other,
            };
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Err(Error::new(
                    Kind::Timeout,
                    format!(
                        "run {run_id} was still active after waiting {wait:?}; call \
                         run_result again later or wait longer"
                    ),
                )
                .with_source(error));
            }
            if error.status() != Some(StatusCode::REQUEST_TIMEOUT) {
                // The server or the network had a problem: pause before asking again.
                let pause = inner.retry.backoff(waits, fastrand::f64());
                tokio::time::sleep(pause.min(deadline - now)).await;
                waits += 1;
            }
        }
    }

    /// A run's result with the output content decoded as `T` (see [`Client::run_result`]).
    ///
    /// `T` is the type the task spec's output schema was made from (a struct for a JSON
    /// schema, `String` for a text output).
    pub async fn run_result_as<T: DeserializeOwned>(
        &self,
        run_id: &str,
        wait: Duration,
    ) -> Result<TypedResult<T>, Error> {
        let result = self.run_result(run_id, wait).await?;
        let (content, basis) = match result.output {
            RunOutput::Json(json) => (
                serde_json::from_value(json.content)
                    .map_err(|e| Error::decode("the run's output as the requested type", e))?,
                json.basis,
            ),
            RunOutput::Text(text) => (
                serde_json::from_value(serde_json::Value::String(text.content))
                    .map_err(|e| Error::decode("the run's text output as the requested type", e))?,
                text.basis,
            ),
            other => {
                return Err(Error::new(
                    Kind::Decode,
                    format!(
                        "run {run_id} has an output of type {:?}, which this client does not know; \
                         use run_result and read the raw output",
                        other.output_type()
                    ),
                ));
            }
        };
        Ok(TypedResult {
            run: result.run,
            content,
            basis,
        })
    }

    /// A run's progress events (`GET /v1/tasks/runs/{id}/events`): its state, progress
    /// statistics and messages, and finally its state with the output.
    ///
    /// The server offers no cursor on this stream and replays the run's history on every
    /// connection; after an interruption the stream reconnects and skips what it already
    /// delivered. It ends after the run's final state. Sends the `events-sse-2025-07-24`
    /// beta, which the docs say run events need.
    pub fn run_events(&self, run_id: &str) -> RunEvents {
        let path = run_path(run_id).segment("events").build();
        let session = Session::new(
            Arc::clone(&self.inner),
            format!("the event stream of run {run_id}"),
            path,
            false,
        )
        .betas(vec![Beta::EventsSse]);
        run_events_stream(session)
    }
}
