//! The `run` command: the feed (input file -> rows), the client's batch engine, and the sink
//! (results -> output file, checkpoints). Resumes after any crash: the state beside the
//! output names the group, the token of the client tags and the rows the output holds, and
//! the engine finds the runs an earlier session created by their tags.

mod checks;
mod compact;
mod feed;
mod fixes;
mod job;
mod line_map;
mod lock;
mod row_hashes;
mod sink;
mod stdio;
mod waiting;
mod whole;

pub(crate) use stdio::{copy_to_stdout, is_dash};

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use parallel_client::Client;
use parallel_client::batch::{BatchItem, BatchOptions, BatchStream, StartedBatch};
use parallel_types::MetadataValue;
use tokio::sync::oneshot;

use crate::Error;
use crate::cli::RunArgs;
use crate::progress::{Progress, ProgressMode};
pub(crate) use checks::MAX_INPUT_CHARS;
#[cfg(feature = "parquet")]
pub(crate) use compact::sync_dir;
use job::{Job, Opened};
pub(crate) use lock::OutputLock;
use sink::Sink;
use waiting::Waiting;

/// How often the output is made durable and the state saved.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

/// Where the runs go.
pub(crate) struct Backend {
    pub(crate) client: Client,
    /// `embedded-emulator`, or the base URL.
    pub(crate) label: String,
    pub(crate) embedded: bool,
}

/// What a finished (or interrupted) `run` reports.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct Summary {
    pub(crate) group_id: String,
    pub(crate) output: PathBuf,
    pub(crate) total: u64,
    pub(crate) completed: u64,
    pub(crate) failed: u64,
    pub(crate) rejected: u64,
    pub(crate) submitted_now: u64,
    pub(crate) written_now: u64,
    pub(crate) resumed: bool,
    pub(crate) seconds: f64,
    pub(crate) rows_per_second: f64,
    pub(crate) complete: bool,
    pub(crate) duplicate_runs: u64,
    /// Rejected rows fixed in the input and sent again by this run.
    pub(crate) fixed: u64,
    /// Failed rows sent again by this run (`--retry-failed`).
    pub(crate) retried: u64,
    /// `429` (too many requests) answers this run met and rode out.
    pub(crate) throttled: u64,
}

/// How the item loop ended.
enum Ending {
    Done,
    /// Stopped by a signal: SIGINT (`false`) or SIGTERM (`true`).
    Interrupted {
        terminated: bool,
    },
    Failed(Error),
}

/// Runs the `run` command to completion, interruption or error.
pub(crate) async fn run(
    args: &RunArgs,
    backend: &Backend,
    mode: ProgressMode,
    resume_command: &str,
) -> Result<Summary, Error> {
    let (files, stdio) = stdio::redirect(args)?;
    let resume = if stdio.is_some() {
        None
    } else {
        Some(resume_command)
    };
    let mut summary = run_job(&files, backend, mode, resume).await?;
    if let Some(stdio) = stdio {
        stdio.finish()?;
        summary.output.clone_from(&args.output);
    }
    Ok(summary)
}

/// Refuses an input that cannot be read (a wrong path, a directory) before anything else
/// happens: before a backend is picked or started, and before the output is locked (which
/// leaves its `.lock` file).
pub(crate) fn check_input(args: &RunArgs) -> Result<(), Error> {
    let path = &args.input;
    if stdio::is_dash(path) {
        return Ok(());
    }
    let cannot = |e: std::io::Error| Error::input_file(path, format!("cannot be opened: {e}"));
    let metadata = std::fs::metadata(path).map_err(cannot)?;
    if metadata.is_dir() {
        return Err(Error::input_file(
            path,
            "is a directory; give the CSV, JSONL or Parquet file to read",
        ));
    }
    // A regular file is opened to see that it can be read; a pipe is not (it is read once,
    // by the job).
    if metadata.is_file() {
        std::fs::File::open(path).map_err(cannot)?;
    }
    Ok(())
}

/// Refuses an output that cannot be made (a directory, a path in a directory that does not
/// exist) before anything else happens, with the reason in the user's terms rather than
/// those of the first file the tool would make beside it.
pub(crate) fn check_output(path: &Path) -> Result<(), Error> {
    if stdio::is_dash(path) {
        return Ok(());
    }
    if path.is_dir() {
        return Err(Error::usage(format!(
            "{} is a directory; give the name of the file to write",
            path.display()
        )));
    }
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    match std::fs::metadata(dir) {
        Ok(metadata) if metadata.is_dir() => Ok(()),
        Ok(_) => Err(Error::usage(format!(
            "cannot write {}: {} is not a directory",
            path.display(),
            dir.display()
        ))),
        Err(e) => Err(Error::usage(format!(
            "cannot write {}: its directory {} {}",
            path.display(),
            dir.display(),
            if e.kind() == std::io::ErrorKind::NotFound {
                "does not exist".to_owned()
            } else {
                format!("cannot be read ({e})")
            }
        ))),
    }
}

/// Runs the job on files; `resume_command` is `None` when it cannot be resumed.
async fn run_job(
    args: &RunArgs,
    backend: &Backend,
    mode: ProgressMode,
    resume_command: Option<&str>,
) -> Result<Summary, Error> {
    let started_at = Instant::now();
    let job = Job::prepare(args)?;
    // Held to the end of the run: a second run on this output stops here.
    let _lock = lock::OutputLock::acquire(&args.output)?;
    let scanned = feed::scan(args.input.clone(), &job).await?;
    let (state, resumed, changes) = match job::open_state(args, backend, &job, &scanned)? {
        Opened::Complete(mut state) => {
            whole::ensure(args, &job, &scanned, &mut state)?;
            return Ok(already_complete(args, &state, scanned.total));
        }
        Opened::Ready {
            state,
            resumed,
            fixed,
            retried,
        } => (state, resumed, Changes { fixed, retried }),
    };
    let mut sink = Sink::open(
        &args.output,
        &whole::rows_path(&args.output, job.output_format),
        job.output_format.appended(),
        state,
        scanned.columns.as_deref(),
        job.task.output_fields.as_deref(),
    )?;
    sink.set_lines(scanned.lines.clone(), job.input_format.unit());
    let mut progress = Progress::new(mode, sink.counts, &backend.client);
    let notice_every = Duration::from_secs_f64(args.waiting_notice.max(0.0));
    let batch = tokio::select! {
        started = start(backend, &job, &mut sink, resume_command.unwrap_or("parallel-batch run ...")) => started?,
        () = Waiting::new(notice_every).notify_forever(&progress) => unreachable!(),
    };
    let duplicate_runs = batch.duplicates();
    announce(
        &progress,
        args,
        &batch,
        &sink,
        scanned.total,
        resumed,
        changes,
    );
    let group_id = batch.group_id().to_owned();
    let (written_at_start, submitted_at_start) = (sink.written.len(), sink.submitted.len());
    let written = Arc::new(sink.written.clone());
    let (rows, feed_error) = feed::rows(
        args.input.clone(),
        job.input_format,
        job.map.clone(),
        written,
        (!job.metadata.is_empty()).then(|| job.metadata.clone()),
        job.max_row_lines,
    );
    let items = batch.run(rows);
    let waiting = Waiting::new(notice_every);
    let ending = follow(items, feed_error, &mut sink, &mut progress, waiting).await?;
    let ending = check_complete(ending, &sink, scanned.total, &args.input);
    if matches!(ending, Ending::Done) {
        sink.finish()?;
        whole::write(args, &job, &scanned, sink.state_mut())?;
    } else {
        sink.checkpoint(false)?;
    }
    progress.finish(&sink.counts);
    let report = Report {
        args,
        format: job.output_format,
        backend,
        resume_command,
        total: scanned.total,
        group_id,
        resumed,
        duplicate_runs,
        started_at,
        written_at_start,
        submitted_at_start,
        changes,
    };
    report.end(ending, &sink, &progress)
}

/// Rows sent again in this run.
#[derive(Debug, Clone, Copy, Default)]
struct Changes {
    /// Rejected rows the user fixed in the input.
    fixed: u64,
    /// Failed rows (`--retry-failed`).
    retried: u64,
}

/// What this run is about to do, when it is not simply the start of a job.
fn announce(
    progress: &Progress,
    args: &RunArgs,
    batch: &StartedBatch,
    sink: &Sink,
    total: u64,
    resumed: bool,
    changes: Changes,
) {
    if resumed && batch.resumed() + sink.written.len() > 0 {
        progress.println(&format!(
            "Resuming group {}: {} of {} rows written, {} more submitted earlier.",
            batch.group_id(),
            sink.written.len(),
            total,
            batch.resumed()
        ));
    }
    if changes.fixed > 0 {
        progress.println(&format!(
            "{} rejected rows were fixed in {}: sending them again; their lines will be \
             replaced.",
            changes.fixed,
            args.input.display()
        ));
    }
    if changes.retried > 0 {
        progress.println(&format!(
            "Retrying {} failed rows as new runs in group {}; their lines will be replaced.",
            changes.retried,
            batch.group_id()
        ));
    } else if sink.state().retrying > 0 {
        progress.println(&format!(
            "Resuming the retry of {} failed rows.",
            sink.state().retrying
        ));
    } else if args.retry_failed && sink.written.len() < total {
        progress.println(
            "--retry-failed: the job is not finished; finishing it first (run with \
             --retry-failed again afterwards to retry its failed rows).",
        );
    }
}

/// A batch that ended without every row counted at the start written is a failure.
fn check_complete(ending: Ending, sink: &Sink, total: u64, input: &std::path::Path) -> Ending {
    match ending {
        Ending::Done if sink.written.len() < total => {
            // Every row counted in the first pass must have been read, submitted and
            // written. Anything else (the file shrank while the batch ran) must not end as a
            // success with rows missing.
            Ending::Failed(Error::state(format!(
                "the input ended early: {} of the {} rows counted at the start were read and \
                 written (did {} change while the batch ran?)",
                sink.written.len(),
                total,
                input.display()
            )))
        }
        other => other,
    }
}

/// Why a job on standard input or output has no command to resume it.
const NOT_RESUMABLE: &str = "This job ran on standard input or output, which cannot be \
    resumed: run it with files (INPUT -o OUTPUT) to be able to resume.";

/// What the end of a `run` reports from.
struct Report<'a> {
    args: &'a RunArgs,
    format: crate::OutputFormat,
    backend: &'a Backend,
    /// `None` for a job on standard input or output.
    resume_command: Option<&'a str>,
    total: u64,
    group_id: String,
    resumed: bool,
    duplicate_runs: u64,
    started_at: Instant,
    written_at_start: u64,
    submitted_at_start: u64,
    changes: Changes,
}

impl Report<'_> {
    /// The summary of a finished job, or the error, with what to do next on stderr.
    fn end(self, ending: Ending, sink: &Sink, progress: &Progress) -> Result<Summary, Error> {
        let (args, total, resume_command) = (self.args, self.total, self.resume_command);
        let written = sink.written.len();
        match ending {
            Ending::Failed(error) if error.is_insufficient_credit() => {
                progress.advise(&match resume_command {
                    Some(command) => format!(
                        "Stopped: the account is out of credit (402 Payment Required). {written} of {total} rows are in {}; the runs already submitted go on and the next run collects them. Add credit to the account, then run the same command to finish the job:\n  {command}",
                        whole::rows_are_in(&args.output, self.format)
                    ),
                    None => format!(
                        "Stopped: the account is out of credit (402 Payment Required). {NOT_RESUMABLE}"
                    ),
                });
                Err(error)
            }
            Ending::Failed(error) => {
                progress.advise(&match resume_command {
                    Some(command) => format!(
                        "Stopped. {written} of {total} rows are in {}. Fix the cause, then run the same command to resume:\n  {command}",
                        whole::rows_are_in(&args.output, self.format)
                    ),
                    None => format!("Stopped. {NOT_RESUMABLE}"),
                });
                Err(error)
            }
            Ending::Interrupted { terminated } => {
                let note = if self.backend.embedded {
                    " (the embedded emulator stops with this process: rows not yet written will be sent again to a new group)"
                } else {
                    " (submitted runs keep running on the server)"
                };
                let message = match resume_command {
                    Some(command) => format!(
                        "Interrupted. {written} of {total} rows are in {}{note}. To resume, run the same command again:\n  {command}",
                        whole::rows_are_in(&args.output, self.format)
                    ),
                    None => format!("Interrupted. {NOT_RESUMABLE}"),
                };
                crate::progress::notice("interrupted", &message);
                Err(if terminated {
                    Error::terminated()
                } else {
                    Error::interrupted()
                })
            }
            Ending::Done => {
                let seconds = self.started_at.elapsed().as_secs_f64();
                let written_now = written - self.written_at_start;
                #[allow(clippy::cast_precision_loss)]
                let rows_per_second = if seconds > 0.0 {
                    written_now as f64 / seconds
                } else {
                    0.0
                };
                Ok(Summary {
                    group_id: self.group_id,
                    output: args.output.clone(),
                    total,
                    completed: sink.counts.completed,
                    failed: sink.counts.failed,
                    rejected: sink.counts.rejected,
                    submitted_now: sink.submitted.len().saturating_sub(self.submitted_at_start),
                    written_now,
                    resumed: self.resumed,
                    seconds,
                    rows_per_second,
                    complete: true,
                    duplicate_runs: self.duplicate_runs,
                    fixed: self.changes.fixed,
                    retried: self.changes.retried,
                    throttled: self.backend.client.rate_limited_answers(),
                })
            }
        }
    }
}

/// Starts the engine on the job's group (made now, or the one the state names) and records
/// the group and token in the state before any run is created.
async fn start(
    backend: &Backend,
    job: &Job,
    sink: &mut Sink,
    resume_command: &str,
) -> Result<StartedBatch, Error> {
    let state = sink.state();
    let written = Arc::new(sink.written.clone());
    let mut options = BatchOptions::new(job.spec.clone(), job.processor.clone())
        .token(state.token.clone())
        .chunk_size(job.chunk_size)
        .max_in_flight(job.max_in_flight)
        .skip(move |row| written.contains(row));
    if let Some(group) = &state.group_id {
        options = options.group(group.clone());
    } else {
        let mut metadata = job.metadata.clone();
        metadata.insert(
            "batch_token".into(),
            MetadataValue::String(state.token.clone()),
        );
        options = options.group_metadata(metadata);
    }
    let had_group = state.group_id.is_some();
    let started = backend.client.batch(options).start().await.map_err(|e| {
        if had_group && e.status().is_some_and(|s| s.as_u16() == 404) {
            group_gone(state, sink.written.len(), resume_command)
        } else if had_group {
            Error::api("cannot open the task group to resume", e)
        } else {
            Error::api("cannot create the task group", e)
        }
    })?;
    sink.set_group(started.group_id(), started.token())?;
    Ok(started)
}

/// The job's group no longer exists on the server: what is kept, and how to go on.
fn group_gone(state: &crate::State, written: u64, resume_command: &str) -> Error {
    Error::state(format!(
        "the task group {} of this job is gone from {} (404 Not Found), so its runs cannot be \
         resumed. The {written} rows already in the output are kept; to send the other {} rows \
         to a new group, run the command again with --new-group:\n  {resume_command} --new-group",
        state.group_id.as_deref().unwrap_or("?"),
        state.backend,
        state.total_rows.saturating_sub(written),
    ))
}

/// Hands the engine's items to the sink until the batch ends, fails or is interrupted;
/// checkpoints along the way.
async fn follow(
    mut items: BatchStream,
    mut feed_error: oneshot::Receiver<Error>,
    sink: &mut Sink,
    progress: &mut Progress,
    mut waiting: Waiting,
) -> Result<Ending, Error> {
    let mut checkpoint = tokio::time::interval(CHECKPOINT_EVERY);
    checkpoint.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let interrupted = tokio::signal::ctrl_c();
    tokio::pin!(interrupted);
    let mut terminate = Terminate::new()?;
    // The feed's sender goes away without a word when the input was read to its end.
    let mut feeding = true;
    loop {
        tokio::select! {
            biased;
            _ = &mut interrupted => return Ok(Ending::Interrupted { terminated: false }),
            () = terminate.recv() => return Ok(Ending::Interrupted { terminated: true }),
            read = &mut feed_error, if feeding => match read {
                Ok(error) => return Ok(Ending::Failed(error)),
                Err(_) => feeding = false,
            },
            item = items.next() => match item {
                None => return Ok(Ending::Done),
                Some(Err(error)) => {
                    let what = if error.is_insufficient_credit() {
                        "the account is out of credit"
                    } else {
                        "the batch stopped"
                    };
                    return Ok(Ending::Failed(Error::api(what, error)));
                }
                Some(Ok(item)) => {
                    waiting.heard();
                    take(item, sink)?;
                }
            },
            _ = checkpoint.tick() => {
                sink.checkpoint(false)?;
                waiting.check(progress);
                progress.note_throttling();
            }
        }
        progress.update(&sink.counts);
    }
}

/// SIGTERM, handled like Ctrl-C (a service manager's or `kill`'s polite stop).
struct Terminate {
    #[cfg(unix)]
    signal: tokio::signal::unix::Signal,
}

impl Terminate {
    fn new() -> Result<Self, Error> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let signal = signal(SignalKind::terminate())
                .map_err(|e| Error::io("cannot listen for SIGTERM", e))?;
            Ok(Self { signal })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    async fn recv(&mut self) {
        #[cfg(unix)]
        if self.signal.recv().await.is_none() {
            std::future::pending::<()>().await;
        }
        #[cfg(not(unix))]
        std::future::pending::<()>().await;
    }
}

/// One item of the engine.
fn take(item: BatchItem, sink: &mut Sink) -> Result<(), Error> {
    match item {
        BatchItem::Result(result) => sink.result(&result),
        BatchItem::Rejected(rejection) => sink.rejected(&rejection),
        BatchItem::Submitted { runs, .. } => {
            sink.submitted(runs.iter().map(|(row, _)| *row));
            Ok(())
        }
        // Progress snapshots come about twice a second: a good moment to let the file grow.
        BatchItem::Progress(_) => sink.flush(),
        _ => Ok(()),
    }
}

fn already_complete(args: &RunArgs, state: &crate::State, total: u64) -> Summary {
    Summary {
        group_id: state.group_id.clone().unwrap_or_default(),
        output: args.output.clone(),
        total,
        completed: state.completed,
        failed: state.failed,
        rejected: state.rejected,
        submitted_now: 0,
        written_now: 0,
        resumed: true,
        seconds: 0.0,
        rows_per_second: 0.0,
        complete: true,
        duplicate_runs: 0,
        fixed: 0,
        retried: 0,
        throttled: 0,
    }
}
