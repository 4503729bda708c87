//! A zero-copy, incremental server-sent events (SSE) parser that follows the WHATWG rules
//! exactly.
//!
//! - [`Parser`] is the sans-IO core: [`push`](Parser::push) chunks of bytes as they arrive,
//!   take complete events from [`next_event`](Parser::next_event) (or events and comments,
//!   as [`Frame`]s, from [`next_frame`](Parser::next_frame)), call
//!   [`finish`](Parser::finish) at end of stream and ask
//!   [`ended_inside_event`](Parser::ended_inside_event) whether it was cut short.
//! - [`EventStream`] wraps any `Stream<Item = Result<Bytes, E>>` (an HTTP body, say) and yields
//!   `Result<Event, StreamError<E>>`; [`FrameStream`] yields comments too.
//! - [`Event`] carries the event type, the data as [`bytes::Bytes`] and the last event id.
//! - [`Limits`] bounds memory per line and per event; exceeding one is an [`Error`].
//!
//! Each byte is scanned once. An event with one `data:` line that arrived inside one chunk,
//! the usual shape of JSON event streams, is returned as a slice of that chunk: no copy and no
//! allocation. The output depends only on the bytes, never on where the chunks were cut. Bad
//! UTF-8 is replaced with U+FFFD when text is asked for, never an error. The crate knows
//! nothing of HTTP or JSON.
//!
//! ```
//! use bytes::Bytes;
//! use parallel_sse::Parser;
//!
//! let mut parser = Parser::new();
//! parser.push(Bytes::from_static(b"event: task_run.state\r\nid: 7\r\ndata: {\"a\":1}\r\n\r\n: keep-alive\n"));
//! let event = parser.next_event().expect("a complete event").expect("within the limits");
//! assert_eq!(event.event_type(), "task_run.state");
//! assert_eq!(event.data().as_ref(), br#"{"a":1}"#);
//! assert_eq!(event.last_event_id(), "7");
//! assert!(parser.next_event().is_none());
//! parser.finish();
//! assert_eq!(parser.last_event_id(), "7");
//! ```

#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod error;
mod event;
mod frame;
mod limits;
mod parser;
mod stream;

pub use error::{Error, StreamError};
pub use event::Event;
pub use frame::Frame;
pub use limits::Limits;
pub use parser::Parser;
pub use stream::{EventStream, FrameStream};

/// The README's example, compiled and run as a doctest so that it cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
