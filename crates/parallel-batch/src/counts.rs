//! How the rows of a job, or the runs of a group, stand: one count of each, for the progress
//! display, the state, the summaries of `run` and `results`, and `wait`.

use parallel_types::{RunStatus, TaskGroupStatus};
use serde::{Deserialize, Serialize};

/// Rows (or runs) by how they stand.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Counts {
    /// With a completed run: an output.
    #[serde(default)]
    pub(crate) completed: u64,
    /// With a run that ended without an output (failed, cancelled, waiting for action).
    #[serde(default)]
    pub(crate) failed: u64,
    /// Refused by the API: no run was made.
    #[serde(default)]
    pub(crate) rejected: u64,
    /// With a run not finished yet (queued, running): a group read before it was done.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub(crate) unfinished: u64,
}

#[allow(clippy::trivially_copy_pass_by_ref)] // the signature serde asks for
fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Counts {
    /// The rows (runs) done with: every one but the unfinished.
    pub(crate) fn done(&self) -> u64 {
        self.completed + self.failed + self.rejected
    }

    /// Every row (run) counted.
    pub(crate) fn all(&self) -> u64 {
        self.done() + self.unfinished
    }

    /// Counts `runs` runs in `status` (by the one rule of what a finished run is,
    /// [`RunStatus::is_finished`]).
    pub(crate) fn add_run(&mut self, status: &RunStatus, runs: u64) {
        self.add_outcome(*status == RunStatus::Completed, status.is_finished(), runs);
    }

    /// Counts `runs` runs that `completed` (with an output) or else are `finished` or not.
    pub(crate) fn add_outcome(&mut self, completed: bool, finished: bool, runs: u64) {
        if completed {
            self.completed += runs;
        } else if finished {
            self.failed += runs;
        } else {
            self.unfinished += runs;
        }
    }

    /// The runs of a group, as its status counts them.
    pub(crate) fn of_group(status: &TaskGroupStatus) -> Self {
        let mut counts = Self::default();
        for (run_status, runs) in &status.task_run_status_counts {
            counts.add_run(run_status, *runs);
        }
        counts
    }

    /// Adds `other`'s counts to these.
    pub(crate) fn add(&mut self, other: Self) {
        self.completed += other.completed;
        self.failed += other.failed;
        self.rejected += other.rejected;
        self.unfinished += other.unfinished;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_count_by_the_one_rule_of_finished() {
        let mut counts = Counts::default();
        counts.add_run(&RunStatus::Completed, 3);
        counts.add_run(&RunStatus::Failed, 1);
        counts.add_run(&RunStatus::Cancelled, 1);
        counts.add_run(&RunStatus::ActionRequired, 1);
        counts.add_run(&RunStatus::Running, 2);
        counts.add_run(&RunStatus::Queued, 1);
        assert_eq!(
            counts,
            Counts {
                completed: 3,
                failed: 3,
                rejected: 0,
                unfinished: 3
            }
        );
        assert_eq!((counts.done(), counts.all()), (6, 9));
    }

    #[test]
    fn counts_serialize_as_the_state_and_summaries_always_had_them() {
        let counts = Counts {
            completed: 2,
            failed: 1,
            rejected: 1,
            unfinished: 0,
        };
        assert_eq!(
            serde_json::to_value(counts).unwrap(),
            serde_json::json!({"completed": 2, "failed": 1, "rejected": 1})
        );
        let old: Counts = serde_json::from_str(r#"{"completed": 2}"#).unwrap();
        assert_eq!(old.done(), 2);
    }
}
