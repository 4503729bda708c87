//! Parquet output, written whole from the job's journal once every row is in it.
//!
//! A Parquet file cannot be appended to, so while the job runs its rows go to the journal
//! (`OUTPUT.journal`, the JSON Lines output with every guarantee of that path: checkpoints,
//! cut back on resume, rewritten after fixes and retries). When the job completes, the
//! journal is turned into Parquet in input order, in two streaming passes:
//!
//! 1. the journal is read once to find each row's (last) line, 8 bytes a row, and to settle
//!    each column's type;
//! 2. the rows are written in order, in record batches, into row groups of at most
//!    [`ROW_GROUP_ROWS`] rows or [`ROW_GROUP_BYTES`] bytes, so memory does not grow with the
//!    file. For a Parquet input, the input columns are copied from the input file as they are
//!    (every Arrow type kept); otherwise they are typed from their values.
//!
//! The file is made beside the output (a fresh temporary file), synced, and renamed over it:
//! the output is never a partial file.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::{StringBuilder, UInt64Builder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use serde_json::Value;
use serde_json::value::RawValue;

use parallel_arrow::{ColumnBuilder, ColumnType};

use super::read::{BATCH_ROWS, ParquetBatches};
use crate::error::Error;
use crate::files::{FileStamp, Fresh, Hashing};
use crate::input::ColumnMap;
use crate::output::{CsvLayout, JournalLine, KeyOrder, Outputs};

/// Rows in one row group, at most.
const ROW_GROUP_ROWS: usize = 64 * 1024;
/// Encoded bytes in one row group, at most (an estimate the writer keeps).
const ROW_GROUP_BYTES: usize = 32 * 1024 * 1024;

/// Where the input columns of the Parquet output come from.
#[derive(Clone, Copy)]
pub(crate) enum InputColumns<'a> {
    /// Copied from this Parquet input file, with the job's column map.
    Parquet {
        path: &'a Path,
        map: Option<&'a ColumnMap>,
    },
    /// Typed from the journal's inputs; in this order when known (CSV, or a column map).
    Journal { order: Option<&'a [String]> },
}

/// Which lines of the journal become the file's rows, in which order.
#[derive(Clone, Copy)]
pub(crate) enum Rows {
    /// Every row of a job's input, `0..n`, in input order: each row's last line (a row
    /// written again after a retry has several).
    Input(u64),
    /// Every line, in the journal's order (the runs of a group, as its stream gave them).
    AsWritten,
}

/// Where the output columns and their types come from.
pub(crate) enum OutputColumns {
    /// The task's output schema: these fields with the kinds it declares (`None`: one
    /// `output` column, text or an output of no fixed shape as JSON text, of this kind).
    Declared {
        fields: Option<Vec<(String, ColumnType)>>,
        single: ColumnType,
    },
    /// The outputs found in the journal: a column for each member of the objects (in the
    /// order the objects list them, [`KeyOrder`]) when every output is an object, one
    /// `output` column otherwise; their kinds inferred from the values.
    Found,
}

/// What the Parquet output is made of.
pub(crate) struct WholeOutput<'a> {
    pub(crate) output: &'a Path,
    pub(crate) journal: &'a Path,
    /// The journal's complete part, in bytes.
    pub(crate) journal_len: u64,
    pub(crate) rows: Rows,
    pub(crate) input: InputColumns<'a>,
    pub(crate) outputs: OutputColumns,
    /// `--basis`: the source columns in this order (those found in the journal follow).
    /// Citations are lists of strings, the others strings.
    pub(crate) sources: Option<&'a [String]>,
}

/// A row without a line in the journal.
const NO_LINE: u64 = u64::MAX;

/// What the first pass learnt: where each row's line is, and the columns' kinds.
struct Survey {
    /// Where each row's last line starts; [`NO_LINE`]: none.
    lines: Vec<u64>,
    input_columns: Vec<(String, ColumnType)>,
    /// The output's members, one column each; `None`: one `output` column.
    output_fields: Option<Vec<String>>,
    output_kinds: Vec<ColumnType>,
    /// The source columns (`--basis`), from the journal's `sources` objects.
    source_columns: Vec<String>,
}

/// The output columns as the survey finds them.
enum OutputSurvey {
    /// [`OutputColumns::Declared`]: the kinds checked against the values.
    Declared {
        fields: Option<Vec<String>>,
        kinds: Vec<ColumnType>,
    },
    /// [`OutputColumns::Found`]: the members seen and their kinds, whether every output is
    /// an object, and the kind of a single `output` column should some output not be one.
    Found {
        order: KeyOrder,
        kinds: HashMap<String, ColumnType>,
        all_objects: bool,
        single: ColumnType,
    },
}

impl OutputSurvey {
    fn new(outputs: &OutputColumns) -> Self {
        match outputs {
            OutputColumns::Declared { fields, single } => Self::Declared {
                fields: fields
                    .as_ref()
                    .map(|f| f.iter().map(|(n, _)| n.clone()).collect()),
                kinds: match fields {
                    Some(fields) => fields.iter().map(|(_, k)| *k).collect(),
                    None => vec![*single],
                },
            },
            OutputColumns::Found => Self::Found {
                order: KeyOrder::default(),
                kinds: HashMap::new(),
                all_objects: true,
                single: ColumnType::Null,
            },
        }
    }

    fn see(&mut self, raw: &RawValue, output: Value) {
        match self {
            Self::Declared { fields, kinds } => match (fields, output) {
                (Some(fields), Value::Object(object)) => {
                    for (name, kind) in fields.iter().zip(kinds.iter_mut()) {
                        if let Some(value) = object.get(name) {
                            *kind = kind.admit(value);
                        }
                    }
                }
                (None, value) => kinds[0] = kinds[0].admit(&value),
                _ => {}
            },
            Self::Found {
                order,
                kinds,
                all_objects,
                single,
            } => {
                if output.is_null() {
                    return;
                }
                *single = single.infer(&output);
                let Value::Object(object) = output else {
                    *all_objects = false;
                    return;
                };
                // The map is sorted by name: the objects' own order is read from the text.
                order.add(
                    crate::spec::object_keys(raw.get())
                        .iter()
                        .flatten()
                        .map(String::as_str),
                );
                for (name, value) in object {
                    let kind = kinds.entry(name).or_insert(ColumnType::Null);
                    *kind = kind.infer(&value);
                }
            }
        }
    }

    /// The columns: for outputs found, one `output` column unless every output is an object.
    fn finish(self) -> (Option<Vec<String>>, Vec<ColumnType>) {
        match self {
            Self::Declared { fields, kinds } => (fields, kinds),
            Self::Found {
                order,
                kinds,
                all_objects,
                single,
            } => {
                let names = order.into_names();
                if !all_objects || names.is_empty() {
                    return (None, vec![single]);
                }
                let kinds = names
                    .iter()
                    .map(|n| kinds.get(n).copied().unwrap_or(ColumnType::Null))
                    .collect();
                (Some(names), kinds)
            }
        }
    }
}

impl WholeOutput<'_> {
    /// Writes the output; returns its length and hash, as renamed into place.
    pub(crate) fn write(&self) -> Result<FileStamp, Error> {
        let survey = self.survey()?;
        let io = |e| Error::io(format!("cannot write {}", self.output.display()), e);
        let tmp = Fresh::beside(self.output).map_err(io)?;
        let sink = Hashing::new(BufWriter::with_capacity(256 * 1024, tmp.file()));
        let mut pass = WritePass::new(self, &survey)?;
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
            .set_max_row_group_bytes(Some(ROW_GROUP_BYTES))
            .build();
        let parquet_error = |e: parquet::errors::ParquetError| {
            Error::io(
                format!("cannot write {}", self.output.display()),
                std::io::Error::other(e),
            )
        };
        let mut writer = ArrowWriter::try_new(sink, Arc::clone(&pass.schema), Some(props))
            .map_err(parquet_error)?;
        while let Some(batch) = pass.next_batch(self, &survey)? {
            writer.write(&batch).map_err(parquet_error)?;
        }
        let mut sink = writer.into_inner().map_err(parquet_error)?;
        sink.flush().map_err(io)?;
        let stamp = sink.stamp();
        drop(sink);
        tmp.persist(self.output).map_err(io)?;
        Ok(stamp)
    }

    fn survey(&self) -> Result<Survey, Error> {
        let io = |e| Error::io(format!("cannot read {}", self.journal.display()), e);
        let file = File::open(self.journal).map_err(io)?;
        let mut reader = BufReader::with_capacity(256 * 1024, file.take(self.journal_len));
        let mut lines = match self.rows {
            Rows::Input(total) => vec![NO_LINE; usize::try_from(total).unwrap_or(usize::MAX)],
            Rows::AsWritten => Vec::new(),
        };
        // The input columns: in the input's order when known, else as the inputs list them.
        let mut input_order = KeyOrder::default();
        let mut input_kinds: HashMap<String, ColumnType> = HashMap::new();
        if let InputColumns::Journal { order: Some(order) } = self.input {
            input_order.add(order.iter().map(String::as_str));
        }
        let infer_inputs = matches!(self.input, InputColumns::Journal { .. });
        let mut outputs = OutputSurvey::new(&self.outputs);
        let mut sources = KeyOrder::default();
        if let Some(order) = self.sources {
            sources.add(order.iter().map(String::as_str));
        }
        let mut buf = Vec::new();
        let mut offset = 0u64;
        loop {
            buf.clear();
            let n = reader.read_until(b'\n', &mut buf).map_err(io)?;
            if n == 0 {
                break;
            }
            let line: JournalLine<'_> =
                serde_json::from_slice(&buf).map_err(|e| self.damaged(offset, &e))?;
            match self.rows {
                Rows::Input(total) => {
                    let slot = usize::try_from(line.row)
                        .ok()
                        .and_then(|r| lines.get_mut(r))
                        .ok_or_else(|| {
                            Error::state(format!(
                                "{} holds row {}, but the input has {total} rows; delete the \
                                 output's files to start over",
                                self.journal.display(),
                                line.row,
                            ))
                        })?;
                    *slot = offset;
                }
                Rows::AsWritten => lines.push(offset),
            }
            offset += n as u64;
            if infer_inputs {
                let input = input_object(line.input);
                input_order.add(input.iter().map(|(key, _)| key.as_str()));
                for (key, value) in input {
                    let kind = input_kinds.entry(key).or_insert(ColumnType::Null);
                    *kind = kind.infer(&value);
                }
            }
            if let Some(raw) = line.output
                && let Ok(output) = serde_json::from_str::<Value>(raw.get())
            {
                outputs.see(raw, output);
            }
            if let Some(keys) = line.sources.and_then(|s| crate::spec::object_keys(s.get())) {
                sources.add(keys.iter().map(String::as_str));
            }
        }
        if let Some(row) = lines.iter().position(|offset| *offset == NO_LINE) {
            return Err(Error::state(format!(
                "row {row} is missing from {}, though the job's state says every row was \
                 written; delete the output's files to start over",
                self.journal.display()
            )));
        }
        let input_columns = input_order
            .into_names()
            .into_iter()
            .map(|name| {
                let kind = input_kinds.get(&name).copied().unwrap_or(ColumnType::Null);
                (name, kind)
            })
            .collect();
        let (output_fields, output_kinds) = outputs.finish();
        Ok(Survey {
            lines,
            input_columns,
            output_fields,
            output_kinds,
            source_columns: sources.into_names(),
        })
    }

    fn damaged(&self, offset: u64, e: &serde_json::Error) -> Error {
        Error::state(format!(
            "{} is damaged at byte {offset} ({e}); delete the output's files to start over",
            self.journal.display()
        ))
    }
}

/// A run input as (column, value) pairs in its order; a text input is the column `input`.
fn input_object(input: &RawValue) -> Vec<(String, Value)> {
    match serde_json::from_str::<Value>(input.get()) {
        Ok(Value::Object(object)) => {
            let order = crate::spec::object_keys(input.get()).unwrap_or_default();
            let mut object = object;
            order
                .into_iter()
                .filter_map(|k| object.remove(&k).map(|v| (k, v)))
                .collect()
        }
        Ok(other) => vec![("input".to_owned(), other)],
        Err(_) => Vec::new(),
    }
}

/// The second pass: record batches in input order.
struct WritePass<'a> {
    schema: SchemaRef,
    lines: &'a [u64],
    journal: BufReader<File>,
    /// Where the journal reader stands.
    at: u64,
    parquet_input: Option<ParquetBatches>,
    input_columns: Vec<String>,
    input_builders: Vec<ColumnBuilder>,
    output_builders: Vec<ColumnBuilder>,
    source_builders: Vec<ColumnBuilder>,
    next_row: u64,
    buf: Vec<u8>,
}

impl<'a> WritePass<'a> {
    fn new(whole: &WholeOutput<'_>, survey: &'a Survey) -> Result<Self, Error> {
        let io = |e| Error::io(format!("cannot read {}", whole.journal.display()), e);
        let journal = BufReader::with_capacity(256 * 1024, File::open(whole.journal).map_err(io)?);
        let (parquet_input, input_fields): (Option<ParquetBatches>, Vec<Field>) = match whole.input
        {
            InputColumns::Parquet { path, map } => {
                let batches = ParquetBatches::open(path, map)?;
                let fields = batches
                    .schema()
                    .fields()
                    .iter()
                    .map(|f| f.as_ref().clone())
                    .collect();
                (Some(batches), fields)
            }
            InputColumns::Journal { .. } => (
                None,
                survey
                    .input_columns
                    .iter()
                    .map(|(name, kind)| Field::new(name, kind.data_type(), true))
                    .collect(),
            ),
        };
        let input_names: Vec<String> = input_fields.iter().map(|f| f.name().clone()).collect();
        let output_keys: Vec<String> = match &survey.output_fields {
            Some(fields) => fields.clone(),
            None => vec!["output".to_owned()],
        };
        // The CSV output's column names: a name used twice gets `input.`/`output.`.
        let outputs = Outputs {
            fields: Some(&output_keys),
            sources: &survey.source_columns,
        };
        let layout = CsvLayout::new(&input_names, outputs);
        let header = layout.header();
        let mut fields = vec![Field::new("row", DataType::UInt64, false)];
        for (field, name) in input_fields.iter().zip(&header[1..]) {
            fields.push(field.clone().with_name(*name).with_nullable(true));
        }
        let names_out = &header[1 + input_fields.len()..header.len() - 3];
        let kinds_out = survey
            .output_kinds
            .iter()
            .copied()
            .chain(survey.source_columns.iter().map(|c| source_kind(c)));
        for (kind, name) in kinds_out.zip(names_out) {
            fields.push(Field::new(*name, kind.data_type(), true));
        }
        fields.push(Field::new("run_id", DataType::Utf8, false));
        fields.push(Field::new("status", DataType::Utf8, false));
        fields.push(Field::new("error", DataType::Utf8, true));
        let input_builders = match whole.input {
            InputColumns::Parquet { .. } => Vec::new(),
            InputColumns::Journal { .. } => survey
                .input_columns
                .iter()
                .map(|(_, k)| ColumnBuilder::new(*k))
                .collect(),
        };
        Ok(Self {
            schema: Arc::new(Schema::new(fields)),
            lines: &survey.lines,
            journal,
            at: 0,
            parquet_input,
            input_columns: survey
                .input_columns
                .iter()
                .map(|(n, _)| n.clone())
                .collect(),
            input_builders,
            output_builders: survey
                .output_kinds
                .iter()
                .map(|k| ColumnBuilder::new(*k))
                .collect(),
            source_builders: survey
                .source_columns
                .iter()
                .map(|c| ColumnBuilder::new(source_kind(c)))
                .collect(),
            next_row: 0,
            buf: Vec::new(),
        })
    }

    /// The next rows as a record batch, or `None` after the last row.
    fn next_batch(
        &mut self,
        whole: &WholeOutput<'_>,
        survey: &Survey,
    ) -> Result<Option<RecordBatch>, Error> {
        let total_rows = self.lines.len() as u64;
        let (count, input_arrays) = match (&mut self.parquet_input, whole.input) {
            (Some(batches), InputColumns::Parquet { path, .. }) => {
                match batches.next_batch(path)? {
                    Some(batch) => (batch.num_rows() as u64, batch.columns().to_vec()),
                    None => (0, Vec::new()),
                }
            }
            _ => (
                (total_rows - self.next_row).min(BATCH_ROWS as u64 * 4),
                Vec::new(),
            ),
        };
        if count == 0 {
            if self.next_row != total_rows {
                return Err(input_changed(whole, total_rows));
            }
            return Ok(None);
        }
        if self.next_row + count > total_rows {
            return Err(input_changed(whole, total_rows));
        }
        let mut rows = UInt64Builder::with_capacity(usize::try_from(count).unwrap_or(0));
        let mut run_ids = StringBuilder::new();
        let mut statuses = StringBuilder::new();
        let mut errors = StringBuilder::new();
        for row in self.next_row..self.next_row + count {
            self.read_line(whole, row)?;
            let line: JournalLine<'_> = serde_json::from_slice(&self.buf)
                .map_err(|e| whole.damaged(self.lines[to_index(row)], &e))?;
            rows.append_value(line.row);
            if !self.input_builders.is_empty() {
                let input: HashMap<String, Value> = input_object(line.input).into_iter().collect();
                for (name, builder) in self.input_columns.iter().zip(&mut self.input_builders) {
                    append(builder, input.get(name));
                }
            }
            let output = line
                .output
                .and_then(|o| serde_json::from_str::<Value>(o.get()).ok());
            match (&survey.output_fields, &output) {
                (Some(fields), Some(Value::Object(object))) => {
                    for (name, builder) in fields.iter().zip(&mut self.output_builders) {
                        append(builder, object.get(name));
                    }
                }
                (Some(_), _) => self
                    .output_builders
                    .iter_mut()
                    .for_each(ColumnBuilder::append_null),
                (None, value) => append(&mut self.output_builders[0], value.as_ref()),
            }
            if !self.source_builders.is_empty() {
                let sources: Option<HashMap<String, Value>> = line
                    .sources
                    .and_then(|s| serde_json::from_str(s.get()).ok());
                let columns = survey.source_columns.iter();
                for (name, builder) in columns.zip(&mut self.source_builders) {
                    append(builder, sources.as_ref().and_then(|s| s.get(name)));
                }
            }
            run_ids.append_value(&line.run_id);
            statuses.append_value(&line.status);
            errors.append_option(line.error.as_deref());
        }
        self.next_row += count;
        let mut columns: Vec<ArrayRef> = vec![Arc::new(rows.finish())];
        columns.extend(input_arrays);
        columns.extend(self.input_builders.iter_mut().map(ColumnBuilder::finish));
        columns.extend(self.output_builders.iter_mut().map(ColumnBuilder::finish));
        columns.extend(self.source_builders.iter_mut().map(ColumnBuilder::finish));
        columns.push(Arc::new(run_ids.finish()));
        columns.push(Arc::new(statuses.finish()));
        columns.push(Arc::new(errors.finish()));
        RecordBatch::try_new(Arc::clone(&self.schema), columns)
            .map(Some)
            .map_err(|e| {
                Error::state(format!(
                    "cannot assemble the rows for {}: {e}",
                    whole.output.display()
                ))
            })
    }

    /// Reads `row`'s journal line into `buf`. Rows were mostly written in input order, so
    /// the reader mostly moves forward within its buffer.
    fn read_line(&mut self, whole: &WholeOutput<'_>, row: u64) -> Result<(), Error> {
        let io = |e| Error::io(format!("cannot read {}", whole.journal.display()), e);
        let offset = self.lines[to_index(row)];
        let delta =
            i64::try_from(offset).unwrap_or(i64::MAX) - i64::try_from(self.at).unwrap_or(i64::MAX);
        self.journal.seek_relative(delta).map_err(io)?;
        self.buf.clear();
        let n = self.journal.read_until(b'\n', &mut self.buf).map_err(io)?;
        self.at = offset + n as u64;
        Ok(())
    }
}

/// The type of a source column: the URLs a list of strings, the rest text.
fn source_kind(column: &str) -> ColumnType {
    if crate::basis::is_citations(column) {
        ColumnType::List
    } else {
        ColumnType::String
    }
}

/// Appends a value the survey has checked against its column's type: it fits (were it not
/// to, it would be null rather than a panic).
fn append(builder: &mut ColumnBuilder, value: Option<&Value>) {
    let _ = builder.append(value);
}

fn to_index(row: u64) -> usize {
    usize::try_from(row).unwrap_or(usize::MAX)
}

fn input_changed(whole: &WholeOutput<'_>, total_rows: u64) -> Error {
    Error::state(format!(
        "the input no longer has the job's {total_rows} rows: it changed since the job ran; \
         restore it and run the same command to write {}",
        whole.output.display()
    ))
}
