//! Counters of what the server did, for tests to assert on.

use std::sync::atomic::{AtomicU64, Ordering};

/// An API endpoint, as counted by [`Stats::requests`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Endpoint {
    /// `POST /v1/tasks/groups`
    CreateGroup,
    /// `GET /v1/tasks/groups/{id}`
    GetGroup,
    /// `POST /v1/tasks/groups/{id}/runs`
    AddRuns,
    /// `GET /v1/tasks/groups/{id}/runs` (event stream)
    GroupRuns,
    /// `GET /v1/tasks/groups/{id}/events` (event stream)
    GroupEvents,
    /// `GET /v1/tasks/groups/{id}/runs/{run_id}`
    GetGroupRun,
    /// `POST /v1/tasks/runs`
    CreateRun,
    /// `GET /v1/tasks/runs/{id}`
    GetRun,
    /// `GET /v1/tasks/runs/{id}/result`
    RunResult,
    /// `GET /v1/tasks/runs/{id}/input`
    RunInput,
    /// `GET /v1/tasks/runs/{id}/events` (event stream)
    RunEvents,
}

impl Endpoint {
    /// Every endpoint.
    pub const ALL: [Endpoint; 11] = [
        Endpoint::CreateGroup,
        Endpoint::GetGroup,
        Endpoint::AddRuns,
        Endpoint::GroupRuns,
        Endpoint::GroupEvents,
        Endpoint::GetGroupRun,
        Endpoint::CreateRun,
        Endpoint::GetRun,
        Endpoint::RunResult,
        Endpoint::RunInput,
        Endpoint::RunEvents,
    ];

    /// A short snake-case name, e.g. `add_runs`.
    pub fn as_str(self) -> &'static str {
        match self {
            Endpoint::CreateGroup => "create_group",
            Endpoint::GetGroup => "get_group",
            Endpoint::AddRuns => "add_runs",
            Endpoint::GroupRuns => "group_runs",
            Endpoint::GroupEvents => "group_events",
            Endpoint::GetGroupRun => "get_group_run",
            Endpoint::CreateRun => "create_run",
            Endpoint::GetRun => "get_run",
            Endpoint::RunResult => "run_result",
            Endpoint::RunInput => "run_input",
            Endpoint::RunEvents => "run_events",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// A snapshot of the server's counters; see [`EmulatorHandle::stats`](crate::EmulatorHandle::stats).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Groups created.
    pub groups_created: u64,
    /// Runs created, in groups and alone.
    pub runs_created: u64,
    /// Requests that reached an endpoint (after routing, before authentication and faults).
    requests: [u64; 11],
    /// Response body bytes each endpoint handed to the connection (event streams included,
    /// up to where the client went away).
    bytes: [u64; 11],
    /// Requests answered `429` on purpose.
    pub injected_429: u64,
    /// Requests answered with a 5xx on purpose.
    pub injected_5xx: u64,
    /// Requests processed and then answered by dropping the connection.
    pub responses_lost: u64,
    /// Event streams cut on purpose.
    pub streams_cut: u64,
    /// Requests rejected with `401`.
    pub unauthorized: u64,
    /// Requests read and then never answered (the hang fault).
    pub requests_hung: u64,
    /// Event streams ended cleanly on purpose after `close_streams_after`.
    pub streams_closed: u64,
    /// `error` events written on purpose (the `error_event_after` fault).
    pub error_events: u64,
    /// Connections an outage affected: open ones dropped (refuse) and new ones held without an answer (hang).
    pub outage_connections: u64,
    /// Requests on open connections left unanswered by a hang outage.
    pub outage_requests: u64,
    /// Connections answered `503` because `max_connections` were already open.
    pub connections_over_cap: u64,
    /// Requests answered `402` for want of credit.
    pub credit_refusals: u64,
    /// Requests answered `429` by the rate limit (not the `rate_429` fault).
    pub rate_limited: u64,
    /// Webhook delivery attempts made.
    pub webhook_attempts: u64,
    /// Webhooks answered with a 2xx.
    pub webhooks_delivered: u64,
    /// Webhooks given up after their last attempt.
    pub webhooks_failed: u64,
}

impl Stats {
    /// Requests seen by `endpoint`.
    pub fn requests(&self, endpoint: Endpoint) -> u64 {
        self.requests[endpoint.index()]
    }

    /// Requests seen by all endpoints together.
    pub fn total_requests(&self) -> u64 {
        self.requests.iter().sum()
    }

    /// Response body bytes `endpoint` handed to the connection: every byte of every answer,
    /// errors included, and of an event stream up to where the client closed it (what the
    /// server wrote into its socket, whether or not the client read it).
    pub fn bytes(&self, endpoint: Endpoint) -> u64 {
        self.bytes[endpoint.index()]
    }

    /// Response body bytes of all endpoints together.
    pub fn total_bytes(&self) -> u64 {
        self.bytes.iter().sum()
    }
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) groups_created: AtomicU64,
    pub(crate) runs_created: AtomicU64,
    requests: [AtomicU64; 11],
    bytes: [AtomicU64; 11],
    pub(crate) injected_429: AtomicU64,
    pub(crate) injected_5xx: AtomicU64,
    pub(crate) responses_lost: AtomicU64,
    pub(crate) streams_cut: AtomicU64,
    pub(crate) unauthorized: AtomicU64,
    pub(crate) requests_hung: AtomicU64,
    pub(crate) streams_closed: AtomicU64,
    pub(crate) error_events: AtomicU64,
    pub(crate) outage_connections: AtomicU64,
    pub(crate) outage_requests: AtomicU64,
    pub(crate) connections_over_cap: AtomicU64,
    pub(crate) credit_refusals: AtomicU64,
    pub(crate) rate_limited: AtomicU64,
    pub(crate) webhook_attempts: AtomicU64,
    pub(crate) webhooks_delivered: AtomicU64,
    pub(crate) webhooks_failed: AtomicU64,
}

impl Counters {
    pub(crate) fn request(&self, endpoint: Endpoint) {
        self.requests[endpoint.index()].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn served(&self, endpoint: Endpoint, bytes: usize) {
        self.bytes[endpoint.index()].fetch_add(bytes as u64, Ordering::Relaxed);
    }

    pub(crate) fn bump(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> Stats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Stats {
            groups_created: get(&self.groups_created),
            runs_created: get(&self.runs_created),
            requests: std::array::from_fn(|i| get(&self.requests[i])),
            bytes: std::array::from_fn(|i| get(&self.bytes[i])),
            injected_429: get(&self.injected_429),
            injected_5xx: get(&self.injected_5xx),
            responses_lost: get(&self.responses_lost),
            streams_cut: get(&self.streams_cut),
            unauthorized: get(&self.unauthorized),
            requests_hung: get(&self.requests_hung),
            streams_closed: get(&self.streams_closed),
            error_events: get(&self.error_events),
            outage_connections: get(&self.outage_connections),
            outage_requests: get(&self.outage_requests),
            connections_over_cap: get(&self.connections_over_cap),
            credit_refusals: get(&self.credit_refusals),
            rate_limited: get(&self.rate_limited),
            webhook_attempts: get(&self.webhook_attempts),
            webhooks_delivered: get(&self.webhooks_delivered),
            webhooks_failed: get(&self.webhooks_failed),
        }
    }
}
