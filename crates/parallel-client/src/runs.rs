//! Task-run endpoints.

use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;
use parallel_types::{FieldBasis, RunInput, RunOutput, TaskRun, TaskRunResult};
use serde::de::DeserializeOwned;

use crate::beta::{self, Beta};
use crate::client::{Client, Inner};
use crate::error::{Error, Kind};
use crate::groups::to_body;
use crate::options::RequestOptions;
use crate::pending::PendingRequest;
use crate::request::Deadline;
use crate::request::{Call, Effect, PathBuilder};
use crate::session::Session;
use crate::streams::{RunEvents, run_events_stream};

/// How long [`Client::run_result`], [`Client::run_result_as`] and [`Client::execute`] wait
/// for a run to finish when the call sets no
/// [`timeout`](crate::PendingRequest::timeout): an hour, as the official Python SDK's
/// `execute`.
pub const DEFAULT_RESULT_TIMEOUT: Duration = Duration::from_secs(3600);

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
    /// themselves; more with [`PendingRequest::betas`].
    pub fn create_run(&self, input: RunInput) -> PendingRequest<'_, TaskRun> {
        PendingRequest::new(move |options| {
            Box::pin(async move {
                let deadline = options.deadline();
                self.inner.create_run(&input, &options, deadline).await
            })
        })
    }

    /// A run's status (`GET /v1/tasks/runs/{id}`).
    pub fn get_run<'a>(&'a self, run_id: &'a str) -> PendingRequest<'a, TaskRun> {
        PendingRequest::new(move |options| {
            Box::pin(async move {
                let inner = &self.inner;
                let what = format!("getting run {run_id}");
                let mut call = Call::get(inner, what, run_path(run_id).build());
                options.apply(&mut call, options.deadline())?;
                inner.json(&call).await
            })
        })
    }

    /// A run's original input (`GET /v1/tasks/runs/{id}/input`).
    pub fn run_input<'a>(&'a self, run_id: &'a str) -> PendingRequest<'a, RunInput> {
        PendingRequest::new(move |options| {
            Box::pin(async move {
                let inner = &self.inner;
                let path = run_path(run_id).segment("input").build();
                let what = format!("getting the input of run {run_id}");
                let mut call = Call::get(inner, what, path);
                options.apply(&mut call, options.deadline())?;
                inner.json(&call).await
            })
        })
    }

    /// A run's result (`GET /v1/tasks/runs/{id}/result`), waiting for the run to finish for
    /// the call's [`timeout`](PendingRequest::timeout) (default
    /// [`DEFAULT_RESULT_TIMEOUT`]).
    ///
    /// The server holds each call up to 600 s (in whole seconds) and answers 408 while the
    /// run is active; as the official SDKs' `execute`, this calls again through 408, 503 and
    /// 504 answers and time-outs until the run finishes or the timeout has passed, then
    /// fails with [`Error::is_timeout`]. The last wait is cut at the timeout, so a timeout
    /// below a second waits that long, not a second. A failed or cancelled run answers 404
    /// ([`Error::is_not_found`]); its error is on [`Client::get_run`].
    ///
    /// ```
    /// # async fn demo(client: parallel_client::Client) -> Result<(), parallel_client::Error> {
    /// use std::time::Duration;
    ///
    /// let result = client.run_result("trun_123").timeout(Duration::from_secs(60)).await?;
    /// # let _ = result; Ok(()) }
    /// ```
    pub fn run_result<'a>(&'a self, run_id: &'a str) -> PendingRequest<'a, TaskRunResult> {
        PendingRequest::new(move |options| {
            Box::pin(async move {
                let deadline = options.deadline_or(DEFAULT_RESULT_TIMEOUT);
                self.inner.result_until(run_id, &options, deadline).await
            })
        })
    }

    /// A run's result with the output content decoded as `T` (see [`Client::run_result`]).
    ///
    /// `T` is the type the task spec's output schema was made from (a struct for a JSON
    /// schema, `String` for a text output).
    pub fn run_result_as<'a, T: DeserializeOwned + Send + 'a>(
        &'a self,
        run_id: &'a str,
    ) -> PendingRequest<'a, TypedResult<T>> {
        PendingRequest::new(move |options| {
            Box::pin(async move {
                let deadline = options.deadline_or(DEFAULT_RESULT_TIMEOUT);
                let result = self.inner.result_until(run_id, &options, deadline).await?;
                typed(run_id, result)
            })
        })
    }

    /// Runs one task to its end: creates the run, waits for it through the 408 polling, and
    /// returns its output decoded as `T`, as the official Python SDK's `task_run.execute`.
    ///
    /// The call's [`timeout`](PendingRequest::timeout) (default [`DEFAULT_RESULT_TIMEOUT`])
    /// bounds it all; the creation follows [`Client::create_run`]'s rules (never sent twice
    /// blindly) and the wait [`Client::run_result`]'s. Headers, betas and body fields set on
    /// the call go with the creation; headers also with each wait.
    ///
    /// ```
    /// use std::time::Duration;
    /// use parallel_types::{RunInput, TaskSpec};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let emulator = parallel_emulator::Emulator::builder().time_scale(0.0).start().await?;
    /// # let client = parallel_client::Client::builder().api_key("key").base_url(emulator.base_url()).build()?;
    /// let input = RunInput::new("Who is the CEO of Acme?", "lite-fast")
    ///     .with_task_spec(TaskSpec::text("The CEO's name"));
    /// let answer = client
    ///     .execute::<String>(input)
    ///     .timeout(Duration::from_secs(120))
    ///     .await?;
    /// println!("{} ({} sources)", answer.content, answer.basis.len());
    /// # emulator.shutdown().await;
    /// # Ok(()) }
    /// ```
    pub fn execute<T: DeserializeOwned + Send + 'static>(
        &self,
        input: RunInput,
    ) -> PendingRequest<'_, TypedResult<T>> {
        PendingRequest::new(move |options| {
            Box::pin(async move {
                let deadline = options.deadline_or(DEFAULT_RESULT_TIMEOUT);
                let inner = &self.inner;
                let run = inner.create_run(&input, &options, Some(deadline)).await?;
                let reads = options.for_reads();
                let result = inner.result_until(&run.run_id, &reads, deadline).await?;
                typed(&run.run_id, result)
            })
        })
    }

    /// A run's progress events (`GET /v1/tasks/runs/{id}/events`): its state, progress
    /// statistics and messages, and finally its state with the output.
    ///
    /// The server offers no cursor on this stream and replays the run's history on every
    /// connection; after an interruption the stream reconnects and skips what it already
    /// delivered. It ends after the run's final state. Sends the `events-sse-2025-07-24`
    /// beta, which the docs say run events need.
    ///
    /// `options` are sent with every connection: headers, query parameters and betas
    /// (`RequestOptions::default()` for none). A stream takes no body fields and no timeout
    /// (its idle timeout is the client's), and fails with a configuration error if given one.
    #[allow(clippy::needless_pass_by_value)] // by value, as the other streams' options
    pub fn run_events(&self, run_id: &str, options: RequestOptions) -> RunEvents {
        let path = run_path(run_id).segment("events").build();
        let session = Session::new(
            Arc::clone(&self.inner),
            format!("the event stream of run {run_id}"),
            path,
            false,
        )
        .betas(vec![Beta::EventsSse])
        .request_options(options);
        run_events_stream(session)
    }
}

impl Inner {
    async fn create_run(
        &self,
        input: &RunInput,
        options: &RequestOptions,
        deadline: Option<Deadline>,
    ) -> Result<TaskRun, Error> {
        let body = to_body(input, "the run input")?;
        let mut call = Call::post(
            self,
            "creating a task run".to_owned(),
            "/v1/tasks/runs".to_owned(),
            body,
            Effect::CreatesWork,
        );
        call.betas = beta::for_inputs(options.beta_list(), [input]);
        options.apply(&mut call, deadline)?;
        self.json(&call).await
    }

    /// `/result` until the run finishes or `deadline` passes.
    async fn result_until(
        &self,
        run_id: &str,
        options: &RequestOptions,
        deadline: Deadline,
    ) -> Result<TaskRunResult, Error> {
        let mut waits = 0;
        loop {
            let remaining = deadline
                .at
                .saturating_duration_since(tokio::time::Instant::now());
            // Whole seconds, at least one: the server's `timeout` is an integer. A shorter
            // remaining time is kept by the call's deadline, which cuts the request.
            let server_wait = remaining.min(MAX_RESULT_WAIT).as_secs().max(1);
            let path = run_path(run_id)
                .segment("result")
                .query("timeout", &server_wait.to_string())
                .build();
            let mut call = Call::get(self, format!("getting the result of run {run_id}"), path);
            let server_wait = Duration::from_secs(server_wait);
            call.timeout = self.request_timeout.max(server_wait + RESULT_GRACE);
            call.first_byte_timeout = self.first_byte_timeout.max(server_wait + RESULT_GRACE);
            call.retry_408 = false;
            options.apply(&mut call, Some(deadline))?;
            let error = match self.json::<TaskRunResult>(&call).await {
                Err(e) if still_waiting(&e) => e,
                other => return other,
            };
            let now = tokio::time::Instant::now();
            if now >= deadline.at {
                return Err(Error::new(
                    Kind::Timeout,
                    format!(
                        "run {run_id} was still active after waiting {:?}; ask for its result \
                         again later, or give the call a longer .timeout(..)",
                        deadline.timeout
                    ),
                )
                .with_source(error));
            }
            if error.status() != Some(StatusCode::REQUEST_TIMEOUT) {
                // The server or the network had a problem: pause before asking again.
                let pause = self.retry.backoff(waits, fastrand::f64());
                tokio::time::sleep(pause.min(deadline.at - now)).await;
                waits += 1;
            }
        }
    }
}

/// A result with its output content decoded as `T`.
fn typed<T: DeserializeOwned>(
    run_id: &str,
    result: TaskRunResult,
) -> Result<TypedResult<T>, Error> {
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
