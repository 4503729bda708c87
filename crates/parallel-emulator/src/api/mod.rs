//! The API: shared server state, authentication and the path from a request to its handler.
//!
//! A reader finds each part by its file: `route` (paths and query strings), `faults`
//! (errors and lost answers injected on purpose), `groups` (create, add runs), `runs`
//! (create, result), `streams` (the three event streams), `webhooks` (deliveries) and
//! `control` (the `/_emulator/` control API).

mod control;
mod faults;
mod groups;
mod route;
mod runs;
mod streams;
mod webhooks;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::BodyExt as _;
use tokio::sync::watch;

use crate::beta::Betas;
use crate::body::ResponseBody;
use crate::clock::Clock;
use crate::config::{EmulatorBuilder, Faults, Limits};
use crate::ids::{GroupId, RunId};
use crate::outage::Outages;
use crate::quota::{Credits, RateLimit};
use crate::random::OsRandom;
use crate::request::ApiError;
use crate::rng::{DetRng, combine};
use crate::sim::Scheduler;
use crate::state::{Group, Store};
use crate::stats::{Counters, Endpoint};
use crate::wire;

pub(crate) use faults::DropConnection;
use groups::write_group_of;
use route::{Route, route};
use runs::run_json;
pub(crate) use webhooks::Webhooks;

/// Shared server state.
pub(crate) struct App {
    pub(crate) seed: u64,
    time_scale: f64,
    fail_rate: f64,
    limits: Limits,
    keep_alive: Duration,
    api_key: Option<Vec<u8>>,
    pub(crate) faults: RwLock<Faults>,
    fault_rng: Mutex<DetRng>,
    /// Runs created so far: a run's number seeds its simulation (its id does not).
    run_numbers: AtomicU64,
    /// Ids and `ref_id`s: random, so that none tells anything about another.
    random: OsRandom,
    /// Event streams open now, under `limits.max_event_streams`.
    open_streams: Arc<AtomicUsize>,
    pub(crate) clock: Clock,
    store: Store,
    pub(crate) scheduler: Arc<Scheduler>,
    pub(crate) counters: Arc<Counters>,
    pub(crate) lose_next: Mutex<Vec<String>>,
    shutdown: watch::Receiver<bool>,
    /// Lenient payload mode, and how many runs it has shaped so far.
    lenient: bool,
    lenient_runs: AtomicU64,
    pub(crate) outages: Arc<Outages>,
    body_read_timeout: Duration,
    pub(crate) credits: Credits,
    pub(crate) rate_limit: RateLimit,
    pub(crate) webhooks: Webhooks,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The API key is deliberately left out.
        f.debug_struct("App")
            .field("seed", &self.seed)
            .field("time_scale", &self.time_scale)
            .finish_non_exhaustive()
    }
}

type Reply = Result<Response<ResponseBody>, ApiError>;

impl App {
    pub(crate) fn new(
        cfg: &EmulatorBuilder,
        webhook_secret: String,
        shutdown: watch::Receiver<bool>,
    ) -> App {
        let clock = Clock::new();
        App {
            seed: cfg.seed,
            time_scale: cfg.time_scale,
            fail_rate: cfg.fail_rate,
            limits: cfg.limits.clone(),
            keep_alive: cfg.keep_alive,
            api_key: cfg.api_key.as_ref().map(|k| k.as_bytes().to_vec()),
            faults: RwLock::new(cfg.faults.clone()),
            fault_rng: Mutex::new(DetRng::new(combine(cfg.seed, 0x6661_756c_7473))),
            run_numbers: AtomicU64::new(0),
            random: OsRandom::new(),
            open_streams: Arc::new(AtomicUsize::new(0)),
            clock,
            store: Store::new(clock.now()),
            scheduler: Arc::new(Scheduler::new(clock, cfg.capacity)),
            counters: Arc::default(),
            lose_next: Mutex::new(Vec::new()),
            shutdown,
            lenient: cfg.lenient_payloads,
            lenient_runs: AtomicU64::new(0),
            outages: Arc::new(Outages::new()),
            body_read_timeout: cfg.body_read_timeout,
            credits: Credits::new(cfg.credits),
            rate_limit: RateLimit::new(cfg.rate_limit),
            webhooks: Webhooks::new(cfg, webhook_secret),
        }
    }

    fn faults(&self) -> Faults {
        self.faults
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// How the runs created now end.
    fn endings(&self) -> crate::sim::Endings {
        let faults = self.faults();
        crate::sim::Endings {
            failed: self.fail_rate,
            cancelled: faults.cancel_rate,
            action_required: faults.action_required_rate,
        }
    }

    fn fault_roll(&self) -> f64 {
        self.fault_rng
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .unit()
    }

    /// The numbers of `n` new runs, in creation order.
    fn run_numbers(&self, n: usize) -> std::ops::Range<u64> {
        let first = self.run_numbers.fetch_add(n as u64, Ordering::Relaxed);
        first..first + n as u64
    }

    /// A `ref_id` for an error: random, so that it reveals nothing of the ids.
    fn ref_id(&self) -> String {
        self.random.uuid()
    }

    /// Handles one request. `Err` drops the connection without an answer.
    pub(crate) async fn handle<B>(
        self: Arc<Self>,
        req: Request<B>,
    ) -> Result<Response<ResponseBody>, DropConnection>
    where
        B: http_body::Body<Data = Bytes> + Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let (parts, body) = req.into_parts();
        if self.api_key.is_none() {
            // Without a key to check, who a request is addressed to is the only guard.
            if let Err(e) = crate::host::check_loopback(&parts) {
                return Ok(self.error_response(&e));
            }
        }
        if parts.uri.path().starts_with(control::PREFIX) {
            // The control API answers even while the server hangs, so a test can drive it.
            if let Err(e) = self.authorize(&parts.headers) {
                return Ok(self.error_response(&e));
            }
            let body = match self.request_body(&parts, body).await {
                Ok(b) => b,
                Err(refused) => return Ok(refused),
            };
            return Ok(self.control(&parts.method, parts.uri.path(), &body));
        }
        if self.outages.hanging() {
            // A hung server: the request is read and never answered.
            Counters::bump(&self.counters.outage_requests, 1);
            self.outages.hang_over().await;
            return Err(DropConnection);
        }
        let route = match route(&parts.method, parts.uri.path()) {
            Ok(route) => route,
            Err(e) => return Ok(self.error_response(&e)),
        };
        self.counters.request(route.endpoint);
        let endpoint = route.endpoint;
        let response = self.answer(route, parts, body).await?;
        let counters = Arc::clone(&self.counters);
        Ok(response.map(|body| body.counted(counters, endpoint)))
    }

    /// Answers a routed request: authentication, faults, the rate limit, then the endpoint.
    async fn answer<B>(
        self: &Arc<Self>,
        route: Route,
        parts: http::request::Parts,
        body: B,
    ) -> Result<Response<ResponseBody>, DropConnection>
    where
        B: http_body::Body<Data = Bytes> + Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        if let Err(e) = self.authorize(&parts.headers) {
            return Ok(self.error_response(&e));
        }
        let faults = self.faults();
        if let Some(response) = self.injected_error(&faults) {
            return Ok(response);
        }
        if let Some(response) = self.rate_limited(route.endpoint) {
            return Ok(response);
        }
        let lose = self.should_lose(&parts.method, parts.uri.path(), &faults);
        let body = match self.request_body(&parts, body).await {
            Ok(b) => b,
            Err(refused) => return Ok(refused),
        };
        if self.should_hang(&faults) {
            return Err(self.hang().await);
        }
        let query = parts.uri.query().unwrap_or("");
        let betas = Betas::from_headers(&parts.headers, faults.require_betas);
        let reply = self.dispatch(&route, &betas, query, &body).await;
        if lose {
            Counters::bump(&self.counters.responses_lost, 1);
            return Err(DropConnection);
        }
        Ok(reply.unwrap_or_else(|e| self.error_response(&e)))
    }

    /// A `401` unless the API key (when one is required) was sent.
    fn authorize(&self, headers: &http::HeaderMap) -> Result<(), ApiError> {
        let Some(expected) = &self.api_key else {
            return Ok(());
        };
        let given = headers
            .get("x-api-key")
            .map_or(&[][..], HeaderValue::as_bytes);
        if constant_time_eq(given, expected) {
            return Ok(());
        }
        Counters::bump(&self.counters.unauthorized, 1);
        Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "Unauthorized: invalid or missing credentials (send the key in the x-api-key header)",
        ))
    }

    /// The body of a `POST` or `PUT` (empty for other methods), or the answer when it cannot
    /// be read: `413` when too large, `408` (and the connection closed) when it stalls.
    async fn request_body<B>(
        &self,
        parts: &http::request::Parts,
        body: B,
    ) -> Result<Bytes, Response<ResponseBody>>
    where
        B: http_body::Body<Data = Bytes>,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        if parts.method != Method::POST && parts.method != Method::PUT {
            return Ok(Bytes::new());
        }
        match self.read_body(&parts.headers, body).await {
            Ok(b) => Ok(b),
            Err(e) if e.status == StatusCode::REQUEST_TIMEOUT => {
                let mut response = self.error_response(&e);
                response
                    .headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
                Err(response)
            }
            Err(e) => Err(self.error_response(&e)),
        }
    }

    async fn read_body<B>(&self, headers: &http::HeaderMap, body: B) -> Result<Bytes, ApiError>
    where
        B: http_body::Body<Data = Bytes>,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let limit = self.limits.max_body_bytes;
        let too_large = || {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "Request body too large: the limit is {limit} bytes; send fewer inputs per request"
                ),
            )
        };
        let declared = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > limit as u64) {
            return Err(too_large());
        }
        let timeout = self.body_read_timeout;
        let read =
            tokio::time::timeout(timeout, http_body_util::Limited::new(body, limit).collect());
        let Ok(read) = read.await else {
            return Err(ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "Request timed out: the request body did not arrive in full within {timeout:?}"
                ),
            ));
        };
        match read {
            Ok(collected) => Ok(collected.to_bytes()),
            Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(too_large()),
            Err(e) => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("could not read the request body: {e}"),
            )),
        }
    }

    async fn dispatch(
        self: &Arc<Self>,
        route: &Route,
        betas: &Betas,
        query: &str,
        body: &[u8],
    ) -> Reply {
        let group = || self.find_group(route.group.as_deref());
        let run = || self.find_run(route.run.as_deref());
        match route.endpoint {
            Endpoint::CreateGroup => self.create_group(body),
            Endpoint::GetGroup => {
                let g = group()?;
                let mut out = Vec::with_capacity(512);
                write_group_of(&mut out, &g);
                Ok(json(StatusCode::OK, out))
            }
            Endpoint::AddRuns => self.add_runs(&group()?, betas, query, body),
            Endpoint::GroupRuns => self.group_runs(group()?, query),
            Endpoint::GroupEvents => self.group_events(group()?, query),
            Endpoint::GetGroupRun => {
                let g = group()?;
                let (owner, index) = run()?;
                if !Arc::ptr_eq(&g, &owner) {
                    return Err(ApiError::new(StatusCode::NOT_FOUND, "Run id not found"));
                }
                Ok(run_json(&owner, index))
            }
            Endpoint::CreateRun => self.create_run(betas, body),
            Endpoint::GetRun => {
                let (owner, index) = run()?;
                Ok(run_json(&owner, index))
            }
            Endpoint::RunResult => {
                let (owner, index) = run()?;
                self.run_result(&owner, index, query).await
            }
            Endpoint::RunInput => {
                let (owner, index) = run()?;
                let run = owner.lock().runs[index].clone();
                let mut out = Vec::with_capacity(run.input.len() + crate::state::NULL_TAIL.len());
                run.write_input(&mut out);
                Ok(json(StatusCode::OK, out))
            }
            Endpoint::RunEvents => {
                let (owner, index) = run()?;
                Ok(self.run_events(owner, index))
            }
        }
    }

    fn find_group(&self, id: Option<&str>) -> Result<Arc<Group>, ApiError> {
        id.and_then(GroupId::parse)
            .and_then(|id| self.store.group(id))
            .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "TaskGroup not found"))
    }

    fn find_run(&self, id: Option<&str>) -> Result<(Arc<Group>, usize), ApiError> {
        id.and_then(RunId::parse)
            .and_then(|id| self.store.run(id))
            .map(|(g, i)| (g, i as usize))
            .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "Run id not found"))
    }

    /// The body of the `503` a connection beyond `max_connections` gets.
    pub(crate) fn error_body_over_cap(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        wire::write_error_response(
            &mut out,
            &self.ref_id(),
            "Service unavailable: too many open connections; retry later",
            None,
        );
        out
    }

    pub(crate) fn error_response(&self, e: &ApiError) -> Response<ResponseBody> {
        let mut out = Vec::with_capacity(256);
        wire::write_error_response(&mut out, &self.ref_id(), &e.message, e.detail.as_ref());
        json(e.status, out)
    }
}

fn json(status: StatusCode, body: Vec<u8>) -> Response<ResponseBody> {
    let mut response = Response::new(ResponseBody::Full(Some(Bytes::from(body))));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// Compares without an early exit, so the time taken does not reveal how much of a guessed
/// key was right. (The length is not secret.)
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_eq_compares_contents() {
        assert!(constant_time_eq(b"key", b"key"));
        assert!(!constant_time_eq(b"key", b"kez"));
        assert!(!constant_time_eq(b"key", b"keys"));
        assert!(!constant_time_eq(b"", b"k"));
    }
}
