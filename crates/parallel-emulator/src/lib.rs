//! A local server of the Parallel Task Group and Task Run API, for tests and offline work.
//!
//! The emulator answers the same HTTP surface as the real service, under both `/v1` and
//! `/v1beta`: groups (create, status, add runs, the runs and events streams, one run), and
//! single runs (create, status, blocking result, input, events stream). Status codes and
//! error bodies (`{"type":"error","error":{"ref_id","message","detail"}}`) and the SSE framing
//! (`event:` line, one compact `data:` line, blank line, `:` keep-alive comments, no `id:`
//! lines) follow the API reference.
//!
//! Processors are simulated: each run is queued, runs and then completes or fails after a
//! latency drawn from its processor's range and multiplied by a time scale. Outputs conform to
//! the run's output schema, are derived from its input, and carry a research basis; the same
//! seed and input always give the same output. [`Faults`] switch on rate limiting, server
//! errors, cut, dripping or closed event streams, `error` events, lost responses and requests
//! never answered, all reproducible from the seed; outage windows ([`OutageMode`]) refuse or
//! hang every connection for a while; a lenient mode answers with the wire shapes the
//! official SDKs accept. Beta fields (`webhook`, `mcp_servers`) need no `parallel-beta`
//! header, as with SDK 1.3.7; [`Faults::require_betas`] refuses them without it.
//!
//! With no API key the emulator answers only requests addressed to a loopback name or address
//! (`Host`), against DNS rebinding; an empty key is refused.
//!
//! Account quotas can be set: credit in runs (`402` beyond it) and a rate limit on
//! work-creating requests (`429` with the wait for the next token). Runs that ask for a
//! webhook get signed `task_run.status` deliveries, to loopback URLs only. A control API under
//! `/_emulator/` (stats, faults, credit, rate limit, outages, webhook deliveries) lets tests
//! in any language drive a running emulator; the crate README documents it.
//!
//! # Streams and cursors
//!
//! - Group runs (`GET …/groups/{id}/runs`): one `task_run.state` per run, in add order, for
//!   the runs that existed when the request arrived; `event_id` is the run's position in the
//!   group (`"1"`, `"2"`, …), so `last_event_id=N` continues with run `N + 1`, and an
//!   add-runs `run_cursor` is the position of the last run before that batch.
//! - Group events (`GET …/groups/{id}/events`): the group keeps a log of `task_group_status`
//!   (after every change of the counts) and `task_run.state` (a run reached a final status)
//!   events, numbered from 1. A connection gets every log event after its cursor, then live
//!   events; one that has nothing to catch up on first gets the current status instead
//!   (carrying the connection's own cursor as its `event_id`, `"0"` without one). So the first
//!   `is_active: false` status a client sees always comes after every run it reports on. The
//!   stream ends after that final status, after `timeout` seconds, or after an hour. An
//!   add-runs `event_cursor` is the last log event before that batch.
//! - Run events (`GET …/runs/{id}/events`): the current state, the progress messages so far
//!   (with their original timestamps), the latest progress statistics, live updates, and the
//!   final state with the output.
//!
//! Quiet streams get a `: keep-alive` comment every 15 s (configurable).
//!
//! Main types: [`Emulator`] (entry point), [`EmulatorBuilder`] (settings), [`EmulatorHandle`]
//! (the running server: address, counters, outages, shutdown), [`Faults`], [`Limits`],
//! [`OutageMode`], [`Stats`], [`WebhookDelivery`], [`Error`].
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), parallel_emulator::Error> {
//! use parallel_emulator::{Emulator, Faults};
//!
//! let emulator = Emulator::builder()
//!     .api_key(Some("test-key"))
//!     .time_scale(0.0) // runs complete as soon as they are added
//!     .seed(7)
//!     .faults(Faults::none().rate_429(0.1))
//!     .start()
//!     .await?;
//! let base_url = emulator.base_url(); // "http://127.0.0.1:PORT"
//! assert!(base_url.starts_with("http://127.0.0.1:"));
//! // ... point a client at `base_url` ...
//! assert_eq!(emulator.run_count(), 0);
//! emulator.shutdown().await;
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod api;
mod beta;
mod body;
mod bounds;
mod clock;
mod config;
mod connections;
mod error;
mod host;
mod idle;
mod ids;
mod lenient;
mod outage;
mod processor;
mod progress;
mod quota;
mod random;
mod request;
mod rng;
mod schema;
mod server;
mod sim;
mod spec;
mod sse;
mod state;
mod stats;
mod webhook;
mod wire;

pub use config::{DEFAULT_CAPACITY, Drip, EmulatorBuilder, Faults, Limits};
pub use error::Error;
pub use outage::OutageMode;
pub use server::{Emulator, EmulatorHandle};
pub use stats::{Endpoint, Stats};
pub use webhook::WebhookDelivery;

/// The README's examples, compiled and run as doctests so that they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
