//! Task groups: the group object, its status, and the create / add-runs bodies.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::serde_util::null_as_default;
use crate::{Metadata, RunInput, RunStatus, TaskSpec};

/// A task group (`TaskGroupResponse`), returned by group creation and retrieval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TaskGroup {
    /// The group id (`tgrp_` followed by 32 hex digits).
    pub taskgroup_id: String,
    /// Aggregated status of the group's runs.
    pub status: TaskGroupStatus,
    /// Creation time, RFC 3339.
    #[serde(default)]
    pub created_at: Option<String>,
    /// Metadata given at creation.
    #[serde(default)]
    pub metadata: Option<Metadata>,
}

/// Aggregated status of a group's runs.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TaskGroupStatus {
    /// Total runs ever added to the group.
    pub num_task_runs: u64,
    /// Runs per status; statuses with no run are usually left out.
    #[serde(default, deserialize_with = "null_as_default")]
    pub task_run_status_counts: BTreeMap<RunStatus, u64>,
    /// Whether at least one run is still queued, running or cancelling.
    pub is_active: bool,
    /// Human-readable status text.
    #[serde(default)]
    pub status_message: Option<String>,
    /// Time of the last status change, RFC 3339.
    #[serde(default)]
    pub modified_at: Option<String>,
}

impl TaskGroup {
    /// A group with this id and status, the other fields unset (for tests and servers that
    /// answer with groups).
    pub fn new(taskgroup_id: impl Into<String>, status: TaskGroupStatus) -> Self {
        Self {
            taskgroup_id: taskgroup_id.into(),
            status,
            created_at: None,
            metadata: None,
        }
    }
}

impl TaskGroupStatus {
    /// The number of runs in `status` (0 when the server left it out).
    pub fn count(&self, status: &RunStatus) -> u64 {
        self.task_run_status_counts
            .get(status)
            .copied()
            .unwrap_or(0)
    }

    /// The number of runs in a final status (completed, failed or cancelled).
    pub fn finished(&self) -> u64 {
        self.task_run_status_counts
            .iter()
            .filter(|(status, _)| status.is_terminal())
            .map(|(_, count)| count)
            .sum()
    }
}

/// Body of `POST /v1/tasks/groups`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CreateTaskGroupRequest {
    /// Metadata to attach to the group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
}

impl CreateTaskGroupRequest {
    /// A request for a group without metadata (the same as `default()`).
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the group's metadata.
    #[must_use]
    pub fn with_metadata(mut self, metadata: Metadata) -> Self {
        self.metadata = Some(metadata);
        self
    }
}

/// Body of `POST /v1/tasks/groups/{taskgroup_id}/runs`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AddRunsRequest {
    /// The runs to add, at most [`AddRunsRequest::MAX_INPUTS`] per request.
    pub inputs: Vec<RunInput>,
    /// Task spec for every input that has none of its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_task_spec: Option<TaskSpec>,
}

impl AddRunsRequest {
    /// The most inputs the API accepts in one request.
    pub const MAX_INPUTS: usize = 1000;

    /// A request adding `inputs`, without a default task spec.
    pub fn new(inputs: Vec<RunInput>) -> Self {
        Self {
            inputs,
            default_task_spec: None,
        }
    }

    /// Sets the task spec used by inputs that have none.
    #[must_use]
    pub fn with_default_task_spec(mut self, spec: TaskSpec) -> Self {
        self.default_task_spec = Some(spec);
        self
    }
}

/// Response to adding runs (`TaskGroupRunResponse`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AddRunsResponse {
    /// Group status after the add (possibly stale with `refresh_status=false`).
    pub status: TaskGroupStatus,
    /// The new run ids, in the order of the request's inputs.
    #[serde(default, deserialize_with = "null_as_default")]
    pub run_ids: Vec<String>,
    /// `last_event_id` for the group runs stream, positioned just before these runs.
    #[serde(default)]
    pub run_cursor: Option<String>,
    /// `last_event_id` for the group events stream, positioned just before these runs.
    #[serde(default)]
    pub event_cursor: Option<String>,
}

impl AddRunsResponse {
    /// An answer with this status and these run ids, without cursors (for tests and servers).
    pub fn new(status: TaskGroupStatus, run_ids: Vec<String>) -> Self {
        Self {
            status,
            run_ids,
            run_cursor: None,
            event_cursor: None,
        }
    }
}
