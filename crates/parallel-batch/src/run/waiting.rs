//! Silence made visible: when nothing has come from the server for a while (a slow or hung
//! request, an outage being retried), the progress output says so instead of standing still.

use std::time::{Duration, Instant};

use super::job::Backend;
use super::watch::LastFailure;
use crate::progress::Progress;

/// Tracks the time since the server was last heard from.
pub(crate) struct Waiting {
    period: Duration,
    since: Instant,
    /// Notices printed since the last news.
    told: u32,
    /// The server, in the notice.
    address: String,
    last_failure: LastFailure,
}

impl Waiting {
    /// A notice every `period` of silence (`Duration::ZERO`: never) from `backend`'s server.
    pub(crate) fn new(period: Duration, backend: &Backend) -> Self {
        Self {
            period,
            since: Instant::now(),
            told: 0,
            address: backend.address(),
            last_failure: backend.last_failure.clone(),
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
            let failure = self.last_failure.get();
            progress.println(&message(&self.address, silent, failure.as_deref()));
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

/// `waiting for the server at https://api.parallel.ai, 20 s (last error: ...)`.
fn message(address: &str, silent: Duration, failure: Option<&str>) -> String {
    let server = if address.starts_with("the ") {
        address.to_owned()
    } else {
        format!("the server at {address}")
    };
    let failure = failure.map_or_else(String::new, |f| format!(" (last error: {f})"));
    format!("waiting for {server}, {} s{failure}", silent.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_notice_names_the_server_and_the_last_error() {
        let silent = Duration::from_secs(20);
        assert_eq!(
            message("http://127.0.0.1:9", silent, Some("connection refused")),
            "waiting for the server at http://127.0.0.1:9, 20 s (last error: connection refused)"
        );
        assert_eq!(
            message("the embedded emulator", silent, None),
            "waiting for the embedded emulator, 20 s"
        );
    }
}
