//! What a `run` command asks for, checked before anything is read or sent, and the job's
//! state: a new one, or the one an earlier run left beside the output.

use parallel_types::{Metadata, MetadataValue, Processor, TaskSpec};

use super::Backend;
use super::feed::Scanned;
use super::{fixes, row_hashes};
use crate::cli::RunArgs;
use crate::state::{Fnv64, STATE_VERSION, State, state_path};
use crate::{ColumnMap, Error, InputFormat, OutputFormat, Task, TaskSource};

/// The metadata key tagging each run with its batch token and row.
pub(crate) const CLIENT_TAG: &str = parallel_client::CLIENT_TAG_KEY;

/// The command line, checked and resolved.
pub(crate) struct Job {
    pub(crate) input_format: InputFormat,
    pub(crate) output_format: OutputFormat,
    pub(crate) map: Option<ColumnMap>,
    pub(crate) task: Task,
    pub(crate) spec: TaskSpec,
    pub(crate) processor: Processor,
    pub(crate) metadata: Metadata,
    pub(crate) chunk_size: usize,
    pub(crate) max_in_flight: usize,
    /// The limit on one row's input plus the spec, in characters.
    pub(crate) max_input_chars: usize,
    /// The task spec's length in characters (it counts against the limit of every row).
    pub(crate) spec_chars: usize,
    pub(crate) max_row_lines: u64,
}

impl Job {
    pub(crate) fn prepare(args: &RunArgs) -> Result<Self, Error> {
        if same_file(&args.input, &args.output) {
            return Err(Error::usage(format!(
                "the output {} is the input file itself; writing it would destroy the input \
                 (--force never does); choose another output file",
                args.output.display()
            )));
        }
        let input_format = InputFormat::resolve(&args.input, args.format)?;
        let output_format = OutputFormat::resolve(&args.output, args.output_format);
        #[cfg(not(feature = "parquet"))]
        if input_format == InputFormat::Parquet || output_format == OutputFormat::Parquet {
            return Err(Error::parquet_not_built());
        }
        let map = args
            .input_columns
            .as_deref()
            .map(ColumnMap::parse)
            .transpose()?;
        let task = Task::build(&task_source(args))?;
        let spec: TaskSpec = serde_json::from_value(task.spec.clone())
            .map_err(|e| Error::usage(format!("the task spec is not valid: {e}")))?;
        super::checks::output_schema(&task.spec)?;
        let processor = super::checks::processor(&args.processor, args.allow_processor)?;
        let metadata = parse_metadata(&args.metadata)?;
        if args.chunk_size == 0 || args.chunk_size > 1000 {
            return Err(Error::usage("--chunk-size must be between 1 and 1000"));
        }
        let chunk_size = usize::from(args.chunk_size);
        Ok(Self {
            input_format,
            output_format,
            map,
            spec,
            processor,
            metadata,
            chunk_size,
            max_in_flight: args.max_in_flight.max(chunk_size),
            max_input_chars: args.max_input_chars,
            spec_chars: task.spec.to_string().chars().count(),
            max_row_lines: args.max_row_lines,
            task,
        })
    }

    /// Hash of everything that shapes the runs and the output.
    fn task_hash(&self, args: &RunArgs) -> String {
        let mut h = Fnv64::default();
        h.update(self.task.spec.to_string().as_bytes());
        h.update(b"\0");
        h.update(args.processor.as_bytes());
        h.update(b"\0");
        h.update(args.input_columns.as_deref().unwrap_or("").as_bytes());
        h.update(b"\0");
        h.update(format!("{:?}", self.output_format).as_bytes());
        h.hex()
    }
}

/// The job's state, as found or made.
pub(crate) enum Opened {
    /// An earlier run finished the job.
    Complete(State),
    /// Work to do; `resumed` when an earlier run's state was taken up.
    Ready {
        state: State,
        resumed: bool,
        /// Rejected rows the user fixed, to be sent again.
        fixed: u64,
        /// Failed rows to be sent again (`--retry-failed`).
        retried: u64,
    },
}

/// Loads the state beside the output (resume) or creates it, refusing an output that
/// belongs to another job.
pub(crate) fn open_state(
    args: &RunArgs,
    backend: &Backend,
    job: &Job,
    scanned: &Scanned,
) -> Result<Opened, Error> {
    let state_file = state_path(&args.output);
    let task_hash = job.task_hash(args);
    // A job that never got a row accepted (say the API refused the processor) holds nothing
    // worth keeping: a rerun with corrected options starts over instead of refusing.
    let loaded = State::load(&state_file)?.filter(|s| {
        let fresh_start = s.submitted.is_empty() && s.written.is_empty();
        !(fresh_start && (s.input != scanned.fingerprint || s.task_hash != task_hash))
    });
    let Some(mut state) = loaded else {
        return new_state(args, backend, scanned, task_hash, &state_file);
    };
    check_resumable(args, &state, scanned, &task_hash)?;
    let fixed = if state.input == scanned.fingerprint {
        if row_hashes::load(&args.output, &state.input.hash).is_none() {
            row_hashes::save(&args.output, &state.input.hash, &scanned.row_hashes)?;
        }
        0
    } else {
        fixes::accept(args, job, &mut state, scanned, &state_file)?
    };
    let retried = if args.retry_failed && state.complete {
        fixes::start_retry(&mut state, new_token())
    } else {
        0
    };
    if state.complete {
        return Ok(Opened::Complete(state));
    }
    if state.backend != backend.label && !(state.backend == "embedded-emulator" && backend.embedded)
    {
        return Err(Error::state(format!(
            "{} was started against {}, not {}; rerun with the same backend",
            args.output.display(),
            state.backend,
            backend.label
        )));
    }
    if state.backend == "embedded-emulator" || args.new_group {
        // The embedded emulator died with the previous process (or the user says the group
        // is gone): its runs are gone. Keep what was written and send the other rows to a
        // new group.
        state.group_id = None;
        state.submitted.clear();
        state.token = new_token();
    }
    // Saved before anything is submitted: a retry round's token above all.
    state.save(&state_file)?;
    Ok(Opened::Ready {
        state,
        resumed: true,
        fixed,
        retried,
    })
}

/// A new job's state, saved with the input's row hashes before anything is sent.
fn new_state(
    args: &RunArgs,
    backend: &Backend,
    scanned: &Scanned,
    task_hash: String,
    state_file: &std::path::Path,
) -> Result<Opened, Error> {
    let exists = std::fs::metadata(&args.output).is_ok_and(|m| m.len() > 0) && !state_file.exists();
    if exists && !args.force {
        return Err(Error::usage(format!(
            "{} already exists and has no state file beside it; pass --force to \
             replace it, or choose another output file",
            args.output.display()
        )));
    }
    let state = State {
        version: STATE_VERSION,
        token: new_token(),
        group_id: args.group.clone(),
        backend: backend.label.clone(),
        input: scanned.fingerprint.clone(),
        input_path: canonical(&args.input),
        task_hash,
        total_rows: scanned.total,
        output_len: 0,
        output_hash: None,
        written: Vec::new(),
        submitted: Vec::new(),
        completed: 0,
        failed: 0,
        rejected: 0,
        complete: false,
        rejected_rows: Vec::new(),
        failed_rows: Vec::new(),
        superseded: Vec::new(),
        retrying: 0,
        pending_rewrite: None,
        finished_output: None,
    };
    state.save(state_file)?;
    row_hashes::save(&args.output, &state.input.hash, &scanned.row_hashes)?;
    Ok(Opened::Ready {
        state,
        resumed: false,
        fixed: 0,
        retried: 0,
    })
}

fn check_resumable(
    args: &RunArgs,
    state: &State,
    scanned: &Scanned,
    task_hash: &str,
) -> Result<(), Error> {
    let input_path = canonical(&args.input);
    if state.input != scanned.fingerprint
        && let (Some(was), Some(now)) = (&state.input_path, &input_path)
        && was != now
    {
        return Err(Error::state(format!(
            "{} belongs to another input, {was}, not {}; write this input to another output \
             file (or run the original input to resume that job)",
            args.output.display(),
            args.input.display()
        )));
    }
    if state.task_hash != task_hash {
        return Err(Error::state(format!(
            "the task (spec, processor, columns or output format) differs from the one \
             that started {}; rerun with the same options, or write to another output file",
            args.output.display()
        )));
    }
    if let (Some(wanted), Some(have)) = (&args.group, &state.group_id)
        && wanted != have
    {
        return Err(Error::state(format!(
            "{} belongs to group {have}, not {wanted}",
            args.output.display()
        )));
    }
    Ok(())
}

/// Whether `a` and `b` are the same file (compared as files, not names: links count).
pub(crate) fn same_file(a: &std::path::Path, b: &std::path::Path) -> bool {
    let (Ok(ma), Ok(mb)) = (std::fs::metadata(a), std::fs::metadata(b)) else {
        return false;
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        ma.dev() == mb.dev() && ma.ino() == mb.ino()
    }
    #[cfg(not(unix))]
    {
        let _ = (ma, mb);
        matches!((a.canonicalize(), b.canonicalize()), (Ok(x), Ok(y)) if x == y)
    }
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

pub(crate) fn parse_metadata(items: &[String]) -> Result<Metadata, Error> {
    let mut metadata = Metadata::new();
    for item in items {
        let Some((key, value)) = item.split_once('=') else {
            return Err(Error::usage(format!(
                "--metadata `{item}`: expected KEY=VALUE"
            )));
        };
        if key == CLIENT_TAG {
            return Err(Error::usage(format!(
                "--metadata: the key `{CLIENT_TAG}` is reserved for resuming"
            )));
        }
        metadata.insert(key.to_owned(), MetadataValue::String(value.to_owned()));
    }
    Ok(metadata)
}

fn task_source(args: &RunArgs) -> TaskSource {
    if let Some(path) = &args.spec {
        TaskSource::SpecFile(path.clone())
    } else if let Some(path) = &args.output_schema {
        TaskSource::OutputSchemaFile(path.clone())
    } else if let Some(columns) = &args.columns {
        TaskSource::Columns(columns.clone())
    } else if let Some(text) = &args.text {
        TaskSource::Text(text.clone())
    } else {
        TaskSource::Auto
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_flags_parse_and_reserve_the_tag() {
        let m = parse_metadata(&["team=growth".into(), "q=a=b".into()]).unwrap();
        assert_eq!(m["q"], MetadataValue::String("a=b".into()));
        assert!(parse_metadata(&["oops".into()]).unwrap_err().is_usage());
        assert!(
            parse_metadata(&["client_tag=x".into()])
                .unwrap_err()
                .is_usage()
        );
    }
}
