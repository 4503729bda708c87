//! Parquet input: the file streamed as record batches of [`BATCH_ROWS`] rows (the parquet
//! crate reads one row group's pages at a time, never the whole file), each row becoming a JSON
//! object of the chosen columns with their types kept (`parallel_arrow::write_json_object`).

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{Field, Schema, SchemaRef};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::basic::Compression;
use parquet::file::metadata::ParquetMetaData;

use crate::error::Error;
use crate::input::ColumnMap;

/// Rows decoded at once: enough to amortise the decoding, few enough to stay small.
pub(crate) const BATCH_ROWS: usize = 1024;

/// The record batches of a Parquet file, with the chosen columns under their new names.
pub(crate) struct ParquetBatches {
    reader: ParquetRecordBatchReader,
    /// For each chosen column: its index in the projected batch.
    order: Vec<usize>,
    schema: SchemaRef,
}

impl ParquetBatches {
    /// Opens `path` and checks that every chosen column exists and can be sent as JSON.
    pub(crate) fn open(path: &Path, map: Option<&ColumnMap>) -> Result<Self, Error> {
        let file = File::open(path)
            .map_err(|e| Error::io(format!("cannot open input {}", path.display()), e))?;
        let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| {
            Error::input_file(
                path,
                format!("cannot read it as a Parquet file ({e}); is it one?"),
            )
        })?;
        if let Some(why) = unreadable_codec(builder.metadata()) {
            return Err(Error::input_file(path, why));
        }
        let file_schema = builder.schema().clone();
        let names: Vec<&str> = file_schema
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect();
        let picks: Vec<(usize, String)> = match map {
            Some(map) => map
                .picks()
                .map(|(source, target)| {
                    names
                        .iter()
                        .position(|n| *n == source)
                        .map(|i| (i, target.to_owned()))
                        .ok_or_else(|| {
                            Error::input_file(
                                path,
                                format!("no column `{source}` (columns: {})", names.join(", ")),
                            )
                        })
                })
                .collect::<Result<_, _>>()?,
            None => names
                .iter()
                .enumerate()
                .map(|(i, n)| (i, (*n).to_owned()))
                .collect(),
        };
        let mut fields = Vec::with_capacity(picks.len());
        for (index, target) in &picks {
            let field = file_schema.field(*index);
            if let Err(why) = parallel_arrow::check_json_type(field.data_type()) {
                return Err(Error::input_file(
                    path,
                    format!(
                        "the column `{}` cannot be sent as JSON ({why}); leave it out with \
                         --input-columns",
                        field.name()
                    ),
                ));
            }
            fields.push(Field::new(target, field.data_type().clone(), true));
        }
        let mut roots: Vec<usize> = picks.iter().map(|(i, _)| *i).collect();
        roots.sort_unstable();
        roots.dedup();
        // Projected columns come in file order: find each pick's place among them.
        let order = picks
            .iter()
            .map(|(i, _)| roots.binary_search(i).unwrap_or(0))
            .collect();
        let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
        let reader = builder
            .with_projection(mask)
            .with_batch_size(BATCH_ROWS)
            .build()
            .map_err(|e| Error::input_file(path, format!("cannot read it: {e}")))?;
        Ok(Self {
            reader,
            order,
            schema: Arc::new(Schema::new(fields)),
        })
    }

    /// The chosen columns, renamed, every one nullable.
    pub(crate) fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// The next batch of the chosen columns, or `None` at the end.
    pub(crate) fn next_batch(&mut self, path: &Path) -> Result<Option<RecordBatch>, Error> {
        let Some(batch) = self.reader.next() else {
            return Ok(None);
        };
        let batch =
            batch.map_err(|e| Error::input_file(path, format!("cannot read a row group: {e}")))?;
        let columns: Vec<ArrayRef> = self
            .order
            .iter()
            .map(|&i| Arc::clone(batch.column(i)))
            .collect();
        RecordBatch::try_new(Arc::clone(&self.schema), columns)
            .map(Some)
            .map_err(|e| Error::input_file(path, format!("cannot read a row group: {e}")))
    }
}

/// Parquet rows as run inputs: JSON objects, one batch encoded at a time.
pub(crate) struct ParquetRows {
    batches: ParquetBatches,
    /// The current batch's rows as JSON, and the next one to hand out.
    encoded: Vec<String>,
    next: usize,
}

impl ParquetRows {
    pub(crate) fn open(path: &Path, map: Option<&ColumnMap>) -> Result<Self, Error> {
        let batches = ParquetBatches::open(path, map)?;
        Ok(Self {
            batches,
            encoded: Vec::new(),
            next: 0,
        })
    }

    /// The column names as the run input has them.
    pub(crate) fn columns(&self) -> Vec<String> {
        self.batches
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect()
    }

    /// The next row's run input, or `None` at the end of the file.
    pub(crate) fn next_input(&mut self, path: &Path) -> Result<Option<String>, Error> {
        while self.next == self.encoded.len() {
            let Some(batch) = self.batches.next_batch(path)? else {
                return Ok(None);
            };
            self.encode(&batch, path)?;
        }
        let input = std::mem::take(&mut self.encoded[self.next]);
        self.next += 1;
        Ok(Some(input))
    }

    fn encode(&mut self, batch: &RecordBatch, path: &Path) -> Result<(), Error> {
        self.encoded.clear();
        self.next = 0;
        for row in 0..batch.num_rows() {
            let mut input = Vec::with_capacity(64 * batch.num_columns());
            parallel_arrow::write_json_object(&mut input, batch, row);
            // The writer writes UTF-8 only; were it not to, the row would be named.
            let input = String::from_utf8(input).map_err(|e| {
                Error::input_file(path, format!("cannot encode a row as JSON: {e}"))
            })?;
            self.encoded.push(input);
        }
        Ok(())
    }
}

/// Why the file's pages cannot be read, if a column is compressed with a codec this build has
/// no reader for (LZO, or one newer than it), said before any row is sent.
fn unreadable_codec(metadata: &ParquetMetaData) -> Option<String> {
    let chunk = metadata
        .row_groups()
        .iter()
        .flat_map(parquet::file::metadata::RowGroupMetaData::columns)
        .find(|chunk| !readable(chunk.compression()))?;
    Some(format!(
        "the column `{}` is compressed with {:?}, which parallel-batch cannot read (it reads \
         Snappy, Zstandard, gzip, LZ4, Brotli and uncompressed pages); write the file again \
         with one of those (for example pyarrow's `write_table(..., compression=\"snappy\")`)",
        chunk.column_path(),
        chunk.compression()
    ))
}

/// Whether pages compressed with `codec` can be read.
fn readable(codec: Compression) -> bool {
    matches!(
        codec,
        Compression::UNCOMPRESSED
            | Compression::SNAPPY
            | Compression::ZSTD(_)
            | Compression::GZIP(_)
            | Compression::LZ4
            | Compression::LZ4_RAW
            | Compression::BROTLI(_)
    )
}

#[cfg(test)]
mod tests {
    use parquet::basic::{BrotliLevel, GzipLevel, ZstdLevel};

    use super::*;

    #[test]
    fn every_codec_but_lzo_is_read() {
        for codec in [
            Compression::UNCOMPRESSED,
            Compression::SNAPPY,
            Compression::ZSTD(ZstdLevel::default()),
            Compression::GZIP(GzipLevel::default()),
            Compression::LZ4,
            Compression::LZ4_RAW,
            Compression::BROTLI(BrotliLevel::default()),
        ] {
            assert!(readable(codec), "{codec:?}");
        }
        assert!(!readable(Compression::LZO));
    }
}
