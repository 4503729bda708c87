//! The loop that runs a batch: reads inputs, submits chunks, follows the group's events,
//! reads results as the [ledger](super::ledger) plans (sweeps of the runs stream, `/result`
//! for stragglers), and hands everything to the consumer.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use futures::future::{BoxFuture, OptionFuture};
use futures::stream::{BoxStream, FuturesUnordered};
use futures::{FutureExt, StreamExt};
use std::borrow::Cow;

use parallel_types::{ErrorObject, RunStatus, TaskRun, TaskRunEvent};
use serde_json::value::RawValue;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::collect::{self, Swept};
use super::items::{
    BatchInput, BatchItem, BatchOutput, BatchProgress, BatchRejection, BatchResult, run_error,
};
use super::ledger::Ledger;
use super::options::Skip;
use super::outage::{Patience, Tolerance, patiently};
use super::resume::Earlier;
use super::submit::{Submitted, Submitter};
use crate::add_runs::{CLIENT_TAG_KEY, tag_clash, tag_position};
use crate::client::Client;
use crate::error::Error;
use crate::streams::GroupEventsOptions;
use crate::streams::peek::Peeked;

/// How long a partly filled chunk waits for more inputs before it is sent anyway.
const CHUNK_LINGER: Duration = Duration::from_millis(200);
/// The least time between two progress snapshots.
const PROGRESS_INTERVAL: Duration = Duration::from_millis(500);
/// The pause before reopening the events stream after it ended with results still awaited.
const EVENTS_REOPEN_PAUSE: Duration = Duration::from_millis(100);

/// An input read and not yet delivered.
struct Awaited {
    input: Arc<RawValue>,
    /// Known once the add-runs answer (or an event) named it.
    run_id: Option<Box<str>>,
    /// Its place in the runs stream, once the add-runs answer (or a resume scan) gave it.
    place: Option<u64>,
    /// Reported completed before its place was known (events can beat the add-runs answer).
    reported_early: bool,
    submitted_at: Option<Instant>,
}

/// What the engine reads of a `task_run.state` event at first: the run's head.
#[derive(serde::Deserialize)]
struct StateHead<'a> {
    #[serde(borrow)]
    run: RunHead<'a>,
}

#[derive(serde::Deserialize)]
struct RunHead<'a> {
    #[serde(borrow)]
    run_id: Cow<'a, str>,
    status: RunStatus,
    is_active: bool,
    #[serde(default, borrow)]
    metadata: Option<&'a RawValue>,
}

/// The client tag of a run's metadata, the other keys skipped.
#[derive(serde::Deserialize)]
struct TagOnly<'a> {
    #[serde(default, borrow, rename = "client_tag")]
    client_tag: Option<Cow<'a, str>>,
}

/// A completed run whose result is fetched with `/result`.
struct Fetch {
    position: u64,
    run_id: String,
}

/// A run fetched on its own: its position, the run and its output.
type Fetched = (u64, TaskRun, BatchOutput);

/// Runs found by a recovery scan, with their positions.
type Found = Vec<(u64, TaskRun)>;

/// A sweep under way: its runs, where and when it started, and the furthest place it read.
struct Sweep {
    runs: BoxStream<'static, Result<Swept, Error>>,
    start: u64,
    started: Instant,
    furthest: Option<u64>,
}

/// The consumer went away: stop quietly.
pub(crate) struct Closed;

/// Why the loop stopped early.
pub(crate) enum Stop {
    Closed,
    Failed(Error),
}

impl From<Error> for Stop {
    fn from(error: Error) -> Self {
        Stop::Failed(error)
    }
}

impl From<Closed> for Stop {
    fn from(_: Closed) -> Self {
        Stop::Closed
    }
}

/// The futures the loop waits on besides inputs.
#[derive(Default)]
struct InFlight {
    submission: Option<BoxFuture<'static, Result<Submitted, Error>>>,
    sweep: Option<Sweep>,
    /// After a sweep failed: not before this.
    sweep_retry_at: Option<Instant>,
    sweep_patience: Patience,
    fetches: FuturesUnordered<BoxFuture<'static, Result<Fetched, Error>>>,
    events: Option<BoxStream<'static, Result<Peeked, Error>>>,
    events_reopen_at: Option<Instant>,
    events_patience: Patience,
    recovery: Option<BoxFuture<'static, Result<Found, Error>>>,
}

pub(crate) struct Driver {
    submitter: Submitter,
    chunk_size: usize,
    max_in_flight: usize,
    result_concurrency: usize,
    skip: Option<Skip>,
    tx: mpsc::Sender<Result<BatchItem, Error>>,
    /// Runs of an earlier session whose input has not been read yet.
    earlier: HashMap<u64, Earlier>,
    progress: BatchProgress,
    /// Inputs read and not yet delivered (their number is what `max_in_flight` bounds).
    awaited: HashMap<u64, Awaited>,
    /// The position of each awaited run by its place in the runs stream.
    positions: HashMap<u64, u64>,
    ledger: Ledger,
    /// The next chunk, and when its first input was read.
    chunk: Vec<BatchInput>,
    chunk_since: Instant,
    inputs_done: bool,
    /// Completed runs whose result is read with `/result`.
    to_fetch: VecDeque<Fetch>,
    last_event_id: Option<String>,
    last_progress: Instant,
    /// The events stream ended with results awaited and nothing else under way this many
    /// times since the last delivery: every second time, the runs are looked up instead of
    /// waiting for events.
    idle_ends: u32,
}

impl Driver {
    pub(crate) fn new(
        submitter: Submitter,
        options: &super::BatchOptions,
        tx: mpsc::Sender<Result<BatchItem, Error>>,
        earlier: HashMap<u64, Earlier>,
        after_earlier: Option<String>,
    ) -> Self {
        let mut ledger = Ledger::new(options.reread);
        let next = earlier.values().map(|e| e.place + 1).max().unwrap_or(0);
        ledger.start_after(next, after_earlier);
        Self {
            submitter,
            chunk_size: options.chunk_size,
            max_in_flight: options.max_in_flight,
            result_concurrency: options.result_concurrency,
            skip: options.skip.clone(),
            tx,
            earlier,
            progress: BatchProgress::default(),
            awaited: HashMap::new(),
            positions: HashMap::new(),
            ledger,
            chunk: Vec::new(),
            chunk_since: Instant::now(),
            inputs_done: false,
            to_fetch: VecDeque::new(),
            last_event_id: None,
            last_progress: Instant::now(),
            idle_ends: 0,
        }
    }

    fn client(&self) -> &Client {
        &self.submitter.client
    }

    fn tolerance(&self) -> &Tolerance {
        &self.submitter.tolerance
    }

    /// Runs the batch over `inputs` to its end.
    pub(crate) async fn run(&mut self, inputs: BoxStream<'static, BatchInput>) -> Result<(), Stop> {
        let mut inputs = inputs.fuse();
        // The events stream opens with the first submission (or run of an earlier session):
        // opened on a group with no runs, it would end at once.
        let mut work = InFlight {
            events_reopen_at: Some(Instant::now()),
            ..InFlight::default()
        };
        let mut timer = std::pin::pin!(tokio::time::sleep_until(Instant::now()));
        let mut timer_at = None;
        loop {
            self.start_work(&mut work);
            if self.inputs_done && self.chunk.is_empty() && self.all_delivered(&work) {
                self.emit_progress(true).await?;
                self.report_costs();
                return Ok(());
            }
            let can_read = !self.inputs_done
                && self.chunk.len() < self.chunk_size
                && self.awaited.len() < self.max_in_flight;
            // One timer for the earliest of the moments the loop waits for; a timer made anew
            // for each on every turn cost a registration and a clock read per result.
            let wake_at = self.wake_at(&work);
            if let Some(at) = wake_at
                && Some(at) != timer_at
            {
                timer.as_mut().reset(at);
                timer_at = Some(at);
            }
            tokio::select! {
                Some(fetched) = work.fetches.next(), if !work.fetches.is_empty() => {
                    let (position, run, output) = fetched?;
                    self.finish(position, run, Ok(output)).await?;
                }
                Some(submitted) = OptionFuture::from(work.submission.as_mut()), if work.submission.is_some() => {
                    work.submission = None;
                    self.on_submitted(submitted?).await?;
                }
                Some(swept) = OptionFuture::from(work.sweep.as_mut().map(|s| s.runs.next())), if work.sweep.is_some() => {
                    self.on_swept(&mut work, swept).await?;
                }
                Some(found) = OptionFuture::from(work.recovery.as_mut()), if work.recovery.is_some() => {
                    work.recovery = None;
                    self.on_recovered(found?).await?;
                }
                Some(event) = OptionFuture::from(work.events.as_mut().map(StreamExt::next)), if work.events.is_some() => {
                    self.on_events_item(&mut work, event).await?;
                }
                input = inputs.next(), if can_read => match input {
                    Some(input) => {
                        self.take_input(input).await?;
                        self.take_ready_inputs(&mut inputs).await?;
                    }
                    None => self.inputs_done = true,
                },
                () = timer.as_mut(), if wake_at.is_some() => {
                    timer_at = None;
                    self.on_timer(&mut work);
                }
            }
        }
    }

    /// The earliest moment the loop waits for, if any: a chunk's linger ending, the ledger's
    /// next check, a sweep's retry, reopening the events stream.
    fn wake_at(&self, work: &InFlight) -> Option<Instant> {
        let linger = (!self.chunk.is_empty() && work.submission.is_none())
            .then(|| self.chunk_since + CHUNK_LINGER);
        let plan = (work.sweep.is_none() && work.sweep_retry_at.is_none())
            .then(|| self.ledger.next_check())
            .flatten();
        let reopen = work.events_reopen_at.filter(|_| self.follows_events(work));
        [linger, plan, work.sweep_retry_at, reopen]
            .into_iter()
            .flatten()
            .min()
    }

    /// The timer of [`Driver::wake_at`] fired: what was due is done (a chunk that lingered
    /// and the ledger's reads start at the top of the loop).
    fn on_timer(&mut self, work: &mut InFlight) {
        let now = Instant::now();
        if work.sweep_retry_at.is_some_and(|at| at <= now) {
            work.sweep_retry_at = None;
        }
        if work.events_reopen_at.is_some_and(|at| at <= now) && self.follows_events(work) {
            work.events_reopen_at = None;
            work.events = Some(self.open_events());
        }
    }

    /// Whether nothing is left to deliver or under way.
    fn all_delivered(&self, work: &InFlight) -> bool {
        work.submission.is_none()
            && work.sweep.is_none()
            && work.recovery.is_none()
            && work.fetches.is_empty()
            && self.awaited.is_empty()
            && self.to_fetch.is_empty()
    }

    /// Starts what is due: fetches up to the limit, the next chunk, the reads the ledger
    /// plans, reopening the events stream.
    fn start_work(&mut self, work: &mut InFlight) {
        if work.sweep.is_none() && work.sweep_retry_at.is_none() {
            self.start_reads(work);
        }
        while work.fetches.len() < self.result_concurrency {
            let Some(fetch) = self.to_fetch.pop_front() else {
                break;
            };
            work.fetches.push(self.fetch(fetch));
        }
        let chunk_due = !self.chunk.is_empty()
            && (self.chunk.len() >= self.chunk_size
                || self.inputs_done
                || self.chunk_since.elapsed() >= CHUNK_LINGER);
        if work.submission.is_none() && chunk_due {
            let chunk = std::mem::take(&mut self.chunk);
            let submitter = self.submitter.clone();
            work.submission = Some(submitter.submit(chunk, self.inputs_done).boxed());
        }
        if work.events.is_none()
            && work.events_reopen_at.is_none()
            && work.recovery.is_none()
            && self.follows_events(work)
        {
            // Ends with nothing new back off, so that an idle wait does not spin.
            let pause = EVENTS_REOPEN_PAUSE * (1 + self.idle_ends.min(50));
            work.events_reopen_at = Some(Instant::now() + pause);
        }
    }

    /// Whether the events stream is needed: while runs are going or being added, not for runs
    /// already reported that wait to be read.
    fn follows_events(&self, work: &InFlight) -> bool {
        work.submission.is_some() || self.ledger.has_going()
    }

    /// Starts the sweep and the `/result` calls the ledger plans now, if any.
    fn start_reads(&mut self, work: &mut InFlight) {
        let Some(plan) = self.ledger.plan() else {
            return;
        };

        self.ledger.requested(plan.fetch.len());
        for place in plan.fetch {
            self.fetch_place(place);
        }
        if let Some((start, cursor)) = plan.sweep {
            self.ledger.requested(1);
            tracing::debug!(start, "batch: sweeping completed runs");
            work.sweep = Some(Sweep {
                runs: collect::sweep(
                    self.client(),
                    &self.submitter.group_id,
                    self.submitter.token.clone(),
                    cursor,
                ),
                start,
                started: Instant::now(),
                furthest: None,
            });
        }
    }

    /// Queues `/result` for the run at `place`, read on its own from now on.
    fn fetch_place(&mut self, place: u64) {
        let Some(&position) = self.positions.get(&place) else {
            return;
        };
        let Some(run_id) = self.awaited.get(&position).and_then(|a| a.run_id.clone()) else {
            return;
        };
        self.ledger.fetching(place);
        self.to_fetch.push_back(Fetch {
            position,
            run_id: run_id.into(),
        });
    }

    /// An input read: set aside when the caller has its result, matched with a run of an
    /// earlier session, refused when it carries our tag key, or queued for the next chunk.
    async fn take_input(&mut self, input: BatchInput) -> Result<(), Closed> {
        if self.skip.as_ref().is_some_and(|done| done(input.position)) {
            return Ok(());
        }
        self.progress.inputs_read += 1;
        let position = input.position;
        if let Some(earlier) = self.earlier.remove(&position) {
            self.progress.resumed += 1;
            return self.take_earlier(input, earlier).await;
        }
        if input
            .metadata
            .as_ref()
            .is_some_and(|m| m.contains_key(CLIENT_TAG_KEY))
        {
            let error = tag_clash(position);
            let error = ErrorObject::new(error.to_string());
            return self.reject(position, input.input, error).await;
        }
        if self.chunk.is_empty() {
            self.chunk_since = Instant::now();
        }
        self.awaited.insert(
            position,
            Awaited {
                input: Arc::clone(&input.input),
                run_id: None,
                place: None,
                reported_early: false,
                submitted_at: None,
            },
        );
        self.chunk.push(input);
        Ok(())
    }

    /// Takes the inputs that are ready at once, up to a full chunk or window, without going
    /// round the loop for each: at hundreds of thousands of inputs that loop is the cost.
    async fn take_ready_inputs(
        &mut self,
        inputs: &mut futures::stream::Fuse<BoxStream<'static, BatchInput>>,
    ) -> Result<(), Closed> {
        while self.chunk.len() < self.chunk_size && self.awaited.len() < self.max_in_flight {
            match inputs.next().now_or_never() {
                Some(Some(input)) => self.take_input(input).await?,
                Some(None) => {
                    self.inputs_done = true;
                    break;
                }
                None => break,
            }
        }
        Ok(())
    }

    /// An input whose run an earlier session created: read with the others when finished,
    /// delivered at once when it ended without an output, else awaited.
    async fn take_earlier(&mut self, input: BatchInput, earlier: Earlier) -> Result<(), Closed> {
        let position = input.position;
        let Earlier { run, place, cursor } = earlier;
        let completed = run.status == RunStatus::Completed;
        self.ledger
            .found(place, cursor, run.is_finished() && completed);
        self.positions.insert(place, position);
        self.awaited.insert(
            position,
            Awaited {
                input: input.input,
                run_id: Some(run.run_id.clone().into_boxed_str()),
                place: Some(place),
                reported_early: false,
                submitted_at: None,
            },
        );
        if run.is_finished() && !completed {
            let error = run_error(&run);
            return self.finish(position, run, Err(error)).await;
        }
        Ok(())
    }

    /// An add-runs request succeeded: note the run ids and their places, report refused
    /// inputs.
    async fn on_submitted(&mut self, submitted: Submitted) -> Result<(), Closed> {
        let first = self.ledger.added(submitted.runs.len(), submitted.start);
        let now = Instant::now();
        for ((position, run_id), place) in submitted.runs.iter().zip(first..) {
            if let Some(awaited) = self.awaited.get_mut(position) {
                awaited.run_id = Some(run_id.as_str().into());
                awaited.place = Some(place);
                awaited.submitted_at = Some(now);
                self.positions.insert(place, *position);
                if awaited.reported_early {
                    self.ledger.reported(place, None);
                }
            } else {
                // Delivered already (its failure was reported before this answer came).
                self.ledger.delivered(place, false);
            }
        }
        self.progress.submitted += submitted.runs.len() as u64;
        for (position, error) in submitted.rejected {
            if let Some(awaited) = self.awaited.remove(&position) {
                self.reject(position, awaited.input, error).await?;
            }
        }
        if !submitted.runs.is_empty() {
            self.emit(BatchItem::Submitted {
                runs: submitted.runs,
            })
            .await?;
        }
        self.emit_progress(false).await
    }

    /// One item of the events stream: a run's new state, the stream's end, or its failure.
    async fn on_events_item(
        &mut self,
        work: &mut InFlight,
        item: Option<Result<Peeked, Error>>,
    ) -> Result<(), Stop> {
        match item {
            Some(Ok(event)) => {
                work.events_patience.succeeded();
                if let Some(id) = event.event_id() {
                    self.last_event_id = Some(id.to_owned());
                }
                if event.kind() == Some("task_run.state") {
                    self.on_run_state(event.data()).await?;
                }
                self.emit_progress(false).await?;
            }
            Some(Err(error)) => {
                // Reopened from the last event after a pause, for as long as the outage
                // tolerance allows.
                let Some(pause) = work.events_patience.failed(&error, self.tolerance()) else {
                    return Err(Stop::Failed(error));
                };
                work.events = None;
                work.events_reopen_at = Some(Instant::now() + pause);
            }
            None => {
                // The group has no active run. Results still awaited with nothing under way
                // mean their events were missed, or the runs are not visible yet: after a
                // second such end in a row, look them up in the group's runs.
                work.events = None;
                let idle = work.submission.is_none()
                    && self.chunk.is_empty()
                    && work.sweep.is_none()
                    && work.fetches.is_empty()
                    && self.to_fetch.is_empty()
                    && !self.ledger.has_reported()
                    && !self.awaited.is_empty();
                if idle {
                    self.idle_ends += 1;
                    if self.idle_ends.is_multiple_of(2) && work.recovery.is_none() {
                        work.recovery = Some(self.recover());
                    }
                }
            }
        }
        Ok(())
    }

    /// A run's new state from the events stream (a `task_run.state` event's JSON): a completed
    /// run waits to be read, any other finished run is delivered with its error. Only the
    /// head of the run is read for a completed one (the common case, once per row); the whole
    /// run is decoded for the others, whose result carries it.
    async fn on_run_state(&mut self, data: &[u8]) -> Result<(), Stop> {
        let Ok(head) = parallel_types::from_json_slice::<StateHead<'_>>(data) else {
            // A shape the head does not read: the whole event says it, or why it is broken.
            let event: TaskRunEvent = collect::decode_as(data, "a run's new state")?;
            return Ok(self.on_finished_run(event.run).await?);
        };
        let run = head.run;
        if run.is_active || !run.status.is_finished() {
            return Ok(());
        }
        let Some(position) = run
            .metadata
            .and_then(|m| serde_json::from_str::<TagOnly<'_>>(m.get()).ok())
            .and_then(|m| tag_position(m.client_tag?.as_ref(), &self.submitter.token))
        else {
            return Ok(()); // another client's run
        };
        let completed_and_awaited =
            run.status == RunStatus::Completed && self.awaited.contains_key(&position);
        if !completed_and_awaited {
            let event: TaskRunEvent = collect::decode_as(data, "a run's new state")?;
            return Ok(self.on_finished_run(event.run).await?);
        }
        if let Some(awaited) = self.awaited.get_mut(&position) {
            awaited.run_id = Some(run.run_id.as_ref().into());
            match awaited.place {
                Some(place) => self.ledger.reported(place, awaited.submitted_at),
                None => awaited.reported_early = true,
            }
        }
        Ok(())
    }

    /// A finished run from the events stream, decoded: a completed run waits to be read,
    /// any other is delivered with its error.
    async fn on_finished_run(&mut self, run: TaskRun) -> Result<(), Closed> {
        if !run.is_finished() {
            return Ok(());
        }
        let Some(position) = collect::position(&run, &self.submitter.token) else {
            return Ok(());
        };
        let Some(awaited) = self.awaited.get_mut(&position) else {
            // Not read yet (resuming): remember how it ended.
            if let Some(earlier) = self.earlier.get_mut(&position) {
                earlier.run = run;
            }
            return Ok(());
        };
        if run.status != RunStatus::Completed {
            let error = run_error(&run);
            return self.finish(position, run, Err(error)).await;
        }
        awaited.run_id = Some(run.run_id.clone().into_boxed_str());
        match awaited.place {
            Some(place) => self.ledger.reported(place, awaited.submitted_at),
            None => awaited.reported_early = true,
        }
        Ok(())
    }

    /// One item of a sweep: a completed run to deliver (or read again), the sweep's end, or
    /// its failure.
    async fn on_swept(
        &mut self,
        work: &mut InFlight,
        item: Option<Result<Swept, Error>>,
    ) -> Result<(), Stop> {
        match item {
            Some(Ok(swept)) => {
                work.sweep_patience.succeeded();
                self.on_swept_run(work, swept).await?;
            }
            Some(Err(error)) => {
                // Planned again after a pause: the runs read so far moved the cursors on.
                let Some(pause) = work.sweep_patience.failed(&error, self.tolerance()) else {
                    return Err(Stop::Failed(error));
                };
                self.ledger.sweep_ended();
                work.sweep = None;
                work.sweep_retry_at = Some(Instant::now() + pause);
            }
            None => {
                if let Some(sweep) = work.sweep.take() {
                    self.on_sweep_end(&sweep);
                }
            }
        }
        Ok(())
    }

    async fn on_swept_run(&mut self, work: &mut InFlight, swept: Swept) -> Result<(), Closed> {
        let Some(position) = swept.position else {
            return Ok(()); // another client's run
        };
        let Some(place) = self.awaited.get(&position).and_then(|a| a.place) else {
            if let Some(earlier) = self.earlier.get_mut(&position) {
                earlier.run = swept.run;
            } else {
                self.ledger.read_again();
            }
            return Ok(());
        };
        if let Some(sweep) = work.sweep.as_mut() {
            sweep.furthest = sweep.furthest.max(Some(place));
        }
        self.ledger.read(place, swept.event_id);
        let outcome = match swept.output {
            Some(output) if swept.run.status == RunStatus::Completed => Ok(output),
            // A completed run without its output (a server that left it out): on its own.
            _ if swept.run.status == RunStatus::Completed => {
                self.fetch_place(place);
                return Ok(());
            }
            _ => Err(run_error(&swept.run)),
        };
        self.finish(position, swept.run, outcome).await
    }

    /// A sweep read to the end of the stream. A run reported completed before the sweep began,
    /// and placed before a run it read, was not in it: the runs stream does not list runs in the order assumed (see
    /// [`ledger`](super::ledger)), and that run is read on its own. Runs after the last one it
    /// read wait for the next sweep (the stream may have been closed early).
    fn on_sweep_end(&mut self, sweep: &Sweep) {
        self.ledger.sweep_ended();
        let Some(furthest) = sweep.furthest else {
            return;
        };
        let missed: Vec<u64> = self
            .ledger
            .reported_from(sweep.start, sweep.started)
            .into_iter()
            .take_while(|place| *place < furthest)
            .collect();
        if !missed.is_empty() {
            tracing::debug!(
                missed = missed.len(),
                "batch: a sweep did not list runs in add order; reading them on their own"
            );
            self.ledger.requested(missed.len());
        }
        for place in missed {
            self.fetch_place(place);
        }
    }

    /// Runs found by a recovery scan: finished ones are read or delivered.
    async fn on_recovered(&mut self, found: Found) -> Result<(), Closed> {
        for (position, run) in found {
            if !run.is_finished() {
                continue;
            }
            let Some(awaited) = self.awaited.get_mut(&position) else {
                continue;
            };
            awaited.run_id = Some(run.run_id.clone().into_boxed_str());
            if run.status != RunStatus::Completed {
                let error = run_error(&run);
                self.finish(position, run, Err(error)).await?;
                continue;
            }
            match awaited.place {
                Some(place) => self.ledger.reported(place, None),
                None => self.to_fetch.push_back(Fetch {
                    position,
                    run_id: run.run_id,
                }),
            }
        }
        Ok(())
    }

    /// Delivers the result of `position`, once: a position no longer awaited was delivered.
    async fn finish(
        &mut self,
        position: u64,
        run: TaskRun,
        outcome: Result<BatchOutput, ErrorObject>,
    ) -> Result<(), Closed> {
        let Some(awaited) = self.awaited.remove(&position) else {
            return Ok(());
        };
        if let Some(place) = awaited.place {
            self.positions.remove(&place);
            self.ledger.delivered(place, outcome.is_ok());
        }
        self.idle_ends = 0;
        self.progress.finished += 1;
        if outcome.is_ok() {
            self.progress.completed += 1;
        } else {
            self.progress.failed += 1;
        }
        let result = BatchResult {
            position,
            run,
            input: awaited.input,
            outcome,
        };
        self.emit(BatchItem::Result(result)).await?;
        self.emit_progress(false).await
    }

    async fn reject(
        &mut self,
        position: u64,
        input: Arc<RawValue>,
        error: ErrorObject,
    ) -> Result<(), Closed> {
        self.progress.rejected += 1;
        let rejection = BatchRejection {
            position,
            input,
            error,
        };
        self.emit(BatchItem::Rejected(rejection)).await
    }

    fn open_events(&mut self) -> BoxStream<'static, Result<Peeked, Error>> {
        self.ledger.requested(1);
        let options = GroupEventsOptions {
            last_event_id: self.last_event_id.clone(),
            ..GroupEventsOptions::default()
        };
        self.client()
            .group(&self.submitter.group_id)
            .event_frames(options)
    }

    fn fetch(&self, fetch: Fetch) -> BoxFuture<'static, Result<Fetched, Error>> {
        let client = self.client().clone();
        let tolerance = self.tolerance().clone();
        async move {
            let (run, output) =
                patiently(&tolerance, |_| collect::fetch(&client, &fetch.run_id)).await?;
            Ok((fetch.position, run, output))
        }
        .boxed()
    }

    /// Looks the awaited runs up in the group (events were missed).
    fn recover(&self) -> BoxFuture<'static, Result<Found, Error>> {
        let client = self.client().clone();
        let (group_id, token) = (
            self.submitter.group_id.clone(),
            self.submitter.token.clone(),
        );
        let tolerance = self.tolerance().clone();
        let wanted: std::collections::HashSet<u64> = self.awaited.keys().copied().collect();
        async move {
            patiently(&tolerance, |_| async {
                let mut found = Vec::new();
                collect::scan(&client, &group_id, &token, |position, run, _, _| {
                    if wanted.contains(&position) {
                        found.push((position, run));
                    }
                })
                .await?;
                Ok(found)
            })
            .await
        }
        .boxed()
    }

    /// Logs what reading the results cost, for whoever measures the engine.
    fn report_costs(&self) {
        let (requests, read_again) = self.ledger.costs();
        tracing::debug!(
            requests,
            read_again,
            rows = self.progress.finished,
            "batch: results read"
        );
    }

    async fn emit(&self, item: BatchItem) -> Result<(), Closed> {
        self.tx.send(Ok(item)).await.map_err(|_| Closed)
    }

    async fn emit_progress(&mut self, force: bool) -> Result<(), Closed> {
        if !force && self.last_progress.elapsed() < PROGRESS_INTERVAL {
            return Ok(());
        }
        self.last_progress = Instant::now();
        self.progress.in_flight = self.awaited.len() as u64;
        self.progress.throttled = self
            .submitter
            .throttled
            .load(std::sync::atomic::Ordering::Relaxed);
        self.emit(BatchItem::Progress(self.progress)).await
    }
}
