//! The job's state: the one an earlier run left beside the output (taken up again, after
//! fixes, or for a retry of the failed rows), or a new one.

use super::feed::Scanned;
use super::fixes;
use super::job::{Backend, EMBEDDED, Job};
use super::row_hashes;
use crate::counts::Counts;
use crate::error::Error;
use crate::input::{InputFormat, delimiter_name, delimiter_shown};
use crate::state::{STATE_VERSION, State};

/// The job's state, as found or made.
pub(crate) enum Opened {
    /// An earlier run finished the job.
    Complete(State),
    /// The job's output, which held rows, is gone: to be written again from the job's
    /// group ([`super::rebuild`]).
    Lost(State),
    /// Work to do; `resumed` when an earlier run's state was taken up.
    Ready {
        state: State,
        resumed: bool,
        changes: Changes,
    },
}

/// Rows sent again in this run.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Changes {
    /// Rejected rows the user fixed in the input.
    pub(crate) fixed: u64,
    /// Failed rows (`--retry-failed`).
    pub(crate) retried: u64,
    /// The output of the finished job was gone and was written again from its group first.
    pub(crate) rebuilt: bool,
}

/// Loads the state beside the output (resume) or creates it, refusing an output that
/// belongs to another job.
pub(crate) fn open_state(job: &Job, backend: &Backend, scanned: &Scanned) -> Result<Opened, Error> {
    let files = job.files();
    let Some(mut state) = earlier_state(job, scanned)? else {
        return new_state(job, backend, scanned);
    };
    check_resumable(job, &state, scanned)?;
    if !state.written.is_empty() && output_lost(job, state.complete) {
        return Ok(Opened::Lost(state));
    }
    let fixed = if state.input == scanned.fingerprint {
        if row_hashes::load(&files, &state.input.hash).is_none() {
            row_hashes::save(&files, &state.input.hash, &scanned.row_hashes)?;
        }
        0
    } else {
        fixes::accept(job, &mut state, scanned)?
    };
    let retried = if job.retry_failed && state.complete {
        fixes::start_retry(&mut state, new_token())
    } else {
        0
    };
    if state.complete {
        return Ok(Opened::Complete(state));
    }
    check_backend(job, &state, &backend.label, backend.embedded)?;
    if keeps_no_group(job, &state) {
        // The embedded emulator died with the previous process (or the user says the group
        // is gone): its runs are gone. Keep what was written and send the other rows to a
        // new group.
        state.group_id = None;
        state.submitted.clear();
        state.token = new_token();
        state.earlier_tokens.clear();
    }
    // Saved before anything is submitted: a retry round's token above all.
    state.save(&files.state())?;
    Ok(Opened::Ready {
        state,
        resumed: true,
        changes: Changes {
            fixed,
            retried,
            rebuilt: false,
        },
    })
}

/// The state an earlier run of the job left, if it is worth taking up. Reads, writes
/// nothing.
pub(crate) fn earlier_state(job: &Job, scanned: &Scanned) -> Result<Option<State>, Error> {
    // A job that never got a row accepted (say the API refused the processor) holds nothing
    // worth keeping: a rerun with corrected options starts over instead of refusing.
    Ok(State::load(&job.files().state())?.filter(|s| {
        let fresh_start = s.submitted.is_empty() && s.written.is_empty();
        let differs = s.input != scanned.fingerprint
            || s.task_hash != job.task_hash
            || read_with(s, job) != used(scanned);
        !(fresh_start && differs)
    }))
}

/// Refuses to resume a job on another backend than the one it started on.
pub(crate) fn check_backend(
    job: &Job,
    state: &State,
    label: &str,
    embedded: bool,
) -> Result<(), Error> {
    if state.backend != label && !(state.backend == EMBEDDED && embedded) {
        return Err(Error::state(format!(
            "{} was started against {}, not {label}; rerun with the same backend",
            job.output.display(),
            state.backend,
        )));
    }
    Ok(())
}

/// Whether a resumed job's group is left behind (its rows not yet written go to a new
/// one): the embedded emulator's died with the process that ran it, or `--new-group`.
pub(crate) fn keeps_no_group(job: &Job, state: &State) -> bool {
    state.backend == EMBEDDED || job.new_group
}

/// Refuses, for a new job, an output that exists and is not a job's, unless `--force`.
pub(crate) fn check_new_output(job: &Job) -> Result<(), Error> {
    let files = job.files();
    // An output with a state that held nothing worth keeping (see above) is this tool's.
    let exists =
        std::fs::metadata(&job.output).is_ok_and(|m| m.len() > 0) && !files.state().exists();
    if exists && !job.force {
        return Err(Error::usage(format!(
            "{} already exists and is not the output of a job (there is no {}); pass \
             --force to replace it, or choose another output file",
            job.output.display(),
            files.state().display()
        )));
    }
    Ok(())
}

/// A new job's state. It is saved, with the input's row hashes, once the job's group exists
/// ([`super::start`]): until then nothing ties the output to a server or a group.
fn new_state(job: &Job, backend: &Backend, scanned: &Scanned) -> Result<Opened, Error> {
    check_new_output(job)?;
    let state = State {
        version: STATE_VERSION,
        token: new_token(),
        earlier_tokens: Vec::new(),
        group_id: job.group.clone(),
        backend: backend.label.clone(),
        input: scanned.fingerprint.clone(),
        input_path: canonical(&job.input),
        delimiter: used(scanned),
        task_hash: job.task_hash.clone(),
        total_rows: scanned.total,
        output_len: 0,
        output_hash: None,
        written: Vec::new(),
        submitted: Vec::new(),
        counts: Counts::default(),
        complete: false,
        rejected_rows: Vec::new(),
        failed_rows: Vec::new(),
        superseded: Vec::new(),
        retrying: 0,
        pending_rewrite: None,
        finished_output: None,
    };
    Ok(Opened::Ready {
        state,
        resumed: false,
        changes: Changes::default(),
    })
}

/// Whether a job's output is gone: the output (for an output written whole, with the
/// journal it is written from; an unfinished one, the journal).
fn output_lost(job: &Job, complete: bool) -> bool {
    let gone = |path: &std::path::Path| matches!(path.symlink_metadata(), Err(e) if e.kind() == std::io::ErrorKind::NotFound);
    let journal_gone = || gone(&job.files().journal());
    match (job.written_whole(), complete) {
        (false, _) => gone(&job.output),
        (true, true) => gone(&job.output) && journal_gone(),
        (true, false) => journal_gone(),
    }
}

/// A new job's output in the place of a link (allowed with --force only, checked up front):
/// the link goes, the output takes its place. Once the job's group exists.
pub(crate) fn replace_link(job: &Job) -> Result<(), Error> {
    if crate::files::no_follow::is_link(&job.output) {
        std::fs::remove_file(&job.output)
            .map_err(|e| Error::io(format!("cannot replace {}", job.output.display()), e))?;
    }
    Ok(())
}

pub(crate) fn check_resumable(job: &Job, state: &State, scanned: &Scanned) -> Result<(), Error> {
    let input_path = canonical(&job.input);
    if state.input != scanned.fingerprint
        && let (Some(was), Some(now)) = (&state.input_path, &input_path)
        && was != now
    {
        return Err(Error::state(format!(
            "{} belongs to another input, {was}, not {}; write this input to another output \
             file (or run the original input to resume that job)",
            job.output.display(),
            job.input.display()
        )));
    }
    check_delimiter(job, state, scanned)?;
    if state.task_hash != job.task_hash {
        return Err(Error::state(format!(
            "the task (spec, processor, columns or output format) differs from the one \
             that started {}; rerun with the same options, or write to another output file",
            job.output.display()
        )));
    }
    if let (Some(wanted), Some(have)) = (&job.group, &state.group_id)
        && wanted != have
    {
        return Err(Error::state(format!(
            "{} belongs to group {have}, not {wanted}",
            job.output.display()
        )));
    }
    Ok(())
}

/// The input's absolute path, as the state records it.
fn canonical(path: &std::path::Path) -> Option<String> {
    path.canonicalize()
        .ok()
        .map(|p| p.to_string_lossy().into_owned())
}

fn new_token() -> String {
    format!("{:016x}", fastrand::u64(..))
}

/// The delimiter the job read its CSV input with: the state's, or for a state an earlier
/// release made, `,`.
fn read_with(state: &State, job: &Job) -> Option<u8> {
    (job.input_format == InputFormat::Csv).then(|| state.delimiter.unwrap_or(b','))
}

/// The delimiter this run reads the CSV input with.
fn used(scanned: &Scanned) -> Option<u8> {
    scanned.delimiter.map(|chosen| chosen.byte)
}

/// A job goes on reading its input as it started: with another delimiter its rows are other
/// rows (a line read as one column, then as several).
fn check_delimiter(job: &Job, state: &State, scanned: &Scanned) -> Result<(), Error> {
    let (Some(was), Some(now)) = (read_with(state, job), used(scanned)) else {
        return Ok(());
    };
    if was == now {
        return Ok(());
    }
    let earlier = if state.delimiter.is_none() {
        " (the release that started it read every file so)"
    } else {
        ""
    };
    Err(Error::state(format!(
        "this job reads {} with {} as the delimiter{earlier}, not {}: pass --delimiter '{}' \
         to go on as it started, or write to another output file to read it anew",
        job.input.display(),
        delimiter_name(was),
        delimiter_name(now),
        delimiter_shown(was)
    )))
}
