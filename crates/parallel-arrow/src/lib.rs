//! JSON and Arrow, the one way every tool of this workspace converts between them.
//!
//! Task runs take JSON inputs and give JSON outputs; Parquet files (parallel-batch) and SQL
//! tables (parallel-datafusion) hold Arrow columns. This crate is the layer between them,
//! so that a column has the same type whichever tool wrote it:
//!
//! - [`ColumnType`]: the Arrow type of a column of JSON values, read from an output's JSON
//!   schema ([`ColumnType::from_schema`]: `integer` -> `Int64`, `["integer", "null"]` too,
//!   `string` with `format: date` -> `Date32`, an array of strings -> `List(Utf8)`, ...) or
//!   inferred from the values ([`ColumnType::infer`]), and which values fit it;
//! - [`ColumnBuilder`]: JSON values -> one Arrow column of that type;
//! - [`write_json`], [`write_json_object`]: Arrow values -> JSON text with their types kept
//!   (numbers stay numbers, dates become ISO 8601 strings, structs objects), the run input
//!   of a row; [`check_json_type`] says beforehand which Arrow types have no JSON form.
//!
//! Nothing is dropped to fit a type: a value that does not fit is reported
//! ([`Error::is_misfit`]), or, for a column whose values are all checked first
//! ([`ColumnType::admit`]), the column becomes JSON text.
//!
//! ```
//! use arrow_array::RecordBatch;
//! use arrow_schema::{DataType, Schema};
//! use parallel_arrow::{ColumnBuilder, ColumnType};
//! use serde_json::json;
//! use std::sync::Arc;
//!
//! // The output schema a task asked for, and two outputs.
//! let schema = json!({"type": "object", "properties": {
//!     "founded": {"type": ["integer", "null"]},
//!     "listed_on": {"type": "string", "format": "date"},
//! }});
//! let outputs = [
//!     json!({"founded": 1999, "listed_on": "2004-08-19"}),
//!     json!({"founded": null, "listed_on": "2012-05-18"}),
//! ];
//! let mut fields = Vec::new();
//! let mut columns = Vec::new();
//! for name in ["founded", "listed_on"] {
//!     let column_type = ColumnType::from_schema(schema["properties"].get(name));
//!     let mut builder = ColumnBuilder::new(column_type);
//!     for output in &outputs {
//!         builder.append(output.get(name))?;
//!     }
//!     fields.push(column_type.field(name));
//!     columns.push(builder.finish());
//! }
//! let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)?;
//! assert_eq!(batch.schema().field(0).data_type(), &DataType::Int64);
//! assert_eq!(batch.schema().field(1).data_type(), &DataType::Date32);
//!
//! // And back: row 1 as the JSON object a run would take as its input.
//! let mut input = Vec::new();
//! parallel_arrow::write_json_object(&mut input, &batch, 1);
//! assert_eq!(input, br#"{"founded":null,"listed_on":"2012-05-18"}"#);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod builder;
mod column_type;
mod error;
mod to_json;

pub use builder::ColumnBuilder;
pub use column_type::ColumnType;
pub use error::Error;
pub use to_json::{check_json_type, write_json, write_json_object};

/// The README's examples, compiled and run as doctests so that they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
