//! The crate's error type.

use std::fmt;

/// Why the emulator could not start.
#[derive(Debug)]
pub struct Error {
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    Config(String),
    Bind(std::net::SocketAddr, std::io::Error),
}

impl Error {
    pub(crate) fn config(message: impl Into<String>) -> Self {
        Error {
            kind: Kind::Config(message.into()),
        }
    }

    pub(crate) fn bind(addr: std::net::SocketAddr, source: std::io::Error) -> Self {
        Error {
            kind: Kind::Bind(addr, source),
        }
    }

    /// A setting was out of range (the message names it).
    pub fn is_config(&self) -> bool {
        matches!(self.kind, Kind::Config(_))
    }

    /// The listening socket could not be opened (address in use, permission denied...).
    pub fn is_bind(&self) -> bool {
        matches!(self.kind, Kind::Bind(..))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Config(message) => write!(f, "invalid emulator setting: {message}"),
            Kind::Bind(addr, e) => {
                write!(
                    f,
                    "could not listen on {addr}: {e}; pick another port or use port 0 for a free one"
                )
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            Kind::Config(_) => None,
            Kind::Bind(_, e) => Some(e),
        }
    }
}
