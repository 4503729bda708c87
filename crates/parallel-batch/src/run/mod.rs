//! The `run` command: the feed (input file -> rows), the client's batch engine, and the sink
//! (results -> output file, checkpoints), on one spine: a [`Job`] built once from the command
//! line is all they read. Resumes after any crash: the state beside the output names the
//! group, the token of the client tags and the rows the output holds, and the engine finds
//! the runs an earlier session created by their tags.

mod checks;
mod dry_run;
mod feed;
mod fixes;
mod follow;
mod job;
mod line_map;
mod open;
mod plan;
mod rebuild;
mod report;
mod rewrite;
mod row_hashes;
mod signals;
mod sink;
mod start;
mod stdio;
mod waiting;
pub(crate) mod watch;
mod whole;

use std::sync::Arc;
use std::time::Instant;

use parallel_client::batch::StartedBatch;

use crate::error::Error;
use crate::files::{OutputLock, earlier};
use crate::progress::{Progress, ProgressMode};
use crate::row_set::RowSet;
use crate::state::State;
pub(crate) use checks::{MAX_INPUT_CHARS, output_schema, processor};
pub(crate) use dry_run::dry_run;
use feed::Scanned;
use follow::Ending;
pub(crate) use job::{Backend, EMBEDDED, Job, parse_metadata, same_file, task_hash};
use open::{Changes, Opened};
use report::Report;
pub(crate) use report::Summary;
use signals::Signals;
use sink::Sink;
use start::Starting;
#[cfg(test)]
pub(crate) use start::options as batch_options;
pub(crate) use stdio::{copy_to_stdout, is_dash};
use waiting::Waiting;
pub(crate) use watch::{LastFailure, Watched};

/// Runs the `run` command to completion, interruption or error.
pub(crate) async fn run(
    mut job: Job,
    backend: &Backend,
    mode: ProgressMode,
    resume_command: &str,
) -> Result<Summary, Error> {
    let output = job.output.clone();
    let stdio = stdio::redirect(&mut job)?;
    let resume = stdio.is_none().then_some(resume_command);
    let mut summary = run_job(&job, backend, mode, resume).await?;
    if let Some(stdio) = stdio {
        stdio.finish()?;
        summary.output = output;
    }
    Ok(summary)
}

/// Runs the job on files; `resume_command` is `None` when it cannot be resumed.
async fn run_job(
    job: &Job,
    backend: &Backend,
    mode: ProgressMode,
    resume_command: Option<&str>,
) -> Result<Summary, Error> {
    let started_at = Instant::now();
    let mut signals = Signals::new()?;
    let files = job.files();
    // Held to the end of the run: a second run on this output stops here. Let go, and
    // removed, however the run ends.
    let _lock = OutputLock::acquire(&files)?;
    let moved = earlier::take_over(&files)?;
    files.remove_stale();
    let (scanned, state, resumed, changes) = tokio::select! {
        stop = signals.recv() => return Err(report::stopped_early(stop, resume_command)),
        prepared = prepare(job, backend, mode == ProgressMode::Quiet) => match prepared? {
            Prepared::Complete(summary) => return Ok(summary),
            Prepared::Ready { scanned, state, resumed, changes } => {
                (scanned, state, resumed, changes)
            }
        },
    };
    let mut progress = Progress::new(mode, scanned.total);
    progress.update(RowSet::from_ranges(&state.submitted).len(), &state.counts);
    if !moved.is_empty() {
        progress.println(&format!(
            "Moved this job's files ({}) into {}.",
            moved.join(", "),
            files.dir().display()
        ));
    }
    if let Some(note) = scanned.delimiter.and_then(|d| d.notice(&job.input)) {
        progress.println(&note);
    }
    let stopping = Stopping {
        signals: &mut signals,
        progress: &progress,
        resume_command,
    };
    let (mut sink, batch) =
        open_and_start(job, backend, state, &scanned, resumed, stopping).await?;
    sink.set_lines(scanned.lines.clone(), job.input_format.unit());
    announce(
        &progress,
        job,
        &batch,
        &sink,
        scanned.total,
        resumed,
        changes,
    );
    let report = Report {
        job,
        backend,
        resume_command,
        total: scanned.total,
        group_id: batch.group_id().to_owned(),
        resumed,
        duplicate_runs: batch.duplicates(),
        started_at,
        written_at_start: sink.written.len(),
        submitted_at_start: sink.submitted.len(),
        changes,
    };
    let (rows, feed_error) = feed::rows(job, &scanned, Arc::new(sink.written.clone()));
    let items = batch.run(rows);
    let waiting = Waiting::new(job.waiting_notice, backend);
    let ending = follow::follow(
        items,
        feed_error,
        &mut sink,
        &mut progress,
        waiting,
        &mut signals,
    )
    .await?;
    let ending = check_complete(ending, &sink, scanned.total, job);
    if matches!(ending, Ending::Done) {
        sink.finish(job.rows_order())?;
        whole::write(job, &scanned, sink.state_mut())?;
    } else {
        sink.checkpoint(false)?;
    }
    progress.finish(sink.submitted.len(), &sink.counts);
    report.end(ending, &sink, &progress)
}

/// What stops a run before its batch started, and where it says so.
struct Stopping<'a> {
    signals: &'a mut Signals,
    progress: &'a Progress,
    resume_command: Option<&'a str>,
}

/// The sink and the started engine. A job resumed opens its output first (a file changed
/// since is refused before the server is asked anything); a new job starts first, and saves
/// its state and makes its output only once its group exists, so that a start that fails
/// leaves nothing behind.
async fn open_and_start(
    job: &Job,
    backend: &Backend,
    mut state: State,
    scanned: &Scanned,
    resumed: bool,
    stopping: Stopping<'_>,
) -> Result<(Sink, StartedBatch), Error> {
    let command = stopping.resume_command.unwrap_or("parallel-batch run ...");
    if resumed {
        let mut sink = Sink::open(job, state, scanned.columns.as_deref())?;
        let (state, written) = sink.parts();
        let starting = Starting {
            state,
            written,
            new_job: None,
        };
        let start = start::start(backend, job, starting, command);
        let batch = until_stopped(start, job, backend, stopping).await?;
        return Ok((sink, batch));
    }
    let starting = Starting {
        state: &mut state,
        written: &RowSet::default(),
        new_job: Some(&scanned.row_hashes),
    };
    let start = start::start(backend, job, starting, command);
    let batch = until_stopped(start, job, backend, stopping).await?;
    open::replace_link(job)?;
    let sink = Sink::open(job, state, scanned.columns.as_deref())?;
    Ok((sink, batch))
}

/// `start`'s outcome, unless a signal comes first; says that it waits while the server is
/// silent.
async fn until_stopped<T>(
    start: impl Future<Output = Result<T, Error>>,
    job: &Job,
    backend: &Backend,
    stopping: Stopping<'_>,
) -> Result<T, Error> {
    tokio::select! {
        started = start => started,
        stop = stopping.signals.recv() => Err(report::stopped_early(stop, stopping.resume_command)),
        () = Waiting::new(job.waiting_notice, backend).notify_forever(stopping.progress) => unreachable!(),
    }
}

/// The job's input checked and its state found or made: work to do, or a job an earlier
/// run finished.
#[allow(clippy::large_enum_variant)] // one, once a run
enum Prepared {
    Complete(Summary),
    Ready {
        scanned: Scanned,
        state: State,
        resumed: bool,
        changes: Changes,
    },
}

async fn prepare(job: &Job, backend: &Backend, quiet: bool) -> Result<Prepared, Error> {
    let scanned = feed::scan(job).await?;
    // What the job is about to cost, refused over --max-cost before the state is written.
    let plan = plan::plan(job, &backend.label, backend.embedded, &scanned)?;
    plan::announce(job, &plan, quiet)?;
    let mut opened = open::open_state(job, backend, &scanned)?;
    let mut rebuilt = false;
    if let Opened::Lost(mut state) = opened {
        rebuild::rebuild(job, backend, &scanned, &mut state).await?;
        rebuilt = true;
        opened = open::open_state(job, backend, &scanned)?;
    }
    Ok(match opened {
        Opened::Complete(mut state) => {
            whole::ensure(job, &scanned, &mut state)?;
            let mut summary = report::already_complete(job, &state, scanned.total);
            summary.rebuilt = rebuilt;
            Prepared::Complete(summary)
        }
        Opened::Ready {
            state,
            resumed,
            changes,
        } => Prepared::Ready {
            scanned,
            state,
            resumed,
            changes: Changes { rebuilt, ..changes },
        },
        Opened::Lost(_) => {
            return Err(Error::state(format!(
                "{} is still missing after it was written again",
                job.output.display()
            )));
        }
    })
}

/// What this run is about to do, when it is not simply the start of a job.
fn announce(
    progress: &Progress,
    job: &Job,
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
    if changes.rebuilt {
        progress.println(&format!(
            "Wrote the {} rows of {} again from group {}: read back, none was sent again.",
            sink.written.len(),
            job.rows_are_in(),
            batch.group_id()
        ));
    }
    if changes.fixed > 0 {
        progress.println(&format!(
            "{} rejected rows were fixed in {}: sending them again; their lines will be \
             replaced.",
            changes.fixed,
            job.input.display()
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
    } else if job.retry_failed && sink.written.len() < total {
        progress.println(
            "--retry-failed: the job is not finished; finishing it first (run with \
             --retry-failed again afterwards to retry its failed rows).",
        );
    }
}

/// A batch that ended without every row counted at the start written is a failure.
fn check_complete(ending: Ending, sink: &Sink, total: u64, job: &Job) -> Ending {
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
                job.input.display()
            )))
        }
        other => other,
    }
}
