//! The loop that runs a batch: reads inputs, submits chunks, follows the group's events,
//! sweeps results, fetches stragglers, and hands everything to the consumer.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use futures::future::{BoxFuture, OptionFuture};
use futures::stream::{BoxStream, FuturesUnordered};
use futures::{FutureExt, StreamExt};
use parallel_types::{ErrorObject, GroupEvent, RunStatus, TaskRun};
use serde_json::value::RawValue;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::collect::{self, Sweep};
use super::items::{
    BatchInput, BatchItem, BatchOutput, BatchProgress, BatchRejection, BatchResult, run_error,
};
use super::options::Skip;
use super::outage::{Patience, patiently};
use super::resume::Earlier;
use super::submit::{Submitted, Submitter};
use crate::add_runs::{CLIENT_TAG_KEY, tag_clash};
use crate::client::Client;
use crate::error::Error;
use crate::streams::GroupEventsOptions;

/// How long a partly filled chunk waits for more inputs before it is sent anyway.
const CHUNK_LINGER: Duration = Duration::from_millis(200);
/// The least time between two progress snapshots.
const PROGRESS_INTERVAL: Duration = Duration::from_millis(500);
/// The pause before reopening the events stream after it ended with results still awaited.
const EVENTS_REOPEN_PAUSE: Duration = Duration::from_millis(100);
/// A sweep starts once this many completed runs wait for one...
const SWEEP_MIN: usize = 1000;
/// ...or once this long has passed since the last sweep.
const SWEEP_EVERY: Duration = Duration::from_millis(200);
/// At most this many runs are read per sweep (bounds the memory a sweep holds).
const SWEEP_CAP: usize = 5000;

/// An input read and not yet delivered.
struct Awaited {
    input: Arc<RawValue>,
    /// Known once the add-runs answer (or an event) named it.
    run_id: Option<Box<str>>,
    /// A sweep has read the run while it was still going: the sweeps are past it, so its
    /// result is fetched on its own.
    swept: bool,
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
    sweep: Option<BoxFuture<'static, Result<Sweep, Error>>>,
    fetches: FuturesUnordered<BoxFuture<'static, Result<Fetched, Error>>>,
    events: Option<crate::GroupEvents>,
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
    /// The runs stream cursor where the next sweep starts.
    frontier: Option<String>,
    progress: BatchProgress,
    /// Inputs read and not yet delivered (their number is what `max_in_flight` bounds).
    awaited: HashMap<u64, Awaited>,
    /// The next chunk, and when its first input was read.
    chunk: Vec<BatchInput>,
    chunk_since: Instant,
    inputs_done: bool,
    /// Completed runs reported by events and not yet swept, with the number of sweeps that
    /// had started when the event came.
    ahead: HashMap<u64, u64>,
    sweeps_started: u64,
    sweep_generation: u64,
    last_sweep: Instant,
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
        frontier: Option<String>,
    ) -> Self {
        Self {
            submitter,
            chunk_size: options.chunk_size,
            max_in_flight: options.max_in_flight,
            result_concurrency: options.result_concurrency,
            skip: options.skip.clone(),
            tx,
            earlier,
            frontier,
            progress: BatchProgress::default(),
            awaited: HashMap::new(),
            chunk: Vec::new(),
            chunk_since: Instant::now(),
            inputs_done: false,
            ahead: HashMap::new(),
            sweeps_started: 0,
            sweep_generation: 0,
            last_sweep: Instant::now(),
            to_fetch: VecDeque::new(),
            last_event_id: None,
            last_progress: Instant::now(),
            idle_ends: 0,
        }
    }

    fn client(&self) -> &Client {
        &self.submitter.client
    }

    fn tolerance(&self) -> Duration {
        self.submitter.tolerance
    }

    /// Runs the batch over `inputs` to its end.
    pub(crate) async fn run(&mut self, inputs: BoxStream<'static, BatchInput>) -> Result<(), Stop> {
        let mut inputs = inputs.fuse();
        let mut work = InFlight {
            events: Some(self.open_events()),
            ..InFlight::default()
        };
        loop {
            self.start_work(&mut work);
            if self.inputs_done && self.chunk.is_empty() && self.all_delivered(&work) {
                self.emit_progress(true).await?;
                return Ok(());
            }
            let can_read = !self.inputs_done
                && self.chunk.len() < self.chunk_size
                && self.awaited.len() < self.max_in_flight;
            let linger_at = self.chunk_since + CHUNK_LINGER;
            let sweep_at = self.last_sweep + SWEEP_EVERY;
            tokio::select! {
                Some(fetched) = work.fetches.next(), if !work.fetches.is_empty() => {
                    let (position, run, output) = fetched?;
                    self.finish(position, run, Ok(output)).await?;
                }
                Some(submitted) = OptionFuture::from(work.submission.as_mut()), if work.submission.is_some() => {
                    work.submission = None;
                    self.on_submitted(submitted?).await?;
                }
                Some(swept) = OptionFuture::from(work.sweep.as_mut()), if work.sweep.is_some() => {
                    work.sweep = None;
                    self.last_sweep = Instant::now();
                    self.on_sweep(swept?).await?;
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
                () = tokio::time::sleep_until(linger_at), if !self.chunk.is_empty() && work.submission.is_none() => {}
                () = tokio::time::sleep_until(sweep_at), if work.sweep.is_none() && !self.ahead.is_empty() => {}
                () = tokio::time::sleep_until(work.events_reopen_at.unwrap_or_else(Instant::now)), if work.events_reopen_at.is_some() => {
                    work.events_reopen_at = None;
                    work.events = Some(self.open_events());
                }
            }
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

    /// Starts what is due: fetches up to the limit, the next chunk, a sweep, reopening the
    /// events stream.
    fn start_work(&mut self, work: &mut InFlight) {
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
        if work.sweep.is_none()
            && !self.ahead.is_empty()
            && (self.ahead.len() >= SWEEP_MIN || self.last_sweep.elapsed() >= SWEEP_EVERY)
        {
            self.sweep_generation = self.sweeps_started;
            self.sweeps_started += 1;
            work.sweep = Some(self.sweep());
        }
        if work.events.is_none()
            && work.events_reopen_at.is_none()
            && work.recovery.is_none()
            && (!self.awaited.is_empty() || work.submission.is_some())
        {
            // Ends with nothing new back off, so that an idle wait does not spin.
            let pause = EVENTS_REOPEN_PAUSE * (1 + self.idle_ends.min(50));
            work.events_reopen_at = Some(Instant::now() + pause);
        }
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
                swept: false,
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

    /// An input whose run an earlier session created: deliver it if finished, else await it.
    async fn take_earlier(&mut self, input: BatchInput, earlier: Earlier) -> Result<(), Closed> {
        let position = input.position;
        let run = earlier.run;
        // The sweeps start past the runs of the earlier session: its results are fetched.
        self.awaited.insert(
            position,
            Awaited {
                input: input.input,
                run_id: Some(run.run_id.clone().into_boxed_str()),
                swept: true,
            },
        );
        if !run.is_finished() {
            Ok(())
        } else if run.status == RunStatus::Completed {
            self.to_fetch.push_back(Fetch {
                position,
                run_id: run.run_id,
            });
            Ok(())
        } else {
            let error = run_error(&run);
            self.finish(position, run, Err(error)).await
        }
    }

    /// An add-runs request succeeded: note the run ids, report refused inputs.
    async fn on_submitted(&mut self, submitted: Submitted) -> Result<(), Closed> {
        for (position, run_id) in &submitted.runs {
            if let Some(awaited) = self.awaited.get_mut(position) {
                awaited.run_id = Some(run_id.as_str().into());
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
        item: Option<Result<GroupEvent, Error>>,
    ) -> Result<(), Stop> {
        match item {
            Some(Ok(event)) => {
                work.events_patience.succeeded();
                if let Some(id) = event.event_id() {
                    self.last_event_id = Some(id.to_owned());
                }
                if let GroupEvent::TaskRunState(event) = event {
                    self.on_run_state(event.run).await?;
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
                    && self.ahead.is_empty()
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

    /// A run's new state from the events stream.
    async fn on_run_state(&mut self, run: TaskRun) -> Result<(), Closed> {
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
        if awaited.swept {
            self.to_fetch.push_back(Fetch {
                position,
                run_id: run.run_id,
            });
        } else {
            self.ahead.entry(position).or_insert(self.sweeps_started);
        }
        Ok(())
    }

    /// What a sweep read: deliver the finished runs, mark the others as passed.
    async fn on_sweep(&mut self, sweep: Sweep) -> Result<(), Closed> {
        self.frontier = sweep.cursor;
        for (position, run, output) in sweep.runs {
            let reported = self.ahead.remove(&position).is_some();
            let Some(awaited) = self.awaited.get_mut(&position) else {
                if let Some(earlier) = self.earlier.get_mut(&position) {
                    earlier.run = run;
                }
                continue;
            };
            if !run.is_finished() {
                // Read while still going. If its completion was already reported (the sweep
                // read an older state), fetch it now; otherwise that event will.
                awaited.swept = true;
                if reported {
                    self.to_fetch.push_back(Fetch {
                        position,
                        run_id: run.run_id,
                    });
                }
                continue;
            }
            let outcome = match output {
                _ if run.status != RunStatus::Completed => Err(run_error(&run)),
                Some(output) => Ok(output),
                None => {
                    awaited.swept = true;
                    self.to_fetch.push_back(Fetch {
                        position,
                        run_id: run.run_id,
                    });
                    continue;
                }
            };
            self.finish(position, run, outcome).await?;
        }
        if !sweep.capped {
            // The sweep read to the end of the group: a run reported completed before it
            // started and not met is fetched on its own. Runs reported while it read are
            // left to the next sweep.
            let generation = self.sweep_generation;
            let mut missed = Vec::new();
            self.ahead.retain(|&position, seen_at| {
                let keep = *seen_at > generation;
                if !keep {
                    missed.push(position);
                }
                keep
            });
            for position in missed {
                if let Some(awaited) = self.awaited.get_mut(&position) {
                    awaited.swept = true;
                    if let Some(run_id) = &awaited.run_id {
                        self.to_fetch.push_back(Fetch {
                            position,
                            run_id: run_id.to_string(),
                        });
                    }
                }
            }
        }
        self.emit_progress(false).await
    }

    /// Runs found by a recovery scan: fetch or deliver the finished ones.
    async fn on_recovered(&mut self, found: Found) -> Result<(), Closed> {
        for (position, run) in found {
            if !run.is_finished() || !self.awaited.contains_key(&position) {
                continue;
            }
            if let Some(awaited) = self.awaited.get_mut(&position) {
                awaited.swept = true;
                awaited.run_id = Some(run.run_id.clone().into_boxed_str());
            }
            if run.status == RunStatus::Completed {
                self.to_fetch.push_back(Fetch {
                    position,
                    run_id: run.run_id,
                });
            } else {
                let error = run_error(&run);
                self.finish(position, run, Err(error)).await?;
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
        self.ahead.remove(&position);
        let Some(awaited) = self.awaited.remove(&position) else {
            return Ok(());
        };
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

    fn open_events(&self) -> crate::GroupEvents {
        let options = GroupEventsOptions {
            last_event_id: self.last_event_id.clone(),
            ..GroupEventsOptions::default()
        };
        self.client()
            .group(&self.submitter.group_id)
            .events(options)
    }

    fn sweep(&self) -> BoxFuture<'static, Result<Sweep, Error>> {
        let client = self.client().clone();
        let (group_id, token) = (
            self.submitter.group_id.clone(),
            self.submitter.token.clone(),
        );
        let (cursor, tolerance) = (self.frontier.clone(), self.tolerance());
        patiently(tolerance, move |_| {
            collect::sweep(
                client.clone(),
                group_id.clone(),
                token.clone(),
                cursor.clone(),
                SWEEP_CAP,
            )
        })
        .boxed()
    }

    fn fetch(&self, fetch: Fetch) -> BoxFuture<'static, Result<Fetched, Error>> {
        let client = self.client().clone();
        let tolerance = self.tolerance();
        async move {
            let (run, output) =
                patiently(tolerance, |_| collect::fetch(&client, &fetch.run_id)).await?;
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
        let tolerance = self.tolerance();
        let wanted: std::collections::HashSet<u64> = self.awaited.keys().copied().collect();
        async move {
            patiently(tolerance, |_| async {
                let mut found = Vec::new();
                collect::scan(&client, &group_id, &token, |position, run| {
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

    async fn emit(&self, item: BatchItem) -> Result<(), Closed> {
        self.tx.send(Ok(item)).await.map_err(|_| Closed)
    }

    async fn emit_progress(&mut self, force: bool) -> Result<(), Closed> {
        if !force && self.last_progress.elapsed() < PROGRESS_INTERVAL {
            return Ok(());
        }
        self.last_progress = Instant::now();
        self.progress.in_flight = self.awaited.len() as u64;
        self.emit(BatchItem::Progress(self.progress)).await
    }
}
