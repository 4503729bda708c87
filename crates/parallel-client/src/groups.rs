//! Task-group endpoints.

use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;
use parallel_types::{CreateTaskGroupRequest, GroupEvent, TaskGroup, TaskGroupStatus, TaskRun};

use crate::client::{Client, Inner};
use crate::error::Error;
use crate::options::RequestOptions;
use crate::pending::PendingRequest;
use crate::request::{Call, Effect, PathBuilder};
use crate::session::Session;
use crate::streams::{
    GroupEvents, GroupEventsOptions, GroupRunsOptions, RunsStream, group_events_stream, runs_stream,
};

impl Inner {
    /// `{prefix}/tasks/groups[/{id}]`.
    pub(crate) fn group_path(&self, group_id: Option<&str>) -> PathBuilder {
        let path = PathBuilder::new(format!("{}/tasks/groups", self.group_prefix));
        match group_id {
            Some(id) => path.segment(id),
            None => path,
        }
    }

    pub(crate) fn group_runs_session(
        self: &Arc<Self>,
        group_id: &str,
        options: &GroupRunsOptions,
    ) -> Session {
        let mut path = self.group_path(Some(group_id)).segment("runs");
        if options.include_input {
            path = path.query("include_input", "true");
        }
        if options.include_output {
            path = path.query("include_output", "true");
        }
        path = path.query_opt(
            "status",
            options
                .status
                .as_ref()
                .map(parallel_types::RunStatus::as_str),
        );
        Session::new(
            Arc::clone(self),
            format!("the runs stream of task group {group_id}"),
            path.build(),
            true,
        )
        .resume_after(options.last_event_id.clone())
        .request_options(options.request.clone())
    }
}

impl Client {
    /// Creates a task group (`POST /v1/tasks/groups`).
    ///
    /// Retried like a read: a duplicate caused by a lost answer is an empty group, which
    /// costs nothing and runs nothing.
    pub fn create_group(&self, request: CreateTaskGroupRequest) -> PendingRequest<'_, TaskGroup> {
        PendingRequest::new(move |options| {
            Box::pin(async move {
                let inner = &self.inner;
                let body = to_body(&request, "the create-group request")?;
                let mut call = Call::post(
                    inner,
                    "creating a task group".to_owned(),
                    inner.group_path(None).build(),
                    body,
                    Effect::Idempotent,
                );
                options.apply(&mut call, options.deadline())?;
                inner.json(&call).await
            })
        })
    }

    /// The task group `group_id`: the endpoints under `/v1/tasks/groups/{group_id}` (its
    /// status, its runs, its events, adding runs, waiting for it). Cheap and `Copy`: it
    /// borrows the client and the id, and sends nothing by itself.
    ///
    /// ```
    /// # async fn demo(client: parallel_client::Client) -> Result<(), parallel_client::Error> {
    /// let group = client.group("tgrp_123");
    /// let status = group.wait().await?;
    /// let run = group.get_run("trun_456").await?;
    /// # let _ = (status, run); Ok(()) }
    /// ```
    pub fn group<'a>(&'a self, group_id: &'a str) -> GroupHandle<'a> {
        GroupHandle {
            client: self,
            group_id,
        }
    }
}

/// One task group of a [`Client`] ([`Client::group`]): the endpoints under
/// `/v1/tasks/groups/{group_id}`.
///
/// It exists so that a call never takes two ids side by side: `client.group(group_id)
/// .get_run(run_id)` names each id by the call it is given to, in the order of the URL. See
/// the crate's [design decisions](crate#design-decisions).
#[derive(Debug, Clone, Copy)]
pub struct GroupHandle<'a> {
    pub(crate) client: &'a Client,
    pub(crate) group_id: &'a str,
}

impl<'a> GroupHandle<'a> {
    /// The group's id.
    pub fn id(self) -> &'a str {
        self.group_id
    }

    /// The group and its aggregated status (`GET /v1/tasks/groups/{id}`).
    pub fn get(self) -> PendingRequest<'a, TaskGroup> {
        PendingRequest::new(move |options| {
            Box::pin(async move {
                let (inner, group_id) = (&self.client.inner, self.group_id);
                let mut call = Call::get(
                    inner,
                    format!("getting task group {group_id}"),
                    inner.group_path(Some(group_id)).build(),
                );
                options.apply(&mut call, options.deadline())?;
                inner.json(&call).await
            })
        })
    }

    /// One run of the group (`GET /v1/tasks/groups/{id}/runs/{run_id}`).
    pub fn get_run(self, run_id: &'a str) -> PendingRequest<'a, TaskRun> {
        PendingRequest::new(move |options| {
            Box::pin(async move {
                let (inner, group_id) = (&self.client.inner, self.group_id);
                let path = inner
                    .group_path(Some(group_id))
                    .segment("runs")
                    .segment(run_id)
                    .build();
                let what = format!("getting run {run_id} of task group {group_id}");
                let mut call = Call::get(inner, what, path);
                options.apply(&mut call, options.deadline())?;
                inner.json(&call).await
            })
        })
    }

    /// Every run of the group, with its input and output if asked
    /// (`GET /v1/tasks/groups/{id}/runs`, server-sent events).
    ///
    /// The stream connects on first poll, resumes after interruptions from the last run it
    /// delivered, and ends after the last run. Items are [`GroupRun`](crate::GroupRun)s, kept
    /// in wire form and decoded on demand:
    ///
    /// ```no_run
    /// # async fn demo(client: parallel_client::Client, group_id: &str) -> Result<(), parallel_client::Error> {
    /// use futures::StreamExt;
    /// use parallel_client::GroupRunsOptions;
    ///
    /// #[derive(serde::Deserialize)]
    /// struct Insight { ceo_name: String }
    ///
    /// let mut runs = client.group(group_id).runs(GroupRunsOptions::with_input_and_output());
    /// while let Some(run) = runs.next().await {
    ///     let run = run?;
    ///     let view = run.view()?;
    ///     if let Some(insight) = view.output_as::<Insight>()? {
    ///         println!("{}: {}", view.run.run_id, insight.ceo_name);
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    #[allow(clippy::needless_pass_by_value)] // by value reads better at call sites
    pub fn runs(self, options: GroupRunsOptions) -> RunsStream {
        runs_stream(
            self.client
                .inner
                .group_runs_session(self.group_id, &options),
            options.read_ahead,
            options.one_pass,
        )
    }

    /// The group's status updates and run completions (`GET /v1/tasks/groups/{id}/events`).
    ///
    /// The stream resumes after interruptions (and after the server's periodic closes) from
    /// the last event it delivered, and ends when the server closes it after a status event
    /// reporting the group inactive (each connection opens with a snapshot of the current
    /// status, then the events after the cursor). A group with no runs yet is inactive, so
    /// its stream ends at once, after that first status: open it after adding runs (and
    /// from [`AddedRuns::event_cursor`](crate::AddedRuns::event_cursor) to see only theirs).
    /// Run completions carry no output: read results with [`Client::run_result`] or
    /// [`GroupHandle::runs`].
    ///
    /// Status events arrive after every change of the counts, many of them when runs finish
    /// together; a progress display that wants one line per change in what it shows keeps
    /// the last counts it printed and skips events that bring the same ones.
    pub fn events(self, options: GroupEventsOptions) -> GroupEvents {
        group_events_stream(self.events_session(options))
    }

    /// The events stream as raw events (type, id and JSON), for the batch engine.
    pub(crate) fn event_frames(
        self,
        options: GroupEventsOptions,
    ) -> futures::stream::BoxStream<'static, Result<crate::streams::peek::Peeked, Error>> {
        crate::streams::events::group_event_frames(self.events_session(options))
    }

    fn events_session(&self, options: GroupEventsOptions) -> Session {
        let (inner, group_id) = (&self.client.inner, self.group_id);
        let mut path = inner.group_path(Some(group_id)).segment("events");
        if let Some(timeout) = options.api_timeout {
            path = path.query("timeout", &format!("{}", timeout.as_secs_f64()));
        }
        Session::new(
            Arc::clone(inner),
            format!("the events stream of task group {group_id}"),
            path.build(),
            true,
        )
        .resume_after(options.last_event_id)
        .request_options(options.request)
    }

    /// Waits until no run of the group is active and returns the final status.
    ///
    /// A group that is empty or already finished returns at once, with the status of
    /// [`GroupHandle::get`] (when that request fails on the network, the events stream below
    /// rides the outage out instead). Otherwise it follows the group's events until a status
    /// reports the group inactive; the events stream rides out quiet periods (keep-alives),
    /// server closes and network outages as
    /// [`ClientBuilder::stream_reconnect`](crate::ClientBuilder::stream_reconnect) allows,
    /// and reports each reconnect to
    /// [`ClientBuilder::on_reconnect`](crate::ClientBuilder::on_reconnect).
    /// `error` events are logged (`tracing` warning) and waited through.
    ///
    /// Outages are ridden out only once the server has answered the client (or a clone of
    /// it): before, a failure to connect (a wrong base URL, a closed port) is returned after
    /// the [`RetryPolicy`](crate::RetryPolicy)'s retries, as for any request.
    ///
    /// The call's [`timeout`](PendingRequest::timeout) bounds the whole wait (by default it
    /// has none); its headers and query parameters go with every request it makes.
    pub fn wait(self) -> PendingRequest<'a, TaskGroupStatus> {
        PendingRequest::new(move |options| {
            Box::pin(async move {
                let Some(deadline) = options.deadline() else {
                    return self.wait_with(options).await;
                };
                let what = format!("waiting for task group {}", self.group_id);
                let mut options = options;
                options.clear_timeout();
                tokio::time::timeout_at(deadline.at, self.wait_with(options))
                    .await
                    .unwrap_or_else(|_| Err(deadline.error(&what)))
            })
        })
    }

    async fn wait_with(self, options: RequestOptions) -> Result<TaskGroupStatus, Error> {
        let group_id = self.group_id;
        match self.get().options(options.clone()).await {
            Ok(group) if !group.status.is_active => return Ok(group.status),
            Ok(_) => {}
            // The network or the server is down: the events stream rides it out, if the
            // server was ever there.
            Err(error)
                if error.is_transient() && self.client.inner.reachability.ever_answered() =>
            {
                tracing::debug!(group = %group_id, error = %error, "waiting on the events stream");
            }
            Err(error) => return Err(error),
        }
        let mut events =
            self.events(GroupEventsOptions::default().request_options(options.clone()));
        while let Some(event) = events.next().await {
            match event? {
                GroupEvent::TaskGroupStatus(event) if !event.status.is_active => {
                    return Ok(event.status);
                }
                GroupEvent::Error(event) => tracing::warn!(
                    group = %group_id,
                    message = %event.error.message,
                    ref_id = %event.error.ref_id,
                    "the group events stream reported an error; waiting on"
                ),
                _ => {}
            }
        }
        Ok(self.get().options(options).await?.status)
    }
}

pub(crate) fn to_body<T: serde::Serialize>(value: &T, what: &str) -> Result<Bytes, Error> {
    serde_json::to_vec(value)
        .map(Bytes::from)
        .map_err(|e| Error::config(format!("{what} cannot be encoded as JSON")).with_source(e))
}
