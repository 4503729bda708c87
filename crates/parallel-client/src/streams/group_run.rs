//! [`GroupRun`], one run of the group runs stream, kept in wire form and decoded on demand.

use std::fmt;

use bytes::Bytes;
use parallel_types::{TaskRunEventAs, TaskRunEventRef};
use serde::Deserialize;

use crate::error::Error;
use crate::streams::peek::decode;

/// One run from the group runs stream, still in its wire form.
///
/// The JSON is kept as received (a slice of the network buffer, no copy), and decoded when
/// you ask, in one of three ways:
///
/// - [`GroupRun::view`]: ids, status and metadata borrowed, input and output kept raw, no
///   allocation; from the view, [`output_as`](TaskRunEventRef::output_as) and
///   [`input_as`](TaskRunEventRef::input_as) decode the output content or the input into
///   your types, and [`into_owned`](TaskRunEventRef::into_owned) makes the owned
///   [`TaskRunEvent`](parallel_types::TaskRunEvent);
/// - [`GroupRun::view_as`]: the input and the output content decoded into your types in
///   the same single pass, the fastest way to typed results;
/// - [`GroupRun::json`]: the event's JSON text, to store or forward as it is; to read only a
///   run's result from it (the run, its input and its output content, not the research
///   basis after them), [`parallel_types::RunResultRef::from_slice`]`(run.json())`.
///
/// Decode errors of the views are [`parallel_types::Error`]s, which `?` turns into this
/// crate's [`Error`].
#[derive(Clone)]
pub struct GroupRun {
    data: Bytes,
}

impl GroupRun {
    pub(crate) fn new(data: Bytes) -> Self {
        Self { data }
    }

    /// A borrowed view of the event (zero-copy): the run's ids, status and metadata, its
    /// input and output raw until you decode them.
    ///
    /// ```
    /// # async fn demo(run: parallel_client::GroupRun) -> Result<(), parallel_client::Error> {
    /// #[derive(serde::Deserialize)]
    /// struct Insight { ceo_name: String }
    ///
    /// let view = run.view()?;
    /// match view.output_as::<Insight>()? {
    ///     Some(insight) => println!("{}: {}", view.run.run_id, insight.ceo_name),
    ///     None => println!("{}: {} without output", view.run.run_id, view.run.status),
    /// }
    /// # Ok(()) }
    /// ```
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
    /// let mut runs = client.group("tgrp_...").runs(GroupRunsOptions::with_input_and_output());
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
