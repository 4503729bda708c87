//! How many runs a job is about to send, from its input and the state an earlier run left,
//! read without writing anything: what the cost estimate counts, so that `--dry-run` and
//! `--max-cost` answer before the job's files are touched or a group is made.
//!
//! The count leans high, never low: rows an earlier run sent but did not record (a crash
//! right after an add-runs request) count as still to send, though the engine will find
//! them in the group and not send them again.

use parallel_client::pricing::Estimate;

use super::feed::Scanned;
use super::fixes;
use super::job::Job;
use super::open;
use crate::error::Error;
use crate::row_set::RowSet;

/// What a run of the job would send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Plan {
    /// Rows in the input.
    pub(crate) rows: u64,
    /// Rows in the output already, not sent again.
    pub(crate) written: u64,
    /// Runs to send.
    pub(crate) runs: u64,
    /// Rejected rows fixed in the input, among the runs to send.
    pub(crate) fixed: u64,
    /// Failed rows sent again (`--retry-failed`), among the runs to send.
    pub(crate) retried: u64,
    /// An earlier run's state is taken up.
    pub(crate) resumed: bool,
}

/// The plan of `job` on the backend `label` (`embedded`: the embedded emulator), with the
/// checks a run makes before it sends anything: an output that is not the job's, a state
/// of another task or input, edits of rows that were sent, another backend.
pub(crate) fn plan(
    job: &Job,
    label: &str,
    embedded: bool,
    scanned: &Scanned,
) -> Result<Plan, Error> {
    let Some(state) = open::earlier_state(job, scanned)? else {
        open::check_new_output(job)?;
        return Ok(Plan {
            rows: scanned.total,
            written: 0,
            runs: scanned.total,
            fixed: 0,
            retried: 0,
            resumed: false,
        });
    };
    open::check_resumable(job, &state, scanned)?;
    let mut written = RowSet::from_ranges(&state.written);
    let mut fixed = 0;
    if state.input != scanned.fingerprint {
        for row in fixes::fixed_rows(job, &state, scanned)? {
            written.remove(row);
            fixed += 1;
        }
    }
    let mut retried = 0;
    if job.retry_failed && state.complete && fixed == 0 {
        for &[start, end] in &state.failed_rows {
            for row in start..end {
                written.remove(row);
                retried += 1;
            }
        }
    }
    let complete = state.complete && fixed == 0 && retried == 0;
    if !complete {
        open::check_backend(job, &state, label, embedded)?;
    }
    // Rows the job's group has already, from this round of the job; a row sent again (fixed
    // or retried) goes out under a new tag, so its earlier run does not count.
    let superseded = RowSet::from_ranges(&state.superseded);
    let mut sent_before = 0;
    if !complete && retried == 0 && !open::keeps_no_group(job, &state) {
        for &[start, end] in &state.submitted {
            sent_before += (start..end)
                .filter(|&row| !written.contains(row) && !superseded.contains(row))
                .count() as u64;
        }
    }
    let unwritten = scanned.total.saturating_sub(written.len());
    Ok(Plan {
        rows: scanned.total,
        written: written.len(),
        runs: if complete {
            0
        } else {
            unwritten.saturating_sub(sent_before)
        },
        fixed,
        retried,
        resumed: true,
    })
}

/// Before a run sends anything: the estimate of what it is about to send, checked against
/// `--max-cost` (an error: nothing is sent), and said on stderr unless `quiet` (a JSON line
/// with `--json`). A job with nothing to send says nothing.
pub(crate) fn announce(job: &Job, plan: &Plan, quiet: bool) -> Result<(), Error> {
    let estimate = job.pricing.check(&job.processor, plan.runs)?;
    if quiet || plan.runs == 0 {
        return Ok(());
    }
    let message = describe(job, plan, estimate.as_ref());
    crate::progress::notice_with(
        "estimate",
        &message,
        json_members(job, plan, estimate.as_ref()),
    );
    Ok(())
}

/// The estimate as a sentence: `Estimated cost: 240 runs on lite-fast: about USD 1.20 (USD 5
/// per 1,000 runs).`, with the rows already written on a resume.
pub(crate) fn describe(job: &Job, plan: &Plan, estimate: Option<&Estimate>) -> String {
    let written = if plan.resumed {
        format!(
            " ({} of the {} rows are written already)",
            plan.written, plan.rows
        )
    } else {
        String::new()
    };
    match estimate {
        Some(estimate) => format!("Estimated cost: {estimate}{written}."),
        None => format!(
            "No cost estimate for {} runs{written}: {}.",
            plan.runs,
            crate::cost::no_price(&job.processor)
        ),
    }
}

/// The plan and its estimate as JSON members: `rows`, `written`, `runs`, `fixed`,
/// `retried`, `processor`, `usd`, `usd_per_1000`.
pub(crate) fn json_members(
    job: &Job,
    plan: &Plan,
    estimate: Option<&Estimate>,
) -> serde_json::Map<String, serde_json::Value> {
    let mut members = serde_json::Map::new();
    members.insert("rows".into(), plan.rows.into());
    members.insert("written".into(), plan.written.into());
    members.insert("runs".into(), plan.runs.into());
    members.insert("fixed".into(), plan.fixed.into());
    members.insert("retried".into(), plan.retried.into());
    members.extend(crate::cost::json_members(estimate, &job.processor));
    members
}
