//! Adding runs to a group: chunking, and reconciling when an answer is lost.
//!
//! # How a lost answer is reconciled
//!
//! `POST /v1/tasks/groups/{id}/runs` creates billable runs and the API has no idempotency key.
//! If the request was sent and no answer came back (connection reset, timeout, a 5xx from a
//! proxy), the runs may or may not exist, and sending the request again could run every input
//! twice. So every input carries a client tag in its metadata, under the key
//! [`CLIENT_TAG_KEY`] (`"client_tag"`), with the value `"<token>:<position>"`: `token` is random
//! per [`GroupHandle::add_runs`] call unless the caller supplies one ([`AddRuns::token`]), and
//! `position` is the input's position in the call (offset by [`AddRuns::first_position`]).
//! After an unknown outcome the client waits a backoff delay, streams the group's runs, collects
//! the runs whose tag carries the token, and submits again only the inputs whose positions are
//! missing. Run ids are returned in input order whichever request created them.
//!
//! This relies on runs being visible on the runs stream once the add request was processed,
//! which is how the service and the emulator behave. Reconciliation counts against the retry
//! policy: after `max_retries` rounds the call fails with [`Error::is_outcome_unknown`].
//!
//! A caller that supplies its own token and stable positions gets the same protection across
//! process restarts: see the [`batch`](crate::batch) module, which builds on this.

use std::borrow::Cow;
use std::collections::HashMap;

use parallel_types::{
    AddRunsResponse, ErrorObject, MetadataValue, RunInput, TaskGroupStatus, TaskSpec,
};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::beta;
use crate::client::{Client, Inner};
use crate::error::{Error, Kind};
use crate::groups::GroupHandle;
use crate::groups::to_body;
use crate::options::RequestOptions;
use crate::pending::PendingRequest;
use crate::request::Deadline;
use crate::request::{Call, Effect};
use crate::session::Frame;
use crate::streams::{GroupRunsOptions, decode};

/// The metadata key of the client tag (`"<token>:<position>"`) added to every input.
pub const CLIENT_TAG_KEY: &str = "client_tag";

/// The most inputs the API accepts in one add-runs request.
pub const MAX_RUNS_PER_REQUEST: usize = 1000;

/// The longest token accepted, so that tags stay well under the 512-character metadata limit.
const MAX_TOKEN_LEN: usize = 128;

/// Runs to add to a group with [`GroupHandle::add_runs`]: any number of inputs, sent in requests of
/// at most [`MAX_RUNS_PER_REQUEST`].
///
/// ```
/// use parallel_client::AddRuns;
/// use parallel_types::{RunInput, TaskSpec};
///
/// let inputs = (0..2500).map(|i| RunInput::new(format!("Company #{i}"), "lite-fast"));
/// let add = AddRuns::new(inputs)
///     .default_task_spec(TaskSpec::text("The company's founding year"))
///     .token("import-2026-03-02");
/// ```
#[derive(Debug, Clone)]
pub struct AddRuns {
    inputs: Vec<RunInput>,
    default_task_spec: Option<TaskSpec>,
    token: Option<String>,
    first_position: u64,
    chunk_size: usize,
    tag: bool,
}

impl AddRuns {
    /// The inputs, in order.
    pub fn new(inputs: impl IntoIterator<Item = RunInput>) -> Self {
        Self {
            inputs: inputs.into_iter().collect(),
            default_task_spec: None,
            token: None,
            first_position: 0,
            chunk_size: MAX_RUNS_PER_REQUEST,
            tag: true,
        }
    }

    /// The task spec of every input that has none of its own.
    #[must_use]
    pub fn default_task_spec(mut self, spec: TaskSpec) -> Self {
        self.default_task_spec = Some(spec);
        self
    }

    /// The token of the client tags (default: random per call). Supply a stable one, with
    /// stable positions, to make a resubmission after a crash skip the inputs already added.
    #[must_use]
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// The position of the first input in the tags (default 0).
    #[must_use]
    pub fn first_position(mut self, position: u64) -> Self {
        self.first_position = position;
        self
    }

    /// Inputs per request, 1 to [`MAX_RUNS_PER_REQUEST`] (default the maximum).
    #[must_use]
    pub fn chunk_size(mut self, size: usize) -> Self {
        self.chunk_size = size;
        self
    }

    /// Whether inputs are tagged (default `true`). Without tags a lost answer cannot be
    /// reconciled: the call then fails with [`Error::is_outcome_unknown`].
    #[must_use]
    pub fn client_tags(mut self, tag: bool) -> Self {
        self.tag = tag;
        self
    }
}

/// What a chunk submission produced.
pub(crate) struct ChunkOutcome {
    /// The run id of each input of the chunk, in order; `None` for a rejected input.
    pub(crate) ids: Vec<Option<String>>,
    /// `(index into the chunk, the error object of the 422 that named it)` of each input the
    /// API refused (only with [`ChunkRequest::reject_invalid`]).
    pub(crate) rejected: Vec<(usize, ErrorObject)>,
    /// The group status of the last answer; `None` when the last answer was lost and the
    /// runs were found by reconciling.
    pub(crate) status: Option<TaskGroupStatus>,
    /// `(run_cursor, event_cursor)` of an answer for the whole chunk; `None` when the chunk
    /// needed reconciling (no answer, or one for part of the chunk only).
    pub(crate) cursors: Option<(Option<String>, Option<String>)>,
}

/// What [`GroupHandle::add_runs`] added.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct AddedRuns {
    /// The new runs' ids, in input order.
    pub run_ids: Vec<String>,
    /// The group's status from the answer to the last request, the only one that asks for a
    /// fresh status; `None` when nothing was sent, or when that answer was lost and its runs
    /// were found by reconciling.
    pub status: Option<TaskGroupStatus>,
    /// The `run_cursor` of the answer to the first request: given to
    /// [`GroupRunsOptions::last_event_id()`](crate::GroupRunsOptions::last_event_id), the runs
    /// stream starts at the runs added. `None` when the group had no runs before, or when that
    /// answer was lost.
    pub run_cursor: Option<String>,
    /// The `event_cursor` of the answer to the first request: given to
    /// [`GroupEventsOptions::last_event_id()`](crate::GroupEventsOptions::last_event_id), the
    /// events stream starts at the runs added. `None` as for `run_cursor`.
    pub event_cursor: Option<String>,
}

/// A new random token (64 bits, hex).
pub(crate) fn random_token() -> String {
    format!("{:016x}", fastrand::u64(..))
}

pub(crate) fn check_token(token: &str) -> Result<(), Error> {
    if token.is_empty() || token.len() > MAX_TOKEN_LEN || token.chars().any(char::is_control) {
        return Err(Error::config(format!(
            "invalid client tag token {token:?}: use 1 to {MAX_TOKEN_LEN} printable characters"
        )));
    }
    Ok(())
}

/// A client tag, `"<token>:<position>"`: the value under [`CLIENT_TAG_KEY`] in a run's
/// metadata that ties the run to one input of one batch, so that a lost answer or a crash is
/// reconciled instead of creating the run twice. The one parser and writer of tags.
///
/// ```
/// use parallel_client::add_runs::ClientTag;
///
/// let tag = ClientTag::parse("4f2a:17").unwrap();
/// assert_eq!((tag.token(), tag.position()), ("4f2a", 17));
/// assert_eq!(tag.to_string(), "4f2a:17");
/// assert_eq!(ClientTag::parse("a:b:7").map(|t| t.token()), Some("a:b")); // a token may hold a colon
/// assert_eq!(ClientTag::parse("no position"), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientTag<'a> {
    token: &'a str,
    position: u64,
}

impl<'a> ClientTag<'a> {
    /// The tag of `position` under `token`.
    pub fn new(token: &'a str, position: u64) -> Self {
        Self { token, position }
    }

    /// Parses a tag; `None` when `tag` is not `"<token>:<position>"`.
    pub fn parse(tag: &'a str) -> Option<Self> {
        let (token, position) = tag.rsplit_once(':')?;
        Some(Self {
            token,
            position: position.parse().ok()?,
        })
    }

    /// The tag in a run's (or an input's) metadata, when it has a string one.
    pub fn of(metadata: Option<&'a parallel_types::Metadata>) -> Option<Self> {
        Self::parse(metadata?.get(CLIENT_TAG_KEY)?.as_str()?)
    }

    /// The batch token.
    pub fn token(&self) -> &'a str {
        self.token
    }

    /// The input's position.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// The position, when the tag was made with `token`.
    pub fn position_under(&self, token: &str) -> Option<u64> {
        (self.token == token).then_some(self.position)
    }
}

impl std::fmt::Display for ClientTag<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.token, self.position)
    }
}

/// The position of a tag made with `token`, or `None` for other tags.
pub(crate) fn tag_position(tag: &str, token: &str) -> Option<u64> {
    ClientTag::parse(tag)?.position_under(token)
}

/// Tags `input` in place. The tag never replaces a key of the caller's: an input whose
/// metadata already has [`CLIENT_TAG_KEY`] is refused.
pub(crate) fn apply_tag(input: &mut RunInput, token: &str, position: u64) -> Result<(), Error> {
    let metadata = input.metadata.get_or_insert_with(Default::default);
    if metadata.contains_key(CLIENT_TAG_KEY) {
        return Err(tag_clash(position));
    }
    metadata.insert(
        CLIENT_TAG_KEY.to_owned(),
        MetadataValue::String(ClientTag::new(token, position).to_string()),
    );
    Ok(())
}

/// The error for an input whose own metadata has the key the client tags with.
pub(crate) fn tag_clash(position: u64) -> Error {
    Error::config(format!(
        "the input at position {position} already has the metadata key `{CLIENT_TAG_KEY}`, \
         which the client uses to tag each input so that a lost answer or a crash never \
         creates a run twice; rename that key (or turn tagging off with \
         `AddRuns::client_tags(false)`)"
    ))
}

/// The run id and client tag of a run event, read without decoding the rest.
#[derive(Deserialize)]
pub(crate) struct TaggedRun<'a> {
    #[serde(borrow)]
    pub(crate) run: TaggedRunInner<'a>,
}

#[derive(Deserialize)]
pub(crate) struct TaggedRunInner<'a> {
    #[serde(borrow)]
    pub(crate) run_id: Cow<'a, str>,
    #[serde(borrow, default)]
    metadata: Option<TagMetadata<'a>>,
}

#[derive(Deserialize)]
struct TagMetadata<'a> {
    #[serde(borrow, default)]
    client_tag: Option<&'a RawValue>,
}

impl TaggedRunInner<'_> {
    /// The run's client tag, when it has a string one.
    pub(crate) fn client_tag(&self) -> Option<Cow<'_, str>> {
        let raw = self.metadata.as_ref()?.client_tag?;
        serde_json::from_str::<Cow<'_, str>>(raw.get()).ok()
    }
}

impl<'a> GroupHandle<'a> {
    /// Adds runs to the group (`POST /v1/tasks/groups/{id}/runs`) and returns their run ids
    /// in input order, the group's status after the last request, and cursors positioned
    /// just before the runs added.
    ///
    /// Inputs are sent in requests of at most 1,000 (see [`AddRuns::chunk_size`]), in order;
    /// all but the last request ask for no status refresh (`refresh_status=false`), as
    /// recommended for bulk adds. Each input gets a client tag in its metadata so that a lost
    /// answer is reconciled instead of resubmitted blindly; see the
    /// [module documentation](crate::add_runs) for how.
    ///
    /// On failure some requests may have succeeded: the runs they created exist. Calling again
    /// with the same [`AddRuns::token`] adds only the missing inputs.
    ///
    /// The call's per-call options ([`PendingRequest`]) go with every add request: betas
    /// besides those the inputs' beta fields need, headers, query parameters, fields merged
    /// into each request's body; its timeout bounds all the requests together.
    pub fn add_runs(self, runs: AddRuns) -> PendingRequest<'a, AddedRuns> {
        PendingRequest::new(move |options| Box::pin(self.add_runs_with(runs, options)))
    }

    async fn add_runs_with(
        self,
        runs: AddRuns,
        options: RequestOptions,
    ) -> Result<AddedRuns, Error> {
        let (client, group_id) = (self.client, self.group_id);
        let deadline = options.deadline();
        let AddRuns {
            inputs,
            default_task_spec,
            token,
            first_position,
            chunk_size,
            tag,
        } = runs;
        if chunk_size == 0 || chunk_size > MAX_RUNS_PER_REQUEST {
            return Err(Error::config(format!(
                "chunk size {chunk_size} is out of range: use 1 to {MAX_RUNS_PER_REQUEST}"
            )));
        }
        let token = match token {
            Some(token) => {
                check_token(&token)?;
                Some(token)
            }
            None if tag => Some(random_token()),
            None => None,
        };
        let mut added = AddedRuns {
            run_ids: Vec::with_capacity(inputs.len()),
            status: None,
            run_cursor: None,
            event_cursor: None,
        };
        let mut positioned: Vec<(u64, RunInput)> = inputs
            .into_iter()
            .enumerate()
            .map(|(i, input)| (first_position + i as u64, input))
            .collect();
        let mut chunks = Vec::new();
        while !positioned.is_empty() {
            let rest = positioned.split_off(positioned.len().min(chunk_size));
            chunks.push(std::mem::replace(&mut positioned, rest));
        }
        let count = chunks.len();
        for (index, chunk) in chunks.into_iter().enumerate() {
            let last = index + 1 == count;
            let outcome = client
                .submit_chunk(ChunkRequest {
                    group_id,
                    chunk,
                    default_task_spec: default_task_spec.as_ref(),
                    token: token.as_deref(),
                    refresh_status: last,
                    reject_invalid: false,
                    reconcile_first: false,
                    throttled: None,
                    per_call: Some(PerCall {
                        options: &options,
                        deadline,
                    }),
                })
                .await?;
            added.run_ids.extend(outcome.ids.into_iter().flatten());
            if index == 0
                && let Some((run_cursor, event_cursor)) = outcome.cursors
            {
                let cursor = |c: Option<String>| c.filter(|c| !c.is_empty());
                added.run_cursor = cursor(run_cursor);
                added.event_cursor = cursor(event_cursor);
            }
            if last {
                added.status = outcome.status;
            }
        }
        Ok(added)
    }
}

impl Client {
    /// Submits one chunk (at most 1,000 inputs), reconciling lost answers when tagged.
    pub(crate) async fn submit_chunk(
        &self,
        request: ChunkRequest<'_>,
    ) -> Result<ChunkOutcome, Error> {
        let ChunkRequest {
            group_id,
            mut chunk,
            default_task_spec,
            token,
            refresh_status,
            reject_invalid,
            reconcile_first,
            per_call,
            throttled,
        } = request;
        let inner = &self.inner;
        if let Some(token) = token {
            for (position, input) in &mut chunk {
                apply_tag(input, token, *position)?;
            }
        }
        let mut outcome = ChunkOutcome {
            ids: vec![None; chunk.len()],
            rejected: Vec::new(),
            status: None,
            cursors: None,
        };
        // Indexes into `chunk` still to submit.
        let mut pending: Vec<usize> = (0..chunk.len()).collect();
        if reconcile_first && let Some(token) = token {
            inner
                .reconcile(group_id, token, &chunk, &mut pending, &mut outcome.ids)
                .await?;
        }
        let mut rounds = 0;
        let mut whole = !reconcile_first;
        while !pending.is_empty() {
            let inputs: Vec<&RunInput> = pending.iter().map(|&i| &chunk[i].1).collect();
            let mut call =
                inner.add_runs_call(group_id, &inputs, default_task_spec, refresh_status)?;
            if let Some(PerCall { options, deadline }) = per_call {
                call.betas = beta::for_inputs(options.beta_list(), inputs.iter().copied());
                options.apply(&mut call, deadline)?;
            }
            call.throttled = throttled.cloned();
            match inner.json::<AddRunsResponse>(&call).await {
                Ok(response) => {
                    outcome.record(group_id, &pending, response, whole)?;
                    break;
                }
                Err(error)
                    if reject_invalid && !rejected_inputs(&error, pending.len()).is_empty() =>
                {
                    // Nothing of a refused request was created: drop the inputs it names and
                    // send the rest again.
                    let named = rejected_inputs(&error, pending.len());
                    let api = error
                        .api_error()
                        .cloned()
                        .unwrap_or_else(|| ErrorObject::new(error.to_string()));
                    for &index in named.iter().rev() {
                        outcome.rejected.push((pending.remove(index), api.clone()));
                    }
                    whole = false;
                }
                Err(error) if error.is_outcome_unknown() => {
                    let Some(token) = token else {
                        return Err(error);
                    };
                    if rounds >= inner.retry.retries() {
                        return Err(error);
                    }
                    tokio::time::sleep(inner.retry.delay(rounds, None)).await;
                    rounds += 1;
                    whole = false;
                    tracing::debug!(group_id, error = %error, "add-runs outcome unknown; reconciling");
                    inner
                        .reconcile(group_id, token, &chunk, &mut pending, &mut outcome.ids)
                        .await?;
                }
                Err(error) => return Err(error),
            }
        }
        outcome.rejected.sort_by_key(|(index, _)| *index);
        Ok(outcome)
    }
}

impl ChunkOutcome {
    /// Records the answer to a request for the `pending` inputs of the chunk; `whole` says
    /// whether that request was the whole chunk (only then are its cursors the chunk's).
    fn record(
        &mut self,
        group_id: &str,
        pending: &[usize],
        response: AddRunsResponse,
        whole: bool,
    ) -> Result<(), Error> {
        if response.run_ids.len() != pending.len() {
            return Err(Error::new(
                Kind::Decode,
                format!(
                    "adding runs to task group {group_id}: the server returned {} run ids for {} \
                     inputs; the runs may exist, check the group before retrying",
                    response.run_ids.len(),
                    pending.len()
                ),
            ));
        }
        for (&i, id) in pending.iter().zip(response.run_ids) {
            self.ids[i] = Some(id);
        }
        self.status = Some(response.status);
        // After reconciling or a rejection, the answer is for part of the chunk only: its
        // cursors are not before the whole chunk.
        if whole {
            self.cursors = Some((response.run_cursor, response.event_cursor));
        }
        Ok(())
    }
}

/// One chunk for [`Client::submit_chunk`].
pub(crate) struct ChunkRequest<'a> {
    pub(crate) group_id: &'a str,
    /// `(position, input)`, at most [`MAX_RUNS_PER_REQUEST`].
    pub(crate) chunk: Vec<(u64, RunInput)>,
    pub(crate) default_task_spec: Option<&'a TaskSpec>,
    /// The token of the client tags; `None` sends the inputs untagged.
    pub(crate) token: Option<&'a str>,
    pub(crate) refresh_status: bool,
    /// Whether a `422` naming some inputs drops those inputs (reported in
    /// [`ChunkOutcome::rejected`]) and sends the rest again, instead of failing.
    pub(crate) reject_invalid: bool,
    /// Whether an earlier attempt may have reached the server: look the tags up before
    /// sending anything.
    pub(crate) reconcile_first: bool,
    /// The caller's per-call options, with the deadline computed when the call started.
    pub(crate) per_call: Option<PerCall<'a>>,
    /// Counts the `429` answers the chunk meets.
    pub(crate) throttled: Option<&'a std::sync::Arc<std::sync::atomic::AtomicU64>>,
}

/// A call's per-call options and the deadline they set.
#[derive(Clone, Copy)]
pub(crate) struct PerCall<'a> {
    pub(crate) options: &'a RequestOptions,
    pub(crate) deadline: Option<Deadline>,
}

/// The wire shape of [`AddRunsRequest`](parallel_types::AddRunsRequest), borrowed: a chunk of
/// a thousand inputs is written as it is, not copied first.
#[derive(serde::Serialize)]
struct AddRunsBody<'a> {
    inputs: &'a [&'a RunInput],
    #[serde(skip_serializing_if = "Option::is_none")]
    default_task_spec: Option<&'a TaskSpec>,
}

/// The inputs a `422` answer names, as indexes into the `count` inputs of its request, in
/// ascending order; empty when the answer names none (the request as a whole was refused).
///
/// The location is read from the error detail in either shape the API uses
/// (`{"loc": "inputs[3].processor"}` or `FastAPI`'s `[{"loc": ["body", "inputs", 3, ..]}]`),
/// else from the message.
pub(crate) fn rejected_inputs(error: &Error, count: usize) -> Vec<usize> {
    if error.status().map(|s| s.as_u16()) != Some(422) {
        return Vec::new();
    }
    let Some(api) = error.api_error() else {
        return Vec::new();
    };
    let mut named = Vec::new();
    collect_input_indexes(api.detail.as_ref(), &mut named);
    if named.is_empty() {
        named.extend(indexes_in_text(&api.message));
    }
    named.retain(|&i| i < count);
    named.sort_unstable();
    named.dedup();
    named
}

fn collect_input_indexes(detail: Option<&serde_json::Value>, out: &mut Vec<usize>) {
    use serde_json::Value;
    match detail {
        Some(Value::Array(items)) => {
            for item in items {
                collect_input_indexes(Some(item), out);
            }
        }
        Some(Value::Object(map)) => match map.get("loc") {
            Some(Value::String(loc)) => out.extend(indexes_in_text(loc)),
            Some(Value::Array(path)) => {
                let index = path.windows(2).find_map(|pair| match pair {
                    [Value::String(key), Value::Number(n)] if key == "inputs" => n.as_u64(),
                    _ => None,
                });
                out.extend(index.and_then(|i| usize::try_from(i).ok()));
            }
            _ => {}
        },
        _ => {}
    }
}

/// Every `inputs[N]` in `text`.
fn indexes_in_text(text: &str) -> impl Iterator<Item = usize> + '_ {
    text.match_indices("inputs[").filter_map(|(at, key)| {
        let rest = &text[at + key.len()..];
        let end = rest.find(']')?;
        rest[..end].parse().ok()
    })
}

impl Inner {
    /// The add-runs request for `inputs`.
    fn add_runs_call(
        self: &std::sync::Arc<Self>,
        group_id: &str,
        inputs: &[&RunInput],
        default_task_spec: Option<&TaskSpec>,
        refresh_status: bool,
    ) -> Result<Call, Error> {
        let request = AddRunsBody {
            inputs,
            default_task_spec,
        };
        let body = to_body(&request, "the add-runs request")?;
        let mut path = self.group_path(Some(group_id)).segment("runs");
        if !refresh_status {
            path = path.query("refresh_status", "false");
        }
        let what = format!("adding {} runs to task group {group_id}", inputs.len());
        let mut call = Call::post(self, what, path.build(), body, Effect::CreatesWork);
        call.betas = beta::for_inputs(&[], inputs.iter().copied());
        Ok(call)
    }

    /// Looks up which of the `pending` inputs of `chunk` already have a run (an earlier
    /// attempt reached the server), records their ids and keeps only the others pending.
    async fn reconcile(
        self: &std::sync::Arc<Self>,
        group_id: &str,
        token: &str,
        chunk: &[(u64, RunInput)],
        pending: &mut Vec<usize>,
        ids: &mut [Option<String>],
    ) -> Result<(), Error> {
        let wanted: HashMap<u64, usize> = pending.iter().map(|&i| (chunk[i].0, i)).collect();
        for (i, id) in self.find_tagged_runs(group_id, token, &wanted).await? {
            ids[i] = Some(id);
        }
        pending.retain(|&i| ids[i].is_none());
        Ok(())
    }

    /// Streams a group's runs and returns `(index, run_id)` for every run whose tag has `token`
    /// and a position in `wanted` (position -> index). The first run of a tag wins.
    pub(crate) async fn find_tagged_runs(
        self: &std::sync::Arc<Self>,
        group_id: &str,
        token: &str,
        wanted: &HashMap<u64, usize>,
    ) -> Result<Vec<(usize, String)>, Error> {
        let mut session = self.group_runs_session(group_id, &GroupRunsOptions::default());
        let mut found: HashMap<usize, String> = HashMap::new();
        loop {
            let event = match session.next_frame().await? {
                Frame::End if session.ended_after_moving() => continue,
                Frame::End => break,
                Frame::Event(event) => event,
            };
            let kind = event.kind().unwrap_or_default();
            if kind != "task_run.state" {
                if kind == "error" {
                    let error = Error::new(
                        Kind::Connection,
                        format!("{} reported an error while reconciling", session.what()),
                    );
                    session.interrupted(error).await?;
                }
                continue;
            }
            let tagged: TaggedRun<'_> = decode(event.data(), "a run while reconciling")?;
            if let Some(position) = tagged
                .run
                .client_tag()
                .and_then(|tag| tag_position(&tag, token))
                && let Some(&index) = wanted.get(&position)
            {
                found
                    .entry(index)
                    .or_insert_with(|| tagged.run.run_id.clone().into_owned());
            }
            session.delivered(event.event_id());
        }
        Ok(found.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_borrowed_body_is_the_add_runs_request_on_the_wire() {
        let mut with_metadata = RunInput::new(serde_json::json!({"name": "Acme"}), "lite");
        with_metadata.metadata = Some(
            serde_json::from_value(serde_json::json!({"row": 3, "client_tag": "t:3"})).unwrap(),
        );
        let inputs = vec![RunInput::new("a question", "core-fast"), with_metadata];
        let spec = TaskSpec::text("The CEO's name");
        for default_task_spec in [None, Some(&spec)] {
            let refs: Vec<&RunInput> = inputs.iter().collect();
            let borrowed = serde_json::to_vec(&AddRunsBody {
                inputs: &refs,
                default_task_spec,
            })
            .unwrap();
            let mut owned = parallel_types::AddRunsRequest::new(inputs.clone());
            owned.default_task_spec = default_task_spec.cloned();
            assert_eq!(borrowed, serde_json::to_vec(&owned).unwrap());
        }
    }

    #[test]
    fn tags_round_trip_and_reject_other_tokens() {
        let tag = ClientTag::new("abc", 42).to_string();
        assert_eq!(tag, "abc:42");
        assert_eq!(ClientTag::parse(&tag), Some(ClientTag::new("abc", 42)));
        assert_eq!(tag_position(&tag, "abc"), Some(42));
        assert_eq!(tag_position(&tag, "ab"), None);
        assert_eq!(tag_position("abc:x", "abc"), None);
        assert_eq!(tag_position("abcd:1", "abc"), None);
        // Tokens may themselves contain colons.
        assert_eq!(tag_position("a:b:7", "a:b"), Some(7));
    }

    #[test]
    fn tokens_are_checked() {
        assert!(check_token("run-2026").is_ok());
        for bad in ["", "a\nb", &"x".repeat(200)] {
            assert!(check_token(bad).unwrap_err().is_config());
        }
        let a = random_token();
        assert_eq!(a.len(), 16);
        assert_ne!(a, random_token());
    }

    #[test]
    fn tagging_keeps_the_callers_metadata() {
        let mut input = RunInput::new("x", "lite");
        let mut meta = parallel_types::Metadata::new();
        meta.insert("row".into(), MetadataValue::Integer(3));
        input = input.with_metadata(meta);
        apply_tag(&mut input, "t", 9).unwrap();
        let meta = input.metadata.unwrap();
        assert_eq!(meta.get("row"), Some(&MetadataValue::Integer(3)));
        assert_eq!(
            meta.get(CLIENT_TAG_KEY),
            Some(&MetadataValue::String("t:9".into()))
        );
    }

    #[test]
    fn the_tag_is_read_from_a_run_event() {
        let event = br#"{"type":"task_run.state","event_id":"3","run":{"run_id":"trun_1","status":"completed","metadata":{"row":1,"client_tag":"tok:5"}},"input":null}"#;
        let tagged: TaggedRun<'_> = serde_json::from_slice(event).unwrap();
        assert_eq!(tagged.run.run_id, "trun_1");
        assert_eq!(tagged.run.client_tag().as_deref(), Some("tok:5"));
        let untagged: TaggedRun<'_> = serde_json::from_slice(
            br#"{"run":{"run_id":"trun_2","status":"queued","metadata":{"client_tag":7}}}"#,
        )
        .unwrap();
        assert_eq!(untagged.run.client_tag(), None);
        let no_meta: TaggedRun<'_> = serde_json::from_slice(
            br#"{"run":{"run_id":"trun_3","status":"failed","metadata":null}}"#,
        )
        .unwrap();
        assert_eq!(no_meta.run.client_tag(), None);
    }
}
