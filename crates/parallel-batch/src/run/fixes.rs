//! Going on after the user fixed rows or wants failed runs again, without paying for the
//! other rows twice:
//!
//! - **fixed rows**: when the input changed since the job's last run, the rows' hashes say
//!   which rows changed. Rows written as rejected (they have no run) may change: they leave
//!   the "written" set and are sent again under the job's token. A change to any other row
//!   is refused, naming its line.
//! - **`--retry-failed`**: the rows whose runs failed leave the "written" set and are sent
//!   again in the same group under a new token, saved before anything is submitted, so a
//!   crash mid-retry resumes that round without duplicates.
//!
//! Either way the rows' old lines are marked superseded; the output is rewritten with each
//! row's last line when the job completes.

use super::feed::Scanned;
use super::job::Job;
use super::row_hashes;
use crate::error::Error;
use crate::row_set::RowSet;
use crate::state::State;

/// At most this many lines are named in a refusal.
const NAMED_LINES: usize = 5;

/// The input changed since the job's last run: accepts fixes of rejected rows (and returns
/// how many), or refuses. Saves the state, then the new row hashes.
pub(crate) fn accept(job: &Job, state: &mut State, scanned: &Scanned) -> Result<u64, Error> {
    let changed = fixed_rows(job, state, scanned)?;
    let files = job.files();
    let mut rejected = RowSet::from_ranges(&state.rejected_rows);
    let mut written = RowSet::from_ranges(&state.written);
    let mut superseded = RowSet::from_ranges(&state.superseded);
    for &row in &changed {
        rejected.remove(row);
        written.remove(row);
        superseded.insert(row);
    }
    let fixed = changed.len() as u64;
    state.written = written.ranges();
    state.rejected_rows = rejected.ranges();
    state.superseded = superseded.ranges();
    state.counts.rejected = state.counts.rejected.saturating_sub(fixed);
    state.input = scanned.fingerprint.clone();
    if fixed > 0 {
        state.complete = false;
    }
    state.save(&files.state())?;
    row_hashes::save(&files, &state.input.hash, &scanned.row_hashes)?;
    Ok(fixed)
}

/// The input changed since the job's last run: the rows fixed (rejected rows whose input
/// changed), or the refusal of any other change. Reads the job's files, writes nothing.
pub(crate) fn fixed_rows(job: &Job, state: &State, scanned: &Scanned) -> Result<Vec<u64>, Error> {
    let files = job.files();
    let state_file = files.state();
    let changed_since = || {
        Error::state(format!(
            "{} changed since this job started (its state is in {}); restore the original \
             input, or write to another output file",
            job.input.display(),
            state_file.display()
        ))
    };
    let Some(before) = row_hashes::load(&files, &state.input.hash) else {
        return Err(changed_since());
    };
    if before.len() != scanned.row_hashes.len() {
        return Err(Error::state(format!(
            "{} changed since this job started: it has {} rows, the job started with {} \
             (its state is in {}); restore the original rows (fix rejected rows in place, \
             without adding or removing rows), or write to another output file",
            job.input.display(),
            scanned.row_hashes.len(),
            before.len(),
            state_file.display()
        )));
    }
    let changed: Vec<u64> = (0u64..)
        .zip(before.iter().zip(&scanned.row_hashes))
        .filter(|(_, (a, b))| a != b)
        .map(|(row, _)| row)
        .collect();
    let rejected = RowSet::from_ranges(&state.rejected_rows);
    let not_fixable: Vec<u64> = changed
        .iter()
        .copied()
        .filter(|row| !rejected.contains(*row))
        .collect();
    if !not_fixable.is_empty() {
        return Err(refuse_edits(job, scanned, &not_fixable));
    }
    Ok(changed)
}

/// The refusal of edits to rows that have runs (or are still to be written), by line.
fn refuse_edits(job: &Job, scanned: &Scanned, rows: &[u64]) -> Error {
    let named = &rows[..rows.len().min(NAMED_LINES)];
    let lines: Vec<String> = named
        .iter()
        .map(|&row| match (job.input_format, scanned.lines.line(row)) {
            (crate::input::InputFormat::Parquet, _) | (_, None) => format!("row {row}"),
            (_, Some(line)) => format!("line {line} (row {row})"),
        })
        .collect();
    let more = if rows.len() > named.len() {
        format!(" and {} more", rows.len() - named.len())
    } else {
        String::new()
    };
    Error::state(format!(
        "{}: {}{more} changed since this job started, but only rows written as rejected may be \
         fixed and sent again (the others were already submitted). Restore those rows, or \
         write to another output file",
        job.input.display(),
        lines.join(", ")
    ))
}

/// Starts a `--retry-failed` round on a finished job: the failed rows are to be sent again
/// under a new token. Returns how many rows; the caller saves the state.
pub(crate) fn start_retry(state: &mut State, token: String) -> u64 {
    let failed = RowSet::from_ranges(&state.failed_rows);
    if failed.is_empty() {
        return 0;
    }
    let mut written = RowSet::from_ranges(&state.written);
    let mut superseded = RowSet::from_ranges(&state.superseded);
    for [start, end] in state.failed_rows.clone() {
        for row in start..end {
            written.remove(row);
            superseded.insert(row);
        }
    }
    let count = failed.len();
    state.written = written.ranges();
    state.superseded = superseded.ranges();
    state.failed_rows.clear();
    state.counts.failed = state.counts.failed.saturating_sub(count);
    let earlier = std::mem::replace(&mut state.token, token);
    state.earlier_tokens.push(earlier);
    state.retrying = count;
    state.complete = false;
    count
}
