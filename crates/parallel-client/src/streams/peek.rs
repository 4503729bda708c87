//! Reading an event's `type` and `event_id` without decoding the rest, and decoding events.

use std::borrow::Cow;

use parallel_types::{ErrorObject, EventHead, from_json_slice};
use serde::Deserialize;

use crate::error::Error;

/// Decodes an event's JSON; `what` names it in the error.
pub(crate) fn decode<'a, T: Deserialize<'a>>(data: &'a [u8], what: &str) -> Result<T, Error> {
    from_json_slice(data).map_err(|e| Error::decode(what, e))
}

/// Decodes an event of the stream `stream` (a session's `what`); the error's wording is
/// only built when there is an error.
pub(crate) fn decode_event<'a, T: Deserialize<'a>>(
    data: &'a [u8],
    stream: &str,
) -> Result<T, Error> {
    from_json_slice(data).map_err(|e| Error::decode(&format!("an event of {stream}"), e))
}

/// The `type` and `event_id` of an event, read without decoding the rest
/// ([`EventHead`]).
#[derive(Debug)]
pub(crate) struct Peek<'a> {
    pub(crate) kind: Cow<'a, str>,
    pub(crate) event_id: Option<Cow<'a, str>>,
}

impl<'a> Peek<'a> {
    /// Reads `type` and `event_id`; an event without a string `type` reads as type `""`,
    /// which no stream knows.
    pub(crate) fn parse(data: &'a [u8], what: &str) -> Result<Self, Error> {
        let peek = Self::parse_typed(data, what)?;
        Ok(peek.unwrap_or(Peek {
            kind: Cow::Borrowed(""),
            event_id: None,
        }))
    }

    /// Like [`Peek::parse`], but `None` for an event without a `type` (which the streams skip
    /// with a warning).
    pub(crate) fn parse_typed(data: &'a [u8], what: &str) -> Result<Option<Self>, Error> {
        let head = EventHead::from_slice(data)
            .map_err(|e| Error::decode(&format!("an event of {what}"), e))?;
        Ok(head.event_type.map(|kind| Peek {
            kind,
            event_id: head.event_id,
        }))
    }
}

/// Skips an event of a type this client does not know (a newer server), with a warning.
pub(crate) fn skip_unknown(what: &str, kind: &str) {
    tracing::warn!(stream = %what, event_type = %kind, "skipping an event of a type this client does not know");
}

/// Skips an event without a `type`, with a warning.
pub(crate) fn skip_untyped(what: &str) {
    tracing::warn!(stream = %what, "skipping an event without a type");
}

/// An in-band `error` event, as the client's error.
pub(crate) fn error_event(data: &[u8], what: &str) -> Error {
    #[derive(Deserialize)]
    struct ErrorEventBody {
        error: ErrorObject,
    }
    match from_json_slice::<ErrorEventBody>(data) {
        Ok(body) => Error::stream_event(what, body.error),
        Err(e) => Error::decode(&format!("an error event of {what}"), e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peek(data: &str) -> (String, Option<String>) {
        let p = Peek::parse(data.as_bytes(), "test").unwrap();
        (p.kind.into_owned(), p.event_id.map(Cow::into_owned))
    }

    #[test]
    fn the_leading_fields_are_borrowed_from_the_front() {
        let fast = br#"{"type":"task_run.state","event_id":"17","run":{}}"#;
        let p = Peek::parse(fast, "test").unwrap();
        assert!(matches!(
            (&p.kind, &p.event_id),
            (Cow::Borrowed("task_run.state"), Some(Cow::Borrowed("17")))
        ));
        let spaced = b"{ \"type\" : \"error\" ,\n \"event_id\" : null }";
        let p = Peek::parse(spaced, "test").unwrap();
        assert_eq!((p.kind.as_ref(), p.event_id), ("error", None));
    }

    #[test]
    fn other_layouts_give_the_same_answer() {
        for (data, kind, id) in [
            (
                r#"{"event_id":"3","type":"task_group_status"}"#,
                "task_group_status",
                Some("3"),
            ),
            (
                r#"{"type":"task_run.state","run":{"event_id":"x"},"event_id":"4"}"#,
                "task_run.state",
                Some("4"),
            ),
            (r#"{"type":"a\u002eb","event_id":"5"}"#, "a.b", Some("5")),
            (r#"{"type":"error","error":{}}"#, "error", None),
        ] {
            assert_eq!(
                peek(data),
                (kind.to_owned(), id.map(str::to_owned)),
                "{data}"
            );
        }
    }

    #[test]
    fn events_without_a_string_type_have_none() {
        for data in [&br#"{"type":1}"#[..], br#"{"event_id":"1"}"#] {
            assert!(Peek::parse_typed(data, "test").unwrap().is_none());
        }
    }

    #[test]
    fn broken_events_are_decode_errors() {
        for data in [
            &b"{"[..],
            b"[]",
            b"not json",
            br#"{"type":"x","event_id":5}"#,
        ] {
            assert!(Peek::parse(data, "test").unwrap_err().is_decode());
        }
    }
}
