//! Ctrl-C (SIGINT) and SIGTERM (a service manager's or `kill`'s polite stop), listened for
//! from the start of a run: whenever one comes, the run stops the same way, its files
//! consistent and its lock let go.

use crate::error::Error;

/// Which signal stopped the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// SIGINT: exit code 130.
    Interrupt,
    /// SIGTERM: exit code 143.
    Terminate,
}

impl Stop {
    /// The error the run ends with.
    pub(crate) fn error(self) -> Error {
        match self {
            Self::Interrupt => Error::interrupted(),
            Self::Terminate => Error::terminated(),
        }
    }
}

/// The signals a run stops for.
pub(crate) struct Signals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    /// Listens from now on (the signals no longer end the process at once).
    pub(crate) fn new() -> Result<Self, Error> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let listen = |kind| {
                signal(kind).map_err(|e| Error::io("cannot listen for Ctrl-C and SIGTERM", e))
            };
            Ok(Self {
                interrupt: listen(SignalKind::interrupt())?,
                terminate: listen(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    /// The next signal.
    pub(crate) async fn recv(&mut self) -> Stop {
        #[cfg(unix)]
        {
            tokio::select! {
                Some(()) = self.interrupt.recv() => Stop::Interrupt,
                Some(()) = self.terminate.recv() => Stop::Terminate,
                else => std::future::pending().await,
            }
        }
        #[cfg(not(unix))]
        {
            match tokio::signal::ctrl_c().await {
                Ok(()) => Stop::Interrupt,
                Err(_) => std::future::pending().await,
            }
        }
    }
}
