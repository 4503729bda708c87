//! A job whose output is gone (deleted, moved away), run again with the same command: the
//! rows it had are written again from the job's group, whose runs are read as `results`
//! reads them, and no row is sent again (a finished job is then done; an unfinished one
//! goes on). The job's runs are told from the others
//! in the group by their client tags (the job's token, and those of its earlier
//! `--retry-failed` rounds); each row gets its last run (a retried row its retry), and the
//! file is put in input order through the finishing path `run` and `results` share. A row
//! the API refused has no run: its line is made again from the input, without the API's
//! reason, which was only in the output.
//!
//! A Parquet output is written from its journal ([`super::whole`]); when the journal is gone
//! too, it is the journal that is written again here.

use futures::StreamExt;
use parallel_client::GroupRunsOptions;
use serde_json::value::RawValue;

use super::feed::Scanned;
use super::job::{Backend, EMBEDDED, Job};
use super::sink::REJECTED;
use crate::error::Error;
use crate::files::{FileStamp, Fresh, stamp_of};
use crate::finish::{Order, RecordFormat, Records, each_journal_line, write_fresh};
use crate::input::InputReader;
use crate::output::{OutputFormat, OutputWriter, Record};
use crate::row_set::RowSet;
use crate::state::State;

/// At most this many rows are named in a refusal.
const NAMED_ROWS: usize = 5;

/// Writes the rows file of the job `state` describes (the output, or a Parquet output's
/// journal) again from its group, with the rows the state says were written, and records it
/// in the state.
pub(crate) async fn rebuild(
    job: &Job,
    backend: &Backend,
    scanned: &Scanned,
    state: &mut State,
) -> Result<(), Error> {
    let group = usable_group(job, backend, state)?;
    let files = job.files();
    let io = |e| Error::io(format!("cannot write in {}", files.dir().display()), e);
    // The runs as JSON Lines records, as they come; removed when dropped.
    let runs = Fresh::beside(&files.dir().join("rebuild")).map_err(io)?;
    let file = runs.file().try_clone().map_err(io)?;
    let outputs = crate::output::Outputs::default();
    let mut writer = OutputWriter::create(file, runs.path(), OutputFormat::Jsonl, None, outputs)?;
    let written = RowSet::from_ranges(&state.written);
    let found = read_runs(job, backend, state, &group, &written, &mut writer).await?;
    let rejected = RowSet::from_ranges(&state.rejected_rows);
    check_complete(job, state, &group, &written, &found, &rejected)?;
    write_rejected(job, scanned, &rejected, &found, &mut writer)?;
    writer.flush()?;
    let len = writer.len();
    drop(writer);
    let records = Records::last_of_rows(
        runs.path(),
        RecordFormat::Jsonl,
        len,
        state.total_rows,
        Some(&written),
        Order::Input,
    )?;
    let stamp = if job.output_format == OutputFormat::Csv {
        write_csv(job, scanned, runs.path(), &records)?
    } else {
        let rows_file = job.rows_file();
        let (fresh, stamp) = write_fresh(runs.path(), &records, &rows_file)?;
        fresh
            .persist(&rows_file)
            .map_err(|e| Error::io(format!("cannot write {}", rows_file.display()), e))?;
        stamp
    };
    state.output_len = stamp.len;
    state.output_hash = Some(stamp.hash);
    state.finished_output = None;
    // The file holds each written row's last line only.
    state.superseded.clear();
    state.save(&files.state())
}

/// What is gone, in messages.
fn gone(job: &Job, state: &State) -> String {
    match (job.written_whole(), state.complete) {
        (false, _) => format!("{} is gone", job.output.display()),
        (true, true) => format!("{} and its journal are gone", job.output.display()),
        (true, false) => format!(
            "the journal of {} ({}) is gone",
            job.output.display(),
            job.files().journal().display()
        ),
    }
}

/// The job's group, if this backend can still read it.
fn usable_group(job: &Job, backend: &Backend, state: &State) -> Result<String, Error> {
    let dir = job.files().dir().display().to_string();
    if state.backend == EMBEDDED {
        return Err(Error::state(format!(
            "{}, and this job ran on the embedded emulator, whose groups ended with it: \
             its results cannot be read again. To run the job again, sending every row \
             again, delete {dir} and run the same command",
            gone(job, state)
        )));
    }
    if state.backend != backend.label {
        return Err(Error::state(format!(
            "{}; the job ran on {}, not {}: rerun with the same backend to write its rows \
             again from the job's group",
            gone(job, state),
            state.backend,
            backend.label
        )));
    }
    state.group_id.clone().ok_or_else(|| {
        Error::state(format!(
            "{}, and the job's state names no group to read its rows again from; delete \
             {dir} to run the job again",
            gone(job, state)
        ))
    })
}

/// Appends the job's runs in `group` of the `written` rows to `writer`, as they come; the
/// rows they are of.
async fn read_runs(
    job: &Job,
    backend: &Backend,
    state: &State,
    group: &str,
    written: &RowSet,
    writer: &mut OutputWriter,
) -> Result<RowSet, Error> {
    let mut tokens: Vec<&str> = state.earlier_tokens.iter().map(String::as_str).collect();
    tokens.push(&state.token);
    let mut stream = backend
        .client
        .group(group)
        .runs(GroupRunsOptions::with_input_and_output());
    let (mut found, mut line) = (RowSet::new(), Vec::new());
    while let Some(run) = stream.next().await {
        let run = run.map_err(|e| {
            let what = if e.status().is_some_and(|s| s.as_u16() == 404) {
                format!(
                    "{}, and so is the job's group {group} on {} (404 Not Found); delete {} \
                     to run the job again, sending every row again",
                    gone(job, state),
                    backend.address(),
                    job.files().dir().display()
                )
            } else {
                format!(
                    "{}; cannot read the runs of group {group} on {} to write its rows again",
                    gone(job, state),
                    backend.address()
                )
            };
            Error::api(what, e)
        })?;
        line.clear();
        let row = crate::group_runs::job_run(&run, &tokens, job.basis.as_deref(), &mut line)?;
        if let Some(row) = row.filter(|&row| written.contains(row)) {
            found.insert(row);
            writer.write_jsonl(&line)?;
        }
    }
    Ok(found)
}

/// Refuses to write a file that would lack rows: every written row has a run in the group,
/// or was refused by the API.
fn check_complete(
    job: &Job,
    state: &State,
    group: &str,
    written: &RowSet,
    found: &RowSet,
    rejected: &RowSet,
) -> Result<(), Error> {
    let missing: Vec<u64> = written
        .ranges()
        .into_iter()
        .flat_map(|[start, end]| start..end)
        .filter(|&row| !found.contains(row) && !rejected.contains(row))
        .take(NAMED_ROWS + 1)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let named: Vec<String> = missing
        .iter()
        .take(NAMED_ROWS)
        .map(u64::to_string)
        .collect();
    let more = if missing.len() > NAMED_ROWS {
        ", ..."
    } else {
        ""
    };
    Err(Error::state(format!(
        "{}, and its rows cannot be written again from group {group}: rows {}{more} have no \
         run there under this job's tags (were they sent to an earlier group?). Nothing was \
         written or sent. `parallel-batch results {group} -o FILE` writes every run the group \
         has; to run the job again, sending every row again, delete {}",
        gone(job, state),
        named.join(", "),
        job.files().dir().display()
    )))
}

/// Appends the rows the API refused (and that have no run) from the input.
fn write_rejected(
    job: &Job,
    scanned: &Scanned,
    rejected: &RowSet,
    found: &RowSet,
    writer: &mut OutputWriter,
) -> Result<(), Error> {
    if rejected.is_empty() {
        return Ok(());
    }
    let delimiter = scanned.delimiter.map(|chosen| chosen.byte);
    let mut reader = InputReader::open(&job.input, job.input_format, job.map.as_ref(), delimiter)?;
    reader.set_max_row_lines(job.max_row_lines);
    let unit = job.input_format.unit();
    while let Some(row) = reader.next_row()? {
        if !rejected.contains(row.index) || found.contains(row.index) {
            continue;
        }
        let input = RawValue::from_string(row.input)
            .map_err(|e| Error::input_at(&job.input, unit, row.line, None, e.to_string()))?;
        let error = format!(
            "input {unit} {}: refused by the API (its reason was in {}, which was deleted); \
             fix the row and run the same command to send it again",
            row.line,
            job.output.display()
        );
        writer.write(&Record {
            row: row.index,
            input: &input,
            output: None,
            run_id: "",
            status: REJECTED,
            error: Some(&error),
            sources: job.basis.is_some().then_some(RawValue::NULL),
        })?;
    }
    Ok(())
}

/// Writes the CSV output from the JSON Lines records of `runs` that `records` keeps, in their
/// order, with the job's columns; its stamp.
fn write_csv(
    job: &Job,
    scanned: &Scanned,
    runs: &std::path::Path,
    records: &Records,
) -> Result<FileStamp, Error> {
    let output = &job.output;
    let io = |e| Error::io(format!("cannot write {}", output.display()), e);
    let (ordered, ordered_stamp) = write_fresh(runs, records, runs)?;
    let csv = Fresh::beside(output).map_err(io)?;
    let file = csv.file().try_clone().map_err(io)?;
    let sources = job.source_columns().unwrap_or_default();
    let outputs = crate::output::Outputs {
        fields: job.task.output_fields.as_deref(),
        sources: &sources,
    };
    let mut writer = OutputWriter::create(
        file,
        output,
        OutputFormat::Csv,
        scanned.columns.as_deref(),
        outputs,
    )?;
    each_journal_line(ordered.path(), ordered_stamp.len, |line| {
        writer.write(&line.record())
    })?;
    writer.flush()?;
    drop(writer);
    csv.persist(output).map_err(io)?;
    stamp_of(output).map_err(io)
}
