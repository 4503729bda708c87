//! Wire types of the [Parallel](https://parallel.ai) Task Group and Task Run API.
//!
//! Every request body, response and server-sent event of the API has a serde type here,
//! with the exact wire names:
//!
//! - groups: [`TaskGroup`], [`TaskGroupStatus`], [`CreateTaskGroupRequest`],
//!   [`AddRunsRequest`], [`AddRunsResponse`];
//! - runs: [`RunInput`] (with [`TaskSpec`], [`SourcePolicy`], [`McpServer`], [`Webhook`], ...),
//!   [`TaskRun`], [`TaskRunResult`], [`RunOutput`] with its [`FieldBasis`] and [`Citation`]s;
//! - errors: [`ErrorObject`], [`ErrorResponse`], [`ValidationErrorBody`] and [`ApiErrorBody`]
//!   (either shape);
//! - events: [`TaskGroupStatusEvent`], [`TaskRunEvent`], [`ErrorEvent`],
//!   [`ProgressStatsEvent`], [`ProgressMessageEvent`], grouped in the unions each stream
//!   carries: [`GroupEvent`], [`GroupRunEvent`], [`RunEvent`];
//! - webhooks: [`WebhookEvent`], the body of a delivery;
//! - the shared grammar of output columns, `name (type): description, ...`
//!   ([`parse_columns`] into [`OutputColumn`]s with a [`ValueType`], [`columns_schema`] for
//!   the task spec), and a field's sources read from an output's basis ([`FieldSources`],
//!   the `X_citations`, `X_confidence`, `X_reasoning` columns of [`source_column_names`]):
//!   what `parallel-batch --columns`/`--basis` and `parallel_enrich` share.
//!
//! For the hot path, [`TaskRunEventRef`] decodes a `task_run.state` event from a byte slice
//! without copying: ids borrow from the input, and the run's input and output content stay
//! raw JSON until [`TaskRunEventRef::input_as`] / [`TaskRunEventRef::output_as`] decode them
//! straight into the caller's own types. [`TaskRunEventAs`] (with its [`RunOutputAs`])
//! decodes the input and output content into the caller's types in the same single pass,
//! [`RunResultRef`] reads a run's result (the run, its input and its output content) and
//! stops before the research basis that follows, [`EventHead`] reads an event's `type` and
//! `event_id` without decoding the rest, and
//! [`from_json_slice`] is the faster `serde_json::from_slice` these decoders use.
//!
//! # Growing without breaking
//!
//! The structs and enums are `#[non_exhaustive]`: a later version may add a field the API
//! gained, or a variant for a new event or output type, without a breaking release. Build
//! requests with their constructors and `with_*` setters ([`RunInput::new`],
//! [`TaskSpec::json`], [`CreateTaskGroupRequest::new`], [`SourcePolicy::default`], ...),
//! test fixtures with the constructors of the answers ([`TaskRun::new`],
//! [`ErrorObject::new`], ...), and give `match`es on the enums a wildcard arm. Fields are
//! public to read and to set.
//!
//! With the `schemars` feature, `TaskSpec::from_output` and `TaskSpec::from_types` build
//! a task spec from the caller's own Rust types, rewritten into the JSON Schema subset the
//! API accepts (see `SchemaLimits`).
//!
//! The types are forward compatible: a status, processor, warning type, output type or event
//! type this version does not know decodes into an `Other`/`Unknown` arm that keeps the raw
//! value and writes it back unchanged; unknown fields are ignored; nullable fields accept both
//! `null` and absence.
//!
//! They are as lenient as the official SDKs where the wire may vary, and keep what they
//! accept: metadata values of any JSON kind ([`MetadataValue::Other`]), MCP header values
//! echoed as `null`, a [`Citation`] without `url`, [`FieldBasis::citations`] `null` (kept
//! apart from `[]`), a task spec echoed with `output_schema: null` or with a schema it cannot
//! read as its type ([`OutputSchema::Other`]), progress kind `extract`, and
//! [`AdvancedSettings::data_sources`].
//!
//! # Example
//!
//! ```
//! use parallel_types::{GroupEvent, RunStatus};
//!
//! let data = br#"{"type":"task_group_status","event_id":"16","status":{"num_task_runs":3,
//!     "task_run_status_counts":{"completed":1,"running":2},"is_active":true,
//!     "status_message":null,"modified_at":null}}"#;
//! match serde_json::from_slice::<GroupEvent>(data)? {
//!     GroupEvent::TaskGroupStatus(event) => {
//!         assert_eq!(event.status.count(&RunStatus::Running), 2);
//!         assert!(event.status.is_active);
//!     }
//!     other => panic!("unexpected event {}", other.event_type()),
//! }
//! # Ok::<(), serde_json::Error>(())
//! ```
//!
//! # Cargo features
//!
//! - `schemars` (off by default): `TaskSpec::from_output` and `TaskSpec::from_types`, task
//!   specs built from Rust types that derive `schemars::JsonSchema`, and `SchemaLimits`.
#![deny(missing_docs)]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

// The property tests name the crate as its users do.
#[cfg(test)]
extern crate self as parallel_types;

mod api_error;
mod borrowed;
mod columns;
mod enums;
mod error;
mod event;
mod group;
mod input;
mod metadata;
mod on_demand;
mod open_enum;
#[cfg(test)]
mod proptests;
mod run;
#[cfg(feature = "schemars")]
mod schema;
mod serde_util;
mod sources;
mod spec;
mod tagged;
mod webhook;

pub use api_error::{
    ApiErrorBody, ErrorObject, ErrorResponse, LocationSegment, ValidationErrorBody, ValidationIssue,
};
pub use borrowed::{
    EventHead, RunOutputAs, RunOutputRef, TaskRunEventAs, TaskRunEventRef, TaskRunRef,
};
pub use columns::{
    ColumnsError, OutputColumn, ValueType, check_column_name, columns_schema, object_keys,
    parse_columns,
};
pub use enums::{Processor, ProgressMessageKind, RunStatus, WarningType};
pub use error::Error;
pub use event::{
    ERROR, ErrorEvent, GroupEvent, GroupRunEvent, ProgressMessageEvent, ProgressStatsEvent,
    RunEvent, SourceStats, TASK_GROUP_STATUS, TASK_RUN_PROGRESS_MSG_PREFIX,
    TASK_RUN_PROGRESS_STATS, TASK_RUN_STATE, TaskGroupStatusEvent, TaskRunEvent,
};
pub use group::{
    AddRunsRequest, AddRunsResponse, CreateTaskGroupRequest, TaskGroup, TaskGroupStatus,
};
pub use input::{AdvancedSettings, DataSources, McpServer, RunInput, SourcePolicy, Webhook};
pub use metadata::{Metadata, MetadataValue};
pub use on_demand::RunResultRef;
pub use run::{
    Citation, FieldBasis, JsonOutput, McpToolCall, RunOutput, TaskRun, TaskRunResult, TextOutput,
    Warning,
};
#[cfg(feature = "schemars")]
pub use schema::SchemaLimits;
pub use serde_util::from_json_slice;
pub use sources::{FieldSources, SOURCE_SUFFIXES, source_column_names};
pub use spec::{InputSchema, JsonSchema, OutputSchema, TaskSpec, TextSchema};
pub use webhook::{WebhookEvent, WebhookEventType};

/// The README's examples, compiled and run as doctests so that they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
