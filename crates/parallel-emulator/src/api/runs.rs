//! Runs: turning inputs into runs, creating a single run, and the blocking result.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use http::{Response, StatusCode};
use serde_json::Value;

use super::route::Query;
use super::{App, Reply, json};
use crate::beta::Betas;
use crate::body::ResponseBody;
use crate::clock::Micros;
use crate::ids::RunId;
use crate::lenient::Variation;
use crate::request::{self, ApiError, NewInput, ParsedSpec};
use crate::sim;
use crate::state::{Group, Run, Status};
use crate::stats::Counters;
use crate::wire;

/// New runs, their plans (none when they finish at once), and their webhooks by offset.
pub(super) type NewRuns = (
    Vec<Run>,
    Vec<sim::Plan>,
    Vec<(usize, crate::webhook::Target)>,
);

impl App {
    /// Turns checked inputs into runs with the given `ids` (one each), in their initial
    /// status, with their plans and the webhooks they asked for (by offset among the inputs).
    pub(super) fn make_runs(&self, inputs: Vec<NewInput>, ids: &[u128], now: Micros) -> NewRuns {
        let mut runs = Vec::with_capacity(inputs.len());
        let mut plans = Vec::with_capacity(inputs.len());
        let mut hooks = Vec::new();
        let instant = self.time_scale == 0.0;
        let endings = self.endings();
        let numbers = self.run_numbers(inputs.len());
        for (offset, ((input, &id), number)) in inputs.into_iter().zip(ids).zip(numbers).enumerate()
        {
            if let Some(target) = input.webhook {
                hooks.push((offset, target));
            }
            let mut canonical = input.canonical;
            let null_tail = canonical.ends_with(crate::state::NULL_TAIL);
            if null_tail {
                canonical.truncate(canonical.len() - crate::state::NULL_TAIL.len());
            }
            canonical.shrink_to_fit();
            let plan = sim::plan(
                self.seed,
                input.input_hash,
                number,
                input.processor,
                self.time_scale,
                endings,
                now,
            );
            runs.push(Run {
                id: RunId(id),
                status: if instant { plan.end } else { Status::Queued },
                processor: input.processor,
                events_enabled: input.events_enabled,
                end: plan.end,
                created_at: now,
                modified_at: now,
                running_at: plan.running_at,
                done_at: plan.done_at,
                null_tail,
                input: Bytes::from(canonical),
                input_range: input.input_range,
                metadata_range: input.metadata_range,
                spec: input.spec,
                lenient: input.lenient,
                change: 0,
            });
            plans.push(plan);
        }
        Counters::bump(&self.counters.runs_created, runs.len() as u64);
        (runs, if instant { Vec::new() } else { plans }, hooks)
    }

    /// Takes credit for `runs` runs, or answers `402` with what is left.
    pub(super) fn reserve_credit(&self, runs: usize) -> Result<(), ApiError> {
        self.credits.reserve(runs as u64).map_err(|left| {
            Counters::bump(&self.counters.credit_refusals, 1);
            ApiError::new(
                StatusCode::PAYMENT_REQUIRED,
                format!(
                    "Payment required: insufficient credit in account: this request needs credit for {runs} run(s) and {left} remain; add credit and retry"
                ),
            )
        })
    }

    /// Checks one run input: its betas, then its fields; in lenient mode it gets the next
    /// lenient shape.
    pub(super) fn check_input(
        &self,
        value: &Value,
        loc: &str,
        default_spec: Option<&ParsedSpec>,
        betas: &Betas,
    ) -> Result<NewInput, ApiError> {
        if let Some(obj) = value.as_object() {
            betas.check_input(obj, loc)?;
        }
        let variation = self.lenient.then(|| {
            let nth = self.lenient_runs.fetch_add(1, Ordering::Relaxed);
            Variation::nth(self.seed, nth)
        });
        request::run_input_varied(value, loc, default_spec, &self.limits, variation)
    }

    pub(super) fn create_run(self: &Arc<Self>, betas: &Betas, body: &[u8]) -> Reply {
        let obj = request::parse_object(body, false)?;
        let parsed = self.check_input(&Value::Object(obj), "", None, betas)?;
        let ids = self.random.ids(1)?;
        self.reserve_credit(1)?;
        let now = self.clock.now();
        let (runs, plans, hooks) = self.make_runs(vec![parsed], &ids, now);
        let group = self.store.standalone();
        let outcome = self.store.add_runs(group, runs, now);
        if !plans.is_empty() {
            self.scheduler.schedule(group, outcome.first, &plans);
        }
        self.watch_webhooks(group, outcome.first, hooks);
        let mut response = run_json(group, outcome.first);
        *response.status_mut() = StatusCode::ACCEPTED;
        Ok(response)
    }

    pub(super) async fn run_result(&self, group: &Arc<Group>, index: usize, query: &str) -> Reply {
        let params = Query::parse(query)?;
        let timeout = params
            .seconds("timeout", self.limits.max_duration)?
            .unwrap_or(self.limits.default_result_timeout);
        let deadline = crate::clock::deadline(timeout);
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
}

pub(super) fn run_json(group: &Group, index: usize) -> Response<ResponseBody> {
    let run = group.lock().runs[index].clone();
    let mut out = Vec::with_capacity(512);
    wire::write_run(&mut out, &run, group.id);
    json(StatusCode::OK, out)
}
