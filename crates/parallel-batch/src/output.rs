//! Output writers: one line per input row, JSONL or CSV, appended as results arrive.
//!
//! A JSONL line is `{"row", "input", "output", "run_id", "status", "error"}` with the input and
//! output kept as the JSON they were (and with `--basis`, `sources` after `output`). A CSV row
//! has `row`, the input columns, the output fields flattened into their own columns (nested
//! values, lists among them, as compact JSON: `["a","b"]`), the source columns with
//! `--basis`, then `run_id`, `status` and `error`. A column name used twice gets an `input.`,
//! `output.` or `sources.` prefix.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Seek, Write};
use std::path::{Path, PathBuf};

use serde_json::Value;
use serde_json::value::RawValue;

use crate::error::Error;
use crate::files::{Fnv64, hash_prefix};

/// The output file's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum OutputFormat {
    /// Comma-separated values with a header line.
    Csv,
    /// One JSON object per line.
    Jsonl,
    /// Apache Parquet, written whole when the job completes; until then the rows are kept in
    /// a JSON Lines journal beside it (needs the `parquet` feature).
    Parquet,
}

impl OutputFormat {
    /// The format of the file the rows are appended to as they finish: the output itself,
    /// or for Parquet its JSON Lines journal.
    pub(crate) fn appended(self) -> Self {
        match self {
            Self::Csv => Self::Csv,
            Self::Jsonl | Self::Parquet => Self::Jsonl,
        }
    }

    /// The format named by `explicit`, else guessed from the extension (JSONL unless `.csv`
    /// or `.parquet`).
    pub(crate) fn resolve(path: &Path, explicit: Option<Self>) -> Self {
        explicit.unwrap_or_else(|| {
            match path
                .extension()
                .and_then(|e| e.to_str())
                .map(str::to_ascii_lowercase)
                .as_deref()
            {
                Some("csv") => Self::Csv,
                Some("parquet") => Self::Parquet,
                _ => Self::Jsonl,
            }
        })
    }
}

/// One finished row.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Record<'a> {
    /// The input row number (0-based, header excluded).
    pub(crate) row: u64,
    /// The run input as JSON (object or string).
    pub(crate) input: &'a RawValue,
    /// The output content as JSON (object for JSON output, string for text), if completed.
    pub(crate) output: Option<&'a RawValue>,
    /// The run id.
    pub(crate) run_id: &'a str,
    /// The run's final status (`completed`, `failed`, `cancelled`).
    pub(crate) status: &'a str,
    /// The error message for a run that did not complete.
    pub(crate) error: Option<&'a str>,
    /// `--basis`: the output fields' sources, a JSON object of the source columns (`null`
    /// for a row without an output); `None` without `--basis`.
    pub(crate) sources: Option<&'a RawValue>,
}

/// The output side of a CSV file's columns.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Outputs<'a> {
    /// The output fields, a column each; `None`: one `output` column.
    pub(crate) fields: Option<&'a [String]>,
    /// `--basis`: the source columns (`X_citations`, ...), after the output's.
    pub(crate) sources: &'a [String],
}

#[cfg(test)]
impl<'a> Outputs<'a> {
    /// These output fields, without sources.
    pub(crate) fn fields(fields: Option<&'a [String]>) -> Self {
        Self {
            fields,
            sources: &[],
        }
    }
}

/// Which CSV columns exist and where their values come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CsvLayout {
    /// (header name, input key)
    input: Vec<(String, String)>,
    /// (header name, output key); a single `("output", "")` entry means the whole output.
    output: Vec<(String, String)>,
    /// (header name, key in the record's sources).
    sources: Vec<(String, String)>,
}

const RESERVED: [&str; 4] = ["row", "run_id", "status", "error"];

impl CsvLayout {
    /// A layout for these input columns and outputs.
    pub(crate) fn new(input: &[String], outputs: Outputs<'_>) -> Self {
        let output = outputs.fields;
        let output_keys: Vec<String> = output.map_or_else(Vec::new, <[String]>::to_vec);
        let sources = outputs
            .sources
            .iter()
            .map(|key| {
                let clash = output_keys.contains(key)
                    || (output.is_none() && key == "output")
                    || RESERVED.contains(&key.as_str());
                let name = if clash {
                    format!("sources.{key}")
                } else {
                    key.clone()
                };
                (name, key.clone())
            })
            .collect();
        let input = input
            .iter()
            .map(|key| {
                let clash = RESERVED.contains(&key.as_str())
                    || output_keys.contains(key)
                    || outputs.sources.contains(key);
                let name = if clash {
                    format!("input.{key}")
                } else {
                    key.clone()
                };
                (name, key.clone())
            })
            .collect();
        let output = match output {
            Some(keys) => keys
                .iter()
                .map(|key| {
                    let clash = RESERVED.contains(&key.as_str());
                    let name = if clash {
                        format!("output.{key}")
                    } else {
                        key.clone()
                    };
                    (name, key.clone())
                })
                .collect(),
            None => vec![("output".to_owned(), String::new())],
        };
        Self {
            input,
            output,
            sources,
        }
    }

    /// The header line's names.
    pub(crate) fn header(&self) -> Vec<&str> {
        let mut names = vec!["row"];
        names.extend(self.input.iter().map(|(n, _)| n.as_str()));
        names.extend(self.output.iter().map(|(n, _)| n.as_str()));
        names.extend(self.sources.iter().map(|(n, _)| n.as_str()));
        names.extend(["run_id", "status", "error"]);
        names
    }
}

/// Where a resumed output's good part ends, as the job's state recorded it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Checkpoint<'a> {
    /// The file's first `len` bytes are complete records.
    pub(crate) len: u64,
    /// Their hash (hex), when the state has one.
    pub(crate) hash: Option<&'a str>,
    /// The job's files beside the output, named in messages.
    pub(crate) files: &'a Path,
}

/// Which bytes of an existing file a writer keeps.
enum Start<'a> {
    /// The first bytes, not hashed.
    Kept(u64),
    /// A checkpoint's, hashed and checked.
    Checkpoint(&'a Checkpoint<'a>),
}

impl Start<'_> {
    fn len(&self) -> u64 {
        match self {
            Self::Kept(len) => *len,
            Self::Checkpoint(checkpoint) => checkpoint.len,
        }
    }

    /// How to start the job over.
    fn start_over(&self) -> String {
        match self {
            Self::Kept(_) => "delete the output to start over".to_owned(),
            Self::Checkpoint(checkpoint) => format!(
                "delete both the output and {} to start over",
                checkpoint.files.display()
            ),
        }
    }
}

/// Appends records to the output file and tracks how many bytes are valid.
#[derive(Debug)]
pub(crate) struct OutputWriter {
    path: PathBuf,
    file: BufWriter<File>,
    format: OutputFormat,
    layout: Option<CsvLayout>,
    /// Output fields to use when the layout is decided by the first record.
    output_fields: Option<Vec<String>>,
    /// Source columns, likewise.
    sources: Vec<String>,
    len: u64,
    /// FNV-1a 64 of every byte in the file up to `len`, for a file that is resumed (opened
    /// with [`OutputWriter::open_at_checkpoint`]).
    hash: Option<Fnv64>,
    line: Vec<u8>,
    fields: Vec<String>,
}

impl OutputWriter {
    /// Opens `path` for appending after its first `keep` bytes (anything after them is cut:
    /// a partial line, or rows written after the last checkpoint). `keep = 0` starts a new
    /// file. For CSV, `input_columns` fixes the input columns; when `None` they are taken
    /// from the existing header or from the first record's input. The file is not hashed:
    /// it is written once, not resumed.
    pub(crate) fn open(
        path: &Path,
        format: OutputFormat,
        keep: u64,
        input_columns: Option<&[String]>,
        outputs: Outputs<'_>,
    ) -> Result<Self, Error> {
        let start = Start::Kept(keep);
        Self::open_with(path, format, &start, input_columns, outputs)
    }

    /// Like [`OutputWriter::open`] after the checkpoint's bytes, and first proves that they
    /// are the ones written: their hash must be the checkpoint's (from
    /// [`OutputWriter::hash`]). A file edited, sorted or replaced since is refused untouched.
    pub(crate) fn open_at_checkpoint(
        path: &Path,
        format: OutputFormat,
        checkpoint: &Checkpoint<'_>,
        input_columns: Option<&[String]>,
        outputs: Outputs<'_>,
    ) -> Result<Self, Error> {
        let start = Start::Checkpoint(checkpoint);
        Self::open_with(path, format, &start, input_columns, outputs)
    }

    fn open_with(
        path: &Path,
        format: OutputFormat,
        start: &Start<'_>,
        input_columns: Option<&[String]>,
        outputs: Outputs<'_>,
    ) -> Result<Self, Error> {
        let io = |e| Error::io(format!("cannot write output {}", path.display()), e);
        let keep = start.len();
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        let mut file = crate::files::no_follow::open(path, &mut options).map_err(io)?;
        let existing = file.metadata().map_err(io)?.len();
        if existing < keep {
            return Err(Error::state(format!(
                "the output {} is shorter ({existing} bytes) than its state records ({keep} \
                 bytes): it was changed since the last run; {}",
                path.display(),
                start.start_over()
            )));
        }
        let hash = match start {
            Start::Kept(_) => None,
            Start::Checkpoint(checkpoint) => {
                let hash = hash_prefix(&mut file, keep).map_err(io)?.hash();
                if checkpoint
                    .hash
                    .is_some_and(|expected| hash.hex() != expected)
                {
                    return Err(Error::state(format!(
                        "{} is not the file this job wrote: its first {keep} bytes changed \
                         since the last checkpoint (sorted, edited or replaced?), so resuming \
                         would duplicate and lose rows. Restore the file, or move it away and \
                         delete {} to start over (`parallel-batch results GROUP -o FILE` \
                         writes every finished run of the group to a new file)",
                        path.display(),
                        checkpoint.files.display()
                    )));
                }
                Some(hash)
            }
        };
        let mut layout = None;
        if format == OutputFormat::Csv && keep > 0 {
            layout = Some(read_layout(path, outputs, start)?);
        }
        file.set_len(keep).map_err(io)?;
        file.seek(std::io::SeekFrom::Start(keep)).map_err(io)?;
        Self::start(
            file,
            path,
            format,
            keep,
            hash,
            layout,
            input_columns,
            outputs,
        )
    }

    /// Writes a new file of `format` to `file`, freshly created and empty (`path` names it
    /// in messages). For CSV, `input_columns` fixes the input columns; when `None` they are
    /// taken from the first record's input.
    pub(crate) fn create(
        file: File,
        path: &Path,
        format: OutputFormat,
        input_columns: Option<&[String]>,
        outputs: Outputs<'_>,
    ) -> Result<Self, Error> {
        Self::start(file, path, format, 0, None, None, input_columns, outputs)
    }

    /// The writer of `file`, whose first `keep` bytes (hashing to `hash`, if hashed) are
    /// kept, with the CSV `layout` of those bytes.
    #[allow(clippy::too_many_arguments)]
    fn start(
        file: File,
        path: &Path,
        format: OutputFormat,
        keep: u64,
        hash: Option<Fnv64>,
        mut layout: Option<CsvLayout>,
        input_columns: Option<&[String]>,
        outputs: Outputs<'_>,
    ) -> Result<Self, Error> {
        if format == OutputFormat::Csv
            && layout.is_none()
            && let Some(columns) = input_columns
        {
            layout = Some(CsvLayout::new(columns, outputs));
        }
        let mut writer = Self {
            path: path.to_owned(),
            file: BufWriter::with_capacity(256 * 1024, file),
            format,
            layout,
            output_fields: outputs.fields.map(<[String]>::to_vec),
            sources: outputs.sources.to_vec(),
            len: keep,
            hash,
            line: Vec::with_capacity(1024),
            fields: Vec::new(),
        };
        if keep == 0 && writer.layout.is_some() {
            writer.write_header()?;
        }
        Ok(writer)
    }

    /// Bytes of the file that are complete records (including buffered ones).
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// FNV-1a 64 (hex) of the file's first [`OutputWriter::len`] bytes, for the checkpoint;
    /// `None` for a file opened with [`OutputWriter::open`] (not hashed).
    pub(crate) fn hash(&self) -> Option<String> {
        self.hash.map(Fnv64::hex)
    }

    fn write_header(&mut self) -> Result<(), Error> {
        let Some(layout) = &self.layout else {
            return Ok(());
        };
        let header: Vec<String> = layout.header().into_iter().map(str::to_owned).collect();
        self.line.clear();
        csv_line(&mut self.line, &header);
        self.emit()
    }

    /// Appends one record (buffered; call [`OutputWriter::flush`] to hand it to the OS).
    pub(crate) fn write(&mut self, record: &Record<'_>) -> Result<(), Error> {
        self.line.clear();
        match self.format {
            // A Parquet output's rows go to its JSON Lines journal.
            OutputFormat::Jsonl | OutputFormat::Parquet => jsonl_line(&mut self.line, record)?,
            OutputFormat::Csv => {
                let input: BTreeMap<String, Value> = serde_json::from_str(record.input.get())
                    .unwrap_or_else(|_| {
                        // A text input (JSON string) has no columns: keep it under `input`.
                        let mut m = BTreeMap::new();
                        if let Ok(text) = serde_json::from_str::<Value>(record.input.get()) {
                            m.insert("input".to_owned(), text);
                        }
                        m
                    });
                if self.layout.is_none() {
                    // Columns in the order the first row lists them.
                    let columns: Vec<String> = crate::spec::object_keys(record.input.get())
                        .unwrap_or_else(|| input.keys().cloned().collect());
                    let outputs = Outputs {
                        fields: self.output_fields.as_deref(),
                        sources: &self.sources,
                    };
                    self.layout = Some(CsvLayout::new(&columns, outputs));
                    self.write_header()?;
                    self.line.clear();
                }
                let output: Option<Value> = record
                    .output
                    .and_then(|o| serde_json::from_str(o.get()).ok());
                let layout = self.layout.as_ref().ok_or_else(|| {
                    Error::state("internal: the CSV layout is missing after the header")
                })?;
                let fields = &mut self.fields;
                fields.clear();
                fields.push(record.row.to_string());
                for (_, key) in &layout.input {
                    fields.push(cell(input.get(key)));
                }
                for (_, key) in &layout.output {
                    let value = match (&output, key.is_empty()) {
                        (Some(v), true) => Some(v),
                        (Some(Value::Object(o)), false) => o.get(key),
                        _ => None,
                    };
                    fields.push(cell(value));
                }
                if !layout.sources.is_empty() {
                    let sources: Option<BTreeMap<String, Value>> = record
                        .sources
                        .and_then(|s| serde_json::from_str(s.get()).ok());
                    for (_, key) in &layout.sources {
                        let value = sources.as_ref().and_then(|s| s.get(key));
                        fields.push(crate::basis::csv_cell(key, value));
                    }
                }
                fields.push(record.run_id.to_owned());
                fields.push(record.status.to_owned());
                fields.push(record.error.unwrap_or("").to_owned());
                csv_line(&mut self.line, fields);
            }
        }
        self.emit()
    }

    /// Appends whole JSON Lines records encoded with [`jsonl_line`] (a JSON Lines file, or a
    /// Parquet output's journal).
    pub(crate) fn write_jsonl(&mut self, lines: &[u8]) -> Result<(), Error> {
        if self.format == OutputFormat::Csv {
            return Err(Error::state(
                "internal: JSON Lines records written to a CSV output",
            ));
        }
        self.append(lines)
    }

    fn emit(&mut self) -> Result<(), Error> {
        let line = std::mem::take(&mut self.line);
        let written = self.append(&line);
        self.line = line;
        written
    }

    fn append(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.file
            .write_all(bytes)
            .map_err(|e| Error::io(format!("cannot write output {}", self.path.display()), e))?;
        self.len += bytes.len() as u64;
        if let Some(hash) = &mut self.hash {
            hash.update(bytes);
        }
        Ok(())
    }

    /// Hands buffered records to the OS: they survive a crash of this process.
    pub(crate) fn flush(&mut self) -> Result<(), Error> {
        self.file
            .flush()
            .map_err(|e| Error::io(format!("cannot write output {}", self.path.display()), e))
    }

    /// Flushes and syncs to disk: they survive a crash of the machine. Returns the length.
    pub(crate) fn sync(&mut self) -> Result<u64, Error> {
        self.flush()?;
        self.file
            .get_ref()
            .sync_data()
            .map_err(|e| Error::io(format!("cannot sync output {}", self.path.display()), e))?;
        Ok(self.len)
    }
}

/// The member names of many JSON objects as columns, in the order the objects list them:
/// each object says which of its names come before which, and the columns follow every such
/// order at once (a topological order; among names free to go next, the one seen first).
/// Objects that each list some of one schema's properties in the schema's order give that
/// order. Where objects disagree, the name seen first goes first.
#[derive(Debug, Default)]
pub(crate) struct KeyOrder {
    /// Every name, in the order first seen.
    names: Vec<String>,
    index: HashMap<String, usize>,
    /// `(a, b)`: name `b` came right after name `a` in some object.
    follows: HashSet<(usize, usize)>,
}

impl KeyOrder {
    /// Adds the member names of one object, in its order.
    pub(crate) fn add<'k>(&mut self, keys: impl IntoIterator<Item = &'k str>) {
        let mut previous = None;
        for key in keys {
            let id = if let Some(&id) = self.index.get(key) {
                id
            } else {
                self.names.push(key.to_owned());
                self.index.insert(key.to_owned(), self.names.len() - 1);
                self.names.len() - 1
            };
            if let Some(previous) = previous
                && previous != id
            {
                self.follows.insert((previous, id));
            }
            previous = Some(id);
        }
    }

    /// The names, in order.
    pub(crate) fn into_names(self) -> Vec<String> {
        let count = self.names.len();
        let mut after = vec![Vec::new(); count];
        let mut before = vec![0usize; count];
        for &(a, b) in &self.follows {
            after[a].push(b);
            before[b] += 1;
        }
        let mut ready: BinaryHeap<Reverse<usize>> = (0..count)
            .filter(|&i| before[i] == 0)
            .map(Reverse)
            .collect();
        let mut placed = vec![false; count];
        let mut order = Vec::with_capacity(count);
        while order.len() < count {
            // With objects that disagree no name may be free: take the first seen left.
            // (A name is made ready once, when its last earlier name is placed.)
            let next = match ready.pop() {
                Some(Reverse(i)) => i,
                None => (0..count).find(|&i| !placed[i]).unwrap_or(0),
            };
            placed[next] = true;
            order.push(next);
            for &b in &after[next] {
                before[b] -= 1;
                if before[b] == 0 && !placed[b] {
                    ready.push(Reverse(b));
                }
            }
        }
        let mut names: Vec<Option<String>> = self.names.into_iter().map(Some).collect();
        order.into_iter().filter_map(|i| names[i].take()).collect()
    }
}

/// A JSON Lines record as [`jsonl_line`] writes it, read back borrowed.
#[derive(serde::Deserialize)]
pub(crate) struct JournalLine<'a> {
    pub(crate) row: u64,
    #[serde(borrow)]
    pub(crate) input: &'a RawValue,
    #[serde(borrow, default)]
    pub(crate) output: Option<&'a RawValue>,
    #[serde(default)]
    pub(crate) run_id: String,
    #[serde(default)]
    pub(crate) status: String,
    #[serde(default)]
    pub(crate) error: Option<String>,
    /// `--basis`: the sources object (`None` without, or for a row without an output).
    #[serde(borrow, default)]
    pub(crate) sources: Option<&'a RawValue>,
}

impl JournalLine<'_> {
    /// The line as a record to write.
    pub(crate) fn record(&self) -> Record<'_> {
        Record {
            row: self.row,
            input: self.input,
            output: self.output,
            run_id: &self.run_id,
            status: &self.status,
            error: self.error.as_deref(),
            sources: self.sources,
        }
    }
}

/// Appends `record` as a JSON Lines record (with its newline) to `line`: the input and output
/// as the JSON they were, the rest encoded.
pub(crate) fn jsonl_line(line: &mut Vec<u8>, record: &Record<'_>) -> Result<(), Error> {
    let encode = |e| Error::io("cannot encode a result", std::io::Error::other(e));
    line.extend_from_slice(b"{\"row\":");
    serde_json::to_writer(&mut *line, &record.row).map_err(encode)?;
    line.extend_from_slice(b",\"input\":");
    line.extend_from_slice(record.input.get().as_bytes());
    line.extend_from_slice(b",\"output\":");
    line.extend_from_slice(record.output.map_or("null", RawValue::get).as_bytes());
    if let Some(sources) = record.sources {
        line.extend_from_slice(b",\"sources\":");
        line.extend_from_slice(sources.get().as_bytes());
    }
    line.extend_from_slice(b",\"run_id\":");
    serde_json::to_writer(&mut *line, record.run_id).map_err(encode)?;
    line.extend_from_slice(b",\"status\":");
    serde_json::to_writer(&mut *line, record.status).map_err(encode)?;
    line.extend_from_slice(b",\"error\":");
    serde_json::to_writer(&mut *line, &record.error).map_err(encode)?;
    line.extend_from_slice(b"}\n");
    Ok(())
}

/// A CSV cell for a JSON value: strings as they are, null/absent empty, others as JSON.
fn cell(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// A byte buffer the CSV encoder writes into and [`csv_line`] drains.
#[derive(Clone, Default)]
struct Shared(std::rc::Rc<std::cell::RefCell<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn csv_line(out: &mut Vec<u8>, fields: &[String]) {
    thread_local! {
        // One encoder reused for every line: building one per line costs an 8 KB buffer.
        // Flexible, because it serves every file written on this thread, and lines of
        // different files differ in length (the layout keeps one file's lines alike); a
        // strict encoder would refuse such a line.
        static ENCODER: std::cell::RefCell<(Shared, csv::Writer<Shared>)> = {
            let shared = Shared::default();
            let writer = csv::WriterBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_writer(shared.clone());
            std::cell::RefCell::new((shared, writer))
        };
    }
    ENCODER.with(|encoder| {
        let (shared, writer) = &mut *encoder.borrow_mut();
        // Writing to memory cannot fail, and a flexible encoder takes any record.
        let _ = writer.write_record(fields);
        let _ = writer.flush();
        let mut buffer = shared.0.borrow_mut();
        out.extend_from_slice(&buffer);
        buffer.clear();
    });
}

/// Rebuilds the CSV layout from the header of an existing output file.
fn read_layout(path: &Path, outputs: Outputs<'_>, start: &Start<'_>) -> Result<CsvLayout, Error> {
    let file =
        File::open(path).map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(file);
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| Error::state(format!("cannot read the header of {}: {e}", path.display())))?
        .iter()
        .map(str::to_owned)
        .collect();
    let expected = CsvLayout::new(&[], outputs);
    let output_names: Vec<&str> = expected
        .output
        .iter()
        .chain(&expected.sources)
        .map(|(n, _)| n.as_str())
        .collect();
    let n_out = output_names.len();
    let ok = header.len() >= 4 + n_out
        && header[0] == "row"
        && header[header.len() - 3..] == ["run_id", "status", "error"]
        && header[header.len() - 3 - n_out..header.len() - 3] == output_names[..];
    if !ok {
        return Err(Error::state(format!(
            "the header of {} does not match this task's columns; {}, or write to another \
             file",
            path.display(),
            start.start_over()
        )));
    }
    let input = header[1..header.len() - 3 - n_out]
        .iter()
        .map(|name| {
            let key = name.strip_prefix("input.").unwrap_or(name).to_owned();
            (name.clone(), key)
        })
        .collect();
    Ok(CsvLayout {
        input,
        output: expected.output,
        sources: expected.sources,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(s: &str) -> Box<RawValue> {
        RawValue::from_string(s.to_owned()).unwrap()
    }

    #[test]
    fn key_order_follows_objects_that_each_list_part_of_one_order() {
        let mut order = KeyOrder::default();
        for object in [
            &["ceo", "products"][..],
            &["ceo", "founded", "products"],
            &["public", "revenue"],
            &["founded", "public", "products"],
            &["ceo", "founded", "revenue", "products"],
            &[],
            &["name", "ceo"],
            &["revenue", "tail"],
        ] {
            order.add(object.iter().copied());
        }
        assert_eq!(
            order.into_names(),
            [
                "name", "ceo", "founded", "public", "revenue", "products", "tail"
            ]
        );
    }

    #[test]
    fn key_order_of_objects_that_disagree_keeps_every_name_once() {
        let mut order = KeyOrder::default();
        order.add(["b", "a"]);
        order.add(["a", "b", "c"]);
        order.add(["c", "a"]);
        // No name is free at first: the first seen (b) goes first, then the orders that
        // still hold (c before a).
        assert_eq!(order.into_names(), ["b", "c", "a"]);
    }

    #[test]
    fn csv_lines_of_any_length_follow_each_other() {
        // The encoder is shared by every file written on this thread: a line with another
        // number of fields than the one before (a second file's header, say) is encoded too.
        let mut out = Vec::new();
        csv_line(&mut out, &["a".to_owned(), "b,c".to_owned()]);
        csv_line(&mut out, &["x".to_owned()]);
        csv_line(&mut out, &["1".to_owned(), "2".to_owned(), "3".to_owned()]);
        assert_eq!(String::from_utf8(out).unwrap(), "a,\"b,c\"\nx\n1,2,3\n");
    }

    #[test]
    fn jsonl_lines_keep_input_and_output_json() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("o.jsonl");
        let mut w =
            OutputWriter::open(&path, OutputFormat::Jsonl, 0, None, Outputs::default()).unwrap();
        let input = raw(r#"{"name":"Acme"}"#);
        let output = raw(r#"{"ceo":"J"}"#);
        w.write(&Record {
            row: 3,
            input: &input,
            output: Some(&output),
            run_id: "trun_1",
            status: "completed",
            error: None,
            sources: None,
        })
        .unwrap();
        w.write(&Record {
            row: 4,
            input: &input,
            output: None,
            run_id: "trun_2",
            status: "failed",
            error: Some("boom \"x\""),
            sources: None,
        })
        .unwrap();
        let len = w.sync().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(len, text.len() as u64);
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(
            lines[0],
            serde_json::json!({"row":3,"input":{"name":"Acme"},"output":{"ceo":"J"},
                "run_id":"trun_1","status":"completed","error":null})
        );
        assert_eq!(lines[1]["error"], "boom \"x\"");
        assert_eq!(lines[1]["output"], Value::Null);
    }

    #[test]
    fn csv_flattens_output_and_prefixes_clashing_names() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("o.csv");
        let inputs = vec!["name".to_owned(), "status".to_owned()];
        let outputs = vec!["ceo".to_owned(), "tags".to_owned(), "error".to_owned()];
        let mut w = OutputWriter::open(
            &path,
            OutputFormat::Csv,
            0,
            Some(&inputs),
            Outputs::fields(Some(&outputs)),
        )
        .unwrap();
        let input = raw(r#"{"name":"Acme, Inc.","status":"active"}"#);
        let output = raw(r#"{"ceo":"Jane \"J\" Doe","tags":["a","b"],"error":null}"#);
        w.write(&Record {
            row: 0,
            input: &input,
            output: Some(&output),
            run_id: "trun_1",
            status: "completed",
            error: None,
            sources: None,
        })
        .unwrap();
        w.sync().unwrap();
        let mut reader = csv::Reader::from_path(&path).unwrap();
        let header: Vec<String> = reader
            .headers()
            .unwrap()
            .iter()
            .map(str::to_owned)
            .collect();
        assert_eq!(
            header,
            [
                "row",
                "name",
                "input.status",
                "ceo",
                "tags",
                "output.error",
                "run_id",
                "status",
                "error"
            ]
        );
        let row = reader.records().next().unwrap().unwrap();
        assert_eq!(&row[1], "Acme, Inc.");
        assert_eq!(&row[2], "active");
        assert_eq!(&row[3], "Jane \"J\" Doe");
        assert_eq!(&row[4], r#"["a","b"]"#);
        assert_eq!(&row[5], "");
        assert_eq!(&row[7], "completed");
    }

    #[test]
    fn reopening_cuts_after_the_checkpoint_and_keeps_the_header() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("o.csv");
        let inputs = vec!["name".to_owned()];
        let mut w = OutputWriter::open(
            &path,
            OutputFormat::Csv,
            0,
            Some(&inputs),
            Outputs::default(),
        )
        .unwrap();
        let input = raw(r#"{"name":"A"}"#);
        let output = raw(r#""some text""#);
        let rec = Record {
            row: 0,
            input: &input,
            output: Some(&output),
            run_id: "r",
            status: "completed",
            error: None,
            sources: None,
        };
        w.write(&rec).unwrap();
        let keep = w.sync().unwrap();
        w.write(&Record { row: 1, ..rec }).unwrap();
        w.flush().unwrap();
        drop(w);
        // Simulate a crash in the middle of a line.
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"2,\"partial").unwrap();
        drop(f);

        let mut w =
            OutputWriter::open(&path, OutputFormat::Csv, keep, None, Outputs::default()).unwrap();
        w.write(&Record { row: 5, ..rec }).unwrap();
        w.sync().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            "row,name,output,run_id,status,error\n0,A,some text,r,completed,\n\
             5,A,some text,r,completed,\n"
        );

        let err = OutputWriter::open(&path, OutputFormat::Csv, 10_000, None, Outputs::default())
            .unwrap_err();
        assert!(err.is_state());
        let err = OutputWriter::open(
            &path,
            OutputFormat::Csv,
            keep,
            None,
            Outputs::fields(Some(&["other".to_owned()])),
        )
        .unwrap_err();
        assert!(err.is_state(), "{err}");
    }

    #[test]
    fn csv_layout_from_first_record_when_columns_unknown() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("o.csv");
        let mut w =
            OutputWriter::open(&path, OutputFormat::Csv, 0, None, Outputs::default()).unwrap();
        let input = raw(r#"{"b":1,"a":"x"}"#);
        w.write(&Record {
            row: 0,
            input: &input,
            output: None,
            run_id: "r",
            status: "failed",
            error: Some("e"),
            sources: None,
        })
        .unwrap();
        w.sync().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            "row,b,a,output,run_id,status,error\n0,1,x,,r,failed,e\n"
        );
    }
}
