//! What the batch knows about its runs in the order the group's runs stream lists them, and
//! the choice of how to read the finished ones: one sweep of the stream, `/result` for a few
//! stragglers, or waiting for more to finish.
//!
//! # The cost model
//!
//! A sweep reads the runs stream filtered to `completed` runs, with outputs, from a cursor to
//! the end of the stream (it never stops early: a server keeps writing into the socket after
//! a client stops reading, and those bytes are paid for too). Everything completed after the
//! cursor comes back, including runs already delivered: those are the sweep's *waste*. A run
//! delivered while a run before it in the stream is still going will be read again by the
//! sweep that eventually delivers that earlier run: that is *debt*, waste to come.
//!
//! The budget (DESIGN.md, the engine's contract) is at most one result-reading request per
//! 100 rows plus one per 10 s of the job, and at most 1.5x the bytes of one full runs stream,
//! that is at most half a stream of waste. [`Ledger::plan`] takes a sweep once the oldest
//! reported run has waited [`Ledger::lag_goal`] (a quarter of the runs' observed latency), if
//! its waste plus the debt it leaves fits the waste budget and a request is due; otherwise it
//! waits for more runs to finish, which makes the next sweep cheaper per run. Runs at the front
//! of the stream that hold a sweep's start back (stragglers) are read with `/result` when
//! requests allow. Once no run is going any more, the rest is read whatever it costs.
//!
//! # What the design assumes
//!
//! The API documents that `run_cursor` (of an add-runs answer) is "positioned just before the
//! runs of that add call", that a stream resumes after the event whose id it is given, and the
//! `status` filter. It does not document the order of the runs stream. The ledger assumes it is
//! the order runs were added (which the `run_cursor` wording implies), and stays correct when it
//! is not: a run reported completed that a sweep starting before it did not bring back is read
//! with `/result`.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;
use std::time::Duration;

use tokio::time::Instant;

/// Rows each result-reading request may serve, at least (the budget's "one per 100 rows").
const ROWS_PER_REQUEST: f64 = 100.0;
/// Seconds of the job each result-reading request may take (the budget's "one per 10 s").
const SECS_PER_REQUEST: f64 = 10.0;
/// Requests any job may make (its events stream and one sweep).
const FIRST_REQUESTS: f64 = 2.0;
/// Of the waste allowed ([`BatchOptions::reread`](super::BatchOptions::reread)), the share
/// spent while runs are going: the rest is kept for the runs read when no run is going any
/// more, whatever they cost.
const SPENDABLE: f64 = 0.9;
/// The least and most a reported run waits for others to be read with it.
const MIN_LAG_GOAL: Duration = Duration::from_millis(50);
const MAX_LAG_GOAL: Duration = Duration::from_secs(5);
/// With no run going, a reported run that has waited this long is read even when the
/// requests of the budget are spent.
const SETTLED_WAIT: Duration = Duration::from_secs(2);
/// A reported run that has waited this long is read even over budget.
const MAX_WAIT: Duration = Duration::from_secs(120);
/// The most stragglers considered for `/result` in one plan.
const MAX_STRAGGLERS: usize = 64;
/// How often a plan is weighed again while runs are going, at least and at most.
const RECHECK_MIN: Duration = Duration::from_millis(20);
const RECHECK_MAX: Duration = Duration::from_millis(500);
/// What a request is worth in runs read again: a straggler is read on its own only when that
/// saves a sweep at least this much waste. (The budget gives a request per 100 rows and half
/// a run of waste per row: a request is worth 50 runs of waste; half of that leaves requests
/// for the sweeps.)
const REQUEST_WORTH: u64 = 25;

/// One run of the batch, by its place in the runs stream.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Slot {
    /// Submitted and not reported finished.
    Going,
    /// Reported completed by the events stream, not read yet.
    Reported { at: Instant },
    /// Being read on its own with `/result`.
    Fetching,
    /// Delivered; `completed` runs are what a `completed` sweep reads again.
    Delivered { completed: bool },
}

/// Where the runs of an add call start in the runs stream.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RunsStart {
    /// After this cursor (`None`: at the stream's start): the call's `run_cursor`.
    After(Option<String>),
    /// Not known: the runs were found by reconciling, not by an answer for the whole call.
    Unknown,
}

/// How the next results are read.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Plan {
    /// Runs (by stream place) to read with `/result`.
    pub(crate) fetch: Vec<u64>,
    /// A sweep: the stream place it starts at and the cursor to start from.
    pub(crate) sweep: Option<(u64, Option<String>)>,
}

/// The runs of a batch in stream order, from its low-water mark on, and what reading them
/// has cost.
#[derive(Debug)]
pub(crate) struct Ledger {
    slots: BTreeMap<u64, Slot>,
    /// How many slots are going, and the reported ones by report time: kept beside the slots
    /// so that the loop asks them in constant or logarithmic time.
    going: usize,
    reports: BTreeSet<(Instant, u64)>,
    /// The reported places, in stream order.
    reported: BTreeSet<u64>,
    /// Cursors by the first stream place a read from them yields (or an earlier one).
    cursors: BTreeMap<u64, Option<String>>,
    next_place: u64,
    started: Instant,
    /// Runs submitted or found (the rows of the budget).
    rows: u64,
    requests: u64,
    /// Completed runs read again, in runs.
    waste: u64,
    /// The runs' observed latency, submission to report (a moving average).
    latency: Option<Duration>,
    /// A plan refused while runs are going is not weighed again before this.
    recheck_at: Instant,
    /// Runs that may be read again, per row.
    reread: f64,
    /// The place and event id of the run the sweep under way read last.
    last_read: Option<(u64, String)>,
}

impl Ledger {
    /// A ledger that may read again `reread` runs per row.
    pub(crate) fn new(reread: f64) -> Self {
        Self {
            reread,
            last_read: None,
            slots: BTreeMap::new(),
            going: 0,
            reports: BTreeSet::new(),
            reported: BTreeSet::new(),
            cursors: BTreeMap::new(),
            next_place: 0,
            started: Instant::now(),
            rows: 0,
            requests: 0,
            waste: 0,
            latency: None,
            recheck_at: Instant::now(),
        }
    }

    /// Places of new runs start at `next` (after the runs an earlier session left), and a read
    /// from `cursor` yields them (the cursor after the earlier runs).
    pub(crate) fn start_after(&mut self, next: u64, cursor: Option<String>) {
        self.next_place = next;
        if next > 0 {
            self.cursors.insert(next, cursor);
        }
    }

    /// Places for `count` runs just added, in order (where they start, when known; else
    /// earlier cursors serve).
    pub(crate) fn added(&mut self, count: usize, start: RunsStart) -> u64 {
        let first = self.next_place;
        if let RunsStart::After(cursor) = start {
            self.cursors.insert(first, cursor.filter(|c| !c.is_empty()));
        }
        for place in first..first + count as u64 {
            self.set(place, Slot::Going);
        }
        self.next_place += count as u64;
        self.rows += count as u64;
        first
    }

    /// A run an earlier session added, found at `place` by a scan that read `cursor` just
    /// before it. Places of later runs continue after the highest such place.
    pub(crate) fn found(&mut self, place: u64, cursor: Option<String>, finished: bool) {
        self.cursors.entry(place).or_insert(cursor);
        let slot = if finished {
            Slot::Reported { at: Instant::now() }
        } else {
            Slot::Going
        };
        self.set(place, slot);
        self.next_place = self.next_place.max(place + 1);
        self.rows += 1;
    }

    /// The run at `place` finished `completed`, `submitted_at` it was sent.
    pub(crate) fn reported(&mut self, place: u64, submitted_at: Option<Instant>) {
        let now = Instant::now();
        if self.slots.get(&place) == Some(&Slot::Going) {
            self.set(place, Slot::Reported { at: now });
            if let Some(sent) = submitted_at {
                let took = now.saturating_duration_since(sent);
                self.latency = Some(match self.latency {
                    Some(avg) => (avg * 7 + took) / 8,
                    None => took,
                });
            }
        }
    }

    /// The run at `place` is read on its own from now on.
    pub(crate) fn fetching(&mut self, place: u64) {
        if self
            .slots
            .get(&place)
            .is_some_and(|slot| !matches!(slot, Slot::Delivered { .. }))
        {
            self.set(place, Slot::Fetching);
        }
    }

    /// The run at `place` was delivered (read, or finished without an output).
    pub(crate) fn delivered(&mut self, place: u64, completed: bool) {
        if self.slots.contains_key(&place) {
            self.set(place, Slot::Delivered { completed });
        }
        self.prune();
    }

    /// A sweep read the run at `place`, with event id `cursor`: a read from there starts after
    /// it. Only the cursors before runs a sweep did not read (runs going, at the time) serve
    /// a later sweep, so a cursor is kept when the next run read is not the next place.
    pub(crate) fn read(&mut self, place: u64, cursor: Option<String>) {
        if let Some((last, _)) = &self.last_read
            && *last + 1 != place
        {
            self.keep_last_read();
        }
        self.last_read = cursor.map(|cursor| (place, cursor));
    }

    /// A sweep ended: the cursor after the last run it read is kept.
    pub(crate) fn sweep_ended(&mut self) {
        self.keep_last_read();
    }

    fn keep_last_read(&mut self) {
        if let Some((place, cursor)) = self.last_read.take()
            && self.slots.contains_key(&(place + 1))
        {
            self.cursors.insert(place + 1, Some(cursor));
        }
    }

    /// A sweep met a completed run already delivered.
    pub(crate) fn read_again(&mut self) {
        self.waste += 1;
    }

    /// One result-reading request was made.
    pub(crate) fn requested(&mut self, n: usize) {
        self.requests += n as u64;
    }

    /// Places reported before `before` and not delivered, from `from` on: what a sweep that
    /// started there at `before` should have brought back.
    pub(crate) fn reported_from(&self, from: u64, before: Instant) -> Vec<u64> {
        self.reported
            .range(from..)
            .filter(|place| {
                matches!(self.slots.get(place), Some(Slot::Reported { at }) if *at <= before)
            })
            .copied()
            .collect()
    }

    /// Whether anything reported waits to be read.
    pub(crate) fn has_reported(&self) -> bool {
        !self.reports.is_empty()
    }

    /// Puts `slot` at `place`, keeping the counts beside the slots.
    fn set(&mut self, place: u64, slot: Slot) {
        match self.slots.insert(place, slot) {
            Some(Slot::Going) => self.going -= 1,
            Some(Slot::Reported { at }) => {
                self.reports.remove(&(at, place));
                self.reported.remove(&place);
            }
            _ => {}
        }
        match slot {
            Slot::Going => self.going += 1,
            Slot::Reported { at } => {
                self.reports.insert((at, place));
                self.reported.insert(place);
            }
            _ => {}
        }
    }

    /// How long a reported run waits for others to be read with it: a quarter of the runs'
    /// observed latency, so that results follow the runs at any time scale.
    pub(crate) fn lag_goal(&self) -> Duration {
        self.latency
            .map_or(MIN_LAG_GOAL, |latency| latency / 4)
            .clamp(MIN_LAG_GOAL, MAX_LAG_GOAL)
    }

    /// Requests the budget allows now: one per 100 rows and one per 10 s, and two to start
    /// with (whatever its size, a job needs its events stream and one sweep).
    fn request_credit(&self) -> f64 {
        #[allow(clippy::cast_precision_loss)]
        let earned = FIRST_REQUESTS
            + self.rows as f64 / ROWS_PER_REQUEST
            + self.started.elapsed().as_secs_f64() / SECS_PER_REQUEST;
        #[allow(clippy::cast_precision_loss)]
        let credit = earned - self.requests as f64;
        credit
    }

    /// When a plan that is not due now may become due without news from the events stream:
    /// the oldest report reaching the lag goal, the requests it needs earned, or its wait
    /// reaching [`MAX_WAIT`]. `None` when nothing waits to be read.
    pub(crate) fn next_check(&self) -> Option<Instant> {
        let oldest = self.oldest_report()?;
        let now = Instant::now();
        let reserve = if self.has_going() { 2.0 } else { 1.0 };
        let missing = (reserve - self.request_credit()).max(0.0);
        let mut earned = now + Duration::from_secs_f64(missing * SECS_PER_REQUEST);
        if !self.has_going() {
            earned = earned.min(oldest + SETTLED_WAIT);
        }
        let due = (oldest + self.lag_goal()).max(earned);
        if due > now {
            return Some(due);
        }
        // Due, and yet waiting: for more runs to finish (events wake the loop), or at most
        // until the oldest has waited its longest.
        Some((oldest + MAX_WAIT).max(now + MIN_LAG_GOAL))
    }

    fn oldest_report(&self) -> Option<Instant> {
        self.reports.first().map(|(at, _)| *at)
    }

    /// How to read what is reported now, or `None` to wait. `busy` is set while a sweep runs.
    pub(crate) fn plan(&mut self) -> Option<Plan> {
        let oldest = self.oldest_report()?;
        let waited = oldest.elapsed();
        let settled = !self.has_going();
        // Weighing a plan walks the runs in flight: while runs are going, not at every turn
        // of the loop.
        let now = Instant::now();
        if !settled && now < self.recheck_at {
            return None;
        }
        self.recheck_at = now + (self.lag_goal() / 2).clamp(RECHECK_MIN, RECHECK_MAX);
        let going = self.first_going();
        let credit = self.request_credit();
        // Before the end, one request is kept for the sweep that reads the rest.
        let reserve = if settled { 1.0 } else { 2.0 };
        // With nothing going, results wait only for requests: a job of many small chunks
        // (each settled at once at time scale 0) would otherwise wait 10 s per sweep. It
        // goes over the budget, by one sweep per SETTLED_WAIT at most.
        let overdrawn = settled && waited >= SETTLED_WAIT;
        if (credit < reserve && !overdrawn) || !(settled || waited >= self.lag_goal()) {
            return None;
        }
        let targets: Vec<u64> = self.reported.iter().copied().collect();
        // Settled with few left: read each on its own, no waste at all.
        #[allow(clippy::cast_precision_loss)]
        if settled && (targets.len() as f64) <= credit - 1.0 {
            return Some(Plan {
                fetch: targets,
                sweep: None,
            });
        }
        let (fetched, cost) = self.cheapest(&targets, going, credit - reserve);
        #[allow(clippy::cast_precision_loss)]
        let allowance = SPENDABLE * self.reread * self.rows as f64 - self.waste as f64;
        #[allow(clippy::cast_precision_loss)]
        let affordable = cost as f64 <= allowance;
        if !(affordable || settled || waited >= MAX_WAIT) {
            return None;
        }
        let (start, cursor) = self.cursor_for(targets[fetched]);
        Some(Plan {
            fetch: targets[..fetched].to_vec(),
            sweep: Some((start, cursor)),
        })
    }

    /// How many of the first `targets` to read on its own (at most `spare` requests' worth)
    /// before sweeping the rest, and what the sweep then reads again and leaves to be read
    /// again: the cheapest, a request counted as [`REQUEST_WORTH`] runs.
    fn cheapest(&self, targets: &[u64], going: Option<u64>, spare: f64) -> (usize, u64) {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let max_fetch = (spare.max(0.0) as usize)
            .min(MAX_STRAGGLERS)
            .min(targets.len() - 1);
        let mut best = (u64::MAX, 0, 0);
        let mut start = self.cursor_start(targets[0]);
        let mut waste = self.delivered_completed_in(start, None);
        for (fetched, &target) in targets.iter().enumerate().take(max_fetch + 1) {
            let next = self.cursor_start(target);
            // Moving the start on spares the runs delivered in between.
            waste -= self.delivered_completed_in(start, Some(next));
            start = next;
            let cost = waste + self.debt_after(going, &targets[fetched..]);
            let score = cost + REQUEST_WORTH * fetched as u64;
            if score < best.0 {
                best = (score, fetched, cost);
            }
            if cost == 0 {
                break; // reading more on their own cannot do better
            }
        }
        (best.1, best.2)
    }

    /// The cursor to read `place` from: the nearest known one at or before it.
    fn cursor_for(&self, place: u64) -> (u64, Option<String>) {
        self.cursors
            .range(..=place)
            .next_back()
            .map_or((0, None), |(start, cursor)| (*start, cursor.clone()))
    }

    /// The place a read for `place` starts at: that of the nearest known cursor before it.
    fn cursor_start(&self, place: u64) -> u64 {
        self.cursors
            .range(..=place)
            .next_back()
            .map_or(0, |(start, _)| *start)
    }

    /// Completed runs already delivered from `start` on (up to `end`): what a sweep from
    /// there reads again.
    fn delivered_completed_in(&self, start: u64, end: Option<u64>) -> u64 {
        let end = end.map_or(Bound::Unbounded, Bound::Excluded);
        self.slots
            .range((Bound::Included(start), end))
            .filter(|(_, slot)| matches!(slot, Slot::Delivered { completed: true }))
            .count() as u64
    }

    /// What the reads still to come will pay for a sweep delivering `targets` now: every
    /// completed run delivered after the first run still going is read again by the sweep
    /// that delivers that run, unless each run going before them is read on its own when it
    /// finishes (a request each). The cheaper of the two.
    fn debt_after(&self, going: Option<u64>, targets: &[u64]) -> u64 {
        let Some(going) = going else {
            return 0;
        };
        let after = (Bound::Excluded(going), Bound::Unbounded);
        let delivered = self
            .slots
            .range(after)
            .filter(|(_, slot)| matches!(slot, Slot::Delivered { completed: true }))
            .count();
        let reread = (delivered + targets.iter().filter(|t| **t > going).count()) as u64;
        let last = self
            .slots
            .iter()
            .rev()
            .find(|(_, slot)| matches!(slot, Slot::Delivered { completed: true }))
            .map_or(0, |(place, _)| *place)
            .max(targets.last().copied().unwrap_or(0));
        let stragglers = if last > going {
            self.slots
                .range(going..last)
                .filter(|(_, slot)| matches!(slot, Slot::Going))
                .count() as u64
        } else {
            0
        };
        reread.min(stragglers * REQUEST_WORTH)
    }

    /// Whether a run is going (submitted and not reported finished).
    pub(crate) fn has_going(&self) -> bool {
        self.going > 0
    }

    fn first_going(&self) -> Option<u64> {
        if self.going == 0 {
            return None;
        }
        self.slots
            .iter()
            .find(|(_, slot)| matches!(slot, Slot::Going))
            .map(|(place, _)| *place)
    }

    /// Forgets the delivered runs before the first one not delivered (no read needs them), and
    /// the cursors before the last one at or before it.
    fn prune(&mut self) {
        while let Some(entry) = self.slots.first_entry() {
            if !matches!(entry.get(), Slot::Delivered { .. }) {
                break;
            }
            entry.remove();
        }
        let low = self
            .slots
            .first_key_value()
            .map_or(self.next_place, |(place, _)| *place);
        while self.cursors.len() > 1 {
            let mut keys = self.cursors.keys();
            let (Some(&first), Some(&second)) = (keys.next(), keys.next()) else {
                break;
            };
            if second > low {
                break;
            }
            self.cursors.remove(&first);
        }
    }

    /// What reading has cost so far: requests, and completed runs read again.
    pub(crate) fn costs(&self) -> (u64, u64) {
        (self.requests, self.waste)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ledger_with(runs: usize) -> Ledger {
        let mut ledger = Ledger::new(0.5);
        ledger.added(runs, RunsStart::After(None));
        ledger
    }

    #[tokio::test(start_paused = true)]
    async fn a_settled_group_is_read_in_one_sweep_from_the_start() {
        let mut ledger = ledger_with(500);
        for place in 0..500 {
            ledger.reported(place, None);
        }
        let plan = ledger.plan().expect("due: nothing is going");
        assert_eq!(plan.sweep, Some((0, None)));
        assert!(plan.fetch.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn runs_still_going_make_reported_ones_wait_for_the_lag_goal() {
        let mut ledger = ledger_with(10);
        ledger.reported(3, None);
        assert_eq!(ledger.plan(), None, "just reported, others going");
        tokio::time::advance(ledger.lag_goal()).await;
        let plan = ledger.plan().expect("due after the lag goal");
        assert_eq!(plan.sweep, Some((0, None)));
    }

    #[tokio::test(start_paused = true)]
    async fn a_sweep_starts_after_the_runs_already_read() {
        let mut ledger = ledger_with(10);
        for place in 0..5 {
            ledger.reported(place, None);
            ledger.read(place, Some(format!("c{place}")));
            ledger.delivered(place, true);
        }
        ledger.sweep_ended();
        ledger.reported(7, None);
        tokio::time::advance(Duration::from_secs(1)).await;
        let plan = ledger.plan().expect("due");
        assert_eq!(plan.sweep, Some((5, Some("c4".into()))), "starts past 0-4");
    }

    #[tokio::test(start_paused = true)]
    async fn waste_over_the_budget_waits_for_more_runs_to_finish() {
        let mut ledger = ledger_with(100);
        // 1..60 delivered; run 0 still going; run 60 reported. A sweep for 60 starts at 0
        // (no cursor past it) and reads 59 runs again: over the 45 allowed, and it leaves debt.
        for place in 1..60 {
            ledger.reported(place, None);
            ledger.delivered(place, true);
        }
        ledger.reported(60, None);
        tokio::time::advance(Duration::from_secs(6)).await;
        assert_eq!(
            ledger.plan(),
            None,
            "waits: too costly while runs are going"
        );
        // Once nothing is going any more, it is read whatever it costs.
        for place in (0..100).filter(|p| !(1..=60).contains(p)) {
            ledger.reported(place, None);
        }
        assert!(ledger.plan().is_some_and(|p| p.sweep.is_some()));
    }

    #[tokio::test(start_paused = true)]
    async fn few_runs_left_when_settled_are_read_each_on_its_own() {
        let mut ledger = ledger_with(1000);
        for place in 0..1000 {
            ledger.reported(place, None);
            if place != 10 && place != 900 {
                ledger.delivered(place, true);
            }
        }
        let plan = ledger.plan().expect("due");
        assert_eq!(plan.fetch, vec![10, 900]);
        assert_eq!(plan.sweep, None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_run_going_after_every_target_leaves_no_debt() {
        let mut ledger = ledger_with(10);
        for place in 0..9 {
            ledger.reported(place, None);
        }
        tokio::time::advance(Duration::from_secs(1)).await;
        let plan = ledger.plan().expect("due: nothing to read again");
        assert_eq!(plan.sweep, Some((0, None)));
    }

    #[tokio::test(start_paused = true)]
    async fn with_nothing_going_spent_requests_delay_a_sweep_but_never_stop_it() {
        let mut ledger = ledger_with(10);
        for place in 0..10 {
            ledger.reported(place, None);
        }
        ledger.requested(5); // more than the budget's 2 + 10/100 requests
        assert_eq!(ledger.plan(), None);
        let check = ledger.next_check().expect("a check is planned");
        assert!(
            check <= Instant::now() + SETTLED_WAIT,
            "not 10 s per missing request"
        );
        tokio::time::advance(SETTLED_WAIT).await;
        assert!(ledger.plan().is_some_and(|p| p.sweep.is_some()));
    }

    #[tokio::test(start_paused = true)]
    async fn delivered_prefixes_are_forgotten() {
        let mut ledger = ledger_with(4);
        ledger.read(0, Some("c0".into()));
        ledger.read(1, Some("c1".into()));
        ledger.sweep_ended();
        ledger.delivered(0, true);
        ledger.delivered(1, false);
        assert_eq!(ledger.slots.len(), 2);
        assert_eq!(ledger.cursor_for(2), (2, Some("c1".into())));
        assert_eq!(ledger.cursors.len(), 1);
    }
}
