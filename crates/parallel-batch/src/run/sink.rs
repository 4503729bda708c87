//! The sink: results into the output file, and checkpoints of the state beside it that say
//! how much of the file is complete and which rows it holds.

use std::path::PathBuf;

use parallel_client::batch::{BatchRejection, BatchResult};
use serde_json::value::RawValue;

use super::job::Job;
use super::line_map::LineMap;
use crate::counts::Counts;
use crate::error::Error;
use crate::finish::Order;
use crate::output::{Checkpoint, OutputFormat, OutputWriter, Outputs, Record};
use crate::row_set::RowSet;
use crate::state::State;

/// The status written for an input the API refused.
pub(crate) const REJECTED: &str = "rejected";

pub(crate) struct Sink {
    output: PathBuf,
    format: OutputFormat,
    writer: OutputWriter,
    state: State,
    state_file: PathBuf,
    pub(crate) written: RowSet,
    pub(crate) submitted: RowSet,
    /// Written rows the API refused / whose runs failed (what fixes and retries go by).
    rejected_rows: RowSet,
    failed_rows: RowSet,
    /// Input lines, for the rows written as rejected.
    lines: LineMap,
    /// What the input's positions count (`line`, or `row` for Parquet).
    unit: &'static str,
    pub(crate) counts: Counts,
    /// `--basis`: the output fields whose sources are written.
    basis: Option<Vec<String>>,
}

impl Sink {
    /// Opens the file the job's rows go to (the output, or a Parquet output's journal) after
    /// the part the state vouches for.
    pub(crate) fn open(
        job: &Job,
        mut state: State,
        input_columns: Option<&[String]>,
    ) -> Result<Self, Error> {
        let state_file = job.files().state();
        let rows_file = job.rows_file();
        let format = job.output_format;
        let sources = job.source_columns().unwrap_or_default();
        let outputs = Outputs {
            fields: job.task.output_fields.as_deref(),
            sources: &sources,
        };
        super::rewrite::settle(&rows_file, &mut state, &state_file)?;
        let files = job.files();
        let checkpoint = Checkpoint {
            len: state.output_len,
            hash: state.output_hash.as_deref(),
            files: files.dir(),
        };
        let writer = OutputWriter::open_at_checkpoint(
            &rows_file,
            format.appended(),
            &checkpoint,
            input_columns,
            outputs,
        )?;
        Ok(Self {
            output: rows_file,
            format: format.appended(),
            writer,
            written: RowSet::from_ranges(&state.written),
            submitted: RowSet::from_ranges(&state.submitted),
            rejected_rows: RowSet::from_ranges(&state.rejected_rows),
            failed_rows: RowSet::from_ranges(&state.failed_rows),
            lines: LineMap::default(),
            unit: "line",
            state_file,
            counts: state.counts,
            state,
            basis: job.basis.clone(),
        })
    }

    /// The input lines of the rows (counted in `unit`), named in the rows written as
    /// rejected.
    pub(crate) fn set_lines(&mut self, lines: LineMap, unit: &'static str) {
        self.lines = lines;
        self.unit = unit;
    }

    pub(crate) fn state(&self) -> &State {
        &self.state
    }

    pub(crate) fn state_mut(&mut self) -> &mut State {
        &mut self.state
    }

    /// The state, to change, and the rows written.
    pub(crate) fn parts(&mut self) -> (&mut State, &RowSet) {
        (&mut self.state, &self.written)
    }

    /// Rows the API accepted.
    pub(crate) fn submitted(&mut self, rows: impl IntoIterator<Item = u64>) {
        for row in rows {
            self.submitted.insert(row);
        }
    }

    /// Writes a finished run's row.
    pub(crate) fn result(&mut self, result: &BatchResult) -> Result<(), Error> {
        let mut sources = None;
        let (output, error) = match &result.outcome {
            Ok(output) => {
                let view = output.view().map_err(|e| {
                    Error::api(
                        format!("cannot read the output of row {}", result.position),
                        e,
                    )
                })?;
                if let Some(fields) = &self.basis {
                    sources = Some(crate::basis::sources(view.basis, fields, result.position)?);
                }
                (Some(view.content), None)
            }
            Err(error) => (None, Some(error.message.as_str())),
        };
        let record = Record {
            row: result.position,
            input: &result.input,
            output,
            run_id: &result.run.run_id,
            status: result.run.status.as_str(),
            error,
            sources: sources.as_deref().or(self.no_sources()),
        };
        if self.write(&record)? {
            if result.is_completed() {
                self.counts.completed += 1;
            } else {
                self.counts.failed += 1;
                self.failed_rows.insert(result.position);
            }
        }
        Ok(())
    }

    /// Writes the row of an input the API refused, with the API's reason.
    pub(crate) fn rejected(&mut self, rejection: &BatchRejection) -> Result<(), Error> {
        let reason = match self.lines.line(rejection.position) {
            Some(line) => format!("input {} {line}: {}", self.unit, rejection.reason()),
            None => rejection.reason(),
        };
        let record = Record {
            row: rejection.position,
            input: &rejection.input,
            output: None::<&RawValue>,
            run_id: "",
            status: REJECTED,
            error: Some(&reason),
            sources: self.no_sources(),
        };
        if self.write(&record)? {
            self.counts.rejected += 1;
            self.rejected_rows.insert(rejection.position);
        }
        Ok(())
    }

    /// The sources of a row without an output: `null` with `--basis`, else none.
    fn no_sources(&self) -> Option<&'static RawValue> {
        self.basis.is_some().then_some(RawValue::NULL)
    }

    /// Writes `record` unless its row is in the file already; whether it wrote.
    fn write(&mut self, record: &Record<'_>) -> Result<bool, Error> {
        if self.written.contains(record.row) {
            return Ok(false);
        }
        self.writer.write(record)?;
        self.written.insert(record.row);
        Ok(true)
    }

    /// Hands buffered rows to the operating system, so the file grows as rows finish.
    pub(crate) fn flush(&mut self) -> Result<(), Error> {
        self.writer.flush()
    }

    /// Makes the output durable, then records in the state how far it is complete.
    pub(crate) fn checkpoint(&mut self, complete: bool) -> Result<(), Error> {
        // Order matters: the output must be on disk up to `output_len` before the state
        // says so.
        self.state.output_len = self.writer.sync()?;
        self.state.output_hash = self.writer.hash();
        self.state.written = self.written.ranges();
        self.state.submitted = self.submitted.ranges();
        self.state.counts = self.counts;
        self.state.rejected_rows = self.rejected_rows.ranges();
        self.state.failed_rows = self.failed_rows.ranges();
        self.state.complete = complete;
        if complete {
            self.state.retrying = 0;
        }
        self.state.save(&self.state_file)
    }

    /// The last checkpoint of a finished job, and the rows file put in its final shape:
    /// each row's last line (rows sent again have several), in `order`.
    pub(crate) fn finish(&mut self, order: Order) -> Result<(), Error> {
        // A whole-file output made from an earlier round no longer holds every row's last
        // line: it is written again once the journal is complete.
        self.state.finished_output = None;
        if order == Order::Completion && self.state.superseded.is_empty() {
            return self.checkpoint(true);
        }
        self.checkpoint(false)?;
        let (file, format) = (&self.output, self.format);
        super::rewrite::finish(file, format, &mut self.state, &self.state_file, order)
    }
}
