//! The API: routing, authentication, faults, and one handler per endpoint.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::BodyExt as _;
use serde_json::Value;
use tokio::sync::watch;

use crate::body::ResponseBody;
use crate::clock::{Clock, Micros};
use crate::config::{EmulatorBuilder, Faults, Limits};
use crate::ids::{GroupId, RunId};
use crate::request::{self, ApiError, NewInput};
use crate::rng::{DetRng, combine, mix};
use crate::sim::{self, Scheduler};
use crate::sse::{SseSink, Stop, StreamFaults};
use crate::state::{Group, LoggedEvent, Run, Status, Store};
use crate::stats::{Counters, Endpoint};
use crate::wire;

/// The connection is to be dropped without an answer (the "lost response" fault).
#[derive(Debug)]
pub(crate) struct DropConnection;

impl std::fmt::Display for DropConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("response dropped on purpose (lost-response fault)")
    }
}

impl std::error::Error for DropConnection {}

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
    ids: AtomicU64,
    /// Mixed into every id, different for every emulator started: see [`instance_salt`].
    id_salt: u64,
    pub(crate) clock: Clock,
    store: Store,
    pub(crate) scheduler: Arc<Scheduler>,
    pub(crate) counters: Counters,
    pub(crate) lose_next: Mutex<Vec<String>>,
    shutdown: watch::Receiver<bool>,
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

struct Route {
    endpoint: Endpoint,
    group: Option<String>,
    run: Option<String>,
}

impl App {
    pub(crate) fn new(cfg: &EmulatorBuilder, shutdown: watch::Receiver<bool>) -> App {
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
            ids: AtomicU64::new(0),
            id_salt: instance_salt(),
            clock,
            store: Store::new(clock.now()),
            scheduler: Arc::new(Scheduler::new(clock)),
            counters: Counters::default(),
            lose_next: Mutex::new(Vec::new()),
            shutdown,
        }
    }

    fn faults(&self) -> Faults {
        self.faults
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn fault_roll(&self) -> f64 {
        self.fault_rng
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .unit()
    }

    /// The next id: unique to this emulator (its salt) and the order of creation.
    fn next_id(&self) -> (u64, u128) {
        let n = self.ids.fetch_add(1, Ordering::Relaxed);
        let hi = mix(combine(self.seed ^ self.id_salt, n));
        let lo = mix(combine(self.seed ^ self.id_salt ^ 0x1d5, n));
        (n, (u128::from(hi) << 64) | u128::from(lo))
    }

    fn ref_id(&self) -> String {
        DetRng::new(self.next_id().0 ^ 0x7265_665f).uuid()
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
        let route = match route(&parts.method, parts.uri.path()) {
            Ok(route) => route,
            Err(e) => return Ok(self.error_response(&e)),
        };
        self.counters.request(route.endpoint);

        if let Some(expected) = &self.api_key {
            let given = parts
                .headers
                .get("x-api-key")
                .map_or(&[][..], HeaderValue::as_bytes);
            if !constant_time_eq(given, expected) {
                Counters::bump(&self.counters.unauthorized, 1);
                return Ok(self.error_response(&ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "Unauthorized: invalid or missing credentials (send the key in the x-api-key header)",
                )));
            }
        }

        let faults = self.faults();
        if faults.rate_429 > 0.0 || faults.rate_5xx > 0.0 {
            let roll = self.fault_roll();
            if roll < faults.rate_429 {
                Counters::bump(&self.counters.injected_429, 1);
                let e = ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "Too many requests: quota temporarily exceeded",
                );
                return Ok(with_retry_after(
                    self.error_response(&e),
                    faults.retry_after,
                ));
            }
            if roll < faults.rate_429 + faults.rate_5xx {
                Counters::bump(&self.counters.injected_5xx, 1);
                let status = [
                    StatusCode::INTERNAL_SERVER_ERROR,
                    StatusCode::BAD_GATEWAY,
                    StatusCode::SERVICE_UNAVAILABLE,
                ][usize::try_from(mix(roll.to_bits()) % 3).unwrap_or(0)];
                let e = ApiError::new(
                    status,
                    "Internal server error: the service is temporarily unavailable; retry later",
                );
                return Ok(with_retry_after(
                    self.error_response(&e),
                    faults.retry_after,
                ));
            }
        }
        let lose = self.should_lose(&parts.method, parts.uri.path(), &faults);

        let body = if parts.method == Method::POST {
            match self.read_body(&parts.headers, body).await {
                Ok(b) => b,
                Err(e) => return Ok(self.error_response(&e)),
            }
        } else {
            Bytes::new()
        };
        let query = parts.uri.query().unwrap_or("");
        let reply = self.dispatch(&route, query, &body).await;
        if lose {
            Counters::bump(&self.counters.responses_lost, 1);
            return Err(DropConnection);
        }
        Ok(reply.unwrap_or_else(|e| self.error_response(&e)))
    }

    fn should_lose(&self, method: &Method, path: &str, faults: &Faults) -> bool {
        {
            let mut pending = self
                .lose_next
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(i) = pending.iter().position(|p| path.contains(p.as_str())) {
                pending.remove(i);
                return true;
            }
        }
        *method == Method::POST
            && faults.lost_response_rate > 0.0
            && self.fault_roll() < faults.lost_response_rate
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
        match http_body_util::Limited::new(body, limit).collect().await {
            Ok(collected) => Ok(collected.to_bytes()),
            Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(too_large()),
            Err(e) => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("could not read the request body: {e}"),
            )),
        }
    }

    async fn dispatch(self: &Arc<Self>, route: &Route, query: &str, body: &[u8]) -> Reply {
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
            Endpoint::AddRuns => self.add_runs(&group()?, query, body),
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
            Endpoint::CreateRun => self.create_run(body),
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

    pub(crate) fn error_response(&self, e: &ApiError) -> Response<ResponseBody> {
        let mut out = Vec::with_capacity(256);
        wire::write_error_response(&mut out, &self.ref_id(), &e.message, e.detail.as_ref());
        json(e.status, out)
    }

    fn create_group(&self, body: &[u8]) -> Reply {
        let obj = request::parse_object(body, true)?;
        let metadata = request::metadata(obj.get("metadata"), "metadata")?;
        let (_, id) = self.next_id();
        let group =
            self.store
                .create_group(GroupId(id), self.clock.now(), metadata.map(Bytes::from));
        Counters::bump(&self.counters.groups_created, 1);
        let mut out = Vec::with_capacity(512);
        write_group_of(&mut out, &group);
        Ok(json(StatusCode::OK, out))
    }

    /// Turns checked inputs into runs, in their initial status.
    fn make_runs(
        &self,
        inputs: Vec<NewInput>,
        now: Micros,
    ) -> (Vec<Run>, Vec<(sim::Plan, Status)>) {
        let mut runs = Vec::with_capacity(inputs.len());
        let mut plans = Vec::with_capacity(inputs.len());
        let instant = self.time_scale == 0.0;
        for input in inputs {
            let mut canonical = input.canonical;
            let null_tail = canonical.ends_with(crate::state::NULL_TAIL);
            if null_tail {
                canonical.truncate(canonical.len() - crate::state::NULL_TAIL.len());
            }
            canonical.shrink_to_fit();
            let (number, id) = self.next_id();
            let plan = sim::plan(
                self.seed,
                input.input_hash,
                number,
                input.processor,
                self.time_scale,
                self.fail_rate,
                now,
            );
            let end = if plan.fails {
                Status::Failed
            } else {
                Status::Completed
            };
            runs.push(Run {
                id: RunId(id),
                status: if instant { end } else { Status::Queued },
                processor: input.processor,
                events_enabled: input.events_enabled,
                fails: plan.fails,
                created_at: now,
                modified_at: now,
                running_at: plan.running_at,
                done_at: plan.done_at,
                null_tail,
                input: Bytes::from(canonical),
                input_range: input.input_range,
                metadata_range: input.metadata_range,
                spec: input.spec,
            });
            plans.push((plan, end));
        }
        Counters::bump(&self.counters.runs_created, runs.len() as u64);
        (runs, if instant { Vec::new() } else { plans })
    }

    fn add_runs(&self, group: &Arc<Group>, query: &str, body: &[u8]) -> Reply {
        let params = Query::parse(query)?;
        params.bool("refresh_status")?;
        let obj = request::parse_object(body, false)?;
        let Some(inputs) = obj.get("inputs") else {
            return Err(ApiError::validation("inputs", "is required"));
        };
        let Some(inputs) = inputs.as_array() else {
            return Err(ApiError::validation(
                "inputs",
                "must be an array of task run inputs",
            ));
        };
        let max = self.limits.max_inputs_per_request;
        if inputs.len() > max {
            return Err(ApiError::validation(
                "inputs",
                format!(
                    "{} inputs in one request; at most {max} are allowed per request (split them over several requests)",
                    inputs.len()
                ),
            ));
        }
        let default_spec = request::task_spec(
            obj.get("default_task_spec"),
            "default_task_spec",
            &self.limits,
        )?;
        let parsed = inputs
            .iter()
            .enumerate()
            .map(|(i, v)| {
                request::run_input(
                    v,
                    &format!("inputs[{i}]"),
                    default_spec.as_ref(),
                    &self.limits,
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        let now = self.clock.now();
        let (runs, plans) = self.make_runs(parsed, now);
        let ids: Vec<RunId> = runs.iter().map(|r| r.id).collect();
        let outcome = self.store.add_runs(group, runs, now);
        if !plans.is_empty() {
            self.scheduler.schedule(group, outcome.first, &plans);
        }
        let mut out = Vec::with_capacity(256 + ids.len() * 40);
        out.extend_from_slice(b"{\"status\":");
        wire::write_status(&mut out, &outcome.status);
        out.extend_from_slice(b",\"run_ids\":[");
        for (i, id) in ids.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(format!("\"{id}\"").as_bytes());
        }
        out.extend_from_slice(b"],\"run_cursor\":");
        push_cursor(&mut out, outcome.first);
        out.extend_from_slice(b",\"event_cursor\":");
        push_cursor(&mut out, outcome.events_before);
        out.push(b'}');
        Ok(json(StatusCode::OK, out))
    }

    fn create_run(&self, body: &[u8]) -> Reply {
        let obj = request::parse_object(body, false)?;
        let parsed = request::run_input(&Value::Object(obj), "", None, &self.limits)?;
        let now = self.clock.now();
        let (runs, plans) = self.make_runs(vec![parsed], now);
        let group = self.store.standalone();
        let outcome = self.store.add_runs(group, runs, now);
        if !plans.is_empty() {
            self.scheduler.schedule(group, outcome.first, &plans);
        }
        let mut response = run_json(group, outcome.first);
        *response.status_mut() = StatusCode::ACCEPTED;
        Ok(response)
    }

    async fn run_result(&self, group: &Arc<Group>, index: usize, query: &str) -> Reply {
        let params = Query::parse(query)?;
        let timeout = params
            .seconds("timeout")?
            .unwrap_or(self.limits.default_result_timeout);
        let deadline = tokio::time::Instant::now() + timeout;
        let mut shutdown = self.shutdown.clone();
        loop {
            let notified = group.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let run = group.lock().runs[index].clone();
            match run.status {
                Status::Completed => {
                    let mut out = Vec::with_capacity(2048);
                    wire::write_result(&mut out, &run, group.id, self.seed);
                    return Ok(json(StatusCode::OK, out));
                }
                s if !s.is_active() => {
                    return Err(ApiError::new(
                        StatusCode::NOT_FOUND,
                        "Run failed or run id not found",
                    ));
                }
                _ => {}
            }
            tokio::select! {
                () = &mut notified => {}
                () = tokio::time::sleep_until(deadline) => {
                    return Err(ApiError::new(StatusCode::REQUEST_TIMEOUT, "Request timed out; run still active"));
                }
                _ = shutdown.changed() => {
                    return Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "The server is shutting down; retry later"));
                }
            }
        }
    }

    fn stream_faults(&self) -> StreamFaults {
        let f = self.faults();
        let seed = if f.sse_cut_after_events.is_some() && f.sse_cut_offset.is_none() {
            self.fault_rng
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .next_u64()
        } else {
            0
        };
        StreamFaults {
            cut_after: f.sse_cut_after_events,
            cut_offset: f.sse_cut_offset,
            drip: f.drip,
            rng: DetRng::new(seed),
        }
    }

    fn open_stream(self: &Arc<Self>) -> (SseSink, Response<ResponseBody>) {
        let app = Arc::clone(self);
        let (sink, rx) = SseSink::new(
            self.stream_faults(),
            Box::new(move || Counters::bump(&app.counters.streams_cut, 1)),
        );
        let response = Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, "text/event-stream; charset=utf-8")
            .header(header::CACHE_CONTROL, "no-cache")
            .body(ResponseBody::Stream(rx))
            .unwrap_or_else(|_| Response::new(ResponseBody::Full(None)));
        (sink, response)
    }

    /// G4: one `task_run.state` per run in add order, from a snapshot of the run count.
    fn group_runs(self: &Arc<Self>, group: Arc<Group>, query: &str) -> Reply {
        let params = Query::parse(query)?;
        let after = params.cursor("last_event_id")?;
        let status = match params.get("status") {
            None | Some("" | "null") => None,
            Some(s) => Some(Status::parse(s).ok_or_else(|| {
                ApiError::validation(
                    "status",
                    format!("`{s}` is not a run status; use queued, action_required, running, completed, failed, cancelling or cancelled"),
                )
            })?),
        };
        let include_input = params.bool("include_input")?.unwrap_or(false);
        let include_output = params.bool("include_output")?.unwrap_or(false);
        let (mut sink, response) = self.open_stream();
        let app = Arc::clone(self);
        tokio::spawn(async move {
            const CHUNK: usize = 256;
            let total = group.lock().runs.len();
            let mut pos = usize::try_from(after).unwrap_or(usize::MAX).min(total);
            let mut shutdown = app.shutdown.clone();
            let output_seed = include_output.then_some(app.seed);
            while pos < total {
                if *shutdown.borrow_and_update() || sink.is_closed() {
                    return;
                }
                let end = (pos + CHUNK).min(total);
                let batch: Vec<(usize, Run)> = {
                    let inner = group.lock();
                    (pos..end)
                        .filter(|i| status.is_none_or(|s| inner.runs[*i].status == s))
                        .map(|i| (i, inner.runs[i].clone()))
                        .collect()
                };
                pos = end;
                for (i, run) in &batch {
                    let flush = sink.event("task_run.state", true, |out| {
                        wire::write_run_event(
                            out,
                            Some(*i as u64 + 1),
                            run,
                            group.id,
                            include_input,
                            output_seed,
                        );
                    });
                    if flush && sink.flush().await.is_err() {
                        return;
                    }
                }
            }
            let _ = sink.flush().await;
        });
        Ok(response)
    }

    /// G5: the log after the cursor (or, when there is none, a current status), then live
    /// events, until the group is inactive.
    fn group_events(self: &Arc<Self>, group: Arc<Group>, query: &str) -> Reply {
        let params = Query::parse(query)?;
        let after = params.cursor("last_event_id")?;
        let limit = self.limits.group_events_max;
        let timeout = params.seconds("timeout")?.map_or(limit, |t| t.min(limit));
        let (mut sink, response) = self.open_stream();
        let app = Arc::clone(self);
        tokio::spawn(async move {
            let _ = app
                .pump_group_events(&group, &mut sink, after, timeout)
                .await;
        });
        Ok(response)
    }

    async fn pump_group_events(
        &self,
        group: &Arc<Group>,
        sink: &mut SseSink,
        after: u64,
        timeout: Duration,
    ) -> Result<(), Stop> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut shutdown = self.shutdown.clone();
        let mut cursor = usize::try_from(after).unwrap_or(usize::MAX);
        // A client that has caught up with the log first gets the current status as a
        // snapshot: it carries the cursor the client came with, so resuming from it loses
        // nothing, and it is not counted for the cut fault. A client with a backlog gets the
        // backlog instead, whose status events say the same in order: an opening snapshot that
        // already said "inactive" would end, before the runs it reports on, every consumer that
        // stops at the first inactive status (as the API's own docs suggest).
        let opening = {
            let inner = group.lock();
            (inner.events.len() <= cursor).then(|| inner.status())
        };
        if let Some(current) = opening {
            sink.event("task_group_status", false, |out| {
                wire::write_status_event(out, after, &current);
            });
            sink.flush().await?;
        }
        loop {
            let notified = group.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let (batch, len, active) = {
                let inner = group.lock();
                (
                    inner.events_from(cursor, 256),
                    inner.events.len(),
                    inner.status().is_active(),
                )
            };
            let full = batch.len() == 256;
            for event in batch {
                cursor += 1;
                let id = cursor as u64;
                let flush = match &event {
                    LoggedEvent::Status(s) => sink.event("task_group_status", true, |out| {
                        wire::write_status_event(out, id, s);
                    }),
                    LoggedEvent::RunState(run) => sink.event("task_run.state", true, |out| {
                        wire::write_run_event(out, Some(id), run, group.id, false, None);
                    }),
                };
                if flush {
                    sink.flush().await?;
                }
            }
            sink.flush().await?;
            if cursor >= len && !active {
                return Ok(());
            }
            if full {
                continue;
            }
            tokio::select! {
                () = &mut notified => {}
                () = tokio::time::sleep(self.keep_alive) => sink.keep_alive().await?,
                () = tokio::time::sleep_until(deadline) => return Ok(()),
                _ = shutdown.changed() => return Ok(()),
                () = sink.closed() => return Err(Stop),
            }
        }
    }

    /// R5: current state, the progress trace so far, the latest stats, then live updates
    /// until the final state with the output.
    fn run_events(self: &Arc<Self>, group: Arc<Group>, index: usize) -> Response<ResponseBody> {
        let (mut sink, response) = self.open_stream();
        let app = Arc::clone(self);
        tokio::spawn(async move {
            let _ = app.pump_run_events(&group, index, &mut sink).await;
        });
        response
    }

    async fn pump_run_events(
        &self,
        group: &Arc<Group>,
        index: usize,
        sink: &mut SseSink,
    ) -> Result<(), Stop> {
        let deadline = tokio::time::Instant::now() + self.limits.run_events_max;
        let mut shutdown = self.shutdown.clone();
        let first = group.lock().runs[index].clone();
        sink.event("task_run.state", true, |out| {
            wire::write_run_event(out, None, &first, group.id, false, None);
        });
        let trace = crate::progress::trace(&first);
        let mut sent = 0;
        let mut last_status = first.status;
        let mut stats_due = true;
        loop {
            let notified = group.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let run = group.lock().runs[index].clone();
            let now = self.clock.now();
            while let Some(step) = trace.get(sent).filter(|s| s.at <= now) {
                sink.event(step.kind, true, |out| {
                    crate::progress::write_message(out, step);
                });
                sent += 1;
                stats_due = true;
            }
            if stats_due {
                sink.event("task_run.progress_stats", true, |out| {
                    crate::progress::write_stats(out, &run, now);
                });
                stats_due = false;
            }
            if run.status != last_status && run.status.is_active() {
                sink.event("task_run.state", true, |out| {
                    wire::write_run_event(out, None, &run, group.id, false, None);
                });
                last_status = run.status;
            }
            if !run.status.is_active() {
                sink.event("task_run.state", true, |out| {
                    wire::write_run_event(out, None, &run, group.id, false, Some(self.seed));
                });
                return sink.flush().await;
            }
            sink.flush().await?;
            let next_step = trace.get(sent).map(|s| self.clock.instant_at(s.at));
            let until_step = async {
                match next_step {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = &mut notified => {}
                () = until_step => {}
                () = tokio::time::sleep(self.keep_alive) => sink.keep_alive().await?,
                () = tokio::time::sleep_until(deadline) => return Ok(()),
                _ = shutdown.changed() => return Ok(()),
                () = sink.closed() => return Err(Stop),
            }
        }
    }
}

fn push_cursor(out: &mut Vec<u8>, position: usize) {
    if position == 0 {
        out.extend_from_slice(b"null");
    } else {
        out.extend_from_slice(format!("\"{position}\"").as_bytes());
    }
}

fn write_group_of(out: &mut Vec<u8>, group: &Group) {
    let status = group.lock().status();
    if let Some(id) = group.id {
        wire::write_group(
            out,
            id,
            group.created_at,
            group.metadata.as_deref(),
            &status,
        );
    }
}

fn run_json(group: &Group, index: usize) -> Response<ResponseBody> {
    let run = group.lock().runs[index].clone();
    let mut out = Vec::with_capacity(512);
    wire::write_run(&mut out, &run, group.id);
    json(StatusCode::OK, out)
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

fn with_retry_after(
    mut response: Response<ResponseBody>,
    wait: Duration,
) -> Response<ResponseBody> {
    let ms = wait.as_millis();
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&ms.to_string()) {
        headers.insert("retry-after-ms", v);
    }
    if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
        headers.insert(header::RETRY_AFTER, v);
    }
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

fn route(method: &Method, path: &str) -> Result<Route, ApiError> {
    let not_found = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            format!("Not found: no endpoint at {path}"),
        )
    };
    let path = path.strip_suffix('/').unwrap_or(path);
    let mut segments = path.split('/').skip(1);
    if !matches!(segments.next(), Some("v1" | "v1beta")) || segments.next() != Some("tasks") {
        return Err(not_found());
    }
    let rest: Vec<&str> = segments.collect();
    let owned = |s: &&str| Some((*s).to_owned());
    let (endpoint, group, run, allowed): (Endpoint, Option<String>, Option<String>, &Method) =
        match rest.as_slice() {
            ["groups"] => (Endpoint::CreateGroup, None, None, &Method::POST),
            ["groups", g] => (Endpoint::GetGroup, owned(g), None, &Method::GET),
            ["groups", g, "runs"] if *method == Method::POST => {
                (Endpoint::AddRuns, owned(g), None, &Method::POST)
            }
            ["groups", g, "runs"] => (Endpoint::GroupRuns, owned(g), None, &Method::GET),
            ["groups", g, "events"] => (Endpoint::GroupEvents, owned(g), None, &Method::GET),
            ["groups", g, "runs", r] => (Endpoint::GetGroupRun, owned(g), owned(r), &Method::GET),
            ["runs"] => (Endpoint::CreateRun, None, None, &Method::POST),
            ["runs", r] => (Endpoint::GetRun, None, owned(r), &Method::GET),
            ["runs", r, "result"] => (Endpoint::RunResult, None, owned(r), &Method::GET),
            ["runs", r, "input"] => (Endpoint::RunInput, None, owned(r), &Method::GET),
            ["runs", r, "events"] => (Endpoint::RunEvents, None, owned(r), &Method::GET),
            _ => return Err(not_found()),
        };
    if method != allowed {
        return Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("Method not allowed: {method} {path}; this endpoint accepts {allowed}"),
        ));
    }
    Ok(Route {
        endpoint,
        group,
        run,
    })
}

/// Decoded query parameters.
struct Query(Vec<(String, String)>);

impl Query {
    fn parse(query: &str) -> Result<Query, ApiError> {
        let mut pairs = Vec::new();
        for part in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            let decode = |s: &str| {
                percent_decode(s).ok_or_else(|| {
                    ApiError::validation(
                        "query",
                        format!("`{part}` is not valid percent-encoded UTF-8"),
                    )
                })
            };
            pairs.push((decode(k)?, decode(v)?));
        }
        Ok(Query(pairs))
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn bool(&self, key: &str) -> Result<Option<bool>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some("true" | "True" | "1" | "yes" | "on") => Ok(Some(true)),
            Some("false" | "False" | "0" | "no" | "off") => Ok(Some(false)),
            Some(other) => Err(ApiError::validation(
                key,
                format!("`{other}` is not a boolean; use true or false"),
            )),
        }
    }

    /// A `last_event_id`: absent or empty means from the start.
    fn cursor(&self, key: &str) -> Result<u64, ApiError> {
        match self.get(key) {
            None | Some("" | "null") => Ok(0),
            Some(v) => v.parse::<u64>().map_err(|_| {
                ApiError::validation(key, format!("`{v}` is not an event id from this stream; pass the event_id of the last event received"))
            }),
        }
    }

    fn seconds(&self, key: &str) -> Result<Option<Duration>, ApiError> {
        match self.get(key) {
            None | Some("" | "null") => Ok(None),
            Some(v) => v
                .parse::<f64>()
                .ok()
                .and_then(|s| Duration::try_from_secs_f64(s).ok())
                .map(Some)
                .ok_or_else(|| {
                    ApiError::validation(key, format!("`{v}` is not a number of seconds >= 0"))
                }),
        }
    }
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = s.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// A value that differs between emulators, so that ids never repeat across restarts (as on
/// the real service, where a stale id names nothing): the start time, the process id, and a
/// count of the emulators this process started.
fn instance_salt() -> u64 {
    static STARTED: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos());
    #[allow(clippy::cast_possible_truncation)] // the low bits vary; truncation is intended
    let nanos = nanos as u64;
    let started = STARTED.fetch_add(1, Ordering::Relaxed);
    mix(combine(
        nanos ^ u64::from(std::process::id()).rotate_left(32),
        started,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_both_prefixes_and_rejects_wrong_methods() {
        let r = route(&Method::POST, "/v1beta/tasks/groups/tgrp_x/runs").unwrap();
        assert_eq!(r.endpoint, Endpoint::AddRuns);
        assert_eq!(r.group.as_deref(), Some("tgrp_x"));
        let r = route(&Method::GET, "/v1/tasks/groups/g/runs/r").unwrap();
        assert_eq!(
            (r.endpoint, r.run.as_deref()),
            (Endpoint::GetGroupRun, Some("r"))
        );
        assert_eq!(
            route(&Method::GET, "/v1/tasks/runs/r/events/")
                .unwrap()
                .endpoint,
            Endpoint::RunEvents
        );
        assert_eq!(
            route(&Method::GET, "/v1/tasks/groups")
                .err()
                .unwrap()
                .status,
            StatusCode::METHOD_NOT_ALLOWED
        );
        assert_eq!(
            route(&Method::GET, "/v2/tasks/runs/r")
                .err()
                .unwrap()
                .status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            route(&Method::GET, "/v1/tasks/runs/r/output")
                .err()
                .unwrap()
                .status,
            StatusCode::NOT_FOUND
        );
    }

    #[test]
    fn query_decoding_and_typed_values() {
        let q = Query::parse("a=1&status=com%70leted&x=a+b&flag=true").unwrap();
        assert_eq!(q.get("status"), Some("completed"));
        assert_eq!(q.get("x"), Some("a b"));
        assert_eq!(q.bool("flag").unwrap(), Some(true));
        assert!(q.bool("status").is_err());
        assert!(Query::parse("a=%zz").is_err());
        let q = Query::parse("last_event_id=abc&timeout=1.5").unwrap();
        assert!(q.cursor("last_event_id").is_err());
        assert_eq!(
            q.seconds("timeout").unwrap(),
            Some(Duration::from_millis(1500))
        );
    }

    #[test]
    fn constant_time_eq_compares_contents() {
        assert!(constant_time_eq(b"key", b"key"));
        assert!(!constant_time_eq(b"key", b"kez"));
        assert!(!constant_time_eq(b"key", b"keys"));
        assert!(!constant_time_eq(b"", b"k"));
    }
}
