//! The feed: the input file as rows for the batch engine. A first pass checks every row and
//! fingerprints the file; the second streams the rows not yet written, lazily, from a thread
//! of its own.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::{Stream, StreamExt as _};
use parallel_client::batch::BatchInput;
use parallel_types::Metadata;
use tokio::sync::{mpsc, oneshot};

use super::checks;
use super::job::Job;
use super::line_map::LineMap;
use crate::error::Error;
use crate::files::{FileStamp, Fnv64};
use crate::input::{Chosen, ColumnMap, InputFormat, InputReader};
use crate::output::KeyOrder;
use crate::output::OutputFormat;
use crate::row_set::RowSet;

/// Rows the reading thread hands over at once: one wake-up of the engine's side per batch,
/// not per row (a row at a time, the two threads woke each other about three times a row).
const FEED_BATCH: usize = 256;

/// Batches sent to the engine ahead of its reading them (with [`FEED_BATCH`], 1,024 rows).
const FEED_BUFFER: usize = 4;

/// What the first pass learnt.
pub(crate) struct Scanned {
    /// Data rows in the file.
    pub(crate) total: u64,
    pub(crate) fingerprint: FileStamp,
    /// The input columns: the CSV header, a column map's, or for a CSV or Parquet output
    /// every member of every row's input.
    pub(crate) columns: Option<Vec<String>>,
    /// FNV-1a 64 of each row's run input, by row (8 bytes a row): what tells a fixed row
    /// from an edited one when the input changes between runs.
    pub(crate) row_hashes: Vec<u64>,
    /// The line each row starts on.
    pub(crate) lines: LineMap,
    /// The delimiter of a CSV input.
    pub(crate) delimiter: Option<Chosen>,
}

/// Reads the whole input once: a bad row stops the job before anything is submitted.
pub(crate) async fn scan(job: &Job) -> Result<Scanned, Error> {
    let (path, format, map) = (job.input.clone(), job.input_format, job.map.clone());
    let (spec_chars, limit, max_lines) = (job.spec_chars, job.max_input_chars, job.max_row_lines);
    let delimiter = job.delimiter;
    let columned = job.output_format != OutputFormat::Jsonl;
    tokio::task::spawn_blocking(move || {
        let mut reader = InputReader::open(&path, format, map.as_ref(), delimiter)?;
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
            fingerprint: reader.fingerprint()?,
            columns,
            row_hashes,
            lines,
            delimiter: reader.delimiter(),
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

/// The rows of the job's input not in `written`, as batch inputs at their row index, each
/// with the job's metadata; a CSV input read with the delimiter the first pass used. A read
/// error ends the stream and is sent on the returned channel.
pub(crate) fn rows(
    job: &Job,
    scanned: &Scanned,
    written: Arc<RowSet>,
) -> (
    impl Stream<Item = BatchInput> + Send + 'static,
    oneshot::Receiver<Error>,
) {
    let (tx, rx) = mpsc::channel(FEED_BUFFER);
    let (error_tx, error_rx) = oneshot::channel();
    let send = SendPass {
        path: job.input.clone(),
        format: job.input_format,
        map: job.map.clone(),
        delimiter: scanned.delimiter.map(|chosen| chosen.byte),
        metadata: (!job.metadata.is_empty()).then(|| job.metadata.clone()),
        max_row_lines: job.max_row_lines,
    };
    std::thread::spawn(move || {
        if let Err(error) = send.read(&written, &tx) {
            let _ = error_tx.send(error);
        }
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        let batch = rx.recv().await?;
        Some((futures::stream::iter(batch), rx))
    })
    .flatten();
    (stream, error_rx)
}

/// What the send pass reads.
struct SendPass {
    path: PathBuf,
    format: InputFormat,
    map: Option<ColumnMap>,
    delimiter: Option<u8>,
    metadata: Option<Metadata>,
    max_row_lines: u64,
}

impl SendPass {
    /// Sends the rows not `written`, in batches; the rows read before an error are sent
    /// before it.
    fn read(&self, written: &RowSet, tx: &mpsc::Sender<Vec<BatchInput>>) -> Result<(), Error> {
        let mut batch = Vec::with_capacity(FEED_BATCH);
        let read = self.read_into(written, tx, &mut batch);
        if !batch.is_empty() {
            let _ = tx.blocking_send(batch);
        }
        read
    }

    fn read_into(
        &self,
        written: &RowSet,
        tx: &mpsc::Sender<Vec<BatchInput>>,
        batch: &mut Vec<BatchInput>,
    ) -> Result<(), Error> {
        let path: &Path = &self.path;
        let mut reader = InputReader::open(path, self.format, self.map.as_ref(), self.delimiter)?;
        reader.set_max_row_lines(self.max_row_lines);
        while let Some(row) = reader.next_row()? {
            if written.contains(row.index) {
                continue;
            }
            let input = BatchInput::from_json(row.index, row.input).map_err(|e| {
                Error::input_at(path, self.format.unit(), row.line, None, e.to_string())
            })?;
            batch.push(match &self.metadata {
                Some(metadata) => input.with_metadata(metadata.clone()),
                None => input,
            });
            if batch.len() == FEED_BATCH {
                let full = std::mem::replace(batch, Vec::with_capacity(FEED_BATCH));
                if tx.blocking_send(full).is_err() {
                    return Ok(()); // the batch stopped
                }
            }
        }
        Ok(())
    }
}
