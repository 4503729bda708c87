//! The job a `run` command asks for, resolved and checked once from the command line: the
//! one thing the rest of the tool reads.

use std::path::PathBuf;
use std::time::Duration;

use parallel_client::Client;
use parallel_types::{Metadata, MetadataValue, Processor, TaskSpec};

use super::watch::LastFailure;
use crate::error::Error;
use crate::files::{Companion, Fnv64};
use crate::finish::Order;
use crate::input::{ColumnMap, InputFormat};
use crate::output::OutputFormat;
use crate::spec::Task;

/// The metadata key tagging each run with its batch token and row.
pub(crate) const CLIENT_TAG: &str = parallel_client::CLIENT_TAG_KEY;

/// A `run` job.
#[derive(Debug)]
pub(crate) struct Job {
    /// The input file (a temporary copy of standard input for `-`).
    pub(crate) input: PathBuf,
    pub(crate) input_format: InputFormat,
    /// `--input-columns`: which columns are sent, under which names.
    pub(crate) map: Option<ColumnMap>,
    /// `--delimiter`: the CSV input's field delimiter (else the header line's).
    pub(crate) delimiter: Option<u8>,
    /// The most lines one CSV row may span.
    pub(crate) max_row_lines: u64,
    /// The limit on one row's input plus the spec, in characters.
    pub(crate) max_input_chars: usize,
    /// The output file (a temporary file copied to standard output for `-`).
    pub(crate) output: PathBuf,
    pub(crate) output_format: OutputFormat,
    /// The order of the rows in the finished output.
    pub(crate) order: Order,
    /// Replace an existing output that is not this job's.
    pub(crate) force: bool,
    pub(crate) task: Task,
    /// The task spec as the API takes it.
    pub(crate) spec: TaskSpec,
    /// The task spec's length in characters (it counts against the limit of every row).
    pub(crate) spec_chars: usize,
    pub(crate) processor: Processor,
    /// What the state records of the task, to refuse resuming a job with another one.
    pub(crate) task_hash: String,
    /// Metadata of the group and of every run.
    pub(crate) metadata: Metadata,
    /// Add the runs to this existing group.
    pub(crate) group: Option<String>,
    /// The job's group is gone: send the rows not yet written to a new one.
    pub(crate) new_group: bool,
    /// Send the rows whose runs failed again.
    pub(crate) retry_failed: bool,
    /// Inputs per add-runs request.
    pub(crate) chunk_size: usize,
    /// Submitted rows not yet written, at most.
    pub(crate) max_in_flight: usize,
    /// Single-run result requests at once.
    pub(crate) fetch_concurrency: usize,
    /// Silence from the server after which the tool says it is waiting (zero: never).
    pub(crate) waiting_notice: Duration,
    /// The prices the job is estimated with, and `--max-cost`.
    pub(crate) pricing: crate::cost::Pricing,
    /// `--basis`: the output fields whose sources get columns (`None`: no sources).
    pub(crate) basis: Option<Vec<String>>,
}

impl Job {
    /// The files kept beside the output for this job.
    pub(crate) fn files(&self) -> Companion {
        Companion::of(&self.output)
    }

    /// Whether the output is written whole when the job completes (Parquet), its rows kept
    /// in the journal until then.
    pub(crate) fn written_whole(&self) -> bool {
        self.output_format == OutputFormat::Parquet
    }

    /// `--basis`: the source columns after the output's (`X_citations`, ...); `None` without
    /// it.
    pub(crate) fn source_columns(&self) -> Option<Vec<String>> {
        self.basis.as_deref().map(crate::basis::column_names)
    }

    /// Where rows are appended as they finish: the output itself, or the journal of an
    /// output written whole.
    pub(crate) fn rows_file(&self) -> PathBuf {
        if self.written_whole() {
            self.files().journal()
        } else {
            self.output.clone()
        }
    }

    /// The order the rows file is put in when the job completes: the output's, or for an
    /// output written whole, input order (it is written from the journal in that order).
    pub(crate) fn rows_order(&self) -> Order {
        if self.written_whole() {
            Order::Input
        } else {
            self.order
        }
    }

    /// Where the finished rows of an unfinished job are, for messages.
    pub(crate) fn rows_are_in(&self) -> String {
        if self.written_whole() {
            format!(
                "{} (its journal; {} is written when the job completes)",
                self.files().journal().display(),
                self.output.display()
            )
        } else {
            self.output.display().to_string()
        }
    }
}

/// Where the runs go.
pub(crate) struct Backend {
    pub(crate) client: Client,
    /// `embedded-emulator`, or the base URL.
    pub(crate) label: String,
    pub(crate) embedded: bool,
    /// How the client's last request to the server failed, if it did.
    pub(crate) last_failure: LastFailure,
}

impl Backend {
    /// The server, in messages: its base URL, or the embedded emulator.
    pub(crate) fn address(&self) -> String {
        if self.embedded {
            "the embedded emulator".to_owned()
        } else {
            self.label.clone()
        }
    }
}

/// The label of the embedded emulator's backend (it dies with the process, and so do its
/// groups).
pub(crate) const EMBEDDED: &str = "embedded-emulator";

/// The hash of everything that shapes the runs and the output: the task spec, the processor,
/// the `--input-columns` as given, the output format, and `--basis` (hashed only when set, so
/// that a job started before the option existed resumes).
pub(crate) fn task_hash(
    task: &Task,
    processor: &Processor,
    input_columns: Option<&str>,
    output_format: OutputFormat,
    basis: bool,
) -> String {
    let mut h = Fnv64::default();
    h.update(task.spec.to_string().as_bytes());
    h.update(b"\0");
    h.update(processor.as_str().as_bytes());
    h.update(b"\0");
    h.update(input_columns.unwrap_or("").as_bytes());
    h.update(b"\0");
    h.update(format!("{output_format:?}").as_bytes());
    if basis {
        h.update(b"\0basis");
    }
    h.hex()
}

/// `--metadata KEY=VALUE` items as metadata; the client tag's key is reserved.
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

    #[test]
    fn the_task_hash_is_the_one_earlier_releases_saved() {
        // A job started by an earlier release must resume: the hash that release saved for
        // `--columns a` on lite-fast to CSV (read from its state file).
        let task = Task::build(&crate::spec::TaskSource::Columns("a".into())).unwrap();
        assert_eq!(
            task_hash(
                &task,
                &Processor::from("lite-fast"),
                None,
                OutputFormat::Csv,
                false,
            ),
            "5ac5e8020970d6c3"
        );
    }
}
