//! The batch engine: any number of inputs in, one result per input out, as the runs finish,
//! through outages and crashes. Every batch front end (the `parallel-batch` tool, a
//! user's program) is built on it.
//!
//! [`Client::batch`] takes a task spec, a processor and [`BatchOptions`].
//! [`Batch::start`] creates the group (or opens it to resume) and gives a [`StartedBatch`]:
//! **persist its group id and token** before going on if the batch must survive a crash.
//! [`StartedBatch::run`] takes a stream (or [`StartedBatch::run_iter`] an iterator) of
//! [`BatchInput`]s of any length and returns a [`BatchStream`] of [`BatchItem`]s:
//!
//! 1. [`BatchItem::Started`] first, with the group id and the token of the client tags.
//! 2. [`BatchItem::Submitted`] after each add-runs request, with the positions and run ids.
//! 3. [`BatchItem::Result`] for every input, as its run finishes (in completion order, not
//!    input order), tagged with the input's position: the output, or the run's error.
//! 4. [`BatchItem::Rejected`] for an input the API refused (a `422` naming it, say an input
//!    over the size limit): no run was made for it and the rest of its request was sent.
//! 5. [`BatchItem::Progress`] snapshots along the way and once at the end.
//!
//! [`Batch::run`] does both steps at once; it creates nothing on the server until its stream
//! is polled past the `Started` item, so a caller that persists `Started` before polling
//! again has the same guarantee.
//!
//! ```
//! use futures::StreamExt;
//! use parallel_client::batch::{BatchInput, BatchItem, BatchOptions};
//! use parallel_types::TaskSpec;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let emulator = parallel_emulator::Emulator::builder().time_scale(0.0).start().await?;
//! # let client = parallel_client::Client::builder()
//! #     .api_key("emulator")
//! #     .base_url(emulator.base_url())
//! #     .build()?;
//! let spec = TaskSpec::text("The CEO's name");
//! let batch = client.batch(BatchOptions::new(spec, "lite-fast")).start().await?;
//! println!("group {}, token {}", batch.group_id(), batch.token()); // persist these
//! let inputs = (0..100u64).map(|i| BatchInput::new(i, format!("Company #{i}")));
//! let mut items = batch.run_iter(inputs);
//! let mut delivered = 0;
//! while let Some(item) = items.next().await {
//!     match item? {
//!         BatchItem::Result(result) => {
//!             delivered += 1;
//!             match &result.outcome {
//!                 Ok(_) => println!("{}: {}", result.position, result.content_as::<String>()?),
//!                 Err(error) => println!("{} failed: {}", result.position, error.message),
//!             }
//!         }
//!         BatchItem::Rejected(rejected) => println!("{} refused: {}", rejected.position, rejected.reason()),
//!         BatchItem::Progress(p) => eprintln!("{}/{} finished", p.finished, p.inputs_read),
//!         _ => {}
//!     }
//! }
//! assert_eq!(delivered, 100); // one result per input
//! # emulator.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! # Flow and memory
//!
//! Inputs are read lazily and sent in chunks of [`BatchOptions::chunk_size`] (default 500,
//! at most 1,000), each input tagged `client_tag = "<token>:<position>"` (see
//! [`ClientTag`](crate::add_runs::ClientTag): a lost answer is reconciled, never resubmitted
//! blindly). At most [`BatchOptions::max_in_flight`] inputs are read and not yet delivered;
//! reading pauses while the window is full, and the whole pipeline pauses while the consumer
//! does not poll the stream.
//!
//! Completions come from the group's events stream. Results are read in bulk by *sweeps* of
//! the group's runs stream, filtered to completed runs, with outputs, each from the nearest
//! cursor before the runs it is for to the end of the stream; a few stragglers at the front
//! are read on their own with `/result` (up to [`BatchOptions::result_concurrency`] at once).
//! When to sweep is weighed against a budget: at most one result-reading request (runs
//! streams, events streams and `/result` together) per 100 rows plus one per 10 s of the job
//! (and two for any job), and at most 1.5x the bytes of one full runs stream. A sweep waits
//! for runs to finish for a quarter of their observed latency, and longer while it would read
//! again too many results already delivered. Runs that end failed, cancelled or waiting for
//! action are delivered from their completion events, without a read. Results are handed on,
//! not kept. Memory is bounded by the window, plus, when resuming, one run per position found
//! from the earlier session and not [skipped](BatchOptions::skip).
//!
//! What this costs at real latencies, measured on the emulator (`benches/README.md`): 2,000
//! `lite-fast` rows at time scale 1 in two waves of runs, 13 result-reading requests and 1.33x
//! the bytes of the full stream, where one request per row was made before. The design, and
//! the assumption it makes about the order of the runs stream, are in the crate's README.
//!
//! # Outages
//!
//! Connection errors, timeouts, `error` events, 408, 429 and 5xx answers are retried with
//! backoff (at most 5 s apart) for as long as [`BatchOptions::outage_tolerance`] allows
//! (default ten minutes without a success); a submission that may have reached the server
//! is reconciled against the group's runs before it is sent again. A 402 (no credit), a
//! refused request that names no input, or any other error ends the stream with that error.
//! Until the server has answered once (any status), nothing is ridden out: a wrong address
//! or a server that is not up ends the batch within the client's own retries (about a
//! second), with the connection error, before anything was created.
//!
//! # Resuming after a crash
//!
//! Run again with [`BatchOptions::group`] and [`BatchOptions::token`] set to the values of the
//! first session, and the same inputs at the same positions. Before reading inputs, the batch
//! streams the group's runs and indexes those tagged with the token (only these count; other
//! runs of the group are ignored). Then, for each input:
//!
//! - a position with a run already in the group is **not submitted again**. This covers every
//!   request of the earlier session that reached the server, including one whose answer was
//!   lost in the crash, since the tag is part of the run;
//! - if that run has finished, its result is **delivered again**, so a caller that had not
//!   yet stored it loses nothing;
//! - if that run is still going, its result is delivered when it finishes;
//! - a position without a run is submitted as usual.
//!
//! A caller that already stored some results names them with [`BatchOptions::skip`] (or
//! leaves them out of the input stream): they are then neither submitted nor delivered. The
//! `resumed` count of `Started` says how many tagged runs were found. Within one session, each
//! position's result or rejection is delivered once.

mod collect;
mod driver;
mod items;
mod ledger;
mod options;
mod outage;
mod resume;
mod submit;

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::stream::BoxStream;
use futures::{Stream, StreamExt};
use parallel_types::CreateTaskGroupRequest;
use tokio::sync::mpsc;

pub use items::{
    BatchInput, BatchItem, BatchOutput, BatchProgress, BatchRejection, BatchResult, run_error,
};
pub use options::BatchOptions;

use crate::add_runs::{MAX_RUNS_PER_REQUEST, check_token, random_token};
use crate::client::Client;
use crate::error::Error;
use crate::streams::TaskStream;
use driver::{Driver, Stop};
use outage::{Tolerance, patiently};
use resume::Found;
use submit::Submitter;

/// Items buffered between the batch and its consumer.
const CHANNEL_CAPACITY: usize = 256;

/// A batch ready to start; see the [module documentation](self).
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
    /// Checks the options, then creates the group, or opens the given one and indexes the
    /// runs an earlier session left in it. Nothing is submitted yet: persist
    /// [`StartedBatch::group_id`] and [`StartedBatch::token`], then call
    /// [`StartedBatch::run`].
    pub async fn start(self) -> Result<StartedBatch, Error> {
        let Batch { client, options } = self;
        check(&options)?;
        let token = match &options.token {
            Some(token) => {
                check_token(token)?;
                token.clone()
            }
            None => random_token(),
        };
        let tolerance = Tolerance {
            window: options.outage_tolerance,
            client: client.clone(),
        };
        let tolerance = &tolerance;
        let (group_id, found) = if let Some(group_id) = &options.group {
            // Fails early with a clear 404 when the group does not exist.
            patiently(tolerance, |_| client.group(group_id).get().into_future()).await?;
            let skip = options.skip.as_ref();
            let found = patiently(tolerance, |_| {
                resume::find_earlier(&client, group_id, &token, skip)
            })
            .await?;
            (group_id.clone(), found)
        } else {
            // A second empty group after a lost answer costs nothing; no group stops the batch.
            let mut request = CreateTaskGroupRequest::new();
            request.metadata.clone_from(&options.group_metadata);
            let group = patiently(tolerance, |_| {
                client.create_group(request.clone()).into_future()
            })
            .await?;
            let group_id = group.taskgroup_id;
            let found = Found {
                earlier: std::collections::HashMap::default(),
                cursor: None,
                duplicates: 0,
            };
            (group_id, found)
        };
        Ok(StartedBatch {
            client,
            options,
            group_id,
            token,
            found,
        })
    }

    /// [`Batch::start`] and [`StartedBatch::run`] in one stream: the group is made when the
    /// stream is first polled, and nothing is submitted before it is polled past
    /// [`BatchItem::Started`].
    ///
    /// Must be polled within a Tokio runtime.
    pub fn run<S>(self, inputs: S) -> BatchStream
    where
        S: Stream<Item = BatchInput> + Send + 'static,
    {
        let stream = futures::stream::once(async move {
            match self.start().await {
                Ok(started) => started.run(inputs).inner,
                Err(error) => futures::stream::once(async { Err(error) }).boxed(),
            }
        })
        .flatten();
        BatchStream {
            inner: stream.boxed(),
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

fn check(options: &BatchOptions) -> Result<(), Error> {
    if options.chunk_size == 0 || options.chunk_size > MAX_RUNS_PER_REQUEST {
        return Err(Error::config(format!(
            "batch chunk size {} is out of range: use 1 to {MAX_RUNS_PER_REQUEST}",
            options.chunk_size
        )));
    }
    if !(options.reread.is_finite() && options.reread >= 0.0) {
        return Err(Error::config(format!(
            "batch reread share {} is out of range: use a number of 0 or more (0.5 reads at most 1.5 times a runs stream)",
            options.reread
        )));
    }
    if options.max_in_flight == 0 || options.result_concurrency == 0 {
        return Err(Error::config(
            "batch max_in_flight and result_concurrency must be at least 1",
        ));
    }
    Ok(())
}

/// A batch with its group, ready to take inputs. Persist [`StartedBatch::group_id`] and
/// [`StartedBatch::token`] now to be able to resume after a crash.
pub struct StartedBatch {
    client: Client,
    options: BatchOptions,
    group_id: String,
    token: String,
    found: Found,
}

impl fmt::Debug for StartedBatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StartedBatch")
            .field("group_id", &self.group_id)
            .field("token", &self.token)
            .field("resumed", &self.resumed())
            .finish_non_exhaustive()
    }
}

impl StartedBatch {
    /// The group's id.
    pub fn group_id(&self) -> &str {
        &self.group_id
    }

    /// The token of the client tags.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// Runs of this batch an earlier session left in the group (not counting positions
    /// [skipped](BatchOptions::skip)).
    pub fn resumed(&self) -> u64 {
        self.found.earlier.len() as u64
    }

    /// Positions the group holds more than one run of (another client used the same token
    /// on the same group); the first run of each counts.
    pub fn duplicates(&self) -> u64 {
        self.found.duplicates
    }

    /// Runs the batch over `inputs` in a background task and returns its items, starting
    /// with [`BatchItem::Started`]. The task starts when the stream is polled past that item.
    /// Dropping the stream stops the batch (runs already submitted keep running on the
    /// server).
    ///
    /// Must be polled within a Tokio runtime.
    pub fn run<S>(self, inputs: S) -> BatchStream
    where
        S: Stream<Item = BatchInput> + Send + 'static,
    {
        let started = BatchItem::Started {
            group_id: self.group_id.clone(),
            token: self.token.clone(),
            resumed: self.resumed(),
        };
        let inputs = inputs.boxed();
        let spawn = async move {
            let (tx, rx) = mpsc::channel(CHANNEL_CAPACITY);
            let task = tokio::spawn(drive(self, inputs, tx));
            TaskStream::new(rx, task)
        };
        let stream = futures::stream::once(async { Ok(started) })
            .chain(futures::stream::once(spawn).flatten());
        BatchStream {
            inner: stream.boxed(),
        }
    }

    /// [`StartedBatch::run`] over an iterator.
    pub fn run_iter<I>(self, inputs: I) -> BatchStream
    where
        I: IntoIterator<Item = BatchInput>,
        I::IntoIter: Send + 'static,
    {
        self.run(futures::stream::iter(inputs))
    }
}

async fn drive(
    started: StartedBatch,
    inputs: BoxStream<'static, BatchInput>,
    tx: mpsc::Sender<Result<BatchItem, Error>>,
) {
    let StartedBatch {
        client,
        options,
        group_id,
        token,
        found,
    } = started;
    let tolerance = Tolerance {
        window: options.outage_tolerance,
        client: client.clone(),
    };
    let submitter = Submitter {
        client,
        group_id,
        token,
        spec: Arc::new(options.task_spec.clone()),
        processor: options.processor.clone(),
        tolerance,
        throttled: Arc::default(),
    };
    let failure_tx = tx.clone();
    let mut driver = Driver::new(submitter, &options, tx, found.earlier, found.cursor);
    if let Err(Stop::Failed(error)) = driver.run(inputs).await {
        let _ = failure_tx.send(Err(error)).await;
    }
}

/// The items of a running batch. Ends after the last result, or after the first error.
pub struct BatchStream {
    inner: BoxStream<'static, Result<BatchItem, Error>>,
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
