//! Silence made visible: when nothing has come from the server for a while (a slow or hung
//! request, an outage being retried), the progress output says so instead of standing still.

use std::time::{Duration, Instant};

use crate::progress::Progress;

/// Tracks the time since the server was last heard from.
pub(crate) struct Waiting {
    period: Duration,
    since: Instant,
    /// Notices printed since the last news.
    told: u32,
}

impl Waiting {
    /// A notice every `period` of silence (`Duration::ZERO`: never).
    pub(crate) fn new(period: Duration) -> Self {
        Self {
            period,
            since: Instant::now(),
            told: 0,
        }
    }

    /// The server was heard from.
    pub(crate) fn heard(&mut self) {
        self.since = Instant::now();
        self.told = 0;
    }

    /// Prints a notice when another period of silence has passed.
    pub(crate) fn check(&mut self, progress: &Progress) {
        if self.period.is_zero() {
            return;
        }
        let silent = self.since.elapsed();
        if silent >= self.period * (self.told + 1) {
            self.told += 1;
            progress.println(&message(silent));
        }
    }

    /// Prints notices until dropped (while one long request is awaited).
    pub(crate) async fn notify_forever(mut self, progress: &Progress) {
        if self.period.is_zero() {
            return std::future::pending().await;
        }
        let mut tick = tokio::time::interval(self.period.min(Duration::from_secs(1)));
        loop {
            tick.tick().await;
            self.check(progress);
        }
    }
}

/// `waiting for the server, 20 s`.
fn message(silent: Duration) -> String {
    format!("waiting for the server, {} s", silent.as_secs())
}
