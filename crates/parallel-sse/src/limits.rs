//! Memory bounds for one parser.

/// Upper bounds on what a [`Parser`](crate::Parser) keeps in memory for one event.
///
/// Run-result streams carry whole task outputs (16 MiB and more) in a single `data:` line, so
/// the defaults are generous: 64 MiB per line, 64 MiB per event and 1,048,576 `data:` lines per
/// event. Lower them when the server is not trusted to keep its events small.
///
/// When a limit is exceeded the parser reports an [`Error`](crate::Error) naming the limit and
/// the size seen, drops what it had buffered and stops: it never grows past a limit.
///
/// ```
/// use parallel_sse::{Limits, Parser};
///
/// let limits = Limits::default().max_line_bytes(1 << 20).max_event_bytes(4 << 20);
/// let parser = Parser::with_limits(limits);
/// # let _ = parser;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Longest line, in bytes, without its line terminator. Default 64 MiB.
    pub max_line_bytes: usize,
    /// Largest event, in bytes: the data gathered so far (each `data:` value plus one byte per
    /// line separator) plus the line being read. Default 64 MiB.
    pub max_event_bytes: usize,
    /// Most `data:` lines in one event. Default 1,048,576.
    pub max_data_lines: usize,
}

impl Limits {
    /// Sets [`Limits::max_line_bytes`].
    #[must_use]
    pub fn max_line_bytes(mut self, bytes: usize) -> Self {
        self.max_line_bytes = bytes;
        self
    }

    /// Sets [`Limits::max_event_bytes`].
    #[must_use]
    pub fn max_event_bytes(mut self, bytes: usize) -> Self {
        self.max_event_bytes = bytes;
        self
    }

    /// Sets [`Limits::max_data_lines`].
    #[must_use]
    pub fn max_data_lines(mut self, lines: usize) -> Self {
        self.max_data_lines = lines;
        self
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_line_bytes: 64 << 20,
            max_event_bytes: 64 << 20,
            max_data_lines: 1 << 20,
        }
    }
}
