//! [`GroupRun`], one run of the group runs stream, kept in wire form and decoded on demand.

use std::fmt;

use bytes::Bytes;
use parallel_types::{TaskRunEvent, TaskRunEventAs, TaskRunEventRef};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

use crate::error::Error;
use crate::streams::peek::decode;

/// One run from the group runs stream, still in its wire form.
///
/// The JSON is kept as received (a slice of the network buffer, no copy); decode what you need:
/// [`GroupRun::view_as`] decodes the input and output content into your types in one pass
/// (the fastest way to typed results), [`GroupRun::view`] borrows ids, status and raw
/// input/output without allocating, [`GroupRun::output_as`] and [`GroupRun::input_as`] read
/// one of the two into an owned type, [`GroupRun::to_event`] builds the owned
/// [`TaskRunEvent`].
#[derive(Clone)]
pub struct GroupRun {
    data: Bytes,
}

impl GroupRun {
    pub(crate) fn new(data: Bytes) -> Self {
        Self { data }
    }

    /// A borrowed view of the event (zero-copy).
    pub fn view(&self) -> Result<TaskRunEventRef<'_>, Error> {
        decode(&self.data, "a task_run.state event")
    }

    /// The event with the run's input as `I` and its output content as `O`, decoded in one
    /// pass; `I` and `O` may borrow from the event (`&str` or `Cow<str>` fields).
    ///
    /// ```no_run
    /// # async fn demo(client: parallel_client::Client) -> Result<(), parallel_client::Error> {
    /// use futures::StreamExt;
    /// use parallel_client::GroupRunsOptions;
    ///
    /// #[derive(serde::Deserialize)]
    /// struct Company<'a> { company_name: &'a str }
    /// #[derive(serde::Deserialize)]
    /// struct Facts<'a> { ceo_name: &'a str }
    ///
    /// let mut runs = client.group_runs("tgrp_...", GroupRunsOptions::with_input_and_output());
    /// while let Some(run) = runs.next().await {
    ///     let run = run?;
    ///     let event = run.view_as::<Company<'_>, Facts<'_>>()?;
    ///     if let (Some(company), Some(output)) = (event.input, event.output) {
    ///         println!("{}: {}", company.company_name, output.content.ceo_name);
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub fn view_as<'a, I: Deserialize<'a>, O: Deserialize<'a>>(
        &'a self,
    ) -> Result<TaskRunEventAs<'a, I, O>, Error> {
        decode(
            &self.data,
            "a task_run.state event with the requested input and output types (do the types \
             match the run's input and output schema?)",
        )
    }

    /// The owned event.
    pub fn to_event(&self) -> Result<TaskRunEvent, Error> {
        decode(&self.data, "a task_run.state event")
    }

    /// The run's output content as `T` (a JSON output's object, or a text output's string),
    /// or `None` when the event carries no output (not requested, or the run did not complete).
    pub fn output_as<T: DeserializeOwned>(&self) -> Result<Option<T>, Error> {
        let raw: RawParts<'_> = decode(&self.data, "a task_run.state event")?;
        raw.output
            .map(|o| serde_json::from_str(o.content.get()))
            .transpose()
            .map_err(|e| Error::decode("the run's output as the requested type", e))
    }

    /// The run's input (`input` of the original request) as `T`, or `None` when the event
    /// carries no input (not requested).
    pub fn input_as<T: DeserializeOwned>(&self) -> Result<Option<T>, Error> {
        let raw: RawParts<'_> = decode(&self.data, "a task_run.state event")?;
        raw.input
            .map(|i| serde_json::from_str(i.input.get()))
            .transpose()
            .map_err(|e| Error::decode("the run's input as the requested type", e))
    }

    /// The event's JSON text as received.
    pub fn json(&self) -> &[u8] {
        &self.data
    }
}

impl fmt::Debug for GroupRun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GroupRun")
            .field("json", &String::from_utf8_lossy(&self.data))
            .finish()
    }
}

/// Just the raw `input.input` and `output.content` of a run event.
#[derive(Deserialize)]
struct RawParts<'a> {
    #[serde(borrow, default)]
    input: Option<RawInput<'a>>,
    #[serde(borrow, default)]
    output: Option<RawOutput<'a>>,
}

#[derive(Deserialize)]
struct RawInput<'a> {
    #[serde(borrow)]
    input: &'a RawValue,
}

#[derive(Deserialize)]
struct RawOutput<'a> {
    #[serde(borrow)]
    content: &'a RawValue,
}
