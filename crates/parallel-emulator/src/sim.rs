//! The lifecycle simulation: when each run starts and finishes, and the timer task that moves
//! runs along.
//!
//! All pending transitions sit in one min-heap served by one task. A run waits `queued` for at
//! least a tenth of its time, then for a free slot: at most [`Scheduler::capacity`] runs of
//! the account are `running` at once, started in the order they became ready, so a large group
//! moves queued -> running -> finished over time, and out of order. Transitions that fall due
//! together are applied under one pass, followed by one `task_group_status` event per group
//! changed, so a burst of completions costs one status event rather than one per run.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::sync::{Arc, Mutex};

use tokio::sync::{Notify, watch};

use crate::clock::{Clock, Micros};
use crate::processor::Processor;
use crate::rng::{DetRng, combine};
use crate::state::{Group, Status};

/// How runs end, as shares of all runs (each between 0 and 1, together at most 1); the rest
/// complete.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Endings {
    pub(crate) failed: f64,
    pub(crate) cancelled: f64,
    pub(crate) action_required: f64,
}

/// The planned life of one run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Plan {
    /// When it may start running, at the earliest (a free slot may come later).
    pub(crate) running_at: Micros,
    /// When it ends if it starts at `running_at`.
    pub(crate) done_at: Micros,
    /// The status it ends in: `completed`, `failed`, `cancelled` or `action_required`.
    pub(crate) end: Status,
}

/// Plans a run created at `now`: latency drawn from the processor's range with a generator
/// seeded by the seed and the input (so the same input takes the same time), scaled by
/// `time_scale`; the ending drawn from the seed and the run's own number.
pub(crate) fn plan(
    seed: u64,
    input_hash: u64,
    run_number: u64,
    processor: Processor,
    time_scale: f64,
    endings: Endings,
    now: Micros,
) -> Plan {
    let mut latency_rng = DetRng::new(combine(seed, input_hash));
    let (lo, hi) = processor.latency_secs();
    let secs = f64::from(lo) + f64::from(hi - lo) * latency_rng.unit();
    #[allow(clippy::cast_possible_truncation)]
    let total = (secs * 1e6 * time_scale).clamp(0.0, 1e15) as Micros;
    // About a tenth of the time is spent queued.
    let queued = total / 10;
    // One roll, in bands: a given fail rate fails the same runs whatever the other shares.
    let roll = DetRng::new(combine(seed ^ 0x6661_696c, run_number)).unit();
    let bands = [
        (endings.failed, Status::Failed),
        (endings.cancelled, Status::Cancelled),
        (endings.action_required, Status::ActionRequired),
    ];
    let mut end = Status::Completed;
    let mut edge = 0.0;
    for (share, status) in bands {
        edge += share;
        if share > 0.0 && roll < edge {
            end = status;
            break;
        }
    }
    Plan {
        running_at: now + queued,
        done_at: now + total,
        end,
    }
}

struct Pending {
    due: Micros,
    seq: u64,
    group: Arc<Group>,
    index: u32,
    to: Status,
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        (self.due, self.seq) == (other.due, other.seq)
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Pending {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.due, self.seq).cmp(&(other.due, other.seq))
    }
}

/// Runs ready to start (with when they became ready), how many run now, and when a slot
/// was last freed: a run starts when it is ready and a slot is free, whichever comes last.
#[derive(Debug, Default)]
struct Slots {
    running: usize,
    ready: VecDeque<(Arc<Group>, u32, Micros)>,
    freed_at: Micros,
}

/// Pending transitions and the task that applies them.
pub(crate) struct Scheduler {
    heap: Mutex<BinaryHeap<Reverse<Pending>>>,
    seq: std::sync::atomic::AtomicU64,
    wake: Notify,
    clock: Clock,
    /// Most runs `running` at once; `None` for no limit.
    capacity: Option<usize>,
    slots: Mutex<Slots>,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler")
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl Scheduler {
    pub(crate) fn new(clock: Clock, capacity: Option<usize>) -> Scheduler {
        Scheduler {
            heap: Mutex::new(BinaryHeap::new()),
            seq: std::sync::atomic::AtomicU64::new(0),
            wake: Notify::new(),
            clock,
            capacity,
            slots: Mutex::new(Slots::default()),
        }
    }

    /// Schedules the start of runs `first..first + count` of `group`, each at its planned
    /// `running_at` (it then waits for a slot).
    pub(crate) fn schedule(&self, group: &Arc<Group>, first: usize, plans: &[Plan]) {
        let mut heap = lock(&self.heap);
        for (offset, plan) in plans.iter().enumerate() {
            let Ok(index) = u32::try_from(first + offset) else {
                continue;
            };
            self.push(&mut heap, plan.running_at, group, index, Status::Running);
        }
        drop(heap);
        self.wake.notify_one();
    }

    fn push(
        &self,
        heap: &mut BinaryHeap<Reverse<Pending>>,
        due: Micros,
        group: &Arc<Group>,
        index: u32,
        to: Status,
    ) {
        let seq = self.seq.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        heap.push(Reverse(Pending {
            due,
            seq,
            group: Arc::clone(group),
            index,
            to,
        }));
    }

    /// Applies transitions as they fall due until `shutdown` flips.
    pub(crate) async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        loop {
            let next = self.apply_due();
            let sleep = async {
                match next {
                    Some(due) => tokio::time::sleep_until(self.clock.instant_at(due)).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = sleep => {}
                () = self.wake.notified() => {}
                _ = shutdown.changed() => return,
            }
        }
    }

    /// Applies every transition due now (and those they make due now, such as a run started
    /// in a slot another run freed); returns when the next one is due.
    fn apply_due(&self) -> Option<Micros> {
        let now = self.clock.now();
        let mut changed: Vec<Arc<Group>> = Vec::new();
        loop {
            let due = {
                let mut heap = lock(&self.heap);
                let mut due = Vec::new();
                while heap.peek().is_some_and(|p| p.0.due <= now) {
                    if let Some(Reverse(p)) = heap.pop() {
                        due.push(p);
                    }
                }
                due
            };
            if due.is_empty() {
                break;
            }
            for p in due {
                if p.to == Status::Running {
                    lock(&self.slots)
                        .ready
                        .push_back((Arc::clone(&p.group), p.index, p.due));
                } else if self.finish(&p) {
                    let mut slots = lock(&self.slots);
                    slots.running -= 1;
                    slots.freed_at = slots.freed_at.max(p.due);
                }
                note_changed(&mut changed, &p.group);
            }
            self.start_ready(&mut changed);
        }
        for group in changed {
            if group.id.is_some() {
                group.lock().push_status_event();
            }
            group.changed.notify_waiters();
        }
        lock(&self.heap).peek().map(|p| p.0.due)
    }

    /// Starts ready runs while slots are free, and plans how each ends.
    fn start_ready(&self, changed: &mut Vec<Arc<Group>>) {
        loop {
            let (group, index, at) = {
                let mut slots = lock(&self.slots);
                if self.capacity.is_some_and(|cap| slots.running >= cap) {
                    return;
                }
                let Some((group, index, ready_at)) = slots.ready.pop_front() else {
                    return;
                };
                slots.running += 1;
                (group, index, ready_at.max(slots.freed_at))
            };
            let logged = group.id.is_some();
            let ending = group.lock().start(index as usize, at, logged);
            match ending {
                Some((done_at, end)) => {
                    let to = if end == Status::Cancelled {
                        Status::Cancelling
                    } else {
                        end
                    };
                    self.push(&mut lock(&self.heap), done_at, &group, index, to);
                }
                // Not startable (it cannot happen: runs never leave a final status early).
                None => lock(&self.slots).running -= 1,
            }
            note_changed(changed, &group);
        }
    }

    /// Applies a final transition; returns whether it freed a slot (the run stopped being
    /// active). A run being cancelled stays `cancelling` for a tenth of its time first.
    fn finish(&self, p: &Pending) -> bool {
        let logged = p.group.id.is_some();
        let mut inner = p.group.lock();
        if !inner.transition(p.index as usize, p.to, p.due, logged) {
            return false;
        }
        if p.to == Status::Cancelling {
            let tail = inner.runs[p.index as usize].span() / 10;
            drop(inner);
            self.push(
                &mut lock(&self.heap),
                p.due + tail,
                &p.group,
                p.index,
                Status::Cancelled,
            );
            return false;
        }
        !p.to.is_active()
    }
}

fn note_changed(changed: &mut Vec<Arc<Group>>, group: &Arc<Group>) {
    if !changed.iter().any(|g| Arc::ptr_eq(g, group)) {
        changed.push(Arc::clone(group));
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_are_deterministic_and_scaled() {
        let p = Processor::from_name("lite").unwrap();
        let none = Endings::default();
        let a = plan(7, 42, 1, p, 0.01, none, 1_000);
        let b = plan(7, 42, 1, p, 0.01, none, 1_000);
        assert_eq!((a.running_at, a.done_at), (b.running_at, b.done_at));
        // lite takes 10–60 s; scaled by 0.01 that is 0.1–0.6 s.
        let total = a.done_at - 1_000;
        assert!((100_000..=600_000).contains(&total), "{total}");
        assert!(a.running_at <= a.done_at);
        let instant = plan(7, 42, 1, p, 0.0, none, 1_000);
        assert_eq!(instant.done_at, 1_000);
        let fails = Endings {
            failed: 0.25,
            ..Endings::default()
        };
        let failed = (0..1000)
            .filter(|n| plan(7, 1, *n, p, 0.0, fails, 0).end == Status::Failed)
            .count();
        assert!((150..350).contains(&failed), "{failed}");
        assert!((0..100).all(|n| plan(7, 1, n, p, 0.0, none, 0).end == Status::Completed));
    }

    #[test]
    fn every_ending_is_drawn_in_its_share_and_the_fail_rate_fails_the_same_runs() {
        let p = Processor::from_name("lite").unwrap();
        let all = Endings {
            failed: 0.2,
            cancelled: 0.2,
            action_required: 0.2,
        };
        let fails_only = Endings {
            failed: 0.2,
            ..Endings::default()
        };
        let mut counts = std::collections::HashMap::new();
        for n in 0..3000 {
            let end = plan(7, 1, n, p, 0.0, all, 0).end;
            *counts.entry(end.as_str()).or_insert(0) += 1;
            let failed_alone = plan(7, 1, n, p, 0.0, fails_only, 0).end == Status::Failed;
            assert_eq!(end == Status::Failed, failed_alone, "run {n}");
        }
        for status in ["completed", "failed", "cancelled", "action_required"] {
            let n = counts.get(status).copied().unwrap_or(0);
            let expected = if status == "completed" { 1200 } else { 600 };
            assert!(
                n > expected * 8 / 10 && n < expected * 12 / 10,
                "{status}: {n}"
            );
        }
    }
}
