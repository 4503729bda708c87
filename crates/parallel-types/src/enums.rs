//! Server-extensible string enums: run status, processor, warning type, progress kinds.

use crate::open_enum::open_enum;

open_enum! {
    /// The status of a task run.
    pub enum RunStatus {
        /// Accepted, waiting to start.
        Queued = "queued",
        /// Waiting for the user to act.
        ActionRequired = "action_required",
        /// Being processed.
        Running = "running",
        /// Finished with an output.
        Completed = "completed",
        /// Finished without an output; see the run's `error`.
        Failed = "failed",
        /// Cancellation requested, not yet done.
        Cancelling = "cancelling",
        /// Cancelled.
        Cancelled = "cancelled",
    }
}

impl RunStatus {
    /// Whether a run in this status still counts as active (`queued`, `running`,
    /// `cancelling`), the rule the server uses for `is_active`. Unknown statuses are not
    /// active; prefer the server's own `is_active` flag where one is at hand.
    pub fn is_active(&self) -> bool {
        matches!(self, Self::Queued | Self::Running | Self::Cancelling)
    }

    /// Whether this status is final (`completed`, `failed`, `cancelled`).
    pub fn is_terminal(&self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Cancelled)
    }

    /// Whether a run in this status is finished for anyone waiting on it: it will not move
    /// on by itself. That is every status that is not [active](RunStatus::is_active):
    /// `completed`, `failed`, `cancelled`, `action_required` (it waits for a person on the
    /// Parallel platform), and a status this version does not know. This is the one rule the
    /// client's batch engine and `parallel-batch` use; [`TaskRun::is_finished`](crate::TaskRun::is_finished)
    /// also takes the server's own `is_active` flag into account.
    pub fn is_finished(&self) -> bool {
        !self.is_active()
    }
}

open_enum! {
    /// A processor (the engine a run uses). Documented names get a variant; any other
    /// string is accepted as [`Processor::Other`] (the server answers 403 if it is invalid).
    /// The `-fast` variants trade some data freshness for 2–5× lower latency at equal price.
    pub enum Processor {
        /// `lite`: about 2 output fields.
        Lite = "lite",
        /// `lite-fast`.
        LiteFast = "lite-fast",
        /// `base`: about 5 output fields.
        Base = "base",
        /// `base-fast`.
        BaseFast = "base-fast",
        /// `core`: about 10 output fields.
        Core = "core",
        /// `core-fast`.
        CoreFast = "core-fast",
        /// `core2x`: about 10 output fields.
        Core2x = "core2x",
        /// `core2x-fast`.
        Core2xFast = "core2x-fast",
        /// `pro`: about 20 output fields; events on by default.
        Pro = "pro",
        /// `pro-fast`.
        ProFast = "pro-fast",
        /// `ultra`: about 20 output fields.
        Ultra = "ultra",
        /// `ultra-fast`.
        UltraFast = "ultra-fast",
        /// `ultra2x`: about 25 output fields.
        Ultra2x = "ultra2x",
        /// `ultra2x-fast`.
        Ultra2xFast = "ultra2x-fast",
        /// `ultra4x`: about 25 output fields.
        Ultra4x = "ultra4x",
        /// `ultra4x-fast`.
        Ultra4xFast = "ultra4x-fast",
        /// `ultra8x`: about 25 output fields.
        Ultra8x = "ultra8x",
        /// `ultra8x-fast`.
        Ultra8xFast = "ultra8x-fast",
    }
}

impl Processor {
    /// Whether this is a `-fast` variant (judged by name, so it also works for unknown ones).
    pub fn is_fast(&self) -> bool {
        self.as_str().ends_with("-fast")
    }
}

open_enum! {
    /// The kind of a [`Warning`](crate::Warning).
    pub enum WarningType {
        /// The task spec has a problem the server worked around.
        SpecValidation = "spec_validation_warning",
        /// The input has a problem the server worked around.
        InputValidation = "input_validation_warning",
        /// Any other warning.
        Warning = "warning",
    }
}

open_enum! {
    /// The kind of a progress message on a run's event stream: the part of the event type
    /// after `task_run.progress_msg.`.
    pub enum ProgressMessageKind {
        /// The research plan.
        Plan = "plan",
        /// A search being made.
        Search = "search",
        /// A search result.
        Result = "result",
        /// A tool call.
        ToolCall = "tool_call",
        /// Execution status.
        ExecStatus = "exec_status",
        /// Content being extracted from a source (sent by the live service, not yet in the
        /// published enum; the official SDKs accept it).
        Extract = "extract",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activity_follows_the_documented_rule() {
        let active: Vec<&str> = RunStatus::KNOWN
            .iter()
            .filter(|s| s.is_active())
            .map(RunStatus::as_str)
            .collect();
        assert_eq!(active, ["queued", "running", "cancelling"]);
        let terminal: Vec<&str> = RunStatus::KNOWN
            .iter()
            .filter(|s| s.is_terminal())
            .map(RunStatus::as_str)
            .collect();
        assert_eq!(terminal, ["completed", "failed", "cancelled"]);
        assert!(!RunStatus::from("paused").is_active());
    }

    #[test]
    fn processors_parse_display_and_keep_unknown_names() {
        assert_eq!(Processor::KNOWN.len(), 18);
        assert_eq!(
            "core2x-fast".parse::<Processor>(),
            Ok(Processor::Core2xFast)
        );
        assert_eq!(Processor::Ultra8x.to_string(), "ultra8x");
        assert!(Processor::LiteFast.is_fast() && !Processor::Pro.is_fast());
        let unknown = Processor::from("mega-fast");
        assert_eq!(unknown, Processor::Other("mega-fast".to_owned()));
        assert!(unknown.is_fast() && !unknown.is_known());
        // Every known name maps back to its own variant.
        for processor in Processor::KNOWN {
            assert_eq!(&Processor::from(processor.as_str()), processor);
        }
    }

    #[test]
    fn unknown_values_round_trip_through_serde() {
        let status: RunStatus = serde_json::from_str("\"on_hold\"").expect("decode");
        assert_eq!(status, RunStatus::Other("on_hold".to_owned()));
        assert_eq!(
            serde_json::to_string(&status).expect("encode"),
            "\"on_hold\""
        );
        let warning: WarningType =
            serde_json::from_str("\"spec_validation_warning\"").expect("decode");
        assert_eq!(warning, WarningType::SpecValidation);
        assert!(serde_json::from_str::<RunStatus>("3").is_err());
    }
}
