//! [`BatchOptions`]: what a batch runs and how hard it pushes.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use parallel_types::{Metadata, Processor, TaskSpec};

/// Which positions the caller already holds the result of; see [`BatchOptions::skip`].
pub(crate) type Skip = Arc<dyn Fn(u64) -> bool + Send + Sync>;

/// Settings of a batch.
///
/// ```
/// use std::time::Duration;
/// use parallel_client::batch::BatchOptions;
/// use parallel_types::TaskSpec;
///
/// let options = BatchOptions::new(TaskSpec::text("The CEO's name"), "lite-fast")
///     .chunk_size(1000)
///     .max_in_flight(20_000)
///     .outage_tolerance(Duration::from_secs(30 * 60));
/// ```
#[derive(Clone)]
pub struct BatchOptions {
    pub(crate) task_spec: TaskSpec,
    pub(crate) processor: Processor,
    pub(crate) group: Option<String>,
    pub(crate) group_metadata: Option<Metadata>,
    pub(crate) token: Option<String>,
    pub(crate) chunk_size: usize,
    pub(crate) max_in_flight: usize,
    pub(crate) result_concurrency: usize,
    pub(crate) outage_tolerance: Duration,
    pub(crate) reread: f64,
    pub(crate) skip: Option<Skip>,
}

impl fmt::Debug for BatchOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BatchOptions")
            .field("processor", &self.processor)
            .field("group", &self.group)
            .field("token", &self.token)
            .field("chunk_size", &self.chunk_size)
            .field("max_in_flight", &self.max_in_flight)
            .field("result_concurrency", &self.result_concurrency)
            .field("outage_tolerance", &self.outage_tolerance)
            .field("reread", &self.reread)
            .field("skip", &self.skip.as_ref().map(|_| "Fn(u64) -> bool"))
            .finish_non_exhaustive()
    }
}

impl BatchOptions {
    /// The default [`BatchOptions::outage_tolerance`]: ten minutes.
    pub const DEFAULT_OUTAGE_TOLERANCE: Duration = Duration::from_secs(600);

    /// The default [`BatchOptions::reread`]: half a runs stream, so that a batch reads at
    /// most 1.5 times the bytes of its group's runs stream.
    pub const DEFAULT_REREAD: f64 = 0.5;

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
            outage_tolerance: Self::DEFAULT_OUTAGE_TOLERANCE,
            reread: Self::DEFAULT_REREAD,
            skip: None,
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

    /// The most inputs read and not yet delivered (default 10,000). Reading inputs pauses
    /// while the window is full; memory is bounded by it.
    #[must_use]
    pub fn max_in_flight(mut self, count: usize) -> Self {
        self.max_in_flight = count;
        self
    }

    /// The most single-run `/result` requests at once (default 8). Results are read in bulk
    /// from the group's runs stream; a run is fetched on its own only where that cannot
    /// serve (a run the stream had passed while it was still running, a resumed run).
    #[must_use]
    pub fn result_concurrency(mut self, count: usize) -> Self {
        self.result_concurrency = count;
        self
    }

    /// How long the batch keeps trying through failures that may pass (connection errors,
    /// timeouts, 408, 429, 5xx) before it gives up with the last error (default
    /// [`BatchOptions::DEFAULT_OUTAGE_TOLERANCE`], ten minutes). The clock restarts at every
    /// success, so this is the longest outage a batch rides out. Rate limiting (429) slows
    /// submissions down under this rule instead of failing the batch.
    #[must_use]
    pub fn outage_tolerance(mut self, tolerance: Duration) -> Self {
        self.outage_tolerance = tolerance;
        self
    }

    /// How much the batch may read again, as a share of one full runs stream of its group
    /// (default [`BatchOptions::DEFAULT_REREAD`], 0.5). Results are read in bulk by sweeps of
    /// the runs stream, which also bring back results already delivered when runs finish out
    /// of order; a sweep waits for more runs to finish while it would read too much again. At
    /// real latencies with a wide spread (`core`, `pro` and up, a group that queues), a larger
    /// share hands results over sooner for more bytes; `0` reads each result once, late.
    #[must_use]
    pub fn reread(mut self, share: f64) -> Self {
        self.reread = share;
        self
    }

    /// Positions the caller already holds the result of (say, rows written before a crash):
    /// an input at such a position is neither submitted nor delivered, and resuming does not
    /// index its run, so memory stays bounded by what is left to do.
    #[must_use]
    pub fn skip(mut self, done: impl Fn(u64) -> bool + Send + Sync + 'static) -> Self {
        self.skip = Some(Arc::new(done));
        self
    }
}
