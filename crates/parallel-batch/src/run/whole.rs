//! Outputs written whole when the job completes (Parquet). While the job runs, its rows go
//! to a journal beside the output, `OUTPUT.journal`, in the JSON Lines format and with every
//! guarantee of that path (checkpoints, cut back to the last one on resume, rewritten after
//! fixes and retries). Once the journal holds every row and the state says the job is
//! complete, the output is made from it beside the output, synced and renamed into place, and
//! the state records the file's length and hash.
//!
//! A crash at any point leaves either no output (or the previous round's whole file) and a
//! state without that record, or the new file in place: the next run of the same command
//! writes the output again from the journal, which is all it needs. A complete job whose
//! output is in place and unchanged has nothing to do.

use std::path::{Path, PathBuf};

use super::feed::Scanned;
use super::job::Job;
use crate::cli::RunArgs;
use crate::state::{State, state_path};
use crate::{Error, InputFormat, OutputFormat};

/// Where the rows of a job writing `output` in `format` are appended as they finish.
pub(crate) fn rows_path(output: &Path, format: OutputFormat) -> PathBuf {
    if format != OutputFormat::Parquet {
        return output.to_owned();
    }
    crate::state::with_suffix(output, ".journal")
}

/// Where the finished rows of an unfinished job are, for messages.
pub(crate) fn rows_are_in(output: &Path, format: OutputFormat) -> String {
    if format == OutputFormat::Parquet {
        format!(
            "{} (its journal; {} is written when the job completes)",
            rows_path(output, format).display(),
            output.display()
        )
    } else {
        output.display().to_string()
    }
}

/// A complete job: writes its output again if it is not in place (a crash before the state
/// recorded it, or the file was removed); refuses to touch one that changed since.
pub(crate) fn ensure(
    args: &RunArgs,
    job: &Job,
    scanned: &Scanned,
    state: &mut State,
) -> Result<(), Error> {
    if job.output_format != OutputFormat::Parquet {
        return Ok(());
    }
    let present = std::fs::metadata(&args.output).is_ok();
    if let (Some(recorded), true) = (&state.finished_output, present) {
        let now = crate::input::fingerprint_file(&args.output)
            .map_err(|e| Error::io(format!("cannot read {}", args.output.display()), e))?;
        if now.len == recorded.len && now.hash == recorded.hash {
            return Ok(());
        }
        return Err(Error::state(format!(
            "{} changed since this job wrote it; it is left as it is. To write it again from \
             the job's journal ({}), delete it and run the same command",
            args.output.display(),
            rows_path(&args.output, job.output_format).display()
        )));
    }
    write(args, job, scanned, state)
}

/// Writes the output of a job whose journal is complete, and records it in the state.
pub(crate) fn write(
    args: &RunArgs,
    job: &Job,
    scanned: &Scanned,
    state: &mut State,
) -> Result<(), Error> {
    if job.output_format != OutputFormat::Parquet {
        return Ok(());
    }
    if job.input_format == InputFormat::Parquet {
        // The input columns are copied from the input: it must be the job's.
        let now = crate::input::fingerprint_file(&args.input)
            .map_err(|e| Error::io(format!("cannot read input {}", args.input.display()), e))?;
        if now != state.input {
            return Err(Error::state(format!(
                "{} changed since the job read it; restore it and run the same command to \
                 write {}",
                args.input.display(),
                args.output.display()
            )));
        }
    }
    state.finished_output = Some(write_parquet(args, job, scanned, state)?);
    state.save(&state_path(&args.output))
}

#[cfg(feature = "parquet")]
fn write_parquet(
    args: &RunArgs,
    job: &Job,
    scanned: &Scanned,
    state: &State,
) -> Result<crate::FileStamp, Error> {
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
            path: &args.input,
            map: job.map.as_ref(),
        }
    } else {
        InputColumns::Journal {
            order: scanned.columns.as_deref(),
        }
    };
    let journal = rows_path(&args.output, job.output_format);
    let _ = std::fs::remove_file(crate::parquet::tmp_path(&args.output));
    WholeOutput {
        output: &args.output,
        journal: &journal,
        journal_len: state.output_len,
        rows: Rows::Input(state.total_rows),
        input,
        outputs: OutputColumns::Declared {
            fields,
            single: single_output,
        },
    }
    .write()
}

#[cfg(not(feature = "parquet"))]
fn write_parquet(_: &RunArgs, _: &Job, _: &Scanned, _: &State) -> Result<crate::FileStamp, Error> {
    Err(Error::parquet_not_built())
}
