//! The body of a webhook delivery (beta `webhook-2025-08-12`).

use serde::{Deserialize, Serialize};

use crate::TaskRun;
use crate::open_enum::open_enum;

open_enum! {
    /// The type of a webhook event.
    pub enum WebhookEventType {
        /// A run finished (completed or failed); `data` is the run.
        TaskRunStatus = "task_run.status",
    }
}

/// What the service POSTs to a run's webhook URL:
/// `{"timestamp": <ISO 8601>, "type": "task_run.status", "data": <the TaskRun>}`.
///
/// Check the delivery's signature before trusting it (the `parallel-webhook` crate does).
///
/// ```
/// use parallel_types::{RunStatus, WebhookEvent, WebhookEventType};
///
/// let body = br#"{"timestamp":"2026-03-02T14:07:31Z","type":"task_run.status",
///   "data":{"run_id":"trun_1","status":"completed","is_active":false,"processor":"base"}}"#;
/// let event: WebhookEvent = serde_json::from_slice(body)?;
/// assert_eq!(event.event_type, WebhookEventType::TaskRunStatus);
/// assert_eq!(event.data.status, RunStatus::Completed);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct WebhookEvent {
    /// When the event happened, ISO 8601.
    pub timestamp: String,
    /// The event type.
    #[serde(rename = "type")]
    pub event_type: WebhookEventType,
    /// The run the event is about.
    pub data: TaskRun,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_event_types_are_kept() {
        let body = r#"{"timestamp":"2026-03-02T14:07:31Z","type":"task_run.progress","data":{"run_id":"trun_1","interaction_id":"trun_1","status":"running","is_active":true,"processor":"pro","created_at":null,"modified_at":null,"warnings":null,"error":null,"metadata":null,"taskgroup_id":null}}"#;
        let event: WebhookEvent = serde_json::from_str(body).expect("decode");
        assert_eq!(
            event.event_type,
            WebhookEventType::Other("task_run.progress".to_owned())
        );
        let again: serde_json::Value = serde_json::to_value(&event).expect("encode");
        assert_eq!(
            again,
            serde_json::from_str::<serde_json::Value>(body).expect("JSON")
        );
    }
}
