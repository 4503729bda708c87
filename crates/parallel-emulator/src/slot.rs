//! A place among a limited number (connections, event streams), given back when dropped.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// One of a limited number of places (`max_connections`, `max_event_streams`), given back
/// when dropped.
#[derive(Debug)]
pub(crate) struct Slot(Arc<AtomicUsize>);

impl Slot {
    /// Takes a place, or `None` when all are taken.
    pub(crate) fn take(open: &Arc<AtomicUsize>, max: usize) -> Option<Slot> {
        open.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
            (n < max).then_some(n + 1)
        })
        .ok()
        .map(|_| Slot(Arc::clone(open)))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_capped_and_given_back() {
        let open = Arc::new(AtomicUsize::new(0));
        let a = Slot::take(&open, 2).unwrap();
        let _b = Slot::take(&open, 2).unwrap();
        assert!(Slot::take(&open, 2).is_none());
        drop(a);
        assert!(Slot::take(&open, 2).is_some());
    }
}
