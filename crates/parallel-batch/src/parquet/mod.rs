//! Parquet input and output (the `parquet` feature): Arrow record batches read from and
//! written to Parquet files with the `parquet` crate, and a small converter between Arrow
//! values and the JSON a run takes and gives.

mod json;
mod kinds;
mod read;
mod write;

pub(crate) use kinds::Kind;
pub(crate) use read::ParquetRows;
pub(crate) use write::{InputColumns, OutputColumns, Rows, WholeOutput};
