//! Settings: the builder, faults and limits.

use std::net::SocketAddr;
use std::time::Duration;

use crate::outage::OutageMode;

/// Faults the emulator injects on purpose, all off by default and all drawn from the
/// emulator's seed, so a failing test replays the same faults in the same order.
///
/// Build one with the setters (the struct is `#[non_exhaustive]`, so that a new fault is not a
/// breaking release; its fields are public to read):
///
/// ```
/// use std::time::Duration;
/// use parallel_emulator::Faults;
///
/// let faults = Faults::none().rate_429(0.2).cut_sse_after(5);
/// assert_eq!(faults.rate_429, 0.2);
/// assert_eq!(faults.sse_cut_after_events, Some(5));
/// assert_eq!(faults.retry_after, Duration::from_millis(200));
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Faults {
    /// Share of requests answered `429 Too Many Requests` before doing anything.
    pub rate_429: f64,
    /// Share of requests answered with a 500, 502 or 503 before doing anything.
    pub rate_5xx: f64,
    /// The wait advertised by fault answers, as `retry-after-ms` (exact) and `retry-after`
    /// (whole seconds, rounded up).
    pub retry_after: Duration,
    /// Cut every event stream after this many events: part of the next event is written,
    /// then the connection is dropped without a clean end. The first `task_group_status` that
    /// opens a group events stream is not counted, so a resuming client always makes progress.
    pub sse_cut_after_events: Option<u32>,
    /// Byte offset inside the cut event where the stream stops; `None` picks a seeded offset
    /// strictly inside the event. Offsets past the event's end are clamped inside it.
    pub sse_cut_offset: Option<usize>,
    /// Write event streams in small pieces with pauses between them.
    pub drip: Option<Drip>,
    /// Share of `POST` requests that are processed in full and then answered by dropping the
    /// connection, as if the response had been lost on the way back.
    pub lost_response_rate: f64,
    /// End every event stream (group events, group runs, run events) cleanly, between two
    /// events, once it has been open this long, as servers and proxies do to long-lived
    /// connections. A client resumes from its last event id.
    pub close_streams_after: Option<Duration>,
    /// On an events stream (group events, run events), write an `error` event after this many
    /// events, then end the stream cleanly. As for the cut, the snapshot that opens a group
    /// events stream is not counted.
    pub error_event_after: Option<u32>,
    /// Share of requests that are read and then never answered: the connection is held open
    /// without a byte until the client goes away (or the emulator shuts down).
    pub hang_rate: f64,
    /// Serve a group's runs stream from the start whatever its `last_event_id`, as a server or
    /// proxy that drops the query parameter would: a client that resumes it gets every run
    /// again.
    pub ignore_last_event_id: bool,
    /// Share of runs (created while it is set) that are cancelled instead of completing: they
    /// go `running` -> `cancelling` -> `cancelled`.
    pub cancel_rate: f64,
    /// Share of runs (created while it is set) that stop at `action_required` instead of
    /// completing, and stay there: the run waits for a person, and is not active.
    pub action_required_rate: f64,
    /// Serve a group's runs stream in the order its runs last changed (a change feed: a run
    /// moves to the end each time its status changes, and cursors count changes), instead of
    /// the order runs were added. The API documents neither order; a client that relies on
    /// one meets the other here. Set it before creating the groups it should apply to.
    pub runs_in_change_order: bool,
    /// Refuse a run input that uses `webhook` or `mcp_servers` without its `parallel-beta`
    /// value (`webhook-2025-08-12`, `mcp-server-2025-07-17`) with a `422`, as older docs say
    /// the service did. Off by default: the official SDKs (1.3.7) send no beta header unless
    /// asked, and both fields are accepted without one.
    pub require_betas: bool,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            rate_429: 0.0,
            rate_5xx: 0.0,
            retry_after: Duration::from_millis(200),
            sse_cut_after_events: None,
            sse_cut_offset: None,
            drip: None,
            lost_response_rate: 0.0,
            close_streams_after: None,
            error_event_after: None,
            hang_rate: 0.0,
            ignore_last_event_id: false,
            cancel_rate: 0.0,
            action_required_rate: 0.0,
            runs_in_change_order: false,
            require_betas: false,
        }
    }
}

impl Faults {
    /// No faults.
    pub fn none() -> Self {
        Faults::default()
    }

    /// Sets [`Faults::rate_429`].
    #[must_use]
    pub fn rate_429(mut self, rate: f64) -> Self {
        self.rate_429 = rate;
        self
    }

    /// Sets [`Faults::rate_5xx`].
    #[must_use]
    pub fn rate_5xx(mut self, rate: f64) -> Self {
        self.rate_5xx = rate;
        self
    }

    /// Sets [`Faults::retry_after`].
    #[must_use]
    pub fn retry_after(mut self, wait: Duration) -> Self {
        self.retry_after = wait;
        self
    }

    /// Sets [`Faults::sse_cut_after_events`].
    #[must_use]
    pub fn cut_sse_after(mut self, events: u32) -> Self {
        self.sse_cut_after_events = Some(events);
        self
    }

    /// Sets [`Faults::sse_cut_offset`].
    #[must_use]
    pub fn cut_sse_at_offset(mut self, offset: usize) -> Self {
        self.sse_cut_offset = Some(offset);
        self
    }

    /// Sets [`Faults::drip`].
    #[must_use]
    pub fn drip(mut self, chunk_bytes: usize, pause: Duration) -> Self {
        self.drip = Some(Drip {
            chunk_bytes: chunk_bytes.max(1),
            pause,
        });
        self
    }

    /// Sets [`Faults::lost_response_rate`].
    #[must_use]
    pub fn lost_response_rate(mut self, rate: f64) -> Self {
        self.lost_response_rate = rate;
        self
    }

    /// Sets [`Faults::close_streams_after`].
    #[must_use]
    pub fn close_streams_after(mut self, open_for: Duration) -> Self {
        self.close_streams_after = Some(open_for);
        self
    }

    /// Sets [`Faults::error_event_after`].
    #[must_use]
    pub fn error_event_after(mut self, events: u32) -> Self {
        self.error_event_after = Some(events);
        self
    }

    /// Sets [`Faults::hang_rate`].
    #[must_use]
    pub fn hang_rate(mut self, rate: f64) -> Self {
        self.hang_rate = rate;
        self
    }

    /// Sets [`Faults::ignore_last_event_id`].
    #[must_use]
    pub fn ignore_last_event_id(mut self, on: bool) -> Self {
        self.ignore_last_event_id = on;
        self
    }

    /// See [`Faults::cancel_rate`].
    #[must_use]
    pub fn cancel_rate(mut self, rate: f64) -> Self {
        self.cancel_rate = rate;
        self
    }

    /// See [`Faults::action_required_rate`].
    #[must_use]
    pub fn action_required_rate(mut self, rate: f64) -> Self {
        self.action_required_rate = rate;
        self
    }

    /// See [`Faults::runs_in_change_order`].
    #[must_use]
    pub fn runs_in_change_order(mut self, on: bool) -> Self {
        self.runs_in_change_order = on;
        self
    }

    /// Sets [`Faults::require_betas`].
    #[must_use]
    pub fn require_betas(mut self, on: bool) -> Self {
        self.require_betas = on;
        self
    }

    pub(crate) fn validate(&self) -> Result<(), String> {
        for (name, rate) in [
            ("rate_429", self.rate_429),
            ("rate_5xx", self.rate_5xx),
            ("lost_response_rate", self.lost_response_rate),
            ("hang_rate", self.hang_rate),
            ("cancel_rate", self.cancel_rate),
            ("action_required_rate", self.action_required_rate),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(format!(
                    "fault rate `{name}` is {rate}; it must lie between 0 and 1"
                ));
            }
        }
        if self.rate_429 + self.rate_5xx > 1.0 {
            return Err("rate_429 + rate_5xx exceeds 1".into());
        }
        if self.cancel_rate + self.action_required_rate > 1.0 {
            return Err("cancel_rate + action_required_rate exceeds 1".into());
        }
        if self.close_streams_after.is_some_and(|d| d.is_zero()) {
            return Err("close_streams_after must be longer than zero".into());
        }
        Ok(())
    }
}

/// How a dripping stream is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Drip {
    /// Bytes per write (at least 1).
    pub chunk_bytes: usize,
    /// Pause between writes.
    pub pause: Duration,
}

/// Limits the emulator enforces; the defaults are the API's.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Limits {
    /// Largest request body accepted; larger ones get `413`. Default 32 MiB.
    pub max_body_bytes: usize,
    /// Most inputs in one add-runs request; more get `422`. Default 1,000.
    pub max_inputs_per_request: usize,
    /// Most characters of task spec plus input per run; more get `422`. Default 25,000.
    pub max_spec_and_input_chars: usize,
    /// Deepest object nesting in an output schema (the root object is level 1). Default 3.
    pub max_schema_depth: usize,
    /// Longest a group events stream stays open. Default one hour.
    pub group_events_max: Duration,
    /// Longest a run events stream stays open. Default 570 s.
    pub run_events_max: Duration,
    /// Most event streams (group runs, group events, run events) open at once; one more
    /// gets `503` with `retry-after`. Default 1,024.
    pub max_event_streams: usize,
    /// How long `/result` waits when the request gives no `timeout`. Default 600 s.
    pub default_result_timeout: Duration,
    /// Longest duration accepted anywhere: a `timeout` in a request, an outage or a fault
    /// delay from the control API (longer ones get `422` naming this limit), and every
    /// duration of the builder (checked at start). Default one day; at most a century.
    pub max_duration: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 32 << 20,
            max_inputs_per_request: 1000,
            max_spec_and_input_chars: 25_000,
            max_schema_depth: crate::schema::DEFAULT_MAX_OBJECT_DEPTH,
            group_events_max: Duration::from_secs(3600),
            run_events_max: Duration::from_secs(570),
            max_event_streams: 1024,
            default_result_timeout: Duration::from_secs(600),
            max_duration: Duration::from_secs(24 * 3600),
        }
    }
}

/// Runs of the account `running` at once by default; see [`EmulatorBuilder::capacity`].
pub const DEFAULT_CAPACITY: usize = 1000;

/// Settings for an [`Emulator`](crate::Emulator); made by [`Emulator::builder`](crate::Emulator::builder).
#[derive(Clone)]
pub struct EmulatorBuilder {
    pub(crate) listen: SocketAddr,
    pub(crate) api_key: Option<String>,
    pub(crate) time_scale: f64,
    pub(crate) seed: u64,
    pub(crate) fail_rate: f64,
    pub(crate) capacity: Option<usize>,
    pub(crate) faults: Faults,
    pub(crate) limits: Limits,
    pub(crate) keep_alive: Duration,
    pub(crate) outages: Vec<ScheduledOutage>,
    pub(crate) lenient_payloads: bool,
    pub(crate) header_read_timeout: Duration,
    pub(crate) body_read_timeout: Duration,
    pub(crate) max_connections: usize,
    pub(crate) credits: Option<u64>,
    pub(crate) rate_limit: Option<u32>,
    pub(crate) webhook_secret: Option<String>,
    pub(crate) webhook_attempts: u32,
    pub(crate) webhook_timeout: Duration,
}

impl std::fmt::Debug for EmulatorBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The API key and the webhook secret are secrets: only whether they are set shows.
        let set = |s: &Option<String>| if s.is_some() { "<redacted>" } else { "None" };
        f.debug_struct("EmulatorBuilder")
            .field("listen", &self.listen)
            .field("api_key", &set(&self.api_key))
            .field("time_scale", &self.time_scale)
            .field("seed", &self.seed)
            .field("fail_rate", &self.fail_rate)
            .field("capacity", &self.capacity)
            .field("faults", &self.faults)
            .field("limits", &self.limits)
            .field("keep_alive", &self.keep_alive)
            .field("outages", &self.outages)
            .field("lenient_payloads", &self.lenient_payloads)
            .field("header_read_timeout", &self.header_read_timeout)
            .field("body_read_timeout", &self.body_read_timeout)
            .field("max_connections", &self.max_connections)
            .field("credits", &self.credits)
            .field("rate_limit", &self.rate_limit)
            .field("webhook_secret", &set(&self.webhook_secret))
            .field("webhook_attempts", &self.webhook_attempts)
            .field("webhook_timeout", &self.webhook_timeout)
            .finish()
    }
}

/// An outage planned by [`EmulatorBuilder::outage`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct ScheduledOutage {
    pub(crate) start_after: Duration,
    pub(crate) duration: Duration,
    pub(crate) mode: OutageMode,
}

impl Default for EmulatorBuilder {
    fn default() -> Self {
        EmulatorBuilder {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            api_key: None,
            time_scale: 0.01,
            seed: 0,
            fail_rate: 0.0,
            capacity: Some(DEFAULT_CAPACITY),
            faults: Faults::default(),
            limits: Limits::default(),
            keep_alive: Duration::from_secs(15),
            outages: Vec::new(),
            lenient_payloads: false,
            header_read_timeout: Duration::from_secs(30),
            body_read_timeout: Duration::from_secs(30),
            max_connections: 1024,
            credits: None,
            rate_limit: None,
            webhook_secret: None,
            webhook_attempts: 5,
            webhook_timeout: Duration::from_secs(10),
        }
    }
}

impl EmulatorBuilder {
    /// The address to listen on; default `127.0.0.1:0` (a free port). Only loopback
    /// addresses are accepted: the emulator has no TLS and is not meant to be exposed.
    #[must_use]
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// Require this `x-api-key` on every request (`401` otherwise). Without it (the
    /// default) the emulator accepts any key or none, from requests addressed to a loopback
    /// name or address only (`Host` `localhost`, `127.0.0.1`, `[::1]`, ...; others get `403`),
    /// so that a web page that re-points its own name at this machine (DNS rebinding) cannot
    /// drive it. An empty key is refused at start rather than taken to mean "none":
    /// authentication is never turned off by an empty variable.
    #[must_use]
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// Multiplies every processor latency (see the table in the [crate
    /// docs](crate#processor-latencies)). Default `0.01`, so a `lite` run takes 0.1 s to
    /// 0.6 s; `0` finishes runs as soon as they are added.
    #[must_use]
    pub fn time_scale(mut self, scale: f64) -> Self {
        self.time_scale = scale;
        self
    }

    /// Seed for outputs, latencies, failures and faults. Default `0`. Ids, `ref_id`s and the
    /// random webhook secret are not derived from it: they come from the operating system's
    /// random source, so an id kept from an earlier emulator (in a state file, say) never
    /// names a group or run of this one, and no id or `ref_id` tells anything of another.
    #[must_use]
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Share of runs that end `failed`. Default `0`.
    #[must_use]
    pub fn fail_rate(mut self, rate: f64) -> Self {
        self.fail_rate = rate;
        self
    }

    /// Most runs of the account `running` at once (default 1,000; `None` for no limit), as
    /// the service limits each key. Runs beyond it stay `queued` and start, in the order they
    /// became ready, as others finish, so a large group moves queued -> running -> finished
    /// over time and out of order, and its status counts show it. At time scale 0 runs finish
    /// as they are added and the limit plays no part.
    #[must_use]
    pub fn capacity(mut self, runs: Option<usize>) -> Self {
        self.capacity = runs;
        self
    }

    /// Faults to inject; see [`Faults`]. They can be changed later with
    /// [`EmulatorHandle::set_faults`](crate::EmulatorHandle::set_faults).
    #[must_use]
    pub fn faults(mut self, faults: Faults) -> Self {
        self.faults = faults;
        self
    }

    /// Limits to enforce; see [`Limits`].
    #[must_use]
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Largest request body accepted (`413` above it).
    #[must_use]
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.limits.max_body_bytes = bytes;
        self
    }

    /// Most event streams open at once ([`Limits::max_event_streams`]).
    #[must_use]
    pub fn max_event_streams(mut self, streams: usize) -> Self {
        self.limits.max_event_streams = streams;
        self
    }

    /// How long an event stream may stay quiet before a `: keep-alive` comment is sent.
    /// Default 15 s.
    #[must_use]
    pub fn keep_alive_interval(mut self, interval: Duration) -> Self {
        self.keep_alive = interval;
        self
    }

    /// Plans an outage `start_after` the server starts, lasting `duration`; see
    /// [`OutageMode`]. Call it again for several windows. To start one at any moment, use
    /// [`EmulatorHandle::outage`](crate::EmulatorHandle::outage).
    #[must_use]
    pub fn outage(mut self, start_after: Duration, duration: Duration, mode: OutageMode) -> Self {
        self.outages.push(ScheduledOutage {
            start_after,
            duration,
            mode,
        });
        self
    }

    /// Answers with the lenient shapes the official SDKs accept (default off). Each run gets
    /// one variation, chosen from the seed and the run's creation order so that every ten
    /// consecutive runs show all ten:
    ///
    /// 1. metadata (in the run and its echoed input) with values of other JSON types: a
    ///    nested object (`"lenient_nested": {"a": [1, "b"]}`) and a null (`"lenient_null": null`);
    /// 2. echoed `mcp_servers` whose `headers` keep their names with `null` values (a server
    ///    `lenient` is added when the run had none);
    /// 3. the first citation of the output basis without `url`;
    /// 4. the echoed `task_spec` as `{"output_schema": null, "input_schema": null}`;
    /// 5. the echoed `task_spec` as `{"output_schema": {"type": "json"}, "input_schema": null}`
    ///    (no `json_schema`);
    /// 6. the echoed `task_spec` as a text schema whose `description` is not a string
    ///    (`{"type": "text", "description": null}`);
    /// 7. a `task_run.progress_msg.extract` message on the run events stream;
    /// 8. echoed `advanced_settings` with `data_sources` (`{"location": null,
    ///    "data_sources": ["web"]}`);
    /// 9. output basis entries with `"citations": null`;
    /// 10. an echoed `webhook` with `"event_types": []` (added when the run had none; only the
    ///     echo changes, nothing is delivered for it).
    ///
    /// In this mode the emulator also accepts metadata values of any JSON type.
    #[must_use]
    pub fn lenient_payloads(mut self, on: bool) -> Self {
        self.lenient_payloads = on;
        self
    }

    /// Longest a connection may take to send a request's headers, counted from when the
    /// connection opens or its previous response was sent: idle connections and half-sent
    /// headers are closed after it. HTTP/2 included: a connection with no request in flight
    /// for this long is closed (a `GOAWAY`, then the socket a second later). Default 30 s.
    #[must_use]
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.header_read_timeout = timeout;
        self
    }

    /// Longest a request body may take to arrive in full: a body that stalls (shorter than its
    /// `Content-Length`) gets `408` and the connection is closed. Default 30 s.
    #[must_use]
    pub fn body_read_timeout(mut self, timeout: Duration) -> Self {
        self.body_read_timeout = timeout;
        self
    }

    /// Most connections open at once (default 1,024). A connection beyond it gets a plain
    /// `503` with a JSON error body and is closed; the open ones are served as usual.
    #[must_use]
    pub fn max_connections(mut self, max: usize) -> Self {
        self.max_connections = max;
        self
    }

    /// Runs the account can pay for (default `None`: unlimited). A group's add-runs request
    /// reserves credit for all its runs, a single run takes one; a request that needs more
    /// than is left gets `402` and creates nothing. Adjustable while running with
    /// [`EmulatorHandle::set_credits`](crate::EmulatorHandle::set_credits).
    #[must_use]
    pub fn credits(mut self, runs: Option<u64>) -> Self {
        self.credits = runs;
        self
    }

    /// Work-creating requests (create group, add runs, create run) allowed per minute, as a
    /// token bucket of that capacity refilled at `N / 60` a second (default `None`: no limit;
    /// the API's is 2,000). An empty bucket answers `429` with `retry-after` and
    /// `retry-after-ms` giving the wait for one token. Adjustable while running with
    /// [`EmulatorHandle::set_rate_limit`](crate::EmulatorHandle::set_rate_limit).
    #[must_use]
    pub fn rate_limit(mut self, per_minute: Option<u32>) -> Self {
        self.rate_limit = per_minute;
        self
    }

    /// The account's webhook secret, used for runs whose webhook has no `secret` of its own.
    /// Without one the emulator makes a random secret at start; read it with
    /// [`EmulatorHandle::webhook_secret`](crate::EmulatorHandle::webhook_secret).
    #[must_use]
    pub fn webhook_secret<S: Into<String>>(mut self, secret: S) -> Self {
        self.webhook_secret = Some(secret.into());
        self
    }

    /// Most attempts per webhook delivery (default 5), with a backoff doubling from 200 ms
    /// (capped at 5 s) after a non-2xx answer, a connection error or a timeout.
    #[must_use]
    pub fn webhook_attempts(mut self, attempts: u32) -> Self {
        self.webhook_attempts = attempts;
        self
    }

    /// How long one webhook delivery attempt may take (default 10 s).
    #[must_use]
    pub fn webhook_timeout(mut self, timeout: Duration) -> Self {
        self.webhook_timeout = timeout;
        self
    }

    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.api_key.as_ref().is_some_and(String::is_empty) {
            return Err(
                "the API key is empty; give a key to require one, or none to accept any request"
                    .into(),
            );
        }
        if self.webhook_attempts == 0 || self.webhook_timeout.is_zero() {
            return Err("webhook attempts and timeout must be more than zero".into());
        }
        if self.webhook_secret.as_ref().is_some_and(String::is_empty) {
            return Err("the webhook secret must not be empty".into());
        }
        if self.header_read_timeout.is_zero() || self.body_read_timeout.is_zero() {
            return Err("the header and body read timeouts must be longer than zero".into());
        }
        if self.capacity == Some(0) {
            return Err("capacity must be at least 1 run (or None for no limit)".into());
        }
        if self.max_connections == 0 || self.limits.max_event_streams == 0 {
            return Err("max_connections and max_event_streams must be at least 1".into());
        }
        if !self.listen.ip().is_loopback() {
            return Err(format!(
                "refusing to listen on {}: the emulator only serves loopback addresses such as 127.0.0.1",
                self.listen
            ));
        }
        if !(self.time_scale.is_finite() && self.time_scale >= 0.0) {
            return Err(format!(
                "time scale {} must be a finite number >= 0",
                self.time_scale
            ));
        }
        if !(0.0..=1.0).contains(&self.fail_rate) {
            return Err(format!(
                "fail rate {} must lie between 0 and 1",
                self.fail_rate
            ));
        }
        if self.keep_alive.is_zero() {
            return Err("the keep-alive interval must be longer than zero".into());
        }
        self.check_durations()?;
        self.faults.validate()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_the_secrets() {
        let builder = EmulatorBuilder::default()
            .api_key("key-do-not-print")
            .webhook_secret("whsec-do-not-print");
        let shown = format!("{builder:?}");
        assert!(!shown.contains("do-not-print"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
    }
}
