//! `parallel-batch`: run every row of a CSV, JSONL or Parquet file as a task on the Parallel
//! Task Group API, resumably, with the results written to a CSV or JSONL file as they
//! complete, or to a Parquet file when the job completes (Parquet needs the `parquet`
//! feature).
//!
//! The binary is the product; this library exposes its building blocks so they can be tested
//! and reused: [`InputReader`] (lazy CSV/JSONL rows), [`Task`] (the task spec built from the
//! command line), [`OutputWriter`] (append-only results), [`State`] (the resumable state file
//! beside the output) and [`RowSet`] (the compact row bitset it stores).
//!
//! ```
//! use parallel_batch::{Task, TaskSource};
//!
//! let task = Task::build(&TaskSource::Columns("ceo_name: Full name of the CEO".into()))?;
//! assert_eq!(task.output_fields.as_deref(), Some(&["ceo_name".to_owned()][..]));
//! # Ok::<(), parallel_batch::Error>(())
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod app;
mod base_url;
mod cli;
mod error;
mod input;
mod output;
#[cfg(feature = "parquet")]
mod parquet;
mod progress;
mod results;
mod run;
mod spec;
mod state;

pub use app::main_with_args;
pub use error::Error;
pub use input::{ColumnMap, InputFormat, InputReader, Row};
pub use output::{CsvLayout, OutputFormat, OutputWriter, Record};
pub use spec::{Task, TaskSource, parse_columns};
pub use state::{
    FileStamp, Fingerprint, Fnv64, PendingRewrite, RowSet, STATE_VERSION, State, state_path,
};

/// The README's examples, compiled and run as doctests so that they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
