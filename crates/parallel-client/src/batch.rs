//! Batches: any number of inputs in, one result per input out, as the runs complete.
//!
//! [`Client::batch`] takes a task spec, a processor and [`BatchOptions`]; [`Batch::run`] takes
//! a stream (or [`Batch::run_iter`] an iterator) of [`BatchInput`]s of any length and returns a
//! [`BatchStream`] of [`BatchItem`]s:
//!
//! 1. [`BatchItem::Started`] first, with the group id and the token of the client tags.
//!    **Persist both** before anything else if the batch must survive a crash.
//! 2. [`BatchItem::Submitted`] after each add-runs request, with the positions and run ids.
//! 3. [`BatchItem::Result`] for every input, as its run finishes (in completion order, not
//!    input order), tagged with the input's position: the output, or the run's error.
//! 4. [`BatchItem::Progress`] snapshots along the way and once at the end.
//!
//! Runs may finish before the answer to their add-runs request arrives, so a position's
//! `Result` can come before the `Submitted` item that lists it; key on positions, not order.
//!
//! ```no_run
//! # async fn demo(client: parallel_client::Client) -> Result<(), parallel_client::Error> {
//! use futures::StreamExt;
//! use parallel_client::batch::{BatchInput, BatchItem, BatchOptions};
//! use parallel_types::TaskSpec;
//!
//! #[derive(serde::Deserialize)]
//! struct Answer { ceo_name: String }
//!
//! let spec = TaskSpec::text("The CEO's name");
//! let inputs = (0..10_000u64).map(|i| BatchInput::new(i, format!("Company #{i}")));
//! let mut items = client.batch(BatchOptions::new(spec, "lite-fast")).run_iter(inputs);
//! while let Some(item) = items.next().await {
//!     match item? {
//!         BatchItem::Started { group_id, token, .. } => println!("group {group_id}, token {token}"),
//!         BatchItem::Result(result) => match &result.outcome {
//!             Ok(_) => println!("{}: {:?}", result.position, result.output_as::<String>()?),
//!             Err(error) => println!("{} failed: {}", result.position, error.message),
//!         },
//!         BatchItem::Progress(p) => eprintln!("{}/{} finished", p.finished, p.inputs_read),
//!         _ => {}
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! # Flow and memory
//!
//! Inputs are read lazily and sent in chunks of [`BatchOptions::chunk_size`] (default 500,
//! at most 1,000), each input tagged `client_tag = "<token>:<position>"` (see
//! [`add_runs`](crate::add_runs): a lost answer is reconciled, never resubmitted blindly).
//! At most [`BatchOptions::max_in_flight`] inputs are submitted and not yet delivered; reading
//! pauses while the window is full, and the whole pipeline pauses while the consumer does not
//! poll the stream. Completions come from the group's events stream; each completed run's
//! output is fetched with `/result` (up to [`BatchOptions::result_concurrency`] at once) and
//! handed on, not kept. Memory is bounded by the window, plus, when resuming, one small entry
//! per run found from the earlier session.
//!
//! # Resuming after a crash
//!
//! Run again with [`BatchOptions::group`] and [`BatchOptions::token`] set to the values of the
//! first session's [`BatchItem::Started`], and the same inputs at the same positions. Before
//! reading inputs, the batch streams the group's runs and indexes those tagged with the token
//! (only these count; other runs of the group are ignored). Then, for each input:
//!
//! - a position with a run already in the group is **not submitted again**. This covers every
//!   request of the earlier session that reached the server, including one whose answer was
//!   lost in the crash, since the tag is part of the run;
//! - if that run has finished, its result is **delivered again** as a [`BatchItem::Result`]
//!   (the output fetched anew with `/result`, or the run's error), so a caller that had not
//!   yet written it loses nothing;
//! - if that run is still active, its result is delivered when it finishes;
//! - a position without a run is submitted as usual.
//!
//! A caller that already stored some results may leave those positions out of the input
//! stream: they are then neither submitted nor delivered. The `resumed` count of `Started`
//! says how many tagged runs were found. Results of one session are never delivered twice.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::future::{BoxFuture, OptionFuture};
use futures::stream::{BoxStream, FuturesUnordered};
use futures::{FutureExt, Stream, StreamExt};
use parallel_types::{
    CreateTaskGroupRequest, ErrorObject, GroupEvent, Metadata, Processor, RunInput, RunOutput,
    RunStatus, TaskRunResult, TaskSpec,
};
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::add_runs::{MAX_RUNS_PER_REQUEST, TaggedRun, check_token, random_token, tag_position};
use crate::client::Client;
use crate::error::{Error, Kind};
use crate::session::Frame;
use crate::streams::{GroupEventsOptions, GroupRunsOptions, Peek, TaskStream, decode};

/// How long a partly filled chunk waits for more inputs before it is sent anyway.
const CHUNK_LINGER: Duration = Duration::from_millis(200);

/// The least time between two progress snapshots.
const PROGRESS_INTERVAL: Duration = Duration::from_millis(500);

/// The pause before reopening the events stream after it ended with runs still awaited.
const EVENTS_REOPEN_PAUSE: Duration = Duration::from_millis(100);

/// How long a `/result` call for a run known to be completed may wait.
const RESULT_WAIT: Duration = Duration::from_secs(60);

/// Items buffered between the batch and its consumer.
const CHANNEL_CAPACITY: usize = 256;

/// Settings of a batch.
#[derive(Debug, Clone)]
pub struct BatchOptions {
    task_spec: TaskSpec,
    processor: Processor,
    group: Option<String>,
    group_metadata: Option<Metadata>,
    token: Option<String>,
    chunk_size: usize,
    max_in_flight: usize,
    result_concurrency: usize,
}

impl BatchOptions {
    /// A batch running every input with `task_spec` (the group's default task spec) on
    /// `processor`.
    pub fn new(task_spec: TaskSpec, processor: impl Into<Processor>) -> Self {
        Self {
            task_spec,
            processor: processor.into(),
            group: None,
            group_metadata: None,
            token: None,
            chunk_size: 500,
            max_in_flight: 10_000,
            result_concurrency: 8,
        }
    }

    /// Add the runs to this existing group instead of creating one (to resume, or to share a
    /// group between batches with different tokens).
    #[must_use]
    pub fn group(mut self, group_id: impl Into<String>) -> Self {
        self.group = Some(group_id.into());
        self
    }

    /// Metadata of the group the batch creates.
    #[must_use]
    pub fn group_metadata(mut self, metadata: Metadata) -> Self {
        self.group_metadata = Some(metadata);
        self
    }

    /// The token of the client tags (default: random). Pass the token of an earlier session
    /// to resume it.
    #[must_use]
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// Inputs per add-runs request, 1 to 1,000 (default 500).
    #[must_use]
    pub fn chunk_size(mut self, size: usize) -> Self {
        self.chunk_size = size;
        self
    }

    /// The most inputs submitted but not yet delivered (default 10,000). Reading inputs
    /// pauses while the window is full.
    #[must_use]
    pub fn max_in_flight(mut self, count: usize) -> Self {
        self.max_in_flight = count;
        self
    }

    /// The most `/result` requests at once (default 8).
    #[must_use]
    pub fn result_concurrency(mut self, count: usize) -> Self {
        self.result_concurrency = count;
        self
    }
}

/// One input of a batch: its position (any `u64`, unique within the batch and stable across
/// sessions when resuming), the run's `input` and optional metadata of its own.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchInput {
    /// The input's position, echoed in its result.
    pub position: u64,
    /// The run's input: a string or a JSON object.
    pub input: Value,
    /// Metadata of the run (the client tag is added to it).
    pub metadata: Option<Metadata>,
}

impl BatchInput {
    /// An input at `position`.
    pub fn new(position: u64, input: impl Into<Value>) -> Self {
        Self {
            position,
            input: input.into(),
            metadata: None,
        }
    }

    /// Sets the run's metadata.
    #[must_use]
    pub fn with_metadata(mut self, metadata: Metadata) -> Self {
        self.metadata = Some(metadata);
        self
    }
}

/// What a batch reports.
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)] // results are the bulk of the items; boxing them adds a copy
pub enum BatchItem {
    /// The batch has its group; always the first item.
    Started {
        /// The group's id.
        group_id: String,
        /// The token of the client tags (`"<token>:<position>"`).
        token: String,
        /// Runs with this token already in the group (resuming), not submitted again.
        resumed: u64,
    },
    /// One add-runs request succeeded.
    Submitted {
        /// `(position, run_id)` of each input of the request.
        runs: Vec<(u64, String)>,
    },
    /// A run finished.
    Result(BatchResult),
    /// Counters.
    Progress(BatchProgress),
}

/// The result of one input.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchResult {
    /// The input's position.
    pub position: u64,
    /// The run's id.
    pub run_id: String,
    /// The input as given.
    pub input: Value,
    /// The run's result, or its error when it failed or was cancelled.
    pub outcome: Result<TaskRunResult, ErrorObject>,
}

impl BatchResult {
    /// The output content as `T`: a JSON output's object, or a text output's string.
    /// Fails when the run failed (the message quotes the run's error) or the content does
    /// not fit `T`.
    pub fn output_as<T: DeserializeOwned>(&self) -> Result<T, Error> {
        let result = self.outcome.as_ref().map_err(|error| {
            Error::new(
                Kind::RunFailed,
                format!("run {} failed: {}", self.run_id, error.message),
            )
            .with_api(Some(error.clone()))
        })?;
        let content = match &result.output {
            RunOutput::Json(json) => serde_json::from_value(json.content.clone()),
            RunOutput::Text(text) => serde_json::from_value(Value::String(text.content.clone())),
            RunOutput::Other(raw) => {
                serde_json::from_value(raw.get("content").cloned().unwrap_or(Value::Null))
            }
        };
        content.map_err(|e| Error::decode("the run's output as the requested type", e))
    }
}

/// Counters of a batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchProgress {
    /// Inputs read from the input stream.
    pub inputs_read: u64,
    /// Inputs submitted by this session.
    pub submitted: u64,
    /// Inputs found already submitted by an earlier session.
    pub resumed: u64,
    /// Results delivered (completed and failed).
    pub finished: u64,
    /// Results delivered with an output.
    pub completed: u64,
    /// Results delivered with an error.
    pub failed: u64,
    /// Inputs read whose run has not finished yet or whose result is queued for fetching.
    pub in_flight: u64,
}

/// A batch ready to run; see the [module documentation](self).
#[derive(Debug, Clone)]
pub struct Batch {
    client: Client,
    options: BatchOptions,
}

impl Client {
    /// A batch over this client; see the [`batch`](crate::batch) module.
    pub fn batch(&self, options: BatchOptions) -> Batch {
        Batch {
            client: self.clone(),
            options,
        }
    }
}

impl Batch {
    /// Runs the batch over `inputs` in a background task and returns its items. Dropping the
    /// returned stream stops the batch (runs already submitted keep running on the server).
    ///
    /// Must be called within a Tokio runtime.
    pub fn run<S>(self, inputs: S) -> BatchStream
    where
        S: Stream<Item = BatchInput> + Send + 'static,
    {
        let (tx, rx) = mpsc::channel(CHANNEL_CAPACITY);
        let inputs = inputs.boxed();
        let task = tokio::spawn(async move {
            let failure_tx = tx.clone();
            if let Err(error) = drive(self.client, self.options, inputs, tx).await {
                let _ = failure_tx.send(Err(error)).await;
            }
        });
        BatchStream {
            inner: TaskStream::new(rx, task),
        }
    }

    /// [`Batch::run`] over an iterator.
    pub fn run_iter<I>(self, inputs: I) -> BatchStream
    where
        I: IntoIterator<Item = BatchInput>,
        I::IntoIter: Send + 'static,
    {
        self.run(futures::stream::iter(inputs))
    }
}

/// The items of a running batch. Ends after the last result, or after the first error.
pub struct BatchStream {
    inner: TaskStream<Result<BatchItem, Error>>,
}

impl Stream for BatchStream {
    type Item = Result<BatchItem, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.poll_next_unpin(cx)
    }
}

impl fmt::Debug for BatchStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BatchStream").finish_non_exhaustive()
    }
}

/// A run found from an earlier session.
struct Earlier {
    run_id: String,
    status: RunStatus,
}

/// A submitted or resumed input whose result is awaited.
struct Awaited {
    input: Value,
    run_id: Option<String>,
}

/// A finished run whose result is to be fetched.
struct Finished {
    position: u64,
    run_id: String,
    input: Value,
    status: RunStatus,
    error: Option<ErrorObject>,
}

/// The consumer went away: stop quietly.
struct Closed;

type Submission = BoxFuture<'static, Result<(Vec<u64>, Vec<String>), Error>>;

struct Driver {
    client: Client,
    group_id: String,
    token: String,
    spec: Arc<TaskSpec>,
    processor: Processor,
    chunk_size: usize,
    max_in_flight: usize,
    result_concurrency: usize,
    tx: mpsc::Sender<Result<BatchItem, Error>>,
    earlier: HashMap<u64, Earlier>,
    awaited: HashMap<u64, Awaited>,
    to_fetch: VecDeque<Finished>,
    progress: BatchProgress,
    last_progress: Instant,
}

async fn drive(
    client: Client,
    options: BatchOptions,
    inputs: BoxStream<'static, BatchInput>,
    tx: mpsc::Sender<Result<BatchItem, Error>>,
) -> Result<(), Error> {
    if options.chunk_size == 0 || options.chunk_size > MAX_RUNS_PER_REQUEST {
        return Err(Error::config(format!(
            "batch chunk size {} is out of range: use 1 to {MAX_RUNS_PER_REQUEST}",
            options.chunk_size
        )));
    }
    if options.max_in_flight == 0 || options.result_concurrency == 0 {
        return Err(Error::config(
            "batch max_in_flight and result_concurrency must be at least 1",
        ));
    }
    let token = match options.token {
        Some(token) => {
            check_token(&token)?;
            token
        }
        None => random_token(),
    };
    let (group_id, earlier) = if let Some(group_id) = options.group {
        // Fails early with a clear 404 when the group does not exist.
        client.get_group(&group_id).await?;
        let earlier = scan_earlier(&client, &group_id, &token).await?;
        (group_id, earlier)
    } else {
        let request = CreateTaskGroupRequest {
            metadata: options.group_metadata,
        };
        (
            client.create_group(request).await?.taskgroup_id,
            HashMap::new(),
        )
    };
    let mut driver = Driver {
        client,
        group_id,
        token,
        spec: Arc::new(options.task_spec),
        processor: options.processor,
        chunk_size: options.chunk_size,
        max_in_flight: options.max_in_flight,
        result_concurrency: options.result_concurrency,
        tx,
        earlier,
        awaited: HashMap::new(),
        to_fetch: VecDeque::new(),
        progress: BatchProgress::default(),
        last_progress: Instant::now(),
    };
    match driver.run(inputs).await {
        Ok(()) | Err(Step::Closed(Closed)) => Ok(()),
        Err(Step::Failed(error)) => Err(error),
    }
}

/// Why the driver stopped early.
enum Step {
    Closed(Closed),
    Failed(Error),
}

impl From<Error> for Step {
    fn from(error: Error) -> Self {
        Step::Failed(error)
    }
}

impl From<Closed> for Step {
    fn from(closed: Closed) -> Self {
        Step::Closed(closed)
    }
}

/// Indexes the runs of `group_id` tagged with `token`: position -> run id and status.
async fn scan_earlier(
    client: &Client,
    group_id: &str,
    token: &str,
) -> Result<HashMap<u64, Earlier>, Error> {
    let mut session = client
        .inner
        .group_runs_session(group_id, &GroupRunsOptions::default());
    let mut earlier = HashMap::new();
    loop {
        let data = match session.next_frame().await? {
            Frame::End => break,
            Frame::Data(data) => data,
        };
        let peek = Peek::parse(&data, session.what())?;
        if peek.kind != "task_run.state" {
            continue;
        }
        let event_id = peek.event_id.clone();
        let tagged: TaggedRun<'_> = decode(&data, "a run of the group")?;
        if let Some(position) = tagged
            .run
            .client_tag()
            .and_then(|tag| tag_position(&tag, token))
        {
            earlier.entry(position).or_insert_with(|| Earlier {
                run_id: tagged.run.run_id.clone().into_owned(),
                status: tagged.run.status.clone(),
            });
        }
        session.delivered(event_id.as_deref());
    }
    Ok(earlier)
}

impl Driver {
    async fn run(&mut self, inputs: BoxStream<'static, BatchInput>) -> Result<(), Step> {
        self.emit(BatchItem::Started {
            group_id: self.group_id.clone(),
            token: self.token.clone(),
            resumed: self.earlier.len() as u64,
        })
        .await?;

        let mut inputs = inputs.fuse();
        let mut inputs_done = false;
        let mut chunk: Vec<BatchInput> = Vec::new();
        let mut chunk_since = Instant::now();
        let mut submission: Option<Submission> = None;
        let mut fetching = FuturesUnordered::new();
        let mut events = Some(self.open_events(None));
        let mut last_event_id: Option<String> = None;
        let mut reopen_at: Option<Instant> = None;

        loop {
            while fetching.len() < self.result_concurrency {
                let Some(finished) = self.to_fetch.pop_front() else {
                    break;
                };
                fetching.push(fetch_result(
                    self.client.clone(),
                    self.group_id.clone(),
                    finished,
                ));
            }
            let chunk_due = !chunk.is_empty()
                && (chunk.len() >= self.chunk_size
                    || inputs_done
                    || chunk_since.elapsed() >= CHUNK_LINGER);
            if submission.is_none() && chunk_due {
                submission = Some(self.submit(std::mem::take(&mut chunk), inputs_done));
            }
            if inputs_done
                && chunk.is_empty()
                && submission.is_none()
                && self.awaited.is_empty()
                && self.to_fetch.is_empty()
                && fetching.is_empty()
            {
                self.emit_progress(true).await?;
                return Ok(());
            }
            if events.is_none()
                && reopen_at.is_none()
                && (!self.awaited.is_empty() || submission.is_some())
            {
                reopen_at = Some(Instant::now() + EVENTS_REOPEN_PAUSE);
            }
            // Inputs count from the moment they are read (`awaited`) until they are delivered.
            let window = self.awaited.len() + self.to_fetch.len() + fetching.len();
            let can_read =
                !inputs_done && chunk.len() < self.chunk_size && window < self.max_in_flight;
            let linger_at = chunk_since + CHUNK_LINGER;

            tokio::select! {
                Some(result) = fetching.next(), if !fetching.is_empty() => {
                    let result: Result<BatchResult, Error> = result;
                    self.deliver(result?).await?;
                }
                Some(submitted) = OptionFuture::from(submission.as_mut()), if submission.is_some() => {
                    submission = None;
                    let (positions, run_ids) = submitted?;
                    self.on_submitted(positions, run_ids).await?;
                }
                Some(event) = OptionFuture::from(events.as_mut().map(StreamExt::next)), if events.is_some() => {
                    match event {
                        Some(event) => {
                            let event = event?;
                            if let Some(id) = event.event_id() {
                                last_event_id = Some(id.to_owned());
                            }
                            self.on_event(event);
                            self.emit_progress(false).await?;
                        }
                        None => events = None,
                    }
                }
                input = inputs.next(), if can_read => {
                    match input {
                        Some(input) => {
                            self.progress.inputs_read += 1;
                            if chunk.is_empty() {
                                chunk_since = Instant::now();
                            }
                            if let Some(input) = self.take_earlier(input) {
                                chunk.push(input);
                            }
                        }
                        None => inputs_done = true,
                    }
                }
                () = tokio::time::sleep_until(linger_at), if !chunk.is_empty() && submission.is_none() => {}
                () = tokio::time::sleep_until(reopen_at.unwrap_or_else(Instant::now)), if reopen_at.is_some() => {
                    reopen_at = None;
                    events = Some(self.open_events(last_event_id.clone()));
                }
            }
        }
    }

    async fn on_submitted(
        &mut self,
        positions: Vec<u64>,
        run_ids: Vec<String>,
    ) -> Result<(), Closed> {
        for (position, run_id) in positions.iter().zip(&run_ids) {
            if let Some(awaited) = self.awaited.get_mut(position) {
                awaited.run_id = Some(run_id.clone());
            }
        }
        self.progress.submitted += positions.len() as u64;
        let runs = positions.into_iter().zip(run_ids).collect();
        self.emit(BatchItem::Submitted { runs }).await?;
        self.emit_progress(false).await
    }

    fn open_events(&self, last_event_id: Option<String>) -> crate::GroupEvents {
        let options = GroupEventsOptions {
            last_event_id,
            timeout: None,
        };
        self.client.group_events(&self.group_id, options)
    }

    /// Handles an input whose position has a run from an earlier session; returns the input
    /// when it still has to be submitted.
    fn take_earlier(&mut self, input: BatchInput) -> Option<BatchInput> {
        let Some(earlier) = self.earlier.remove(&input.position) else {
            self.awaited.insert(
                input.position,
                Awaited {
                    input: input.input.clone(),
                    run_id: None,
                },
            );
            return Some(input);
        };
        self.progress.resumed += 1;
        if earlier.status.is_active() {
            self.awaited.insert(
                input.position,
                Awaited {
                    input: input.input,
                    run_id: Some(earlier.run_id),
                },
            );
        } else {
            self.to_fetch.push_back(Finished {
                position: input.position,
                run_id: earlier.run_id,
                input: input.input,
                status: earlier.status,
                error: None,
            });
        }
        None
    }

    fn submit(&mut self, chunk: Vec<BatchInput>, last: bool) -> Submission {
        let positions: Vec<u64> = chunk.iter().map(|input| input.position).collect();
        let runs: Vec<(u64, RunInput)> = chunk
            .into_iter()
            .map(|input| {
                let mut run = RunInput::new(input.input, self.processor.clone());
                run.metadata = input.metadata;
                (input.position, run)
            })
            .collect();
        let client = self.client.clone();
        let group_id = self.group_id.clone();
        let token = self.token.clone();
        let spec = Arc::clone(&self.spec);
        async move {
            let outcome = client
                .submit_chunk(&group_id, runs, Some(&spec), Some(&token), last)
                .await?;
            Ok((positions, outcome.run_ids))
        }
        .boxed()
    }

    /// A completion on the events stream: queue the result of an awaited position, or note
    /// the new status of an earlier run whose input was not read yet.
    fn on_event(&mut self, event: GroupEvent) {
        let GroupEvent::TaskRunState(event) = event else {
            return;
        };
        let run = event.run;
        if run.is_active || run.status.is_active() {
            return;
        }
        let Some(position) = run
            .metadata
            .as_ref()
            .and_then(|m| m.get(crate::CLIENT_TAG_KEY))
            .and_then(|tag| tag.as_str())
            .and_then(|tag| tag_position(tag, &self.token))
        else {
            return;
        };
        if let Some(awaited) = self.awaited.remove(&position) {
            self.to_fetch.push_back(Finished {
                position,
                run_id: run.run_id,
                input: awaited.input,
                status: run.status,
                error: run.error,
            });
        } else if let Some(earlier) = self.earlier.get_mut(&position) {
            earlier.status = run.status;
        }
    }

    async fn deliver(&mut self, result: BatchResult) -> Result<(), Closed> {
        self.progress.finished += 1;
        if result.outcome.is_ok() {
            self.progress.completed += 1;
        } else {
            self.progress.failed += 1;
        }
        self.emit(BatchItem::Result(result)).await?;
        self.emit_progress(false).await
    }

    async fn emit(&self, item: BatchItem) -> Result<(), Closed> {
        self.tx.send(Ok(item)).await.map_err(|_| Closed)
    }

    async fn emit_progress(&mut self, force: bool) -> Result<(), Closed> {
        if !force && self.last_progress.elapsed() < PROGRESS_INTERVAL {
            return Ok(());
        }
        self.last_progress = Instant::now();
        self.progress.in_flight = (self.awaited.len() + self.to_fetch.len()) as u64;
        self.emit(BatchItem::Progress(self.progress)).await
    }
}

/// Fetches a finished run's result: the output of a completed run, the error of another.
fn fetch_result(
    client: Client,
    group_id: String,
    finished: Finished,
) -> BoxFuture<'static, Result<BatchResult, Error>> {
    async move {
        let Finished {
            position,
            run_id,
            input,
            status,
            error,
        } = finished;
        let outcome = if status == RunStatus::Completed {
            Ok(client.run_result(&run_id, RESULT_WAIT).await?)
        } else {
            let error = match error {
                Some(error) => error,
                None => client
                    .get_group_run(&group_id, &run_id)
                    .await?
                    .error
                    .unwrap_or_else(|| ErrorObject {
                        ref_id: String::new(),
                        message: format!("the run ended with status {}", status.as_str()),
                        detail: None,
                    }),
            };
            Err(error)
        };
        Ok(BatchResult {
            position,
            run_id,
            input,
            outcome,
        })
    }
    .boxed()
}
