//! `parallel-batch`: run every row of a CSV, JSONL or Parquet file as a task on the Parallel
//! Task Group API, resumably, with the results written to a CSV, JSONL or Parquet file
//! (Parquet needs the `parquet` feature).
//!
//! The binary is the product (see the README and `parallel-batch --help`); this library is
//! its entry point, [`main_with_args`], and its error type, [`Error`], so that the tool can
//! be embedded and tested as a whole.
//!
//! ```no_run
//! let code = parallel_batch::main_with_args(["parallel-batch", "status", "tgrp_123"]);
//! # let _ = code;
//! ```
//!
//! Inside, a `run` is a feed (the input file as rows), the client's batch engine, and a sink
//! (results into the output, checkpoints into the state kept beside it), all reading one
//! `Job` built once from the command line.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod app;
mod base_url;
mod basis;
mod cli;
mod cost;
mod counts;
mod error;
mod files;
mod finish;
mod generate;
mod group_runs;
mod input;
mod inspect;
mod output;
#[cfg(feature = "parquet")]
mod parquet;
mod progress;
mod results;
mod row_set;
mod run;
mod spec;
mod state;

pub use app::main_with_args;
pub use error::Error;

/// The README's examples, compiled and run as doctests so that they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
