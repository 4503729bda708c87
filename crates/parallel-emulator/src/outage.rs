//! Outage windows: for a while every connection is refused, or accepted and never answered.

use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

/// What an outage does to connections; see
/// [`EmulatorHandle::outage`](crate::EmulatorHandle::outage).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OutageMode {
    /// The port is closed: new connections are refused and every open connection (open event
    /// streams included) is dropped. The same port is bound again when the window ends.
    Refuse,
    /// The server stops answering: new connections are accepted and never answered (they are
    /// closed when the window ends), requests on open connections get no answer, and open
    /// event streams go completely silent, keep-alive comments included.
    Hang,
}

impl std::str::FromStr for OutageMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "refuse" => Ok(OutageMode::Refuse),
            "hang" => Ok(OutageMode::Hang),
            other => Err(format!(
                "`{other}` is not an outage mode; use refuse or hang"
            )),
        }
    }
}

/// One outage: its mode and when it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Window {
    pub(crate) mode: OutageMode,
    pub(crate) until: Instant,
}

/// The current outage, if any, shared by the server loop, the handlers and the streams.
#[derive(Debug)]
pub(crate) struct Outages {
    tx: watch::Sender<Option<Window>>,
}

impl Outages {
    pub(crate) fn new() -> Outages {
        Outages {
            tx: watch::channel(None).0,
        }
    }

    /// Starts an outage now; it replaces any outage in progress.
    pub(crate) fn start(&self, mode: OutageMode, duration: Duration) {
        let until = crate::clock::deadline(duration);
        self.tx.send_replace(Some(Window { mode, until }));
    }

    /// The outage in progress, if any.
    pub(crate) fn current(&self) -> Option<Window> {
        let window = (*self.tx.borrow())?;
        (window.until > Instant::now()).then_some(window)
    }

    /// Whether a [`OutageMode::Hang`] outage is in progress.
    pub(crate) fn hanging(&self) -> bool {
        self.current().is_some_and(|w| w.mode == OutageMode::Hang)
    }

    /// Completes once no [`OutageMode::Hang`] outage is in progress.
    pub(crate) async fn hang_over(&self) {
        while let Some(window) = self.current().filter(|w| w.mode == OutageMode::Hang) {
            tokio::time::sleep_until(window.until).await;
        }
    }

    /// Notified whenever an outage starts.
    pub(crate) fn subscribe(&self) -> watch::Receiver<Option<Window>> {
        self.tx.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_by_name() {
        assert_eq!("refuse".parse::<OutageMode>(), Ok(OutageMode::Refuse));
        assert_eq!("hang".parse::<OutageMode>(), Ok(OutageMode::Hang));
        let err = "down".parse::<OutageMode>().unwrap_err();
        assert!(
            err.contains("`down`") && err.contains("refuse or hang"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_window_ends_on_time() {
        let outages = Outages::new();
        assert!(outages.current().is_none());
        outages.start(OutageMode::Hang, Duration::from_millis(50));
        assert!(outages.hanging());
        let started = Instant::now();
        outages.hang_over().await;
        assert!(started.elapsed() >= Duration::from_millis(50));
        assert!(outages.current().is_none());
    }
}
