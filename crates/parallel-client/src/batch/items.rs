//! What goes into a batch ([`BatchInput`]) and what comes out ([`BatchItem`]).

use std::sync::Arc;

use parallel_types::{
    ErrorObject, Metadata, Processor, RunOutput, RunOutputRef, RunStatus, TaskRun,
};
use serde::de::DeserializeOwned;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::error::{Error, Kind};

/// One input of a batch: its position (any `u64`, unique within the batch and stable across
/// sessions when resuming), the run's `input` as JSON, and optional metadata of its own.
#[derive(Debug, Clone)]
pub struct BatchInput {
    pub(crate) position: u64,
    pub(crate) input: Arc<RawValue>,
    pub(crate) metadata: Option<Metadata>,
    pub(crate) processor: Option<Processor>,
}

impl BatchInput {
    /// An input at `position`: a string, or a JSON object.
    pub fn new(position: u64, input: impl Into<Value>) -> Self {
        let input: Value = input.into();
        let raw =
            serde_json::value::to_raw_value(&input).unwrap_or_else(|_| RawValue::NULL.to_owned());
        Self {
            position,
            input: Arc::from(raw),
            metadata: None,
            processor: None,
        }
    }

    /// An input at `position` from its JSON text (a JSON string or object), kept as written
    /// and handed back in its result without being parsed into a tree.
    pub fn from_json(position: u64, json: impl Into<String>) -> Result<Self, Error> {
        let raw = RawValue::from_string(json.into())
            .map_err(|e| Error::decode(&format!("the input at position {position}"), e))?;
        Ok(Self {
            position,
            input: Arc::from(raw),
            metadata: None,
            processor: None,
        })
    }

    /// Sets the run's metadata (the client tag is added to it).
    #[must_use]
    pub fn with_metadata(mut self, metadata: Metadata) -> Self {
        self.metadata = Some(metadata);
        self
    }

    /// Runs this input on `processor` instead of the batch's
    /// ([`BatchOptions::new`](super::BatchOptions::new)).
    #[must_use]
    pub fn with_processor(mut self, processor: impl Into<Processor>) -> Self {
        self.processor = Some(processor.into());
        self
    }

    /// The input's position.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// The run input, as JSON.
    pub fn input(&self) -> &RawValue {
        &self.input
    }
}

/// What a batch reports.
#[derive(Debug, Clone)]
#[non_exhaustive]
#[allow(clippy::large_enum_variant)] // results are the bulk of the items; boxing them adds a copy
pub enum BatchItem {
    /// The batch has its group; always the first item. See
    /// [`StartedBatch`](super::StartedBatch) to persist it before any run is created.
    #[non_exhaustive]
    Started {
        /// The group's id.
        group_id: String,
        /// The token of the client tags (`"<token>:<position>"`).
        token: String,
        /// Runs with this token already in the group (resuming), not submitted again.
        resumed: u64,
    },
    /// One add-runs request succeeded.
    #[non_exhaustive]
    Submitted {
        /// `(position, run_id)` of each input the request created a run for.
        runs: Vec<(u64, String)>,
    },
    /// A run finished: completed, failed, cancelled or waiting for action.
    Result(BatchResult),
    /// The API refused an input (a `422` naming it); no run was created for it, and the
    /// rest of its request was sent again.
    Rejected(BatchRejection),
    /// Counters.
    Progress(BatchProgress),
}

/// The result of one input.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct BatchResult {
    /// The input's position.
    pub position: u64,
    /// The run, as last read (status, error, metadata).
    pub run: TaskRun,
    /// The input as given.
    pub input: Arc<RawValue>,
    /// The run's output, or its error when it did not complete.
    pub outcome: Result<BatchOutput, ErrorObject>,
}

impl BatchResult {
    /// The output content as `T`: a JSON output's object, or a text output's string (as
    /// [`BatchOutput::content_as`]). Fails when the run did not complete
    /// ([`Error::is_run_failed`], the message quotes the run's error) or the content does not
    /// fit `T`.
    pub fn content_as<T: DeserializeOwned>(&self) -> Result<T, Error> {
        let output = self.outcome.as_ref().map_err(|error| {
            Error::new(
                Kind::RunFailed,
                format!(
                    "run {} did not complete: {}",
                    self.run.run_id, error.message
                ),
            )
            .with_api(Some(error.clone()))
        })?;
        output.content_as()
    }

    /// Whether the run completed with an output.
    pub fn is_completed(&self) -> bool {
        self.outcome.is_ok()
    }

    /// The run's input as `T` (as given to [`BatchInput::new`]).
    pub fn input_as<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_str(self.input.get())
            .map_err(|e| Error::decode("the batch input as the requested type", e))
    }
}

/// The output of a completed run, as the server sent it (`{"type": .., "content": ..,
/// "basis": ..}`), decoded on demand.
#[derive(Debug, Clone)]
pub struct BatchOutput(pub(crate) Box<RawValue>);

impl BatchOutput {
    /// The whole output object, raw.
    pub fn json(&self) -> &RawValue {
        &self.0
    }

    /// A borrowed view: the output type, and the content, basis and the rest raw.
    pub fn view(&self) -> Result<RunOutputRef<'_>, Error> {
        // Decoded from the text: its bytes are known to be UTF-8 and are not checked again.
        serde_json::from_str(self.0.get()).map_err(|e| Error::decode("a run output", e))
    }

    /// The content, raw: a JSON output's object, a text output's string, or whatever an
    /// output of a type this version does not know holds under `content`.
    pub fn content(&self) -> Result<&RawValue, Error> {
        Ok(self.view()?.content)
    }

    /// The content as `T`.
    pub fn content_as<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_str(self.content()?.get())
            .map_err(|e| Error::decode("the run's output as the requested type", e))
    }

    /// The owned output, with its basis decoded.
    pub fn to_output(&self) -> Result<RunOutput, Error> {
        serde_json::from_str(self.0.get()).map_err(|e| Error::decode("a run output", e))
    }
}

/// An input the API refused.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct BatchRejection {
    /// The input's position.
    pub position: u64,
    /// The input as given.
    pub input: Arc<RawValue>,
    /// The API's error object (its `message` names the input by its index in the request).
    pub error: ErrorObject,
}

impl BatchRejection {
    /// Why the input was refused, in the API's words, without the index within the request
    /// (which says nothing to the caller): `inputs[3].processor: ..` reads `input.processor: ..`.
    pub fn reason(&self) -> String {
        let message = &self.error.message;
        let mut out = String::with_capacity(message.len());
        let mut rest = message.as_str();
        while let Some(at) = rest.find("inputs[") {
            let after = &rest[at + "inputs[".len()..];
            match after.find(']') {
                Some(end) if after[..end].bytes().all(|b| b.is_ascii_digit()) => {
                    out.push_str(&rest[..at]);
                    out.push_str("input");
                    rest = &after[end + 1..];
                }
                _ => {
                    out.push_str(&rest[..at + "inputs[".len()]);
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        out
    }
}

/// Counters of a batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BatchProgress {
    /// Inputs read from the input stream.
    pub inputs_read: u64,
    /// Inputs submitted by this session.
    pub submitted: u64,
    /// Inputs found already submitted by an earlier session.
    pub resumed: u64,
    /// Results delivered (completed and not).
    pub finished: u64,
    /// Results delivered with an output.
    pub completed: u64,
    /// Results delivered with an error.
    pub failed: u64,
    /// Inputs the API refused.
    pub rejected: u64,
    /// Inputs read whose result has not been delivered yet.
    pub in_flight: u64,
    /// `429 Too Many Requests` answers the batch's submissions met and waited out: the
    /// account's rate limit is slowing the batch down.
    pub throttled: u64,
}

/// The error object of a run that finished without an output: the run's own, or one that
/// says which status it ended in (`action_required` runs wait for a person on the Parallel
/// platform). What [`BatchResult::outcome`] holds for such a run.
pub fn run_error(run: &TaskRun) -> ErrorObject {
    if let Some(error) = &run.error {
        return error.clone();
    }
    let message = match &run.status {
        RunStatus::ActionRequired => "the run needs action on the Parallel platform".to_owned(),
        status => format!("the run ended {}", status.as_str()),
    };
    ErrorObject::new(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rejection(message: &str) -> BatchRejection {
        BatchRejection {
            position: 7,
            input: Arc::from(RawValue::from_string("{}".into()).unwrap()),
            error: ErrorObject::new(message),
        }
    }

    #[test]
    fn the_reason_drops_the_index_within_the_request() {
        assert_eq!(
            rejection("Request validation error: inputs[3].processor: unknown `warp`").reason(),
            "Request validation error: input.processor: unknown `warp`"
        );
        assert_eq!(
            rejection("inputs[12]: too long").reason(),
            "input: too long"
        );
        assert_eq!(rejection("inputs[x] stays").reason(), "inputs[x] stays");
        assert_eq!(rejection("no location").reason(), "no location");
    }

    #[test]
    fn a_run_without_its_own_error_says_how_it_ended() {
        let run: TaskRun = serde_json::from_str(
            r#"{"run_id":"trun_1","status":"action_required","is_active":false,"processor":"lite"}"#,
        )
        .unwrap();
        assert!(run_error(&run).message.contains("needs action"));
        let run: TaskRun = serde_json::from_str(
            r#"{"run_id":"trun_1","status":"cancelled","is_active":false,"processor":"lite"}"#,
        )
        .unwrap();
        assert_eq!(run_error(&run).message, "the run ended cancelled");
    }
}
