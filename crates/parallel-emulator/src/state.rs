//! The emulator's memory: groups, runs and each group's event log.
//!
//! Each group keeps its runs in add order behind one mutex, together with the status counts
//! and the event log, so a count, an `is_active` flag and the event that reports them are
//! always changed together. Critical sections only copy or update plain data; JSON is written
//! outside the lock. A run costs its input's JSON bytes plus about 120 bytes; outputs are not
//! stored but generated again from the seed, the input and the spec whenever they are read.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use bytes::Bytes;
use tokio::sync::Notify;

use crate::clock::Micros;
use crate::ids::{GroupId, RunId};
use crate::processor::Processor;
use crate::spec::Spec;

/// A run status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    Queued,
    ActionRequired,
    Running,
    Completed,
    Failed,
    Cancelling,
    Cancelled,
}

impl Status {
    pub(crate) const ALL: [Status; 7] = [
        Status::Queued,
        Status::ActionRequired,
        Status::Running,
        Status::Completed,
        Status::Failed,
        Status::Cancelling,
        Status::Cancelled,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Status::Queued => "queued",
            Status::ActionRequired => "action_required",
            Status::Running => "running",
            Status::Completed => "completed",
            Status::Failed => "failed",
            Status::Cancelling => "cancelling",
            Status::Cancelled => "cancelled",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Active per the API: queued, running or cancelling (`action_required` is not).
    pub(crate) fn is_active(self) -> bool {
        matches!(self, Status::Queued | Status::Running | Status::Cancelling)
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// One run. Cloning is cheap (reference-counted input and spec).
#[derive(Debug, Clone)]
pub(crate) struct Run {
    pub(crate) id: RunId,
    pub(crate) status: Status,
    pub(crate) processor: Processor,
    pub(crate) events_enabled: bool,
    /// Decided at creation: the status the run ends in (`completed`, `failed`, `cancelled`
    /// or `action_required`).
    pub(crate) end: Status,
    pub(crate) created_at: Micros,
    pub(crate) modified_at: Micros,
    /// Times of the `running` and final transitions: planned at creation, set again when the
    /// run gets a slot and starts.
    pub(crate) running_at: Micros,
    pub(crate) done_at: Micros,
    /// The group's change number when the run last changed (the runs stream's order in
    /// change-order mode).
    pub(crate) change: u64,
    /// The run's `TaskRunInput` as the API echoes it (compact JSON), except that the common
    /// tail of all-null optional fields is left out when `null_tail` is set: it is the same
    /// for most runs and would otherwise be a quarter of a run's memory.
    pub(crate) input: Bytes,
    pub(crate) null_tail: bool,
    /// Byte ranges of the `input` value and of the `metadata` value inside `input`.
    pub(crate) input_range: (u32, u32),
    pub(crate) metadata_range: Option<(u32, u32)>,
    pub(crate) spec: Arc<Spec>,
    /// The lenient shape this run shows, in lenient mode.
    pub(crate) lenient: Option<crate::lenient::Variation>,
}

/// The optional `TaskRunInput` fields, all null, closing the object.
pub(crate) const NULL_TAIL: &[u8] = b",\"source_policy\":null,\"advanced_settings\":null,\"task_spec\":null,\"previous_interaction_id\":null,\"mcp_servers\":null,\"enable_events\":null,\"webhook\":null}";

impl Run {
    /// Appends the run's `TaskRunInput` JSON.
    pub(crate) fn write_input(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.input);
        if self.null_tail {
            out.extend_from_slice(NULL_TAIL);
        }
    }

    /// How long the run runs once started.
    pub(crate) fn span(&self) -> Micros {
        (self.done_at - self.running_at).max(0)
    }

    /// Whether it ended (or will end) in a status other than `completed`.
    pub(crate) fn fails(&self) -> bool {
        self.end != Status::Completed
    }

    pub(crate) fn input_value_json(&self) -> &[u8] {
        slice(&self.input, self.input_range)
    }

    pub(crate) fn metadata_json(&self) -> Option<&[u8]> {
        self.metadata_range.map(|r| slice(&self.input, r))
    }
}

fn slice(bytes: &Bytes, (start, end): (u32, u32)) -> &[u8] {
    bytes.get(start as usize..end as usize).unwrap_or(b"null")
}

/// A group's aggregate status at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StatusSnapshot {
    pub(crate) num_task_runs: u64,
    pub(crate) counts: [u64; 7],
    pub(crate) modified_at: Micros,
}

impl StatusSnapshot {
    pub(crate) fn is_active(&self) -> bool {
        Status::ALL
            .iter()
            .any(|s| s.is_active() && self.counts[s.index()] > 0)
    }
}

/// One entry of a group's event log; the event id is the entry's position plus one.
#[derive(Debug, Clone)]
pub(crate) enum LogEntry {
    Status(Box<StatusSnapshot>),
    /// A run (by position in the group) reached a non-active status.
    RunState(u32),
}

/// A copy of a log entry taken under the lock, ready to serialise.
#[derive(Debug)]
pub(crate) enum LoggedEvent {
    Status(StatusSnapshot),
    RunState(Run),
}

/// A group, or the container of runs created outside any group (`id` is `None`).
#[derive(Debug)]
pub(crate) struct Group {
    pub(crate) id: Option<GroupId>,
    pub(crate) created_at: Micros,
    /// The group's `metadata` object as compact JSON.
    pub(crate) metadata: Option<Bytes>,
    inner: Mutex<GroupInner>,
    /// Woken (all waiters) whenever a run changes or events are appended.
    pub(crate) changed: Notify,
}

#[derive(Debug)]
pub(crate) struct GroupInner {
    pub(crate) runs: Vec<Run>,
    /// Changes made to the group's runs so far (additions and transitions).
    pub(crate) changes: u64,
    counts: [u64; 7],
    modified_at: Micros,
    pub(crate) events: Vec<LogEntry>,
}

impl Group {
    fn new(id: Option<GroupId>, created_at: Micros, metadata: Option<Bytes>) -> Group {
        Group {
            id,
            created_at,
            metadata,
            inner: Mutex::new(GroupInner {
                runs: Vec::new(),
                changes: 0,
                counts: [0; 7],
                modified_at: created_at,
                events: Vec::new(),
            }),
            changed: Notify::new(),
        }
    }

    /// Locks the group. A panic while the lock was held cannot leave the plain data in a
    /// state worse than a half-applied update, so a poisoned lock is still used.
    pub(crate) fn lock(&self) -> MutexGuard<'_, GroupInner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl GroupInner {
    pub(crate) fn status(&self) -> StatusSnapshot {
        StatusSnapshot {
            num_task_runs: self.runs.len() as u64,
            counts: self.counts,
            modified_at: self.modified_at,
        }
    }

    /// Appends runs (already in their initial status) and returns the position of the first.
    pub(crate) fn push_runs(&mut self, runs: Vec<Run>, logged: bool, now: Micros) -> usize {
        let first = self.runs.len();
        for mut run in runs {
            self.changes += 1;
            run.change = self.changes;
            self.counts[run.status.index()] += 1;
            let terminal = !run.status.is_active();
            self.runs.push(run);
            if logged && terminal {
                self.push_run_event(self.runs.len() - 1);
            }
        }
        self.modified_at = self.modified_at.max(now);
        if logged {
            self.push_status_event();
        }
        first
    }

    /// Moves the run at `index` to `to` at time `at`; returns whether anything changed.
    /// Runs never leave a final status.
    pub(crate) fn transition(
        &mut self,
        index: usize,
        to: Status,
        at: Micros,
        logged: bool,
    ) -> bool {
        let Some(run) = self.runs.get_mut(index) else {
            return false;
        };
        if run.status == to || !run.status.is_active() {
            return false;
        }
        self.counts[run.status.index()] -= 1;
        self.counts[to.index()] += 1;
        self.changes += 1;
        run.change = self.changes;
        run.status = to;
        run.modified_at = at;
        self.modified_at = self.modified_at.max(at);
        if logged && !to.is_active() {
            self.push_run_event(index);
        }
        true
    }

    /// Starts the queued run at `index` at time `at`: it runs for its planned span from now.
    /// Returns when it ends and how, or `None` when it is not queued.
    pub(crate) fn start(
        &mut self,
        index: usize,
        at: Micros,
        logged: bool,
    ) -> Option<(Micros, Status)> {
        let run = self.runs.get_mut(index)?;
        if run.status != Status::Queued {
            return None;
        }
        let span = run.span();
        run.running_at = at;
        run.done_at = at + span;
        let ending = (run.done_at, run.end);
        self.transition(index, Status::Running, at, logged);
        Some(ending)
    }

    fn push_run_event(&mut self, index: usize) {
        if let Ok(i) = u32::try_from(index) {
            self.events.push(LogEntry::RunState(i));
        }
    }

    pub(crate) fn push_status_event(&mut self) {
        let status = self.status();
        self.events.push(LogEntry::Status(Box::new(status)));
    }

    /// The positions of the runs changed after change `after`, in the order they last
    /// changed, with their change numbers: the runs stream in change-order mode.
    pub(crate) fn changed_after(&self, after: u64) -> Vec<(u64, usize)> {
        let mut changed: Vec<(u64, usize)> = self
            .runs
            .iter()
            .enumerate()
            .filter(|(_, run)| run.change > after)
            .map(|(i, run)| (run.change, i))
            .collect();
        changed.sort_unstable();
        changed
    }

    /// Copies up to `max` log entries starting at `from` (0-based).
    pub(crate) fn events_from(&self, from: usize, max: usize) -> Vec<LoggedEvent> {
        let end = self.events.len().min(from.saturating_add(max));
        self.events
            .get(from..end)
            .unwrap_or(&[])
            .iter()
            .filter_map(|e| match e {
                LogEntry::Status(s) => Some(LoggedEvent::Status((**s).clone())),
                LogEntry::RunState(i) => self
                    .runs
                    .get(*i as usize)
                    .cloned()
                    .map(LoggedEvent::RunState),
            })
            .collect()
    }
}

/// Every group and run.
#[derive(Debug)]
pub(crate) struct Store {
    groups: RwLock<HashMap<GroupId, Arc<Group>>>,
    runs: RwLock<HashMap<RunId, (Arc<Group>, u32)>>,
    standalone: Arc<Group>,
}

impl Store {
    pub(crate) fn new(now: Micros) -> Store {
        Store {
            groups: RwLock::new(HashMap::new()),
            runs: RwLock::new(HashMap::new()),
            standalone: Arc::new(Group::new(None, now, None)),
        }
    }

    pub(crate) fn create_group(
        &self,
        id: GroupId,
        now: Micros,
        metadata: Option<Bytes>,
    ) -> Arc<Group> {
        let group = Arc::new(Group::new(Some(id), now, metadata));
        write(&self.groups).insert(id, Arc::clone(&group));
        group
    }

    pub(crate) fn group(&self, id: GroupId) -> Option<Arc<Group>> {
        read(&self.groups).get(&id).cloned()
    }

    pub(crate) fn standalone(&self) -> &Arc<Group> {
        &self.standalone
    }

    /// Adds runs to `group` and indexes them. Returns the position of the first new run and
    /// the group status and event-log length from before the add (for the cursors), and the
    /// status after it.
    pub(crate) fn add_runs(&self, group: &Arc<Group>, runs: Vec<Run>, now: Micros) -> AddOutcome {
        let ids: Vec<RunId> = runs.iter().map(|r| r.id).collect();
        let logged = group.id.is_some();
        let (first, events_before, changes_before, status) = {
            let mut inner = group.lock();
            let events_before = inner.events.len();
            let changes_before = inner.changes;
            let first = inner.push_runs(runs, logged, now);
            (first, events_before, changes_before, inner.status())
        };
        {
            let mut index = write(&self.runs);
            for (offset, id) in ids.iter().enumerate() {
                if let Ok(pos) = u32::try_from(first + offset) {
                    index.insert(*id, (Arc::clone(group), pos));
                }
            }
        }
        group.changed.notify_waiters();
        AddOutcome {
            first,
            events_before,
            changes_before,
            status,
        }
    }

    pub(crate) fn run(&self, id: RunId) -> Option<(Arc<Group>, u32)> {
        read(&self.runs).get(&id).cloned()
    }
}

/// What [`Store::add_runs`] reports.
#[derive(Debug)]
pub(crate) struct AddOutcome {
    pub(crate) first: usize,
    pub(crate) events_before: usize,
    /// The group's change count before the add (the runs cursor in change-order mode).
    pub(crate) changes_before: u64,
    pub(crate) status: StatusSnapshot,
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
