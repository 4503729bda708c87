//! The lifecycle simulation: when each run starts and finishes, and the timer task that moves
//! runs along.
//!
//! All pending transitions sit in one min-heap served by one task. Transitions that fall due
//! together are applied per group under a single lock, followed by one `task_group_status`
//! event, so a burst of completions costs one status event rather than one per run.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::{Arc, Mutex};

use tokio::sync::{Notify, watch};

use crate::clock::{Clock, Micros};
use crate::processor::Processor;
use crate::rng::{DetRng, combine};
use crate::state::{Group, Status};

/// The planned life of one run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Plan {
    pub(crate) running_at: Micros,
    pub(crate) done_at: Micros,
    pub(crate) fails: bool,
}

/// Plans a run created at `now`: latency drawn from the processor's range with a generator
/// seeded by the seed and the input (so the same input takes the same time), scaled by
/// `time_scale`; failure drawn from the seed and the run's own number.
pub(crate) fn plan(
    seed: u64,
    input_hash: u64,
    run_number: u64,
    processor: Processor,
    time_scale: f64,
    fail_rate: f64,
    now: Micros,
) -> Plan {
    let mut latency_rng = DetRng::new(combine(seed, input_hash));
    let (lo, hi) = processor.latency_secs();
    let secs = f64::from(lo) + f64::from(hi - lo) * latency_rng.unit();
    #[allow(clippy::cast_possible_truncation)]
    let total = (secs * 1e6 * time_scale).clamp(0.0, 1e15) as Micros;
    // About a tenth of the time is spent queued.
    let queued = total / 10;
    let mut fail_rng = DetRng::new(combine(seed ^ 0x6661_696c, run_number));
    Plan {
        running_at: now + queued,
        done_at: now + total,
        fails: fail_rng.chance(fail_rate),
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

/// Pending transitions and the task that applies them.
pub(crate) struct Scheduler {
    heap: Mutex<BinaryHeap<Reverse<Pending>>>,
    seq: std::sync::atomic::AtomicU64,
    wake: Notify,
    clock: Clock,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler").finish_non_exhaustive()
    }
}

impl Scheduler {
    pub(crate) fn new(clock: Clock) -> Scheduler {
        Scheduler {
            heap: Mutex::new(BinaryHeap::new()),
            seq: std::sync::atomic::AtomicU64::new(0),
            wake: Notify::new(),
            clock,
        }
    }

    /// Schedules the transitions of runs `first..first + plans.len()` of `group`.
    pub(crate) fn schedule(&self, group: &Arc<Group>, first: usize, plans: &[(Plan, Status)]) {
        let mut heap = self
            .heap
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (offset, (plan, end)) in plans.iter().enumerate() {
            let Ok(index) = u32::try_from(first + offset) else {
                continue;
            };
            for (due, to) in [(plan.running_at, Status::Running), (plan.done_at, *end)] {
                let seq = self.seq.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                heap.push(Reverse(Pending {
                    due,
                    seq,
                    group: Arc::clone(group),
                    index,
                    to,
                }));
            }
        }
        drop(heap);
        self.wake.notify_one();
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

    /// Applies every transition due now; returns when the next one is due.
    fn apply_due(&self) -> Option<Micros> {
        let now = self.clock.now();
        let mut due = Vec::new();
        let next = {
            let mut heap = self
                .heap
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            while heap.peek().is_some_and(|p| p.0.due <= now) {
                if let Some(Reverse(p)) = heap.pop() {
                    due.push(p);
                }
            }
            heap.peek().map(|p| p.0.due)
        };
        // Group the batch by group, keeping due order within each group.
        due.sort_by_key(|p| (Arc::as_ptr(&p.group) as usize, p.due, p.seq));
        let mut start = 0;
        while start < due.len() {
            let group = Arc::clone(&due[start].group);
            let end = due[start..]
                .iter()
                .position(|p| !Arc::ptr_eq(&p.group, &group))
                .map_or(due.len(), |n| start + n);
            let logged = group.id.is_some();
            let mut changed = false;
            {
                let mut inner = group.lock();
                for p in &due[start..end] {
                    changed |= inner.transition(p.index as usize, p.to, p.due, logged);
                }
                if changed && logged {
                    inner.push_status_event();
                }
            }
            if changed {
                group.changed.notify_waiters();
            }
            start = end;
        }
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_are_deterministic_and_scaled() {
        let p = Processor::from_name("lite").unwrap();
        let a = plan(7, 42, 1, p, 0.01, 0.0, 1_000);
        let b = plan(7, 42, 1, p, 0.01, 0.0, 1_000);
        assert_eq!((a.running_at, a.done_at), (b.running_at, b.done_at));
        // lite takes 10–60 s; scaled by 0.01 that is 0.1–0.6 s.
        let total = a.done_at - 1_000;
        assert!((100_000..=600_000).contains(&total), "{total}");
        assert!(a.running_at <= a.done_at);
        let instant = plan(7, 42, 1, p, 0.0, 0.0, 1_000);
        assert_eq!(instant.done_at, 1_000);
        let fails = (0..1000)
            .filter(|n| plan(7, 1, *n, p, 0.0, 0.25, 0).fails)
            .count();
        assert!((150..350).contains(&fails), "{fails}");
        assert!((0..100).all(|n| !plan(7, 1, n, p, 0.0, 0.0, 0).fails));
    }
}
