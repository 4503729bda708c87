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
//! # Processor latencies
//!
//! Each run takes a time drawn from its processor's range (the ranges the API documents),
//! multiplied by the time scale ([`EmulatorBuilder::time_scale`]; default 0.01, and `0`
//! completes runs as soon as they are added). At least a tenth of it is spent `queued`, the
//! rest `running`; beyond the capacity ([`EmulatorBuilder::capacity`], default
//! [`DEFAULT_CAPACITY`] runs running at once) a run stays queued until a slot frees. The same
//! seed and input always take the same time. The last column is the standard processor at the
//! default scale.
//!
//! | processor | latency | `-fast` latency | at the default scale (0.01) |
//! |---|---|---|---|
//! | `lite` | 10 s – 60 s | 10 s – 20 s | 0.1 s – 0.6 s |
//! | `base` | 15 s – 100 s | 15 s – 50 s | 0.15 s – 1 s |
//! | `core` | 60 s – 300 s | 15 s – 100 s | 0.6 s – 3 s |
//! | `core2x` | 60 s – 600 s | 15 s – 180 s | 0.6 s – 6 s |
//! | `pro` | 120 s – 600 s | 30 s – 300 s | 1.2 s – 6 s |
//! | `ultra` | 300 s – 1500 s | 60 s – 600 s | 3 s – 15 s |
//! | `ultra2x` | 300 s – 3000 s | 60 s – 1200 s | 3 s – 30 s |
//! | `ultra4x` | 300 s – 5400 s | 60 s – 2400 s | 3 s – 54 s |
//! | `ultra8x` | 300 s – 7200 s | 60 s – 3600 s | 3 s – 72 s |
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
//!     .api_key("test-key")
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
mod slot;
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

#[cfg(test)]
mod tests {
    /// The latency table of the crate docs and the README is the one the simulation uses.
    #[test]
    fn the_published_latency_table_is_the_simulated_one() {
        let secs = |s: f64| format!("{} s", (s * 100.0).round() / 100.0);
        let docs = include_str!("lib.rs");
        let readme = include_str!("../README.md");
        let mut rows = 0;
        for name in crate::processor::Processor::all_names().filter(|n| !n.ends_with("-fast")) {
            let standard = crate::processor::Processor::from_name(name).unwrap();
            let fast = crate::processor::Processor::from_name(&format!("{name}-fast")).unwrap();
            let ((lo, hi), (fast_lo, fast_hi)) = (standard.latency_secs(), fast.latency_secs());
            let row = format!(
                "| `{name}` | {} – {} | {} – {} | {} – {} |",
                secs(lo.into()),
                secs(hi.into()),
                secs(fast_lo.into()),
                secs(fast_hi.into()),
                secs(f64::from(lo) * 0.01),
                secs(f64::from(hi) * 0.01),
            );
            assert!(readme.contains(&row), "README lacks {row}");
            assert!(
                docs.contains(&format!("//! {row}")),
                "crate docs lack {row}"
            );
            rows += 1;
        }
        assert_eq!(rows, 9);
    }
}
