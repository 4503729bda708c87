//! `parallel_enrich`: the Parallel Task API as a `DataFusion` SQL function.
//!
//! [`ParallelEnrich`] registers an async scalar function (`DataFusion`'s
//! [`AsyncScalarUDFImpl`](datafusion::logical_expr::async_udf::AsyncScalarUDFImpl), made for
//! remote calls) that enriches each row with a task run:
//!
//! ```sql
//! SELECT name,
//!        parallel_enrich(named_struct('company', name, 'website', website),
//!                        'ceo_name: CEO name, founded: year founded') AS found
//! FROM companies
//! ```
//!
//! - **Input** (first argument): a struct becomes the run's JSON object input with its types
//!   kept (numbers stay numbers); a string becomes a text input. A null input (a null string,
//!   a null struct, or a struct whose fields are all null) makes no run: its row's `status` is
//!   `skipped`.
//! - **Output columns** (second argument, a string literal): `'name: description, other
//!   (integer): description'` as `parallel-batch --columns` (string columns unless a type is
//!   written: `integer` -> `Int64`, `number` -> `Float64`, `boolean` -> `Boolean`, `date` ->
//!   `Date32`, `list` -> `List(Utf8)`), or a JSON schema of the output object (columns typed
//!   from its properties by [`parallel_arrow::ColumnType::from_schema`], the mapping of
//!   parallel-batch's Parquet output too).
//! - **Options** (optional third argument, a string literal): `'basis'` gives each output
//!   column `X` its sources, `X_citations` (the URLs, a list), `X_confidence` and
//!   `X_reasoning`, from the run's basis ([`parallel_types::FieldSources`]);
//!   `'group=<id>'` runs the rows in that task group ([`ParallelEnrich::create_group`]),
//!   tagged so that a call evaluated again, as a distributed engine does after losing an
//!   executor, pays for no row twice. Both: `'basis, group=<id>'`.
//! - **Row key** (optional fourth argument, with `'group=<id>'`): an expression unique per
//!   row, such as an id column, that tells calls sending the same inputs apart.
//! - **Result**: a struct with one field per output column (and its sources), then `run_id`, `status`
//!   (`completed`, `failed`, `cancelled`, ..., or `rejected`, `skipped`, `timed_out`) and
//!   `error`. A row whose run failed has null columns and its error: one failed row does not
//!   fail the query. A failure of the whole call (no credit, a wrong key, an outage longer
//!   than [`ParallelEnrich::outage_tolerance`]) fails the query.
//!
//! With the `ballista` feature, the `ballista` module runs the function on Apache Ballista,
//! a scheduler and executors in processes of their own (see the crate README).
//!
//! Each call (one record batch, or [`ParallelEnrich::rows_per_call`] rows) runs as one batch
//! of the client's [batch engine](parallel_client::batch): one task group (or the query's,
//! with `'group=<id>'`), chunked submission, retries, rate limits, each row submitted
//! exactly once within the call, and across attempts of the call in the query's group.
//!
//! ```
//! use datafusion::prelude::{CsvReadOptions, SessionContext};
//! use parallel_client::ClientBuilder;
//! use parallel_datafusion::ParallelEnrich;
//!
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let emulator = parallel_emulator::Emulator::builder().time_scale(0.0).start().await?;
//! let ctx = SessionContext::new();
//! let client = ClientBuilder::from_env() // PARALLEL_API_KEY
//! #   .api_key("emulator").base_url(emulator.base_url())
//!     .build()?;
//! ParallelEnrich::new(client).processor("lite-fast").register(&ctx);
//! ctx.register_csv("companies", "examples/data/companies.csv", CsvReadOptions::new())
//!     .await?;
//! let df = ctx
//!     .sql(
//!         "SELECT name, parallel_enrich(named_struct('company', name, 'website', website), \
//!          'ceo_name: CEO name, founded: year founded') AS found FROM companies",
//!     )
//!     .await?;
//! df.show().await?;
//! # Ok(()) }
//! ```

#![deny(missing_docs)]
#![forbid(unsafe_code)]

#[cfg(feature = "ballista")]
pub mod ballista;
mod columns;
mod config;
mod enrich;
mod function;
mod input;
mod options;
mod output;
mod token;

pub use config::EnrichConfig;
pub use function::{DEFAULT_NAME, DEFAULT_PROCESSOR, ParallelEnrich};

/// The README's examples, compiled and run as doctests (on the emulator) so that they cannot
/// rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
