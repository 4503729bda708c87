//! Outputs written whole when the job completes (Parquet). While the job runs, its rows go
//! to a journal kept beside the output, in the JSON Lines format and with every
//! guarantee of that path (checkpoints, cut back to the last one on resume, rewritten after
//! fixes and retries). Once the journal holds every row and the state says the job is
//! complete, the output is made from it beside the output, synced and renamed into place, and
//! the state records the file's length and hash.
//!
//! A crash at any point leaves either no output (or the previous round's whole file) and a
//! state without that record, or the new file in place: the next run of the same command
//! writes the output again from the journal, which is all it needs. A complete job whose
//! output is in place and unchanged has nothing to do.

use super::feed::Scanned;
use super::job::Job;
use crate::error::Error;
use crate::files::{FileStamp, stamp_of};
use crate::input::InputFormat;
use crate::output::OutputFormat;
use crate::state::State;

/// A complete job: writes its output again if it is not in place (a crash before the state
/// recorded it, or the file was removed); refuses to touch one that changed since.
pub(crate) fn ensure(job: &Job, scanned: &Scanned, state: &mut State) -> Result<(), Error> {
    if job.output_format != OutputFormat::Parquet {
        return Ok(());
    }
    let present = std::fs::metadata(&job.output).is_ok();
    if let (Some(recorded), true) = (&state.finished_output, present) {
        let now = stamp_of(&job.output)
            .map_err(|e| Error::io(format!("cannot read {}", job.output.display()), e))?;
        if now == *recorded {
            return Ok(());
        }
        return Err(Error::state(format!(
            "{} changed since this job wrote it; it is left as it is. To write it again from \
             the job's journal ({}), delete it and run the same command",
            job.output.display(),
            job.files().journal().display()
        )));
    }
    write(job, scanned, state)
}

/// Writes the output of a job whose journal is complete, and records it in the state.
pub(crate) fn write(job: &Job, scanned: &Scanned, state: &mut State) -> Result<(), Error> {
    if job.output_format != OutputFormat::Parquet {
        return Ok(());
    }
    if job.input_format == InputFormat::Parquet {
        // The input columns are copied from the input: it must be the job's.
        let now = stamp_of(&job.input)
            .map_err(|e| Error::io(format!("cannot read input {}", job.input.display()), e))?;
        if now != state.input {
            return Err(Error::state(format!(
                "{} changed since the job read it; restore it and run the same command to \
                 write {}",
                job.input.display(),
                job.output.display()
            )));
        }
    }
    state.finished_output = Some(write_parquet(job, scanned, state)?);
    state.save(&job.files().state())
}

#[cfg(feature = "parquet")]
fn write_parquet(job: &Job, scanned: &Scanned, state: &State) -> Result<FileStamp, Error> {
    use crate::parquet::{ColumnType, InputColumns, OutputColumns, Rows, WholeOutput};
    let schema = &job.task.spec["output_schema"];
    let properties = schema.get("json_schema").and_then(|s| s.get("properties"));
    let fields = job.task.output_fields.as_ref().map(|names| {
        names
            .iter()
            .map(|name| {
                let declared = properties.and_then(|p| p.get(name));
                (name.clone(), ColumnType::from_schema(declared))
            })
            .collect()
    });
    let single_output = if schema["type"] == "text" {
        ColumnType::String
    } else {
        ColumnType::Json
    };
    let input = if job.input_format == InputFormat::Parquet {
        InputColumns::Parquet {
            path: &job.input,
            map: job.map.as_ref(),
        }
    } else {
        InputColumns::Journal {
            order: scanned.columns.as_deref(),
        }
    };
    let journal = job.files().journal();
    let sources = job.source_columns();
    WholeOutput {
        output: &job.output,
        journal: &journal,
        journal_len: state.output_len,
        rows: Rows::Input(state.total_rows),
        input,
        outputs: OutputColumns::Declared {
            fields,
            single: single_output,
        },
        sources: sources.as_deref(),
    }
    .write()
}

#[cfg(not(feature = "parquet"))]
fn write_parquet(_: &Job, _: &Scanned, _: &State) -> Result<FileStamp, Error> {
    Err(Error::parquet_not_built())
}
