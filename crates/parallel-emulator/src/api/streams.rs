//! The event streams: a group's runs, a group's events, one run's events.

use std::sync::Arc;
use std::time::Duration;

use http::{Response, StatusCode, header};

use super::faults::with_retry_after;
use super::route::Query;
use super::{App, Reply};
use crate::body::ResponseBody;
use crate::request::ApiError;
use crate::slot::Slot;
use crate::sse::{Incident, SseSink, Stop};
use crate::state::{Group, LoggedEvent, Run, Status};
use crate::stats::Counters;
use crate::wire;

/// Which runs a runs stream lists, in order, with their event ids.
enum RunsOrder {
    /// Positions in add order; a run's event id is its position plus one.
    Added(std::ops::Range<usize>),
    /// `(change number, position)` in the order runs last changed; the change number is the
    /// event id.
    Changes(Vec<(u64, usize)>),
}

impl RunsOrder {
    fn len(&self) -> usize {
        match self {
            RunsOrder::Added(range) => range.len(),
            RunsOrder::Changes(changes) => changes.len(),
        }
    }

    /// The `k`th run: its event id and position.
    fn get(&self, k: usize) -> (u64, usize) {
        match self {
            RunsOrder::Added(range) => {
                let i = range.start + k;
                (i as u64 + 1, i)
            }
            RunsOrder::Changes(changes) => changes[k],
        }
    }
}

/// What a runs stream writes of each run.
struct RunsShape {
    status: Option<Status>,
    include_input: bool,
    output_seed: Option<u64>,
}

/// The message of an `error` event on a group events stream (as in the API's sample).
const GROUP_STREAM_ERROR: &str = "TaskGroup event stream interrupted; reconnect with last_event_id";
/// The message of an `error` event on a run events stream.
const RUN_STREAM_ERROR: &str =
    "Task run event stream interrupted; reconnect to receive the current state";
/// The wait advertised when every event stream place is taken.
const STREAMS_RETRY_AFTER: Duration = Duration::from_secs(1);

impl App {
    /// The answer when `max_event_streams` are open: `503` with `retry-after`.
    fn streams_busy(&self) -> Response<ResponseBody> {
        let max = self.limits.max_event_streams;
        let busy = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "Service unavailable: {max} event streams are open, the most served at once; close one or retry later"
            ),
        );
        with_retry_after(self.error_response(&busy), STREAMS_RETRY_AFTER)
    }

    /// A new event stream and the response that carries it; `None` when
    /// `max_event_streams` are open. `error_message` is the message of the `error` event an
    /// events stream gets under `error_event_after`.
    pub(super) fn open_stream(
        self: &Arc<Self>,
        error_message: Option<&'static str>,
    ) -> Option<(SseSink, Response<ResponseBody>)> {
        let slot = Slot::take(&self.open_streams, self.limits.max_event_streams)?;
        let app = Arc::clone(self);
        let (sink, rx) = SseSink::new(
            self.stream_faults(error_message),
            Arc::clone(&self.outages),
            Box::new(move |incident| {
                let counter = match incident {
                    Incident::Cut => &app.counters.streams_cut,
                    Incident::Closed => &app.counters.streams_closed,
                    Incident::ErrorEvent => &app.counters.error_events,
                };
                Counters::bump(counter, 1);
            }),
        );
        let response = Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, "text/event-stream; charset=utf-8")
            .header(header::CACHE_CONTROL, "no-cache")
            .body(ResponseBody::Stream(rx))
            .unwrap_or_else(|_| Response::new(ResponseBody::Full(None)));
        Some((sink.holding(slot), response))
    }

    /// G4: one `task_run.state` per run in add order (or, with the `runs_in_change_order`
    /// fault, in the order runs last changed), from a snapshot taken when the stream opens.
    pub(super) fn group_runs(self: &Arc<Self>, group: Arc<Group>, query: &str) -> Reply {
        let params = Query::parse(query)?;
        let faults = self.faults();
        let mut after = params.cursor("last_event_id")?;
        if faults.ignore_last_event_id {
            after = 0;
        }
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
        let order = if faults.runs_in_change_order {
            RunsOrder::Changes(group.lock().changed_after(after))
        } else {
            let total = group.lock().runs.len();
            let from = usize::try_from(after).unwrap_or(usize::MAX).min(total);
            RunsOrder::Added(from..total)
        };
        let Some((sink, response)) = self.open_stream(None) else {
            return Ok(self.streams_busy());
        };
        let app = Arc::clone(self);
        let output_seed = include_output.then_some(app.seed);
        tokio::spawn(async move {
            let shape = RunsShape {
                status,
                include_input,
                output_seed,
            };
            app.pump_runs(&group, sink, order, shape).await;
        });
        Ok(response)
    }

    /// Writes the runs of `order` that match `shape.status`, a few hundred per lock.
    async fn pump_runs(
        &self,
        group: &Arc<Group>,
        mut sink: SseSink,
        order: RunsOrder,
        shape: RunsShape,
    ) {
        const CHUNK: usize = 256;
        let mut shutdown = self.shutdown.clone();
        let mut next = 0;
        while next < order.len() {
            if *shutdown.borrow_and_update() || sink.is_closed() {
                return;
            }
            let end = (next + CHUNK).min(order.len());
            let batch: Vec<(u64, Run)> = {
                let inner = group.lock();
                (next..end)
                    .map(|k| order.get(k))
                    .filter(|(_, i)| shape.status.is_none_or(|s| inner.runs[*i].status == s))
                    .map(|(id, i)| (id, inner.runs[i].clone()))
                    .collect()
            };
            next = end;
            for (id, run) in &batch {
                if sink.expired() {
                    let _ = sink.flush().await;
                    return;
                }
                let flush = sink.event("task_run.state", true, |out| {
                    wire::write_run_event(
                        out,
                        Some(*id),
                        run,
                        group.id,
                        shape.include_input,
                        shape.output_seed,
                    );
                });
                if flush && sink.flush().await.is_err() {
                    return;
                }
            }
        }
        let _ = sink.flush().await;
    }

    /// G5: the log after the cursor (or, when there is none, a current status), then live
    /// events, until the group is inactive.
    pub(super) fn group_events(self: &Arc<Self>, group: Arc<Group>, query: &str) -> Reply {
        let params = Query::parse(query)?;
        let after = params.cursor("last_event_id")?;
        let limit = self.limits.group_events_max;
        let timeout = params
            .seconds("timeout", self.limits.max_duration)?
            .map_or(limit, |t| t.min(limit));
        let Some((mut sink, response)) = self.open_stream(Some(GROUP_STREAM_ERROR)) else {
            return Ok(self.streams_busy());
        };
        let app = Arc::clone(self);
        tokio::spawn(async move {
            let _ = app
                .pump_group_events(&group, &mut sink, after, timeout)
                .await;
        });
        Ok(response)
    }

    pub(super) async fn pump_group_events(
        &self,
        group: &Arc<Group>,
        sink: &mut SseSink,
        after: u64,
        timeout: Duration,
    ) -> Result<(), Stop> {
        let deadline = crate::clock::deadline(timeout);
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
                if sink.expired() {
                    return sink.flush().await;
                }
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
            if sink.expired() {
                return Ok(());
            }
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
                () = sink.close_time() => return sink.flush_if_expired().await,
                _ = shutdown.changed() => return Ok(()),
                () = sink.closed() => return Err(Stop),
            }
        }
    }

    /// R5: current state, the progress trace so far, the latest stats, then live updates
    /// until the final state with the output.
    pub(super) fn run_events(
        self: &Arc<Self>,
        group: Arc<Group>,
        index: usize,
    ) -> Response<ResponseBody> {
        let Some((mut sink, response)) = self.open_stream(Some(RUN_STREAM_ERROR)) else {
            return self.streams_busy();
        };
        let app = Arc::clone(self);
        tokio::spawn(async move {
            let _ = app.pump_run_events(&group, index, &mut sink).await;
        });
        response
    }

    pub(super) async fn pump_run_events(
        &self,
        group: &Arc<Group>,
        index: usize,
        sink: &mut SseSink,
    ) -> Result<(), Stop> {
        let deadline = crate::clock::deadline(self.limits.run_events_max);
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
            if sink.expired() {
                return Ok(());
            }
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
                () = sink.close_time() => return sink.flush_if_expired().await,
                _ = shutdown.changed() => return Ok(()),
                () = sink.closed() => return Err(Stop),
            }
        }
    }
}
