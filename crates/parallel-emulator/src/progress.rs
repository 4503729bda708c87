//! The simulated research trace of a run: progress messages at fixed fractions of its running
//! time, and progress statistics, as the run events stream shows them.

use std::io::Write as _;

use serde_json::Value;

use crate::clock::{Micros, Timestamp};
use crate::lenient::Variation;
use crate::schema::Subject;
use crate::state::{Run, Status};
use crate::wire::push_str;

/// One progress message.
#[derive(Debug, Clone)]
pub(crate) struct Step {
    pub(crate) at: Micros,
    /// The SSE event type, e.g. `task_run.progress_msg.plan`.
    pub(crate) kind: &'static str,
    pub(crate) message: String,
}

/// How many sources a run considers, for the statistics.
const SOURCES: u64 = 24;

/// The run's whole trace, in time order. Runs without events have none.
pub(crate) fn trace(run: &Run) -> Vec<Step> {
    if !run.events_enabled {
        return Vec::new();
    }
    let input: Value = serde_json::from_slice(run.input_value_json()).unwrap_or(Value::Null);
    let subject = Subject::from_input(&input);
    let span = (run.done_at - run.running_at).max(0);
    let at = |permille: i64| run.running_at + span * permille / 1000;
    let mut steps = vec![
        Step {
            at: at(0),
            kind: "task_run.progress_msg.plan",
            message: format!("Planning research on {}", subject.name),
        },
        Step {
            at: at(150),
            kind: "task_run.progress_msg.search",
            message: format!("Searching the web for {}", subject.name),
        },
        Step {
            at: at(350),
            kind: "task_run.progress_msg.result",
            message: format!(
                "Found {SOURCES} candidate sources, starting with {}",
                subject.domain
            ),
        },
        Step {
            at: at(550),
            kind: "task_run.progress_msg.search",
            message: format!("Looking for corroborating sources about {}", subject.name),
        },
        Step {
            at: at(750),
            kind: "task_run.progress_msg.result",
            message: format!("Read {} sources", SOURCES / 2),
        },
    ];
    if run.lenient == Some(Variation::ProgressExtract) {
        steps.push(Step {
            at: at(800),
            kind: "task_run.progress_msg.extract",
            message: format!(
                "Extracting facts about {} from the sources read",
                subject.name
            ),
        });
    }
    if run.fails() {
        steps.push(Step {
            at: at(900),
            kind: "task_run.progress_msg.exec_status",
            message: "Stopping: the task could not be completed".into(),
        });
    } else {
        steps.push(Step {
            at: at(900),
            kind: "task_run.progress_msg.exec_status",
            message: "Writing the answer".into(),
        });
    }
    steps
}

/// Writes a `task_run.progress_msg.*` event.
pub(crate) fn write_message(out: &mut Vec<u8>, step: &Step) {
    out.extend_from_slice(b"{\"type\":");
    push_str(out, step.kind);
    out.extend_from_slice(b",\"message\":");
    push_str(out, &step.message);
    let _ = write!(out, ",\"timestamp\":\"{}\"}}", Timestamp(step.at));
}

/// Writes a `task_run.progress_stats` event for the run as it is at `now`.
pub(crate) fn write_stats(out: &mut Vec<u8>, run: &Run, now: Micros) {
    let fraction = match run.status {
        Status::Completed | Status::Failed | Status::Cancelled => 1.0,
        Status::Queued => 0.0,
        _ => {
            let span = (run.done_at - run.running_at).max(1);
            #[allow(clippy::cast_precision_loss)]
            let f = (now - run.running_at) as f64 / span as f64;
            f.clamp(0.0, 0.99)
        }
    };
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let considered = (fraction * SOURCES as f64).round() as u64;
    let read = considered / 2;
    let meter = (fraction * 1000.0).round() / 10.0;
    let _ = write!(
        out,
        "{{\"type\":\"task_run.progress_stats\",\"progress_meter\":{meter},\"source_stats\":{{\"num_sources_considered\":{considered},\"num_sources_read\":{read},\"sources_read_sample\":["
    );
    if read > 0 {
        let input: Value = serde_json::from_slice(run.input_value_json()).unwrap_or(Value::Null);
        let subject = Subject::from_input(&input);
        for i in 0..read.min(3) {
            if i > 0 {
                out.push(b',');
            }
            push_str(out, &format!("https://{}/page-{}", subject.domain, i + 1));
        }
    }
    out.extend_from_slice(b"]}}");
}
