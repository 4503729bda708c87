//! The end of a `run`: the summary of a finished job, or the error with what to do next.

use std::path::PathBuf;
use std::time::Instant;

use super::follow::Ending;
use super::job::{Backend, Job};
use super::open::Changes;
use super::signals::Stop;
use super::sink::Sink;
use crate::counts::Counts;
use crate::error::Error;
use crate::files::Companion;
use crate::progress::Progress;
use crate::state::State;

/// What a finished `run` reports.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct Summary {
    pub(crate) group_id: String,
    pub(crate) output: PathBuf,
    pub(crate) total: u64,
    /// The rows written, by how their runs ended.
    #[serde(flatten)]
    pub(crate) counts: Counts,
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
    /// The output of the finished job was gone and was written again from its group (no
    /// row was sent again).
    pub(crate) rebuilt: bool,
}

/// Why a job on standard input or output has no command to resume it.
const NOT_RESUMABLE: &str = "This job ran on standard input or output, which cannot be \
    resumed: run it with files (INPUT -o OUTPUT) to be able to resume.";

/// What the end of a `run` reports from.
pub(crate) struct Report<'a> {
    pub(crate) job: &'a Job,
    pub(crate) backend: &'a Backend,
    /// `None` for a job on standard input or output.
    pub(crate) resume_command: Option<&'a str>,
    pub(crate) total: u64,
    pub(crate) group_id: String,
    pub(crate) resumed: bool,
    pub(crate) duplicate_runs: u64,
    pub(crate) started_at: Instant,
    pub(crate) written_at_start: u64,
    pub(crate) submitted_at_start: u64,
    pub(crate) changes: Changes,
}

impl Report<'_> {
    /// The summary of a finished job, or the error, with what to do next on stderr.
    pub(crate) fn end(
        self,
        ending: Ending,
        sink: &Sink,
        progress: &Progress,
    ) -> Result<Summary, Error> {
        let written = sink.written.len();
        let rows_are_in = self.job.rows_are_in();
        let stopped = format!("{written} of {} rows are in {rows_are_in}", self.total);
        match ending {
            Ending::Failed(error) => {
                progress.advise(&self.after_failure(&error, &stopped));
                Err(error)
            }
            Ending::Stopped(stop) => {
                crate::progress::notice("interrupted", &self.after_interruption(&stopped));
                Err(stop.error())
            }
            Ending::Done => Ok(self.summary(sink, progress.throttled())),
        }
    }

    /// What to do after `error` stopped the job.
    fn after_failure(&self, error: &Error, stopped: &str) -> String {
        let out_of_credit = error.is_insufficient_credit();
        match (self.resume_command, out_of_credit) {
            (Some(command), true) => format!(
                "Stopped: the account is out of credit (402 Payment Required). {stopped}; the \
                 runs already submitted go on and the next run collects them. Add credit to \
                 the account, then run the same command to finish the job:\n  {command}"
            ),
            (None, true) => format!(
                "Stopped: the account is out of credit (402 Payment Required). {NOT_RESUMABLE}"
            ),
            (Some(command), false) => format!(
                "Stopped. {stopped}. Fix the cause, then run the same command to resume:\n  \
                 {command}"
            ),
            (None, false) => format!("Stopped. {NOT_RESUMABLE}"),
        }
    }

    /// What to do after a signal stopped the job.
    fn after_interruption(&self, stopped: &str) -> String {
        let note = if self.backend.embedded {
            " (the embedded emulator stops with this process: rows not yet written will be \
             sent again to a new group)"
        } else {
            " (submitted runs keep running on the server)"
        };
        match self.resume_command {
            Some(command) => format!(
                "Interrupted. {stopped}{note}. To resume, run the same command again:\n  \
                 {command}"
            ),
            None => format!("Interrupted. {NOT_RESUMABLE}"),
        }
    }

    fn summary(self, sink: &Sink, throttled: u64) -> Summary {
        let seconds = self.started_at.elapsed().as_secs_f64();
        let written_now = sink.written.len() - self.written_at_start;
        #[allow(clippy::cast_precision_loss)]
        let rows_per_second = if seconds > 0.0 {
            written_now as f64 / seconds
        } else {
            0.0
        };
        Summary {
            group_id: self.group_id,
            output: self.job.output.clone(),
            total: self.total,
            counts: sink.counts,
            submitted_now: sink.submitted.len().saturating_sub(self.submitted_at_start),
            written_now,
            resumed: self.resumed,
            seconds,
            rows_per_second,
            complete: true,
            duplicate_runs: self.duplicate_runs,
            fixed: self.changes.fixed,
            retried: self.changes.retried,
            throttled,
            rebuilt: self.changes.rebuilt,
        }
    }
}

/// The error of a run a signal stopped before its batch started, having said what to do.
pub(crate) fn stopped_early(stop: Stop, resume_command: Option<&str>) -> Error {
    let message = match resume_command {
        Some(command) => format!(
            "Interrupted before the batch started. To start it, run the same command again:\n  \
             {command}"
        ),
        None => format!("Interrupted before the batch started. {NOT_RESUMABLE}"),
    };
    crate::progress::notice("interrupted", &message);
    stop.error()
}

/// The summary of a job an earlier run finished.
pub(crate) fn already_complete(job: &Job, state: &State, total: u64) -> Summary {
    Summary {
        group_id: state.group_id.clone().unwrap_or_default(),
        output: job.output.clone(),
        total,
        counts: state.counts,
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
        rebuilt: false,
    }
}

/// The rows sent again, `3 fixed rows sent again, 2 failed rows retried`, if any.
pub(crate) fn sent_again(fixed: u64, retried: u64) -> Option<String> {
    let mut again = Vec::new();
    if fixed > 0 {
        again.push(format!("{fixed} fixed rows sent again"));
    }
    if retried > 0 {
        again.push(format!("{retried} failed rows retried"));
    }
    (!again.is_empty()).then(|| again.join(", "))
}

impl Summary {
    /// Prints the summary: JSON on standard output with `json`, else a few lines on standard
    /// error.
    pub(crate) fn print(&self, json: bool) {
        let summary = self;
        if json {
            println!(
                "{}",
                serde_json::to_string(summary).unwrap_or_else(|_| "{}".to_owned())
            );
            return;
        }
        if summary.rebuilt && summary.written_now == 0 {
            eprintln!(
                "Wrote {} again from group {}: all {} rows ({} completed, {} failed, {} \
                 rejected), read back from the group; none was sent again.",
                summary.output.display(),
                summary.group_id,
                summary.total,
                summary.counts.completed,
                summary.counts.failed,
                summary.counts.rejected
            );
            return;
        }
        if summary.written_now == 0 && summary.complete && summary.resumed {
            eprintln!(
                "Nothing to do: all {} rows are already in {} (group {}). To run the job \
                 again from the start, sending (and paying for) every row again, delete {} \
                 and {}.",
                summary.total,
                summary.output.display(),
                summary.group_id,
                summary.output.display(),
                Companion::of(&summary.output).dir().display()
            );
            return;
        }
        let rejected = if summary.counts.rejected > 0 {
            format!(", {} rejected by the API", summary.counts.rejected)
        } else {
            String::new()
        };
        let again = sent_again(summary.fixed, summary.retried)
            .map(|again| format!("; {again}"))
            .unwrap_or_default();
        eprintln!(
            "Done: {} rows in {} ({} completed, {} failed{rejected}{again}) in {:.1} s ({:.0} rows/s). Group: {}",
            summary.total,
            summary.output.display(),
            summary.counts.completed,
            summary.counts.failed,
            summary.seconds,
            summary.rows_per_second,
            summary.group_id
        );
        if summary.throttled > 0 {
            eprintln!(
                "The API throttled the batch {} times (429 Too Many Requests): it slowed down and \
             retried; nothing was lost.",
                summary.throttled
            );
        }
        if summary.duplicate_runs > 0 {
            eprintln!(
                "warning: the group holds {} duplicate runs for rows already submitted; each row \
             is written once",
                summary.duplicate_runs
            );
        }
    }
}
