//! The parser's error type and the stream adapter's wrapper around it.

use std::fmt;

/// A limit from [`Limits`](crate::Limits) was exceeded.
///
/// This is the only way parsing can fail: malformed input is never an error under the SSE
/// rules (bad UTF-8 becomes U+FFFD, unknown lines are ignored). After returning it the parser
/// has dropped its buffers and produces no further events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: LimitKind,
    limit: usize,
    seen: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LimitKind {
    Line,
    Event,
    DataLines,
}

impl Error {
    pub(crate) fn new(kind: LimitKind, limit: usize, seen: usize) -> Self {
        Error { kind, limit, seen }
    }

    /// A line was longer than [`Limits::max_line_bytes`](crate::Limits::max_line_bytes).
    pub fn is_line_too_long(&self) -> bool {
        self.kind == LimitKind::Line
    }

    /// An event grew past [`Limits::max_event_bytes`](crate::Limits::max_event_bytes).
    pub fn is_event_too_large(&self) -> bool {
        self.kind == LimitKind::Event
    }

    /// An event had more `data:` lines than
    /// [`Limits::max_data_lines`](crate::Limits::max_data_lines).
    pub fn is_too_many_data_lines(&self) -> bool {
        self.kind == LimitKind::DataLines
    }

    /// Always true today: every parse error is a limit being exceeded.
    pub fn is_limit(&self) -> bool {
        true
    }

    /// The configured limit that was exceeded (bytes, or lines for the data-line limit).
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// The size seen when the parser gave up. For a line or an event still arriving this is
    /// how much had arrived so far, so the real size is at least this.
    pub fn size(&self) -> usize {
        self.seen
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (what, unit, field) = match self.kind {
            LimitKind::Line => ("line", "bytes", "max_line_bytes"),
            LimitKind::Event => ("event", "bytes", "max_event_bytes"),
            LimitKind::DataLines => ("event's data-line count", "lines", "max_data_lines"),
        };
        write!(
            f,
            "server-sent {what} exceeds the limit: at least {} {unit} seen, limit is {} {unit}; \
             raise Limits::{field} if the server legitimately sends this much",
            self.seen, self.limit
        )
    }
}

impl std::error::Error for Error {}

/// An error from an [`EventStream`](crate::EventStream) or a
/// [`FrameStream`](crate::FrameStream): either the byte source failed or the parser hit a
/// limit.
///
/// `Display` never repeats [`source()`](std::error::Error::source): a source error reads
/// "reading the event stream failed" and is itself the `source()`, which error reporters print
/// after it; a parse error is the parser's [`Error`], shown as it is, with no `source()`.
#[derive(Debug)]
pub enum StreamError<E> {
    /// The underlying byte stream returned an error; it is passed through unchanged.
    Source(E),
    /// The parser hit one of its [`Limits`](crate::Limits); the stream ends after this.
    Parse(Error),
}

impl<E> StreamError<E> {
    /// The error came from the byte source.
    pub fn is_source(&self) -> bool {
        matches!(self, StreamError::Source(_))
    }

    /// The error came from the parser (a limit was exceeded).
    pub fn is_parse(&self) -> bool {
        matches!(self, StreamError::Parse(_))
    }
}

impl<E> fmt::Display for StreamError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // The cause is `source()`: naming it here too would print it twice in a report.
            StreamError::Source(_) => f.write_str("reading the event stream failed"),
            StreamError::Parse(e) => e.fmt(f),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for StreamError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StreamError::Source(e) => Some(e),
            // Shown in full by `Display`; its own cause (none today) comes next.
            StreamError::Parse(e) => std::error::Error::source(e),
        }
    }
}
