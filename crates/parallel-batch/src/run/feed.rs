//! The feed: the input file as rows for the batch engine. A first pass checks every row and
//! fingerprints the file; the second streams the rows not yet written, lazily, from a thread
//! of its own.

use std::path::PathBuf;
use std::sync::Arc;

use futures::Stream;
use parallel_client::batch::BatchInput;
use parallel_types::Metadata;
use tokio::sync::{mpsc, oneshot};

use super::checks;
use super::job::Job;
use super::line_map::LineMap;
use crate::output::KeyOrder;
use crate::state::{Fingerprint, Fnv64, RowSet};
use crate::{ColumnMap, Error, InputFormat, InputReader, OutputFormat};

/// Rows sent to the engine ahead of its reading them.
const FEED_BUFFER: usize = 1024;

/// What the first pass learnt.
pub(crate) struct Scanned {
    /// Data rows in the file.
    pub(crate) total: u64,
    pub(crate) fingerprint: Fingerprint,
    /// The input columns: the CSV header, a column map's, or for a CSV or Parquet output
    /// every member of every row's input.
    pub(crate) columns: Option<Vec<String>>,
    /// FNV-1a 64 of each row's run input, by row (8 bytes a row): what tells a fixed row
    /// from an edited one when the input changes between runs.
    pub(crate) row_hashes: Vec<u64>,
    /// The line each row starts on.
    pub(crate) lines: LineMap,
}

/// Reads the whole input once: a bad row stops the job before anything is submitted.
pub(crate) async fn scan(path: PathBuf, job: &Job) -> Result<Scanned, Error> {
    let (format, map) = (job.input_format, job.map.clone());
    let (spec_chars, limit, max_lines) = (job.spec_chars, job.max_input_chars, job.max_row_lines);
    let columned = job.output_format != OutputFormat::Jsonl;
    tokio::task::spawn_blocking(move || {
        let mut reader = InputReader::open(&path, format, map.as_ref())?;
        reader.set_max_row_lines(max_lines);
        let mut columns = reader.columns().map(<[String]>::to_vec);
        // Inputs without a header (JSON Lines, Parquet): a CSV or Parquet output has a column
        // for every member of every row, not only of the first.
        let mut members = (columns.is_none() && columned).then(KeyOrder::default);
        let mut total = 0u64;
        let mut row_hashes = Vec::new();
        let mut lines = LineMap::default();
        while let Some(row) = reader.next_row()? {
            lines.push(row.index, row.line);
            checks::row_size(&row.input, spec_chars, limit).map_err(|message| {
                Error::input_at(&path, format.unit(), row.line, None, message)
            })?;
            row_hashes.push(row_hash(&row.input));
            if let Some(members) = &mut members {
                match crate::spec::object_keys(&row.input) {
                    Some(keys) => members.add(keys.iter().map(String::as_str)),
                    None => members.add(["input"]),
                }
            }
            total += 1;
        }
        if let Some(members) = members {
            columns = Some(members.into_names());
        }
        Ok(Scanned {
            total,
            fingerprint: reader.fingerprint(),
            columns,
            row_hashes,
            lines,
        })
    })
    .await
    .map_err(|e| Error::state(format!("the input reader stopped: {e}")))?
}

/// The hash of one row's run input.
pub(crate) fn row_hash(input: &str) -> u64 {
    let mut hash = Fnv64::default();
    hash.update(input.as_bytes());
    hash.value()
}

/// The input lines where `rows` start (for messages about a few rows).
pub(crate) fn lines_of(path: &std::path::Path, job: &Job, rows: &[u64]) -> Vec<(u64, u64)> {
    let Ok(mut reader) = InputReader::open(path, job.input_format, job.map.as_ref()) else {
        return Vec::new();
    };
    reader.set_max_row_lines(job.max_row_lines);
    let mut found = Vec::new();
    while let Ok(Some(row)) = reader.next_row() {
        if rows.contains(&row.index) {
            found.push((row.index, row.line));
            if found.len() == rows.len() {
                break;
            }
        }
    }
    found
}

/// The rows of `path` not in `written`, as batch inputs at their row index, each with
/// `metadata`. A read error ends the stream and is sent on the returned channel.
pub(crate) fn rows(
    path: PathBuf,
    format: InputFormat,
    map: Option<ColumnMap>,
    written: Arc<RowSet>,
    metadata: Option<Metadata>,
    max_row_lines: u64,
) -> (
    impl Stream<Item = BatchInput> + Send + 'static,
    oneshot::Receiver<Error>,
) {
    let (tx, rx) = mpsc::channel(FEED_BUFFER);
    let (error_tx, error_rx) = oneshot::channel();
    std::thread::spawn(move || {
        if let Err(error) = read(
            &path,
            format,
            map.as_ref(),
            &written,
            metadata.as_ref(),
            max_row_lines,
            &tx,
        ) {
            let _ = error_tx.send(error);
        }
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        let input = rx.recv().await?;
        Some((input, rx))
    });
    (stream, error_rx)
}

fn read(
    path: &std::path::Path,
    format: InputFormat,
    map: Option<&ColumnMap>,
    written: &RowSet,
    metadata: Option<&Metadata>,
    max_row_lines: u64,
    tx: &mpsc::Sender<BatchInput>,
) -> Result<(), Error> {
    let mut reader = InputReader::open(path, format, map)?;
    reader.set_max_row_lines(max_row_lines);
    while let Some(row) = reader.next_row()? {
        if written.contains(row.index) {
            continue;
        }
        let input = BatchInput::from_json(row.index, row.input)
            .map_err(|e| Error::input_at(path, format.unit(), row.line, None, e.to_string()))?;
        let input = match metadata {
            Some(metadata) => input.with_metadata(metadata.clone()),
            None => input,
        };
        if tx.blocking_send(input).is_err() {
            return Ok(()); // the batch stopped
        }
    }
    Ok(())
}
