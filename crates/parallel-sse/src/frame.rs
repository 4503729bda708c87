//! What the parser reports, in stream order: events and comments.

use bytes::Bytes;

use crate::event::Event;

/// One thing the parser found, from [`Parser::next_frame`](crate::Parser::next_frame) or a
/// [`FrameStream`](crate::FrameStream): an event, or a comment line.
///
/// Servers send comments as keep-alives (`: keep-alive` then a blank line) while they have
/// nothing to say; a client can take one as a sign of life of its connection, as it takes an
/// event.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Frame {
    /// An event, dispatched by the blank line that closed its block.
    Event(Event),
    /// A comment line (one that starts with `:`): its text after the colon, as sent (a
    /// leading space is kept), a slice of the chunk that carried it.
    Comment(Bytes),
}

impl Frame {
    /// The event, if this frame is one.
    pub fn into_event(self) -> Option<Event> {
        match self {
            Frame::Event(event) => Some(event),
            Frame::Comment(_) => None,
        }
    }
}
