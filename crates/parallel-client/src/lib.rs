//! The high-level async client of the Parallel Task Group and Task Run API.
//!
//! A [`Client`] creates task groups, adds any number of runs to them, follows their progress
//! and reads their results, staying correct when the network misbehaves:
//!
//! - **Retries** follow the official SDKs ([`RetryPolicy`]): connection errors, timeouts, 408,
//!   409, 429 and 5xx, exponential backoff with jitter, the server's `retry-after(-ms)` and
//!   `x-should-retry`. A request that creates work is never sent twice blindly:
//!   [`GroupHandle::add_runs`] reconciles a lost answer against the group's runs (see
//!   [`add_runs`] for how), [`Client::create_run`] reports it
//!   ([`Error::is_outcome_unknown`]).
//! - **Timeouts** ([`ClientBuilder`]): connect (in the transport), time to first byte
//!   ([`DEFAULT_FIRST_BYTE_TIMEOUT`], 60 s: a server that accepts a request and never answers
//!   is a time-out, retried, then a clear error), and the body ([`DEFAULT_REQUEST_TIMEOUT`]).
//!   A call's own `.timeout(..)` bounds it whole, retries included. [`Client::run_result`]
//!   and [`Client::execute`] wait through 408, 503, 504 and time-outs until theirs, as the
//!   official SDKs' `execute`.
//! - **Per-call options** ([`PendingRequest`], [`RequestOptions`]): every request is sent when
//!   awaited, and takes before that the official SDKs' per-call reach: headers, query
//!   parameters, body fields merged into its JSON body (an API field newer than this client
//!   can be sent), a timeout and betas.
//! - **Streams** ([`RunsStream`], [`GroupEvents`], [`RunEvents`]) are `futures::Stream`s of
//!   typed events that reconnect by themselves after a dropped connection, a broken body, a
//!   server's close of an unfinished stream or an idle timeout, resuming from the last event
//!   delivered, so each event arrives exactly once. The idle timeout
//!   ([`DEFAULT_STREAM_IDLE_TIMEOUT`]) counts silence of bytes, so keep-alive comments keep a
//!   quiet stream open. A [`ReconnectPolicy`] bounds consecutive failed reconnects with capped
//!   exponential backoff; the default rides out a network outage of over seven minutes, for
//!   the streams and [`GroupHandle::wait`] alike, once the server has answered the client
//!   (before, a wrong base URL fails within seconds, as any request does). Each reconnect is
//!   reported to [`ClientBuilder::on_reconnect`]. `error` events are items of the events
//!   streams and end the runs stream with an error; events of unknown types are skipped with
//!   a `tracing` warning (see each stream type).
//! - **Betas** ([`Beta`]): the `parallel-beta` header per call, and by itself for the beta
//!   fields a request uses (`webhook`, `mcp_servers`, `enable_events`, run events).
//!   `PARALLEL_CUSTOM_HEADERS` adds headers as in the official SDKs.
//! - **Errors** ([`Error`]) are one opaque type with predicates (`is_unauthorized`,
//!   `is_forbidden`, `is_not_found`, `is_invalid_request`, `is_timeout`,
//!   `is_insufficient_credit`, `is_rate_limited`, ...) and a [`StatusCode`] for the rest;
//!   `Display` says what failed and what to do, and the cause is `source()`, never repeated in
//!   the message. A 402 is never retried.
//! - **Group runs** arrive as [`GroupRun`]s: the wire JSON, decoded on demand without
//!   copying ([`GroupRun::view`] borrows ids and status and decodes the output or input as
//!   your types; [`GroupRun::view_as`] reads input and output as your types in one pass). A
//!   runs stream reads ahead of you on a task of its own ([`GroupRunsOptions::read_ahead()`]),
//!   so that on a multi-thread runtime network reads and framing run on one core while you
//!   decode on another.
//! - **Batches** of any size: the [`batch`] module is the one batch engine
//!   ([`batch::BatchOptions`], [`batch::BatchInput`], [`batch::BatchItem`]). It submits an
//!   input stream in chunks with back-pressure, reads results back in bulk from the runs
//!   stream, sets aside inputs the API refuses, rides out outages, and resumes after a crash
//!   without creating a run twice. At real latencies it reads results with at most one
//!   request per 100 rows plus one per 10 s and 1.5 times the bytes of one runs stream (the
//!   crate README has the design and the measured numbers).
//! - **Costs**: the [`pricing`] module holds the processors' list prices, dated and sourced,
//!   overridable for accounts with other prices, and estimates what a job will cost.
//! - **Typed I/O**: with the `schemars` feature a [`TaskSpec`](parallel_types::TaskSpec) is built
//!   from Rust types, and outputs are read back as your type ([`Client::execute`],
//!   [`Client::run_result_as`], [`GroupRun::view_as`]).
//!
//! The crate README has recipes (progress then typed results, one task with a deadline, a
//! batch, handling each error) and says which of the overlapping ways to use when.
//!
//! The transport is pluggable ([`ClientBuilder::transport`], any [`transport::Transport`]);
//! the default is hyper with rustls (feature `hyper`).
//!
//! # Example
//!
//! Against the Parallel API with `PARALLEL_API_KEY` set; here, as a doctest, against a local
//! emulator.
//!
//! ```
//! use futures::StreamExt;
//! use parallel_client::{AddRuns, ClientBuilder, GroupRunsOptions};
//! use parallel_types::{CreateTaskGroupRequest, RunInput, TaskSpec};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let emulator = parallel_emulator::Emulator::builder().time_scale(0.0).start().await?;
//! // PARALLEL_API_KEY (and optionally PARALLEL_BASE_URL) from the environment.
//! let client = ClientBuilder::from_env()
//! #   .api_key("emulator").base_url(emulator.base_url())
//!     .build()?;
//! let group = client.create_group(CreateTaskGroupRequest::new()).await?;
//! let group = client.group(&group.taskgroup_id);
//! let inputs = ["Acme Corp", "Globex", "Initech"]
//!     .into_iter()
//!     .map(|name| RunInput::new(format!("Who is the CEO of {name}?"), "lite-fast"));
//! let added = group
//!     .add_runs(AddRuns::new(inputs).default_task_spec(TaskSpec::text("CEO name")))
//!     .await?;
//! let status = group.wait().await?;
//! println!("{} runs, {} finished", added.run_ids.len(), status.finished());
//!
//! let mut runs = group.runs(GroupRunsOptions::with_input_and_output());
//! while let Some(run) = runs.next().await {
//!     let run = run?;
//!     let view = run.view()?;
//!     let answer: Option<String> = view.output_as()?;
//!     println!("{}: {answer:?}", view.run.run_id);
//! #   assert!(answer.is_some());
//! }
//! # assert_eq!(status.finished(), 3);
//! # emulator.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! # Design decisions
//!
//! - **Group endpoints hang off a handle; ids stay `&str`.** [`Client::group`] returns a
//!   [`GroupHandle`] for the endpoints under `/v1/tasks/groups/{id}`, so no call takes two
//!   ids side by side: `client.group(group_id).get_run(run_id)` names each id by the call it
//!   is given to, in the order of the URL, where `get_group_run(&str, &str)` let the two be
//!   swapped silently. Run endpoints take their one run id. Newtype ids (`GroupId`,
//!   `RunId`) would catch more at compile time, but ids arrive and leave as text (JSON
//!   answers, files, command lines, logs), so every boundary would need a conversion and
//!   every wire struct would change type; and the API names its ids by prefix (`tgrp_`,
//!   `trun_`), so a swapped id is refused by the server with a 404, in an error that names it.
//! - **The builder is pure.** [`Client::builder`] reads nothing from the environment;
//!   [`ClientBuilder::from_env`] and [`Client::from_env`] read `PARALLEL_API_KEY`,
//!   `PARALLEL_BASE_URL` and `PARALLEL_CUSTOM_HEADERS`. A program's settings are then all in
//!   its code, and a test's client is not changed by the shell it runs in.
//! - **One way to give a transport.** [`ClientBuilder::transport`] takes any
//!   [`Transport`](transport::Transport), and a [`SharedTransport`](transport::SharedTransport)
//!   (or an `Arc`) is a `Transport` too: sharing a connection pool between clients needs no
//!   second method.
//! - **One options style.** Options and builders ([`ClientBuilder`], [`RetryPolicy`],
//!   [`ReconnectPolicy`], [`AddRuns`], [`GroupRunsOptions`], [`GroupEventsOptions`],
//!   [`RequestOptions`], [`batch::BatchOptions`]) have private fields and chainable setters
//!   named after the setting (`.max_retries(4)`), one name per setting, and no getters
//!   (`Debug` shows their values). A type with required values is made with `new(..)` taking
//!   them ([`AddRuns::new`], [`batch::BatchOptions::new`]); one without has [`Default`]
//!   ([`GroupEventsOptions::default`], [`RetryPolicy::default`], [`RequestOptions::default`])
//!   and at most a few named presets ([`RetryPolicy::none`],
//!   [`GroupRunsOptions::with_input_and_output`]). A request's options are set on the
//!   [`PendingRequest`] it returns, never by a `_with_x` twin of the method or a positional
//!   argument. Values that are also read, the wire types in [`types`] and
//!   [`batch::BatchInput`], take `with_*` setters beside the fields or getters of the same
//!   names. Wire types, this crate's result structs and its item enums are
//!   `#[non_exhaustive]`, so that the API can grow without a breaking release.
//! - **One meaning per reader name.** `view` borrows an event without copying, `view_as`
//!   decodes its input and output as your types in one pass, `output_as` / `input_as`
//!   decode a run's output content or input and give `None` where the event carries none,
//!   `content_as` decodes an output's content ([`batch::BatchResult::content_as`] fails when
//!   the run did not complete), and `json` is the text as received.
//! - **No dependency type the caller did not ask for.** The parser limits are
//!   [`SseLimits`], the wire types are [`types`], the transport layer is [`transport`]: one
//!   dependency on this crate is enough.
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
mod options;
mod pending;
pub mod pricing;
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
pub use groups::GroupHandle;
/// HTTP status codes, as [`Error::status`] gives them: `http::StatusCode`, re-exported so
/// that comparing one needs no other dependency.
pub use http::StatusCode;
pub use options::RequestOptions;
pub use pending::PendingRequest;
pub use reconnect::{Reconnect, ReconnectPolicy};
pub use retry::RetryPolicy;
pub use runs::{DEFAULT_RESULT_TIMEOUT, TypedResult};
pub use streams::{
    GroupEvents, GroupEventsOptions, GroupRun, GroupRunsOptions, RunEvents, RunsStream,
};

/// Size limits of the server-sent-events parser ([`ClientBuilder::sse_limits`]):
/// `parallel_sse::Limits`, re-exported so that setting them needs no other dependency.
pub use parallel_sse::Limits as SseLimits;
/// The transport layer (`Transport`, `SharedTransport`, `Body`, ...), re-exported for
/// [`ClientBuilder::transport`].
pub use parallel_transport as transport;
/// The wire types, re-exported so that one dependency is enough.
pub use parallel_types as types;

/// The README's tour, compiled and run on the emulator as a doctest so that it cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct RootReadmeDoctests;

/// This crate's README, compiled as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
