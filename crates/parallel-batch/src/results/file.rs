//! The file `results` writes: the runs go to `FILE.partial` (JSON Lines) as they are read,
//! and become `FILE` once every one is in, through the finishing path `run` shares
//! ([`crate::finish`]): put in order, then renamed (JSON Lines) or converted (CSV, Parquet).

use std::path::{Path, PathBuf};

use super::KeepPartial;
use crate::error::Error;
use crate::files::{Fresh, with_suffix};
use crate::finish::{Order, RecordFormat, Records, each_journal_line};
use crate::output::{KeyOrder, OutputFormat, OutputWriter, Outputs};

/// Where the runs are written until all of them are: `FILE.partial` beside `FILE`.
fn partial_path(output: &Path) -> PathBuf {
    with_suffix(output, ".partial")
}

/// The output: JSON Lines in `FILE.partial` until every run is in.
pub(super) struct ResultsFile<'p> {
    output: &'p Path,
    partial: PathBuf,
    format: OutputFormat,
    writer: OutputWriter,
}

impl<'p> ResultsFile<'p> {
    pub(super) fn create(output: &'p Path, format: OutputFormat) -> Result<Self, Error> {
        let partial = partial_path(output);
        let writer =
            OutputWriter::open(&partial, OutputFormat::Jsonl, 0, None, Outputs::default())?;
        Ok(Self {
            output,
            partial,
            format,
            writer,
        })
    }

    /// Appends runs read, as JSON Lines records.
    pub(super) fn append(&mut self, lines: &[u8]) -> Result<(), Error> {
        self.writer.write_jsonl(lines)
    }

    /// Makes the file of every run in `order`, from the runs in `FILE.partial`, and removes
    /// them.
    pub(super) fn finish(mut self, order: Order) -> Result<(), Error> {
        self.writer.flush()?;
        let len = self.writer.len();
        let records = Records::every(&self.partial, RecordFormat::Jsonl, len, order)?;
        if records.unchanged() {
            if self.format == OutputFormat::Jsonl {
                // The file is the partial file renamed: it goes to disk first.
                self.writer.sync()?;
                return self.rename_partial();
            }
            let partial = self.partial.clone();
            return self.convert(&partial, len);
        }
        let (ordered, stamp) = crate::finish::write_fresh(&self.partial, &records, self.output)?;
        if self.format == OutputFormat::Jsonl {
            let io = |e| Error::io(format!("cannot write {}", self.output.display()), e);
            ordered.persist(self.output).map_err(io)?;
            let _ = std::fs::remove_file(&self.partial);
            return Ok(());
        }
        // The ordered runs, read for the conversion, are removed with `ordered`.
        self.convert(ordered.path(), stamp.len)
    }

    fn rename_partial(&self) -> Result<(), Error> {
        std::fs::rename(&self.partial, self.output).map_err(|e| {
            Error::io(
                format!(
                    "cannot rename {} to {}",
                    self.partial.display(),
                    self.output.display()
                ),
                e,
            )
        })?;
        crate::files::sync_dir(self.output);
        Ok(())
    }

    /// Makes the CSV or Parquet file from the JSON Lines records of `runs` (its first `len`
    /// bytes), then removes `FILE.partial`.
    fn convert(self, runs: &Path, len: u64) -> Result<(), Error> {
        match self.format {
            OutputFormat::Parquet => self.write_parquet(runs, len)?,
            _ => self.write_csv(runs, len)?,
        }
        let _ = std::fs::remove_file(&self.partial);
        Ok(())
    }

    /// Writes the CSV file, made beside it and renamed into place, from the JSON Lines
    /// records of `runs` (its first `len` bytes). The columns are every input's and every
    /// output's members ([`KeyOrder`]), then with `--basis` every source column; an output
    /// that is not an object makes one `output` column.
    fn write_csv(&self, runs: &Path, len: u64) -> Result<(), Error> {
        let (mut inputs, mut outputs, mut objects) =
            (KeyOrder::default(), KeyOrder::default(), true);
        let mut sources = KeyOrder::default();
        each_journal_line(runs, len, |line| {
            match crate::spec::object_keys(line.input.get()) {
                Some(keys) => inputs.add(keys.iter().map(String::as_str)),
                None => inputs.add(["input"]),
            }
            match line.output.map(|o| (o, crate::spec::object_keys(o.get()))) {
                Some((_, Some(keys))) => outputs.add(keys.iter().map(String::as_str)),
                Some((o, None)) if o.get() != "null" => objects = false,
                _ => {}
            }
            if let Some(keys) = line.sources.and_then(|s| crate::spec::object_keys(s.get())) {
                sources.add(keys.iter().map(String::as_str));
            }
            Ok(())
        })?;
        let inputs = inputs.into_names();
        let outputs = outputs.into_names();
        let sources = sources.into_names();
        let fields = Outputs {
            fields: (objects && !outputs.is_empty()).then_some(outputs.as_slice()),
            sources: &sources,
        };
        let io = |e| Error::io(format!("cannot write {}", self.output.display()), e);
        // Removed when dropped on a failure below.
        let tmp = Fresh::beside(self.output).map_err(io)?;
        let file = tmp.file().try_clone().map_err(io)?;
        let mut writer =
            OutputWriter::create(file, self.output, OutputFormat::Csv, Some(&inputs), fields)?;
        each_journal_line(runs, len, |line| writer.write(&line.record()))?;
        writer.flush()?;
        drop(writer);
        tmp.persist(self.output).map_err(io)
    }

    /// Writes the Parquet file, made beside it and renamed into place, from the JSON Lines
    /// records of `runs` (its first `len` bytes).
    #[cfg(feature = "parquet")]
    fn write_parquet(&self, runs: &Path, len: u64) -> Result<(), Error> {
        use crate::parquet::{InputColumns, OutputColumns, Rows, WholeOutput};
        WholeOutput {
            output: self.output,
            journal: runs,
            journal_len: len,
            rows: Rows::AsWritten,
            input: InputColumns::Journal { order: None },
            outputs: OutputColumns::Found,
            sources: None,
        }
        .write()?;
        Ok(())
    }

    #[cfg(not(feature = "parquet"))]
    #[allow(clippy::unused_self)] // the signature of the `parquet` build's
    fn write_parquet(&self, _: &Path, _: u64) -> Result<(), Error> {
        Err(Error::parquet_not_built())
    }

    /// After a failure: keeps the `rows` runs read so far in `FILE.partial` and says so if
    /// `keep`, else (or if there are none) leaves nothing. `FILE` is not touched.
    pub(super) fn abandon(mut self, keep: KeepPartial, rows: u64) {
        let kept = keep == KeepPartial::Yes && rows > 0 && self.writer.flush().is_ok();
        if kept {
            crate::progress::notice(
                "partial",
                &format!(
                    "The {rows} runs read before the failure are in {}{}; {} was not written.",
                    self.partial.display(),
                    if self.format == OutputFormat::Jsonl {
                        ""
                    } else {
                        " (as JSON Lines)"
                    },
                    self.output.display()
                ),
            );
        } else {
            drop(self.writer);
            let _ = std::fs::remove_file(&self.partial);
        }
    }
}
