//! A bounded memory of the deliveries already accepted, by `webhook-id`.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::error::{Kind, WebhookError};

/// Remembers the `webhook-id` of every delivery a [`Verifier`](crate::Verifier) accepted, so
/// that the same delivery is not accepted twice: a replay within the timestamp tolerance, or
/// the service sending again a delivery whose answer it did not get.
///
/// Give it to a verifier with [`Verifier::replay_guard`](crate::Verifier::replay_guard). An id
/// is remembered once its delivery verifies; the same id again is then rejected with
/// [`WebhookError::is_replay`] (answer it with a 2xx, so that the service stops sending it,
/// and do not act on it again). If your handler fails after verifying (and answers 5xx so
/// that the service retries), call [`forget`](Self::forget) first, or the retry is rejected
/// as a replay.
///
/// Memory is bounded: at most `capacity` ids are kept. An id is dropped once its timestamp
/// is older than the verifier's tolerance, since the verifier rejects that delivery as stale
/// anyway. When more deliveries than `capacity` arrive within one tolerance window, the
/// oldest id is dropped and deliveries signed at or before its timestamp are rejected from
/// then on as stale ([`WebhookError::is_stale`]), never accepted twice; the service's retries
/// are signed anew and get through. Size it for the deliveries of one tolerance window: with
/// the default 5 minutes, 100,000 ids cover over 300 deliveries a second, at about 200 bytes
/// an id (some 20 MB).
///
/// Clones share one memory; it is `Send + Sync`. The memory is this process's: receivers
/// served by several processes de-duplicate in a store they share instead.
#[derive(Clone)]
pub struct ReplayGuard {
    seen: Arc<Mutex<Seen>>,
}

/// The ids remembered, with their signed timestamps, in two orders.
struct Seen {
    capacity: usize,
    by_id: HashMap<Box<str>, u64>,
    by_time: BTreeSet<(u64, Box<str>)>,
    /// The newest timestamp of an id dropped to make room: a delivery signed at or before it
    /// might be one of those, so it cannot be accepted.
    horizon: Option<u64>,
}

impl ReplayGuard {
    /// A guard that remembers at most `capacity` ids (at least one).
    pub fn new(capacity: usize) -> Self {
        Self {
            seen: Arc::new(Mutex::new(Seen {
                capacity: capacity.max(1),
                by_id: HashMap::new(),
                by_time: BTreeSet::new(),
                horizon: None,
            })),
        }
    }

    /// Forgets `webhook_id`, so that the next delivery with it is accepted (for a handler
    /// that failed after verification and wants the service's retry). Returns whether the id
    /// was remembered.
    pub fn forget(&self, webhook_id: &str) -> bool {
        let mut seen = self.lock();
        let Some(timestamp) = seen.by_id.remove(webhook_id) else {
            return false;
        };
        seen.by_time.remove(&(timestamp, Box::from(webhook_id)));
        true
    }

    /// How many ids are remembered now.
    pub fn len(&self) -> usize {
        self.lock().by_id.len()
    }

    /// Whether no id is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Records an authentic, fresh delivery, or says why it cannot be accepted. `oldest` is
    /// the oldest timestamp the verifier still accepts: ids signed before it are dropped.
    pub(crate) fn admit(&self, id: &str, timestamp: u64, oldest: u64) -> Result<(), WebhookError> {
        let mut seen = self.lock();
        seen.drop_older_than(oldest);
        if seen.by_id.contains_key(id) {
            return Err(WebhookError::new(Kind::Replay));
        }
        let capacity = seen.capacity;
        let beyond = |horizon| {
            WebhookError::new(Kind::BeyondReplayGuard {
                timestamp,
                horizon,
                capacity,
            })
        };
        if let Some(horizon) = seen.horizon.filter(|horizon| timestamp <= *horizon) {
            return Err(beyond(horizon));
        }
        if seen.by_id.len() >= capacity {
            // Full: the oldest id makes room, unless this delivery is older still (it would
            // push out a newer id for one that could not be told apart from a replay later).
            let oldest_kept = seen.by_time.first().map_or(0, |(t, _)| *t);
            if timestamp <= oldest_kept {
                return Err(beyond(oldest_kept));
            }
            seen.drop_oldest();
        }
        seen.by_id.insert(Box::from(id), timestamp);
        seen.by_time.insert((timestamp, Box::from(id)));
        Ok(())
    }

    fn lock(&self) -> MutexGuard<'_, Seen> {
        // The memory stays consistent between statements, so a panic elsewhere leaves it usable.
        self.seen.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Seen {
    fn drop_older_than(&mut self, oldest: u64) {
        while let Some((timestamp, _)) = self.by_time.first() {
            if *timestamp >= oldest {
                break;
            }
            if let Some((_, id)) = self.by_time.pop_first() {
                self.by_id.remove(&id);
            }
        }
    }

    fn drop_oldest(&mut self) {
        if let Some((timestamp, id)) = self.by_time.pop_first() {
            self.by_id.remove(&id);
            self.horizon = Some(self.horizon.map_or(timestamp, |h| h.max(timestamp)));
        }
    }
}

impl fmt::Debug for ReplayGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seen = self.lock();
        f.debug_struct("ReplayGuard")
            .field("capacity", &seen.capacity)
            .field("remembered", &seen.by_id.len())
            .field("horizon", &seen.horizon)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_is_accepted_once_until_forgotten() {
        let guard = ReplayGuard::new(10);
        guard.admit("a", 100, 0).expect("first time");
        let again = guard.admit("a", 100, 0).expect_err("replay");
        assert!(again.is_replay() && !again.is_stale(), "{again}");
        guard.admit("b", 100, 0).expect("another id");
        assert_eq!(guard.len(), 2);
        assert!(guard.forget("a"));
        assert!(!guard.forget("a"));
        guard
            .admit("a", 160, 0)
            .expect("forgotten, so a retry gets through");
    }

    #[test]
    fn ids_older_than_the_tolerance_are_dropped() {
        let guard = ReplayGuard::new(10);
        guard.admit("a", 100, 0).unwrap();
        guard.admit("b", 200, 0).unwrap();
        guard.admit("c", 300, 150).unwrap();
        assert_eq!(guard.len(), 2, "{guard:?}");
    }

    #[test]
    fn a_full_guard_refuses_what_it_can_no_longer_tell_apart() {
        let guard = ReplayGuard::new(2);
        guard.admit("a", 100, 0).unwrap();
        guard.admit("b", 200, 0).unwrap();
        // Full: "a" (100) makes room, so anything signed at or before 100 is refused.
        guard.admit("c", 300, 0).unwrap();
        assert_eq!(guard.len(), 2);
        let replay_of_a = guard.admit("a", 100, 0).expect_err("might be a replay");
        assert!(
            replay_of_a.is_stale() && !replay_of_a.is_replay(),
            "{replay_of_a}"
        );
        assert!(replay_of_a.to_string().contains("2 ids"), "{replay_of_a}");
        assert!(
            guard
                .admit("b", 200, 0)
                .expect_err("remembered")
                .is_replay()
        );
        guard
            .admit("d", 301, 0)
            .expect("newer deliveries get through");
        assert_eq!(guard.len(), 2);
    }
}
