//! The high-level async client of the Parallel Task Group and Task Run API.
//!
//! A [`Client`] creates task groups, adds any number of runs to them, follows their progress
//! and reads their results, staying correct when the network misbehaves:
//!
//! - **Retries** follow the official SDKs ([`RetryPolicy`]): connection errors, timeouts, 408,
//!   409, 429 and 5xx, exponential backoff with jitter, the server's `retry-after(-ms)` and
//!   `x-should-retry`. A request that creates work is never sent twice blindly:
//!   [`Client::add_runs`] reconciles a lost answer against the group's runs (see
//!   [`add_runs`] for how), [`Client::create_run`] reports it
//!   ([`Error::is_outcome_unknown`]).
//! - **Timeouts** ([`ClientBuilder`]): connect (in the transport), time to first byte
//!   ([`DEFAULT_FIRST_BYTE_TIMEOUT`], 60 s: a server that accepts a request and never answers
//!   is a time-out, retried, then a clear error), and the body ([`DEFAULT_REQUEST_TIMEOUT`]).
//!   [`Client::run_result`] waits through 408, 503, 504 and time-outs until its deadline, as
//!   the official SDKs' `execute`.
//! - **Streams** ([`RunsStream`], [`GroupEvents`], [`RunEvents`]) are `futures::Stream`s of
//!   typed events that reconnect by themselves after a dropped connection, a broken body, a
//!   server's close of an unfinished stream or an idle timeout, resuming from the last event
//!   delivered, so each event arrives exactly once. The idle timeout
//!   ([`DEFAULT_STREAM_IDLE_TIMEOUT`]) counts silence of bytes, so keep-alive comments keep a
//!   quiet stream open. A [`ReconnectPolicy`] bounds consecutive failed reconnects with capped
//!   exponential backoff; the default rides out a network outage of over seven minutes, for
//!   the streams and [`Client::wait_group`] alike. `error` events are items of the events
//!   streams and end the runs stream with an error; events of unknown types are skipped with
//!   a `tracing` warning (see each stream type).
//! - **Betas** ([`Beta`]): the `parallel-beta` header per call, and by itself for the beta
//!   fields a request uses (`webhook`, `mcp_servers`, `enable_events`, run events).
//!   `PARALLEL_CUSTOM_HEADERS` adds headers as in the official SDKs.
//! - **Errors** ([`Error`]) are one opaque type with predicates (`is_timeout`,
//!   `is_insufficient_credit`, `is_rate_limited`, ...); `Display` says what failed and what to
//!   do, and the cause is `source()`, never repeated in the message. A 402 is never retried.
//!   Group runs arrive as [`GroupRun`]s: the wire JSON, decoded on demand without copying
//!   ([`GroupRun::view_as`] reads input and output as your types in one pass;
//!   [`GroupRun::view`], [`GroupRun::output_as`]). A runs stream reads ahead of you on a task
//!   of its own ([`GroupRunsOptions::read_ahead()`]), so that on a multi-thread runtime network
//!   reads and framing run on one core while you decode on another.
//! - **Batches** of any size: the [`batch`] module is the one batch engine. It submits an
//!   input stream in chunks with back-pressure, reads results back in bulk from the runs
//!   stream, sets aside inputs the API refuses, rides out outages, and resumes after a crash
//!   without creating a run twice.
//! - **Typed I/O**: with the `schemars` feature a [`TaskSpec`](parallel_types::TaskSpec) is built
//!   from Rust types, and outputs are read back as your type ([`Client::run_result_as`],
//!   [`GroupRun::output_as`]).
//!
//! The transport is pluggable ([`ClientBuilder::transport`], any
//! [`parallel_transport::Transport`]); the default is hyper with rustls (feature `hyper`).
//!
//! # Example
//!
//! ```no_run
//! use std::time::Duration;
//! use futures::StreamExt;
//! use parallel_client::{AddRuns, Client, GroupRunsOptions};
//! use parallel_types::{CreateTaskGroupRequest, RunInput, TaskSpec};
//!
//! # async fn demo() -> Result<(), parallel_client::Error> {
//! // PARALLEL_API_KEY (and optionally PARALLEL_BASE_URL) from the environment.
//! let client = Client::from_env()?;
//! let group = client.create_group(CreateTaskGroupRequest::default()).await?;
//! let inputs = ["Acme Corp", "Globex", "Initech"]
//!     .into_iter()
//!     .map(|name| RunInput::new(format!("Who is the CEO of {name}?"), "lite-fast"));
//! let run_ids = client
//!     .add_runs(&group.taskgroup_id, AddRuns::new(inputs).default_task_spec(TaskSpec::text("CEO name")))
//!     .await?.run_ids;
//! let status = client.wait_group(&group.taskgroup_id).await?;
//! println!("{} runs, {} finished", run_ids.len(), status.finished());
//!
//! let mut runs = client.group_runs(&group.taskgroup_id, GroupRunsOptions::with_input_and_output());
//! while let Some(run) = runs.next().await {
//!     let run = run?;
//!     let answer: Option<String> = run.output_as()?;
//!     println!("{}: {answer:?}", run.view()?.run.run_id);
//! }
//! # let _ = Duration::ZERO;
//! # Ok(()) }
//! ```
//!
//! # Cargo features
//!
//! - `hyper` (default): the default transport, `parallel_transport::HyperTransport`.
//! - `schemars`: `TaskSpec::from_types` / `TaskSpec::from_output` in `parallel_types`, building
//!   task specs from Rust types that derive `schemars::JsonSchema`.

#![deny(missing_docs)]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod add_runs;
pub mod batch;
mod beta;
mod client;
mod error;
mod groups;
mod reconnect;
mod request;
mod retry;
mod runs;
mod streams;
// The stream sessions, at the path the batch engine and add-runs reconciliation use.
pub(crate) use streams::session;
#[cfg(test)]
mod tests;

pub use add_runs::{AddRuns, AddedRuns, CLIENT_TAG_KEY, MAX_RUNS_PER_REQUEST};
pub use beta::Beta;
pub use client::{
    Client, ClientBuilder, DEFAULT_BASE_URL, DEFAULT_FIRST_BYTE_TIMEOUT,
    DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_MAX_STREAM_RECONNECTS, DEFAULT_REQUEST_TIMEOUT,
    DEFAULT_STREAM_IDLE_TIMEOUT,
};
pub use error::Error;
pub use reconnect::ReconnectPolicy;
pub use retry::RetryPolicy;
pub use runs::TypedResult;
pub use streams::{
    GroupEvents, GroupEventsOptions, GroupRun, GroupRunsOptions, RunEvents, RunsStream,
};

/// The wire types, re-exported so that one dependency is enough.
pub use parallel_types as types;
