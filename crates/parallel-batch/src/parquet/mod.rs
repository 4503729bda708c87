//! Parquet input and output (the `parquet` feature): Arrow record batches read from and
//! written to Parquet files with the `parquet` crate; values converted between Arrow and
//! the JSON a run takes and gives by `parallel_arrow`, as in every tool of the workspace.

mod read;
mod write;

pub(crate) use parallel_arrow::ColumnType;
pub(crate) use read::ParquetRows;
pub(crate) use write::{InputColumns, OutputColumns, Rows, WholeOutput};
